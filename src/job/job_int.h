/* job_int.h - the state of a running job, shared by the files of src/job/. */
#ifndef FINSIM_JOB_INT_H
#define FINSIM_JOB_INT_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "finsim/job/job.h"
#include "finsim/job/tradelist.h"
#include "finsim/output/h5out.h"
#include "finsim/output/portfolio.h"
#include "finsim/pricing/mc.h"
#include "finsim/store/store.h"

/* MPI tags of the dynamic schedule and of progress messages to rank 0. */
enum { TAG_REQ = 101, TAG_CHUNK = 102, TAG_IDS = 103, TAG_PROGRESS = 104, TAG_DONE = 105, TAG_STOP = 106 };

/* A window of the trade list: rows [offset, offset+count) of the output;
 * ids come from the range (start + row) or from the explicit ids array. */
typedef struct window {
    int64_t offset;  /* first row */
    int64_t count;   /* rows */
    int64_t *ids;    /* explicit ids (count of them) or NULL for the range */
} window_t;

/* Per-rank state of the job. */
struct job {
    const run_cfg_t *cfg;
    int rank, nranks;
    store_t *st;
    h5out_t *out;
    portfolio_t *port;       /* portfolio totals of this rank's rows */
    struct outlock *lock;    /* rank 0: the output's lock (outguard.h) */
    h5_write_mode_t wmode;   /* how the output is written (never H5W_AUTO) */
    mc_work_t *work;
    tl_list_t list;          /* rank 0: the trade list (ids NULL for a range) */
    int64_t total;           /* trades in the whole list */
    int64_t *all_ids;        /* rank 0, list mode with dynamic scheduling */
    int64_t next_chunk;      /* rank 0, dynamic: next row to hand out */
    int64_t chunk;           /* dynamic chunk size */
    int64_t done_global;     /* rank 0: trades done over all ranks */
    int done_ranks;          /* rank 0: ranks that said DONE */
    int64_t batches;         /* batches this rank has run */
    /* a stop asked for by a signal (base/stop.h), agreed at batch boundaries */
    int stop_sig;            /* the signal, once this rank knows of the stop; 0 if none */
    int stop_got;            /* ranks > 0: rank 0's TAG_STOP was received */
    int64_t stop_val;        /* rank 0: the TAG_STOP payload (the signal) */
    void *stop_rq;           /* rank 0: MPI_Request[nranks] of the TAG_STOP sends, or NULL */
    /* ranks > 0: progress goes to rank 0 with one nonblocking send at a time
     * (rank 0 may be inside an HDF5 collective call for a while) */
    MPI_Request prog_rq;     /* the TAG_PROGRESS send in flight, or MPI_REQUEST_NULL */
    int64_t prog_buf;        /* its payload */
    int64_t prog_pending;    /* trades done since, not yet sent */
    /* batch buffers */
    int64_t *ids;
    int64_t *ids_next;       /* the next batch of the window, announced to the store (reads ahead) */
    trade_slot_t *slots;
    result_t *res;
    result_t *prev;
    int *found;
    int *rehearsed;          /* --resume: the mirror holds this trade's injected failure */
    /* telemetry */
    h5out_telemetry_t tel;
    double compute_s, mirror_s;
    uint64_t checksum;
    int64_t failures_logged;
    /* progress and provenance */
    time_t t_begin;
    double t_start, t_last_progress;
    const char *cmdline;
    FILE *events;
    int tty;
    char err[512];
    int fatal;               /* enum job_status of a fatal error, JOB_OK if none */
    /* for the end event (job_report) */
    int64_t end_failed;
    char end_sums[32];
};

/* events (job.c): one JSON line {"time":...,<fmt>} when --events is given */
void job_events_write(job_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* progress (schedule.c): count n trades done (rank 0 also answers chunk
 * requests); show the progress line on rank 0 (final: the last one) */
void job_progress_add(job_t *s, int64_t n);
/* ranks > 0: send what progress is left and complete the send (before
 * TAG_DONE); job_progress_drop cancels a send nobody will receive (an
 * ended job). Both leave nothing pending. */
void job_progress_flush(job_t *s);
void job_progress_drop(job_t *s);
void job_progress_show(job_t *s, int final);

/* stop (schedule.c): at a batch boundary, has a stop been asked for, by a
 * signal to this rank or through another rank? Rank 0 then tells every
 * rank; a rank > 0 tells rank 0 of its own signal. Never blocks. */
int job_stop_check(job_t *s);

/* --resume (batch.c): may the mirrored result p of trade id be taken for
 * the trade as fetched now (sl)? Its inputs match the trade and this build
 * and its figures match their digest. */
int job_mirror_usable(const job_t *s, const result_t *p, const trade_slot_t *sl, int64_t id);

/* batches (batch.c): price, mirror and write the rows of one window in
 * batches. Returns 0, or -1 with s->fatal and s->err set. */
int job_do_window(job_t *s, const window_t *w);

#endif
