/* test_util.c - base helpers (base/util.c): paths, strict number parsing, the id set. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "finsim/base/util.h"

static void t_dirname(void **state)
{
    (void)state;
    char d[64];
    fs_dirname("out.h5", d, sizeof(d));
    assert_string_equal(d, ".");
    fs_dirname("/out.h5", d, sizeof(d));
    assert_string_equal(d, "/");
    fs_dirname("/a/b/out.h5", d, sizeof(d));
    assert_string_equal(d, "/a/b");
    fs_dirname("rel/out.h5.partial", d, sizeof(d));
    assert_string_equal(d, "rel");
}

/* Strict numbers: the whole string, in range, finite; a refused value
 * leaves the output untouched. */
static void t_parse_numbers(void **state)
{
    (void)state;
    int64_t i = 77;
    assert_int_equal(fs_parse_i64("-42", &i), 0);
    assert_int_equal(i, -42);
    assert_int_equal(fs_parse_i64("9223372036854775807", &i), 0);
    assert_true(i == INT64_MAX);
    static const char *const bad_i[] = {"", "12x", "x12", "1.5", "9223372036854775808", " ", "1 2"};
    for (size_t k = 0; k < sizeof(bad_i) / sizeof(bad_i[0]); k++) {
        i = 77;
        if (fs_parse_i64(bad_i[k], &i) != -1 || i != 77)
            fail_msg("fs_parse_i64 took '%s'", bad_i[k]);
    }
    assert_int_equal(fs_parse_i64(NULL, &i), -1);
    double d = 7;
    assert_int_equal(fs_parse_double("2.5e-3", &d), 0);
    assert_true(d == 2.5e-3);
    assert_int_equal(fs_parse_double("1e-320", &d), 0); /* subnormal: usable */
    assert_true(d > 0);
    static const char *const bad_d[] = {"", "inf", "-inf", "nan", "1e999", "1.0x", "abc"};
    for (size_t k = 0; k < sizeof(bad_d) / sizeof(bad_d[0]); k++) {
        d = 7;
        if (fs_parse_double(bad_d[k], &d) != -1 || d != 7)
            fail_msg("fs_parse_double took '%s'", bad_d[k]);
    }
}

/* The reference readers: strtoll / strtod, whole string, finite. */
static int ref_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int ref_double(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || end == s || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Number text of every shape: signs, leading zeros, 0-24 digits around an
 * optional point, exponents near and far, and random stray characters. */
static void random_number(uint64_t *x, char *buf, size_t cap)
{
    static const char stray[] = " +-.eE0123456789xXpPin_";
    size_t n = 0;
#define NEXT() (*x = *x * 6364136223846793005ULL + 1442695040888963407ULL, (unsigned)(*x >> 33))
    unsigned r = NEXT();
    if (r % 4 == 0)
        buf[n++] = r % 8 == 0 ? '-' : '+';
    unsigned zeros = NEXT() % 4 == 0 ? NEXT() % 5 : 0, a = NEXT() % 21, b = NEXT() % 24;
    for (unsigned k = 0; k < zeros && n < cap - 64; k++)
        buf[n++] = '0';
    for (unsigned k = 0; k < a && n < cap - 64; k++)
        buf[n++] = (char)('0' + NEXT() % 10);
    if (NEXT() % 3 != 0) {
        buf[n++] = '.';
        for (unsigned k = 0; k < b && n < cap - 64; k++)
            buf[n++] = (char)('0' + NEXT() % 10);
    }
    if (NEXT() % 3 == 0) {
        char e = NEXT() % 2 ? 'e' : 'E';
        int p = (int)(NEXT() % 700) - 350;
        n += (size_t)snprintf(buf + n, cap - n, "%c%d", e, p);
    }
    buf[n] = '\0';
    if (NEXT() % 5 == 0 && n + 1 < cap) { /* one stray character somewhere */
        size_t at = NEXT() % (n + 1);
        memmove(buf + at + 1, buf + at, n - at + 1);
        buf[at] = stray[NEXT() % (sizeof(stray) - 1)];
    }
#undef NEXT
}

/* The fast readers of plain number text give strtoll's and strtod's
 * verdicts and values, bit for bit, on every input. */
static void t_parse_numbers_exact(void **state)
{
    (void)state;
    static const char *const fixed[] = {
        "0", "-0", "+0", "-0.0", "0e999", "-0e-999", "1.", ".5", "-.5", ".", "-", "+", "e5", "1e", "1e+", "1e-",
        "9007199254740992", "9007199254740993", "9007199254740993e-5", "1e22", "1e23", "1e-22", "1e-23",
        "0.8724659162279745", "991.8358606660451642", "3.8413221829e-05", "0.0015480737860400",
        "123456789012345678", "1234567890123456789", "12345678901234567890", "-999999999999999999",
        "0x10", "0x1p3", " 1", "1 ", "1e0000000000000000000001", "00000000000000000000000000001.5",
        "0.000000000000000000000000000001", "1e-400", "1e400", "9223372036854775807", "-9223372036854775808",
        "9223372036854775808", "1_0", "in", "inf", "nan", "1,5", "+-1", "-+1", "++1", "--1", "+inf", "-INF",
        "Infinity", "infin", "nan(12)", "NaN", "-nan", "1e+99999999999999999999", "1e-99999999999999999999",
        "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308", "4.9e-324",
        "2.4703282292062327e-324", "2.4703282292062328e-324", "0.1000000000000000055511151231257827021181583404541015625",
        "9007199254740993.0000000000000000000001", "1234567.1234567890123456", "+.5e1", "5.e-1", ".e1"};
    char buf[128];
    uint64_t x = 12345;
    for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]) + 300000; k++) {
        const char *s = k < sizeof(fixed) / sizeof(fixed[0]) ? fixed[k] : buf;
        if (s == buf)
            random_number(&x, buf, sizeof(buf));
        double d = 7, rd = 7;
        int rc = fs_parse_double(s, &d), rrc = ref_double(s, &rd);
        if (rc != rrc || memcmp(&d, &rd, sizeof(d)) != 0)
            fail_msg("fs_parse_double('%s') = %d, %.17g; strtod: %d, %.17g", s, rc, d, rrc, rd);
        int64_t i = 7, ri = 7;
        rc = fs_parse_i64(s, &i);
        rrc = ref_i64(s, &ri);
        if (rc != rrc || i != ri)
            fail_msg("fs_parse_i64('%s') = %d, %lld; strtoll: %d, %lld", s, rc, (long long)i, rrc, (long long)ri);
    }
}

/* Text on and beside the midpoint of two neighbouring doubles, the hard
 * case of correct rounding: the exact midpoint (ties to even), and the
 * midpoint cut to 17, 20 and 25 significant digits (just below it). The
 * reader gives strtod's double every time. */
static void t_parse_double_halfway(void **state)
{
    (void)state;
    uint64_t x = 99;
    char buf[256];
    for (int k = 0; k < 100000; k++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        /* magnitudes 1e-20 .. 1e20: the midpoints' decimal expansions fit the buffer */
        double lo = ldexp((double)(x >> 11) / 9007199254740992.0 + 0.5, (int)((x >> 3) % 133) - 66);
        long double mid = ((long double)lo + (long double)nextafter(lo, INFINITY)) / 2;
        static const int digits[] = {120, 16, 19, 24};
        for (size_t j = 0; j < sizeof(digits) / sizeof(digits[0]); j++) {
            snprintf(buf, sizeof(buf), "%.*Le", digits[j], mid);
            double d = 7, rd = 7;
            int rc = fs_parse_double(buf, &d), rrc = ref_double(buf, &rd);
            if (rc != rrc || memcmp(&d, &rd, sizeof(d)) != 0)
                fail_msg("fs_parse_double('%s') = %d, %.17g; strtod: %d, %.17g", buf, rc, d, rrc, rd);
        }
    }
}

/* The id set finds every repeat, across growth. */
static void t_idset(void **state)
{
    (void)state;
    fs_idset_t s = {0};
    for (int64_t id = 0; id < 100000; id += 3)
        assert_int_equal(fs_idset_insert(&s, id), 0);
    for (int64_t id = 0; id < 100000; id++)
        assert_int_equal(fs_idset_insert(&s, id), id % 3 == 0);
    assert_int_equal(s.n, 100000);
    fs_idset_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_dirname),
        cmocka_unit_test(t_parse_numbers),
        cmocka_unit_test(t_parse_numbers_exact),
        cmocka_unit_test(t_parse_double_halfway),
        cmocka_unit_test(t_idset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
