/* mc_group.c - the fast kernel's hot loop: one SIMD group of MC_LANES
 * antithetic pairs, normals drawn and paths evolved (see mc_kernel.c).
 *
 * Compiled once per instruction set (CMakeLists.txt): for x86-64-v4
 * (AVX-512), x86-64-v3 (AVX2 + FMA) and the x86-64-v2 baseline, and in a
 * native build also with -march=native. MC_ISA names the copy; mc_kernel.c
 * picks the best one the CPU runs when it first prices (mc_isa_current). */

/* GCC 12 tunes unknown AMD cores (-march=native on Zen 5) like Zen 3 and
 * then prefers 256-bit vectors; the kernel gains ~2x from full AVX-512
 * (sqrt and divide throughput double). No effect on targets without it. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__AVX512F__)
#pragma GCC target("prefer-vector-width=512")
#endif

#include "mc_kernel.h"
#include "mc_math.h"

#ifndef MC_ISA
#error "compile mc_group.c with -DMC_ISA=<name> (CMakeLists.txt)"
#endif

#define L MC_LANES
#define MC_CAT2(a, b) a##b
#define MC_CAT(a, b) MC_CAT2(a, b)
#define MC_STR2(a) #a
#define MC_STR(a) MC_STR2(a)
/* this copy's name for a function f: f_<isa> */
#define MC_NAME(f) MC_CAT(f##_, MC_ISA)

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
static void MC_NAME(group_normals)(const mc_model_t *m, const uint32_t *st, size_t stride, double *z)
{
    group_body(m, st, stride, NULL, z, 0, 0, NULL, 0);
}

static void MC_NAME(group_paths)(const mc_model_t *m, const double *z, int greeks, double *vals,
                         size_t vstride)
{
    if (greeks)
        group_body(m, NULL, 0, z, NULL, 1, 1, vals, vstride);
    else
        group_body(m, NULL, 0, z, NULL, 1, 0, vals, vstride);
}

static void MC_NAME(group_fused)(const mc_model_t *m, const uint32_t *st, size_t stride, int greeks,
                         double *vals, size_t vstride)
{
    if (greeks)
        group_body(m, st, stride, NULL, NULL, 1, 1, vals, vstride);
    else
        group_body(m, st, stride, NULL, NULL, 1, 0, vals, vstride);
}

/* See mc_kernel.h: the inline functions above, out of line for tests. */
static double MC_NAME(math_exp)(double x)
{
    return mc_exp(x);
}

static double MC_NAME(math_log)(double x)
{
    return mc_log(x);
}

static void MC_NAME(math_sincos_2pi)(double f, double *c, double *s)
{
    sincos_2pi(f, c, s);
}


/* This copy's entry points (mc_kernel.h). */
const mc_isa_t MC_NAME(mc_isa) = {
    .name = MC_STR(MC_ISA),
#ifdef FP_FAST_FMA
    .fma = 1,
#else
    .fma = 0,
#endif
#ifdef MC_ISA_NATIVE
    .native = 1,
#endif
    .group_normals = MC_NAME(group_normals),
    .group_paths = MC_NAME(group_paths),
    .group_fused = MC_NAME(group_fused),
    .math_exp = MC_NAME(math_exp),
    .math_log = MC_NAME(math_log),
    .math_sincos_2pi = MC_NAME(math_sincos_2pi),
};
