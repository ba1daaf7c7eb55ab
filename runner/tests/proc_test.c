/* pgtls runner: unit tests of the adapter supervisor with a fake adapter
 * (runner/tests/fake_adapter.c) that answers, hangs, crashes, prints garbage
 * or dies before its hello line on request. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fs.h"
#include "rn.h"
#include "support.h"

static char *fake;

static void setup(void)
{
    fake = ts_build_path("runner/rn-fake-adapter");
    ck_assert_msg(fs_exists(fake), "%s not built", fake);
}

static void teardown(void)
{
    free(fake);
}

static char *case_line(const char *id)
{
    return str_printf("{\"id\":\"%s\",\"sslmode\":\"require\",\"env\":{\"HOME\":\"/h/%s\"}}", id,
                      id);
}

static int process_gone(pid_t pid)
{
    return kill(pid, 0) < 0 && errno == ESRCH;
}

START_TEST(a_well_behaved_adapter_answers_each_case_in_order)
{
    pgtls_err err;
    char *argv[] = {fake, NULL};
    err_clear(&err);
    rn_adapter *a = rn_adapter_start(argv, 5000, NULL, &err);
    ck_assert_msg(a != NULL, "%s", err.msg);
    ck_assert_str_eq(json_string_value(json_object_get(rn_adapter_hello(a), "client")), "fake");
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "case-%d", i);
        char *line = case_line(id);
        rn_reply r;
        rn_adapter_call(a, line, 5000, NULL, &r);
        ck_assert_int_eq(r.status, RN_REPLY_OK);
        ck_assert_str_eq(json_string_value(json_object_get(r.result, "id")), id);
        ck_assert(json_is_true(json_object_get(r.result, "connected")));
        rn_reply_cleanup(&r);
        free(line);
    }
    ck_assert(rn_adapter_alive(a));
    pid_t pid = rn_adapter_pid(a);
    rn_adapter_free(a, 2000);
    ck_assert(process_gone(pid));
}
END_TEST

START_TEST(a_hung_adapter_is_killed_at_the_deadline_and_reported_as_timeout)
{
    pgtls_err err;
    char *argv[] = {fake, "--hang", "h", NULL};
    err_clear(&err);
    rn_adapter *a = rn_adapter_start(argv, 5000, NULL, &err);
    ck_assert_msg(a != NULL, "%s", err.msg);
    pid_t pid = rn_adapter_pid(a);
    rn_reply r;
    char *line = case_line("h");
    rn_adapter_call(a, line, 300, NULL, &r);
    ck_assert_int_eq(r.status, RN_REPLY_TIMEOUT);
    ck_assert_int_ge(r.wall_ms, 300);
    ck_assert_int_lt(r.wall_ms, 3000);
    ck_assert_ptr_nonnull(strstr(r.detail, "300 ms"));
    ck_assert(WIFSIGNALED(r.exit_status) && WTERMSIG(r.exit_status) == SIGKILL);
    ck_assert_ptr_nonnull(r.stderr_tail);
    ck_assert_ptr_nonnull(strstr(r.stderr_tail, "hanging on h"));
    ck_assert(!rn_adapter_alive(a));
    ck_assert(process_gone(pid));
    rn_reply_cleanup(&r);
    free(line);
    rn_adapter_free(a, 0);
}
END_TEST

START_TEST(an_adapter_that_dies_mid_case_is_reported_crashed_with_status_and_stderr)
{
    pgtls_err err;
    char *argv[] = {fake, "--crash", "c", NULL};
    err_clear(&err);
    rn_adapter *a = rn_adapter_start(argv, 5000, NULL, &err);
    ck_assert_msg(a != NULL, "%s", err.msg);
    rn_reply r;
    char *line = case_line("c");
    rn_adapter_call(a, line, 5000, NULL, &r);
    ck_assert_int_eq(r.status, RN_REPLY_CRASHED);
    ck_assert(WIFSIGNALED(r.exit_status) && WTERMSIG(r.exit_status) == SIGABRT);
    ck_assert_msg(strstr(r.detail, "signal 6"), "got '%s'", r.detail);
    ck_assert_msg(r.stderr_tail && strstr(r.stderr_tail, "crashing on c"), "tail '%s'",
                  r.stderr_tail ? r.stderr_tail : "(null)");
    ck_assert(!rn_adapter_alive(a));
    rn_reply_cleanup(&r);
    free(line);
    rn_adapter_free(a, 0);
}
END_TEST

START_TEST(a_line_that_is_not_a_result_object_is_reported_crashed)
{
    pgtls_err err;
    char *argv[] = {fake, "--garbage", "g", NULL};
    err_clear(&err);
    rn_adapter *a = rn_adapter_start(argv, 5000, NULL, &err);
    ck_assert_msg(a != NULL, "%s", err.msg);
    rn_reply r;
    char *line = case_line("g");
    rn_adapter_call(a, line, 5000, NULL, &r);
    ck_assert_int_eq(r.status, RN_REPLY_CRASHED);
    ck_assert_msg(strstr(r.detail, "not a result object") && strstr(r.detail, "just garbage"),
                  "got '%s'", r.detail);
    rn_reply_cleanup(&r);
    free(line);
    rn_adapter_free(a, 0);
}
END_TEST

START_TEST(an_adapter_out_of_step_is_stopped_before_answers_land_on_the_wrong_row)
{
    char *argv[] = {fake, "--extra-line", "e1", NULL};
    const char *ids[] = {"e1", "e2", "e3"};
    const rn_reply_status expect[] = {RN_REPLY_OK, RN_REPLY_CRASHED, RN_REPLY_OK};
    rn_session s;
    rn_session_init(&s, argv, 5000);
    for (int i = 0; i < 3; i++) {
        char *line = case_line(ids[i]);
        rn_reply r;
        rn_session_call(&s, line, 2000, NULL, &r);
        ck_assert_msg(r.status == expect[i], "%s: status %d (%s)", ids[i], r.status,
                      r.detail ? r.detail : "");
        if (r.status == RN_REPLY_OK)
            ck_assert_str_eq(json_string_value(json_object_get(r.result, "id")), ids[i]);
        else
            ck_assert_msg(strstr(r.detail, "answered case 'e1' while running 'e2'"), "got '%s'",
                          r.detail);
        rn_reply_cleanup(&r);
        free(line);
    }
    rn_session_cleanup(&s);
}
END_TEST

static const struct {
    const char *flag, *arg;
    int hello_timeout_ms;
    const char *expect;
} bad_starts[] = {
    {"--no-hello", NULL, 5000, "exited before its hello line (exit 7); stderr: fake: cannot load"},
    {"--bad-hello", NULL, 5000, "not a hello object"},
    {"--slow-hello", "3000", 200, "no hello line within 200 ms"},
    {"--unknown-flag", NULL, 5000, "exit 2"},
};

START_TEST(an_adapter_that_fails_before_its_hello_is_refused_with_the_reason)
{
    pgtls_err err;
    char *argv[] = {fake, (char *)bad_starts[_i].flag, (char *)bad_starts[_i].arg, NULL};
    err_clear(&err);
    long long t0 = time_now_ms();
    ck_assert_ptr_null(rn_adapter_start(argv, bad_starts[_i].hello_timeout_ms, NULL, &err));
    ck_assert_int_lt(time_now_ms() - t0, 2500);
    ck_assert_msg(strstr(err.msg, bad_starts[_i].expect), "case %d: got '%s'", _i, err.msg);
}
END_TEST

START_TEST(a_program_that_does_not_exist_is_refused_not_crashed)
{
    pgtls_err err;
    char *argv[] = {"/nonexistent/adapter", NULL};
    err_clear(&err);
    ck_assert_ptr_null(rn_adapter_start(argv, 1000, NULL, &err));
    ck_assert_msg(strstr(err.msg, "/nonexistent/adapter"), "got '%s'", err.msg);
}
END_TEST

/* The sequence the runner relies on: whatever an adapter does, every case
 * gets exactly one reply and later cases run on a fresh process. */
START_TEST(a_session_restarts_after_timeout_crash_and_garbage_and_loses_no_row)
{
    char *argv[] = {fake, "--hang", "c2", "--crash", "c4", "--garbage", "c5", NULL};
    const char *ids[] = {"c1", "c2", "c3", "c4", "c5", "c6"};
    const rn_reply_status expect[] = {RN_REPLY_OK,      RN_REPLY_TIMEOUT, RN_REPLY_OK,
                                      RN_REPLY_CRASHED, RN_REPLY_CRASHED, RN_REPLY_OK};
    json_int_t pids[6] = {0};
    rn_session s;
    rn_session_init(&s, argv, 5000);
    for (int i = 0; i < 6; i++) {
        char *line = case_line(ids[i]);
        rn_reply r;
        rn_session_call(&s, line, 400, NULL, &r);
        ck_assert_msg(r.status == expect[i], "%s: status %d (%s)", ids[i], r.status,
                      r.detail ? r.detail : "");
        if (r.status == RN_REPLY_OK) {
            ck_assert_str_eq(json_string_value(json_object_get(r.result, "id")), ids[i]);
            pids[i] = json_integer_value(json_object_get(r.result, "pid"));
        }
        rn_reply_cleanup(&r);
        free(line);
    }
    ck_assert_int_eq(s.num_starts, 4);
    ck_assert(pids[0] != pids[2] && pids[2] != pids[5]);
    ck_assert_str_eq(json_string_value(json_object_get(s.hello, "client")), "fake");
    rn_session_cleanup(&s);
}
END_TEST

START_TEST(a_session_gives_up_after_repeated_failed_starts_but_answers_every_case)
{
    char *argv[] = {fake, "--no-hello", NULL};
    rn_session s;
    rn_session_init(&s, argv, 2000);
    for (int i = 0; i < 5; i++) {
        char *line = case_line("x");
        rn_reply r;
        rn_session_call(&s, line, 400, NULL, &r);
        ck_assert_int_eq(r.status, RN_REPLY_CRASHED);
        ck_assert_msg(strstr(r.detail, "exit 7"), "got '%s'", r.detail);
        if (i >= RN_MAX_START_FAILURES)
            ck_assert_msg(strstr(r.detail, "unusable"), "got '%s'", r.detail);
        rn_reply_cleanup(&r);
        free(line);
    }
    ck_assert_int_eq(s.num_starts, RN_MAX_START_FAILURES);
    rn_session_cleanup(&s);
}
END_TEST

START_TEST(a_raised_stop_flag_ends_a_wait_promptly)
{
    pgtls_err err;
    char *argv[] = {fake, "--hang", "h", NULL};
    volatile sig_atomic_t stop = 0;
    err_clear(&err);
    rn_adapter *a = rn_adapter_start(argv, 5000, &stop, &err);
    ck_assert_msg(a != NULL, "%s", err.msg);
    stop = 1;
    rn_reply r;
    char *line = case_line("h");
    rn_adapter_call(a, line, 60000, &stop, &r);
    ck_assert_int_eq(r.status, RN_REPLY_STOPPED);
    ck_assert_int_lt(r.wall_ms, 2000);
    rn_reply_cleanup(&r);
    free(line);
    rn_adapter_free(a, 0);
}
END_TEST

START_TEST(describe_runs_to_completion_and_a_stuck_program_is_killed)
{
    pgtls_err err;
    char *out = NULL, *errs = NULL;
    int status = -1;
    char *argv[] = {fake, "--describe", NULL};
    err_clear(&err);
    ck_assert_int_eq(rn_run_collect(argv, NULL, 5000, &out, &errs, &status, &err), 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_ptr_nonnull(strstr(out, "\"client\":\"fake\""));
    free(out);
    free(errs);
    char *sleeper[] = {"sleep", "30", NULL};
    long long t0 = time_now_ms();
    ck_assert_int_eq(rn_run_collect(sleeper, NULL, 300, &out, &errs, &status, &err), -1);
    ck_assert_int_lt(time_now_ms() - t0, 3000);
    ck_assert_msg(strstr(err.msg, "did not finish within 300 ms"), "got '%s'", err.msg);
}
END_TEST

START_TEST(the_adapter_environment_drops_pg_and_ssl_variables_from_the_host)
{
    setenv("PGSSLMODE", "disable", 1);
    setenv("PGSSLROOTCERT", "/host/root.crt", 1);
    setenv("SSL_CERT_FILE", "/host/ca.pem", 1);
    setenv("NODE_EXTRA_CA_CERTS", "/host/extra.pem", 1);
    setenv("RN_TEST_KEEP", "kept", 1);
    char *extra[] = {"RN_TEST_KEEP=replaced", "HOME=/isolated", NULL};
    char **env = rn_adapter_environ(extra);
    int keep = 0, home = 0;
    ck_assert_ptr_nonnull(env);
    for (char **e = env; *e; e++) {
        ck_assert_msg(strncmp(*e, "PG", 2) != 0, "leaked %s", *e);
        ck_assert_msg(!str_starts_with(*e, "SSL_CERT_FILE="), "leaked %s", *e);
        ck_assert_msg(!str_starts_with(*e, "NODE_EXTRA_CA_CERTS="), "leaked %s", *e);
        ck_assert_msg(strcmp(*e, "RN_TEST_KEEP=kept") != 0, "not replaced");
        keep += strcmp(*e, "RN_TEST_KEEP=replaced") == 0;
        home += str_starts_with(*e, "HOME=");
    }
    ck_assert_int_eq(keep, 1);
    ck_assert_int_eq(home, 1);
    rn_strv_free(env);
}
END_TEST

Suite *rn_proc_suite(void)
{
    Suite *s = suite_create("runner: adapter supervisor");
    TCase *tc = tcase_create("one adapter process");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_well_behaved_adapter_answers_each_case_in_order);
    tcase_add_test(tc, a_hung_adapter_is_killed_at_the_deadline_and_reported_as_timeout);
    tcase_add_test(tc, an_adapter_that_dies_mid_case_is_reported_crashed_with_status_and_stderr);
    tcase_add_test(tc, a_line_that_is_not_a_result_object_is_reported_crashed);
    tcase_add_loop_test(tc, an_adapter_that_fails_before_its_hello_is_refused_with_the_reason, 0,
                        (int)(sizeof(bad_starts) / sizeof(bad_starts[0])));
    tcase_add_test(tc, a_program_that_does_not_exist_is_refused_not_crashed);
    tcase_add_test(tc, a_raised_stop_flag_ends_a_wait_promptly);
    tcase_add_test(tc, describe_runs_to_completion_and_a_stuck_program_is_killed);
    tcase_add_test(tc, the_adapter_environment_drops_pg_and_ssl_variables_from_the_host);
    suite_add_tcase(s, tc);
    tc = tcase_create("sessions across restarts");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_session_restarts_after_timeout_crash_and_garbage_and_loses_no_row);
    tcase_add_test(tc, a_session_gives_up_after_repeated_failed_starts_but_answers_every_case);
    tcase_add_test(tc, an_adapter_out_of_step_is_stopped_before_answers_land_on_the_wrong_row);
    suite_add_tcase(s, tc);
    return s;
}
