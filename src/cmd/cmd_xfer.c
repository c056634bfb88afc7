/* cmd_xfer.c - finsim export / import: copy trades between stores and eyxml files.
 *
 * export reads trades from a store (Redis, trade file, mem://) and writes them
 * as one eyxml document, one eyxml file per trade, or into another store.
 * import reads eyxml documents and writes their trades into a store. Both
 * work in batches (store_get_trades / store_put_trades), so memory follows
 * the batch size, not the portfolio; bad or missing trades are reported on
 * stderr with their id, skipped and counted, and make the exit status 1.
 * Both run in one process. */
#define _GNU_SOURCE
#include "finsim/cmd/cli.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "finsim/base/options.h"
#include "finsim/cmd/settings.h"
#include "finsim/store/store.h"
#include "finsim/trade/trade.h"
#include "finsim/base/util.h"

#define XFER_HEAD "<AZFINSIM>\n"     /* opening of a trade_format document */
#define XFER_TAIL "\n</AZFINSIM>"    /* closing of a trade_format document */

/* ---- shared helpers ----------------------------------------------------------- */

/* Parse the settings of export or import (table t) into c and read the
 * store password. Returns -1 to go on, or an exit code (help printed: 0;
 * bad usage: 2). *password gets a secret read from a file (wipe and free
 * it with settings_secret_free). */
static int xfer_parse(const opt_table_t *t, xfer_cfg_t *c, int argc, char **argv, opt_sources_t *src,
                      char **password)
{
    memset(c, 0, sizeof(*c));
    *password = NULL;
    int pr = settings_parse(t, c, argc, argv, src);
    if (pr == OPTS_HELP)
        return opts_usage(t, stdout), FS_EXIT_OK;
    if (pr != 0)
        return FS_EXIT_USAGE;
    c->so.batch = c->batch;
    return settings_store_password(c->password_file, &c->so, password, NULL) != 0 ? FS_EXIT_USAGE : -1;
}

/* Refuse to run as several MPI ranks: each would copy everything. Returns
 * 0 when this is the only process. */
static int xfer_single_process(const char *cmd)
{
    int rank, n;
    fs_mpi_world(&rank, &n);
    if (n > 1) {
        fs_error("%s runs in one process; start it without mpirun (or with -np 1)", cmd);
        return -1;
    }
    return 0;
}

/* Open url for writing without truncating it: a store that does not exist
 * yet (a new trade file) is created. Returns the store or NULL with the
 * message printed and *exit_code set. */
static store_t *xfer_open_dest(const char *url, const store_opts_t *base, int *exit_code)
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
        *exit_code = store_err_exit_code(code);
    }
    return st;
}

static int export_body(const xfer_cfg_t *c);
static int import_body(const xfer_cfg_t *c, int argc, char **argv);

/* ---- export ------------------------------------------------------------------- */

typedef struct export_out {
    FILE *doc;            /* --eyxml: the document being written */
    const char *doc_name; /* its name for messages */
    const char *dir;      /* --eyxml-dir */
    store_t *to;          /* --to */
    trade_t *pending;     /* --to: trades of the current batch */
    size_t npending;      /* entries of pending */
} export_out_t;

/* Write one trade to the eyxml outputs. Returns 0 or -1 (message printed). */
static int export_write_eyxml(export_out_t *o, const trade_t *t)
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
            fs_error("writing %s failed: %s", o->doc_name, strerror(errno));
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

/* Copy the trades ids[0..n) from src to the outputs, batch by batch.
 * Trades the source lacks or cannot give are reported and counted in
 * *skipped. Returns an fs_exit code (0 when every trade was handled). */
static int export_ids(store_t *src, const int64_t *ids, size_t n, int batch, export_out_t *o, int64_t *copied,
                      int64_t *skipped)
{
    trade_slot_t *slots = xmalloc((size_t)batch * sizeof(*slots));
    int rc = FS_EXIT_OK;
    for (size_t off = 0; off < n && rc == FS_EXIT_OK; off += (size_t)batch) {
        size_t m = n - off < (size_t)batch ? n - off : (size_t)batch;
        int src_rc = store_get_trades(src, ids + off, m, slots);
        if (src_rc != STORE_OK) {
            fs_error("reading trades from %s: %s", store_describe(src), src->errstr);
            rc = store_err_exit_code(src_rc);
            break;
        }
        o->npending = 0;
        for (size_t i = 0; i < m && rc == FS_EXIT_OK; i++) {
            const trade_slot_t *s = &slots[i];
            if (s->status != FS_OK) {
                fs_error("trade %010lld: %s (%s); skipped", (long long)ids[off + i], s->msg,
                         fs_status_name(s->status));
                (*skipped)++;
                continue;
            }
            if (o->to)
                o->pending[o->npending++] = s->trade;
            else if (export_write_eyxml(o, &s->trade) != 0)
                rc = FS_EXIT_IO;
            if (!o->to && rc == FS_EXIT_OK)
                (*copied)++;
        }
        if (rc == FS_EXIT_OK && o->to && o->npending) {
            int dst_rc = store_put_trades(o->to, o->pending, o->npending);
            if (dst_rc != STORE_OK) {
                fs_error("writing trades to %s: %s", store_describe(o->to), o->to->errstr);
                rc = store_err_exit_code(dst_rc);
            } else {
                *copied += (int64_t)o->npending;
            }
        }
    }
    free(slots);
    return rc;
}

/* Parse and check export's settings. Returns -1 to go on, or an exit code. */
static int export_parse(xfer_cfg_t *c, int argc, char **argv, opt_sources_t *src, char **password)
{
    int rc = xfer_parse(&settings_export, c, argc, argv, src, password);
    if (rc >= 0)
        return rc;
    if (optind < src->layers.argc)
        return fs_error("export: unexpected argument '%s'", src->layers.argv[optind]), FS_EXIT_USAGE;
    if (!c->store_url)
        return fs_error("export: --store URL is required"), FS_EXIT_USAGE;
    if ((c->eyxml != NULL) + (c->dir != NULL) + (c->to_url != NULL) != 1)
        return fs_error("export: give exactly one of --eyxml, --eyxml-dir, --to"), FS_EXIT_USAGE;
    if (c->all && c->window)
        return fs_error("export: give --trade-window W or --all, not both"), FS_EXIT_USAGE;
    if (c->window && c->start + c->window - 1 > TRADE_MAX_ID)
        return fs_error("export: the window passes trade id %lld", TRADE_MAX_ID), FS_EXIT_USAGE;
    if (c->to_url && strcmp(c->to_url, c->store_url) == 0)
        return fs_error("export: --to names the source store itself"), FS_EXIT_USAGE;
    return -1;
}

/* finsim export: see settings_export. Returns an fs_exit code. */
int cmd_export(int argc, char **argv)
{
    xfer_cfg_t c;
    opt_sources_t src;
    char *password = NULL;
    int rc = export_parse(&c, argc, argv, &src, &password);
    if (rc < 0)
        rc = export_body(&c);
    opts_sources_free(&src);
    settings_secret_free(password);
    return rc;
}

/* Copy the trades c names. Returns an fs_exit code. */
static int export_body(const xfer_cfg_t *c)
{
    store_opts_t so = c->so;
    const char *src_url = c->store_url, *eyxml = c->eyxml, *dir = c->dir, *to_url = c->to_url;
    int64_t start = c->start, window = c->window;
    int have_start = c->have_start, batch = c->batch;
    if (xfer_single_process("export") != 0)
        return FS_EXIT_USAGE;

    store_opts_t src_opts = so;
    src_opts.readonly = 1;
    char err[512];
    int code = 0;
    store_t *src = store_open(src_url, &src_opts, NULL, err, sizeof(err), &code);
    if (!src)
        return fs_error("%s", err), store_err_exit_code(code);

    /* the ids: a window, or the store's list */
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = FS_EXIT_OK;
    if (window) {
        n = (size_t)window;
        ids = xmalloc(n * sizeof(*ids));
        for (size_t i = 0; i < n; i++)
            ids[i] = start + (int64_t)i;
    } else {
        int lrc = store_list_trades(src, &ids, &n);
        if (lrc != STORE_OK) {
            fs_error("listing the trades of %s: %s%s", store_describe(src), src->errstr,
                     lrc == STORE_E_NOTSUP ? " (give --start-trade K --trade-window W)" : "");
            store_close(src);
            return store_err_exit_code(lrc);
        }
        if (have_start) {
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if (ids[i] >= start)
                    ids[k++] = ids[i];
            n = k;
        }
    }

    export_out_t o;
    memset(&o, 0, sizeof(o));
    const char *dest = eyxml ? (strcmp(eyxml, "-") == 0 ? "standard output" : eyxml) : dir ? dir : to_url;
    if (eyxml) {
        o.doc_name = dest;
        o.doc = strcmp(eyxml, "-") == 0 ? stdout : fopen(eyxml, "wb");
        if (!o.doc) {
            fs_error("cannot open %s: %s", eyxml, strerror(errno));
            rc = FS_EXIT_IO;
        } else if (fputs(XFER_HEAD, o.doc) == EOF) {
            fs_error("writing %s failed: %s", dest, strerror(errno));
            rc = FS_EXIT_IO;
        }
    } else if (dir) {
        o.dir = dir;
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
            fs_error("cannot create directory %s: %s", dir, strerror(errno));
            rc = FS_EXIT_IO;
        }
    } else {
        o.to = xfer_open_dest(to_url, &so, &rc);
        o.pending = xmalloc((size_t)batch * sizeof(*o.pending));
    }

    int64_t copied = 0, skipped = 0;
    if (rc == FS_EXIT_OK)
        rc = export_ids(src, ids, n, batch, &o, &copied, &skipped);
    if (o.doc) {
        int bad = rc == FS_EXIT_OK && fputs("</AZFINSIM>\n", o.doc) == EOF;
        bad |= o.doc == stdout ? fflush(o.doc) != 0 : fclose(o.doc) != 0;
        if (bad && rc == FS_EXIT_OK) {
            fs_error("writing %s failed: %s", dest, strerror(errno));
            rc = FS_EXIT_IO;
        }
    }
    store_close(o.to);
    free(o.pending);
    free(ids);
    if (rc == FS_EXIT_OK)
        fs_info("exported %lld trade%s from %s to %s; %lld skipped", (long long)copied, copied == 1 ? "" : "s",
                store_describe(src), dest, (long long)skipped);
    store_close(src);
    if (rc == FS_EXIT_OK && skipped)
        rc = FS_EXIT_TRADES_FAILED;
    return rc;
}

/* ---- import ------------------------------------------------------------------- */

typedef struct import_ctx {
    store_t *st;        /* destination */
    const char *file;   /* document being read, for messages */
    trade_t *batch;     /* trades waiting to be written */
    size_t nbatch;      /* entries of batch */
    size_t cap;         /* capacity of batch */
    fs_idset_t seen;    /* ids imported so far */
    int64_t imported;   /* trades written */
    int64_t skipped;    /* trades reported and skipped */
    int fatal;          /* fs_exit code of a store failure, 0 if none */
} import_ctx_t;


/* Write the pending batch. Returns 0, or -1 with c->fatal set. */
static int import_flush(import_ctx_t *c)
{
    if (!c->nbatch)
        return 0;
    int rc = store_put_trades(c->st, c->batch, c->nbatch);
    if (rc != STORE_OK) {
        fs_error("writing trades to %s: %s", store_describe(c->st), c->st->errstr);
        c->fatal = store_err_exit_code(rc);
        return -1;
    }
    c->imported += (int64_t)c->nbatch;
    c->nbatch = 0;
    return 0;
}

/* trade_parse callback: queue good trades, report and count bad ones.
 * Returns non-zero (stop) after a store failure. */
static int import_cb(void *ctx, const trade_t *t, int status, const char *msg)
{
    import_ctx_t *c = ctx;
    if (status == FS_OK && fs_idset_insert(&c->seen, t->id)) {
        status = FS_E_DUPLICATE;
        msg = "trade id appears more than once; the first is imported";
    }
    if (status != FS_OK) {
        if (t->id >= 0)
            fs_error("%s: trade %010lld: %s (%s); skipped", c->file, (long long)t->id, msg, fs_status_name(status));
        else
            fs_error("%s: %s (%s); skipped", c->file, msg, fs_status_name(status));
        c->skipped++;
        return 0;
    }
    c->batch[c->nbatch++] = *t;
    if (c->nbatch == c->cap)
        return import_flush(c) != 0;
    return 0;
}

/* Parse a document of any size: trade_parse_doc reads a large or broken
 * document trade by trade, so a malformed trade is skipped and counted and
 * the trades after it are still imported. */
static void import_doc(import_ctx_t *c, const char *buf, size_t len)
{
    trade_parse_doc(buf, len, import_cb, c);
}

/* Read the whole stream f into a malloc'ed buffer (*len bytes). NULL on a
 * read error. */
static char *import_read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0, got;
    char *buf = xmalloc(cap);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = xrealloc(buf, cap *= 2);
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Import one document file ('-' = stdin). Returns 0, or -1 when it could
 * not be read (message printed). */
static int import_file(import_ctx_t *c, const char *name)
{
    FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "rb");
    if (!f) {
        fs_error("cannot open %s: %s", name, strerror(errno));
        return -1;
    }
    size_t len = 0;
    char *doc = import_read_all(f, &len);
    int err = errno;
    if (f != stdin)
        fclose(f);
    if (!doc) {
        fs_error("cannot read %s: %s", name, strerror(err));
        return -1;
    }
    c->file = strcmp(name, "-") == 0 ? "<stdin>" : name;
    import_doc(c, doc, len);
    free(doc);
    return 0;
}

/* scandir filter: regular-looking names ending in ".xml". */
static int import_xml_name(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 4 && d->d_name[0] != '.' && strcmp(d->d_name + n - 4, ".xml") == 0;
}

/* finsim import: see settings_import. Returns an fs_exit code. */
int cmd_import(int argc, char **argv)
{
    xfer_cfg_t c;
    opt_sources_t src;
    char *password = NULL;
    int rc = xfer_parse(&settings_import, &c, argc, argv, &src, &password);
    if (rc < 0)
        rc = import_body(&c, src.layers.argc, src.layers.argv);
    free(c.files);
    opts_sources_free(&src);
    settings_secret_free(password);
    return rc;
}

/* Import the documents of c and the positional FILE arguments (argv from
 * optind). Returns an fs_exit code. */
static int import_body(const xfer_cfg_t *c, int argc, char **argv)
{
    const store_opts_t so = c->so;
    const char *url = c->store_url, *dir = c->dir;
    const char **files = xmalloc((size_t)(argc + 1 + (int)c->nfiles) * sizeof(*files));
    size_t nfiles = c->nfiles;
    int batch = c->batch, rc = FS_EXIT_OK;
    memcpy(files, c->files, nfiles * sizeof(*files));
    if (optind < argc && nfiles == 0) {
        fs_error("import: unexpected argument '%s' (documents are given with --eyxml FILE...)", argv[optind]);
        rc = FS_EXIT_USAGE;
    }
    for (int i = optind; i < argc; i++)
        files[nfiles++] = argv[i];
    if (rc == FS_EXIT_OK && !url) {
        fs_error("import: --store URL is required");
        rc = FS_EXIT_USAGE;
    }
    if (rc == FS_EXIT_OK && (nfiles > 0) + (dir != NULL) != 1) {
        fs_error("import: give --eyxml FILE... or --eyxml-dir DIR");
        rc = FS_EXIT_USAGE;
    }
    if (rc == FS_EXIT_OK && xfer_single_process("import") != 0)
        rc = FS_EXIT_USAGE;
    struct dirent **ents = NULL;
    int nents = 0;
    if (rc == FS_EXIT_OK && dir) {
        nents = scandir(dir, &ents, import_xml_name, alphasort);
        if (nents < 0) {
            fs_error("cannot read directory %s: %s", dir, strerror(errno));
            rc = FS_EXIT_IO;
        }
    }
    if (rc != FS_EXIT_OK) {
        free(files);
        return rc;
    }

    import_ctx_t ic;
    memset(&ic, 0, sizeof(ic));
    ic.st = xfer_open_dest(url, &so, &rc);
    int io_failed = 0;
    if (ic.st) {
        ic.cap = (size_t)batch;
        ic.batch = xmalloc(ic.cap * sizeof(*ic.batch));
        for (size_t i = 0; i < nfiles && !ic.fatal; i++)
            io_failed |= import_file(&ic, files[i]) != 0;
        for (int i = 0; i < nents && !ic.fatal; i++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
            io_failed |= import_file(&ic, path) != 0;
        }
        if (!ic.fatal)
            import_flush(&ic);
        rc = ic.fatal ? ic.fatal : io_failed ? FS_EXIT_IO : ic.skipped ? FS_EXIT_TRADES_FAILED : FS_EXIT_OK;
        if (!ic.fatal)
            fs_info("imported %lld trade%s into %s; %lld skipped", (long long)ic.imported,
                    ic.imported == 1 ? "" : "s", store_describe(ic.st), (long long)ic.skipped);
        store_close(ic.st);
    }
    for (int i = 0; i < nents; i++)
        free(ents[i]);
    free(ents);
    free(ic.batch);
    fs_idset_free(&ic.seen);
    free(files);
    return rc;
}
