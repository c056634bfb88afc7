/* xfer.h - moving trades between stores and eyxml files: the jobs of
 * 'finsim export' and 'finsim import'.
 *
 * Both work in batches (store_get_trades / store_put_trades), so memory
 * follows the batch size, not the portfolio; bad or missing trades are
 * reported on stderr with their id, skipped and counted. Both run in one
 * process. They return an enum job_status (job/status.h): JOB_OK every
 * trade copied, JOB_TRADES_FAILED some were skipped, else the store or file
 * failure. */
#ifndef FINSIM_JOB_XFER_H
#define FINSIM_JOB_XFER_H

#include <stddef.h>
#include <stdint.h>

#include "finsim/store/store.h"

/* What to export (strings borrowed). Exactly one of eyxml, dir and to_url
 * is set. */
typedef struct xfer_export_cfg {
    const char *src_url;  /* source store */
    const char *eyxml;    /* one document ('-' = standard output) */
    const char *dir;      /* one file per trade (created) */
    const char *to_url;   /* another store */
    int64_t start;        /* first trade id */
    int64_t window;       /* trades start..start+window-1; 0: every trade in the store */
    int have_start;       /* without a window: only ids >= start */
    int batch;            /* trades per batch */
    store_opts_t so;      /* settings of every store (source opened read-only) */
} xfer_export_cfg_t;

/* Copy the trades of c->src_url to the destination of c. The source is
 * opened read-only; a destination store that does not exist yet is created
 * (an existing one keeps its trades). Returns a job status. */
int xfer_export(const xfer_export_cfg_t *c);

/* What to import (strings borrowed). Either files or dir. */
typedef struct xfer_import_cfg {
    const char *url;           /* destination store */
    const char *const *files;  /* eyxml documents ('-' = standard input) */
    size_t nfiles;             /* entries of files */
    const char *dir;           /* or every *.xml file of dir, in name order */
    int batch;                 /* trades per batch */
    store_opts_t so;           /* settings of the store */
} xfer_import_cfg_t;

/* Read the eyxml documents of c and write their trades into c->url (created
 * when it does not exist). Trades that do not parse or validate, and
 * repeats of an id already imported, are reported and skipped. Returns an
 * job status (JOB_E_IO when a document or the directory was unreadable). */
int xfer_import(const xfer_import_cfg_t *c);

#endif
