/* test_settings.c - the settings tables (src/cmd/settings.c) and their
 * machinery (src/base/options.c): help lists every row, shared rows agree
 * between commands, defaults parse, INI keys are unique, and parsing takes
 * values from the environment and files as from the command line. */
#include "fixture.h"
#include "finsim/base/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "finsim/base/options.h"
#include "finsim/job/job.h"
#include "finsim/cmd/settings.h"

/* Every table, price included (it has no INI settings). */
static const opt_table_t *const tables[] = {&settings_run, &settings_generate, &settings_export,
                                            &settings_import, &settings_screen, &settings_price, NULL};

/* The help of t as a malloc'ed string. */
static char *usage_text(const opt_table_t *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    opts_usage(t, f);
    fclose(f);
    return buf;
}

/* The help of every command names every row that is not a secret, and no
 * secret row is an option. */
static void t_usage_lists_rows(void **state)
{
    (void)state;
    for (size_t i = 0; tables[i]; i++) {
        char *u = usage_text(tables[i]);
        for (size_t r = 0; r < tables[i]->nrows; r++) {
            const opt_def_t *o = &tables[i]->rows[r];
            char name[96];
            snprintf(name, sizeof(name), "-%s", o->name);
            if (o->secret) {
                assert_null(strstr(u, name));
                continue;
            }
            if (!strstr(u, name))
                fail_msg("finsim %s --help lacks --%s", tables[i]->command, o->name);
        }
        free(u);
    }
}

/* A row shared by several commands (same name) has the same type, range,
 * default and section in all of them: --batch, --timeout, --store, ... */
static void t_shared_rows_agree(void **state)
{
    (void)state;
    static const char *const shared[] = {"store", "batch", "key-prefix", "password-file", "tls-ca", "tls-ca-dir",
                                         "tls-cert", "tls-key", "tls-sni", "tls-insecure", "timeout", "config",
                                         "redis-password", NULL};
    for (size_t k = 0; shared[k]; k++) {
        const opt_def_t *first = NULL;
        for (size_t i = 0; tables[i]; i++) {
            const opt_def_t *o = opts_find(tables[i], shared[k]);
            if (!o)
                continue;
            if (!first) {
                first = o;
                continue;
            }
            assert_int_equal(o->type, first->type);
            assert_true(o->lo == first->lo && o->hi == first->hi && o->lo_open == first->lo_open);
            assert_true((!o->def && !first->def) || (o->def && first->def && !strcmp(o->def, first->def)));
            assert_true((!o->section && !first->section) || !strcmp(o->section, first->section));
            assert_int_equal(o->secret, first->secret);
        }
        assert_non_null(first);
    }
    const opt_def_t *b = opts_find(&settings_run, "batch");
    assert_true(b->lo == 1 && b->hi == SETTINGS_BATCH_MAX);
}

/* Every default is a valid value of its row. */
static void t_defaults_parse(void **state)
{
    (void)state;
    union { run_cfg_t r; gen_cfg_t g; xfer_cfg_t x; screen_cfg_t s; price_cfg_t p; } cfg;
    for (size_t i = 0; tables[i]; i++) {
        for (size_t r = 0; r < tables[i]->nrows; r++) {
            const opt_def_t *o = &tables[i]->rows[r];
            char err[256];
            memset(&cfg, 0, sizeof(cfg));
            if (o->def && o->type != OPT_FLAG && opts_set(o, &cfg, o->def, err, sizeof(err)) != 0)
                fail_msg("%s --%s: default '%s': %s", tables[i]->command, o->name, o->def, err);
        }
    }
}

/* The INI keys: own keys once per section, then the other commands' keys
 * marked foreign; FINSIM_ names in capitals. */
static void t_keys(void **state)
{
    (void)state;
    for (size_t i = 0; settings_all[i]; i++) {
        const cfg_key_t *k = opts_keys(settings_all[i], settings_all);
        for (size_t n = 0; k[n].name; n++)
            for (size_t j = 0; j < n; j++)
                assert_false(!strcmp(k[j].name, k[n].name) && !strcmp(k[j].section, k[n].section));
    }
    char env[96];
    assert_string_equal(opts_env_name(opts_find(&settings_run, "trade-window"), env, sizeof(env)),
                        "FINSIM_TRADE_WINDOW");
    assert_string_equal(opts_env_name(opts_find(&settings_screen, "market-api-key"), env, sizeof(env)),
                        "FINSIM_MARKET_API_KEY");
}

/* Run it in a clean environment: FINSIM_* of the caller would count. */
static void clear_env(void)
{
    extern char **environ;
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; *e; e++)
            if (!strncmp(*e, "FINSIM_", 7)) {
                char name[128];
                snprintf(name, sizeof(name), "%.*s", (int)(strcspn(*e, "=")), *e);
                unsetenv(name);
                again = 1;
                break;
            }
    }
}

/* Values from the three layers, the last one winning; a bad value from the
 * environment or a file fails like one from the command line. */
static void t_parse_layers(void **state)
{
    (void)state;
    clear_env();
    char ini[] = "/tmp/finsim-settings-XXXXXX";
    int fd = mkstemp(ini);
    assert_true(fd >= 0);
    const char *text = "[store]\nbatch = 40\ntimeout = 3\n[run]\nseed = 9\n[screen]\nmin_z = 1\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char *argv[] = {"export", "--config", ini, "--timeout", "4", "--store", "x.h5", NULL};
    setenv("FINSIM_BATCH", "50", 1);
    xfer_cfg_t x;
    memset(&x, 0, sizeof(x));
    opt_sources_t src;
    assert_int_equal(settings_parse(&settings_export, &x, 7, argv, &src), 0);
    assert_int_equal(x.batch, 50);                 /* environment over file */
    assert_true(x.so.timeout_s == 4);              /* command line over file */
    assert_string_equal(x.store_url, "x.h5");
    size_t brow = (size_t)(opts_find(&settings_export, "batch") - settings_export.rows);
    assert_string_equal(src.src[brow], "env FINSIM_BATCH");
    opts_sources_free(&src);
    setenv("FINSIM_BATCH", "0", 1);
    memset(&x, 0, sizeof(x));
    assert_int_equal(settings_parse(&settings_export, &x, 7, argv, &src), -1);
    opts_sources_free(&src);
    unsetenv("FINSIM_BATCH");
    char *help[] = {"import", "--help", NULL};
    memset(&x, 0, sizeof(x));
    assert_int_equal(settings_parse(&settings_import, &x, 2, help, &src), OPTS_HELP);
    opts_sources_free(&src);
    free(x.files);
    unlink(ini);
}

/* The INI keys made from settings_run: a name and a section in every
 * entry up to the NULL sentinel, finsim run's own first, then the other
 * commands' marked foreign, no key twice in one section. */
static void t_run_keys(void **state)
{
    (void)state;
    const cfg_key_t *k = opts_keys(&settings_run, settings_all);
    size_t n = 0, own = 0;
    for (; k[n].name; n++) {
        assert_non_null(k[n].section);
        if (!k[n].foreign)
            assert_int_equal(own++, n);
        for (size_t j = 0; j < n; j++)
            assert_false(!strcmp(k[j].name, k[n].name) && !strcmp(k[j].section, k[n].section));
    }
    assert_true(own >= 35);
    assert_ptr_equal(k, opts_keys(&settings_run, settings_all)); /* cached */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_usage_lists_rows),
        cmocka_unit_test(t_shared_rows_agree),
        cmocka_unit_test(t_defaults_parse),
        cmocka_unit_test(t_keys),
        cmocka_unit_test(t_parse_layers),
        cmocka_unit_test(t_run_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
