/* h5out.c - the HDF5 results file, written with parallel HDF5 (MPI-IO).
 *
 * Every rank writes the rows of its own trades as soon as they are priced
 * (independent writes into a dataset allocated at creation, or collective
 * ones in lock step when asked), so no rank ever holds more than one batch of
 * results and rank 0 never gathers the portfolio. Metadata (datasets,
 * attributes) is created collectively. */
#include "finsim/output/h5out.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "finsim/base/file.h"
#include "finsim/base/util.h"
#include "finsim/trade/result_h5.h"

struct h5out {
    hid_t file;          /* open file */
    hid_t results;       /* /results dataset */
    hid_t rtype;         /* memory type of result_t */
    hid_t dxpl;          /* transfer properties of the row writes */
    int collective;      /* row writes are collective (MPI-IO) */
    int64_t fallbacks;   /* collective writes that HDF5 did independently */
    uint32_t fb_cause;   /* H5D_mpio_no_collective_cause_t of the first one */
    MPI_Comm comm;       /* communicator of the collective calls */
    int64_t nrows;       /* rows in /results */
    char *path;          /* final path */
    char *partial;       /* path being written */
    double write_s;      /* seconds in writes on this rank */
};

hid_t h5out_telemetry_type(void)
{
    hid_t s = H5Tcopy(H5T_C_S1);
    H5Tset_size(s, sizeof(((h5out_telemetry_t *)0)->host));
    H5Tset_strpad(s, H5T_STR_NULLTERM);
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(h5out_telemetry_t));
#define TI(name, field, type) H5Tinsert(t, name, HOFFSET(h5out_telemetry_t, field), type)
    TI("rank", rank, H5T_NATIVE_INT32);
    TI("host", host, s);
    TI("fetch_seconds", fetch_s, H5T_NATIVE_DOUBLE);
    TI("parse_seconds", parse_s, H5T_NATIVE_DOUBLE);
    TI("compute_seconds", compute_s, H5T_NATIVE_DOUBLE);
    TI("mirror_seconds", mirror_s, H5T_NATIVE_DOUBLE);
    TI("write_seconds", write_s, H5T_NATIVE_DOUBLE);
    TI("total_seconds", total_s, H5T_NATIVE_DOUBLE);
    TI("trades", trades, H5T_NATIVE_INT64);
    TI("priced", priced, H5T_NATIVE_INT64);
    TI("failed", failed, H5T_NATIVE_INT64);
    TI("skipped", skipped, H5T_NATIVE_INT64);
    TI("stale", stale, H5T_NATIVE_INT64);
    TI("paths", paths, H5T_NATIVE_INT64);
    TI("peak_rss_kb", peak_rss_kb, H5T_NATIVE_INT64);
#undef TI
    H5Tclose(s);
    return t;
}

/* Agree on success across comm: returns 1 only if ok on every rank. */
static int all_ok(MPI_Comm comm, int ok)
{
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, comm);
    return all;
}

/* Rank 0: is there room for the file? HDF5 fills the dataset collectively
 * at creation, and a rank that meets a full disk there leaves the others
 * waiting inside HDF5, so the space is checked before anything is written.
 * Returns 0 or -1 with the reason in err. */
static int check_space(const char *partial, int64_t nrows, int nranks, char *err, size_t errlen)
{
    char dir[4096];
    fs_dirname(partial, dir, sizeof(dir));
    struct statvfs vfs;
    if (statvfs(dir, &vfs) != 0)
        return fs_seterr(err, errlen, "cannot create output %s: %s", partial, strerror(errno));
    double need = (double)nrows * sizeof(result_t) + (double)nranks * sizeof(h5out_telemetry_t) + (1 << 20);
    double avail = (double)vfs.f_bavail * (double)vfs.f_frsize;
    if (avail < need)
        return fs_seterr(err, errlen,
                         "not enough disk space for %s: the results need about %.1f MB, %.1f MB are free "
                         "(disk full?)",
                         partial, need / 1e6, avail / 1e6);
    return 0;
}

h5out_t *h5out_create(const char *path, MPI_Comm comm, int64_t nrows, char *err, size_t errlen)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported by finsim, once */
    h5out_t *h = xcalloc(1, sizeof(*h));
    h->comm = comm;
    h->nrows = nrows;
    h->path = xstrdup(path);
    size_t n = strlen(path) + sizeof(".partial");
    h->partial = xmalloc(n);
    snprintf(h->partial, n, "%s.partial", path);
    h->file = h->results = h->rtype = H5I_INVALID_HID;
    h->dxpl = H5P_DEFAULT;

    int rank, nranks, ok_space = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &nranks);
    if (rank == 0)
        ok_space = check_space(h->partial, nrows, nranks, err, errlen) == 0;
    MPI_Bcast(&ok_space, 1, MPI_INT, 0, comm);
    if (!ok_space) {
        free(h->path);
        free(h->partial);
        free(h);
        return NULL;
    }

    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    h->file = H5Fcreate(h->partial, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (!all_ok(comm, h->file >= 0)) {
        /* find the OS reason on rank 0 with a plain open */
        FILE *f = rank == 0 ? fopen(h->partial, "wb") : NULL;
        fs_seterr(err, errlen, "cannot create output %s: %s", h->partial,
                  f ? "HDF5 create failed" : strerror(errno));
        if (f) {
            fclose(f);
            remove(h->partial);
        }
        if (h->file >= 0)
            H5Fclose(h->file);
        free(h->path);
        free(h->partial);
        free(h);
        return NULL;
    }
    h->rtype = result_h5_type(RESULT_H5_NATIVE);
    hsize_t dims[1] = {(hsize_t)nrows};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    result_t fill;
    result_fail(&fill, -1, -1, -1); /* status -1: not written yet */
    H5Pset_fill_value(dcpl, h->rtype, &fill);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC);
    h->results = H5Dcreate2(h->file, "results", h->rtype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(space);
    int ok = h->results >= 0 && H5Fflush(h->file, H5F_SCOPE_GLOBAL) >= 0;
    if (!all_ok(comm, ok)) {
        /* HDF5 cannot close a file whose metadata it failed to write (it
         * would crash at exit): end the job here, nothing has been priced. */
        if (rank == 0)
            fs_error("cannot create the /results dataset (%lld rows) in %s (disk full?)", (long long)nrows,
                     h->partial);
        fflush(NULL);
        MPI_Abort(comm, H5OUT_ABORT_STATUS);
    }
    return h;
}

void h5out_set_collective(h5out_t *h, int collective)
{
    if (h->dxpl != H5P_DEFAULT)
        H5Pclose(h->dxpl);
    h->dxpl = H5P_DEFAULT;
    h->collective = collective != 0;
    if (h->collective) {
        h->dxpl = H5Pcreate(H5P_DATASET_XFER);
        H5Pset_dxpl_mpio(h->dxpl, H5FD_MPIO_COLLECTIVE);
    }
}

int h5out_write_rows(h5out_t *h, int64_t row0, const result_t *r, size_t n, char *err, size_t errlen)
{
    if (n == 0 && !h->collective)
        return 0;
    double t0 = fs_now();
    hsize_t start[1] = {(hsize_t)row0}, count[1] = {(hsize_t)(n ? n : 1)};
    hid_t fspace = H5Dget_space(h->results);
    hid_t mspace = H5Screate_simple(1, count, NULL);
    if (n) {
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    } else { /* a collective round in which this rank has no rows */
        H5Sselect_none(fspace);
        H5Sselect_none(mspace);
    }
    herr_t rc = H5Dwrite(h->results, h->rtype, mspace, fspace, h->dxpl, r);
    H5D_mpio_actual_io_mode_t mode;
    if (h->collective && rc >= 0 && H5Pget_mpio_actual_io_mode(h->dxpl, &mode) >= 0 &&
        mode == H5D_MPIO_NO_COLLECTIVE) {
        /* HDF5 may break a collective write down to independent ones (e.g.
         * for a type conversion): count it, keep the first cause */
        uint32_t local = 0, global = 0;
        H5Pget_mpio_no_collective_cause(h->dxpl, &local, &global);
        if (!h->fallbacks++)
            h->fb_cause = local | global;
    }
    H5Sclose(mspace);
    H5Sclose(fspace);
    h->write_s += fs_now() - t0;
    if (rc < 0)
        return fs_seterr(err, errlen, "writing rows %lld..%lld of %s failed (disk full?)", (long long)row0,
                         (long long)(row0 + (int64_t)n - 1), h->partial);
    return 0;
}

int64_t h5out_collective_fallbacks(const h5out_t *h, uint32_t *cause)
{
    if (cause)
        *cause = h ? h->fb_cause : 0;
    return h ? h->fallbacks : 0;
}

double h5out_write_seconds(const h5out_t *h)
{
    return h ? h->write_s : 0;
}

int h5out_finish(h5out_t *h, const h5out_telemetry_t *tel, int nranks, const h5out_attr_t *attrs,
                 int nattrs, uint64_t checksum, char *err, size_t errlen)
{
    double t0 = fs_now();
    int rank;
    MPI_Comm_rank(h->comm, &rank);
    int ok = 1;
    hid_t ttype = h5out_telemetry_type();
    hsize_t dims[1] = {(hsize_t)nranks};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dset = H5Dcreate2(h->file, "telemetry", ttype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ok &= dset >= 0;
    if (dset >= 0 && rank == 0) /* independent write by one rank */
        ok &= H5Dwrite(dset, ttype, H5S_ALL, H5S_ALL, H5P_DEFAULT, tel) >= 0;
    if (dset >= 0)
        H5Dclose(dset);
    H5Sclose(space);
    H5Tclose(ttype);
    hid_t root = H5Gopen2(h->file, "/", H5P_DEFAULT);
    for (int i = 0; i < nattrs; i++)
        ok &= h5_attr_str(root, attrs[i].name, attrs[i].value) == 0;
    ok &= h5_attr_scalar(root, "checksum_u64", H5T_NATIVE_UINT64, H5T_NATIVE_UINT64, &checksum) == 0;
    H5Gclose(root);
    H5Dclose(h->results);
    H5Tclose(h->rtype);
    h5out_set_collective(h, 0);
    ok &= H5Fclose(h->file) >= 0;
    h->write_s += fs_now() - t0;
    ok = all_ok(h->comm, ok);
    if (ok && rank == 0 && fs_durable_rename(h->partial, h->path, err, errlen) != 0) {
        ok = 0; /* fsync, rename, fsync of the directory: see base/file.h */
    } else if (!ok) {
        fs_seterr(err, errlen, "finishing %s failed (disk full?); the partial file is kept", h->partial);
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, h->comm);
    if (!ok && err && !err[0])
        fs_seterr(err, errlen, "finishing %s failed", h->path);
    free(h->path);
    free(h->partial);
    free(h);
    return ok ? 0 : -1;
}

void h5out_abort(h5out_t *h)
{
    if (!h)
        return;
    if (h->results >= 0)
        H5Dclose(h->results);
    if (h->rtype >= 0)
        H5Tclose(h->rtype);
    h5out_set_collective(h, 0);
    if (h->file >= 0)
        H5Fclose(h->file);
    free(h->path);
    free(h->partial);
    free(h);
}
