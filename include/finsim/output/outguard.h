/* outguard.h - before an output is written: never replace a file finsim did
 * not make for that purpose, and let one run at a time own an output.
 *
 * outguard_check compares the output (and its .partial and .lock
 * companions) by device and inode with the files the command reads (trade
 * file, ids file, quotes...), and refuses an existing file that is not an
 * output of the same kind (an HDF5 file with the given dataset, or a CSV
 * with the given header). An existing output of the same kind is replaced
 * only when the caller allows it (run: --force or --resume).
 *
 * outlock_take takes an exclusive fcntl lock on OUTPUT.lock, writing the
 * host and pid of the owner into it; a second run is refused with the
 * owner's host and pid. outlock_release removes the file and drops the
 * lock. A run killed without releasing leaves the file but no lock (the
 * kernel drops it): the next run takes it over. */
#ifndef FINSIM_OUTGUARD_H
#define FINSIM_OUTGUARD_H

#include <stddef.h>

typedef struct outguard {
    const char *path;                /* the output as given */
    const char *opt;                 /* its option, for messages ("--output") */
    const char *dataset;             /* HDF5 output: the dataset its files hold ("results") */
    const char *csv_header;          /* CSV output: the first line its files start with
                                      * (neither: only the inputs are protected) */
    const char *const *protect;      /* files the command reads (NULL entries skipped) */
    const char *const *protect_what; /* what each is ("trade file"), for messages */
    int nprotect;
    int replace_ok;                  /* an existing output of this kind may be replaced */
    const char *replace_hint;        /* how to allow it ("give --force to replace it") */
} outguard_t;

/* Check g (rank 0 only; no MPI). Returns 0 when the output may be
 * written, or -1 with a one-line reason in err[errlen]. */
int outguard_check(const outguard_t *g, char *err, size_t errlen);

typedef struct outlock outlock_t;

/* Take the lock of output (the file output.lock). Returns the lock, or
 * NULL with the reason in err (held by another run: its host and pid). */
outlock_t *outlock_take(const char *output, char *err, size_t errlen);

/* Remove the lock file and drop the lock. NULL is ignored. */
void outlock_release(outlock_t *l);

/* Release the lock this process holds, if any (the last one taken and not
 * yet released): for a path that must end the job with MPI_Abort where the
 * lock's owner cannot be reached. */
void outlock_release_held(void);

#endif
