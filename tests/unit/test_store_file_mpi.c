/* test_store_file_mpi.c - the trade file under MPI-IO (run with mpirun -np 2
 * or 4): ranks write disjoint id ranges into one file, then each reads
 * another rank's window and checks it against gen_trade; results are
 * mirrored the same way; a file made by one rank with gaps in its ids is
 * read and written by all; a reservation extends an existing file, and its
 * rows that no rank writes read as "never written".
 *
 * usage: test_store_file_mpi [--keep DIR]   (--keep: write into DIR and
 * leave the files there, for the h5dump / h5py script test) */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "finsim/trade/gen.h"
#include "finsim/store/store.h"
#include "finsim/base/util.h"

#define SEED 4242ULL
#define FIRST 1000   /* first id of the parallel file */
#define N 4003       /* trades written in parallel (not a multiple of the ranks) */
#define EXT_GAP 10   /* ids skipped before the extension range */
#define EXT_N 1001   /* trades added by the extension */
#define EXT_SKIP 2   /* ids at the end of each rank's extension share left unwritten */
#define SPARSE_M 3000 /* trades (ids 0, 3, 6, ...) of the file made by one rank */

static int rank, nranks, fails;

#define CHECK(cond, ...)                                                                        \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fails++;                                                                            \
            fprintf(stderr, "[rank %d] %s:%d: check failed: %s: ", rank, __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fputc('\n', stderr);                                                                \
        }                                                                                       \
    } while (0)

/* Open path on MPI_COMM_WORLD with MPI-IO; NULL (and a failed check) on error. */
static store_t *popen_store(const char *path, int create, int readonly, int64_t first, int64_t count)
{
    store_opts_t so;
    memset(&so, 0, sizeof(so));
    so.create = create;
    so.readonly = readonly;
    so.collective = 1;
    so.expect_first = first;
    so.expect_count = count;
    MPI_Comm comm = MPI_COMM_WORLD;
    char err[256] = "";
    int code = 0;
    store_t *st = store_open(path, &so, &comm, err, sizeof(err), &code);
    CHECK(st != NULL, "open %s: %d %s", path, code, err);
    return st;
}

/* [lo, hi) of the share of rank r in first..first+n-1. */
static void share(int r, int64_t first, int64_t n, int64_t *lo, int64_t *hi)
{
    *lo = first + n * r / nranks;
    *hi = first + n * (r + 1) / nranks;
}

/* Field-by-field bit comparison; returns 1 when equal. */
static int same_trade(const trade_t *a, const trade_t *b)
{
    return !memcmp(&a->id, &b->id, 8) && !memcmp(&a->fx1, &b->fx1, 8) && !memcmp(&a->drift, &b->drift, 8) &&
           !memcmp(&a->maturity, &b->maturity, 8) && a->t_steps == b->t_steps && a->trials == b->trials &&
           !memcmp(&a->ro, &b->ro, 8) && !memcmp(&a->v, &b->v, 8) && !memcmp(&a->sigma1, &b->sigma1, 8) &&
           a->warrants_no == b->warrants_no && !memcmp(&a->notional_per_warr, &b->notional_per_warr, 8) &&
           !memcmp(&a->strike, &b->strike, 8) && !memcmp(a->start_date, b->start_date, 11) &&
           !memcmp(a->end_date, b->end_date, 11);
}

/* Write gen trades ids[0..n) in batches of batch. */
static void put_ids(store_t *st, const int64_t *ids, size_t n, size_t batch)
{
    trade_t *t = malloc(batch * sizeof(*t));
    for (size_t off = 0; off < n; off += batch) {
        size_t m = n - off < batch ? n - off : batch;
        for (size_t i = 0; i < m; i++)
            gen_trade(SEED, ids[off + i], &t[i]);
        int rc = store_put_trades(st, t, m);
        CHECK(rc == STORE_OK, "put_trades: %s", store_errstr(st));
    }
    free(t);
}

static void put_span(store_t *st, int64_t lo, int64_t hi, size_t batch)
{
    size_t n = (size_t)(hi - lo);
    int64_t *ids = malloc((n ? n : 1) * sizeof(*ids));
    for (size_t i = 0; i < n; i++)
        ids[i] = lo + (int64_t)i;
    put_ids(st, ids, n, batch);
    free(ids);
}

/* Read ids[0..n); each must equal gen_trade when want(id), else be
 * FS_E_NOT_FOUND. */
static void check_ids(store_t *st, const int64_t *ids, size_t n, int (*want)(int64_t))
{
    trade_slot_t *s = calloc(n ? n : 1, sizeof(*s));
    int rc = store_get_trades(st, ids, n, s);
    CHECK(rc == STORE_OK, "get_trades: %s", store_errstr(st));
    for (size_t i = 0; i < n && rc == STORE_OK; i++) {
        if (want(ids[i])) {
            trade_t w;
            gen_trade(SEED, ids[i], &w);
            CHECK(s[i].status == FS_OK && same_trade(&s[i].trade, &w), "trade %lld: status %d %s",
                  (long long)ids[i], s[i].status, s[i].msg);
        } else {
            CHECK(s[i].status == FS_E_NOT_FOUND, "trade %lld: status %d, expected not-found",
                  (long long)ids[i], s[i].status);
        }
    }
    free(s);
}

static int64_t g_lo, g_hi; /* ids expected present by want_span */
static int want_span(int64_t id) { return id >= g_lo && id < g_hi; }
static int want_mult3(int64_t id) { return id >= 0 && id % 3 == 0 && id < 3 * SPARSE_M; }

/* The result rank `writer` mirrors for trade id. */
static void make_result(int64_t id, int writer, result_t *r)
{
    result_fail(r, id, FS_OK, writer);
    r->pv = (double)id * 0.5 + writer;
    r->pv_stderr = 1.0 / (double)(id + 1);
    r->paths = id % 1000 + 1;
    r->compute_s = writer * 0.25;
}

/* Put results for ids[0..n) as rank writer. */
static void put_results_ids(store_t *st, const int64_t *ids, size_t n, int writer)
{
    result_t *r = malloc((n ? n : 1) * sizeof(*r));
    for (size_t i = 0; i < n; i++)
        make_result(ids[i], writer, &r[i]);
    int rc = store_put_results(st, r, n);
    CHECK(rc == STORE_OK, "put_results: %s", store_errstr(st));
    free(r);
}

/* Results of ids[0..n) must be bit for bit those rank writer put. */
static void check_results_ids(store_t *st, const int64_t *ids, size_t n, int writer)
{
    result_t *got = malloc((n ? n : 1) * sizeof(*got));
    int *found = malloc((n ? n : 1) * sizeof(*found));
    int rc = store_get_results(st, ids, n, got, found);
    CHECK(rc == STORE_OK, "get_results: %s", store_errstr(st));
    for (size_t i = 0; i < n && rc == STORE_OK; i++) {
        result_t w;
        make_result(ids[i], writer, &w);
        CHECK(found[i] && !memcmp(&got[i], &w, sizeof(w)), "result %lld: found %d, pv %g (want %g)",
              (long long)ids[i], found[i], got[i].pv, w.pv);
    }
    free(got);
    free(found);
}

/* ids lo..hi-1 into a new array. */
static int64_t *span_ids(int64_t lo, int64_t hi)
{
    int64_t *v = malloc((size_t)(hi - lo + 1) * sizeof(*v));
    for (int64_t i = lo; i < hi; i++)
        v[i - lo] = i;
    return v;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    char dir[512] = "";
    int keep = argc == 3 && strcmp(argv[1], "--keep") == 0;
    if (keep) {
        snprintf(dir, sizeof(dir), "%s", argv[2]);
    } else if (rank == 0) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof(dir), "%s/finsim-mpifile-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir))
            MPI_Abort(MPI_COMM_WORLD, 2);
    }
    MPI_Bcast(dir, sizeof(dir), MPI_CHAR, 0, MPI_COMM_WORLD);
    char path[600], sparse[600], noreserve[600];
    snprintf(path, sizeof(path), "%s/trades.h5", dir);
    snprintf(sparse, sizeof(sparse), "%s/sparse.h5", dir);
    snprintf(noreserve, sizeof(noreserve), "%s/noreserve.h5", dir);
    int next = (rank + 1) % nranks;
    int64_t lo, hi, nlo, nhi;
    share(rank, FIRST, N, &lo, &hi);
    share(next, FIRST, N, &nlo, &nhi);

    /* 1. every rank writes its share of a range reserved at open */
    store_t *st = popen_store(path, 1, 0, FIRST, N);
    if (st) {
        put_span(st, lo, hi, (size_t)(200 + 100 * rank)); /* ranks make different numbers of calls */
        if (rank == 0) {
            trade_t t;
            gen_trade(SEED, FIRST + N, &t);
            int rc = store_put_trades(st, &t, 1);
            CHECK(rc == STORE_E_USAGE && strstr(store_errstr(st), "expect_first"), "unreserved put: %d %s", rc,
                  store_errstr(st));
        }
        store_close(st);
    }

    /* 2. each rank reads the next rank's window (and ids around the range) */
    st = popen_store(path, 0, 1, 0, 0);
    if (st) {
        int64_t *ids = span_ids(nlo - 1, nhi + 1);
        g_lo = FIRST;
        g_hi = FIRST + N;
        check_ids(st, ids, (size_t)(nhi - nlo + 2), want_span);
        free(ids);
        CHECK(strstr(store_describe(st), "MPI-IO") != NULL, "describe: %s", store_describe(st));
        if (rank == 0) {
            int64_t *all = NULL;
            size_t n = 0;
            int rc = store_list_trades(st, &all, &n);
            CHECK(rc == STORE_OK && n == N, "list: %d, %zu ids", rc, n);
            for (size_t i = 0; rc == STORE_OK && i < n; i++)
                if (all[i] != FIRST + (int64_t)i) {
                    CHECK(0, "list[%zu] = %lld", i, (long long)all[i]);
                    break;
                }
            free(all);
        }
        store_close(st);
    }

    /* 3. results: each rank mirrors its window; each reads the next one's */
    st = popen_store(path, 0, 0, 0, 0);
    if (st) {
        int64_t *ids = span_ids(lo, hi);
        put_results_ids(st, ids, (size_t)(hi - lo), rank);
        free(ids);
        store_close(st);
    }
    st = popen_store(path, 0, 1, 0, 0);
    if (st) {
        int64_t *ids = span_ids(nlo, nhi);
        check_results_ids(st, ids, (size_t)(nhi - nlo), next);
        free(ids);
        store_close(st);
    }

    /* 4. a file made by one rank, ids 0, 3, 6, ...: all ranks read (binary
     * search), overwrite and mirror in it; new ids are refused */
    if (rank == 0) {
        store_opts_t so;
        memset(&so, 0, sizeof(so));
        so.create = 1;
        char err[256];
        int code;
        store_t *one = store_open(sparse, &so, NULL, err, sizeof(err), &code);
        CHECK(one != NULL, "serial create: %s", err);
        if (one) {
            int64_t *ids = malloc(SPARSE_M * sizeof(*ids));
            for (int i = 0; i < SPARSE_M; i++)
                ids[i] = 3 * (int64_t)i;
            put_ids(one, ids, SPARSE_M, 700);
            free(ids);
            store_close(one);
        }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    int64_t slo, shi, snlo, snhi;
    share(rank, 0, 3 * SPARSE_M, &slo, &shi);
    share(next, 0, 3 * SPARSE_M, &snlo, &snhi);
    st = popen_store(sparse, 0, 0, 0, 0);
    if (st) {
        int64_t *ids = span_ids(snlo, snhi + 2);
        check_ids(st, ids, (size_t)(snhi + 2 - snlo), want_mult3);
        free(ids);
        size_t m = 0;
        ids = malloc((size_t)(shi - slo + 1) * sizeof(*ids));
        for (int64_t id = slo; id < shi; id++)
            if (id % 3 == 0)
                ids[m++] = id;
        put_ids(st, ids, m, 64); /* overwrite in place */
        put_results_ids(st, ids, m, rank);
        free(ids);
        trade_t t;
        gen_trade(SEED, 3 * (int64_t)rank + 1, &t);
        int rc = store_put_trades(st, &t, 1);
        CHECK(rc == STORE_E_USAGE, "insert under MPI-IO: %d %s", rc, store_errstr(st));
        store_close(st);
    }
    st = popen_store(sparse, 0, 1, 0, 0);
    if (st) {
        size_t m = 0;
        int64_t *ids = malloc((size_t)(snhi - snlo + 1) * sizeof(*ids));
        for (int64_t id = snlo; id < snhi; id++)
            if (id % 3 == 0)
                ids[m++] = id;
        check_results_ids(st, ids, m, next);
        free(ids);
        store_close(st);
    }

    /* 5. extend the parallel file: a reservation after a gap, written by all
     * but the last EXT_SKIP ids of each rank's share (reserved, never written) */
    int64_t efirst = FIRST + N + EXT_GAP, elo, ehi;
    share(rank, efirst, EXT_N, &elo, &ehi);
    st = popen_store(path, 0, 0, efirst, EXT_N);
    if (st) {
        put_span(st, elo, ehi - EXT_SKIP, 333);
        store_close(st);
    }
    st = popen_store(path, 0, 1, 0, 0);
    if (st) {
        int64_t *ids = span_ids(FIRST + N - 2, efirst + EXT_N + 1); /* old tail, gap, new range, past it */
        g_lo = FIRST;
        g_hi = efirst + EXT_N;
        size_t n = (size_t)(efirst + EXT_N + 1 - (FIRST + N - 2));
        trade_slot_t *s = calloc(n, sizeof(*s));
        int rc = store_get_trades(st, ids, n, s);
        CHECK(rc == STORE_OK, "get after extension: %s", store_errstr(st));
        for (size_t i = 0; rc == STORE_OK && i < n; i++) {
            int in_gap = ids[i] >= FIRST + N && ids[i] < efirst;
            int unwritten = 0;
            for (int r = 0; r < nranks; r++) {
                int64_t a, b;
                share(r, efirst, EXT_N, &a, &b);
                unwritten |= ids[i] >= b - EXT_SKIP && ids[i] < b;
            }
            int present = want_span(ids[i]) && !in_gap && !unwritten;
            trade_t w;
            gen_trade(SEED, ids[i], &w);
            CHECK(present ? s[i].status == FS_OK && same_trade(&s[i].trade, &w) : s[i].status == FS_E_NOT_FOUND,
                  "after extension, trade %lld: status %d %s", (long long)ids[i], s[i].status, s[i].msg);
            CHECK(!unwritten || strstr(s[i].msg, "never written"), "trade %lld: %s", (long long)ids[i], s[i].msg);
        }
        free(s);
        free(ids);
        if (rank == 0) {
            int64_t *all = NULL;
            size_t m = 0;
            rc = store_list_trades(st, &all, &m);
            CHECK(rc == STORE_OK && m == N + EXT_N - (size_t)(EXT_SKIP * nranks), "list after extension: %zu", m);
            free(all);
        }
        /* the earlier results survived the extension */
        ids = span_ids(nlo, nhi);
        check_results_ids(st, ids, (size_t)(nhi - nlo), next);
        free(ids);
        store_close(st);
    }

    /* 6. without a reservation, several ranks cannot add trades */
    st = popen_store(noreserve, 1, 0, 0, 0);
    if (st) {
        trade_t t;
        gen_trade(SEED, rank, &t);
        int rc = store_put_trades(st, &t, 1);
        CHECK(rc == STORE_E_USAGE && strstr(store_errstr(st), "expect_count"), "no reservation: %d %s", rc, store_errstr(st));
        store_close(st);
    }

    int total = 0;
    MPI_Allreduce(&fails, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("test_store_file_mpi: %d ranks, %d failed checks\n", nranks, total);
        if (!keep)
            nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    MPI_Finalize();
    return total ? 1 : 0;
}
