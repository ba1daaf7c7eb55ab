/* pgtls-adapter-psql: conninfo building and output parsing. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "psql_parse.h"

char *psql_conninfo_quote(const char *value)
{
    size_t len = strlen(value);
    char *out = malloc(len * 2 + 3);
    size_t o = 0;
    if (out == NULL)
        return NULL;
    out[o++] = '\'';
    for (size_t i = 0; i < len; i++) {
        if (value[i] == '\'' || value[i] == '\\')
            out[o++] = '\\';
        out[o++] = value[i];
    }
    out[o++] = '\'';
    out[o] = '\0';
    return out;
}

typedef struct strbuf {
    char *s;
    size_t len;
    int failed;
} strbuf;

static void sb_add_kv(strbuf *b, const char *key, const char *value)
{
    if (value == NULL || b->failed)
        return;
    char *q = psql_conninfo_quote(value);
    char *next = q ? str_printf("%s%s%s=%s", b->s ? b->s : "", b->s ? " " : "", key, q) : NULL;
    free(q);
    if (next == NULL) {
        b->failed = 1;
        return;
    }
    free(b->s);
    b->s = next;
}

char *psql_build_conninfo(const cl_case *c, char **out_unsupported)
{
    strbuf b = {0};
    char port[16], timeout[32];

    *out_unsupported = NULL;
    snprintf(port, sizeof(port), "%d", c->port);
    snprintf(timeout, sizeof(timeout), "%ld", (c->timeout_ms + 999) / 1000);
    sb_add_kv(&b, "host", c->host);
    sb_add_kv(&b, "hostaddr", c->hostaddr);
    sb_add_kv(&b, "port", port);
    sb_add_kv(&b, "sslmode", c->sslmode);
    sb_add_kv(&b, "sslrootcert", c->sslrootcert);
    sb_add_kv(&b, "user", c->user);
    sb_add_kv(&b, "dbname", c->dbname);
    sb_add_kv(&b, "connect_timeout", timeout);
    sb_add_kv(&b, "application_name", c->application_name);
    sb_add_kv(&b, "sslnegotiation", c->sslnegotiation);
    sb_add_kv(&b, "channel_binding", c->channel_binding);
    sb_add_kv(&b, "ssl_min_protocol_version", c->ssl_min_protocol_version);
    sb_add_kv(&b, "ssl_max_protocol_version", c->ssl_max_protocol_version);
    sb_add_kv(&b, "sslsni", c->sslsni);
    if (c->connect_options != NULL) {
        const char *k;
        json_t *v;
        json_object_foreach(c->connect_options, k, v)
        {
            char num[32];
            if (json_is_string(v)) {
                sb_add_kv(&b, k, json_string_value(v));
            } else if (json_is_integer(v)) {
                snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
                sb_add_kv(&b, k, num);
            } else if (json_is_boolean(v)) {
                sb_add_kv(&b, k, json_is_true(v) ? "1" : "0");
            } else {
                *out_unsupported = str_printf("connect_options.%s: conninfo values are strings", k);
                free(b.s);
                return NULL;
            }
        }
    }
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s != NULL ? b.s : strdup("");
}

/* A heap copy of the text after `key` up to the first of `stops` (or the end
 * of the line). */
static char *value_after(const char *line, const char *key, const char *stops)
{
    const char *p = strstr(line, key);
    if (p == NULL)
        return NULL;
    p += strlen(key);
    size_t n = strcspn(p, stops);
    return strndup(p, n);
}

void psql_parse_output(const char *out, psql_output *o)
{
    const char *line = out;
    int after_marker = 0;

    memset(o, 0, sizeof(*o));
    while (line != NULL && *line != '\0') {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char *l = strndup(line, len);
        if (l == NULL)
            break;
        if (after_marker) {
            if (!o->row_seen) {
                o->row_seen = 1;
                l[strcspn(l, PSQL_FIELD_SEP)] = '\0';
                /* SQL NULL is printed as the -P null= marker: keep it null. */
                if (strcmp(l, PSQL_NULL_MARKER) != 0)
                    o->first_value = strdup(l);
            }
        } else if (strcmp(l, PSQL_MARKER) == 0) {
            o->marker_seen = 1;
            after_marker = 1;
        } else if (strncmp(l, "SSL connection (", 16) == 0) {
            /* psql <= 17: printSSLInfo() */
            o->ssl_line_seen = o->ssl_known = 1;
            free(o->tls_version);
            free(o->cipher);
            o->tls_version = value_after(l, "protocol: ", ",)");
            o->cipher = value_after(l, "cipher: ", ",)");
        } else if (strncmp(l, "SSL Connection" PSQL_FIELD_SEP, 15) == 0) {
            /* psql 18: the \conninfo table, one parameter per row */
            o->ssl_known = 1;
            o->ssl_line_seen = strcmp(l + 15, "true") == 0;
        } else if (strncmp(l, "SSL Protocol" PSQL_FIELD_SEP, 13) == 0) {
            free(o->tls_version);
            o->tls_version = strdup(l + 13);
        } else if (strncmp(l, "SSL Cipher" PSQL_FIELD_SEP, 11) == 0) {
            free(o->cipher);
            o->cipher = strdup(l + 11);
        } else if (strncmp(l, "You are connected to ", 21) == 0) {
            /* psql <= 17 prints the SSL line only for SSL connections. */
            o->ssl_known = 1;
        }
        free(l);
        line = nl ? nl + 1 : NULL;
    }
}

void psql_output_cleanup(psql_output *o)
{
    if (o == NULL)
        return;
    free(o->tls_version);
    free(o->cipher);
    free(o->first_value);
    memset(o, 0, sizeof(*o));
}

char *psql_parse_version(const char *text)
{
    const char *p = strstr(text, "(PostgreSQL) ");
    if (p == NULL)
        return NULL;
    p += strlen("(PostgreSQL) ");
    size_t n = 0;
    while (isdigit((unsigned char)p[n]) || p[n] == '.')
        n++;
    /* also keeps development versions such as "18beta1" and "19devel" */
    while (isalnum((unsigned char)p[n]))
        n++;
    return n > 0 && isdigit((unsigned char)p[0]) ? strndup(p, n) : NULL;
}

char *psql_trace_find(const char *trace, const char *soname_prefix)
{
    const char *line = trace;
    size_t plen = strlen(soname_prefix);
    while (line != NULL && *line != '\0') {
        const char *nl = strchr(line, '\n');
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, soname_prefix, plen) == 0) {
            const char *arrow = strstr(p, " => ");
            if (arrow != NULL && (nl == NULL || arrow < nl)) {
                const char *path = arrow + 4;
                size_t n = strcspn(path, " \n(");
                if (n > 0 && path[0] == '/')
                    return strndup(path, n);
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return NULL;
}
