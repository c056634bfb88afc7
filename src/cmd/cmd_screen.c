/* cmd_screen.c - finsim screen: options, secrets and the phases of the
 * rich/cheap screen (the job itself is src/job/screen.c). Under mpirun the
 * ranks share the trades; rank 0 fetches the market data once and
 * publishes. */
#define _GNU_SOURCE
#include "finsim/cmd/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "finsim/base/config.h"
#include "finsim/job/screen.h"
#include "finsim/job/status.h"
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
    "                          and renamed when complete; rank 0 writes it (and --csv)\n"
    "                          after gathering the signals, so it appears on rank 0's\n"
    "                          host and a node-local directory works (no shared file\n"
    "                          system needed; like 'finsim run --h5-write gather')\n"
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
    {"store", "store", 0}, {"key_prefix", "store", 0}, {"password_file", "store", 0}, {"batch", "store", 0},
    {"quotes", "screen", 0}, {"market", "screen", 0}, {"start_trade", "screen", 0}, {"trade_window", "screen", 0},
    {"algorithm", "screen", 0}, {"kernel", "screen", 0}, {"seed", "screen", 0}, {"paths", "screen", 0},
    {"min_edge", "screen", 0}, {"min_z", "screen", 0}, {"signals_redis", "screen", 0},
    {"http_connect_timeout", "screen", 0}, {"http_timeout", "screen", 0}, {"http_retries", "screen", 0},
    {"http_backoff", "screen", 0}, {"http_ca", "screen", 0},
    {NULL, NULL, 0},
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

/* Defaults, then the settings of the config file, FINSIM_<NAME> and the
 * command line into c (layers keeps the strings c borrows; free with
 * cfg_free after the last use of c). Returns -1 to go on, or an exit code
 * (help printed: 0; bad usage: 2) with c->market_src and layers freed. */
static int screen_setup(int argc, char **argv, int rank, int nranks, screen_cfg_t *c, cfg_layers_t *layers)
{
    memset(c, 0, sizeof(*c));
    mc_opts_default(&c->mo);
    c->mo.seed = 1;
    c->batch = 1000;
    c->min_edge = 0.02;
    c->min_z = 2.0;
    c->quote_noise = 0.05;
    c->quote_seed = 7;
    char cerr[512];
    if (cfg_build(screen_keys, argc, argv, layers, cerr, sizeof(cerr)) != 0) {
        fs_error("screen: %s", cerr);
        return FS_EXIT_USAGE;
    }
    int pr = screen_parse(layers->argc, layers->argv, layers, c);
    if (pr < 0 && nranks > 1 && c->make_quotes) {
        if (rank == 0)
            fs_error("screen: --make-quotes runs in one process; start it without mpirun");
        pr = FS_EXIT_USAGE;
    }
    if (pr >= 0) {
        free(c->market_src);
        cfg_free(layers);
    }
    return pr;
}

/* Secrets read from mode-0600 files; wiped and freed by screen_secrets_free. */
typedef struct screen_secrets {
    char *password;
    char *api_key;
} screen_secrets_t;

/* Wipe and free one secret. */
static void screen_secret_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

/* Wipe and free the secrets of s (both may be NULL). */
static void screen_secrets_free(screen_secrets_t *s)
{
    screen_secret_free(s->password);
    screen_secret_free(s->api_key);
}

/* Take what only the environment and secret files give into c: the Redis
 * password, the market API key and the TLS settings; and make the store
 * read-only with the batch size of c. Returns 0, or FS_EXIT_USAGE when a
 * secret file is unusable (message printed). */
static int screen_secrets(screen_cfg_t *c, screen_secrets_t *s)
{
    char err[512];
    if (c->password_file) {
        if (cfg_read_secret_file(c->password_file, &s->password, err, sizeof(err)) != 0) {
            fs_error("screen: %s", err);
            return FS_EXIT_USAGE;
        }
        c->so.password = s->password;
    } else {
        c->so.password = getenv("FINSIM_REDIS_PASSWORD");
    }
    if (c->api_key_file) {
        if (cfg_read_secret_file(c->api_key_file, &s->api_key, err, sizeof(err)) != 0) {
            fs_error("screen: %s", err);
            return FS_EXIT_USAGE;
        }
        c->http.api_key = s->api_key;
    } else {
        c->http.api_key = getenv("FINSIM_MARKET_API_KEY");
    }
    c->so.tls_ca_file = getenv("FINSIM_TLS_CA");
    c->so.tls_ca_dir = getenv("FINSIM_TLS_CA_DIR");
    c->so.tls_cert = getenv("FINSIM_TLS_CERT");
    c->so.tls_key = getenv("FINSIM_TLS_KEY");
    c->so.tls_sni = getenv("FINSIM_TLS_SNI");
    const char *ins = getenv("FINSIM_TLS_INSECURE");
    c->so.tls_insecure = ins && (!strcmp(ins, "1") || !strcasecmp(ins, "true") || !strcasecmp(ins, "yes"));
    c->so.readonly = 1;
    c->so.batch = (int)c->batch;
    return 0;
}

/* finsim screen: see screen_usage. The phases of src/job/screen.c in order;
 * the first that fails ends the command, its job status mapped to the exit
 * code. */
int cmd_screen(int argc, char **argv)
{
    screen_cfg_t c;
    cfg_layers_t layers;
    int rank, nranks;
    fs_mpi_world(&rank, &nranks);
    int ret = screen_setup(argc, argv, rank, nranks, &c, &layers);
    if (ret >= 0)
        return ret;
    screen_secrets_t secrets = {NULL, NULL};
    screen_job_t *j = screen_job_new(&c, rank, nranks);
    int st = JOB_OK;
    if ((ret = fs_mpi_agree(screen_secrets(&c, &secrets))) != 0 || (st = screen_check_outputs(j)) != JOB_OK)
        goto out;
    /* market data first: a failing endpoint should not cost a store session */
    if (!c.make_quotes && (st = screen_load_market(j)) != JOB_OK)
        goto out;
    if ((st = screen_open_store(j)) != JOB_OK || (st = screen_build_trade_list(j)) != JOB_OK)
        goto out;
    if (c.make_quotes) {
        st = screen_make_quotes(j);
        goto out;
    }
    if ((st = screen_price_quoted(j)) != JOB_OK)
        goto out;
    screen_gather_signals(j);
    screen_report(j);
    st = screen_write_outputs(j);

out:
    screen_job_free(j);
    free(c.market_src);
    cfg_free(&layers); /* after the last use of the option strings */
    screen_secrets_free(&secrets);
    return ret ? ret : cli_exit_code(st);
}
