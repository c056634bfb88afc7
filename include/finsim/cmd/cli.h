/* cli.h - the finsim command: subcommands and their entry points. */
#ifndef FINSIM_CLI_H
#define FINSIM_CLI_H

#include <stdio.h>

#include "finsim/cmd/exit.h"

/* Run the finsim command line (argv[0] is the program name). MPI must be
 * initialised, except for version, config and help texts. Returns a process exit code (enum fs_exit). */
int finsim_main(int argc, char **argv);

/* Subcommands; argv[0] is the subcommand name. */
int cmd_generate(int argc, char **argv);
int cmd_price(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_screen(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_request(int argc, char **argv);
int cmd_results(int argc, char **argv);

/* fs_mpi_world and fs_mpi_agree, for every command */
#include "finsim/base/mpi.h"

/* The process exit code (enum fs_exit, enum fs_market_exit) for the
 * outcome of a job (enum job_status); an unknown status gives
 * FS_EXIT_INTERNAL. */
int cli_exit_code(int job_status);

#endif
