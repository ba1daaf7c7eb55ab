/* pgtls: file-system helpers shared by every component. */
#ifndef PGTLS_FS_H
#define PGTLS_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* Creates dir and its parents with mode (like mkdir -p). Returns 0 if OK,
 * -1 with a message in err. */
int fs_mkdir_p(const char *dir, mode_t mode, pgtls_err *err);

/* Writes data to path atomically: a temporary file in the same folder created
 * with `mode` (so keys are 0600 from the first byte), fsync'ed and renamed
 * over path. Returns 0 if OK, -1 with a message in err. */
int fs_write_file(const char *path, const void *data, size_t len, mode_t mode, pgtls_err *err);

/* Reads the whole file (at most max_len bytes; 0 means 64 MiB) into a NUL-
 * terminated heap buffer the caller frees. *out_len gets the byte count (may
 * be NULL). Returns 0 if OK, -1 with a message in err. */
int fs_read_file(const char *path, size_t max_len, char **out_data, size_t *out_len,
                 pgtls_err *err);

/* Removes path and everything below it (like rm -rf); a missing path is OK.
 * Returns 0 if OK, -1 with a message in err. */
int fs_remove_tree(const char *path, pgtls_err *err);

/* 1 if path exists (any type), 0 if not. */
int fs_exists(const char *path);

/* Heap string "a/b" (no doubled slash). Returns NULL only when out of memory. */
char *fs_join(const char *a, const char *b);

/* printf into a new heap string. Returns NULL only when out of memory. */
char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A whole decimal integer in [lo, hi] (no sign games, no trailing bytes, no
 * overflow) into *out. Returns 0, or -1 when s is NULL, empty, not a number
 * or out of range (the caller names the flag in its message). */
int str_to_long(const char *s, long lo, long hi, long *out);

/* 1 if s starts with prefix / ends with suffix. */
int str_starts_with(const char *s, const char *prefix);
int str_ends_with(const char *s, const char *suffix);

/* Monotonic milliseconds, for timings and deadlines. */
long long time_now_ms(void);

#endif
