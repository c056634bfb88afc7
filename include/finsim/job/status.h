/* status.h - what went wrong in a job, for the command to map to an exit code. */
#ifndef FINSIM_JOB_STATUS_H
#define FINSIM_JOB_STATUS_H

/* Outcome of a job phase. Ordered by severity, as the exit codes of the
 * finsim command are (enum fs_exit, 'finsim run --help'), so that
 * fs_mpi_agree (the largest code of all ranks) picks the worst outcome;
 * src/cmd/run.c maps each one to its exit code. */
enum job_status {
    JOB_OK = 0,
    JOB_TRADES_FAILED,  /* ran to the end, some trades have status != 0 */
    JOB_E_CONFIG,       /* unusable input: store URL, ids file, empty trade list */
    JOB_E_STORE,        /* store unreachable / protocol error */
    JOB_E_AUTH,         /* store refused the credentials */
    JOB_E_TLS,          /* TLS failure or no TLS support */
    JOB_E_IO,           /* output file could not be written */
    JOB_E_CHECKSUM,     /* the checksum differs from the expected one */
    JOB_E_INTERNAL,     /* out of memory in a store, or a bug */
    JOB_E_TIMEOUT,      /* store did not answer in time */
    JOB_E_INJECTED,     /* an injected failure (--failure) ended a rank */
    JOB_E_MARKET,       /* market data unreadable, malformed, or the endpoint failed */
    JOB_E_MARKET_TIMEOUT, /* the market data endpoint did not answer in time */
    JOB_E_MARKET_AUTH,  /* the market data endpoint refused the API key */
    JOB_STOPPED         /* SIGTERM or SIGINT: stopped after a batch, the results so far mirrored */
};

/* The job status for a store error (STORE_E_*; STORE_OK gives JOB_OK). */
int job_store_status(int store_err);

/* The job status for a market data error (MKT_E_*; MKT_OK gives JOB_OK). */
int job_market_status(int mkt_err);

#endif
