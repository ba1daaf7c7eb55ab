/* pgtls: unit tests of the fixtures index reader. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "support.h"

static const char good_index[] =
    "{\"schema\":\"pgtls-fixtures/1\",\"default_host\":\"db.example.com\","
    "\"certs\":{\"root\":{\"role\":\"root\",\"pem\":\"certs/root.pem\"}},"
    "\"chains\":{\"c1\":{\"certs\":[\"leaf\"],\"leaf\":\"leaf\",\"pem\":\"chains/c1.pem\","
    "\"key\":\"keys/leaf.key\"}},"
    "\"stores\":{\"root-only\":{\"kind\":\"roots\",\"certs\":[\"root\"],\"pem\":\"stores/r.pem\","
    "\"p12\":\"stores/r.p12\"},\"missing\":{\"kind\":\"missing\",\"certs\":[],"
    "\"pem\":\"stores/missing.pem\"}},"
    "\"scenarios\":{\"s1\":{\"chain\":\"c1\",\"host_match\":false,\"server\":{\"ssl\":true,"
    "\"ssl_min_protocol_version\":\"TLSv1.3\",\"auth\":\"md5\"},"
    "\"verify\":{\"root-only\":\"ok\",\"missing\":\"no-file\"}},"
    "\"plain\":{\"chain\":null,\"server\":{\"ssl\":false,\"require_secure_transport\":false}}}}";

START_TEST(a_well_formed_index_loads_with_absolute_paths_and_defaults)
{
    pgtls_err err;
    char *dir = ts_tmpdir_new("fx");
    char *p = ts_write_text(dir, "index.json", good_index);
    fx_index *idx;
    const fx_scenario *sc;
    const fx_store *st;
    char *pem;

    err_clear(&err);
    idx = fx_index_load(dir, &err);
    ck_assert_msg(idx != NULL, "%s", err.msg);
    ck_assert_uint_eq(fx_num_scenarios(idx), 2);
    ck_assert_uint_eq(fx_num_stores(idx), 2);
    sc = fx_scenario_find(idx, "s1");
    ck_assert_ptr_nonnull(sc);
    ck_assert_str_eq(sc->host, "db.example.com");
    ck_assert_int_eq(sc->host_match, 0);
    ck_assert_int_eq(sc->server.ssl, 1);
    ck_assert_str_eq(sc->server.ssl_min_protocol_version, "TLSv1.3");
    ck_assert_str_eq(sc->server.auth, "md5");
    ck_assert_int_eq(sc->server.require_secure_transport, 1);
    ck_assert_ptr_nonnull(strstr(sc->chain_pem, "/chains/c1.pem"));
    ck_assert(sc->chain_pem[0] == '/');
    ck_assert_str_eq(fx_scenario_verify(sc, "root-only"), "ok");
    ck_assert_ptr_null(fx_scenario_verify(sc, "nope"));
    sc = fx_scenario_find(idx, "plain");
    ck_assert_int_eq(sc->server.ssl, 0);
    ck_assert_ptr_null(sc->chain_pem);
    ck_assert_int_eq(sc->server.require_secure_transport, 0);
    st = fx_store_find(idx, "root-only");
    ck_assert_str_eq(st->kind, "roots");
    ck_assert_str_eq(st->p12_password, "changeit");
    ck_assert_ptr_null(fx_store_find(idx, "nope"));
    ck_assert_ptr_null(fx_scenario_find(idx, "nope"));
    pem = fx_cert_pem(idx, "root");
    ck_assert_ptr_nonnull(strstr(pem, "/certs/root.pem"));
    free(pem);
    ck_assert_ptr_null(fx_cert_pem(idx, "nope"));
    fx_index_free(idx);
    free(p);
    ts_tmpdir_remove(dir);
}
END_TEST

static const struct {
    const char *text;
    const char *expect; /* substring of the error */
} bad_indexes[] = {
    {"{", "regenerate"},
    {"{\"schema\":\"pgtls-fixtures/0\",\"scenarios\":{},\"stores\":{}}", "schema"},
    {"{\"schema\":\"pgtls-fixtures/1\"}", "\"scenarios\" and \"stores\""},
    {"{\"schema\":\"pgtls-fixtures/1\",\"stores\":{},\"scenarios\":{\"s\":{\"chain\":\"nochain\","
     "\"server\":{}}}}",
     "names chain nochain"},
    {"{\"schema\":\"pgtls-fixtures/1\",\"stores\":{},\"scenarios\":{\"s\":{\"chain\":null}}}",
     "\"server\" object"},
    {"{\"schema\":\"pgtls-fixtures/1\",\"stores\":{},\"scenarios\":{\"s\":{\"chain\":null,"
     "\"server\":{\"ssl\":true}}}}",
     "ssl=true but no chain"},
    {"{\"schema\":\"pgtls-fixtures/1\",\"scenarios\":{},\"stores\":{\"x\":{\"pem\":\"a\"}}}",
     "needs a \"kind\""},
    {"{\"schema\":\"pgtls-fixtures/1\",\"scenarios\":{},\"stores\":{\"x\":{\"kind\":\"roots\"}}}",
     "no \"pem\""},
    {"{\"schema\":\"pgtls-fixtures/1\",\"schema\":\"pgtls-fixtures/1\",\"scenarios\":{},"
     "\"stores\":{}}",
     "duplicate"},
};

START_TEST(a_malformed_index_is_refused_with_a_message_naming_the_problem)
{
    pgtls_err err;
    char *dir = ts_tmpdir_new("fx");
    char *p = ts_write_text(dir, "index.json", bad_indexes[_i].text);
    fx_index *idx;

    err_clear(&err);
    idx = fx_index_load(dir, &err);
    ck_assert_ptr_null(idx);
    ck_assert_int_eq(err.code, PGTLS_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, bad_indexes[_i].expect) != NULL, "case %d: got '%s'", _i,
                  err.msg);
    free(p);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(a_missing_index_tells_how_to_generate_it)
{
    pgtls_err err;
    char *dir = ts_tmpdir_new("fx");
    err_clear(&err);
    ck_assert_ptr_null(fx_index_load(dir, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "pgtls ca gen"));
    ts_tmpdir_remove(dir);
}
END_TEST

Suite *fixtures_suite(void)
{
    Suite *s = suite_create("fixtures");
    TCase *tc = tcase_create("index reader");
    tcase_add_test(tc, a_well_formed_index_loads_with_absolute_paths_and_defaults);
    tcase_add_loop_test(tc, a_malformed_index_is_refused_with_a_message_naming_the_problem, 0,
                        (int)(sizeof(bad_indexes) / sizeof(bad_indexes[0])));
    tcase_add_test(tc, a_missing_index_tells_how_to_generate_it);
    suite_add_tcase(s, tc);
    return s;
}
