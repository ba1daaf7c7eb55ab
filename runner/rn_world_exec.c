/* pgtls-world: runs one program in a trust world (docs/trust-worlds.md).
 *
 *   pgtls-world [--bind SRC=DST]... [--setenv NAME=VALUE]... -- PROGRAM [ARG]...
 *
 * Creates a private mount namespace (unshare(CLONE_NEWNS) as root; as an
 * unprivileged user, a user namespace first), makes every mount private so
 * nothing propagates back to the host, bind-mounts each SRC read-only over
 * DST, sets the variables and execs PROGRAM (argv, never a shell). The
 * host's files are never written: DST must already exist, and the mounts
 * live and die with the namespace.
 *
 * Every failure is one line on stderr naming the step and the fix, and exit
 * status 126 (PROGRAM never runs, so the client cannot silently fall back to
 * the host's real store). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define WORLD_FAIL 126

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "pgtls-world: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return WORLD_FAIL;
}

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n;
    if (fd < 0)
        return -1;
    n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A private mount namespace: directly when we may (root, CAP_SYS_ADMIN),
 * else inside a new user namespace mapping our uid and gid to themselves. */
static int enter_namespace(char *why, size_t why_len)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    char map[64];
    int e1, e2;

    if (unshare(CLONE_NEWNS) == 0)
        return 0;
    e1 = errno;
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0) {
        snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
        if (write_text("/proc/self/uid_map", map) < 0) {
            snprintf(why, why_len, "writing /proc/self/uid_map: %s", strerror(errno));
            return -1;
        }
        (void)write_text("/proc/self/setgroups", "deny");
        snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
        if (write_text("/proc/self/gid_map", map) < 0) {
            snprintf(why, why_len, "writing /proc/self/gid_map: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    e2 = errno;
    snprintf(why, why_len, "unshare(CLONE_NEWNS): %s; unshare(CLONE_NEWUSER|CLONE_NEWNS): %s",
             strerror(e1), strerror(e2));
    return -1;
}

int main(int argc, char **argv)
{
    char why[512];
    int i, first_prog = -1;

    /* Options come in pairs (FLAG VALUE) up to "--". */
    for (i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--") == 0) {
            first_prog = i + 1;
            break;
        }
        if ((strcmp(argv[i], "--bind") != 0 && strcmp(argv[i], "--setenv") != 0) || i + 1 >= argc ||
            !strchr(argv[i + 1], '='))
            return fail("usage: pgtls-world [--bind SRC=DST]... [--setenv NAME=VALUE]... -- "
                        "PROGRAM [ARG]... (bad argument '%s')",
                        argv[i]);
    }
    if (first_prog < 0 || first_prog >= argc)
        return fail("no program to run (pgtls-world ... -- PROGRAM [ARG]...)");

    if (enter_namespace(why, sizeof(why)) < 0)
        return fail("cannot create a private mount namespace (%s): run as root, or enable "
                    "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)",
                    why);
    /* Nothing mounted below may propagate to the host's namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return fail("cannot make / a private mount (%s)", strerror(errno));

    for (i = 1; i < first_prog - 1; i += 2) {
        char *spec = argv[i + 1], *eq = strchr(spec, '=');
        struct stat ss, ds;
        *eq = '\0';
        if (strcmp(argv[i], "--setenv") == 0) {
            if (setenv(spec, eq + 1, 1) != 0)
                return fail("cannot set %s: %s", spec, strerror(errno));
            continue;
        }
        if (stat(spec, &ss) != 0)
            return fail("translated store %s is missing (%s): rebuild the world", spec,
                        strerror(errno));
        if (stat(eq + 1, &ds) != 0)
            return fail("cannot bind over %s (%s): the trust store path must exist on this "
                        "host",
                        eq + 1, strerror(errno));
        if (S_ISDIR(ss.st_mode) != S_ISDIR(ds.st_mode))
            return fail("cannot bind %s over %s: one is a folder, the other a file", spec,
                        eq + 1);
        if (mount(spec, eq + 1, NULL, MS_BIND | MS_REC, NULL) != 0)
            return fail("cannot bind-mount the translated store over %s (%s)", eq + 1,
                        strerror(errno));
        /* Read-only: a client cannot change the world for the next case. */
        if (mount(NULL, eq + 1, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0)
            return fail("cannot make %s read-only (%s)", eq + 1, strerror(errno));
    }
    execvp(argv[first_prog], argv + first_prog);
    return fail("cannot run %s: %s", argv[first_prog], strerror(errno));
}
