/* fixture.h - test fixtures: throwaway redis-server, temp dirs, assertions. */
#ifndef FINSIM_TEST_FIXTURE_H
#define FINSIM_TEST_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

/* A redis-server in its own temp dir, on a TCP port the OS picked and on a
 * unix socket. Stopped by pid. */
typedef struct fx_redis {
    char dir[256];      /* temp dir (data, pid file, log, socket) */
    int port;           /* TCP port (0 when TCP is off) */
    int tls_port;       /* TLS port (0 when TLS is off) */
    pid_t pid;          /* server pid */
    char sock[300];     /* unix socket path */
    char url[64];       /* redis://127.0.0.1:PORT */
    char unix_url[320]; /* unix://SOCK */
    char tls_url[64];   /* rediss://localhost:TLS_PORT */
} fx_redis_t;

/* Start redis-server; extra_args is a NULL-terminated list of extra
 * command-line arguments (e.g. "--requirepass", pw) or NULL. Returns 0. */
int fx_redis_start(fx_redis_t *r, const char *const *extra_args);
void fx_redis_stop(fx_redis_t *r);

/* Run redis-cli against r with the given arguments; output (stdout) into
 * out[outlen]. Returns the exit status. */
int fx_redis_cli(const fx_redis_t *r, char *out, size_t outlen, const char *const *args);

/* Make a fresh temp dir (mkdtemp) under $TMPDIR into buf; rm -rf with fx_rmdir. */
void fx_tmpdir(char *buf, size_t len, const char *tag);
void fx_rmdir(const char *dir);

#endif
