/* pgtls imds: a strict, bounded HTTP/1.1 request parser (RFC 9112) and
 * response writer, pure (no sockets). Only what an instance metadata
 * service needs: GET/HEAD without a body, origin-form or absolute-form
 * targets, CRLF line endings. */
#ifndef PGTLS_IM_HTTP_H
#define PGTLS_IM_HTTP_H

#include <stddef.h>

#define IM_MAX_REQUEST_LINE 8192 /* longer: 414 URI Too Long */
#define IM_MAX_HEADER_BYTES 16384 /* request line + headers; more: 431 */
#define IM_MAX_HEADERS 64         /* more: 431 */
#define IM_MAX_PARAMS 32

typedef struct im_request {
    char method[16];
    char path[1024];   /* percent-decoded path, no query */
    char version[16];  /* HTTP/1.0 or HTTP/1.1 */
    size_t num_headers;
    struct {
        char *name, *value; /* point into the parser's copy */
    } headers[IM_MAX_HEADERS];
    size_t num_params;
    struct {
        char name[64];
        char value[2048]; /* percent-decoded */
    } params[IM_MAX_PARAMS];
    int keep_alive;
    char *raw; /* heap copy of the head, owned */
} im_request;

typedef enum {
    IM_PARSE_OK = 0,
    IM_PARSE_INCOMPLETE = 1, /* need more bytes (and within the limits) */
    IM_PARSE_ERROR = -1      /* *out_status and *out_reason say why */
} im_parse_status;

/* Parses one request head from buf[0..len). On IM_PARSE_OK *out_consumed
 * is the head's length (the caller keeps the rest for the next request) and
 * req is filled (im_request_cleanup frees it). On IM_PARSE_ERROR,
 * *out_status is the HTTP status to answer (400, 414, 431, 501, 505) and
 * out_reason a one-line reason; req needs no cleanup. */
im_parse_status im_http_parse(const char *buf, size_t len, im_request *req, size_t *out_consumed,
                              int *out_status, char *out_reason, size_t reason_cap);
void im_request_cleanup(im_request *req);

/* Case-insensitive header lookup; the value has no surrounding blanks.
 * NULL when absent. *out_count (may be NULL) gets how many there are. */
const char *im_header(const im_request *req, const char *name, int *out_count);
/* Query parameter by exact name; NULL when absent. *out_count as above. */
const char *im_param(const im_request *req, const char *name, int *out_count);

/* Standard reason phrase of a status ("Bad Request"). */
const char *im_status_text(int status);

/* Formats a whole response (status line, Content-Type, Content-Length,
 * extra header lines, blank line, body) into a heap string; *out_len gets
 * its length. extra_headers is "" or lines each ending in CRLF. NULL on OOM. */
char *im_http_response(int status, const char *content_type, const char *extra_headers,
                       const char *body, int keep_alive, size_t *out_len);

#endif
