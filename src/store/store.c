/* store.c - store registry, URL dispatch and the timed wrappers. */
#include "finsim/store/store.h"

#include "backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "finsim/base/util.h"

static char *store_redact_userinfo(const char *url, char *buf, size_t n);

/* Order matters: the file backend accepts anything the others do not. */
const store_backend_t *const store_backends[] = {
    &store_backend_memory,
    &store_backend_redis,
    &store_backend_file,
    NULL,
};

/* Keys of connection strings whose values are secrets (compared without
 * case): Redis/StackExchange "password=", Azure "AccountKey=",
 * "SharedAccessSignature=", SAS "sig=", and the like. */
static const char *const secret_keys[] = {"password", "pwd", "passwd", "key", "accountkey", "accesskey",
                                          "sharedaccesskey", "sharedaccesssignature", "sig", "secret",
                                          "token", "auth", NULL};

/* The secret key that starts at p ("key=" after a separator), or NULL. */
static const char *secret_key_at(const char *s, const char *p)
{
    if (p != s && !strchr(",;?&", p[-1]) && !(p[-1] == ' ' && p - 1 != s && strchr(",;", p[-2])))
        return NULL;
    for (int i = 0; secret_keys[i]; i++) {
        size_t k = strlen(secret_keys[i]);
        if (!strncasecmp(p, secret_keys[i], k) && p[k] == '=')
            return secret_keys[i];
    }
    return NULL;
}

int store_url_has_secret(const char *url)
{
    for (const char *p = url; *p; p++)
        if (secret_key_at(url, p))
            return 1;
    return 0;
}

/* Copy in to out[n] with the value of every secret key replaced by
 * "<redacted>". A value ends at ',', ';' or '&' (a shared access
 * signature, itself a query string, only at ';'). */
static void redact_kv(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < n;) {
        const char *key = secret_key_at(in, p);
        if (!key) {
            out[o++] = *p++;
            continue;
        }
        size_t k = strlen(key) + 1; /* with '=' */
        int r = snprintf(out + o, n - o, "%.*s<redacted>", (int)k, p);
        o = r < 0 ? o : o + (size_t)r < n ? o + (size_t)r : n - 1;
        p += k;
        const char *stops = !strcasecmp(key, "sharedaccesssignature") ? ";" : ",;&";
        p += strcspn(p, stops);
    }
    out[o < n ? o : n - 1] = '\0';
}

char *store_redact_url(const char *url, char *buf, size_t n)
{
    if (store_url_has_secret(url)) {
        /* key=value secrets first: their values may hold the '?' or '/'
         * that would otherwise end the authority, so the user info is
         * judged on what is printed (and a second redaction changes
         * nothing) */
        char *tmp = xmalloc(n);
        redact_kv(url, tmp, n);
        store_redact_userinfo(tmp, buf, n);
        free(tmp);
        return buf;
    }
    return store_redact_userinfo(url, buf, n);
}

/* The password of a URL's user info replaced by "<redacted>". */
static char *store_redact_userinfo(const char *url, char *buf, size_t n)
{
    const char *scheme = strstr(url, "://");
    const char *auth = scheme ? scheme + 3 : url;
    const char *at = NULL;
    if (scheme && (!strncasecmp(url, "redis://", 8) || !strncasecmp(url, "rediss://", 9))) {
        /* A Redis URL has no '@' outside its user info (the path and query
         * are only a db number), so the user info ends at the last '@' of
         * the whole URL: a password pasted unencoded may hold '/', '?', '#'
         * or '@' ("redis://u:pa/ss@host") and must not be printed either. */
        at = strrchr(auth, '@');
    } else {
        /* other URLs and file paths: the last '@' of the authority */
        const char *end = auth + strcspn(auth, "/?#");
        for (const char *p = auth; p < end; p++)
            if (*p == '@')
                at = p;
    }
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    for (const char *p = auth; at && !colon && p + 3 <= at; p++) /* ':' percent-encoded as %3A */
        if (p[0] == '%' && p[1] == '3' && (p[2] == 'a' || p[2] == 'A'))
            colon = p;
    if (!colon) {
        snprintf(buf, n, "%s", url);
        return buf;
    }
    snprintf(buf, n, "%.*s:<redacted>%s", (int)(colon - url), url, at);
    return buf;
}

int store_set_error(store_t *st, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->errstr, sizeof(st->errstr), fmt, ap);
    va_end(ap);
    st->err = code;
    return code;
}

/* The first backend of the registry that accepts url, or NULL. */
static const store_backend_t *backend_for(const char *url)
{
    for (int i = 0; store_backends[i]; i++)
        if (store_backends[i]->accepts(url))
            return store_backends[i];
    return NULL;
}

/* Name of the backend that would take url, or NULL; see store.h. */
const char *store_backend_for(const char *url)
{
    const store_backend_t *be = backend_for(url);
    return be ? be->name : NULL;
}

store_t *store_open(const char *url, const store_opts_t *o, void *mpi_comm,
                    char *err, size_t errlen, int *errcode)
{
    store_opts_t defaults;
    memset(&defaults, 0, sizeof(defaults));
    if (!o)
        o = &defaults;
    if (errcode)
        *errcode = STORE_OK;
    if (!url || !*url) {
        fs_seterr(err, errlen, "no store given (--store URL)");
        if (errcode)
            *errcode = STORE_E_USAGE;
        return NULL;
    }
    if (store_url_has_secret(url)) {
        /* a connection string pasted from a portal: never open, print or
         * keep it as it is (the file backend would make it a file name) */
        char red[512];
        fs_seterr(err, errlen,
                  "the store '%s' is a connection string with a secret in it, not a store URL: give "
                  "redis://HOST:PORT (rediss:// for TLS) and the password in FINSIM_REDIS_PASSWORD or "
                  "--password-file",
                  store_redact_url(url, red, sizeof(red)));
        if (errcode)
            *errcode = STORE_E_USAGE;
        return NULL;
    }
    size_t plen = o->key_prefix ? strlen(o->key_prefix) : 0;
    if (strlen(url) >= sizeof(((store_t *)0)->url) || plen > TRADE_KEY_PREFIX_MAX) {
        /* never cut short: a shorter path or prefix names another store */
        if (plen > TRADE_KEY_PREFIX_MAX)
            fs_seterr(err, errlen, "the key prefix is %zu bytes long; at most %d are allowed", plen,
                      TRADE_KEY_PREFIX_MAX);
        else
            fs_seterr(err, errlen, "the store URL or path is %zu bytes long; at most %zu are allowed", strlen(url),
                      sizeof(((store_t *)0)->url) - 1);
        if (errcode)
            *errcode = STORE_E_USAGE;
        return NULL;
    }
    const store_backend_t *be = backend_for(url);
    store_t *st = xcalloc(1, sizeof(*st));
    st->be = be;
    st->opts = *o;
    if (st->opts.batch <= 0)
        st->opts.batch = 1000;
    if (st->opts.timeout_s <= 0)
        st->opts.timeout_s = 10;
    if (st->opts.retries <= 0)
        st->opts.retries = 3;
    snprintf(st->url, sizeof(st->url), "%s", url);
    int rc = be ? be->open(st, url, &st->opts, mpi_comm)
                : store_set_error(st, STORE_E_USAGE, "no store backend accepts '%s'", url);
    if (rc != STORE_OK) {
        fs_seterr(err, errlen, "%s", st->errstr[0] ? st->errstr : "cannot open store");
        if (errcode)
            *errcode = rc;
        free(st);
        return NULL;
    }
    return st;
}

void store_close(store_t *st)
{
    if (!st)
        return;
    if (st->be && st->be->close)
        st->be->close(st);
    free(st);
}

/* The error of an operation that the backend does not have. */
static int notsup(store_t *st, const char *what)
{
    return store_set_error(st, STORE_E_NOTSUP, "%s store %s", st->be->name, what);
}

/* Count n trades or results written since t0, pass rc on. */
static int counted_put(store_t *st, double t0, size_t n, int rc)
{
    st->stats.put_s += fs_now() - t0;
    st->stats.puts += (int64_t)n;
    return rc;
}

int store_get_trades(store_t *st, const int64_t *ids, size_t n, trade_slot_t *out)
{
    double t0 = fs_now();
    int rc = st->be->get_trades ? st->be->get_trades(st, ids, n, out)
                                : notsup(st, "cannot read trades");
    st->stats.fetch_s += fs_now() - t0;
    st->stats.gets += (int64_t)n;
    return rc;
}

int store_prefetch_trades(store_t *st, const int64_t *ids, size_t n)
{
    if (!st->be->prefetch_trades)
        return STORE_E_NOTSUP;
    double t0 = fs_now();
    int rc = st->be->prefetch_trades(st, ids, n);
    st->stats.fetch_s += fs_now() - t0;
    return rc;
}

int store_put_trades(store_t *st, const trade_t *t, size_t n)
{
    double t0 = fs_now();
    int rc = st->be->put_trades ? st->be->put_trades(st, t, n)
                                : notsup(st, "cannot write trades");
    return counted_put(st, t0, n, rc);
}

int store_put_trade_docs(store_t *st, const int64_t *ids, const char *docs, const size_t *off, size_t n)
{
    double t0 = fs_now();
    int rc = st->be->put_trade_docs ? st->be->put_trade_docs(st, ids, docs, off, n)
                                    : notsup(st, "keeps no documents");
    return counted_put(st, t0, n, rc);
}

int store_put_ranking(store_t *st, const char *name, const int64_t *ids, const double *scores, size_t n)
{
    double t0 = fs_now();
    int rc = st->be->put_ranking ? st->be->put_ranking(st, name, ids, scores, n)
                                 : notsup(st, "keeps no rankings");
    return counted_put(st, t0, n, rc);
}

int store_has_trade_docs(const store_t *st)
{
    return st->be->put_trade_docs != NULL;
}

int store_put_results(store_t *st, const result_t *r, size_t n)
{
    double t0 = fs_now();
    int rc = st->be->put_results ? st->be->put_results(st, r, n)
                                 : notsup(st, "cannot mirror results");
    return counted_put(st, t0, n, rc);
}

int store_get_results(store_t *st, const int64_t *ids, size_t n, result_t *out, int *found)
{
    if (!st->be->get_results)
        return notsup(st, "cannot read results");
    return st->be->get_results(st, ids, n, out, found);
}

int store_list_trades(store_t *st, int64_t **ids, size_t *n)
{
    if (!st->be->list_trades)
        return notsup(st, "cannot list its trades");
    return st->be->list_trades(st, ids, n);
}

int store_flush(store_t *st)
{
    return st->be->flush ? st->be->flush(st) : STORE_OK;
}

int store_command(store_t *st, int argc, const char **argv, const size_t *lens, store_reply_t **out)
{
    *out = NULL;
    if (!st->be->command)
        return notsup(st, "takes no raw commands");
    return st->be->command(st, argc, argv, lens, out);
}

void store_reply_free(store_reply_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->elements; i++)
        store_reply_free(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

int store_reconnect(store_t *st)
{
    if (!st->be->reconnect)
        return notsup(st, "cannot reconnect");
    return st->be->reconnect(st);
}

const char *store_describe(store_t *st)
{
    if (st->be->describe)
        return st->be->describe(st);
    return st->url;
}

/* The accessors of store.h: callers never see struct store. None fails;
 * what they return belongs to st. */

/* The last error's message ("" before any error). */
const char *store_errstr(const store_t *st)
{
    return st->errstr;
}

/* The last error's STORE_E_* code (STORE_OK before any error). */
int store_errcode(const store_t *st)
{
    return st->err;
}

/* The counters the wrappers accumulate. */
const store_stats_t *store_stats(const store_t *st)
{
    return &st->stats;
}

/* The backend's name (static storage). */
const char *store_backend_name(const store_t *st)
{
    return st->be->name;
}

/* Keys per batch after defaults and the backend's limits. */
int store_batch(const store_t *st)
{
    return st->opts.batch;
}
