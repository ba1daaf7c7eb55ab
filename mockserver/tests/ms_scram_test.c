/* pgtls mockserver: unit tests of the SCRAM-SHA-256(-PLUS) server side. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_scram.h"

static const uint8_t salt[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t cbhash[32] = {0xaa, 0xbb, 0xcc};

/* Runs a client side against s; returns ms_scram_client_final's result. */
static int exchange(ms_scram *s, const char *mech, const char *gs2, const char *password,
                    const uint8_t *cb, size_t cb_len, ms_buf *final_out, ms_pgerr *e)
{
    char first[256], bare[128], final_wo[512], final[640], *cbind_b64, *proof_b64, auth[1024];
    uint8_t cbind[128], proof[32];
    ms_buf sf;
    size_t gl = strlen(gs2);
    int rc;
    ms_buf_init(&sf);
    snprintf(bare, sizeof(bare), "n=,r=clientnonce123");
    snprintf(first, sizeof(first), "%s%s", gs2, bare);
    if (ms_scram_client_first(s, mech, (const uint8_t *)first, strlen(first), &sf, e) < 0) {
        ms_buf_cleanup(&sf);
        return -2;
    }
    ms_buf_u8(&sf, 0);
    memcpy(cbind, gs2, gl);
    if (cb_len)
        memcpy(cbind + gl, cb, cb_len);
    cbind_b64 = ms_b64_encode(cbind, gl + cb_len);
    snprintf(final_wo, sizeof(final_wo), "c=%s,r=clientnonce123%s", cbind_b64, s->server_nonce);
    snprintf(auth, sizeof(auth), "%s,%s,%s", bare, (char *)sf.data, final_wo);
    ck_assert_int_eq(ms_scram_client_proof(password, salt, sizeof(salt), 4096, auth, proof), 0);
    proof_b64 = ms_b64_encode(proof, 32);
    snprintf(final, sizeof(final), "%s,p=%s", final_wo, proof_b64);
    rc = ms_scram_client_final(s, (const uint8_t *) final, strlen(final), final_out, e);
    free(cbind_b64);
    free(proof_b64);
    ms_buf_cleanup(&sf);
    return rc;
}

START_TEST(scram_sha_256_accepts_the_right_password_and_signs_the_server_final)
{
    ms_scram s;
    ms_buf out;
    ms_pgerr e;
    ms_buf_init(&out);
    ck_assert_int_eq(ms_scram_init(&s, "pencil", salt, 16, 4096, "srvnonce", 0, NULL, 0), 0);
    ck_assert_int_eq(exchange(&s, "SCRAM-SHA-256", "n,,", "pencil", NULL, 0, &out, &e), 1);
    ck_assert_int_eq(strncmp((char *)out.data, "v=", 2), 0);
    ck_assert_uint_eq(out.len, 2 + 44);
    ms_scram_cleanup(&s);
    ms_buf_cleanup(&out);
}
END_TEST

START_TEST(scram_rejects_a_wrong_password_and_an_unknown_user)
{
    ms_scram s;
    ms_buf out;
    ms_pgerr e;
    ms_buf_init(&out);
    ck_assert_int_eq(ms_scram_init(&s, "pencil", salt, 16, 4096, "srvnonce", 0, NULL, 0), 0);
    ck_assert_int_eq(exchange(&s, "SCRAM-SHA-256", "n,,", "crayon", NULL, 0, &out, &e), 0);
    ms_scram_cleanup(&s);
    ck_assert_int_eq(ms_scram_init(&s, NULL, salt, 16, 4096, "srvnonce", 0, NULL, 0), 0);
    ck_assert_int_eq(exchange(&s, "SCRAM-SHA-256", "n,,", "pencil", NULL, 0, &out, &e), 0);
    ms_scram_cleanup(&s);
    ms_buf_cleanup(&out);
}
END_TEST

START_TEST(scram_plus_binds_to_the_tls_server_end_point_hash)
{
    ms_scram s;
    ms_buf out;
    ms_pgerr e;
    uint8_t other[32] = {0};
    ms_buf_init(&out);
    ck_assert_int_eq(ms_scram_init(&s, "pencil", salt, 16, 4096, "n1", 1, cbhash, 32), 0);
    ck_assert_int_eq(exchange(&s, "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,", "pencil",
                              cbhash, 32, &out, &e),
                     1);
    ms_scram_cleanup(&s);
    ck_assert_int_eq(ms_scram_init(&s, "pencil", salt, 16, 4096, "n1", 1, cbhash, 32), 0);
    ck_assert_int_eq(exchange(&s, "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,", "pencil", other,
                              32, &out, &e),
                     -1);
    ck_assert_str_eq(e.sqlstate, "28000");
    ck_assert_str_eq(e.message, "SCRAM channel binding check failed");
    ms_scram_cleanup(&s);
    ms_buf_cleanup(&out);
}
END_TEST

START_TEST(the_mechanism_list_offers_plus_first_and_only_over_tls)
{
    ms_buf b;
    ms_buf_init(&b);
    ms_scram_mechanisms(1, &b);
    ck_assert_uint_eq(b.len, sizeof("SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0"));
    ck_assert_int_eq(memcmp(b.data, "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0", b.len), 0);
    ms_buf_reset(&b);
    ms_scram_mechanisms(0, &b);
    ck_assert_int_eq(memcmp(b.data, "SCRAM-SHA-256\0\0", b.len), 0);
    ms_buf_cleanup(&b);
}
END_TEST

static const struct {
    const char *mech;
    int tls;
    const char *msg;
    const char *want; /* substring of message or detail */
} bad_first[] = {
    {"SCRAM-SHA-1", 0, "n,,n=,r=abc", "invalid SASL authentication mechanism"},
    {"SCRAM-SHA-256-PLUS", 0, "p=tls-server-end-point,,n=,r=abc",
     "invalid SASL authentication mechanism"},
    {"SCRAM-SHA-256", 0, "", "The message is empty."},
    {"SCRAM-SHA-256", 0, "x,,n=,r=abc", "Unexpected channel-binding flag"},
    {"SCRAM-SHA-256", 0, "n;,n=,r=abc", "Comma expected"},
    {"SCRAM-SHA-256", 0, "n,a=admin,n=,r=abc", "authorization identity"},
    {"SCRAM-SHA-256", 0, "n,,m=ext,n=,r=abc", "unsupported SCRAM extension"},
    {"SCRAM-SHA-256", 0, "n,,n=,x=abc", "Expected attribute \"r\""},
    {"SCRAM-SHA-256", 0, "n,,n=,r=", "non-printable"},
    {"SCRAM-SHA-256", 0, "n,,r=abc", "Expected attribute \"n\""},
    {"SCRAM-SHA-256", 1, "y,,n=,r=abc", "SCRAM channel binding negotiation error"},
    {"SCRAM-SHA-256", 1, "p=tls-server-end-point,,n=,r=abc", "includes channel binding data"},
    {"SCRAM-SHA-256-PLUS", 1, "n,,n=,r=abc", "does not include channel binding data"},
    {"SCRAM-SHA-256-PLUS", 1, "p=tls-unique,,n=,r=abc", "unsupported SCRAM channel-binding type"},
    {"SCRAM-SHA-256-PLUS", 1, "p=tls-server-end-point", "Comma expected"},
};

START_TEST(malformed_client_first_messages_get_postgresql_errors)
{
    ms_scram s;
    ms_buf out;
    ms_pgerr e;
    ms_buf_init(&out);
    ck_assert_int_eq(ms_scram_init(&s, "pw", salt, 16, 4096, "n", bad_first[_i].tls, cbhash, 32),
                     0);
    ck_assert_int_eq(ms_scram_client_first(&s, bad_first[_i].mech,
                                           (const uint8_t *)bad_first[_i].msg,
                                           strlen(bad_first[_i].msg), &out, &e),
                     -1);
    ck_assert_str_eq(e.severity, "FATAL");
    ck_assert_msg(strstr(e.message, bad_first[_i].want) || strstr(e.detail, bad_first[_i].want),
                  "%s: got %s / %s", bad_first[_i].msg, e.message, e.detail);
    ms_scram_cleanup(&s);
    ms_buf_cleanup(&out);
}
END_TEST

START_TEST(a_nul_inside_a_sasl_message_is_malformed)
{
    ms_scram s;
    ms_buf out;
    ms_pgerr e;
    ms_buf_init(&out);
    ck_assert_int_eq(ms_scram_init(&s, "pw", salt, 16, 4096, "n", 0, NULL, 0), 0);
    ck_assert_int_eq(
        ms_scram_client_first(&s, "SCRAM-SHA-256", (const uint8_t *)"n,,n=\0,r=a", 10, &out, &e),
        -1);
    ck_assert_str_eq(e.message, "malformed SCRAM message");
    ms_scram_cleanup(&s);
    ms_buf_cleanup(&out);
}
END_TEST

static const struct {
    const char *final; /* @ = the combined nonce */
    const char *want;
} bad_final[] = {
    {"c=biws,r=@", "Could not find proof"},
    {"c=!!!!,r=@,p=AAAA", "Invalid channel binding data"},
    {"c=eSws,r=@,p=AAAA", "unexpected SCRAM channel-binding attribute"},
    {"c=biws,r=wrong,p=AAAA", "Nonce does not match"},
    {"c=biws,r=@,p=AAAA", "Malformed proof"},
    {"c=biws,r=@,p=AAAA,x=1", "Garbage found"},
    {"r=@,p=AAAA", "Expected attribute \"c\""},
};

START_TEST(malformed_client_final_messages_get_postgresql_errors)
{
    ms_scram s;
    ms_buf out;
    ms_pgerr e;
    char msg[256];
    ms_buf_init(&out);
    ck_assert_int_eq(ms_scram_init(&s, "pw", salt, 16, 4096, "SRV", 0, NULL, 0), 0);
    ck_assert_int_eq(
        ms_scram_client_first(&s, "SCRAM-SHA-256", (const uint8_t *)"n,,n=,r=CLI", 11, &out, &e),
        0);
    {
        const char *at = strchr(bad_final[_i].final, '@');
        if (at)
            snprintf(msg, sizeof(msg), "%.*s%s%s", (int)(at - bad_final[_i].final),
                     bad_final[_i].final, s.nonce, at + 1);
        else
            snprintf(msg, sizeof(msg), "%s", bad_final[_i].final);
    }
    ck_assert_int_eq(ms_scram_client_final(&s, (const uint8_t *)msg, strlen(msg), &out, &e), -1);
    ck_assert_msg(strstr(e.message, bad_final[_i].want) || strstr(e.detail, bad_final[_i].want),
                  "%s: got %s / %s", msg, e.message, e.detail);
    ms_scram_cleanup(&s);
    ms_buf_cleanup(&out);
}
END_TEST

START_TEST(a_client_final_before_the_client_first_is_refused)
{
    ms_scram s;
    ms_buf out;
    ms_pgerr e;
    ms_buf_init(&out);
    ck_assert_int_eq(ms_scram_init(&s, "pw", salt, 16, 4096, "SRV", 0, NULL, 0), 0);
    ck_assert_int_eq(ms_scram_client_final(&s, (const uint8_t *)"c=biws", 6, &out, &e), -1);
    ms_scram_cleanup(&s);
    ms_buf_cleanup(&out);
}
END_TEST

START_TEST(base64_round_trips_and_rejects_bad_text)
{
    uint8_t out[16];
    char *enc = ms_b64_encode((const uint8_t *)"hello", 5);
    ck_assert_str_eq(enc, "aGVsbG8=");
    ck_assert_int_eq(ms_b64_decode(enc, out, sizeof(out)), 5);
    ck_assert_int_eq(memcmp(out, "hello", 5), 0);
    ck_assert_int_eq(ms_b64_decode("aGVsbG8", out, sizeof(out)), -1);
    ck_assert_int_eq(ms_b64_decode("aG=sbG8=", out, sizeof(out)), -1);
    ck_assert_int_eq(ms_b64_decode("a$Vs", out, sizeof(out)), -1);
    ck_assert_int_eq(ms_b64_decode("aGVsbG8=", out, 2), -1);
    free(enc);
}
END_TEST

Suite *ms_scram_suite(void)
{
    Suite *s = suite_create("ms_scram");
    TCase *tc = tcase_create("exchanges");
    tcase_add_test(tc, scram_sha_256_accepts_the_right_password_and_signs_the_server_final);
    tcase_add_test(tc, scram_rejects_a_wrong_password_and_an_unknown_user);
    tcase_add_test(tc, scram_plus_binds_to_the_tls_server_end_point_hash);
    tcase_add_test(tc, the_mechanism_list_offers_plus_first_and_only_over_tls);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed messages");
    tcase_add_loop_test(tc, malformed_client_first_messages_get_postgresql_errors, 0,
                        sizeof(bad_first) / sizeof(bad_first[0]));
    tcase_add_test(tc, a_nul_inside_a_sasl_message_is_malformed);
    tcase_add_loop_test(tc, malformed_client_final_messages_get_postgresql_errors, 0,
                        sizeof(bad_final) / sizeof(bad_final[0]));
    tcase_add_test(tc, a_client_final_before_the_client_first_is_refused);
    tcase_add_test(tc, base64_round_trips_and_rejects_bad_text);
    suite_add_tcase(s, tc);
    return s;
}
