/* pgtls common: shared vocabularies (vocab.h). */
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

static const struct {
    const char *name;
    int rank, wire;
} tls_versions[] = {
#define VC_TLS_ROW(name, rank, wire) {name, rank, wire},
    VC_TLS_VERSIONS(VC_TLS_ROW)
#undef VC_TLS_ROW
};

#define NUM_TLS_VERSIONS (sizeof(tls_versions) / sizeof(tls_versions[0]))

static int tls_find(const char *name)
{
    if (strcmp(name, "TLSv1.0") == 0)
        name = "TLSv1";
    for (size_t i = 0; i < NUM_TLS_VERSIONS; i++)
        if (strcmp(name, tls_versions[i].name) == 0)
            return (int)i;
    return -1;
}

int vc_tls_rank(const char *name)
{
    int i;
    if (!name || !*name)
        return 0;
    i = tls_find(name);
    return i < 0 ? -1 : tls_versions[i].rank;
}

int vc_tls_wire_version(const char *name)
{
    int i;
    if (!name || !*name)
        return 0;
    i = tls_find(name);
    return i < 0 ? -1 : tls_versions[i].wire;
}

const char *const *vc_tls_version_names(void)
{
    static const char *const names[] = {
#define VC_TLS_NAME(name, rank, wire) name,
        VC_TLS_VERSIONS(VC_TLS_NAME)
#undef VC_TLS_NAME
            NULL};
    return names;
}

int vc_env_isolated(const char *entry)
{
    static const char *const names[] = {"SSL_CERT_FILE=", "SSL_CERT_DIR=",
                                        "NODE_EXTRA_CA_CERTS="};
    if (strncmp(entry, "PG", 2) == 0)
        return 1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strncmp(entry, names[i], strlen(names[i])) == 0)
            return 1;
    return 0;
}

char **vc_split(const char *s, const char *seps, int trim)
{
    size_t n = 0, cap = 4;
    char **v;

    if (!s)
        return NULL;
    v = calloc(cap + 1, sizeof(*v));
    if (!v)
        return NULL;
    for (const char *p = s; *p;) {
        const char *start = p, *end;
        p += strcspn(p, seps);
        end = p;
        if (*p)
            p++;
        if (trim) {
            while (start < end && (*start == ' ' || *start == '\t'))
                start++;
            while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        }
        if (end == start)
            continue;
        if (n == cap) {
            char **grown = realloc(v, (cap * 2 + 1) * sizeof(*v));
            if (!grown)
                goto oom;
            v = grown;
            cap *= 2;
        }
        v[n] = strndup(start, (size_t)(end - start));
        if (!v[n])
            goto oom;
        v[++n] = NULL;
    }
    return v;
oom:
    vc_strv_free(v);
    return NULL;
}

size_t vc_strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

void vc_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}
