/* quotes_out.c - quote files (CSV or JSON) for the market data reader. */
#define _GNU_SOURCE
#include "finsim/market/quotes_out.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "finsim/base/file.h"
#include "finsim/base/util.h"
#include "finsim/market/market.h"

struct mkt_qwriter {
    const char *path;   /* the name asked for ('-' = standard output) */
    char tmp[4200];     /* path.partial, written first */
    int to_stdout;      /* path is '-' */
    FILE *f;            /* the file being written (or stdout) */
    const char *pair;   /* currency pair of every quote, or NULL */
    json_t *arr;        /* JSON output: the array, dumped at close; NULL for CSV */
};

/* Open path.partial (or take stdout) and write the CSV header; a JSON array
 * is kept in memory until close. Returns the writer (freed by
 * mkt_qwriter_close), or NULL with the reason in err. */
mkt_qwriter_t *mkt_qwriter_open(const char *path, const char *pair, char *err, size_t errlen)
{
    mkt_qwriter_t *w = xcalloc(1, sizeof(*w));
    size_t pl = strlen(path);
    w->path = path;
    w->pair = pair;
    w->to_stdout = strcmp(path, "-") == 0;
    snprintf(w->tmp, sizeof(w->tmp), "%s.partial", path);
    if (w->to_stdout)
        w->f = stdout;
    else if (!(w->f = fopen(w->tmp, "w"))) {
        fs_seterr(err, errlen, "cannot open %s: %s", w->tmp, strerror(errno));
        free(w);
        return NULL;
    }
    if (pl > 5 && !strcasecmp(path + pl - 5, ".json"))
        w->arr = json_array();
    else
        fprintf(w->f, "trade_id,quote%s\n", pair ? ",currency_pair" : "");
    return w;
}

/* A CSV row now, or one more object of the JSON array; cannot fail (write
 * errors show at close). */
void mkt_qwriter_add(mkt_qwriter_t *w, int64_t trade_id, double quote)
{
    if (!w->arr) {
        fprintf(w->f, "%lld,%.17g", (long long)trade_id, quote);
        if (w->pair)
            fprintf(w->f, ",%s", w->pair);
        fputc('\n', w->f);
        return;
    }
    json_t *o = json_pack("{s:I,s:f}", "trade_id", (json_int_t)trade_id, "quote", quote);
    if (w->pair)
        json_object_set_new(o, "currency_pair", json_string(w->pair));
    json_array_append_new(w->arr, o);
}

/* Dump the JSON array, close, rename the partial file into place (or
 * remove it) and free w. Returns MKT_OK or MKT_E_IO (reason in err). */
int mkt_qwriter_close(mkt_qwriter_t *w, int discard, char *err, size_t errlen)
{
    int rc = MKT_OK;
    if (err && errlen)
        err[0] = '\0';
    if (w->arr) {
        if (!discard && json_dumpf(w->arr, w->f, JSON_INDENT(1) | JSON_REAL_PRECISION(17)) != 0)
            rc = MKT_E_IO;
        fputc('\n', w->f);
        json_decref(w->arr);
    }
    int bad = ferror(w->f) != 0;
    bad |= w->to_stdout ? fflush(w->f) != 0 : fclose(w->f) != 0;
    if (!discard && rc == MKT_OK && bad) {
        fs_seterr(err, errlen, "writing %s failed: %s", w->path, strerror(errno));
        rc = MKT_E_IO;
    }
    if (!w->to_stdout) {
        if (!discard && rc == MKT_OK && fs_durable_rename(w->tmp, w->path, err, errlen) != 0)
            rc = MKT_E_IO; /* fsync, rename, fsync of the directory */
        if (discard || rc != MKT_OK)
            unlink(w->tmp);
    }
    free(w);
    return rc;
}
