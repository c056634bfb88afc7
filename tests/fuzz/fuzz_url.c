/* fuzz_url.c - store URLs: the Redis backend's URL parser (through
 * store_redis_check_url: parsing only, never a connection) and
 * store_redact_url (store.c).
 *
 * Input: byte 0 picks a small output buffer size for store_redact_url, the
 * rest is the URL (up to its first NUL).
 * Properties:
 *  - store_redis_check_url returns 0 or STORE_E_USAGE with a one-line,
 *    terminated message; a URL whose user info holds a ':' (a password) is
 *    always refused as such;
 *  - store_redact_url hides the password of the user info (for redis:// and
 *    rediss:// up to the URL's last '@', as a password may hold '/', '?',
 *    '#' or '@'; a ':' may be percent-encoded), keeps everything else, is
 *    idempotent, and truncates safely; a URL with key=value secrets
 *    (password=, AccountKey=, sig=, ...) comes out with "<redacted>". */
#include <string.h>

#include "finsim/store/store.h"
#include "fuzz.h"

#define REDACTED ":<redacted>"

static int has_prefix_ci(const char *s, const char *p);

/* The expected redaction of url into out (big enough): the user info of a
 * redis:// or rediss:// URL ends at its last '@' (a password may hold '/',
 * '?', '#' or '@'); for other URLs and file paths at the last '@' before the
 * first '/', '?' or '#' of the authority. */
static void expected_redaction(const char *url, char *out, size_t cap)
{
    const char *s = strstr(url, "://");
    const char *auth = s ? s + 3 : url;
    const char *at = NULL;
    if (s && (has_prefix_ci(url, "redis://") || has_prefix_ci(url, "rediss://"))) {
        at = strrchr(auth, '@');
    } else {
        size_t alen = strcspn(auth, "/?#");
        for (size_t i = 0; i < alen; i++)
            if (auth[i] == '@')
                at = auth + i;
    }
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    for (const char *p = auth; at && !colon && p + 3 <= at; p++) /* ':' percent-encoded */
        if (p[0] == '%' && p[1] == '3' && (p[2] == 'a' || p[2] == 'A'))
            colon = p;
    if (!colon)
        snprintf(out, cap, "%s", url);
    else
        snprintf(out, cap, "%.*s" REDACTED "%s", (int)(colon - url), url, at);
}

static int has_prefix_ci(const char *s, const char *p)
{
    for (; *p; s++, p++) {
        char a = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
        if (a != *p)
            return 0;
    }
    return 1;
}

/* Does the URL carry a password as the Redis backend reads it: user info
 * (before the last '@' of the authority, which ends at '/' or '?')
 * holding a ':'? */
static int url_has_password(const char *url)
{
    const char *rest;
    if (has_prefix_ci(url, "redis://"))
        rest = url + 8;
    else if (has_prefix_ci(url, "rediss://"))
        rest = url + 9;
    else
        return 0;
    size_t alen = strcspn(rest, "/?");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (rest[i] == '@')
            at = rest + i;
    if (!at)
        return 0;
    if (memchr(rest, ':', (size_t)(at - rest)))
        return 1;
    for (const char *p = rest; p + 3 <= at; p++) /* "user%3Apass": the same, encoded */
        if (p[0] == '%' && p[1] == '3' && (p[2] == 'a' || p[2] == 'A'))
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t small = 1 + data[0] % 64;
    size_t n = strnlen((const char *)data + 1, size - 1);
    char *url = malloc(n + 1);
    FUZZ_CHECK(url != NULL, "out of memory");
    memcpy(url, data + 1, n);
    url[n] = '\0';

    /* the Redis URL parser */
    char err[256];
    memset(err, 'x', sizeof(err));
    int rc = store_redis_check_url(url, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == STORE_E_USAGE, "store_redis_check_url returned %d for '%s'", rc, url);
    FUZZ_CHECK(fuzz_terminated(err, sizeof(err)), "message not terminated");
    /* every message is one line (regress/fuzz_url/unknown-param-newline: an
     * unknown query parameter with a raw newline in its name) */
    FUZZ_CHECK(strchr(err, '\n') == NULL && strchr(err, '\r') == NULL, "message of more than one line: %s", err);
    if (rc == 0)
        FUZZ_CHECK(err[0] == '\0', "message '%s' for an accepted URL", err);
    else
        FUZZ_CHECK(err[0] != '\0', "no message for a refused URL '%s'", url);
    if (url_has_password(url))
        FUZZ_CHECK(rc == STORE_E_USAGE && strstr(err, "must not carry a password"),
                   "a URL with a password was not refused as such: '%s' -> %d '%s'", url, rc, err);

    /* redaction */
    /* room for every expansion: the user info's password becomes
     * ":<redacted>", and each key=value secret's value "<redacted>" (a key
     * and its '=' take at least 4 bytes, so at most n / 4 of them) */
    size_t cap = n + sizeof(REDACTED) + 1 + (n / 4 + 1) * sizeof("<redacted>");
    char *want = malloc(cap), *got = malloc(cap), *again = malloc(cap), *part = malloc(small);
    FUZZ_CHECK(want && got && again && part, "out of memory");
    expected_redaction(url, want, cap);
    FUZZ_CHECK(store_redact_url(url, got, cap) == got, "store_redact_url did not return its buffer");
    /* key=value secrets (password=, AccountKey=, sig=, ...) are redacted
     * too; the model above covers URLs without them, for those only the
     * common properties are checked */
    int kv = store_url_has_secret(url);
    if (!kv)
        FUZZ_CHECK(strcmp(got, want) == 0, "'%s' redacted to '%s', expected '%s'", url, got, want);
    else
        FUZZ_CHECK(strstr(got, "<redacted>") != NULL, "'%s' holds a secret value but was printed as '%s'", url,
                   got);
    store_redact_url(got, again, cap);
    FUZZ_CHECK(strcmp(again, got) == 0, "redaction not idempotent: '%s' -> '%s'", got, again);
    store_redact_url(url, part, small);
    FUZZ_CHECK(fuzz_terminated(part, small), "truncated redaction not terminated");
    if (!kv)
        FUZZ_CHECK(strncmp(part, want, strlen(part)) == 0 &&
                       strlen(part) == (strlen(want) < small ? strlen(want) : small - 1),
                   "truncated redaction '%s' is not a prefix of '%s'", part, want);
    free(part);
    free(again);
    free(got);
    free(want);
    free(url);
    return 0;
}
