/* pgtls certs-gen: `pgtls ca clone` — catalogue sections for a captured chain.
 *
 * Writes INI that reproduces every certificate of a PEM file field by field
 * (DN with its string types, serial, validity, key type and size, signature
 * algorithm, extensions in order with criticality, values as raw DER) with our
 * keys; SKI/AKI become "hash"/"keyid" so they follow our keys. When the top
 * certificate's issuer is not in the file, a stand-in root with that subject
 * is added, so the output generates as is. */
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "ca_internal.h"
#include "fs.h"

/* INI lines are at most 200 characters: long values continue on indented
 * lines; a trailing backslash joins without a comma (DER hex). */
#define WRAP 120

static void print_dn(FILE *out, const char *key, const X509_NAME *name)
{
    int n = X509_NAME_entry_count(name);
    fprintf(out, "%s = ", key);
    for (int i = 0; i < n; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
        int type = ASN1_STRING_type(v);
        unsigned char *utf8 = NULL;
        int len = ASN1_STRING_to_UTF8(&utf8, v);
        const char *suffix = "";
        if (nid != NID_countryName && nid != NID_pkcs9_emailAddress && nid != NID_domainComponent)
            suffix = type == V_ASN1_PRINTABLESTRING ? ":printable" : ":utf8";
        fprintf(out, "%s%s%s=", i ? ", " : "", nid != NID_undef ? OBJ_nid2sn(nid) : "?", suffix);
        for (int k = 0; k < len; k++) {
            if (utf8[k] == ',' || utf8[k] == '\\')
                fputc('\\', out);
            fputc(utf8[k], out);
        }
        OPENSSL_free(utf8);
    }
    fputc('\n', out);
}

static void print_time(FILE *out, const char *key, const ASN1_TIME *t)
{
    struct tm tm;
    char buf[32];
    if (ASN1_TIME_to_tm(t, &tm) == 1) {
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(out, "%s = %s\n", key, buf);
    }
}

static const char *signature_name(const X509 *x)
{
    switch (X509_get_signature_nid(x)) {
    case NID_sha1WithRSAEncryption:
        return "sha1WithRSAEncryption";
    case NID_sha256WithRSAEncryption:
        return "sha256WithRSAEncryption";
    case NID_sha384WithRSAEncryption:
        return "sha384WithRSAEncryption";
    case NID_sha512WithRSAEncryption:
        return "sha512WithRSAEncryption";
    case NID_rsassaPss:
        return "rsassaPss-sha256";
    case NID_ecdsa_with_SHA256:
        return "ecdsa-with-SHA256";
    case NID_ecdsa_with_SHA384:
        return "ecdsa-with-SHA384";
    default:
        return NULL;
    }
}

static void print_ext(FILE *out, X509_EXTENSION *e)
{
    const ASN1_OBJECT *obj = X509_EXTENSION_get_object(e);
    int nid = OBJ_obj2nid(obj);
    int crit = X509_EXTENSION_get_critical(e);
    const ASN1_OCTET_STRING *d = X509_EXTENSION_get_data(e);
    char name[80];
    int col;

    if (nid != NID_undef)
        snprintf(name, sizeof(name), "%s", OBJ_nid2sn(nid));
    else
        OBJ_obj2txt(name, sizeof(name), obj, 1);
    if (nid == NID_subject_key_identifier) {
        fprintf(out, "ext = subjectKeyIdentifier: %shash\n", crit ? "critical," : "");
        return;
    }
    if (nid == NID_authority_key_identifier) {
        fprintf(out, "ext = authorityKeyIdentifier: %skeyid\n", crit ? "critical," : "");
        return;
    }
    col = fprintf(out, "ext = %s: %sDER:", name, crit ? "critical," : "");
    for (int i = 0; i < ASN1_STRING_length(d); i++) {
        if (col > WRAP) {
            fprintf(out, "\\\n    ");
            col = 4;
        }
        col += fprintf(out, "%02X", ASN1_STRING_get0_data(d)[i]);
    }
    fputc('\n', out);
}

static int issuer_index(STACK_OF(X509) * sk, int i)
{
    X509 *x = sk_X509_value(sk, i);
    for (int j = 0; j < sk_X509_num(sk); j++)
        if (j != i && X509_check_issued(sk_X509_value(sk, j), x) == X509_V_OK)
            return j;
    return -1;
}

static char *first_dns_name(X509 *x)
{
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    char *out = NULL;
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && !out; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        if (gn->type == GEN_DNS && ASN1_STRING_get0_data(gn->d.dNSName)[0] != '*')
            out = strndup((const char *)ASN1_STRING_get0_data(gn->d.dNSName),
                          (size_t)ASN1_STRING_length(gn->d.dNSName));
    }
    GENERAL_NAMES_free(sans);
    if (!out) {
        char cn[256];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) > 0)
            out = strdup(cn);
    }
    return out;
}

int ca_clone_chain(const char *pem_path, const char *prefix, FILE *out, pgtls_err *err)
{
    BIO *bio = BIO_new_file(pem_path, "r");
    STACK_OF(X509) *sk = sk_X509_new_null();
    X509 *x;
    int result = -1, n, top = -1, stand_in = 0;
    const char *base;
    char *host = NULL;

    ENSURE(bio, err, PGTLS_ERR_INPUT, "cannot open %s (check the path)", pem_path);
    ENSURE(sk, err, PGTLS_ERR_NOMEM, "out of memory");
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        sk_X509_push(sk, x);
    ERR_clear_error();
    n = sk_X509_num(sk);
    ENSURE(n > 0, err, PGTLS_ERR_INPUT,
           "%s holds no PEM certificate (pass a chain as a server "
           "sends it, leaf first)",
           pem_path);
    base = strrchr(pem_path, '/') ? strrchr(pem_path, '/') + 1 : pem_path;
    fprintf(out, "; cloned by 'pgtls ca clone %s': same fields, our keys.\n", pem_path);
    fprintf(out, "; Append to a catalogue (docs/catalogue.md), then 'pgtls ca gen' and 'pgtls ca "
                 "verify'.\n\n");
    for (int i = 0; i < n; i++) {
        char ktype[32];
        const char *sig;
        int up;
        x = sk_X509_value(sk, i);
        up = X509_self_signed(x, 0) == 1 ? i : issuer_index(sk, i);
        if (up < 0) {
            top = i;
            stand_in = 1;
        } else if (up == i) {
            top = i;
        }
        fprintf(out, "[cert %s-%d]\n", prefix, i);
        fprintf(out, "description = cloned from %.100s, certificate %d\n", base, i);
        fprintf(out, "key_type = %s\n", ca_key_describe(X509_get0_pubkey(x), ktype, sizeof(ktype)));
        if (!ca_key_type_valid(ktype))
            fprintf(out, "; %s keys are not supported: pick the closest type above\n", ktype);
        if (up == i)
            fprintf(out, "issuer = self\n");
        else if (up >= 0)
            fprintf(out, "issuer = %s-%d\n", prefix, up);
        else
            fprintf(out, "issuer = %s-issuer\n", prefix);
        print_dn(out, "subject", X509_get_subject_name(x));
        {
            BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
            char *hex = bn ? BN_bn2hex(bn) : NULL;
            if (hex && hex[0] != '-')
                fprintf(out, "serial = %s\n", hex);
            OPENSSL_free(hex);
            BN_free(bn);
        }
        sig = signature_name(x);
        if (sig)
            fprintf(out, "signature = %s\n", sig);
        else
            fprintf(out, "; signature %s is not supported: the issuer's default is used\n",
                    OBJ_nid2ln(X509_get_signature_nid(x)));
        print_time(out, "not_before", X509_get0_notBefore(x));
        print_time(out, "not_after", X509_get0_notAfter(x));
        for (int k = 0; k < X509_get_ext_count(x); k++)
            print_ext(out, X509_get_ext(x, k));
        fputc('\n', out);
    }
    if (stand_in) {
        /* The anchor is not in the file: a stand-in root with its subject. */
        x = sk_X509_value(sk, top);
        fprintf(out, "[cert %s-issuer]\n", prefix);
        fprintf(out, "description = stand-in root for the issuer missing from %.100s\n", base);
        fprintf(out, "key_type = RSA-2048\nissuer = self\n");
        print_dn(out, "subject", X509_get_issuer_name(x));
        fprintf(out, "not_before = -3650d\nnot_after = +3650d\n");
        fprintf(out, "ext = basicConstraints: critical,CA:TRUE\n"
                     "ext = keyUsage: critical,keyCertSign,cRLSign\n"
                     "ext = subjectKeyIdentifier: hash\n\n");
    }
    fprintf(out, "[chain %s]\ncerts = ", prefix);
    for (int i = 0; i < n; i++) /* as the server sent it, a root included */
        fprintf(out, "%s%s-%d", i ? ", " : "", prefix, i);
    fprintf(out, "\n\n[store %s-root]\nkind = roots\ncerts = ", prefix);
    if (stand_in)
        fprintf(out, "%s-issuer\n\n", prefix);
    else
        fprintf(out, "%s-%d\n\n", prefix, top >= 0 ? top : n - 1);
    host = first_dns_name(sk_X509_value(sk, 0));
    fprintf(out, "[scenario %s]\ndescription = the cloned chain of %.100s\nchain = %s\n", prefix,
            base, prefix);
    if (host)
        fprintf(out, "host = %s\nhost_match = true\n", host);
    fprintf(out, "ok = %s-root\n", prefix);
    result = 0;
out:
    free(host);
    sk_X509_pop_free(sk, X509_free);
    BIO_free(bio);
    return result;
}
