/* pgtls entra: the mock tenant in DIR/entra (tenant.json + tenant-key.pem),
 * its identities, and the access tokens it issues. */
#include <errno.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "en_jwt.h"
#include "entra.h"
#include "fs.h"

#define TENANT_JSON "tenant.json"
#define TENANT_KEY "tenant-key.pem"

static const char *const fault_names[EN_FAULT_COUNT] = {
    "none", "expired", "not-yet-valid", "wrong-audience", "foreign-key", "throttle"};

int en_fault_parse(const char *s, en_fault *out)
{
    for (int i = 0; i < EN_FAULT_COUNT; i++)
        if (s && strcmp(s, fault_names[i]) == 0) {
            *out = (en_fault)i;
            return 0;
        }
    return -1;
}

const char *en_fault_name(en_fault f)
{
    return (unsigned)f < EN_FAULT_COUNT ? fault_names[f] : "none";
}

void en_guid_random(char out[37])
{
    unsigned char b[16];
    RAND_bytes(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

int en_guid_valid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};
    size_t i, d = 0;
    if (!s || strlen(s) != 36)
        return 0;
    for (i = 0; i < 36; i++) {
        if (d < 4 && (int)i == dash[d]) {
            if (s[i] != '-')
                return 0;
            d++;
        } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
                     (s[i] >= 'A' && s[i] <= 'F')))
            return 0;
    }
    return 1;
}

static void mi_res_id_of(const en_tenant *t, en_identity *id)
{
    if (!strcmp(id->kind, "system"))
        snprintf(id->mi_res_id, sizeof(id->mi_res_id),
                 "/subscriptions/%s/resourcegroups/%s/providers/Microsoft.Compute/"
                 "virtualMachines/%s",
                 t->subscription_id, t->resource_group, id->name);
    else
        snprintf(id->mi_res_id, sizeof(id->mi_res_id),
                 "/subscriptions/%s/resourcegroups/%s/providers/Microsoft.ManagedIdentity/"
                 "userAssignedIdentities/%s",
                 t->subscription_id, t->resource_group, id->name);
}

/* The tenant.json a new fixtures folder gets: a VM's system-assigned
 * identity that already has a role (the seed's recipe works at once) and a
 * user-assigned one without (for pgaadauth_create_principal). */
static char *default_config(void)
{
    char tid[37], sub[37], c1[37], o1[37], c2[37], o2[37];
    en_guid_random(tid);
    en_guid_random(sub);
    en_guid_random(c1);
    en_guid_random(o1);
    en_guid_random(c2);
    en_guid_random(o2);
    return str_printf(
        "{\n"
        "  \"tenant_id\": \"%s\",\n"
        "  \"subscription_id\": \"%s\",\n"
        "  \"resource_group\": \"pgtls-rg\",\n"
        "  \"token_lifetime_s\": %d,\n"
        "  \"fault\": \"none\",\n"
        "  \"retry_after_s\": 5,\n"
        "  \"default_identity\": \"pgtls-vm\",\n"
        "  \"identities\": [\n"
        "    {\"name\": \"pgtls-vm\", \"kind\": \"system\", \"client_id\": \"%s\",\n"
        "     \"object_id\": \"%s\", \"role\": true},\n"
        "    {\"name\": \"pgtls-app-identity\", \"kind\": \"user\", \"client_id\": \"%s\",\n"
        "     \"object_id\": \"%s\", \"role\": false}\n"
        "  ]\n"
        "}\n",
        tid, sub, EN_DEFAULT_LIFETIME_S, c1, o1, c2, o2);
}

/* Makes DIR/entra aside and renames it into place; a concurrent creator
 * that wins the rename is fine (its folder is the one everybody loads). */
static int create_tenant_dir(const char *fixtures_dir, const char *entra_dir, pgtls_err *err)
{
    int result = -1;
    char *tmp = str_printf("%s/.entra-XXXXXX", fixtures_dir), *cfg = NULL, *p = NULL;
    EVP_PKEY *key = NULL;
    BIO *bio = NULL;
    char *pem = NULL;
    long pem_len;
    ENSURE(tmp, err, PGTLS_ERR_NOMEM, "out of memory");
    ENSURE(mkdtemp(tmp), err, PGTLS_ERR_IO, "cannot create a folder in %s: %s (check that it exists and is writable)",
           fixtures_dir, strerror(errno));
    cfg = default_config();
    p = fs_join(tmp, TENANT_JSON);
    ENSURE(cfg && p, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY(fs_write_file(p, cfg, strlen(cfg), 0644, err));
    free(p);
    p = fs_join(tmp, TENANT_KEY);
    ENSURE(p, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY_OSSL(key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048), err,
             "cannot make the tenant key");
    TRY_OSSL(bio = BIO_new(BIO_s_mem()), err, "cannot make the tenant key");
    TRY_OSSL(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), err,
             "cannot write the tenant key");
    pem_len = BIO_get_mem_data(bio, &pem);
    /* 0600 from the first byte (fs_write_file creates with the mode). */
    TRY(fs_write_file(p, pem, (size_t)pem_len, 0600, err));
    if (rename(tmp, entra_dir) != 0) {
        ENSURE(errno == EEXIST || errno == ENOTEMPTY, err, PGTLS_ERR_IO,
               "cannot create %s: %s", entra_dir, strerror(errno));
        fs_remove_tree(tmp, NULL); /* somebody else made it first */
    }
    result = 0;
out:
    if (result < 0 && tmp && fs_exists(tmp))
        fs_remove_tree(tmp, NULL);
    BIO_free(bio);
    EVP_PKEY_free(key);
    free(tmp);
    free(cfg);
    free(p);
    return result;
}

static int key_id_of(EVP_PKEY *key, char out[64])
{
    unsigned char *der = NULL, md[SHA_DIGEST_LENGTH];
    int len = i2d_PUBKEY(key, &der);
    char *b;
    if (len <= 0)
        return -1;
    SHA1(der, (size_t)len, md);
    OPENSSL_free(der);
    b = en_b64url_encode(md, sizeof(md));
    if (!b)
        return -1;
    snprintf(out, 64, "%s", b);
    free(b);
    return 0;
}

/* Copies a string member; required ones must be present. */
static int get_str(json_t *obj, const char *key, int required, char *out, size_t cap,
                   const char *where, pgtls_err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return err_set(err, PGTLS_ERR_CONFIG, "%s: %s is missing", where, key);
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap)
        return err_set(err, PGTLS_ERR_CONFIG, "%s: %s must be a non-empty string under %zu bytes",
                       where, key, cap);
    snprintf(out, cap, "%s", json_string_value(v));
    return 0;
}

static int check_keys(json_t *obj, const char *const *allowed, const char *where, pgtls_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        int ok = 0;
        (void)v;
        for (const char *const *a = allowed; *a; a++)
            ok |= strcmp(*a, k) == 0;
        if (!ok)
            return err_set(err, PGTLS_ERR_CONFIG, "%s: unknown key \"%s\"", where, k);
    }
    return 0;
}

static int valid_name(const char *s)
{
    /* Azure resource names: letters, digits, '-', '_', '.' */
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return 0;
    return 1;
}

static int parse_config(en_tenant *t, const char *path, pgtls_err *err)
{
    static const char *const top_keys[] = {"tenant_id",      "subscription_id",  "resource_group",
                                           "token_lifetime_s", "fault",          "retry_after_s",
                                           "default_identity", "identities",     "clock_skew_s", NULL};
    static const char *const id_keys[] = {"name", "kind", "client_id", "object_id",
                                          "mi_res_id", "role", NULL};
    int result = -1;
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je), *ids, *v;
    char fault[32] = "none";
    size_t i, j;
    ENSURE(root, err, PGTLS_ERR_CONFIG, "%s:%d: %s (fix the JSON or delete the entra folder)",
           path, je.line, je.text);
    ENSURE(json_is_object(root), err, PGTLS_ERR_CONFIG, "%s: not a JSON object", path);
    TRY(check_keys(root, top_keys, path, err));
    TRY(get_str(root, "tenant_id", 1, t->tenant_id, sizeof(t->tenant_id), path, err));
    TRY(get_str(root, "subscription_id", 1, t->subscription_id, sizeof(t->subscription_id), path,
                err));
    ENSURE(en_guid_valid(t->tenant_id) && en_guid_valid(t->subscription_id), err,
           PGTLS_ERR_CONFIG, "%s: tenant_id and subscription_id must be GUIDs", path);
    snprintf(t->resource_group, sizeof(t->resource_group), "pgtls-rg");
    TRY(get_str(root, "resource_group", 0, t->resource_group, sizeof(t->resource_group), path,
                err));
    TRY(get_str(root, "default_identity", 1, t->default_identity, sizeof(t->default_identity),
                path, err));
    TRY(get_str(root, "fault", 0, fault, sizeof(fault), path, err));
    ENSURE(en_fault_parse(fault, &t->fault) == 0, err, PGTLS_ERR_CONFIG,
           "%s: fault \"%s\" is not one of none, expired, not-yet-valid, wrong-audience, "
           "foreign-key, throttle",
           path, fault);
    t->lifetime_s = EN_DEFAULT_LIFETIME_S;
    v = json_object_get(root, "token_lifetime_s");
    if (v) {
        ENSURE(json_is_integer(v) && json_integer_value(v) >= 1 &&
                   json_integer_value(v) <= 7 * 86400,
               err, PGTLS_ERR_CONFIG, "%s: token_lifetime_s must be an integer in 1..604800",
               path);
        t->lifetime_s = (long)json_integer_value(v);
    }
    t->retry_after_s = 5;
    v = json_object_get(root, "retry_after_s");
    if (v) {
        ENSURE(json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 3600,
               err, PGTLS_ERR_CONFIG, "%s: retry_after_s must be an integer in 0..3600", path);
        t->retry_after_s = (long)json_integer_value(v);
    }
    t->clock_skew_s = 300;
    v = json_object_get(root, "clock_skew_s");
    if (v) {
        ENSURE(json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 3600,
               err, PGTLS_ERR_CONFIG, "%s: clock_skew_s must be an integer in 0..3600", path);
        t->clock_skew_s = (long)json_integer_value(v);
    }
    ids = json_object_get(root, "identities");
    ENSURE(json_is_array(ids) && json_array_size(ids) >= 1 &&
               json_array_size(ids) <= EN_MAX_IDENTITIES,
           err, PGTLS_ERR_CONFIG, "%s: identities must be an array of 1..%d objects", path,
           EN_MAX_IDENTITIES);
    for (i = 0; i < json_array_size(ids); i++) {
        json_t *o = json_array_get(ids, i), *role;
        en_identity *id = &t->ids[i];
        char where[600];
        snprintf(where, sizeof(where), "%s: identities[%zu]", path, i);
        ENSURE(json_is_object(o), err, PGTLS_ERR_CONFIG, "%s: not an object", where);
        TRY(check_keys(o, id_keys, where, err));
        TRY(get_str(o, "name", 1, id->name, 64, where, err));
        ENSURE(valid_name(id->name), err, PGTLS_ERR_CONFIG,
               "%s: name \"%s\" may hold only letters, digits, '-', '_' and '.'", where,
               id->name);
        snprintf(id->kind, sizeof(id->kind), "user");
        TRY(get_str(o, "kind", 0, id->kind, sizeof(id->kind), where, err));
        ENSURE(!strcmp(id->kind, "system") || !strcmp(id->kind, "user"), err, PGTLS_ERR_CONFIG,
               "%s: kind must be \"system\" or \"user\"", where);
        TRY(get_str(o, "client_id", 1, id->client_id, sizeof(id->client_id), where, err));
        TRY(get_str(o, "object_id", 1, id->object_id, sizeof(id->object_id), where, err));
        ENSURE(en_guid_valid(id->client_id) && en_guid_valid(id->object_id), err,
               PGTLS_ERR_CONFIG, "%s: client_id and object_id must be GUIDs", where);
        mi_res_id_of(t, id);
        TRY(get_str(o, "mi_res_id", 0, id->mi_res_id, sizeof(id->mi_res_id), where, err));
        role = json_object_get(o, "role");
        ENSURE(!role || json_is_boolean(role), err, PGTLS_ERR_CONFIG,
               "%s: role must be true or false", where);
        id->has_role = role && json_is_true(role);
        for (j = 0; j < i; j++)
            ENSURE(strcasecmp(t->ids[j].name, id->name) && strcasecmp(t->ids[j].client_id,
                                                                      id->client_id) &&
                       strcasecmp(t->ids[j].object_id, id->object_id),
                   err, PGTLS_ERR_CONFIG, "%s: same name, client_id or object_id as identities[%zu]",
                   where, j);
        t->num_ids++;
    }
    ENSURE(en_tenant_find_name(t, t->default_identity), err, PGTLS_ERR_CONFIG,
           "%s: default_identity \"%s\" is not one of the identities", path, t->default_identity);
    result = 0;
out:
    json_decref(root);
    return result;
}

en_tenant *en_tenant_open(const char *fixtures_dir, pgtls_err *err)
{
    en_tenant *t = NULL, *result = NULL;
    char *cfg = NULL, *keyp = NULL;
    FILE *f = NULL;
    struct stat sb;
    ENSURE(fixtures_dir && stat(fixtures_dir, &sb) == 0 && S_ISDIR(sb.st_mode), err,
           PGTLS_ERR_CONFIG, "fixtures folder %s does not exist (run 'pgtls ca gen --out %s')",
           fixtures_dir ? fixtures_dir : "(none)", fixtures_dir ? fixtures_dir : "DIR");
    t = calloc(1, sizeof(*t));
    ENSURE(t, err, PGTLS_ERR_NOMEM, "out of memory");
    t->dir = fs_join(fixtures_dir, "entra");
    ENSURE(t->dir, err, PGTLS_ERR_NOMEM, "out of memory");
    if (!fs_exists(t->dir))
        TRY(create_tenant_dir(fixtures_dir, t->dir, err));
    cfg = fs_join(t->dir, TENANT_JSON);
    keyp = fs_join(t->dir, TENANT_KEY);
    ENSURE(cfg && keyp, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY(parse_config(t, cfg, err));
    f = fopen(keyp, "r");
    ENSURE(f, err, PGTLS_ERR_IO, "cannot read %s: %s (delete %s to make a new tenant)", keyp,
           strerror(errno), t->dir);
    ERR_clear_error();
    t->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    if (!t->key || EVP_PKEY_get_base_id(t->key) != EVP_PKEY_RSA ||
        EVP_PKEY_get_bits(t->key) < 2048) {
        err_ossl(err, "%s: not an RSA private key of 2048 bits or more", keyp);
        goto out;
    }
    ENSURE(key_id_of(t->key, t->kid) == 0, err, PGTLS_ERR_OSSL, "cannot hash the tenant key");
    TRY(en_tenant_set_fault(t, t->fault, err));
    result = t;
    t = NULL;
out:
    if (f)
        fclose(f);
    free(cfg);
    free(keyp);
    en_tenant_free(t);
    return result;
}

void en_tenant_free(en_tenant *t)
{
    if (!t)
        return;
    EVP_PKEY_free(t->key);
    EVP_PKEY_free(t->foreign_key);
    free(t->dir);
    free(t);
}

int en_tenant_set_fault(en_tenant *t, en_fault f, pgtls_err *err)
{
    int result = -1;
    if (f == EN_FAULT_FOREIGN_KEY && !t->foreign_key)
        TRY_OSSL(t->foreign_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048), err,
                 "cannot make the foreign key");
    t->fault = f;
    result = 0;
out:
    return result;
}

const en_identity *en_tenant_find_name(const en_tenant *t, const char *name)
{
    for (size_t i = 0; name && i < t->num_ids; i++)
        if (strcmp(t->ids[i].name, name) == 0)
            return &t->ids[i];
    return NULL;
}

const en_identity *en_tenant_select(const en_tenant *t, const char *client_id,
                                    const char *object_id, const char *mi_res_id)
{
    for (size_t i = 0; i < t->num_ids; i++) {
        const en_identity *id = &t->ids[i];
        /* GUIDs compare case-insensitively; ARM ids too (Azure resource ids). */
        if ((client_id && !strcasecmp(id->client_id, client_id)) ||
            (object_id && !strcasecmp(id->object_id, object_id)) ||
            (mi_res_id && !strcasecmp(id->mi_res_id, mi_res_id)))
            return id;
    }
    if (!client_id && !object_id && !mi_res_id)
        return en_tenant_find_name(t, t->default_identity);
    return NULL;
}

static char *random_b64(size_t n)
{
    unsigned char b[32];
    if (n > sizeof(b))
        n = sizeof(b);
    RAND_bytes(b, (int)n);
    return en_b64url_encode(b, n);
}

char *en_token_issue(const en_tenant *t, const en_identity *id, const char *resource, long long now,
                     long long *out_exp, long long *out_nbf, pgtls_err *err)
{
    char *result = NULL, *hj = NULL, *pj = NULL, *aio = NULL, *rh = NULL, *uti = NULL;
    char *iss = NULL;
    json_t *h = NULL, *p = NULL;
    long long iat = now, nbf = now, exp = now + t->lifetime_s;
    const char *aud = resource;
    EVP_PKEY *key = t->key;
    switch (t->fault) {
    case EN_FAULT_EXPIRED:
        iat = nbf = now - t->lifetime_s - 3600;
        exp = now - 3600; /* beyond any clock-skew allowance */
        break;
    case EN_FAULT_NOT_YET_VALID:
        iat = now;
        nbf = now + 3600;
        exp = nbf + t->lifetime_s;
        break;
    case EN_FAULT_WRONG_AUDIENCE:
        aud = "https://management.azure.com/";
        break;
    case EN_FAULT_FOREIGN_KEY:
        key = t->foreign_key;
        break;
    default:
        break;
    }
    iss = str_printf("https://sts.windows.net/%s/", t->tenant_id);
    aio = random_b64(24);
    rh = random_b64(24);
    uti = random_b64(16);
    ENSURE(iss && aio && rh && uti && key, err, PGTLS_ERR_NOMEM, "out of memory issuing a token");
    h = json_pack("{s:s, s:s, s:s, s:s}", "typ", "JWT", "alg", "RS256", "x5t", t->kid, "kid",
                  t->kid);
    p = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
                  "s:s, s:s}",
                  "aud", aud, "iss", iss, "iat", (json_int_t)iat, "nbf", (json_int_t)nbf, "exp",
                  (json_int_t)exp, "aio", aio, "appid", id->client_id, "appidacr", "2", "idp",
                  iss, "idtyp", "app", "oid", id->object_id, "rh", rh, "sub", id->object_id,
                  "tid", t->tenant_id, "uti", uti, "ver", "1.0", "xms_mirid", id->mi_res_id);
    ENSURE(h && p, err, PGTLS_ERR_NOMEM, "out of memory issuing a token");
    hj = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    pj = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
    ENSURE(hj && pj, err, PGTLS_ERR_NOMEM, "out of memory issuing a token");
    result = en_jwt_sign(hj, pj, key, err);
    if (out_exp)
        *out_exp = exp;
    if (out_nbf)
        *out_nbf = nbf;
out:
    json_decref(h);
    json_decref(p);
    free(hj);
    free(pj);
    free(iss);
    free(aio);
    free(rh);
    free(uti);
    return result;
}

static char *bn_b64(EVP_PKEY *key, const char *param)
{
    BIGNUM *bn = NULL;
    unsigned char *buf;
    char *out = NULL;
    int n;
    if (!EVP_PKEY_get_bn_param(key, param, &bn))
        return NULL;
    n = BN_num_bytes(bn);
    buf = malloc((size_t)n + 1);
    if (buf) {
        BN_bn2bin(bn, buf);
        out = en_b64url_encode(buf, (size_t)n);
        free(buf);
    }
    BN_free(bn);
    return out;
}

char *en_tenant_jwks(const en_tenant *t, pgtls_err *err)
{
    char *n = bn_b64(t->key, OSSL_PKEY_PARAM_RSA_N), *e = bn_b64(t->key, OSSL_PKEY_PARAM_RSA_E);
    char *result = NULL, *iss = str_printf("https://sts.windows.net/%s/", t->tenant_id);
    json_t *j = NULL;
    ENSURE(n && e && iss, err, PGTLS_ERR_NOMEM, "cannot export the tenant's public key");
    j = json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:s}]}", "keys", "kty", "RSA", "use", "sig",
                  "kid", t->kid, "x5t", t->kid, "n", n, "e", e, "issuer", iss);
    ENSURE(j, err, PGTLS_ERR_NOMEM, "out of memory");
    result = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    ENSURE(result, err, PGTLS_ERR_NOMEM, "out of memory");
out:
    json_decref(j);
    free(n);
    free(e);
    free(iss);
    return result;
}
