/* util.h - allocation, logging, timing and error codes shared by every module. */
#ifndef FINSIM_UTIL_H
#define FINSIM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Per-trade status codes (stored in results; 0 means priced). Stable: they
 * are written to HDF5 and to the Redis mirror, so never renumber. */
enum fs_status {
    FS_OK = 0,
    FS_E_PARSE = 1,        /* document is not well-formed XML / not eyxml */
    FS_E_MISSING_FIELD = 2,/* a required attribute is absent */
    FS_E_BAD_NUMBER = 3,   /* attribute is not a finite number / integer */
    FS_E_DOMAIN = 4,       /* value outside its documented domain */
    FS_E_TOO_LARGE = 5,    /* trials, t_steps or trials*t_steps over the limits */
    FS_E_NOT_FOUND = 6,    /* trade key absent from the store */
    FS_E_WRONG_TYPE = 7,   /* store holds something else under the key */
    FS_E_INJECTED = 8,     /* --failure injection chose this trade */
    FS_E_DUPLICATE = 9,    /* trade id appears twice in the input */
    FS_E_STORE = 10,       /* store failed while handling this trade */
    FS_E_NOMEM = 11,       /* could not allocate the working memory */
    FS_E_ID_MISMATCH = 12, /* document's trade id differs from the key's */
    FS_E_NUMERIC = 13      /* a figure came out non-finite (overflow, or too
                            * few paths for a standard error) */
};

/* Number of status codes (FS_OK .. FS_E_NUMERIC). */
#define FS_STATUS_COUNT 14

/* Short name of a status code ("ok", "parse", ...). Never NULL. */
const char *fs_status_name(int status);

/* One-line description of a status code (what the trade's result means).
 * Never NULL. */
const char *fs_status_text(int status);

/* The status a process ends with when memory runs out (the command layer
 * checks that it is its internal-error exit code). */
#define FS_OOM_EXIT_STATUS 8

/* malloc/calloc/realloc/strdup that, on failure, print a message and end
 * the process with FS_OOM_EXIT_STATUS: under MPI the whole job
 * (MPI_Abort), otherwise _exit. Never abort(): no core file, which could
 * hold a secret. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* The directory part of path into out[cap] ("." for a bare name, "/" for
 * a file in the root), for checking where an output file will go. */
void fs_dirname(const char *path, char *out, size_t cap);

/* Monotonic wall-clock time in seconds. */
double fs_now(void);

/* Logging to stderr, prefixed "finsim: ", or "finsim[N@HOST]: " (rank N on
 * host HOST) once fs_log_set_rank has been told of more than one rank.
 * fs_debug prints only when fs_log_verbose >= 1. */
extern int fs_log_verbose;
void fs_log_set_rank(int rank, int nranks);
void fs_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fs_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fs_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fs_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Bounded formatted copy into err[errlen] (always NUL-terminated). Returns -1
 * so callers can write: return fs_seterr(err, n, "...", ...); */
int fs_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Strict number parsing: whole string, no trailing junk, finite, in range.
 * Return 0 on success, -1 otherwise (value untouched). */
int fs_parse_i64(const char *s, int64_t *out);
int fs_parse_double(const char *s, double *out);

/* A set of non-negative ids (open addressing): duplicate detection for
 * documents and id lists. Zero-initialise; free with fs_idset_free. */
typedef struct fs_idset {
    int64_t *slots; /* -1 = empty; capacity is a power of two */
    size_t cap;     /* slots */
    size_t n;       /* ids held */
} fs_idset_t;

/* Add id (>= 0). Returns 1 when it was there already, 0 when added. Aborts on
 * out-of-memory like xmalloc. */
int fs_idset_insert(fs_idset_t *s, int64_t id);
void fs_idset_free(fs_idset_t *s);

/* SplitMix64 finaliser: a well-mixed 64-bit hash of x. */
static inline uint64_t fs_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

#endif
