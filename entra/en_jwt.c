/* pgtls entra: JWT RS256 encoding, signing and a strict validator
 * (RFC 7515 compact serialization, RFC 7518 3.3, RFC 7519 4.1). */
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_jwt.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *en_b64url_encode(const unsigned char *data, size_t len)
{
    size_t out_len = (len / 3) * 4 + (len % 3 ? len % 3 + 1 : 0), i, o = 0;
    char *out = malloc(out_len + 1);
    if (!out)
        return NULL;
    for (i = 0; i + 2 < len; i += 3) {
        unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
        out[o++] = b64url_alphabet[v >> 6 & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)data[i] << 16;
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
    } else if (len - i == 2) {
        unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8;
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
        out[o++] = b64url_alphabet[v >> 6 & 63];
    }
    out[o] = 0;
    return out;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

unsigned char *en_b64url_decode(const char *s, size_t len, size_t *out_len)
{
    unsigned char *out;
    size_t i, o = 0;
    unsigned acc = 0;
    int bits = 0;
    if (len % 4 == 1) /* no whole byte in the last group */
        return NULL;
    out = malloc(len / 4 * 3 + 3 + 1);
    if (!out)
        return NULL;
    for (i = 0; i < len; i++) {
        int v = b64url_value(s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6 | (unsigned)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits & 0xff);
        }
    }
    /* Canonical form: the unused low bits of the last symbol are zero. */
    if (bits && (acc & ((1u << bits) - 1))) {
        free(out);
        return NULL;
    }
    out[o] = 0;
    *out_len = o;
    return out;
}

static char *b64url_of_text(const char *text)
{
    return en_b64url_encode((const unsigned char *)text, strlen(text));
}

char *en_jwt_sign(const char *header_json, const char *payload_json, EVP_PKEY *key,
                  pgtls_err *err)
{
    char *h = NULL, *p = NULL, *input = NULL, *sig64 = NULL, *result = NULL;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    EVP_MD_CTX *md = NULL;
    h = b64url_of_text(header_json);
    p = b64url_of_text(payload_json);
    ENSURE(h && p, err, PGTLS_ERR_NOMEM, "out of memory signing a token");
    input = malloc(strlen(h) + strlen(p) + 2);
    ENSURE(input, err, PGTLS_ERR_NOMEM, "out of memory signing a token");
    sprintf(input, "%s.%s", h, p);
    md = EVP_MD_CTX_new();
    ENSURE(md, err, PGTLS_ERR_NOMEM, "out of memory signing a token");
    TRY_OSSL_POS(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), err,
                 "cannot sign the token (RS256)");
    TRY_OSSL_POS(EVP_DigestSign(md, NULL, &sig_len, (unsigned char *)input, strlen(input)), err,
                 "cannot sign the token (RS256)");
    sig = malloc(sig_len);
    ENSURE(sig, err, PGTLS_ERR_NOMEM, "out of memory signing a token");
    TRY_OSSL_POS(EVP_DigestSign(md, sig, &sig_len, (unsigned char *)input, strlen(input)), err,
                 "cannot sign the token (RS256)");
    sig64 = en_b64url_encode(sig, sig_len);
    ENSURE(sig64, err, PGTLS_ERR_NOMEM, "out of memory signing a token");
    result = malloc(strlen(input) + strlen(sig64) + 2);
    ENSURE(result, err, PGTLS_ERR_NOMEM, "out of memory signing a token");
    sprintf(result, "%s.%s", input, sig64);
out:
    EVP_MD_CTX_free(md);
    free(h);
    free(p);
    free(input);
    free(sig);
    free(sig64);
    return result;
}

const char *en_jwt_status_name(en_jwt_status s)
{
    switch (s) {
    case EN_JWT_OK:
        return "ok";
    case EN_JWT_MALFORMED:
        return "malformed";
    case EN_JWT_BAD_ALG:
        return "bad-alg";
    case EN_JWT_BAD_SIGNATURE:
        return "bad-signature";
    case EN_JWT_WRONG_AUDIENCE:
        return "wrong-audience";
    case EN_JWT_WRONG_ISSUER:
        return "wrong-issuer";
    case EN_JWT_EXPIRED:
        return "expired";
    case EN_JWT_NOT_YET_VALID:
        return "not-yet-valid";
    }
    return "unknown";
}

/* Decodes one base64url part as a JSON object. */
static json_t *part_json(const char *s, size_t len)
{
    size_t dlen = 0;
    unsigned char *d = en_b64url_decode(s, len, &dlen);
    json_t *j;
    json_error_t je;
    if (!d)
        return NULL;
    j = json_loadb((const char *)d, dlen, JSON_REJECT_DUPLICATES, &je);
    free(d);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static void copy_str(json_t *obj, const char *key, char *out, size_t cap)
{
    const char *v = json_string_value(json_object_get(obj, key));
    out[0] = 0;
    if (v)
        snprintf(out, cap, "%s", v);
}

/* NumericDate (RFC 7519 2): an integer here; -1 when absent or not one. */
static long long numeric_date(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        return (long long)json_integer_value(v);
    return -1;
}

#define WHY(...)                                                                                   \
    do {                                                                                           \
        if (why)                                                                                   \
            snprintf(why, why_cap, __VA_ARGS__);                                                   \
    } while (0)

en_jwt_status en_jwt_verify(const char *token, size_t len, const en_jwt_expect *expect,
                            en_jwt_claims *out, char *why, size_t why_cap)
{
    en_jwt_status st = EN_JWT_MALFORMED;
    const char *dot1, *dot2;
    json_t *hdr = NULL, *pl = NULL, *aud;
    unsigned char *sig = NULL;
    size_t sig_len = 0, i;
    EVP_MD_CTX *md = NULL;
    en_jwt_claims local;
    const char *alg, *kid;
    if (!out)
        out = &local;
    memset(out, 0, sizeof(*out));
    out->iat = out->nbf = out->exp = -1;
    if (why && why_cap)
        why[0] = 0;
    if (len == 0 || len > EN_JWT_MAX_LEN) {
        WHY("token length %zu outside 1..%d", len, EN_JWT_MAX_LEN);
        goto out;
    }
    for (i = 0; i < len; i++)
        if (token[i] != '.' && b64url_value(token[i]) < 0) {
            WHY("byte %zu is not base64url", i);
            goto out;
        }
    dot1 = memchr(token, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot1 || !dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token))) {
        WHY("not three dot-separated parts (JWS compact form)");
        goto out;
    }
    hdr = part_json(token, (size_t)(dot1 - token));
    pl = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!hdr || !pl) {
        WHY("%s is not a base64url JSON object", !hdr ? "header" : "payload");
        goto out;
    }
    sig = en_b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), &sig_len);
    if (!sig || sig_len == 0) {
        WHY("signature is not base64url");
        goto out;
    }
    copy_str(pl, "oid", out->oid, sizeof(out->oid));
    copy_str(pl, "tid", out->tid, sizeof(out->tid));
    copy_str(pl, "appid", out->appid, sizeof(out->appid));
    copy_str(pl, "sub", out->sub, sizeof(out->sub));
    copy_str(pl, "iss", out->iss, sizeof(out->iss));
    copy_str(pl, "xms_mirid", out->xms_mirid, sizeof(out->xms_mirid));
    aud = json_object_get(pl, "aud");
    if (json_is_string(aud))
        snprintf(out->aud, sizeof(out->aud), "%s", json_string_value(aud));
    out->iat = numeric_date(pl, "iat");
    out->nbf = numeric_date(pl, "nbf");
    out->exp = numeric_date(pl, "exp");

    alg = json_string_value(json_object_get(hdr, "alg"));
    if (!alg || strcmp(alg, "RS256") != 0) {
        st = EN_JWT_BAD_ALG;
        WHY("header alg %s, expected RS256", alg ? alg : "(missing)");
        goto out;
    }
    kid = json_string_value(json_object_get(hdr, "kid"));
    if (kid && expect->kid && strcmp(kid, expect->kid) != 0) {
        st = EN_JWT_BAD_SIGNATURE;
        WHY("unknown signing key kid %.64s", kid);
        goto out;
    }
    md = EVP_MD_CTX_new();
    ERR_clear_error();
    if (!md || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, expect->key) <= 0 ||
        EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)token,
                         (size_t)(dot2 - token)) != 1) {
        ERR_clear_error();
        st = EN_JWT_BAD_SIGNATURE;
        WHY("signature does not verify with the tenant's key");
        goto out;
    }
    if (!json_is_string(aud) || strcmp(out->aud, expect->audience) != 0) {
        /* Azure's v1 tokens carry one audience string; an array is not one. */
        st = EN_JWT_WRONG_AUDIENCE;
        WHY("aud %s, expected %s", out->aud[0] ? out->aud : "(missing)", expect->audience);
        goto out;
    }
    if (strcmp(out->iss, expect->issuer) != 0) {
        st = EN_JWT_WRONG_ISSUER;
        WHY("iss %s, expected %s", out->iss[0] ? out->iss : "(missing)", expect->issuer);
        goto out;
    }
    if (out->exp < 0 || out->nbf < 0 || out->iat < 0 || !out->oid[0] || !out->tid[0]) {
        st = EN_JWT_MALFORMED;
        WHY("a required claim (exp, nbf, iat, oid, tid) is missing or not the right type");
        goto out;
    }
    if (expect->now >= out->exp + expect->skew_s) {
        st = EN_JWT_EXPIRED;
        WHY("expired at %lld, now %lld", out->exp, expect->now);
        goto out;
    }
    if (expect->now + expect->skew_s < out->nbf) {
        st = EN_JWT_NOT_YET_VALID;
        WHY("not valid before %lld, now %lld", out->nbf, expect->now);
        goto out;
    }
    st = EN_JWT_OK;
out:
    EVP_MD_CTX_free(md);
    json_decref(hdr);
    json_decref(pl);
    free(sig);
    return st;
}
