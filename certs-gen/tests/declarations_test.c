/* pgtls certs-gen: every declaration of the catalogue holds under OpenSSL's
 * verifier, a wrong one is caught, and libpq's host-name rules. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "ca_test_util.h"
#include "fs.h"
#include "support.h"

START_TEST(every_declared_verification_result_and_host_match_holds)
{
    pgtls_err err;
    int n;
    err_clear(&err);
    n = ca_verify_fixtures(ca_test_fixtures(), stderr, &err);
    ck_assert_msg(n == 0, "%d declaration(s) do not hold (listed above); %s", n, err.msg);
}
END_TEST

/* Copies the shared fixtures' index into a new folder (paths made absolute
 * so the copy still points at the shared files), edits one declaration,
 * and expects ca_verify_fixtures to catch it. */
static const struct {
    const char *scenario;
    const char *field; /* "verify.<store>" or "host_match" */
    const char *value; /* JSON text */
} wrong[] = {
    {"azure-old", "verify.root-ms2017", "\"ok\""},
    {"azure-new-short", "verify.root-g2", "\"ok\""},
    {"azure-new-expired-cross", "verify.root-g2", "\"ok\""},
    /* libpq sets no X509_V_FLAG_PARTIAL_CHAIN: a pinned leaf or ICA is no anchor */
    {"azure-old", "verify.pinned-leaf", "\"ok\""},
    {"azure-new", "verify.pinned-ocsp02", "\"ok\""},
    {"expired-leaf", "verify.private-root", "\"ok\""},
    {"sha1-leaf", "verify.private-root", "\"ok\""},
    {"wrong-host", "host_match", "true"},
    {"cn-only-leaf", "host_match", "false"},
    {"azure-new", "verify.missing", "\"ok\""},
};

static void absolutize(json_t *obj, const char *key, const char *dir)
{
    const char *rel = json_string_value(json_object_get(obj, key));
    if (rel && rel[0] != '/') {
        char *abs = fs_join(dir, rel);
        json_object_set_new(obj, key, json_string(abs));
        free(abs);
    }
}

START_TEST(a_wrong_declaration_is_reported)
{
    pgtls_err err;
    char *src = fs_join(ca_test_fixtures(), "index.json");
    char *dir = ts_tmpdir_new("ca-wrong");
    char *dst = fs_join(dir, "index.json");
    json_error_t jerr;
    json_t *root = json_load_file(src, 0, &jerr), *v, *sc;
    const char *key;
    const char *scenario = wrong[_i].scenario, *field = wrong[_i].field;
    const char *value = wrong[_i].value;
    int n;

    ck_assert_ptr_nonnull(root);
    json_object_foreach(json_object_get(root, "chains"), key, v)
    {
        absolutize(v, "pem", ca_test_fixtures());
        absolutize(v, "key", ca_test_fixtures());
    }
    json_object_foreach(json_object_get(root, "stores"), key, v)
    {
        absolutize(v, "pem", ca_test_fixtures());
        absolutize(v, "p12", ca_test_fixtures());
        absolutize(v, "system_dir", ca_test_fixtures());
    }
    sc = json_object_get(json_object_get(root, "scenarios"), scenario);
    ck_assert_ptr_nonnull(sc);
    if (strncmp(field, "verify.", 7) == 0)
        json_object_set_new(json_object_get(sc, "verify"), field + 7,
                            json_loads(value, JSON_DECODE_ANY, &jerr));
    else
        json_object_set_new(sc, field, json_loads(value, JSON_DECODE_ANY, &jerr));
    ck_assert_int_eq(json_dump_file(root, dst, 0), 0);
    err_clear(&err);
    n = ca_verify_fixtures(dir, NULL, &err);
    ck_assert_msg(n == 1, "%s %s=%s: %d mismatches reported (%s)", scenario, field, value, n,
                  err.msg);
    json_decref(root);
    free(src);
    free(dst);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(verifying_a_folder_without_an_index_is_an_input_error)
{
    pgtls_err err;
    char *dir = ts_tmpdir_new("ca-noindex");
    err_clear(&err);
    ck_assert_int_eq(ca_verify_fixtures(dir, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "pgtls ca gen"));
    ts_tmpdir_remove(dir);
}
END_TEST

/* libpq (fe-secure-common.c, fe-secure-openssl.c): exact or single-label
 * wildcard match on dNSName SANs, iPAddress SANs for IP hosts, CN only when
 * there is no SAN of the host's type. */
static const struct {
    const char *cert;
    const char *host;
    int match;
} hosts[] = {
    {"leaf-test", "mydemoserver.postgres.database.azure.com", 1},
    {"leaf-test", "MYDEMOSERVER.Postgres.Database.Azure.COM", 1},
    {"leaf-test", "other.postgres.database.azure.com", 1}, /* via *.postgres... */
    {"leaf-test", "x.privatelink.postgres.database.azure.com", 1},
    {"leaf-test", "a.b.postgres.database.azure.com", 0},
    {"leaf-test", "postgres.database.azure.com", 0},
    {"leaf-test", "127.0.0.1", 0},
    {"leaf-wildcard", "mydemoserver.postgres.database.azure.com", 1},
    {"leaf-wildcard", "replica.mydemoserver.postgres.database.azure.com", 0},
    {"leaf-wildcard", ".postgres.database.azure.com", 0},
    {"leaf-wrong-host", "mydemoserver.postgres.database.azure.com", 0},
    {"leaf-wrong-host", "otherserver.example.com", 1},
    {"leaf-cn-only", "mydemoserver.postgres.database.azure.com", 1},
    {"leaf-cn-only", "other.postgres.database.azure.com", 0},
    {"leaf-ip-san", "127.0.0.1", 1},
    {"leaf-ip-san", "127.0.0.2", 0},
    {"leaf-ip-san", "::1", 0},
    {"leaf-ip-san", "localhost", 0}, /* CN is 127.0.0.1, but no dNSName SAN: CN fallback says no */
    {"leaf-single-g2", "mydemoserver.postgres.database.azure.com", 1},
    {"leaf-china-old", "mydemoserver.postgres.database.chinacloudapi.cn", 1},
    {"leaf-china-old", "mydemoserver.postgres.database.azure.com", 0},
};

START_TEST(host_names_follow_libpq_rules)
{
    X509 *x = ca_test_fixture_cert(hosts[_i].cert);
    ck_assert_msg(ca_host_matches(x, hosts[_i].host) == hosts[_i].match, "%s vs %s: expected %d",
                  hosts[_i].cert, hosts[_i].host, hosts[_i].match);
    X509_free(x);
}
END_TEST

Suite *declarations_suite(void)
{
    Suite *s = suite_create("declarations");
    TCase *tc = tcase_create("verification");
    ca_test_fixtures();
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_declared_verification_result_and_host_match_holds);
    tcase_add_loop_test(tc, a_wrong_declaration_is_reported, 0,
                        (int)(sizeof(wrong) / sizeof(*wrong)));
    tcase_add_test(tc, verifying_a_folder_without_an_index_is_an_input_error);
    suite_add_tcase(s, tc);
    tc = tcase_create("host names");
    tcase_add_loop_test(tc, host_names_follow_libpq_rules, 0,
                        (int)(sizeof(hosts) / sizeof(*hosts)));
    suite_add_tcase(s, tc);
    return s;
}
