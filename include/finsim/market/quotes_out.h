/* quotes_out.h - write a quote file that the market data reader (market.h)
 * loads back: CSV (trade_id,quote[,currency_pair]) or a JSON array of
 * {"trade_id":..,"quote":..[,"currency_pair":..]} objects.
 *
 * A file is written as PATH.partial and renamed to PATH when complete, so a
 * reader never sees half of it; '-' writes to standard output instead. CSV
 * rows go out as they are added, JSON when the writer is closed. */
#ifndef FINSIM_MARKET_QUOTES_OUT_H
#define FINSIM_MARKET_QUOTES_OUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct mkt_qwriter mkt_qwriter_t;

/* Start a quote file at path: JSON when the name ends in .json (any case),
 * else CSV. pair, when not NULL, is written with every quote (borrowed; it
 * must outlive the writer). Returns the writer, or NULL with a one-line
 * reason in err. Close with mkt_qwriter_close. */
mkt_qwriter_t *mkt_qwriter_open(const char *path, const char *pair, char *err, size_t errlen);

/* Add the quote of one trade (the quote written with 17 significant
 * digits). */
void mkt_qwriter_add(mkt_qwriter_t *w, int64_t trade_id, double quote);

/* Finish and free the writer. With discard set (the caller failed) nothing
 * more is written than a closing newline of a JSON document and the
 * partial file is removed; returns MKT_OK. Otherwise returns MKT_OK with
 * the file in place, or MKT_E_IO with the reason in err (err is "" when
 * the JSON encoder itself failed) and the partial file removed. */
int mkt_qwriter_close(mkt_qwriter_t *w, int discard, char *err, size_t errlen);

#endif
