/* mpi.h - the MPI helpers every command and the job share. */
#ifndef FINSIM_MPI_H
#define FINSIM_MPI_H

/* This process's rank and the number of ranks in MPI_COMM_WORLD, or 0 and 1
 * when MPI is not initialised (main.c skips it for help texts); also sets
 * the log prefix with fs_log_set_rank. Never fails. */
void fs_mpi_world(int *rank, int *nranks);

/* Make every rank agree on an outcome: the largest of the codes passed by
 * the ranks of MPI_COMM_WORLD (0 = fine; larger = worse, e.g. the exit codes
 * or enum job_status). Collective: every rank must call it. Returns code
 * itself when MPI is not initialised. */
int fs_mpi_agree(int code);

#endif
