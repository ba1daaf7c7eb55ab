/* pgtls mockserver: client certificates as PostgreSQL's OpenSSL front handles
 * them (be-secure-openssl.c be_tls_init / be_tls_open_server, auth.c
 * ClientAuthentication / CheckCertAuth): ssl_ca_file, ssl_crl_file and
 * ssl_crl_dir from plain files, the CertificateRequest with the CA names, the
 * verification (OpenSSL sends the alert: unknown_ca, certificate_revoked,
 * certificate_expired, ...), and the `cert` authentication method. */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <string.h>

#include "ms_conn.h"

/* PostgreSQL's verify_cb keeps OpenSSL's verdict (it only logs details). */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
    (void)x;
    return ok;
}

static const char *ossl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : "no SSL error reported";
}

int ms_clientcert_setup_ctx(const ms_profile *p, SSL_CTX *ctx, pgtls_err *err)
{
    STACK_OF(X509_NAME) *names;
    const char *crl_file = p->ssl_crl_file && *p->ssl_crl_file ? p->ssl_crl_file : NULL;
    const char *crl_dir = p->ssl_crl_dir && *p->ssl_crl_dir ? p->ssl_crl_dir : NULL;

    int with_ca = p->ssl_ca_file && *p->ssl_ca_file;

    ERR_clear_error();
    if (with_ca) {
        if (SSL_CTX_load_verify_locations(ctx, p->ssl_ca_file, NULL) != 1 ||
            !(names = SSL_load_client_CA_file(p->ssl_ca_file)))
            return err_set(err, PGTLS_ERR_CONFIG,
                           "scenario %s: could not load root certificate file \"%s\": %s",
                           p->scenario, p->ssl_ca_file, ossl_reason());
        SSL_CTX_set_client_CA_list(ctx, names);
    }
    /* be_tls_init loads the CRLs whether or not there is a CA file (a bad
     * one stops the server either way); only a CA file makes them used. */
    if (crl_file || crl_dir) {
        X509_STORE *store = SSL_CTX_get_cert_store(ctx);
        if (!store || X509_STORE_load_locations(store, crl_file, crl_dir) != 1) {
            if (crl_file && crl_dir)
                return err_set(err, PGTLS_ERR_CONFIG,
                               "scenario %s: could not load SSL certificate revocation list "
                               "file \"%s\" or directory \"%s\": %s",
                               p->scenario, crl_file, crl_dir, ossl_reason());
            if (crl_file)
                return err_set(err, PGTLS_ERR_CONFIG,
                               "scenario %s: could not load SSL certificate revocation list "
                               "file \"%s\": %s",
                               p->scenario, crl_file, ossl_reason());
            return err_set(err, PGTLS_ERR_CONFIG,
                           "scenario %s: could not load SSL certificate revocation list "
                           "directory \"%s\": %s",
                           p->scenario, crl_dir, ossl_reason());
        }
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    }
    /* Ask for a certificate, verify it, but do not require one: the rules
     * decide (clientcert, cert authentication). */
    if (with_ca)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, verify_cb);
    return 0;
}

/* be-secure-openssl.c X509_NAME_to_cstring: "/SN=value" per entry, in the
 * certificate's order, cut to out_len-1 bytes. */
static void name_to_cstring(const X509_NAME *name, char *out, size_t out_len)
{
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; i < X509_NAME_entry_count(name) && used + 1 < out_len; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        const char *sn = OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)));
        unsigned char *utf8 = NULL;
        int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
        if (n >= 0)
            used += (size_t)snprintf(out + used, out_len - used, "/%s=%.*s", sn ? sn : "?", n,
                                     (const char *)utf8);
        OPENSSL_free(utf8);
    }
    out[out_len - 1] = 0;
}

void ms_clientcert_note_peer(ms_conn *c, SSL *ssl)
{
    X509 *peer = SSL_get0_peer_certificate(ssl);
    c->peer_cert_valid = 0;
    c->peer_cn[0] = c->peer_dn[0] = c->peer_serial[0] = c->peer_issuer[0] = 0;
    if (!peer || !c->prof->ssl_ca_file || !*c->prof->ssl_ca_file)
        return;
    name_to_cstring(X509_get_subject_name(peer), c->peer_dn, sizeof(c->peer_dn));
    name_to_cstring(X509_get_issuer_name(peer), c->peer_issuer, sizeof(c->peer_issuer));
    {
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(peer), NULL);
        char *dec = bn ? BN_bn2dec(bn) : NULL;
        snprintf(c->peer_serial, sizeof(c->peer_serial), "%s", dec ? dec : "");
        OPENSSL_free(dec);
        BN_free(bn);
    }
    /* A certificate that failed verification ended the handshake. */
    c->peer_cert_valid = SSL_get_verify_result(ssl) == X509_V_OK;
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, c->peer_cn,
                                  (int)sizeof(c->peer_cn)) < 0)
        c->peer_cn[0] = 0;
}

int ms_clientcert_required(const ms_conn *c, ms_pgerr *e)
{
    const char *cc = c->prof->clientcert;
    if (!cc || !*cc || !strcmp(c->prof->auth, "cert") || c->peer_cert_valid)
        return 0;
    ms_pgerr_set(e, "FATAL", "28000", "connection requires a valid client certificate");
    return -1;
}

int ms_clientcert_verify_full(const ms_conn *c, const char *user, ms_pgerr *e)
{
    const char *auth = c->prof->auth;
    const char *cc = c->prof->clientcert;
    if (!cc || strcmp(cc, "verify-full") != 0 || !strcmp(auth, "cert"))
        return 0;
    if (c->peer_cn[0] && !strcmp(c->peer_cn, user))
        return 0;
    if (!strcmp(auth, "trust"))
        ms_pgerr_set(e, "FATAL", "28000", "\"trust\" authentication failed for user \"%s\"",
                     user);
    else
        ms_pgerr_set(e, "FATAL", "28P01", "password authentication failed for user \"%s\"", user);
    return -1;
}

int ms_clientcert_check(const ms_conn *c, const char *user, ms_pgerr *e)
{
    /* auth.c ClientAuthentication: the cert method implies
     * clientcert=verify-full. */
    if (!c->peer_cert_valid) {
        ms_pgerr_set(e, "FATAL", "28000", "connection requires a valid client certificate");
        return -1;
    }
    /* CheckCertAuth without a map: the CN must be the user name; a mismatch
     * is logged and reported as auth_failed. */
    if (!c->peer_cn[0] || strcmp(c->peer_cn, user) != 0) {
        ms_pgerr_set(e, "FATAL", "28000", "certificate authentication failed for user \"%s\"",
                     user);
        return -1;
    }
    return 0;
}
