/* xfer.c - export and import: trades between stores and eyxml files, in batches. */
#define _GNU_SOURCE
#include "finsim/job/xfer.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "finsim/base/file.h"
#include "finsim/base/util.h"
#include "finsim/job/status.h"
#include "finsim/job/tradelist.h"
#include "finsim/trade/trade.h"

#define XFER_HEAD "<AZFINSIM>\n"     /* opening of a trade_format document */
#define XFER_TAIL "\n</AZFINSIM>"    /* closing of a trade_format document */

/* Open url for writing without truncating it: a store that does not exist
 * yet (a new trade file) is created. Returns the store or NULL with the
 * message printed and *status set. */
static store_t *xfer_open_dest(const char *url, const store_opts_t *base, int *status)
{
    store_opts_t so = *base;
    char err[512];
    int code = 0;
    so.create = 0;
    so.readonly = 0;
    store_t *st = store_open(url, &so, NULL, err, sizeof(err), &code);
    if (!st && code == STORE_E_NOTFOUND) {
        so.create = 1;
        st = store_open(url, &so, NULL, err, sizeof(err), &code);
    }
    if (!st) {
        fs_error("%s", err);
        *status = job_store_status(code);
    }
    return st;
}

/* ---- export ------------------------------------------------------------------- */

/* Where export writes: one of doc, dir, to. */
typedef struct xfer_out {
    const char *dest;     /* the destination's name for messages */
    FILE *doc;            /* --eyxml: the document being written */
    const char *dir;      /* --eyxml-dir */
    store_t *to;          /* --to */
    trade_t *pending;     /* --to: trades of the current batch */
    size_t npending;      /* entries of pending */
} xfer_out_t;

/* The trade ids to export into *l (tl_free): the window, or the store's
 * list (ids >= start when a start was given). Returns JOB_OK or a store
 * status (message printed). */
static int xfer_export_ids(const xfer_export_cfg_t *c, store_t *src, tl_list_t *l)
{
    tl_spec_t spec = {.source = c->window ? TL_RANGE : TL_ALL, .start = c->start, .window = c->window,
                      .min_start = c->have_start};
    char err[512];
    if (tl_build(&spec, src, l, err, sizeof(err)) != JOB_OK) {
        fs_error("%s%s", err, l->store_err == STORE_E_NOTSUP ? " (give --start-trade K --trade-window W)" : "");
        return job_store_status(l->store_err);
    }
    return JOB_OK;
}

/* Open the destination of c into o (zeroed first): the document with its
 * opening line, the directory, or the store. Returns JOB_OK or an exit
 * code (message printed); o is to be closed with xfer_out_close either way. */
static int xfer_out_open(const xfer_export_cfg_t *c, xfer_out_t *o)
{
    int rc = JOB_OK;
    memset(o, 0, sizeof(*o));
    o->dest = c->eyxml ? (strcmp(c->eyxml, "-") == 0 ? "standard output" : c->eyxml) : c->dir ? c->dir : c->to_url;
    if (c->eyxml) {
        o->doc = strcmp(c->eyxml, "-") == 0 ? stdout : fopen(c->eyxml, "wb");
        if (!o->doc) {
            fs_error("cannot open %s: %s", c->eyxml, strerror(errno));
            rc = JOB_E_IO;
        } else if (fputs(XFER_HEAD, o->doc) == EOF) {
            fs_error("writing %s failed: %s", o->dest, strerror(errno));
            rc = JOB_E_IO;
        }
    } else if (c->dir) {
        o->dir = c->dir;
        if (mkdir(c->dir, 0777) != 0 && errno != EEXIST) {
            fs_error("cannot create directory %s: %s", c->dir, strerror(errno));
            rc = JOB_E_IO;
        }
    } else {
        o->to = xfer_open_dest(c->to_url, &c->so, &rc);
        o->pending = xmalloc((size_t)c->batch * sizeof(*o->pending));
    }
    return rc;
}

/* Finish the destination: the document's closing line (when rc is still
 * JOB_OK) and close; close the store. Returns rc, or JOB_E_IO when
 * the document could not be completed (message printed). */
static int xfer_out_close(xfer_out_t *o, int rc)
{
    if (o->doc) {
        int bad = rc == JOB_OK && fputs("</AZFINSIM>\n", o->doc) == EOF;
        bad |= o->doc == stdout ? fflush(o->doc) != 0 : fclose(o->doc) != 0;
        if (bad && rc == JOB_OK) {
            fs_error("writing %s failed: %s", o->dest, strerror(errno));
            rc = JOB_E_IO;
        }
    }
    store_close(o->to);
    free(o->pending);
    return rc;
}

/* Write one trade to the eyxml outputs. Returns 0 or -1 (message printed). */
static int xfer_write_eyxml(xfer_out_t *o, const trade_t *t)
{
    char buf[1024];
    int len = trade_format(t, buf, sizeof(buf));
    if (len < 0 || (size_t)len >= sizeof(buf)) {
        fs_error("trade %010lld does not fit the eyxml layout", (long long)t->id);
        return -1;
    }
    if (o->doc) {
        /* the <trade> line of trade_format's document, as generate --eyxml writes it */
        const size_t head = strlen(XFER_HEAD), tail = strlen(XFER_TAIL);
        if (fwrite(buf + head, 1, (size_t)len - head - tail, o->doc) != (size_t)len - head - tail ||
            fputc('\n', o->doc) == EOF) {
            fs_error("writing %s failed: %s", o->dest, strerror(errno));
            return -1;
        }
    }
    if (o->dir) {
        char key[64], path[4096];
        trade_key(key, sizeof(key), NULL, t->id);
        snprintf(path, sizeof(path), "%s/%s", o->dir, key);
        FILE *f = fopen(path, "wb");
        int ok = f && fwrite(buf, 1, (size_t)len, f) == (size_t)len;
        if (f && fclose(f) != 0)
            ok = 0;
        if (!ok) {
            fs_error("cannot write %s: %s", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Copy the trades of l from src to the outputs, batch by batch. Trades the
 * source lacks or cannot give are reported and counted in *skipped. Returns
 * a job status (JOB_OK when every trade was handled). */
static int xfer_copy(store_t *src, const tl_list_t *l, int batch, xfer_out_t *o, int64_t *copied, int64_t *skipped)
{
    trade_slot_t *slots = xmalloc((size_t)batch * sizeof(*slots));
    int64_t *ids = xmalloc((size_t)batch * sizeof(*ids));
    int rc = JOB_OK;
    for (size_t off = 0; off < l->n && rc == JOB_OK; off += (size_t)batch) {
        size_t m = l->n - off < (size_t)batch ? l->n - off : (size_t)batch;
        for (size_t i = 0; i < m; i++)
            ids[i] = tl_id(l, off + i);
        int src_rc = store_get_trades(src, ids, m, slots);
        if (src_rc != STORE_OK) {
            fs_error("reading trades from %s: %s", store_describe(src), store_errstr(src));
            rc = job_store_status(src_rc);
            break;
        }
        o->npending = 0;
        for (size_t i = 0; i < m && rc == JOB_OK; i++) {
            const trade_slot_t *s = &slots[i];
            if (s->status != FS_OK) {
                fs_error("trade %010lld: %s (%s); skipped", (long long)ids[i], s->msg,
                         fs_status_name(s->status));
                (*skipped)++;
                continue;
            }
            if (o->to)
                o->pending[o->npending++] = s->trade;
            else if (xfer_write_eyxml(o, &s->trade) != 0)
                rc = JOB_E_IO;
            if (!o->to && rc == JOB_OK)
                (*copied)++;
        }
        if (rc == JOB_OK && o->to && o->npending) {
            int dst_rc = store_put_trades(o->to, o->pending, o->npending);
            if (dst_rc != STORE_OK) {
                fs_error("writing trades to %s: %s", store_describe(o->to), store_errstr(o->to));
                rc = job_store_status(dst_rc);
            } else {
                *copied += (int64_t)o->npending;
            }
        }
    }
    free(ids);
    free(slots);
    return rc;
}

/* Open the source read-only, build the id list, open the destination,
 * copy, finish, log the summary. Returns a job status (messages printed). */
int xfer_export(const xfer_export_cfg_t *c)
{
    store_opts_t src_opts = c->so;
    src_opts.readonly = 1;
    char err[512];
    int code = 0;
    store_t *src = store_open(c->src_url, &src_opts, NULL, err, sizeof(err), &code);
    if (!src)
        return fs_error("%s", err), job_store_status(code);
    tl_list_t ids;
    int rc = xfer_export_ids(c, src, &ids);
    if (rc != JOB_OK) {
        store_close(src);
        return rc;
    }
    xfer_out_t o;
    int64_t copied = 0, skipped = 0;
    if ((rc = xfer_out_open(c, &o)) == JOB_OK)
        rc = xfer_copy(src, &ids, c->batch, &o, &copied, &skipped);
    rc = xfer_out_close(&o, rc);
    tl_free(&ids);
    if (rc == JOB_OK)
        fs_info("exported %lld trade%s from %s to %s; %lld skipped", (long long)copied, copied == 1 ? "" : "s",
                store_describe(src), o.dest, (long long)skipped);
    store_close(src);
    if (rc == JOB_OK && skipped)
        rc = JOB_TRADES_FAILED;
    return rc;
}

/* ---- import ------------------------------------------------------------------- */

typedef struct xfer_import_ctx {
    store_t *st;        /* destination */
    const char *file;   /* document being read, for messages */
    trade_t *batch;     /* trades waiting to be written */
    size_t nbatch;      /* entries of batch */
    size_t cap;         /* capacity of batch */
    fs_idset_t seen;    /* ids imported so far */
    int64_t imported;   /* trades written */
    int64_t skipped;    /* trades reported and skipped */
    int fatal;          /* job status of a store failure, JOB_OK if none */
} xfer_import_ctx_t;

/* Write the pending batch. Returns 0, or -1 with x->fatal set (message
 * printed). */
static int xfer_flush(xfer_import_ctx_t *x)
{
    if (!x->nbatch)
        return 0;
    int rc = store_put_trades(x->st, x->batch, x->nbatch);
    if (rc != STORE_OK) {
        fs_error("writing trades to %s: %s", store_describe(x->st), store_errstr(x->st));
        x->fatal = job_store_status(rc);
        return -1;
    }
    x->imported += (int64_t)x->nbatch;
    x->nbatch = 0;
    return 0;
}

/* trade_parse_doc callback: queue good trades, report and count bad ones.
 * Returns non-zero (stop) after a store failure. */
static int xfer_import_cb(void *ctx, const trade_t *t, int status, const char *msg)
{
    xfer_import_ctx_t *x = ctx;
    if (status == FS_OK && fs_idset_insert(&x->seen, t->id)) {
        status = FS_E_DUPLICATE;
        msg = "trade id appears more than once; the first is imported";
    }
    if (status != FS_OK) {
        if (t->id >= 0)
            fs_error("%s: trade %010lld: %s (%s); skipped", x->file, (long long)t->id, msg, fs_status_name(status));
        else
            fs_error("%s: %s (%s); skipped", x->file, msg, fs_status_name(status));
        x->skipped++;
        return 0;
    }
    x->batch[x->nbatch++] = *t;
    if (x->nbatch == x->cap)
        return xfer_flush(x) != 0;
    return 0;
}

/* Import one document file ('-' = stdin). trade_parse_doc reads a large or
 * broken document trade by trade, so a malformed trade is skipped and
 * counted and the trades after it are still imported. Returns 0, or -1 when
 * the file could not be read (message printed). */
static int xfer_import_file(xfer_import_ctx_t *x, const char *name)
{
    FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "rb");
    if (!f) {
        fs_error("cannot open %s: %s", name, strerror(errno));
        return -1;
    }
    size_t len = 0;
    char *doc = fs_read_stream(f, &len);
    int err = errno;
    if (f != stdin)
        fclose(f);
    if (!doc) {
        fs_error("cannot read %s: %s", name, strerror(err));
        return -1;
    }
    x->file = strcmp(name, "-") == 0 ? "<stdin>" : name;
    trade_parse_doc(doc, len, xfer_import_cb, x);
    free(doc);
    return 0;
}

/* scandir filter: regular-looking names ending in ".xml". */
static int xfer_xml_name(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 4 && d->d_name[0] != '.' && strcmp(d->d_name + n - 4, ".xml") == 0;
}

/* Import the files of c, then the directory entries ents[0..nents) of
 * c->dir, into the open store x->st, flush and log the summary. Returns the
 * status of the import. */
static int xfer_import_all(xfer_import_ctx_t *x, const xfer_import_cfg_t *c, struct dirent **ents, int nents)
{
    int io_failed = 0;
    for (size_t i = 0; i < c->nfiles && !x->fatal; i++)
        io_failed |= xfer_import_file(x, c->files[i]) != 0;
    for (int i = 0; i < nents && !x->fatal; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", c->dir, ents[i]->d_name);
        io_failed |= xfer_import_file(x, path) != 0;
    }
    if (!x->fatal)
        xfer_flush(x);
    if (x->fatal)
        return x->fatal;
    fs_info("imported %lld trade%s into %s; %lld skipped", (long long)x->imported, x->imported == 1 ? "" : "s",
            store_describe(x->st), (long long)x->skipped);
    return io_failed ? JOB_E_IO : x->skipped ? JOB_TRADES_FAILED : JOB_OK;
}

/* Read the directory, open the store, import every document, close.
 * Returns a job status (messages printed). */
int xfer_import(const xfer_import_cfg_t *c)
{
    struct dirent **ents = NULL;
    int nents = 0, rc = JOB_OK;
    if (c->dir && (nents = scandir(c->dir, &ents, xfer_xml_name, alphasort)) < 0) {
        fs_error("cannot read directory %s: %s", c->dir, strerror(errno));
        return JOB_E_IO;
    }
    xfer_import_ctx_t x;
    memset(&x, 0, sizeof(x));
    x.st = xfer_open_dest(c->url, &c->so, &rc);
    if (x.st) {
        x.cap = (size_t)c->batch;
        x.batch = xmalloc(x.cap * sizeof(*x.batch));
        rc = xfer_import_all(&x, c, ents, nents);
        store_close(x.st);
    }
    for (int i = 0; i < nents; i++)
        free(ents[i]);
    free(ents);
    free(x.batch);
    fs_idset_free(&x.seen);
    return rc;
}
