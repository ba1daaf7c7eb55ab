/* pgtls: unit tests of the known-deviation files. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "st.h"
#include "support.h"

static const char node_pg[] =
    "; node-postgres\n"
    "[require-is-verify-full]\n"
    "source = https://github.com/brianc/node-postgres/tree/master/packages/pg-connection-string\n"
    "reason = prefer, require and verify-ca are aliases for verify-full\n"
    "sslmodes = prefer require verify-ca\n"
    "expected = connected-tls connected-plain\n"
    "observed = untrusted-chain hostname-mismatch client-config-error\n"
    "[pinned]\n"
    "source = https://example.org/x\n"
    "reason = r\n"
    "cases = */pinned-*/*\n"
    "observed = connected-tls\n";

static st_case mkcase(const char *id, const char *scenario, const char *store, const char *mode)
{
    st_case c;
    memset(&c, 0, sizeof(c));
    c.id = (char *)id;
    c.scenario = (char *)scenario;
    c.store = (char *)store;
    c.sslmode = (char *)mode;
    return c;
}

START_TEST(a_deviation_matches_on_mode_and_classes_only)
{
    pgtls_err err;
    st_deviation_match m;
    err_clear(&err);
    st_deviations *d = st_deviations_parse(node_pg, "node-pg.ini", &err);
    ck_assert_msg(d != NULL, "%s", err.msg);
    st_case c = mkcase("wrong-host/root-g2/require", "wrong-host", "root-g2", "require");
    ck_assert_int_eq(st_deviation_find(d, &c, ST_CONNECTED_TLS, ST_HOSTNAME_MISMATCH, &m), 1);
    ck_assert_str_eq(m.name, "require-is-verify-full");
    ck_assert_ptr_nonnull(strstr(m.source, "node-postgres"));
    ck_assert_ptr_nonnull(m.reason);
    /* observed class not listed */
    ck_assert_int_eq(st_deviation_find(d, &c, ST_CONNECTED_TLS, ST_EXPIRED, NULL), 0);
    /* expected class not listed */
    ck_assert_int_eq(st_deviation_find(d, &c, ST_SSL_REQUIRED, ST_HOSTNAME_MISMATCH, NULL), 0);
    /* sslmode not listed */
    c.sslmode = (char *)"verify-full";
    ck_assert_int_eq(st_deviation_find(d, &c, ST_CONNECTED_TLS, ST_HOSTNAME_MISMATCH, NULL), 0);
    /* glob on the case id */
    st_case p = mkcase("azure-new/pinned-leaf/verify-full", "azure-new", "pinned-leaf", "verify-full");
    ck_assert_int_eq(st_deviation_find(d, &p, ST_UNTRUSTED_CHAIN, ST_CONNECTED_TLS, &m), 1);
    ck_assert_str_eq(m.name, "pinned");
    ck_assert_int_eq(st_deviation_find(NULL, &p, ST_UNTRUSTED_CHAIN, ST_CONNECTED_TLS, &m), 0);
    ck_assert_int_eq(st_deviation_find(d, &p, ST_UNTRUSTED_CHAIN, ST_CLASS_NONE, &m), 0);
    st_deviations_free(d);
}
END_TEST

static const struct {
    const char *text;
    const char *message;
} bad[] = {
    {"[a]\nreason = r\nobserved = expired\n", "[a] needs source"},
    {"[a]\nsource = s\nobserved = expired\n", "[a] needs source"},
    {"[a]\nsource = s\nreason = r\n", "needs observed"},
    {"[a]\nsource = s\nreason = r\nobserved = broken\n", ":4: not an outcome class list"},
    {"[a]\nsource = s\nreason = r\nobserved = expired\nexpected = nah\n", ":5: not an outcome class list"},
    {"[a]\nsource = s\nsource = t\n", ":3: key given twice"},
    {"[a]\nsource = s\ncolour = red\n", ":3: unknown key"},
    {"source = s\n", "outside a [deviation] section"},
    {"[a]\nsource =\n", "empty value"},
    {"[a]\nsource = s\nreason = r\nobserved = expired\n[b]\nsource = s\nreason = r\nobserved = expired\n[a]\nreason = x\n", ":10: deviation appears twice"},
    {"[a]\ngarbage\n", ":2: not a key = value line"},
    {"[a]\nsource = s\nreason = r\npredicts = nope\n", ":4: not an outcome class"},
    {"[a]\nsource = s\nreason = r\nacts_as = verify-full\n", ":4: acts_as wants sslmode="},
    {"[a]\nsource = s\nreason = r\nacts_as = sslmode=strict\n", ":4: acts_as wants sslmode="},
    {"[a]\nsource = s\nreason = r\npredicts = expired\nacts_as = sslmode=require\n",
     "both predicts and acts_as"},
    {"[a]\nsource = s\nreason = r\npredicts = expired\nobserved = expired\n", "drop observed"},
};

START_TEST(a_bad_deviation_file_is_rejected_with_its_line)
{
    pgtls_err err;
    err_clear(&err);
    ck_assert_ptr_null(st_deviations_parse(bad[_i].text, "x.ini", &err));
    ck_assert_msg(strstr(err.msg, bad[_i].message) != NULL, "row %d: \"%s\"", _i, err.msg);
}
END_TEST

START_TEST(a_client_without_a_file_has_no_deviations)
{
    pgtls_err err;
    char *dir = ts_tmpdir_new("dev");
    err_clear(&err);
    st_deviations *d = st_deviations_load(dir, "libpq", &err);
    ck_assert_ptr_nonnull(d);
    st_case c = mkcase("a/b/require", "a", "b", "require");
    ck_assert_int_eq(st_deviation_find(d, &c, ST_CONNECTED_TLS, ST_UNTRUSTED_CHAIN, NULL), 0);
    st_deviations_free(d);
    free(ts_write_text(dir, "bad.ini", "[x]\nnope = 1\n"));
    ck_assert_ptr_null(st_deviations_load(dir, "bad", &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "bad.ini:2"));
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(one_judgement_carries_expected_observed_deviation_and_verdict)
{
    pgtls_err err;
    err_clear(&err);
    st_deviations *d = st_deviations_parse(node_pg, "node-pg.ini", &err);
    ck_assert_msg(d != NULL, "%s", err.msg);
    st_case c = mkcase("wrong-host/root-g2/require", "wrong-host", "root-g2", "require");
    c.root_kind = ST_ROOT_FILE;
    c.server_ssl = 1;
    c.host_match = 0;
    c.verify = (char *)"ok";
    c.server_min_protocol = (char *)"TLSv1.2";
    c.server_max_protocol = (char *)"";
    c.server_auth = (char *)"scram-sha-256";
    json_t *mismatch = json_pack("{s:b, s:s}", "connected", 0, "error",
                                 "Hostname/IP does not match certificate's altnames");
    json_t *ok = json_pack("{s:b, s:b}", "connected", 1, "tls", 1);
    /* libpq's require does not check the host name: connected-tls expected. */
    st_judgement j = st_judge(&c, NULL, NULL, mismatch, d);
    ck_assert_int_eq(j.expected.cls, ST_CONNECTED_TLS);
    ck_assert_ptr_nonnull(j.expected.rule);
    ck_assert_int_eq(j.observed.cls, ST_HOSTNAME_MISMATCH);
    ck_assert_int_eq(j.verdict, ST_DEVIATION_KNOWN);
    ck_assert_str_eq(j.deviation.name, "require-is-verify-full");
    /* The same outcome without the deviation file fails. */
    j = st_judge(&c, NULL, NULL, mismatch, NULL);
    ck_assert_int_eq(j.verdict, ST_FAILS);
    ck_assert_ptr_null(j.deviation.name);
    ck_assert(st_verdict_is_failure(j.verdict));
    /* Conforming: no deviation named. */
    j = st_judge(&c, "170002", NULL, ok, d);
    ck_assert_int_eq(j.verdict, ST_CONFORMS);
    ck_assert_ptr_null(j.deviation.name);
    ck_assert(!st_verdict_is_failure(j.verdict));
    /* The adapter died: crashed, an error of the run. */
    j = st_judge(&c, NULL, NULL, NULL, d);
    ck_assert_int_eq(j.observed.cls, ST_CLIENT_CRASHED);
    ck_assert_int_eq(j.verdict, ST_VERDICT_ERROR);
    json_decref(mismatch);
    json_decref(ok);
    st_deviations_free(d);
}
END_TEST

START_TEST(a_predicting_entry_covers_only_the_class_it_predicts)
{
    pgtls_err err;
    st_deviation_match m, missed;
    err_clear(&err);
    st_deviations *d = st_deviations_parse(
        "[verify-full-for-every-tls-mode]\nsource = s\nreason = r\n"
        "sslmodes = prefer require verify-ca\nexpected = connected-tls connected-plain\n"
        "acts_as = sslmode=verify-full\n"
        "[fixed]\nsource = s\nreason = r\nstores = none\npredicts = untrusted-chain\n",
        "p.ini", &err);
    ck_assert_msg(d != NULL, "%s", err.msg);
    /* require on a chain that verifies with the wrong host name: libpq
     * connects (connected-tls); under verify-full it is hostname-mismatch. */
    st_case c = mkcase("wrong-host/root-g2/require", "wrong-host", "root-g2", "require");
    c.root_kind = ST_ROOT_FILE;
    c.server_ssl = 1;
    c.host_match = 0;
    c.verify = (char *)"ok";
    c.server_min_protocol = (char *)"TLSv1.2";
    c.server_max_protocol = (char *)"";
    c.server_auth = (char *)"scram-sha-256";
    ck_assert_int_eq(st_expect(&c, 0).cls, ST_CONNECTED_TLS);
    ck_assert_int_eq(st_deviation_judge(d, &c, ST_CONNECTED_TLS, ST_HOSTNAME_MISMATCH, 0, &m,
                                        &missed),
                     1);
    ck_assert_str_eq(m.name, "verify-full-for-every-tls-mode");
    ck_assert_int_eq(m.predicted, ST_HOSTNAME_MISMATCH);
    ck_assert_ptr_null(missed.name);
    /* The same driver failing for another reason is not covered: both shown. */
    ck_assert_int_eq(st_deviation_judge(d, &c, ST_CONNECTED_TLS, ST_UNTRUSTED_CHAIN, 0, &m,
                                        &missed),
                     0);
    ck_assert_str_eq(missed.name, "verify-full-for-every-tls-mode");
    ck_assert_int_eq(missed.predicted, ST_HOSTNAME_MISMATCH);
    json_t *untrusted = json_pack("{s:b, s:s}", "connected", 0, "error",
                                  "self-signed certificate in certificate chain");
    st_judgement j = st_judge(&c, NULL, NULL, untrusted, d);
    ck_assert_int_eq(j.verdict, ST_FAILS);
    ck_assert_str_eq(j.missed_prediction.name, "verify-full-for-every-tls-mode");
    json_decref(untrusted);
    /* A fixed prediction. */
    st_case n = c;
    n.store = (char *)"none";
    ck_assert_int_eq(st_deviation_judge(d, &n, ST_CONNECTED_TLS, ST_UNTRUSTED_CHAIN, 0, &m, NULL),
                     1);
    ck_assert_str_eq(m.name, "fixed");
    st_deviations_free(d);
}
END_TEST

START_TEST(every_shipped_deviation_file_parses)
{
    static const char *const clients[] = {"node-postgres", "pgjdbc", "pgx", "openssl-s_client"};
    for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
        pgtls_err err;
        err_clear(&err);
        st_deviations *d = st_deviations_load(st_deviations_default_dir(), clients[i], &err);
        ck_assert_msg(d != NULL, "%s: %s", clients[i], err.msg);
        st_deviations_free(d);
    }
}
END_TEST

Suite *st_deviations_suite(void)
{
    Suite *s = suite_create("st_deviations");
    TCase *tc = tcase_create("known deviations");
    tcase_add_test(tc, a_deviation_matches_on_mode_and_classes_only);
    tcase_add_loop_test(tc, a_bad_deviation_file_is_rejected_with_its_line, 0,
                        (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, a_client_without_a_file_has_no_deviations);
    tcase_add_test(tc, every_shipped_deviation_file_parses);
    tcase_add_test(tc, one_judgement_carries_expected_observed_deviation_and_verdict);
    tcase_add_test(tc, a_predicting_entry_covers_only_the_class_it_predicts);
    suite_add_tcase(s, tc);
    return s;
}
