/* pgtls mockserver: SCRAM-SHA-256(-PLUS) server side (RFC 5802, RFC 7677;
 * PostgreSQL src/backend/libpq/auth-scram.c for the error texts). */
#include "ms_scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *ms_b64_encode(const uint8_t *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

int ms_b64_decode(const char *s, uint8_t *out, size_t out_cap)
{
    size_t n = strlen(s), i, pad = 0;
    uint8_t *tmp;
    int got;
    if (n % 4 != 0)
        return -1;
    for (i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '+' || c == '/';
        if (c == '=') {
            if (i < n - 2)
                return -1;
            pad++;
        } else if (!ok || pad)
            return -1;
    }
    if (n == 0)
        return 0;
    tmp = malloc(n / 4 * 3);
    if (!tmp)
        return -1;
    got = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
    if (got < 0 || (size_t)got < pad || (size_t)got - pad > out_cap) {
        free(tmp);
        return -1;
    }
    got -= (int)pad;
    memcpy(out, tmp, (size_t)got);
    free(tmp);
    return got;
}

static int hmac256(const uint8_t *key, size_t klen, const void *msg, size_t mlen, uint8_t *out)
{
    unsigned int olen = 0;
    return HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &olen) && olen == 32 ? 0 : -1;
}

static int salted_password(const char *password, const uint8_t *salt, size_t salt_len,
                           int iterations, uint8_t out[32])
{
    /* RFC 5802 Hi() is PBKDF2 with HMAC-SHA-256. PostgreSQL SASLprep's the
     * password first; ASCII passwords are unchanged by it. */
    return PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, iterations,
                             EVP_sha256(), 32, out)
               ? 0
               : -1;
}

int ms_scram_init(ms_scram *s, const char *password, const uint8_t *salt, size_t salt_len,
                  int iterations, const char *server_nonce, int tls, const uint8_t *cb_data,
                  size_t cb_len)
{
    uint8_t salted[32], client_key[32];
    memset(s, 0, sizeof(*s));
    if (salt_len > sizeof(s->salt) || cb_len > sizeof(s->cb_data) ||
        strlen(server_nonce) >= sizeof(s->server_nonce))
        return -1;
    memcpy(s->salt, salt, salt_len);
    s->iterations = iterations;
    s->tls = tls;
    s->user_known = password != NULL;
    snprintf(s->server_nonce, sizeof(s->server_nonce), "%s", server_nonce);
    if (cb_len)
        memcpy(s->cb_data, cb_data, cb_len);
    s->cb_len = cb_len;
    if (password) {
        if (salted_password(password, salt, salt_len, iterations, salted) < 0 ||
            hmac256(salted, 32, "Client Key", 10, client_key) < 0 ||
            hmac256(salted, 32, "Server Key", 10, s->server_key) < 0 ||
            !SHA256(client_key, 32, s->stored_key))
            return -1;
        OPENSSL_cleanse(salted, sizeof(salted));
        OPENSSL_cleanse(client_key, sizeof(client_key));
    }
    return 0;
}

void ms_scram_cleanup(ms_scram *s)
{
    if (!s)
        return;
    free(s->gs2_header);
    free(s->client_first_bare);
    free(s->server_first);
    free(s->nonce);
    OPENSSL_cleanse(s, sizeof(*s));
}

void ms_scram_mechanisms(int tls, ms_buf *out)
{
    if (tls)
        ms_buf_str(out, "SCRAM-SHA-256-PLUS");
    ms_buf_str(out, "SCRAM-SHA-256");
    ms_buf_u8(out, 0);
}

static int malformed(ms_pgerr *err, const char *detail)
{
    ms_pgerr_set(err, "FATAL", "08P01", "malformed SCRAM message");
    snprintf(err->detail, sizeof(err->detail), "%s", detail);
    return -1;
}

/* A NUL-terminated copy of a SASL payload; NULs inside are malformed. */
static char *payload_copy(const uint8_t *data, size_t len, ms_pgerr *err)
{
    char *s;
    if (len == 0) {
        malformed(err, "The message is empty.");
        return NULL;
    }
    if (memchr(data, 0, len)) {
        malformed(err, "The message contains a NUL byte.");
        return NULL;
    }
    s = malloc(len + 1);
    if (!s) {
        ms_pgerr_set(err, "FATAL", "53200", "out of memory");
        return NULL;
    }
    memcpy(s, data, len);
    s[len] = 0;
    return s;
}

/* Reads "<attr>=value" up to the next ',' or the end; returns the value
 * (NUL-terminated in place) and advances *p. */
static char *read_attr(char **p, char attr, ms_pgerr *err)
{
    char *begin = *p, *end;
    if (begin[0] != attr || begin[1] != '=') {
        char d[128];
        snprintf(d, sizeof(d), "Expected attribute \"%c\" but found \"%.32s\".", attr, begin);
        malformed(err, d);
        return NULL;
    }
    begin += 2;
    end = strchr(begin, ',');
    if (end) {
        *end = 0;
        *p = end + 1;
    } else
        *p = begin + strlen(begin);
    return begin;
}

static int printable_nonce(const char *s)
{
    /* RFC 5802: printable = %x21-2B / %x2D-7E (no ','). */
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < 0x21 || *s > 0x7e || *s == ',')
            return 0;
    return 1;
}

int ms_scram_client_first(ms_scram *s, const char *mech, const uint8_t *data, size_t len,
                          ms_buf *out, ms_pgerr *err)
{
    char *msg = NULL, *p, *bare, *cnonce, *salt_b64 = NULL;
    int result = -1;

    if (strcmp(mech, "SCRAM-SHA-256-PLUS") == 0 && s->tls)
        s->plus = 1;
    else if (strcmp(mech, "SCRAM-SHA-256") != 0) {
        /* auth-sasl.c: an unknown mechanism, or PLUS over plaintext. */
        ms_pgerr_set(err, "FATAL", "08P01",
                     "client selected an invalid SASL authentication mechanism");
        goto out;
    }
    msg = payload_copy(data, len, err);
    if (!msg)
        goto out;
    p = msg;
    /* gs2-cbind-flag */
    switch (*p) {
    case 'n':
        if (s->plus) {
            malformed(err, "The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does "
                           "not include channel binding data.");
            goto out;
        }
        s->cbind_flag = 'n';
        p++;
        break;
    case 'y':
        if (s->plus) {
            malformed(err, "The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does "
                           "not include channel binding data.");
            goto out;
        }
        if (s->tls) {
            ms_pgerr_set(err, "FATAL", "08P01", "SCRAM channel binding negotiation error");
            snprintf(err->detail, sizeof(err->detail),
                     "The client supports SCRAM channel binding but thinks the server does not.  "
                     "However, this server does support channel binding.");
            goto out;
        }
        s->cbind_flag = 'y';
        p++;
        break;
    case 'p': {
        char type[64];
        const char *comma;
        if (!s->plus) {
            malformed(err, "The client selected SCRAM-SHA-256 without channel binding, but the "
                           "SCRAM message includes channel binding data.");
            goto out;
        }
        if (p[1] != '=') {
            malformed(err, "Expected attribute \"p\".");
            goto out;
        }
        comma = strchr(p + 2, ',');
        if (!comma) {
            malformed(err, "Comma expected after the channel-binding type.");
            goto out;
        }
        snprintf(type, sizeof(type), "%.*s", (int)(comma - p - 2), p + 2);
        if (strcmp(type, "tls-server-end-point") != 0) {
            ms_pgerr_set(err, "FATAL", "08P01", "unsupported SCRAM channel-binding type \"%s\"",
                         type);
            goto out;
        }
        s->cbind_flag = 'p';
        p = (char *)comma;
        break;
    }
    default:
        malformed(err, "Unexpected channel-binding flag.");
        goto out;
    }
    if (*p != ',') {
        malformed(err, "Comma expected after the channel-binding flag.");
        goto out;
    }
    p++;
    if (*p == 'a') {
        ms_pgerr_set(err, "FATAL", "0A000",
                     "client uses authorization identity, but it is not supported");
        goto out;
    }
    if (*p != ',') {
        malformed(err, "Unexpected attribute in client-first-message.");
        goto out;
    }
    p++;
    /* gs2 header = everything before the bare message; the client repeats
     * it (base64) in c= of client-final. Rebuild it from the raw data. */
    s->gs2_header = malloc((size_t)(p - msg) + 1);
    if (!s->gs2_header)
        goto oom;
    memcpy(s->gs2_header, data, (size_t)(p - msg));
    s->gs2_header[p - msg] = 0;
    bare = p;
    s->client_first_bare = strndup((const char *)data + (bare - msg), len - (size_t)(bare - msg));
    if (!s->client_first_bare)
        goto oom;
    if (*p == 'm') {
        ms_pgerr_set(err, "FATAL", "0A000", "client requires an unsupported SCRAM extension");
        goto out;
    }
    if (!read_attr(&p, 'n', err)) /* the user name: PostgreSQL ignores it */
        goto out;
    cnonce = read_attr(&p, 'r', err);
    if (!cnonce)
        goto out;
    if (!printable_nonce(cnonce)) {
        malformed(err, "non-printable characters in SCRAM nonce");
        goto out;
    }
    s->nonce = malloc(strlen(cnonce) + strlen(s->server_nonce) + 1);
    if (!s->nonce)
        goto oom;
    strcpy(s->nonce, cnonce);
    strcat(s->nonce, s->server_nonce);
    salt_b64 = ms_b64_encode(s->salt, sizeof(s->salt));
    if (!salt_b64)
        goto oom;
    {
        size_t n = strlen(s->nonce) + strlen(salt_b64) + 32;
        s->server_first = malloc(n);
        if (!s->server_first)
            goto oom;
        snprintf(s->server_first, n, "r=%s,s=%s,i=%d", s->nonce, salt_b64, s->iterations);
    }
    ms_buf_put(out, s->server_first, strlen(s->server_first));
    result = 0;
    goto out;
oom:
    ms_pgerr_set(err, "FATAL", "53200", "out of memory");
out:
    free(salt_b64);
    free(msg);
    return result;
}

int ms_scram_client_final(ms_scram *s, const uint8_t *data, size_t len, ms_buf *out, ms_pgerr *err)
{
    char *msg = NULL, *p, *cb_b64, *nonce, *proof_b64, *without_proof_end, *auth = NULL;
    uint8_t cb_expect_raw[256], cb_got[256], proof[64], sig[32], client_key[32], stored[32];
    size_t gs2_len, expect_len, auth_len;
    int got, result = -1;

    if (!s->server_first)
        return ms_pgerr_set(err, "FATAL", "08P01", "malformed SCRAM message");
    msg = payload_copy(data, len, err);
    if (!msg)
        goto out;
    p = msg;
    cb_b64 = read_attr(&p, 'c', err);
    if (!cb_b64)
        goto out;
    /* c= is base64(gs2-header [+ cbind-data]) (RFC 5802 section 7). */
    gs2_len = strlen(s->gs2_header);
    memcpy(cb_expect_raw, s->gs2_header, gs2_len < 128 ? gs2_len : 128);
    expect_len = gs2_len < 128 ? gs2_len : 128;
    if (s->cbind_flag == 'p') {
        memcpy(cb_expect_raw + expect_len, s->cb_data, s->cb_len);
        expect_len += s->cb_len;
    }
    got = ms_b64_decode(cb_b64, cb_got, sizeof(cb_got));
    if (got < 0) {
        malformed(err, "Invalid channel binding data.");
        goto out;
    }
    if ((size_t)got != expect_len || memcmp(cb_got, cb_expect_raw, expect_len) != 0) {
        if (s->cbind_flag == 'p')
            ms_pgerr_set(err, "FATAL", "28000", "SCRAM channel binding check failed");
        else
            ms_pgerr_set(err, "FATAL", "08P01",
                         "unexpected SCRAM channel-binding attribute in client-final-message");
        goto out;
    }
    nonce = read_attr(&p, 'r', err);
    if (!nonce)
        goto out;
    if (strcmp(nonce, s->nonce) != 0) {
        malformed(err, "Nonce does not match.");
        goto out;
    }
    /* Skip extensions until p=; the proof is the last attribute. */
    while (*p && !(p[0] == 'p' && p[1] == '=')) {
        char *c = strchr(p, ',');
        if (!c) {
            malformed(err, "Could not find proof in client-final-message.");
            goto out;
        }
        p = c + 1;
    }
    if (!*p) {
        malformed(err, "Could not find proof in client-final-message.");
        goto out;
    }
    without_proof_end = p - 1; /* the ',' before p= */
    proof_b64 = p + 2;
    if (strchr(proof_b64, ',')) {
        malformed(err, "Garbage found at the end of client-final-message.");
        goto out;
    }
    got = ms_b64_decode(proof_b64, proof, sizeof(proof));
    if (got != MS_SCRAM_KEY_LEN) {
        malformed(err, "Malformed proof in client-final-message.");
        goto out;
    }
    /* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
    auth_len = strlen(s->client_first_bare) + strlen(s->server_first) +
               (size_t)(without_proof_end - msg) + 3;
    auth = malloc(auth_len);
    if (!auth) {
        ms_pgerr_set(err, "FATAL", "53200", "out of memory");
        goto out;
    }
    snprintf(auth, auth_len, "%s,%s,%.*s", s->client_first_bare, s->server_first,
             (int)(without_proof_end - msg), (const char *)data);
    if (!s->user_known) {
        result = 0;
        goto out;
    }
    if (hmac256(s->stored_key, 32, auth, strlen(auth), sig) < 0) {
        ms_pgerr_set(err, "FATAL", "XX000", "could not compute the SCRAM client signature");
        goto out;
    }
    for (int i = 0; i < 32; i++)
        client_key[i] = proof[i] ^ sig[i];
    if (!SHA256(client_key, 32, stored) || CRYPTO_memcmp(stored, s->stored_key, 32) != 0) {
        result = 0;
        goto out;
    }
    {
        uint8_t server_sig[32];
        char *v;
        if (hmac256(s->server_key, 32, auth, strlen(auth), server_sig) < 0 ||
            !(v = ms_b64_encode(server_sig, 32))) {
            ms_pgerr_set(err, "FATAL", "XX000", "could not compute the SCRAM server signature");
            goto out;
        }
        ms_buf_put(out, "v=", 2);
        ms_buf_put(out, v, strlen(v));
        free(v);
    }
    result = 1;
out:
    free(auth);
    free(msg);
    return result;
}

int ms_scram_client_proof(const char *password, const uint8_t *salt, size_t salt_len,
                          int iterations, const char *auth_message,
                          uint8_t out_proof[MS_SCRAM_KEY_LEN])
{
    uint8_t salted[32], client_key[32], stored[32], sig[32];
    if (salted_password(password, salt, salt_len, iterations, salted) < 0 ||
        hmac256(salted, 32, "Client Key", 10, client_key) < 0 || !SHA256(client_key, 32, stored) ||
        hmac256(stored, 32, auth_message, strlen(auth_message), sig) < 0)
        return -1;
    for (int i = 0; i < 32; i++)
        out_proof[i] = client_key[i] ^ sig[i];
    return 0;
}
