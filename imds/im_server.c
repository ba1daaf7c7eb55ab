/* pgtls imds: the socket side. One acceptor thread, one detached thread per
 * connection; every read waits in poll() with the request timeout and the
 * stop pipe, so a slow client gets 408 and a stopping server never hangs. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "im.h"

struct im_server {
    const en_tenant *tenant;
    im_options o;
    int listen_fd, port;
    int stop_pipe[2];
    pthread_t acceptor;
    int started;
    atomic_int stopping;
    atomic_int open_conns;
    atomic_long requests;
    pthread_mutex_t log_lock;
};

typedef struct conn {
    im_server *s;
    int fd;
    char peer[64];
} conn;

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void log_line(im_server *s, const char *peer, const char *method, const char *path,
                     int status, const char *identity, const char *reason)
{
    char line[1024];
    int n;
    if (s->o.log_fd < 0)
        return;
    n = snprintf(line, sizeof(line), "request peer=%s method=%s path=%s status=%d%s%s%s%s\n", peer,
                 method[0] ? method : "-", path[0] ? path : "-", status,
                 identity && identity[0] ? " identity=" : "", identity ? identity : "",
                 reason && reason[0] ? " reason=" : "", reason ? reason : "");
    if (n > (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 1;
    pthread_mutex_lock(&s->log_lock);
    if (write(s->o.log_fd, line, (size_t)n) < 0) {
        /* a log that cannot be written is not a reason to stop serving */
    }
    pthread_mutex_unlock(&s->log_lock);
}

static void send_error(im_server *s, conn *c, int status, const char *reason)
{
    char body[512], *resp;
    size_t len;
    /* Same JSON shape as the token endpoint's errors. */
    snprintf(body, sizeof(body),
             "{\"error\":\"invalid_request\",\"error_description\":\"%s%s%s\"}",
             im_status_text(status), reason[0] ? ": " : "", reason);
    resp = im_http_response(status, "application/json; charset=utf-8", "", body, 0, &len);
    /* counted and logged before the client can see the answer */
    atomic_fetch_add(&s->requests, 1);
    log_line(s, c->peer, "", "", status, NULL, reason);
    if (resp) {
        write_all(c->fd, resp, len);
        free(resp);
    }
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    im_server *s = c->s;
    size_t cap = IM_MAX_HEADER_BYTES + 1, len = 0;
    char *buf = malloc(cap);
    struct pollfd pf[2];
    pf[0].fd = c->fd;
    pf[0].events = POLLIN;
    pf[1].fd = s->stop_pipe[0];
    pf[1].events = POLLIN;
    while (buf && !atomic_load(&s->stopping)) {
        im_request req;
        size_t used = 0;
        int status = 400, rc;
        char reason[200] = "";
        im_parse_status ps = len ? im_http_parse(buf, len, &req, &used, &status, reason,
                                                  sizeof(reason))
                                 : IM_PARSE_INCOMPLETE;
        if (ps == IM_PARSE_INCOMPLETE) {
            ssize_t r;
            rc = poll(pf, 2, s->o.timeout_ms);
            if (rc < 0 && errno == EINTR)
                continue;
            if (rc == 0) {
                /* Slow client: 408 if it had started a request, else close. */
                if (len)
                    send_error(s, c, 408, "no complete request head within the timeout");
                break;
            }
            if (rc < 0 || (pf[1].revents & POLLIN))
                break;
            r = recv(c->fd, buf + len, cap - len, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            len += (size_t)r;
            continue;
        }
        if (ps == IM_PARSE_ERROR) {
            send_error(s, c, status, reason);
            break;
        }
        {
            im_response resp;
            char *wire;
            size_t wlen;
            int keep = req.keep_alive;
            if (im_handle(s->tenant, &req, (long long)time(NULL), &resp) < 0 || !resp.body) {
                im_response_cleanup(&resp);
                im_request_cleanup(&req);
                send_error(s, c, 503, "out of memory");
                break;
            }
            wire = im_http_response(resp.status, resp.content_type, resp.extra_headers,
                                    strcmp(req.method, "HEAD") ? resp.body : "", keep, &wlen);
            atomic_fetch_add(&s->requests, 1);
            log_line(s, c->peer, req.method, req.path, resp.status, resp.identity, "");
            rc = wire ? write_all(c->fd, wire, wlen) : -1;
            free(wire);
            im_response_cleanup(&resp);
            im_request_cleanup(&req);
            if (rc < 0 || !keep)
                break;
            memmove(buf, buf + used, len - used);
            len -= used;
        }
    }
    free(buf);
    close(c->fd);
    /* OpenSSL's per-thread state (the DRBGs that RSA signing used) is
     * otherwise freed by a thread-exit destructor after the count below
     * says this thread is gone: free it while still counted. */
    OPENSSL_thread_stop();
    atomic_fetch_sub(&s->open_conns, 1);
    free(c);
    return NULL;
}

static void *acceptor_main(void *arg)
{
    im_server *s = arg;
    struct pollfd pf[2];
    pf[0].fd = s->listen_fd;
    pf[0].events = POLLIN;
    pf[1].fd = s->stop_pipe[0];
    pf[1].events = POLLIN;
    while (!atomic_load(&s->stopping)) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd, rc = poll(pf, 2, -1);
        conn *c;
        pthread_t th;
        pthread_attr_t attr;
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0 || (pf[1].revents & POLLIN))
            break;
        fd = accept(s->listen_fd, (struct sockaddr *)&ss, &sl);
        if (fd < 0)
            continue;
        c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->s = s;
        c->fd = fd;
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->peer, sizeof(c->peer));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, c->peer,
                      sizeof(c->peer));
        if (atomic_load(&s->open_conns) >= s->o.max_connections) {
            send_error(s, c, 503, "too many connections");
            close(fd);
            free(c);
            continue;
        }
        atomic_fetch_add(&s->open_conns, 1);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        if (pthread_create(&th, &attr, conn_main, c) != 0) {
            atomic_fetch_sub(&s->open_conns, 1);
            close(fd);
            free(c);
        }
        pthread_attr_destroy(&attr);
    }
    return NULL;
}

im_server *im_server_new(const en_tenant *t, const im_options *o, pgtls_err *err)
{
    im_server *s = NULL, *result = NULL;
    struct sockaddr_storage ss;
    socklen_t sl;
    int one = 1;
    const char *addr = o && o->bind_addr ? o->bind_addr : "127.0.0.1";
    memset(&ss, 0, sizeof(ss));
    s = calloc(1, sizeof(*s));
    ENSURE(s, err, PGTLS_ERR_NOMEM, "out of memory");
    s->tenant = t;
    s->listen_fd = s->stop_pipe[0] = s->stop_pipe[1] = -1;
    if (o)
        s->o = *o;
    if (s->o.timeout_ms <= 0)
        s->o.timeout_ms = 5000;
    if (s->o.max_connections <= 0)
        s->o.max_connections = 256;
    pthread_mutex_init(&s->log_lock, NULL);
    if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)s->o.port);
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ss.ss_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)s->o.port);
        sl = sizeof(struct sockaddr_in6);
    } else {
        err_set(err, PGTLS_ERR_USAGE, "--listen %s is not an IPv4 or IPv6 address", addr);
        goto out;
    }
    s->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ENSURE(s->listen_fd >= 0, err, PGTLS_ERR_IO, "socket: %s", strerror(errno));
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ENSURE(bind(s->listen_fd, (struct sockaddr *)&ss, sl) == 0, err, PGTLS_ERR_IO,
           "cannot listen on %s port %d: %s (choose another --port, or 0 for a free one)", addr,
           s->o.port, strerror(errno));
    ENSURE(listen(s->listen_fd, 128) == 0, err, PGTLS_ERR_IO, "listen: %s", strerror(errno));
    sl = sizeof(ss);
    getsockname(s->listen_fd, (struct sockaddr *)&ss, &sl);
    s->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)&ss)->sin6_port);
    ENSURE(pipe2(s->stop_pipe, O_CLOEXEC) == 0, err, PGTLS_ERR_IO, "pipe: %s", strerror(errno));
    result = s;
    s = NULL;
out:
    im_server_free(s);
    return result;
}

int im_server_port(const im_server *s)
{
    return s->port;
}

long im_server_requests(im_server *s)
{
    return atomic_load(&s->requests);
}

int im_server_start(im_server *s, pgtls_err *err)
{
    sigset_t all, old;
    int rc;
    /* The server's threads leave the process's signals to the caller. */
    sigemptyset(&all);
    sigaddset(&all, SIGPIPE);
    sigaddset(&all, SIGHUP);
    sigaddset(&all, SIGINT);
    sigaddset(&all, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&s->acceptor, NULL, acceptor_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return err_set(err, PGTLS_ERR_INTERNAL, "cannot start the server thread: %s",
                       strerror(rc));
    s->started = 1;
    return 0;
}

void im_server_stop(im_server *s)
{
    if (!s || atomic_exchange(&s->stopping, 1))
        return;
    if (s->stop_pipe[1] >= 0 && write(s->stop_pipe[1], "x", 1) < 0) {
        /* the pipe cannot be full: one byte is ever written */
    }
    if (s->started)
        pthread_join(s->acceptor, NULL);
    /* Connection threads see the stop pipe and end within one poll. */
    for (int i = 0; i < 500 && atomic_load(&s->open_conns) > 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void im_server_free(im_server *s)
{
    if (!s)
        return;
    im_server_stop(s);
    if (atomic_load(&s->open_conns) > 0)
        return; /* a thread still holds s: leak it rather than free under it */
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->stop_pipe[0] >= 0)
        close(s->stop_pipe[0]);
    if (s->stop_pipe[1] >= 0)
        close(s->stop_pipe[1]);
    pthread_mutex_destroy(&s->log_lock);
    free(s);
}
