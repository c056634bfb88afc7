/* mpi.c - the MPI helpers every command and the job share. */
#include "finsim/base/mpi.h"

#include <mpi.h>

#include "finsim/base/util.h"

/* Rank and size of MPI_COMM_WORLD, 0 and 1 without MPI; sets the log prefix. */
void fs_mpi_world(int *rank, int *nranks)
{
    int up = 0;
    *rank = 0;
    *nranks = 1;
    MPI_Initialized(&up);
    if (up) {
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
