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
 * FAST KERNEL (MC_KERNEL_FAST, default): ~3.6 ms pvonly, ~4.5 ms
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
 * polynomials; log is inline too (atanh series, <= 1 ulp). 1.1 ns per normal
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
 * Vector math. The hot loops (src/pricing/mc_group.c) are fixed-width
 * (MC_LANES = 16) `omp simd` loops with no calls: exp, log and sincos are
 * inline polynomials (mc_math.h; exp and log <= 1 ulp, sincos <= 2 ulp,
 * tested against libm on 10^8 inputs in test_mc_sampler). glibc's libmvec
 * was the first version: _ZGVeN8v_exp / _log cost 0.55 / 0.64 ns per element
 * plus register spills around every call (whole trade 6.2 ms); GCC also
 * fuses a sin/cos pair into a scalar sincos call that blocks vectorisation.
 * Normals are drawn 16 steps at a time so that the out-of-order core
 * overlaps independent transforms (the generator's dependency chain is a few
 * integer operations). GCC 12 tunes this Zen 5 as Zen 3 and would use
 * 256-bit vectors; 512-bit ones double the sqrt/divide throughput (pragma in
 * mc_group.c). Where the time goes, measured: docs/PERFORMANCE.md, "Where
 * the sampler's time goes".
 *
 * Instruction sets. mc_group.c is compiled once per instruction set
 * (avx512, avx2, sse4, and native in a native build) and the kernel runs the
 * best copy the CPU supports (mc_isa_current), so the portable build uses
 * AVX-512 or AVX2 where they exist. The copies with FMA give the same bits
 * (explicit fma() in the same order, no contraction); the sse4 copy has no
 * FMA and differs in the last bits, which the fp flavour of the resume
 * fingerprint records (mc_fp_flavour).
 *
 * Reproducibility. Only IEEE operations: no -ffast-math; -std=c11 turns
 * implicit FMA contraction off and MC_FMA decides explicit ones at compile
 * time. Every lane runs the same instructions (fixed-width loops, no scalar
 * epilogues), so a pair's bits depend on nothing but its index; the sums
 * run in pair order (Welford). Results are bitwise identical for any block
 * size, lane count, trade order or work-space history (tests prove it) and,
 * as the math is our own, for any glibc on the same instruction set.
 *
 * Memory: O(block) lanes of state plus 12 KiB of jump tables; nothing scales
 * with paths x steps.
 */

#include "mc_kernel.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "finsim/base/config_build.h"
#include "finsim/base/util.h"
#include "mc_math.h"

#define L MC_LANES
#define MC_PAYOFF_FACTOR 1.000799081

/* ==== instruction sets ==================================================== */

/* The copies of mc_group.c this build holds (CMakeLists.txt), best first. */
extern const mc_isa_t mc_isa_avx512, mc_isa_avx2, mc_isa_sse4;
#if FINSIM_NATIVE
extern const mc_isa_t mc_isa_native;
static const mc_isa_t *const mc_isas[] = {&mc_isa_native, &mc_isa_avx512, &mc_isa_avx2,
                                          &mc_isa_sse4};
#else
static const mc_isa_t *const mc_isas[] = {&mc_isa_avx512, &mc_isa_avx2, &mc_isa_sse4};
#endif
#define MC_NISA ((int)(sizeof(mc_isas) / sizeof(mc_isas[0])))

/* Whether this CPU (and its OS: the checks include the saved register
 * state) runs copy isa. The native copy was built for this machine. */
static int isa_supported(const mc_isa_t *isa)
{
    const char *n = isa->name;
    if (!strcmp(n, "native") || !strcmp(n, "sse4"))
        return 1; /* the build's own target */
    __builtin_cpu_init();
    int v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
             __builtin_cpu_supports("popcnt");
    if (!strcmp(n, "avx2"))
        return v3;
    if (!strcmp(n, "avx512"))
        return v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512cd");
    return 0;
}

/* The copy in use: NULL until first asked for (then the best supported), or
 * as forced by mc_isa_select. Written and read atomically (any thread may
 * price the first trade). */
static const mc_isa_t *mc_isa_in_use;

/* See mc_kernel.h. */
const mc_isa_t *mc_isa_current(void)
{
    const mc_isa_t *isa = __atomic_load_n(&mc_isa_in_use, __ATOMIC_ACQUIRE);
    if (isa)
        return isa;
    for (int i = 0; i < MC_NISA && !isa; i++)
        if (isa_supported(mc_isas[i]))
            isa = mc_isas[i];
    __atomic_store_n(&mc_isa_in_use, isa, __ATOMIC_RELEASE);
    return isa;
}

const mc_isa_t *mc_isa_get(int i)
{
    if (i < 0 || i >= MC_NISA || !isa_supported(mc_isas[i]))
        return NULL;
    return mc_isas[i];
}

int mc_isa_count(void)
{
    return MC_NISA;
}

int mc_isa_select(const char *name)
{
    if (!name) {
        __atomic_store_n(&mc_isa_in_use, NULL, __ATOMIC_RELEASE);
        return 0;
    }
    for (int i = 0; i < MC_NISA; i++)
        if (!strcmp(mc_isas[i]->name, name) && isa_supported(mc_isas[i])) {
            __atomic_store_n(&mc_isa_in_use, mc_isas[i], __ATOMIC_RELEASE);
            return 0;
        }
    return -1;
}

/* See mc.h. Whether the copy in use fuses multiply-adds (MC_FMA in
 * mc_math.h, decided when that copy was compiled) and whether it was built
 * for the build machine (-march=native) or for an instruction set level.
 * The portable copies with FMA (avx512, avx2) compute the same bits, so
 * "fma-portable" names one arithmetic whichever of them runs (test_mc_isa
 * proves it); the baseline copy differs in the last bits and says so. */
const char *mc_fp_flavour(void)
{
    const mc_isa_t *isa = mc_isa_current();
    if (isa->native)
        return isa->fma ? "fma-native" : "nofma-native";
    return isa->fma ? "fma-portable" : "nofma-portable";
}

/* The stages of the fast kernel in the copy in use (mc_kernel.h). */
void mc_fast_group_normals(const mc_model_t *m, const uint32_t *st, size_t stride, double *z)
{
    mc_isa_current()->group_normals(m, st, stride, z);
}

void mc_fast_group_paths(const mc_model_t *m, const double *z, int greeks, double *vals,
                         size_t vstride)
{
    mc_isa_current()->group_paths(m, z, greeks, vals, vstride);
}

void mc_fast_group_fused(const mc_model_t *m, const uint32_t *st, size_t stride, int greeks,
                         double *vals, size_t vstride)
{
    mc_isa_current()->group_fused(m, st, stride, greeks, vals, vstride);
}

double mc_math_exp(double x)
{
    return mc_isa_current()->math_exp(x);
}

double mc_math_log(double x)
{
    return mc_isa_current()->math_log(x);
}

void mc_math_sincos_2pi(double f, double *c, double *s)
{
    mc_isa_current()->math_sincos_2pi(f, c, s);
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
    const mc_isa_t *isa = mc_isa_current();

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
                isa->group_normals(m, s->lane_state + g, cap, s->zbuf);
                isa->group_paths(m, s->zbuf, greeks, s->vals + g, cap);
            } else {
                isa->group_fused(m, s->lane_state + g, cap, greeks, s->vals + g, cap);
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
