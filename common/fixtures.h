/* pgtls: reader of the fixtures index (index.json, docs/fixtures-index.md).
 *
 * certs-gen writes the index; the mock server, the runner and the suites read
 * it only through this module. Paths are returned absolute. */
#ifndef PGTLS_FIXTURES_H
#define PGTLS_FIXTURES_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

#define FX_SCHEMA "pgtls-fixtures/1"

typedef struct fx_server {
    int ssl;                      /* 0: answer SSLRequest with 'N' */
    int require_secure_transport; /* plaintext startup gets FATAL 28000 */
    const char *ssl_min_protocol_version; /* "TLSv1" .. "TLSv1.3", "" = none */
    const char *ssl_max_protocol_version;
    const char *ssl_ciphers;       /* TLS <= 1.2 cipher list */
    const char *ssl_tls13_ciphers; /* "" = OpenSSL default */
    const char *ssl_groups;        /* "" = OpenSSL default */
    const char *auth;              /* trust | password | md5 | scram-sha-256 */
    const char *user;
    const char *password;
    int client_cert;               /* request a client certificate */
    const char *server_version;    /* e.g. "16.9" */
    int direct_tls;                /* accept PG17 direct TLS */
    const char *ssl_ca_file;       /* absolute paths, NULL when absent: client */
    const char *ssl_crl_file;      /* certificate CA and revocation lists */
    const char *ssl_crl_dir;
    const char *clientcert;        /* pg_hba option: "" | verify-ca | verify-full */
} fx_server;

typedef struct fx_scenario {
    const char *name;
    const char *description;
    const char *chain;     /* chain name, NULL when the server has no TLS */
    const char *chain_pem; /* absolute path, NULL when no TLS */
    const char *key_pem;   /* absolute path, NULL when no TLS */
    const char *host;
    int host_match;
    fx_server server;
    json_t *verify;        /* borrowed: store name -> declared result */
} fx_scenario;

typedef struct fx_store {
    const char *name;
    const char *kind;   /* roots | bundle | pinned-intermediate | pinned-leaf | wrong-root | empty | missing | system */
    const char *description;
    const char *pem;    /* absolute path (does not exist for kind "missing") */
    const char *p12;    /* absolute path or NULL */
    const char *p12_password;
    const char *system_dir; /* hashed directory for SSL_CERT_DIR, or NULL */
} fx_store;

typedef struct fx_index fx_index;

/* Loads DIR/index.json. Returns NULL with a message in err (missing file:
 * "run 'pgtls ca gen --out DIR'"; wrong schema; a missing required field named
 * with its JSON path). */
fx_index *fx_index_load(const char *dir, pgtls_err *err);

/* Frees the index; accepts NULL. */
void fx_index_free(fx_index *idx);

/* The folder the index was loaded from (absolute). */
const char *fx_index_dir(const fx_index *idx);

/* The parsed JSON (borrowed), for fields this module does not model. */
json_t *fx_index_json(const fx_index *idx);

size_t fx_num_scenarios(const fx_index *idx);
const fx_scenario *fx_scenario_at(const fx_index *idx, size_t i);
/* NULL when there is no such scenario. */
const fx_scenario *fx_scenario_find(const fx_index *idx, const char *name);

size_t fx_num_stores(const fx_index *idx);
const fx_store *fx_store_at(const fx_index *idx, size_t i);
const fx_store *fx_store_find(const fx_index *idx, const char *name);

/* The declared verification of the scenario's chain against a store ("ok",
 * "untrusted", "expired", ...), or NULL when not declared. */
const char *fx_scenario_verify(const fx_scenario *sc, const char *store);

/* Absolute path of a certificate's PEM by cert name as a heap string the
 * caller frees, or NULL when there is no such certificate. */
char *fx_cert_pem(const fx_index *idx, const char *cert);

#endif
