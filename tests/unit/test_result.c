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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_result_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
