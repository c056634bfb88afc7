/* auth.c - the Redis store's password for each connection.
 *
 * A password given as a file (--password-file) is read again every time a
 * connection is made (the first one, a reconnect after a lost connection or
 * a failover, a new cluster node) and once more after a refused AUTH, so a
 * password rotated in the file, or a short-lived token that a sidecar
 * rewrites there (Microsoft Entra ID for Azure Managed Redis: user name =
 * the identity's object id, password = the token), is picked up without a
 * restart. The password is never logged. */
#include <stdlib.h>

#include "redis.h"

#include "finsim/base/config.h"
#include "finsim/base/secret.h"
#include "finsim/base/util.h"

const char *redis_auth_password(store_t *st, redis_priv_t *p)
{
    const store_opts_t *o = &st->opts;
    if (!o->password_file || !*o->password_file)
        return o->password;
    char err[512], *pw = NULL;
    if (cfg_read_secret_file(o->password_file, &pw, err, sizeof(err)) != 0) {
        fs_warn("%s: password file not read again (%s); using its last reading", st->url, err);
        return p->pw ? p->pw : o->password;
    }
    if (p->pw)
        fs_wipe_free(p->pw);
    p->pw = pw;
    return p->pw;
}
