/* curl_dl.h - libcurl, loaded when the first HTTP(S) request needs it
 * (private to src/market/).
 *
 * finsim is not linked against libcurl: its dependency chain (TLS, Kerberos,
 * LDAP, SSH, HTTP/2, ...) would be mapped by the dynamic loader at every
 * start of every command, and only `screen` with an http(s):// market source
 * uses it. The table below holds the few functions market.c calls, with the
 * types of <curl/curl.h> (the header is a build dependency; the library,
 * Debian's libcurl4, a run-time one). */
#ifndef FINSIM_MARKET_CURL_DL_H
#define FINSIM_MARKET_CURL_DL_H

#include <stddef.h>

#include <curl/curl.h>

/* The soname loaded: the ABI of <curl/curl.h> since libcurl 7.16. (Every
 * `#define *_SONAME` of src/ is a library finsim loads at run time;
 * tests/launcher/test_dockerfile.sh checks that the image installs it.) */
#define MKT_CURL_SONAME "libcurl.so.4"

typedef struct mkt_curl_api {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *c);
    CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
    const char *(*easy_strerror)(CURLcode cc);
    void (*easy_cleanup)(CURL *c);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
} mkt_curl_api_t;

/* libcurl, loaded and curl_global_init'ed on the first call (not thread
 * safe: the first call must not race another). The library is
 * MKT_CURL_SONAME, or the file FINSIM_CURL_LIBRARY names when that variable
 * is set and not empty (a testing and diagnostic aid: docs/BUILDING.md).
 * Returns the table, or NULL with a one-line reason in err that names the
 * library and the Debian package that installs it; a failed load is not
 * retried. */
const mkt_curl_api_t *mkt_curl(char *err, size_t errlen);

#endif
