/* screen.h - the rich/cheap screen as a job: load market quotes, join them
 * with the trades of a store, price the joined trades and publish those
 * whose model value beats the quote (HDF5, CSV, a Redis ranking); or make
 * synthetic quotes around the model values.
 *
 * A job runs in phases, in this order; each returns JOB_OK or an enum
 * job_status (job/status.h) and the caller stops at the first other one. The phases marked collective are called by every MPI rank
 * and return the same code on every rank. */
#ifndef FINSIM_JOB_SCREEN_H
#define FINSIM_JOB_SCREEN_H

#include <stdint.h>

#include "finsim/market/market.h"
#include "finsim/pricing/mc.h"
#include "finsim/store/store.h"

/* Settings of one screen (from 'finsim screen' options). Strings are
 * borrowed from the command line. */
typedef struct screen_cfg {
    const char *store_url;     /* --store */
    const char *quotes_src;    /* --quotes SRC */
    const char **market_src;   /* --market SRC (repeatable; malloc'ed array) */
    int nmarket;
    int market_from_cli;       /* the command line gave --market: lower layers' list dropped */
    const char *output;        /* --output FILE.h5 */
    const char *csv;           /* --csv FILE|- */
    const char *signals_redis; /* --signals-redis URL */
    int no_signals_redis;      /* --no-signals-redis */
    const char *make_quotes;   /* --make-quotes FILE */
    double quote_noise;        /* --quote-noise */
    uint64_t quote_seed;       /* --quote-seed */
    const char *pair;          /* --pair */
    const char *password_file; /* --password-file */
    const char *api_key_file;  /* --api-key-file */
    int64_t start, window;     /* --start-trade, --trade-window */
    int batch;                 /* --batch */
    double min_edge, min_z;    /* --min-edge, --min-z */
    mc_opts_t mo;              /* pricing options */
    mkt_http_opts_t http;      /* market data endpoint */
    store_opts_t so;           /* store options (password from env / file) */
    int verbose;               /* -v: list unquoted trades and orphans */
} screen_cfg_t;

typedef struct screen_job screen_job_t;

/* Start a job for c (borrowed: it must outlive the job) as rank of nranks;
 * the start time recorded in the signals file is taken now. Free with
 * screen_job_free. */
screen_job_t *screen_job_new(const screen_cfg_t *c, int rank, int nranks);
void screen_job_free(screen_job_t *j); /* accepts NULL; closes the store */

/* Fail early, before fetching and pricing, when the directory of an output
 * file (--output, --csv, --make-quotes) is missing or not writable (rank 0
 * checks). Collective; JOB_E_IO. */
int screen_check_outputs(screen_job_t *j);

/* Load the quotes and market sources (not for --make-quotes): rank 0 reads
 * or fetches each one, so an endpoint sees one request per run, and every
 * rank parses a broadcast copy. Collective; the market statuses. */
int screen_load_market(screen_job_t *j);

/* Open the store, each rank its own handle, read-only. Collective; the
 * store statuses. */
int screen_open_store(screen_job_t *j);

/* This rank's share of the trades: a contiguous slice of the window, or of
 * every trade in the store. Collective; the store statuses. */
int screen_build_trade_list(screen_job_t *j);

/* --make-quotes: price this process's trades and write quotes = model value
 * * (1 + e), e uniform in [-noise, noise) from (quote seed, trade id).
 * Returns JOB_OK, JOB_TRADES_FAILED when some trades could not be priced,
 * or the status of the failure. */
int screen_make_quotes(screen_job_t *j);

/* Price the quoted trades of this rank's share and keep those that pass the
 * thresholds; per-trade failures are counted and named, not fatal.
 * Collective; a store failure ends the job. */
int screen_price_quoted(screen_job_t *j);

/* Sum the counts and quote matches of every rank and collect the signals on
 * rank 0. Collective; cannot fail. */
void screen_gather_signals(screen_job_t *j);

/* Rank 0: name the orphan quotes, rank the signals and log the summary.
 * Other ranks do nothing. */
void screen_report(screen_job_t *j);

/* Rank 0 writes the signals (HDF5, CSV, the Redis ranking) and every rank
 * returns rank 0's outcome: JOB_OK, JOB_TRADES_FAILED, or the status
 * of the output that failed. Collective. */
int screen_write_outputs(screen_job_t *j);

#endif
