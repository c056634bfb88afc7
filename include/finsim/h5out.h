/* h5out.h - the HDF5 results file: /results, provenance, telemetry.
 *
 * Layout:
 *   /results     compound dataset of result_t, ordered by trade id
 *   /telemetry   compound dataset, one row per rank (h5out_telemetry_t)
 *   attributes on /: finsim_version, command_line, algorithm, kernel, seed,
 *   paths, ranks, hosts, start_time, end_time, config (secrets redacted),
 *   checksum (hex string), trades, failed.
 * All functions are collective over the communicator given to h5out_create. */
#ifndef FINSIM_H5OUT_H
#define FINSIM_H5OUT_H

#include <stddef.h>
#include <stdint.h>
#include <hdf5.h>
#include <mpi.h>
#include "finsim/result.h"

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
    int64_t paths;      /* Monte Carlo paths simulated */
    int64_t peak_rss_kb;/* peak resident set size */
} h5out_telemetry_t;

/* HDF5 compound types for result_t and h5out_telemetry_t (memory layout).
 * Caller closes with H5Tclose. */
hid_t h5out_result_type(void);
hid_t h5out_telemetry_type(void);

#endif
