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

#include "finsim/base/util.h"

/* Every setting of finsim run, by INI section. The same names serve the
 * INI file, FINSIM_<NAME> and --name (dashes for underscores). */
const cfg_key_t cfg_run_keys[CFG_RUN_NKEYS + 1] = { /* tests/test_trade.c checks the count */
    {"store", "store", 0}, {"key_prefix", "store", 0}, {"password_file", "store", 0},
    {"timeout", "store", 0}, {"batch", "store", 0}, {"mirror", "store", 1},
    {"tls_ca", "tls", 0}, {"tls_ca_dir", "tls", 0}, {"tls_cert", "tls", 0}, {"tls_key", "tls", 0},
    {"tls_sni", "tls", 0}, {"tls_insecure", "tls", 1},
    {"algorithm", "run", 0}, {"kernel", "run", 0}, {"seed", "run", 0}, {"paths", "run", 0},
    {"start_trade", "run", 0}, {"trade_window", "run", 0}, {"all_trades", "run", 1},
    {"ids_file", "run", 0}, {"output", "run", 0}, {"schedule", "run", 0}, {"balance", "run", 0},
    {"chunk", "run", 0}, {"h5_write", "run", 0}, {"resume", "run", 1}, {"expect_checksum", "run", 0},
    {"events", "run", 0}, {"progress", "run", 0}, {"quiet", "run", 1}, {"failure", "run", 0}, {"failure_mode", "run", 0},
    {"task_duration", "synthetic", 0}, {"mem_usage", "synthetic", 0}, {"delay_start", "synthetic", 0},
    {NULL, NULL, 0},
};

typedef struct vec {
    char **argv;
    const char **src;
    int n, cap;
} vec_t;

static void vec_push(vec_t *v, const char *arg, const char *src)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 32;
        v->argv = xrealloc(v->argv, sizeof(char *) * (size_t)(v->cap + 1));
        v->src = xrealloc(v->src, sizeof(char *) * (size_t)(v->cap + 1));
    }
    v->argv[v->n] = xstrdup(arg);
    v->src[v->n] = src;
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

/* Append the long option for key = value to v. */
static int push_setting(vec_t *v, const cfg_key_t *k, const char *value, const char *src, char *err,
                        size_t errlen)
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
            return fs_seterr(err, errlen, "%s: %s expects true or false, not '%s'", src, k->name, value);
        snprintf(opt, sizeof(opt), "--%s%s", b ? "" : "no-", dashed);
    } else {
        if (!*value)
            return 0; /* an empty value leaves the setting as it was */
        int n = snprintf(opt, sizeof(opt), "--%s=%s", dashed, value);
        if (n < 0 || (size_t)n >= sizeof(opt))
            return fs_seterr(err, errlen, "%s: value of %s is too long", src, k->name);
    }
    vec_push(v, opt, src);
    return 0;
}

typedef struct ini_ctx {
    const cfg_key_t *keys;
    vec_t *v;
    const char *src;
    char *err;
    size_t errlen;
    int failed;
} ini_ctx_t;

static int cfg_ini_handler(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx_t *c = user;
    if (c->failed)
        return 0;
    if (secret_name(name)) {
        fs_seterr(c->err, c->errlen,
                  "%s: [%s] %s: secrets are not read from config files; use FINSIM_REDIS_PASSWORD or "
                  "password_file (a file only you can read)",
                  c->src, section, name);
        c->failed = 1;
        return 0;
    }
    for (const cfg_key_t *k = c->keys; k->name; k++) {
        if (strcmp(k->name, name) != 0)
            continue;
        if (strcmp(k->section, section) != 0) {
            fs_seterr(c->err, c->errlen, "%s: %s belongs in section [%s], not [%s]", c->src, name, k->section,
                      section);
            c->failed = 1;
            return 0;
        }
        if (push_setting(c->v, k, value, c->src, c->err, c->errlen) != 0) {
            c->failed = 1;
            return 0;
        }
        return 1;
    }
    fs_seterr(c->err, c->errlen, "%s: unknown setting [%s] %s", c->src, section, name);
    c->failed = 1;
    return 0;
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
    vec_push(&v, argc > 0 ? argv[0] : "finsim", "command line");
    /* the INI file: --config FILE on the command line, else FINSIM_CONFIG */
    const char *path = getenv("FINSIM_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            path = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            path = argv[i] + 9;
    }
    int rc = 0;
    char src[160];
    if (path && *path) {
        out->config_path = xstrdup(path);
        snprintf(src, sizeof(src), "file %s", path);
        ini_ctx_t c = {.keys = keys, .v = &v, .src = own(out, src), .err = err, .errlen = errlen};
        FILE *f = fopen(path, "r");
        if (!f) {
            rc = fs_seterr(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
        } else {
            int line = ini_parse_file(f, cfg_ini_handler, &c);
            fclose(f);
            if (c.failed)
                rc = -1;
            else if (line != 0)
                rc = fs_seterr(err, errlen, "%s:%d: not valid INI syntax", path, line);
        }
    }
    /* the environment: FINSIM_<NAME> */
    for (const cfg_key_t *k = keys; rc == 0 && k->name; k++) {
        char var[96];
        snprintf(var, sizeof(var), "FINSIM_%s", k->name);
        for (char *p = var; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        const char *val = getenv(var);
        if (!val)
            continue;
        snprintf(src, sizeof(src), "env %s", var);
        rc = push_setting(&v, k, val, own(out, src), err, errlen);
    }
    for (int i = 1; i < argc && rc == 0; i++)
        vec_push(&v, argv[i], "command line");
    out->argc = v.n;
    out->argv = v.argv;
    out->source = v.src;
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
    for (int i = 0; i < l->nowned; i++)
        free(l->owned[i]);
    free(l->owned);
    free(l->config_path);
    memset(l, 0, sizeof(*l));
}

const char *cfg_source_at(const cfg_layers_t *l, int optind_after)
{
    int i = optind_after - 1;
    /* "--name value" on the command line: the option is one before its value */
    if (i > 0 && i < l->argc && l->argv[i][0] != '-' && l->argv[i - 1][0] == '-' && !strchr(l->argv[i - 1], '='))
        i--;
    if (i < 0 || i >= l->argc || !l->source[i])
        return "command line";
    return l->source[i];
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
    memset(buf, 0, sizeof(buf));
    return rc;
}
