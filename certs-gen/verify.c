/* pgtls certs-gen: what libpq would conclude about a chain.
 *
 * Chain verification mirrors what libpq gets from libssl: X509_verify_cert
 * with the root file as the trusted set, the server's extra certificates as
 * untrusted, default flags (libpq sets no X509_V_FLAG_PARTIAL_CHAIN, so a
 * pinned intermediate or leaf is not an anchor) and the security level libssl
 * applies as auth level (2 with Debian's SECLEVEL=2). Host names follow
 * libpq's own rules (fe-secure-common.c pq_verify_peer_name_matches_certificate_name,
 * fe-secure-openssl.c verify_peer_name_matches_certificate), not OpenSSL's. */
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ca_internal.h"

static const char *classify(int code)
{
    switch (code) {
    case X509_V_OK:
        return "ok";
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return "expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return "not-yet-valid";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
        return "untrusted";
    case X509_V_ERR_EE_KEY_TOO_SMALL:
    case X509_V_ERR_CA_KEY_TOO_SMALL:
    case X509_V_ERR_CA_MD_TOO_WEAK:
        return "too-weak";
    default:
        return NULL;
    }
}

static int verify_with_store(X509_STORE *store, STACK_OF(X509) *chain, time_t at, char *out,
                             size_t out_len, pgtls_err *err);

int ca_verify_chain(STACK_OF(X509) *chain, STACK_OF(X509) *trusted, time_t at, char *out,
                    size_t out_len, pgtls_err *err)
{
    X509_STORE *store = X509_STORE_new();
    int result = -1;
    ENSURE(store, err, PGTLS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < sk_X509_num(trusted); i++)
        TRY_OSSL(X509_STORE_add_cert(store, sk_X509_value(trusted, i)), err,
                 "adding a trusted certificate");
    result = verify_with_store(store, chain, at, out, out_len, err);
out:
    X509_STORE_free(store);
    return result;
}

int ca_verify_chain_dir(STACK_OF(X509) *chain, const char *hashed_dir, time_t at, char *out,
                        size_t out_len, pgtls_err *err)
{
    X509_STORE *store = X509_STORE_new();
    int result = -1;
    ENSURE(store, err, PGTLS_ERR_NOMEM, "out of memory");
    /* What SSL_CERT_DIR gives libssl: lookup by subject hash (<hash>.<n>). */
    TRY_OSSL(X509_STORE_load_path(store, hashed_dir), err, "loading %s", hashed_dir);
    result = verify_with_store(store, chain, at, out, out_len, err);
out:
    X509_STORE_free(store);
    return result;
}

static int verify_with_store(X509_STORE *store, STACK_OF(X509) *chain, time_t at, char *out,
                             size_t out_len, pgtls_err *err)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    X509_VERIFY_PARAM *param;
    int result = -1, rc, code;
    const char *cls;

    ENSURE(ctx && untrusted && sk_X509_num(chain) > 0, err, PGTLS_ERR_NOMEM,
           "out of memory or empty chain");
    for (int i = 1; i < sk_X509_num(chain); i++)
        TRY_OSSL(sk_X509_push(untrusted, sk_X509_value(chain, i)), err, "building the chain");
    TRY_OSSL(X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0), untrusted), err,
             "X509_STORE_CTX_init");
    param = X509_STORE_CTX_get0_param(ctx);
    /* What libssl does at SECLEVEL=2 (ssl_verify_cert_chain). */
    X509_VERIFY_PARAM_set_auth_level(param, 2);
    if (at)
        X509_VERIFY_PARAM_set_time(param, at);
    ERR_clear_error();
    rc = X509_verify_cert(ctx);
    code = X509_STORE_CTX_get_error(ctx);
    ERR_clear_error();
    cls = rc == 1 ? "ok" : classify(code);
    if (cls)
        snprintf(out, out_len, "%s", cls);
    else
        snprintf(out, out_len, "error:%s", X509_verify_cert_error_string(code));
    result = 0;
out:
    sk_X509_free(untrusted); /* the certificates belong to the caller */
    X509_STORE_CTX_free(ctx);
    return result;
}

/* libpq's wildcard rule: "*." prefix, the '*' matches one whole label. */
static int name_matches(const char *pattern, size_t plen, const char *host)
{
    size_t hlen = strlen(host);
    if (memchr(pattern, '\0', plen))
        return 0; /* embedded NUL: libpq refuses the certificate */
    if (plen == hlen && strncasecmp(pattern, host, plen) == 0)
        return 1;
    if (plen < 3 || pattern[0] != '*' || pattern[1] != '.' || plen > hlen)
        return 0;
    if (strncasecmp(pattern + 1, host + hlen - plen + 1, plen - 1) != 0)
        return 0;
    if (strchr(host, '.') < host + hlen - plen + 1)
        return 0;
    return 1;
}

int ca_host_matches(X509 *leaf, const char *host)
{
    unsigned char addr[16];
    size_t addr_len = 0;
    int host_type = GEN_DNS, check_cn = 1, match = 0;
    GENERAL_NAMES *sans;

    if (inet_pton(AF_INET, host, addr) == 1) {
        addr_len = 4;
        host_type = GEN_IPADD;
    } else if (inet_pton(AF_INET6, host, addr) == 1) {
        addr_len = 16;
        host_type = GEN_IPADD;
    }
    sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && !match; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        /* A SAN of the host's type forbids the CN fallback (PG 14+). */
        if (gn->type == host_type)
            check_cn = 0;
        if (gn->type == GEN_DNS) {
            const ASN1_IA5STRING *s = gn->d.dNSName;
            match = name_matches((const char *)ASN1_STRING_get0_data(s),
                                 (size_t)ASN1_STRING_length(s), host);
        } else if (gn->type == GEN_IPADD && addr_len) {
            const ASN1_OCTET_STRING *s = gn->d.iPAddress;
            match = (size_t)ASN1_STRING_length(s) == addr_len &&
                    memcmp(ASN1_STRING_get0_data(s), addr, addr_len) == 0;
        }
    }
    GENERAL_NAMES_free(sans);
    if (!match && check_cn) {
        X509_NAME *subject = X509_get_subject_name(leaf);
        int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
        if (idx >= 0) {
            ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
            unsigned char *utf8 = NULL;
            int len = ASN1_STRING_to_UTF8(&utf8, cn);
            if (len >= 0)
                match = name_matches((const char *)utf8, (size_t)len, host);
            OPENSSL_free(utf8);
        }
    }
    return match;
}
