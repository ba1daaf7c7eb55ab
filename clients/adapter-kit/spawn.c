/* pgtls clients: run a client program (psql, openssl) with a hard deadline.
 *
 * posix_spawn with an argv, never a shell. The child gets its own process
 * group so that a timeout kills everything it started, default signal
 * dispositions (the adapter ignores SIGPIPE; the child must not inherit that)
 * and /dev/null as stdin, so a client that would wait for input sees EOF.
 */
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

#include "cl_adapter.h"
#include "common/fs.h"

extern char **environ;

#define CAPTURE_MAX (4u * 1024 * 1024)

typedef struct capture {
    int fd;
    char *buf;
    size_t len;
    size_t cap;
} capture;

/* Reads what is available on c->fd; closes it at EOF. Keeps at most
 * CAPTURE_MAX bytes and drops the rest so a chatty child cannot block. */
static int capture_read(capture *c)
{
    char chunk[16384];
    ssize_t n = read(c->fd, chunk, sizeof(chunk));
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return 0;
        n = 0;
    }
    if (n == 0) {
        close(c->fd);
        c->fd = -1;
        return 0;
    }
    size_t keep = (size_t)n;
    if (c->len + keep > CAPTURE_MAX)
        keep = CAPTURE_MAX - c->len;
    if (keep > 0) {
        if (c->len + keep + 1 > c->cap) {
            size_t cap = c->cap ? c->cap : 8192;
            while (cap < c->len + keep + 1)
                cap *= 2;
            char *nb = realloc(c->buf, cap);
            if (nb == NULL)
                return -1;
            c->buf = nb;
            c->cap = cap;
        }
        memcpy(c->buf + c->len, chunk, keep);
        c->len += keep;
    }
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int cl_child_run(char *const argv[], char *const envp[], long timeout_ms, cl_child_result *out,
                 pgtls_err *err)
{
    int result = -1;
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    capture cap_out = {.fd = -1}, cap_err = {.fd = -1};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int fa_ok = 0, attr_ok = 0;
    pid_t pid = -1;
    long long start = time_now_ms(), deadline = start + timeout_ms;
    int status = 0;

    memset(out, 0, sizeof(*out));
    ENSURE(pipe2(out_pipe, O_CLOEXEC) == 0 && pipe2(err_pipe, O_CLOEXEC) == 0, err, PGTLS_ERR_IO,
           "cannot create pipes for %s: %s", argv[0], strerror(errno));
    ENSURE(posix_spawn_file_actions_init(&fa) == 0, err, PGTLS_ERR_NOMEM, "out of memory");
    fa_ok = 1;
    ENSURE(posix_spawnattr_init(&attr) == 0, err, PGTLS_ERR_NOMEM, "out of memory");
    attr_ok = 1;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);

    sigset_t def, none;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGCHLD);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETSIGMASK);

    int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp != NULL ? envp : environ);
    ENSURE(rc == 0, err, PGTLS_ERR_IO, "cannot start %s: %s", argv[0], strerror(rc));
    close(out_pipe[1]);
    out_pipe[1] = -1;
    close(err_pipe[1]);
    err_pipe[1] = -1;
    cap_out.fd = out_pipe[0];
    out_pipe[0] = -1;
    cap_err.fd = err_pipe[0];
    err_pipe[0] = -1;

    /* Collect output until both pipes close or the deadline passes. */
    while (cap_out.fd >= 0 || cap_err.fd >= 0) {
        long long left = deadline - time_now_ms();
        if (left <= 0) {
            out->timed_out = 1;
            break;
        }
        struct pollfd pfd[2];
        nfds_t n = 0;
        capture *who[2];
        if (cap_out.fd >= 0) {
            pfd[n] = (struct pollfd){.fd = cap_out.fd, .events = POLLIN};
            who[n++] = &cap_out;
        }
        if (cap_err.fd >= 0) {
            pfd[n] = (struct pollfd){.fd = cap_err.fd, .events = POLLIN};
            who[n++] = &cap_err;
        }
        int pr = poll(pfd, n, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno != EINTR) {
            err_set(err, PGTLS_ERR_IO, "poll on %s output: %s", argv[0], strerror(errno));
            goto kill_out;
        }
        for (nfds_t i = 0; pr > 0 && i < n; i++) {
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                if (capture_read(who[i]) < 0) {
                    err_set(err, PGTLS_ERR_NOMEM, "out of memory reading %s output", argv[0]);
                    goto kill_out;
                }
            }
        }
    }

    /* The pipes are closed; the child may still be running (or hung with its
     * pipes handed to a grandchild): wait for it up to the same deadline. */
    while (!out->timed_out) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            pid = -1;
            break;
        }
        if (w < 0 && errno != EINTR) {
            err_set(err, PGTLS_ERR_IO, "waitpid %s: %s", argv[0], strerror(errno));
            goto kill_out;
        }
        if (time_now_ms() >= deadline)
            out->timed_out = 1;
        else
            sleep_ms(5);
    }
    if (out->timed_out) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        pid = -1;
    }
    if (WIFEXITED(status)) {
        out->exited = 1;
        out->exit_status = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        out->signaled = WTERMSIG(status);
    }
    out->out = cap_out.buf != NULL ? cap_out.buf : strdup("");
    out->out_len = cap_out.len;
    out->err = cap_err.buf != NULL ? cap_err.buf : strdup("");
    out->err_len = cap_err.len;
    cap_out.buf = cap_err.buf = NULL;
    ENSURE(out->out != NULL && out->err != NULL, err, PGTLS_ERR_NOMEM, "out of memory");
    out->out[out->out_len] = '\0';
    out->err[out->err_len] = '\0';
    out->elapsed_ms = time_now_ms() - start;
    result = 0;
    goto out;

kill_out:
    if (pid > 0) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
out:
    for (int i = 0; i < 2; i++) {
        if (out_pipe[i] >= 0)
            close(out_pipe[i]);
        if (err_pipe[i] >= 0)
            close(err_pipe[i]);
    }
    if (cap_out.fd >= 0)
        close(cap_out.fd);
    if (cap_err.fd >= 0)
        close(cap_err.fd);
    free(cap_out.buf);
    free(cap_err.buf);
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_ok)
        posix_spawnattr_destroy(&attr);
    if (result != 0)
        cl_child_result_cleanup(out);
    return result;
}

void cl_child_result_cleanup(cl_child_result *r)
{
    if (r == NULL)
        return;
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof(*r));
}
