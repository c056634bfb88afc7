/* mc_math.h - the fast kernel's inline arithmetic: vector math, the taus2 step.
 *
 * Private to src/pricing. Everything here is static inline, call- and
 * branch-free, so that the loops of mc_group.c vectorise; mc_kernel.c uses
 * the taus2 step (generator, jump-ahead) and the smoothed knock-out
 * (reference kernel). mc_group.c is compiled once per instruction set
 * (docs/DESIGN.md, "Instruction sets"), so MC_FMA below is decided per
 * compilation: each copy always computes the same bits. */
#ifndef FINSIM_MC_MATH_H
#define FINSIM_MC_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define MC_TWO_PI 6.283185307179586476925286766559


/* Fused multiply-add where the target has it (one rounding, one
 * instruction), else multiply then add. Either way the choice is made at
 * compile time, so a build always computes the same bits. */
#ifdef FP_FAST_FMA
#define MC_FMA(x, y, z) fma((x), (y), (z))
#else
#define MC_FMA(x, y, z) ((x) * (y) + (z))
#endif

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


#endif
