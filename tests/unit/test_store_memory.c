/* test_store_memory.c - the in-process store mem://NAME: round trips, absent
 * keys, named-store sharing, key prefixes as namespaces, drop. */
#include "fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finsim/trade/gen.h"
#include "finsim/store/store.h"
#include "finsim/base/util.h"

#define SEED 77ULL

/* Open url (create/readonly/prefix as given); fails the test on error. */
static store_t *mem_open_ok(const char *url, int create, int readonly, const char *prefix)
{
    store_opts_t so;
    memset(&so, 0, sizeof(so));
    so.create = create;
    so.readonly = readonly;
    so.key_prefix = prefix;
    char err[256] = "";
    int code = 0;
    store_t *st = store_open(url, &so, NULL, err, sizeof(err), &code);
    if (!st)
        fail_msg("store_open(%s): %d %s", url, code, err);
    assert_string_equal(store_backend_name(st), "memory");
    return st;
}

/* Put generated trades first..first+n-1 in reverse order. */
static void put_range_rev(store_t *st, int64_t first, size_t n)
{
    trade_t *t = malloc(n * sizeof(*t));
    for (size_t i = 0; i < n; i++)
        gen_trade(SEED, first + (int64_t)(n - 1 - i), &t[i]);
    assert_int_equal(store_put_trades(st, t, n), STORE_OK);
    free(t);
}

/* Trades read back equal (memcmp per field) what was put; absent ids give
 * FS_E_NOT_FOUND naming the key (with the prefix). */
static void t_roundtrip(void **state)
{
    store_t *st = mem_open_ok("mem://rt", 1, 0, "p:");
    put_range_rev(st, 100, 500);
    int64_t ids[4] = {100, 599, 350, 600};
    trade_slot_t s[4];
    assert_int_equal(store_get_trades(st, ids, 4, s), STORE_OK);
    for (int i = 0; i < 3; i++) {
        trade_t want;
        gen_trade(SEED, ids[i], &want);
        assert_int_equal(s[i].status, FS_OK);
        assert_memory_equal(&s[i].trade.fx1, &want.fx1, sizeof(want.fx1));
        assert_memory_equal(&s[i].trade.drift, &want.drift, sizeof(want.drift));
        assert_memory_equal(&s[i].trade.sigma1, &want.sigma1, sizeof(want.sigma1));
        assert_memory_equal(&s[i].trade.strike, &want.strike, sizeof(want.strike));
        assert_memory_equal(&s[i].trade.notional_per_warr, &want.notional_per_warr, sizeof(want.strike));
        assert_int_equal(s[i].trade.warrants_no, want.warrants_no);
        assert_int_equal(s[i].trade.id, want.id);
        assert_string_equal(s[i].trade.end_date, want.end_date);
    }
    assert_int_equal(s[3].status, FS_E_NOT_FOUND);
    assert_non_null(strstr(s[3].msg, "p:ey0000600.xml"));
    store_close(st);
    assert_int_equal(store_memory_drop("rt"), 0);
}

/* Results keep every bit (NaN Greeks included); found only where put. */
static void t_results(void **state)
{
    store_t *st = mem_open_ok("mem://res", 1, 0, NULL);
    result_t r[2];
    result_fail(&r[0], 5, FS_OK, 2);
    r[0].pv = 1.5;
    uint64_t payload = 0xfff8000000001234ULL;
    memcpy(&r[0].vega, &payload, sizeof(payload));
    result_fail(&r[1], 6, FS_E_PARSE, 0);
    assert_int_equal(store_put_results(st, r, 2), STORE_OK);
    r[0].pv = 2.5; /* overwrite */
    assert_int_equal(store_put_results(st, r, 1), STORE_OK);
    int64_t ids[3] = {6, 7, 5};
    result_t got[3];
    int found[3] = {-1, -1, -1};
    assert_int_equal(store_get_results(st, ids, 3, got, found), STORE_OK);
    assert_int_equal(found[0], 1);
    assert_int_equal(found[1], 0);
    assert_int_equal(found[2], 1);
    assert_memory_equal(&got[2], &r[0], sizeof(result_t));
    assert_memory_equal(&got[0], &r[1], sizeof(result_t));
    assert_true(got[2].pv == 2.5);
    assert_int_equal(got[1].status, FS_E_NOT_FOUND);
    store_close(st);
    store_memory_drop("res");
}

/* Generating into mem://x and opening mem://x again sees the same data;
 * another name and another prefix do not; create empties. */
static void t_sharing(void **state)
{
    store_t *a = mem_open_ok("mem://shared", 1, 0, NULL);
    put_range_rev(a, 0, 10);
    store_close(a);
    store_t *b = mem_open_ok("mem://shared", 0, 1, NULL);
    int64_t *ids = NULL;
    size_t n = 0;
    assert_int_equal(store_list_trades(b, &ids, &n), STORE_OK);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ids[i], (int64_t)i); /* sorted although put in reverse */
    free(ids);
    store_t *c = mem_open_ok("mem://shared", 0, 0, "other:");
    assert_int_equal(store_list_trades(c, &ids, &n), STORE_OK);
    assert_int_equal(n, 0);
    free(ids);
    store_close(c);
    char err[256];
    int code = 0;
    store_opts_t so;
    memset(&so, 0, sizeof(so));
    assert_null(store_open("mem://elsewhere", &so, NULL, err, sizeof(err), &code));
    assert_int_equal(code, STORE_E_NOTFOUND);
    assert_non_null(strstr(err, "mem://elsewhere"));
    /* read-only handles refuse writes */
    trade_t t;
    gen_trade(SEED, 99, &t);
    assert_int_equal(store_put_trades(b, &t, 1), STORE_E_USAGE);
    store_close(b);
    store_t *d = mem_open_ok("mem://shared", 1, 0, NULL);
    assert_int_equal(store_list_trades(d, &ids, &n), STORE_OK);
    assert_int_equal(n, 0);
    free(ids);
    store_close(d);
    assert_int_equal(store_memory_drop("shared"), 0);
}

/* drop forgets the store; an open handle keeps working until closed;
 * dropping an unknown name is -1. */
static void t_drop(void **state)
{
    store_t *a = mem_open_ok("mem://gone", 1, 0, NULL);
    put_range_rev(a, 0, 3);
    assert_int_equal(store_memory_drop("gone"), 0);
    int64_t id = 1;
    trade_slot_t s;
    assert_int_equal(store_get_trades(a, &id, 1, &s), STORE_OK);
    assert_int_equal(s.status, FS_OK);
    store_close(a);
    char err[256];
    int code = 0;
    store_opts_t so;
    memset(&so, 0, sizeof(so));
    assert_null(store_open("mem://gone", &so, NULL, err, sizeof(err), &code));
    assert_int_equal(code, STORE_E_NOTFOUND);
    assert_int_equal(store_memory_drop("gone"), -1);
    assert_int_equal(store_memory_drop("never-made"), -1);
    /* a fresh store of the same name starts empty */
    a = mem_open_ok("mem://gone", 1, 0, NULL);
    assert_int_equal(store_get_trades(a, &id, 1, &s), STORE_OK);
    assert_int_equal(s.status, FS_E_NOT_FOUND);
    store_close(a);
    assert_int_equal(store_memory_drop("gone"), 0);
    assert_null(store_open("mem://", &so, NULL, err, sizeof(err), &code));
    assert_int_equal(code, STORE_E_USAGE);
}

/* Many ids (forces several hash-table growths) and invalid trades come
 * back with the validation status. */
static void t_many_and_invalid(void **state)
{
    store_t *st = mem_open_ok("mem://many", 1, 0, NULL);
    put_range_rev(st, 1000, 5000);
    trade_t bad;
    gen_trade(SEED, 7, &bad);
    bad.sigma1 = -1;
    assert_int_equal(store_put_trades(st, &bad, 1), STORE_OK);
    int64_t ids[3] = {7, 1000, 5999};
    trade_slot_t s[3];
    assert_int_equal(store_get_trades(st, ids, 3, s), STORE_OK);
    assert_int_equal(s[0].status, FS_E_DOMAIN);
    assert_non_null(strstr(s[0].msg, "sigma1"));
    assert_int_equal(s[1].status, FS_OK);
    assert_int_equal(s[2].status, FS_OK);
    int64_t *all = NULL;
    size_t n = 0;
    assert_int_equal(store_list_trades(st, &all, &n), STORE_OK);
    assert_int_equal(n, 5001);
    assert_int_equal(all[0], 7);
    assert_int_equal(all[5000], 5999);
    free(all);
    store_close(st);
    store_memory_drop("many");
}

static void t_redact_url(void **state)
{
    char b[256];
    assert_string_equal(store_redact_url("redis://u:pw@h:1/0", b, sizeof(b)), "redis://u:<redacted>@h:1/0");
    assert_string_equal(store_redact_url("rediss://:p@ss@h:6380", b, sizeof(b)), "rediss://:<redacted>@h:6380");
    assert_string_equal(store_redact_url("redis://user@h:1", b, sizeof(b)), "redis://user@h:1");
    assert_string_equal(store_redact_url("/tmp/a:b@c.h5", b, sizeof(b)), "/tmp/a:b@c.h5");
    /* a Redis URL holds no '@' but the user info's, and a password pasted
     * unencoded may hold '/', '?', '#' or '@': redacted up to the last '@' */
    assert_string_equal(store_redact_url("redis://u:pa/ss@h:1", b, sizeof(b)), "redis://u:<redacted>@h:1");
    assert_string_equal(store_redact_url("REDISS://u:p?w#d@h", b, sizeof(b)), "REDISS://u:<redacted>@h");
    assert_string_equal(store_redact_url("redis://h:1/0?x=a@b", b, sizeof(b)), "redis://h:<redacted>@b");
    assert_string_equal(store_redact_url("unix:///run/a:b@c.sock", b, sizeof(b)), "unix:///run/a:b@c.sock");
    /* the password percent-encoded after the user: "%3A" is the ':' */
    assert_string_equal(store_redact_url("redis://u%3Apw@h:1", b, sizeof(b)), "redis://u:<redacted>@h:1");
    assert_string_equal(store_redact_url("rediss://u%3apw@h", b, sizeof(b)), "rediss://u:<redacted>@h");
    assert_string_equal(store_redact_url("redis://u%40x@h:1", b, sizeof(b)), "redis://u%40x@h:1");
    /* connection strings pasted from a portal: every secret value, any case */
    assert_string_equal(store_redact_url("h.redis.cache.windows.net:6380,password=KEY=,ssl=True,abortConnect=False",
                                         b, sizeof(b)),
                        "h.redis.cache.windows.net:6380,password=<redacted>,ssl=True,abortConnect=False");
    assert_string_equal(store_redact_url("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=K/+=;"
                                         "EndpointSuffix=core.windows.net", b, sizeof(b)),
                        "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=<redacted>;"
                        "EndpointSuffix=core.windows.net");
    assert_string_equal(store_redact_url("BlobEndpoint=https://a/;SharedAccessSignature=sv=2020&ss=b&sig=S%2B", b,
                                         sizeof(b)),
                        "BlobEndpoint=https://a/;SharedAccessSignature=<redacted>");
    assert_string_equal(store_redact_url("https://a.blob/c?sv=2020&sig=abc&se=1", b, sizeof(b)),
                        "https://a.blob/c?sv=2020&sig=<redacted>&se=1");
    assert_string_equal(store_redact_url("h:1, PASSWORD=x", b, sizeof(b)), "h:1, PASSWORD=<redacted>");
    assert_int_equal(store_url_has_secret("h:6380,key=x"), 1);
    assert_int_equal(store_url_has_secret("/data/monkey=1.h5"), 0); /* not after a separator */
    assert_int_equal(store_url_has_secret("redis://h:6379/0"), 0);
    assert_int_equal(store_url_has_secret("trades.h5"), 0);
    /* a buffer too small still ends with a NUL and leaks nothing */
    char small[24];
    store_redact_url("h:6380,password=SECRETSECRETSECRET", small, sizeof(small));
    assert_null(strstr(small, "SECRET"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_roundtrip),
        cmocka_unit_test(t_results),
        cmocka_unit_test(t_sharing),
        cmocka_unit_test(t_drop),
        cmocka_unit_test(t_many_and_invalid),
        cmocka_unit_test(t_redact_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
