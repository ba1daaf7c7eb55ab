/* pgtls entra: a mock Microsoft Entra ID tenant, offline (docs/entra.md).
 *
 * The tenant lives in the fixtures folder, DIR/entra/: tenant.json (tenant
 * id, identities, token lifetime, faults) and tenant-key.pem (the RSA key
 * that signs access tokens, 0600). `pgtls imds` issues tokens with it and
 * `pgtls mock` (auth=entra) validates them with its public half, so the two
 * agree with no set-up. Both create the folder on first use.
 *
 * Tokens are RS256 JWTs with the claims Azure's managed-identity tokens
 * carry (v1.0: aud, iss https://sts.windows.net/<tid>/, iat, nbf, exp, aio,
 * appid, appidacr, idp, idtyp, oid, rh, sub, tid, uti, ver, xms_mirid). */
#ifndef PGTLS_ENTRA_H
#define PGTLS_ENTRA_H

#include <openssl/evp.h>
#include <stddef.h>

#include "err.h"

/* The resource (audience) Azure Database for PostgreSQL tokens are for. */
#define EN_AUDIENCE_OSSRDBMS "https://ossrdbms-aad.database.windows.net"
#define EN_MAX_IDENTITIES 32
#define EN_DEFAULT_LIFETIME_S 86399 /* managed identity tokens: 24 h */

typedef struct en_identity {
    char name[128];      /* the identity's resource name = the PostgreSQL role */
    char kind[8];        /* "system" (the VM's) or "user" (user-assigned) */
    char client_id[40];  /* application id (appid claim) */
    char object_id[40];  /* principal id (oid and sub claims) */
    char mi_res_id[512]; /* ARM id (xms_mirid claim) */
    int has_role;        /* the mock holds a role for it from the start */
} en_identity;

/* What `pgtls imds` does wrong on purpose (tenant.json "fault", or
 * `pgtls imds --fault`). */
typedef enum {
    EN_FAULT_NONE,
    EN_FAULT_EXPIRED,        /* exp (and nbf, iat) in the past */
    EN_FAULT_NOT_YET_VALID,  /* nbf in the future */
    EN_FAULT_WRONG_AUDIENCE, /* aud = https://management.azure.com/ */
    EN_FAULT_FOREIGN_KEY,    /* signed by a key that is not the tenant's */
    EN_FAULT_THROTTLE,       /* every request: 429 with Retry-After */
    EN_FAULT_COUNT
} en_fault;

typedef struct en_tenant {
    char *dir; /* DIR/entra */
    char tenant_id[40];
    char subscription_id[40];
    char resource_group[128];
    char default_identity[128];
    long lifetime_s;
    long retry_after_s; /* of the throttle fault */
    long clock_skew_s;  /* allowed by the mock's validator on exp and nbf (default 300) */
    en_fault fault;
    en_identity ids[EN_MAX_IDENTITIES];
    size_t num_ids;
    EVP_PKEY *key;         /* the tenant's signing key (private) */
    EVP_PKEY *foreign_key; /* signs under EN_FAULT_FOREIGN_KEY (made by set_fault) */
    char kid[64];  /* key id: base64url SHA-1 of the public key DER */
} en_tenant;

/* Opens DIR/entra, creating it (tenant.json with a default identity that has
 * a role, and a new RSA-2048 tenant-key.pem, 0600) when absent; concurrent
 * openers agree on one tenant (the folder is made aside and renamed into
 * place). Returns NULL with a one-line message in err (bad JSON, unknown
 * key, bad GUID, duplicate identity, unreadable key...). */
en_tenant *en_tenant_open(const char *fixtures_dir, pgtls_err *err);

/* Frees t; accepts NULL. */
void en_tenant_free(en_tenant *t);

/* The identity a request selects: by client_id, object_id or mi_res_id (at
 * most one non-NULL; all NULL: the default identity), or by role name
 * (en_tenant_find_name). NULL when there is none. */
const en_identity *en_tenant_select(const en_tenant *t, const char *client_id,
                                    const char *object_id, const char *mi_res_id);
const en_identity *en_tenant_find_name(const en_tenant *t, const char *name);

/* Parses a fault name ("none", "expired", "not-yet-valid", "wrong-audience",
 * "foreign-key", "throttle"). Returns 0 or -1. */
int en_fault_parse(const char *s, en_fault *out);
/* Sets t->fault (making the foreign key when needed). Returns 0 or -1. */
int en_tenant_set_fault(en_tenant *t, en_fault f, pgtls_err *err);
const char *en_fault_name(en_fault f);

/* Issues an access token for id and resource at time now (seconds since the
 * epoch), applying t->fault. Returns a heap JWT, and the token's
 * expires_on and not_before in *out_exp and *out_nbf, or NULL with err. */
char *en_token_issue(const en_tenant *t, const en_identity *id, const char *resource, long long now,
                     long long *out_exp, long long *out_nbf, pgtls_err *err);

/* The tenant's JWKS document: {"keys": [RSA key with kty, use, kid, x5t, n, e]}. */
char *en_tenant_jwks(const en_tenant *t, pgtls_err *err);

/* A random GUID in its 8-4-4-4-12 lowercase form (out has 37 bytes). */
void en_guid_random(char out[37]);
/* 1 when s is a GUID in that form (either case). */
int en_guid_valid(const char *s);

#endif
