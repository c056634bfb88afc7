/* store_redis.c - the Redis trade store: pipelined batch reads and writes,
 * AUTH / ACL users, SELECT, TLS (hiredis >= 1.0 with hiredis_ssl), key
 * prefixes, bounded reconnects with exponential backoff.
 *
 * URLs:  redis://[user@]host[:port][/db]     plain TCP (port 6379 by default)
 *        rediss://[user@]host[:port][/db]    TLS
 *        unix:///path/to/redis.sock[?db=N]   unix socket
 * A password inside the URL is refused: command lines are visible to every
 * user of the machine. The password arrives in opts->password (the caller
 * reads FINSIM_REDIS_PASSWORD or a password file) and is never printed.
 *
 * Wire protocol: reads send one MGET per batch (values for string keys, nil
 * for anything else) and resolve the nil slots with a small pipelined
 * GET + TYPE follow-up, so a missing key and a key of the wrong type are told
 * apart per slot. Writes send one MSET per batch. Up to REDIS_PIPE_DEPTH
 * batches are on the wire at once, so encoding/parsing here overlaps with
 * the server's work. Commands are encoded into one reusable RESP buffer per
 * store, so a batch costs no per-key mallocs on our side (hiredis still
 * allocates one reply object per value).
 *
 * Compiles against hiredis 0.14 (no TLS) and hiredis >= 1.0; TLS code is
 * guarded by FINSIM_HAVE_TLS, which CMake sets when hiredis_ssl is found. */
#include "finsim/store/store.h"

#include "backend.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <hiredis/hiredis.h>

#if FINSIM_HAVE_TLS
#include <hiredis/hiredis_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#endif

#include "finsim/base/util.h"

#define REDIS_DEFAULT_PORT 6379
#define REDIS_MAX_BATCH 5000      /* larger pipelines get slower (ENVIRONMENT.md §3) */
#define REDIS_BACKOFF_FIRST_S 0.1 /* first retry delay; doubles per retry */
#define REDIS_BACKOFF_MAX_S 2.0   /* cap on one retry delay */
#define REDIS_SCAN_COUNT "1000"   /* SCAN COUNT hint for list_trades */
#define REDIS_DOC_STACK 2048      /* formatted trade/result documents up to this size need no malloc */
#ifndef REDIS_PIPE_DEPTH
#define REDIS_PIPE_DEPTH 2        /* batches on the wire at once (client and server overlap) */
#endif

enum redis_transport {
    REDIS_TRANSPORT_TCP,  /* redis:// */
    REDIS_TRANSPORT_TLS,  /* rediss:// */
    REDIS_TRANSPORT_UNIX  /* unix:// */
};

/* Backend state (st->priv). One connection, never shared across threads. */
typedef struct redis_priv {
    redisContext *c;       /* live connection, NULL when none */
    int transport;         /* enum redis_transport */
    char host[256];        /* TCP/TLS host (no brackets for IPv6) */
    int port;              /* TCP/TLS port */
    char path[256];        /* unix socket path */
    long db;               /* database number */
    int db_given;          /* 1: the URL named a db, send SELECT */
    char user[128];        /* ACL user ("" = default user) */
    char tls_name[256];    /* name sent as SNI and verified in the certificate */
    int reconnects;        /* connections made after the first one */
#if FINSIM_HAVE_TLS
    SSL_CTX *ssl_ctx;      /* TLS settings shared by every reconnect */
#endif
    char *cmd;             /* RESP command buffer, reused by every batch */
    size_t cmd_len;        /* bytes used in cmd */
    size_t cmd_cap;        /* bytes allocated for cmd */
    size_t *nil_idx;       /* get_trades: positions MGET answered with nil */
    size_t nil_cap;        /* entries allocated in nil_idx */
    redisReply **rep;      /* replies of the batch being consumed */
    size_t rep_cap;        /* entries allocated in rep */
} redis_priv_t;

/* ---- small helpers ------------------------------------------------------- */

/* Sleep for s seconds (EINTR restarts with the time left). Cannot fail. */
static void redis_sleep(double s)
{
    struct timespec ts, rem;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
        ts = rem;
}

/* Delay before retry number k (k = 0 for the first retry): exponential
 * backoff from REDIS_BACKOFF_FIRST_S, capped at REDIS_BACKOFF_MAX_S. */
static double redis_backoff(int k)
{
    double d = REDIS_BACKOFF_FIRST_S;
    for (int i = 0; i < k && d < REDIS_BACKOFF_MAX_S; i++)
        d *= 2;
    return d < REDIS_BACKOFF_MAX_S ? d : REDIS_BACKOFF_MAX_S;
}

/* A struct timeval of s seconds (s > 0). */
static struct timeval redis_tv(double s)
{
    struct timeval tv;
    tv.tv_sec = (time_t)s;
    tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
    if (tv.tv_sec == 0 && tv.tv_usec == 0)
        tv.tv_usec = 1000;
    return tv;
}

/* Case-insensitive "does s start with prefix". */
static int redis_has_prefix(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Decode %XX escapes of src[0..len) into dst[cap]. Returns 0, or -1 when the
 * result does not fit or an escape is malformed (dst is then unusable). */
static int redis_pct_decode(char *dst, size_t cap, const char *src, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = src[i];
        if (ch == '%') {
            if (i + 2 >= len || !isxdigit((unsigned char)src[i + 1]) || !isxdigit((unsigned char)src[i + 2]))
                return -1;
            char hex[3] = {src[i + 1], src[i + 2], 0};
            ch = (char)strtol(hex, NULL, 16);
            if (ch == 0) /* %00 would silently cut the name short */
                return -1;
            i += 2;
        }
        if (o + 1 >= cap)
            return -1;
        dst[o++] = ch;
    }
    dst[o] = 0;
    return 0;
}

/* Parse a database number (0..INT_MAX) from s[0..len). Returns 0 or -1. */
static int redis_parse_db(const char *s, size_t len, long *db)
{
    char buf[16];
    int64_t v;
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)buf[i]))
            return -1;
    if (fs_parse_i64(buf, &v) != 0 || v < 0 || v > INT_MAX)
        return -1;
    *db = (long)v;
    return 0;
}

#if FINSIM_HAVE_TLS
/* Does host look like a numeric IPv4 or IPv6 address? */
static int redis_host_is_ip(const char *host)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}
#endif

/* ---- URL parsing --------------------------------------------------------- */

/* Parse the query string q[0..len) ("db=N"). A password parameter is refused
 * like a password in the user info. Returns 0 or a STORE_E_* code with
 * st->errstr set. */
static int redis_parse_query(store_t *st, redis_priv_t *p, const char *q, size_t len)
{
    while (len > 0) {
        const char *amp = memchr(q, '&', len);
        size_t n = amp ? (size_t)(amp - q) : len;
        const char *eq = memchr(q, '=', n);
        size_t kl = eq ? (size_t)(eq - q) : n;
        if (kl == 2 && strncmp(q, "db", 2) == 0 && eq) {
            if (redis_parse_db(eq + 1, n - kl - 1, &p->db) != 0)
                return store_set_error(st, STORE_E_USAGE, "redis URL: db must be a number 0..%d", INT_MAX);
            p->db_given = 1;
        } else if ((kl == 8 && strncmp(q, "password", 8) == 0) || (kl == 4 && strncmp(q, "auth", 4) == 0)) {
            return store_set_error(st, STORE_E_USAGE,
                                   "redis URL must not carry a password (command lines are visible to every user of the machine); set FINSIM_REDIS_PASSWORD or use a password file");
        } else {
            return store_set_error(st, STORE_E_USAGE, "redis URL: unknown parameter '%.*s' (only db=N is known)",
                                   (int)(kl < 40 ? kl : 40), q);
        }
        q += n;
        len -= n;
        if (len > 0) { /* skip '&' */
            q++;
            len--;
        }
    }
    return 0;
}

/* Parse url into p. Never copies a password anywhere: user info holding a
 * ':' is refused with STORE_E_USAGE before anything else is looked at.
 * Returns 0 or a STORE_E_* code with st->errstr set. */
static int redis_parse_url(store_t *st, redis_priv_t *p, const char *url)
{
    const char *rest;
    if (redis_has_prefix(url, "unix://")) {
        p->transport = REDIS_TRANSPORT_UNIX;
        rest = url + strlen("unix://");
        const char *q = strchr(rest, '?');
        size_t plen = q ? (size_t)(q - rest) : strlen(rest);
        if (memchr(rest, '@', plen))
            return store_set_error(st, STORE_E_USAGE,
                                   "unix socket URL takes no user info; the user name comes from the configuration and the password from FINSIM_REDIS_PASSWORD or a password file");
        if (plen == 0 || rest[0] != '/')
            return store_set_error(st, STORE_E_USAGE, "unix socket URL needs an absolute path: unix:///path/to/redis.sock");
        if (redis_pct_decode(p->path, sizeof(p->path), rest, plen) != 0 || strlen(p->path) >= 108)
            return store_set_error(st, STORE_E_USAGE, "unix socket path is malformed or longer than 107 bytes");
        return q ? redis_parse_query(st, p, q + 1, strlen(q + 1)) : 0;
    }
    if (redis_has_prefix(url, "rediss://")) {
        p->transport = REDIS_TRANSPORT_TLS;
        rest = url + strlen("rediss://");
    } else if (redis_has_prefix(url, "redis://")) {
        p->transport = REDIS_TRANSPORT_TCP;
        rest = url + strlen("redis://");
    } else {
        return store_set_error(st, STORE_E_USAGE, "not a redis URL (redis://, rediss://, unix://)");
    }

    size_t alen = strcspn(rest, "/?");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (rest[i] == '@')
            at = rest + i;
    const char *hp = rest;
    if (at) {
        size_t ulen = (size_t)(at - rest);
        if (memchr(rest, ':', ulen))
            return store_set_error(st, STORE_E_USAGE,
                                   "redis URL must not carry a password (command lines are visible to every user of the machine); remove it and set FINSIM_REDIS_PASSWORD or use a password file");
        if (ulen > 0 && redis_pct_decode(p->user, sizeof(p->user), rest, ulen) != 0)
            return store_set_error(st, STORE_E_USAGE, "redis URL: user name is malformed or too long");
        hp = at + 1;
    }
    size_t hplen = alen - (size_t)(hp - rest);
    const char *port_s = NULL;
    size_t hlen;
    if (hplen > 0 && hp[0] == '[') { /* [IPv6]:port */
        const char *rb = memchr(hp, ']', hplen);
        if (!rb)
            return store_set_error(st, STORE_E_USAGE, "redis URL: unterminated '[' in IPv6 host");
        hlen = (size_t)(rb - hp - 1);
        if (hlen >= sizeof(p->host))
            return store_set_error(st, STORE_E_USAGE, "redis URL: host name too long");
        memcpy(p->host, hp + 1, hlen);
        p->host[hlen] = 0;
        if (rb + 1 < hp + hplen) {
            if (rb[1] != ':')
                return store_set_error(st, STORE_E_USAGE, "redis URL: expected ':port' after ']'");
            port_s = rb + 2;
        }
    } else {
        const char *colon = NULL;
        for (size_t i = 0; i < hplen; i++)
            if (hp[i] == ':')
                colon = hp + i;
        hlen = colon ? (size_t)(colon - hp) : hplen;
        if (hlen >= sizeof(p->host))
            return store_set_error(st, STORE_E_USAGE, "redis URL: host name too long");
        memcpy(p->host, hp, hlen);
        p->host[hlen] = 0;
        if (colon)
            port_s = colon + 1;
    }
    if (!p->host[0])
        return store_set_error(st, STORE_E_USAGE, "redis URL has no host (redis://host:port[/db])");
    p->port = REDIS_DEFAULT_PORT;
    if (port_s) {
        size_t plen = (size_t)(hp + hplen - port_s);
        long v = 0;
        if (plen == 0 || plen > 5)
            return store_set_error(st, STORE_E_USAGE, "redis URL: port must be a number 1..65535");
        for (size_t i = 0; i < plen; i++) {
            if (!isdigit((unsigned char)port_s[i]))
                return store_set_error(st, STORE_E_USAGE, "redis URL: port must be a number 1..65535");
            v = v * 10 + (port_s[i] - '0');
        }
        if (v < 1 || v > 65535)
            return store_set_error(st, STORE_E_USAGE, "redis URL: port must be a number 1..65535");
        p->port = (int)v;
    }

    const char *tail = rest + alen;
    if (*tail == '/') {
        tail++;
        size_t dlen = strcspn(tail, "?");
        if (dlen > 0) {
            if (redis_parse_db(tail, dlen, &p->db) != 0)
                return store_set_error(st, STORE_E_USAGE, "redis URL: the path must be a db number (redis://host:port/N)");
            p->db_given = 1;
        }
        tail += dlen;
    }
    if (*tail == '?')
        return redis_parse_query(st, p, tail + 1, strlen(tail + 1));
    return 0;
}

/* Write the canonical, secret-free form of the URL into st->url:
 * redis[s]://[user@]host:port/db or unix:///path?db=N. */
static void redis_format_url(store_t *st, const redis_priv_t *p)
{
    if (p->transport == REDIS_TRANSPORT_UNIX) {
        snprintf(st->url, sizeof(st->url), "unix://%s?db=%ld", p->path, p->db);
        return;
    }
    int v6 = strchr(p->host, ':') != NULL;
    snprintf(st->url, sizeof(st->url), "%s://%s%s%s%s%s:%d/%ld",
             p->transport == REDIS_TRANSPORT_TLS ? "rediss" : "redis", p->user, p->user[0] ? "@" : "",
             v6 ? "[" : "", p->host, v6 ? "]" : "", p->port, p->db);
}

/* ---- RESP command buffer --------------------------------------------------- */

/* Make room for extra more bytes in the command buffer (aborts on OOM). */
static void redis_cmd_reserve(redis_priv_t *p, size_t extra)
{
    if (p->cmd_len + extra <= p->cmd_cap)
        return;
    size_t cap = p->cmd_cap ? p->cmd_cap : 65536;
    while (cap < p->cmd_len + extra)
        cap *= 2;
    p->cmd = xrealloc(p->cmd, cap);
    p->cmd_cap = cap;
}

/* Append "<mark><n>\r\n" (mark '*' or '$'); room must have been reserved. */
static void redis_cmd_num(redis_priv_t *p, char mark, size_t n)
{
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    char *o = p->cmd + p->cmd_len;
    *o++ = mark;
    while (k)
        *o++ = tmp[--k];
    *o++ = '\r';
    *o++ = '\n';
    p->cmd_len = (size_t)(o - p->cmd);
}

/* Append one bulk-string argument. */
static void redis_cmd_arg(redis_priv_t *p, const char *s, size_t len)
{
    redis_cmd_reserve(p, len + 32);
    redis_cmd_num(p, '$', len);
    memcpy(p->cmd + p->cmd_len, s, len);
    p->cmd_len += len;
    p->cmd[p->cmd_len++] = '\r';
    p->cmd[p->cmd_len++] = '\n';
}

/* Start a command of argc arguments. */
static void redis_cmd_begin(redis_priv_t *p, size_t argc)
{
    redis_cmd_reserve(p, 32);
    redis_cmd_num(p, '*', argc);
}

/* ---- connection ------------------------------------------------------------ */

/* Map a failed context to a STORE_E_* code. Timeouts show up as EAGAIN
 * ("Resource temporarily unavailable") from SO_RCVTIMEO in both hiredis 0.14
 * and 1.x, or as REDIS_ERR_TIMEOUT in 1.x. */
static int redis_ctx_code(const redisContext *c)
{
#ifdef REDIS_ERR_TIMEOUT
    if (c->err == REDIS_ERR_TIMEOUT)
        return STORE_E_TIMEOUT;
#endif
    if (c->err == REDIS_ERR_OOM)
        return STORE_E_NOMEM;
    if (c->err == REDIS_ERR_PROTOCOL)
        return STORE_E_PROTOCOL;
    if (strstr(c->errstr, "temporarily unavailable") || strstr(c->errstr, "timed out") ||
        strstr(c->errstr, "timeout"))
        return STORE_E_TIMEOUT;
    return STORE_E_CONNECT;
}

/* Drop the connection (if any). Cannot fail. */
static void redis_drop(redis_priv_t *p)
{
    if (p->c) {
        redisFree(p->c);
        p->c = NULL;
    }
}

#if FINSIM_HAVE_TLS
/* The OpenSSL error queue's last reason, or fallback. */
static const char *redis_ssl_reason(const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : fallback;
}

/* Build the TLS context from the options: TLS >= 1.2, the CA file/dir (or
 * the system store), the optional client certificate, peer verification
 * unless tls_insecure. Returns 0 or STORE_E_TLS / STORE_E_USAGE with
 * st->errstr set; p->ssl_ctx is owned by p (freed in close). */
static int redis_tls_setup(store_t *st, redis_priv_t *p)
{
    static int inited;
    const store_opts_t *o = &st->opts;
    if (!inited) {
        OPENSSL_init_ssl(0, NULL);
        inited = 1;
    }
    if ((o->tls_cert && *o->tls_cert) != (o->tls_key && *o->tls_key))
        return store_set_error(st, STORE_E_USAGE, "TLS client certificate and key must be given together");
    ERR_clear_error();
    p->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!p->ssl_ctx)
        return store_set_error(st, STORE_E_TLS, "cannot create a TLS context: %s", redis_ssl_reason("unknown error"));
    SSL_CTX_set_min_proto_version(p->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(p->ssl_ctx, o->tls_insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    const char *ca_file = o->tls_ca_file && *o->tls_ca_file ? o->tls_ca_file : NULL;
    const char *ca_dir = o->tls_ca_dir && *o->tls_ca_dir ? o->tls_ca_dir : NULL;
    if (ca_file || ca_dir) {
        if (!SSL_CTX_load_verify_locations(p->ssl_ctx, ca_file, ca_dir))
            return store_set_error(st, STORE_E_TLS, "cannot load TLS CA %s '%s': %s", ca_file ? "file" : "directory",
                                   ca_file ? ca_file : ca_dir, redis_ssl_reason("unreadable"));
    } else if (!SSL_CTX_set_default_verify_paths(p->ssl_ctx)) {
        return store_set_error(st, STORE_E_TLS, "cannot load the system CA store: %s", redis_ssl_reason("unknown error"));
    }
    if (o->tls_cert && *o->tls_cert) {
        if (!SSL_CTX_use_certificate_chain_file(p->ssl_ctx, o->tls_cert))
            return store_set_error(st, STORE_E_TLS, "cannot load TLS client certificate '%s': %s", o->tls_cert,
                                   redis_ssl_reason("unreadable"));
        if (!SSL_CTX_use_PrivateKey_file(p->ssl_ctx, o->tls_key, SSL_FILETYPE_PEM))
            return store_set_error(st, STORE_E_TLS, "cannot load TLS client key '%s': %s", o->tls_key,
                                   redis_ssl_reason("unreadable"));
        if (!SSL_CTX_check_private_key(p->ssl_ctx))
            return store_set_error(st, STORE_E_TLS, "TLS client key '%s' does not match certificate '%s'", o->tls_key,
                                   o->tls_cert);
    }
    if (o->tls_insecure)
        fs_warn("TLS server certificate verification is off for %s (tls_insecure)", st->url);
    return 0;
}

/* Run the TLS handshake on p->c: SNI (unless the name is an IP address),
 * certificate chain and host name verification (unless tls_insecure).
 * Returns 0 or STORE_E_TLS / STORE_E_TIMEOUT with st->errstr set; the caller
 * drops the connection on failure. The SSL object belongs to p->c after a
 * successful handshake. */
static int redis_tls_handshake(store_t *st, redis_priv_t *p)
{
    ERR_clear_error();
    SSL *ssl = SSL_new(p->ssl_ctx);
    if (!ssl)
        return store_set_error(st, STORE_E_TLS, "cannot create a TLS session: %s", redis_ssl_reason("unknown error"));
    int is_ip = redis_host_is_ip(p->tls_name);
    if (!is_ip && !SSL_set_tlsext_host_name(ssl, p->tls_name)) {
        SSL_free(ssl);
        return store_set_error(st, STORE_E_TLS, "cannot set TLS server name '%s'", p->tls_name);
    }
    if (!st->opts.tls_insecure) {
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), p->tls_name)
                       : SSL_set1_host(ssl, p->tls_name);
        if (!ok) {
            SSL_free(ssl);
            return store_set_error(st, STORE_E_TLS, "cannot set TLS verification name '%s'", p->tls_name);
        }
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    if (redisInitiateSSL(p->c, ssl) == REDIS_OK)
        return 0;
    long vr = SSL_get_verify_result(ssl);
    int code = redis_ctx_code(p->c) == STORE_E_TIMEOUT ? STORE_E_TIMEOUT : STORE_E_TLS;
    unsigned long e = ERR_peek_last_error();
    char why[160];
    if (e)
        ERR_error_string_n(e, why, sizeof(why));
    else if (strstr(p->c->errstr, "(null)")) /* hiredis found no OpenSSL reason */
        snprintf(why, sizeof(why), "the server ended the handshake without a TLS answer");
    else
        snprintf(why, sizeof(why), "%s", p->c->errstr);
    if (vr != X509_V_OK)
        store_set_error(st, STORE_E_TLS, "TLS certificate verification of %s (name '%s') failed: %s", st->url,
                        p->tls_name, X509_verify_cert_error_string(vr));
    else if (code == STORE_E_TIMEOUT)
        store_set_error(st, code, "TLS handshake with %s timed out after %g s", st->url, st->opts.timeout_s);
    else
        store_set_error(st, code, "TLS handshake with %s failed: %s (is it a TLS port?)", st->url, why);
    SSL_free(ssl);
    return code;
}
#endif

/* Send one command given as argv and return its reply in *out (caller frees
 * with freeReplyObject). Returns 0, or a STORE_E_* code with st->errstr set
 * ("what" names the step) when the connection failed; the context is then
 * dropped. An error *reply* is not a failure here: the caller looks at it. */
static int redis_call(store_t *st, redis_priv_t *p, int argc, const char **argv, const char *what,
                      redisReply **out)
{
    *out = redisCommandArgv(p->c, argc, argv, NULL);
    if (*out)
        return 0;
    int code = redis_ctx_code(p->c);
    if (code == STORE_E_TIMEOUT)
        store_set_error(st, code, "%s on %s: no answer within %g s", what, st->url, st->opts.timeout_s);
    else
        store_set_error(st, code, "%s on %s failed: %s", what, st->url, p->c->errstr);
    redis_drop(p);
    return code;
}

/* One connection attempt: connect, TLS, AUTH, SELECT, PING. Returns 0 with
 * p->c live, or a STORE_E_* code with st->errstr set and p->c NULL. The
 * password is sent only in AUTH and never appears in messages. */
static int redis_connect_once(store_t *st, redis_priv_t *p)
{
    const store_opts_t *o = &st->opts;
    struct timeval tv = redis_tv(o->timeout_s);
    redisReply *r = NULL;
    int rc;

    p->c = p->transport == REDIS_TRANSPORT_UNIX ? redisConnectUnixWithTimeout(p->path, tv)
                                                : redisConnectWithTimeout(p->host, p->port, tv);
    if (!p->c)
        return store_set_error(st, STORE_E_NOMEM, "cannot allocate a redis context");
    if (p->c->err) {
        rc = redis_ctx_code(p->c);
        if (rc == STORE_E_TIMEOUT)
            store_set_error(st, rc, "cannot connect to %s: no answer within %g s", st->url, o->timeout_s);
        else
            store_set_error(st, STORE_E_CONNECT, "cannot connect to %s: %s", st->url, p->c->errstr);
        redis_drop(p);
        return rc == STORE_E_TIMEOUT ? rc : STORE_E_CONNECT;
    }
    if (redisSetTimeout(p->c, tv) != REDIS_OK) {
        store_set_error(st, STORE_E_CONNECT, "cannot set the command timeout on %s: %s", st->url, p->c->errstr);
        redis_drop(p);
        return STORE_E_CONNECT;
    }
#if FINSIM_HAVE_TLS
    if (p->transport == REDIS_TRANSPORT_TLS && (rc = redis_tls_handshake(st, p)) != 0) {
        redis_drop(p);
        return rc;
    }
#endif

    const char *user = o->username && *o->username ? o->username : (p->user[0] ? p->user : NULL);
    if (o->password || user) {
        const char *argv[3] = {"AUTH", NULL, NULL};
        int argc = 0;
        if (user) {
            argv[1] = user;
            argv[2] = o->password ? o->password : "";
            argc = 3;
        } else {
            argv[1] = o->password;
            argc = 2;
        }
        if ((rc = redis_call(st, p, argc, argv, "AUTH", &r)) != 0)
            return rc;
        if (r->type == REDIS_REPLY_ERROR) {
            store_set_error(st, STORE_E_AUTH, "%s refused the credentials of user '%s': %.80s%s", st->url,
                            user ? user : "default", r->str,
                            o->password ? "" : " (no password given: set FINSIM_REDIS_PASSWORD or a password file)");
            freeReplyObject(r);
            redis_drop(p);
            return STORE_E_AUTH;
        }
        freeReplyObject(r);
    }
    if (p->db_given && p->db != 0) {
        char dbs[24];
        snprintf(dbs, sizeof(dbs), "%ld", p->db);
        const char *argv[2] = {"SELECT", dbs};
        if ((rc = redis_call(st, p, 2, argv, "SELECT", &r)) != 0)
            return rc;
        if (r->type == REDIS_REPLY_ERROR) {
            int code = strncmp(r->str, "NOAUTH", 6) == 0 ? STORE_E_AUTH : STORE_E_USAGE;
            store_set_error(st, code, "SELECT %ld on %s failed: %.100s", p->db, st->url, r->str);
            freeReplyObject(r);
            redis_drop(p);
            return code;
        }
        freeReplyObject(r);
    }
    /* PING catches servers that want a password we did not send, and TLS
     * servers that close the session after the handshake (client cert). */
    const char *ping[1] = {"PING"};
    if ((rc = redis_call(st, p, 1, ping, "PING", &r)) != 0) {
        if (p->transport == REDIS_TRANSPORT_TLS && rc == STORE_E_CONNECT) {
            size_t l = strlen(st->errstr);
            snprintf(st->errstr + l, sizeof(st->errstr) - l,
                     " (the server closed the TLS session: does it require a client certificate?)");
            st->err = rc = STORE_E_TLS;
        }
        return rc;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        int code = strncmp(r->str, "NOAUTH", 6) == 0 ? STORE_E_AUTH : STORE_E_PROTOCOL;
        store_set_error(st, code, "%s answered PING with: %.100s%s", st->url, r->str,
                        code == STORE_E_AUTH ? " (set FINSIM_REDIS_PASSWORD or a password file)" : "");
        freeReplyObject(r);
        redis_drop(p);
        return code;
    }
    freeReplyObject(r);
    return 0;
}

/* Connect with bounded retries: a refused or dropped connection is retried
 * opts.retries times with exponential backoff; authentication, TLS, timeout
 * and usage errors are final. Returns 0 or the last STORE_E_* code. */
static int redis_connect(store_t *st, redis_priv_t *p)
{
    int rc = 0;
    redis_drop(p);
    for (int attempt = 0;; attempt++) {
        rc = redis_connect_once(st, p);
        if (rc == 0) {
            st->errstr[0] = 0;
            st->err = 0;
            return 0;
        }
        if (rc != STORE_E_CONNECT || attempt >= st->opts.retries)
            break;
        redis_sleep(redis_backoff(attempt));
    }
    if (rc == STORE_E_CONNECT && st->opts.retries > 0) {
        size_t l = strlen(st->errstr);
        snprintf(st->errstr + l, sizeof(st->errstr) - l, " (%d attempts)", st->opts.retries + 1);
    }
    return rc;
}

/* Make sure there is a live connection, reconnecting if an earlier failure
 * dropped it. Returns 0 or a STORE_E_* code. */
static int redis_ensure(store_t *st, redis_priv_t *p)
{
    if (p->c)
        return 0;
    p->reconnects++;
    fs_debug("reconnecting to %s (reconnect %d)", st->url, p->reconnects);
    return redis_connect(st, p);
}

/* Record the failure of p->c (timeout or lost connection) in st->errstr,
 * drop the connection and return its STORE_E_* code. */
static int redis_io_error(store_t *st, redis_priv_t *p, const char *what)
{
    int code = redis_ctx_code(p->c);
    if (code == STORE_E_TIMEOUT)
        store_set_error(st, code, "%s: %s did not answer within %g s", what, st->url, st->opts.timeout_s);
    else
        store_set_error(st, code, "%s: connection to %s lost: %s", what, st->url, p->c->errstr);
    redis_drop(p);
    return code;
}

/* Queue the command(s) in p->cmd and write them out completely, so the
 * server works on them while we encode the next batch. Returns 0, or a
 * STORE_E_* code with the connection dropped. */
static int redis_send(store_t *st, redis_priv_t *p, const char *what)
{
    int done = 0;
    if (redisAppendFormattedCommand(p->c, p->cmd, p->cmd_len) != REDIS_OK) {
        redis_drop(p);
        return store_set_error(st, STORE_E_NOMEM, "%s: cannot queue a batch for %s", what, st->url);
    }
    while (!done)
        if (redisBufferWrite(p->c, &done) != REDIS_OK)
            return redis_io_error(st, p, what);
    st->stats.round_trips++;
    return 0;
}

/* Read nrep replies into p->rep[0..nrep) (the caller frees them). On a
 * failure frees those already read, drops the connection and returns its
 * STORE_E_* code. */
static int redis_recv(store_t *st, redis_priv_t *p, size_t nrep, const char *what)
{
    if (nrep > p->rep_cap) {
        p->rep = xrealloc(p->rep, nrep * sizeof(*p->rep));
        p->rep_cap = nrep;
    }
    for (size_t i = 0; i < nrep; i++) {
        void *r = NULL;
        if (redisGetReply(p->c, &r) != REDIS_OK || !r) {
            for (size_t k = 0; k < i; k++)
                freeReplyObject(p->rep[k]);
            return redis_io_error(st, p, what);
        }
        p->rep[i] = r;
    }
    return 0;
}

/* A batch operation over items [0, n) for redis_pipeline. */
typedef struct redis_pipe_ops {
    const char *what; /* for messages: "reading trades", ... */
    /* Encode the command(s) for items [lo, hi) into p->cmd (emptied by the
     * caller); return how many replies they will produce. */
    size_t (*encode)(store_t *st, redis_priv_t *p, size_t lo, size_t hi, void *arg);
    /* Use the replies rep[0..nrep) of items [lo, hi) (the caller frees
     * them). Returns 0, or a final STORE_E_* code for an error reply that
     * fails the whole operation. */
    int (*consume)(store_t *st, redisReply **rep, size_t nrep, size_t lo, size_t hi, void *arg);
} redis_pipe_ops_t;

/* One batch on the wire: its items and reply count. */
typedef struct redis_inflight {
    size_t lo;   /* first item */
    size_t hi;   /* one past the last item */
    size_t nrep; /* replies expected */
} redis_inflight_t;

/* Run ops over items [0, n) in batches of opts.batch, keeping up to
 * REDIS_PIPE_DEPTH batches on the wire so that encoding, the network and
 * the server overlap. Replies are consumed in order. When the connection is
 * lost, the batches not yet consumed are sent again after a reconnect
 * (every command we batch is idempotent), at most opts.retries times in a
 * row without progress. *done receives the number of items consumed.
 * Returns 0 or the final STORE_E_* code with st->errstr set. */
static int redis_pipeline(store_t *st, size_t n, const redis_pipe_ops_t *ops, void *arg, size_t *done)
{
    redis_priv_t *p = st->priv;
    size_t b = (size_t)st->opts.batch, acked = 0, fail_acked = (size_t)-1;
    int attempt = 0, rc = 0;
    *done = 0;
    while (acked < n) {
        if ((rc = redis_ensure(st, p)) != 0) {
            if (attempt > 0) {
                char tmp[sizeof(st->errstr)];
                snprintf(tmp, sizeof(tmp), "%s", st->errstr);
                store_set_error(st, rc, "lost the connection while %s and could not reconnect: %s", ops->what, tmp);
            }
            return rc;
        }
        redis_inflight_t fl[REDIS_PIPE_DEPTH];
        int head = 0, count = 0;
        size_t sent = acked;
        while (acked < n) {
            while (count < REDIS_PIPE_DEPTH && sent < n) {
                redis_inflight_t *f = &fl[(head + count) % REDIS_PIPE_DEPTH];
                f->lo = sent;
                f->hi = n - sent < b ? n : sent + b;
                p->cmd_len = 0;
                f->nrep = ops->encode(st, p, f->lo, f->hi, arg);
                if ((rc = redis_send(st, p, ops->what)) != 0)
                    break;
                count++;
                sent = f->hi;
            }
            if (rc != 0)
                break;
            redis_inflight_t f = fl[head];
            if ((rc = redis_recv(st, p, f.nrep, ops->what)) != 0)
                break;
            rc = ops->consume(st, p->rep, f.nrep, f.lo, f.hi, arg);
            for (size_t k = 0; k < f.nrep; k++)
                freeReplyObject(p->rep[k]);
            if (rc != 0) {
                redis_drop(p); /* replies of later batches are still on the wire */
                return rc;
            }
            acked = f.hi;
            *done = acked;
            head = (head + 1) % REDIS_PIPE_DEPTH;
            count--;
        }
        if (rc == 0)
            break;
        if (rc != STORE_E_CONNECT)
            return rc;
        if (acked != fail_acked) { /* progress since the last loss: a fresh budget */
            attempt = 0;
            fail_acked = acked;
        }
        if (attempt >= st->opts.retries)
            return rc;
        fs_warn("%s; reconnecting (%d of %d)", st->errstr, attempt + 1, st->opts.retries);
        redis_sleep(redis_backoff(attempt));
        attempt++;
    }
    return 0;
}

/* ---- backend functions ----------------------------------------------------- */

/* Which URLs this backend handles: redis://, rediss://, unix://. */
static int redis_accepts(const char *url)
{
    return redis_has_prefix(url, "redis://") || redis_has_prefix(url, "rediss://") || redis_has_prefix(url, "unix://");
}

/* Free the backend state (connection, TLS context, buffers). Accepts a
 * store whose priv is NULL. */
static void redis_close(store_t *st)
{
    redis_priv_t *p = st->priv;
    if (!p)
        return;
    redis_drop(p);
#if FINSIM_HAVE_TLS
    if (p->ssl_ctx)
        SSL_CTX_free(p->ssl_ctx);
#endif
    free(p->cmd);
    free(p->nil_idx);
    free(p->rep);
    free(p);
    st->priv = NULL;
}

/* Open: parse the URL (refusing passwords in it), replace st->url with its
 * secret-free canonical form, set up TLS, connect (with retries). Returns 0
 * or a STORE_E_* code with st->errstr set; on failure everything allocated
 * here is freed. Ignores SIGPIPE when it has its default action, so a write
 * to a server that went away is an error return, not a dead process. */
static int redis_open(store_t *st, const char *url, const store_opts_t *o, void *mpi_comm)
{
    (void)o;
    (void)mpi_comm;
    redis_priv_t *p = xcalloc(1, sizeof(*p));
    int rc;
    memset(st->url, 0, sizeof(st->url)); /* store_open copied the raw URL */
    st->priv = p;
    if ((rc = redis_parse_url(st, p, url)) != 0)
        goto out_close;
    redis_format_url(st, p);
    if (st->opts.batch > REDIS_MAX_BATCH)
        st->opts.batch = REDIS_MAX_BATCH;
    if (st->opts.retries < 0)
        st->opts.retries = 0;
    if (st->opts.timeout_s <= 0)
        st->opts.timeout_s = 10;

    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_IGN;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, NULL);
    }

    if (p->transport == REDIS_TRANSPORT_TLS) {
#if FINSIM_HAVE_TLS
        snprintf(p->tls_name, sizeof(p->tls_name), "%s",
                 st->opts.tls_sni && *st->opts.tls_sni ? st->opts.tls_sni : p->host);
        if ((rc = redis_tls_setup(st, p)) != 0)
            goto out_close;
#else
        rc = store_set_error(st, STORE_E_TLS,
                             "cannot use %s: finsim was built without TLS support (hiredis_ssl); rebuild against hiredis >= 1.0 with SSL (scripts/build-hiredis.sh) or use redis://",
                             st->url);
        goto out_close;
#endif
    }
    if ((rc = redis_connect(st, p)) != 0)
        goto out_close;
    return 0;

out_close:
    redis_close(st);
    return rc;
}

/* Re-establish the connection (with retries). Returns 0 or STORE_E_*. */
static int redis_reconnect(store_t *st)
{
    redis_priv_t *p = st->priv;
    p->reconnects++;
    return redis_connect(st, p);
}

/* The secret-free URL. */
static const char *redis_describe(store_t *st)
{
    return st->url;
}

/* ---- reading trades ---------------------------------------------------------- */

/* State of one get_trades call. */
typedef struct redis_get_arg {
    const int64_t *ids;  /* requested ids */
    trade_slot_t *out;   /* one slot per id */
    size_t *nil;         /* positions MGET answered with nil (p->nil_idx) */
    size_t nnil;         /* entries used in nil */
} redis_get_arg_t;

/* Decode the value stored under key for trade id into slot. Never fails:
 * the outcome is the slot's status and message. */
static void redis_fill_slot(const char *key, int64_t id, const char *val, size_t len, trade_slot_t *slot)
{
    char why[160];
    why[0] = 0;
    slot->msg[0] = 0;
    slot->status = trade_parse_one(val, len, &slot->trade, why, sizeof(why));
    if (slot->status != FS_OK) {
        fs_seterr(slot->msg, sizeof(slot->msg), "%s: %s", key, why);
    } else if (slot->trade.id != id) {
        fs_seterr(slot->msg, sizeof(slot->msg), "%s holds trade %010lld, not %010lld", key,
                  (long long)slot->trade.id, (long long)id);
        slot->status = FS_E_ID_MISMATCH;
    }
}

/* Set slot to a failure status with an empty trade of the given id. */
static void redis_slot_fail(trade_slot_t *slot, int64_t id, int status)
{
    memset(&slot->trade, 0, sizeof(slot->trade));
    slot->trade.id = id;
    slot->status = status;
}

/* Mark slot as missing, with a message naming the key, the store and how to
 * fill it. */
static void redis_slot_missing(store_t *st, const char *key, int64_t id, trade_slot_t *slot)
{
    redis_slot_fail(slot, id, FS_E_NOT_FOUND);
    fs_seterr(slot->msg, sizeof(slot->msg),
              "trade key %s not found in %s; fill it with: finsim generate --store %s --start-trade %lld --trades 1", key,
              st->url, st->url, (long long)id);
}

/* MGET of the trade keys of ids[lo..hi). */
static size_t redis_get_encode(store_t *st, redis_priv_t *p, size_t lo, size_t hi, void *arg)
{
    redis_get_arg_t *a = arg;
    char key[300];
    redis_cmd_begin(p, hi - lo + 1);
    redis_cmd_arg(p, "MGET", 4);
    for (size_t i = lo; i < hi; i++) {
        int kl = trade_key(key, sizeof(key), st->opts.key_prefix, a->ids[i]);
        redis_cmd_arg(p, key, (size_t)kl);
    }
    return 1;
}

/* Parse each MGET value into its slot; remember nil positions for the
 * follow-up (nil means missing *or* not a string). */
static int redis_get_consume(store_t *st, redisReply **rep, size_t nrep, size_t lo, size_t hi, void *arg)
{
    redis_get_arg_t *a = arg;
    redisReply *r = rep[0];
    char key[300];
    size_t n = hi - lo;
    (void)nrep;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
        return store_set_error(st,
                               r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOAUTH", 6) == 0 ? STORE_E_AUTH
                                                                                                 : STORE_E_PROTOCOL,
                               "MGET of %zu trade keys on %s: %.100s", n, st->url,
                               r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    double t0 = fs_now();
    for (size_t k = 0; k < n; k++) {
        redisReply *e = r->element[k];
        if (e->type == REDIS_REPLY_STRING) {
            /* the key is only needed in a failure message: name it then */
            trade_slot_t *slot = &a->out[lo + k];
            redis_fill_slot("", a->ids[lo + k], e->str, e->len, slot);
            if (slot->status != FS_OK) {
                char why[sizeof(slot->msg)];
                trade_key(key, sizeof(key), st->opts.key_prefix, a->ids[lo + k]);
                snprintf(why, sizeof(why), "%s", slot->msg);
                fs_seterr(slot->msg, sizeof(slot->msg), "%s%s", key, why);
            }
        } else {
            a->nil[a->nnil++] = lo + k;
        }
    }
    st->stats.parse_s += fs_now() - t0;
    return 0;
}

/* GET + TYPE for the slots MGET answered with nil (items index a->nil). */
static size_t redis_nil_encode(store_t *st, redis_priv_t *p, size_t lo, size_t hi, void *arg)
{
    redis_get_arg_t *a = arg;
    char key[300];
    for (size_t k = lo; k < hi; k++) {
        int kl = trade_key(key, sizeof(key), st->opts.key_prefix, a->ids[a->nil[k]]);
        redis_cmd_begin(p, 2);
        redis_cmd_arg(p, "GET", 3);
        redis_cmd_arg(p, key, (size_t)kl);
        redis_cmd_begin(p, 2);
        redis_cmd_arg(p, "TYPE", 4);
        redis_cmd_arg(p, key, (size_t)kl);
    }
    return 2 * (hi - lo);
}

/* Tell missing keys (nil) from keys of another type (WRONGTYPE); a value
 * that appeared in between is parsed like any other. */
static int redis_nil_consume(store_t *st, redisReply **rep, size_t nrep, size_t lo, size_t hi, void *arg)
{
    redis_get_arg_t *a = arg;
    char key[300];
    (void)nrep;
    double t0 = fs_now();
    for (size_t k = lo; k < hi; k++) {
        size_t i = a->nil[k];
        trade_slot_t *slot = &a->out[i];
        redisReply *g = rep[2 * (k - lo)], *t = rep[2 * (k - lo) + 1];
        trade_key(key, sizeof(key), st->opts.key_prefix, a->ids[i]);
        if (g->type == REDIS_REPLY_STRING) {
            redis_fill_slot(key, a->ids[i], g->str, g->len, slot);
        } else if (g->type == REDIS_REPLY_NIL) {
            redis_slot_missing(st, key, a->ids[i], slot);
        } else if (g->type == REDIS_REPLY_ERROR && strncmp(g->str, "WRONGTYPE", 9) == 0) {
            redis_slot_fail(slot, a->ids[i], FS_E_WRONG_TYPE);
            fs_seterr(slot->msg, sizeof(slot->msg), "key %s in %s holds a %s, not a string (trade document)", key,
                      st->url, t->type == REDIS_REPLY_STATUS ? t->str : "value of another type");
        } else {
            redis_slot_fail(slot, a->ids[i], FS_E_STORE);
            fs_seterr(slot->msg, sizeof(slot->msg), "GET %s on %s: %.100s", key, st->url,
                      g->type == REDIS_REPLY_ERROR ? g->str : "unexpected reply type");
        }
    }
    st->stats.parse_s += fs_now() - t0;
    return 0;
}

static const redis_pipe_ops_t redis_get_ops = {"reading trades", redis_get_encode, redis_get_consume};
static const redis_pipe_ops_t redis_nil_ops = {"reading trades", redis_nil_encode, redis_nil_consume};

/* Read trades ids[0..n) into out[0..n): pipelined MGETs, then GET + TYPE for
 * the nil answers. Per-slot outcomes: FS_OK, FS_E_NOT_FOUND,
 * FS_E_WRONG_TYPE, the parse status, FS_E_ID_MISMATCH. Returns 0, or a
 * STORE_E_* code when the store failed; the slots not resolved then hold
 * FS_E_STORE and st->errstr. */
static int redis_get_trades(store_t *st, const int64_t *ids, size_t n, trade_slot_t *out)
{
    redis_priv_t *p = st->priv;
    if (n > p->nil_cap) {
        p->nil_idx = xrealloc(p->nil_idx, n * sizeof(*p->nil_idx));
        p->nil_cap = n;
    }
    redis_get_arg_t a = {.ids = ids, .out = out, .nil = p->nil_idx, .nnil = 0};
    size_t done = 0, nil_done = 0;
    int rc = redis_pipeline(st, n, &redis_get_ops, &a, &done);
    if (rc == 0 && a.nnil > 0)
        rc = redis_pipeline(st, a.nnil, &redis_nil_ops, &a, &nil_done);
    if (rc != 0) {
        for (size_t i = done; i < n; i++) {
            redis_slot_fail(&out[i], ids[i], FS_E_STORE);
            fs_seterr(out[i].msg, sizeof(out[i].msg), "%s", st->errstr);
        }
        for (size_t k = nil_done; k < a.nnil; k++) {
            size_t i = a.nil[k];
            redis_slot_fail(&out[i], ids[i], FS_E_STORE);
            fs_seterr(out[i].msg, sizeof(out[i].msg), "%s", st->errstr);
        }
    }
    return rc;
}

/* ---- writing trades and results ---------------------------------------------- */

/* Check the single "+OK" reply of an MSET. */
static int redis_mset_consume(store_t *st, redisReply **rep, size_t nrep, size_t lo, size_t hi, void *arg)
{
    redisReply *r = rep[0];
    (void)nrep;
    (void)arg;
    if (r->type == REDIS_REPLY_ERROR)
        return store_set_error(st, strncmp(r->str, "NOAUTH", 6) == 0 ? STORE_E_AUTH : STORE_E_PROTOCOL,
                               "MSET of %zu keys on %s: %.120s", hi - lo, st->url, r->str);
    if (r->type != REDIS_REPLY_STATUS)
        return store_set_error(st, STORE_E_PROTOCOL, "MSET of %zu keys on %s: unexpected reply type %d", hi - lo,
                               st->url, r->type);
    return 0;
}

/* Append the pair "key value" to the MSET being built in p->cmd. */
static void redis_put_pair(redis_priv_t *p, const char *key, size_t kl, const char *val, size_t vl)
{
    redis_cmd_arg(p, key, kl);
    redis_cmd_arg(p, val, vl);
}

/* MSET key doc ... for trades t[lo..hi), documents as trade_format writes
 * them (AzFinSim bytes). */
static size_t redis_put_trades_encode(store_t *st, redis_priv_t *p, size_t lo, size_t hi, void *arg)
{
    const trade_t *t = arg;
    char key[300];
    char doc[REDIS_DOC_STACK];
    redis_cmd_begin(p, 2 * (hi - lo) + 1);
    redis_cmd_arg(p, "MSET", 4);
    for (size_t i = lo; i < hi; i++) {
        int kl = trade_key(key, sizeof(key), st->opts.key_prefix, t[i].id);
        int vl = trade_format(&t[i], doc, sizeof(doc));
        if (vl < (int)sizeof(doc)) {
            redis_put_pair(p, key, (size_t)kl, doc, (size_t)vl);
        } else {
            char *big = xmalloc((size_t)vl + 1);
            trade_format(&t[i], big, (size_t)vl + 1);
            redis_put_pair(p, key, (size_t)kl, big, (size_t)vl);
            free(big);
        }
    }
    return 1;
}

static const redis_pipe_ops_t redis_put_trades_ops = {"writing trades", redis_put_trades_encode, redis_mset_consume};

/* Write trades t[0..n) (overwrite). Returns 0 or STORE_E_*. */
static int redis_put_trades(store_t *st, const trade_t *t, size_t n)
{
    size_t done = 0;
    return redis_pipeline(st, n, &redis_put_trades_ops, (void *)t, &done);
}

typedef struct redis_docs_arg {
    const int64_t *ids;
    const char *docs;
    const size_t *off;
} redis_docs_arg_t;

/* MSET key doc ... for documents formatted by the caller. */
static size_t redis_put_docs_encode(store_t *st, redis_priv_t *p, size_t lo, size_t hi, void *arg)
{
    const redis_docs_arg_t *a = arg;
    char key[300];
    redis_cmd_begin(p, 2 * (hi - lo) + 1);
    redis_cmd_arg(p, "MSET", 4);
    for (size_t i = lo; i < hi; i++) {
        int kl = trade_key(key, sizeof(key), st->opts.key_prefix, a->ids[i]);
        redis_put_pair(p, key, (size_t)kl, a->docs + a->off[i], a->off[i + 1] - a->off[i]);
    }
    return 1;
}

static const redis_pipe_ops_t redis_put_docs_ops = {"writing trades", redis_put_docs_encode, redis_mset_consume};

static int redis_put_trade_docs(store_t *st, const int64_t *ids, const char *docs, const size_t *off, size_t n)
{
    redis_docs_arg_t a = {ids, docs, off};
    size_t done = 0;
    return redis_pipeline(st, n, &redis_put_docs_ops, &a, &done);
}

/* ---- rankings (sorted sets) ------------------------------------------------ */

typedef struct redis_rank_arg {
    const char *key;      /* <prefix><name> */
    const int64_t *ids;
    const double *scores;
    size_t n;
} redis_rank_arg_t;

#define REDIS_ZADD_CHUNK 500 /* members per ZADD inside the transaction */

/* The whole replacement as one item: MULTI, DEL, ZADD per chunk, EXEC. A
 * connection lost before EXEC discards the transaction, so a retry sends
 * it again from the start. */
static size_t redis_rank_encode(store_t *st, redis_priv_t *p, size_t lo, size_t hi, void *arg)
{
    const redis_rank_arg_t *a = arg;
    (void)st;
    (void)lo;
    (void)hi;
    size_t kl = strlen(a->key), nrep = 3;
    redis_cmd_begin(p, 1);
    redis_cmd_arg(p, "MULTI", 5);
    redis_cmd_begin(p, 2);
    redis_cmd_arg(p, "DEL", 3);
    redis_cmd_arg(p, a->key, kl);
    for (size_t c = 0; c < a->n; c += REDIS_ZADD_CHUNK) {
        size_t m = a->n - c < REDIS_ZADD_CHUNK ? a->n - c : REDIS_ZADD_CHUNK;
        redis_cmd_begin(p, 2 + 2 * m);
        redis_cmd_arg(p, "ZADD", 4);
        redis_cmd_arg(p, a->key, kl);
        for (size_t i = c; i < c + m; i++) {
            char num[32];
            int len = snprintf(num, sizeof(num), "%.17g", a->scores[i]);
            redis_cmd_arg(p, num, (size_t)len);
            len = snprintf(num, sizeof(num), "%lld", (long long)a->ids[i]);
            redis_cmd_arg(p, num, (size_t)len);
        }
        nrep++;
    }
    redis_cmd_begin(p, 1);
    redis_cmd_arg(p, "EXEC", 4);
    return nrep;
}

/* MULTI answers OK, every queued command QUEUED, EXEC one reply each. */
static int redis_rank_consume(store_t *st, redisReply **rep, size_t nrep, size_t lo, size_t hi, void *arg)
{
    const redis_rank_arg_t *a = arg;
    (void)lo;
    (void)hi;
    for (size_t i = 0; i + 1 < nrep; i++)
        if (rep[i]->type == REDIS_REPLY_ERROR)
            return store_set_error(st, strncmp(rep[i]->str, "NOAUTH", 6) == 0 ? STORE_E_AUTH : STORE_E_PROTOCOL,
                                   "replacing %s on %s: %.200s", a->key, st->url, rep[i]->str);
    const redisReply *x = rep[nrep - 1];
    if (x->type != REDIS_REPLY_ARRAY)
        return store_set_error(st, STORE_E_PROTOCOL, "replacing %s on %s: transaction aborted (%.200s)", a->key,
                               st->url, x->type == REDIS_REPLY_ERROR ? x->str : "no EXEC result");
    for (size_t j = 0; j < x->elements; j++)
        if (x->element[j]->type == REDIS_REPLY_ERROR)
            return store_set_error(st, STORE_E_PROTOCOL, "replacing %s on %s: %.200s", a->key, st->url,
                                   x->element[j]->str);
    return 0;
}

static const redis_pipe_ops_t redis_rank_ops = {"replacing a ranking", redis_rank_encode, redis_rank_consume};

static int redis_put_ranking(store_t *st, const char *name, const int64_t *ids, const double *scores, size_t n)
{
    char key[512];
    snprintf(key, sizeof(key), "%s%s", st->opts.key_prefix ? st->opts.key_prefix : "", name);
    redis_rank_arg_t a = {key, ids, scores, n};
    size_t done = 0;
    return redis_pipeline(st, 1, &redis_rank_ops, &a, &done);
}

/* MSET of the result mirror documents of r[lo..hi). */
static size_t redis_put_results_encode(store_t *st, redis_priv_t *p, size_t lo, size_t hi, void *arg)
{
    const result_t *res = arg;
    char key[300];
    char doc[REDIS_DOC_STACK];
    redis_cmd_begin(p, 2 * (hi - lo) + 1);
    redis_cmd_arg(p, "MSET", 4);
    for (size_t i = lo; i < hi; i++) {
        int kl = trade_result_key(key, sizeof(key), st->opts.key_prefix, res[i].trade_id);
        int vl = result_format(&res[i], doc, sizeof(doc));
        if (vl < (int)sizeof(doc)) {
            redis_put_pair(p, key, (size_t)kl, doc, (size_t)vl);
        } else {
            char *big = xmalloc((size_t)vl + 1);
            result_format(&res[i], big, (size_t)vl + 1);
            redis_put_pair(p, key, (size_t)kl, big, (size_t)vl);
            free(big);
        }
    }
    return 1;
}

static const redis_pipe_ops_t redis_put_results_ops = {"writing results", redis_put_results_encode,
                                                       redis_mset_consume};

/* Write result mirrors r[0..n) (overwrite). Returns 0 or STORE_E_*. */
static int redis_put_results(store_t *st, const result_t *r, size_t n)
{
    size_t done = 0;
    return redis_pipeline(st, n, &redis_put_results_ops, (void *)r, &done);
}

/* State of one get_results call. */
typedef struct redis_getres_arg {
    const int64_t *ids;  /* requested ids */
    result_t *out;       /* one result per id */
    int *found;          /* 1 when present and well-formed */
} redis_getres_arg_t;

/* MGET of the result keys of ids[lo..hi). */
static size_t redis_get_results_encode(store_t *st, redis_priv_t *p, size_t lo, size_t hi, void *arg)
{
    redis_getres_arg_t *a = arg;
    char key[300];
    redis_cmd_begin(p, hi - lo + 1);
    redis_cmd_arg(p, "MGET", 4);
    for (size_t i = lo; i < hi; i++) {
        int kl = trade_result_key(key, sizeof(key), st->opts.key_prefix, a->ids[i]);
        redis_cmd_arg(p, key, (size_t)kl);
    }
    return 1;
}

/* A value that is absent, not a string, malformed or for another trade
 * gives found = 0 (and a failed result record). */
static int redis_get_results_consume(store_t *st, redisReply **rep, size_t nrep, size_t lo, size_t hi, void *arg)
{
    redis_getres_arg_t *a = arg;
    redisReply *r = rep[0];
    size_t n = hi - lo;
    (void)nrep;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
        return store_set_error(st, STORE_E_PROTOCOL, "MGET of %zu result keys on %s: %.100s", n, st->url,
                               r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    for (size_t k = 0; k < n; k++) {
        redisReply *e = r->element[k];
        size_t i = lo + k;
        char why[128];
        a->found[i] = e->type == REDIS_REPLY_STRING && result_parse(e->str, e->len, &a->out[i], why, sizeof(why)) == 0 &&
                      a->out[i].trade_id == a->ids[i];
        if (!a->found[i])
            result_fail(&a->out[i], a->ids[i], FS_E_NOT_FOUND, -1);
    }
    return 0;
}

static const redis_pipe_ops_t redis_get_results_ops = {"reading results", redis_get_results_encode,
                                                       redis_get_results_consume};

/* Read result mirrors for ids[0..n). Returns 0 or STORE_E_* (found[] is then
 * 0 for the results not read). */
static int redis_get_results(store_t *st, const int64_t *ids, size_t n, result_t *out, int *found)
{
    redis_getres_arg_t a = {.ids = ids, .out = out, .found = found};
    size_t done = 0;
    int rc = redis_pipeline(st, n, &redis_get_results_ops, &a, &done);
    if (rc != 0)
        for (size_t i = done; i < n; i++) {
            found[i] = 0;
            result_fail(&out[i], ids[i], FS_E_STORE, -1);
        }
    return rc;
}

/* ---- listing ---------------------------------------------------------------------- */

/* Ascending order for qsort. */
static int redis_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* If key is exactly trade_key(prefix, id) for some id, store the id in *id
 * and return 1; otherwise (result keys, other names) return 0. */
static int redis_key_to_id(const char *key, size_t len, const char *prefix, size_t plen, int64_t *id)
{
    char buf[32], canon[320];
    if (len < plen + 2 + 4 + 1 || memcmp(key, prefix, plen) != 0 || key[plen] != 'e' || key[plen + 1] != 'y')
        return 0;
    size_t dl = len - plen - 2 - 4;
    if (dl >= sizeof(buf) || memcmp(key + len - 4, ".xml", 4) != 0)
        return 0;
    memcpy(buf, key + plen + 2, dl);
    buf[dl] = 0;
    for (size_t i = 0; i < dl; i++)
        if (!isdigit((unsigned char)buf[i]))
            return 0;
    if (fs_parse_i64(buf, id) != 0 || *id < 0)
        return 0;
    int cl = trade_key(canon, sizeof(canon), prefix, *id);
    return (size_t)cl == len && memcmp(canon, key, len) == 0;
}

/* State of a SCAN for list_trades. */
typedef struct redis_list_arg {
    int64_t *ids;  /* collected ids (malloc'ed) */
    size_t n;      /* ids used */
    size_t cap;    /* ids allocated */
} redis_list_arg_t;

/* One complete SCAN over the keys matching <prefix>ey*.xml, collecting the
 * ids of trade keys into a (restarted from empty). Returns 0 or STORE_E_*
 * (STORE_E_CONNECT: the connection was lost and the scan may be redone). */
static int redis_list_scan(store_t *st, redis_priv_t *p, redis_list_arg_t *a)
{
    const char *prefix = st->opts.key_prefix ? st->opts.key_prefix : "";
    size_t plen = strlen(prefix);
    char *pattern = xmalloc(2 * plen + 8);
    size_t o = 0;
    for (size_t i = 0; i < plen; i++) { /* escape glob characters of the prefix */
        if (strchr("*?[]\\", prefix[i]))
            pattern[o++] = '\\';
        pattern[o++] = prefix[i];
    }
    memcpy(pattern + o, "ey*.xml", 8);
    char cursor[32] = "0";
    int rc = 0;
    a->n = 0;
    do {
        const char *argv[6] = {"SCAN", cursor, "MATCH", pattern, "COUNT", REDIS_SCAN_COUNT};
        redisReply *r = NULL;
        if ((rc = redis_call(st, p, 6, argv, "SCAN", &r)) != 0)
            break;
        st->stats.round_trips++;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            rc = store_set_error(st, STORE_E_PROTOCOL, "SCAN on %s: %.100s", st->url,
                                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
            freeReplyObject(r);
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        for (size_t k = 0; k < keys->elements; k++) {
            redisReply *e = keys->element[k];
            int64_t id;
            if (e->type != REDIS_REPLY_STRING || !redis_key_to_id(e->str, e->len, prefix, plen, &id))
                continue;
            if (a->n == a->cap) {
                a->cap = a->cap ? 2 * a->cap : 1024;
                a->ids = xrealloc(a->ids, a->cap * sizeof(*a->ids));
            }
            a->ids[a->n++] = id;
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    free(pattern);
    return rc;
}

/* List every trade id under the key prefix, ascending and without
 * duplicates (SCAN may return a key twice). *ids is malloc'ed (NULL when
 * none); the caller frees it. Returns 0 or STORE_E_*. */
static int redis_list_trades(store_t *st, int64_t **ids, size_t *n)
{
    redis_priv_t *p = st->priv;
    redis_list_arg_t a = {0};
    int rc = 0;
    *ids = NULL;
    *n = 0;
    /* A lost connection restarts the scan from cursor 0: SCAN cursors do
     * not carry over between connections' views of a changing keyspace. */
    for (int attempt = 0;; attempt++) {
        if ((rc = redis_ensure(st, p)) == 0 && (rc = redis_list_scan(st, p, &a)) == 0)
            break;
        if (rc != STORE_E_CONNECT || attempt >= st->opts.retries) {
            free(a.ids);
            return rc;
        }
        fs_warn("%s; reconnecting (%d of %d)", st->errstr, attempt + 1, st->opts.retries);
        redis_sleep(redis_backoff(attempt));
    }
    if (a.n > 1) {
        qsort(a.ids, a.n, sizeof(*a.ids), redis_cmp_i64);
        size_t u = 1;
        for (size_t i = 1; i < a.n; i++)
            if (a.ids[i] != a.ids[u - 1])
                a.ids[u++] = a.ids[i];
        a.n = u;
    }
    *ids = a.ids;
    *n = a.n;
    return 0;
}

const store_backend_t store_backend_redis = {
    .name = "redis",
    .accepts = redis_accepts,
    .open = redis_open,
    .close = redis_close,
    .reconnect = redis_reconnect,
    .get_trades = redis_get_trades,
    .put_trades = redis_put_trades,
    .put_trade_docs = redis_put_trade_docs,
    .put_ranking = redis_put_ranking,
    .put_results = redis_put_results,
    .get_results = redis_get_results,
    .list_trades = redis_list_trades,
    .describe = redis_describe,
};

/* ---- URL check without a connection ------------------------------------------ */

/* Parse url exactly as redis_open would, without connecting or touching
 * the network: 0 when it is a well-formed redis://, rediss:// or unix://
 * URL, else a STORE_E_* code with the reason in err. Used by the URL fuzzer
 * and for checking a configuration before a job starts. */
int store_redis_check_url(const char *url, char *err, size_t errlen)
{
    store_t st;
    memset(&st, 0, sizeof(st));
    redis_priv_t *p = xcalloc(1, sizeof(*p));
    int rc = redis_parse_url(&st, p, url);
    free(p);
    if (rc != 0)
        fs_seterr(err, errlen, "%s", st.errstr);
    else if (err && errlen)
        err[0] = '\0';
    return rc;
}
