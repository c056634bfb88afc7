/* bench_synthetic.c - costs of the synthetic algorithm that are timings, not
 * behaviour (so they live here, not in tests/unit/test_mc.c):
 *   - the second trade of a work space after a --delay-start of 150 ms (the
 *     delay is paid once per work space: expected well under 75 ms);
 *   - the per-trade overhead when nothing is asked (no duration, no memory;
 *     expected well under 20 us per trade).
 *   bench_synthetic [TRADES]     (default 20000)
 * Figures only: it checks nothing and always exits 0 unless misused. */
#include <stdio.h>
#include <stdlib.h>

#include "finsim/trade/gen.h"
#include "finsim/pricing/mc.h"
#include "finsim/base/util.h"

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    if (n <= 0) {
        fprintf(stderr, "usage: bench_synthetic [TRADES]\n");
        return 2;
    }
    trade_t t;
    gen_trade(1, 50, &t);
    mc_opts_t o;
    mc_opts_default(&o);
    o.algo = MC_SYNTHETIC;
    result_t r;
    r.rank = 0;

    o.delay_start_ms = 150.0;
    mc_work_t *w = mc_work_new();
    double t0 = fs_now();
    mc_price(&t, &o, w, &r);
    double first = fs_now() - t0;
    t0 = fs_now();
    mc_price(&t, &o, w, &r);
    double second = fs_now() - t0;
    mc_work_free(w);
    printf("synthetic start delay 150 ms: first trade %.1f ms, second trade %.3f ms\n",
           first * 1e3, second * 1e3);

    o.delay_start_ms = 0.0;
    w = mc_work_new();
    t0 = fs_now();
    for (int i = 0; i < n; i++)
        mc_price(&t, &o, w, &r);
    double per = (fs_now() - t0) / n;
    mc_work_free(w);
    printf("synthetic, nothing asked: %.3f us per trade over %d trades\n", per * 1e6, n);
    return 0;
}
