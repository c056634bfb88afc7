/* job.c - the life of a job: open the store, build the trade list, set up
 * buffers and output, events, close. The phases in between are in
 * schedule.c, batch.c and report.c. */
#include <errno.h>
#include <inttypes.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "finsim/base/mpi.h"
#include "finsim/base/util.h"
#include "finsim/output/outguard.h"
#include "job_int.h"

/* One JSON line per event: {"time":<seconds.millis>,<fmt...>}, flushed. */
void job_events_write(job_t *s, const char *fmt, ...)
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

/* Rank 0: may the output be written, and is it ours alone? Refuse an
 * output that is an input (trade file, ids file) or an existing file that
 * is not a results file, replace a results file only with --force or
 * --resume; all under the output's lock. Agreed over the ranks. */
static int job_claim_output(job_t *s)
{
    const run_cfg_t *c = s->cfg;
    int status = JOB_OK;
    if (s->rank == 0) {
        const char *trade_file = NULL;
        const char *be = store_backend_for(c->store_url);
        if (be && !strcmp(be, "file"))
            trade_file = strncmp(c->store_url, "file://", 7) ? c->store_url : c->store_url + 7;
        const char *protect[] = {trade_file, c->ids_file, c->events_path};
        const char *what[] = {"trade file given to --store", "ids file given to --ids-file",
                              "events file given to --events"};
        outguard_t g = {.path = c->output, .opt = "--output", .dataset = "results", .protect = protect,
                        .protect_what = what, .nprotect = 3, .replace_ok = c->force || c->resume,
                        .replace_hint = "give --force to replace it (or --resume to continue into it)"};
        char err[1024] = "";
        /* the lock first: what the output is cannot change while it is held */
        if (!(s->lock = outlock_take(c->output, err, sizeof(err)))) {
            fs_error("%s", err);
            status = JOB_E_IO;
        } else if (outguard_check(&g, err, sizeof(err)) != 0) {
            fs_error("%s", err);
            outlock_release(s->lock);
            s->lock = NULL;
            status = JOB_E_CONFIG;
        }
    }
    return fs_mpi_agree(status);
}

/* The clocks start before the store is opened, as the report counts them. */
int job_open(const run_cfg_t *c, job_t **out)
{
    job_t *s = xcalloc(1, sizeof(*s));
    s->prog_rq = MPI_REQUEST_NULL;
    s->cfg = c;
    fs_mpi_world(&s->rank, &s->nranks);
    s->t_begin = time(NULL);
    s->t_start = s->t_last_progress = fs_now();
    s->tel.rank = s->rank;
    gethostname(s->tel.host, sizeof(s->tel.host) - 1);

    /* the output first: a second run on it is told so before it opens
     * the store (a trade file the first run holds would fail the open) */
    int claim = job_claim_output(s);
    if (claim != JOB_OK) {
        job_close(s);
        *out = NULL;
        return claim;
    }
    MPI_Comm world = MPI_COMM_WORLD;
    char err[512] = "";
    int ecode = 0;
    store_opts_t so = c->so;
    so.readonly = !c->mirror; /* --no-mirror only reads: any number of jobs may share a trade file */
    s->st = store_open(c->store_url, &so, &world, err, sizeof(err), &ecode);
    char msg[1024] = "", red[512];
    if (!s->st)
        snprintf(msg, sizeof(msg), "cannot open store %s: %s", store_redact_url(c->store_url, red, sizeof(red)),
                 err);
    /* a store one host cannot reach: rank 0 names that host */
    int status = fs_mpi_agree_err(s->st ? JOB_OK : job_store_status(ecode), msg);
    if (status != JOB_OK) {
        if (!s->st && s->rank != 0 && fs_log_verbose)
            fs_error("%s", msg);
        job_close(s);
        *out = NULL;
        return status;
    }
    *out = s;
    return JOB_OK;
}

const char *job_store_name(job_t *j)
{
    return store_describe(j->st);
}

const char *job_errstr(job_t *j)
{
    return j->err;
}

/* Rank 0 builds, reports and checks; the length is broadcast (the ids go
 * out later, with the windows or chunks). */
int job_build_list(job_t *s)
{
    const run_cfg_t *c = s->cfg;
    int status = JOB_OK;
    if (s->rank == 0) {
        tl_spec_t spec = {.source = c->ids_file ? TL_IDS_FILE : c->all_trades ? TL_ALL : TL_RANGE,
                          .start = c->start_trade, .window = c->window, .ids_file = c->ids_file, .unique = 1};
        char err[512];
        status = tl_build(&spec, s->st, &s->list, err, sizeof(err));
        if (status != JOB_OK)
            fs_error("%s", err);
        if (s->list.dropped)
            fs_warn("%lld duplicate trade ids in the list were dropped (each id is priced once)",
                    (long long)s->list.dropped);
        s->total = (int64_t)s->list.n;
        if (status == JOB_OK && s->total == 0) {
            fs_error("no trades to price (the %s is empty)", c->ids_file ? "ids file" : "store");
            status = JOB_E_CONFIG;
        }
    }
    status = fs_mpi_agree(status);
    MPI_Bcast(&s->total, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
    return status;
}

void job_abandon(job_t *s)
{
    if (!s)
        return;
    if (s->st)
        store_flush(s->st); /* results mirrored so far survive the abort */
    outlock_release(s->lock);
    s->lock = NULL;
}

/* Decide how the output is written (s->wmode): --h5-write gather as asked;
 * the others probe whether every rank's host shares the output directory.
 * auto picks independent writes there, else gather; independent and
 * collective on a directory that is not shared are an error naming the
 * hosts. Collective; returns JOB_OK, JOB_E_CONFIG or JOB_E_IO (rank 0
 * printed why), the same on every rank. */
static int job_output_mode(job_t *s)
{
    const run_cfg_t *c = s->cfg;
    s->wmode = c->h5_write;
    if (c->h5_write == H5W_GATHER)
        return JOB_OK;
    char dir[4096], hosts[4096], err[512];
    fs_dirname(c->output, dir, sizeof(dir));
    int shared = fs_mpi_dir_probe(dir, hosts, sizeof(hosts), err, sizeof(err));
    if (shared < 0) {
        if (s->rank == 0)
            fs_error("%s", err);
        return JOB_E_IO;
    }
    if (shared == FS_DIR_SHARED) {
        if (s->wmode == H5W_AUTO)
            s->wmode = H5W_INDEPENDENT;
        return JOB_OK;
    }
    if (s->wmode == H5W_AUTO) {
        s->wmode = H5W_GATHER;
        if (s->rank == 0 && !c->quiet)
            fs_info("output directory %s is not shared with host(s) %s: rank 0 writes the whole file "
                    "(--h5-write gather), on its host only", dir, hosts);
        return JOB_OK;
    }
    if (s->rank == 0)
        fs_error("--h5-write %s writes with MPI-IO from every rank and needs an output directory that every "
                 "host shares, but %s on rank 0's host is not the same directory on host(s) %s; use --h5-write "
                 "gather or auto (rank 0 writes the whole file) or a shared file system",
                 h5_write_mode_name(c->h5_write), dir, hosts);
    return JOB_E_CONFIG;
}

/* Buffers for one batch (ids twice: the batch and the ids to fetch). */
int job_start(job_t *s, const char *command_line)
{
    const run_cfg_t *c = s->cfg;
    size_t b = (size_t)c->batch;
    char err[512];
    s->cmdline = command_line;
    s->ids = xmalloc(2 * b * sizeof(*s->ids));
    s->ids_next = xmalloc(b * sizeof(*s->ids_next));
    s->slots = xmalloc(b * sizeof(*s->slots));
    s->res = xmalloc(b * sizeof(*s->res));
    s->prev = xmalloc(b * sizeof(*s->prev));
    s->found = xmalloc(b * sizeof(*s->found));
    s->rehearsed = xcalloc(b, sizeof(*s->rehearsed));
    s->work = mc_work_new();
    s->port = portfolio_new((pf_group_t)c->group_by);
    int status = job_output_mode(s);
    if (status != JOB_OK)
        return status;
    s->out = h5out_create(c->output, MPI_COMM_WORLD, s->total, s->wmode, err, sizeof(err));
    if (!s->out) {
        if (s->rank == 0)
            fs_error("%s", err);
        return JOB_E_IO;
    }
    if (s->rank == 0 && c->events_path) {
        s->events = fopen(c->events_path, "a");
        if (!s->events)
            fs_warn("cannot open events file %s: %s (continuing without)", c->events_path, strerror(errno));
    }
    s->tty = s->rank == 0 && isatty(2);
    if (s->rank == 0 && !c->quiet)
        fs_info("run: %lld trades on %d rank%s, %s, %s schedule, store %s, output %s (%s writes)",
                (long long)s->total, s->nranks, s->nranks > 1 ? "s" : "", mc_algo_name(c->mo.algo),
                c->schedule == RUN_DYNAMIC ? "dynamic" : "static", store_describe(s->st), c->output,
                h5_write_mode_name(s->wmode));
    job_events_write(s, "\"event\":\"start\",\"trades\":%" PRId64 ",\"ranks\":%d,\"algorithm\":\"%s\"", s->total,
                     s->nranks, mc_algo_name(c->mo.algo));
    return JOB_OK;
}

/* Everything a job holds, in reverse order of job_open / job_start. */
void job_close(job_t *s)
{
    if (!s)
        return;
    if (s->events)
        fclose(s->events);
    job_progress_drop(s);
    h5out_abort(s->out);
    outlock_release(s->lock); /* after the output is closed */
    mc_work_free(s->work);
    portfolio_free(s->port);
    free(s->ids);
    free(s->ids_next);
    free(s->slots);
    free(s->res);
    free(s->prev);
    free(s->found);
    free(s->rehearsed);
    tl_free(&s->list);
    store_close(s->st);
    free(s);
}
