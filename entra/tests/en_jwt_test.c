/* pgtls entra: the JWT encoder and the strict validator, with a negative
 * case for every rule. */
#include <check.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_jwt.h"

#define AUD "https://ossrdbms-aad.database.windows.net"
#define ISS "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/"
#define NOW 1800000000LL

static EVP_PKEY *key_a, *key_b;

static void make_keys(void)
{
    key_a = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    key_b = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    ck_assert_ptr_nonnull(key_a);
    ck_assert_ptr_nonnull(key_b);
}

static void free_keys(void)
{
    EVP_PKEY_free(key_a);
    EVP_PKEY_free(key_b);
}

static char *payload(const char *aud, long long iat, long long nbf, long long exp)
{
    char *s = malloc(1024);
    snprintf(s, 1024,
             "{\"aud\":\"%s\",\"iss\":\"%s\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,"
             "\"oid\":\"0b8e4c2f-1111-4222-8333-444455556666\","
             "\"tid\":\"72f988bf-86f1-41af-91ab-2d7cd011db47\",\"appid\":\"a\",\"sub\":\"s\"}",
             aud, ISS, iat, nbf, exp);
    return s;
}

static char *sign_with(EVP_PKEY *k, const char *hdr, const char *pl)
{
    pgtls_err err;
    char *t = en_jwt_sign(hdr, pl, k, &err);
    ck_assert_msg(t != NULL, "%s", err.msg);
    return t;
}

static en_jwt_status check(const char *tok, en_jwt_claims *c, char *why)
{
    en_jwt_expect e = {key_a, "kidA", AUD, ISS, NOW, 300};
    return en_jwt_verify(tok, strlen(tok), &e, c, why, 200);
}

#define HDR "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"kidA\"}"

START_TEST(base64url_round_trips_every_length_and_rejects_bad_input)
{
    unsigned char data[40];
    size_t n, out_len;
    for (n = 0; n < sizeof(data); n++)
        data[n] = (unsigned char)(n * 37 + 1);
    for (n = 0; n <= sizeof(data); n++) {
        char *e = en_b64url_encode(data, n);
        unsigned char *d = en_b64url_decode(e, strlen(e), &out_len);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(out_len, n);
        ck_assert_int_eq(memcmp(d, data, n), 0);
        ck_assert_ptr_null(strchr(e, '='));
        free(e);
        free(d);
    }
    ck_assert_ptr_null(en_b64url_decode("ab+c", 4, &out_len)); /* standard alphabet */
    ck_assert_ptr_null(en_b64url_decode("ab/c", 4, &out_len));
    ck_assert_ptr_null(en_b64url_decode("abc=", 4, &out_len)); /* padding */
    ck_assert_ptr_null(en_b64url_decode("abcde", 5, &out_len)); /* impossible length */
    ck_assert_ptr_null(en_b64url_decode("ab c", 4, &out_len));
    ck_assert_ptr_null(en_b64url_decode("AB", 2, &out_len)); /* non-zero unused bits */
}
END_TEST

START_TEST(a_token_signed_by_the_tenant_key_validates_with_its_claims)
{
    char *pl = payload(AUD, NOW - 10, NOW - 10, NOW + 3600), *tok = sign_with(key_a, HDR, pl);
    en_jwt_claims c;
    char why[200];
    ck_assert_int_eq(check(tok, &c, why), EN_JWT_OK);
    ck_assert_str_eq(c.oid, "0b8e4c2f-1111-4222-8333-444455556666");
    ck_assert_str_eq(c.aud, AUD);
    ck_assert_int_eq(c.exp, NOW + 3600);
    free(pl);
    free(tok);
}
END_TEST

START_TEST(a_token_signed_by_another_key_is_a_bad_signature)
{
    char *pl = payload(AUD, NOW, NOW, NOW + 3600), *tok = sign_with(key_b, HDR, pl);
    char why[200];
    ck_assert_int_eq(check(tok, NULL, why), EN_JWT_BAD_SIGNATURE);
    free(tok);
    /* and an unknown kid is refused before the signature */
    tok = sign_with(key_a, "{\"alg\":\"RS256\",\"kid\":\"other\"}", pl);
    ck_assert_int_eq(check(tok, NULL, why), EN_JWT_BAD_SIGNATURE);
    ck_assert_msg(strstr(why, "kid") != NULL, "%s", why);
    free(pl);
    free(tok);
}
END_TEST

START_TEST(a_tampered_payload_fails_the_signature)
{
    char *pl = payload(AUD, NOW, NOW, NOW + 3600), *tok = sign_with(key_a, HDR, pl);
    char *other = payload(AUD, NOW, NOW, NOW + 999999), *forged = sign_with(key_b, HDR, other);
    /* header.payload of the forged token with the tenant's signature */
    char *dot_t = strrchr(tok, '.'), *dot_f = strrchr(forged, '.');
    char mixed[8192];
    snprintf(mixed, sizeof(mixed), "%.*s%s", (int)(dot_f - forged), forged, dot_t);
    ck_assert_int_eq(check(mixed, NULL, NULL), EN_JWT_BAD_SIGNATURE);
    free(pl);
    free(tok);
    free(other);
    free(forged);
}
END_TEST

START_TEST(alg_none_and_hs256_are_refused)
{
    char *pl = payload(AUD, NOW, NOW, NOW + 3600), *tok;
    tok = sign_with(key_a, "{\"alg\":\"none\"}", pl);
    ck_assert_int_eq(check(tok, NULL, NULL), EN_JWT_BAD_ALG);
    free(tok);
    tok = sign_with(key_a, "{\"alg\":\"HS256\"}", pl);
    ck_assert_int_eq(check(tok, NULL, NULL), EN_JWT_BAD_ALG);
    free(tok);
    tok = sign_with(key_a, "{\"typ\":\"JWT\"}", pl);
    ck_assert_int_eq(check(tok, NULL, NULL), EN_JWT_BAD_ALG);
    free(tok);
    free(pl);
}
END_TEST

START_TEST(wrong_audience_issuer_expiry_and_not_before_are_told_apart)
{
    char *pl, *tok;
    pl = payload("https://management.azure.com/", NOW, NOW, NOW + 3600);
    tok = sign_with(key_a, HDR, pl);
    ck_assert_int_eq(check(tok, NULL, NULL), EN_JWT_WRONG_AUDIENCE);
    free(pl);
    free(tok);
    pl = payload(AUD, NOW - 7200, NOW - 7200, NOW - 3600);
    tok = sign_with(key_a, HDR, pl);
    ck_assert_int_eq(check(tok, NULL, NULL), EN_JWT_EXPIRED);
    free(pl);
    free(tok);
    /* within the 5-minute skew an expired token still passes, as in Azure */
    pl = payload(AUD, NOW - 7200, NOW - 7200, NOW - 60);
    tok = sign_with(key_a, HDR, pl);
    ck_assert_int_eq(check(tok, NULL, NULL), EN_JWT_OK);
    free(pl);
    free(tok);
    pl = payload(AUD, NOW, NOW + 3600, NOW + 7200);
    tok = sign_with(key_a, HDR, pl);
    ck_assert_int_eq(check(tok, NULL, NULL), EN_JWT_NOT_YET_VALID);
    free(pl);
    free(tok);
    tok = sign_with(key_a, HDR,
                    "{\"aud\":\"" AUD "\",\"iss\":\"https://sts.windows.net/other/\",\"iat\":1,"
                    "\"nbf\":1,\"exp\":9999999999,\"oid\":\"o\",\"tid\":\"t\"}");
    ck_assert_int_eq(check(tok, NULL, NULL), EN_JWT_WRONG_ISSUER);
    free(tok);
}
END_TEST

START_TEST(malformed_tokens_are_malformed)
{
    static const char *const bad[] = {
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "eyJhbGciOiJSUzI1NiJ9.e30.",                         /* empty signature */
        "eyJhbGciOiJSUzI1NiJ9 .e30.AAAA",                    /* blank */
        "eyJhbGciOiJSUzI1NiJ9.e30=.AAAA",                    /* padding */
        "bm90IGpzb24.e30.AAAA",                              /* header not JSON */
        "WzFd.e30.AAAA",                                     /* header an array */
        "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.AAAA",             /* payload not JSON */
        "Bearer eyJhbGciOiJSUzI1NiJ9.e30.AAAA",              /* with the scheme */
        "\"eyJhbGciOiJSUzI1NiJ9.e30.AAAA\"",                 /* quoted, as jq without -r */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char why[200] = "";
        ck_assert_msg(check(bad[i], NULL, why) == EN_JWT_MALFORMED, "case %zu (%s): %s", i,
                      bad[i], why);
    }
    /* over the length limit */
    {
        char *big = malloc(EN_JWT_MAX_LEN + 2);
        memset(big, 'A', EN_JWT_MAX_LEN + 1);
        big[EN_JWT_MAX_LEN + 1] = 0;
        ck_assert_int_eq(check(big, NULL, NULL), EN_JWT_MALFORMED);
        free(big);
    }
}
END_TEST

START_TEST(a_signed_token_missing_oid_or_with_string_dates_is_malformed)
{
    char *tok = sign_with(key_a, HDR,
                          "{\"aud\":\"" AUD "\",\"iss\":\"" ISS "\",\"iat\":\"1\",\"nbf\":1,"
                          "\"exp\":9999999999,\"oid\":\"o\",\"tid\":\"t\"}");
    ck_assert_int_eq(check(tok, NULL, NULL), EN_JWT_MALFORMED);
    free(tok);
    tok = sign_with(key_a, HDR,
                    "{\"aud\":\"" AUD "\",\"iss\":\"" ISS "\",\"iat\":1,\"nbf\":1,"
                    "\"exp\":9999999999,\"tid\":\"t\"}");
    ck_assert_int_eq(check(tok, NULL, NULL), EN_JWT_MALFORMED);
    free(tok);
    /* duplicate claim names are refused (JSON_REJECT_DUPLICATES) */
    tok = sign_with(key_a, HDR,
                    "{\"aud\":\"x\",\"aud\":\"" AUD "\",\"iss\":\"" ISS "\",\"iat\":1,\"nbf\":1,"
                    "\"exp\":9999999999,\"oid\":\"o\",\"tid\":\"t\"}");
    ck_assert_int_eq(check(tok, NULL, NULL), EN_JWT_MALFORMED);
    free(tok);
}
END_TEST

Suite *en_jwt_suite(void)
{
    Suite *s = suite_create("en_jwt");
    TCase *tc = tcase_create("jwt");
    /* two RSA keys for the whole case (made once: key generation is slow) */
    tcase_add_unchecked_fixture(tc, make_keys, free_keys);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, base64url_round_trips_every_length_and_rejects_bad_input);
    tcase_add_test(tc, a_token_signed_by_the_tenant_key_validates_with_its_claims);
    tcase_add_test(tc, a_token_signed_by_another_key_is_a_bad_signature);
    tcase_add_test(tc, a_tampered_payload_fails_the_signature);
    tcase_add_test(tc, alg_none_and_hs256_are_refused);
    tcase_add_test(tc, wrong_audience_issuer_expiry_and_not_before_are_told_apart);
    tcase_add_test(tc, malformed_tokens_are_malformed);
    tcase_add_test(tc, a_signed_token_missing_oid_or_with_string_dates_is_malformed);
    suite_add_tcase(s, tc);
    return s;
}
