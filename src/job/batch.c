/* batch.c - one batch of the job: fetch, price, mirror, write. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "finsim/base/util.h"
#include "job_int.h"

/* Print why a trade failed: the first 20 per rank, then one line saying
 * that the rest are only in the output file. Also with --quiet, which
 * keeps "the report and errors" (its help). */
static void log_failure(job_t *s, const result_t *r, const char *msg)
{
    char idstr[16];
    snprintf(idstr, sizeof(idstr), "%010" PRId64, r->trade_id);
    if (!msg || !*msg)
        msg = "failed";
    if (s->failures_logged < 20) {
        if (strstr(msg, idstr) || r->trade_id < 0)
            fs_error("%s (status %d %s)", msg, (int)r->status, fs_status_name(r->status));
        else
            fs_error("trade %s: %s (status %d %s)", idstr, msg, (int)r->status, fs_status_name(r->status));
    }
    else if (s->failures_logged == 20)
        fs_error("more failed trades on this rank are not listed; see status in the output file");
    s->failures_logged++;
}

/* A fatal store error of this rank: its status and message. Returns -1. */
static int batch_store_fail(job_t *s, int rc, const char *what)
{
    s->fatal = job_store_status(rc);
    return fs_seterr(s->err, sizeof(s->err), "%s %s: %s", what, store_describe(s->st), store_errstr(s->st));
}

/* --resume: take the results that the store's mirror already holds for
 * exactly these inputs. Every trade of the batch is fetched all the same:
 * a mirrored result counts only when its fingerprint (seed, algorithm,
 * kernel, paths, trade fields) equals that of the trade as it is now, so
 * results of another seed, or of trades regenerated since, are priced
 * again and the output equals an uninterrupted run. This part reads the
 * mirror into s->prev and marks s->found; returns 0 or -1 (fatal). */
static int batch_read_mirror(job_t *s, size_t n)
{
    int rc = store_get_results(s->st, s->ids, n, s->prev, s->found);
    if (rc == STORE_E_NOTSUP) {
        for (size_t i = 0; i < n; i++)
            s->found[i] = 0;
    } else if (rc != STORE_OK) {
        return batch_store_fail(s, rc, "reading result mirror from");
    }
    return 0;
}

/* Fetch the trades to price into s->slots: with --resume all of them (in
 * batch order), else those not found, compacted to the front. */
static int batch_fetch(job_t *s, size_t n, int resume)
{
    int64_t *need = s->ids + n; /* second half of the ids buffer */
    size_t m = 0;
    if (resume) {
        need = s->ids;
        m = n;
    } else {
        for (size_t i = 0; i < n; i++)
            if (!s->found[i])
                need[m++] = s->ids[i];
    }
    if (m) {
        int rc = store_get_trades(s->st, need, m, s->slots);
        if (rc != STORE_OK)
            return batch_store_fail(s, rc, "reading trades from");
    }
    return 0;
}

/* --resume: keep the mirrored results whose inputs match the trade as it
 * is now and this build (finsim version, kernel version, floating-point
 * flavour: mc_inputs_hash) and whose figures still match the digest they
 * carry (into s->res). The good ones that fail either check are stale
 * and priced again; a mirror written before digests existed has none and
 * is always stale. Returns how many were kept. */
int job_mirror_usable(const job_t *s, const result_t *p, const trade_slot_t *sl, int64_t id)
{
    return sl->status == FS_OK && p->trade_id == id && p->status == FS_OK && p->inputs != 0 &&
           p->inputs == mc_inputs_hash(&s->cfg->mo, &sl->trade) && p->digest != 0 && p->digest == result_digest(p);
}

static size_t batch_take_mirror(job_t *s, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (!s->found[i])
            continue;
        const result_t *p = &s->prev[i];
        const trade_slot_t *sl = &s->slots[i];
        /* an injected failure is rehearsed once: a trade whose mirror holds
         * one is priced for real this time (see DESIGN.md, failure injection) */
        s->rehearsed[i] = p->trade_id == s->ids[i] && p->status == FS_E_INJECTED;
        int ok = job_mirror_usable(s, p, sl, s->ids[i]);
        s->found[i] = ok;
        if (ok) {
            s->res[i] = *p;
            kept++;
        } else if (p->status == FS_OK) {
            s->tel.stale++; /* a good result, but of other inputs or altered */
        }
    }
    return kept;
}

/* Price the trades not taken from the mirror into s->res. Returns 0, or -1
 * when an injected failure ends this rank (what is done is mirrored). */
static int batch_price(job_t *s, size_t n, int resume)
{
    const run_cfg_t *c = s->cfg;
    double t0 = fs_now();
    size_t k = 0;
    mc_opts_t real = c->mo; /* for trades whose failure was rehearsed already */
    real.failure_p = 0.0;
    for (size_t i = 0; i < n; i++) {
        result_t *r = &s->res[i];
        if (s->found[i]) {
            s->tel.skipped++;
            continue;
        }
        trade_slot_t *sl = &s->slots[resume ? i : k++];
        if (sl->status != FS_OK) {
            result_fail(r, s->ids[i], sl->status, s->rank);
            log_failure(s, r, sl->msg);
        } else {
            r->rank = s->rank;
            mc_price(&sl->trade, s->rehearsed[i] ? &real : &c->mo, s->work, r);
            r->rank = s->rank;
            if (r->status == FS_E_INJECTED && c->failure_exit) {
                /* AzFinSim's tasks died here: mirror what is done and the
                 * failure itself (a --resume rerun then prices this trade
                 * for real: a failure is rehearsed once), then end the job */
                s->compute_s += fs_now() - t0;
                result_seal(r);
                if (c->mirror)
                    store_put_results(s->st, s->res, i + 1);
                fs_error("injected failure (--failure %g) on trade %010" PRId64 ": rank %d exits; "
                         "rerun with --resume to finish", c->mo.failure_p, r->trade_id, s->rank);
                s->fatal = JOB_E_INJECTED;
                return fs_seterr(s->err, sizeof(s->err), "injected failure");
            }
            if (r->status != FS_OK)
                log_failure(s, r, *mc_work_why(s->work) ? mc_work_why(s->work) : fs_status_name(r->status));
            s->tel.paths += r->paths;
        }
        result_seal(r);
    }
    s->compute_s += fs_now() - t0;
    return 0;
}

/* Mirror the newly priced results back to the store (the mirror holds the
 * old ones already; a trade absent from the store gets no mirror key). */
static int batch_mirror(job_t *s, size_t n)
{
    double t1 = fs_now();
    result_t *mir = s->prev;
    size_t q = 0;
    for (size_t i = 0; i < n; i++)
        if (!s->found[i] && s->res[i].status != FS_E_NOT_FOUND)
            mir[q++] = s->res[i];
    int rc = q ? store_put_results(s->st, mir, q) : STORE_OK;
    s->mirror_s += fs_now() - t1;
    if (rc != STORE_OK)
        return batch_store_fail(s, rc, "mirroring results to");
    return 0;
}

/* Price, mirror and write one batch: rows [row0, row0+n), ids in s->ids.
 * Returns 0, or -1 with s->fatal and s->err set. */
static int batch_run(job_t *s, int64_t row0, size_t n)
{
    const run_cfg_t *c = s->cfg;
    size_t todo = n;
    for (size_t i = 0; i < n; i++)
        s->found[i] = s->rehearsed[i] = 0;
    const int resume = c->resume && c->mirror;
    if (resume && batch_read_mirror(s, n) != 0)
        return -1;
    if (batch_fetch(s, n, resume) != 0)
        return -1;
    if (resume)
        todo -= batch_take_mirror(s, n);
    if (batch_price(s, n, resume) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s->res[i].status == FS_OK)
            s->tel.priced++;
        else
            s->tel.failed++;
        s->checksum += result_hash(&s->res[i]);
        /* the trade is in slot i (a resumed batch reads every trade) */
        const trade_slot_t *sl = &s->slots[i];
        portfolio_add(s->port, sl->status == FS_OK && sl->trade.id == s->res[i].trade_id ? &sl->trade : NULL,
                      &s->res[i]);
    }
    s->tel.trades += (int64_t)n;
    if (c->mirror && todo && batch_mirror(s, n) != 0)
        return -1;
    if (h5out_write_rows(s->out, row0, s->res, n, s->err, sizeof(s->err)) != 0) {
        s->fatal = JOB_E_IO;
        return -1;
    }
    job_progress_add(s, (int64_t)n);
    return 0;
}

/* The ids of the window's batch at off, n of them, into ids. */
static void batch_ids(const job_t *s, const window_t *w, int64_t off, size_t n, int64_t *ids)
{
    for (size_t i = 0; i < n; i++)
        ids[i] = w->ids ? w->ids[off + (int64_t)i] : s->cfg->start_trade + w->offset + off + (int64_t)i;
}

/* Process one window in batches of --batch trades, or fewer when a stop is
 * asked for (s->stop_sig set, returns 0). Before each batch the next one's
 * ids are announced to the store, which may send their reads while this
 * batch is parsed, priced and mirrored (store_prefetch_trades; every batch
 * fetches all of its trades, so the announced ids are exactly the next
 * fetch's). A stop or failure leaves those reads unused: the store drops
 * them with the connection or at close, and the batch is not counted. */
int job_do_window(job_t *s, const window_t *w)
{
    int64_t b = s->cfg->batch;
    for (int64_t off = 0; off < w->count; off += b) {
        if (job_stop_check(s))
            return 0; /* stopped between batches: the caller sees s->stop_sig */
        size_t n = (size_t)(w->count - off < b ? w->count - off : b);
        batch_ids(s, w, off, n, s->ids);
        if (off + b < w->count) {
            size_t m = (size_t)(w->count - off - b < b ? w->count - off - b : b);
            batch_ids(s, w, off + b, m, s->ids_next);
            store_prefetch_trades(s->st, s->ids_next, m);
        }
        if (batch_run(s, w->offset + off, n) != 0)
            return -1;
        s->batches++;
    }
    return 0;
}
