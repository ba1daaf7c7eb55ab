/* pgtls mockserver: unit tests of the wire-protocol parsers and builders. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ms_wire.h"

/* Builds a startup body (after the length word) from NUL-separated text. */
static size_t body_of(uint32_t code, const char *pairs, size_t pairs_len, uint8_t *out)
{
    out[0] = (uint8_t)(code >> 24);
    out[1] = (uint8_t)(code >> 16);
    out[2] = (uint8_t)(code >> 8);
    out[3] = (uint8_t)code;
    memcpy(out + 4, pairs, pairs_len);
    return 4 + pairs_len;
}

START_TEST(a_startup_packet_with_user_database_and_options_parses)
{
    static const char pairs[] = "user\0alice\0database\0db\0application_name\0psql\0"
                                "_pq_.compression\0on\0\0";
    uint8_t b[256];
    size_t n = body_of(196608, pairs, sizeof(pairs) - 1, b);
    ms_startup st;
    ms_pgerr e;
    ck_assert_int_eq(ms_startup_parse(b, n, &st, &e), 0);
    ck_assert_str_eq(st.user, "alice");
    ck_assert_str_eq(st.database, "db");
    ck_assert_uint_eq(st.num_params, 3);
    ck_assert_uint_eq(st.num_pq_opts, 1);
    ck_assert_str_eq(st.pq_opts[0], "_pq_.compression");
}
END_TEST

START_TEST(the_database_defaults_to_the_user_name)
{
    static const char pairs[] = "user\0bob\0\0";
    uint8_t b[64];
    size_t n = body_of(196608, pairs, sizeof(pairs) - 1, b);
    ms_startup st;
    ms_pgerr e;
    ck_assert_int_eq(ms_startup_parse(b, n, &st, &e), 0);
    ck_assert_str_eq(st.database, "bob");
}
END_TEST

static const struct {
    const char *name;
    uint32_t code;
    const char *pairs;
    size_t len;
    const char *severity, *sqlstate, *message;
} bad_startups[] = {
    {"no terminator", 196608, "user\0a\0", 7, "FATAL", "08P01", "expected terminator"},
    {"value without NUL", 196608, "user\0abc", 8, "FATAL", "08P01", "expected terminator"},
    {"name without value", 196608, "user\0", 5, "FATAL", "08P01", "expected terminator"},
    {"no user", 196608, "database\0d\0\0", 12, "FATAL", "28000", "no PostgreSQL user name"},
    {"empty user", 196608, "user\0\0\0", 7, "FATAL", "28000", "no PostgreSQL user name"},
    {"protocol 2.0", 0x20000, "user\0a\0\0", 8, "FATAL", "0A000",
     "unsupported frontend protocol 2.0: server supports 3.0 to 3.0"},
    {"protocol 4.0", 0x40000, "user\0a\0\0", 8, "FATAL", "0A000",
     "unsupported frontend protocol 4.0"},
    {"cancel of 8 bytes", 80877102, "\0\0\0\1", 4, "COMMERROR", "08P01", "invalid length"},
    {"bad replication value", 196608, "user\0a\0replication\0maybe\0\0", 26, "FATAL", "22023",
     "invalid value for parameter \"replication\""},
};

START_TEST(malformed_startup_packets_get_postgresql_errors)
{
    uint8_t b[256];
    size_t n = body_of(bad_startups[_i].code, bad_startups[_i].pairs, bad_startups[_i].len, b);
    ms_startup st;
    ms_pgerr e;
    ck_assert_msg(ms_startup_parse(b, n, &st, &e) == -1, "%s parsed", bad_startups[_i].name);
    ck_assert_str_eq(e.severity, bad_startups[_i].severity);
    ck_assert_str_eq(e.sqlstate, bad_startups[_i].sqlstate);
    ck_assert_msg(strstr(e.message, bad_startups[_i].message), "%s: %s", bad_startups[_i].name,
                  e.message);
}
END_TEST

START_TEST(startup_lengths_outside_8_to_10004_are_refused)
{
    ms_pgerr e;
    ck_assert_int_eq(ms_startup_check_len(8, &e), 0);
    ck_assert_int_eq(ms_startup_check_len(10004, &e), 0);
    ck_assert_int_eq(ms_startup_check_len(7, &e), -1);
    ck_assert_str_eq(e.message, "invalid length of startup packet");
    ck_assert_int_eq(ms_startup_check_len(10005, &e), -1);
    ck_assert_int_eq(ms_startup_check_len(0x16030100, &e), -1);
}
END_TEST

START_TEST(request_codes_parse_with_their_fields)
{
    uint8_t b[16];
    ms_startup st;
    ms_pgerr e;
    size_t n = body_of(80877102, "\0\0\x30\x39\0\0\0\x07", 8, b);
    ck_assert_int_eq(ms_startup_parse(b, n, &st, &e), 0);
    ck_assert_uint_eq(st.cancel_pid, 12345);
    ck_assert_uint_eq(st.cancel_key, 7);
    n = body_of(80877103, "", 0, b);
    ck_assert_int_eq(ms_startup_parse(b, n, &st, &e), 0);
    ck_assert_uint_eq(st.code, MS_CODE_SSLREQUEST);
    ck_assert_int_eq(ms_startup_parse(b, 3, &st, &e), -1); /* truncated */
}
END_TEST

START_TEST(query_messages_need_one_terminated_string)
{
    const char *sql;
    ms_pgerr e;
    ck_assert_int_eq(ms_fe_parse_query((const uint8_t *)"SELECT 1", 9, &sql, &e), 0);
    ck_assert_str_eq(sql, "SELECT 1");
    ck_assert_int_eq(ms_fe_parse_query((const uint8_t *)"SELECT 1", 8, &sql, &e), -1);
    ck_assert_str_eq(e.message, "invalid string in message");
    ck_assert_int_eq(ms_fe_parse_query((const uint8_t *)"a\0b", 4, &sql, &e), -1);
    ck_assert_str_eq(e.message, "invalid message format");
}
END_TEST

START_TEST(parse_messages_check_their_parameter_types)
{
    ms_fe_parse p;
    ms_pgerr e;
    static const uint8_t ok[] = "s1\0SELECT $1\0\0\x01\0\0\0\x17";
    static const uint8_t short_types[] = "s1\0SELECT $1\0\0\x02\0\0\0\x17";
    static const uint8_t negative[] = "\0q\0\xff\xff";
    ck_assert_int_eq(ms_fe_parse_parse(ok, sizeof(ok) - 1, &p, &e), 0);
    ck_assert_str_eq(p.stmt, "s1");
    ck_assert_int_eq(p.num_param_types, 1);
    ck_assert_int_eq(ms_fe_parse_parse(short_types, sizeof(short_types) - 1, &p, &e), -1);
    ck_assert_int_eq(ms_fe_parse_parse(negative, sizeof(negative) - 1, &p, &e), -1);
    ck_assert_int_eq(ms_fe_parse_parse((const uint8_t *)"s1", 2, &p, &e), -1);
}
END_TEST

START_TEST(bind_messages_check_formats_parameters_and_lengths)
{
    ms_fe_bind b;
    ms_pgerr e;
    /* portal "", stmt "s", 1 param format (text), 1 param "42", 1 result format binary */
    static const uint8_t ok[] = "\0s\0\0\x01\0\0\0\x01\0\0\0\x02"
                                "42\0\x01\0\x01";
    static const uint8_t bad_fmt[] = "\0s\0\0\x01\0\x07\0\0\0\0";
    static const uint8_t count_mismatch[] = "\0s\0\0\x02\0\0\0\0\0\x01\0\0\0\0\0\0";
    static const uint8_t overlong_param[] = "\0s\0\0\0\0\x01\0\0\0\x09x\0\0";
    static const uint8_t trailing[] = "\0s\0\0\0\0\0\0\0\xff";
    ck_assert_int_eq(ms_fe_parse_bind(ok, sizeof(ok) - 1, &b, &e), 0);
    ck_assert_int_eq(b.num_params, 1);
    ck_assert_int_eq(b.num_result_formats, 1);
    ck_assert_int_eq(b.result_formats[0], 1);
    ck_assert_int_eq(ms_fe_parse_bind(bad_fmt, sizeof(bad_fmt) - 1, &b, &e), -1);
    ck_assert_str_eq(e.sqlstate, "0A000");
    ck_assert_int_eq(ms_fe_parse_bind(count_mismatch, sizeof(count_mismatch) - 1, &b, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.message, "parameter formats but"));
    ck_assert_int_eq(ms_fe_parse_bind(overlong_param, sizeof(overlong_param) - 1, &b, &e), -1);
    ck_assert_int_eq(ms_fe_parse_bind(trailing, sizeof(trailing) - 1, &b, &e), -1);
}
END_TEST

START_TEST(describe_close_and_execute_check_subtypes_and_terminators)
{
    ms_fe_target t;
    ms_fe_execute x;
    ms_pgerr e;
    ck_assert_int_eq(ms_fe_parse_target('D', (const uint8_t *)"Sname", 6, &t, &e), 0);
    ck_assert_int_eq(t.kind, 'S');
    ck_assert_int_eq(ms_fe_parse_target('D', (const uint8_t *)"Xname", 6, &t, &e), -1);
    ck_assert_str_eq(e.message, "invalid DESCRIBE message subtype 88");
    ck_assert_int_eq(ms_fe_parse_target('C', (const uint8_t *)"Q", 2, &t, &e), -1);
    ck_assert_str_eq(e.message, "invalid CLOSE message subtype 81");
    ck_assert_int_eq(ms_fe_parse_target('C', (const uint8_t *)"Pname", 5, &t, &e), -1);
    ck_assert_int_eq(ms_fe_parse_target('C', (const uint8_t *)"", 0, &t, &e), -1);
    ck_assert_int_eq(ms_fe_parse_execute((const uint8_t *)"\0\0\0\0\0", 5, &x, &e), 0);
    ck_assert_int_eq(ms_fe_parse_execute((const uint8_t *)"\0\0\0", 3, &x, &e), -1);
    ck_assert_int_eq(ms_fe_parse_execute((const uint8_t *)"p", 1, &x, &e), -1);
}
END_TEST

START_TEST(password_and_sasl_messages_must_fill_their_length_exactly)
{
    const char *pw, *mech;
    const uint8_t *data;
    int32_t dlen;
    ms_pgerr e;
    ck_assert_int_eq(ms_fe_parse_password((const uint8_t *)"secret", 7, &pw, &e), 0);
    ck_assert_int_eq(ms_fe_parse_password((const uint8_t *)"sec\0et", 7, &pw, &e), -1);
    ck_assert_str_eq(e.message, "invalid password packet size");
    ck_assert_int_eq(ms_fe_parse_password((const uint8_t *)"x", 1, &pw, &e), -1);
    ck_assert_int_eq(
        ms_fe_parse_sasl_initial((const uint8_t *)"M\0\0\0\0\x02hi", 8, &mech, &data, &dlen, &e),
        0);
    ck_assert_int_eq(dlen, 2);
    ck_assert_int_eq(
        ms_fe_parse_sasl_initial((const uint8_t *)"M\0\0\0\0\x09hi", 8, &mech, &data, &dlen, &e),
        -1);
    ck_assert_int_eq(ms_fe_parse_sasl_initial((const uint8_t *)"M\0\xff\xff\xff\xff", 6, &mech,
                                              &data, &dlen, &e),
                     0);
    ck_assert_int_eq(dlen, -1);
    ck_assert_int_eq(ms_fe_parse_sasl_initial((const uint8_t *)"M", 1, &mech, &data, &dlen, &e),
                     -1);
}
END_TEST

START_TEST(error_responses_carry_severity_sqlstate_and_message)
{
    ms_buf b;
    ms_pgerr e;
    ms_buf_init(&b);
    ms_pgerr_set(&e, "FATAL", "28P01", "password authentication failed for user \"%s\"", "u");
    ms_be_error(&b, &e);
    ck_assert_int_eq(b.data[0], 'E');
    ck_assert_uint_eq(ms_be32(b.data + 1), b.len - 1);
    ck_assert(memmem(b.data, b.len, "SFATAL\0VFATAL\0C28P01\0M", 22) != NULL);
    ck_assert_int_eq(b.data[b.len - 1], 0);
    ms_buf_cleanup(&b);
}
END_TEST

START_TEST(the_source_location_follows_the_server_major)
{
    static const struct {
        const char *version;
        int major;
        const char *want;
    } rows[] = {
        {"15.18", 15, "Fauth.c\0L544\0RClientAuthentication\0"},
        {"16.9", 16, "Fauth.c\0L550\0RClientAuthentication\0"},
        {"17.10", 17, "Fauth.c\0L548\0RClientAuthentication\0"},
        {"18.4", 18, "Fauth.c\0L537\0RClientAuthentication\0"},
        {"19devel", 19, "Fauth.c\0L537\0RClientAuthentication\0"}, /* nearest measured */
        {"14.2", 14, "Fauth.c\0L544\0RClientAuthentication\0"},
    };
    const char *file, *line, *routine;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ms_buf b;
        ms_pgerr e;
        ck_assert_int_eq(ms_major_of(rows[i].version), rows[i].major);
        ms_buf_init(&b);
        ms_pgerr_set(&e, "FATAL", "28000",
                     "no pg_hba.conf entry for host \"127.0.0.1\", user \"u\", database \"d\", "
                     "no encryption");
        ms_be_error_major(&b, &e, ms_major_of(rows[i].version));
        ck_assert_msg(memmem(b.data, b.len, rows[i].want, strlen(rows[i].want) + 1) != NULL,
                      "server_version %s", rows[i].version);
        ms_buf_cleanup(&b);
    }
    ck_assert_int_eq(ms_major_of(NULL), MS_MAJOR_DEFAULT);
    ck_assert_int_eq(ms_major_of("x"), MS_MAJOR_DEFAULT);
    ck_assert(ms_major_error_location(17, "42704", "unrecognized configuration parameter \"x\"",
                                      &file, &line, &routine));
    ck_assert_str_eq(line, "1171");
    ck_assert_str_eq(routine, "assignable_custom_variable_name");
    ck_assert(!ms_major_error_location(17, "0A000", "x", &file, &line, &routine));
}
END_TEST

START_TEST(start_up_errors_carry_the_source_location_a_real_server_sends)
{
    ms_buf b;
    ms_pgerr e;
    static const char want[] = "Fauth.c\0L544\0RClientAuthentication\0";
    ms_buf_init(&b);
    ms_pgerr_set(&e, "FATAL", "28000",
                 "no pg_hba.conf entry for host \"127.0.0.1\", user \"u\", database \"d\", "
                 "no encryption");
    ms_be_error(&b, &e);
    ck_assert(memmem(b.data, b.len, want, sizeof(want) - 1) != NULL);
    ms_buf_cleanup(&b);
    /* An error PostgreSQL never raises this way gets no invented location. */
    ms_buf_init(&b);
    ms_pgerr_set(&e, "ERROR", "0A000", "statement not supported by the pgtls mock");
    ms_be_error(&b, &e);
    /* the message is the last field: its NUL is followed by the terminator */
    ck_assert(memmem(b.data, b.len, "the pgtls mock\0\0", 16) != NULL);
    ck_assert_uint_eq(b.len, 1 + 4 + strlen("SERROR") + 1 + strlen("VERROR") + 1 +
                                 strlen("C0A000") + 1 + 1 +
                                 strlen("statement not supported by the pgtls mock") + 1 + 1);
    ms_buf_cleanup(&b);
}
END_TEST

Suite *ms_wire_suite(void)
{
    Suite *s = suite_create("ms_wire");
    TCase *tc = tcase_create("startup packets");
    tcase_add_test(tc, a_startup_packet_with_user_database_and_options_parses);
    tcase_add_test(tc, the_source_location_follows_the_server_major);
    tcase_add_test(tc, the_database_defaults_to_the_user_name);
    tcase_add_loop_test(tc, malformed_startup_packets_get_postgresql_errors, 0,
                        sizeof(bad_startups) / sizeof(bad_startups[0]));
    tcase_add_test(tc, startup_lengths_outside_8_to_10004_are_refused);
    tcase_add_test(tc, request_codes_parse_with_their_fields);
    suite_add_tcase(s, tc);
    tc = tcase_create("frontend messages");
    tcase_add_test(tc, query_messages_need_one_terminated_string);
    tcase_add_test(tc, parse_messages_check_their_parameter_types);
    tcase_add_test(tc, bind_messages_check_formats_parameters_and_lengths);
    tcase_add_test(tc, describe_close_and_execute_check_subtypes_and_terminators);
    tcase_add_test(tc, password_and_sasl_messages_must_fill_their_length_exactly);
    tcase_add_test(tc, start_up_errors_carry_the_source_location_a_real_server_sends);
    suite_add_tcase(s, tc);
    tc = tcase_create("backend messages");
    tcase_add_test(tc, error_responses_carry_severity_sqlstate_and_message);
    suite_add_tcase(s, tc);
    return s;
}
