/* cmd_serve.c - finsim serve: real-time pricing over Redis Streams (a
 * consumer group of workers, priority streams, claims of requests left by
 * dead workers, dead letters), finsim serve --status, and finsim request,
 * the client of one request. The design is in docs/SERVE.md. */
#define _GNU_SOURCE
#include "finsim/cmd/cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "finsim/base/options.h"
#include "finsim/base/stop.h"
#include "finsim/base/util.h"
#include "finsim/cmd/settings.h"
#include "finsim/job/job.h"
#include "finsim/pricing/mc.h"
#include "finsim/store/store.h"
#include "finsim/trade/result.h"
#include "finsim/trade/trade.h"

#define SERVE_MAX_STREAMS 16
#define SERVE_KEY_MAX (TRADE_KEY_PREFIX_MAX + 256)
#define SERVE_BLOCK_MS 500 /* longest blocking read: how soon a signal or --idle-exit is seen when idle */
#define SERVE_ERR_MAX 400

/* Milliseconds since the epoch (the clock of stream ids). */
static int64_t serve_epoch_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- commands --------------------------------------------------------------- */

/* An argument list for store_command. */
typedef struct serve_args {
    const char *v[64];
    size_t len[64];
    char num[16][32]; /* numbers formatted for v */
    int n, nnum;
} serve_args_t;

static void args_add(serve_args_t *a, const char *s)
{
    if (a->n < 64) {
        a->v[a->n] = s;
        a->len[a->n++] = strlen(s);
    }
}

static void args_num(serve_args_t *a, long long x)
{
    if (a->nnum < 16) {
        snprintf(a->num[a->nnum], sizeof(a->num[0]), "%lld", x);
        args_add(a, a->num[a->nnum++]);
    }
}

/* Run a's command. Returns its reply, or NULL with the failure logged
 * (what: the step) and *rc set to the STORE_E_* code; an error reply is
 * returned as is. */
static store_reply_t *serve_cmd(store_t *st, serve_args_t *a, int *rc)
{
    store_reply_t *r = NULL;
    *rc = store_command(st, a->n, a->v, a->len, &r);
    return *rc ? NULL : r;
}

/* Is r an error reply? Logs it with what. */
static int reply_failed(const store_reply_t *r, const char *what)
{
    if (r && r->type == STORE_REPLY_ERROR) {
        fs_error("serve: %s: %s", what, r->str);
        return 1;
    }
    return 0;
}

/* The exit code for an error reply: a missing ACL rule is a credential problem. */
static int reply_exit(const store_reply_t *r)
{
    return r && r->str && (!strncmp(r->str, "NOPERM", 6) || !strncmp(r->str, "NOAUTH", 6)) ? FS_EXIT_AUTH
                                                                                            : FS_EXIT_STORE;
}

/* ---- the worker ---------------------------------------------------------------- */

/* One request as read from a stream. */
typedef struct serve_msg {
    int stream;            /* index in the worker's streams */
    char id[64];           /* stream entry id */
    store_reply_t *fields; /* [name, value, ...] (owned) */
    int64_t deliveries;    /* delivery count, this one included */
} serve_msg_t;

typedef struct serve {
    serve_cfg_t *c;
    store_t *st;
    mc_opts_t defaults;                       /* the pricing of finsim run without options */
    char consumer[256];
    char prefix[TRADE_KEY_PREFIX_MAX + 1];
    int nstreams;
    int split_block;  /* 1: the streams lie in several cluster slots: block on one at a time */
    int block_turn;   /* with split_block: the stream of the next blocking read */
    char streams[SERVE_MAX_STREAMS][SERVE_KEY_MAX]; /* prefixed keys, highest priority first */
    char replies[SERVE_KEY_MAX];              /* default reply stream */
    char dead[SERVE_KEY_MAX];                 /* dead letters */
    int rank;
    mc_work_t *work;
    serve_msg_t queue[SERVE_MAX_STREAMS];     /* read but not yet handled, in priority order */
    int nqueue;
    double last_claim;                        /* fs_now() of the last XAUTOCLAIM round */
    /* statistics of the current --log-every window */
    double *lat;
    size_t nlat, caplat;
    double window_t0;
    int64_t served, failed, dead_n;
    FILE *events;
    int fatal;                                /* exit code of a store failure, 0: none */
} serve_t;

/* The value of field name in a request, or NULL. */
static const char *msg_field(const serve_msg_t *m, const char *name)
{
    const store_reply_t *f = m->fields;
    for (size_t i = 0; f && i + 1 < f->elements; i += 2)
        if (f->element[i]->str && f->element[i + 1]->str && !strcmp(f->element[i]->str, name))
            return f->element[i + 1]->str;
    return NULL;
}

/* Split --streams into prefixed keys. Returns 0 or -1 (message printed). */
static int serve_keys(serve_t *s)
{
    const char *p = s->c->streams;
    s->nstreams = 0;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || n > 200 || s->nstreams == SERVE_MAX_STREAMS)
            return fs_error("serve: --streams takes 1 to %d comma-separated names of 1 to 200 bytes",
                            SERVE_MAX_STREAMS), -1;
        snprintf(s->streams[s->nstreams++], SERVE_KEY_MAX, "%s%.*s", s->prefix, (int)n, p);
        p += n + (e != NULL);
    }
    if (s->nstreams == 0)
        return fs_error("serve: --streams names no stream"), -1;
    snprintf(s->replies, sizeof(s->replies), "%sfinsim:replies", s->prefix);
    snprintf(s->dead, sizeof(s->dead), "%sfinsim:requests:dead", s->prefix);
    return 0;
}

/* XGROUP CREATE on every stream (MKSTREAM; an existing group is fine).
 * Returns 0 or an exit code. */
static int serve_groups(serve_t *s)
{
    for (int i = 0; i < s->nstreams; i++) {
        serve_args_t a = {0};
        int rc;
        args_add(&a, "XGROUP"), args_add(&a, "CREATE"), args_add(&a, s->streams[i]);
        args_add(&a, s->c->group), args_add(&a, "0"), args_add(&a, "MKSTREAM");
        store_reply_t *r = serve_cmd(s->st, &a, &rc);
        if (!r)
            return fs_error("serve: %s", store_errstr(s->st)), fs_exit_for_store_err(rc);
        int bad = r->type == STORE_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0;
        int code = bad ? reply_exit(r) : 0;
        if (bad)
            reply_failed(r, "creating the consumer group");
        store_reply_free(r);
        if (code)
            return code;
        /* the consumer shows in --status from the start, not only after its
         * first request (Redis >= 6.2; older servers make it on the first read) */
        serve_args_t b = {0};
        args_add(&b, "XGROUP"), args_add(&b, "CREATECONSUMER"), args_add(&b, s->streams[i]);
        args_add(&b, s->c->group), args_add(&b, s->consumer);
        store_reply_free(serve_cmd(s->st, &b, &rc));
    }
    return 0;
}

/* Take the entries of one stream's reply e = [key, [[id, fields], ...]]
 * into the queue (deliveries: 1, fresh reads). */
static void serve_take(serve_t *s, int stream, store_reply_t *entries)
{
    for (size_t k = 0; entries && k < entries->elements && s->nqueue < SERVE_MAX_STREAMS; k++) {
        store_reply_t *en = entries->element[k];
        /* an entry deleted from the stream comes back without fields */
        if (en->type != STORE_REPLY_ARRAY || en->elements < 2 || !en->element[0]->str ||
            en->element[1]->type != STORE_REPLY_ARRAY)
            continue;
        serve_msg_t *m = &s->queue[s->nqueue++];
        memset(m, 0, sizeof(*m));
        m->stream = stream;
        snprintf(m->id, sizeof(m->id), "%s", en->element[0]->str);
        m->fields = en->element[1];
        en->element[1] = NULL;
        en->elements = 1; /* fields moved out */
        m->deliveries = 1;
    }
}

/* A store failure in the loop: log it, reconnect. Returns 0 when the store
 * is back, else sets s->fatal. */
static int serve_store_failed(serve_t *s, int rc, const char *what)
{
    fs_warn("serve: %s: %s", what, store_errstr(s->st));
    if (store_reconnect(s->st) == STORE_OK)
        return 0;
    fs_error("serve: %s", store_errstr(s->st));
    s->fatal = fs_exit_for_store_err(rc);
    return -1;
}

/* Run a's command in the worker loop (what: the step, for messages). Returns
 * the reply, or NULL after a store failure (reconnected, or s->fatal set)
 * or an error reply (logged; s->fatal set). */
static store_reply_t *serve_loop_cmd(serve_t *s, serve_args_t *a, const char *what)
{
    int rc;
    store_reply_t *r = serve_cmd(s->st, a, &rc);
    if (!r) {
        serve_store_failed(s, rc, what);
        return NULL;
    }
    if (r->type == STORE_REPLY_ERROR && r->str && !strncmp(r->str, "CROSSSLOT", 9) && s->nstreams > 1 &&
        !s->split_block) {
        /* a Redis Cluster whose masters share the streams out: no one
         * read can span them, so each blocking read takes one in turn */
        s->split_block = 1;
        fs_info("serve %s: the request streams hash to different Redis Cluster slots: blocking reads take one "
                "stream at a time (give the streams one {hash tag} to read them together)",
                s->consumer);
        store_reply_free(r);
        return NULL;
    }
    if (reply_failed(r, what)) {
        s->fatal = reply_exit(r);
        store_reply_free(r);
        return NULL;
    }
    return r;
}

/* The delivery count of entry id of stream i (XPENDING), 1 when unknown. */
static int64_t serve_deliveries(serve_t *s, int i, const char *id)
{
    serve_args_t a = {0};
    int rc;
    args_add(&a, "XPENDING"), args_add(&a, s->streams[i]), args_add(&a, s->c->group);
    args_add(&a, id), args_add(&a, id), args_add(&a, "1");
    store_reply_t *r = serve_cmd(s->st, &a, &rc);
    int64_t n = 1;
    if (r && r->type == STORE_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements >= 4)
        n = r->element[0]->element[3]->integer;
    store_reply_free(r);
    return n;
}

/* XAUTOCLAIM one request idle for --claim-idle, highest priority first.
 * Returns 1 when one was queued, 0 when none, -1 on a store failure. */
static int serve_claim(serve_t *s)
{
    for (int i = 0; i < s->nstreams; i++) {
        serve_args_t a = {0};
        args_add(&a, "XAUTOCLAIM"), args_add(&a, s->streams[i]), args_add(&a, s->c->group);
        args_add(&a, s->consumer), args_num(&a, s->c->claim_idle_ms), args_add(&a, "0-0");
        args_add(&a, "COUNT"), args_add(&a, "1");
        store_reply_t *r = serve_loop_cmd(s, &a, "claiming requests");
        if (!r)
            return -1;
        int got = 0;
        if (r->type == STORE_REPLY_ARRAY && r->elements >= 2) {
            store_reply_t *en = r->element[1];
            int before = s->nqueue;
            serve_take(s, i, en);
            for (int q = before; q < s->nqueue; q++) {
                s->queue[q].deliveries = serve_deliveries(s, i, s->queue[q].id);
                fs_info("serve: claimed request %s of %s (delivery %" PRId64 ")", s->queue[q].id, s->streams[i],
                        s->queue[q].deliveries);
            }
            got = s->nqueue > before;
        }
        store_reply_free(r);
        if (got)
            return 1;
    }
    return 0;
}

/* XREADGROUP of new requests: each stream in priority order without
 * blocking; when all are empty, one blocking read of all of them (block_ms).
 * Returns the number queued, or -1 on a store failure. */
static int serve_read(serve_t *s, int64_t block_ms)
{
    for (int i = 0; i <= s->nstreams; i++) {
        const int blocking = i == s->nstreams;
        int first = blocking ? 0 : i, last = blocking ? s->nstreams : i + 1;
        if (blocking && s->split_block) {
            first = s->block_turn, last = first + 1;
            s->block_turn = (s->block_turn + 1) % s->nstreams;
            block_ms = block_ms / s->nstreams > 0 ? block_ms / s->nstreams : 1;
        }
        serve_args_t a = {0};
        args_add(&a, "XREADGROUP"), args_add(&a, "GROUP"), args_add(&a, s->c->group), args_add(&a, s->consumer);
        args_add(&a, "COUNT"), args_add(&a, "1");
        if (blocking)
            args_add(&a, "BLOCK"), args_num(&a, block_ms);
        args_add(&a, "STREAMS");
        for (int k = first; k < last; k++)
            args_add(&a, s->streams[k]);
        for (int k = first; k < last; k++)
            args_add(&a, ">");
        store_reply_t *r = serve_loop_cmd(s, &a, "reading requests");
        if (!r)
            return -1;
        /* [[key, entries], ...]: queued in the order of --streams */
        for (int k = first; k < last && r->type == STORE_REPLY_ARRAY; k++)
            for (size_t e = 0; e < r->elements; e++) {
                store_reply_t *kv = r->element[e];
                if (kv->elements == 2 && kv->element[0]->str && !strcmp(kv->element[0]->str, s->streams[k]))
                    serve_take(s, k, kv->element[1]);
            }
        store_reply_free(r);
        if (s->nqueue)
            return s->nqueue;
    }
    return 0;
}

/* XADD to key the pairs of a. Returns 0 or -1 (logged, s->fatal set when
 * the store is gone). */
static int serve_xadd(serve_t *s, serve_args_t *a, const char *what)
{
    int rc;
    store_reply_t *r = serve_cmd(s->st, a, &rc);
    if (!r)
        return serve_store_failed(s, rc, what), -1;
    int bad = reply_failed(r, what);
    if (bad && reply_exit(r) == FS_EXIT_AUTH)
        s->fatal = FS_EXIT_AUTH; /* a missing ACL rule does not heal: stop */
    store_reply_free(r);
    return bad ? -1 : 0;
}

/* XACK the request m. Returns 0 or -1. */
static int serve_ack(serve_t *s, const serve_msg_t *m)
{
    serve_args_t a = {0};
    args_add(&a, "XACK"), args_add(&a, s->streams[m->stream]), args_add(&a, s->c->group), args_add(&a, m->id);
    return serve_xadd(s, &a, "acknowledging a request");
}

/* The reply stream of m (prefixed): its reply field, else finsim:replies. */
static void serve_reply_key(const serve_t *s, const serve_msg_t *m, char *key, size_t cap)
{
    const char *r = msg_field(m, "reply");
    if (r && *r && strlen(r) <= 200)
        snprintf(key, cap, "%s%s", s->prefix, r);
    else
        snprintf(key, cap, "%s", s->replies);
}

/* Milliseconds from the request's stream id to now. */
static int64_t serve_latency(const serve_msg_t *m)
{
    int64_t t = strtoll(m->id, NULL, 10);
    int64_t d = serve_epoch_ms() - t;
    return d < 0 ? 0 : d;
}

/* Write the answer for m: the figures of r, and error when r failed.
 * Returns 0 or -1. */
static int serve_answer(serve_t *s, const serve_msg_t *m, const result_t *r, const char *error)
{
    char key[SERVE_KEY_MAX], f[6][40], tid[32], lat[32];
    serve_reply_key(s, m, key, sizeof(key));
    serve_args_t a = {0};
    const char *rid = msg_field(m, "id");
    const char *trade = msg_field(m, "trade");
    args_add(&a, "XADD"), args_add(&a, key), args_add(&a, "*");
    args_add(&a, "id"), args_add(&a, rid ? rid : "");
    args_add(&a, "trade");
    if (r->trade_id >= 0)
        snprintf(tid, sizeof(tid), "%" PRId64, r->trade_id), args_add(&a, tid);
    else
        args_add(&a, trade ? trade : "");
    args_add(&a, "status"), args_num(&a, r->status);
    const double x[6] = {r->pv, r->pv_stderr, r->delta, r->delta_stderr, r->vega, r->vega_stderr};
    static const char *const names[6] = {"pv", "pv_stderr", "delta", "delta_stderr", "vega", "vega_stderr"};
    for (int i = 0; i < 6; i++)
        args_add(&a, names[i]), args_add(&a, result_fmt_num(x[i], f[i], sizeof(f[i])));
    args_add(&a, "paths"), args_num(&a, r->paths);
    args_add(&a, "worker"), args_add(&a, s->consumer);
    snprintf(lat, sizeof(lat), "%" PRId64, serve_latency(m));
    args_add(&a, "latency_ms"), args_add(&a, lat);
    if (error)
        args_add(&a, "error"), args_add(&a, error);
    return serve_xadd(s, &a, "writing an answer");
}

/* Record a latency for the statistics. */
static void serve_note(serve_t *s, const serve_msg_t *m)
{
    if (s->nlat == s->caplat) {
        s->caplat = s->caplat ? 2 * s->caplat : 1024;
        s->lat = xrealloc(s->lat, s->caplat * sizeof(*s->lat));
    }
    s->lat[s->nlat++] = (double)serve_latency(m);
}

/* m could not be priced (why). Before its last delivery it stays pending
 * (claimed again after --claim-idle); at the last one it goes to the dead
 * letters with why, its client gets an answer with status and error, and
 * it is acknowledged. Returns 0 or -1 on a store failure. */
static int serve_undeliverable(serve_t *s, const serve_msg_t *m, int status, const char *why)
{
    if (m->deliveries < s->c->max_deliveries) {
        fs_warn("serve: request %s of %s (delivery %" PRId64 " of %d): %s; left pending for a retry", m->id,
                s->streams[m->stream], m->deliveries, s->c->max_deliveries, why);
        return 0;
    }
    serve_args_t a = {0};
    char n[32];
    args_add(&a, "XADD"), args_add(&a, s->dead), args_add(&a, "*");
    args_add(&a, "stream"), args_add(&a, s->streams[m->stream]);
    args_add(&a, "entry"), args_add(&a, m->id);
    snprintf(n, sizeof(n), "%" PRId64, m->deliveries);
    args_add(&a, "deliveries"), args_add(&a, n);
    args_add(&a, "error"), args_add(&a, why);
    const store_reply_t *f = m->fields;
    for (size_t i = 0; f && i + 1 < f->elements && a.n + 2 <= 64; i += 2)
        if (f->element[i]->str && f->element[i + 1]->str)
            args_add(&a, f->element[i]->str), args_add(&a, f->element[i + 1]->str);
    if (serve_xadd(s, &a, "writing a dead letter"))
        return -1;
    result_t r;
    result_fail(&r, -1, status, s->rank);
    const char *trade = msg_field(m, "trade");
    int64_t id;
    if (trade && fs_parse_i64(trade, &id) == 0 && id >= 0 && id <= TRADE_MAX_ID)
        r.trade_id = id;
    /* the dead letter holds it now: acknowledged even when its client's
     * reply stream refuses the answer (a key of another type), or it would
     * come back forever */
    if ((serve_answer(s, m, &r, why) && s->fatal) || serve_ack(s, m))
        return -1;
    fs_error("serve: request %s of %s went to %s after %" PRId64 " deliveries: %s", m->id, s->streams[m->stream],
             s->dead, m->deliveries, why);
    s->dead_n++;
    return 0;
}

/* The pricing options of request m over the defaults. Returns 0, or -1
 * with the reason in err. */
static int serve_request_opts(const serve_t *s, const serve_msg_t *m, mc_opts_t *o, int64_t *trade, char *err,
                              size_t errlen)
{
    *o = s->defaults;
    const char *t = msg_field(m, "trade"), *al = msg_field(m, "algorithm");
    const char *p = msg_field(m, "paths"), *sd = msg_field(m, "seed");
    if (!t)
        return fs_seterr(err, errlen, "the request has no trade field");
    if (fs_parse_i64(t, trade) || *trade < 0 || *trade > TRADE_MAX_ID)
        return fs_seterr(err, errlen, "trade '%.40s' is not a trade id (0..%lld)", t, (long long)TRADE_MAX_ID);
    if (al) {
        int x = mc_algo_parse(al);
        if (x != MC_PVONLY && x != MC_DELTAVEGA)
            return fs_seterr(err, errlen, "algorithm '%.40s' is not pvonly or deltavega", al);
        o->algo = (mc_algo_t)x;
    }
    int64_t v;
    if (p) {
        if (fs_parse_i64(p, &v) || v < 1 || v > TRADE_MAX_TRIALS)
            return fs_seterr(err, errlen, "paths '%.40s' is not a number of paths (1..%lld)", p,
                             (long long)TRADE_MAX_TRIALS);
        o->paths = v;
    }
    if (sd) {
        if (fs_parse_i64(sd, &v) || v < 0)
            return fs_seterr(err, errlen, "seed '%.40s' is not a seed (0..%lld)", sd, (long long)INT64_MAX);
        o->seed = (uint64_t)v;
    }
    return 0;
}

/* Handle one request: price, mirror, answer, acknowledge. Returns 0 or -1
 * when the store failed (s->fatal may be set). */
static int serve_one(serve_t *s, serve_msg_t *m)
{
    char why[SERVE_ERR_MAX];
    if (m->deliveries > s->c->max_deliveries)
        return snprintf(why, sizeof(why), "delivered %" PRId64 " times and never answered (a worker died on it, or the answer could not be written)",
                        m->deliveries - 1),
               serve_undeliverable(s, m, FS_E_STORE, why);
    mc_opts_t o;
    int64_t id;
    if (serve_request_opts(s, m, &o, &id, why, sizeof(why)))
        return serve_undeliverable(s, m, FS_E_PARSE, why);
    trade_slot_t slot;
    int rc = store_get_trades(s->st, &id, 1, &slot);
    if (rc != STORE_OK) {
        snprintf(why, sizeof(why), "reading trade %" PRId64 ": %s", id, store_errstr(s->st));
        int r = serve_undeliverable(s, m, FS_E_STORE, why);
        return serve_store_failed(s, rc, "reading a trade") ? -1 : r;
    }
    if (slot.status != FS_OK)
        return snprintf(why, sizeof(why), "trade %" PRId64 ": %s (%s)", id, slot.msg, fs_status_name(slot.status)),
               serve_undeliverable(s, m, slot.status, why);
    result_t r;
    r.rank = s->rank;
    mc_price(&slot.trade, &o, s->work, &r);
    r.rank = s->rank;
    result_seal(&r);
    if ((rc = store_put_results(s->st, &r, 1)) != STORE_OK) {
        snprintf(why, sizeof(why), "mirroring trade %" PRId64 ": %s", id, store_errstr(s->st));
        int x = serve_undeliverable(s, m, FS_E_STORE, why);
        return serve_store_failed(s, rc, "mirroring a result") ? -1 : x;
    }
    const char *err = NULL;
    if (r.status != FS_OK) {
        err = *mc_work_why(s->work) ? mc_work_why(s->work) : fs_status_name(r.status);
        s->failed++;
    }
    if (serve_answer(s, m, &r, err) || serve_ack(s, m))
        return -1;
    s->served++;
    serve_note(s, m);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of the sorted v[0..n). */
static double quantile(const double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t k = (size_t)ceil(q * (double)n);
    return v[k ? k - 1 : 0];
}

/* Log the window's throughput and latency percentiles (and the event). */
static void serve_report(serve_t *s, double now)
{
    double dt = now - s->window_t0;
    if (s->nlat) /* a window without requests has no array yet */
        qsort(s->lat, s->nlat, sizeof(*s->lat), cmp_double);
    double p50 = quantile(s->lat, s->nlat, 0.50), p95 = quantile(s->lat, s->nlat, 0.95),
           p99 = quantile(s->lat, s->nlat, 0.99);
    double rate = dt > 0 ? (double)s->nlat / dt : 0;
    fs_info("serve %s: %zu requests in %.1f s (%.1f/s), latency p50 %.0f ms p95 %.0f ms p99 %.0f ms; "
            "%" PRId64 " served, %" PRId64 " failed trades, %" PRId64 " dead letters in all",
            s->consumer, s->nlat, dt, rate, p50, p95, p99, s->served, s->failed, s->dead_n);
    if (s->events) {
        fprintf(s->events,
                "{\"event\":\"serve\",\"worker\":\"%s\",\"time\":%.3f,\"window_s\":%.3f,\"requests\":%zu,"
                "\"per_s\":%.3f,\"p50_ms\":%.0f,\"p95_ms\":%.0f,\"p99_ms\":%.0f,\"served\":%" PRId64
                ",\"failed\":%" PRId64 ",\"dead\":%" PRId64 "}\n",
                s->consumer, (double)serve_epoch_ms() / 1000.0, dt, s->nlat, rate, p50, p95, p99, s->served,
                s->failed, s->dead_n);
        fflush(s->events);
    }
    s->nlat = 0;
    s->window_t0 = now;
}

/* The worker loop: until a signal, --idle-exit or a lost store. Returns
 * the exit code. */
static int serve_loop(serve_t *s)
{
    double idle_since = fs_now();
    s->window_t0 = idle_since;
    s->last_claim = 0;
    while (!fs_stop_requested() && !s->fatal) {
        double now = fs_now();
        if (s->c->log_every_s > 0 && now - s->window_t0 >= s->c->log_every_s)
            serve_report(s, now);
        if (s->nqueue == 0 && now - s->last_claim >= (double)s->c->claim_idle_ms / 2000.0) {
            s->last_claim = now;
            if (serve_claim(s) < 0)
                continue;
        }
        if (s->nqueue == 0) {
            int64_t block = SERVE_BLOCK_MS;
            if (s->c->claim_idle_ms / 2 < block)
                block = s->c->claim_idle_ms / 2 > 0 ? s->c->claim_idle_ms / 2 : 1;
            if (s->c->idle_exit_s > 0) {
                double left = s->c->idle_exit_s - (now - idle_since);
                if (left <= 0) {
                    fs_info("serve %s: no request for %g s: exiting", s->consumer, s->c->idle_exit_s);
                    break;
                }
                if (left * 1000 < (double)block)
                    block = (int64_t)(left * 1000) + 1;
            }
            if (serve_read(s, block) <= 0)
                continue;
        }
        /* the queue is in priority order: handle its first entry */
        serve_msg_t m = s->queue[0];
        memmove(s->queue, s->queue + 1, (size_t)(--s->nqueue) * sizeof(*s->queue));
        serve_one(s, &m);
        store_reply_free(m.fields);
        idle_since = fs_now();
    }
    /* read but not begun: they stay pending and are claimed by another worker */
    for (int i = 0; i < s->nqueue; i++)
        store_reply_free(s->queue[i].fields);
    s->nqueue = 0;
    if (s->nlat || s->served)
        serve_report(s, fs_now());
    int sig = fs_stop_requested();
    if (sig && !s->fatal)
        fs_info("serve %s: %s: the current request was finished; exiting", s->consumer, fs_stop_name(sig));
    return s->fatal;
}

/* ---- setup ----------------------------------------------------------------------- */

/* Parse the settings of table t into c. Returns -1 to go on, or an exit code. */
static int serve_parse(const opt_table_t *t, serve_cfg_t *c, int argc, char **argv, opt_sources_t *src)
{
    memset(c, 0, sizeof(*c));
    int pr = settings_parse_cmd(t, c, argc, argv, src);
    if (pr >= 0)
        return pr;
    if (optind < src->layers.argc)
        return fs_error("%s: unexpected argument '%s'", t->command, src->layers.argv[optind]), FS_EXIT_USAGE;
    if (!c->store_url)
        return fs_error("%s: --store URL is required", t->command), FS_EXIT_USAGE;
    if (strcmp(store_backend_for(c->store_url) ? store_backend_for(c->store_url) : "", "redis") != 0)
        return fs_error("%s: --store must be a Redis URL (redis://, rediss://, unix://)", t->command),
               FS_EXIT_USAGE;
    return -1;
}

/* Open the store of c (needs: STORE_NEED_*). Returns the store, or NULL
 * with *code set (message printed). */
static store_t *serve_open(serve_cfg_t *c, unsigned needs, char **password, int *code)
{
    *code = 0;
    if (settings_store_password(c->password_file, &c->so, password, NULL) != 0) {
        *code = FS_EXIT_USAGE;
        return NULL;
    }
    c->so.needs = needs;
    char err[512];
    int ec = 0;
    store_t *st = store_open(c->store_url, &c->so, NULL, err, sizeof(err), &ec);
    if (!st) {
        fs_error("%s", err);
        *code = fs_exit_for_store_err(ec);
    }
    return st;
}

/* finsim serve --status: each stream's length, pending count and
 * consumers, and the dead letters. Returns an exit code. */
static int serve_status(serve_t *s)
{
    for (int i = 0; i < s->nstreams; i++) {
        serve_args_t a = {0};
        int rc;
        args_add(&a, "XLEN"), args_add(&a, s->streams[i]);
        store_reply_t *len = serve_cmd(s->st, &a, &rc);
        if (!len)
            return fs_error("%s", store_errstr(s->st)), fs_exit_for_store_err(rc);
        serve_args_t b = {0};
        args_add(&b, "XINFO"), args_add(&b, "CONSUMERS"), args_add(&b, s->streams[i]), args_add(&b, s->c->group);
        store_reply_t *cons = serve_cmd(s->st, &b, &rc);
        if (!cons) {
            store_reply_free(len);
            return fs_error("%s", store_errstr(s->st)), fs_exit_for_store_err(rc);
        }
        long long pending = 0;
        size_t nc = cons->type == STORE_REPLY_ARRAY ? cons->elements : 0;
        for (size_t k = 0; k < nc; k++)
            for (size_t j = 0; j + 1 < cons->element[k]->elements; j += 2)
                if (cons->element[k]->element[j]->str && !strcmp(cons->element[k]->element[j]->str, "pending"))
                    pending += cons->element[k]->element[j + 1]->integer;
        printf("stream %s: length %lld, pending %lld, consumers %zu (group %s)\n", s->streams[i],
               len->type == STORE_REPLY_INTEGER ? len->integer : 0LL, pending, nc, s->c->group);
        for (size_t k = 0; k < nc; k++) {
            const store_reply_t *e = cons->element[k];
            const char *name = "?";
            long long p = 0, idle = 0;
            for (size_t j = 0; j + 1 < e->elements; j += 2) {
                const char *f = e->element[j]->str ? e->element[j]->str : "";
                if (!strcmp(f, "name") && e->element[j + 1]->str)
                    name = e->element[j + 1]->str;
                else if (!strcmp(f, "pending"))
                    p = e->element[j + 1]->integer;
                else if (!strcmp(f, "idle"))
                    idle = e->element[j + 1]->integer;
            }
            printf("  consumer %s: pending %lld, idle %lld ms\n", name, p, idle);
        }
        store_reply_free(len);
        store_reply_free(cons);
    }
    serve_args_t a = {0};
    int rc;
    args_add(&a, "XLEN"), args_add(&a, s->dead);
    store_reply_t *d = serve_cmd(s->st, &a, &rc);
    if (!d)
        return fs_error("%s", store_errstr(s->st)), fs_exit_for_store_err(rc);
    printf("dead letters %s: %lld\n", s->dead, d->type == STORE_REPLY_INTEGER ? d->integer : 0LL);
    store_reply_free(d);
    return fflush(stdout) ? FS_EXIT_IO : FS_EXIT_OK;
}

/* The pricing defaults of finsim run: its table's defaults. */
static void serve_run_defaults(mc_opts_t *o)
{
    run_cfg_t *rc = xcalloc(1, sizeof(*rc));
    mc_opts_default(&rc->mo);
    opts_defaults(&settings_run, rc);
    *o = rc->mo;
    free(rc);
}

/* finsim serve: see settings_serve. */
int cmd_serve(int argc, char **argv)
{
    serve_cfg_t c;
    opt_sources_t src;
    int ret = serve_parse(&settings_serve, &c, argc, argv, &src);
    if (ret >= 0) {
        opts_sources_free(&src);
        return ret;
    }
    int rank, nranks;
    fs_mpi_world(&rank, &nranks);
    serve_t *s = xcalloc(1, sizeof(*s));
    s->c = &c;
    s->rank = rank;
    snprintf(s->prefix, sizeof(s->prefix), "%s", c.so.key_prefix ? c.so.key_prefix : "");
    if (c.consumer) {
        snprintf(s->consumer, sizeof(s->consumer), "%s", c.consumer);
        if (nranks > 1)
            snprintf(s->consumer + strlen(s->consumer), sizeof(s->consumer) - strlen(s->consumer), ":%d", rank);
    } else {
        char host[128] = "host";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        if (nranks > 1)
            snprintf(s->consumer, sizeof(s->consumer), "%s:%ld:%d", host, (long)getpid(), rank);
        else
            snprintf(s->consumer, sizeof(s->consumer), "%s:%ld", host, (long)getpid());
    }
    char *password = NULL;
    if (serve_keys(s)) {
        ret = FS_EXIT_USAGE;
        goto out;
    }
    if (c.events && !c.status && !(s->events = fopen(c.events, "a"))) {
        fs_error("serve: cannot open --events %s", c.events);
        ret = FS_EXIT_IO;
        goto out;
    }
    s->st = serve_open(&c, c.status ? 0 : STORE_NEED_READ_TRADES | STORE_NEED_WRITE_RESULTS, &password, &ret);
    if (!s->st)
        goto out;
    if (c.status) {
        ret = serve_status(s);
        goto out;
    }
    if ((ret = serve_groups(s)) != 0)
        goto out;
    fs_stop_install(); /* SIGTERM, SIGINT: finish the current request, then exit */
    serve_run_defaults(&s->defaults);
    s->work = mc_work_new();
    fs_info("serve %s: serving %s%s (group %s) from %s", s->consumer, s->streams[0], s->nstreams > 1 ? " and more" : "",
            c.group, store_describe(s->st));
    ret = serve_loop(s);
out:
    if (s->events)
        fclose(s->events);
    mc_work_free(s->work);
    free(s->lat);
    store_close(s->st);
    settings_secret_free(password);
    free(s);
    opts_sources_free(&src);
    return ret;
}

/* ---- finsim request ---------------------------------------------------------------- */

/* finsim request: see settings_request. */
int cmd_request(int argc, char **argv)
{
    serve_cfg_t c;
    opt_sources_t src;
    int ret = serve_parse(&settings_request, &c, argc, argv, &src);
    if (ret < 0 && c.trade < 0)
        ret = (fs_error("request: --trade ID is required"), FS_EXIT_USAGE);
    if (ret >= 0) {
        opts_sources_free(&src);
        return ret;
    }
    if (c.so.timeout_s < c.wait_s + 5)
        c.so.timeout_s = c.wait_s + 5; /* the blocking read must not time out first */
    char *password = NULL;
    store_t *st = serve_open(&c, 0, &password, &ret);
    const char *prefix = c.so.key_prefix ? c.so.key_prefix : "";
    char stream[SERVE_KEY_MAX], reply[256], rkey[SERVE_KEY_MAX], rid[128], tid[32];
    store_reply_t *r = NULL;
    if (!st)
        goto out;
    if (c.priority)
        snprintf(stream, sizeof(stream), "%sfinsim:requests:%.100s", prefix, c.priority);
    else
        snprintf(stream, sizeof(stream), "%sfinsim:requests", prefix);
    char host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(rid, sizeof(rid), "%s:%ld:%" PRId64, host, (long)getpid(), serve_epoch_ms());
    snprintf(reply, sizeof(reply), "finsim:replies:%s", rid);
    snprintf(rkey, sizeof(rkey), "%s%s", prefix, reply);
    snprintf(tid, sizeof(tid), "%" PRId64, c.trade);
    serve_args_t a = {0};
    int rc;
    args_add(&a, "XADD"), args_add(&a, stream), args_add(&a, "*");
    args_add(&a, "id"), args_add(&a, rid), args_add(&a, "trade"), args_add(&a, tid), args_add(&a, "reply"),
        args_add(&a, reply);
    if (c.algorithm)
        args_add(&a, "algorithm"), args_add(&a, c.algorithm);
    if (c.paths)
        args_add(&a, "paths"), args_add(&a, c.paths);
    if (c.seed)
        args_add(&a, "seed"), args_add(&a, c.seed);
    double t0 = fs_now();
    if (!(r = serve_cmd(st, &a, &rc)) || reply_failed(r, "sending the request")) {
        ret = r ? reply_exit(r) : (fs_error("request: %s", store_errstr(st)), fs_exit_for_store_err(rc));
        goto out;
    }
    store_reply_free(r);
    r = NULL;
    serve_args_t b = {0};
    args_add(&b, "XREAD"), args_add(&b, "COUNT"), args_add(&b, "1"), args_add(&b, "BLOCK");
    args_num(&b, (long long)(c.wait_s * 1000) + 1), args_add(&b, "STREAMS"), args_add(&b, rkey), args_add(&b, "0-0");
    if (!(r = serve_cmd(st, &b, &rc)) || reply_failed(r, "waiting for the answer")) {
        ret = r ? reply_exit(r) : (fs_error("request: %s", store_errstr(st)), fs_exit_for_store_err(rc));
        goto out;
    }
    double dt = fs_now() - t0;
    if (r->type != STORE_REPLY_ARRAY || r->elements == 0) {
        fs_error("request: no answer for trade %s within %g s (are workers running? 'finsim serve --status')", tid,
                 c.wait_s);
        ret = FS_EXIT_TIMEOUT;
        goto out;
    }
    serve_msg_t m;
    memset(&m, 0, sizeof(m));
    m.fields = r->element[0]->element[1]->element[0]->element[1];
    const char *st_s = msg_field(&m, "status");
    printf("trade_id,status,pv,pv_stderr,delta,delta_stderr,vega,vega_stderr,paths,latency_ms\n");
    static const char *const cols[] = {"trade", "status", "pv", "pv_stderr", "delta", "delta_stderr",
                                       "vega", "vega_stderr", "paths"};
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
        const char *v = msg_field(&m, cols[i]);
        printf("%s,", v ? v : "");
    }
    printf("%.3f\n", dt * 1000.0);
    const char *err = msg_field(&m, "error");
    if (err)
        fs_error("request: trade %s: %s", tid, err);
    ret = st_s && !strcmp(st_s, "0") ? FS_EXIT_OK : FS_EXIT_TRADES_FAILED;
    /* the private reply stream is not needed any more */
    serve_args_t d = {0};
    args_add(&d, "DEL"), args_add(&d, rkey);
    store_reply_free(serve_cmd(st, &d, &rc));
out:
    store_reply_free(r);
    store_close(st);
    settings_secret_free(password);
    opts_sources_free(&src);
    return ret;
}
