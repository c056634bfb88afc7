/* run.c - finsim run and finsim config: the main MPI job's command line.
 *
 * This file reads the options (command line, FINSIM_* environment, INI
 * file), prints the help and the effective configuration, and maps the
 * job's outcomes to exit codes. The job itself - trade list, schedule,
 * batches, report - is in src/job/ (finsim/job/job.h). */
#define _GNU_SOURCE
#include "finsim/job/job.h"

#include <errno.h>
#include <getopt.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "finsim/cmd/cli.h"
#include "finsim/base/config.h"
#include "finsim/base/config_build.h"
#include "finsim/base/mpi.h"
#include "finsim/base/util.h"
#include "finsim/pricing/mc.h"
#include "finsim/store/store.h"

/* ---- configuration ---------------------------------------------------------- */

static const char run_usage[] =
    "usage: mpirun -np R finsim run --store URL --output FILE.h5\n"
    "                 (--start-trade K --trade-window W | --all-trades | --ids-file FILE)\n"
    "                 [--algorithm A] [--seed S] [--paths N] [--resume] [options]\n"
    "\n"
    "The main job: rank 0 builds the trade list and hands windows to the ranks;\n"
    "each rank fetches its trades in pipelined batches, prices them, mirrors the\n"
    "results to the store (key eyNNNNNNN_result.xml) and writes them into the HDF5\n"
    "file (/results, ordered by trade id; /telemetry; provenance attributes).\n"
    "Results are bitwise identical for any rank count, schedule and batch size.\n"
    "\n"
    "trades:\n"
    "  --store URL          redis://[user@]host:port[/db], rediss://... (TLS),\n"
    "                       unix:///path.sock, or an HDF5 trade file path\n"
    "  --start-trade K      first trade id of the range (default 0)\n"
    "  --trade-window W     number of trades in the range\n"
    "  --all-trades         every trade in the store (Redis: SCAN)\n"
    "  --ids-file FILE      trade ids, whitespace or comma separated ('#' comments)\n"
    "pricing:\n"
    "  --algorithm A        pvonly (default), deltavega, synthetic\n"
    "  --seed S             run seed (default 1)\n"
    "  --paths N            override every trade's trials\n"
    "  --kernel K           fast (default) or reference\n"
    "  --task-duration MS, --mem-usage MB, --delay-start MS   synthetic algorithm\n"
    "  --failure P          a trade fails with probability P (from seed and id); the\n"
    "                       rank that meets one exits, as AzFinSim's tasks did\n"
    "  --failure-mode M     exit (default) or record (mark the trade failed, go on)\n"
    "scheduling and I/O:\n"
    "  --schedule S         static (default) or dynamic (chunks on demand)\n"
    "  --balance B          static windows by count (default) or cost (paths x steps)\n"
    "  --chunk N            trades per dynamic chunk (default: auto)\n"
    "  --batch N            trades per pipelined store batch (default 1000, max 5000)\n"
    "  --no-mirror          do not write results back to the store\n"
    "  --resume             reuse results already in the store's mirror when they were\n"
    "                       made from the same inputs (seed, algorithm, kernel, paths,\n"
    "                       trade fields; others are priced again): the output equals\n"
    "                       an uninterrupted run\n"
    "  --output FILE.h5     results file (written as FILE.h5.partial, renamed at the end)\n"
    "  --h5-write M         auto (default): independent MPI-IO writes when every host\n"
    "                       shares the output directory, else gather; independent;\n"
    "                       collective (static schedule only); gather: rank 0 writes\n"
    "                       the whole file alone, on its host (node-local paths work).\n"
    "                       independent or collective on a directory that is not\n"
    "                       shared: exit 2, naming the hosts\n"
    "  --expect-checksum X  fail (exit 7) unless the verification checksum is X (hex)\n"
    "  --events FILE        write JSON-lines progress events (rank 0)\n"
    "  --progress SEC       seconds between progress lines (default 10; 0 = off)\n"
    "  --quiet              only the report and errors\n"
    "configuration:\n"
    "  --config FILE        INI file ([store], [tls], [run], [synthetic] sections; keys are\n"
    "                       these option names with '_' for '-'); also FINSIM_CONFIG.\n"
    "                       Precedence: defaults < file < FINSIM_<KEY> environment <\n"
    "                       command line. 'finsim config ...' shows the result.\n"
    "store options:\n"
    "  --key-prefix P       prefix of every Redis key (several portfolios in one Redis)\n"
    "  --password-file F    Redis password from F (mode 0600); else FINSIM_REDIS_PASSWORD\n"
    "  --tls-ca FILE, --tls-ca-dir DIR, --tls-cert FILE, --tls-key FILE, --tls-sni NAME,\n"
    "  --tls-insecure       TLS settings for rediss:// (insecure: skip verification)\n"
    "  --timeout SEC        store connect/command timeout (default 10)\n"
    "\n"
    "exit status: 0 every trade priced; 1 some trades failed; 2 usage; 3 store;\n"
    "4 auth; 5 TLS; 6 output I/O; 7 checksum mismatch; 9 timeout; 10 injected failure.\n";

/* Where each setting's value came from (index as cfg_run_keys); NULL = default. */
typedef struct run_sources {
    const char *src[CFG_RUN_NKEYS];
    cfg_layers_t layers;
} run_sources_t;

static void note_source(run_sources_t *rs, const char *optname, const char *src)
{
    char key[64];
    if (!strncmp(optname, "no-", 3))
        optname += 3;
    snprintf(key, sizeof(key), "%s", optname);
    for (char *p = key; *p; p++)
        if (*p == '-')
            *p = '_';
    for (size_t i = 0; i < CFG_RUN_NKEYS; i++)
        if (!strcmp(cfg_run_keys[i].name, key))
            rs->src[i] = src;
}

/* Parse the command line into c. Returns -1 on usage error (message printed),
 * 1 when --help was printed, 0 otherwise. */
static int parse_run_args(int argc0, char **argv0, run_cfg_t *c, char **owned_password, run_sources_t *rs,
                          int check)
{
    enum { O_STORE = 1000, O_OUTPUT, O_START, O_WINDOW, O_ALL, O_IDS, O_SCHED, O_BALANCE, O_CHUNK,
           O_BATCH, O_H5WRITE, O_NOMIRROR, O_RESUME, O_EXPECT, O_EVENTS, O_PROGRESS, O_QUIET, O_PREFIX, O_PWFILE,
           O_CA, O_CADIR, O_CERT, O_KEY, O_SNI, O_INSECURE, O_TIMEOUT, O_FMODE, O_VERBOSE, O_CONFIG,
           O_MIRROR, O_NORESUME, O_NOQUIET, O_NOINSECURE, O_NOALL };
    static const struct option opts[] = {
        {"algorithm", required_argument, NULL, 'a'},
        {"kernel", required_argument, NULL, 'K'},
        {"seed", required_argument, NULL, 's'},
        {"paths", required_argument, NULL, 'p'},
        {"task-duration", required_argument, NULL, 'T'},
        {"mem-usage", required_argument, NULL, 'M'},
        {"delay-start", required_argument, NULL, 'D'},
        {"failure", required_argument, NULL, 'F'},
        {"failure-mode", required_argument, NULL, O_FMODE},
        {"store", required_argument, NULL, O_STORE},
        {"output", required_argument, NULL, O_OUTPUT},
        {"start-trade", required_argument, NULL, O_START},
        {"trade-window", required_argument, NULL, O_WINDOW},
        {"all-trades", no_argument, NULL, O_ALL},
        {"ids-file", required_argument, NULL, O_IDS},
        {"schedule", required_argument, NULL, O_SCHED},
        {"balance", required_argument, NULL, O_BALANCE},
        {"h5-write", required_argument, NULL, O_H5WRITE},
        {"chunk", required_argument, NULL, O_CHUNK},
        {"batch", required_argument, NULL, O_BATCH},
        {"no-mirror", no_argument, NULL, O_NOMIRROR},
        {"resume", no_argument, NULL, O_RESUME},
        {"expect-checksum", required_argument, NULL, O_EXPECT},
        {"events", required_argument, NULL, O_EVENTS},
        {"progress", required_argument, NULL, O_PROGRESS},
        {"quiet", no_argument, NULL, O_QUIET},
        {"verbose", no_argument, NULL, O_VERBOSE},
        {"key-prefix", required_argument, NULL, O_PREFIX},
        {"password-file", required_argument, NULL, O_PWFILE},
        {"tls-ca", required_argument, NULL, O_CA},
        {"tls-ca-dir", required_argument, NULL, O_CADIR},
        {"tls-cert", required_argument, NULL, O_CERT},
        {"tls-key", required_argument, NULL, O_KEY},
        {"tls-sni", required_argument, NULL, O_SNI},
        {"tls-insecure", no_argument, NULL, O_INSECURE},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"config", required_argument, NULL, O_CONFIG},
        {"mirror", no_argument, NULL, O_MIRROR},
        {"no-resume", no_argument, NULL, O_NORESUME},
        {"no-quiet", no_argument, NULL, O_NOQUIET},
        {"no-tls-insecure", no_argument, NULL, O_NOINSECURE},
        {"no-all-trades", no_argument, NULL, O_NOALL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt, longindex;
    int64_t v;
    double d;
    char cerr[512];
    if (cfg_build(cfg_run_keys, argc0, argv0, &rs->layers, cerr, sizeof(cerr)) != 0)
        return fs_error("%s", cerr), -1;
    int argc = rs->layers.argc;
    char **argv = rs->layers.argv;
    optind = 1;
    while ((longindex = -1, opt = getopt_long(argc, argv, "hv", opts, &longindex)) != -1) {
        if (longindex >= 0)
            note_source(rs, opts[longindex].name, cfg_source_at(&rs->layers, optind));
        int r = cli_mc_option(opt, optarg, &c->mo);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        switch (opt) {
        case 'h': return 1;
        case O_CONFIG: break; /* read by cfg_build */
        case O_MIRROR: c->mirror = 1; break;
        case O_NORESUME: c->resume = 0; break;
        case O_NOQUIET: c->quiet = 0; break;
        case O_NOINSECURE: c->so.tls_insecure = 0; break;
        case O_NOALL: c->all_trades = 0; break;
        case 'v':
        case O_VERBOSE: fs_log_verbose++; break;
        case O_STORE: c->store_url = optarg; break;
        case O_OUTPUT: c->output = optarg; break;
        case O_START:
            if (fs_parse_i64(optarg, &v) || v < 0 || v > TRADE_MAX_ID)
                return fs_error("--start-trade expects a trade id, got '%s'", optarg), -1;
            c->start_trade = v;
            break;
        case O_WINDOW:
            if (fs_parse_i64(optarg, &v) || v < 1 || v > TRADE_MAX_ID + 1)
                return fs_error("--trade-window expects a positive count, got '%s'", optarg), -1;
            c->window = v;
            break;
        case O_ALL: c->all_trades = 1; break;
        case O_IDS: c->ids_file = optarg; break;
        case O_SCHED:
            if (!strcmp(optarg, "static")) c->schedule = RUN_STATIC;
            else if (!strcmp(optarg, "dynamic")) c->schedule = RUN_DYNAMIC;
            else return fs_error("--schedule must be static or dynamic, not '%s'", optarg), -1;
            break;
        case O_BALANCE:
            if (!strcmp(optarg, "count")) c->balance = RUN_BALANCE_COUNT;
            else if (!strcmp(optarg, "cost")) c->balance = RUN_BALANCE_COST;
            else return fs_error("--balance must be count or cost, not '%s'", optarg), -1;
            break;
        case O_H5WRITE:
            if (h5_write_mode_parse(optarg, &c->h5_write) != 0)
                return fs_error("--h5-write must be auto, independent, collective or gather, not '%s'", optarg), -1;
            break;
        case O_CHUNK:
            if (fs_parse_i64(optarg, &v) || v < 1 || v > 100000000)
                return fs_error("--chunk expects a positive count, got '%s'", optarg), -1;
            c->chunk = v;
            break;
        case O_BATCH:
            if (fs_parse_i64(optarg, &v) || v < 1 || v > 5000)
                return fs_error("--batch expects 1..5000 (larger pipelines were slower), got '%s'", optarg), -1;
            c->batch = (int)v;
            break;
        case O_NOMIRROR: c->mirror = 0; break;
        case O_RESUME: c->resume = 1; break;
        case O_EXPECT: {
            char *end;
            errno = 0;
            unsigned long long x = strtoull(optarg, &end, 16);
            if (errno || end == optarg || *end)
                return fs_error("--expect-checksum expects a hex number, got '%s'", optarg), -1;
            c->have_expect = 1;
            c->expect_checksum = x;
            break;
        }
        case O_EVENTS: c->events_path = optarg; break;
        case O_PROGRESS:
            if (fs_parse_double(optarg, &d) || d < 0)
                return fs_error("--progress expects seconds >= 0, got '%s'", optarg), -1;
            c->progress_interval = d;
            break;
        case O_QUIET: c->quiet = 1; break;
        case O_PREFIX: c->so.key_prefix = optarg; break;
        case O_PWFILE: c->password_file = optarg; break;
        case O_CA: c->so.tls_ca_file = optarg; break;
        case O_CADIR: c->so.tls_ca_dir = optarg; break;
        case O_CERT: c->so.tls_cert = optarg; break;
        case O_KEY: c->so.tls_key = optarg; break;
        case O_SNI: c->so.tls_sni = optarg; break;
        case O_INSECURE: c->so.tls_insecure = 1; break;
        case O_TIMEOUT:
            if (fs_parse_double(optarg, &d) || d <= 0 || d > 3600)
                return fs_error("--timeout expects seconds in (0, 3600], got '%s'", optarg), -1;
            c->so.timeout_s = d;
            break;
        case O_FMODE:
            if (!strcmp(optarg, "exit")) c->failure_exit = 1;
            else if (!strcmp(optarg, "record")) c->failure_exit = 0;
            else return fs_error("--failure-mode must be exit or record, not '%s'", optarg), -1;
            break;
        default: return -1;
        }
    }
    if (optind < argc)
        return fs_error("run: unexpected argument '%s'", argv[optind]), -1;
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
    if (c->h5_write == H5W_COLLECTIVE && c->schedule == RUN_DYNAMIC)
        return fs_error("run: --h5-write collective needs --schedule static (collective writes put the "
                        "ranks in lock step, one write per batch index; dynamic chunks cannot promise that)"),
               -1;
    if (c->password_file) {
        char err[512];
        if (cfg_read_secret_file(c->password_file, owned_password, err, sizeof(err)) != 0)
            return fs_error("%s", err), -1;
        c->so.password = *owned_password;
    } else {
        c->so.password = getenv("FINSIM_REDIS_PASSWORD");
    }
    return 0;
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

/* The effective configuration as key=value lines (names as in cfg_run_keys),
 * secrets redacted. store is the URL without user info. */
static char *describe_config(const run_cfg_t *c, const char *store_desc)
{
    char *s = xmalloc(8192);
    char expect[32] = "";
    if (c->have_expect)
        snprintf(expect, sizeof(expect), "%016llx", (unsigned long long)c->expect_checksum);
    snprintf(s, 8192,
             "store=%s\nkey_prefix=%s\npassword_file=%s\ntimeout=%g\nbatch=%d\nmirror=%s\n"
             "tls_ca=%s\ntls_ca_dir=%s\ntls_cert=%s\ntls_key=%s\ntls_sni=%s\ntls_insecure=%s\n"
             "algorithm=%s\nkernel=%s\nseed=%llu\npaths=%lld\nstart_trade=%lld\ntrade_window=%lld\n"
             "all_trades=%s\nids_file=%s\noutput=%s\nschedule=%s\nbalance=%s\nchunk=%lld\nh5_write=%s\nresume=%s\n"
             "expect_checksum=%s\nevents=%s\nprogress=%g\nquiet=%s\nfailure=%g\nfailure_mode=%s\n"
             "task_duration=%g\nmem_usage=%g\ndelay_start=%g\nredis_password=%s\n",
             store_desc ? store_desc : "", c->so.key_prefix ? c->so.key_prefix : "",
             c->password_file ? c->password_file : "", c->so.timeout_s > 0 ? c->so.timeout_s : 10.0, c->batch,
             c->mirror ? "true" : "false", c->so.tls_ca_file ? c->so.tls_ca_file : "",
             c->so.tls_ca_dir ? c->so.tls_ca_dir : "", c->so.tls_cert ? c->so.tls_cert : "",
             c->so.tls_key ? c->so.tls_key : "", c->so.tls_sni ? c->so.tls_sni : "",
             c->so.tls_insecure ? "true" : "false", mc_algo_name(c->mo.algo), mc_kernel_name(c->mo.kernel),
             (unsigned long long)c->mo.seed, (long long)c->mo.paths, (long long)c->start_trade,
             (long long)c->window, c->all_trades ? "true" : "false", c->ids_file ? c->ids_file : "",
             c->output ? c->output : "", c->schedule == RUN_DYNAMIC ? "dynamic" : "static",
             c->balance == RUN_BALANCE_COST ? "cost" : "count", (long long)c->chunk,
             h5_write_mode_name(c->h5_write), c->resume ? "true" : "false",
             expect, c->events_path ? c->events_path : "", c->progress_interval, c->quiet ? "true" : "false",
             c->mo.failure_p, c->failure_exit ? "exit" : "record", c->mo.task_duration_ms, c->mo.mem_mb,
             c->mo.delay_start_ms,
             c->so.password ? "<redacted>" : "<none>");
    return s;
}

static void run_cfg_default(run_cfg_t *c)
{
    memset(c, 0, sizeof(*c));
    mc_opts_default(&c->mo);
    c->batch = 1000;
    c->mirror = 1;
    c->failure_exit = 1;
    c->progress_interval = 10;
}

static const char config_usage[] =
    "usage: finsim config [--config FILE] [run options...]\n"
    "\n"
    "Print the effective configuration of 'finsim run' with the same arguments:\n"
    "every setting, its value and where it came from (default, the INI file,\n"
    "a FINSIM_* environment variable, or the command line). Secrets are redacted.\n";

int cmd_config(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return fputs(config_usage, stdout), FS_EXIT_OK;
    run_cfg_t c;
    run_cfg_default(&c);
    run_sources_t rs;
    memset(&rs, 0, sizeof(rs));
    char *password = NULL;
    int pr = parse_run_args(argc, argv, &c, &password, &rs, 0);
    if (pr < 0) {
        cfg_free(&rs.layers);
        return FS_EXIT_USAGE;
    }
    const char *pw_src = "not set";
    if (c.password_file) {
        char err[512];
        pw_src = cfg_read_secret_file(c.password_file, &password, err, sizeof(err)) == 0 ? "password_file" : err;
        c.so.password = password;
    } else if ((c.so.password = getenv("FINSIM_REDIS_PASSWORD")) != NULL) {
        pw_src = "env FINSIM_REDIS_PASSWORD";
    }
    /* the store URL as given may carry a user name but never a password
     * (the redis store refuses one); print it as given */
    char red[512];
    char *desc = describe_config(&c, c.store_url ? store_redact_url(c.store_url, red, sizeof(red)) : NULL);
    printf("# finsim %s effective configuration (defaults < %s < FINSIM_* environment < command line)\n",
           FINSIM_VERSION, rs.layers.config_path ? rs.layers.config_path : "no config file");
    char *save = NULL;
    for (char *line = strtok_r(desc, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        *eq = '\0';
        const char *src = "default";
        for (size_t i = 0; i < CFG_RUN_NKEYS; i++)
            if (!strcmp(cfg_run_keys[i].name, line) && rs.src[i])
                src = rs.src[i];
        if (!strcmp(line, "redis_password"))
            src = pw_src;
        printf("%-16s = %-36s # %s\n", line, eq + 1, src);
    }
    free(desc);
    cfg_free(&rs.layers);
    if (password) {
        memset(password, 0, strlen(password));
        free(password);
    }
    return FS_EXIT_OK;
}

/* ---- the run ---------------------------------------------------------------- */

/* Read the options on every rank and agree on them. Returns 1 when the
 * command is done (help shown, or bad options: *exit_code says which),
 * 0 to run. On 0 the caller frees with run_options_free. */
static int run_options(int argc, char **argv, int rank, run_cfg_t *c, run_sources_t *rs, char **password,
                       int *exit_code)
{
    run_cfg_default(c);
    *password = NULL;
    memset(rs, 0, sizeof(*rs));
    int pr = parse_run_args(argc, argv, c, password, rs, 1);
    /* option values point into rs->layers: it lives until the end of the run */
    if (pr == 1) {
        if (rank == 0)
            fputs(run_usage, stdout);
        cfg_free(&rs->layers);
        *exit_code = FS_EXIT_OK;
        return 1;
    }
    if (fs_mpi_agree(pr < 0 ? FS_EXIT_USAGE : 0)) {
        if (rank == 0 && pr < 0)
            fputs("(finsim run --help explains every option)\n", stderr);
        free(*password);
        cfg_free(&rs->layers);
        *exit_code = FS_EXIT_USAGE;
        return 1;
    }
    return 0;
}

/* The configuration layers and the password (wiped before it is freed). */
static void run_options_free(run_sources_t *rs, char *password)
{
    cfg_free(&rs->layers);
    if (password) {
        memset(password, 0, strlen(password));
        free(password);
    }
}

/* A fatal error on this rank: the other ranks may be waiting on it, so end
 * the whole job (results priced so far are in the mirror). Does not return. */
static void run_abort(job_t *job, int status)
{
    int code = cli_exit_code(status);
    const char *why = job_errstr(job);
    if (status != JOB_E_INJECTED || !why[0] || strcmp(why, "injected failure"))
        fs_error("%s", why);
    fs_error("stopping the job (exit %d); rerun with --resume to keep the results already mirrored", code);
    fflush(NULL);
    MPI_Abort(MPI_COMM_WORLD, code);
}

/* Report the outcome and agree on the exit code: the report, the end
 * event with rank 0's code, then the worst code of all ranks. */
static int run_report(job_t *job, const run_cfg_t *c)
{
    char *config = describe_config(c, job_store_name(job));
    int code = cli_exit_code(job_report(job, config));
    free(config);
    job_end(job, code);
    return fs_mpi_agree(code);
}

/* finsim run: the phases of the job (src/job/, finsim/job/job.h). */
int cmd_run(int argc, char **argv)
{
    run_cfg_t c;
    run_sources_t rs;
    char *password;
    int rank, nranks, code;
    fs_mpi_world(&rank, &nranks);
    if (run_options(argc, argv, rank, &c, &rs, &password, &code))
        return code;

    job_t *job = NULL;
    char *cmdline = join_argv(argc, argv);
    int status = job_open(&c, &job);             /* the store, on every rank */
    if (status == JOB_OK)
        status = job_build_list(job);            /* ids file, all trades or the range */
    if (status == JOB_OK)
        status = job_start(job, cmdline);        /* buffers, output file, events */
    if (status == JOB_OK && (status = job_schedule(job)) != JOB_OK)
        run_abort(job, status);                  /* price every batch, or end the job */
    code = status == JOB_OK ? run_report(job, &c) : cli_exit_code(status);
    job_close(job);
    free(cmdline);
    run_options_free(&rs, password);
    return code;
}
