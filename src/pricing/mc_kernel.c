/* mc_kernel.c - Monte Carlo kernels of the pricer: reference and fast.
 *
 * Figures: bench/bench_kernel.sh on the 2-core AMD EPYC (Zen 5, AVX-512) dev
 * machine, GCC 12.2, Release, one core, gen_trade trades (10,000 paths x 172
 * steps), median over trades of the best of 3 runs. The machine is shared, so
 * single runs vary by 20-50 %.
 *
 * REFERENCE KERNEL (MC_KERNEL_REFERENCE): the model of docs/DESIGN.md as written.
 * One path after the other; per step two gsl_ran_gaussian_ziggurat normals
 * from the trade's taus2 stream (rng_seed_trade(seed, id, 0)), vol and S in
 * linear space, one exp for the vol factor and one per scenario for S. The
 * Greeks' five scenarios (base, fx1 +-1 %, sigma1 +-1 %) share each path's
 * normals. ~46 ms per trade pvonly, ~82 ms deltavega. Kept as the baseline.
 *
 * FAST KERNEL (MC_KERNEL_FAST, default): ~3.9-4.1 ms pvonly, ~4.6 ms
 * deltavega (10-18x the reference). Its PV standard error at the same path
 * count is 0.03-0.04 of the reference's on typical trades (antithetics),
 * 0.1-0.6 near the barrier and 0.95 when nearly every path knocks out: never
 * worse than plain Monte Carlo.
 *
 * Generator. The same GSL taus2 stream per trade, bit for bit (tests check it
 * against gsl_rng_get), but generated inline instead of through gsl_rng_get:
 * 1.4 ns per draw instead of 2.0-2.6 ns (gfsr4 2.3-4, mt19937 7.5-11 ns, so
 * taus2 stays). Pair p of a trade consumes draws [2Tp, 2T(p+1)) of the
 * stream: draw 2t and 2t+1 give the uniforms of step t. The SIMD lanes are
 * pairs, so a lane needs the stream state 2T draws on from its neighbour's:
 * taus2 is linear over GF(2), so "2T steps" is one 32x32 bit matrix per
 * component (square-and-multiply, cached per T in the work space) applied
 * through byte tables (12 lookups per lane). Every lane then runs its own
 * piece of the one stream in parallel. The mapping from stream to paths is
 * fixed by the path index alone: block size, lane count and the order of
 * evaluation cannot change it.
 *
 * Sampler. Box-Muller on uniforms (x + 1/2) / 2^32 (never 0 or 1):
 * r = sqrt(-2 log u1), (z1, z2) = r (cos, sin)(2 pi u2). The angle is reduced
 * exactly from the 32-bit draw (quadrant = round(4 u2)), then Taylor
 * polynomials; log is inline too (atanh series, <= 1 ulp). 1.2 ns per normal
 * including the generator, against 4.9-5.2 ns for GSL's ziggurat and 19-21 ns
 * for gsl_ran_gaussian. Why Box-Muller and not an inverse normal CDF: as
 * scalar code the two transforms cost the same (libm Box-Muller 22-23 ns,
 * GSL's AS241 gsl_cdf_ugaussian_Pinv 20-21 ns per normal; bench). In a
 * branch-free vector loop the cost is set by divide/sqrt work (vsqrtpd 0.26,
 * vdivpd 0.15 ns per element with zmm, an FMA 0.03-0.06 ns). Box-Muller needs
 * one log (one divide) and one sqrt per two normals; an AS241-style inverse
 * CDF needs, per normal and for every lane, the tail's log and sqrt plus a
 * divide per rational (central and tail), 4-5x the divider work and 3x
 * the FMAs. That vector inverse CDF was estimated from these counts, not
 * built. Both use the same 32-bit uniforms.
 *
 * Antithetics. A pair uses (z1, z2) and (-z1, -z2): half the draws, and the
 * linear part of the payoff's dependence on the Brownian path cancels. The
 * standard error comes from the n/2 pair averages, which are i.i.d. With n
 * odd the last pair stands in for one path (weight 1/n, the others 2/n):
 * unbiased, and Var = var(pair) * sum of squared weights. Fewer than two
 * pairs give a NaN standard error rather than a made-up one.
 *
 * Evolution, in log space: log vol += -v^2 dt/2 + v (ro z1 + sqrt(1-ro^2) z2)
 * sqrt(dt), vol = exp(log vol), log S += (drift - vol^2/2) dt + vol z1
 * sqrt(dt), a running min of log S for the daily knock-out (S_0 < strike is
 * decided exactly, in linear space), one exp per path at the end for the
 * payoff W N 1.000799081 max(0, 1/K - 1/S_T). deltavega: an fx1 bump only
 * shifts log S, so the base path's min and terminal value price both fx
 * scenarios; a sigma1 bump scales the vol path by 1 +- 1 %, so two more log S
 * chains share the vol path and the normals. deltavega / pvonly = 1.15-1.2.
 * Common random numbers cut the Greeks' SEs 35-70x against independent
 * streams on typical trades; near the barrier a 1 % fx1 bump flips knock-outs,
 * which no common numbers cancel, and the gain for delta falls to 1.1-2x
 * (the reference kernel's too). Those flips are rare events that made the
 * Greeks' SEs dishonest run by run, so the bumped scenarios (never the
 * base) use a smoothed knock-out (mc_smooth_weight, DESIGN.md "Greeks near
 * the barrier"): both kernels, same weights.
 *
 * Vector math. The hot loops are fixed-width (MC_LANES = 8) `omp simd` loops
 * with no calls: exp and log are inline (<= 1 ulp, tested against libm).
 * glibc's libmvec was the first version: _ZGVeN8v_exp / _log cost 0.55 /
 * 0.64 ns per element plus register spills around every call (whole trade
 * 6.2 ms); GCC also fuses a sin/cos pair into a scalar sincos call that
 * blocks vectorisation. Normals are drawn 16 steps at a time so that the
 * out-of-order core overlaps independent transforms (the generator's
 * dependency chain is a few integer operations). GCC 12 tunes this Zen 5 as
 * Zen 3 and would use 256-bit vectors; 512-bit ones double the sqrt/divide
 * throughput (pragma below). Split in stages, a trade costs 2.1 ms of
 * normals and 1.9 ms (pvonly) / 2.6 ms (deltavega) of paths fed precomputed
 * normals.
 *
 * Reproducibility. Only IEEE operations: no -ffast-math; -std=c11 turns
 * implicit FMA contraction off and MC_FMA decides explicit ones at compile
 * time. Every lane runs the same instructions (fixed-width loops, no scalar
 * epilogues), so a pair's bits depend on nothing but its index; the sums
 * run in pair order (Welford). Results are bitwise identical for any block
 * size, trade order or work-space history (tests prove it) and, as the math
 * is our own, for any glibc on the same instruction set.
 *
 * Memory: O(block) lanes of state plus 12 KiB of jump tables; nothing scales
 * with paths x steps.
 */

/* GCC 12 tunes unknown AMD cores (-march=native on Zen 5) like Zen 3 and
 * then prefers 256-bit vectors; the kernel gains ~2x from full AVX-512
 * (sqrt and divide throughput double). No effect on targets without it. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__AVX512F__)
#pragma GCC target("prefer-vector-width=512")
#endif

#include "mc_kernel.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "finsim/base/config_build.h"
#include "finsim/base/util.h"

#define L MC_LANES
#define MC_TWO_PI 6.283185307179586476925286766559
#define MC_PAYOFF_FACTOR 1.000799081

/* Fused multiply-add where the target has it (one rounding, one
 * instruction), else multiply then add. Either way the choice is made at
 * compile time, so a build always computes the same bits. */
#ifdef FP_FAST_FMA
#define MC_FMA(x, y, z) fma((x), (y), (z))
#else
#define MC_FMA(x, y, z) ((x) * (y) + (z))
#endif

/* See mc.h. Decided by the same macros as MC_FMA, in this file, so that it
 * names the arithmetic the kernels were really compiled with. */
const char *mc_fp_flavour(void)
{
#if defined(FP_FAST_FMA) && FINSIM_NATIVE
    return "fma-native";
#elif defined(FP_FAST_FMA)
    return "fma-portable";
#elif FINSIM_NATIVE
    return "nofma-native";
#else
    return "nofma-portable";
#endif
}

/* ==== inline vector math ================================================== */

/* Bits of a double and back (compile to register moves). */
static inline __attribute__((always_inline)) uint64_t mc_bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof(u));
    return u;
}

static inline __attribute__((always_inline)) double mc_double(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof(x));
    return x;
}

/* e^x, within 1 ulp, for every x: overflow gives inf, underflow 0 or a
 * subnormal, NaN stays NaN. Branch- and call-free so loops vectorise:
 * x = k ln2 + r (Cody-Waite, |r| <= ln2/2), Taylor to r^13 (truncation
 * < 5e-18), times 2^k applied in two halves so that subnormal and
 * overflowing results round once. */
static inline __attribute__((always_inline)) double mc_exp(double x)
{
    const double shift = 0x1.8p52;
    x = x > 709.79 ? 709.79 : x;
    x = x < -745.2 ? -745.2 : x;
    double kd = MC_FMA(x, 0x1.71547652b82fep0, shift) - shift; /* round(x / ln2) */
    double r = MC_FMA(kd, -0x1.62e42fee00000p-1, x);              /* exact: kd * ln2hi */
    r = MC_FMA(kd, -0x1.a39ef35793c76p-33, r);                     /* ln2lo */
    double p = 1.0 / 6227020800.0;                                 /* 1/13! */
    p = MC_FMA(p, r, 1.0 / 479001600.0);
    p = MC_FMA(p, r, 1.0 / 39916800.0);
    p = MC_FMA(p, r, 1.0 / 3628800.0);
    p = MC_FMA(p, r, 1.0 / 362880.0);
    p = MC_FMA(p, r, 1.0 / 40320.0);
    p = MC_FMA(p, r, 1.0 / 5040.0);
    p = MC_FMA(p, r, 1.0 / 720.0);
    p = MC_FMA(p, r, 1.0 / 120.0);
    p = MC_FMA(p, r, 1.0 / 24.0);
    p = MC_FMA(p, r, 1.0 / 6.0);
    p = MC_FMA(p, r, 0.5);
    p = MC_FMA(p, r, 1.0);
    p = MC_FMA(p, r, 1.0);
    double k1 = floor(0.5 * kd), k2 = kd - k1; /* both in [-538, 512] */
    double s1 = mc_double(mc_bits(k1 + (1023.0 + 0x1p52)) << 52);
    double s2 = mc_double(mc_bits(k2 + (1023.0 + 0x1p52)) << 52);
    return p * s1 * s2;
}

/* log x for x a positive normal double (the sampler's uniforms), within
 * 1 ulp. x = 2^e m with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s),
 * s = (m - 1)/(m + 1), |s| < 0.172, series to s^21 (truncation < 3e-17). */
static inline __attribute__((always_inline)) double mc_log(double x)
{
    uint64_t u = mc_bits(x);
    double m = mc_double((u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
    /* exponent as a double: 2^52 + biased exponent, exactly; all-64-bit
     * arithmetic keeps the loop in full-width vectors */
    double e = mc_double((u >> 52) | 0x4330000000000000ULL) - (0x1p52 + 1023.0);
    int big = m > 1.4142135623730951;
    m = big ? 0.5 * m : m;
    e = big ? e + 1.0 : e;
    double f = m - 1.0;
    double sv = f / (2.0 + f);
    double z = sv * sv;
    double p = 2.0 / 21.0;
    p = MC_FMA(p, z, 2.0 / 19.0);
    p = MC_FMA(p, z, 2.0 / 17.0);
    p = MC_FMA(p, z, 2.0 / 15.0);
    p = MC_FMA(p, z, 2.0 / 13.0);
    p = MC_FMA(p, z, 2.0 / 11.0);
    p = MC_FMA(p, z, 2.0 / 9.0);
    p = MC_FMA(p, z, 2.0 / 7.0);
    p = MC_FMA(p, z, 2.0 / 5.0);
    p = MC_FMA(p, z, 2.0 / 3.0);
    /* log m = 2s + s z p = f - s (f - z p) (f = 2s + s f) */
    double lm = f - sv * (f - z * p);
    return MC_FMA(e, 0x1.62e42fee00000p-1, MC_FMA(e, 0x1.a39ef35793c76p-33, lm));
}

/* Survival weight of a bumped scenario's path whose minimum log S lies
 * u eps above log strike (u = (min - log K) ramp, ramp = 1/eps): 0 below
 * -eps, 1 above eps, in between the integral of the fourth-order kernel
 * K(u) = 15/32 (3 - 10 u^2 + 7 u^4) on [-1, 1]. K integrates to 1 and its
 * second moment is 0, so the smoothing bias is of order eps^4 rather than
 * the eps^2 of a linear ramp. */
static inline __attribute__((always_inline)) double mc_smooth_weight(double u)
{
    u = u < -1.0 ? -1.0 : u > 1.0 ? 1.0 : u;
    double u2 = u * u;
    return 0.5 + (15.0 / 32.0) * u * (3.0 + u2 * (-10.0 / 3.0 + u2 * (7.0 / 5.0)));
}

/* ==== model constants =================================================== */

/* See mc_kernel.h. */
void mc_model_init(mc_model_t *m, const trade_t *t)
{
    memset(m, 0, sizeof(*m));
    m->steps = t->t_steps;
    m->dt = t->maturity / (double)t->t_steps;
    m->sdt = sqrt(m->dt);
    m->mdt = t->drift * m->dt;
    m->hdt = 0.5 * m->dt;
    m->a = -0.5 * t->v * t->v * m->dt;
    m->b1 = t->v * t->ro * m->sdt;
    m->b2 = t->v * sqrt(1.0 - t->ro * t->ro) * m->sdt;
    m->ls0 = log(t->fx1);
    m->lv0 = t->sigma1 > 0.0 ? log(t->sigma1) : -INFINITY;
    m->logk = log(t->strike);
    m->invk = 1.0 / t->strike;
    m->scale = (double)t->warrants_no * t->notional_per_warr * MC_PAYOFF_FACTOR;
    m->hfx = 0.01 * t->fx1;
    m->hv = 0.01 * t->sigma1;
    m->eps0 = MC_SMOOTH_C * t->sigma1 * sqrt(t->maturity);
    double s0[MC_NSCEN] = {t->fx1, t->fx1 + m->hfx, t->fx1 - m->hfx, t->fx1, t->fx1};
    for (int k = 0; k < MC_NSCEN; k++) {
        m->ko0[k] = s0[k] < t->strike;
        m->cv[k] = 1.0;
    }
    m->dfx[MC_FX_UP] = log(s0[MC_FX_UP]) - m->ls0;
    m->dfx[MC_FX_DN] = log(s0[MC_FX_DN]) - m->ls0;
    if (t->sigma1 > 0.0) {
        m->cv[MC_VOL_UP] = (t->sigma1 + m->hv) / t->sigma1;
        m->cv[MC_VOL_DN] = (t->sigma1 - m->hv) / t->sigma1;
    }
    for (int k = 0; k < MC_NSCEN; k++)
        m->hdtc[k] = m->hdt * m->cv[k] * m->cv[k];
    mc_model_set_paths(m, (int64_t)MC_SMOOTH_PATHS);
}

/* See mc_kernel.h. The width shrinks like n^(-1/5) (a kernel density
 * bandwidth rule), so the Greeks converge to those of the exact knock-out as
 * n grows. A scenario that starts close to the barrier gets at most
 * MC_SMOOTH_KAPPA times its start distance: the minimum's density has
 * structure on that scale, which the smoothing must not blur; a scenario
 * knocked out at the start stays exact (it pays nothing). */
void mc_model_set_paths(mc_model_t *m, int64_t n)
{
    double eps = m->eps0 * pow(MC_SMOOTH_PATHS / (double)(n > 0 ? n : 1), 0.2);
    for (int k = 0; k < MC_NSCEN; k++) {
        double dist = m->ls0 + m->dfx[k] - m->logk, ek = eps;
        if (MC_SMOOTH_KAPPA * dist < ek)
            ek = MC_SMOOTH_KAPPA * dist;
        m->ramp[k] = k != MC_BASE && !m->ko0[k] && ek > 0.0 && isfinite(ek) ? 1.0 / ek : 0.0;
    }
}

/* ==== estimators ========================================================== */

/* Running sums of one estimator, fed in path (or pair) order, so the result
 * never depends on how the paths were grouped for evaluation. */
typedef struct mc_stat {
    int64_t n;   /* samples so far */
    double sum;  /* their plain sum */
    double mean; /* Welford running mean */
    double m2;   /* Welford sum of squared deviations */
    double last; /* the latest sample */
} mc_stat_t;

/* Add sample x to s. Cannot fail. */
static void stat_add(mc_stat_t *s, double x)
{
    s->n++;
    s->sum += x;
    double d = x - s->mean;
    s->mean += d / (double)s->n;
    s->m2 += d * (x - s->mean);
    s->last = x;
}

/* Unbiased sample variance of s; NaN with fewer than two samples. */
static double stat_var(const mc_stat_t *s)
{
    return s->n < 2 ? NAN : s->m2 / (double)(s->n - 1);
}

/* Estimate and standard error from plain samples (one per path). */
static void stat_plain(const mc_stat_t *s, double *est, double *se)
{
    *est = s->sum / (double)s->n;
    *se = sqrt(stat_var(s) / (double)s->n);
}

/* Estimate and standard error from the pair averages of n paths. With n odd
 * the last pair stands for one path: it gets weight 1/n, the others 2/n. The
 * pair averages are i.i.d., so Var = var(pair) * sum of squared weights. */
static void stat_pairs(const mc_stat_t *s, int64_t n, double *est, double *se)
{
    int64_t np = s->n;
    if (n % 2 == 0) {
        *est = s->sum / (double)np;
        *se = sqrt(stat_var(s) / (double)np);
    } else {
        *est = (2.0 * s->sum - s->last) / (double)n;
        *se = sqrt(stat_var(s) * (double)(4 * (np - 1) + 1)) / (double)n;
    }
}

/* ==== taus2, bit for bit GSL's, plus jump-ahead ========================== */

/* One step of taus2 component c on a 32-bit word (GSL's taus_get). */
static inline uint32_t taus_comp(int c, uint32_t s)
{
    switch (c) {
    case 0:
        return ((s & 0xfffffffeu) << 12) ^ (((s << 13) ^ s) >> 19);
    case 1:
        return ((s & 0xfffffff8u) << 4) ^ (((s << 2) ^ s) >> 25);
    default:
        return ((s & 0xfffffff0u) << 17) ^ (((s << 3) ^ s) >> 11);
    }
}

/* See mc_kernel.h. */
void mc_taus_fill(uint32_t st[3], uint32_t *out, size_t n)
{
    uint32_t a = st[0], b = st[1], c = st[2];
    for (size_t i = 0; i < n; i++) {
        a = taus_comp(0, a);
        b = taus_comp(1, b);
        c = taus_comp(2, c);
        out[i] = a ^ b ^ c;
    }
    st[0] = a;
    st[1] = b;
    st[2] = c;
}

/* See mc_kernel.h. GSL keeps the three words as unsigned long (rng.c checks
 * the state size once per generator). */
void mc_taus_get_state(const gsl_rng *r, uint32_t st[3])
{
    const unsigned long *p = gsl_rng_state(r);
    for (int c = 0; c < 3; c++)
        st[c] = (uint32_t)p[c];
}

void mc_taus_set_state(gsl_rng *r, const uint32_t st[3])
{
    unsigned long *p = gsl_rng_state(r);
    for (int c = 0; c < 3; c++)
        p[c] = st[c];
}

/* A 32x32 matrix over GF(2), by columns: col[i] is the image of bit i. Each
 * taus2 component is linear over GF(2), so k steps are one such matrix. */
typedef struct mc_mat32 {
    uint32_t col[32]; /* images of the unit vectors */
} mc_mat32_t;

/* M x over GF(2). */
static uint32_t mat_apply(const mc_mat32_t *mt, uint32_t x)
{
    uint32_t y = 0;
    for (int i = 0; i < 32; i++)
        if ((x >> i) & 1u)
            y ^= mt->col[i];
    return y;
}

/* out = p * q (apply q, then p); out may not alias p or q. */
static void mat_mul(mc_mat32_t *out, const mc_mat32_t *p, const mc_mat32_t *q)
{
    for (int i = 0; i < 32; i++)
        out->col[i] = mat_apply(p, q->col[i]);
}

/* See mc_kernel.h. The jump matrix A^dist comes from square-and-multiply;
 * it is then tabulated by byte so that one jump costs 12 table lookups. */
void mc_jump_prepare(mc_scratch_t *s, int64_t dist)
{
    if (s->jump_dist == dist)
        return;
    for (int c = 0; c < 3; c++) {
        mc_mat32_t pw, res, tmp;
        for (int i = 0; i < 32; i++) {
            pw.col[i] = taus_comp(c, 1u << i);
            res.col[i] = 1u << i;
        }
        for (int64_t d = dist; d > 0; d >>= 1) {
            if (d & 1) {
                mat_mul(&tmp, &pw, &res);
                res = tmp;
            }
            if (d > 1) {
                mat_mul(&tmp, &pw, &pw);
                pw = tmp;
            }
        }
        for (int k = 0; k < 4; k++) {
            uint32_t *tab = s->jump[c][k];
            tab[0] = 0;
            for (unsigned b = 1; b < 256; b++) {
                unsigned low = b & (0u - b);
                tab[b] = tab[b ^ low] ^ res.col[8 * k + __builtin_ctz(low)];
            }
        }
    }
    s->jump_dist = dist;
}

/* See mc_kernel.h. */
void mc_jump_apply(const mc_scratch_t *s, uint32_t st[3])
{
    for (int c = 0; c < 3; c++) {
        uint32_t x = st[c];
        st[c] = s->jump[c][0][x & 255u] ^ s->jump[c][1][(x >> 8) & 255u] ^
                s->jump[c][2][(x >> 16) & 255u] ^ s->jump[c][3][x >> 24];
    }
}

/* ==== fast kernel: Box-Muller sampler ==================================== */

/* cos(2 pi f) and sin(2 pi f) for f in [-1/2, 1/2], f a multiple of 2^-34.
 * The reduction is exact: q = round(4 f) is the quadrant and f - q/4 in
 * [-1/8, 1/8] has no rounding error, so only the Taylor polynomials (through
 * x^17 and x^16 on |x| <= pi/4, truncation < 1e-16) and 2 pi r round. No
 * calls and no branches: it vectorises, which glibc's scalar sincos (what GCC
 * turns a sin/cos pair into) does not. */
static inline __attribute__((always_inline)) void sincos_2pi(double f, double *c, double *s)
{
    double q = floor(4.0 * f + 0.5);
    double x = MC_TWO_PI * (f - 0.25 * q);
    double y = x * x;
    double ps = -1.0 / 355687428096000.0; /* -1/17! */
    ps = MC_FMA(ps, y, 1.0 / 1307674368000.0); /* 1/15! */
    ps = MC_FMA(ps, y, -1.0 / 6227020800.0); /* 1/13! */
    ps = MC_FMA(ps, y, 1.0 / 39916800.0); /* 1/11! */
    ps = MC_FMA(ps, y, -1.0 / 362880.0); /* 1/9! */
    ps = MC_FMA(ps, y, 1.0 / 5040.0); /* 1/7! */
    ps = MC_FMA(ps, y, -1.0 / 120.0); /* 1/5! */
    ps = MC_FMA(ps, y, 1.0 / 6.0); /* 1/3! */
    double sn = MC_FMA(-x * y, ps, x);
    double pc = 1.0 / 20922789888000.0; /* 1/16! */
    pc = MC_FMA(pc, y, -1.0 / 87178291200.0); /* 1/14! */
    pc = MC_FMA(pc, y, 1.0 / 479001600.0); /* 1/12! */
    pc = MC_FMA(pc, y, -1.0 / 3628800.0); /* 1/10! */
    pc = MC_FMA(pc, y, 1.0 / 40320.0); /* 1/8! */
    pc = MC_FMA(pc, y, -1.0 / 720.0); /* 1/6! */
    pc = MC_FMA(pc, y, 1.0 / 24.0); /* 1/4! */
    pc = MC_FMA(pc, y, -0.5); /* 1/2! */
    double cs = MC_FMA(y, pc, 1.0);
    /* rotate by q quarter turns, q in {-2, -1, 0, 1, 2} */
    int odd = q == 1.0 || q == -1.0;
    double cr = odd ? sn : cs, sr = odd ? cs : sn;
    *c = q > 0.5 || q < -1.5 ? -cr : cr;
    *s = q < -0.5 || q > 1.5 ? -sr : sr;
}

/* See mc_kernel.h: the inline functions above, out of line for tests. */
double mc_math_exp(double x)
{
    return mc_exp(x);
}

double mc_math_log(double x)
{
    return mc_log(x);
}

void mc_math_sincos_2pi(double f, double *c, double *s)
{
    sincos_2pi(f, c, s);
}

/* ==== fast kernel: one SIMD group of MC_LANES antithetic pairs =========== */

/* Steps whose normals are drawn together. Within a chunk the Box-Muller
 * transforms of different steps are independent, so they overlap in the
 * pipeline instead of waiting on each other (the generator's own dependency
 * chain is a few integer operations per draw). */
#define MC_CHUNK 16

/* Box-Muller: two 32-bit draws (as exact doubles) to two independent
 * standard normals. Both uniforms are (x + 1/2) / 2^32, never 0 or 1; the
 * angle's is centred on 0 so that sincos_2pi reduces it exactly. The draws
 * arrive as doubles so that this loop holds doubles only: GCC then uses
 * full-width vectors (a uint32 in the loop would halve them). */
static inline __attribute__((always_inline)) void box_muller(double x1, double x2, double *z1,
                                                             double *z2)
{
    double u1 = (x1 + 0.5) * 0x1p-32;
    double f = (x2 + 0.5) * 0x1p-32 - 0.5;
    double r = sqrt(-2.0 * mc_log(u1)), c, sn;
    sincos_2pi(f, &c, &sn);
    *z1 = r * c;
    *z2 = r * sn;
}

/* The body shared by the three group entry points. st != NULL: draw the
 * normals from the lanes' taus2 streams (and store them to zout when given);
 * st == NULL: read them from zin. paths: evolve the pairs and write the pair
 * averages to vals. The constant arguments fold away after inlining, so each
 * entry point is its own specialised loop. Every lane runs the same
 * instructions, so a pair's bits do not depend on its neighbours, and the
 * normals are the same whether drawn here or read from memory.
 * It is longer than the other functions on purpose: the time-step loop
 * keeps the base and the four bumped scenarios' state in registers across
 * all lanes, and splitting it into calls the compiler would not inline as
 * one loop costs the vectorisation (docs/PERFORMANCE.md). */
static inline __attribute__((always_inline)) void
group_body(const mc_model_t *m, const uint32_t *st, size_t stride, const double *zin, double *zout,
           int paths, int greeks, double *vals, size_t vstride)
{
    const int64_t nt = m->steps;
    const double a = m->a, b1 = m->b1, b2 = m->b2, sdt = m->sdt, mdt = m->mdt, hdt = m->hdt;
    const double cu = m->cv[MC_VOL_UP], cd = m->cv[MC_VOL_DN];
    const double hu = m->hdtc[MC_VOL_UP], hd = m->hdtc[MC_VOL_DN];
    uint32_t s1[L], s2[L], s3[L];
    double lvp[L], lvm[L], lsp[L], lsm[L], mnp[L], mnm[L];
    double lup[L], lum[L], ldp[L], ldm[L], mup[L], mum[L], mdp[L], mdm[L];

    if (st) {
        for (int l = 0; l < L; l++) {
            s1[l] = st[l];
            s2[l] = st[stride + l];
            s3[l] = st[2 * stride + l];
        }
    }
    for (int l = 0; l < L; l++) {
        lvp[l] = lvm[l] = m->lv0;
        lsp[l] = lsm[l] = lup[l] = lum[l] = ldp[l] = ldm[l] = m->ls0;
        mnp[l] = mnm[l] = mup[l] = mum[l] = mdp[l] = mdm[l] = INFINITY;
    }

    for (int64_t t0 = 0; t0 < nt; t0 += MC_CHUNK) {
        const int nc = nt - t0 < MC_CHUNK ? (int)(nt - t0) : MC_CHUNK;
        double zb1[MC_CHUNK * L], zb2[MC_CHUNK * L];
        const double *z1 = zb1, *z2 = zb2;
        if (st) {
            double x1[MC_CHUNK * L], x2[MC_CHUNK * L];
            for (int c = 0; c < nc; c++) {
#pragma omp simd
                for (int l = 0; l < L; l++) {
                    uint32_t q1 = s1[l], q2 = s2[l], q3 = s3[l];
                    q1 = taus_comp(0, q1);
                    q2 = taus_comp(1, q2);
                    q3 = taus_comp(2, q3);
                    x1[c * L + l] = (double)(q1 ^ q2 ^ q3);
                    q1 = taus_comp(0, q1);
                    q2 = taus_comp(1, q2);
                    q3 = taus_comp(2, q3);
                    x2[c * L + l] = (double)(q1 ^ q2 ^ q3);
                    s1[l] = q1;
                    s2[l] = q2;
                    s3[l] = q3;
                }
            }
            for (int c = 0; c < nc; c++) {
#pragma omp simd
                for (int l = 0; l < L; l++)
                    box_muller(x1[c * L + l], x2[c * L + l], &zb1[c * L + l], &zb2[c * L + l]);
            }
            if (zout) {
                memcpy(zout + t0 * L, zb1, (size_t)nc * L * sizeof(double));
                memcpy(zout + (nt + t0) * L, zb2, (size_t)nc * L * sizeof(double));
            }
        } else {
            z1 = zin + t0 * L;
            z2 = zin + (nt + t0) * L;
        }
        if (!paths)
            continue;
        for (int c = 0; c < nc; c++) {
#pragma omp simd
            for (int l = 0; l < L; l++) {
                double w = b1 * z1[c * L + l] + b2 * z2[c * L + l];
                double zs = sdt * z1[c * L + l];
                lvp[l] += a + w;
                lvm[l] += a - w;
                double vp = mc_exp(lvp[l]), vm = mc_exp(lvm[l]);
                double vp2 = vp * vp, vm2 = vm * vm;
                double ep = vp * zs, em = vm * zs;
                lsp[l] += (mdt - hdt * vp2) + ep;
                lsm[l] += (mdt - hdt * vm2) - em;
                mnp[l] = lsp[l] < mnp[l] ? lsp[l] : mnp[l];
                mnm[l] = lsm[l] < mnm[l] ? lsm[l] : mnm[l];
                if (greeks) {
                    lup[l] += (mdt - hu * vp2) + cu * ep;
                    lum[l] += (mdt - hu * vm2) - cu * em;
                    ldp[l] += (mdt - hd * vp2) + cd * ep;
                    ldm[l] += (mdt - hd * vm2) - cd * em;
                    mup[l] = lup[l] < mup[l] ? lup[l] : mup[l];
                    mum[l] = lum[l] < mum[l] ? lum[l] : mum[l];
                    mdp[l] = ldp[l] < mdp[l] ? ldp[l] : mdp[l];
                    mdm[l] = ldm[l] < mdm[l] ? ldm[l] : mdm[l];
                }
            }
        }
    }
    if (!paths)
        return;

    /* Payoff scale * max(0, 1/K - 1/S_T) for paths never below the strike
     * (S_T >= K then, so this is scale * max(0, S_T/K - 1) / S_T). */
    const double logk = m->logk, invk = m->invk, scale = m->scale;
    const int nk = greeks ? MC_NSCEN : 1;
    for (int k = 0; k < nk; k++) {
        const double *xp = lsp, *xm = lsm, *np = mnp, *nm = mnm;
        if (k == MC_VOL_UP) {
            xp = lup, xm = lum, np = mup, nm = mum;
        } else if (k == MC_VOL_DN) {
            xp = ldp, xm = ldm, np = mdp, nm = mdm;
        }
        const double d = m->dfx[k];
        const int alive0 = !m->ko0[k];
        double *out = vals + (size_t)k * vstride;
        if (!(m->ramp[k] > 0.0)) {
#pragma omp simd
            for (int l = 0; l < L; l++) {
                double gp = invk - mc_exp(-(xp[l] + d)), gm = invk - mc_exp(-(xm[l] + d));
                double yp = alive0 && np[l] + d >= logk && gp > 0.0 ? scale * gp : 0.0;
                double ym = alive0 && nm[l] + d >= logk && gm > 0.0 ? scale * gm : 0.0;
                out[l] = 0.5 * (yp + ym);
            }
        } else {
            const double ramp = m->ramp[k];
#pragma omp simd
            for (int l = 0; l < L; l++) {
                double gp = invk - mc_exp(-(xp[l] + d)), gm = invk - mc_exp(-(xm[l] + d));
                double wp = mc_smooth_weight((np[l] + d - logk) * ramp);
                double wm = mc_smooth_weight((nm[l] + d - logk) * ramp);
                double yp = alive0 && gp > 0.0 ? scale * gp * wp : 0.0;
                double ym = alive0 && gm > 0.0 ? scale * gm * wm : 0.0;
                out[l] = 0.5 * (yp + ym);
            }
        }
    }
}

/* See mc_kernel.h. */
void mc_fast_group_normals(const mc_model_t *m, const uint32_t *st, size_t stride, double *z)
{
    group_body(m, st, stride, NULL, z, 0, 0, NULL, 0);
}

void mc_fast_group_paths(const mc_model_t *m, const double *z, int greeks, double *vals,
                         size_t vstride)
{
    if (greeks)
        group_body(m, NULL, 0, z, NULL, 1, 1, vals, vstride);
    else
        group_body(m, NULL, 0, z, NULL, 1, 0, vals, vstride);
}

void mc_fast_group_fused(const mc_model_t *m, const uint32_t *st, size_t stride, int greeks,
                         double *vals, size_t vstride)
{
    if (greeks)
        group_body(m, st, stride, NULL, NULL, 1, 1, vals, vstride);
    else
        group_body(m, st, stride, NULL, NULL, 1, 0, vals, vstride);
}

/* ==== fast kernel: driver ================================================= */

/* See mc_kernel.h. */
void mc_scratch_free(mc_scratch_t *s)
{
    free(s->lane_state);
    free(s->vals);
    free(s->zbuf);
    int block = s->block;
    memset(s, 0, sizeof(*s));
    s->block = block;
}

void mc_scratch_set_block(mc_scratch_t *s, int pairs)
{
    if (pairs <= 0)
        s->block = 0;
    else if (pairs > INT_MAX - L)
        s->block = INT_MAX / L * L;
    else
        s->block = (pairs + L - 1) / L * L;
}

/* Make s hold lanes lanes (lane states and pair values). Returns 0, or -1 on
 * allocation failure with s unchanged. */
static int scratch_lanes(mc_scratch_t *s, int lanes)
{
    if (s->cap >= lanes)
        return 0;
    uint32_t *ls = malloc((size_t)lanes * 3 * sizeof(*ls));
    double *v = malloc((size_t)lanes * MC_NSCEN * sizeof(*v));
    if (!ls || !v) {
        free(ls);
        free(v);
        return -1;
    }
    free(s->lane_state);
    free(s->vals);
    s->lane_state = ls;
    s->vals = v;
    s->cap = lanes;
    return 0;
}

/* Make s->zbuf hold n doubles. Returns 0, or -1 on allocation failure. */
static int scratch_zbuf(mc_scratch_t *s, size_t n)
{
    if (s->zcap >= n)
        return 0;
    double *z = malloc(n * sizeof(*z));
    if (!z)
        return -1;
    free(s->zbuf);
    s->zbuf = z;
    s->zcap = n;
    return 0;
}

/* See mc_kernel.h. Pair p uses draws [2 T p, 2 T (p + 1)) of the trade's
 * stream: at step t, draw 2t + 0 and 2t + 1. Lane start states come from
 * jumping 2T draws at a time, so the mapping is fixed whatever the block
 * size; the sums run in pair order. */
int mc_kernel_fast(const mc_model_t *m0, int64_t n, const gsl_rng *r, int greeks,
                   mc_scratch_t *s, mc_estimate_t *e)
{
    mc_model_t mm = *m0;
    mc_model_set_paths(&mm, n);
    const mc_model_t *m = &mm;
    const int64_t np = n / 2 + n % 2; /* ceil(n/2) without overflow */
    const int bs = s->block > 0 ? s->block : MC_BLOCK_DEFAULT;
    if (scratch_lanes(s, bs))
        return FS_E_NOMEM;
    if (s->split && scratch_zbuf(s, (size_t)(2 * m->steps * L)))
        return FS_E_NOMEM;
    mc_jump_prepare(s, 2 * m->steps);

    uint32_t cur[3];
    mc_taus_get_state(r, cur);
    mc_stat_t spv = {0}, sdl = {0}, svg = {0};
    const size_t cap = (size_t)s->cap;
    const double ddl = 2.0 * m->hfx, dvg = 2.0 * m->hv;
    for (int64_t p0 = 0; p0 < np; p0 += bs) {
        const int nb = (int)(np - p0 < bs ? np - p0 : bs);
        const int nl = (nb + L - 1) / L * L;
        for (int j = 0; j < nl; j++) {
            s->lane_state[j] = cur[0];
            s->lane_state[cap + j] = cur[1];
            s->lane_state[2 * cap + j] = cur[2];
            mc_jump_apply(s, cur);
        }
        for (int g = 0; g < nl; g += L) {
            if (s->split) {
                mc_fast_group_normals(m, s->lane_state + g, cap, s->zbuf);
                mc_fast_group_paths(m, s->zbuf, greeks, s->vals + g, cap);
            } else {
                mc_fast_group_fused(m, s->lane_state + g, cap, greeks, s->vals + g, cap);
            }
        }
        for (int j = 0; j < nb; j++) {
            stat_add(&spv, s->vals[j]);
            if (greeks) {
                stat_add(&sdl, (s->vals[MC_FX_UP * cap + j] - s->vals[MC_FX_DN * cap + j]) / ddl / 10000.0);
                stat_add(&svg, (s->vals[MC_VOL_UP * cap + j] - s->vals[MC_VOL_DN * cap + j]) / dvg / 10000.0);
            }
        }
    }
    e->delta = e->delta_se = e->vega = e->vega_se = NAN;
    stat_pairs(&spv, n, &e->pv, &e->pv_se);
    if (greeks) {
        stat_pairs(&sdl, n, &e->delta, &e->delta_se);
        if (m->hv > 0.0)
            stat_pairs(&svg, n, &e->vega, &e->vega_se);
    }
    return FS_OK;
}

/* ==== reference kernel ==================================================== */

/* Scalar libm exp for the reference kernel. Out of line so that the
 * vectoriser cannot move some scenarios to libmvec: the reference stays the
 * plain scalar model. */
static __attribute__((noinline)) double ref_exp(double x)
{
    return exp(x);
}

/* See mc_kernel.h. Each path evolves S and vol in linear space, two exp per
 * step and scenario, exactly as docs/DESIGN.md writes the model; the Greeks'
 * scenarios share the path's normals. */
void mc_kernel_reference(const mc_model_t *m, const trade_t *t, int64_t n, gsl_rng *r,
                         int greeks, mc_estimate_t *e)
{
    const int ns = greeks ? MC_NSCEN : 1;
    const double k = t->strike, dt = m->dt, sdt = m->sdt, v = t->v, ro = t->ro;
    const double rc = sqrt(1.0 - ro * ro), drift = t->drift;
    const double wn = (double)t->warrants_no * t->notional_per_warr;
    const double s0[MC_NSCEN] = {t->fx1, t->fx1 + m->hfx, t->fx1 - m->hfx, t->fx1, t->fx1};
    const double v0[MC_NSCEN] = {t->sigma1, t->sigma1, t->sigma1, t->sigma1 + m->hv,
                                 t->sigma1 - m->hv};
    mc_stat_t spv = {0}, sdl = {0}, svg = {0};
    mc_model_t mm = *m;
    mc_model_set_paths(&mm, n);

    for (int64_t i = 0; i < n; i++) {
        double s[MC_NSCEN], vol[MC_NSCEN], y[MC_NSCEN], smin[MC_NSCEN];
        int ko[MC_NSCEN], ko0[MC_NSCEN];
        for (int j = 0; j < ns; j++) {
            s[j] = s0[j];
            vol[j] = v0[j];
            ko[j] = ko0[j] = s[j] < k;
            smin[j] = INFINITY;
        }
        for (int64_t st = 0; st < m->steps; st++) {
            double z1 = gsl_ran_gaussian_ziggurat(r, 1.0);
            double z2 = gsl_ran_gaussian_ziggurat(r, 1.0);
            double f = ref_exp(-0.5 * v * v * dt + v * (ro * z1 + rc * z2) * sdt);
            for (int j = 0; j < ns; j++) {
                vol[j] *= f;
                s[j] *= ref_exp((drift - 0.5 * vol[j] * vol[j]) * dt + vol[j] * z1 * sdt);
                if (s[j] < k)
                    ko[j] = 1;
                smin[j] = s[j] < smin[j] ? s[j] : smin[j];
            }
        }
        for (int j = 0; j < ns; j++) {
            double pay = wn * (s[j] > k ? s[j] / k - 1.0 : 0.0) / s[j] * MC_PAYOFF_FACTOR;
            if (!(mm.ramp[j] > 0.0)) {
                y[j] = ko[j] ? 0.0 : pay;
            } else { /* the bumped scenarios' smoothed knock-out (mc_kernel.h) */
                double wt = mc_smooth_weight((log(smin[j]) - m->logk) * mm.ramp[j]);
                y[j] = ko0[j] ? 0.0 : wt * pay;
            }
        }
        stat_add(&spv, y[MC_BASE]);
        if (greeks) {
            stat_add(&sdl, (y[MC_FX_UP] - y[MC_FX_DN]) / (2.0 * m->hfx) / 10000.0);
            stat_add(&svg, (y[MC_VOL_UP] - y[MC_VOL_DN]) / (2.0 * m->hv) / 10000.0);
        }
    }
    e->delta = e->delta_se = e->vega = e->vega_se = NAN;
    stat_plain(&spv, &e->pv, &e->pv_se);
    if (greeks) {
        stat_plain(&sdl, &e->delta, &e->delta_se);
        if (m->hv > 0.0)
            stat_plain(&svg, &e->vega, &e->vega_se);
    }
}
