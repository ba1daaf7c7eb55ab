/* pgtls certs-gen: certificate builder.
 *
 * A certificate is built from its catalogue section: subject DN with the
 * stated string types, serial, validity (absolute or relative to the
 * generation time), the subject's cached key, then the extensions in catalogue
 * ORDER with their criticality (look-alikes copy the real order), signed by
 * the issuer's key with the stated algorithm. Key identifiers are derived from
 * our keys (RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT
 * STRING), so a cross-signed form of a CA (same key, another issuer) carries
 * the same SKI as its other forms. Every other extension goes through
 * OpenSSL's x509v3_config syntax (X509V3_EXT_nconf), including raw
 * "ASN1:" / "DER:" values for the Microsoft-specific ones. */
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "ca_internal.h"
#include "fs.h"

static const struct sig_alg {
    const char *name;
    const char *md;
    int pss;
    int key_base_id; /* EVP_PKEY_RSA or EVP_PKEY_EC */
} sig_algs[] = {
    {"sha1WithRSAEncryption", "SHA1", 0, EVP_PKEY_RSA},
    {"sha256WithRSAEncryption", "SHA256", 0, EVP_PKEY_RSA},
    {"sha384WithRSAEncryption", "SHA384", 0, EVP_PKEY_RSA},
    {"sha512WithRSAEncryption", "SHA512", 0, EVP_PKEY_RSA},
    {"rsassaPss-sha256", "SHA256", 1, EVP_PKEY_RSA},
    {"ecdsa-with-SHA256", "SHA256", 0, EVP_PKEY_EC},
    {"ecdsa-with-SHA384", "SHA384", 0, EVP_PKEY_EC},
};

int ca_signature_valid(const char *sig)
{
    for (size_t i = 0; i < sizeof(sig_algs) / sizeof(*sig_algs); i++)
        if (strcmp(sig_algs[i].name, sig) == 0)
            return 1;
    return 0;
}

static const char *default_signature(EVP_PKEY *issuer_key)
{
    int id = EVP_PKEY_get_base_id(issuer_key);
    if (id == EVP_PKEY_RSA_PSS)
        return "rsassaPss-sha256";
    if (id == EVP_PKEY_EC)
        return EVP_PKEY_get_bits(issuer_key) > 256 ? "ecdsa-with-SHA384" : "ecdsa-with-SHA256";
    return "sha256WithRSAEncryption";
}

/* RFC 5280 4.2.1.2 (1): SHA-1 of the subjectPublicKey BIT STRING value. */
static int key_id(EVP_PKEY *pkey, unsigned char out[20])
{
    X509_PUBKEY *pub = NULL;
    const unsigned char *bits;
    int bits_len;
    int ok = 0;
    if (X509_PUBKEY_set(&pub, pkey) == 1 &&
        X509_PUBKEY_get0_param(NULL, &bits, &bits_len, NULL, pub) == 1)
        ok = EVP_Digest(bits, (size_t)bits_len, out, NULL, EVP_sha1(), NULL) == 1;
    X509_PUBKEY_free(pub);
    return ok ? 0 : -1;
}

static int has_critical(const char **value)
{
    const char *v = *value;
    while (*v == ' ')
        v++;
    if (strncmp(v, "critical", 8) == 0) {
        v += 8;
        while (*v == ' ' || *v == ',')
            v++;
        *value = v;
        return 1;
    }
    return 0;
}

static X509_EXTENSION *key_id_ext(int nid, int crit, EVP_PKEY *pkey, pgtls_err *err)
{
    unsigned char id[20];
    ASN1_OCTET_STRING *oct = ASN1_OCTET_STRING_new();
    AUTHORITY_KEYID *akid = NULL;
    X509_EXTENSION *ext = NULL;

    if (!oct || key_id(pkey, id) < 0 || !ASN1_OCTET_STRING_set(oct, id, sizeof(id))) {
        err_ossl(err, "computing a key identifier");
        goto out;
    }
    if (nid == NID_subject_key_identifier) {
        ext = X509V3_EXT_i2d(nid, crit, oct);
    } else {
        akid = AUTHORITY_KEYID_new();
        if (!akid) {
            err_set(err, PGTLS_ERR_NOMEM, "out of memory");
            goto out;
        }
        akid->keyid = oct; /* ownership moves to akid */
        oct = NULL;
        ext = X509V3_EXT_i2d(nid, crit, akid);
    }
    if (!ext)
        err_ossl(err, "encoding a key identifier");
out:
    ASN1_OCTET_STRING_free(oct);
    AUTHORITY_KEYID_free(akid);
    return ext;
}

static int set_serial(ca_catalogue *cat, ca_cert *c, X509 *x, pgtls_err *err)
{
    BIGNUM *bn = NULL;
    ASN1_INTEGER *serial = NULL;
    int result = -1;

    if (c->serial) {
        TRY_OSSL(BN_hex2bn(&bn, c->serial), err, "%s:%d: serial '%s'", cat->path, c->serial_line,
                 c->serial);
    } else {
        /* Stable across regenerations: derived from the catalogue and cert
         * names; 16 bytes, positive, no leading zero byte (RFC 5280 4.1.2.2). */
        unsigned char md[32];
        char *label = str_printf("%s/%s", cat->name, c->name);
        ENSURE(label, err, PGTLS_ERR_NOMEM, "out of memory");
        EVP_Digest(label, strlen(label), md, NULL, EVP_sha256(), NULL);
        free(label);
        md[0] = (unsigned char)((md[0] & 0x3f) | 0x10);
        bn = BN_bin2bn(md, 16, NULL);
        ENSURE(bn, err, PGTLS_ERR_NOMEM, "out of memory");
    }
    serial = BN_to_ASN1_INTEGER(bn, NULL);
    TRY_OSSL(serial && X509_set_serialNumber(x, serial), err, "setting the serial of %s", c->name);
    result = 0;
out:
    BN_free(bn);
    ASN1_INTEGER_free(serial);
    return result;
}

static int set_validity(const ca_catalogue *cat, ca_cert *c, X509 *x, time_t now, pgtls_err *err)
{
    /* As of a date D, an absolute date moves by (now - D): its distance from
     * the real clock is then its distance from D, which every client sees
     * whatever its clock source. Relative dates stay relative to now (a
     * certificate issued "30 days ago" as of D). */
    time_t nb = c->nb.relative ? now + (time_t)c->nb.value
                               : (time_t)(c->nb.value + cat->as_of_shift);
    time_t na = c->na.relative ? now + (time_t)c->na.value
                               : (time_t)(c->na.value + cat->as_of_shift);
    if (na < nb)
        return err_set(err, PGTLS_ERR_CONFIG,
                       "certificate '%s': not_after falls before not_before once relative dates "
                       "are resolved (fix its dates)",
                       c->name);
    /* ASN1_TIME_set writes UTCTime up to 2049 and GeneralizedTime after, as
     * RFC 5280 4.1.2.5 requires. */
    ERR_clear_error();
    if (!ASN1_TIME_set(X509_getm_notBefore(x), nb) || !ASN1_TIME_set(X509_getm_notAfter(x), na))
        return err_ossl(err, "setting the validity of %s", c->name);
    return 0;
}

static int add_extensions(ca_catalogue *cat, ca_cert *c, X509 *x, X509 *issuer_x509, pgtls_err *err)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer_x509, x, NULL, NULL, 0);
    if (cat->ossl_conf)
        X509V3_set_nconf(&ctx, cat->ossl_conf);
    for (size_t i = 0; i < c->num_exts; i++) {
        ca_ext *e = &c->exts[i];
        X509_EXTENSION *ext = NULL;
        const char *value = e->value;
        if (strcmp(e->name, "subjectKeyIdentifier") == 0) {
            int crit = has_critical(&value);
            ext = key_id_ext(NID_subject_key_identifier, crit, c->key->pkey, err);
        } else if (strcmp(e->name, "authorityKeyIdentifier") == 0) {
            int crit = has_critical(&value);
            ext = key_id_ext(NID_authority_key_identifier, crit, c->issuer->key->pkey, err);
        } else {
            ERR_clear_error();
            ext = X509V3_EXT_nconf(cat->ossl_conf, &ctx, e->name, e->value);
            if (!ext) {
                err_ossl(err,
                         "%s:%d: extension '%s: %s' of '%s' is invalid (see OpenSSL's "
                         "x509v3_config(5) syntax)",
                         cat->path, e->line, e->name, e->value, c->name);
                return -1;
            }
        }
        if (!ext)
            return err_prefix(err, "%s:%d", cat->path, e->line);
        if (!X509_add_ext(x, ext, -1)) {
            X509_EXTENSION_free(ext);
            return err_ossl(err, "%s:%d: adding extension %s", cat->path, e->line, e->name);
        }
        X509_EXTENSION_free(ext);
    }
    return 0;
}

static int sign_cert(ca_catalogue *cat, ca_cert *c, X509 *x, pgtls_err *err)
{
    EVP_PKEY *ikey = c->issuer->key->pkey;
    const char *sig = c->signature ? c->signature : default_signature(ikey);
    const struct sig_alg *alg = NULL;
    EVP_MD_CTX *mctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    int id = EVP_PKEY_get_base_id(ikey);
    int line = c->signature_line ? c->signature_line : c->line;
    int result = -1;

    for (size_t i = 0; i < sizeof(sig_algs) / sizeof(*sig_algs); i++)
        if (strcmp(sig_algs[i].name, sig) == 0)
            alg = &sig_algs[i];
    ENSURE(alg, err, PGTLS_ERR_CONFIG, "%s:%d: unknown signature '%s'", cat->path, line, sig);
    ENSURE(!(id == EVP_PKEY_RSA_PSS && !alg->pss), err, PGTLS_ERR_CONFIG,
           "%s:%d: issuer '%s' has an RSA-PSS key, which can only sign rsassaPss-sha256 (fix "
           "signature of '%s')",
           cat->path, line, c->issuer->name, c->name);
    ENSURE(alg->key_base_id == (id == EVP_PKEY_RSA_PSS ? EVP_PKEY_RSA : id), err, PGTLS_ERR_CONFIG,
           "%s:%d: signature %s does not fit the %s key of issuer '%s' (use an %s signature)",
           cat->path, line, sig, c->issuer->key->type, c->issuer->name,
           id == EVP_PKEY_EC ? "ecdsa-with-SHA*" : "RSA");
    mctx = EVP_MD_CTX_new();
    ENSURE(mctx, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY_OSSL(EVP_DigestSignInit_ex(mctx, &pctx, alg->md, NULL, NULL, ikey, NULL) > 0, err,
             "%s:%d: signing '%s' with %s", cat->path, line, c->name, sig);
    if (alg->pss) {
        /* RFC 4055: PSS with the digest as MGF1 hash and salt length = digest
         * length, what TLS 1.3 peers expect (RFC 8446 4.2.3). */
        TRY_OSSL(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
                     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0,
                 err, "%s:%d: PSS parameters for '%s'", cat->path, line, c->name);
    }
    TRY_OSSL(X509_sign_ctx(x, mctx) > 0, err, "%s:%d: signing '%s' with %s", cat->path, line,
             c->name, sig);
    result = 0;
out:
    EVP_MD_CTX_free(mctx);
    return result;
}

int ca_build_cert(ca_catalogue *cat, ca_cert *c, time_t now, pgtls_err *err)
{
    X509 *x = NULL;
    int result = -1;

    if (c->state == 2)
        return 0;
    ENSURE(c->state != 1, err, PGTLS_ERR_CONFIG, "%s:%d: issuer cycle through '%s'", cat->path,
           c->issuer_line, c->name);
    ENSURE(c->key && c->key->pkey, err, PGTLS_ERR_INTERNAL, "key of '%s' not loaded", c->name);
    c->state = 1;
    if (c->issuer != c)
        TRY(ca_build_cert(cat, c->issuer, now, err));
    x = X509_new();
    ENSURE(x, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY_OSSL(X509_set_version(x, X509_VERSION_3), err, "X509_set_version");
    TRY(set_serial(cat, c, x, err));
    TRY_OSSL(X509_set_subject_name(x, c->subject_dn), err, "subject of %s", c->name);
    TRY_OSSL(X509_set_issuer_name(x, c->issuer->subject_dn), err, "issuer of %s", c->name);
    TRY(set_validity(cat, c, x, now, err));
    TRY_OSSL(X509_set_pubkey(x, c->key->pkey), err, "public key of %s", c->name);
    TRY(add_extensions(cat, c, x, c->issuer == c ? x : c->issuer->x509, err));
    TRY(sign_cert(cat, c, x, err));
    X509_free(c->x509);
    c->x509 = x; /* ownership moves to the catalogue */
    x = NULL;
    if (!c->role) {
        int is_ca = X509_check_ca(c->x509) != 0;
        c->role = strdup(!is_ca ? "leaf" : c->issuer == c ? "root" : "intermediate");
        ENSURE(c->role, err, PGTLS_ERR_NOMEM, "out of memory");
    }
    c->state = 2;
    result = 0;
out:
    if (result < 0)
        c->state = 0;
    X509_free(x);
    return result;
}

int ca_build_all(ca_catalogue *cat, time_t now, pgtls_err *err)
{
    for (size_t i = 0; i < cat->num_certs; i++)
        cat->certs[i].state = 0;
    for (size_t i = 0; i < cat->num_certs; i++)
        if (ca_build_cert(cat, &cat->certs[i], now, err) < 0)
            return -1;
    return 0;
}
