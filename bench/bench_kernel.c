/* bench_kernel.c - per-core speed of the Monte Carlo kernels, and the cost of
 * their random numbers (run through bench/bench_kernel.sh).
 *
 * Prints, for realistic trades (gen_trade: 10,000 paths x 172 steps):
 *   - ms per trade and ns per path-step, pvonly and deltavega, fast and
 *     reference kernels (median over trades), with the SE ratio fast/reference;
 *   - the fast kernel fed precomputed normals (distance to the RNG floor);
 *   - the fast kernel's normals alone (taus2 + vectorised Box-Muller);
 *   - GSL generators and samplers in ns per draw, for the choice of both.
 * Figures only: it checks nothing and always exits 0 unless misused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>
#include <time.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "finsim/trade/gen.h"
#include "finsim/pricing/mc.h"
#include "finsim/trade/rng.h"
#include "finsim/base/util.h"
#include "mc_kernel.h"

/* Clock of every timing: wall (fs_now) by default; with --cpu-clock the
 * thread's CPU time, which time spent preempted by other work on a shared
 * machine does not inflate. */
static int use_cpu_clock;

static double now(void)
{
    if (!use_cpu_clock)
        return fs_now();
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Benchmark settings from the command line. */
typedef struct bench_cfg {
    int trades;      /* trades timed per fast-kernel figure */
    int ref_trades;  /* trades timed per reference-kernel figure */
    int64_t paths;   /* paths per trade, 0 = the trade's trials */
    uint64_t seed;   /* portfolio and run seed */
} bench_cfg_t;

/* qsort comparator for doubles. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of v[0..n-1] (sorts v). */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Time mc_price over ntr trades for one algorithm and kernel: each trade
 * the best of reps runs (the machine is shared), then the median over trades
 * into *sec; per-trade pv_stderr into se[] (NULL ok). Returns the path-steps
 * of one trade. */
static double time_price(const bench_cfg_t *cfg, mc_work_t *w, mc_algo_t algo,
                         mc_kernel_t kernel, int ntr, int reps, double *sec, double *se)
{
    mc_opts_t o;
    mc_opts_default(&o);
    o.algo = algo;
    o.kernel = kernel;
    o.seed = cfg->seed;
    o.paths = cfg->paths;
    double *el = xmalloc((size_t)ntr * sizeof(*el));
    double work = 0.0;
    for (int i = 0; i < ntr; i++) {
        trade_t t;
        result_t r;
        gen_trade(cfg->seed, i, &t);
        r.rank = 0;
        el[i] = 1e30;
        for (int k = 0; k < reps; k++) {
            double t0 = now();
            mc_price(&t, &o, w, &r);
            double e = now() - t0;
            el[i] = e < el[i] ? e : el[i];
        }
        if (se)
            se[i] = r.pv_stderr;
        work = (double)r.paths * t.t_steps;
    }
    *sec = median(el, ntr);
    free(el);
    return work;
}

/* Print one kernel line. */
static void print_line(const char *what, double sec, double work)
{
    printf("  %-34s %8.2f ms/trade  %6.2f ns/path-step\n", what, sec * 1e3, sec * 1e9 / work);
}

/* The fast kernel's stages on trade 0: normals alone, and paths from
 * precomputed normals (pvonly and deltavega). Returns ns per normal of the
 * normals alone (NaN when the buffer could not be had). */
static double bench_stages(const bench_cfg_t *cfg)
{
    trade_t t;
    gen_trade(cfg->seed, 0, &t);
    int64_t n = cfg->paths > 0 ? cfg->paths : t.trials;
    int64_t np = (n + 1) / 2, ng = (np + MC_LANES - 1) / MC_LANES;
    mc_model_t m;
    mc_model_init(&m, &t);
    mc_scratch_t s;
    memset(&s, 0, sizeof(s));
    mc_jump_prepare(&s, 2 * m.steps);
    gsl_rng *r = rng_alloc();
    rng_seed_trade(r, cfg->seed, t.id, 0);

    size_t gz = (size_t)(2 * m.steps * MC_LANES);
    uint32_t *st = xmalloc((size_t)ng * MC_LANES * 3 * sizeof(*st));
    size_t stride = (size_t)ng * MC_LANES;
    uint32_t cur[3];
    mc_taus_get_state(r, cur);
    for (size_t j = 0; j < stride; j++) {
        for (int c = 0; c < 3; c++)
            st[c * stride + j] = cur[c];
        mc_jump_apply(&s, cur);
    }
    double *zall = malloc((size_t)ng * gz * sizeof(*zall));
    double *vals = xmalloc((size_t)MC_NSCEN * MC_LANES * sizeof(*vals));
    double ns_normal = NAN;
    if (!zall) {
        printf("  (no memory for the precomputed normals)\n");
        goto out_free;
    }
    double el[7];
    double work = (double)(2 * np) * m.steps;
    /* normals alone into one group buffer (stays in cache) */
    for (int rep = 0; rep < 7; rep++) {
        double t0 = now();
        for (int64_t g = 0; g < ng; g++)
            mc_fast_group_normals(&m, st + g * MC_LANES, stride, zall);
        el[rep] = now() - t0;
    }
    double sec = median(el, 7);
    ns_normal = sec * 1e9 / ((double)ng * (double)gz);
    printf("  %-34s %8.2f ms/trade  %6.2f ns/normal\n", "normals only (taus2+Box-Muller)",
           sec * 1e3, ns_normal);
    for (int64_t g = 0; g < ng; g++)
        mc_fast_group_normals(&m, st + g * MC_LANES, stride, zall + g * gz);
    for (int greeks = 0; greeks < 2; greeks++) {
        for (int rep = 0; rep < 7; rep++) {
            double t0 = now();
            for (int64_t g = 0; g < ng; g++)
                mc_fast_group_paths(&m, zall + g * gz, greeks, vals, MC_LANES);
            el[rep] = now() - t0;
        }
        print_line(greeks ? "deltavega fed precomputed normals" : "pvonly fed precomputed normals",
                   median(el, 7), work);
    }
out_free:
    free(zall);
    free(vals);
    free(st);
    gsl_rng_free(r);
    mc_scratch_free(&s);
    return ns_normal;
}

/* ns per draw of a GSL generator (gsl_rng_get) and per normal of its
 * ziggurat and Box-Muller (gsl_ran_gaussian) samplers. */
static void bench_gsl(const gsl_rng_type *type, size_t n, double *sink)
{
    gsl_rng *r = gsl_rng_alloc(type);
    double el[3][5];
    unsigned long acc = 0;
    double sum = 0.0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        for (size_t i = 0; i < n; i++)
            acc += gsl_rng_get(r);
        double t1 = now();
        for (size_t i = 0; i < n; i++)
            sum += gsl_ran_gaussian_ziggurat(r, 1.0);
        double t2 = now();
        for (size_t i = 0; i < n; i++)
            sum += gsl_ran_gaussian(r, 1.0);
        double t3 = now();
        el[0][rep] = t1 - t0;
        el[1][rep] = t2 - t1;
        el[2][rep] = t3 - t2;
    }
    *sink += sum + (double)(acc & 1);
    printf("  %-10s gsl_rng_get %5.2f ns   ziggurat %5.2f ns   gsl_ran_gaussian %5.2f ns\n",
           gsl_rng_name(r), median(el[0], 5) * 1e9 / n, median(el[1], 5) * 1e9 / n,
           median(el[2], 5) * 1e9 / n);
    gsl_rng_free(r);
}

/* Generators and samplers compared, ns per uniform / normal. */
static void bench_rng(void)
{
    const size_t n = 1720000; /* one trade's worth */
    double sink = 0.0;
    bench_gsl(gsl_rng_taus2, n, &sink);
    bench_gsl(gsl_rng_gfsr4, n, &sink);
    bench_gsl(gsl_rng_mt19937, n, &sink);

    uint32_t *buf = xmalloc(n * sizeof(*buf));
    gsl_rng *r = rng_alloc();
    rng_seed_trade(r, 1, 0, 0);
    uint32_t st[3];
    mc_taus_get_state(r, st);
    double el[5];
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        mc_taus_fill(st, buf, n);
        el[rep] = now() - t0;
        sink += buf[n - 1];
    }
    printf("  %-10s inline, same stream bit for bit: %5.2f ns per draw\n", "taus2", median(el, 5) * 1e9 / n);

    /* the transforms alone, scalar libm / GSL, on the draws above */
    double *z = xmalloc(n * sizeof(*z));
    double el2[5];
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        for (size_t i = 0; i + 1 < n; i += 2) {
            double u1 = ((double)buf[i] + 0.5) * 0x1p-32, u2 = ((double)buf[i + 1] + 0.5) * 0x1p-32;
            double rad = sqrt(-2.0 * log(u1));
            z[i] = rad * cos(6.283185307179586 * u2);
            z[i + 1] = rad * sin(6.283185307179586 * u2);
        }
        double t1 = now();
        for (size_t i = 0; i < n; i++)
            z[i] = gsl_cdf_ugaussian_Pinv(((double)buf[i] + 0.5) * 0x1p-32);
        double t2 = now();
        el[rep] = t1 - t0;
        el2[rep] = t2 - t1;
        sink += z[n / 2];
    }
    printf("  transform only, scalar: Box-Muller (libm) %5.2f ns, inverse CDF AS241 "
           "(gsl_cdf_ugaussian_Pinv) %5.2f ns per normal\n",
           median(el, 5) * 1e9 / n, median(el2, 5) * 1e9 / n);
    if (sink == 42.0)
        printf(" \n");
    free(z);
    free(buf);
    gsl_rng_free(r);
}

/* Command line: [--trades N] [--ref-trades N] [--paths N] [--seed S]
 * [--isa NAME] [--cpu-clock] [--fast-only]. */
int main(int argc, char **argv)
{
    bench_cfg_t cfg = {.trades = 15, .ref_trades = 3, .paths = 0, .seed = 1};
    int fast_only = 0;
    const char *usage = "usage: bench_kernel [--trades N] [--ref-trades N] [--paths N] [--seed S] "
                        "[--isa NAME] [--cpu-clock] [--fast-only]\n";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cpu-clock")) {
            use_cpu_clock = 1;
            continue;
        }
        if (!strcmp(argv[i], "--fast-only")) {
            fast_only = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s", usage);
            return 2;
        }
        if (!strcmp(argv[i], "--isa")) {
            if (mc_isa_select(argv[++i])) {
                fprintf(stderr, "bench_kernel: this build or CPU has no kernel copy '%s'\n", argv[i]);
                return 2;
            }
            continue;
        }
        int64_t v;
        if (fs_parse_i64(argv[i + 1], &v) || v < 0) {
            fprintf(stderr, "bench_kernel: bad value %s\n", argv[i + 1]);
            return 2;
        }
        if (!strcmp(argv[i], "--trades") && v > 0)
            cfg.trades = (int)v;
        else if (!strcmp(argv[i], "--ref-trades") && v > 0)
            cfg.ref_trades = (int)v;
        else if (!strcmp(argv[i], "--paths"))
            cfg.paths = v;
        else if (!strcmp(argv[i], "--seed"))
            cfg.seed = (uint64_t)v;
        else {
            fprintf(stderr, "%s", usage);
            return 2;
        }
        i++;
    }
    mc_work_t *w = mc_work_new();
    double sec, work, pv_fast, dv_fast, pv_ref, dv_ref;
    double *se_fast = xmalloc((size_t)cfg.trades * sizeof(double));
    double *se_ref = xmalloc((size_t)cfg.ref_trades * sizeof(double));

    printf("Monte Carlo kernels, one core, gen_trade trades (seed %llu), %s paths x 172 steps\n",
           (unsigned long long)cfg.seed, cfg.paths ? "--paths" : "10,000 (trials)");
    printf("kernel copy: %s (fp flavour %s), clock: %s\n", mc_isa_current()->name, mc_fp_flavour(),
           use_cpu_clock ? "thread CPU time" : "wall");
    printf("fast kernel (median of %d trades, best of 3 runs each), reference kernel (median of %d trades):\n", cfg.trades,
           cfg.ref_trades);
    (void)time_price(&cfg, w, MC_PVONLY, MC_KERNEL_FAST, 2, 1, &sec, NULL); /* warm up */
    work = time_price(&cfg, w, MC_PVONLY, MC_KERNEL_FAST, cfg.trades, 3, &pv_fast, se_fast);
    print_line("fast pvonly", pv_fast, work);
    work = time_price(&cfg, w, MC_DELTAVEGA, MC_KERNEL_FAST, cfg.trades, 3, &dv_fast, NULL);
    print_line("fast deltavega", dv_fast, work);
    if (fast_only) { /* the fast kernel and its stages only (bench/bench_isa.sh) */
        printf("fast kernel stages (trade 0):\n");
        (void)bench_stages(&cfg);
        goto out;
    }
    work = time_price(&cfg, w, MC_PVONLY, MC_KERNEL_REFERENCE, cfg.ref_trades, 1, &pv_ref, se_ref);
    print_line("reference pvonly", pv_ref, work);
    work = time_price(&cfg, w, MC_DELTAVEGA, MC_KERNEL_REFERENCE, cfg.ref_trades, 1, &dv_ref, NULL);
    print_line("reference deltavega", dv_ref, work);
    printf("  deltavega / pvonly (fast)          %8.2f\n", dv_fast / pv_fast);
    printf("  speed-up fast / reference          %8.1f x pvonly, %.1f x deltavega\n", pv_ref / pv_fast,
           dv_ref / dv_fast);
    printf("  pv_stderr fast / reference, same paths, per trade:");
    double ratio[64];
    int nr = cfg.ref_trades < 64 ? cfg.ref_trades : 64;
    for (int i = 0; i < nr; i++) {
        ratio[i] = se_fast[i] / se_ref[i];
        printf(" %.3f", ratio[i]);
    }
    printf("  (median %.3f)\n", median(ratio, nr));

    printf("fast kernel stages (trade 0):\n");
    double ns_normal = bench_stages(&cfg);
    printf("generators and samplers, ns per uniform / normal (one trade's worth of draws):\n");
    bench_rng();
    printf("  fast kernel's vectorised sampler (taus2 jump-ahead lanes + Box-Muller, generator "
           "included): %5.2f ns per normal\n", ns_normal);
out:
    free(se_fast);
    free(se_ref);
    mc_work_free(w);
    return 0;
}
