/* signals.h - the rich/cheap signals of 'finsim screen': ranking, CSV and
 * the HDF5 signals file.
 *
 * HDF5 layout:
 *   /signals    compound dataset of signal_rec_t (trade_id, quote,
 *               model_value, model_stderr, edge, z), ranked by edge
 *   attributes on /: min_edge, min_z, seed, paths, trades, joined, unquoted,
 *   orphan_quotes, absent, failed, overridden, selected (numbers);
 *   algorithm, kernel, quotes_source, value_convention, start_time, time,
 *   finsim_version (strings). */
#ifndef FINSIM_OUTPUT_SIGNALS_H
#define FINSIM_OUTPUT_SIGNALS_H

#include <stddef.h>
#include <stdint.h>
#include <hdf5.h>

/* One selected trade: the /signals record, field for field. */
typedef struct signal_rec {
    int64_t trade_id;
    double quote;
    double model_value;
    double model_stderr;
    double edge;
    double z;
} signal_rec_t;

/* What the signals file records beside the rows (its root attributes). The
 * strings are borrowed. */
typedef struct signals_meta {
    double min_edge, min_z;     /* thresholds of the selection */
    uint64_t seed;              /* pricing seed */
    int64_t paths;              /* paths override (0: the trades' own) */
    int64_t trades, joined, unquoted, orphans, absent, failed, overridden, selected; /* counts */
    const char *algorithm;      /* pricing algorithm name */
    const char *kernel;         /* pricing kernel name */
    const char *quotes_source;  /* where the quotes came from (URLs redacted) */
    const char *start_time;     /* ISO 8601 UTC start of the screen */
} signals_meta_t;

/* The HDF5 compound type of signal_rec_t (memory layout); H5Tclose it. */
hid_t signals_h5_type(void);

/* Rank s[0..n) in place: edge descending, then trade id ascending (a total
 * order, so the ranking does not depend on the order the rows came in). */
void signals_sort(signal_rec_t *s, size_t n);

/* Write s[0..n) as CSV (header trade_id,quote,model_value,model_stderr,edge,z;
 * numbers with 17 significant digits) to path, '-' meaning standard output.
 * Returns 0, or -1 with a one-line reason in err. */
int signals_write_csv(const char *path, const signal_rec_t *s, size_t n, char *err, size_t errlen);

/* Write /signals and the attributes of m to path: the file is written as
 * path.partial and renamed when complete, so path is never half-written.
 * Returns 0, or -1 with a one-line reason in err (the partial file removed). */
int signals_write_h5(const char *path, const signals_meta_t *m, const signal_rec_t *s, size_t n, char *err,
                     size_t errlen);

#endif
