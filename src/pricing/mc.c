/* mc.c - Monte Carlo pricing of one trade: options, work space, dispatch to
 * the kernels (mc_kernel.c), the synthetic algorithm and failure injection. */
#include "finsim/pricing/mc.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "finsim/base/config_build.h"
#include "finsim/trade/rng.h"
#include "finsim/base/util.h"
#include "mc_kernel.h"

/* Salt of the failure-injection draw ("failure"): keeps it independent of
 * every other per-trade decision drawn with rng_trade_uniform. */
#define MC_FAILURE_SALT 0x6661696c75726500ULL

/* Reusable per-thread work space. */
struct mc_work {
    gsl_rng *rng;            /* taus2 generator, reseeded for every trade */
    mc_scratch_t scratch;    /* kernel buffers and jump tables */
    int delayed;             /* synthetic: the start delay has been slept */
    unsigned char *mem;      /* synthetic: memory held and touched */
    size_t mem_len;          /* bytes in mem */
    char why[160];           /* why the last trade failed FS_E_NUMERIC or
                              * FS_E_TOO_LARGE ("" otherwise) */
};

const char *mc_work_why(const mc_work_t *w)
{
    return w->why;
}

/* FS_OK when every figure e holds is finite, else FS_E_NUMERIC with the
 * first offender named in why. Figures not computed (Greeks of pvonly, vega
 * of sigma1 = 0) are NaN by definition and not checked. */
static int check_finite(const mc_estimate_t *e, int greeks, int vega, char *why, size_t len)
{
    const struct {
        const char *name;
        double v;
        int on;
    } f[] = {{"pv", e->pv, 1},          {"pv_stderr", e->pv_se, 1},  {"delta", e->delta, greeks},
             {"delta_stderr", e->delta_se, greeks}, {"vega", e->vega, vega}, {"vega_stderr", e->vega_se, vega}};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (!f[i].on || isfinite(f[i].v))
            continue;
        const char *hint = isnan(f[i].v) && strstr(f[i].name, "stderr")
                               ? "too few paths for a standard error (at least 3 for the fast kernel, 2 for the reference)"
                               : "the figures overflow the double range (notional, warrants and 1/strike too large together)";
        snprintf(why, len, "%s is %g, not a finite number: %s", f[i].name, f[i].v, hint);
        return FS_E_NUMERIC;
    }
    return FS_OK;
}

/* Defaults: pvonly on the fast kernel, seed 1, paths from each trade, no
 * synthetic work, no injected failures. Cannot fail. */
void mc_opts_default(mc_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = 1;
}

/* Algorithm from its name; -1 when unknown. */
int mc_algo_parse(const char *s)
{
    if (!strcmp(s, "pvonly")) return MC_PVONLY;
    if (!strcmp(s, "deltavega")) return MC_DELTAVEGA;
    if (!strcmp(s, "synthetic")) return MC_SYNTHETIC;
    return -1;
}

/* Name of an algorithm (static string, never NULL). */
const char *mc_algo_name(mc_algo_t a)
{
    return a == MC_PVONLY ? "pvonly" : a == MC_DELTAVEGA ? "deltavega" : "synthetic";
}

/* Kernel from its name ("fast", "reference"); -1 when unknown. */
int mc_kernel_parse(const char *s)
{
    if (!strcmp(s, "fast")) return MC_KERNEL_FAST;
    if (!strcmp(s, "reference")) return MC_KERNEL_REFERENCE;
    return -1;
}

/* Name of a kernel (static string, never NULL). */
const char *mc_kernel_name(mc_kernel_t k)
{
    return k == MC_KERNEL_FAST ? "fast" : "reference";
}

/* Allocate a work space. Its buffers grow on demand inside mc_price. Aborts
 * (like xmalloc) if even this small struct or the generator cannot be had.
 * Free with mc_work_free. */
mc_work_t *mc_work_new(void)
{
    mc_work_t *w = xcalloc(1, sizeof(*w));
    w->rng = rng_alloc();
    return w;
}

/* Release w and everything it holds. Accepts NULL. */
void mc_work_free(mc_work_t *w)
{
    if (!w)
        return;
    gsl_rng_free(w->rng);
    mc_scratch_free(&w->scratch);
    free(w->mem);
    free(w);
}

/* See mc_kernel.h. */
void mc_work_set_block(mc_work_t *w, int pairs)
{
    mc_scratch_set_block(&w->scratch, pairs);
}

void mc_work_set_split(mc_work_t *w, int split)
{
    w->scratch.split = split;
}

/* True when failure injection picks trade_id: a uniform that depends only on
 * (seed, id) against failure_p, so reruns and resumes fail the same trades. */
int mc_injected_failure(const mc_opts_t *o, int64_t trade_id)
{
    if (!(o->failure_p > 0.0))
        return 0;
    return rng_trade_uniform(o->seed, trade_id, MC_FAILURE_SALT) < o->failure_p;
}

/* Sleep ms milliseconds (restarted after signals). */
static void sleep_ms(double ms)
{
    if (!(ms > 0.0))
        return;
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000.0);
    ts.tv_nsec = (long)((ms - 1000.0 * (double)ts.tv_sec) * 1e6);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_nsec = 999999999L;
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* Synthetic work: hold mem_mb MB of touched memory in w and keep the CPU busy
 * until duration_ms have passed since t0. Returns FS_OK, or FS_E_NOMEM when
 * the memory cannot be allocated (w then holds none). */
static int synthetic(const mc_opts_t *o, mc_work_t *w, double t0)
{
    size_t bytes = 0;
    if (o->mem_mb > 0.0) {
        double b = o->mem_mb * 1048576.0;
        if (!(b < (double)(SIZE_MAX / 2)))
            return FS_E_NOMEM;
        bytes = (size_t)b;
    }
    if (bytes != w->mem_len) {
        free(w->mem);
        w->mem = NULL;
        w->mem_len = 0;
        if (bytes) {
            w->mem = malloc(bytes);
            if (!w->mem)
                return FS_E_NOMEM;
            memset(w->mem, 1, bytes); /* touch every page */
            w->mem_len = bytes;
        }
    }
    const double until = t0 + o->task_duration_ms / 1000.0;
    if (!(o->task_duration_ms > 0.0))
        return FS_OK;
    /* xorshift work spread over the held pages; the clock is read every
     * 4096 steps (a few microseconds) */
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    size_t pos = 0;
    do {
        for (int i = 0; i < 4096; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if (w->mem_len) {
                w->mem[pos] += (unsigned char)x;
                pos += 4096 + 64; /* next page, shifted cache line */
                if (pos >= w->mem_len)
                    pos %= w->mem_len;
            }
        }
    } while (fs_now() < until);
    if (w->mem_len)
        w->mem[0] ^= (unsigned char)(x | 1); /* keep the work observable */
    return FS_OK;
}

/* Running pooled statistics of one figure over rounds: units (paths for the
 * reference kernel, antithetic pairs for the fast one) are i.i.d. samples,
 * so the rounds pool as one sample of all their units. */
typedef struct pool {
    double units, mean, ss; /* units so far, their mean, sum of squared deviations */
} pool_t;

/* Add a round of u units with estimate est and standard error se. */
static void pool_add(pool_t *p, double u, double est, double se)
{
    double var = se * se * u; /* the round's unit variance (unbiased) */
    double tot = p->units + u, d = est - p->mean;
    p->ss += var * (u - 1) + d * d * p->units * u / tot;
    p->mean += d * u / tot;
    p->units = tot;
}

static void pool_get(const pool_t *p, double *est, double *se)
{
    *est = p->mean;
    *se = p->units > 1 ? sqrt(p->ss / (p->units - 1) / p->units) : NAN;
}

/* --target-stderr: price t in rounds until the PV's relative standard error
 * is at most o->target_rel_se or the path budget is spent. Round 1 has n0
 * paths (the trade's trials or --paths, made even), each later round as many
 * as all before it (the total doubles), the last one cut to the budget.
 * Rounds are consecutive blocks of the trade's own stream: the fast kernel's
 * round starts at the pair after the previous round's last (jumped ahead
 * 2 t_steps draws per pair), the reference kernel's stream simply goes on.
 * So the figures depend only on (trade, options), never on ranks. */
static int price_rounds(const mc_model_t *m, const trade_t *t, const mc_opts_t *o, mc_work_t *w, int greeks,
                        int64_t n0, mc_estimate_t *e, int64_t *used)
{
    int64_t budget = o->max_paths > 0 ? o->max_paths : MC_MAX_PATHS_DEFAULT;
    if (budget > TRADE_MAX_WORK / t->t_steps)
        budget = TRADE_MAX_WORK / t->t_steps;
    budget -= budget % 2;
    n0 += n0 % 2;
    if (n0 > budget)
        n0 = budget;
    if (n0 < 4)
        n0 = 4; /* a standard error needs two pairs */
    const int fast = o->kernel != MC_KERNEL_REFERENCE;
    uint32_t cur[3];
    mc_taus_get_state(w->rng, cur);
    pool_t pv = {0}, dl = {0}, vg = {0};
    int64_t total = 0;
    for (int64_t k = n0;; k = total) {
        if (k > budget - total && total > 0)
            k = budget - total;
        mc_estimate_t r;
        if (fast) {
            mc_taus_set_state(w->rng, cur);
            int st = mc_kernel_fast(m, k, w->rng, greeks, &w->scratch, &r);
            if (st != FS_OK)
                return st;
            mc_jump_prepare(&w->scratch, 2 * m->steps); /* the pair after the round's last */
            for (int64_t p = 0; p < k / 2; p++)
                mc_jump_apply(&w->scratch, cur);
        } else {
            mc_kernel_reference(m, t, k, w->rng, greeks, &r);
        }
        const double u = fast ? (double)(k / 2) : (double)k;
        pool_add(&pv, u, r.pv, r.pv_se);
        if (greeks) {
            pool_add(&dl, u, r.delta, r.delta_se);
            pool_add(&vg, u, r.vega, r.vega_se);
        }
        total += k;
        double est, se;
        pool_get(&pv, &est, &se);
        if (!(se > o->target_rel_se * fabs(est)) || total >= budget)
            break;
    }
    pool_get(&pv, &e->pv, &e->pv_se);
    e->delta = e->delta_se = e->vega = e->vega_se = NAN;
    if (greeks) {
        pool_get(&dl, &e->delta, &e->delta_se);
        if (t->sigma1 > 0.0)
            pool_get(&vg, &e->vega, &e->vega_se);
    }
    *used = total;
    return FS_OK;
}

/* Price t under o into r (see mc.h). The injected-failure decision comes
 * first, for every algorithm; the synthetic start delay is slept once per
 * work space, before its first trade, and is not part of compute_s. */
int mc_price(const trade_t *t, const mc_opts_t *o, mc_work_t *w, result_t *r)
{
    const int32_t rank = r->rank;
    if (o->algo == MC_SYNTHETIC && !w->delayed) {
        sleep_ms(o->delay_start_ms);
        w->delayed = 1;
    }
    const double t0 = fs_now();
    w->why[0] = '\0';
    if (mc_injected_failure(o, t->id)) {
        result_fail(r, t->id, FS_E_INJECTED, rank);
        return r->status;
    }
    result_fail(r, t->id, FS_OK, rank); /* Greeks NaN unless computed */

    if (o->algo == MC_SYNTHETIC) {
        int st = synthetic(o, w, t0);
        if (st != FS_OK) {
            result_fail(r, t->id, st, rank);
            return r->status;
        }
        r->pv = 0.0;
        r->pv_stderr = 0.0;
        r->paths = 0;
        r->compute_s = fs_now() - t0;
        r->inputs = mc_inputs_hash(o, t);
        return r->status;
    }
    if (o->algo != MC_PVONLY && o->algo != MC_DELTAVEGA) {
        result_fail(r, t->id, FS_E_DOMAIN, rank);
        return r->status;
    }

    const int greeks = o->algo == MC_DELTAVEGA;
    const int64_t n = o->paths > 0 ? o->paths : t->trials;
    /* the work limit of trade validation holds for a --paths override too */
    if (o->paths > 0 && (o->paths > TRADE_MAX_TRIALS || o->paths * (int64_t)t->t_steps > TRADE_MAX_WORK)) {
        snprintf(w->why, sizeof(w->why), "--paths %lld x t_steps %d = %lld exceeds the limit %lld (paths x t_steps)",
                 (long long)o->paths, (int)t->t_steps, (long long)o->paths * t->t_steps, TRADE_MAX_WORK);
        result_fail(r, t->id, FS_E_TOO_LARGE, rank);
        return r->status;
    }
    mc_model_t m;
    mc_estimate_t e;
    mc_model_init(&m, t);
    rng_seed_trade(w->rng, o->seed, t->id, 0);
    int64_t used = n;
    int st = o->target_rel_se > 0.0 ? price_rounds(&m, t, o, w, greeks, n, &e, &used)
             : o->kernel == MC_KERNEL_REFERENCE ? (mc_kernel_reference(&m, t, n, w->rng, greeks, &e), FS_OK)
                                                : mc_kernel_fast(&m, n, w->rng, greeks, &w->scratch, &e);
    if (st != FS_OK) {
        result_fail(r, t->id, st, rank);
        return r->status;
    }
    if (check_finite(&e, greeks, greeks && t->sigma1 > 0.0, w->why, sizeof(w->why)) != FS_OK) {
        result_fail(r, t->id, FS_E_NUMERIC, rank);
        r->compute_s = fs_now() - t0;
        return r->status;
    }
    r->pv = e.pv;
    r->pv_stderr = e.pv_se;
    r->delta = e.delta;
    r->delta_stderr = e.delta_se;
    r->vega = e.vega;
    r->vega_stderr = e.vega_se;
    r->paths = used;
    r->compute_s = fs_now() - t0;
    r->inputs = mc_inputs_hash(o, t);
    return r->status;
}

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

/* 64-bit hash of a string (FNV-1a, then mixed). */
static uint64_t str_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return fs_mix64(h);
}

mc_build_t mc_build_this(void)
{
    mc_build_t b = {FINSIM_VERSION, MC_KERNEL_VERSION, mc_fp_flavour()};
    return b;
}

uint64_t mc_inputs_hash(const mc_opts_t *o, const trade_t *t)
{
    const mc_build_t b = mc_build_this();
    return mc_inputs_hash_build(o, t, &b);
}

uint64_t mc_inputs_hash_build(const mc_opts_t *o, const trade_t *t, const mc_build_t *b)
{
    const int64_t paths = o->algo == MC_SYNTHETIC ? 0 : o->paths > 0 ? o->paths : t->trials;
    const uint64_t v[] = {o->seed, (uint64_t)o->algo, (uint64_t)o->kernel, (uint64_t)paths,
                          (uint64_t)t->id, dbits(t->fx1), dbits(t->drift), dbits(t->maturity),
                          (uint64_t)(uint32_t)t->t_steps, (uint64_t)(uint32_t)t->trials, dbits(t->ro),
                          dbits(t->v), dbits(t->sigma1), (uint64_t)t->warrants_no,
                          dbits(t->notional_per_warr), dbits(t->strike), str_hash(b->version),
                          (uint64_t)b->kernel_version, str_hash(b->flavour)};
    uint64_t h = 0x66696e73696d3032ULL; /* "finsim02" */
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        h = fs_mix64(h ^ v[i]);
    if (o->target_rel_se > 0.0 && o->algo != MC_SYNTHETIC) /* fixed-path fingerprints stay as they were */
        h = fs_mix64(fs_mix64(h ^ dbits(o->target_rel_se)) ^ (uint64_t)o->max_paths);
    return h ? h : 1; /* 0 means "not priced" */
}
