/* pgtls: unit tests of the results component: the matrix API, golden files
 * of every renderer, merge, diff and the report CLI.
 *
 * Regenerate the golden files after an intended output change with
 *   PGTLS_UPDATE_GOLDEN=1 build/tests/results-unit-tests
 * and review the diff (results/tests/golden/README.md). */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs.h"
#include "rs.h"
#include "rs_internal.h"
#include "support.h"

static rs_matrix *load_golden(void)
{
    pgtls_err err;
    char *p = ts_source_path("results/tests/golden/matrix.json");
    err_clear(&err);
    rs_matrix *m = rs_matrix_load(p, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    free(p);
    return m;
}

/* ---- matrix API ---- */

static st_case mkcase(const char *id, const char *scenario, const char *store, const char *mode)
{
    st_case c;
    memset(&c, 0, sizeof(c));
    c.id = (char *)id;
    c.scenario = (char *)scenario;
    c.store = (char *)store;
    c.sslmode = (char *)mode;
    c.root_kind = ST_ROOT_FILE;
    c.server_ssl = 1;
    c.require_secure_transport = 1;
    c.host_match = 1;
    c.server_min_protocol = (char *)"TLSv1.2";
    c.server_max_protocol = (char *)"";
    c.server_auth = (char *)"scram-sha-256";
    return c;
}

static json_t *js(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    ck_assert_msg(j != NULL, "%s", je.text);
    return j;
}

/* rs_matrix_record of the judgement st_judge gives for the client's libpq. */
static int record(rs_matrix *m, int client, const st_case *c, json_t *result, json_t *events,
                  long long elapsed_ms, const char *repro, const st_deviations *d, pgtls_err *err)
{
    st_judgement j = st_judge(c, rs_matrix_client_libpq(m, client), events, result, d);
    return rs_matrix_record(m, client, c, &j, result, events, elapsed_ms, repro, err);
}

START_TEST(the_runner_builds_a_matrix_incrementally_and_writes_it_atomically)
{
    pgtls_err err;
    rs_run_info info = {"host-a", "default", "/fx", "cafe", "pgtls run", NULL, NULL};
    char *dir = ts_tmpdir_new("rs");
    char *path = fs_join(dir, "matrix.json");
    err_clear(&err);
    rs_matrix *m = rs_matrix_new(&info, &err);
    ck_assert_ptr_nonnull(m);
    json_t *hello = js("{\"protocol\":1,\"client\":\"psql\",\"version\":\"15.18\","
                       "\"libpq\":\"150018\",\"tls_library\":\"OpenSSL 3.0.15\"}");
    int client = rs_matrix_add_client(m, hello, &err);
    ck_assert_int_eq(client, 0);
    ck_assert_int_eq(rs_matrix_add_client(m, hello, &err), 0); /* same build, same column */
    ck_assert_str_eq(rs_matrix_client_key(m, 0), "psql 15.18 | libpq 150018 | OpenSSL 3.0.15");
    json_t *bad = js("{\"version\":\"1\"}");
    ck_assert_int_eq(rs_matrix_add_client(m, bad, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"client\""));

    st_case c1 = mkcase("b-scn/root/verify-ca", "b-scn", "root", "verify-ca");
    c1.verify = (char *)"untrusted";
    st_case c2 = mkcase("a-scn/root/require", "a-scn", "root", "require");
    c2.verify = (char *)"ok";
    json_t *r1 = js("{\"id\":\"b\",\"connected\":false,\"error\":\"SSL error: certificate verify failed\"}");
    json_t *e1 = js("[{\"ssl_response\":\"S\",\"handshake\":\"failed\",\"client_alert\":\"unknown_ca\"}]");
    json_t *r2 = js("{\"id\":\"a\",\"connected\":false,\"error\":\"server certificate for \\\"x\\\" does not match host name \\\"y\\\"\"}");
    ck_assert_int_eq(record(m, client, &c1, r1, e1, 7, "repro 1", NULL, &err), ST_CONFORMS);
    ck_assert_int_eq(record(m, client, &c2, r2, NULL, 8, NULL, NULL, &err), ST_FAILS);
    ck_assert_int_eq(record(m, 5, &c2, r2, NULL, 8, NULL, NULL, &err), -1);
    rs_matrix_set_incomplete(m, 1);
    ck_assert_int_eq(rs_matrix_write(m, path, &err), 0);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0644);

    rs_matrix *back = rs_matrix_load(path, &err);
    ck_assert_msg(back != NULL, "%s", err.msg);
    json_t *doc = rs_matrix_json(back);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "schema")), "pgtls-matrix/1");
    json_t *run = json_object_get(doc, "run");
    ck_assert(json_is_true(json_object_get(run, "incomplete")));
    ck_assert_str_eq(json_string_value(json_object_get(run, "host")), "host-a");
    ck_assert_str_eq(json_string_value(json_object_get(run, "fixtures_sha256")), "cafe");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(run, "ended_at")));
    json_t *cases = json_object_get(doc, "cases");
    ck_assert_uint_eq(json_array_size(cases), 2);
    /* sorted by id */
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cases, 0), "id")),
                     "a-scn/root/require");
    json_t *res = json_object_get(json_object_get(json_array_get(cases, 1), "results"),
                                  "psql 15.18 | libpq 150018 | OpenSSL 3.0.15");
    ck_assert_str_eq(json_string_value(json_object_get(res, "expected")), "untrusted-chain");
    ck_assert_str_eq(json_string_value(json_object_get(res, "observed")), "untrusted-chain");
    ck_assert_str_eq(json_string_value(json_object_get(res, "verdict")), "conforms");
    ck_assert_str_eq(json_string_value(json_object_get(res, "repro")), "repro 1");
    ck_assert_int_eq(json_integer_value(json_object_get(res, "elapsed_ms")), 7);
    ck_assert_uint_eq(json_array_size(json_object_get(res, "events")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(res, "error")),
                     "SSL error: certificate verify failed");
    rs_matrix_free(back);
    json_decref(hello);
    json_decref(bad);
    json_decref(r1);
    json_decref(e1);
    json_decref(r2);
    rs_matrix_free(m);
    free(path);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(a_known_deviation_is_recorded_as_such_never_as_a_pass)
{
    pgtls_err err;
    err_clear(&err);
    rs_matrix *m = rs_matrix_new(NULL, &err);
    json_t *hello = js("{\"client\":\"node-postgres\",\"version\":\"8.16.0\",\"libpq\":null}");
    int client = rs_matrix_add_client(m, hello, &err);
    st_deviations *d = st_deviations_parse(
        "[v]\nsource = https://x\nreason = r\nsslmodes = require\nobserved = hostname-mismatch\n",
        "d", &err);
    ck_assert_ptr_nonnull(d);
    st_case c = mkcase("wrong-host/root/require", "wrong-host", "root", "require");
    c.host_match = 0;
    c.verify = (char *)"ok";
    json_t *r = js("{\"connected\":false,\"error\":\"Hostname/IP does not match certificate's altnames\"}");
    ck_assert_int_eq(record(m, client, &c, r, NULL, 1, NULL, d, &err), ST_DEVIATION_KNOWN);
    json_t *res = json_object_get(
        json_object_get(json_array_get(json_object_get(rs_matrix_json(m), "cases"), 0), "results"),
        rs_matrix_client_key(m, client));
    ck_assert_str_eq(json_string_value(json_object_get(res, "verdict")), "deviation-known");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(res, "deviation"), "name")), "v");
    json_decref(r);
    json_decref(hello);
    st_deviations_free(d);
    rs_matrix_free(m);
}
END_TEST

START_TEST(a_field_case_row_carries_its_source_reported_class_and_field_verdict)
{
    pgtls_err err;
    err_clear(&err);
    rs_matrix *m = rs_matrix_new(NULL, &err);
    json_t *hello = js("{\"client\":\"sqlx\",\"version\":\"0.8.6\",\"libpq\":null}");
    int client = rs_matrix_add_client(m, hello, &err);
    char *clients[] = {(char *)"sqlx"};
    st_case fc = mkcase("azure-new/wrong-root/require/field=r1", "azure-new", "wrong-root",
                        "require");
    fc.verify = (char *)"untrusted";
    fc.field_block = (char *)"r1";
    fc.field_source = (char *)"https://example.org/issues/879";
    fc.field_reported = ST_CONNECTED_TLS;
    fc.field_clients = clients;
    fc.num_field_clients = 1;
    st_case fc2 = fc;
    fc2.id = (char *)"azure-new/wrong-root/require/field=r2";
    fc2.field_reported = ST_UNTRUSTED_CHAIN;
    st_case plain = mkcase("azure-new/wrong-root/require", "azure-new", "wrong-root", "require");
    plain.verify = (char *)"untrusted";
    json_t *r = js("{\"connected\":true,\"tls\":true,\"query_result\":\"t\"}");
    /* The libpq verdict is unchanged: libpq would refuse the wrong root. */
    ck_assert_int_eq(record(m, client, &fc, r, NULL, 1, NULL, NULL, &err), ST_FAILS);
    ck_assert_int_eq(record(m, client, &fc2, r, NULL, 1, NULL, NULL, &err), ST_FAILS);
    ck_assert_int_eq(record(m, client, &plain, r, NULL, 1, NULL, NULL, &err), ST_FAILS);
    json_t *cases = json_object_get(rs_matrix_json(m), "cases");
    const char *key = rs_matrix_client_key(m, client);
    json_t *res_plain = json_object_get(json_object_get(json_array_get(cases, 0), "results"), key);
    json_t *res1 = json_object_get(json_object_get(json_array_get(cases, 1), "results"), key);
    json_t *res2 = json_object_get(json_object_get(json_array_get(cases, 2), "results"), key);
    ck_assert_ptr_null(json_object_get(res_plain, "reported"));
    ck_assert_ptr_null(json_object_get(res_plain, "field"));
    ck_assert_str_eq(json_string_value(json_object_get(res1, "source")),
                     "https://example.org/issues/879");
    ck_assert_str_eq(json_string_value(json_object_get(res1, "reported")), "connected-tls");
    ck_assert_str_eq(json_string_value(json_object_get(res1, "field")), "reproduces");
    ck_assert_str_eq(json_string_value(json_object_get(res1, "verdict")), "fails");
    ck_assert_str_eq(json_string_value(json_object_get(res2, "field")), "no-longer-reproduces");
    ck_assert_str_eq(json_string_value(json_object_get(res2, "observed")), "connected-tls");

    char *md = rs_render_markdown(m, &err);
    ck_assert_ptr_nonnull(md);
    ck_assert_ptr_nonnull(strstr(md, "## Field cases"));
    ck_assert_ptr_nonnull(strstr(md, "| `azure-new/wrong-root/require/field=r1` | sqlx | "
                                     "https://example.org/issues/879 | connected-tls | "
                                     "connected-tls | reproduces |"));
    ck_assert_ptr_nonnull(strstr(md, "| `azure-new/wrong-root/require/field=r2` | sqlx | "
                                     "https://example.org/issues/879 | untrusted-chain | "
                                     "connected-tls | no-longer-reproduces |"));
    ck_assert_ptr_null(strstr(md, "| `azure-new/wrong-root/require` | sqlx | https"));
    free(md);
    json_decref(r);
    json_decref(hello);
    rs_matrix_free(m);
}
END_TEST

START_TEST(a_matrix_without_field_cases_has_no_field_section)
{
    pgtls_err err;
    err_clear(&err);
    rs_matrix *m = load_golden();
    char *md = rs_render_markdown(m, &err);
    ck_assert_ptr_nonnull(md);
    ck_assert_ptr_null(strstr(md, "Field cases"));
    free(md);
    rs_matrix_free(m);
}
END_TEST

START_TEST(the_surfaces_section_lists_intents_whose_surfaces_disagree)
{
    pgtls_err err;
    json_t *doc = js(
        "{\"clients\":[{\"key\":\"drv 1 | no libpq | X\",\"client\":\"drv\"}],\"cases\":["
        "{\"id\":\"s/wrong-root/verify-full\",\"results\":{\"drv 1 | no libpq | X\":"
        "{\"verdict\":\"conforms\",\"expected\":\"untrusted-chain\",\"observed\":\"untrusted-chain\"}}},"
        "{\"id\":\"s/wrong-root/verify-full/surface=env\",\"surface\":\"env\",\"results\":"
        "{\"drv 1 | no libpq | X\":{\"verdict\":\"fails\",\"expected\":\"untrusted-chain\","
        "\"observed\":\"connected-tls\"}}},"
        "{\"id\":\"s/wrong-root/verify-full/surface=conninfo\",\"surface\":\"conninfo\","
        "\"results\":{\"drv 1 | no libpq | X\":{\"verdict\":\"unsupported\","
        "\"expected\":\"untrusted-chain\",\"observed\":\"unsupported\"}}},"
        "{\"id\":\"s/root/verify-full\",\"results\":{\"drv 1 | no libpq | X\":"
        "{\"verdict\":\"conforms\",\"expected\":\"connected-tls\",\"observed\":\"connected-tls\"}}},"
        "{\"id\":\"s/root/verify-full/surface=url\",\"surface\":\"url\",\"results\":"
        "{\"drv 1 | no libpq | X\":{\"verdict\":\"conforms\",\"expected\":\"connected-tls\","
        "\"observed\":\"connected-tls\"}}},"
        "{\"id\":\"s/root/verify-full/surface=env\",\"surface\":\"env\",\"results\":"
        "{\"drv 1 | no libpq | X\":{\"verdict\":\"unsupported\",\"expected\":\"connected-tls\","
        "\"observed\":\"unsupported\"}}}]}");
    err_clear(&err);
    char *md = rs_render_surfaces_markdown(doc, &err);
    ck_assert_msg(md != NULL, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(md, "## Where surfaces disagree"));
    ck_assert_ptr_nonnull(strstr(md, "### drv 1 \\| no libpq \\| X"));
    ck_assert_ptr_nonnull(strstr(md, "| `s/wrong-root/verify-full` | untrusted-chain | "
                                     "default: untrusted-chain, env: connected-tls, conninfo: "
                                     "unsupported |"));
    /* Agreeing surfaces (an unsupported one apart) make no row. */
    ck_assert_ptr_null(strstr(md, "`s/root/verify-full`"));
    free(md);
    json_decref(doc);

    /* A matrix without surfaces renders no section, in summary.md either. */
    rs_matrix *m = load_golden();
    md = rs_render_markdown(m, &err);
    ck_assert_ptr_nonnull(md);
    ck_assert_ptr_null(strstr(md, "Where surfaces disagree"));
    free(md);
    rs_matrix_free(m);
}
END_TEST

typedef struct worker_arg {
    rs_matrix *m;
    int client;
    int worker;
    const char *path;
    int failures;
} worker_arg;

static void *record_many(void *p)
{
    worker_arg *a = p;
    pgtls_err err;
    json_t *res = json_pack("{s:b,s:b}", "connected", 1, "tls", 1);
    for (int i = 0; i < 150; i++) {
        char id[64], scen[32];
        snprintf(scen, sizeof(scen), "s%d", a->worker);
        snprintf(id, sizeof(id), "s%d/root/require/%03d", a->worker, i);
        st_case c = mkcase(id, scen, "root", "require");
        c.verify = (char *)"ok";
        err_clear(&err);
        if (record(a->m, a->client, &c, res, NULL, i, NULL, NULL, &err) != ST_CONFORMS)
            a->failures++;
        if (i % 50 == 0 && rs_matrix_write(a->m, a->path, &err) < 0)
            a->failures++;
    }
    json_decref(res);
    return NULL;
}

START_TEST(runner_workers_may_record_and_write_concurrently)
{
    pgtls_err err;
    char *dir = ts_tmpdir_new("rsthr");
    char *path = fs_join(dir, "matrix.json");
    pthread_t t[4];
    worker_arg a[4];
    err_clear(&err);
    rs_matrix *m = rs_matrix_new(NULL, &err);
    json_t *hello = js("{\"client\":\"libpq\",\"version\":\"17\",\"libpq\":\"170002\"}");
    int client = rs_matrix_add_client(m, hello, &err);
    for (int i = 0; i < 4; i++) {
        a[i] = (worker_arg){m, client, i, path, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, record_many, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(a[i].failures, 0);
    }
    ck_assert_int_eq(rs_matrix_write(m, path, &err), 0);
    rs_matrix *back = rs_matrix_load(path, &err);
    ck_assert_msg(back != NULL, "%s", err.msg);
    ck_assert_uint_eq(json_array_size(json_object_get(rs_matrix_json(back), "cases")), 600);
    rs_matrix_free(back);
    json_decref(hello);
    rs_matrix_free(m);
    free(path);
    ts_tmpdir_remove(dir);
}
END_TEST

static const struct {
    const char *text;
    const char *message;
} bad_matrices[] = {
    {"{", "not JSON at line"},
    {"[]", "not a JSON object"},
    {"{}", "schema is missing"},
    {"{\"schema\":\"pgtls-matrix/0\"}", "schema is pgtls-matrix/0, expected pgtls-matrix/1"},
    {"{\"schema\":\"pgtls-matrix/1\",\"run\":{}}", "needs \"run\" (object), \"clients\" and \"cases\""},
    {"{\"schema\":\"pgtls-matrix/1\",\"run\":{},\"clients\":[{}],\"cases\":[]}", "clients[0] has no \"key\""},
    {"{\"schema\":\"pgtls-matrix/1\",\"run\":{},\"clients\":[],\"cases\":[{\"id\":\"x\"}]}", "cases[0] needs \"id\" and a \"results\" object"},
    {"{\"schema\":\"pgtls-matrix/1\",\"run\":{},\"clients\":[],\"cases\":[{\"id\":\"x\",\"results\":{\"k\":{\"verdict\":\"great\"}}}]}", "result for \"k\" needs a valid \"verdict\""},
};

START_TEST(a_malformed_matrix_is_one_clear_error)
{
    pgtls_err err;
    char *dir = ts_tmpdir_new("rsbad");
    char *p = ts_write_text(dir, "m.json", bad_matrices[_i].text);
    err_clear(&err);
    ck_assert_ptr_null(rs_matrix_load(p, &err));
    ck_assert_msg(strstr(err.msg, bad_matrices[_i].message) != NULL, "row %d: %s", _i, err.msg);
    ck_assert_ptr_null(strchr(err.msg, '\n'));
    free(p);
    ck_assert_ptr_null(rs_matrix_load("/nonexistent/m.json", &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "no such file"));
    ts_tmpdir_remove(dir);
}
END_TEST

/* ---- golden files ---- */

static void check_golden(const char *name, char *text)
{
    char *rel = str_printf("results/tests/golden/%s", name);
    char *path = ts_source_path(rel);
    pgtls_err err;
    char *want = NULL;
    size_t want_len = 0;

    err_clear(&err);
    ck_assert_ptr_nonnull(text);
    if (getenv("PGTLS_UPDATE_GOLDEN")) {
        ck_assert_int_eq(fs_write_file(path, text, strlen(text), 0644, &err), 0);
    } else {
        ck_assert_msg(fs_read_file(path, 0, &want, &want_len, &err) == 0, "%s", err.msg);
        if (strcmp(want, text) != 0) {
            size_t i = 0;
            while (want[i] && want[i] == text[i])
                i++;
            ck_abort_msg("%s differs from the golden file at byte %zu (got \"%.60s\", want "
                         "\"%.60s\"); if intended, regenerate with PGTLS_UPDATE_GOLDEN=1",
                         name, i, text + i, want + i);
        }
    }
    free(want);
    free(text);
    free(path);
    free(rel);
}

static char *dump_of(rs_matrix *m);

START_TEST(each_renderer_matches_its_golden_file)
{
    pgtls_err err;
    rs_matrix *m = load_golden();
    err_clear(&err);
    check_golden("summary.md", rs_render_markdown(m, &err));
    check_golden("matrix.csv", rs_render_csv(m, &err));
    check_golden("junit.xml", rs_render_junit(m, &err));
    check_golden("matrix.html", rs_render_html(m, &err));
    check_golden("rotation.md", rs_render_rotation_markdown(m, &err));
    check_golden("heatmap.svg", rs_render_heatmap_svg(m, &err));
    check_golden("readiness.svg", rs_render_readiness_svg(m, &err));
    rs_matrix_free(m);
}
END_TEST

START_TEST(a_matrix_round_trips_through_load_and_write)
{
    rs_matrix *m = load_golden();
    check_golden("matrix.json", dump_of(m));
    rs_matrix_free(m);
}
END_TEST

START_TEST(render_all_writes_every_format)
{
    pgtls_err err;
    char *dir = ts_tmpdir_new("rsall");
    char *out = fs_join(dir, "out/deeper");
    rs_matrix *m = load_golden();
    static const char *const files[] = {"matrix.json", "summary.md",  "matrix.html",
                                        "junit.xml",   "matrix.csv",  "rotation.md",
                                        "heatmap.svg", "readiness.svg"};
    err_clear(&err);
    ck_assert_msg(rs_render_all(m, out, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *p = fs_join(out, files[i]);
        ck_assert_msg(fs_exists(p), "%s missing", files[i]);
        free(p);
    }
    rs_matrix_free(m);
    free(out);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(the_html_page_needs_no_network_and_cannot_be_broken_out_of)
{
    pgtls_err err;
    rs_matrix *m = load_golden();
    err_clear(&err);
    char *html = rs_render_html(m, &err);
    ck_assert_ptr_null(strstr(html, "http://"));
    ck_assert_ptr_null(strstr(html, "src="));
    ck_assert_ptr_null(strstr(html, "<link"));
    /* The golden data has an error text with </script>: it must be escaped. */
    const char *data = strstr(html, "id=\"matrix-data\">");
    ck_assert_ptr_nonnull(data);
    const char *end = strstr(data, "</script>");
    ck_assert_ptr_nonnull(end);
    ck_assert_ptr_nonnull(strstr(data, "\\u003c/script>"));
    ck_assert(strstr(data, "\\u003c/script>") < end);
    free(html);
    rs_matrix_free(m);
}
END_TEST

/* Fields of the wrong type (a hand-edited or foreign matrix) must render,
 * merge and diff without crashing (run under ASan/UBSan in CI). */
static const char *const wrong_types[] = {
    "{\"clients\":[{\"key\":\"k\",\"client\":42,\"version\":[]}],\"run\":{\"host\":7,"
    "\"sources\":{},\"incomplete\":\"yes\"}}",
    "{\"cases\":[{\"id\":\"x/y/z\",\"scenario\":1,\"store\":null,\"sslmode\":{},\"options\":\"o\","
    "\"results\":{\"k\":{\"verdict\":\"fails\",\"error\":5,\"elapsed_ms\":\"slow\",\"events\":{},"
    "\"deviation\":\"d\",\"observed\":[],\"expected\":null}}}],"
    "\"clients\":[{\"key\":\"k\"}]}",
    "{\"cases\":[{\"id\":\"a\",\"scenario\":\"azure-old-longer-than-the-id\",\"results\":{}}],"
    "\"clients\":[]}",
};

START_TEST(a_matrix_with_fields_of_the_wrong_type_renders_without_crashing)
{
    pgtls_err err;
    json_error_t je;
    json_t *patch = json_loads(wrong_types[_i], 0, &je);
    ck_assert_msg(patch != NULL, "%s", je.text);
    json_t *doc = json_pack("{s:s,s:o,s:o,s:o}", "schema", "pgtls-matrix/1", "run",
                            json_object(), "clients", json_array(), "cases", json_array());
    json_object_update(doc, patch);
    err_clear(&err);
    rs_matrix *m = rs_matrix_from_json(doc, "wrong", &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    char *outs[] = {rs_render_markdown(m, &err), rs_render_csv(m, &err),
                    rs_render_junit(m, &err), rs_render_html(m, &err),
                    rs_render_rotation_markdown(m, &err)};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_ptr_nonnull(outs[i]);
        free(outs[i]);
    }
    rs_matrix *in[] = {m, m};
    rs_matrix *merged = rs_matrix_merge(in, 2, &err);
    ck_assert_ptr_nonnull(merged);
    rs_diff_stats st;
    char *text = NULL;
    ck_assert_int_eq(rs_diff(m, merged, NULL, &text, &st, &err), 0);
    free(text);
    rs_matrix_free(merged);
    rs_matrix_free(m);
    json_decref(doc);
    json_decref(patch);
}
END_TEST

/* ---- merge ---- */

static rs_matrix *golden_with_host(const char *host)
{
    pgtls_err err;
    rs_matrix *g = load_golden();
    json_t *doc = json_deep_copy(rs_matrix_json(g));
    json_object_set_new(json_object_get(doc, "run"), "host", json_string(host));
    err_clear(&err);
    rs_matrix *m = rs_matrix_from_json(doc, host, &err);
    ck_assert_ptr_nonnull(m);
    json_decref(doc);
    rs_matrix_free(g);
    return m;
}

START_TEST(merge_makes_a_column_per_client_build_and_unions_cases)
{
    pgtls_err err;
    rs_matrix *a = golden_with_host("host-a"), *b = golden_with_host("host-b");
    json_t *bdoc = rs_matrix_json(b);
    /* b has one extra case */
    json_t *extra = json_deep_copy(json_array_get(json_object_get(bdoc, "cases"), 0));
    json_object_set_new(extra, "id", json_string("zz-extra/root-g2/require"));
    json_object_set_new(extra, "scenario", json_string("zz-extra"));
    json_array_append_new(json_object_get(bdoc, "cases"), extra);
    rs_matrix *b2 = rs_matrix_from_json(bdoc, "b2", &err);
    rs_matrix *in[] = {a, b2};
    err_clear(&err);
    rs_matrix *m = rs_matrix_merge(in, 2, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    json_t *doc = rs_matrix_json(m);
    json_t *clients = json_object_get(doc, "clients");
    ck_assert_uint_eq(json_array_size(clients), 4);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(clients, 2), "key")),
                     "psql 15.18 | libpq 150018 | OpenSSL 3.0.15 3 Sep 2024 @ host-b");
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "cases")), 10);
    json_t *run = json_object_get(doc, "run");
    ck_assert_uint_eq(json_array_size(json_object_get(run, "sources")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(run, "host")), "merged");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(run, "sources"), 1), "host")),
                     "host-b");
    /* every case has the results of both runs under distinct keys */
    json_t *c0 = json_array_get(json_object_get(doc, "cases"), 0);
    ck_assert_uint_eq(json_object_size(json_object_get(c0, "results")), 4);
    /* merging a merged matrix keeps the flat list of sources */
    rs_matrix *in2[] = {m, a};
    rs_matrix *m2 = rs_matrix_merge(in2, 2, &err);
    ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(rs_matrix_json(m2), "run"), "sources")), 3 + 1);
    ck_assert_ptr_null(rs_matrix_merge(in, 0, &err));
    rs_matrix_free(m2);
    rs_matrix_free(m);
    rs_matrix_free(a);
    rs_matrix_free(b);
    rs_matrix_free(b2);
}
END_TEST

/* ---- diff ---- */

/* The golden matrix with one result changed. */
static rs_matrix *golden_changed(const char *id, const char *client_key, const char *verdict,
                                 const char *observed)
{
    pgtls_err err;
    rs_matrix *g = load_golden();
    json_t *doc = json_deep_copy(rs_matrix_json(g));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "id")), id) == 0) {
            json_t *r = json_object_get(json_object_get(c, "results"), client_key);
            ck_assert_ptr_nonnull(r);
            json_object_set_new(r, "verdict", json_string(verdict));
            json_object_set_new(r, "observed", json_string(observed));
        }
    }
    err_clear(&err);
    rs_matrix *m = rs_matrix_from_json(doc, "changed", &err);
    json_decref(doc);
    rs_matrix_free(g);
    return m;
}

#define PSQL "psql 15.18 | libpq 150018 | OpenSSL 3.0.15 3 Sep 2024"

START_TEST(diff_reports_a_regression_and_an_accepted_one_is_not)
{
    pgtls_err err;
    rs_diff_stats st;
    char *text = NULL;
    rs_matrix *base = load_golden();
    rs_matrix *cur = golden_changed("azure-old/root-g2/verify-full", PSQL, "fails", "untrusted-chain");
    err_clear(&err);
    ck_assert_int_eq(rs_diff(base, base, NULL, &text, &st, &err), 0);
    ck_assert_int_eq(st.regressions, 0);
    ck_assert_int_eq(st.unchanged, 18);
    free(text);
    ck_assert_int_eq(rs_diff(base, cur, NULL, &text, &st, &err), 0);
    ck_assert_int_eq(st.regressions, 1);
    ck_assert_ptr_nonnull(strstr(text, "REGRESSION azure-old/root-g2/verify-full [" PSQL "]: conforms -> fails"));
    free(text);
    /* the reverse direction is a fix */
    ck_assert_int_eq(rs_diff(cur, base, NULL, &text, &st, &err), 0);
    ck_assert_int_eq(st.regressions, 0);
    ck_assert_int_eq(st.fixed, 1);
    free(text);
    rs_accept *acc = rs_accept_parse("; accepted\n[azure-old/*/verify-full]\nclient = psql*\n"
                                     "reason = OpenSSL 3.5 drops the old root\n",
                                     "acc.ini", &err);
    ck_assert_msg(acc != NULL, "%s", err.msg);
    ck_assert_int_eq(rs_diff(base, cur, acc, &text, &st, &err), 0);
    ck_assert_int_eq(st.regressions, 0);
    ck_assert_int_eq(st.accepted, 1);
    ck_assert_ptr_nonnull(strstr(text, "OpenSSL 3.5 drops the old root"));
    free(text);
    rs_accept_free(acc);
    acc = rs_accept_parse("{\"accept\":[{\"case\":\"azure-old/root-g2/verify-full\","
                          "\"reason\":\"known\"}]}", "acc.json", &err);
    ck_assert_ptr_nonnull(acc);
    ck_assert_int_eq(rs_diff(base, cur, acc, &text, &st, &err), 0);
    ck_assert_int_eq(st.regressions, 0);
    free(text);
    rs_accept_free(acc);
    /* an accept rule for another client does not cover it */
    acc = rs_accept_parse("[azure-old/*]\nclient = node-*\nreason = x\n", "a", &err);
    ck_assert_int_eq(rs_diff(base, cur, acc, &text, &st, &err), 0);
    ck_assert_int_eq(st.regressions, 1);
    free(text);
    rs_accept_free(acc);
    rs_matrix_free(base);
    rs_matrix_free(cur);
}
END_TEST

#define NODE "node-postgres 8.16.0"

/* The key of the golden matrix's node-postgres build (its full build key). */
static const char *node_key(rs_matrix *g)
{
    size_t i;
    json_t *cl;
    json_array_foreach(json_object_get(rs_matrix_json(g), "clients"), i, cl)
    {
        const char *key = json_string_value(json_object_get(cl, "key"));
        if (strncmp(key, NODE, strlen(NODE)) == 0)
            return key;
    }
    ck_abort_msg("no node-postgres build in the golden matrix");
    return NULL;
}

START_TEST(strict_diff_counts_a_changed_class_that_keeps_its_verdict)
{
    pgtls_err err;
    rs_diff_stats st;
    char *text = NULL;
    rs_matrix *base = load_golden();
    char *key = strdup(node_key(base));
    /* A known deviation that now deviates for another reason: the verdict
     * stays deviation-known, the observed class moves. */
    rs_matrix *cur = golden_changed("wrong-host/root-g2/require", key, "deviation-known",
                                    "untrusted-chain");
    err_clear(&err);
    ck_assert_int_eq(rs_diff(base, base, NULL, &text, &st, &err), 0);
    ck_assert_int_eq(st.behaviour_changes, 0);
    free(text);
    ck_assert_int_eq(rs_diff(base, cur, NULL, &text, &st, &err), 0);
    ck_assert_int_eq(st.regressions, 0);
    ck_assert_int_eq(st.behaviour_changes, 1);
    ck_assert_ptr_nonnull(strstr(text, "observed hostname-mismatch -> untrusted-chain"));
    free(text);
    rs_accept *acc = rs_accept_parse("[wrong-host/*]\nclient = node-postgres*\n"
                                     "reason = pg 8.17 checks the chain first\n", "acc", &err);
    ck_assert_ptr_nonnull(acc);
    ck_assert_int_eq(rs_diff(base, cur, acc, &text, &st, &err), 0);
    ck_assert_int_eq(st.behaviour_changes, 0);
    ck_assert_int_eq(st.accepted_changes, 1);
    ck_assert_ptr_nonnull(strstr(text, "accepted: pg 8.17 checks the chain first"));
    free(text);
    rs_accept_free(acc);
    /* A fix is a behaviour change too, and so is a row the new run lacks. */
    ck_assert_int_eq(rs_diff(cur, base, NULL, &text, &st, &err), 0);
    ck_assert_int_eq(st.behaviour_changes, 1);
    free(text);
    free(key);
    rs_matrix_free(base);
    rs_matrix_free(cur);
}
END_TEST

/* docs/versions.md: one driver's builds (BASE, BASE@VERSION) in version order,
 * and the version in which a case's observed class changed. */
static const char history_matrix[] =
    "{\"schema\":\"pgtls-matrix/1\",\"run\":{\"suite\":\"default\"},\"clients\":["
    "{\"key\":\"pgx 5.12.0 | no libpq | go\",\"client\":\"pgx\",\"version\":\"5.12.0\"},"
    "{\"key\":\"pgx@5.7.4 5.7.4 | no libpq | go\",\"client\":\"pgx@5.7.4\",\"version\":\"5.7.4\"},"
    "{\"key\":\"pgx@5.0.0 5.0.0 | no libpq | go\",\"client\":\"pgx@5.0.0\",\"version\":\"5.0.0\"},"
    "{\"key\":\"pgx-other 1 | no libpq | go\",\"client\":\"pgx-other\",\"version\":\"1\"},"
    "{\"key\":\"libpq 15.18 | libpq 150018 | OpenSSL\",\"client\":\"libpq\",\"version\":\"15.18\"}],"
    "\"cases\":["
    "{\"id\":\"azure-new/system/verify-full\",\"scenario\":\"azure-new\",\"store\":\"system\","
    "\"sslmode\":\"verify-full\",\"results\":{"
    "\"pgx 5.12.0 | no libpq | go\":{\"verdict\":\"conforms\",\"observed\":\"connected-tls\",\"expected\":\"connected-tls\"},"
    "\"pgx@5.7.4 5.7.4 | no libpq | go\":{\"verdict\":\"conforms\",\"observed\":\"connected-tls\",\"expected\":\"connected-tls\"},"
    "\"pgx@5.0.0 5.0.0 | no libpq | go\":{\"verdict\":\"fails\",\"observed\":\"client-config-error\",\"expected\":\"connected-tls\","
    "\"error\":\"open system: no such file or directory\"},"
    "\"pgx-other 1 | no libpq | go\":{\"verdict\":\"fails\",\"observed\":\"untrusted-chain\",\"expected\":\"connected-tls\"}}},"
    "{\"id\":\"azure-new/root-g2/verify-full\",\"scenario\":\"azure-new\",\"store\":\"root-g2\","
    "\"sslmode\":\"verify-full\",\"results\":{"
    "\"pgx 5.12.0 | no libpq | go\":{\"verdict\":\"conforms\",\"observed\":\"connected-tls\",\"expected\":\"connected-tls\"},"
    "\"pgx@5.7.4 5.7.4 | no libpq | go\":{\"verdict\":\"conforms\",\"observed\":\"connected-tls\",\"expected\":\"connected-tls\"},"
    "\"pgx@5.0.0 5.0.0 | no libpq | go\":{\"verdict\":\"conforms\",\"observed\":\"connected-tls\",\"expected\":\"connected-tls\"}}}]}";

START_TEST(history_orders_a_drivers_versions_and_names_the_change)
{
    pgtls_err err;
    char *text = NULL;
    err_clear(&err);
    ck_assert_int_lt(rs_version_cmp("8.7.3", "8.11.3"), 0);
    ck_assert_int_gt(rs_version_cmp("v5.12.0", "5.7.4"), 0);
    ck_assert_int_eq(rs_version_cmp("v5.0.0", "5.0.0"), 0);
    ck_assert_int_lt(rs_version_cmp("42.2.29", "42.10.0"), 0);
    ck_assert_int_lt(rs_version_cmp("1.0-rc1", "1.0"), 0);

    json_t *doc = js(history_matrix);
    ck_assert_int_eq(rs_render_history(doc, "github.com/jackc/pgx/v5", "azure-new/system/verify-full",
                                       &text, &err), 0);
    const char *a = strstr(text, "| 5.0.0 |"), *b = strstr(text, "| 5.7.4 |"),
               *c = strstr(text, "| 5.12.0 |");
    ck_assert_msg(a && b && c && a < b && b < c, "not in version order:\n%s", text);
    ck_assert_ptr_nonnull(strstr(text, "client-config-error | fails | connected-tls | open system"));
    ck_assert_msg(strstr(text, "observed class changed in: 5.7.4 (client-config-error → connected-tls)"),
                  "%s", text);
    ck_assert_ptr_null(strstr(text, "pgx-other")); /* another adapter, not a version */
    free(text);
    /* every changing case, without --case */
    ck_assert_int_eq(rs_render_history(doc, "pgx", NULL, &text, &err), 0);
    ck_assert_ptr_nonnull(strstr(text, "| `azure-new/system/verify-full` | client-config-error | "
                                       "connected-tls | connected-tls | 5.7.4"));
    ck_assert_ptr_null(strstr(text, "root-g2"));
    ck_assert_ptr_nonnull(strstr(text, "1 case changes across 3 versions"));
    free(text);
    /* an unchanged case says so */
    ck_assert_int_eq(rs_render_history(doc, "pgx", "azure-new/root-g2/verify-full", &text, &err), 0);
    ck_assert_ptr_nonnull(strstr(text, "observed class unchanged across 3 versions"));
    free(text);
    ck_assert_int_eq(rs_render_history(doc, "pg", NULL, &text, &err), -1);
    ck_assert_msg(strstr(err.msg, "no client build of 'pg'"), "got '%s'", err.msg);
    ck_assert_int_eq(rs_render_history(doc, "pgx", "no/such/case", &text, &err), -1);
    ck_assert_msg(strstr(err.msg, "no case 'no/such/case'"), "got '%s'", err.msg);

    /* summary.md: a section for pgx (three versions), none for libpq (one) */
    rs_matrix *m = rs_matrix_from_json(doc, "history", &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    char *md = rs_render_markdown(m, &err);
    ck_assert_msg(md != NULL, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(md, "## Versions of one driver"));
    ck_assert_ptr_nonnull(strstr(md, "### pgx: 5.0.0, 5.7.4, 5.12.0"));
    ck_assert_ptr_null(strstr(md, "### libpq"));
    ck_assert_ptr_null(strstr(md, "### pgx-other"));
    free(md);
    rs_matrix_free(m);
    json_decref(doc);
}
END_TEST

START_TEST(the_digest_names_a_configuration_that_breaks_at_rotation_and_its_fix)
{
    pgtls_err err;
    char *text = NULL;
    /* psql with G2 only connects to azure-old; make azure-new fail for it. */
    rs_matrix *m = golden_changed("azure-new/root-g2/verify-full", PSQL, "fails",
                                  "untrusted-chain");
    err_clear(&err);
    ck_assert_int_eq(rs_digest_render(rs_matrix_json(m), RS_DIGEST_TERMINAL, &text, &err), 0);
    ck_assert_msg(strstr(text, "Rotation readiness at a glance") == text, "%s", text);
    /* the psql row: G2 only breaks at rotation under verify-full */
    const char *row = strstr(text, "\n  psql ");
    ck_assert_msg(row != NULL, "%s", text);
    ck_assert_msg(strstr(row, "BREAKS vf") != NULL && strstr(row, "BREAKS vf") < strchr(row + 1, '\n'),
                  "%s", text);
    /* the cause, once, with the clients it hits and the fix */
    const char *cause = strstr(text, "holds only one of the Azure roots");
    ck_assert_msg(cause != NULL, "%s", text);
    ck_assert_ptr_null(strstr(cause + 1, "holds only one of the Azure roots"));
    ck_assert_ptr_nonnull(strstr(cause, "fix: Keep the full root set"));
    free(text);
    /* Markdown and HTML carry the same verdict in words */
    ck_assert_int_eq(rs_digest_render(rs_matrix_json(m), RS_DIGEST_MARKDOWN, &text, &err), 0);
    ck_assert_ptr_nonnull(strstr(text, "**breaks at rotation** (verify-full)"));
    free(text);
    ck_assert_int_eq(rs_digest_render(rs_matrix_json(m), RS_DIGEST_HTML, &text, &err), 0);
    ck_assert_ptr_nonnull(strstr(text, "<td class=\"g-breaks\">breaks at rotation (verify-full)</td>"));
    free(text);
    rs_matrix_free(m);
}
END_TEST

/* The golden matrix with every case of the ids (NULL-terminated) changed
 * for one client build. */
static rs_matrix *golden_changed_all(const char *const *ids, const char *client_key,
                                     const char *verdict, const char *observed)
{
    pgtls_err err;
    rs_matrix *g = load_golden();
    json_t *doc = json_deep_copy(rs_matrix_json(g));
    size_t i, hits = 0;
    json_t *c;
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        for (const char *const *id = ids; *id; id++)
            if (strcmp(json_string_value(json_object_get(c, "id")), *id) == 0) {
                json_t *r = json_object_get(json_object_get(c, "results"), client_key);
                ck_assert_ptr_nonnull(r);
                json_object_set_new(r, "verdict", json_string(verdict));
                json_object_set_new(r, "observed", json_string(observed));
                hits++;
            }
    }
    ck_assert_uint_gt(hits, 0);
    err_clear(&err);
    rs_matrix *m = rs_matrix_from_json(doc, "changed", &err);
    json_decref(doc);
    rs_matrix_free(g);
    return m;
}

/* The psql row's cell of the digest's "DigiCert Global Root G2 only" column
 * (Markdown), copied into buf. */
static const char *g2_only_cell(rs_matrix *m, char *buf, size_t cap)
{
    pgtls_err err;
    char *text = NULL;
    err_clear(&err);
    ck_assert_int_eq(rs_digest_render(rs_matrix_json(m), RS_DIGEST_MARKDOWN, &text, &err), 0);
    const char *row = strstr(text, "\n| psql ");
    ck_assert_msg(row != NULL, "%s", text);
    /* "| build | own trust | bundle | G2 only | ...": the third " | " opens G2 only */
    const char *p = row + 1;
    for (int k = 0; k < 3; k++) {
        p = strstr(p + 1, " | ");
        ck_assert_ptr_nonnull(p);
    }
    const char *end = strstr(p + 3, " |");
    ck_assert_ptr_nonnull(end);
    snprintf(buf, cap, "%.*s", (int)(end - p - 3), p + 3);
    free(text);
    return buf;
}

START_TEST(a_mode_the_driver_refuses_with_every_store_does_not_decide_the_digest)
{
    char cell[128];
    /* psql as a driver that rejects verify-full at parse time (tokio-postgres
     * does): every verify-full row is a configuration error, with any store. */
    static const char *const all_vf[] = {"azure-new-short/root-g2/verify-full",
                                         "azure-new/root-g2/verify-full",
                                         "azure-new/root-ms2017/verify-full",
                                         "azure-old/root-g2/verify-full",
                                         "azure-old/root-ms2017/verify-full", NULL};
    rs_matrix *m = golden_changed_all(all_vf, PSQL, "deviation-known", "client-config-error");
    g2_only_cell(m, cell, sizeof(cell));
    ck_assert_msg(strstr(cell, "(require)") != NULL, "judged at require: %s", cell);
    rs_matrix_free(m);
    /* refused with one store only (libpq's verify-full without a usable root
     * file): the refusal is the verdict, still at verify-full */
    static const char *const one_store[] = {"azure-new-short/root-g2/verify-full",
                                            "azure-new/root-g2/verify-full",
                                            "azure-old/root-g2/verify-full", NULL};
    m = golden_changed_all(one_store, PSQL, "fails", "client-config-error");
    g2_only_cell(m, cell, sizeof(cell));
    ck_assert_msg(strstr(cell, "(verify-full)") != NULL && strstr(cell, "already broken"),
                  "judged at verify-full: %s", cell);
    rs_matrix_free(m);
}
END_TEST

START_TEST(the_summary_lists_connecting_where_it_should_refuse_first_as_security)
{
    pgtls_err err;
    /* psql accepts a chain from a root it was not given: a security finding. */
    rs_matrix *m = golden_changed("azure-old/root-ms2017/verify-full", PSQL, "fails",
                                  "connected-tls");
    err_clear(&err);
    char *text = rs_render_security_markdown(rs_matrix_json(m), &err);
    ck_assert_ptr_nonnull(text);
    const char *row = strstr(text, "| psql 15.18 ");
    ck_assert_msg(row && strstr(row, " | **1** | 1 |\n") == strchr(row, '\n') - strlen(" | **1** | 1 |"),
                  "%s", text);
    const char *list = strstr(text, "### Connected where it should have refused");
    ck_assert_msg(list && strstr(list, "`psql`: `azure-old/root-ms2017/verify-full` (libpq: untrusted-chain)"),
                  "%s", text);
    free(text);
    rs_matrix_free(m);
    /* the golden matrix: node-postgres refuses where libpq connects (availability) */
    m = load_golden();
    text = rs_render_security_markdown(rs_matrix_json(m), &err);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_null(strstr(text, "### Connected where it should have refused"));
    free(text);
    rs_matrix_free(m);
}
END_TEST

START_TEST(a_matrix_without_rotation_scenarios_has_no_digest)
{
    pgtls_err err;
    char *text = NULL;
    json_t *doc = json_pack("{s:s,s:{},s:[],s:[]}", "schema", "pgtls-matrix/1", "run", "clients",
                            "cases");
    err_clear(&err);
    ck_assert_int_eq(rs_digest_render(doc, RS_DIGEST_MARKDOWN, &text, &err), 0);
    ck_assert_str_eq(text, "");
    free(text);
    json_decref(doc);
}
END_TEST

START_TEST(diff_matches_a_new_client_version_by_name_and_lists_added_and_removed)
{
    pgtls_err err;
    rs_diff_stats st;
    char *text;
    rs_matrix *base = load_golden();
    json_t *doc = json_deep_copy(rs_matrix_json(base));
    json_t *cl = json_array_get(json_object_get(doc, "clients"), 0);
    json_object_set_new(cl, "key", json_string("psql 16.4 | libpq 160004 | OpenSSL 3.0.15"));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        json_t *res = json_object_get(c, "results");
        json_object_set(res, "psql 16.4 | libpq 160004 | OpenSSL 3.0.15", json_object_get(res, PSQL));
        json_object_del(res, PSQL);
    }
    json_array_remove(json_object_get(doc, "cases"), 0);
    err_clear(&err);
    rs_matrix *cur = rs_matrix_from_json(doc, "cur", &err);
    ck_assert_int_eq(rs_diff(base, cur, NULL, &text, &st, &err), 0);
    ck_assert_int_eq(st.regressions, 0);
    ck_assert_int_eq(st.added, 0);
    ck_assert_int_eq(st.removed, 2);
    ck_assert_int_eq(st.unchanged, 16);
    ck_assert_ptr_nonnull(strstr(text, "removed    azure-new-short/root-g2/verify-full"));
    free(text);
    json_decref(doc);
    rs_matrix_free(cur);
    rs_matrix_free(base);
}
END_TEST

static const struct {
    const char *text;
    const char *message;
} bad_accepts[] = {
    {"[x]\nclient = a\n", "acc:1: [x] needs reason"},
    {"reason = x\n", "acc:1: expected key = value inside a [case] section"},
    {"[x]\ncolour = red\n", "acc:2: unknown key \"colour\""},
    {"[x]\nreason =\n", "acc:2: key \"reason\" is empty"},
    {"[x]\nreason = a\nreason = b\n", "given twice"},
    {"[]\nreason = a\n", "acc:1: a section header"},
    {"[x\nreason = a\n", "acc:1: a section header"},
    {"{\"accept\":{}}", "needs {\"accept\": [ ... ]}"},
    {"{\"accept\":[{\"case\":\"x\"}]}", "accept[0] needs \"case\" and \"reason\""},
    {"{\"accept\":[", "not JSON"},
};

START_TEST(a_bad_accept_file_is_rejected)
{
    pgtls_err err;
    err_clear(&err);
    ck_assert_ptr_null(rs_accept_parse(bad_accepts[_i].text, "acc", &err));
    ck_assert_msg(strstr(err.msg, bad_accepts[_i].message) != NULL, "row %d: %s", _i, err.msg);
}
END_TEST

/* ---- CLI ---- */

static int run_cli(const char *const *args)
{
    char *argv[16];
    int argc = 0;
    for (; args[argc]; argc++)
        argv[argc] = (char *)args[argc];
    argv[argc] = NULL;
    return rs_cli_report(argc, argv);
}

START_TEST(the_report_cli_uses_exit_codes_0_1_2)
{
    char *dir = ts_tmpdir_new("rscli");
    char *golden = ts_source_path("results/tests/golden/matrix.json");
    char *out = fs_join(dir, "out");
    char *bad = ts_write_text(dir, "bad.json", "{\"schema\":");
    char *changed = fs_join(dir, "changed.json");
    char *moved = fs_join(dir, "moved.json");
    char *acc_moved = ts_write_text(dir, "acc-moved.ini", "[azure-old/root-ms2017/*]\nreason = new verifier\n");
    char *acc = ts_write_text(dir, "acc.ini", "[azure-old/root-g2/verify-full]\nreason = ok\n");
    pgtls_err err;
    rs_matrix *cur = golden_changed("azure-old/root-g2/verify-full", PSQL, "error", "timeout");
    err_clear(&err);
    ck_assert_int_eq(rs_matrix_write(cur, changed, &err), 0);
    rs_matrix_free(cur);
    /* conformance unchanged (it still conforms), the observed class moved */
    cur = golden_changed("azure-old/root-ms2017/verify-full", PSQL, "conforms", "expired");
    ck_assert_int_eq(rs_matrix_write(cur, moved, &err), 0);
    rs_matrix_free(cur);

    const char *help[] = {"report", "--help", NULL};
    const char *none[] = {"report", NULL};
    const char *unknown[] = {"report", "frobnicate", NULL};
    const char *rhelp[] = {"report", "render", "--help", NULL};
    const char *mhelp[] = {"report", "merge", "--help", NULL};
    const char *dhelp[] = {"report", "diff", "--help", NULL};
    const char *render[] = {"report", "render", golden, "--out", out, NULL};
    const char *render_noout[] = {"report", "render", golden, NULL};
    const char *render_badopt[] = {"report", "render", golden, "--out", out, "--colour", NULL};
    const char *render_missing[] = {"report", "render", "/nonexistent.json", "--out", out, NULL};
    const char *render_bad[] = {"report", "render", bad, "--out", out, NULL};
    const char *out_noval[] = {"report", "render", golden, "--out", NULL};
    const char *merge[] = {"report", "merge", golden, golden, "--out", out, NULL};
    const char *merge_bad[] = {"report", "merge", golden, bad, "--out", out, NULL};
    const char *diff_same[] = {"report", "diff", golden, golden, NULL};
    const char *diff_reg[] = {"report", "diff", golden, changed, NULL};
    const char *diff_acc[] = {"report", "diff", golden, changed, "--accept", acc, NULL};
    const char *diff_noacc[] = {"report", "diff", golden, changed, "--accept", "/nonexistent.ini", NULL};
    const char *diff_one[] = {"report", "diff", golden, NULL};
    const char *diff_three[] = {"report", "diff", golden, golden, golden, NULL};
    const char *strict_same[] = {"report", "diff", "--strict", golden, golden, NULL};
    const char *strict_moved[] = {"report", "diff", golden, moved, "--strict", NULL};
    const char *lax_moved[] = {"report", "diff", golden, moved, NULL};
    const char *strict_acc[] = {"report", "diff", golden, moved, "--strict", "--accept", acc_moved, NULL};

    ck_assert_int_eq(run_cli(help), 0);
    ck_assert_int_eq(run_cli(none), 2);
    ck_assert_int_eq(run_cli(unknown), 2);
    ck_assert_int_eq(run_cli(rhelp), 0);
    ck_assert_int_eq(run_cli(mhelp), 0);
    ck_assert_int_eq(run_cli(dhelp), 0);
    ck_assert_int_eq(run_cli(render), 0);
    char *html = fs_join(out, "matrix.html");
    ck_assert(fs_exists(html));
    free(html);
    ck_assert_int_eq(run_cli(render_noout), 2);
    ck_assert_int_eq(run_cli(render_badopt), 2);
    ck_assert_int_eq(run_cli(render_missing), 2);
    ck_assert_int_eq(run_cli(render_bad), 2);
    ck_assert_int_eq(run_cli(out_noval), 2);
    ck_assert_int_eq(run_cli(merge), 0);
    ck_assert_int_eq(run_cli(merge_bad), 2);
    ck_assert_int_eq(run_cli(diff_same), 0);
    ck_assert_int_eq(run_cli(diff_reg), 1);
    ck_assert_int_eq(run_cli(diff_acc), 0);
    ck_assert_int_eq(run_cli(diff_noacc), 2);
    ck_assert_int_eq(run_cli(diff_one), 2);
    ck_assert_int_eq(run_cli(diff_three), 2);
    ck_assert_int_eq(run_cli(strict_same), 0);
    ck_assert_int_eq(run_cli(lax_moved), 0);
    ck_assert_int_eq(run_cli(strict_moved), 1);
    ck_assert_int_eq(run_cli(strict_acc), 0);
    free(moved);
    free(acc_moved);
    free(golden);
    free(out);
    free(bad);
    free(changed);
    free(acc);
    ts_tmpdir_remove(dir);
}
END_TEST

static char *dump_of(rs_matrix *m)
{
    /* rs_matrix_write adds ended_at = now; the dump of a loaded matrix must
     * reproduce the file exactly, so write to a temp file with the loaded
     * ended_at put back. */
    pgtls_err err;
    char *dir = ts_tmpdir_new("rsdump"), *p = fs_join(dir, "m.json"), *text = NULL;
    json_t *run = json_object_get(rs_matrix_json(m), "run");
    char *ended = strdup(json_string_value(json_object_get(run, "ended_at")));
    err_clear(&err);
    ck_assert_int_eq(rs_matrix_write(m, p, &err), 0);
    json_t *doc = json_load_file(p, 0, NULL);
    json_object_set_new(json_object_get(doc, "run"), "ended_at", json_string(ended));
    char *body = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
    text = str_printf("%s\n", body);
    free(body);
    json_decref(doc);
    free(ended);
    free(p);
    ts_tmpdir_remove(dir);
    return text;
}

Suite *rs_matrix_suite(void)
{
    Suite *s = suite_create("rs_matrix");
    TCase *tc = tcase_create("the matrix document");
    tcase_add_test(tc, the_runner_builds_a_matrix_incrementally_and_writes_it_atomically);
    tcase_add_test(tc, a_known_deviation_is_recorded_as_such_never_as_a_pass);
    tcase_add_test(tc, a_field_case_row_carries_its_source_reported_class_and_field_verdict);
    tcase_add_test(tc, a_matrix_without_field_cases_has_no_field_section);
    tcase_add_test(tc, the_surfaces_section_lists_intents_whose_surfaces_disagree);
    tcase_add_test(tc, runner_workers_may_record_and_write_concurrently);
    tcase_add_loop_test(tc, a_malformed_matrix_is_one_clear_error, 0,
                        (int)(sizeof(bad_matrices) / sizeof(bad_matrices[0])));
    tcase_add_test(tc, a_matrix_round_trips_through_load_and_write);
    suite_add_tcase(s, tc);
    tc = tcase_create("merge");
    tcase_add_test(tc, merge_makes_a_column_per_client_build_and_unions_cases);
    suite_add_tcase(s, tc);
    return s;
}

Suite *rs_render_suite(void)
{
    Suite *s = suite_create("rs_render");
    TCase *tc = tcase_create("renderers against golden files");
    tcase_add_test(tc, each_renderer_matches_its_golden_file);
    tcase_add_test(tc, render_all_writes_every_format);
    tcase_add_test(tc, the_html_page_needs_no_network_and_cannot_be_broken_out_of);
    tcase_add_loop_test(tc, a_matrix_with_fields_of_the_wrong_type_renders_without_crashing, 0,
                        (int)(sizeof(wrong_types) / sizeof(wrong_types[0])));
    suite_add_tcase(s, tc);
    return s;
}

Suite *rs_diff_suite(void)
{
    Suite *s = suite_create("rs_diff");
    TCase *tc = tcase_create("diff against a baseline");
    tcase_add_test(tc, diff_reports_a_regression_and_an_accepted_one_is_not);
    tcase_add_test(tc, diff_matches_a_new_client_version_by_name_and_lists_added_and_removed);
    tcase_add_test(tc, strict_diff_counts_a_changed_class_that_keeps_its_verdict);
    tcase_add_test(tc, history_orders_a_drivers_versions_and_names_the_change);
    tcase_add_test(tc, the_digest_names_a_configuration_that_breaks_at_rotation_and_its_fix);
    tcase_add_test(tc, a_matrix_without_rotation_scenarios_has_no_digest);
    tcase_add_test(tc, a_mode_the_driver_refuses_with_every_store_does_not_decide_the_digest);
    tcase_add_test(tc, the_summary_lists_connecting_where_it_should_refuse_first_as_security);
    tcase_add_loop_test(tc, a_bad_accept_file_is_rejected, 0,
                        (int)(sizeof(bad_accepts) / sizeof(bad_accepts[0])));
    suite_add_tcase(s, tc);
    return s;
}

Suite *rs_cli_suite(void)
{
    Suite *s = suite_create("rs_cli");
    TCase *tc = tcase_create("pgtls report");
    tcase_add_test(tc, the_report_cli_uses_exit_codes_0_1_2);
    suite_add_tcase(s, tc);
    return s;
}
