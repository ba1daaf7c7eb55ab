/* pgtls clients: result objects and JSON output. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_adapter.h"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are invalid. */
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

json_t *cl_json_str(const char *s)
{
    if (s == NULL)
        return json_null();
    size_t len = strlen(s);
    /* Worst case every byte becomes the 3-byte U+FFFD. */
    unsigned char *buf = malloc(len * 3 + 1);
    size_t o = 0;
    if (buf == NULL)
        return json_null();
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq_len((const unsigned char *)s + i, len - i);
        if (n == 0) {
            buf[o++] = 0xEF;
            buf[o++] = 0xBF;
            buf[o++] = 0xBD;
            i++;
        } else {
            memcpy(buf + o, s + i, n);
            o += n;
            i += n;
        }
    }
    json_t *v = json_stringn((const char *)buf, o);
    free(buf);
    return v != NULL ? v : json_null();
}

void cl_json_set_str(json_t *obj, const char *key, const char *s)
{
    json_object_set_new(obj, key, cl_json_str(s));
}

json_t *cl_result_new(const char *id)
{
    json_t *r = json_object();
    if (r == NULL)
        return NULL;
    /* Every key of docs/case-protocol.md "Result", in its order. */
    json_object_set_new(r, "id", cl_json_str(id));
    json_object_set_new(r, "connected", json_false());
    json_object_set_new(r, "tls", json_null());
    json_object_set_new(r, "tls_version", json_null());
    json_object_set_new(r, "cipher", json_null());
    json_object_set_new(r, "query_result", json_null());
    json_object_set_new(r, "error", json_null());
    json_object_set_new(r, "error_code", json_null());
    json_object_set_new(r, "elapsed_ms", json_integer(0));
    json_object_set_new(r, "chain", json_null());
    json_object_set_new(r, "unsupported", json_null());
    json_object_set_new(r, "notes", json_null());
    return r;
}

void cl_result_extra(json_t *result, const char *key, json_t *value)
{
    json_t *extra = json_object_get(result, "extra");
    if (!json_is_object(extra)) {
        extra = json_object();
        json_object_set_new(result, "extra", extra);
    }
    json_object_set_new(extra, key, value != NULL ? value : json_null());
}

int cl_print_line(json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    int rc = 0;
    if (text == NULL)
        text =
            strdup("{\"id\":null,\"connected\":false,\"error\":\"adapter: cannot encode result\"}");
    if (text == NULL)
        return -1;
    if (fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) == EOF)
        rc = -1;
    free(text);
    return rc;
}
