/* pgtls certs-gen: look-alikes against the REAL public certificates kept in
 * certs-gen/tests/real/ (manifest.tsv: file, SHA-256, SHA-1, real issuer,
 * look-alikes, source). Each real certificate must match its recorded
 * fingerprints and verify against its real issuer; each look-alike must be
 * identical to it at the DER level but for key-derived fields and exactly the
 * differences the catalogue declares (`differs = FIELD: reason`). */
#include <check.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "ca_test_util.h"
#include "compare.h"
#include "fs.h"
#include "pgtls-config.h"
#include "support.h"

#define REAL_DIR PGTLS_SOURCE_ROOT "/certs-gen/tests/real/"
#define MOZILLA "/usr/share/ca-certificates/mozilla/"
#define MAX_ROWS 64

/* The number of (look-alike, real certificate) pairs compared: a row added to
 * the manifest or a look-alike named there must update it, so that the count
 * the documentation gives stays true. */
#define EXPECTED_PAIRS 16

typedef struct manifest_row {
    char *file, *sha256, *sha1, *issuer, *lookalikes, *source;
} manifest_row;

static manifest_row rows[MAX_ROWS];
static int num_rows;

static void load_manifest(void)
{
    char *text = NULL, *line, *save = NULL;
    pgtls_err err;
    if (num_rows)
        return;
    err_clear(&err);
    if (fs_read_file(REAL_DIR "manifest.tsv", 0, &text, NULL, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[6], *s2 = NULL;
        int n = 0;
        if (line[0] == '#' || !line[0])
            continue;
        for (char *t = strtok_r(line, "\t", &s2); t && n < 6; t = strtok_r(NULL, "\t", &s2))
            f[n++] = strdup(t);
        if (n != 6 || num_rows == MAX_ROWS) {
            fprintf(stderr, "manifest.tsv: a row needs 6 tab-separated fields\n");
            abort();
        }
        rows[num_rows++] = (manifest_row){f[0], f[1], f[2], f[3], f[4], f[5]};
    }
    free(text);
}

static X509 *load_real(const char *file)
{
    char *path = str_printf(REAL_DIR "%s", file);
    X509 *x = ca_test_load_cert(path);
    free(path);
    return x;
}

static void fingerprint(X509 *x, const EVP_MD *md, char *out)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ck_assert_int_eq(X509_digest(x, md, d, &len), 1);
    for (unsigned int i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02X", d[i]);
}

START_TEST(a_real_certificate_matches_its_fingerprints_and_verifies_against_its_real_issuer)
{
    const manifest_row *r = &rows[_i];
    X509 *x = load_real(r->file), *issuer = NULL;
    char fp[2 * EVP_MAX_MD_SIZE + 1];

    fingerprint(x, EVP_sha256(), fp);
    ck_assert_msg(strcmp(fp, r->sha256) == 0, "%s: SHA-256 %s, manifest says %s", r->file, fp,
                  r->sha256);
    fingerprint(x, EVP_sha1(), fp);
    ck_assert_msg(strcmp(fp, r->sha1) == 0, "%s: SHA-1 %s, manifest says %s", r->file, fp,
                  r->sha1);
    if (strcmp(r->issuer, "self") == 0) {
        issuer = X509_dup(x);
    } else if (strncmp(r->issuer, "debian:", 7) == 0) {
        char *path = str_printf(MOZILLA "%s", r->issuer + 7);
        if (!fs_exists(path)) {
            /* Debian's ca-certificates may drop a root: nothing to verify
             * with, and we say so. */
            fprintf(stderr, "%s missing: %s not verified\n", path, r->file);
            free(path);
            X509_free(x);
            return;
        }
        issuer = ca_test_load_cert(path);
        free(path);
    } else {
        issuer = load_real(r->issuer);
    }
    ck_assert_msg(X509_check_issued(issuer, x) == X509_V_OK, "%s: %s is not its issuer", r->file,
                  r->issuer);
    ck_assert_msg(X509_verify(x, X509_get0_pubkey(issuer)) == 1,
                  "%s: signature does not verify with %s's key", r->file, r->issuer);
    X509_free(issuer);
    X509_free(x);
}
END_TEST

/* Every (row, look-alike) pair of the manifest, in order. */
typedef struct pair {
    int row;
    char name[96];
} pair;

static pair pairs[MAX_ROWS * 2];
static int num_pairs;

static void list_pairs(void)
{
    load_manifest();
    if (num_pairs)
        return;
    for (int i = 0; i < num_rows; i++) {
        char *copy = strdup(rows[i].lookalikes), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (strcmp(t, "-") == 0 || num_pairs == MAX_ROWS * 2)
                continue;
            pairs[num_pairs].row = i;
            snprintf(pairs[num_pairs].name, sizeof(pairs[num_pairs].name), "%s", t);
            num_pairs++;
        }
        free(copy);
    }
}

START_TEST(a_lookalike_is_identical_to_the_real_certificate_but_for_declared_differences)
{
    const pair *p = &pairs[_i];
    const manifest_row *r = &rows[p->row];
    X509 *ours = ca_test_fixture_cert(p->name), *real = load_real(r->file);
    pgtls_err err;
    ca_catalogue *cat;
    ca_cert *c;
    ca_compare *cmp;
    size_t undeclared;

    err_clear(&err);
    cat = ca_catalogue_load(ca_default_catalogue(), &err);
    ck_assert_msg(cat != NULL, "%s", err.msg);
    c = ca_catalogue_cert(cat, p->name);
    ck_assert_msg(c != NULL, "manifest names look-alike '%s', not in the catalogue", p->name);
    cmp = ca_compare_new(ours, real, &err);
    ck_assert_msg(cmp != NULL, "%s", err.msg);
    for (size_t i = 0; i < c->num_differs; i++) {
        err_clear(&err);
        ck_assert_msg(ca_compare_declare(cmp, c->differs[i].key, c->differs[i].value, &err) == 0,
                      "%s vs %s: %s", p->name, r->file, err.msg);
    }
    undeclared = ca_compare_num_undeclared(cmp);
    if (undeclared) {
        fprintf(stderr, "%s vs %s:\n", p->name, r->file);
        ca_compare_print(cmp, stderr);
    }
    ck_assert_msg(undeclared == 0, "%s differs from %s in %zu undeclared field(s) (see above)",
                  p->name, r->file, undeclared);
    /* the key is ours, never the real one */
    for (size_t i = 0; i < ca_compare_num_rows(cmp); i++) {
        const ca_compare_row *row = ca_compare_row_at(cmp, i);
        if (strcmp(row->field, "publicKey") == 0)
            ck_assert_int_eq(row->status, CA_COMPARE_KEY_DERIVED);
    }
    ca_compare_free(cmp);
    ca_catalogue_free(cat);
    X509_free(ours);
    X509_free(real);
}
END_TEST

START_TEST(the_manifest_compares_the_documented_number_of_lookalikes)
{
    ck_assert_int_eq(num_pairs, EXPECTED_PAIRS);
}
END_TEST

/* The comparison itself: what it must notice. */
START_TEST(the_comparison_notices_another_issuer_serial_validity_and_extension_list)
{
    X509 *xsign = load_real("microsoft_azure_rsa_tls_issuing_ca_03_xsign.pem");
    X509 *ms = load_real("microsoft_azure_rsa_tls_issuing_ca_03.pem");
    pgtls_err err;
    ca_compare *cmp;
    const char *expect[] = {"serial", "issuer", "notBefore", "notAfter", "extensions",
                            "ext:crlDistributionPoints", "ext:certificatePolicies"};
    err_clear(&err);
    cmp = ca_compare_new(xsign, ms, &err);
    ck_assert_ptr_nonnull(cmp);
    for (size_t k = 0; k < sizeof(expect) / sizeof(*expect); k++) {
        int found = 0;
        for (size_t i = 0; i < ca_compare_num_rows(cmp); i++) {
            const ca_compare_row *row = ca_compare_row_at(cmp, i);
            if (strcmp(row->field, expect[k]) == 0) {
                ck_assert_msg(row->status == CA_COMPARE_DIFFERS, "%s not noticed", expect[k]);
                found = 1;
            }
        }
        ck_assert_msg(found, "no row %s", expect[k]);
    }
    /* same key in both forms: SKI is key-derived, the public key equal */
    for (size_t i = 0; i < ca_compare_num_rows(cmp); i++) {
        const ca_compare_row *row = ca_compare_row_at(cmp, i);
        if (strcmp(row->field, "publicKey") == 0 || strcmp(row->field, "subject") == 0 ||
            strcmp(row->field, "key") == 0)
            ck_assert_int_eq(row->status, CA_COMPARE_SAME);
    }
    ck_assert_int_gt(ca_compare_num_undeclared(cmp), 0);
    ca_compare_free(cmp);
    X509_free(xsign);
    X509_free(ms);
}
END_TEST

START_TEST(a_declaration_must_name_a_field_that_really_differs)
{
    X509 *a = load_real("microsoft_tls_g2_rsa_ca_ocsp_02.pem");
    X509 *b = load_real("microsoft_tls_g2_rsa_ca_ocsp_04.pem");
    pgtls_err err;
    ca_compare *cmp;
    err_clear(&err);
    cmp = ca_compare_new(a, b, &err);
    ck_assert_ptr_nonnull(cmp);
    ck_assert_int_eq(ca_compare_declare(cmp, "ext:basicConstraints", "no", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "does not occur"));
    ck_assert_int_eq(ca_compare_declare(cmp, "nonsense", "no", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "names no compared field"));
    ck_assert_int_eq(ca_compare_declare(cmp, "subject", "another CA", &err), 0);
    ck_assert_int_eq(ca_compare_declare(cmp, "serial", "another CA", &err), 0);
    ck_assert_int_eq(ca_compare_declare(cmp, "notBefore", "another CA", &err), 0);
    ck_assert_int_eq(ca_compare_declare(cmp, "notAfter", "another CA", &err), 0);
    ck_assert_int_eq(ca_compare_num_undeclared(cmp), 0);
    ca_compare_free(cmp);
    X509_free(a);
    X509_free(b);
}
END_TEST

START_TEST(loading_a_missing_file_or_a_non_certificate_fails_with_a_message)
{
    pgtls_err err;
    char *dir = ts_tmpdir_new("ca-cmp");
    char *junk = fs_join(dir, "junk.pem");
    FILE *f = fopen(junk, "w");
    ck_assert_ptr_nonnull(f);
    fputs("this is not a certificate\n", f);
    fclose(f);
    err_clear(&err);
    ck_assert_ptr_null(ca_compare_load_cert("/nonexistent/real.pem", &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "no such file"));
    err_clear(&err);
    ck_assert_ptr_null(ca_compare_load_cert(junk, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "is not a certificate"));
    free(junk);
    ts_tmpdir_remove(dir);
}
END_TEST

Suite *realcerts_suite(void)
{
    Suite *s = suite_create("realcerts");
    TCase *tc = tcase_create("real certificates");
    load_manifest();
    list_pairs();
    ca_test_fixtures();
    tcase_add_loop_test(
        tc, a_real_certificate_matches_its_fingerprints_and_verifies_against_its_real_issuer, 0,
        num_rows);
    suite_add_tcase(s, tc);
    tc = tcase_create("look-alikes");
    tcase_add_loop_test(
        tc, a_lookalike_is_identical_to_the_real_certificate_but_for_declared_differences, 0,
        num_pairs);
    tcase_add_test(tc, the_manifest_compares_the_documented_number_of_lookalikes);
    suite_add_tcase(s, tc);
    tc = tcase_create("comparison");
    tcase_add_test(tc, the_comparison_notices_another_issuer_serial_validity_and_extension_list);
    tcase_add_test(tc, a_declaration_must_name_a_field_that_really_differs);
    tcase_add_test(tc, loading_a_missing_file_or_a_non_certificate_fails_with_a_message);
    suite_add_tcase(s, tc);
    return s;
}
