/* pgtls mockserver: Entra ID token authentication and the pgaadauth
 * extension's pgaadauth_create_principal (docs/entra.md). */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "en_jwt.h"
#include "entra.h"
#include "ms_entra.h"

#define MAX_PRINCIPALS 256

typedef struct principal {
    char role[64];
    char object_id[40];
} principal;

struct ms_entra {
    en_tenant *tenant;
    char issuer[128];
    pthread_mutex_t mu;
    principal roles[MAX_PRINCIPALS];
    size_t num_roles;
};

ms_entra *ms_entra_new(const char *fixtures_dir, pgtls_err *err)
{
    ms_entra *e = calloc(1, sizeof(*e));
    if (!e) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    e->tenant = en_tenant_open(fixtures_dir, err);
    if (!e->tenant) {
        err_prefix(err, "auth=entra");
        free(e);
        return NULL;
    }
    /* The mock validates; a fault set in tenant.json is for the issuer. */
    snprintf(e->issuer, sizeof(e->issuer), "https://sts.windows.net/%s/", e->tenant->tenant_id);
    pthread_mutex_init(&e->mu, NULL);
    for (size_t i = 0; i < e->tenant->num_ids; i++)
        if (e->tenant->ids[i].has_role && e->num_roles < MAX_PRINCIPALS) {
            snprintf(e->roles[e->num_roles].role, sizeof(e->roles[0].role), "%s",
                     e->tenant->ids[i].name);
            snprintf(e->roles[e->num_roles].object_id, sizeof(e->roles[0].object_id), "%s",
                     e->tenant->ids[i].object_id);
            e->num_roles++;
        }
    return e;
}

void ms_entra_free(ms_entra *e)
{
    if (!e)
        return;
    en_tenant_free(e->tenant);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

/* Copies the role's object id into oid (40 bytes); 1 when found. */
static int find_role(ms_entra *e, const char *user, char *oid)
{
    int found = 0;
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->num_roles && !found; i++)
        if (!strcmp(e->roles[i].role, user)) {
            found = 1;
            if (oid)
                snprintf(oid, 40, "%s", e->roles[i].object_id);
        }
    pthread_mutex_unlock(&e->mu);
    return found;
}

int ms_entra_is_principal(ms_entra *e, const char *user)
{
    return e && find_role(e, user, NULL);
}

int ms_entra_check(ms_entra *e, const char *user, const char *token, size_t len, long long now,
                   ms_pgerr *out_err, char *why, size_t why_cap)
{
    en_jwt_expect x;
    en_jwt_claims c;
    en_jwt_status st;
    char oid[40] = "";
    if (!find_role(e, user, oid)) {
        snprintf(why, why_cap, "role %s is not an Entra principal", user);
        return ms_pgerr_set(out_err, "FATAL", "28P01",
                            "password authentication failed for user \"%s\"", user);
    }
    memset(&x, 0, sizeof(x));
    x.key = e->tenant->key;
    x.kid = e->tenant->kid;
    x.audience = EN_AUDIENCE_OSSRDBMS;
    x.issuer = e->issuer;
    x.now = now;
    x.skew_s = e->tenant->clock_skew_s; /* Entra ID's usual allowance: 5 minutes */
    st = en_jwt_verify(token, len, &x, &c, why, why_cap);
    switch (st) {
    case EN_JWT_OK:
        break;
    case EN_JWT_MALFORMED:
        /* Azure's text (seen in the field for a token pasted with quotes). */
        return ms_pgerr_set(out_err, "FATAL", "28000",
                            "The access token has invalid format. Please ensure the token is "
                            "passed exactly as returned by the authentication endpoint and "
                            "retry.");
    case EN_JWT_EXPIRED:
        return ms_pgerr_set(out_err, "FATAL", "28000",
                            "The access token has expired. Please acquire a new token and retry.");
    case EN_JWT_WRONG_AUDIENCE:
        return ms_pgerr_set(out_err, "FATAL", "28000",
                            "The access token does not have a valid audience claim. Please "
                            "acquire a new token for the resource \"%s\".",
                            EN_AUDIENCE_OSSRDBMS);
    case EN_JWT_NOT_YET_VALID:
        /* Text not confirmed against a real server (docs/entra.md). */
        return ms_pgerr_set(out_err, "FATAL", "28000",
                            "The access token is not yet valid. Please acquire a new token and "
                            "retry.");
    case EN_JWT_BAD_ALG:
    case EN_JWT_BAD_SIGNATURE:
    case EN_JWT_WRONG_ISSUER:
        /* Text not confirmed against a real server (docs/entra.md). */
        return ms_pgerr_set(out_err, "FATAL", "28000",
                            "The access token signature or issuer is not valid. Please acquire a "
                            "new token and retry.");
    }
    if (strcasecmp(c.oid, oid) != 0) {
        snprintf(why, why_cap, "token oid %s is not the object id %s of role %s", c.oid, oid,
                 user);
        return ms_pgerr_set(out_err, "FATAL", "28P01",
                            "password authentication failed for user \"%s\"", user);
    }
    return 0;
}

/* Lower-cases sql outside quotes, folds blanks, drops a trailing ';'. */
static void normalise(const char *sql, char *out, size_t cap)
{
    size_t o = 0;
    int quote = 0, blank = 0;
    while (*sql && isspace((unsigned char)*sql))
        sql++;
    for (; *sql && o + 1 < cap; sql++) {
        char ch = *sql;
        if (ch == '\'')
            quote = !quote;
        if (!quote && isspace((unsigned char)ch)) {
            blank = 1;
            continue;
        }
        if (blank && o + 2 < cap)
            out[o++] = ' ';
        blank = 0;
        out[o++] = quote ? ch : (char)tolower((unsigned char)ch);
    }
    while (o && (out[o - 1] == ';' || out[o - 1] == ' '))
        o--;
    out[o] = 0;
}

/* Parses "'name', bool, bool)" at p. Returns 0 with name filled. */
static int parse_args(const char *p, char *name, size_t cap, int *is_admin, int *is_mfa)
{
    size_t n = 0;
    int *flags[2] = {is_admin, is_mfa};
    if (*p++ != '\'')
        return -1;
    for (;; p++) {
        if (!*p)
            return -1;
        if (*p == '\'') {
            if (p[1] != '\'')
                break;
            p++;
        }
        if (n + 1 >= cap)
            return -1;
        name[n++] = *p;
    }
    name[n] = 0;
    p++;
    for (int i = 0; i < 2; i++) {
        if (*p == ' ')
            p++;
        if (*p++ != ',')
            return -1;
        if (*p == ' ')
            p++;
        if (!strncmp(p, "true", 4)) {
            *flags[i] = 1;
            p += 4;
        } else if (!strncmp(p, "false", 5)) {
            *flags[i] = 0;
            p += 5;
        } else
            return -1;
    }
    if (*p == ' ')
        p++;
    return strcmp(p, ")") == 0 ? 0 : -1;
}

int ms_entra_query(ms_entra *e, const char *sql, const char *database, int execute,
                   ms_result *out)
{
    static const char *const forms[] = {"select * from pgaadauth_create_principal(",
                                        "select pgaadauth_create_principal(", NULL};
    char norm[1024], name[128];
    const char *args = NULL;
    int is_admin = 0, is_mfa = 0;
    const en_identity *id;
    if (strlen(sql) >= sizeof(norm) - 1)
        return 0;
    normalise(sql, norm, sizeof(norm));
    for (const char *const *f = forms; *f && !args; f++)
        if (!strncmp(norm, *f, strlen(*f)))
            args = norm + strlen(*f);
    if (!args || parse_args(args, name, sizeof(name), &is_admin, &is_mfa) < 0)
        return 0;
    memset(out, 0, sizeof(*out));
    if (!e || strcmp(database, "postgres") != 0) {
        /* The pgaadauth extension is installed in the postgres database only. */
        out->kind = MS_RES_ERROR;
        ms_pgerr_set(&out->err, "ERROR", "42883",
                     "function pgaadauth_create_principal(unknown, boolean, boolean) does not "
                     "exist");
        snprintf(out->err.hint, sizeof(out->err.hint),
                 "No function matches the given name and argument types. You might need to add "
                 "explicit type casts.");
        return 1;
    }
    out->num_cols = 1;
    snprintf(out->cols[0].name, sizeof(out->cols[0].name), "pgaadauth_create_principal");
    out->cols[0].oid = MS_OID_TEXT;
    out->cols[0].typlen = -1;
    out->kind = MS_RES_ROWS;
    snprintf(out->tag, sizeof(out->tag), "SELECT 1");
    if (!execute)
        return 1;
    id = en_tenant_find_name(e->tenant, name);
    if (!id) {
        out->kind = MS_RES_ERROR;
        ms_pgerr_set(&out->err, "ERROR", "XX000",
                     "Could not validate AAD user %s because its name is not found in the "
                     "tenant.",
                     name);
        return 1;
    }
    pthread_mutex_lock(&e->mu);
    {
        int exists = 0;
        for (size_t i = 0; i < e->num_roles; i++)
            exists |= !strcmp(e->roles[i].role, name);
        if (exists) {
            out->kind = MS_RES_ERROR;
            ms_pgerr_set(&out->err, "ERROR", "42710", "role \"%s\" already exists", name);
        } else if (e->num_roles >= MAX_PRINCIPALS) {
            out->kind = MS_RES_ERROR;
            ms_pgerr_set(&out->err, "ERROR", "54000", "too many roles in the mock (%d)",
                         MAX_PRINCIPALS);
        } else {
            snprintf(e->roles[e->num_roles].role, sizeof(e->roles[0].role), "%s", name);
            snprintf(e->roles[e->num_roles].object_id, sizeof(e->roles[0].object_id), "%s",
                     id->object_id);
            e->num_roles++;
        }
    }
    pthread_mutex_unlock(&e->mu);
    if (out->kind == MS_RES_ERROR)
        return 1;
    out->cells = calloc(1, sizeof(char *));
    if (!out->cells)
        return -1;
    out->cells[0] = malloc(strlen(name) + 32);
    if (!out->cells[0]) {
        free(out->cells);
        out->cells = NULL;
        return -1;
    }
    sprintf(out->cells[0], "Created role for \"%s\"", name);
    out->num_rows = 1;
    return 1;
}
