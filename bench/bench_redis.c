/* bench_redis.c - throughput of the Redis trade store: put_trades (format +
 * pipelined MSET) and get_trades (pipelined MGET + parse) for N generated
 * trades, the way the generator and `finsim run` call the store (chunks of
 * ids, the store batching them).
 *
 * Usage: bench_redis URL N [BATCH [CHUNK]]
 *   URL    redis://..., rediss://... (FINSIM_REDIS_CA for the CA file) or unix://...
 *   N      trades (ids 0..N-1)
 *   BATCH  keys per pipelined batch (store option; default 1000)
 *   CHUNK  trades per store call (default 10000)
 * Prints one line per phase with trades/s and MB/s, and exits non-zero when
 * any trade does not read back identical. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "finsim/cmd/exit.h"
#include "finsim/trade/gen.h"
#include "finsim/store/store.h"
#include "finsim/base/util.h"

/* Parse a positive integer argument or exit with usage status 2. */
static long arg_long(const char *s, const char *what)
{
    int64_t v;
    if (fs_parse_i64(s, &v) != 0 || v <= 0) {
        fprintf(stderr, "bench_redis: %s must be a positive integer, got '%s'\n", what, s);
        exit(2);
    }
    return (long)v;
}

/* CPU seconds (user + system) this process has used. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: bench_redis URL N [BATCH [CHUNK]]\n");
        return 2;
    }
    const char *url = argv[1];
    size_t n = (size_t)arg_long(argv[2], "N");
    store_opts_t o;
    memset(&o, 0, sizeof(o));
    o.batch = argc > 3 ? (int)arg_long(argv[3], "BATCH") : 1000;
    size_t chunk = argc > 4 ? (size_t)arg_long(argv[4], "CHUNK") : 10000;
    o.tls_ca_file = getenv("FINSIM_REDIS_CA");
    o.password = getenv("FINSIM_REDIS_PASSWORD");

    char err[256];
    int code = 0;
    store_t *st = store_open(url, &o, NULL, err, sizeof(err), &code);
    if (!st) {
        fprintf(stderr, "bench_redis: %s\n", err);
        return fs_exit_for_store_err(code);
    }

    trade_t *t = xmalloc(n * sizeof(*t));
    int64_t *ids = xmalloc(n * sizeof(*ids));
    trade_slot_t *slots = xmalloc(chunk * sizeof(*slots));
    double t0 = fs_now();
    for (size_t i = 0; i < n; i++) {
        gen_trade(1, (int64_t)i, &t[i]);
        ids[i] = (int64_t)i;
    }
    double gen_s = fs_now() - t0;
    double bytes = 0;
    char doc[2048];
    for (size_t i = 0; i < n && i < 1000; i++)
        bytes += trade_format(&t[i], doc, sizeof(doc));
    bytes = bytes / (double)(n < 1000 ? n : 1000) * (double)n;

    t0 = fs_now();
    double c0 = cpu_s();
    for (size_t i = 0; i < n; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        if (store_put_trades(st, t + i, k) != 0) {
            fprintf(stderr, "bench_redis: put: %s\n", store_errstr(st));
            return fs_exit_for_store_err(store_errcode(st));
        }
    }
    double put_s = fs_now() - t0;
    double put_cpu = cpu_s() - c0;

    size_t bad = 0;
    t0 = fs_now();
    c0 = cpu_s();
    double parse0 = store_stats(st)->parse_s;
    for (size_t i = 0; i < n; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        if (store_get_trades(st, ids + i, k, slots) != 0) {
            fprintf(stderr, "bench_redis: get: %s\n", store_errstr(st));
            return fs_exit_for_store_err(store_errcode(st));
        }
        for (size_t j = 0; j < k; j++)
            if (slots[j].status != FS_OK || slots[j].trade.id != t[i + j].id ||
                slots[j].trade.fx1 != t[i + j].fx1 || slots[j].trade.strike != t[i + j].strike)
                bad++;
    }
    double get_s = fs_now() - t0;
    double get_cpu = cpu_s() - c0;
    double parse_s = store_stats(st)->parse_s - parse0;

    printf("store    %s  batch %d  chunk %zu  trades %zu  (%.0f bytes/trade)\n", store_describe(st), store_batch(st),
           chunk, n, bytes / (double)n);
    printf("generate %8.3f s  %10.0f trades/s  (gen_trade only)\n", gen_s, (double)n / gen_s);
    printf("put      %8.3f s  %10.0f trades/s  %7.1f MB/s  (format + MSET; client cpu %.3f s)\n", put_s,
           (double)n / put_s, bytes / put_s / 1e6, put_cpu);
    printf("get      %8.3f s  %10.0f trades/s  %7.1f MB/s  (MGET + parse; client cpu %.3f s, parse %.3f s)\n",
           get_s, (double)n / get_s, bytes / get_s / 1e6, get_cpu, parse_s);
    printf("roundtrips %lld  mismatches %zu\n", (long long)store_stats(st)->round_trips, bad);
    store_close(st);
    free(slots);
    free(ids);
    free(t);
    return bad ? 1 : 0;
}
