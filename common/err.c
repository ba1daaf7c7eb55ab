/* pgtls: error contexts and the message table. */
#include "err.h"

#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int status;
    const char *text;
} err_table[] = {
#define PGTLS_ERR_ROW(name, status, text) {#name, status, text},
    PGTLS_ERRORS(PGTLS_ERR_ROW)
#undef PGTLS_ERR_ROW
};

void err_clear(pgtls_err *err)
{
    if (!err)
        return;
    err->code = PGTLS_OK;
    err->msg[0] = '\0';
}

int err_setv(pgtls_err *err, pgtls_err_code code, const char *fmt, va_list ap)
{
    if (!err)
        return -1;
    err->code = code;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    return -1;
}

int err_set(pgtls_err *err, pgtls_err_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_setv(err, code, fmt, ap);
    va_end(ap);
    return -1;
}

int err_ossl(pgtls_err *err, const char *fmt, ...)
{
    va_list ap;
    unsigned long e;
    size_t used;

    va_start(ap, fmt);
    err_setv(err, PGTLS_ERR_OSSL, fmt, ap);
    va_end(ap);
    if (!err) {
        ERR_clear_error();
        return -1;
    }
    used = strlen(err->msg);
    for (int i = 0; (e = ERR_get_error()) != 0; i++) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof(buf));
        if (used + 3 < sizeof(err->msg)) {
            int n = snprintf(err->msg + used, sizeof(err->msg) - used, "%s%s", i ? "; " : ": ",
                             ERR_reason_error_string(e) ? ERR_reason_error_string(e) : buf);
            if (n > 0)
                used += (size_t)n;
            if (used >= sizeof(err->msg))
                used = sizeof(err->msg) - 1;
        }
    }
    return -1;
}

int err_prefix(pgtls_err *err, const char *fmt, ...)
{
    char prefix[512], old[sizeof(err->msg)];
    va_list ap;

    if (!err)
        return -1;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    /* Build by hand: the result is cut to the buffer on purpose. */
    size_t lp = strlen(prefix), lo = strnlen(old, sizeof(old) - 1), cap = sizeof(err->msg) - 1;
    size_t n = 0;
    memcpy(err->msg, prefix, lp < cap ? lp : cap);
    n = lp < cap ? lp : cap;
    if (n + 2 <= cap) {
        memcpy(err->msg + n, ": ", 2);
        n += 2;
    }
    if (n + lo > cap)
        lo = cap - n;
    memcpy(err->msg + n, old, lo);
    err->msg[n + lo] = '\0';
    return -1;
}

const char *err_code_name(pgtls_err_code code)
{
    if ((int)code < 0 || code >= PGTLS_ERR_COUNT)
        return "PGTLS_ERR_UNKNOWN";
    return err_table[code].name;
}

const char *err_code_text(pgtls_err_code code)
{
    if ((int)code < 0 || code >= PGTLS_ERR_COUNT)
        return "unknown error";
    return err_table[code].text;
}

int err_exit_status(pgtls_err_code code)
{
    if ((int)code < 0 || code >= PGTLS_ERR_COUNT)
        return 2;
    return err_table[code].status;
}
