/* test_market.c - the market data reader (market/market.c): CSV and JSON
 * quotes and market records, their validation with file and line in the
 * message, the index and its lookups, and URL redaction. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "finsim/market/market.h"
#include "finsim/trade/trade.h"

/* Parse text as a document named "t.csv" into a fresh d. Returns the code;
 * err holds the message. */
static int parse(const char *text, mkt_data_t *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof(*d));
    err[0] = '\0';
    return mkt_parse(text, strlen(text), "t.csv", d, err, errlen);
}

/* Quotes from CSV: any column order and case, blank and comment lines,
 * CRLF, quoted fields, an optional currency pair. */
static void t_csv_quotes(void **state)
{
    (void)state;
    mkt_data_t d;
    char err[512];
    const char *doc = "# quotes of the day\r\n"
                      "\r\n"
                      "Quote,TRADE_ID,currency_pair\r\n"
                      "1.25,42,EURUSD\r\n"
                      "\"2.5\",0000000007,\r\n"
                      "  # a comment after the header\n"
                      "3e-1,9999,\"EUR/USD\"\n";
    assert_int_equal(parse(doc, &d, err, sizeof(err)), MKT_OK);
    assert_int_equal(d.nquotes, 3);
    assert_int_equal(d.npairs, 0);
    assert_int_equal(d.quotes[0].trade_id, 42);
    assert_true(d.quotes[0].quote == 1.25);
    assert_string_equal(d.quotes[0].pair, "EURUSD");
    assert_int_equal(d.quotes[1].trade_id, 7);
    assert_string_equal(d.quotes[1].pair, "");
    assert_true(d.quotes[2].quote == 0.3);
    assert_string_equal(d.quotes[2].pair, "EUR/USD");
    mkt_data_free(&d);
    assert_null(d.quotes);
    assert_int_equal(d.nquotes, 0);
}

/* Market records from CSV: spot and vol, either may be empty (NaN), not
 * both. */
static void t_csv_market(void **state)
{
    (void)state;
    mkt_data_t d;
    char err[512];
    assert_int_equal(parse("currency_pair,spot,vol\nEURUSD,1.1,0.08\nGBPUSD,,0.1\nUSDJPY,150,\n", &d, err,
                           sizeof(err)),
                     MKT_OK);
    assert_int_equal(d.npairs, 3);
    assert_int_equal(d.nquotes, 0);
    assert_true(d.pairs[0].spot == 1.1 && d.pairs[0].vol == 0.08);
    assert_true(isnan(d.pairs[1].spot) && d.pairs[1].vol == 0.1);
    assert_true(d.pairs[2].spot == 150 && isnan(d.pairs[2].vol));
    mkt_data_free(&d);
}

/* Each malformed CSV gives MKT_E_PARSE and a message naming the file, the
 * line and the reason; d keeps nothing half-parsed from a bad header. */
static void t_csv_errors(void **state)
{
    (void)state;
    static const struct {
        const char *doc;
        const char *msg; /* expected substring */
    } cases[] = {
        {"", "t.csv: no CSV header line"},
        {"# only a comment\n", "no CSV header line"},
        {"trade_id,quote,trade_id\n1,2,3\n", "t.csv:1: column trade_id appears twice"},
        {"trade_id,price\n1,2\n", "t.csv:1: a quotes header needs both trade_id and quote columns"},
        {"a,b\n1,2\n", "t.csv:1: header must name trade_id,quote"},
        {"currency_pair\nEURUSD\n", "header must name"},
        {"trade_id,quote\n1\n", "t.csv:2: 1 fields, the header needs 2"},
        {"trade_id,quote\nx,2\n", "t.csv:2: trade_id 'x' is not an integer"},
        {"trade_id,quote\n1,cheap\n", "t.csv:2: quote 'cheap' is not a number"},
        {"trade_id,quote\n1,0\n", "quote for trade 1 must be a finite number > 0"},
        {"trade_id,quote\n1,-2\n", "must be a finite number > 0"},
        {"trade_id,quote\n1,inf\n", "t.csv:2: quote 'inf' is not a number"},
        {"trade_id,quote\n-1,2\n", "t.csv:2: trade_id -1 out of range"},
        {"trade_id,quote,currency_pair\n1,2,ABCDEFGHIJKLMNOPQRSTU\n", "bad currency_pair"},
        {"trade_id,quote\n\n\n1,\"2\n", "t.csv:4: malformed CSV line"},
        {"currency_pair,spot,vol\nEURUSD,,\n", "t.csv:2: market record for EURUSD has neither spot nor vol"},
        {"currency_pair,spot,vol\nEURUSD,0,0.1\n", "spot for EURUSD must be a finite number > 0"},
        {"currency_pair,spot,vol\nEURUSD,1,-0.1\n", "vol for EURUSD must be a finite number >= 0"},
        {"currency_pair,spot,vol\nEURUSD,one,0.1\n", "t.csv:2: spot 'one' is not a number"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mkt_data_t d;
        char err[512];
        int rc = parse(cases[i].doc, &d, err, sizeof(err));
        if (rc != MKT_E_PARSE || !strstr(err, cases[i].msg))
            fail_msg("case %zu: rc %d, message '%s', expected '%s'", i, rc, err, cases[i].msg);
        mkt_data_free(&d);
    }
    /* a NUL byte inside the text (the length covers it) */
    mkt_data_t d;
    char err[512];
    memset(&d, 0, sizeof(d));
    static const char nul[] = "trade_id,quote\n1,2\0\n";
    assert_int_equal(mkt_parse(nul, sizeof(nul) - 1, "n.csv", &d, err, sizeof(err)), MKT_E_PARSE);
    assert_non_null(strstr(err, "n.csv:2: NUL byte"));
    mkt_data_free(&d);
}

/* JSON: an array of quotes, or an object carrying quotes and market
 * records; ids as integers or digit strings; errors name the element. */
static void t_json(void **state)
{
    (void)state;
    mkt_data_t d;
    char err[512];
    assert_int_equal(parse("[{\"trade_id\":42,\"quote\":1.5,\"currency_pair\":\"EURUSD\"},"
                           " {\"trade_id\":\"0000000007\",\"quote\":2}]",
                           &d, err, sizeof(err)),
                     MKT_OK);
    assert_int_equal(d.nquotes, 2);
    assert_int_equal(d.quotes[1].trade_id, 7);
    assert_true(d.quotes[1].quote == 2.0);
    assert_string_equal(d.quotes[0].pair, "EURUSD");
    mkt_data_free(&d);

    assert_int_equal(parse("  {\"quotes\":[{\"trade_id\":1,\"quote\":3}],"
                           "\"market\":[{\"currency_pair\":\"EURUSD\",\"spot\":1.1,\"vol\":null}]}",
                           &d, err, sizeof(err)),
                     MKT_OK);
    assert_int_equal(d.nquotes, 1);
    assert_int_equal(d.npairs, 1);
    assert_true(d.pairs[0].spot == 1.1 && isnan(d.pairs[0].vol));
    mkt_data_free(&d);

    static const struct {
        const char *doc;
        const char *msg;
    } bad[] = {
        {"[{\"trade_id\":1}]", "quote missing or not a number"},
        {"[{\"trade_id\":1.5,\"quote\":1}]", "trade_id missing or not an integer"},
        {"[{\"trade_id\":1,\"quote\":1},7]", "[1]: expected an object"},
        {"[{\"trade_id\":1,\"quote\":1,\"currency_pair\":5}]", "currency_pair must be a string"},
        {"{\"market\":[{\"currency_pair\":\"EURUSD\",\"spot\":\"x\"}]}", "spot is not a number"},
        {"{\"quotes\":{}}", "\"quotes\" must be an array"},
        {"[{\"trade_id\":1,\"quote\":1}", "t.csv"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse(bad[i].doc, &d, err, sizeof(err));
        if (rc != MKT_E_PARSE || !strstr(err, bad[i].msg))
            fail_msg("json case %zu: rc %d, message '%s', expected '%s'", i, rc, err, bad[i].msg);
        mkt_data_free(&d);
    }
}

/* mkt_index sorts for lookup and refuses a trade id or a pair twice, also
 * across two sources appended to one d. */
static void t_index_and_find(void **state)
{
    (void)state;
    mkt_data_t d;
    char err[512];
    assert_int_equal(parse("trade_id,quote\n30,3\n10,1\n20,2\n", &d, err, sizeof(err)), MKT_OK);
    const char *more = "currency_pair,spot,vol\nUSDJPY,150,0.1\nEURUSD,1.1,0.08\n";
    assert_int_equal(mkt_parse(more, strlen(more), "m.csv", &d, err, sizeof(err)), MKT_OK);
    assert_int_equal(mkt_index(&d, err, sizeof(err)), MKT_OK);
    for (int64_t id = 10; id <= 30; id += 10) {
        const mkt_quote_t *q = mkt_find_quote(&d, id);
        assert_non_null(q);
        assert_true(q->quote == (double)(id / 10));
    }
    assert_null(mkt_find_quote(&d, 15));
    assert_null(mkt_find_quote(&d, 0));
    assert_non_null(mkt_find_pair(&d, "EURUSD"));
    assert_true(mkt_find_pair(&d, "USDJPY")->spot == 150);
    assert_null(mkt_find_pair(&d, "GBPUSD"));
    /* a second source repeating a trade id */
    const char *dup = "trade_id,quote\n20,9\n";
    assert_int_equal(mkt_parse(dup, strlen(dup), "dup.csv", &d, err, sizeof(err)), MKT_OK);
    assert_int_equal(mkt_index(&d, err, sizeof(err)), MKT_E_PARSE);
    assert_non_null(strstr(err, "20"));
    mkt_data_free(&d);

    assert_int_equal(parse("currency_pair,spot\nEURUSD,1\nEURUSD,2\n", &d, err, sizeof(err)), MKT_OK);
    assert_int_equal(mkt_index(&d, err, sizeof(err)), MKT_E_PARSE);
    assert_non_null(strstr(err, "EURUSD"));
    mkt_data_free(&d);
    mkt_data_free(NULL);
}

/* A failed parse leaves what d held before the call. */
static void t_failure_keeps_previous(void **state)
{
    (void)state;
    mkt_data_t d;
    char err[512];
    assert_int_equal(parse("trade_id,quote\n1,1\n2,2\n", &d, err, sizeof(err)), MKT_OK);
    const char *bad = "trade_id,quote\n3,3\n4,oops\n";
    assert_int_equal(mkt_parse(bad, strlen(bad), "bad.csv", &d, err, sizeof(err)), MKT_E_PARSE);
    assert_non_null(strstr(err, "bad.csv:3"));
    assert_int_equal(d.nquotes, 2);
    mkt_data_free(&d);
}

/* URLs for messages: user info and query (where API keys hide) dropped. */
static void t_redact_url(void **state)
{
    (void)state;
    char b[256];
    assert_string_equal(mkt_redact_url("https://user:pw@example.org/q.json?key=SECRET", b, sizeof(b)),
                        "https://example.org/q.json?...");
    assert_string_equal(mkt_redact_url("http://h:8080/quotes.csv", b, sizeof(b)), "http://h:8080/quotes.csv");
    assert_string_equal(mkt_redact_url("http://h/a#frag", b, sizeof(b)), "http://h/a?...");
    assert_null(strstr(mkt_redact_url("https://k@h/x?token=abc", b, sizeof(b)), "abc"));
}

/* mkt_load reads a file; a missing one is MKT_E_IO with its name. */
static void t_load_file(void **state)
{
    (void)state;
    char dir[256], path[320], err[512];
    fx_tmpdir(dir, sizeof(dir), "market");
    snprintf(path, sizeof(path), "%s/q.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("trade_id,quote\n5,1.5\n", f);
    fclose(f);
    mkt_http_opts_t h;
    memset(&h, 0, sizeof(h));
    mkt_data_t d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(mkt_load(path, &h, &d, err, sizeof(err)), MKT_OK);
    assert_int_equal(d.nquotes, 1);
    mkt_data_free(&d);
    snprintf(path, sizeof(path), "%s/missing.csv", dir);
    assert_int_equal(mkt_load(path, &h, &d, err, sizeof(err)), MKT_E_IO);
    assert_non_null(strstr(err, "missing.csv"));
    fx_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_csv_quotes),     cmocka_unit_test(t_csv_market),
        cmocka_unit_test(t_csv_errors),     cmocka_unit_test(t_json),
        cmocka_unit_test(t_index_and_find), cmocka_unit_test(t_failure_keeps_previous),
        cmocka_unit_test(t_redact_url),     cmocka_unit_test(t_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
