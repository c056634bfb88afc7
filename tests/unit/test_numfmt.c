/* test_numfmt.c - base/numfmt.c writes exactly the bytes glibc's printf
 * writes ("%.*f", "%.*g") and reads them back as strtod does, on random
 * values in the generator's ranges, random bit patterns and edge cases. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "finsim/base/numfmt.h"

static uint64_t rs = 0x9e3779b97f4a7c15ULL;
static uint64_t next64(void) { return fx_next64(&rs); }
static double unit(void) { return (double)(next64() >> 11) * 0x1p-53; }
static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

static void check_fixed(double x, int prec)
{
    char a[FS_NUMFMT_CAP + 400], b[400];
    double back;
    int n = fs_fmt_fixed(a, sizeof(a), x, prec, &back);
    int m = snprintf(b, sizeof(b), "%.*f", prec, x);
    if (n != m || strcmp(a, b) != 0)
        fail_msg("%%.%df of %a: got \"%s\", printf \"%s\"", prec, x, a, b);
    double want = strtod(b, NULL);
    if (memcmp(&back, &want, sizeof(back)) != 0)
        fail_msg("read back of \"%s\": got %a, strtod %a", b, back, want);
}

static void check_g(double x, int prec)
{
    char a[FS_NUMFMT_CAP + 400], b[400];
    int n = fs_fmt_g(a, sizeof(a), x, prec);
    int m = snprintf(b, sizeof(b), "%.*g", prec, x);
    if (n != m || strcmp(a, b) != 0)
        fail_msg("%%.%dg of %a: got \"%s\", printf \"%s\"", prec, x, a, b);
}

/* The generator's fields and formats (src/trade/gen.c), a million each. */
static void t_fixed_generator_ranges(void **state)
{
    for (int i = 0; i < 1000000; i++) {
        check_fixed(unit() * 0.12 + 0.8285, 16);
        check_fixed(unit() * 0.2 - 0.1, 17);
        check_fixed(unit() * 0.03 - 0.015 + 0.0808844481978, 17);
        check_fixed(unit() * 100.0 + 950.0, 16);
        check_fixed(unit() * 0.12 + 0.7, 16);
    }
}

static void t_fixed_any_value(void **state)
{
    for (int i = 0; i < 300000; i++) {
        int prec = (int)(next64() % 21);
        double x = from_bits(next64()); /* any exponent: most take the slow path */
        check_fixed(x, prec);
        /* magnitudes the fast path takes: 2^-70 .. 2^53 */
        x = ldexp(unit() + 0.5, (int)(next64() % 124) - 70) * (next64() & 1 ? -1 : 1);
        check_fixed(x, prec);
        /* short decimals: ties and carries are common among them */
        x = (double)(int64_t)(next64() % 2000001 - 1000000) / (double)(1u << (next64() % 24));
        check_fixed(x, prec);
    }
    const double edge[] = {0.0, -0.0, 0.5, 1.5, 2.5, -0.5, 0.99999999999999999, 0.9999999999999999,
                           0.99999999999999994, 9.9999999999999999, 999.99999999999995, 0x1p-17, 0x1p-18,
                           3 * 0x1p-18, 0.125, 0.0625, 0x1p-60, -0x1p-60, 0x1p-1074, -0x1p-1074, 0x1p-1022,
                           DBL_MAX, -DBL_MAX, 0x1p52, 0x1p53, 0x1p53 - 1, 0x1p63, 1e19, 1e-19, 5e-18,
                           0.0625 - 0x1p-57, 0.1, 0.2, 0.3, 1.0 / 3, INFINITY, -INFINITY, NAN, -NAN};
    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
        for (int prec = 0; prec <= 22; prec++) {
            check_fixed(edge[i], prec);
            check_fixed(nextafter(edge[i], 0), prec);
            check_fixed(nextafter(edge[i], INFINITY), prec);
        }
    /* values a hair from a binade edge read back across it */
    for (int e = -70; e < 53; e++)
        for (int prec = 0; prec <= 19; prec++) {
            check_fixed(ldexp(1, e), prec);
            check_fixed(nextafter(ldexp(1, e), 0), prec);
        }
}

/* %.17g and %.9g as the result mirror writes them (src/trade/result.c). */
static void t_g_any_value(void **state)
{
    for (int i = 0; i < 400000; i++) {
        double x = from_bits(next64());
        check_g(x, 17);
        check_g(x, 9);
        x = ldexp(unit() + 0.5, (int)(next64() % 140) - 80) * (next64() & 1 ? -1 : 1);
        check_g(x, 17);
        check_g(x, 9);
        check_g(x, (int)(next64() % 17) + 1);
        x = (double)(int64_t)(next64() % 2000001 - 1000000) / (double)(1u << (next64() % 24));
        check_g(x, 17);
        check_g(x, 9);
        check_g(x * 1e-5, (int)(next64() % 17) + 1);
    }
    const double edge[] = {0.0, -0.0, 1e-5, 1e-4, 9.9999999999999999e-5, 0.0001, 1e16, 1e17, 99999999999999999.0,
                           123456789.0, 999999999.5, 9999999995.0, 0.5, 1.5, 2.5, 1.0, 10.0, 100.0,
                           0x1p-1074, 0x1p-1022, DBL_MAX, 0x1p52, 0x1p53, 1.0 / 3, 2.0 / 3, INFINITY,
                           -INFINITY, NAN, -NAN, 0.1, 1e300, 1e-300};
    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
        for (int prec = 0; prec <= 20; prec++) {
            check_g(edge[i], prec);
            check_g(-edge[i], prec);
            check_g(nextafter(edge[i], 0), prec);
            check_g(nextafter(edge[i], INFINITY), prec);
        }
}

/* the integer append helpers against "%0*lld" and "%016llx" */
static void t_integers(void **state)
{
    const int64_t v[] = {0, 1, -1, 9, 10, -10, 999999999, -999999999, 1000000000, 4294967296LL, INT64_MAX, INT64_MIN,
                         INT64_MIN + 1};
    char a[64], b[64];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        for (int w = 1; w <= 22; w++) {
            *fs_put_int(a, v[i], w) = '\0';
            snprintf(b, sizeof(b), "%0*lld", w, (long long)v[i]);
            assert_string_equal(a, b);
            *fs_put_hex16(a, (uint64_t)v[i] >> w) = '\0';
            snprintf(b, sizeof(b), "%016llx", (unsigned long long)((uint64_t)v[i] >> w));
            assert_string_equal(a, b);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_fixed_generator_ranges),
        cmocka_unit_test(t_fixed_any_value),
        cmocka_unit_test(t_g_any_value),
        cmocka_unit_test(t_integers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
