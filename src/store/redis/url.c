/* url.c - Redis store URLs: parsing, the secret-free canonical form, checks. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redis.h"

#include "finsim/base/util.h"

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
        } else if (kl == 7 && strncmp(q, "cluster", 7) == 0 && eq) {
            size_t vl = n - kl - 1;
            if (vl == 2 && strncmp(eq + 1, "no", 2) == 0)
                p->cluster_mode = -1;
            else if (vl == 3 && strncmp(eq + 1, "yes", 3) == 0)
                p->cluster_mode = 1;
            else if (vl == 4 && strncmp(eq + 1, "auto", 4) == 0)
                p->cluster_mode = 0;
            else
                return store_set_error(st, STORE_E_USAGE, "redis URL: cluster must be yes, no or auto");
        } else if ((kl == 8 && strncmp(q, "password", 8) == 0) || (kl == 4 && strncmp(q, "auth", 4) == 0)) {
            return store_set_error(st, STORE_E_USAGE,
                                   "redis URL must not carry a password (command lines are visible to every user of the machine); set FINSIM_REDIS_PASSWORD or use a password file");
        } else {
            size_t shown = kl < 40 ? kl : 40; /* up to the first control character: one line */
            for (size_t i = 0; i < shown; i++)
                if ((unsigned char)q[i] < 0x20 || q[i] == 0x7f)
                    shown = i;
            return store_set_error(st, STORE_E_USAGE, "redis URL: unknown parameter '%.*s' (known: db=N, cluster=yes|no|auto)",
                                   (int)shown, q);
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
int redis_parse_url(store_t *st, redis_priv_t *p, const char *url)
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
        int enc_colon = 0; /* "%3A": a ':' percent-encoded */
        for (size_t i = 0; i + 3 <= ulen && !enc_colon; i++)
            enc_colon = rest[i] == '%' && rest[i + 1] == '3' && (rest[i + 2] == 'a' || rest[i + 2] == 'A');
        if (memchr(rest, ':', ulen) || enc_colon)
            return store_set_error(st, STORE_E_USAGE,
                                   "redis URL must not carry a password%s (command lines are visible to every user of the machine); remove it and set FINSIM_REDIS_PASSWORD or use a password file",
                                   memchr(rest, ':', ulen) ? "" : ", encoded or not");
        if (ulen > 0 && redis_pct_decode(p->user, sizeof(p->user), rest, ulen) != 0)
            return store_set_error(st, STORE_E_USAGE, "redis URL: user name is malformed or too long");
        if (strchr(p->user, ':')) { /* "user%3APASS": the same password, encoded */
            memset(p->user, 0, sizeof(p->user));
            return store_set_error(st, STORE_E_USAGE,
                                   "redis URL must not carry a password, encoded or not (command lines are visible to every user of the machine); remove it and set FINSIM_REDIS_PASSWORD or use a password file");
        }
        hp = at + 1;
    }
    size_t hplen = alen - (size_t)(hp - rest);
    const char *comma = memchr(hp, ',', hplen);
    if (comma) { /* more cluster seeds: host:port,host:port */
        size_t sl = hplen - (size_t)(comma + 1 - hp);
        if (sl == 0 || sl >= sizeof(p->seeds))
            return store_set_error(st, STORE_E_USAGE, "redis URL: the seed list after ',' is empty or too long");
        memcpy(p->seeds, comma + 1, sl);
        p->seeds[sl] = 0;
        hplen = (size_t)(comma - hp);
    }
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
void redis_format_url(store_t *st, const redis_priv_t *p)
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

/* Which URLs this backend handles: redis://, rediss://, unix://. */
int redis_accepts(const char *url)
{
    return redis_has_prefix(url, "redis://") || redis_has_prefix(url, "rediss://") || redis_has_prefix(url, "unix://");
}

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
