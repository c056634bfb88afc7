/* conn.c - Redis store connections: connect, TLS, AUTH/SELECT, retries, wire I/O. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#if FINSIM_HAVE_TLS
#include <hiredis/hiredis_ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#endif

#include "redis.h"

#include "finsim/base/secret.h"
#include "finsim/base/util.h"
#include "finsim/trade/trade.h"

/* Sleep for s seconds (EINTR restarts with the time left). Cannot fail. */
void redis_sleep(double s)
{
    struct timespec ts, rem;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
        ts = rem;
}

/* Delay before retry number k (k = 0 for the first retry): exponential
 * backoff from REDIS_BACKOFF_FIRST_S, capped at REDIS_BACKOFF_MAX_S. */
double redis_backoff(int k)
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

#if FINSIM_HAVE_TLS
/* Does host look like a numeric IPv4 or IPv6 address? */
static int redis_host_is_ip(const char *host)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}
#endif

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
void redis_drop(redis_priv_t *p)
{
    if (p->pf_state == REDIS_PF_SENT) /* their replies go with the connection */
        p->pf_state = REDIS_PF_NONE;
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
int redis_call(store_t *st, redis_priv_t *p, int argc, const char **argv, const char *what,
               redisReply **out)
{
    *out = redisCommandArgv(p->c, argc, argv, NULL);
    if (*out)
        return 0;
    return redis_call_failed(st, p, what);
}

int redis_call_failed(store_t *st, redis_priv_t *p, const char *what)
{
    int code = redis_ctx_code(p->c);
    if (code == STORE_E_TIMEOUT)
        store_set_error(st, code, "%s on %s: no answer within %g s", what, st->url, st->opts.timeout_s);
    else
        store_set_error(st, code, "%s on %s failed: %s", what, st->url, p->c->errstr);
    redis_drop(p);
    return code;
}

/* The ACL user's name for messages. */
static const char *redis_user(const store_t *st)
{
    const redis_priv_t *p = st->priv;
    const char *u = st->opts.username && *st->opts.username ? st->opts.username : p->user;
    return u && *u ? u : "default";
}

int redis_reply_code(const char *reply)
{
    if (strncmp(reply, "NOAUTH", 6) == 0 || strncmp(reply, "NOPERM", 6) == 0)
        return STORE_E_AUTH;
    /* the node we talk to became a replica (a failover), or is reading its
     * data after a restart: like a lost connection, retried (redis_retry) */
    if (strncmp(reply, "READONLY", 8) == 0 || strncmp(reply, "LOADING", 7) == 0 ||
        strncmp(reply, "MASTERDOWN", 10) == 0)
        return STORE_E_CONNECT;
    return STORE_E_PROTOCOL;
}

int redis_reply_error(store_t *st, const char *reply, const char *cmd, const char *keys, const char *aclkey)
{
    int code = redis_reply_code(reply);
    if (strncmp(reply, "NOPERM", 6) != 0)
        return store_set_error(st, code, "%s%s%s on %s: %.200s", cmd, keys ? " " : "", keys ? keys : "", st->url,
                               reply);
    char lower[32];
    size_t i = 0;
    for (; cmd[i] && i + 1 < sizeof(lower); i++)
        lower[i] = (char)(cmd[i] >= 'A' && cmd[i] <= 'Z' ? cmd[i] - 'A' + 'a' : cmd[i]);
    lower[i] = 0;
    if (keys)
        return store_set_error(st, STORE_E_AUTH, "user '%s' may not run %s on %s in %s: add +%s and ~%s (%.120s)",
                               redis_user(st), cmd, keys, st->url, lower, aclkey ? aclkey : keys, reply);
    return store_set_error(st, STORE_E_AUTH, "user '%s' may not run %s in %s: add +%s (%.120s)", redis_user(st), cmd,
                           st->url, lower, reply);
}

/* One command of the ACL probe: its words, and how to name it. */
typedef struct redis_probe_cmd {
    const char *argv[6];
    int argc;
    const char *keys;   /* key glob for messages, or NULL */
    const char *aclkey; /* the ACL key pattern to add */
} redis_probe_cmd_t;

/* The ranking's transaction ends with EXEC, which cannot be queued: run an
 * empty transaction (MULTI EXEC: nothing happens), then DISCARD, which
 * ends the transaction should EXEC leave it open (refused otherwise).
 * Returns 0, or STORE_E_AUTH naming +exec (connection dropped), or a
 * connection's STORE_E_* code. */
static int redis_probe_exec(store_t *st, redis_priv_t *p)
{
    p->cmd_len = 0;
    static const char *const words[3] = {"MULTI", "EXEC", "DISCARD"};
    for (int i = 0; i < 3; i++) {
        redis_cmd_begin(p, 1);
        redis_cmd_arg(p, words[i], strlen(words[i]));
    }
    int rc;
    if ((rc = redis_send(st, p, "checking permissions")) != 0 ||
        (rc = redis_recv(st, p, 3, "checking permissions")) != 0)
        return rc;
    st->stats.round_trips--; /* not a batch */
    const redisReply *x = p->rep[1];
    /* a refused EXEC answers "EXECABORT ... NOPERM ... 'exec' command" and ends the transaction */
    if (x->type == REDIS_REPLY_ERROR && strstr(x->str, "NOPERM")) {
        redis_reply_error(st, strstr(x->str, "NOPERM"), "EXEC", NULL, NULL);
        rc = STORE_E_AUTH;
    }
    for (int i = 0; i < 3; i++)
        freeReplyObject(p->rep[i]);
    p->cmd_len = 0;
    if (rc)
        redis_drop(p);
    return rc;
}

/* Check at connect that the user may run every command opts.needs implies,
 * on its keys: queue them inside MULTI ... DISCARD (Redis checks ACLs,
 * key patterns included, when queueing, answers NOPERM, and DISCARD runs
 * nothing). When MULTI itself is refused, nothing is checked here (every
 * NOPERM later is still STORE_E_AUTH with the rule named). Returns 0 or
 * STORE_E_AUTH naming the first missing rule (connection dropped), or a
 * connection's STORE_E_* code. */
static int redis_probe(store_t *st, redis_priv_t *p)
{
    const char *pre = st->opts.key_prefix ? st->opts.key_prefix : "";
    char tk[300], rk[300], tglob[300], rglob[300], acl[300], pat[310], rank[300];
    unsigned need = st->opts.needs;
    trade_key(tk, sizeof(tk), pre, 0);
    trade_result_key(rk, sizeof(rk), pre, 0);
    snprintf(tglob, sizeof(tglob), "%sey*.xml", pre);
    snprintf(rglob, sizeof(rglob), "%sey*_result.xml", pre);
    snprintf(acl, sizeof(acl), "%sey*", pre);
    snprintf(pat, sizeof(pat), "%sey*.xml", pre);
    snprintf(rank, sizeof(rank), "%s%s", pre, st->opts.ranking_name ? st->opts.ranking_name : "finsim:signals");
    redis_probe_cmd_t c[8];
    int n = 0;
    if (need & STORE_NEED_READ_TRADES) {
        c[n++] = (redis_probe_cmd_t){{"GETRANGE", tk, "0", "0"}, 4, tglob, acl};
        c[n++] = (redis_probe_cmd_t){{"TYPE", tk}, 2, tglob, acl};
    }
    if (need & STORE_NEED_WRITE_TRADES)
        c[n++] = (redis_probe_cmd_t){{"MSET", tk, ""}, 3, tglob, acl};
    if (need & STORE_NEED_READ_RESULTS)
        c[n++] = (redis_probe_cmd_t){{"GETRANGE", rk, "0", "0"}, 4, rglob, acl};
    if (need & STORE_NEED_WRITE_RESULTS)
        c[n++] = (redis_probe_cmd_t){{"MSET", rk, ""}, 3, rglob, acl};
    if (need & STORE_NEED_LIST)
        c[n++] = (redis_probe_cmd_t){{"SCAN", "0", "MATCH", pat, "COUNT", "1"}, 6, NULL, NULL};
    if (need & STORE_NEED_RANKING) {
        c[n++] = (redis_probe_cmd_t){{"DEL", rank}, 2, rank, rank};
        c[n++] = (redis_probe_cmd_t){{"ZADD", rank, "0", "0"}, 4, rank, rank};
    }
    if (n == 0)
        return 0;
    const char *multi[1] = {"MULTI"};
    redisReply *r = NULL;
    int rc = redis_call(st, p, 1, multi, "MULTI", &r);
    if (rc != 0)
        return rc;
    int ok = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (!ok) {
        fs_debug("%s: MULTI refused; ACLs are checked as commands run", st->url);
        return 0;
    }
    p->cmd_len = 0;
    for (int i = 0; i < n; i++) {
        redis_cmd_begin(p, (size_t)c[i].argc);
        for (int k = 0; k < c[i].argc; k++)
            redis_cmd_arg(p, c[i].argv[k], strlen(c[i].argv[k]));
    }
    redis_cmd_begin(p, 1);
    redis_cmd_arg(p, "DISCARD", 7);
    if ((rc = redis_send(st, p, "checking permissions")) != 0 ||
        (rc = redis_recv(st, p, (size_t)n + 1, "checking permissions")) != 0)
        return rc;
    st->stats.round_trips--; /* not a batch */
    int bad = -1;
    for (int i = 0; i < n; i++)
        if (bad < 0 && p->rep[i]->type == REDIS_REPLY_ERROR && strncmp(p->rep[i]->str, "NOPERM", 6) == 0) {
            bad = i;
            redis_reply_error(st, p->rep[i]->str, c[i].argv[0], c[i].keys, c[i].aclkey);
        }
    int discarded = p->rep[n]->type == REDIS_REPLY_STATUS;
    for (int i = 0; i <= n; i++)
        freeReplyObject(p->rep[i]);
    p->cmd_len = 0;
    if (bad >= 0) {
        redis_drop(p);
        return STORE_E_AUTH;
    }
    if (!discarded) { /* the transaction is still open: a new connection has none */
        redis_drop(p);
        return 0;
    }
    return need & STORE_NEED_RANKING ? redis_probe_exec(st, p) : 0;
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
    const char *password = redis_auth_password(st, p);
    if (password || user) {
        const char *argv[3] = {"AUTH", NULL, NULL};
        int argc = 0;
        if (user) {
            argv[1] = user;
            argv[2] = password ? password : "";
            argc = 3;
        } else {
            argv[1] = password;
            argc = 2;
        }
        if ((rc = redis_call(st, p, argc, argv, "AUTH", &r)) != 0)
            return rc;
        if (r->type == REDIS_REPLY_ERROR && o->password_file) { /* rotated meanwhile: read the file once more */
            freeReplyObject(r);
            redis_sleep(REDIS_BACKOFF_FIRST_S);
            argv[argc - 1] = (password = redis_auth_password(st, p)) ? password : "";
            if ((rc = redis_call(st, p, argc, argv, "AUTH", &r)) != 0)
                return rc;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            store_set_error(st, STORE_E_AUTH, "%s refused the credentials of user '%s': %.80s%s", st->url,
                            user ? user : "default", r->str,
                            password ? "" : " (no password given: set FINSIM_REDIS_PASSWORD or a password file)");
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
            int code = redis_reply_code(r->str) == STORE_E_AUTH ? STORE_E_AUTH : STORE_E_USAGE;
            if (strncmp(r->str, "NOPERM", 6) == 0)
                redis_reply_error(st, r->str, "SELECT", NULL, NULL);
            else
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
    /* NOPERM: the user may not PING, but the connection and the
     * credentials work; finsim needs no PING otherwise */
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOPERM", 6) != 0) {
        /* LOADING: a restarted server still reading its data: try again later */
        int code = strncmp(r->str, "NOAUTH", 6) == 0    ? STORE_E_AUTH
                   : strncmp(r->str, "LOADING", 7) == 0 ? STORE_E_CONNECT
                                                        : STORE_E_PROTOCOL;
        store_set_error(st, code, "%s answered PING with: %.100s%s", st->url, r->str,
                        code == STORE_E_AUTH ? " (set FINSIM_REDIS_PASSWORD or a password file)" : "");
        freeReplyObject(r);
        redis_drop(p);
        return code;
    }
    freeReplyObject(r);
    if (!p->probed && o->needs) {
        rc = redis_probe(st, p);
        p->probed = rc == 0 || rc == STORE_E_AUTH; /* a lost connection: probe again on the next */
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Connect with bounded retries: a refused or dropped connection is retried
 * opts.retries times with exponential backoff; authentication, TLS, timeout
 * and usage errors are final. Returns 0 or the last STORE_E_* code. */
int redis_connect(store_t *st, redis_priv_t *p)
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

/* Decide whether to retry after failure rc of an idempotent command; see
 * redis.h. */
int redis_retry(store_t *st, redis_priv_t *p, int rc, int *attempt)
{
    if (st->opts.retry_s > 0) {
        if (rc != STORE_E_CONNECT && rc != STORE_E_TIMEOUT)
            return 0;
        double now = fs_now();
        if (p->outage_t0 == 0) {
            p->outage_t0 = now;
            *attempt = 0;
            fs_warn("store %s unreachable (%s), retrying for up to %g s", st->url, st->errstr, st->opts.retry_s);
        }
        double left = st->opts.retry_s - (now - p->outage_t0);
        if (left <= 0) {
            size_t l = strlen(st->errstr);
            snprintf(st->errstr + l, sizeof(st->errstr) - l, " (unreachable for %.1f s, beyond --store-retry %g)",
                     now - p->outage_t0, st->opts.retry_s);
            return 0;
        }
        double d = redis_backoff(*attempt);
        redis_sleep(d < left ? d : left);
        (*attempt)++;
        return 1;
    }
    if (rc != STORE_E_CONNECT || *attempt >= st->opts.retries)
        return 0;
    fs_warn("%s; reconnecting (%d of %d)", st->errstr, *attempt + 1, st->opts.retries);
    redis_sleep(redis_backoff(*attempt));
    (*attempt)++;
    return 1;
}

/* An idempotent command succeeded: end the outage, if any. */
void redis_outage_end(store_t *st, redis_priv_t *p)
{
    if (p->outage_t0 == 0)
        return;
    fs_warn("store %s back after %.1f s", st->url, fs_now() - p->outage_t0);
    p->outage_t0 = 0;
}

/* Make sure there is a live connection, reconnecting if an earlier failure
 * dropped it. Returns 0 or a STORE_E_* code. */
int redis_ensure(store_t *st, redis_priv_t *p)
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
int redis_send(store_t *st, redis_priv_t *p, const char *what)
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
int redis_recv(store_t *st, redis_priv_t *p, size_t nrep, const char *what)
{
    if (nrep > p->rep_cap) {
        p->rep = xrealloc(p->rep, nrep * sizeof(*p->rep));
        p->rep_cap = nrep;
    }
    for (size_t i = 0; i < nrep; i++) {
        void *r = NULL;
        if (p->asking && redisGetReply(p->c, &r) == REDIS_OK && r) { /* the +OK of ASKING */
            freeReplyObject(r);
            r = NULL;
        }
        if (redisGetReply(p->c, &r) != REDIS_OK || !r) {
            for (size_t k = 0; k < i; k++)
                freeReplyObject(p->rep[k]);
            return redis_io_error(st, p, what);
        }
        p->rep[i] = r;
    }
    return 0;
}

/* Free the backend state (connection, TLS context, buffers). Accepts a
 * store whose priv is NULL. */
void redis_close(store_t *st)
{
    redis_priv_t *p = st->priv;
    if (!p)
        return;
    redis_drop(p);
    redis_prefetch_free(p);
    redis_cluster_free(p);
    free(p->redir);
    if (p->pw)
        fs_wipe_free(p->pw);
#if FINSIM_HAVE_TLS
    if (p->ssl_ctx)
        SSL_CTX_free(p->ssl_ctx);
#endif
    free(p->cmd);
    free(p->nil_idx);
    free(p->pend);
    free(p->held);
    free(p->held_off);
    free(p->held_item);
    free(p->rep);
    free(p);
    st->priv = NULL;
}

/* Open: parse the URL (refusing passwords in it), replace st->url with its
 * secret-free canonical form, set up TLS, connect (with retries). Returns 0
 * or a STORE_E_* code with st->errstr set; on failure everything allocated
 * here is freed. Ignores SIGPIPE when it has its default action, so a write
 * to a server that went away is an error return, not a dead process. */
int redis_open(store_t *st, const char *url, const store_opts_t *o, void *mpi_comm)
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
    if ((rc = redis_connect(st, p)) != 0 && (rc = redis_cluster_seeds(st, p, rc)) != 0)
        goto out_close;
    if ((rc = redis_cluster_open(st, p)) != 0)
        goto out_close;
    return 0;

out_close:
    redis_close(st);
    return rc;
}

/* Re-establish the connection (with retries). Returns 0 or STORE_E_*. */
int redis_reconnect(store_t *st)
{
    redis_priv_t *p = st->priv;
    p->reconnects++;
    return redis_connect(st, p);
}

/* The secret-free URL. */
const char *redis_describe(store_t *st)
{
    return st->url;
}
