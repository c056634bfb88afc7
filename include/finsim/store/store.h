/* store.h - trade stores: one interface, several backends.
 *
 * A store holds trades (by id) and the mirrored results. Backends are const
 * tables of function pointers (IOR's aiori pattern), private to src/store/
 * (backend.h); callers see an opaque store_t and these backends:
 *   redis  - redis://[user@]host:port[/db], rediss://... (TLS), unix:///path.sock
 *   file   - an HDF5 trade file (an existing trade file, a .h5/.hdf5 path, or
 *            file://PATH; the embedded default)
 *   memory - mem:// (in-process, for tests)
 * Every function returns 0 on success or a negative store error (STORE_E_*),
 * with a one-line message in store_errstr(st). After a negative return other
 * than STORE_E_NOTFOUND the store may be unusable until store_reconnect(). */
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
 * "<redacted>" (redis://user:pw@host -> redis://user:<redacted>@host), and
 * the values of secret keys of a connection string too
 * ("h:6380,password=KEY,ssl=True" -> "h:6380,password=<redacted>,ssl=True";
 * keys password=, key=, AccountKey=, SharedAccessSignature=, sig=, ...), so
 * that any argument can be printed or stored. Returns buf. */
char *store_redact_url(const char *url, char *buf, size_t n);

/* Does url carry a secret as key=value (password=, AccountKey=, sig=, ...,
 * see store_redact_url)? store_open refuses such a string. */
int store_url_has_secret(const char *url);

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
    double retry_s;           /* redis: outage window. After the store was reached once, a
                               * lost connection or a timeout is retried (reconnect with
                               * backoff, AUTH/SELECT again, the batch resent: every command
                               * the store sends is idempotent) for up to this many seconds,
                               * each attempt bounded by timeout_s; then the error is final.
                               * 0 = off (only `retries` reconnects for a lost connection) */
    unsigned needs;           /* redis: STORE_NEED_* bits, what the caller will do; the
                               * store checks at connect that the user may (ACLs) and
                               * fails with STORE_E_AUTH naming the rules to add */
    const char *ranking_name; /* redis, with STORE_NEED_RANKING: the ranking's name */
    int create;               /* file: create (truncate) for writing */
    int readonly;             /* file: open read-only */
    int collective;           /* file: open with MPI-IO on comm (see store_open) */
    int64_t expect_first;     /* file: first id of the range the whole job writes */
    int64_t expect_count;     /* file: ids [expect_first, +count) get rows at open
                               * (collectively); needed for put_trades from several
                               * ranks, optional with one; 0 = none */
    const char *password_file; /* redis: when set, read again for every connection made
                                * (and once more after a refused AUTH), so a password or
                                * token rotated in the file is used without a restart;
                                * `password` holds its first reading */
} store_opts_t;

/* store_opts_t.needs: what a command will do with the store. */
enum store_need {
    STORE_NEED_READ_TRADES = 1,   /* store_get_trades */
    STORE_NEED_WRITE_TRADES = 2,  /* store_put_trades, store_put_trade_docs */
    STORE_NEED_READ_RESULTS = 4,  /* store_get_results */
    STORE_NEED_WRITE_RESULTS = 8, /* store_put_results */
    STORE_NEED_LIST = 16,         /* store_list_trades */
    STORE_NEED_RANKING = 32       /* store_put_ranking (opts.ranking_name) */
};

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

/* An open store. Opaque: read it through the accessors below. */
typedef struct store store_t;

/* Name of the backend that store_open would give url to ("redis", "file",
 * "memory"), or NULL when none accepts it. Static storage; opens nothing. */
const char *store_backend_for(const char *url);

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
 * call into store_stats(st). */
int store_get_trades(store_t *st, const int64_t *ids, size_t n, trade_slot_t *out);
/* Announce that the store_get_trades after the next one will read
 * ids[0..n) (n at most the batch size): a store that can sends those reads
 * as soon as the next store_get_trades has its own replies, so they travel
 * while the caller parses, prices and mirrors; the store_get_trades of
 * exactly these ids then takes their replies. Only a hint: the results
 * are those of an ordinary read, and a store that cannot read ahead (file,
 * memory, Redis Cluster) answers STORE_E_NOTSUP and reads as always. */
int store_prefetch_trades(store_t *st, const int64_t *ids, size_t n);
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
/* Push writes still buffered in this process (HDF5 caches of the trade
 * file) to the operating system, e.g. before MPI_Abort. Not collective;
 * STORE_OK for backends that buffer nothing. */
int store_flush(store_t *st);
const char *store_describe(store_t *st);

/* The last error of st: a one-line message (never holding a password; ""
 * before any error) and its STORE_E_* code (STORE_OK before any error). The
 * message lives in st: the next error overwrites it, store_close frees it. */
const char *store_errstr(const store_t *st);
int store_errcode(const store_t *st);

/* The counters and times the wrappers accumulated on st since it opened.
 * Valid while st is open. */
const store_stats_t *store_stats(const store_t *st);

/* Name of st's backend: "redis", "file" or "memory". Static storage. */
const char *store_backend_name(const store_t *st);

/* Keys per pipelined batch that st uses: store_opts_t.batch after the
 * default (1000) and the backend's limits were applied. */
int store_batch(const store_t *st);

/* A reply to store_command: the Redis reply tree, copied out of the client
 * library. */
enum store_reply_type {
    STORE_REPLY_STRING = 1,  /* bulk string: str[len] (NUL-terminated) */
    STORE_REPLY_ARRAY = 2,   /* element[0..elements) */
    STORE_REPLY_INTEGER = 3, /* integer */
    STORE_REPLY_NIL = 4,
    STORE_REPLY_STATUS = 5,  /* "OK": str */
    STORE_REPLY_ERROR = 6,   /* "ERR ...": str */
    STORE_REPLY_OTHER = 7    /* RESP3 types finsim does not ask for */
};

typedef struct store_reply {
    int type;                      /* enum store_reply_type */
    long long integer;             /* STORE_REPLY_INTEGER */
    char *str;                     /* STRING, STATUS, ERROR: NUL-terminated */
    size_t len;                    /* bytes in str */
    size_t elements;               /* ARRAY */
    struct store_reply **element;  /* ARRAY */
} store_reply_t;

/* Send one command (argv[0..argc), lens[i] bytes each) to a Redis store
 * and return its reply in *out (free with store_reply_free). Used by the
 * request service (streams, consumer groups); key names are passed as
 * given, so the caller applies the key prefix. Not retried: a lost
 * connection or a timeout returns its STORE_E_* code (store_reconnect then
 * connects again). An error reply is not a failure here: *out holds it.
 * STORE_E_NOTSUP for backends other than Redis. */
int store_command(store_t *st, int argc, const char **argv, const size_t *lens, store_reply_t **out);
void store_reply_free(store_reply_t *r); /* accepts NULL */

#endif
