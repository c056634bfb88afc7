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

#include <hdf5.h>
#include <mpi.h>

#include "finsim/base/options.h"
#include "finsim/base/util.h"
#include "finsim/cmd/exit.h"
#include "finsim/cmd/settings.h"
#include "finsim/output/portfolio.h"
#include "finsim/trade/result_h5.h"

#define BLOCK 65536 /* rows read at a time */

typedef struct rfile {
    const char *path;
    hid_t f, ds, mt;
    int64_t n;          /* rows */
    int version;        /* format_version, 1 when absent */
} rfile_t;

/* Attribute name of obj as text into buf (string or integer); "" when absent. */
static void attr_text(hid_t obj, const char *name, char *buf, size_t n)
{
    buf[0] = 0;
    if (H5Aexists(obj, name) <= 0)
        return;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    if (H5Tget_class(t) == H5T_INTEGER) {
        int64_t v = 0;
        uint64_t u = 0;
        if (H5Tget_sign(t) == H5T_SGN_NONE && H5Aread(a, H5T_NATIVE_UINT64, &u) >= 0)
            snprintf(buf, n, "%llu", (unsigned long long)u);
        else if (H5Aread(a, H5T_NATIVE_INT64, &v) >= 0)
            snprintf(buf, n, "%lld", (long long)v);
    } else if (H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t)) {
        size_t sz = H5Tget_size(t);
        char *tmp = xcalloc(sz + 1, 1);
        if (H5Aread(a, t, tmp) >= 0)
            snprintf(buf, n, "%s", tmp);
        free(tmp);
    }
    H5Tclose(t);
    H5Aclose(a);
}

/* Open path and its /results. Returns 0, or FS_EXIT_IO with the reason printed. */
static int rfile_open(rfile_t *r, const char *path)
{
    memset(r, 0, sizeof(*r));
    r->path = path;
    r->f = r->ds = r->mt = H5I_INVALID_HID;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return fs_error("results: cannot read %s: %s", path, strerror(errno)), FS_EXIT_IO;
    fclose(probe);
    if (H5Fis_hdf5(path) <= 0 || (r->f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        return fs_error("results: %s is not an HDF5 file", path), FS_EXIT_IO;
    if (H5Lexists(r->f, "results", H5P_DEFAULT) <= 0 || (r->ds = H5Dopen2(r->f, "results", H5P_DEFAULT)) < 0 ||
        (r->mt = result_h5_read_type(r->ds)) < 0)
        return fs_error("results: %s is not a finsim results file (no readable /results)", path), FS_EXIT_IO;
    hid_t sp = H5Dget_space(r->ds);
    hsize_t dims[1] = {0};
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    r->n = (int64_t)dims[0];
    char v[32];
    attr_text(r->f, "format_version", v, sizeof(v));
    r->version = v[0] ? atoi(v) : 1;
    return 0;
}

static void rfile_close(rfile_t *r)
{
    if (r->mt >= 0)
        H5Tclose(r->mt);
    if (r->ds >= 0)
        H5Dclose(r->ds);
    if (r->f >= 0)
        H5Fclose(r->f);
}

typedef int (*row_fn)(void *ctx, const result_t *r);

/* Call fn for every row, in file (trade id) order. Returns 0, -1 when a
 * read failed (printed), or what fn returned when not 0. */
static int rfile_each(const rfile_t *r, row_fn fn, void *ctx)
{
    result_t *buf = xmalloc(sizeof(result_t) * BLOCK);
    int rc = 0;
    for (int64_t off = 0; off < r->n && !rc; off += BLOCK) {
        hsize_t start[1] = {(hsize_t)off}, count[1] = {(hsize_t)(r->n - off < BLOCK ? r->n - off : BLOCK)};
        hid_t fs = H5Dget_space(r->ds), ms = H5Screate_simple(1, count, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        if (H5Dread(r->ds, r->mt, ms, fs, H5P_DEFAULT, buf) < 0) {
            fs_error("results: reading rows %lld.. of %s failed", (long long)off, r->path);
            rc = -1;
        }
        for (hsize_t i = 0; !rc && i < count[0]; i++)
            rc = fn(ctx, &buf[i]);
        H5Sclose(ms);
        H5Sclose(fs);
    }
    free(buf);
    return rc;
}

/* ---- --summary ---------------------------------------------------------------------- */

static int add_row(void *ctx, const result_t *r)
{
    portfolio_add(ctx, NULL, r);
    return 0;
}

/* The file's facts, then /portfolio, or (format 1) the total from /results. */
static int show_summary(const rfile_t *r)
{
    char alg[64], ntr[32], nf[32], sums[32];
    attr_text(r->f, "algorithm", alg, sizeof(alg));
    attr_text(r->f, "trades", ntr, sizeof(ntr));
    attr_text(r->f, "failed", nf, sizeof(nf));
    attr_text(r->f, "checksum", sums, sizeof(sums));
    printf("file           : %s (format %d)\n", r->path, r->version);
    printf("algorithm      : %s\n", alg[0] ? alg : "?");
    printf("trades         : %s (failed %s)\n", ntr[0] ? ntr : "?", nf[0] ? nf : "?");
    printf("checksum       : %s\n", sums[0] ? sums : "?");
    if (H5Lexists(r->f, "portfolio", H5P_DEFAULT) > 0 && H5Lexists(r->f, "portfolio/totals", H5P_DEFAULT) > 0) {
        hid_t g = H5Gopen2(r->f, "portfolio", H5P_DEFAULT);
        char by[32];
        attr_text(g, "group_by", by, sizeof(by));
        hid_t d = H5Dopen2(g, "totals", H5P_DEFAULT);
        hid_t sp = H5Dget_space(d);
        hsize_t n = 0;
        H5Sget_simple_extent_dims(sp, &n, NULL);
        pf_row_t *rows = xcalloc(n ? n : 1, sizeof(*rows));
        hid_t rt = portfolio_row_type();
        int ok = H5Dread(d, rt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0;
        H5Tclose(rt);
        H5Sclose(sp);
        H5Dclose(d);
        /* counts by status: the enum member read as the code */
        int64_t counts[FS_STATUS_COUNT] = {0};
        int have_counts = 0;
        if (ok && H5Lexists(g, "status_counts", H5P_DEFAULT) > 0) {
            struct { int32_t status; int64_t trades; } sc[FS_STATUS_COUNT + 1];
            hid_t st = H5Tcreate(H5T_COMPOUND, sizeof(sc[0]));
            hid_t et = result_h5_status_type();
            H5Tinsert(st, "status", HOFFSET(__typeof__(sc[0]), status), et);
            H5Tinsert(st, "trades", HOFFSET(__typeof__(sc[0]), trades), H5T_NATIVE_INT64);
            hid_t cd = H5Dopen2(g, "status_counts", H5P_DEFAULT);
            hid_t csp = H5Dget_space(cd);
            hsize_t cn = 0;
            H5Sget_simple_extent_dims(csp, &cn, NULL);
            if (cn <= FS_STATUS_COUNT + 1 && H5Dread(cd, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, sc) >= 0) {
                have_counts = 1;
                for (hsize_t i = 0; i < cn; i++)
                    if (sc[i].status >= 0 && sc[i].status < FS_STATUS_COUNT)
                        counts[sc[i].status] = sc[i].trades;
            }
            H5Sclose(csp);
            H5Dclose(cd);
            H5Tclose(et);
            H5Tclose(st);
        }
        H5Gclose(g);
        if (!ok) {
            free(rows);
            return fs_error("results: reading /portfolio of %s failed", r->path), FS_EXIT_IO;
        }
        portfolio_print_rows(stdout, by[0] ? by : "?", rows, (int)n, have_counts ? counts : NULL);
        free(rows);
        return 0;
    }
    /* format 1: no /portfolio; the same exact sums over /results */
    portfolio_t *p = portfolio_new(PF_BY_NONE);
    int rc = rfile_each(r, add_row, p);
    if (rc == 0) {
        portfolio_reduce(p, MPI_COMM_SELF);
        int n;
        const pf_row_t *rows = portfolio_rows(p, &n);
        portfolio_print_rows(stdout, "none (computed from /results: the file has no /portfolio)", rows, n,
                             portfolio_status_counts(p));
    }
    portfolio_free(p);
    return rc ? FS_EXIT_IO : 0;
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

static int show_failed(const rfile_t *r)
{
    int64_t n = 0;
    printf("trade_id,status,status_name,message\n");
    int rc = rfile_each(r, failed_row, &n);
    fprintf(stderr, "finsim: results: %lld failed trade%s in %s\n", (long long)n, n == 1 ? "" : "s", r->path);
    return rc ? FS_EXIT_IO : 0;
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

static int show_top(const rfile_t *r, int64_t n, int by)
{
    static const char *const names[] = {"pv", "delta", "vega"};
    top_t t = {.by = by, .n = n < r->n ? n : (r->n ? r->n : 1)};
    t.best = xcalloc((size_t)t.n, sizeof(result_t));
    int rc = rfile_each(r, top_row, &t);
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
    return rc ? FS_EXIT_IO : 0;
}

/* ---- --csv ---------------------------------------------------------------------------- */

static int csv_row(void *ctx, const result_t *r)
{
    result_csv_row(ctx, r);
    return 0;
}

static int show_csv(const rfile_t *r, const char *out)
{
    int to_stdout = !strcmp(out, "-");
    FILE *f = to_stdout ? stdout : fopen(out, "w");
    if (!f)
        return fs_error("results: cannot write %s: %s", out, strerror(errno)), FS_EXIT_IO;
    fprintf(f, "%s\n", RESULT_CSV_HEADER);
    int rc = rfile_each(r, csv_row, f);
    int werr = ferror(f) || fflush(f) != 0;
    if (!to_stdout)
        werr |= fclose(f) != 0;
    if (werr)
        return fs_error("results: writing %s failed: %s", out, strerror(errno)), FS_EXIT_IO;
    return rc ? FS_EXIT_IO : 0;
}

/* finsim results: see settings_results. Returns an fs_exit code. */
int cmd_results(int argc, char **argv)
{
    results_cfg_t c;
    opt_sources_t src;
    memset(&c, 0, sizeof(c));
    int pr = settings_parse(&settings_results, &c, argc, argv, &src);
    if (pr != 0) {
        if (pr == OPTS_HELP)
            opts_usage(&settings_results, stdout);
        opts_sources_free(&src);
        return pr == OPTS_HELP ? FS_EXIT_OK : FS_EXIT_USAGE;
    }
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
    rfile_t r;
    int rc = rfile_open(&r, argv[optind]);
    if (!rc && (c.summary || (!c.csv && !c.failed && !c.top)))
        rc = show_summary(&r);
    if (!rc && c.failed)
        rc = show_failed(&r);
    if (!rc && c.top)
        rc = show_top(&r, c.top, c.top_by);
    if (!rc && c.csv)
        rc = show_csv(&r, c.csv);
    rfile_close(&r);
    opts_sources_free(&src);
    fflush(stdout);
    return rc;
}
