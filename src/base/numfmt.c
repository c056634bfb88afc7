/* numfmt.c - exact decimal text of doubles by integer arithmetic.
 *
 * A finite double is m * 2^-s with an integer m < 2^53. Its value times
 * 10^k is then m * 10^k / 2^s: for 10^k below 2^74 the product fits in 128
 * bits, so the decimal digits, rounded half to even on the exact value as
 * glibc's printf rounds them, come from one multiplication and one shift.
 * Whatever falls outside that (NaN with a payload aside, infinities, huge or
 * tiny magnitudes, precisions over 19 or 22) is handed to snprintf, so the
 * text is always the one printf writes; tests/unit/test_numfmt.c compares
 * the two on millions of values. */
#include "finsim/base/numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;
typedef __int128 i128;

static u128 pow10_u128(int k)
{
    u128 p = 1;
    while (k-- > 0)
        p *= 10;
    return p;
}

/* 10^0 .. 10^22 */
static const uint64_t P10[20] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
                                 100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL,
                                 1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
                                 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
                                 1000000000000000000ULL, 10000000000000000000ULL};

/* Split a finite x into sign, m and s with |x| = m * 2^-s (s may be
 * negative); returns 0 for zero. */
static int decompose(double x, int *neg, uint64_t *m, int *s, int *bexp)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof(bits));
    *neg = (int)(bits >> 63);
    *bexp = (int)(bits >> 52 & 0x7ff);
    uint64_t frac = bits & ((1ULL << 52) - 1);
    if (*bexp == 0) {
        *m = frac;
        *s = 1074;
    } else {
        *m = frac | 1ULL << 52;
        *s = 1075 - *bexp;
    }
    return *m != 0;
}

/* prod / 2^s rounded half to even (s >= 0); *rem gets prod - q * 2^s as a
 * signed value (the rounding error in units of 2^-s, negated). */
static u128 shift_round(u128 prod, int s, i128 *rem)
{
    if (s == 0) {
        *rem = 0;
        return prod;
    }
    if (s >= 120) { /* prod < 2^127 < 2^(s-1): rounds to zero unless ... */
        if (s > 127 || prod < ((u128)1 << (s - 1))) {
            *rem = (i128)prod;
            return 0;
        }
    }
    u128 q = prod >> s;
    u128 r = prod & (((u128)1 << s) - 1);
    u128 half = (u128)1 << (s - 1);
    if (r > half || (r == half && (q & 1))) {
        q++;
        *rem = (i128)r - (i128)((u128)1 << s);
    } else {
        *rem = (i128)r;
    }
    return q;
}

/* Decimal digits of v, exactly n of them (zero padded on the left). */
static char *put_digits(char *o, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        o[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return o + n;
}

static int ndigits(uint64_t v)
{
    int n = 1;
    while (n < 20 && v >= P10[n])
        n++;
    return n;
}

static int slow_fixed(char *out, size_t cap, double x, int prec, double *back)
{
    int n = snprintf(out, cap, "%.*f", prec, x);
    if (back)
        *back = strtod(out, NULL);
    return n;
}

int fs_fmt_fixed(char *out, size_t cap, double x, int prec, double *back)
{
    int neg, s, bexp;
    uint64_t m;
    if (prec < 0 || prec > 19 || cap < FS_NUMFMT_CAP || !isfinite(x))
        return slow_fixed(out, cap, x, prec, back);
    int nz = decompose(x, &neg, &m, &s, &bexp);
    if (s < 0)
        return slow_fixed(out, cap, x, prec, back);
    const uint64_t p10 = P10[prec];
    i128 rem = 0;
    u128 n = nz ? shift_round((u128)m * p10, s, &rem) : 0; /* |x| * 10^prec, rounded */
    uint64_t ip, fp;
    if (n >> 64) {
        ip = (uint64_t)(n / p10);
        fp = (uint64_t)(n % p10);
    } else {
        ip = (uint64_t)n / p10;
        fp = (uint64_t)n % p10;
    }
    char *o = out;
    if (neg)
        *o++ = '-';
    o = put_digits(o, ip, ndigits(ip));
    if (prec) {
        *o++ = '.';
        o = put_digits(o, fp, prec);
    }
    *o = '\0';
    int len = (int)(o - out);
    if (!back)
        return len;
    if (n == 0) {
        *back = neg ? -0.0 : 0.0;
        return len;
    }
    /* The text is n / 10^prec; in units of 2^-s that is m - rem / 10^prec.
     * The nearest multiple k of 2^-s (half to even) is the double strtod
     * gives while k stays inside x's binade [2^52, 2^53); at its edges or
     * for subnormals strtod decides. */
    i128 t = -rem;
    i128 q = t / (i128)p10, r = t % (i128)p10;
    i128 twice = r < 0 ? -2 * r : 2 * r;
    if (twice > (i128)p10 || (twice == (i128)p10 && ((m + (uint64_t)q) & 1)))
        q += r < 0 ? -1 : 1;
    i128 k = (i128)m + q;
    if (bexp == 0 || k <= ((i128)1 << 52) || k >= ((i128)1 << 53)) {
        *back = strtod(out, NULL);
        return len;
    }
    uint64_t bits = (uint64_t)neg << 63 | (uint64_t)bexp << 52 | ((uint64_t)k - (1ULL << 52));
    memcpy(back, &bits, sizeof(bits));
    return len;
}

int fs_fmt_g(char *out, size_t cap, double x, int prec)
{
    int neg, s, bexp;
    uint64_t m;
    if (prec < 1 || prec > 17 || cap < FS_NUMFMT_CAP)
        return snprintf(out, cap, "%.*g", prec, x);
    if (isnan(x) || isinf(x)) {
        const char *w = isnan(x) ? "nan" : "inf";
        char *o = out;
        if (signbit(x))
            *o++ = '-';
        memcpy(o, w, 4);
        return (int)(o - out) + 3;
    }
    if (!decompose(x, &neg, &m, &s, &bexp)) {
        char *o = out;
        if (neg)
            *o++ = '-';
        memcpy(o, "0", 2);
        return (int)(o - out) + 1;
    }
    if (s < 0 || bexp == 0)
        return snprintf(out, cap, "%.*g", prec, x);
    /* X = floor(log10 |x|): start from the binary exponent, then correct it
     * until 10^(prec-1) <= |x| * 10^(prec-1-X) < 10^prec. */
    int X = (int)floor((52 - s) * 0.30102999566398120);
    const uint64_t lo = P10[prec - 1], hi = P10[prec];
    uint64_t n = 0;
    for (int tries = 0;; tries++) {
        int k = prec - 1 - X;
        if (k < 0 || k > 22 || tries > 3)
            return snprintf(out, cap, "%.*g", prec, x);
        u128 prod = (u128)m * pow10_u128(k);
        u128 fl = s >= 128 ? 0 : prod >> s;
        if (fl >= hi) {
            X++;
            continue;
        }
        if (fl < lo) {
            X--;
            continue;
        }
        i128 rem;
        n = (uint64_t)shift_round(prod, s, &rem);
        if (n == hi) { /* rounding carried into a new digit */
            n = lo;
            X++;
        }
        break;
    }
    /* n holds prec significant digits; strip the trailing zeros %g drops */
    int nd = prec;
    while (nd > 1 && n % 10 == 0) {
        n /= 10;
        nd--;
    }
    char dg[24];
    put_digits(dg, n, nd);
    char *o = out;
    if (neg)
        *o++ = '-';
    if (X < -4 || X >= prec) {
        *o++ = dg[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, dg + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        *o++ = 'e';
        *o++ = X < 0 ? '-' : '+';
        int e = X < 0 ? -X : X;
        o = put_digits(o, (uint64_t)e, e >= 100 ? 3 : 2);
    } else if (X >= 0) {
        int ni = X + 1; /* digits before the point */
        if (nd <= ni) {
            memcpy(o, dg, (size_t)nd);
            o += nd;
            memset(o, '0', (size_t)(ni - nd));
            o += ni - nd;
        } else {
            memcpy(o, dg, (size_t)ni);
            o += ni;
            *o++ = '.';
            memcpy(o, dg + ni, (size_t)(nd - ni));
            o += nd - ni;
        }
    } else {
        *o++ = '0';
        *o++ = '.';
        memset(o, '0', (size_t)(-X - 1));
        o += -X - 1;
        memcpy(o, dg, (size_t)nd);
        o += nd;
    }
    *o = '\0';
    return (int)(o - out);
}

char *fs_put_int(char *o, int64_t v, int width)
{
    uint64_t u = (uint64_t)v;
    if (v < 0) {
        *o++ = '-';
        u = 0 - u;
        width--;
    }
    int n = ndigits(u);
    return put_digits(o, u, n > width ? n : width);
}

char *fs_put_hex16(char *o, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        o[i] = hex[v & 15];
        v >>= 4;
    }
    return o + 16;
}

char *fs_put_g(char *o, double x, int prec)
{
    return o + fs_fmt_g(o, FS_NUMFMT_CAP, x, prec);
}

int fs_copy_out(char *buf, size_t cap, const char *text, int n)
{
    if (cap) {
        size_t k = (size_t)n < cap ? (size_t)n : cap - 1;
        memcpy(buf, text, k);
        buf[k] = '\0';
    }
    return n;
}
