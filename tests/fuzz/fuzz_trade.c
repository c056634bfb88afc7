/* fuzz_trade.c - the eyxml codec (trade.c) on arbitrary bytes.
 *
 * Properties:
 *  - trade_parse reports every <trade> (and a malformed document) through
 *    the callback, at least once, and returns the number of reports;
 *  - a trade reported FS_OK passes trade_validate and has an id in range;
 *    any other status is a known fs_status code with a message;
 *  - trade_parse_one agrees with trade_parse;
 *  - a leading XML declaration changes no report;
 *  - trade_parse_doc reports what trade_parse does for a well-formed
 *    document, and for a broken one still reports and validates;
 *  - round trip: trade_format of an OK trade is shorter than
 *    TRADE_FORMAT_MAX, parses back to the same trade, bit for bit, and
 *    formats to the same bytes again. */
#include <string.h>

#include "finsim/trade/trade.h"
#include "finsim/base/util.h"
#include "fuzz.h"

#define KEEP 16 /* trades kept per input for the round trip */

typedef struct collect {
    int calls;
    int kept;
    trade_t t[KEEP];
    int status[KEEP];
    char msg[KEEP][192];
} collect_t;

static int collect_cb(void *ctx, const trade_t *t, int status, const char *msg)
{
    collect_t *c = ctx;
    FUZZ_CHECK(msg != NULL, "NULL message");
    FUZZ_CHECK(strlen(msg) < 1024, "message of %zu bytes", strlen(msg));
    FUZZ_CHECK(status >= FS_OK && status <= FS_E_ID_MISMATCH, "status %d", status);
    if (status == FS_OK) {
        char why[192];
        FUZZ_CHECK(msg[0] == '\0', "OK trade with message '%s'", msg);
        FUZZ_CHECK(t->id >= 0 && t->id <= TRADE_MAX_ID, "OK trade with id %lld", (long long)t->id);
        FUZZ_CHECK(trade_validate(t, why, sizeof(why)) == FS_OK, "OK trade fails validation: %s", why);
        FUZZ_CHECK(memchr(t->start_date, 0, sizeof(t->start_date)) && memchr(t->end_date, 0, sizeof(t->end_date)),
                   "date not terminated");
    } else {
        FUZZ_CHECK(msg[0] != '\0', "status %d without a message", status);
        FUZZ_CHECK(t->id >= -1 && t->id <= TRADE_MAX_ID, "failed trade with id %lld", (long long)t->id);
    }
    if (c->kept < KEEP) {
        c->t[c->kept] = *t;
        c->status[c->kept] = status;
        snprintf(c->msg[c->kept], sizeof(c->msg[0]), "%s", msg);
        c->kept++;
    }
    c->calls++;
    return 0;
}

static int same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

static void check_same_trade(const trade_t *a, const trade_t *b, const char *doc)
{
    FUZZ_CHECK(a->id == b->id, "id %lld -> %lld in %s", (long long)a->id, (long long)b->id, doc);
    FUZZ_CHECK(a->t_steps == b->t_steps && a->trials == b->trials && a->warrants_no == b->warrants_no,
               "integer field changed in %s", doc);
    FUZZ_CHECK(strcmp(a->start_date, b->start_date) == 0 && strcmp(a->end_date, b->end_date) == 0,
               "date changed in %s", doc);
#define SAME(f) FUZZ_CHECK(same_double(a->f, b->f), #f " %.17g -> %.17g in %s", a->f, b->f, doc)
    SAME(fx1);
    SAME(drift);
    SAME(maturity);
    SAME(ro);
    SAME(v);
    SAME(sigma1);
    SAME(notional_per_warr);
    SAME(strike);
#undef SAME
}

static void round_trip(const trade_t *t)
{
    int n = trade_format(t, NULL, 0);
    FUZZ_CHECK(n > 0 && n < TRADE_FORMAT_MAX, "trade_format returned %d", n);
    char *doc = malloc((size_t)n + 1);
    FUZZ_CHECK(doc != NULL, "out of memory");
    FUZZ_CHECK(trade_format(t, doc, (size_t)n + 1) == n, "trade_format length changed");
    FUZZ_CHECK(strlen(doc) == (size_t)n, "formatted document holds a NUL");
    trade_t back;
    char why[192] = "";
    int st = trade_parse_one(doc, (size_t)n, &back, why, sizeof(why));
    FUZZ_CHECK(st == FS_OK, "formatted trade does not parse back (status %d: %s): %s", st, why, doc);
    check_same_trade(t, &back, doc);
    char *doc2 = malloc((size_t)n + 1);
    FUZZ_CHECK(doc2 != NULL, "out of memory");
    FUZZ_CHECK(trade_format(&back, doc2, (size_t)n + 1) == n && memcmp(doc, doc2, (size_t)n) == 0,
               "format(parse(format(t))) differs: %s", doc);
    free(doc2);
    free(doc);
}

/* Differential: the same document behind an XML declaration gives the
 * same reports (the messages too, except line/column positions). This
 * guards any shortcut for documents in the canonical form, which start
 * with "<AZFINSIM>" and never with a declaration. */
static void check_same_as_expat(const uint8_t *data, size_t size, const collect_t *c)
{
    static const char decl[] = "<?xml version=\"1.0\"?>";
    const size_t dl = sizeof(decl) - 1;
    if (size < 10 || memcmp(data, "<AZFINSIM>", 10) != 0 || size + dl > TRADE_DOC_MAX)
        return;
    char *buf = malloc(size + dl);
    FUZZ_CHECK(buf != NULL, "out of memory");
    memcpy(buf, decl, dl);
    memcpy(buf + dl, data, size);
    collect_t e;
    memset(&e, 0, sizeof(e));
    trade_parse(buf, size + dl, collect_cb, &e);
    free(buf);
    FUZZ_CHECK(e.calls == c->calls, "%d reports, %d behind a declaration", c->calls, e.calls);
    for (int i = 0; i < c->kept; i++) {
        FUZZ_CHECK(e.status[i] == c->status[i] && e.t[i].id == c->t[i].id,
                   "report %d: status %d id %lld, behind a declaration status %d id %lld", i, c->status[i],
                   (long long)c->t[i].id, e.status[i], (long long)e.t[i].id);
        if (strncmp(c->msg[i], "malformed XML at line", 21) != 0)
            FUZZ_CHECK(strcmp(e.msg[i], c->msg[i]) == 0, "report %d: '%s', behind a declaration '%s'", i, c->msg[i],
                       e.msg[i]);
        if (c->status[i] == FS_OK)
            check_same_trade(&c->t[i], &e.t[i], "(behind a declaration)");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    collect_t c;
    memset(&c, 0, sizeof(c));
    int ret = trade_parse(buf, size, collect_cb, &c);
    FUZZ_CHECK(ret == c.calls, "trade_parse returned %d after %d reports", ret, c.calls);
    FUZZ_CHECK(c.calls >= 1, "no report for a document");

    trade_t one;
    char msg[192];
    int st = trade_parse_one(buf, size, &one, msg, sizeof(msg));
    FUZZ_CHECK(fuzz_terminated(msg, sizeof(msg)), "message not terminated");
    if (c.calls == 1) {
        FUZZ_CHECK(st == c.status[0], "parse_one status %d, parse status %d", st, c.status[0]);
        if (st == FS_OK)
            check_same_trade(&c.t[0], &one, "(parse_one)");
    } else {
        FUZZ_CHECK(st != FS_OK, "parse_one accepted a document with %d reports", c.calls);
    }

    check_same_as_expat(data, size, &c);

    /* trade_parse_doc: the same reports for a well-formed document; for a
     * broken one, still at least one report and every OK trade valid */
    int broken = 0;
    for (int i = 0; i < c.kept; i++)
        broken |= c.status[i] == FS_E_PARSE || c.status[i] == FS_E_TOO_LARGE;
    collect_t d;
    memset(&d, 0, sizeof(d));
    ret = trade_parse_doc(buf, size, collect_cb, &d);
    FUZZ_CHECK(ret == d.calls && d.calls >= 1, "trade_parse_doc returned %d after %d reports", ret, d.calls);
    if (!broken && c.calls <= KEEP) {
        FUZZ_CHECK(d.calls == c.calls, "trade_parse_doc: %d reports, trade_parse %d", d.calls, c.calls);
        for (int i = 0; i < c.kept; i++) {
            FUZZ_CHECK(d.status[i] == c.status[i] && d.t[i].id == c.t[i].id && strcmp(d.msg[i], c.msg[i]) == 0,
                       "trade_parse_doc report %d differs", i);
            if (c.status[i] == FS_OK)
                check_same_trade(&c.t[i], &d.t[i], "(trade_parse_doc)");
        }
    }

    for (int i = 0; i < c.kept; i++)
        if (c.status[i] == FS_OK)
            round_trip(&c.t[i]);
    return 0;
}
