/* pgtls: file-system and string helpers. */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int fs_mkdir_p(const char *dir, mode_t mode, pgtls_err *err)
{
    char *copy = strdup(dir);
    int result = -1;

    ENSURE(copy, err, PGTLS_ERR_NOMEM, "out of memory");
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, mode) < 0 && errno != EEXIST) {
            err_set(err, PGTLS_ERR_IO, "cannot create directory %s: %s (check the path and permissions)",
                    copy, strerror(errno));
            goto out;
        }
        *p = '/';
    }
    if (mkdir(copy, mode) < 0 && errno != EEXIST) {
        err_set(err, PGTLS_ERR_IO, "cannot create directory %s: %s (check the path and permissions)",
                copy, strerror(errno));
        goto out;
    }
    result = 0;
out:
    free(copy);
    return result;
}

int fs_write_file(const char *path, const void *data, size_t len, mode_t mode, pgtls_err *err)
{
    char *tmp = str_printf("%s.tmp.%ld", path, (long)getpid());
    int fd = -1, result = -1;
    const char *p = data;

    ENSURE(tmp, err, PGTLS_ERR_NOMEM, "out of memory");
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    ENSURE(fd >= 0, err, PGTLS_ERR_IO, "cannot write %s: %s (is the folder writable?)", path,
           strerror(errno));
    /* open() applies the umask; make the mode exact (keys must be 0600,
     * stores 0644 whatever the umask says). */
    ENSURE(fchmod(fd, mode) == 0, err, PGTLS_ERR_IO, "cannot chmod %s: %s", tmp, strerror(errno));
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        ENSURE(n > 0, err, PGTLS_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    ENSURE(close(fd) == 0, err, PGTLS_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    fd = -1;
    ENSURE(rename(tmp, path) == 0, err, PGTLS_ERR_IO, "cannot rename %s to %s: %s", tmp, path,
           strerror(errno));
    result = 0;
out:
    if (fd >= 0)
        close(fd);
    if (result < 0 && tmp)
        unlink(tmp);
    free(tmp);
    return result;
}

int fs_read_file(const char *path, size_t max_len, char **out_data, size_t *out_len,
                 pgtls_err *err)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t cap = 0, used = 0;
    int result = -1;

    if (max_len == 0)
        max_len = 64u << 20;
    *out_data = NULL;
    f = fopen(path, "rb");
    ENSURE(f, err, PGTLS_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    for (;;) {
        if (used + 4096 + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *nbuf = realloc(buf, ncap);
            ENSURE(nbuf, err, PGTLS_ERR_NOMEM, "out of memory reading %s", path);
            buf = nbuf;
            cap = ncap;
        }
        size_t n = fread(buf + used, 1, cap - used - 1, f);
        used += n;
        ENSURE(used <= max_len, err, PGTLS_ERR_INPUT, "%s is larger than %zu bytes", path, max_len);
        if (n == 0) {
            ENSURE(!ferror(f), err, PGTLS_ERR_IO, "cannot read %s: %s", path, strerror(errno));
            break;
        }
    }
    buf[used] = '\0';
    *out_data = buf;
    buf = NULL;
    if (out_len)
        *out_len = used;
    result = 0;
out:
    if (f)
        fclose(f);
    free(buf);
    return result;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int fs_remove_tree(const char *path, pgtls_err *err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : err_set(err, PGTLS_ERR_IO, "cannot remove %s: %s", path,
                                             strerror(errno));
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
        return err_set(err, PGTLS_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

int fs_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

char *fs_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    if (la > 0 && a[la - 1] == '/')
        return str_printf("%s%s", a, b);
    return str_printf("%s/%s", a, b);
}

int str_to_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;
    if (!s)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

char *str_printf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

int str_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int str_ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

long long time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
