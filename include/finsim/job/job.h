/* job.h - the main MPI job (finsim run): its configuration and its phases.
 *
 * The command (src/cmd/run.c) fills a run_cfg_t from argv, the environment
 * and the INI file, then calls the phases in order:
 *   job_open        open the store on every rank
 *   job_build_list  rank 0 builds the trade list (range, ids file, all trades)
 *   job_start       batch buffers, the output file, events, the start line
 *   job_schedule    price every trade: static windows or dynamic chunks
 *   job_report      telemetry, HDF5 provenance, checksum, the printed report
 *   job_end         the end event, with the command's exit status
 *   job_close       free everything (also after a failed phase)
 * Every phase is collective over MPI_COMM_WORLD and returns an enum
 * job_status (finsim/job/status.h), the same on every rank unless said
 * otherwise; the job never sees argv, the environment or exit codes. */
#ifndef FINSIM_JOB_H
#define FINSIM_JOB_H

#include <stdint.h>
#include "finsim/output/h5out.h"
#include "finsim/pricing/mc.h"
#include "finsim/store/store.h"
#include "finsim/job/status.h"

typedef enum run_schedule {
    RUN_STATIC = 0,  /* contiguous windows decided up front */
    RUN_DYNAMIC = 1  /* chunks handed out on demand by rank 0 */
} run_schedule_t;

typedef enum run_balance {
    RUN_BALANCE_COUNT = 0, /* equal numbers of trades per rank */
    RUN_BALANCE_COST = 1   /* equal paths x t_steps per rank (reads the trades once more on rank 0) */
} run_balance_t;

typedef struct run_cfg {
    const char *store_url;       /* --store */
    const char *output;          /* --output FILE.h5 */
    int64_t start_trade;         /* --start-trade */
    int64_t window;              /* --trade-window (range mode) */
    int all_trades;              /* --all-trades: every trade in the store */
    const char *ids_file;        /* --ids-file */
    int list_mode;               /* ids come from a list (all_trades or ids_file) */
    mc_opts_t mo;                /* pricing options */
    int batch;                   /* trades per pipelined batch */
    run_schedule_t schedule;     /* --schedule */
    run_balance_t balance;       /* --balance (static) */
    int64_t chunk;               /* --chunk (dynamic; 0 = auto) */
    h5_write_mode_t h5_write;    /* --h5-write (collective: static schedule only) */
    int group_by;                /* --group-by: pf_group_t of the portfolio totals */
    int resume;                  /* --resume */
    int force;                   /* --force: replace an existing results file */
    int mirror;                  /* mirror results to the store (default 1) */
    int failure_exit;            /* an injected failure ends the rank (default 1) */
    int have_expect;             /* --expect-checksum given */
    uint64_t expect_checksum;    /* its value */
    const char *events_path;     /* --events FILE (JSON lines, rank 0) */
    double progress_interval;    /* seconds between progress lines (0 = off) */
    int quiet;                   /* --quiet: report and errors only */
    store_opts_t so;             /* store options (password from env / file) */
    const char *password_file;   /* --password-file */
} run_cfg_t;

typedef struct job job_t;

/* Claim the output, then open the store on every rank; fail fast and
 * together. Rank 0 takes the output's lock (JOB_E_IO when another run
 * holds it) and refuses an output that is an input or an existing
 * non-results file, or an existing results file without c->force or
 * c->resume (JOB_E_CONFIG). On success *out is
 * the job (free with job_close); on failure *out is NULL, rank 0 (every
 * rank with fs_log_verbose) printed why, and the agreed status is
 * returned. c must outlive the job. */
int job_open(const run_cfg_t *c, job_t **out);

/* The store as reports show it (no password). */
const char *job_store_name(job_t *j);

/* Rank 0 builds the trade list from c (ids file, all trades or the range),
 * sorted with duplicates dropped (a warning says how many), and every rank
 * learns its length. JOB_E_CONFIG for a bad ids file or an empty list, the
 * store's status when listing failed; rank 0 prints the message. */
int job_build_list(job_t *j);

/* Allocate the batch buffers, decide how the output is written (--h5-write
 * auto: probe whether every rank's host shares the output directory, see
 * fs_mpi_dir_probe), create the output file (before any pricing), open the
 * events file and print the start line. command_line is recorded for the
 * report; it must outlive the job. JOB_E_CONFIG when a parallel mode was
 * asked for on a directory that is not shared, JOB_E_IO when the output
 * cannot be created (rank 0 prints why, naming the hosts). */
int job_start(job_t *j, const char *command_line);

/* Price every trade of the list with the configured schedule, then rank 0
 * collects the last progress messages. A SIGTERM or SIGINT (base/stop.h)
 * on any rank stops every rank after its current batch: the mirror is
 * flushed, rank 0 prints "stopped by SIG after N of M trades ..." and every
 * rank returns JOB_STOPPED (the output stays FILE.partial; no report). On a fatal error of this rank
 * (store, output, injected failure) returns its status at once, without
 * waiting for the other ranks, with the message in job_errstr: the caller
 * must then end the whole job (MPI_Abort), as the other ranks may be
 * waiting on this one. */
int job_schedule(job_t *j);

/* The message of the last fatal error ("" if none). */
const char *job_errstr(job_t *j);

/* Gather the telemetry, write the provenance attributes (config: the
 * effective configuration as text) and close the output file, then rank 0
 * prints the report. Returns on rank 0: JOB_E_CHECKSUM, JOB_E_IO,
 * JOB_TRADES_FAILED or JOB_OK; on the other ranks JOB_E_IO or JOB_OK (not
 * agreed: see job_end). */
int job_report(job_t *j, const char *config);

/* Before this rank ends the whole job (MPI_Abort): flush what the store
 * holds of this rank's mirror writes and, on rank 0, drop the output's
 * lock. Not collective. NULL is ignored. */
void job_abandon(job_t *j);

/* Rank 0 writes the end event with the process's exit status. */
void job_end(job_t *j, int exit_status);

/* Free the job: abandon an unfinished output file, close the store
 * (collective for the file store). NULL is ignored. */
void job_close(job_t *j);

#endif
