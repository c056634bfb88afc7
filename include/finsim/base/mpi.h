/* mpi.h - the MPI helpers every command and the job share. */
#ifndef FINSIM_MPI_H
#define FINSIM_MPI_H

#include <stddef.h>

/* As fs_mpi_world (the log prefix included), but never starts MPI: 0 and 1
 * when it is not running. For reading options before the command knows it
 * will run (help). */
void fs_mpi_peek(int *rank, int *nranks);

/* This process's rank and the number of ranks in MPI_COMM_WORLD; also sets
 * the log prefix with fs_log_set_rank. Starts MPI when it is not running
 * yet (main.c skips MPI_Init for what looks like a help request, and a
 * command that turns out to run after all gets it here); 0 and 1 after
 * MPI_Finalize. Commands call it before any other MPI call. */
void fs_mpi_world(int *rank, int *nranks);

/* Start MPI (MPI_THREAD_FUNNELED; argc and argv may be NULL). A process
 * that no launcher started is an MPI singleton: Open MPI then starts it
 * without its helper daemon (ess_singleton_isolated=1, unless the
 * environment sets that parameter). finsim never spawns or connects to
 * other MPI processes, and the daemon's fork and start cost more than half
 * of a singleton's start. */
void fs_mpi_init(int *argc, char ***argv);

/* 1 when an MPI launcher (mpirun, prterun, srun with PMI/PMIx, hydra)
 * started this process, judged by the environment it sets; else 0. */
int fs_mpi_launched(void);

/* fs_mpi_world when fs_mpi_launched, else fs_mpi_peek (0 and 1 unless MPI
 * already runs): for commands that also run as one plain process and whose
 * every MPI call is skipped when MPI is not running. */
void fs_mpi_world_if_launched(int *rank, int *nranks);

/* Make every rank agree on an outcome: the largest of the codes passed by
 * the ranks of MPI_COMM_WORLD (0 = fine; larger = worse, e.g. the exit codes
 * or enum job_status). Collective: every rank must call it. Returns code
 * itself when MPI is not initialised. */
int fs_mpi_agree(int code);

/* fs_mpi_agree for a failure that one rank may meet alone (a store it
 * cannot reach, a secret file it cannot read): returns the largest code of
 * all ranks; when that is not 0, rank 0 prints the message (msg, may be
 * NULL) of the lowest failing rank with that rank's number and host (unless
 * every rank failed), so the reason is shown once, whichever rank met it.
 * Collective. */
int fs_mpi_agree_err(int code, const char *msg);

/* Outcomes of fs_mpi_dir_probe, ordered: the worst rank's wins. */
enum { FS_DIR_SHARED = 0, FS_DIR_LOCAL = 1, FS_DIR_MISSING = 2 };

/* Collective over MPI_COMM_WORLD: does every rank see the directory dir as
 * the same directory? Rank 0 writes a probe file with a random token there
 * (dir/.finsim-probe-<token>), every rank tries to read it back, one
 * reduction decides, rank 0 removes the file. Returns FS_DIR_SHARED (also
 * with one rank or without MPI), FS_DIR_LOCAL (some host has another
 * directory of that name), FS_DIR_MISSING (some host has no such
 * directory), the same on every rank; in the last two cases hosts gets the
 * hosts that do not see rank 0's directory ("h2, h3 (no such directory)").
 * Returns -1 with the reason in err (every rank) when rank 0 cannot write
 * in dir. */
int fs_mpi_dir_probe(const char *dir, char *hosts, size_t hostslen, char *err, size_t errlen);

#endif
