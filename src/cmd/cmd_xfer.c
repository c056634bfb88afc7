/* cmd_xfer.c - finsim export / import: options (the settings_export and
 * settings_import tables), then the jobs of src/job/xfer.c that copy trades
 * between stores and eyxml files. Both run in one process. */
#define _GNU_SOURCE
#include "finsim/cmd/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finsim/base/options.h"
#include "finsim/base/util.h"
#include "finsim/cmd/settings.h"
#include "finsim/job/xfer.h"
#include "finsim/store/store.h"
#include "finsim/trade/trade.h"

/* ---- shared helpers ----------------------------------------------------------- */

/* Parse the settings of export or import (table t) into c and read the
 * store password. Returns -1 to go on, or an exit code (help printed: 0;
 * bad usage: 2). *password gets a secret read from a file (wipe and free
 * it with settings_secret_free). */
static int xfer_parse(const opt_table_t *t, xfer_cfg_t *c, int argc, char **argv, opt_sources_t *src,
                      char **password)
{
    memset(c, 0, sizeof(*c));
    *password = NULL;
    int pr = settings_parse_cmd(t, c, argc, argv, src);
    if (pr >= 0)
        return pr;
    c->so.batch = c->batch;
    return settings_store_password(c->password_file, &c->so, password, NULL) != 0 ? FS_EXIT_USAGE : -1;
}

/* Refuse to run as several MPI ranks: each would copy everything. Returns
 * 0 when this is the only process. */
static int xfer_single_process(const char *cmd)
{
    int rank, n;
    fs_mpi_world_if_launched(&rank, &n); /* the stores are opened without MPI */
    if (n > 1) {
        fs_error("%s runs in one process; start it without mpirun (or with -np 1)", cmd);
        return -1;
    }
    return 0;
}

/* ---- export ------------------------------------------------------------------- */

/* Parse and check export's settings. Returns -1 to go on, or an exit code. */
static int export_parse(xfer_cfg_t *c, int argc, char **argv, opt_sources_t *src, char **password)
{
    int rc = xfer_parse(&settings_export, c, argc, argv, src, password);
    if (rc >= 0)
        return rc;
    if (optind < src->layers.argc)
        return fs_error("export: unexpected argument '%s'", src->layers.argv[optind]), FS_EXIT_USAGE;
    if (!c->store_url)
        return fs_error("export: --store URL is required"), FS_EXIT_USAGE;
    if ((c->eyxml != NULL) + (c->dir != NULL) + (c->to_url != NULL) != 1)
        return fs_error("export: give exactly one of --eyxml, --eyxml-dir, --to"), FS_EXIT_USAGE;
    if (c->all && c->window)
        return fs_error("export: give --trade-window W or --all, not both"), FS_EXIT_USAGE;
    if (c->window && c->start + c->window - 1 > TRADE_MAX_ID)
        return fs_error("export: the window passes trade id %lld", TRADE_MAX_ID), FS_EXIT_USAGE;
    if (c->to_url && strcmp(c->to_url, c->store_url) == 0)
        return fs_error("export: --to names the source store itself"), FS_EXIT_USAGE;
    if (xfer_single_process("export") != 0)
        return FS_EXIT_USAGE;
    return -1;
}

/* finsim export: see settings_export. Returns an fs_exit code. */
int cmd_export(int argc, char **argv)
{
    xfer_cfg_t c;
    opt_sources_t src;
    char *password = NULL;
    int rc = export_parse(&c, argc, argv, &src, &password);
    c.so.needs = STORE_NEED_READ_TRADES | (c.window ? 0u : STORE_NEED_LIST);
    if (rc < 0) {
        xfer_export_cfg_t x = {c.store_url, c.eyxml, c.dir, c.to_url, c.start, c.window,
                               c.have_start, c.batch, c.so};
        rc = cli_exit_code(xfer_export(&x));
    }
    opts_sources_free(&src);
    settings_secret_free(password);
    return rc;
}

/* ---- import ------------------------------------------------------------------- */

/* Check import's settings and collect the documents: the --eyxml files,
 * then the positional FILE arguments (argv from optind). *files is
 * malloc'ed (caller frees). Returns -1 to go on, or an exit code. */
static int import_check(const xfer_cfg_t *c, int argc, char **argv, const char ***files, size_t *nfiles)
{
    *files = xmalloc((size_t)(argc + 1) * sizeof(**files) + c->nfiles * sizeof(**files));
    *nfiles = c->nfiles;
    if (c->nfiles)
        memcpy(*files, c->files, c->nfiles * sizeof(**files));
    if (optind < argc && c->nfiles == 0)
        return fs_error("import: unexpected argument '%s' (documents are given with --eyxml FILE...)",
                        argv[optind]),
               FS_EXIT_USAGE;
    for (int i = optind; i < argc; i++)
        (*files)[(*nfiles)++] = argv[i];
    if (!c->store_url)
        return fs_error("import: --store URL is required"), FS_EXIT_USAGE;
    if ((*nfiles > 0) + (c->dir != NULL) != 1)
        return fs_error("import: give --eyxml FILE... or --eyxml-dir DIR"), FS_EXIT_USAGE;
    if (xfer_single_process("import") != 0)
        return FS_EXIT_USAGE;
    return -1;
}

/* finsim import: see settings_import. Returns an fs_exit code. */
int cmd_import(int argc, char **argv)
{
    xfer_cfg_t c;
    opt_sources_t src;
    char *password = NULL;
    const char **files = NULL;
    size_t nfiles = 0;
    int rc = xfer_parse(&settings_import, &c, argc, argv, &src, &password);
    if (rc < 0)
        rc = import_check(&c, src.layers.argc, src.layers.argv, &files, &nfiles);
    c.so.needs = STORE_NEED_WRITE_TRADES;
    if (rc < 0) {
        xfer_import_cfg_t x = {c.store_url, files, nfiles, c.dir, c.batch, c.so};
        rc = cli_exit_code(xfer_import(&x));
    }
    free(files);
    free(c.files);
    opts_sources_free(&src);
    settings_secret_free(password);
    return rc;
}
