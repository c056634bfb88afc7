/* mc.c - placeholder pricer (to be replaced by the real kernels). */
#include "finsim/mc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "finsim/util.h"

struct mc_work { int unused; };

void mc_opts_default(mc_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = 1;
}

int mc_algo_parse(const char *s)
{
    if (!strcmp(s, "pvonly")) return MC_PVONLY;
    if (!strcmp(s, "deltavega")) return MC_DELTAVEGA;
    if (!strcmp(s, "synthetic")) return MC_SYNTHETIC;
    return -1;
}

const char *mc_algo_name(mc_algo_t a)
{
    return a == MC_PVONLY ? "pvonly" : a == MC_DELTAVEGA ? "deltavega" : "synthetic";
}

int mc_kernel_parse(const char *s)
{
    if (!strcmp(s, "fast")) return MC_KERNEL_FAST;
    if (!strcmp(s, "reference")) return MC_KERNEL_REFERENCE;
    return -1;
}

const char *mc_kernel_name(mc_kernel_t k)
{
    return k == MC_KERNEL_FAST ? "fast" : "reference";
}

mc_work_t *mc_work_new(void) { return xcalloc(1, sizeof(mc_work_t)); }
void mc_work_free(mc_work_t *w) { free(w); }
int mc_injected_failure(const mc_opts_t *o, int64_t id) { return 0; }

int mc_price(const trade_t *t, const mc_opts_t *o, mc_work_t *w, result_t *r)
{
    result_fail(r, t->id, FS_E_STORE, r->rank);
    return r->status;
}
