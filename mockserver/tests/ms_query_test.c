/* pgtls mockserver: unit tests of settings and the SQL subset. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_query.h"

static ms_settings settings;
static ms_activity rows[3];

static size_t three_rows(void *ud, ms_activity *out, size_t max)
{
    (void)ud;
    if (!out)
        return 3;
    memcpy(out, rows, sizeof(rows[0]) * (max < 3 ? max : 3));
    return max < 3 ? max : 3;
}

static ms_qctx ctx(int ssl)
{
    ms_qctx q;
    memset(&q, 0, sizeof(q));
    ms_settings_init(&settings);
    q.settings = &settings;
    q.pid = 101;
    q.ssl = ssl;
    q.ssl_bits = 256;
    q.ssl_version = ssl ? "TLSv1.3" : NULL;
    q.ssl_cipher = ssl ? "TLS_AES_256_GCM_SHA384" : NULL;
    q.user = "pgtls";
    q.database = "postgres";
    q.tx = 'I';
    memset(rows, 0, sizeof(rows));
    rows[0] = (ms_activity){.pid = 101, .ssl = 1, .bits = 256, .client_port = 5000};
    strcpy(rows[0].version, "TLSv1.3");
    strcpy(rows[0].cipher, "TLS_AES_256_GCM_SHA384");
    rows[1] = (ms_activity){.pid = 102, .ssl = 0, .client_port = 5001};
    rows[2] = (ms_activity){.pid = 103, .ssl = 1, .bits = 128, .client_port = 5002};
    strcpy(rows[2].version, "TLSv1.2");
    for (int i = 0; i < 3; i++) {
        strcpy(rows[i].datname, "postgres");
        strcpy(rows[i].usename, "pgtls");
        strcpy(rows[i].client_addr, "127.0.0.1");
        strcpy(rows[i].backend_type, "client backend");
        snprintf(rows[i].application_name, sizeof(rows[i].application_name), "app%d", i);
    }
    q.activity = three_rows;
    q.self = &rows[0];
    return q;
}

static const char *cell(const ms_result *r, size_t row, size_t col)
{
    return r->cells[row * r->num_cols + col];
}

static const struct {
    const char *sql;
    int ssl;
    uint32_t oid;
    const char *col, *value; /* value NULL = SQL NULL */
} single_values[] = {
    {"SELECT 1", 1, 23, "?column?", "1"},
    {"select 1;", 1, 23, "?column?", "1"},
    {"  SELECT   1 AS one ", 1, 23, "one", "1"},
    {"SELECT ssl_is_used()", 1, 16, "ssl_is_used", "t"},
    {"SELECT ssl_is_used()", 0, 16, "ssl_is_used", "f"},
    {"SELECT public.ssl_version()", 1, 25, "ssl_version", "TLSv1.3"},
    {"SELECT ssl_version()", 0, 25, "ssl_version", NULL},
    {"SELECT ssl_cipher()", 1, 25, "ssl_cipher", "TLS_AES_256_GCM_SHA384"},
    {"SELECT current_setting('server_version')", 1, 25, "current_setting", "16.9"},
    {"SELECT pg_catalog.current_setting('TimeZone'::text)", 1, 25, "current_setting", "UTC"},
    {"SELECT pg_backend_pid()", 1, 23, "pg_backend_pid", "101"},
    {"SELECT current_user", 1, 19, "current_user", "pgtls"},
    {"SELECT 'x'::text", 1, 25, "text", "x"},
    {"/* probe */ SELECT 1 -- comment", 1, 23, "?column?", "1"},
    {"SELECT \"ssl_is_used\"()", 1, 16, "ssl_is_used", "t"},
};

START_TEST(single_value_selects_return_the_right_type_and_value)
{
    ms_qctx q = ctx(single_values[_i].ssl);
    ms_result r;
    ck_assert_int_eq(ms_query_run(&q, single_values[_i].sql, 1, &r), 0);
    ck_assert_msg(r.kind == MS_RES_ROWS, "%s: kind %d %s", single_values[_i].sql, r.kind,
                  r.err.message);
    ck_assert_uint_eq(r.num_cols, 1);
    ck_assert_uint_eq(r.num_rows, 1);
    ck_assert_uint_eq(r.cols[0].oid, single_values[_i].oid);
    ck_assert_str_eq(r.cols[0].name, single_values[_i].col);
    if (single_values[_i].value)
        ck_assert_str_eq(cell(&r, 0, 0), single_values[_i].value);
    else
        ck_assert_ptr_null(cell(&r, 0, 0));
    ck_assert_str_eq(r.tag, "SELECT 1");
    ms_result_cleanup(&r);
}
END_TEST

START_TEST(version_reports_the_scenario_server_version)
{
    ms_qctx q = ctx(1);
    ms_result r;
    ms_settings_put(&settings, "server_version", "16.4");
    ck_assert_int_eq(ms_query_run(&q, "SELECT version()", 1, &r), 0);
    ck_assert_ptr_nonnull(strstr(cell(&r, 0, 0), "PostgreSQL 16.4 on"));
    ms_result_cleanup(&r);
}
END_TEST

START_TEST(the_seed_query_lists_live_connections_ordered_by_ssl)
{
    ms_qctx q = ctx(1);
    ms_result r;
    const char *sql = "SELECT datname as \"Database name\", usename as \"User name\", ssl, "
                      "client_addr, application_name, backend_type FROM pg_stat_ssl JOIN "
                      "pg_stat_activity ON pg_stat_ssl.pid = pg_stat_activity.pid ORDER BY ssl;";
    ck_assert_int_eq(ms_query_run(&q, sql, 1, &r), 0);
    ck_assert_int_eq(r.kind, MS_RES_ROWS);
    ck_assert_uint_eq(r.num_cols, 6);
    ck_assert_uint_eq(r.num_rows, 3);
    ck_assert_str_eq(r.cols[0].name, "Database name");
    ck_assert_uint_eq(r.cols[0].oid, MS_OID_NAME);
    ck_assert_uint_eq(r.cols[2].oid, MS_OID_BOOL);
    ck_assert_uint_eq(r.cols[3].oid, MS_OID_INET);
    ck_assert_str_eq(cell(&r, 0, 2), "f"); /* false sorts first */
    ck_assert_str_eq(cell(&r, 0, 4), "app1");
    ck_assert_str_eq(cell(&r, 1, 2), "t");
    ck_assert_str_eq(r.tag, "SELECT 3");
    ms_result_cleanup(&r);
}
END_TEST

START_TEST(pg_stat_ssl_for_this_backend_reports_version_cipher_and_bits)
{
    ms_qctx q = ctx(1);
    ms_result r;
    ck_assert_int_eq(
        ms_query_run(&q,
                     "select s.version, s.cipher, s.bits from pg_stat_ssl s where s.pid = "
                     "pg_backend_pid()",
                     1, &r),
        0);
    ck_assert_int_eq(r.kind, MS_RES_ROWS);
    ck_assert_uint_eq(r.num_rows, 1);
    ck_assert_str_eq(cell(&r, 0, 0), "TLSv1.3");
    ck_assert_str_eq(cell(&r, 0, 2), "256");
    ms_result_cleanup(&r);
    ck_assert_int_eq(ms_query_run(&q, "SELECT * FROM pg_stat_ssl ORDER BY pid DESC", 1, &r), 0);
    ck_assert_uint_eq(r.num_cols, 8);
    ck_assert_str_eq(cell(&r, 0, 0), "103");
    ck_assert_ptr_null(cell(&r, 1, 2)); /* version of a plaintext backend is NULL */
    ms_result_cleanup(&r);
}
END_TEST

START_TEST(show_returns_settings_and_rejects_unknown_names)
{
    ms_qctx q = ctx(1);
    ms_result r;
    ck_assert_int_eq(ms_query_run(&q, "SHOW ssl_min_protocol_version", 1, &r), 0);
    ck_assert_str_eq(cell(&r, 0, 0), "TLSv1.2");
    ck_assert_str_eq(r.tag, "SHOW");
    ms_result_cleanup(&r);
    ck_assert_int_eq(ms_query_run(&q, "show TIME ZONE", 1, &r), 0);
    ck_assert_str_eq(cell(&r, 0, 0), "UTC");
    ms_result_cleanup(&r);
    ck_assert_int_eq(ms_query_run(&q, "SHOW nonsense", 1, &r), 0);
    ck_assert_int_eq(r.kind, MS_RES_ERROR);
    ck_assert_str_eq(r.err.sqlstate, "42704");
    ck_assert_str_eq(r.err.message, "unrecognized configuration parameter \"nonsense\"");
    ms_result_cleanup(&r);
}
END_TEST

START_TEST(set_changes_settings_reports_them_and_validates)
{
    ms_qctx q = ctx(1);
    ms_result r;
    ck_assert_int_eq(ms_query_run(&q, "SET application_name = 'my app'", 1, &r), 0);
    ck_assert_int_eq(r.kind, MS_RES_COMMAND);
    ck_assert_str_eq(r.tag, "SET");
    ck_assert_uint_eq(r.num_reported, 1);
    ck_assert_str_eq(ms_settings_get(&settings, "application_name"), "my app");
    ck_assert_int_eq(ms_query_run(&q, "SET SESSION DateStyle TO ISO", 1, &r), 0);
    ck_assert_str_eq(ms_settings_get(&settings, "datestyle"), "ISO, MDY");
    ck_assert_int_eq(ms_query_run(&q, "SET extra_float_digits = 3", 1, &r), 0);
    ck_assert_str_eq(ms_settings_get(&settings, "extra_float_digits"), "3");
    ck_assert_int_eq(ms_query_run(&q, "SET client_encoding TO 'utf-8'", 1, &r), 0);
    ck_assert_str_eq(ms_settings_get(&settings, "client_encoding"), "UTF8");
    ck_assert_int_eq(ms_query_run(&q, "SET TIME ZONE 'Europe/Paris'", 1, &r), 0);
    ck_assert_str_eq(ms_settings_get(&settings, "TimeZone"), "Europe/Paris");
    ck_assert_int_eq(ms_query_run(&q, "SET myapp.tenant = 'a'", 1, &r), 0);
    ck_assert_int_eq(r.kind, MS_RES_COMMAND);
    ck_assert_int_eq(ms_query_run(&q, "SET sslrootcert = 'x'", 1, &r), 0);
    ck_assert_int_eq(r.kind, MS_RES_ERROR);
    ck_assert_str_eq(r.err.sqlstate, "42704");
    ck_assert_int_eq(ms_query_run(&q, "SET ssl = off", 1, &r), 0);
    ck_assert_str_eq(r.err.sqlstate, "55P02");
    ck_assert_int_eq(ms_query_run(&q, "SET client_encoding = 'klingon'", 1, &r), 0);
    ck_assert_str_eq(r.err.sqlstate, "22023");
    ck_assert_int_eq(ms_query_run(&q, "SET extra_float_digits = 9", 1, &r), 0);
    ck_assert_str_eq(r.err.sqlstate, "22023");
    ck_assert_int_eq(ms_query_run(&q, "SET", 1, &r), 0);
    ck_assert_str_eq(r.err.sqlstate, "42601");
}
END_TEST

START_TEST(describe_only_runs_have_no_side_effects)
{
    ms_qctx q = ctx(1);
    ms_result r;
    ck_assert_int_eq(ms_query_run(&q, "SET application_name = 'x'", 0, &r), 0);
    ck_assert_str_eq(ms_settings_get(&settings, "application_name"), "");
    ck_assert_int_eq(ms_query_run(&q, "BEGIN", 0, &r), 0);
    ck_assert_int_eq(q.tx, 'I');
}
END_TEST

START_TEST(transactions_track_state_and_a_failed_one_ignores_commands)
{
    ms_qctx q = ctx(1);
    ms_result r;
    ck_assert_int_eq(ms_query_run(&q, "BEGIN", 1, &r), 0);
    ck_assert_str_eq(r.tag, "BEGIN");
    ck_assert_int_eq(q.tx, 'T');
    q.tx = 'E';
    ck_assert_int_eq(ms_query_run(&q, "SELECT 1", 1, &r), 0);
    ck_assert_str_eq(r.err.sqlstate, "25P02");
    ck_assert_int_eq(ms_query_run(&q, "COMMIT", 1, &r), 0);
    ck_assert_str_eq(r.tag, "ROLLBACK");
    ck_assert_int_eq(q.tx, 'I');
    ck_assert_int_eq(ms_query_run(&q, "ROLLBACK", 1, &r), 0);
    ck_assert_str_eq(r.notice, "there is no transaction in progress");
}
END_TEST

static const char *const unsupported_sql[] = {
    "SELECT * FROM users",
    "DROP TABLE x",
    "SELECT foo()",
    "SELECT 1 FROM nowhere",
    "CREATE EXTENSION postgis",
    "SELECT $1",
    "INSERT INTO t VALUES (1)",
    "SELECT ssl_version(1)",
    "SELECT pid FROM pg_stat_ssl WHERE ssl",
};

START_TEST(other_statements_get_0A000_naming_the_statement)
{
    ms_qctx q = ctx(1);
    ms_result r;
    ck_assert_int_eq(ms_query_run(&q, unsupported_sql[_i], 1, &r), 0);
    ck_assert_int_eq(r.kind, MS_RES_ERROR);
    ck_assert_str_eq(r.err.sqlstate, "0A000");
    ck_assert_ptr_nonnull(strstr(r.err.message, unsupported_sql[_i]));
    ms_result_cleanup(&r);
}
END_TEST

START_TEST(sslinfo_can_be_created_and_empty_queries_are_empty)
{
    ms_qctx q = ctx(1);
    ms_result r;
    ck_assert_int_eq(ms_query_run(&q, "CREATE EXTENSION IF NOT EXISTS sslinfo", 1, &r), 0);
    ck_assert_str_eq(r.tag, "CREATE EXTENSION");
    ck_assert_int_eq(ms_query_run(&q, "create extension sslinfo;", 1, &r), 0);
    ck_assert_str_eq(r.tag, "CREATE EXTENSION");
    ck_assert_int_eq(ms_query_run(&q, "  ;  ", 1, &r), 0);
    ck_assert_int_eq(r.kind, MS_RES_EMPTY);
    ck_assert_int_eq(ms_query_run(&q, "SELECT 'unterminated", 1, &r), 0);
    ck_assert_str_eq(r.err.sqlstate, "42601");
}
END_TEST

START_TEST(postgres_js_array_type_query_gets_oid_pairs)
{
    ms_qctx q = ctx(1);
    ms_result r;
    ck_assert_int_eq(
        ms_query_run(&q,
                     "select b.oid, b.typarray from pg_catalog.pg_type a left join "
                     "pg_catalog.pg_type b on b.oid = a.typelem where a.typcategory = 'A' group "
                     "by b.oid, b.typarray order by b.oid",
                     1, &r),
        0);
    ck_assert_int_eq(r.kind, MS_RES_ROWS);
    ck_assert_uint_eq(r.cols[0].oid, MS_OID_OID);
    ck_assert_str_eq(cell(&r, 0, 0), "16");
    ck_assert_str_eq(cell(&r, 0, 1), "1000");
    ms_result_cleanup(&r);
}
END_TEST

START_TEST(query_strings_split_on_semicolons_outside_quotes)
{
    char *out[8];
    size_t n = ms_query_split("SELECT ';'; SET a.b = 'x;y' ; -- c;\n ;", out, 8);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(out[0], "SELECT ';'");
    ck_assert_str_eq(out[1], " SET a.b = 'x;y' ");
    for (size_t i = 0; i < n; i++)
        free(out[i]);
    ck_assert_uint_eq(ms_query_split("   ", out, 8), 0);
    n = ms_query_split("a;b;c;d", out, 2);
    ck_assert_uint_eq(n, 4); /* all counted, two kept */
    free(out[0]);
    free(out[1]);
}
END_TEST

Suite *ms_query_suite(void)
{
    Suite *s = suite_create("ms_query");
    TCase *tc = tcase_create("selects");
    tcase_add_loop_test(tc, single_value_selects_return_the_right_type_and_value, 0,
                        sizeof(single_values) / sizeof(single_values[0]));
    tcase_add_test(tc, version_reports_the_scenario_server_version);
    tcase_add_test(tc, the_seed_query_lists_live_connections_ordered_by_ssl);
    tcase_add_test(tc, pg_stat_ssl_for_this_backend_reports_version_cipher_and_bits);
    tcase_add_test(tc, postgres_js_array_type_query_gets_oid_pairs);
    suite_add_tcase(s, tc);
    tc = tcase_create("settings and commands");
    tcase_add_test(tc, show_returns_settings_and_rejects_unknown_names);
    tcase_add_test(tc, set_changes_settings_reports_them_and_validates);
    tcase_add_test(tc, describe_only_runs_have_no_side_effects);
    tcase_add_test(tc, transactions_track_state_and_a_failed_one_ignores_commands);
    tcase_add_loop_test(tc, other_statements_get_0A000_naming_the_statement, 0,
                        sizeof(unsupported_sql) / sizeof(unsupported_sql[0]));
    tcase_add_test(tc, sslinfo_can_be_created_and_empty_queries_are_empty);
    tcase_add_test(tc, query_strings_split_on_semicolons_outside_quotes);
    suite_add_tcase(s, tc);
    return s;
}
