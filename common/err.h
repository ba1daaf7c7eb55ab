/* pgtls: one error type for every component.
 *
 * Errors go into a caller-owned pgtls_err (no global state). The code picks the
 * process exit status; the message is one readable line naming the thing and
 * what to do about it.
 */
#ifndef PGTLS_ERR_H
#define PGTLS_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* X-macro: name, exit status, short description. */
#define PGTLS_ERRORS(X)                                                                            \
    X(PGTLS_OK, 0, "success")                                                                      \
    X(PGTLS_ERR_USAGE, 2, "usage error")                                                           \
    X(PGTLS_ERR_INPUT, 2, "invalid input")                                                         \
    X(PGTLS_ERR_CONFIG, 2, "invalid configuration")                                                \
    X(PGTLS_ERR_IO, 2, "input/output error")                                                       \
    X(PGTLS_ERR_OSSL, 2, "OpenSSL error")                                                          \
    X(PGTLS_ERR_PROTOCOL, 1, "protocol error")                                                     \
    X(PGTLS_ERR_NOMEM, 2, "out of memory")                                                         \
    X(PGTLS_ERR_TIMEOUT, 1, "timed out")                                                           \
    X(PGTLS_ERR_FAILED, 1, "check failed")                                                         \
    X(PGTLS_ERR_INTERNAL, 2, "internal error")

typedef enum {
#define PGTLS_ERR_ENUM(name, status, text) name,
    PGTLS_ERRORS(PGTLS_ERR_ENUM)
#undef PGTLS_ERR_ENUM
        PGTLS_ERR_COUNT
} pgtls_err_code;

typedef struct pgtls_err {
    pgtls_err_code code;
    char msg[2048];
} pgtls_err;

/* Resets err to PGTLS_OK with an empty message. Accepts NULL. */
void err_clear(pgtls_err *err);

/* Sets code and a printf-style message. Returns -1 so callers can
 * `return err_set(...)`. Accepts err == NULL (the message is dropped). */
int err_set(pgtls_err *err, pgtls_err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int err_setv(pgtls_err *err, pgtls_err_code code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Like err_set with PGTLS_ERR_OSSL, and appends the OpenSSL error queue
 * (which it then clears) as ": reason; reason". Returns -1. */
int err_ossl(pgtls_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to an already-set message (adds context while
 * unwinding). Returns -1. */
int err_prefix(pgtls_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Name and description of a code ("PGTLS_ERR_IO", "input/output error"). */
const char *err_code_name(pgtls_err_code code);
const char *err_code_text(pgtls_err_code code);

/* Process exit status for a code: 0 ok, 1 findings/failures, 2 usage/input. */
int err_exit_status(pgtls_err_code code);

/* Guard macros for the single-exit style: `int result = -1; ... out:`. */
#define TRY(expr)                                                                                  \
    do {                                                                                           \
        if ((expr) < 0)                                                                            \
            goto out;                                                                              \
    } while (0)

#define ENSURE(cond, err, code, ...)                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            err_set((err), (code), __VA_ARGS__);                                                   \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* Clears the OpenSSL error queue before the call and captures it after a
 * failure (a NULL pointer or a value <= 0). */
#define TRY_OSSL(expr, err, ...)                                                                   \
    do {                                                                                           \
        ERR_clear_error();                                                                         \
        if (!(expr)) {                                                                             \
            err_ossl((err), __VA_ARGS__);                                                          \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

#define TRY_OSSL_POS(expr, err, ...)                                                               \
    do {                                                                                           \
        ERR_clear_error();                                                                         \
        if ((expr) <= 0) {                                                                         \
            err_ossl((err), __VA_ARGS__);                                                          \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

#endif
