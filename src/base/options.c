/* options.c - settings tables: getopt rows, INI keys, listing and help from one table. */
#define _GNU_SOURCE
#include "finsim/base/options.h"

#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finsim/base/util.h"

/* Origin of the option opts_parse is storing (NULL: the command line). */
static const char *current_origin;

const char *opts_origin(void)
{
    return current_origin;
}

/* Room for the per-table caches below (one per command table). */
#define OPTS_MAX_TABLES 16

/* The INI key of row o ("trade-window" -> "trade_window") into buf. */
static const char *key_name(const opt_def_t *o, char *buf, size_t n)
{
    snprintf(buf, n, "%s", o->name);
    for (char *p = buf; *p; p++)
        if (*p == '-')
            *p = '_';
    return buf;
}

const char *opts_env_name(const opt_def_t *o, char *buf, size_t n)
{
    char key[96];
    key_name(o, key, sizeof(key));
    snprintf(buf, n, "FINSIM_%s", key);
    for (char *p = buf; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return buf;
}

/* Does keys[0..n) hold name in section? */
static int has_key(const cfg_key_t *keys, size_t n, const char *name, const char *section)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(keys[i].name, name) && !strcmp(keys[i].section, section))
            return 1;
    return 0;
}

/* Append the INI keys of t (not secret, with a section) to keys[*n..]:
 * cap entries at most; names are owned by the cache. */
static void add_keys(const opt_table_t *t, int foreign, cfg_key_t *keys, size_t *n)
{
    for (size_t i = 0; i < t->nrows; i++) {
        const opt_def_t *o = &t->rows[i];
        char name[96];
        if (!o->section || o->secret)
            continue;
        key_name(o, name, sizeof(name));
        if (has_key(keys, *n, name, o->section))
            continue;
        keys[*n] = (cfg_key_t){xstrdup(name), o->section, o->type == OPT_FLAG, foreign};
        (*n)++;
    }
}

const cfg_key_t *opts_keys(const opt_table_t *t, const opt_table_t *const *others)
{
    static struct { const opt_table_t *t; cfg_key_t *keys; } cache[OPTS_MAX_TABLES];
    size_t slot = 0;
    while (slot < OPTS_MAX_TABLES && cache[slot].t && cache[slot].t != t)
        slot++;
    if (slot < OPTS_MAX_TABLES && cache[slot].t == t)
        return cache[slot].keys;
    size_t cap = t->nrows + 1;
    for (size_t j = 0; others && others[j]; j++)
        cap += others[j]->nrows;
    cfg_key_t *keys = xmalloc(sizeof(*keys) * cap);
    size_t n = 0;
    add_keys(t, 0, keys, &n);
    for (size_t j = 0; others && others[j]; j++)
        if (others[j] != t)
            add_keys(others[j], 1, keys, &n);
    keys[n] = (cfg_key_t){NULL, NULL, 0, 0};
    if (slot < OPTS_MAX_TABLES)
        cache[slot].t = t, cache[slot].keys = keys;
    return keys;
}

/* The range of row o as text: "[1, 5000]", "(0, 3600]". */
static void range_text(const opt_def_t *o, char *buf, size_t n)
{
    if (o->type == OPT_DBL)
        snprintf(buf, n, "%c%g, %g]", o->lo_open ? '(' : '[', o->lo, o->hi);
    else
        snprintf(buf, n, "[%.0f, %.0f]", o->lo, o->hi);
}

/* What row o expects, as the end of a message. */
static int expects(const opt_def_t *o, char *err, size_t errlen)
{
    char range[96];
    range_text(o, range, sizeof(range));
    switch (o->type) {
    case OPT_INT:
    case OPT_I64: return fs_seterr(err, errlen, "--%s expects an integer in %s", o->name, range);
    case OPT_U64: return fs_seterr(err, errlen, "--%s expects a non-negative integer", o->name);
    case OPT_DBL: return fs_seterr(err, errlen, "--%s expects a number in %s", o->name, range);
    case OPT_ENUM: {
        char list[256] = "";
        for (size_t i = 0; o->names[i]; i++) {
            size_t len = strlen(list);
            snprintf(list + len, sizeof(list) - len, "%s%s", i == 0 ? "" : o->names[i + 1] ? ", " : " or ",
                     o->names[i]);
        }
        return fs_seterr(err, errlen, "--%s must be %s", o->name, list);
    }
    default: return fs_seterr(err, errlen, "--%s: bad value", o->name);
    }
}

/* Parse arg for row o into cfg (neg: the --no- form of a flag). Returns 0,
 * or -1 with what the row expects in err. */
static int set_value(const opt_def_t *o, void *cfg, const char *arg, int neg, char *err, size_t errlen);

int opts_set(const opt_def_t *o, void *cfg, const char *arg, char *err, size_t errlen)
{
    return set_value(o, cfg, arg, 0, err, errlen);
}

const opt_def_t *opts_find(const opt_table_t *t, const char *name)
{
    for (size_t i = 0; i < t->nrows; i++)
        if (!strcmp(t->rows[i].name, name))
            return &t->rows[i];
    return NULL;
}

const char *opts_key(const opt_def_t *o, char *buf, size_t n)
{
    return key_name(o, buf, n);
}

static int set_value(const opt_def_t *o, void *cfg, const char *arg, int neg, char *err, size_t errlen)
{
    char *p = (char *)cfg + o->off;
    int64_t v;
    double d;
    switch (o->type) {
    case OPT_STR: *(const char **)p = arg; break;
    case OPT_FLAG: *(int *)p = !neg; break;
    case OPT_COUNT: (*(int *)p)++; break;
    case OPT_CB: return o->set(cfg, o, arg, err, errlen);
    case OPT_INT:
    case OPT_I64:
    case OPT_U64:
        if (fs_parse_i64(arg, &v) != 0 || (double)v < o->lo || (double)v > o->hi)
            return expects(o, err, errlen);
        if (o->type == OPT_INT)
            *(int *)p = (int)v;
        else if (o->type == OPT_I64)
            *(int64_t *)p = v;
        else
            *(uint64_t *)p = (uint64_t)v;
        break;
    case OPT_DBL:
        if (fs_parse_double(arg, &d) != 0 || d < o->lo || d > o->hi || (o->lo_open && d == o->lo))
            return expects(o, err, errlen);
        *(double *)p = d;
        break;
    case OPT_ENUM: {
        size_t i = 0;
        while (o->names[i] && strcmp(o->names[i], arg) != 0)
            i++;
        if (!o->names[i])
            return expects(o, err, errlen);
        *(int *)p = o->values ? o->values[i] : (int)i;
        break;
    }
    }
    return o->set && o->type != OPT_CB ? o->set(cfg, o, arg, err, errlen) : 0;
}

void opts_defaults(const opt_table_t *t, void *cfg)
{
    char err[256];
    for (size_t i = 0; i < t->nrows; i++) {
        const opt_def_t *o = &t->rows[i];
        if (o->def && !o->secret && o->type != OPT_COUNT)
            set_value(o, cfg, o->def, o->type == OPT_FLAG && strcmp(o->def, "true") != 0, err, sizeof(err));
    }
}

/* getopt_long rows of t: row i has val 1000 + 2i, its --no- form 1001 + 2i
 * (flags with a section); then --help. Short options go into shortopts.
 * Returns a malloc'ed array whose "no-" names are in *nos (one malloc'ed
 * block of 64 bytes per row); the caller frees both. */
static struct option *long_options(const opt_table_t *t, char *shortopts, size_t n, char **nos)
{
    struct option *lo = xmalloc(sizeof(*lo) * (2 * t->nrows + 2));
    *nos = xmalloc(64 * (t->nrows + 1));
    size_t k = 0, s = 0;
    shortopts[s++] = 'h';
    for (size_t i = 0; i < t->nrows; i++) {
        const opt_def_t *o = &t->rows[i];
        if (o->secret)
            continue;
        int has_arg = o->arg ? required_argument : no_argument;
        lo[k++] = (struct option){o->name, has_arg, NULL, 1000 + 2 * (int)i};
        if (o->type == OPT_FLAG && o->section) {
            char *no = *nos + 64 * i;
            snprintf(no, 64, "no-%s", o->name);
            lo[k++] = (struct option){no, no_argument, NULL, 1001 + 2 * (int)i};
        }
        if (o->letter && s + 3 < n) {
            shortopts[s++] = o->letter;
            if (has_arg == required_argument)
                shortopts[s++] = ':';
        }
    }
    shortopts[s] = '\0';
    lo[k++] = (struct option){"help", no_argument, NULL, 'h'};
    lo[k] = (struct option){NULL, 0, NULL, 0};
    return lo;
}

/* The row of t for getopt value c, or -1. *neg is set for a --no- form. */
static long row_of(const opt_table_t *t, int c, int *neg)
{
    *neg = 0;
    if (c >= 1000) {
        *neg = (c - 1000) & 1;
        return (c - 1000) / 2;
    }
    for (size_t i = 0; i < t->nrows; i++)
        if (c && t->rows[i].letter == c && !t->rows[i].secret)
            return (long)i;
    return -1;
}

/* Report a bad value for row o: where it came from, then what the row
 * expects. */
static void bad_value(const opt_sources_t *s, const char *arg, const char *expect)
{
    const char *origin = cfg_origin_at(&s->layers, optind);
    if (origin)
        fs_error("%s: %s", origin, expect);
    else
        fs_error("%s, got '%s'", expect, arg ? arg : "");
}

/* Does a long option name lead to a secret: a password or an API key
 * (their files included)? */
static int secret_bearing(const char *name)
{
    return strstr(name, "password") || strstr(name, "api-key") || strstr(name, "secret");
}

/* getopt_long takes any unique prefix of a long option: "--password X"
 * would be read as --password-file X, and the error about file X would
 * print the password. Refuse an abbreviation of a secret-bearing option
 * (or any unknown option that names a secret) before getopt sees it, and
 * never print what follows it. Returns 0, or -1 with the message printed. */
static int refuse_secret_abbrev(const opt_table_t *t, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            break;
        if (strncmp(a, "--", 2) != 0)
            continue;
        size_t n = strcspn(a + 2, "=");
        char name[64];
        if (n == 0 || n >= sizeof(name))
            continue;
        memcpy(name, a + 2, n);
        name[n] = '\0';
        const char *base = strncmp(name, "no-", 3) ? name : name + 3;
        int exact = !strcmp(name, "help") || !strcmp(name, "config");
        const char *full = NULL;
        for (size_t r = 0; r < t->nrows && !exact; r++) {
            exact = !strcmp(t->rows[r].name, base);
            if (!full && secret_bearing(t->rows[r].name) && !strncmp(t->rows[r].name, name, n))
                full = t->rows[r].name;
        }
        if (exact || !(full || secret_bearing(name)))
            continue;
        if (full)
            fs_error("%s: --%s is not an option; secrets never go on the command line: give --%s with a "
                     "file only you can read (abbreviations of it are not accepted)",
                     t->command, name, full);
        else
            fs_error("%s: --%s is not an option; secrets never go on the command line (see --help)", t->command,
                     name);
        return -1;
    }
    return 0;
}

int opts_parse(const opt_table_t *t, const opt_table_t *const *others, void *cfg, int argc, char **argv,
               opt_sources_t *s)
{
    char err[512];
    memset(s, 0, sizeof(*s));
    s->src = xcalloc(t->nrows ? t->nrows : 1, sizeof(*s->src));
    if (refuse_secret_abbrev(t, argc, argv) != 0)
        return -1;
    if (cfg_build(opts_keys(t, others), argc, argv, &s->layers, err, sizeof(err)) != 0)
        return fs_error("%s", err), -1;
    char shortopts[128], *nos;
    struct option *lo = long_options(t, shortopts, sizeof(shortopts), &nos);
    int c, rc = 0;
    /* getopt names argv[0] in its messages ("run: unrecognized option"):
     * make that "finsim run", as the other messages name the program */
    char prog[80];
    snprintf(prog, sizeof(prog), "finsim %s", t->command ? t->command : "");
    char *argv0 = s->layers.argc > 0 ? s->layers.argv[0] : NULL;
    if (argv0)
        s->layers.argv[0] = prog;
    optind = 0; /* full reset: a command may be parsed several times in one process */
    while (rc == 0 && (c = getopt_long(s->layers.argc, s->layers.argv, shortopts, lo, NULL)) != -1) {
        int neg;
        long r = c == 'h' ? -1 : row_of(t, c, &neg);
        if (c == 'h') {
            rc = OPTS_HELP;
        } else if (r < 0) {
            rc = -1; /* getopt said why */
        } else if ((current_origin = cfg_origin_at(&s->layers, optind)),
                   set_value(&t->rows[r], cfg, optarg, neg, err, sizeof(err)) != 0) {
            bad_value(s, optarg, err);
            rc = -1;
        } else {
            s->src[r] = cfg_source_at(&s->layers, optind);
        }
    }
    current_origin = NULL;
    if (argv0)
        s->layers.argv[0] = argv0;
    free(lo);
    free(nos);
    return rc;
}

void opts_sources_free(opt_sources_t *s)
{
    free(s->src);
    cfg_free(&s->layers);
    memset(s, 0, sizeof(*s));
}

void opts_show(const opt_def_t *o, const void *cfg, char *buf, size_t n)
{
    const char *p = (const char *)cfg + o->off;
    buf[0] = '\0';
    if (o->show) {
        o->show(cfg, o, buf, n);
        return;
    }
    if (o->secret) {
        snprintf(buf, n, "%s", *(const char *const *)p ? "<redacted>" : "<none>");
        return;
    }
    switch (o->type) {
    case OPT_STR: snprintf(buf, n, "%s", *(const char *const *)p ? *(const char *const *)p : ""); break;
    case OPT_INT:
    case OPT_COUNT: snprintf(buf, n, "%d", *(const int *)p); break;
    case OPT_I64: snprintf(buf, n, "%" PRId64, *(const int64_t *)p); break;
    case OPT_U64: snprintf(buf, n, "%" PRIu64, *(const uint64_t *)p); break;
    case OPT_DBL: snprintf(buf, n, "%g", *(const double *)p); break;
    case OPT_FLAG: snprintf(buf, n, "%s", *(const int *)p ? "true" : "false"); break;
    case OPT_ENUM:
        for (size_t i = 0; o->names[i]; i++)
            if ((o->values ? o->values[i] : (int)i) == *(const int *)p)
                snprintf(buf, n, "%s", o->names[i]);
        break;
    case OPT_CB: break;
    }
}

char *opts_describe(const opt_table_t *t, const void *cfg)
{
    size_t cap = 256 * (t->nrows + 1), len = 0;
    char *s = xmalloc(cap);
    s[0] = '\0';
    for (size_t i = 0; i < t->nrows; i++) {
        const opt_def_t *o = &t->rows[i];
        if (!o->section && !o->secret)
            continue;
        char key[96], val[200];
        opts_show(o, cfg, val, sizeof(val));
        len += (size_t)snprintf(s + len, cap - len, "%s=%s\n", key_name(o, key, sizeof(key)), val);
    }
    return s;
}

/* The left part of row o's help line: "--store URL", "--no-mirror". */
static void usage_name(const opt_def_t *o, char *buf, size_t n)
{
    int no = o->type == OPT_FLAG && o->def && !strcmp(o->def, "true");
    if (o->letter)
        snprintf(buf, n, "-%c, --%s%s%s", o->letter, no ? "no-" : "", o->name, o->arg ? " " : "");
    else
        snprintf(buf, n, "--%s%s%s", no ? "no-" : "", o->name, o->arg ? " " : "");
    if (o->arg)
        strncat(buf, o->arg, n - strlen(buf) - 1);
}

/* Print help (a first line, then lines after '\n') at column col, the
 * first line after lead. */
static void usage_help(FILE *f, const char *lead, const char *help, int col)
{
    int pad = col - (int)strlen(lead);
    fprintf(f, "%s%*s", lead, pad > 0 ? pad : 3, "");
    for (const char *p = help; *p; p++) {
        fputc(*p, f);
        if (*p == '\n')
            fprintf(f, "%*s", col, "");
    }
    fputc('\n', f);
}

void opts_usage(const opt_table_t *t, FILE *f)
{
    fputs(t->usage_head, f);
    char line[512] = "";
    for (size_t i = 0; i < t->nrows; i++) {
        const opt_def_t *o = &t->rows[i];
        if (o->secret)
            continue;
        if (o->group)
            fprintf(f, "%s\n", o->group);
        char name[128];
        usage_name(o, name, sizeof(name));
        /* rows without help share the next row's line: "--a A, --b B," */
        if (line[0] && strlen(line) + strlen(name) + 2 > 84) {
            line[strlen(line) - 1] = '\0'; /* the blank after the comma */
            fprintf(f, "%s\n", line);
            line[0] = '\0';
        }
        if (!line[0])
            snprintf(line, sizeof(line), "  ");
        strncat(line, name, sizeof(line) - strlen(line) - 1);
        if (!o->help) {
            strncat(line, ", ", sizeof(line) - strlen(line) - 1);
            continue;
        }
        usage_help(f, line, o->help, t->col);
        line[0] = '\0';
    }
    fprintf(f, "%-*s%s\n", t->col, "  -h, --help", "this text");
    fputs(t->usage_tail, f);
}
