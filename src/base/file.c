/* file.c - reading a whole file or stream into memory. */
#include "finsim/base/file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "finsim/base/util.h"

/* Grow a buffer from 64 KiB, doubling, until fread meets the end. */
char *fs_read_stream(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0, got;
    char *buf = xmalloc(cap);
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap)
            buf = xrealloc(buf, cap *= 2);
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Open path (or take stdin for "-"), read it whole, close it. */
char *fs_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fs_seterr(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = fs_read_stream(f, len);
    if (f != stdin)
        fclose(f);
    if (!buf)
        fs_seterr(err, errlen, "cannot read %s", path);
    return buf;
}
