/* pgtls results: the matrix document (docs/matrix-schema.md), built
 * incrementally by the runner, loaded back by the report commands. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "fs.h"
#include "pgtls-config.h"
#include "rs.h"
#include "rs_internal.h"

struct rs_matrix {
    pthread_mutex_t lock;
    json_t *doc;      /* the document: schema, run, clients, cases */
    json_t *by_id;    /* case id -> case object (shares references with doc.cases) */
    int unsorted;     /* cases appended since the last sort */
};

char *rs_iso_time_now(void)
{
    char buf[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return strdup(buf);
}

static void set_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, v ? json_string(v) : json_null());
}

static rs_matrix *matrix_alloc(json_t *doc)
{
    rs_matrix *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    pthread_mutex_init(&m->lock, NULL);
    m->doc = doc;
    m->by_id = json_object();
    return m;
}

rs_matrix *rs_matrix_new(const rs_run_info *info, pgtls_err *err)
{
    json_t *doc = json_object(), *run = json_object();
    struct utsname un;
    char *now = rs_iso_time_now();
    rs_matrix *m;

    set_str(doc, "schema", RS_SCHEMA);
    set_str(run, "pgtls_version", PGTLS_VERSION);
    if (info && info->host)
        set_str(run, "host", info->host);
    else
        set_str(run, "host", uname(&un) == 0 ? un.nodename : "unknown");
    set_str(run, "started_at", now);
    set_str(run, "ended_at", NULL);
    json_object_set_new(run, "incomplete", json_false());
    set_str(run, "suite", info ? info->suite : NULL);
    set_str(run, "fixtures_dir", info ? info->fixtures_dir : NULL);
    set_str(run, "fixtures_sha256", info ? info->fixtures_sha256 : NULL);
    set_str(run, "command", info ? info->command : NULL);
    if (info && info->as_of)
        set_str(run, "as_of", info->as_of);
    if (info && info->calendar)
        set_str(run, "calendar", info->calendar);
    json_object_set_new(run, "sources", json_array());
    json_object_set_new(doc, "run", run);
    json_object_set_new(doc, "clients", json_array());
    json_object_set_new(doc, "cases", json_array());
    free(now);
    m = matrix_alloc(doc);
    if (!m || !m->by_id) {
        rs_matrix_free(m);
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return m;
}

void rs_matrix_free(rs_matrix *m)
{
    if (!m)
        return;
    json_decref(m->doc);
    json_decref(m->by_id);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* "psql 15.18 | libpq 150018 | OpenSSL 3.0.15 3 Sep 2024" */
char *rs_build_key(json_t *hello)
{
    const char *client = json_string_value(json_object_get(hello, "client"));
    const char *version = json_string_value(json_object_get(hello, "version"));
    json_t *lj = json_object_get(hello, "libpq");
    const char *tls = json_string_value(json_object_get(hello, "tls_library"));
    char libpq[64];

    if (json_is_string(lj))
        snprintf(libpq, sizeof(libpq), "libpq %s", json_string_value(lj));
    else if (json_is_integer(lj))
        snprintf(libpq, sizeof(libpq), "libpq %lld", (long long)json_integer_value(lj));
    else
        snprintf(libpq, sizeof(libpq), "no libpq");
    return str_printf("%s %s | %s | %s", client ? client : "?", version ? version : "?", libpq,
                      tls ? tls : "unknown TLS library");
}

static int find_client(json_t *clients, const char *key)
{
    size_t i;
    json_t *c;
    json_array_foreach(clients, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "key")), key) == 0)
            return (int)i;
    }
    return -1;
}

int rs_matrix_add_client(rs_matrix *m, json_t *hello, pgtls_err *err)
{
    json_t *clients, *c;
    char *key = NULL;
    int idx = -1;
    static const char *const fields[] = {"client", "version", "libpq", "tls_library", "runtime",
                                         "build"};

    if (!json_is_object(hello) || !json_is_string(json_object_get(hello, "client")))
        return err_set(err, PGTLS_ERR_INPUT,
                       "adapter hello line has no \"client\" name (docs/case-protocol.md)");
    pthread_mutex_lock(&m->lock);
    clients = json_object_get(m->doc, "clients");
    key = rs_build_key(hello);
    if (!key) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        goto out;
    }
    idx = find_client(clients, key);
    if (idx >= 0)
        goto out;
    c = json_object();
    set_str(c, "key", key);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_t *v = json_object_get(hello, fields[i]);
        if (json_is_integer(v)) {
            char num[32];
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
            set_str(c, fields[i], num);
        } else {
            set_str(c, fields[i], json_string_value(v));
        }
    }
    set_str(c, "host", json_string_value(json_object_get(json_object_get(m->doc, "run"), "host")));
    json_object_set_new(c, "hello", json_deep_copy(hello));
    json_array_append_new(clients, c);
    idx = (int)json_array_size(clients) - 1;
out:
    pthread_mutex_unlock(&m->lock);
    free(key);
    return idx;
}

const char *rs_matrix_client_key(const rs_matrix *m, int client)
{
    json_t *c = json_array_get(json_object_get(m->doc, "clients"), (size_t)client);
    return c ? json_string_value(json_object_get(c, "key")) : NULL;
}

/* The case object for c->id, created on first use. Called with the lock. */
static json_t *case_object(rs_matrix *m, const st_case *c)
{
    json_t *o = json_object_get(m->by_id, c->id), *opts;
    if (o)
        return o;
    o = json_object();
    set_str(o, "id", c->id);
    set_str(o, "scenario", c->scenario);
    set_str(o, "store", c->store);
    set_str(o, "sslmode", c->sslmode);
    opts = json_object();
    if (c->sslnegotiation)
        set_str(opts, "sslnegotiation", c->sslnegotiation);
    if (c->channel_binding)
        set_str(opts, "channel_binding", c->channel_binding);
    if (c->ssl_min_protocol_version)
        set_str(opts, "ssl_min_protocol_version", c->ssl_min_protocol_version);
    if (c->ssl_max_protocol_version)
        set_str(opts, "ssl_max_protocol_version", c->ssl_max_protocol_version);
    if (c->sslsni)
        set_str(opts, "sslsni", c->sslsni);
    if (c->home_root_crt_store) {
        char *h = str_printf("root.crt:%s", c->home_root_crt_store);
        set_str(opts, "home", h);
        free(h);
    }
    json_object_set_new(o, "options", opts);
    /* Only when set (docs/surfaces.md): a case without "surface" was given
     * in the adapter's default form, as every case of older matrices. */
    if (c->surface)
        set_str(o, "surface", c->surface);
    if (c->page) {
        set_str(o, "page", c->page);
        set_str(o, "literal", c->literal_as_written);
    }
    json_object_set_new(o, "results", json_object());
    json_array_append_new(json_object_get(m->doc, "cases"), o);
    json_object_set(m->by_id, c->id, o);
    m->unsorted = 1;
    return o;
}

static void copy_field(json_t *dst, json_t *src, const char *key)
{
    json_t *v = src ? json_object_get(src, key) : NULL;
    json_object_set_new(dst, key, v ? json_deep_copy(v) : json_null());
}

int rs_matrix_add_result(rs_matrix *m, int client, const rs_result *r, pgtls_err *err)
{
    const st_judgement *j = r ? &r->judgement : NULL;
    const char *key;
    json_t *co, *res;

    if (!r || !r->c || !r->c->id)
        return err_set(err, PGTLS_ERR_INPUT, "matrix result without a case");
    pthread_mutex_lock(&m->lock);
    key = rs_matrix_client_key(m, client);
    if (!key) {
        pthread_mutex_unlock(&m->lock);
        return err_set(err, PGTLS_ERR_INPUT, "matrix: no client with index %d", client);
    }
    co = case_object(m, r->c);
    res = json_object();
    set_str(res, "expected", st_class_name(j->expected.cls));
    set_str(res, "expected_rule", j->expected.rule);
    set_str(res, "expected_why", j->expected.why);
    set_str(res, "observed", st_class_name(j->observed.cls));
    set_str(res, "evidence", j->observed.evidence);
    set_str(res, "verdict", st_verdict_name(j->verdict));
    if (j->deviation.name && j->verdict == ST_DEVIATION_KNOWN) {
        json_t *d = json_object();
        set_str(d, "name", j->deviation.name);
        set_str(d, "source", j->deviation.source);
        json_object_set_new(res, "deviation", d);
    } else {
        json_object_set_new(res, "deviation", json_null());
    }
    if (j->missed_prediction.name && st_verdict_is_failure(j->verdict)) {
        /* A predicting deviation entry applied and the client did something
         * else: the failure shows what the entry predicted. */
        json_t *d = json_object();
        set_str(d, "name", j->missed_prediction.name);
        set_str(d, "source", j->missed_prediction.source);
        set_str(d, "class", st_class_name(j->missed_prediction.predicted));
        json_object_set_new(res, "deviation_predicted", d);
    }
    copy_field(res, r->adapter_result, "connected");
    copy_field(res, r->adapter_result, "tls");
    copy_field(res, r->adapter_result, "tls_version");
    copy_field(res, r->adapter_result, "cipher");
    copy_field(res, r->adapter_result, "error");
    copy_field(res, r->adapter_result, "error_code");
    copy_field(res, r->adapter_result, "unsupported");
    copy_field(res, r->adapter_result, "query_result");
    if (r->elapsed_ms >= 0)
        json_object_set_new(res, "elapsed_ms", json_integer(r->elapsed_ms));
    else
        copy_field(res, r->adapter_result, "elapsed_ms");
    json_object_set_new(res, "events",
                        json_is_array(r->events) ? json_deep_copy(r->events) : json_array());
    set_str(res, "repro", r->repro);
    if (r->c->field_source) {
        /* A field case (docs/suites.md): the report it reproduces and
         * whether this client still shows the reported outcome. */
        set_str(res, "source", r->c->field_source);
        set_str(res, "reported", st_class_name(r->c->field_reported));
        set_str(res, "field", st_field_verdict(r->c, j->observed.cls));
    }
    json_object_set_new(json_object_get(co, "results"), key, res);
    pthread_mutex_unlock(&m->lock);
    return 0;
}

int rs_matrix_record(rs_matrix *m, int client, const st_case *c, const st_judgement *j,
                     json_t *adapter_result, json_t *events, long long elapsed_ms,
                     const char *repro, pgtls_err *err)
{
    rs_result r;

    if (!j)
        return err_set(err, PGTLS_ERR_INPUT, "matrix: a result without its judgement");
    memset(&r, 0, sizeof(r));
    r.c = c;
    r.judgement = *j;
    r.adapter_result = adapter_result;
    r.events = events;
    r.elapsed_ms = elapsed_ms;
    r.repro = repro;
    if (rs_matrix_add_result(m, client, &r, err) < 0)
        return -1;
    return (int)j->verdict;
}

const char *rs_matrix_client_libpq(rs_matrix *m, int client)
{
    json_t *cl;
    const char *libpq;

    pthread_mutex_lock(&m->lock);
    cl = client >= 0 ? json_array_get(json_object_get(m->doc, "clients"), (size_t)client) : NULL;
    libpq = cl ? json_string_value(json_object_get(cl, "libpq")) : NULL;
    pthread_mutex_unlock(&m->lock);
    return libpq;
}

void rs_matrix_set_incomplete(rs_matrix *m, int incomplete)
{
    pthread_mutex_lock(&m->lock);
    json_object_set_new(json_object_get(m->doc, "run"), "incomplete", json_boolean(incomplete));
    pthread_mutex_unlock(&m->lock);
}

static int cmp_case_json(const void *a, const void *b)
{
    json_t *const *x = a, *const *y = b;
    return strcmp(json_string_value(json_object_get(*x, "id")),
                  json_string_value(json_object_get(*y, "id")));
}

/* Sorts doc.cases by id. Called with the lock. */
static void sort_cases(rs_matrix *m)
{
    json_t *cases = json_object_get(m->doc, "cases");
    size_t n = json_array_size(cases);
    json_t **v;

    if (!m->unsorted || n < 2) {
        m->unsorted = 0;
        return;
    }
    v = malloc(n * sizeof(*v));
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(cases, i));
    qsort(v, n, sizeof(*v), cmp_case_json);
    json_array_clear(cases);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(cases, v[i]);
    free(v);
    m->unsorted = 0;
}

json_t *rs_matrix_json(rs_matrix *m)
{
    pthread_mutex_lock(&m->lock);
    sort_cases(m);
    pthread_mutex_unlock(&m->lock);
    return m->doc;
}

/* Called with the lock held. */
static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends text to a growing buffer; returns -1 when out of memory. */
static int buf_add(char **buf, size_t *len, size_t *cap, const char *text)
{
    size_t n = strlen(text);
    if (*len + n + 1 > *cap) {
        size_t ncap = (*cap ? *cap : 1 << 16);
        while (*len + n + 1 > ncap)
            ncap *= 2;
        char *nb = realloc(*buf, ncap);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, text, n + 1);
    *len += n;
    return 0;
}

/* matrix.json's layout: keys sorted, one line per client build and per case,
 * no indentation inside them. The file stays plain JSON with every field, a
 * line-oriented diff still shows one case per line, and the whitespace of an
 * indented dump (a quarter of the file) is gone. */
static char *dump_locked(rs_matrix *m)
{
    const char *order[32];
    size_t num_keys = 0;
    const char *name;
    json_t *value;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int failed = 0;

    sort_cases(m);
    json_object_foreach(m->doc, name, value)
    {
        if (num_keys < sizeof(order) / sizeof(order[0]))
            order[num_keys++] = name;
    }
    qsort(order, num_keys, sizeof(order[0]), cmp_cstr);
    failed |= buf_add(&buf, &len, &cap, "{");
    for (size_t k = 0; k < num_keys && !failed; k++) {
        json_t *v = json_object_get(m->doc, order[k]);
        json_t *key_json = json_string(order[k]); /* owned here: dumped, then released */
        char *key = key_json ? json_dumps(key_json, JSON_ENCODE_ANY) : NULL;
        json_decref(key_json);
        if (!key)
            failed = 1;
        failed |= key && buf_add(&buf, &len, &cap, k ? ",\n" : "\n");
        failed |= key && buf_add(&buf, &len, &cap, key);
        failed |= key && buf_add(&buf, &len, &cap, ": ");
        free(key);
        if (json_is_array(v)) {
            size_t i;
            json_t *item;
            failed |= buf_add(&buf, &len, &cap, "[");
            json_array_foreach(v, i, item)
            {
                char *t = json_dumps(item, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
                failed |= !t || buf_add(&buf, &len, &cap, i ? ",\n" : "\n") ||
                          buf_add(&buf, &len, &cap, t);
                free(t);
            }
            failed |= buf_add(&buf, &len, &cap, json_array_size(v) ? "\n]" : "]");
        } else {
            char *t = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
            failed |= !t || buf_add(&buf, &len, &cap, t);
            free(t);
        }
    }
    failed |= buf_add(&buf, &len, &cap, "\n}\n");
    if (failed) {
        free(buf);
        return NULL;
    }
    return buf;
}

char *rs_matrix_dump(rs_matrix *m)
{
    char *text;
    pthread_mutex_lock(&m->lock);
    text = dump_locked(m);
    pthread_mutex_unlock(&m->lock);
    return text;
}

int rs_matrix_write(rs_matrix *m, const char *path, pgtls_err *err)
{
    char *now = rs_iso_time_now(), *text;
    int rc;

    /* The whole write holds the lock: concurrent writers to one path would
     * otherwise race on the temporary file. */
    pthread_mutex_lock(&m->lock);
    set_str(json_object_get(m->doc, "run"), "ended_at", now);
    free(now);
    text = dump_locked(m);
    if (!text)
        rc = err_set(err, PGTLS_ERR_NOMEM, "out of memory writing %s", path);
    else
        rc = fs_write_file(path, text, strlen(text), 0644, err);
    pthread_mutex_unlock(&m->lock);
    free(text);
    return rc;
}

/* ---- Loading ---- */

rs_matrix *rs_matrix_from_json(json_t *doc, const char *origin, pgtls_err *err)
{
    json_t *run, *clients, *cases, *c;
    size_t i;
    rs_matrix *m;
    const char *schema;

    if (!json_is_object(doc))
        return err_set(err, PGTLS_ERR_INPUT, "%s: not a JSON object", origin), NULL;
    schema = json_string_value(json_object_get(doc, "schema"));
    if (!schema || strcmp(schema, RS_SCHEMA) != 0) {
        err_set(err, PGTLS_ERR_INPUT, "%s: schema is %s, expected %s", origin,
                schema ? schema : "missing", RS_SCHEMA);
        return NULL;
    }
    run = json_object_get(doc, "run");
    clients = json_object_get(doc, "clients");
    cases = json_object_get(doc, "cases");
    if (!json_is_object(run) || !json_is_array(clients) || !json_is_array(cases)) {
        err_set(err, PGTLS_ERR_INPUT, "%s: needs \"run\" (object), \"clients\" and \"cases\" (arrays)",
                origin);
        return NULL;
    }
    json_array_foreach(clients, i, c)
    {
        if (!json_is_string(json_object_get(c, "key"))) {
            err_set(err, PGTLS_ERR_INPUT, "%s: clients[%zu] has no \"key\"", origin, i);
            return NULL;
        }
    }
    json_array_foreach(cases, i, c)
    {
        json_t *res = json_object_get(c, "results"), *r;
        const char *k;
        if (!json_is_string(json_object_get(c, "id")) || !json_is_object(res)) {
            err_set(err, PGTLS_ERR_INPUT, "%s: cases[%zu] needs \"id\" and a \"results\" object",
                    origin, i);
            return NULL;
        }
        json_object_foreach(res, k, r)
        {
            if (!json_is_object(r) || !json_is_string(json_object_get(r, "verdict")) ||
                st_verdict_parse(json_string_value(json_object_get(r, "verdict"))) < 0) {
                err_set(err, PGTLS_ERR_INPUT,
                        "%s: cases[%zu] (%s): result for \"%s\" needs a valid \"verdict\"",
                        origin, i, json_string_value(json_object_get(c, "id")), k);
                return NULL;
            }
        }
    }
    m = matrix_alloc(json_incref(doc));
    if (!m) {
        json_decref(doc);
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    json_array_foreach(cases, i, c)
    {
        json_object_set(m->by_id, json_string_value(json_object_get(c, "id")), c);
    }
    m->unsorted = 1;
    return m;
}

rs_matrix *rs_matrix_load(const char *path, pgtls_err *err)
{
    json_error_t je;
    json_t *doc;
    rs_matrix *m;

    if (!fs_exists(path)) {
        err_set(err, PGTLS_ERR_IO, "%s: no such file", path);
        return NULL;
    }
    doc = json_load_file(path, 0, &je);
    if (!doc) {
        err_set(err, PGTLS_ERR_INPUT, "%s: not JSON at line %d: %s", path, je.line, je.text);
        return NULL;
    }
    m = rs_matrix_from_json(doc, path, err);
    json_decref(doc);
    return m;
}

/* ---- Merge ---- */

static const char *min_str(const char *a, const char *b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    return strcmp(a, b) <= 0 ? a : b;
}

static const char *max_str(const char *a, const char *b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    return strcmp(a, b) >= 0 ? a : b;
}

static const char *as_of_of(rs_matrix *m)
{
    const char *a = json_string_value(json_object_get(json_object_get(rs_matrix_json(m), "run"), "as_of"));
    return a ? a : "the run's own date (no --as-of)";
}

int rs_matrix_as_of_check(rs_matrix *const *inputs, const char *const *names, size_t num_inputs,
                          pgtls_err *err)
{
    for (size_t i = 1; i < num_inputs; i++)
        if (strcmp(as_of_of(inputs[0]), as_of_of(inputs[i])) != 0)
            return err_set(err, PGTLS_ERR_INPUT,
                           "%s is as of %s but %s is as of %s: results of different dates do "
                           "not mix (merge runs of one date, or pass --allow-mixed-as-of)",
                           names[0], as_of_of(inputs[0]), names[i], as_of_of(inputs[i]));
    return 0;
}

rs_matrix *rs_matrix_merge(rs_matrix *const *inputs, size_t num_inputs, pgtls_err *err)
{
    const char *as_of = NULL, *calendar = NULL;
    int mixed_as_of = 0;
    rs_run_info info = {.host = "merged"};
    rs_matrix *out;
    json_t *run, *sources, *clients;
    const char *started = NULL, *ended = NULL, *sha = NULL;
    int incomplete = 0, mixed_sha = 0;
    char *suites = NULL;

    if (num_inputs == 0) {
        err_set(err, PGTLS_ERR_USAGE, "merge needs at least one matrix");
        return NULL;
    }
    out = rs_matrix_new(&info, err);
    if (!out)
        return NULL;
    run = json_object_get(out->doc, "run");
    sources = json_object_get(run, "sources");
    clients = json_object_get(out->doc, "clients");
    for (size_t i = 0; i < num_inputs; i++) {
        json_t *doc = rs_matrix_json(inputs[i]);
        json_t *irun = json_object_get(doc, "run"), *c, *cs;
        const char *host = json_string_value(json_object_get(irun, "host"));
        const char *isha = json_string_value(json_object_get(irun, "fixtures_sha256"));
        const char *isuite = json_string_value(json_object_get(irun, "suite"));
        size_t j;
        /* keys of this input -> keys in the merged matrix (renamed on clash) */
        json_t *rename = json_object();

        json_t *src = json_deep_copy(irun);
        json_object_del(src, "sources");
        json_array_append_new(sources, src);
        /* Nested sources of an already-merged input are flattened. */
        json_array_foreach(json_object_get(irun, "sources"), j, c)
        {
            json_array_append_new(sources, json_deep_copy(c));
        }
        started = min_str(started, json_string_value(json_object_get(irun, "started_at")));
        ended = max_str(ended, json_string_value(json_object_get(irun, "ended_at")));
        incomplete |= json_is_true(json_object_get(irun, "incomplete"));
        {
            const char *ia = json_string_value(json_object_get(irun, "as_of"));
            const char *ic = json_string_value(json_object_get(irun, "calendar"));
            if (i > 0 && strcmp(ia ? ia : "", as_of ? as_of : "") != 0)
                mixed_as_of = 1;
            as_of = i == 0 ? ia : as_of;
            calendar = calendar ? calendar : ic;
        }
        if (isha) {
            if (sha && strcmp(sha, isha) != 0)
                mixed_sha = 1;
            sha = sha ? sha : isha;
        }
        if (isuite && (!suites || !strstr(suites, isuite))) {
            char *ns = suites ? str_printf("%s, %s", suites, isuite) : strdup(isuite);
            free(suites);
            suites = ns;
        }
        json_array_foreach(json_object_get(doc, "clients"), j, c)
        {
            const char *key = json_string_value(json_object_get(c, "key"));
            char *nk = strdup(key);
            /* The same build from another machine keeps its own column. */
            for (int n = 2; find_client(clients, nk) >= 0; n++) {
                free(nk);
                nk = n == 2 ? str_printf("%s @ %s", key, host ? host : "?")
                            : str_printf("%s @ %s #%d", key, host ? host : "?", n);
            }
            json_t *nc = json_deep_copy(c);
            set_str(nc, "key", nk);
            if (!json_object_get(nc, "host"))
                set_str(nc, "host", host);
            json_array_append_new(clients, nc);
            json_object_set_new(rename, key, json_string(nk));
            free(nk);
        }
        json_array_foreach(json_object_get(doc, "cases"), j, cs)
        {
            const char *id = json_string_value(json_object_get(cs, "id"));
            json_t *target = json_object_get(out->by_id, id), *r;
            const char *k;
            if (!target) {
                target = json_deep_copy(cs);
                json_object_set_new(target, "results", json_object());
                json_array_append_new(json_object_get(out->doc, "cases"), target);
                json_object_set(out->by_id, id, target);
                out->unsorted = 1;
            }
            json_object_foreach(json_object_get(cs, "results"), k, r)
            {
                const char *nk = json_string_value(json_object_get(rename, k));
                json_object_set(json_object_get(target, "results"), nk ? nk : k, r);
            }
        }
        json_decref(rename);
    }
    set_str(run, "started_at", started);
    set_str(run, "ended_at", ended);
    json_object_set_new(run, "incomplete", json_boolean(incomplete));
    set_str(run, "suite", suites);
    set_str(run, "fixtures_sha256", mixed_sha ? "mixed" : sha);
    if (mixed_as_of)
        set_str(run, "as_of", "mixed");
    else if (as_of)
        set_str(run, "as_of", as_of);
    if (calendar)
        set_str(run, "calendar", calendar);
    free(suites);
    return out;
}
