/* curl_dl.c - load libcurl at its first use (see curl_dl.h). */
#define _GNU_SOURCE
#include "curl_dl.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "finsim/base/util.h"

#define MKT_CURL_FN(member, symbol) {#symbol, offsetof(mkt_curl_api_t, member)}

static const struct {
    const char *symbol;
    size_t offset;
} mkt_curl_fns[] = {
    MKT_CURL_FN(global_init, curl_global_init),     MKT_CURL_FN(easy_init, curl_easy_init),
    MKT_CURL_FN(easy_setopt, curl_easy_setopt),     MKT_CURL_FN(easy_perform, curl_easy_perform),
    MKT_CURL_FN(easy_getinfo, curl_easy_getinfo),   MKT_CURL_FN(easy_strerror, curl_easy_strerror),
    MKT_CURL_FN(easy_cleanup, curl_easy_cleanup),   MKT_CURL_FN(slist_append, curl_slist_append),
    MKT_CURL_FN(slist_free_all, curl_slist_free_all),
};

/* Load the library and fill api; 0, or -1 with the reason in err. The handle
 * stays open until the process ends. */
static int mkt_curl_load(mkt_curl_api_t *api, char *err, size_t errlen)
{
    const char *lib = getenv("FINSIM_CURL_LIBRARY");
    if (!lib || !lib[0])
        lib = MKT_CURL_SONAME;
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        fs_seterr(err, errlen,
                  "market data: HTTP(S) sources need libcurl, which could not be loaded (%s); install it "
                  "(Debian: apt-get install libcurl4)",
                  why ? why : lib);
        return -1;
    }
    for (size_t i = 0; i < sizeof(mkt_curl_fns) / sizeof(mkt_curl_fns[0]); i++) {
        void *f = dlsym(h, mkt_curl_fns[i].symbol);
        if (!f) {
            fs_seterr(err, errlen,
                      "market data: %s has no %s: HTTP(S) sources need libcurl 7.16 or later "
                      "(Debian: apt-get install libcurl4)",
                      lib, mkt_curl_fns[i].symbol);
            dlclose(h);
            return -1;
        }
        memcpy((char *)api + mkt_curl_fns[i].offset, &f, sizeof(f));
    }
    if (api->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fs_seterr(err, errlen, "market data: libcurl (%s) could not be initialised", lib);
        return -1; /* the library stays loaded: it may have started threads */
    }
    return 0;
}

const mkt_curl_api_t *mkt_curl(char *err, size_t errlen)
{
    static mkt_curl_api_t api;
    static int state = 0; /* 0 not tried, 1 loaded, -1 failed */
    static char why[512];
    if (state == 0) {
        state = mkt_curl_load(&api, why, sizeof(why)) == 0 ? 1 : -1;
    }
    if (state < 0) {
        fs_seterr(err, errlen, "%s", why);
        return NULL;
    }
    return &api;
}
