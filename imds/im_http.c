/* pgtls imds: strict HTTP/1.1 request head parser (RFC 9112 sections 2-5,
 * RFC 9110 5.1 field names, RFC 3986 percent-encoding). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "im_http.h"

#define REASON(...)                                                                                \
    do {                                                                                           \
        if (out_reason)                                                                            \
            snprintf(out_reason, reason_cap, __VA_ARGS__);                                         \
    } while (0)

/* RFC 9110 5.6.2 tchar */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out (cap bytes); '+' means a space in a
 * query (form encoding, which clients use). Rejects bad escapes, NUL and
 * control bytes, and overlong values. */
static int pct_decode(const char *s, size_t n, int plus_space, char *out, size_t cap)
{
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int h, l;
            if (i + 2 >= n)
                return -1;
            h = hexval(s[i + 1]);
            l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = h << 4 | l;
            i += 2;
        } else if (c == '+' && plus_space)
            c = ' ';
        if (c < 0x20 || c == 0x7f)
            return -1;
        if (o + 1 >= cap)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = 0;
    return 0;
}

static int parse_query(im_request *req, const char *q, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t end = i, eq;
        while (end < n && q[end] != '&')
            end++;
        if (end > i) {
            if (req->num_params >= IM_MAX_PARAMS)
                return -1;
            for (eq = i; eq < end && q[eq] != '='; eq++)
                ;
            if (pct_decode(q + i, eq - i, 1, req->params[req->num_params].name,
                           sizeof(req->params[0].name)) < 0 ||
                pct_decode(q + eq + (eq < end), end - eq - (eq < end), 1,
                           req->params[req->num_params].value,
                           sizeof(req->params[0].value)) < 0)
                return -1;
            req->num_params++;
        }
        i = end + 1;
    }
    return 0;
}

/* Request target: origin-form "/p?q" or absolute-form "http://host/p?q"
 * (RFC 9112 3.2.1-3.2.2; proxies and some clients send the latter). */
static int parse_target(im_request *req, const char *t, size_t n)
{
    const char *q;
    size_t plen;
    if (n > 7 && !strncasecmp(t, "http://", 7)) {
        const char *slash = memchr(t + 7, '/', n - 7);
        if (!slash)
            return -1;
        n -= (size_t)(slash - t);
        t = slash;
    }
    if (n == 0 || t[0] != '/')
        return -1;
    q = memchr(t, '?', n);
    plen = q ? (size_t)(q - t) : n;
    if (pct_decode(t, plen, 0, req->path, sizeof(req->path)) < 0)
        return -1;
    if (q && parse_query(req, q + 1, n - plen - 1) < 0)
        return -1;
    return 0;
}

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = 0;
    return s;
}

im_parse_status im_http_parse(const char *buf, size_t len, im_request *req, size_t *out_consumed,
                              int *out_status, char *out_reason, size_t reason_cap)
{
    const char *end = NULL, *eol;
    size_t head_len, i;
    char *line, *next, *sp1, *sp2;
    const char *v;
    int count;
    memset(req, 0, sizeof(*req));
    *out_status = 400;
    /* Find the blank line that ends the head, within the limits. */
    for (i = 0; i + 3 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            end = buf + i;
            break;
        }
    eol = memchr(buf, '\n', len < IM_MAX_REQUEST_LINE + 2 ? len : IM_MAX_REQUEST_LINE + 2);
    if (!eol && len > IM_MAX_REQUEST_LINE + 1) {
        *out_status = 414;
        REASON("request line longer than %d bytes", IM_MAX_REQUEST_LINE);
        return IM_PARSE_ERROR;
    }
    if (!end) {
        if (len >= IM_MAX_HEADER_BYTES) {
            *out_status = 431;
            REASON("request head longer than %d bytes", IM_MAX_HEADER_BYTES);
            return IM_PARSE_ERROR;
        }
        return IM_PARSE_INCOMPLETE;
    }
    head_len = (size_t)(end - buf) + 4;
    if (head_len > IM_MAX_HEADER_BYTES) {
        *out_status = 431;
        REASON("request head longer than %d bytes", IM_MAX_HEADER_BYTES);
        return IM_PARSE_ERROR;
    }
    for (i = 0; i < head_len - 4; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == 0 || (c == '\n' && (i == 0 || buf[i - 1] != '\r')) ||
            (c == '\r' && buf[i + 1] != '\n')) {
            REASON("bare CR, bare LF or NUL in the request head");
            return IM_PARSE_ERROR;
        }
    }
    req->raw = malloc(head_len - 3);
    if (!req->raw) {
        *out_status = 503;
        REASON("out of memory");
        return IM_PARSE_ERROR;
    }
    memcpy(req->raw, buf, head_len - 4);
    req->raw[head_len - 4] = 0;

    /* Request line: method SP request-target SP HTTP-version. */
    line = req->raw;
    next = strstr(line, "\r\n");
    if (next) {
        *next = 0;
        next += 2;
    }
    if (strlen(line) > IM_MAX_REQUEST_LINE) {
        *out_status = 414;
        REASON("request line longer than %d bytes", IM_MAX_REQUEST_LINE);
        goto fail;
    }
    sp1 = strchr(line, ' ');
    sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || sp1 == line || sp2 == sp1 + 1) {
        REASON("malformed request line (expected METHOD SP TARGET SP HTTP/1.1)");
        goto fail;
    }
    *sp1 = *sp2 = 0;
    for (char *m = line; *m; m++)
        if (!is_tchar((unsigned char)*m)) {
            REASON("malformed method");
            goto fail;
        }
    if (strlen(line) >= sizeof(req->method)) {
        *out_status = 501;
        REASON("unknown method");
        goto fail;
    }
    snprintf(req->method, sizeof(req->method), "%s", line);
    if (strcmp(sp2 + 1, "HTTP/1.1") != 0 && strcmp(sp2 + 1, "HTTP/1.0") != 0) {
        if (strncmp(sp2 + 1, "HTTP/", 5) == 0 && strlen(sp2 + 1) == 8 && sp2[6] >= '0' &&
            sp2[6] <= '9' && sp2[7] == '.') {
            *out_status = 505;
            REASON("HTTP version %s not supported", sp2 + 1);
        } else
            REASON("malformed HTTP version");
        goto fail;
    }
    snprintf(req->version, sizeof(req->version), "%s", sp2 + 1);
    for (char *t = sp1 + 1; *t; t++)
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f) {
            REASON("request target has a blank or non-ASCII byte");
            goto fail;
        }
    if (parse_target(req, sp1 + 1, strlen(sp1 + 1)) < 0) {
        REASON("malformed request target (bad percent-encoding, too long, or more than %d "
               "parameters)",
               IM_MAX_PARAMS);
        goto fail;
    }
    /* Header fields: name ":" OWS value OWS; no obsolete line folding. */
    while (next && *next) {
        char *colon, *l = next;
        next = strstr(l, "\r\n");
        if (next) {
            *next = 0;
            next += 2;
        }
        if (l[0] == ' ' || l[0] == '\t') {
            REASON("obsolete line folding in a header");
            goto fail;
        }
        colon = strchr(l, ':');
        if (!colon || colon == l) {
            REASON("header line without a name and colon");
            goto fail;
        }
        *colon = 0;
        for (char *c = l; *c; c++)
            if (!is_tchar((unsigned char)*c)) {
                REASON("invalid header name (blank before the colon?)");
                goto fail;
            }
        if (req->num_headers >= IM_MAX_HEADERS) {
            *out_status = 431;
            REASON("more than %d header fields", IM_MAX_HEADERS);
            goto fail;
        }
        req->headers[req->num_headers].name = l;
        req->headers[req->num_headers].value = trim(colon + 1);
        req->num_headers++;
    }
    if (!strcmp(req->version, "HTTP/1.1")) {
        im_header(req, "Host", &count);
        if (count != 1) {
            REASON("HTTP/1.1 request with %d Host headers (exactly one needed)", count);
            goto fail;
        }
    }
    if (im_header(req, "Transfer-Encoding", NULL)) {
        *out_status = 501;
        REASON("request bodies are not accepted (Transfer-Encoding)");
        goto fail;
    }
    v = im_header(req, "Content-Length", &count);
    if (count > 1 || (v && strcmp(v, "0") != 0)) {
        REASON("request bodies are not accepted (Content-Length)");
        goto fail;
    }
    v = im_header(req, "Connection", NULL);
    req->keep_alive = !strcmp(req->version, "HTTP/1.1");
    if (v && !strcasecmp(v, "close"))
        req->keep_alive = 0;
    else if (v && !strcasecmp(v, "keep-alive"))
        req->keep_alive = 1;
    *out_consumed = head_len;
    return IM_PARSE_OK;
fail:
    im_request_cleanup(req);
    return IM_PARSE_ERROR;
}

void im_request_cleanup(im_request *req)
{
    free(req->raw);
    req->raw = NULL;
    req->num_headers = 0;
}

const char *im_header(const im_request *req, const char *name, int *out_count)
{
    const char *found = NULL;
    int n = 0;
    for (size_t i = 0; i < req->num_headers; i++)
        if (!strcasecmp(req->headers[i].name, name)) {
            if (!found)
                found = req->headers[i].value;
            n++;
        }
    if (out_count)
        *out_count = n;
    return found;
}

const char *im_param(const im_request *req, const char *name, int *out_count)
{
    const char *found = NULL;
    int n = 0;
    for (size_t i = 0; i < req->num_params; i++)
        if (!strcmp(req->params[i].name, name)) {
            if (!found)
                found = req->params[i].value;
            n++;
        }
    if (out_count)
        *out_count = n;
    return found;
}

const char *im_status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 414:
        return "URI Too Long";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    }
    return "Error";
}

char *im_http_response(int status, const char *content_type, const char *extra_headers,
                       const char *body, int keep_alive, size_t *out_len)
{
    size_t blen = strlen(body), cap = 512 + strlen(extra_headers) + blen;
    char *out = malloc(cap);
    int n;
    if (!out)
        return NULL;
    /* Server: the header Azure's IMDS sends. */
    n = snprintf(out, cap,
                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nServer: IMDS/150.870.65.1854\r\n"
                 "Content-Length: %zu\r\n%s%s\r\n",
                 status, im_status_text(status), content_type, blen,
                 keep_alive ? "" : "Connection: close\r\n", extra_headers);
    if (n < 0 || (size_t)n + blen + 1 > cap) {
        free(out);
        return NULL;
    }
    memcpy(out + n, body, blen + 1);
    *out_len = (size_t)n + blen;
    return out;
}
