/* trade.h - the AzFinSim "eyxml" trade: record, codec and validation.
 *
 * A trade document is
 *   <AZFINSIM>\n  <trade fx1=".." ... strike="..">0000000042</trade>\n</AZFINSIM>
 * with one or more <trade> elements. Reading uses expat: attribute order and
 * whitespace do not matter. Writing reproduces AzFinSim's bytes exactly. */
#ifndef FINSIM_TRADE_H
#define FINSIM_TRADE_H

#include <stddef.h>
#include <stdint.h>

/* Limits that keep one trade from exhausting a rank's memory or time. */
#define TRADE_MAX_STEPS 100000          /* t_steps upper bound */
#define TRADE_MAX_TRIALS 10000000       /* trials upper bound */
#define TRADE_MAX_WORK 2000000000LL     /* trials * t_steps upper bound */
#define TRADE_MAX_ID 9999999999LL       /* ids are printed as 10 digits */
#define TRADE_DOC_MAX (1 << 20)         /* largest trade document accepted (bytes) */
#define TRADE_MAX_PRICE 1e9            /* fx1 and strike upper bound: every valid trade formats
                                         * into TRADE_FORMAT_MAX bytes */
#define TRADE_FORMAT_MAX 1024           /* trade_format of a valid trade is shorter than this */

typedef struct trade {
    int64_t id;               /* trade id (element text, 10 digits) */
    double fx1;               /* spot FX rate S_0, in (0, TRADE_MAX_PRICE] */
    double drift;             /* drift of log S, finite */
    double maturity;          /* years, > 0 */
    int32_t t_steps;          /* monitoring / time steps, 1..TRADE_MAX_STEPS */
    int32_t trials;           /* Monte Carlo paths, 1..TRADE_MAX_TRIALS */
    double ro;                /* FX/vol correlation, |ro| <= 1 */
    double v;                 /* vol of vol, >= 0 */
    double sigma1;            /* initial volatility, >= 0 */
    int64_t warrants_no;      /* number of warrants, >= 0 */
    double notional_per_warr; /* notional per warrant, >= 0 */
    double strike;            /* strike and knock-out barrier, in (0, TRADE_MAX_PRICE] */
    char start_date[11];      /* YYYY-MM-DD (informational; no control characters) */
    char end_date[11];        /* YYYY-MM-DD (informational; no control characters) */
} trade_t;

/* Longest key prefix (--key-prefix, FINSIM_KEY_PREFIX), in bytes: with
 * "ey", 19 digits and "_result.xml" a key fits in TRADE_KEY_MAX bytes. */
#define TRADE_KEY_PREFIX_MAX 256
#define TRADE_KEY_MAX 300

/* Length of the key "ey%07d.xml" / "ey%07d_result.xml" written into buf,
 * or -1 (buf "") when it does not fit in cap bytes: never a cut key. */
int trade_key(char *buf, size_t cap, const char *prefix, int64_t id);
int trade_result_key(char *buf, size_t cap, const char *prefix, int64_t id);

/* Format t as AzFinSim writes it (no trailing newline). Returns the length
 * (excluding NUL) that the document needs; writes at most cap bytes, like
 * snprintf. The layout is fixed: see docs/DESIGN.md. A number that AzFinSim's
 * fixed format would not give back exactly is written with 17 significant
 * digits, and XML special characters in the dates are escaped, so
 * trade_parse gives back the same trade, bit for bit. For a valid trade
 * the length is below TRADE_FORMAT_MAX. */
int trade_format(const trade_t *t, char *buf, size_t cap);

/* Callback for each <trade> element parsed. status is FS_OK or an fs_status
 * code; msg names the field at fault (empty when ok). The trade is fully
 * validated (trade_validate) before an FS_OK callback. Return non-zero to
 * stop parsing. */
typedef int (*trade_cb)(void *ctx, const trade_t *t, int status, const char *msg);

/* Parse a document of len bytes (need not be NUL-terminated). Calls cb once
 * per <trade> element. If the document itself is malformed (not XML, wrong
 * root, no <trade>), cb is called once with id = -1 (or the id seen so far)
 * and FS_E_PARSE. Returns the number of trade elements reported. */
int trade_parse(const char *buf, size_t len, trade_cb cb, void *ctx);

/* Parse a document of any size holding any number of trades (a file for
 * finsim price): like trade_parse when the document is well-formed and up
 * to TRADE_DOC_MAX bytes. A larger document, or one that is not well-formed
 * XML, is read trade by trade: each <trade> element from its start tag to
 * the next one (or the end of the root) is parsed as a document of its own,
 * so a broken trade is reported (with its position in the document) and the
 * trades after it are still read; a document without </AZFINSIM> gets one
 * more FS_E_PARSE report (truncated). A "<trade" inside a comment or CDATA
 * section of such a document may be misreported. Returns the number of
 * reports. */
int trade_parse_doc(const char *buf, size_t len, trade_cb cb, void *ctx);

/* Parse a document expected to hold exactly one trade into *out. Returns an
 * fs_status code; msg (may be NULL) receives a one-line reason. */
int trade_parse_one(const char *buf, size_t len, trade_t *out, char *msg, size_t msglen);

/* Longest message of a parse, terminating NUL included. */
#define TRADE_MSG_MAX 192

/* Callback of trade_parse_batch for document i: the trade, status and
 * message that trade_parse_one gives for it (msg as written into a buffer
 * of TRADE_MSG_MAX bytes, which every message fits). */
typedef void (*trade_doc_cb)(void *ctx, size_t i, const trade_t *t, int status, const char *msg);

/* Parse n documents, each expected to hold exactly one trade: document i
 * is buf[off[i] .. off[i+1]). Calls cb once per document, in order, with
 * exactly what trade_parse_one gives for it, at a lower cost per document:
 * runs of documents that start with "<AZFINSIM" share one parser, and any
 * document whose outcome could differ there is parsed alone (docs/DESIGN.md,
 * "Parsing many documents"). cb may parse, even call trade_parse_batch
 * (which then parses every document alone). Returns the number of
 * documents whose outcome came from a shared run. */
size_t trade_parse_batch(const char *buf, const size_t *off, size_t n, trade_doc_cb cb, void *ctx);

/* Check every field against its domain. Returns FS_OK or FS_E_DOMAIN /
 * FS_E_TOO_LARGE, with a one-line reason naming the field in msg. */
int trade_validate(const trade_t *t, char *msg, size_t msglen);

#endif
