/* pgtls certs-gen: a look-alike against its real certificate, field by field
 * at the DER level (compare.h). */
#include "compare.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "ca_internal.h"
#include "fs.h"

struct ca_compare {
    ca_compare_row *rows;
    size_t num_rows;
};

static char *hex_of(const unsigned char *p, size_t len)
{
    char *s = malloc(len * 2 + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < len; i++)
        snprintf(s + 2 * i, 3, "%02X", p[i]);
    s[len * 2] = '\0';
    return s;
}

/* Appends a row; takes ownership of ours and real (heap strings). */
static int add_row(ca_compare *cmp, const char *field, ca_compare_status status, char *ours,
                   char *real, pgtls_err *err)
{
    ca_compare_row *n = realloc(cmp->rows, (cmp->num_rows + 1) * sizeof(*n));
    int result = -1;
    ENSURE(n, err, PGTLS_ERR_NOMEM, "out of memory");
    cmp->rows = n;
    n = &cmp->rows[cmp->num_rows];
    memset(n, 0, sizeof(*n));
    n->field = strdup(field);
    n->status = status;
    n->ours = ours ? ours : strdup("-");
    n->real = real ? real : strdup("-");
    ours = real = NULL; /* owned by the row now */
    cmp->num_rows++;
    ENSURE(n->field && n->ours && n->real, err, PGTLS_ERR_NOMEM, "out of memory");
    result = 0;
out:
    free(ours);
    free(real);
    return result;
}

/* A row whose status is decided by byte equality of the two DER encodings. */
static int add_bytes_row(ca_compare *cmp, const char *field, const unsigned char *a, int alen,
                         const unsigned char *b, int blen, char *ours, char *real,
                         pgtls_err *err)
{
    int same = alen == blen && alen >= 0 && (alen == 0 || memcmp(a, b, (size_t)alen) == 0);
    if (!same && ours && real && strcmp(ours, real) == 0) {
        /* same text, different bytes: show the bytes */
        char *ho = hex_of(a, alen > 0 ? (size_t)alen : 0), *hr = hex_of(b, blen > 0 ? (size_t)blen : 0);
        char *o2 = ho ? str_printf("%s [DER %s]", ours, ho) : NULL;
        char *r2 = hr ? str_printf("%s [DER %s]", real, hr) : NULL;
        free(ho);
        free(hr);
        free(ours);
        free(real);
        ours = o2;
        real = r2;
        if (!ours || !real) {
            free(ours);
            free(real);
            return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        }
    }
    return add_row(cmp, field, same ? CA_COMPARE_SAME : CA_COMPARE_DIFFERS, ours, real, err);
}

/* Collapses a BIO's text to one line (newlines and runs of blanks become one
 * space). Heap string. */
static char *bio_one_line(BIO *b)
{
    char *data = NULL, *s, *w;
    long len = BIO_get_mem_data(b, &data);
    int blank = 0;
    s = malloc((size_t)(len > 0 ? len : 0) + 1);
    if (!s)
        return NULL;
    w = s;
    for (long i = 0; i < len; i++) {
        char ch = data[i];
        if (ch == '\n' || ch == '\r' || ch == ' ' || ch == '\t') {
            blank = 1;
            continue;
        }
        if (blank && w != s)
            *w++ = ' ';
        blank = 0;
        *w++ = ch;
    }
    *w = '\0';
    return s;
}

static const char *string_type(int type)
{
    switch (type) {
    case V_ASN1_PRINTABLESTRING:
        return "printable";
    case V_ASN1_UTF8STRING:
        return "utf8";
    case V_ASN1_IA5STRING:
        return "ia5";
    case V_ASN1_BMPSTRING:
        return "bmp";
    case V_ASN1_T61STRING:
        return "teletex";
    case V_ASN1_UNIVERSALSTRING:
        return "universal";
    default:
        return "other";
    }
}

/* "C=US, O:utf8=Foo, CN=Bar": the catalogue's DN syntax, with the string
 * type spelled out wherever it is not PrintableString. */
static char *dn_text(const X509_NAME *name)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = NULL;
    int prev_set = -1;
    if (!b)
        return NULL;
    for (int i = 0; i < X509_NAME_entry_count(name); i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
        int set = X509_NAME_ENTRY_set(e);
        unsigned char *utf8 = NULL;
        int ulen = ASN1_STRING_to_UTF8(&utf8, v);
        char oid[64];
        OBJ_obj2txt(oid, sizeof(oid), X509_NAME_ENTRY_get_object(e), 0);
        BIO_printf(b, "%s%s", i == 0 ? "" : (set == prev_set ? " + " : ", "),
                   nid != NID_undef ? OBJ_nid2sn(nid) : oid);
        if (ASN1_STRING_type(v) != V_ASN1_PRINTABLESTRING)
            BIO_printf(b, ":%s", string_type(ASN1_STRING_type(v)));
        BIO_printf(b, "=%.*s", ulen > 0 ? ulen : 0, ulen > 0 ? (const char *)utf8 : "");
        OPENSSL_free(utf8);
        prev_set = set;
    }
    s = bio_one_line(b);
    BIO_free(b);
    return s;
}

static char *time_text(const ASN1_TIME *t)
{
    const char *kind = ASN1_STRING_type(t) == V_ASN1_UTCTIME           ? "UTCTime"
                       : ASN1_STRING_type(t) == V_ASN1_GENERALIZEDTIME ? "GeneralizedTime"
                                                                       : "?";
    return str_printf("%s %.*s", kind, ASN1_STRING_length(t),
                      (const char *)ASN1_STRING_get0_data(t));
}

static char *key_text(EVP_PKEY *pkey)
{
    char buf[64];
    BIGNUM *e = NULL;
    char *s;
    if (!pkey)
        return strdup("unreadable key");
    ca_key_describe(pkey, buf, sizeof(buf));
    if (EVP_PKEY_get_bn_param(pkey, "e", &e) == 1 && e) {
        char *dec = BN_bn2dec(e);
        s = str_printf("%s e=%s", buf, dec ? dec : "?");
        OPENSSL_free(dec);
        BN_free(e);
        return s;
    }
    return strdup(buf);
}

static char *ext_name(const X509_EXTENSION *ext)
{
    const ASN1_OBJECT *o = X509_EXTENSION_get_object((X509_EXTENSION *)ext);
    int nid = OBJ_obj2nid(o);
    char oid[80];
    if (nid != NID_undef)
        return strdup(OBJ_nid2sn(nid));
    OBJ_obj2txt(oid, sizeof(oid), o, 1);
    return strdup(oid);
}

static char *ext_text(X509_EXTENSION *ext)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *body, *s;
    if (!b)
        return NULL;
    if (X509V3_EXT_print(b, ext, X509V3_EXT_DUMP_UNKNOWN, 0) <= 0) {
        const ASN1_OCTET_STRING *d = X509_EXTENSION_get_data(ext);
        char *h = hex_of(ASN1_STRING_get0_data(d), (size_t)ASN1_STRING_length(d));
        BIO_printf(b, "DER %s", h ? h : "?");
        free(h);
    }
    ERR_clear_error();
    body = bio_one_line(b);
    BIO_free(b);
    if (!body)
        return NULL;
    s = str_printf("%s%s", X509_EXTENSION_get_critical(ext) ? "critical, " : "", body);
    free(body);
    return s;
}

/* "!basicConstraints, subjectKeyIdentifier, ..." ("!" = critical). */
static char *ext_list(const X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s;
    if (!b)
        return NULL;
    for (int i = 0; i < X509_get_ext_count(x); i++) {
        X509_EXTENSION *e = X509_get_ext(x, i);
        char *n = ext_name(e);
        BIO_printf(b, "%s%s%s", i ? ", " : "", X509_EXTENSION_get_critical(e) ? "!" : "",
                   n ? n : "?");
        free(n);
    }
    if (X509_get_ext_count(x) == 0)
        BIO_printf(b, "(none)");
    s = bio_one_line(b);
    BIO_free(b);
    return s;
}

/* The shape of an AKI (which of keyid / issuer / serial are present): the
 * keyid value itself is derived from the issuer's key. */
static char *aki_shape(X509_EXTENSION *ext)
{
    AUTHORITY_KEYID *a = X509V3_EXT_d2i(ext);
    char *s;
    if (!a)
        return strdup("undecodable");
    s = str_printf("%skeyid=%s issuer=%s serial=%s",
                   X509_EXTENSION_get_critical(ext) ? "critical, " : "",
                   a->keyid ? "yes" : "no", a->issuer ? "yes" : "no", a->serial ? "yes" : "no");
    AUTHORITY_KEYID_free(a);
    return s;
}

static int compare_extension(ca_compare *cmp, X509_EXTENSION *eo, X509_EXTENSION *er,
                             pgtls_err *err)
{
    X509_EXTENSION *any = er ? er : eo;
    int nid = OBJ_obj2nid(X509_EXTENSION_get_object(any));
    char *name = ext_name(any), *field = NULL;
    int result = -1;
    ENSURE(name, err, PGTLS_ERR_NOMEM, "out of memory");
    field = str_printf("ext:%s", name);
    ENSURE(field, err, PGTLS_ERR_NOMEM, "out of memory");
    if (eo && er && nid == NID_subject_key_identifier &&
        X509_EXTENSION_get_critical(eo) == X509_EXTENSION_get_critical(er)) {
        TRY(add_row(cmp, field, CA_COMPARE_KEY_DERIVED, ext_text(eo), ext_text(er), err));
    } else if (eo && er && nid == NID_authority_key_identifier) {
        char *so = aki_shape(eo), *sr = aki_shape(er);
        int same = so && sr && strcmp(so, sr) == 0;
        TRY(add_row(cmp, field, same ? CA_COMPARE_KEY_DERIVED : CA_COMPARE_DIFFERS, so, sr, err));
    } else if (eo && er) {
        const ASN1_OCTET_STRING *d_o = X509_EXTENSION_get_data(eo);
        const ASN1_OCTET_STRING *d_r = X509_EXTENSION_get_data(er);
        char *to = ext_text(eo), *tr = ext_text(er);
        if (X509_EXTENSION_get_critical(eo) != X509_EXTENSION_get_critical(er)) {
            TRY(add_row(cmp, field, CA_COMPARE_DIFFERS, to, tr, err));
        } else {
            TRY(add_bytes_row(cmp, field, ASN1_STRING_get0_data(d_o), ASN1_STRING_length(d_o),
                              ASN1_STRING_get0_data(d_r), ASN1_STRING_length(d_r), to, tr, err));
        }
    } else {
        TRY(add_row(cmp, field, CA_COMPARE_DIFFERS, eo ? ext_text(eo) : NULL,
                    er ? ext_text(er) : NULL, err));
    }
    result = 0;
out:
    free(name);
    free(field);
    return result;
}

static int i2d_name_any(const X509_NAME *n, unsigned char **out)
{
    return i2d_X509_NAME(n, out);
}

static int compare_der_name(ca_compare *cmp, const char *field, const X509_NAME *o,
                            const X509_NAME *r, pgtls_err *err)
{
    unsigned char *a = NULL, *b = NULL;
    int la = i2d_name_any(o, &a), lb = i2d_name_any(r, &b);
    int rc = add_bytes_row(cmp, field, a, la, b, lb, dn_text(o), dn_text(r), err);
    OPENSSL_free(a);
    OPENSSL_free(b);
    return rc;
}

static int compare_time(ca_compare *cmp, const char *field, const ASN1_TIME *o,
                        const ASN1_TIME *r, pgtls_err *err)
{
    unsigned char *a = NULL, *b = NULL;
    int la = i2d_ASN1_TIME(o, &a), lb = i2d_ASN1_TIME(r, &b);
    int rc = add_bytes_row(cmp, field, a, la, b, lb, time_text(o), time_text(r), err);
    OPENSSL_free(a);
    OPENSSL_free(b);
    return rc;
}

ca_compare *ca_compare_new(X509 *ours, X509 *real, pgtls_err *err)
{
    ca_compare *cmp = calloc(1, sizeof(*cmp)), *result = NULL;
    unsigned char *a = NULL, *b = NULL;
    BIGNUM *bo = NULL, *br = NULL;
    char *ho = NULL, *hr = NULL;
    int la, lb;
    char vo[32], vr[32];

    ENSURE(cmp, err, PGTLS_ERR_NOMEM, "out of memory");
    ENSURE(ours && real, err, PGTLS_ERR_INTERNAL, "ca_compare_new: NULL certificate");

    snprintf(vo, sizeof(vo), "v%ld", X509_get_version(ours) + 1);
    snprintf(vr, sizeof(vr), "v%ld", X509_get_version(real) + 1);
    TRY(add_row(cmp, "version", strcmp(vo, vr) == 0 ? CA_COMPARE_SAME : CA_COMPARE_DIFFERS,
                strdup(vo), strdup(vr), err));

    /* serial: the DER INTEGER (a leading 00 or a negative encoding differs) */
    la = i2d_ASN1_INTEGER(X509_get0_serialNumber(ours), &a);
    lb = i2d_ASN1_INTEGER(X509_get0_serialNumber(real), &b);
    bo = ASN1_INTEGER_to_BN(X509_get0_serialNumber(ours), NULL);
    br = ASN1_INTEGER_to_BN(X509_get0_serialNumber(real), NULL);
    ho = bo ? BN_bn2hex(bo) : NULL;
    hr = br ? BN_bn2hex(br) : NULL;
    TRY(add_bytes_row(cmp, "serial", a, la, b, lb, ho ? strdup(ho) : NULL, hr ? strdup(hr) : NULL,
                      err));
    OPENSSL_free(a);
    OPENSSL_free(b);
    a = b = NULL;

    /* TBS signature AlgorithmIdentifier (parameters NULL vs absent included) */
    la = i2d_X509_ALGOR(X509_get0_tbs_sigalg(ours), &a);
    lb = i2d_X509_ALGOR(X509_get0_tbs_sigalg(real), &b);
    TRY(add_bytes_row(cmp, "signature", a, la, b, lb,
                      strdup(OBJ_nid2ln(X509_get_signature_nid(ours))),
                      strdup(OBJ_nid2ln(X509_get_signature_nid(real))), err));
    OPENSSL_free(a);
    OPENSSL_free(b);
    a = b = NULL;

    TRY(compare_der_name(cmp, "issuer", X509_get_issuer_name(ours), X509_get_issuer_name(real),
                         err));
    TRY(compare_time(cmp, "notBefore", X509_get0_notBefore(ours), X509_get0_notBefore(real),
                     err));
    TRY(compare_time(cmp, "notAfter", X509_get0_notAfter(ours), X509_get0_notAfter(real), err));
    TRY(compare_der_name(cmp, "subject", X509_get_subject_name(ours),
                         X509_get_subject_name(real), err));
    {
        char *ko = key_text(X509_get0_pubkey(ours)), *kr = key_text(X509_get0_pubkey(real));
        int same = ko && kr && strcmp(ko, kr) == 0;
        TRY(add_row(cmp, "key", same ? CA_COMPARE_SAME : CA_COMPARE_DIFFERS, ko, kr, err));
    }
    TRY(add_row(cmp, "publicKey",
                EVP_PKEY_eq(X509_get0_pubkey(ours), X509_get0_pubkey(real)) == 1
                    ? CA_COMPARE_SAME
                    : CA_COMPARE_KEY_DERIVED,
                strdup("(our key)"), strdup("(the real key)"), err));
    {
        char *lo = ext_list(ours), *lr = ext_list(real);
        int same = lo && lr && strcmp(lo, lr) == 0;
        TRY(add_row(cmp, "extensions", same ? CA_COMPARE_SAME : CA_COMPARE_DIFFERS, lo, lr, err));
    }
    /* every extension of the real certificate, in its order, then ours that
     * it lacks */
    for (int i = 0; i < X509_get_ext_count(real); i++) {
        X509_EXTENSION *er = X509_get_ext(real, i);
        int j = X509_get_ext_by_OBJ(ours, X509_EXTENSION_get_object(er), -1);
        TRY(compare_extension(cmp, j >= 0 ? X509_get_ext(ours, j) : NULL, er, err));
    }
    for (int i = 0; i < X509_get_ext_count(ours); i++) {
        X509_EXTENSION *eo = X509_get_ext(ours, i);
        if (X509_get_ext_by_OBJ(real, X509_EXTENSION_get_object(eo), -1) < 0)
            TRY(compare_extension(cmp, eo, NULL, err));
    }
    TRY(add_row(cmp, "signatureValue", CA_COMPARE_KEY_DERIVED, strdup("(signed with our key)"),
                strdup("(signed with the real key)"), err));
    result = cmp;
    cmp = NULL;
out:
    OPENSSL_free(a);
    OPENSSL_free(b);
    OPENSSL_free(ho);
    OPENSSL_free(hr);
    BN_free(bo);
    BN_free(br);
    ca_compare_free(cmp);
    return result;
}

void ca_compare_free(ca_compare *cmp)
{
    if (!cmp)
        return;
    for (size_t i = 0; i < cmp->num_rows; i++) {
        free(cmp->rows[i].field);
        free(cmp->rows[i].ours);
        free(cmp->rows[i].real);
        free(cmp->rows[i].declared);
    }
    free(cmp->rows);
    free(cmp);
}

size_t ca_compare_num_rows(const ca_compare *cmp)
{
    return cmp ? cmp->num_rows : 0;
}

const ca_compare_row *ca_compare_row_at(const ca_compare *cmp, size_t i)
{
    return cmp && i < cmp->num_rows ? &cmp->rows[i] : NULL;
}

int ca_compare_declare(ca_compare *cmp, const char *field, const char *reason, pgtls_err *err)
{
    for (size_t i = 0; i < cmp->num_rows; i++) {
        ca_compare_row *r = &cmp->rows[i];
        if (strcmp(r->field, field) != 0)
            continue;
        if (r->status != CA_COMPARE_DIFFERS)
            return err_set(err, PGTLS_ERR_FAILED,
                           "declared difference '%s' does not occur: the field is %s (remove "
                           "the declaration)",
                           field, r->status == CA_COMPARE_SAME ? "identical" : "key-derived");
        free(r->declared);
        r->declared = strdup(reason && *reason ? reason : "(no reason given)");
        if (!r->declared)
            return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return 0;
    }
    return err_set(err, PGTLS_ERR_FAILED,
                   "declared difference '%s' names no compared field (fields: version, serial, "
                   "signature, issuer, notBefore, notAfter, subject, key, extensions, ext:NAME)",
                   field);
}

size_t ca_compare_num_undeclared(const ca_compare *cmp)
{
    size_t n = 0;
    for (size_t i = 0; cmp && i < cmp->num_rows; i++)
        if (cmp->rows[i].status == CA_COMPARE_DIFFERS && !cmp->rows[i].declared)
            n++;
    return n;
}

void ca_compare_print(const ca_compare *cmp, FILE *out)
{
    for (size_t i = 0; cmp && i < cmp->num_rows; i++) {
        const ca_compare_row *r = &cmp->rows[i];
        const char *st = r->status == CA_COMPARE_SAME          ? "same"
                         : r->status == CA_COMPARE_KEY_DERIVED ? "key-derived"
                         : r->declared                         ? "declared"
                                                               : "DIFFERS";
        if (r->status == CA_COMPARE_SAME) {
            fprintf(out, "  %-11s %-32s %s\n", st, r->field, r->real);
            continue;
        }
        fprintf(out, "  %-11s %s%s%s\n", st, r->field, r->declared ? ": " : "",
                r->declared ? r->declared : "");
        if (r->status == CA_COMPARE_DIFFERS)
            fprintf(out, "      ours: %s\n      real: %s\n", r->ours, r->real);
    }
}

X509 *ca_compare_load_cert(const char *path, pgtls_err *err)
{
    BIO *b = NULL;
    X509 *x = NULL, *result = NULL;
    unsigned char *data = NULL;
    const unsigned char *p;
    size_t len = 0;

    if (!fs_exists(path)) {
        err_set(err, PGTLS_ERR_INPUT, "%s: no such file (give the path of a PEM or DER certificate)",
                path);
        goto out;
    }
    if (fs_read_file(path, 1 << 20, (char **)&data, &len, err) < 0) {
        err_prefix(err, "cannot read %s", path);
        goto out;
    }
    b = BIO_new_mem_buf(data, (int)len);
    ENSURE(b, err, PGTLS_ERR_NOMEM, "out of memory");
    x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    if (!x) {
        p = data;
        x = d2i_X509(NULL, &p, (long)len);
    }
    ERR_clear_error();
    ENSURE(x, err, PGTLS_ERR_INPUT,
           "%s is not a certificate (expected PEM '-----BEGIN CERTIFICATE-----' or DER X.509)",
           path);
    result = x;
    x = NULL;
out:
    BIO_free(b);
    X509_free(x);
    free(data);
    return result;
}
