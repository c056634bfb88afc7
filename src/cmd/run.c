/* run.c - finsim run: the main MPI job.
 *
 *   rank 0: build the trade list (id range, every trade in the store, or an
 *           ids file) and hand out windows: static contiguous windows
 *           (balanced by count or by cost = paths x t_steps) or dynamic
 *           chunks on demand;
 *   every rank: fetch its trades in pipelined batches, price them, mirror
 *           the results back to the store and write them into its rows of
 *           the HDF5 results file (parallel HDF5, independent writes, or collective ones
 *           with --h5-write collective);
 *   end:    telemetry and provenance attributes, report on rank 0.
 * Memory per rank is one batch of trades and results, whatever the window. */
#define _GNU_SOURCE
#include "finsim/cmd/run.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "finsim/cmd/cli.h"
#include "finsim/base/config.h"
#include "finsim/base/config_build.h"
#include "finsim/base/options.h"
#include "finsim/cmd/settings.h"
#include "finsim/output/h5out.h"
#include "finsim/pricing/mc.h"
#include "finsim/store/store.h"
#include "finsim/base/util.h"

enum { TAG_REQ = 101, TAG_CHUNK = 102, TAG_IDS = 103, TAG_PROGRESS = 104, TAG_DONE = 105 };

/* ---- the trade list ------------------------------------------------------ */

/* A window of the trade list: rows [offset, offset+count) of the output;
 * ids come from the range (start + row) or from the explicit ids array. */
typedef struct window {
    int64_t offset;  /* first row */
    int64_t count;   /* rows */
    int64_t *ids;    /* explicit ids (count of them) or NULL for the range */
} window_t;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Read whitespace/comma separated trade ids from path. */
static int read_ids_file(const char *path, int64_t **ids, size_t *n, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f)
        return fs_seterr(err, errlen, "cannot open ids file %s: %s", path, strerror(errno));
    size_t cap = 1024, m = 0;
    int64_t *v = xmalloc(cap * sizeof(*v));
    char tok[64];
    int rc = 0;
    long line = 1;
    int c, len = 0;
    for (;;) {
        c = fgetc(f);
        if (c == EOF || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
            if (len) {
                tok[len] = '\0';
                int64_t id;
                if (fs_parse_i64(tok, &id) != 0 || id < 0 || id > TRADE_MAX_ID) {
                    rc = fs_seterr(err, errlen, "%s:%ld: '%s' is not a trade id", path, line, tok);
                    break;
                }
                if (m == cap)
                    v = xrealloc(v, (cap *= 2) * sizeof(*v));
                v[m++] = id;
                len = 0;
            }
            if (c == '\n')
                line++;
            if (c == EOF)
                break;
        } else if (c == '#' && len == 0) {
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            line++;
            if (c == EOF)
                break;
        } else if (len < (int)sizeof(tok) - 1) {
            tok[len++] = (char)c;
        } else {
            rc = fs_seterr(err, errlen, "%s:%ld: token too long", path, line);
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    if (rc) {
        free(v);
        return rc;
    }
    *ids = v;
    *n = m;
    return 0;
}

/* Sort ids ascending and drop duplicates; returns the number dropped. */
static size_t sort_unique(int64_t *ids, size_t *n)
{
    if (*n == 0)
        return 0;
    qsort(ids, *n, sizeof(*ids), cmp_i64);
    size_t w = 1;
    for (size_t i = 1; i < *n; i++)
        if (ids[i] != ids[w - 1])
            ids[w++] = ids[i];
    size_t dropped = *n - w;
    *n = w;
    return dropped;
}

/* ---- per-rank state ------------------------------------------------------- */

typedef struct run_state {
    const run_cfg_t *cfg;
    int rank, nranks;
    store_t *st;
    h5out_t *out;
    mc_work_t *work;
    int64_t total;           /* trades in the whole list */
    int64_t *all_ids;        /* rank 0, list mode with dynamic scheduling */
    int64_t next_chunk;      /* rank 0, dynamic: next row to hand out */
    int64_t chunk;           /* dynamic chunk size */
    int64_t done_global;     /* rank 0: trades done over all ranks */
    int done_ranks;          /* rank 0: ranks that said DONE */
    /* batch buffers */
    int64_t *ids;
    trade_slot_t *slots;
    result_t *res;
    result_t *prev;
    int *found;
    /* telemetry */
    h5out_telemetry_t tel;
    double compute_s, mirror_s;
    uint64_t checksum;
    int64_t failures_logged;
    /* progress */
    double t_start, t_last_progress;
    FILE *events;
    int tty;
    char err[512];
    int fatal;               /* exit code of a fatal error, 0 if none */
} run_state_t;

static void events_write(run_state_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void events_write(run_state_t *s, const char *fmt, ...)
{
    if (!s->events)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(s->events, "{\"time\":%lld.%03ld,", (long long)ts.tv_sec, ts.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(s->events, fmt, ap);
    va_end(ap);
    fputs("}\n", s->events);
    fflush(s->events);
}

/* Rank 0: show trades done / total, rate and ETA. */
static void progress_show(run_state_t *s, int final)
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
    events_write(s, "\"event\":\"progress\",\"done\":%" PRId64 ",\"total\":%" PRId64
                    ",\"rate\":%.3f,\"eta_s\":%.3f", s->done_global, s->total, rate, eta);
}

/* Rank 0: answer chunk requests and collect progress without blocking
 * (block = 1: wait for one message). */
static void service(run_state_t *s, int block)
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
        } else if (stt.MPI_TAG == TAG_REQ) {
            int64_t w[2] = {s->next_chunk, 0};
            if (s->next_chunk < s->total) {
                w[1] = s->total - s->next_chunk < s->chunk ? s->total - s->next_chunk : s->chunk;
                s->next_chunk += w[1];
            }
            MPI_Send(w, 2, MPI_INT64_T, stt.MPI_SOURCE, TAG_CHUNK, MPI_COMM_WORLD);
            if (w[1] && s->all_ids)
                MPI_Send(s->all_ids + w[0], (int)w[1], MPI_INT64_T, stt.MPI_SOURCE, TAG_IDS, MPI_COMM_WORLD);
        }
    }
}

static void progress_add(run_state_t *s, int64_t n)
{
    if (s->rank == 0) {
        s->done_global += n;
        service(s, 0);
        progress_show(s, 0);
    } else {
        MPI_Send(&n, 1, MPI_INT64_T, 0, TAG_PROGRESS, MPI_COMM_WORLD);
    }
}

static void log_failure(run_state_t *s, const result_t *r, const char *msg)
{
    if (s->cfg->quiet)
        return;
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

/* Price, mirror and write one batch: rows [row0, row0+n), ids in s->ids. */
static int do_batch(run_state_t *s, int64_t row0, size_t n)
{
    const run_cfg_t *c = s->cfg;
    size_t todo = n;
    for (size_t i = 0; i < n; i++)
        s->found[i] = 0;
    /* --resume: take the results that the store's mirror already holds for
     * exactly these inputs. Every trade of the batch is fetched all the same:
     * a mirrored result counts only when its fingerprint (seed, algorithm,
     * kernel, paths, trade fields) equals that of the trade as it is now, so
     * results of another seed, or of trades regenerated since, are priced
     * again and the output equals an uninterrupted run. */
    const int resume = c->resume && c->mirror;
    if (resume) {
        int rc = store_get_results(s->st, s->ids, n, s->prev, s->found);
        if (rc == STORE_E_NOTSUP) {
            for (size_t i = 0; i < n; i++)
                s->found[i] = 0;
        } else if (rc != STORE_OK) {
            s->fatal = store_err_exit_code(rc);
            return fs_seterr(s->err, sizeof(s->err), "reading result mirror from %s: %s",
                             store_describe(s->st), s->st->errstr);
        }
    }
    /* fetch the trades to price (compacted to the front), or all of them */
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
        if (rc != STORE_OK) {
            s->fatal = store_err_exit_code(rc);
            return fs_seterr(s->err, sizeof(s->err), "reading trades from %s: %s", store_describe(s->st),
                             s->st->errstr);
        }
    }
    if (resume) {
        for (size_t i = 0; i < n; i++) {
            if (!s->found[i])
                continue;
            const result_t *p = &s->prev[i];
            const trade_slot_t *sl = &s->slots[i];
            int ok = sl->status == FS_OK && p->trade_id == s->ids[i] && p->status == FS_OK &&
                     p->inputs != 0 && p->inputs == mc_inputs_hash(&c->mo, &sl->trade);
            s->found[i] = ok;
            if (ok) {
                s->res[i] = *p;
                todo--;
            } else if (p->status == FS_OK) {
                s->tel.stale++; /* a good result, but of other inputs */
            }
        }
    }
    double t0 = fs_now();
    size_t k = 0;
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
            mc_price(&sl->trade, &c->mo, s->work, r);
            r->rank = s->rank;
            if (r->status == FS_E_INJECTED && c->failure_exit) {
                /* AzFinSim's tasks died here: mirror what is done, then end the job */
                s->compute_s += fs_now() - t0;
                if (c->mirror && i > 0)
                    store_put_results(s->st, s->res, i);
                fs_error("injected failure (--failure %g) on trade %010" PRId64 ": rank %d exits; "
                         "rerun with --resume to finish", c->mo.failure_p, r->trade_id, s->rank);
                s->fatal = FS_EXIT_INJECTED;
                return fs_seterr(s->err, sizeof(s->err), "injected failure");
            }
            if (r->status != FS_OK)
                log_failure(s, r, fs_status_name(r->status));
            s->tel.paths += r->paths;
        }
    }
    s->compute_s += fs_now() - t0;
    for (size_t i = 0; i < n; i++) {
        if (s->res[i].status == FS_OK)
            s->tel.priced++;
        else
            s->tel.failed++;
        s->checksum += result_hash(&s->res[i]);
    }
    s->tel.trades += (int64_t)n;
    /* mirror newly priced results back to the store */
    if (c->mirror && todo) {
        double t1 = fs_now();
        /* compact the new results (the mirror holds the old ones already) */
        result_t *mir = s->prev;
        size_t q = 0;
        for (size_t i = 0; i < n; i++) /* a trade absent from the store gets no mirror key */
            if (!s->found[i] && s->res[i].status != FS_E_NOT_FOUND)
                mir[q++] = s->res[i];
        int rc = q ? store_put_results(s->st, mir, q) : STORE_OK;
        s->mirror_s += fs_now() - t1;
        if (rc != STORE_OK) {
            s->fatal = store_err_exit_code(rc);
            return fs_seterr(s->err, sizeof(s->err), "mirroring results to %s: %s", store_describe(s->st),
                             s->st->errstr);
        }
    }
    if (h5out_write_rows(s->out, row0, s->res, n, s->err, sizeof(s->err)) != 0) {
        s->fatal = FS_EXIT_IO;
        return -1;
    }
    progress_add(s, (int64_t)n);
    return 0;
}

/* Process one window in batches. */
static int do_window(run_state_t *s, const window_t *w)
{
    int64_t b = s->cfg->batch;
    for (int64_t off = 0; off < w->count; off += b) {
        size_t n = (size_t)(w->count - off < b ? w->count - off : b);
        for (size_t i = 0; i < n; i++)
            s->ids[i] = w->ids ? w->ids[off + (int64_t)i] : s->cfg->start_trade + w->offset + off + (int64_t)i;
        if (do_batch(s, w->offset + off, n) != 0)
            return -1;
    }
    return 0;
}

/* Static schedule: windows per rank decided by rank 0 and scattered. */
static int run_static(run_state_t *s, int64_t *list_ids, const int64_t *bounds)
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
    window_t w = {.offset = mine[0], .count = mine[1], .ids = NULL};
    if (s->cfg->list_mode) {
        /* scatter the ids of each window (counts may exceed int: send in pieces) */
        w.ids = xmalloc(sizeof(int64_t) * (size_t)(mine[1] ? mine[1] : 1));
        if (s->rank == 0) {
            memcpy(w.ids, list_ids + mine[0], sizeof(int64_t) * (size_t)mine[1]);
            for (int r = 1; r < s->nranks; r++)
                for (int64_t o = 0; o < sendbuf[2 * r + 1]; o += 1 << 24) {
                    int64_t k = sendbuf[2 * r + 1] - o < (1 << 24) ? sendbuf[2 * r + 1] - o : (1 << 24);
                    MPI_Send(list_ids + sendbuf[2 * r] + o, (int)k, MPI_INT64_T, r, TAG_IDS, MPI_COMM_WORLD);
                }
        } else {
            for (int64_t o = 0; o < mine[1]; o += 1 << 24) {
                int64_t k = mine[1] - o < (1 << 24) ? mine[1] - o : (1 << 24);
                MPI_Recv(w.ids + o, (int)k, MPI_INT64_T, 0, TAG_IDS, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            }
        }
    }
    free(sendbuf);
    /* collective writes: every rank takes part in as many write rounds as
     * the rank with the most batches, agreed before the first (HDF5's own
     * collectives run inside each write; a failed rank aborts the job) */
    int64_t b = s->cfg->batch, nb = (w.count + b - 1) / b, most = nb;
    if (s->cfg->h5_collective)
        MPI_Allreduce(&nb, &most, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
    int rc = do_window(s, &w);
    free(w.ids);
    for (int64_t i = nb; i < most && rc == 0; i++)
        if (h5out_write_rows(s->out, 0, s->res, 0, s->err, sizeof(s->err)) != 0) {
            s->fatal = FS_EXIT_IO;
            rc = -1;
        }
    return rc;
}

/* Dynamic schedule: chunks handed out on demand by rank 0 (which also
 * prices, answering requests between batches). Other ranks keep one request
 * in flight so they rarely wait. */
static int run_dynamic(run_state_t *s)
{
    int rc = 0;
    if (s->rank == 0) {
        while (rc == 0) {
            service(s, 0);
            if (s->next_chunk >= s->total)
                break;
            window_t w = {.offset = s->next_chunk, .count = s->chunk};
            if (w.count > s->total - w.offset)
                w.count = s->total - w.offset;
            s->next_chunk += w.count;
            w.ids = s->all_ids ? s->all_ids + w.offset : NULL;
            rc = do_window(s, &w);
        }
        return rc;
    }
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
        rc = do_window(s, &win);
        free(win.ids);
        if (rc)
            break;
    }
    free(ids);
    return rc;
}

/* ---- cost balancing --------------------------------------------------------- */

/* Rank 0: contiguous windows with equal work (paths x t_steps). Reads the
 * trades once in batches, keeping only a prefix sum of costs. */
static int cost_bounds(run_state_t *s, const int64_t *list_ids, int64_t *bounds)
{
    const run_cfg_t *c = s->cfg;
    double *cum = xmalloc(sizeof(double) * (size_t)(s->total + 1));
    cum[0] = 0;
    int64_t b = c->batch;
    for (int64_t off = 0; off < s->total; off += b) {
        size_t n = (size_t)(s->total - off < b ? s->total - off : b);
        for (size_t i = 0; i < n; i++)
            s->ids[i] = list_ids ? list_ids[off + (int64_t)i] : c->start_trade + off + (int64_t)i;
        if (store_get_trades(s->st, s->ids, n, s->slots) != STORE_OK) {
            free(cum);
            s->fatal = store_err_exit_code(s->st->err);
            return fs_seterr(s->err, sizeof(s->err), "reading trades for cost balancing: %s", s->st->errstr);
        }
        for (size_t i = 0; i < n; i++) {
            const trade_t *t = &s->slots[i].trade;
            double cost = 1; /* bad trades cost ~nothing but the fetch */
            if (s->slots[i].status == FS_OK)
                cost += (double)(c->mo.paths > 0 ? c->mo.paths : t->trials) * t->t_steps;
            cum[off + (int64_t)i + 1] = cum[off + (int64_t)i] + cost;
        }
    }
    bounds[0] = 0;
    int64_t j = 0;
    for (int r = 1; r < s->nranks; r++) {
        double target = cum[s->total] * r / s->nranks;
        while (j < s->total && cum[j] < target)
            j++;
        bounds[r] = j;
    }
    bounds[s->nranks] = s->total;
    free(cum);
    return 0;
}

/* ---- report ------------------------------------------------------------------- */

static void iso_time(char *buf, size_t n, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void phase_stats(const h5out_telemetry_t *tel, int n, size_t off, double *mn, double *mean, double *mx)
{
    *mn = INFINITY;
    *mx = -INFINITY;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double v = *(const double *)((const char *)&tel[i] + off);
        sum += v;
        if (v < *mn)
            *mn = v;
        if (v > *mx)
            *mx = v;
    }
    *mean = sum / n;
}

/* ---- configuration ---------------------------------------------------------- */

/* Where each setting's value came from (rows of settings_run). */
typedef opt_sources_t run_sources_t;

/* Parse the layers (INI file, environment, argv) of finsim run into c with
 * settings_run. check: also demand the settings a run needs, read the
 * password (*owned_password: wipe and free) and drop rs->src (only
 * layers stays, for cfg_free); else keep rs->src for the listing.
 * Returns -1 on usage error (message printed), 1 when --help was asked,
 * 0 otherwise. */
static int parse_run_args(int argc, char **argv, run_cfg_t *c, char **owned_password, run_sources_t *rs,
                          int check)
{
    int pr = opts_parse(&settings_run, settings_all, c, argc, argv, rs);
    if (check) {
        free(rs->src);
        rs->src = NULL;
    }
    if (pr != 0)
        return pr == OPTS_HELP ? 1 : -1;
    if (optind < rs->layers.argc)
        return fs_error("run: unexpected argument '%s'", rs->layers.argv[optind]), -1;
    if (!check)
        return 0;
    if (!c->store_url)
        return fs_error("run: --store URL is required"), -1;
    if (!c->output)
        return fs_error("run: --output FILE.h5 is required"), -1;
    int modes = (c->window > 0) + c->all_trades + (c->ids_file != NULL);
    if (modes != 1)
        return fs_error("run: give exactly one of --trade-window W, --all-trades, --ids-file FILE"), -1;
    if (c->window > 0 && c->start_trade + c->window - 1 > TRADE_MAX_ID)
        return fs_error("run: the range passes trade id %lld", TRADE_MAX_ID), -1;
    c->list_mode = c->window <= 0;
    if (c->h5_collective && c->schedule == RUN_DYNAMIC)
        return fs_error("run: --h5-write collective needs --schedule static (collective writes put the "
                        "ranks in lock step, one write per batch index; dynamic chunks cannot promise that)"),
               -1;
    return settings_store_password(c->password_file, &c->so, owned_password, NULL);
}

/* Join argv into one line for the report and the HDF5 provenance. argv
 * holds no secrets: passwords are only taken from the environment or files. */
static char *join_argv(int argc, char **argv)
{
    size_t n = 16;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 3;
    char *s = xmalloc(n);
    s[0] = '\0';
    strcat(s, "finsim");
    for (int i = 0; i < argc; i++) {
        strcat(s, " ");
        if (strstr(argv[i], "://")) { /* a URL with a password is refused, but never echo one */
            char red[512];
            store_redact_url(argv[i], red, sizeof(red));
            strncat(s, red, strlen(argv[i]));
        } else {
            strcat(s, argv[i]);
        }
    }
    return s;
}

/* The effective configuration as key=value lines (the listed rows of
 * settings_run), secrets redacted; store_desc stands for the store URL.
 * Returns a malloc'ed string. */
static char *describe_config(const run_cfg_t *c, const char *store_desc)
{
    run_cfg_t shown = *c;
    shown.store_url = store_desc;
    return opts_describe(&settings_run, &shown);
}

static int64_t peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)ru.ru_maxrss;
}

/* Agree on an exit code over all ranks (the largest wins). */
static int agree(int code)
{
    int worst = code;
    MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return worst;
}

/* The defaults of finsim run: those of the pricing model and the table. */
static void run_cfg_default(run_cfg_t *c)
{
    memset(c, 0, sizeof(*c));
    mc_opts_default(&c->mo);
    opts_defaults(&settings_run, c);
}

static const char config_usage[] =
    "usage: finsim config [--config FILE] [run options...]\n"
    "\n"
    "Print the effective configuration of 'finsim run' with the same arguments:\n"
    "every setting, its value and where it came from (default, the INI file and\n"
    "line, a FINSIM_* environment variable, or the command line). Secrets are\n"
    "redacted.\n";

/* finsim config: the listing of settings_run for these arguments, one line
 * per setting with its source. Returns an fs_exit code. */
int cmd_config(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return fputs(config_usage, stdout), FS_EXIT_OK;
    run_cfg_t c;
    run_cfg_default(&c);
    run_sources_t rs;
    char *password = NULL;
    if (parse_run_args(argc, argv, &c, &password, &rs, 0) != 0) {
        opts_sources_free(&rs);
        return FS_EXIT_USAGE;
    }
    const char *pw_src = "not set";
    char err[512];
    if (!c.password_file)
        settings_store_password(NULL, &c.so, &password, &pw_src);
    else if (cfg_read_secret_file(c.password_file, &password, err, sizeof(err)) == 0)
        pw_src = "password_file", c.so.password = password;
    else
        pw_src = err; /* the listing says why, the password stays unset */
    /* the store URL as given may carry a user name but never a password
     * (the redis store refuses one); print it as given */
    char red[512];
    if (c.store_url)
        c.store_url = store_redact_url(c.store_url, red, sizeof(red));
    printf("# finsim %s effective configuration (defaults < %s < FINSIM_* environment < command line)\n",
           FINSIM_VERSION, rs.layers.config_path ? rs.layers.config_path : "no config file");
    for (size_t i = 0; i < settings_run.nrows; i++) {
        const opt_def_t *o = &settings_run.rows[i];
        if (!o->section && !o->secret)
            continue;
        char key[64], val[512];
        opts_key(o, key, sizeof(key));
        opts_show(o, &c, val, sizeof(val));
        printf("%-16s = %-36s # %s\n", key, val, o->secret ? pw_src : rs.src[i] ? rs.src[i] : "default");
    }
    opts_sources_free(&rs);
    settings_secret_free(password);
    return FS_EXIT_OK;
}

int cmd_run(int argc, char **argv)
{
    run_cfg_t c;
    run_cfg_default(&c);
    char *password = NULL;
    int rank, nranks;
    fs_mpi_world(&rank, &nranks);

    run_sources_t rs;
    memset(&rs, 0, sizeof(rs));
    int pr = parse_run_args(argc, argv, &c, &password, &rs, 1);
    /* option values point into rs.layers: it lives until the end of the run */
    if (pr == 1) {
        if (rank == 0)
            opts_usage(&settings_run, stdout);
        cfg_free(&rs.layers);
        return FS_EXIT_OK;
    }
    if (agree(pr < 0 ? FS_EXIT_USAGE : 0)) {
        if (rank == 0 && pr < 0)
            fputs("(finsim run --help explains every option)\n", stderr);
        free(password);
        cfg_free(&rs.layers);
        return FS_EXIT_USAGE;
    }

    run_state_t s;
    memset(&s, 0, sizeof(s));
    s.cfg = &c;
    s.rank = rank;
    s.nranks = nranks;
    time_t t_begin = time(NULL);
    s.t_start = s.t_last_progress = fs_now();
    s.tel.rank = rank;
    gethostname(s.tel.host, sizeof(s.tel.host) - 1);
    int code = 0;

    /* ---- open the store (every rank; fail fast and together) ---- */
    MPI_Comm world = MPI_COMM_WORLD;
    char err[512] = "";
    int ecode = 0;
    s.st = store_open(c.store_url, &c.so, &world, err, sizeof(err), &ecode);
    code = agree(s.st ? 0 : store_err_exit_code(ecode));
    if (code) {
        char red[512];
        if (!s.st && (rank == 0 || fs_log_verbose))
            fs_error("cannot open store %s: %s", store_redact_url(c.store_url, red, sizeof(red)), err);
        store_close(s.st);
        free(password);
        cfg_free(&rs.layers);
        return code;
    }

    /* ---- the trade list (rank 0) ---- */
    int64_t *list_ids = NULL;
    size_t nlist = 0;
    int64_t dup = 0;
    if (rank == 0) {
        if (c.ids_file) {
            if (read_ids_file(c.ids_file, &list_ids, &nlist, err, sizeof(err)) != 0) {
                fs_error("%s", err);
                code = FS_EXIT_USAGE;
            }
        } else if (c.all_trades) {
            int rc = store_list_trades(s.st, &list_ids, &nlist);
            if (rc != STORE_OK) {
                fs_error("listing the trades of %s: %s", store_describe(s.st), s.st->errstr);
                code = store_err_exit_code(rc);
            }
        }
        if (list_ids) {
            dup = (int64_t)sort_unique(list_ids, &nlist);
            if (dup)
                fs_warn("%lld duplicate trade ids in the list were dropped (each id is priced once)",
                        (long long)dup);
        }
        s.total = c.list_mode ? (int64_t)nlist : c.window;
        if (!code && s.total == 0) {
            fs_error("no trades to price (the %s is empty)", c.ids_file ? "ids file" : "store");
            code = FS_EXIT_USAGE;
        }
    }
    code = agree(code);
    MPI_Bcast(&s.total, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
    if (code)
        goto out_store;

    /* ---- buffers, output file (checked before any pricing) ---- */
    size_t b = (size_t)c.batch;
    s.ids = xmalloc(2 * b * sizeof(*s.ids));
    s.slots = xmalloc(b * sizeof(*s.slots));
    s.res = xmalloc(b * sizeof(*s.res));
    s.prev = xmalloc(b * sizeof(*s.prev));
    s.found = xmalloc(b * sizeof(*s.found));
    s.work = mc_work_new();
    s.out = h5out_create(c.output, MPI_COMM_WORLD, s.total, err, sizeof(err));
    if (!s.out) {
        if (rank == 0)
            fs_error("%s", err);
        code = FS_EXIT_IO;
        goto out_buffers;
    }
    h5out_set_collective(s.out, c.h5_collective);
    if (rank == 0 && c.events_path) {
        s.events = fopen(c.events_path, "a");
        if (!s.events)
            fs_warn("cannot open events file %s: %s (continuing without)", c.events_path, strerror(errno));
    }
    s.tty = rank == 0 && isatty(2);
    char *cmdline = join_argv(argc, argv);
    if (rank == 0 && !c.quiet)
        fs_info("run: %lld trades on %d rank%s, %s, %s schedule, store %s, output %s", (long long)s.total, nranks,
                nranks > 1 ? "s" : "", mc_algo_name(c.mo.algo), c.schedule == RUN_DYNAMIC ? "dynamic" : "static",
                store_describe(s.st), c.output);
    events_write(&s, "\"event\":\"start\",\"trades\":%" PRId64 ",\"ranks\":%d,\"algorithm\":\"%s\"", s.total, nranks,
                 mc_algo_name(c.mo.algo));

    /* ---- schedule and price ---- */
    int rc = 0;
    if (c.schedule == RUN_DYNAMIC) {
        s.chunk = c.chunk > 0 ? c.chunk : s.total / ((int64_t)nranks * 16);
        if (s.chunk < 1)
            s.chunk = 1;
        if (s.chunk > c.batch)
            s.chunk = c.batch;
        s.all_ids = list_ids;
        rc = run_dynamic(&s);
    } else {
        int64_t *bounds = NULL;
        int bal_code = 0;
        if (rank == 0) {
            bounds = xmalloc(sizeof(int64_t) * (size_t)(nranks + 1));
            if (c.balance == RUN_BALANCE_COST && nranks > 1) {
                if (cost_bounds(&s, list_ids, bounds) != 0) {
                    fs_error("%s", s.err);
                    bal_code = s.fatal ? s.fatal : FS_EXIT_STORE;
                }
            } else {
                for (int r = 0; r <= nranks; r++)
                    bounds[r] = s.total * r / nranks;
            }
        }
        if (agree(bal_code)) {
            free(bounds);
            code = bal_code ? bal_code : FS_EXIT_STORE;
            s.fatal = code;
            rc = -1;
        } else {
            rc = run_static(&s, list_ids, bounds);
            free(bounds);
        }
    }
    if (rc != 0 && s.fatal) {
        /* A fatal error on this rank: the other ranks may be waiting on it, so
         * end the whole job (results priced so far are in the mirror). */
        if (s.fatal != FS_EXIT_INJECTED || !s.err[0] || strcmp(s.err, "injected failure"))
            fs_error("%s", s.err);
        fs_error("stopping the job (exit %d); rerun with --resume to keep the results already mirrored", s.fatal);
        fflush(NULL);
        MPI_Abort(MPI_COMM_WORLD, s.fatal);
    }
    /* rank 0 collects the remaining progress messages */
    if (rank == 0) {
        while (s.done_ranks < nranks - 1)
            service(&s, 1);
        progress_show(&s, 1);
    } else {
        int64_t zero = 0;
        MPI_Send(&zero, 1, MPI_INT64_T, 0, TAG_DONE, MPI_COMM_WORLD);
    }

    /* ---- telemetry, checksum, provenance ---- */
    s.tel.parse_s = s.st->stats.parse_s;
    s.tel.fetch_s = s.st->stats.fetch_s - s.st->stats.parse_s;
    s.tel.compute_s = s.compute_s;
    s.tel.mirror_s = s.mirror_s;
    s.tel.write_s = h5out_write_seconds(s.out);
    uint32_t fb_cause = 0;
    int64_t fallbacks = h5out_collective_fallbacks(s.out, &fb_cause);
    if (fallbacks)
        fs_warn("rank %d: HDF5 carried out %lld of the collective writes as independent ones "
                "(H5Pget_mpio_no_collective_cause: 0x%x)", rank, (long long)fallbacks, (unsigned)fb_cause);
    s.tel.total_s = fs_now() - s.t_start;
    s.tel.peak_rss_kb = peak_rss_kb();
    h5out_telemetry_t *tel = xmalloc(sizeof(*tel) * (size_t)nranks);
    MPI_Allgather(&s.tel, (int)sizeof(s.tel), MPI_BYTE, tel, (int)sizeof(s.tel), MPI_BYTE, MPI_COMM_WORLD);
    uint64_t checksum = 0;
    MPI_Allreduce(&s.checksum, &checksum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    int64_t priced = 0, failed = 0, skipped = 0, stale = 0, paths = 0;
    for (int r = 0; r < nranks; r++) {
        priced += tel[r].priced;
        failed += tel[r].failed;
        skipped += tel[r].skipped;
        stale += tel[r].stale;
        paths += tel[r].paths;
    }
    /* hosts: unique names from the telemetry, identical on every rank */
    char hosts[1024] = "";
    int nhosts = 0;
    for (int r = 0; r < nranks; r++) {
        int seen = 0;
        for (int q = 0; q < r; q++)
            seen |= strcmp(tel[q].host, tel[r].host) == 0;
        if (seen)
            continue;
        nhosts++;
        if (strlen(hosts) + strlen(tel[r].host) + 2 < sizeof(hosts)) {
            if (hosts[0])
                strcat(hosts, ",");
            strcat(hosts, tel[r].host);
        }
    }
    double t_end_mono = fs_now();
    time_t t_end = time(NULL);
    MPI_Bcast(&t_begin, (int)sizeof(t_begin), MPI_BYTE, 0, MPI_COMM_WORLD);
    MPI_Bcast(&t_end, (int)sizeof(t_end), MPI_BYTE, 0, MPI_COMM_WORLD);
    char t0s[32], t1s[32], seeds[32], pathss[32], rankss[16], sums[32], ntr[32], nfail[32];
    iso_time(t0s, sizeof(t0s), t_begin);
    iso_time(t1s, sizeof(t1s), t_end);
    snprintf(seeds, sizeof(seeds), "%llu", (unsigned long long)c.mo.seed);
    snprintf(pathss, sizeof(pathss), "%lld", (long long)c.mo.paths);
    snprintf(rankss, sizeof(rankss), "%d", nranks);
    snprintf(sums, sizeof(sums), "%016llx", (unsigned long long)checksum);
    snprintf(ntr, sizeof(ntr), "%lld", (long long)s.total);
    snprintf(nfail, sizeof(nfail), "%lld", (long long)failed);
    char *config = describe_config(&c, store_describe(s.st));
    const h5out_attr_t attrs[] = {
        {"finsim_version", FINSIM_VERSION},
        {"command_line", cmdline},
        {"algorithm", mc_algo_name(c.mo.algo)},
        {"kernel", mc_kernel_name(c.mo.kernel)},
        {"seed", seeds},
        {"paths", pathss},
        {"ranks", rankss},
        {"hosts", hosts},
        {"start_time", t0s},
        {"end_time", t1s},
        {"config", config},
        {"checksum", sums},
        {"trades", ntr},
        {"failed", nfail},
    };
    double tw = fs_now();
    int frc = h5out_finish(s.out, tel, nranks, attrs, (int)(sizeof(attrs) / sizeof(attrs[0])), checksum, err,
                           sizeof(err));
    s.out = NULL;
    double finish_s = fs_now() - tw;
    if (frc != 0) {
        if (rank == 0)
            fs_error("%s", err);
        code = FS_EXIT_IO;
    }

    /* ---- report (rank 0) ---- */
    if (rank == 0) {
        double wall = t_end_mono - s.t_start + finish_s;
        printf("\n==== finsim %s run report ====\n", FINSIM_VERSION);
        printf("command        : %s\n", cmdline);
        printf("started        : %s   finished: %s\n", t0s, t1s);
        printf("ranks          : %d on %d host%s (%s)\n", nranks, nhosts, nhosts > 1 ? "s" : "", hosts);
        printf("store          : %s\n", store_describe(s.st));
        printf("algorithm      : %s, kernel %s, seed %llu, paths %s\n", mc_algo_name(c.mo.algo),
               mc_kernel_name(c.mo.kernel), (unsigned long long)c.mo.seed,
               c.mo.paths > 0 ? pathss : "from each trade");
        printf("schedule       : %s%s\n", c.schedule == RUN_DYNAMIC ? "dynamic" : "static",
               c.schedule == RUN_STATIC ? (c.balance == RUN_BALANCE_COST ? " (cost-balanced)" : " (by count)") : "");
        printf("trades         : %lld (priced %lld, failed %lld, resumed %lld)\n", (long long)s.total,
               (long long)(priced), (long long)failed, (long long)skipped);
        if (stale)
            printf("stale mirror   : %lld mirrored results were for other inputs (seed, algorithm, kernel,\n"
                   "                 paths or trade fields) and were priced again\n", (long long)stale);
        printf("phase seconds        min       mean        max\n");
        static const struct { const char *name; size_t off; } ph[] = {
            {"fetch", offsetof(h5out_telemetry_t, fetch_s)},
            {"parse", offsetof(h5out_telemetry_t, parse_s)},
            {"compute", offsetof(h5out_telemetry_t, compute_s)},
            {"mirror", offsetof(h5out_telemetry_t, mirror_s)},
            {"write", offsetof(h5out_telemetry_t, write_s)},
            {"total", offsetof(h5out_telemetry_t, total_s)},
        };
        double busy_max = 0, busy_sum = 0;
        for (size_t i = 0; i < sizeof(ph) / sizeof(ph[0]); i++) {
            double mn, mean, mx;
            phase_stats(tel, nranks, ph[i].off, &mn, &mean, &mx);
            printf("  %-12s %10.3f %10.3f %10.3f\n", ph[i].name, mn, mean, mx);
        }
        for (int r = 0; r < nranks; r++) {
            double busy = tel[r].fetch_s + tel[r].parse_s + tel[r].compute_s + tel[r].mirror_s + tel[r].write_s;
            busy_sum += busy;
            if (busy > busy_max)
                busy_max = busy;
        }
        int64_t rss_max = 0;
        for (int r = 0; r < nranks; r++)
            rss_max = tel[r].peak_rss_kb > rss_max ? tel[r].peak_rss_kb : rss_max;
        printf("wall time      : %.3f s\n", wall);
        printf("throughput     : %.1f trades/s, %.4g paths/s\n", wall > 0 ? (double)s.total / wall : 0,
               wall > 0 ? (double)paths / wall : 0);
        printf("load imbalance : %.3f (max/mean busy time over ranks)\n",
               busy_sum > 0 ? busy_max / (busy_sum / nranks) : 1.0);
        printf("peak RSS       : %.1f MB (largest rank)\n", (double)rss_max / 1024.0);
        printf("output         : %s%s\n", c.output, c.h5_collective ? " (collective MPI-IO writes)" : "");
        printf("checksum       : %s\n", sums);
        if (c.have_expect && c.expect_checksum != checksum) {
            printf("RESULT: CHECKSUM MISMATCH (expected %016llx)\n", (unsigned long long)c.expect_checksum);
            if (!code)
                code = FS_EXIT_CHECKSUM;
        } else if (code) {
            printf("RESULT: FAILED (output not complete)\n");
        } else if (failed) {
            printf("RESULT: %lld TRADES FAILED (see status in %s)\n", (long long)failed, c.output);
            code = FS_EXIT_TRADES_FAILED;
        } else {
            printf("RESULT: OK%s\n", c.have_expect ? " (checksum verified)" : "");
        }
        fflush(stdout);
        events_write(&s, "\"event\":\"end\",\"trades\":%" PRId64 ",\"failed\":%" PRId64 ",\"checksum\":\"%s\",\"exit\":%d",
                     s.total, failed, sums, code);
    }
    code = agree(code);
    free(config);
    free(tel);
    free(cmdline);
    if (s.events)
        fclose(s.events);
out_buffers:
    h5out_abort(s.out);
    mc_work_free(s.work);
    free(s.ids);
    free(s.slots);
    free(s.res);
    free(s.prev);
    free(s.found);
out_store:
    free(list_ids);
    store_close(s.st);
    cfg_free(&rs.layers);
    if (password) {
        memset(password, 0, strlen(password));
        free(password);
    }
    return code;
}
