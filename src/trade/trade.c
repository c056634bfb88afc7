/* trade.c - AzFinSim eyxml codec (expat) and trade validation. */
#include "finsim/trade/trade.h"

#include <expat.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "finsim/base/util.h"

/* prefix "ey" id-zero-padded-to-7 suffix: the bytes and length of
 * snprintf(buf, cap, "%sey%07lld<suffix>", ...), without printf's format
 * parsing (keys are made for every trade of every batch). Negative ids and
 * short buffers go through snprintf itself. A key that does not fit is
 * never cut short: buf gets "" and the return is -1. */
static int key_format(char *buf, size_t cap, const char *prefix, int64_t id, const char *suffix, size_t slen)
{
    char dig[24];
    int nd = 0;
    size_t pl = prefix ? strlen(prefix) : 0;
    if (id >= 0) {
        uint64_t v = (uint64_t)id;
        do {
            dig[nd++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        while (nd < 7)
            dig[nd++] = '0';
    }
    size_t len = pl + 2 + (size_t)nd + slen;
    if (id < 0 || len >= cap) {
        /* never a cut key: a prefix of the right key is another key */
        int n = snprintf(buf, cap, "%sey%07lld%s", prefix ? prefix : "", (long long)id, suffix);
        if (n < 0 || (size_t)n >= cap) {
            if (cap)
                buf[0] = '\0';
            return -1;
        }
        return n;
    }
    char *o = buf;
    if (pl) {
        memcpy(o, prefix, pl);
        o += pl;
    }
    *o++ = 'e';
    *o++ = 'y';
    while (nd)
        *o++ = dig[--nd];
    memcpy(o, suffix, slen + 1);
    return (int)len;
}

int trade_key(char *buf, size_t cap, const char *prefix, int64_t id)
{
    return key_format(buf, cap, prefix, id, ".xml", 4);
}

int trade_result_key(char *buf, size_t cap, const char *prefix, int64_t id)
{
    return key_format(buf, cap, prefix, id, "_result.xml", 11);
}

/* One number as AzFinSim prints it (fmt), unless that text would read back
 * as another double: AzFinSim's fixed formats lose small or long values
 * (maturity 0.125 -> "0.13", fx1 1e-20 -> "0.0000000000000000"), which
 * would change the trade or make it invalid. Those get 17 significant
 * digits instead. Values from the generator and from AzFinSim's own files
 * read back exactly, so their documents stay byte for byte AzFinSim's. */
static const char *fmt_num(char *out, size_t cap, const char *fmt, double x)
{
    snprintf(out, cap, fmt, x);
    double back = strtod(out, NULL);
    if (memcmp(&back, &x, sizeof(x)) != 0)
        snprintf(out, cap, "%.17g", x);
    return out;
}

/* A date for an attribute value: the characters XML would not read back
 * as themselves (& < > ") become references. Dates are informational and
 * normally YYYY-MM-DD, which passes unchanged. */
static const char *fmt_attr(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < cap; s++) {
        const char *ref = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '"' ? "&quot;" : NULL;
        if (ref) {
            memcpy(out + o, ref, strlen(ref));
            o += strlen(ref);
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
    return out;
}

/* The layout is AzFinSim's (xmlutils.GenerateTradeEY), so files and Redis
 * values written by either tool are byte-identical. */
int trade_format(const trade_t *t, char *buf, size_t cap)
{
    char n[9][400], sd[6 * sizeof(t->start_date) + 8], ed[6 * sizeof(t->end_date) + 8];
    char sdate[sizeof(t->start_date)], edate[sizeof(t->end_date)];
    /* the date fields need not be terminated in a trade from elsewhere */
    memcpy(sdate, t->start_date, sizeof(sdate));
    memcpy(edate, t->end_date, sizeof(edate));
    sdate[sizeof(sdate) - 1] = edate[sizeof(edate) - 1] = '\0';
    return snprintf(buf, cap,
                    "<AZFINSIM>\n  <trade fx1=\"%s\" start_date=\"%s\" end_date=\"%s\" "
                    "drift=\"%s\" maturity=\"%s\" t_steps=\"%d\" trials=\"%d\" "
                    "ro=\"%s\" v=\"%s\" sigma1=\"%s\" warrantsNo=\"%lld\" "
                    "notionalPerWarr=\"%s\" strike=\"%s\">%010lld</trade>\n</AZFINSIM>",
                    fmt_num(n[0], sizeof(n[0]), "%.16f", t->fx1), fmt_attr(sd, sizeof(sd), sdate),
                    fmt_attr(ed, sizeof(ed), edate), fmt_num(n[1], sizeof(n[1]), "%2.17f", t->drift),
                    fmt_num(n[2], sizeof(n[2]), "%.2f", t->maturity), (int)t->t_steps, (int)t->trials,
                    fmt_num(n[3], sizeof(n[3]), "%2.10e", t->ro), fmt_num(n[4], sizeof(n[4]), "%2.16f", t->v),
                    fmt_num(n[5], sizeof(n[5]), "%2.17f", t->sigma1), (long long)t->warrants_no,
                    fmt_num(n[6], sizeof(n[6]), "%2.16f", t->notional_per_warr),
                    fmt_num(n[7], sizeof(n[7]), "%2.16f", t->strike), (long long)t->id);
}

/* ---- validation ---------------------------------------------------------- */

int trade_validate(const trade_t *t, char *msg, size_t msglen)
{
#define BAD(code, ...) return (fs_seterr(msg, msglen, __VA_ARGS__), (code))
    if (t->id < 0 || t->id > TRADE_MAX_ID)
        BAD(FS_E_DOMAIN, "trade id %lld outside 0..%lld", (long long)t->id, TRADE_MAX_ID);
    if (!(t->fx1 > 0) || t->fx1 > TRADE_MAX_PRICE)
        BAD(FS_E_DOMAIN, "fx1=%g must be in (0, %g]", t->fx1, TRADE_MAX_PRICE);
    if (!(t->strike > 0) || t->strike > TRADE_MAX_PRICE)
        BAD(FS_E_DOMAIN, "strike=%g must be in (0, %g]", t->strike, TRADE_MAX_PRICE);
    if (!(t->sigma1 >= 0) || t->sigma1 > 10)
        BAD(FS_E_DOMAIN, "sigma1=%g must be in [0, 10]", t->sigma1);
    if (!(t->v >= 0) || t->v > 10)
        BAD(FS_E_DOMAIN, "v=%g must be in [0, 10]", t->v);
    if (!(fabs(t->ro) <= 1))
        BAD(FS_E_DOMAIN, "ro=%g must satisfy |ro| <= 1", t->ro);
    if (!(t->maturity > 0) || t->maturity > 100)
        BAD(FS_E_DOMAIN, "maturity=%g must be in (0, 100] years", t->maturity);
    if (!(fabs(t->drift) <= 10))
        BAD(FS_E_DOMAIN, "drift=%g must satisfy |drift| <= 10", t->drift);
    if (t->warrants_no < 0 || t->warrants_no > 1000000000000LL)
        BAD(FS_E_DOMAIN, "warrantsNo=%lld must be in [0, 1e12]", (long long)t->warrants_no);
    if (!(t->notional_per_warr >= 0) || t->notional_per_warr > 1e12)
        BAD(FS_E_DOMAIN, "notionalPerWarr=%g must be in [0, 1e12]", t->notional_per_warr);
    if (t->t_steps < 1)
        BAD(FS_E_DOMAIN, "t_steps=%d must be >= 1", (int)t->t_steps);
    if (t->trials < 1)
        BAD(FS_E_DOMAIN, "trials=%d must be >= 1", (int)t->trials);
    if (t->t_steps > TRADE_MAX_STEPS)
        BAD(FS_E_TOO_LARGE, "t_steps=%d exceeds the limit %d", (int)t->t_steps, TRADE_MAX_STEPS);
    if (t->trials > TRADE_MAX_TRIALS)
        BAD(FS_E_TOO_LARGE, "trials=%d exceeds the limit %d", (int)t->trials, TRADE_MAX_TRIALS);
    if ((int64_t)t->trials * t->t_steps > TRADE_MAX_WORK)
        BAD(FS_E_TOO_LARGE, "trials*t_steps=%lld exceeds the limit %lld",
            (long long)t->trials * t->t_steps, TRADE_MAX_WORK);
    /* dates are informational, but must be text: a control character
     * cannot be written back into an eyxml document */
    for (int d = 0; d < 2; d++) {
        const char *s = d ? t->end_date : t->start_date;
        for (size_t i = 0; i < sizeof(t->start_date) && s[i]; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                BAD(FS_E_DOMAIN, "%s holds a control character", d ? "end_date" : "start_date");
        if (!memchr(s, 0, sizeof(t->start_date)))
            BAD(FS_E_DOMAIN, "%s is not terminated", d ? "end_date" : "start_date");
    }
#undef BAD
    if (msg && msglen)
        msg[0] = '\0';
    return FS_OK;
}

/* ---- parsing ------------------------------------------------------------- */

enum field {
    F_FX1, F_START, F_END, F_DRIFT, F_MATURITY, F_TSTEPS, F_TRIALS, F_RO, F_V,
    F_SIGMA1, F_WARRANTS, F_NOTIONAL, F_STRIKE, F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "fx1", "start_date", "end_date", "drift", "maturity", "t_steps", "trials",
    "ro", "v", "sigma1", "warrantsNo", "notionalPerWarr", "strike",
};

typedef struct parse_ctx {
    XML_Parser xp;
    trade_cb cb;
    void *cb_ctx;
    int depth;          /* element depth, root = 1 */
    int root_ok;        /* root element is <AZFINSIM> */
    int in_trade;       /* inside a <trade> element */
    int stopped;        /* callback asked to stop */
    int count;          /* trades reported */
    int status;         /* status of the trade being read */
    char msg[192];      /* reason when status != FS_OK */
    trade_t t;          /* trade being read */
    char text[32];      /* element text (the id) */
    size_t text_len;
    int text_overflow;
} parse_ctx_t;

static void set_status(parse_ctx_t *c, int status, const char *fmt, const char *a)
{
    if (c->status != FS_OK)
        return; /* keep the first problem */
    c->status = status;
    snprintf(c->msg, sizeof(c->msg), fmt, a);
}

static void parse_field(parse_ctx_t *c, int f, const char *val)
{
    trade_t *t = &c->t;
    double d = 0;
    int64_t i = 0;
    switch (f) {
    case F_START:
    case F_END: {
        char *dst = f == F_START ? t->start_date : t->end_date;
        size_t n = strlen(val);
        if (n >= sizeof(t->start_date)) {
            set_status(c, FS_E_BAD_NUMBER, "%s is not a YYYY-MM-DD date", field_names[f]);
            return;
        }
        memcpy(dst, val, n + 1);
        return;
    }
    case F_TSTEPS:
    case F_TRIALS:
    case F_WARRANTS:
        if (fs_parse_i64(val, &i) != 0) {
            set_status(c, FS_E_BAD_NUMBER, "%s is not an integer", field_names[f]);
            return;
        }
        if (f == F_WARRANTS) {
            t->warrants_no = i;
        } else {
            /* clamp into int32 range; validation reports the real limits */
            int32_t v = i > INT32_MAX ? INT32_MAX : i < INT32_MIN ? INT32_MIN : (int32_t)i;
            if (f == F_TSTEPS)
                t->t_steps = v;
            else
                t->trials = v;
            if (i > INT32_MAX)
                set_status(c, FS_E_TOO_LARGE, "%s is too large", field_names[f]);
        }
        return;
    default:
        if (fs_parse_double(val, &d) != 0) {
            set_status(c, FS_E_BAD_NUMBER, "%s is not a finite number", field_names[f]);
            return;
        }
        switch (f) {
        case F_FX1: t->fx1 = d; break;
        case F_DRIFT: t->drift = d; break;
        case F_MATURITY: t->maturity = d; break;
        case F_RO: t->ro = d; break;
        case F_V: t->v = d; break;
        case F_SIGMA1: t->sigma1 = d; break;
        case F_NOTIONAL: t->notional_per_warr = d; break;
        case F_STRIKE: t->strike = d; break;
        default: break;
        }
    }
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    parse_ctx_t *c = ud;
    c->depth++;
    if (c->depth == 1) {
        c->root_ok = strcmp(name, "AZFINSIM") == 0;
        return;
    }
    if (!c->root_ok || c->depth != 2 || strcmp(name, "trade") != 0)
        return; /* unknown elements are ignored */
    c->in_trade = 1;
    c->status = FS_OK;
    c->msg[0] = '\0';
    memset(&c->t, 0, sizeof(c->t));
    c->t.id = -1;
    c->text_len = 0;
    c->text_overflow = 0;
    unsigned seen = 0;
    int next = 0; /* documents list the fields in field_names' order: try the next one first */
    for (int i = 0; atts[i]; i += 2) {
        int f = next < F_COUNT && strcmp(atts[i], field_names[next]) == 0 ? next : -1;
        for (int g = 0; f < 0 && g < F_COUNT; g++)
            if (strcmp(atts[i], field_names[g]) == 0)
                f = g;
        if (f >= 0) {
            seen |= 1u << f;
            parse_field(c, f, atts[i + 1]);
            next = f + 1;
        }
        /* unknown attributes are ignored, as AzFinSim's reader does */
    }
    for (int f = 0; f < F_COUNT; f++) {
        if (f == F_START || f == F_END)
            continue; /* dates are informational */
        if (!(seen & (1u << f))) {
            c->status = FS_OK; /* a missing field is reported before a malformed one */
            set_status(c, FS_E_MISSING_FIELD, "attribute %s is missing", field_names[f]);
            break;
        }
    }
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    parse_ctx_t *c = ud;
    if (!c->in_trade || c->depth != 2)
        return;
    for (int i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
            if (c->text_len == 0)
                continue; /* leading whitespace */
        }
        if (c->text_len + 1 >= sizeof(c->text)) {
            c->text_overflow = 1;
            return;
        }
        c->text[c->text_len++] = ch;
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    parse_ctx_t *c = ud;
    if (c->in_trade && c->depth == 2) {
        c->in_trade = 0;
        /* trailing whitespace of the id */
        while (c->text_len && (c->text[c->text_len - 1] == ' ' || c->text[c->text_len - 1] == '\n' ||
                               c->text[c->text_len - 1] == '\t' || c->text[c->text_len - 1] == '\r'))
            c->text_len--;
        c->text[c->text_len] = '\0';
        int64_t id = -1;
        int id_ok = !c->text_overflow && c->text_len > 0 && fs_parse_i64(c->text, &id) == 0 &&
                    id >= 0 && id <= TRADE_MAX_ID && c->text[0] != '-' && c->text[0] != '+';
        for (size_t i = 0; id_ok && i < c->text_len; i++)
            if (c->text[i] < '0' || c->text[i] > '9')
                id_ok = 0;
        c->t.id = id_ok ? id : -1;
        if (!id_ok) {
            set_status(c, FS_E_BAD_NUMBER, "%s", "trade id (element text) is not a 0..9999999999 integer");
        }
        if (c->status == FS_OK)
            c->status = trade_validate(&c->t, c->msg, sizeof(c->msg));
        c->count++;
        if (c->cb(c->cb_ctx, &c->t, c->status, c->status == FS_OK ? "" : c->msg)) {
            c->stopped = 1;
            if (c->xp)
                XML_StopParser(c->xp, XML_FALSE);
        }
    }
    c->depth--;
}

/* Refuse DOCTYPE declarations: no entity expansion games on untrusted input. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    parse_ctx_t *c = ud;
    c->status = FS_E_PARSE;
    snprintf(c->msg, sizeof(c->msg), "DOCTYPE declarations are not allowed");
    XML_StopParser(c->xp, XML_FALSE);
}

/* Expat's memory: a per-thread cache of freed blocks in size classes of
 * 32 << k bytes, in front of malloc. A reset parser frees and allocates the
 * same small blocks for every document (the element and attribute entries
 * of its tables, the protocol encoding name) and frees each empty slot of
 * its tables; from the cache those cost a few instructions instead of a trip
 * through malloc. Blocks above the largest class go to malloc directly. Each
 * block is its own malloc'ed memory, so a block freed on another thread
 * only joins that thread's cache. A class keeps at most XM_KEEP blocks.
 * Under AddressSanitizer nothing is kept: every block goes back to free(),
 * so a use after free inside expat is still caught. */
#if defined(__SANITIZE_ADDRESS__)
#define XM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XM_SANITIZED 1
#endif
#endif
#ifdef XM_SANITIZED
enum { XM_CLASSES = 8, XM_KEEP = 0 };
#else
enum { XM_CLASSES = 8, XM_KEEP = 64 };
#endif
typedef union xm_head {
    struct {
        int cls; /* size class, -1 for a block from malloc of its own size */
    } h;
    max_align_t align;
} xm_head_t;
typedef struct xm_cache {
    xm_head_t *free[XM_CLASSES];
    int n[XM_CLASSES];
} xm_cache_t;
static _Thread_local xm_cache_t xm_cache;

static int xm_class(size_t n)
{
    int k = 0;
    while (k < XM_CLASSES && ((size_t)32 << k) < n)
        k++;
    return k < XM_CLASSES ? k : -1;
}

static void *XMLCALL xm_malloc(size_t n)
{
    int k = xm_class(n);
    xm_head_t *b;
    if (k >= 0 && xm_cache.free[k]) {
        b = xm_cache.free[k];
        xm_cache.free[k] = *(xm_head_t **)(b + 1);
        xm_cache.n[k]--;
    } else {
        size_t sz = k >= 0 ? (size_t)32 << k : n;
        if (sz > SIZE_MAX - sizeof(*b) || !(b = malloc(sizeof(*b) + sz)))
            return NULL;
    }
    b->h.cls = k;
    return b + 1;
}

static void XMLCALL xm_free(void *p)
{
    if (!p)
        return;
    xm_head_t *b = (xm_head_t *)p - 1;
    int k = b->h.cls;
    if (k < 0 || xm_cache.n[k] >= XM_KEEP) {
        free(b);
        return;
    }
    *(xm_head_t **)p = xm_cache.free[k];
    xm_cache.free[k] = b;
    xm_cache.n[k]++;
}

static void *XMLCALL xm_realloc(void *p, size_t n)
{
    if (!p)
        return xm_malloc(n);
    xm_head_t *b = (xm_head_t *)p - 1;
    int k = b->h.cls;
    if (k >= 0 && n <= (size_t)32 << k)
        return p;
    if (k < 0 && xm_class(n) < 0) { /* large to large: malloc's own realloc */
        if (n > SIZE_MAX - sizeof(*b) || !(b = realloc(b, sizeof(*b) + n)))
            return NULL;
        return b + 1;
    }
    void *q = xm_malloc(n);
    if (!q)
        return NULL;
    /* a class block holds 32 << k bytes; a large one shrinking into a class
     * keeps the first n */
    memcpy(q, p, k >= 0 ? (size_t)32 << k : n);
    xm_free(p);
    return q;
}

static const XML_Memory_Handling_Suite xm_suite = {xm_malloc, xm_realloc, xm_free};

/* The thread's parser for documents of their own (which = 0) or for
 * trade_parse_batch's runs (which = 1), reset, with the thread's hash salt;
 * NULL when expat cannot allocate one. One parser per thread, reset
 * between documents: creating an expat parser costs about as much as
 * parsing a trade. */
static XML_Parser thread_parser(int which)
{
    static _Thread_local XML_Parser cached[2];
    XML_Parser *xp = &cached[which];
    if (*xp && !XML_ParserReset(*xp, "UTF-8")) {
        XML_ParserFree(*xp);
        *xp = NULL;
    }
    if (!*xp)
        *xp = XML_ParserCreate_MM("UTF-8", &xm_suite, NULL);
    if (!*xp)
        return NULL;
    /* Expat seeds its attribute hash from the kernel (a getrandom call and
     * two getenv scans) in every document unless a salt is set: a third of
     * the parse time. One random salt per thread keeps the hash-flooding
     * protection without that cost; the salt changes no parsed value. */
    static _Thread_local unsigned long salt;
    if (!salt) {
        uint64_t x = 0;
        if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != (ssize_t)sizeof(x))
            x = fs_mix64((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&x);
        salt = (unsigned long)x ? (unsigned long)x : 1;
    }
    XML_SetHashSalt(*xp, salt);
    return *xp;
}

/* What parse_whole reports once expat is done with a document (st: what
 * XML_Parse answered; xp is only asked for the error position when st is
 * not XML_STATUS_OK): the document-level failure, if any. Returns the
 * number of reports in all. */
static int parse_finish(parse_ctx_t *c, enum XML_Status st, XML_Parser xp, unsigned long line0, unsigned long col0,
                        unsigned long wrap0)
{
    if (c->stopped)
        return c->count;
    if (st != XML_STATUS_OK || !c->root_ok || c->count == 0) {
        char msg[192];
        if (c->status == FS_E_PARSE && c->msg[0])
            snprintf(msg, sizeof(msg), "%s", c->msg);
        else if (st != XML_STATUS_OK) {
            unsigned long line = (unsigned long)XML_GetCurrentLineNumber(xp);
            unsigned long col = (unsigned long)XML_GetCurrentColumnNumber(xp);
            if (line0 > 0) { /* a piece: position in the whole document */
                if (line == 1)
                    col = col >= wrap0 ? col - wrap0 + col0 : col0;
                line += line0 - 1;
            }
            snprintf(msg, sizeof(msg), "malformed XML at line %lu column %lu: %s", line, col,
                     XML_ErrorString(XML_GetErrorCode(xp)));
        }
        else if (!c->root_ok)
            snprintf(msg, sizeof(msg), "root element is not <AZFINSIM>");
        else
            snprintf(msg, sizeof(msg), "no <trade> element in the document");
        /* a trade in progress when the XML broke is reported as unparsable */
        trade_t t = c->t;
        if (!(c->in_trade || c->count == 0))
            t.id = -1;
        c->cb(c->cb_ctx, &t, FS_E_PARSE, msg);
        c->count++;
    }
    return c->count;
}

/* Parse one document with expat, as trade_parse. *malformed (may be NULL)
 * is set when the XML is not well-formed (a refused DOCTYPE does not count).
 * The document is a piece of a larger one when line0 > 0: error positions
 * are then given in the larger document (its first line starts at column
 * col0 there, after a wrapper of wrap0 bytes). */
static int parse_whole(const char *buf, size_t len, trade_cb cb, void *ctx, int *malformed,
                       unsigned long line0, unsigned long col0, unsigned long wrap0)
{
    parse_ctx_t c;
    memset(&c, 0, sizeof(c));
    c.cb = cb;
    c.cb_ctx = ctx;
    c.t.id = -1;
    if (len > TRADE_DOC_MAX) {
        cb(ctx, &c.t, FS_E_TOO_LARGE, "document larger than 1 MiB");
        return 1;
    }
    c.xp = thread_parser(0);
    if (!c.xp) {
        cb(ctx, &c.t, FS_E_NOMEM, "cannot create XML parser");
        return 1;
    }
    XML_SetUserData(c.xp, &c);
    XML_SetElementHandler(c.xp, on_start, on_end);
    XML_SetCharacterDataHandler(c.xp, on_text);
    XML_SetStartDoctypeDeclHandler(c.xp, on_doctype);
    enum XML_Status st = XML_Parse(c.xp, buf, (int)len, XML_TRUE);
    if (malformed)
        *malformed = st != XML_STATUS_OK && !c.stopped && XML_GetErrorCode(c.xp) != XML_ERROR_ABORTED;
    return parse_finish(&c, st, c.xp, line0, col0, wrap0);
}

int trade_parse(const char *buf, size_t len, trade_cb cb, void *ctx)
{
    return parse_whole(buf, len, cb, ctx, NULL, 0, 0, 0);
}

/* ---- documents of many trades ----------------------------------------------- */

typedef struct report {
    trade_t t;
    int status;
    char msg[192];
} report_t;

typedef struct reports {
    report_t *v;
    size_t n, cap;
} reports_t;

/* trade_cb that keeps every report, to be replayed later. */
static int keep_report(void *ctx, const trade_t *t, int status, const char *msg)
{
    reports_t *r = ctx;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
    }
    report_t *e = &r->v[r->n++];
    e->t = *t;
    e->status = status;
    snprintf(e->msg, sizeof(e->msg), "%s", msg);
    return 0;
}

/* The first occurrence of needle (nl bytes) in [p, end), or NULL. */
static const char *find_bytes(const char *p, const char *end, const char *needle, size_t nl)
{
    while ((size_t)(end - p) >= nl) {
        const char *q = memchr(p, needle[0], (size_t)(end - p) - nl + 1);
        if (!q)
            return NULL;
        if (memcmp(q, needle, nl) == 0)
            return q;
        p = q + 1;
    }
    return NULL;
}

/* The next "<trade" start tag in [p, end), or NULL. */
static const char *next_trade_tag(const char *p, const char *end)
{
    while ((p = find_bytes(p, end, "<trade", 6)) != NULL) {
        char ch = p + 6 < end ? p[6] : '\0';
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '>' || ch == '/')
            return p;
        p += 6;
    }
    return NULL;
}

/* Forwards reports to the caller's callback and notes a request to stop. */
typedef struct forward {
    trade_cb cb;
    void *ctx;
    int stopped;
    int parse_errors; /* FS_E_PARSE reports */
} forward_t;

static int forward_cb(void *ctx, const trade_t *t, int status, const char *msg)
{
    forward_t *f = ctx;
    f->parse_errors += status == FS_E_PARSE;
    if (f->cb(f->ctx, t, status, msg))
        f->stopped = 1;
    return f->stopped;
}

/* Parse the root's content [body, body_end) of buf piece by piece: each
 * <trade> element, from its start tag to the next one (or the end of the
 * root), inside a root of its own. Error positions are the document's.
 * Reports through f; returns the number of reports. */
static int parse_pieces(const char *buf, const char *body, const char *body_end, int closed, forward_t *f)
{
    static const char open_tag[] = "<AZFINSIM>", close_tag[] = "</AZFINSIM>";
    const size_t ol = sizeof(open_tag) - 1, cl = sizeof(close_tag) - 1;
    char *scratch = NULL;
    size_t scap = 0;
    int count = 0;
    unsigned long line = 1;
    const char *counted = buf, *line_start = buf; /* line number and start of counted */
    for (const char *p = next_trade_tag(body, body_end); p && !f->stopped;) {
        const char *q = next_trade_tag(p + 6, body_end);
        const char *pe = q ? q : body_end;
        for (; counted < p; counted++)
            if (*counted == '\n') {
                line++;
                line_start = counted + 1;
            }
        size_t plen = (size_t)(pe - p);
        if (plen + ol + cl > scap) {
            scap = plen + ol + cl;
            scratch = xrealloc(scratch, scap);
        }
        memcpy(scratch, open_tag, ol);
        memcpy(scratch + ol, p, plen);
        memcpy(scratch + ol + plen, close_tag, cl);
        count += parse_whole(scratch, plen + ol + cl, forward_cb, f, NULL, line, (unsigned long)(p - line_start),
                             ol);
        p = q;
    }
    free(scratch);
    if (!closed && !f->stopped) {
        trade_t none;
        memset(&none, 0, sizeof(none));
        none.id = -1;
        forward_cb(f, &none, FS_E_PARSE, "document ends without </AZFINSIM> (truncated?)");
        count++;
    }
    return count;
}

int trade_parse_doc(const char *buf, size_t len, trade_cb cb, void *ctx)
{
    /* the root's content: after the first <AZFINSIM>, up to the last
     * </AZFINSIM> (or the end of a truncated document) */
    const char *end = buf + len;
    const char *body = find_bytes(buf, end, "<AZFINSIM>", 10), *body_end = end;
    int closed = 0;
    if (body) {
        body += 10;
        for (const char *q = body; (q = find_bytes(q, end, "</AZFINSIM>", 11)) != NULL; q++) {
            body_end = q;
            closed = 1;
        }
    }
    trade_t none;
    memset(&none, 0, sizeof(none));
    none.id = -1;
    reports_t r = {0};
    if (len <= TRADE_DOC_MAX) {
        int malformed = 0;
        parse_whole(buf, len, keep_report, &r, &malformed, 0, 0, 0);
        if (!malformed || !body) {
            int n = 0;
            for (size_t i = 0; i < r.n; i++) {
                n++;
                if (cb(ctx, &r.v[i].t, r.v[i].status, r.v[i].msg))
                    break;
            }
            free(r.v);
            return n;
        }
    } else if (!body) {
        cb(ctx, &none, FS_E_TOO_LARGE, "document larger than 1 MiB without an <AZFINSIM> root");
        return 1;
    }
    forward_t f = {.cb = cb, .ctx = ctx};
    int n = parse_pieces(buf, body, body_end, closed, &f);
    if (!f.stopped && f.parse_errors == 0) {
        /* the document is broken outside its trades (or has none): say so
         * once, with expat's reason for the whole document */
        if (r.n > 0)
            cb(ctx, &none, FS_E_PARSE, r.v[r.n - 1].msg);
        else if (n == 0)
            cb(ctx, &none, FS_E_PARSE, "no <trade> element in the document");
        n += r.n > 0 || n == 0;
    }
    free(r.v);
    return n;
}

typedef struct one_ctx {
    trade_t *out;
    int status;
    int n;
    char *msg;
    size_t msglen;
} one_ctx_t;

static int one_cb(void *ctx, const trade_t *t, int status, const char *msg)
{
    one_ctx_t *o = ctx;
    o->n++;
    if (o->n == 1) {
        *o->out = *t;
        o->status = status;
        if (o->msg && o->msglen)
            snprintf(o->msg, o->msglen, "%s", msg);
        return 0;
    }
    if (o->status == FS_OK) {
        o->status = FS_E_PARSE;
        if (o->msg && o->msglen)
            snprintf(o->msg, o->msglen, "%s", status == FS_E_PARSE ? msg : "document holds more than one <trade>");
    }
    return 1;
}

int trade_parse_one(const char *buf, size_t len, trade_t *out, char *msg, size_t msglen)
{
    one_ctx_t o = {.out = out, .status = FS_E_PARSE, .n = 0, .msg = msg, .msglen = msglen};
    memset(out, 0, sizeof(*out));
    out->id = -1;
    trade_parse(buf, len, one_cb, &o);
    return o.status;
}

/* ---- many one-trade documents ----------------------------------------------
 * trade_parse_batch gives every document what trade_parse_one gives it, at
 * a lower cost: a run of documents goes through one parser, inside a
 * wrapper element, one XML_Parse call per document, so that the reset, the
 * table set-up and the prolog of a document of its own are paid once per
 * run. A document joins a run only when it starts with its root start tag
 * "<AZFINSIM" and is no larger than TRADE_DOC_MAX: in the wrapper, expat
 * then reads the same tokens from it as alone, from the root on. Its
 * outcome is taken from the run only when it is clean, that is: expat
 * reported no error up to its end; its first event is the root's start
 * tag, at its first byte; the root also ends in it; after the root come
 * only white space (written as itself, not as a reference), comments and
 * processing instructions, which is what its epilog alone may hold; and the
 * events, which tile the input, end exactly at its last byte, so that no
 * token is left open into the next document. Every event is located with
 * XML_GetCurrentByteIndex and XML_GetCurrentByteCount. A document that is
 * not clean ends the run: it is parsed alone (trade_parse_one), which gives
 * it its own messages and error positions, and a new run starts after it.
 * The documents before it keep the outcomes already delivered. */

static const char batch_wrap[] = "<b>";
enum { BATCH_ROOM = 1 << 16 }; /* input buffer of the batch parser, bytes */

typedef struct batch_run {
    XML_Parser xp;
    parse_ctx_t c;      /* the current document, as parse_whole keeps it */
    long long start;    /* its first byte in the run's input */
    long long end;      /* one past its last byte */
    long long last_end; /* one past the last event's bytes */
    int wrapper;        /* the wrapper's start tag was read */
    int root;           /* 0 before the root, 1 inside it, 2 after it */
    int bad;            /* the document is not clean */
} batch_run_t;

static void batch_bad(batch_run_t *b)
{
    if (!b->bad) {
        b->bad = 1;
        XML_StopParser(b->xp, XML_FALSE);
    }
}

/* Note the current event's bytes; 0 (and the run stops) when they are not
 * all in the current document, or the document is already not clean. */
static int batch_event(batch_run_t *b)
{
    if (b->bad)
        return 0;
    long long at = (long long)XML_GetCurrentByteIndex(b->xp);
    long long n = XML_GetCurrentByteCount(b->xp);
    if (at < b->start || at + n > b->end) {
        batch_bad(b);
        return 0;
    }
    b->last_end = at + n;
    return 1;
}

static void XMLCALL batch_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    batch_run_t *b = ud;
    if (!b->wrapper && !b->bad) { /* the wrapper's own start tag, before any document */
        b->wrapper = 1;
        return;
    }
    if (!batch_event(b))
        return;
    if (b->c.depth == 0) { /* a root: the first event, at the first byte, and only one */
        if (b->root != 0 || (long long)XML_GetCurrentByteIndex(b->xp) != b->start) {
            batch_bad(b);
            return;
        }
        b->root = 1;
    }
    on_start(&b->c, name, atts);
}

static void XMLCALL batch_end(void *ud, const XML_Char *name)
{
    batch_run_t *b = ud;
    if (!batch_event(b))
        return;
    if (b->c.depth == 0) { /* the wrapper's end tag: junk after the root */
        batch_bad(b);
        return;
    }
    on_end(&b->c, name);
    if (b->c.depth == 0)
        b->root = 2;
}

static void XMLCALL batch_text(void *ud, const XML_Char *s, int len)
{
    batch_run_t *b = ud;
    if (!batch_event(b))
        return;
    if (b->c.depth > 0) {
        on_text(&b->c, s, len);
        return;
    }
    /* outside the root: white space written as itself (a character
     * reference gives fewer characters than its bytes), after the root */
    long long n = XML_GetCurrentByteCount(b->xp);
    int ok = b->root == 2 && (n == len || (len == 1 && s[0] == '\n' && n <= 2));
    for (int i = 0; ok && i < len; i++)
        ok = s[i] == ' ' || s[i] == '\t' || s[i] == '\n';
    if (!ok)
        batch_bad(b);
}

/* Comments and processing instructions: anywhere but before the root. */
static void XMLCALL batch_comment(void *ud, const XML_Char *data)
{
    batch_run_t *b = ud;
    (void)data;
    if (batch_event(b) && b->c.depth == 0 && b->root != 2)
        batch_bad(b);
}

static void XMLCALL batch_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
    (void)target;
    batch_comment(ud, data);
}

/* CDATA sections: inside the root only. */
static void XMLCALL batch_cdata_start(void *ud)
{
    batch_run_t *b = ud;
    if (batch_event(b) && b->c.depth == 0)
        batch_bad(b);
}

static void XMLCALL batch_cdata_end(void *ud)
{
    batch_event(ud);
}

/* Can the document join a run? */
static int batch_fits(const char *d, size_t len)
{
    return len >= 10 && len <= TRADE_DOC_MAX && memcmp(d, "<AZFINSIM", 9) == 0 &&
           (d[9] == '>' || d[9] == ' ' || d[9] == '\t' || d[9] == '\n' || d[9] == '\r');
}

/* Start a run: the batch parser, reset, with the wrapper's start tag read.
 * 0 when expat cannot. */
static int batch_open(batch_run_t *b)
{
    b->xp = thread_parser(1);
    if (!b->xp)
        return 0;
    b->wrapper = 0;
    b->bad = 0;
    XML_SetUserData(b->xp, b);
    XML_SetElementHandler(b->xp, batch_start, batch_end);
    XML_SetCharacterDataHandler(b->xp, batch_text);
    XML_SetCommentHandler(b->xp, batch_comment);
    XML_SetProcessingInstructionHandler(b->xp, batch_pi);
    XML_SetCdataSectionHandler(b->xp, batch_cdata_start, batch_cdata_end);
    /* room for many documents: expat moves what it keeps of its input to
     * the front of its buffer whenever the next piece does not fit (a
     * parser keeps its buffer when reset) */
    char *room = XML_GetBuffer(b->xp, BATCH_ROOM);
    if (!room)
        return 0;
    memcpy(room, batch_wrap, sizeof(batch_wrap) - 1);
    return XML_ParseBuffer(b->xp, (int)sizeof(batch_wrap) - 1, XML_FALSE) == XML_STATUS_OK;
}

size_t trade_parse_batch(const char *buf, const size_t *off, size_t n, trade_doc_cb cb, void *ctx)
{
    /* a callback that parses a batch itself gets documents parsed alone:
     * the thread's batch parser is in use */
    static _Thread_local int depth;
    int nested = depth++;
    batch_run_t b;
    trade_t t;
    char msg[TRADE_MSG_MAX];
    size_t shared = 0; /* documents whose outcome came from a run */
    int live = 0;      /* a run is open and every document fed to it was clean */
    long long pos = 0; /* the run's input so far */
    for (size_t i = 0; i < n; i++) {
        const char *d = buf + off[i];
        size_t len = off[i + 1] - off[i];
        if (!nested && batch_fits(d, len)) {
            if (!live && (live = batch_open(&b)) != 0)
                pos = (long long)sizeof(batch_wrap) - 1;
            if (live) {
                /* the document's state as trade_parse_one starts it */
                one_ctx_t o = {.out = &t, .status = FS_E_PARSE, .n = 0, .msg = msg, .msglen = sizeof(msg)};
                memset(&t, 0, sizeof(t));
                t.id = -1;
                msg[0] = '\0';
                memset(&b.c, 0, sizeof(b.c));
                b.c.cb = one_cb;
                b.c.cb_ctx = &o;
                b.c.t.id = -1;
                b.start = b.last_end = pos;
                b.end = pos += (long long)len;
                b.root = 0;
                enum XML_Status st = XML_Parse(b.xp, d, (int)len, XML_FALSE);
                if (st == XML_STATUS_OK && !b.bad && b.wrapper && b.root == 2 && b.last_end == b.end) {
                    parse_finish(&b.c, XML_STATUS_OK, NULL, 0, 0, 0);
                    shared++;
                    cb(ctx, i, &t, o.status, msg);
                    continue;
                }
                live = 0; /* not clean: the run ends, the document is parsed alone */
            }
        }
        msg[0] = '\0';
        int status = trade_parse_one(d, len, &t, msg, sizeof(msg));
        cb(ctx, i, &t, status, msg);
    }
    depth--;
    return shared;
}
