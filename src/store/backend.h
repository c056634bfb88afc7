/* backend.h - what the store backends share: the backend table, struct store.
 *
 * Private to src/store/: callers use include/finsim/store/store.h, where
 * store_t is opaque. The store layer's sources find this header through the
 * include path of the store object library (CMakeLists.txt), so the Redis
 * backend's folder (src/store/redis/) includes it as "backend.h" too. */
#ifndef FINSIM_STORE_BACKEND_H
#define FINSIM_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "finsim/store/store.h"

/* One backend: a const table of operations. Every operation returns 0 or a
 * STORE_E_* code recorded with store_set_error. Optional slots may be NULL;
 * the wrappers of store.c then answer STORE_E_NOTSUP. */
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
    /* Optional: announce the ids of the get_trades after the next one, so
     * that their reads can be in flight while the caller works
     * (store_prefetch_trades). Returns 0, or STORE_E_NOTSUP where this store
     * cannot (e.g. a Redis Cluster); reports no other failure: whatever is
     * not sent ahead is read by that get_trades in the ordinary way. */
    int (*prefetch_trades)(store_t *st, const int64_t *ids, size_t n);
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
    /* Optional: push writes the backend buffers (the file store's HDF5
     * caches) to the operating system, so they outlive an abort of the
     * process. Not collective. */
    int (*flush)(store_t *st);
    /* Optional: one raw command and its reply (store_command). */
    int (*command)(store_t *st, int argc, const char **argv, const size_t *lens, store_reply_t **out);
} store_backend_t;

struct store {
    const store_backend_t *be; /* the backend */
    store_opts_t opts;         /* copy of the options (strings borrowed) */
    char url[512];             /* URL, user info removed */
    char errstr[512];          /* last error, one line */
    int err;                   /* last error code */
    store_stats_t stats;       /* accumulated counters */
    void *priv;                /* backend state */
};

/* The registry, NULL-terminated. */
extern const store_backend_t *const store_backends[];
extern const store_backend_t store_backend_redis;
extern const store_backend_t store_backend_file;
extern const store_backend_t store_backend_memory;


/* Record an error on st: the code and a one-line message formatted from
 * fmt (truncated to fit; never put a password in it). Returns code, so a
 * backend can write "return store_set_error(st, STORE_E_IO, ...)". */
int store_set_error(store_t *st, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
