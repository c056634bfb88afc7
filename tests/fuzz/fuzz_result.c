/* fuzz_result.c - the result mirror document (result.c) on arbitrary bytes.
 *
 * Properties: result_parse never crashes, always terminates its message and
 * fills a record; an accepted record has its integers in range (trade id
 * -1..TRADE_MAX_ID, paths >= 0, rank >= -1); result_format of the record
 * parses back to the same numeric bits (trade_id, status, rank, pv ..
 * vega_stderr, paths; NaNs compare as NaN, as result_hash does) and to the
 * same checksum. */
#include <math.h>
#include <string.h>

#include "finsim/trade/result.h"
#include "finsim/trade/trade.h"
#include "finsim/base/util.h"
#include "fuzz.h"

static int same_num(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof(a)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    result_t r;
    char msg[160];
    memset(msg, 'x', sizeof(msg));
    int rc = result_parse((const char *)data, size, &r, msg, sizeof(msg));
    FUZZ_CHECK(rc == 0 || rc == -1, "result_parse returned %d", rc);
    if (rc != 0) {
        FUZZ_CHECK(fuzz_terminated(msg, sizeof(msg)) && msg[0] != '\0', "no message for a refused document");
        return 0;
    }
    FUZZ_CHECK(r.trade_id >= -1 && r.trade_id <= TRADE_MAX_ID && r.paths >= 0 && r.rank >= -1,
               "accepted a record out of range: trade %lld paths %lld rank %d", (long long)r.trade_id,
               (long long)r.paths, (int)r.rank);
    int n = result_format(&r, NULL, 0);
    FUZZ_CHECK(n > 0, "result_format returned %d", n);
    char *doc = malloc((size_t)n + 1);
    FUZZ_CHECK(doc != NULL, "out of memory");
    FUZZ_CHECK(result_format(&r, doc, (size_t)n + 1) == n, "result_format length changed");
    result_t b;
    rc = result_parse(doc, (size_t)n, &b, msg, sizeof(msg));
    FUZZ_CHECK(rc == 0, "formatted result does not parse back (%s): %s", msg, doc);
    FUZZ_CHECK(r.trade_id == b.trade_id && r.status == b.status && r.rank == b.rank && r.paths == b.paths,
               "integer field changed: %s", doc);
#define SAME(f) FUZZ_CHECK(same_num(r.f, b.f), #f " %.17g -> %.17g: %s", r.f, b.f, doc)
    SAME(pv);
    SAME(pv_stderr);
    SAME(delta);
    SAME(delta_stderr);
    SAME(vega);
    SAME(vega_stderr);
#undef SAME
    FUZZ_CHECK(result_hash(&r) == result_hash(&b), "checksum changed: %s", doc);
    free(doc);
    return 0;
}
