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

/* The documents of seed 1, ids 0..99999, are byte for byte the ones the
 * generator has always written: their FNV-1a digest (lengths included) is
 * the one the printf-based generator gave, and each document equals the one
 * laid out from snprintf's text of every field (the slow path, computed
 * here independently of gen.c's formatter). */
#define GEN_DIGEST_SEED1_100K 0x3cf52624eda5b989ULL
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 0x100000001b3ULL;
    return h;
}

static void t_documents_unchanged(void **state)
{
    char doc[GEN_DOC_MAX], ref[1024];
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int64_t id = 0; id < 100000; id++) {
        trade_t t;
        int n = gen_trade_doc(1, id, &t, doc, sizeof(doc));
        uint32_t len = (uint32_t)n;
        h = fnv1a(h, &len, sizeof(len));
        h = fnv1a(h, doc, (size_t)n);
        /* slow path: every field printed by snprintf as AzFinSim does */
        int m = snprintf(ref, sizeof(ref),
                         "<AZFINSIM>\n  <trade fx1=\"%.16f\" start_date=\"2017-12-29\" end_date=\"2018-08-28\" "
                         "drift=\"%2.17f\" maturity=\"%.2f\" t_steps=\"172\" trials=\"10000\" ro=\"%2.10e\" "
                         "v=\"%2.16f\" sigma1=\"%2.17f\" warrantsNo=\"%lld\" notionalPerWarr=\"%2.16f\" "
                         "strike=\"%2.16f\">%010lld</trade>\n</AZFINSIM>",
                         t.fx1, t.drift, t.maturity, 0.000038413221829, 0.00154807378604, t.sigma1,
                         (long long)t.warrants_no, t.notional_per_warr, t.strike, (long long)id);
        assert_int_equal(n, m);
        assert_memory_equal(doc, ref, (size_t)n);
        /* and each field is the double its text reads back as */
        assert_true(t.fx1 == strtod(strstr(doc, "fx1=\"") + 5, NULL));
        assert_true(t.drift == strtod(strstr(doc, "drift=\"") + 7, NULL));
        assert_true(t.sigma1 == strtod(strstr(doc, "sigma1=\"") + 8, NULL));
        assert_true(t.notional_per_warr == strtod(strstr(doc, "notionalPerWarr=\"") + 17, NULL));
        assert_true(t.strike == strtod(strstr(doc, "strike=\"") + 8, NULL));
    }
    if (GEN_DIGEST_SEED1_100K != h)
        fprintf(stderr, "documents digest %016llx\n", (unsigned long long)h);
    assert_true(h == GEN_DIGEST_SEED1_100K);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_generated_doc_equals_format),
        cmocka_unit_test(t_generator_deterministic_and_in_range),
        cmocka_unit_test(t_documents_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
