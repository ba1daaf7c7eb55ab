/* pgtls: unit tests of the shared vocabularies (common/vocab.h). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

START_TEST(one_rank_orders_every_tls_version_and_rejects_unknown_names)
{
    ck_assert_int_eq(vc_tls_rank(NULL), 0);
    ck_assert_int_eq(vc_tls_rank(""), 0);
    ck_assert_int_eq(vc_tls_rank("TLSv1"), 10);
    ck_assert_int_eq(vc_tls_rank("TLSv1.0"), 10);
    ck_assert_int_eq(vc_tls_rank("TLSv1.1"), 11);
    ck_assert_int_eq(vc_tls_rank("TLSv1.2"), 12);
    ck_assert_int_eq(vc_tls_rank("TLSv1.3"), 13);
    ck_assert_int_eq(vc_tls_rank("TLSv1.4"), -1);
    ck_assert_int_eq(vc_tls_rank("tlsv1.2"), -1);
    ck_assert_int_eq(vc_tls_wire_version("TLSv1.2"), 0x0303);
    ck_assert_int_eq(vc_tls_wire_version(""), 0);
    ck_assert_int_eq(vc_tls_wire_version("SSLv3"), -1);
    const char *const *names = vc_tls_version_names();
    int prev = 0, n = 0;
    for (; names[n]; n++) {
        ck_assert_int_gt(vc_tls_rank(names[n]), prev);
        prev = vc_tls_rank(names[n]);
    }
    ck_assert_int_eq(n, 4);
}
END_TEST

START_TEST(the_isolated_environment_is_pg_and_the_ca_store_variables)
{
    ck_assert(vc_env_isolated("PGSSLMODE=require"));
    ck_assert(vc_env_isolated("PGSSLROOTCERT=/x"));
    ck_assert(vc_env_isolated("SSL_CERT_FILE=/etc/ssl/cert.pem"));
    ck_assert(vc_env_isolated("SSL_CERT_DIR=/etc/ssl/certs"));
    ck_assert(vc_env_isolated("NODE_EXTRA_CA_CERTS=/x"));
    ck_assert(!vc_env_isolated("HOME=/root"));
    ck_assert(!vc_env_isolated("PATH=/bin"));
    ck_assert(!vc_env_isolated("SSL_CERT_FILEX=1"));
}
END_TEST

START_TEST(a_list_splits_at_its_separators_dropping_empty_items)
{
    char **v = vc_split("libpq,,psql,", ",", 0);
    ck_assert_uint_eq(vc_strv_len(v), 2);
    ck_assert_str_eq(v[0], "libpq");
    ck_assert_str_eq(v[1], "psql");
    ck_assert_ptr_null(v[2]);
    vc_strv_free(v);
    v = vc_split(" a b , c ,, ", ",", 1);
    ck_assert_uint_eq(vc_strv_len(v), 2);
    ck_assert_str_eq(v[0], "a b");
    ck_assert_str_eq(v[1], "c");
    vc_strv_free(v);
    v = vc_split("require verify-ca,verify-full\tprefer", " \t,", 0);
    ck_assert_uint_eq(vc_strv_len(v), 4);
    ck_assert_str_eq(v[3], "prefer");
    vc_strv_free(v);
    v = vc_split("", ",", 0);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(vc_strv_len(v), 0);
    vc_strv_free(v);
    ck_assert_ptr_null(vc_split(NULL, ",", 0));
    /* more items than the first allocation */
    v = vc_split("1,2,3,4,5,6,7,8,9,10", ",", 0);
    ck_assert_uint_eq(vc_strv_len(v), 10);
    ck_assert_str_eq(v[9], "10");
    vc_strv_free(v);
}
END_TEST

Suite *vocab_suite(void)
{
    Suite *s = suite_create("vocab");
    TCase *tc = tcase_create("shared vocabularies");
    tcase_add_test(tc, one_rank_orders_every_tls_version_and_rejects_unknown_names);
    tcase_add_test(tc, the_isolated_environment_is_pg_and_the_ca_store_variables);
    tcase_add_test(tc, a_list_splits_at_its_separators_dropping_empty_items);
    suite_add_tcase(s, tc);
    return s;
}
