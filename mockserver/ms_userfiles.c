/* pgtls mock --cert FILE --key FILE [--ca FILE]: serves any chain without a
 * catalogue. A fixtures index of one scenario ("own") is written into a
 * private temporary folder (0700); it names the user's files by absolute
 * path, so the key is read where it is and never copied. The scenario takes
 * the server defaults of the Azure look-alikes (TLS 1.2+, SCRAM-SHA-256, user
 * pgtls) and the host name of the certificate (first DNS name, else its CN). */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixtures.h"
#include "fs.h"
#include "ms.h"

/* The host name a client would connect with: the leaf's first DNS SAN, else
 * its CN, else localhost. */
static char *leaf_host(const char *cert_path, pgtls_err *err)
{
    BIO *b = BIO_new_file(cert_path, "r");
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    char *host = NULL;
    BIO_free(b);
    if (!x) {
        err_set(err, PGTLS_ERR_CONFIG,
                "--cert %s is not a PEM certificate chain (give the server certificate first, "
                "then its intermediates, as PostgreSQL's ssl_cert_file)",
                cert_path);
        return NULL;
    }
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && !host; i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type == GEN_DNS)
            host = strndup((const char *)ASN1_STRING_get0_data(g->d.dNSName),
                           (size_t)ASN1_STRING_length(g->d.dNSName));
    }
    GENERAL_NAMES_free(names);
    if (!host) {
        char cn[256];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
                                      sizeof(cn)) > 0)
            host = strdup(cn);
    }
    X509_free(x);
    if (host && host[0] == '*') /* a wildcard: any name under it */
        host[0] = 'x';
    return host ? host : strdup("localhost");
}

char *ms_userfiles_fixtures(const char *cert, const char *key, const char *ca, pgtls_err *err)
{
    char cert_abs[PATH_MAX], key_abs[PATH_MAX], ca_abs[PATH_MAX];
    char tmpl[] = "/tmp/pgtls-mock-own-XXXXXX";
    char *dir = NULL, *host = NULL, *index_path = NULL, *text = NULL;
    json_t *doc = NULL;

    if (!realpath(cert, cert_abs)) {
        err_set(err, PGTLS_ERR_CONFIG, "--cert %s: %s", cert, strerror(errno));
        return NULL;
    }
    if (!realpath(key, key_abs)) {
        err_set(err, PGTLS_ERR_CONFIG, "--key %s: %s", key, strerror(errno));
        return NULL;
    }
    if (ca && !realpath(ca, ca_abs)) {
        err_set(err, PGTLS_ERR_CONFIG, "--ca %s: %s", ca, strerror(errno));
        return NULL;
    }
    if (!(host = leaf_host(cert_abs, err)))
        return NULL;
    if (!mkdtemp(tmpl)) {
        err_set(err, PGTLS_ERR_IO, "cannot make a temporary folder: %s", strerror(errno));
        goto fail;
    }
    dir = strdup(tmpl);
    json_t *verify = json_object();
    json_t *stores = json_object();
    if (ca) {
        json_object_set_new(stores, "own-ca",
                            json_pack("{s:s,s:s,s:[],s:s}", "kind", "roots", "pem", ca_abs, "certs",
                                      "description", "the root file given with --ca"));
        json_object_set_new(verify, "own-ca", json_string("ok"));
    }
    doc = json_pack(
        "{s:s,s:s,s:s,s:{},s:{s:{s:s,s:s,s:[],s:s}},s:o,s:{s:{s:s,s:s,s:s,s:b,s:{},s:o}}}",
        "schema", FX_SCHEMA, "default_host", host, "catalogue", "(none: pgtls mock --cert/--key)",
        "certs", "chains", "own", "pem", cert_abs, "key", key_abs, "certs", "description",
        "the chain given with --cert", "stores", stores, "scenarios", "own", "description",
        "your own certificate chain and key (--cert/--key)", "chain", "own", "host", host,
        "host_match", 1, "server", "verify", verify);
    if (!doc) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    index_path = fs_join(dir, "index.json");
    text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
    if (!index_path || !text || fs_write_file(index_path, text, strlen(text), 0600, err) < 0)
        goto fail;
    free(index_path);
    free(text);
    json_decref(doc);
    free(host);
    return dir;
fail:
    if (index_path)
        unlink(index_path);
    if (dir)
        rmdir(dir);
    free(index_path);
    free(text);
    json_decref(doc);
    free(dir);
    free(host);
    return NULL;
}

void ms_userfiles_remove(char *dir)
{
    if (!dir)
        return;
    char *index_path = fs_join(dir, "index.json");
    if (index_path)
        unlink(index_path);
    free(index_path);
    rmdir(dir);
    free(dir);
}
