/* config.h - layered configuration: defaults < INI file < FINSIM_* environment
 * < command line.
 *
 * Every setting has one name used in all layers: `trade_window` in an INI
 * file (in its section), FINSIM_TRADE_WINDOW in the environment, and
 * --trade-window on the command line. The file and environment layers are
 * turned into long options placed before the real arguments, so one getopt
 * parser applies all layers and the last one wins. Secrets are never read
 * from these layers: only from FINSIM_REDIS_PASSWORD or a secret file. */
#ifndef FINSIM_CONFIG_H
#define FINSIM_CONFIG_H

#include <stddef.h>

typedef struct cfg_key {
    const char *name;    /* setting name (underscores), e.g. "trade_window" */
    const char *section; /* INI section it belongs in, e.g. "run" */
    int is_flag;         /* boolean: --name / --no-name on the command line */
    int foreign;         /* another command's setting: accepted in a file and ignored */
} cfg_key_t;

typedef struct cfg_layers {
    int argc;            /* arguments: argv[0], file layer, env layer, real argv */
    char **argv;         /* owned copies */
    const char **source; /* source of each argument ("file PATH line N", "env FINSIM_X", "command line") */
    const char **origin; /* for messages: "PATH line N [sec] key = value", "FINSIM_X=value
                          * (environment)", or NULL for the command line */
    char *config_path;   /* INI file used, or NULL */
    char **owned;        /* source strings owned by the layers */
    int nowned;
} cfg_layers_t;

/* Build the layered argument vector for keys (NULL-name terminated) from the
 * INI file named by --config FILE in argv or FINSIM_CONFIG, the FINSIM_*
 * environment and argv itself. Returns 0, or -1 with a one-line reason in
 * err (unknown section or key, a secret in a file, a bad boolean, an
 * unreadable file). Free with cfg_free. */
int cfg_build(const cfg_key_t *keys, int argc, char **argv, cfg_layers_t *out, char *err, size_t errlen);
void cfg_free(cfg_layers_t *l);

/* Source of the option that getopt_long just returned, given optind after
 * it. Never NULL. */
const char *cfg_source_at(const cfg_layers_t *l, int optind_after);

/* Where the option that getopt_long just returned came from, for a message
 * about its value ("x.ini line 4 [store] batch = 0", "FINSIM_BATCH=0
 * (environment)"), or NULL when it came from the command line. */
const char *cfg_origin_at(const cfg_layers_t *l, int optind_after);

#define CFG_SECRET_MAX 1024 /* longest secret read from a file (bytes) */

/* Read a secret from path, refusing a file that group or others can access
 * (as ssh does), one longer than CFG_SECRET_MAX bytes or one holding a NUL
 * byte. Trailing newlines are removed. *out is malloc'ed; the caller wipes
 * and frees it. Returns 0 or -1 with the reason in err. */
int cfg_read_secret_file(const char *path, char **out, char *err, size_t errlen);

#endif
