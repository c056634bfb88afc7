/* h5out.h - the HDF5 results file: /results, provenance, telemetry.
 *
 * Layout (format 2; docs/OUTPUT-FORMAT.md gives every version):
 *   /results     compound dataset of result_t, ordered by trade id, status
 *                an enum (result_h5_status_type), units as attributes
 *   /telemetry   compound dataset, one row per rank (h5out_telemetry_t)
 *   /portfolio   totals (output/portfolio.h)
 *   attributes on /: format_version, finsim_version, command_line,
 *   algorithm, kernel, seed, paths, ranks, hosts, start_time, end_time,
 *   config (secrets redacted), checksum (hex string), trades, failed;
 *   numbers as numbers.
 * All functions are collective over the communicator given to h5out_create. */
#ifndef FINSIM_H5OUT_H
#define FINSIM_H5OUT_H

#include <stddef.h>
#include <stdint.h>
#include <hdf5.h>
#include <mpi.h>
#include "finsim/trade/result.h"

typedef struct h5out_telemetry {
    int32_t rank;       /* MPI rank */
    char host[64];      /* host name */
    double fetch_s;     /* reading trades from the store */
    double parse_s;     /* decoding trade documents */
    double compute_s;   /* pricing */
    double mirror_s;    /* writing results back to the store */
    double write_s;     /* writing this file */
    double total_s;     /* wall time of the rank's work */
    int64_t trades;     /* trades handled */
    int64_t priced;     /* trades with status 0 */
    int64_t failed;     /* trades with status != 0 */
    int64_t skipped;    /* trades taken from a previous run (--resume) */
    int64_t stale;      /* mirrored results not taken: other inputs (--resume) */
    int64_t paths;      /* Monte Carlo paths simulated */
    int64_t peak_rss_kb;/* peak resident set size */
} h5out_telemetry_t;

/* HDF5 compound type for h5out_telemetry_t (memory layout). Caller closes
 * with H5Tclose. The type of /results is result_h5_type (trade/result_h5.h). */
hid_t h5out_telemetry_type(void);

/* A results file being written. Rows go to PATH.partial; h5out_finish
 * renames it to PATH, so a PATH that exists is always complete. */
typedef struct h5out h5out_t;

/* How the rows reach the file (finsim run --h5-write). */
typedef enum h5_write_mode {
    H5W_AUTO = 0,        /* independent when every host shares the directory, else gather */
    H5W_INDEPENDENT = 1, /* every rank writes its rows with independent MPI-IO writes */
    H5W_COLLECTIVE = 2,  /* collective MPI-IO writes in lock step */
    H5W_GATHER = 3       /* the ranks send their rows to rank 0, which writes the file alone */
} h5_write_mode_t;

/* Parse a --h5-write value (auto, independent, collective, gather) into
 * *mode. Returns 0, or -1 for any other string (*mode untouched). */
int h5_write_mode_parse(const char *s, h5_write_mode_t *mode);

/* The name of a mode as --h5-write takes it ("auto", ...). */
const char *h5_write_mode_name(h5_write_mode_t mode);

/* One attribute of the root group: a string (value != NULL) or, when value
 * is NULL, the number num, stored as a signed 64-bit integer (unsigned when
 * is_unsigned). */
typedef struct h5out_attr {
    const char *name;   /* attribute name */
    const char *value;  /* NUL-terminated value (same on every rank), or NULL */
    uint64_t num;       /* the number when value is NULL (same on every rank) */
    int is_unsigned;    /* num is a uint64 rather than an int64 */
} h5out_attr_t;

/* The status h5out_create ends the whole job with (MPI_Abort) when it cannot
 * create /results: HDF5 cannot close a file whose metadata it failed to
 * write; and the status of a job whose file cannot be finished
 * (H5OUT_UNFINISHABLE). The command layer checks that it equals its I/O
 * exit code. */
#define H5OUT_ABORT_STATUS 6

/* Collective over comm: create PATH.partial with /results of nrows rows
 * (status -1 until written), to be written in mode (not H5W_AUTO: the
 * caller decides). With H5W_GATHER only rank 0 opens the file, with
 * HDF5's serial driver (no MPI-IO), and the other ranks' rows travel to it
 * as messages on a duplicate of comm. Where the file system allows it,
 * rank 0 then reserves the room that finishing the file needs (fallocate,
 * FALLOC_FL_KEEP_SIZE; FINSIM_H5_RESERVE=0 skips it). Returns NULL on
 * failure with a one-line reason in err (the same outcome on every rank). */
h5out_t *h5out_create(const char *path, MPI_Comm comm, int64_t nrows, h5_write_mode_t mode, char *err,
                      size_t errlen);

/* Make the row writes collective (1) or independent (0, the default). */
void h5out_set_collective(h5out_t *h, int collective);

/* Write n results at rows row0 .. row0+n-1. Independent by default; after
 * h5out_set_collective(h, 1), every rank must call it the same number of
 * times (n = 0 when a rank has no rows for that round). In gather mode a
 * rank other than 0 sends the rows to rank 0 (at most H5OUT_GATHER_SENDS
 * batches in flight: it waits for the oldest when that many are), and rank
 * 0 writes its own rows, then those that have arrived (h5out_poll).
 * Returns 0 or -1 (reason in err). */
int h5out_write_rows(h5out_t *h, int64_t row0, const result_t *r, size_t n, char *err, size_t errlen);

/* Batches a rank may have in flight to rank 0 in gather mode. */
#define H5OUT_GATHER_SENDS 2

/* Gather mode, rank 0: write the rows that other ranks have sent, without
 * waiting for more. Call it often while pricing (rank 0's service loop), or
 * the senders wait. Returns 0, or -1 when a write failed (reason in err).
 * Does nothing in the other modes and on other ranks. */
int h5out_poll(h5out_t *h, char *err, size_t errlen);

/* Gather mode, rank 0: ranks whose end marker (h5out_end_rows) has not yet
 * arrived; 0 in the other modes and on other ranks. */
int h5out_pending(const h5out_t *h);

/* Gather mode, a rank other than 0: wait until its rows are sent, then send
 * the end marker (it writes no more rows). Idempotent; h5out_finish calls
 * it. Does nothing in the other modes and on rank 0. */
void h5out_end_rows(h5out_t *h);

/* Collective writes that HDF5 carried out as independent ones on this rank,
 * and (in *cause, may be NULL) the H5D_mpio_no_collective_cause_t bits of
 * the first. 0 when writes are independent or all were collective. */
int64_t h5out_collective_fallbacks(const h5out_t *h, uint32_t *cause);

/* Collective: (gather mode: rank 0 first writes the rows of every rank,
 * until each has sent its end marker) write /telemetry (tel[0..nranks),
 * identical on every rank),
 * the root attributes (identical on every rank), the uint64 attribute
 * "checksum_u64", close, and rename PATH.partial to PATH. Frees h. Returns 0
 * or -1 with the reason in err (same outcome on every rank; PATH.partial
 * removed). Returns H5OUT_UNFINISHABLE (every rank) when the disk has no
 * room left to close the file and its room was not reserved at creation:
 * closing it would leave the ranks waiting inside HDF5, so it is left
 * open, PATH.partial is removed, and the caller must end the job with
 * MPI_Abort(H5OUT_ABORT_STATUS) without calling HDF5 again. */
#define H5OUT_UNFINISHABLE (-2)

/* Have h5out_finish call fn(ctx, file) on every rank (file < 0 where the
 * rank holds no file) after its room check and before the root metadata:
 * more groups for the file (the portfolio totals). fn returns 1, or 0 when
 * a write failed (the file is then removed, as for any write error). */
void h5out_on_finish(h5out_t *h, int (*fn)(void *ctx, hid_t file), void *ctx);
int h5out_finish(h5out_t *h, const h5out_telemetry_t *tel, int nranks, const h5out_attr_t *attrs,
                 int nattrs, uint64_t checksum, char *err, size_t errlen);

/* Collective: close without finishing; PATH.partial stays for inspection.
 * Accepts NULL. */
void h5out_abort(h5out_t *h);

/* Seconds spent in this module's writes on the calling rank. */
double h5out_write_seconds(const h5out_t *h);

#endif
