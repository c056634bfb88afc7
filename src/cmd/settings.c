/* settings.c - the settings tables of the commands (see docs/CONFIGURATION.md). */
#include "finsim/cmd/settings.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finsim/base/secret.h"
#include "finsim/cmd/exit.h"
#include "finsim/base/util.h"
#include "finsim/job/job.h"
#include "finsim/output/h5out.h"
#include "finsim/output/portfolio.h"
#include "finsim/trade/trade.h"

/* ---- callbacks ------------------------------------------------------------ */

/* --config FILE: read by cfg_build before the walk; nothing to store. */
static int set_nothing(void *cfg, const opt_def_t *o, const char *arg, char *err, size_t errlen)
{
    (void)cfg, (void)o, (void)arg, (void)err, (void)errlen;
    return 0;
}

/* -v, --verbose: one more level of log detail (the log is process-wide). */
static int set_verbose(void *cfg, const opt_def_t *o, const char *arg, char *err, size_t errlen)
{
    (void)cfg, (void)o, (void)arg, (void)err, (void)errlen;
    fs_log_verbose++;
    return 0;
}

/* run --expect-checksum X: a hex number; marks it given. */
static int set_expect(void *cfg, const opt_def_t *o, const char *arg, char *err, size_t errlen)
{
    run_cfg_t *c = cfg;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(arg, &end, 16);
    if (errno || end == arg || *end)
        return fs_seterr(err, errlen, "--%s expects a hex number", o->name);
    c->have_expect = 1;
    c->expect_checksum = x;
    return 0;
}

static void show_expect(const void *cfg, const opt_def_t *o, char *buf, size_t n)
{
    const run_cfg_t *c = cfg;
    (void)o;
    if (c->have_expect)
        snprintf(buf, n, "%016llx", (unsigned long long)c->expect_checksum);
}

/* export --start-trade K: remember that it was given (it filters --all). */
static int set_have_start(void *cfg, const opt_def_t *o, const char *arg, char *err, size_t errlen)
{
    (void)o, (void)arg, (void)err, (void)errlen;
    ((xfer_cfg_t *)cfg)->have_start = 1;
    return 0;
}

/* import --eyxml FILE: one more document. */
static int add_file(void *cfg, const opt_def_t *o, const char *arg, char *err, size_t errlen)
{
    xfer_cfg_t *c = cfg;
    (void)o, (void)err, (void)errlen;
    c->files = xrealloc(c->files, (c->nfiles + 1) * sizeof(*c->files));
    c->files[c->nfiles++] = arg;
    return 0;
}

/* Length limits, checked when the value is read (never by cutting it short
 * later: a shorter path or key prefix names something else). */
#define SETTINGS_STORE_MAX 511  /* bytes of a store URL or path (struct store's copy) */
#define SETTINGS_PATH_MAX 4095  /* bytes of an output or input path */

static int check_len(const opt_def_t *o, const char *arg, size_t max, const char *what, char *err, size_t errlen)
{
    size_t n = strlen(arg);
    if (n > max)
        return fs_seterr(err, errlen, "--%s: the %s is %zu bytes long; at most %zu are allowed", o->name, what, n,
                         max);
    return 0;
}

/* --store, --to, --signals-redis */
static int check_store_len(void *cfg, const opt_def_t *o, const char *arg, char *err, size_t errlen)
{
    (void)cfg;
    return check_len(o, arg, SETTINGS_STORE_MAX, "store URL or path", err, errlen);
}

/* --key-prefix (also FINSIM_KEY_PREFIX and the INI file) */
static int check_prefix_len(void *cfg, const opt_def_t *o, const char *arg, char *err, size_t errlen)
{
    (void)cfg;
    return check_len(o, arg, TRADE_KEY_PREFIX_MAX, "key prefix", err, errlen);
}

/* file paths the commands write or read */
static int check_path_len(void *cfg, const opt_def_t *o, const char *arg, char *err, size_t errlen)
{
    (void)cfg;
    return check_len(o, arg, SETTINGS_PATH_MAX, "path", err, errlen);
}

/* ---- rows shared by the commands -------------------------------------------- */

static const char *const algo_names[] = {"pvonly", "deltavega", "synthetic", NULL};
static const int algo_values[] = {MC_PVONLY, MC_DELTAVEGA, MC_SYNTHETIC};
static const char *const kernel_names[] = {"fast", "reference", NULL};
static const int kernel_values[] = {MC_KERNEL_FAST, MC_KERNEL_REFERENCE};

/* The store URL (help differs: source or destination). */
#define ROW_STORE(T, grp, text)                                                                           \
    {.name = "store", .type = OPT_STR, .arg = "URL", .section = "store", .group = grp, .help = text,        \
     .off = offsetof(T, store_url), .set = check_store_len}

/* Trades per pipelined store batch: one range everywhere. */
#define ROW_BATCH(T, text)                                                                                \
    {.name = "batch", .type = OPT_INT, .arg = "N", .def = "1000", .lo = 1, .hi = SETTINGS_BATCH_MAX,          \
     .section = "store", .help = text, .off = offsetof(T, batch)}
#define BATCH_HELP "trades per pipelined store batch (default 1000, max 5000)"

/* Key prefix, password file, TLS and timeout: how to reach the store. */
#define ROWS_STORE_ACCESS(T, grp)                                                                         \
    {.name = "key-prefix", .type = OPT_STR, .arg = "P", .section = "store", .group = grp,                 \
     .help = "prefix of every Redis key (several portfolios in one Redis;\n"                              \
             "at most 256 bytes)", .off = offsetof(T, so.key_prefix), .set = check_prefix_len},           \
    {.name = "password-file", .type = OPT_STR, .arg = "F", .section = "store",                            \
     .help = "Redis password from F (mode 0600; read again at every\n"                                   \
             "reconnect); else FINSIM_REDIS_PASSWORD",                                                    \
     .off = offsetof(T, password_file)},                                                                  \
    {.name = "redis-password", .type = OPT_STR, .secret = 1, .off = offsetof(T, so.password)},            \
    {.name = "tls-ca", .type = OPT_STR, .arg = "FILE", .section = "tls", .off = offsetof(T, so.tls_ca_file)}, \
    {.name = "tls-ca-dir", .type = OPT_STR, .arg = "DIR", .section = "tls", .off = offsetof(T, so.tls_ca_dir)}, \
    {.name = "tls-cert", .type = OPT_STR, .arg = "FILE", .section = "tls", .off = offsetof(T, so.tls_cert)}, \
    {.name = "tls-key", .type = OPT_STR, .arg = "FILE", .section = "tls", .off = offsetof(T, so.tls_key)},  \
    {.name = "tls-sni", .type = OPT_STR, .arg = "NAME", .section = "tls", .off = offsetof(T, so.tls_sni)},  \
    {.name = "tls-insecure", .type = OPT_FLAG, .section = "tls",                                           \
     .help = "TLS settings for rediss:// (insecure: skip verification)", .off = offsetof(T, so.tls_insecure)}, \
    {.name = "timeout", .type = OPT_DBL, .arg = "SEC", .def = "10", .lo = 0, .lo_open = 1, .hi = 3600,      \
     .section = "store", .help = "store connect/command timeout (default 10)", .off = offsetof(T, so.timeout_s)}, \
    {.name = "store-retry", .type = OPT_DBL, .arg = "SEC", .def = "60", .lo = 0, .hi = 86400,               \
     .section = "store",                                                                                  \
     .help = "ride out a store outage (failover, restart, pause) of up to\n"                               \
             "SEC s mid-run: reconnect, re-authenticate, resend (default 60;\n"                            \
             "0 = off: a timeout or lost connection ends the run)",                                      \
     .off = offsetof(T, so.retry_s)}

#define ROW_CONFIG(grp, text)                                                                             \
    {.name = "config", .type = OPT_CB, .arg = "FILE", .group = grp, .help = text, .set = set_nothing}

/* The store rows of generate, export and import, then --config. */
#define ROWS_STORE_AND_CONFIG(T)                                                                          \
    ROW_BATCH(T, BATCH_HELP), ROWS_STORE_ACCESS(T, NULL), ROW_CONFIG(NULL, CONFIG_HELP)

/* A table of rows r for command cmd, help at column c between head and tail. */
#define TABLE(cmd, r, c, head, tail)                                                                      \
    {.command = cmd, .rows = r, .nrows = sizeof(r) / sizeof(r[0]), .col = c, .usage_head = head, .usage_tail = tail}

#define CONFIG_HELP                                                                                       \
    "INI file (sections as in docs/CONFIGURATION.md; keys are\n"                                          \
    "these option names with '_' for '-'); also FINSIM_CONFIG.\n"                                         \
    "Precedence: defaults < file < FINSIM_<KEY> environment <\n"                                          \
    "command line. Settings of other commands are ignored."

/* The pricing model of price and run (sec: the INI section, or NULL). */
#define ROWS_MC(T, sec, grp, seedhelp, kernelhelp)                                                        \
    {.name = "algorithm", .type = OPT_ENUM, .arg = "A", .def = "pvonly", .names = algo_names,              \
     .values = algo_values, .section = sec, .group = grp, .help = "pvonly (default), deltavega, synthetic",  \
     .off = offsetof(T, mo.algo)},                                                                        \
    {.name = "seed", .type = OPT_U64, .arg = "S", .def = "1", .lo = 0, .hi = (double)INT64_MAX, .section = sec, \
     .help = seedhelp, .off = offsetof(T, mo.seed)},                                                      \
    {.name = "paths", .type = OPT_I64, .arg = "N", .lo = 1, .hi = TRADE_MAX_TRIALS, .section = sec,         \
     .help = "override every trade's trials", .off = offsetof(T, mo.paths)},                              \
    {.name = "kernel", .type = OPT_ENUM, .arg = "K", .def = "fast", .names = kernel_names,                 \
     .values = kernel_values, .section = sec, .help = kernelhelp, .off = offsetof(T, mo.kernel)},           \
    {.name = "target-stderr", .type = OPT_DBL, .arg = "REL", .lo = 0, .lo_open = 1, .hi = 1, .section = sec,  \
     .help = "price each trade in rounds (its trials or --paths, then\n"                                  \
             "doubling the total) until pv_stderr/|pv| <= REL, e.g.\n"                                    \
             "0.0005 for 0.05 %; rounds continue the trade's own stream",                                 \
     .off = offsetof(T, mo.target_rel_se)},                                                               \
    {.name = "max-paths", .type = OPT_I64, .arg = "N", .lo = 4, .hi = MC_MAX_PATHS_DEFAULT, .section = sec, \
     .help = "with --target-stderr: at most N paths per trade (default\n"                                \
             "10000000; paths x t_steps stays within the work limit)",                                    \
     .off = offsetof(T, mo.max_paths)}

/* The synthetic algorithm and failure injection (sec: 1 when they are INI
 * settings, in [synthetic] and [run]). */
#define ROWS_SYNTHETIC(T, sec, failhelp)                                                                  \
    {.name = "task-duration", .type = OPT_DBL, .arg = "MS", .lo = 0, .hi = 1e9,                             \
     .section = sec ? "synthetic" : NULL, .off = offsetof(T, mo.task_duration_ms)},                       \
    {.name = "mem-usage", .type = OPT_DBL, .arg = "MB", .lo = 0, .hi = 1e6,                                 \
     .section = sec ? "synthetic" : NULL, .off = offsetof(T, mo.mem_mb)},                                 \
    {.name = "delay-start", .type = OPT_DBL, .arg = "MS", .lo = 0, .hi = 1e9,                               \
     .section = sec ? "synthetic" : NULL, .help = "synthetic algorithm", .off = offsetof(T, mo.delay_start_ms)}, \
    {.name = "failure", .type = OPT_DBL, .arg = "P", .lo = 0, .hi = 1, .section = sec ? "run" : NULL,        \
     .help = failhelp,                                                                                    \
     .off = offsetof(T, mo.failure_p)}

/* ---- finsim run ------------------------------------------------------------------ */

static const char *const sched_names[] = {"static", "dynamic", NULL};
static const int sched_values[] = {RUN_STATIC, RUN_DYNAMIC};
static const char *const balance_names[] = {"count", "cost", NULL};
static const int balance_values[] = {RUN_BALANCE_COUNT, RUN_BALANCE_COST};
static const char *const h5w_names[] = {"auto", "independent", "collective", "gather", NULL};
static const int h5w_values[] = {H5W_AUTO, H5W_INDEPENDENT, H5W_COLLECTIVE, H5W_GATHER};
static const int group_values[] = {PF_BY_MATURITY, PF_BY_END_YEAR, PF_BY_T_STEPS, PF_BY_NONE};
static const char *const fmode_names[] = {"exit", "record", NULL};
static const int fmode_values[] = {1, 0};

static const opt_def_t run_rows[] = {
    ROW_STORE(run_cfg_t, "trades:", "redis://[user@]host:port[/db], rediss://... (TLS),\n"
                                    "unix:///path.sock, or an HDF5 trade file path"),
    {.name = "start-trade", .type = OPT_I64, .arg = "K", .lo = 0, .hi = TRADE_MAX_ID, .section = "run",
     .help = "first trade id of the range (default 0)", .off = offsetof(run_cfg_t, start_trade)},
    {.name = "trade-window", .type = OPT_I64, .arg = "W", .lo = 1, .hi = TRADE_MAX_ID + 1, .section = "run",
     .help = "number of trades in the range", .off = offsetof(run_cfg_t, window)},
    {.name = "all-trades", .type = OPT_FLAG, .section = "run", .help = "every trade in the store (Redis: SCAN)",
     .off = offsetof(run_cfg_t, all_trades)},
    {.name = "ids-file", .type = OPT_STR, .arg = "FILE", .section = "run",
     .help = "trade ids, whitespace or comma separated ('#' comments)", .off = offsetof(run_cfg_t, ids_file)},
    ROWS_MC(run_cfg_t, "run", "pricing:", "run seed (default 1)", "fast (default) or reference"),
    ROWS_SYNTHETIC(run_cfg_t, 1, "a trade fails with probability P (from seed and id); the\n"
                                 "rank that meets one exits, as AzFinSim's tasks did. Once:\n"
                                 "--resume prices a trade whose failure the mirror holds"),
    {.name = "failure-mode", .type = OPT_ENUM, .arg = "M", .def = "exit", .names = fmode_names,
     .values = fmode_values, .section = "run",
     .help = "exit (default) or record (mark the trade failed, go on)", .off = offsetof(run_cfg_t, failure_exit)},
    {.name = "schedule", .type = OPT_ENUM, .arg = "S", .def = "static", .names = sched_names,
     .values = sched_values, .section = "run", .group = "scheduling and I/O:",
     .help = "static (default) or dynamic (chunks on demand)", .off = offsetof(run_cfg_t, schedule)},
    {.name = "balance", .type = OPT_ENUM, .arg = "B", .def = "count", .names = balance_names,
     .values = balance_values, .section = "run",
     .help = "static windows by count (default) or cost (paths x steps)", .off = offsetof(run_cfg_t, balance)},
    {.name = "chunk", .type = OPT_I64, .arg = "N", .lo = 1, .hi = 100000000, .section = "run",
     .help = "trades per dynamic chunk (default: auto)", .off = offsetof(run_cfg_t, chunk)},
    ROW_BATCH(run_cfg_t, BATCH_HELP),
    {.name = "mirror", .type = OPT_FLAG, .def = "true", .section = "store",
     .help = "do not write results back to the store", .off = offsetof(run_cfg_t, mirror)},
    {.name = "resume", .type = OPT_FLAG, .section = "run",
     .help = "reuse results already in the store's mirror when they were\n"
             "made from the same inputs (seed, algorithm, kernel, paths,\n"
             "trade fields; others are priced again): the output equals\n"
             "an uninterrupted run. Static schedule: the trades left to\n"
             "price are shared evenly over the ranks (--balance applies)",
     .off = offsetof(run_cfg_t, resume)},
    {.name = "output", .type = OPT_STR, .arg = "FILE.h5", .section = "run",
     .help = "results file (written as FILE.h5.partial, renamed at the end;\n"
             "FILE.h5.lock keeps a second run off it). Never an input, nor\n"
             "an existing file that is not a finsim results file",
     .off = offsetof(run_cfg_t, output), .set = check_path_len},
    {.name = "force", .type = OPT_FLAG,
     .help = "replace an existing results file (without it, or --resume, an\n"
             "existing FILE.h5 is refused)", .off = offsetof(run_cfg_t, force)},
    {.name = "h5-write", .type = OPT_ENUM, .arg = "M", .def = "auto", .names = h5w_names, .values = h5w_values,
     .section = "run",
     .help = "auto (default): independent MPI-IO writes when every host\n"
             "shares the output directory, else gather; independent;\n"
             "collective (static schedule only); gather: rank 0 writes\n"
             "the whole file alone, on its host (node-local paths work).\n"
             "independent or collective on a directory that is not\n"
             "shared: exit 2, naming the hosts",
     .off = offsetof(run_cfg_t, h5_write)},
    {.name = "group-by", .type = OPT_ENUM, .arg = "FIELD", .def = "maturity", .names = portfolio_group_names,
     .values = group_values, .section = "run",
     .help = "portfolio totals (/portfolio, run report) by this trade field:\n"
             "maturity (buckets, default), end_year, t_steps, or none\n"
             "(the whole portfolio only)",
     .off = offsetof(run_cfg_t, group_by)},
    {.name = "expect-checksum", .type = OPT_CB, .arg = "X", .section = "run", .set = set_expect,
     .show = show_expect, .help = "fail (exit 7) unless the verification checksum is X (hex)"},
    {.name = "events", .type = OPT_STR, .arg = "FILE", .section = "run",
     .help = "write JSON-lines progress events (rank 0)", .off = offsetof(run_cfg_t, events_path)},
    {.name = "progress", .type = OPT_DBL, .arg = "SEC", .def = "10", .lo = 0, .hi = 1e9, .section = "run",
     .help = "seconds between progress lines (default 10; 0 = off)", .off = offsetof(run_cfg_t, progress_interval)},
    {.name = "quiet", .type = OPT_FLAG, .section = "run", .help = "only the report and errors",
     .off = offsetof(run_cfg_t, quiet)},
    {.name = "verbose", .letter = 'v', .type = OPT_CB, .help = "more detail in the log (repeatable)",
     .set = set_verbose},
    ROW_CONFIG("configuration:", "INI file ([store], [tls], [run], [synthetic] sections; keys are\n"
                                 "these option names with '_' for '-'); also FINSIM_CONFIG.\n"
                                 "Precedence: defaults < file < FINSIM_<KEY> environment <\n"
                                 "command line. 'finsim config ...' shows the result."),
    ROWS_STORE_ACCESS(run_cfg_t, "store options:"),
};

const opt_table_t settings_run =
    TABLE("run", run_rows, 23,
        "usage: mpirun -np R finsim run --store URL --output FILE.h5\n"
        "                 (--start-trade K --trade-window W | --all-trades | --ids-file FILE)\n"
        "                 [--algorithm A] [--seed S] [--paths N] [--resume] [options]\n"
        "\n"
        "The main job: rank 0 builds the trade list and hands windows to the ranks;\n"
        "each rank fetches its trades in pipelined batches, prices them, mirrors the\n"
        "results to the store (key eyNNNNNNN_result.xml) and writes them into the HDF5\n"
        "file (/results, ordered by trade id; /telemetry; provenance attributes).\n"
        "Results are bitwise identical for any rank count, schedule and batch size.\n"
        "\n",
        "\n"
        "exit status: 0 every trade priced; 1 some trades failed; 2 usage; 3 store;\n"
        "4 auth; 5 TLS; 6 output I/O; 7 checksum mismatch; 9 timeout; 10 injected failure;\n"
        "14 stopped by SIGTERM/SIGINT after a batch (results so far mirrored: --resume).\n"
        "Under mpirun: 1 when mpirun itself got SIGTERM/SIGINT (the ranks still stop\n"
        "cleanly: see rank 0's message); 128+N when a rank was killed by signal N.\n");

/* ---- finsim generate --------------------------------------------------------------- */

static const opt_def_t gen_rows[] = {
    {.name = "trades", .type = OPT_I64, .arg = "N", .lo = 0, .hi = TRADE_MAX_ID + 1,
     .help = "number of trades (required)", .off = offsetof(gen_cfg_t, ntrades)},
    {.name = "seed", .type = OPT_U64, .arg = "S", .def = "1", .lo = 0, .hi = (double)INT64_MAX,
     .help = "generator seed (default 1)", .off = offsetof(gen_cfg_t, seed)},
    {.name = "start-trade", .type = OPT_I64, .arg = "K", .lo = 0, .hi = TRADE_MAX_ID,
     .help = "first trade id (default 0)", .off = offsetof(gen_cfg_t, start)},
    ROW_STORE(gen_cfg_t, NULL, "redis://[user@]host:port[/db], rediss://..., unix:///path.sock,\n"
                               "or a file path (HDF5 trade file)"),
    {.name = "eyxml", .type = OPT_STR, .arg = "FILE",
     .help = "write one eyxml document holding all trades ('-' = stdout)", .off = offsetof(gen_cfg_t, eyxml),
     .set = check_path_len},
    {.name = "eyxml-dir", .type = OPT_STR, .arg = "DIR",
     .help = "write one file per trade, named like the Redis key (ey0000042.xml)",
     .off = offsetof(gen_cfg_t, eyxml_dir)},
    ROWS_STORE_AND_CONFIG(gen_cfg_t),
};

const opt_table_t settings_generate =
    TABLE("generate", gen_rows, 21,
        "usage: finsim generate --trades N [--seed S] [--start-trade K]\n"
        "                       (--store URL | --eyxml FILE | --eyxml-dir DIR)\n"
        "\n"
        "Make trades K..K+N-1 with AzFinSim's distributions. The same seed gives the\n"
        "same bytes; every trade depends only on (seed, id), so ranges can be made in\n"
        "any order or split over MPI ranks (mpirun -np R finsim generate ...).\n"
        "\n",
 "");

/* ---- finsim export / import ---------------------------------------------------------- */

#define XFER_TAIL                                                                                 \
    "\n"                                                                                          \
    "The Redis password comes from FINSIM_REDIS_PASSWORD or --password-file, never from\n"       \
    "the command line. A trade file that does not exist yet is created; an existing one\n"       \
    "keeps its trades (same ids are overwritten).\n"                                              \
    "\n"                                                                                          \
    "exit status: 0 every trade copied; 1 some trades were skipped (listed on stderr);\n"        \
    "2 usage; 3 store unreachable or unusable; 4 credentials refused; 5 TLS; 6 file I/O;\n"     \
    "8 internal error; 9 store timeout.\n"

static const opt_def_t export_rows[] = {
    ROW_STORE(xfer_cfg_t, NULL, "source: redis://[user@]host:port[/db], rediss://..., unix:///path.sock,\n"
                                "mem://NAME, or a trade file path"),
    {.name = "start-trade", .type = OPT_I64, .arg = "K", .lo = 0, .hi = TRADE_MAX_ID, .set = set_have_start,
     .help = "first trade id (default 0)", .off = offsetof(xfer_cfg_t, start)},
    {.name = "trade-window", .type = OPT_I64, .arg = "W", .lo = 1, .hi = TRADE_MAX_ID + 1,
     .help = "export trades K..K+W-1; ids the store lacks are reported and skipped",
     .off = offsetof(xfer_cfg_t, window)},
    {.name = "all", .type = OPT_FLAG,
     .help = "export every trade in the store, ascending (the default when no\n"
             "--trade-window is given; with --start-trade, ids >= K)",
     .off = offsetof(xfer_cfg_t, all)},
    {.name = "eyxml", .type = OPT_STR, .arg = "FILE", .help = "one document holding every trade ('-' = standard output)",
     .off = offsetof(xfer_cfg_t, eyxml)},
    {.name = "eyxml-dir", .type = OPT_STR, .arg = "DIR", .help = "one file per trade (DIR is created)",
     .off = offsetof(xfer_cfg_t, dir)},
    {.name = "to", .type = OPT_STR, .arg = "URL", .help = "destination store (same URL forms as --store)",
     .off = offsetof(xfer_cfg_t, to_url), .set = check_store_len},
    ROWS_STORE_AND_CONFIG(xfer_cfg_t),
};

const opt_table_t settings_export =
    TABLE("export", export_rows, 21,
        "usage: finsim export --store URL [--start-trade K] [--trade-window W | --all]\n"
        "                     (--eyxml FILE | --eyxml-dir DIR | --to URL) [options]\n"
        "\n"
        "Copy trades out of a store: into one eyxml document (the layout 'finsim generate\n"
        "--eyxml' writes), into one eyxml file per trade (named like the Redis key,\n"
        "ey0000042.xml, bytes as AzFinSim writes them), or into another store.\n"
        "\n",
 XFER_TAIL);

static const opt_def_t import_rows[] = {
    {.name = "eyxml", .type = OPT_CB, .arg = "FILE", .set = add_file,
     .help = "a document to import ('-' = standard input); repeatable, and\n"
             "further FILE arguments after the options are imported too"},
    {.name = "eyxml-dir", .type = OPT_STR, .arg = "DIR", .help = "every *.xml file in DIR, in name order",
     .off = offsetof(xfer_cfg_t, dir)},
    ROW_STORE(xfer_cfg_t, NULL, "destination: redis://[user@]host:port[/db], rediss://...,\n"
                                "unix:///path.sock, mem://NAME, or a trade file path"),
    ROWS_STORE_AND_CONFIG(xfer_cfg_t),
};

const opt_table_t settings_import =
    TABLE("import", import_rows, 21,
        "usage: finsim import (--eyxml FILE [FILE...] | --eyxml-dir DIR) --store URL [options]\n"
        "\n"
        "Read eyxml documents (one or more <trade> elements each, any attribute order)\n"
        "and write their trades into a store. Trades that do not parse or validate, and\n"
        "repeats of an id already imported in this run, are reported with their id and\n"
        "skipped.\n"
        "\n",
 XFER_TAIL);

/* ---- finsim price ----------------------------------------------------------------------- */

static const opt_def_t price_rows[] = {
    ROWS_MC(price_cfg_t, NULL, NULL,
            "run seed (default 1); a trade's random stream depends only on\n(seed, trade id)",
            "fast (default) or reference (the model as written, slower)"),
    ROWS_SYNTHETIC(price_cfg_t, 0, "fail each trade with probability P (decided from seed and id)"),
};

const opt_table_t settings_price =
    TABLE("price", price_rows, 18,
        "usage: finsim price [--algorithm A] [--seed S] [--paths N] [--kernel K] FILE...\n"
        "\n"
        "Price the trades in eyxml documents (FILE '-' = standard input) in this\n"
        "process and print one CSV row per trade. Bad trades get a non-zero status\n"
        "and a message on stderr; the others are still priced, also those after a\n"
        "malformed trade in the same document. Documents may be of any size.\n"
        "\n",
        "\n"
        "columns: trade_id,status,pv,pv_stderr,delta,delta_stderr,vega,vega_stderr,paths,compute_s\n"
        "(Greeks are empty for pvonly; figures are empty when status != 0)\n");

/* ---- finsim screen ---------------------------------------------------------------------- */

/* screen --market SRC: one more source; the command line's list replaces
 * the one of the file or FINSIM_MARKET (sources add up within a layer). */
static int add_market(void *cfg, const opt_def_t *o, const char *arg, char *err, size_t errlen)
{
    screen_cfg_t *c = cfg;
    (void)o, (void)err, (void)errlen;
    if (!opts_origin() && !c->market_from_cli++)
        c->nmarket = 0;
    c->market_src = xrealloc(c->market_src, (size_t)(c->nmarket + 1) * sizeof(*c->market_src));
    c->market_src[c->nmarket++] = arg;
    return 0;
}

/* screen --algorithm: synthetic computes no value to compare with quotes. */
static int check_valued_algo(void *cfg, const opt_def_t *o, const char *arg, char *err, size_t errlen)
{
    (void)o, (void)arg;
    if (((screen_cfg_t *)cfg)->mo.algo == MC_SYNTHETIC)
        return fs_seterr(err, errlen, "screen: --algorithm synthetic computes no value; use pvonly or deltavega");
    return 0;
}

/* screen --api-key-header NAME: a header name, no colon or blanks. */
static int check_header(void *cfg, const opt_def_t *o, const char *arg, char *err, size_t errlen)
{
    (void)cfg, (void)o;
    if (!arg[0] || strpbrk(arg, ": \r\n"))
        return fs_seterr(err, errlen, "screen: --api-key-header wants a header name like X-API-Key");
    return 0;
}

/* screen --pair NAME: fits a quote's pair field and a CSV cell. */
static int check_pair(void *cfg, const opt_def_t *o, const char *arg, char *err, size_t errlen)
{
    (void)cfg, (void)o;
    if (!arg[0] || strlen(arg) >= MKT_PAIR_MAX || strpbrk(arg, ",\" \t\r\n"))
        return fs_seterr(err, errlen,
                         "screen: --pair wants a name of 1..15 characters without commas, quotes or blanks");
    return 0;
}

/* screen --http-retries N: 0 means none (the client's -1). */
static int retries_none(void *cfg, const opt_def_t *o, const char *arg, char *err, size_t errlen)
{
    screen_cfg_t *c = cfg;
    (void)o, (void)arg, (void)err, (void)errlen;
    if (c->http.retries == 0)
        c->http.retries = -1;
    return 0;
}

#define SCREEN_HEAD \
    "usage: finsim screen --store URL --quotes SRC [--market SRC]... [--start-trade K --trade-window W]\n" \
    "                     [--min-edge X] [--min-z Z] [--output FILE.h5] [--csv FILE|-]\n" \
    "                     [--signals-redis URL | --no-signals-redis] [pricing options]\n" \
    "       finsim screen --make-quotes FILE --store URL [--start-trade K --trade-window W]\n" \
    "                     [--quote-noise X] [--quote-seed Q] [--pair NAME] [pricing options]\n" \
    "\n" \
    "The daily rich/cheap screen: load market quotes (a price per warrant for each\n" \
    "trade id), inner-join them with the trades of the store, price every joined\n" \
    "trade, and select those whose model value beats the quote by a margin:\n" \
    "\n" \
    "  model_value  = pv / warrantsNo          (per warrant, the unit of the quotes)\n" \
    "  model_stderr = pv_stderr / warrantsNo\n" \
    "  edge = (model_value - quote) / quote,   z = (model_value - quote) / model_stderr\n" \
    "  selected when edge >= --min-edge and z >= --min-z; ranked by edge, descending\n" \
    "\n" \
    "Trades without a quote (unquoted) and quotes without a trade (orphans) are\n" \
    "counted and reported, never dropped silently. The trades are K..K+W-1, or every\n" \
    "trade in the store when no window is given. Under 'mpirun -np R finsim screen'\n" \
    "the ranks share the trades (same signals for any R); rank 0 fetches the market\n" \
    "data once and publishes. --make-quotes runs in one process.\n" \
    "\n"

#define SCREEN_TAIL \
    "\n" \
    "exit status: 0 every joined trade priced; 1 some joined trades failed (named on\n" \
    "stderr); 2 usage, or libcurl (loaded for an http(s):// SRC) not installed;\n" \
    "3-5, 9 store errors as in 'finsim run'; 6 output I/O; 8 internal;\n" \
    "11 market data unreadable, malformed or the endpoint failed (after retries);\n" \
    "12 market data endpoint timed out (after retries); 13 endpoint refused the API key.\n"

static const opt_def_t screen_rows[] = {
    {.name = "quotes", .type = OPT_STR, .arg = "SRC", .section = "screen",
     .group = "market data (SRC is a file path, '-' for stdin, or an http:// or https:// URL):",
     .help = "CSV with header trade_id,quote[,currency_pair], or JSON\n"
             "[{\"trade_id\":42,\"quote\":1.5,\"currency_pair\":\"EURUSD\"},...]",
     .off = offsetof(screen_cfg_t, quotes_src)},
    {.name = "market", .type = OPT_CB, .arg = "SRC", .section = "screen", .set = add_market,
     .help = "spot and vol per currency pair (CSV currency_pair,spot,vol\n"
             "or JSON); they override fx1 and sigma1 of the trades whose\n"
             "quote names that pair (repeatable; a JSON object\n"
             "{\"quotes\":[...],\"market\":[...]} may carry both)"},
    {.name = "api-key-file", .type = OPT_STR, .arg = "F",
     .help = "API key for the endpoint from F (mode 0600); otherwise\n"
             "FINSIM_MARKET_API_KEY. Sent as 'Authorization: Bearer KEY',\n"
             "never on the command line, never logged",
     .off = offsetof(screen_cfg_t, api_key_file)},
    {.name = "market-api-key", .type = OPT_STR, .secret = 1, .off = offsetof(screen_cfg_t, http.api_key)},
    {.name = "api-key-header", .type = OPT_STR, .arg = "NAME", .set = check_header,
     .help = "send the key as 'NAME: KEY' instead (e.g. X-API-Key)",
     .off = offsetof(screen_cfg_t, http.api_key_header)},
    {.name = "http-connect-timeout", .type = OPT_DBL, .arg = "S", .lo = 0.001, .hi = 3600, .section = "screen",
     .help = "connect timeout (default 5 s)", .off = offsetof(screen_cfg_t, http.connect_timeout_s)},
    {.name = "http-timeout", .type = OPT_DBL, .arg = "S", .lo = 0.001, .hi = 86400, .section = "screen",
     .help = "whole-request timeout (default 30 s)", .off = offsetof(screen_cfg_t, http.timeout_s)},
    {.name = "http-retries", .type = OPT_INT, .arg = "N", .lo = 0, .hi = 100, .section = "screen",
     .set = retries_none,
     .help = "retries after timeouts, connection errors, 408/429/5xx\n"
             "(default 3; 0 = none), waiting --http-backoff S (default\n"
             "0.5 s), doubled after each attempt",
     .off = offsetof(screen_cfg_t, http.retries)},
    {.name = "http-backoff", .type = OPT_DBL, .arg = "S", .lo = 0.001, .hi = 600, .section = "screen",
     .help = "first wait between retries (default 0.5 s)", .off = offsetof(screen_cfg_t, http.backoff_s)},
    {.name = "http-ca", .type = OPT_STR, .arg = "FILE", .section = "screen", .help = NULL,
     .off = offsetof(screen_cfg_t, http.ca_file)},
    {.name = "http-insecure", .type = OPT_FLAG, .help = "CA bundle for https; --http-insecure skips verification",
     .off = offsetof(screen_cfg_t, http.insecure)},
    {.name = "allow-insecure-http", .type = OPT_FLAG,
     .help = "send the API key over plain http:// (refused without it;\n"
             "a warning is printed); only on a network you trust",
     .off = offsetof(screen_cfg_t, http.allow_insecure_http)},
    ROW_STORE(screen_cfg_t, "\nstore (as 'finsim run'):",
              "redis://[user@]host:port[/db], rediss://, unix:///path.sock,\n"
              "or an HDF5 trade file"),
    {.name = "start-trade", .type = OPT_I64, .arg = "K", .lo = 0, .hi = TRADE_MAX_ID, .section = "screen",
     .help = NULL, .off = offsetof(screen_cfg_t, start)},
    {.name = "trade-window", .type = OPT_I64, .arg = "W", .lo = 1, .hi = 100000000, .section = "screen",
     .help = "the trades to screen (default: all)", .off = offsetof(screen_cfg_t, window)},
    ROW_BATCH(screen_cfg_t, BATCH_HELP),
    ROWS_STORE_ACCESS(screen_cfg_t, NULL),
    {.name = "algorithm", .type = OPT_ENUM, .arg = "A", .def = "pvonly", .names = algo_names, .values = algo_values,
     .section = "screen", .group = "\npricing:", .set = check_valued_algo, .help = "pvonly (default) or deltavega",
     .off = offsetof(screen_cfg_t, mo.algo)},
    {.name = "seed", .type = OPT_U64, .arg = "S", .def = "1", .lo = 0, .hi = (double)INT64_MAX, .section = "screen",
     .help = "run seed (default 1)", .off = offsetof(screen_cfg_t, mo.seed)},
    {.name = "paths", .type = OPT_I64, .arg = "N", .lo = 1, .hi = TRADE_MAX_TRIALS, .section = "screen",
     .help = "override every trade's trials", .off = offsetof(screen_cfg_t, mo.paths)},
    {.name = "kernel", .type = OPT_ENUM, .arg = "K", .def = "fast", .names = kernel_names, .values = kernel_values,
     .section = "screen", .help = "fast (default) or reference", .off = offsetof(screen_cfg_t, mo.kernel)},
    {.name = "min-edge", .type = OPT_DBL, .arg = "X", .def = "0.02", .lo = -1e9, .hi = 1e9, .section = "screen",
     .group = "\nscreen and output:", .help = "smallest relative edge selected (default 0.02)",
     .off = offsetof(screen_cfg_t, min_edge)},
    {.name = "min-z", .type = OPT_DBL, .arg = "Z", .def = "2", .lo = -1e300, .hi = 1e300, .section = "screen",
     .help = "smallest z-score selected (default 2)", .off = offsetof(screen_cfg_t, min_z)},
    {.name = "output", .type = OPT_STR, .arg = "FILE.h5",
     .help = "/signals compound dataset (trade_id, quote, model_value,\n"
             "model_stderr, edge, z) ranked by edge, with attributes\n"
             "(thresholds, counts, seed, time); written as FILE.partial\n"
             "and renamed when complete",
     .off = offsetof(screen_cfg_t, output), .set = check_path_len},
    {.name = "csv", .type = OPT_STR, .arg = "FILE|-", .help = "the same rows as CSV", .off = offsetof(screen_cfg_t, csv),
     .set = check_path_len},
    {.name = "signals-redis", .type = OPT_STR, .arg = "URL", .section = "screen",
     .help = "ZADD <prefix>finsim:signals EDGE TRADE_ID (replacing the\n"
             "set atomically); default: the store when it is Redis",
     .off = offsetof(screen_cfg_t, signals_redis)},
    {.name = "no-signals-redis", .type = OPT_FLAG, .help = "do not publish to Redis",
     .off = offsetof(screen_cfg_t, no_signals_redis)},
    {.name = "make-quotes", .type = OPT_STR, .arg = "FILE", .group = "\nsynthetic quotes (offline runs, tests):",
     .help = "price the trades and write quotes = model_value * (1 + e)\n"
             "with e uniform in [-X, X) from (--quote-seed, trade id);\n"
             "JSON when FILE ends in .json, else CSV; '-' = stdout",
     .off = offsetof(screen_cfg_t, make_quotes)},
    {.name = "quote-noise", .type = OPT_DBL, .arg = "X", .def = "0.05", .lo = 0, .hi = 0.99, .help = "(default 0.05)",
     .off = offsetof(screen_cfg_t, quote_noise)},
    {.name = "quote-seed", .type = OPT_U64, .arg = "Q", .def = "7", .lo = 0, .hi = (double)INT64_MAX,
     .help = "(default 7)", .off = offsetof(screen_cfg_t, quote_seed)},
    {.name = "pair", .type = OPT_STR, .arg = "NAME", .set = check_pair,
     .help = "currency_pair written with every quote", .off = offsetof(screen_cfg_t, pair)},
    ROW_CONFIG("", "INI file ([store], [tls]: the store rows above; [screen]:\n"
                   "quotes, market, start_trade, trade_window, algorithm,\n"
                   "kernel, seed, paths, min_edge, min_z, signals_redis,\n"
                   "http_*); default FINSIM_CONFIG. The same settings come\n"
                   "from FINSIM_<NAME> (FINSIM_QUOTES, ...); the command line\n"
                   "wins. Outputs and secrets: command line only"),
    {.name = "verbose", .letter = 'v', .type = OPT_FLAG, .help = "list unquoted trades and orphan quotes",
     .off = offsetof(screen_cfg_t, verbose)},
};

const opt_table_t settings_screen =
    TABLE("screen", screen_rows, 26,
        SCREEN_HEAD, SCREEN_TAIL);

/* ---- finsim serve and finsim request ------------------------------------------------ */

#define SERVE_HEAD \
    "usage: finsim serve --store URL [--streams S1,S2,...] [--group G] [--consumer C]\n" \
    "                    [--claim-idle MS] [--max-deliveries N] [--idle-exit S]\n" \
    "                    [--log-every S] [--events FILE]\n" \
    "       finsim serve --store URL --status\n" \
    "\n" \
    "Real-time pricing: a worker in the Redis Streams consumer group G that prices\n" \
    "one trade per request. Start several (independent processes, or under mpirun:\n" \
    "every rank is a worker). A client sends\n" \
    "\n" \
    "  XADD finsim:requests * id REQ trade ID [algorithm pvonly|deltavega]\n" \
    "       [paths N] [seed S] [reply STREAM]\n" \
    "\n" \
    "and gets, on STREAM (default finsim:replies),\n" \
    "\n" \
    "  id REQ trade ID status CODE pv .. pv_stderr .. delta .. delta_stderr ..\n" \
    "  vega .. vega_stderr .. paths N worker CONSUMER latency_ms MS [error MSG]\n" \
    "\n" \
    "with the figures of 'finsim price' / 'finsim run' for the same trade, seed and\n" \
    "paths, bit for bit (absent fields: the defaults of 'finsim run'). The result is\n" \
    "mirrored to ey%07d_result.xml as run does. A request is acknowledged only after\n" \
    "its answer is written; one left pending by a worker that died is claimed by\n" \
    "another after --claim-idle; one that fails --max-deliveries times goes to\n" \
    "finsim:requests:dead with its last error (and an answer with that error).\n" \
    "The key prefix applies to every stream. SIGTERM/SIGINT: finish the current\n" \
    "request, acknowledge it, exit 0. See docs/SERVE.md.\n" \
    "\n" \
    "options:\n"

#define SERVE_TAIL \
    "\n" \
    "exit status: 0 stopped by SIGTERM/SIGINT or --idle-exit; 2 usage; 3 store\n" \
    "unreachable; 4 store refused credentials (or an ACL rule is missing); 5 TLS;\n" \
    "6 --events unwritable; 9 store timeout.\n"

#define ROWS_SERVE_STORE(T)                                                                               \
    ROW_STORE(T, NULL, "redis://[user@]host:port[/db], rediss://, unix:///path.sock"),                     \
    ROWS_STORE_ACCESS(T, NULL),                                                                           \
    {.name = "group", .type = OPT_STR, .arg = "G", .def = "finsim", .help = "consumer group (default finsim)", \
     .off = offsetof(T, group)}

static const opt_def_t serve_rows[] = {
    ROWS_SERVE_STORE(serve_cfg_t),
    {.name = "consumer", .type = OPT_STR, .arg = "C",
     .help = "consumer name (default host:pid, host:pid:rank under mpirun)", .off = offsetof(serve_cfg_t, consumer)},
    {.name = "streams", .type = OPT_STR, .arg = "S1,S2", .def = "finsim:requests",
     .help = "request streams, highest priority first: a lower one is\n"
             "read only when every higher one is empty (default\n"
             "finsim:requests)", .off = offsetof(serve_cfg_t, streams)},
    {.name = "claim-idle", .type = OPT_I64, .arg = "MS", .def = "30000", .lo = 1, .hi = 86400000,
     .help = "claim requests pending this long on a worker (default 30000)",
     .off = offsetof(serve_cfg_t, claim_idle_ms)},
    {.name = "max-deliveries", .type = OPT_INT, .arg = "N", .def = "3", .lo = 1, .hi = 1000000,
     .help = "deliveries before a request goes to the dead letters (default 3)",
     .off = offsetof(serve_cfg_t, max_deliveries)},
    {.name = "idle-exit", .type = OPT_DBL, .arg = "S", .lo = 0, .hi = 1e9,
     .help = "exit 0 after S seconds without a request (default: never)", .off = offsetof(serve_cfg_t, idle_exit_s)},
    {.name = "log-every", .type = OPT_DBL, .arg = "S", .def = "10", .lo = 0, .hi = 1e9,
     .help = "log throughput and p50/p95/p99 latency every S s (default 10;\n"
             "0: never)", .off = offsetof(serve_cfg_t, log_every_s)},
    {.name = "events", .type = OPT_STR, .arg = "FILE", .help = "the same figures as JSON lines",
     .off = offsetof(serve_cfg_t, events), .set = check_path_len},
    {.name = "status", .type = OPT_FLAG,
     .help = "print each stream's length, pending count and consumers, and\n"
             "the dead-letter count, then exit", .off = offsetof(serve_cfg_t, status)},
};

const opt_table_t settings_serve = TABLE("serve", serve_rows, 26, SERVE_HEAD, SERVE_TAIL);

#define REQUEST_HEAD \
    "usage: finsim request --store URL --trade ID [--algorithm A] [--paths N] [--seed S]\n" \
    "                      [--priority NAME] [--wait S]\n" \
    "\n" \
    "Send one request to the workers of 'finsim serve' and wait for its answer on a\n" \
    "private reply stream; print the CSV row of 'finsim price' and the latency.\n" \
    "\n" \
    "options:\n"

#define REQUEST_TAIL \
    "\n" \
    "exit status: 0 priced; 1 answered with a failed status; 2 usage; 3 store\n" \
    "unreachable; 4 credentials; 5 TLS; 9 no answer within --wait.\n"

static const opt_def_t request_rows[] = {
    ROWS_SERVE_STORE(serve_cfg_t),
    {.name = "trade", .type = OPT_I64, .arg = "ID", .def = "-1", .lo = -1, .hi = TRADE_MAX_ID,
     .help = "the trade to price", .off = offsetof(serve_cfg_t, trade)},
    {.name = "algorithm", .type = OPT_STR, .arg = "A", .help = "pvonly or deltavega (default: as finsim run)",
     .off = offsetof(serve_cfg_t, algorithm)},
    {.name = "paths", .type = OPT_STR, .arg = "N", .help = "paths (default: the trade's trials)",
     .off = offsetof(serve_cfg_t, paths)},
    {.name = "seed", .type = OPT_STR, .arg = "S", .help = "run seed (default: as finsim run)",
     .off = offsetof(serve_cfg_t, seed)},
    {.name = "priority", .type = OPT_STR, .arg = "NAME",
     .help = "send to finsim:requests:NAME (e.g. high) instead", .off = offsetof(serve_cfg_t, priority)},
    {.name = "wait", .type = OPT_DBL, .arg = "S", .def = "30", .lo = 0, .lo_open = 1, .hi = 86400,
     .help = "wait up to S s for the answer (default 30)", .off = offsetof(serve_cfg_t, wait_s)},
};

const opt_table_t settings_request = TABLE("request", request_rows, 26, REQUEST_HEAD, REQUEST_TAIL);
/* ---- finsim results ------------------------------------------------------------------ */

static const char *const top_by_names[] = {"pv", "delta", "vega", NULL};

static const opt_def_t results_rows[] = {
    {.name = "csv", .type = OPT_STR, .arg = "OUT",
     .help = "write /results as CSV to OUT ('-' = standard output), the\n"
             "columns of finsim price",
     .off = offsetof(results_cfg_t, csv)},
    {.name = "failed", .type = OPT_FLAG,
     .help = "list the failed trades: id, status code, status name, message",
     .off = offsetof(results_cfg_t, failed)},
    {.name = "top", .type = OPT_I64, .arg = "N", .lo = 1, .hi = (double)INT64_MAX,
     .help = "list the N largest contributors (by |figure|, see --top-by)", .off = offsetof(results_cfg_t, top)},
    {.name = "top-by", .type = OPT_ENUM, .arg = "F", .def = "pv", .names = top_by_names,
     .help = "the figure --top ranks by: pv (default), delta or vega", .off = offsetof(results_cfg_t, top_by)},
    {.name = "summary", .type = OPT_FLAG,
     .help = "print the portfolio totals (the default when nothing else is\n"
             "asked); a file without /portfolio (format 1) gets its total\n"
             "computed from /results",
     .off = offsetof(results_cfg_t, summary)},
};

const opt_table_t settings_results =
    TABLE("results", results_rows, 16,
        "usage: finsim results FILE.h5 [--csv OUT|-] [--failed] [--top N] [--summary]\n"
        "\n"
        "Read a results file of finsim run (any format version) and show it: the\n"
        "portfolio totals, the failed trades, the largest contributors, or all of\n"
        "/results as CSV. Several views print in the order summary, failed, top,\n"
        "csv. A signals file of finsim screen shows its counts (--summary,\n"
        "--failed), its first N signals by edge (--top) or its rows as CSV.\n"
        "\n",
        "\n"
        "exit status: 0 read and shown; 2 usage; 6 the file is missing, unreadable\n"
        "or not a finsim results file, or OUT cannot be written.\n");

const opt_table_t *const settings_all[] = {&settings_run, &settings_generate, &settings_export,
                                           &settings_import, &settings_screen, NULL};

/* ---- parsing and secrets ------------------------------------------------------------------ */

int settings_parse_cmd(const opt_table_t *t, void *cfg, int argc, char **argv, opt_sources_t *s)
{
    int pr = settings_parse(t, cfg, argc, argv, s);
    if (pr == OPTS_HELP)
        return opts_usage(t, stdout), FS_EXIT_OK;
    return pr != 0 ? FS_EXIT_USAGE : -1;
}

int settings_parse(const opt_table_t *t, void *cfg, int argc, char **argv, opt_sources_t *s)
{
    opts_defaults(t, cfg);
    /* a command without --config (price) reads no file and no FINSIM_* */
    return opts_parse(t, opts_find(t, "config") ? settings_all : NULL, cfg, argc, argv, s);
}

int settings_store_password(const char *password_file, store_opts_t *so, char **owned, const char **src)
{
    char err[512];
    *owned = NULL;
    if (password_file) {
        if (cfg_read_secret_file(password_file, owned, err, sizeof(err)) != 0)
            return fs_error("%s", err), -1;
        so->password = *owned;
        so->password_file = password_file; /* read again at every reconnection */
        if (src)
            *src = "password_file";
        return 0;
    }
    so->password = getenv("FINSIM_REDIS_PASSWORD");
    if (so->password)
        fs_secret_held();
    if (src)
        *src = so->password ? "env FINSIM_REDIS_PASSWORD" : "not set";
    return 0;
}

void settings_secret_free(char *secret)
{
    fs_wipe_free(secret);
}
