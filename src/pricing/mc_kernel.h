/* mc_kernel.h - private interface of the Monte Carlo kernels (mc.c, tests, bench).
 *
 * Not installed and not part of the public API (include/finsim/mc.h): the
 * layout of these structs may change with the kernels. Tests and the kernel
 * benchmark include it to reach the stages of the fast kernel one by one. */
#ifndef FINSIM_MC_KERNEL_H
#define FINSIM_MC_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_rng.h>

#include "finsim/pricing/mc.h"
#include "finsim/trade/trade.h"

/* Antithetic pairs evaluated together: one SIMD group. Sixteen lanes fill
 * one AVX-512 register with the generator's 32-bit state words and two with
 * doubles; narrower targets run the same loops in more pieces. Sixteen
 * rather than eight: the generator's shift-xor chain and the polynomials
 * get twice the independent work per instruction (normals -15 %, a pvonly
 * trade -10 % on the Zen 5 dev machine; docs/PERFORMANCE.md). The lane
 * count never changes a result (mc_kernel.c, "Reproducibility"). */
#define MC_LANES 16

/* Default pairs per block (a multiple of MC_LANES). Results never depend on
 * it; see mc_scratch_set_block. */
#define MC_BLOCK_DEFAULT 64

/* Scenarios priced on common random numbers: base, fx1 up, fx1 down, sigma1
 * up, sigma1 down (only the first for pvonly). */
enum mc_scen { MC_BASE = 0, MC_FX_UP, MC_FX_DN, MC_VOL_UP, MC_VOL_DN, MC_NSCEN };

/* Per-trade constants of the model (docs/DESIGN.md), derived once per trade. */
typedef struct mc_model {
    int64_t steps;     /* t_steps */
    double dt;         /* maturity / t_steps */
    double sdt;        /* sqrt(dt) */
    double mdt;        /* drift * dt */
    double hdt;        /* 0.5 * dt */
    double a;          /* -0.5 v^2 dt: log-vol drift per step */
    double b1;         /* v ro sqrt(dt): log-vol loading on z1 */
    double b2;         /* v sqrt(1 - ro^2) sqrt(dt): log-vol loading on z2 */
    double ls0;        /* log fx1 */
    double lv0;        /* log sigma1 (-inf when sigma1 = 0) */
    double logk;       /* log strike: knock-out level of log S */
    double invk;       /* 1 / strike */
    double scale;      /* warrantsNo * notionalPerWarr * 1.000799081 */
    double hfx;        /* delta bump: 0.01 * fx1 */
    double hv;         /* vega bump: 0.01 * sigma1 */
    double eps0;       /* barrier smoothing half-width of the bumped scenarios
                        * at MC_SMOOTH_PATHS paths: MC_SMOOTH_C sigma1 sqrt(T) */
    double ramp[MC_NSCEN]; /* 1 / eps of each bumped scenario for the path
                        * count being priced (mc_model_set_paths); 0 = exact */
    double dfx[MC_NSCEN]; /* log-S shift of each scenario (fx bumps only) */
    int ko0[MC_NSCEN];    /* 1 when S_0 < strike in that scenario (knocked out at j = 0) */
    double cv[MC_NSCEN];  /* vol path scale of each scenario (vega bumps only) */
    double hdtc[MC_NSCEN];/* 0.5 dt cv^2 */
} mc_model_t;

/* Smoothed knock-out of the Greeks' bumped scenarios (DESIGN.md, "Greeks
 * near the barrier"): a path of a bumped scenario whose minimum log S
 * (steps 1..T) lies within eps of log strike counts with a weight that
 * rises smoothly from 0 to 1 (the integral of a fourth-order kernel)
 * instead of 0 or 1; eps = MC_SMOOTH_C sigma1 sqrt(maturity)
 * (MC_SMOOTH_PATHS / paths)^(1/5), at most MC_SMOOTH_KAPPA times the
 * scenario's start distance from the barrier in log S. The base scenario
 * (the PV) keeps the exact knock-out. */
#define MC_SMOOTH_C 0.25
#define MC_SMOOTH_KAPPA 0.25
#define MC_SMOOTH_PATHS 10000.0

/* Fill m from trade t (validated), smoothing set for MC_SMOOTH_PATHS paths.
 * Cannot fail. */
void mc_model_init(mc_model_t *m, const trade_t *t);

/* Set m's smoothing width for n paths (the kernels call it). */
void mc_model_set_paths(mc_model_t *m, int64_t n);

/* Estimates of one trade; Greeks NaN when not computed. */
typedef struct mc_estimate {
    double pv;       /* mean payoff */
    double pv_se;    /* its standard error */
    double delta;    /* AzFinSim delta */
    double delta_se; /* its standard error */
    double vega;     /* AzFinSim vega */
    double vega_se;  /* its standard error */
} mc_estimate_t;

/* Reusable scratch memory of the kernels; lives inside mc_work_t. Zero it to
 * initialise, release with mc_scratch_free. */
typedef struct mc_scratch {
    int block;              /* pairs per block (multiple of MC_LANES), 0 = default */
    int split;              /* tests/bench: draw normals to memory, then evolve (same bits) */
    int cap;                /* lanes the arrays below hold */
    uint32_t *lane_state;   /* [3][cap] taus2 state words of each lane (pair) */
    double *vals;           /* [MC_NSCEN][cap] pair-averaged payoffs of the block */
    double *zbuf;           /* [2][steps][MC_LANES] normals, split mode only */
    size_t zcap;            /* doubles zbuf holds */
    int64_t jump_dist;      /* stream distance the jump tables are for, 0 = none */
    uint32_t jump[3][4][256]; /* taus2 jump-ahead by jump_dist draws, per component, by byte */
} mc_scratch_t;

/* Release the buffers of s (not s itself) and zero it. Accepts a zeroed s. */
void mc_scratch_free(mc_scratch_t *s);

/* Set the pairs per block of s: rounded up to a multiple of MC_LANES; 0 or
 * negative restores the default. Only the evaluation order changes: results
 * are bitwise identical for every block size (tests prove it). */
void mc_scratch_set_block(mc_scratch_t *s, int pairs);

/* Fast kernel: n paths as ceil(n/2) antithetic pairs on the taus2 stream r
 * (already seeded for the trade; its state is read, not advanced). Fills e
 * (Greeks when greeks != 0). Returns FS_OK or FS_E_NOMEM (e untouched). */
int mc_kernel_fast(const mc_model_t *m, int64_t n, const gsl_rng *r, int greeks,
                   mc_scratch_t *s, mc_estimate_t *e);

/* Reference kernel: the model as written, n paths, normals from
 * gsl_ran_gaussian_ziggurat on r (advanced). Fills e. Cannot fail. */
void mc_kernel_reference(const mc_model_t *m, const trade_t *t, int64_t n, gsl_rng *r,
                         int greeks, mc_estimate_t *e);

/* Set the fast kernel's pairs per block for work space w (see
 * mc_scratch_set_block): tests use it to prove the results do not change. */
void mc_work_set_block(mc_work_t *w, int pairs);

/* split != 0: w's fast kernel draws each group's normals to memory and then
 * evolves the paths from there, instead of the fused pass. Bitwise the same
 * results; tests use it to show the staged functions below are the kernel. */
void mc_work_set_split(mc_work_t *w, int split);

/* ---- stages of the fast kernel, for tests and bench/bench_kernel.c ---- */

/* The 32-bit outputs of the taus2 state st[3] (GSL's state words), n draws
 * into out, st advanced: bit for bit gsl_rng_get of gsl_rng_taus2. */
void mc_taus_fill(uint32_t st[3], uint32_t *out, size_t n);

/* Read / write the taus2 state words of r (a gsl_rng_taus2 generator). */
void mc_taus_get_state(const gsl_rng *r, uint32_t st[3]);
void mc_taus_set_state(gsl_rng *r, const uint32_t st[3]);

/* Make s's jump tables advance a taus2 state by dist draws (cached: no work
 * when dist is unchanged). Cannot fail. */
void mc_jump_prepare(mc_scratch_t *s, int64_t dist);

/* Advance st[3] by s's jump distance. */
void mc_jump_apply(const mc_scratch_t *s, uint32_t st[3]);

/* One group: lane l (pair) starts at taus2 state {st[l], st[stride + l],
 * st[2 stride + l]} and draws its 2 * steps uniforms in stream order. */

/* Normals of one group: z[t * MC_LANES + l] (z1) and z[(steps + t) *
 * MC_LANES + l] (z2), 2 * steps * MC_LANES doubles. */
void mc_fast_group_normals(const mc_model_t *m, const uint32_t *st, size_t stride, double *z);

/* Pair-averaged payoffs of one group from normals laid out as above:
 * vals[k * vstride + l] for scenario k (only MC_BASE unless greeks). */
void mc_fast_group_paths(const mc_model_t *m, const double *z, int greeks, double *vals,
                         size_t vstride);

/* Both stages in one pass with the normals kept in registers (production);
 * bitwise the same as mc_fast_group_normals + mc_fast_group_paths. */
void mc_fast_group_fused(const mc_model_t *m, const uint32_t *st, size_t stride, int greeks,
                         double *vals, size_t vstride);

/* The fast kernel's inline vector math, out of line so that tests can
 * measure its accuracy against libm: e^x (any x), log x (x a positive normal
 * double), and cos / sin of 2 pi f for f in [-1/2, 1/2] a multiple of 2^-34. */
double mc_math_exp(double x);
double mc_math_log(double x);
void mc_math_sincos_2pi(double f, double *c, double *s);

/* ---- instruction sets ---- */

/* One compiled copy of the fast kernel's hot loop (src/pricing/mc_group.c,
 * built once per instruction set) with the functions above for its target.
 * Every build holds "avx512" (x86-64-v4), "avx2" (x86-64-v3: AVX2 and FMA)
 * and "sse4" (x86-64-v2); a native build also "native" (-march=native). The
 * kernel uses the first of native, avx512, avx2, sse4 that the CPU runs. */
typedef struct mc_isa {
    const char *name; /* "native", "avx512", "avx2" or "sse4" */
    int fma;          /* 1 when compiled with fused multiply-adds (MC_FMA) */
    int native;       /* 1 for the copy built with -march=native */
    void (*group_normals)(const mc_model_t *m, const uint32_t *st, size_t stride, double *z);
    void (*group_paths)(const mc_model_t *m, const double *z, int greeks, double *vals,
                        size_t vstride);
    void (*group_fused)(const mc_model_t *m, const uint32_t *st, size_t stride, int greeks,
                        double *vals, size_t vstride);
    double (*math_exp)(double x);
    double (*math_log)(double x);
    void (*math_sincos_2pi)(double f, double *c, double *s);
} mc_isa_t;

/* The copy the fast kernel uses: the best one the CPU supports, unless
 * mc_isa_select forced another. Never NULL. */
const mc_isa_t *mc_isa_current(void);

/* Copies compiled into this build: mc_isa_get(i) for i < mc_isa_count() is
 * copy i, best first, or NULL when this CPU cannot run it. */
int mc_isa_count(void);
const mc_isa_t *mc_isa_get(int i);

/* Tests and bench: make the fast kernel use the copy called name (NULL: the
 * automatic choice again). Returns 0, or -1 when this build has no such copy
 * or the CPU cannot run it (nothing changed). Not for use while another
 * thread prices. */
int mc_isa_select(const char *name);

#endif
