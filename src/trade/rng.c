/* rng.c - per-trade GSL random streams.
 *
 * Generator: gsl_rng_taus2 (L'Ecuyer's maximally equidistributed combined
 * Tausworthe, period 2^88). bench/bench_rng.sh measures it against gfsr4,
 * mt19937 and ranlxs0 on this machine: taus2 is among the fastest, has a
 * 24-byte state (cheap to reset per trade) and passes the usual batteries.
 *
 * GSL's own seeding (gsl_rng_set) takes only 32 bits for taus2, so a million
 * trades would share ~116 pairs of identical streams. Instead the three
 * 32-bit state words are filled from a 64-bit hash of (seed, trade id,
 * sub-stream) through gsl_rng_state(), respecting taus2's minimum values,
 * then the generator is warmed up as gsl_rng_set does. */
#include "finsim/trade/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finsim/base/util.h"

const gsl_rng_type *rng_type(void)
{
    return gsl_rng_taus2;
}

gsl_rng *rng_alloc(void)
{
    gsl_rng *r = gsl_rng_alloc(rng_type());
    if (!r) {
        fprintf(stderr, "finsim: out of memory allocating a random generator\n");
        abort();
    }
    if (gsl_rng_size(r) != 3 * sizeof(unsigned long)) {
        fprintf(stderr, "finsim: unexpected GSL taus2 state size %zu\n", gsl_rng_size(r));
        abort();
    }
    return r;
}

void rng_seed_trade(gsl_rng *r, uint64_t seed, int64_t trade_id, uint32_t sub)
{
    uint64_t h1 = fs_mix64(seed ^ fs_mix64((uint64_t)trade_id ^ ((uint64_t)sub << 40)));
    uint64_t h2 = fs_mix64(h1 ^ 0x5851f42d4c957f2dULL);
    unsigned long s[3] = {
        (unsigned long)(h1 & 0xffffffffUL),
        (unsigned long)(h1 >> 32),
        (unsigned long)(h2 & 0xffffffffUL),
    };
    /* taus2 needs s1 >= 2, s2 >= 8, s3 >= 16 (same fix-up as gsl_rng_set) */
    if (s[0] < 2)
        s[0] += 2UL;
    if (s[1] < 8)
        s[1] += 8UL;
    if (s[2] < 16)
        s[2] += 16UL;
    memcpy(gsl_rng_state(r), s, sizeof(s));
    for (int i = 0; i < 6; i++) /* warm up, as gsl_rng_set does */
        (void)gsl_rng_get(r);
}

double rng_trade_uniform(uint64_t seed, int64_t trade_id, uint64_t salt)
{
    uint64_t h = fs_mix64(fs_mix64(seed ^ salt) ^ (uint64_t)trade_id);
    return (double)(h >> 11) * 0x1.0p-53;
}
