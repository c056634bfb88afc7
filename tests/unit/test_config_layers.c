/* test_config_layers.c - the configuration layers (base/config.c): the INI
 * file, FINSIM_* variables and argv in that order, where each argument came
 * from, the errors that name file and line, and secret files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixture.h"
#include "finsim/base/config.h"

static const cfg_key_t keys[] = {
    {"store", "store", 0, 0},
    {"batch", "store", 0, 0},
    {"trade_window", "run", 0, 0},
    {"resume", "run", 1, 0},
    {"quotes", "screen", 0, 1}, /* another command's: accepted in a file, ignored */
    {NULL, NULL, 0, 0},
};

static char dir[256];

static int setup(void **state)
{
    (void)state;
    fx_tmpdir(dir, sizeof(dir), "cfg");
    unsetenv("FINSIM_CONFIG");
    unsetenv("FINSIM_BATCH");
    unsetenv("FINSIM_STORE");
    unsetenv("FINSIM_RESUME");
    unsetenv("FINSIM_QUOTES");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_rmdir(dir);
    return 0;
}

/* Write text to dir/name with the given mode; the path goes to path. */
static void write_file(const char *name, const char *text, mode_t mode, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* Layers in order: argv[0], the file's settings, the environment's, then
 * the real arguments; each labelled with its source and origin. */
static void t_layers_in_order(void **state)
{
    (void)state;
    char ini[320], err[512];
    write_file("a.ini",
               "; comment\n[store]\nstore = redis://h:1\nbatch = 10\n\n[run]\nresume = yes\ntrade_window =\n"
               "[screen]\nquotes = q.csv\n",
               0644, ini, sizeof(ini));
    setenv("FINSIM_BATCH", "20", 1);
    char *argv[] = {"finsim", "--config", ini, "--batch", "30", NULL};
    cfg_layers_t l;
    assert_int_equal(cfg_build(keys, 5, argv, &l, err, sizeof(err)), 0);
    assert_string_equal(l.config_path, ini);
    /* finsim, file: store batch resume (empty trade_window skipped, quotes
     * foreign), env: batch, argv: --config FILE --batch 30 */
    assert_int_equal(l.argc, 1 + 3 + 1 + 4);
    assert_string_equal(l.argv[1], "--store=redis://h:1");
    assert_string_equal(l.argv[2], "--batch=10");
    assert_string_equal(l.argv[3], "--resume");
    assert_string_equal(l.argv[4], "--batch=20");
    assert_string_equal(l.argv[7], "--batch");
    assert_string_equal(l.argv[8], "30");
    char want[400];
    snprintf(want, sizeof(want), "file %s line 4", ini);
    assert_string_equal(l.source[2], want);
    snprintf(want, sizeof(want), "%s line 4 [store] batch = 10", ini);
    assert_string_equal(l.origin[2], want);
    assert_string_equal(l.source[4], "env FINSIM_BATCH");
    assert_string_equal(l.origin[4], "FINSIM_BATCH=20 (environment)");
    assert_string_equal(l.source[7], "command line");
    assert_null(l.origin[7]);
    /* as getopt sees them: optind after "--batch 30" is 9, after "--batch=20" 5 */
    assert_string_equal(cfg_source_at(&l, 9), "command line");
    assert_string_equal(cfg_source_at(&l, 5), "env FINSIM_BATCH");
    assert_string_equal(cfg_origin_at(&l, 3), want);
    cfg_free(&l);
    assert_null(l.argv);
    unsetenv("FINSIM_BATCH");
}

/* FINSIM_CONFIG names the file when argv does not; a boolean from the
 * environment becomes --no-NAME. */
static void t_env_config_and_flags(void **state)
{
    (void)state;
    char ini[320], err[512];
    write_file("b.ini", "[store]\nbatch = 7\n", 0644, ini, sizeof(ini));
    setenv("FINSIM_CONFIG", ini, 1);
    setenv("FINSIM_RESUME", "off", 1);
    char *argv[] = {"finsim", NULL};
    cfg_layers_t l;
    assert_int_equal(cfg_build(keys, 1, argv, &l, err, sizeof(err)), 0);
    assert_int_equal(l.argc, 3);
    assert_string_equal(l.argv[1], "--batch=7");
    assert_string_equal(l.argv[2], "--no-resume");
    cfg_free(&l);
    setenv("FINSIM_RESUME", "maybe", 1);
    assert_int_equal(cfg_build(keys, 1, argv, &l, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "FINSIM_RESUME=maybe (environment): resume expects true or false"));
    unsetenv("FINSIM_RESUME");
    unsetenv("FINSIM_CONFIG");
}

/* Each bad file is refused with the file, the line and the reason. */
static void t_file_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"[store]\nbatch = 1\nbogus = 2\n", "line 3: unknown setting [store] bogus"},
        {"[run]\nbatch = 1\n", "line 2: batch belongs in section [store], not [run]"},
        {"[nowhere]\nstore = x\n", "line 2: store belongs in section [store], not [nowhere]"},
        {"[store]\npassword = hunter2\n", "line 2: [store] password: secrets are not read from config files"},
        {"[run]\nresume = perhaps\n", "line 2 [run] resume = perhaps: resume expects true or false"},
        {"[store]\nthis is not ini\n", ":2: not valid INI syntax"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char ini[320], err[512] = "";
        write_file("bad.ini", cases[i].text, 0644, ini, sizeof(ini));
        char *argv[] = {"finsim", "--config", ini, NULL};
        cfg_layers_t l;
        int rc = cfg_build(keys, 3, argv, &l, err, sizeof(err));
        if (rc != -1 || !strstr(err, cases[i].msg) || !strstr(err, ini))
            fail_msg("case %zu: rc %d, message '%s', expected '%s'", i, rc, err, cases[i].msg);
        if (strstr(err, "hunter2"))
            fail_msg("case %zu: the secret is in the message: %s", i, err);
    }
    char err[512];
    char missing[320];
    snprintf(missing, sizeof(missing), "%s/none.ini", dir);
    char *argv[] = {"finsim", NULL};
    setenv("FINSIM_CONFIG", missing, 1);
    cfg_layers_t l;
    assert_int_equal(cfg_build(keys, 1, argv, &l, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot read config file"));
    assert_non_null(strstr(err, "none.ini"));
    unsetenv("FINSIM_CONFIG");
}

/* Secret files: only the owner may read them; trailing newlines go; too
 * long or NUL-holding files are refused, never cut short. */
static void t_secret_files(void **state)
{
    (void)state;
    char path[320], err[512];
    char *s = NULL;
    write_file("pw", "s3cret\r\n\n", 0600, path, sizeof(path));
    assert_int_equal(cfg_read_secret_file(path, &s, err, sizeof(err)), 0);
    assert_string_equal(s, "s3cret");
    free(s);
    s = NULL;

    write_file("pw-open", "s3cret\n", 0640, path, sizeof(path));
    assert_int_equal(cfg_read_secret_file(path, &s, err, sizeof(err)), -1);
    assert_null(s);
    assert_non_null(strstr(err, "accessible by group or others (mode 640); run: chmod 600"));
    assert_null(strstr(err, "s3cret"));

    char big[CFG_SECRET_MAX + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    write_file("pw-big", big, 0600, path, sizeof(path));
    assert_int_equal(cfg_read_secret_file(path, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "holds more than"));
    big[CFG_SECRET_MAX] = '\0'; /* exactly the limit is fine */
    write_file("pw-max", big, 0600, path, sizeof(path));
    assert_int_equal(cfg_read_secret_file(path, &s, err, sizeof(err)), 0);
    assert_int_equal(strlen(s), CFG_SECRET_MAX);
    free(s);
    s = NULL;

    snprintf(path, sizeof(path), "%s/pw-nul", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fwrite("ab\0cd", 1, 5, f);
    fclose(f);
    chmod(path, 0600);
    assert_int_equal(cfg_read_secret_file(path, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "NUL byte"));

    snprintf(path, sizeof(path), "%s/absent", dir);
    assert_int_equal(cfg_read_secret_file(path, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot read secret file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_layers_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(t_env_config_and_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(t_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(t_secret_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
