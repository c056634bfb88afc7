/* portfolio.c - exact, order-independent portfolio totals (portfolio.h).
 *
 * Each sum is kept as a fixed-point integer of XL limbs of 32 bits (held in
 * int64, so carries can wait): bit 0 weighs 2^-1074, the smallest
 * subnormal, so every finite double is an integer there and adds exactly.
 * Integer sums do not depend on their order, so neither do the totals:
 * ranks combine theirs with MPI_SUM over the limbs. */
#include "finsim/output/portfolio.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "finsim/base/util.h"
#include "finsim/trade/result_h5.h"

#define XL 72             /* limbs: 2304 bits, 2098 needed by one double */
#define XBIAS 1074        /* bit 0 weighs 2^-XBIAS */
#define XNORM (1 << 30)   /* adds between carry propagations (limbs stay below 2^62) */

typedef struct xacc {
    int64_t limb[XL];
} xacc_t;

/* Propagate carries: limbs 0..XL-2 in [0, 2^32), the sign in the top one. */
static void xacc_norm(xacc_t *a)
{
    for (int i = 0; i < XL - 1; i++) {
        int64_t c = a->limb[i] >> 32; /* floor division (arithmetic shift) */
        a->limb[i] -= (int64_t)((uint64_t)c << 32);
        a->limb[i + 1] += c;
    }
}

/* a += x (x finite). */
static void xacc_add(xacc_t *a, double x)
{
    if (x == 0)
        return;
    int e;
    double f = frexp(fabs(x), &e);               /* |x| = f 2^e, f in [0.5, 1) */
    uint64_t m = (uint64_t)ldexp(f, 53);         /* |x| = m 2^(e-53), exactly */
    int pos = e - 53 + XBIAS;
    if (pos < 0) {                               /* subnormal: the low bits are 0 */
        m >>= -pos;
        pos = 0;
    }
    unsigned __int128 v = (unsigned __int128)m << (pos % 32);
    int i = pos / 32;
    int64_t sign = x < 0 ? -1 : 1;
    for (int k = 0; k < 3 && i + k < XL; k++, v >>= 32)
        a->limb[i + k] += sign * (int64_t)(uint64_t)(v & 0xffffffffu);
}

/* The sum rounded to a double: a function of the exact value only. */
static double xacc_value(const xacc_t *in)
{
    xacc_t a = *in;
    xacc_norm(&a);
    double sign = 1;
    if (a.limb[XL - 1] < 0) {
        for (int i = 0; i < XL; i++)
            a.limb[i] = -a.limb[i];
        xacc_norm(&a);
        sign = -1;
    }
    double v = 0;
    for (int i = XL - 1; i >= 0; i--)
        if (a.limb[i])
            v += ldexp((double)a.limb[i], 32 * i - XBIAS);
    return sign * v;
}

/* The sums of one group. */
enum { S_PV, S_PV_VAR, S_DELTA, S_DELTA_VAR, S_VEGA, S_VEGA_VAR, S_N };
enum { C_TRADES, C_PRICED, C_FAILED, C_DELTA, C_VEGA, C_N }; /* counts; C_DELTA/C_VEGA: trades with the Greek */

typedef struct pf_group_acc {
    int64_t key;
    int64_t count[C_N];
    xacc_t sum[S_N];
} pf_acc_t;

#define KEY_UNKNOWN INT64_MIN

struct portfolio {
    pf_group_t by;
    pf_acc_t total;
    pf_acc_t *groups;        /* sorted by key */
    int ngroups, cap;
    int64_t overflow;        /* trades whose group was past PF_MAX_GROUPS */
    int64_t status[FS_STATUS_COUNT];
    int64_t adds;            /* since the last carry propagation */
    /* rank 0 after the reduction */
    pf_row_t *rows;
    int nrows;
};

const char *const portfolio_group_names[] = {"maturity", "end_year", "t_steps", "none", NULL};

/* Maturity buckets: upper bounds in years (the last is open). */
static const double mat_bounds[] = {0.25, 0.5, 1, 2, 5};
static const char *const mat_labels[] = {"maturity<=0.25y", "maturity<=0.5y", "maturity<=1y", "maturity<=2y",
                                         "maturity<=5y", "maturity>5y"};
#define NMAT (sizeof(mat_bounds) / sizeof(mat_bounds[0]))

portfolio_t *portfolio_new(pf_group_t g)
{
    portfolio_t *p = xcalloc(1, sizeof(*p));
    p->by = g;
    return p;
}

void portfolio_free(portfolio_t *p)
{
    if (!p)
        return;
    free(p->groups);
    free(p->rows);
    free(p);
}

static int64_t group_key(const portfolio_t *p, const trade_t *t)
{
    if (!t)
        return KEY_UNKNOWN;
    switch (p->by) {
    case PF_BY_MATURITY: {
        int64_t k = 0;
        while (k < (int64_t)NMAT && t->maturity > mat_bounds[k])
            k++;
        return k;
    }
    case PF_BY_END_YEAR: {
        char *end;
        long y = strtol(t->end_date, &end, 10);
        return end != t->end_date ? y : KEY_UNKNOWN;
    }
    case PF_BY_T_STEPS: return t->t_steps;
    default: return 0;
    }
}

static void group_label(const portfolio_t *p, int64_t key, char *buf, size_t n)
{
    if (key == KEY_UNKNOWN)
        snprintf(buf, n, "unknown");
    else if (p->by == PF_BY_MATURITY)
        snprintf(buf, n, "%s", key >= 0 && key <= (int64_t)NMAT ? mat_labels[key] : "?");
    else if (p->by == PF_BY_END_YEAR)
        snprintf(buf, n, "end_year=%lld", (long long)key);
    else
        snprintf(buf, n, "t_steps=%lld", (long long)key);
}

/* The group of key, created in order; NULL past PF_MAX_GROUPS. */
static pf_acc_t *group_get(portfolio_t *p, int64_t key)
{
    int lo = 0, hi = p->ngroups;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (p->groups[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < p->ngroups && p->groups[lo].key == key)
        return &p->groups[lo];
    if (p->ngroups >= PF_MAX_GROUPS)
        return NULL;
    if (p->ngroups == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 16;
        p->groups = xrealloc(p->groups, (size_t)p->cap * sizeof(*p->groups));
    }
    memmove(&p->groups[lo + 1], &p->groups[lo], (size_t)(p->ngroups - lo) * sizeof(*p->groups));
    memset(&p->groups[lo], 0, sizeof(*p->groups));
    p->groups[lo].key = key;
    p->ngroups++;
    return &p->groups[lo];
}

static void acc_norm(pf_acc_t *a)
{
    for (int k = 0; k < S_N; k++)
        xacc_norm(&a->sum[k]);
}

static void acc_add(pf_acc_t *a, const result_t *r)
{
    a->count[C_TRADES]++;
    if (r->status != FS_OK) {
        a->count[C_FAILED]++;
        return;
    }
    a->count[C_PRICED]++;
    xacc_add(&a->sum[S_PV], r->pv);
    xacc_add(&a->sum[S_PV_VAR], r->pv_stderr * r->pv_stderr);
    if (isfinite(r->delta) && isfinite(r->delta_stderr)) {
        a->count[C_DELTA]++;
        xacc_add(&a->sum[S_DELTA], r->delta);
        xacc_add(&a->sum[S_DELTA_VAR], r->delta_stderr * r->delta_stderr);
    }
    if (isfinite(r->vega) && isfinite(r->vega_stderr)) {
        a->count[C_VEGA]++;
        xacc_add(&a->sum[S_VEGA], r->vega);
        xacc_add(&a->sum[S_VEGA_VAR], r->vega_stderr * r->vega_stderr);
    }
}

void portfolio_add(portfolio_t *p, const trade_t *t, const result_t *r)
{
    if (r->status >= 0 && r->status < FS_STATUS_COUNT)
        p->status[r->status]++;
    if (r->status == FS_OK && !(isfinite(r->pv) && isfinite(r->pv_stderr)))
        return; /* cannot happen: a priced trade has finite figures (FS_E_NUMERIC otherwise) */
    acc_add(&p->total, r);
    if (p->by != PF_BY_NONE) {
        pf_acc_t *g = group_get(p, group_key(p, t));
        if (g)
            acc_add(g, r);
        else
            p->overflow++;
    }
    if (++p->adds >= XNORM) {
        acc_norm(&p->total);
        for (int i = 0; i < p->ngroups; i++)
            acc_norm(&p->groups[i]);
        p->adds = 0;
    }
}

static void row_fill(pf_row_t *row, const pf_acc_t *a)
{
    row->trades = a->count[C_TRADES];
    row->priced = a->count[C_PRICED];
    row->failed = a->count[C_FAILED];
    row->pv = xacc_value(&a->sum[S_PV]);
    row->pv_stderr = sqrt(xacc_value(&a->sum[S_PV_VAR]));
    row->delta = a->count[C_DELTA] ? xacc_value(&a->sum[S_DELTA]) : NAN;
    row->delta_stderr = a->count[C_DELTA] ? sqrt(xacc_value(&a->sum[S_DELTA_VAR])) : NAN;
    row->vega = a->count[C_VEGA] ? xacc_value(&a->sum[S_VEGA]) : NAN;
    row->vega_stderr = a->count[C_VEGA] ? sqrt(xacc_value(&a->sum[S_VEGA_VAR])) : NAN;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Collective: the union of every rank's group keys, sorted, into *keys. */
static int merge_keys(const portfolio_t *p, MPI_Comm comm, int64_t **keys)
{
    int nranks;
    MPI_Comm_size(comm, &nranks);
    int *counts = xmalloc(sizeof(int) * (size_t)nranks), *displs = xmalloc(sizeof(int) * (size_t)nranks);
    MPI_Allgather(&p->ngroups, 1, MPI_INT, counts, 1, MPI_INT, comm);
    int total = 0;
    for (int r = 0; r < nranks; r++) {
        displs[r] = total;
        total += counts[r];
    }
    int64_t *all = xmalloc(sizeof(int64_t) * (size_t)(total ? total : 1));
    int64_t *mine = xmalloc(sizeof(int64_t) * (size_t)(p->ngroups ? p->ngroups : 1));
    for (int i = 0; i < p->ngroups; i++)
        mine[i] = p->groups[i].key;
    MPI_Allgatherv(mine, p->ngroups, MPI_INT64_T, all, counts, displs, MPI_INT64_T, comm);
    qsort(all, (size_t)total, sizeof(int64_t), cmp_i64);
    int n = 0;
    for (int i = 0; i < total; i++)
        if (!n || all[n - 1] != all[i])
            all[n++] = all[i];
    free(mine);
    free(counts);
    free(displs);
    *keys = all;
    return n;
}

void portfolio_reduce(portfolio_t *p, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    int64_t *keys;
    int nk = merge_keys(p, comm, &keys);
    if (nk > PF_MAX_GROUPS)
        nk = PF_MAX_GROUPS; /* the trades of the rest count in the total only */
    /* one block per group after the total: counts, then limbs */
    size_t per = C_N + (size_t)S_N * XL;
    size_t n = per * (size_t)(nk + 1) + FS_STATUS_COUNT + 1;
    int64_t *buf = xcalloc(n, sizeof(int64_t)), *sum = rank == 0 ? xcalloc(n, sizeof(int64_t)) : NULL;
    pf_acc_t *blocks = xcalloc((size_t)nk + 1, sizeof(pf_acc_t));
    blocks[0] = p->total;
    for (int i = 0, j = 0; i < p->ngroups; i++) {
        while (j < nk && keys[j] < p->groups[i].key)
            j++;
        if (j < nk && keys[j] == p->groups[i].key)
            blocks[j + 1] = p->groups[i];
    }
    for (int b = 0; b <= nk; b++) {
        acc_norm(&blocks[b]);
        memcpy(buf + per * (size_t)b, blocks[b].count, sizeof(blocks[b].count));
        for (int k = 0; k < S_N; k++)
            memcpy(buf + per * (size_t)b + C_N + (size_t)k * XL, blocks[b].sum[k].limb, sizeof(int64_t) * XL);
    }
    memcpy(buf + per * (size_t)(nk + 1), p->status, sizeof(p->status));
    buf[n - 1] = p->overflow;
    MPI_Reduce(buf, sum, (int)n, MPI_INT64_T, MPI_SUM, 0, comm);
    if (rank == 0) {
        free(p->rows);
        p->rows = xcalloc((size_t)nk + 1, sizeof(pf_row_t));
        p->nrows = 0;
        for (int b = 0; b <= nk; b++) {
            pf_acc_t a;
            memcpy(a.count, sum + per * (size_t)b, sizeof(a.count));
            for (int k = 0; k < S_N; k++)
                memcpy(a.sum[k].limb, sum + per * (size_t)b + C_N + (size_t)k * XL, sizeof(int64_t) * XL);
            if (b > 0 && !a.count[C_TRADES])
                continue;
            pf_row_t *row = &p->rows[p->nrows++];
            row_fill(row, &a);
            if (b == 0)
                snprintf(row->group, sizeof(row->group), "total");
            else
                group_label(p, keys[b - 1], row->group, sizeof(row->group));
        }
        memcpy(p->status, sum + per * (size_t)(nk + 1), sizeof(p->status));
        p->overflow = sum[n - 1];
        if (p->overflow)
            fs_warn("portfolio totals: more than %d groups; %lld trades count in the total only", PF_MAX_GROUPS,
                    (long long)p->overflow);
    }
    free(blocks);
    free(buf);
    free(sum);
    free(keys);
}

const pf_row_t *portfolio_rows(const portfolio_t *p, int *n)
{
    *n = p->nrows;
    return p->rows;
}

const int64_t *portfolio_status_counts(const portfolio_t *p)
{
    return p->status;
}

hid_t portfolio_row_type(void)
{
    hid_t s = H5Tcopy(H5T_C_S1);
    H5Tset_size(s, PF_LABEL);
    H5Tset_strpad(s, H5T_STR_NULLTERM);
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(pf_row_t));
#define PI(name, field, type) H5Tinsert(t, name, HOFFSET(pf_row_t, field), type)
    PI("group", group, s);
    PI("trades", trades, H5T_NATIVE_INT64);
    PI("priced", priced, H5T_NATIVE_INT64);
    PI("failed", failed, H5T_NATIVE_INT64);
    PI("pv", pv, H5T_NATIVE_DOUBLE);
    PI("pv_stderr", pv_stderr, H5T_NATIVE_DOUBLE);
    PI("delta", delta, H5T_NATIVE_DOUBLE);
    PI("delta_stderr", delta_stderr, H5T_NATIVE_DOUBLE);
    PI("vega", vega, H5T_NATIVE_DOUBLE);
    PI("vega_stderr", vega_stderr, H5T_NATIVE_DOUBLE);
#undef PI
    H5Tclose(s);
    return t;
}

/* One row of /portfolio/status_counts. */
typedef struct pf_status_row {
    int32_t status;
    int64_t trades;
} pf_status_row_t;

/* Create dataset name under g with n rows of type t; rank 0 writes data. */
static int write_table(hid_t g, const char *name, hid_t t, const void *data, int n, int rank)
{
    hsize_t dims[1] = {(hsize_t)n};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t d = H5Dcreate2(g, name, t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = d >= 0;
    if (ok && rank == 0 && n > 0)
        ok = H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(space);
    return ok;
}

int portfolio_write(portfolio_t *p, hid_t file, MPI_Comm comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    MPI_Bcast(&p->nrows, 1, MPI_INT, 0, comm); /* the shape of the metadata, on every rank */
    if (file < 0)
        return 1;
    int ok = 1;
    hid_t g = H5Gcreate2(file, "portfolio", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return 0;
    ok &= h5_attr_str(g, "group_by", portfolio_group_names[p->by]) == 0;
    hid_t rt = portfolio_row_type();
    ok &= write_table(g, "totals", rt, p->rows, p->nrows, rank);
    H5Tclose(rt);
    pf_status_row_t sr[FS_STATUS_COUNT];
    for (int i = 0; i < FS_STATUS_COUNT; i++) {
        sr[i].status = i;
        sr[i].trades = p->status[i];
    }
    hid_t st = H5Tcreate(H5T_COMPOUND, sizeof(pf_status_row_t));
    hid_t et = result_h5_status_type();
    H5Tinsert(st, "status", HOFFSET(pf_status_row_t, status), et);
    H5Tinsert(st, "trades", HOFFSET(pf_status_row_t, trades), H5T_NATIVE_INT64);
    ok &= write_table(g, "status_counts", st, sr, FS_STATUS_COUNT, rank);
    H5Tclose(et);
    H5Tclose(st);
    H5Gclose(g);
    return ok;
}

/* "1.234567e+06 ± 1.2e+02" or "-" when x is NaN. */
static void fig(char *buf, size_t n, double x, double se)
{
    if (isnan(x))
        snprintf(buf, n, "%s", "-");
    else
        snprintf(buf, n, "%.10g +- %.3g", x, se);
}

void portfolio_print_rows(FILE *f, const char *group_by, const pf_row_t *rows, int n, const int64_t *counts)
{
    fprintf(f, "portfolio totals (grouped by %s; standard errors add in quadrature)\n", group_by);
    fprintf(f, "  %-18s %8s %8s %30s %30s %30s\n", "group", "trades", "failed", "pv", "delta", "vega");
    for (int i = 0; i < n; i++) {
        char a[64], b[64], c[64];
        fig(a, sizeof(a), rows[i].pv, rows[i].pv_stderr);
        fig(b, sizeof(b), rows[i].delta, rows[i].delta_stderr);
        fig(c, sizeof(c), rows[i].vega, rows[i].vega_stderr);
        fprintf(f, "  %-18s %8lld %8lld %30s %30s %30s\n", rows[i].group, (long long)rows[i].trades,
                (long long)rows[i].failed, a, b, c);
    }
    if (!counts)
        return;
    fprintf(f, "trades by status:");
    for (int s = 0; s < FS_STATUS_COUNT; s++)
        if (counts[s])
            fprintf(f, " %s %lld", fs_status_name(s), (long long)counts[s]);
    fprintf(f, "\n");
}

void portfolio_print(const portfolio_t *p, FILE *f)
{
    portfolio_print_rows(f, portfolio_group_names[p->by], p->rows, p->nrows, p->status);
}
