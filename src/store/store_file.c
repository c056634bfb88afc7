/* store_file.c - the HDF5 trade file: the embedded store when no server is wanted.
 *
 * Layout (format "finsim-trades", version 1):
 *   /                 attributes format="finsim-trades", format_version=1,
 *                     finsim_version, description
 *   /trades/<field>   one 1-D dataset per trade field, all of the same length,
 *                     chunked and extendible; row r of every column is one
 *                     trade. Columns: id (int64, strictly ascending), fx1,
 *                     drift, maturity (float64), t_steps, trials (int32), ro, v,
 *                     sigma1 (float64), warrants_no (int64), notional_per_warr,
 *                     strike (float64), start_date, end_date (10-byte strings),
 *                     present (uint8: 1 = the row holds a trade, 0 = the row
 *                     was reserved for a parallel write that never came).
 *   /mirror           compound dataset, one record per trade row: the result
 *                     mirror (result_t fields; trade_id = -1 and status = -1
 *                     mean "no result yet").
 *
 * Rows are kept in id order, so a rank finds its window without reading the
 * whole portfolio: when the ids are contiguous a row is id - first_id, else a
 * binary search over /trades/id reads a few elements.
 *
 * MPI: store_open with a communicator of more than one rank (or with
 * opts.collective) opens the file with MPI-IO. Open and close are then
 * collective: every rank of the communicator must call both. Between them,
 * reads and writes are independent (each rank its own rows, any number of
 * ranks at once). Datasets cannot be extended independently, so in that
 * mode put_trades only writes rows that exist already; a job that writes
 * new trades from several ranks declares the whole id range at open
 * (opts.expect_first / expect_count) and the rows are created there, in one
 * collective step. Rows written by other ranks are guaranteed visible after
 * close and a new open. With one rank, put_trades appends or inserts rows as
 * needed (an insert before existing ids rewrites the rows after it).
 *
 * Not thread-safe (HDF5 is built without its thread-safe option): use a
 * handle from one thread. One open handle per file and process. HDF5's
 * automatic error printing is turned off for the process at open, and every
 * failure is reported once in
 * st->errstr, naming the file. opts.key_prefix is ignored: the file itself
 * is the namespace. */
#include "finsim/store/store.h"

#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <mpi.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "finsim/base/config_build.h"
#include "finsim/base/util.h"
#include "finsim/trade/result_h5.h"

#define FILE_FORMAT "finsim-trades"
#define FILE_FORMAT_VERSION 1
#define FILE_CHUNK 8192       /* rows per chunk of every dataset */
#define FILE_IO_ROWS 4096     /* least rows handled per read batch */
#define FILE_DATE_LEN 10      /* YYYY-MM-DD, stored without a terminator */

/* ---- columns ---------------------------------------------------------------- */

enum file_kind { FK_I64, FK_F64, FK_I32, FK_DATE, FK_U8 };

enum file_col {
    FC_ID, FC_FX1, FC_DRIFT, FC_MATURITY, FC_TSTEPS, FC_TRIALS, FC_RO, FC_V, FC_SIGMA1,
    FC_WARRANTS, FC_NOTIONAL, FC_STRIKE, FC_START, FC_END, FC_PRESENT, FC_COUNT
};

typedef struct file_coldef {
    const char *name; /* dataset name under /trades */
    int kind;         /* enum file_kind */
    size_t off;       /* offset of the field in trade_t (not for present) */
} file_coldef_t;

static const file_coldef_t file_cols[FC_COUNT] = {
    [FC_ID] = {"id", FK_I64, offsetof(trade_t, id)},
    [FC_FX1] = {"fx1", FK_F64, offsetof(trade_t, fx1)},
    [FC_DRIFT] = {"drift", FK_F64, offsetof(trade_t, drift)},
    [FC_MATURITY] = {"maturity", FK_F64, offsetof(trade_t, maturity)},
    [FC_TSTEPS] = {"t_steps", FK_I32, offsetof(trade_t, t_steps)},
    [FC_TRIALS] = {"trials", FK_I32, offsetof(trade_t, trials)},
    [FC_RO] = {"ro", FK_F64, offsetof(trade_t, ro)},
    [FC_V] = {"v", FK_F64, offsetof(trade_t, v)},
    [FC_SIGMA1] = {"sigma1", FK_F64, offsetof(trade_t, sigma1)},
    [FC_WARRANTS] = {"warrants_no", FK_I64, offsetof(trade_t, warrants_no)},
    [FC_NOTIONAL] = {"notional_per_warr", FK_F64, offsetof(trade_t, notional_per_warr)},
    [FC_STRIKE] = {"strike", FK_F64, offsetof(trade_t, strike)},
    [FC_START] = {"start_date", FK_DATE, offsetof(trade_t, start_date)},
    [FC_END] = {"end_date", FK_DATE, offsetof(trade_t, end_date)},
    [FC_PRESENT] = {"present", FK_U8, 0},
};

/* Bytes of one element of a column in memory (dates: trade_t's char[11]). */
static size_t file_msize(int kind)
{
    switch (kind) {
    case FK_I64:
    case FK_F64: return 8;
    case FK_I32: return 4;
    case FK_DATE: return sizeof(((trade_t *)0)->start_date);
    default: return 1;
    }
}

/* ---- state ------------------------------------------------------------------ */

typedef struct file_priv {
    const char *path;       /* file name (inside st->url) */
    hid_t file;             /* the open file */
    hid_t dset[FC_COUNT];   /* /trades/<column> */
    hid_t mirror;           /* /mirror */
    hid_t date_mtype;       /* memory type of a date: 11-byte NUL-terminated string */
    hid_t date_ftype;       /* file type of a date: 10-byte NUL-padded string */
    hid_t res_mtype;        /* memory type of result_t */
    int parallel;           /* opened with MPI-IO (collective open/close) */
    int rank;               /* rank in the communicator (0 when serial) */
    int nranks;             /* ranks in the communicator (1 when serial) */
    int writable;           /* opened for writing */
    int64_t nrows;          /* rows of every dataset */
    int64_t base_rows;      /* leading rows whose ids this rank may read */
    int64_t first_id;       /* id of row 0 (when base_rows > 0) */
    int64_t base_last;      /* id of row base_rows - 1 (when base_rows > 0) */
    int64_t res_row0;       /* parallel reservation made at open: first row, */
    int64_t res_id0;        /*   its id, */
    int64_t res_n;          /*   and rows (0 = none); row = res_row0 + id - res_id0 */
    char desc[700];         /* store_describe text */
} file_priv_t;

/* Rows of ids during one batch, with the caller's order remembered. */
typedef struct file_pair {
    int64_t id;   /* trade id */
    size_t idx;   /* index in the caller's array */
} file_pair_t;

typedef struct file_plan {
    size_t n;           /* ids in the batch */
    file_pair_t *pairs; /* ascending by (id, idx) */
    size_t *u_of;       /* pairs[k] -> index into urows; SIZE_MAX when absent */
    hsize_t *urows;     /* distinct rows, ascending */
    size_t nu;          /* entries of urows */
} file_plan_t;

/* Column buffers for rows of trades. */
typedef struct file_buf {
    size_t cap;                   /* rows allocated */
    unsigned char *col[FC_COUNT]; /* cap elements of each column (memory size) */
} file_buf_t;

/* ---- small helpers ---------------------------------------------------------- */

/* The innermost message on HDF5's error stack (the most specific reason),
 * copied into buf; "" when the stack is empty. Clears the stack. */
static herr_t file_walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    char *buf = data;
    if (n == 0 && e->desc)
        snprintf(buf, 160, "%s", e->desc);
    return 0;
}

static const char *file_h5_reason(char *buf)
{
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, file_walk_cb, buf);
    H5Eclear2(H5E_DEFAULT);
    if (!buf[0])
        snprintf(buf, 160, "HDF5 call failed");
    return buf;
}

/* Record an HDF5 failure: "<what> in trade file PATH: <HDF5 reason>". */
static int file_fail(store_t *st, int code, const char *what)
{
    file_priv_t *p = st->priv;
    char why[160];
    return store_set_error(st, code, "%s in trade file %s: %s", what, p ? p->path : st->url, file_h5_reason(why));
}

/* qsort order of pairs: by id, then by caller index. */
static int file_cmp_pair(const void *a, const void *b)
{
    const file_pair_t *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Make room for cap rows in every column. Aborts when out of memory. */
static void file_buf_reserve(file_buf_t *b, size_t cap)
{
    if (cap <= b->cap)
        return;
    for (int c = 0; c < FC_COUNT; c++)
        b->col[c] = xrealloc(b->col[c], cap * file_msize(file_cols[c].kind));
    b->cap = cap;
}

/* Free the column buffers. Accepts an empty buffer. */
static void file_buf_free(file_buf_t *b)
{
    for (int c = 0; c < FC_COUNT; c++)
        free(b->col[c]);
    memset(b, 0, sizeof(*b));
}

/* Put trade t into row i of b (present = 1). */
static void file_pack(file_buf_t *b, size_t i, const trade_t *t)
{
    for (int c = 0; c < FC_PRESENT; c++) {
        size_t ms = file_msize(file_cols[c].kind);
        memcpy(b->col[c] + i * ms, (const char *)t + file_cols[c].off, ms);
    }
    b->col[FC_START][i * file_msize(FK_DATE) + FILE_DATE_LEN] = '\0';
    b->col[FC_END][i * file_msize(FK_DATE) + FILE_DATE_LEN] = '\0';
    b->col[FC_PRESENT][i] = 1;
}

/* Fill *t from row i of b; returns that row's present flag. */
static int file_unpack(const file_buf_t *b, size_t i, trade_t *t)
{
    memset(t, 0, sizeof(*t));
    for (int c = 0; c < FC_PRESENT; c++) {
        size_t ms = file_msize(file_cols[c].kind);
        memcpy((char *)t + file_cols[c].off, b->col[c] + i * ms, ms);
    }
    t->start_date[sizeof(t->start_date) - 1] = '\0';
    t->end_date[sizeof(t->end_date) - 1] = '\0';
    return b->col[FC_PRESENT][i] != 0;
}

/* Copy row si of src to row di of dst (every column). */
static void file_buf_copy_row(file_buf_t *dst, size_t di, const file_buf_t *src, size_t si)
{
    for (int c = 0; c < FC_COUNT; c++) {
        size_t ms = file_msize(file_cols[c].kind);
        memcpy(dst->col[c] + di * ms, src->col[c] + si * ms, ms);
    }
}

/* The HDF5 memory and file types of a column kind (not to be closed). */
static hid_t file_mtype(const file_priv_t *p, int kind)
{
    switch (kind) {
    case FK_I64: return H5T_NATIVE_INT64;
    case FK_F64: return H5T_NATIVE_DOUBLE;
    case FK_I32: return H5T_NATIVE_INT32;
    case FK_DATE: return p->date_mtype;
    default: return H5T_NATIVE_UINT8;
    }
}

static hid_t file_ftype(const file_priv_t *p, int kind)
{
    switch (kind) {
    case FK_I64: return H5T_STD_I64LE;
    case FK_F64: return H5T_IEEE_F64LE;
    case FK_I32: return H5T_STD_I32LE;
    case FK_DATE: return p->date_ftype;
    default: return H5T_STD_U8LE;
    }
}

/* The record that marks "no result yet" (the /mirror fill value). */
static void file_no_result(result_t *r)
{
    result_fail(r, -1, -1, -1);
}

/* Read (write = 0) or write (write = 1) n elements of dataset d, memory
 * type mtype, from/to buf: rows [row0, row0 + n) when rows is NULL, else the
 * distinct ascending rows[0..n). Returns 0, or -1 with HDF5's reason on its
 * error stack. Independent I/O (also under MPI-IO). */
static int file_rows_io(hid_t d, hid_t mtype, int64_t row0, const hsize_t *rows, size_t n, void *buf, int write)
{
    if (n == 0)
        return 0;
    if (rows && rows[n - 1] - rows[0] == n - 1) { /* one run: a hyperslab is cheaper */
        row0 = (int64_t)rows[0];
        rows = NULL;
    }
    hsize_t cnt = n, start = (hsize_t)row0;
    hid_t fs = H5Dget_space(d);
    hid_t ms = H5Screate_simple(1, &cnt, NULL);
    herr_t rc = fs < 0 || ms < 0 ? -1
              : rows ? H5Sselect_elements(fs, H5S_SELECT_SET, n, rows)
                     : H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &cnt, NULL);
    if (rc >= 0)
        rc = write ? H5Dwrite(d, mtype, ms, fs, H5P_DEFAULT, buf) : H5Dread(d, mtype, ms, fs, H5P_DEFAULT, buf);
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    return rc < 0 ? -1 : 0;
}

/* Read or write every trade column (present included) for the rows, from
 * or into b. Returns STORE_OK or STORE_E_IO with the column named. */
static int file_cols_io(store_t *st, int64_t row0, const hsize_t *rows, size_t n, file_buf_t *b, int write)
{
    file_priv_t *p = st->priv;
    for (int c = 0; c < FC_COUNT; c++) {
        if (file_rows_io(p->dset[c], file_mtype(p, file_cols[c].kind), row0, rows, n, b->col[c], write) < 0) {
            char what[96];
            snprintf(what, sizeof(what), "%s /trades/%s (%zu rows)", write ? "writing" : "reading", file_cols[c].name, n);
            return file_fail(st, STORE_E_IO, what);
        }
    }
    return STORE_OK;
}

/* ---- finding rows ------------------------------------------------------------ */

/* Id stored at row (one-element read). Returns STORE_OK or STORE_E_IO. */
static int file_id_at(store_t *st, int64_t row, int64_t *id)
{
    file_priv_t *p = st->priv;
    if (file_rows_io(p->dset[FC_ID], H5T_NATIVE_INT64, row, NULL, 1, id, 0) < 0)
        return file_fail(st, STORE_E_IO, "reading /trades/id");
    return STORE_OK;
}

/* First row in [lo, hi) whose id is >= target (hi when none), by binary
 * search over /trades/id. Returns STORE_OK or STORE_E_IO. */
static int file_lower_bound(store_t *st, int64_t target, int64_t lo, int64_t hi, int64_t *row)
{
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2, id;
        int rc = file_id_at(st, mid, &id);
        if (rc != STORE_OK)
            return rc;
        if (id < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    *row = lo;
    return STORE_OK;
}

/* Rows of the ascending ids[0..n) (repeats allowed) into rows[], -1 for ids
 * the file has no row for. Contiguous files need no reads; otherwise one
 * binary search per gap and block reads of the id column, so the cost
 * follows the ids asked for, not the file. Returns STORE_OK or STORE_E_IO. */
static int file_locate(store_t *st, const int64_t *ids, size_t n, int64_t *rows)
{
    file_priv_t *p = st->priv;
    int dense = p->base_rows > 0 && p->base_last - p->first_id == p->base_rows - 1;
    int64_t *blk = NULL, blk_row = 0, blk_n = 0, blk_lo = 0, from = 0;
    int rc = STORE_OK;
    size_t i = 0;
    while (i < n) {
        int64_t id = ids[i];
        rows[i] = -1;
        if (p->res_n > 0 && id >= p->res_id0 && id - p->res_id0 < p->res_n) {
            rows[i++] = p->res_row0 + (id - p->res_id0);
            continue;
        }
        if (p->base_rows == 0 || id < p->first_id || id > p->base_last) {
            i++;
            continue;
        }
        if (dense) {
            rows[i++] = id - p->first_id;
            continue;
        }
        if (blk_n > 0 && id >= blk_lo && id <= blk[blk_n - 1]) {
            int64_t lo = 0, hi = blk_n; /* lower bound in the block */
            while (lo < hi) {
                int64_t mid = lo + (hi - lo) / 2;
                if (blk[mid] < id)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            rows[i++] = blk[lo] == id ? blk_row + lo : -1;
            continue;
        }
        int64_t r;
        if ((rc = file_lower_bound(st, id, from, p->base_rows, &r)) != STORE_OK)
            break;
        if (r >= p->base_rows) { /* cannot happen while id <= base_last */
            i++;
            continue;
        }
        if (!blk)
            blk = xmalloc(FILE_IO_ROWS * sizeof(*blk));
        blk_n = p->base_rows - r < FILE_IO_ROWS ? p->base_rows - r : FILE_IO_ROWS;
        if (file_rows_io(p->dset[FC_ID], H5T_NATIVE_INT64, r, NULL, (size_t)blk_n, blk, 0) < 0) {
            rc = file_fail(st, STORE_E_IO, "reading /trades/id");
            break;
        }
        blk_row = from = r;
        blk_lo = id; /* ids in [id, blk[0]) are known to be absent */
    }
    free(blk);
    return rc;
}

/* Sort the n ids of a batch, find their rows and the distinct rows to read
 * or write. ids may be unsorted and hold repeats. On failure the plan is
 * freed. Returns STORE_OK or STORE_E_IO. */
static int file_plan_make(store_t *st, const int64_t *ids, size_t n, file_plan_t *pl)
{
    memset(pl, 0, sizeof(*pl));
    pl->n = n;
    pl->pairs = xmalloc((n ? n : 1) * sizeof(*pl->pairs));
    pl->u_of = xmalloc((n ? n : 1) * sizeof(*pl->u_of));
    pl->urows = xmalloc((n ? n : 1) * sizeof(*pl->urows));
    int64_t *sorted = xmalloc((n ? n : 1) * sizeof(*sorted));
    int64_t *rows = xmalloc((n ? n : 1) * sizeof(*rows));
    for (size_t k = 0; k < n; k++) {
        pl->pairs[k].id = ids[k];
        pl->pairs[k].idx = k;
    }
    qsort(pl->pairs, n, sizeof(*pl->pairs), file_cmp_pair);
    for (size_t k = 0; k < n; k++)
        sorted[k] = pl->pairs[k].id;
    int rc = file_locate(st, sorted, n, rows);
    if (rc == STORE_OK) {
        for (size_t k = 0; k < n; k++) {
            if (rows[k] < 0) {
                pl->u_of[k] = SIZE_MAX;
                continue;
            }
            if (pl->nu == 0 || pl->urows[pl->nu - 1] != (hsize_t)rows[k])
                pl->urows[pl->nu++] = (hsize_t)rows[k];
            pl->u_of[k] = pl->nu - 1;
        }
    }
    free(sorted);
    free(rows);
    if (rc != STORE_OK) {
        free(pl->pairs);
        free(pl->u_of);
        free(pl->urows);
        memset(pl, 0, sizeof(*pl));
    }
    return rc;
}

static void file_plan_free(file_plan_t *pl)
{
    free(pl->pairs);
    free(pl->u_of);
    free(pl->urows);
    memset(pl, 0, sizeof(*pl));
}

/* Last id the file has a row for (valid when nrows > 0). */
static int64_t file_last_id(const file_priv_t *p)
{
    return p->res_n > 0 ? p->res_id0 + p->res_n - 1 : p->base_last;
}

/* ---- structure: create, extend, reserve -------------------------------------- */

/* Dataset creation properties: chunked, allocated at once (required for
 * independent MPI-IO writes), filled with fill (of type t) when given. */
static hid_t file_dcpl(hid_t t, const void *fill)
{
    hsize_t chunk = FILE_CHUNK;
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl < 0 || H5Pset_chunk(dcpl, 1, &chunk) < 0 || H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) < 0 ||
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC) < 0 || (fill && H5Pset_fill_value(dcpl, t, fill) < 0)) {
        if (dcpl >= 0)
            H5Pclose(dcpl);
        return -1;
    }
    return dcpl;
}

/* Create the groups, datasets (rows rows each) and attributes of a new
 * trade file. Collective under MPI-IO. Returns STORE_OK or STORE_E_IO. */
static int file_create_layout(store_t *st, int64_t rows)
{
    file_priv_t *p = st->priv;
    static const char desc[] =
        "finsim trade file: /trades holds one dataset per trade field, row r of each is one trade, rows in "
        "ascending id order; present = 0 marks a row reserved but never written. /mirror holds the result "
        "mirrored for the trade of the same row (trade_id -1: no result yet).";
    const int32_t version = FILE_FORMAT_VERSION;
    if (h5_attr_str(p->file, "format", FILE_FORMAT) < 0 ||
        h5_attr_scalar(p->file, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT32, &version) < 0 ||
        h5_attr_str(p->file, "finsim_version", FINSIM_VERSION) < 0 || h5_attr_str(p->file, "description", desc) < 0)
        return file_fail(st, STORE_E_IO, "writing the format attributes");
    hid_t g = H5Gcreate2(p->file, "trades", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return file_fail(st, STORE_E_IO, "creating group /trades");
    hsize_t dims = (hsize_t)rows, maxdims = H5S_UNLIMITED;
    hid_t space = H5Screate_simple(1, &dims, &maxdims);
    int rc = STORE_OK;
    for (int c = 0; c < FC_COUNT && rc == STORE_OK; c++) {
        int kind = file_cols[c].kind;
        int64_t fill_i64 = c == FC_ID ? -1 : 0;
        char fill_date[16] = "";
        const void *fill = kind == FK_I64 ? (const void *)&fill_i64 : kind == FK_DATE ? (const void *)fill_date : NULL;
        hid_t dcpl = file_dcpl(file_mtype(p, kind), fill);
        p->dset[c] = dcpl < 0 ? -1
                   : H5Dcreate2(g, file_cols[c].name, file_ftype(p, kind), space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (dcpl >= 0)
            H5Pclose(dcpl);
        if (p->dset[c] < 0) {
            char what[96];
            snprintf(what, sizeof(what), "creating dataset /trades/%s", file_cols[c].name);
            rc = file_fail(st, STORE_E_IO, what);
        }
    }
    if (rc == STORE_OK) {
        result_t fill;
        file_no_result(&fill);
        hid_t ftype = result_h5_type(RESULT_H5_PACKED);
        hid_t dcpl = ftype < 0 ? -1 : file_dcpl(p->res_mtype, &fill);
        p->mirror = dcpl < 0 ? -1 : H5Dcreate2(p->file, "mirror", ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (dcpl >= 0)
            H5Pclose(dcpl);
        if (ftype >= 0)
            H5Tclose(ftype);
        if (p->mirror < 0)
            rc = file_fail(st, STORE_E_IO, "creating dataset /mirror");
    }
    H5Sclose(space);
    H5Gclose(g);
    if (rc == STORE_OK)
        p->nrows = rows;
    return rc;
}

/* Grow every dataset to rows rows (new rows hold fill values). Collective
 * under MPI-IO. Returns STORE_OK or STORE_E_IO. */
static int file_extend(store_t *st, int64_t rows)
{
    file_priv_t *p = st->priv;
    hsize_t dims = (hsize_t)rows;
    for (int c = 0; c < FC_COUNT; c++)
        if (H5Dset_extent(p->dset[c], &dims) < 0)
            return file_fail(st, STORE_E_IO, "extending /trades (disk full?)");
    if (H5Dset_extent(p->mirror, &dims) < 0)
        return file_fail(st, STORE_E_IO, "extending /mirror (disk full?)");
    p->nrows = rows;
    return STORE_OK;
}

/* Give the ids [a, a + cnt) rows at open, so that several ranks can then
 * write them independently. Ids the file holds already keep their rows;
 * new ones must all lie after the last id (they are appended, ids written
 * to /trades/id, present = 0 until a trade is put). Anything else would be
 * an insert: an error with several ranks, and with one rank nothing to do
 * (put_trades inserts). Collective under MPI-IO: every rank must pass the
 * same range. Returns STORE_OK, STORE_E_USAGE or STORE_E_IO. */
static int file_reserve(store_t *st, int64_t a, int64_t cnt)
{
    file_priv_t *p = st->priv;
    int64_t b = a + cnt - 1, new_from = a;
    int rc;
    if (p->nrows > 0 && a <= p->base_last) {
        /* the part up to base_last must exist already */
        int64_t m = b < p->base_last ? b : p->base_last, ra = 0, rb = 0;
        int ok = a >= p->first_id;
        if (ok && (rc = file_lower_bound(st, a, 0, p->base_rows, &ra)) != STORE_OK)
            return rc;
        if (ok && (rc = file_lower_bound(st, m + 1, ra, p->base_rows, &rb)) != STORE_OK)
            return rc;
        if (!ok || rb - ra != m - a + 1) {
            if (!p->parallel)
                return STORE_OK;
            return store_set_error(st, STORE_E_USAGE,
                                   "cannot reserve trade ids %lld..%lld in %s for a parallel write: the file "
                                   "holds ids %lld..%lld with gaps in that range; add such trades with one rank",
                                   (long long)a, (long long)b, p->path, (long long)p->first_id,
                                   (long long)p->base_last);
        }
        new_from = m + 1;
    }
    if (new_from > b)
        return STORE_OK;
    int64_t row0 = p->nrows, n = b - new_from + 1;
    if ((rc = file_extend(st, row0 + n)) != STORE_OK)
        return rc;
    /* this rank's share of the new id column */
    int64_t k0 = n * p->rank / p->nranks, k1 = n * (p->rank + 1) / p->nranks;
    int64_t *v = xmalloc(FILE_IO_ROWS * sizeof(*v));
    for (int64_t k = k0; k < k1 && rc == STORE_OK; k += FILE_IO_ROWS) {
        int64_t m = k1 - k < FILE_IO_ROWS ? k1 - k : FILE_IO_ROWS;
        for (int64_t j = 0; j < m; j++)
            v[j] = new_from + k + j;
        if (file_rows_io(p->dset[FC_ID], H5T_NATIVE_INT64, row0 + k, NULL, (size_t)m, v, 1) < 0)
            rc = file_fail(st, STORE_E_IO, "writing /trades/id");
    }
    free(v);
    if (rc != STORE_OK)
        return rc;
    if (row0 == 0)
        p->first_id = new_from;
    if (p->parallel) { /* other ranks' ids are not readable here: keep the arithmetic */
        p->res_row0 = row0;
        p->res_id0 = new_from;
        p->res_n = n;
    } else {
        p->base_rows = p->nrows;
        p->base_last = b;
    }
    return STORE_OK;
}

/* ---- open / close ----------------------------------------------------------- */

/* Read a string attribute of obj into buf (fixed or variable length).
 * Returns 0, or -1 when absent or not a string. */
static int file_get_str_attr(hid_t obj, const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    if (H5Aexists(obj, name) <= 0)
        return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    int rc = -1;
    if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        if (H5Tis_variable_str(t) > 0) {
            char *s = NULL;
            if (H5Tset_size(mt, H5T_VARIABLE) >= 0 && H5Aread(a, mt, &s) >= 0 && s) {
                snprintf(buf, len, "%s", s);
                H5free_memory(s);
                rc = 0;
            }
        } else {
            size_t sz = H5Tget_size(t);
            char *s = xcalloc(1, sz + 1);
            if (H5Tset_size(mt, sz + 1) >= 0 && H5Aread(a, mt, s) >= 0) {
                snprintf(buf, len, "%s", s);
                rc = 0;
            }
            free(s);
        }
        H5Tclose(mt);
    }
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    return rc;
}

/* Check that file f is a finsim trade file this code can read. Returns
 * STORE_OK or STORE_E_USAGE with the reason. */
static int file_check_format(store_t *st, hid_t f, const char *path)
{
    char fmt[64];
    if (file_get_str_attr(f, "format", fmt, sizeof(fmt)) != 0 || strcmp(fmt, FILE_FORMAT) != 0) {
        H5Eclear2(H5E_DEFAULT);
        return store_set_error(st, STORE_E_USAGE,
                               "%s is an HDF5 file but not a finsim trade file (no format=\"%s\" attribute); "
                               "make trade files with finsim generate --store FILE", path, FILE_FORMAT);
    }
    int32_t ver = 0;
    hid_t a = H5Aexists(f, "format_version") > 0 ? H5Aopen(f, "format_version", H5P_DEFAULT) : -1;
    int ok = a >= 0 && H5Aread(a, H5T_NATIVE_INT32, &ver) >= 0;
    if (a >= 0)
        H5Aclose(a);
    H5Eclear2(H5E_DEFAULT);
    if (!ok)
        return store_set_error(st, STORE_E_USAGE, "trade file %s has no readable format_version attribute", path);
    if (ver < 1 || ver > FILE_FORMAT_VERSION)
        return store_set_error(st, STORE_E_USAGE,
                               "trade file %s has format version %d; this finsim reads version %d (upgrade finsim)",
                               path, (int)ver, FILE_FORMAT_VERSION);
    return STORE_OK;
}

/* Before creating path: refuse to truncate anything that is not a finsim
 * trade file (a results file, a document), so a wrong --store cannot
 * destroy data. An empty file or a missing one is fine. */
static int file_check_overwrite(store_t *st, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return STORE_OK; /* missing, or a path problem that create reports */
    if (S_ISDIR(sb.st_mode))
        return store_set_error(st, STORE_E_USAGE, "%s is a directory, not a trade file", path);
    if (!S_ISREG(sb.st_mode) || sb.st_size == 0)
        return STORE_OK;
    if (H5Fis_hdf5(path) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return store_set_error(st, STORE_E_USAGE,
                               "%s exists and is not an HDF5 trade file; refusing to overwrite it (remove it first)",
                               path);
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        char why[160];
        return store_set_error(st, STORE_E_IO, "cannot open existing file %s to check it before overwriting: %s",
                               path, file_h5_reason(why));
    }
    int rc = file_check_format(st, f, path);
    H5Fclose(f);
    if (rc != STORE_OK)
        return store_set_error(st, STORE_E_USAGE,
                               "%s exists and is not a finsim trade file; refusing to overwrite it (remove it first)",
                               path);
    return STORE_OK;
}

/* The reason an OS-level open of path with flags fails ("" when it
 * succeeds; then the file is left as it was). */
static void file_os_reason(const char *path, int flags, char *buf, size_t len)
{
    buf[0] = '\0';
    int created = 0;
    int fd = open(path, flags | ((flags & O_CREAT) ? O_EXCL : 0), 0666);
    if (fd < 0 && (flags & O_CREAT) && errno == EEXIST)
        fd = open(path, flags & ~O_CREAT);
    else if (fd >= 0 && (flags & O_CREAT))
        created = 1;
    if (fd < 0) {
        snprintf(buf, len, "%s", strerror(errno));
        return;
    }
    close(fd);
    if (created)
        unlink(path);
}

/* A /mirror written before results carried a digest (finsim 0.1.0 up to
 * the second hardening round) lacks the member. Its results could never be
 * reused (their fingerprints name no finsim or kernel version), and new
 * results written into it would lose their digests, so a writable open
 * moves it aside to /mirror_nodigest (kept, readable) and creates an empty
 * /mirror of the current record. Collective under MPI-IO like every other
 * change of the file's structure. A read-only open reads the old one: its
 * results have digest 0, which --resume treats as stale. */
static int file_mirror_upgrade(store_t *st, hsize_t rows)
{
    file_priv_t *p = st->priv;
    hid_t t = H5Dget_type(p->mirror);
    int has = t >= 0 && H5Tget_member_index(t, "digest") >= 0;
    if (t >= 0)
        H5Tclose(t);
    H5Eclear2(H5E_DEFAULT);
    if (has || !p->writable)
        return STORE_OK;
    H5Dclose(p->mirror);
    p->mirror = -1;
    if (H5Lexists(p->file, "mirror_nodigest", H5P_DEFAULT) > 0)
        H5Ldelete(p->file, "mirror_nodigest", H5P_DEFAULT);
    if (H5Lmove(p->file, "mirror", p->file, "mirror_nodigest", H5P_DEFAULT, H5P_DEFAULT) < 0)
        return file_fail(st, STORE_E_IO, "moving the old /mirror aside");
    hsize_t maxd = H5S_UNLIMITED;
    hid_t space = H5Screate_simple(1, &rows, &maxd);
    result_t fill;
    file_no_result(&fill);
    hid_t ftype = result_h5_type(RESULT_H5_PACKED);
    hid_t dcpl = ftype < 0 || space < 0 ? -1 : file_dcpl(p->res_mtype, &fill);
    p->mirror = dcpl < 0 ? -1 : H5Dcreate2(p->file, "mirror", ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (space >= 0)
        H5Sclose(space);
    if (p->mirror < 0)
        return file_fail(st, STORE_E_IO, "creating dataset /mirror");
    if (p->rank == 0)
        fs_warn("trade file %s: its result mirror predates result digests; moved to /mirror_nodigest "
                "(those results are stale for this finsim) and a new /mirror was made", p->path);
    return STORE_OK;
}

/* Open the datasets of an existing file and check they agree in length. */
static int file_open_layout(store_t *st)
{
    file_priv_t *p = st->priv;
    hsize_t dims[1], rows = 0;
    for (int c = 0; c <= FC_COUNT; c++) {
        char name[64];
        if (c < FC_COUNT)
            snprintf(name, sizeof(name), "/trades/%s", file_cols[c].name);
        else
            snprintf(name, sizeof(name), "/mirror");
        hid_t d = H5Lexists(p->file, "trades", H5P_DEFAULT) > 0 && H5Lexists(p->file, name, H5P_DEFAULT) > 0
                      ? H5Dopen2(p->file, name, H5P_DEFAULT) : -1;
        if (d < 0) {
            H5Eclear2(H5E_DEFAULT);
            return store_set_error(st, STORE_E_USAGE, "trade file %s is damaged: dataset %s is missing", p->path,
                                   name);
        }
        if (c < FC_COUNT)
            p->dset[c] = d;
        else
            p->mirror = d;
        hid_t sp = H5Dget_space(d);
        int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
        if (nd == 1)
            H5Sget_simple_extent_dims(sp, dims, NULL);
        if (sp >= 0)
            H5Sclose(sp);
        if (nd != 1 || (c > 0 && dims[0] != rows))
            return store_set_error(st, STORE_E_USAGE,
                                   "trade file %s is damaged: dataset %s has %llu rows, /trades/id has %llu",
                                   p->path, name, nd == 1 ? (unsigned long long)dims[0] : 0ULL,
                                   (unsigned long long)rows);
        if (c == 0)
            rows = dims[0];
    }
    p->nrows = p->base_rows = (int64_t)rows;
    if (file_mirror_upgrade(st, rows) != STORE_OK)
        return STORE_E_IO;
    if (rows > 0) {
        int rc = file_id_at(st, 0, &p->first_id);
        if (rc == STORE_OK)
            rc = file_id_at(st, p->nrows - 1, &p->base_last);
        if (rc != STORE_OK)
            return rc;
    }
    return STORE_OK;
}

/* Close every HDF5 object of p and free it. Collective under MPI-IO. */
static void file_priv_free(file_priv_t *p)
{
    if (!p)
        return;
    for (int c = 0; c < FC_COUNT; c++)
        if (p->dset[c] >= 0)
            H5Dclose(p->dset[c]);
    if (p->mirror >= 0)
        H5Dclose(p->mirror);
    if (p->date_mtype >= 0)
        H5Tclose(p->date_mtype);
    if (p->date_ftype >= 0)
        H5Tclose(p->date_ftype);
    if (p->res_mtype >= 0)
        H5Tclose(p->res_mtype);
    if (p->file >= 0)
        H5Fclose(p->file);
    free(p);
}

/* Any URL not claimed by another backend; "file://" is stripped. */
static int file_accepts(const char *url)
{
    return url && *url;
}

/* Do every rank of an MPI-IO open agree that ok? (1 when serial). */
static int file_all_ok(const file_priv_t *p, MPI_Comm comm, int ok)
{
    if (!p->parallel)
        return ok;
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, comm);
    return all;
}

/* Agree on a step of file_open over comm: STORE_OK when it worked on every
 * rank (rc is this rank's outcome). Otherwise every rank takes the error
 * code and message of the lowest failing rank, with that rank's number and
 * host when there are several ranks (a trade file missing on one host is
 * named there, not as "another rank failed"), and returns that code. */
static int file_agree(store_t *st, const file_priv_t *p, MPI_Comm comm, int rc)
{
    if (file_all_ok(p, comm, rc == STORE_OK))
        return STORE_OK;
    if (!p->parallel)
        return rc;
    int mine = rc != STORE_OK ? p->rank : p->nranks, first = 0;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
    struct { int code; char msg[sizeof(st->errstr)]; } e = {rc, ""};
    if (p->rank == first) {
        char host[MPI_MAX_PROCESSOR_NAME] = "";
        int len = 0;
        MPI_Get_processor_name(host, &len);
        snprintf(e.msg, sizeof(e.msg), "%.*s (rank %d on host %s)", (int)(sizeof(e.msg) - 100), st->errstr,
                 p->rank, host);
    }
    MPI_Bcast(&e, (int)sizeof(e), MPI_BYTE, first, comm);
    return store_set_error(st, e.code, "%s", e.msg);
}

/* HDF5 refused to lock path: another process has it open in a way that
 * excludes this open. The error in plain words, with what to do. Returns
 * STORE_E_IO. */
static int file_locked(store_t *st, const char *path)
{
    return store_set_error(st, STORE_E_IO,
                           "trade file %s is locked by another process (HDF5 file locking): readers (run "
                           "--no-mirror, export, screen) share a file, a writer needs it alone. Wait for the "
                           "other process; on NFS or Lustre without locks set HDF5_USE_FILE_LOCKING=FALSE",
                           path);
}

/* The body of file_open once p is attached to st. */
static int file_open_body(store_t *st, const store_opts_t *o, MPI_Comm comm)
{
    file_priv_t *p = st->priv;
    const char *path = p->path;
    int rc = STORE_OK;
    struct stat sb;
    if (o->create) {
        rc = file_check_overwrite(st, path);
    } else if (stat(path, &sb) != 0) {
        if (errno == ENOENT)
            rc = store_set_error(st, STORE_E_NOTFOUND,
                                 "trade file %s does not exist; make one with: finsim generate --store %s --trades N",
                                 path, path);
        else
            rc = store_set_error(st, STORE_E_IO, "cannot open trade file %s: %s", path, strerror(errno));
    } else if (S_ISDIR(sb.st_mode)) {
        rc = store_set_error(st, STORE_E_USAGE, "%s is a directory, not a trade file", path);
    } else {
        htri_t h5 = H5Fis_hdf5(path);
        if (h5 <= 0) {
            char why[160];
            file_os_reason(path, O_RDONLY, why, sizeof(why));
            H5Eclear2(H5E_DEFAULT);
            if (why[0])
                rc = store_set_error(st, STORE_E_IO, "cannot read trade file %s: %s", path, why);
            else
                rc = store_set_error(st, STORE_E_USAGE,
                                     "%s is not an HDF5 file, so not a finsim trade file (make one with: finsim "
                                     "generate --store FILE --trades N)", path);
        }
    }
    if ((rc = file_agree(st, p, comm, rc)) != STORE_OK)
        return rc;

    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (p->parallel)
        H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    if (o->create)
        p->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    else
        p->file = H5Fopen(path, p->writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
    char why[160], h5why[160] = "";
    if (p->file < 0) /* before the next HDF5 call clears the error stack */
        file_h5_reason(h5why);
    H5Pclose(fapl);
    if (!file_all_ok(p, comm, p->file >= 0)) {
        why[0] = '\0';
        if (p->rank == 0)
            file_os_reason(path, o->create ? O_WRONLY | O_CREAT : p->writable ? O_RDWR : O_RDONLY, why, sizeof(why));
        if (p->parallel)
            MPI_Bcast(why, sizeof(why), MPI_CHAR, 0, comm);
        if (!why[0] && p->file < 0 && strstr(h5why, "lock"))
            return file_locked(st, path);
        return store_set_error(st, STORE_E_IO, "cannot %s trade file %s: %s",
                               o->create ? "create" : p->writable ? "open for writing" : "open", path,
                               why[0] ? why : p->file < 0 ? h5why : "another rank failed");
    }
    if (o->create) {
        rc = file_create_layout(st, 0);
    } else {
        rc = file_check_format(st, p->file, path);
        if (rc == STORE_OK)
            rc = file_open_layout(st);
    }
    if ((rc = file_agree(st, p, comm, rc)) != STORE_OK)
        return rc;
    if (p->writable && o->expect_count > 0) {
        if (o->expect_first < 0 || o->expect_count > TRADE_MAX_ID + 1 ||
            o->expect_first > TRADE_MAX_ID + 1 - o->expect_count)
            rc = store_set_error(st, STORE_E_USAGE, "trade ids %lld..%lld are outside 0..%lld",
                                 (long long)o->expect_first, (long long)(o->expect_first + o->expect_count - 1),
                                 TRADE_MAX_ID);
        else
            rc = file_reserve(st, o->expect_first, o->expect_count);
        if ((rc = file_agree(st, p, comm, rc)) != STORE_OK)
            return rc;
    }
    return STORE_OK;
}

/* Open (o->readonly), create or truncate (o->create) the trade file named
 * by url (a path, optionally "file://path"). mpi_comm (MPI_Comm *) with
 * more than one rank, or o->collective, opens it with MPI-IO on that
 * communicator: then every rank must call open and close, with the same
 * url and options. A missing file without o->create is STORE_E_NOTFOUND;
 * an unrelated or damaged file STORE_E_USAGE; an OS failure STORE_E_IO
 * with the OS reason. On failure everything opened is closed (under MPI-IO
 * every rank returns an error). */
static int file_open(store_t *st, const char *url, const store_opts_t *o, void *mpi_comm)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* finsim reports HDF5 errors itself, once */
    const char *path = strncmp(url, "file://", 7) == 0 ? url + 7 : url;
    const char *colon = strstr(path, "://");
    if (colon && colon > path && strspn(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-") ==
                                     (size_t)(colon - path))
        return store_set_error(st, STORE_E_USAGE,
                               "unknown store URL scheme in '%s': use redis://, rediss://, unix://, mem:// or a "
                               "trade file path", url);
    if (!*path)
        return store_set_error(st, STORE_E_USAGE, "empty trade file name in '%s'", url);
    /* A bare name is a trade file only when it is one already or looks
     * like one: "localhost:6379" must not become a new file of that name. */
    struct stat sb;
    const char *dot = strrchr(path, '.');
    int h5_name = dot && !strchr(dot, '/') && (!strcasecmp(dot, ".h5") || !strcasecmp(dot, ".hdf5"));
    if (path == url && !h5_name && stat(path, &sb) != 0)
        return store_set_error(st, STORE_E_USAGE,
                               "store '%s' has no URL scheme and names no existing trade file: write "
                               "redis://HOST:PORT for Redis (rediss:// with TLS, unix:///path.sock), and give a "
                               "trade file a .h5 or .hdf5 name (or file://PATH)",
                               url);
    if (o->create && o->readonly)
        return store_set_error(st, STORE_E_USAGE, "cannot create trade file %s read-only", path);

    file_priv_t *p = xcalloc(1, sizeof(*p));
    p->path = st->url + (path - url);
    p->file = p->mirror = -1;
    for (int c = 0; c < FC_COUNT; c++)
        p->dset[c] = -1;
    p->nranks = 1;
    p->writable = !o->readonly;
    MPI_Comm comm = MPI_COMM_SELF;
    int mpi_up = 0;
    MPI_Initialized(&mpi_up);
    if (mpi_comm && mpi_up) {
        comm = *(MPI_Comm *)mpi_comm;
        MPI_Comm_size(comm, &p->nranks);
        MPI_Comm_rank(comm, &p->rank);
        p->parallel = p->nranks > 1 || o->collective;
    }
    p->date_mtype = H5Tcopy(H5T_C_S1);
    H5Tset_size(p->date_mtype, FILE_DATE_LEN + 1);
    H5Tset_strpad(p->date_mtype, H5T_STR_NULLTERM);
    p->date_ftype = H5Tcopy(H5T_C_S1);
    H5Tset_size(p->date_ftype, FILE_DATE_LEN);
    H5Tset_strpad(p->date_ftype, H5T_STR_NULLPAD);
    p->res_mtype = result_h5_type(RESULT_H5_NATIVE);
    st->priv = p;
    int rc = p->date_mtype < 0 || p->date_ftype < 0 || p->res_mtype < 0
                 ? file_fail(st, STORE_E_IO, "making HDF5 types")
                 : file_open_body(st, o, comm);
    if (rc != STORE_OK) {
        file_priv_free(p);
        st->priv = NULL;
        return rc;
    }
    return STORE_OK;
}

/* Flush the HDF5 caches (the mirror's chunks) to the file. Opened by one
 * rank only: H5Fflush is collective under MPI-IO, where independent raw
 * data writes go to the file without a chunk cache anyway. */
static int file_flush(store_t *st)
{
    file_priv_t *p = st->priv;
    if (!p || p->parallel || !p->writable || p->file < 0)
        return STORE_OK;
    if (H5Fflush(p->file, H5F_SCOPE_LOCAL) < 0)
        return file_fail(st, STORE_E_IO, "flushing");
    return STORE_OK;
}

/* Close the file (collective under MPI-IO). Cannot fail visibly: data was
 * written by the calls that reported success. */
static void file_close(store_t *st)
{
    file_priv_free(st->priv);
    st->priv = NULL;
}

/* ---- trades ------------------------------------------------------------------ */

/* Read trades ids[0..n) into out[]: rows found by file_locate, each column
 * read as one hyperslab (or point selection) per batch, every trade checked
 * with trade_validate. Absent ids and reserved rows never written get
 * FS_E_NOT_FOUND naming the file. Returns STORE_OK, or STORE_E_IO when the
 * file cannot be read (slots then undefined). */
static int file_get_trades(store_t *st, const int64_t *ids, size_t n, trade_slot_t *out)
{
    file_priv_t *p = st->priv;
    size_t bsz = st->opts.batch > FILE_IO_ROWS ? (size_t)st->opts.batch : FILE_IO_ROWS;
    file_buf_t b = {0};
    int rc = STORE_OK;
    for (size_t off = 0; off < n && rc == STORE_OK; off += bsz) {
        size_t m = n - off < bsz ? n - off : bsz;
        file_plan_t pl;
        if ((rc = file_plan_make(st, ids + off, m, &pl)) != STORE_OK)
            break;
        file_buf_reserve(&b, pl.nu ? pl.nu : 1);
        rc = file_cols_io(st, 0, pl.urows, pl.nu, &b, 0);
        st->stats.round_trips++;
        double t0 = fs_now();
        for (size_t k = 0; k < m && rc == STORE_OK; k++) {
            trade_slot_t *s = &out[off + pl.pairs[k].idx];
            int64_t id = pl.pairs[k].id;
            if (pl.u_of[k] == SIZE_MAX) {
                memset(&s->trade, 0, sizeof(s->trade));
                s->trade.id = id;
                s->status = FS_E_NOT_FOUND;
                snprintf(s->msg, sizeof(s->msg), "trade %010lld is not in trade file %s", (long long)id, p->path);
            } else if (!file_unpack(&b, pl.u_of[k], &s->trade)) {
                s->trade.id = id;
                s->status = FS_E_NOT_FOUND;
                snprintf(s->msg, sizeof(s->msg),
                         "trade %010lld has a row in trade file %s but was never written (interrupted generate?)",
                         (long long)id, p->path);
            } else if (s->trade.id != id) {
                s->status = FS_E_ID_MISMATCH;
                snprintf(s->msg, sizeof(s->msg), "row for trade %010lld in trade file %s holds trade %010lld",
                         (long long)id, p->path, (long long)s->trade.id);
            } else {
                s->status = trade_validate(&s->trade, s->msg, sizeof(s->msg));
            }
        }
        st->stats.parse_s += fs_now() - t0;
        file_plan_free(&pl);
    }
    file_buf_free(&b);
    return rc;
}

/* Insert the trades *nt[0..m) (ascending, distinct ids, none in the file)
 * with one rank: rows after the insertion point move down, with their
 * results. Appending (every id past the last) moves nothing. */
static int file_insert(store_t *st, const trade_t *const *nt, size_t m)
{
    file_priv_t *p = st->priv;
    int64_t at = p->nrows;
    int rc = STORE_OK;
    if (p->nrows > 0 && nt[0]->id < p->base_last &&
        (rc = file_lower_bound(st, nt[0]->id, 0, p->nrows, &at)) != STORE_OK)
        return rc;
    size_t tail = (size_t)(p->nrows - at), total = tail + m;
    file_buf_t old = {0}, nb = {0};
    result_t *old_res = NULL, *new_res = NULL;
    file_buf_reserve(&nb, total);
    if (tail) {
        file_buf_reserve(&old, tail);
        old_res = xmalloc(tail * sizeof(*old_res));
        new_res = xmalloc(total * sizeof(*new_res));
        rc = file_cols_io(st, at, NULL, tail, &old, 0);
        if (rc == STORE_OK && file_rows_io(p->mirror, p->res_mtype, at, NULL, tail, old_res, 0) < 0)
            rc = file_fail(st, STORE_E_IO, "reading /mirror");
    }
    if (rc == STORE_OK) {
        size_t i = 0, j = 0, k = 0;
        const int64_t *old_ids = (const int64_t *)old.col[FC_ID];
        while (i < tail || j < m) {
            if (j == m || (i < tail && old_ids[i] < nt[j]->id)) {
                file_buf_copy_row(&nb, k, &old, i);
                if (new_res)
                    new_res[k] = old_res[i];
                i++;
            } else {
                file_pack(&nb, k, nt[j]);
                if (new_res)
                    file_no_result(&new_res[k]);
                j++;
            }
            k++;
        }
        rc = file_extend(st, p->nrows + (int64_t)m);
    }
    if (rc == STORE_OK)
        rc = file_cols_io(st, at, NULL, total, &nb, 1);
    if (rc == STORE_OK && tail && file_rows_io(p->mirror, p->res_mtype, at, NULL, total, new_res, 1) < 0)
        rc = file_fail(st, STORE_E_IO, "writing /mirror");
    if (rc == STORE_OK) {
        const int64_t *ids = (const int64_t *)nb.col[FC_ID];
        if (at == 0)
            p->first_id = ids[0];
        p->base_rows = p->nrows;
        if (ids[total - 1] > p->base_last || p->nrows == (int64_t)m)
            p->base_last = ids[total - 1];
    }
    file_buf_free(&old);
    file_buf_free(&nb);
    free(old_res);
    free(new_res);
    return rc;
}

/* The start that every write shares: the file must be writable, and the
 * rows of the ids of items[0..n) are planned (id_at gives the i-th id).
 * Returns STORE_OK with *pl made, 1 when n == 0 (nothing to write, no plan
 * made), or an error with nothing made. */
static int file_write_plan(store_t *st, const void *items, size_t n, int64_t (*id_at)(const void *, size_t),
                           file_plan_t *pl)
{
    file_priv_t *p = st->priv;
    if (!p->writable)
        return store_set_error(st, STORE_E_USAGE, "trade file %s was opened read-only", p->path);
    if (n == 0)
        return 1;
    int64_t *ids = xmalloc(n * sizeof(*ids));
    for (size_t i = 0; i < n; i++)
        ids[i] = id_at(items, i);
    int rc = file_plan_make(st, ids, n, pl);
    free(ids);
    return rc;
}

static int64_t trade_id_at(const void *items, size_t i) { return ((const trade_t *)items)[i].id; }
static int64_t result_id_at(const void *items, size_t i) { return ((const result_t *)items)[i].trade_id; }

/* Write trades t[0..n): ids the file has rows for are overwritten in place
 * (a repeated id: the last one wins); new ids are inserted in id order with
 * one rank, and are an error (STORE_E_USAGE, nothing written) under MPI-IO
 * unless reserved at open. Ids must be 0..TRADE_MAX_ID. */
static int file_put_trades(store_t *st, const trade_t *t, size_t n)
{
    file_priv_t *p = st->priv;
    for (size_t i = 0; i < n; i++)
        if (t[i].id < 0 || t[i].id > TRADE_MAX_ID)
            return store_set_error(st, STORE_E_USAGE, "trade id %lld cannot be stored (ids are 0..%lld)",
                                   (long long)t[i].id, TRADE_MAX_ID);
    file_plan_t pl = {0};
    int rc = file_write_plan(st, t, n, trade_id_at, &pl);
    if (rc == STORE_OK) {
        /* overwrite rows that exist; collect new ids (last of each repeat) */
        const trade_t **nt = xmalloc(n * sizeof(*nt));
        size_t m = 0;
        for (size_t k = 0; k < n; k++) {
            if (pl.u_of[k] != SIZE_MAX)
                continue;
            if (m > 0 && nt[m - 1]->id == pl.pairs[k].id)
                m--;
            nt[m++] = &t[pl.pairs[k].idx];
        }
        if (m > 0 && p->parallel)
            rc = store_set_error(st, STORE_E_USAGE,
                                 "trade %010lld has no row in %s: with several MPI ranks a trade file only takes "
                                 "trades whose ids were reserved at open (store_opts_t.expect_first/expect_count)",
                                 (long long)nt[0]->id, p->path);
        if (rc == STORE_OK && pl.nu > 0) {
            file_buf_t b = {0};
            file_buf_reserve(&b, pl.nu);
            for (size_t k = 0; k < n; k++)
                if (pl.u_of[k] != SIZE_MAX)
                    file_pack(&b, pl.u_of[k], &t[pl.pairs[k].idx]);
            rc = file_cols_io(st, 0, pl.urows, pl.nu, &b, 1);
            file_buf_free(&b);
        }
        if (rc == STORE_OK && m > 0)
            rc = file_insert(st, nt, m);
        st->stats.round_trips++;
        free(nt);
        file_plan_free(&pl);
    }
    return rc > 0 ? STORE_OK : rc;
}

/* ---- results ----------------------------------------------------------------- */

/* Write results r[0..n) into the /mirror rows of their trades (a repeated
 * trade: the last wins). A result whose trade has no row is an error
 * (STORE_E_USAGE) and nothing is written. */
static int file_put_results(store_t *st, const result_t *r, size_t n)
{
    file_priv_t *p = st->priv;
    file_plan_t pl = {0};
    int rc = file_write_plan(st, r, n, result_id_at, &pl);
    if (rc != STORE_OK)
        return rc > 0 ? STORE_OK : rc;
    for (size_t k = 0; k < n && rc == STORE_OK; k++)
        if (pl.u_of[k] == SIZE_MAX)
            rc = store_set_error(st, STORE_E_USAGE, "result for trade %010lld: no such trade in trade file %s",
                                 (long long)pl.pairs[k].id, p->path);
    if (rc == STORE_OK) {
        result_t *buf = xmalloc(pl.nu * sizeof(*buf));
        for (size_t k = 0; k < n; k++)
            buf[pl.u_of[k]] = r[pl.pairs[k].idx];
        if (file_rows_io(p->mirror, p->res_mtype, 0, pl.urows, pl.nu, buf, 1) < 0)
            rc = file_fail(st, STORE_E_IO, "writing /mirror");
        free(buf);
    }
    st->stats.round_trips++;
    file_plan_free(&pl);
    return rc;
}

/* Read the mirrored results of ids[0..n); found[i] = 1 only when a result
 * was written for that trade (else out[i] = result_fail(id, FS_E_NOT_FOUND)).
 * Returns STORE_OK or STORE_E_IO. */
static int file_get_results(store_t *st, const int64_t *ids, size_t n, result_t *out, int *found)
{
    file_priv_t *p = st->priv;
    size_t bsz = st->opts.batch > FILE_IO_ROWS ? (size_t)st->opts.batch : FILE_IO_ROWS;
    result_t *buf = NULL;
    int rc = STORE_OK;
    for (size_t off = 0; off < n && rc == STORE_OK; off += bsz) {
        size_t m = n - off < bsz ? n - off : bsz;
        file_plan_t pl;
        if ((rc = file_plan_make(st, ids + off, m, &pl)) != STORE_OK)
            break;
        buf = xrealloc(buf, (pl.nu ? pl.nu : 1) * sizeof(*buf));
        /* members the file lacks (digest in an old /mirror) read as 0 */
        memset(buf, 0, (pl.nu ? pl.nu : 1) * sizeof(*buf));
        if (file_rows_io(p->mirror, p->res_mtype, 0, pl.urows, pl.nu, buf, 0) < 0)
            rc = file_fail(st, STORE_E_IO, "reading /mirror");
        st->stats.round_trips++;
        for (size_t k = 0; k < m && rc == STORE_OK; k++) {
            size_t i = off + pl.pairs[k].idx;
            found[i] = pl.u_of[k] != SIZE_MAX && buf[pl.u_of[k]].trade_id == pl.pairs[k].id;
            if (found[i])
                out[i] = buf[pl.u_of[k]];
            else
                result_fail(&out[i], pl.pairs[k].id, FS_E_NOT_FOUND, 0);
        }
        file_plan_free(&pl);
    }
    free(buf);
    return rc;
}

/* Every trade id with a trade in its row, ascending, in a malloc'ed array
 * the caller frees. Reads /trades/id and /trades/present in blocks. */
static int file_list_trades(store_t *st, int64_t **ids, size_t *n)
{
    file_priv_t *p = st->priv;
    int64_t *v = xmalloc((p->nrows ? (size_t)p->nrows : 1) * sizeof(*v));
    int64_t *blk = xmalloc(FILE_IO_ROWS * 16 * sizeof(*blk));
    uint8_t *pres = xmalloc(FILE_IO_ROWS * 16);
    size_t m = 0;
    int rc = STORE_OK;
    for (int64_t r = 0; r < p->nrows; r += FILE_IO_ROWS * 16) {
        size_t k = (size_t)(p->nrows - r < FILE_IO_ROWS * 16 ? p->nrows - r : FILE_IO_ROWS * 16);
        if (file_rows_io(p->dset[FC_ID], H5T_NATIVE_INT64, r, NULL, k, blk, 0) < 0 ||
            file_rows_io(p->dset[FC_PRESENT], H5T_NATIVE_UINT8, r, NULL, k, pres, 0) < 0) {
            rc = file_fail(st, STORE_E_IO, "reading /trades/id");
            break;
        }
        for (size_t j = 0; j < k; j++)
            if (pres[j])
                v[m++] = blk[j];
    }
    free(blk);
    free(pres);
    if (rc != STORE_OK) {
        free(v);
        return rc;
    }
    *ids = v;
    *n = m;
    return STORE_OK;
}

/* "trade file PATH (N rows, ids A..B[, MPI-IO on R ranks])". */
static const char *file_describe(store_t *st)
{
    file_priv_t *p = st->priv;
    if (!p)
        return st->url;
    char mpi[48] = "";
    if (p->parallel)
        snprintf(mpi, sizeof(mpi), ", MPI-IO on %d rank%s", p->nranks, p->nranks > 1 ? "s" : "");
    if (p->nrows > 0)
        snprintf(p->desc, sizeof(p->desc), "trade file %s (%lld rows, ids %lld..%lld%s)", p->path,
                 (long long)p->nrows, (long long)p->first_id, (long long)file_last_id(p), mpi);
    else
        snprintf(p->desc, sizeof(p->desc), "trade file %s (empty%s)", p->path, mpi);
    return p->desc;
}

const store_backend_t store_backend_file = {
    .name = "file",
    .accepts = file_accepts,
    .open = file_open,
    .close = file_close,
    .reconnect = NULL,
    .get_trades = file_get_trades,
    .put_trades = file_put_trades,
    .put_results = file_put_results,
    .get_results = file_get_results,
    .list_trades = file_list_trades,
    .describe = file_describe,
    .flush = file_flush,
};
