/* pgtls certs-gen: the fixtures folder (docs/fixtures-index.md).
 *
 * certs/<name>.{pem,der}, chains/<chain>.pem (leaf first, as the server sends
 * it), keys/<key>.key (0600, leaf keys only), stores/<store>.pem and .p12,
 * stores/system.d/ (c_rehash-style <hash>.<n> names for SSL_CERT_DIR), and
 * index.json. The caller writes into an empty temporary folder and renames it
 * into place. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca_internal.h"
#include "fs.h"
#include "pgtls-config.h"

static char *hex(const unsigned char *b, size_t n)
{
    char *s = malloc(n * 2 + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++)
        snprintf(s + 2 * i, 3, "%02x", b[i]);
    s[n * 2] = '\0';
    return s;
}

static void iso_time(const ASN1_TIME *t, char *out, size_t len)
{
    struct tm tm;
    if (ASN1_TIME_to_tm(t, &tm) == 1)
        strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(out, len, "invalid");
}

/* Files go into a fresh temporary folder that is renamed into place as a
 * whole, so each file needs neither its own temp-and-rename nor an fsync
 * (fs_write_file does both; 300 fsyncs made a warm gen disk-bound). The
 * mode is set at creation, so keys are 0600 from the first byte. */
static int write_new_file(const char *path, const void *data, size_t len, mode_t mode,
                          pgtls_err *err)
{
    const char *p = data;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return err_set(err, PGTLS_ERR_IO, "cannot create %s: %s (choose a writable --out)", path,
                       strerror(errno));
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = errno;
            close(fd);
            return err_set(err, PGTLS_ERR_IO, "cannot write %s: %s (check free space)", path,
                           strerror(e));
        }
        p += n;
        len -= (size_t)n;
    }
    if (close(fd) != 0)
        return err_set(err, PGTLS_ERR_IO, "cannot write %s: %s (check free space)", path,
                       strerror(errno));
    return 0;
}

static int write_bio(BIO *bio, const char *path, mode_t mode, pgtls_err *err)
{
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    return write_new_file(path, data, (size_t)len, mode, err);
}

static int write_pem_list(ca_cert **certs, size_t n, const char *path, pgtls_err *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int result = -1;
    ENSURE(bio, err, PGTLS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        TRY_OSSL(PEM_write_bio_X509(bio, certs[i]->x509), err, "encoding %s", certs[i]->name);
    TRY(write_bio(bio, path, 0644, err));
    result = 0;
out:
    BIO_free(bio);
    return result;
}

int ca_write_p12(STACK_OF(X509) * certs, char **aliases, const char *password, const char *path,
                 pgtls_err *err)
{
    STACK_OF(PKCS12_SAFEBAG) *bags = sk_PKCS12_SAFEBAG_new_null();
    STACK_OF(PKCS7) *safes = sk_PKCS7_new_null();
    PKCS7 *p7 = NULL;
    PKCS12 *p12 = NULL;
    ASN1_OBJECT *any_eku = OBJ_txt2obj("2.5.29.37.0", 1);
    BIO *bio = BIO_new(BIO_s_mem());
    int result = -1;

    ENSURE(bags && safes && any_eku && bio, err, PGTLS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < sk_X509_num(certs); i++) {
        PKCS12_SAFEBAG *bag = PKCS12_SAFEBAG_create_cert(sk_X509_value(certs, i));
        TRY_OSSL(bag, err, "PKCS#12 bag for %s", aliases[i]);
        if (!sk_PKCS12_SAFEBAG_push(bags, bag)) {
            PKCS12_SAFEBAG_free(bag);
            err_set(err, PGTLS_ERR_NOMEM, "out of memory");
            goto out;
        }
        TRY_OSSL(PKCS12_add_friendlyname_asc(bag, aliases[i], -1), err, "alias %s", aliases[i]);
        /* Java (PKCS12KeyStore) treats a certificate-only bag as a trusted
         * certificate entry only with Oracle's trusted-key-usage attribute
         * 2.16.840.1.113894.746875.1.1 = anyExtendedKeyUsage; len -1 passes
         * the ASN1_OBJECT itself. */
        TRY_OSSL(PKCS12_add1_attr_by_txt(bag, "2.16.840.1.113894.746875.1.1", V_ASN1_OBJECT,
                                         (const unsigned char *)any_eku, -1),
                 err, "Java trust attribute for %s", aliases[i]);
    }
    /* Certificates are public: an unencrypted data safe, integrity by MAC. */
    p7 = PKCS12_pack_p7data(bags);
    TRY_OSSL(p7, err, "PKCS#12 safe");
    if (!sk_PKCS7_push(safes, p7)) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        goto out;
    }
    p7 = NULL; /* owned by safes */
    p12 = PKCS12_add_safes(safes, 0);
    TRY_OSSL(p12, err, "PKCS#12 container");
    TRY_OSSL(PKCS12_set_mac(p12, password, -1, NULL, 0, 2048, EVP_sha256()), err, "PKCS#12 MAC");
    TRY_OSSL(i2d_PKCS12_bio(bio, p12), err, "encoding %s", path);
    TRY(write_bio(bio, path, 0644, err));
    result = 0;
out:
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    PKCS7_free(p7);
    PKCS12_free(p12);
    ASN1_OBJECT_free(any_eku);
    BIO_free(bio);
    return result;
}

static int write_cert(ca_cert *c, const char *dir, json_t *certs, pgtls_err *err)
{
    char *pem_rel = str_printf("certs/%s.pem", c->name);
    char *der_rel = str_printf("certs/%s.der", c->name);
    char *pem = NULL, *der_path = NULL, *subject = NULL, *issuer = NULL, *serial = NULL,
         *digest_hex = NULL;
    unsigned char *der = NULL, digest[32];
    int der_len;
    BIGNUM *bn = NULL;
    char nb[32], na[32], ktype[32];
    json_t *obj, *differs = NULL;
    int result = -1;
    ca_cert *ca_ca = c;

    ENSURE(pem_rel && der_rel, err, PGTLS_ERR_NOMEM, "out of memory");
    pem = fs_join(dir, pem_rel);
    der_path = fs_join(dir, der_rel);
    ENSURE(pem && der_path, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY(write_pem_list(&ca_ca, 1, pem, err));
    der_len = i2d_X509(c->x509, &der);
    TRY_OSSL(der_len > 0, err, "DER of %s", c->name);
    TRY(write_new_file(der_path, der, (size_t)der_len, 0644, err));
    EVP_Digest(der, (size_t)der_len, digest, NULL, EVP_sha256(), NULL);
    digest_hex = hex(digest, sizeof(digest));
    subject = ca_dn_string(X509_get_subject_name(c->x509));
    issuer = ca_dn_string(X509_get_issuer_name(c->x509));
    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c->x509), NULL);
    serial = bn ? BN_bn2hex(bn) : NULL;
    ENSURE(digest_hex && subject && issuer && serial, err, PGTLS_ERR_NOMEM, "out of memory");
    iso_time(X509_get0_notBefore(c->x509), nb, sizeof(nb));
    iso_time(X509_get0_notAfter(c->x509), na, sizeof(na));
    if (c->num_differs) {
        differs = json_object();
        ENSURE(differs, err, PGTLS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < c->num_differs; i++)
            ENSURE(json_object_set_new(differs, c->differs[i].key,
                                       json_string(c->differs[i].value)) == 0,
                   err, PGTLS_ERR_NOMEM, "out of memory");
    }
    obj = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:s, s:o?}",
                    "role", c->role, "subject", subject, "issuer", issuer, "serial", serial,
                    "self_signed", c->issuer == c, "not_before", nb, "not_after", na, "key",
                    c->key->name, "key_type", ca_key_describe(c->key->pkey, ktype, sizeof(ktype)),
                    "signature", OBJ_nid2ln(X509_get_signature_nid(c->x509)), "sha256", digest_hex,
                    "pem", pem_rel, "der", der_rel, "lookalike_of", c->lookalike_of, "description",
                    c->description ? c->description : "", "differs", differs);
    differs = NULL; /* json_pack's "o" took the reference, even on failure */
    ENSURE(obj && json_object_set_new(certs, c->name, obj) == 0, err, PGTLS_ERR_NOMEM,
           "out of memory");
    result = 0;
out:
    free(pem_rel);
    free(der_rel);
    free(pem);
    free(der_path);
    free(subject);
    free(issuer);
    OPENSSL_free(serial);
    BN_free(bn);
    free(digest_hex);
    OPENSSL_free(der);
    json_decref(differs);
    return result;
}

static int write_key(ca_key *k, const char *dir, pgtls_err *err)
{
    char *path = str_printf("%s/keys/%s.key", dir, k->name);
    BIO *bio = BIO_new(BIO_s_mem());
    int result = -1;
    ENSURE(path && bio, err, PGTLS_ERR_NOMEM, "out of memory");
    if (fs_exists(path)) {
        result = 0;
        goto out;
    }
    TRY_OSSL(PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL), err,
             "encoding key %s", k->name);
    TRY(write_bio(bio, path, 0600, err));
    result = 0;
out:
    free(path);
    BIO_free(bio);
    return result;
}

static int write_chain(ca_chain *ch, const char *dir, json_t *chains, pgtls_err *err)
{
    char *pem_rel = str_printf("chains/%s.pem", ch->name);
    char *key_rel = str_printf("keys/%s.key", ch->resolved[0]->key->name);
    char *pem = NULL;
    json_t *names = json_array(), *obj;
    int result = -1;

    ENSURE(pem_rel && key_rel && names, err, PGTLS_ERR_NOMEM, "out of memory");
    pem = fs_join(dir, pem_rel);
    ENSURE(pem, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY(write_pem_list(ch->resolved, ch->num_certs, pem, err));
    TRY(write_key(ch->resolved[0]->key, dir, err));
    for (size_t i = 0; i < ch->num_certs; i++)
        json_array_append_new(names, json_string(ch->certs[i]));
    obj = json_pack("{s:O, s:s, s:s, s:s, s:s}", "certs", names, "leaf", ch->certs[0], "pem",
                    pem_rel, "key", key_rel, "description", ch->description ? ch->description : "");
    ENSURE(obj && json_object_set_new(chains, ch->name, obj) == 0, err, PGTLS_ERR_NOMEM,
           "out of memory");
    result = 0;
out:
    json_decref(names);
    free(pem_rel);
    free(key_rel);
    free(pem);
    return result;
}

/* c_rehash layout: <subject hash>.<n> for SSL_CERT_DIR (X509_LOOKUP_hash_dir). */
static int write_hashed_dir(ca_store *st, const char *dir, pgtls_err *err)
{
    int result = -1;
    TRY(fs_mkdir_p(dir, 0755, err));
    for (size_t i = 0; i < st->num_certs; i++) {
        unsigned long h = X509_subject_name_hash(st->resolved[i]->x509);
        char *path = NULL;
        for (int n = 0; n < 100; n++) {
            free(path);
            path = str_printf("%s/%08lx.%d", dir, h, n);
            ENSURE(path, err, PGTLS_ERR_NOMEM, "out of memory");
            if (!fs_exists(path))
                break;
        }
        if (write_pem_list(&st->resolved[i], 1, path, err) < 0) {
            free(path);
            goto out;
        }
        free(path);
    }
    result = 0;
out:
    return result;
}

static int write_store(ca_store *st, const char *dir, json_t *stores, pgtls_err *err)
{
    char *pem_rel = str_printf("stores/%s.pem", st->name);
    char *p12_rel = str_printf("stores/%s.p12", st->name);
    char *sys_rel = str_printf("stores/%s.d", st->name);
    char *pem = NULL, *p12 = NULL, *sys = NULL;
    int is_missing = strcmp(st->kind, "missing") == 0;
    int is_empty = strcmp(st->kind, "empty") == 0;
    int is_system = strcmp(st->kind, "system") == 0;
    STACK_OF(X509) *sk = sk_X509_new_null();
    json_t *names = json_array(), *obj;
    int result = -1;

    ENSURE(pem_rel && p12_rel && sys_rel && sk && names, err, PGTLS_ERR_NOMEM, "out of memory");
    pem = fs_join(dir, pem_rel);
    p12 = fs_join(dir, p12_rel);
    sys = fs_join(dir, sys_rel);
    ENSURE(pem && p12 && sys, err, PGTLS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < st->num_certs; i++) {
        json_array_append_new(names, json_string(st->certs[i]));
        ENSURE(sk_X509_push(sk, st->resolved[i]->x509), err, PGTLS_ERR_NOMEM, "out of memory");
    }
    if (!is_missing) /* "missing" names a path that must not exist */
        TRY(write_pem_list(st->resolved, st->num_certs, pem, err));
    if (!is_missing && !is_empty)
        TRY(ca_write_p12(sk, st->certs, CA_P12_PASSWORD, p12, err));
    if (is_system)
        TRY(write_hashed_dir(st, sys, err));
    obj = json_pack("{s:s, s:O, s:s, s:s?, s:s?, s:s?, s:s}", "kind", st->kind, "certs", names,
                    "pem", pem_rel, "p12", is_missing || is_empty ? NULL : p12_rel, "p12_password",
                    is_missing || is_empty ? NULL : CA_P12_PASSWORD, "system_dir",
                    is_system ? sys_rel : NULL, "description",
                    st->description ? st->description : "");
    ENSURE(obj && json_object_set_new(stores, st->name, obj) == 0, err, PGTLS_ERR_NOMEM,
           "out of memory");
    result = 0;
out:
    sk_X509_free(sk);
    json_decref(names);
    free(pem_rel);
    free(p12_rel);
    free(sys_rel);
    free(pem);
    free(p12);
    free(sys);
    return result;
}

static json_t *server_json(ca_catalogue *cat, ca_scenario *sc)
{
    static const char *const bools[] = {"ssl", "require_secure_transport", "client_cert",
                                        "direct_tls"};
    static const char *const strs[] = {"ssl_min_protocol_version",
                                       "ssl_max_protocol_version",
                                       "ssl_ciphers",
                                       "ssl_tls13_ciphers",
                                       "ssl_groups",
                                       "auth",
                                       "user",
                                       "password",
                                       "server_version"};
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (size_t i = 0; i < sizeof(bools) / sizeof(*bools); i++) {
        const char *v = ca_scenario_server(cat, sc, bools[i]);
        int b = v && (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "on") == 0);
        json_object_set_new(obj, bools[i], json_boolean(b));
    }
    for (size_t i = 0; i < sizeof(strs) / sizeof(*strs); i++) {
        const char *v = ca_scenario_server(cat, sc, strs[i]);
        json_object_set_new(obj, strs[i], json_string(v ? v : ""));
    }
    return obj;
}

static int is_time_result(const char *r)
{
    return strcmp(r, "ok") == 0 || strcmp(r, "expired") == 0 || strcmp(r, "not-yet-valid") == 0;
}

/* As of a date, the catalogue's declarations about time ("ok", "expired",
 * "not-yet-valid") may no longer hold: a chain declared ok may have expired
 * by then, one declared expired may still be valid. Recomputes the result
 * with X509_verify_cert on the re-dated certificates and writes it to out
 * when both the declaration and the result are about time and differ.
 * Returns 1 when out holds a new result, 0 when the declaration stands. */
static int as_of_verify(ca_catalogue *cat, ca_scenario *sc, ca_store *st, const char *declared,
                        char *out, size_t out_len)
{
    ca_chain *ch = ca_catalogue_chain(cat, sc->chain);
    STACK_OF(X509) *chain = NULL, *trusted = NULL;
    pgtls_err ignored = {0};
    int changed = 0;

    if (!ch || !is_time_result(declared) || strcmp(st->kind, "missing") == 0 ||
        strcmp(st->kind, "empty") == 0 || st->num_certs == 0)
        return 0;
    chain = sk_X509_new_null();
    trusted = sk_X509_new_null();
    if (!chain || !trusted)
        goto out;
    for (size_t i = 0; i < ch->num_certs; i++)
        if (!ch->resolved[i]->x509 || !sk_X509_push(chain, ch->resolved[i]->x509))
            goto out;
    for (size_t i = 0; i < st->num_certs; i++)
        if (!st->resolved[i]->x509 || !sk_X509_push(trusted, st->resolved[i]->x509))
            goto out;
    if (ca_verify_chain(chain, trusted, 0, out, out_len, &ignored) == 0 && is_time_result(out) &&
        strcmp(out, declared) != 0)
        changed = 1;
out:
    sk_X509_free(chain); /* the certificates belong to the catalogue */
    sk_X509_free(trusted);
    return changed;
}

static int write_scenario(ca_catalogue *cat, ca_scenario *sc, json_t *scenarios, pgtls_err *err)
{
    int no_tls = strcmp(sc->chain, "none") == 0;
    json_t *verify = json_object(), *server = server_json(cat, sc), *obj;
    ENSURE(verify && server, err, PGTLS_ERR_NOMEM, "out of memory");
    if (!no_tls)
        for (size_t i = 0; i < cat->num_stores; i++) {
            const char *declared = ca_scenario_verify(cat, sc, &cat->stores[i]);
            char dated[160];
            if (cat->as_of && declared &&
                as_of_verify(cat, sc, &cat->stores[i], declared, dated, sizeof(dated)) == 1)
                declared = dated;
            json_object_set_new(verify, cat->stores[i].name, json_string(declared));
        }
    obj = json_pack("{s:s, s:s?, s:s, s:b, s:O, s:O}", "description",
                    sc->description ? sc->description : "", "chain", no_tls ? NULL : sc->chain,
                    "host", sc->host ? sc->host : cat->default_host, "host_match",
                    sc->host_match != 0, "server", server, "verify", verify);
    ENSURE(obj && json_object_set_new(scenarios, sc->name, obj) == 0, err, PGTLS_ERR_NOMEM,
           "out of memory");
    json_decref(verify);
    json_decref(server);
    return 0;
out:
    json_decref(verify);
    json_decref(server);
    return -1;
}

int ca_write_fixtures(ca_catalogue *cat, const char *dir, time_t now, pgtls_err *err)
{
    static const char *const subdirs[] = {"certs", "chains", "keys", "stores"};
    json_t *root = NULL, *certs, *chains, *stores, *scenarios;
    char *index_path = NULL, *sha = NULL, *text = NULL, abs_cat[PATH_MAX], when[32];
    struct tm tm;
    int result = -1;

    for (size_t i = 0; i < sizeof(subdirs) / sizeof(*subdirs); i++) {
        char *p = fs_join(dir, subdirs[i]);
        ENSURE(p, err, PGTLS_ERR_NOMEM, "out of memory");
        if (fs_mkdir_p(p, strcmp(subdirs[i], "keys") == 0 ? 0700 : 0755, err) < 0) {
            free(p);
            goto out;
        }
        free(p);
    }
    certs = json_object();
    chains = json_object();
    stores = json_object();
    scenarios = json_object();
    sha = hex(cat->sha256, sizeof(cat->sha256));
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    root = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "schema",
                     "pgtls-fixtures/1", "pgtls_version", PGTLS_VERSION, "catalogue",
                     realpath(cat->path, abs_cat) ? abs_cat : cat->path, "catalogue_sha256",
                     sha ? sha : "", "generated_at", when, "default_host", cat->default_host,
                     "certs", certs, "chains", chains, "stores", stores, "scenarios", scenarios);
    ENSURE(root && sha, err, PGTLS_ERR_NOMEM, "out of memory");
    if (cat->as_of) {
        /* as_of: the date the fixtures are dated as of (docs/rotation-in-time.md) */
        char day[32];
        gmtime_r(&cat->as_of, &tm);
        strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%SZ", &tm);
        ENSURE(json_object_set_new(root, "as_of", json_string(day)) == 0 &&
                   json_object_set_new(root, "as_of_shift_s", json_integer(cat->as_of_shift)) == 0,
               err, PGTLS_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < cat->num_certs; i++)
        TRY(write_cert(&cat->certs[i], dir, certs, err));
    for (size_t i = 0; i < cat->num_chains; i++)
        TRY(write_chain(&cat->chains[i], dir, chains, err));
    for (size_t i = 0; i < cat->num_stores; i++)
        TRY(write_store(&cat->stores[i], dir, stores, err));
    for (size_t i = 0; i < cat->num_scenarios; i++)
        TRY(write_scenario(cat, &cat->scenarios[i], scenarios, err));
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    index_path = fs_join(dir, "index.json");
    ENSURE(text && index_path, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY(write_new_file(index_path, text, strlen(text), 0644, err));
    result = 0;
out:
    json_decref(root);
    free(sha);
    free(text);
    free(index_path);
    return result;
}
