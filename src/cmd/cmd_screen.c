/* cmd_screen.c - finsim screen: join market quotes with trades, price them,
 * and publish the trades whose model value beats the quote (rich/cheap
 * signals) to HDF5, CSV and a Redis sorted set. Also makes synthetic quotes
 * (--make-quotes) so the loop runs offline. Under mpirun the ranks share
 * the trades; rank 0 fetches the market data once and publishes. */
#define _GNU_SOURCE
#include "finsim/cmd/cli.h"

#include <errno.h>
#include <getopt.h>
#include <hdf5.h>
#include <jansson.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "finsim/base/config.h"
#include "finsim/base/config_build.h"
#include "finsim/base/options.h"
#include "finsim/cmd/settings.h"
#include "finsim/market/market.h"
#include "finsim/pricing/mc.h"
#include "finsim/store/store.h"
#include "finsim/trade/trade.h"
#include "finsim/base/util.h"

/* One selected trade: the /signals record, field for field. */
typedef struct signal_rec {
    int64_t trade_id;
    double quote;
    double model_value;
    double model_stderr;
    double edge;
    double z;
} signal_rec_t;


/* Counters of one screen; every trade and quote lands in exactly one. */
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

/* Is url a Redis store URL (as opposed to a trade file path)? */
static int is_redis_url(const char *url)
{
    return url && (!strncmp(url, "redis://", 8) || !strncmp(url, "rediss://", 9) || !strncmp(url, "unix://", 7));
}

/* ======================================================================
 * trades: fetch, override, price
 * ==================================================================== */

/* Called for each trade present in the store (status FS_OK or a per-trade
 * error) with its quote (NULL when unquoted). Returns 0 to go on, or an exit
 * code to stop. */
typedef int (*walk_cb)(void *arg, trade_slot_t *slot, const mkt_quote_t *q);

/* The worst (largest) exit code over all ranks: every rank takes the same
 * branch after it. Collective. */
static int screen_agree(int code)
{
    int worst = code;
    MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return worst;
}

/* Broadcast len bytes from rank 0 in pieces that fit an int count. */
static void screen_bcast_bytes(void *buf, size_t len)
{
    const size_t piece = (size_t)1 << 30;
    for (size_t off = 0; off < len; off += piece)
        MPI_Bcast((char *)buf + off, (int)(len - off < piece ? len - off : piece), MPI_BYTE, 0, MPI_COMM_WORLD);
}

/* Build this rank's share of the trade ids to screen: a contiguous slice of
 * the window, or of every trade in the store (listed by rank 0 and
 * broadcast). *ids is malloc'ed (caller frees). Collective; returns 0 or an
 * exit code, the same on every rank. */
static int screen_ids(const screen_cfg_t *c, store_t *st, int rank, int nranks, int64_t **ids, size_t *n)
{
    if (c->window > 0) {
        int64_t lo = c->window * rank / nranks, hi = c->window * (rank + 1) / nranks;
        *n = (size_t)(hi - lo);
        *ids = xmalloc((*n ? *n : 1) * sizeof(**ids));
        for (size_t i = 0; i < *n; i++)
            (*ids)[i] = c->start + lo + (int64_t)i;
        return 0;
    }
    int64_t *all = NULL;
    size_t nall = 0;
    int code = 0;
    if (rank == 0) {
        int rc = store_list_trades(st, &all, &nall);
        if (rc != STORE_OK) {
            fs_error("screen: cannot list the trades of %s: %s%s", store_describe(st), st->errstr,
                     rc == STORE_E_NOTSUP ? " (give --start-trade and --trade-window)" : "");
            code = store_err_exit_code(rc);
        }
    }
    if ((code = screen_agree(code)) != 0) {
        free(all);
        return code;
    }
    uint64_t n64 = nall;
    MPI_Bcast(&n64, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    nall = (size_t)n64;
    if (rank != 0)
        all = xmalloc((nall ? nall : 1) * sizeof(*all));
    screen_bcast_bytes(all, nall * sizeof(*all));
    size_t lo = nall * (size_t)rank / (size_t)nranks, hi = nall * (size_t)(rank + 1) / (size_t)nranks;
    *n = hi - lo;
    *ids = xmalloc((*n ? *n : 1) * sizeof(**ids));
    if (*n)
        memcpy(*ids, all + lo, *n * sizeof(**ids));
    free(all);
    return 0;
}

/* Load the quotes and market sources: rank 0 reads or fetches each one (so
 * an endpoint sees one request per run), every rank parses a broadcast
 * copy. Collective; returns MKT_OK or an MKT_E_* code on every rank, the
 * message printed by rank 0. */
static int screen_load_market(const screen_cfg_t *c, int rank, int nranks, mkt_data_t *d)
{
    char err[512] = "", shown[512];
    int mr = MKT_OK;
    for (int i = -1; i < c->nmarket && mr == MKT_OK; i++) {
        const char *src = i < 0 ? c->quotes_src : c->market_src[i];
        char *buf = NULL;
        size_t len = 0;
        if (rank == 0)
            mr = mkt_read_source(src, &c->http, &buf, &len, shown, sizeof(shown), err, sizeof(err));
        if (nranks > 1) {
            MPI_Bcast(&mr, 1, MPI_INT, 0, MPI_COMM_WORLD);
            if (mr == MKT_OK) {
                uint64_t l64 = len;
                MPI_Bcast(&l64, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
                len = (size_t)l64;
                if (rank != 0) {
                    buf = xmalloc(len + 1);
                    buf[len] = '\0';
                }
                screen_bcast_bytes(buf, len);
                MPI_Bcast(shown, (int)sizeof(shown), MPI_CHAR, 0, MPI_COMM_WORLD);
            }
        }
        if (mr == MKT_OK)
            mr = mkt_parse(buf, len, shown, d, err, sizeof(err)); /* same outcome on every rank */
        free(buf);
    }
    if (mr == MKT_OK)
        mr = mkt_index(d, err, sizeof(err));
    if (mr != MKT_OK && rank == 0)
        fs_error("%s", err);
    return mr;
}

/* Collect every rank's signals on rank 0 (*sig, *nsig replaced there).
 * Collective. */
static void screen_gather_signals(int rank, int nranks, signal_rec_t **sig, size_t *nsig)
{
    int mine = (int)(*nsig * sizeof(signal_rec_t));
    int *cnt = NULL, *disp = NULL;
    if (rank == 0) {
        cnt = xmalloc((size_t)nranks * sizeof(int));
        disp = xmalloc((size_t)nranks * sizeof(int));
    }
    MPI_Gather(&mine, 1, MPI_INT, cnt, 1, MPI_INT, 0, MPI_COMM_WORLD);
    signal_rec_t *all = NULL;
    size_t total = 0;
    if (rank == 0) {
        for (int r = 0; r < nranks; r++) {
            disp[r] = (int)total;
            total += (size_t)cnt[r];
        }
        all = xmalloc(total ? total : 1);
    }
    MPI_Gatherv(*sig, mine, MPI_BYTE, all, cnt, disp, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        free(*sig);
        *sig = all;
        *nsig = total / sizeof(signal_rec_t);
    }
    free(cnt);
    free(disp);
}

/* Read the trades ids[0..n) in batches and call cb for each one present,
 * with its quote from d (or NULL). matched[i] is set for quotes that found
 * a trade. Counts universe/absent/trades/joined/unquoted. Returns 0 or an
 * exit code (store failure, or cb's). */
static int screen_walk(const screen_cfg_t *c, store_t *st, const int64_t *ids, size_t n, const mkt_data_t *d,
                       unsigned char *matched, screen_counts_t *k, walk_cb cb, void *arg)
{
    size_t batch = (size_t)c->batch;
    trade_slot_t *slots = xmalloc(batch * sizeof(*slots));
    int ret = 0;
    for (size_t lo = 0; lo < n && ret == 0; lo += batch) {
        size_t m = n - lo < batch ? n - lo : batch;
        int rc = store_get_trades(st, ids + lo, m, slots);
        if (rc != STORE_OK) {
            fs_error("screen: reading trades from %s failed: %s", store_describe(st), st->errstr);
            ret = store_err_exit_code(rc);
            break;
        }
        for (size_t i = 0; i < m && ret == 0; i++) {
            k->universe++;
            if (slots[i].status == FS_E_NOT_FOUND) {
                k->absent++;
                continue;
            }
            k->trades++;
            slots[i].trade.id = ids[lo + i];
            const mkt_quote_t *q = d ? mkt_find_quote(d, ids[lo + i]) : NULL;
            if (q) {
                k->joined++;
                matched[q - d->quotes] = 1;
            } else {
                k->unquoted++;
                if (c->verbose && d)
                    fs_info("screen: trade %lld has no quote", (long long)ids[lo + i]);
            }
            ret = cb(arg, &slots[i], q);
        }
    }
    free(slots);
    return ret;
}

/* Apply the market record of q's pair to t (fx1 = spot, sigma1 = vol) and
 * re-validate. Returns FS_OK or the validation status (reason in msg). */
static int apply_market(const mkt_data_t *d, const mkt_quote_t *q, trade_t *t, screen_counts_t *k, char *msg,
                        size_t msglen)
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
 * FS_OK or a status (FS_E_DOMAIN when warrantsNo is 0). */
static int price_per_warrant(const trade_t *t, const mc_opts_t *mo, mc_work_t *w, double *mv, double *se)
{
    result_t r;
    if (t->warrants_no <= 0)
        return FS_E_DOMAIN;
    int st = mc_price(t, mo, w, &r);
    if (st != FS_OK)
        return st;
    *mv = r.pv / (double)t->warrants_no;
    *se = r.pv_stderr / (double)t->warrants_no;
    return FS_OK;
}

/* ======================================================================
 * screen: the join-price-select callback
 * ==================================================================== */

typedef struct screen_ctx {
    const screen_cfg_t *c;
    const mkt_data_t *d;
    screen_counts_t *k;
    mc_work_t *work;
    signal_rec_t *sig;
    size_t nsig, capsig;
} screen_ctx_t;

/* walk_cb of the screen: price a joined trade and keep it when it passes
 * the thresholds. Per-trade failures are counted and named, not fatal. */
static int screen_cb(void *arg, trade_slot_t *slot, const mkt_quote_t *q)
{
    screen_ctx_t *x = arg;
    if (!q)
        return 0;
    char msg[192];
    int st = slot->status;
    snprintf(msg, sizeof(msg), "%s", slot->msg);
    if (st == FS_OK)
        st = apply_market(x->d, q, &slot->trade, x->k, msg, sizeof(msg));
    double mv = 0, se = 0;
    if (st == FS_OK) {
        st = price_per_warrant(&slot->trade, &x->c->mo, x->work, &mv, &se);
        if (st == FS_E_DOMAIN)
            snprintf(msg, sizeof(msg), "warrantsNo is 0: no value per warrant");
        else if (st != FS_OK)
            snprintf(msg, sizeof(msg), "pricing failed");
    }
    if (st != FS_OK) {
        x->k->failed++;
        fs_error("screen: trade %lld: %s (%s)", (long long)slot->trade.id, msg, fs_status_name(st));
        return 0;
    }
    double diff = mv - q->quote;
    double edge = diff / q->quote;
    double z = se > 0 ? diff / se : diff > 0 ? INFINITY : diff < 0 ? -INFINITY : 0.0;
    if (!(edge >= x->c->min_edge && z >= x->c->min_z))
        return 0;
    if (x->nsig == x->capsig) {
        x->capsig = x->capsig ? x->capsig * 2 : 256;
        x->sig = xrealloc(x->sig, x->capsig * sizeof(*x->sig));
    }
    signal_rec_t *s = &x->sig[x->nsig++];
    s->trade_id = slot->trade.id;
    s->quote = q->quote;
    s->model_value = mv;
    s->model_stderr = se;
    s->edge = edge;
    s->z = z;
    return 0;
}

/* Ranking: edge descending, then trade id ascending (a total order). */
static int signal_cmp(const void *a, const void *b)
{
    const signal_rec_t *x = a, *y = b;
    if (x->edge != y->edge)
        return x->edge > y->edge ? -1 : 1;
    return (x->trade_id > y->trade_id) - (x->trade_id < y->trade_id);
}

/* ======================================================================
 * outputs
 * ==================================================================== */

/* Write the signals as CSV to path ('-' = stdout). Returns 0 or -1 (message
 * printed). */
static int write_signals_csv(const char *path, const signal_rec_t *s, size_t n)
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!f) {
        fs_error("screen: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "trade_id,quote,model_value,model_stderr,edge,z\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%lld,%.17g,%.17g,%.17g,%.17g,%.17g\n", (long long)s[i].trade_id, s[i].quote, s[i].model_value,
                s[i].model_stderr, s[i].edge, s[i].z);
    int bad = ferror(f) != 0;
    bad |= f == stdout ? fflush(f) != 0 : fclose(f) != 0;
    if (bad) {
        fs_error("screen: writing %s failed: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Root attributes of the signals file: a scalar of the given type. */
static int h5_attr_scalar(hid_t loc, const char *name, hid_t type, const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Awrite(a, type, v) >= 0;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    return ok ? 0 : -1;
}

/* A fixed-length string attribute. */
static int h5_attr_str(hid_t loc, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    int rc = h5_attr_scalar(loc, name, t, v);
    H5Tclose(t);
    return rc;
}

/* Write /signals and the attributes to path (via path.partial, renamed when
 * complete). Returns 0 or -1 (message printed; the partial file removed). */
static int write_signals_h5(const char *path, const screen_cfg_t *c, const screen_counts_t *k,
                            const signal_rec_t *s, size_t n, const char *quotes_shown, const char *started)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.partial", path);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        fs_error("screen: cannot create %s", tmp);
        return -1;
    }
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(signal_rec_t));
    H5Tinsert(t, "trade_id", HOFFSET(signal_rec_t, trade_id), H5T_NATIVE_INT64);
    H5Tinsert(t, "quote", HOFFSET(signal_rec_t, quote), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "model_value", HOFFSET(signal_rec_t, model_value), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "model_stderr", HOFFSET(signal_rec_t, model_stderr), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "edge", HOFFSET(signal_rec_t, edge), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "z", HOFFSET(signal_rec_t, z), H5T_NATIVE_DOUBLE);
    hsize_t dims[1] = {(hsize_t)n};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t ds = H5Dcreate2(f, "signals", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = ds >= 0 && (n == 0 || H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) >= 0);
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(sp);
    H5Tclose(t);
    char now[64];
    time_t tt = time(NULL);
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    uint64_t seed = c->mo.seed;
    int64_t paths = c->mo.paths;
    ok = ok && h5_attr_scalar(f, "min_edge", H5T_NATIVE_DOUBLE, &c->min_edge) == 0 &&
         h5_attr_scalar(f, "min_z", H5T_NATIVE_DOUBLE, &c->min_z) == 0 &&
         h5_attr_scalar(f, "seed", H5T_NATIVE_UINT64, &seed) == 0 &&
         h5_attr_scalar(f, "paths", H5T_NATIVE_INT64, &paths) == 0 &&
         h5_attr_scalar(f, "trades", H5T_NATIVE_INT64, &k->trades) == 0 &&
         h5_attr_scalar(f, "joined", H5T_NATIVE_INT64, &k->joined) == 0 &&
         h5_attr_scalar(f, "unquoted", H5T_NATIVE_INT64, &k->unquoted) == 0 &&
         h5_attr_scalar(f, "orphan_quotes", H5T_NATIVE_INT64, &k->orphans) == 0 &&
         h5_attr_scalar(f, "absent", H5T_NATIVE_INT64, &k->absent) == 0 &&
         h5_attr_scalar(f, "failed", H5T_NATIVE_INT64, &k->failed) == 0 &&
         h5_attr_scalar(f, "overridden", H5T_NATIVE_INT64, &k->overridden) == 0 &&
         h5_attr_scalar(f, "selected", H5T_NATIVE_INT64, &k->selected) == 0 &&
         h5_attr_str(f, "algorithm", mc_algo_name(c->mo.algo)) == 0 &&
         h5_attr_str(f, "kernel", mc_kernel_name(c->mo.kernel)) == 0 &&
         h5_attr_str(f, "quotes_source", quotes_shown) == 0 &&
         h5_attr_str(f, "value_convention", "model_value = pv / warrantsNo; quotes per warrant") == 0 &&
         h5_attr_str(f, "start_time", started) == 0 && h5_attr_str(f, "time", now) == 0 &&
         h5_attr_str(f, "finsim_version", FINSIM_VERSION) == 0;
    ok = H5Fclose(f) >= 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        fs_error("screen: writing %s failed%s%s", path, ok ? ": " : "", ok ? strerror(errno) : "");
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Replace the sorted set <prefix>finsim:signals with the signals (score =
 * edge, member = decimal trade id) in one transaction, through the Redis
 * store (its URL rules, password, ACL user, TLS, timeouts and retries), so
 * readers never see a half-written ranking. Returns 0 or an exit code with
 * the reason in err; key gets the name of the set. */
static int publish_signals_redis(const char *url, const store_opts_t *so, const signal_rec_t *s, size_t n,
                                 char *key, size_t keylen, char *err, size_t errlen)
{
    static const char name[] = "finsim:signals";
    snprintf(key, keylen, "%s%s", so->key_prefix ? so->key_prefix : "", name);
    if (!is_redis_url(url)) {
        fs_seterr(err, errlen, "signals: not a Redis URL (redis://, rediss://, unix://)");
        return FS_EXIT_USAGE;
    }
    char why[512];
    int code = 0;
    store_t *st = store_open(url, so, NULL, why, sizeof(why), &code);
    if (!st) {
        fs_seterr(err, errlen, "signals: %s", why);
        return store_err_exit_code(code);
    }
    int64_t *ids = xmalloc(sizeof(*ids) * (n ? n : 1));
    double *edge = xmalloc(sizeof(*edge) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        ids[i] = s[i].trade_id;
        edge[i] = s[i].edge;
    }
    int rc = store_put_ranking(st, name, ids, edge, n);
    if (rc != STORE_OK)
        fs_seterr(err, errlen, "signals: %s", st->errstr);
    free(ids);
    free(edge);
    store_close(st);
    return rc == STORE_OK ? 0 : store_err_exit_code(rc);
}

/* ======================================================================
 * make-quotes: synthetic quotes around the model value
 * ==================================================================== */

typedef struct mkq_ctx {
    const screen_cfg_t *c;
    screen_counts_t *k;
    mc_work_t *work;
    FILE *csv;        /* CSV output, or NULL for JSON */
    json_t *arr;      /* JSON output */
} mkq_ctx_t;

/* walk_cb of --make-quotes: price the trade and emit a quote perturbed by
 * seeded uniform noise that depends only on (quote seed, trade id). */
static int mkq_cb(void *arg, trade_slot_t *slot, const mkt_quote_t *q)
{
    mkq_ctx_t *x = arg;
    (void)q;
    double mv = 0, se = 0;
    int st = slot->status;
    if (st == FS_OK)
        st = price_per_warrant(&slot->trade, &x->c->mo, x->work, &mv, &se);
    if (st != FS_OK) {
        x->k->failed++;
        fs_error("screen: trade %lld: cannot price (%s); no quote made", (long long)slot->trade.id,
                 fs_status_name(st));
        return 0;
    }
    uint64_t h = fs_mix64(x->c->quote_seed ^ fs_mix64((uint64_t)slot->trade.id + 0x51a7e5ULL));
    double u = (double)(h >> 11) * 0x1.0p-53; /* [0, 1) */
    double quote = mv * (1.0 + x->c->quote_noise * (2.0 * u - 1.0));
    if (!(quote > 0) || !isfinite(quote)) {
        x->k->no_quote_made++;
        return 0;
    }
    x->k->joined++;
    if (x->csv) {
        fprintf(x->csv, "%lld,%.17g", (long long)slot->trade.id, quote);
        if (x->c->pair)
            fprintf(x->csv, ",%s", x->c->pair);
        fputc('\n', x->csv);
    } else {
        json_t *o = json_pack("{s:I,s:f}", "trade_id", (json_int_t)slot->trade.id, "quote", quote);
        if (x->c->pair)
            json_object_set_new(o, "currency_pair", json_string(x->c->pair));
        json_array_append_new(x->arr, o);
    }
    return 0;
}

/* Write synthetic quotes for the trades to c->make_quotes. Returns an exit
 * code. */
static int make_quotes(const screen_cfg_t *c, store_t *st, const int64_t *ids, size_t n)
{
    const char *path = c->make_quotes;
    size_t pl = strlen(path);
    int json = pl > 5 && !strcasecmp(path + pl - 5, ".json");
    screen_counts_t k;
    memset(&k, 0, sizeof(k));
    mkq_ctx_t x = {c, &k, mc_work_new(), NULL, NULL};
    FILE *f = NULL;
    char tmp[4200];
    int to_stdout = strcmp(path, "-") == 0;
    snprintf(tmp, sizeof(tmp), "%s.partial", path);
    if (to_stdout)
        f = stdout;
    else if (!(f = fopen(tmp, "w"))) {
        fs_error("screen: cannot open %s: %s", tmp, strerror(errno));
        mc_work_free(x.work);
        return FS_EXIT_IO;
    }
    if (json)
        x.arr = json_array();
    else {
        x.csv = f;
        fprintf(f, "trade_id,quote%s\n", c->pair ? ",currency_pair" : "");
    }
    int ret = screen_walk(c, st, ids, n, NULL, NULL, &k, mkq_cb, &x);
    if (json) {
        if (ret == 0 && json_dumpf(x.arr, f, JSON_INDENT(1) | JSON_REAL_PRECISION(17)) != 0)
            ret = FS_EXIT_IO;
        fputc('\n', f);
        json_decref(x.arr);
    }
    mc_work_free(x.work);
    int bad = ferror(f) != 0;
    bad |= to_stdout ? fflush(f) != 0 : fclose(f) != 0;
    if (!ret && bad) {
        fs_error("screen: writing %s failed: %s", path, strerror(errno));
        ret = FS_EXIT_IO;
    }
    if (!to_stdout) {
        if (ret == 0 && rename(tmp, path) != 0) {
            fs_error("screen: cannot rename %s to %s: %s", tmp, path, strerror(errno));
            ret = FS_EXIT_IO;
        }
        if (ret != 0)
            unlink(tmp);
    }
    if (ret == 0)
        fs_info("screen: wrote %lld quotes to %s (%lld trades, %lld absent ids, %lld not priced, %lld with zero value; noise %g, quote seed %llu)",
                (long long)k.joined, path, (long long)k.trades, (long long)k.absent, (long long)k.failed,
                (long long)k.no_quote_made, c->quote_noise, (unsigned long long)c->quote_seed);
    return ret ? ret : k.failed ? FS_EXIT_TRADES_FAILED : FS_EXIT_OK;
}

/* ======================================================================
 * the command
 * ==================================================================== */

/* Parse the settings of screen (settings_screen: INI file, FINSIM_*
 * environment, command line) into c. Returns -1 to go on, or an exit code
 * (help printed: 0; bad usage: 2). */
static int screen_parse(int argc, char **argv, opt_sources_t *src, screen_cfg_t *c)
{
    int pr = settings_parse(&settings_screen, c, argc, argv, src);
    if (pr == OPTS_HELP)
        return opts_usage(&settings_screen, stdout), FS_EXIT_OK;
    if (pr != 0)
        return FS_EXIT_USAGE;
    argc = src->layers.argc;
    argv = src->layers.argv;
    if (optind < argc) {
        fs_error("screen: unexpected argument '%s'", argv[optind]);
        return FS_EXIT_USAGE;
    }
    if (!c->store_url) {
        fs_error("screen: --store URL is required");
        return FS_EXIT_USAGE;
    }
    if (!c->make_quotes && !c->quotes_src) {
        fs_error("screen: give --quotes SRC (or --make-quotes FILE to make synthetic ones)");
        return FS_EXIT_USAGE;
    }
    if (c->make_quotes && (c->quotes_src || c->nmarket || c->output || c->csv || c->signals_redis)) {
        fs_error("screen: --make-quotes only writes quotes; it takes no --quotes, --market, --output, --csv or --signals-redis");
        return FS_EXIT_USAGE;
    }
    if (c->start != 0 && c->window == 0) {
        fs_error("screen: --start-trade needs --trade-window");
        return FS_EXIT_USAGE;
    }
    if (c->window > 0 && c->start + c->window - 1 > TRADE_MAX_ID) {
        fs_error("screen: trade ids would pass %lld", (long long)TRADE_MAX_ID);
        return FS_EXIT_USAGE;
    }
    return -1;
}

/* Fail early (before fetching and pricing) when the directory of an output
 * file is missing or not writable. Returns 0, or -1 with a message. */
static int check_output_dir(const char *opt, const char *path)
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

/* Log up to 10 ids of quotes that found no trade (all with -v). */
static void report_orphans(const mkt_data_t *d, const unsigned char *matched, int verbose)
{
    char line[512];
    size_t len = 0, shown = 0, total = 0;
    line[0] = '\0';
    for (size_t i = 0; i < d->nquotes; i++) {
        if (matched[i])
            continue;
        total++;
        if (verbose)
            fs_info("screen: quote for trade %lld has no trade in the store", (long long)d->quotes[i].trade_id);
        else if (shown < 10 && len < sizeof(line) - 32) {
            len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%lld", shown ? " " : "",
                                    (long long)d->quotes[i].trade_id);
            shown++;
        }
    }
    if (total && !verbose)
        fs_warn("screen: %zu quote%s without a trade: %s%s", total, total > 1 ? "s" : "", line,
                total > shown ? " ..." : "");
}

int cmd_screen(int argc, char **argv)
{
    screen_cfg_t c;
    memset(&c, 0, sizeof(c));
    mc_opts_default(&c.mo); /* the rest: settings_screen */
    int rank, nranks;
    fs_mpi_world(&rank, &nranks);
    opt_sources_t layers;
    int pr = screen_parse(argc, argv, &layers, &c);
    if (pr >= 0) {
        free(c.market_src);
        opts_sources_free(&layers);
        return pr;
    }
    if (nranks > 1 && c.make_quotes) {
        if (rank == 0)
            fs_error("screen: --make-quotes runs in one process; start it without mpirun");
        free(c.market_src);
        opts_sources_free(&layers);
        return FS_EXIT_USAGE;
    }
    char started[64];
    {
        time_t tt = time(NULL);
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    int ret = FS_EXIT_OK;
    int published_stage = 0; /* every rank got past the walk: rank 0 decides the exit code */
    char err[512];
    char *password = NULL, *api_key = NULL;
    mkt_data_t d;
    memset(&d, 0, sizeof(d));
    store_t *st = NULL;
    int64_t *ids = NULL;
    unsigned char *matched = NULL;
    screen_ctx_t x;
    memset(&x, 0, sizeof(x));

    /* secrets: only from the environment or mode-0600 files */
    if (settings_store_password(c.password_file, &c.so, &password, NULL) != 0) {
        ret = FS_EXIT_USAGE;
        goto out;
    }
    if (c.api_key_file) {
        if (cfg_read_secret_file(c.api_key_file, &api_key, err, sizeof(err)) != 0) {
            fs_error("screen: %s", err);
            ret = FS_EXIT_USAGE;
            goto out;
        }
        c.http.api_key = api_key;
    } else {
        c.http.api_key = getenv("FINSIM_MARKET_API_KEY");
    }
    c.so.readonly = 1; /* TLS, key prefix, timeout: settings_screen */
    c.so.batch = c.batch;

    if (rank == 0 && (check_output_dir("--output", c.output) || check_output_dir("--csv", c.csv) ||
                      check_output_dir("--make-quotes", c.make_quotes)))
        ret = FS_EXIT_IO;
    if ((ret = screen_agree(ret)) != 0)
        goto out;

    /* market data first: a failing endpoint should not cost a store session */
    char quotes_shown[512] = "";
    if (!c.make_quotes) {
        double t0 = fs_now();
        int mr = screen_load_market(&c, rank, nranks, &d);
        if (mr != MKT_OK) {
            ret = mkt_err_exit_code(mr);
            goto out;
        }
        if (!strncasecmp(c.quotes_src, "http", 4))
            mkt_redact_url(c.quotes_src, quotes_shown, sizeof(quotes_shown));
        else
            snprintf(quotes_shown, sizeof(quotes_shown), "%s", c.quotes_src);
        if (rank == 0)
            fs_info("screen: %zu quotes, %zu market records loaded in %.2f s", d.nquotes, d.npairs, fs_now() - t0);
    }

    int ecode = 0;
    st = store_open(c.store_url, &c.so, NULL, err, sizeof(err), &ecode); /* each rank its own handle */
    if (!st && (rank == 0 || ecode != STORE_E_CONNECT))
        fs_error("%s", err);
    if ((ret = screen_agree(st ? 0 : store_err_exit_code(ecode))) != 0)
        goto out;
    size_t n = 0;
    if ((ret = screen_ids(&c, st, rank, nranks, &ids, &n)) != 0)
        goto out;
    if (c.make_quotes) {
        ret = make_quotes(&c, st, ids, n);
        goto out;
    }

    screen_counts_t k;
    memset(&k, 0, sizeof(k));
    matched = xcalloc(d.nquotes ? d.nquotes : 1, 1);
    x.c = &c;
    x.d = &d;
    x.k = &k;
    x.work = mc_work_new();
    double t1 = fs_now();
    ret = screen_walk(&c, st, ids, n, &d, matched, &k, screen_cb, &x);
    if ((ret = screen_agree(ret)) != 0)
        goto out;
    published_stage = 1;
    if (nranks > 1) {
        MPI_Allreduce(MPI_IN_PLACE, &k, (int)(sizeof(k) / sizeof(int64_t)), MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
        if (d.nquotes)
            MPI_Allreduce(MPI_IN_PLACE, matched, (int)d.nquotes, MPI_UNSIGNED_CHAR, MPI_BOR, MPI_COMM_WORLD);
        screen_gather_signals(rank, nranks, &x.sig, &x.nsig);
    }
    for (size_t i = 0; i < d.nquotes; i++)
        k.orphans += !matched[i];
    ret = k.failed ? FS_EXIT_TRADES_FAILED : FS_EXIT_OK;
    if (rank != 0)
        goto out; /* rank 0 publishes; its outcome is shared at the end */
    report_orphans(&d, matched, c.verbose);
    if (x.nsig)
        qsort(x.sig, x.nsig, sizeof(*x.sig), signal_cmp);
    k.selected = (int64_t)x.nsig;
    fs_info("screen: %lld trades (%lld ids absent), %lld joined, %lld unquoted, %lld orphan quotes, "
            "%lld failed, %lld changed by market data%s; %lld selected (edge >= %g, z >= %g) in %.2f s",
            (long long)k.trades, (long long)k.absent, (long long)k.joined, (long long)k.unquoted,
            (long long)k.orphans, (long long)k.failed, (long long)k.overridden,
            k.no_market ? " (some pairs without market data)" : "", (long long)k.selected, c.min_edge, c.min_z,
            fs_now() - t1);
    if (k.no_market)
        fs_warn("screen: %lld joined trades name a currency pair absent from the market data; priced as stored",
                (long long)k.no_market);

    /* publish */
    if (c.output && write_signals_h5(c.output, &c, &k, x.sig, x.nsig, quotes_shown, started) != 0) {
        ret = FS_EXIT_IO;
        goto out;
    }
    if (c.csv && write_signals_csv(c.csv, x.sig, x.nsig) != 0) {
        ret = FS_EXIT_IO;
        goto out;
    }
    const char *sig_url = c.no_signals_redis ? NULL : c.signals_redis ? c.signals_redis
                          : is_redis_url(c.store_url) ? c.store_url : NULL;
    if (sig_url) {
        char key[300];
        if ((ret = publish_signals_redis(sig_url, &c.so, x.sig, x.nsig, key, sizeof(key), err,
                                         sizeof(err))) != 0) {
            fs_error("%s", err);
            goto out;
        }
        char shown[512];
        fs_info("screen: %zu signals in the sorted set %s at %s", x.nsig, key, store_redact_url(sig_url, shown, sizeof(shown)));
    }
    if (!c.output && !c.csv && !sig_url)
        fs_warn("screen: signals were computed but not published (no --output, --csv or Redis)");
    ret = k.failed ? FS_EXIT_TRADES_FAILED : FS_EXIT_OK;

out:
    if (published_stage)
        MPI_Bcast(&ret, 1, MPI_INT, 0, MPI_COMM_WORLD); /* every rank exits as rank 0 */
    mc_work_free(x.work);
    free(x.sig);
    free(matched);
    free(ids);
    store_close(st);
    mkt_data_free(&d);
    free(c.market_src);
    opts_sources_free(&layers); /* after the last use of the option strings */
    if (password) {
        memset(password, 0, strlen(password));
        free(password);
    }
    if (api_key) {
        memset(api_key, 0, strlen(api_key));
        free(api_key);
    }
    return ret;
}
