/* pgtls runner: `pgtls run`, the matrix against the embedded mock server.
 *
 * Timing model (docs/runner.md): N workers (threads); worker w owns one
 * listener per scenario (so whatever connects to it belongs to w's current
 * case) and one adapter process for the client it is working on (batch mode,
 * docs/case-protocol.md). Work items are (client, case) pairs in client-major
 * order, taken from one shared counter, so the workers move through a client
 * together and an adapter process serves many cases. A case costs: HOME
 * set-up, one line each way, then ms_server_wait_idle on its listener so
 * every event of its connections (prefer can make two) is in before the next
 * case starts on that listener. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "fs.h"
#include "ms.h"
#include "rn.h"
#include "rs.h"
#include "st.h"
#include "st_calendar.h"

#define RN_FIXTURES_MAX_AGE_S 3600 /* relative validity windows drift */
#define RN_MATRIX_FLUSH_MS 5000    /* partial matrix.json while running */

typedef struct run_client {
    rn_client probe;   /* manifest + hello */
    int matrix_client; /* rs_matrix_add_client index */
    st_deviations *deviations;
    size_t total, done, conform, deviation, unsupported, fails, errors;
    long long first_ms, last_ms;
    int reported; /* its finished line was printed */
    char **world_argv;  /* the adapter argv wrapped for the trust world, or NULL */
    char *world_error;  /* why its default trust could not be translated, or NULL */
} run_client;

typedef struct run_item {
    size_t client, case_i;
} run_item;

typedef struct run_ctx run_ctx;

typedef struct worker {
    run_ctx *r;
    int index;
    char *work_dir;
    int *listener; /* per scenario */
    int *port;
    pthread_t thread;
    int started;
} worker;

struct run_ctx {
    const rn_run_options *o;
    volatile sig_atomic_t *stop;
    fx_index *idx;
    st_suite *suite;
    st_case_list all;
    const st_case **cases; /* the selected cases */
    json_t **bases;        /* st_case_to_json per selected case */
    size_t *case_scenario; /* index into scenarios[] per selected case */
    size_t num_cases;
    char **scenarios; /* distinct scenarios of the selected cases */
    size_t num_scenarios;
    run_client *clients;
    size_t num_clients;
    run_item *items;
    size_t num_items, next_item, done_items, failed_items;
    worker *workers;
    int num_workers;
    int running_workers;
    ms_server *ms;
    rn_entra *entra; /* token services of the token cases, or NULL */
    rs_matrix *matrix;
    json_t *events; /* "listener id" -> array of events (under mu) */
    pthread_mutex_t mu;
    char *work_dir;
    rn_world *world; /* NULL: --trust-world off */
    long long started_ms;
    char **fail_lines; /* "FAIL client case: ..." for the summary */
    size_t num_fail_lines;
};

/* ---------------------------------------------------------------- events */

static void on_event(void *userdata, int listener_id, const char *json_line)
{
    run_ctx *r = userdata;
    char key[16];
    json_t *ev = json_loads(json_line, 0, NULL);

    if (!ev) /* keep what the mock said even if it is not JSON */
        ev = json_pack("{s:s}", "unparsed", json_line);
    snprintf(key, sizeof(key), "%d", listener_id);
    pthread_mutex_lock(&r->mu);
    json_t *arr = json_object_get(r->events, key);
    if (!arr) {
        arr = json_array();
        json_object_set_new(r->events, key, arr);
    }
    json_array_append_new(arr, ev);
    pthread_mutex_unlock(&r->mu);
}

/* Takes (and resets) every event the listener emitted since the last take. */
static json_t *take_events(run_ctx *r, int listener_id)
{
    char key[16];
    json_t *out;

    snprintf(key, sizeof(key), "%d", listener_id);
    pthread_mutex_lock(&r->mu);
    out = json_object_get(r->events, key);
    if (out) {
        json_incref(out);
        json_object_set_new(r->events, key, json_array());
    }
    pthread_mutex_unlock(&r->mu);
    return out ? out : json_array();
}

/* ---------------------------------------------------------------- one case */

/* What st_classify gets when the adapter gave no result line: the runner's
 * account of it (docs/runner.md, "Rows the runner writes"). */
static json_t *synthetic_result(const st_case *c, const rn_reply *rep)
{
    json_t *o = json_pack("{s:s, s:b, s:n}", "id", c->id, "connected", 0, "tls");
    char *how = rep->exit_status >= 0 ? rn_wait_status_text(rep->exit_status) : NULL;
    char *err =
        str_printf("%s%s%s", rep->detail ? rep->detail : "?", rep->stderr_tail ? "\nstderr:\n" : "",
                   rep->stderr_tail ? rep->stderr_tail : "");
    if (rep->status == RN_REPLY_TIMEOUT)
        json_object_set_new(o, "timeout", json_true());
    else
        json_object_set_new(o, "crashed", json_true());
    json_object_set_new(o, "error", err ? json_string(err) : json_null());
    json_object_set_new(o, "exit_status", how ? json_string(how) : json_null());
    json_object_set_new(o, "stderr_tail",
                        rep->stderr_tail ? json_string(rep->stderr_tail) : json_null());
    json_object_set_new(o, "elapsed_ms", json_integer(rep->wall_ms));
    free(how);
    free(err);
    return o;
}

static char *repro_command(run_ctx *r, const run_client *rc, const st_case *c)
{
    const rn_run_options *o = r->o;
    char *argv[12];
    int n = 0;
    argv[n++] = "pgtls";
    argv[n++] = "repro";
    argv[n++] = (char *)c->id;
    argv[n++] = "--client";
    argv[n++] = rc->probe.name;
    argv[n++] = "--fixtures";
    argv[n++] = (char *)fx_index_dir(r->idx);
    if (o->suite_path) {
        argv[n++] = "--suite";
        argv[n++] = (char *)o->suite_path;
    }
    argv[n] = NULL;
    return rn_shell_join(argv);
}

/* Counts a recorded row; verdict is the recorded one (-1: it could not be
 * recorded), j the judgement it was recorded with. */
static void count_verdict(run_ctx *r, run_client *rc, const st_case *c, int verdict,
                          const st_judgement *j)
{
    pthread_mutex_lock(&r->mu);
    rc->done++;
    r->done_items++;
    rc->last_ms = time_now_ms();
    switch (verdict) {
    case ST_CONFORMS:
        rc->conform++;
        break;
    case ST_DEVIATION_KNOWN:
        rc->deviation++;
        break;
    case ST_VERDICT_UNSUPPORTED:
        rc->unsupported++;
        break;
    case ST_FAILS:
        rc->fails++;
        break;
    default:
        rc->errors++;
        break;
    }
    if (verdict == ST_FAILS || verdict < 0 || verdict == ST_VERDICT_ERROR) {
        r->failed_items++;
        char **grown = realloc(r->fail_lines, (r->num_fail_lines + 1) * sizeof(char *));
        if (grown) {
            r->fail_lines = grown;
            const st_deviation_match *mp = &j->missed_prediction;
            r->fail_lines[r->num_fail_lines] = str_printf(
                "%s %s %s: expected %s, observed %s (%s)%s%s%s%s",
                verdict == ST_FAILS ? "FAIL" : "ERROR", rc->probe.name, c->id,
                st_class_name(j->expected.cls), st_class_name(j->observed.cls),
                j->observed.evidence, mp->name ? "; deviation " : "", mp->name ? mp->name : "",
                mp->name ? " predicts " : "", mp->name ? st_class_name(mp->predicted) : "");
            if (r->fail_lines[r->num_fail_lines])
                r->num_fail_lines++;
        }
    }
    pthread_mutex_unlock(&r->mu);
}

static void run_one(worker *w, rn_session *s, const run_item *it, size_t seq)
{
    run_ctx *r = w->r;
    const rn_run_options *o = r->o;
    run_client *rc = &r->clients[it->client];
    const st_case *c = r->cases[it->case_i];
    size_t sc = r->case_scenario[it->case_i];
    rn_target t = {.hostaddr = "127.0.0.1", .port = w->port[sc]};
    int listener = w->listener[sc];
    rn_case_env env = {0};
    rn_reply rep = {0};
    json_t *line = NULL, *events = NULL, *result = NULL;
    char *text = NULL, *repro = NULL;
    pgtls_err err;
    long long t0 = time_now_ms();
    st_judgement judgement;
    int verdict;

    err_clear(&err);
    pthread_mutex_lock(&r->mu);
    if (!rc->first_ms)
        rc->first_ms = t0;
    pthread_mutex_unlock(&r->mu);
    if (c->world_trust && rc->world_error) {
        /* Never a silent fall back to the real roots: the row says why. */
        char *msg = str_printf("trust world: %s", rc->world_error);
        result = json_pack("{s:s, s:b, s:n, s:s}", "id", c->id, "connected", 0, "tls", "error",
                           msg ? msg : rc->world_error);
        free(msg);
        events = json_array();
        goto record;
    }
    if (c->world_trust && rc->probe.manifest->default_trust_untranslatable &&
        (strcmp(c->sslmode, "verify-ca") == 0 || strcmp(c->sslmode, "verify-full") == 0) &&
        c->root_kind == ST_ROOT_UNSET) {
        result = json_pack("{s:s, s:b, s:n, s:s}", "id", c->id, "connected", 0, "tls",
                           "unsupported", rc->probe.manifest->default_trust_untranslatable);
        events = json_array();
        goto record;
    }
    if (c->token && !rn_hello_has_feature(rc->probe.hello, "entra")) {
        /* No Azure SDK behind this adapter: a token case cannot be expressed. */
        char *msg = str_printf("%s has no Microsoft Entra ID token mode (no Azure SDK in its "
                               "adapter; docs/entra.md lists the adapters that have one)",
                               rc->probe.name);
        result = json_pack("{s:s, s:b, s:n, s:s}", "id", c->id, "connected", 0, "tls",
                           "unsupported", msg ? msg : "no Microsoft Entra ID token mode");
        free(msg);
        events = json_array();
        goto record;
    }
    if (c->surface || c->literal) {
        /* A surface the adapter does not list (docs/surfaces.md) is never
         * sent: an adapter that predates the field would ignore it and
         * connect in its default form under the wrong row. */
        char *missing = rn_surface_missing(rc->probe.hello, c);
        if (missing) {
            result = json_pack("{s:s, s:b, s:n, s:s}", "id", c->id, "connected", 0, "tls",
                               "unsupported", missing);
            free(missing);
            events = json_array();
            goto record;
        }
    }
    if (rn_case_env_prepare(c, w->work_dir, (unsigned long)seq, &env, &err) < 0) {
        /* A runner-side failure still gives the case its row. */
        result = json_pack("{s:s, s:b, s:s}", "id", c->id, "connected", 0, "error", err.msg);
        events = json_array();
        goto record;
    }
    line = rn_case_json(r->bases[it->case_i], &t, o->timeout_ms, &env);
    if (line && rn_entra_case(r->entra, c, line, &err) < 0) {
        result = json_pack("{s:s, s:b, s:s}", "id", c->id, "connected", 0, "error", err.msg);
        events = json_array();
        goto record;
    }
    text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    if (!text) {
        result = json_pack("{s:s, s:b, s:s}", "id", c->id, "connected", 0, "error",
                           "runner: out of memory");
        events = json_array();
        goto record;
    }
    json_decref(take_events(r, listener)); /* strays of an earlier case */
    rn_session_call(s, text, o->timeout_ms + o->grace_ms, r->stop, &rep);
    if (rep.status == RN_REPLY_STOPPED)
        goto out; /* unfinished: not a row of the (incomplete) matrix */
    /* Every connection of this case ends in an event; wait for them. */
    ms_server_wait_idle(r->ms, listener, o->idle_wait_ms);
    events = take_events(r, listener);
    rn_events_sort(events);
    if (rep.status == RN_REPLY_OK) {
        result = rep.result;
        rep.result = NULL;
    } else {
        result = synthetic_result(c, &rep);
    }
record:
    repro = repro_command(r, rc, c);
    judgement = st_judge(c, json_string_value(json_object_get(rc->probe.hello, "libpq")), events,
                         result, rc->deviations);
    verdict = rs_matrix_record(r->matrix, rc->matrix_client, c, &judgement, result, events,
                               time_now_ms() - t0, repro, &err);
    if (verdict < 0)
        fprintf(stderr, "pgtls run: %s %s: cannot record: %s\n", rc->probe.name, c->id, err.msg);
    count_verdict(r, rc, c, verdict, &judgement);
out:
    if (env.home && !o->keep_temp) {
        pgtls_err ignore;
        fs_remove_tree(env.home, &ignore);
    }
    rn_case_env_cleanup(&env);
    rn_reply_cleanup(&rep);
    json_decref(line);
    json_decref(events);
    json_decref(result);
    free(text);
    free(repro);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    run_ctx *r = w->r;
    rn_session s;
    size_t current = (size_t)-1;

    for (;;) {
        if (*r->stop)
            break;
        pthread_mutex_lock(&r->mu);
        size_t i = r->next_item < r->num_items ? r->next_item++ : r->num_items;
        pthread_mutex_unlock(&r->mu);
        if (i >= r->num_items)
            break;
        const run_item *it = &r->items[i];
        if (it->client != current) {
            if (current != (size_t)-1)
                rn_session_cleanup(&s);
            const rn_manifest *m = r->clients[it->client].probe.manifest;
            char **argv = r->clients[it->client].world_argv;
            rn_session_init(&s, argv ? argv : m->argv, m->startup_timeout_ms);
            current = it->client;
        }
        run_one(w, &s, it, i);
    }
    if (current != (size_t)-1)
        rn_session_cleanup(&s);
    pthread_mutex_lock(&r->mu);
    r->running_workers--;
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ------------------------------------------------------------ set-up steps */

static int in_list(char **list, const char *s)
{
    for (char **p = list; p && *p; p++)
        if (strcmp(*p, s) == 0)
            return 1;
    return 0;
}

static int select_cases(run_ctx *r, pgtls_err *err)
{
    static const char *const sslmodes[] = {"disable",   "allow",       "prefer", "require",
                                           "verify-ca", "verify-full", NULL};
    const rn_run_options *o = r->o;
    int result = -1;

    for (char **p = o->scenarios; p && *p; p++)
        ENSURE(fx_scenario_find(r->idx, *p), err, PGTLS_ERR_USAGE,
               "--scenarios: unknown scenario '%s' (the fixtures index lists them: pgtls ca list)",
               *p);
    for (char **p = o->sslmodes; p && *p; p++) {
        int ok = 0;
        for (size_t i = 0; sslmodes[i]; i++)
            ok |= strcmp(*p, sslmodes[i]) == 0;
        ENSURE(ok, err, PGTLS_ERR_USAGE,
               "--sslmodes: unknown sslmode '%s' (disable, allow, prefer, require, verify-ca, "
               "verify-full)",
               *p);
    }
    r->cases = calloc(r->all.num_cases + 1, sizeof(*r->cases));
    r->bases = calloc(r->all.num_cases + 1, sizeof(*r->bases));
    r->case_scenario = calloc(r->all.num_cases + 1, sizeof(*r->case_scenario));
    r->scenarios = calloc(r->all.num_cases + 1, sizeof(*r->scenarios));
    ENSURE(r->cases && r->bases && r->case_scenario && r->scenarios, err, PGTLS_ERR_NOMEM,
           "out of memory");
    for (size_t i = 0; i < r->all.num_cases; i++) {
        const st_case *c = &r->all.cases[i];
        if (o->scenarios && !in_list(o->scenarios, c->scenario))
            continue;
        if (o->sslmodes && !in_list(o->sslmodes, c->sslmode))
            continue;
        if (o->stores && !in_list(o->stores, c->store))
            continue;
        size_t sc = 0;
        while (sc < r->num_scenarios && strcmp(r->scenarios[sc], c->scenario) != 0)
            sc++;
        if (sc == r->num_scenarios)
            r->scenarios[r->num_scenarios++] = c->scenario;
        r->bases[r->num_cases] = st_case_to_json(c);
        ENSURE(r->bases[r->num_cases], err, PGTLS_ERR_NOMEM, "out of memory");
        r->case_scenario[r->num_cases] = sc;
        r->cases[r->num_cases++] = c;
    }
    ENSURE(r->num_cases > 0, err, PGTLS_ERR_USAGE,
           "no case left after --scenarios/--sslmodes/--stores (the suite has %zu cases)", r->all.num_cases);
    result = 0;
out:
    return result;
}

static int select_clients(run_ctx *r, pgtls_err *err)
{
    const rn_run_options *o = r->o;
    char **detected = NULL, **names = NULL;
    rn_client *probes = NULL;
    size_t n = 0;
    int count, result = -1;

    count = rn_manifest_list(o->clients_dir, &detected, err);
    if (count < 0)
        goto out;
    if (!o->clients) {
        /* The default matrix is one build per driver configuration: version
         * builds (NAME@VERSION, docs/versions.md) run when --clients names them. */
        size_t k = 0;
        for (size_t i = 0; detected[i]; i++)
            if (strchr(detected[i], '@'))
                free(detected[i]);
            else
                detected[k++] = detected[i];
        detected[k] = NULL;
    }
    names = o->clients ? o->clients : detected;
    while (names[n])
        n++;
    probes = calloc(n + 1, sizeof(*probes));
    r->clients = calloc(n + 1, sizeof(*r->clients));
    ENSURE(probes && r->clients, err, PGTLS_ERR_NOMEM, "out of memory");
    rn_client_probe_all(o->clients_dir, names, &o->paths, 30000, o->jobs, probes);
    for (size_t i = 0; i < n; i++) {
        if (probes[i].unusable) {
            fprintf(stderr, "pgtls run: skipping client %s: %s\n", probes[i].name,
                    probes[i].unusable);
            rn_client_cleanup(&probes[i]);
            continue;
        }
        run_client *rc = &r->clients[r->num_clients++];
        rc->probe = probes[i]; /* ownership moves */
        memset(&probes[i], 0, sizeof(probes[i]));
        rc->deviations = st_deviations_load(st_deviations_default_dir(), rc->probe.name, err);
        if (!rc->deviations)
            goto out;
        int mc = rs_matrix_add_client(r->matrix, rc->probe.hello, err);
        if (mc < 0) {
            err_prefix(err, "client %s", rc->probe.name);
            goto out;
        }
        rc->matrix_client = mc;
        /* The matrix keys a column by the build in the hello: two adapters
         * with the same key would overwrite each other's rows. */
        for (size_t k = 0; k + 1 < r->num_clients; k++)
            if (r->clients[k].matrix_client == mc) {
                fprintf(stderr,
                        "pgtls run: skipping client %s: its hello has the same build key as %s "
                        "(\"%s\"), so its rows would replace that client's; give it a distinct "
                        "\"client\" or \"build\"\n",
                        rc->probe.name, r->clients[k].probe.name,
                        rs_matrix_client_key(r->matrix, mc));
                st_deviations_free(rc->deviations);
                rn_client_cleanup(&rc->probe);
                memset(rc, 0, sizeof(*rc));
                r->num_clients--;
                break;
            }
    }
    ENSURE(r->num_clients > 0, err, PGTLS_ERR_INPUT,
           "no usable client (see the lines above, and pgtls clients)");
    result = 0;
out:
    if (probes)
        for (size_t i = 0; i < n; i++)
            rn_client_cleanup(&probes[i]);
    free(probes);
    rn_strv_free(detected);
    return result;
}

/* The trust world (docs/trust-worlds.md): the host's stores translated,
 * every adapter wrapped to start in it, the cases that rely on the client's
 * own trust marked, and sslrootcert=system judged against the translated OS
 * store (what the client really reads there), not the catalogue's store. */
static int setup_world(run_ctx *r, pgtls_err *err)
{
    const rn_run_options *o = r->o;
    char *helper = str_printf("%s/runner/pgtls-world", o->paths.build_root);
    int result = -1;

    ENSURE(helper, err, PGTLS_ERR_NOMEM, "out of memory");
    r->world = rn_world_new(fx_index_dir(r->idx), r->work_dir, helper, err);
    if (!r->world) {
        err_prefix(err, "cannot build the trust world (or run with --trust-world off)");
        goto out;
    }
    if (!o->tty)
        printf("trust world: %s\n", rn_world_summary(r->world));
    for (size_t i = 0; i < r->num_clients; i++) {
        run_client *rc = &r->clients[i];
        rc->world_argv = rn_world_argv(r->world, rc->probe.manifest->argv, &rc->world_error, err);
        if (!rc->world_argv)
            goto out;
        if (rc->world_error)
            fprintf(stderr, "pgtls run: %s: %s (its default-trust rows are marked)\n",
                    rc->probe.name, rc->world_error);
    }
    for (size_t i = 0; i < r->all.num_cases; i++) {
        st_case *c = &r->all.cases[i];
        const fx_scenario *sc = fx_scenario_find(r->idx, c->scenario);
        char v[128];
        if (c->root_kind != ST_ROOT_UNSET && c->root_kind != ST_ROOT_SYSTEM)
            continue;
        c->world_trust = 1;
        if (c->root_kind != ST_ROOT_SYSTEM)
            continue;
        /* Java's "system" is the JDK's cacerts (translated by the world),
         * not the catalogue's isolated store. */
        free(c->truststore_p12);
        free(c->truststore_password);
        c->truststore_p12 = c->truststore_password = NULL;
        if (!sc || !sc->chain_pem)
            continue;
        TRY(rn_world_verify_os(r->world, sc->chain_pem, v, sizeof(v), err));
        free(c->verify);
        c->verify = strdup(v);
        ENSURE(c->verify, err, PGTLS_ERR_NOMEM, "out of memory");
    }
    /* The adapter case objects were made before: remake those that changed. */
    for (size_t i = 0; i < r->num_cases; i++) {
        if (!r->cases[i]->world_trust)
            continue;
        json_decref(r->bases[i]);
        r->bases[i] = st_case_to_json(r->cases[i]);
        ENSURE(r->bases[i], err, PGTLS_ERR_NOMEM, "out of memory");
    }
    result = 0;
out:
    free(helper);
    return result;
}

static int start_mock(run_ctx *r, pgtls_err *err)
{
    ms_options mo = {.fixtures_dir = fx_index_dir(r->idx),
                     .bind_addr = "127.0.0.1",
                     .event_fd = -1,
                     .on_event = on_event,
                     .userdata = r,
                     .timeout_ms = r->o->timeout_ms + r->o->grace_ms};
    int result = -1;

    r->ms = ms_server_new(&mo, err);
    if (!r->ms)
        goto out;
    for (int w = 0; w < r->num_workers; w++) {
        worker *wk = &r->workers[w];
        wk->listener = calloc(r->num_scenarios + 1, sizeof(int));
        wk->port = calloc(r->num_scenarios + 1, sizeof(int));
        ENSURE(wk->listener && wk->port, err, PGTLS_ERR_NOMEM, "out of memory");
        for (size_t s = 0; s < r->num_scenarios; s++) {
            wk->listener[s] = ms_server_listen(r->ms, r->scenarios[s], 0, &wk->port[s], err);
            if (wk->listener[s] < 0) {
                err_prefix(err, "mock server, scenario %s", r->scenarios[s]);
                goto out;
            }
        }
    }
    TRY(ms_server_start(r->ms, err));
    result = 0;
out:
    return result;
}

/* ---------------------------------------------------------------- progress */

static void print_progress(run_ctx *r, FILE *f)
{
    long long now = time_now_ms();
    size_t done, failed;
    pthread_mutex_lock(&r->mu);
    done = r->done_items;
    failed = r->failed_items;
    pthread_mutex_unlock(&r->mu);
    long long elapsed = now - r->started_ms;
    long long eta = done ? elapsed * (long long)(r->num_items - done) / (long long)done : -1;
    fprintf(f, "\r\033[K[%zu/%zu] %zu failing", done, r->num_items, failed);
    if (eta >= 0)
        fprintf(f, ", %lld s elapsed, ETA %lld s", elapsed / 1000, (eta + 999) / 1000);
    fflush(f);
}

static void print_finished_clients(run_ctx *r, FILE *f, int force)
{
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->num_clients; i++) {
        run_client *rc = &r->clients[i];
        if (rc->reported || (!force && rc->done < rc->total))
            continue;
        rc->reported = 1;
        fprintf(f,
                "%s: %zu/%zu cases, %zu conform, %zu known deviations, %zu unsupported, "
                "%zu fail, %zu errors (%.1f s)\n",
                rc->probe.name, rc->done, rc->total, rc->conform, rc->deviation, rc->unsupported,
                rc->fails, rc->errors,
                rc->last_ms > rc->first_ms ? (double)(rc->last_ms - rc->first_ms) / 1000.0 : 0.0);
    }
    pthread_mutex_unlock(&r->mu);
    fflush(f);
}

/* Points link at target (relative when they share a folder), atomically. */
static void update_latest(const char *link, const char *target)
{
    char *tmp = str_printf("%s.tmp.%ld", link, (long)getpid());
    const char *slash = strrchr(target, '/');
    const char *rel = target;
    if (!tmp)
        return;
    /* out/latest -> run-... when both are in out/. */
    size_t dirlen = strrchr(link, '/') ? (size_t)(strrchr(link, '/') - link) : 0;
    if (slash && dirlen && (size_t)(slash - target) == dirlen && strncmp(link, target, dirlen) == 0)
        rel = slash + 1;
    unlink(tmp);
    if (symlink(rel, tmp) == 0 && rename(tmp, link) != 0)
        unlink(tmp);
    free(tmp);
}

/* ---------------------------------------------------------------- the run */

int rn_run(const rn_run_options *o, volatile sig_atomic_t *stop, pgtls_err *err)
{
    run_ctx r = {.o = o, .stop = stop};
    const char *as_of_text = NULL, *calendar = NULL;
    int status = 2, flush_failed = 0;
    char *matrix_path = NULL;
    FILE *progress = stderr;

    pthread_mutex_init(&r.mu, NULL);
    r.events = json_object();
    ENSURE(r.events, err, PGTLS_ERR_NOMEM, "out of memory");

    /* 0. Usage errors first: --clients must name adapters that exist. */
    if (o->clients) {
        char **detected = NULL;
        if (rn_manifest_list(o->clients_dir, &detected, err) < 0)
            goto out;
        for (char **p = o->clients; *p; p++)
            if (!in_list(detected, *p)) {
                err_set(err, PGTLS_ERR_USAGE,
                        "--clients: no adapter named '%s' in %s (see pgtls clients)", *p,
                        o->clients_dir);
                rn_strv_free(detected);
                goto out;
            }
        rn_strv_free(detected);
    }

    /* 1. Fixtures: reuse when up to date (certs-gen decides), then load. */
    if (o->regen && ca_gen_if_stale_as_of(NULL, o->fixtures_dir, NULL, RN_FIXTURES_MAX_AGE_S,
                                          o->as_of, err) < 0) {
        err_prefix(err, "fixtures %s", o->fixtures_dir);
        goto out;
    }
    r.idx = fx_index_load(o->fixtures_dir, err);
    if (!r.idx)
        goto out;
    {
        /* The fixtures must be dated as asked (--no-gen keeps a folder as it is). */
        const char *dated = json_string_value(json_object_get(fx_index_json(r.idx), "as_of"));
        char want[32] = "";
        if (o->as_of) {
            struct tm tm;
            gmtime_r(&o->as_of, &tm);
            strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
        }
        ENSURE(strcmp(dated ? dated : "", want) == 0, err, PGTLS_ERR_USAGE,
               "fixtures %s are dated as of %s, not %s (drop --no-gen to regenerate them)",
               o->fixtures_dir, dated ? dated : "today", o->as_of ? want : "today");
        as_of_text = dated;
    }
    calendar = st_calendar_version();

    /* 2. Suite and cases. */
    r.suite = st_suite_load(o->suite_path ? o->suite_path : st_default_suite_path(), err);
    if (!r.suite)
        goto out;
    TRY(st_expand(r.suite, r.idx, &r.all, err));
    TRY(select_cases(&r, err));

    /* 3. The matrix and the clients. */
    json_t *idx_json = fx_index_json(r.idx);
    rs_run_info info = {.suite = o->suite_path ? o->suite_path : st_suite_name(r.suite),
                        .fixtures_dir = fx_index_dir(r.idx),
                        .fixtures_sha256 =
                            json_string_value(json_object_get(idx_json, "catalogue_sha256")),
                        .command = o->command_line,
                        .as_of = as_of_text,
                        .calendar = calendar};
    r.matrix = rs_matrix_new(&info, err);
    if (!r.matrix)
        goto out;
    TRY(select_clients(&r, err));

    r.num_items = r.num_clients * r.num_cases;
    r.items = calloc(r.num_items + 1, sizeof(*r.items));
    ENSURE(r.items, err, PGTLS_ERR_NOMEM, "out of memory");
    /* A field case runs only for the clients its report is about: the
     * others get no row (docs/suites.md "Field cases"). */
    r.num_items = 0;
    for (size_t c = 0; c < r.num_clients; c++) {
        r.clients[c].total = 0;
        for (size_t i = 0; i < r.num_cases; i++)
            if (st_case_applies_to(r.cases[i], r.clients[c].probe.name)) {
                r.items[r.num_items++] = (run_item){c, i};
                r.clients[c].total++;
            }
    }
    ENSURE(r.num_items > 0, err, PGTLS_ERR_INPUT,
           "no case of the suite applies to the selected clients (field cases run only for the "
           "clients their block lists)");

    /* 4. Workers and the mock (one listener per scenario per worker). */
    r.num_workers = o->jobs < 1 ? 1 : o->jobs;
    if ((size_t)r.num_workers > r.num_items)
        r.num_workers = (int)r.num_items;
    r.workers = calloc((size_t)r.num_workers, sizeof(*r.workers));
    ENSURE(r.workers, err, PGTLS_ERR_NOMEM, "out of memory");
    {
        const char *tmp = getenv("TMPDIR");
        r.work_dir = str_printf("%s/pgtls-run-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        ENSURE(r.work_dir && mkdtemp(r.work_dir), err, PGTLS_ERR_IO,
               "cannot create a temporary folder under %s: %s", tmp && *tmp ? tmp : "/tmp",
               strerror(errno));
    }
    for (int w = 0; w < r.num_workers; w++) {
        r.workers[w].r = &r;
        r.workers[w].index = w;
        r.workers[w].work_dir = str_printf("%s/w%d", r.work_dir, w);
        ENSURE(r.workers[w].work_dir, err, PGTLS_ERR_NOMEM, "out of memory");
        TRY(fs_mkdir_p(r.workers[w].work_dir, 0700, err));
    }
    if (o->trust_world)
        TRY(setup_world(&r, err));
    TRY(start_mock(&r, err));
    TRY(rn_entra_start(fx_index_dir(r.idx), r.cases, r.num_cases, &r.entra, err));
    TRY(fs_mkdir_p(o->out_dir, 0755, err));
    matrix_path = fs_join(o->out_dir, "matrix.json");
    ENSURE(matrix_path, err, PGTLS_ERR_NOMEM, "out of memory");

    if (!o->tty)
        fprintf(stdout, "pgtls run: %zu cases x %zu clients, %d workers, fixtures %s\n",
                r.num_cases, r.num_clients, r.num_workers, fx_index_dir(r.idx));
    fflush(stdout);
    r.started_ms = time_now_ms();
    r.running_workers = r.num_workers;
    for (int w = 0; w < r.num_workers; w++) {
        if (pthread_create(&r.workers[w].thread, NULL, worker_main, &r.workers[w]) == 0) {
            r.workers[w].started = 1;
        } else {
            pthread_mutex_lock(&r.mu);
            r.running_workers--;
            pthread_mutex_unlock(&r.mu);
        }
    }
    /* 5. Watch: progress, per-client lines, a partial matrix now and then. */
    long long last_flush = time_now_ms();
    for (;;) {
        pthread_mutex_lock(&r.mu);
        int running = r.running_workers;
        pthread_mutex_unlock(&r.mu);
        if (running <= 0)
            break;
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (o->tty)
            print_progress(&r, progress);
        else
            print_finished_clients(&r, stdout, 0);
        if (time_now_ms() - last_flush >= RN_MATRIX_FLUSH_MS && !flush_failed) {
            pgtls_err ferr;
            err_clear(&ferr);
            rs_matrix_set_incomplete(r.matrix, 1); /* until the run ends */
            if (rs_matrix_write(r.matrix, matrix_path, &ferr) < 0) {
                fprintf(stderr, "\npgtls run: %s\n", ferr.msg);
                flush_failed = 1;
            }
            last_flush = time_now_ms();
        }
    }
    for (int w = 0; w < r.num_workers; w++)
        if (r.workers[w].started)
            pthread_join(r.workers[w].thread, NULL);
    if (o->tty) {
        print_progress(&r, progress);
        fputc('\n', progress);
    }
    ms_server_stop(r.ms);

    /* 6. The report: complete, or marked incomplete when interrupted. */
    rs_matrix_set_incomplete(r.matrix, *stop != 0 || r.done_items < r.num_items);
    TRY(rs_render_all(r.matrix, o->out_dir, err));
    if (o->latest_link)
        update_latest(o->latest_link, o->out_dir);
    print_finished_clients(&r, stdout, 1);
    for (size_t i = 0; i < r.num_fail_lines && i < 50; i++)
        printf("%s\n", r.fail_lines[i]);
    if (r.num_fail_lines > 50)
        printf("... and %zu more (see the report)\n", r.num_fail_lines - 50);
    {
        /* The answer at a glance, one screen, before the totals. */
        char *digest = NULL;
        pgtls_err derr;
        err_clear(&derr);
        if (rs_digest_render(rs_matrix_json(r.matrix), RS_DIGEST_TERMINAL, &digest, &derr) == 0 &&
            *digest)
            printf("\n%s\n", digest);
        free(digest);
    }
    printf("pgtls run: %zu of %zu case runs done, %zu failing, %.1f s%s\n", r.done_items,
           r.num_items, r.failed_items, (double)(time_now_ms() - r.started_ms) / 1000.0,
           *stop ? " (interrupted: the matrix is marked incomplete)" : "");
    printf("report: %s/summary.md (matrix.json, matrix.html, heatmap.svg, readiness.svg, junit.xml, matrix.csv, rotation.md)\n",
           o->out_dir);
    fflush(stdout);
    if (*stop)
        status = 128 + (int)*stop;
    else
        status = r.failed_items ? 1 : 0;
out:
    if (r.ms)
        ms_server_free(r.ms);
    rn_entra_stop(r.entra);
    if (r.workers) {
        for (int w = 0; w < r.num_workers; w++) {
            free(r.workers[w].work_dir);
            free(r.workers[w].listener);
            free(r.workers[w].port);
        }
        free(r.workers);
    }
    if (r.work_dir && !o->keep_temp) {
        pgtls_err ignore;
        fs_remove_tree(r.work_dir, &ignore);
    } else if (r.work_dir) {
        printf("temporary files kept in %s\n", r.work_dir);
    }
    free(r.work_dir);
    rn_world_free(r.world);
    for (size_t i = 0; i < r.num_clients; i++) {
        rn_strv_free(r.clients[i].world_argv);
        free(r.clients[i].world_error);
        rn_client_cleanup(&r.clients[i].probe);
        st_deviations_free(r.clients[i].deviations);
    }
    free(r.clients);
    for (size_t i = 0; i < r.num_cases; i++)
        json_decref(r.bases[i]);
    free(r.bases);
    free(r.cases);
    free(r.case_scenario);
    free(r.scenarios);
    free(r.items);
    for (size_t i = 0; i < r.num_fail_lines; i++)
        free(r.fail_lines[i]);
    free(r.fail_lines);
    rs_matrix_free(r.matrix);
    st_case_list_cleanup(&r.all);
    st_suite_free(r.suite);
    fx_index_free(r.idx);
    json_decref(r.events);
    free(matrix_path);
    pthread_mutex_destroy(&r.mu);
    return status;
}
