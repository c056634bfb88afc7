/* test_store_redis.c - the Redis trade store against real redis-servers
 * (tests/lib/fixture.c): URLs, AUTH and ACL users, TLS, per-slot outcomes,
 * lost servers and reconnects, round trips, results, listing, prefixes. */
#include "fixture.h"

#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "finsim/trade/gen.h"
#include "finsim/store/store.h"
#include "finsim/base/util.h"

#define SEED 20240601ULL

static fx_redis_t g_srv; /* shared plain server; tests FLUSHALL it first */

/* Fail unless needle occurs in hay, printing both. */
#define assert_contains(hay, needle)                                                       \
    do {                                                                                  \
        const char *h_ = (hay), *n_ = (needle);                                           \
        if (!h_ || !strstr(h_, n_))                                                       \
            fail_msg("expected \"%s\" to contain \"%s\"", h_ ? h_ : "(null)", n_);        \
    } while (0)

/* Fail if needle occurs in hay. */
#define assert_not_contains(hay, needle)                                                   \
    do {                                                                                  \
        const char *h_ = (hay), *n_ = (needle);                                           \
        if (h_ && strstr(h_, n_))                                                         \
            fail_msg("\"%s\" must not contain \"%s\"", h_, n_);                           \
    } while (0)

/* ---- helpers ----------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    return fx_redis_start(&g_srv, NULL);
}

static int group_teardown(void **state)
{
    (void)state;
    fx_redis_stop(&g_srv);
    return 0;
}

/* FLUSHALL the shared server (all dbs). */
static void flush_all(const fx_redis_t *r)
{
    char out[64];
    const char *args[] = {"FLUSHALL", NULL};
    assert_int_equal(0, fx_redis_cli(r, out, sizeof(out), args));
    assert_string_equal("OK", out);
}

/* Options for tests: small retry budget and timeouts so failures are quick. */
static store_opts_t test_opts(void)
{
    store_opts_t o;
    memset(&o, 0, sizeof(o));
    o.timeout_s = 5;
    o.retries = 1;
    return o;
}

/* Open url or fail the test with the store's reason. */
static store_t *open_ok(const char *url, const store_opts_t *o)
{
    char err[256] = "";
    int code = 0;
    store_t *st = store_open(url, o, NULL, err, sizeof(err), &code);
    if (!st)
        fail_msg("store_open(%s) failed (%d): %s", url, code, err);
    assert_int_equal(STORE_OK, code);
    return st;
}

/* Open url expecting failure with code; the reason goes into err. */
static void open_fails(const char *url, const store_opts_t *o, int want, char *err, size_t errlen)
{
    int code = 0;
    err[0] = 0;
    store_t *st = store_open(url, o, NULL, err, errlen, &code);
    if (st) {
        store_close(st);
        fail_msg("store_open(%s) succeeded, expected error %d", url, want);
    }
    if (code != want)
        fail_msg("store_open(%s): code %d (%s), expected %d", url, code, err, want);
    printf("    expected error %d: %s\n", code, err);
    assert_true(strlen(err) > 10);
}

/* Field-by-field bitwise comparison of two trades. */
static void assert_trade_equal(const trade_t *a, const trade_t *b)
{
#define SAME(f) assert_memory_equal(&a->f, &b->f, sizeof(a->f))
    SAME(id);
    SAME(fx1);
    SAME(drift);
    SAME(maturity);
    SAME(t_steps);
    SAME(trials);
    SAME(ro);
    SAME(v);
    SAME(sigma1);
    SAME(warrants_no);
    SAME(notional_per_warr);
    SAME(strike);
    assert_string_equal(a->start_date, b->start_date);
    assert_string_equal(a->end_date, b->end_date);
#undef SAME
}

/* n generated trades with ids first, first+step, ... (malloc'ed). */
static trade_t *make_trades(uint64_t seed, int64_t first, int64_t step, size_t n)
{
    trade_t *t = malloc(n * sizeof(*t));
    assert_non_null(t);
    for (size_t i = 0; i < n; i++)
        gen_trade(seed, first + (int64_t)i * step, &t[i]);
    return t;
}

/* The ids of t[0..n) (malloc'ed). */
static int64_t *ids_of(const trade_t *t, size_t n)
{
    int64_t *ids = malloc(n * sizeof(*ids));
    assert_non_null(ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = t[i].id;
    return ids;
}

/* Read back t[0..n) through st and compare every slot. With every key
 * present the read costs one MGET per batch plus extra_rt (batches sent
 * again after a lost connection). */
static void assert_read_back_rt(store_t *st, const trade_t *t, size_t n, int64_t extra_rt)
{
    int64_t *ids = ids_of(t, n);
    trade_slot_t *slots = calloc(n, sizeof(*slots));
    assert_non_null(slots);
    int64_t rt0 = store_stats(st)->round_trips;
    assert_int_equal(0, store_get_trades(st, ids, n, slots));
    /* every key present: one MGET per batch, no follow-up round trip */
    assert_int_equal((n + (size_t)store_batch(st) - 1) / (size_t)store_batch(st) + extra_rt,
                     store_stats(st)->round_trips - rt0);
    for (size_t i = 0; i < n; i++) {
        if (slots[i].status != FS_OK)
            fail_msg("slot %zu (trade %lld): status %d: %s", i, (long long)ids[i], slots[i].status, slots[i].msg);
        assert_trade_equal(&t[i], &slots[i].trade);
    }
    free(slots);
    free(ids);
}

/* assert_read_back_rt without lost connections. */
static void assert_read_back(store_t *st, const trade_t *t, size_t n)
{
    assert_read_back_rt(st, t, n, 0);
}

/* redis-cli with up to 6 arguments, output into out. Returns exit status. */
static int cli(const fx_redis_t *r, char *out, size_t outlen, const char *a0, const char *a1, const char *a2,
               const char *a3)
{
    const char *args[] = {a0, a1, a2, a3, NULL};
    return fx_redis_cli(r, out, outlen, args);
}

/* ---- URL handling -------------------------------------------------------------- */

/* Would store_open give url to the Redis backend? */
static int redis_accepts(const char *url)
{
    const char *be = store_backend_for(url);
    return be && !strcmp(be, "redis");
}

static void t_accepts(void **state)
{
    (void)state;
    assert_true(redis_accepts("redis://127.0.0.1:6379"));
    assert_true(redis_accepts("rediss://cache.example:6380/0"));
    assert_true(redis_accepts("unix:///run/redis.sock"));
    assert_true(redis_accepts("REDIS://host"));
    assert_false(redis_accepts("trades.h5"));
    assert_false(redis_accepts("mem://x"));
    assert_false(redis_accepts("redis:/host"));
}

static void t_password_in_url_refused(void **state)
{
    (void)state;
    char err[256];
    store_opts_t o = test_opts();
    open_fails("redis://alice:Sup3rSecret@127.0.0.1:6379/0", &o, STORE_E_USAGE, err, sizeof(err));
    assert_contains(err, "password");
    assert_contains(err, "FINSIM_REDIS_PASSWORD");
    assert_not_contains(err, "Sup3rSecret");
    open_fails("redis://:Sup3rSecret@127.0.0.1:6379", &o, STORE_E_USAGE, err, sizeof(err));
    assert_not_contains(err, "Sup3rSecret");
    open_fails("rediss://u:Sup3rSecret@localhost:6380/1", &o, STORE_E_USAGE, err, sizeof(err));
    assert_not_contains(err, "Sup3rSecret");
    open_fails("unix:///tmp/x.sock?password=Sup3rSecret", &o, STORE_E_USAGE, err, sizeof(err));
    assert_not_contains(err, "Sup3rSecret");
    assert_contains(err, "FINSIM_REDIS_PASSWORD");
}

static void t_bad_urls(void **state)
{
    (void)state;
    char err[256];
    store_opts_t o = test_opts();
    open_fails("redis://", &o, STORE_E_USAGE, err, sizeof(err));
    assert_contains(err, "no host");
    open_fails("redis://127.0.0.1:99999", &o, STORE_E_USAGE, err, sizeof(err));
    assert_contains(err, "port");
    open_fails("redis://127.0.0.1:12ab", &o, STORE_E_USAGE, err, sizeof(err));
    assert_contains(err, "port");
    open_fails("redis://127.0.0.1:6379/zero", &o, STORE_E_USAGE, err, sizeof(err));
    assert_contains(err, "db");
    open_fails("unix://relative.sock", &o, STORE_E_USAGE, err, sizeof(err));
    assert_contains(err, "absolute");
    open_fails("unix:///tmp/x.sock?colour=blue", &o, STORE_E_USAGE, err, sizeof(err));
    assert_contains(err, "colour");
    open_fails("unix:///tmp/x.sock?db=-1", &o, STORE_E_USAGE, err, sizeof(err));
    assert_contains(err, "db");
    open_fails("redis://al%00ice@127.0.0.1:6379", &o, STORE_E_USAGE, err, sizeof(err));
    assert_contains(err, "user name");
}

/* ---- plain TCP, unix socket, db selection ---------------------------------------- */

static void t_tcp_round_trip(void **state)
{
    (void)state;
    flush_all(&g_srv);
    store_opts_t o = test_opts();
    o.batch = 1000;
    store_t *st = open_ok(g_srv.url, &o);
    char want_url[96];
    snprintf(want_url, sizeof(want_url), "%s/0", g_srv.url);
    assert_string_equal(want_url, store_describe(st));

    size_t n = 2500; /* three batches, the last one partial */
    trade_t *t = make_trades(SEED, 100, 1, n);
    assert_int_equal(0, store_put_trades(st, t, n));
    int64_t rt_after_put = store_stats(st)->round_trips;
    assert_true(rt_after_put >= 3);
    assert_read_back(st, t, n);
    assert_true(store_stats(st)->round_trips - rt_after_put >= 3);
    assert_true(store_stats(st)->parse_s > 0);

    /* the raw bytes stored are exactly trade_format's output */
    char want[2048], got[4096];
    int wl = trade_format(&t[0], want, sizeof(want));
    assert_true(wl > 300 && wl < (int)sizeof(want));
    assert_int_equal(0, cli(&g_srv, got, sizeof(got), "GET", "ey0000100.xml", NULL, NULL));
    assert_string_equal(want, got);
    assert_int_equal(0, cli(&g_srv, got, sizeof(got), "DBSIZE", NULL, NULL, NULL));
    assert_string_equal("2500", got);

    /* odd batch sizes read the same trades */
    store_close(st);
    o.batch = 7;
    st = open_ok(g_srv.url, &o);
    assert_read_back(st, t, 50);
    store_close(st);
    o.batch = 100000; /* clamped to the pipeline limit */
    st = open_ok(g_srv.url, &o);
    assert_true(store_batch(st) <= 5000);
    assert_read_back(st, t, n);
    store_close(st);
    free(t);
}

static void t_unix_socket_db(void **state)
{
    (void)state;
    flush_all(&g_srv);
    char url[400], out[64];
    snprintf(url, sizeof(url), "%s?db=2", g_srv.unix_url);
    store_opts_t o = test_opts();
    store_t *st = open_ok(url, &o);
    assert_contains(store_describe(st), "unix://");
    assert_contains(store_describe(st), "db=2");
    trade_t *t = make_trades(SEED, 1, 3, 20);
    assert_int_equal(0, store_put_trades(st, t, 20));
    assert_read_back(st, t, 20);
    const char *in2[] = {"-n", "2", "EXISTS", "ey0000004.xml", NULL};
    assert_int_equal(0, fx_redis_cli(&g_srv, out, sizeof(out), in2));
    assert_string_equal("1", out);
    const char *in0[] = {"-n", "0", "EXISTS", "ey0000004.xml", NULL};
    assert_int_equal(0, fx_redis_cli(&g_srv, out, sizeof(out), in0));
    assert_string_equal("0", out);
    store_close(st);
    free(t);
}

static void t_tcp_db_path(void **state)
{
    (void)state;
    flush_all(&g_srv);
    char url[128], out[64];
    snprintf(url, sizeof(url), "%s/3", g_srv.url);
    store_opts_t o = test_opts();
    store_t *st = open_ok(url, &o);
    trade_t *t = make_trades(SEED, 7, 1, 5);
    assert_int_equal(0, store_put_trades(st, t, 5));
    assert_read_back(st, t, 5);
    const char *in3[] = {"-n", "3", "DBSIZE", NULL};
    assert_int_equal(0, fx_redis_cli(&g_srv, out, sizeof(out), in3));
    assert_string_equal("5", out);
    assert_int_equal(0, cli(&g_srv, out, sizeof(out), "DBSIZE", NULL, NULL, NULL));
    assert_string_equal("0", out);
    store_close(st);

    char err[256];
    snprintf(url, sizeof(url), "%s/999", g_srv.url); /* redis has 16 dbs */
    open_fails(url, &o, STORE_E_USAGE, err, sizeof(err));
    assert_contains(err, "SELECT 999");
    free(t);
}

/* ---- authentication ---------------------------------------------------------------- */

static void t_requirepass(void **state)
{
    (void)state;
    fx_redis_t r;
    const char *pw = "finsim-test-pw-7Qz";
    const char *extra[] = {"--requirepass", pw, NULL};
    assert_int_equal(0, fx_redis_start(&r, extra));
    char err[256];
    store_opts_t o = test_opts();

    open_fails(r.url, &o, STORE_E_AUTH, err, sizeof(err)); /* no password */
    assert_contains(err, "FINSIM_REDIS_PASSWORD");

    o.password = "wrong-pw-Kx9";
    open_fails(r.url, &o, STORE_E_AUTH, err, sizeof(err));
    assert_not_contains(err, "wrong-pw-Kx9");
    assert_contains(err, "refused the credentials");

    o.password = pw;
    store_t *st = open_ok(r.url, &o);
    assert_not_contains(store_describe(st), pw);
    trade_t *t = make_trades(SEED, 1, 1, 10);
    assert_int_equal(0, store_put_trades(st, t, 10));
    assert_read_back(st, t, 10);
    store_close(st);

    /* the unix socket needs the password too */
    o.password = NULL;
    open_fails(r.unix_url, &o, STORE_E_AUTH, err, sizeof(err));
    o.password = pw;
    st = open_ok(r.unix_url, &o);
    assert_read_back(st, t, 10);
    store_close(st);
    fx_redis_stop(&r);
    free(t);
}

static void t_acl_user(void **state)
{
    (void)state;
    fx_redis_t r;
    char out[256], url[128], err[256];
    assert_int_equal(0, fx_redis_start(&r, NULL));
    const char *acl[] = {"ACL", "SETUSER", "alice", "on", ">alice-pw-3r", "~*", "+@all", NULL};
    assert_int_equal(0, fx_redis_cli(&r, out, sizeof(out), acl));
    assert_string_equal("OK", out);

    store_opts_t o = test_opts();
    o.password = "alice-pw-3r";
    snprintf(url, sizeof(url), "redis://alice@127.0.0.1:%d/0", r.port);
    store_t *st = open_ok(url, &o);
    assert_contains(store_describe(st), "alice@");
    assert_not_contains(store_describe(st), "alice-pw-3r");
    trade_t *t = make_trades(SEED, 11, 1, 10);
    assert_int_equal(0, store_put_trades(st, t, 10));
    assert_read_back(st, t, 10);
    store_close(st);

    snprintf(url, sizeof(url), "redis://al%%69ce@127.0.0.1:%d", r.port); /* percent-encoded user */
    st = open_ok(url, &o);
    assert_contains(store_describe(st), "alice@");
    store_close(st);

    o.password = "not-alices-pw";
    snprintf(url, sizeof(url), "redis://alice@127.0.0.1:%d/0", r.port);
    open_fails(url, &o, STORE_E_AUTH, err, sizeof(err));
    assert_contains(err, "alice");
    assert_not_contains(err, "not-alices-pw");

    /* user from the options, plain URL; it overrides the URL's user too */
    o.password = "alice-pw-3r";
    o.username = "alice";
    st = open_ok(r.url, &o);
    assert_read_back(st, t, 10);
    store_close(st);
    snprintf(url, sizeof(url), "redis://mallory@127.0.0.1:%d/0", r.port);
    st = open_ok(url, &o);
    store_close(st);
    o.username = "bob";
    open_fails(r.url, &o, STORE_E_AUTH, err, sizeof(err));
    assert_contains(err, "bob");

    fx_redis_stop(&r);
    free(t);
}

/* ---- TLS ------------------------------------------------------------------------------ */

#if FINSIM_HAVE_TLS
static void t_tls(void **state)
{
    (void)state;
    fx_redis_t r;
    char err[256], url[96];
    assert_int_equal(0, fx_redis_start_tls(&r, FX_TLS_CLIENT_OPTIONAL, NULL));
    store_opts_t o = test_opts();

    o.tls_ca_file = r.ca_file; /* verified chain and host name */
    store_t *st = open_ok(r.tls_url, &o);
    assert_contains(store_describe(st), "rediss://localhost:");
    trade_t *t = make_trades(SEED, 1, 1, 1500);
    assert_int_equal(0, store_put_trades(st, t, 1500));
    assert_read_back(st, t, 1500);
    store_close(st);

    snprintf(url, sizeof(url), "rediss://127.0.0.1:%d", r.tls_port); /* IP SAN */
    st = open_ok(url, &o);
    assert_read_back(st, t, 10);
    store_close(st);

    o.tls_ca_file = r.other_ca_file; /* a CA that did not sign the server */
    open_fails(r.tls_url, &o, STORE_E_TLS, err, sizeof(err));
    assert_contains(err, "verif");

    o.tls_insecure = 1; /* ... unless verification is off */
    st = open_ok(r.tls_url, &o);
    assert_read_back(st, t, 10);
    store_close(st);
    o.tls_insecure = 0;

    o.tls_ca_file = r.ca_file;
    o.tls_sni = "not-the-server.example"; /* right CA, wrong name */
    open_fails(r.tls_url, &o, STORE_E_TLS, err, sizeof(err));
    assert_contains(err, "not-the-server.example");
    o.tls_sni = NULL;

    snprintf(url, sizeof(url), "rediss://localhost:%d", r.port); /* plain port */
    open_fails(url, &o, STORE_E_TLS, err, sizeof(err));
    assert_contains(err, "TLS");

    o.tls_cert = r.client_cert; /* certificate without key */
    open_fails(r.tls_url, &o, STORE_E_USAGE, err, sizeof(err));
    o.tls_key = r.client_key;
    st = open_ok(r.tls_url, &o);
    store_close(st);
    fx_redis_stop(&r);
    free(t);
}

static void t_tls_client_cert_required(void **state)
{
    (void)state;
    fx_redis_t r;
    char err[256];
    assert_int_equal(0, fx_redis_start_tls(&r, FX_TLS_CLIENT_REQUIRED, NULL));
    store_opts_t o = test_opts();
    o.tls_ca_file = r.ca_file;
    open_fails(r.tls_url, &o, STORE_E_TLS, err, sizeof(err));
    assert_contains(err, "certificate");
    o.tls_cert = r.client_cert;
    o.tls_key = r.client_key;
    store_t *st = open_ok(r.tls_url, &o);
    trade_t *t = make_trades(SEED, 5, 1, 3);
    assert_int_equal(0, store_put_trades(st, t, 3));
    assert_read_back(st, t, 3);
    store_close(st);
    fx_redis_stop(&r);
    free(t);
}
#else
static void t_tls_unsupported(void **state)
{
    (void)state;
    char err[256];
    store_opts_t o = test_opts();
    open_fails("rediss://localhost:6380/0", &o, STORE_E_TLS, err, sizeof(err));
    assert_contains(err, "built without TLS support (hiredis_ssl)");
}
#endif

/* ---- per-slot outcomes -------------------------------------------------------------------- */

static void t_missing_keys(void **state)
{
    (void)state;
    flush_all(&g_srv);
    store_opts_t o = test_opts();
    o.batch = 4;
    store_t *st = open_ok(g_srv.url, &o);
    trade_t *t = make_trades(SEED, 1, 1, 10);
    trade_t keep[8];
    size_t k = 0;
    for (size_t i = 0; i < 10; i++)
        if (t[i].id != 4 && t[i].id != 7)
            keep[k++] = t[i];
    assert_int_equal(0, store_put_trades(st, keep, k));
    int64_t *ids = ids_of(t, 10);
    trade_slot_t slots[10];
    assert_int_equal(0, store_get_trades(st, ids, 10, slots));
    for (size_t i = 0; i < 10; i++) {
        if (ids[i] == 4 || ids[i] == 7) {
            assert_int_equal(FS_E_NOT_FOUND, slots[i].status);
            assert_int_equal(ids[i], slots[i].trade.id);
            assert_contains(slots[i].msg, ids[i] == 4 ? "ey0000004.xml" : "ey0000007.xml");
            assert_contains(slots[i].msg, store_describe(st));
            assert_contains(slots[i].msg, "finsim generate");
            assert_contains(slots[i].msg, ids[i] == 4 ? "--start-trade 4 " : "--start-trade 7 ");
        } else {
            assert_int_equal(FS_OK, slots[i].status);
            assert_trade_equal(&t[i], &slots[i].trade);
        }
    }
    store_close(st);
    free(ids);
    free(t);
}

static void t_wrong_type(void **state)
{
    (void)state;
    flush_all(&g_srv);
    char out[64];
    store_opts_t o = test_opts();
    store_t *st = open_ok(g_srv.url, &o);
    trade_t *t = make_trades(SEED, 1, 1, 8);
    assert_int_equal(0, store_put_trades(st, t, 8));
    const char *hset[] = {"DEL", "ey0000005.xml", NULL};
    assert_int_equal(0, fx_redis_cli(&g_srv, out, sizeof(out), hset));
    const char *h[] = {"HSET", "ey0000005.xml", "fx1", "0.9", NULL};
    assert_int_equal(0, fx_redis_cli(&g_srv, out, sizeof(out), h));
    const char *l[] = {"DEL", "ey0000006.xml", NULL};
    assert_int_equal(0, fx_redis_cli(&g_srv, out, sizeof(out), l));
    const char *lp[] = {"RPUSH", "ey0000006.xml", "x", NULL};
    assert_int_equal(0, fx_redis_cli(&g_srv, out, sizeof(out), lp));

    int64_t *ids = ids_of(t, 8);
    trade_slot_t slots[8];
    assert_int_equal(0, store_get_trades(st, ids, 8, slots));
    for (size_t i = 0; i < 8; i++) {
        if (ids[i] == 5) {
            assert_int_equal(FS_E_WRONG_TYPE, slots[i].status);
            assert_contains(slots[i].msg, "ey0000005.xml");
            assert_contains(slots[i].msg, "hash");
        } else if (ids[i] == 6) {
            assert_int_equal(FS_E_WRONG_TYPE, slots[i].status);
            assert_contains(slots[i].msg, "list");
        } else {
            assert_int_equal(FS_OK, slots[i].status);
            assert_trade_equal(&t[i], &slots[i].trade);
        }
    }
    store_close(st);
    free(ids);
    free(t);
}

/* Remove the first occurrence of the attribute name="..." from doc. */
static void drop_attr(char *doc, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof(pat), " %s=\"", name);
    char *a = strstr(doc, pat);
    assert_non_null(a);
    char *end = strchr(a + strlen(pat), '"');
    assert_non_null(end);
    memmove(a, end + 1, strlen(end + 1) + 1);
}

static void t_malformed_values(void **state)
{
    (void)state;
    flush_all(&g_srv);
    char out[64], doc[2048];
    store_opts_t o = test_opts();
    store_t *st = open_ok(g_srv.url, &o);
    trade_t *t = make_trades(SEED, 1, 1, 6);
    assert_int_equal(0, store_put_trades(st, t, 6));

    assert_int_equal(0, cli(&g_srv, out, sizeof(out), "SET", "ey0000002.xml", "this is not xml", NULL));
    trade_format(&t[3], doc, sizeof(doc));
    drop_attr(doc, "strike");
    assert_int_equal(0, cli(&g_srv, out, sizeof(out), "SET", "ey0000004.xml", doc, NULL));
    trade_format(&t[5], doc, sizeof(doc)); /* trade 6 stored under key 5 */
    assert_int_equal(0, cli(&g_srv, out, sizeof(out), "SET", "ey0000005.xml", doc, NULL));

    int64_t *ids = ids_of(t, 6);
    trade_slot_t slots[6];
    assert_int_equal(0, store_get_trades(st, ids, 6, slots));
    assert_int_equal(FS_E_PARSE, slots[1].status);
    assert_contains(slots[1].msg, "ey0000002.xml");
    assert_int_equal(FS_E_MISSING_FIELD, slots[3].status);
    assert_contains(slots[3].msg, "ey0000004.xml");
    assert_contains(slots[3].msg, "strike");
    assert_int_equal(FS_E_ID_MISMATCH, slots[4].status);
    assert_contains(slots[4].msg, "ey0000005.xml");
    const int ok_slots[] = {0, 2, 5};
    for (int k = 0; k < 3; k++) {
        int i = ok_slots[k];
        assert_int_equal(FS_OK, slots[i].status);
        assert_trade_equal(&t[i], &slots[i].trade);
    }
    store_close(st);
    free(ids);
    free(t);
}

/* ---- failures: refused, timeout, server gone ------------------------------------------------ */

/* Values read in batches (of 3 keys here) get what each value parsed alone
 * gives: the same trade bits, status and message ("key: why", or the id
 * mismatch), whatever their neighbours hold - documents that would swallow
 * the next one, two roots, comments, a truncated one. */
static void t_values_as_parsed_alone(void **state)
{
    (void)state;
    flush_all(&g_srv);
    static const char *const tails[] = {"", "<!-- ok -->", "<!--", "<AZFINSIM>", "x", "", "\n", "<?pi",
                                        "",  "&#32;",       "",     "",           "",          "<![CDATA["};
    enum { N = sizeof(tails) / sizeof(tails[0]) };
    char out[64], doc[2048];
    store_opts_t o = test_opts();
    o.batch = 3;
    store_t *st = open_ok(g_srv.url, &o);
    trade_t *t = make_trades(SEED, 1, 1, N);
    int64_t *ids = ids_of(t, N);
    char vals[N][2048];
    for (int i = 0; i < N; i++) {
        char key[TRADE_KEY_MAX];
        trade_key(key, sizeof(key), NULL, ids[i]);
        int n = trade_format(&t[i == 12 ? 2 : i], doc, sizeof(doc)); /* key 13 holds trade 3 */
        if (i == 5)
            n = 100; /* cut short */
        snprintf(vals[i], sizeof(vals[i]), "%.*s%s", n, doc, tails[i]);
        assert_int_equal(0, cli(&g_srv, out, sizeof(out), "SET", key, vals[i], NULL));
    }
    trade_slot_t slots[N];
    assert_int_equal(0, store_get_trades(st, ids, N, slots));
    for (int i = 0; i < N; i++) {
        char key[TRADE_KEY_MAX], why[160], msg[sizeof(slots[0].msg)];
        trade_t want;
        trade_key(key, sizeof(key), NULL, ids[i]);
        int status = trade_parse_one(vals[i], strlen(vals[i]), &want, why, sizeof(why));
        if (status != FS_OK)
            fs_seterr(msg, sizeof(msg), "%s: %s", key, why);
        else if (want.id != ids[i])
            fs_seterr(msg, sizeof(msg), "%s holds trade %010lld, not %010lld", key, (long long)want.id,
                     (long long)ids[i]);
        else
            msg[0] = '\0';
        if (status == FS_OK && want.id != ids[i])
            status = FS_E_ID_MISMATCH;
        assert_int_equal(status, slots[i].status);
        assert_string_equal(msg, slots[i].msg);
        assert_memory_equal(&want, &slots[i].trade, sizeof(want));
        assert_int_equal(i == 0 || i == 1 || i == 6 || i == 8 || i == 10 || i == 11, status == FS_OK);
    }
    free(ids);
    free(t);
    store_close(st);
}

static void t_connection_refused(void **state)
{
    (void)state;
    char url[64], err[256];
    /* a port bound here but not listened on: connections are refused, and no
     * other process can take the port while the test runs */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(0, bind(fd, (struct sockaddr *)&a, sizeof(a)));
    assert_int_equal(0, getsockname(fd, (struct sockaddr *)&a, &al));
    int port = ntohs(a.sin_port);
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    store_opts_t o = test_opts();
    o.retries = 2;
    double t0 = fs_now();
    open_fails(url, &o, STORE_E_CONNECT, err, sizeof(err));
    double dt = fs_now() - t0;
    assert_contains(err, "refused");
    assert_contains(err, url);
    assert_contains(err, "3 attempts");
    assert_true(dt >= 0.25); /* backoff 0.1 + 0.2 s (a lower bound: no timing ceiling) */
    close(fd);
}

static void t_timeout(void **state)
{
    (void)state;
    /* a listener that completes the TCP handshake but never answers */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(0, bind(fd, (struct sockaddr *)&a, sizeof(a)));
    assert_int_equal(0, listen(fd, 8));
    assert_int_equal(0, getsockname(fd, (struct sockaddr *)&a, &al));
    char url[64], err[256];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", ntohs(a.sin_port));
    store_opts_t o = test_opts();
    o.timeout_s = 0.3;
    o.retries = 3;
    double t0 = fs_now();
    open_fails(url, &o, STORE_E_TIMEOUT, err, sizeof(err));
    double dt = fs_now() - t0;
    assert_contains(err, "0.3 s");
    assert_true(dt >= 0.25); /* it did wait (a lower bound: no timing ceiling) */
    /* a timeout is not retried: exactly one connection reached the listener
     * (the kernel completed each handshake; count them from the backlog) */
    int fl = fcntl(fd, F_GETFL, 0);
    assert_int_equal(0, fcntl(fd, F_SETFL, fl | O_NONBLOCK));
    int conns = 0, c;
    while ((c = accept(fd, NULL, NULL)) >= 0) {
        conns++;
        close(c);
    }
    assert_int_equal(conns, 1);
    close(fd);
}

static void t_server_killed_between_batches(void **state)
{
    (void)state;
    fx_redis_t r;
    assert_int_equal(0, fx_redis_start(&r, NULL));
    store_opts_t o = test_opts();
    o.batch = 50;
    store_t *st = open_ok(r.url, &o);
    trade_t *t = make_trades(SEED, 1, 1, 120);
    int64_t *ids = ids_of(t, 120);
    trade_slot_t *slots = calloc(120, sizeof(*slots));
    assert_int_equal(0, store_put_trades(st, t, 120));
    assert_read_back(st, t, 120);

    assert_int_equal(0, fx_redis_kill(&r, SIGKILL));
    int rc = store_get_trades(st, ids, 120, slots);
    assert_int_equal(STORE_E_CONNECT, rc);
    assert_contains(store_errstr(st), store_describe(st));
    assert_contains(store_errstr(st), "refused");
    for (int i = 0; i < 120; i++) {
        assert_int_equal(FS_E_STORE, slots[i].status);
        assert_true(slots[i].msg[0] != 0);
    }
    assert_int_equal(STORE_E_CONNECT, store_put_trades(st, t, 120));
    assert_int_equal(STORE_E_CONNECT, store_reconnect(st));

    /* the server comes back (empty): the store reconnects by itself */
    assert_int_equal(0, fx_redis_restart(&r));
    rc = store_get_trades(st, ids, 120, slots);
    assert_int_equal(0, rc);
    assert_int_equal(FS_E_NOT_FOUND, slots[0].status);
    assert_int_equal(0, store_put_trades(st, t, 120));
    assert_read_back(st, t, 120);
    assert_int_equal(0, store_reconnect(st));
    assert_read_back(st, t, 120);

    store_close(st);
    fx_redis_stop(&r);
    free(slots);
    free(ids);
    free(t);
}

static void t_dropped_connection_redone(void **state)
{
    (void)state;
    flush_all(&g_srv);
    char out[256];
    store_opts_t o = test_opts();
    store_t *st = open_ok(g_srv.url, &o);
    trade_t *t = make_trades(SEED, 1, 1, 30);
    assert_int_equal(0, store_put_trades(st, t, 30));
    /* the server closes every client connection (ours included) */
    assert_int_equal(0, cli(&g_srv, out, sizeof(out), "CLIENT", "KILL", "TYPE", "normal"));
    assert_true(atoi(out) >= 1);
    assert_read_back_rt(st, t, 30, 1); /* reconnects and sends the batch again */
    assert_int_equal(0, cli(&g_srv, out, sizeof(out), "CLIENT", "KILL", "TYPE", "normal"));
    assert_int_equal(0, store_put_trades(st, t, 30));
    store_close(st);
    free(t);
}

static void t_server_killed_mid_call(void **state)
{
    (void)state;
    fx_redis_t r;
    assert_int_equal(0, fx_redis_start(&r, NULL));
    store_opts_t o = test_opts();
    o.batch = 100;
    store_t *st = open_ok(r.unix_url, &o);
    size_t n = 50000;
    trade_t *t = make_trades(SEED, 1, 1, n);
    int64_t *ids = ids_of(t, n);
    trade_slot_t *slots = calloc(n, sizeof(*slots));
    assert_non_null(slots);
    assert_int_equal(0, store_put_trades(st, t, n));

    pid_t killer = fork();
    assert_true(killer >= 0);
    if (killer == 0) {
        struct timespec ts = {0, 40 * 1000000L};
        nanosleep(&ts, NULL);
        kill(r.pid, SIGKILL);
        _exit(0);
    }
    int rc = 0, calls = 0;
    while (rc == 0 && calls < 500) {
        rc = store_get_trades(st, ids, n, slots);
        calls++;
    }
    waitpid(killer, NULL, 0);
    assert_int_equal(STORE_E_CONNECT, rc);
    assert_contains(store_errstr(st), store_describe(st));
    assert_int_equal(FS_E_STORE, slots[n - 1].status);
    assert_int_equal(0, fx_redis_kill(&r, SIGKILL));
    store_close(st);
    fx_redis_stop(&r);
    free(slots);
    free(ids);
    free(t);
}

/* ---- results, listing, prefixes -------------------------------------------------------------- */

static void assert_result_bits(const result_t *a, const result_t *b)
{
#define SAME(f) assert_memory_equal(&a->f, &b->f, sizeof(a->f))
    SAME(trade_id);
    SAME(status);
    SAME(rank);
    SAME(pv);
    SAME(pv_stderr);
    SAME(delta);
    SAME(delta_stderr);
    SAME(vega);
    SAME(vega_stderr);
    SAME(paths);
    SAME(compute_s);
#undef SAME
}

static void t_results_round_trip(void **state)
{
    (void)state;
    flush_all(&g_srv);
    char out[64];
    store_opts_t o = test_opts();
    o.batch = 3;
    store_t *st = open_ok(g_srv.url, &o);
    result_t r[5];
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 5; i++) {
        r[i].trade_id = 10 + i;
        r[i].rank = i;
        r[i].pv = 1234.5678901234567 * (i + 1) / 3.0;
        r[i].pv_stderr = 0.1 / (i + 3.0);
        r[i].delta = -1e-300 * (i + 1);
        r[i].delta_stderr = 1.0 / 7.0;
        r[i].vega = 2.0 / 3.0 + i;
        r[i].vega_stderr = 5e-17;
        r[i].paths = 10000 + i;
        r[i].compute_s = 0.25 * i;
    }
    r[2].delta = r[2].delta_stderr = r[2].vega = r[2].vega_stderr = NAN; /* pvonly */
    result_fail(&r[4], 14, FS_E_PARSE, 1);
    assert_int_equal(0, store_put_results(st, r, 5));

    assert_int_equal(0, cli(&g_srv, out, sizeof(out), "SET", "ey0000016_result.xml", "<AZFINSIM>broken", NULL));
    int64_t ids[7] = {10, 11, 12, 13, 14, 15, 16};
    result_t got[7];
    int found[7];
    assert_int_equal(0, store_get_results(st, ids, 7, got, found));
    for (int i = 0; i < 5; i++) {
        assert_int_equal(1, found[i]);
        assert_result_bits(&r[i], &got[i]);
    }
    assert_int_equal(0, found[5]); /* missing */
    assert_int_equal(0, found[6]); /* malformed */
    assert_int_equal(15, got[5].trade_id);
    /* results do not show up as trades */
    trade_slot_t slot;
    assert_int_equal(0, store_get_trades(st, &ids[0], 1, &slot));
    assert_int_equal(FS_E_NOT_FOUND, slot.status);
    store_close(st);
}

static void t_list_trades(void **state)
{
    (void)state;
    flush_all(&g_srv);
    char out[64];
    store_opts_t o = test_opts();
    o.key_prefix = "pf1:";
    store_t *st = open_ok(g_srv.url, &o);
    int64_t want[] = {3, 5, 42, 1000000, 12345678};
    trade_t t[5];
    int64_t put_order[] = {1000000, 5, 12345678, 3, 42};
    for (int i = 0; i < 5; i++)
        gen_trade(SEED, put_order[i], &t[i]);
    assert_int_equal(0, store_put_trades(st, t, 5));
    result_t res[2];
    result_fail(&res[0], 3, FS_E_INJECTED, 0);
    result_fail(&res[1], 77, FS_E_INJECTED, 0); /* a result without a trade */
    assert_int_equal(0, store_put_results(st, res, 2));
    const char *noise[] = {"pf1:eyjunk.xml", "pf1:ey12.xml", "pf2:ey0000001.xml", "ey0000009.xml", "other",
                           "pf1:ey0000008.xml.bak"};
    for (size_t i = 0; i < sizeof(noise) / sizeof(noise[0]); i++)
        assert_int_equal(0, cli(&g_srv, out, sizeof(out), "SET", noise[i], "x", NULL));

    int64_t *ids = NULL;
    size_t n = 0;
    assert_int_equal(0, store_list_trades(st, &ids, &n));
    assert_int_equal(5, n);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(want[i], ids[i]);
    free(ids);
    store_close(st);

    o.key_prefix = NULL; /* no prefix: only the unprefixed trade key */
    st = open_ok(g_srv.url, &o);
    assert_int_equal(0, store_list_trades(st, &ids, &n));
    assert_int_equal(1, n);
    assert_int_equal(9, ids[0]);
    free(ids);
    store_close(st);

    o.key_prefix = "big:"; /* many SCAN rounds */
    st = open_ok(g_srv.url, &o);
    trade_t *many = make_trades(SEED, 7, 3, 2500);
    assert_int_equal(0, store_put_trades(st, many, 2500));
    assert_int_equal(0, store_list_trades(st, &ids, &n));
    assert_int_equal(2500, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(7 + 3 * (int64_t)i, ids[i]);
    free(ids);
    free(many);
    store_close(st);

    o.key_prefix = "p*[x]:"; /* glob characters in the prefix are literal */
    st = open_ok(g_srv.url, &o);
    assert_int_equal(0, store_put_trades(st, t, 2));
    assert_int_equal(0, cli(&g_srv, out, sizeof(out), "SET", "pQx:ey0000004.xml", "x", NULL));
    assert_int_equal(0, store_list_trades(st, &ids, &n));
    assert_int_equal(2, n);
    assert_int_equal(5, ids[0]);
    assert_int_equal(1000000, ids[1]);
    free(ids);
    store_close(st);

    o.key_prefix = "empty:";
    st = open_ok(g_srv.url, &o);
    ids = (int64_t *)&n; /* any stale pointer must be replaced by NULL */
    assert_int_equal(0, store_list_trades(st, &ids, &n));
    assert_int_equal(0, n);
    assert_null(ids);
    store_close(st);
}

static void t_prefix_isolation(void **state)
{
    (void)state;
    flush_all(&g_srv);
    store_opts_t oa = test_opts(), ob = test_opts(), on = test_opts();
    oa.key_prefix = "A:";
    ob.key_prefix = "B:";
    store_t *a = open_ok(g_srv.url, &oa);
    store_t *b = open_ok(g_srv.url, &ob);
    store_t *none = open_ok(g_srv.url, &on);
    trade_t *ta = make_trades(SEED, 1, 1, 40);
    trade_t *tb = make_trades(SEED + 1, 1, 1, 40); /* same ids, other values */
    assert_true(ta[0].fx1 != tb[0].fx1);
    assert_int_equal(0, store_put_trades(a, ta, 40));
    assert_int_equal(0, store_put_trades(b, tb, 40));
    assert_read_back(a, ta, 40);
    assert_read_back(b, tb, 40);
    int64_t *ids = ids_of(ta, 40);
    trade_slot_t slots[40];
    assert_int_equal(0, store_get_trades(none, ids, 40, slots));
    for (int i = 0; i < 40; i++)
        assert_int_equal(FS_E_NOT_FOUND, slots[i].status);
    char out[4096], want[2048];
    trade_format(&tb[0], want, sizeof(want));
    assert_int_equal(0, cli(&g_srv, out, sizeof(out), "GET", "B:ey0000001.xml", NULL, NULL));
    assert_string_equal(want, out);
    store_close(a);
    store_close(b);
    store_close(none);
    free(ids);
    free(ta);
    free(tb);
}

/* A ranking replaces the sorted set whole, in chunks of ZADD inside one
 * transaction, under the key prefix; other stores refuse it. */
static void t_ranking(void **state)
{
    (void)state;
    flush_all(&g_srv);
    store_opts_t o = test_opts();
    o.key_prefix = "P:";
    store_t *st = open_ok(g_srv.url, &o);
    size_t n = 1203; /* three ZADD chunks */
    int64_t *ids = malloc(sizeof(*ids) * n);
    double *score = malloc(sizeof(*score) * n);
    for (size_t i = 0; i < n; i++) {
        ids[i] = (int64_t)(7 * i + 3);
        score[i] = 1.0 / (double)(i + 1);
    }
    assert_int_equal(0, cli(&g_srv, NULL, 0, "ZADD", "P:rank", "5", "999999"));
    assert_int_equal(0, store_put_ranking(st, "rank", ids, score, n));
    char out[256];
    assert_int_equal(0, cli(&g_srv, out, sizeof(out), "ZCARD", "P:rank", NULL, NULL));
    assert_string_equal("1203", out);
    assert_int_equal(0, cli(&g_srv, out, sizeof(out), "ZSCORE", "P:rank", "999999", NULL));
    assert_string_equal("", out); /* the old member is gone */
    assert_int_equal(0, cli(&g_srv, out, sizeof(out), "ZSCORE", "P:rank", "3", NULL));
    assert_string_equal("1", out);
    assert_int_equal(0, cli(&g_srv, out, sizeof(out), "ZSCORE", "P:rank", "8403", NULL)); /* i = 1200 */
    assert_true(strtod(out, NULL) == 1.0 / 1201.0);
    /* an empty ranking leaves an empty (absent) set */
    assert_int_equal(0, store_put_ranking(st, "rank", ids, score, 0));
    assert_int_equal(0, cli(&g_srv, out, sizeof(out), "EXISTS", "P:rank", NULL, NULL));
    assert_string_equal("0", out);
    store_close(st);
    store_opts_t m = test_opts();
    m.create = 1; /* a new in-process store */
    store_t *mem = store_open("mem://ranking", &m, NULL, NULL, 0, NULL);
    assert_non_null(mem);
    assert_int_equal(STORE_E_NOTSUP, store_put_ranking(mem, "rank", ids, score, n));
    store_close(mem);
    free(ids);
    free(score);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_accepts),
        cmocka_unit_test(t_ranking),
        cmocka_unit_test(t_password_in_url_refused),
        cmocka_unit_test(t_bad_urls),
        cmocka_unit_test(t_tcp_round_trip),
        cmocka_unit_test(t_unix_socket_db),
        cmocka_unit_test(t_tcp_db_path),
        cmocka_unit_test(t_requirepass),
        cmocka_unit_test(t_acl_user),
#if FINSIM_HAVE_TLS
        cmocka_unit_test(t_tls),
        cmocka_unit_test(t_tls_client_cert_required),
#else
        cmocka_unit_test(t_tls_unsupported),
#endif
        cmocka_unit_test(t_missing_keys),
        cmocka_unit_test(t_wrong_type),
        cmocka_unit_test(t_malformed_values),
        cmocka_unit_test(t_values_as_parsed_alone),
        cmocka_unit_test(t_connection_refused),
        cmocka_unit_test(t_timeout),
        cmocka_unit_test(t_server_killed_between_batches),
        cmocka_unit_test(t_dropped_connection_redone),
        cmocka_unit_test(t_server_killed_mid_call),
        cmocka_unit_test(t_results_round_trip),
        cmocka_unit_test(t_list_trades),
        cmocka_unit_test(t_prefix_isolation),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
