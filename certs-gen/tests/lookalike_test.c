/* pgtls certs-gen: look-alikes against the real roots (Debian's
 * ca-certificates), field by field. Only the key, the signature and the key
 * identifiers (derived from the key) may differ. */
#include <check.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "ca_test_util.h"
#include "ca.h"
#include "fs.h"
#include "support.h"
#include <openssl/pem.h>

#define MOZILLA "/usr/share/ca-certificates/mozilla/"

static const struct {
    const char *ours;
    const char *real;
} roots[] = {
    {"digicert-global-root-g2", MOZILLA "DigiCert_Global_Root_G2.crt"},
    {"digicert-global-root-ca", MOZILLA "DigiCert_Global_Root_CA.crt"},
    {"ms-rsa-root-2017", MOZILLA "Microsoft_RSA_Root_Certificate_Authority_2017.crt"},
    {"baltimore-cybertrust-root", MOZILLA "Baltimore_CyberTrust_Root.crt"},
};

static int der_eq(const void *a, int (*i2d)(const void *, unsigned char **), const void *b)
{
    unsigned char *da = NULL, *db = NULL;
    int la = i2d(a, &da), lb = i2d(b, &db);
    int eq = la > 0 && la == lb && memcmp(da, db, (size_t)la) == 0;
    OPENSSL_free(da);
    OPENSSL_free(db);
    return eq;
}

static int i2d_name(const void *n, unsigned char **out)
{
    return i2d_X509_NAME((const X509_NAME *)n, out);
}

static int i2d_algor(const void *a, unsigned char **out)
{
    return i2d_X509_ALGOR((const X509_ALGOR *)a, out);
}

static int i2d_time(const void *t, unsigned char **out)
{
    return i2d_ASN1_TIME((const ASN1_TIME *)t, out);
}

START_TEST(a_root_lookalike_copies_every_field_of_the_real_certificate)
{
    X509 *ours = ca_test_fixture_cert(roots[_i].ours);
    X509 *real;
    EVP_PKEY *kr, *ko;
    int n;

    if (!fs_exists(roots[_i].real)) {
        /* Debian's ca-certificates may drop a root (Baltimore is expired):
         * then there is nothing to compare with, and we say so. */
        fprintf(stderr, "%s missing: not compared\n", roots[_i].real);
        X509_free(ours);
        return;
    }
    real = ca_test_load_cert(roots[_i].real);
    ck_assert_int_eq(X509_get_version(ours), X509_get_version(real));
    ck_assert_msg(ASN1_INTEGER_cmp(X509_get0_serialNumber(ours), X509_get0_serialNumber(real)) == 0,
                  "%s: serial differs", roots[_i].ours);
    ck_assert_msg(der_eq(X509_get0_tbs_sigalg(ours), i2d_algor, X509_get0_tbs_sigalg(real)),
                  "%s: signature algorithm differs", roots[_i].ours);
    ck_assert_msg(der_eq(X509_get_subject_name(ours), i2d_name, X509_get_subject_name(real)),
                  "%s: subject DER differs (string types?)", roots[_i].ours);
    ck_assert_msg(der_eq(X509_get_issuer_name(ours), i2d_name, X509_get_issuer_name(real)),
                  "%s: issuer DER differs", roots[_i].ours);
    ck_assert_msg(der_eq(X509_get0_notBefore(ours), i2d_time, X509_get0_notBefore(real)),
                  "%s: notBefore differs", roots[_i].ours);
    ck_assert_msg(der_eq(X509_get0_notAfter(ours), i2d_time, X509_get0_notAfter(real)),
                  "%s: notAfter differs", roots[_i].ours);
    kr = X509_get0_pubkey(real);
    ko = X509_get0_pubkey(ours);
    ck_assert_int_eq(EVP_PKEY_get_base_id(ko), EVP_PKEY_get_base_id(kr));
    ck_assert_int_eq(EVP_PKEY_get_bits(ko), EVP_PKEY_get_bits(kr));
    ck_assert_msg(EVP_PKEY_eq(ko, kr) != 1, "%s: we must not hold the real key", roots[_i].ours);
    ck_assert_int_eq(X509_self_signed(ours, 1), 1);
    n = X509_get_ext_count(real);
    ck_assert_msg(X509_get_ext_count(ours) == n, "%s: %d extensions, the real one has %d",
                  roots[_i].ours, X509_get_ext_count(ours), n);
    for (int i = 0; i < n; i++) {
        X509_EXTENSION *eo = X509_get_ext(ours, i), *er = X509_get_ext(real, i);
        const ASN1_OBJECT *oid = X509_EXTENSION_get_object(er);
        int nid = OBJ_obj2nid(oid);
        char name[80];
        OBJ_obj2txt(name, sizeof(name), oid, 0);
        ck_assert_msg(OBJ_cmp(X509_EXTENSION_get_object(eo), oid) == 0,
                      "%s: extension %d is not %s (order differs)", roots[_i].ours, i, name);
        ck_assert_msg(X509_EXTENSION_get_critical(eo) == X509_EXTENSION_get_critical(er),
                      "%s: criticality of %s differs", roots[_i].ours, name);
        if (nid == NID_subject_key_identifier)
            continue; /* derived from our key */
        if (nid == NID_authority_key_identifier) {
            /* same shape (keyid only), value derived from our key */
            AUTHORITY_KEYID *ao = X509V3_EXT_d2i(eo), *ar = X509V3_EXT_d2i(er);
            ck_assert_ptr_nonnull(ao);
            ck_assert_ptr_nonnull(ar);
            ck_assert_int_eq(ao->keyid != NULL, ar->keyid != NULL);
            ck_assert_int_eq(ao->issuer != NULL, ar->issuer != NULL);
            ck_assert_int_eq(ao->serial != NULL, ar->serial != NULL);
            AUTHORITY_KEYID_free(ao);
            AUTHORITY_KEYID_free(ar);
            continue;
        }
        ck_assert_msg(
            ASN1_OCTET_STRING_cmp(X509_EXTENSION_get_data(eo), X509_EXTENSION_get_data(er)) == 0,
            "%s: value of %s differs", roots[_i].ours, name);
    }
    X509_free(ours);
    X509_free(real);
}
END_TEST

/* Intermediates: no copy on disk, so the profile facts of
 * docs/catalogue.md ("Where the shipped look-alikes come from") are asserted directly. */
static const struct {
    const char *name;
    const char *serial;
    const char *not_before;
    const char *sig;
    int bits;
    int pathlen; /* -1: none */
    const char *first_ext, *last_ext;
} profiles[] = {
    {"ms-tls-rsa-root-g2-xsign", "0B0C6B2C466917B04773C647D4AFC0C8", "250521000000Z",
     "sha384WithRSAEncryption", 4096, -1, "X509v3 Basic Constraints",
     "X509v3 Certificate Policies"},
    {"ms-tls-g2-rsa-ca-ocsp-02", "330000000C4964A16F44203B2200000000000C", "250801200300Z",
     "sha384WithRSAEncryption", 4096, 0, "X509v3 Key Usage", "Authority Information Access"},
    {"ms-tls-g2-rsa-ca-ocsp-16", "330000000E42938F25DC51A99B00000000000E", "250801200302Z",
     "sha384WithRSAEncryption", 4096, 0, "X509v3 Key Usage", "Authority Information Access"},
    {"azure-rsa-tls-ca-03-g2", "05196526449A5E3D1A38748F5DCFEBCC", "230608000000Z",
     "sha384WithRSAEncryption", 4096, 0, "X509v3 Basic Constraints", "X509v3 Certificate Policies"},
    {"azure-rsa-tls-ca-07-ms2017", "330000003BF980B0C83783431700000000003B", "230525234930Z",
     "sha384WithRSAEncryption", 4096, 0, "X509v3 Key Usage", "Authority Information Access"},
    {"ms-rsa-tls-ca-01", "0F14965F202069994FD5C7AC788941E2", "200721230000Z",
     "sha256WithRSAEncryption", 4096, 0, "X509v3 Subject Key Identifier",
     "X509v3 Certificate Policies"},
    {"digicert-sha2-secure-server-ca", "02742EAA17CA8E21C717BB1FFCFD0CA0", "200923000000Z",
     "sha256WithRSAEncryption", 2048, 0, "X509v3 Subject Key Identifier",
     "X509v3 Certificate Policies"},
    {"ms-tls-rsa-root-g2", "6486E3B269180FBF4040392E2E534B9B", "250410183630Z",
     "sha384WithRSAEncryption", 4096, -1, "X509v3 Key Usage", "1.3.6.1.4.1.311.21.1"},
};

START_TEST(an_intermediate_lookalike_follows_the_reference_profile)
{
    X509 *x = ca_test_fixture_cert(profiles[_i].name);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *serial = BN_bn2hex(bn);
    const ASN1_TIME *nb = X509_get0_notBefore(x);
    char first[80], last[80];
    long pathlen = X509_get_pathlen(x);

    ck_assert_str_eq(serial, profiles[_i].serial);
    ck_assert_str_eq((const char *)ASN1_STRING_get0_data(nb), profiles[_i].not_before);
    ck_assert_str_eq(OBJ_nid2ln(X509_get_signature_nid(x)), profiles[_i].sig);
    ck_assert_int_eq(EVP_PKEY_get_bits(X509_get0_pubkey(x)), profiles[_i].bits);
    ck_assert_int_eq(pathlen, profiles[_i].pathlen);
    OBJ_obj2txt(first, sizeof(first), X509_EXTENSION_get_object(X509_get_ext(x, 0)), 0);
    OBJ_obj2txt(last, sizeof(last),
                X509_EXTENSION_get_object(X509_get_ext(x, X509_get_ext_count(x) - 1)), 0);
    ck_assert_str_eq(first, profiles[_i].first_ext);
    ck_assert_str_eq(last, profiles[_i].last_ext);
    OPENSSL_free(serial);
    BN_free(bn);
    X509_free(x);
}
END_TEST

START_TEST(microsoft_forms_carry_ca_version_zero_and_the_subca_template_as_bmpstring)
{
    X509 *x = ca_test_fixture_cert("ms-tls-g2-rsa-ca-ocsp-08");
    ASN1_OBJECT *ver = OBJ_txt2obj("1.3.6.1.4.1.311.21.1", 1);
    ASN1_OBJECT *tmpl = OBJ_txt2obj("1.3.6.1.4.1.311.20.2", 1);
    int iv = X509_get_ext_by_OBJ(x, ver, -1), it = X509_get_ext_by_OBJ(x, tmpl, -1);
    ASN1_OCTET_STRING *dv, *dt;
    static const unsigned char int0[] = {0x02, 0x01, 0x00};
    static const unsigned char subca[] = {0x1e, 0x0a, 0, 'S', 0, 'u', 0, 'b', 0, 'C', 0, 'A'};
    ck_assert_int_ge(iv, 0);
    ck_assert_int_ge(it, 0);
    dv = X509_EXTENSION_get_data(X509_get_ext(x, iv));
    dt = X509_EXTENSION_get_data(X509_get_ext(x, it));
    ck_assert_int_eq(ASN1_STRING_length(dv), sizeof(int0));
    ck_assert(memcmp(ASN1_STRING_get0_data(dv), int0, sizeof(int0)) == 0);
    ck_assert_int_eq(ASN1_STRING_length(dt), sizeof(subca));
    ck_assert(memcmp(ASN1_STRING_get0_data(dt), subca, sizeof(subca)) == 0);
    ASN1_OBJECT_free(ver);
    ASN1_OBJECT_free(tmpl);
    X509_free(x);
}
END_TEST

/* Extension order and criticality per docs/catalogue.md (the real certificates)
 * ("Extensions, in order"); "!" marks critical. */
#define BC "2.5.29.19"
#define KU "2.5.29.15"
#define EKU "2.5.29.37"
#define SKI "2.5.29.14"
#define AKI "2.5.29.35"
#define CRL "2.5.29.31"
#define POL "2.5.29.32"
#define AIA "1.3.6.1.5.5.7.1.1"
#define MSVER "1.3.6.1.4.1.311.21.1"
#define MSTPL "1.3.6.1.4.1.311.20.2"
static const struct {
    const char *name;
    const char *exts[12];
} orders[] = {
    {"ms-tls-rsa-root-g2-xsign", {"!" BC, SKI, AKI, "!" KU, EKU, AIA, CRL, POL}},
    {"ms-tls-g2-rsa-ca-ocsp-02", {"!" KU, MSVER, SKI, POL, EKU, MSTPL, "!" BC, AKI, CRL, AIA}},
    {"ms-tls-g2-rsa-ca-ocsp-12", {"!" KU, MSVER, SKI, POL, EKU, MSTPL, "!" BC, AKI, CRL, AIA}},
    {"azure-rsa-tls-ca-04-g2", {"!" BC, SKI, AKI, "!" KU, EKU, AIA, CRL, POL}},
    {"azure-rsa-tls-ca-04-ms2017", {"!" KU, MSVER, SKI, POL, EKU, MSTPL, "!" BC, AKI, CRL, AIA}},
    {"ms-tls-rsa-root-g2", {"!" KU, "!" BC, SKI, MSVER}},
    {"leaf-azure-new-02",
     {"1.3.6.1.4.1.11129.2.4.2", "1.3.6.1.4.1.311.21.10", "1.3.6.1.4.1.311.21.7", AIA, SKI, "!" KU,
      "2.5.29.17", "!" BC, CRL, POL, AKI, EKU}},
};

START_TEST(an_intermediate_lookalike_keeps_the_reference_extension_order)
{
    X509 *x = ca_test_fixture_cert(orders[_i].name);
    int n = 0;
    while (n < 12 && orders[_i].exts[n])
        n++;
    ck_assert_int_eq(X509_get_ext_count(x), n);
    for (int i = 0; i < n; i++) {
        const char *want = orders[_i].exts[i];
        int crit = want[0] == '!';
        char oid[64];
        X509_EXTENSION *e = X509_get_ext(x, i);
        OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(e), 1);
        ck_assert_msg(strcmp(oid, want + crit) == 0, "%s: extension %d is %s, expected %s",
                      orders[_i].name, i, oid, want + crit);
        ck_assert_int_eq(X509_EXTENSION_get_critical(e), crit);
    }
    X509_free(x);
}
END_TEST

/* `pgtls ca clone`: the catalogue it prints regenerates the same fields. */
static const char *const clone_sources[] = {
    "@FX@/chains/azure-old-03-ms2017.pem",
    "@FX@/chains/azure-new-02.pem",
    "@FX@/chains/test-rsa-pss-leaf.pem",
    MOZILLA "DigiCert_Global_Root_CA.crt",
};

static void assert_same_fields(X509 *a, X509 *b, const char *what)
{
    ck_assert_msg(der_eq(X509_get_subject_name(a), i2d_name, X509_get_subject_name(b)),
                  "%s: subject differs", what);
    ck_assert_msg(der_eq(X509_get_issuer_name(a), i2d_name, X509_get_issuer_name(b)),
                  "%s: issuer differs", what);
    ck_assert_msg(ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)) == 0,
                  "%s: serial differs", what);
    ck_assert_msg(der_eq(X509_get0_notBefore(a), i2d_time, X509_get0_notBefore(b)) &&
                      der_eq(X509_get0_notAfter(a), i2d_time, X509_get0_notAfter(b)),
                  "%s: validity differs", what);
    ck_assert_int_eq(X509_get_signature_nid(a), X509_get_signature_nid(b));
    ck_assert_int_eq(EVP_PKEY_get_bits(X509_get0_pubkey(a)),
                     EVP_PKEY_get_bits(X509_get0_pubkey(b)));
    ck_assert_int_eq(X509_get_ext_count(a), X509_get_ext_count(b));
    for (int i = 0; i < X509_get_ext_count(a); i++) {
        X509_EXTENSION *ea = X509_get_ext(a, i), *eb = X509_get_ext(b, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ea));
        ck_assert_int_eq(OBJ_cmp(X509_EXTENSION_get_object(ea), X509_EXTENSION_get_object(eb)), 0);
        ck_assert_int_eq(X509_EXTENSION_get_critical(ea), X509_EXTENSION_get_critical(eb));
        if (nid != NID_subject_key_identifier && nid != NID_authority_key_identifier)
            ck_assert_msg(ASN1_OCTET_STRING_cmp(X509_EXTENSION_get_data(ea),
                                                X509_EXTENSION_get_data(eb)) == 0,
                          "%s: extension %d differs", what, i);
    }
}

START_TEST(a_cloned_chain_regenerates_every_field_of_the_captured_one)
{
    const char *src = clone_sources[_i];
    char *pem = strncmp(src, "@FX@", 4) == 0 ? str_printf("%s%s", ca_test_fixtures(), src + 4)
                                             : strdup(src);
    char *dir = ts_tmpdir_new("ca-clone");
    char *ini = fs_join(dir, "clone.ini"), *out = fs_join(dir, "fx");
    FILE *f = fopen(ini, "w");
    pgtls_err err;
    BIO *bio;
    X509 *orig;
    char prefix[16];
    int i = 0;

    if (!fs_exists(pem)) {
        fprintf(stderr, "%s missing: not cloned\n", pem);
        goto done;
    }
    ck_assert_ptr_nonnull(f);
    err_clear(&err);
    /* a prefix per source: cached keys keep their type across runs */
    snprintf(prefix, sizeof(prefix), "cl%d", _i);
    ck_assert_msg(ca_clone_chain(pem, prefix, f, &err) == 0, "%s", err.msg);
    fclose(f);
    f = NULL;
    ck_assert_msg(ca_gen(ini, out, ca_test_key_cache(), &err) == 0, "%s", err.msg);
    ck_assert_msg(ca_verify_fixtures(out, stderr, &err) == 0, "clone declarations: %s", err.msg);
    bio = BIO_new_file(pem, "r");
    while ((orig = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        char *path = str_printf("%s/certs/%s-%d.der", out, prefix, i++);
        X509 *copy = ca_test_load_cert(path);
        assert_same_fields(orig, copy, path);
        ck_assert_msg(EVP_PKEY_eq(X509_get0_pubkey(orig), X509_get0_pubkey(copy)) != 1,
                      "the clone must not reuse the captured key");
        X509_free(copy);
        X509_free(orig);
        free(path);
    }
    BIO_free(bio);
    ck_assert_int_gt(i, 0);
done:
    if (f)
        fclose(f);
    free(pem);
    free(ini);
    free(out);
    ts_tmpdir_remove(dir);
}
END_TEST

Suite *lookalike_suite(void)
{
    Suite *s = suite_create("lookalike");
    TCase *tc = tcase_create("roots");
    ca_test_fixtures();
    tcase_add_loop_test(tc, a_root_lookalike_copies_every_field_of_the_real_certificate, 0,
                        (int)(sizeof(roots) / sizeof(*roots)));
    suite_add_tcase(s, tc);
    tc = tcase_create("intermediates");
    tcase_add_loop_test(tc, an_intermediate_lookalike_follows_the_reference_profile, 0,
                        (int)(sizeof(profiles) / sizeof(*profiles)));
    tcase_add_test(tc, microsoft_forms_carry_ca_version_zero_and_the_subca_template_as_bmpstring);
    tcase_add_loop_test(tc, an_intermediate_lookalike_keeps_the_reference_extension_order, 0,
                        (int)(sizeof(orders) / sizeof(*orders)));
    suite_add_tcase(s, tc);
    tc = tcase_create("clone");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, a_cloned_chain_regenerates_every_field_of_the_captured_one, 0,
                        (int)(sizeof(clone_sources) / sizeof(*clone_sources)));
    suite_add_tcase(s, tc);
    return s;
}
