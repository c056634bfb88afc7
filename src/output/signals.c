/* signals.c - the screen's signals: ranking, CSV rows and the HDF5 signals file. */
#define _GNU_SOURCE
#include "finsim/output/signals.h"

#include <errno.h>
#include <hdf5.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "finsim/base/config_build.h"
#include "finsim/base/file.h"
#include "finsim/base/util.h"
#include "finsim/trade/result_h5.h"

/* qsort comparator of signals_sort: edge descending, then trade id
 * ascending. */
static int signals_cmp(const void *a, const void *b)
{
    const signal_rec_t *x = a, *y = b;
    if (x->edge != y->edge)
        return x->edge > y->edge ? -1 : 1;
    return (x->trade_id > y->trade_id) - (x->trade_id < y->trade_id);
}

/* Rank the signals (see signals.h); cannot fail. */
void signals_sort(signal_rec_t *s, size_t n)
{
    if (n)
        qsort(s, n, sizeof(*s), signals_cmp);
}

/* One CSV row per signal; a file is closed here, standard output flushed.
 * Returns 0, or -1 with the reason in err. */
int signals_write_csv(const char *path, const signal_rec_t *s, size_t n, char *err, size_t errlen)
{
    /* a file is written as PATH.partial and put in place when complete */
    int to_stdout = strcmp(path, "-") == 0;
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.partial", path);
    FILE *f = to_stdout ? stdout : fopen(tmp, "w");
    if (!f)
        return fs_seterr(err, errlen, "cannot open %s: %s", tmp, strerror(errno));
    fprintf(f, "trade_id,quote,model_value,model_stderr,edge,z\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%lld,%.17g,%.17g,%.17g,%.17g,%.17g\n", (long long)s[i].trade_id, s[i].quote, s[i].model_value,
                s[i].model_stderr, s[i].edge, s[i].z);
    int bad = ferror(f) != 0;
    bad |= to_stdout ? fflush(f) != 0 : fclose(f) != 0;
    if (bad) {
        fs_seterr(err, errlen, "writing %s failed: %s", to_stdout ? path : tmp, strerror(errno));
        if (!to_stdout)
            unlink(tmp);
        return -1;
    }
    if (!to_stdout && fs_durable_rename(tmp, path, err, errlen) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The HDF5 compound type of signal_rec_t (memory layout): the trade id,
 * then the five doubles in their order. Caller closes with H5Tclose. */
hid_t signals_h5_type(void)
{
    static const struct {
        const char *name;
        size_t off;
    } reals[] = {
        {"quote", offsetof(signal_rec_t, quote)},
        {"model_value", offsetof(signal_rec_t, model_value)},
        {"model_stderr", offsetof(signal_rec_t, model_stderr)},
        {"edge", offsetof(signal_rec_t, edge)},
        {"z", offsetof(signal_rec_t, z)},
    };
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(signal_rec_t));
    H5Tinsert(t, "trade_id", offsetof(signal_rec_t, trade_id), H5T_NATIVE_INT64);
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++)
        H5Tinsert(t, reals[i].name, reals[i].off, H5T_NATIVE_DOUBLE);
    return t;
}

/* Write the /signals dataset of n rows into the open file f. Returns 0 or
 * -1. */
static int signals_write_rows(hid_t f, const signal_rec_t *s, size_t n)
{
    hid_t t = signals_h5_type();
    hsize_t dims[1] = {(hsize_t)n};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t ds = H5Dcreate2(f, "signals", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = ds >= 0 && (n == 0 || H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) >= 0);
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(sp);
    H5Tclose(t);
    return ok ? 0 : -1;
}

/* Write the root attributes of m (and the time of writing) on f, in the
 * order readers have always seen them. Returns 0 or -1 at the first that
 * fails. */
static int signals_write_attrs(hid_t f, const signals_meta_t *m)
{
    char now[64];
    time_t tt = time(NULL);
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    int ok = h5_attr_scalar(f, "min_edge", H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, &m->min_edge) == 0 &&
             h5_attr_scalar(f, "min_z", H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, &m->min_z) == 0 &&
             h5_attr_scalar(f, "seed", H5T_NATIVE_UINT64, H5T_NATIVE_UINT64, &m->seed) == 0 &&
             h5_attr_scalar(f, "paths", H5T_NATIVE_INT64, H5T_NATIVE_INT64, &m->paths) == 0 &&
             h5_attr_scalar(f, "trades", H5T_NATIVE_INT64, H5T_NATIVE_INT64, &m->trades) == 0 &&
             h5_attr_scalar(f, "joined", H5T_NATIVE_INT64, H5T_NATIVE_INT64, &m->joined) == 0 &&
             h5_attr_scalar(f, "unquoted", H5T_NATIVE_INT64, H5T_NATIVE_INT64, &m->unquoted) == 0 &&
             h5_attr_scalar(f, "orphan_quotes", H5T_NATIVE_INT64, H5T_NATIVE_INT64, &m->orphans) == 0 &&
             h5_attr_scalar(f, "absent", H5T_NATIVE_INT64, H5T_NATIVE_INT64, &m->absent) == 0 &&
             h5_attr_scalar(f, "failed", H5T_NATIVE_INT64, H5T_NATIVE_INT64, &m->failed) == 0 &&
             h5_attr_scalar(f, "overridden", H5T_NATIVE_INT64, H5T_NATIVE_INT64, &m->overridden) == 0 &&
             h5_attr_scalar(f, "selected", H5T_NATIVE_INT64, H5T_NATIVE_INT64, &m->selected) == 0 &&
             h5_attr_str(f, "algorithm", m->algorithm) == 0 &&
             h5_attr_str(f, "kernel", m->kernel) == 0 &&
             h5_attr_str(f, "quotes_source", m->quotes_source) == 0 &&
             h5_attr_str(f, "value_convention", "model_value = pv / warrantsNo; quotes per warrant") == 0 &&
             h5_attr_str(f, "start_time", m->start_time) == 0 && h5_attr_str(f, "time", now) == 0 &&
             h5_attr_str(f, "finsim_version", FINSIM_VERSION) == 0;
    return ok ? 0 : -1;
}

/* Rows, then attributes, into path.partial; renamed only when the file
 * closed cleanly. Returns 0, or -1 with the reason in err and no file left. */
int signals_write_h5(const char *path, const signals_meta_t *m, const signal_rec_t *s, size_t n, char *err,
                     size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.partial", path);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        return fs_seterr(err, errlen, "cannot create %s", tmp);
    int ok = signals_write_rows(f, s, n) == 0;
    ok = ok && signals_write_attrs(f, m) == 0;
    ok = H5Fclose(f) >= 0 && ok;
    if (!ok) {
        fs_seterr(err, errlen, "writing %s failed", path);
        unlink(tmp);
        return -1;
    }
    if (fs_durable_rename(tmp, path, err, errlen) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}
