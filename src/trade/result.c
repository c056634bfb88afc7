/* result.c - result records: failure fill, XML mirror form, checksum. */
#include "finsim/trade/result.h"

#include <expat.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "finsim/trade/trade.h"
#include "finsim/base/numfmt.h"
#include "finsim/base/util.h"

void result_fail(result_t *r, int64_t id, int status, int rank)
{
    memset(r, 0, sizeof(*r));
    r->trade_id = id;
    r->status = status;
    r->rank = rank;
    r->pv = r->pv_stderr = r->delta = r->delta_stderr = r->vega = r->vega_stderr = NAN;
}

static void csv_num(FILE *f, double x)
{
    char t[FS_NUMFMT_CAP];
    if (isnan(x))
        return;
    fs_fmt_g(t, sizeof(t), x, 17);
    fputs(t, f);
}

void result_csv_row(FILE *f, const result_t *r)
{
    fprintf(f, "%lld,%d,", (long long)r->trade_id, (int)r->status);
    const double v[] = {r->pv, r->pv_stderr, r->delta, r->delta_stderr, r->vega, r->vega_stderr};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        csv_num(f, v[i]);
        fputc(',', f);
    }
    fprintf(f, "%lld,%.6f\n", (long long)r->paths, r->compute_s);
}


/* The record as snprintf with "%010lld", "%d", "%.17g" (the six figures),
 * "%lld", "%.9g", "%016llx" would write it, laid out without printf: the
 * numbers come from base/numfmt.c, which writes printf's exact bytes. */
int result_format(const result_t *r, char *buf, size_t cap)
{
    char doc[512]; /* the longest record is under 400 bytes */
    char *o = doc;
    o = FS_PUTS(o, "<AZFINSIM><result trade=\"");
    o = fs_put_int(o, r->trade_id, 10);
    o = FS_PUTS(o, "\" status=\"");
    o = fs_put_int(o, r->status, 1);
    o = FS_PUTS(o, "\" pv=\"");
    o = fs_put_g(o, r->pv, 17);
    o = FS_PUTS(o, "\" pv_stderr=\"");
    o = fs_put_g(o, r->pv_stderr, 17);
    o = FS_PUTS(o, "\" delta=\"");
    o = fs_put_g(o, r->delta, 17);
    o = FS_PUTS(o, "\" delta_stderr=\"");
    o = fs_put_g(o, r->delta_stderr, 17);
    o = FS_PUTS(o, "\" vega=\"");
    o = fs_put_g(o, r->vega, 17);
    o = FS_PUTS(o, "\" vega_stderr=\"");
    o = fs_put_g(o, r->vega_stderr, 17);
    o = FS_PUTS(o, "\" paths=\"");
    o = fs_put_int(o, r->paths, 1);
    o = FS_PUTS(o, "\" compute_s=\"");
    o = fs_put_g(o, r->compute_s, 9);
    o = FS_PUTS(o, "\" rank=\"");
    o = fs_put_int(o, r->rank, 1);
    o = FS_PUTS(o, "\" inputs=\"");
    o = fs_put_hex16(o, r->inputs);
    o = FS_PUTS(o, "\" digest=\"");
    o = fs_put_hex16(o, r->digest);
    o = FS_PUTS(o, "\"/></AZFINSIM>");
    return fs_copy_out(buf, cap, doc, (int)(o - doc));
}

typedef struct rparse {
    result_t *r;
    int found;
    int bad;
    unsigned seen;
    char *msg;
    size_t msglen;
} rparse_t;

/* NaN is written as "nan" / "-nan" by printf; accept those for Greeks of pvonly. */
static int parse_num(const char *s, double *out)
{
    if (strcmp(s, "nan") == 0 || strcmp(s, "-nan") == 0) {
        *out = NAN;
        return 0;
    }
    return fs_parse_double(s, out);
}

/* Exactly 16 hex digits (the form result_format writes). */
static int parse_hex64(const char *s, uint64_t *out)
{
    uint64_t u = 0;
    int n = 0;
    for (; s[n]; n++) {
        char ch = s[n];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0 || n >= 16)
            return -1;
        u = u << 4 | (uint64_t)d;
    }
    if (n != 16)
        return -1;
    *out = u;
    return 0;
}

static void XMLCALL r_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    rparse_t *p = ud;
    if (strcmp(name, "result") != 0 || p->found)
        return;
    p->found = 1;
    static const char *const keys[] = {"trade", "status", "pv", "pv_stderr", "delta",
                                       "delta_stderr", "vega", "vega_stderr", "paths",
                                       "compute_s", "rank", "inputs", "digest"};
    for (int i = 0; atts[i]; i += 2) {
        for (unsigned k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            if (strcmp(atts[i], keys[k]) != 0)
                continue;
            const char *v = atts[i + 1];
            int64_t iv = 0;
            double dv = 0;
            int ok = 0;
            switch (k) {
            /* out-of-range integers are malformed, not wrapped: a status of
             * 4294967296 must not read as 0 (priced) on --resume */
            case 0: ok = fs_parse_i64(v, &iv) == 0 && iv >= -1 && iv <= TRADE_MAX_ID; p->r->trade_id = iv; break;
            case 1: ok = fs_parse_i64(v, &iv) == 0 && iv >= INT32_MIN && iv <= INT32_MAX; p->r->status = (int32_t)iv; break;
            case 8: ok = fs_parse_i64(v, &iv) == 0 && iv >= 0; p->r->paths = iv; break;
            case 10: ok = fs_parse_i64(v, &iv) == 0 && iv >= -1 && iv <= INT32_MAX; p->r->rank = (int32_t)iv; break;
            case 11: ok = parse_hex64(v, &p->r->inputs) == 0; break;
            case 12: ok = parse_hex64(v, &p->r->digest) == 0; break;
            default:
                ok = parse_num(v, &dv) == 0;
                double *dst[] = {NULL, NULL, &p->r->pv, &p->r->pv_stderr, &p->r->delta,
                                 &p->r->delta_stderr, &p->r->vega, &p->r->vega_stderr, NULL,
                                 &p->r->compute_s};
                *dst[k] = dv;
            }
            if (!ok && !p->bad) {
                p->bad = 1;
                fs_seterr(p->msg, p->msglen, "result attribute %s is malformed", keys[k]);
            }
            p->seen |= 1u << k;
        }
    }
}

int result_parse(const char *buf, size_t len, result_t *r, char *msg, size_t msglen)
{
    rparse_t p = {.r = r, .msg = msg, .msglen = msglen};
    result_fail(r, -1, FS_E_PARSE, -1);
    if (len > RESULT_DOC_MAX)
        return fs_seterr(msg, msglen, "result document of %zu bytes (at most %d)", len, RESULT_DOC_MAX);
    XML_Parser xp = XML_ParserCreate("UTF-8");
    if (!xp)
        return fs_seterr(msg, msglen, "cannot create XML parser");
    XML_SetUserData(xp, &p);
    XML_SetStartElementHandler(xp, r_start);
    enum XML_Status st = XML_Parse(xp, buf, (int)len, XML_TRUE);
    int rc = 0;
    if (st != XML_STATUS_OK)
        rc = fs_seterr(msg, msglen, "malformed result XML: %s", XML_ErrorString(XML_GetErrorCode(xp)));
    else if (!p.found)
        rc = fs_seterr(msg, msglen, "no <result> element");
    else if (p.bad)
        rc = -1;
    else if ((p.seen & 0x1ffu) != 0x1ffu) /* trade..paths are required */
        rc = fs_seterr(msg, msglen, "result document lacks required attributes");
    XML_ParserFree(xp);
    return rc;
}

static uint64_t bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    /* all NaNs hash alike: printf/strtod round trips may change the payload */
    if (d != d)
        u = 0x7ff8000000000000ULL;
    return u;
}

uint64_t result_hash(const result_t *r)
{
    uint64_t h = fs_mix64((uint64_t)r->trade_id);
    const uint64_t v[] = {(uint64_t)(uint32_t)r->status, bits(r->pv), bits(r->pv_stderr),
                          bits(r->delta), bits(r->delta_stderr), bits(r->vega),
                          bits(r->vega_stderr), (uint64_t)r->paths};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        h = fs_mix64(h ^ v[i]);
    return h;
}

uint64_t result_digest(const result_t *r)
{
    uint64_t h = fs_mix64(result_hash(r) ^ 0x6469676573743031ULL); /* "digest01" */
    h = fs_mix64(h ^ r->inputs);
    return h ? h : 1;
}

void result_seal(result_t *r)
{
    r->digest = result_digest(r);
}

uint64_t result_checksum(const result_t *r, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += result_hash(&r[i]);
    return s;
}

char *result_fmt_num(double x, char *buf, size_t cap)
{
    if (isnan(x))
        snprintf(buf, cap, "%s", "");
    else
        fs_fmt_g(buf, cap, x, 17);
    return buf;
}
