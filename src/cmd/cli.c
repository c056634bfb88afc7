/* cli.c - the finsim command: subcommand dispatch, generate, price. */
#define _GNU_SOURCE
#include "finsim/cmd/cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "finsim/base/config_build.h"
#include "finsim/base/file.h"
#include "finsim/base/mpi.h"
#include "finsim/base/options.h"
#include "finsim/cmd/settings.h"
#include "finsim/job/status.h"
#include "finsim/market/market.h"
#include "finsim/trade/gen.h"
#include "finsim/pricing/mc.h"
#include "finsim/store/store.h"
#include "finsim/trade/trade.h"
#include "finsim/base/util.h"

static const char main_usage[] =
    "usage: finsim <command> [options]\n"
    "\n"
    "Risk simulation of AzFinSim-format FX barrier warrants: Monte Carlo PV, delta\n"
    "and vega with standard errors, on MPI ranks, from Redis or an HDF5 trade file.\n"
    "\n"
    "commands:\n"
    "  generate   make synthetic trades (AzFinSim distributions) into a store or eyxml files\n"
    "  price      price eyxml documents in one process and print CSV\n"
    "  run        the main job: mpirun -np R finsim run --store URL ... --output FILE.h5\n"
    "  export     copy trades from a store to eyxml files or to another store\n"
    "  import     load eyxml files into a store\n"
    "  screen     market quotes vs model: price quoted trades, publish rich/cheap signals\n"
    "  serve      real-time pricing: a worker pricing requests from Redis Streams\n"
    "  request    send one pricing request to the serve workers and print the answer\n"
    "  results    show a results file: portfolio totals, failed trades, top contributors, CSV\n"
    "  config     show the effective configuration of run, and where each value came from\n"
    "  version    print the version and build facts\n"
    "\n"
    "'finsim <command> --help' explains each command.\n"
    "\n"
    "exit status: 0 all trades priced; 1 some trades failed; 2 usage; 3 store\n"
    "unreachable; 4 store refused credentials; 5 TLS; 6 output I/O; 7 checksum\n"
    "mismatch; 8 internal error; 9 store timeout; 10 injected failure.\n";

static int cmd_generate_store(gen_cfg_t *g);
static int generate_parse(gen_cfg_t *g, int argc, char **argv, opt_sources_t *src);
static int generate_body(gen_cfg_t *g);

/* ======================================================================
 * finsim generate
 * ==================================================================== */

static int write_eyxml_doc(FILE *f, int64_t start, int64_t n, uint64_t seed)
{
    char buf[GEN_DOC_MAX];
    trade_t t;
    /* A multi-trade document: the root written once, each <trade> line as
     * trade_format lays it out. */
    fputs("<AZFINSIM>\n", f);
    for (int64_t i = 0; i < n; i++) {
        int len = gen_trade_doc(seed, start + i, &t, buf, sizeof(buf));
        /* strip "<AZFINSIM>\n" and "\n</AZFINSIM>" */
        const int head = 11, tail = 12;
        fwrite(buf + head, 1, (size_t)(len - head - tail), f);
        fputc('\n', f);
    }
    fputs("</AZFINSIM>\n", f);
    return ferror(f) ? -1 : 0;
}

static int write_eyxml_dir(const char *dir, int64_t start, int64_t n, uint64_t seed)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fs_error("cannot create directory %s: %s", dir, strerror(errno));
        return -1;
    }
    char path[4096], key[64], buf[GEN_DOC_MAX];
    trade_t t;
    for (int64_t i = 0; i < n; i++) {
        int len = gen_trade_doc(seed, start + i, &t, buf, sizeof(buf));
        trade_key(key, sizeof(key), NULL, t.id);
        snprintf(path, sizeof(path), "%s/%s", dir, key);
        FILE *f = fopen(path, "wb");
        if (!f) {
            fs_error("cannot write %s: %s", path, strerror(errno));
            return -1;
        }
        int bad = fwrite(buf, 1, (size_t)len, f) != (size_t)len;
        if ((fclose(f) != 0 || bad)) { /* closed once, whatever failed */
            fs_error("cannot write %s: %s", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* finsim generate: see settings_generate. Returns an fs_exit code. */
int cmd_generate(int argc, char **argv)
{
    gen_cfg_t g;
    memset(&g, 0, sizeof(g));
    g.ntrades = -1;
    opt_sources_t src;
    int rc = generate_parse(&g, argc, argv, &src);
    if (rc < 0)
        rc = generate_body(&g);
    opts_sources_free(&src);
    return rc;
}

/* Parse generate's settings into g. Returns -1 to go on, or an exit code
 * (help printed: 0; bad usage: 2). */
static int generate_parse(gen_cfg_t *g, int argc, char **argv, opt_sources_t *src)
{
    int pr = settings_parse_cmd(&settings_generate, g, argc, argv, src);
    if (pr >= 0)
        return pr;
    if (optind < src->layers.argc) {
        fs_error("generate: unexpected argument '%s'", src->layers.argv[optind]);
        return FS_EXIT_USAGE;
    }
    if (g->ntrades < 0) {
        fs_error("generate: --trades N is required");
        return FS_EXIT_USAGE;
    }
    if ((g->store_url != NULL) + (g->eyxml != NULL) + (g->eyxml_dir != NULL) != 1) {
        fs_error("generate: give exactly one of --store, --eyxml, --eyxml-dir");
        return FS_EXIT_USAGE;
    }
    if (g->start + g->ntrades - 1 > TRADE_MAX_ID) {
        fs_error("generate: trade ids would pass %lld", TRADE_MAX_ID);
        return FS_EXIT_USAGE;
    }
    return -1;
}

/* Does path hold an HDF5 file (its signature at offset 0, where finsim's
 * files have it)? */
static int is_hdf5_file(const char *path)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char buf[8];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    int is = fread(buf, 1, sizeof(buf), f) == sizeof(buf) && memcmp(buf, sig, sizeof(sig)) == 0;
    fclose(f);
    return is;
}

/* Make the trades of g into its one destination. Returns an fs_exit code. */
static int generate_body(gen_cfg_t *g)
{
    const char *eyxml = g->eyxml, *eyxml_dir = g->eyxml_dir;
    int64_t start = g->start, ntrades = g->ntrades;
    uint64_t seed = g->seed;
    if (eyxml) {
        if (strcmp(eyxml, "-") != 0 && is_hdf5_file(eyxml)) {
            fs_error("generate: --eyxml %s is an HDF5 file (a trade or results file?); refusing to overwrite it "
                     "with a document", eyxml);
            return FS_EXIT_USAGE;
        }
        FILE *f = strcmp(eyxml, "-") == 0 ? stdout : fopen(eyxml, "wb");
        if (!f) {
            fs_error("cannot open %s: %s", eyxml, strerror(errno));
            return FS_EXIT_IO;
        }
        int rc = write_eyxml_doc(f, start, ntrades, seed);
        if (f != stdout)
            rc |= fclose(f);
        else
            rc |= fflush(f);
        if (rc) {
            fs_error("writing %s failed: %s", eyxml, strerror(errno));
            return FS_EXIT_IO;
        }
        return FS_EXIT_OK;
    }
    if (eyxml_dir)
        return write_eyxml_dir(eyxml_dir, start, ntrades, seed) ? FS_EXIT_IO : FS_EXIT_OK;
    return cmd_generate_store(g);
}

/* Store generation: each MPI rank makes and writes a contiguous share of the
 * range in pipelined batches. */
static int cmd_generate_store(gen_cfg_t *g)
{
    const char *url = g->store_url;
    int64_t start = g->start, n = g->ntrades;
    uint64_t seed = g->seed;
    int batch = g->batch;
    int rank, nranks;
    fs_mpi_world_if_launched(&rank, &nranks); /* one plain process: no MPI, the file store is serial */
    store_opts_t so = g->so; /* key prefix, TLS, timeout: settings_generate */
    so.create = 0; /* an existing trade file keeps its other trades; see below */
    so.batch = batch;
    so.needs = STORE_NEED_WRITE_TRADES;
    so.expect_first = start; /* the file store makes these rows collectively */
    so.expect_count = n;
    char *password = NULL;
    /* agreed: a password file missing on one host must not leave the
     * other ranks waiting in the store's collective open */
    if (fs_mpi_agree(settings_store_password(g->password_file, &so, &password, NULL) != 0 ? FS_EXIT_USAGE : 0)) {
        settings_secret_free(password);
        return FS_EXIT_USAGE;
    }
    char err[256];
    int errcode = 0;
    MPI_Comm comm = MPI_COMM_WORLD;
    double t0 = fs_now();
    store_t *st = store_open(url, &so, &comm, err, sizeof(err), &errcode);
    /* A trade file that does not exist yet is created; an existing one
     * only gets the ids made here added or replaced (ranges can be made in
     * any order). Every rank saw the same: the open is collective. */
    if (fs_mpi_agree(st ? 0 : errcode == STORE_E_NOTFOUND ? 1 : 2) == 1) {
        so.create = 1;
        st = store_open(url, &so, &comm, err, sizeof(err), &errcode);
    }
    if (fs_mpi_agree(st == NULL)) {
        if (!st)
            fs_error("%s", err);
        store_close(st);
        settings_secret_free(password);
        return st ? FS_EXIT_STORE : fs_exit_for_store_err(errcode);
    }
    int64_t lo = start + n * rank / nranks, hi = start + n * (rank + 1) / nranks;
    /* several batches per call, so the store keeps pipelines in flight */
    int64_t chunk = (int64_t)batch * 8;
    trade_t *buf = xmalloc(sizeof(*buf) * (size_t)chunk);
    /* a store of documents (Redis) takes the text the generator printed
     * anyway, instead of formatting every number a second time */
    const int docs = store_has_trade_docs(st);
    char *text = docs ? xmalloc((size_t)chunk * GEN_DOC_MAX) : NULL;
    size_t *off = docs ? xmalloc(sizeof(*off) * (size_t)(chunk + 1)) : NULL;
    int64_t *ids = docs ? xmalloc(sizeof(*ids) * (size_t)chunk) : NULL;
    int rc = STORE_OK;
    for (int64_t i = lo; i < hi && rc == STORE_OK; i += chunk) {
        size_t m = (size_t)(hi - i < chunk ? hi - i : chunk);
        if (docs) {
            off[0] = 0;
            for (size_t j = 0; j < m; j++) {
                ids[j] = i + (int64_t)j;
                off[j + 1] = off[j] + (size_t)gen_trade_doc(seed, ids[j], &buf[j], text + off[j], GEN_DOC_MAX);
            }
            rc = store_put_trade_docs(st, ids, text, off, m);
        } else {
            for (size_t j = 0; j < m; j++)
                gen_trade(seed, i + (int64_t)j, &buf[j]);
            rc = store_put_trades(st, buf, m);
        }
    }
    free(buf);
    free(text);
    free(off);
    free(ids);
    if (rc != STORE_OK)
        fs_error("writing trades to %s failed: %s", store_describe(st), store_errstr(st));
    int exit_code = rc == STORE_OK ? FS_EXIT_OK : fs_exit_for_store_err(rc);
    store_close(st); /* collective for the file store */
    settings_secret_free(password);
    int worst = fs_mpi_agree(exit_code);
    double dt = fs_now() - t0;
    char red[512];
    url = store_redact_url(url, red, sizeof(red));
    if (rank == 0 && worst == FS_EXIT_OK)
        fs_info("generated %lld trades (ids %lld..%lld, seed %llu) into %s in %.2f s (%.0f trades/s, %d rank%s)",
                (long long)n, (long long)start, (long long)(start + n - 1), (unsigned long long)seed, url,
                dt, dt > 0 ? (double)n / dt : 0.0, nranks, nranks > 1 ? "s" : "");
    return worst;
}

/* ======================================================================
 * finsim price
 * ==================================================================== */

typedef struct price_ctx {
    const mc_opts_t *mo;
    mc_work_t *work;
    const char *file;
    fs_idset_t seen;     /* ids already priced */
    int64_t priced;
    int64_t failed;
} price_ctx_t;


static int price_cb(void *ctx, const trade_t *t, int status, const char *msg)
{
    price_ctx_t *c = ctx;
    result_t r;
    if (status == FS_OK && fs_idset_insert(&c->seen, t->id)) {
        status = FS_E_DUPLICATE;
        msg = "trade id appears more than once; only the first is priced";
    }
    if (status != FS_OK) {
        if (t->id >= 0)
            fs_error("%s: trade %010lld: %s (%s)", c->file, (long long)t->id, msg, fs_status_name(status));
        else
            fs_error("%s: %s (%s)", c->file, msg, fs_status_name(status));
        result_fail(&r, t->id, status, 0);
    } else {
        mc_price(t, c->mo, c->work, &r);
        if (*mc_work_why(c->work))
            fs_error("%s: trade %010lld: %s (%s)", c->file, (long long)t->id, mc_work_why(c->work),
                     fs_status_name(r.status));
        else if (r.status != FS_OK)
            fs_error("%s: trade %010lld: %s", c->file, (long long)t->id, fs_status_name(r.status));
    }
    if (r.status == FS_OK)
        c->priced++;
    else
        c->failed++;
    result_csv_row(stdout, &r);
    return 0;
}

/* finsim price: see settings_price. Returns an fs_exit code. */
int cmd_price(int argc, char **argv)
{
    price_cfg_t pcfg;
    mc_opts_default(&pcfg.mo);
    mc_opts_t mo;
    opt_sources_t src;
    int pr = settings_parse_cmd(&settings_price, &pcfg, argc, argv, &src);
    mo = pcfg.mo;
    if (pr >= 0)
        return opts_sources_free(&src), pr;
    argc = src.layers.argc;
    argv = src.layers.argv;
    if (optind >= argc) {
        fs_error("price: give one or more eyxml files ('-' for standard input)");
        opts_usage(&settings_price, stderr);
        opts_sources_free(&src);
        return FS_EXIT_USAGE;
    }
    /* every input must be readable before the CSV starts: a header with
     * no rows after it would read as "no trades" */
    int io_failed = 0;
    for (int i = optind; i < argc; i++) {
        if (!strcmp(argv[i], "-"))
            continue;
        struct stat sb;
        FILE *f = fopen(argv[i], "rb");
        if (!f || fstat(fileno(f), &sb) != 0 || S_ISDIR(sb.st_mode)) {
            fs_error("price: cannot read %s: %s", argv[i], !f ? strerror(errno) : "it is a directory");
            io_failed = 1;
        }
        if (f)
            fclose(f);
    }
    if (io_failed) {
        opts_sources_free(&src);
        return FS_EXIT_IO;
    }
    price_ctx_t pc;
    memset(&pc, 0, sizeof(pc));
    pc.mo = &mo;
    pc.work = mc_work_new();
    printf("%s\n", RESULT_CSV_HEADER);
    for (int i = optind; i < argc; i++) {
        const char *name = argv[i];
        size_t len = 0;
        char err[512];
        char *doc = fs_read_file(name, &len, err, sizeof(err));
        if (!doc) { /* gone or unreadable since the check */
            fs_error("%s", err);
            io_failed = 1;
            continue;
        }
        pc.file = strcmp(name, "-") == 0 ? "<stdin>" : name;
        trade_parse_doc(doc, len, price_cb, &pc);
        free(doc);
        fflush(stdout);
    }
    mc_work_free(pc.work);
    fs_idset_free(&pc.seen);
    opts_sources_free(&src);
    if (io_failed)
        return FS_EXIT_IO;
    return pc.failed ? FS_EXIT_TRADES_FAILED : FS_EXIT_OK;
}

/* ======================================================================
 * dispatch
 * ==================================================================== */

#if defined(__SANITIZE_ADDRESS__)
#define FINSIM_SANITIZERS ", ASan+UBSan"
#else
#define FINSIM_SANITIZERS ""
#endif

static int cmd_version(void)
{
    printf("finsim %s (%s build, %s, TLS %s%s)\n", FINSIM_VERSION, FINSIM_BUILD_TYPE,
           FINSIM_NATIVE ? "tuned for the build machine" : "portable", FINSIM_HAVE_TLS ? "yes" : "no",
           FINSIM_SANITIZERS);
    return FS_EXIT_OK;
}

int finsim_main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_usage, stderr);
        return FS_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(main_usage, stdout);
        return FS_EXIT_OK;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version"))
        return cmd_version();
    if (!strcmp(cmd, "generate"))
        return cmd_generate(argc - 1, argv + 1);
    if (!strcmp(cmd, "price"))
        return cmd_price(argc - 1, argv + 1);
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "export"))
        return cmd_export(argc - 1, argv + 1);
    if (!strcmp(cmd, "import"))
        return cmd_import(argc - 1, argv + 1);
    if (!strcmp(cmd, "config"))
        return cmd_config(argc - 1, argv + 1);
    if (!strcmp(cmd, "screen"))
        return cmd_screen(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve"))
        return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "request"))
        return cmd_request(argc - 1, argv + 1);
    if (!strcmp(cmd, "results"))
        return cmd_results(argc - 1, argv + 1);
    fs_error("unknown command '%s'", cmd);
    fputs(main_usage, stderr);
    return FS_EXIT_USAGE;
}

/* One case per job status: the exit codes keep the order of the statuses. */
int cli_exit_code(int job_status)
{
    switch (job_status) {
    case JOB_OK: return FS_EXIT_OK;
    case JOB_TRADES_FAILED: return FS_EXIT_TRADES_FAILED;
    case JOB_E_CONFIG: return FS_EXIT_USAGE;
    case JOB_E_STORE: return FS_EXIT_STORE;
    case JOB_E_AUTH: return FS_EXIT_AUTH;
    case JOB_E_TLS: return FS_EXIT_TLS;
    case JOB_E_IO: return FS_EXIT_IO;
    case JOB_E_CHECKSUM: return FS_EXIT_CHECKSUM;
    case JOB_E_TIMEOUT: return FS_EXIT_TIMEOUT;
    case JOB_E_INJECTED: return FS_EXIT_INJECTED;
    case JOB_E_MARKET: return FS_EXIT_MARKET;
    case JOB_E_MARKET_TIMEOUT: return FS_EXIT_MARKET_TIMEOUT;
    case JOB_E_MARKET_AUTH: return FS_EXIT_MARKET_AUTH;
    case JOB_STOPPED: return FS_EXIT_STOPPED;
    default: return FS_EXIT_INTERNAL;
    }
}
