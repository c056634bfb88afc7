/* cmd_screen.c - finsim screen: options (the settings_screen table), secrets
 * and the phases of the rich/cheap screen (the job itself is
 * src/job/screen.c). Under mpirun the ranks share the trades; rank 0
 * fetches the market data once and publishes. */
#define _GNU_SOURCE
#include "finsim/cmd/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finsim/base/config.h"
#include "finsim/base/options.h"
#include "finsim/base/secret.h"
#include "finsim/base/util.h"
#include "finsim/cmd/settings.h"
#include "finsim/job/screen.h"
#include "finsim/job/status.h"
#include "finsim/pricing/mc.h"
#include "finsim/trade/trade.h"

/* Check the settings parsed into c against each other. Returns -1 to go
 * on, or FS_EXIT_USAGE (message printed). */
static int screen_check(const screen_cfg_t *c, int argc, char **argv)
{
    if (optind < argc)
        return fs_error("screen: unexpected argument '%s'", argv[optind]), FS_EXIT_USAGE;
    if (!c->store_url)
        return fs_error("screen: --store URL is required"), FS_EXIT_USAGE;
    if (!c->make_quotes && !c->quotes_src)
        return fs_error("screen: give --quotes SRC (or --make-quotes FILE to make synthetic ones)"), FS_EXIT_USAGE;
    if (c->make_quotes && (c->quotes_src || c->nmarket || c->output || c->csv || c->signals_redis))
        return fs_error("screen: --make-quotes only writes quotes; it takes no --quotes, --market, --output, "
                        "--csv or --signals-redis"),
               FS_EXIT_USAGE;
    if (c->start != 0 && c->window == 0)
        return fs_error("screen: --start-trade needs --trade-window"), FS_EXIT_USAGE;
    if (c->window > 0 && c->start + c->window - 1 > TRADE_MAX_ID)
        return fs_error("screen: trade ids would pass %lld", (long long)TRADE_MAX_ID), FS_EXIT_USAGE;
    return -1;
}

/* Defaults, then the settings of the config file, FINSIM_<NAME> and the
 * command line into c (src keeps the strings c borrows; free with
 * opts_sources_free after the last use of c). Returns -1 to go on, or an
 * exit code (help printed: 0; bad usage: 2) with c->market_src and src
 * freed. */
static int screen_setup(int argc, char **argv, int rank, int nranks, screen_cfg_t *c, opt_sources_t *src)
{
    memset(c, 0, sizeof(*c));
    mc_opts_default(&c->mo); /* the rest: settings_screen */
    int pr = settings_parse_cmd(&settings_screen, c, argc, argv, src);
    if (pr < 0)
        pr = screen_check(c, src->layers.argc, src->layers.argv);
    if (pr < 0 && nranks > 1 && c->make_quotes) {
        if (rank == 0)
            fs_error("screen: --make-quotes runs in one process; start it without mpirun");
        pr = FS_EXIT_USAGE;
    }
    if (pr >= 0) {
        free(c->market_src);
        opts_sources_free(src);
    }
    return pr;
}

/* Secrets read from mode-0600 files; wiped and freed by screen_secrets_free. */
typedef struct screen_secrets {
    char *password;
    char *api_key;
} screen_secrets_t;

/* Wipe and free the secrets of s (both may be NULL). */
static void screen_secrets_free(screen_secrets_t *s)
{
    settings_secret_free(s->password);
    settings_secret_free(s->api_key);
}

/* Take what only the environment and secret files give into c: the Redis
 * password and the market API key; and make the store read-only with the
 * batch size of c. Every rank reads them and all agree, so a file missing
 * on one host ends the command on every rank. Returns 0, or FS_EXIT_USAGE
 * when a secret file is unusable (message printed by the rank that met it). */
static int screen_secrets(screen_cfg_t *c, screen_secrets_t *s)
{
    char err[512];
    int bad = settings_store_password(c->password_file, &c->so, &s->password, NULL) != 0;
    if (!bad && c->api_key_file) {
        if (cfg_read_secret_file(c->api_key_file, &s->api_key, err, sizeof(err)) != 0) {
            fs_error("screen: %s", err);
            bad = 1;
        }
        c->http.api_key = s->api_key;
    } else if (!bad) {
        c->http.api_key = getenv("FINSIM_MARKET_API_KEY");
        if (c->http.api_key)
            fs_secret_held();
    }
    c->so.readonly = 1;
    c->so.batch = (int)c->batch;
    c->so.needs = STORE_NEED_READ_TRADES | (c->window > 0 ? 0u : STORE_NEED_LIST);
    return fs_mpi_agree(bad ? FS_EXIT_USAGE : 0);
}

/* finsim screen: see settings_screen. The phases of src/job/screen.c in
 * order; the first that fails ends the command, its job status mapped to
 * the exit code. */
int cmd_screen(int argc, char **argv)
{
    screen_cfg_t c;
    opt_sources_t src;
    int rank, nranks;
    fs_mpi_peek(&rank, &nranks); /* --help needs no MPI */
    int ret = screen_setup(argc, argv, rank, nranks, &c, &src);
    if (ret >= 0)
        return ret;
    fs_mpi_world(&rank, &nranks);
    if (nranks > 1 && c.make_quotes) { /* MPI started only now: screen_setup saw one rank */
        if (rank == 0)
            fs_error("screen: --make-quotes runs in one process; start it without mpirun");
        free(c.market_src);
        opts_sources_free(&src);
        return FS_EXIT_USAGE;
    }
    screen_secrets_t secrets = {NULL, NULL};
    screen_job_t *j = screen_job_new(&c, rank, nranks);
    int st = JOB_OK;
    if ((ret = screen_secrets(&c, &secrets)) != 0 || (st = screen_check_outputs(j)) != JOB_OK)
        goto out;
    /* market data first: a failing endpoint should not cost a store session */
    if (!c.make_quotes && (st = screen_load_market(j)) != JOB_OK)
        goto out;
    if ((st = screen_open_store(j)) != JOB_OK || (st = screen_build_trade_list(j)) != JOB_OK)
        goto out;
    if (c.make_quotes) {
        st = screen_make_quotes(j);
        goto out;
    }
    if ((st = screen_price_quoted(j)) != JOB_OK)
        goto out;
    screen_gather_signals(j);
    screen_report(j);
    st = screen_write_outputs(j);

out:
    screen_job_free(j);
    free(c.market_src);
    opts_sources_free(&src); /* after the last use of the option strings */
    screen_secrets_free(&secrets);
    return ret ? ret : cli_exit_code(st);
}
