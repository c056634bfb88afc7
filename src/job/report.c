/* report.c - the end of a job: telemetry of every rank, the checksum,
 * provenance attributes of the output file, the printed report, events. */
#include <inttypes.h>
#include <math.h>
#include <mpi.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "finsim/base/config_build.h"
#include "finsim/base/util.h"
#include "finsim/trade/result_h5.h"
#include "job_int.h"

/* What every rank knows after the gather. */
typedef struct totals {
    h5out_telemetry_t *tel;  /* one row per rank (malloc'ed) */
    uint64_t checksum;       /* sum of the result hashes of all ranks */
    int64_t priced, failed, skipped, stale, paths;
    char hosts[1024];        /* unique host names, comma separated */
    int nhosts;
    time_t t_end;            /* rank 0's end time */
    double t_end_mono;
    char t0s[32], t1s[32];   /* start and end, ISO 8601 */
    char sums[32];           /* checksum, 16 hex digits */
} totals_t;

/* t as UTC ISO 8601 (2026-01-31T12:00:00Z) into buf[n]. */
static void iso_time(char *buf, size_t n, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* This process's peak resident set size in KiB (getrusage). */
static int64_t peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)ru.ru_maxrss;
}

/* min, mean and max over n ranks of the double at offset off of the rows */
static void phase_stats(const h5out_telemetry_t *tel, int n, size_t off, double *mn, double *mean, double *mx)
{
    *mn = INFINITY;
    *mx = -INFINITY;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double v = *(const double *)((const char *)&tel[i] + off);
        sum += v;
        if (v < *mn)
            *mn = v;
        if (v > *mx)
            *mx = v;
    }
    *mean = sum / n;
}

/* This rank's telemetry row: phase seconds, collective-write fallbacks. */
static void fill_telemetry(job_t *s)
{
    s->tel.parse_s = store_stats(s->st)->parse_s;
    s->tel.fetch_s = store_stats(s->st)->fetch_s - store_stats(s->st)->parse_s;
    s->tel.compute_s = s->compute_s;
    s->tel.mirror_s = s->mirror_s;
    s->tel.write_s = h5out_write_seconds(s->out);
    uint32_t fb_cause = 0;
    int64_t fallbacks = h5out_collective_fallbacks(s->out, &fb_cause);
    if (fallbacks)
        fs_warn("rank %d: HDF5 carried out %lld of the collective writes as independent ones "
                "(H5Pget_mpio_no_collective_cause: 0x%x)", s->rank, (long long)fallbacks, (unsigned)fb_cause);
    s->tel.total_s = fs_now() - s->t_start;
    s->tel.peak_rss_kb = peak_rss_kb();
}

/* Unique host names from the telemetry, identical on every rank. */
static void collect_hosts(totals_t *t, int nranks)
{
    for (int r = 0; r < nranks; r++) {
        int seen = 0;
        for (int q = 0; q < r; q++)
            seen |= strcmp(t->tel[q].host, t->tel[r].host) == 0;
        if (seen)
            continue;
        t->nhosts++;
        if (strlen(t->hosts) + strlen(t->tel[r].host) + 2 < sizeof(t->hosts)) {
            if (t->hosts[0])
                strcat(t->hosts, ",");
            strcat(t->hosts, t->tel[r].host);
        }
    }
}

/* Collective: every rank's telemetry, the checksum, counts, hosts, times. */
static void gather(job_t *s, totals_t *t)
{
    memset(t, 0, sizeof(*t));
    fill_telemetry(s);
    t->tel = xmalloc(sizeof(*t->tel) * (size_t)s->nranks);
    MPI_Allgather(&s->tel, (int)sizeof(s->tel), MPI_BYTE, t->tel, (int)sizeof(s->tel), MPI_BYTE, MPI_COMM_WORLD);
    MPI_Allreduce(&s->checksum, &t->checksum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    for (int r = 0; r < s->nranks; r++) {
        t->priced += t->tel[r].priced;
        t->failed += t->tel[r].failed;
        t->skipped += t->tel[r].skipped;
        t->stale += t->tel[r].stale;
        t->paths += t->tel[r].paths;
    }
    collect_hosts(t, s->nranks);
    t->t_end_mono = fs_now();
    t->t_end = time(NULL);
    MPI_Bcast(&s->t_begin, (int)sizeof(s->t_begin), MPI_BYTE, 0, MPI_COMM_WORLD);
    MPI_Bcast(&t->t_end, (int)sizeof(t->t_end), MPI_BYTE, 0, MPI_COMM_WORLD);
    iso_time(t->t0s, sizeof(t->t0s), s->t_begin);
    iso_time(t->t1s, sizeof(t->t1s), t->t_end);
    snprintf(t->sums, sizeof(t->sums), "%016llx", (unsigned long long)t->checksum);
}

/* h5out_on_finish: the portfolio totals into the results file. */
static int write_portfolio(void *port, hid_t file)
{
    return portfolio_write(port, file, MPI_COMM_WORLD);
}

/* Collective: the provenance attributes, telemetry and checksum into the
 * output file, closed and renamed. Returns 0 or -1 (rank 0 printed why);
 * *finish_s gets the seconds it took. */
static int finish_output(job_t *s, const totals_t *t, const char *config, double *finish_s)
{
    const run_cfg_t *c = s->cfg;
    char err[512];
    /* numbers as numbers (format 2); value NULL selects num */
    const h5out_attr_t attrs[] = {
        {"format_version", NULL, RESULT_H5_FORMAT_VERSION, 0},
        {"finsim_version", FINSIM_VERSION, 0, 0},
        {"command_line", s->cmdline, 0, 0},
        {"algorithm", mc_algo_name(c->mo.algo), 0, 0},
        {"kernel", mc_kernel_name(c->mo.kernel), 0, 0},
        {"seed", NULL, c->mo.seed, 1},
        {"paths", NULL, (uint64_t)c->mo.paths, 0},
        {"ranks", NULL, (uint64_t)s->nranks, 0},
        {"hosts", t->hosts, 0, 0},
        {"start_time", t->t0s, 0, 0},
        {"end_time", t->t1s, 0, 0},
        {"config", config, 0, 0},
        {"checksum", t->sums, 0, 0},
        {"trades", NULL, (uint64_t)s->total, 0},
        {"failed", NULL, (uint64_t)t->failed, 0},
        {"stale", NULL, (uint64_t)t->stale, 0},
        {"kernel_version", NULL, MC_KERNEL_VERSION, 0},
        {"fp_flavour", mc_fp_flavour(), 0, 0},
    };
    /* /portfolio: metadata on every rank that holds the file, written by
     * h5out_finish once it knows there is room to close the file */
    portfolio_reduce(s->port, MPI_COMM_WORLD);
    h5out_on_finish(s->out, write_portfolio, s->port);
    double tw = fs_now();
    int frc = h5out_finish(s->out, t->tel, s->nranks, attrs, (int)(sizeof(attrs) / sizeof(attrs[0])), t->checksum,
                           err, sizeof(err));
    s->out = NULL;
    *finish_s = fs_now() - tw;
    if (frc == H5OUT_UNFINISHABLE) {
        /* the file is left open inside HDF5, which must not see it again
         * (it would try to close it at exit): end the job here, after the
         * mirror is flushed and the output's lock dropped on every rank */
        job_abandon(s);
        MPI_Barrier(MPI_COMM_WORLD);
        if (s->rank == 0) {
            fs_error("%s", err);
            fs_error("stopping the job (exit %d); %s", H5OUT_ABORT_STATUS,
                     c->mirror ? "every result is mirrored: rerun with --resume and an --output with room"
                               : "without a mirror (--no-mirror) a rerun prices every trade again");
            fflush(NULL);
            MPI_Abort(MPI_COMM_WORLD, H5OUT_ABORT_STATUS);
        }
        MPI_Barrier(MPI_COMM_WORLD); /* never completes: rank 0 aborts the job */
    }
    if (frc != 0 && s->rank == 0)
        fs_error("%s", err);
    return frc != 0 ? -1 : 0;
}

/* The phase table: min, mean and max seconds over the ranks. */
static void print_phases(const totals_t *t, int nranks)
{
    printf("phase seconds        min       mean        max\n");
    static const struct { const char *name; size_t off; } ph[] = {
        {"fetch", offsetof(h5out_telemetry_t, fetch_s)},
        {"parse", offsetof(h5out_telemetry_t, parse_s)},
        {"compute", offsetof(h5out_telemetry_t, compute_s)},
        {"mirror", offsetof(h5out_telemetry_t, mirror_s)},
        {"write", offsetof(h5out_telemetry_t, write_s)},
        {"total", offsetof(h5out_telemetry_t, total_s)},
    };
    for (size_t i = 0; i < sizeof(ph) / sizeof(ph[0]); i++) {
        double mn, mean, mx;
        phase_stats(t->tel, nranks, ph[i].off, &mn, &mean, &mx);
        printf("  %-12s %10.3f %10.3f %10.3f\n", ph[i].name, mn, mean, mx);
    }
}

/* Wall time, throughput, load imbalance and memory. */
static void print_performance(const job_t *s, const totals_t *t, double wall)
{
    double busy_max = 0, busy_sum = 0;
    int64_t rss_max = 0;
    for (int r = 0; r < s->nranks; r++) {
        const h5out_telemetry_t *x = &t->tel[r];
        double busy = x->fetch_s + x->parse_s + x->compute_s + x->mirror_s + x->write_s;
        busy_sum += busy;
        if (busy > busy_max)
            busy_max = busy;
        rss_max = x->peak_rss_kb > rss_max ? x->peak_rss_kb : rss_max;
    }
    printf("wall time      : %.3f s\n", wall);
    printf("throughput     : %.1f trades/s, %.4g paths/s\n", wall > 0 ? (double)s->total / wall : 0,
           wall > 0 ? (double)t->paths / wall : 0);
    printf("load imbalance : %.3f (max/mean busy time over ranks)\n",
           busy_sum > 0 ? busy_max / (busy_sum / s->nranks) : 1.0);
    printf("peak RSS       : %.1f MB (largest rank)\n", (double)rss_max / 1024.0);
}

/* Rank 0: the report on stdout, ending with the RESULT line. status is the
 * outcome so far (JOB_OK or JOB_E_IO); returns the final one. */
static int print_report(job_t *s, const totals_t *t, double wall, int status)
{
    const run_cfg_t *c = s->cfg;
    char pathss[32];
    snprintf(pathss, sizeof(pathss), "%lld", (long long)c->mo.paths);
    printf("\n==== finsim %s run report ====\n", FINSIM_VERSION);
    printf("command        : %s\n", s->cmdline);
    printf("started        : %s   finished: %s\n", t->t0s, t->t1s);
    printf("ranks          : %d on %d host%s (%s)\n", s->nranks, t->nhosts, t->nhosts > 1 ? "s" : "", t->hosts);
    printf("store          : %s\n", store_describe(s->st));
    printf("algorithm      : %s, kernel %s, seed %llu, paths %s\n", mc_algo_name(c->mo.algo),
           mc_kernel_name(c->mo.kernel), (unsigned long long)c->mo.seed, c->mo.paths > 0 ? pathss : "from each trade");
    printf("schedule       : %s%s\n", c->schedule == RUN_DYNAMIC ? "dynamic" : "static",
           c->schedule == RUN_STATIC ? (c->balance == RUN_BALANCE_COST ? " (cost-balanced)" : " (by count)") : "");
    printf("trades         : %lld (priced %lld, failed %lld, resumed %lld)\n", (long long)s->total,
           (long long)t->priced, (long long)t->failed, (long long)t->skipped);
    if (t->stale)
        printf("stale mirror   : %lld mirrored results were for other inputs (seed, algorithm, kernel,\n"
               "                 paths, trade fields or finsim build) or did not match their digest,\n"
               "                 and were priced again\n", (long long)t->stale);
    print_phases(t, s->nranks);
    print_performance(s, t, wall);
    printf("output         : %s%s\n", c->output,
           s->wmode == H5W_COLLECTIVE ? " (collective MPI-IO writes)"
           : s->wmode == H5W_GATHER   ? " (gathered: written by rank 0 alone)" : "");
    printf("checksum       : %s\n", t->sums);
    if (!status)
        portfolio_print(s->port, stdout);
    if (c->have_expect && c->expect_checksum != t->checksum) {
        printf("RESULT: CHECKSUM MISMATCH (expected %016llx)\n", (unsigned long long)c->expect_checksum);
        if (!status)
            status = JOB_E_CHECKSUM;
    } else if (status) {
        printf("RESULT: FAILED (output not complete)\n");
    } else if (t->failed) {
        printf("RESULT: %lld TRADES FAILED (see status in %s)\n", (long long)t->failed, c->output);
        status = JOB_TRADES_FAILED;
    } else {
        printf("RESULT: OK%s\n", c->have_expect ? " (checksum verified)" : "");
    }
    fflush(stdout);
    return status;
}

/* Gather, finish the output, then rank 0 reports; the totals are kept for
 * the end event. */
int job_report(job_t *s, const char *config)
{
    totals_t t;
    gather(s, &t);
    double finish_s = 0;
    int status = finish_output(s, &t, config, &finish_s) != 0 ? JOB_E_IO : JOB_OK;
    if (s->rank == 0)
        status = print_report(s, &t, t.t_end_mono - s->t_start + finish_s, status);
    s->end_failed = t.failed;
    snprintf(s->end_sums, sizeof(s->end_sums), "%s", t.sums);
    free(t.tel);
    return status;
}

void job_end(job_t *s, int exit_status)
{
    if (s->rank == 0)
        job_events_write(s, "\"event\":\"end\",\"trades\":%" PRId64 ",\"failed\":%" PRId64
                            ",\"checksum\":\"%s\",\"exit\":%d", s->total, s->end_failed, s->end_sums, exit_status);
}
