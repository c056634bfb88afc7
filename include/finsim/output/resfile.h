/* resfile.h - reading a results file of finsim run, of any format version
 * (docs/OUTPUT-FORMAT.md): its attributes, its /results rows in blocks, and
 * its /portfolio. Serial HDF5, one process. */
#ifndef FINSIM_RESFILE_H
#define FINSIM_RESFILE_H
#include <stddef.h>
#include <stdint.h>
#include "finsim/output/portfolio.h"
#include "finsim/output/signals.h"
#include "finsim/trade/result.h"

typedef struct resfile resfile_t;

/* A results file of finsim run, or a signals file of finsim screen. */
enum resfile_kind { RESFILE_RESULTS = 0, RESFILE_SIGNALS = 1 };

/* Open path (a results file, or a signals file: /signals). Returns the file, or NULL with the reason in err.
 */
resfile_t *resfile_open(const char *path, char *err, size_t errlen);
void resfile_close(resfile_t *r); /* accepts NULL */

int resfile_kind(const resfile_t *r);
int64_t resfile_rows(const resfile_t *r);

/* A signals file: its rows (ranked as written) into *s (malloc'ed; free
 * it) and their number into *n. Returns 0 or -1 (reason in err). */
int resfile_signals(const resfile_t *r, signal_rec_t **s, size_t *n, char *err, size_t errlen);
/* format_version, 1 when the attribute is absent. */
int resfile_version(const resfile_t *r);

/* Root attribute name as text into buf (a string, or an integer printed);
 * "" when absent or of another type. */
void resfile_attr(const resfile_t *r, const char *name, char *buf, size_t n);

/* Call fn(ctx, row) for every row of /results in file (trade id) order,
 * read in blocks. Returns 0, -1 when a read failed (reason in err), or what
 * fn returned when not 0. */
int resfile_each(const resfile_t *r, int (*fn)(void *ctx, const result_t *row), void *ctx, char *err,
                 size_t errlen);

/* /portfolio of a format 2 file: the group_by attribute into by, the rows
 * of /portfolio/totals into *rows (malloc'ed; free them) and their number
 * into *n, the trades by status into counts[FS_STATUS_COUNT] (*have_counts
 * 1 when read). Returns 1, 0 when the file has no /portfolio, -1 when it
 * cannot be read. */
int resfile_portfolio(const resfile_t *r, char *by, size_t bylen, pf_row_t **rows, int *n, int64_t *counts,
                      int *have_counts);
#endif
