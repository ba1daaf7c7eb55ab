/* pgtls entra: JSON Web Tokens, RS256 only (RFC 7515, 7518 3.3, 7519).
 * Pure functions over OpenSSL: base64url, signing, and a strict validator
 * (compact form, bounded sizes, header alg/kid, signature, then the claims
 * the server checks). */
#ifndef PGTLS_EN_JWT_H
#define PGTLS_EN_JWT_H

#include <openssl/evp.h>
#include <stddef.h>

#include "err.h"

/* Longest token the validator parses. Azure's tokens are 1.5-3 KB; the
 * PostgreSQL password packet itself may carry up to PG_MAX_AUTH_TOKEN_LENGTH
 * (65535) bytes, which the mock enforces before the validator runs. */
#define EN_JWT_MAX_LEN 16384

/* base64url without padding (RFC 4648 5). Heap string, NULL on OOM. */
char *en_b64url_encode(const unsigned char *data, size_t len);
/* Decodes base64url without padding; rejects '=', '+', '/', whitespace and
 * impossible lengths. Returns a heap buffer (NUL-terminated, *out_len bytes)
 * or NULL. */
unsigned char *en_b64url_decode(const char *s, size_t len, size_t *out_len);

/* Signs header.payload (JSON texts) with key (RS256) and returns the compact
 * JWT (heap) or NULL with err. */
char *en_jwt_sign(const char *header_json, const char *payload_json, EVP_PKEY *key,
                  pgtls_err *err);

typedef enum {
    EN_JWT_OK,
    EN_JWT_MALFORMED,      /* not three base64url parts of JSON objects, too long */
    EN_JWT_BAD_ALG,        /* alg other than RS256 ("none" included) */
    EN_JWT_BAD_SIGNATURE,  /* unknown kid, or the signature does not verify */
    EN_JWT_WRONG_AUDIENCE, /* aud is not the expected resource */
    EN_JWT_WRONG_ISSUER,   /* iss is not https://sts.windows.net/<tid>/ */
    EN_JWT_EXPIRED,        /* now >= exp */
    EN_JWT_NOT_YET_VALID,  /* now < nbf */
} en_jwt_status;

typedef struct en_jwt_claims {
    char oid[64], tid[64], appid[64], sub[64];
    char aud[256], iss[256];
    char xms_mirid[512];
    long long iat, nbf, exp;
} en_jwt_claims;

typedef struct en_jwt_expect {
    EVP_PKEY *key;        /* the issuer's public key */
    const char *kid;      /* its key id; the header's kid must match when present */
    const char *audience; /* required aud */
    const char *issuer;   /* required iss */
    long long now;        /* seconds since the epoch */
    long skew_s;          /* clock skew allowed on exp and nbf (Azure: 5 minutes) */
} en_jwt_expect;

/* Validates token (len bytes, not necessarily NUL-terminated) in this
 * order: form, alg, signature, audience, issuer, expiry, not-before. Fills
 * out (when not NULL) with what could be read, and why (when not NULL, cap
 * bytes) with a one-line reason. Returns the status. */
en_jwt_status en_jwt_verify(const char *token, size_t len, const en_jwt_expect *expect,
                            en_jwt_claims *out, char *why, size_t why_cap);

const char *en_jwt_status_name(en_jwt_status s);

#endif
