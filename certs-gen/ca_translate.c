/* pgtls certs-gen: the store translator and store file I/O (ca_translate.h). */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ca.h"
#include "ca_internal.h"
#include "ca_translate.h"
#include "fixtures.h"
#include "fs.h"


typedef struct twin {
    char *name;
    X509 *x509;
    unsigned char sha256[32];
} twin;

struct ca_twins {
    twin *twins;
    size_t num_twins;
};

static void sha256_der(X509 *x, unsigned char out[32])
{
    const EVP_MD *md = EVP_sha256();
    unsigned int n = 32;
    memset(out, 0, 32);
    X509_digest(x, md, out, &n);
}

static void hex32(const unsigned char d[32], char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[64] = '\0';
}

void ca_cert_sha256_hex(X509 *cert, char out[65])
{
    unsigned char d[32];
    sha256_der(cert, d);
    hex32(d, out);
}

static X509 *read_one_pem(const char *path, pgtls_err *err)
{
    BIO *in = BIO_new_file(path, "r");
    X509 *x = in ? PEM_read_bio_X509(in, NULL, NULL, NULL) : NULL;
    BIO_free(in);
    if (!x)
        err_ossl(err, "cannot read certificate %s (regenerate: pgtls ca gen)", path);
    return x;
}

ca_twins *ca_twins_load(const char *fixtures_dir, pgtls_err *err)
{
    fx_index *idx = fx_index_load(fixtures_dir, err);
    ca_twins *tw = NULL, *result = NULL;
    json_t *certs;
    const char *name;
    json_t *c;

    if (!idx)
        return NULL;
    tw = calloc(1, sizeof(*tw));
    certs = json_object_get(fx_index_json(idx), "certs");
    ENSURE(tw, err, PGTLS_ERR_NOMEM, "out of memory");
    ENSURE(json_is_object(certs), err, PGTLS_ERR_INPUT,
           "%s/index.json has no certs object (regenerate: pgtls ca gen)", fixtures_dir);
    tw->twins = calloc(json_object_size(certs) + 1, sizeof(twin));
    ENSURE(tw->twins, err, PGTLS_ERR_NOMEM, "out of memory");
    /* jansson keeps insertion order, which is the catalogue's. */
    json_object_foreach(certs, name, c) {
        const char *lookalike = json_string_value(json_object_get(c, "lookalike_of"));
        char *pem;
        twin *t;
        if (!lookalike || !*lookalike)
            continue;
        pem = fx_cert_pem(idx, name);
        ENSURE(pem, err, PGTLS_ERR_INPUT, "index.json: certificate %s has no pem", name);
        t = &tw->twins[tw->num_twins];
        t->x509 = read_one_pem(pem, err);
        free(pem);
        if (!t->x509)
            goto out;
        t->name = strdup(name);
        ENSURE(t->name, err, PGTLS_ERR_NOMEM, "out of memory");
        sha256_der(t->x509, t->sha256);
        tw->num_twins++;
    }
    result = tw;
    tw = NULL;
out:
    ca_twins_free(tw);
    fx_index_free(idx);
    return result;
}

void ca_twins_free(ca_twins *tw)
{
    if (!tw)
        return;
    for (size_t i = 0; i < tw->num_twins; i++) {
        free(tw->twins[i].name);
        X509_free(tw->twins[i].x509);
    }
    free(tw->twins);
    free(tw);
}

size_t ca_twins_count(const ca_twins *tw)
{
    return tw ? tw->num_twins : 0;
}

const char *ca_twins_name_of(const ca_twins *tw, X509 *cert)
{
    unsigned char d[32];
    sha256_der(cert, d);
    for (size_t i = 0; tw && i < tw->num_twins; i++)
        if (memcmp(tw->twins[i].sha256, d, 32) == 0)
            return tw->twins[i].name;
    return NULL;
}

const char *ca_twin_of(const ca_twins *tw, X509 *cert, X509 **out_twin)
{
    const twin *best = NULL;
    unsigned char d[32];

    if (out_twin)
        *out_twin = NULL;
    if (!tw || !cert)
        return NULL;
    sha256_der(cert, d);
    for (size_t i = 0; i < tw->num_twins; i++) {
        const twin *t = &tw->twins[i];
        if (memcmp(t->sha256, d, 32) == 0)
            return NULL; /* the certificate is a look-alike itself */
        if (ASN1_INTEGER_cmp(X509_get0_serialNumber(t->x509), X509_get0_serialNumber(cert)) != 0 ||
            X509_NAME_cmp(X509_get_subject_name(t->x509), X509_get_subject_name(cert)) != 0 ||
            X509_NAME_cmp(X509_get_issuer_name(t->x509), X509_get_issuer_name(cert)) != 0)
            continue;
        if (!best)
            best = t;
        else if (ASN1_TIME_compare(X509_get0_notAfter(t->x509), X509_get0_notAfter(cert)) == 0 &&
                 ASN1_TIME_compare(X509_get0_notAfter(best->x509), X509_get0_notAfter(cert)) != 0)
            best = t;
    }
    if (!best)
        return NULL;
    if (out_twin)
        *out_twin = best->x509;
    return best->name;
}

/* 1 when certs already holds a certificate with this DER. */
static int stack_has(STACK_OF(X509) *certs, X509 *x)
{
    for (int i = 0; i < sk_X509_num(certs); i++)
        if (X509_cmp(sk_X509_value(certs, i), x) == 0)
            return 1;
    return 0;
}

static int push_ref(STACK_OF(X509) *certs, X509 *x, pgtls_err *err)
{
    if (stack_has(certs, x))
        return 0;
    if (!X509_up_ref(x) || !sk_X509_push(certs, x)) {
        X509_free(x);
        return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    }
    return 0;
}

int ca_translate(const ca_twins *tw, STACK_OF(X509) *store, ca_translate_mode mode,
                 ca_translation *out, pgtls_err *err)
{
    int result = -1;
    size_t n = (size_t)sk_X509_num(store);

    memset(out, 0, sizeof(*out));
    out->certs = sk_X509_new_null();
    out->entries = calloc(n + 1, sizeof(*out->entries));
    ENSURE(out->certs && out->entries, err, PGTLS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        X509 *cert = sk_X509_value(store, (int)i), *twin_x509 = NULL;
        ca_translate_entry *e = &out->entries[out->num_entries++];
        e->subject = ca_dn_string(X509_get_subject_name(cert));
        ENSURE(e->subject, err, PGTLS_ERR_NOMEM, "out of memory");
        ca_cert_sha256_hex(cert, e->sha256);
        e->lookalike = ca_twins_name_of(tw, cert);
        e->twin = ca_twin_of(tw, cert, &twin_x509);
        if (e->twin) {
            ca_cert_sha256_hex(twin_x509, e->twin_sha256);
            out->num_twinned++;
            if (mode == CA_TRANSLATE_JOIN)
                TRY(push_ref(out->certs, cert, err));
            TRY(push_ref(out->certs, twin_x509, err));
        } else {
            TRY(push_ref(out->certs, cert, err));
        }
    }
    result = 0;
out:
    if (result < 0)
        ca_translation_cleanup(out);
    return result;
}

void ca_translation_cleanup(ca_translation *tr)
{
    if (!tr)
        return;
    sk_X509_pop_free(tr->certs, X509_free);
    for (size_t i = 0; i < tr->num_entries; i++)
        free(tr->entries[i].subject);
    free(tr->entries);
    memset(tr, 0, sizeof(*tr));
}

/* ---------------------------------------------------------------- reading */

static int push_owned(STACK_OF(X509) *certs, X509 *x, pgtls_err *err)
{
    if (!sk_X509_push(certs, x)) {
        X509_free(x);
        return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ca_store_read_dir(const char *dir, STACK_OF(X509) **out, pgtls_err *err)
{
    DIR *d = opendir(dir);
    STACK_OF(X509) *certs = sk_X509_new_null();
    char **names = NULL;
    size_t num_names = 0, cap = 0;
    struct dirent *de;
    int result = -1;

    *out = NULL;
    ENSURE(d, err, PGTLS_ERR_IO, "cannot open store folder %s: %s", dir, strerror(errno));
    ENSURE(certs, err, PGTLS_ERR_NOMEM, "out of memory");
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name, *dot = strrchr(n, '.');
        int hashed = strlen(n) >= 10 && dot == n + 8 && strspn(n, "0123456789abcdef") == 8;
        if (!hashed && !str_ends_with(n, ".pem") && !str_ends_with(n, ".crt"))
            continue;
        if (num_names == cap) {
            char **nn = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof(*names));
            ENSURE(nn, err, PGTLS_ERR_NOMEM, "out of memory");
            names = nn;
        }
        names[num_names] = strdup(n);
        ENSURE(names[num_names], err, PGTLS_ERR_NOMEM, "out of memory");
        num_names++;
    }
    if (num_names)
        qsort(names, num_names, sizeof(*names), cmp_str);
    for (size_t i = 0; i < num_names; i++) {
        char *path = fs_join(dir, names[i]);
        STACK_OF(X509) *one = NULL;
        struct stat sb;
        int rc;
        ENSURE(path, err, PGTLS_ERR_NOMEM, "out of memory");
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            free(path); /* a dangling link: OpenSSL skips it too */
            continue;
        }
        {
            char format[64];
            one = ca_store_read(path, NULL, format, sizeof(format), err);
            rc = one ? 0 : -1;
        }
        free(path);
        TRY(rc);
        while (sk_X509_num(one) > 0) {
            X509 *x = sk_X509_shift(one);
            if (stack_has(certs, x))
                X509_free(x);
            else if (push_owned(certs, x, err) < 0) {
                sk_X509_pop_free(one, X509_free);
                goto out;
            }
        }
        sk_X509_free(one);
    }
    *out = certs;
    certs = NULL;
    result = 0;
out:
    if (d)
        closedir(d);
    for (size_t i = 0; i < num_names; i++)
        free(names[i]);
    free(names);
    sk_X509_pop_free(certs, X509_free);
    return result;
}

/* ---------------------------------------------------------------- writing */

static int write_bio_to(BIO *bio, const char *path, pgtls_err *err)
{
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    return fs_write_file(path, data, (size_t)len, 0644, err);
}

int ca_store_write_pem(STACK_OF(X509) *certs, const char *path, pgtls_err *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int result = -1;
    ENSURE(bio, err, PGTLS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < sk_X509_num(certs); i++)
        TRY_OSSL(PEM_write_bio_X509(bio, sk_X509_value(certs, i)), err, "encoding %s", path);
    TRY(write_bio_to(bio, path, err));
    result = 0;
out:
    BIO_free(bio);
    return result;
}

int ca_store_write_hashed_dir(STACK_OF(X509) *certs, const char *dir, pgtls_err *err)
{
    char *path = NULL;
    int result = -1;

    TRY(fs_mkdir_p(dir, 0755, err));
    for (int i = 0; i < sk_X509_num(certs); i++) {
        X509 *x = sk_X509_value(certs, i);
        unsigned long h = X509_subject_name_hash(x);
        STACK_OF(X509) *one;
        int rc;
        for (int n = 0; n < 1000; n++) {
            free(path);
            path = str_printf("%s/%08lx.%d", dir, h, n);
            ENSURE(path, err, PGTLS_ERR_NOMEM, "out of memory");
            if (!fs_exists(path))
                break;
        }
        one = sk_X509_new_null();
        ENSURE(one && sk_X509_push(one, x), err, PGTLS_ERR_NOMEM, "out of memory");
        rc = ca_store_write_pem(one, path, err);
        sk_X509_free(one); /* borrowed x */
        TRY(rc);
    }
    free(path);
    path = fs_join(dir, "ca-certificates.crt");
    ENSURE(path, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY(ca_store_write_pem(certs, path, err));
    result = 0;
out:
    free(path);
    return result;
}

int ca_store_write_p12(STACK_OF(X509) *certs, const char *password, const char *path,
                       pgtls_err *err)
{
    int n = sk_X509_num(certs), result = -1;
    char **aliases = calloc((size_t)n + 1, sizeof(char *));

    ENSURE(aliases, err, PGTLS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        char hex[65];
        ca_cert_sha256_hex(sk_X509_value(certs, i), hex);
        aliases[i] = str_printf("pgtls-%d-%.16s", i, hex);
        ENSURE(aliases[i], err, PGTLS_ERR_NOMEM, "out of memory");
    }
    (void)remove(path);
    TRY(ca_write_p12(certs, aliases, password ? password : CA_P12_PASSWORD, path, err));
    result = 0;
out:
    for (int i = 0; aliases && i < n; i++)
        free(aliases[i]);
    free(aliases);
    return result;
}

int ca_store_verify_chain(STACK_OF(X509) *chain, STACK_OF(X509) *trusted, char *out,
                          size_t out_len, pgtls_err *err)
{
    return ca_verify_chain(chain, trusted, 0, out, out_len, err);
}
