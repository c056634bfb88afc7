/* command.c - one raw Redis command and a copy of its reply (store_command),
 * for the request service's streams and consumer groups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"

#include "finsim/base/util.h"

/* A deep copy of the hiredis reply r. Cannot fail (xmalloc). */
static store_reply_t *redis_copy_reply(const redisReply *r)
{
    store_reply_t *c = xcalloc(1, sizeof(*c));
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        c->type = r->type == REDIS_REPLY_STRING ? STORE_REPLY_STRING
                  : r->type == REDIS_REPLY_STATUS ? STORE_REPLY_STATUS : STORE_REPLY_ERROR;
        c->len = r->len;
        c->str = xmalloc(r->len + 1);
        memcpy(c->str, r->str, r->len);
        c->str[r->len] = '\0';
        break;
    case REDIS_REPLY_INTEGER:
        c->type = STORE_REPLY_INTEGER;
        c->integer = r->integer;
        break;
    case REDIS_REPLY_NIL:
        c->type = STORE_REPLY_NIL;
        break;
    case REDIS_REPLY_ARRAY:
        c->type = STORE_REPLY_ARRAY;
        c->elements = r->elements;
        c->element = xcalloc(r->elements ? r->elements : 1, sizeof(*c->element));
        for (size_t i = 0; i < r->elements; i++)
            c->element[i] = redis_copy_reply(r->element[i]);
        break;
    default:
        c->type = STORE_REPLY_OTHER;
        break;
    }
    return c;
}

int redis_command(store_t *st, int argc, const char **argv, const size_t *lens, store_reply_t **out)
{
    redis_priv_t *p = st->priv;
    int rc = redis_ensure(st, p);
    if (rc == 0)
        rc = redis_prefetch_drain(st, p, argv[0]);
    if (rc)
        return rc;
    redisReply *r = redisCommandArgv(p->c, argc, argv, lens);
    if (!r) {
        char what[64];
        snprintf(what, sizeof(what), "%.40s", argv[0]);
        return redis_call_failed(st, p, what);
    }
    *out = redis_copy_reply(r);
    freeReplyObject(r);
    return 0;
}
