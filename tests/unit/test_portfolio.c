/* test_portfolio.c - the portfolio sums are exact and order-independent:
 * the same results added in other orders (and split over several
 * accumulators, as over ranks) give the same bits; sums that a double
 * loses (1e16 + 1 - 1e16) come out exact; variances add; failed trades and
 * NaN Greeks count but do not sum; groups by maturity bucket. */
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "finsim/base/util.h"
#include "finsim/output/portfolio.h"

static result_t res(int64_t id, double pv, double se)
{
    result_t r;
    result_fail(&r, id, FS_OK, 0);
    r.pv = pv;
    r.pv_stderr = se;
    r.delta = pv / 1000;
    r.delta_stderr = se / 1000;
    return r; /* vega stays NaN, as for a trade with sigma1 = 0 */
}

/* Reduce over one process and return a copy of the rows. */
static pf_row_t *rows_of(portfolio_t *p, int *n)
{
    portfolio_reduce(p, MPI_COMM_SELF);
    const pf_row_t *r = portfolio_rows(p, n);
    pf_row_t *c = malloc(sizeof(*c) * (size_t)*n);
    memcpy(c, r, sizeof(*c) * (size_t)*n);
    return c;
}

static void t_order_independent(void **state)
{
    (void)state;
    enum { N = 2000 };
    result_t *r = malloc(sizeof(*r) * N);
    trade_t *t = calloc(N, sizeof(*t));
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double mag = ldexp((double)(x >> 11), -53) * pow(10, (double)(x % 19) - 6); /* 1e-6 .. 1e12 */
        r[i] = res(i, (x & 1) ? -mag : mag, mag * 1e-3);
        t[i].maturity = 0.1 + (double)(x % 7);
    }
    portfolio_t *a = portfolio_new(PF_BY_MATURITY);
    for (int i = 0; i < N; i++)
        portfolio_add(a, &t[i], &r[i]);
    int na;
    pf_row_t *ra = rows_of(a, &na);
    /* reversed, and a stride through the trades */
    portfolio_t *b = portfolio_new(PF_BY_MATURITY);
    for (int i = N - 1; i >= 0; i--)
        portfolio_add(b, &t[i], &r[i]);
    int nb;
    pf_row_t *rb = rows_of(b, &nb);
    portfolio_t *c = portfolio_new(PF_BY_MATURITY);
    for (int s = 0; s < 7; s++)
        for (int i = s; i < N; i += 7)
            portfolio_add(c, &t[i], &r[i]);
    int nc;
    pf_row_t *rc = rows_of(c, &nc);
    assert_int_equal(na, nb);
    assert_int_equal(na, nc);
    assert_true(na > 2);
    assert_memory_equal(ra, rb, sizeof(*ra) * (size_t)na);
    assert_memory_equal(ra, rc, sizeof(*ra) * (size_t)na);
    /* close to the long double sum, and the groups add up to the total */
    long double s = 0;
    int64_t trades = 0;
    for (int i = 0; i < N; i++)
        s += r[i].pv;
    for (int g = 1; g < na; g++)
        trades += ra[g].trades;
    assert_true(fabsl((long double)ra[0].pv - s) <= 1e-9L * fabsl(s) + 1e-6L);
    assert_int_equal(trades, N);
    assert_true(isnan(ra[0].vega) && isnan(ra[0].vega_stderr));
    free(ra), free(rb), free(rc), free(r), free(t);
    portfolio_free(a), portfolio_free(b), portfolio_free(c);
}

static void t_exact_and_counts(void **state)
{
    (void)state;
    portfolio_t *p = portfolio_new(PF_BY_NONE);
    result_t r1 = res(1, 1e16, 3), r2 = res(2, 1, 4), r3 = res(3, -1e16, 0), bad;
    result_fail(&bad, 4, FS_E_INJECTED, 0);
    portfolio_add(p, NULL, &r1);
    portfolio_add(p, NULL, &r2);
    portfolio_add(p, NULL, &bad);
    portfolio_add(p, NULL, &r3);
    int n;
    pf_row_t *r = rows_of(p, &n);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].group, "total");
    assert_true(r[0].pv == 1.0);        /* a double sum in this order gives 0 */
    assert_true(r[0].pv_stderr == 5.0); /* sqrt(3^2 + 4^2) */
    assert_int_equal(r[0].trades, 4);
    assert_int_equal(r[0].priced, 3);
    assert_int_equal(r[0].failed, 1);
    assert_int_equal(portfolio_status_counts(p)[FS_E_INJECTED], 1);
    assert_int_equal(portfolio_status_counts(p)[FS_OK], 3);
    free(r);
    portfolio_free(p);
}

static void t_subnormal_and_huge(void **state)
{
    (void)state;
    portfolio_t *p = portfolio_new(PF_BY_NONE);
    result_t a = res(1, 4.9406564584124654e-324, 0), b = res(2, 1.7976931348623157e308, 0),
             c = res(3, -1.7976931348623157e308, 0);
    portfolio_add(p, NULL, &a);
    portfolio_add(p, NULL, &b);
    portfolio_add(p, NULL, &c);
    int n;
    pf_row_t *r = rows_of(p, &n);
    assert_true(r[0].pv == 4.9406564584124654e-324);
    free(r);
    portfolio_free(p);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_order_independent),
        cmocka_unit_test(t_exact_and_counts),
        cmocka_unit_test(t_subnormal_and_huge),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return rc;
}
