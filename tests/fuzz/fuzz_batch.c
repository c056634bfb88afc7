/* fuzz_batch.c - trade_parse_batch against trade_parse_one.
 *
 * The input is cut into documents at each byte 0x1e (ASCII record
 * separator). Its first byte, if any, chooses what is done to every piece:
 * bit 0 puts "<AZFINSIM>" before it and bit 1 "</AZFINSIM>" after it, so
 * that most pieces join a shared run; bit 2 puts a generated trade document
 * before every other piece. Property: for every document, in order,
 * trade_parse_batch reports exactly what trade_parse_one gives for it (the
 * trade bit for bit, the status, the message), whether the documents come
 * in one batch or in batches of one to three. */
#include <string.h>

#include "finsim/base/util.h"
#include "finsim/trade/gen.h"
#include "finsim/trade/trade.h"
#include "fuzz.h"

#define MAX_DOCS 512

typedef struct check {
    const char *buf;
    const size_t *off; /* the batch's documents */
    size_t next;
} check_t;

static void check_doc(void *ctx, size_t i, const trade_t *t, int status, const char *msg)
{
    check_t *c = ctx;
    FUZZ_CHECK(i == c->next, "document %zu reported, %zu expected", i, c->next);
    c->next++;
    trade_t want;
    char wmsg[TRADE_MSG_MAX];
    wmsg[0] = '\0';
    int ws = trade_parse_one(c->buf + c->off[i], c->off[i + 1] - c->off[i], &want, wmsg, sizeof(wmsg));
    FUZZ_CHECK(ws == status, "document %zu: status %d in the batch, %d alone", i, status, ws);
    FUZZ_CHECK(strcmp(wmsg, msg) == 0, "document %zu: message '%s' in the batch, '%s' alone", i, msg, wmsg);
    FUZZ_CHECK(memcmp(&want, t, sizeof(want)) == 0, "document %zu: trade %lld in the batch differs from %lld alone",
               i, (long long)t->id, (long long)want.id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[3 * 8192 + MAX_DOCS * (GEN_DOC_MAX + 32)];
    static size_t off[MAX_DOCS + 1];
    if (size == 0 || size > 3 * 8192)
        return 0;
    unsigned mode = data[0];
    const char *in = (const char *)data + 1, *end = (const char *)data + size;
    size_t len = 0, n = 0;
    off[0] = 0;
    while (n + 2 < MAX_DOCS) {
        const char *sep = memchr(in, 0x1e, (size_t)(end - in));
        const char *pe = sep ? sep : end;
        if (mode & 4) { /* a good document first */
            trade_t t;
            len += (size_t)gen_trade_doc(mode, (int64_t)n, &t, buf + len, GEN_DOC_MAX);
            off[++n] = len;
        }
        if (mode & 1) {
            memcpy(buf + len, "<AZFINSIM>", 10);
            len += 10;
        }
        memcpy(buf + len, in, (size_t)(pe - in));
        len += (size_t)(pe - in);
        if (mode & 2) {
            memcpy(buf + len, "</AZFINSIM>", 11);
            len += 11;
        }
        off[++n] = len;
        if (!sep)
            break;
        in = sep + 1;
    }
    size_t slices[] = {n, 1, 2, 3};
    for (size_t k = 0; k < sizeof(slices) / sizeof(slices[0]); k++)
        for (size_t i = 0; i < n; i += slices[k]) {
            size_t m = n - i < slices[k] ? n - i : slices[k];
            check_t c = {.buf = buf, .off = off + i, .next = 0};
            size_t shared = trade_parse_batch(buf, off + i, m, check_doc, &c);
            FUZZ_CHECK(c.next == m && shared <= m, "%zu of %zu documents reported, %zu shared", c.next, m, shared);
        }
    return 0;
}
