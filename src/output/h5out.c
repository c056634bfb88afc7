/* h5out.c - the HDF5 results file, written with parallel HDF5 (MPI-IO), or
 * by rank 0 alone (gather mode).
 *
 * Parallel modes: every rank writes the rows of its own trades as soon as
 * they are priced (independent writes into a dataset allocated at creation,
 * or collective ones in lock step when asked), so no rank ever holds more
 * than one batch of results and rank 0 never gathers the portfolio.
 * Metadata (datasets, attributes) is created collectively.
 *
 * Gather mode (an output directory that the hosts do not share): rank 0
 * opens the file with the serial driver; the other ranks send each batch
 * (row offset, count, rows) to rank 0 on a duplicate communicator, with at
 * most H5OUT_GATHER_SENDS batches in flight, and rank 0 writes them as they
 * arrive (h5out_poll), so memory stays bounded by a few batches too. The
 * same rows land at the same offsets: the file equals a parallel one. */
#define _GNU_SOURCE /* fallocate */
#include "finsim/output/h5out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "finsim/base/file.h"
#include "finsim/output/outguard.h"
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
    /* gather mode */
    int gather;          /* rank 0 writes every row */
    int rank, nranks;    /* in comm */
    MPI_Comm gcomm;      /* duplicate of comm for the rows */
    MPI_Request req[H5OUT_GATHER_SENDS]; /* rank != 0: sends in flight */
    char *sbuf[H5OUT_GATHER_SENDS];      /* their buffers */
    size_t scap[H5OUT_GATHER_SENDS];     /* and capacities */
    int next;            /* rank != 0: the slot to use next */
    int ended;           /* rank != 0: end marker sent */
    int ends;            /* rank 0: end markers received */
    char *rbuf;          /* rank 0: receive buffer */
    size_t rcap;
    char gerr[256];      /* rank 0: the first failed write of received rows */
    int reserved;        /* rank 0: the room to finish is reserved (fallocate) */
    int (*extra)(void *, hid_t); /* more metadata, written at finish (h5out_on_finish) */
    void *extra_ctx;
};

/* Message tags of gather mode (on the duplicate communicator). */
enum { TAG_ROWS = 301, TAG_END = 302 };

static const char *const mode_names[] = {"auto", "independent", "collective", "gather"};

int h5_write_mode_parse(const char *s, h5_write_mode_t *mode)
{
    for (int m = H5W_AUTO; m <= H5W_GATHER; m++)
        if (s && !strcmp(s, mode_names[m])) {
            *mode = (h5_write_mode_t)m;
            return 0;
        }
    return -1;
}

const char *h5_write_mode_name(h5_write_mode_t mode)
{
    return mode >= H5W_AUTO && mode <= H5W_GATHER ? mode_names[mode] : "?";
}

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

/* Bytes that finishing the file may add beyond the rows: /telemetry, the
 * attributes, HDF5's metadata, with a wide margin. */
static double close_room(int nranks)
{
    return (double)nranks * sizeof(h5out_telemetry_t) + (1 << 20);
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
    double need = (double)nrows * sizeof(result_t) + close_room(nranks);
    double avail = (double)vfs.f_bavail * (double)vfs.f_frsize;
    if (avail < need)
        return fs_seterr(err, errlen,
                         "not enough disk space for %s: the results need about %.1f MB, %.1f MB are free "
                         "(disk full?)",
                         partial, need / 1e6, avail / 1e6);
    return 0;
}

/* Rank 0, once the file is created and before /results is: reserve the
 * blocks that the rows and finishing the file will write (fallocate with
 * FALLOC_FL_KEEP_SIZE from offset 0 to the file's end plus the rows plus
 * close_room). The file's size does not change, so HDF5 sees nothing; its
 * later writes land in blocks already held, and release_reserve gives back
 * what was not used. A disk that fills during the run can then no longer
 * fail a write, where one rank's error leaves the others waiting inside
 * HDF5's collective calls. FINSIM_H5_RESERVE=0 skips it.
 * Returns 1 reserved, 0 not supported here (or skipped), -1 failed (err). */
static int reserve_space(h5out_t *h, char *err, size_t errlen)
{
    const char *env = getenv("FINSIM_H5_RESERVE");
    if (env && !strcmp(env, "0"))
        return 0;
#ifdef FALLOC_FL_KEEP_SIZE
    int fd = open(h->partial, O_WRONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return fs_seterr(err, errlen, "cannot reserve disk space for %s: %s", h->partial, strerror(e));
    }
    off_t len = st.st_size + (off_t)h->nrows * (off_t)sizeof(result_t) + (off_t)close_room(h->nranks);
    int rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, len);
    int e = errno;
    close(fd); /* HDF5's own handle and locks are unaffected (flock, or none under MPI-IO) */
    if (rc == 0)
        return 1;
    if (e == EOPNOTSUPP || e == ENOSYS || e == EINVAL)
        return 0; /* e.g. NFSv3: the free space is checked again before the close */
    return fs_seterr(err, errlen, "cannot reserve disk space for %s: %s (disk full?)", h->partial, strerror(e));
#else
    (void)h, (void)err, (void)errlen;
    return 0;
#endif
}

/* Rank 0, once the file is closed: give back the reserved blocks that it
 * did not use (a truncation to its own size frees those beyond the end). */
static void release_reserve(const char *partial)
{
    int fd = open(partial, O_WRONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && ftruncate(fd, st.st_size) != 0)
        fs_warn("cannot give back the unused disk space reserved for %s: %s", partial, strerror(errno));
    if (fd >= 0)
        close(fd);
}

/* Rank 0, before the close of a file whose room is not reserved: is there
 * still room to finish it? Returns 0, or -1 with the reason in err. */
static int check_close_room(const h5out_t *h, char *err, size_t errlen)
{
    char dir[4096];
    fs_dirname(h->partial, dir, sizeof(dir));
    struct statvfs vfs;
    if (statvfs(dir, &vfs) != 0)
        return fs_seterr(err, errlen, "cannot finish %s: %s", h->partial, strerror(errno));
    double need = close_room(h->nranks), avail = (double)vfs.f_bavail * (double)vfs.f_frsize;
    if (avail < need)
        return fs_seterr(err, errlen,
                         "cannot finish %s: no space left on device (%.1f MB free, finishing needs about %.1f MB; "
                         "disk full)",
                         h->partial, avail / 1e6, need / 1e6);
    return 0;
}

/* Free a handle whose file is not (or no longer) open; NULL. */
static h5out_t *h5out_free(h5out_t *h)
{
    if (h->gather && h->gcomm != MPI_COMM_NULL)
        MPI_Comm_free(&h->gcomm);
    for (int i = 0; i < H5OUT_GATHER_SENDS; i++)
        free(h->sbuf[i]);
    free(h->rbuf);
    free(h->path);
    free(h->partial);
    free(h);
    return NULL;
}

/* Create the file (every rank with MPI-IO, or rank 0 alone with the serial
 * driver in gather mode) and agree on it. Returns 0, or -1 with the reason
 * in err (every rank). */
static int create_file(h5out_t *h, char *err, size_t errlen)
{
    if (!h->gather || h->rank == 0) {
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        if (!h->gather)
            H5Pset_fapl_mpio(fapl, h->comm, MPI_INFO_NULL);
        h->file = H5Fcreate(h->partial, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        H5Pclose(fapl);
    }
    if (all_ok(h->comm, h->file >= 0 || (h->gather && h->rank != 0)))
        return 0;
    /* find the OS reason on rank 0 with a plain open */
    FILE *f = h->rank == 0 ? fopen(h->partial, "wb") : NULL;
    fs_seterr(err, errlen, "cannot create output %s: %s", h->partial, f ? "HDF5 create failed" : strerror(errno));
    if (f) {
        fclose(f);
        remove(h->partial);
    }
    if (h->file >= 0)
        H5Fclose(h->file);
    h->file = H5I_INVALID_HID;
    return -1;
}

/* Create /results, filled with status -1, and flush (on every rank that
 * has the file open). Returns 1 if that worked there, else 0. */
static int create_results(h5out_t *h)
{
    if (h->file < 0)
        return 1;
    hsize_t dims[1] = {(hsize_t)h->nrows};
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
    return h->results >= 0 && result_h5_write_units(h->results) == 0 && H5Fflush(h->file, H5F_SCOPE_GLOBAL) >= 0;
}

h5out_t *h5out_create(const char *path, MPI_Comm comm, int64_t nrows, h5_write_mode_t mode, char *err,
                      size_t errlen)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported by finsim, once */
    h5out_t *h = xcalloc(1, sizeof(*h));
    h->comm = comm;
    h->nrows = nrows;
    h->gather = mode == H5W_GATHER;
    h->gcomm = MPI_COMM_NULL;
    h->path = xstrdup(path);
    size_t n = strlen(path) + sizeof(".partial");
    h->partial = xmalloc(n);
    snprintf(h->partial, n, "%s.partial", path);
    h->file = h->results = h->rtype = H5I_INVALID_HID;
    h->dxpl = H5P_DEFAULT;
    for (int i = 0; i < H5OUT_GATHER_SENDS; i++)
        h->req[i] = MPI_REQUEST_NULL;

    int ok_space = 1;
    MPI_Comm_rank(comm, &h->rank);
    MPI_Comm_size(comm, &h->nranks);
    if (h->rank == 0)
        ok_space = check_space(h->partial, nrows, h->nranks, err, errlen) == 0;
    MPI_Bcast(&ok_space, 1, MPI_INT, 0, comm);
    if (!ok_space || create_file(h, err, errlen) != 0)
        return h5out_free(h);
    int res = h->rank == 0 ? reserve_space(h, err, errlen) : 0;
    MPI_Bcast(&res, 1, MPI_INT, 0, comm);
    if (res < 0) {
        /* only the file's first metadata to close: little room, if any */
        char *partial = h->rank == 0 ? xstrdup(h->partial) : NULL;
        h5out_abort(h);
        if (partial)
            remove(partial);
        free(partial);
        return NULL;
    }
    h->reserved = res;
    h->rtype = result_h5_type(RESULT_H5_TYPED);
    if (!all_ok(comm, create_results(h))) {
        /* HDF5 cannot close a file whose metadata it failed to write (it
         * would crash at exit): end the job here, nothing has been priced. */
        if (h->rank == 0)
            fs_error("cannot create the /results dataset (%lld rows) in %s (disk full?)", (long long)nrows,
                     h->partial);
        remove(h->partial);
        outlock_release_held(); /* the job above cannot be told: drop the output's lock here */
        fflush(NULL);
        MPI_Abort(comm, H5OUT_ABORT_STATUS);
    }
    if (h->gather)
        MPI_Comm_dup(comm, &h->gcomm);
    h5out_set_collective(h, mode == H5W_COLLECTIVE);
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

/* Write n rows at row0 into the open file (n = 0: an empty collective
 * round). Returns the H5Dwrite result. */
static herr_t write_local(h5out_t *h, int64_t row0, const result_t *r, size_t n)
{
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
    return rc;
}

/* Gather mode, rank != 0: send rows [row0, row0+n) to rank 0 as one message
 * (int64 row0 and n, then the rows), waiting first for the oldest send when
 * H5OUT_GATHER_SENDS are in flight. Cannot fail (MPI errors abort). */
static void gather_send(h5out_t *h, int64_t row0, const result_t *r, size_t n)
{
    int k = h->next;
    h->next = (k + 1) % H5OUT_GATHER_SENDS;
    MPI_Wait(&h->req[k], MPI_STATUS_IGNORE); /* returns at once for MPI_REQUEST_NULL */
    size_t bytes = 2 * sizeof(int64_t) + n * sizeof(result_t);
    if (h->scap[k] < bytes) {
        free(h->sbuf[k]);
        h->sbuf[k] = xmalloc(bytes);
        h->scap[k] = bytes;
    }
    int64_t head[2] = {row0, (int64_t)n};
    memcpy(h->sbuf[k], head, sizeof(head));
    memcpy(h->sbuf[k] + sizeof(head), r, n * sizeof(result_t));
    MPI_Isend(h->sbuf[k], (int)bytes, MPI_BYTE, 0, TAG_ROWS, h->gcomm, &h->req[k]);
}

/* Gather mode, rank 0: receive the message that st announced and write its
 * rows (or count an end marker). Returns 0, or -1 when the write failed
 * (reason kept in h->gerr). */
static int gather_recv(h5out_t *h, const MPI_Status *st)
{
    int bytes = 0;
    MPI_Get_count(st, MPI_BYTE, &bytes);
    if ((size_t)bytes > h->rcap) {
        free(h->rbuf);
        h->rbuf = xmalloc((size_t)bytes);
        h->rcap = (size_t)bytes;
    }
    MPI_Recv(h->rbuf, bytes, MPI_BYTE, st->MPI_SOURCE, st->MPI_TAG, h->gcomm, MPI_STATUS_IGNORE);
    if (st->MPI_TAG == TAG_END) {
        h->ends++;
        return 0;
    }
    int64_t head[2];
    memcpy(head, h->rbuf, sizeof(head));
    if (write_local(h, head[0], (const result_t *)(h->rbuf + sizeof(head)), (size_t)head[1]) < 0) {
        if (!h->gerr[0])
            fs_seterr(h->gerr, sizeof(h->gerr), "writing rows %lld..%lld (from rank %d) of %s failed (disk full?)",
                      (long long)head[0], (long long)(head[0] + head[1] - 1), st->MPI_SOURCE, h->partial);
        return -1;
    }
    return 0;
}

int h5out_poll(h5out_t *h, char *err, size_t errlen)
{
    if (!h || !h->gather || h->rank != 0)
        return 0;
    double t0 = fs_now();
    for (;;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, h->gcomm, &flag, &st);
        if (!flag)
            break;
        gather_recv(h, &st);
    }
    h->write_s += fs_now() - t0;
    if (h->gerr[0])
        return fs_seterr(err, errlen, "%s", h->gerr);
    return 0;
}

int h5out_pending(const h5out_t *h)
{
    return h && h->gather && h->rank == 0 ? h->nranks - 1 - h->ends : 0;
}

void h5out_end_rows(h5out_t *h)
{
    if (!h || !h->gather || h->rank == 0 || h->ended)
        return;
    double t0 = fs_now();
    MPI_Waitall(H5OUT_GATHER_SENDS, h->req, MPI_STATUSES_IGNORE);
    MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_END, h->gcomm);
    h->ended = 1;
    h->write_s += fs_now() - t0;
}

/* Gather mode, rank 0: write rows as they arrive until every other rank has
 * sent its end marker. Returns 0, or -1 when a write failed (h->gerr). */
static int gather_drain(h5out_t *h)
{
    double t0 = fs_now();
    while (h->ends < h->nranks - 1) {
        MPI_Status st;
        MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, h->gcomm, &st);
        gather_recv(h, &st);
    }
    h->write_s += fs_now() - t0;
    return h->gerr[0] ? -1 : 0;
}

int h5out_write_rows(h5out_t *h, int64_t row0, const result_t *r, size_t n, char *err, size_t errlen)
{
    if (n == 0 && !h->collective)
        return 0;
    double t0 = fs_now();
    herr_t rc = 0;
    if (h->gather && h->rank != 0)
        gather_send(h, row0, r, n);
    else
        rc = write_local(h, row0, r, n);
    h->write_s += fs_now() - t0;
    if (rc < 0)
        return fs_seterr(err, errlen, "writing rows %lld..%lld of %s failed (disk full?)", (long long)row0,
                         (long long)(row0 + (int64_t)n - 1), h->partial);
    return h5out_poll(h, err, errlen);
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

/* Write /telemetry (rank 0's copy), the root attributes and checksum_u64,
 * and close the file, on a rank that has it open. Returns 1 if all of that
 * worked, else 0. */
static int write_meta(h5out_t *h, const h5out_telemetry_t *tel, int nranks, const h5out_attr_t *attrs,
                      int nattrs, uint64_t checksum)
{
    int ok = 1;
    hid_t ttype = h5out_telemetry_type();
    hsize_t dims[1] = {(hsize_t)nranks};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dset = H5Dcreate2(h->file, "telemetry", ttype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ok &= dset >= 0;
    if (dset >= 0 && h->rank == 0) /* independent write by one rank */
        ok &= H5Dwrite(dset, ttype, H5S_ALL, H5S_ALL, H5P_DEFAULT, tel) >= 0;
    if (dset >= 0)
        H5Dclose(dset);
    H5Sclose(space);
    H5Tclose(ttype);
    hid_t root = H5Gopen2(h->file, "/", H5P_DEFAULT);
    for (int i = 0; i < nattrs; i++)
        ok &= (attrs[i].value ? h5_attr_str(root, attrs[i].name, attrs[i].value)
               : attrs[i].is_unsigned
                   ? h5_attr_scalar(root, attrs[i].name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &attrs[i].num)
                   : h5_attr_scalar(root, attrs[i].name, H5T_STD_I64LE, H5T_NATIVE_INT64, &attrs[i].num)) == 0;
    ok &= h5_attr_scalar(root, "checksum_u64", H5T_NATIVE_UINT64, H5T_NATIVE_UINT64, &checksum) == 0;
    H5Gclose(root);
    H5Dclose(h->results);
    h->results = H5I_INVALID_HID;
    h5out_set_collective(h, 0);
    ok &= H5Fclose(h->file) >= 0;
    h->file = H5I_INVALID_HID;
    return ok;
}

void h5out_on_finish(h5out_t *h, int (*fn)(void *ctx, hid_t file), void *ctx)
{
    h->extra = fn;
    h->extra_ctx = ctx;
}

int h5out_finish(h5out_t *h, const h5out_telemetry_t *tel, int nranks, const h5out_attr_t *attrs,
                 int nattrs, uint64_t checksum, char *err, size_t errlen)
{
    double t0 = fs_now();
    int rank = h->rank, ok = 1;
    char why[512] = "";
    h5out_end_rows(h);
    if (h->gather && rank == 0 && gather_drain(h) != 0) {
        snprintf(why, sizeof(why), "%s", h->gerr);
        ok = 0;
    }
    /* The close writes metadata, and under MPI-IO a rank that meets a full
     * disk inside H5Fclose leaves the others waiting in HDF5 for ever. So
     * unless the room is reserved, rank 0 checks it first and the ranks
     * agree; without room the file is never closed (see h5out.h). */
    char room_err[512] = "";
    int room = rank != 0 || h->reserved || check_close_room(h, room_err, sizeof(room_err)) == 0;
    if (!all_ok(h->comm, room)) {
        if (rank == 0) {
            remove(h->partial);
            fs_seterr(err, errlen, "%s%s%s; %s removed", why, why[0] ? "; " : "", room_err, h->partial);
        }
        h->file = h->results = H5I_INVALID_HID; /* left open: HDF5 is not called on it again */
        h5out_free(h);
        return H5OUT_UNFINISHABLE;
    }
    if (h->extra && !h->extra(h->extra_ctx, h->file) && !why[0]) {
        snprintf(why, sizeof(why), "writing the portfolio metadata of %s failed (disk full?)", h->partial);
        ok = 0;
    }
    if (h->file >= 0 && !write_meta(h, tel, nranks, attrs, nattrs, checksum)) {
        if (!why[0])
            snprintf(why, sizeof(why), "writing the metadata of %s or closing it failed (disk full?)", h->partial);
        ok = 0;
    }
    H5Tclose(h->rtype);
    h->rtype = H5I_INVALID_HID;
    h->write_s += fs_now() - t0;
    ok = all_ok(h->comm, ok);
    if (rank == 0 && h->reserved)
        release_reserve(h->partial);
    if (ok && rank == 0 && fs_durable_rename(h->partial, h->path, err, errlen) != 0) {
        ok = 0; /* fsync, rename, fsync of the directory: see base/file.h */
    } else if (!ok && rank == 0) {
        fs_seterr(err, errlen, "%s", why[0] ? why : "writing another rank's part of the output failed");
    }
    if (!ok && rank == 0 && remove(h->partial) == 0) {
        size_t n = err ? strlen(err) : 0;
        if (err && n + 1 < errlen)
            snprintf(err + n, errlen - n, "; %s removed", h->partial);
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, h->comm);
    if (!ok && err && !err[0])
        fs_seterr(err, errlen, "finishing %s failed", h->path);
    h5out_free(h);
    return ok ? 0 : -1;
}

void h5out_abort(h5out_t *h)
{
    if (!h)
        return;
    for (int i = 0; i < H5OUT_GATHER_SENDS; i++) /* rows nobody will receive */
        if (h->req[i] != MPI_REQUEST_NULL)
            MPI_Request_free(&h->req[i]);
    if (h->results >= 0)
        H5Dclose(h->results);
    if (h->rtype >= 0)
        H5Tclose(h->rtype);
    h5out_set_collective(h, 0);
    if (h->file >= 0)
        H5Fclose(h->file);
    h5out_free(h);
}
