/* test_tradelist.c - the job's trade list: range, ids file, every trade of
 * a store, sort-unique, shares and cost bounds. */
#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "finsim/base/util.h"
#include "finsim/job/status.h"
#include "finsim/job/tradelist.h"
#include "finsim/trade/gen.h"

/* A memory store holding the given ids (generated trades, seed 5). */
static store_t *mem_with(const char *url, const int64_t *ids, size_t n)
{
    store_opts_t so;
    memset(&so, 0, sizeof(so));
    so.create = 1;
    char err[256] = "";
    int code = 0;
    store_t *st = store_open(url, &so, NULL, err, sizeof(err), &code);
    if (!st)
        fail_msg("store_open(%s): %d %s", url, code, err);
    trade_t *t = xmalloc(n * sizeof(*t));
    for (size_t i = 0; i < n; i++)
        gen_trade(5, ids[i], &t[i]);
    assert_int_equal(store_put_trades(st, t, n), STORE_OK);
    free(t);
    return st;
}

/* A temporary file holding text; its name in path[64]. */
static void write_tmp(char *path, const char *text)
{
    snprintf(path, 64, "/tmp/finsim-tl-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* A range is not materialised: ids are start + i. */
static void t_range(void **state)
{
    tl_spec_t sp = {.source = TL_RANGE, .start = 40, .window = 7};
    tl_list_t l;
    char err[256];
    assert_int_equal(tl_build(&sp, NULL, &l, err, sizeof(err)), JOB_OK);
    assert_null(l.ids);
    assert_int_equal(l.n, 7);
    assert_int_equal(tl_id(&l, 0), 40);
    assert_int_equal(tl_id(&l, 6), 46);
    tl_free(&l);
}

/* Comments, commas, repeats; a bad token names the file and line. */
static void t_ids_file(void **state)
{
    char path[64];
    write_tmp(path, "# header\n7, 3 3\n\t9 # tail\n7\n");
    tl_spec_t sp = {.source = TL_IDS_FILE, .ids_file = path, .unique = 1};
    tl_list_t l;
    char err[256];
    assert_int_equal(tl_build(&sp, NULL, &l, err, sizeof(err)), JOB_OK);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.dropped, 2);
    assert_int_equal(l.ids[0], 3);
    assert_int_equal(l.ids[1], 7);
    assert_int_equal(l.ids[2], 9);
    tl_free(&l);
    unlink(path);

    write_tmp(path, "1\n2 x3\n");
    sp.ids_file = path;
    assert_int_equal(tl_build(&sp, NULL, &l, err, sizeof(err)), JOB_E_CONFIG);
    assert_non_null(strstr(err, ":2: 'x3' is not a trade id"));
    unlink(path);
    sp.ids_file = "/nonexistent/ids";
    assert_int_equal(tl_build(&sp, NULL, &l, err, sizeof(err)), JOB_E_CONFIG);
    assert_non_null(strstr(err, "cannot open ids file /nonexistent/ids"));
}

/* Every trade of a store, sorted; min_start drops the lower ids. */
static void t_all(void **state)
{
    int64_t ids[] = {12, 5, 30, 8};
    store_t *st = mem_with("mem://tl-all", ids, 4);
    tl_spec_t sp = {.source = TL_ALL, .unique = 1};
    tl_list_t l;
    char err[256];
    assert_int_equal(tl_build(&sp, st, &l, err, sizeof(err)), JOB_OK);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.ids[0], 5);
    assert_int_equal(l.ids[3], 30);
    tl_free(&l);
    sp.min_start = 1;
    sp.start = 9;
    assert_int_equal(tl_build(&sp, st, &l, err, sizeof(err)), JOB_OK);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.ids[0], 12);
    tl_free(&l);
    store_close(st);
}

/* Shares cover 0..n once, in order. */
static void t_share(void **state)
{
    size_t lo, hi, next = 0;
    for (int k = 0; k < 3; k++) {
        tl_share(10, k, 3, &lo, &hi);
        assert_int_equal(lo, next);
        next = hi;
    }
    assert_int_equal(next, 10);
}

/* Cost bounds are monotonic and cover the list; an absent trade costs 1. */
static void t_cost_bounds(void **state)
{
    int64_t ids[64];
    for (int i = 0; i < 64; i++)
        ids[i] = i;
    store_t *st = mem_with("mem://tl-cost", ids, 60); /* 60..63 absent */
    tl_spec_t sp = {.source = TL_RANGE, .start = 0, .window = 64};
    tl_list_t l;
    char err[256];
    assert_int_equal(tl_build(&sp, st, &l, err, sizeof(err)), JOB_OK);
    int64_t b[5];
    assert_int_equal(tl_cost_bounds(&l, st, 16, 0, 4, b, err, sizeof(err)), JOB_OK);
    assert_int_equal(b[0], 0);
    assert_int_equal(b[4], 64);
    for (int r = 0; r < 4; r++)
        assert_true(b[r] <= b[r + 1]);
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_range),
        cmocka_unit_test(t_ids_file),
        cmocka_unit_test(t_all),
        cmocka_unit_test(t_share),
        cmocka_unit_test(t_cost_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
