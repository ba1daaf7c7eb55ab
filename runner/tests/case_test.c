/* pgtls runner: unit tests of case lines, isolated HOME/env, one-shot argv. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs.h"
#include "rn.h"
#include "support.h"

static char *dir;
static char *work;

static void setup(void)
{
    pgtls_err err;
    err_clear(&err);
    dir = ts_tmpdir_new("rn-case");
    free(ts_write_text(dir, "old-root.pem", "-----OLD ROOT-----\n"));
    work = fs_join(dir, "work");
    ck_assert_int_eq(fs_mkdir_p(work, 0755, &err), 0);
}

static void teardown(void)
{
    free(work);
    ts_tmpdir_remove(dir);
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

START_TEST(a_case_line_is_the_suite_case_plus_the_runner_fields)
{
    pgtls_err err;
    rn_case_env env;
    st_case c = {.id = "azure-new/root-g2/verify-full"};
    json_t *base = json_pack("{s:s, s:s, s:s, s:s, s:n}", "id", c.id, "host",
                             "mydemoserver.postgres.database.azure.com", "sslmode", "verify-full",
                             "sslrootcert", "/f/stores/root-g2.pem", "channel_binding");
    rn_target t = {.hostaddr = NULL, .port = 40123};
    err_clear(&err);
    ck_assert_int_eq(rn_case_env_prepare(&c, work, 1, &env, &err), 0);
    json_t *o = rn_case_json(base, &t, 5000, &env);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(jstr(o, "id"), "azure-new/root-g2/verify-full");
    ck_assert_str_eq(jstr(o, "host"), "mydemoserver.postgres.database.azure.com");
    ck_assert_str_eq(jstr(o, "hostaddr"), "127.0.0.1");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "port")), 40123);
    ck_assert_str_eq(jstr(o, "sslrootcert"), "/f/stores/root-g2.pem");
    ck_assert(json_is_null(json_object_get(o, "channel_binding")));
    ck_assert_int_eq(json_integer_value(json_object_get(o, "timeout_ms")), 5000);
    json_t *e = json_object_get(o, "env");
    ck_assert_str_eq(jstr(e, "HOME"), env.home);
    ck_assert_ptr_nonnull(strstr(env.home, "/work/home-1"));
    ck_assert_str_eq(jstr(e, "SSL_CERT_FILE"), env.ssl_cert_file);
    /* The base is not modified: the next worker builds its own line from it. */
    ck_assert_ptr_null(json_object_get(base, "port"));
    json_decref(o);
    json_decref(base);
    rn_case_env_cleanup(&env);
}
END_TEST

START_TEST(the_system_store_redirects_openssl_defaults_to_the_isolated_store)
{
    pgtls_err err;
    rn_case_env env;
    st_case c = {.id = "azure-new/system/verify-full",
                 .root_kind = ST_ROOT_SYSTEM,
                 .system_cert_file = "/f/stores/system.pem",
                 .system_cert_dir = "/f/stores/system.d"};
    err_clear(&err);
    ck_assert_int_eq(rn_case_env_prepare(&c, work, 3, &env, &err), 0);
    ck_assert_str_eq(env.ssl_cert_file, "/f/stores/system.pem");
    ck_assert_str_eq(env.ssl_cert_dir, "/f/stores/system.d");
    rn_case_env_cleanup(&env);
}
END_TEST

START_TEST(a_non_system_case_sees_an_empty_system_store_never_the_hosts)
{
    pgtls_err err;
    rn_case_env env;
    st_case c = {.id = "x", .root_kind = ST_ROOT_FILE};
    err_clear(&err);
    ck_assert_int_eq(rn_case_env_prepare(&c, work, 4, &env, &err), 0);
    ck_assert_ptr_nonnull(env.ssl_cert_file);
    ck_assert(str_starts_with(env.ssl_cert_file, work));
    struct stat st;
    ck_assert_int_eq(stat(env.ssl_cert_file, &st), 0);
    ck_assert_int_eq(st.st_size, 0);
    ck_assert(str_starts_with(env.ssl_cert_dir, work));
    ck_assert_int_eq(stat(env.ssl_cert_dir, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    rn_case_env_cleanup(&env);
}
END_TEST

START_TEST(a_stale_root_crt_is_copied_into_the_isolated_home)
{
    pgtls_err err;
    rn_case_env env;
    char *pem = fs_join(dir, "old-root.pem");
    st_case c = {.id = "x", .home_root_crt_store = "old-root", .home_root_crt_pem = pem};
    char *data = NULL;
    err_clear(&err);
    ck_assert_int_eq(rn_case_env_prepare(&c, work, 6, &env, &err), 0);
    char *crt = str_printf("%s/.postgresql/root.crt", env.home);
    ck_assert_int_eq(fs_read_file(crt, 0, &data, NULL, &err), 0);
    ck_assert_str_eq(data, "-----OLD ROOT-----\n");
    struct stat st;
    ck_assert_int_eq(stat(crt, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    free(data);
    free(crt);
    free(pem);
    rn_case_env_cleanup(&env);
}
END_TEST

START_TEST(a_stale_root_crt_that_cannot_be_read_is_an_error_naming_the_case)
{
    pgtls_err err;
    rn_case_env env;
    st_case c = {.id = "a/b/require",
                 .home_root_crt_store = "gone",
                 .home_root_crt_pem = "/nonexistent/gone.pem"};
    err_clear(&err);
    ck_assert_int_eq(rn_case_env_prepare(&c, work, 9, &env, &err), -1);
    ck_assert_msg(strstr(err.msg, "case a/b/require: stale root.crt from store gone"), "got '%s'",
                  err.msg);
    ck_assert_ptr_null(env.home);
}
END_TEST

START_TEST(a_home_is_fresh_even_when_a_leftover_has_the_same_number)
{
    pgtls_err err;
    rn_case_env env;
    st_case c = {.id = "x"};
    err_clear(&err);
    char *home = fs_join(work, "home-7/.postgresql");
    ck_assert_int_eq(fs_mkdir_p(home, 0700, &err), 0);
    free(ts_write_text(home, "root.crt", "stale"));
    ck_assert_int_eq(rn_case_env_prepare(&c, work, 7, &env, &err), 0);
    char *crt = fs_join(home, "root.crt");
    ck_assert(!fs_exists(crt));
    free(crt);
    free(home);
    rn_case_env_cleanup(&env);
}
END_TEST

START_TEST(the_oneshot_argv_has_one_flag_per_non_null_field_and_repeated_env)
{
    char *argv0[] = {"python3", "/s/clients/psql/adapter.py", NULL};
    rn_manifest m = {.name = "psql", .argv = argv0, .num_argv = 2};
    json_t *o = json_pack("{s:s, s:i, s:n, s:{s:s, s:s}, s:{s:b}}", "id", "a/b/c", "port", 5432,
                          "sslrootcert", "env", "HOME", "/h", "SSL_CERT_FILE", "/f",
                          "connect_options", "x", 1);
    char **v = rn_case_oneshot_argv(&m, o);
    ck_assert_ptr_nonnull(v);
    const char *expect[] = {"python3",
                            "/s/clients/psql/adapter.py",
                            "--id",
                            "a/b/c",
                            "--port",
                            "5432",
                            "--env",
                            "HOME=/h",
                            "--env",
                            "SSL_CERT_FILE=/f",
                            "--connect_options",
                            "{\"x\":true}",
                            NULL};
    for (size_t i = 0; expect[i] || v[i]; i++) {
        ck_assert_msg(expect[i] && v[i], "length differs at %zu", i);
        ck_assert_str_eq(v[i], expect[i]);
    }
    rn_strv_free(v);
    json_decref(o);
}
END_TEST

static const struct {
    const char *in[4];
    const char *out;
} shells[] = {
    {{"a", "b-c", "/x/y.py", NULL}, "a b-c /x/y.py"},
    {{"--query", "SELECT ssl_is_used()", NULL}, "--query 'SELECT ssl_is_used()'"},
    {{"it's", NULL}, "'it'\\''s'"},
    {{"", "$HOME", NULL}, "'' '$HOME'"},
};

START_TEST(shell_text_quotes_what_a_shell_would_interpret)
{
    char *s = rn_shell_join((char *const *)shells[_i].in);
    ck_assert_str_eq(s, shells[_i].out);
    free(s);
}
END_TEST

static const struct {
    const char *in, *out;
} event_orders[] = {
    /* prefer: the TLS attempt ends after the plaintext retry was accepted */
    {"[{\"pid\":11,\"tls_start\":\"none\"},{\"pid\":10,\"tls_start\":\"sslrequest\"}]",
     "[{\"pid\":10,\"tls_start\":\"sslrequest\"},{\"pid\":11,\"tls_start\":\"none\"}]"},
    {"[{\"pid\":1},{\"pid\":2},{\"pid\":3}]", "[{\"pid\":1},{\"pid\":2},{\"pid\":3}]"},
    {"[{\"t_start\":\"2026-01-01T00:00:00.002Z\"},{\"t_start\":\"2026-01-01T00:00:00.001Z\"}]",
     "[{\"t_start\":\"2026-01-01T00:00:00.001Z\"},{\"t_start\":\"2026-01-01T00:00:00.002Z\"}]"},
    {"[{\"unparsed\":\"b\"},{\"unparsed\":\"a\"}]", "[{\"unparsed\":\"b\"},{\"unparsed\":\"a\"}]"},
    {"[\"x\",{\"pid\":5}]", "[{\"pid\":5},\"x\"]"},
    {"[]", "[]"},
};

START_TEST(events_are_put_in_connection_order_whatever_order_they_ended_in)
{
    json_t *in = json_loads(event_orders[_i].in, 0, NULL);
    json_t *want = json_loads(event_orders[_i].out, 0, NULL);
    ck_assert_ptr_nonnull(in);
    rn_events_sort(in);
    char *got = json_dumps(in, JSON_COMPACT);
    ck_assert_msg(json_equal(in, want), "case %d: got %s", _i, got);
    free(got);
    json_decref(in);
    json_decref(want);
}
END_TEST

Suite *rn_case_suite(void)
{
    Suite *s = suite_create("runner: cases");
    TCase *tc = tcase_create("case lines and environment");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_case_line_is_the_suite_case_plus_the_runner_fields);
    tcase_add_test(tc, the_system_store_redirects_openssl_defaults_to_the_isolated_store);
    tcase_add_test(tc, a_non_system_case_sees_an_empty_system_store_never_the_hosts);
    tcase_add_test(tc, a_stale_root_crt_is_copied_into_the_isolated_home);
    tcase_add_test(tc, a_stale_root_crt_that_cannot_be_read_is_an_error_naming_the_case);
    tcase_add_test(tc, a_home_is_fresh_even_when_a_leftover_has_the_same_number);
    suite_add_tcase(s, tc);
    tc = tcase_create("event order");
    tcase_add_loop_test(tc, events_are_put_in_connection_order_whatever_order_they_ended_in, 0,
                        (int)(sizeof(event_orders) / sizeof(event_orders[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("one-shot commands");
    tcase_add_test(tc, the_oneshot_argv_has_one_flag_per_non_null_field_and_repeated_env);
    tcase_add_loop_test(tc, shell_text_quotes_what_a_shell_would_interpret, 0,
                        (int)(sizeof(shells) / sizeof(shells[0])));
    suite_add_tcase(s, tc);
    return s;
}
