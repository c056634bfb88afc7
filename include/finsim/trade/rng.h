/* rng.h - per-trade GSL random streams.
 *
 * Every trade's stream depends only on (run seed, trade id): never on rank,
 * thread, batch or order, so results are bitwise identical for any rank
 * count, batch size and after a resume. */
#ifndef FINSIM_RNG_H
#define FINSIM_RNG_H

#include <stdint.h>
#include <gsl/gsl_rng.h>

/* The generator type finsim uses (gsl_rng_taus2; see rng.c for why). */
const gsl_rng_type *rng_type(void);

/* Allocate a generator of rng_type(). Aborts on out-of-memory. Free with
 * gsl_rng_free. */
gsl_rng *rng_alloc(void);

/* Reset r to the stream of (seed, trade_id), stream number `sub` (0 for the
 * pricing stream; other values give independent streams, e.g. for tests).
 * The full generator state is derived from a 64-bit hash, not from GSL's
 * 32-bit seeding, so distinct trades do not share streams by accident. */
void rng_seed_trade(gsl_rng *r, uint64_t seed, int64_t trade_id, uint32_t sub);

/* A uniform double in [0,1) that depends only on (seed, trade_id, salt):
 * used for decisions such as failure injection that tests must predict. */
double rng_trade_uniform(uint64_t seed, int64_t trade_id, uint64_t salt);

#endif
