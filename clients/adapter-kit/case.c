/* pgtls clients: parsing and validating one case (docs/case-protocol.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_adapter.h"

const char *const cl_optional_fields[] = {
    "sslnegotiation",
    "channel_binding",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "sslsni",
    "connect_options",
    NULL,
};

void cl_case_cleanup(cl_case *c)
{
    if (c == NULL)
        return;
    json_decref(c->json);
    memset(c, 0, sizeof(*c));
}

/* Reads an optional string field: absent or null gives NULL. */
static int get_str(json_t *obj, const char *key, const char **out, pgtls_err *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return err_set(err, PGTLS_ERR_INPUT, "field \"%s\" must be a string or null", key);
    *out = json_string_value(v);
    return 0;
}

/* Reads an optional integer field into *out (left alone when absent/null). */
static int get_int(json_t *obj, const char *key, long long min, long long max, long long *out,
                   pgtls_err *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return err_set(err, PGTLS_ERR_INPUT, "field \"%s\" must be an integer", key);
    long long n = json_integer_value(v);
    if (n < min || n > max)
        return err_set(err, PGTLS_ERR_INPUT, "field \"%s\" is %lld, outside %lld..%lld", key, n,
                       min, max);
    *out = n;
    return 0;
}

int cl_case_from_json(json_t *obj, cl_case *out, pgtls_err *err)
{
    int result = -1;
    long long port = 0, timeout_ms = CL_DEFAULT_TIMEOUT_MS;

    memset(out, 0, sizeof(*out));
    out->json = json_incref(obj);
    ENSURE(json_is_object(obj), err, PGTLS_ERR_INPUT, "a case must be a JSON object");

    json_t *id = json_object_get(obj, "id");
    if (json_is_string(id))
        out->id = json_string_value(id);
    ENSURE(id == NULL || json_is_null(id) || json_is_string(id), err, PGTLS_ERR_INPUT,
           "field \"id\" must be a string");

    TRY(get_str(obj, "host", &out->host, err));
    TRY(get_str(obj, "hostaddr", &out->hostaddr, err));
    TRY(get_int(obj, "port", 1, 65535, &port, err));
    out->port = (int)port;
    TRY(get_str(obj, "sslmode", &out->sslmode, err));
    TRY(get_str(obj, "sslrootcert", &out->sslrootcert, err));
    TRY(get_str(obj, "user", &out->user, err));
    TRY(get_str(obj, "password", &out->password, err));
    TRY(get_str(obj, "dbname", &out->dbname, err));
    TRY(get_str(obj, "query", &out->query, err));
    TRY(get_int(obj, "timeout_ms", 1, 3600 * 1000, &timeout_ms, err));
    out->timeout_ms = (long)timeout_ms;
    TRY(get_str(obj, "application_name", &out->application_name, err));
    TRY(get_str(obj, "sslnegotiation", &out->sslnegotiation, err));
    TRY(get_str(obj, "channel_binding", &out->channel_binding, err));
    TRY(get_str(obj, "ssl_min_protocol_version", &out->ssl_min_protocol_version, err));
    TRY(get_str(obj, "ssl_max_protocol_version", &out->ssl_max_protocol_version, err));
    TRY(get_str(obj, "surface", &out->surface, err));
    TRY(get_str(obj, "literal", &out->literal, err));

    /* sslsni: the protocol writes "0"/"1"; accept the integers too. */
    json_t *sni = json_object_get(obj, "sslsni");
    if (json_is_integer(sni)) {
        ENSURE(json_integer_value(sni) == 0 || json_integer_value(sni) == 1, err, PGTLS_ERR_INPUT,
               "field \"sslsni\" must be 0 or 1");
        snprintf(out->sslsni_buf, sizeof(out->sslsni_buf), "%d", (int)json_integer_value(sni));
        out->sslsni = out->sslsni_buf;
    } else {
        TRY(get_str(obj, "sslsni", &out->sslsni, err));
    }

    json_t *env = json_object_get(obj, "env");
    if (env != NULL && !json_is_null(env)) {
        ENSURE(json_is_object(env), err, PGTLS_ERR_INPUT,
               "field \"env\" must be an object of strings");
        const char *name;
        json_t *value;
        json_object_foreach(env, name, value)
        {
            ENSURE(json_is_string(value), err, PGTLS_ERR_INPUT, "env.%s must be a string", name);
            ENSURE(name[0] != '\0' && strchr(name, '=') == NULL, err, PGTLS_ERR_INPUT,
                   "env has an invalid variable name \"%s\"", name);
        }
        out->env = env;
    }

    json_t *opts = json_object_get(obj, "connect_options");
    if (opts != NULL && !json_is_null(opts)) {
        ENSURE(json_is_object(opts), err, PGTLS_ERR_INPUT,
               "field \"connect_options\" must be an object");
        out->connect_options = opts;
    }

    ENSURE(out->host != NULL || out->hostaddr != NULL, err, PGTLS_ERR_INPUT,
           "a case needs \"host\" or \"hostaddr\"");
    ENSURE(out->port != 0, err, PGTLS_ERR_INPUT, "a case needs \"port\"");
    if (out->query == NULL)
        out->query = CL_DEFAULT_QUERY;
    result = 0;
out:
    return result;
}

int cl_case_parse(const char *line, size_t len, cl_case *out, pgtls_err *err)
{
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    memset(out, 0, sizeof(*out));
    if (obj == NULL)
        return err_set(err, PGTLS_ERR_INPUT, "not JSON: %s (column %d)", jerr.text, jerr.column);
    int rc = cl_case_from_json(obj, out, err);
    json_decref(obj); /* the case holds its own reference */
    return rc;
}

const char *cl_case_optional(const cl_case *c, const char *field)
{
    if (strcmp(field, "sslnegotiation") == 0)
        return c->sslnegotiation;
    if (strcmp(field, "channel_binding") == 0)
        return c->channel_binding;
    if (strcmp(field, "ssl_min_protocol_version") == 0)
        return c->ssl_min_protocol_version;
    if (strcmp(field, "ssl_max_protocol_version") == 0)
        return c->ssl_max_protocol_version;
    if (strcmp(field, "sslsni") == 0)
        return c->sslsni;
    if (strcmp(field, "connect_options") == 0)
        return c->connect_options != NULL && json_object_size(c->connect_options) > 0 ? "set"
                                                                                      : NULL;
    return NULL;
}

const char *cl_case_home(const cl_case *c)
{
    json_t *home = c->env != NULL ? json_object_get(c->env, "HOME") : NULL;
    if (json_is_string(home))
        return json_string_value(home);
    return getenv("HOME");
}

/* One-shot flags: --field value for every case field. Numbers for the
 * integer fields, JSON for connect_options, NAME=VALUE for each --env. */
json_t *cl_case_from_flags(int argc, char **argv, pgtls_err *err)
{
    static const char *const int_fields[] = {"port", "timeout_ms", NULL};
    static const char *const str_fields[] = {
        "id",
        "host",
        "hostaddr",
        "sslmode",
        "sslrootcert",
        "user",
        "password",
        "dbname",
        "query",
        "sslnegotiation",
        "channel_binding",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "sslsni",
        "application_name",
        "truststore_p12",
        "truststore_password",
        "surface",
        "literal",
        NULL,
    };
    json_t *obj = json_object();
    json_t *env = json_object();
    json_t *result = NULL;

    if (obj == NULL || env == NULL) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        ENSURE(strncmp(flag, "--", 2) == 0, err, PGTLS_ERR_USAGE,
               "unexpected argument \"%s\" (flags are --FIELD VALUE)", flag);
        const char *name = flag + 2;
        ENSURE(i + 1 < argc, err, PGTLS_ERR_USAGE, "flag %s needs a value", flag);
        const char *value = argv[++i];
        int known = 0;

        if (strcmp(name, "env") == 0) {
            const char *eq = strchr(value, '=');
            ENSURE(eq != NULL && eq != value, err, PGTLS_ERR_USAGE,
                   "--env wants NAME=VALUE, got \"%s\"", value);
            char *var = strndup(value, (size_t)(eq - value));
            ENSURE(var != NULL, err, PGTLS_ERR_NOMEM, "out of memory");
            json_object_set_new(env, var, cl_json_str(eq + 1));
            free(var);
            continue;
        }
        if (strcmp(name, "connect_options") == 0) {
            json_error_t jerr;
            json_t *opts = json_loads(value, 0, &jerr);
            if (!json_is_object(opts)) {
                json_decref(opts);
                err_set(err, PGTLS_ERR_USAGE, "--connect_options wants a JSON object, got \"%s\"",
                        value);
                goto out;
            }
            json_object_set_new(obj, name, opts);
            continue;
        }
        for (int k = 0; int_fields[k] != NULL; k++) {
            if (strcmp(name, int_fields[k]) == 0) {
                char *end = NULL;
                long long n = strtoll(value, &end, 10);
                ENSURE(value[0] != '\0' && end != NULL && *end == '\0', err, PGTLS_ERR_USAGE,
                       "%s wants an integer, got \"%s\"", flag, value);
                json_object_set_new(obj, name, json_integer(n));
                known = 1;
            }
        }
        for (int k = 0; !known && str_fields[k] != NULL; k++) {
            if (strcmp(name, str_fields[k]) == 0) {
                json_object_set_new(obj, name, cl_json_str(value));
                known = 1;
            }
        }
        if (!known) {
            /* Batch mode ignores fields it does not know (a newer runner may
             * send more); one-shot mode does the same, but says so. */
            ENSURE(name[0] != '\0', err, PGTLS_ERR_USAGE, "empty flag name \"--\"");
            fprintf(stderr,
                    "pgtls adapter: ignoring unknown case field %s (see "
                    "docs/case-protocol.md)\n",
                    flag);
            json_object_set_new(obj, name, cl_json_str(value));
        }
    }
    if (json_object_get(obj, "id") == NULL)
        json_object_set_new(obj, "id", json_string("one-shot"));
    if (json_object_size(env) > 0)
        json_object_set(obj, "env", env);
    result = json_incref(obj);
out:
    json_decref(env);
    json_decref(obj);
    return result;
}
