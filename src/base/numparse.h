/* numparse.h - exact decimal to double (private to src/base). */
#ifndef FINSIM_BASE_NUMPARSE_H
#define FINSIM_BASE_NUMPARSE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reads s[0..n) as -?D*[.D*]([eE][+-]?D+)? (at least one digit), or as
 * inf, infinity, nan or nan(chars), ignoring case. Returns 0 with the
 * nearest double in *out (ties to even; an infinity past the largest
 * double, as strtod gives in round-to-nearest) when that form is the whole
 * text, -1 otherwise (*out unspecified). */
int fs_decimal_exact(const char *s, size_t n, double *out);

#ifdef __cplusplus
}
#endif

#endif
