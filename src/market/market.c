/* market.c - quotes and market data from CSV / JSON files and HTTP(S)
 * endpoints (see market.h). JSON is read with jansson, HTTP with libcurl,
 * which is loaded at the first request (curl_dl.h). */
#define _GNU_SOURCE
#include "finsim/market/market.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "finsim/base/file.h"
#include "finsim/trade/trade.h"
#include "finsim/base/secret.h"
#include "finsim/base/util.h"
#include "curl_dl.h"

#define MKT_DEFAULT_MAX_BYTES ((size_t)256 << 20)

/* Append one quote to d, growing the array geometrically. Aborts (xrealloc)
 * when memory runs out. */
static void mkt_push_quote(mkt_data_t *d, const mkt_quote_t *q, size_t *cap)
{
    if (d->nquotes == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        d->quotes = xrealloc(d->quotes, *cap * sizeof(*d->quotes));
    }
    d->quotes[d->nquotes++] = *q;
}

/* Append one market record to d (as mkt_push_quote). */
static void mkt_push_pair(mkt_data_t *d, const mkt_pair_t *p, size_t *cap)
{
    if (d->npairs == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        d->pairs = xrealloc(d->pairs, *cap * sizeof(*d->pairs));
    }
    d->pairs[d->npairs++] = *p;
}

/* Check a currency pair name (1..15 printable bytes without ',', '"' or
 * spaces) and copy it into out. Returns 0 or -1. */
static int mkt_copy_pair(char out[MKT_PAIR_MAX], const char *s, size_t n)
{
    if (n == 0 || n >= MKT_PAIR_MAX)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)s[i]) || s[i] == ',' || s[i] == '"')
            return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

/* Validate a quote record; writes the reason into err. Returns 0 or -1. */
static int mkt_check_quote(const mkt_quote_t *q, const char *where, char *err, size_t errlen)
{
    if (q->trade_id < 0 || q->trade_id > TRADE_MAX_ID)
        return fs_seterr(err, errlen, "%s: trade_id %lld out of range 0..%lld", where, (long long)q->trade_id,
                         (long long)TRADE_MAX_ID);
    if (!isfinite(q->quote) || q->quote <= 0)
        return fs_seterr(err, errlen, "%s: quote for trade %lld must be a finite number > 0", where,
                         (long long)q->trade_id);
    return 0;
}

/* Validate a market record (spot > 0, vol >= 0, at least one given). */
static int mkt_check_pair(const mkt_pair_t *p, const char *where, char *err, size_t errlen)
{
    if (isnan(p->spot) && isnan(p->vol))
        return fs_seterr(err, errlen, "%s: market record for %s has neither spot nor vol", where, p->pair);
    if (!isnan(p->spot) && (!isfinite(p->spot) || p->spot <= 0))
        return fs_seterr(err, errlen, "%s: spot for %s must be a finite number > 0", where, p->pair);
    if (!isnan(p->vol) && (!isfinite(p->vol) || p->vol < 0))
        return fs_seterr(err, errlen, "%s: vol for %s must be a finite number >= 0", where, p->pair);
    return 0;
}

/* ---------------------------------------------------------------------
 * CSV
 * ------------------------------------------------------------------- */

#define CSV_MAX_COLS 32

enum { COL_TRADE_ID, COL_QUOTE, COL_PAIR, COL_SPOT, COL_VOL, COL_N };
static const char *const csv_col_names[COL_N] = {"trade_id", "quote", "currency_pair", "spot", "vol"};

/* Split one line (no newline) into at most CSV_MAX_COLS fields, in place in
 * the scratch copy buf. Fields may be double-quoted ("" is a quote inside).
 * Leading/trailing blanks of unquoted fields are trimmed. Returns the field
 * count, or -1 for an unterminated quote or too many fields. */
static int csv_split(char *buf, char **fields, int maxf)
{
    int nf = 0;
    char *p = buf;
    for (;;) {
        if (nf == maxf)
            return -1;
        while (*p == ' ' || *p == '\t')
            p++;
        char *out = p, *start = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0')
                    return -1;
                if (*p == '"') {
                    if (p[1] == '"') {
                        *out++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *out++ = *p++;
            }
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p != ',' && *p != '\0')
                return -1;
        } else {
            while (*p != ',' && *p != '\0')
                out = ++p;
            while (out > start && (out[-1] == ' ' || out[-1] == '\t'))
                out--;
        }
        char sep = *p;
        *out = '\0';
        fields[nf++] = start;
        if (sep == '\0')
            return nf;
        p++; /* past ',' */
    }
}

/* Read a CSV header line (fields f[0..nf)) into col[] (-1 for a column
 * that is absent) and say whether it is a quotes header (*is_quotes).
 * Returns MKT_OK or MKT_E_PARSE with the reason in err. */
static int csv_header(char **f, int nf, const char *where, int col[COL_N], int *is_quotes, char *err,
                      size_t errlen)
{
    for (int c = 0; c < COL_N; c++)
        col[c] = -1;
    for (int i = 0; i < nf; i++)
        for (int c = 0; c < COL_N; c++)
            if (!strcasecmp(f[i], csv_col_names[c])) {
                if (col[c] >= 0)
                    return fs_seterr(err, errlen, "%s: column %s appears twice", where, csv_col_names[c]),
                           MKT_E_PARSE;
                col[c] = i;
            }
    *is_quotes = col[COL_TRADE_ID] >= 0 || col[COL_QUOTE] >= 0;
    if (*is_quotes && (col[COL_TRADE_ID] < 0 || col[COL_QUOTE] < 0))
        return fs_seterr(err, errlen, "%s: a quotes header needs both trade_id and quote columns", where),
               MKT_E_PARSE;
    if (!*is_quotes && (col[COL_PAIR] < 0 || (col[COL_SPOT] < 0 && col[COL_VOL] < 0)))
        return fs_seterr(err, errlen,
                         "%s: header must name trade_id,quote[,currency_pair] (quotes) or currency_pair,spot,vol "
                         "(market data)",
                         where),
               MKT_E_PARSE;
    return MKT_OK;
}

/* Add the quote of one CSV data row (fields f, columns col) to d. Returns
 * MKT_OK or MKT_E_PARSE with the reason in err. */
static int csv_quote_row(char **f, const int col[COL_N], const char *where, mkt_data_t *d, size_t *qcap,
                         char *err, size_t errlen)
{
    mkt_quote_t q;
    memset(&q, 0, sizeof(q));
    if (fs_parse_i64(f[col[COL_TRADE_ID]], &q.trade_id) != 0)
        return fs_seterr(err, errlen, "%s: trade_id '%.40s' is not an integer", where, f[col[COL_TRADE_ID]]),
               MKT_E_PARSE;
    if (fs_parse_double(f[col[COL_QUOTE]], &q.quote) != 0)
        return fs_seterr(err, errlen, "%s: quote '%.40s' is not a number", where, f[col[COL_QUOTE]]), MKT_E_PARSE;
    if (col[COL_PAIR] >= 0 && f[col[COL_PAIR]][0] &&
        mkt_copy_pair(q.pair, f[col[COL_PAIR]], strlen(f[col[COL_PAIR]])) != 0)
        return fs_seterr(err, errlen, "%s: bad currency_pair '%.40s'", where, f[col[COL_PAIR]]), MKT_E_PARSE;
    if (mkt_check_quote(&q, where, err, errlen) != 0)
        return MKT_E_PARSE;
    mkt_push_quote(d, &q, qcap);
    return MKT_OK;
}

/* Add the market record of one CSV data row (fields f, columns col) to d.
 * Returns MKT_OK or MKT_E_PARSE with the reason in err. */
static int csv_pair_row(char **f, const int col[COL_N], const char *where, mkt_data_t *d, size_t *pcap,
                        char *err, size_t errlen)
{
    mkt_pair_t m;
    memset(&m, 0, sizeof(m));
    m.spot = m.vol = NAN;
    if (mkt_copy_pair(m.pair, f[col[COL_PAIR]], strlen(f[col[COL_PAIR]])) != 0)
        return fs_seterr(err, errlen, "%s: bad currency_pair '%.40s'", where, f[col[COL_PAIR]]), MKT_E_PARSE;
    if (col[COL_SPOT] >= 0 && f[col[COL_SPOT]][0] && fs_parse_double(f[col[COL_SPOT]], &m.spot) != 0)
        return fs_seterr(err, errlen, "%s: spot '%.40s' is not a number", where, f[col[COL_SPOT]]), MKT_E_PARSE;
    if (col[COL_VOL] >= 0 && f[col[COL_VOL]][0] && fs_parse_double(f[col[COL_VOL]], &m.vol) != 0)
        return fs_seterr(err, errlen, "%s: vol '%.40s' is not a number", where, f[col[COL_VOL]]), MKT_E_PARSE;
    if (mkt_check_pair(&m, where, err, errlen) != 0)
        return MKT_E_PARSE;
    mkt_push_pair(d, &m, pcap);
    return MKT_OK;
}

/* Parse a CSV document of quotes or market records (the header says
 * which) into d, line by line: blank and '#' lines skipped, the first
 * other line is the header. Returns MKT_OK or MKT_E_PARSE with the file and
 * line in err. */
static int mkt_parse_csv(const char *buf, size_t len, const char *name, mkt_data_t *d, char *err, size_t errlen)
{
    int col[COL_N] = {-1, -1, -1, -1, -1};
    int have_header = 0, is_quotes = 0;
    size_t qcap = d->nquotes, pcap = d->npairs;
    size_t lineno = 0;
    char *line = NULL;
    size_t linecap = 0;
    const char *p = buf, *end = buf + len;
    int rc = MKT_OK;
    char where[300];
    while (p < end && rc == MKT_OK) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *next = nl ? nl + 1 : end;
        lineno++;
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (memchr(p, '\0', n)) {
            rc = MKT_E_PARSE;
            fs_seterr(err, errlen, "%s:%zu: NUL byte in CSV", name, lineno);
            break;
        }
        if (n + 1 > linecap) {
            linecap = n + 1;
            line = xrealloc(line, linecap);
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p = next;
        size_t k = 0;
        while (line[k] == ' ' || line[k] == '\t')
            k++;
        if (line[k] == '\0' || line[k] == '#')
            continue;
        char *f[CSV_MAX_COLS];
        int nf = csv_split(line, f, CSV_MAX_COLS);
        snprintf(where, sizeof(where), "%s:%zu", name, lineno);
        if (nf < 0) {
            rc = MKT_E_PARSE;
            fs_seterr(err, errlen, "%s: malformed CSV line (unterminated quote or more than %d fields)", where,
                      CSV_MAX_COLS);
            break;
        }
        if (!have_header) {
            rc = csv_header(f, nf, where, col, &is_quotes, err, errlen);
            have_header = 1;
            continue;
        }
        int need = 0;
        for (int c = 0; c < COL_N; c++)
            if (col[c] + 1 > need)
                need = col[c] + 1;
        if (nf < need) {
            rc = MKT_E_PARSE;
            fs_seterr(err, errlen, "%s: %d fields, the header needs %d", where, nf, need);
        } else {
            rc = is_quotes ? csv_quote_row(f, col, where, d, &qcap, err, errlen)
                           : csv_pair_row(f, col, where, d, &pcap, err, errlen);
        }
    }
    free(line);
    if (rc == MKT_OK && !have_header)
        rc = (fs_seterr(err, errlen, "%s: no CSV header line", name), MKT_E_PARSE);
    return rc;
}

/* ---------------------------------------------------------------------
 * JSON
 * ------------------------------------------------------------------- */

/* Read a JSON number (integer or real) into *out. Returns 0 or -1. */
static int json_num(const json_t *v, double *out)
{
    if (!json_is_number(v))
        return -1;
    *out = json_number_value(v);
    return 0;
}

/* Read a trade id: a JSON integer, or a string of digits ("0000000042"). */
static int json_trade_id(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v))
        return fs_parse_i64(json_string_value(v), out);
    return -1;
}

/* Append one JSON object (a quote or a market record, by its keys) to d.
 * kind: 0 = decide from the keys, 1 = must be a quote, 2 = must be market.
 * Returns MKT_OK or MKT_E_PARSE with the reason. */
static int mkt_json_record(const json_t *o, int kind, const char *where, mkt_data_t *d, size_t *qcap,
                           size_t *pcap, char *err, size_t errlen)
{
    if (!json_is_object(o))
        return fs_seterr(err, errlen, "%s: expected an object", where), MKT_E_PARSE;
    const json_t *id = json_object_get(o, "trade_id");
    const json_t *pair = json_object_get(o, "currency_pair");
    if (pair && !json_is_null(pair) && !json_is_string(pair))
        return fs_seterr(err, errlen, "%s: currency_pair must be a string", where), MKT_E_PARSE;
    const char *ps = pair && json_is_string(pair) ? json_string_value(pair) : "";
    if (kind == 1 || (kind == 0 && id)) {
        mkt_quote_t q;
        memset(&q, 0, sizeof(q));
        if (!id || json_trade_id(id, &q.trade_id) != 0)
            return fs_seterr(err, errlen, "%s: trade_id missing or not an integer", where), MKT_E_PARSE;
        if (json_num(json_object_get(o, "quote"), &q.quote) != 0)
            return fs_seterr(err, errlen, "%s: quote missing or not a number", where), MKT_E_PARSE;
        if (ps[0] && mkt_copy_pair(q.pair, ps, strlen(ps)) != 0)
            return fs_seterr(err, errlen, "%s: bad currency_pair '%.40s'", where, ps), MKT_E_PARSE;
        if (mkt_check_quote(&q, where, err, errlen) != 0)
            return MKT_E_PARSE;
        mkt_push_quote(d, &q, qcap);
        return MKT_OK;
    }
    mkt_pair_t m;
    memset(&m, 0, sizeof(m));
    m.spot = m.vol = NAN;
    if (mkt_copy_pair(m.pair, ps, strlen(ps)) != 0)
        return fs_seterr(err, errlen, "%s: a market record needs a currency_pair (or trade_id for a quote)", where),
               MKT_E_PARSE;
    const json_t *s = json_object_get(o, "spot"), *v = json_object_get(o, "vol");
    if (s && !json_is_null(s) && json_num(s, &m.spot) != 0)
        return fs_seterr(err, errlen, "%s: spot is not a number", where), MKT_E_PARSE;
    if (v && !json_is_null(v) && json_num(v, &m.vol) != 0)
        return fs_seterr(err, errlen, "%s: vol is not a number", where), MKT_E_PARSE;
    if (mkt_check_pair(&m, where, err, errlen) != 0)
        return MKT_E_PARSE;
    mkt_push_pair(d, &m, pcap);
    return MKT_OK;
}

/* Append every record of JSON array a to d (kind as mkt_json_record). */
static int mkt_json_array(const json_t *a, int kind, const char *name, const char *what, mkt_data_t *d,
                          size_t *qcap, size_t *pcap, char *err, size_t errlen)
{
    if (!json_is_array(a))
        return fs_seterr(err, errlen, "%s: \"%s\" must be an array", name, what), MKT_E_PARSE;
    char where[300];
    for (size_t i = 0; i < json_array_size(a); i++) {
        snprintf(where, sizeof(where), "%s: %s[%zu]", name, what, i);
        int rc = mkt_json_record(json_array_get(a, i), kind, where, d, qcap, pcap, err, errlen);
        if (rc != MKT_OK)
            return rc;
    }
    return MKT_OK;
}

/* Parse a JSON document (see market.h) with jansson and append to d. */
static int mkt_parse_json(const char *buf, size_t len, const char *name, mkt_data_t *d, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return fs_seterr(err, errlen, "%s:%d:%d: JSON: %s", name, je.line, je.column, je.text), MKT_E_PARSE;
    size_t qcap = d->nquotes, pcap = d->npairs;
    int rc;
    if (json_is_array(root)) {
        rc = mkt_json_array(root, 0, name, "records", d, &qcap, &pcap, err, errlen);
    } else if (json_is_object(root)) {
        const json_t *q = json_object_get(root, "quotes"), *m = json_object_get(root, "market");
        if (!q && !m)
            rc = (fs_seterr(err, errlen, "%s: JSON object needs a \"quotes\" or \"market\" array", name), MKT_E_PARSE);
        else {
            rc = q ? mkt_json_array(q, 1, name, "quotes", d, &qcap, &pcap, err, errlen) : MKT_OK;
            if (rc == MKT_OK && m)
                rc = mkt_json_array(m, 2, name, "market", d, &qcap, &pcap, err, errlen);
        }
    } else {
        rc = (fs_seterr(err, errlen, "%s: JSON must be an array or an object", name), MKT_E_PARSE);
    }
    json_decref(root);
    return rc;
}

/* Parse buf as JSON when its first non-blank byte is '[' or '{', else as
 * CSV. On failure the records appended so far are taken back. */
int mkt_parse(const char *buf, size_t len, const char *name, mkt_data_t *d, char *err, size_t errlen)
{
    size_t nq = d->nquotes, np = d->npairs, i = 0;
    while (i < len && isspace((unsigned char)buf[i]))
        i++;
    if (i + 3 <= len && (unsigned char)buf[i] == 0xEF && (unsigned char)buf[i + 1] == 0xBB &&
        (unsigned char)buf[i + 2] == 0xBF)
        i += 3; /* UTF-8 byte order mark */
    int rc = i < len && (buf[i] == '[' || buf[i] == '{')
                 ? mkt_parse_json(buf + i, len - i, name, d, err, errlen)
                 : mkt_parse_csv(buf + i, len - i, name, d, err, errlen);
    if (rc != MKT_OK) {
        d->nquotes = nq;
        d->npairs = np;
    }
    return rc;
}

/* ---------------------------------------------------------------------
 * HTTP
 * ------------------------------------------------------------------- */

typedef struct http_buf {
    char *data;
    size_t len, cap, max;
    int too_big;
} http_buf_t;

/* libcurl write callback: append to the buffer, refusing past max bytes
 * (returning a short count makes curl fail with CURLE_WRITE_ERROR). */
static size_t http_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    http_buf_t *b = ud;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->max) {
        b->too_big = 1;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* Sleep s seconds (restarting after signals). */
static void mkt_sleep(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* URL for messages: scheme, host and path only; user info and the query
 * string (where endpoints sometimes take tokens) are dropped. Returns buf. */
char *mkt_redact_url(const char *url, char *buf, size_t n)
{
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    size_t hl = strcspn(host, "/?#");
    const char *at = memchr(host, '@', hl);
    size_t pre = (size_t)(host - url);
    const char *rest = at ? at + 1 : host;
    size_t restlen = strcspn(rest, "?#");
    snprintf(buf, n, "%.*s%.*s%s", (int)pre, url, (int)restlen, rest, rest[restlen] ? "?..." : "");
    return buf;
}

/* May the API key of h go to url? Not when it holds control characters (a
 * CR or LF would let the key's source add headers), nor over plain http://
 * unless h->allow_insecure_http: anyone on the path could read it (then a
 * warning says it is sent in the clear). Returns MKT_OK or MKT_E_USAGE with
 * the reason in err; shown is the redacted URL. */
static int mkt_key_check(const char *url, const mkt_http_opts_t *h, const char *shown, char *err, size_t errlen)
{
    if (!h->api_key || !h->api_key[0])
        return MKT_OK;
    for (const char *k = h->api_key; *k; k++)
        if ((unsigned char)*k < 0x20 || *k == 0x7f)
            return fs_seterr(err, errlen, "market data: the API key holds control characters; refusing to send it"),
                   MKT_E_USAGE;
    if (strncasecmp(url, "http://", 7) != 0)
        return MKT_OK;
    if (!h->allow_insecure_http)
        return fs_seterr(err, errlen,
                         "market data: refusing to send the API key over plain http:// to %s (anyone on the path "
                         "could read it); use https://, or give --allow-insecure-http on a network you trust",
                         shown),
               MKT_E_USAGE;
    fs_warn("market data: sending the API key over plain http:// to %s (--allow-insecure-http)", shown);
    return MKT_OK;
}

/* GET url with libcurl: connect and total timeouts, no redirects (they
 * would carry the key to another host), http/https only, the body capped at
 * max_bytes. Timeouts, connection errors and 408/429/5xx are retried with
 * doubling waits; 401/403 give MKT_E_AUTH at once. The key header is built
 * in a buffer that is wiped, and never appears in err or the log. The body
 * is malloc'ed for the caller. */
int mkt_http_get(const char *url, const mkt_http_opts_t *h, char **body, size_t *len, char *err, size_t errlen)
{
    char shown[512];
    mkt_redact_url(url, shown, sizeof(shown));
    const mkt_curl_api_t *cu = mkt_curl(err, errlen);
    if (!cu)
        return MKT_E_SETUP;
    double cto = h->connect_timeout_s > 0 ? h->connect_timeout_s : 5;
    double to = h->timeout_s > 0 ? h->timeout_s : 30;
    int retries = h->retries < 0 ? 0 : h->retries == 0 ? 3 : h->retries;
    double backoff = h->backoff_s > 0 ? h->backoff_s : 0.5;
    if (mkt_key_check(url, h, shown, err, errlen) != MKT_OK)
        return MKT_E_USAGE;
    CURL *c = cu->easy_init();
    if (!c)
        return fs_seterr(err, errlen, "market data: libcurl could not make a handle"), MKT_E_NOMEM;
    struct curl_slist *hdrs = NULL;
    char *hline = NULL;
    if (h->api_key && h->api_key[0]) {
        size_t cap = strlen(h->api_key) + (h->api_key_header ? strlen(h->api_key_header) : 0) + 32;
        hline = xmalloc(cap);
        if (h->api_key_header)
            snprintf(hline, cap, "%s: %s", h->api_key_header, h->api_key);
        else
            snprintf(hline, cap, "Authorization: Bearer %s", h->api_key);
        hdrs = cu->slist_append(hdrs, hline);
        fs_wipe(hline, strlen(hline)); /* curl keeps its own copy */
    }
    hdrs = cu->slist_append(hdrs, "Accept: application/json, text/csv;q=0.9, */*;q=0.5");
    char cerr[CURL_ERROR_SIZE];
    http_buf_t b = {NULL, 0, 0, h->max_bytes ? h->max_bytes : MKT_DEFAULT_MAX_BYTES, 0};
    cu->easy_setopt(c, CURLOPT_URL, url);
    cu->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    cu->easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect would carry the key elsewhere */
    cu->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(cto * 1000));
    cu->easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(to * 1000));
    cu->easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    cu->easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write);
    cu->easy_setopt(c, CURLOPT_WRITEDATA, &b);
    cu->easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    cu->easy_setopt(c, CURLOPT_USERAGENT, "finsim-screen");
    cu->easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* any encoding curl can decode */
    if (h->ca_file)
        cu->easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
    if (h->insecure) {
        cu->easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        cu->easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    int rc = MKT_E_HTTP;
    char reason[CURL_ERROR_SIZE + 64];
    for (int attempt = 0; attempt <= retries; attempt++) {
        b.len = 0;
        b.too_big = 0;
        cerr[0] = '\0';
        CURLcode cc = cu->easy_perform(c);
        long status = 0;
        int retryable = 0;
        cu->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (cc == CURLE_OK && status >= 200 && status < 300) {
            rc = MKT_OK;
            break;
        }
        if (cc == CURLE_OK) {
            snprintf(reason, sizeof(reason), "HTTP status %ld", status);
            if (status == 401 || status == 403) {
                rc = MKT_E_AUTH;
                snprintf(reason, sizeof(reason), "HTTP status %ld: the endpoint refused the API key%s", status,
                         h->api_key ? "" : " (none given: set FINSIM_MARKET_API_KEY or --api-key-file)");
            } else {
                rc = MKT_E_HTTP;
                retryable = status == 408 || status == 429 || status >= 500;
            }
        } else if (cc == CURLE_OPERATION_TIMEDOUT) {
            rc = MKT_E_TIMEOUT;
            retryable = 1;
            snprintf(reason, sizeof(reason), "timed out (connect %.3g s, total %.3g s)", cto, to);
        } else if (cc == CURLE_WRITE_ERROR && b.too_big) {
            rc = MKT_E_HTTP;
            snprintf(reason, sizeof(reason), "response larger than %zu bytes", b.max);
        } else {
            rc = MKT_E_HTTP;
            retryable = cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_RECV_ERROR ||
                        cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE;
            snprintf(reason, sizeof(reason), "%s", cerr[0] ? cerr : cu->easy_strerror(cc));
        }
        if (!retryable || attempt == retries) {
            if (retryable && retries > 0)
                fs_seterr(err, errlen, "market data: GET %s failed after %d attempts: %s", shown, attempt + 1, reason);
            else
                fs_seterr(err, errlen, "market data: GET %s failed: %s", shown, reason);
            break;
        }
        double wait = backoff * (double)(1u << (attempt < 10 ? attempt : 10));
        fs_warn("market data: GET %s attempt %d of %d failed: %s; retrying in %.2g s", shown, attempt + 1,
                retries + 1, reason, wait);
        mkt_sleep(wait);
    }
    cu->slist_free_all(hdrs); /* curl's copy of the key header goes with it */
    if (hline)
        free(hline);
    cu->easy_cleanup(c);
    if (rc != MKT_OK) {
        free(b.data);
        return rc;
    }
    if (!b.data) {
        b.data = xmalloc(1);
        b.data[0] = '\0';
    }
    *body = b.data;
    *len = b.len;
    return MKT_OK;
}

/* ---------------------------------------------------------------------
 * loading, index, lookups
 * ------------------------------------------------------------------- */

/* Read a whole file (or stdin for "-") into a malloc'ed NUL-terminated
 * buffer. Returns MKT_OK or MKT_E_IO. */
static int mkt_read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    char why[512];
    char *b = fs_read_file(path, len, why, sizeof(why));
    if (!b)
        return fs_seterr(err, errlen, "market data: %s", why), MKT_E_IO;
    *out = b;
    return MKT_OK;
}

/* Fetch (http/https) or read (path, '-') the source's bytes; shown gets
 * the name for messages, URL redacted. */
int mkt_read_source(const char *source, const mkt_http_opts_t *h, char **buf, size_t *len, char *shown,
                    size_t shownlen, char *err, size_t errlen)
{
    if (!source || !source[0])
        return fs_seterr(err, errlen, "market data: empty source name"), MKT_E_USAGE;
    if (!strncasecmp(source, "http://", 7) || !strncasecmp(source, "https://", 8)) {
        mkt_http_opts_t none;
        memset(&none, 0, sizeof(none));
        mkt_redact_url(source, shown, shownlen);
        return mkt_http_get(source, h ? h : &none, buf, len, err, errlen);
    }
    snprintf(shown, shownlen, "%s", source);
    return mkt_read_file(source, buf, len, err, errlen);
}

/* Read the source (mkt_read_source), then parse it into d. */
int mkt_load(const char *source, const mkt_http_opts_t *h, mkt_data_t *d, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    char shown[512];
    int rc = mkt_read_source(source, h, &buf, &len, shown, sizeof(shown), err, errlen);
    if (rc != MKT_OK)
        return rc;
    rc = mkt_parse(buf, len, shown, d, err, errlen);
    free(buf);
    return rc;
}

/* qsort comparator: quotes by trade id. */
static int mkt_cmp_quote(const void *a, const void *b)
{
    int64_t x = ((const mkt_quote_t *)a)->trade_id, y = ((const mkt_quote_t *)b)->trade_id;
    return (x > y) - (x < y);
}

/* Market records by pair name. */
static int mkt_cmp_pair(const void *a, const void *b)
{
    return strcmp(((const mkt_pair_t *)a)->pair, ((const mkt_pair_t *)b)->pair);
}

/* Sort for bsearch and refuse duplicates: a trade quoted twice or a pair
 * listed twice is ambiguous, so the run stops rather than guessing. */
int mkt_index(mkt_data_t *d, char *err, size_t errlen)
{
    if (d->nquotes)
        qsort(d->quotes, d->nquotes, sizeof(*d->quotes), mkt_cmp_quote);
    for (size_t i = 1; i < d->nquotes; i++)
        if (d->quotes[i].trade_id == d->quotes[i - 1].trade_id)
            return fs_seterr(err, errlen, "market data: trade %lld is quoted more than once",
                             (long long)d->quotes[i].trade_id),
                   MKT_E_PARSE;
    if (d->npairs)
        qsort(d->pairs, d->npairs, sizeof(*d->pairs), mkt_cmp_pair);
    for (size_t i = 1; i < d->npairs; i++)
        if (!strcmp(d->pairs[i].pair, d->pairs[i - 1].pair))
            return fs_seterr(err, errlen, "market data: currency pair %s appears more than once", d->pairs[i].pair),
                   MKT_E_PARSE;
    return MKT_OK;
}

/* Binary search of the sorted quotes; NULL when id is not quoted. */
const mkt_quote_t *mkt_find_quote(const mkt_data_t *d, int64_t id)
{
    mkt_quote_t key;
    key.trade_id = id;
    return d->nquotes ? bsearch(&key, d->quotes, d->nquotes, sizeof(key), mkt_cmp_quote) : NULL;
}

/* Binary search of the sorted market records; NULL when absent. */
const mkt_pair_t *mkt_find_pair(const mkt_data_t *d, const char *pair)
{
    mkt_pair_t key;
    if (!pair || !pair[0] || strlen(pair) >= MKT_PAIR_MAX || !d->npairs)
        return NULL;
    strcpy(key.pair, pair);
    return bsearch(&key, d->pairs, d->npairs, sizeof(key), mkt_cmp_pair);
}

/* Free the record arrays and leave d empty (reusable). */
void mkt_data_free(mkt_data_t *d)
{
    if (!d)
        return;
    free(d->quotes);
    free(d->pairs);
    memset(d, 0, sizeof(*d));
}
