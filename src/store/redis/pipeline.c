/* pipeline.c - Redis store pipelines: the RESP command buffer and batches on the wire. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"

#include "finsim/base/util.h"

/* Make room for extra more bytes in the command buffer (aborts on OOM). */
static void redis_cmd_reserve(redis_priv_t *p, size_t extra)
{
    if (p->cmd_len + extra <= p->cmd_cap)
        return;
    size_t cap = p->cmd_cap ? p->cmd_cap : 65536;
    while (cap < p->cmd_len + extra)
        cap *= 2;
    p->cmd = xrealloc(p->cmd, cap);
    p->cmd_cap = cap;
}

/* Append "<mark><n>\r\n" (mark '*' or '$'); room must have been reserved. */
static void redis_cmd_num(redis_priv_t *p, char mark, size_t n)
{
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    char *o = p->cmd + p->cmd_len;
    *o++ = mark;
    while (k)
        *o++ = tmp[--k];
    *o++ = '\r';
    *o++ = '\n';
    p->cmd_len = (size_t)(o - p->cmd);
}

/* Append one bulk-string argument. */
void redis_cmd_arg(redis_priv_t *p, const char *s, size_t len)
{
    redis_cmd_reserve(p, len + 32);
    redis_cmd_num(p, '$', len);
    memcpy(p->cmd + p->cmd_len, s, len);
    p->cmd_len += len;
    p->cmd[p->cmd_len++] = '\r';
    p->cmd[p->cmd_len++] = '\n';
}

/* Start a command of argc arguments. */
void redis_cmd_begin(redis_priv_t *p, size_t argc)
{
    if (p->asking) { /* the one-off permission for an importing slot (redis_recv skips its +OK) */
        redis_cmd_reserve(p, 32);
        redis_cmd_num(p, '*', 1);
        redis_cmd_arg(p, "ASKING", 6);
    }
    redis_cmd_reserve(p, 32);
    redis_cmd_num(p, '*', argc);
}

/* One batch on the wire: its items and reply count. */
typedef struct redis_inflight {
    size_t lo;   /* first item */
    size_t hi;   /* one past the last item */
    size_t nrep; /* replies expected */
} redis_inflight_t;

/* Run ops over items [0, n) in batches of opts.batch, keeping up to
 * REDIS_PIPE_DEPTH batches on the wire so that encoding, the network and
 * the server overlap. Replies are consumed in order. When the connection is
 * lost, the batches not yet consumed are sent again after a reconnect
 * (every command we batch is idempotent: GETRANGE, TYPE, MSET, and
 * the ranking's MULTI DEL ZADD... EXEC, which replaces the whole set), at
 * most opts.retries times in a row without progress, or, with
 * opts.retry_s, for as long as the outage window lasts (redis_retry). A
 * reply of STORE_E_CONNECT's kind (READONLY: the node became a replica in a
 * failover; LOADING; MASTERDOWN) is treated the same: reconnect (the host
 * name is resolved again), authenticate, resend. p->on_sent (cluster.c),
 * when set, runs once, after the first batches are written and before the
 * first reply is read. *done receives the number of items consumed.
 * Returns 0 or the final STORE_E_* code with st->errstr set. */
int redis_pipeline(store_t *st, size_t n, const redis_pipe_ops_t *ops, void *arg, size_t *done)
{
    redis_priv_t *p = st->priv;
    size_t b = (size_t)st->opts.batch, acked = 0, fail_acked = (size_t)-1;
    int attempt = 0, rc = 0;
    *done = 0;
    while (acked < n) {
        if ((rc = redis_ensure(st, p)) != 0) {
            if (st->opts.retry_s > 0 && redis_retry(st, p, rc, &attempt))
                continue; /* still inside the outage window */
            if (attempt > 0) {
                char tmp[sizeof(st->errstr)];
                snprintf(tmp, sizeof(tmp), "%s", st->errstr);
                store_set_error(st, rc, "lost the connection while %s and could not reconnect: %s", ops->what, tmp);
            }
            return rc;
        }
        redis_inflight_t fl[REDIS_PIPE_DEPTH];
        int head = 0, count = 0;
        size_t sent = acked;
        rc = redis_prefetch_drain(st, p, ops->what); /* a loss here is this attempt's */
        while (rc == 0 && acked < n) {
            while (count < REDIS_PIPE_DEPTH && sent < n) {
                redis_inflight_t *f = &fl[(head + count) % REDIS_PIPE_DEPTH];
                f->lo = sent;
                f->hi = n - sent < b ? n : sent + b;
                p->cmd_len = 0;
                f->nrep = ops->encode(st, p, f->lo, f->hi, arg);
                if ((rc = redis_send(st, p, ops->what)) != 0)
                    break;
                count++;
                sent = f->hi;
            }
            if (rc != 0)
                break;
            if (p->on_sent) { /* a cluster node: the other masters get their batches before we wait here */
                void (*hook)(void *) = p->on_sent;
                p->on_sent = NULL;
                hook(p->on_sent_arg);
            }
            redis_inflight_t f = fl[head];
            if (ops->each) {
                for (size_t k = 0; k < f.nrep; k++) {
                    if ((rc = redis_recv(st, p, 1, ops->what)) != 0)
                        break; /* connection lost or timed out: the retry logic below */
                    rc = ops->each(st, p->rep[0], k, f.lo, f.hi, arg);
                    freeReplyObject(p->rep[0]);
                    if (rc != 0) {
                        redis_drop(p); /* replies still on the wire */
                        if (rc != STORE_E_CONNECT)
                            return rc;
                        break; /* e.g. READONLY: the retry logic below */
                    }
                }
                if (rc != 0)
                    break;
            } else {
                if ((rc = redis_recv(st, p, f.nrep, ops->what)) != 0)
                    break;
                rc = ops->consume(st, p->rep, f.nrep, f.lo, f.hi, arg);
                for (size_t k = 0; k < f.nrep; k++)
                    freeReplyObject(p->rep[k]);
            }
            if (rc != 0) {
                redis_drop(p); /* replies of later batches are still on the wire */
                if (rc != STORE_E_CONNECT)
                    return rc;
                break; /* a reply that means "not here, not now" (READONLY after a failover): reconnect, resend */
            }
            redis_outage_end(st, p);
            acked = f.hi;
            *done = acked;
            head = (head + 1) % REDIS_PIPE_DEPTH;
            count--;
        }
        if (rc == 0)
            break;
        if (acked != fail_acked) { /* progress since the last loss: a fresh budget */
            attempt = 0;
            fail_acked = acked;
        }
        if (!redis_retry(st, p, rc, &attempt))
            return rc;
    }
    return 0;
}
