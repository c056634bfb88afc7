/* numfmt.h - exact decimal text of doubles without printf: the bytes glibc's
 * printf writes, made by integer arithmetic (docs/PERFORMANCE.md). */
#ifndef FINSIM_NUMFMT_H
#define FINSIM_NUMFMT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h> /* FS_PUTS */

/* Room fs_fmt_fixed and fs_fmt_g need in out (the slow path's longest text
 * for the values they take is shorter; see numfmt.c). */
#define FS_NUMFMT_CAP 48

/* The text snprintf(out, cap, "%.*f", prec, x) writes, and its length.
 * prec 0..19 and |x| < 2^53 are done by integer arithmetic; anything else
 * (NaN, inf, larger values or precisions) goes through snprintf. cap must
 * be at least FS_NUMFMT_CAP; a longer text is truncated as snprintf does.
 * If back is not NULL it receives strtod(out), the double the text reads
 * back as, computed exactly from the same arithmetic where it can be. */
int fs_fmt_fixed(char *out, size_t cap, double x, int prec, double *back);

/* The text snprintf(out, cap, "%.*g", prec, x) writes, and its length, for
 * prec 1..17 (others go through snprintf). cap >= FS_NUMFMT_CAP. */
int fs_fmt_g(char *out, size_t cap, double x, int prec);

/* Append helpers: they write no terminating NUL and return the end. */
/* A string literal, its bytes without the NUL. */
#define FS_PUTS(o, lit) (memcpy(o, lit, sizeof(lit) - 1), (o) + sizeof(lit) - 1)
/* "%0*lld" of v: at least width characters, zero padded after any sign. */
char *fs_put_int(char *o, int64_t v, int width);
/* "%016llx" of v. */
char *fs_put_hex16(char *o, uint64_t v);
/* Copy the n bytes of text into buf as snprintf would have written them:
 * cut to cap - 1 and terminated (nothing for cap 0); returns n. */
int fs_copy_out(char *buf, size_t cap, const char *text, int n);
/* fs_fmt_g's text of x (at most FS_NUMFMT_CAP - 1 bytes). */
char *fs_put_g(char *o, double x, int prec);

#endif
