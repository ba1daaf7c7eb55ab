/* pgtls clients: unit tests of the adapter kit (case parsing, results, the
 * per-case environment, child processes, certificate subjects). */
#include <check.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "clients/adapter-kit/cl_adapter.h"
#include "common/fs.h"
#include "support.h"

static const char *full_case =
    "{\"id\":\"azure-new/root-g2/verify-full\",\"host\":\"h.example\",\"hostaddr\":\"127.0.0.1\","
    "\"port\":40123,\"sslmode\":\"verify-full\",\"sslrootcert\":\"/abs/root.pem\","
    "\"truststore_p12\":\"/abs/root.p12\",\"truststore_password\":\"changeit\","
    "\"user\":\"u\",\"password\":\"p\",\"dbname\":\"postgres\",\"query\":\"SELECT 1\","
    "\"timeout_ms\":5000,\"env\":{\"HOME\":\"/tmp/h\"},\"sslnegotiation\":\"postgres\","
    "\"channel_binding\":null,\"ssl_min_protocol_version\":\"TLSv1.2\","
    "\"ssl_max_protocol_version\":null,\"sslsni\":1,\"application_name\":\"pgtls\","
    "\"some_future_field\":[1,2]}";

START_TEST(a_full_case_is_parsed_field_by_field)
{
    cl_case c;
    pgtls_err err;
    err_clear(&err);
    ck_assert_int_eq(cl_case_parse(full_case, strlen(full_case), &c, &err), 0);
    ck_assert_str_eq(c.id, "azure-new/root-g2/verify-full");
    ck_assert_str_eq(c.host, "h.example");
    ck_assert_str_eq(c.hostaddr, "127.0.0.1");
    ck_assert_int_eq(c.port, 40123);
    ck_assert_str_eq(c.sslmode, "verify-full");
    ck_assert_str_eq(c.sslrootcert, "/abs/root.pem");
    ck_assert_str_eq(c.user, "u");
    ck_assert_str_eq(c.password, "p");
    ck_assert_str_eq(c.dbname, "postgres");
    ck_assert_str_eq(c.query, "SELECT 1");
    ck_assert_int_eq(c.timeout_ms, 5000);
    ck_assert_str_eq(c.application_name, "pgtls");
    ck_assert_str_eq(c.sslnegotiation, "postgres");
    ck_assert_ptr_null(c.channel_binding);
    ck_assert_str_eq(c.ssl_min_protocol_version, "TLSv1.2");
    ck_assert_ptr_null(c.ssl_max_protocol_version);
    ck_assert_str_eq(c.sslsni, "1");
    ck_assert_str_eq(cl_case_home(&c), "/tmp/h");
    ck_assert_str_eq(cl_case_optional(&c, "sslnegotiation"), "postgres");
    ck_assert_ptr_null(cl_case_optional(&c, "channel_binding"));
    ck_assert_ptr_null(cl_case_optional(&c, "connect_options"));
    cl_case_cleanup(&c);
}
END_TEST

START_TEST(a_minimal_case_gets_the_default_query_and_timeout)
{
    const char *line = "{\"id\":\"x\",\"hostaddr\":\"127.0.0.1\",\"port\":5432}";
    cl_case c;
    pgtls_err err;
    ck_assert_int_eq(cl_case_parse(line, strlen(line), &c, &err), 0);
    ck_assert_str_eq(c.query, CL_DEFAULT_QUERY);
    ck_assert_int_eq(c.timeout_ms, CL_DEFAULT_TIMEOUT_MS);
    ck_assert_ptr_null(c.sslmode);
    ck_assert_ptr_null(c.env);
    cl_case_cleanup(&c);
}
END_TEST

/* Every way a case line can be wrong, with the message it must give. */
static const struct {
    const char *line;
    const char *message;
} bad_cases[] = {
    {"{not json", "not JSON"},
    {"", "not JSON"},
    {"[1,2]", "must be a JSON object"},
    {"\"text\"", "not JSON"},
    {"{\"id\":7,\"host\":\"h\",\"port\":1}", "\"id\" must be a string"},
    {"{\"id\":\"a\",\"host\":\"h\",\"port\":\"5432\"}", "\"port\" must be an integer"},
    {"{\"id\":\"a\",\"host\":\"h\",\"port\":0}", "\"port\" is 0, outside 1..65535"},
    {"{\"id\":\"a\",\"host\":\"h\",\"port\":70000}", "outside 1..65535"},
    {"{\"id\":\"a\",\"host\":\"h\",\"port\":1.5}", "\"port\" must be an integer"},
    {"{\"id\":\"a\",\"host\":\"h\"}", "needs \"port\""},
    {"{\"id\":\"a\",\"port\":1}", "needs \"host\" or \"hostaddr\""},
    {"{\"id\":\"a\",\"host\":5,\"port\":1}", "\"host\" must be a string"},
    {"{\"id\":\"a\",\"host\":\"h\",\"port\":1,\"sslmode\":true}", "\"sslmode\" must be a string"},
    {"{\"id\":\"a\",\"host\":\"h\",\"port\":1,\"timeout_ms\":-1}", "\"timeout_ms\" is -1"},
    {"{\"id\":\"a\",\"host\":\"h\",\"port\":1,\"timeout_ms\":\"5s\"}",
     "\"timeout_ms\" must be an integer"},
    {"{\"id\":\"a\",\"host\":\"h\",\"port\":1,\"env\":[\"HOME=/\"]}", "\"env\" must be an object"},
    {"{\"id\":\"a\",\"host\":\"h\",\"port\":1,\"env\":{\"HOME\":1}}", "env.HOME must be a string"},
    {"{\"id\":\"a\",\"host\":\"h\",\"port\":1,\"env\":{\"A=B\":\"x\"}}", "invalid variable name"},
    {"{\"id\":\"a\",\"host\":\"h\",\"port\":1,\"connect_options\":[]}",
     "\"connect_options\" must be an object"},
    {"{\"id\":\"a\",\"host\":\"h\",\"port\":1,\"sslsni\":2}", "\"sslsni\" must be 0 or 1"},
    {"{\"id\":\"a\",\"host\":\"h\",\"port\":1,\"sslsni\":[]}", "\"sslsni\" must be a string"},
    {"{\"id\":\"a\",\"id\":\"b\",\"host\":\"h\",\"port\":1}", "duplicate"},
};

START_TEST(a_malformed_case_is_refused_with_a_message_naming_the_field)
{
    cl_case c;
    pgtls_err err;
    err_clear(&err);
    int rc = cl_case_parse(bad_cases[_i].line, strlen(bad_cases[_i].line), &c, &err);
    ck_assert_msg(rc == -1, "accepted: %s", bad_cases[_i].line);
    ck_assert_msg(strstr(err.msg, bad_cases[_i].message) != NULL, "%s: message \"%s\" lacks \"%s\"",
                  bad_cases[_i].line, err.msg, bad_cases[_i].message);
    cl_case_cleanup(&c);
}
END_TEST

START_TEST(a_refused_case_keeps_its_id_for_the_error_result)
{
    const char *line = "{\"id\":\"keep-me\",\"host\":\"h\",\"port\":\"x\"}";
    cl_case c;
    pgtls_err err;
    ck_assert_int_eq(cl_case_parse(line, strlen(line), &c, &err), -1);
    ck_assert_str_eq(c.id, "keep-me");
    cl_case_cleanup(&c);
}
END_TEST

START_TEST(one_shot_flags_build_the_same_case_object)
{
    char *argv[] = {"adapter",
                    "--id",
                    "c1",
                    "--host",
                    "h",
                    "--port",
                    "5432",
                    "--env",
                    "HOME=/tmp/x",
                    "--env",
                    "SSL_CERT_FILE=/a=b",
                    "--connect_options",
                    "{\"gssencmode\":\"disable\"}",
                    "--sslsni",
                    "0",
                    NULL};
    int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
    pgtls_err err;
    json_t *obj = cl_case_from_flags(argc, argv, &err);
    ck_assert_ptr_nonnull(obj);
    cl_case c;
    ck_assert_int_eq(cl_case_from_json(obj, &c, &err), 0);
    ck_assert_str_eq(c.id, "c1");
    ck_assert_int_eq(c.port, 5432);
    ck_assert_str_eq(json_string_value(json_object_get(c.env, "HOME")), "/tmp/x");
    ck_assert_str_eq(json_string_value(json_object_get(c.env, "SSL_CERT_FILE")), "/a=b");
    ck_assert_str_eq(cl_case_optional(&c, "connect_options"), "set");
    ck_assert_str_eq(c.sslsni, "0");
    cl_case_cleanup(&c);
    json_decref(obj);
}
END_TEST

START_TEST(an_unknown_one_shot_flag_is_ignored_like_an_unknown_field)
{
    char *argv[] = {"adapter", "--host", "h", "--port", "1", "--scenario", "azure-new", NULL};
    pgtls_err err;
    json_t *obj = cl_case_from_flags(7, argv, &err);
    ck_assert_ptr_nonnull(obj);
    cl_case c;
    ck_assert_int_eq(cl_case_from_json(obj, &c, &err), 0);
    ck_assert_str_eq(c.host, "h");
    cl_case_cleanup(&c);
    json_decref(obj);
}
END_TEST

static const struct {
    char *flags[4];
    const char *message;
} bad_flags[] = {
    {{"--port", "54x", NULL}, "wants an integer"},
    {{"--port", "", NULL}, "wants an integer"},
    {{"--", "1", NULL}, "empty flag name"},
    {{"--host", NULL}, "needs a value"},
    {{"host", "h", NULL}, "unexpected argument"},
    {{"--env", "NOEQUALS", NULL}, "NAME=VALUE"},
    {{"--env", "=x", NULL}, "NAME=VALUE"},
    {{"--connect_options", "[1]", NULL}, "JSON object"},
    {{"--connect_options", "{bad", NULL}, "JSON object"},
};

START_TEST(a_bad_one_shot_flag_is_a_usage_error)
{
    char *argv[6] = {"adapter"};
    int argc = 1;
    for (int k = 0; bad_flags[_i].flags[k] != NULL; k++)
        argv[argc++] = bad_flags[_i].flags[k];
    pgtls_err err;
    err_clear(&err);
    json_t *obj = cl_case_from_flags(argc, argv, &err);
    ck_assert_ptr_null(obj);
    ck_assert_int_eq(err.code, PGTLS_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, bad_flags[_i].message) != NULL, "\"%s\" lacks \"%s\"", err.msg,
                  bad_flags[_i].message);
}
END_TEST

START_TEST(a_new_result_has_every_protocol_key_in_order)
{
    json_t *r = cl_result_new("x");
    char *text = json_dumps(r, JSON_COMPACT);
    ck_assert_str_eq(text, "{\"id\":\"x\",\"connected\":false,\"tls\":null,\"tls_version\":null,"
                           "\"cipher\":null,\"query_result\":null,\"error\":null,"
                           "\"error_code\":null,\"elapsed_ms\":0,\"chain\":null,"
                           "\"unsupported\":null,\"notes\":null}");
    free(text);
    cl_result_extra(r, "exit_status", json_integer(2));
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(r, "extra"), "exit_status")), 2);
    json_decref(r);
}
END_TEST

static const struct {
    const char *in;
    const char *out;
} utf8_rows[] = {
    {"plain ascii", "plain ascii"},
    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92"},
    {"latin1 caf\xe9!", "latin1 caf\xef\xbf\xbd!"},
    {"overlong \xc0\xaf", "overlong \xef\xbf\xbd\xef\xbf\xbd"},
    {"surrogate \xed\xa0\x80", "surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    {"cut \xe2\x82", "cut \xef\xbf\xbd\xef\xbf\xbd"},
};

START_TEST(error_texts_that_are_not_utf8_still_make_a_json_string)
{
    json_t *s = cl_json_str(utf8_rows[_i].in);
    ck_assert(json_is_string(s));
    ck_assert_str_eq(json_string_value(s), utf8_rows[_i].out);
    json_decref(s);
}
END_TEST

START_TEST(each_case_starts_from_the_startup_environment_minus_pg_and_ssl_vars)
{
    /* cl_env_init snapshots the environment once per process: the first
     * call is here, after these variables exist. */
    setenv("PGSSLMODE", "disable", 1);
    setenv("PGTLS_TEST_KEEP", "kept", 1);
    setenv("SSL_CERT_FILE", "/leak.pem", 1);
    setenv("SSL_CERT_DIR", "/leak", 1);
    setenv("NODE_EXTRA_CA_CERTS", "/leak.pem", 1);
    setenv("CL_TEST_KEEP", "kept", 1);
    cl_env_init();

    const char *line1 = "{\"id\":\"1\",\"host\":\"h\",\"port\":1,"
                        "\"env\":{\"HOME\":\"/tmp/h1\",\"SSL_CERT_FILE\":\"/case.pem\","
                        "\"EXTRA_ONE\":\"1\"}}";
    const char *line2 = "{\"id\":\"2\",\"host\":\"h\",\"port\":1,\"env\":{\"HOME\":\"/tmp/h2\"}}";
    cl_case c;
    pgtls_err err;
    ck_assert_int_eq(cl_case_parse(line1, strlen(line1), &c, &err), 0);
    ck_assert_int_eq(cl_env_apply(&c, &err), 0);
    ck_assert_ptr_null(getenv("PGSSLMODE"));
    ck_assert_ptr_null(getenv("PGTLS_TEST_KEEP")); /* PG* as a whole */
    ck_assert_ptr_null(getenv("SSL_CERT_DIR"));
    ck_assert_ptr_null(getenv("NODE_EXTRA_CA_CERTS"));
    ck_assert_str_eq(getenv("SSL_CERT_FILE"), "/case.pem");
    ck_assert_str_eq(getenv("HOME"), "/tmp/h1");
    ck_assert_str_eq(getenv("CL_TEST_KEEP"), "kept");
    cl_case_cleanup(&c);

    ck_assert_int_eq(cl_case_parse(line2, strlen(line2), &c, &err), 0);
    ck_assert_int_eq(cl_env_apply(&c, &err), 0);
    ck_assert_ptr_null(getenv("EXTRA_ONE")); /* the previous case's variable is gone */
    ck_assert_ptr_null(getenv("SSL_CERT_FILE"));
    ck_assert_str_eq(getenv("HOME"), "/tmp/h2");
    cl_case_cleanup(&c);
}
END_TEST

START_TEST(a_child_s_output_and_exit_status_are_captured)
{
    char *argv[] = {"ls", "/nonexistent-pgtls-path", "/", NULL};
    cl_child_result r;
    pgtls_err err;
    ck_assert_int_eq(cl_child_run(argv, NULL, 10000, &r, &err), 0);
    ck_assert_int_eq(r.exited, 1);
    ck_assert_int_ne(r.exit_status, 0);
    ck_assert_int_eq(r.timed_out, 0);
    ck_assert_ptr_nonnull(strstr(r.err, "nonexistent-pgtls-path"));
    ck_assert_ptr_nonnull(strstr(r.out, "usr"));
    cl_child_result_cleanup(&r);
}
END_TEST

START_TEST(a_child_that_hangs_is_killed_at_the_deadline)
{
    char *argv[] = {"sleep", "30", NULL};
    cl_child_result r;
    pgtls_err err;
    long long start = time_now_ms();
    ck_assert_int_eq(cl_child_run(argv, NULL, 300, &r, &err), 0);
    ck_assert_int_eq(r.timed_out, 1);
    ck_assert_int_eq(r.signaled, SIGKILL);
    ck_assert_int_lt(time_now_ms() - start, 3000);
    cl_child_result_cleanup(&r);
}
END_TEST

START_TEST(a_chatty_child_is_capped_and_still_runs_to_completion)
{
    /* 6 MB on stdout: the first 4 MiB are kept, the rest drained, so the
     * child never blocks on a full pipe. */
    char *argv[] = {"head", "-c", "6000000", "/dev/zero", NULL};
    cl_child_result r;
    pgtls_err err;
    ck_assert_int_eq(cl_child_run(argv, NULL, 10000, &r, &err), 0);
    ck_assert_int_eq(r.timed_out, 0);
    ck_assert_int_eq(r.exited, 1);
    ck_assert_int_eq(r.exit_status, 0);
    ck_assert_uint_eq(r.out_len, 4u * 1024 * 1024);
    cl_child_result_cleanup(&r);
}
END_TEST

START_TEST(a_child_gets_the_environment_it_is_given)
{
    char *argv[] = {"env", NULL};
    char *envp[] = {"PGTLS_CHILD_ONLY=yes", NULL};
    cl_child_result r;
    pgtls_err err;
    ck_assert_int_eq(cl_child_run(argv, envp, 10000, &r, &err), 0);
    ck_assert_str_eq(r.out, "PGTLS_CHILD_ONLY=yes\n");
    cl_child_result_cleanup(&r);
}
END_TEST

START_TEST(a_program_that_does_not_exist_is_an_error_not_a_crash)
{
    char *argv[] = {"/nonexistent/pgtls-no-such-program", NULL};
    cl_child_result r;
    pgtls_err err;
    err_clear(&err);
    ck_assert_int_eq(cl_child_run(argv, NULL, 1000, &r, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot start /nonexistent/pgtls-no-such-program"));
}
END_TEST

/* A self-signed certificate with the given CN, as PEM text. */
static char *make_cert_pem(const char *cn)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *)"US", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Org, Inc", -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, name);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_sign(x, key, EVP_sha256());
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, x);
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    char *pem = strndup(data, (size_t)len);
    BIO_free(bio);
    X509_NAME_free(name);
    X509_free(x);
    EVP_PKEY_free(key);
    return pem;
}

START_TEST(pem_certificates_in_any_text_give_rfc2253_subjects_in_order)
{
    char *a = make_cert_pem("leaf.example");
    char *b = make_cert_pem("Caf\xc3\xa9 CA");
    char *text =
        str_printf(" 0 s:CN = leaf\n%s   i:junk\n 1 s:x\n%sVerify return code: 0 (ok)\n", a, b);
    json_t *subjects = cl_pem_subjects(text, strlen(text));
    ck_assert_int_eq(json_array_size(subjects), 2);
    ck_assert_str_eq(json_string_value(json_array_get(subjects, 0)),
                     "CN=leaf.example,O=Org\\, Inc,C=US");
    ck_assert_str_eq(json_string_value(json_array_get(subjects, 1)),
                     "CN=Caf\xc3\xa9 CA,O=Org\\, Inc,C=US");
    json_decref(subjects);
    json_t *none = cl_pem_subjects("no certificates here", 20);
    ck_assert(json_is_null(none));
    free(a);
    free(b);
    free(text);
}
END_TEST

static const struct {
    const char *s;
    int ip;
} ip_rows[] = {
    {"127.0.0.1", 1},
    {"::1", 1},
    {"2001:db8::5", 1},
    {"mydemoserver.postgres.database.azure.com", 0},
    {"127.0.0.1.nip.io", 0},
    {"", 0},
    {"1.2.3", 0},
};

START_TEST(ip_literals_are_told_from_host_names)
{
    ck_assert_int_eq(cl_is_ip_literal(ip_rows[_i].s), ip_rows[_i].ip);
}
END_TEST

Suite *cl_kit_suite(void)
{
    Suite *s = suite_create("cl_kit");
    TCase *tc = tcase_create("cases are parsed strictly");
    tcase_add_test(tc, a_full_case_is_parsed_field_by_field);
    tcase_add_test(tc, a_minimal_case_gets_the_default_query_and_timeout);
    tcase_add_loop_test(tc, a_malformed_case_is_refused_with_a_message_naming_the_field, 0,
                        (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
    tcase_add_test(tc, a_refused_case_keeps_its_id_for_the_error_result);
    tcase_add_test(tc, one_shot_flags_build_the_same_case_object);
    tcase_add_test(tc, an_unknown_one_shot_flag_is_ignored_like_an_unknown_field);
    tcase_add_loop_test(tc, a_bad_one_shot_flag_is_a_usage_error, 0,
                        (int)(sizeof(bad_flags) / sizeof(bad_flags[0])));
    suite_add_tcase(s, tc);

    tc = tcase_create("results are always printable JSON");
    tcase_add_test(tc, a_new_result_has_every_protocol_key_in_order);
    tcase_add_loop_test(tc, error_texts_that_are_not_utf8_still_make_a_json_string, 0,
                        (int)(sizeof(utf8_rows) / sizeof(utf8_rows[0])));
    suite_add_tcase(s, tc);

    tc = tcase_create("each case runs in its own environment");
    tcase_add_test(tc, each_case_starts_from_the_startup_environment_minus_pg_and_ssl_vars);
    suite_add_tcase(s, tc);

    tc = tcase_create("child processes have a hard deadline");
    tcase_add_test(tc, a_child_s_output_and_exit_status_are_captured);
    tcase_add_test(tc, a_child_that_hangs_is_killed_at_the_deadline);
    tcase_add_test(tc, a_chatty_child_is_capped_and_still_runs_to_completion);
    tcase_add_test(tc, a_child_gets_the_environment_it_is_given);
    tcase_add_test(tc, a_program_that_does_not_exist_is_an_error_not_a_crash);
    suite_add_tcase(s, tc);

    tc = tcase_create("certificate subjects are written one way");
    tcase_add_test(tc, pem_certificates_in_any_text_give_rfc2253_subjects_in_order);
    tcase_add_loop_test(tc, ip_literals_are_told_from_host_names, 0,
                        (int)(sizeof(ip_rows) / sizeof(ip_rows[0])));
    suite_add_tcase(s, tc);
    return s;
}
