/* test_util.c - base helpers (base/util.c): paths, strict number parsing, the id set. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "finsim/base/util.h"

static void t_dirname(void **state)
{
    (void)state;
    char d[64];
    fs_dirname("out.h5", d, sizeof(d));
    assert_string_equal(d, ".");
    fs_dirname("/out.h5", d, sizeof(d));
    assert_string_equal(d, "/");
    fs_dirname("/a/b/out.h5", d, sizeof(d));
    assert_string_equal(d, "/a/b");
    fs_dirname("rel/out.h5.partial", d, sizeof(d));
    assert_string_equal(d, "rel");
}

/* Strict numbers: the whole string, in range, finite; a refused value
 * leaves the output untouched. */
static void t_parse_numbers(void **state)
{
    (void)state;
    int64_t i = 77;
    assert_int_equal(fs_parse_i64("-42", &i), 0);
    assert_int_equal(i, -42);
    assert_int_equal(fs_parse_i64("9223372036854775807", &i), 0);
    assert_true(i == INT64_MAX);
    static const char *const bad_i[] = {"", "12x", "x12", "1.5", "9223372036854775808", " ", "1 2"};
    for (size_t k = 0; k < sizeof(bad_i) / sizeof(bad_i[0]); k++) {
        i = 77;
        if (fs_parse_i64(bad_i[k], &i) != -1 || i != 77)
            fail_msg("fs_parse_i64 took '%s'", bad_i[k]);
    }
    assert_int_equal(fs_parse_i64(NULL, &i), -1);
    double d = 7;
    assert_int_equal(fs_parse_double("2.5e-3", &d), 0);
    assert_true(d == 2.5e-3);
    assert_int_equal(fs_parse_double("1e-320", &d), 0); /* subnormal: usable */
    assert_true(d > 0);
    static const char *const bad_d[] = {"", "inf", "-inf", "nan", "1e999", "1.0x", "abc"};
    for (size_t k = 0; k < sizeof(bad_d) / sizeof(bad_d[0]); k++) {
        d = 7;
        if (fs_parse_double(bad_d[k], &d) != -1 || d != 7)
            fail_msg("fs_parse_double took '%s'", bad_d[k]);
    }
}

/* The id set finds every repeat, across growth. */
static void t_idset(void **state)
{
    (void)state;
    fs_idset_t s = {0};
    for (int64_t id = 0; id < 100000; id += 3)
        assert_int_equal(fs_idset_insert(&s, id), 0);
    for (int64_t id = 0; id < 100000; id++)
        assert_int_equal(fs_idset_insert(&s, id), id % 3 == 0);
    assert_int_equal(s.n, 100000);
    fs_idset_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_dirname),
        cmocka_unit_test(t_parse_numbers),
        cmocka_unit_test(t_idset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
