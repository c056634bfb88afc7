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
#include "finsim/market/market.h"
#include "finsim/pricing/mc.h"
#include "finsim/store/store.h"
#include "finsim/trade/trade.h"
#include "finsim/base/util.h"

static const char screen_usage[] =
    "usage: finsim screen --store URL --quotes SRC [--market SRC]... [--start-trade K --trade-window W]\n"
    "                     [--min-edge X] [--min-z Z] [--output FILE.h5] [--csv FILE|-]\n"
    "                     [--signals-redis URL | --no-signals-redis] [pricing options]\n"
    "       finsim screen --make-quotes FILE --store URL [--start-trade K --trade-window W]\n"
    "                     [--quote-noise X] [--quote-seed Q] [--pair NAME] [pricing options]\n"
    "\n"
    "The daily rich/cheap screen: load market quotes (a price per warrant for each\n"
    "trade id), inner-join them with the trades of the store, price every joined\n"
    "trade, and select those whose model value beats the quote by a margin:\n"
    "\n"
    "  model_value  = pv / warrantsNo          (per warrant, the unit of the quotes)\n"
    "  model_stderr = pv_stderr / warrantsNo\n"
    "  edge = (model_value - quote) / quote,   z = (model_value - quote) / model_stderr\n"
    "  selected when edge >= --min-edge and z >= --min-z; ranked by edge, descending\n"
    "\n"
    "Trades without a quote (unquoted) and quotes without a trade (orphans) are\n"
    "counted and reported, never dropped silently. The trades are K..K+W-1, or every\n"
    "trade in the store when no window is given. Under 'mpirun -np R finsim screen'\n"
    "the ranks share the trades (same signals for any R); rank 0 fetches the market\n"
    "data once and publishes. --make-quotes runs in one process.\n"
    "\n"
    "market data (SRC is a file path, '-' for stdin, or an http:// or https:// URL):\n"
    "  --quotes SRC            CSV with header trade_id,quote[,currency_pair], or JSON\n"
    "                          [{\"trade_id\":42,\"quote\":1.5,\"currency_pair\":\"EURUSD\"},...]\n"
    "  --market SRC            spot and vol per currency pair (CSV currency_pair,spot,vol\n"
    "                          or JSON); they override fx1 and sigma1 of the trades whose\n"
    "                          quote names that pair (repeatable; a JSON object\n"
    "                          {\"quotes\":[...],\"market\":[...]} may carry both)\n"
    "  --api-key-file F        API key for the endpoint from F (mode 0600); otherwise\n"
    "                          FINSIM_MARKET_API_KEY. Sent as 'Authorization: Bearer KEY',\n"
    "                          never on the command line, never logged\n"
    "  --api-key-header NAME   send the key as 'NAME: KEY' instead (e.g. X-API-Key)\n"
    "  --http-connect-timeout S  connect timeout (default 5 s)\n"
    "  --http-timeout S        whole-request timeout (default 30 s)\n"
    "  --http-retries N        retries after timeouts, connection errors, 408/429/5xx\n"
    "                          (default 3; 0 = none), waiting --http-backoff S (default\n"
    "                          0.5 s), doubled after each attempt\n"
    "  --http-ca FILE          CA bundle for https; --http-insecure skips verification\n"
    "\n"
    "store (as 'finsim run'):\n"
    "  --store URL             redis://[user@]host:port[/db], rediss://, unix:///path.sock,\n"
    "                          or an HDF5 trade file; password from FINSIM_REDIS_PASSWORD or\n"
    "  --password-file F       (mode 0600); TLS from FINSIM_TLS_CA, FINSIM_TLS_CERT, ...\n"
    "  --key-prefix P          key prefix (default FINSIM_KEY_PREFIX)\n"
    "  --start-trade K, --trade-window W   the trades to screen (default: all)\n"
    "  --batch N               trades per store read (default 1000)\n"
    "\n"
    "pricing: --algorithm pvonly|deltavega (default pvonly), --seed S (default 1),\n"
    "  --paths N (override trials), --kernel fast|reference\n"
    "\n"
    "screen and output:\n"
    "  --min-edge X            smallest relative edge selected (default 0.02)\n"
    "  --min-z Z               smallest z-score selected (default 2)\n"
    "  --output FILE.h5        /signals compound dataset (trade_id, quote, model_value,\n"
    "                          model_stderr, edge, z) ranked by edge, with attributes\n"
    "                          (thresholds, counts, seed, time); written as FILE.partial\n"
    "                          and renamed when complete\n"
    "  --csv FILE|-            the same rows as CSV\n"
    "  --signals-redis URL     ZADD <prefix>finsim:signals EDGE TRADE_ID (replacing the\n"
    "                          set atomically); default: the store when it is Redis\n"
    "  --no-signals-redis      do not publish to Redis\n"
    "\n"
    "synthetic quotes (offline runs, tests):\n"
    "  --make-quotes FILE      price the trades and write quotes = model_value * (1 + e)\n"
    "                          with e uniform in [-X, X) from (--quote-seed, trade id);\n"
    "                          JSON when FILE ends in .json, else CSV; '-' = stdout\n"
    "  --quote-noise X         (default 0.05)   --quote-seed Q (default 7)\n"
    "  --pair NAME             currency_pair written with every quote\n"
    "\n"
    "  --config FILE           INI file ([store]: store, key_prefix, password_file, batch;\n"
    "                          [screen]: quotes, market, start_trade, trade_window,\n"
    "                          algorithm, kernel, seed, paths, min_edge, min_z,\n"
    "                          signals_redis, http_*); default FINSIM_CONFIG. The same\n"
    "                          settings come from FINSIM_<NAME> (FINSIM_QUOTES, ...);\n"
    "                          the command line wins. Outputs and secrets: command line only\n"
    "  -v, --verbose           list unquoted trades and orphan quotes\n"
    "  -h, --help              this text\n"
    "\n"
    "exit status: 0 every joined trade priced; 1 some joined trades failed (named on\n"
    "stderr); 2 usage; 3-5, 9 store errors as in 'finsim run'; 6 output I/O; 8 internal;\n"
    "11 market data unreadable, malformed or the endpoint failed (after retries);\n"
    "12 market data endpoint timed out (after retries); 13 endpoint refused the API key.\n";

/* One selected trade: the /signals record, field for field. */
typedef struct signal_rec {
    int64_t trade_id;
    double quote;
    double model_value;
    double model_stderr;
    double edge;
    double z;
} signal_rec_t;

typedef struct screen_cfg {
    const char *store_url;
    const char *quotes_src;
    const char **market_src;
    int nmarket;
    const char *output;
    const char *csv;
    const char *signals_redis;
    int no_signals_redis;
    const char *make_quotes;
    double quote_noise;
    uint64_t quote_seed;
    const char *pair;
    const char *password_file;
    const char *api_key_file;
    int64_t start, window;
    int64_t batch;
    double min_edge, min_z;
    mc_opts_t mo;
    mkt_http_opts_t http;
    store_opts_t so;
    int verbose;
} screen_cfg_t;

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

/* Parse helpers with messages; return 0 or -1. */
static int scr_i64(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t v;
    if (fs_parse_i64(s, &v) != 0 || v < lo || v > hi) {
        fs_error("screen: %s expects an integer in [%lld, %lld], got '%s'", opt, (long long)lo, (long long)hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* As scr_i64 for a double in [lo, hi]. */
static int scr_dbl(const char *opt, const char *s, double lo, double hi, double *out)
{
    double v;
    if (fs_parse_double(s, &v) != 0 || v < lo || v > hi) {
        fs_error("screen: %s expects a number in [%g, %g], got '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

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

enum {
    O_STORE = 256, O_QUOTES, O_MARKET, O_START, O_WINDOW, O_BATCH, O_PREFIX, O_PWFILE, O_APIKEYFILE, O_APIHDR,
    O_CTO, O_TO, O_RETRIES, O_BACKOFF, O_CA, O_INSECURE, O_MINEDGE, O_MINZ, O_OUTPUT, O_CSV, O_SIGREDIS,
    O_NOSIGREDIS, O_MAKEQ, O_NOISE, O_QSEED, O_PAIR, O_CONFIG
};

/* Settings that may also come from an INI file (--config FILE or
 * FINSIM_CONFIG; sections [store] and [screen]) and from FINSIM_<NAME>
 * variables, below the command line (see config.h). Outputs and secrets are
 * command-line only, so a FINSIM_OUTPUT meant for 'finsim run' can never
 * redirect the signals. */
static const cfg_key_t screen_keys[] = {
    {"store", "store", 0, 0}, {"key_prefix", "store", 0, 0}, {"password_file", "store", 0, 0}, {"batch", "store", 0, 0},
    {"quotes", "screen", 0, 0}, {"market", "screen", 0, 0}, {"start_trade", "screen", 0, 0}, {"trade_window", "screen", 0, 0},
    {"algorithm", "screen", 0, 0}, {"kernel", "screen", 0, 0}, {"seed", "screen", 0, 0}, {"paths", "screen", 0, 0},
    {"min_edge", "screen", 0, 0}, {"min_z", "screen", 0, 0}, {"signals_redis", "screen", 0, 0},
    {"http_connect_timeout", "screen", 0, 0}, {"http_timeout", "screen", 0, 0}, {"http_retries", "screen", 0, 0},
    {"http_backoff", "screen", 0, 0}, {"http_ca", "screen", 0, 0},
    {NULL, NULL, 0, 0},
};

/* Parse the command line into c. Returns -1 to go on, or an exit code
 * (help printed: 0; bad usage: 2). */
static int screen_parse(int argc, char **argv, const cfg_layers_t *layers, screen_cfg_t *c)
{
    int market_from_cli = 0;
    static const struct option opts[] = {
        {"store", required_argument, NULL, O_STORE},
        {"quotes", required_argument, NULL, O_QUOTES},
        {"market", required_argument, NULL, O_MARKET},
        {"start-trade", required_argument, NULL, O_START},
        {"trade-window", required_argument, NULL, O_WINDOW},
        {"batch", required_argument, NULL, O_BATCH},
        {"key-prefix", required_argument, NULL, O_PREFIX},
        {"password-file", required_argument, NULL, O_PWFILE},
        {"api-key-file", required_argument, NULL, O_APIKEYFILE},
        {"api-key-header", required_argument, NULL, O_APIHDR},
        {"http-connect-timeout", required_argument, NULL, O_CTO},
        {"http-timeout", required_argument, NULL, O_TO},
        {"http-retries", required_argument, NULL, O_RETRIES},
        {"http-backoff", required_argument, NULL, O_BACKOFF},
        {"http-ca", required_argument, NULL, O_CA},
        {"http-insecure", no_argument, NULL, O_INSECURE},
        {"min-edge", required_argument, NULL, O_MINEDGE},
        {"min-z", required_argument, NULL, O_MINZ},
        {"output", required_argument, NULL, O_OUTPUT},
        {"csv", required_argument, NULL, O_CSV},
        {"signals-redis", required_argument, NULL, O_SIGREDIS},
        {"no-signals-redis", no_argument, NULL, O_NOSIGREDIS},
        {"make-quotes", required_argument, NULL, O_MAKEQ},
        {"quote-noise", required_argument, NULL, O_NOISE},
        {"quote-seed", required_argument, NULL, O_QSEED},
        {"pair", required_argument, NULL, O_PAIR},
        {"config", required_argument, NULL, O_CONFIG},
        {"algorithm", required_argument, NULL, 'a'},
        {"kernel", required_argument, NULL, 'K'},
        {"seed", required_argument, NULL, 's'},
        {"paths", required_argument, NULL, 'p'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o;
    int64_t i64;
    optind = 1;
    while ((o = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
        switch (o) {
        case O_STORE: c->store_url = optarg; break;
        case O_QUOTES: c->quotes_src = optarg; break;
        case O_MARKET:
            /* --market adds sources within a layer; a lower layer's list
             * (file, FINSIM_MARKET) is replaced by the command line's */
            if (!strcmp(cfg_source_at(layers, optind), "command line") && !market_from_cli++)
                c->nmarket = 0;
            c->market_src = xrealloc(c->market_src, (size_t)(c->nmarket + 1) * sizeof(*c->market_src));
            c->market_src[c->nmarket++] = optarg;
            break;
        case O_START: if (scr_i64("--start-trade", optarg, 0, TRADE_MAX_ID, &c->start)) return FS_EXIT_USAGE; break;
        case O_WINDOW: if (scr_i64("--trade-window", optarg, 1, 100000000, &c->window)) return FS_EXIT_USAGE; break;
        case O_BATCH: if (scr_i64("--batch", optarg, 1, 100000, &c->batch)) return FS_EXIT_USAGE; break;
        case O_PREFIX: c->so.key_prefix = optarg; break;
        case O_PWFILE: c->password_file = optarg; break;
        case O_APIKEYFILE: c->api_key_file = optarg; break;
        case O_APIHDR:
            if (!optarg[0] || strpbrk(optarg, ": \r\n")) {
                fs_error("screen: --api-key-header wants a header name like X-API-Key");
                return FS_EXIT_USAGE;
            }
            c->http.api_key_header = optarg;
            break;
        case O_CTO: if (scr_dbl("--http-connect-timeout", optarg, 0.001, 3600, &c->http.connect_timeout_s)) return FS_EXIT_USAGE; break;
        case O_TO: if (scr_dbl("--http-timeout", optarg, 0.001, 86400, &c->http.timeout_s)) return FS_EXIT_USAGE; break;
        case O_RETRIES:
            if (scr_i64("--http-retries", optarg, 0, 100, &i64)) return FS_EXIT_USAGE;
            c->http.retries = i64 == 0 ? -1 : (int)i64;
            break;
        case O_BACKOFF: if (scr_dbl("--http-backoff", optarg, 0.001, 600, &c->http.backoff_s)) return FS_EXIT_USAGE; break;
        case O_CA: c->http.ca_file = optarg; break;
        case O_INSECURE: c->http.insecure = 1; break;
        case O_MINEDGE: if (scr_dbl("--min-edge", optarg, -1e9, 1e9, &c->min_edge)) return FS_EXIT_USAGE; break;
        case O_MINZ: if (scr_dbl("--min-z", optarg, -1e300, 1e300, &c->min_z)) return FS_EXIT_USAGE; break;
        case O_OUTPUT: c->output = optarg; break;
        case O_CSV: c->csv = optarg; break;
        case O_SIGREDIS: c->signals_redis = optarg; break;
        case O_NOSIGREDIS: c->no_signals_redis = 1; break;
        case O_MAKEQ: c->make_quotes = optarg; break;
        case O_NOISE: if (scr_dbl("--quote-noise", optarg, 0, 0.99, &c->quote_noise)) return FS_EXIT_USAGE; break;
        case O_QSEED:
            if (scr_i64("--quote-seed", optarg, 0, INT64_MAX, &i64)) return FS_EXIT_USAGE;
            c->quote_seed = (uint64_t)i64;
            break;
        case O_PAIR:
            if (!optarg[0] || strlen(optarg) >= MKT_PAIR_MAX || strpbrk(optarg, ",\" \t\r\n")) {
                fs_error("screen: --pair wants a name of 1..15 characters without commas, quotes or blanks");
                return FS_EXIT_USAGE;
            }
            c->pair = optarg;
            break;
        case O_CONFIG: break; /* read by cfg_build */
        case 'v': c->verbose = 1; break;
        case 'h': fputs(screen_usage, stdout); return FS_EXIT_OK;
        case 'a': case 'K': case 's': case 'p': {
            int r = cli_mc_option(o, optarg, &c->mo);
            if (r < 0)
                return FS_EXIT_USAGE;
            if (o == 'a' && c->mo.algo == MC_SYNTHETIC) {
                fs_error("screen: --algorithm synthetic computes no value; use pvonly or deltavega");
                return FS_EXIT_USAGE;
            }
            break;
        }
        default: fputs(screen_usage, stderr); return FS_EXIT_USAGE;
        }
    }
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
    mc_opts_default(&c.mo);
    c.mo.seed = 1;
    c.batch = 1000;
    c.min_edge = 0.02;
    c.min_z = 2.0;
    c.quote_noise = 0.05;
    c.quote_seed = 7;
    int rank, nranks;
    fs_mpi_world(&rank, &nranks);
    cfg_layers_t layers;
    char cerr[512];
    if (cfg_build(screen_keys, argc, argv, &layers, cerr, sizeof(cerr)) != 0) {
        fs_error("screen: %s", cerr);
        return FS_EXIT_USAGE;
    }
    int pr = screen_parse(layers.argc, layers.argv, &layers, &c);
    if (pr >= 0) {
        free(c.market_src);
        cfg_free(&layers);
        return pr;
    }
    if (nranks > 1 && c.make_quotes) {
        if (rank == 0)
            fs_error("screen: --make-quotes runs in one process; start it without mpirun");
        free(c.market_src);
        cfg_free(&layers);
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
    if (c.password_file) {
        if (cfg_read_secret_file(c.password_file, &password, err, sizeof(err)) != 0) {
            fs_error("screen: %s", err);
            ret = FS_EXIT_USAGE;
            goto out;
        }
        c.so.password = password;
    } else {
        c.so.password = getenv("FINSIM_REDIS_PASSWORD");
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
    c.so.tls_ca_file = getenv("FINSIM_TLS_CA");
    c.so.tls_ca_dir = getenv("FINSIM_TLS_CA_DIR");
    c.so.tls_cert = getenv("FINSIM_TLS_CERT");
    c.so.tls_key = getenv("FINSIM_TLS_KEY");
    c.so.tls_sni = getenv("FINSIM_TLS_SNI");
    {
        const char *ins = getenv("FINSIM_TLS_INSECURE");
        c.so.tls_insecure = ins && (!strcmp(ins, "1") || !strcasecmp(ins, "true") || !strcasecmp(ins, "yes"));
    }
    c.so.readonly = 1;
    c.so.batch = (int)c.batch;

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
    cfg_free(&layers); /* after the last use of the option strings */
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
