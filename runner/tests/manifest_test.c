/* pgtls runner: unit tests of adapter manifests and argv placeholders. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs.h"
#include "rn.h"
#include "support.h"

static const rn_paths paths = {.build_root = "/b", .source_root = "/s"};

static const struct {
    const char *in, *out;
} expansions[] = {
    {"@BUILD@/clients/libpq/pgtls-libpq", "/b/clients/libpq/pgtls-libpq"},
    {"@SRC@/clients/psql/adapter.py", "/s/clients/psql/adapter.py"},
    {"@DIR@/run.sh", "/s/clients/x/run.sh"},
    {"--jar=@BUILD@/a.jar:@SRC@/b.jar", "--jar=/b/a.jar:/s/b.jar"},
    {"python3", "python3"},
    {"", ""},
    {"--client-name=@NAME@", "--client-name=x"},
};

START_TEST(placeholders_expand_to_the_build_source_and_adapter_folders)
{
    pgtls_err err;
    err_clear(&err);
    char *s = rn_expand_placeholders(expansions[_i].in, &paths, "/s/clients/x", &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert_str_eq(s, expansions[_i].out);
    free(s);
}
END_TEST

static const struct {
    const char *in, *expect;
} bad_expansions[] = {
    {"@HOME@/x", "unknown placeholder @HOME@"},
    {"user@example", "unterminated placeholder"},
    {"@build@/x", "unknown placeholder @build@"},
};

START_TEST(an_unknown_or_unterminated_placeholder_is_refused)
{
    pgtls_err err;
    err_clear(&err);
    ck_assert_ptr_null(rn_expand_placeholders(bad_expansions[_i].in, &paths, "/d", &err));
    ck_assert_int_eq(err.code, PGTLS_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, bad_expansions[_i].expect), "got '%s'", err.msg);
}
END_TEST

START_TEST(a_good_manifest_gives_an_expanded_argv_and_its_settings)
{
    pgtls_err err;
    err_clear(&err);
    rn_manifest *m =
        rn_manifest_parse("{\"protocol\":1,\"name\":\"psql\",\"description\":\"psql via libpq\","
                          "\"argv\":[\"python3\",\"@SRC@/clients/psql/adapter.py\"],"
                          "\"startup_timeout_ms\":1500,\"tls_only\":true,\"install\":\"@DIR@/"
                          "install\",\"extra\":{\"ignored\":1}}",
                          "psql/adapter.json", "psql", "/s/clients/psql", &paths, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    ck_assert_str_eq(m->name, "psql");
    ck_assert_str_eq(m->dir, "/s/clients/psql");
    ck_assert_str_eq(m->description, "psql via libpq");
    ck_assert_uint_eq(m->num_argv, 2);
    ck_assert_str_eq(m->argv[0], "python3");
    ck_assert_str_eq(m->argv[1], "/s/clients/psql/adapter.py");
    ck_assert_ptr_null(m->argv[2]);
    ck_assert_int_eq(m->startup_timeout_ms, 1500);
    ck_assert_int_eq(m->tls_only, 1);
    ck_assert_str_eq(m->install, "/s/clients/psql/install");
    rn_manifest_free(m);
}
END_TEST

START_TEST(a_minimal_manifest_gets_defaults)
{
    pgtls_err err;
    err_clear(&err);
    rn_manifest *m =
        rn_manifest_parse("{\"argv\":[\"@BUILD@/x\"]}", "x/adapter.json", "x", "/d", &paths, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    ck_assert_str_eq(m->argv[0], "/b/x");
    ck_assert_int_eq(m->startup_timeout_ms, 20000);
    ck_assert_int_eq(m->tls_only, 0);
    ck_assert_ptr_null(m->description);
    rn_manifest_free(m);
}
END_TEST

static const struct {
    const char *text, *expect;
} bad_manifests[] = {
    {"", "not valid JSON"},
    {"[1]", "must hold a JSON object"},
    {"{}", "\"argv\" is missing"},
    {"{\"argv\":[]}", "non-empty array"},
    {"{\"argv\":\"x\"}", "non-empty array"},
    {"{\"argv\":[1]}", "\"argv\"[0] must be a non-empty string"},
    {"{\"argv\":[\"\"]}", "\"argv\"[0] must be a non-empty string"},
    {"{\"argv\":[\"x\",\"@NOPE@\"]}", "\"argv\"[1]: unknown placeholder @NOPE@"},
    {"{\"argv\":[\"x\"],\"name\":\"other\"}", "the folder is 'x'"},
    {"{\"argv\":[\"x\"],\"name\":3}", "\"name\" must be a string"},
    {"{\"argv\":[\"x\"],\"startup_timeout_ms\":0}", "\"startup_timeout_ms\" must be an integer"},
    {"{\"argv\":[\"x\"],\"startup_timeout_ms\":\"5\"}",
     "\"startup_timeout_ms\" must be an integer"},
    {"{\"argv\":[\"x\"],\"protocol\":2}", "speaks case protocol 2"},
    {"{\"argv\":[\"x\"],\"protocol\":\"1\"}", "\"protocol\" must be an integer"},
    {"{\"argv\":[\"x\"],\"tls_only\":1}", "\"tls_only\" must be true or false"},
    {"{\"argv\":[\"x\"],\"description\":[]}", "\"description\" must be a string"},
    {"{\"argv\":[\"x\"],\"requires\":\"psql\"}", "\"requires\" must be an array"},
    {"{\"argv\":[\"x\"],\"requires\":[\"\"]}", "\"requires\"[0] must be a non-empty"},
    {"{\"argv\":[\"x\"],\"install\":true}", "\"install\" must be a string"},
    {"{\"argv\":[\"x\"],\"install\":\"@X@\"}", "\"install\": unknown placeholder @X@"},
};

START_TEST(a_bad_manifest_is_refused_naming_the_file_and_the_key)
{
    pgtls_err err;
    err_clear(&err);
    ck_assert_ptr_null(rn_manifest_parse(bad_manifests[_i].text, "clients/x/adapter.json", "x",
                                         "/d", &paths, &err));
    ck_assert_int_eq(err.code, PGTLS_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "clients/x/adapter.json"), "case %d: got '%s'", _i, err.msg);
    ck_assert_msg(strstr(err.msg, bad_manifests[_i].expect), "case %d: got '%s'", _i, err.msg);
}
END_TEST

START_TEST(detection_lists_only_folders_with_a_manifest_sorted)
{
    pgtls_err err;
    char *dir = ts_tmpdir_new("rn-list");
    char **names = NULL;
    err_clear(&err);
    const char *with[] = {"zeta", "alpha", "mid"};
    for (size_t i = 0; i < 3; i++) {
        char *sub = fs_join(dir, with[i]);
        ck_assert_int_eq(fs_mkdir_p(sub, 0755, &err), 0);
        free(ts_write_text(sub, "adapter.json", "{\"argv\":[\"x\"]}"));
        free(sub);
    }
    char *none = fs_join(dir, "no-manifest");
    ck_assert_int_eq(fs_mkdir_p(none, 0755, &err), 0);
    free(none);
    free(ts_write_text(dir, "meson.build", "# not an adapter"));
    ck_assert_int_eq(rn_manifest_list(dir, &names, &err), 3);
    ck_assert_str_eq(names[0], "alpha");
    ck_assert_str_eq(names[1], "mid");
    ck_assert_str_eq(names[2], "zeta");
    ck_assert_ptr_null(names[3]);
    rn_strv_free(names);

    rn_manifest *m = rn_manifest_load(dir, "alpha", &paths, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    ck_assert_ptr_null(rn_manifest_load(dir, "no-manifest", &paths, &err));
    rn_manifest_free(m);
    ts_tmpdir_remove(dir);
}
END_TEST

/* Version builds (docs/versions.md): NAME@VERSION folders are adapters; their
 * argv says its own name with @NAME@ (an '@' in it could not be written
 * literally), and a name with a path or odd characters is no adapter at all. */
START_TEST(a_version_build_is_an_adapter_named_with_its_version)
{
    pgtls_err err;
    char *dir = ts_tmpdir_new("rn-version");
    char **names = NULL;
    err_clear(&err);
    char *sub = fs_join(dir, "pgx@5.0.0");
    ck_assert_int_eq(fs_mkdir_p(sub, 0755, &err), 0);
    free(ts_write_text(sub, "adapter.json",
                       "{\"protocol\":1,\"name\":\"pgx@5.0.0\",\"argv\":[\"@DIR@/pgx-adapter\","
                       "\"--client-name\",\"@NAME@\"]}"));
    char *odd = fs_join(dir, "bad name");
    ck_assert_int_eq(fs_mkdir_p(odd, 0755, &err), 0);
    free(ts_write_text(odd, "adapter.json", "{\"argv\":[\"x\"]}"));
    ck_assert_int_eq(rn_manifest_list(dir, &names, &err), 1);
    ck_assert_str_eq(names[0], "pgx@5.0.0");
    rn_strv_free(names);
    rn_manifest *m = rn_manifest_load(dir, "pgx@5.0.0", &paths, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    ck_assert_int_eq(m->num_argv, 3);
    ck_assert_str_eq(m->argv[2], "pgx@5.0.0");
    ck_assert_msg(strstr(m->argv[0], "/pgx@5.0.0/pgx-adapter"), "got '%s'", m->argv[0]);
    rn_manifest_free(m);
    ck_assert_ptr_null(rn_manifest_load(dir, "../pgx@5.0.0", &paths, &err));
    ck_assert_msg(strstr(err.msg, "is not an adapter name"), "got '%s'", err.msg);

    ck_assert(rn_client_name_ok("node-postgres@8.7.3"));
    ck_assert(rn_client_name_ok("psycopg2@2.9.5+local"));
    ck_assert(rn_client_name_ok("openssl-s_client"));
    ck_assert(!rn_client_name_ok("a@b@c"));
    ck_assert(!rn_client_name_ok("pgx@"));
    ck_assert(!rn_client_name_ok("@5.0.0"));
    ck_assert(!rn_client_name_ok("-x"));
    ck_assert(!rn_client_name_ok("x/y"));
    ck_assert(!rn_client_name_ok(""));
    char base[64];
    ck_assert_str_eq(rn_client_base("pgx@5.0.0", base, sizeof(base)), "pgx");
    ck_assert_str_eq(rn_client_base("libpq", base, sizeof(base)), "libpq");

    /* --clients names: the folder, or a registry name at a version */
    char *r = rn_client_resolve(dir, "github.com/jackc/pgx/v5@v5.0.0", &paths, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert_str_eq(r, "pgx@5.0.0");
    free(r);
    r = rn_client_resolve(dir, "pgx@v5.0.0", &paths, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert_str_eq(r, "pgx@5.0.0");
    free(r);
    ck_assert_ptr_null(rn_client_resolve(dir, "pg@8.7.3", &paths, &err));
    ck_assert_msg(strstr(err.msg, "no client build node-postgres@8.7.3") &&
                      strstr(err.msg, "pgtls clients add pg@8.7.3"),
                  "got '%s'", err.msg);
    ck_assert_ptr_null(rn_client_resolve(dir, "pgx@5.0.0/..", &paths, &err));
    ck_assert_msg(strstr(err.msg, "is not a client name"), "got '%s'", err.msg);
    free(odd);
    free(sub);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(detection_of_a_missing_clients_folder_is_an_error_not_a_crash)
{
    pgtls_err err;
    char **names = NULL;
    err_clear(&err);
    ck_assert_int_eq(rn_manifest_list("/nonexistent/pgtls/clients", &names, &err), -1);
    ck_assert_ptr_null(names);
    ck_assert_msg(strstr(err.msg, "/nonexistent/pgtls/clients"), "got '%s'", err.msg);
}
END_TEST

START_TEST(an_adapter_whose_program_is_missing_is_unusable_with_the_reason)
{
    pgtls_err err;
    err_clear(&err);
    char *dir = ts_tmpdir_new("rn-exec");
    char *nonexec = ts_write_text(dir, "script", "#!/bin/sh\n");
    rn_manifest m = {.name = "x", .num_argv = 1};
    char *argv[2] = {NULL, NULL};
    m.argv = argv;

    argv[0] = "/nonexistent/pgtls-adapter";
    ck_assert_int_eq(rn_manifest_check_exec(&m, &err), -1);
    ck_assert_msg(strstr(err.msg, "does not exist (build it"), "got '%s'", err.msg);
    m.install = "/s/clients/x/install";
    ck_assert_int_eq(rn_manifest_check_exec(&m, &err), -1);
    ck_assert_msg(strstr(err.msg, "install it: /s/clients/x/install"), "got '%s'", err.msg);
    m.install = NULL;
    argv[0] = nonexec;
    ck_assert_int_eq(rn_manifest_check_exec(&m, &err), -1);
    ck_assert_msg(strstr(err.msg, "not an executable"), "got '%s'", err.msg);
    argv[0] = "pgtls-no-such-program-in-path";
    ck_assert_int_eq(rn_manifest_check_exec(&m, &err), -1);
    ck_assert_msg(strstr(err.msg, "not found in PATH"), "got '%s'", err.msg);
    argv[0] = "sh";
    ck_assert_int_eq(rn_manifest_check_exec(&m, &err), 0);
    char *requires[] = {"sh", "pgtls-no-such-required-tool", NULL};
    m.requires = requires;
    ck_assert_int_eq(rn_manifest_check_exec(&m, &err), -1);
    ck_assert_msg(strstr(err.msg, "requires pgtls-no-such-required-tool"), "got '%s'", err.msg);
    m.requires = NULL;
    chmod(nonexec, 0755);
    argv[0] = nonexec;
    ck_assert_int_eq(rn_manifest_check_exec(&m, &err), 0);
    free(nonexec);
    ts_tmpdir_remove(dir);
}
END_TEST

Suite *rn_manifest_suite(void)
{
    Suite *s = suite_create("runner: adapter manifests");
    TCase *tc = tcase_create("placeholders");
    tcase_add_loop_test(tc, placeholders_expand_to_the_build_source_and_adapter_folders, 0,
                        (int)(sizeof(expansions) / sizeof(expansions[0])));
    tcase_add_loop_test(tc, an_unknown_or_unterminated_placeholder_is_refused, 0,
                        (int)(sizeof(bad_expansions) / sizeof(bad_expansions[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("manifest parsing");
    tcase_add_test(tc, a_good_manifest_gives_an_expanded_argv_and_its_settings);
    tcase_add_test(tc, a_minimal_manifest_gets_defaults);
    tcase_add_loop_test(tc, a_bad_manifest_is_refused_naming_the_file_and_the_key, 0,
                        (int)(sizeof(bad_manifests) / sizeof(bad_manifests[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("detection");
    tcase_add_test(tc, detection_lists_only_folders_with_a_manifest_sorted);
    tcase_add_test(tc, detection_of_a_missing_clients_folder_is_an_error_not_a_crash);
    tcase_add_test(tc, a_version_build_is_an_adapter_named_with_its_version);
    tcase_add_test(tc, an_adapter_whose_program_is_missing_is_unusable_with_the_reason);
    suite_add_tcase(s, tc);
    return s;
}
