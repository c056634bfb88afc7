/* store.h - trade stores: one interface, several backends.
 *
 * A store holds trades (by id) and the mirrored results. Backends are const
 * tables of function pointers (IOR's aiori pattern):
 *   redis  - redis://[user@]host:port[/db], rediss://... (TLS), unix:///path.sock
 *   file   - an HDF5 trade file (any other path; the embedded default)
 *   memory - mem:// (in-process, for tests)
 * Every function returns 0 on success or a negative store error (STORE_E_*),
 * with a one-line message in st->errstr. After a negative return other than
 * STORE_E_NOTFOUND the store may be unusable until store_reconnect(). */
#ifndef FINSIM_STORE_H
#define FINSIM_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "finsim/trade/result.h"
#include "finsim/trade/trade.h"

enum store_err {
    STORE_OK = 0,
    STORE_E_USAGE = -1,    /* bad URL or options */
    STORE_E_CONNECT = -2,  /* connection refused / unreachable / lost */
    STORE_E_AUTH = -3,     /* credentials refused */
    STORE_E_TLS = -4,      /* TLS failure or no TLS support */
    STORE_E_TIMEOUT = -5,  /* no answer in time */
    STORE_E_PROTOCOL = -6, /* unexpected reply */
    STORE_E_IO = -7,       /* file I/O */
    STORE_E_NOTFOUND = -8, /* the store (file) does not exist */
    STORE_E_NOTSUP = -9,   /* backend does not support the operation */
    STORE_E_NOMEM = -10
};

/* Copy url into buf with any password in its user info replaced by
 * "<redacted>" (redis://user:pw@host -> redis://user:<redacted>@host), so a
 * URL can be printed or stored. Returns buf. */
char *store_redact_url(const char *url, char *buf, size_t n);

/* Check a redis://, rediss:// or unix:// URL as the Redis backend parses
 * it, without connecting: 0 when well-formed, else a STORE_E_* code with a
 * one-line reason (never holding a password) in err. */
int store_redis_check_url(const char *url, char *err, size_t errlen);

/* Options common to all backends; zero-initialise then fill. Strings are
 * borrowed: they must outlive the store. */
typedef struct store_opts {
    const char *key_prefix;   /* prepended to every key ("" or NULL: none) */
    const char *password;     /* Redis AUTH password (never from argv) */
    const char *username;     /* Redis ACL user (overrides the URL's user) */
    const char *tls_ca_file;  /* CA bundle for server verification */
    const char *tls_ca_dir;   /* CA directory */
    const char *tls_cert;     /* client certificate (PEM) */
    const char *tls_key;      /* client key (PEM) */
    const char *tls_sni;      /* server name; default: the URL host */
    int tls_insecure;         /* 1: skip server verification (test servers) */
    int batch;                /* keys per pipelined batch; 0 = default 1000 */
    double timeout_s;         /* connect and command timeout; 0 = default 10 */
    int retries;              /* retries for connect / lost connection; default 3 */
    int create;               /* file: create (truncate) for writing */
    int readonly;             /* file: open read-only */
    int collective;           /* file: open with MPI-IO on comm (see store_open) */
    int64_t expect_first;     /* file: first id of the range the whole job writes */
    int64_t expect_count;     /* file: ids [expect_first, +count) get rows at open
                               * (collectively); needed for put_trades from several
                               * ranks, optional with one; 0 = none */
} store_opts_t;

/* One slot of a batch read: the trade or why it could not be had. */
typedef struct trade_slot {
    trade_t trade;  /* valid when status == FS_OK */
    int status;     /* FS_OK, FS_E_NOT_FOUND, FS_E_PARSE, FS_E_WRONG_TYPE, ... */
    char msg[192];  /* one line naming the key / field at fault */
} trade_slot_t;

/* Counters and times a backend accumulates (seconds, counts). */
typedef struct store_stats {
    double fetch_s;    /* waiting for trade reads */
    double parse_s;    /* decoding trade documents */
    double put_s;      /* writing trades and results */
    int64_t gets;      /* trades requested */
    int64_t puts;      /* records written */
    int64_t round_trips; /* pipelined batches sent */
} store_stats_t;

typedef struct store store_t;

typedef struct store_backend {
    const char *name;  /* "redis", "file", "memory" */
    /* Does this backend handle url? */
    int (*accepts)(const char *url);
    int (*open)(store_t *st, const char *url, const store_opts_t *o, void *mpi_comm);
    void (*close)(store_t *st);
    /* Optional: re-establish a lost connection. */
    int (*reconnect)(store_t *st);
    /* Read trades ids[0..n) into out[0..n); per-slot status. Backends split
     * n into batches of o->batch themselves. */
    int (*get_trades)(store_t *st, const int64_t *ids, size_t n, trade_slot_t *out);
    /* Write trades (overwrite). */
    int (*put_trades)(store_t *st, const trade_t *t, size_t n);
    /* Write result mirrors (overwrite). */
    int (*put_results)(store_t *st, const result_t *r, size_t n);
    /* Read result mirrors; found[i] = 1 when present and well-formed. */
    int (*get_results)(store_t *st, const int64_t *ids, size_t n, result_t *out, int *found);
    /* List every trade id in the store, ascending (Redis: SCAN). *ids is
     * malloc'ed; caller frees. Optional. */
    int (*list_trades)(store_t *st, int64_t **ids, size_t *n);
    /* Optional: a short description for logs, secrets excluded. */
    const char *(*describe)(store_t *st);
    /* Optional: write trades already formatted as eyxml documents (the bytes
     * trade_format writes): docs[off[i] .. off[i+1]) is the document of
     * trade ids[i]. For stores that keep documents (Redis). */
    int (*put_trade_docs)(store_t *st, const int64_t *ids, const char *docs, const size_t *off, size_t n);
    /* Optional: replace the ranking <key prefix><name> with ids[0..n), each
     * scored by scores[i], in one step (readers never see half of it). For
     * stores that keep rankings (Redis: a sorted set, MULTI/EXEC). */
    int (*put_ranking)(store_t *st, const char *name, const int64_t *ids, const double *scores, size_t n);
} store_backend_t;

struct store {
    const store_backend_t *be; /* the backend */
    store_opts_t opts;         /* copy of the options (strings borrowed) */
    char url[512];             /* URL, user info removed */
    char errstr[256];          /* last error, one line */
    int err;                   /* last error code */
    store_stats_t stats;       /* accumulated counters */
    void *priv;                /* backend state */
};

/* The registry, NULL-terminated. */
extern const store_backend_t *const store_backends[];
extern const store_backend_t store_backend_redis;
extern const store_backend_t store_backend_file;
extern const store_backend_t store_backend_memory;

/* Open the store named by url with options o. mpi_comm is an MPI_Comm* for
 * backends that open collectively (the HDF5 file store); NULL means
 * MPI_COMM_SELF. On failure returns NULL and writes a one-line reason into
 * err[errlen] and the STORE_E_* code into *errcode (both may be NULL). */
store_t *store_open(const char *url, const store_opts_t *o, void *mpi_comm,
                    char *err, size_t errlen, int *errcode);
void store_close(store_t *st); /* accepts NULL */

/* Forget the in-process store mem://name (every key prefix) and free its
 * trades and results; handles still open keep it alive until they close.
 * Returns 0, or -1 when no such store exists. Not thread-safe. */
int store_memory_drop(const char *name);

/* Thin wrappers that check for optional slots (STORE_E_NOTSUP) and time the
 * call into st->stats. */
int store_get_trades(store_t *st, const int64_t *ids, size_t n, trade_slot_t *out);
int store_put_trades(store_t *st, const trade_t *t, size_t n);
/* STORE_E_NOTSUP when the backend keeps fields, not documents: use
 * store_put_trades. store_has_trade_docs says so beforehand. */
int store_put_trade_docs(store_t *st, const int64_t *ids, const char *docs, const size_t *off, size_t n);
int store_has_trade_docs(const store_t *st);
/* STORE_E_NOTSUP when the backend keeps no rankings. */
int store_put_ranking(store_t *st, const char *name, const int64_t *ids, const double *scores, size_t n);
int store_put_results(store_t *st, const result_t *r, size_t n);
int store_get_results(store_t *st, const int64_t *ids, size_t n, result_t *out, int *found);
int store_list_trades(store_t *st, int64_t **ids, size_t *n);
int store_reconnect(store_t *st);
const char *store_describe(store_t *st);

/* Backend helper: record an error. Returns code. */
int store_set_error(store_t *st, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
