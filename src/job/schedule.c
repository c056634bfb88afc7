/* schedule.c - who prices which trades: static windows decided up front
 * (by count or by cost) or dynamic chunks handed out by rank 0; progress. */
#include <inttypes.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "finsim/base/mpi.h"
#include "finsim/base/stop.h"
#include "finsim/base/util.h"
#include "job_int.h"

/* Rank 0: show trades done / total, rate and ETA (every 0.5 s on a
 * terminal, else every --progress seconds; final: now, whatever the time),
 * and write a progress event. */
void job_progress_show(job_t *s, int final)
{
    double now = fs_now();
    if (!final && s->cfg->progress_interval <= 0)
        return;
    double interval = s->tty ? 0.5 : s->cfg->progress_interval;
    if (!final && now - s->t_last_progress < interval)
        return;
    s->t_last_progress = now;
    double el = now - s->t_start;
    double rate = el > 0 ? (double)s->done_global / el : 0;
    double eta = rate > 0 ? (double)(s->total - s->done_global) / rate : 0;
    if (s->cfg->progress_interval > 0 && !s->cfg->quiet) {
        if (s->tty)
            fprintf(stderr, "\rfinsim: %" PRId64 "/%" PRId64 " trades (%.1f%%)  %.0f trades/s  ETA %.0f s   %s",
                    s->done_global, s->total, s->total ? 100.0 * (double)s->done_global / (double)s->total : 100.0,
                    rate, eta, final ? "\n" : "");
        else
            fprintf(stderr, "finsim: progress %" PRId64 "/%" PRId64 " trades (%.1f%%), %.0f trades/s, ETA %.0f s\n",
                    s->done_global, s->total, s->total ? 100.0 * (double)s->done_global / (double)s->total : 100.0,
                    rate, eta);
    }
    job_events_write(s, "\"event\":\"progress\",\"done\":%" PRId64 ",\"total\":%" PRId64
                        ",\"rate\":%.3f,\"eta_s\":%.3f", s->done_global, s->total, rate, eta);
}

/* Rank 0: the job stops (signal sig, on this rank or another): tell every
 * other rank once, without blocking (completed in stop_agree). */
static void stop_begin(job_t *s, int sig)
{
    if (s->stop_sig)
        return;
    s->stop_sig = sig;
    s->stop_val = sig;
    if (s->nranks < 2)
        return;
    MPI_Request *rq = xmalloc(sizeof(MPI_Request) * (size_t)s->nranks);
    rq[0] = MPI_REQUEST_NULL;
    for (int r = 1; r < s->nranks; r++)
        MPI_Isend(&s->stop_val, 1, MPI_INT64_T, r, TAG_STOP, MPI_COMM_WORLD, &rq[r]);
    s->stop_rq = rq;
}

int job_stop_check(job_t *s)
{
    if (s->stop_sig)
        return 1;
    int sig = fs_stop_requested();
    if (s->rank == 0) {
        if (sig)
            stop_begin(s, sig);
        return s->stop_sig != 0; /* other ranks' TAG_STOP: seen by service() */
    }
    if (sig) {
        int64_t v = sig;
        s->stop_sig = sig;
        MPI_Send(&v, 1, MPI_INT64_T, 0, TAG_STOP, MPI_COMM_WORLD);
        return 1;
    }
    int flag = 0;
    MPI_Iprobe(0, TAG_STOP, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    if (flag) {
        int64_t v = 0;
        MPI_Recv(&v, 1, MPI_INT64_T, 0, TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        s->stop_sig = (int)v;
        s->stop_got = 1;
    }
    return s->stop_sig != 0;
}

/* After the schedule, every rank learns whether the job stopped (rank 0
 * decides: a stop asked for before every trade was done) and the TAG_STOP
 * messages are matched. Returns 1 when stopped. */
static int stop_agree(job_t *s)
{
    int64_t v[2] = {s->stop_sig && s->done_global < s->total, s->stop_rq != NULL};
    if (s->rank == 0 && s->stop_sig && !v[0] && !s->cfg->quiet)
        fs_info("%s came after the last batch: the run finishes", fs_stop_name(s->stop_sig));
    MPI_Bcast(v, 2, MPI_INT64_T, 0, MPI_COMM_WORLD);
    if (s->rank != 0 && v[1] && !s->stop_got) {
        int64_t sig = 0;
        MPI_Recv(&sig, 1, MPI_INT64_T, 0, TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        s->stop_got = 1;
        if (!s->stop_sig)
            s->stop_sig = (int)sig;
    }
    if (s->stop_rq) {
        MPI_Waitall(s->nranks, (MPI_Request *)s->stop_rq, MPI_STATUSES_IGNORE);
        free(s->stop_rq);
        s->stop_rq = NULL;
    }
    return (int)v[0];
}

/* Rank 0: answer chunk requests and collect progress without blocking
 * (block = 1: wait for one message). */
static void service(job_t *s, int block)
{
    for (;;) {
        int flag = 0;
        MPI_Status stt;
        if (block)
            MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &stt), flag = 1;
        else
            MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &stt);
        if (!flag)
            return;
        block = 0;
        int64_t v = 0;
        MPI_Recv(&v, 1, MPI_INT64_T, stt.MPI_SOURCE, stt.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (stt.MPI_TAG == TAG_PROGRESS) {
            s->done_global += v;
        } else if (stt.MPI_TAG == TAG_DONE) {
            s->done_ranks++;
        } else if (stt.MPI_TAG == TAG_STOP) {
            stop_begin(s, (int)v); /* a rank got the signal: tell them all */
        } else if (stt.MPI_TAG == TAG_REQ) {
            int64_t w[2] = {s->next_chunk, 0};
            if (s->stop_sig) {
                w[0] = -1; /* no more chunks: stopping */
            } else if (s->next_chunk < s->total) {
                w[1] = s->total - s->next_chunk < s->chunk ? s->total - s->next_chunk : s->chunk;
                s->next_chunk += w[1];
            }
            MPI_Send(w, 2, MPI_INT64_T, stt.MPI_SOURCE, TAG_CHUNK, MPI_COMM_WORLD);
            if (w[1] && s->all_ids) {
                /* not a blocking send: the rank takes the ids only after its
                 * current chunk, and in gather mode it may wait for rank 0
                 * to take its rows first. all_ids outlives the schedule. */
                MPI_Request rq;
                MPI_Isend(s->all_ids + w[0], (int)w[1], MPI_INT64_T, stt.MPI_SOURCE, TAG_IDS, MPI_COMM_WORLD, &rq);
                MPI_Request_free(&rq);
            }
        }
    }
}

/* Rank 0 counts its own trades and serves the others; they send a count. */
void job_progress_add(job_t *s, int64_t n)
{
    if (s->rank == 0) {
        s->done_global += n;
        service(s, 0);
        char err[256]; /* gather mode: take the rows that came; a failed write shows at the next one */
        (void)h5out_poll(s->out, err, sizeof(err));
        job_progress_show(s, 0);
    } else {
        /* Not a blocking send: it could only complete by eager buffering
         * while rank 0 is inside an HDF5 collective call. Trades done while
         * the last message is still in flight go with the next one. */
        s->prog_pending += n;
        int idle = 1;
        if (s->prog_rq != MPI_REQUEST_NULL)
            MPI_Test(&s->prog_rq, &idle, MPI_STATUS_IGNORE);
        if (idle && s->prog_pending) {
            s->prog_buf = s->prog_pending;
            s->prog_pending = 0;
            MPI_Isend(&s->prog_buf, 1, MPI_INT64_T, 0, TAG_PROGRESS, MPI_COMM_WORLD, &s->prog_rq);
        }
    }
}

void job_progress_flush(job_t *s)
{
    if (s->rank == 0)
        return;
    MPI_Wait(&s->prog_rq, MPI_STATUS_IGNORE); /* returns at once for MPI_REQUEST_NULL */
    if (s->prog_pending) {
        s->prog_buf = s->prog_pending;
        s->prog_pending = 0;
        MPI_Isend(&s->prog_buf, 1, MPI_INT64_T, 0, TAG_PROGRESS, MPI_COMM_WORLD, &s->prog_rq);
        MPI_Wait(&s->prog_rq, MPI_STATUS_IGNORE);
    }
}

void job_progress_drop(job_t *s)
{
    if (s->prog_rq == MPI_REQUEST_NULL)
        return;
    int done = 0;
    MPI_Test(&s->prog_rq, &done, MPI_STATUS_IGNORE);
    if (!done) {
        MPI_Cancel(&s->prog_rq);
        MPI_Wait(&s->prog_rq, MPI_STATUS_IGNORE); /* local once cancelled */
    }
}

/* Give every rank its window [offset, offset+count) from bounds (rank 0)
 * and, in list mode, its ids; counts may exceed int: sent in pieces.
 * w->ids is malloc'ed in list mode (caller frees). */
static void scatter_windows(job_t *s, const int64_t *bounds, window_t *w)
{
    int64_t mine[2];
    int64_t *sendbuf = NULL;
    if (s->rank == 0) {
        sendbuf = xmalloc(2 * sizeof(int64_t) * (size_t)s->nranks);
        for (int r = 0; r < s->nranks; r++) {
            sendbuf[2 * r] = bounds[r];
            sendbuf[2 * r + 1] = bounds[r + 1] - bounds[r];
        }
    }
    MPI_Scatter(sendbuf, 2, MPI_INT64_T, mine, 2, MPI_INT64_T, 0, MPI_COMM_WORLD);
    *w = (window_t){.offset = mine[0], .count = mine[1], .ids = NULL};
    if (s->cfg->list_mode) {
        const int64_t *list_ids = s->list.ids;
        w->ids = xmalloc(sizeof(int64_t) * (size_t)(mine[1] ? mine[1] : 1));
        if (s->rank == 0) {
            memcpy(w->ids, list_ids + mine[0], sizeof(int64_t) * (size_t)mine[1]);
            for (int r = 1; r < s->nranks; r++)
                for (int64_t o = 0; o < sendbuf[2 * r + 1]; o += 1 << 24) {
                    int64_t k = sendbuf[2 * r + 1] - o < (1 << 24) ? sendbuf[2 * r + 1] - o : (1 << 24);
                    MPI_Send(list_ids + sendbuf[2 * r] + o, (int)k, MPI_INT64_T, r, TAG_IDS, MPI_COMM_WORLD);
                }
        } else {
            for (int64_t o = 0; o < mine[1]; o += 1 << 24) {
                int64_t k = mine[1] - o < (1 << 24) ? mine[1] - o : (1 << 24);
                MPI_Recv(w->ids + o, (int)k, MPI_INT64_T, 0, TAG_IDS, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            }
        }
    }
    free(sendbuf);
}

/* Static schedule: windows per rank decided by rank 0 (bounds) and
 * scattered. */
static int run_static(job_t *s, const int64_t *bounds)
{
    window_t w;
    scatter_windows(s, bounds, &w);
    /* collective writes: every rank takes part in as many write rounds as
     * the rank with the most batches, agreed before the first (HDF5's own
     * collectives run inside each write; a failed rank aborts the job) */
    int64_t b = s->cfg->batch, nb = (w.count + b - 1) / b, most = nb;
    if (s->wmode == H5W_COLLECTIVE)
        MPI_Allreduce(&nb, &most, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
    int64_t before = s->batches;
    int rc = job_do_window(s, &w);
    free(w.ids);
    /* a stopped rank ran fewer batches: it still takes part in every round */
    for (int64_t i = s->batches - before; i < most && rc == 0; i++)
        if (h5out_write_rows(s->out, 0, s->res, 0, s->err, sizeof(s->err)) != 0) {
            s->fatal = JOB_E_IO;
            rc = -1;
        }
    return rc;
}

/* Rank 0 of the dynamic schedule: price its own chunks, answering the
 * other ranks' requests between batches. */
static int dynamic_root(job_t *s)
{
    int rc = 0;
    while (rc == 0) {
        service(s, 0);
        if (job_stop_check(s) || s->next_chunk >= s->total)
            break;
        window_t w = {.offset = s->next_chunk, .count = s->chunk};
        if (w.count > s->total - w.offset)
            w.count = s->total - w.offset;
        s->next_chunk += w.count;
        w.ids = s->all_ids ? s->all_ids + w.offset : NULL;
        rc = job_do_window(s, &w);
    }
    return rc;
}

/* Dynamic schedule: chunks handed out on demand by rank 0 (which also
 * prices). Other ranks keep one request in flight so they rarely wait. */
static int run_dynamic(job_t *s)
{
    if (s->rank == 0)
        return dynamic_root(s);
    int rc = 0;
    int64_t req = 0, w[2];
    int64_t *ids = s->cfg->list_mode ? xmalloc(sizeof(int64_t) * (size_t)s->chunk) : NULL;
    MPI_Send(&req, 1, MPI_INT64_T, 0, TAG_REQ, MPI_COMM_WORLD);
    for (;;) {
        MPI_Recv(w, 2, MPI_INT64_T, 0, TAG_CHUNK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (w[1] == 0)
            break;
        if (ids)
            MPI_Recv(ids, (int)w[1], MPI_INT64_T, 0, TAG_IDS, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        window_t win = {.offset = w[0], .count = w[1], .ids = NULL};
        if (ids) {
            win.ids = xmalloc(sizeof(int64_t) * (size_t)w[1]);
            memcpy(win.ids, ids, sizeof(int64_t) * (size_t)w[1]);
        }
        MPI_Send(&req, 1, MPI_INT64_T, 0, TAG_REQ, MPI_COMM_WORLD); /* prefetch the next chunk */
        rc = job_do_window(s, &win);
        free(win.ids);
        if (rc)
            break;
        if (s->stop_sig) {
            /* stopping: take the answer to the prefetch, price nothing more */
            MPI_Recv(w, 2, MPI_INT64_T, 0, TAG_CHUNK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            if (w[1] && ids)
                MPI_Recv(ids, (int)w[1], MPI_INT64_T, 0, TAG_IDS, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            break;
        }
    }
    free(ids);
    return rc;
}

/* Rank 0, --resume: cut the list into nranks windows that hold equal
 * shares of the work that remains. Reads the mirror and the trades once
 * (in batches, into the job's batch buffers, before any pricing): a trade
 * whose mirrored result will be taken (job_mirror_usable) weighs almost
 * nothing (its row is still read and written), any other weighs 1, or
 * 1 + paths x t_steps with --balance cost. Rows keep their offsets and
 * results depend only on seed and id, so the output is the same. Returns
 * JOB_OK with bounds[nranks + 1] and *left (trades to price), or the
 * store's status with s->err set. */
static int resume_bounds(job_t *s, int64_t *bounds, int64_t *left)
{
    const run_cfg_t *c = s->cfg;
    int64_t total = s->total, b = c->batch;
    double *cum = xmalloc(sizeof(double) * (size_t)(total + 1));
    int status = JOB_OK;
    cum[0] = 0;
    *left = 0;
    for (int64_t off = 0; off < total && status == JOB_OK; off += b) {
        size_t n = (size_t)(total - off < b ? total - off : b);
        for (size_t i = 0; i < n; i++)
            s->ids[i] = tl_id(&s->list, (size_t)off + i);
        int rc = store_get_results(s->st, s->ids, n, s->prev, s->found);
        if (rc == STORE_E_NOTSUP) {
            for (size_t i = 0; i < n; i++)
                s->found[i] = 0;
            rc = STORE_OK;
        }
        if (rc == STORE_OK)
            rc = store_get_trades(s->st, s->ids, n, s->slots);
        if (rc != STORE_OK) {
            status = job_store_status(rc);
            fs_seterr(s->err, sizeof(s->err), "reading the result mirror and trades of %s to balance the resume: %s",
                      store_describe(s->st), store_errstr(s->st));
            break;
        }
        for (size_t i = 0; i < n; i++) {
            const trade_slot_t *sl = &s->slots[i];
            double w;
            if (s->found[i] && job_mirror_usable(s, &s->prev[i], sl, s->ids[i])) {
                w = 1.0 / 64; /* taken from the mirror: read and written only */
            } else {
                w = 1;
                if (c->balance == RUN_BALANCE_COST && sl->status == FS_OK)
                    w += (double)(c->mo.paths > 0 ? c->mo.paths : sl->trade.trials) * sl->trade.t_steps;
                (*left)++;
            }
            cum[off + (int64_t)i + 1] = cum[off + (int64_t)i] + w;
        }
    }
    if (status == JOB_OK) {
        bounds[0] = 0;
        int64_t j = 0;
        for (int r = 1; r < s->nranks; r++) {
            double target = cum[total] * r / s->nranks;
            while (j < total && cum[j] < target)
                j++;
            bounds[r] = j;
        }
        bounds[s->nranks] = total;
    }
    free(cum);
    return status;
}

/* Rank 0: the static windows, by count or (--balance cost) by cost, or on
 * --resume by the work that remains (resume_bounds); all
 * ranks agree on the outcome. Returns JOB_OK with *bounds (rank 0,
 * malloc'ed: nranks + 1 rows), or the agreed status with s->fatal set. */
static int static_bounds(job_t *s, int64_t **bounds)
{
    const run_cfg_t *c = s->cfg;
    int bal = JOB_OK;
    *bounds = NULL;
    if (s->rank == 0) {
        *bounds = xmalloc(sizeof(int64_t) * (size_t)(s->nranks + 1));
        int64_t left = 0;
        if (c->resume && c->mirror && s->nranks > 1) {
            bal = resume_bounds(s, *bounds, &left);
            if (bal != JOB_OK)
                fs_error("%s", s->err);
            else if (!c->quiet)
                fs_info("resume: %" PRId64 " of %" PRId64 " trades left to price, shared over %d ranks", left,
                        s->total, s->nranks);
        } else if (c->balance == RUN_BALANCE_COST && s->nranks > 1) {
            bal = tl_cost_bounds(&s->list, s->st, c->batch, c->mo.paths, s->nranks, *bounds, s->err,
                                 sizeof(s->err));
            if (bal != JOB_OK)
                fs_error("%s", s->err);
        } else {
            for (int r = 0; r <= s->nranks; r++)
                (*bounds)[r] = s->total * r / s->nranks;
        }
    }
    int agreed = fs_mpi_agree(bal);
    if (agreed) {
        free(*bounds);
        *bounds = NULL;
        s->fatal = bal ? bal : JOB_E_STORE;
        return s->fatal;
    }
    return JOB_OK;
}

/* Rank 0, after its own trades: wait for every other rank's DONE (and, in
 * gather mode, for the rows of every rank, written as they come: a rank
 * may still wait for rank 0 to take them, so both are polled). Returns 0,
 * or -1 when writing received rows failed (s->err). */
static int wait_ranks(job_t *s)
{
    if (s->wmode != H5W_GATHER) {
        while (s->done_ranks < s->nranks - 1) {
            service(s, 1); /* the others send a message per batch: a signal is seen at the next */
            job_stop_check(s);
        }
        return 0;
    }
    while (s->done_ranks < s->nranks - 1 || h5out_pending(s->out) > 0) {
        int before = s->done_ranks, pend = h5out_pending(s->out);
        service(s, 0);
        job_stop_check(s);
        if (h5out_poll(s->out, s->err, sizeof(s->err)) != 0)
            return -1;
        if (s->done_ranks == before && h5out_pending(s->out) == pend) {
            struct timespec pause = {0, 200000}; /* nothing came: let the senders run */
            nanosleep(&pause, NULL);
        }
    }
    return 0;
}

/* Price with the configured schedule; on success rank 0 waits for every
 * rank's DONE (collecting the last progress messages). */
int job_schedule(job_t *s)
{
    const run_cfg_t *c = s->cfg;
    int rc = 0;
    if (c->schedule == RUN_DYNAMIC) {
        s->chunk = c->chunk > 0 ? c->chunk : s->total / ((int64_t)s->nranks * 16);
        if (s->chunk < 1)
            s->chunk = 1;
        if (s->chunk > c->batch)
            s->chunk = c->batch;
        s->all_ids = s->list.ids;
        rc = run_dynamic(s);
    } else {
        int64_t *bounds = NULL;
        if (static_bounds(s, &bounds) != JOB_OK)
            return s->fatal;
        rc = run_static(s, bounds);
        free(bounds);
    }
    if (rc != 0)
        return s->fatal ? s->fatal : JOB_E_INTERNAL;
    if (s->rank == 0) {
        if (wait_ranks(s) != 0)
            return JOB_E_IO;
        job_progress_show(s, 1);
    } else {
        int64_t zero = 0;
        h5out_end_rows(s->out); /* gather mode: all rows sent */
        job_progress_flush(s);  /* rank 0 counts it before the DONE (same source: in order) */
        MPI_Send(&zero, 1, MPI_INT64_T, 0, TAG_DONE, MPI_COMM_WORLD);
    }
    if (stop_agree(s)) {
        /* the mirror holds every finished batch; the output stays FILE.partial */
        store_flush(s->st);
        if (s->rank == 0) {
            fs_error("stopped by %s after %" PRId64 " of %" PRId64 " trades; %s", fs_stop_name(s->stop_sig),
                     s->done_global, s->total,
                     s->cfg->mirror ? "the results so far are mirrored: rerun with --resume"
                                    : "without a mirror (--no-mirror) a rerun prices every trade again");
            job_events_write(s, "\"event\":\"stopped\",\"signal\":\"%s\",\"done\":%" PRId64 ",\"total\":%" PRId64,
                             fs_stop_name(s->stop_sig), s->done_global, s->total);
        }
        return JOB_STOPPED;
    }
    return JOB_OK;
}
