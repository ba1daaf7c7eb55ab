/* pgtls certs-gen: a customer's trust store over the look-alike world.
 *
 * Each real certificate of the store that has a look-alike twin in the
 * fixtures is replaced by its twin (ca_translate.h: same subject, issuer and
 * serial number, so the two forms of ICA 03 and the self-signed and
 * cross-signed Microsoft TLS RSA Root G2 stay apart); a pinned Azure server
 * certificate (no twin: every server has its own) is replaced by the
 * leaf the old chain serves (the one a customer pinned before the
 * rotation); every other certificate stays as it is (it anchors nothing the
 * mock sends, as in the real world). The structure of the customer's trust
 * (root-only, pinned intermediate, pinned leaf, stale root) is kept, so the
 * mock's chains meet it as the real server's would.
 *
 * The result is an overlay fixtures folder: the original's certs, chains,
 * keys and stores linked in, index.json copied with one more store
 * ("customer") and its verify result declared for every scenario. */
#include <errno.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca.h"
#include "ca_internal.h"
#include "ca_translate.h"
#include "fixtures.h"
#include "fs.h"

static X509 *load_pem(const char *path)
{
    BIO *b = BIO_new_file(path, "r");
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    return x;
}

static STACK_OF(X509) * load_pem_all(const char *path)
{
    BIO *b = BIO_new_file(path, "r");
    STACK_OF(X509) *sk = sk_X509_new_null();
    X509 *x;
    while (b && sk && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        sk_X509_push(sk, x);
    BIO_free(b);
    ERR_clear_error();
    return sk;
}

static int is_azure_leaf(X509 *x)
{
    static const char *const suffixes[] = {".postgres.database.azure.com",
                                           ".postgres.database.chinacloudapi.cn",
                                           ".postgres.database.usgovcloudapi.net"};
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int found = 0;
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        if (gn->type == GEN_DNS)
            for (size_t k = 0; k < sizeof(suffixes) / sizeof(*suffixes); k++)
                found |= str_ends_with((const char *)ASN1_STRING_get0_data(gn->d.dNSName),
                                       suffixes[k]);
    }
    GENERAL_NAMES_free(sans);
    return found && !X509_check_ca(x);
}

static int link_into(const char *from_dir, const char *to_dir, const char *name, pgtls_err *err)
{
    char *target = fs_join(from_dir, name), *link_path = fs_join(to_dir, name);
    int result = -1;
    ENSURE(target && link_path, err, PGTLS_ERR_NOMEM, "out of memory");
    ENSURE(symlink(target, link_path) == 0, err, PGTLS_ERR_IO, "cannot link %s: %s", link_path,
           strerror(errno));
    result = 0;
out:
    free(target);
    free(link_path);
    return result;
}

int ca_translate_store(const char *store_path, const char *password, const char *fixtures_dir,
                       const char *host, const char *out_dir, FILE *report, pgtls_err *err)
{
    fx_index *idx = NULL;
    ca_twins *twins = NULL;
    ca_translation tr;
    STACK_OF(X509) *customer = NULL, *translated = NULL;
    char format[160] = "", *abs_fx = NULL, *dir = NULL, *pem = NULL, *p12 = NULL;
    char *text = NULL, *index_path = NULL;
    json_t *root = NULL, *names = json_array();
    const char *old_leaf = NULL;
    X509 *old_leaf_x509 = NULL;
    int result = -1;

    memset(&tr, 0, sizeof(tr));
    ENSURE(names, err, PGTLS_ERR_NOMEM, "out of memory");
    idx = fx_index_load(fixtures_dir, err);
    if (!idx)
        goto out;
    twins = ca_twins_load(fixtures_dir, err);
    if (!twins)
        goto out;
    if (store_path) {
        customer = ca_store_read(store_path, password, format, sizeof(format), err);
        if (!customer)
            goto out;
    } else {
        customer = sk_X509_new_null();
        ENSURE(customer, err, PGTLS_ERR_NOMEM, "out of memory");
    }
    TRY(ca_translate(twins, customer, CA_TRANSLATE_REPLACE, &tr, err));
    translated = tr.certs;
    root = json_deep_copy(fx_index_json(idx));
    ENSURE(root, err, PGTLS_ERR_NOMEM, "out of memory");
    old_leaf = json_string_value(
        json_object_get(json_object_get(json_object_get(root, "chains"), "azure-old-03"), "leaf"));
    if (report && store_path)
        fprintf(report, "store %s (%s): %d certificate(s) over the look-alike world\n", store_path,
                format, sk_X509_num(customer));
    for (size_t i = 0; i < tr.num_entries; i++) {
        const ca_translate_entry *e = &tr.entries[i];
        X509 *x = sk_X509_value(customer, (int)i);
        const char *name = e->twin ? e->twin : e->lookalike;
        char how[256];
        if (e->twin)
            snprintf(how, sizeof(how), "replaced by its look-alike twin: %s", e->twin);
        else if (e->lookalike)
            snprintf(how, sizeof(how), "already the look-alike %s", e->lookalike);
        else
            snprintf(how, sizeof(how), "no twin (no look-alike with its subject, issuer and "
                                       "serial): kept as it is");
        if (!name && old_leaf && is_azure_leaf(x)) {
            /* every server has its own certificate: a pinned one stands for
             * the leaf the old chain serves, the one pinned before the
             * rotation */
            char *leaf_pem = fx_cert_pem(idx, old_leaf);
            old_leaf_x509 = leaf_pem ? load_pem(leaf_pem) : NULL;
            free(leaf_pem);
            ENSURE(old_leaf_x509, err, PGTLS_ERR_IO,
                   "cannot read the look-alike %s in %s (regenerate with 'pgtls ca gen')",
                   old_leaf, fixtures_dir);
            for (int k = 0; k < sk_X509_num(translated); k++)
                if (X509_cmp(sk_X509_value(translated, k), x) == 0) {
                    X509_free(sk_X509_set(translated, k, old_leaf_x509));
                    old_leaf_x509 = NULL; /* owned by translated now */
                    break;
                }
            X509_free(old_leaf_x509);
            old_leaf_x509 = NULL;
            name = old_leaf;
            snprintf(how, sizeof(how),
                     "pinned server certificate: replaced by the leaf the old chain serves: %s",
                     old_leaf);
        }
        if (name)
            json_array_append_new(names, json_string(name));
        if (report)
            fprintf(report, "  %-3zu %s\n      %s\n", i + 1, e->subject, how);
    }

    /* the overlay folder */
    abs_fx = realpath(fixtures_dir, NULL);
    ENSURE(abs_fx, err, PGTLS_ERR_IO, "cannot resolve %s: %s", fixtures_dir, strerror(errno));
    TRY(link_into(abs_fx, out_dir, "certs", err));
    TRY(link_into(abs_fx, out_dir, "chains", err));
    TRY(link_into(abs_fx, out_dir, "keys", err));
    TRY(link_into(abs_fx, out_dir, "stores", err));
    dir = fs_join(out_dir, "customer");
    ENSURE(dir, err, PGTLS_ERR_NOMEM, "out of memory");
    pem = fs_join(dir, "store.pem");
    p12 = fs_join(dir, "store.p12");
    ENSURE(pem && p12, err, PGTLS_ERR_NOMEM, "out of memory");
    if (store_path) {
        BIO *b;
        int ok;
        TRY(fs_mkdir_p(dir, 0755, err));
        b = BIO_new_file(pem, "w");
        ok = b != NULL;
        for (int i = 0; ok && i < sk_X509_num(translated); i++)
            ok = PEM_write_bio_X509(b, sk_X509_value(translated, i));
        ok = BIO_free(b) && ok;
        ENSURE(ok, err, PGTLS_ERR_IO, "cannot write %s", pem);
        TRY(ca_store_write_p12(translated, "changeit", p12, err));
        json_object_set_new(json_object_get(root, "stores"), "customer",
                            json_pack("{s:s, s:O, s:s, s:s, s:s, s:n, s:s}", "kind", "roots",
                                      "certs", names, "pem", "customer/store.pem", "p12",
                                      "customer/store.p12", "p12_password", "changeit",
                                      "system_dir", "description",
                                      "the customer's store, translated"));
    }
    {
        /* what libpq would conclude for each scenario, and the host */
        const char *sname;
        json_t *sc;
        json_object_foreach(json_object_get(root, "scenarios"), sname, sc)
        {
            const char *chain = json_string_value(json_object_get(sc, "chain"));
            json_t *ch = json_object_get(json_object_get(root, "chains"), chain ? chain : "");
            const char *chain_pem = json_string_value(json_object_get(ch, "pem"));
            char *path = chain_pem ? fs_join(abs_fx, chain_pem) : NULL;
            STACK_OF(X509) *sent = path ? load_pem_all(path) : NULL;
            char verdict[128] = "untrusted";
            free(path);
            if (sent && sk_X509_num(sent) > 0) {
                if (store_path)
                    TRY(ca_verify_chain(sent, translated, 0, verdict, sizeof(verdict), err));
                if (host) {
                    json_object_set_new(sc, "host", json_string(host));
                    json_object_set_new(sc, "host_match",
                                        json_boolean(ca_host_matches(sk_X509_value(sent, 0),
                                                                     host) == 1));
                }
            }
            sk_X509_pop_free(sent, X509_free);
            if (store_path && json_is_object(json_object_get(sc, "verify")))
                json_object_set_new(json_object_get(sc, "verify"), "customer",
                                    json_string(verdict));
        }
    }
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    index_path = fs_join(out_dir, "index.json");
    ENSURE(text && index_path, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY(fs_write_file(index_path, text, strlen(text), 0644, err));
    result = 0;
out:
    ca_translation_cleanup(&tr);
    ca_twins_free(twins);
    sk_X509_pop_free(customer, X509_free);
    json_decref(root);
    json_decref(names);
    fx_index_free(idx);
    free(abs_fx);
    free(dir);
    free(pem);
    free(p12);
    free(text);
    free(index_path);
    return result;
}
