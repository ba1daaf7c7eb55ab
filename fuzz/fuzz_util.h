/* pgtls fuzz targets: helpers shared by the targets (fuzz/README.md). */
#ifndef PGTLS_FUZZ_UTIL_H
#define PGTLS_FUZZ_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated heap copy of the input (text parsers); NULL on OOM. */
static inline char *fz_cstr(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

/* Splits the input at the first NUL byte: *a gets the text before, *b the
 * rest (both NUL-terminated heap copies; free both). */
static inline int fz_split2(const uint8_t *p, size_t n, char **a, char **b)
{
    const uint8_t *z = memchr(p, 0, n);
    size_t k = z ? (size_t)(z - p) : n;
    *a = fz_cstr(p, k);
    *b = fz_cstr(z ? z + 1 : p + n, z ? n - k - 1 : 0);
    if (!*a || !*b) {
        free(*a);
        free(*b);
        return -1;
    }
    return 0;
}

/* Writes the input to a private temporary file (readers that take a path);
 * returns its path in buf (cap bytes) or -1. The file is rewritten per input. */
int fz_write_temp(const char *name, const uint8_t *p, size_t n, char *buf, size_t cap);
#endif
