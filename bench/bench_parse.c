/* bench_parse - nanoseconds per trade on generated one-trade documents (the
 * documents a Redis store holds), best of REPEATS passes, two ways: each
 * document parsed alone (trade_parse), and trade_parse_batch over batches of
 * BATCH documents (the path the Redis store's reads take, with its default
 * batch of 1000 keys).
 *   bench_parse [TRADES [REPEATS [BATCH]]]      (defaults 100000, 5, 1000)
 * Prints figures (wall time, and the process CPU time, which a busy shared
 * machine disturbs less); checks only that every trade parsed. Not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "finsim/base/util.h"
#include "finsim/trade/gen.h"
#include "finsim/trade/trade.h"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int count_ok(void *ctx, const trade_t *t, int status, const char *msg)
{
    (void)t;
    (void)msg;
    if (status == FS_OK)
        ++*(long *)ctx;
    return 0;
}

static void count_doc(void *ctx, size_t i, const trade_t *t, int status, const char *msg)
{
    (void)i;
    count_ok(ctx, t, status, msg);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000, reps = argc > 2 ? atol(argv[2]) : 5;
    long batch = argc > 3 ? atol(argv[3]) : 1000;
    if (n < 1 || reps < 1 || batch < 1) {
        fprintf(stderr, "usage: bench_parse [TRADES [REPEATS [BATCH]]]\n");
        return 2;
    }
    char *text = xmalloc((size_t)n * GEN_DOC_MAX);
    size_t *off = xmalloc(sizeof(*off) * (size_t)(n + 1));
    off[0] = 0;
    for (long i = 0; i < n; i++) {
        trade_t t;
        off[i + 1] = off[i] + (size_t)gen_trade_doc(1, i, &t, text + off[i], GEN_DOC_MAX);
    }
    size_t shared = 0; /* documents of the last batch pass read in shared runs */
    for (int way = 0; way < 2; way++) {
        double best = 1e30, best_cpu = 1e30;
        for (long r = 0; r < reps; r++) {
            long ok = 0;
            shared = 0;
            double t0 = fs_now(), c0 = cpu_now();
            if (way == 0)
                for (long i = 0; i < n; i++)
                    trade_parse(text + off[i], off[i + 1] - off[i], count_ok, &ok);
            else
                for (long i = 0; i < n; i += batch)
                    shared += trade_parse_batch(text, off + i, (size_t)(n - i < batch ? n - i : batch), count_doc, &ok);
            double dt = fs_now() - t0, dc = cpu_now() - c0;
            if (dc < best_cpu)
                best_cpu = dc;
            if (ok != n) {
                fprintf(stderr, "bench_parse: %ld of %ld trades parsed\n", ok, n);
                return 1;
            }
            if (dt < best)
                best = dt;
        }
        if (way == 0)
            printf("trade_parse: %.0f ns/trade wall, %.0f ns/trade CPU (each document alone; best of %ld passes over "
                   "%ld documents, %.0f bytes each on average)\n",
                   best / (double)n * 1e9, best_cpu / (double)n * 1e9, reps, n, (double)off[n] / (double)n);
        else
            printf("trade_parse_batch: %.0f ns/trade wall, %.0f ns/trade CPU (batches of %ld documents, as the Redis "
                   "store reads them, %zu of %ld documents in shared runs; best of %ld passes)\n",
                   best / (double)n * 1e9, best_cpu / (double)n * 1e9, batch, shared, n, reps);
    }
    free(text);
    free(off);
    return 0;
}
