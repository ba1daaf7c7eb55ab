/* pgtls clients: unit tests of what the psql and s_client adapters write to
 * their programs and read back from them. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "clients/openssl-s_client/sclient_parse.h"
#include "clients/psql/psql_parse.h"
#include "common/fs.h"
#include "support.h"

/* Parses a case line; aborts the test when it is refused. */
static void parse_case(const char *line, cl_case *c)
{
    pgtls_err err;
    err_clear(&err);
    ck_assert_msg(cl_case_parse(line, strlen(line), c, &err) == 0, "%s: %s", line, err.msg);
}

/* ---- psql ---- */

static const struct {
    const char *in;
    const char *out;
} quote_rows[] = {
    {"plain", "'plain'"},
    {"", "''"},
    {"with space", "'with space'"},
    {"it's", "'it\\'s'"},
    {"back\\slash", "'back\\\\slash'"},
    {"/tmp/a b/'x'\\", "'/tmp/a b/\\'x\\'\\\\'"},
};

START_TEST(conninfo_values_are_quoted_the_way_libpq_reads_them)
{
    char *q = psql_conninfo_quote(quote_rows[_i].in);
    ck_assert_str_eq(q, quote_rows[_i].out);
    free(q);
}
END_TEST

START_TEST(the_conninfo_carries_every_case_field_but_the_password)
{
    cl_case c;
    char *why = NULL;
    parse_case("{\"id\":\"x\",\"host\":\"h\",\"hostaddr\":\"127.0.0.1\",\"port\":5432,"
               "\"sslmode\":\"verify-full\",\"sslrootcert\":\"/r o'ot.pem\",\"user\":\"u\","
               "\"password\":\"secret\",\"dbname\":\"db\",\"timeout_ms\":2500,"
               "\"sslsni\":\"0\",\"connect_options\":{\"gssencmode\":\"disable\","
               "\"keepalives\":1,\"sslcompression\":false}}",
               &c);
    char *ci = psql_build_conninfo(&c, &why);
    ck_assert_ptr_nonnull(ci);
    ck_assert_str_eq(ci, "host='h' hostaddr='127.0.0.1' port='5432' sslmode='verify-full' "
                         "sslrootcert='/r o\\'ot.pem' user='u' dbname='db' connect_timeout='3' "
                         "sslsni='0' gssencmode='disable' keepalives='1' sslcompression='0'");
    ck_assert_ptr_null(strstr(ci, "secret"));
    free(ci);
    cl_case_cleanup(&c);
}
END_TEST

START_TEST(a_connect_option_that_is_not_a_scalar_is_unsupported)
{
    cl_case c;
    char *why = NULL;
    parse_case("{\"id\":\"x\",\"host\":\"h\",\"port\":1,\"connect_options\":{\"a\":[1]}}", &c);
    ck_assert_ptr_null(psql_build_conninfo(&c, &why));
    ck_assert_ptr_nonnull(why);
    ck_assert_ptr_nonnull(strstr(why, "connect_options.a"));
    free(why);
    cl_case_cleanup(&c);
}
END_TEST

START_TEST(psql_15_conninfo_over_tls_gives_version_cipher_and_value)
{
    const char *out =
        "You are connected to database \"postgres\" as user \"pgtls\" on host \"h\" (address "
        "\"127.0.0.1\") at port \"5432\".\n"
        "SSL connection (protocol: TLSv1.3, cipher: TLS_AES_256_GCM_SHA384, compression: "
        "off)\n" PSQL_MARKER "\n"
        "t" PSQL_FIELD_SEP "second\n"
        "f\n";
    psql_output o;
    psql_parse_output(out, &o);
    ck_assert_int_eq(o.marker_seen, 1);
    ck_assert_int_eq(o.ssl_known, 1);
    ck_assert_int_eq(o.ssl_line_seen, 1);
    ck_assert_str_eq(o.tls_version, "TLSv1.3");
    ck_assert_str_eq(o.cipher, "TLS_AES_256_GCM_SHA384");
    ck_assert_str_eq(o.first_value, "t");
    psql_output_cleanup(&o);
}
END_TEST

START_TEST(psql_15_conninfo_without_an_ssl_line_means_plaintext)
{
    const char *out = "You are connected to database \"postgres\" as user \"u\" on host \"h\" at "
                      "port \"5432\".\n" PSQL_MARKER "\nf\n";
    psql_output o;
    psql_parse_output(out, &o);
    ck_assert_int_eq(o.marker_seen, 1);
    ck_assert_int_eq(o.ssl_known, 1);
    ck_assert_int_eq(o.ssl_line_seen, 0);
    ck_assert_ptr_null(o.tls_version);
    ck_assert_str_eq(o.first_value, "f");
    psql_output_cleanup(&o);
}
END_TEST

START_TEST(sql_null_and_the_empty_string_stay_apart)
{
    psql_output o;
    psql_parse_output(PSQL_MARKER "\n" PSQL_NULL_MARKER PSQL_FIELD_SEP "x\nlater\n", &o);
    ck_assert_int_eq(o.row_seen, 1);
    ck_assert_ptr_null(o.first_value);
    psql_output_cleanup(&o);
    psql_parse_output(PSQL_MARKER "\n\n", &o);
    ck_assert_int_eq(o.row_seen, 1);
    ck_assert_str_eq(o.first_value, "");
    psql_output_cleanup(&o);
}
END_TEST

START_TEST(psql_18_conninfo_table_is_understood_too)
{
    const char *out =
        "Database" PSQL_FIELD_SEP "postgres\n"
        "SSL Connection" PSQL_FIELD_SEP "true\n"
        "SSL Library" PSQL_FIELD_SEP "OpenSSL\n"
        "SSL Protocol" PSQL_FIELD_SEP "TLSv1.2\n"
        "SSL Cipher" PSQL_FIELD_SEP "ECDHE-RSA-AES256-GCM-SHA384\n" PSQL_MARKER "\n1\n";
    psql_output o;
    psql_parse_output(out, &o);
    ck_assert_int_eq(o.ssl_known, 1);
    ck_assert_int_eq(o.ssl_line_seen, 1);
    ck_assert_str_eq(o.tls_version, "TLSv1.2");
    ck_assert_str_eq(o.cipher, "ECDHE-RSA-AES256-GCM-SHA384");
    ck_assert_str_eq(o.first_value, "1");
    psql_output_cleanup(&o);
}
END_TEST

START_TEST(no_marker_means_psql_never_got_to_the_commands)
{
    psql_output o;
    psql_parse_output("", &o);
    ck_assert_int_eq(o.marker_seen, 0);
    ck_assert_ptr_null(o.first_value);
    psql_output_cleanup(&o);
    psql_parse_output("You are connected to x.\n" PSQL_MARKER "\n", &o);
    ck_assert_int_eq(o.marker_seen, 1);
    ck_assert_ptr_null(o.first_value); /* a query with no rows */
    psql_output_cleanup(&o);
}
END_TEST

static const struct {
    const char *text;
    const char *version;
} psql_versions[] = {
    {"psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", "15.18"},
    {"psql (PostgreSQL) 17.2\n", "17.2"},
    {"psql (PostgreSQL) 18beta1\n", "18beta1"},
    {"psql (PostgreSQL) 9.6.24\n", "9.6.24"},
    {"psql: command not found\n", NULL},
    {"psql (PostgreSQL) \n", NULL},
};

START_TEST(psql_version_comes_from_psql_dash_dash_version)
{
    char *v = psql_parse_version(psql_versions[_i].text);
    if (psql_versions[_i].version == NULL) {
        ck_assert_ptr_null(v);
    } else {
        ck_assert_ptr_nonnull(v);
        ck_assert_str_eq(v, psql_versions[_i].version);
    }
    free(v);
}
END_TEST

START_TEST(the_loader_trace_names_the_libpq_psql_really_loads)
{
    const char *trace = "\tlinux-vdso.so.1 (0x00007ffd)\n"
                        "\tlibpq.so.5 => /usr/lib/x86_64-linux-gnu/libpq.so.5 (0x00007f10)\n"
                        "\tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f11)\n"
                        "\tlibcrypto.so.3 => /lib/x86_64-linux-gnu/libcrypto.so.3 (0x00007f12)\n"
                        "\tlibmissing.so.1 => not found\n";
    char *pq = psql_trace_find(trace, "libpq.so");
    char *crypto = psql_trace_find(trace, "libcrypto.so");
    ck_assert_str_eq(pq, "/usr/lib/x86_64-linux-gnu/libpq.so.5");
    ck_assert_str_eq(crypto, "/lib/x86_64-linux-gnu/libcrypto.so.3");
    ck_assert_ptr_null(psql_trace_find(trace, "libmissing.so"));
    ck_assert_ptr_null(psql_trace_find(trace, "libz.so"));
    ck_assert_ptr_null(psql_trace_find("", "libpq.so"));
    free(pq);
    free(crypto);
}
END_TEST

/* ---- openssl s_client ---- */

/* 1 if argv has `flag` followed by `value` (value NULL: the flag alone). */
static int has(char **argv, const char *flag, const char *value)
{
    for (int i = 0; argv[i] != NULL; i++) {
        if (strcmp(argv[i], flag) != 0)
            continue;
        if (value == NULL || (argv[i + 1] != NULL && strcmp(argv[i + 1], value) == 0))
            return 1;
    }
    return 0;
}

static char **build(const char *line, const char *home, int *verify, char **why)
{
    cl_case c;
    parse_case(line, &c);
    char **argv = sclient_build_argv("openssl", &c, home, verify, why);
    cl_case_cleanup(&c);
    return argv;
}

START_TEST(verify_full_checks_chain_and_host_against_only_the_given_root)
{
    int verify;
    char *why = NULL;
    char **argv = build("{\"id\":\"x\",\"host\":\"db.example\",\"hostaddr\":\"127.0.0.1\","
                        "\"port\":5432,\"sslmode\":\"verify-full\",\"sslrootcert\":\"/r.pem\"}",
                        NULL, &verify, &why);
    ck_assert_ptr_nonnull(argv);
    ck_assert_int_eq(verify, 1);
    ck_assert_str_eq(argv[0], "openssl");
    ck_assert_str_eq(argv[1], "s_client");
    ck_assert(has(argv, "-starttls", "postgres"));
    ck_assert(has(argv, "-connect", "127.0.0.1:5432"));
    ck_assert(has(argv, "-servername", "db.example"));
    ck_assert(has(argv, "-CAfile", "/r.pem"));
    ck_assert(has(argv, "-no-CApath", NULL));
    ck_assert(has(argv, "-no-CAstore", NULL));
    ck_assert(has(argv, "-verify", "10"));
    ck_assert(has(argv, "-verify_return_error", NULL));
    ck_assert(has(argv, "-verify_hostname", "db.example"));
    ck_assert(has(argv, "-min_protocol", "TLSv1.2"));
    ck_assert(has(argv, "-showcerts", NULL));
    ck_assert(has(argv, "-no_ign_eof", NULL));
    ck_assert(!has(argv, "-max_protocol", NULL));
    sclient_argv_free(argv);
}
END_TEST

START_TEST(verify_ca_checks_the_chain_but_not_the_host)
{
    int verify;
    char *why = NULL;
    char **argv = build("{\"id\":\"x\",\"host\":\"db.example\",\"port\":5432,"
                        "\"sslmode\":\"verify-ca\",\"sslrootcert\":\"/r.pem\"}",
                        NULL, &verify, &why);
    ck_assert_int_eq(verify, 1);
    ck_assert(has(argv, "-verify_return_error", NULL));
    ck_assert(!has(argv, "-verify_hostname", NULL));
    ck_assert(has(argv, "-connect", "db.example:5432"));
    sclient_argv_free(argv);
}
END_TEST

START_TEST(require_without_a_root_file_does_not_verify)
{
    int verify;
    char *why = NULL;
    char *home = ts_tmpdir_new("sclient-home");
    char **argv = build("{\"id\":\"x\",\"host\":\"h\",\"port\":1,\"sslmode\":\"require\"}", home,
                        &verify, &why);
    ck_assert_int_eq(verify, 0);
    ck_assert(has(argv, "-no-CAfile", NULL));
    ck_assert(!has(argv, "-verify", NULL));
    ck_assert(!has(argv, "-verify_return_error", NULL));
    sclient_argv_free(argv);
    ts_tmpdir_remove(home);
}
END_TEST

START_TEST(require_with_a_root_crt_under_home_verifies_like_libpq)
{
    int verify;
    char *why = NULL;
    char *home = ts_tmpdir_new("sclient-home");
    char *dir = fs_join(home, ".postgresql");
    pgtls_err err;
    ck_assert_int_eq(fs_mkdir_p(dir, 0700, &err), 0);
    char *root = ts_write_text(dir, "root.crt", "stale\n");
    char **argv = build("{\"id\":\"x\",\"host\":\"h\",\"port\":1,\"sslmode\":\"require\"}", home,
                        &verify, &why);
    ck_assert_int_eq(verify, 1);
    ck_assert(has(argv, "-CAfile", root));
    ck_assert(has(argv, "-verify_return_error", NULL));
    ck_assert(!has(argv, "-verify_hostname", NULL));
    sclient_argv_free(argv);
    free(root);
    free(dir);
    ts_tmpdir_remove(home);
}
END_TEST

START_TEST(sslrootcert_system_uses_the_default_paths)
{
    int verify;
    char *why = NULL;
    char **argv = build("{\"id\":\"x\",\"host\":\"h\",\"port\":1,\"sslmode\":\"verify-full\","
                        "\"sslrootcert\":\"system\"}",
                        NULL, &verify, &why);
    ck_assert_int_eq(verify, 1);
    ck_assert(!has(argv, "-CAfile", NULL));
    ck_assert(!has(argv, "-no-CAfile", NULL));
    ck_assert(!has(argv, "-no-CApath", NULL));
    ck_assert(has(argv, "-verify_return_error", NULL));
    sclient_argv_free(argv);
}
END_TEST

START_TEST(ip_hosts_get_no_sni_and_an_ip_check)
{
    int verify;
    char *why = NULL;
    char **argv = build("{\"id\":\"x\",\"host\":\"::1\",\"port\":5432,\"sslmode\":\"verify-full\","
                        "\"sslrootcert\":\"/r.pem\"}",
                        NULL, &verify, &why);
    ck_assert(has(argv, "-noservername", NULL));
    ck_assert(!has(argv, "-servername", NULL));
    ck_assert(has(argv, "-verify_ip", "::1"));
    ck_assert(has(argv, "-connect", "[::1]:5432"));
    sclient_argv_free(argv);
}
END_TEST

START_TEST(options_map_to_s_client_flags)
{
    int verify;
    char *why = NULL;
    char **argv = build("{\"id\":\"x\",\"host\":\"h\",\"port\":1,\"sslmode\":\"require\","
                        "\"sslsni\":\"0\",\"sslnegotiation\":\"direct\","
                        "\"ssl_min_protocol_version\":\"TLSv1.3\","
                        "\"ssl_max_protocol_version\":\"TLSv1.3\",\"channel_binding\":\"prefer\"}",
                        NULL, &verify, &why);
    ck_assert_ptr_nonnull(argv);
    ck_assert(has(argv, "-noservername", NULL));
    ck_assert(has(argv, "-alpn", "postgresql"));
    ck_assert(!has(argv, "-starttls", NULL));
    ck_assert(has(argv, "-min_protocol", "TLSv1.3"));
    ck_assert(has(argv, "-max_protocol", "TLSv1.3"));
    sclient_argv_free(argv);
}
END_TEST

static const struct {
    const char *line;
    const char *reason;
} unsupported_rows[] = {
    {"{\"id\":\"x\",\"host\":\"h\",\"port\":1,\"sslmode\":\"disable\"}", "sslmode=disable"},
    {"{\"id\":\"x\",\"host\":\"h\",\"port\":1,\"sslmode\":\"allow\"}", "sslmode=allow"},
    {"{\"id\":\"x\",\"host\":\"h\",\"port\":1,\"sslmode\":\"prefer\"}", "sslmode=prefer"},
    {"{\"id\":\"x\",\"host\":\"h\",\"port\":1}", "sslmode=prefer"},
    {"{\"id\":\"x\",\"host\":\"h\",\"port\":1,\"sslmode\":\"verify-some\"}", "unknown sslmode"},
    {"{\"id\":\"x\",\"host\":\"h\",\"port\":1,\"sslmode\":\"require\","
     "\"channel_binding\":\"require\"}",
     "channel_binding=require"},
    {"{\"id\":\"x\",\"host\":\"h\",\"port\":1,\"sslmode\":\"require\","
     "\"sslnegotiation\":\"sideways\"}",
     "unknown sslnegotiation"},
    {"{\"id\":\"x\",\"hostaddr\":\"127.0.0.1\",\"port\":1,\"sslmode\":\"verify-full\"}",
     "verify-full needs host"},
};

START_TEST(cases_s_client_cannot_express_are_unsupported_with_a_reason)
{
    int verify;
    char *why = NULL;
    char **argv = build(unsupported_rows[_i].line, NULL, &verify, &why);
    ck_assert_ptr_null(argv);
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strstr(why, unsupported_rows[_i].reason) != NULL, "\"%s\" lacks \"%s\"", why,
                  unsupported_rows[_i].reason);
    free(why);
}
END_TEST

START_TEST(a_successful_handshake_is_read_from_s_client_output)
{
    const char *out = "CONNECTED(00000003)\n---\nCertificate chain\n"
                      "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384\n"
                      "Verify return code: 0 (ok)\n---\n";
    const char *err = "verify depth is 10\ndepth=0 CN = x\nverify return:1\nDONE\n";
    sclient_output o;
    sclient_parse_output(out, err, &o);
    ck_assert_str_eq(o.tls_version, "TLSv1.3");
    ck_assert_str_eq(o.cipher, "TLS_AES_256_GCM_SHA384");
    ck_assert_int_eq(o.verify_code, 0);
    ck_assert_str_eq(o.verify_text, "ok");
    ck_assert_int_eq(json_array_size(o.verify_errors), 0);
    sclient_output_cleanup(&o);
}
END_TEST

START_TEST(a_tls12_session_block_is_read_too)
{
    const char *out = "New, TLSv1.2, Cipher is ECDHE-ECDSA-AES256-GCM-SHA384\n"
                      "SSL-Session:\n    Protocol  : TLSv1.2\n"
                      "    Verify return code: 0 (ok)\n    Extended master secret: yes\n";
    sclient_output o;
    sclient_parse_output(out, "", &o);
    ck_assert_str_eq(o.tls_version, "TLSv1.2");
    ck_assert_str_eq(o.cipher, "ECDHE-ECDSA-AES256-GCM-SHA384");
    ck_assert_int_eq(o.verify_code, 0);
    sclient_output_cleanup(&o);
}
END_TEST

START_TEST(a_verification_failure_is_read_from_s_client_output)
{
    const char *out = "CONNECTED(00000003)\nNew, (NONE), Cipher is (NONE)\n"
                      "Verify return code: 20 (unable to get local issuer certificate)\n";
    const char *err = "depth=1 CN = ICA\n"
                      "verify error:num=20:unable to get local issuer certificate\n"
                      "40B7:error:0A000086:SSL routines::certificate verify failed\n";
    sclient_output o;
    sclient_parse_output(out, err, &o);
    ck_assert_ptr_null(o.tls_version);
    ck_assert_ptr_null(o.cipher);
    ck_assert_int_eq(o.verify_code, 20);
    ck_assert_str_eq(o.verify_text, "unable to get local issuer certificate");
    ck_assert_int_eq(json_array_size(o.verify_errors), 1);
    ck_assert_str_eq(json_string_value(json_array_get(o.verify_errors, 0)),
                     "num=20:unable to get local issuer certificate");
    sclient_output_cleanup(&o);

    sclient_parse_output("", "connect:errno=111\n", &o);
    ck_assert_int_eq(o.verify_code, -1);
    ck_assert_ptr_null(o.cipher);
    sclient_output_cleanup(&o);
}
END_TEST

static const struct {
    const char *text;
    const char *version;
    const char *library;
} openssl_versions[] = {
    {"OpenSSL 3.0.19 27 Jan 2026 (Library: OpenSSL 3.0.19 27 Jan 2026)\n", "3.0.19",
     "OpenSSL 3.0.19 27 Jan 2026"},
    {"OpenSSL 3.3.1 4 Jun 2024 (Library: OpenSSL 3.0.13 30 Jan 2024)\n", "3.3.1",
     "OpenSSL 3.0.13 30 Jan 2024"},
    {"LibreSSL 3.8.2\n", "3.8.2", "LibreSSL 3.8.2"},
    {"nonsense", NULL, NULL},
};

START_TEST(openssl_version_names_the_library_actually_loaded)
{
    char *version, *library;
    sclient_parse_version(openssl_versions[_i].text, &version, &library);
    if (openssl_versions[_i].version == NULL) {
        ck_assert_ptr_null(version);
        ck_assert_ptr_null(library);
    } else {
        ck_assert_str_eq(version, openssl_versions[_i].version);
        ck_assert_str_eq(library, openssl_versions[_i].library);
    }
    free(version);
    free(library);
}
END_TEST

Suite *cl_psql_suite(void)
{
    Suite *s = suite_create("cl_psql");
    TCase *tc = tcase_create("the conninfo psql gets");
    tcase_add_loop_test(tc, conninfo_values_are_quoted_the_way_libpq_reads_them, 0,
                        (int)(sizeof(quote_rows) / sizeof(quote_rows[0])));
    tcase_add_test(tc, the_conninfo_carries_every_case_field_but_the_password);
    tcase_add_test(tc, a_connect_option_that_is_not_a_scalar_is_unsupported);
    suite_add_tcase(s, tc);

    tc = tcase_create("what psql prints");
    tcase_add_test(tc, psql_15_conninfo_over_tls_gives_version_cipher_and_value);
    tcase_add_test(tc, psql_15_conninfo_without_an_ssl_line_means_plaintext);
    tcase_add_test(tc, psql_18_conninfo_table_is_understood_too);
    tcase_add_test(tc, sql_null_and_the_empty_string_stay_apart);
    tcase_add_test(tc, no_marker_means_psql_never_got_to_the_commands);
    tcase_add_loop_test(tc, psql_version_comes_from_psql_dash_dash_version, 0,
                        (int)(sizeof(psql_versions) / sizeof(psql_versions[0])));
    tcase_add_test(tc, the_loader_trace_names_the_libpq_psql_really_loads);
    suite_add_tcase(s, tc);
    return s;
}

Suite *cl_sclient_suite(void)
{
    Suite *s = suite_create("cl_sclient");
    TCase *tc = tcase_create("the s_client command mirrors libpq's decisions");
    tcase_add_test(tc, verify_full_checks_chain_and_host_against_only_the_given_root);
    tcase_add_test(tc, verify_ca_checks_the_chain_but_not_the_host);
    tcase_add_test(tc, require_without_a_root_file_does_not_verify);
    tcase_add_test(tc, require_with_a_root_crt_under_home_verifies_like_libpq);
    tcase_add_test(tc, sslrootcert_system_uses_the_default_paths);
    tcase_add_test(tc, ip_hosts_get_no_sni_and_an_ip_check);
    tcase_add_test(tc, options_map_to_s_client_flags);
    tcase_add_loop_test(tc, cases_s_client_cannot_express_are_unsupported_with_a_reason, 0,
                        (int)(sizeof(unsupported_rows) / sizeof(unsupported_rows[0])));
    suite_add_tcase(s, tc);

    tc = tcase_create("what s_client prints");
    tcase_add_test(tc, a_successful_handshake_is_read_from_s_client_output);
    tcase_add_test(tc, a_tls12_session_block_is_read_too);
    tcase_add_test(tc, a_verification_failure_is_read_from_s_client_output);
    tcase_add_loop_test(tc, openssl_version_names_the_library_actually_loaded, 0,
                        (int)(sizeof(openssl_versions) / sizeof(openssl_versions[0])));
    suite_add_tcase(s, tc);
    return s;
}
