/* pgtls: tests of the real-PostgreSQL harness (suite "fidelity").
 *
 * They start Debian's PostgreSQL server on a free loopback port, with a
 * self-signed certificate made here (so they do not depend on certs-gen), and
 * connect to it with libpq the way the fidelity suite's clients do. */
#include <check.h>
#include <errno.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd.h"
#include "fs.h"

#define HOST "mydemoserver.postgres.database.azure.com"

static char *fixtures; /* a fixtures folder with index.json, made per test */

/* A self-signed EC P-256 certificate for HOST, written as DIR/chain.pem and
 * DIR/leaf.key (0600). */
static void make_cert(const char *dir)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    X509_EXTENSION *ext;
    X509V3_CTX ctx;
    char *p;
    FILE *f;

    ck_assert_ptr_nonnull(key);
    ck_assert_ptr_nonnull(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 30);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)HOST, -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, "DNS:" HOST);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
    p = fs_join(dir, "chain.pem");
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    PEM_write_X509(f, x);
    fclose(f);
    free(p);
    p = fs_join(dir, "leaf.key");
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    chmod(p, 0600);
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    free(p);
    X509_free(x);
    EVP_PKEY_free(key);
}

static const char index_json[] =
    "{\"schema\":\"pgtls-fixtures/1\",\"default_host\":\"" HOST "\","
    "\"certs\":{},\"stores\":{},"
    "\"chains\":{\"self\":{\"certs\":[\"leaf\"],\"leaf\":\"leaf\",\"pem\":\"chain.pem\","
    "\"key\":\"leaf.key\"}},"
    "\"scenarios\":{"
    "\"tls-required\":{\"chain\":\"self\",\"server\":{\"ssl\":true,"
    "\"require_secure_transport\":true}},"
    "\"tls13-md5\":{\"chain\":\"self\",\"server\":{\"ssl\":true,"
    "\"require_secure_transport\":false,\"ssl_min_protocol_version\":\"TLSv1.3\","
    "\"auth\":\"md5\",\"user\":\"azureuser\",\"password\":\"it's-md5\"}},"
    "\"plain\":{\"chain\":null,\"server\":{\"ssl\":false,\"require_secure_transport\":false,"
    "\"auth\":\"password\"}},"
    "\"client-cert\":{\"chain\":\"self\",\"server\":{\"client_cert\":true}}"
    "}}";

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    pgtls_err err;
    char *p;
    fixtures = str_printf("%s/pgtls-fdt-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(fixtures));
    /* The server user reads nothing here (the harness copies the files), but
     * keep the folder traversable like a real fixtures folder. */
    chmod(fixtures, 0755);
    make_cert(fixtures);
    p = fs_join(fixtures, "index.json");
    err_clear(&err);
    ck_assert_msg(fs_write_file(p, index_json, strlen(index_json), 0644, &err) == 0, "%s", err.msg);
    free(p);
}

static void teardown(void)
{
    pgtls_err err;
    err_clear(&err);
    fs_remove_tree(fixtures, &err);
    free(fixtures);
    fixtures = NULL;
}

/* Connects like a client of the suite; returns the connection (check its
 * status) and fills *out_query with the first value of `query`. */
static PGconn *client(int port, const char *sslmode, const char *user, const char *password,
                      const char *extra_key, const char *extra_val)
{
    char portbuf[16], *root = fs_join(fixtures, "chain.pem");
    const char *keys[] = {"host",     "hostaddr", "port",        "dbname",          "user",
                          "password", "sslmode",  "sslrootcert", "connect_timeout", extra_key,
                          NULL};
    const char *vals[] = {HOST,    "127.0.0.1", portbuf, "postgres", user, password,
                          sslmode, root,        "10",    extra_val,  NULL};
    PGconn *c;
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    c = PQconnectdbParams(keys, vals, 0);
    free(root);
    return c;
}

static char *query1(PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    char *v = NULL;
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(res));
    v = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

static fx_index *load(void)
{
    pgtls_err err;
    fx_index *idx;
    err_clear(&err);
    idx = fx_index_load(fixtures, &err);
    ck_assert_msg(idx != NULL, "%s", err.msg);
    return idx;
}

START_TEST(verify_full_connects_over_tls_and_the_seed_queries_answer)
{
    pgtls_err err;
    fx_index *idx = load();
    fd_real *r;
    PGconn *c;
    char *v;

    err_clear(&err);
    r = fd_real_new(NULL, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert_int_ge(fd_real_pg_major(r), 10);
    ck_assert_msg(fd_real_start(r, fx_scenario_find(idx, "tls-required"), &err) == 0, "%s",
                  err.msg);
    c = client(fd_real_port(r), "verify-full", "pgtls", "pgtls-secret", NULL, NULL);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
    ck_assert_int_eq(PQsslInUse(c), 1);
    v = query1(c, "SELECT ssl_is_used()");
    ck_assert_str_eq(v, "t");
    free(v);
    v = query1(c, "SHOW ssl_min_protocol_version");
    ck_assert_str_eq(v, "TLSv1.2");
    free(v);
    v = query1(c, "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity ON pg_stat_ssl.pid = "
                  "pg_stat_activity.pid WHERE ssl AND client_addr = '127.0.0.1'");
    ck_assert_str_eq(v, "1");
    free(v);
    PQfinish(c);
    /* require_secure_transport: a plaintext startup is refused. */
    c = client(fd_real_port(r), "disable", "pgtls", "pgtls-secret", NULL, NULL);
    ck_assert_int_eq(PQstatus(c), CONNECTION_BAD);
    ck_assert_msg(strstr(PQerrorMessage(c), "no pg_hba.conf entry") &&
                      strstr(PQerrorMessage(c), "no encryption"),
                  "%s", PQerrorMessage(c));
    PQfinish(c);
    /* A wrong password fails authentication. */
    c = client(fd_real_port(r), "verify-full", "pgtls", "wrong", NULL, NULL);
    ck_assert_int_eq(PQstatus(c), CONNECTION_BAD);
    ck_assert_msg(strstr(PQerrorMessage(c), "password authentication failed"), "%s",
                  PQerrorMessage(c));
    PQfinish(c);
    fd_real_free(r);
    fx_index_free(idx);
}
END_TEST

START_TEST(a_restart_for_another_scenario_keeps_the_port_and_applies_its_settings)
{
    pgtls_err err;
    fx_index *idx = load();
    fd_real *r;
    PGconn *c;
    char *v, *dir_probe;
    int port, pid1;

    err_clear(&err);
    r = fd_real_new(NULL, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert_msg(fd_real_start(r, fx_scenario_find(idx, "tls-required"), &err) == 0, "%s",
                  err.msg);
    port = fd_real_port(r);
    pid1 = fd_real_pid(r);
    ck_assert_msg(fd_real_start(r, fx_scenario_find(idx, "tls13-md5"), &err) == 0, "%s", err.msg);
    ck_assert_int_eq(fd_real_port(r), port);
    ck_assert_int_ne(fd_real_pid(r), pid1);
    ck_assert_int_ne(kill(pid1, 0) == 0 && errno != ESRCH, 1);
    /* TLS 1.3 minimum: a client capped at TLS 1.2 gets protocol_version. */
    c = client(port, "require", "azureuser", "it's-md5", "ssl_max_protocol_version", "TLSv1.2");
    ck_assert_int_eq(PQstatus(c), CONNECTION_BAD);
    ck_assert_msg(strstr(PQerrorMessage(c), "protocol version"), "%s", PQerrorMessage(c));
    PQfinish(c);
    c = client(port, "verify-full", "azureuser", "it's-md5", NULL, NULL);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
    ck_assert_str_eq(PQparameterStatus(c, "server_encoding"), "UTF8");
    v = query1(c, "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    ck_assert_str_eq(v, "TLSv1.3");
    free(v);
    v = query1(c, "SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = 'azureuser'");
    ck_assert_str_eq(v, "md5");
    free(v);
    PQfinish(c);
    /* No require_secure_transport: plaintext is allowed. */
    c = client(port, "disable", "azureuser", "it's-md5", NULL, NULL);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
    ck_assert_int_eq(PQsslInUse(c), 0);
    v = query1(c, "SELECT ssl_is_used()");
    ck_assert_str_eq(v, "f");
    free(v);
    PQfinish(c);
    /* A server with TLS off answers SSLRequest with 'N'. */
    ck_assert_msg(fd_real_start(r, fx_scenario_find(idx, "plain"), &err) == 0, "%s", err.msg);
    c = client(port, "require", "pgtls", "pgtls-secret", NULL, NULL);
    ck_assert_int_eq(PQstatus(c), CONNECTION_BAD);
    ck_assert_msg(strstr(PQerrorMessage(c), "server does not support SSL"), "%s",
                  PQerrorMessage(c));
    PQfinish(c);
    dir_probe = strdup(fd_real_log_path(r));
    ck_assert(fs_exists(dir_probe));
    fd_real_free(r);
    ck_assert_msg(!fs_exists(dir_probe), "%s was not removed", dir_probe);
    free(dir_probe);
    fx_index_free(idx);
}
END_TEST

START_TEST(an_unexpressible_scenario_is_refused_with_its_reason)
{
    pgtls_err err;
    fx_index *idx = load();
    fd_real *r;
    err_clear(&err);
    r = fd_real_new(NULL, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert_int_eq(fd_real_start(r, fx_scenario_find(idx, "client-cert"), &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "client-cert"));
    ck_assert_ptr_nonnull(strstr(err.msg, "ssl_ca_file"));
    ck_assert_int_eq(fd_real_pid(r), 0);
    fd_real_free(r);
    fx_index_free(idx);
}
END_TEST

START_TEST(a_missing_server_installation_names_the_debian_package)
{
    pgtls_err err;
    err_clear(&err);
    ck_assert_ptr_null(fd_real_new("/nonexistent/pg/bin", &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "postgresql"));
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/pg/bin"));
}
END_TEST

START_TEST(the_server_dies_with_its_owner_even_without_cleanup)
{
    struct {
        int pid;
        char log[512];
    } got;
    int fds[2], status;
    pid_t child;
    char *dir;
    pgtls_err err;

    memset(&got, 0, sizeof(got));
    ck_assert_int_eq(pipe(fds), 0);
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        fx_index *idx;
        fd_real *r;
        err_clear(&err);
        idx = fx_index_load(fixtures, &err);
        r = idx ? fd_real_new(NULL, &err) : NULL;
        if (r && fd_real_start(r, fx_scenario_find(idx, "tls-required"), &err) == 0) {
            got.pid = fd_real_pid(r);
            snprintf(got.log, sizeof(got.log), "%s", fd_real_log_path(r));
        }
        (void)!write(fds[1], &got, sizeof(got));
        _exit(0); /* no fd_real_free: a crashed owner */
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], &got, sizeof(got)), (int)sizeof(got));
    close(fds[0]);
    waitpid(child, &status, 0);
    ck_assert_int_gt(got.pid, 0);
    for (int i = 0; i < 200 && kill(got.pid, 0) == 0; i++)
        usleep(50000);
    ck_assert_msg(kill(got.pid, 0) != 0, "postmaster %d outlived its owner", got.pid);
    /* The folder is left behind by design (only the server must not be). */
    dir = strdup(got.log);
    *strrchr(dir, '/') = '\0';
    ck_assert_ptr_nonnull(strstr(dir, "/pgtls-fd-"));
    err_clear(&err);
    fs_remove_tree(dir, &err);
    free(dir);
}
END_TEST

static Suite *fd_real_suite(void)
{
    Suite *s = suite_create("fidelity: the real PostgreSQL harness");
    TCase *tc = tcase_create("server");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, verify_full_connects_over_tls_and_the_seed_queries_answer);
    tcase_add_test(tc, a_restart_for_another_scenario_keeps_the_port_and_applies_its_settings);
    tcase_add_test(tc, an_unexpressible_scenario_is_refused_with_its_reason);
    tcase_add_test(tc, a_missing_server_installation_names_the_debian_package);
    tcase_add_test(tc, the_server_dies_with_its_owner_even_without_cleanup);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fd_real_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
