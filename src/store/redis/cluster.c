/* cluster.c - the Redis store on a Redis Cluster: slots, topology, routing, redirects.
 *
 * A store opened on a cluster node (INFO says cluster_enabled:1, unless the
 * URL says ?cluster=no) keeps its seed connection for topology reads and one
 * connection per master, made when first needed. Each of those is a store of
 * its own (a redis_priv_t with node = 1) that runs the single-node operations
 * of ops.c on the items routed to it: an operation over n trades is split by
 * the CRC16 hash slot of each item's key and the parts are pipelined to
 * all their masters at once: every master's first batches are written
 * before any reply is read, so the masters work in parallel, then the
 * replies are read master by master. A node sends one SET per key where a
 * single node takes MSET, since the keys of a batch lie in many slots.
 *
 * Redirects: an item answered with MOVED is sent again, after the topology
 * is read again (CLUSTER SLOTS), to the slot's new owner; an item answered
 * with ASK is sent to the node named, each command preceded by ASKING. A
 * node that cannot be reached (a master that died, a failover under way)
 * drops its connection, the topology is read again from any node that
 * answers, and its items are sent again (every command routed here is
 * idempotent), with backoff, for up to --store-retry seconds (or
 * opts.retries rounds without it); after that the error names the node.
 * See docs/REDIS-CLUSTER.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if FINSIM_HAVE_TLS
#include <openssl/ssl.h>
#endif

#include "redis.h"

#include "finsim/base/util.h"

#define RCL_SLOTS 16384
#define RCL_MAX_ROUNDS 64 /* redirect rounds of one operation before giving up */

/* One master: its address and its store (connection made when needed). */
typedef struct rcl_node {
    char host[256];
    int port;
    store_t st;        /* the node's store: be = redis_node_backend, priv a redis_priv_t */
} rcl_node_t;

typedef struct redis_cluster {
    rcl_node_t **nodes;        /* every node seen (masters of the topology, ASK targets) */
    size_t nnodes, cap;
    int slot_node[RCL_SLOTS];  /* index into nodes, -1: no owner known */
    /* scratch of one operation */
    int *route;                /* per item: node index */
    int *ask;                  /* per item: 1 when the next send carries ASKING */
    size_t route_cap;
    size_t *sel;               /* items of the node being served */
    size_t sel_cap;
    char *pending;             /* per item: 1 while not yet answered */
    size_t pend_cap;
    struct rcl_job *jobs;      /* the node parts of one round */
    size_t jobs_cap;
    size_t wire_max;           /* most masters with batches on the wire at once so far */
} redis_cluster_t;

/* ---- slots ----------------------------------------------------------------- */

/* CRC16-CCITT (XMODEM): polynomial 0x1021, initial 0, no reflection. */
uint16_t redis_crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint16_t)(unsigned char)buf[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

int redis_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open + 1 - key);
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return redis_crc16(open + 1, (size_t)(close - open - 1)) & (RCL_SLOTS - 1);
    }
    return redis_crc16(key, len) & (RCL_SLOTS - 1);
}

/* ---- nodes ----------------------------------------------------------------- */

/* The node at host:port, added (not connected) when new. */
static int rcl_node(store_t *st, redis_priv_t *p, const char *host, int port)
{
    redis_cluster_t *cl = p->cl;
    for (size_t i = 0; i < cl->nnodes; i++)
        if (cl->nodes[i]->port == port && strcmp(cl->nodes[i]->host, host) == 0)
            return (int)i;
    if (cl->nnodes == cl->cap) {
        cl->cap = cl->cap ? 2 * cl->cap : 8;
        cl->nodes = xrealloc(cl->nodes, cl->cap * sizeof(*cl->nodes));
    }
    rcl_node_t *nd = xcalloc(1, sizeof(*nd));
    snprintf(nd->host, sizeof(nd->host), "%s", host);
    nd->port = port;
    nd->st.be = &redis_node_backend;
    nd->st.opts = st->opts;
    nd->st.opts.retries = 0; /* the cluster layer retries, reading the topology again */
    nd->st.opts.retry_s = 0;
    redis_priv_t *np = xcalloc(1, sizeof(*np));
    np->transport = p->transport;
    snprintf(np->host, sizeof(np->host), "%s", host);
    np->port = port;
    np->db = p->db;
    np->db_given = p->db_given;
    snprintf(np->user, sizeof(np->user), "%s", p->user);
    snprintf(np->tls_name, sizeof(np->tls_name), "%s",
             st->opts.tls_sni && *st->opts.tls_sni ? st->opts.tls_sni : host);
#if FINSIM_HAVE_TLS
    if (p->ssl_ctx) {
        SSL_CTX_up_ref(p->ssl_ctx);
        np->ssl_ctx = p->ssl_ctx;
    }
#endif
    np->node = 1;
    np->cluster_mode = -1;
    nd->st.priv = np;
    redis_format_url(&nd->st, np);
    cl->nodes[cl->nnodes] = nd;
    return (int)cl->nnodes++;
}

/* Parse "host:port" (the address of a MOVED/ASK reply; IPv6 hosts hold ':'
 * too, the port follows the last one). Returns 0 or -1. */
static int rcl_split_addr(const char *addr, char *host, size_t cap, int *port)
{
    const char *c = strrchr(addr, ':');
    if (!c || c == addr || (size_t)(c - addr) >= cap)
        return -1;
    memcpy(host, addr, (size_t)(c - addr));
    host[c - addr] = 0;
    long v = strtol(c + 1, NULL, 10);
    if (v < 1 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

/* Read CLUSTER SLOTS on p's connection into the slot table. Returns 0 or a
 * STORE_E_* code (the caller tries another node). */
static int rcl_read_slots(store_t *st, redis_priv_t *p, redis_priv_t *via, const char *via_host)
{
    redis_cluster_t *cl = p->cl;
    const char *argv[2] = {"CLUSTER", "SLOTS"};
    redisReply *r = NULL;
    int rc = redis_call(st, via, 2, argv, "CLUSTER SLOTS", &r);
    if (rc != 0)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY) {
        rc = store_set_error(st, STORE_E_PROTOCOL, "CLUSTER SLOTS on %s: %.200s", st->url,
                             r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        return rc;
    }
    for (int s = 0; s < RCL_SLOTS; s++)
        cl->slot_node[s] = -1;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER || e->element[2]->type != REDIS_REPLY_ARRAY ||
            e->element[2]->elements < 2 || e->element[2]->element[0]->type != REDIS_REPLY_STRING ||
            e->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        long long lo = e->element[0]->integer, hi = e->element[1]->integer;
        const char *host = e->element[2]->element[0]->str;
        if (!host[0] || strcmp(host, "?") == 0) /* the node we asked, by its own address */
            host = via_host;
        int nd = rcl_node(st, p, host, (int)e->element[2]->element[1]->integer);
        for (long long s = lo < 0 ? 0 : lo; s <= hi && s < RCL_SLOTS; s++)
            cl->slot_node[s] = nd;
    }
    freeReplyObject(r);
    int uncovered = 0;
    for (int s = 0; s < RCL_SLOTS; s++)
        uncovered += cl->slot_node[s] < 0;
    if (uncovered)
        fs_debug("%s: %d hash slots have no master in CLUSTER SLOTS", st->url, uncovered);
    return 0;
}

/* Read the topology again: from the seed connection, else from any node
 * that answers. Returns 0 or the last STORE_E_* code. */
static int rcl_refresh(store_t *st, redis_priv_t *p)
{
    redis_cluster_t *cl = p->cl;
    int rc = redis_ensure(st, p);
    if (rc == 0 && (rc = rcl_read_slots(st, p, p, p->host)) == 0)
        return 0;
    for (size_t i = 0; i < cl->nnodes; i++) {
        rcl_node_t *nd = cl->nodes[i];
        redis_priv_t *np = nd->st.priv;
        if (redis_ensure(&nd->st, np) != 0)
            continue;
        if (rcl_read_slots(st, p, np, nd->host) == 0)
            return 0;
        redis_drop(np);
    }
    return rc ? rc : STORE_E_CONNECT;
}

int redis_cluster_seeds(store_t *st, redis_priv_t *p, int rc)
{
    const char *s = p->seeds;
    while (*s && (rc == STORE_E_CONNECT || rc == STORE_E_TIMEOUT)) {
        size_t l = strcspn(s, ",");
        char addr[300];
        snprintf(addr, sizeof(addr), "%.*s", (int)(l < 299 ? l : 299), s);
        s += l + (s[l] == ',');
        int port = REDIS_DEFAULT_PORT;
        char host[256];
        if (strchr(addr, ':') ? rcl_split_addr(addr, host, sizeof(host), &port) != 0
                              : snprintf(host, sizeof(host), "%s", addr) >= (int)sizeof(host))
            return store_set_error(st, STORE_E_USAGE, "redis URL: seed '%s' is not host:port", addr);
        fs_debug("%s: trying the next seed %s", st->url, addr);
        snprintf(p->host, sizeof(p->host), "%s", host);
        p->port = port;
        if (!(st->opts.tls_sni && *st->opts.tls_sni))
            snprintf(p->tls_name, sizeof(p->tls_name), "%s", host);
        redis_format_url(st, p);
        rc = redis_connect(st, p);
    }
    return rc;
}

int redis_cluster_open(store_t *st, redis_priv_t *p)
{
    if (p->cluster_mode < 0 || p->transport == REDIS_TRANSPORT_UNIX)
        return 0;
    const char *argv[2] = {"INFO", "cluster"};
    redisReply *r = NULL;
    int rc = redis_call(st, p, 2, argv, "INFO cluster", &r);
    if (rc != 0)
        return rc;
    int on = r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_enabled:1") != NULL;
    int refused = r->type == REDIS_REPLY_ERROR;
    freeReplyObject(r);
    if (!on) {
        if (p->cluster_mode > 0)
            return store_set_error(st, STORE_E_USAGE, "%s is not a Redis Cluster node (?cluster=yes)%s", st->url,
                                   refused ? " or the user may not run INFO" : "");
        return 0;
    }
    if (p->db_given && p->db != 0)
        return store_set_error(st, STORE_E_USAGE, "%s is a Redis Cluster node: a cluster has only db 0", st->url);
    p->cl = xcalloc(1, sizeof(*p->cl));
    if ((rc = rcl_refresh(st, p)) != 0)
        return rc;
    fs_debug("%s: Redis Cluster, %zu masters", st->url, p->cl->nnodes);
    return 0;
}

void redis_cluster_free(redis_priv_t *p)
{
    redis_cluster_t *cl = p->cl;
    if (!cl)
        return;
    if (cl->wire_max)
        fs_debug("Redis Cluster: up to %zu masters had batches on the wire at once", cl->wire_max);
    for (size_t i = 0; i < cl->nnodes; i++) {
        redis_close(&cl->nodes[i]->st);
        free(cl->nodes[i]);
    }
    free(cl->nodes);
    free(cl->route);
    free(cl->ask);
    free(cl->sel);
    free(cl->pending);
    free(cl->jobs);
    free(cl);
    p->cl = NULL;
}

int redis_redirected(redis_priv_t *p, const redisReply *r, size_t item)
{
    if (!p->node || r->type != REDIS_REPLY_ERROR)
        return 0;
    int ask = strncmp(r->str, "ASK ", 4) == 0;
    int later = strncmp(r->str, "CLUSTERDOWN", 11) == 0 || strncmp(r->str, "TRYAGAIN", 8) == 0;
    if (!ask && !later && strncmp(r->str, "MOVED ", 6) != 0)
        return 0;
    const char *addr = later ? r->str : strchr(r->str + (ask ? 4 : 6), ' '); /* " host:port" after the slot */
    if (!addr)
        return 0;
    if (!later)
        addr++;
    if (p->nredir == p->redir_cap) {
        p->redir_cap = p->redir_cap ? 2 * p->redir_cap : 64;
        p->redir = xrealloc(p->redir, p->redir_cap * sizeof(*p->redir));
    }
    redis_redir_t *d = &p->redir[p->nredir++];
    d->item = item;
    d->ask = later ? 2 : ask;
    snprintf(d->addr, sizeof(d->addr), "%s", addr);
    return 1;
}

/* ---- routing ---------------------------------------------------------------- */

/* What an operation routes: its kind and arguments. */
enum rcl_kind { RCL_GET_TRADES, RCL_PUT_TRADES, RCL_PUT_DOCS, RCL_PUT_RESULTS, RCL_GET_RESULTS };

typedef struct rcl_op {
    enum rcl_kind kind;
    size_t n;
    const int64_t *ids;    /* GET_TRADES, PUT_DOCS, GET_RESULTS */
    trade_slot_t *slots;   /* GET_TRADES out */
    const trade_t *trades; /* PUT_TRADES */
    const char *docs;      /* PUT_DOCS */
    const size_t *off;     /* PUT_DOCS */
    const result_t *res;   /* PUT_RESULTS */
    result_t *res_out;     /* GET_RESULTS out */
    int *found;            /* GET_RESULTS out */
} rcl_op_t;

/* The trade id of item i and whether its key is a result key. */
static int64_t rcl_item_id(const rcl_op_t *op, size_t i, int *result_key)
{
    *result_key = op->kind == RCL_PUT_RESULTS || op->kind == RCL_GET_RESULTS;
    switch (op->kind) {
    case RCL_PUT_TRADES:
        return op->trades[i].id;
    case RCL_PUT_RESULTS:
        return op->res[i].trade_id;
    default:
        return op->ids[i];
    }
}

/* The hash slot of item i's key. */
static int rcl_item_slot(const store_t *st, const rcl_op_t *op, size_t i)
{
    char key[TRADE_KEY_MAX];
    int res;
    int64_t id = rcl_item_id(op, i, &res);
    int kl = res ? trade_result_key(key, sizeof(key), st->opts.key_prefix, id)
                 : trade_key(key, sizeof(key), st->opts.key_prefix, id);
    return redis_key_slot(key, kl > 0 ? (size_t)kl : 0);
}

/* A new array of the elements base[sel[0..m)] (each size bytes); free it. */
static void *rcl_pick(const void *base, size_t size, const size_t *sel, size_t m)
{
    char *out = xmalloc((m ? m : 1) * size);
    for (size_t k = 0; k < m; k++)
        memcpy(out + k * size, (const char *)base + sel[k] * size, size);
    return out;
}

/* Run op's items sel[0..m) on node store ns: gather them into arrays of
 * their own, run the single-node operation, scatter the outputs. Redirects
 * come back in ns's priv (items index sel). Returns the node's code. */
static int rcl_run_node(store_t *ns, const rcl_op_t *op, const size_t *sel, size_t m)
{
    const store_backend_t *be = &redis_node_backend;
    int rc = 0;
    switch (op->kind) {
    case RCL_GET_TRADES:
    case RCL_GET_RESULTS:
    case RCL_PUT_DOCS: {
        int64_t *ids = rcl_pick(op->ids, sizeof(*ids), sel, m);
        if (op->kind == RCL_GET_TRADES) {
            trade_slot_t *out = xcalloc(m ? m : 1, sizeof(*out));
            rc = be->get_trades(ns, ids, m, out);
            for (size_t k = 0; k < m; k++)
                op->slots[sel[k]] = out[k];
            free(out);
        } else if (op->kind == RCL_GET_RESULTS) {
            result_t *out = xcalloc(m ? m : 1, sizeof(*out));
            int *found = xcalloc(m ? m : 1, sizeof(*found));
            rc = be->get_results(ns, ids, m, out, found);
            for (size_t k = 0; k < m; k++) {
                op->res_out[sel[k]] = out[k];
                op->found[sel[k]] = found[k];
            }
            free(out);
            free(found);
        } else {
            size_t *off = xmalloc((m + 1) * sizeof(*off)), len = 0;
            for (size_t k = 0; k < m; k++)
                len += op->off[sel[k] + 1] - op->off[sel[k]];
            char *docs = xmalloc(len ? len : 1);
            off[0] = 0;
            for (size_t k = 0; k < m; k++) {
                size_t l = op->off[sel[k] + 1] - op->off[sel[k]];
                memcpy(docs + off[k], op->docs + op->off[sel[k]], l);
                off[k + 1] = off[k] + l;
            }
            rc = be->put_trade_docs(ns, ids, docs, off, m);
            free(docs);
            free(off);
        }
        free(ids);
        break;
    }
    case RCL_PUT_TRADES: {
        trade_t *t = rcl_pick(op->trades, sizeof(*t), sel, m);
        rc = be->put_trades(ns, t, m);
        free(t);
        break;
    }
    case RCL_PUT_RESULTS: {
        result_t *r = rcl_pick(op->res, sizeof(*r), sel, m);
        rc = be->put_results(ns, r, m);
        free(r);
        break;
    }
    }
    return rc;
}

/* After a failed round: decide whether to try again (see redis_retry):
 * within --store-retry seconds of the first failure, or opts.retries
 * rounds without it. Sleeps the backoff. */
static int rcl_retry(store_t *st, redis_priv_t *p, int rc, int *attempt)
{
    if (rc != STORE_E_CONNECT && rc != STORE_E_TIMEOUT)
        return 0;
    return redis_retry(st, p, rc, attempt);
}

/* Make sure the scratch arrays hold n items. */
static void rcl_scratch(redis_cluster_t *cl, size_t n)
{
    if (n <= cl->route_cap)
        return;
    cl->route = xrealloc(cl->route, n * sizeof(*cl->route));
    cl->ask = xrealloc(cl->ask, n * sizeof(*cl->ask));
    cl->sel = xrealloc(cl->sel, n * sizeof(*cl->sel));
    cl->pending = xrealloc(cl->pending, n);
    cl->route_cap = cl->sel_cap = cl->pend_cap = n;
}

/* One master's part of a round: its items cl->sel[off..off+m) and its code. */
typedef struct rcl_job {
    int nd;
    size_t off, m;
    int rc;
} rcl_job_t;

/* The parts of one round, sent to all their masters before any reply is
 * read: each part's pipeline, once its first batches are written, starts
 * the next part (rcl_sent), and reads its own replies only when every later
 * part has run. A master that fails before it wrote anything (no
 * connection, a failed write) starts the next part as it returns. Each
 * master's replies are read on its own connection by its own pipeline, so
 * a failure on one leaves the others in step. */
typedef struct rcl_chain {
    store_t *st;
    const rcl_op_t *op;
    size_t next;    /* the part to start next */
    size_t njobs;
    int asking;     /* the parts carry ASKING */
    size_t wire;    /* masters whose batches are on the wire, replies not yet read */
} rcl_chain_t;

static void rcl_start(rcl_chain_t *ch);

/* A master's first batches are written: count it and start the next part. */
static void rcl_sent(void *arg)
{
    rcl_chain_t *ch = arg;
    redis_cluster_t *cl = ((redis_priv_t *)ch->st->priv)->cl;
    if (++ch->wire > cl->wire_max)
        cl->wire_max = ch->wire;
    rcl_start(ch);
}

/* Run the next part of the chain (and, from its pipeline, all later ones). */
static void rcl_start(rcl_chain_t *ch)
{
    if (ch->next == ch->njobs)
        return;
    store_t *st = ch->st;
    redis_cluster_t *cl = ((redis_priv_t *)st->priv)->cl;
    rcl_job_t *j = &cl->jobs[ch->next++];
    store_t *ns = &cl->nodes[j->nd]->st;
    redis_priv_t *np = ns->priv;
    np->nredir = 0;
    if (ch->asking) /* connect (and run the ACL probe) without ASKING in front */
        (void)redis_ensure(ns, np);
    np->asking = ch->asking;
    np->on_sent = rcl_sent;
    np->on_sent_arg = ch;
    int64_t trips = ns->stats.round_trips;
    double parse = ns->stats.parse_s;
    j->rc = rcl_run_node(ns, ch->op, cl->sel + j->off, j->m);
    np->asking = 0;
    st->stats.round_trips += ns->stats.round_trips - trips;
    st->stats.parse_s += ns->stats.parse_s - parse;
    if (np->on_sent) { /* nothing written: the later parts go on */
        np->on_sent = NULL;
        rcl_start(ch);
    } else {
        ch->wire--;
    }
}

/* Route op's items over the masters until every item is answered: each
 * round splits the pending items by node (by slot, or the ASK target),
 * pipelines every part to its master at once (rcl_start), then looks at
 * the outcome part by part; redirected items stay pending. Returns 0 or
 * STORE_E_* with st->errstr set (naming the node at fault). */
static int rcl_run(store_t *st, const rcl_op_t *op)
{
    redis_priv_t *p = st->priv;
    redis_cluster_t *cl = p->cl;
    size_t n = op->n;
    if (n == 0)
        return 0;
    rcl_scratch(cl, n);
    memset(cl->pending, 1, n);
    for (size_t i = 0; i < n; i++) {
        cl->route[i] = cl->slot_node[rcl_item_slot(st, op, i)];
        cl->ask[i] = 0;
    }
    int attempt = 0, rounds = 0;
    for (;;) {
        int moved = 0, failed = 0, rc = 0, bad_node = -1;
        size_t left = 0;
        for (size_t i = 0; i < n; i++)
            if (cl->pending[i] && cl->route[i] < 0)
                return store_set_error(st, STORE_E_PROTOCOL, "%s: hash slot %d of the cluster has no master",
                                       st->url, rcl_item_slot(st, op, i));
        /* a node that is both a slot owner and an ASK target gets two parts:
         * ASKING ones in a chain of their own, as one connection carries one
         * part at a time */
        for (int asking = 0; asking <= 1; asking++) {
            rcl_chain_t ch = {.st = st, .op = op, .asking = asking};
            size_t m = 0;
            if (cl->jobs_cap < cl->nnodes) { /* new nodes: the topology, an ASK target */
                cl->jobs_cap = cl->nnodes;
                cl->jobs = xrealloc(cl->jobs, cl->jobs_cap * sizeof(*cl->jobs));
            }
            for (size_t nd = 0; nd < cl->nnodes; nd++) {
                rcl_job_t *j = &cl->jobs[ch.njobs];
                j->nd = (int)nd;
                j->off = m;
                for (size_t i = 0; i < n; i++)
                    if (cl->pending[i] && cl->route[i] == (int)nd && cl->ask[i] == asking)
                        cl->sel[m++] = i;
                j->m = m - j->off;
                ch.njobs += j->m > 0;
            }
            rcl_start(&ch);
            for (size_t k = 0; k < ch.njobs; k++) {
                const rcl_job_t *j = &cl->jobs[k];
                const size_t *sel = cl->sel + j->off;
                store_t *ns = &cl->nodes[j->nd]->st;
                redis_priv_t *np = ns->priv;
                if (j->rc != 0) {
                    if (j->rc != STORE_E_CONNECT && j->rc != STORE_E_TIMEOUT)
                        return store_set_error(st, j->rc, "%s", ns->errstr);
                    redis_drop(np);
                    failed = 1;
                    rc = j->rc;
                    bad_node = j->nd;
                    store_set_error(st, j->rc, "cluster node %s: %.300s", ns->url, ns->errstr);
                    continue; /* its items stay pending */
                }
                for (size_t k2 = 0; k2 < j->m; k2++)
                    cl->pending[sel[k2]] = 0;
                for (size_t r = 0; r < np->nredir; r++) {
                    redis_redir_t *d = &np->redir[r];
                    size_t i = sel[d->item];
                    char host[256];
                    int port;
                    cl->pending[i] = 1;
                    if (d->ask == 2) { /* CLUSTERDOWN, TRYAGAIN: like a node out of reach */
                        cl->ask[i] = 0;
                        if (!failed)
                            store_set_error(st, STORE_E_CONNECT, "cluster node %s answered: %.200s", ns->url,
                                            d->addr);
                        failed = 1;
                        rc = STORE_E_CONNECT;
                        bad_node = j->nd;
                    } else if (d->ask && rcl_split_addr(d->addr, host, sizeof(host), &port) == 0) {
                        cl->route[i] = rcl_node(st, p, host, port);
                        cl->ask[i] = 1;
                    } else {
                        cl->ask[i] = 0;
                        moved = 1;
                    }
                }
            }
        }
        for (size_t i = 0; i < n; i++)
            left += cl->pending[i] != 0;
        if (left == 0) {
            redis_outage_end(st, p);
            return 0;
        }
        if (failed) {
            if (!rcl_retry(st, p, rc, &attempt)) {
                if (bad_node >= 0 && !strstr(st->errstr, "cluster node"))
                    store_set_error(st, rc, "cluster node %s unreachable", cl->nodes[bad_node]->st.url);
                return rc;
            }
        } else if (++rounds > RCL_MAX_ROUNDS) {
            return store_set_error(st, STORE_E_PROTOCOL, "%s: still redirected after %d rounds", st->url,
                                   RCL_MAX_ROUNDS);
        } else if (!moved && rounds > 2) {
            redis_sleep(redis_backoff(rounds < 6 ? rounds - 3 : 3)); /* ASK again: let the migration move on */
        }
        if (failed || moved) /* a failover or a new owner: read the topology again */
            if (rcl_refresh(st, p) != 0)
                fs_debug("%s: topology not read (%s); retrying", st->url, st->errstr);
        for (size_t i = 0; i < n; i++)
            if (cl->pending[i] && (!cl->ask[i] || failed)) {
                cl->ask[i] = 0;
                cl->route[i] = cl->slot_node[rcl_item_slot(st, op, i)];
            }
    }
}

/* ---- the backend ------------------------------------------------------------ */

static int rcl_get_trades(store_t *st, const int64_t *ids, size_t n, trade_slot_t *out)
{
    redis_priv_t *p = st->priv;
    if (!p->cl)
        return redis_node_backend.get_trades(st, ids, n, out);
    rcl_op_t op = {.kind = RCL_GET_TRADES, .n = n, .ids = ids, .slots = out};
    int rc = rcl_run(st, &op);
    if (rc != 0)
        for (size_t i = 0; i < n; i++)
            if (p->cl->pending[i]) {
                memset(&out[i].trade, 0, sizeof(out[i].trade));
                out[i].trade.id = ids[i];
                out[i].status = FS_E_STORE;
                fs_seterr(out[i].msg, sizeof(out[i].msg), "%s", st->errstr);
            }
    return rc;
}

static int rcl_put_trades(store_t *st, const trade_t *t, size_t n)
{
    redis_priv_t *p = st->priv;
    if (!p->cl)
        return redis_node_backend.put_trades(st, t, n);
    rcl_op_t op = {.kind = RCL_PUT_TRADES, .n = n, .trades = t};
    return rcl_run(st, &op);
}

static int rcl_put_trade_docs(store_t *st, const int64_t *ids, const char *docs, const size_t *off, size_t n)
{
    redis_priv_t *p = st->priv;
    if (!p->cl)
        return redis_node_backend.put_trade_docs(st, ids, docs, off, n);
    rcl_op_t op = {.kind = RCL_PUT_DOCS, .n = n, .ids = ids, .docs = docs, .off = off};
    return rcl_run(st, &op);
}

static int rcl_put_results(store_t *st, const result_t *r, size_t n)
{
    redis_priv_t *p = st->priv;
    if (!p->cl)
        return redis_node_backend.put_results(st, r, n);
    rcl_op_t op = {.kind = RCL_PUT_RESULTS, .n = n, .res = r};
    return rcl_run(st, &op);
}

static int rcl_get_results(store_t *st, const int64_t *ids, size_t n, result_t *out, int *found)
{
    redis_priv_t *p = st->priv;
    if (!p->cl)
        return redis_node_backend.get_results(st, ids, n, out, found);
    rcl_op_t op = {.kind = RCL_GET_RESULTS, .n = n, .ids = ids, .res_out = out, .found = found};
    int rc = rcl_run(st, &op);
    if (rc != 0)
        for (size_t i = 0; i < n; i++)
            if (p->cl->pending[i]) {
                found[i] = 0;
                result_fail(&out[i], ids[i], FS_E_STORE, -1);
            }
    return rc;
}

/* A ranking is one key: its transaction goes to the key's master; MOVED or
 * ASK (the whole transaction answered so) and lost connections read the
 * topology again and send it again. */
static int rcl_put_ranking(store_t *st, const char *name, const int64_t *ids, const double *scores, size_t n)
{
    redis_priv_t *p = st->priv;
    if (!p->cl)
        return redis_node_backend.put_ranking(st, name, ids, scores, n);
    char key[512];
    int kl = snprintf(key, sizeof(key), "%s%s", st->opts.key_prefix ? st->opts.key_prefix : "", name);
    int slot = redis_key_slot(key, kl > 0 && (size_t)kl < sizeof(key) ? (size_t)kl : strlen(key));
    int attempt = 0;
    for (int round = 0;; round++) {
        int nd = p->cl->slot_node[slot];
        if (nd < 0)
            return store_set_error(st, STORE_E_PROTOCOL, "%s: hash slot %d of the cluster has no master", st->url,
                                   slot);
        store_t *ns = &p->cl->nodes[nd]->st;
        int rc = redis_node_backend.put_ranking(ns, name, ids, scores, n);
        if (rc == 0) {
            redis_outage_end(st, p);
            return 0;
        }
        int redirected = strstr(ns->errstr, "MOVED ") || strstr(ns->errstr, "ASK ");
        store_set_error(st, rc, "cluster node %s: %s", ns->url, ns->errstr);
        if (redirected && round < RCL_MAX_ROUNDS)
            redis_sleep(redis_backoff(round < 4 ? round : 4) / 10);
        else if (!rcl_retry(st, p, rc, &attempt))
            return rc;
        redis_drop(ns->priv);
        rcl_refresh(st, p);
    }
}

/* The key a raw command acts on: after STREAMS for XREAD/XREADGROUP (the
 * first stream: a worker reads one stream at a time), the third word for
 * XGROUP/XINFO (a subcommand comes first), else the second. -1: none. */
static int rcl_command_key(int argc, const char **argv)
{
    if (argc < 2)
        return -1;
    if (!strcasecmp(argv[0], "XREAD") || !strcasecmp(argv[0], "XREADGROUP")) {
        for (int i = 1; i + 1 < argc; i++)
            if (!strcasecmp(argv[i], "STREAMS"))
                return i + 1;
        return -1;
    }
    if (!strcasecmp(argv[0], "XGROUP") || !strcasecmp(argv[0], "XINFO"))
        return argc > 2 ? 2 : -1;
    return 1;
}

/* One raw command (the request service's streams) goes to the master of its
 * key's slot; a MOVED or ASK answer (a slot that moved) reads the topology
 * again and sends it again, and lost connections are retried like every
 * other operation. A command without a key goes to the seed node. */
static int rcl_command(store_t *st, int argc, const char **argv, const size_t *lens, store_reply_t **out)
{
    redis_priv_t *p = st->priv;
    int k = p->cl ? rcl_command_key(argc, argv) : -1;
    if (k < 0)
        return redis_command(st, argc, argv, lens, out);
    int slot = redis_key_slot(argv[k], lens ? lens[k] : strlen(argv[k]));
    int attempt = 0;
    for (int round = 0;; round++) {
        int nd = p->cl->slot_node[slot];
        if (nd < 0)
            return store_set_error(st, STORE_E_PROTOCOL, "%s: hash slot %d of the cluster has no master", st->url,
                                   slot);
        store_t *ns = &p->cl->nodes[nd]->st;
        store_reply_t *r = NULL;
        int rc = redis_command(ns, argc, argv, lens, &r);
        int redirected = rc == 0 && r->type == STORE_REPLY_ERROR &&
                         (!strncmp(r->str, "MOVED ", 6) || !strncmp(r->str, "ASK ", 4));
        if (rc == 0 && !redirected) {
            redis_outage_end(st, p);
            *out = r;
            return 0;
        }
        if (redirected) {
            store_set_error(st, STORE_E_PROTOCOL, "cluster node %s: %s", ns->url, r->str);
            store_reply_free(r);
            if (round >= RCL_MAX_ROUNDS)
                return STORE_E_PROTOCOL;
            redis_sleep(redis_backoff(round < 4 ? round : 4) / 10);
        } else {
            store_set_error(st, rc, "cluster node %s: %s", ns->url, ns->errstr);
            if (!rcl_retry(st, p, rc, &attempt))
                return rc;
            redis_drop(ns->priv);
        }
        rcl_refresh(st, p);
    }
}

/* Ascending order for qsort. */
static int rcl_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Every trade id on every master, ascending, without duplicates. */
static int rcl_list_trades(store_t *st, int64_t **ids, size_t *n)
{
    redis_priv_t *p = st->priv;
    if (!p->cl)
        return redis_node_backend.list_trades(st, ids, n);
    redis_cluster_t *cl = p->cl;
    int64_t *all = NULL;
    size_t na = 0;
    int attempt = 0;
    *ids = NULL;
    *n = 0;
    for (;;) {
        int rc = 0;
        na = 0;
        free(all);
        all = NULL;
        for (size_t nd = 0; nd < cl->nnodes && rc == 0; nd++) {
            int master = 0;
            for (int s = 0; s < RCL_SLOTS && !master; s++)
                master = cl->slot_node[s] == (int)nd;
            if (!master)
                continue;
            store_t *ns = &cl->nodes[nd]->st;
            int64_t *part = NULL;
            size_t np = 0;
            rc = redis_node_backend.list_trades(ns, &part, &np);
            if (rc != 0) {
                store_set_error(st, rc, "cluster node %s: %s", ns->url, ns->errstr);
                redis_drop(ns->priv);
                break;
            }
            all = xrealloc(all, (na + np + 1) * sizeof(*all));
            memcpy(all + na, part, np * sizeof(*part));
            na += np;
            free(part);
        }
        if (rc == 0)
            break;
        if (!rcl_retry(st, p, rc, &attempt)) {
            free(all);
            return rc;
        }
        rcl_refresh(st, p);
    }
    redis_outage_end(st, p);
    /* masters hold disjoint keys: sort the union (duplicates only if a
     * slot moved during the scan) */
    if (na > 1) {
        qsort(all, na, sizeof(*all), rcl_cmp_i64);
        size_t u = 1;
        for (size_t i = 1; i < na; i++)
            if (all[i] != all[u - 1])
                all[u++] = all[i];
        na = u;
    }
    *ids = all;
    *n = na;
    return 0;
}

const store_backend_t store_backend_redis = {
    .name = "redis",
    .accepts = redis_accepts,
    .open = redis_open,
    .close = redis_close,
    .reconnect = redis_reconnect,
    .get_trades = rcl_get_trades,
    .prefetch_trades = redis_prefetch_trades, /* one node only: it declines in a cluster */
    .put_trades = rcl_put_trades,
    .put_trade_docs = rcl_put_trade_docs,
    .put_ranking = rcl_put_ranking,
    .put_results = rcl_put_results,
    .get_results = rcl_get_results,
    .list_trades = rcl_list_trades,
    .command = rcl_command,
    .describe = redis_describe,
};
