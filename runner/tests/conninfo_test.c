/* runner: the connection string forms `pgtls repro --conninfo` accepts. */
#include <check.h>
#include <string.h>

#include "rn_conninfo.h"

static const struct {
    const char *in;
    const char *host, *sslmode, *sslrootcert, *form;
} good[] = {
    {"host=db.postgres.database.azure.com sslmode=verify-full sslrootcert=/etc/pg/root.crt",
     "db.postgres.database.azure.com", "verify-full", "/etc/pg/root.crt", "keyword/value"},
    {"host = 'a.postgres.database.azure.com' sslrootcert='/my dir/it\\'s.pem' sslmode=require",
     "a.postgres.database.azure.com", "require", "/my dir/it's.pem", "keyword/value"},
    {"host=h1,h2 port=5432,5433 dbname=x", "h1", "prefer", NULL, "keyword/value"},
    {"postgresql://u:p%40w@db.postgres.database.azure.com:5432/app?sslmode=verify-ca&"
     "sslrootcert=%2Ftmp%2Fr.pem",
     "db.postgres.database.azure.com", "verify-ca", "/tmp/r.pem", "URL"},
    {"postgres://[::1]:5432/db?sslmode=disable", "::1", "disable", NULL, "URL"},
    {"jdbc:postgresql://db.postgres.database.azure.com:5432/app?ssl=true&sslrootcert=/r.pem",
     "db.postgres.database.azure.com", "verify-full", "/r.pem", "JDBC URL"},
    {"jdbc:postgresql://h/app?sslmode=require&sslfactory=org.postgresql.ssl.NonValidatingFactory",
     "h", "require", NULL, "JDBC URL"},
    {"postgres://u@h/db?sslmode=require&sslrootcert=/r.pem&ssl=true", "h", "verify-full",
     "/r.pem", "node-postgres URL"},
    {"postgres://u@h/db?sslmode=require&uselibpqcompat=true", "h", "require", NULL,
     "node-postgres URL"},
    {"postgres://u@h/db?sslmode=no-verify&ssl=1", "h", "require", NULL, "node-postgres URL"},
    {"{\"host\": \"h\", \"ssl\": {\"ca\": \"/r.pem\"}}", "h", "verify-full", "/r.pem",
     "node-postgres config"},
    {"{\"host\": \"h\", \"ssl\": {\"rejectUnauthorized\": false}}", "h", "require", "system",
     "node-postgres config"},
    {"{\"host\": \"h\"}", "h", "disable", NULL, "node-postgres config"},
};

START_TEST(each_connection_string_form_gives_host_sslmode_and_root_file)
{
    rn_conninfo c = {0};
    pgtls_err err;
    err_clear(&err);
    ck_assert_msg(rn_conninfo_parse(good[_i].in, &c, &err) == 0, "%s: %s", good[_i].in, err.msg);
    ck_assert_str_eq(c.host, good[_i].host);
    ck_assert_str_eq(c.sslmode, good[_i].sslmode);
    if (good[_i].sslrootcert)
        ck_assert_str_eq(c.sslrootcert, good[_i].sslrootcert);
    else
        ck_assert_ptr_null(c.sslrootcert);
    ck_assert_str_eq(c.form, good[_i].form);
    rn_conninfo_cleanup(&c);
}
END_TEST

static const struct {
    const char *in, *message;
} bad[] = {
    {"host=h sslmode", "missing \"=\" after \"sslmode\""},
    {"host=h sslrootcert='/unterminated", "unterminated quoted string"},
    {"host=h sslmod=verify-full", "invalid connection option \"sslmod\""},
    {"host=h sslmode=verify", "invalid sslmode value \"verify\""},
    {"postgres://h:54x2/db", "invalid port"},
    {"postgres://h/db?sslrootcert=%2", "invalid percent-encoded token"},
    {"mysql://h/db", "unknown URL scheme"},
    {"sslmode=require", "no host"},
    {"{\"host\": \"h\", \"ssl\": {\"ca\": 3}}", "\"ca\" must name the CA file"},
    {"{host: h}", "not a JSON object"},
};

START_TEST(a_connection_string_that_does_not_parse_is_named_with_its_fault)
{
    rn_conninfo c = {0};
    pgtls_err err;
    err_clear(&err);
    ck_assert_int_eq(rn_conninfo_parse(bad[_i].in, &c, &err), -1);
    ck_assert_msg(strstr(err.msg, bad[_i].message) != NULL, "%s: got '%s'", bad[_i].in, err.msg);
    ck_assert_int_eq(err_exit_status(err.code), 2);
    rn_conninfo_cleanup(&c);
}
END_TEST

Suite *rn_conninfo_suite(void)
{
    Suite *s = suite_create("rn_conninfo");
    TCase *tc = tcase_create("forms");
    tcase_add_loop_test(tc, each_connection_string_form_gives_host_sslmode_and_root_file, 0,
                        sizeof(good) / sizeof(*good));
    tcase_add_loop_test(tc, a_connection_string_that_does_not_parse_is_named_with_its_fault, 0,
                        sizeof(bad) / sizeof(*bad));
    suite_add_tcase(s, tc);
    return s;
}
