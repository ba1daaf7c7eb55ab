/* pgtls: a real PostgreSQL server for the fidelity suite (see fd.h).
 *
 * Programs are started with fork + execve (argv, never a shell). When we are
 * root the child drops to the `postgres` user before exec, because the
 * postmaster refuses to run as root (main.c check_root). */
#include "fd.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"

#define FD_ADMIN_USER "pgtls_admin"
#define FD_START_TIMEOUT_MS 30000
#define FD_STOP_TIMEOUT_MS 20000
#define FD_INITDB_TIMEOUT_MS 120000

struct fd_real {
    char *bindir;
    char *dir;      /* temporary root of everything below */
    char *datadir;  /* dir/data */
    char *sockdir;  /* dir/sock */
    char *log_path; /* dir/server.log */
    char *cert_path, *key_path;
    char *ca_path, *crl_path, *crl_dir; /* dir/ca.crt, dir/crl.pem, dir/crldir */
    char *weak_conf; /* dir/openssl-seclevel0.cnf */
    int weak_chain;  /* the current scenario's chain needs security level 0 */
    int drop;        /* 1: children run as uid/gid */
    uid_t uid;
    gid_t gid;
    int pg_major;
    char server_version[32]; /* `postgres -V`: "17.10" */
    int port;
    pid_t pid; /* running postmaster, 0 when stopped */
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Waits for pid up to timeout_ms. Returns 1 when it exited (status in
 * *out_status), 0 on timeout, -1 on a waitpid error. */
static int wait_pid(pid_t pid, long timeout_ms, int *out_status)
{
    long long deadline = time_now_ms() + timeout_ms;
    for (;;) {
        pid_t w = waitpid(pid, out_status, WNOHANG);
        if (w == pid)
            return 1;
        if (w < 0 && errno != EINTR)
            return -1;
        if (time_now_ms() >= deadline)
            return 0;
        sleep_ms(20);
    }
}

/* The last lines of a log file, joined with " | ", for error messages. */
static void log_tail(const char *path, char *out, size_t out_len)
{
    pgtls_err ignored;
    char *data = NULL;
    size_t len = 0, start, o = 0;

    out[0] = '\0';
    err_clear(&ignored);
    if (fs_read_file(path, 0, &data, &len, &ignored) < 0 || !data)
        return;
    while (len && (data[len - 1] == '\n' || data[len - 1] == ' '))
        len--;
    start = len > 700 ? len - 700 : 0;
    while (start > 0 && start < len && data[start - 1] != '\n')
        start++;
    for (size_t i = start; i < len && o + 4 < out_len; i++) {
        if (data[i] == '\n') {
            memcpy(out + o, " | ", 3);
            o += 3;
        } else {
            out[o++] = data[i];
        }
    }
    out[o] = '\0';
    free(data);
}

/* Starts argv[0] with stdout+stderr appended to log_path, in its own process
 * group, as the server user when we are root. Returns the pid, or -1 with a
 * message in err. */
static pid_t spawn(const fd_real *r, char *const argv[], const char *log_path, pgtls_err *err)
{
    char conf_env[600];
    char *envp[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", "LANG=C", "TZ=UTC", NULL, NULL};
    pid_t parent = getpid();
    int logfd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    pid_t pid;

    if (logfd < 0) {
        err_set(err, PGTLS_ERR_IO, "cannot open %s: %s", log_path, strerror(errno));
        return -1;
    }
    if (r->drop && fchown(logfd, r->uid, r->gid) < 0) {
        err_set(err, PGTLS_ERR_IO, "cannot chown %s: %s", log_path, strerror(errno));
        close(logfd);
        return -1;
    }
    if (r->weak_chain && r->weak_conf) {
        snprintf(conf_env, sizeof(conf_env), "OPENSSL_CONF=%s", r->weak_conf);
        envp[4] = conf_env;
    }
    pid = fork();
    if (pid < 0) {
        err_set(err, PGTLS_ERR_IO, "fork failed: %s", strerror(errno));
        close(logfd);
        return -1;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls from here on (the parent may
         * have threads). */
        int devnull = open("/dev/null", O_RDONLY);
        setpgid(0, 0);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        close_range(3, ~0U, 0);
        if (r->drop) {
            if (setgroups(0, NULL) < 0 || setresgid(r->gid, r->gid, r->gid) < 0 ||
                setresuid(r->uid, r->uid, r->uid) < 0) {
                static const char msg[] = "pgtls fidelity: cannot switch to the server user\n";
                (void)!write(2, msg, sizeof(msg) - 1);
                _exit(126);
            }
        }
        /* Set after the credential change, which clears it (prctl(2)). A
         * dead owner means SIGQUIT: immediate shutdown, no orphan server. */
        prctl(PR_SET_PDEATHSIG, SIGQUIT);
        if (getppid() != parent)
            _exit(1);
        execve(argv[0], argv, envp);
        {
            static const char msg[] = "pgtls fidelity: execve failed\n";
            (void)!write(2, msg, sizeof(msg) - 1);
        }
        _exit(127);
    }
    close(logfd);
    return pid;
}

/* Runs argv to completion within timeout_ms. Returns 0 when it exits 0, -1
 * with a message (including the log's tail) otherwise. */
static int run(const fd_real *r, char *const argv[], const char *log_path, long timeout_ms,
               pgtls_err *err)
{
    int status = 0, w;
    char tail[1024];
    pid_t pid = spawn(r, argv, log_path, err);

    if (pid < 0)
        return -1;
    w = wait_pid(pid, timeout_ms, &status);
    if (w == 0) {
        kill(-pid, SIGKILL);
        wait_pid(pid, 5000, &status);
        return err_set(err, PGTLS_ERR_TIMEOUT, "%s did not finish within %ld s (killed)", argv[0],
                       timeout_ms / 1000);
    }
    if (w < 0)
        return err_set(err, PGTLS_ERR_IO, "waitpid %s: %s", argv[0], strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        log_tail(log_path, tail, sizeof(tail));
        return err_set(err, PGTLS_ERR_FAILED, "%s failed (status %d): %s", argv[0],
                       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), tail);
    }
    return 0;
}

/* A free TCP port on 127.0.0.1 (the kernel's pick). Returns 0 on failure. */
static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int port = 0, s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (s < 0)
        return 0;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    close(s);
    return port;
}

static int give(const fd_real *r, const char *path, pgtls_err *err)
{
    if (r->drop && chown(path, r->uid, r->gid) < 0)
        return err_set(err, PGTLS_ERR_IO, "cannot give %s to the server user: %s", path,
                       strerror(errno));
    return 0;
}

/* Writes data to path with mode, owned by the server user. */
static int write_owned(const fd_real *r, const char *path, const char *data, size_t len,
                       mode_t mode, pgtls_err *err)
{
    if (fs_write_file(path, data, len, mode, err) < 0)
        return -1;
    return give(r, path, err);
}

/* Copies src to dst (mode, owned by the server user). The copy is
 * byte-identical: the real server sends exactly the chain the mock sends. */
static int copy_owned(const fd_real *r, const char *src, const char *dst, mode_t mode,
                      pgtls_err *err)
{
    char *data = NULL;
    size_t len = 0;
    int rc;
    if (fs_read_file(src, 0, &data, &len, err) < 0)
        return err_prefix(err, "fidelity: reading a fixture");
    rc = write_owned(r, dst, data, len, mode, err);
    free(data);
    return rc;
}

/* The scenario's client CA and CRL files, copied where the server user can
 * read them (the fixtures folder may be private to the harness' user); a
 * CRL directory is copied file by file. */
static int copy_client_ca_files(const fd_real *r, const fx_scenario *sc, pgtls_err *err)
{
    const fx_server *s = &sc->server;
    DIR *d = NULL;
    struct dirent *de;
    int result = -1;

    if (s->ssl_ca_file)
        TRY(copy_owned(r, s->ssl_ca_file, r->ca_path, 0644, err));
    if (s->ssl_crl_file)
        TRY(copy_owned(r, s->ssl_crl_file, r->crl_path, 0644, err));
    if (s->ssl_crl_dir) {
        TRY(fs_mkdir_p(r->crl_dir, 0755, err));
        TRY(give(r, r->crl_dir, err));
        d = opendir(s->ssl_crl_dir);
        ENSURE(d, err, PGTLS_ERR_IO, "fidelity: ssl_crl_dir %s: %s", s->ssl_crl_dir,
               strerror(errno));
        while ((de = readdir(d))) {
            char *src, *dst;
            int rc;
            if (de->d_name[0] == '.')
                continue;
            src = fs_join(s->ssl_crl_dir, de->d_name);
            dst = fs_join(r->crl_dir, de->d_name);
            rc = src && dst ? copy_owned(r, src, dst, 0644, err)
                            : err_set(err, PGTLS_ERR_NOMEM, "out of memory");
            free(src);
            free(dst);
            if (rc < 0)
                goto out;
        }
    }
    result = 0;
out:
    if (d)
        closedir(d);
    return result;
}

/* Makes sure the `postgres` system user exists (Debian's postgresql package
 * creates it; a bare container may not have it). */
static int server_user(fd_real *r, pgtls_err *err)
{
    struct passwd *pw;
    if (geteuid() != 0) {
        r->drop = 0;
        return 0;
    }
    pw = getpwnam("postgres");
    if (!pw) {
        static char *const argv[] = {
            "/usr/sbin/useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
            "postgres",          NULL};
        char *log = fs_join(r->dir, "useradd.log");
        int rc;
        if (!log)
            return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        rc = run(r, argv, log, 30000, err);
        free(log);
        if (rc < 0)
            return err_prefix(err, "fidelity: creating the postgres system user");
        pw = getpwnam("postgres");
        if (!pw)
            return err_set(err, PGTLS_ERR_CONFIG,
                           "fidelity: no 'postgres' user after useradd; create it "
                           "(useradd --system postgres)");
    }
    r->drop = 1;
    r->uid = pw->pw_uid;
    r->gid = pw->pw_gid;
    return 0;
}

fd_real *fd_real_new(const char *bindir, pgtls_err *err)
{
    fd_real *r = calloc(1, sizeof(*r));
    const char *tmp = getenv("TMPDIR");
    char *initdb = NULL, *postgres = NULL, *conf = NULL, *version = NULL, *ilog = NULL;
    char *conf_text = NULL, *ver = NULL, *appended = NULL, *vlog = NULL, *vtext = NULL;
    size_t conf_len = 0;
    fd_real *result = NULL;

    ENSURE(r, err, PGTLS_ERR_NOMEM, "out of memory");
    if (!bindir)
        bindir = getenv("PGTLS_PG_BINDIR");
    r->bindir = strdup(bindir && *bindir ? bindir : FD_DEFAULT_BINDIR);
    initdb = fs_join(r->bindir, "initdb");
    postgres = fs_join(r->bindir, "postgres");
    /* Unix socket paths are limited to 107 bytes: keep the folder short. */
    r->dir = str_printf("%s/pgtls-fd-XXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    ENSURE(r->bindir && initdb && postgres && r->dir, err, PGTLS_ERR_NOMEM, "out of memory");
    ENSURE(access(initdb, X_OK) == 0 && access(postgres, X_OK) == 0, err, PGTLS_ERR_CONFIG,
           "fidelity: no PostgreSQL server in %s (install the Debian package postgresql, or "
           "set PGTLS_PG_BINDIR to a folder with initdb and postgres)",
           r->bindir);
    ENSURE(mkdtemp(r->dir), err, PGTLS_ERR_IO, "fidelity: mkdtemp %s: %s", r->dir, strerror(errno));
    r->datadir = fs_join(r->dir, "data");
    r->sockdir = fs_join(r->dir, "sock");
    r->log_path = fs_join(r->dir, "server.log");
    r->cert_path = fs_join(r->dir, "server-chain.pem");
    r->key_path = fs_join(r->dir, "server.key");
    r->ca_path = fs_join(r->dir, "ca.crt");
    r->crl_path = fs_join(r->dir, "crl.pem");
    r->crl_dir = fs_join(r->dir, "crldir");
    ilog = fs_join(r->dir, "initdb.log");
    ENSURE(r->datadir && r->sockdir && r->log_path && r->cert_path && r->key_path && r->ca_path &&
               r->crl_path && r->crl_dir && ilog,
           err,
           PGTLS_ERR_NOMEM, "out of memory");
    TRY(server_user(r, err));
    TRY(give(r, r->dir, err));
    TRY(fs_mkdir_p(r->sockdir, 0700, err));
    TRY(give(r, r->sockdir, err));
    {
        char *const argv[] = {initdb,  "-D", r->datadir, "-U",         FD_ADMIN_USER, "-A",
                              "trust", "-E", "UTF8",     "--locale=C", "--no-sync",   NULL};
        if (run(r, argv, ilog, FD_INITDB_TIMEOUT_MS, err) < 0) {
            err_prefix(err, "fidelity: initdb");
            goto out;
        }
    }
    version = fs_join(r->datadir, "PG_VERSION");
    ENSURE(version, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY(fs_read_file(version, 64, &ver, NULL, err));
    r->pg_major = atoi(ver);
    ENSURE(r->pg_major >= 10, err, PGTLS_ERR_CONFIG,
           "fidelity: %s says version '%s'; PostgreSQL 10 or later is needed", version, ver);
    /* The full version, for the mock's server_version profile. */
    vlog = fs_join(r->dir, "version.log");
    ENSURE(vlog, err, PGTLS_ERR_NOMEM, "out of memory");
    {
        char *const argv[] = {postgres, "-V", NULL};
        const char *at;
        if (run(r, argv, vlog, FD_INITDB_TIMEOUT_MS, err) < 0) {
            err_prefix(err, "fidelity: postgres -V");
            goto out;
        }
        TRY(fs_read_file(vlog, 256, &vtext, NULL, err));
        at = strstr(vtext, "(PostgreSQL) ");
        ENSURE(at && atoi(at + 13) == r->pg_major, err, PGTLS_ERR_CONFIG,
               "fidelity: %s -V printed '%s', not PostgreSQL %d", postgres, vtext, r->pg_major);
        snprintf(r->server_version, sizeof(r->server_version), "%.*s",
                 (int)strspn(at + 13, "0123456789."), at + 13);
    }
    /* Our per-scenario settings live in pgtls.conf, included last so they
     * win over initdb's defaults. */
    conf = fs_join(r->datadir, "postgresql.conf");
    ENSURE(conf, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY(fs_read_file(conf, 0, &conf_text, &conf_len, err));
    appended = str_printf("%s\ninclude_if_exists = 'pgtls.conf'\n", conf_text);
    ENSURE(appended, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY(write_owned(r, conf, appended, strlen(appended), 0600, err));
    r->port = free_port();
    ENSURE(r->port > 0, err, PGTLS_ERR_IO, "fidelity: no free port on 127.0.0.1");
    result = r;
    r = NULL;
out:
    fd_real_free(r);
    free(initdb);
    free(postgres);
    free(conf);
    free(version);
    free(ilog);
    free(vlog);
    free(vtext);
    free(conf_text);
    free(ver);
    free(appended);
    return result;
}

int fd_real_pg_major(const fd_real *r)
{
    return r ? r->pg_major : 0;
}

const char *fd_real_server_version(const fd_real *r)
{
    return r ? r->server_version : "";
}

int fd_real_port(const fd_real *r)
{
    return r ? r->port : 0;
}

int fd_real_pid(const fd_real *r)
{
    return r ? (int)r->pid : 0;
}

const char *fd_real_log_path(const fd_real *r)
{
    return r ? r->log_path : NULL;
}

static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "extension already exists, skipping" and the like */
}

static PGconn *admin_connect(const fd_real *r, pgtls_err *err)
{
    char port[16];
    const char *keys[] = {
        "host", "port", "user", "dbname", "connect_timeout", "sslmode", "application_name", NULL};
    const char *vals[] = {r->sockdir, port,      FD_ADMIN_USER,          "postgres",
                          "5",        "disable", "pgtls-fidelity-admin", NULL};
    PGconn *c;
    snprintf(port, sizeof(port), "%d", r->port);
    c = PQconnectdbParams(keys, vals, 0);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        err_set(err, PGTLS_ERR_FAILED, "fidelity: admin connection to %s failed: %s", r->sockdir,
                c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    return c;
}

static int exec_on(PGconn *c, const char *sql, pgtls_err *err)
{
    PGresult *res = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char *m = PQresultErrorMessage(res);
        size_t n = strlen(m);
        while (n && m[n - 1] == '\n')
            n--;
        rc = err_set(err, PGTLS_ERR_FAILED, "fidelity: admin SQL failed: %.*s", (int)n, m);
    }
    PQclear(res);
    return rc;
}

int fd_real_admin_sql(fd_real *r, const char *sql, pgtls_err *err)
{
    PGconn *c;
    int rc;
    ENSURE(r && r->pid, err, PGTLS_ERR_USAGE, "fidelity: the real server is not running");
    c = admin_connect(r, err);
    if (!c)
        return -1;
    rc = exec_on(c, sql, err);
    PQfinish(c);
    return rc;
out:
    return -1;
}

/* The scenario's login role and the sslinfo extension. The role is a
 * superuser: Azure's admin sees every session in pg_stat_ssl (via
 * pg_read_all_stats) and may create sslinfo (allow-listed); on a stock server
 * both need superuser. md5 scenarios store an md5 hash, because pg_hba md5
 * with a SCRAM secret silently upgrades to SCRAM (auth.c CheckPWChallengeAuth). */
static int setup_role(fd_real *r, const fx_scenario *sc, pgtls_err *err)
{
    PGconn *c = admin_connect(r, err);
    char *ident = NULL, *lit = NULL, *sql = NULL;
    int result = -1;
    PGresult *res = NULL;
    const char *params[1];

    if (!c)
        return -1;
    ident = PQescapeIdentifier(c, sc->server.user, strlen(sc->server.user));
    lit = PQescapeLiteral(c, sc->server.password, strlen(sc->server.password));
    ENSURE(ident && lit, err, PGTLS_ERR_FAILED, "fidelity: cannot quote the role: %s",
           PQerrorMessage(c));
    params[0] = sc->server.user;
    res = PQexecParams(c, "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, NULL, params, NULL, NULL,
                       0);
    ENSURE(PQresultStatus(res) == PGRES_TUPLES_OK, err, PGTLS_ERR_FAILED,
           "fidelity: role lookup failed: %s", PQresultErrorMessage(res));
    if (PQntuples(res) == 0) {
        sql = str_printf("CREATE ROLE %s LOGIN", ident);
        ENSURE(sql, err, PGTLS_ERR_NOMEM, "out of memory");
        TRY(exec_on(c, sql, err));
        free(sql);
    }
    sql = str_printf("SET password_encryption = '%s'; ALTER ROLE %s WITH LOGIN SUPERUSER "
                     "PASSWORD %s; CREATE EXTENSION IF NOT EXISTS sslinfo",
                     strcmp(sc->server.auth, "md5") == 0 ? "md5" : "scram-sha-256", ident, lit);
    ENSURE(sql, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY(exec_on(c, sql, err));
    result = 0;
out:
    PQclear(res);
    PQfreemem(ident);
    PQfreemem(lit);
    free(sql);
    PQfinish(c);
    return result;
}

/* Starts the postmaster and waits until it answers on its Unix socket.
 * Returns 0 if OK, 1 when the port was taken (caller picks another), -1 with
 * a message in err. */
static int start_postmaster(fd_real *r, pgtls_err *err)
{
    char *postgres = fs_join(r->bindir, "postgres");
    char port[16], conninfo[512], tail[1024];
    long long deadline = time_now_ms() + FD_START_TIMEOUT_MS;
    int status, result = -1;
    pid_t pid;

    ENSURE(postgres, err, PGTLS_ERR_NOMEM, "out of memory");
    {
        char *const argv[] = {postgres, "-D", r->datadir, NULL};
        pid = spawn(r, argv, r->log_path, err);
    }
    if (pid < 0)
        goto out;
    r->pid = pid;
    snprintf(port, sizeof(port), "%d", r->port);
    snprintf(conninfo, sizeof(conninfo),
             "host=%s port=%d user=" FD_ADMIN_USER " dbname=postgres connect_timeout=2", r->sockdir,
             r->port);
    for (;;) {
        if (PQping(conninfo) == PQPING_OK)
            break;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            r->pid = 0;
            log_tail(r->log_path, tail, sizeof(tail));
            if (strstr(tail, "could not bind") || strstr(tail, "Address already in use")) {
                result = 1;
                goto out;
            }
            err_set(err, PGTLS_ERR_FAILED, "fidelity: the real server exited while starting: %s",
                    tail);
            goto out;
        }
        if (time_now_ms() > deadline) {
            pgtls_err ignored;
            err_clear(&ignored);
            fd_real_stop(r, &ignored);
            log_tail(r->log_path, tail, sizeof(tail));
            err_set(err, PGTLS_ERR_TIMEOUT,
                    "fidelity: the real server did not accept connections within %d s: %s",
                    FD_START_TIMEOUT_MS / 1000, tail);
            goto out;
        }
        sleep_ms(50);
    }
    result = 0;
out:
    free(postgres);
    return result;
}

/* Whether OpenSSL, configured as the server would be (the system
 * openssl.cnf: security level 2 on Debian), refuses to load the chain: an
 * RSA-1024 leaf or a SHA-1 signature. PostgreSQL loads the chain before it
 * applies ssl_ciphers (be-secure-openssl.c be_tls_init), so '@SECLEVEL=0'
 * there comes too late; the mock lowers the level for such chains, and the
 * harness does the same through the postmaster's OPENSSL_CONF. */
static int chain_needs_level0(const char *chain_pem)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int weak = 0;
    if (!ctx)
        return 0;
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, chain_pem) != 1) {
        unsigned long e = ERR_peek_last_error();
        weak = ERR_GET_LIB(e) == ERR_LIB_SSL && (ERR_GET_REASON(e) == SSL_R_EE_KEY_TOO_SMALL ||
                                                 ERR_GET_REASON(e) == SSL_R_CA_MD_TOO_WEAK ||
                                                 ERR_GET_REASON(e) == SSL_R_CA_KEY_TOO_SMALL);
    }
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return weak;
}

/* An OpenSSL configuration for the postmaster: the system defaults at
 * security level 0 (Debian's openssl.cnf sets CipherString
 * DEFAULT:@SECLEVEL=2 for every SSL_CTX). */
static int write_weak_conf(fd_real *r, pgtls_err *err)
{
    static const char conf[] = "# pgtls fidelity: security level 0 for weak test chains\n"
                               "openssl_conf = openssl_init\n"
                               "[openssl_init]\nssl_conf = ssl_sect\n"
                               "[ssl_sect]\nsystem_default = system_default_sect\n"
                               "[system_default_sect]\nCipherString = DEFAULT:@SECLEVEL=0\n";
    if (!r->weak_conf && !(r->weak_conf = fs_join(r->dir, "openssl-seclevel0.cnf")))
        return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    return write_owned(r, r->weak_conf, conf, sizeof(conf) - 1, 0644, err);
}

int fd_real_start(fd_real *r, const fx_scenario *sc, pgtls_err *err)
{
    char *conf = NULL, *hba = NULL, *conf_path = NULL, *hba_path = NULL;
    const char *why;
    fd_conf_paths paths;
    int result = -1, attempt, rc;

    ENSURE(r && sc, err, PGTLS_ERR_USAGE, "fd_real_start: no server or scenario");
    why = fd_scenario_unexpressible(sc, r->pg_major);
    ENSURE(!why, err, PGTLS_ERR_CONFIG, "scenario %s cannot run on a real PostgreSQL %d: %s",
           sc->name, r->pg_major, why);
    TRY(fd_real_stop(r, err));
    r->weak_chain = sc->server.ssl && chain_needs_level0(sc->chain_pem);
    if (r->weak_chain)
        TRY(write_weak_conf(r, err));
    if (sc->server.ssl) {
        TRY(copy_client_ca_files(r, sc, err));
        TRY(copy_owned(r, sc->chain_pem, r->cert_path, 0644, err));
        /* The server checks the key: owned by its user and 0600
         * (be-secure-common.c check_ssl_key_file_permissions). */
        TRY(copy_owned(r, sc->key_pem, r->key_path, 0600, err));
    }
    conf_path = fs_join(r->datadir, "pgtls.conf");
    hba_path = fs_join(r->datadir, "pg_hba.conf");
    ENSURE(conf_path && hba_path, err, PGTLS_ERR_NOMEM, "out of memory");
    hba = fd_render_hba(sc, err);
    if (!hba)
        goto out;
    TRY(write_owned(r, hba_path, hba, strlen(hba), 0600, err));
    for (attempt = 0; attempt < 5; attempt++) {
        paths.port = r->port;
        paths.socket_dir = r->sockdir;
        paths.cert_file = sc->server.ssl ? r->cert_path : NULL;
        paths.key_file = sc->server.ssl ? r->key_path : NULL;
        paths.ca_file = sc->server.ssl && sc->server.ssl_ca_file ? r->ca_path : NULL;
        paths.crl_file = sc->server.ssl && sc->server.ssl_crl_file ? r->crl_path : NULL;
        paths.crl_dir = sc->server.ssl && sc->server.ssl_crl_dir ? r->crl_dir : NULL;
        free(conf);
        conf = fd_render_conf(sc, r->pg_major, &paths, err);
        if (!conf)
            goto out;
        TRY(write_owned(r, conf_path, conf, strlen(conf), 0600, err));
        rc = start_postmaster(r, err);
        if (rc < 0)
            goto out;
        if (rc == 0)
            break;
        /* Someone took our port between runs: pick another. */
        r->port = free_port();
    }
    ENSURE(r->pid, err, PGTLS_ERR_IO, "fidelity: could not find a free port for the server");
    if (setup_role(r, sc, err) < 0) {
        pgtls_err ignored;
        err_clear(&ignored);
        fd_real_stop(r, &ignored);
        goto out;
    }
    result = 0;
out:
    free(conf);
    free(hba);
    free(conf_path);
    free(hba_path);
    return result;
}

int fd_real_stop(fd_real *r, pgtls_err *err)
{
    int status = 0, w;
    if (!r || !r->pid)
        return 0;
    /* SIGINT = fast shutdown (postmaster.c pmdie): sessions are ended. */
    kill(r->pid, SIGINT);
    w = wait_pid(r->pid, FD_STOP_TIMEOUT_MS, &status);
    if (w == 0) {
        kill(-r->pid, SIGKILL);
        wait_pid(r->pid, 5000, &status);
        r->pid = 0;
        return err_set(err, PGTLS_ERR_TIMEOUT,
                       "fidelity: the real server did not stop within %d s (killed)",
                       FD_STOP_TIMEOUT_MS / 1000);
    }
    r->pid = 0;
    return 0;
}

void fd_real_free(fd_real *r)
{
    pgtls_err ignored;
    const char *keep = getenv("PGTLS_FD_KEEP");
    if (!r)
        return;
    err_clear(&ignored);
    fd_real_stop(r, &ignored);
    if (r->dir && !(keep && strcmp(keep, "1") == 0) && strstr(r->dir, "/pgtls-fd-") &&
        !strstr(r->dir, "XXXXXX"))
        fs_remove_tree(r->dir, &ignored);
    free(r->bindir);
    free(r->dir);
    free(r->datadir);
    free(r->sockdir);
    free(r->log_path);
    free(r->cert_path);
    free(r->key_path);
    free(r->ca_path);
    free(r->crl_path);
    free(r->crl_dir);
    free(r->weak_conf);
    free(r);
}
