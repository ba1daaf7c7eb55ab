/* pgtls mockserver: whole sessions over the memory transport. The server
 * must answer like PostgreSQL and never crash, whatever the bytes. */
#include <check.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_conn.h"

/* ---- building client input ---- */

static void fe_startup(ms_buf *b, const char *const *kv)
{
    size_t start = b->len, i;
    ms_buf_i32(b, 0);
    ms_buf_i32(b, 196608);
    for (i = 0; kv && kv[i]; i++)
        ms_buf_str(b, kv[i]);
    ms_buf_u8(b, 0);
    b->data[start] = (uint8_t)((b->len - start) >> 24);
    b->data[start + 1] = (uint8_t)((b->len - start) >> 16);
    b->data[start + 2] = (uint8_t)((b->len - start) >> 8);
    b->data[start + 3] = (uint8_t)(b->len - start);
}

static void fe_request(ms_buf *b, uint32_t code)
{
    ms_buf_i32(b, 8);
    ms_buf_i32(b, (int32_t)code);
}

static void fe_msg(ms_buf *b, char type, const void *body, size_t len)
{
    size_t m = ms_msg_begin(b, type);
    ms_buf_put(b, body, len);
    ms_msg_end(b, m);
}

static void fe_query(ms_buf *b, const char *sql)
{
    fe_msg(b, 'Q', sql, strlen(sql) + 1);
}

static const char *const user_only[] = {"user", "pgtls", "database", "postgres", NULL};

/* ---- reading server output ---- */

typedef struct out_view {
    char types[512];
    size_t n;
    const uint8_t *body[512];
    size_t len[512];
} out_view;

static void view(const ms_buf *out, out_view *v)
{
    size_t off = 0;
    memset(v, 0, sizeof(*v));
    /* Single-byte answers to SSLRequest/GSSENCRequest come first. */
    while (off < out->len && (out->data[off] == 'N' || out->data[off] == 'S') &&
           (off + 1 == out->len || out->data[off + 1] != 0 || out->data[off] == 'N') &&
           (off + 5 > out->len || ms_be32(out->data + off + 1) > 0x10000)) {
        v->types[v->n++] = (char)(out->data[off] == 'N' ? 'n' : 's');
        off++;
    }
    while (off + 5 <= out->len && v->n < 511) {
        uint32_t len = ms_be32(out->data + off + 1);
        v->types[v->n] = (char)out->data[off];
        v->body[v->n] = out->data + off + 5;
        v->len[v->n] = len - 4;
        v->n++;
        off += 1 + len;
    }
}

/* The i-th ErrorResponse field f ('C', 'M', 'S'), or "". */
static const char *err_field(const out_view *v, char f)
{
    size_t i, off;
    for (i = 0; i < v->n; i++)
        if (v->types[i] == 'E')
            for (off = 0; off < v->len[i] && v->body[i][off];) {
                const char *s = (const char *)v->body[i] + off + 1;
                if (v->body[i][off] == f)
                    return s;
                off += strlen(s) + 2;
            }
    return "";
}

static ms_event run(ms_profile *p, const ms_buf *in, ms_memio *mio, out_view *v)
{
    ms_event ev;
    memset(mio, 0, sizeof(*mio));
    ms_session_run_memory(p, in->data, in->len, mio, &ev);
    view(&mio->out, v);
    return ev;
}

START_TEST(a_trust_session_gets_the_parameter_set_key_data_and_ready)
{
    ms_profile *p = ms_profile_new_plain("trust", "pgtls", "pw", 0);
    ms_buf in;
    ms_memio mio;
    out_view v;
    ms_event ev;
    const char *const kv[] = {"user", "pgtls",           "database", "postgres", "application_name",
                              "unit", "client_encoding", "utf-8",    NULL};
    ms_buf_init(&in);
    fe_startup(&in, kv);
    fe_query(&in, "SELECT 1");
    fe_msg(&in, 'X', NULL, 0);
    ev = run(p, &in, &mio, &v);
    ck_assert_str_eq(v.types, "RSSSSSSSSSSSSSSKZTDCZ");
    ck_assert(memmem(mio.out.data, mio.out.len, "client_encoding\0UTF8", 20));
    ck_assert(memmem(mio.out.data, mio.out.len, "DateStyle\0ISO, MDY", 18));
    ck_assert(memmem(mio.out.data, mio.out.len, "application_name\0unit", 21));
    ck_assert_str_eq(ms_end_name(ev.end), "client-close");
    ck_assert_str_eq(ev.end_reason, "Terminate");
    ck_assert_int_eq(ev.queries, 1);
    ck_assert_str_eq(ev.application_name, "unit");
    ms_buf_cleanup(&mio.out);
    ms_buf_cleanup(&in);
    ms_profile_unref(p);
}
END_TEST

START_TEST(sslrequest_on_a_plaintext_scenario_gets_N_and_the_session_goes_on)
{
    ms_profile *p = ms_profile_new_plain("trust", "pgtls", "pw", 0);
    ms_buf in;
    ms_memio mio;
    ms_event ev;
    size_t brk[1];
    ms_buf_init(&in);
    fe_request(&in, MS_CODE_SSLREQUEST);
    brk[0] = in.len;
    fe_startup(&in, user_only);
    memset(&mio, 0, sizeof(mio));
    mio.breaks = brk;
    mio.num_breaks = 1;
    ms_session_run_memory(p, in.data, in.len, &mio, &ev);
    ck_assert_int_eq(mio.out.data[0], 'N');
    ck_assert_int_eq(ev.ssl_response, 'N');
    ck_assert_str_eq(ev.tls_start, "sslrequest");
    ck_assert_str_eq(ms_auth_result_name(ev.auth_result), "ok");
    ms_buf_cleanup(&mio.out);
    ms_buf_cleanup(&in);
    ms_profile_unref(p);
}
END_TEST

START_TEST(bytes_pipelined_after_sslrequest_get_fatal_08P01)
{
    ms_profile *p = ms_profile_new_plain("trust", "pgtls", "pw", 0);
    ms_buf in;
    ms_memio mio;
    out_view v;
    ms_event ev;
    ms_buf_init(&in);
    fe_request(&in, MS_CODE_SSLREQUEST);
    fe_startup(&in, user_only); /* same "write": no break */
    ev = run(p, &in, &mio, &v);
    ck_assert_str_eq(err_field(&v, 'C'), "08P01");
    ck_assert_str_eq(err_field(&v, 'M'), "received unencrypted data after SSL request");
    ck_assert_str_eq(ms_end_name(ev.end), "protocol-error");
    ms_buf_cleanup(&mio.out);
    ms_buf_cleanup(&in);
    ms_profile_unref(p);
}
END_TEST

START_TEST(require_secure_transport_refuses_plaintext_with_28000)
{
    ms_profile *p = ms_profile_new_plain("scram-sha-256", "pgtls", "pw", 1);
    ms_buf in;
    ms_memio mio;
    out_view v;
    ms_event ev;
    ms_buf_init(&in);
    fe_startup(&in, user_only);
    ev = run(p, &in, &mio, &v);
    ck_assert_str_eq(v.types, "E");
    ck_assert_str_eq(err_field(&v, 'C'), "28000");
    ck_assert_str_eq(err_field(&v, 'M'), "no pg_hba.conf entry for host \"127.0.0.1\", user "
                                         "\"pgtls\", database \"postgres\", no encryption");
    ck_assert_str_eq(ms_end_name(ev.end), "server-fatal");
    ms_buf_cleanup(&mio.out);
    ms_buf_cleanup(&in);
    ms_profile_unref(p);
}
END_TEST

static void md5_hex(const char *s, size_t n, char out[33])
{
    unsigned char d[16];
    unsigned int l;
    EVP_Digest(s, n, d, &l, EVP_md5(), NULL);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

START_TEST(md5_authentication_checks_the_salted_hash)
{
    ms_profile *p = ms_profile_new_plain("md5", "pgtls", "pw", 0);
    ms_buf in;
    ms_memio mio;
    out_view v;
    ms_event ev;
    char inner[33], outer[40], buf[64];
    /* First run: learn the salt the server picks, answer wrongly. */
    ms_buf_init(&in);
    fe_startup(&in, user_only);
    fe_msg(&in, 'p', "md5000", 7);
    ev = run(p, &in, &mio, &v);
    ck_assert_int_eq(v.types[0], 'R');
    ck_assert_uint_eq(ms_be32(v.body[0]), 5);
    ck_assert_str_eq(err_field(&v, 'C'), "28P01");
    ck_assert_str_eq(err_field(&v, 'M'), "password authentication failed for user \"pgtls\"");
    ck_assert_str_eq(ev.auth_method, "md5");
    ck_assert_str_eq(ms_auth_result_name(ev.auth_result), "failed");
    ms_buf_cleanup(&mio.out);
    /* With a fixed salt: "md5" + md5hex(md5hex(password || user) || salt). */
    md5_hex("pwpgtls", 7, inner);
    memcpy(buf, inner, 32);
    memcpy(buf + 32, "\x01\x02\x03\x04", 4);
    md5_hex(buf, 36, outer + 3);
    memcpy(outer, "md5", 3);
    ms_buf_reset(&in);
    fe_startup(&in, user_only);
    fe_msg(&in, 'p', outer, 36);
    memset(&mio, 0, sizeof(mio));
    mio.md5_salt = 0x01020304;
    ms_session_run_memory(p, in.data, in.len, &mio, &ev);
    view(&mio.out, &v);
    ck_assert_int_eq(memcmp(v.body[0] + 4, "\x01\x02\x03\x04", 4), 0);
    ck_assert_str_eq(ms_auth_result_name(ev.auth_result), "ok");
    ck_assert_int_eq(v.types[1], 'R');
    ms_buf_cleanup(&mio.out);
    ms_buf_cleanup(&in);
    ms_profile_unref(p);
}
END_TEST

START_TEST(cleartext_password_accepts_the_right_one_and_rejects_empty_and_wrong)
{
    static const struct {
        const char *pw;
        size_t len;
        const char *want_result, *sqlstate;
    } cases[] = {{"a-long-token-as-password", 25, "ok", ""},
                 {"wrong", 6, "failed", "28P01"},
                 {"", 1, "failed", "28P01"},
                 {"no-terminator", 13, "failed", "08P01"}};
    ms_profile *p = ms_profile_new_plain("password", "pgtls", "a-long-token-as-password", 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ms_buf in;
        ms_memio mio;
        out_view v;
        ms_event ev;
        ms_buf_init(&in);
        fe_startup(&in, user_only);
        fe_msg(&in, 'p', cases[i].pw, cases[i].len);
        ev = run(p, &in, &mio, &v);
        ck_assert_msg(!strcmp(ms_auth_result_name(ev.auth_result), cases[i].want_result), "case %zu: %s", i,
                      ms_auth_result_name(ev.auth_result));
        ck_assert_str_eq(err_field(&v, 'C'), cases[i].sqlstate);
        ms_buf_cleanup(&mio.out);
        ms_buf_cleanup(&in);
    }
    ms_profile_unref(p);
}
END_TEST

START_TEST(an_unknown_startup_parameter_gets_fatal_42704_after_authentication)
{
    ms_profile *p = ms_profile_new_plain("trust", "pgtls", "pw", 0);
    ms_buf in;
    ms_memio mio;
    out_view v;
    const char *const kv[] = {"user", "pgtls", "sslrootcert", "system", NULL};
    ms_buf_init(&in);
    fe_startup(&in, kv);
    run(p, &in, &mio, &v);
    ck_assert_str_eq(v.types, "RE");
    ck_assert_str_eq(err_field(&v, 'S'), "FATAL");
    ck_assert_str_eq(err_field(&v, 'C'), "42704");
    ck_assert_str_eq(err_field(&v, 'M'), "unrecognized configuration parameter \"sslrootcert\"");
    ms_buf_cleanup(&mio.out);
    ms_buf_cleanup(&in);
    ms_profile_unref(p);
}
END_TEST

START_TEST(a_newer_minor_version_and_pq_options_get_negotiate_protocol_version)
{
    ms_profile *p = ms_profile_new_plain("trust", "pgtls", "pw", 0);
    ms_buf in;
    ms_memio mio;
    out_view v;
    const char *const kv[] = {"user", "pgtls", "_pq_.magic", "1", NULL};
    ms_buf_init(&in);
    fe_startup(&in, kv);
    in.data[7] = 2; /* protocol 3.2 */
    run(p, &in, &mio, &v);
    ck_assert_int_eq(v.types[0], 'v');
    ck_assert_uint_eq(ms_be32(v.body[0]), 196608);
    ck_assert_uint_eq(ms_be32(v.body[0] + 4), 1);
    ck_assert_str_eq((const char *)v.body[0] + 8, "_pq_.magic");
    ck_assert_int_eq(v.types[1], 'R');
    ms_buf_cleanup(&mio.out);
    ms_buf_cleanup(&in);
    ms_profile_unref(p);
}
END_TEST

START_TEST(the_extended_protocol_runs_parse_bind_describe_execute_sync_in_binary)
{
    ms_profile *p = ms_profile_new_plain("trust", "pgtls", "pw", 0);
    ms_buf in, body;
    ms_memio mio;
    out_view v;
    size_t i, d = 0;
    ms_buf_init(&in);
    ms_buf_init(&body);
    fe_startup(&in, user_only);
    ms_buf_str(&body, "s1");
    ms_buf_str(&body, "SELECT 1, ssl_is_used()");
    ms_buf_i16(&body, 0);
    fe_msg(&in, 'P', body.data, body.len);
    ms_buf_reset(&body);
    ms_buf_str(&body, "");
    ms_buf_str(&body, "s1");
    ms_buf_i16(&body, 0);
    ms_buf_i16(&body, 0);
    ms_buf_i16(&body, 1);
    ms_buf_i16(&body, 1); /* all results binary */
    fe_msg(&in, 'B', body.data, body.len);
    fe_msg(&in, 'D', "P", 2);
    fe_msg(&in, 'E', "\0\0\0\0", 5);
    fe_msg(&in, 'S', NULL, 0);
    fe_msg(&in, 'C', "Ss1", 4);
    fe_msg(&in, 'S', NULL, 0);
    run(p, &in, &mio, &v);
    ck_assert_ptr_nonnull(strstr(v.types, "KZ12TDCZ3Z"));
    for (i = 0; i < v.n; i++)
        if (v.types[i] == 'D')
            d = i;
    /* int4 1 as 4 bytes, bool false as 1 byte */
    ck_assert_uint_eq(v.len[d], 2 + 4 + 4 + 4 + 1);
    ck_assert_uint_eq(ms_be32(v.body[d] + 2), 4);
    ck_assert_uint_eq(ms_be32(v.body[d] + 6), 1);
    ck_assert_uint_eq(ms_be32(v.body[d] + 10), 1);
    ck_assert_int_eq(v.body[d][14], 0);
    ms_buf_cleanup(&mio.out);
    ms_buf_cleanup(&body);
    ms_buf_cleanup(&in);
    ms_profile_unref(p);
}
END_TEST

START_TEST(an_error_in_the_extended_protocol_skips_to_sync)
{
    ms_profile *p = ms_profile_new_plain("trust", "pgtls", "pw", 0);
    ms_buf in, body;
    ms_memio mio;
    out_view v;
    ms_buf_init(&in);
    ms_buf_init(&body);
    fe_startup(&in, user_only);
    ms_buf_str(&body, "");
    ms_buf_str(&body, "DROP TABLE x");
    ms_buf_i16(&body, 0);
    fe_msg(&in, 'P', body.data, body.len);
    fe_msg(&in, 'B', "\0\0\0\0\0\0\0\0", 8);
    fe_msg(&in, 'E', "\0\0\0\0\0", 5);
    fe_msg(&in, 'S', NULL, 0);
    fe_query(&in, "SELECT 1");
    run(p, &in, &mio, &v);
    ck_assert_ptr_nonnull(strstr(v.types, "KZEZTDCZ"));
    ck_assert_str_eq(err_field(&v, 'C'), "0A000");
    ms_buf_cleanup(&mio.out);
    ms_buf_cleanup(&body);
    ms_buf_cleanup(&in);
    ms_profile_unref(p);
}
END_TEST

START_TEST(result_formats_that_do_not_match_the_columns_are_an_error)
{
    ms_profile *p = ms_profile_new_plain("trust", "pgtls", "pw", 0);
    ms_buf in, body;
    ms_memio mio;
    out_view v;
    ms_buf_init(&in);
    ms_buf_init(&body);
    fe_startup(&in, user_only);
    ms_buf_str(&body, "");
    ms_buf_str(&body, "SELECT 1, 2");
    ms_buf_i16(&body, 0);
    fe_msg(&in, 'P', body.data, body.len);
    ms_buf_reset(&body);
    ms_buf_str(&body, "");
    ms_buf_str(&body, "");
    ms_buf_i16(&body, 0);
    ms_buf_i16(&body, 0);
    ms_buf_i16(&body, 3);
    ms_buf_i16(&body, 0);
    ms_buf_i16(&body, 1);
    ms_buf_i16(&body, 0);
    fe_msg(&in, 'B', body.data, body.len);
    fe_msg(&in, 'E', "\0\0\0\0\0", 5);
    fe_msg(&in, 'S', NULL, 0);
    run(p, &in, &mio, &v);
    ck_assert_ptr_nonnull(strstr(v.types, "KZ12EZ"));
    ck_assert_str_eq(err_field(&v, 'M'),
                     "bind message has 3 result formats but query has 2 columns");
    ms_buf_cleanup(&mio.out);
    ms_buf_cleanup(&body);
    ms_buf_cleanup(&in);
    ms_profile_unref(p);
}
END_TEST

START_TEST(more_than_64_statements_in_one_query_is_an_error_not_a_truncation)
{
    ms_profile *p = ms_profile_new_plain("trust", "pgtls", "pw", 0);
    ms_buf in;
    ms_memio mio;
    out_view v;
    char sql[65 * 10 + 1] = "";
    for (int i = 0; i < 65; i++)
        strcat(sql, "SELECT 1;");
    ms_buf_init(&in);
    fe_startup(&in, user_only);
    fe_query(&in, sql);
    fe_query(&in, "SELECT 2");
    run(p, &in, &mio, &v);
    ck_assert_ptr_nonnull(strstr(v.types, "KZEZTDCZ"));
    ck_assert_str_eq(err_field(&v, 'C'), "54000");
    ms_buf_cleanup(&mio.out);
    ms_buf_cleanup(&in);
    ms_profile_unref(p);
}
END_TEST

START_TEST(an_unknown_message_type_gets_fatal_08P01)
{
    ms_profile *p = ms_profile_new_plain("trust", "pgtls", "pw", 0);
    ms_buf in;
    ms_memio mio;
    out_view v;
    ms_event ev;
    ms_buf_init(&in);
    fe_startup(&in, user_only);
    fe_msg(&in, 'Y', "x", 1);
    ev = run(p, &in, &mio, &v);
    ck_assert_str_eq(err_field(&v, 'M'), "invalid frontend message type 89");
    ck_assert_str_eq(err_field(&v, 'S'), "FATAL");
    ck_assert_str_eq(ms_end_name(ev.end), "protocol-error");
    ms_buf_cleanup(&mio.out);
    ms_buf_cleanup(&in);
    ms_profile_unref(p);
}
END_TEST

START_TEST(message_lengths_under_4_or_over_the_cap_get_invalid_message_length)
{
    static const uint32_t lens[] = {0, 3, MS_MAX_MESSAGE + 5, 0xffffffffu};
    ms_profile *p = ms_profile_new_plain("trust", "pgtls", "pw", 0);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        ms_buf in;
        ms_memio mio;
        out_view v;
        ms_event ev;
        ms_buf_init(&in);
        fe_startup(&in, user_only);
        ms_buf_u8(&in, 'Q');
        ms_buf_i32(&in, (int32_t)lens[i]);
        ev = run(p, &in, &mio, &v);
        ck_assert_str_eq(err_field(&v, 'M'), "invalid message length");
        ck_assert_str_eq(ms_end_name(ev.end), "protocol-error");
        ms_buf_cleanup(&mio.out);
        ms_buf_cleanup(&in);
    }
    ms_profile_unref(p);
}
END_TEST

START_TEST(every_truncation_of_a_session_ends_cleanly)
{
    ms_profile *p = ms_profile_new_plain("password", "pgtls", "pw", 0);
    ms_buf in;
    ms_buf_init(&in);
    fe_request(&in, MS_CODE_GSSENCREQUEST);
    fe_startup(&in, user_only);
    fe_msg(&in, 'p', "pw", 3);
    fe_query(&in, "SELECT 1; SHOW TimeZone");
    fe_msg(&in, 'X', NULL, 0);
    for (size_t cut = 0; cut <= in.len; cut++) {
        ms_memio mio;
        ms_event ev;
        memset(&mio, 0, sizeof(mio));
        ms_session_run_memory(p, in.data, cut, &mio, &ev);
        ck_assert_int_ne(ev.end, MS_END_NONE);
        ck_assert(ev.end_reason[0] != 0);
        ms_buf_cleanup(&mio.out);
    }
    ms_buf_cleanup(&in);
    ms_profile_unref(p);
}
END_TEST

START_TEST(startup_packet_errors_close_like_postgresql)
{
    static const struct {
        const char *bytes;
        size_t len;
        const char *end, *sqlstate;
    } cases[] = {
        {"\0\0\0\x04", 4, "protocol-error", ""},                          /* length 4: COMMERROR */
        {"\x16\x03\x01\x02\x00", 5, "protocol-error", ""},                /* TLS without TLS */
        {"\0\0\0\x0c\x04\xd2\x16\x2e\0\0\0\0", 12, "protocol-error", ""}, /* short cancel */
        {"\0\0\0\x08\x00\x02\x00\x00", 8, "server-fatal", "0A000"},       /* protocol 2.0 */
        {"\0\0\0\x0a\x00\x03\x00\x00\x41\x42", 10, "protocol-error", "08P01"},
        {"\0\0\0\x10\x04\xd2\x16\x2e\0\0\0\x01\0\0\0\x02", 16, "cancel-request", ""},
        {"", 0, "client-close", ""},
    };
    ms_profile *p = ms_profile_new_plain("trust", "pgtls", "pw", 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ms_memio mio;
        out_view v;
        ms_event ev;
        memset(&mio, 0, sizeof(mio));
        ms_session_run_memory(p, (const uint8_t *)cases[i].bytes, cases[i].len, &mio, &ev);
        view(&mio.out, &v);
        ck_assert_msg(!strcmp(ms_end_name(ev.end), cases[i].end), "case %zu: %s (%s)", i, ms_end_name(ev.end), ev.end_reason);
        ck_assert_msg(!strcmp(err_field(&v, 'C'), cases[i].sqlstate), "case %zu: %s", i,
                      err_field(&v, 'C'));
        ms_buf_cleanup(&mio.out);
    }
    ms_profile_unref(p);
}
END_TEST

START_TEST(the_event_json_has_every_documented_field)
{
    ms_profile *p = ms_profile_new_plain("trust", "pgtls", "pw", 0);
    static const char *const fields[] = {"\"listener\":",
                                         "\"scenario\":",
                                         "\"port\":",
                                         "\"peer_addr\":",
                                         "\"peer_port\":",
                                         "\"t_start\":",
                                         "\"t_end\":",
                                         "\"duration_ms\":",
                                         "\"tls_start\":",
                                         "\"ssl_response\":",
                                         "\"handshake\":",
                                         "\"tls_version\":",
                                         "\"cipher\":",
                                         "\"alpn\":",
                                         "\"sni\":",
                                         "\"client_alert\":",
                                         "\"server_alert\":",
                                         "\"bytes_in\":",
                                         "\"bytes_out\":",
                                         "\"startup\":true",
                                         "\"user\":\"pgtls\"",
                                         "\"database\":",
                                         "\"application_name\":",
                                         "\"auth_method\":\"trust\"",
                                         "\"auth_result\":\"ok\"",
                                         "\"queries\":1",
                                         "\"fatal\":",
                                         "\"end\":\"client-close\"",
                                         "\"end_reason\":"};
    ms_buf in;
    ms_memio mio;
    ms_event ev;
    char *json;
    ms_buf_init(&in);
    fe_startup(&in, user_only);
    fe_query(&in, "SELECT 1");
    memset(&mio, 0, sizeof(mio));
    ms_session_run_memory(p, in.data, in.len, &mio, &ev);
    json = ms_event_json(&ev);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        ck_assert_msg(strstr(json, fields[i]), "missing %s in %s", fields[i], json);
    free(json);
    ms_buf_cleanup(&mio.out);
    ms_buf_cleanup(&in);
    ms_profile_unref(p);
}
END_TEST

START_TEST(alert_codes_have_their_rfc_names)
{
    char buf[16];
    ck_assert_str_eq(ms_alert_name(48, buf), "unknown_ca");
    ck_assert_str_eq(ms_alert_name(45, buf), "certificate_expired");
    ck_assert_str_eq(ms_alert_name(120, buf), "no_application_protocol");
    ck_assert_str_eq(ms_alert_name(0, buf), "close_notify");
    ck_assert_str_eq(ms_alert_name(250, buf), "alert_250");
}
END_TEST

Suite *ms_session_suite(void)
{
    Suite *s = suite_create("ms_session");
    TCase *tc = tcase_create("start-up and authentication");
    tcase_add_test(tc, a_trust_session_gets_the_parameter_set_key_data_and_ready);
    tcase_add_test(tc, sslrequest_on_a_plaintext_scenario_gets_N_and_the_session_goes_on);
    tcase_add_test(tc, bytes_pipelined_after_sslrequest_get_fatal_08P01);
    tcase_add_test(tc, require_secure_transport_refuses_plaintext_with_28000);
    tcase_add_test(tc, md5_authentication_checks_the_salted_hash);
    tcase_add_test(tc, cleartext_password_accepts_the_right_one_and_rejects_empty_and_wrong);
    tcase_add_test(tc, an_unknown_startup_parameter_gets_fatal_42704_after_authentication);
    tcase_add_test(tc, a_newer_minor_version_and_pq_options_get_negotiate_protocol_version);
    tcase_add_test(tc, startup_packet_errors_close_like_postgresql);
    suite_add_tcase(s, tc);
    tc = tcase_create("queries and malformed input");
    tcase_add_test(tc, the_extended_protocol_runs_parse_bind_describe_execute_sync_in_binary);
    tcase_add_test(tc, an_error_in_the_extended_protocol_skips_to_sync);
    tcase_add_test(tc, result_formats_that_do_not_match_the_columns_are_an_error);
    tcase_add_test(tc, more_than_64_statements_in_one_query_is_an_error_not_a_truncation);
    tcase_add_test(tc, an_unknown_message_type_gets_fatal_08P01);
    tcase_add_test(tc, message_lengths_under_4_or_over_the_cap_get_invalid_message_length);
    tcase_add_test(tc, every_truncation_of_a_session_ends_cleanly);
    suite_add_tcase(s, tc);
    tc = tcase_create("events");
    tcase_add_test(tc, the_event_json_has_every_documented_field);
    tcase_add_test(tc, alert_codes_have_their_rfc_names);
    suite_add_tcase(s, tc);
    return s;
}
