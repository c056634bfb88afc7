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
#include "finsim/base/stop.h"
#include "finsim/base/options.h"
#include "finsim/base/util.h"
#include "finsim/cmd/settings.h"
#include "finsim/pricing/mc.h"
#include "finsim/store/store.h"

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
    if (c->resume && !c->mirror)
        return fs_error("run: --resume takes the results a previous run mirrored to the store, and --no-mirror "
                        "turns the mirror off: give one of them"), -1;
    c->list_mode = c->window <= 0;
    if (c->h5_write == H5W_COLLECTIVE && c->schedule == RUN_DYNAMIC)
        return fs_error("run: --h5-write collective needs --schedule static (collective writes put the "
                        "ranks in lock step, one write per batch index; dynamic chunks cannot promise that)"),
               -1;
    /* what the run will do with the store: checked against its ACLs at connect */
    c->so.needs = STORE_NEED_READ_TRADES | (c->mirror ? STORE_NEED_WRITE_RESULTS : 0u) |
                  (c->resume ? STORE_NEED_READ_RESULTS : 0u) | (c->all_trades ? STORE_NEED_LIST : 0u);
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
        /* a URL with a password or a connection string with a secret is
         * refused, but never echo one (the redacted form may be longer) */
        size_t rn = strlen(argv[i]) + 64;
        char *red = xmalloc(rn);
        store_redact_url(argv[i], red, rn);
        n += strlen(red);
        s = xrealloc(s, n);
        strcat(s, red);
        free(red);
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

/* ---- the run ---------------------------------------------------------------- */

/* The configuration layers and the password (wiped before it is freed). */
static void run_options_free(run_sources_t *rs, char *password)
{
    cfg_free(&rs->layers);
    settings_secret_free(password);
}

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
            opts_usage(&settings_run, stdout);
        cfg_free(&rs->layers);
        *exit_code = FS_EXIT_OK;
        return 1;
    }
    if (fs_mpi_agree(pr < 0 ? FS_EXIT_USAGE : 0)) {
        if (rank == 0 && pr < 0)
            fputs("(finsim run --help explains every option)\n", stderr);
        run_options_free(rs, *password);
        *exit_code = FS_EXIT_USAGE;
        return 1;
    }
    return 0;
}

/* A fatal error on this rank: the other ranks may be waiting on it, so end
 * the whole job (results priced so far are in the mirror). Does not return. */
static void run_abort(job_t *job, const run_cfg_t *c, int status)
{
    int code = cli_exit_code(status);
    const char *why = job_errstr(job);
    if (status != JOB_E_INJECTED || !why[0] || strcmp(why, "injected failure"))
        fs_error("%s", why);
    job_abandon(job); /* flush the mirror, drop the output's lock */
    if (code == FS_EXIT_AUTH) /* the store refused a command: likely nothing was mirrored */
        fs_error("stopping the job (exit %d); fix the store user's ACL rules named above, then rerun "
                 "(with --resume to keep any results already mirrored)", code);
    else if (c->mirror)
        fs_error("stopping the job (exit %d); rerun with --resume to keep the results already mirrored", code);
    else
        fs_error("stopping the job (exit %d); without a mirror (--no-mirror) a rerun prices every trade again",
                 code);
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
    fs_mpi_peek(&rank, &nranks); /* --help needs no MPI */
    if (run_options(argc, argv, rank, &c, &rs, &password, &code))
        return code;
    fs_mpi_world(&rank, &nranks);
    fs_stop_install(); /* SIGTERM, SIGINT: stop after the current batch (job_schedule) */

    job_t *job = NULL;
    char *cmdline = join_argv(argc, argv);
    int status = job_open(&c, &job);             /* the store, on every rank */
    if (status == JOB_OK)
        status = job_build_list(job);            /* ids file, all trades or the range */
    if (status == JOB_OK)
        status = job_start(job, cmdline);        /* buffers, output file, events */
    if (status == JOB_OK && (status = job_schedule(job)) != JOB_OK && status != JOB_STOPPED)
        run_abort(job, &c, status);              /* price every batch, or end the job */
    code = status == JOB_OK ? run_report(job, &c) : cli_exit_code(status);
    if (status == JOB_STOPPED)
        job_end(job, code);                      /* stopped by a signal: no report, FILE.partial stays */
    job_close(job);
    free(cmdline);
    run_options_free(&rs, password);
    return code;
}
