/* gen.c - synthetic trades with AzFinSim's distributions (DESIGN.md). */
#include "finsim/gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finsim/rng.h"

/* Round x through printf format fmt and back, so the field holds exactly the
 * value its eyxml text represents. */
static double through(const char *fmt, double x)
{
    char buf[64];
    snprintf(buf, sizeof(buf), fmt, x);
    return strtod(buf, NULL);
}

/* Counter-based uniforms: draw k of trade id depends only on (seed, id, k). */
static double u(uint64_t seed, int64_t id, unsigned k)
{
    return rng_trade_uniform(seed, id, 0x67656e0000000000ULL + k); /* "gen" */
}

void gen_trade(uint64_t seed, int64_t id, trade_t *t)
{
    memset(t, 0, sizeof(*t));
    t->id = id;
    t->fx1 = through("%.16f", u(seed, id, 0) * 0.12 + 0.8285);
    memcpy(t->start_date, "2017-12-29", 11);
    memcpy(t->end_date, "2018-08-28", 11);
    t->drift = through("%2.17f", u(seed, id, 1) * 0.2 - 0.1);
    t->maturity = through("%.2f", 0.20);
    t->t_steps = 172; /* business days 2017-12-29 .. 2018-08-28 */
    t->trials = 10000;
    t->ro = through("%2.10e", 0.000038413221829);
    t->v = through("%2.16f", 0.00154807378604);
    t->sigma1 = through("%2.17f", u(seed, id, 2) * 0.03 - 0.015 + 0.0808844481978);
    t->warrants_no = 30000 + (int64_t)(u(seed, id, 3) * 30000.0);
    t->notional_per_warr = through("%2.16f", u(seed, id, 4) * 100.0 + 950.0);
    t->strike = through("%2.16f", u(seed, id, 5) * 0.12 + 0.7);
}
