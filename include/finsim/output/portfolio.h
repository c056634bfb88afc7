/* portfolio.h - portfolio totals of a run: PV, delta and vega with their
 * standard errors, by group, and counts by status (the /portfolio group of
 * the results file).
 *
 * Trades are priced independently, so the variances of their figures add:
 * a group's standard error is the square root of the sum of its trades'
 * squared standard errors. Every sum is exact (a fixed-point accumulator
 * wide enough for any double), so the totals are the same bits whatever
 * the order of the trades, hence for any rank count and schedule; the
 * rounding to double happens once, at the end. */
#ifndef FINSIM_PORTFOLIO_H
#define FINSIM_PORTFOLIO_H
#include <stdint.h>
#include <stdio.h>
#include <hdf5.h>
#include <mpi.h>
#include "finsim/trade/result.h"
#include "finsim/trade/trade.h"

/* The trade field totals are grouped by (finsim run --group-by). */
typedef enum pf_group {
    PF_BY_MATURITY = 0, /* maturity buckets (the default) */
    PF_BY_END_YEAR = 1, /* year of end_date */
    PF_BY_T_STEPS = 2,  /* t_steps */
    PF_BY_NONE = 3      /* the portfolio total only */
} pf_group_t;

/* Names of the --group-by values, NULL-terminated, in pf_group_t order. */
extern const char *const portfolio_group_names[];

/* Most groups a run's totals keep; the trades of further groups count in
 * the total only (a warning says so). */
#define PF_MAX_GROUPS 4096

/* Label width of a row of /portfolio/totals (bytes, with the NUL). */
#define PF_LABEL 32

/* One row of /portfolio/totals. The first row is the whole portfolio
 * ("total"). Figures sum over the priced trades (status ok); a Greek that
 * no trade computed (pvonly) is NaN. */
typedef struct pf_row {
    char group[PF_LABEL];  /* "total", or the group's label */
    int64_t trades;        /* trades in the group */
    int64_t priced;        /* with status ok */
    int64_t failed;        /* with another status */
    double pv, pv_stderr;
    double delta, delta_stderr;
    double vega, vega_stderr;
} pf_row_t;

typedef struct portfolio portfolio_t;

/* A new, empty accumulator grouping by g. */
portfolio_t *portfolio_new(pf_group_t g);
void portfolio_free(portfolio_t *p);

/* Count result r; t is its trade, or NULL when the trade could not be read
 * (the trade then counts in the group "unknown"). */
void portfolio_add(portfolio_t *p, const trade_t *t, const result_t *r);

/* Collective over comm: combine every rank's sums. Afterwards rank 0 holds
 * the rows and counts (portfolio_rows, portfolio_status_counts). */
void portfolio_reduce(portfolio_t *p, MPI_Comm comm);

/* Rank 0 after portfolio_reduce: the rows (total first) and their number. */
const pf_row_t *portfolio_rows(const portfolio_t *p, int *n);

/* Rank 0 after portfolio_reduce: trades by status code, FS_STATUS_COUNT
 * entries (index = code). */
const int64_t *portfolio_status_counts(const portfolio_t *p);

/* Collective over comm, after portfolio_reduce: write /portfolio into file
 * (every rank that holds it open takes part in the metadata calls; file <
 * 0 on a rank that does not hold it). Returns 1 on success on this rank,
 * else 0. */
int portfolio_write(portfolio_t *p, hid_t file, MPI_Comm comm);

/* Rank 0 after portfolio_reduce: the totals table for the run report. */
void portfolio_print(const portfolio_t *p, FILE *f);

/* Print n rows (total first) grouped by group_by, and the counts by status
 * (FS_STATUS_COUNT entries, or NULL), as the run report and finsim results
 * --summary show them. */
void portfolio_print_rows(FILE *f, const char *group_by, const pf_row_t *rows, int n, const int64_t *counts);

/* The HDF5 compound type of pf_row_t (memory layout); H5Tclose it. */
hid_t portfolio_row_type(void);
#endif
