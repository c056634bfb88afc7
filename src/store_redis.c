/* store_redis.c - placeholder: the redis backend is not implemented yet. */
#include <string.h>
#include "finsim/store.h"

static int accepts(const char *url)
{
    return 0;
}

static int open_(store_t *st, const char *url, const store_opts_t *o, void *comm)
{
    return store_set_error(st, STORE_E_NOTSUP, "redis store not implemented");
}

const store_backend_t store_backend_redis = {
    .name = "redis",
    .accepts = accepts,
    .open = open_,
};
