/* pgtls entra: the tenant folder (made on first use, key 0600), every config
 * key good and bad, identity selection, and issued tokens. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "en_jwt.h"
#include "entra.h"
#include "fs.h"
#include "support.h"

#define GOOD_IDS                                                                                   \
    "\"identities\":[{\"name\":\"vm1\",\"kind\":\"system\","                                       \
    "\"client_id\":\"11111111-1111-4111-8111-111111111111\","                                      \
    "\"object_id\":\"22222222-2222-4222-8222-222222222222\",\"role\":true}]"
#define GOOD_HEAD                                                                                  \
    "{\"tenant_id\":\"33333333-3333-4333-8333-333333333333\","                                     \
    "\"subscription_id\":\"44444444-4444-4444-8444-444444444444\",\"default_identity\":\"vm1\","

START_TEST(a_new_fixtures_folder_gets_a_tenant_with_a_private_key_and_a_default_identity)
{
    char *dir = ts_tmpdir_new("entra");
    pgtls_err err;
    en_tenant *t = en_tenant_open(dir, &err), *t2;
    char *keyp = str_printf("%s/entra/tenant-key.pem", dir);
    struct stat sb;
    const en_identity *id;
    ck_assert_msg(t != NULL, "%s", err.msg);
    ck_assert_int_eq(stat(keyp, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    id = en_tenant_select(t, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(id);
    ck_assert_str_eq(id->name, "pgtls-vm");
    ck_assert_int_eq(id->has_role, 1);
    ck_assert(en_guid_valid(t->tenant_id));
    /* a second opener loads the same tenant */
    t2 = en_tenant_open(dir, &err);
    ck_assert_msg(t2 != NULL, "%s", err.msg);
    ck_assert_str_eq(t2->tenant_id, t->tenant_id);
    ck_assert_str_eq(t2->kid, t->kid);
    ck_assert_ptr_eq(en_tenant_select(t2, id->client_id, NULL, NULL), &t2->ids[0]);
    ck_assert_ptr_nonnull(en_tenant_select(t2, NULL, NULL, id->mi_res_id));
    ck_assert_ptr_null(en_tenant_select(t2, "00000000-0000-4000-8000-000000000000", NULL, NULL));
    en_tenant_free(t);
    en_tenant_free(t2);
    free(keyp);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(a_missing_fixtures_folder_names_the_fix)
{
    pgtls_err err;
    ck_assert_ptr_null(en_tenant_open("/nonexistent/pgtls-fixtures", &err));
    ck_assert_msg(strstr(err.msg, "pgtls ca gen") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(issued_tokens_carry_azure_claims_and_validate_with_the_tenant_key)
{
    char *dir = ts_tmpdir_new("entra");
    pgtls_err err;
    en_tenant *t = en_tenant_open(dir, &err);
    const en_identity *id = en_tenant_select(t, NULL, NULL, NULL);
    long long exp = 0, nbf = 0, now = 1800000000LL;
    char *tok = en_token_issue(t, id, EN_AUDIENCE_OSSRDBMS, now, &exp, &nbf, &err), iss[128],
         why[200];
    en_jwt_claims c;
    en_jwt_expect e;
    ck_assert_msg(tok != NULL, "%s", err.msg);
    snprintf(iss, sizeof(iss), "https://sts.windows.net/%s/", t->tenant_id);
    e = (en_jwt_expect){t->key, t->kid, EN_AUDIENCE_OSSRDBMS, iss, now, 300};
    ck_assert_msg(en_jwt_verify(tok, strlen(tok), &e, &c, why, sizeof(why)) == EN_JWT_OK, "%s",
                  why);
    ck_assert_str_eq(c.oid, id->object_id);
    ck_assert_str_eq(c.appid, id->client_id);
    ck_assert_str_eq(c.tid, t->tenant_id);
    ck_assert_str_eq(c.xms_mirid, id->mi_res_id);
    ck_assert_int_eq(exp, now + EN_DEFAULT_LIFETIME_S);
    ck_assert_int_eq(nbf, now);
    ck_assert_msg(strlen(tok) > 900, "token of %zu bytes", strlen(tok));
    free(tok);
    /* each fault makes the validator fail the matching way */
    {
        static const struct {
            en_fault f;
            en_jwt_status st;
        } rows[] = {{EN_FAULT_EXPIRED, EN_JWT_EXPIRED},
                    {EN_FAULT_NOT_YET_VALID, EN_JWT_NOT_YET_VALID},
                    {EN_FAULT_WRONG_AUDIENCE, EN_JWT_WRONG_AUDIENCE},
                    {EN_FAULT_FOREIGN_KEY, EN_JWT_BAD_SIGNATURE}};
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
            ck_assert_int_eq(en_tenant_set_fault(t, rows[i].f, &err), 0);
            tok = en_token_issue(t, id, EN_AUDIENCE_OSSRDBMS, now, NULL, NULL, &err);
            ck_assert_ptr_nonnull(tok);
            ck_assert_msg(en_jwt_verify(tok, strlen(tok), &e, NULL, why, sizeof(why)) ==
                              rows[i].st,
                          "fault %s: %s", en_fault_name(rows[i].f), why);
            free(tok);
        }
    }
    en_tenant_free(t);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(every_config_key_is_checked)
{
    static const struct {
        const char *json;
        const char *expect; /* part of the error, or NULL: accepted */
    } rows[] = {
        {GOOD_HEAD GOOD_IDS "}", NULL},
        {GOOD_HEAD "\"token_lifetime_s\":3599,\"fault\":\"expired\",\"retry_after_s\":0,"
                   "\"resource_group\":\"rg\"," GOOD_IDS "}",
         NULL},
        {"{", "fix the JSON"},
        {"[]", "not a JSON object"},
        {GOOD_HEAD "\"colour\":1," GOOD_IDS "}", "unknown key \"colour\""},
        {GOOD_HEAD "\"token_lifetime_s\":0," GOOD_IDS "}", "token_lifetime_s"},
        {GOOD_HEAD "\"token_lifetime_s\":\"3599\"," GOOD_IDS "}", "token_lifetime_s"},
        {GOOD_HEAD "\"retry_after_s\":-1," GOOD_IDS "}", "retry_after_s"},
        {GOOD_HEAD "\"clock_skew_s\":0," GOOD_IDS "}", NULL},
        {GOOD_HEAD "\"clock_skew_s\":9999," GOOD_IDS "}", "clock_skew_s"},
        {GOOD_HEAD "\"fault\":\"sometimes\"," GOOD_IDS "}", "fault \"sometimes\""},
        {"{\"tenant_id\":\"nope\",\"subscription_id\":\"44444444-4444-4444-8444-444444444444\","
         "\"default_identity\":\"vm1\"," GOOD_IDS "}",
         "must be GUIDs"},
        {GOOD_HEAD "\"identities\":[]}", "identities must be"},
        {GOOD_HEAD "\"identities\":[{\"name\":\"vm1\",\"client_id\":\"x\",\"object_id\":"
                   "\"22222222-2222-4222-8222-222222222222\"}]}",
         "must be GUIDs"},
        {GOOD_HEAD "\"identities\":[{\"name\":\"vm 1\",\"client_id\":"
                   "\"11111111-1111-4111-8111-111111111111\",\"object_id\":"
                   "\"22222222-2222-4222-8222-222222222222\"}]}",
         "may hold only"},
        {GOOD_HEAD "\"identities\":[{\"name\":\"vm1\",\"kind\":\"robot\",\"client_id\":"
                   "\"11111111-1111-4111-8111-111111111111\",\"object_id\":"
                   "\"22222222-2222-4222-8222-222222222222\"}]}",
         "kind must be"},
        {GOOD_HEAD "\"identities\":[{\"name\":\"vm1\",\"role\":1,\"client_id\":"
                   "\"11111111-1111-4111-8111-111111111111\",\"object_id\":"
                   "\"22222222-2222-4222-8222-222222222222\"}]}",
         "role must be"},
        {GOOD_HEAD "\"identities\":[{\"name\":\"vm1\",\"extra\":1,\"client_id\":"
                   "\"11111111-1111-4111-8111-111111111111\",\"object_id\":"
                   "\"22222222-2222-4222-8222-222222222222\"}]}",
         "unknown key \"extra\""},
        {GOOD_HEAD "\"identities\":[{\"name\":\"vm1\",\"client_id\":"
                   "\"11111111-1111-4111-8111-111111111111\",\"object_id\":"
                   "\"22222222-2222-4222-8222-222222222222\"},{\"name\":\"vm2\",\"client_id\":"
                   "\"11111111-1111-4111-8111-111111111111\",\"object_id\":"
                   "\"55555555-2222-4222-8222-222222222222\"}]}",
         "same name, client_id or object_id"},
        {"{\"tenant_id\":\"33333333-3333-4333-8333-333333333333\","
         "\"subscription_id\":\"44444444-4444-4444-8444-444444444444\","
         "\"default_identity\":\"nobody\"," GOOD_IDS "}",
         "default_identity \"nobody\""},
    };
    char *dir = ts_tmpdir_new("entra"), *ed = fs_join(dir, "entra");
    pgtls_err err;
    en_tenant *t = en_tenant_open(dir, &err); /* makes the key */
    ck_assert_msg(t != NULL, "%s", err.msg);
    en_tenant_free(t);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *p = ts_write_text(ed, "tenant.json", rows[i].json);
        err_clear(&err);
        t = en_tenant_open(dir, &err);
        if (!rows[i].expect)
            ck_assert_msg(t != NULL, "row %zu: %s", i, err.msg);
        else {
            ck_assert_msg(t == NULL, "row %zu accepted", i);
            ck_assert_msg(strstr(err.msg, rows[i].expect) != NULL, "row %zu: %s", i, err.msg);
        }
        en_tenant_free(t);
        free(p);
    }
    /* a key that is not a key */
    free(ts_write_text(ed, "tenant.json", GOOD_HEAD GOOD_IDS "}"));
    free(ts_write_text(ed, "tenant-key.pem", "not a key\n"));
    ck_assert_ptr_null(en_tenant_open(dir, &err));
    ck_assert_msg(strstr(err.msg, "RSA private key") != NULL, "%s", err.msg);
    free(ed);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(fault_names_round_trip)
{
    en_fault f;
    for (int i = 0; i < EN_FAULT_COUNT; i++) {
        ck_assert_int_eq(en_fault_parse(en_fault_name((en_fault)i), &f), 0);
        ck_assert_int_eq(f, i);
    }
    ck_assert_int_eq(en_fault_parse("Expired", &f), -1);
    ck_assert_int_eq(en_fault_parse(NULL, &f), -1);
    ck_assert(!en_guid_valid("11111111-1111-4111-8111-11111111111"));
    ck_assert(!en_guid_valid("11111111x1111-4111-8111-111111111111"));
    ck_assert(en_guid_valid("ABCDEF11-1111-4111-8111-111111111111"));
}
END_TEST

Suite *en_tenant_suite(void)
{
    Suite *s = suite_create("en_tenant");
    TCase *tc = tcase_create("tenant");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_new_fixtures_folder_gets_a_tenant_with_a_private_key_and_a_default_identity);
    tcase_add_test(tc, a_missing_fixtures_folder_names_the_fix);
    tcase_add_test(tc, issued_tokens_carry_azure_claims_and_validate_with_the_tenant_key);
    tcase_add_test(tc, every_config_key_is_checked);
    tcase_add_test(tc, fault_names_round_trip);
    suite_add_tcase(s, tc);
    return s;
}
