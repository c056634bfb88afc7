/* resfile.c - reading a results file of any format version (resfile.h). */
#include "finsim/output/resfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "finsim/base/util.h"
#include "finsim/trade/result_h5.h"

#define BLOCK 65536 /* rows read at a time */

struct resfile {
    const char *path;
    hid_t f, ds, mt;
    int64_t n;          /* rows */
    int version;        /* format_version, 1 when absent */
    int kind;           /* enum resfile_kind */
};

/* Attribute name of obj as text (string or integer); "" when absent. */
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

void resfile_close(resfile_t *r)
{
    if (!r)
        return;
    if (r->mt >= 0)
        H5Tclose(r->mt);
    if (r->ds >= 0)
        H5Dclose(r->ds);
    if (r->f >= 0)
        H5Fclose(r->f);
    free(r);
}

resfile_t *resfile_open(const char *path, char *err, size_t errlen)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    fclose(probe);
    resfile_t *r = xcalloc(1, sizeof(*r));
    r->path = path;
    r->f = r->ds = r->mt = H5I_INVALID_HID;
    if (H5Fis_hdf5(path) <= 0 || (r->f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        snprintf(err, errlen, "%s is not an HDF5 file", path);
        resfile_close(r);
        return NULL;
    }
    if (H5Lexists(r->f, "results", H5P_DEFAULT) <= 0 && H5Lexists(r->f, "signals", H5P_DEFAULT) > 0) {
        r->kind = RESFILE_SIGNALS; /* finsim screen's output */
        r->ds = H5Dopen2(r->f, "signals", H5P_DEFAULT);
        r->mt = r->ds >= 0 ? signals_h5_type() : H5I_INVALID_HID;
    } else if (H5Lexists(r->f, "results", H5P_DEFAULT) > 0) {
        r->ds = H5Dopen2(r->f, "results", H5P_DEFAULT);
        r->mt = r->ds >= 0 ? result_h5_read_type(r->ds) : H5I_INVALID_HID;
    }
    if (r->ds < 0 || r->mt < 0) {
        snprintf(err, errlen, "%s is not a finsim results file (no readable /results, nor /signals)", path);
        resfile_close(r);
        return NULL;
    }
    hid_t sp = H5Dget_space(r->ds);
    hsize_t dims[1] = {0};
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    r->n = (int64_t)dims[0];
    char v[32];
    attr_text(r->f, "format_version", v, sizeof(v));
    r->version = v[0] ? atoi(v) : 1;
    return r;
}

int resfile_kind(const resfile_t *r)
{
    return r->kind;
}

int resfile_signals(const resfile_t *r, signal_rec_t **s, size_t *n, char *err, size_t errlen)
{
    *n = (size_t)r->n;
    *s = xcalloc(*n ? *n : 1, sizeof(**s));
    if (r->kind != RESFILE_SIGNALS || (*n && H5Dread(r->ds, r->mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, *s) < 0)) {
        snprintf(err, errlen, "reading /signals of %s failed", r->path);
        free(*s);
        *s = NULL;
        return -1;
    }
    return 0;
}

int64_t resfile_rows(const resfile_t *r)
{
    return r->n;
}

int resfile_version(const resfile_t *r)
{
    return r->version;
}

void resfile_attr(const resfile_t *r, const char *name, char *buf, size_t n)
{
    attr_text(r->f, name, buf, n);
}

int resfile_each(const resfile_t *r, int (*fn)(void *ctx, const result_t *row), void *ctx, char *err,
                 size_t errlen)
{
    if (r->kind != RESFILE_RESULTS) {
        snprintf(err, errlen, "%s is a signals file, not a results file", r->path);
        return -1;
    }
    result_t *buf = xmalloc(sizeof(result_t) * BLOCK);
    int rc = 0;
    for (int64_t off = 0; off < r->n && !rc; off += BLOCK) {
        hsize_t start[1] = {(hsize_t)off}, count[1] = {(hsize_t)(r->n - off < BLOCK ? r->n - off : BLOCK)};
        hid_t fs = H5Dget_space(r->ds), ms = H5Screate_simple(1, count, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        if (H5Dread(r->ds, r->mt, ms, fs, H5P_DEFAULT, buf) < 0) {
            snprintf(err, errlen, "reading rows %lld.. of %s failed", (long long)off, r->path);
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

/* One row of /portfolio/status_counts in memory. */
typedef struct sc_row {
    int32_t status;
    int64_t trades;
} sc_row_t;

/* /portfolio/status_counts into counts; 1 read, 0 not. */
static int read_counts(hid_t g, int64_t *counts)
{
    if (H5Lexists(g, "status_counts", H5P_DEFAULT) <= 0)
        return 0;
    sc_row_t sc[FS_STATUS_COUNT + 1];
    hid_t st = H5Tcreate(H5T_COMPOUND, sizeof(sc_row_t));
    hid_t et = result_h5_status_type();
    H5Tinsert(st, "status", HOFFSET(sc_row_t, status), et);
    H5Tinsert(st, "trades", HOFFSET(sc_row_t, trades), H5T_NATIVE_INT64);
    hid_t cd = H5Dopen2(g, "status_counts", H5P_DEFAULT);
    hid_t csp = H5Dget_space(cd);
    hsize_t cn = 0;
    H5Sget_simple_extent_dims(csp, &cn, NULL);
    int ok = cn <= FS_STATUS_COUNT + 1 && H5Dread(cd, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, sc) >= 0;
    for (hsize_t i = 0; ok && i < cn; i++)
        if (sc[i].status >= 0 && sc[i].status < FS_STATUS_COUNT)
            counts[sc[i].status] = sc[i].trades;
    H5Sclose(csp);
    H5Dclose(cd);
    H5Tclose(et);
    H5Tclose(st);
    return ok;
}

int resfile_portfolio(const resfile_t *r, char *by, size_t bylen, pf_row_t **rows, int *n, int64_t *counts,
                      int *have_counts)
{
    *rows = NULL;
    *n = 0;
    *have_counts = 0;
    if (H5Lexists(r->f, "portfolio", H5P_DEFAULT) <= 0 || H5Lexists(r->f, "portfolio/totals", H5P_DEFAULT) <= 0)
        return 0;
    hid_t g = H5Gopen2(r->f, "portfolio", H5P_DEFAULT);
    attr_text(g, "group_by", by, bylen);
    hid_t d = H5Dopen2(g, "totals", H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t nr = 0;
    H5Sget_simple_extent_dims(sp, &nr, NULL);
    pf_row_t *buf = xcalloc(nr ? nr : 1, sizeof(*buf));
    hid_t rt = portfolio_row_type();
    int ok = H5Dread(d, rt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
    H5Tclose(rt);
    H5Sclose(sp);
    H5Dclose(d);
    memset(counts, 0, sizeof(int64_t) * FS_STATUS_COUNT);
    if (ok)
        *have_counts = read_counts(g, counts);
    H5Gclose(g);
    if (!ok) {
        free(buf);
        return -1;
    }
    *rows = buf;
    *n = (int)nr;
    return 1;
}
