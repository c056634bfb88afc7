/* secret.h - handling secrets in memory: wipes the compiler cannot drop,
 * and no core file while one is held. */
#ifndef FINSIM_SECRET_H
#define FINSIM_SECRET_H

#include <stddef.h>

/* Overwrite n bytes at p with zeros; never removed by the optimiser (as a
 * memset before free may be). p may be NULL when n is 0. */
void fs_wipe(void *p, size_t n);

/* Wipe the string s (NULL is fine) and free it. */
void fs_wipe_free(char *s);

/* Called when the process takes a secret (a password or an API key, from
 * a file or the environment): from then on it writes no core file
 * (RLIMIT_CORE 0) and is not dumpable (PR_SET_DUMPABLE 0: no core, no
 * ptrace attach by other processes of the user). Idempotent; the process
 * keeps this state until it exits. */
void fs_secret_held(void);

#endif
