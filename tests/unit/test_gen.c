/* test_gen.c - the synthetic trade generator (trade/gen.c): deterministic
 * per (seed, id), AzFinSim's ranges, documents equal to the codec's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "finsim/trade/gen.h"
#include "finsim/trade/trade.h"

/* gen_trade_doc lays out the text it printed while rounding: the same trade
 * and the same bytes as gen_trade + trade_format, over many seeds and ids. */
static void t_generated_doc_equals_format(void **state)
{
    char buf[1024], doc[GEN_DOC_MAX];
    for (int64_t k = 0; k < 200000; k++) {
        trade_t a, b;
        const uint64_t seed = (uint64_t)(k % 7) * 1000003u;
        const int64_t id = k * 48271 % TRADE_MAX_ID;
        gen_trade(seed, id, &a);
        int n = gen_trade_doc(seed, id, &b, doc, sizeof(doc));
        assert_memory_equal(&a, &b, sizeof(a));
        int m = trade_format(&a, buf, sizeof(buf));
        assert_int_equal(n, m);
        assert_memory_equal(doc, buf, (size_t)n);
    }
    /* the shared fields are the doubles their AzFinSim texts read back as */
    trade_t t;
    gen_trade(1, 1, &t);
    snprintf(buf, sizeof(buf), "%.2f|%2.10e|%2.16f", 0.20, 0.000038413221829, 0.00154807378604);
    assert_string_equal(buf, "0.20|3.8413221829e-05|0.0015480737860400");
    assert_true(t.maturity == strtod("0.20", NULL));
    assert_true(t.ro == strtod("3.8413221829e-05", NULL));
    assert_true(t.v == strtod("0.0015480737860400", NULL));
    /* a short buffer is truncated and terminated, snprintf style */
    int n = gen_trade_doc(1, 1, &t, doc, 10);
    assert_true(n > 300);
    assert_int_equal(strlen(doc), 9);
}

static void t_generator_deterministic_and_in_range(void **state)
{
    trade_t a, b, c;
    double sum_fx = 0;
    for (int64_t id = 0; id < 5000; id++) {
        gen_trade(42, id, &a);
        gen_trade(42, id, &b);
        gen_trade(43, id, &c);
        assert_memory_equal(&a, &b, sizeof(a));
        assert_true(a.fx1 != c.fx1);
        assert_true(a.fx1 >= 0.8285 && a.fx1 < 0.9485);
        assert_true(a.drift >= -0.1 && a.drift < 0.1);
        assert_true(a.sigma1 >= 0.0808844481978 - 0.015 && a.sigma1 < 0.0808844481978 + 0.015);
        assert_true(a.warrants_no >= 30000 && a.warrants_no < 60000);
        assert_true(a.notional_per_warr >= 950 && a.notional_per_warr < 1050);
        assert_true(a.strike >= 0.7 && a.strike < 0.82);
        assert_true(a.maturity == 0.2 && a.t_steps == 172 && a.trials == 10000);
        sum_fx += a.fx1;
    }
    /* mean of U[0.8285, 0.9485) is 0.8885; sd of the mean ~ 0.0005 */
    assert_true(fabs(sum_fx / 5000 - 0.8885) < 0.003);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_generated_doc_equals_format),
        cmocka_unit_test(t_generator_deterministic_and_in_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
