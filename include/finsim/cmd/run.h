/* run.h - configuration of the main job (finsim run). */
#ifndef FINSIM_RUN_H
#define FINSIM_RUN_H

#include <stdint.h>
#include "finsim/pricing/mc.h"
#include "finsim/store/store.h"

typedef enum run_schedule {
    RUN_STATIC = 0,  /* contiguous windows decided up front */
    RUN_DYNAMIC = 1  /* chunks handed out on demand by rank 0 */
} run_schedule_t;

typedef enum run_balance {
    RUN_BALANCE_COUNT = 0, /* equal numbers of trades per rank */
    RUN_BALANCE_COST = 1   /* equal paths x t_steps per rank (reads the trades once more on rank 0) */
} run_balance_t;

typedef struct run_cfg {
    const char *store_url;       /* --store */
    const char *output;          /* --output FILE.h5 */
    int64_t start_trade;         /* --start-trade */
    int64_t window;              /* --trade-window (range mode) */
    int all_trades;              /* --all-trades: every trade in the store */
    const char *ids_file;        /* --ids-file */
    int list_mode;               /* ids come from a list (all_trades or ids_file) */
    mc_opts_t mo;                /* pricing options */
    int batch;                   /* trades per pipelined batch */
    run_schedule_t schedule;     /* --schedule */
    run_balance_t balance;       /* --balance (static) */
    int64_t chunk;               /* --chunk (dynamic; 0 = auto) */
    int h5_collective;           /* --h5-write collective (static schedule only) */
    int resume;                  /* --resume */
    int mirror;                  /* mirror results to the store (default 1) */
    int failure_exit;            /* an injected failure ends the rank (default 1) */
    int have_expect;             /* --expect-checksum given */
    uint64_t expect_checksum;    /* its value */
    const char *events_path;     /* --events FILE (JSON lines, rank 0) */
    double progress_interval;    /* seconds between progress lines (0 = off) */
    int quiet;                   /* --quiet: report and errors only */
    store_opts_t so;             /* store options (password from env / file) */
    const char *password_file;   /* --password-file */
} run_cfg_t;

#endif
