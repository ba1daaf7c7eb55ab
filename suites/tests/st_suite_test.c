/* pgtls: unit tests of the suite parser and case expansion. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "st.h"
#include "support.h"

static const char index_json[] =
    "{\"schema\":\"pgtls-fixtures/1\",\"default_host\":\"db.example.com\","
    "\"certs\":{},\"chains\":{\"c\":{\"certs\":[\"leaf\"],\"leaf\":\"leaf\","
    "\"pem\":\"chains/c.pem\",\"key\":\"keys/c.key\"}},"
    "\"stores\":{"
    "\"root-g2\":{\"kind\":\"roots\",\"certs\":[],\"pem\":\"stores/root-g2.pem\","
    "\"p12\":\"stores/root-g2.p12\"},"
    "\"wrong-root\":{\"kind\":\"wrong-root\",\"certs\":[],\"pem\":\"stores/wrong-root.pem\"},"
    "\"empty\":{\"kind\":\"empty\",\"certs\":[],\"pem\":\"stores/empty.pem\"},"
    "\"missing\":{\"kind\":\"missing\",\"certs\":[],\"pem\":\"stores/missing.pem\"},"
    "\"system\":{\"kind\":\"system\",\"certs\":[],\"pem\":\"stores/system.pem\","
    "\"system_dir\":\"stores/system.d\"}},"
    "\"scenarios\":{"
    "\"azure-new\":{\"chain\":\"c\",\"host_match\":true,\"server\":{\"ssl\":true,"
    "\"auth\":\"scram-sha-256\",\"direct_tls\":true},"
    "\"verify\":{\"root-g2\":\"ok\",\"wrong-root\":\"untrusted\",\"system\":\"ok\"}},"
    "\"wrong-host\":{\"chain\":\"c\",\"host_match\":false,\"server\":{\"ssl\":true},"
    "\"verify\":{\"root-g2\":\"ok\",\"wrong-root\":\"untrusted\"}},"
    "\"no-ssl\":{\"chain\":null,\"server\":{\"ssl\":false,\"require_secure_transport\":false}},"
    "\"entra\":{\"chain\":\"c\",\"host_match\":true,\"server\":{\"ssl\":true,"
    "\"auth\":\"entra\",\"direct_tls\":true},\"verify\":{\"root-g2\":\"ok\"}}"
    "}}";

typedef struct fixture {
    char *dir;
    fx_index *idx;
} fixture;

static fixture fx_setup(void)
{
    fixture f;
    pgtls_err err;
    char *p;
    f.dir = ts_tmpdir_new("st");
    p = ts_write_text(f.dir, "index.json", index_json);
    free(p);
    err_clear(&err);
    f.idx = fx_index_load(f.dir, &err);
    ck_assert_msg(f.idx != NULL, "%s", err.msg);
    return f;
}

static void fx_teardown(fixture *f)
{
    fx_index_free(f->idx);
    ts_tmpdir_remove(f->dir);
}

static st_suite *parse_ok(const char *text)
{
    pgtls_err err;
    err_clear(&err);
    st_suite *s = st_suite_parse(text, "t.suite", &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    return s;
}

START_TEST(a_suite_with_lists_comments_and_continuations_parses)
{
    st_suite *s = parse_ok("; comment\n[suite]\nname = demo\ndescription = d\n\n"
                           "[a]\nscenarios = azure-new, wrong-host\nstores = root-g2\n"
                           "  wrong-root\nsslmodes = require verify-full ; a comment\n");
    ck_assert_str_eq(st_suite_name(s), "demo");
    st_suite_free(s);
}
END_TEST

static const struct {
    const char *text;
    const char *message; /* substring of the error */
} bad_suites[] = {
    {"[a]\nscenarios = x\nstores = y\nsslmodes = require\n", "needs a [suite] section"},
    {"[suite]\nname = n\n", "no case blocks"},
    {"[suite]\nname = n\nname = m\n[a]\nscenarios=x\nstores=y\nsslmodes=require\n", ":3: [suite]: key \"name\" given twice"},
    {"[suite]\nname = n\ncolour = red\n", ":3: [suite]: unknown key \"colour\""},
    {"[suite]\nname =\n", ":2: [suite]: key \"name\" has an empty value"},
    {"[suite]\ndescription = x\n[a]\nscenarios=x\nstores=y\nsslmodes=require\n", "name = ..."},
    {"name = n\n", "outside a section"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\n", "[a] needs \"sslmodes\""},
    {"[suite]\nname = n\n[a]\nstores = y\nsslmodes = require\n", "[a] needs \"scenarios\""},
    {"[suite]\nname = n\n[a]\nscenarios = y\nsslmodes = require\n", "[a] needs \"stores\""},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = required\n", ":6: sslmodes: \"required\" is not an sslmode"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nsslnegotiation = tcp\n", ":7: sslnegotiation: \"tcp\""},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nchannel_binding = always\n", "channel_binding: \"always\""},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nssl_min_protocol_version = TLSv1.4\n", "ssl_min_protocol_version: \"TLSv1.4\""},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nssl_max_protocol_version = SSLv3\n", "ssl_max_protocol_version: \"SSLv3\""},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nsslsni = yes\n", "sslsni: \"yes\""},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nhome = ~/.postgresql/root.crt\n", "home: \"~/.postgresql/root.crt\" is not root.crt:<store>"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nhome = root.crt:\n", "home: \"root.crt:\""},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\ntoken = stale\n", "token: \"stale\" is not a token case"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nsslmode = require\n", "unknown key \"sslmode\" in [a]"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nscenarios = z\n", ":5: key \"scenarios\" given twice in [a]"},
    {"[suite]\nname = n\n[a]\nscenarios =\n", "key \"scenarios\" in [a] has an empty value"},
    {"[suite]\nname = n\n[a]\nscenarios = ,,\n", "lists nothing"},
    {"[suite]\nname = n\n[a]\nscenarios = x\n[b]\nscenarios = x\n[a]\nstores = y\n", ":8: section [a] appears twice"},
    {"[suite]\nname = n\n[a]\nthis line is not ini\n", ":4: not a key = value line"},
    {"[suite]\nname = n\n[a]\nquery = SELECT 1\n  SELECT 2\n", "does not take continuation lines"},
    {"[suite]\nname = n\n[a]\nscenarios = x\n  bogus,\nstores = y\nsslmodes = require\n  sometimes\n", ":8: sslmodes: \"sometimes\""},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nsource = ftp://x\n", ":7: source: \"ftp://x\" is not one http(s) URL"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nsource = https://a b\n", "is not one http(s) URL"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nsource = https://\n", "source: \"https://\" is not one http(s) URL"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nsource = https://a\nsource = https://b\n", ":8: key \"source\" given twice in [a]"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nsource =\n", "key \"source\" in [a] has an empty value"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nsource = https://a\n  https://b\n", "does not take continuation lines"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nreported = fine\n", ":7: reported: \"fine\" is not an outcome class"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nreported =\n", "key \"reported\" in [a] has an empty value"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nreported = untrusted-chain\nreported = expired\n", "key \"reported\" given twice"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nreported = untrusted-chain expired\n", "reported: \"untrusted-chain expired\" is not an outcome class"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nclients = Node.PG\n", ":7: clients: \"Node.PG\" is not an adapter name"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nclients = pgx\n  B!\n", ":8: clients: \"B!\" is not an adapter name"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nclients = ,,\n", "key \"clients\" in [a] lists nothing"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nclients =\n", "key \"clients\" in [a] has an empty value"},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nsource = https://a\n", "[a] is a field case block (it has source, reported or clients) and needs \"reported\""},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nsource = https://a\nreported = expired\n", "needs \"clients\""},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nreported = expired\nclients = pgx\n", "needs \"source\""},
    {"[suite]\nname = n\n[a]\nscenarios = x\nstores = y\nsslmodes = require\nclients = pgx\n", "needs \"source\""},
    {"[suite]\nname = n\n[my block]\nscenarios = x\nstores = y\nsslmodes = require\nsource = https://a\nreported = expired\nclients = pgx\n", "[my block]: a field case block's name goes into case ids"},
    {"[suite]\nname = n\n[a]\nscenarios = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", ":4: line longer than 199"},
};

START_TEST(a_bad_suite_is_rejected_with_a_message_naming_the_line_and_key)
{
    pgtls_err err;
    err_clear(&err);
    st_suite *s = st_suite_parse(bad_suites[_i].text, "t.suite", &err);
    ck_assert_msg(s == NULL, "row %d parsed", _i);
    ck_assert_msg(strstr(err.msg, bad_suites[_i].message) != NULL, "row %d: \"%s\" lacks \"%s\"",
                  _i, err.msg, bad_suites[_i].message);
    ck_assert_msg(strstr(err.msg, "t.suite") != NULL, "row %d: no origin in \"%s\"", _i, err.msg);
}
END_TEST

START_TEST(a_missing_suite_file_is_a_clear_error)
{
    pgtls_err err;
    err_clear(&err);
    ck_assert_ptr_null(st_suite_load("/nonexistent/x.suite", &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/x.suite"));
}
END_TEST

START_TEST(the_shipped_default_suite_parses)
{
    pgtls_err err;
    err_clear(&err);
    st_suite *s = st_suite_load(st_default_suite_path(), &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert_str_eq(st_suite_name(s), "default");
    st_suite_free(s);
}
END_TEST

START_TEST(expansion_crosses_every_axis_with_stable_sorted_ids)
{
    fixture f = fx_setup();
    pgtls_err err;
    st_case_list l;
    st_suite *s = parse_ok("[suite]\nname=n\n[a]\nscenarios = azure-new wrong-host\n"
                           "stores = root-g2 wrong-root\nsslmodes = require verify-full\n"
                           "sslnegotiation = default direct\n[b]\nscenarios = azure-new\n"
                           "stores = root-g2\nsslmodes = require\n");
    err_clear(&err);
    ck_assert_msg(st_expand(s, f.idx, &l, &err) == 0, "%s", err.msg);
    /* 2 x 2 x 2 x 2 = 16; block b duplicates one case of a. */
    ck_assert_uint_eq(l.num_cases, 16);
    for (size_t i = 1; i < l.num_cases; i++)
        ck_assert(strcmp(l.cases[i - 1].id, l.cases[i].id) < 0);
    const st_case *c = st_case_find(&l, "azure-new/root-g2/require/sslnegotiation=direct");
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(c->sslnegotiation, "direct");
    ck_assert_str_eq(c->verify, "ok");
    ck_assert_int_eq(c->root_kind, ST_ROOT_FILE);
    ck_assert(c->sslrootcert[0] == '/');
    ck_assert_ptr_nonnull(strstr(c->truststore_p12, "stores/root-g2.p12"));
    ck_assert_str_eq(c->truststore_password, "changeit");
    ck_assert_str_eq(c->host, "db.example.com");
    c = st_case_find(&l, "wrong-host/wrong-root/verify-full");
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(c->sslnegotiation);
    ck_assert_int_eq(c->host_match, 0);
    ck_assert_str_eq(c->verify, "untrusted");
    ck_assert_ptr_null(st_case_find(&l, "nope"));
    st_case_list_cleanup(&l);
    st_suite_free(s);
    fx_teardown(&f);
}
END_TEST

START_TEST(the_surfaces_axis_crosses_every_case_and_names_it_in_the_id)
{
    fixture f = fx_setup();
    pgtls_err err;
    st_case_list l;
    st_suite *s = parse_ok("[suite]\nname=n\n[a]\nscenarios = azure-new\n"
                           "stores = root-g2 wrong-root\nsslmodes = verify-full\n"
                           "home = default root.crt:wrong-root\n"
                           "surfaces = default url url+env\n");
    err_clear(&err);
    ck_assert_msg(st_expand(s, f.idx, &l, &err) == 0, "%s", err.msg);
    /* 2 stores x 2 homes x 3 surfaces */
    ck_assert_uint_eq(l.num_cases, 12);
    const st_case *c = st_case_find(&l, "azure-new/root-g2/verify-full");
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(c->surface);
    json_t *o = st_case_to_json(c);
    ck_assert_ptr_null(json_object_get(o, "surface")); /* default cases stay as they were */
    json_decref(o);
    c = st_case_find(&l, "azure-new/wrong-root/verify-full/home=root.crt:wrong-root/surface=url+env");
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(c->surface, "url+env");
    ck_assert_str_eq(c->home_root_crt_store, "wrong-root");
    o = st_case_to_json(c);
    ck_assert_str_eq(json_string_value(json_object_get(o, "surface")), "url+env");
    json_decref(o);
    st_case_list_cleanup(&l);
    st_suite_free(s);

    /* A source-page block: the literal as written, its files replaced. */
    s = parse_ok("[suite]\nname=n\n[page-one]\nscenarios = azure-new\nstores = root-g2\n"
                 "sslmodes = verify-full\nsurfaces = conninfo\npage = A page title\n"
                 "literal = sslmode=verify-full sslrootcert=c:\\ssl\\Root.crt.pem dbname=postgres\n"
                 "files = c:\\ssl\\Root.crt.pem:root-g2\n");
    err_clear(&err);
    ck_assert_msg(st_expand(s, f.idx, &l, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(l.num_cases, 1);
    c = &l.cases[0];
    ck_assert_str_eq(c->id, "azure-new/root-g2/verify-full/surface=conninfo/page=page-one");
    ck_assert_str_eq(c->page, "A page title");
    ck_assert_str_eq(c->literal_as_written,
                     "sslmode=verify-full sslrootcert=c:\\ssl\\Root.crt.pem dbname=postgres");
    ck_assert_ptr_null(strstr(c->literal, "c:\\ssl"));
    ck_assert_ptr_nonnull(strstr(c->literal, "stores/root-g2.pem dbname=postgres"));
    st_case_list_cleanup(&l);
    st_suite_free(s);
    fx_teardown(&f);
}
END_TEST

START_TEST(a_bad_surface_or_source_page_block_is_one_clear_error)
{
    static const char *const bad[][2] = {
        {"[suite]\nname=n\n[a]\nscenarios=x\nstores=y\nsslmodes=require\nsurfaces=uri\n",
         "t.suite:7: surfaces: \"uri\" is not a surface"},
        {"[suite]\nname=n\n[a]\nscenarios=x\nstores=y\nsslmodes=require\nliteral=host=x\n",
         "\"literal\" and \"page\" go together"},
        {"[suite]\nname=n\n[a]\nscenarios=x\nstores=y\nsslmodes=require\nliteral=host=x\n"
         "page=P\nsurfaces=url conninfo\n",
         "needs exactly one surface"},
        {"[suite]\nname=n\n[a]\nscenarios=x\nstores=y\nsslmodes=require\nliteral=host=x\n"
         "page=P\nsurfaces=conninfo\nfiles=nostore\n",
         "files: \"nostore\" is not <file name>:<store>"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pgtls_err err;
        err_clear(&err);
        st_suite *s = st_suite_parse(bad[i][0], "t.suite", &err);
        ck_assert_msg(s == NULL, "case %zu parsed", i);
        ck_assert_msg(strstr(err.msg, bad[i][1]) != NULL, "case %zu: %s", i, err.msg);
    }
}
END_TEST

START_TEST(the_shipped_surfaces_and_source_pages_suites_parse)
{
    static const char *const names[] = {"suites/surfaces.suite", "suites/source-pages.suite"};
    for (size_t i = 0; i < 2; i++) {
        pgtls_err err;
        char *p = ts_source_path(names[i]);
        err_clear(&err);
        st_suite *s = st_suite_load(p, &err);
        ck_assert_msg(s != NULL, "%s", err.msg);
        st_suite_free(s);
        free(p);
    }
}
END_TEST

START_TEST(special_stores_set_the_root_kind_and_paths)
{
    fixture f = fx_setup();
    pgtls_err err;
    st_case_list l;
    st_suite *s = parse_ok("[suite]\nname=n\n[a]\nscenarios = azure-new\n"
                           "stores = none missing empty system\nsslmodes = verify-full\n"
                           "[h]\nscenarios = azure-new\nstores = none\nsslmodes = require\n"
                           "home = root.crt:wrong-root root.crt:empty\n");
    err_clear(&err);
    ck_assert_msg(st_expand(s, f.idx, &l, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(l.num_cases, 6);
    const st_case *c = st_case_find(&l, "azure-new/none/verify-full");
    ck_assert_int_eq(c->root_kind, ST_ROOT_UNSET);
    ck_assert_ptr_null(c->sslrootcert);
    c = st_case_find(&l, "azure-new/missing/verify-full");
    ck_assert_int_eq(c->root_kind, ST_ROOT_MISSING);
    ck_assert_ptr_nonnull(strstr(c->sslrootcert, "stores/missing.pem"));
    ck_assert_str_eq(c->verify, "no-file");
    c = st_case_find(&l, "azure-new/empty/verify-full");
    ck_assert_int_eq(c->root_kind, ST_ROOT_EMPTY);
    c = st_case_find(&l, "azure-new/system/verify-full");
    ck_assert_int_eq(c->root_kind, ST_ROOT_SYSTEM);
    ck_assert_str_eq(c->sslrootcert, "system");
    ck_assert_ptr_nonnull(strstr(c->system_cert_file, "stores/system.pem"));
    ck_assert_ptr_nonnull(strstr(c->system_cert_dir, "stores/system.d"));
    c = st_case_find(&l, "azure-new/none/require/home=root.crt:wrong-root");
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(c->home_root_crt_store, "wrong-root");
    ck_assert_ptr_nonnull(strstr(c->home_root_crt_pem, "stores/wrong-root.pem"));
    ck_assert_str_eq(c->home_verify, "untrusted");
    ck_assert_int_eq(st_expect(c, 17).cls, ST_UNTRUSTED_CHAIN);
    c = st_case_find(&l, "azure-new/none/require/home=root.crt:empty");
    ck_assert_str_eq(c->home_verify, "empty");
    st_case_list_cleanup(&l);
    st_suite_free(s);
    fx_teardown(&f);
}
END_TEST

START_TEST(wildcards_select_every_scenario_store_and_sslmode)
{
    fixture f = fx_setup();
    pgtls_err err;
    st_case_list l;
    st_suite *s = parse_ok("[suite]\nname=n\n[a]\nscenarios = no-ssl\nstores = *\nsslmodes = all\n");
    err_clear(&err);
    ck_assert_msg(st_expand(s, f.idx, &l, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(l.num_cases, 5 * 6);
    st_case_list_cleanup(&l);
    st_suite_free(s);
    s = parse_ok("[suite]\nname=n\n[a]\nscenarios = *\nstores = root-g2\nsslmodes = disable\n");
    ck_assert_msg(st_expand(s, f.idx, &l, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(l.num_cases, 4); /* azure-new wrong-host no-ssl entra */
    st_case_list_cleanup(&l);
    st_suite_free(s);
    fx_teardown(&f);
}
END_TEST

static const struct {
    const char *block;
    const char *message;
} bad_expansions[] = {
    {"scenarios = nope\nstores = root-g2\nsslmodes = require\n", "unknown scenario \"nope\""},
    {"scenarios = azure-new\nstores = nope\nsslmodes = require\n", "unknown trust store \"nope\""},
    {"scenarios = wrong-host\nstores = system\nsslmodes = require\n", "declares no verify result for store system"},
    {"scenarios = azure-new\nstores = none\nsslmodes = require\nhome = root.crt:nope\n", "home=root.crt:nope names an unknown store"},
    {"scenarios = azure-new\nstores = none\nsslmodes = require\nhome = root.crt:missing\n", "a missing store cannot be copied"},
    {"scenarios = wrong-host\nstores = none\nsslmodes = require\nhome = root.crt:empty root.crt:system\n", "a system store cannot be copied"},
};

START_TEST(expansion_rejects_names_the_index_does_not_know)
{
    fixture f = fx_setup();
    pgtls_err err;
    st_case_list l = {(st_case *)1, 99};
    char *text = str_printf("[suite]\nname=n\n[blk]\n%s", bad_expansions[_i].block);
    st_suite *s = parse_ok(text);
    err_clear(&err);
    ck_assert_int_eq(st_expand(s, f.idx, &l, &err), -1);
    ck_assert_msg(strstr(err.msg, bad_expansions[_i].message) != NULL, "row %d: \"%s\"", _i,
                  err.msg);
    ck_assert_msg(strstr(err.msg, "[blk]") != NULL, "row %d: block not named: %s", _i, err.msg);
    ck_assert_ptr_null(l.cases);
    ck_assert_uint_eq(l.num_cases, 0);
    free(text);
    st_suite_free(s);
    fx_teardown(&f);
}
END_TEST

START_TEST(a_case_becomes_an_adapter_case_object)
{
    fixture f = fx_setup();
    pgtls_err err;
    st_case_list l;
    st_suite *s = parse_ok("[suite]\nname=n\n[a]\nscenarios = azure-new\nstores = root-g2\n"
                           "sslmodes = verify-full\nchannel_binding = require\nquery = SELECT 1\n");
    err_clear(&err);
    ck_assert_int_eq(st_expand(s, f.idx, &l, &err), 0);
    json_t *j = st_case_to_json(&l.cases[0]);
    ck_assert_str_eq(json_string_value(json_object_get(j, "id")),
                     "azure-new/root-g2/verify-full/channel_binding=require");
    ck_assert_str_eq(json_string_value(json_object_get(j, "sslmode")), "verify-full");
    ck_assert_str_eq(json_string_value(json_object_get(j, "channel_binding")), "require");
    ck_assert_str_eq(json_string_value(json_object_get(j, "query")), "SELECT 1");
    ck_assert(json_is_null(json_object_get(j, "sslnegotiation")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "user")), "pgtls");
    json_decref(j);
    st_case_list_cleanup(&l);
    st_suite_free(s);
    fx_teardown(&f);
}
END_TEST

START_TEST(token_cases_are_named_by_their_token_and_need_an_entra_scenario)
{
    fixture f = fx_setup();
    pgtls_err err;
    st_case_list l;
    st_suite *s = parse_ok("[suite]\nname=n\n[a]\nscenarios = entra\nstores = root-g2\n"
                           "sslmodes = verify-full\ntoken = default expired unknown-identity\n");
    err_clear(&err);
    ck_assert_int_eq(st_expand(s, f.idx, &l, &err), 0);
    ck_assert_uint_eq(l.num_cases, 3);
    ck_assert_str_eq(l.cases[0].id, "entra/root-g2/verify-full");
    ck_assert_ptr_null(l.cases[0].token);
    ck_assert_str_eq(l.cases[1].id, "entra/root-g2/verify-full/token=expired");
    ck_assert_str_eq(l.cases[1].token, "expired");
    ck_assert_str_eq(l.cases[2].id, "entra/root-g2/verify-full/token=unknown-identity");
    const char *fault = NULL, *who = NULL;
    ck_assert_int_eq(st_token_plan("expired", &fault, &who), 0);
    ck_assert_str_eq(fault, "expired");
    ck_assert_str_eq(who, "default");
    ck_assert_int_eq(st_token_plan("unknown-principal", &fault, &who), 0);
    ck_assert_str_eq(fault, "none");
    ck_assert_str_eq(who, "no-role");
    ck_assert_int_eq(st_token_plan("nope", &fault, &who), -1);
    st_case_list_cleanup(&l);
    st_suite_free(s);

    /* A token against a server that takes no tokens names the scenario. */
    s = parse_ok("[suite]\nname=n\n[a]\nscenarios = azure-new\nstores = root-g2\n"
                 "sslmodes = verify-full\ntoken = valid\n");
    err_clear(&err);
    ck_assert_int_eq(st_expand(s, f.idx, &l, &err), -1);
    ck_assert_msg(strstr(err.msg, "token=valid needs a scenario with auth=entra") &&
                      strstr(err.msg, "azure-new"),
                  "%s", err.msg);
    st_suite_free(s);
    fx_teardown(&f);
}
END_TEST

START_TEST(a_field_block_makes_cases_named_by_the_block_for_its_clients_only)
{
    fixture f = fx_setup();
    pgtls_err err;
    st_case_list l;
    st_suite *s = parse_ok("[suite]\nname=n\n[plain]\nscenarios = azure-new\nstores = root-g2\n"
                           "sslmodes = require\n[report-1]\nsource = https://example.org/issues/1\n"
                           "reported = untrusted-chain\nclients = pgx\n  pgjdbc\n"
                           "scenarios = azure-new\nstores = root-g2\nsslmodes = require\n");
    err_clear(&err);
    ck_assert_msg(st_expand(s, f.idx, &l, &err) == 0, "%s", err.msg);
    /* The same settings in an ordinary and a field block give two cases. */
    ck_assert_uint_eq(l.num_cases, 2);
    const st_case *plain = st_case_find(&l, "azure-new/root-g2/require");
    const st_case *fc = st_case_find(&l, "azure-new/root-g2/require/field=report-1");
    ck_assert_ptr_nonnull(plain);
    ck_assert_ptr_nonnull(fc);
    ck_assert_ptr_null(plain->field_source);
    ck_assert_ptr_null(st_field_verdict(plain, ST_CONNECTED_TLS));
    ck_assert_int_eq(st_case_applies_to(plain, "anything"), 1);
    ck_assert_str_eq(fc->field_source, "https://example.org/issues/1");
    ck_assert_str_eq(fc->field_block, "report-1");
    ck_assert_int_eq(fc->field_reported, ST_UNTRUSTED_CHAIN);
    ck_assert_uint_eq(fc->num_field_clients, 2);
    ck_assert_int_eq(st_case_applies_to(fc, "pgx"), 1);
    ck_assert_int_eq(st_case_applies_to(fc, "pgjdbc"), 1);
    ck_assert_int_eq(st_case_applies_to(fc, "libpq"), 0);
    ck_assert_int_eq(st_case_applies_to(fc, NULL), 0);
    ck_assert_str_eq(st_field_verdict(fc, ST_UNTRUSTED_CHAIN), "reproduces");
    ck_assert_str_eq(st_field_verdict(fc, ST_CONNECTED_TLS), "no-longer-reproduces");
    ck_assert_str_eq(st_field_verdict(fc, ST_UNSUPPORTED), "not-tested");
    /* The settings the adapter gets are those of the ordinary case. */
    ck_assert_str_eq(fc->sslmode, "require");
    ck_assert_str_eq(fc->sslrootcert, plain->sslrootcert);
    st_case_list_cleanup(&l);
    st_suite_free(s);
    fx_teardown(&f);
}
END_TEST

START_TEST(the_shipped_field_cases_suite_parses_and_every_block_has_a_source)
{
    pgtls_err err;
    char *path = strdup(st_default_suite_path());
    char *slash = strrchr(path, '/');
    char *fc_path;
    char *text = NULL;
    *slash = '\0';
    fc_path = str_printf("%s/field-cases.suite", path);
    err_clear(&err);
    st_suite *s = st_suite_load(fc_path, &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert_str_eq(st_suite_name(s), "field-cases");
    /* The parser rejects a field block without source/reported/clients;
     * here: no ordinary block slipped in (each section has a source line). */
    ck_assert_int_eq(fs_read_file(fc_path, 1 << 20, &text, NULL, &err), 0);
    size_t sections = 0, sources = 0;
    for (const char *p = text; (p = strstr(p, "\n[")); p++)
        sections++;
    for (const char *p = text; (p = strstr(p, "\nsource = https://")); p++)
        sources++;
    ck_assert_uint_ge(sources, 30); /* the 30 shipped reports */
    ck_assert_uint_eq(sections, sources + 1); /* + [suite] */
    free(text);
    st_suite_free(s);
    free(fc_path);
    free(path);
}
END_TEST

Suite *st_suite_suite(void)
{
    Suite *s = suite_create("st_suite");
    TCase *tc = tcase_create("the suite parser");
    tcase_add_test(tc, a_suite_with_lists_comments_and_continuations_parses);
    tcase_add_loop_test(tc, a_bad_suite_is_rejected_with_a_message_naming_the_line_and_key, 0,
                        (int)(sizeof(bad_suites) / sizeof(bad_suites[0])));
    tcase_add_test(tc, a_missing_suite_file_is_a_clear_error);
    tcase_add_test(tc, the_shipped_default_suite_parses);
    tcase_add_test(tc, the_shipped_field_cases_suite_parses_and_every_block_has_a_source);
    suite_add_tcase(s, tc);
    tc = tcase_create("case expansion");
    tcase_add_test(tc, expansion_crosses_every_axis_with_stable_sorted_ids);
    tcase_add_test(tc, special_stores_set_the_root_kind_and_paths);
    tcase_add_test(tc, wildcards_select_every_scenario_store_and_sslmode);
    tcase_add_loop_test(tc, expansion_rejects_names_the_index_does_not_know, 0,
                        (int)(sizeof(bad_expansions) / sizeof(bad_expansions[0])));
    tcase_add_test(tc, a_case_becomes_an_adapter_case_object);
    tcase_add_test(tc, token_cases_are_named_by_their_token_and_need_an_entra_scenario);
    tcase_add_test(tc, the_surfaces_axis_crosses_every_case_and_names_it_in_the_id);
    tcase_add_test(tc, a_bad_surface_or_source_page_block_is_one_clear_error);
    tcase_add_test(tc, the_shipped_surfaces_and_source_pages_suites_parse);
    tcase_add_test(tc, a_field_block_makes_cases_named_by_the_block_for_its_clients_only);
    suite_add_tcase(s, tc);
    return s;
}
