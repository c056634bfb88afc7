/* test_result.c - the result record (trade/result.c): its XML form read
 * back bit for bit, the fingerprint field, hash and checksum. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "finsim/trade/result.h"

static void t_result_roundtrip(void **state)
{
    result_t r, back;
    char buf[1024], msg[128];
    memset(&r, 0, sizeof(r));
    r.trade_id = 42;
    r.status = 0;
    r.rank = 3;
    r.pv = 123456.78901234567;
    r.pv_stderr = 0.1 / 3;
    r.delta = -1e-300;
    r.delta_stderr = 5e-324;
    r.vega = NAN;
    r.vega_stderr = NAN;
    r.paths = 10000;
    r.compute_s = 0.0123;
    r.inputs = 0xfedcba9876543210ULL;
    int n = result_format(&r, buf, sizeof(buf));
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    assert_int_equal(result_parse(buf, (size_t)n, &back, msg, sizeof(msg)), 0);
    assert_int_equal(back.trade_id, 42);
    assert_int_equal(back.rank, 3);
    assert_true(back.inputs == r.inputs);
    assert_memory_equal(&back.pv, &r.pv, sizeof(double) * 4);
    assert_true(isnan(back.vega) && isnan(back.vega_stderr));
    assert_int_equal(result_hash(&back), result_hash(&r));
    assert_int_equal(result_parse("<AZFINSIM><result trade=\"1\"/></AZFINSIM>", 40, &back, msg, sizeof(msg)), -1);
    assert_int_equal(result_parse("garbage", 7, &back, msg, sizeof(msg)), -1);
    /* inputs: optional (0 when absent), exactly 16 hex digits when present */
    char doc[1024];
    snprintf(doc, sizeof(doc), "%.*s", (int)(strstr(buf, " inputs=") - buf), buf);
    strcat(doc, "/></AZFINSIM>");
    assert_int_equal(result_parse(doc, strlen(doc), &back, msg, sizeof(msg)), 0);
    assert_true(back.inputs == 0);
    static const char *const bad_inputs[] = {"12345", "fedcba98765432100", "fedcba987654321g", "-edcba9876543210"};
    for (size_t i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]); i++) {
        snprintf(doc, sizeof(doc), "%.*s inputs=\"%s\"/></AZFINSIM>", (int)(strstr(buf, " inputs=") - buf), buf,
                 bad_inputs[i]);
        assert_int_equal(result_parse(doc, strlen(doc), &back, msg, sizeof(msg)), -1);
        assert_non_null(strstr(msg, "inputs"));
    }
    /* checksum: order-independent sum, sensitive to every figure */
    result_t two[2] = {r, r};
    two[1].trade_id = 43;
    uint64_t s = result_checksum(two, 2);
    result_t swapped[2] = {two[1], two[0]};
    assert_int_equal(result_checksum(swapped, 2), s);
    two[1].pv = nextafter(two[1].pv, 0);
    assert_int_not_equal(result_checksum(two, 2), s);
}

/* result_format writes the bytes the printf format it replaced wrote, on
 * random records with every kind of figure (NaN of either sign, infinities,
 * signed zeros, subnormals, any bit pattern), and truncates as snprintf. */
static uint64_t rs = 0x2545f4914f6cdd1dULL;
static uint64_t next64(void) { return fx_next64(&rs); }
static double any_figure(void)
{
    static const double special[] = {0.0, -0.0, INFINITY, -INFINITY, 5e-324, -2.5e-310, 1e-5, 123456.5};
    uint64_t k = next64(), b = next64();
    double d;
    switch (k % 4) {
    case 0:
        memcpy(&d, &b, sizeof(d)); /* any bits: NaNs with payloads, subnormals */
        return d;
    case 1:
        d = special[b % 8];
        return k & 64 ? -d : d;
    case 2:
        return k & 64 ? -NAN : NAN;
    default:
        return ldexp((double)(b >> 11) * 0x1p-53, (int)(k >> 8) % 80 - 30) * (k & 64 ? -1 : 1);
    }
}

static void t_result_format_bytes(void **state)
{
    char a[1024], b[1024];
    for (int i = 0; i < 300000; i++) {
        result_t r;
        memset(&r, 0, sizeof(r));
        r.trade_id = (int64_t)(next64() % 2000000000) - 1;
        r.status = (int32_t)(next64() % 14);
        r.rank = (int32_t)(next64() % 70) - 1;
        r.pv = any_figure();
        r.pv_stderr = any_figure();
        r.delta = any_figure();
        r.delta_stderr = any_figure();
        r.vega = any_figure();
        r.vega_stderr = any_figure();
        r.paths = (int64_t)(next64() >> (next64() % 64));
        r.compute_s = any_figure();
        r.inputs = next64();
        r.digest = next64() >> (next64() % 64);
        int n = result_format(&r, a, sizeof(a));
        int m = snprintf(b, sizeof(b),
                         "<AZFINSIM><result trade=\"%010lld\" status=\"%d\" pv=\"%.17g\" "
                         "pv_stderr=\"%.17g\" delta=\"%.17g\" delta_stderr=\"%.17g\" vega=\"%.17g\" "
                         "vega_stderr=\"%.17g\" paths=\"%lld\" compute_s=\"%.9g\" rank=\"%d\" "
                         "inputs=\"%016llx\" digest=\"%016llx\"/></AZFINSIM>",
                         (long long)r.trade_id, (int)r.status, r.pv, r.pv_stderr, r.delta, r.delta_stderr, r.vega,
                         r.vega_stderr, (long long)r.paths, r.compute_s, (int)r.rank,
                         (unsigned long long)r.inputs, (unsigned long long)r.digest);
        assert_int_equal(n, m);
        assert_string_equal(a, b);
        if (i % 1000 == 0) { /* a short buffer: cut and terminated, the full length returned */
            size_t cap = next64() % (size_t)n;
            memset(a, 'x', sizeof(a));
            assert_int_equal(result_format(&r, cap ? a : NULL, cap), n);
            if (cap) {
                assert_int_equal(strlen(a), cap - 1);
                assert_memory_equal(a, b, cap - 1);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_result_roundtrip),
        cmocka_unit_test(t_result_format_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
