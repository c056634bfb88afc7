/* tradelist.c - the list of trade ids a job works on: a range, an ids file
 * or every trade in the store; sorted and unique; split by cost. */
#include "finsim/job/tradelist.h"

#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finsim/base/util.h"
#include "finsim/job/status.h"

/* qsort order of int64_t. */
static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Streaming parser: one token at a time, so the file may be of any size;
 * '#' starts a comment at the beginning of a token. */
int tl_read_ids_file(const char *path, int64_t **ids, size_t *n, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f)
        return fs_seterr(err, errlen, "cannot open ids file %s: %s", path, strerror(errno));
    size_t cap = 1024, m = 0;
    int64_t *v = xmalloc(cap * sizeof(*v));
    char tok[64];
    int rc = 0;
    long line = 1;
    int c, len = 0;
    for (;;) {
        c = fgetc(f);
        if (c == EOF || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
            if (len) {
                tok[len] = '\0';
                int64_t id;
                if (fs_parse_i64(tok, &id) != 0 || id < 0 || id > TRADE_MAX_ID) {
                    rc = fs_seterr(err, errlen, "%s:%ld: '%s' is not a trade id", path, line, tok);
                    break;
                }
                if (m == cap)
                    v = xrealloc(v, (cap *= 2) * sizeof(*v));
                v[m++] = id;
                len = 0;
            }
            if (c == '\n')
                line++;
            if (c == EOF)
                break;
        } else if (c == '#' && len == 0) {
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            line++;
            if (c == EOF)
                break;
        } else if (len < (int)sizeof(tok) - 1) {
            tok[len++] = (char)c;
        } else {
            rc = fs_seterr(err, errlen, "%s:%ld: token too long", path, line);
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    if (rc) {
        free(v);
        return rc;
    }
    *ids = v;
    *n = m;
    return 0;
}

/* qsort, then keep the first of each run of equal ids. */
size_t tl_sort_unique(int64_t *ids, size_t *n)
{
    if (*n == 0)
        return 0;
    qsort(ids, *n, sizeof(*ids), cmp_i64);
    size_t w = 1;
    for (size_t i = 1; i < *n; i++)
        if (ids[i] != ids[w - 1])
            ids[w++] = ids[i];
    size_t dropped = *n - w;
    *n = w;
    return dropped;
}

/* Keep only the ids >= start, in order. */
static void tl_drop_below(tl_list_t *l, int64_t start)
{
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->ids[i] >= start)
            l->ids[k++] = l->ids[i];
    l->n = k;
}

/* One case per source; sort-unique for the explicit lists. */
int tl_build(const tl_spec_t *spec, store_t *st, tl_list_t *l, char *err, size_t errlen)
{
    memset(l, 0, sizeof(*l));
    if (spec->source == TL_RANGE) {
        l->start = spec->start;
        l->n = (size_t)spec->window;
        return JOB_OK;
    }
    if (spec->source == TL_IDS_FILE) {
        if (tl_read_ids_file(spec->ids_file, &l->ids, &l->n, err, errlen) != 0)
            return JOB_E_CONFIG;
    } else {
        int rc = store_list_trades(st, &l->ids, &l->n);
        if (rc != STORE_OK) {
            fs_seterr(err, errlen, "listing the trades of %s: %s", store_describe(st), store_errstr(st));
            free(l->ids);
            memset(l, 0, sizeof(*l));
            l->store_err = rc;
            return job_store_status(rc);
        }
        if (spec->min_start)
            tl_drop_below(l, spec->start);
    }
    if (spec->unique)
        l->dropped = tl_sort_unique(l->ids, &l->n);
    return JOB_OK;
}

void tl_share(size_t n, int k, int nparts, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)k / (size_t)nparts;
    *hi = n * (size_t)(k + 1) / (size_t)nparts;
}

/* Counts first, then the ids in pieces of at most 2^24 (MPI counts are int). */
void tl_bcast(tl_list_t *l)
{
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int64_t head[4] = {0, 0, 0, 0};
    if (rank == 0) {
        head[0] = (int64_t)l->n;
        head[1] = l->start;
        head[2] = (int64_t)l->dropped;
        head[3] = l->ids != NULL;
    }
    MPI_Bcast(head, 4, MPI_INT64_T, 0, MPI_COMM_WORLD);
    if (rank != 0) {
        memset(l, 0, sizeof(*l));
        l->n = (size_t)head[0];
        l->start = head[1];
        l->dropped = (size_t)head[2];
        if (head[3])
            l->ids = xmalloc((l->n ? l->n : 1) * sizeof(*l->ids));
    }
    if (!head[3])
        return;
    for (size_t off = 0; off < l->n; off += (size_t)1 << 24) {
        size_t k = l->n - off < ((size_t)1 << 24) ? l->n - off : (size_t)1 << 24;
        MPI_Bcast(l->ids + off, (int)k, MPI_INT64_T, 0, MPI_COMM_WORLD);
    }
}

/* Reads the trades once in batches, keeping only a prefix sum of costs,
 * then cuts it at k/nparts of the total. */
int tl_cost_bounds(const tl_list_t *l, store_t *st, int batch, int64_t paths, int nparts, int64_t *bounds,
                   char *err, size_t errlen)
{
    int64_t total = (int64_t)l->n, b = batch;
    double *cum = xmalloc(sizeof(double) * (size_t)(total + 1));
    int64_t *ids = xmalloc(sizeof(*ids) * (size_t)b);
    trade_slot_t *slots = xmalloc(sizeof(*slots) * (size_t)b);
    int status = JOB_OK;
    cum[0] = 0;
    for (int64_t off = 0; off < total && status == JOB_OK; off += b) {
        size_t n = (size_t)(total - off < b ? total - off : b);
        for (size_t i = 0; i < n; i++)
            ids[i] = tl_id(l, (size_t)off + i);
        if (store_get_trades(st, ids, n, slots) != STORE_OK) {
            status = store_errcode(st) ? job_store_status(store_errcode(st)) : JOB_E_STORE;
            fs_seterr(err, errlen, "reading trades for cost balancing: %s", store_errstr(st));
            break;
        }
        for (size_t i = 0; i < n; i++) {
            const trade_t *t = &slots[i].trade;
            double cost = 1; /* bad trades cost ~nothing but the fetch */
            if (slots[i].status == FS_OK)
                cost += (double)(paths > 0 ? paths : t->trials) * t->t_steps;
            cum[off + (int64_t)i + 1] = cum[off + (int64_t)i] + cost;
        }
    }
    if (status == JOB_OK) {
        bounds[0] = 0;
        int64_t j = 0;
        for (int r = 1; r < nparts; r++) {
            double target = cum[total] * r / nparts;
            while (j < total && cum[j] < target)
                j++;
            bounds[r] = j;
        }
        bounds[nparts] = total;
    }
    free(slots);
    free(ids);
    free(cum);
    return status;
}

void tl_free(tl_list_t *l)
{
    free(l->ids);
    memset(l, 0, sizeof(*l));
}
