/* pgtls mock: the passphrase of an encrypted server key, never from a
 * terminal. PostgreSQL's ssl_passphrase_command runs through a shell; the mock
 * runs it as an argument vector (split on blanks, "%p" replaced by the prompt,
 * "%%" by "%") with posix_spawnp and reads the first line of its output.
 * ssl_passphrase_file (the mock's own setting) names a file whose first line
 * is the passphrase. With neither, an encrypted key is refused with a clear
 * message instead of OpenSSL's terminal prompt. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "ms_passphrase.h"

extern char **environ;

/* Reads at most cap-1 bytes of fd's first line into buf, waiting at most
 * timeout_ms in all. Returns the length, or -1. */
static int read_first_line(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t len = 0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (len + 1 < cap) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = timeout_ms - ((now.tv_sec - start.tv_sec) * 1000 +
                                  (now.tv_nsec - start.tv_nsec) / 1000000);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            return -1;
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (memchr(buf, '\n', len))
            break;
    }
    buf[len] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    return (int)strlen(buf);
}

/* Splits command on blanks into argv (heap, NULL-terminated), replacing %p
 * with prompt and %% with %. */
static char **split_command(const char *command, const char *prompt)
{
    size_t cap = 8, n = 0;
    char **argv = calloc(cap, sizeof(*argv));
    const char *p = command;
    while (argv && *p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        char word[1024];
        size_t w = 0;
        for (; *p && *p != ' ' && *p != '\t'; p++) {
            const char *add = NULL;
            char one[2] = {*p, 0};
            if (p[0] == '%' && p[1] == 'p')
                add = prompt, p++;
            else if (p[0] == '%' && p[1] == '%')
                add = "%", p++;
            else
                add = one;
            size_t al = strlen(add);
            if (w + al >= sizeof(word))
                break;
            memcpy(word + w, add, al);
            w += al;
        }
        word[w] = '\0';
        if (n + 2 > cap) {
            char **na = realloc(argv, (cap *= 2) * sizeof(*argv));
            if (!na)
                break;
            argv = na;
        }
        argv[n++] = strdup(word);
        argv[n] = NULL;
    }
    return argv;
}

static void free_argv(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

static int from_command(const char *command, const char *key_path, char *out, size_t cap,
                        pgtls_err *err)
{
    char prompt[512];
    snprintf(prompt, sizeof(prompt), "Enter PEM pass phrase for %s:", key_path);
    char **argv = split_command(command, prompt);
    int pipefd[2] = {-1, -1}, status = 0, len = -1, result = -1;
    pid_t pid = -1;
    posix_spawn_file_actions_t fa;

    if (!argv || !argv[0])
        return err_set(err, PGTLS_ERR_CONFIG, "ssl_passphrase_command is empty (name a program "
                                              "that prints the passphrase of %s)",
                       key_path),
               free_argv(argv), -1;
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        err_set(err, PGTLS_ERR_IO, "ssl_passphrase_command: pipe: %s", strerror(errno));
        goto out;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    pipefd[1] = -1;
    if (rc != 0) {
        err_set(err, PGTLS_ERR_CONFIG, "ssl_passphrase_command: cannot run %s: %s (it is run "
                                       "as a program with arguments, not through a shell)",
                argv[0], strerror(rc));
        pid = -1;
        goto out;
    }
    len = read_first_line(pipefd[0], out, cap, 10000);
    if (len < 0)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (len < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        err_set(err, PGTLS_ERR_CONFIG,
                "ssl_passphrase_command %s %s for the key %s (it must print the passphrase "
                "and exit 0 within 10 s)",
                argv[0], len < 0 ? "printed nothing in time" : "failed", key_path);
        goto out;
    }
    result = 0;
out:
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    free_argv(argv);
    return result;
}

static int from_file(const char *path, const char *key_path, char *out, size_t cap,
                     pgtls_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, PGTLS_ERR_CONFIG,
                       "ssl_passphrase_file %s: %s (name the file whose first line is the "
                       "passphrase of %s)",
                       path, strerror(errno), key_path);
    /* A plain file answers at once; the timeout only guards a FIFO. */
    int len = read_first_line(fd, out, cap, 10000);
    close(fd);
    if (len < 0)
        return err_set(err, PGTLS_ERR_CONFIG, "ssl_passphrase_file %s could not be read", path);
    return 0;
}

int ms_passphrase_get(const ms_passphrase_source *src, char *out, size_t cap, pgtls_err *err)
{
    if (src->command && *src->command)
        return from_command(src->command, src->key_path, out, cap, err);
    if (src->file && *src->file)
        return from_file(src->file, src->key_path, out, cap, err);
    return err_set(err, PGTLS_ERR_CONFIG,
                   "the private key %s is encrypted: give its passphrase with --set "
                   "ssl_passphrase_command='PROGRAM ARGS' or --set ssl_passphrase_file=FILE "
                   "(the mock never prompts on a terminal)",
                   src->key_path);
}

int ms_passphrase_cb(char *buf, int size, int rwflag, void *userdata)
{
    ms_passphrase_source *src = userdata;
    (void)rwflag;
    if (!src || size <= 1)
        return -1;
    src->asked = 1;
    if (ms_passphrase_get(src, buf, (size_t)size, &src->err) < 0)
        return -1;
    return (int)strlen(buf);
}
