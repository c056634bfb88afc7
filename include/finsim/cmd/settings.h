/* settings.h - the settings table of every command and the configs they fill. */
#ifndef FINSIM_SETTINGS_H
#define FINSIM_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "finsim/base/options.h"
#include "finsim/job/screen.h"
#include "finsim/market/market.h"
#include "finsim/pricing/mc.h"
#include "finsim/store/store.h"

/* Trades per pipelined store batch: the same range in every command. Redis
 * pipelines of more than 5000 commands were slower (bench/), and the file
 * store gains nothing from larger batches; memory per rank is one batch. */
#define SETTINGS_BATCH_MAX 5000

/* finsim generate */
typedef struct gen_cfg {
    const char *store_url;     /* --store */
    const char *eyxml;         /* --eyxml FILE */
    const char *eyxml_dir;     /* --eyxml-dir DIR */
    int64_t ntrades;           /* --trades (-1: not given) */
    int64_t start;             /* --start-trade */
    uint64_t seed;             /* --seed */
    int batch;                 /* --batch */
    const char *password_file; /* --password-file */
    store_opts_t so;           /* store options (password from env / file) */
} gen_cfg_t;

/* finsim export and finsim import */
typedef struct xfer_cfg {
    const char *store_url;     /* --store: export's source, import's destination */
    const char *to_url;        /* export --to */
    const char *eyxml;         /* export --eyxml */
    const char *dir;           /* --eyxml-dir */
    const char **files;        /* import --eyxml FILE (repeatable; malloc'ed array) */
    size_t nfiles;
    int64_t start;             /* export --start-trade */
    int have_start;            /* --start-trade was given */
    int64_t window;            /* export --trade-window */
    int all;                   /* export --all */
    int batch;                 /* --batch */
    const char *password_file; /* --password-file */
    store_opts_t so;           /* store options (password from env / file) */
} xfer_cfg_t;

/* finsim screen: screen_cfg_t (finsim/job/screen.h) */

/* finsim price */
typedef struct price_cfg {
    mc_opts_t mo;
} price_cfg_t;

/* finsim serve and finsim request */
typedef struct serve_cfg {
    const char *store_url;     /* --store */
    const char *password_file; /* --password-file */
    store_opts_t so;           /* key prefix, TLS, timeouts */
    const char *group;         /* --group (default finsim) */
    const char *consumer;      /* --consumer (default host:pid[:rank]) */
    const char *streams;       /* --streams, highest priority first */
    int64_t claim_idle_ms;     /* --claim-idle MS */
    int max_deliveries;        /* --max-deliveries N */
    double idle_exit_s;        /* --idle-exit S (0: never) */
    double log_every_s;        /* --log-every S (0: never) */
    const char *events;        /* --events FILE (JSON lines) */
    int status;                /* --status: print the group's state and exit */
    /* finsim request */
    int64_t trade;             /* --trade ID (-1: not given) */
    const char *algorithm;     /* --algorithm (NULL: the server's default) */
    const char *paths;         /* --paths (NULL: the trade's trials) */
    const char *seed;          /* --seed (NULL: the default of finsim run) */
    const char *priority;      /* --priority NAME: stream finsim:requests:NAME */
    double wait_s;             /* --wait S: how long to wait for the answer */
} serve_cfg_t;

extern const opt_table_t settings_serve;    /* serve_cfg_t */
extern const opt_table_t settings_request;  /* serve_cfg_t */
/* finsim results */
typedef struct results_cfg {
    const char *csv;           /* --csv OUT ('-' = standard output) */
    int failed;                /* --failed */
    int64_t top;               /* --top N (0: not asked) */
    int top_by;                /* --top-by: 0 pv, 1 delta, 2 vega */
    int summary;               /* --summary */
} results_cfg_t;

extern const opt_table_t settings_results;  /* results_cfg_t */
extern const opt_table_t settings_run;      /* run_cfg_t (run.h) */
extern const opt_table_t settings_generate; /* gen_cfg_t */
extern const opt_table_t settings_export;   /* xfer_cfg_t */
extern const opt_table_t settings_import;   /* xfer_cfg_t */
extern const opt_table_t settings_price;    /* price_cfg_t */
extern const opt_table_t settings_screen;   /* screen_cfg_t */

/* Every table with INI settings (NULL-terminated): keys of the others are
 * accepted and ignored in a command's INI file. */
extern const opt_table_t *const settings_all[];

/* Parse argv for the command of t into cfg (defaults first): opts_parse
 * with every table's keys known. Returns 0, OPTS_HELP or -1. */
int settings_parse(const opt_table_t *t, void *cfg, int argc, char **argv, opt_sources_t *s);

/* settings_parse as a command starts: returns -1 to go on, FS_EXIT_OK once
 * --help is printed, or FS_EXIT_USAGE (the message printed). s is kept
 * either way: the caller frees it. */
int settings_parse_cmd(const opt_table_t *t, void *cfg, int argc, char **argv, opt_sources_t *s);

/* The store password: from password_file (mode 0600, see
 * cfg_read_secret_file) when given, else FINSIM_REDIS_PASSWORD. Sets
 * so->password; *owned gets a secret read from a file (wipe and free it
 * with settings_secret_free); *src, when not NULL, says where it came from.
 * Returns 0 or -1 with the reason printed. */
int settings_store_password(const char *password_file, store_opts_t *so, char **owned, const char **src);

/* Wipe and free a secret (NULL is fine). */
void settings_secret_free(char *secret);

#endif
