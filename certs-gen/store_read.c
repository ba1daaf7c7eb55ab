/* pgtls certs-gen: read a customer's trust store or captured chain.
 *
 * One entry point, ca_store_read, for every format a support case brings:
 * PEM bundles (root.crt, ca-certificates.crt), the text of
 * `openssl s_client -showcerts` (PEM blocks between its own lines), DER
 * (.cer/.crt), PKCS#7 (.p7b/.p7c, PEM or DER, as Windows exports), PKCS#12
 * (.p12/.pfx, Java's default keystore type since 9) and JKS (Java's older
 * keystore type, parsed here: it is a simple format, see read_jks).
 *
 * A store that holds a private key is refused, never read further: a trust
 * store needs no key, and a customer's key must not be copied anywhere. */
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "ca_internal.h"
#include "fs.h"

#define STORE_MAX_BYTES (64u * 1024 * 1024)

static const char key_refusal[] =
    "holds a private key: refusing to read it (a trust store needs certificates only, and pgtls "
    "never copies a customer's key); export the certificates alone";

/* Takes ownership of x. */
static int push_cert(STACK_OF(X509) * sk, X509 *x, pgtls_err *err)
{
    if (!x || !sk_X509_push(sk, x)) {
        X509_free(x);
        return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* Moves every certificate of a PKCS#7 SignedData into sk. */
static int take_pkcs7(PKCS7 *p7, STACK_OF(X509) * sk, const char *path, pgtls_err *err)
{
    STACK_OF(X509) *certs = NULL;
    int nid = p7 ? OBJ_obj2nid(p7->type) : NID_undef;
    if (nid == NID_pkcs7_signed && p7->d.sign)
        certs = p7->d.sign->cert;
    else if (nid == NID_pkcs7_signedAndEnveloped && p7->d.signed_and_enveloped)
        certs = p7->d.signed_and_enveloped->cert;
    else
        return err_set(err, PGTLS_ERR_INPUT,
                       "%s: PKCS#7 content is not a certificate bundle (export it as "
                       "'PKCS #7 Certificates (.p7b)')",
                       path);
    for (int i = 0; certs && i < sk_X509_num(certs); i++) {
        X509 *x = sk_X509_value(certs, i);
        X509_up_ref(x);
        if (push_cert(sk, x, err) < 0)
            return -1;
    }
    return 0;
}

static int is_key_block(const char *name)
{
    return strstr(name, "PRIVATE KEY") != NULL;
}

static size_t count_substr(const char *s, size_t len, const char *needle)
{
    size_t n = 0, nlen = strlen(needle);
    for (size_t i = 0; i + nlen <= len; i++)
        if (memcmp(s + i, needle, nlen) == 0)
            n++;
    return n;
}

/* PEM bundles, PEM PKCS#7 and `openssl s_client -showcerts` text. */
static int read_pem(const char *path, const char *data, size_t len, STACK_OF(X509) * sk,
                    char *out_format, size_t format_len, pgtls_err *err)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long der_len = 0;
    size_t blocks = 0, begins = count_substr(data, len, "-----BEGIN ");
    int num_x509 = 0, num_p7 = 0, result = -1;

    ENSURE(bio, err, PGTLS_ERR_NOMEM, "out of memory");
    for (;;) {
        const unsigned char *p;
        ERR_clear_error();
        if (!PEM_read_bio(bio, &name, &header, &der, &der_len))
            break;
        blocks++;
        p = der;
        if (is_key_block(name)) {
            err_set(err, PGTLS_ERR_INPUT, "%s: PEM block %zu (%s) %s", path, blocks, name,
                    key_refusal);
            goto out;
        }
        if (strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0 ||
            strcmp(name, "TRUSTED CERTIFICATE") == 0) {
            X509 *x = strcmp(name, "TRUSTED CERTIFICATE") == 0
                          ? d2i_X509_AUX(NULL, &p, der_len)
                          : d2i_X509(NULL, &p, der_len);
            if (x && p != der + der_len) { /* trailing bytes: refused, not leaked (fuzzing) */
                X509_free(x);
                x = NULL;
            }
            ENSURE(x, err, PGTLS_ERR_INPUT,
                   "%s: PEM block %zu is not a valid certificate (corrupt or truncated: copy "
                   "it again from the source)",
                   path, blocks);
            TRY(push_cert(sk, x, err));
            num_x509++;
        } else if (strcmp(name, "PKCS7") == 0 || strcmp(name, "CERTIFICATE CHAIN") == 0) {
            PKCS7 *p7 = d2i_PKCS7(NULL, &p, der_len);
            int rc;
            ENSURE(p7, err, PGTLS_ERR_INPUT,
                   "%s: PEM block %zu is not a valid PKCS#7 bundle (corrupt or truncated)", path,
                   blocks);
            rc = take_pkcs7(p7, sk, path, err);
            PKCS7_free(p7);
            TRY(rc);
            num_p7++;
        } else {
            err_set(err, PGTLS_ERR_INPUT,
                    "%s: PEM block %zu is a %s, not a certificate (a trust store holds "
                    "CERTIFICATE blocks only)",
                    path, blocks, name);
            goto out;
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
        name = header = NULL;
        der = NULL;
    }
    ERR_clear_error();
    /* PEM_read_bio stops at the first block it cannot read: a truncated
     * block, or a BEGIN line whose END never comes, looks like the end. */
    ENSURE(blocks == begins, err, PGTLS_ERR_INPUT,
           "%s: PEM block %zu is truncated or corrupt (its BEGIN line has no matching END, or "
           "its base64 is damaged): copy the file again",
           path, blocks + 1);
    ENSURE(!(num_x509 && num_p7), err, PGTLS_ERR_INPUT,
           "%s mixes PEM certificates and a PKCS#7 bundle: export the store in one format", path);
    ENSURE(memchr(data, '\0', len) == NULL, err, PGTLS_ERR_INPUT,
           "%s mixes PEM text and binary data: export the store in one format", path);
    if (num_p7)
        snprintf(out_format, format_len, "pkcs7-pem");
    else if (count_substr(data, len, "Certificate chain") ||
             count_substr(data, len, "CONNECTED(") || count_substr(data, len, "Server certificate"))
        snprintf(out_format, format_len, "s_client");
    else
        snprintf(out_format, format_len, "pem");
    result = 0;
out:
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(bio);
    return result;
}

static int read_pkcs12(const char *path, const unsigned char *data, size_t len,
                       const char *password, STACK_OF(X509) * sk, pgtls_err *err)
{
    const unsigned char *p = data;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
    STACK_OF(PKCS7) *safes = NULL;
    const char *pass = password;
    OSSL_PROVIDER *legacy = NULL;
    int result = -1;

    ENSURE(p12, err, PGTLS_ERR_INPUT, "%s: not a readable PKCS#12 file", path);
    /* Java's PKCS#12 and older .p12/.pfx files may use RC2 or 3DES with
     * SHA-1, which OpenSSL 3 keeps in its legacy provider (with the default
     * one retained); unloaded below. */
    legacy = OSSL_PROVIDER_try_load(NULL, "legacy", 1);
    ERR_clear_error();
    if (PKCS12_mac_present(p12)) {
        if (!pass) {
            /* keytool writes password-less truststores with a MAC over "" */
            if (PKCS12_verify_mac(p12, "", 0))
                pass = "";
            else if (PKCS12_verify_mac(p12, NULL, 0))
                pass = NULL;
            else {
                err_set(err, PGTLS_ERR_INPUT,
                        "%s is a PKCS#12 store protected by a password: pass it with --password "
                        "(Java's default is 'changeit')",
                        path);
                goto out;
            }
        } else {
            ENSURE(PKCS12_verify_mac(p12, pass, -1), err, PGTLS_ERR_INPUT,
                   "%s: wrong password for this PKCS#12 store (check --password)", path);
        }
    }
    /* Walk the bags ourselves: PKCS12_parse would decrypt a private key. */
    safes = PKCS12_unpack_authsafes(p12);
    ENSURE(safes, err, PGTLS_ERR_INPUT, "%s: PKCS#12 contents are corrupt or truncated", path);
    for (int i = 0; i < sk_PKCS7_num(safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
        int nid = OBJ_obj2nid(p7->type);
        if (nid == NID_pkcs7_data)
            bags = PKCS12_unpack_p7data(p7);
        else if (nid == NID_pkcs7_encrypted)
            bags = PKCS12_unpack_p7encdata(p7, pass, pass ? -1 : 0);
        ENSURE(bags, err, PGTLS_ERR_INPUT,
               "%s: cannot decrypt PKCS#12 contents (wrong --password, or an algorithm this "
               "OpenSSL lacks)",
               path);
        for (int k = 0; k < sk_PKCS12_SAFEBAG_num(bags); k++) {
            const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, k);
            int type = PKCS12_SAFEBAG_get_nid(bag);
            if (type == NID_keyBag || type == NID_pkcs8ShroudedKeyBag) {
                sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
                err_set(err, PGTLS_ERR_INPUT, "%s %s", path, key_refusal);
                goto out;
            }
            if (type == NID_certBag && PKCS12_SAFEBAG_get_bag_nid(bag) == NID_x509Certificate) {
                X509 *x = PKCS12_SAFEBAG_get1_cert(bag);
                if (!x || push_cert(sk, x, err) < 0) {
                    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
                    if (!x)
                        err_set(err, PGTLS_ERR_INPUT, "%s: a PKCS#12 certificate is corrupt",
                                path);
                    goto out;
                }
            }
        }
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    }
    result = 0;
out:
    ERR_clear_error();
    sk_PKCS7_pop_free(safes, PKCS7_free);
    PKCS12_free(p12);
    if (legacy)
        OSSL_PROVIDER_unload(legacy);
    return result;
}

/* JKS (sun.security.provider.JavaKeyStore): big-endian
 *   u32 magic 0xFEEDFEED, u32 version (1 or 2), u32 count, then per entry
 *   u32 tag (1 private key, 2 trusted certificate), UTF alias (u16 length +
 *   modified UTF-8), u64 date, and for tag 2: [v2: UTF cert type] u32 length,
 *   DER certificate; for tag 1: u32 length, encrypted key, u32 chain length,
 *   certificates as for tag 2;
 * then 20 bytes SHA-1(password as UTF-16BE || "Mighty Aphrodite" || all of
 * the above). */
typedef struct jks_reader {
    const unsigned char *p, *end;
} jks_reader;

static int jks_u32(jks_reader *r, uint32_t *v)
{
    if (r->end - r->p < 4)
        return -1;
    *v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    return 0;
}

static int jks_skip(jks_reader *r, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return -1;
    r->p += n;
    return 0;
}

static int jks_skip_utf(jks_reader *r)
{
    size_t n;
    if (r->end - r->p < 2)
        return -1;
    n = (size_t)r->p[0] << 8 | r->p[1];
    r->p += 2;
    return jks_skip(r, n);
}

/* Java hashes the password's chars as UTF-16BE; UTF-8 input is decoded
 * (BMP only, as keytool's prompts are). Returns the byte count or -1. */
static int utf16be(const char *s, unsigned char *out, size_t out_len)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned cp;
        if (*p < 0x80)
            cp = *p++;
        else if ((*p & 0xE0) == 0xC0 && p[1])
            cp = (unsigned)(p[0] & 0x1F) << 6 | (p[1] & 0x3F), p += 2;
        else if ((*p & 0xF0) == 0xE0 && p[1] && p[2])
            cp = (unsigned)(p[0] & 0x0F) << 12 | (unsigned)(p[1] & 0x3F) << 6 | (p[2] & 0x3F),
            p += 3;
        else
            return -1;
        if (n + 2 > out_len)
            return -1;
        out[n++] = (unsigned char)(cp >> 8);
        out[n++] = (unsigned char)cp;
    }
    return (int)n;
}

static int read_jks(const char *path, const unsigned char *data, size_t len, const char *password,
                    STACK_OF(X509) * sk, char *note, size_t note_len, pgtls_err *err)
{
    jks_reader r = {data, data + len};
    uint32_t magic, version, count;
    int result = -1;

    /* The header first (a version we do not read is said as such), then the
     * entries, which end where the 20-byte digest starts. */
    ENSURE(jks_u32(&r, &magic) == 0 && jks_u32(&r, &version) == 0 && jks_u32(&r, &count) == 0,
           err, PGTLS_ERR_INPUT, "%s: JKS store is truncated", path);
    ENSURE(version == 1 || version == 2, err, PGTLS_ERR_INPUT,
           "%s: JKS store version %u is not supported (1 or 2; re-export it with keytool)", path,
           version);
    ENSURE(len >= 12 + 20, err, PGTLS_ERR_INPUT, "%s: JKS store is truncated", path);
    r.end -= 20; /* the digest */
    if (password) {
        unsigned char pw[1024], md[SHA_DIGEST_LENGTH];
        int pw_len = utf16be(password, pw, sizeof(pw));
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int ok = pw_len >= 0 && ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
                 EVP_DigestUpdate(ctx, pw, (size_t)pw_len) &&
                 EVP_DigestUpdate(ctx, "Mighty Aphrodite", 16) &&
                 EVP_DigestUpdate(ctx, data, len - 20) && EVP_DigestFinal_ex(ctx, md, NULL);
        EVP_MD_CTX_free(ctx);
        ENSURE(ok && memcmp(md, data + len - 20, 20) == 0, err, PGTLS_ERR_INPUT,
               "%s: wrong password for this JKS store, or the file is truncated or altered "
               "(check --password)",
               path);
        snprintf(note, note_len, "integrity checked with the password");
    } else {
        snprintf(note, note_len, "integrity not checked (no --password), as keytool -list does");
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t tag, cert_len;
        const unsigned char *der;
        X509 *x;
        ENSURE(jks_u32(&r, &tag) == 0 && jks_skip_utf(&r) == 0 && jks_skip(&r, 8) == 0, err,
               PGTLS_ERR_INPUT, "%s: JKS entry %u is truncated", path, i + 1);
        if (tag == 1) {
            err_set(err, PGTLS_ERR_INPUT, "%s: JKS entry %u %s", path, i + 1, key_refusal);
            goto out;
        }
        ENSURE(tag == 2, err, PGTLS_ERR_INPUT, "%s: JKS entry %u has unknown type %u", path, i + 1,
               tag);
        ENSURE((version == 1 || jks_skip_utf(&r) == 0) && jks_u32(&r, &cert_len) == 0 &&
                   (size_t)(r.end - r.p) >= cert_len,
               err, PGTLS_ERR_INPUT, "%s: JKS entry %u is truncated", path, i + 1);
        der = r.p;
        x = d2i_X509(NULL, &der, cert_len);
        ENSURE(x && der == r.p + cert_len, err, PGTLS_ERR_INPUT,
               "%s: JKS entry %u is not a valid certificate", path, i + 1);
        r.p += cert_len;
        TRY(push_cert(sk, x, err));
    }
    ENSURE(r.p == r.end, err, PGTLS_ERR_INPUT,
           "%s: JKS store has %zu unexpected bytes after its entries", path,
           (size_t)(r.end - r.p));
    result = 0;
out:
    return result;
}

STACK_OF(X509) * ca_store_read(const char *path, const char *password, char *out_format,
                               size_t format_len, pgtls_err *err)
{
    char *data = NULL, note[96] = "";
    size_t len = 0;
    STACK_OF(X509) *sk = sk_X509_new_null();
    const unsigned char *u, *p;
    int ok = 0;

    ENSURE(sk, err, PGTLS_ERR_NOMEM, "out of memory");
    if (fs_read_file(path, STORE_MAX_BYTES, &data, &len, err) < 0) {
        err->code = PGTLS_ERR_INPUT;
        goto out;
    }
    u = (const unsigned char *)data;
    ENSURE(len > 0, err, PGTLS_ERR_INPUT, "%s is empty: pass the store file itself", path);
    if (len >= 4 && u[0] == 0xFE && u[1] == 0xED && u[2] == 0xFE && u[3] == 0xED) {
        TRY(read_jks(path, u, len, password, sk, note, sizeof(note), err));
        snprintf(out_format, format_len, "jks");
    } else if (len >= 4 && u[0] == 0xCE && u[1] == 0xCE && u[2] == 0xCE && u[3] == 0xCE) {
        err_set(err, PGTLS_ERR_INPUT,
                "%s is a JCEKS keystore: convert it with 'keytool -importkeystore "
                "-deststoretype pkcs12' and pass the result",
                path);
        goto out;
    } else if (count_substr(data, len, "-----BEGIN ")) {
        TRY(read_pem(path, data, len, sk, out_format, format_len, err));
    } else if (u[0] == 0x30) {
        /* DER: one certificate, a PKCS#7 bundle or a PKCS#12 file, each a
         * SEQUENCE that must take the whole file. */
        X509 *x;
        PKCS7 *p7;
        p = u;
        x = d2i_X509(NULL, &p, (long)len);
        if (x && p == u + len) {
            TRY(push_cert(sk, x, err));
            snprintf(out_format, format_len, "der");
            goto done;
        }
        X509_free(x);
        p = u;
        p7 = d2i_PKCS7(NULL, &p, (long)len);
        if (p7 && p == u + len) {
            int rc = take_pkcs7(p7, sk, path, err);
            PKCS7_free(p7);
            TRY(rc);
            snprintf(out_format, format_len, "pkcs7-der");
            goto done;
        }
        PKCS7_free(p7);
        p = u;
        {
            PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
            int is_p12 = p12 && p == u + len;
            PKCS12_free(p12);
            if (is_p12) {
                TRY(read_pkcs12(path, u, len, password, sk, err));
                snprintf(out_format, format_len, "pkcs12");
                goto done;
            }
        }
        ERR_clear_error();
        err_set(err, PGTLS_ERR_INPUT,
                "%s: binary data that is not a whole DER certificate, PKCS#7 or PKCS#12 file "
                "(truncated?); pgtls reads PEM, DER, PKCS#7, PKCS#12, JKS and s_client text",
                path);
        goto out;
    } else {
        err_set(err, PGTLS_ERR_INPUT,
                "%s is not a certificate store pgtls can read (PEM, DER, PKCS#7 .p7b, PKCS#12, "
                "JKS, or 'openssl s_client -showcerts' output)",
                path);
        goto out;
    }
done:
    ENSURE(sk_X509_num(sk) > 0, err, PGTLS_ERR_INPUT,
           "%s (%s) holds no certificate: export the trusted certificates into it", path,
           out_format);
    if (note[0] && strlen(out_format) + strlen(note) + 3 < format_len) {
        strcat(out_format, ", ");
        strcat(out_format, note);
    }
    ok = 1;
out:
    ERR_clear_error();
    free(data);
    if (!ok) {
        sk_X509_pop_free(sk, X509_free);
        sk = NULL;
    }
    return sk;
}
