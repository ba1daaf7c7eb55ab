/* pgtls fuzz target "jwt": the Entra ID access-token validator the mock
 * runs on a password message (entra/en_jwt.c). First byte: 0 = the rest is
 * a token, verified as is (form, base64url, header JSON, alg, signature);
 * 1 = the rest is a claims payload, signed with the test issuer's key and
 * then verified, so the claim checks (aud, iss, exp, nbf, ids) see it. */
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "../fuzz_util.h"
#include "en_jwt.h"

static EVP_PKEY *issuer_key(void)
{
    static EVP_PKEY *key;
    if (!key)
        key = EVP_RSA_gen(1024); /* a small key: the fuzzer signs every mode-1 input */
    return key;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    en_jwt_expect ex;
    en_jwt_claims claims;
    char why[256];
    EVP_PKEY *key = issuer_key();
    if (size == 0 || !key)
        return 0;
    memset(&ex, 0, sizeof(ex));
    ex.key = key;
    ex.kid = "pgtls-test-kid";
    ex.audience = "https://ossrdbms-aad.database.windows.net";
    ex.issuer = "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/";
    ex.now = 1800000000;
    ex.skew_s = 300;
    if (data[0] & 1) {
        pgtls_err err;
        char *payload = fz_cstr(data + 1, size - 1), *tok;
        if (!payload)
            return 0;
        err_clear(&err);
        tok = en_jwt_sign("{\"alg\":\"RS256\",\"kid\":\"pgtls-test-kid\",\"typ\":\"JWT\"}", payload,
                          key, &err);
        if (tok)
            (void)en_jwt_verify(tok, strlen(tok), &ex, &claims, why, sizeof(why));
        free(tok);
        free(payload);
    } else {
        (void)en_jwt_verify((const char *)data + 1, size - 1, &ex, &claims, why, sizeof(why));
    }
    return 0;
}
