/* pgtls certs-gen: key generation and the key cache.
 *
 * RSA-4096 generation takes about a second, and the catalogue has a dozen
 * such keys, so keys are generated once per catalogue name and kept (PKCS#8
 * PEM, mode 0600) in a cache folder; certificates are re-signed on every gen.
 * A cached key whose type no longer matches the catalogue is replaced; one
 * that does not parse is an error (we never silently replace a key a user
 * may have pinned). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ca_internal.h"
#include "fs.h"

static const struct key_type {
    const char *name;
    const char *alg;
    size_t bits;
    const char *group;
} key_types[] = {
    {"RSA-1024", "RSA", 1024, NULL},         {"RSA-2048", "RSA", 2048, NULL},
    {"RSA-3072", "RSA", 3072, NULL},         {"RSA-4096", "RSA", 4096, NULL},
    {"RSA-PSS-2048", "RSA-PSS", 2048, NULL}, {"EC-P256", "EC", 0, "P-256"},
    {"EC-P384", "EC", 0, "P-384"},
};

int ca_key_type_valid(const char *type)
{
    for (size_t i = 0; i < sizeof(key_types) / sizeof(*key_types); i++)
        if (strcmp(key_types[i].name, type) == 0)
            return 1;
    return 0;
}

EVP_PKEY *ca_key_generate(const char *type, pgtls_err *err)
{
    EVP_PKEY *pkey = NULL;
    for (size_t i = 0; i < sizeof(key_types) / sizeof(*key_types); i++) {
        const struct key_type *kt = &key_types[i];
        if (strcmp(kt->name, type) != 0)
            continue;
        ERR_clear_error();
        if (kt->group) {
            pkey = EVP_PKEY_Q_keygen(NULL, NULL, kt->alg, kt->group);
        } else {
            /* EVP_PKEY_Q_keygen takes a size only for "RSA" in OpenSSL 3.0. */
            EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, kt->alg, NULL);
            if (ctx && EVP_PKEY_keygen_init(ctx) > 0 &&
                EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)kt->bits) > 0)
                EVP_PKEY_generate(ctx, &pkey);
            EVP_PKEY_CTX_free(ctx);
        }
        if (!pkey)
            err_ossl(err, "generating a %s key", type);
        return pkey;
    }
    err_set(err, PGTLS_ERR_INPUT, "key type '%s' is not supported", type);
    return NULL;
}

const char *ca_key_describe(EVP_PKEY *pkey, char *buf, size_t len)
{
    int id;
    if (!pkey) {
        /* A certificate whose public key OpenSSL cannot decode (a corrupt or
         * unknown algorithm, found by fuzzing `ca clone`). */
        snprintf(buf, len, "unreadable");
        return buf;
    }
    id = EVP_PKEY_get_base_id(pkey);
    if (id == EVP_PKEY_RSA) {
        snprintf(buf, len, "RSA-%d", EVP_PKEY_get_bits(pkey));
    } else if (id == EVP_PKEY_RSA_PSS) {
        snprintf(buf, len, "RSA-PSS-%d", EVP_PKEY_get_bits(pkey));
    } else if (id == EVP_PKEY_EC) {
        char group[64] = "";
        size_t glen = 0;
        EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &glen);
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
            snprintf(buf, len, "EC-P256");
        else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
            snprintf(buf, len, "EC-P384");
        else
            snprintf(buf, len, "EC-%s", group);
    } else {
        snprintf(buf, len, "%s", OBJ_nid2sn(id));
    }
    return buf;
}

char *ca_keys_default_cache(const char *catalogue_name)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg == '/')
        return str_printf("%s/pgtls/keys/%s", xdg, catalogue_name);
    return str_printf("%s/.cache/pgtls/keys/%s", home && *home ? home : "/tmp", catalogue_name);
}

static int store_key(EVP_PKEY *pkey, const char *path, pgtls_err *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    int result = -1;

    ENSURE(bio, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY_OSSL(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), err,
             "encoding the key for %s", path);
    len = BIO_get_mem_data(bio, &data);
    /* 0600 from the first byte: fs_write_file creates the temp file with it. */
    TRY(fs_write_file(path, data, (size_t)len, 0600, err));
    result = 0;
out:
    BIO_free(bio);
    return result;
}

/* Reads path into *out when it holds a key of the wanted type; *out stays
 * NULL when the file is absent or holds another type (stale). Returns -1
 * when the file is corrupt. */
static int read_cached(const ca_key *key, const char *path, EVP_PKEY **out, pgtls_err *err)
{
    char *text = NULL;
    size_t len = 0;
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    char have[32];
    int result = -1;

    *out = NULL;
    if (!fs_exists(path))
        return 0;
    TRY(fs_read_file(path, 1 << 20, &text, &len, err));
    bio = BIO_new_mem_buf(text, (int)len);
    ENSURE(bio, err, PGTLS_ERR_NOMEM, "out of memory");
    ERR_clear_error();
    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    if (!pkey) {
        ERR_clear_error();
        err_set(err, PGTLS_ERR_INPUT,
                "%s: cached key '%s' is corrupt (not a PEM private key); delete the file "
                "(or the whole key cache) and run 'pgtls ca gen' again to make a new one",
                path, key->name);
        goto out;
    }
    if (strcmp(ca_key_describe(pkey, have, sizeof(have)), key->type) == 0) {
        /* Keys written by older versions or by hand: enforce 0600. */
        chmod(path, 0600);
        *out = pkey;
        pkey = NULL;
    } /* else: the catalogue changed the key type, the cached key is stale */
    result = 0;
out:
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    free(text);
    return result;
}

int ca_key_load(ca_key *key, const char *cache_dir, pgtls_err *err)
{
    char *path = NULL, *lock_path = NULL;
    EVP_PKEY *pkey = NULL;
    int lock_fd = -1, result = -1;

    path = str_printf("%s/%s.key", cache_dir, key->name);
    ENSURE(path, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY(read_cached(key, path, &pkey, err));
    if (!pkey) {
        if (fs_mkdir_p(cache_dir, 0700, err) < 0) {
            err_prefix(err, "key cache (pass a writable --key-cache DIR)");
            goto out;
        }
        /* Several gens may start cold at once (parallel tests): one lock per
         * cache makes them share the work instead of each generating every
         * RSA-4096 key; the loser of the race re-reads what the winner wrote. */
        lock_path = str_printf("%s/.lock", cache_dir);
        ENSURE(lock_path, err, PGTLS_ERR_NOMEM, "out of memory");
        lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        ENSURE(lock_fd >= 0, err, PGTLS_ERR_IO,
               "cannot open %s: %s (pass a writable --key-cache DIR)", lock_path, strerror(errno));
        while (flock(lock_fd, LOCK_EX) != 0 && errno == EINTR)
            ;
        TRY(read_cached(key, path, &pkey, err));
        if (!pkey) {
            pkey = ca_key_generate(key->type, err);
            if (!pkey)
                goto out;
            TRY(store_key(pkey, path, err));
        }
    }
    EVP_PKEY_free(key->pkey);
    key->pkey = pkey; /* ownership moves to the key */
    pkey = NULL;
    free(key->cache_path);
    key->cache_path = path;
    path = NULL;
    result = 0;
out:
    if (lock_fd >= 0)
        close(lock_fd); /* releases the lock */
    EVP_PKEY_free(pkey);
    free(lock_path);
    free(path);
    return result;
}
