/* pgtls imds: a mock Azure Instance Metadata Service token endpoint on
 * loopback (docs/entra.md). Public API of the component. */
#ifndef PGTLS_IM_H
#define PGTLS_IM_H

#include "entra.h"
#include "err.h"
#include "im_http.h"

typedef struct im_response {
    int status;
    const char *content_type;
    char extra_headers[128]; /* "" or CRLF-terminated lines (Retry-After, Allow) */
    char *body;              /* heap */
    char identity[128];      /* the identity a token was issued for, or "" */
} im_response;

/* Answers one parsed request at time now (seconds since the epoch): the
 * token endpoint, the JWKS, or 404. Returns 0, or -1 when out of memory. */
int im_handle(const en_tenant *t, const im_request *req, long long now, im_response *out);
void im_response_cleanup(im_response *r);

typedef struct im_server im_server;

typedef struct im_options {
    const char *bind_addr; /* default 127.0.0.1 */
    int port;              /* 0: a free port */
    int timeout_ms;        /* a request head must arrive within it; 0: 5000 */
    int max_connections;   /* over it new connections get 503; 0: 256 */
    int log_fd;            /* one line per request, or -1 */
} im_options;

/* Binds the listener (the tenant is borrowed and must outlive the server).
 * Returns NULL with a message in err (address in use...). */
im_server *im_server_new(const en_tenant *t, const im_options *o, pgtls_err *err);
/* The bound port. */
int im_server_port(const im_server *s);
/* Serves in background threads. Returns 0 or -1 with err. */
int im_server_start(im_server *s, pgtls_err *err);
/* Number of requests answered so far (any status). */
long im_server_requests(im_server *s);
/* Stops accepting, ends open connections, waits for their threads. */
void im_server_stop(im_server *s);
/* Frees; accepts NULL; stops first. */
void im_server_free(im_server *s);

/* `pgtls imds ...`: argv[0] is the subcommand name; returns the exit status
 * (0 ok, 1 findings or failures, 2 usage or input error). */
int im_cli_main(int argc, char **argv);

#endif
