/* pgtls: the shipped default suite against the shipped catalogue (suite
 * integration): generates the fixtures with certs-gen, expands
 * suites/default.suite, and checks its size and the first-class libpq cases. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "fs.h"
#include "st.h"
#include "support.h"

static char *fixtures_dir;
static fx_index *idx;
static st_case_list cases;

static void setup(void)
{
    pgtls_err err;
    st_suite *s;
    char *dir = ts_tmpdir_new("stdefault");
    fixtures_dir = str_printf("%s/fixtures", dir);
    free(dir);
    err_clear(&err);
    ck_assert_msg(ca_gen(NULL, fixtures_dir, NULL, &err) == 0, "%s", err.msg);
    idx = fx_index_load(fixtures_dir, &err);
    ck_assert_msg(idx != NULL, "%s", err.msg);
    s = st_suite_load(st_default_suite_path(), &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert_msg(st_expand(s, idx, &cases, &err) == 0, "%s", err.msg);
    st_suite_free(s);
}

static void teardown(void)
{
    char *parent = strdup(fixtures_dir);
    *strrchr(parent, '/') = '\0';
    st_case_list_cleanup(&cases);
    fx_index_free(idx);
    ts_tmpdir_remove(parent);
    free(fixtures_dir);
}

START_TEST(the_default_suite_expands_to_a_few_hundred_cases_covering_every_scenario)
{
    printf("default suite: %zu cases\n", cases.num_cases);
    ck_assert_msg(cases.num_cases >= 200 && cases.num_cases <= 500, "%zu cases", cases.num_cases);
    for (size_t i = 0; i < fx_num_scenarios(idx); i++) {
        const char *name = fx_scenario_at(idx, i)->name;
        int seen = 0;
        for (size_t j = 0; j < cases.num_cases && !seen; j++)
            seen = strcmp(cases.cases[j].scenario, name) == 0;
        ck_assert_msg(seen, "scenario %s is not in the default suite", name);
    }
    for (size_t j = 0; j < cases.num_cases; j++) {
        st_expectation e15 = st_expect(&cases.cases[j], 15), e17 = st_expect(&cases.cases[j], 17);
        ck_assert(e15.cls != ST_CLASS_NONE && e17.cls != ST_CLASS_NONE);
        ck_assert_ptr_nonnull(cases.cases[j].host);
    }
}
END_TEST

static const struct {
    const char *id;
    st_class libpq15, libpq17;
} first_class[] = {
    /* require + stale ~/.postgresql/root.crt acts as verify-ca */
    {"azure-new/none/require/home=root.crt:wrong-root", ST_UNTRUSTED_CHAIN, ST_UNTRUSTED_CHAIN},
    {"azure-new/none/require/home=root.crt:root-g2", ST_CONNECTED_TLS, ST_CONNECTED_TLS},
    {"azure-new/none/require", ST_CONNECTED_TLS, ST_CONNECTED_TLS},
    /* prefer falls back to plaintext when verification fails and the server allows it */
    {"plaintext-allowed/wrong-root/prefer", ST_CONNECTED_PLAIN, ST_CONNECTED_PLAIN},
    {"plaintext-allowed/none/prefer/home=root.crt:wrong-root", ST_CONNECTED_PLAIN, ST_CONNECTED_PLAIN},
    {"azure-new/wrong-root/prefer", ST_SSL_REQUIRED, ST_SSL_REQUIRED},
    /* sslrootcert=system: PG16+ verify-full only; a file name before */
    {"azure-new/system/verify-full", ST_CLIENT_CONFIG_ERROR, ST_CONNECTED_TLS},
    {"azure-new/system/require", ST_CONNECTED_TLS, ST_CLIENT_CONFIG_ERROR},
    {"wrong-host/system/verify-full", ST_CLIENT_CONFIG_ERROR, ST_HOSTNAME_MISMATCH},
    /* missing root file with verify-* */
    {"azure-new/missing/verify-full", ST_CLIENT_CONFIG_ERROR, ST_CLIENT_CONFIG_ERROR},
    {"azure-new/none/verify-ca", ST_CLIENT_CONFIG_ERROR, ST_CLIENT_CONFIG_ERROR},
    {"azure-new/empty/require", ST_CLIENT_CONFIG_ERROR, ST_CLIENT_CONFIG_ERROR},
    /* direct negotiation */
    {"azure-new/root-g2/require/sslnegotiation=direct", ST_CLIENT_CONFIG_ERROR, ST_CONNECTED_TLS},
    {"azure-new/root-g2/prefer/sslnegotiation=direct", ST_CLIENT_CONFIG_ERROR, ST_CLIENT_CONFIG_ERROR},
    {"no-ssl/root-g2/verify-full/sslnegotiation=direct", ST_CLIENT_CONFIG_ERROR, ST_SERVER_REFUSED_SSL},
    /* the rotation itself */
    {"azure-new/root-g2/verify-full", ST_CONNECTED_TLS, ST_CONNECTED_TLS},
    {"azure-new-short/root-g2/verify-full", ST_UNTRUSTED_CHAIN, ST_UNTRUSTED_CHAIN},
    {"azure-new-expired-cross/root-g2/verify-full", ST_EXPIRED, ST_EXPIRED},
    {"azure-old/pinned-ica03/verify-ca", ST_UNTRUSTED_CHAIN, ST_UNTRUSTED_CHAIN},
    {"azure-old-ms2017/root-g2/require", ST_UNTRUSTED_CHAIN, ST_UNTRUSTED_CHAIN},
    {"azure-old-ms2017/missing/require", ST_CONNECTED_TLS, ST_CONNECTED_TLS},
    /* breakage */
    {"wrong-host/private-root/verify-full", ST_HOSTNAME_MISMATCH, ST_HOSTNAME_MISMATCH},
    {"wrong-host/private-root/verify-ca", ST_CONNECTED_TLS, ST_CONNECTED_TLS},
    {"expired-leaf/private-root/verify-full", ST_EXPIRED, ST_EXPIRED},
    {"not-yet-valid-leaf/private-root/verify-full", ST_UNTRUSTED_CHAIN, ST_UNTRUSTED_CHAIN},
    {"rsa1024-leaf/private-root/verify-full", ST_UNTRUSTED_CHAIN, ST_UNTRUSTED_CHAIN},
    {"no-ssl/root-g2/require", ST_SERVER_REFUSED_SSL, ST_SERVER_REFUSED_SSL},
    {"tls10-only/root-g2/require", ST_PROTOCOL_VERSION, ST_PROTOCOL_VERSION},
    {"auth-md5/root-g2/verify-full/channel_binding=require", ST_AUTH_FAILED, ST_AUTH_FAILED},
};

START_TEST(the_first_class_libpq_cases_are_in_the_default_suite_with_their_expectations)
{
    const st_case *c = st_case_find(&cases, first_class[_i].id);
    ck_assert_msg(c != NULL, "%s is not in the default suite", first_class[_i].id);
    st_expectation e15 = st_expect(c, 15), e17 = st_expect(c, 17);
    ck_assert_msg(e15.cls == first_class[_i].libpq15, "%s on libpq 15: %s (%s: %s)",
                  first_class[_i].id, st_class_name(e15.cls), e15.rule, e15.why);
    ck_assert_msg(e17.cls == first_class[_i].libpq17, "%s on libpq 17: %s (%s: %s)",
                  first_class[_i].id, st_class_name(e17.cls), e17.rule, e17.why);
}
END_TEST

Suite *st_default_suite(void)
{
    Suite *s = suite_create("st_default");
    TCase *tc = tcase_create("the default suite against the catalogue");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, the_default_suite_expands_to_a_few_hundred_cases_covering_every_scenario);
    tcase_add_loop_test(tc, the_first_class_libpq_cases_are_in_the_default_suite_with_their_expectations,
                        0, (int)(sizeof(first_class) / sizeof(first_class[0])));
    suite_add_tcase(s, tc);
    return s;
}
