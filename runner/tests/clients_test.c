/* pgtls runner: unit tests of client detection (manifest + --describe) with
 * the fake adapter. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "rn.h"
#include "pgtls-config.h"
#include "support.h"

static char *dir;
static const rn_paths paths = {.build_root = PGTLS_BUILD_ROOT, .source_root = PGTLS_SOURCE_ROOT};

static void add_client(const char *name, const char *manifest)
{
    pgtls_err err;
    err_clear(&err);
    char *sub = fs_join(dir, name);
    ck_assert_int_eq(fs_mkdir_p(sub, 0755, &err), 0);
    free(ts_write_text(sub, "adapter.json", manifest));
    free(sub);
}

static void setup(void)
{
    dir = ts_tmpdir_new("rn-clients");
    add_client("good", "{\"argv\":[\"@BUILD@/runner/rn-fake-adapter\"]}");
    add_client("no-version", "{\"argv\":[\"@BUILD@/runner/rn-fake-adapter\",\"--no-version\"],"
                             "\"install\":\"@DIR@/install\"}");
    add_client("dies", "{\"argv\":[\"@BUILD@/runner/rn-fake-adapter\",\"--no-hello\"]}");
    add_client("not-built", "{\"argv\":[\"@BUILD@/clients/none/pgtls-adapter-none\"]}");
    add_client("needs-tool", "{\"argv\":[\"@BUILD@/runner/rn-fake-adapter\"],"
                             "\"requires\":[\"pgtls-no-such-tool\"]}");
    add_client("bad-json", "{\"argv\":");
    add_client("garbage", "{\"argv\":[\"/bin/echo\",\"not a hello\"]}");
}

static void teardown(void)
{
    ts_tmpdir_remove(dir);
}

static const struct {
    const char *name;
    const char *unusable; /* NULL: usable */
} probes[] = {
    {"good", NULL},
    {"no-version", "no driver \"version\""},
    {"dies", "--describe failed (exit 7): fake: cannot load the driver"},
    {"not-built", "does not exist (build it"},
    {"needs-tool", "requires pgtls-no-such-tool"},
    {"bad-json", "not valid JSON"},
    {"garbage", "no hello line"},
};

START_TEST(a_probe_says_usable_or_why_not)
{
    rn_client c;
    ck_assert_int_eq(rn_client_probe(dir, probes[_i].name, &paths, 5000, &c), 0);
    if (!probes[_i].unusable) {
        ck_assert_msg(c.unusable == NULL, "%s: %s", probes[_i].name, c.unusable);
        ck_assert_str_eq(json_string_value(json_object_get(c.hello, "client")), "fake");
    } else {
        ck_assert_ptr_null(c.hello);
        ck_assert_msg(c.unusable && strstr(c.unusable, probes[_i].unusable), "%s: got '%s'",
                      probes[_i].name, c.unusable ? c.unusable : "(usable)");
        ck_assert_ptr_null(strchr(c.unusable, '\n'));
    }
    rn_client_cleanup(&c);
}
END_TEST

START_TEST(probing_all_in_parallel_gives_one_answer_per_client_in_order)
{
    char **names = NULL;
    pgtls_err err;
    err_clear(&err);
    int n = rn_manifest_list(dir, &names, &err);
    ck_assert_int_eq(n, 7);
    rn_client *out = calloc((size_t)n, sizeof(*out));
    ck_assert_int_eq(rn_client_probe_all(dir, names, &paths, 5000, 3, out), 0);
    int usable = 0;
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(out[i].name, names[i]);
        usable += out[i].unusable == NULL;
        rn_client_cleanup(&out[i]);
    }
    ck_assert_int_eq(usable, 1);
    free(out);
    rn_strv_free(names);
}
END_TEST

Suite *rn_clients_suite(void)
{
    Suite *s = suite_create("runner: client detection");
    TCase *tc = tcase_create("probes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, a_probe_says_usable_or_why_not, 0,
                        (int)(sizeof(probes) / sizeof(probes[0])));
    tcase_add_test(tc, probing_all_in_parallel_gives_one_answer_per_client_in_order);
    suite_add_tcase(s, tc);
    return s;
}
