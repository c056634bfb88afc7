/* ops.c - the Redis store operations: trades, results, rankings, listing. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"

#include "finsim/base/util.h"

/* State of one get_trades call. */
typedef struct redis_get_arg {
    const int64_t *ids;  /* requested ids */
    trade_slot_t *out;   /* one slot per id */
    size_t *nil;         /* positions left open for the follow-up (p->nil_idx) */
    size_t nnil;         /* entries used in nil */
    unsigned char *pend; /* per id: 1 when the GETRANGE left it for the follow-up */
} redis_get_arg_t;

/* The outcome of a parsed value (slot->trade already set) into slot: the
 * status, and the message prefixed by key ("key: why"), or the id mismatch. */
static void redis_slot_parsed(const char *key, int64_t id, int status, const char *why, trade_slot_t *slot)
{
    slot->msg[0] = 0;
    slot->status = status;
    if (slot->status != FS_OK) {
        fs_seterr(slot->msg, sizeof(slot->msg), "%s: %s", key, why);
    } else if (slot->trade.id != id) {
        fs_seterr(slot->msg, sizeof(slot->msg), "%s holds trade %010lld, not %010lld", key,
                  (long long)slot->trade.id, (long long)id);
        slot->status = FS_E_ID_MISMATCH;
    }
}

/* Decode the value stored under key for trade id into slot. Never fails:
 * the outcome is the slot's status and message. */
static void redis_fill_slot(const char *key, int64_t id, const char *val, size_t len, trade_slot_t *slot)
{
    char why[160];
    why[0] = 0;
    int status = trade_parse_one(val, len, &slot->trade, why, sizeof(why));
    redis_slot_parsed(key, id, status, why, slot);
}

/* Set slot to a failure status with an empty trade of the given id. */
static void redis_slot_fail(trade_slot_t *slot, int64_t id, int status)
{
    memset(&slot->trade, 0, sizeof(slot->trade));
    slot->trade.id = id;
    slot->status = status;
}

/* Mark slot as missing, with a message naming the key, the store and how to
 * fill it. */
static void redis_slot_missing(store_t *st, const char *key, int64_t id, trade_slot_t *slot)
{
    redis_slot_fail(slot, id, FS_E_NOT_FOUND);
    fs_seterr(slot->msg, sizeof(slot->msg),
              "trade key %s not found in %s; fill it with: finsim generate --store %s --start-trade %lld --trades 1", key,
              st->url, st->url, (long long)id);
}

/* A key length from trade_key / trade_result_key. store_open refuses key
 * prefixes longer than TRADE_KEY_PREFIX_MAX, so every key fits its
 * TRADE_KEY_MAX buffer: a key that did not would be a broken invariant,
 * and a cut key would name another key. */
static int redis_key_fits(int kl)
{
    if (kl < 0) {
        fs_error("internal error: a Redis key does not fit in %d bytes", TRADE_KEY_MAX);
        abort();
    }
    return kl;
}

/* The key globs of trade and result keys under st's prefix, for messages
 * (tglob / rglob) and the ACL key pattern that allows both (acl). */
static void redis_globs(const store_t *st, char *tglob, char *rglob, char *acl, size_t cap)
{
    const char *pre = st->opts.key_prefix ? st->opts.key_prefix : "";
    if (tglob)
        snprintf(tglob, cap, "%sey*.xml", pre);
    if (rglob)
        snprintf(rglob, cap, "%sey*_result.xml", pre);
    snprintf(acl, cap, "%sey*", pre);
}

/* Append GETRANGE key 0 TRADE_DOC_MAX for trade id to p->cmd: at most one
 * byte more than a document may hold, so a longer value is seen to be too
 * large without reading it. */
static void redis_getrange_cmd(store_t *st, redis_priv_t *p, int64_t id)
{
    char key[TRADE_KEY_MAX], end[24];
    int kl = redis_key_fits(trade_key(key, sizeof(key), st->opts.key_prefix, id));
    int el = snprintf(end, sizeof(end), "%d", TRADE_DOC_MAX);
    redis_cmd_begin(p, 4);
    redis_cmd_arg(p, "GETRANGE", 8);
    redis_cmd_arg(p, key, (size_t)kl);
    redis_cmd_arg(p, "0", 1);
    redis_cmd_arg(p, end, (size_t)el);
}

/* One GETRANGE per trade key of ids[lo..hi): a value longer than
 * TRADE_DOC_MAX crosses the wire as its first TRADE_DOC_MAX + 1 bytes only
 * (then refused as too large), so a batch costs at most ~1 MiB per reply
 * and, consumed reply by reply, ~1 MiB at a time, besides the values held
 * for parsing (at most REDIS_HELD_MAX bytes and one value). */
static size_t redis_get_encode(store_t *st, redis_priv_t *p, size_t lo, size_t hi, void *arg)
{
    redis_get_arg_t *a = arg;
    for (size_t i = lo; i < hi; i++)
        redis_getrange_cmd(st, p, a->ids[i]);
    return hi - lo;
}

/* The outcome of held value j of trade_parse_batch, into its slot, as
 * redis_fill_slot gives it (the message cut where its 160 bytes cut it),
 * the key named only in a failure message. */
typedef struct redis_held_ctx {
    store_t *st;
    redis_get_arg_t *a;
} redis_held_ctx_t;

static void redis_held_parsed(void *ctx, size_t j, const trade_t *t, int status, const char *msg)
{
    redis_held_ctx_t *h = ctx;
    redis_priv_t *p = h->st->priv;
    size_t i = p->held_item[j];
    trade_slot_t *slot = &h->a->out[i];
    char why[160];
    memcpy(&slot->trade, t, sizeof(slot->trade));
    snprintf(why, sizeof(why), "%s", msg);
    redis_slot_parsed("", h->a->ids[i], status, why, slot);
    if (slot->status != FS_OK) {
        char key[TRADE_KEY_MAX], was[sizeof(slot->msg)];
        trade_key(key, sizeof(key), h->st->opts.key_prefix, h->a->ids[i]);
        snprintf(was, sizeof(was), "%s", slot->msg);
        fs_seterr(slot->msg, sizeof(slot->msg), "%s%s", key, was);
    }
}

/* Parse the values held (trade_parse_batch) into their slots. */
static void redis_parse_held(store_t *st, redis_get_arg_t *a)
{
    redis_priv_t *p = st->priv;
    if (p->held_n == 0)
        return;
    double t0 = fs_now();
    redis_held_ctx_t h = {st, a};
    trade_parse_batch(p->held, p->held_off, p->held_n, redis_held_parsed, &h);
    p->held_n = p->held_len = 0;
    st->stats.parse_s += fs_now() - t0;
}

/* Hold the value of item i for redis_parse_held (the values held before
 * are parsed first when REDIS_HELD_MAX bytes would be passed). */
static void redis_hold(store_t *st, redis_get_arg_t *a, size_t i, const char *val, size_t len)
{
    redis_priv_t *p = st->priv;
    if (p->held_n > 0 && p->held_len + len > REDIS_HELD_MAX)
        redis_parse_held(st, a);
    if (p->held_n + 1 >= p->held_ncap) {
        p->held_ncap = p->held_ncap ? 2 * p->held_ncap : 1024;
        p->held_off = xrealloc(p->held_off, (p->held_ncap + 1) * sizeof(*p->held_off));
        p->held_item = xrealloc(p->held_item, p->held_ncap * sizeof(*p->held_item));
    }
    if (p->held_len + len > p->held_cap) {
        p->held_cap = p->held_len + len > 2 * p->held_cap ? p->held_len + len : 2 * p->held_cap;
        p->held = xrealloc(p->held, p->held_cap);
    }
    memcpy(p->held + p->held_len, val, len);
    p->held_off[p->held_n] = p->held_len;
    p->held_item[p->held_n++] = i;
    p->held_len += len;
    p->held_off[p->held_n] = p->held_len;
}

/* One GETRANGE answer: a value is held, and parsed with the rest of its
 * batch once the batch's last answer is in (replies are freed as they are
 * consumed, so a batch's values are copied: at most REDIS_HELD_MAX bytes
 * and one value). "" (a missing key or an empty value) and WRONGTYPE leave
 * the slot open (a->pend) for the follow-up. */
static int redis_get_answer(store_t *st, redisReply *e, size_t i, redis_get_arg_t *a)
{
    char key[TRADE_KEY_MAX];
    if (redis_redirected(st->priv, e, i)) {
        a->pend[i] = 0;
        return 0;
    }
    if (e->type == REDIS_REPLY_STRING && e->len > 0) {
        redis_hold(st, a, i, e->str, e->len);
        a->pend[i] = 0;
        return 0;
    }
    if (e->type == REDIS_REPLY_STRING || (e->type == REDIS_REPLY_ERROR && strncmp(e->str, "WRONGTYPE", 9) == 0)) {
        a->pend[i] = 1;
        return 0;
    }
    if (e->type == REDIS_REPLY_ERROR) {
        char glob[300], acl[300];
        redis_globs(st, glob, NULL, acl, sizeof(glob));
        return redis_reply_error(st, e->str, "GETRANGE", glob, acl);
    }
    trade_key(key, sizeof(key), st->opts.key_prefix, a->ids[i]);
    return store_set_error(st, STORE_E_PROTOCOL, "GETRANGE %s on %s: unexpected reply", key, st->url);
}

/* redis_get_answer for answer k of the batch of items [lo, hi). A batch
 * (or its resend after a lost connection) starts afresh: what an
 * interrupted one held is forgotten, its slots are read again. */
static int redis_get_each(store_t *st, redisReply *e, size_t k, size_t lo, size_t hi, void *arg)
{
    redis_get_arg_t *a = arg;
    redis_priv_t *p = st->priv;
    if (k == 0)
        p->held_n = p->held_len = 0;
    int rc = redis_get_answer(st, e, lo + k, a);
    if (rc == 0 && lo + k + 1 == hi)
        redis_parse_held(st, a);
    return rc;
}

/* GETRANGE + TYPE for the slots left open (items index a->nil). */
static size_t redis_nil_encode(store_t *st, redis_priv_t *p, size_t lo, size_t hi, void *arg)
{
    redis_get_arg_t *a = arg;
    char key[TRADE_KEY_MAX];
    for (size_t k = lo; k < hi; k++) {
        int kl = redis_key_fits(trade_key(key, sizeof(key), st->opts.key_prefix, a->ids[a->nil[k]]));
        redis_getrange_cmd(st, p, a->ids[a->nil[k]]);
        redis_cmd_begin(p, 2);
        redis_cmd_arg(p, "TYPE", 4);
        redis_cmd_arg(p, key, (size_t)kl);
    }
    return 2 * (hi - lo);
}

/* Tell missing keys (TYPE none) from empty values and keys of another type
 * (WRONGTYPE); a value that appeared in between is parsed like any other. */
static int redis_nil_consume(store_t *st, redisReply **rep, size_t nrep, size_t lo, size_t hi, void *arg)
{
    redis_get_arg_t *a = arg;
    char key[TRADE_KEY_MAX];
    (void)nrep;
    double t0 = fs_now();
    for (size_t k = lo; k < hi; k++) {
        size_t i = a->nil[k];
        trade_slot_t *slot = &a->out[i];
        redisReply *g = rep[2 * (k - lo)], *t = rep[2 * (k - lo) + 1];
        trade_key(key, sizeof(key), st->opts.key_prefix, a->ids[i]);
        if (redis_redirected(st->priv, g, i) || redis_redirected(st->priv, t, i))
            continue;
        if (g->type == REDIS_REPLY_NIL || (g->type == REDIS_REPLY_STRING && g->len == 0 &&
                                            t->type == REDIS_REPLY_STATUS && strcmp(t->str, "none") == 0)) {
            redis_slot_missing(st, key, a->ids[i], slot);
        } else if (g->type == REDIS_REPLY_STRING) {
            redis_fill_slot(key, a->ids[i], g->str, g->len, slot);
        } else if (g->type == REDIS_REPLY_ERROR && strncmp(g->str, "WRONGTYPE", 9) == 0) {
            redis_slot_fail(slot, a->ids[i], FS_E_WRONG_TYPE);
            fs_seterr(slot->msg, sizeof(slot->msg), "key %s in %s holds a %s, not a string (trade document)", key,
                      st->url, t->type == REDIS_REPLY_STATUS ? t->str : "value of another type");
        } else if ((g->type == REDIS_REPLY_ERROR && strncmp(g->str, "NOPERM", 6) == 0) ||
                   (t->type == REDIS_REPLY_ERROR && strncmp(t->str, "NOPERM", 6) == 0)) {
            char glob[300], acl[300];
            redis_globs(st, glob, NULL, acl, sizeof(glob));
            int gbad = g->type == REDIS_REPLY_ERROR && strncmp(g->str, "NOPERM", 6) == 0;
            return redis_reply_error(st, gbad ? g->str : t->str, gbad ? "GETRANGE" : "TYPE", glob, acl);
        } else {
            redis_slot_fail(slot, a->ids[i], FS_E_STORE);
            fs_seterr(slot->msg, sizeof(slot->msg), "GETRANGE %s on %s: %.100s", key, st->url,
                      g->type == REDIS_REPLY_ERROR ? g->str : "unexpected reply type");
        }
    }
    st->stats.parse_s += fs_now() - t0;
    return 0;
}

static const redis_pipe_ops_t redis_get_ops = {"reading trades", redis_get_encode, NULL, redis_get_each};
static const redis_pipe_ops_t redis_nil_ops = {"reading trades", redis_nil_encode, redis_nil_consume, NULL};

/* ---- reads sent ahead ------------------------------------------------------
 * store_prefetch_trades announces the ids of the get_trades after the next
 * one (pf_next). The next get_trades, once the replies it waits for are off
 * the connection, sends the GETRANGEs of those ids (REDIS_PF_SENT) and only
 * then parses its own documents: the server answers the reads ahead while
 * this process parses, prices and mirrors. The next command on the
 * connection (the mirror's MSET) first reads their replies into pf_rep
 * (REDIS_PF_READ, redis_prefetch_drain); the get_trades of exactly those
 * ids takes them from there. Any other get_trades forgets them. A lost
 * connection forgets what it carried (redis_drop): the reads are made
 * again in the ordinary way, so nothing is lost or counted twice. One
 * node only: a cluster's store answers STORE_E_NOTSUP. */

/* Make room for n ids and replies. */
static void redis_pf_reserve(redis_priv_t *p, size_t n)
{
    if (n <= p->pf_cap)
        return;
    p->pf_ids = xrealloc(p->pf_ids, n * sizeof(*p->pf_ids));
    p->pf_next = xrealloc(p->pf_next, n * sizeof(*p->pf_next));
    p->pf_rep = xrealloc(p->pf_rep, n * sizeof(*p->pf_rep));
    p->pf_cap = n;
}

/* Forget the reads sent ahead, freeing their replies if read. */
static void redis_pf_forget(redis_priv_t *p)
{
    if (p->pf_state == REDIS_PF_READ)
        for (size_t i = 0; i < p->pf_n; i++)
            freeReplyObject(p->pf_rep[i]);
    p->pf_state = REDIS_PF_NONE;
}

int redis_prefetch_drain(store_t *st, redis_priv_t *p, const char *what)
{
    if (p->pf_state != REDIS_PF_SENT)
        return 0;
    size_t bytes = 0, kept = 0;
    for (size_t i = 0; i < p->pf_n; i++) {
        int rc = redis_recv(st, p, 1, what);
        if (rc != 0) { /* the connection is dropped (pf_state NONE): free what was kept */
            for (size_t k = 0; k < kept; k++)
                freeReplyObject(p->pf_rep[k]);
            return rc;
        }
        redisReply *r = p->rep[0];
        bytes += r->type == REDIS_REPLY_STRING ? r->len : 0;
        if (kept == i && bytes <= REDIS_PF_KEEP_MAX) {
            p->pf_rep[kept++] = r;
            continue;
        }
        freeReplyObject(r); /* too much to hold: read off and dropped, get_trades reads again */
    }
    if (kept == p->pf_n) {
        p->pf_state = REDIS_PF_READ;
    } else {
        for (size_t k = 0; k < kept; k++)
            freeReplyObject(p->pf_rep[k]);
        p->pf_state = REDIS_PF_NONE;
    }
    return 0;
}

void redis_prefetch_free(redis_priv_t *p)
{
    redis_pf_forget(p);
    free(p->pf_ids);
    free(p->pf_next);
    free(p->pf_rep);
    p->pf_ids = p->pf_next = NULL;
    p->pf_rep = NULL;
    p->pf_cap = p->pf_n = p->pf_next_n = 0;
}

/* store_prefetch_trades: remember ids[0..n) for the get_trades after the
 * next one. */
int redis_prefetch_trades(store_t *st, const int64_t *ids, size_t n)
{
    redis_priv_t *p = st->priv;
    if (p->cl || p->node || n == 0 || n > (size_t)st->opts.batch)
        return STORE_E_NOTSUP;
    redis_pf_reserve(p, n);
    memcpy(p->pf_next, ids, n * sizeof(*ids));
    p->pf_next_n = n;
    return 0;
}

/* Send the GETRANGEs of the announced ids, if any, on a live connection
 * with nothing else on the wire. A failure drops the connection and
 * nothing more: the get_trades of those ids reads them in the ordinary way
 * (and meets the failure there, with its retries). */
static void redis_pf_send(store_t *st, redis_priv_t *p)
{
    size_t n = p->pf_next_n;
    p->pf_next_n = 0;
    if (n == 0 || !p->c || p->pf_state != REDIS_PF_NONE)
        return;
    p->cmd_len = 0;
    for (size_t i = 0; i < n; i++)
        redis_getrange_cmd(st, p, p->pf_next[i]);
    if (redis_send(st, p, "reading trades") != 0)
        return;
    int64_t *t = p->pf_ids;
    p->pf_ids = p->pf_next;
    p->pf_next = t;
    p->pf_n = n;
    p->pf_state = REDIS_PF_SENT;
}

/* Fill out[0..n) from the replies of reads sent ahead for exactly ids
 * (read first when still on the wire), after sending the next reads
 * ahead. Returns 1 when done (the open slots marked in a->pend), 0 when
 * the reads must be made in the ordinary way (nothing sent ahead for these
 * ids, or a reply that was not a document's: the ordinary reads meet the
 * same answer and handle it as they always have). */
static int redis_pf_take(store_t *st, redis_priv_t *p, const int64_t *ids, size_t n, redis_get_arg_t *a)
{
    if (p->pf_state == REDIS_PF_NONE)
        return 0;
    int mine = p->pf_n == n && memcmp(p->pf_ids, ids, n * sizeof(*ids)) == 0;
    if (redis_prefetch_drain(st, p, "reading trades") != 0 || !mine) {
        redis_pf_forget(p);
        return 0;
    }
    if (p->pf_state != REDIS_PF_READ)
        return 0; /* too large to keep: read again */
    /* this batch's replies are off the connection: the next reads go out now */
    redisReply **rep = p->pf_rep;
    p->pf_rep = xmalloc(p->pf_cap * sizeof(*p->pf_rep));
    p->pf_state = REDIS_PF_NONE;
    redis_pf_send(st, p);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        if (ok && redis_get_each(st, rep[i], i, 0, n, a) != 0)
            ok = 0;
        freeReplyObject(rep[i]);
    }
    free(rep);
    return ok;
}

/* Read trades ids[0..n) into out[0..n): pipelined GETRANGEs (or the
 * replies of reads sent ahead), then
 * GETRANGE + TYPE for the empty and WRONGTYPE answers. Per-slot outcomes: FS_OK, FS_E_NOT_FOUND,
 * FS_E_WRONG_TYPE, the parse status, FS_E_ID_MISMATCH. Returns 0, or a
 * STORE_E_* code when the store failed; the slots not resolved then hold
 * FS_E_STORE and st->errstr. */
static int redis_get_trades(store_t *st, const int64_t *ids, size_t n, trade_slot_t *out)
{
    redis_priv_t *p = st->priv;
    if (n > p->nil_cap) {
        p->nil_idx = xrealloc(p->nil_idx, n * sizeof(*p->nil_idx));
        p->nil_cap = n;
    }
    if (n > p->pend_cap) {
        p->pend = xrealloc(p->pend, n);
        p->pend_cap = n;
    }
    redis_get_arg_t a = {.ids = ids, .out = out, .nil = p->nil_idx, .nnil = 0, .pend = p->pend};
    size_t done = 0, nil_done = 0;
    int rc = 0;
    if (redis_pf_take(st, p, ids, n, &a)) {
        done = n;
    } else {
        rc = redis_pipeline(st, n, &redis_get_ops, &a, &done);
        if (rc == 0)
            redis_pf_send(st, p); /* the next reads travel while these are parsed by the caller's next steps */
    }
    if (rc == 0) /* collected after the pipeline: a resent batch must not list a slot twice */
        for (size_t i = 0; i < n; i++)
            if (a.pend[i])
                a.nil[a.nnil++] = i;
    if (rc == 0 && a.nnil > 0)
        rc = redis_pipeline(st, a.nnil, &redis_nil_ops, &a, &nil_done);
    if (rc != 0) {
        for (size_t i = done; i < n; i++) {
            redis_slot_fail(&out[i], ids[i], FS_E_STORE);
            fs_seterr(out[i].msg, sizeof(out[i].msg), "%s", st->errstr);
        }
        for (size_t k = nil_done; k < a.nnil; k++) {
            size_t i = a.nil[k];
            redis_slot_fail(&out[i], ids[i], FS_E_STORE);
            fs_seterr(out[i].msg, sizeof(out[i].msg), "%s", st->errstr);
        }
    }
    p->pf_next_n = 0; /* an announcement not sent (a failed read) is not kept for a later one */
    return rc;
}

/* Check the single "+OK" reply of an MSET, or on a cluster node the "+OK"
 * of each SET (nrep of them, one per item from lo). */
static int redis_mset_check(store_t *st, redisReply **rep, size_t nrep, size_t lo, size_t hi, int results)
{
    const char *cmd = ((redis_priv_t *)st->priv)->node ? "SET" : "MSET";
    for (size_t k = 0; k < nrep; k++) {
        redisReply *r = rep[k];
        if (redis_redirected(st->priv, r, lo + k))
            continue;
        if (r->type == REDIS_REPLY_ERROR) {
            char glob[300], acl[300];
            redis_globs(st, results ? NULL : glob, results ? glob : NULL, acl, sizeof(glob));
            return redis_reply_error(st, r->str, cmd, glob, acl);
        }
        if (r->type != REDIS_REPLY_STATUS)
            return store_set_error(st, STORE_E_PROTOCOL, "%s of %zu keys on %s: unexpected reply type %d", cmd,
                                   hi - lo, st->url, r->type);
    }
    return 0;
}

/* redis_mset_check of trade and of result writes. */
static int redis_mset_consume(store_t *st, redisReply **rep, size_t nrep, size_t lo, size_t hi, void *arg)
{
    (void)arg;
    return redis_mset_check(st, rep, nrep, lo, hi, 0);
}

static int redis_mset_res_consume(store_t *st, redisReply **rep, size_t nrep, size_t lo, size_t hi, void *arg)
{
    (void)arg;
    return redis_mset_check(st, rep, nrep, lo, hi, 1);
}

/* Append the pair "key value" to the MSET being built in p->cmd; on a
 * cluster node, where the keys of one batch lie in many slots, a SET of its
 * own. */
static void redis_put_pair(redis_priv_t *p, const char *key, size_t kl, const char *val, size_t vl)
{
    if (p->node) {
        redis_cmd_begin(p, 3);
        redis_cmd_arg(p, "SET", 3);
    }
    redis_cmd_arg(p, key, kl);
    redis_cmd_arg(p, val, vl);
}

/* Start an MSET of npairs key/value pairs in p->cmd (nothing on a cluster
 * node: redis_put_pair writes SETs). Returns the replies the batch will
 * produce. */
static size_t redis_mset_begin(redis_priv_t *p, size_t npairs)
{
    if (p->node)
        return npairs;
    redis_cmd_begin(p, 2 * npairs + 1);
    redis_cmd_arg(p, "MSET", 4);
    return 1;
}

/* Formats a record as its document, snprintf style. */
typedef int (*redis_doc_fn)(const void *rec, char *buf, size_t cap);

/* trade_format and result_format as redis_doc_fn. */
static int redis_fmt_trade(const void *rec, char *buf, size_t cap)
{
    return trade_format(rec, buf, cap);
}

static int redis_fmt_result(const void *rec, char *buf, size_t cap)
{
    return result_format(rec, buf, cap);
}

/* Append "key document" to the MSET in p->cmd, the document formatted from
 * rec by fmt: on the stack when it fits in REDIS_DOC_STACK bytes, else in a
 * buffer allocated and freed here. Cannot fail (xmalloc aborts). */
static void redis_put_doc(redis_priv_t *p, const char *key, size_t kl, redis_doc_fn fmt, const void *rec)
{
    char doc[REDIS_DOC_STACK];
    int vl = fmt(rec, doc, sizeof(doc));
    if (vl < (int)sizeof(doc)) {
        redis_put_pair(p, key, kl, doc, (size_t)vl);
        return;
    }
    char *big = xmalloc((size_t)vl + 1);
    fmt(rec, big, (size_t)vl + 1);
    redis_put_pair(p, key, kl, big, (size_t)vl);
    free(big);
}

/* MSET key doc ... for trades t[lo..hi), documents as trade_format writes
 * them (AzFinSim bytes). */
static size_t redis_put_trades_encode(store_t *st, redis_priv_t *p, size_t lo, size_t hi, void *arg)
{
    const trade_t *t = arg;
    char key[TRADE_KEY_MAX];
    size_t nrep = redis_mset_begin(p, hi - lo);
    for (size_t i = lo; i < hi; i++) {
        int kl = redis_key_fits(trade_key(key, sizeof(key), st->opts.key_prefix, t[i].id));
        redis_put_doc(p, key, (size_t)kl, redis_fmt_trade, &t[i]);
    }
    return nrep;
}

static const redis_pipe_ops_t redis_put_trades_ops = {"writing trades", redis_put_trades_encode, redis_mset_consume, NULL};

/* Write trades t[0..n) (overwrite). Returns 0 or STORE_E_*. */
static int redis_put_trades(store_t *st, const trade_t *t, size_t n)
{
    size_t done = 0;
    return redis_pipeline(st, n, &redis_put_trades_ops, (void *)t, &done);
}

typedef struct redis_docs_arg {
    const int64_t *ids;
    const char *docs;
    const size_t *off;
} redis_docs_arg_t;

/* MSET key doc ... for documents formatted by the caller. */
static size_t redis_put_docs_encode(store_t *st, redis_priv_t *p, size_t lo, size_t hi, void *arg)
{
    const redis_docs_arg_t *a = arg;
    char key[TRADE_KEY_MAX];
    size_t nrep = redis_mset_begin(p, hi - lo);
    for (size_t i = lo; i < hi; i++) {
        int kl = redis_key_fits(trade_key(key, sizeof(key), st->opts.key_prefix, a->ids[i]));
        redis_put_pair(p, key, (size_t)kl, a->docs + a->off[i], a->off[i + 1] - a->off[i]);
    }
    return nrep;
}

static const redis_pipe_ops_t redis_put_docs_ops = {"writing trades", redis_put_docs_encode, redis_mset_consume, NULL};

static int redis_put_trade_docs(store_t *st, const int64_t *ids, const char *docs, const size_t *off, size_t n)
{
    redis_docs_arg_t a = {ids, docs, off};
    size_t done = 0;
    return redis_pipeline(st, n, &redis_put_docs_ops, &a, &done);
}

typedef struct redis_rank_arg {
    const char *key;      /* <prefix><name> */
    const int64_t *ids;
    const double *scores;
    size_t n;
} redis_rank_arg_t;

#define REDIS_ZADD_CHUNK 500 /* members per ZADD inside the transaction */

/* The whole replacement as one item: MULTI, DEL, ZADD per chunk, EXEC. A
 * connection lost before EXEC discards the transaction, so a retry sends
 * it again from the start. */
static size_t redis_rank_encode(store_t *st, redis_priv_t *p, size_t lo, size_t hi, void *arg)
{
    const redis_rank_arg_t *a = arg;
    (void)st;
    (void)lo;
    (void)hi;
    size_t kl = strlen(a->key), nrep = 3;
    redis_cmd_begin(p, 1);
    redis_cmd_arg(p, "MULTI", 5);
    redis_cmd_begin(p, 2);
    redis_cmd_arg(p, "DEL", 3);
    redis_cmd_arg(p, a->key, kl);
    for (size_t c = 0; c < a->n; c += REDIS_ZADD_CHUNK) {
        size_t m = a->n - c < REDIS_ZADD_CHUNK ? a->n - c : REDIS_ZADD_CHUNK;
        redis_cmd_begin(p, 2 + 2 * m);
        redis_cmd_arg(p, "ZADD", 4);
        redis_cmd_arg(p, a->key, kl);
        for (size_t i = c; i < c + m; i++) {
            char num[32];
            int len = snprintf(num, sizeof(num), "%.17g", a->scores[i]);
            redis_cmd_arg(p, num, (size_t)len);
            len = snprintf(num, sizeof(num), "%lld", (long long)a->ids[i]);
            redis_cmd_arg(p, num, (size_t)len);
        }
        nrep++;
    }
    redis_cmd_begin(p, 1);
    redis_cmd_arg(p, "EXEC", 4);
    return nrep;
}

/* MULTI answers OK, every queued command QUEUED, EXEC one reply each. */
static int redis_rank_consume(store_t *st, redisReply **rep, size_t nrep, size_t lo, size_t hi, void *arg)
{
    const redis_rank_arg_t *a = arg;
    (void)lo;
    (void)hi;
    for (size_t i = 0; i + 1 < nrep; i++)
        if (rep[i]->type == REDIS_REPLY_ERROR) {
            if (strncmp(rep[i]->str, "NOPERM", 6) == 0) /* MULTI, DEL, ZADD... in order */
                return redis_reply_error(st, rep[i]->str, i == 0 ? "MULTI" : i == 1 ? "DEL" : "ZADD", a->key, a->key);
            return store_set_error(st, redis_reply_code(rep[i]->str), "replacing %s on %s: %.200s", a->key, st->url,
                                   rep[i]->str);
        }
    const redisReply *x = rep[nrep - 1];
    /* a refused EXEC answers "EXECABORT ... NOPERM ... 'exec' command" */
    if (x->type == REDIS_REPLY_ERROR && strstr(x->str, "NOPERM"))
        return redis_reply_error(st, strstr(x->str, "NOPERM"), "EXEC", NULL, NULL);
    if (x->type != REDIS_REPLY_ARRAY)
        return store_set_error(st, STORE_E_PROTOCOL, "replacing %s on %s: transaction aborted (%.200s)", a->key,
                               st->url, x->type == REDIS_REPLY_ERROR ? x->str : "no EXEC result");
    for (size_t j = 0; j < x->elements; j++)
        if (x->element[j]->type == REDIS_REPLY_ERROR)
            return store_set_error(st, STORE_E_PROTOCOL, "replacing %s on %s: %.200s", a->key, st->url,
                                   x->element[j]->str);
    return 0;
}

static const redis_pipe_ops_t redis_rank_ops = {"replacing a ranking", redis_rank_encode, redis_rank_consume, NULL};

static int redis_put_ranking(store_t *st, const char *name, const int64_t *ids, const double *scores, size_t n)
{
    char key[512];
    snprintf(key, sizeof(key), "%s%s", st->opts.key_prefix ? st->opts.key_prefix : "", name);
    redis_rank_arg_t a = {key, ids, scores, n};
    size_t done = 0;
    return redis_pipeline(st, 1, &redis_rank_ops, &a, &done);
}

/* MSET of the result mirror documents of r[lo..hi). */
static size_t redis_put_results_encode(store_t *st, redis_priv_t *p, size_t lo, size_t hi, void *arg)
{
    const result_t *res = arg;
    char key[TRADE_KEY_MAX];
    size_t nrep = redis_mset_begin(p, hi - lo);
    for (size_t i = lo; i < hi; i++) {
        int kl = redis_key_fits(trade_result_key(key, sizeof(key), st->opts.key_prefix, res[i].trade_id));
        redis_put_doc(p, key, (size_t)kl, redis_fmt_result, &res[i]);
    }
    return nrep;
}

static const redis_pipe_ops_t redis_put_results_ops = {"writing results", redis_put_results_encode,
                                                       redis_mset_res_consume, NULL};

/* Write result mirrors r[0..n) (overwrite). Returns 0 or STORE_E_*. */
static int redis_put_results(store_t *st, const result_t *r, size_t n)
{
    size_t done = 0;
    return redis_pipeline(st, n, &redis_put_results_ops, (void *)r, &done);
}

/* State of one get_results call. */
typedef struct redis_getres_arg {
    const int64_t *ids;  /* requested ids */
    result_t *out;       /* one result per id */
    int *found;          /* 1 when present and well-formed */
} redis_getres_arg_t;

/* GETRANGE key 0 TRADE_DOC_MAX of the result keys of ids[lo..hi): like
 * trade reads, a huge value under a result key never crosses the wire
 * whole, and replies are consumed one at a time. */
static size_t redis_get_results_encode(store_t *st, redis_priv_t *p, size_t lo, size_t hi, void *arg)
{
    redis_getres_arg_t *a = arg;
    char key[TRADE_KEY_MAX], end[24];
    int el = snprintf(end, sizeof(end), "%d", TRADE_DOC_MAX);
    for (size_t i = lo; i < hi; i++) {
        int kl = redis_key_fits(trade_result_key(key, sizeof(key), st->opts.key_prefix, a->ids[i]));
        redis_cmd_begin(p, 4);
        redis_cmd_arg(p, "GETRANGE", 8);
        redis_cmd_arg(p, key, (size_t)kl);
        redis_cmd_arg(p, "0", 1);
        redis_cmd_arg(p, end, (size_t)el);
    }
    return hi - lo;
}

/* A value that is absent (""), not a string (WRONGTYPE), too large,
 * malformed or for another trade gives found = 0 (and a failed result
 * record). Any other error reply fails the read. */
static int redis_get_results_each(store_t *st, redisReply *e, size_t k, size_t lo, size_t hi, void *arg)
{
    redis_getres_arg_t *a = arg;
    size_t i = lo + k;
    char why[128];
    (void)hi;
    if (redis_redirected(st->priv, e, i))
        return 0;
    if (e->type == REDIS_REPLY_ERROR && strncmp(e->str, "WRONGTYPE", 9) != 0) {
        char glob[300], acl[300];
        redis_globs(st, NULL, glob, acl, sizeof(glob));
        return redis_reply_error(st, e->str, "GETRANGE", glob, acl);
    }
    a->found[i] = e->type == REDIS_REPLY_STRING && e->len > 0 && e->len <= TRADE_DOC_MAX &&
                  result_parse(e->str, e->len, &a->out[i], why, sizeof(why)) == 0 && a->out[i].trade_id == a->ids[i];
    if (!a->found[i])
        result_fail(&a->out[i], a->ids[i], FS_E_NOT_FOUND, -1);
    return 0;
}

static const redis_pipe_ops_t redis_get_results_ops = {"reading results", redis_get_results_encode, NULL,
                                                       redis_get_results_each};

/* Read result mirrors for ids[0..n). Returns 0 or STORE_E_* (found[] is then
 * 0 for the results not read). */
static int redis_get_results(store_t *st, const int64_t *ids, size_t n, result_t *out, int *found)
{
    redis_getres_arg_t a = {.ids = ids, .out = out, .found = found};
    size_t done = 0;
    int rc = redis_pipeline(st, n, &redis_get_results_ops, &a, &done);
    if (rc != 0)
        for (size_t i = done; i < n; i++) {
            found[i] = 0;
            result_fail(&out[i], ids[i], FS_E_STORE, -1);
        }
    return rc;
}

/* Ascending order for qsort. */
static int redis_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* If key is exactly trade_key(prefix, id) for some id, store the id in *id
 * and return 1; otherwise (result keys, other names) return 0. */
static int redis_key_to_id(const char *key, size_t len, const char *prefix, size_t plen, int64_t *id)
{
    char buf[32], canon[320];
    if (len < plen + 2 + 4 + 1 || memcmp(key, prefix, plen) != 0 || key[plen] != 'e' || key[plen + 1] != 'y')
        return 0;
    size_t dl = len - plen - 2 - 4;
    if (dl >= sizeof(buf) || memcmp(key + len - 4, ".xml", 4) != 0)
        return 0;
    memcpy(buf, key + plen + 2, dl);
    buf[dl] = 0;
    for (size_t i = 0; i < dl; i++)
        if (!isdigit((unsigned char)buf[i]))
            return 0;
    if (fs_parse_i64(buf, id) != 0 || *id < 0)
        return 0;
    int cl = trade_key(canon, sizeof(canon), prefix, *id);
    return (size_t)cl == len && memcmp(canon, key, len) == 0;
}

/* State of a SCAN for list_trades. */
typedef struct redis_list_arg {
    int64_t *ids;  /* collected ids (malloc'ed) */
    size_t n;      /* ids used */
    size_t cap;    /* ids allocated */
} redis_list_arg_t;

/* One complete SCAN over the keys matching <prefix>ey*.xml, collecting the
 * ids of trade keys into a (restarted from empty). Returns 0 or STORE_E_*
 * (STORE_E_CONNECT: the connection was lost and the scan may be redone). */
static int redis_list_scan(store_t *st, redis_priv_t *p, redis_list_arg_t *a)
{
    const char *prefix = st->opts.key_prefix ? st->opts.key_prefix : "";
    size_t plen = strlen(prefix);
    char *pattern = xmalloc(2 * plen + 8);
    size_t o = 0;
    for (size_t i = 0; i < plen; i++) { /* escape glob characters of the prefix */
        if (strchr("*?[]\\", prefix[i]))
            pattern[o++] = '\\';
        pattern[o++] = prefix[i];
    }
    memcpy(pattern + o, "ey*.xml", 8);
    char cursor[32] = "0";
    int rc = 0;
    a->n = 0;
    do {
        const char *argv[6] = {"SCAN", cursor, "MATCH", pattern, "COUNT", REDIS_SCAN_COUNT};
        redisReply *r = NULL;
        if ((rc = redis_call(st, p, 6, argv, "SCAN", &r)) != 0)
            break;
        st->stats.round_trips++;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            rc = r->type == REDIS_REPLY_ERROR ? redis_reply_error(st, r->str, "SCAN", NULL, NULL)
                                              : store_set_error(st, STORE_E_PROTOCOL, "SCAN on %s: unexpected reply",
                                                                st->url);
            freeReplyObject(r);
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        for (size_t k = 0; k < keys->elements; k++) {
            redisReply *e = keys->element[k];
            int64_t id;
            if (e->type != REDIS_REPLY_STRING || !redis_key_to_id(e->str, e->len, prefix, plen, &id))
                continue;
            if (a->n == a->cap) {
                a->cap = a->cap ? 2 * a->cap : 1024;
                a->ids = xrealloc(a->ids, a->cap * sizeof(*a->ids));
            }
            a->ids[a->n++] = id;
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    free(pattern);
    return rc;
}

/* List every trade id under the key prefix, ascending and without
 * duplicates (SCAN may return a key twice). *ids is malloc'ed (NULL when
 * none); the caller frees it. Returns 0 or STORE_E_*. */
static int redis_list_trades(store_t *st, int64_t **ids, size_t *n)
{
    redis_priv_t *p = st->priv;
    redis_list_arg_t a = {0};
    int rc = 0;
    *ids = NULL;
    *n = 0;
    /* A lost connection restarts the scan from cursor 0: SCAN cursors do
     * not carry over between connections' views of a changing keyspace. */
    for (int attempt = 0;;) {
        if ((rc = redis_ensure(st, p)) == 0 && (rc = redis_prefetch_drain(st, p, "listing trades")) == 0 &&
            (rc = redis_list_scan(st, p, &a)) == 0)
            break;
        if (!redis_retry(st, p, rc, &attempt)) {
            free(a.ids);
            return rc;
        }
    }
    redis_outage_end(st, p);
    if (a.n > 1) {
        qsort(a.ids, a.n, sizeof(*a.ids), redis_cmp_i64);
        size_t u = 1;
        for (size_t i = 1; i < a.n; i++)
            if (a.ids[i] != a.ids[u - 1])
                a.ids[u++] = a.ids[i];
        a.n = u;
    }
    *ids = a.ids;
    *n = a.n;
    return 0;
}

/* The operations on one node; store_backend_redis (cluster.c) wraps them. */
const store_backend_t redis_node_backend = {
    .name = "redis",
    .accepts = redis_accepts,
    .open = redis_open,
    .close = redis_close,
    .reconnect = redis_reconnect,
    .get_trades = redis_get_trades,
    .prefetch_trades = redis_prefetch_trades,
    .put_trades = redis_put_trades,
    .put_trade_docs = redis_put_trade_docs,
    .put_ranking = redis_put_ranking,
    .put_results = redis_put_results,
    .get_results = redis_get_results,
    .list_trades = redis_list_trades,
    .describe = redis_describe,
    .command = redis_command,
};
