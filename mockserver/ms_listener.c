/* pgtls mockserver: the server object of ms.h. One acceptor thread polls
 * every listener; each connection runs ms_session_run on its own detached
 * thread with a small stack; the event of a connection is written before it
 * stops counting as open, so ms_server_wait_idle means "all events out".
 * A thread whose connection ended waits a while (IDLE_KEEP_MS, at most
 * MAX_IDLE_WORKERS of them) for the next accepted connection rather than
 * exiting: a warm thread keeps OpenSSL's per-thread state (DRBG, error
 * queue), its malloc arena and its stack pages, which a new thread pays for
 * again on every handshake (docs/performance.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"
#include "fs.h"
#include "ms.h"
#include "ms_conn.h"
#include "ms_entra.h"

#define CONN_STACK_SIZE (512 * 1024)
#define HARD_EXTRA_CONNECTIONS 256 /* beyond max_connections we close at once */
#define IDLE_KEEP_MS 2000          /* how long a finished thread waits for the next connection */
#define MAX_IDLE_WORKERS 64        /* idle threads kept at most */

typedef struct listener {
    int id;
    char *scenario;
    char **overrides; /* NULL-terminated, owned */
    int fd;
    int port;
    ms_profile *prof; /* guarded by the server mutex */
    int open;
    /* Scheduled rotation (ms_server_rotate_after): after `rotate_after`
     * accepted connections, new ones get rotate_prof. Guarded by the mutex. */
    ms_profile *rotate_prof;
    char *rotate_scenario;
    long accepted, rotate_after;
} listener;

typedef struct conn_node {
    ms_conn c;
    ms_server *srv;
    listener *l;
    ms_activity pub; /* published copy of c.act, guarded by the server mutex */
    int published;
    struct conn_node *prev, *next;
    struct conn_node *qnext; /* hand-off queue to an idle thread */
} conn_node;

struct ms_server {
    ms_options opts;
    char *bind_addr;
    char *fixtures_dir;
    fx_index *idx;
    pthread_mutex_t mu, log_mu;
    pthread_cond_t cv;
    listener **ls;
    size_t num_ls, cap_ls;
    conn_node *conns;
    int num_conns;
    conn_node *queue, *queue_tail; /* accepted, waiting for an idle thread */
    int queued, idle_workers, workers;
    pthread_cond_t work_cv;
    int wake[2];
    int stop_pipe[2]; /* written once at stop; every connection polls it */
    pthread_t acceptor;
    /* started is read by ms_server_listen and ms_server_wait_idle from
     * other threads than the one that starts and stops the server. */
    atomic_int started;
    int stopped;
    atomic_int stopping;
    int next_pid;
    ms_entra *entra; /* made by the first auth=entra listener (ms_entra.c) */
};

/* ---- event delivery ---- */

/* Moves a listener's pending rotation in (server mutex held): new
 * connections get the new profile, open ones keep their reference. */
static void swap_in_rotation(listener *l)
{
    ms_profile *old = l->prof;
    l->prof = l->rotate_prof;
    l->rotate_prof = NULL;
    free(l->scenario);
    l->scenario = l->rotate_scenario;
    l->rotate_scenario = NULL;
    l->rotate_after = 0;
    ms_profile_unref(old);
}

static void emit(ms_server *s, const ms_event *ev)
{
    char *json = ms_event_json(ev);
    if (!json)
        return;
    if (s->opts.event_fd >= 0) {
        struct iovec iov[2] = {{json, strlen(json)}, {"\n", 1}};
        size_t left = iov[0].iov_len + 1;
        pthread_mutex_lock(&s->log_mu);
        /* One writev per line; a short write (pipe) is finished by hand. */
        while (left > 0) {
            ssize_t w = writev(s->opts.event_fd, iov, 2);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            left -= (size_t)w;
            while (w > 0) {
                size_t take = (size_t)w < iov[0].iov_len ? (size_t)w : iov[0].iov_len;
                iov[0].iov_base = (char *)iov[0].iov_base + take;
                iov[0].iov_len -= take;
                w -= (ssize_t)take;
                if (iov[0].iov_len == 0 && w > 0) {
                    iov[1].iov_len -= (size_t)w;
                    w = 0;
                }
            }
        }
        pthread_mutex_unlock(&s->log_mu);
    }
    if (s->opts.on_event)
        s->opts.on_event(s->opts.userdata, ev->listener_id, json);
    free(json);
}

/* ---- live connections for pg_stat_activity ---- */

static size_t activity_cb(void *ud, ms_activity *rows, size_t max)
{
    ms_server *s = ud;
    conn_node *n;
    size_t k = 0;
    pthread_mutex_lock(&s->mu);
    for (n = s->conns; n && (!rows || k < max); n = n->next)
        if (n->published) {
            if (rows)
                rows[k] = n->pub;
            k++;
        }
    pthread_mutex_unlock(&s->mu);
    return k;
}

static void publish_cb(ms_conn *c)
{
    conn_node *n = (conn_node *)c; /* c is the first member */
    pthread_mutex_lock(&n->srv->mu);
    n->pub = c->act;
    n->published = 1;
    pthread_mutex_unlock(&n->srv->mu);
}

/* ---- connection threads ---- */

static void *conn_thread(void *arg)
{
    conn_node *n = arg;
    ms_server *s = n->srv;
    for (;;) {
        listener *l = n->l;
        struct timespec ts;
        ms_session_run(&n->c);
        ms_tls_conn_free(&n->c);
        pthread_mutex_lock(&s->mu);
        if (n->prev)
            n->prev->next = n->next;
        else
            s->conns = n->next;
        if (n->next)
            n->next->prev = n->prev;
        pthread_mutex_unlock(&s->mu);
        close(n->c.fd);
        emit(s, &n->c.ev);
        ms_conn_cleanup(&n->c);
        free(n);
        n = NULL;
        pthread_mutex_lock(&s->mu);
        l->open--;
        s->num_conns--;
        pthread_cond_broadcast(&s->cv);
        /* Stay warm for the next connection a while (see the top). */
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += IDLE_KEEP_MS / 1000;
        ts.tv_nsec += (IDLE_KEEP_MS % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (s->idle_workers < MAX_IDLE_WORKERS) {
            s->idle_workers++;
            while (!s->queue && !atomic_load(&s->stopping))
                if (pthread_cond_timedwait(&s->work_cv, &s->mu, &ts) != 0)
                    break;
            s->idle_workers--;
        }
        if (s->queue) {
            n = s->queue;
            s->queue = n->qnext;
            if (!s->queue)
                s->queue_tail = NULL;
            s->queued--;
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        /* OpenSSL's per-thread state (its DRBGs, the error queue) is freed
         * by a thread-exit destructor, after this thread has stopped
         * counting: ms_server_stop would see no workers and the process
         * could exit with that state still allocated (a leak report under
         * LeakSanitizer, seen under load). Free it now, while counted; no
         * OpenSSL call follows. */
        OPENSSL_thread_stop();
        s->workers--;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
}

static void peer_of(const struct sockaddr_storage *ss, char *addr, size_t cap, int *port)
{
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, addr, (socklen_t)cap);
        *port = ntohs(a->sin6_port);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, addr, (socklen_t)cap);
        *port = ntohs(a->sin_port);
    }
}

/* Accepts one connection on l (called with s->mu held, so wait_idle never
 * sees a connection that left the backlog but is not counted yet). Returns
 * -1 when out of descriptors (the caller backs off), else 0. */
static int accept_one(ms_server *s, listener *l)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    conn_node *n;
    pthread_attr_t attr;
    struct timeval tv;
    int fd, one = 1, hard_limit;
    fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
    if (fd < 0)
        return errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM ? -1 : 0;
    n = calloc(1, sizeof(*n));
    if (!n) {
        close(fd);
        return -1;
    }
    n->srv = s;
    n->l = l;
    n->c.io = &ms_socket_io;
    n->c.fd = fd;
    /* accept_one runs with the server mutex held */
    n->c.prof = ms_profile_ref(l->prof);
    l->accepted++;
    if (l->rotate_prof && l->rotate_after > 0 && l->accepted >= l->rotate_after)
        swap_in_rotation(l); /* the next connection gets the new chain */
    n->c.stopping = &s->stopping;
    n->c.stop_fd = s->stop_pipe[0];
    n->c.timeout_ms = s->opts.timeout_ms;
    n->c.auth_timeout_ms = s->opts.auth_timeout_ms;
    n->c.auth_deadline_ms = ms_mono_ms() + s->opts.auth_timeout_ms;
    n->c.activity = activity_cb;
    n->c.activity_ud = s;
    n->c.publish = publish_cb;
    n->c.entra = s->entra;
    ms_conn_init(&n->c);
    n->c.ev.listener_id = l->id;
    n->c.ev.port = l->port;
    peer_of(&ss, n->c.ev.peer_addr, sizeof(n->c.ev.peer_addr), &n->c.ev.peer_port);
    n->c.pid = s->next_pid++;
    n->c.ev.pid = n->c.pid; /* accept order: the runner sorts a case's events by it */
    RAND_bytes((unsigned char *)&n->c.cancel_key, sizeof(n->c.cancel_key));
    tv.tv_sec = s->opts.timeout_ms / 1000;
    tv.tv_usec = (s->opts.timeout_ms % 1000) * 1000;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    s->num_conns++;
    l->open++;
    n->c.too_many = s->num_conns > s->opts.max_connections;
    n->next = s->conns;
    if (s->conns)
        s->conns->prev = n;
    s->conns = n;
    hard_limit = s->opts.max_connections + HARD_EXTRA_CONNECTIONS;
    if (s->num_conns <= hard_limit && s->idle_workers > s->queued) {
        /* A warm thread is waiting: hand the connection over. */
        n->qnext = NULL;
        if (s->queue_tail)
            s->queue_tail->qnext = n;
        else
            s->queue = n;
        s->queue_tail = n;
        s->queued++;
        pthread_cond_signal(&s->work_cv);
        return 0;
    }
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, CONN_STACK_SIZE);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (s->num_conns > hard_limit || pthread_create(&(pthread_t){0}, &attr, conn_thread, n) != 0) {
        /* No thread for it: close at once, still with its event. */
        pthread_attr_destroy(&attr);
        if (n->prev)
            n->prev->next = n->next;
        else
            s->conns = n->next;
        if (n->next)
            n->next->prev = n->prev;
        close(fd);
        ms_event_set_end(&n->c.ev, MS_END_SERVER_FATAL,
                         s->num_conns > hard_limit
                             ? "over the hard connection limit (%d): closed at once"
                             : "could not start a thread (%d connections)",
                         s->num_conns);
        n->c.ev.t_end_ms = n->c.ev.t_start_ms;
        pthread_mutex_unlock(&s->mu);
        emit(s, &n->c.ev);
        pthread_mutex_lock(&s->mu);
        ms_conn_cleanup(&n->c);
        free(n);
        s->num_conns--;
        l->open--;
        pthread_cond_broadcast(&s->cv);
        return 0;
    }
    s->workers++;
    pthread_attr_destroy(&attr);
    return 0;
}

static void block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void *acceptor_thread(void *arg)
{
    ms_server *s = arg;
    struct pollfd *pfd = NULL;
    listener **pl = NULL;
    block_signals(); /* connection threads inherit this mask */
    for (;;) {
        size_t n = 0, i;
        pthread_mutex_lock(&s->mu);
        if (atomic_load(&s->stopping)) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        free(pfd);
        free(pl);
        pfd = calloc(s->num_ls + 1, sizeof(*pfd));
        pl = calloc(s->num_ls + 1, sizeof(*pl));
        if (!pfd || !pl) {
            pthread_mutex_unlock(&s->mu);
            usleep(10000);
            continue;
        }
        pfd[n].fd = s->wake[0];
        pfd[n++].events = POLLIN;
        for (i = 0; i < s->num_ls; i++) {
            pl[n] = s->ls[i];
            pfd[n].fd = s->ls[i]->fd;
            pfd[n++].events = POLLIN;
        }
        pthread_mutex_unlock(&s->mu);
        if (poll(pfd, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            usleep(1000);
            continue;
        }
        if (pfd[0].revents) {
            char buf[64];
            while (read(s->wake[0], buf, sizeof(buf)) > 0)
                ;
            continue; /* rebuild the set (new listener or stop) */
        }
        {
            int starved = 0;
            pthread_mutex_lock(&s->mu);
            for (i = 1; i < n; i++)
                if (pfd[i].revents & POLLIN)
                    starved |= accept_one(s, pl[i]) < 0;
            pthread_mutex_unlock(&s->mu);
            if (starved) /* out of descriptors: let connections finish */
                usleep(10000);
        }
    }
    free(pfd);
    free(pl);
    return NULL;
}

static void wake_acceptor(ms_server *s)
{
    ssize_t w = write(s->wake[1], "w", 1);
    (void)w;
}

/* ---- public API ---- */

ms_server *ms_server_new(const ms_options *opts, pgtls_err *err)
{
    ms_server *s = calloc(1, sizeof(*s));
    if (!s) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->opts = *opts;
    s->wake[0] = s->wake[1] = -1;
    s->stop_pipe[0] = s->stop_pipe[1] = -1;
    if (s->opts.max_connections <= 0)
        s->opts.max_connections = 4096;
    if (s->opts.timeout_ms <= 0)
        s->opts.timeout_ms = 10000;
    if (s->opts.auth_timeout_ms <= 0)
        s->opts.auth_timeout_ms = 60000;
    s->bind_addr = strdup(opts->bind_addr && opts->bind_addr[0] ? opts->bind_addr : "127.0.0.1");
    s->fixtures_dir = strdup(opts->fixtures_dir ? opts->fixtures_dir : "fixtures");
    s->opts.bind_addr = s->bind_addr;
    s->opts.fixtures_dir = s->fixtures_dir;
    s->next_pid = 10000 + (int)(getpid() % 1000) * 10;
    atomic_init(&s->stopping, 0);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->log_mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    if (!s->bind_addr || !s->fixtures_dir) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0 ||
        pipe2(s->stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        err_set(err, PGTLS_ERR_IO, "cannot create a pipe: %s", strerror(errno));
        goto fail;
    }
    s->idx = fx_index_load(s->fixtures_dir, err);
    if (!s->idx)
        goto fail;
    return s;
fail:
    ms_server_free(s);
    return NULL;
}

static char **copy_list(const char *const *list)
{
    size_t n = 0, i;
    char **out;
    while (list && list[n])
        n++;
    out = calloc(n + 1, sizeof(char *));
    if (!out)
        return NULL;
    for (i = 0; i < n; i++)
        if (!(out[i] = strdup(list[i]))) {
            while (i--)
                free(out[i]);
            free(out);
            return NULL;
        }
    return out;
}

static void free_list(char **list)
{
    size_t i;
    for (i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

static int open_socket(ms_server *s, int port, int *out_fd, int *out_port, pgtls_err *err)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd = -1, one = 1;
    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, s->bind_addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, s->bind_addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in6);
    } else
        return err_set(err, PGTLS_ERR_CONFIG,
                       "listen address '%s' is not an IPv4 or IPv6 address (use 127.0.0.1 or ::1)",
                       s->bind_addr);
    if (port < 0 || port > 65535)
        return err_set(err, PGTLS_ERR_USAGE, "port %d is out of range (0-65535; 0 = a free one)",
                       port);
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return err_set(err, PGTLS_ERR_IO, "cannot create a socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
        int e = errno;
        close(fd);
        return err_set(err, PGTLS_ERR_CONFIG, "cannot listen on %s port %d: %s%s", s->bind_addr,
                       port, strerror(e),
                       e == EADDRINUSE ? " (choose another --port, or 0 for a free one)" : "");
    }
    if (listen(fd, 4096) < 0) {
        int e = errno;
        close(fd);
        return err_set(err, PGTLS_ERR_IO, "cannot listen on %s port %d: %s", s->bind_addr, port,
                       strerror(e));
    }
    sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *out_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    *out_fd = fd;
    return 0;
}

int ms_server_listen_ex(ms_server *s, const char *scenario, int port, const char *const *settings,
                        int *out_port, pgtls_err *err)
{
    const fx_scenario *sc;
    listener *l = NULL;
    ms_profile *prof = NULL;
    int fd = -1, bound = 0, id = -1;
    if (atomic_load(&s->stopping))
        return err_set(err, PGTLS_ERR_USAGE, "the server is stopped");
    pthread_mutex_lock(&s->mu);
    sc = fx_scenario_find(s->idx, scenario);
    if (sc)
        prof = ms_profile_new(sc, settings, err);
    pthread_mutex_unlock(&s->mu);
    if (!sc) {
        size_t i, n = 0;
        int more;
        char names[600] = "";
        /* s->idx only under the lock: a reload may free it. */
        pthread_mutex_lock(&s->mu);
        for (i = 0; i < fx_num_scenarios(s->idx) && n + 80 < sizeof(names); i++)
            n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "",
                                  fx_scenario_at(s->idx, i)->name);
        more = i < fx_num_scenarios(s->idx);
        pthread_mutex_unlock(&s->mu);
        return err_set(err, PGTLS_ERR_USAGE, "unknown scenario '%s' in %s (known: %s%s)", scenario,
                       s->fixtures_dir, names, more ? ", ..." : "");
    }
    if (!prof)
        return -1;
    if (!strcmp(prof->auth, "entra")) {
        pthread_mutex_lock(&s->mu);
        if (!s->entra)
            s->entra = ms_entra_new(s->fixtures_dir, err);
        pthread_mutex_unlock(&s->mu);
        if (!s->entra) {
            ms_profile_unref(prof);
            return -1;
        }
    }
    if (open_socket(s, port, &fd, &bound, err) < 0)
        goto fail;
    l = calloc(1, sizeof(*l));
    if (!l || !(l->scenario = strdup(scenario)) || !(l->overrides = copy_list(settings))) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    l->fd = fd;
    l->port = bound;
    l->prof = prof;
    pthread_mutex_lock(&s->mu);
    if (s->num_ls == s->cap_ls) {
        size_t ncap = s->cap_ls ? s->cap_ls * 2 : 8;
        listener **nl = realloc(s->ls, ncap * sizeof(*nl));
        if (!nl) {
            pthread_mutex_unlock(&s->mu);
            err_set(err, PGTLS_ERR_NOMEM, "out of memory");
            goto fail;
        }
        s->ls = nl;
        s->cap_ls = ncap;
    }
    l->id = id = (int)s->num_ls;
    s->ls[s->num_ls++] = l;
    pthread_mutex_unlock(&s->mu);
    if (atomic_load(&s->started))
        wake_acceptor(s);
    if (out_port)
        *out_port = bound;
    return id;
fail:
    if (fd >= 0)
        close(fd);
    if (l) {
        free(l->scenario);
        free_list(l->overrides);
        free(l);
    }
    ms_profile_unref(prof);
    return -1;
}

static ms_profile *profile_for(ms_server *s, listener *l, const char *scenario, pgtls_err *err)
{
    const fx_scenario *sc;
    ms_profile *prof = NULL;
    pthread_mutex_lock(&s->mu); /* a reload may swap s->idx */
    sc = fx_scenario_find(s->idx, scenario);
    if (!sc)
        err_set(err, PGTLS_ERR_USAGE, "no scenario named %s in %s/index.json (see pgtls ca list)",
                scenario, s->fixtures_dir);
    else
        prof = ms_profile_new(sc, (const char *const *)l->overrides, err);
    pthread_mutex_unlock(&s->mu);
    return prof;
}

static listener *listener_at(ms_server *s, int id)
{
    listener *l = NULL;
    pthread_mutex_lock(&s->mu);
    if (id >= 0 && (size_t)id < s->num_ls)
        l = s->ls[id];
    pthread_mutex_unlock(&s->mu);
    return l;
}

int ms_server_rotate(ms_server *s, int listener_id, const char *scenario, char *old_out,
                     size_t old_len, pgtls_err *err)
{
    listener *l = listener_at(s, listener_id);
    ms_profile *prof;
    char *name;
    if (!l)
        return err_set(err, PGTLS_ERR_USAGE, "no listener %d", listener_id);
    prof = profile_for(s, l, scenario, err);
    if (!prof)
        return -1;
    if (!(name = strdup(scenario))) {
        ms_profile_unref(prof);
        return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_lock(&s->mu);
    if (old_out)
        snprintf(old_out, old_len, "%s", l->scenario);
    ms_profile_unref(l->rotate_prof); /* a newer rotation replaces a pending one */
    free(l->rotate_scenario);
    l->rotate_prof = prof;
    l->rotate_scenario = name;
    swap_in_rotation(l);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int ms_server_rotate_after(ms_server *s, int listener_id, const char *scenario, long connections,
                           pgtls_err *err)
{
    listener *l = listener_at(s, listener_id);
    ms_profile *prof;
    char *name;
    if (!l)
        return err_set(err, PGTLS_ERR_USAGE, "no listener %d", listener_id);
    if (connections < 1)
        return err_set(err, PGTLS_ERR_USAGE, "rotation after %ld connections: give 1 or more",
                       connections);
    prof = profile_for(s, l, scenario, err);
    if (!prof)
        return -1;
    if (!(name = strdup(scenario))) {
        ms_profile_unref(prof);
        return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_lock(&s->mu);
    ms_profile_unref(l->rotate_prof);
    free(l->rotate_scenario);
    l->rotate_prof = prof;
    l->rotate_scenario = name;
    l->rotate_after = l->accepted + connections;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int ms_server_listen(ms_server *s, const char *scenario, int port, int *out_port, pgtls_err *err)
{
    return ms_server_listen_ex(s, scenario, port, NULL, out_port, err);
}

int ms_server_start(ms_server *s, pgtls_err *err)
{
    sigset_t set, old;
    int rc;
    if (atomic_load(&s->started))
        return 0;
    if (atomic_load(&s->stopping))
        return err_set(err, PGTLS_ERR_USAGE, "the server is stopped");
    /* The acceptor starts with the signals blocked (no window before it
     * blocks them itself). */
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    rc = pthread_create(&s->acceptor, NULL, acceptor_thread, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return err_set(err, PGTLS_ERR_IO, "cannot start the acceptor thread: %s", strerror(rc));
    atomic_store(&s->started, 1);
    return 0;
}

static int listen_queue_empty(const listener *l)
{
    struct pollfd p = {l->fd, POLLIN, 0};
    return l->fd < 0 || poll(&p, 1, 0) == 0;
}

int ms_server_wait_idle(ms_server *s, int listener_id, int timeout_ms)
{
    long long deadline = time_now_ms() + timeout_ms;
    int rc = -1;
    pthread_mutex_lock(&s->mu);
    if (listener_id < 0 || (size_t)listener_id >= s->num_ls) {
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    for (;;) {
        listener *l = s->ls[listener_id];
        struct timespec ts;
        long long now;
        if (l->open == 0 && (listen_queue_empty(l) || !atomic_load(&s->started))) {
            rc = 0;
            break;
        }
        now = time_now_ms();
        if (now >= deadline)
            break;
        clock_gettime(CLOCK_REALTIME, &ts);
        /* Short slices: a connection still in the backlog does not signal. */
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int ms_server_open_connections(ms_server *s, int listener_id)
{
    int n = -1;
    pthread_mutex_lock(&s->mu);
    if (listener_id >= 0 && (size_t)listener_id < s->num_ls)
        n = s->ls[listener_id]->open;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int ms_server_reload(ms_server *s, pgtls_err *err)
{
    fx_index *idx = fx_index_load(s->fixtures_dir, err);
    ms_profile **fresh = NULL;
    listener **ls = NULL;
    size_t i, n;
    int result = -1;
    if (!idx)
        return err_prefix(err, "reload");
    /* Snapshot the listeners: ms_server_listen may grow the array meanwhile;
     * listener objects themselves live until ms_server_free. */
    pthread_mutex_lock(&s->mu);
    n = s->num_ls;
    ls = calloc(n + 1, sizeof(*ls));
    if (ls && n)
        memcpy(ls, s->ls, n * sizeof(*ls));
    pthread_mutex_unlock(&s->mu);
    fresh = calloc(n + 1, sizeof(*fresh));
    if (!fresh || !ls) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        listener *l = ls[i];
        const fx_scenario *sc = fx_scenario_find(idx, l->scenario);
        if (!sc) {
            err_set(err, PGTLS_ERR_CONFIG,
                    "reload: scenario %s is no longer in %s/index.json (old configuration kept)",
                    l->scenario, s->fixtures_dir);
            goto out;
        }
        fresh[i] = ms_profile_new(sc, (const char *const *)l->overrides, err);
        if (!fresh[i]) {
            err_prefix(err, "reload (old configuration kept)");
            goto out;
        }
    }
    /* Swap: open connections keep their reference to the old profile. */
    pthread_mutex_lock(&s->mu);
    for (i = 0; i < n; i++) {
        ms_profile *old = ls[i]->prof;
        ls[i]->prof = fresh[i];
        fresh[i] = old;
    }
    {
        fx_index *old_idx = s->idx;
        s->idx = idx;
        idx = old_idx;
    }
    pthread_mutex_unlock(&s->mu);
    result = 0;
out:
    for (i = 0; fresh && i < n; i++)
        ms_profile_unref(fresh[i]);
    free(fresh);
    free(ls);
    fx_index_free(idx);
    return result;
}

void ms_server_stop(ms_server *s)
{
    size_t i;
    conn_node *n;
    if (!s || s->stopped)
        return;
    atomic_store(&s->stopping, 1);
    if (atomic_load(&s->started)) {
        wake_acceptor(s);
        pthread_join(s->acceptor, NULL);
        atomic_store(&s->started, 0);
    }
    pthread_mutex_lock(&s->mu);
    for (i = 0; i < s->num_ls; i++)
        if (s->ls[i]->fd >= 0) {
            close(s->ls[i]->fd);
            s->ls[i]->fd = -1;
        }
    /* Idle connections wait in poll() on the stop pipe: they answer FATAL
     * 57P01 over their intact session and record server-shutdown. Those
     * still in a TLS handshake (blocked inside OpenSSL) get their read side
     * shut after a grace period. */
    {
        ssize_t w = write(s->stop_pipe[1], "s", 1);
        (void)w;
    }
    for (int round = 0; s->num_conns > 0 || s->workers > 0; round++) {
        struct timespec ts;
        pthread_cond_broadcast(&s->work_cv); /* idle threads: exit now */
        if (round >= 4)
            for (n = s->conns; n; n = n->next)
                shutdown(n->c.fd, SHUT_RD);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    s->stopped = 1;
}

void ms_server_free(ms_server *s)
{
    size_t i;
    if (!s)
        return;
    ms_server_stop(s);
    for (i = 0; i < s->num_ls; i++) {
        listener *l = s->ls[i];
        if (l->fd >= 0)
            close(l->fd);
        ms_profile_unref(l->prof);
        ms_profile_unref(l->rotate_prof);
        free(l->rotate_scenario);
        free(l->scenario);
        free_list(l->overrides);
        free(l);
    }
    free(s->ls);
    if (s->wake[0] >= 0)
        close(s->wake[0]);
    if (s->wake[1] >= 0)
        close(s->wake[1]);
    if (s->stop_pipe[0] >= 0)
        close(s->stop_pipe[0]);
    if (s->stop_pipe[1] >= 0)
        close(s->stop_pipe[1]);
    fx_index_free(s->idx);
    ms_entra_free(s->entra);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->log_mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->work_cv);
    free(s->bind_addr);
    free(s->fixtures_dir);
    free(s);
}
