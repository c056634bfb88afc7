/* gen.c - synthetic trades with AzFinSim's distributions (docs/DESIGN.md). */
#include "finsim/trade/gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finsim/base/numfmt.h"
#include "finsim/trade/rng.h"

/* The fields every generated trade shares, with their AzFinSim text:
 * maturity "%.2f" of 0.20, ro "%2.10e" of 0.000038413221829, v "%2.16f"
 * of 0.00154807378604. Each value is the double its text reads back as
 * (tests/test_trade.c checks both against the formats). */
#define GEN_MATURITY 0.20
#define GEN_MATURITY_TXT "0.20"
#define GEN_RO 3.8413221829e-05
#define GEN_RO_TXT "3.8413221829e-05"
#define GEN_V 0.00154807378604
#define GEN_V_TXT "0.0015480737860400"

/* Round x through the text of "%.<prec>f" and back, so the field holds
 * exactly the value its eyxml text represents; the text is left in out (len
 * in *len). Formatting the result the same way gives the same text again: a
 * fixed-digit rendering of a double reads back as the double nearest to it,
 * which prints as that text (x itself is within half a digit of it).
 * AzFinSim's formats are "%.16f", "%2.17f" and "%2.16f"; the width 2 never
 * pads these values. fs_fmt_fixed writes printf's bytes and gives strtod's
 * value without either (src/base/numfmt.c). */
static double through(int prec, double x, char *out, size_t cap, int *len)
{
    double back;
    *len = fs_fmt_fixed(out, cap, x, prec, &back);
    return back;
}

/* Counter-based uniforms: draw k of trade id depends only on (seed, id, k). */
static double u(uint64_t seed, int64_t id, unsigned k)
{
    return rng_trade_uniform(seed, id, 0x67656e0000000000ULL + k); /* "gen" */
}

enum { G_FX1, G_DRIFT, G_SIGMA1, G_NOTIONAL, G_STRIKE, G_NTXT };

static void gen_fields(uint64_t seed, int64_t id, trade_t *t, char txt[G_NTXT][48], int len[G_NTXT])
{
    memset(t, 0, sizeof(*t));
    t->id = id;
    t->fx1 = through(16, u(seed, id, 0) * 0.12 + 0.8285, txt[G_FX1], 48, &len[G_FX1]);
    memcpy(t->start_date, "2017-12-29", 11);
    memcpy(t->end_date, "2018-08-28", 11);
    t->drift = through(17, u(seed, id, 1) * 0.2 - 0.1, txt[G_DRIFT], 48, &len[G_DRIFT]);
    t->maturity = GEN_MATURITY;
    t->t_steps = 172; /* business days 2017-12-29 .. 2018-08-28 */
    t->trials = 10000;
    t->ro = GEN_RO;
    t->v = GEN_V;
    t->sigma1 = through(17, u(seed, id, 2) * 0.03 - 0.015 + 0.0808844481978, txt[G_SIGMA1], 48,
                        &len[G_SIGMA1]);
    t->warrants_no = 30000 + (int64_t)(u(seed, id, 3) * 30000.0);
    t->notional_per_warr = through(16, u(seed, id, 4) * 100.0 + 950.0, txt[G_NOTIONAL], 48, &len[G_NOTIONAL]);
    t->strike = through(16, u(seed, id, 5) * 0.12 + 0.7, txt[G_STRIKE], 48, &len[G_STRIKE]);
}

void gen_trade(uint64_t seed, int64_t id, trade_t *t)
{
    char txt[G_NTXT][48];
    int len[G_NTXT];
    gen_fields(seed, id, t, txt, len);
}

/* Append helpers for gen_trade_doc: no bounds checks; the caller has room. */
static char *put(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

int gen_trade_doc(uint64_t seed, int64_t id, trade_t *t, char *buf, size_t cap)
{
    char txt[G_NTXT][48];
    int len[G_NTXT];
    gen_fields(seed, id, t, txt, len);
    /* the numbers are printed already; lay them out as trade_format does */
    char doc[GEN_DOC_MAX];
    char *o = doc;
    o = FS_PUTS(o, "<AZFINSIM>\n  <trade fx1=\"");
    o = put(o, txt[G_FX1], (size_t)len[G_FX1]);
    o = FS_PUTS(o, "\" start_date=\"2017-12-29\" end_date=\"2018-08-28\" drift=\"");
    o = put(o, txt[G_DRIFT], (size_t)len[G_DRIFT]);
    o = FS_PUTS(o, "\" maturity=\"" GEN_MATURITY_TXT "\" t_steps=\"172\" trials=\"10000\" ro=\"" GEN_RO_TXT
                "\" v=\"" GEN_V_TXT "\" sigma1=\"");
    o = put(o, txt[G_SIGMA1], (size_t)len[G_SIGMA1]);
    o = FS_PUTS(o, "\" warrantsNo=\"");
    o = fs_put_int(o, t->warrants_no, 1);
    o = FS_PUTS(o, "\" notionalPerWarr=\"");
    o = put(o, txt[G_NOTIONAL], (size_t)len[G_NOTIONAL]);
    o = FS_PUTS(o, "\" strike=\"");
    o = put(o, txt[G_STRIKE], (size_t)len[G_STRIKE]);
    o = FS_PUTS(o, "\">");
    o = fs_put_int(o, id, 10); /* %010lld */
    o = FS_PUTS(o, "</trade>\n</AZFINSIM>");
    return fs_copy_out(buf, cap, doc, (int)(o - doc));
}
