/* main.c - thin entry point: MPI setup around finsim_main(). */
#include <mpi.h>
#include "finsim/cli.h"

int main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    int rc = finsim_main(argc, argv);
    MPI_Finalize();
    return rc;
}
