/* options.h - settings tables: one row per setting of a command, from which
 * the getopt rows, INI keys, FINSIM_* names, listing and help are made.
 *
 * A row names a setting once (long name with dashes, e.g. "trade-window");
 * the INI key is the same name with underscores in the row's section, and
 * the environment variable is FINSIM_ plus that key in capitals (see
 * config.h for the layers and docs/CONFIGURATION.md for the user's view).
 * Parsed values go into the command's config struct at the row's offset,
 * or through the row's callback. */
#ifndef FINSIM_OPTIONS_H
#define FINSIM_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "finsim/base/config.h"

typedef enum opt_type {
    OPT_STR,   /* const char *: the argument as given */
    OPT_INT,   /* int in [lo, hi] */
    OPT_I64,   /* int64_t in [lo, hi] */
    OPT_U64,   /* uint64_t in [lo, hi] (a non-negative integer) */
    OPT_DBL,   /* double in [lo, hi] ((lo, hi] with lo_open) */
    OPT_FLAG,  /* int 0/1: --name sets 1; --no-name sets 0 when the row has a section */
    OPT_ENUM,  /* int: one of names[], stored as values[i] */
    OPT_COUNT, /* int: each --name adds one */
    OPT_CB     /* set() does it all */
} opt_type_t;

typedef struct opt_def opt_def_t;

/* Store arg into cfg for row o. Returns 0, or -1 with what the setting
 * expects in err (no source, no value: the caller adds both). */
typedef int (*opt_set_fn)(void *cfg, const opt_def_t *o, const char *arg, char *err, size_t errlen);
/* Write the value of row o in cfg as listing text into buf. */
typedef void (*opt_show_fn)(const void *cfg, const opt_def_t *o, char *buf, size_t n);

struct opt_def {
    const char *name;          /* long option, dashes: "trade-window" */
    char letter;               /* short option, or 0 */
    opt_type_t type;
    const char *arg;           /* metavariable in the help ("URL"); NULL for flags */
    const char *def;           /* default, as text (applied by opts_defaults); NULL: none */
    double lo, hi;             /* range of numbers */
    int lo_open;               /* 1: lo itself is refused */
    const char *const *names;  /* OPT_ENUM: allowed values, NULL-terminated */
    const int *values;         /* OPT_ENUM: stored value of each name (NULL: its index) */
    const char *section;       /* INI section; NULL: command line only */
    const char *group;         /* help heading printed before this row ("trades:"), or NULL */
    const char *help;          /* help text, lines after the first start with '\n';
                                * NULL: the row shares the help of the next row */
    int secret;                /* environment or secret file only; never printed */
    size_t off;                /* where the value goes in the config struct */
    opt_set_fn set;            /* OPT_CB, or a check after the generic parse */
    opt_show_fn show;          /* listing text when the generic one does not fit */
};

typedef struct opt_table {
    const char *command;       /* "run" */
    const opt_def_t *rows;
    size_t nrows;
    const char *usage_head;    /* help text before the option lines */
    const char *usage_tail;    /* help text after them */
    int col;                   /* column of the help texts */
} opt_table_t;

/* Where each row's value came from: NULL (default) or a source label. */
typedef struct opt_sources {
    const char **src;          /* nrows entries */
    cfg_layers_t layers;       /* the arguments the values point into */
} opt_sources_t;

#define OPTS_HELP 1 /* opts_parse: --help was given */

/* The INI keys of table t (NULL-name terminated, cached, never freed). Keys
 * of the tables in others (NULL-terminated list, may include t) that t lacks
 * come last marked foreign, so that one INI file serves every command.
 * The list is made on the first call for t: pass the same others always. */
const cfg_key_t *opts_keys(const opt_table_t *t, const opt_table_t *const *others);

/* Set every row of t that has a default to it. */
void opts_defaults(const opt_table_t *t, void *cfg);

/* Build the layers (INI file, environment, argv) for t and walk them with
 * getopt_long, storing values into cfg and their sources into s (free with
 * opts_sources_free). Stops at the first bad value with a message naming
 * where it came from. Positional arguments are left at optind. Returns 0,
 * OPTS_HELP, or -1 (message printed). */
int opts_parse(const opt_table_t *t, const opt_table_t *const *others, void *cfg, int argc, char **argv,
               opt_sources_t *s);
void opts_sources_free(opt_sources_t *s);

/* For a set() callback during opts_parse: where the value comes from
 * (cfg_origin_at), NULL for the command line. */
const char *opts_origin(void);

/* The value of row o in cfg as listing text ("" when unset). */
void opts_show(const opt_def_t *o, const void *cfg, char *buf, size_t n);

/* key=value lines of every listed row (rows with a section, and secrets as
 * <redacted> or <none>), in table order. Returns a malloc'ed string. */
char *opts_describe(const opt_table_t *t, const void *cfg);

/* The help of t: head, one line per option (grouped), tail. */
void opts_usage(const opt_table_t *t, FILE *f);

/* Parse arg for row o into cfg as the command line would. Returns 0, or
 * -1 with what the row expects in err (the caller names the source). */
int opts_set(const opt_def_t *o, void *cfg, const char *arg, char *err, size_t errlen);

/* The row of t named name (long option), or NULL. */
const opt_def_t *opts_find(const opt_table_t *t, const char *name);

/* The INI key of row o ("trade_window") into buf. */
const char *opts_key(const opt_def_t *o, char *buf, size_t n);

/* The FINSIM_* variable of row o into buf. */
const char *opts_env_name(const opt_def_t *o, char *buf, size_t n);

#endif
