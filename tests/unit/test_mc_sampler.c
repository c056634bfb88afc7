/* test_mc_sampler.c - the fast kernel's normals and its copies per
 * instruction set: distribution of the normals, accuracy of the inline math
 * against libm, and agreement of the copies (avx512, avx2, sse4, native).
 *
 * Sizes: 10^7 normals and 10^8 math inputs in an optimised build; a tenth
 * under the sanitizers (the checks are the same, the thresholds scale with
 * the sample). Every check uses fixed seeds, so a run always passes or always
 * fails. */
#include "fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "../../src/pricing/mc_kernel.h"
#include "finsim/base/util.h"
#include "finsim/pricing/mc.h"
#include "finsim/trade/gen.h"
#include "finsim/trade/rng.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SAMPLER_SCALE 10
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SAMPLER_SCALE 10
#endif
#endif
#ifndef SAMPLER_SCALE
#define SAMPLER_SCALE 1
#endif

enum { N_NORMALS = 10000000 / SAMPLER_SCALE, N_MATH = 100000000 / SAMPLER_SCALE };

/* Standard normal CDF. */
static double norm_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

/* qsort comparator for doubles. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* At least n normals of the fast kernel exactly as it draws them for trade
 * (seed 7, id 3, 172 steps), with the copy in use: whole groups of MC_LANES
 * pairs, lane states jumped 2T draws apart. Returns the buffer, count in *got
 * (group layout: z1 of steps 0..T-1 per lane, then z2). */
static double *kernel_normals(size_t n, size_t *got)
{
    trade_t t;
    gen_trade(7, 3, &t);
    t.t_steps = 172;
    mc_model_t m;
    mc_model_init(&m, &t);
    const size_t gz = (size_t)(2 * m.steps * MC_LANES);
    const size_t ng = (n + gz - 1) / gz;
    mc_scratch_t s;
    memset(&s, 0, sizeof(s));
    mc_jump_prepare(&s, 2 * m.steps);
    gsl_rng *r = rng_alloc();
    rng_seed_trade(r, 7, t.id, 0);
    uint32_t cur[3], st[3 * MC_LANES];
    mc_taus_get_state(r, cur);
    double *z = xmalloc(ng * gz * sizeof(*z));
    for (size_t g = 0; g < ng; g++) {
        for (int l = 0; l < MC_LANES; l++) {
            for (int c = 0; c < 3; c++)
                st[c * MC_LANES + l] = cur[c];
            mc_jump_apply(&s, cur);
        }
        mc_fast_group_normals(&m, st, MC_LANES, z + g * gz);
    }
    gsl_rng_free(r);
    mc_scratch_free(&s);
    *got = ng * gz;
    return z;
}

/* The normals are standard normal: Kolmogorov-Smirnov distance, the first
 * four moments, z1/z2 and step-to-step correlation, and the tail
 * frequencies beyond 4 and 5 sigma (both sides, and each side at 4). */
static void t_normals_distribution(void **state)
{
    size_t n;
    double *z = kernel_normals(N_NORMALS, &n);
    const double dn = (double)n;

    /* moments and correlations (pairs (z1, z2) of one step; z1 of
     * consecutive steps of one lane) */
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0, c12 = 0, cst = 0;
    size_t n4 = 0, n4p = 0, n4m = 0, n5 = 0, nc = 0, ns = 0;
    const size_t T = 172, gz = 2 * T * MC_LANES;
    for (size_t i = 0; i < n; i++) {
        double x = z[i], x2 = x * x;
        s1 += x;
        s2 += x2;
        s3 += x2 * x;
        s4 += x2 * x2;
        n4 += fabs(x) > 4.0;
        n4p += x > 4.0;
        n4m += x < -4.0;
        n5 += fabs(x) > 5.0;
        size_t in = i % gz;
        if (in < T * MC_LANES) {
            c12 += x * z[i + T * MC_LANES]; /* z1 with the same step's z2 */
            nc++;
            if (in + MC_LANES < T * MC_LANES) {
                cst += x * z[i + MC_LANES]; /* with the next step's z1 */
                ns++;
            }
        }
    }
    double mean = s1 / dn, var = s2 / dn - mean * mean;
    double skew = s3 / dn, kurt = s4 / dn - 3.0; /* about 0 mean, unit variance */
    print_message("n %zu: mean %.3g var-1 %.3g skew %.3g kurt %.3g corr(z1,z2) %.3g "
                  "corr(step) %.3g\n", n, mean, var - 1.0, skew, kurt, c12 / (double)nc,
                  cst / (double)ns);
    /* five standard errors of each estimate */
    assert_true(fabs(mean) < 5.0 / sqrt(dn));
    assert_true(fabs(var - 1.0) < 5.0 * sqrt(2.0 / dn));
    assert_true(fabs(skew) < 5.0 * sqrt(6.0 / dn));
    assert_true(fabs(kurt) < 5.0 * sqrt(96.0 / dn));
    assert_true(fabs(c12 / (double)nc) < 5.0 / sqrt((double)nc));
    assert_true(fabs(cst / (double)ns) < 5.0 / sqrt((double)ns));

    /* tails: binomial counts within 5 standard deviations; beyond 5 sigma
     * (5.7 expected at 10^7) a Poisson count, at least one and not too many */
    double p4 = 2.0 * norm_cdf(-4.0), p5 = 2.0 * norm_cdf(-5.0);
    double e4 = dn * p4, e5 = dn * p5;
    print_message("beyond 4 sigma %zu (+%zu -%zu), expected %.1f; beyond 5 sigma %zu, "
                  "expected %.2f\n", n4, n4p, n4m, e4, n5, e5);
    assert_true(fabs((double)n4 - e4) < 5.0 * sqrt(e4));
    assert_true(fabs((double)n4p - e4 / 2) < 5.0 * sqrt(e4 / 2));
    assert_true(fabs((double)n4m - e4 / 2) < 5.0 * sqrt(e4 / 2));
    assert_true((double)n5 <= e5 + 6.0 * sqrt(e5) + 2.0);
    if (SAMPLER_SCALE == 1)
        assert_true(n5 >= 1);

    /* Kolmogorov-Smirnov: sup |F_n - Phi| below the 0.1 % critical value */
    qsort(z, n, sizeof(*z), cmp_double);
    double d = 0.0;
    for (size_t i = 0; i < n; i++) {
        double f = norm_cdf(z[i]);
        double a = fabs(f - (double)i / dn), b = fabs((double)(i + 1) / dn - f);
        d = a > d ? a : d;
        d = b > d ? b : d;
    }
    print_message("KS distance %.3g, critical (0.1 %%) %.3g\n", d, 1.95 / sqrt(dn));
    assert_true(d < 1.95 / sqrt(dn));
    free(z);
}

/* Distance of x from y in units in the last place of y. */
static double ulps(double x, double y)
{
    double u = nextafter(fabs(y), INFINITY) - fabs(y);
    return fabs(x - y) / u;
}

/* cos and sin of 2 pi f to about 2^-60 absolute: the argument 2 pi f as a
 * double-double (hi + lo), then the first-order correction for lo. */
static void ref_sincos_2pi(double f, double *c, double *s)
{
    const double hi2pi = 0x1.921fb54442d18p2, lo2pi = 0x1.1a62633145c07p-52;
    double xh = hi2pi * f;
    double xl = fma(hi2pi, f, -xh) + lo2pi * f;
    double ch = cos(xh), sh = sin(xh);
    *c = ch - sh * xl;
    *s = sh + ch * xl;
}

/* Worst errors of one copy's math over n inputs (its own share of the
 * tails: the smallest and largest uniforms, exp's range ends). */
typedef struct math_err {
    double exp_ulp, log_ulp, sc_abs, sc_ulp;
} math_err_t;

static math_err_t math_errors(const mc_isa_t *isa, size_t n)
{
    math_err_t e = {0, 0, 0, 0};
    uint64_t x = 0x243f6a8885a308d3ULL;
    for (size_t i = 0; i < n; i++) {
        x = fs_mix64(x);
        uint32_t k = (uint32_t)x;
        /* every 16th input from the tails: k < 2^20 (u <= 2^-12, |z| >= 4.1)
         * or k > 2^32 - 2^20 (u near 1) */
        if (i % 16 == 0)
            k = (x >> 32) & 1 ? k >> 12 : ~(k >> 12);
        double u = ((double)k + 0.5) * 0x1p-32;
        double a = i % 2 ? (u - 0.5) * 20.0 : (u - 0.5) * 1460.0; /* [-730, 730] */
        double v = ulps(isa->math_exp(a), exp(a));
        e.exp_ulp = v > e.exp_ulp ? v : e.exp_ulp;
        v = ulps(isa->math_log(u), log(u));
        e.log_ulp = v > e.log_ulp ? v : e.log_ulp;
        double f = ((double)(uint32_t)(x >> 32) + 0.5) * 0x1p-32 - 0.5, c, s, rc, rs;
        isa->math_sincos_2pi(f, &c, &s);
        ref_sincos_2pi(f, &rc, &rs);
        v = fmax(fabs(c - rc), fabs(s - rs));
        e.sc_abs = v > e.sc_abs ? v : e.sc_abs;
        if (fabs(rc) >= 0x1p-10) {
            v = ulps(c, rc);
            e.sc_ulp = v > e.sc_ulp ? v : e.sc_ulp;
        }
        if (fabs(rs) >= 0x1p-10) {
            v = ulps(s, rs);
            e.sc_ulp = v > e.sc_ulp ? v : e.sc_ulp;
        }
    }
    return e;
}

/* The inline exp / log / sincos agree with libm: 10^8 inputs on the copy in
 * use, 10^6 on every other copy the CPU runs. */
static void t_math_accuracy(void **state)
{
    const mc_isa_t *cur = mc_isa_current();
    for (int i = 0; i < mc_isa_count(); i++) {
        const mc_isa_t *isa = mc_isa_get(i);
        if (!isa)
            continue;
        size_t n = isa == cur ? N_MATH : N_MATH / 100;
        math_err_t e = math_errors(isa, n);
        print_message("%-6s %9zu inputs: exp %.3f ulp, log %.3f ulp, sincos %.3g abs, "
                      "%.3f ulp (|result| >= 2^-10)\n", isa->name, n, e.exp_ulp, e.log_ulp,
                      e.sc_abs, e.sc_ulp);
        assert_true(e.exp_ulp <= 1.0);
        assert_true(e.log_ulp <= 1.0);
        assert_true(e.sc_abs <= 0x1p-52);
        assert_true(e.sc_ulp <= 2.0);
    }
}

/* Price t with the given algorithm on the copy in use. */
static result_t price(const trade_t *t, mc_algo_t algo, int64_t paths, mc_work_t *w)
{
    mc_opts_t o;
    mc_opts_default(&o);
    o.algo = algo;
    o.seed = 11;
    o.paths = paths;
    result_t r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(mc_price(t, &o, w, &r), FS_OK);
    return r;
}

/* Every copy the CPU runs prices the same trades: the copies with FMA give
 * the same bits (so one fp flavour covers them), the baseline without FMA
 * agrees within its standard errors (and in fact to ~1e-12 relative); the
 * normals of all copies agree to a few ulps. Each copy names its flavour. */
static void t_isa_copies_agree(void **state)
{
    enum { NT = 6 };
    result_t ref[NT][2];
    int nrun = 0;
    mc_work_t *w = mc_work_new();
    size_t nz;
    mc_isa_select(NULL);
    double *z0 = kernel_normals(200000, &nz);
    for (int i = 0; i < mc_isa_count(); i++) {
        const mc_isa_t *isa = mc_isa_get(i);
        if (!isa)
            continue;
        assert_int_equal(mc_isa_select(isa->name), 0);
        assert_ptr_equal(mc_isa_current(), isa);
        const char *fl = mc_fp_flavour();
        assert_true(!strncmp(fl, isa->fma ? "fma-" : "nofma-", isa->fma ? 4 : 6));
        assert_true(strstr(fl, isa->native ? "-native" : "-portable") != NULL);
        mc_build_t b = mc_build_this();
        assert_string_equal(b.flavour, fl);
        nrun++;
        for (int k = 0; k < NT; k++) {
            trade_t t;
            gen_trade(5, k, &t);
            for (int g = 0; g < 2; g++) {
                result_t r = price(&t, g ? MC_DELTAVEGA : MC_PVONLY, 4001, w);
                if (nrun == 1) {
                    ref[k][g] = r;
                    continue;
                }
                const result_t *q = &ref[k][g];
                /* within a tenth of a standard error, whichever copies */
                assert_true(fabs(r.pv - q->pv) <= 0.1 * q->pv_stderr + 1e-9 * fabs(q->pv));
                if (g)
                    assert_true(fabs(r.delta - q->delta) <= 0.1 * q->delta_stderr + 1e-9 * fabs(q->delta));
            }
        }
        size_t nz2;
        double *z = kernel_normals(200000, &nz2);
        assert_int_equal(nz, nz2);
        double md = 0.0;
        for (size_t j = 0; j < nz; j++)
            md = fmax(md, fabs(z[j] - z0[j]));
        print_message("%-6s fma %d flavour %s: normals within %.3g of the default copy's\n",
                      isa->name, isa->fma, fl, md);
        assert_true(md <= 1e-13);
        free(z);
    }
    /* the copies with FMA: bit for bit the same prices */
    const mc_isa_t *fa = NULL;
    result_t fr[NT][2];
    for (int i = 0; i < mc_isa_count(); i++) {
        const mc_isa_t *isa = mc_isa_get(i);
        if (!isa || !isa->fma)
            continue;
        assert_int_equal(mc_isa_select(isa->name), 0);
        for (int k = 0; k < NT; k++) {
            trade_t t;
            gen_trade(5, k, &t);
            for (int g = 0; g < 2; g++) {
                result_t r = price(&t, g ? MC_DELTAVEGA : MC_PVONLY, 4001, w);
                if (!fa)
                    fr[k][g] = r;
                else if (memcmp(&r.pv, &fr[k][g].pv, 6 * sizeof(double)))
                    fail_msg("copies %s and %s differ in bits on trade %d", fa->name, isa->name, k);
            }
        }
        if (!fa)
            fa = isa;
    }
    mc_isa_select(NULL);
    assert_true(mc_isa_select("no-such-copy") == -1);
    assert_true(mc_isa_current() == mc_isa_get(0) || mc_isa_get(0) == NULL);
    free(z0);
    mc_work_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_normals_distribution),
        cmocka_unit_test(t_math_accuracy),
        cmocka_unit_test(t_isa_copies_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
