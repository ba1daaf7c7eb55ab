/* pgtls: reader of the fixtures index (docs/fixtures-index.md). */
#include "fixtures.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

struct fx_index {
    char *dir;
    json_t *root;
    fx_scenario *scenarios;
    size_t num_scenarios;
    fx_store *stores;
    size_t num_stores;
    char **paths; /* absolute paths we made; freed with the index */
    size_t num_paths, cap_paths;
};

/* Makes an absolute path under the index folder and keeps it for freeing. */
static const char *abs_path(fx_index *idx, const char *rel)
{
    char *p;
    if (!rel)
        return NULL;
    p = rel[0] == '/' ? strdup(rel) : fs_join(idx->dir, rel);
    if (!p)
        return NULL;
    if (idx->num_paths == idx->cap_paths) {
        size_t ncap = idx->cap_paths ? idx->cap_paths * 2 : 64;
        char **np = realloc(idx->paths, ncap * sizeof(*np));
        if (!np) {
            free(p);
            return NULL;
        }
        idx->paths = np;
        idx->cap_paths = ncap;
    }
    idx->paths[idx->num_paths++] = p;
    return p;
}

static const char *get_str(json_t *obj, const char *key, const char *dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

static int get_bool(json_t *obj, const char *key, int dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static int load_scenario(fx_index *idx, const char *name, json_t *js, fx_scenario *sc,
                         pgtls_err *err)
{
    json_t *server = json_object_get(js, "server");
    json_t *chains = json_object_get(idx->root, "chains");
    const char *chain = get_str(js, "chain", NULL);

    if (!json_is_object(js) || !json_is_object(server))
        return err_set(err, PGTLS_ERR_INPUT,
                       "%s/index.json: scenarios.%s needs an object with a \"server\" object "
                       "(regenerate with 'pgtls ca gen')",
                       idx->dir, name);
    sc->name = name;
    sc->description = get_str(js, "description", "");
    sc->chain = chain;
    sc->host = get_str(js, "host", get_str(idx->root, "default_host", "localhost"));
    sc->host_match = get_bool(js, "host_match", 1);
    sc->verify = json_object_get(js, "verify");
    if (chain) {
        json_t *cj = json_object_get(chains, chain);
        if (!json_is_object(cj) || !get_str(cj, "pem", NULL) || !get_str(cj, "key", NULL))
            return err_set(err, PGTLS_ERR_INPUT,
                           "%s/index.json: scenario %s names chain %s, which has no pem/key "
                           "entry under \"chains\" (regenerate with 'pgtls ca gen')",
                           idx->dir, name, chain);
        sc->chain_pem = abs_path(idx, get_str(cj, "pem", NULL));
        sc->key_pem = abs_path(idx, get_str(cj, "key", NULL));
        if (!sc->chain_pem || !sc->key_pem)
            return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    }
    sc->server.ssl = get_bool(server, "ssl", chain != NULL);
    if (sc->server.ssl && !chain)
        return err_set(err, PGTLS_ERR_INPUT,
                       "%s/index.json: scenario %s has ssl=true but no chain", idx->dir, name);
    sc->server.require_secure_transport = get_bool(server, "require_secure_transport", 1);
    sc->server.ssl_min_protocol_version = get_str(server, "ssl_min_protocol_version", "TLSv1.2");
    sc->server.ssl_max_protocol_version = get_str(server, "ssl_max_protocol_version", "");
    sc->server.ssl_ciphers = get_str(server, "ssl_ciphers", "HIGH:MEDIUM:+3DES:!aNULL");
    sc->server.ssl_tls13_ciphers = get_str(server, "ssl_tls13_ciphers", "");
    sc->server.ssl_groups = get_str(server, "ssl_groups", "");
    sc->server.auth = get_str(server, "auth", "scram-sha-256");
    sc->server.user = get_str(server, "user", "pgtls");
    sc->server.password = get_str(server, "password", "pgtls-secret");
    sc->server.client_cert = get_bool(server, "client_cert", 0);
    sc->server.server_version = get_str(server, "server_version", "16.9");
    sc->server.direct_tls = get_bool(server, "direct_tls", 1);
    sc->server.clientcert = get_str(server, "clientcert", "");
    {
        static const char *const files[] = {"ssl_ca_file", "ssl_crl_file", "ssl_crl_dir"};
        const char **dst[] = {&sc->server.ssl_ca_file, &sc->server.ssl_crl_file,
                              &sc->server.ssl_crl_dir};
        for (size_t i = 0; i < 3; i++) {
            const char *rel = get_str(server, files[i], NULL);
            *dst[i] = rel && *rel ? abs_path(idx, rel) : NULL;
            if (rel && *rel && !*dst[i])
                return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        }
    }
    return 0;
}

static int load_store(fx_index *idx, const char *name, json_t *js, fx_store *st, pgtls_err *err)
{
    if (!json_is_object(js) || !get_str(js, "kind", NULL))
        return err_set(err, PGTLS_ERR_INPUT,
                       "%s/index.json: stores.%s needs a \"kind\" (regenerate with 'pgtls ca gen')",
                       idx->dir, name);
    st->name = name;
    st->kind = get_str(js, "kind", NULL);
    st->description = get_str(js, "description", "");
    st->pem = abs_path(idx, get_str(js, "pem", NULL));
    st->p12 = abs_path(idx, get_str(js, "p12", NULL));
    st->p12_password = get_str(js, "p12_password", "changeit");
    st->system_dir = abs_path(idx, get_str(js, "system_dir", NULL));
    if (!st->pem)
        return err_set(err, PGTLS_ERR_INPUT, "%s/index.json: stores.%s has no \"pem\" path",
                       idx->dir, name);
    return 0;
}

fx_index *fx_index_load(const char *dir, pgtls_err *err)
{
    fx_index *idx = calloc(1, sizeof(*idx));
    char *path = NULL, resolved[PATH_MAX];
    json_error_t jerr;
    json_t *scenarios, *stores, *v;
    const char *key;
    const char *schema;
    size_t i;
    int ok = 0;

    ENSURE(idx, err, PGTLS_ERR_NOMEM, "out of memory");
    idx->dir = strdup(realpath(dir, resolved) ? resolved : dir);
    path = fs_join(dir, "index.json");
    ENSURE(idx->dir && path, err, PGTLS_ERR_NOMEM, "out of memory");
    ENSURE(fs_exists(path), err, PGTLS_ERR_INPUT,
           "no fixtures index at %s (generate it with 'pgtls ca gen --out %s')", path, dir);
    idx->root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    ENSURE(idx->root, err, PGTLS_ERR_INPUT, "%s:%d: %s (regenerate with 'pgtls ca gen --out %s')",
           path, jerr.line, jerr.text, dir);
    schema = get_str(idx->root, "schema", "");
    ENSURE(strcmp(schema, FX_SCHEMA) == 0, err, PGTLS_ERR_INPUT,
           "%s: schema is \"%s\", this pgtls reads \"%s\" (regenerate with 'pgtls ca gen')", path,
           schema, FX_SCHEMA);
    scenarios = json_object_get(idx->root, "scenarios");
    stores = json_object_get(idx->root, "stores");
    ENSURE(json_is_object(scenarios) && json_is_object(stores), err, PGTLS_ERR_INPUT,
           "%s: needs \"scenarios\" and \"stores\" objects", path);

    idx->scenarios = calloc(json_object_size(scenarios) + 1, sizeof(*idx->scenarios));
    idx->stores = calloc(json_object_size(stores) + 1, sizeof(*idx->stores));
    ENSURE(idx->scenarios && idx->stores, err, PGTLS_ERR_NOMEM, "out of memory");
    i = 0;
    json_object_foreach(scenarios, key, v)
    {
        TRY(load_scenario(idx, key, v, &idx->scenarios[i], err));
        i++;
    }
    idx->num_scenarios = i;
    i = 0;
    json_object_foreach(stores, key, v)
    {
        TRY(load_store(idx, key, v, &idx->stores[i], err));
        i++;
    }
    idx->num_stores = i;
    ok = 1;
out:
    free(path);
    if (!ok) {
        fx_index_free(idx);
        return NULL;
    }
    return idx;
}

void fx_index_free(fx_index *idx)
{
    if (!idx)
        return;
    for (size_t i = 0; i < idx->num_paths; i++)
        free(idx->paths[i]);
    free(idx->paths);
    free(idx->scenarios);
    free(idx->stores);
    json_decref(idx->root);
    free(idx->dir);
    free(idx);
}

const char *fx_index_dir(const fx_index *idx)
{
    return idx->dir;
}

json_t *fx_index_json(const fx_index *idx)
{
    return idx->root;
}

size_t fx_num_scenarios(const fx_index *idx)
{
    return idx->num_scenarios;
}

const fx_scenario *fx_scenario_at(const fx_index *idx, size_t i)
{
    return i < idx->num_scenarios ? &idx->scenarios[i] : NULL;
}

const fx_scenario *fx_scenario_find(const fx_index *idx, const char *name)
{
    for (size_t i = 0; i < idx->num_scenarios; i++)
        if (strcmp(idx->scenarios[i].name, name) == 0)
            return &idx->scenarios[i];
    return NULL;
}

size_t fx_num_stores(const fx_index *idx)
{
    return idx->num_stores;
}

const fx_store *fx_store_at(const fx_index *idx, size_t i)
{
    return i < idx->num_stores ? &idx->stores[i] : NULL;
}

const fx_store *fx_store_find(const fx_index *idx, const char *name)
{
    for (size_t i = 0; i < idx->num_stores; i++)
        if (strcmp(idx->stores[i].name, name) == 0)
            return &idx->stores[i];
    return NULL;
}

const char *fx_scenario_verify(const fx_scenario *sc, const char *store)
{
    json_t *v = json_object_get(sc->verify, store);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

char *fx_cert_pem(const fx_index *idx, const char *cert)
{
    json_t *c = json_object_get(json_object_get(idx->root, "certs"), cert);
    const char *rel = get_str(c, "pem", NULL);
    if (!rel)
        return NULL;
    return rel[0] == '/' ? strdup(rel) : fs_join(idx->dir, rel);
}
