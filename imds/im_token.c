/* pgtls imds: what the instance metadata service answers, pure (request in,
 * response out). The token endpoint follows Azure's managed-identity
 * documentation: GET /metadata/identity/oauth2/token?api-version=2018-02-01
 * &resource=R[&client_id=|&object_id=|&mi_res_id=] with `Metadata: true`;
 * the JWKS of the tenant is served at /<tenant>/discovery/keys (where
 * login.microsoftonline.com serves it) and /common/discovery/keys. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fs.h"
#include "im.h"

#define TOKEN_PATH "/metadata/identity/oauth2/token"

static int error_json(im_response *out, int status, const char *error, const char *description)
{
    json_t *j = json_pack("{s:s, s:s}", "error", error, "error_description", description);
    out->status = status;
    out->body = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return out->body ? 0 : -1;
}

/* Resources the mock tenant knows: the database one, and Azure Resource
 * Manager (so a client asking for the wrong scope gets a real token with the
 * wrong audience, as it would from Azure). Trailing slashes are tolerated as
 * Entra ID does. */
static int resource_known(const char *r)
{
    static const char *const known[] = {EN_AUDIENCE_OSSRDBMS, "https://management.azure.com",
                                        "https://management.core.windows.net", NULL};
    size_t n = strlen(r);
    while (n && r[n - 1] == '/')
        n--;
    for (const char *const *k = known; *k; k++)
        if (strlen(*k) == n && !strncasecmp(*k, r, n))
            return 1;
    return 0;
}

static int token_answer(const en_tenant *t, const im_request *req, long long now, im_response *out)
{
    const char *md = im_header(req, "Metadata", NULL), *api, *resource, *cid, *oid, *mir;
    int n_api, n_res, n_cid, n_oid, n_mir, n_msir;
    const en_identity *id;
    char *tok = NULL, *desc = NULL, exp_s[24], nbf_s[24], in_s[24], ext_s[24];
    long long exp = 0, nbf = 0;
    json_t *j = NULL;
    pgtls_err err;
    int rc = -1;
    /* Azure checks the header first: it is what keeps a server-side request
     * forgery from reading tokens. */
    if (!md || strcasecmp(md, "true") != 0)
        return error_json(out, 400, "invalid_request", "Required metadata header not specified");
    api = im_param(req, "api-version", &n_api);
    resource = im_param(req, "resource", &n_res);
    cid = im_param(req, "client_id", &n_cid);
    oid = im_param(req, "object_id", &n_oid);
    mir = im_param(req, "mi_res_id", &n_mir);
    if (!mir)
        mir = im_param(req, "msi_res_id", &n_msir);
    else
        im_param(req, "msi_res_id", &n_msir);
    if (!api || !api[0])
        return error_json(out, 400, "invalid_request",
                          "Required query variable 'api-version' is missing");
    if (n_api > 1 || n_res > 1 || n_cid > 1 || n_oid > 1 || n_mir + n_msir > 1)
        return error_json(out, 400, "invalid_request",
                          "A query parameter is specified more than once");
    if (strcmp(api, "2018-02-01") != 0 && strcmp(api, "2019-08-01") != 0)
        return error_json(out, 400, "invalid_request",
                          "Invalid or unsupported api-version (use 2018-02-01 or 2019-08-01)");
    if (!resource || !resource[0])
        return error_json(out, 400, "invalid_request",
                          "Required query variable 'resource' is missing");
    if ((cid != NULL) + (oid != NULL) + (mir != NULL) > 1)
        return error_json(out, 400, "invalid_request",
                          "Only one of client_id, object_id and mi_res_id may be given");
    if (t->fault == EN_FAULT_THROTTLE) {
        out->status = 429;
        snprintf(out->extra_headers, sizeof(out->extra_headers), "Retry-After: %ld\r\n",
                 t->retry_after_s);
        return error_json(out, 429, "too_many_requests",
                          "Too many requests. The service is throttling this client; retry after "
                          "the Retry-After interval.");
    }
    id = en_tenant_select(t, cid, oid, mir);
    if (!id)
        return error_json(out, 400, "invalid_request", "Identity not found");
    if (!resource_known(resource)) {
        desc = str_printf("AADSTS500011: The resource principal named %s was not found in the "
                          "tenant named %s. This can happen if the application has not been "
                          "installed by the administrator of the tenant or consented to by any "
                          "user in the tenant. You might have sent your authentication request "
                          "to the wrong tenant.",
                          resource, t->tenant_id);
        rc = desc ? error_json(out, 400, "invalid_resource", desc) : -1;
        free(desc);
        return rc;
    }
    err_clear(&err);
    tok = en_token_issue(t, id, resource, now, &exp, &nbf, &err);
    if (!tok)
        return error_json(out, 500, "unknown", "Failed to retrieve token from the Active directory.");
    snprintf(exp_s, sizeof(exp_s), "%lld", exp);
    snprintf(nbf_s, sizeof(nbf_s), "%lld", nbf);
    snprintf(in_s, sizeof(in_s), "%lld", exp - now);
    snprintf(ext_s, sizeof(ext_s), "%lld", exp - now);
    /* Field order and string-typed numbers as Azure sends them. */
    j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "access_token", tok, "client_id",
                  id->client_id, "expires_in", in_s, "expires_on", exp_s, "ext_expires_in", ext_s,
                  "not_before", nbf_s, "resource", resource, "token_type", "Bearer");
    out->status = 200;
    out->body = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    snprintf(out->identity, sizeof(out->identity), "%s", id->name);
    rc = out->body ? 0 : -1;
    json_decref(j);
    free(tok);
    return rc;
}

int im_handle(const en_tenant *t, const im_request *req, long long now, im_response *out)
{
    char keys_path[128];
    memset(out, 0, sizeof(*out));
    out->content_type = "application/json; charset=utf-8";
    snprintf(keys_path, sizeof(keys_path), "/%s/discovery/keys", t->tenant_id);
    /* One trailing slash is accepted: MSAL for Node appends it to
     * AZURE_POD_IDENTITY_AUTHORITY_HOST + the token path, and the services
     * that variable points at (AKS pod identity) answer it. */
    if (!strcmp(req->path, TOKEN_PATH) || !strcmp(req->path, TOKEN_PATH "/")) {
        if (strcmp(req->method, "GET") != 0) {
            snprintf(out->extra_headers, sizeof(out->extra_headers), "Allow: GET\r\n");
            return error_json(out, 405, "invalid_request", "The request method is not supported");
        }
        return token_answer(t, req, now, out);
    }
    if (!strcasecmp(req->path, keys_path) || !strcmp(req->path, "/common/discovery/keys") ||
        !strcmp(req->path, "/discovery/keys")) {
        pgtls_err err;
        if (strcmp(req->method, "GET") != 0) {
            snprintf(out->extra_headers, sizeof(out->extra_headers), "Allow: GET\r\n");
            return error_json(out, 405, "invalid_request", "The request method is not supported");
        }
        out->status = 200;
        out->body = en_tenant_jwks(t, &err);
        return out->body ? 0 : -1;
    }
    return error_json(out, 404, "not_found", "The requested path was not found");
}

void im_response_cleanup(im_response *r)
{
    free(r->body);
    r->body = NULL;
}
