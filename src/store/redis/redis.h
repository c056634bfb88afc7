/* redis.h - what the Redis backend's files share (private to src/store/redis/).
 *
 * The Redis trade store: pipelined batch reads and writes,
 * AUTH / ACL users, SELECT, TLS (hiredis >= 1.0 with hiredis_ssl), key
 * prefixes, bounded reconnects with exponential backoff.
 *
 * URLs:  redis://[user@]host[:port][/db]     plain TCP (port 6379 by default)
 *        redis://[user@]h1:p1,h2:p2[?cluster=yes|no|auto]   cluster seeds
 *        rediss://[user@]host[:port][/db]    TLS
 *        unix:///path/to/redis.sock[?db=N]   unix socket
 * A password inside the URL is refused: command lines are visible to every
 * user of the machine. The password arrives in opts->password (the caller
 * reads FINSIM_REDIS_PASSWORD or a password file) and is never printed.
 *
 * Wire protocol: trade reads send one GETRANGE key 0 TRADE_DOC_MAX per key
 * (never more than 1 MiB + 1 byte per value crosses the wire, however large
 * the stored value: a longer answer is "too large" without reading the
 * rest) and consume the replies one by one as they arrive, so a batch holds
 * one value at a time; slots answered with "" or WRONGTYPE are resolved by a
 * small pipelined GETRANGE + TYPE follow-up, so a missing key, an empty
 * value and a key of the wrong type are told apart per slot. Result reads
 * (--resume) send GETRANGE the same way. Writes send one MSET per batch. Up to REDIS_PIPE_DEPTH
 * batches are on the wire at once, so encoding/parsing here overlaps with
 * the server's work. Commands are encoded into one reusable RESP buffer per
 * store, so a batch costs no per-key mallocs on our side (hiredis still
 * allocates one reply object per value).
 *
 * Compiles against hiredis 0.14 (no TLS) and hiredis >= 1.0; TLS code is
 * guarded by FINSIM_HAVE_TLS, which CMake sets when hiredis_ssl is found.
 *
 * Redis Cluster: redis://h1:p1,h2:p2 names seeds; a cluster node (INFO
 * cluster_enabled:1, unless ?cluster=no) switches the store to routing by
 * hash slot over one connection per master (cluster.c,
 * docs/REDIS-CLUSTER.md).
 *
 * Files: url.c (URL parsing, the secret-free canonical form, check_url),
 * conn.c (connect, AUTH/SELECT, TLS context, reconnect/retry, wire I/O),
 * auth.c (the password of each connection, read again from its file),
 * pipeline.c (the RESP command buffer and pipelined batches), ops.c (the
 * operations on one node), cluster.c (slots, topology, routing, redirects,
 * and the backend table). */
#ifndef FINSIM_STORE_REDIS_H
#define FINSIM_STORE_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#if FINSIM_HAVE_TLS
#include <openssl/ssl.h>
#endif

#include "backend.h"

#define REDIS_DEFAULT_PORT 6379
#define REDIS_MAX_BATCH 5000      /* larger pipelines get slower (docs/PERFORMANCE.md) */
#define REDIS_BACKOFF_FIRST_S 0.1 /* first retry delay; doubles per retry */
#define REDIS_BACKOFF_MAX_S 2.0   /* cap on one retry delay */
#define REDIS_SCAN_COUNT "1000"   /* SCAN COUNT hint for list_trades */
#define REDIS_DOC_STACK 2048      /* formatted trade/result documents up to this size need no malloc */
#ifndef REDIS_PIPE_DEPTH
#define REDIS_PIPE_DEPTH 2        /* batches on the wire at once (client and server overlap) */
#endif

enum redis_transport {
    REDIS_TRANSPORT_TCP,  /* redis:// */
    REDIS_TRANSPORT_TLS,  /* rediss:// */
    REDIS_TRANSPORT_UNIX  /* unix:// */
};

/* Backend state (st->priv). One connection, never shared across threads. */
typedef struct redis_priv {
    redisContext *c;       /* live connection, NULL when none */
    int transport;         /* enum redis_transport */
    char host[256];        /* TCP/TLS host (no brackets for IPv6) */
    int port;              /* TCP/TLS port */
    char path[256];        /* unix socket path */
    long db;               /* database number */
    int db_given;          /* 1: the URL named a db, send SELECT */
    char user[128];        /* ACL user ("" = default user) */
    char tls_name[256];    /* name sent as SNI and verified in the certificate */
    int reconnects;        /* connections made after the first one */
    double outage_t0;      /* fs_now() when the current outage began; 0: none */
    int probed;            /* 1: the ACL probe of opts.needs ran (first connect) */
#if FINSIM_HAVE_TLS
    SSL_CTX *ssl_ctx;      /* TLS settings shared by every reconnect */
#endif
    char *cmd;             /* RESP command buffer, reused by every batch */
    size_t cmd_len;        /* bytes used in cmd */
    size_t cmd_cap;        /* bytes allocated for cmd */
    size_t *nil_idx;       /* get_trades: positions left for the follow-up */
    size_t nil_cap;        /* entries allocated in nil_idx */
    unsigned char *pend;   /* get_trades: 1 where GETRANGE left the slot open */
    size_t pend_cap;       /* entries allocated in pend */
    char *held;            /* get_trades: the values of a batch, held for one trade_parse_batch */
    size_t held_len;       /* bytes used in held */
    size_t held_cap;       /* bytes allocated for held */
    size_t *held_off;      /* held_n + 1 offsets: value j is held[held_off[j] .. held_off[j+1]) */
    size_t *held_item;     /* the item (slot) of each held value */
    size_t held_n;         /* values held */
    size_t held_ncap;      /* entries allocated in held_item (held_off: one more) */
    redisReply **rep;      /* replies of the batch being consumed */
    size_t rep_cap;        /* entries allocated in rep */
    /* Redis Cluster (cluster.c) */
    struct redis_cluster *cl; /* cluster state of the store's top level; NULL: one node */
    int cluster_mode;      /* from ?cluster=: 0 auto (INFO), -1 no, 1 yes */
    char seeds[512];       /* more seeds "h2:p2,h3:p3" after the URL's first host */
    int node;              /* 1: a connection to one cluster node (per-key commands, no MSET) */
    int asking;            /* 1: every command is preceded by ASKING (its reply is skipped) */
    struct redis_redir *redir; /* MOVED/ASK replies of the running operation, by item */
    size_t nredir;         /* entries used in redir */
    size_t redir_cap;      /* entries allocated in redir */
    char *pw;              /* the password as last read from opts.password_file (auth.c) */
    void (*on_sent)(void *arg); /* when set: called (once, then cleared) by redis_pipeline as soon
                              as its first batches are on the wire, before it reads a reply;
                              cluster.c sends the other masters' batches from there */
    void *on_sent_arg;     /* argument of on_sent */
    /* the next get_trades, read ahead (ops.c, store_prefetch_trades) */
    int pf_state;          /* enum redis_pf_state */
    int64_t *pf_ids;       /* ids of the reads sent ahead (pf_n of them) */
    size_t pf_n;           /* reads sent ahead */
    int64_t *pf_next;      /* ids announced for the get_trades after the next one (pf_next_n) */
    size_t pf_next_n;      /* 0: none announced */
    size_t pf_cap;         /* entries allocated in pf_ids, pf_next and pf_rep */
    redisReply **pf_rep;   /* REDIS_PF_READ: the pf_n replies */
} redis_priv_t;

/* Where the reads sent ahead are. */
enum redis_pf_state {
    REDIS_PF_NONE = 0, /* none sent */
    REDIS_PF_SENT,     /* sent; their replies are the next ones on the connection */
    REDIS_PF_READ,     /* their replies were read off the connection into pf_rep */
};

/* The most value bytes get_trades holds before it parses them (more than
 * one batch of ordinary documents; a larger value is held alone). */
#define REDIS_HELD_MAX (4u << 20)

/* The most reply bytes kept in memory for reads sent ahead; beyond it they
 * are read off the connection and dropped, and get_trades reads again. */
#define REDIS_PF_KEEP_MAX (32u << 20)

/* One MOVED or ASK reply to the command of an item of a node operation. */
typedef struct redis_redir {
    size_t item;           /* index of the item in the node operation */
    int ask;               /* 1: ASK (one-off, with ASKING), 0: MOVED (the slot has a new owner),
                              2: CLUSTERDOWN or TRYAGAIN (try again later) */
    char addr[280];        /* "host:port" of the node to ask; for 2 the error reply */
} redis_redir_t;

/* ---- url.c ---------------------------------------------------------------- */

/* Parse url into p. Never copies a password anywhere: user info holding a
 * ':' is refused with STORE_E_USAGE before anything else is looked at.
 * Returns 0 or a STORE_E_* code with st->errstr set. */
int redis_parse_url(store_t *st, redis_priv_t *p, const char *url);

/* Write the canonical, secret-free form of the URL into st->url:
 * redis[s]://[user@]host:port/db or unix:///path?db=N. */
void redis_format_url(store_t *st, const redis_priv_t *p);

/* Which URLs this backend handles: redis://, rediss://, unix://. */
int redis_accepts(const char *url);

/* ---- conn.c --------------------------------------------------------------- */

/* Sleep for s seconds (EINTR restarts with the time left). Cannot fail. */
void redis_sleep(double s);

/* Delay before retry number k (k = 0 for the first retry): exponential
 * backoff from REDIS_BACKOFF_FIRST_S, capped at REDIS_BACKOFF_MAX_S. */
double redis_backoff(int k);

/* Drop the connection (if any). Cannot fail. */
void redis_drop(redis_priv_t *p);

/* Send one command given as argv and return its reply in *out (caller frees
 * with freeReplyObject). Returns 0, or a STORE_E_* code with st->errstr set
 * ("what" names the step) when the connection failed; the context is then
 * dropped. An error *reply* is not a failure here: the caller looks at it. */
int redis_call(store_t *st, redis_priv_t *p, int argc, const char **argv, const char *what,
               redisReply **out);

/* The command "what" got no reply: record why in st->errstr, drop the
 * context and return the STORE_E_* code (timeout, lost connection). */
int redis_call_failed(store_t *st, redis_priv_t *p, const char *what);

/* The STORE_E_* code of an error reply: STORE_E_AUTH for NOAUTH and
 * NOPERM (a user refused a command or a key), else STORE_E_PROTOCOL. */
int redis_reply_code(const char *reply);

/* Set st->errstr for the error reply r to command cmd (upper case) on keys
 * described by keys (e.g. "ey*_result.xml", or NULL for none; aclkey: the
 * ACL key pattern that allows them, e.g. "ey*"). A NOPERM
 * reply names the ACL rules to add: "user 'U' may not run MSET on
 * ey*_result.xml: add +mset and ~<prefix>ey* (NOPERM ...)". Returns the
 * reply's STORE_E_* code (redis_reply_code). */
int redis_reply_error(store_t *st, const char *reply, const char *cmd, const char *keys, const char *aclkey);

/* After failure rc of an idempotent command (the connection is dropped):
 * decide whether to try again. With opts.retry_s > 0, a lost connection or
 * a timeout is retried until retry_s seconds after the outage began (the
 * first failure warns "store URL unreachable (...), retrying for up to N s");
 * without it, a lost connection is retried opts.retries times in a row
 * (*attempt counts them). Sleeps the backoff and returns 1 to retry, or
 * returns 0 with st->errstr saying why it gave up. */
int redis_retry(store_t *st, redis_priv_t *p, int rc, int *attempt);

/* An idempotent command succeeded: when an outage was under way, warn
 * "store URL back after S s" and end it. Cannot fail. */
void redis_outage_end(store_t *st, redis_priv_t *p);

/* Make sure there is a live connection, reconnecting if an earlier failure
 * dropped it. Returns 0 or a STORE_E_* code. */
int redis_ensure(store_t *st, redis_priv_t *p);

/* Queue the command(s) in p->cmd and write them out completely, so the
 * server works on them while we encode the next batch. Returns 0, or a
 * STORE_E_* code with the connection dropped. */
int redis_send(store_t *st, redis_priv_t *p, const char *what);

/* Read nrep replies into p->rep[0..nrep) (the caller frees them). On a
 * failure frees those already read, drops the connection and returns its
 * STORE_E_* code. */
int redis_recv(store_t *st, redis_priv_t *p, size_t nrep, const char *what);

/* Open: parse the URL (refusing passwords in it), replace st->url with its
 * secret-free canonical form, set up TLS, connect (with retries). Returns 0
 * or a STORE_E_* code with st->errstr set; on failure everything allocated
 * here is freed. Ignores SIGPIPE when it has its default action, so a write
 * to a server that went away is an error return, not a dead process. */
int redis_open(store_t *st, const char *url, const store_opts_t *o, void *mpi_comm);

/* Free the backend state (connection, TLS context, buffers). Accepts a
 * store whose priv is NULL. */
void redis_close(store_t *st);

/* Re-establish the connection (with retries). Returns 0 or STORE_E_*. */
int redis_reconnect(store_t *st);

/* The secret-free URL. */
const char *redis_describe(store_t *st);

/* ---- command.c ------------------------------------------------------------ */

/* The backend's command slot: one command, its reply copied (store_command). */
int redis_command(store_t *st, int argc, const char **argv, const size_t *lens, store_reply_t **out);

/* ---- pipeline.c ----------------------------------------------------------- */

/* A batch operation over items [0, n) for redis_pipeline. */
typedef struct redis_pipe_ops {
    const char *what; /* for messages: "reading trades", ... */
    /* Encode the command(s) for items [lo, hi) into p->cmd (emptied by the
     * caller); return how many replies they will produce. */
    size_t (*encode)(store_t *st, redis_priv_t *p, size_t lo, size_t hi, void *arg);
    /* Use the replies rep[0..nrep) of items [lo, hi) (the caller frees
     * them). Returns 0, or a final STORE_E_* code for an error reply that
     * fails the whole operation. */
    int (*consume)(store_t *st, redisReply **rep, size_t nrep, size_t lo, size_t hi, void *arg);
    /* Optional: when set, each reply is handed here as soon as it arrives
     * (k: its index among the batch's replies) and freed right after, and
     * consume is not called. A batch then holds one reply at a time, not
     * all of them: the memory of a batch is bounded by its largest reply,
     * not by the sum. Must be idempotent per (batch, k): a batch is sent
     * again after a lost connection. Returns 0 or a final STORE_E_* code. */
    int (*each)(store_t *st, redisReply *r, size_t k, size_t lo, size_t hi, void *arg);
} redis_pipe_ops_t;

/* Start a command of argc arguments. */
void redis_cmd_begin(redis_priv_t *p, size_t argc);

/* Append one bulk-string argument. */
void redis_cmd_arg(redis_priv_t *p, const char *s, size_t len);

/* Run ops over items [0, n) in batches of opts.batch, keeping up to
 * REDIS_PIPE_DEPTH batches on the wire so that encoding, the network and
 * the server overlap. Replies are consumed in order. When the connection is
 * lost, the batches not yet consumed are sent again after a reconnect
 * (every command we batch is idempotent), at most opts.retries times in a
 * row without progress. p->on_sent, when set, runs once the first batches
 * are written, before the first reply is read. *done receives the number
 * of items consumed. Returns 0 or the final STORE_E_* code with st->errstr
 * set. */
int redis_pipeline(store_t *st, size_t n, const redis_pipe_ops_t *ops, void *arg, size_t *done);

/* ---- auth.c ---------------------------------------------------------------- */

/* The password for the next AUTH: opts.password_file read again (kept in
 * p->pw; a file that cannot be read now keeps the last reading, with a
 * warning), else opts.password. NULL: none. */
const char *redis_auth_password(store_t *st, redis_priv_t *p);

/* Before any other command on p->c: read the replies of reads sent ahead
 * (REDIS_PF_SENT) into pf_rep, so the connection answers the next command
 * next. Returns 0, or the STORE_E_* code of a lost connection (dropped,
 * st->errstr set, the reads sent ahead forgotten): the caller handles it
 * like a failure of its own command. what names the caller's operation. */
int redis_prefetch_drain(store_t *st, redis_priv_t *p, const char *what);

/* Forget the reads sent ahead and free what they hold (close). */
void redis_prefetch_free(redis_priv_t *p);
/* store_prefetch_trades on one node; STORE_E_NOTSUP in a cluster (ops.c). */
int redis_prefetch_trades(store_t *st, const int64_t *ids, size_t n);

/* ---- ops.c / cluster.c ---------------------------------------------------- */

/* The operations on one Redis node (ops.c). store_backend_redis (cluster.c)
 * runs them directly on a single node and splits them per node in a
 * cluster. */
extern const store_backend_t redis_node_backend;

/* Connect with bounded retries (conn.c). Returns 0 or STORE_E_*. */
int redis_connect(store_t *st, redis_priv_t *p);

/* On a cluster node connection (p->node): when r is a MOVED, ASK,
 * CLUSTERDOWN or TRYAGAIN error reply to the command of item, record it in p->redir and return 1 (the
 * operation goes on; cluster.c sends the item again where the reply
 * points, or later). Otherwise 0. */
int redis_redirected(redis_priv_t *p, const redisReply *r, size_t item);

/* After the seed connection of redis_open is up: unless ?cluster=no, ask
 * INFO whether the server is a cluster node and, if so, read the topology
 * and switch the store to cluster mode. Returns 0 or STORE_E_*. */
int redis_cluster_open(store_t *st, redis_priv_t *p);

/* The first seed failed with rc: try the others of p->seeds in turn.
 * Returns 0 (p connected to one of them) or the last STORE_E_* code. */
int redis_cluster_seeds(store_t *st, redis_priv_t *p, int rc);

/* Free the cluster state of p (node connections). Accepts p->cl == NULL. */
void redis_cluster_free(redis_priv_t *p);

/* CRC16 (XMODEM) of buf[0..len) and the Redis Cluster hash slot of a key
 * (0..16383): the CRC16 of the part between the first '{' and the next '}'
 * when that is not empty, else of the whole key, modulo 16384. */
uint16_t redis_crc16(const char *buf, size_t len);
int redis_key_slot(const char *key, size_t len);

#endif
