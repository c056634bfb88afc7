/* mpi.c - the MPI helpers every command and the job share. */
#include "finsim/base/mpi.h"

#include <mpi.h>

#include "finsim/base/util.h"

/* Rank and size of MPI_COMM_WORLD when MPI runs, else 0 and 1; starts
 * nothing. */
void fs_mpi_peek(int *rank, int *nranks)
{
    int up = 0, down = 0;
    *rank = 0;
    *nranks = 1;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (up && !down) {
        MPI_Comm_rank(MPI_COMM_WORLD, rank);
        MPI_Comm_size(MPI_COMM_WORLD, nranks);
    }
}

/* Rank and size of MPI_COMM_WORLD, starting MPI when main did not (it skips
 * MPI_Init when the arguments look like a help request, and "-h" may well
 * be an option's value: --key-prefix -h); sets the log prefix. */
void fs_mpi_world(int *rank, int *nranks)
{
    int up = 0, down = 0;
    *rank = 0;
    *nranks = 1;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (!up && !down) {
        int provided;
        MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        up = 1;
    }
    if (up && !down) {
        MPI_Comm_rank(MPI_COMM_WORLD, rank);
        MPI_Comm_size(MPI_COMM_WORLD, nranks);
    }
    fs_log_set_rank(*rank, *nranks);
}

/* The largest code over all ranks (the worst outcome wins). */
int fs_mpi_agree(int code)
{
    int up = 0, worst = code;
    MPI_Initialized(&up);
    if (up)
        MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return worst;
}
