/* market.h - market data for the rich/cheap screen: quotes per trade and
 * spot/volatility per currency pair, from CSV or JSON, in a file or behind
 * an HTTP(S) endpoint.
 *
 * Quotes are prices per warrant (the unit of model_value = pv / warrantsNo).
 *
 * CSV: a header line naming the columns, in any order, then one row per
 * record. Quote rows need trade_id and quote (currency_pair optional);
 * market rows need currency_pair and at least one of spot, vol. A file may
 * hold either kind (decided by its header). Empty lines and lines starting
 * with '#' are skipped; fields may be double-quoted.
 *
 * JSON: an array of objects, each a quote ({"trade_id":42,"quote":1.5,
 * "currency_pair":"EURUSD"}) or a market record ({"currency_pair":"EURUSD",
 * "spot":0.9,"vol":0.08}); or an object {"quotes":[...],"market":[...]}.
 *
 * A source is a path, or an http:// / https:// URL fetched with libcurl.
 * The format is sniffed from the content: '[' or '{' first means JSON. */
#ifndef FINSIM_MARKET_H
#define FINSIM_MARKET_H

#include <stddef.h>
#include <stdint.h>

/* Error codes of this module (negative). */
enum mkt_err {
    MKT_OK = 0,
    MKT_E_USAGE = -1,   /* bad source name or options */
    MKT_E_IO = -2,      /* file unreadable */
    MKT_E_PARSE = -3,   /* malformed content */
    MKT_E_HTTP = -4,    /* connection failed / HTTP error status, retries exhausted */
    MKT_E_TIMEOUT = -5, /* timed out, retries exhausted */
    MKT_E_AUTH = -6,    /* HTTP 401 or 403 */
    MKT_E_NOMEM = -7,
    MKT_E_SETUP = -8    /* a library HTTP(S) needs (libcurl) is not installed */
};

#define MKT_PAIR_MAX 16 /* currency pair names: up to 15 bytes ("EURUSD", "EUR/USD") */

typedef struct mkt_quote {
    int64_t trade_id;         /* trade id, 0..TRADE_MAX_ID */
    double quote;             /* price per warrant, finite and > 0 */
    char pair[MKT_PAIR_MAX];  /* currency pair, "" when not given */
} mkt_quote_t;

typedef struct mkt_pair {
    char pair[MKT_PAIR_MAX];  /* currency pair */
    double spot;              /* overrides the trade's fx1; NaN when not given */
    double vol;               /* overrides the trade's sigma1; NaN when not given */
} mkt_pair_t;

/* Records loaded from one or more sources (arrays are malloc'ed and owned;
 * free with mkt_data_free). */
typedef struct mkt_data {
    mkt_quote_t *quotes;
    size_t nquotes;
    mkt_pair_t *pairs;
    size_t npairs;
} mkt_data_t;

/* How to fetch http(s) sources. Zero-initialise; 0 means the default. */
typedef struct mkt_http_opts {
    const char *api_key;        /* secret sent as a header; never logged; NULL: none */
    const char *api_key_header; /* header name; NULL: "Authorization: Bearer KEY" */
    const char *ca_file;        /* CA bundle for https; NULL: system default */
    int insecure;               /* 1: skip TLS verification (test servers only) */
    int allow_insecure_http;    /* 1: send the API key over plain http:// (with a warning) */
    double connect_timeout_s;   /* default 5 */
    double timeout_s;           /* whole transfer, default 30 */
    int retries;                /* extra attempts after the first; default 3; -1: none */
    double backoff_s;           /* first wait between attempts, doubled each time; default 0.5 */
    size_t max_bytes;           /* largest body accepted; default 256 MiB */
} mkt_http_opts_t;

/* Load the source (path or http(s) URL) and append its records to *d.
 * Rows are validated: trade ids in range, quotes finite and > 0, spot > 0,
 * vol >= 0. Returns MKT_OK or an MKT_E_* code with a one-line reason in err
 * (never the API key). On failure *d keeps what it held before the call. */
int mkt_load(const char *source, const mkt_http_opts_t *h, mkt_data_t *d, char *err, size_t errlen);

/* Read the source's bytes without parsing them: a path ('-' = stdin) or an
 * http(s) URL fetched as mkt_http_get does. *buf is malloc'ed and
 * NUL-terminated (caller frees); shown receives the name to use in messages
 * (URLs redacted). Returns MKT_OK or an MKT_E_* code with the reason in err.
 * Lets one MPI rank fetch and the others parse a broadcast copy. */
int mkt_read_source(const char *source, const mkt_http_opts_t *h, char **buf, size_t *len, char *shown,
                    size_t shownlen, char *err, size_t errlen);

/* Parse a CSV or JSON document of len bytes (what mkt_load does after
 * reading). name is used in messages. Same contract as mkt_load. */
int mkt_parse(const char *buf, size_t len, const char *name, mkt_data_t *d, char *err, size_t errlen);

/* Fetch url into a malloc'ed buffer (*body, *len; NUL-terminated) with the
 * timeouts, retries and backoff of h. Returns MKT_OK or MKT_E_HTTP /
 * MKT_E_TIMEOUT / MKT_E_AUTH / MKT_E_USAGE / MKT_E_SETUP (libcurl could not be
 * loaded) with the reason in err. */
int mkt_http_get(const char *url, const mkt_http_opts_t *h, char **body, size_t *len, char *err, size_t errlen);

/* Sort quotes by trade id and check that no id appears twice; sort pairs
 * by name and check the same. Returns MKT_OK or MKT_E_PARSE (duplicate named
 * in err). */
int mkt_index(mkt_data_t *d, char *err, size_t errlen);

/* The quote for trade id after mkt_index, or NULL. */
const mkt_quote_t *mkt_find_quote(const mkt_data_t *d, int64_t id);

/* The market record for a pair after mkt_index, or NULL. */
const mkt_pair_t *mkt_find_pair(const mkt_data_t *d, const char *pair);

/* Copy a URL for printing: query string and user info dropped. Returns buf. */
char *mkt_redact_url(const char *url, char *buf, size_t n);

void mkt_data_free(mkt_data_t *d); /* accepts NULL; leaves *d empty */

#endif
