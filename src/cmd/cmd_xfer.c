/* cmd_xfer.c - finsim export / import: options, then the jobs of src/job/xfer.c
 * that copy trades between stores and eyxml files. Both run in one process. */
#define _GNU_SOURCE
#include "finsim/cmd/cli.h"

#include <getopt.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finsim/job/xfer.h"
#include "finsim/store/store.h"
#include "finsim/trade/trade.h"
#include "finsim/base/util.h"

/* Options shared by export and import (long option values > 255). */
enum {
    X_STORE = 256, X_START, X_WINDOW, X_ALL, X_EYXML, X_EYXML_DIR, X_TO, X_BATCH, X_PREFIX,
    X_CA, X_CADIR, X_CERT, X_KEY, X_SNI, X_INSECURE, X_TIMEOUT
};

#define XFER_STORE_OPTIONS                                   \
    {"key-prefix", required_argument, NULL, X_PREFIX},       \
    {"batch", required_argument, NULL, X_BATCH},             \
    {"tls-ca", required_argument, NULL, X_CA},               \
    {"tls-ca-dir", required_argument, NULL, X_CADIR},        \
    {"tls-cert", required_argument, NULL, X_CERT},           \
    {"tls-key", required_argument, NULL, X_KEY},             \
    {"tls-sni", required_argument, NULL, X_SNI},             \
    {"tls-insecure", no_argument, NULL, X_INSECURE},         \
    {"timeout", required_argument, NULL, X_TIMEOUT},         \
    {"help", no_argument, NULL, 'h'}

#define XFER_STORE_HELP                                                                          \
    "  --key-prefix P   Redis key prefix (default: $FINSIM_KEY_PREFIX); applies to every store\n" \
    "  --batch N        trades per batch (default 1000)\n"                                       \
    "  --tls-ca FILE, --tls-ca-dir DIR, --tls-cert FILE, --tls-key FILE, --tls-sni NAME,\n"     \
    "  --tls-insecure   TLS settings for rediss:// stores\n"                                      \
    "  --timeout SEC    store connect/command timeout (default 10)\n"                            \
    "  -h, --help       this text\n"                                                             \
    "\n"                                                                                         \
    "The Redis password comes from FINSIM_REDIS_PASSWORD, never from the command line.\n"       \
    "A trade file that does not exist yet is created; an existing one keeps its\n"              \
    "trades (same ids are overwritten).\n"                                                       \
    "\n"                                                                                         \
    "exit status: 0 every trade copied; 1 some trades were skipped (listed on stderr);\n"        \
    "2 usage; 3 store unreachable or unusable; 4 credentials refused; 5 TLS; 6 file I/O;\n"     \
    "8 internal error; 9 store timeout.\n"

static const char export_usage[] =
    "usage: finsim export --store URL [--start-trade K] [--trade-window W | --all]\n"
    "                     (--eyxml FILE | --eyxml-dir DIR | --to URL) [options]\n"
    "\n"
    "Copy trades out of a store: into one eyxml document (the layout 'finsim generate\n"
    "--eyxml' writes), into one eyxml file per trade (named like the Redis key,\n"
    "ey0000042.xml, bytes as AzFinSim writes them), or into another store.\n"
    "\n"
    "  --store URL        source: redis://[user@]host:port[/db], rediss://..., unix:///path.sock,\n"
    "                     mem://NAME, or a trade file path\n"
    "  --start-trade K    first trade id (default 0)\n"
    "  --trade-window W   export trades K..K+W-1; ids the store lacks are reported and skipped\n"
    "  --all              export every trade in the store, ascending (the default when no\n"
    "                     --trade-window is given; with --start-trade, ids >= K)\n"
    "  --eyxml FILE       one document holding every trade ('-' = standard output)\n"
    "  --eyxml-dir DIR    one file per trade (DIR is created)\n"
    "  --to URL           destination store (same URL forms as --store)\n"
    XFER_STORE_HELP;

static const char import_usage[] =
    "usage: finsim import (--eyxml FILE [FILE...] | --eyxml-dir DIR) --store URL [options]\n"
    "\n"
    "Read eyxml documents (one or more <trade> elements each, any attribute order)\n"
    "and write their trades into a store. Trades that do not parse or validate, and\n"
    "repeats of an id already imported in this run, are reported with their id and\n"
    "skipped.\n"
    "\n"
    "  --eyxml FILE       a document to import ('-' = standard input); repeatable, and\n"
    "                     further FILE arguments after the options are imported too\n"
    "  --eyxml-dir DIR    every *.xml file in DIR, in name order\n"
    "  --store URL        destination: redis://[user@]host:port[/db], rediss://...,\n"
    "                     unix:///path.sock, mem://NAME, or a trade file path\n"
    XFER_STORE_HELP;

/* ---- shared helpers ----------------------------------------------------------- */

/* Parse one of the store options into so / batch. Returns 1 when opt was
 * one of them, 0 when not, -1 on a bad value (message printed). */
static int xfer_store_option(int opt, const char *arg, store_opts_t *so, int *batch)
{
    int64_t v;
    double d;
    switch (opt) {
    case X_PREFIX: so->key_prefix = arg; return 1;
    case X_BATCH:
        if (fs_parse_i64(arg, &v) || v < 1 || v > 100000)
            return fs_error("--batch expects 1..100000, got '%s'", arg), -1;
        *batch = (int)v;
        so->batch = (int)v;
        return 1;
    case X_CA: so->tls_ca_file = arg; return 1;
    case X_CADIR: so->tls_ca_dir = arg; return 1;
    case X_CERT: so->tls_cert = arg; return 1;
    case X_KEY: so->tls_key = arg; return 1;
    case X_SNI: so->tls_sni = arg; return 1;
    case X_INSECURE: so->tls_insecure = 1; return 1;
    case X_TIMEOUT:
        if (fs_parse_double(arg, &d) || d <= 0 || d > 3600)
            return fs_error("--timeout expects seconds in (0, 3600], got '%s'", arg), -1;
        so->timeout_s = d;
        return 1;
    default: return 0;
    }
}

/* Defaults every store of export/import starts from: the password and key
 * prefix from the environment. */
static void xfer_store_defaults(store_opts_t *so)
{
    memset(so, 0, sizeof(*so));
    so->password = getenv("FINSIM_REDIS_PASSWORD");
    so->key_prefix = getenv("FINSIM_KEY_PREFIX");
}

/* Refuse to run as several MPI ranks: each would copy everything. Returns
 * 0 when this is the only process. */
static int xfer_single_process(const char *cmd)
{
    int rank, n;
    fs_mpi_world(&rank, &n);
    if (n > 1) {
        fs_error("%s runs in one process; start it without mpirun (or with -np 1)", cmd);
        return -1;
    }
    return 0;
}

/* ---- export ------------------------------------------------------------------- */

/* finsim export: see export_usage. Returns an fs_exit code. */
int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"store", required_argument, NULL, X_STORE},
        {"start-trade", required_argument, NULL, X_START},
        {"trade-window", required_argument, NULL, X_WINDOW},
        {"all", no_argument, NULL, X_ALL},
        {"eyxml", required_argument, NULL, X_EYXML},
        {"eyxml-dir", required_argument, NULL, X_EYXML_DIR},
        {"to", required_argument, NULL, X_TO},
        XFER_STORE_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    store_opts_t so;
    xfer_store_defaults(&so);
    const char *src_url = NULL, *eyxml = NULL, *dir = NULL, *to_url = NULL;
    int64_t start = 0, window = 0, v;
    int have_start = 0, all = 0, batch = 1000, c;
    optind = 0; /* full getopt reset: these commands may run several times in one process */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = xfer_store_option(c, optarg, &so, &batch);
        if (r < 0)
            return FS_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case X_STORE: src_url = optarg; break;
        case X_START:
            if (fs_parse_i64(optarg, &v) || v < 0 || v > TRADE_MAX_ID)
                return fs_error("--start-trade expects a trade id 0..%lld, got '%s'", TRADE_MAX_ID, optarg),
                       FS_EXIT_USAGE;
            start = v;
            have_start = 1;
            break;
        case X_WINDOW:
            if (fs_parse_i64(optarg, &v) || v < 1 || v > TRADE_MAX_ID + 1)
                return fs_error("--trade-window expects a positive count, got '%s'", optarg), FS_EXIT_USAGE;
            window = v;
            break;
        case X_ALL: all = 1; break;
        case X_EYXML: eyxml = optarg; break;
        case X_EYXML_DIR: dir = optarg; break;
        case X_TO: to_url = optarg; break;
        case 'h': fputs(export_usage, stdout); return FS_EXIT_OK;
        default: fputs(export_usage, stderr); return FS_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return fs_error("export: unexpected argument '%s'", argv[optind]), FS_EXIT_USAGE;
    if (!src_url)
        return fs_error("export: --store URL is required"), FS_EXIT_USAGE;
    if ((eyxml != NULL) + (dir != NULL) + (to_url != NULL) != 1)
        return fs_error("export: give exactly one of --eyxml, --eyxml-dir, --to"), FS_EXIT_USAGE;
    if (all && window)
        return fs_error("export: give --trade-window W or --all, not both"), FS_EXIT_USAGE;
    if (window && start + window - 1 > TRADE_MAX_ID)
        return fs_error("export: the window passes trade id %lld", TRADE_MAX_ID), FS_EXIT_USAGE;
    if (to_url && strcmp(to_url, src_url) == 0)
        return fs_error("export: --to names the source store itself"), FS_EXIT_USAGE;
    if (xfer_single_process("export") != 0)
        return FS_EXIT_USAGE;

    xfer_export_cfg_t x = {src_url, eyxml, dir, to_url, start, window, have_start, batch, so};
    return cli_exit_code(xfer_export(&x));
}

/* ---- import ------------------------------------------------------------------- */

/* finsim import: see import_usage. Returns an fs_exit code. */
int cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"store", required_argument, NULL, X_STORE},
        {"eyxml", required_argument, NULL, X_EYXML},
        {"eyxml-dir", required_argument, NULL, X_EYXML_DIR},
        XFER_STORE_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    store_opts_t so;
    xfer_store_defaults(&so);
    const char *url = NULL, *dir = NULL;
    const char **files = xmalloc((size_t)(argc + 1) * sizeof(*files));
    size_t nfiles = 0;
    int batch = 1000, c, rc = FS_EXIT_OK;
    optind = 0; /* full getopt reset: these commands may run several times in one process */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = xfer_store_option(c, optarg, &so, &batch);
        if (r < 0) {
            free(files);
            return FS_EXIT_USAGE;
        }
        if (r > 0)
            continue;
        switch (c) {
        case X_STORE: url = optarg; break;
        case X_EYXML: files[nfiles++] = optarg; break;
        case X_EYXML_DIR: dir = optarg; break;
        case 'h': fputs(import_usage, stdout); free(files); return FS_EXIT_OK;
        default: fputs(import_usage, stderr); free(files); return FS_EXIT_USAGE;
        }
    }
    if (optind < argc && nfiles == 0) {
        fs_error("import: unexpected argument '%s' (documents are given with --eyxml FILE...)", argv[optind]);
        rc = FS_EXIT_USAGE;
    }
    for (int i = optind; i < argc; i++)
        files[nfiles++] = argv[i];
    if (rc == FS_EXIT_OK && !url) {
        fs_error("import: --store URL is required");
        rc = FS_EXIT_USAGE;
    }
    if (rc == FS_EXIT_OK && (nfiles > 0) + (dir != NULL) != 1) {
        fs_error("import: give --eyxml FILE... or --eyxml-dir DIR");
        rc = FS_EXIT_USAGE;
    }
    if (rc == FS_EXIT_OK && xfer_single_process("import") != 0)
        rc = FS_EXIT_USAGE;
    if (rc == FS_EXIT_OK) {
        xfer_import_cfg_t x = {url, files, nfiles, dir, batch, so};
        rc = cli_exit_code(xfer_import(&x));
    }
    free(files);
    return rc;
}
