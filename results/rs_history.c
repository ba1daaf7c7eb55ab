/* pgtls results: the version history of a driver (docs/versions.md).
 *
 * A driver's builds are the matrix's client builds whose "client" is BASE or
 * BASE@VERSION (a version build, `pgtls clients add`); ordered by the version
 * each reported at run time. `pgtls report history` prints one case (or every
 * case that changes) across them and says in which version the observed class
 * changed; summary.md gets a section per driver with several versions. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "rs_internal.h"

/* Registry names accepted for --client (the adapters' own names work too). */
static const struct {
    const char *registry, *adapter;
} registry_names[] = {
    {"pg", "node-postgres"},
    {"psycopg2-binary", "psycopg2"},
    {"org.postgresql:postgresql", "pgjdbc"},
    {"github.com/jackc/pgx/v5", "pgx"},
};

/* client "node-postgres@8.7.3" has base "node-postgres"; n is its length */
static size_t base_len(const char *client)
{
    const char *at = strchr(client, '@');
    return at ? (size_t)(at - client) : strlen(client);
}

int rs_version_cmp(const char *a, const char *b)
{
    if (*a == 'v')
        a++;
    if (*b == 'v')
        b++;
    while (*a || *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            char *ea, *eb;
            unsigned long long x = strtoull(a, &ea, 10), y = strtoull(b, &eb, 10);
            if (x != y)
                return x < y ? -1 : 1;
            a = ea;
            b = eb;
            continue;
        }
        /* a release sorts after its pre-releases: "1.0" > "1.0-rc1" */
        if (!*a || !*b)
            return !*a ? (*b == '-' ? 1 : -1) : (*a == '-' ? -1 : 1);
        if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        a++;
        b++;
    }
    return 0;
}

typedef struct build {
    json_t *client;
    const char *version;
} build;

static int cmp_build(const void *pa, const void *pb)
{
    const build *a = pa, *b = pb;
    int c = rs_version_cmp(a->version, b->version);
    return c ? c : strcmp(rs_jstr(a->client, "key"), rs_jstr(b->client, "key"));
}

/* The builds of base in version order (heap array, *n entries). */
static build *builds_of(json_t *doc, const char *base, size_t *n)
{
    json_t *clients = json_object_get(doc, "clients"), *cl;
    size_t i, k = 0, blen = strlen(base);
    build *out = calloc(json_array_size(clients) + 1, sizeof(*out));
    if (!out)
        return NULL;
    json_array_foreach(clients, i, cl)
    {
        const char *client = rs_jstr(cl, "client");
        if (base_len(client) == blen && strncmp(client, base, blen) == 0)
            out[k++] = (build){cl, rs_jstr(cl, "version")};
    }
    qsort(out, k, sizeof(*out), cmp_build);
    *n = k;
    return out;
}

static int distinct_versions(const build *b, size_t n)
{
    int d = 0;
    for (size_t i = 0; i < n; i++)
        d += i == 0 || strcmp(b[i].version, b[i - 1].version) != 0;
    return d;
}

static const char *observed_of(json_t *c, json_t *cl)
{
    json_t *r = json_object_get(json_object_get(c, "results"), rs_jstr(cl, "key"));
    return r ? rs_jstr(r, "observed") : NULL;
}

/* "8.11.3 (untrusted-chain -> connected-tls); ..." for a case; 0 changes: "" */
static int add_changes(rs_buf *b, json_t *c, const build *bs, size_t n)
{
    const char *prev = NULL;
    int changes = 0;
    for (size_t i = 0; i < n; i++) {
        const char *o = observed_of(c, bs[i].client);
        if (!o)
            continue;
        if (prev && strcmp(prev, o) != 0) {
            rs_buf_printf(b, "%s%s (%s → %s)", changes ? "; " : "", bs[i].version, prev, o);
            changes++;
        }
        prev = o;
    }
    return changes;
}

static int case_changes(json_t *c, const build *bs, size_t n)
{
    rs_buf scratch = {0};
    int k = add_changes(&scratch, c, bs, n);
    free(scratch.s);
    return k;
}

static const char *rs_history_base(const char *name)
{
    for (size_t i = 0; i < sizeof(registry_names) / sizeof(registry_names[0]); i++)
        if (strcmp(name, registry_names[i].registry) == 0)
            return registry_names[i].adapter;
    return name;
}

int rs_render_history(json_t *doc, const char *client, const char *case_id, char **out,
                      pgtls_err *err)
{
    const char *base = rs_history_base(client);
    size_t n = 0, j;
    build *bs = builds_of(doc, base, &n);
    json_t *c, *found = NULL;
    rs_buf b = {0};
    int rows = 0;

    *out = NULL;
    if (!bs) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return -1;
    }
    if (n == 0) {
        err_set(err, PGTLS_ERR_INPUT,
                "no client build of '%s' in the matrix (its clients are %s or %s@VERSION; "
                "see the matrix's clients, or run with --clients %s@VERSION,...)",
                client, base, base, base);
        free(bs);
        return -1;
    }
    if (case_id) {
        json_array_foreach(json_object_get(doc, "cases"), j, c)
        {
            if (strcmp(rs_jstr(c, "id"), case_id) == 0)
                found = c;
        }
        if (!found) {
            err_set(err, PGTLS_ERR_INPUT, "no case '%s' in the matrix (case ids: docs/suites.md)",
                    case_id);
            free(bs);
            return -1;
        }
        rs_buf_printf(&b, "%s across %zu build%s of %s, in version order\n\n", case_id, n,
                      n == 1 ? "" : "s", base);
        rs_buf_add(&b, "| version | client build | observed | verdict | expected | error |\n"
                       "|---|---|---|---|---|---|\n");
        for (size_t i = 0; i < n; i++) {
            json_t *r = json_object_get(json_object_get(found, "results"),
                                        rs_jstr(bs[i].client, "key"));
            rs_buf_add(&b, "| ");
            rs_buf_add_md_cell(&b, bs[i].version, 40);
            rs_buf_add(&b, " | ");
            rs_buf_add_md_cell(&b, rs_jstr(bs[i].client, "key"), 200);
            if (!r) {
                rs_buf_add(&b, " | — | not run | | |\n");
                continue;
            }
            rs_buf_printf(&b, " | %s | %s | %s | ", rs_jstr(r, "observed"), rs_jstr(r, "verdict"),
                          rs_jstr(r, "expected"));
            rs_buf_add_md_cell(&b, json_is_string(json_object_get(r, "unsupported"))
                                       ? rs_jstr(r, "unsupported")
                                       : rs_jstr(r, "error"),
                               120);
            rs_buf_add(&b, " |\n");
        }
        rs_buf_add(&b, "\n");
        rs_buf t = {0};
        if (add_changes(&t, found, bs, n))
            rs_buf_printf(&b, "observed class changed in: %s\n", t.s);
        else
            rs_buf_printf(&b, "observed class unchanged across %d version%s\n",
                          distinct_versions(bs, n), distinct_versions(bs, n) == 1 ? "" : "s");
        free(t.s);
    } else {
        rs_buf_printf(&b, "cases whose observed class changes across %zu build%s of %s\n\n", n,
                      n == 1 ? "" : "s", base);
        rs_buf_add(&b, "| case |");
        for (size_t i = 0; i < n; i++)
            rs_buf_printf(&b, " %s |", bs[i].version);
        rs_buf_add(&b, " changed in |\n|---|");
        for (size_t i = 0; i <= n; i++)
            rs_buf_add(&b, "---|");
        rs_buf_add(&b, "\n");
        json_array_foreach(json_object_get(doc, "cases"), j, c)
        {
            if (!case_changes(c, bs, n))
                continue;
            rows++;
            rs_buf_printf(&b, "| `%s` |", rs_jstr(c, "id"));
            for (size_t i = 0; i < n; i++) {
                const char *o = observed_of(c, bs[i].client);
                rs_buf_printf(&b, " %s |", o ? o : "—");
            }
            rs_buf_add(&b, " ");
            add_changes(&b, c, bs, n);
            rs_buf_add(&b, " |\n");
        }
        rs_buf_printf(&b, "\n%d case%s change%s across %d version%s\n", rows, rows == 1 ? "" : "s",
                      rows == 1 ? "s" : "", distinct_versions(bs, n),
                      distinct_versions(bs, n) == 1 ? "" : "s");
    }
    free(bs);
    *out = rs_buf_finish(&b, err);
    return *out ? 0 : -1;
}

/* summary.md: one section per driver whose builds span several versions. */
int rs_history_markdown(json_t *doc, rs_buf *b)
{
    json_t *clients = json_object_get(doc, "clients"), *cl, *c;
    size_t i, j, n;
    int sections = 0;
    enum { MAX_ROWS = 40 };

    json_array_foreach(clients, i, cl)
    {
        const char *client = rs_jstr(cl, "client");
        size_t blen = base_len(client);
        char base[160];
        int first = 1;
        if (blen >= sizeof(base))
            continue;
        /* handle each base once: at its first client */
        for (size_t k = 0; k < i && first; k++) {
            const char *other = rs_jstr(json_array_get(clients, k), "client");
            first = !(base_len(other) == blen && strncmp(other, client, blen) == 0);
        }
        if (!first)
            continue;
        memcpy(base, client, blen);
        base[blen] = '\0';
        build *bs = builds_of(doc, base, &n);
        if (!bs)
            return -1;
        if (distinct_versions(bs, n) < 2) {
            free(bs);
            continue;
        }
        if (sections++ == 0)
            rs_buf_add(b, "\n## Versions of one driver\n\nThe cases whose observed class changes "
                          "from one version of a driver to the next (version order; "
                          "`pgtls report history matrix.json --client NAME --case ID` shows one "
                          "case with its errors, docs/versions.md).\n");
        int rows = 0, total = 0;
        rs_buf_printf(b, "\n### %s:", base);
        for (size_t k = 0; k < n; k++)
            rs_buf_printf(b, "%s %s", k ? "," : "", bs[k].version);
        rs_buf_add(b, "\n\n");
        json_array_foreach(json_object_get(doc, "cases"), j, c)
        {
            if (!case_changes(c, bs, n))
                continue;
            if (total++ >= MAX_ROWS)
                continue;
            if (rows++ == 0) {
                rs_buf_add(b, "| case |");
                for (size_t k = 0; k < n; k++)
                    rs_buf_printf(b, " %s |", bs[k].version);
                rs_buf_add(b, " changed in |\n|---|");
                for (size_t k = 0; k <= n; k++)
                    rs_buf_add(b, "---|");
                rs_buf_add(b, "\n");
            }
            rs_buf_printf(b, "| `%s` |", rs_jstr(c, "id"));
            for (size_t k = 0; k < n; k++) {
                const char *o = observed_of(c, bs[k].client);
                rs_buf_printf(b, " %s |", o ? o : "—");
            }
            rs_buf_add(b, " ");
            add_changes(b, c, bs, n);
            rs_buf_add(b, " |\n");
        }
        if (!total)
            rs_buf_add(b, "No case changes its observed class across these versions.\n");
        else if (total > rows)
            rs_buf_printf(b, "\n… and %d more (`pgtls report history matrix.json --client %s`).\n",
                          total - rows, base);
        free(bs);
    }
    return 0;
}
