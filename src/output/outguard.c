/* outguard.c - what an output may replace, and who owns it (outguard.h). */
#define _GNU_SOURCE
#include "finsim/output/outguard.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "finsim/base/util.h"

/* Companions of an output that a run creates, truncates or removes. */
static const char *const companions[] = {"", ".partial", ".lock"};

/* Does the existing regular file path hold HDF5 dataset name? 1 yes, 0 no,
 * -1 when it cannot be told (reason in why). */
static int h5_has_dataset(const char *path, const char *name, char *why, size_t n)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return 0;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0) {
        H5Eclear2(H5E_DEFAULT);
        snprintf(why, n, "cannot open it to check what it is (is another program writing it?)");
        return -1;
    }
    int ok = 0;
    if (H5Lexists(f, name, H5P_DEFAULT) > 0) {
        hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
        ok = d >= 0;
        if (d >= 0)
            H5Dclose(d);
    }
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    return ok;
}

/* Does the existing regular file path start with the line header? */
static int csv_has_header(const char *path, const char *header)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = strlen(header);
    char *buf = xmalloc(n + 1);
    size_t got = fread(buf, 1, n + 1, f);
    fclose(f);
    int ok = got == n + 1 && memcmp(buf, header, n) == 0 && (buf[n] == '\n' || buf[n] == '\r');
    free(buf);
    return ok;
}

int outguard_check(const outguard_t *g, char *err, size_t errlen)
{
    if (!g->path || !strcmp(g->path, "-"))
        return 0;
    size_t len = strlen(g->path) + 16;
    char *p = xmalloc(len);
    int rc = 0;
    /* the output or a companion is one of the inputs: same device and inode */
    for (size_t k = 0; k < sizeof(companions) / sizeof(companions[0]) && !rc; k++) {
        if (k && !g->dataset)
            break; /* a CSV has no companions */
        snprintf(p, len, "%s%s", g->path, companions[k]);
        struct stat so;
        if (stat(p, &so) != 0)
            continue;
        for (int i = 0; i < g->nprotect && !rc; i++) {
            struct stat si;
            if (!g->protect[i] || stat(g->protect[i], &si) != 0)
                continue;
            if (si.st_dev == so.st_dev && si.st_ino == so.st_ino)
                rc = k ? fs_seterr(err, errlen, "%s %s: %s is the %s (%s); refusing to overwrite an input",
                                   g->opt, g->path, p, g->protect_what[i], g->protect[i])
                       : fs_seterr(err, errlen, "%s %s is the %s (%s); refusing to overwrite an input", g->opt,
                                   g->path, g->protect_what[i], g->protect[i]);
        }
    }
    free(p);
    if (rc)
        return rc;
    if (!g->dataset && !g->csv_header)
        return 0; /* only the inputs are protected */
    struct stat sb;
    if (stat(g->path, &sb) != 0)
        return 0; /* nothing to replace (a bad directory is reported when writing) */
    if (!S_ISREG(sb.st_mode))
        return fs_seterr(err, errlen, "%s %s exists and is not a regular file; refusing to replace it", g->opt,
                         g->path);
    char why[160] = "";
    int same_kind = g->dataset ? h5_has_dataset(g->path, g->dataset, why, sizeof(why))
                               : csv_has_header(g->path, g->csv_header);
    if (same_kind < 0)
        return fs_seterr(err, errlen, "%s %s exists and %s; refusing to replace it", g->opt, g->path, why);
    if (!same_kind)
        return fs_seterr(err, errlen,
                         "%s %s exists and is not a finsim %s file (no %s%s); refusing to replace it (remove it "
                         "first, or choose another name)",
                         g->opt, g->path, g->dataset ? g->dataset : "CSV", g->dataset ? "/" : "header ",
                         g->dataset ? g->dataset : g->csv_header);
    if (!g->replace_ok)
        return fs_seterr(err, errlen, "%s %s exists (the %s of an earlier run); %s", g->opt, g->path,
                         g->dataset ? g->dataset : "output", g->replace_hint ? g->replace_hint : "remove it first");
    return 0;
}

/* Remove the lock files that Open MPI's OMPIO "lockedfile" shared-file-
 * pointer component makes beside a file it opens (PARTIAL-<job>-<n>.lock,
 * used where its shared-memory component cannot be, e.g. across hosts),
 * and the PARTIAL.locktest.<rank> files its ufs component makes to test
 * the file system's locks: OMPIO removes them itself, but an aborted run
 * never gets there.
 * Called only by the owner of the output's lock, so no live run uses them.
 * Returns how many were removed. */
static int remove_stale_mpi_locks(const char *output)
{
    char dir[4096], prefix[4096];
    fs_dirname(output, dir, sizeof(dir));
    const char *base = strrchr(output, '/');
    base = base ? base + 1 : output;
    snprintf(prefix, sizeof(prefix), "%s.partial-", base);
    size_t pl = strlen(prefix);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        int lockedfile = n > pl + 5 && !strncmp(e->d_name, prefix, pl) && !strcmp(e->d_name + n - 5, ".lock");
        /* OMPIO's test of the file system's locking (PARTIAL.locktest.<rank>) */
        int locktest = !strncmp(e->d_name, prefix, pl - 1) && !strncmp(e->d_name + pl - 1, ".locktest.", 10);
        if (lockedfile || locktest) {
            char p[8192];
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            removed += unlink(p) == 0;
        }
    }
    closedir(d);
    return removed;
}

struct outlock {
    int fd;
    char *path;   /* OUTPUT.lock */
    char *output; /* OUTPUT */
};

/* The owner line of a lock file, for the message of a refused run. */
static void lock_owner(int fd, char *buf, size_t n)
{
    ssize_t got = pread(fd, buf, n - 1, 0);
    buf[got > 0 ? got : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    if (!buf[0])
        snprintf(buf, n, "owner unknown");
}

static outlock_t *held; /* the lock this process took last, until released */

outlock_t *outlock_take(const char *output, char *err, size_t errlen)
{
    size_t len = strlen(output) + sizeof(".lock");
    char *path = xmalloc(len);
    snprintf(path, len, "%s.lock", output);
    /* A releasing run removes the file before it drops the lock, so a lock
     * taken on a file that is no longer the one under path is worthless:
     * try again on the new file. */
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            fs_seterr(err, errlen, "cannot create output %s: cannot create its lock file %s: %s", output, path,
                      strerror(errno));
            break;
        }
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fcntl(fd, F_SETLK, &fl) != 0) {
            int e = errno;
            char owner[256];
            lock_owner(fd, owner, sizeof(owner));
            close(fd);
            if (e == EACCES || e == EAGAIN)
                fs_seterr(err, errlen,
                          "output %s is being written by another finsim run (%s; lock file %s); wait for it to "
                          "end or choose another --output",
                          output, owner, path);
            else
                fs_seterr(err, errlen, "cannot lock %s: %s", path, strerror(e));
            break;
        }
        struct stat a, b;
        if (fstat(fd, &a) != 0 || stat(path, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
            close(fd);
            continue;
        }
        char host[256] = "?", line[400];
        gethostname(host, sizeof(host) - 1);
        int n = snprintf(line, sizeof(line), "host %s pid %ld\n", host, (long)getpid());
        if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n) {
            fs_seterr(err, errlen, "cannot write the lock file %s: %s", path, strerror(errno));
            unlink(path);
            close(fd);
            break;
        }
        outlock_t *l = xmalloc(sizeof(*l));
        l->fd = fd;
        l->path = path;
        l->output = xstrdup(output);
        int stale = remove_stale_mpi_locks(output);
        if (stale)
            fs_info("removed %d stale MPI-IO lock file%s of %s.partial left by an aborted run", stale,
                    stale > 1 ? "s" : "", output);
        held = l;
        return l;
    }
    if (!err || !err[0])
        fs_seterr(err, errlen, "cannot lock %s: it keeps changing", path);
    free(path);
    return NULL;
}

void outlock_release(outlock_t *l)
{
    if (!l)
        return;
    if (l == held)
        held = NULL;
    remove_stale_mpi_locks(l->output);
    unlink(l->path); /* before the lock drops: see outlock_take */
    close(l->fd);
    free(l->path);
    free(l->output);
    free(l);
}

void outlock_release_held(void)
{
    outlock_release(held);
}
