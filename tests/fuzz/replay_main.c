/* replay_main.c - run a fuzz harness over files without libFuzzer.
 *
 *   replay_<name> PATH...    PATH: an input file, or a directory whose
 *                            regular files (not starting with '.') are
 *                            replayed in name order
 *
 * Links with one fuzz_<name>.c and the finsim library (gcc, or the
 * sanitizer build), so the seed corpus and every crash found earlier are
 * checked by ctest. Each input is read into a buffer of exactly its size
 * (so an overread is caught by AddressSanitizer). Exits 0 when every input
 * ran, 1 when none was found or one could not be read; a broken property
 * aborts. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            } else {
                buf = nb;
            }
        }
    }
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        return -1;
    }
    /* an exact-size copy: reading past the input is an ASan error */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay every regular file of dir in name order; returns the count or -1. */
static long replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: cannot open directory %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t nn = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (nn == cap) {
            cap = cap ? 2 * cap : 64;
            char **nb = realloc(names, cap * sizeof(*names));
            if (!nb)
                break;
            names = nb;
        }
        size_t l = strlen(dir) + strlen(e->d_name) + 2;
        names[nn] = malloc(l);
        if (!names[nn])
            break;
        snprintf(names[nn], l, "%s/%s", dir, e->d_name);
        nn++;
    }
    closedir(d);
    if (nn)
        qsort(names, nn, sizeof(*names), cmp_str);
    long count = 0;
    for (size_t i = 0; i < nn; i++) {
        struct stat sb;
        if (stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode)) {
            if (replay_file(names[i]) != 0)
                count = -1;
            else if (count >= 0)
                count++;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    long total = 0;
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            /* a regression directory that has no files yet may be absent */
            fprintf(stderr, "replay: %s: %s (skipped)\n", argv[i], strerror(errno));
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            long n = replay_dir(argv[i]);
            if (n < 0)
                failed = 1;
            else
                total += n;
        } else if (replay_file(argv[i]) != 0) {
            failed = 1;
        } else {
            total++;
        }
    }
    printf("replay: %ld inputs replayed\n", total);
    if (total == 0) {
        fprintf(stderr, "replay: no inputs found (seed corpus missing?)\n");
        return 1;
    }
    return failed;
}
