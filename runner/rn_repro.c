/* pgtls runner: `pgtls repro CASE-ID`, one case by hand.
 *
 * Prints the exact commands that replay a case outside the runner: the mock
 * in the foreground, the isolated HOME, and the adapter's one-shot command
 * line with every case field as a flag (docs/case-protocol.md, "One-shot
 * mode"). With --exec it runs them itself: the mock embedded in-process, the
 * adapter spawned with that argv, and prints the result, the mock's events
 * and the class, classified exactly as `pgtls run` does. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ca.h"
#include "fs.h"
#include "ms.h"
#include "rn.h"
#include "rs.h"
#include "st.h"

/* The mock calls on_event from its connection threads, concurrently: every
 * access to events holds mu. */
typedef struct repro_events {
    pthread_mutex_t mu;
    json_t *events;
} repro_events;

static void on_event(void *userdata, int listener_id, const char *json_line)
{
    repro_events *e = userdata;
    json_t *ev = json_loads(json_line, 0, NULL);
    (void)listener_id;
    if (!ev)
        ev = json_pack("{s:s}", "unparsed", json_line);
    pthread_mutex_lock(&e->mu);
    json_array_append_new(e->events, ev);
    pthread_mutex_unlock(&e->mu);
}

/* The second JSON object line of a one-shot run (the first is the hello). */
static json_t *oneshot_result(const char *out)
{
    int seen = 0;
    while (out && *out) {
        const char *nl = strchr(out, '\n');
        size_t len = nl ? (size_t)(nl - out) : strlen(out);
        if (len && strspn(out, " \t\r") < len) {
            json_t *o = json_loadb(out, len, 0, NULL);
            if (json_is_object(o) && ++seen == 2)
                return o;
            json_decref(o);
        }
        out = nl ? nl + 1 : NULL;
    }
    return NULL;
}

/* Prints steps 1 and 2 of a repro: the mock in the foreground and the
 * isolated HOME (with the stale root.crt and the empty system store when the
 * case has them). */
static void print_mock_and_home(const st_case *c, const fx_index *idx, int port,
                                const rn_case_env *env, int exec)
{
    {
        char port_s[16];
        snprintf(port_s, sizeof(port_s), "%d", port);
        /* The binary that is running, so the line works without PATH. */
        char self[PATH_MAX];
        ssize_t self_len = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (self_len > 0)
            self[self_len] = '\0';
        else
            strcpy(self, "pgtls");
        char *mock_argv[] = {self,     "mock", "--scenario", c->scenario,
                             "--port", port_s, "--fixtures", (char *)fx_index_dir(idx),
                             NULL};
        char *mock = rn_shell_join(mock_argv);
        printf("# 1. the mock server, in another terminal:\n%s\n", mock ? mock : "");
        free(mock);
    }
    {
        char *home_argv[] = {"mkdir", "-p", env->home, NULL};
        char *mk = rn_shell_join(home_argv);
        printf("# 2. an isolated HOME%s:\nrm -rf '%s' && %s",
               c->home_root_crt_pem ? " with the stale root.crt" : "", env->home, mk ? mk : "");
        free(mk);
        if (c->home_root_crt_pem) {
            char *pg = str_printf("%s/.postgresql", env->home);
            char *crt = str_printf("%s/.postgresql/root.crt", env->home);
            char *cp_argv[] = {"cp", (char *)c->home_root_crt_pem, crt, NULL};
            char *mk_argv[] = {"mkdir", "-p", pg, NULL};
            char *a = rn_shell_join(mk_argv), *b = rn_shell_join(cp_argv);
            printf(" && %s && %s", a ? a : "", b ? b : "");
            free(a);
            free(b);
            free(pg);
            free(crt);
        }
        if (!c->system_cert_file && !exec) {
            char *sys_argv[] = {"mkdir", "-p", env->ssl_cert_dir, NULL};
            char *touch_argv[] = {"touch", env->ssl_cert_file, NULL};
            char *a = rn_shell_join(sys_argv), *b = rn_shell_join(touch_argv);
            printf(" && %s && %s", a ? a : "", b ? b : "");
            free(a);
            free(b);
        }
        printf("\n");
    }
}

/* Runs the adapter's one-shot argv and returns its result object (owned):
 * the second JSON line it printed, or the runner's account of why there is
 * none (timeout, crash, no result line). *out_elapsed gets the wall time. */
static json_t *run_oneshot(const st_case *c, char **argv, int timeout_ms, long long *out_elapsed)
{
    json_t *result;
    char *sout = NULL, *serr = NULL;
    int wstatus = 0;
    pgtls_err rerr;
    err_clear(&rerr);
    long long t0 = time_now_ms();
    if (rn_run_collect(argv, NULL, timeout_ms + 5000, &sout, &serr, &wstatus, &rerr) < 0) {
        result = json_pack("{s:s, s:b, s:s}", "id", c->id, "connected", 0, "error", rerr.msg);
        json_object_set_new(result, rerr.code == PGTLS_ERR_TIMEOUT ? "timeout" : "crashed",
                            json_true());
    } else {
        result = oneshot_result(sout);
        if (!result) {
            char *how = rn_wait_status_text(wstatus);
            char *msg = str_printf("one-shot run printed no result line (%s); stderr: %s",
                                   how ? how : "?", serr ? serr : "");
            result = json_pack("{s:s, s:b, s:b, s:s}", "id", c->id, "connected", 0, "crashed", 1,
                               "error", msg ? msg : "?");
            free(how);
            free(msg);
        }
    }
    *out_elapsed = time_now_ms() - t0;
    free(sout);
    free(serr);
    return result;
}

/* The result, the events and the class line of `repro --exec`. */
static void print_judgement(json_t *result, json_t *events, const st_judgement *j,
                            long long elapsed)
{
    char *rs = json_dumps(result, JSON_COMPACT);
    char *es = json_dumps(events, JSON_COMPACT);
    printf("result: %s\nevents: %s\n", rs ? rs : "null", es ? es : "[]");
    printf("class: %s (%s), expected %s: %s%s%s (%lld ms)\n", st_class_name(j->observed.cls),
           j->observed.evidence, st_class_name(j->expected.cls), st_verdict_name(j->verdict),
           j->deviation.name ? ", known deviation " : "", j->deviation.name ? j->deviation.name : "",
           elapsed);
    if (j->missed_prediction.name && st_verdict_is_failure(j->verdict))
        printf("deviation %s predicts %s, not %s\n", j->missed_prediction.name,
               st_class_name(j->missed_prediction.predicted), st_class_name(j->observed.cls));
    free(rs);
    free(es);
}

int rn_repro(const rn_repro_options *o, pgtls_err *err)
{
    fx_index *idx = NULL;
    st_suite *suite = NULL;
    st_case_list cases = {0};
    const st_case *c;
    rn_client client = {0};
    ms_server *ms = NULL;
    rn_entra *entra = NULL;
    repro_events ev = {.mu = PTHREAD_MUTEX_INITIALIZER, .events = json_array()};
    rn_case_env env = {0};
    json_t *base = NULL, *line = NULL, *result = NULL;
    char **argv = NULL, *cmd = NULL, *work = NULL;
    long long elapsed = 0;
    int status = 2, port = o->port > 0 ? o->port : 54320, listener = -1;

    if (o->regen && ca_gen_if_stale(NULL, o->fixtures_dir, NULL, 3600, err) < 0)
        goto out;
    idx = fx_index_load(o->fixtures_dir, err);
    if (!idx)
        goto out;
    suite = st_suite_load(o->suite_path ? o->suite_path : st_default_suite_path(), err);
    if (!suite)
        goto out;
    TRY(st_expand(suite, idx, &cases, err));
    c = st_case_find(&cases, o->case_id);
    ENSURE(c, err, PGTLS_ERR_USAGE,
           "no case '%s' in suite %s (case ids are in matrix.json and the report)", o->case_id,
           st_suite_name(suite));
    if (rn_client_probe(o->clients_dir, o->client, &o->paths, 30000, &client) < 0 ||
        !client.manifest) {
        err_set(err, PGTLS_ERR_USAGE, "client %s: %s", o->client,
                client.unusable ? client.unusable : "out of memory");
        goto out;
    }
    const char *tmp = getenv("TMPDIR");
    if (o->exec) {
        ENSURE(!client.unusable, err, PGTLS_ERR_INPUT, "client %s is unusable: %s", o->client,
               client.unusable);
        work = str_printf("%s/pgtls-repro-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        ENSURE(work && mkdtemp(work), err, PGTLS_ERR_IO, "cannot create a temporary folder");
        ms_options mo = {.fixtures_dir = fx_index_dir(idx),
                         .bind_addr = "127.0.0.1",
                         .event_fd = -1,
                         .on_event = on_event,
                         .userdata = &ev,
                         .timeout_ms = o->timeout_ms + 2000};
        ms = ms_server_new(&mo, err);
        if (!ms)
            goto out;
        listener = ms_server_listen(ms, c->scenario, o->port, &port, err);
        if (listener < 0)
            goto out;
        TRY(ms_server_start(ms, err));
        TRY(rn_entra_start(fx_index_dir(idx), &c, 1, &entra, err));
        ENSURE(!c->token || (client.hello && rn_hello_has_feature(client.hello, "entra")), err,
               PGTLS_ERR_INPUT,
               "client %s has no Microsoft Entra ID token mode, so case %s is unsupported for it "
               "(docs/entra.md lists the adapters that have one)",
               o->client, c->id);
    } else {
        work = str_printf("%s/pgtls-repro", tmp && *tmp ? tmp : "/tmp");
        ENSURE(work, err, PGTLS_ERR_NOMEM, "out of memory");
    }
    if (o->exec) {
        TRY(rn_case_env_prepare(c, work, 0, &env, err));
    } else {
        /* Only printed: the commands below create it. */
        env.home = str_printf("%s/home-0", work);
        if (c->system_cert_file) {
            env.ssl_cert_file = strdup(c->system_cert_file);
            env.ssl_cert_dir = c->system_cert_dir ? strdup(c->system_cert_dir) : NULL;
        } else {
            env.ssl_cert_file = str_printf("%s/empty-system/ca-certificates.crt", work);
            env.ssl_cert_dir = str_printf("%s/empty-system", work);
        }
        ENSURE(env.home && env.ssl_cert_file, err, PGTLS_ERR_NOMEM, "out of memory");
    }
    base = st_case_to_json(c);
    rn_target t = {.hostaddr = "127.0.0.1", .port = port};
    line = base ? rn_case_json(base, &t, o->timeout_ms, &env) : NULL;
    if (line && o->exec)
        TRY(rn_entra_case(entra, c, line, err));
    argv = line ? rn_case_oneshot_argv(client.manifest, line) : NULL;
    cmd = argv ? rn_shell_join(argv) : NULL;
    ENSURE(cmd, err, PGTLS_ERR_NOMEM, "out of memory");

    const char *libpq =
        client.hello ? json_string_value(json_object_get(client.hello, "libpq")) : NULL;
    /* The plan line; the verdict below comes from st_judge with the same inputs. */
    st_expectation ex = st_expect(c, st_libpq_major(libpq));
    printf("# case %s, client %s: expected %s (%s: %s)\n", c->id, o->client, st_class_name(ex.cls),
           ex.rule ? ex.rule : "?", ex.why ? ex.why : "");
    print_mock_and_home(c, idx, port, &env, o->exec);
    if (c->token && !o->exec)
        printf("# token case (%s): the client's Azure SDK needs the token service; --exec runs "
               "it in-process with the mock (docs/entra.md \"Token rows\")\n",
               c->token);
    printf("# 3. the client, one shot (it prints its hello line and the result):\n%s\n", cmd);
    fflush(stdout);
    if (!o->exec) {
        status = 0;
        goto out;
    }

    result = run_oneshot(c, argv, o->timeout_ms, &elapsed);
    ms_server_wait_idle(ms, listener, 2000);
    ms_server_stop(ms); /* no connection thread emits after this */
    rn_events_sort(ev.events);
    pgtls_err derr;
    err_clear(&derr);
    st_deviations *dev = st_deviations_load(st_deviations_default_dir(), o->client, &derr);
    st_judgement j = st_judge(c, libpq, ev.events, result, dev);
    print_judgement(result, ev.events, &j, elapsed);
    st_deviations_free(dev);
    status = st_verdict_is_failure(j.verdict) ? 1 : 0;
out:
    ms_server_free(ms);
    rn_entra_stop(entra);
    if (o->exec && work && !o->keep_temp) {
        pgtls_err ignore;
        fs_remove_tree(work, &ignore);
    }
    free(work);
    rn_case_env_cleanup(&env);
    rn_strv_free(argv);
    free(cmd);
    json_decref(base);
    json_decref(line);
    json_decref(result);
    json_decref(ev.events);
    rn_client_cleanup(&client);
    st_case_list_cleanup(&cases);
    st_suite_free(suite);
    fx_index_free(idx);
    return status;
}
