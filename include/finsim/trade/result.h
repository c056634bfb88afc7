/* result.h - per-trade result record and its XML form (the store mirror). */
#ifndef FINSIM_RESULT_H
#define FINSIM_RESULT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One priced trade. This is also the HDF5 /results compound record, field
 * for field (see result_h5.h). Greeks are NaN for algorithms that do not compute
 * them; all figures are NaN when status != 0. */
typedef struct result {
    int64_t trade_id;    /* trade id */
    int32_t status;      /* fs_status: 0 = priced */
    int32_t rank;        /* MPI rank that priced it */
    double pv;           /* present value (mean payoff) */
    double pv_stderr;    /* standard error of pv */
    double delta;        /* AzFinSim delta: dPV/dfx1 / 10000 */
    double delta_stderr; /* standard error of delta */
    double vega;         /* AzFinSim vega: dPV/dsigma1 / 10000 */
    double vega_stderr;  /* standard error of vega */
    int64_t paths;       /* Monte Carlo paths used */
    double compute_s;    /* seconds spent pricing this trade */
    uint64_t inputs;     /* fingerprint of what produced the figures: run seed,
                          * algorithm, kernel, paths and the trade's fields
                          * (mc_inputs_hash); 0 when not priced. --resume takes
                          * a mirrored result only when this matches. */
    uint64_t digest;     /* result_digest of this record when it was made
                          * (result_seal); 0 = none (a mirror written before
                          * digests existed). --resume reuses a mirrored
                          * result only when it still matches its figures. */
} result_t;

/* The CSV form of results (finsim price, finsim results --csv): the
 * header line, then one line per result; figures with 17 significant
 * digits, empty when NaN. */
#define RESULT_CSV_HEADER "trade_id,status,pv,pv_stderr,delta,delta_stderr,vega,vega_stderr,paths,compute_s"
void result_csv_row(FILE *f, const result_t *r);

/* Fill r as a failed result for trade id with the given status. */
void result_fail(result_t *r, int64_t id, int status, int rank);

/* Format r as a small XML document:
 *   <AZFINSIM><result trade="0000000042" status="0" pv=".." ... inputs="16 hex digits"
 *   digest="16 hex digits"/></AZFINSIM>
 * Doubles are printed with 17 significant digits so they read back bit for
 * bit. Returns the length needed, snprintf style. */
int result_format(const result_t *r, char *buf, size_t cap);

#define RESULT_DOC_MAX 65536 /* largest result document result_parse reads (bytes) */

/* Write the figure x as `finsim price` prints it: 17 significant digits
 * ("%.17g"), so it reads back bit for bit; "" for NaN (a figure the
 * algorithm does not compute, or any figure of a failed trade). Returns buf. */
char *result_fmt_num(double x, char *buf, size_t cap);

/* Parse a document written by result_format. Returns 0 or -1 (msg says
 * why): also for a document over RESULT_DOC_MAX bytes or an integer field
 * out of its range (trade -1..TRADE_MAX_ID, status int32, paths >= 0,
 * rank -1..INT32_MAX). inputs and digest are optional (0 when absent: such
 * a mirror is never reused). */
int result_parse(const char *buf, size_t len, result_t *r, char *msg, size_t msglen);

/* Digest of a result's own figures: a 64-bit hash of trade_id, status,
 * pv .. vega_stderr, paths and inputs (not rank, compute_s or digest);
 * never 0. A mirrored result whose figures were edited, or damaged, no
 * longer matches the digest it carries. */
uint64_t result_digest(const result_t *r);

/* Set r->digest = result_digest(r): done once a result is final. */
void result_seal(result_t *r);

/* Verification checksum of one result: a 64-bit hash of the bits of
 * trade_id, status, pv .. vega_stderr and paths. compute_s and rank are
 * excluded so it is the same for any rank count and machine load. */
uint64_t result_hash(const result_t *r);

/* Checksum of n results: the sum (mod 2^64) of their result_hash values, so
 * partial sums from ranks combine with MPI_SUM in any order. */
uint64_t result_checksum(const result_t *r, size_t n);

#endif
