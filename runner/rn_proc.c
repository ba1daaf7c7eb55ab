/* pgtls runner: the adapter process supervisor.
 *
 * Adapters are spawned with posix_spawn and an argv (never a shell), in their
 * own process group (so a terminal's ^C reaches only the runner, and a kill
 * takes the adapter's children, e.g. one psql per case, with it), with three
 * O_CLOEXEC pipes (so no other worker's child holds a copy of them and EOF
 * means what it says). Every wait is a poll() against a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "rn.h"
#include "vocab.h"

extern char **environ;

#define RN_MAX_LINE (4u << 20) /* a result line larger than this is garbage */
#define RN_STDERR_TAIL 4096    /* bytes of stderr kept for the report */
#define RN_POLL_SLICE_MS 100   /* how often a wait looks at the stop flag */

struct rn_adapter {
    pid_t pid;
    int in_fd, out_fd, err_fd; /* our ends: child's stdin, stdout, stderr */
    char *outbuf;              /* stdout bytes not yet consumed as lines */
    size_t out_len, out_cap;
    char errtail[RN_STDERR_TAIL];
    size_t err_len; /* bytes in errtail (a sliding window) */
    int out_eof, err_eof;
    int exited, status; /* reaped, with its wait status */
    json_t *hello;
};

/* ------------------------------------------------------------- environment */

/* A host's PG* or CA-store setting must never leak into a case: the list
 * is the one the adapter kit applies per case (vocab.h). */
static int env_dropped(const char *entry)
{
    return vc_env_isolated(entry);
}

char **rn_adapter_environ(char *const *extra)
{
    size_t n = 0, k = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    for (char *const *e = extra; e && *e; e++)
        n++;
    char **out = calloc(n + 1, sizeof(char *));
    if (!out)
        return NULL;
    for (char **e = environ; e && *e; e++) {
        if (env_dropped(*e))
            continue;
        /* An extra entry with the same name replaces the inherited one. */
        const char *eq = strchr(*e, '=');
        size_t nlen = eq ? (size_t)(eq - *e) + 1 : strlen(*e);
        int replaced = 0;
        for (char *const *x = extra; x && *x && !replaced; x++)
            replaced = strncmp(*x, *e, nlen) == 0;
        if (replaced)
            continue;
        if (!(out[k++] = strdup(*e)))
            goto oom;
    }
    for (char *const *x = extra; x && *x; x++)
        if (!(out[k++] = strdup(*x)))
            goto oom;
    return out;
oom:
    rn_strv_free(out);
    return NULL;
}

char *rn_wait_status_text(int status)
{
    if (WIFEXITED(status))
        return str_printf("exit %d", WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return str_printf("signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    return str_printf("wait status 0x%x", status);
}

/* ------------------------------------------------------------------ spawning */

static void ignore_sigpipe(void)
{
    /* A write to an adapter that just died must return EPIPE, not kill the
     * runner. Only the default disposition is changed: an embedding program's
     * own handler is kept. */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
}

/* Spawns argv with the given pipes (in_r may be -1: /dev/null). Returns the
 * pid or -1 with err. */
static pid_t spawn_with_pipes(char *const *argv, char *const *envp, int in_r, int out_w, int err_w,
                              pgtls_err *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, defaults;
    pid_t pid = -1;
    int rc;

    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    if (in_r >= 0)
        posix_spawn_file_actions_adddup2(&fa, in_r, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_w, 1);
    posix_spawn_file_actions_adddup2(&fa, err_w, 2);
    /* New process group; default signal dispositions and an empty mask, so
     * the runner's SIGPIPE-ignore and blocked signals do not leak into it. */
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, envp ? envp : environ);
    if (rc != 0 && !strchr(argv[0], '/'))
        rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp ? envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        err_set(err, PGTLS_ERR_CONFIG, "cannot start %s: %s", argv[0], strerror(rc));
        return -1;
    }
    return pid;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Kills the whole process group and reaps the leader. */
static void kill_and_reap(rn_adapter *a)
{
    if (a->pid <= 0 || a->exited)
        return;
    kill(-a->pid, SIGKILL);
    kill(a->pid, SIGKILL);
    while (waitpid(a->pid, &a->status, 0) < 0 && errno == EINTR)
        ;
    a->exited = 1;
}

/* Reaps without blocking; 1 if the process has exited. */
static int try_reap(rn_adapter *a)
{
    if (a->exited)
        return 1;
    pid_t r = waitpid(a->pid, &a->status, WNOHANG);
    if (r == a->pid) {
        a->exited = 1;
        /* Children it left behind (same group) go too. */
        kill(-a->pid, SIGKILL);
    }
    return a->exited;
}

static void append_err(rn_adapter *a, const char *buf, size_t n)
{
    if (n >= RN_STDERR_TAIL) {
        memcpy(a->errtail, buf + n - RN_STDERR_TAIL, RN_STDERR_TAIL);
        a->err_len = RN_STDERR_TAIL;
        return;
    }
    if (a->err_len + n > RN_STDERR_TAIL) {
        size_t drop = a->err_len + n - RN_STDERR_TAIL;
        memmove(a->errtail, a->errtail + drop, a->err_len - drop);
        a->err_len -= drop;
    }
    memcpy(a->errtail + a->err_len, buf, n);
    a->err_len += n;
}

static char *stderr_tail(const rn_adapter *a)
{
    if (a->err_len == 0)
        return NULL;
    /* Start at a line boundary when the window cut one. */
    const char *p = a->errtail, *end = a->errtail + a->err_len;
    if (a->err_len == RN_STDERR_TAIL) {
        const char *nl = memchr(p, '\n', a->err_len);
        if (nl && nl + 1 < end)
            p = nl + 1;
    }
    char *s = malloc((size_t)(end - p) + 1);
    if (!s)
        return NULL;
    memcpy(s, p, (size_t)(end - p));
    s[end - p] = '\0';
    return s;
}

/* Reads what is available on out_fd/err_fd. Returns -1 when the stdout line
 * buffer would exceed RN_MAX_LINE. */
static int drain(rn_adapter *a, int fd)
{
    char buf[8192];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n < 0) /* a read error ends the stream like EOF does */
        n = 0;
    if (n == 0) {
        if (fd == a->out_fd)
            a->out_eof = 1;
        else
            a->err_eof = 1;
        return 0;
    }
    if (fd == a->err_fd) {
        append_err(a, buf, (size_t)n);
        return 0;
    }
    if (a->out_len + (size_t)n + 1 > RN_MAX_LINE)
        return -1;
    if (a->out_len + (size_t)n + 1 > a->out_cap) {
        size_t cap = a->out_cap ? a->out_cap : 16384;
        while (cap < a->out_len + (size_t)n + 1)
            cap *= 2;
        char *grown = realloc(a->outbuf, cap);
        if (!grown)
            return -1;
        a->outbuf = grown;
        a->out_cap = cap;
    }
    memcpy(a->outbuf + a->out_len, buf, (size_t)n);
    a->out_len += (size_t)n;
    return 0;
}

/* Takes one non-blank line out of the stdout buffer (heap, without the
 * newline), or NULL when no complete line is there yet. */
static char *take_line(rn_adapter *a)
{
    for (;;) {
        char *nl = a->outbuf ? memchr(a->outbuf, '\n', a->out_len) : NULL;
        if (!nl)
            return NULL;
        size_t len = (size_t)(nl - a->outbuf);
        char *line = malloc(len + 1);
        if (!line)
            return NULL;
        memcpy(line, a->outbuf, len);
        line[len] = '\0';
        memmove(a->outbuf, nl + 1, a->out_len - len - 1);
        a->out_len -= len + 1;
        if (len && line[len - 1] == '\r')
            line[len - 1] = '\0';
        if (line[strspn(line, " \t")] != '\0')
            return line;
        free(line);
    }
}

typedef enum { WAIT_LINE, WAIT_EOF, WAIT_TIMEOUT, WAIT_STOPPED, WAIT_OVERFLOW } wait_result;

/* Waits until a line is available on stdout, stdout closes, the deadline
 * (absolute, time_now_ms) passes or *stop becomes non-zero. */
static wait_result wait_line(rn_adapter *a, long long deadline, volatile sig_atomic_t *stop,
                             char **out_line)
{
    *out_line = NULL;
    for (;;) {
        if ((*out_line = take_line(a)) != NULL)
            return WAIT_LINE;
        if (a->out_eof) {
            /* Collect what the process still writes to stderr (its last
             * words are the most useful ones), briefly. */
            long long until = time_now_ms() + 500;
            while (!a->err_eof && time_now_ms() < until) {
                struct pollfd p = {.fd = a->err_fd, .events = POLLIN};
                if (poll(&p, 1, 50) > 0)
                    drain(a, a->err_fd);
            }
            return WAIT_EOF;
        }
        if (stop && *stop)
            return WAIT_STOPPED;
        long long now = time_now_ms();
        if (now >= deadline)
            return WAIT_TIMEOUT;
        long long slice = deadline - now;
        if (slice > RN_POLL_SLICE_MS)
            slice = RN_POLL_SLICE_MS;
        struct pollfd p[2] = {{.fd = a->out_fd, .events = POLLIN},
                              {.fd = a->err_eof ? -1 : a->err_fd, .events = POLLIN}};
        int n = poll(p, 2, (int)slice);
        if (n < 0 && errno != EINTR)
            return WAIT_EOF;
        if (n <= 0)
            continue;
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR))
            drain(a, a->err_fd);
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
            if (drain(a, a->out_fd) < 0)
                return WAIT_OVERFLOW;
    }
}

/* Gives an exiting process up to ms to be reaped, then kills it. */
static void reap_within(rn_adapter *a, int ms)
{
    long long until = time_now_ms() + ms;
    while (!try_reap(a) && time_now_ms() < until) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill_and_reap(a);
}

static char *exit_text(rn_adapter *a)
{
    return a->exited ? rn_wait_status_text(a->status) : strdup("still running");
}

static char *excerpt(const char *s)
{
    return str_printf("%.200s%s", s, strlen(s) > 200 ? "..." : "");
}

rn_adapter *rn_adapter_start(char *const *argv, int hello_timeout_ms, volatile sig_atomic_t *stop,
                             pgtls_err *err)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
    char **envp = NULL;
    char *line = NULL, *tail = NULL, *how = NULL;
    rn_adapter *a = calloc(1, sizeof(*a)), *result = NULL;
    json_error_t jerr;

    ignore_sigpipe();
    ENSURE(a, err, PGTLS_ERR_NOMEM, "out of memory");
    a->in_fd = a->out_fd = a->err_fd = -1;
    ENSURE(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 && pipe2(errp, O_CLOEXEC) == 0,
           err, PGTLS_ERR_IO, "cannot create pipes: %s", strerror(errno));
    envp = rn_adapter_environ(NULL);
    ENSURE(envp, err, PGTLS_ERR_NOMEM, "out of memory");
    a->pid = spawn_with_pipes(argv, envp, in[0], out[1], errp[1], err);
    if (a->pid < 0)
        goto out;
    close_fd(&in[0]);
    close_fd(&out[1]);
    close_fd(&errp[1]);
    a->in_fd = in[1];
    a->out_fd = out[0];
    a->err_fd = errp[0];
    in[1] = out[0] = errp[0] = -1;
    fcntl(a->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(a->err_fd, F_SETFL, O_NONBLOCK);

    switch (wait_line(a, time_now_ms() + hello_timeout_ms, stop, &line)) {
    case WAIT_LINE:
        a->hello = json_loads(line, 0, &jerr);
        if (!json_is_object(a->hello) || !json_is_string(json_object_get(a->hello, "client"))) {
            char *ex = excerpt(line);
            err_set(err, PGTLS_ERR_PROTOCOL,
                    "%s: the first line is not a hello object with \"client\" "
                    "(docs/case-protocol.md): %s",
                    argv[0], ex ? ex : "");
            free(ex);
            goto out;
        }
        break;
    case WAIT_EOF:
        reap_within(a, 1000);
        how = exit_text(a);
        tail = stderr_tail(a);
        err_set(err, PGTLS_ERR_FAILED, "%s exited before its hello line (%s)%s%s", argv[0],
                how ? how : "?", tail ? "; stderr: " : "", tail ? tail : "");
        goto out;
    case WAIT_TIMEOUT:
        tail = stderr_tail(a);
        err_set(err, PGTLS_ERR_TIMEOUT, "%s wrote no hello line within %d ms (killed)%s%s", argv[0],
                hello_timeout_ms, tail ? "; stderr: " : "", tail ? tail : "");
        goto out;
    case WAIT_STOPPED:
        err_set(err, PGTLS_ERR_FAILED, "%s: interrupted while starting", argv[0]);
        goto out;
    case WAIT_OVERFLOW:
        err_set(err, PGTLS_ERR_PROTOCOL, "%s wrote a line longer than %u bytes", argv[0],
                RN_MAX_LINE);
        goto out;
    }
    result = a;
    a = NULL;
out:
    for (int i = 0; i < 2; i++) {
        close_fd(&in[i]);
        close_fd(&out[i]);
        close_fd(&errp[i]);
    }
    rn_strv_free(envp);
    free(line);
    free(tail);
    free(how);
    rn_adapter_free(a, 0);
    return result;
}

json_t *rn_adapter_hello(const rn_adapter *a)
{
    return a->hello;
}

pid_t rn_adapter_pid(const rn_adapter *a)
{
    return a->pid;
}

int rn_adapter_alive(const rn_adapter *a)
{
    return a && !a->exited && !a->out_eof && a->in_fd >= 0;
}

void rn_reply_cleanup(rn_reply *r)
{
    if (!r)
        return;
    json_decref(r->result);
    free(r->detail);
    free(r->stderr_tail);
    memset(r, 0, sizeof(*r));
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void rn_adapter_call(rn_adapter *a, const char *case_line, int deadline_ms,
                     volatile sig_atomic_t *stop, rn_reply *out)
{
    long long start = time_now_ms();
    char *line = NULL, *how = NULL;
    json_error_t jerr;
    wait_result w;

    memset(out, 0, sizeof(*out));
    out->exit_status = -1;
    if (write_all(a->in_fd, case_line, strlen(case_line)) < 0 || write_all(a->in_fd, "\n", 1) < 0) {
        /* EPIPE: it died between cases; its stdout tells the rest. */
        w = wait_line(a, time_now_ms() + 1000, NULL, &line);
        if (w == WAIT_LINE) {
            free(line);
            line = NULL;
        }
        reap_within(a, 1000);
        out->status = RN_REPLY_CRASHED;
        how = exit_text(a);
        out->detail = str_printf("adapter exited before reading the case (%s)", how ? how : "?");
        goto done;
    }
    w = wait_line(a, start + deadline_ms, stop, &line);
    switch (w) {
    case WAIT_LINE:
        out->result = json_loads(line, 0, &jerr);
        if (json_is_object(out->result)) {
            /* One line per case, in order: a result for another case means
             * the stream is out of step (an extra line, a lost one), and
             * every later answer would land on the wrong row. An id of null
             * is the protocol's answer to a line it could not parse. */
            json_t *want = json_loads(case_line, 0, NULL);
            const char *want_id = json_string_value(json_object_get(want, "id"));
            const char *got_id = json_string_value(json_object_get(out->result, "id"));
            int in_step = !want_id || !got_id || strcmp(want_id, got_id) == 0;
            if (!in_step)
                out->detail = str_printf("adapter answered case '%.200s' while running '%.200s' "
                                         "(out of step with the protocol)",
                                         got_id, want_id);
            json_decref(want);
            if (in_step) {
                out->status = RN_REPLY_OK;
                break;
            }
            json_decref(out->result);
            out->result = NULL;
            out->status = RN_REPLY_CRASHED;
            kill_and_reap(a);
            break;
        }
        json_decref(out->result);
        out->result = NULL;
        out->status = RN_REPLY_CRASHED;
        {
            char *ex = excerpt(line);
            out->detail = str_printf("adapter wrote a line that is not a result object "
                                     "(docs/case-protocol.md): %s",
                                     ex ? ex : "");
            free(ex);
        }
        kill_and_reap(a);
        break;
    case WAIT_EOF:
        reap_within(a, 1000);
        out->status = RN_REPLY_CRASHED;
        how = exit_text(a);
        out->detail = str_printf("adapter exited during the case (%s)", how ? how : "?");
        break;
    case WAIT_TIMEOUT:
        kill_and_reap(a);
        out->status = RN_REPLY_TIMEOUT;
        out->detail = str_printf("no result within %d ms: adapter killed (SIGKILL)", deadline_ms);
        break;
    case WAIT_STOPPED:
        kill_and_reap(a);
        out->status = RN_REPLY_STOPPED;
        out->detail = strdup("run interrupted");
        break;
    case WAIT_OVERFLOW:
        kill_and_reap(a);
        out->status = RN_REPLY_CRASHED;
        out->detail = str_printf("adapter wrote a line longer than %u bytes", RN_MAX_LINE);
        break;
    }
done:
    out->wall_ms = time_now_ms() - start;
    if (a->exited)
        out->exit_status = a->status;
    if (out->status != RN_REPLY_OK) {
        out->stderr_tail = stderr_tail(a);
        close_fd(&a->in_fd);
    }
    free(line);
    free(how);
}

void rn_adapter_free(rn_adapter *a, int grace_ms)
{
    if (!a)
        return;
    close_fd(&a->in_fd); /* EOF on stdin: a well-behaved adapter exits */
    if (a->pid > 0 && !a->exited)
        reap_within(a, grace_ms);
    close_fd(&a->out_fd);
    close_fd(&a->err_fd);
    json_decref(a->hello);
    free(a->outbuf);
    free(a);
}

int rn_run_collect(char *const *argv, char *const *envp, int timeout_ms, char **out_stdout,
                   char **out_stderr, int *out_status, pgtls_err *err)
{
    int out[2] = {-1, -1}, errp[2] = {-1, -1};
    rn_adapter *a = calloc(1, sizeof(*a));
    char **own_env = NULL;
    int result = -1;
    long long deadline = time_now_ms() + timeout_ms;

    ignore_sigpipe();
    *out_stdout = *out_stderr = NULL;
    ENSURE(a, err, PGTLS_ERR_NOMEM, "out of memory");
    a->in_fd = a->out_fd = a->err_fd = -1;
    ENSURE(pipe2(out, O_CLOEXEC) == 0 && pipe2(errp, O_CLOEXEC) == 0, err, PGTLS_ERR_IO,
           "cannot create pipes: %s", strerror(errno));
    if (!envp) {
        own_env = rn_adapter_environ(NULL);
        ENSURE(own_env, err, PGTLS_ERR_NOMEM, "out of memory");
    }
    a->pid = spawn_with_pipes(argv, envp ? envp : own_env, -1, out[1], errp[1], err);
    if (a->pid < 0)
        goto out;
    close_fd(&out[1]);
    close_fd(&errp[1]);
    a->out_fd = out[0];
    a->err_fd = errp[0];
    out[0] = errp[0] = -1;
    fcntl(a->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(a->err_fd, F_SETFL, O_NONBLOCK);
    while (!a->out_eof || !a->err_eof) {
        long long now = time_now_ms();
        if (now >= deadline) {
            kill_and_reap(a);
            char *tail = stderr_tail(a);
            err_set(err, PGTLS_ERR_TIMEOUT, "%s did not finish within %d ms (killed)%s%s", argv[0],
                    timeout_ms, tail ? "; stderr: " : "", tail ? tail : "");
            free(tail);
            goto out;
        }
        struct pollfd p[2] = {{.fd = a->out_eof ? -1 : a->out_fd, .events = POLLIN},
                              {.fd = a->err_eof ? -1 : a->err_fd, .events = POLLIN}};
        int n = poll(p, 2, (int)(deadline - now));
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        for (int i = 0; i < 2; i++)
            if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
                if (drain(a, p[i].fd) < 0) {
                    kill_and_reap(a);
                    err_set(err, PGTLS_ERR_PROTOCOL, "%s wrote more than %u bytes", argv[0],
                            RN_MAX_LINE);
                    goto out;
                }
    }
    reap_within(a, (int)(deadline > time_now_ms() ? deadline - time_now_ms() : 0));
    *out_status = a->status;
    *out_stdout = malloc(a->out_len + 1);
    ENSURE(*out_stdout, err, PGTLS_ERR_NOMEM, "out of memory");
    if (a->out_len)
        memcpy(*out_stdout, a->outbuf, a->out_len);
    (*out_stdout)[a->out_len] = '\0';
    *out_stderr = stderr_tail(a);
    if (!*out_stderr)
        *out_stderr = strdup("");
    result = 0;
out:
    for (int i = 0; i < 2; i++) {
        close_fd(&out[i]);
        close_fd(&errp[i]);
    }
    if (result < 0) {
        free(*out_stdout);
        *out_stdout = NULL;
    }
    rn_strv_free(own_env);
    rn_adapter_free(a, 0);
    return result;
}

/* ------------------------------------------------------------------ sessions */

void rn_session_init(rn_session *s, char *const *argv, int hello_timeout_ms)
{
    memset(s, 0, sizeof(*s));
    s->argv = argv;
    s->hello_timeout_ms = hello_timeout_ms;
}

void rn_session_cleanup(rn_session *s)
{
    if (!s)
        return;
    rn_adapter_free(s->adapter, 2000);
    free(s->start_error);
    json_decref(s->hello);
    memset(s, 0, sizeof(*s));
}

void rn_session_call(rn_session *s, const char *case_line, int deadline_ms,
                     volatile sig_atomic_t *stop, rn_reply *out)
{
    memset(out, 0, sizeof(*out));
    out->exit_status = -1;
    if (s->adapter && !rn_adapter_alive(s->adapter)) {
        rn_adapter_free(s->adapter, 0);
        s->adapter = NULL;
    }
    if (!s->adapter) {
        if (s->start_failures >= RN_MAX_START_FAILURES) {
            out->status = RN_REPLY_CRASHED;
            out->detail = str_printf("adapter unusable (%d failed starts in a row): %s",
                                     s->start_failures, s->start_error ? s->start_error : "?");
            return;
        }
        pgtls_err err;
        err_clear(&err);
        long long t0 = time_now_ms();
        s->num_starts++;
        s->adapter = rn_adapter_start(s->argv, s->hello_timeout_ms, stop, &err);
        if (!s->adapter) {
            s->start_failures++;
            free(s->start_error);
            s->start_error = strdup(err.msg);
            out->status = (stop && *stop) ? RN_REPLY_STOPPED : RN_REPLY_CRASHED;
            out->detail = str_printf("adapter could not start: %s", err.msg);
            out->wall_ms = time_now_ms() - t0;
            return;
        }
        s->start_failures = 0;
        json_decref(s->hello);
        s->hello = json_incref(rn_adapter_hello(s->adapter));
    }
    rn_adapter_call(s->adapter, case_line, deadline_ms, stop, out);
    if (out->status != RN_REPLY_OK) {
        rn_adapter_free(s->adapter, 0);
        s->adapter = NULL;
    }
}
