/* store_memory.c - the in-process store mem://NAME, for tests and demos.
 *
 * A process-global registry holds named stores; each name has one namespace
 * per key prefix (store_opts_t.key_prefix), so mem://x with prefix "a:" and
 * mem://x with no prefix hold different trades, as two prefixes on one Redis
 * server would. Opening mem://x again in the same process sees the same data
 * until store_memory_drop("x"). Trades and results live in dense arrays
 * indexed by open-addressing hash maps keyed by trade id.
 *
 * Not thread-safe: the registry and the stores have no locks. Use one thread
 * (finsim's ranks are processes, so this only matters to tests). */
#include "finsim/store/store.h"

#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finsim/base/util.h"

#define MEM_SCHEME "mem://"
#define MEM_EMPTY INT64_MIN /* hash slot marker: no key */

/* id -> index into a dense array; open addressing, linear probing. */
typedef struct mem_map {
    int64_t *keys; /* cap slots, MEM_EMPTY when free */
    size_t *vals;  /* cap slots: index into the owner's array */
    size_t cap;    /* power of two, or 0 before the first insert */
    size_t n;      /* keys present */
} mem_map_t;

/* One key prefix of a named store. */
typedef struct mem_ns {
    struct mem_ns *next; /* next prefix of the same store */
    char *prefix;        /* key prefix ("" for none), owned */
    trade_t *trades;     /* ntrades trades, in insertion order */
    size_t ntrades;      /* trades held */
    size_t trades_cap;   /* allocated slots of trades */
    mem_map_t tidx;      /* trade id -> index into trades */
    result_t *results;   /* nresults mirrored results */
    size_t nresults;     /* results held */
    size_t results_cap;  /* allocated slots of results */
    mem_map_t ridx;      /* trade id -> index into results */
} mem_ns_t;

/* One named store (mem://NAME). */
typedef struct mem_db {
    struct mem_db *next; /* next store in the registry */
    char *name;          /* NAME, owned */
    mem_ns_t *ns;        /* namespaces, one per key prefix */
    int refs;            /* open handles */
    int dropped;         /* unlinked by store_memory_drop; freed at last close */
} mem_db_t;

/* Backend state of one open handle. */
typedef struct mem_priv {
    mem_db_t *db;   /* the store (a reference is held) */
    mem_ns_t *ns;   /* the namespace of this handle's key prefix */
    char desc[600]; /* store_describe text */
} mem_priv_t;

static mem_db_t *mem_registry; /* every live, not dropped store */

/* ---- hash map -------------------------------------------------------------- */

/* Slot of key in m: where it is, or the free slot where it would go.
 * m->cap must be non-zero. Cannot fail. */
static size_t mem_map_slot(const mem_map_t *m, int64_t key)
{
    size_t mask = m->cap - 1;
    size_t h = (size_t)fs_mix64((uint64_t)key) & mask;
    while (m->keys[h] != MEM_EMPTY && m->keys[h] != key)
        h = (h + 1) & mask;
    return h;
}

/* Look key up: 1 and *val set when present, else 0. Cannot fail. */
static int mem_map_get(const mem_map_t *m, int64_t key, size_t *val)
{
    if (!m->cap || key == MEM_EMPTY)
        return 0;
    size_t h = mem_map_slot(m, key);
    if (m->keys[h] != key)
        return 0;
    *val = m->vals[h];
    return 1;
}

/* Insert or replace key -> val, growing the table to keep it half empty.
 * Aborts (xmalloc) when out of memory. key must not be MEM_EMPTY. */
static void mem_map_put(mem_map_t *m, int64_t key, size_t val)
{
    if ((m->n + 1) * 2 > m->cap) {
        mem_map_t g = {.cap = m->cap ? m->cap * 2 : 64};
        g.keys = xmalloc(g.cap * sizeof(*g.keys));
        g.vals = xmalloc(g.cap * sizeof(*g.vals));
        for (size_t i = 0; i < g.cap; i++)
            g.keys[i] = MEM_EMPTY;
        for (size_t i = 0; i < m->cap; i++) {
            if (m->keys[i] == MEM_EMPTY)
                continue;
            size_t h = mem_map_slot(&g, m->keys[i]);
            g.keys[h] = m->keys[i];
            g.vals[h] = m->vals[i];
            g.n++;
        }
        free(m->keys);
        free(m->vals);
        *m = g;
    }
    size_t h = mem_map_slot(m, key);
    if (m->keys[h] != key) {
        m->keys[h] = key;
        m->n++;
    }
    m->vals[h] = val;
}

/* Free the map's tables and leave it empty. Accepts an empty map. */
static void mem_map_free(mem_map_t *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* ---- registry -------------------------------------------------------------- */

/* Empty a namespace: every trade and result goes, the prefix stays. */
static void mem_ns_clear(mem_ns_t *ns)
{
    free(ns->trades);
    free(ns->results);
    mem_map_free(&ns->tidx);
    mem_map_free(&ns->ridx);
    ns->trades = NULL;
    ns->results = NULL;
    ns->ntrades = ns->trades_cap = ns->nresults = ns->results_cap = 0;
}

/* Free a store with all its namespaces. The caller has unlinked it from
 * the registry. Accepts NULL. */
static void mem_db_free(mem_db_t *db)
{
    if (!db)
        return;
    mem_ns_t *ns = db->ns;
    while (ns) {
        mem_ns_t *next = ns->next;
        mem_ns_clear(ns);
        free(ns->prefix);
        free(ns);
        ns = next;
    }
    free(db->name);
    free(db);
}

/* The registered store called name, or NULL. */
static mem_db_t *mem_db_find(const char *name)
{
    for (mem_db_t *db = mem_registry; db; db = db->next)
        if (strcmp(db->name, name) == 0)
            return db;
    return NULL;
}

/* The namespace of prefix in db, made empty when absent. Cannot fail
 * (aborts when out of memory). */
static mem_ns_t *mem_ns_get(mem_db_t *db, const char *prefix)
{
    for (mem_ns_t *ns = db->ns; ns; ns = ns->next)
        if (strcmp(ns->prefix, prefix) == 0)
            return ns;
    mem_ns_t *ns = xcalloc(1, sizeof(*ns));
    ns->prefix = xstrdup(prefix);
    ns->next = db->ns;
    db->ns = ns;
    return ns;
}

/* Unlink the store called name from the registry and free it now, or at the
 * close of its last open handle. Returns 0, or -1 when there is no such
 * store. Not thread-safe. */
int store_memory_drop(const char *name)
{
    if (!name)
        return -1;
    for (mem_db_t **pp = &mem_registry; *pp; pp = &(*pp)->next) {
        mem_db_t *db = *pp;
        if (strcmp(db->name, name) != 0)
            continue;
        *pp = db->next;
        db->next = NULL;
        db->dropped = 1;
        if (db->refs == 0)
            mem_db_free(db);
        return 0;
    }
    return -1;
}

/* ---- backend --------------------------------------------------------------- */

/* mem://NAME URLs belong to this backend. */
static int mem_accepts(const char *url)
{
    return strncmp(url, MEM_SCHEME, strlen(MEM_SCHEME)) == 0;
}

/* Open mem://NAME. o->create makes the store when absent and empties this
 * prefix's namespace when present (as the file store truncates); without it
 * a store that does not exist gives STORE_E_NOTFOUND. o->readonly refuses
 * later writes. On failure nothing is allocated or registered. */
static int mem_open(store_t *st, const char *url, const store_opts_t *o, void *mpi_comm)
{
    const char *name = url + strlen(MEM_SCHEME);
    if (!*name)
        return store_set_error(st, STORE_E_USAGE, "memory store URL '%s' has no name (use mem://NAME)", url);
    if (o->create && o->readonly)
        return store_set_error(st, STORE_E_USAGE, "cannot create %s read-only", url);
    mem_db_t *db = mem_db_find(name);
    if (!db && !o->create)
        return store_set_error(st, STORE_E_NOTFOUND,
                               "memory store %s does not exist in this process; make it with "
                               "finsim generate --store %s (or store_open with create)", url, url);
    if (!db) {
        db = xcalloc(1, sizeof(*db));
        db->name = xstrdup(name);
        db->next = mem_registry;
        mem_registry = db;
    }
    const char *prefix = o->key_prefix ? o->key_prefix : "";
    mem_ns_t *ns = mem_ns_get(db, prefix);
    if (o->create)
        mem_ns_clear(ns);
    mem_priv_t *p = xcalloc(1, sizeof(*p));
    p->db = db;
    p->ns = ns;
    db->refs++;
    snprintf(p->desc, sizeof(p->desc), "%s%s%s%s (in-process memory store)", url, *prefix ? " [prefix " : "",
             prefix, *prefix ? "]" : "");
    st->priv = p;
    return STORE_OK;
}

/* Release the handle; a dropped store is freed with its last handle. */
static void mem_close(store_t *st)
{
    mem_priv_t *p = st->priv;
    if (!p)
        return;
    if (--p->db->refs == 0 && p->db->dropped)
        mem_db_free(p->db);
    free(p);
    st->priv = NULL;
}

/* Copy trades ids[0..n) into out[]: FS_E_NOT_FOUND with the key named for
 * absent ids, else the trade_validate verdict. Cannot fail as a whole. */
static int mem_get_trades(store_t *st, const int64_t *ids, size_t n, trade_slot_t *out)
{
    mem_priv_t *p = st->priv;
    char key[TRADE_KEY_MAX];
    double t0 = fs_now();
    for (size_t i = 0; i < n; i++) {
        trade_slot_t *s = &out[i];
        size_t k;
        memset(&s->trade, 0, sizeof(s->trade));
        if (!mem_map_get(&p->ns->tidx, ids[i], &k)) {
            trade_key(key, sizeof(key), p->ns->prefix, ids[i]);
            s->trade.id = ids[i];
            s->status = FS_E_NOT_FOUND;
            snprintf(s->msg, sizeof(s->msg), "key %.80s not found in %.80s", key, st->url);
            continue;
        }
        s->trade = p->ns->trades[k];
        s->status = trade_validate(&s->trade, s->msg, sizeof(s->msg));
    }
    st->stats.parse_s += fs_now() - t0;
    st->stats.round_trips++;
    return STORE_OK;
}

/* Store copies of t[0..n), replacing trades with the same id. Fails, with
 * nothing written, on a read-only handle or an id of INT64_MIN. */
static int mem_put_trades(store_t *st, const trade_t *t, size_t n)
{
    mem_priv_t *p = st->priv;
    if (st->opts.readonly)
        return store_set_error(st, STORE_E_USAGE, "%s was opened read-only", st->url);
    mem_ns_t *ns = p->ns;
    for (size_t i = 0; i < n; i++)
        if (t[i].id == MEM_EMPTY)
            return store_set_error(st, STORE_E_USAGE, "trade id %lld cannot be stored", (long long)t[i].id);
    for (size_t i = 0; i < n; i++) {
        size_t k;
        if (mem_map_get(&ns->tidx, t[i].id, &k)) {
            ns->trades[k] = t[i];
            continue;
        }
        if (ns->ntrades == ns->trades_cap) {
            ns->trades_cap = ns->trades_cap ? ns->trades_cap * 2 : 256;
            ns->trades = xrealloc(ns->trades, ns->trades_cap * sizeof(*ns->trades));
        }
        ns->trades[ns->ntrades] = t[i];
        mem_map_put(&ns->tidx, t[i].id, ns->ntrades);
        ns->ntrades++;
    }
    st->stats.round_trips++;
    return STORE_OK;
}

/* Store copies of the results r[0..n), replacing earlier ones for the same
 * trade. Like the Redis mirror, a result needs no trade. Fails, with
 * nothing written, on a read-only handle or an id of INT64_MIN. */
static int mem_put_results(store_t *st, const result_t *r, size_t n)
{
    mem_priv_t *p = st->priv;
    if (st->opts.readonly)
        return store_set_error(st, STORE_E_USAGE, "%s was opened read-only", st->url);
    mem_ns_t *ns = p->ns;
    for (size_t i = 0; i < n; i++)
        if (r[i].trade_id == MEM_EMPTY)
            return store_set_error(st, STORE_E_USAGE, "trade id %lld cannot be stored", (long long)r[i].trade_id);
    for (size_t i = 0; i < n; i++) {
        size_t k;
        if (mem_map_get(&ns->ridx, r[i].trade_id, &k)) {
            ns->results[k] = r[i];
            continue;
        }
        if (ns->nresults == ns->results_cap) {
            ns->results_cap = ns->results_cap ? ns->results_cap * 2 : 256;
            ns->results = xrealloc(ns->results, ns->results_cap * sizeof(*ns->results));
        }
        ns->results[ns->nresults] = r[i];
        mem_map_put(&ns->ridx, r[i].trade_id, ns->nresults);
        ns->nresults++;
    }
    st->stats.round_trips++;
    return STORE_OK;
}

/* Copy the results of ids[0..n) into out[]; found[i] = 1 when one was put.
 * Absent ones get result_fail(id, FS_E_NOT_FOUND). Cannot fail. */
static int mem_get_results(store_t *st, const int64_t *ids, size_t n, result_t *out, int *found)
{
    mem_priv_t *p = st->priv;
    for (size_t i = 0; i < n; i++) {
        size_t k;
        found[i] = mem_map_get(&p->ns->ridx, ids[i], &k);
        if (found[i])
            out[i] = p->ns->results[k];
        else
            result_fail(&out[i], ids[i], FS_E_NOT_FOUND, 0);
    }
    st->stats.round_trips++;
    return STORE_OK;
}

/* qsort comparison of int64_t values, ascending. */
static int mem_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every trade id of this namespace, ascending, in a malloc'ed array the
 * caller frees (NULL-safe: *ids is a valid pointer even when *n is 0). */
static int mem_list_trades(store_t *st, int64_t **ids, size_t *n)
{
    mem_priv_t *p = st->priv;
    int64_t *v = xmalloc((p->ns->ntrades ? p->ns->ntrades : 1) * sizeof(*v));
    for (size_t i = 0; i < p->ns->ntrades; i++)
        v[i] = p->ns->trades[i].id;
    qsort(v, p->ns->ntrades, sizeof(*v), mem_cmp_i64);
    *ids = v;
    *n = p->ns->ntrades;
    return STORE_OK;
}

/* "mem://NAME [prefix P] (in-process memory store)". */
static const char *mem_describe(store_t *st)
{
    mem_priv_t *p = st->priv;
    return p ? p->desc : st->url;
}

const store_backend_t store_backend_memory = {
    .name = "memory",
    .accepts = mem_accepts,
    .open = mem_open,
    .close = mem_close,
    .reconnect = NULL,
    .get_trades = mem_get_trades,
    .put_trades = mem_put_trades,
    .put_results = mem_put_results,
    .get_results = mem_get_results,
    .list_trades = mem_list_trades,
    .describe = mem_describe,
};
