/* pgtls runner: Microsoft Entra ID token cases (docs/entra.md "Token rows").
 *
 * A case with a `token` (suites/st.h) is run against a scenario with
 * auth=entra. The runner serves the managed-identity token endpoint itself
 * (imds/, in-process, on loopback), one token service per fault the
 * selected cases need, all on the fixtures folder's tenant, so the mock
 * (same folder) validates what they issue. The case line an adapter gets
 * names the service and the identity:
 *
 *   "user": "<identity name>", "password": null,
 *   "entra": {"imds": "http://127.0.0.1:N", "client_id": "<guid>" | null,
 *             "resource": "https://ossrdbms-aad.database.windows.net"}
 *
 * and the adapter's Azure SDK fetches the token there through the SDK's own
 * documented means (docs/entra.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entra.h"
#include "fs.h"
#include "im.h"
#include "rn.h"
#include "st.h"

/* A client id no tenant holds: the "unknown-identity" case asks for it. */
#define RN_ENTRA_UNKNOWN_CLIENT_ID "00000000-0000-4000-8000-00000000dead"

typedef struct entra_service {
    en_fault fault;
    en_tenant *tenant;
    im_server *server;
    int port;
} entra_service;

struct rn_entra {
    entra_service svc[EN_FAULT_COUNT];
    size_t num_svc;
};

static entra_service *find_service(rn_entra *e, en_fault f)
{
    for (size_t i = 0; i < e->num_svc; i++)
        if (e->svc[i].fault == f)
            return &e->svc[i];
    return NULL;
}

static int start_service(rn_entra *e, const char *fixtures_dir, en_fault f, pgtls_err *err)
{
    entra_service *s = &e->svc[e->num_svc];
    im_options io = {.bind_addr = "127.0.0.1", .port = 0, .log_fd = -1};

    memset(s, 0, sizeof(*s));
    s->fault = f;
    /* One tenant object per service: the fault is a property of the tenant
     * the server issues from. All of them read the same DIR/entra. */
    s->tenant = en_tenant_open(fixtures_dir, err);
    if (!s->tenant) {
        err_prefix(err, "token service");
        return -1;
    }
    e->num_svc++;
    if (en_tenant_set_fault(s->tenant, f, err) < 0)
        return -1;
    s->server = im_server_new(s->tenant, &io, err);
    if (!s->server) {
        err_prefix(err, "token service (fault %s)", en_fault_name(f));
        return -1;
    }
    s->port = im_server_port(s->server);
    if (im_server_start(s->server, err) < 0) {
        err_prefix(err, "token service (fault %s)", en_fault_name(f));
        return -1;
    }
    return 0;
}

int rn_entra_start(const char *fixtures_dir, const st_case *const *cases, size_t num_cases,
                   rn_entra **out, pgtls_err *err)
{
    rn_entra *e;

    *out = NULL;
    for (size_t i = 0; i < num_cases; i++)
        if (cases[i]->token)
            goto needed;
    return 0;
needed:
    e = calloc(1, sizeof(*e));
    if (!e) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < num_cases; i++) {
        const char *fault_name = NULL;
        en_fault f;
        if (!cases[i]->token)
            continue;
        if (st_token_plan(cases[i]->token, &fault_name, NULL) < 0 ||
            en_fault_parse(fault_name, &f) < 0) {
            err_set(err, PGTLS_ERR_CONFIG, "case %s: unknown token case \"%s\"", cases[i]->id,
                    cases[i]->token);
            rn_entra_stop(e);
            return -1;
        }
        if (find_service(e, f))
            continue;
        if (start_service(e, fixtures_dir, f, err) < 0) {
            rn_entra_stop(e);
            return -1;
        }
    }
    *out = e;
    return 0;
}

int rn_entra_case(rn_entra *e, const st_case *c, json_t *line, pgtls_err *err)
{
    const char *fault_name = NULL, *who = NULL;
    const en_identity *id = NULL;
    const char *client_id = NULL;
    entra_service *s;
    en_fault f;
    json_t *o = NULL;
    char *url = NULL;
    int rc = 0, result = -1;

    if (!c->token)
        return 0;
    ENSURE(e, err, PGTLS_ERR_INTERNAL, "case %s: no token service was started", c->id);
    ENSURE(st_token_plan(c->token, &fault_name, &who) == 0 && en_fault_parse(fault_name, &f) == 0,
           err, PGTLS_ERR_CONFIG, "case %s: unknown token case \"%s\"", c->id, c->token);
    s = find_service(e, f);
    ENSURE(s, err, PGTLS_ERR_INTERNAL, "case %s: no token service for fault %s", c->id,
           fault_name);
    if (strcmp(who, "no-role") == 0) {
        /* A user-assigned identity the server holds no role for. */
        for (size_t i = 0; i < s->tenant->num_ids && !id; i++)
            if (!s->tenant->ids[i].has_role && strcmp(s->tenant->ids[i].kind, "user") == 0)
                id = &s->tenant->ids[i];
        ENSURE(id, err, PGTLS_ERR_CONFIG,
               "case %s: the tenant (%s/tenant.json) has no user-assigned identity without a "
               "role (\"role\": false); add one or delete the folder to make a new tenant",
               c->id, s->tenant->dir);
        client_id = id->client_id;
    } else {
        id = en_tenant_find_name(s->tenant, s->tenant->default_identity);
        ENSURE(id, err, PGTLS_ERR_CONFIG, "case %s: the tenant's default identity %s is unknown",
               c->id, s->tenant->default_identity);
        if (strcmp(who, "unknown") == 0)
            client_id = RN_ENTRA_UNKNOWN_CLIENT_ID;
    }
    url = str_printf("http://127.0.0.1:%d", s->port);
    o = json_object();
    ENSURE(url && o, err, PGTLS_ERR_NOMEM, "out of memory");
    rc |= json_object_set_new(o, "imds", json_string(url));
    rc |= json_object_set_new(o, "client_id", client_id ? json_string(client_id) : json_null());
    rc |= json_object_set_new(o, "resource", json_string(EN_AUDIENCE_OSSRDBMS));
    rc |= json_object_set_new(line, "user", json_string(id->name));
    rc |= json_object_set_new(line, "password", json_null());
    rc |= json_object_set_new(line, "entra", o);
    o = NULL; /* the line owns it now */
    ENSURE(rc == 0, err, PGTLS_ERR_NOMEM, "out of memory");
    result = 0;
out:
    json_decref(o);
    free(url);
    return result;
}

void rn_entra_stop(rn_entra *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->num_svc; i++) {
        im_server_free(e->svc[i].server);
        en_tenant_free(e->svc[i].tenant);
    }
    free(e);
}

int rn_hello_has_feature(const json_t *hello, const char *feature)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(hello, "features"), i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), feature) == 0)
            return 1;
    }
    return 0;
}
