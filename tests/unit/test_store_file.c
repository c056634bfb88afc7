/* test_store_file.c - the HDF5 trade file store, one process, real files in a
 * temp dir: round trips bit for bit, windows, absent ids, inserts, the result
 * mirror, reservations, and the errors for missing, foreign, damaged and
 * unwritable files. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "finsim/cmd/exit.h"
#include "finsim/trade/gen.h"
#include "finsim/store/store.h"
#include "finsim/trade/trade.h"
#include "finsim/base/util.h"

#define SEED 20240601ULL

static char tmp[256]; /* per-run temp dir */

/* Remove one entry (nftw callback, depth first). */
static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int setup_dir(void **state)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp, sizeof(tmp), "%s/finsim-file-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(tmp));
    return 0;
}

static int teardown_dir(void **state)
{
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* tmp/name into buf. */
static const char *path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmp, name);
    return buf;
}

/* Open url with the given mode flags; fails the test when it cannot. */
static store_t *open_ok(const char *url, int create, int readonly)
{
    store_opts_t so;
    memset(&so, 0, sizeof(so));
    so.create = create;
    so.readonly = readonly;
    char err[256] = "";
    int code = 0;
    store_t *st = store_open(url, &so, NULL, err, sizeof(err), &code);
    if (!st)
        fail_msg("store_open(%s) failed: %d %s", url, code, err);
    assert_string_equal(store_backend_name(st), "file");
    return st;
}

/* Open that must fail: returns the code, message in err. */
static int open_err(const char *url, int create, int readonly, char *err, size_t errlen)
{
    store_opts_t so;
    memset(&so, 0, sizeof(so));
    so.create = create;
    so.readonly = readonly;
    int code = 0;
    err[0] = '\0';
    store_t *st = store_open(url, &so, NULL, err, errlen, &code);
    if (st) {
        store_close(st);
        fail_msg("store_open(%s) succeeded, expected an error", url);
    }
    assert_int_not_equal(code, STORE_OK);
    return code;
}

/* Every field of a and b bit for bit (memcmp per field, dates as bytes). */
static void assert_trade_equal(const trade_t *a, const trade_t *b)
{
#define FIELD(f)                                                                     \
    do {                                                                             \
        if (memcmp(&a->f, &b->f, sizeof(a->f)) != 0)                                 \
            fail_msg("trade %lld: field " #f " differs", (long long)a->id);         \
    } while (0)
    FIELD(id);
    FIELD(fx1);
    FIELD(drift);
    FIELD(maturity);
    FIELD(t_steps);
    FIELD(trials);
    FIELD(ro);
    FIELD(v);
    FIELD(sigma1);
    FIELD(warrants_no);
    FIELD(notional_per_warr);
    FIELD(strike);
    FIELD(start_date);
    FIELD(end_date);
#undef FIELD
}

/* Put generated trades ids[0..n) in batches of batch. */
static void put_gen(store_t *st, const int64_t *ids, size_t n, size_t batch)
{
    trade_t *t = malloc(batch * sizeof(*t));
    for (size_t off = 0; off < n; off += batch) {
        size_t m = n - off < batch ? n - off : batch;
        for (size_t i = 0; i < m; i++)
            gen_trade(SEED, ids[off + i], &t[i]);
        int rc = store_put_trades(st, t, m);
        if (rc != STORE_OK)
            fail_msg("put_trades: %s", store_errstr(st));
    }
    free(t);
}

/* Put generated trades first..first+n-1. */
static void put_range(store_t *st, int64_t first, size_t n, size_t batch)
{
    int64_t *ids = malloc(n * sizeof(*ids));
    for (size_t i = 0; i < n; i++)
        ids[i] = first + (int64_t)i;
    put_gen(st, ids, n, batch);
    free(ids);
}

/* Get ids[0..n) and check each against gen_trade (all must be present). */
static void check_gen(store_t *st, const int64_t *ids, size_t n)
{
    trade_slot_t *s = calloc(n, sizeof(*s));
    assert_int_equal(store_get_trades(st, ids, n, s), STORE_OK);
    for (size_t i = 0; i < n; i++) {
        if (s[i].status != FS_OK)
            fail_msg("trade %lld: status %d (%s)", (long long)ids[i], s[i].status, s[i].msg);
        trade_t want;
        gen_trade(SEED, ids[i], &want);
        assert_trade_equal(&s[i].trade, &want);
    }
    free(s);
}

/* ---- tests ---------------------------------------------------------------------- */

/* 300 trades written in three batches read back bit for bit after a reopen,
 * through a file:// URL, with parse time accounted. */
static void t_roundtrip(void **state)
{
    char path[512], url[600];
    path_of(path, sizeof(path), "rt.h5");
    store_t *st = open_ok(path, 1, 0);
    put_range(st, 0, 300, 100);
    store_close(st);
    snprintf(url, sizeof(url), "file://%s", path);
    st = open_ok(url, 0, 1);
    int64_t ids[300];
    for (int i = 0; i < 300; i++)
        ids[i] = i;
    double parse0 = store_stats(st)->parse_s;
    check_gen(st, ids, 300);
    assert_true(store_stats(st)->parse_s > parse0);
    assert_non_null(strstr(store_describe(st), "300 rows"));
    store_close(st);
}

/* A window in the middle of a 20000-trade file crossing a chunk boundary,
 * in shuffled order with repeats; the rows around it are untouched. */
static void t_window_middle(void **state)
{
    char path[512];
    path_of(path, sizeof(path), "win.h5");
    store_t *st = open_ok(path, 1, 0);
    put_range(st, 5000, 20000, 1000);
    store_close(st);
    st = open_ok(path, 0, 1);
    int64_t ids[600];
    for (int i = 0; i < 600; i++)
        ids[i] = 5000 + 8000 + (int64_t)((i * 7919) % 500); /* rows 8000..8499, shuffled */
    ids[599] = ids[0];                                     /* a repeat */
    check_gen(st, ids, 600);
    int64_t edges[3] = {5000, 24999, 13192};
    check_gen(st, edges, 3);
    store_close(st);
}

/* Absent ids (before, after, inside a gap) get FS_E_NOT_FOUND naming the
 * file, while the present ones in the same call are read. */
static void t_absent(void **state)
{
    char path[512];
    path_of(path, sizeof(path), "absent.h5");
    store_t *st = open_ok(path, 1, 0);
    int64_t have[] = {10, 11, 12, 20, 21, 40};
    put_gen(st, have, 6, 6);
    store_close(st);
    st = open_ok(path, 0, 1);
    int64_t ids[] = {9, 10, 15, 21, 41, 99999, 12, 30};
    int want_found[] = {0, 1, 0, 1, 0, 0, 1, 0};
    trade_slot_t s[8];
    assert_int_equal(store_get_trades(st, ids, 8, s), STORE_OK);
    for (int i = 0; i < 8; i++) {
        if (want_found[i]) {
            assert_int_equal(s[i].status, FS_OK);
            trade_t t;
            gen_trade(SEED, ids[i], &t);
            assert_trade_equal(&s[i].trade, &t);
        } else {
            assert_int_equal(s[i].status, FS_E_NOT_FOUND);
            assert_int_equal(s[i].trade.id, ids[i]);
            assert_non_null(strstr(s[i].msg, "absent.h5"));
            char idtxt[32];
            snprintf(idtxt, sizeof(idtxt), "%010lld", (long long)ids[i]);
            assert_non_null(strstr(s[i].msg, idtxt));
        }
    }
    store_close(st);
}

/* Trades put out of order, with gaps and below the first id are kept in id
 * order; results move with their trades; repeated ids: the last wins. */
static void t_insert_order(void **state)
{
    char path[512];
    path_of(path, sizeof(path), "ins.h5");
    store_t *st = open_ok(path, 1, 0);
    int64_t evens[100], odds[100];
    for (int i = 0; i < 100; i++) {
        evens[i] = 1000 + 2 * i;
        odds[i] = 1000 + 2 * (99 - i) + 1; /* descending */
    }
    put_gen(st, evens, 100, 100);
    result_t r;
    result_fail(&r, 1010, FS_OK, 3);
    r.pv = 1.25;
    r.paths = 77;
    assert_int_equal(store_put_results(st, &r, 1), STORE_OK);
    put_gen(st, odds, 100, 30);
    int64_t low[] = {5, 3, 999};
    put_gen(st, low, 3, 3);
    /* an overwrite with a repeat in one call: the last copy wins */
    trade_t tw[2];
    gen_trade(SEED, 1100, &tw[0]);
    tw[1] = tw[0];
    tw[0].strike = 0.5;
    tw[1].strike = 0.75;
    assert_int_equal(store_put_trades(st, tw, 2), STORE_OK);
    store_close(st);

    st = open_ok(path, 0, 1);
    int64_t *ids = NULL;
    size_t n = 0;
    assert_int_equal(store_list_trades(st, &ids, &n), STORE_OK);
    assert_int_equal(n, 203);
    assert_int_equal(ids[0], 3);
    assert_int_equal(ids[1], 5);
    assert_int_equal(ids[2], 999);
    for (size_t i = 3; i < n; i++)
        assert_int_equal(ids[i], 1000 + (int64_t)i - 3);
    int64_t check[] = {3, 5, 999, 1000, 1001, 1099, 1198, 1199};
    check_gen(st, check, 8);
    trade_slot_t s;
    int64_t id1100 = 1100;
    assert_int_equal(store_get_trades(st, &id1100, 1, &s), STORE_OK);
    assert_int_equal(s.status, FS_OK);
    assert_true(s.trade.strike == 0.75);
    int64_t rid[2] = {1010, 1011};
    result_t got[2];
    int found[2] = {-1, -1};
    assert_int_equal(store_get_results(st, rid, 2, got, found), STORE_OK);
    assert_int_equal(found[0], 1);
    assert_int_equal(found[1], 0);
    assert_memory_equal(&got[0], &r, sizeof(r));
    free(ids);
    store_close(st);
}

/* Bit pattern of a double, for NaN payload checks. */
static uint64_t bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof(u));
    return u;
}

/* Results with NaN Greeks (two NaN payloads, a negative zero) read back bit
 * for bit; trades without a result are not found; a result for a trade not
 * in the file is refused and nothing is written. */
static void t_results(void **state)
{
    char path[512];
    path_of(path, sizeof(path), "res.h5");
    store_t *st = open_ok(path, 1, 0);
    put_range(st, 0, 50, 50);
    result_t r[3];
    result_fail(&r[0], 7, FS_OK, 1);
    r[0].pv = 123.456;
    r[0].pv_stderr = 0.001;
    r[0].paths = 10000;
    r[0].compute_s = 0.25;
    uint64_t payload = 0x7ff8000000abcdefULL;
    memcpy(&r[0].delta_stderr, &payload, sizeof(payload));
    result_fail(&r[1], 49, FS_E_DOMAIN, 2);
    r[1].pv = -0.0;
    result_fail(&r[2], 0, FS_OK, 0);
    r[2].delta = 1e-300;
    assert_int_equal(store_put_results(st, r, 3), STORE_OK);

    result_t bad[2] = {r[0], r[0]};
    bad[1].trade_id = 50;
    bad[0].pv = 999;
    assert_int_equal(store_put_results(st, bad, 2), STORE_E_USAGE);
    assert_non_null(strstr(store_errstr(st), "0000000050"));
    assert_non_null(strstr(store_errstr(st), "res.h5"));
    store_close(st);

    st = open_ok(path, 0, 1);
    int64_t ids[5] = {49, 7, 8, 0, 50};
    result_t got[5];
    int found[5];
    memset(found, 0xff, sizeof(found));
    assert_int_equal(store_get_results(st, ids, 5, got, found), STORE_OK);
    assert_int_equal(found[0], 1);
    assert_int_equal(found[1], 1);
    assert_int_equal(found[2], 0);
    assert_int_equal(found[3], 1);
    assert_int_equal(found[4], 0);
    assert_memory_equal(&got[0], &r[1], sizeof(result_t));
    assert_memory_equal(&got[1], &r[0], sizeof(result_t)); /* pv 123.456, not 999 */
    assert_memory_equal(&got[3], &r[2], sizeof(result_t));
    assert_true(bits(got[1].delta_stderr) == payload);
    assert_true(isnan(got[1].vega));
    assert_true(bits(got[0].pv) == bits(-0.0));
    assert_int_equal(got[2].trade_id, 8);
    assert_int_equal(got[2].status, FS_E_NOT_FOUND);
    store_close(st);
}

/* list_trades: ascending, complete, empty for a new file. */
static void t_list(void **state)
{
    char path[512];
    path_of(path, sizeof(path), "list.h5");
    store_t *st = open_ok(path, 1, 0);
    int64_t *ids = NULL;
    size_t n = 99;
    assert_int_equal(store_list_trades(st, &ids, &n), STORE_OK);
    assert_int_equal(n, 0);
    free(ids);
    int64_t put[] = {70000, 3, 9000000000LL, 42};
    put_gen(st, put, 4, 4);
    assert_int_equal(store_list_trades(st, &ids, &n), STORE_OK);
    assert_int_equal(n, 4);
    assert_int_equal(ids[0], 3);
    assert_int_equal(ids[1], 42);
    assert_int_equal(ids[2], 70000);
    assert_int_equal(ids[3], 9000000000LL);
    free(ids);
    store_close(st);
}

/* Rows reserved at open (expect_first/expect_count) exist but are "never
 * written" until put; list_trades skips them; a reservation that would
 * need an insert is skipped with one rank. */
static void t_reserve(void **state)
{
    char path[512];
    path_of(path, sizeof(path), "resv.h5");
    store_opts_t so;
    memset(&so, 0, sizeof(so));
    so.create = 1;
    so.expect_first = 100;
    so.expect_count = 50;
    char err[256];
    int code;
    store_t *st = store_open(path, &so, NULL, err, sizeof(err), &code);
    assert_non_null(st);
    put_range(st, 110, 10, 10);
    store_close(st);
    st = open_ok(path, 0, 0);
    int64_t *ids = NULL;
    size_t n = 0;
    assert_int_equal(store_list_trades(st, &ids, &n), STORE_OK);
    assert_int_equal(n, 10);
    assert_int_equal(ids[0], 110);
    free(ids);
    int64_t q[3] = {105, 115, 150};
    trade_slot_t s[3];
    assert_int_equal(store_get_trades(st, q, 3, s), STORE_OK);
    assert_int_equal(s[0].status, FS_E_NOT_FOUND);
    assert_non_null(strstr(s[0].msg, "never written"));
    assert_int_equal(s[1].status, FS_OK);
    assert_int_equal(s[2].status, FS_E_NOT_FOUND);
    assert_null(strstr(s[2].msg, "never written"));
    /* a result may be mirrored for a reserved row */
    result_t r;
    result_fail(&r, 105, FS_E_NOT_FOUND, 0);
    assert_int_equal(store_put_results(st, &r, 1), STORE_OK);
    store_close(st);
    /* reopen with a range that overlaps with gaps: serial falls back to inserts */
    so.create = 0;
    so.expect_first = 0;
    so.expect_count = 20;
    st = store_open(path, &so, NULL, err, sizeof(err), &code);
    assert_non_null(st);
    put_range(st, 0, 20, 20);
    assert_int_equal(store_list_trades(st, &ids, &n), STORE_OK);
    assert_int_equal(n, 30);
    free(ids);
    int64_t c2[2] = {0, 119};
    check_gen(st, c2, 2);
    store_close(st);
}

/* Domain checks run on read: a stored trade with a bad field comes back
 * with the trade_validate status and message. */
static void t_validate_on_read(void **state)
{
    char path[512];
    path_of(path, sizeof(path), "val.h5");
    store_t *st = open_ok(path, 1, 0);
    trade_t t[2];
    gen_trade(SEED, 1, &t[0]);
    gen_trade(SEED, 2, &t[1]);
    t[0].fx1 = -1;
    t[1].trials = TRADE_MAX_TRIALS + 1;
    assert_int_equal(store_put_trades(st, t, 2), STORE_OK);
    int64_t ids[2] = {1, 2};
    trade_slot_t s[2];
    assert_int_equal(store_get_trades(st, ids, 2, s), STORE_OK);
    assert_int_equal(s[0].status, FS_E_DOMAIN);
    assert_non_null(strstr(s[0].msg, "fx1"));
    assert_int_equal(s[1].status, FS_E_TOO_LARGE);
    trade_t neg = t[0];
    neg.id = -4;
    assert_int_equal(store_put_trades(st, &neg, 1), STORE_E_USAGE);
    store_close(st);
}

/* A missing file opened for reading (or writing without create) is
 * STORE_E_NOTFOUND with the command that makes one. */
static void t_open_missing(void **state)
{
    char path[512], err[256];
    path_of(path, sizeof(path), "nope.h5");
    assert_int_equal(open_err(path, 0, 1, err, sizeof(err)), STORE_E_NOTFOUND);
    assert_non_null(strstr(err, "nope.h5"));
    assert_non_null(strstr(err, "finsim generate --store"));
    assert_int_equal(open_err(path, 0, 0, err, sizeof(err)), STORE_E_NOTFOUND);
    assert_int_equal(access(path, F_OK), -1); /* not created as a side effect */
}

/* An HDF5 file that is not a trade file is refused (STORE_E_USAGE) for
 * reading, and create does not overwrite it. */
static void t_open_foreign(void **state)
{
    char path[512], err[256];
    path_of(path, sizeof(path), "foreign.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    hsize_t d = 4;
    hid_t sp = H5Screate_simple(1, &d, NULL);
    hid_t ds = H5Dcreate2(f, "results", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(ds >= 0);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(f);
    struct stat before, after;
    assert_int_equal(stat(path, &before), 0);
    assert_int_equal(open_err(path, 0, 1, err, sizeof(err)), STORE_E_USAGE);
    assert_non_null(strstr(err, "not a finsim trade file"));
    assert_non_null(strstr(err, "foreign.h5"));
    assert_int_equal(open_err(path, 1, 0, err, sizeof(err)), STORE_E_USAGE);
    assert_non_null(strstr(err, "refusing to overwrite"));
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(before.st_size, after.st_size);
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    assert_true(H5Lexists(f, "results", H5P_DEFAULT) > 0);
    H5Fclose(f);
}

/* A text file is not an HDF5 file; a directory is not a trade file; a
 * format version from the future and a file without datasets are refused. */
static void t_open_other(void **state)
{
    char path[512], err[256];
    path_of(path, sizeof(path), "text.h5");
    FILE *fp = fopen(path, "w");
    fputs("<AZFINSIM></AZFINSIM>\n", fp);
    fclose(fp);
    assert_int_equal(open_err(path, 0, 1, err, sizeof(err)), STORE_E_USAGE);
    assert_non_null(strstr(err, "not an HDF5 file"));
    assert_int_equal(open_err(path, 1, 0, err, sizeof(err)), STORE_E_USAGE);

    assert_int_equal(open_err(tmp, 0, 1, err, sizeof(err)), STORE_E_USAGE);
    assert_non_null(strstr(err, "directory"));

    path_of(path, sizeof(path), "future.h5");
    store_t *st = open_ok(path, 1, 0);
    store_close(st);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    int32_t v = 2;
    H5Awrite(a, H5T_NATIVE_INT32, &v);
    H5Aclose(a);
    H5Fclose(f);
    assert_int_equal(open_err(path, 0, 1, err, sizeof(err)), STORE_E_USAGE);
    assert_non_null(strstr(err, "version 2"));

    path_of(path, sizeof(path), "hollow.h5");
    st = open_ok(path, 1, 0);
    store_close(st);
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(H5Ldelete(f, "/trades/strike", H5P_DEFAULT) >= 0);
    H5Fclose(f);
    assert_int_equal(open_err(path, 0, 1, err, sizeof(err)), STORE_E_USAGE);
    assert_non_null(strstr(err, "damaged"));
    assert_non_null(strstr(err, "/trades/strike"));

    assert_int_equal(open_err("http://example.com/x.h5", 0, 1, err, sizeof(err)), STORE_E_USAGE);
    assert_non_null(strstr(err, "scheme"));
}

/* Paths that cannot be created give STORE_E_IO with the OS reason. */
static void t_unwritable(void **state)
{
    char path[600], file[512], err[256];
    path_of(file, sizeof(file), "plainfile");
    FILE *fp = fopen(file, "w");
    fclose(fp);
    snprintf(path, sizeof(path), "%s/sub.h5", file);
    assert_int_equal(open_err(path, 1, 0, err, sizeof(err)), STORE_E_IO);
    assert_non_null(strstr(err, "Not a directory"));
    assert_non_null(strstr(err, "sub.h5"));
    path_of(path, sizeof(path), "no/such/dir/t.h5");
    assert_int_equal(open_err(path, 1, 0, err, sizeof(err)), STORE_E_IO);
    assert_non_null(strstr(err, "No such file or directory"));
    if (geteuid() != 0) { /* root ignores permission bits */
        char ro[400];
        path_of(ro, sizeof(ro), "rodir");
        assert_int_equal(mkdir(ro, 0555), 0);
        snprintf(path, sizeof(path), "%s/t.h5", ro);
        assert_int_equal(open_err(path, 1, 0, err, sizeof(err)), STORE_E_IO);
        assert_non_null(strstr(err, "Permission denied"));
        chmod(ro, 0755);
    }
    assert_int_equal(fs_exit_for_store_err(STORE_E_IO), FS_EXIT_IO);
}

/* A read-only handle refuses writes; create together with readonly is a
 * usage error. */
static void t_readonly(void **state)
{
    char path[512], err[256];
    path_of(path, sizeof(path), "ro.h5");
    store_t *st = open_ok(path, 1, 0);
    put_range(st, 0, 3, 3);
    store_close(st);
    st = open_ok(path, 0, 1);
    trade_t t;
    gen_trade(SEED, 9, &t);
    assert_int_equal(store_put_trades(st, &t, 1), STORE_E_USAGE);
    assert_non_null(strstr(store_errstr(st), "read-only"));
    result_t r;
    result_fail(&r, 1, 0, 0);
    assert_int_equal(store_put_results(st, &r, 1), STORE_E_USAGE);
    store_close(st);
    assert_int_equal(open_err(path, 1, 1, err, sizeof(err)), STORE_E_USAGE);
}

/* Create truncates an existing trade file. */
static void t_create_truncates(void **state)
{
    char path[512];
    path_of(path, sizeof(path), "trunc.h5");
    store_t *st = open_ok(path, 1, 0);
    put_range(st, 0, 10, 10);
    store_close(st);
    st = open_ok(path, 1, 0);
    int64_t *ids = NULL;
    size_t n = 99;
    assert_int_equal(store_list_trades(st, &ids, &n), STORE_OK);
    assert_int_equal(n, 0);
    free(ids);
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_roundtrip),
        cmocka_unit_test(t_window_middle),
        cmocka_unit_test(t_absent),
        cmocka_unit_test(t_insert_order),
        cmocka_unit_test(t_results),
        cmocka_unit_test(t_list),
        cmocka_unit_test(t_reserve),
        cmocka_unit_test(t_validate_on_read),
        cmocka_unit_test(t_open_missing),
        cmocka_unit_test(t_open_foreign),
        cmocka_unit_test(t_open_other),
        cmocka_unit_test(t_unwritable),
        cmocka_unit_test(t_readonly),
        cmocka_unit_test(t_create_truncates),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
