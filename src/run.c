/* run.c - finsim run: placeholder until the MPI pipeline lands. */
#include "finsim/cli.h"
#include "finsim/util.h"

int cmd_run(int argc, char **argv)
{
    fs_error("run: not implemented yet");
    return FS_EXIT_INTERNAL;
}
