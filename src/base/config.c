/* config.c - layered configuration (INI via inih, FINSIM_* env, argv). */
#include "finsim/base/config.h"

#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "finsim/base/secret.h"
#include "finsim/base/util.h"

typedef struct vec {
    char **argv;
    const char **src;    /* label of each argument */
    const char **origin; /* message prefix of each argument, NULL: command line */
    int n, cap;
} vec_t;

/* Append arg (copied) with its source label and origin (not copied: they
 * live in the layers' owned strings or are literals). */
static void vec_push(vec_t *v, const char *arg, const char *src, const char *origin)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 32;
        v->argv = xrealloc(v->argv, sizeof(char *) * (size_t)(v->cap + 1));
        v->src = xrealloc(v->src, sizeof(char *) * (size_t)(v->cap + 1));
        v->origin = xrealloc(v->origin, sizeof(char *) * (size_t)(v->cap + 1));
    }
    v->argv[v->n] = xstrdup(arg);
    v->src[v->n] = src;
    v->origin[v->n] = origin;
    v->n++;
    v->argv[v->n] = NULL;
}

/* Names that look like secrets are refused in files and plain env keys. */
static int secret_name(const char *name)
{
    return strstr(name, "password") && !strstr(name, "password_file") ? 1
           : strstr(name, "passphrase") || strstr(name, "secret") || strstr(name, "api_key") ? 1 : 0;
}

static int parse_bool(const char *v, int *out)
{
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcmp(v, "1"))
        return *out = 1, 0;
    if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") || !strcmp(v, "0"))
        return *out = 0, 0;
    return -1;
}

/* Append the long option for key = value to v; src labels it, origin
 * prefixes messages about it. Returns 0, or -1 with the reason in err. */
static int push_setting(vec_t *v, const cfg_key_t *k, const char *value, const char *src, const char *origin,
                        char *err, size_t errlen)
{
    char opt[256];
    char dashed[64];
    snprintf(dashed, sizeof(dashed), "%s", k->name);
    for (char *p = dashed; *p; p++)
        if (*p == '_')
            *p = '-';
    if (k->is_flag) {
        int b;
        if (parse_bool(value, &b) != 0)
            return fs_seterr(err, errlen, "%s: %s expects true or false", origin, k->name);
        snprintf(opt, sizeof(opt), "--%s%s", b ? "" : "no-", dashed);
    } else {
        if (!*value)
            return 0; /* an empty value leaves the setting as it was */
        /* any length: the command's settings table checks the value, with
         * the same limits as on the command line */
        size_t need = strlen(dashed) + strlen(value) + 4;
        char *long_opt = xmalloc(need);
        snprintf(long_opt, need, "--%s=%s", dashed, value);
        vec_push(v, long_opt, src, origin);
        free(long_opt);
        return 0;
    }
    vec_push(v, opt, src, origin);
    return 0;
}

typedef struct ini_ctx {
    const cfg_key_t *keys;
    vec_t *v;
    cfg_layers_t *l;     /* owns the source strings */
    const char *path;
    FILE *f;
    int line;            /* lines read so far: the line of the current key */
    char *err;
    size_t errlen;
    int failed;
} ini_ctx_t;

static const char *own(cfg_layers_t *l, const char *s);

/* inih's reader: fgets that counts lines, so the handler knows its line. */
static char *cfg_ini_read(char *buf, int size, void *stream)
{
    ini_ctx_t *c = stream;
    char *r = fgets(buf, size, c->f);
    if (r && strchr(r, '\n'))
        c->line++;
    else if (r && feof(c->f))
        c->line++;
    return r;
}

/* The key of keys named name in section, else any key named name (for the
 * "belongs in section" message), else NULL. */
static const cfg_key_t *find_key(const cfg_key_t *keys, const char *section, const char *name)
{
    const cfg_key_t *other = NULL;
    for (const cfg_key_t *k = keys; k->name; k++) {
        if (strcmp(k->name, name) != 0)
            continue;
        if (!strcmp(k->section, section))
            return k;
        if (!other || other->foreign)
            other = k;
    }
    return other;
}

static int cfg_ini_handler(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx_t *c = user;
    if (c->failed)
        return 0;
    char src[512];
    snprintf(src, sizeof(src), "%s line %d", c->path, c->line);
    if (secret_name(name)) {
        fs_seterr(c->err, c->errlen,
                  "%s: [%s] %s: secrets are not read from config files; use FINSIM_REDIS_PASSWORD or "
                  "password_file (a file only you can read)",
                  src, section, name);
        c->failed = 1;
        return 0;
    }
    const cfg_key_t *k = find_key(c->keys, section, name);
    if (k && strcmp(k->section, section) != 0) {
        fs_seterr(c->err, c->errlen, "%s: %s belongs in section [%s], not [%s]", src, name, k->section, section);
        c->failed = 1;
        return 0;
    }
    if (!k) {
        fs_seterr(c->err, c->errlen, "%s: unknown setting [%s] %s", src, section, name);
        c->failed = 1;
        return 0;
    }
    if (k->foreign)
        return 1; /* another command's setting */
    char origin[1024], label[600];
    snprintf(origin, sizeof(origin), "%s [%s] %s = %s", src, section, name, value);
    snprintf(label, sizeof(label), "file %s", src);
    if (push_setting(c->v, k, value, own(c->l, label), own(c->l, origin), c->err, c->errlen) != 0) {
        c->failed = 1;
        return 0;
    }
    return 1;
}

/* Keep a copy of a source string for the life of the layers. */
static const char *own(cfg_layers_t *l, const char *s)
{
    l->owned = xrealloc(l->owned, sizeof(char *) * (size_t)(l->nowned + 1));
    l->owned[l->nowned] = xstrdup(s);
    return l->owned[l->nowned++];
}

int cfg_build(const cfg_key_t *keys, int argc, char **argv, cfg_layers_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    vec_t v = {0};
    vec_push(&v, argc > 0 ? argv[0] : "finsim", "command line", NULL);
    /* the INI file: --config FILE on the command line, else FINSIM_CONFIG */
    const char *path = keys[0].name ? getenv("FINSIM_CONFIG") : NULL; /* no settings: no file */
    for (int i = 1; i < argc && keys[0].name; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            path = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            path = argv[i] + 9;
    }
    int rc = 0;
    char src[160];
    if (path && *path) {
        out->config_path = xstrdup(path);
        ini_ctx_t c = {.keys = keys, .v = &v, .l = out, .path = path, .err = err, .errlen = errlen};
        FILE *f = fopen(path, "r");
        if (!f) {
            rc = fs_seterr(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
        } else {
            c.f = f;
            int line = ini_parse_stream(cfg_ini_read, &c, cfg_ini_handler, &c);
            fclose(f);
            if (c.failed)
                rc = -1;
            else if (line != 0)
                rc = fs_seterr(err, errlen, "%s:%d: not valid INI syntax", path, line);
        }
    }
    /* the environment: FINSIM_<NAME> */
    for (const cfg_key_t *k = keys; rc == 0 && k->name; k++) {
        if (k->foreign)
            continue;
        char var[96];
        snprintf(var, sizeof(var), "FINSIM_%s", k->name);
        for (char *p = var; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        const char *val = getenv(var);
        if (!val)
            continue;
        snprintf(src, sizeof(src), "env %s", var);
        char origin[1200];
        snprintf(origin, sizeof(origin), "%s=%.1024s (environment)", var, val);
        rc = push_setting(&v, k, val, own(out, src), own(out, origin), err, errlen);
    }
    for (int i = 1; i < argc && rc == 0; i++)
        vec_push(&v, argv[i], "command line", NULL);
    out->argc = v.n;
    out->argv = v.argv;
    out->source = v.src;
    out->origin = v.origin;
    if (rc != 0)
        cfg_free(out);
    return rc;
}

void cfg_free(cfg_layers_t *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->argc; i++)
        free(l->argv[i]);
    free(l->argv);
    free(l->source);
    free(l->origin);
    for (int i = 0; i < l->nowned; i++)
        free(l->owned[i]);
    free(l->owned);
    free(l->config_path);
    memset(l, 0, sizeof(*l));
}

static int option_index(const cfg_layers_t *l, int optind_after);

const char *cfg_source_at(const cfg_layers_t *l, int optind_after)
{
    int i = option_index(l, optind_after);
    if (i < 0 || i >= l->argc || !l->source[i])
        return "command line";
    return l->source[i];
}

/* Index of the argument holding the option getopt_long just returned. */
static int option_index(const cfg_layers_t *l, int optind_after)
{
    int i = optind_after - 1;
    /* "--name value" on the command line: the option is one before its value */
    if (i > 0 && i < l->argc && l->argv[i][0] != '-' && l->argv[i - 1][0] == '-' && !strchr(l->argv[i - 1], '='))
        i--;
    return i;
}

const char *cfg_origin_at(const cfg_layers_t *l, int optind_after)
{
    int i = option_index(l, optind_after);
    if (i < 0 || i >= l->argc || !l->origin)
        return NULL;
    return l->origin[i];
}

int cfg_read_secret_file(const char *path, char **out, char *err, size_t errlen)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return fs_seterr(err, errlen, "cannot read secret file %s: %s", path, strerror(errno));
    if (sb.st_mode & (S_IRWXG | S_IRWXO))
        return fs_seterr(err, errlen,
                         "secret file %s is accessible by group or others (mode %03o); run: chmod 600 %s", path,
                         (unsigned)(sb.st_mode & 0777), path);
    FILE *f = fopen(path, "r");
    if (!f)
        return fs_seterr(err, errlen, "cannot read secret file %s: %s", path, strerror(errno));
    /* a secret of up to CFG_SECRET_MAX bytes and its line end; a longer
     * file or a NUL byte is refused, never silently cut short */
    char buf[CFG_SECRET_MAX + 4];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    int more = n == sizeof(buf) - 1 && fgetc(f) != EOF;
    int rerr = ferror(f);
    fclose(f);
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    int rc = 0;
    if (rerr)
        rc = fs_seterr(err, errlen, "cannot read secret file %s", path);
    else if (more || n > CFG_SECRET_MAX)
        rc = fs_seterr(err, errlen, "secret file %s holds more than %d bytes", path, CFG_SECRET_MAX);
    else if (memchr(buf, '\0', n))
        rc = fs_seterr(err, errlen, "secret file %s holds a NUL byte", path);
    else
        *out = xstrdup(buf);
    fs_wipe(buf, sizeof(buf));
    if (rc == 0)
        fs_secret_held();
    return rc;
}
