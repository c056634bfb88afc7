/* test_redis_slot.c - the Redis Cluster hash slot of src/store/redis/cluster.c
 * against a real cluster-enabled redis-server's CLUSTER KEYSLOT, on 10^4
 * keys: trade and result keys under prefixes, hash tags ({...}, empty {},
 * unmatched braces, tags in the middle), random bytes (NUL, 0xff, '{', '}'). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "fixture.h"

#include "finsim/trade/trade.h"

/* from src/store/redis/redis.h (private to the store) */
uint16_t redis_crc16(const char *buf, size_t len);
int redis_key_slot(const char *key, size_t len);

#define NKEYS 10000

static fx_redis_t srv;

static int setup(void **state)
{
    (void)state;
    const char *args[] = {"--cluster-enabled", "yes", NULL};
    return fx_redis_start(&srv, args);
}

static int teardown(void **state)
{
    (void)state;
    fx_redis_stop(&srv);
    return 0;
}

static void test_crc16_vector(void **state)
{
    (void)state;
    assert_int_equal(redis_crc16("123456789", 9), 0x31C3); /* CRC16-XMODEM check value */
    assert_int_equal(redis_key_slot("foo", 3), 12182);      /* Redis Cluster spec examples */
    assert_int_equal(redis_key_slot("{user1000}.following", 20), redis_key_slot("user1000", 8));
    assert_int_equal(redis_key_slot("foo{}{bar}", 10), redis_key_slot("foo{}{bar}", 10));
    assert_int_equal(redis_key_slot("foo{{bar}}zap", 13), redis_key_slot("{bar", 4));
    assert_int_equal(redis_key_slot("foo{bar}{zap}", 13), redis_key_slot("bar", 3));
}

/* Key number i: one of several shapes, deterministic. */
static size_t make_key(char *buf, size_t cap, unsigned i, unsigned *rng)
{
    static const char *const prefixes[] = {"", "p:", "{pf}", "a{b}c:", "{}x", "x{", "}{y}"};
    const char *pre = prefixes[i % 7];
    int kl;
    switch (i % 4) {
    case 0:
        kl = trade_key(buf, cap, pre, (int64_t)i * 7919);
        break;
    case 1:
        kl = trade_result_key(buf, cap, pre, (int64_t)i);
        break;
    case 2:
        kl = snprintf(buf, cap, "%s{tag%u}rest%u", pre, i % 97, i);
        break;
    default: { /* random bytes, braces more often than chance */
        size_t n = 1 + (*rng = *rng * 1103515245u + 12345u) % 40;
        for (size_t k = 0; k < n; k++) {
            unsigned v = (*rng = *rng * 1103515245u + 12345u) >> 16;
            buf[k] = v % 5 == 0 ? '{' : v % 5 == 1 ? '}' : (char)(v & 0xff);
        }
        kl = (int)n;
    }
    }
    assert_true(kl > 0 && (size_t)kl < cap);
    return (size_t)kl;
}

static void test_keyslot_vs_server(void **state)
{
    (void)state;
    redisContext *c = redisConnect("127.0.0.1", srv.port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    static char keys[NKEYS][400];
    static size_t lens[NKEYS];
    unsigned rng = 12345;
    for (unsigned i = 0; i < NKEYS; i++) {
        lens[i] = make_key(keys[i], sizeof(keys[i]), i, &rng);
        const char *argv[3] = {"CLUSTER", "KEYSLOT", keys[i]};
        size_t argl[3] = {7, 7, lens[i]};
        assert_int_equal(redisAppendCommandArgv(c, 3, argv, argl), REDIS_OK);
    }
    int bad = 0;
    for (unsigned i = 0; i < NKEYS; i++) {
        redisReply *r = NULL;
        assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
        assert_int_equal(r->type, REDIS_REPLY_INTEGER);
        int mine = redis_key_slot(keys[i], lens[i]);
        if (mine != (int)r->integer && bad++ < 5)
            fprintf(stderr, "key %u (%zu bytes): slot %d here, %lld in redis\n", i, lens[i], mine, r->integer);
        freeReplyObject(r);
    }
    redisFree(c);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16_vector),
        cmocka_unit_test(test_keyslot_vs_server),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
