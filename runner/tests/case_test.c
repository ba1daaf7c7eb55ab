/* pgtls runner: unit tests of case lines, isolated HOME/env, one-shot argv. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs.h"
#include "rn.h"
#include "support.h"

static const char index_json[] =
    "{\"schema\":\"pgtls-fixtures/1\",\"default_host\":\"mydemoserver.postgres.database.azure.com\","
    "\"chains\":{\"c\":{\"pem\":\"chains/c.pem\",\"key\":\"keys/c.key\"}},"
    "\"stores\":{"
    "\"root-g2\":{\"kind\":\"roots\",\"pem\":\"stores/root-g2.pem\",\"p12\":\"stores/root-g2.p12\","
    "\"p12_password\":\"changeit\"},"
    "\"old-root\":{\"kind\":\"roots\",\"pem\":\"stores/old-root.pem\"},"
    "\"missing\":{\"kind\":\"missing\",\"pem\":\"stores/missing.pem\"},"
    "\"system\":{\"kind\":\"system\",\"pem\":\"stores/system.pem\",\"system_dir\":\"stores/system.d\"}},"
    "\"scenarios\":{\"azure-new\":{\"chain\":\"c\",\"server\":{\"user\":\"u1\",\"password\":\"p1\"}},"
    "\"plain\":{\"chain\":null,\"host\":\"other.example\",\"server\":{\"ssl\":false}}}}";

static char *dir;
static fx_index *idx;
static char *work;

static void setup(void)
{
    pgtls_err err;
    err_clear(&err);
    dir = ts_tmpdir_new("rn-case");
    free(ts_write_text(dir, "index.json", index_json));
    char *stores = fs_join(dir, "stores");
    ck_assert_int_eq(fs_mkdir_p(stores, 0755, &err), 0);
    free(ts_write_text(stores, "old-root.pem", "-----OLD ROOT-----\n"));
    free(stores);
    idx = fx_index_load(dir, &err);
    ck_assert_msg(idx != NULL, "%s", err.msg);
    work = fs_join(dir, "work");
    ck_assert_int_eq(fs_mkdir_p(work, 0755, &err), 0);
}

static void teardown(void)
{
    fx_index_free(idx);
    free(work);
    ts_tmpdir_remove(dir);
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

START_TEST(a_case_line_carries_every_protocol_field_from_the_index)
{
    pgtls_err err;
    rn_case_env env;
    rn_case c = {.id = "azure-new/root-g2/verify-full", .scenario = "azure-new",
                 .store = "root-g2", .sslmode = "verify-full", .sslnegotiation = "direct"};
    rn_target t = {.hostaddr = "127.0.0.1", .port = 40123};
    err_clear(&err);
    ck_assert_int_eq(rn_case_env_prepare(&c, idx, work, 1, &env, &err), 0);
    json_t *o = rn_case_json(&c, idx, &t, &env, &err);
    ck_assert_msg(o != NULL, "%s", err.msg);
    ck_assert_str_eq(jstr(o, "id"), "azure-new/root-g2/verify-full");
    ck_assert_str_eq(jstr(o, "host"), "mydemoserver.postgres.database.azure.com");
    ck_assert_str_eq(jstr(o, "hostaddr"), "127.0.0.1");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "port")), 40123);
    ck_assert_str_eq(jstr(o, "sslmode"), "verify-full");
    char *pem = fs_join(dir, "stores/root-g2.pem");
    ck_assert_str_eq(jstr(o, "sslrootcert"), pem);
    free(pem);
    ck_assert_ptr_nonnull(strstr(jstr(o, "truststore_p12"), "/stores/root-g2.p12"));
    ck_assert_str_eq(jstr(o, "truststore_password"), "changeit");
    ck_assert_str_eq(jstr(o, "user"), "u1");
    ck_assert_str_eq(jstr(o, "password"), "p1");
    ck_assert_str_eq(jstr(o, "dbname"), "postgres");
    ck_assert_str_eq(jstr(o, "query"), "SELECT ssl_is_used()");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "timeout_ms")), 5000);
    ck_assert_str_eq(jstr(o, "sslnegotiation"), "direct");
    ck_assert(json_is_null(json_object_get(o, "channel_binding")));
    ck_assert(json_is_null(json_object_get(o, "sslsni")));
    json_t *e = json_object_get(o, "env");
    ck_assert_str_eq(jstr(e, "HOME"), env.home);
    ck_assert_ptr_nonnull(strstr(env.home, "/work/home-1"));
    json_decref(o);
    rn_case_env_cleanup(&env);
}
END_TEST

START_TEST(an_unset_store_gives_a_null_sslrootcert_and_no_truststore)
{
    pgtls_err err;
    rn_case_env env;
    rn_case c = {.id = "plain/none/prefer", .scenario = "plain", .sslmode = "prefer",
                 .query = "SELECT 1", .timeout_ms = 1234};
    rn_target t = {.hostaddr = NULL, .port = 1};
    err_clear(&err);
    ck_assert_int_eq(rn_case_env_prepare(&c, idx, work, 2, &env, &err), 0);
    json_t *o = rn_case_json(&c, idx, &t, &env, &err);
    ck_assert_msg(o != NULL, "%s", err.msg);
    ck_assert(json_is_null(json_object_get(o, "sslrootcert")));
    ck_assert(json_is_null(json_object_get(o, "truststore_p12")));
    ck_assert_str_eq(jstr(o, "host"), "other.example");
    ck_assert_str_eq(jstr(o, "hostaddr"), "127.0.0.1");
    ck_assert_str_eq(jstr(o, "query"), "SELECT 1");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "timeout_ms")), 1234);
    json_decref(o);
    rn_case_env_cleanup(&env);
}
END_TEST

START_TEST(the_system_store_is_the_word_system_and_redirects_openssl_defaults)
{
    pgtls_err err;
    rn_case_env env;
    rn_case c = {.id = "azure-new/system/verify-full", .scenario = "azure-new",
                 .store = "system", .sslmode = "verify-full"};
    rn_target t = {.port = 5};
    err_clear(&err);
    ck_assert_int_eq(rn_case_env_prepare(&c, idx, work, 3, &env, &err), 0);
    json_t *o = rn_case_json(&c, idx, &t, &env, &err);
    ck_assert_msg(o != NULL, "%s", err.msg);
    ck_assert_str_eq(jstr(o, "sslrootcert"), "system");
    json_t *e = json_object_get(o, "env");
    ck_assert_ptr_nonnull(strstr(jstr(e, "SSL_CERT_FILE"), "/stores/system.pem"));
    ck_assert_ptr_nonnull(strstr(jstr(e, "SSL_CERT_DIR"), "/stores/system.d"));
    json_decref(o);
    rn_case_env_cleanup(&env);
}
END_TEST

START_TEST(a_non_system_case_sees_an_empty_system_store_never_the_hosts)
{
    pgtls_err err;
    rn_case_env env;
    rn_case c = {.id = "x", .scenario = "azure-new", .store = "root-g2", .sslmode = "require"};
    err_clear(&err);
    ck_assert_int_eq(rn_case_env_prepare(&c, idx, work, 4, &env, &err), 0);
    ck_assert_ptr_nonnull(env.ssl_cert_file);
    ck_assert(str_starts_with(env.ssl_cert_file, work));
    struct stat st;
    ck_assert_int_eq(stat(env.ssl_cert_file, &st), 0);
    ck_assert_int_eq(st.st_size, 0);
    ck_assert(str_starts_with(env.ssl_cert_dir, work));
    rn_case_env_cleanup(&env);
}
END_TEST

START_TEST(the_missing_store_points_at_a_path_that_does_not_exist)
{
    pgtls_err err;
    rn_case_env env;
    rn_case c = {.id = "x", .scenario = "azure-new", .store = "missing", .sslmode = "verify-ca"};
    rn_target t = {.port = 5};
    err_clear(&err);
    ck_assert_int_eq(rn_case_env_prepare(&c, idx, work, 5, &env, &err), 0);
    json_t *o = rn_case_json(&c, idx, &t, &env, &err);
    ck_assert_ptr_nonnull(o);
    ck_assert(jstr(o, "sslrootcert")[0] == '/');
    ck_assert(!fs_exists(jstr(o, "sslrootcert")));
    json_decref(o);
    rn_case_env_cleanup(&env);
}
END_TEST

START_TEST(a_stale_root_crt_is_copied_into_the_isolated_home)
{
    pgtls_err err;
    rn_case_env env;
    rn_case c = {.id = "x", .scenario = "azure-new", .sslmode = "require",
                 .home_root_crt = "old-root"};
    char *data = NULL;
    err_clear(&err);
    ck_assert_int_eq(rn_case_env_prepare(&c, idx, work, 6, &env, &err), 0);
    char *crt = str_printf("%s/.postgresql/root.crt", env.home);
    ck_assert_int_eq(fs_read_file(crt, 0, &data, NULL, &err), 0);
    ck_assert_str_eq(data, "-----OLD ROOT-----\n");
    free(data);
    free(crt);
    rn_case_env_cleanup(&env);
}
END_TEST

START_TEST(a_home_is_fresh_even_when_a_leftover_has_the_same_number)
{
    pgtls_err err;
    rn_case_env env;
    rn_case c = {.id = "x", .scenario = "azure-new", .sslmode = "require"};
    err_clear(&err);
    char *home = fs_join(work, "home-7/.postgresql");
    ck_assert_int_eq(fs_mkdir_p(home, 0700, &err), 0);
    free(ts_write_text(home, "root.crt", "stale"));
    ck_assert_int_eq(rn_case_env_prepare(&c, idx, work, 7, &env, &err), 0);
    char *crt = fs_join(home, "root.crt");
    ck_assert(!fs_exists(crt));
    free(crt);
    free(home);
    rn_case_env_cleanup(&env);
}
END_TEST

static const struct {
    rn_case c;
    const char *expect;
} bad_cases[] = {
    {{.id = "a", .scenario = "nope", .sslmode = "require"}, "scenario 'nope'"},
    {{.id = "b", .scenario = "azure-new", .store = "nope", .sslmode = "require"}, "store 'nope'"},
    {{.id = "c", .scenario = "azure-new", .home_root_crt = "nope", .sslmode = "require"},
     "root.crt store 'nope'"},
    {{.id = "d", .scenario = "azure-new", .home_root_crt = "missing", .sslmode = "require"},
     "cannot be copied"},
};

START_TEST(a_case_naming_an_unknown_scenario_or_store_is_an_input_error)
{
    pgtls_err err;
    rn_case_env env;
    rn_target t = {.port = 5};
    err_clear(&err);
    json_t *o = NULL;
    if (rn_case_env_prepare(&bad_cases[_i].c, idx, work, 8, &env, &err) == 0) {
        o = rn_case_json(&bad_cases[_i].c, idx, &t, &env, &err);
        rn_case_env_cleanup(&env);
    }
    ck_assert_ptr_null(o);
    ck_assert_int_eq(err.code, PGTLS_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, bad_cases[_i].expect), "case %d: got '%s'", _i, err.msg);
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
    const char *expect[] = {"python3", "/s/clients/psql/adapter.py", "--id", "a/b/c", "--port",
                            "5432", "--env", "HOME=/h", "--env", "SSL_CERT_FILE=/f",
                            "--connect_options", "{\"x\":true}", NULL};
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

Suite *rn_case_suite(void)
{
    Suite *s = suite_create("runner: cases");
    TCase *tc = tcase_create("case lines and environment");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_case_line_carries_every_protocol_field_from_the_index);
    tcase_add_test(tc, an_unset_store_gives_a_null_sslrootcert_and_no_truststore);
    tcase_add_test(tc, the_system_store_is_the_word_system_and_redirects_openssl_defaults);
    tcase_add_test(tc, a_non_system_case_sees_an_empty_system_store_never_the_hosts);
    tcase_add_test(tc, the_missing_store_points_at_a_path_that_does_not_exist);
    tcase_add_test(tc, a_stale_root_crt_is_copied_into_the_isolated_home);
    tcase_add_test(tc, a_home_is_fresh_even_when_a_leftover_has_the_same_number);
    tcase_add_loop_test(tc, a_case_naming_an_unknown_scenario_or_store_is_an_input_error, 0,
                        (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("one-shot commands");
    tcase_add_test(tc, the_oneshot_argv_has_one_flag_per_non_null_field_and_repeated_env);
    tcase_add_loop_test(tc, shell_text_quotes_what_a_shell_would_interpret, 0,
                        (int)(sizeof(shells) / sizeof(shells[0])));
    suite_add_tcase(s, tc);
    return s;
}
