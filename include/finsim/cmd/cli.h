/* cli.h - the finsim command: subcommands and their entry points. */
#ifndef FINSIM_CLI_H
#define FINSIM_CLI_H

#include <stdio.h>

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

/* This process's rank and the number of ranks in MPI_COMM_WORLD, or 0 and 1
 * when MPI is not initialised (main.c skips it for help texts); also sets
 * the log prefix with fs_log_set_rank. */
void fs_mpi_world(int *rank, int *nranks);

#endif
