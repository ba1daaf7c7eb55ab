/* pgtls certs-gen: the store translator (ca_translate.h) against Debian's
 * real ca-certificates, and its store readers on bad input. */
#include <check.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca_test_util.h"
#include "ca.h"
#include "ca_translate.h"

static char test_format[64];
#include "fs.h"
#include "support.h"

#define MOZILLA "/usr/share/ca-certificates/mozilla/"
#define REAL_G2 MOZILLA "DigiCert_Global_Root_G2.crt"
#define REAL_ISRG MOZILLA "ISRG_Root_X1.crt"
#define DEBIAN_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define DEBIAN_JKS "/etc/ssl/certs/java/cacerts"

static ca_twins *twins(void)
{
    pgtls_err err;
    ca_twins *tw;
    err_clear(&err);
    tw = ca_twins_load(ca_test_fixtures(), &err);
    ck_assert_msg(tw != NULL, "%s", err.msg);
    return tw;
}

static STACK_OF(X509) *stack_of(const char *a, const char *b)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    sk_X509_push(sk, ca_test_load_cert(a));
    if (b)
        sk_X509_push(sk, ca_test_load_cert(b));
    return sk;
}

static int same_der(X509 *a, X509 *b)
{
    return X509_cmp(a, b) == 0;
}

START_TEST(a_real_root_is_replaced_by_its_lookalike_and_other_roots_stay)
{
    ca_twins *tw = twins();
    STACK_OF(X509) *store = stack_of(REAL_G2, REAL_ISRG);
    X509 *twin = ca_test_fixture_cert("digicert-global-root-g2");
    ca_translation tr;
    pgtls_err err;
    char real_hex[65];

    err_clear(&err);
    ck_assert_int_eq(ca_translate(tw, store, CA_TRANSLATE_REPLACE, &tr, &err), 0);
    ck_assert_int_eq(tr.num_entries, 2);
    ck_assert_int_eq(tr.num_twinned, 1);
    ck_assert_int_eq(sk_X509_num(tr.certs), 2);
    ck_assert_str_eq(tr.entries[0].twin, "digicert-global-root-g2");
    ca_cert_sha256_hex(sk_X509_value(store, 0), real_hex);
    ck_assert_str_eq(tr.entries[0].sha256, real_hex); /* read from the store */
    ck_assert_msg(same_der(sk_X509_value(tr.certs, 0), twin), "G2 not replaced by its twin");
    ck_assert_ptr_null(tr.entries[1].twin);
    ck_assert_msg(same_der(sk_X509_value(tr.certs, 1), sk_X509_value(store, 1)),
                  "ISRG Root X1 has no twin and must stay as it is");
    ca_translation_cleanup(&tr);
    X509_free(twin);
    sk_X509_pop_free(store, X509_free);
    ca_twins_free(tw);
}
END_TEST

START_TEST(join_keeps_the_real_root_and_adds_its_twin)
{
    ca_twins *tw = twins();
    STACK_OF(X509) *store = stack_of(REAL_G2, NULL);
    X509 *twin = ca_test_fixture_cert("digicert-global-root-g2");
    ca_translation tr;
    pgtls_err err;

    ck_assert_int_eq(ca_translate(tw, store, CA_TRANSLATE_JOIN, &tr, &err), 0);
    ck_assert_int_eq(sk_X509_num(tr.certs), 2);
    ck_assert(same_der(sk_X509_value(tr.certs, 0), sk_X509_value(store, 0)));
    ck_assert(same_der(sk_X509_value(tr.certs, 1), twin));
    ca_translation_cleanup(&tr);
    X509_free(twin);
    sk_X509_pop_free(store, X509_free);
    ca_twins_free(tw);
}
END_TEST

START_TEST(a_lookalike_is_never_translated_again)
{
    ca_twins *tw = twins();
    STACK_OF(X509) *store = sk_X509_new_null();
    ca_translation tr;
    pgtls_err err;

    sk_X509_push(store, ca_test_fixture_cert("digicert-global-root-g2"));
    ck_assert_ptr_null(ca_twin_of(tw, sk_X509_value(store, 0), NULL));
    ck_assert_int_eq(ca_translate(tw, store, CA_TRANSLATE_REPLACE, &tr, &err), 0);
    ck_assert_int_eq(tr.num_twinned, 0);
    ck_assert_str_eq(tr.entries[0].lookalike, "digicert-global-root-g2");
    ck_assert(same_der(sk_X509_value(tr.certs, 0), sk_X509_value(store, 0)));
    ca_translation_cleanup(&tr);
    sk_X509_pop_free(store, X509_free);
    ca_twins_free(tw);
}
END_TEST

/* Debian's bundle holds G2 but not Microsoft TLS RSA Root G2: translated,
 * the new chain verifies (through the cross certificate) and the short chain
 * does not, as against a real server. */
START_TEST(the_translated_debian_store_verifies_the_new_chain_and_not_the_short_one)
{
    ca_twins *tw = twins();
    STACK_OF(X509) *store = NULL, *chain_new = sk_X509_new_null(), *chain_short;
    ca_translation tr;
    pgtls_err err;
    char *dir = ts_tmpdir_new("translate"), *hashed = fs_join(dir, "certs"), res[128];
    const char *fx = ca_test_fixtures();
    char *p;

    err_clear(&err);
    ck_assert_msg((store = ca_store_read(DEBIAN_BUNDLE, NULL, test_format, sizeof(test_format), &err)) != NULL, "%s", err.msg);
    ck_assert_int_eq(ca_translate(tw, store, CA_TRANSLATE_REPLACE, &tr, &err), 0);
    ck_assert_int_ge(tr.num_twinned, 1);
    ck_assert_int_eq(sk_X509_num(tr.certs), sk_X509_num(store));
    ck_assert_msg(ca_store_write_hashed_dir(tr.certs, hashed, &err) == 0, "%s", err.msg);
    p = str_printf("%s/certs/leaf-azure-new-02.pem", fx);
    sk_X509_push(chain_new, ca_test_load_cert(p));
    free(p);
    p = str_printf("%s/certs/ms-tls-g2-rsa-ca-ocsp-02.pem", fx);
    sk_X509_push(chain_new, ca_test_load_cert(p));
    free(p);
    chain_short = sk_X509_dup(chain_new);
    p = str_printf("%s/certs/ms-tls-rsa-root-g2-xsign.pem", fx);
    sk_X509_push(chain_new, ca_test_load_cert(p));
    free(p);
    ck_assert_int_eq(ca_verify_chain_dir(chain_new, hashed, 0, res, sizeof(res), &err), 0);
    ck_assert_str_eq(res, "ok");
    ck_assert_int_eq(ca_verify_chain_dir(chain_short, hashed, 0, res, sizeof(res), &err), 0);
    ck_assert_str_eq(res, "untrusted");
    /* and the untranslated store refuses the look-alike chain */
    ck_assert_int_eq(ca_verify_chain(chain_new, store, 0, res, sizeof(res), &err), 0);
    ck_assert_str_eq(res, "untrusted");
    sk_X509_free(chain_short);
    sk_X509_pop_free(chain_new, X509_free);
    ca_translation_cleanup(&tr);
    sk_X509_pop_free(store, X509_free);
    ca_twins_free(tw);
    free(hashed);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(debians_jks_cacerts_holds_the_same_certificates_as_its_pem_bundle)
{
    STACK_OF(X509) *pem = NULL, *jks = NULL, *p12 = NULL;
    pgtls_err err;
    char *dir = ts_tmpdir_new("translate"), *out = fs_join(dir, "cacerts.p12");

    if (!fs_exists(DEBIAN_JKS)) {
        fprintf(stderr, "%s missing (ca-certificates-java): not compared\n", DEBIAN_JKS);
        goto done;
    }
    err_clear(&err);
    ck_assert_msg((pem = ca_store_read(DEBIAN_BUNDLE, NULL, test_format, sizeof(test_format), &err)) != NULL, "%s", err.msg);
    ck_assert_msg((jks = ca_store_read(DEBIAN_JKS, NULL, test_format, sizeof(test_format), &err)) != NULL, "%s", err.msg);
    ck_assert_int_eq(sk_X509_num(jks), sk_X509_num(pem));
    for (int i = 0; i < sk_X509_num(pem); i++) {
        int found = 0;
        for (int k = 0; k < sk_X509_num(jks) && !found; k++)
            found = same_der(sk_X509_value(pem, i), sk_X509_value(jks, k));
        ck_assert_msg(found, "certificate %d of the bundle is not in cacerts", i);
    }
    /* PKCS#12 round trip (what a translated Java cacerts is written as) */
    ck_assert_msg(ca_store_write_p12(jks, NULL, out, &err) == 0, "%s", err.msg);
    ck_assert_msg((p12 = ca_store_read(out, "changeit", test_format, sizeof(test_format), &err)) != NULL, "%s", err.msg);
    ck_assert_int_eq(sk_X509_num(p12), sk_X509_num(jks));
done:
    sk_X509_pop_free(pem, X509_free);
    sk_X509_pop_free(jks, X509_free);
    sk_X509_pop_free(p12, X509_free);
    free(out);
    ts_tmpdir_remove(dir);
}
END_TEST

static const struct {
    const char *what;
    const char *content;
    size_t len; /* 0: strlen */
    const char *message;
} bad_stores[] = {
    {"an empty file", "", 0, "is empty"},
    {"random bytes", "\x01\x02garbage that is no store at all", 0, "is not a certificate store pgtls can read"},
    {"a corrupt PEM block",
     "-----BEGIN CERTIFICATE-----\nMIIB!!!notbase64\n-----END CERTIFICATE-----\n", 0,
     "PEM block 1 is truncated or corrupt"},
    {"a PEM file without certificates",
     "-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n", 0, "is a X509 CRL, not a certificate"},
    {"a PEM certificate block holding no certificate",
     "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n", 0, "is not a valid certificate"},
    {"a truncated JKS keystore", "\xfe\xed\xfe\xed\x00\x00\x00\x02\x00\x00\x00\x05\x00\x00\x00\x02",
     16, "JKS store is truncated"},
    {"a JKS keystore of an unknown version", "\xfe\xed\xfe\xed\x00\x00\x00\x07\x00\x00\x00\x00",
     12, "JKS store version 7 is not supported"},
};

START_TEST(a_bad_store_file_is_one_line_naming_it)
{
    char *dir = ts_tmpdir_new("translate"), *path = fs_join(dir, "store.pem");
    STACK_OF(X509) *sk = NULL;
    pgtls_err err;
    size_t len = bad_stores[_i].len ? bad_stores[_i].len : strlen(bad_stores[_i].content);

    err_clear(&err);
    ck_assert_int_eq(fs_write_file(path, bad_stores[_i].content, len, 0644, &err), 0);
    ck_assert_ptr_null(sk = ca_store_read(path, NULL, test_format, sizeof(test_format), &err));
    ck_assert_ptr_null(sk);
    ck_assert_msg(strstr(err.msg, bad_stores[_i].message) && strstr(err.msg, path) &&
                      !strchr(err.msg, '\n'),
                  "%s: got '%s'", bad_stores[_i].what, err.msg);
    free(path);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(a_missing_store_file_names_the_path)
{
    STACK_OF(X509) *sk = NULL;
    pgtls_err err;
    err_clear(&err);
    ck_assert_ptr_null(sk = ca_store_read("/nonexistent/pgtls-store.pem", NULL, test_format, sizeof(test_format), &err));
    ck_assert_msg(strstr(err.msg, "/nonexistent/pgtls-store.pem") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(twins_from_a_folder_without_an_index_say_how_to_generate_it)
{
    char *dir = ts_tmpdir_new("translate");
    pgtls_err err;
    err_clear(&err);
    ck_assert_ptr_null(ca_twins_load(dir, &err));
    ck_assert_msg(strstr(err.msg, "pgtls ca gen") != NULL, "%s", err.msg);
    ts_tmpdir_remove(dir);
}
END_TEST

Suite *translate_suite(void)
{
    Suite *s = suite_create("translate");
    TCase *tc = tcase_create("translate");
    ca_test_fixtures();
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_real_root_is_replaced_by_its_lookalike_and_other_roots_stay);
    tcase_add_test(tc, join_keeps_the_real_root_and_adds_its_twin);
    tcase_add_test(tc, a_lookalike_is_never_translated_again);
    tcase_add_test(tc, the_translated_debian_store_verifies_the_new_chain_and_not_the_short_one);
    tcase_add_test(tc, debians_jks_cacerts_holds_the_same_certificates_as_its_pem_bundle);
    suite_add_tcase(s, tc);
    tc = tcase_create("bad input");
    tcase_add_loop_test(tc, a_bad_store_file_is_one_line_naming_it, 0,
                        (int)(sizeof(bad_stores) / sizeof(*bad_stores)));
    tcase_add_test(tc, a_missing_store_file_names_the_path);
    tcase_add_test(tc, twins_from_a_folder_without_an_index_say_how_to_generate_it);
    suite_add_tcase(s, tc);
    return s;
}
