/* pgtls runner: from a case to what the adapter receives.
 *
 * The case object follows docs/case-protocol.md. The environment is built
 * from nothing but what the case asks for: libpq reads ~/.postgresql/root.crt
 * whenever it exists (fe-secure-openssl.c, initialize_SSL), so HOME is a fresh
 * folder per case; OpenSSL's default store (sslrootcert=system, and the
 * drivers that use the system store) is redirected with SSL_CERT_FILE and
 * SSL_CERT_DIR to the suite's isolated "system" store, never the host's. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs.h"
#include "rn.h"

void rn_case_env_cleanup(rn_case_env *env)
{
    if (!env)
        return;
    free(env->home);
    free(env->ssl_cert_file);
    free(env->ssl_cert_dir);
    memset(env, 0, sizeof(*env));
}

static int copy_file(const char *from, const char *to, mode_t mode, pgtls_err *err)
{
    char *data = NULL;
    size_t len = 0;
    int result = -1;

    TRY(fs_read_file(from, 0, &data, &len, err));
    TRY(fs_write_file(to, data, len, mode, err));
    result = 0;
out:
    free(data);
    return result;
}

/* The empty "system" bundle used when a case does not ask for the system
 * store: clients that fall back to OpenSSL's default paths find no anchor
 * rather than the host's (or the build machine's) roots. */
static int ensure_empty_system(const char *work_dir, rn_case_env *env, pgtls_err *err)
{
    char *dir = fs_join(work_dir, "empty-system");
    char *file = dir ? fs_join(dir, "ca-certificates.crt") : NULL;
    int result = -1;

    ENSURE(file, err, PGTLS_ERR_NOMEM, "out of memory");
    if (!fs_exists(file)) {
        TRY(fs_mkdir_p(dir, 0755, err));
        TRY(fs_write_file(file, "", 0, 0644, err));
    }
    env->ssl_cert_file = file;
    env->ssl_cert_dir = dir;
    file = dir = NULL;
    result = 0;
out:
    free(file);
    free(dir);
    return result;
}

int rn_case_env_prepare(const st_case *c, const char *work_dir, unsigned long seq, rn_case_env *env,
                        pgtls_err *err)
{
    char *pgdir = NULL, *rootcrt = NULL;
    int result = -1;

    memset(env, 0, sizeof(*env));
    env->home = str_printf("%s/home-%lu", work_dir, seq);
    ENSURE(env->home, err, PGTLS_ERR_NOMEM, "out of memory");
    /* A leftover from an earlier case with the same number must not leak. */
    TRY(fs_remove_tree(env->home, err));
    TRY(fs_mkdir_p(env->home, 0700, err));

    if (c->home_root_crt_pem) {
        pgdir = fs_join(env->home, ".postgresql");
        rootcrt = pgdir ? fs_join(pgdir, "root.crt") : NULL;
        ENSURE(rootcrt, err, PGTLS_ERR_NOMEM, "out of memory");
        TRY(fs_mkdir_p(pgdir, 0700, err));
        if (copy_file(c->home_root_crt_pem, rootcrt, 0644, err) < 0) {
            err_prefix(err, "case %s: stale root.crt from store %s", c->id,
                       c->home_root_crt_store ? c->home_root_crt_store : "?");
            goto out;
        }
    }

    if (c->world_trust) {
        /* The client reads its own default store, translated by the world. */
    } else if (c->system_cert_file) {
        env->ssl_cert_file = strdup(c->system_cert_file);
        ENSURE(env->ssl_cert_file, err, PGTLS_ERR_NOMEM, "out of memory");
        if (c->system_cert_dir) {
            env->ssl_cert_dir = strdup(c->system_cert_dir);
            ENSURE(env->ssl_cert_dir, err, PGTLS_ERR_NOMEM, "out of memory");
        }
    } else {
        TRY(ensure_empty_system(work_dir, env, err));
    }
    result = 0;
out:
    free(pgdir);
    free(rootcrt);
    if (result < 0)
        rn_case_env_cleanup(env);
    return result;
}

static int has_feature(json_t *hello, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(hello, "features"), i, f)
    {
        if (json_is_string(f) && strcmp(json_string_value(f), name) == 0)
            return 1;
    }
    return 0;
}

char *rn_surface_missing(json_t *hello, const st_case *c)
{
    const char *client = json_string_value(json_object_get(hello, "client"));
    char *want = c->surface ? str_printf("surface:%s", c->surface) : NULL;
    char *out = NULL;
    size_t i;
    json_t *f;

    /* An adapter that knows surfaces (it lists one) answers the others
     * itself, with the driver's reason. */
    json_array_foreach(json_object_get(hello, "features"), i, f)
    {
        if (json_is_string(f) && str_starts_with(json_string_value(f), "surface:")) {
            free(want);
            return NULL;
        }
    }

    if (c->surface && !want)
        return strdup("runner: out of memory");
    if (want && !has_feature(hello, want))
        out = str_printf("%s: the adapter lists no \"%s\" in its features (it cannot give the "
                         "settings to the driver that way)",
                         client ? client : "adapter", want);
    else if (c->literal && !has_feature(hello, "literal"))
        out = str_printf("%s: the adapter lists no \"literal\" in its features (it cannot hand "
                         "a connection string as written to the driver)",
                         client ? client : "adapter");
    free(want);
    return out;
}

json_t *rn_case_json(const json_t *base, const rn_target *t, int timeout_ms, const rn_case_env *env)
{
    json_t *o = json_deep_copy(base), *e = json_object();
    int rc = 0;

    if (!o || !e)
        goto fail;
    rc |= json_object_set_new(o, "hostaddr", json_string(t->hostaddr ? t->hostaddr : "127.0.0.1"));
    rc |= json_object_set_new(o, "port", json_integer(t->port));
    rc |= json_object_set_new(o, "timeout_ms", json_integer(timeout_ms));
    rc |= json_object_set_new(e, "HOME", json_string(env->home));
    if (env->ssl_cert_file)
        rc |= json_object_set_new(e, "SSL_CERT_FILE", json_string(env->ssl_cert_file));
    if (env->ssl_cert_dir)
        rc |= json_object_set_new(e, "SSL_CERT_DIR", json_string(env->ssl_cert_dir));
    rc |= json_object_set_new(o, "env", e);
    e = NULL;
    if (rc == 0)
        return o;
fail:
    json_decref(o);
    json_decref(e);
    return NULL;
}

/* ------------------------------------------------------------------ events */

/* -1/0/1: a before/with/after b in connection order. */
static int event_cmp(json_t *a, json_t *b)
{
    json_t *pa = json_object_get(a, "pid"), *pb = json_object_get(b, "pid");
    if (!json_is_object(a) || !json_is_object(b))
        return json_is_object(a) ? -1 : json_is_object(b) ? 1 : 0;
    if (json_is_integer(pa) && json_is_integer(pb)) {
        json_int_t x = json_integer_value(pa), y = json_integer_value(pb);
        return x < y ? -1 : x > y;
    }
    const char *ta = json_string_value(json_object_get(a, "t_start"));
    const char *tb = json_string_value(json_object_get(b, "t_start"));
    if (ta && tb)
        return strcmp(ta, tb) < 0 ? -1 : strcmp(ta, tb) > 0;
    return 0;
}

void rn_events_sort(json_t *events)
{
    size_t n = json_array_size(events);
    /* Insertion sort: a case has one or two events, rarely more, and it is
     * stable, so equal keys keep the delivery order. */
    for (size_t i = 1; i < n; i++) {
        json_t *cur = json_incref(json_array_get(events, i));
        size_t j = i;
        while (j > 0 && event_cmp(json_array_get(events, j - 1), cur) > 0) {
            json_array_set(events, j, json_array_get(events, j - 1));
            j--;
        }
        json_array_set(events, j, cur);
        json_decref(cur);
    }
}

/* ------------------------------------------------------------ vectors, shell */

typedef struct strv {
    char **v;
    size_t n, cap;
    int oom;
} strv;

static void strv_push(strv *s, char *owned)
{
    if (!owned) {
        s->oom = 1;
        return;
    }
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        char **grown = realloc(s->v, cap * sizeof(char *));
        if (!grown) {
            free(owned);
            s->oom = 1;
            return;
        }
        s->v = grown;
        s->cap = cap;
    }
    s->v[s->n++] = owned;
    s->v[s->n] = NULL;
}

char **rn_case_oneshot_argv(const rn_manifest *m, const json_t *case_obj)
{
    strv s = {0};
    const char *key;
    json_t *value;

    for (size_t i = 0; i < m->num_argv; i++)
        strv_push(&s, strdup(m->argv[i]));
    /* jansson keeps insertion order, so the flags follow the protocol's order. */
    json_object_foreach((json_t *)case_obj, key, value)
    {
        if (json_is_null(value))
            continue;
        if (strcmp(key, "env") == 0 && json_is_object(value)) {
            const char *name;
            json_t *v;
            json_object_foreach(value, name, v)
            {
                if (!json_is_string(v))
                    continue;
                strv_push(&s, strdup("--env"));
                strv_push(&s, str_printf("%s=%s", name, json_string_value(v)));
            }
            continue;
        }
        strv_push(&s, str_printf("--%s", key));
        if (json_is_string(value))
            strv_push(&s, strdup(json_string_value(value)));
        else if (json_is_integer(value))
            strv_push(&s, str_printf("%lld", (long long)json_integer_value(value)));
        else if (json_is_true(value))
            strv_push(&s, strdup("true"));
        else if (json_is_false(value))
            strv_push(&s, strdup("false"));
        else
            strv_push(&s, json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY));
    }
    if (s.oom || !s.v) {
        rn_strv_free(s.v);
        return NULL;
    }
    return s.v;
}

static int needs_quotes(const char *a)
{
    if (!*a)
        return 1;
    for (const char *p = a; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@+%", *p))
            return 1;
    return 0;
}

char *rn_shell_join(char *const *argv)
{
    size_t cap = 1;
    for (char *const *p = argv; *p; p++)
        cap += strlen(*p) * 4 + 3;
    char *out = malloc(cap), *w = out;
    if (!out)
        return NULL;
    for (char *const *p = argv; *p; p++) {
        if (p != argv)
            *w++ = ' ';
        if (!needs_quotes(*p)) {
            w = stpcpy(w, *p);
            continue;
        }
        /* POSIX single quotes: nothing is special inside but the quote itself,
         * written as '\'' (close, escaped quote, reopen). */
        *w++ = '\'';
        for (const char *c = *p; *c; c++) {
            if (*c == '\'')
                w = stpcpy(w, "'\\''");
            else
                *w++ = *c;
        }
        *w++ = '\'';
    }
    *w = '\0';
    return out;
}
