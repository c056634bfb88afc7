/* util.c - allocation, logging, timing and strict number parsing. */
#include "finsim/base/util.h"
#include "numparse.h"

#include <errno.h>
#include <float.h>
#include <mpi.h>
#include <stdio.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int fs_log_verbose = 0;
static int log_rank = 0;
static int log_nranks = 1;
static char log_host[64]; /* this host, in the prefix of runs with several ranks */

static const char *const status_names[] = {
    [FS_OK] = "ok",
    [FS_E_PARSE] = "parse",
    [FS_E_MISSING_FIELD] = "missing-field",
    [FS_E_BAD_NUMBER] = "bad-number",
    [FS_E_DOMAIN] = "domain",
    [FS_E_TOO_LARGE] = "too-large",
    [FS_E_NOT_FOUND] = "not-found",
    [FS_E_WRONG_TYPE] = "wrong-type",
    [FS_E_INJECTED] = "injected-failure",
    [FS_E_DUPLICATE] = "duplicate",
    [FS_E_STORE] = "store",
    [FS_E_NOMEM] = "no-memory",
    [FS_E_ID_MISMATCH] = "id-mismatch",
    [FS_E_NUMERIC] = "numeric",
};
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == FS_STATUS_COUNT, "one name per status");

const char *fs_status_name(int status)
{
    if (status < 0 || (size_t)status >= sizeof(status_names) / sizeof(status_names[0]) ||
        !status_names[status])
        return "unknown";
    return status_names[status];
}

static const char *const status_texts[] = {
    [FS_OK] = "priced",
    [FS_E_PARSE] = "the trade document is not well-formed eyxml",
    [FS_E_MISSING_FIELD] = "a required trade field is absent",
    [FS_E_BAD_NUMBER] = "a trade field is not a finite number or integer",
    [FS_E_DOMAIN] = "a trade field is outside its domain",
    [FS_E_TOO_LARGE] = "trials, t_steps or trials*t_steps over the limits",
    [FS_E_NOT_FOUND] = "the trade key is absent from the store",
    [FS_E_WRONG_TYPE] = "the store holds something else under the trade key",
    [FS_E_INJECTED] = "an injected failure (--failure) chose this trade",
    [FS_E_DUPLICATE] = "the trade id appears twice in the input",
    [FS_E_STORE] = "the store failed while handling this trade",
    [FS_E_NOMEM] = "the working memory could not be allocated",
    [FS_E_ID_MISMATCH] = "the document's trade id differs from the key's",
    [FS_E_NUMERIC] = "a figure came out non-finite (overflow, or too few paths for a standard error)",
};

const char *fs_status_text(int status)
{
    if (status == -1)
        return "no rank wrote this row";
    if (status < 0 || status >= FS_STATUS_COUNT)
        return "unknown status";
    return status_texts[status];
}

static void oom(size_t n)
{
    fprintf(stderr, "finsim: out of memory allocating %zu bytes\n", n);
    fflush(NULL);
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (up && !down)
        MPI_Abort(MPI_COMM_WORLD, FS_OOM_EXIT_STATUS);
    _exit(FS_OOM_EXIT_STATUS);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}

double fs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void fs_dirname(const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s", path);
    char *slash = strrchr(out, '/');
    if (!slash)
        snprintf(out, cap, ".");
    else if (slash == out)
        out[1] = '\0';
    else
        *slash = '\0';
}

/* Set the rank (and, with several ranks, this host's name) of the prefix. */
void fs_log_set_rank(int rank, int nranks)
{
    log_rank = rank;
    log_nranks = nranks;
    if (nranks > 1 && gethostname(log_host, sizeof(log_host) - 1) != 0)
        log_host[0] = '\0';
}

static void vlog(const char *level, const char *fmt, va_list ap)
{
    char line[2048];
    int n = 0;
    if (log_nranks > 1 && log_host[0]) /* a failing rank on another host names it */
        n = snprintf(line, sizeof(line), "finsim[%d@%s]: %s", log_rank, log_host, level);
    else if (log_nranks > 1)
        n = snprintf(line, sizeof(line), "finsim[%d]: %s", log_rank, level);
    else
        n = snprintf(line, sizeof(line), "finsim: %s", level);
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    /* one write per line so lines from several ranks do not interleave */
    fprintf(stderr, "%s\n", line);
}

void fs_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("error: ", fmt, ap);
    va_end(ap);
}

void fs_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("warning: ", fmt, ap);
    va_end(ap);
}

void fs_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("", fmt, ap);
    va_end(ap);
}

void fs_debug(const char *fmt, ...)
{
    if (fs_log_verbose < 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog("debug: ", fmt, ap);
    va_end(ap);
}

int fs_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* The plain form of an integer, [+-]?[0-9]{1,18}: exact in int64_t, and
 * what strtoll reads the same way. Returns 1 with *out, or 0 for anything
 * else (strtoll judges it). */
static int i64_plain(const char *s, int64_t *out)
{
    int neg = *s == '-';
    s += *s == '-' || *s == '+';
    int64_t v = 0;
    int n = 0;
    for (; *s >= '0' && *s <= '9'; s++, n++)
        if (n == 18)
            return 0; /* 19 digits or more: strtoll judges the range */
        else
            v = v * 10 + (*s - '0');
    if (*s || n == 0)
        return 0;
    *out = neg ? -v : v;
    return 1;
}

int fs_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return -1;
    if (i64_plain(s, out))
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

/* A double, strictly: the whole text, finite. fs_decimal_exact (the
 * fast_float reader, src/base/numparse.cc) reads the decimal forms
 * -?D*[.D*]([eE][+-]?D+)? and inf/nan; whatever it takes whole, strtod
 * takes whole too and reads as the same double (both round correctly, to
 * nearest). Anything else (a leading space, hex, a stray character) goes to
 * strtod, which judges it as it always has: the verdicts and values are
 * strtod's, at a tenth of its cost on the 17 to 19 digit numbers of a trade
 * document. */
int fs_parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return -1;
    /* the reader takes no '+'; "+-1" is not a number */
    const char *p = s + (*s == '+' && s[1] != '-');
    double v;
    if (fs_decimal_exact(p, strlen(p), &v) == 0) {
        if (!isfinite(v))
            return -1;
        *out = v;
        return 0;
    }
    char *end;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end || !isfinite(v))
        return -1;
    /* ERANGE on underflow still yields a usable (tiny) value; overflow is caught by isfinite */
    *out = v;
    return 0;
}

int fs_idset_insert(fs_idset_t *s, int64_t id)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        int64_t *tab = xmalloc(cap * sizeof(*tab));
        for (size_t i = 0; i < cap; i++)
            tab[i] = -1;
        for (size_t i = 0; i < s->cap; i++) {
            if (s->slots[i] < 0)
                continue;
            size_t h = fs_mix64((uint64_t)s->slots[i]) & (cap - 1);
            while (tab[h] >= 0)
                h = (h + 1) & (cap - 1);
            tab[h] = s->slots[i];
        }
        free(s->slots);
        s->slots = tab;
        s->cap = cap;
    }
    size_t h = fs_mix64((uint64_t)id) & (s->cap - 1);
    while (s->slots[h] >= 0) {
        if (s->slots[h] == id)
            return 1;
        h = (h + 1) & (s->cap - 1);
    }
    s->slots[h] = id;
    s->n++;
    return 0;
}

void fs_idset_free(fs_idset_t *s)
{
    free(s->slots);
    s->slots = NULL;
    s->cap = s->n = 0;
}
