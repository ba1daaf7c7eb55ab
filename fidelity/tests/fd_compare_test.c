/* pgtls: unit tests of the mock-versus-real comparison. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd_compare.h"

static const struct {
    const char *in, *out;
} norm_rows[] = {
    {"connection to server at \"mydemoserver.postgres.database.azure.com\" (127.0.0.1), port "
     "40123 failed: SSL error: certificate verify failed\n",
     "connection to server at \"mydemoserver.postgres.database.azure.com\" (127.0.0.1), port "
     "<port> failed: SSL error: certificate verify failed"},
    {"root certificate file \"/tmp/pgtls-run-abc/stores/missing.pem\" does not exist",
     "root certificate file \"<path>\" does not exist"},
    {"Connection to 127.0.0.1:39255 refused", "Connection to 127.0.0.1:<port> refused"},
    {"dial tcp [::1]:5432: connect", "dial tcp [::1]:<port>: connect"},
    {"at 06:26:08 the server pid 4711 exited", "at 06:26:08 the server pid <pid> exited"},
    {"2026-11-24 06:26:00.123 UTC [15711] FATAL", "2026-11-24 06:26:00.123 UTC [<pid>] FATAL"},
    {"SSL error: error:0A000086:SSL routines::certificate verify failed",
     "SSL error: error:0A000086:SSL routines::certificate verify failed"},
    {"FATAL:  no pg_hba.conf entry for host \"127.0.0.1\", user \"pgtls\"",
     "FATAL:  no pg_hba.conf entry for host \"127.0.0.1\", user \"pgtls\""},
    {"sslrootcert=/x/y.pem.", "sslrootcert=<path>."},
    {"a/b is relative", "a/b is relative"},
    {"write EPROTO 806CE37B7F7F0000:error:0A00042E:SSL routines:ssl3_read_bytes:tlsv1 alert",
     "write EPROTO <tid>:error:0A00042E:SSL routines:ssl3_read_bytes:tlsv1 alert"},
    {"DEADBEEF is not a thread", "DEADBEEF is not a thread"},
    {"cannot parse `host='h' sslmode='require' port='42549' connect_timeout='5'`",
     "cannot parse `host='h' sslmode='require' port='<port>' connect_timeout='5'`"},
    {"port='42549 is not closed", "port='42549 is not closed"},
    {"x509: certificate has expired or is not yet valid: current time 2026-11-24T07:41:58Z is "
     "after 2026-08-25T23:59:59Z",
     "x509: certificate has expired or is not yet valid: current time <time> is after "
     "2026-08-25T23:59:59Z"},
    {"", ""},
    {"trailing   \n\n", "trailing"},
};

START_TEST(ports_paths_and_pids_are_normalised_and_nothing_else)
{
    char *got = fd_normalise_error(norm_rows[_i].in);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, norm_rows[_i].out);
    free(got);
}
END_TEST

START_TEST(a_null_error_normalises_to_null)
{
    ck_assert_ptr_null(fd_normalise_error(NULL));
}
END_TEST

START_TEST(outcomes_differ_by_class_then_error_then_query_result)
{
    fd_outcome m = {"untrusted-chain", "x port 1 failed: SSL error: certificate verify failed",
                    NULL};
    fd_outcome r = {"untrusted-chain", "x port 2 failed: SSL error: certificate verify failed",
                    NULL};
    const char *what = NULL;
    ck_assert_int_eq(fd_outcomes_differ(&m, &r, "SELECT 1", &what), 0);
    r.error = "x port 2 failed: SSL error: tlsv1 alert unknown ca";
    ck_assert_int_eq(fd_outcomes_differ(&m, &r, "SELECT 1", &what), 1);
    ck_assert_str_eq(what, "error");
    r.cls = "expired";
    ck_assert_int_eq(fd_outcomes_differ(&m, &r, "SELECT 1", &what), 1);
    ck_assert_str_eq(what, "class");
    /* One side with an error, the other without. */
    m = (fd_outcome){"connected-tls", NULL, "t"};
    r = (fd_outcome){"connected-tls", "", "t"};
    ck_assert_int_eq(fd_outcomes_differ(&m, &r, NULL, &what), 1);
    r.error = NULL;
    ck_assert_int_eq(fd_outcomes_differ(&m, &r, NULL, &what), 0);
    r.query_result = "f";
    ck_assert_int_eq(fd_outcomes_differ(&m, &r, "SELECT ssl_is_used()", &what), 1);
    ck_assert_str_eq(what, "query_result");
    /* The server build is allowed to differ. */
    m.query_result = "PostgreSQL 16.9";
    r.query_result = "PostgreSQL 15.18 (Debian 15.18-0+deb12u1)";
    ck_assert_int_eq(fd_outcomes_differ(&m, &r, "SELECT version()", &what), 0);
    ck_assert_int_eq(fd_outcomes_differ(&m, &r, "SHOW server_version", &what), 0);
}
END_TEST

START_TEST(the_difference_table_names_case_client_and_both_sides)
{
    fd_diff_list l = {0};
    fd_outcome m = {"ssl-required", "FATAL:  SSL connection is required.|x\nline2", NULL};
    fd_outcome r = {"auth-failed", "FATAL:  no pg_hba.conf entry, port 5", NULL};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(fd_diff_add(&l, "azure-new/none/disable", "psql", "class", &m, &r), 0);
    fd_diff_print(f, &l);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "| case | client | differs in | mock | real |"));
    ck_assert_ptr_nonnull(strstr(buf, "| azure-new/none/disable | psql | class | ssl-required: "
                                      "FATAL:  SSL connection is required.\\|x / line2 | "
                                      "auth-failed: FATAL:  no pg_hba.conf entry, port <port> |"));
    free(buf);
    fd_diff_list_cleanup(&l);
    /* An empty list prints nothing. */
    buf = NULL;
    f = open_memstream(&buf, &len);
    fd_diff_print(f, &l);
    fclose(f);
    ck_assert_uint_eq(len, 0);
    free(buf);
}
END_TEST

Suite *fd_compare_suite(void)
{
    Suite *s = suite_create("fidelity: comparing mock and real outcomes");
    TCase *tc = tcase_create("normalisation");
    tcase_add_loop_test(tc, ports_paths_and_pids_are_normalised_and_nothing_else, 0,
                        (int)(sizeof(norm_rows) / sizeof(norm_rows[0])));
    tcase_add_test(tc, a_null_error_normalises_to_null);
    suite_add_tcase(s, tc);
    tc = tcase_create("comparison");
    tcase_add_test(tc, outcomes_differ_by_class_then_error_then_query_result);
    tcase_add_test(tc, the_difference_table_names_case_client_and_both_sides);
    suite_add_tcase(s, tc);
    return s;
}
