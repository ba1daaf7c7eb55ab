/* pgtls: `pgtls-fidelity compare`, the fidelity suite (docs/fidelity.md).
 *
 * Runs the SAME cases of a suite with the same adapters against the embedded
 * mock and against a real PostgreSQL configured like each scenario
 * (fd_real), and compares what each client saw: the outcome class (the
 * suites' classifier on the adapter's result alone, so both sides are classed
 * from the same evidence), the error text normalised for ports, paths and
 * PIDs, and the query result. Every difference is a failure, printed as a
 * table (case, client, mock, real). Scenarios and cases a real server cannot
 * express are listed as such.
 *
 * Single-threaded and scenario-major: one real cluster serves one scenario at
 * a time, so all clients run a scenario's cases before the next restart. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca.h"
#include "fd.h"
#include "fd_compare.h"
#include "fs.h"
#include "paths.h"
#include "ms.h"
#include "pgtls-config.h"
#include "rn.h"
#include "st.h"
#include "vocab.h"

static volatile sig_atomic_t stop_flag;

/* ENSURE for this file's single exit with a printed error. */
#define CHECK(cond, code, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            err_set(&err, (code), __VA_ARGS__);                                                    \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

static void on_stop(int sig)
{
    stop_flag = sig;
}

typedef struct cmp_ctx {
    pthread_mutex_t mu;
    json_t *events; /* events of the mock listener in use (under mu) */
} cmp_ctx;

static void on_event(void *userdata, int listener_id, const char *json_line)
{
    cmp_ctx *c = userdata;
    json_t *ev = json_loads(json_line, 0, NULL);
    (void)listener_id;
    if (!ev)
        ev = json_pack("{s:s}", "unparsed", json_line);
    pthread_mutex_lock(&c->mu);
    json_array_append_new(c->events, ev);
    pthread_mutex_unlock(&c->mu);
}

static json_t *take_events(cmp_ctx *c)
{
    json_t *out;
    pthread_mutex_lock(&c->mu);
    out = c->events;
    c->events = json_array();
    pthread_mutex_unlock(&c->mu);
    return out;
}

static char **split_list(const char *s)
{
    return vc_split(s, ",", 0);
}

static int in_list(char **list, const char *s)
{
    for (char **p = list; p && *p; p++)
        if (strcmp(*p, s) == 0)
            return 1;
    return 0;
}

/* Runs one case line on a session; returns the result object (owned). */
static json_t *run_case(rn_session *s, const st_case *c, const json_t *base, int port,
                        int timeout_ms, const char *work_dir, unsigned long seq)
{
    rn_target t = {.hostaddr = "127.0.0.1", .port = port};
    rn_case_env env = {0};
    rn_reply rep = {0};
    json_t *line = NULL, *result = NULL;
    char *text = NULL;
    pgtls_err err;

    err_clear(&err);
    if (rn_case_env_prepare(c, work_dir, seq, &env, &err) < 0) {
        result = json_pack("{s:s, s:b, s:s}", "id", c->id, "connected", 0, "error", err.msg);
        goto out;
    }
    line = rn_case_json(base, &t, timeout_ms, &env);
    text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    if (!text) {
        result = json_pack("{s:s, s:b, s:s}", "id", c->id, "connected", 0, "error",
                           "fidelity: out of memory");
        goto out;
    }
    rn_session_call(s, text, timeout_ms + 3000, &stop_flag, &rep);
    if (rep.status == RN_REPLY_OK) {
        result = rep.result;
        rep.result = NULL;
    } else {
        result = json_pack("{s:s, s:b, s:s, s:b}", "id", c->id, "connected", 0, "error",
                           rep.detail ? rep.detail : "adapter gave no result",
                           rep.status == RN_REPLY_TIMEOUT ? "timeout" : "crashed", 1);
    }
out:
    if (env.home) {
        pgtls_err ignore;
        fs_remove_tree(env.home, &ignore);
    }
    rn_case_env_cleanup(&env);
    rn_reply_cleanup(&rep);
    json_decref(line);
    free(text);
    return result;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* `--real-only`: one case with one client against the real server, judged
 * as `pgtls run` judges a row (st_judge; no mock events, so classed on the
 * result alone). Prints a FAIL line and counts it in *fails. Returns the
 * row of the --out document (new reference). */
static json_t *judge_on_real(rn_session *s, const rn_client *client, const st_deviations *devs,
                             const st_case *c, const json_t *base, int port, int timeout_ms,
                             const char *work_dir, unsigned long seq, size_t *fails)
{
    json_t *rr = run_case(s, c, base, port, timeout_ms, work_dir, seq), *row;
    st_judgement jg = st_judge(c, jstr(client->hello, "libpq"), NULL, rr, devs);
    if (st_verdict_is_failure(jg.verdict)) {
        (*fails)++;
        printf("FAIL %s %s: expected %s (%s), observed %s: %s\n", client->name, c->id,
               st_class_name(jg.expected.cls), jg.expected.rule, st_class_name(jg.observed.cls),
               jstr(rr, "error") ? jstr(rr, "error") : "(no error)");
    }
    row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "case", c->id, "client", client->name,
                    "expected", st_class_name(jg.expected.cls), "real_class",
                    st_class_name(jg.observed.cls), "verdict", st_verdict_name(jg.verdict), "real",
                    rr);
    json_decref(rr);
    return row;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: pgtls-fidelity compare [--fixtures DIR] [--suite FILE] [--clients a,b]\n"
                 "         [--any-of c,d] [--scenarios x,y] [--timeout-ms N] [--out FILE.json]\n"
                 "         [--bindir DIR] [--clients-dir DIR] [--real-only]\n"
                 "\n"
                 "Runs the suite's cases (default suite: suites/default.suite) with each client\n"
                 "against the mock and against a real PostgreSQL configured like the same\n"
                 "scenario, and prints every difference in outcome class, error text (ports,\n"
                 "paths and PIDs normalised) or query result. --clients must all be usable;\n"
                 "of --any-of at least one must be (the others are reported and skipped).\n"
                 "Default clients: libpq,psql with any of pgjdbc,pgx,node-postgres,pg8000.\n"
                 "--real-only runs the suite against the real server alone, as `pgtls run`\n"
                 "does against the mock: each case's observed class against the expected one\n"
                 "(libpq semantics, known deviations), failing cases listed.\n"
                 "Exit: 0 no difference (real-only: every case conforms), 1 differences\n"
                 "(failing cases), 2 usage/input error.\n");
}

/* The options of `compare` (defaults set by the caller). */
typedef struct cmp_args {
    const char *fixtures, *suite_path, *clients_arg, *any_arg, *scen_arg, *out_path, *bindir,
        *clients_dir;
    int timeout_ms, real_only;
} cmp_args;

/* Parses argv into *ca. Returns -1 to go on, or the exit status to return
 * (0 after --help, 2 after a usage error, printed). */
static int parse_args(int argc, char **argv, cmp_args *ca)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--real-only") == 0) {
            ca->real_only = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "pgtls-fidelity compare: %s needs a value (see --help)\n", a);
            return 2;
        }
        if (strcmp(a, "--fixtures") == 0)
            ca->fixtures = v;
        else if (strcmp(a, "--suite") == 0)
            ca->suite_path = v;
        else if (strcmp(a, "--clients") == 0)
            ca->clients_arg = v;
        else if (strcmp(a, "--any-of") == 0)
            ca->any_arg = v;
        else if (strcmp(a, "--scenarios") == 0)
            ca->scen_arg = v;
        else if (strcmp(a, "--out") == 0)
            ca->out_path = v;
        else if (strcmp(a, "--bindir") == 0)
            ca->bindir = v;
        else if (strcmp(a, "--clients-dir") == 0)
            ca->clients_dir = v;
        else if (strcmp(a, "--timeout-ms") == 0) {
            char *end;
            long t = strtol(v, &end, 10);
            if (*end || t < 100 || t > 600000) {
                fprintf(stderr, "pgtls-fidelity compare: --timeout-ms wants 100..600000\n");
                return 2;
            }
            ca->timeout_ms = (int)t;
        } else {
            fprintf(stderr, "pgtls-fidelity compare: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        i++;
    }
    return -1;
}

int fd_compare_main(int argc, char **argv)
{
    const char *fixtures = NULL, *suite_path = NULL, *out_path = NULL, *bindir = NULL;
    const char *clients_arg = "libpq,psql", *any_arg = "pgjdbc,pgx,node-postgres,pg8000";
    const char *clients_dir = NULL, *scen_arg = NULL;
    char *fixtures_default = NULL, *clients_dir_default = NULL, *work_dir = NULL;
    char **want = NULL, **any = NULL, **scen_filter = NULL;
    int timeout_ms = 5000, status = 2, mock_port = 0, real_only = 0;
    size_t real_fails = 0;
    st_deviations **devs = NULL;
    pgtls_err err;
    fx_index *idx = NULL;
    st_suite *suite = NULL;
    st_case_list cases = {0};
    rn_client *clients = NULL;
    rn_session *sessions = NULL;
    size_t num_clients = 0;
    ms_server *ms = NULL;
    fd_real *real = NULL;
    cmp_ctx cc = {.events = NULL};
    fd_diff_list diffs = {0};
    json_t *rows = json_array(), *unexpressible = json_array();
    size_t compared = 0, scen_covered = 0, scen_unexpressible = 0, cases_unexpressible = 0;
    rn_paths paths = {pgtls_exec_root(), pgtls_data_root()};
    struct sigaction sa;

    pthread_mutex_init(&cc.mu, NULL);
    cc.events = json_array();
    err_clear(&err);
    {
        cmp_args ca = {.clients_arg = clients_arg, .any_arg = any_arg, .timeout_ms = timeout_ms};
        int rc = parse_args(argc, argv, &ca);
        if (rc >= 0) {
            status = rc;
            goto out;
        }
        fixtures = ca.fixtures;
        suite_path = ca.suite_path;
        clients_arg = ca.clients_arg;
        any_arg = ca.any_arg;
        scen_arg = ca.scen_arg;
        out_path = ca.out_path;
        bindir = ca.bindir;
        clients_dir = ca.clients_dir;
        timeout_ms = ca.timeout_ms;
        real_only = ca.real_only;
    }
    want = split_list(clients_arg);
    any = split_list(any_arg);
    scen_filter = scen_arg ? split_list(scen_arg) : NULL;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Fixtures: the same files serve both servers. */
    if (!fixtures) {
        fixtures_default = fs_join(PGTLS_BUILD_ROOT, "fidelity/fixtures");
        fixtures = fixtures_default;
        if (ca_gen_if_stale(NULL, fixtures, NULL, 3600, &err) < 0)
            goto fail;
    }
    if (!(idx = fx_index_load(fixtures, &err)))
        goto fail;
    if (!suite_path)
        suite_path = st_default_suite_path();
    if (!(suite = st_suite_load(suite_path, &err)) || st_expand(suite, idx, &cases, &err) < 0)
        goto fail;

    /* Clients. */
    if (!clients_dir) {
        const char *e = getenv("PGTLS_CLIENTS_DIR");
        clients_dir_default = fs_join(pgtls_data_root(), "clients");
        clients_dir = e && *e ? e : clients_dir_default;
    }
    {
        size_t n = 0, usable_any = 0;
        for (char **p = want; p && *p; p++)
            n++;
        for (char **p = any; p && *p; p++)
            n++;
        clients = calloc(n + 1, sizeof(*clients));
        sessions = calloc(n + 1, sizeof(*sessions));
        CHECK(clients && sessions, PGTLS_ERR_NOMEM, "out of memory");
        for (int pass = 0; pass < 2; pass++)
            for (char **p = pass ? any : want; p && *p; p++) {
                rn_client *c = &clients[num_clients];
                if (rn_client_probe(clients_dir, *p, &paths, 60000, c) < 0)
                    CHECK(0, PGTLS_ERR_NOMEM, "out of memory");
                if (c->unusable) {
                    if (!pass) {
                        err_set(&err, PGTLS_ERR_CONFIG, "client %s is not usable: %s", *p,
                                c->unusable);
                        rn_client_cleanup(c);
                        goto fail;
                    }
                    printf("client %s skipped: %s\n", *p, c->unusable);
                    rn_client_cleanup(c);
                    continue;
                }
                if (pass)
                    usable_any++;
                rn_session_init(&sessions[num_clients], c->manifest->argv,
                                c->manifest->startup_timeout_ms);
                num_clients++;
            }
        CHECK(!any || !any[0] || usable_any, PGTLS_ERR_CONFIG,
              "none of the drivers %s is usable: install one (ci/setup.sh runs every "
              "clients/<name>/install)",
              any_arg);
    }

    devs = calloc(num_clients + 1, sizeof(*devs));
    CHECK(devs, PGTLS_ERR_NOMEM, "out of memory");
    for (size_t ci = 0; ci < num_clients; ci++)
        if (!(devs[ci] = st_deviations_load(st_deviations_default_dir(), clients[ci].name, &err)))
            goto fail;

    /* The two servers. */
    {
        ms_options mo = {.fixtures_dir = fixtures,
                         .bind_addr = "127.0.0.1",
                         .event_fd = -1,
                         .on_event = on_event,
                         .userdata = &cc};
        if (!(ms = ms_server_new(&mo, &err)) || ms_server_start(ms, &err) < 0)
            goto fail;
    }
    if (!(real = fd_real_new(bindir, &err)))
        goto fail;
    work_dir = str_printf("%s/pgtls-fdc-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    CHECK(work_dir && mkdtemp(work_dir), PGTLS_ERR_IO, "cannot make a work folder");

    printf("fidelity: %zu cases from %s, %zu clients, real PostgreSQL %d\n", cases.num_cases,
           suite_path, num_clients, fd_real_pg_major(real));
    /* Scenario-major: cases are sorted by id, whose first part is the scenario. */
    for (size_t i = 0; i < cases.num_cases && !stop_flag;) {
        const char *scen = cases.cases[i].scenario;
        size_t j = i;
        const fx_scenario *sc = fx_scenario_find(idx, scen);
        const char *why;
        int listener;
        while (j < cases.num_cases && strcmp(cases.cases[j].scenario, scen) == 0)
            j++;
        if (scen_filter && !in_list(scen_filter, scen)) {
            i = j;
            continue;
        }
        why = sc ? fd_scenario_unexpressible(sc, fd_real_pg_major(real)) : "not in the index";
        if (why) {
            scen_unexpressible++;
            json_array_append_new(unexpressible, json_pack("{s:s, s:s, s:i}", "scenario", scen,
                                                           "reason", why, "cases", (int)(j - i)));
            i = j;
            continue;
        }
        {
            /* The mock plays the real server's major (its server_version
             * profile; direct TLS from 17 on), whatever the scenario says. */
            char version_kv[64], direct_kv[32];
            const char *settings[] = {version_kv, direct_kv, NULL};
            snprintf(version_kv, sizeof(version_kv), "server_version=%s",
                     fd_real_server_version(real));
            snprintf(direct_kv, sizeof(direct_kv), "direct_tls=%s",
                     sc->server.direct_tls && fd_real_pg_major(real) >= 17 ? "true" : "false");
            listener = real_only ? 0
                                 : ms_server_listen_ex(ms, scen, 0, settings, &mock_port, &err);
        }
        if (listener < 0 || fd_real_start(real, sc, &err) < 0)
            goto fail;
        scen_covered++;
        for (size_t k = i; k < j && !stop_flag; k++) {
            const st_case *c = &cases.cases[k];
            json_t *base = st_case_to_json(c);
            const char *case_why = fd_case_unexpressible(sc, base, fd_real_pg_major(real));
            if (case_why) {
                cases_unexpressible++;
                json_array_append_new(unexpressible,
                                      json_pack("{s:s, s:s}", "case", c->id, "reason", case_why));
                json_decref(base);
                continue;
            }
            for (size_t ci = 0; ci < num_clients && !stop_flag; ci++) {
                json_t *rm, *rr, *ev;
                st_observation om, orr, om_events;
                fd_outcome m, r;
                const char *what = NULL;
                /* A field case is only for the clients its block lists. */
                if (!st_case_applies_to(c, clients[ci].name))
                    continue;
                if (real_only) {
                    json_t *row = judge_on_real(&sessions[ci], &clients[ci], devs[ci], c, base,
                                                fd_real_port(real), timeout_ms, work_dir,
                                                (unsigned long)(k * 16 + ci), &real_fails);
                    compared++;
                    json_array_append_new(rows, row);
                    continue;
                }
                json_decref(take_events(&cc));
                rm = run_case(&sessions[ci], c, base, mock_port, timeout_ms, work_dir,
                              (unsigned long)(k * 16 + ci));
                ms_server_wait_idle(ms, listener, 2000);
                ev = take_events(&cc);
                rn_events_sort(ev);
                rr = run_case(&sessions[ci], c, base, fd_real_port(real), timeout_ms, work_dir,
                              (unsigned long)(k * 16 + ci));
                om = st_classify(NULL, rm);
                orr = st_classify(NULL, rr);
                om_events = st_classify(ev, rm);
                m = (fd_outcome){st_class_name(om.cls), jstr(rm, "error"),
                                 jstr(rm, "query_result")};
                r = (fd_outcome){st_class_name(orr.cls), jstr(rr, "error"),
                                 jstr(rr, "query_result")};
                compared++;
                if (fd_outcomes_differ(&m, &r, jstr(base, "query"), &what))
                    fd_diff_add(&diffs, c->id, clients[ci].name, what, &m, &r);
                json_array_append_new(rows,
                                      json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:s?}", "case",
                                                c->id, "client", clients[ci].name, "mock_class",
                                                m.cls, "mock_class_with_events",
                                                st_class_name(om_events.cls), "real_class", r.cls,
                                                "mock", rm, "real", rr, "differs_in", what));
                json_decref(rm);
                json_decref(rr);
                json_decref(ev);
            }
            json_decref(base);
        }
        i = j;
    }
    if (stop_flag) {
        err_set(&err, PGTLS_ERR_FAILED, "interrupted by signal %d", (int)stop_flag);
        goto fail;
    }

    printf("\nfidelity: compared %zu (case, client) pairs over %zu scenarios; %zu scenarios "
           "and %zu cases not expressible on a real PostgreSQL %d\n",
           compared, scen_covered, scen_unexpressible, cases_unexpressible, fd_real_pg_major(real));
    if (json_array_size(unexpressible)) {
        size_t ui;
        json_t *u;
        printf("\nnot expressible on a real server (not compared):\n");
        json_array_foreach(unexpressible, ui, u)
        {
            if (jstr(u, "scenario"))
                printf("  scenario %s (%d cases): %s\n", jstr(u, "scenario"),
                       (int)json_integer_value(json_object_get(u, "cases")), jstr(u, "reason"));
        }
        if (cases_unexpressible)
            printf("  %zu single cases (e.g. sslnegotiation=direct): see --out\n",
                   cases_unexpressible);
    }
    if (real_only) {
        printf("\nagainst the real server: %zu of %zu (case, client) pairs fail\n", real_fails,
               compared);
        status = real_fails ? 1 : 0;
    } else if (diffs.num_rows) {
        printf("\n%zu difference(s) between the mock and the real server:\n\n", diffs.num_rows);
        fd_diff_print(stdout, &diffs);
        status = 1;
    } else {
        printf("\nno difference between the mock and the real server\n");
        status = 0;
    }
    if (out_path) {
        json_t *doc = json_pack(
            "{s:s, s:i, s:i, s:i, s:i, s:i, s:O, s:O}", "schema", "pgtls-fidelity/1", "pg_major",
            fd_real_pg_major(real), "compared", (int)compared, "scenarios_covered",
            (int)scen_covered, "scenarios_not_expressible", (int)scen_unexpressible, "differences",
            (int)diffs.num_rows, "not_expressible", unexpressible, "rows", rows);
        if (!doc || json_dump_file(doc, out_path, JSON_INDENT(1)) < 0)
            fprintf(stderr, "pgtls-fidelity compare: cannot write %s\n", out_path);
        json_decref(doc);
    }
    goto out;
fail:
    fprintf(stderr, "pgtls-fidelity compare: %s\n", err.msg);
    status = err.code == PGTLS_OK ? 2 : err_exit_status(err.code);
out:
    for (size_t i = 0; i < num_clients; i++) {
        rn_session_cleanup(&sessions[i]);
        rn_client_cleanup(&clients[i]);
    }
    free(sessions);
    free(clients);
    for (size_t i = 0; devs && i < num_clients; i++)
        st_deviations_free(devs[i]);
    free(devs);
    fd_real_free(real);
    if (ms)
        ms_server_free(ms);
    if (work_dir) {
        pgtls_err ignore;
        fs_remove_tree(work_dir, &ignore);
    }
    free(work_dir);
    st_case_list_cleanup(&cases);
    st_suite_free(suite);
    fx_index_free(idx);
    fd_diff_list_cleanup(&diffs);
    json_decref(rows);
    json_decref(unexpressible);
    json_decref(cc.events);
    pthread_mutex_destroy(&cc.mu);
    rn_strv_free(want);
    rn_strv_free(any);
    rn_strv_free(scen_filter);
    free(fixtures_default);
    free(clients_dir_default);
    return status;
}
