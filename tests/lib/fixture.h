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
 * unix socket. Stopped by pid. Zero-initialise before fx_redis_start*. */
typedef struct fx_redis {
    char dir[256];      /* temp dir (data, pid file, log, socket) */
    int port;           /* TCP port (0 when TCP is off) */
    int tls_port;       /* TLS port (0 when TLS is off) */
    pid_t pid;          /* server pid */
    char sock[300];     /* unix socket path */
    char url[64];       /* redis://127.0.0.1:PORT */
    char unix_url[320]; /* unix://SOCK */
    char tls_url[64];   /* rediss://localhost:TLS_PORT */
    /* TLS material written by fx_redis_start_tls (absolute paths, "" otherwise) */
    char ca_file[320];       /* CA that signed the server and client certificates */
    char other_ca_file[320]; /* an unrelated CA (for "wrong CA" tests) */
    char server_cert[320];   /* server certificate: CN=localhost, SAN localhost + 127.0.0.1 */
    char server_key[320];    /* server key */
    char client_cert[320];   /* client certificate signed by ca_file */
    char client_key[320];    /* client key */
    char password[128];      /* --requirepass value found in extra_args ("" if none) */
    char **argv;             /* the server's command line (for fx_redis_restart); owned */
    int argc;                /* entries in argv */
} fx_redis_t;

/* Client-certificate policy of a TLS fixture (redis --tls-auth-clients). */
enum fx_tls_mode {
    FX_TLS_CLIENT_OPTIONAL = 0, /* --tls-auth-clients optional: server auth only */
    FX_TLS_CLIENT_REQUIRED = 1  /* --tls-auth-clients yes: a client certificate is required */
};

/* Start redis-server; extra_args is a NULL-terminated list of extra
 * command-line arguments (e.g. "--requirepass", pw) or NULL. Waits until it
 * answers PING. Returns 0, or -1 with a reason (and the server log tail) on
 * stderr; nothing is left running or on disk after a failure. */
int fx_redis_start(fx_redis_t *r, const char *const *extra_args);

/* Like fx_redis_start, plus TLS: makes a throwaway CA, server and client
 * certificates (and an unrelated CA) with openssl in the temp dir, and
 * listens with --tls-port on a second OS-picked port (r->tls_port,
 * r->tls_url) while the plain port stays open for redis-cli. mode is an
 * enum fx_tls_mode. Returns 0 or -1. */
int fx_redis_start_tls(fx_redis_t *r, int mode, const char *const *extra_args);

/* Stop the server (SIGTERM, wait, SIGKILL fallback), remove the temp dir
 * and free r->argv. Safe to call twice and on a fixture that never started. */
void fx_redis_stop(fx_redis_t *r);

/* Kill the server with signal sig (SIGKILL: a crash, SIGTERM: a shutdown)
 * and wait until it is gone; the temp dir and ports stay, so
 * fx_redis_restart can bring it back. Returns 0 or -1. */
int fx_redis_kill(fx_redis_t *r, int sig);

/* Start the server again with the same command line (same ports, socket,
 * dir) after fx_redis_kill. Data is gone (no persistence). Returns 0 or -1. */
int fx_redis_restart(fx_redis_t *r);

/* Run redis-cli against r's plain TCP port with the given NULL-terminated
 * arguments (the server's --requirepass password is passed through
 * REDISCLI_AUTH, never argv); stdout into out[outlen], NUL-terminated, with
 * the one trailing newline redis-cli adds removed. Returns the exit status
 * (or -1 when it could not run). */
int fx_redis_cli(const fx_redis_t *r, char *out, size_t outlen, const char *const *args);

/* Make a fresh temp dir (mkdtemp) under $TMPDIR into buf; rm -rf with fx_rmdir.
 * Aborts the process when no directory can be made. */
void fx_tmpdir(char *buf, size_t len, const char *tag);
void fx_rmdir(const char *dir);

/* xorshift64: a fast, reproducible stream of 64-bit values for randomised
 * comparisons (*state must start non-zero). */
uint64_t fx_next64(uint64_t *state);

#endif
