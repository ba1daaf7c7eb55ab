/* pgtls certs-gen: DN, keys, extensions, cross-signing, writers, index. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ca.h"
#include "ca_test_util.h"
#include "fixtures.h"
#include "fs.h"
#include "support.h"

extern char **environ;

/* ---------------------------------------------------------------- DN */

static const struct {
    const char *text;
    const char *dflt;
    int types[4]; /* ASN.1 string type per RDN, 0 terminates */
    const char *last_value;
} good_dns[] = {
    {"C=US, O=DigiCert Inc, OU=www.digicert.com, CN=DigiCert Global Root G2",
     "printable",
     {V_ASN1_PRINTABLESTRING, V_ASN1_PRINTABLESTRING, V_ASN1_PRINTABLESTRING,
      V_ASN1_PRINTABLESTRING},
     "DigiCert Global Root G2"},
    {"C=US, CN=Root", "utf8", {V_ASN1_PRINTABLESTRING, V_ASN1_UTF8STRING, 0, 0}, "Root"},
    {"O=Zo\xc3\xab, CN:printable=x",
     "auto",
     {V_ASN1_UTF8STRING, V_ASN1_PRINTABLESTRING, 0, 0},
     "x"},
    {"O=Foo\\, Inc, CN:utf8=Bar",
     "printable",
     {V_ASN1_PRINTABLESTRING, V_ASN1_UTF8STRING, 0, 0},
     "Bar"},
    {"CN=a, emailAddress=a@b.c", "auto", {V_ASN1_PRINTABLESTRING, V_ASN1_IA5STRING, 0, 0}, "a@b.c"},
};

START_TEST(a_dn_keeps_its_order_and_the_declared_string_types)
{
    pgtls_err err;
    X509_NAME *name;
    int n;
    err_clear(&err);
    name = ca_dn_parse(good_dns[_i].text, good_dns[_i].dflt, &err);
    ck_assert_msg(name != NULL, "%s", err.msg);
    n = X509_NAME_entry_count(name);
    for (int i = 0; i < n; i++) {
        ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
        ck_assert_int_eq(ASN1_STRING_type(v), good_dns[_i].types[i]);
        if (i == n - 1)
            ck_assert_str_eq((const char *)ASN1_STRING_get0_data(v), good_dns[_i].last_value);
    }
    ck_assert_int_eq(good_dns[_i].types[n < 4 ? n : 3] == 0 || n == 4, 1);
    X509_NAME_free(name);
}
END_TEST

static const char *const bad_dns[] = {
    "", "CN", "CN=", "C=USA", "FOO=bar", "CN:printable=a_b", "CN:weird=a"};

START_TEST(a_malformed_dn_is_refused)
{
    pgtls_err err;
    err_clear(&err);
    ck_assert_ptr_null(ca_dn_parse(bad_dns[_i], "auto", &err));
    ck_assert(err.msg[0] != '\0');
}
END_TEST

/* ---------------------------------------------------------------- keys */

START_TEST(a_key_is_generated_once_cached_0600_and_reused)
{
    pgtls_err err;
    char *dir = ts_tmpdir_new("ca-keys");
    ca_key k1 = {.name = "k", .type = "EC-P256"}, k2 = {.name = "k", .type = "EC-P256"};
    struct stat st;
    char *path = fs_join(dir, "k.key");

    err_clear(&err);
    ck_assert_msg(ca_key_load(&k1, dir, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_msg(ca_key_load(&k2, dir, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(EVP_PKEY_eq(k1.pkey, k2.pkey), 1);
    EVP_PKEY_free(k1.pkey);
    EVP_PKEY_free(k2.pkey);
    free(k1.cache_path);
    free(k2.cache_path);
    free(path);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(concurrent_cold_gens_share_one_generated_key)
{
    pgtls_err err;
    char *dir = ts_tmpdir_new("ca-keylock");
    char *pub_path = fs_join(dir, "child.pub");
    ca_key k = {.name = "shared", .type = "RSA-3072"};
    unsigned char *der = NULL;
    char *child_der = NULL;
    size_t child_len = 0;
    int len, status;
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* the child loads (or generates) the same key and reports it */
        ca_key ck = {.name = "shared", .type = "RSA-3072"};
        unsigned char *cder = NULL;
        int clen;
        err_clear(&err);
        if (ca_key_load(&ck, dir, &err) < 0)
            _exit(1);
        clen = i2d_PUBKEY(ck.pkey, &cder);
        _exit(clen > 0 && fs_write_file(pub_path, cder, (size_t)clen, 0644, &err) == 0 ? 0 : 1);
    }
    err_clear(&err);
    ck_assert_msg(ca_key_load(&k, dir, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    len = i2d_PUBKEY(k.pkey, &der);
    ck_assert_int_eq(fs_read_file(pub_path, 0, &child_der, &child_len, &err), 0);
    ck_assert_int_eq((int)child_len, len);
    ck_assert_msg(memcmp(der, child_der, child_len) == 0,
                  "the two processes hold different keys for one name");
    OPENSSL_free(der);
    free(child_der);
    EVP_PKEY_free(k.pkey);
    free(k.cache_path);
    free(pub_path);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(a_cached_key_of_another_type_is_replaced)
{
    pgtls_err err;
    char *dir = ts_tmpdir_new("ca-keys");
    ca_key k1 = {.name = "k", .type = "EC-P256"}, k2 = {.name = "k", .type = "EC-P384"};
    char buf[32];
    err_clear(&err);
    ck_assert_msg(ca_key_load(&k1, dir, &err) == 0, "%s", err.msg);
    ck_assert_msg(ca_key_load(&k2, dir, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(ca_key_describe(k2.pkey, buf, sizeof(buf)), "EC-P384");
    EVP_PKEY_free(k1.pkey);
    EVP_PKEY_free(k2.pkey);
    free(k1.cache_path);
    free(k2.cache_path);
    ts_tmpdir_remove(dir);
}
END_TEST

static const char *const key_types[] = {"RSA-1024", "RSA-2048", "RSA-PSS-2048", "EC-P256",
                                        "EC-P384"};

START_TEST(every_key_type_generates_and_describes_itself)
{
    pgtls_err err;
    char buf[32];
    EVP_PKEY *pkey;
    err_clear(&err);
    pkey = ca_key_generate(key_types[_i], &err);
    ck_assert_msg(pkey != NULL, "%s", err.msg);
    ck_assert_str_eq(ca_key_describe(pkey, buf, sizeof(buf)), key_types[_i]);
    EVP_PKEY_free(pkey);
    ck_assert_ptr_null(ca_key_generate("DSA-2048", &err));
}
END_TEST

START_TEST(a_corrupt_cached_key_fails_gen_naming_the_file_and_leaves_no_output)
{
    static const char text[] = "[cert r]\nkey_type = EC-P256\nissuer = self\nsubject = CN=r\n"
                               "ext = basicConstraints: critical,CA:TRUE\n"
                               "[store s]\nkind = roots\ncerts = r\n";
    pgtls_err err;
    char *dir = ts_tmpdir_new("ca-corrupt");
    char *cat = ts_write_text(dir, "c.ini", text);
    char *cache = fs_join(dir, "cache");
    char *key = fs_join(cache, "r.key");
    char *out = fs_join(dir, "out");
    err_clear(&err);
    ck_assert_int_eq(fs_mkdir_p(cache, 0700, &err), 0);
    ck_assert_int_eq(fs_write_file(key, "garbage\n", 8, 0600, &err), 0);
    ck_assert_int_eq(ca_gen(cat, out, cache, &err), -1);
    ck_assert_int_eq(err_exit_status(err.code), 2);
    ck_assert_msg(strstr(err.msg, key) && strstr(err.msg, "corrupt") && strstr(err.msg, "delete"),
                  "%s", err.msg);
    ck_assert(!fs_exists(out));
    /* the fix the message names works */
    unlink(key);
    ck_assert_msg(ca_gen(cat, out, cache, &err) == 0, "%s", err.msg);
    ck_assert(fs_exists(out));
    free(cat);
    free(cache);
    free(key);
    free(out);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(an_unwritable_output_dir_fails_cleanly)
{
    static const char text[] = "[cert r]\nkey_type = EC-P256\nissuer = self\nsubject = CN=r\n";
    pgtls_err err;
    char *dir = ts_tmpdir_new("ca-unwritable");
    char *cat = ts_write_text(dir, "c.ini", text);
    char *blocker = ts_write_text(dir, "file", "x");
    char *out = fs_join(blocker, "sub/out");
    char *cache = fs_join(dir, "cache");
    err_clear(&err);
    /* a regular file where a folder must be: fails even for root */
    ck_assert_int_eq(ca_gen(cat, out, cache, &err), -1);
    ck_assert_int_eq(err_exit_status(err.code), 2);
    ck_assert_msg(strstr(err.msg, "--out") != NULL, "%s", err.msg);
    free(cat);
    free(blocker);
    free(out);
    free(cache);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(gen_refuses_to_replace_a_folder_that_is_not_a_fixtures_folder)
{
    static const char text[] = "[cert r]\nkey_type = EC-P256\nissuer = self\nsubject = CN=r\n";
    pgtls_err err;
    char *dir = ts_tmpdir_new("ca-precious");
    char *cat = ts_write_text(dir, "c.ini", text);
    char *out = fs_join(dir, "home");
    char *precious = NULL, *cache = fs_join(dir, "cache");
    err_clear(&err);
    ck_assert_int_eq(fs_mkdir_p(out, 0755, &err), 0);
    precious = ts_write_text(out, "thesis.tex", "do not delete");
    ck_assert_int_eq(ca_gen(cat, out, cache, &err), -1);
    ck_assert_int_eq(err_exit_status(err.code), 2);
    ck_assert_msg(strstr(err.msg, "not a fixtures folder") != NULL, "%s", err.msg);
    ck_assert(fs_exists(precious));
    free(cat);
    free(out);
    free(precious);
    free(cache);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(regenerating_replaces_the_folder_and_keeps_names_and_keys)
{
    static const char text[] = "[cert r]\nkey_type = EC-P256\nissuer = self\nsubject = CN=r\n"
                               "ext = basicConstraints: critical,CA:TRUE\n"
                               "[cert l]\nkey_type = EC-P256\nissuer = r\nsubject = CN=l\n"
                               "[chain c]\ncerts = l, r\n";
    pgtls_err err;
    char *dir = ts_tmpdir_new("ca-regen");
    char *cat = ts_write_text(dir, "c.ini", text);
    char *cache = fs_join(dir, "cache");
    char *out = fs_join(dir, "out");
    char *stale = fs_join(out, "stale-file");
    char *key = fs_join(out, "keys/l.key");
    char *k1 = NULL, *k2 = NULL;
    struct stat st;
    err_clear(&err);
    ck_assert_msg(ca_gen(cat, out, cache, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(fs_read_file(key, 0, &k1, NULL, &err), 0);
    ck_assert_int_eq(stat(key, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(fs_write_file(stale, "x", 1, 0644, &err), 0);
    ck_assert_msg(ca_gen(cat, out, cache, &err) == 0, "%s", err.msg);
    ck_assert_msg(!fs_exists(stale), "the old folder was not replaced");
    ck_assert_int_eq(fs_read_file(key, 0, &k2, NULL, &err), 0);
    ck_assert_str_eq(k1, k2);
    /* no temporary or old folders left next to out */
    {
        DIR *d = opendir(dir);
        struct dirent *de;
        int entries = 0;
        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            ck_assert_msg(strcmp(de->d_name, "c.ini") == 0 || strcmp(de->d_name, "cache") == 0 ||
                              strcmp(de->d_name, "out") == 0,
                          "left behind: %s", de->d_name);
            entries++;
        }
        closedir(d);
        ck_assert_int_eq(entries, 3);
    }
    /* an unchanged catalogue with a recent index is reused, a stale one regenerated */
    ck_assert_int_eq(ca_gen_if_stale(cat, out, cache, 3600, &err), 0);
    ck_assert_int_eq(ca_gen_if_stale(cat, out, cache, -1, &err), 1);
    free(k1);
    free(k2);
    free(cat);
    free(cache);
    free(out);
    free(stale);
    free(key);
    ts_tmpdir_remove(dir);
}
END_TEST

/* ---------------------------------------------------------------- extensions */

START_TEST(extensions_keep_catalogue_order_criticality_and_raw_values)
{
    static const char text[] =
        "[cert r]\nkey_type = EC-P256\nissuer = self\nsubject = CN=r\n"
        "ext = basicConstraints: critical,CA:TRUE\next = subjectKeyIdentifier: hash\n"
        "[cert i]\nkey_type = EC-P256\nissuer = r\nsubject = CN=i\n"
        "ext = keyUsage: critical,digitalSignature,keyCertSign,cRLSign\n"
        "ext = 1.3.6.1.4.1.311.21.1: ASN1:INTEGER:0\n"
        "ext = subjectKeyIdentifier: hash\n"
        "ext = 1.3.6.1.4.1.311.20.2: ASN1:BMPSTRING:SubCA\n"
        "ext = basicConstraints: critical,CA:TRUE,pathlen:0\n"
        "ext = authorityKeyIdentifier: keyid\n";
    static const struct {
        const char *oid;
        int critical;
        const char *der_hex; /* extnValue, NULL = not compared */
    } expect[] = {
        {"2.5.29.15", 1, "03020186"},
        {"1.3.6.1.4.1.311.21.1", 0, "020100"},
        {"2.5.29.14", 0, NULL},
        {"1.3.6.1.4.1.311.20.2", 0, "1e0a00530075006200430041"},
        {"2.5.29.19", 1, "30060101ff020100"},
        {"2.5.29.35", 0, NULL},
    };
    pgtls_err err;
    ca_catalogue *cat = ca_test_parse(text, &err);
    ca_cert *i, *r;
    const ASN1_OCTET_STRING *ski_i, *ski_r;
    AUTHORITY_KEYID *akid;

    ck_assert_msg(cat != NULL, "%s", err.msg);
    for (size_t k = 0; k < cat->num_keys; k++)
        ck_assert_msg(ca_key_load(&cat->keys[k], ca_test_key_cache(), &err) == 0, "%s", err.msg);
    ck_assert_msg(ca_build_all(cat, time(NULL), &err) == 0, "%s", err.msg);
    i = ca_catalogue_cert(cat, "i");
    r = ca_catalogue_cert(cat, "r");
    ck_assert_int_eq(X509_get_ext_count(i->x509), 6);
    for (int k = 0; k < 6; k++) {
        X509_EXTENSION *e = X509_get_ext(i->x509, k);
        char oid[64];
        OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(e), 1);
        ck_assert_str_eq(oid, expect[k].oid);
        ck_assert_int_eq(X509_EXTENSION_get_critical(e), expect[k].critical);
        if (expect[k].der_hex) {
            ASN1_OCTET_STRING *d = X509_EXTENSION_get_data(e);
            char hexbuf[128] = "";
            for (int b = 0; b < ASN1_STRING_length(d); b++)
                snprintf(hexbuf + 2 * b, 3, "%02x", ASN1_STRING_get0_data(d)[b]);
            ck_assert_str_eq(hexbuf, expect[k].der_hex);
        }
    }
    /* SKI derives from the key; AKI names the issuer's SKI. */
    ski_i = X509_get0_subject_key_id(i->x509);
    ski_r = X509_get0_subject_key_id(r->x509);
    ck_assert_ptr_nonnull(ski_i);
    ck_assert_ptr_nonnull(ski_r);
    akid = X509_get_ext_d2i(i->x509, NID_authority_key_identifier, NULL, NULL);
    ck_assert_ptr_nonnull(akid);
    ck_assert_int_eq(ASN1_OCTET_STRING_cmp(akid->keyid, ski_r), 0);
    ck_assert_ptr_null(akid->issuer);
    AUTHORITY_KEYID_free(akid);
    ck_assert_int_eq(X509_verify(i->x509, r->key->pkey), 1);
    ck_assert_int_eq(X509_check_issued(r->x509, i->x509), X509_V_OK);
    ca_catalogue_free(cat);
}
END_TEST

START_TEST(a_cross_signed_form_has_the_same_key_and_ski_and_verifies_the_same_leaf)
{
    static const struct {
        const char *a, *b, *leaf;
    } pairs[] = {
        {"azure-rsa-tls-ca-03-g2", "azure-rsa-tls-ca-03-ms2017", "leaf-azure-old-03"},
        {"azure-rsa-tls-ca-08-g2", "azure-rsa-tls-ca-08-ms2017", "leaf-azure-old-08"},
        {"ms-tls-rsa-root-g2", "ms-tls-rsa-root-g2-xsign", "ms-tls-g2-rsa-ca-ocsp-02"},
        {"ms-tls-rsa-root-g2", "ms-tls-rsa-root-g2-xsign-expired", "ms-tls-g2-rsa-ca-ocsp-16"},
    };
    for (size_t k = 0; k < sizeof(pairs) / sizeof(*pairs); k++) {
        X509 *a = ca_test_fixture_cert(pairs[k].a), *b = ca_test_fixture_cert(pairs[k].b);
        X509 *leaf = ca_test_fixture_cert(pairs[k].leaf);
        ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)), 1);
        ck_assert_int_eq(
            ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(a), X509_get0_subject_key_id(b)), 0);
        ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(a), X509_get_subject_name(b)), 0);
        ck_assert_int_ne(X509_NAME_cmp(X509_get_issuer_name(a), X509_get_issuer_name(b)), 0);
        ck_assert_int_eq(X509_check_issued(a, leaf), X509_V_OK);
        ck_assert_int_eq(X509_check_issued(b, leaf), X509_V_OK);
        ck_assert_int_eq(X509_verify(leaf, X509_get0_pubkey(b)), 1);
        X509_free(a);
        X509_free(b);
        X509_free(leaf);
    }
}
END_TEST

/* ---------------------------------------------------------------- writers */

START_TEST(a_p12_truststore_holds_every_cert_as_a_java_trusted_entry)
{
    pgtls_err err;
    char *path = str_printf("%s/stores/azure-bundle.p12", ca_test_fixtures());
    char *text = NULL;
    size_t len = 0;
    const unsigned char *p;
    PKCS12 *p12;
    STACK_OF(PKCS7) * safes;
    ASN1_OBJECT *java = OBJ_txt2obj("2.16.840.1.113894.746875.1.1", 1);
    ASN1_OBJECT *any = OBJ_txt2obj("2.5.29.37.0", 1);
    int certs = 0;

    err_clear(&err);
    ck_assert_int_eq(fs_read_file(path, 0, &text, &len, &err), 0);
    p = (const unsigned char *)text;
    p12 = d2i_PKCS12(NULL, &p, (long)len);
    ck_assert_ptr_nonnull(p12);
    ck_assert_int_eq(PKCS12_verify_mac(p12, CA_P12_PASSWORD, -1), 1);
    ck_assert_int_eq(PKCS12_verify_mac(p12, "wrong", -1), 0);
    safes = PKCS12_unpack_authsafes(p12);
    ck_assert_ptr_nonnull(safes);
    for (int i = 0; i < sk_PKCS7_num(safes); i++) {
        STACK_OF(PKCS12_SAFEBAG) *bags = PKCS12_unpack_p7data(sk_PKCS7_value(safes, i));
        ck_assert_ptr_nonnull(bags);
        for (int j = 0; j < sk_PKCS12_SAFEBAG_num(bags); j++) {
            PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, j);
            const ASN1_TYPE *attr = PKCS12_SAFEBAG_get0_attr(bag, OBJ_obj2nid(java));
            char *alias = PKCS12_get_friendlyname(bag);
            ck_assert_int_eq(PKCS12_SAFEBAG_get_nid(bag), NID_certBag);
            if (OBJ_obj2nid(java) == NID_undef) {
                /* OpenSSL 3.0 has no NID for Oracle's OID: look it up by hand */
                const STACK_OF(X509_ATTRIBUTE) *attrs = PKCS12_SAFEBAG_get0_attrs(bag);
                int idx = X509at_get_attr_by_OBJ(attrs, java, -1);
                ck_assert_int_ge(idx, 0);
                attr = X509_ATTRIBUTE_get0_type(X509at_get_attr(attrs, idx), 0);
            }
            ck_assert_ptr_nonnull(attr);
            ck_assert_int_eq(attr->type, V_ASN1_OBJECT);
            ck_assert_int_eq(OBJ_cmp(attr->value.object, any), 0);
            ck_assert_ptr_nonnull(alias);
            OPENSSL_free(alias);
            certs++;
        }
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    }
    ck_assert_int_eq(certs, 4);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    PKCS12_free(p12);
    ASN1_OBJECT_free(java);
    ASN1_OBJECT_free(any);
    free(text);
    free(path);
}
END_TEST

START_TEST(keytool_lists_the_p12_truststore_when_java_is_installed)
{
    char *p12 = str_printf("%s/stores/system.p12", ca_test_fixtures());
    char *dir = ts_tmpdir_new("ca-keytool");
    char *out = fs_join(dir, "out.txt"), *text = NULL;
    char *argv[] = {"keytool", "-list",      "-keystore", p12, "-storetype",
                    "PKCS12",  "-storepass", "changeit",  NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status = -1, count = 0;
    pgtls_err err;

    if (!fs_exists("/usr/bin/keytool")) {
        fprintf(stderr, "keytool not installed: skipping the Java check\n");
        goto done;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    ck_assert_int_eq(posix_spawn(&pid, "/usr/bin/keytool", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "keytool failed");
    err_clear(&err);
    ck_assert_int_eq(fs_read_file(out, 0, &text, NULL, &err), 0);
    for (const char *p = strstr(text, "trustedCertEntry"); p; p = strstr(p + 1, "trustedCertEntry"))
        count++;
    ck_assert_msg(count == 5, "keytool saw %d trusted entries:\n%s", count, text);
done:
    free(text);
    free(out);
    free(p12);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(the_index_round_trips_through_the_fixtures_reader)
{
    pgtls_err err;
    fx_index *idx;
    json_t *certs, *v;
    const char *key;
    const fx_scenario *sc;
    const fx_store *st;
    struct stat sb;

    err_clear(&err);
    idx = fx_index_load(ca_test_fixtures(), &err);
    ck_assert_msg(idx != NULL, "%s", err.msg);
    ck_assert_str_eq(json_string_value(json_object_get(fx_index_json(idx), "schema")), FX_SCHEMA);
    /* every scenario's chain and key exist; keys are 0600 */
    for (size_t i = 0; i < fx_num_scenarios(idx); i++) {
        sc = fx_scenario_at(idx, i);
        if (!sc->chain)
            continue;
        ck_assert_msg(fs_exists(sc->chain_pem), "%s", sc->chain_pem);
        ck_assert_int_eq(stat(sc->key_pem, &sb), 0);
        ck_assert_int_eq(sb.st_mode & 0777, 0600);
    }
    sc = fx_scenario_find(idx, "no-ssl");
    ck_assert_ptr_nonnull(sc);
    ck_assert_ptr_null(sc->chain);
    ck_assert_int_eq(sc->server.ssl, 0);
    ck_assert_int_eq(sc->server.require_secure_transport, 0);
    sc = fx_scenario_find(idx, "tls10-only");
    ck_assert_str_eq(sc->server.ssl_min_protocol_version, "TLSv1");
    ck_assert_str_eq(sc->server.ssl_max_protocol_version, "TLSv1");
    ck_assert_ptr_nonnull(strstr(sc->server.ssl_ciphers, "@SECLEVEL=0"));
    ck_assert_str_eq(fx_scenario_find(idx, "auth-md5")->server.auth, "md5");
    ck_assert_str_eq(fx_scenario_find(idx, "azure-new")->server.auth, "scram-sha-256");
    ck_assert_str_eq(fx_scenario_find(idx, "ip-san")->host, "127.0.0.1");
    ck_assert_str_eq(fx_scenario_find(idx, "azure-new")->host,
                     "mydemoserver.postgres.database.azure.com");
    ck_assert_str_eq(fx_scenario_verify(fx_scenario_find(idx, "azure-new"), "missing"), "no-file");
    /* stores: missing does not exist, empty is zero bytes, system has a hashed dir */
    st = fx_store_find(idx, "missing");
    ck_assert(!fs_exists(st->pem));
    st = fx_store_find(idx, "empty");
    ck_assert_int_eq(stat(st->pem, &sb), 0);
    ck_assert_int_eq(sb.st_size, 0);
    st = fx_store_find(idx, "system");
    ck_assert_ptr_nonnull(st->system_dir);
    {
        X509 *g2 = ca_test_fixture_cert("digicert-global-root-g2");
        char *hashed = str_printf("%s/%08lx.0", st->system_dir, X509_subject_name_hash(g2));
        ck_assert_msg(fs_exists(hashed), "%s", hashed);
        free(hashed);
        X509_free(g2);
    }
    ck_assert(fs_exists(fx_store_find(idx, "root-g2")->p12));
    /* every certificate's sha256 is the digest of its DER file */
    certs = json_object_get(fx_index_json(idx), "certs");
    ck_assert_int_gt(json_object_size(certs), 40);
    json_object_foreach(certs, key, v)
    {
        char *der = fs_join(fx_index_dir(idx), json_string_value(json_object_get(v, "der")));
        char *data = NULL, hexmd[65];
        size_t len = 0;
        unsigned char md[32];
        ck_assert_int_eq(fs_read_file(der, 0, &data, &len, &err), 0);
        EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
        for (int b = 0; b < 32; b++)
            snprintf(hexmd + 2 * b, 3, "%02x", md[b]);
        ck_assert_str_eq(hexmd, json_string_value(json_object_get(v, "sha256")));
        ck_assert_ptr_nonnull(json_string_value(json_object_get(v, "role")));
        free(data);
        free(der);
    }
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(certs, "ms-tls-rsa-root-g2-xsign"), "role")),
                     "cross");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(certs, "leaf-rsa-pss"), "key_type")),
        "RSA-PSS-2048");
    fx_index_free(idx);
}
END_TEST

START_TEST(a_served_chain_starts_with_the_leaf_and_matches_its_key)
{
    pgtls_err err;
    fx_index *idx;
    err_clear(&err);
    idx = fx_index_load(ca_test_fixtures(), &err);
    ck_assert_msg(idx != NULL, "%s", err.msg);
    for (size_t i = 0; i < fx_num_scenarios(idx); i++) {
        const fx_scenario *sc = fx_scenario_at(idx, i);
        BIO *bio;
        X509 *leaf;
        EVP_PKEY *key;
        if (!sc->chain)
            continue;
        bio = BIO_new_file(sc->chain_pem, "r");
        leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        BIO_free(bio);
        bio = BIO_new_file(sc->key_pem, "r");
        key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        BIO_free(bio);
        ck_assert_ptr_nonnull(leaf);
        ck_assert_ptr_nonnull(key);
        ck_assert_msg(X509_check_private_key(leaf, key) == 1, "%s: key does not match", sc->name);
        ck_assert_msg(!X509_check_ca(leaf) || X509_self_signed(leaf, 0), "%s: first cert is a CA",
                      sc->name);
        X509_free(leaf);
        EVP_PKEY_free(key);
    }
    fx_index_free(idx);
}
END_TEST

Suite *builders_suite(void)
{
    Suite *s = suite_create("builders");
    TCase *tc = tcase_create("dn");
    ca_test_fixtures();
    tcase_add_loop_test(tc, a_dn_keeps_its_order_and_the_declared_string_types, 0,
                        (int)(sizeof(good_dns) / sizeof(*good_dns)));
    tcase_add_loop_test(tc, a_malformed_dn_is_refused, 0,
                        (int)(sizeof(bad_dns) / sizeof(*bad_dns)));
    suite_add_tcase(s, tc);
    tc = tcase_create("keys");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_key_is_generated_once_cached_0600_and_reused);
    tcase_add_test(tc, a_cached_key_of_another_type_is_replaced);
    tcase_add_test(tc, concurrent_cold_gens_share_one_generated_key);
    tcase_add_loop_test(tc, every_key_type_generates_and_describes_itself, 0,
                        (int)(sizeof(key_types) / sizeof(*key_types)));
    tcase_add_test(tc, a_corrupt_cached_key_fails_gen_naming_the_file_and_leaves_no_output);
    suite_add_tcase(s, tc);
    tc = tcase_create("gen");
    tcase_add_test(tc, an_unwritable_output_dir_fails_cleanly);
    tcase_add_test(tc, regenerating_replaces_the_folder_and_keeps_names_and_keys);
    tcase_add_test(tc, gen_refuses_to_replace_a_folder_that_is_not_a_fixtures_folder);
    suite_add_tcase(s, tc);
    tc = tcase_create("certificates");
    tcase_add_test(tc, extensions_keep_catalogue_order_criticality_and_raw_values);
    tcase_add_test(tc, a_cross_signed_form_has_the_same_key_and_ski_and_verifies_the_same_leaf);
    suite_add_tcase(s, tc);
    tc = tcase_create("writers");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_p12_truststore_holds_every_cert_as_a_java_trusted_entry);
    tcase_add_test(tc, keytool_lists_the_p12_truststore_when_java_is_installed);
    tcase_add_test(tc, the_index_round_trips_through_the_fixtures_reader);
    tcase_add_test(tc, a_served_chain_starts_with_the_leaf_and_matches_its_key);
    suite_add_tcase(s, tc);
    return s;
}
