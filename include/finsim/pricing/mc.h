/* mc.h - Monte Carlo pricing of one trade (the model of docs/DESIGN.md). */
#ifndef FINSIM_MC_H
#define FINSIM_MC_H

#include <stddef.h>
#include <stdint.h>
#include "finsim/trade/result.h"
#include "finsim/trade/trade.h"

typedef enum mc_algo {
    MC_PVONLY = 0,    /* PV and its standard error */
    MC_DELTAVEGA = 1, /* PV, delta and vega on common random numbers */
    MC_SYNTHETIC = 2  /* busy work of a given duration and memory (benchmarks) */
} mc_algo_t;

typedef enum mc_kernel {
    MC_KERNEL_FAST = 0,     /* production kernel (antithetic, bulk normals, SIMD) */
    MC_KERNEL_REFERENCE = 1 /* straightforward kernel: the model as written */
} mc_kernel_t;

typedef struct mc_opts {
    mc_algo_t algo;           /* what to compute */
    mc_kernel_t kernel;       /* which implementation */
    uint64_t seed;            /* run seed */
    int64_t paths;            /* > 0: override every trade's trials */
    double task_duration_ms;  /* synthetic: busy time per trade */
    double mem_mb;            /* synthetic: memory held per trade */
    double delay_start_ms;    /* synthetic: sleep before the first trade */
    double failure_p;         /* probability that a trade fails (injected) */
    double target_rel_se;     /* > 0: price in rounds until pv_stderr/|pv| <= this (--target-stderr) */
    int64_t max_paths;        /* with target_rel_se: most paths per trade (0: MC_MAX_PATHS_DEFAULT) */
} mc_opts_t;

/* --max-paths when not given: the largest trials a trade may ask for. The
 * work limit (paths x t_steps <= TRADE_MAX_WORK) caps it further. */
#define MC_MAX_PATHS_DEFAULT 10000000

/* Fill o with defaults: pvonly, fast kernel, seed 0, paths from the trade. */
void mc_opts_default(mc_opts_t *o);

/* Parse "pvonly" / "deltavega" / "synthetic"; -1 if unknown. */
int mc_algo_parse(const char *s);
const char *mc_algo_name(mc_algo_t a);
int mc_kernel_parse(const char *s);
const char *mc_kernel_name(mc_kernel_t k);

/* Version of the kernels' numbers: bumped whenever a change to either
 * kernel changes any figure (not for speed-ups that keep the bits), so that
 * --resume never mixes results of two kernel versions.
 *   1  the kernels up to the second hardening round
 *   2  smoothed knock-out in the Greeks' bumped scenarios */
#define MC_KERNEL_VERSION 2

/* The floating-point build flavour the kernels were compiled for, e.g.
 * "fma-native" or "nofma-portable": whether the target fuses multiply-adds
 * (MC_FMA in mc_kernel.c; the last bits differ without) and whether the build
 * was tuned with -march=native (FINSIM_NATIVE). Static string. */
const char *mc_fp_flavour(void);

/* What, besides a run's options and a trade, decides the bits of a result. */
typedef struct mc_build {
    const char *version;  /* finsim version (FINSIM_VERSION) */
    int kernel_version;   /* MC_KERNEL_VERSION */
    const char *flavour;  /* mc_fp_flavour() */
} mc_build_t;

/* This build's mc_build_t. */
mc_build_t mc_build_this(void);

/* Fingerprint of everything a priced result depends on: run seed,
 * algorithm, kernel, the paths actually used, every field of t (bits of
 * the numbers; the dates are informational and left out), and the build:
 * finsim version, kernel version and floating-point flavour. mc_price
 * stores it in result_t.inputs; --resume compares it with the trade it
 * would price, so results of another build or upgrade are priced again. */
uint64_t mc_inputs_hash(const mc_opts_t *o, const trade_t *t);

/* mc_inputs_hash for the build b (tests: another build's fingerprint). */
uint64_t mc_inputs_hash_build(const mc_opts_t *o, const trade_t *t, const mc_build_t *b);

/* Reusable per-thread scratch space (path arrays, random buffers). */
typedef struct mc_work mc_work_t;
mc_work_t *mc_work_new(void);
void mc_work_free(mc_work_t *w); /* accepts NULL */

/* Why the last mc_price on w failed with FS_E_NUMERIC or FS_E_TOO_LARGE
 * ("" otherwise). */
const char *mc_work_why(const mc_work_t *w);

/* Price trade t (already validated) into r. r->rank is left as is; every
 * other field is set. Returns r->status: FS_OK, FS_E_INJECTED when failure
 * injection picked this trade, FS_E_NOMEM when scratch memory could not be
 * allocated, FS_E_TOO_LARGE when a --paths override (o->paths) times
 * t->t_steps exceeds TRADE_MAX_WORK (the limit trade validation applies to
 * trials x t_steps), FS_E_NUMERIC when a computed figure (PV, a Greek or a standard
 * error) is not finite (all figures NaN then; mc_work_why says which). Deterministic: depends only on (*t, *o) and never on w's
 * history. */
int mc_price(const trade_t *t, const mc_opts_t *o, mc_work_t *w, result_t *r);

/* True when failure injection picks trade id under options o. */
int mc_injected_failure(const mc_opts_t *o, int64_t trade_id);

#endif
