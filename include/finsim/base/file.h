/* file.h - reading a whole file or stream into memory. */
#ifndef FINSIM_FILE_H
#define FINSIM_FILE_H

#include <stddef.h>
#include <stdio.h>

/* Read the stream f from its position to the end into a malloc'ed buffer,
 * with a NUL after the last byte that *len does not count. Returns NULL on a
 * read error (the stream's error flag is set); the caller frees the buffer
 * and closes f. Aborts on out-of-memory like xmalloc. */
char *fs_read_stream(FILE *f, size_t *len);

/* Read the file at path ("-" = standard input) whole, as fs_read_stream.
 * Returns NULL with "cannot open PATH: REASON" or "cannot read PATH" in
 * err[errlen]; the caller frees the buffer. */
char *fs_read_file(const char *path, size_t *len, char *err, size_t errlen);

/* fsync the file or directory at path. Returns 0 or -1 with errno set. */
int fs_fsync_path(const char *path);

/* Put a finished file in place so that a crash leaves either the old file
 * or the whole new one: fsync from, rename it to to, fsync the directory of
 * to. Returns 0, or -1 with the reason in err[errlen] (from is then still
 * there, unless the rename happened and only the directory sync failed). */
int fs_durable_rename(const char *from, const char *to, char *err, size_t errlen);

#endif
