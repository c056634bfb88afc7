/* secret.c - wipes that stay, and no core file while a secret is held. */
#define _GNU_SOURCE
#include "finsim/base/secret.h"

#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

/* explicit_bzero (glibc 2.25): a memset the compiler may not elide. */
void fs_wipe(void *p, size_t n)
{
    if (p && n)
        explicit_bzero(p, n);
}

/* Wipe the whole string, then free it. */
void fs_wipe_free(char *s)
{
    if (!s)
        return;
    fs_wipe(s, strlen(s));
    free(s);
}

/* Both limits once; failures are ignored (a container may forbid prctl),
 * as the secret is still handled the same way otherwise. */
void fs_secret_held(void)
{
    static int done = 0;
    if (done)
        return;
    done = 1;
    struct rlimit none = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &none);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
