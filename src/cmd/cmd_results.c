/* cmd_results.c - finsim results: read a results file of finsim run (format
 * 1 or 2, docs/OUTPUT-FORMAT.md) and show the portfolio totals, the failed
 * trades, the largest contributors, or /results as CSV. The file is read
 * in blocks of rows, so its size does not bound memory. */
#define _GNU_SOURCE
#include "finsim/cmd/cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "finsim/base/options.h"
#include "finsim/base/util.h"
#include "finsim/cmd/exit.h"
#include "finsim/cmd/settings.h"
#include "finsim/output/portfolio.h"
#include "finsim/output/resfile.h"

/* ---- --summary ---------------------------------------------------------------------- */

static int add_row(void *ctx, const result_t *r)
{
    portfolio_add(ctx, NULL, r);
    return 0;
}

/* Call fn for every row; FS_EXIT_IO (printed) when a read failed. */
static int each(const resfile_t *r, int (*fn)(void *, const result_t *), void *ctx)
{
    char err[512];
    if (resfile_each(r, fn, ctx, err, sizeof(err)) != 0)
        return fs_error("results: %s", err), FS_EXIT_IO;
    return 0;
}

/* The file's facts, then /portfolio, or (format 1) the total from /results. */
static int show_summary(const resfile_t *r, const char *path)
{
    char alg[64], ntr[32], nf[32], sums[32];
    resfile_attr(r, "algorithm", alg, sizeof(alg));
    resfile_attr(r, "trades", ntr, sizeof(ntr));
    resfile_attr(r, "failed", nf, sizeof(nf));
    resfile_attr(r, "checksum", sums, sizeof(sums));
    printf("file           : %s (format %d)\n", path, resfile_version(r));
    printf("algorithm      : %s\n", alg[0] ? alg : "?");
    printf("trades         : %s (failed %s)\n", ntr[0] ? ntr : "?", nf[0] ? nf : "?");
    printf("checksum       : %s\n", sums[0] ? sums : "?");
    char by[64] = "";
    pf_row_t *rows;
    int n, have_counts;
    int64_t counts[FS_STATUS_COUNT];
    int got = resfile_portfolio(r, by, sizeof(by), &rows, &n, counts, &have_counts);
    if (got < 0)
        return fs_error("results: reading /portfolio of %s failed", path), FS_EXIT_IO;
    if (got > 0) {
        portfolio_print_rows(stdout, by[0] ? by : "?", rows, n, have_counts ? counts : NULL);
        free(rows);
        return 0;
    }
    /* format 1: no /portfolio; the same exact sums over /results */
    portfolio_t *p = portfolio_new(PF_BY_NONE);
    int rc = each(r, add_row, p);
    if (rc == 0) {
        portfolio_reduce(p, MPI_COMM_SELF);
        const pf_row_t *tot = portfolio_rows(p, &n);
        portfolio_print_rows(stdout, "none (computed from /results: the file has no /portfolio)", tot, n,
                             portfolio_status_counts(p));
    }
    portfolio_free(p);
    return rc;
}

/* ---- --failed ------------------------------------------------------------------------- */

static int failed_row(void *ctx, const result_t *r)
{
    if (r->status == FS_OK)
        return 0;
    ++*(int64_t *)ctx;
    printf("%lld,%d,%s,\"%s\"\n", (long long)r->trade_id, (int)r->status,
           r->status == -1 ? "unwritten" : fs_status_name(r->status), fs_status_text(r->status));
    return 0;
}

static int show_failed(const resfile_t *r, const char *path)
{
    int64_t n = 0;
    printf("trade_id,status,status_name,message\n");
    int rc = each(r, failed_row, &n);
    fprintf(stderr, "finsim: results: %lld failed trade%s in %s\n", (long long)n, n == 1 ? "" : "s", path);
    return rc;
}

/* ---- --top ---------------------------------------------------------------------------- */

typedef struct top {
    int by;             /* 0 pv, 1 delta, 2 vega */
    int64_t n, have;
    result_t *best;     /* n slots, largest |figure| first, ties by trade id */
    double total;       /* the figure summed over the priced trades (for shares) */
} top_t;

static double top_fig(const top_t *t, const result_t *r, double *se)
{
    double v[3] = {r->pv, r->delta, r->vega}, s[3] = {r->pv_stderr, r->delta_stderr, r->vega_stderr};
    if (se)
        *se = s[t->by];
    return v[t->by];
}

/* Does a rank before b? */
static int top_before(const top_t *t, const result_t *a, const result_t *b)
{
    double x = fabs(top_fig(t, a, NULL)), y = fabs(top_fig(t, b, NULL));
    return x > y || (x == y && a->trade_id < b->trade_id);
}

static int top_row(void *ctx, const result_t *r)
{
    top_t *t = ctx;
    double v = top_fig(t, r, NULL);
    if (r->status != FS_OK || !isfinite(v))
        return 0;
    t->total += v;
    if (t->have == t->n && !top_before(t, r, &t->best[t->n - 1]))
        return 0;
    int64_t i = t->have < t->n ? t->have++ : t->n - 1;
    while (i > 0 && top_before(t, r, &t->best[i - 1])) {
        t->best[i] = t->best[i - 1];
        i--;
    }
    t->best[i] = *r;
    return 0;
}

static int show_top(const resfile_t *r, int64_t n, int by)
{
    static const char *const names[] = {"pv", "delta", "vega"};
    int64_t rows = resfile_rows(r);
    top_t t = {.by = by, .n = n < rows ? n : (rows ? rows : 1)};
    t.best = xcalloc((size_t)t.n, sizeof(result_t));
    int rc = each(r, top_row, &t);
    if (!rc) {
        printf("top %lld by |%s| (share of the portfolio %s %.10g)\n", (long long)t.have, names[by], names[by],
               t.total);
        printf("%4s %12s %24s %14s %9s\n", "#", "trade_id", names[by], "stderr", "share");
        for (int64_t i = 0; i < t.have; i++) {
            double se, v = top_fig(&t, &t.best[i], &se);
            printf("%4lld %12lld %24.12g %14.6g %8.2f%%\n", (long long)(i + 1), (long long)t.best[i].trade_id, v,
                   se, t.total != 0 ? 100.0 * v / t.total : 0.0);
        }
        if (!t.have)
            printf("(no priced trade has a %s)\n", names[by]);
    }
    free(t.best);
    return rc;
}

/* ---- --csv ---------------------------------------------------------------------------- */

static int csv_row(void *ctx, const result_t *r)
{
    result_csv_row(ctx, r);
    return 0;
}

static int show_csv(const resfile_t *r, const char *out)
{
    int to_stdout = !strcmp(out, "-");
    FILE *f = to_stdout ? stdout : fopen(out, "w");
    if (!f)
        return fs_error("results: cannot write %s: %s", out, strerror(errno)), FS_EXIT_IO;
    fprintf(f, "%s\n", RESULT_CSV_HEADER);
    int rc = each(r, csv_row, f);
    int werr = ferror(f) || fflush(f) != 0;
    if (!to_stdout)
        werr |= fclose(f) != 0;
    if (werr)
        return fs_error("results: writing %s failed: %s", out, strerror(errno)), FS_EXIT_IO;
    return rc;
}

/* A signals file of finsim screen: its counts, the first N signals (the
 * file is ranked: edge descending), the rows as CSV (signals_write_csv). */
static int show_signals(const resfile_t *r, const char *path, const results_cfg_t *c)
{
    signal_rec_t *s;
    size_t n;
    char err[512];
    if (resfile_signals(r, &s, &n, err, sizeof(err)) != 0)
        return fs_error("results: %s", err), FS_EXIT_IO;
    int rc = 0;
    if (c->summary || c->failed || (!c->csv && !c->top)) {
        static const char *const counts[] = {"trades", "joined", "unquoted", "absent", "failed", "selected"};
        char alg[64], v[32];
        resfile_attr(r, "algorithm", alg, sizeof(alg));
        printf("file           : %s (signals of finsim screen)\n", path);
        printf("algorithm      : %s\n", alg[0] ? alg : "?");
        for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
            resfile_attr(r, counts[i], v, sizeof(v));
            printf("%-15s: %s\n", counts[i], v[0] ? v : "?");
        }
        printf("signals        : %zu rows\n", n);
    }
    if (c->top) {
        printf("top %lld signals by edge\n%4s %12s %16s %16s %12s %10s\n", (long long)c->top, "#", "trade_id",
               "quote", "model_value", "edge", "z");
        for (size_t i = 0; i < n && (int64_t)i < c->top; i++)
            printf("%4zu %12lld %16.10g %16.10g %12.6g %10.4g\n", i + 1, (long long)s[i].trade_id, s[i].quote,
                   s[i].model_value, s[i].edge, s[i].z);
    }
    if (c->csv && signals_write_csv(c->csv, s, n, err, sizeof(err)) != 0) {
        fs_error("results: %s", err);
        rc = FS_EXIT_IO;
    }
    free(s);
    return rc;
}

/* finsim results: see settings_results. Returns an fs_exit code. */
int cmd_results(int argc, char **argv)
{
    results_cfg_t c;
    opt_sources_t src;
    memset(&c, 0, sizeof(c));
    int pr = settings_parse_cmd(&settings_results, &c, argc, argv, &src);
    if (pr >= 0)
        return opts_sources_free(&src), pr;
    argc = src.layers.argc;
    argv = src.layers.argv;
    if (optind != argc - 1) {
        fs_error(optind >= argc ? "results: give one results file (FILE.h5)"
                                : "results: give one results file; unexpected argument '%s'",
                 optind < argc ? argv[optind + 1] : "");
        opts_usage(&settings_results, stderr);
        opts_sources_free(&src);
        return FS_EXIT_USAGE;
    }
    const char *path = argv[optind];
    char err[512];
    resfile_t *r = resfile_open(path, err, sizeof(err));
    int rc = r ? 0 : FS_EXIT_IO;
    if (!r)
        fs_error("results: %s", err);
    if (!rc && resfile_kind(r) == RESFILE_SIGNALS) {
        rc = show_signals(r, path, &c);
        resfile_close(r);
        opts_sources_free(&src);
        fflush(stdout);
        return rc;
    }
    if (!rc && (c.summary || (!c.csv && !c.failed && !c.top)))
        rc = show_summary(r, path);
    if (!rc && c.failed)
        rc = show_failed(r, path);
    if (!rc && c.top)
        rc = show_top(r, c.top, c.top_by);
    if (!rc && c.csv)
        rc = show_csv(r, c.csv);
    resfile_close(r);
    opts_sources_free(&src);
    fflush(stdout);
    return rc;
}
