/* screen.c - the rich/cheap screen job: market data, trades, pricing, signals. */
#define _GNU_SOURCE
#include "finsim/job/screen.h"

#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "finsim/base/mpi.h"
#include "finsim/base/util.h"
#include "finsim/output/outguard.h"
#include "finsim/job/status.h"
#include "finsim/job/tradelist.h"
#include "finsim/market/quotes_out.h"
#include "finsim/output/signals.h"
#include "finsim/trade/trade.h"

/* Counters of one screen; every trade and quote lands in exactly one. All
 * int64_t: they are summed over the ranks as one array. */
typedef struct screen_counts {
    int64_t universe;    /* ids asked of the store */
    int64_t absent;      /* ids the store does not hold */
    int64_t trades;      /* trades present in the store */
    int64_t joined;      /* trades with a quote */
    int64_t unquoted;    /* trades without a quote */
    int64_t orphans;     /* quotes without a trade */
    int64_t failed;      /* joined trades that could not be priced */
    int64_t overridden;  /* joined trades changed by market data */
    int64_t no_market;   /* joined trades naming a pair absent from the market data */
    int64_t selected;    /* signals */
    int64_t no_quote_made; /* --make-quotes: trades with model value 0 (no quote) */
} screen_counts_t;

struct screen_job {
    const screen_cfg_t *c;
    int rank, nranks;
    char started[64];        /* ISO 8601 UTC start */
    char quotes_shown[512];  /* the quotes source for the signals file (URL redacted) */
    mkt_data_t d;            /* quotes and market records */
    store_t *st;             /* this rank's store handle */
    store_t *sig_st;         /* rank 0: the store the signals are published to, or NULL */
    const char *sig_url;     /* its URL */
    int64_t *ids;            /* this rank's trade ids */
    size_t n;                /* entries of ids */
    unsigned char *matched;  /* matched[i]: quote i found a trade */
    screen_counts_t k;
    mc_work_t *work;         /* pricing scratch */
    signal_rec_t *sig;       /* selected trades (all ranks' on rank 0 after the gather) */
    size_t nsig, capsig;
    double t_walk;           /* when pricing started */
    mkt_qwriter_t *quotes;   /* --make-quotes: the quote file */
};

/* Called for each trade present in the store (status FS_OK or a per-trade
 * error) with its quote (NULL when unquoted). Returns 0 to go on, or an exit
 * code to stop. */
typedef int (*screen_walk_cb)(screen_job_t *j, trade_slot_t *slot, const mkt_quote_t *q);

/* Broadcast len bytes from rank 0 in pieces that fit an int count. */
static void screen_bcast_bytes(void *buf, size_t len)
{
    const size_t piece = (size_t)1 << 30;
    for (size_t off = 0; off < len; off += piece)
        MPI_Bcast((char *)buf + off, (int)(len - off < piece ? len - off : piece), MPI_BYTE, 0, MPI_COMM_WORLD);
}

/* Is url a Redis store URL (as opposed to a trade file path)? */
static int screen_is_redis_url(const char *url)
{
    return url && (!strncmp(url, "redis://", 8) || !strncmp(url, "rediss://", 9) || !strncmp(url, "unix://", 7));
}

/* A zeroed job with its start time; cannot fail (aborts on out of memory).
 * The caller frees it with screen_job_free. */
screen_job_t *screen_job_new(const screen_cfg_t *c, int rank, int nranks)
{
    screen_job_t *j = xcalloc(1, sizeof(*j));
    j->c = c;
    j->rank = rank;
    j->nranks = nranks;
    time_t tt = time(NULL);
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(j->started, sizeof(j->started), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return j;
}

/* Free everything the phases left in j, close its store, free j. */
void screen_job_free(screen_job_t *j)
{
    if (!j)
        return;
    mc_work_free(j->work);
    free(j->sig);
    free(j->matched);
    free(j->ids);
    store_close(j->st);
    store_close(j->sig_st);
    mkt_data_free(&j->d);
    free(j);
}

/* ======================================================================
 * before pricing: outputs, market data, store, trade list
 * ==================================================================== */

/* Fail when the directory of the output file path is missing or not
 * writable ('-' and NULL pass). Returns 0, or -1 with a message. */
static int screen_check_dir(const char *opt, const char *path)
{
    if (!path || !strcmp(path, "-"))
        return 0;
    char dir[4096];
    fs_dirname(path, dir, sizeof(dir));
    if (access(dir, W_OK | X_OK) != 0) {
        fs_error("screen: %s %s: cannot write in %s: %s", opt, path, dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Refuse an output that is one of the inputs (trade file, quotes, market
 * data) or an existing file of another kind; an earlier run's signals file
 * or CSV is replaced (the screen runs daily). Returns 0, or -1 with a
 * message. */
static int screen_guard(const screen_cfg_t *c, const char *opt, const char *path, const char *dataset,
                        const char *csv_header)
{
    if (!path)
        return 0;
    int n = 2 + c->nmarket;
    const char **protect = xcalloc((size_t)n, sizeof(*protect));
    const char **what = xcalloc((size_t)n, sizeof(*what));
    const char *be = c->store_url ? store_backend_for(c->store_url) : NULL;
    if (be && !strcmp(be, "file"))
        protect[0] = strncmp(c->store_url, "file://", 7) ? c->store_url : c->store_url + 7;
    what[0] = "trade file given to --store";
    protect[1] = c->quotes_src;
    what[1] = "quotes file given to --quotes";
    for (int i = 0; i < c->nmarket; i++) {
        protect[2 + i] = c->market_src[i];
        what[2 + i] = "market file given to --market";
    }
    outguard_t g = {.path = path, .opt = opt, .dataset = dataset, .csv_header = csv_header, .protect = protect,
                    .protect_what = what, .nprotect = n, .replace_ok = 1};
    char err[1024];
    int rc = outguard_check(&g, err, sizeof(err));
    if (rc)
        fs_error("screen: %s", err);
    free(protect);
    free(what);
    return rc;
}

/* Rank 0 checks the outputs and their directories; every rank gets the
 * worst status. */
int screen_check_outputs(screen_job_t *j)
{
    const screen_cfg_t *c = j->c;
    int ret = JOB_OK;
    if (j->rank == 0 && (screen_guard(c, "--output", c->output, "signals", NULL) ||
                         screen_guard(c, "--csv", c->csv, NULL, "trade_id,quote,model_value,model_stderr,edge,z") ||
                         screen_guard(c, "--make-quotes", c->make_quotes, NULL, NULL)))
        ret = JOB_E_CONFIG;
    else if (j->rank == 0 && (screen_check_dir("--output", c->output) || screen_check_dir("--csv", c->csv) ||
                              screen_check_dir("--make-quotes", c->make_quotes)))
        ret = JOB_E_IO;
    return fs_mpi_agree(ret);
}

/* Read src on rank 0 and parse it on every rank into j->d. Collective;
 * returns MKT_OK or an MKT_E_* code (the same on every rank) with the
 * reason in err. */
static int screen_load_source(screen_job_t *j, const char *src, char *err, size_t errlen)
{
    char shown[512];
    char *buf = NULL;
    size_t len = 0;
    int mr = MKT_OK;
    if (j->rank == 0)
        mr = mkt_read_source(src, &j->c->http, &buf, &len, shown, sizeof(shown), err, errlen);
    if (j->nranks > 1) {
        MPI_Bcast(&mr, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (mr == MKT_OK) {
            uint64_t l64 = len;
            MPI_Bcast(&l64, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
            len = (size_t)l64;
            if (j->rank != 0) {
                buf = xmalloc(len + 1);
                buf[len] = '\0';
            }
            screen_bcast_bytes(buf, len);
            MPI_Bcast(shown, (int)sizeof(shown), MPI_CHAR, 0, MPI_COMM_WORLD);
        }
    }
    if (mr == MKT_OK)
        mr = mkt_parse(buf, len, shown, &j->d, err, errlen); /* same outcome on every rank */
    free(buf);
    return mr;
}

/* The quotes source, then each --market source, then the index; rank 0
 * prints the reason of a failure. Returns JOB_OK or a market status. */
int screen_load_market(screen_job_t *j)
{
    const screen_cfg_t *c = j->c;
    char err[512] = "";
    double t0 = fs_now();
    int mr = MKT_OK;
    for (int i = -1; i < c->nmarket && mr == MKT_OK; i++)
        mr = screen_load_source(j, i < 0 ? c->quotes_src : c->market_src[i], err, sizeof(err));
    if (mr == MKT_OK)
        mr = mkt_index(&j->d, err, sizeof(err));
    if (mr != MKT_OK) {
        if (j->rank == 0)
            fs_error("%s", err);
        return job_market_status(mr);
    }
    if (!strncasecmp(c->quotes_src, "http", 4))
        mkt_redact_url(c->quotes_src, j->quotes_shown, sizeof(j->quotes_shown));
    else
        snprintf(j->quotes_shown, sizeof(j->quotes_shown), "%s", c->quotes_src);
    if (j->rank == 0)
        fs_info("screen: %zu quotes, %zu market records loaded in %.2f s", j->d.nquotes, j->d.npairs,
                fs_now() - t0);
    return JOB_OK;
}

static int screen_open_signals(screen_job_t *j, char *err, size_t errlen);

/* Each rank opens its own handle; a connection error is printed once (by
 * rank 0), others by every rank. Returns the worst status of all ranks. */
int screen_open_store(screen_job_t *j)
{
    char err[512];
    int ecode = 0;
    j->st = store_open(j->c->store_url, &j->c->so, NULL, err, sizeof(err), &ecode);
    /* one host may fail alone (a store it cannot reach): rank 0 names it */
    int rc = fs_mpi_agree_err(j->st ? 0 : job_store_status(ecode), err);
    if (rc != JOB_OK || j->c->make_quotes)
        return rc;
    err[0] = '\0';
    return fs_mpi_agree_err(j->rank == 0 ? screen_open_signals(j, err, sizeof(err)) : JOB_OK, err);
}

/* A window is cut into shares on every rank; the store's list is read by
 * rank 0 and broadcast. j->ids holds this rank's share (freed with the
 * job). Returns JOB_OK or the store status, the same on every rank. */
int screen_build_trade_list(screen_job_t *j)
{
    const screen_cfg_t *c = j->c;
    tl_spec_t spec = {.source = c->window > 0 ? TL_RANGE : TL_ALL, .start = c->start, .window = c->window};
    tl_list_t l;
    char err[512];
    int code = 0;
    if (j->rank == 0 || spec.source == TL_RANGE) {
        if (tl_build(&spec, j->st, &l, err, sizeof(err)) != JOB_OK) {
            fs_error("screen: cannot list the trades of %s: %s%s", store_describe(j->st), store_errstr(j->st),
                     l.store_err == STORE_E_NOTSUP ? " (give --start-trade and --trade-window)" : "");
            code = job_store_status(l.store_err);
        }
    }
    if (spec.source == TL_ALL && (code = fs_mpi_agree(code)) != 0)
        return code;
    if (spec.source == TL_ALL)
        tl_bcast(&l);
    size_t lo, hi;
    tl_share(l.n, j->rank, j->nranks, &lo, &hi);
    j->n = hi - lo;
    j->ids = xmalloc((j->n ? j->n : 1) * sizeof(*j->ids));
    for (size_t i = 0; i < j->n; i++)
        j->ids[i] = tl_id(&l, lo + i);
    tl_free(&l);
    return 0;
}

/* ======================================================================
 * the walk: fetch, join, price
 * ==================================================================== */

/* Read the trades j->ids in batches and call cb for each one present, with
 * its quote (NULL when unquoted, and always for --make-quotes). Marks the
 * quotes that found a trade in j->matched and counts universe, absent,
 * trades, joined and unquoted. Returns JOB_OK or a job status (store failure, or
 * cb's). */
static int screen_walk(screen_job_t *j, screen_walk_cb cb)
{
    const screen_cfg_t *c = j->c;
    const mkt_data_t *d = c->make_quotes ? NULL : &j->d;
    screen_counts_t *k = &j->k;
    size_t batch = (size_t)c->batch;
    trade_slot_t *slots = xmalloc(batch * sizeof(*slots));
    int ret = 0;
    for (size_t lo = 0; lo < j->n && ret == 0; lo += batch) {
        size_t m = j->n - lo < batch ? j->n - lo : batch;
        int rc = store_get_trades(j->st, j->ids + lo, m, slots);
        if (rc != STORE_OK) {
            fs_error("screen: reading trades from %s failed: %s", store_describe(j->st), store_errstr(j->st));
            ret = job_store_status(rc);
            break;
        }
        for (size_t i = 0; i < m && ret == 0; i++) {
            k->universe++;
            if (slots[i].status == FS_E_NOT_FOUND) {
                k->absent++;
                continue;
            }
            k->trades++;
            slots[i].trade.id = j->ids[lo + i];
            const mkt_quote_t *q = d ? mkt_find_quote(d, j->ids[lo + i]) : NULL;
            if (q) {
                k->joined++;
                j->matched[q - d->quotes] = 1;
            } else {
                k->unquoted++;
                if (c->verbose && d)
                    fs_info("screen: trade %lld has no quote", (long long)j->ids[lo + i]);
            }
            ret = cb(j, &slots[i], q);
        }
    }
    free(slots);
    return ret;
}

/* Apply the market record of q's pair to t (fx1 = spot, sigma1 = vol) and
 * re-validate. Returns FS_OK or the validation status (reason in msg). */
static int screen_apply_market(const mkt_data_t *d, const mkt_quote_t *q, trade_t *t, screen_counts_t *k,
                               char *msg, size_t msglen)
{
    if (!q || !q->pair[0] || d->npairs == 0)
        return FS_OK;
    const mkt_pair_t *m = mkt_find_pair(d, q->pair);
    if (!m) {
        k->no_market++;
        return FS_OK;
    }
    if (!isnan(m->spot))
        t->fx1 = m->spot;
    if (!isnan(m->vol))
        t->sigma1 = m->vol;
    k->overridden++;
    return trade_validate(t, msg, msglen);
}

/* Price one trade per warrant: model value and its standard error. Returns
 * FS_OK or a status (FS_E_DOMAIN when warrantsNo is 0; FS_E_NUMERIC when the
 * value or its standard error is not finite: a NaN error is no confidence,
 * never an infinite z-score). */
static int screen_price_per_warrant(const trade_t *t, const mc_opts_t *mo, mc_work_t *w, double *mv, double *se)
{
    result_t r;
    if (t->warrants_no <= 0)
        return FS_E_DOMAIN;
    int st = mc_price(t, mo, w, &r);
    if (st != FS_OK)
        return st;
    *mv = r.pv / (double)t->warrants_no;
    *se = r.pv_stderr / (double)t->warrants_no;
    return isfinite(*mv) && isfinite(*se) ? FS_OK : FS_E_NUMERIC;
}

/* Append a signal to j->sig. */
static void screen_add_signal(screen_job_t *j, const signal_rec_t *s)
{
    if (j->nsig == j->capsig) {
        j->capsig = j->capsig ? j->capsig * 2 : 256;
        j->sig = xrealloc(j->sig, j->capsig * sizeof(*j->sig));
    }
    j->sig[j->nsig++] = *s;
}

/* screen_walk_cb of the screen: price a joined trade and keep it when it
 * passes the thresholds. Per-trade failures are counted and named, not
 * fatal; always returns 0. */
static int screen_cb(screen_job_t *j, trade_slot_t *slot, const mkt_quote_t *q)
{
    if (!q)
        return 0;
    char msg[192];
    int st = slot->status;
    snprintf(msg, sizeof(msg), "%s", slot->msg);
    if (st == FS_OK)
        st = screen_apply_market(&j->d, q, &slot->trade, &j->k, msg, sizeof(msg));
    double mv = 0, se = 0;
    if (st == FS_OK) {
        st = screen_price_per_warrant(&slot->trade, &j->c->mo, j->work, &mv, &se);
        if (st == FS_E_DOMAIN)
            snprintf(msg, sizeof(msg), "warrantsNo is 0: no value per warrant");
        else if (*mc_work_why(j->work))
            snprintf(msg, sizeof(msg), "%s", mc_work_why(j->work));
        else if (st == FS_E_NUMERIC)
            snprintf(msg, sizeof(msg), "model value or its standard error is not finite");
        else if (st != FS_OK)
            snprintf(msg, sizeof(msg), "pricing failed");
    }
    if (st != FS_OK) {
        j->k.failed++;
        fs_error("screen: trade %lld: %s (%s)", (long long)slot->trade.id, msg, fs_status_name(st));
        return 0;
    }
    double diff = mv - q->quote;
    double edge = diff / q->quote;
    double z = se > 0 ? diff / se : diff > 0 ? INFINITY : diff < 0 ? -INFINITY : 0.0;
    if (!(edge >= j->c->min_edge && z >= j->c->min_z))
        return 0;
    signal_rec_t s = {slot->trade.id, q->quote, mv, se, edge, z};
    screen_add_signal(j, &s);
    return 0;
}

/* The walk with screen_cb over this rank's share; every rank gets the
 * worst status. */
int screen_price_quoted(screen_job_t *j)
{
    j->matched = xcalloc(j->d.nquotes ? j->d.nquotes : 1, 1);
    j->work = mc_work_new();
    j->t_walk = fs_now();
    return fs_mpi_agree(screen_walk(j, screen_cb));
}

/* Collect every rank's signals on rank 0 (j->sig, j->nsig replaced there).
 * Collective. */
static void screen_gather_rows(screen_job_t *j)
{
    int mine = (int)(j->nsig * sizeof(signal_rec_t));
    int *cnt = NULL, *disp = NULL;
    if (j->rank == 0) {
        cnt = xmalloc((size_t)j->nranks * sizeof(int));
        disp = xmalloc((size_t)j->nranks * sizeof(int));
    }
    MPI_Gather(&mine, 1, MPI_INT, cnt, 1, MPI_INT, 0, MPI_COMM_WORLD);
    signal_rec_t *all = NULL;
    size_t total = 0;
    if (j->rank == 0) {
        for (int r = 0; r < j->nranks; r++) {
            disp[r] = (int)total;
            total += (size_t)cnt[r];
        }
        all = xmalloc(total ? total : 1);
    }
    MPI_Gatherv(j->sig, mine, MPI_BYTE, all, cnt, disp, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (j->rank == 0) {
        free(j->sig);
        j->sig = all;
        j->nsig = total / sizeof(signal_rec_t);
    }
    free(cnt);
    free(disp);
}

/* Sum the counts, OR the quote matches, gather the rows on rank 0, then
 * count the orphan quotes. */
void screen_gather_signals(screen_job_t *j)
{
    if (j->nranks > 1) {
        MPI_Allreduce(MPI_IN_PLACE, &j->k, (int)(sizeof(j->k) / sizeof(int64_t)), MPI_INT64_T, MPI_SUM,
                      MPI_COMM_WORLD);
        if (j->d.nquotes)
            MPI_Allreduce(MPI_IN_PLACE, j->matched, (int)j->d.nquotes, MPI_UNSIGNED_CHAR, MPI_BOR, MPI_COMM_WORLD);
        screen_gather_rows(j);
    }
    for (size_t i = 0; i < j->d.nquotes; i++)
        j->k.orphans += !j->matched[i];
}

/* ======================================================================
 * after pricing: report and publish (rank 0)
 * ==================================================================== */

/* Log up to 10 ids of quotes that found no trade (all with -v). */
static void screen_report_orphans(const screen_job_t *j)
{
    const mkt_data_t *d = &j->d;
    char line[512];
    size_t len = 0, shown = 0, total = 0;
    line[0] = '\0';
    for (size_t i = 0; i < d->nquotes; i++) {
        if (j->matched[i])
            continue;
        total++;
        if (j->c->verbose)
            fs_info("screen: quote for trade %lld has no trade in the store", (long long)d->quotes[i].trade_id);
        else if (shown < 10 && len < sizeof(line) - 32) {
            len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%lld", shown ? " " : "",
                                    (long long)d->quotes[i].trade_id);
            shown++;
        }
    }
    if (total && !j->c->verbose)
        fs_warn("screen: %zu quote%s without a trade: %s%s", total, total > 1 ? "s" : "", line,
                total > shown ? " ..." : "");
}

/* Orphans, ranking and the summary line, on rank 0 only. */
void screen_report(screen_job_t *j)
{
    if (j->rank != 0)
        return;
    const screen_counts_t *k = &j->k;
    screen_report_orphans(j);
    signals_sort(j->sig, j->nsig);
    j->k.selected = (int64_t)j->nsig;
    fs_info("screen: %lld trades (%lld ids absent), %lld joined, %lld unquoted, %lld orphan quotes, "
            "%lld failed, %lld changed by market data%s; %lld selected (edge >= %g, z >= %g) in %.2f s",
            (long long)k->trades, (long long)k->absent, (long long)k->joined, (long long)k->unquoted,
            (long long)k->orphans, (long long)k->failed, (long long)k->overridden,
            k->no_market ? " (some pairs without market data)" : "", (long long)k->selected, j->c->min_edge,
            j->c->min_z, fs_now() - j->t_walk);
    if (k->no_market)
        fs_warn("screen: %lld joined trades name a currency pair absent from the market data; priced as stored",
                (long long)k->no_market);
}

/* Write the signals file (--output). Returns 0 or JOB_E_IO (message
 * printed). */
static int screen_write_h5(const screen_job_t *j)
{
    const screen_cfg_t *c = j->c;
    const screen_counts_t *k = &j->k;
    signals_meta_t m = {
        .min_edge = c->min_edge, .min_z = c->min_z, .seed = c->mo.seed, .paths = c->mo.paths,
        .trades = k->trades, .joined = k->joined, .unquoted = k->unquoted, .orphans = k->orphans,
        .absent = k->absent, .failed = k->failed, .overridden = k->overridden, .selected = k->selected,
        .algorithm = mc_algo_name(c->mo.algo), .kernel = mc_kernel_name(c->mo.kernel),
        .quotes_source = j->quotes_shown, .start_time = j->started,
    };
    char err[4400];
    if (signals_write_h5(c->output, &m, j->sig, j->nsig, err, sizeof(err)) != 0) {
        fs_error("screen: %s", err);
        return JOB_E_IO;
    }
    return 0;
}

static const char screen_ranking[] = "finsim:signals";

/* Rank 0, when the signals go to Redis: open that store now, at connect,
 * checked for everything publishing needs (DEL and ZADD on the ranking's
 * key, EXEC), so a missing ACL rule ends the command before any pricing.
 * Returns JOB_OK or a job status with the reason in err. */
static int screen_open_signals(screen_job_t *j, char *err, size_t errlen)
{
    const screen_cfg_t *c = j->c;
    j->sig_url = c->no_signals_redis ? NULL : c->signals_redis ? c->signals_redis
                 : screen_is_redis_url(c->store_url) ? c->store_url : NULL;
    if (!j->sig_url)
        return JOB_OK;
    if (!screen_is_redis_url(j->sig_url)) {
        fs_seterr(err, errlen, "signals: not a Redis URL (redis://, rediss://, unix://)");
        return JOB_E_CONFIG;
    }
    char why[512];
    int code = 0;
    store_opts_t pso = c->so; /* the ranking store: checked for what publishing needs */
    pso.needs = STORE_NEED_RANKING, pso.ranking_name = screen_ranking;
    j->sig_st = store_open(j->sig_url, &pso, NULL, why, sizeof(why), &code);
    if (!j->sig_st) {
        fs_seterr(err, errlen, "signals: %s", why);
        return job_store_status(code);
    }
    return JOB_OK;
}

/* Replace the sorted set <prefix>finsim:signals with the signals (score =
 * edge, member = decimal trade id) in one transaction, through the Redis
 * store opened at connect (its URL rules, password, ACL user, TLS,
 * timeouts and retries), so readers never see a half-written ranking.
 * Returns JOB_OK or a job status with the reason in err. */
static int screen_publish_redis(store_t *st, const signal_rec_t *s, size_t n, char *err, size_t errlen)
{
    int64_t *ids = xmalloc(sizeof(*ids) * (n ? n : 1));
    double *edge = xmalloc(sizeof(*edge) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        ids[i] = s[i].trade_id;
        edge[i] = s[i].edge;
    }
    int rc = store_put_ranking(st, screen_ranking, ids, edge, n);
    if (rc != STORE_OK)
        fs_seterr(err, errlen, "signals: %s", store_errstr(st));
    free(ids);
    free(edge);
    return rc == STORE_OK ? 0 : job_store_status(rc);
}

/* Publish the ranking to Redis when asked (or when the store is Redis):
 * *sig_url gets the URL used, or NULL. Returns JOB_OK or a job status (message
 * printed). */
static int screen_write_redis(const screen_job_t *j, const char **sig_url)
{
    *sig_url = j->sig_st ? j->sig_url : NULL;
    if (!*sig_url)
        return 0;
    char key[300], err[512], shown[512];
    snprintf(key, sizeof(key), "%s%s", j->c->so.key_prefix ? j->c->so.key_prefix : "", screen_ranking);
    int ret = screen_publish_redis(j->sig_st, j->sig, j->nsig, err, sizeof(err));
    if (ret != 0) {
        fs_error("%s", err);
        return ret;
    }
    fs_info("screen: %zu signals in the sorted set %s at %s", j->nsig, key,
            store_redact_url(*sig_url, shown, sizeof(shown)));
    return 0;
}

/* Rank 0's part of screen_write_outputs: HDF5, CSV, then Redis, stopping at
 * the first that fails. Returns the job's status. */
static int screen_publish(const screen_job_t *j)
{
    const screen_cfg_t *c = j->c;
    char err[4400];
    const char *sig_url = NULL;
    int ret;
    if (c->output && (ret = screen_write_h5(j)) != 0)
        return ret;
    if (c->csv && signals_write_csv(c->csv, j->sig, j->nsig, err, sizeof(err)) != 0) {
        fs_error("screen: %s", err);
        return JOB_E_IO;
    }
    if ((ret = screen_write_redis(j, &sig_url)) != 0)
        return ret;
    if (!c->output && !c->csv && !sig_url)
        fs_warn("screen: signals were computed but not published (no --output, --csv or Redis)");
    return j->k.failed ? JOB_TRADES_FAILED : JOB_OK;
}

/* Rank 0 publishes; its status is broadcast so every rank returns it. */
int screen_write_outputs(screen_job_t *j)
{
    int ret = j->k.failed ? JOB_TRADES_FAILED : JOB_OK;
    if (j->rank == 0)
        ret = screen_publish(j);
    MPI_Bcast(&ret, 1, MPI_INT, 0, MPI_COMM_WORLD); /* every rank exits as rank 0 */
    return ret;
}

/* ======================================================================
 * --make-quotes: synthetic quotes around the model value
 * ==================================================================== */

/* screen_walk_cb of --make-quotes: price the trade and add a quote
 * perturbed by seeded uniform noise that depends only on (quote seed, trade
 * id). Per-trade failures are counted and named; always returns 0. */
static int screen_mkq_cb(screen_job_t *j, trade_slot_t *slot, const mkt_quote_t *q)
{
    const screen_cfg_t *c = j->c;
    (void)q;
    double mv = 0, se = 0;
    int st = slot->status;
    if (st == FS_OK)
        st = screen_price_per_warrant(&slot->trade, &c->mo, j->work, &mv, &se);
    if (st != FS_OK) {
        j->k.failed++;
        fs_error("screen: trade %lld: cannot price (%s); no quote made", (long long)slot->trade.id,
                 fs_status_name(st));
        return 0;
    }
    uint64_t h = fs_mix64(c->quote_seed ^ fs_mix64((uint64_t)slot->trade.id + 0x51a7e5ULL));
    double u = (double)(h >> 11) * 0x1.0p-53; /* [0, 1) */
    double quote = mv * (1.0 + c->quote_noise * (2.0 * u - 1.0));
    if (!(quote > 0) || !isfinite(quote)) {
        j->k.no_quote_made++;
        return 0;
    }
    j->k.joined++;
    mkt_qwriter_add(j->quotes, slot->trade.id, quote);
    return 0;
}

/* Open the quote file, walk the trades with screen_mkq_cb, close (or
 * discard) the file and log what was written. Returns JOB_OK,
 * JOB_TRADES_FAILED, or the status of the failure (message printed). */
int screen_make_quotes(screen_job_t *j)
{
    const screen_cfg_t *c = j->c;
    const screen_counts_t *k = &j->k;
    char err[8500];
    j->work = mc_work_new();
    if (!(j->quotes = mkt_qwriter_open(c->make_quotes, c->pair, err, sizeof(err)))) {
        fs_error("screen: %s", err);
        return JOB_E_IO;
    }
    int ret = screen_walk(j, screen_mkq_cb);
    if (mkt_qwriter_close(j->quotes, ret != 0, err, sizeof(err)) != MKT_OK) {
        if (err[0])
            fs_error("screen: %s", err);
        ret = JOB_E_IO;
    }
    j->quotes = NULL;
    if (ret == 0)
        fs_info("screen: wrote %lld quotes to %s (%lld trades, %lld absent ids, %lld not priced, %lld with zero value; noise %g, quote seed %llu)",
                (long long)k->joined, c->make_quotes, (long long)k->trades, (long long)k->absent,
                (long long)k->failed, (long long)k->no_quote_made, c->quote_noise,
                (unsigned long long)c->quote_seed);
    return ret ? ret : k->failed ? JOB_TRADES_FAILED : JOB_OK;
}
