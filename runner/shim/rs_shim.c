/* SHIM (runner/shim; delete when results/rs_matrix.c lands): the few rs_
 * calls the runner makes, storing rows as plain JSON so `pgtls run` works
 * end to end before the results component does. Classification and
 * expectations are the real st_ functions; there is no renderer here:
 * rs_render_all writes matrix.json only. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "rs.h"

struct rs_matrix {
    json_t *doc;
    pthread_mutex_t mu;
};

rs_matrix *rs_matrix_new(const rs_run_info *info, pgtls_err *err)
{
    rs_matrix *m = calloc(1, sizeof(*m));
    if (!m) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    m->doc = json_pack("{s:s, s:{s:s?, s:s?, s:b}, s:[], s:[]}", "schema", RS_SCHEMA, "run",
                       "suite", info->suite, "command", info->command, "incomplete", 0,
                       "clients", "cases");
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

void rs_matrix_free(rs_matrix *m)
{
    if (!m)
        return;
    json_decref(m->doc);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

int rs_matrix_add_client(rs_matrix *m, json_t *hello, pgtls_err *err)
{
    if (!json_is_string(json_object_get(hello, "client")))
        return err_set(err, PGTLS_ERR_INPUT, "hello without \"client\"");
    pthread_mutex_lock(&m->mu);
    json_t *clients = json_object_get(m->doc, "clients");
    json_array_append_new(clients, json_deep_copy(hello));
    int i = (int)json_array_size(clients) - 1;
    pthread_mutex_unlock(&m->mu);
    return i;
}

int rs_matrix_record(rs_matrix *m, int client, const st_case *c, json_t *adapter_result,
                     json_t *events, long long elapsed_ms, const char *repro,
                     const st_deviations *deviations, pgtls_err *err)
{
    pthread_mutex_lock(&m->mu);
    json_t *hello = json_array_get(json_object_get(m->doc, "clients"), (size_t)client);
    st_expectation ex =
        st_expect(c, st_libpq_major(json_string_value(json_object_get(hello, "libpq"))));
    st_observation ob = st_classify(events, adapter_result);
    st_deviation_match dm;
    int known = st_deviation_find(deviations, c, ex.cls, ob.cls, &dm);
    st_verdict v = st_verdict_for(ex.cls, ob.cls, known);
    /* The shape of results/rs_matrix.c: cases[].results[client key]. */
    json_t *row = json_pack("{s:s, s:s, s:s, s:O?, s:O?, s:I, s:s?}", "expected",
                            st_class_name(ex.cls), "observed", st_class_name(ob.cls), "verdict",
                            st_verdict_name(v), "result", adapter_result, "events", events,
                            "elapsed_ms", (json_int_t)elapsed_ms, "repro", repro);
    json_t *co = NULL, *cases = json_object_get(m->doc, "cases"), *it;
    size_t i;
    json_array_foreach(cases, i, it)
        if (strcmp(json_string_value(json_object_get(it, "id")), c->id) == 0)
            co = it;
    if (!co) {
        co = json_pack("{s:s, s:s, s:s?, s:s, s:{}}", "id", c->id, "scenario", c->scenario,
                       "store", c->store, "sslmode", c->sslmode, "results");
        json_array_append_new(cases, co);
    }
    char key[32];
    snprintf(key, sizeof(key), "%s#%d", json_string_value(json_object_get(hello, "client")),
             client);
    int rc = row ? json_object_set_new(json_object_get(co, "results"), key, row) : -1;
    pthread_mutex_unlock(&m->mu);
    if (rc < 0)
        return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    return (int)v;
}

void rs_matrix_set_incomplete(rs_matrix *m, int incomplete)
{
    pthread_mutex_lock(&m->mu);
    json_object_set_new(json_object_get(m->doc, "run"), "incomplete", json_boolean(incomplete));
    pthread_mutex_unlock(&m->mu);
}

int rs_matrix_write(rs_matrix *m, const char *path, pgtls_err *err)
{
    pthread_mutex_lock(&m->mu);
    char *s = json_dumps(m->doc, JSON_INDENT(1));
    pthread_mutex_unlock(&m->mu);
    if (!s)
        return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    int rc = fs_write_file(path, s, strlen(s), 0644, err);
    free(s);
    return rc;
}

int rs_render_all(rs_matrix *m, const char *dir, pgtls_err *err)
{
    char *path = fs_join(dir, "matrix.json");
    int rc = -1;
    if (!path)
        return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    if (fs_mkdir_p(dir, 0755, err) == 0)
        rc = rs_matrix_write(m, path, err);
    free(path);
    return rc;
}
