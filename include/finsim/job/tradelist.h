/* tradelist.h - the list of trade ids a job works on. */
#ifndef FINSIM_TRADELIST_H
#define FINSIM_TRADELIST_H

#include <stddef.h>
#include <stdint.h>
#include "finsim/store/store.h"

/* Where the ids come from. */
typedef enum tl_source {
    TL_RANGE = 0,    /* start, start+1, ..., start+window-1 (not materialised) */
    TL_IDS_FILE = 1, /* whitespace/comma separated ids, '#' comments ("-" = stdin) */
    TL_ALL = 2       /* every trade in the store (store_list_trades) */
} tl_source_t;

/* What to build; zero-initialise, then fill. */
typedef struct tl_spec {
    tl_source_t source;
    int64_t start;        /* TL_RANGE: first id; TL_ALL with min_start: lowest id kept */
    int64_t window;       /* TL_RANGE: number of ids */
    int min_start;        /* TL_ALL: drop the ids below start */
    const char *ids_file; /* TL_IDS_FILE: the file */
    int unique;           /* sort ascending and drop repeated ids (counted in dropped) */
} tl_spec_t;

/* A built list. ids is NULL for a range: the i-th id is then start + i
 * (tl_id); otherwise ids holds n ids, malloc'ed (tl_free). */
typedef struct tl_list {
    int64_t *ids;
    size_t n;
    int64_t start;    /* range: first id */
    size_t dropped;   /* repeated ids dropped by unique */
    int store_err;    /* TL_ALL: the STORE_E_* of a failed listing (for hints) */
} tl_list_t;

/* The i-th id of the list. */
static inline int64_t tl_id(const tl_list_t *l, size_t i)
{
    return l->ids ? l->ids[i] : l->start + (int64_t)i;
}

/* Build the list on this process (not collective). st is needed for TL_ALL
 * only. Returns JOB_OK, or an enum job_status with a one-line message in
 * err[errlen]: JOB_E_CONFIG for an unreadable or bad ids file, the store's
 * status when listing failed (then l->store_err says which). On failure l
 * holds nothing to free. An empty list is not an error. */
int tl_build(const tl_spec_t *spec, store_t *st, tl_list_t *l, char *err, size_t errlen);

/* Read the ids of an ids file into *ids (malloc'ed, *n of them), in file
 * order, duplicates kept. Returns 0, or -1 with the file, line and reason
 * in err. */
int tl_read_ids_file(const char *path, int64_t **ids, size_t *n, char *err, size_t errlen);

/* Sort ids ascending and drop repeated ones; returns how many were dropped. */
size_t tl_sort_unique(int64_t *ids, size_t *n);

/* Rows [*lo, *hi) of n: the contiguous share of part k of nparts. */
void tl_share(size_t n, int k, int nparts, size_t *lo, size_t *hi);

/* Collective over MPI_COMM_WORLD: give every rank rank 0's list (the l of
 * the other ranks is only written: it may be uninitialised). */
void tl_bcast(tl_list_t *l);

/* Split the list into nparts contiguous parts of about equal cost, cost =
 * paths x t_steps of each trade (paths = the trade's trials, or paths when
 * > 0; a trade that cannot be read costs 1). Reads the trades from st in
 * batches of batch. bounds[0..nparts] receives the first row of each part
 * and n. Returns JOB_OK, or the store's job status with the message in err. */
int tl_cost_bounds(const tl_list_t *l, store_t *st, int batch, int64_t paths, int nparts, int64_t *bounds,
                   char *err, size_t errlen);

/* Free the ids; the list is empty afterwards. */
void tl_free(tl_list_t *l);

#endif
