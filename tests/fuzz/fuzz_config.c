/* fuzz_config.c - the INI layer of the configuration (config.c, inih).
 *
 * The input is written to a private temp file named by FINSIM_CONFIG and
 * cfg_build runs over it with finsim run's settings and a short command
 * line.
 * Properties: on success the argument vector is complete (argv[0], the
 * settings, the real arguments last, NULL-terminated) with a source for
 * every argument, no secret-looking setting got through, and
 * cfg_source_at is total; on failure there is a one-line message and the
 * layers are empty. cfg_read_secret_file reads the same file (mode 0600):
 * the secret it returns has no trailing newline and is shorter than 1 KiB. */
#include <string.h>
#include <unistd.h>

#include "finsim/base/config.h"
#include "finsim/base/util.h"
#include "finsim/cmd/settings.h"
#include "fuzz.h"

/* The settings of finsim run (and, as foreign keys, of the other
 * commands), so real config files get deep. */
#define keys (opts_keys(&settings_run, settings_all))

static char path[4096];

static void remove_file(void)
{
    if (path[0])
        unlink(path);
}

/* Make the temp file once per process and point FINSIM_CONFIG at it; the
 * environment layer is cleared so only the file and argv count. */
static void setup(void)
{
    if (path[0])
        return;
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof(path), "%s/finsim-fuzz-config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    FUZZ_CHECK(fd >= 0, "cannot create a temp file in %s", path);
    close(fd);
    atexit(remove_file);
    setenv("FINSIM_CONFIG", path, 1);
    for (const cfg_key_t *k = keys; k->name; k++) {
        char var[96];
        snprintf(var, sizeof(var), "FINSIM_%s", k->name);
        for (char *p = var; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        unsetenv(var);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL, "cannot write %s", path);
    FUZZ_CHECK(fwrite(data, 1, size, f) == size, "short write");
    fclose(f);

    char *argv[] = {"finsim", "--seed", "3", "--quiet", NULL};
    const int argc = 4;
    cfg_layers_t l;
    char err[256];
    memset(err, 'x', sizeof(err));
    int rc = cfg_build(keys, argc, argv, &l, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -1, "cfg_build returned %d", rc);
    if (rc == 0) {
        FUZZ_CHECK(l.argc >= argc && l.argv != NULL && l.source != NULL, "argc %d", l.argc);
        FUZZ_CHECK(l.argv[l.argc] == NULL, "argv not NULL-terminated");
        FUZZ_CHECK(l.config_path && strcmp(l.config_path, path) == 0, "config path not recorded");
        FUZZ_CHECK(strcmp(l.argv[0], "finsim") == 0, "argv[0] is '%s'", l.argv[0]);
        for (int i = 0; i < argc - 1; i++)
            FUZZ_CHECK(strcmp(l.argv[l.argc - (argc - 1) + i], argv[1 + i]) == 0,
                       "command line argument %d not last", i);
        for (int i = 0; i < l.argc; i++) {
            FUZZ_CHECK(l.argv[i] != NULL && l.source[i] != NULL, "argument %d incomplete", i);
            FUZZ_CHECK(strncmp(l.argv[i], "--password=", 11) != 0 && strncmp(l.argv[i], "--secret", 8) != 0,
                       "secret setting let through: %s", l.argv[i]);
            if (i > 0 && i < l.argc - (argc - 1))
                FUZZ_CHECK(strncmp(l.argv[i], "--", 2) == 0 && strncmp(l.source[i], "file ", 5) == 0,
                           "file setting %d is '%s' from '%s'", i, l.argv[i], l.source[i]);
        }
        for (int i = -1; i <= l.argc + 1; i++)
            FUZZ_CHECK(cfg_source_at(&l, i) != NULL, "no source at %d", i);
        cfg_free(&l);
    } else {
        FUZZ_CHECK(fuzz_terminated(err, sizeof(err)) && err[0] != '\0', "no message for a refused file");
        FUZZ_CHECK(strchr(err, '\n') == NULL, "message of more than one line: %s", err);
        FUZZ_CHECK(l.argc == 0 && l.argv == NULL && l.owned == NULL, "layers not freed after a failure");
    }

    char *secret = NULL;
    char serr[256];
    if (cfg_read_secret_file(path, &secret, serr, sizeof(serr)) == 0) {
        size_t n = strlen(secret);
        FUZZ_CHECK(n <= CFG_SECRET_MAX && memchr(data, 0, size) == NULL, "secret of %zu bytes", n);
        FUZZ_CHECK(n == 0 || (secret[n - 1] != '\n' && secret[n - 1] != '\r'), "secret keeps its newline");
        memset(secret, 0, n);
        free(secret);
    }
    return 0;
}
