/* mpi.h - the MPI helpers every command and the job share. */
#ifndef FINSIM_MPI_H
#define FINSIM_MPI_H

/* As fs_mpi_world, but never starts MPI: 0 and 1 when it is not running.
 * For reading options before the command knows it will run (help). */
void fs_mpi_peek(int *rank, int *nranks);

/* This process's rank and the number of ranks in MPI_COMM_WORLD; also sets
 * the log prefix with fs_log_set_rank. Starts MPI when it is not running
 * yet (main.c skips MPI_Init for what looks like a help request, and a
 * command that turns out to run after all gets it here); 0 and 1 after
 * MPI_Finalize. Commands call it before any other MPI call. */
void fs_mpi_world(int *rank, int *nranks);

/* Make every rank agree on an outcome: the largest of the codes passed by
 * the ranks of MPI_COMM_WORLD (0 = fine; larger = worse, e.g. the exit codes
 * or enum job_status). Collective: every rank must call it. Returns code
 * itself when MPI is not initialised. */
int fs_mpi_agree(int code);

#endif
