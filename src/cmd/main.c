/* main.c - thin entry point: MPI setup around finsim_main(). */
#include <mpi.h>
#include <string.h>
#include "finsim/base/mpi.h"
#include "finsim/cmd/cli.h"

/* Commands that never talk to other ranks (version, help texts, config)
 * skip MPI_Init: it costs a third of a second per process, and more under
 * the sanitizers. So do the commands that also run as one plain process
 * (price, generate, export, import) when no launcher started this one;
 * under mpirun they start MPI here as before. */
static int needs_mpi(int argc, char **argv)
{
    if (argc < 2)
        return 0;
    static const char *const local[] = {"version", "--version", "help", "-h", "--help", "config", "request"};
    for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
        if (strcmp(argv[1], local[i]) == 0)
            return 0;
    static const char *const alone[] = {"price", "generate", "export", "import"};
    for (size_t i = 0; i < sizeof(alone) / sizeof(alone[0]); i++)
        if (strcmp(argv[1], alone[i]) == 0 && !fs_mpi_launched())
            return 0;
    for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    int up = 0, down = 0;
    if (needs_mpi(argc, argv))
        fs_mpi_init(&argc, &argv);
    int rc = finsim_main(argc, argv);
    /* a command that needed MPI after all started it (fs_mpi_world) */
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (up && !down)
        MPI_Finalize();
    return rc;
}
