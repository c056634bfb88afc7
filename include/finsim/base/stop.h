/* stop.h - a stop asked for by a signal (SIGTERM from a scheduler or from
 * mpirun, SIGINT from a terminal).
 *
 * The handler only records the first signal in a flag (async-signal-safe,
 * no MPI calls); the job reads the flag at its batch boundaries and all
 * ranks then agree to stop (src/job/schedule.c). */
#ifndef FINSIM_BASE_STOP_H
#define FINSIM_BASE_STOP_H

/* Install the handler for SIGTERM and SIGINT (SA_RESTART: interrupted
 * system calls resume). Returns 0, or -1 if sigaction failed. */
int fs_stop_install(void);

/* The signal that asked to stop (SIGTERM, SIGINT), or 0 when none came. */
int fs_stop_requested(void);

/* "SIGTERM", "SIGINT" or "signal N" for sig. */
const char *fs_stop_name(int sig);

#endif
