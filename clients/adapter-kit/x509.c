/* pgtls clients: certificate subjects, written the same way by every adapter.
 *
 * RFC 2253 order (most specific RDN first: "CN=leaf,O=Org,C=US") so chains
 * from libpq (SSL_get_peer_cert_chain) and from `openssl s_client -showcerts`
 * compare as plain strings in the matrix. UTF-8 is kept as is.
 */
#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "cl_adapter.h"

char *cl_name_rfc2253(const void *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *text = NULL, *data = NULL;
    if (bio == NULL)
        return NULL;
    /* XN_FLAG_RFC2253 without ESC_MSB: escape as RFC 2253 says, but print
     * non-ASCII characters as UTF-8 rather than \XX escapes. */
    if (X509_NAME_print_ex(bio, (const X509_NAME *)name, 0,
                           XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        long len = BIO_get_mem_data(bio, &data);
        text = strndup(data != NULL ? data : "", len > 0 ? (size_t)len : 0);
    }
    BIO_free(bio);
    return text;
}

json_t *cl_subjects_json(const void *stack)
{
    const STACK_OF(X509) *sk = stack;
    if (sk == NULL)
        return json_null();
    json_t *arr = json_array();
    for (int i = 0; arr != NULL && i < sk_X509_num(sk); i++) {
        char *subject = cl_name_rfc2253(X509_get_subject_name(sk_X509_value(sk, i)));
        json_array_append_new(arr, cl_json_str(subject));
        free(subject);
    }
    return arr != NULL ? arr : json_null();
}

json_t *cl_pem_subjects(const char *text, size_t len)
{
    json_t *arr = json_array();
    const char *begin = "-----BEGIN CERTIFICATE-----";
    const char *p = text, *end = text + len;

    while (arr != NULL && p < end) {
        const char *b = memmem(p, (size_t)(end - p), begin, strlen(begin));
        if (b == NULL)
            break;
        BIO *bio = BIO_new_mem_buf(b, (int)(end - b));
        X509 *cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        if (cert != NULL) {
            char *subject = cl_name_rfc2253(X509_get_subject_name(cert));
            json_array_append_new(arr, cl_json_str(subject));
            free(subject);
            X509_free(cert);
        }
        BIO_free(bio);
        p = b + strlen(begin);
    }
    ERR_clear_error();
    if (arr != NULL && json_array_size(arr) == 0) {
        json_decref(arr);
        arr = NULL;
    }
    return arr != NULL ? arr : json_null();
}

int cl_is_ip_literal(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (s == NULL)
        return 0;
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}
