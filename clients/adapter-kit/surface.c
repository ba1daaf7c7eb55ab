/* pgtls clients: one case's settings written on a surface (docs/surfaces.md).
 *
 * The C adapters hold a case as libpq keywords. A surface says how those
 * reach libpq: one keyword/value string, one URL, PG* variables, keyword
 * arrays (libpq's own "options"), or a combination. The target settings
 * (host, port, user, ...) and the TLS settings (sslmode, sslrootcert, ...)
 * are split the same way for every driver. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_adapter.h"
#include "common/fs.h"

const char *const cl_surfaces[] = {"conninfo", "url", "env", "options", "url+options", "url+env",
                                   NULL};

/* libpq's environment variable per TLS keyword (PQconndefaults' envvar,
 * fe-connect.c PQconninfoOptions). */
static const char *const tls_env[][2] = {
    {"sslmode", "PGSSLMODE"},
    {"sslrootcert", "PGSSLROOTCERT"},
    {"sslnegotiation", "PGSSLNEGOTIATION"},
    {"channel_binding", "PGCHANNELBINDING"},
    {"ssl_min_protocol_version", "PGSSLMINPROTOCOLVERSION"},
    {"ssl_max_protocol_version", "PGSSLMAXPROTOCOLVERSION"},
    {"sslsni", "PGSSLSNI"},
    {"sslcert", "PGSSLCERT"},
    {"sslkey", "PGSSLKEY"},
    {"sslcrl", "PGSSLCRL"},
    {"sslcrldir", "PGSSLCRLDIR"},
    {"sslcompression", "PGSSLCOMPRESSION"},
};

const char *cl_tls_envvar(const char *keyword)
{
    for (size_t i = 0; i < sizeof(tls_env) / sizeof(tls_env[0]); i++)
        if (strcmp(tls_env[i][0], keyword) == 0)
            return tls_env[i][1];
    return NULL;
}

int cl_keyword_is_tls(const char *keyword)
{
    return strncmp(keyword, "ssl", 3) == 0 || strcmp(keyword, "channel_binding") == 0;
}

typedef struct sb {
    char *s;
    size_t len, cap;
    int failed;
} sb;

static void sb_addn(sb *b, const char *t, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *g = realloc(b->s, cap);
        if (!g) {
            b->failed = 1;
            return;
        }
        b->s = g;
        b->cap = cap;
    }
    memcpy(b->s + b->len, t, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_add(sb *b, const char *t)
{
    sb_addn(b, t, strlen(t));
}

/* RFC 3986 percent-encoding of everything but the unreserved characters. */
static void sb_add_pct(sb *b, const char *t)
{
    for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            sb_addn(b, (const char *)p, 1);
        } else {
            char hex[4];
            snprintf(hex, sizeof(hex), "%%%02X", *p);
            sb_add(b, hex);
        }
    }
}

/* keyword='value' with \ and ' escaped, as libpq's conninfo parser reads it. */
static void sb_add_kv(sb *b, const char *k, const char *v)
{
    if (b->len)
        sb_add(b, " ");
    sb_add(b, k);
    sb_add(b, "='");
    for (const char *p = v; *p; p++) {
        if (*p == '\\' || *p == '\'')
            sb_add(b, "\\");
        sb_addn(b, p, 1);
    }
    sb_add(b, "'");
}

static const char *find(const cl_settings *s, const char *k)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->keywords[i], k) == 0)
            return s->values[i];
    return NULL;
}

char *cl_settings_conninfo(const cl_settings *s)
{
    sb b = {0};
    for (int i = 0; i < s->n; i++)
        sb_add_kv(&b, s->keywords[i], s->values[i]);
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s ? b.s : strdup("");
}

char *cl_settings_url(const cl_settings *s)
{
    static const char *const in_authority[] = {"user", "password", "host", "port", "dbname", NULL};
    const char *user = find(s, "user"), *password = find(s, "password"), *host = find(s, "host"),
               *port = find(s, "port"), *dbname = find(s, "dbname");
    sb b = {0};
    int q = 0;

    sb_add(&b, "postgresql://");
    if (user) {
        sb_add_pct(&b, user);
        if (password) {
            sb_add(&b, ":");
            sb_add_pct(&b, password);
        }
        sb_add(&b, "@");
    }
    if (host)
        sb_add_pct(&b, host);
    if (port) {
        sb_add(&b, ":");
        sb_add(&b, port);
    }
    sb_add(&b, "/");
    if (dbname)
        sb_add_pct(&b, dbname);
    for (int i = 0; i < s->n; i++) {
        int skip = 0;
        for (int j = 0; in_authority[j]; j++)
            skip |= strcmp(s->keywords[i], in_authority[j]) == 0;
        if (skip)
            continue;
        sb_add(&b, q++ ? "&" : "?");
        sb_add_pct(&b, s->keywords[i]);
        sb_add(&b, "=");
        sb_add_pct(&b, s->values[i]);
    }
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

static void add(cl_settings *s, const char *k, const char *v)
{
    if (s->n < CL_MAX_SETTINGS) {
        s->keywords[s->n] = k;
        s->values[s->n] = v;
        s->n++;
    }
}

int cl_surface_split(const char *surface, const cl_settings *all, cl_surface_plan *plan,
                     char **unsupported)
{
    memset(plan, 0, sizeof(*plan));
    *unsupported = NULL;
    int known = 0;
    for (int i = 0; cl_surfaces[i]; i++)
        known |= strcmp(cl_surfaces[i], surface) == 0;
    if (!known) {
        *unsupported = str_printf("surface \"%s\" is not one this adapter knows (%s)", surface,
                                  "conninfo url env options url+options url+env");
        return -1;
    }
    int url = strncmp(surface, "url", 3) == 0;
    int env = strcmp(surface, "env") == 0 || strcmp(surface, "url+env") == 0;
    int plus_options = strcmp(surface, "url+options") == 0;
    cl_settings in_string = {0};

    for (int i = 0; i < all->n; i++) {
        const char *k = all->keywords[i], *v = all->values[i];
        int tls = cl_keyword_is_tls(k);
        if (strcmp(surface, "conninfo") == 0 || strcmp(surface, "url") == 0) {
            add(&in_string, k, v);
        } else if (strcmp(surface, "options") == 0) {
            add(&plan->params, k, v);
        } else if (env && tls) {
            const char *var = cl_tls_envvar(k);
            if (!var) {
                *unsupported = str_printf("libpq has no environment variable for \"%s\"", k);
                return -1;
            }
            add(&plan->env, var, v);
        } else if (plus_options && tls && strcmp(k, "sslmode") != 0) {
            add(&plan->params, k, v);
        } else if (url) {
            add(&in_string, k, v); /* url+env, url+options: the target (and sslmode) */
        } else {
            add(&plan->params, k, v); /* env: the target as keywords */
        }
    }
    if (in_string.n) {
        plan->string = url ? cl_settings_url(&in_string) : cl_settings_conninfo(&in_string);
        if (!plan->string) {
            *unsupported = strdup("out of memory");
            return -1;
        }
    }
    return 0;
}

void cl_surface_plan_cleanup(cl_surface_plan *plan)
{
    free(plan->string);
    memset(plan, 0, sizeof(*plan));
}
