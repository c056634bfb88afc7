/* test_eyxml.c - the eyxml trade codec (trade/trade.c): AzFinSim's sample
 * document, round trips, attribute order and whitespace, each validation
 * rule, malformed documents, store keys, and trade_parse_batch against
 * trade_parse_one document by document. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "finsim/trade/gen.h"
#include "finsim/trade/trade.h"
#include "finsim/base/util.h"

/* the digest of t_mutated_documents_keep_their_verdicts */
#define MUTANT_DIGEST 0x713518e6832c19a9ULL

/* The sample document of docs/DESIGN.md, byte for byte as AzFinSim writes it. */
static const char sample[] =
    "<AZFINSIM>\n  <trade fx1=\"0.8770423970584372\" start_date=\"2017-12-29\" end_date=\"2018-08-28\" "
    "drift=\"-0.00877969134811615\" maturity=\"0.20\" t_steps=\"172\" trials=\"10000\" "
    "ro=\"3.8413221829e-05\" v=\"0.0015480737860400\" sigma1=\"0.07153480794438978\" "
    "warrantsNo=\"52392\" notionalPerWarr=\"1012.2736020330984275\" "
    "strike=\"0.7868889282394202\">0000000000</trade>\n</AZFINSIM>";

typedef struct collect {
    int n;
    int64_t ids[8];
    int status[8];
    char msg[8][192];
    trade_t t[8];
} collect_t;

static int collect_cb(void *ctx, const trade_t *t, int status, const char *msg)
{
    collect_t *c = ctx;
    if (c->n < 8) {
        c->ids[c->n] = t->id;
        c->status[c->n] = status;
        snprintf(c->msg[c->n], sizeof(c->msg[0]), "%s", msg);
        c->t[c->n] = *t;
    }
    c->n++;
    return 0;
}

/* Replace attribute `name`'s value in the sample and parse. */
static int parse_with(const char *name, const char *value, char *msg, size_t msglen, trade_t *t)
{
    char doc[2048], pat[64];
    snprintf(pat, sizeof(pat), " %s=\"", name);
    const char *p = strstr(sample, pat);
    assert_non_null(p);
    p += strlen(pat);
    const char *q = strchr(p, '"');
    snprintf(doc, sizeof(doc), "%.*s%s%s", (int)(p - sample), sample, value, q);
    return trade_parse_one(doc, strlen(doc), t, msg, msglen);
}

static void t_sample_parses_and_roundtrips(void **state)
{
    trade_t t;
    char msg[192], buf[1024];
    assert_int_equal(strlen(sample), 356);
    assert_int_equal(trade_parse_one(sample, strlen(sample), &t, msg, sizeof(msg)), FS_OK);
    assert_int_equal(t.id, 0);
    assert_true(t.fx1 == 0.8770423970584372);
    assert_true(t.drift == -0.00877969134811615);
    assert_int_equal(t.t_steps, 172);
    assert_int_equal(t.trials, 10000);
    assert_int_equal(t.warrants_no, 52392);
    assert_true(t.strike == 0.7868889282394202);
    assert_string_equal(t.start_date, "2017-12-29");
    int n = trade_format(&t, buf, sizeof(buf));
    assert_int_equal(n, 356);
    assert_memory_equal(buf, sample, 356);
}

static void t_generated_roundtrip(void **state)
{
    char buf[1024], buf2[1024], msg[192];
    for (int64_t id = 0; id < 2000; id++) {
        trade_t a, b;
        gen_trade(7, id * 7919, &a);
        assert_int_equal(trade_validate(&a, msg, sizeof(msg)), FS_OK);
        int n = trade_format(&a, buf, sizeof(buf));
        assert_true(n > 300 && n < 400);
        assert_int_equal(trade_parse_one(buf, (size_t)n, &b, msg, sizeof(msg)), FS_OK);
        /* the generator rounds through the text, so parsing gives the same bits */
        assert_memory_equal(&a, &b, sizeof(a));
        int n2 = trade_format(&b, buf2, sizeof(buf2));
        assert_int_equal(n, n2);
        assert_memory_equal(buf, buf2, (size_t)n);
    }
}

static void t_order_and_whitespace_do_not_matter(void **state)
{
    const char *doc =
        "<?xml version='1.0' encoding='utf-8'?>\n<AZFINSIM>"
        "<trade\n strike='0.75'  notionalPerWarr='1000' warrantsNo='40000' sigma1='0.08' v='0.0015'\n"
        "ro='3.8e-05' trials='100' t_steps='10' maturity='0.2' drift='0.01' fx1='0.9'>  \n 0000000042 \n</trade>"
        "<trade fx1='0.85' drift='0' maturity='0.2' t_steps='10' trials='100' ro='0' v='0' sigma1='0.1' "
        "warrantsNo='1' notionalPerWarr='1' strike='0.8'>43</trade></AZFINSIM>";
    collect_t c = {0};
    assert_int_equal(trade_parse(doc, strlen(doc), collect_cb, &c), 2);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.status[0], FS_OK);
    assert_int_equal(c.ids[0], 42);
    assert_true(c.t[0].strike == 0.75 && c.t[0].fx1 == 0.9 && c.t[0].t_steps == 10);
    assert_int_equal(c.status[1], FS_OK);
    assert_int_equal(c.ids[1], 43);
}

static void t_each_validation_rule_fails(void **state)
{
    static const struct {
        const char *field, *value;
        int status;
    } cases[] = {
        {"fx1", "0", FS_E_DOMAIN},
        {"fx1", "-0.9", FS_E_DOMAIN},
        {"strike", "0", FS_E_DOMAIN},
        {"sigma1", "-0.01", FS_E_DOMAIN},
        {"v", "-1e-3", FS_E_DOMAIN},
        {"ro", "1.0000001", FS_E_DOMAIN},
        {"ro", "-2", FS_E_DOMAIN},
        {"maturity", "0", FS_E_DOMAIN},
        {"maturity", "-0.2", FS_E_DOMAIN},
        {"drift", "11", FS_E_DOMAIN},
        {"warrantsNo", "-5", FS_E_DOMAIN},
        {"notionalPerWarr", "-1", FS_E_DOMAIN},
        {"t_steps", "0", FS_E_DOMAIN},
        {"trials", "0", FS_E_DOMAIN},
        {"t_steps", "100001", FS_E_TOO_LARGE},
        {"trials", "10000001", FS_E_TOO_LARGE},
        {"trials", "99999999999", FS_E_TOO_LARGE},
        {"fx1", "abc", FS_E_BAD_NUMBER},
        {"fx1", "nan", FS_E_BAD_NUMBER},
        {"fx1", "inf", FS_E_BAD_NUMBER},
        {"sigma1", "1e999", FS_E_BAD_NUMBER},
        {"strike", "0.7x", FS_E_BAD_NUMBER},
        {"strike", "", FS_E_BAD_NUMBER},
        {"t_steps", "17.5", FS_E_BAD_NUMBER},
        {"trials", "1e4", FS_E_BAD_NUMBER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char msg[192] = "";
        trade_t t;
        int st = parse_with(cases[i].field, cases[i].value, msg, sizeof(msg), &t);
        if (st != cases[i].status)
            fail_msg("%s=\"%s\": status %d, want %d (%s)", cases[i].field, cases[i].value, st,
                     cases[i].status, msg);
        /* the message names the field */
        if (!strstr(msg, cases[i].field))
            fail_msg("%s=\"%s\": message '%s' does not name the field", cases[i].field, cases[i].value, msg);
    }
    /* trials * t_steps over the limit while each is within its own */
    char msg[192];
    trade_t t;
    assert_int_equal(trade_parse_one(sample, strlen(sample), &t, msg, sizeof(msg)), FS_OK);
    t.trials = 10000000;
    t.t_steps = 1000;
    assert_int_equal(trade_validate(&t, msg, sizeof(msg)), FS_E_TOO_LARGE);
    assert_non_null(strstr(msg, "trials*t_steps"));
}

static void t_missing_attribute(void **state)
{
    char doc[2048], msg[192];
    trade_t t;
    /* drop sigma1="..." */
    const char *p = strstr(sample, " sigma1=");
    const char *q = strchr(strchr(p, '"') + 1, '"') + 1;
    snprintf(doc, sizeof(doc), "%.*s%s", (int)(p - sample), sample, q);
    assert_int_equal(trade_parse_one(doc, strlen(doc), &t, msg, sizeof(msg)), FS_E_MISSING_FIELD);
    assert_non_null(strstr(msg, "sigma1"));
    assert_int_equal(t.id, 0); /* the id is still known for the report */
}

static void t_malformed_documents(void **state)
{
    static const char *const bad[] = {
        "",
        "not xml at all",
        "<AZFINSIM><trade fx1=\"0.9\"",                                  /* truncated */
        "<OTHER><trade fx1=\"0.9\">1</trade></OTHER>",                   /* wrong root */
        "<AZFINSIM></AZFINSIM>",                                         /* no trade */
        "<AZFINSIM><trade fx1=\"1\" fx1=\"2\">1</trade></AZFINSIM>",     /* duplicate attribute */
        "<!DOCTYPE x [<!ENTITY a \"b\">]><AZFINSIM/>",                    /* DOCTYPE refused */
        "<AZFINSIM>\xff\xfe</AZFINSIM>",                                 /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        collect_t c = {0};
        trade_parse(bad[i], strlen(bad[i]), collect_cb, &c);
        if (c.n < 1 || c.status[c.n > 8 ? 7 : c.n - 1] == FS_OK)
            fail_msg("document %zu was not reported as bad", i);
        assert_true(c.msg[c.n - 1][0] != '\0');
    }
    /* a truncated copy of a real trade */
    trade_t t;
    char msg[192];
    assert_int_equal(trade_parse_one(sample, 200, &t, msg, sizeof(msg)), FS_E_PARSE);
    /* a bad id text */
    char doc[2048];
    snprintf(doc, sizeof(doc), "%.*s-12</trade>\n</AZFINSIM>", (int)(strstr(sample, ">0000") + 1 - sample), sample);
    assert_int_equal(trade_parse_one(doc, strlen(doc), &t, msg, sizeof(msg)), FS_E_BAD_NUMBER);
    assert_non_null(strstr(msg, "trade id"));
}

static void t_keys(void **state)
{
    char k[64];
    trade_key(k, sizeof(k), NULL, 42);
    assert_string_equal(k, "ey0000042.xml");
    trade_result_key(k, sizeof(k), "pf1:", 42);
    assert_string_equal(k, "pf1:ey0000042_result.xml");
    trade_key(k, sizeof(k), "", 123456789);
    assert_string_equal(k, "ey123456789.xml");
}

static void t_key_never_cut(void **state)
{
    char b[TRADE_KEY_MAX];
    char prefix[TRADE_KEY_PREFIX_MAX + 1];
    memset(prefix, 'p', TRADE_KEY_PREFIX_MAX);
    prefix[TRADE_KEY_PREFIX_MAX] = '\0';
    /* the longest prefix and the longest id fit */
    assert_int_equal(trade_result_key(b, sizeof(b), prefix, INT64_MAX), TRADE_KEY_PREFIX_MAX + 2 + 19 + 11);
    /* one byte short: no key at all, never a cut one */
    char small[16];
    memset(small, 'x', sizeof(small));
    assert_int_equal(trade_key(small, sizeof(small), "abcdef", 42), -1);
    assert_string_equal(small, "");
    assert_int_equal(trade_key(small, sizeof(small), "abc", 42), -1); /* 16 bytes and the NUL */
    assert_int_equal(trade_key(small, sizeof(small), "ab", 42), 15);
    assert_string_equal(small, "abey0000042.xml");
    (void)state;
}

/* ---- verdicts of mutated documents ------------------------------------------ */

typedef struct digest {
    uint64_t h;
    long n, ok, by_status[64];
} digest_t;

static void digest_bytes(digest_t *d, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        d->h = (d->h ^ b[i]) * 0x100000001b3ULL; /* FNV-1a */
}

/* Every report, field by field: status, message, id, the numbers' bits,
 * the dates up to their end. */
static int digest_cb(void *ctx, const trade_t *t, int status, const char *msg)
{
    digest_t *d = ctx;
    d->n++;
    d->ok += status == FS_OK;
    d->by_status[status & 63]++;
    int64_t ints[4] = {status, t->id, t->t_steps, t->trials};
    double nums[9] = {t->fx1, t->drift, t->maturity, t->ro, t->v, t->sigma1, t->strike, t->notional_per_warr,
                      (double)t->warrants_no};
    digest_bytes(d, ints, sizeof(ints));
    digest_bytes(d, nums, sizeof(nums));
    digest_bytes(d, msg, strlen(msg) + 1);
    digest_bytes(d, t->start_date, strnlen(t->start_date, sizeof(t->start_date)));
    digest_bytes(d, t->end_date, strnlen(t->end_date, sizeof(t->end_date)));
    return 0;
}

/* 20,000 generated documents, each changed in one to three places: a byte
 * replaced, dropped or doubled, the text cut short, or one attribute value
 * swapped for number text of an awkward shape (long digit runs, far
 * exponents, signs, inf, nan, hex, spaces). The reports of trade_parse are
 * folded into one digest, which must be the one the reader had before it
 * read numbers with fast_float and ran expat on a block cache: the same
 * verdicts, messages and values for every document. The corpus must also
 * reach accepted trades and every kind of refusal. */
static void t_mutated_documents_keep_their_verdicts(void **state)
{
    (void)state;
    static const char alphabet[] = "0123456789.eE+-x \n\t\"'<>&/=;#aAinf\x80\xc3\xa9";
    static const char *const numbers[] = {
        "1234567890123456789012345", "0.000000000000000000000000000001234567890123", "1e308", "1.8e308",
        "4.9e-324", "2.4703282292062328e-324", "-0", "+.5", "+-1", "--1", "inf", "-infinity", "nan",
        "nan(1)", "0x1p3", " 1.5", "1.5 ", "1e", ".", "1,5", "9007199254740993", "1e+0022",
        "0.1000000000000000055511151231257827021181583404541015625", "12345678901234567890", "+7", "1_0",
        "1e-400", "99999999999999999999999e-10", "0.30000000000000004", "1.7976931348623157e308"};
    digest_t d = {.h = 0xcbf29ce484222325ULL};
    uint64_t x = 2024;
#define NEXT() (x = x * 6364136223846793005ULL + 1442695040888963407ULL, (unsigned)(x >> 33))
    for (int64_t id = 0; id < 20000; id++) {
        char doc[2 * GEN_DOC_MAX], tmp[2 * GEN_DOC_MAX];
        trade_t t;
        size_t n = (size_t)gen_trade_doc(7, id, &t, doc, GEN_DOC_MAX);
        for (unsigned m = 0, edits = 1 + NEXT() % 3; m < edits && n > 0; m++) {
            unsigned kind = NEXT() % 6, at = NEXT() % (unsigned)n;
            if (kind == 0) { /* replace a byte */
                doc[at] = alphabet[NEXT() % (sizeof(alphabet) - 1)];
            } else if (kind == 1 && n > 1) { /* drop a byte */
                memmove(doc + at, doc + at + 1, n - at - 1);
                n--;
            } else if (kind == 2 && n + 1 < sizeof(doc)) { /* double a byte */
                memmove(doc + at + 1, doc + at, n - at);
                n++;
            } else if (kind == 3 && NEXT() % 4 == 0) { /* cut short */
                n = at;
            } else { /* an awkward number for the value of the attribute at or after `at` */
                doc[n] = '\0';
                char *v = strstr(doc + at, "=\"");
                char *e = v ? strchr(v + 2, '"') : NULL;
                const char *num = numbers[NEXT() % (sizeof(numbers) / sizeof(numbers[0]))];
                if (!e || n + strlen(num) >= sizeof(doc))
                    continue;
                int k = snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)(v + 2 - doc), doc, num, e);
                memcpy(doc, tmp, (size_t)k);
                n = (size_t)k;
            }
        }
        long before = d.n;
        digest_bytes(&d, &n, sizeof(n));
        trade_parse(doc, n, digest_cb, &d);
        assert_true(d.n > before); /* every document gets a report */
    }
#undef NEXT
    assert_true(d.ok > 2000);
    assert_true(d.by_status[FS_E_PARSE & 63] > 1000);
    assert_true(d.by_status[FS_E_BAD_NUMBER & 63] > 1000);
    assert_true(d.by_status[FS_E_DOMAIN & 63] > 100);
    assert_true(d.by_status[FS_E_MISSING_FIELD & 63] > 10);
    if (d.h != MUTANT_DIGEST)
        fail_msg("digest of %ld reports (%ld accepted) is %#llx, not %#llx", d.n, d.ok, (unsigned long long)d.h,
                 (unsigned long long)MUTANT_DIGEST);
}

/* ---- trade_parse_batch against trade_parse_one ------------------------------ */

typedef struct docs {
    char *buf;
    size_t len, cap;
    size_t off[4096];
    size_t n;
} docs_t;

static void docs_add(docs_t *d, const char *s, size_t len)
{
    assert_true(d->n + 1 < sizeof(d->off) / sizeof(d->off[0]));
    if (d->len + len > d->cap) {
        d->cap = 2 * (d->len + len) + 4096;
        d->buf = xrealloc(d->buf, d->cap);
    }
    if (len)
        memcpy(d->buf + d->len, s, len);
    d->off[d->n] = d->len;
    d->len += len;
    d->off[++d->n] = d->len;
}

static void docs_adds(docs_t *d, const char *s)
{
    docs_add(d, s, strlen(s));
}

/* a generated document (id i), then what follows it */
static void docs_add_good(docs_t *d, int64_t i, const char *tail)
{
    char doc[GEN_DOC_MAX + 64];
    trade_t t;
    int n = gen_trade_doc(7, i, &t, doc, GEN_DOC_MAX);
    snprintf(doc + n, sizeof(doc) - (size_t)n, "%s", tail);
    docs_adds(d, doc);
}

/* a nested batch of the sample document alone */
static void check_doc_sample(void *ctx, size_t i, const trade_t *t, int status, const char *msg)
{
    (void)ctx;
    assert_int_equal(i, 0);
    assert_int_equal(status, FS_OK);
    assert_string_equal(msg, "");
    assert_int_equal(t->id, 0);
}

typedef struct check {
    const docs_t *d;
    size_t base; /* the slice's first document */
    size_t next;
    int nested; /* the callback parses too */
} check_t;

/* Each document's outcome is trade_parse_one's, bit for bit, in order. */
static void check_doc(void *ctx, size_t i, const trade_t *t, int status, const char *msg)
{
    check_t *c = ctx;
    const docs_t *d = c->d;
    assert_int_equal(i, c->next);
    c->next++;
    i += c->base;
    if (c->nested) { /* parsing in the callback changes nothing */
        size_t one[2] = {0, sizeof(sample) - 1};
        assert_int_equal(trade_parse_batch(sample, one, 1, check_doc_sample, NULL), 0);
    }
    trade_t want;
    char wmsg[TRADE_MSG_MAX];
    wmsg[0] = '\0';
    int ws = trade_parse_one(d->buf + d->off[i], d->off[i + 1] - d->off[i], &want, wmsg, sizeof(wmsg));
    if (ws != status || strcmp(wmsg, msg) != 0 || memcmp(&want, t, sizeof(want)) != 0)
        fail_msg("document %zu (%.*s): batch %d '%s' id %lld, alone %d '%s' id %lld", i,
                 (int)(d->off[i + 1] - d->off[i] > 300 ? 300 : d->off[i + 1] - d->off[i]), d->buf + d->off[i],
                 status, msg, (long long)t->id, ws, wmsg, (long long)want.id);
}

/* Run the batch over d (in slices of 1..n documents) and compare. Returns
 * the number of documents read in shared runs. */
static size_t check_batch(const docs_t *d, int nested)
{
    size_t shared = 0;
    size_t slices[] = {d->n, 1000, 7, 2, 1};
    for (size_t k = 0; k < sizeof(slices) / sizeof(slices[0]); k++) {
        size_t sl = slices[k] ? slices[k] : 1, sh = 0;
        for (size_t i = 0; i < d->n; i += sl) {
            check_t c = {.d = d, .base = i, .next = 0, .nested = nested};
            size_t m = d->n - i < sl ? d->n - i : sl;
            sh += trade_parse_batch(d->buf, d->off + i, m, check_doc, &c);
            assert_int_equal(c.next, m);
        }
        if (k == 0)
            shared = sh;
    }
    return shared;
}

/* Documents that trip up a shared parser: before, around and after the
 * root, and ones that swallow or are swallowed by their neighbours. */
static const char *const nasty[] = {
    "",
    " ",
    "<",
    "<AZFINSIM",
    "<AZFINSIM>",
    "<AZFINSIM >",
    "<AZFINSIM/>",
    "<AZFINSIM />",
    "<AZFINSIM></AZFINSIM>",
    "<AZFINSIM\r\n></AZFINSIM >\r\n",
    "<AZFINSIMX></AZFINSIMX>",
    "<AZFINSIM><trade/></AZFINSIM>",
    "<AZFINSIM><trade fx1=\"",
    "<AZFINSIM><trade fx1='1' strike=\"<\"/></AZFINSIM>",
    "<AZFINSIM><![CDATA[",
    "<AZFINSIM><![CDATA[x]]></AZFINSIM>",
    "<AZFINSIM><!--",
    "<AZFINSIM><?pi",
    "<AZFINSIM>&amp;&#32;&#x41;</AZFINSIM>",
    "<AZFINSIM>&bogus;</AZFINSIM>",
    "<AZFINSIM></b></AZFINSIM>",
    "</AZFINSIM>",
    "</b>",
    "-->",
    "?>",
    "]]>",
    "\"",
    "<?xml version=\"1.0\"?><AZFINSIM></AZFINSIM>",
    "\xef\xbb\xbf<AZFINSIM></AZFINSIM>",
    "<!DOCTYPE AZFINSIM><AZFINSIM></AZFINSIM>",
    "<!DOCTYPE AZFINSIM [<!ENTITY e \"x\">]><AZFINSIM>&e;</AZFINSIM>",
    "<!-- c --><AZFINSIM></AZFINSIM>",
    "<AZFINSIM>\xff</AZFINSIM>",
    "<AZFINSIM xmlns=\"urn:x\" a=\"1\" a=\"2\"></AZFINSIM>",
    "<AZFINSIM><trade fx1=\"1\">0000000001</trade><trade>2</trade></AZFINSIM>",
    "<AZFINSIM>\0</AZFINSIM>",
};

/* What may follow a generated document's root (good or not, alone). */
static const char *const tails[] = {
    "",
    "\n",
    "\r",
    "\r\n",
    " \t\n ",
    "<!-- after -->",
    "<!-- after -->\n<?pi data?>\n",
    "<?pi?>",
    "<!--",
    "<!-- x",
    "<?pi",
    "<?pi ",
    "<?xml version=\"1.0\"?>",
    "<!DOCTYPE x>",
    "<![CDATA[",
    "<![CDATA[]]>",
    "<![CDATA[ ]]>",
    "x",
    "]",
    "]]>",
    "&#32;",
    "&#10;",
    "&#xD;",
    "&amp;",
    "&lt;",
    "&bogus;",
    "</b>",
    "<b>",
    "<b/>",
    "<AZFINSIM>",
    "<AZFINSIM/>",
    "</AZFINSIM>",
    "\xc3",
    "<!-- \xc3",
    "\xef\xbb\xbf",
    "<",
    "<!",
    "<!-",
    "&",
    "&#",
};

static void t_batch_equals_one_by_one(void **state)
{
    (void)state;
    docs_t d = {0};
    /* generated documents: all read in one run */
    for (int64_t i = 0; i < 300; i++)
        docs_add_good(&d, i, "");
    assert_int_equal(check_batch(&d, 0), d.n);
    /* every nasty document and tail, alone, before and after good ones,
     * and in every ordered pair */
    d.n = d.len = 0;
    size_t nn = sizeof(nasty) / sizeof(nasty[0]), nt = sizeof(tails) / sizeof(tails[0]);
    for (size_t k = 0; k < nn; k++) {
        docs_add_good(&d, (int64_t)k, "");
        docs_add(&d, nasty[k], k + 1 == nn ? sizeof("<AZFINSIM>\0</AZFINSIM>") - 1 : strlen(nasty[k]));
        docs_add_good(&d, (int64_t)k, "");
    }
    for (size_t k = 0; k < nt; k++) {
        docs_add_good(&d, (int64_t)k, tails[k]);
        docs_add_good(&d, (int64_t)k, "");
    }
    check_batch(&d, 0);
    d.n = d.len = 0;
    for (size_t a = 0; a < nt; a++)
        for (size_t b = 0; b < nt; b++) {
            docs_add_good(&d, (int64_t)a, tails[a]);
            docs_add_good(&d, (int64_t)b, tails[b]);
        }
    check_batch(&d, 0);
    d.n = d.len = 0;
    for (size_t a = 0; a < nn; a++)
        for (size_t b = 0; b < nn; b++) {
            docs_adds(&d, nasty[a]);
            docs_adds(&d, nasty[b]);
        }
    check_batch(&d, 0);
    /* clean tails keep a document in its run */
    d.n = d.len = 0;
    docs_add_good(&d, 1, "\n");
    docs_add_good(&d, 2, "<!-- after -->\n<?pi data?>\n");
    docs_add_good(&d, 3, " \t\n ");
    docs_adds(&d, "<AZFINSIM>\n</AZFINSIM>");
    assert_int_equal(check_batch(&d, 0), d.n);
    /* a document larger than TRADE_DOC_MAX, between good ones */
    d.n = d.len = 0;
    docs_add_good(&d, 1, "");
    char *big = xmalloc(TRADE_DOC_MAX + 64);
    int bl = snprintf(big, 64, "<AZFINSIM><!--");
    memset(big + bl, 'x', TRADE_DOC_MAX);
    memcpy(big + bl + TRADE_DOC_MAX, "--></AZFINSIM>", 14);
    docs_add(&d, big, (size_t)bl + TRADE_DOC_MAX + 14);
    free(big);
    docs_add_good(&d, 2, "");
    assert_int_equal(check_batch(&d, 0), 2);
    /* a callback that parses, in a run and in a nested batch */
    assert_int_equal(check_batch(&d, 1), 2);
    /* mutants: generated documents cut short, or with a byte inserted,
     * replaced or removed, mixed with good ones and the nasty tails */
    uint64_t r = 12345;
    static const char bytes[] = "<>&\"'/!?-[]; \r\n\t=#x0b";
    for (int round = 0; round < 4; round++) {
        d.n = d.len = 0;
        while (d.n < 2000) {
            char doc[GEN_DOC_MAX + 64];
            trade_t t;
            r = fs_mix64(r + 1);
            int n = gen_trade_doc(r & 0xff, (int64_t)(r % 1000), &t, doc, GEN_DOC_MAX);
            size_t at = (size_t)((r >> 16) % (uint64_t)(n + 1));
            char c = bytes[(r >> 40) % (sizeof(bytes) - 1)];
            switch ((r >> 8) % 8) {
            case 0: /* cut short */
                n = (int)at;
                break;
            case 1: /* a byte inserted */
                memmove(doc + at + 1, doc + at, (size_t)n - at);
                doc[at] = c;
                n++;
                break;
            case 2: /* a byte replaced */
                if (at < (size_t)n)
                    doc[at] = c;
                break;
            case 3: /* a byte removed */
                if (at < (size_t)n) {
                    memmove(doc + at, doc + at + 1, (size_t)n - at - 1);
                    n--;
                }
                break;
            case 4: /* a tail */
                n += snprintf(doc + n, 64, "%s", tails[(r >> 24) % nt]);
                break;
            default:
                break;
            }
            docs_add(&d, doc, (size_t)n);
        }
        check_batch(&d, 0);
    }
    free(d.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_sample_parses_and_roundtrips),
        cmocka_unit_test(t_key_never_cut),
        cmocka_unit_test(t_generated_roundtrip),
        cmocka_unit_test(t_order_and_whitespace_do_not_matter),
        cmocka_unit_test(t_each_validation_rule_fails),
        cmocka_unit_test(t_missing_attribute),
        cmocka_unit_test(t_malformed_documents),
        cmocka_unit_test(t_keys),
        cmocka_unit_test(t_mutated_documents_keep_their_verdicts),
        cmocka_unit_test(t_batch_equals_one_by_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
