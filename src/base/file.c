/* file.c - reading a whole file or stream into memory; durable renames. */
#include "finsim/base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* fsync the file or directory at path (opened read-only: enough for
 * fsync on Linux). Returns 0 or -1 with errno set. */
int fs_fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int fs_durable_rename(const char *from, const char *to, char *err, size_t errlen)
{
    if (fs_fsync_path(from) != 0)
        return fs_seterr(err, errlen, "cannot sync %s to disk: %s", from, strerror(errno));
    if (rename(from, to) != 0)
        return fs_seterr(err, errlen, "cannot rename %s to %s: %s", from, to, strerror(errno));
    char dir[4096];
    fs_dirname(to, dir, sizeof(dir));
    /* some file systems refuse fsync on a directory (EINVAL): the rename
     * is then as durable as they make it */
    if (fs_fsync_path(dir) != 0 && errno != EINVAL && errno != EROFS)
        return fs_seterr(err, errlen, "cannot sync directory %s after renaming %s: %s", dir, to, strerror(errno));
    return 0;
}
