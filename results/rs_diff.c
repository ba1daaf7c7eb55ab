/* pgtls results: `pgtls report diff`, case by case, with accepted deviations. */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "rs.h"
#include "rs_internal.h"

typedef struct accept_rule {
    char *case_glob, *client_glob, *reason;
} accept_rule;

struct rs_accept {
    accept_rule *v;
    size_t n;
};

void rs_accept_free(rs_accept *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].case_glob);
        free(a->v[i].client_glob);
        free(a->v[i].reason);
    }
    free(a->v);
    free(a);
}

static int add_rule(rs_accept *a, const char *case_glob, const char *client_glob,
                    const char *reason)
{
    accept_rule *nv = realloc(a->v, (a->n + 1) * sizeof(*nv));
    if (!nv)
        return -1;
    a->v = nv;
    nv[a->n].case_glob = strdup(case_glob);
    nv[a->n].client_glob = strdup(client_glob ? client_glob : "*");
    nv[a->n].reason = strdup(reason);
    a->n++;
    return 0;
}

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* A small INI reader of its own: section names are case-id globs, which
 * may contain characters and lengths inih's defaults would cut. */
static rs_accept *parse_ini(char *text, const char *origin, pgtls_err *err)
{
    rs_accept *a = calloc(1, sizeof(*a));
    char *section = NULL, *client = NULL, *reason = NULL, *save = NULL;
    int line = 0, section_line = 0, ok = 0;

    for (char *ln = strtok_r(text, "\n", &save);; ln = strtok_r(NULL, "\n", &save)) {
        char *t = ln ? trim(ln) : NULL;
        line++;
        if (!ln || *t == '[') {
            if (section) {
                if (!reason) {
                    err_set(err, PGTLS_ERR_CONFIG,
                            "%s:%d: [%s] needs reason = <why this change is accepted>", origin,
                            section_line, section);
                    goto out;
                }
                add_rule(a, section, client, reason);
            }
            free(section);
            free(client);
            free(reason);
            section = client = reason = NULL;
            if (!ln)
                break;
            char *end = strrchr(t, ']');
            if (!end || end == t + 1) {
                err_set(err, PGTLS_ERR_CONFIG, "%s:%d: a section header is [<case id glob>]",
                        origin, line);
                goto out;
            }
            *end = '\0';
            section = strdup(trim(t + 1));
            section_line = line;
            continue;
        }
        if (!*t || *t == ';' || *t == '#')
            continue;
        char *eq = strchr(t, '=');
        if (!eq || !section) {
            err_set(err, PGTLS_ERR_CONFIG, "%s:%d: expected key = value inside a [case] section",
                    origin, line);
            goto out;
        }
        *eq = '\0';
        char *k = trim(t), *v = trim(eq + 1);
        char **slot = strcmp(k, "client") == 0 ? &client : strcmp(k, "reason") == 0 ? &reason : NULL;
        if (!slot) {
            err_set(err, PGTLS_ERR_CONFIG, "%s:%d: unknown key \"%s\" (client, reason)", origin,
                    line, k);
            goto out;
        }
        if (*slot || !*v) {
            err_set(err, PGTLS_ERR_CONFIG, "%s:%d: key \"%s\" is empty or given twice", origin,
                    line, k);
            goto out;
        }
        *slot = strdup(v);
    }
    ok = 1;
out:
    free(section);
    free(client);
    free(reason);
    if (!ok) {
        rs_accept_free(a);
        return NULL;
    }
    return a;
}

static rs_accept *parse_json(const char *text, const char *origin, pgtls_err *err)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je), *list, *r;
    rs_accept *a = NULL;
    size_t i;

    if (!doc) {
        err_set(err, PGTLS_ERR_INPUT, "%s: not JSON at line %d: %s", origin, je.line, je.text);
        return NULL;
    }
    list = json_object_get(doc, "accept");
    if (!json_is_array(list)) {
        err_set(err, PGTLS_ERR_INPUT, "%s: needs {\"accept\": [ ... ]}", origin);
        goto out;
    }
    a = calloc(1, sizeof(*a));
    json_array_foreach(list, i, r)
    {
        const char *c = json_string_value(json_object_get(r, "case"));
        const char *cl = json_string_value(json_object_get(r, "client"));
        const char *why = json_string_value(json_object_get(r, "reason"));
        if (!c || !why || !*why) {
            err_set(err, PGTLS_ERR_INPUT, "%s: accept[%zu] needs \"case\" and \"reason\"", origin,
                    i);
            rs_accept_free(a);
            a = NULL;
            goto out;
        }
        add_rule(a, c, cl, why);
    }
out:
    json_decref(doc);
    return a;
}

rs_accept *rs_accept_parse(const char *text, const char *origin, pgtls_err *err)
{
    const char *p = text;
    char *copy;
    rs_accept *a;
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    if (*p == '{')
        return parse_json(text, origin, err);
    copy = strdup(text);
    if (!copy) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    a = parse_ini(copy, origin, err);
    free(copy);
    return a;
}

rs_accept *rs_accept_load(const char *path, pgtls_err *err)
{
    char *text = NULL;
    rs_accept *a;
    if (fs_read_file(path, 1 << 20, &text, NULL, err) < 0)
        return NULL;
    a = rs_accept_parse(text, path, err);
    free(text);
    return a;
}

static const char *accepted_reason(const rs_accept *a, const char *id, const char *key,
                                   const char *client)
{
    for (size_t i = 0; a && i < a->n; i++)
        if (fnmatch(a->v[i].case_glob, id, 0) == 0 &&
            (fnmatch(a->v[i].client_glob, key, 0) == 0 ||
             fnmatch(a->v[i].client_glob, client, 0) == 0))
            return a->v[i].reason;
    return NULL;
}

/* Index of the client in `clients` matching `cl` by key, else by the client
 * name when exactly one has it; -1 if none. */
static json_t *match_client(json_t *clients, json_t *cl)
{
    size_t i;
    json_t *c, *by_name = NULL;
    int name_hits = 0;
    json_array_foreach(clients, i, c)
    {
        if (strcmp(rs_jstr(c, "key"), rs_jstr(cl, "key")) == 0)
            return c;
        if (strcmp(rs_jstr(c, "client"), rs_jstr(cl, "client")) == 0) {
            by_name = c;
            name_hits++;
        }
    }
    return name_hits == 1 ? by_name : NULL;
}

static int ok_verdict(const char *v)
{
    return strcmp(v, "conforms") == 0 || strcmp(v, "deviation-known") == 0;
}

static int bad_verdict(const char *v)
{
    return strcmp(v, "fails") == 0 || strcmp(v, "error") == 0;
}

/* The error code (SQLSTATE) of a result, "" when it has none. */
static const char *error_code(json_t *r)
{
    const char *code = json_string_value(json_object_get(r, "error_code"));
    return code ? code : "";
}

/* A row whose observed class or error code differs: a behaviour change that
 * `diff --strict` reports even where conformance did not move. Returns the
 * accept rule's reason when one covers it (counted as accepted), else NULL. */
static const char *note_behaviour_change(const rs_accept *a, const char *id, const char *key,
                                         const char *client, rs_diff_stats *st)
{
    const char *why = accepted_reason(a, id, key, client);
    if (why)
        st->accepted_changes++;
    else
        st->behaviour_changes++;
    return why;
}

static json_t *find_case(json_t *doc, const char *id)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        if (strcmp(rs_jstr(c, "id"), id) == 0)
            return c;
    }
    return NULL;
}

int rs_diff(rs_matrix *baseline, rs_matrix *current, const rs_accept *accept, char **out_text,
            rs_diff_stats *st, pgtls_err *err)
{
    json_t *bdoc = rs_matrix_json(baseline), *ndoc = rs_matrix_json(current);
    json_t *ncl, *bcl, *c;
    size_t i, j;
    rs_buf b = {0};

    memset(st, 0, sizeof(*st));
    /* Every (case, client) of the new run against the baseline. */
    json_array_foreach(json_object_get(ndoc, "clients"), j, ncl)
    {
        const char *nkey = rs_jstr(ncl, "key");
        bcl = match_client(json_object_get(bdoc, "clients"), ncl);
        json_array_foreach(json_object_get(ndoc, "cases"), i, c)
        {
            const char *id = rs_jstr(c, "id");
            json_t *nr = json_object_get(json_object_get(c, "results"), nkey);
            json_t *bc = find_case(bdoc, id);
            json_t *br = bc && bcl ? json_object_get(json_object_get(bc, "results"),
                                                     rs_jstr(bcl, "key"))
                                   : NULL;
            const char *nv, *bv;
            if (!nr)
                continue;
            nv = rs_jstr(nr, "verdict");
            if (!br) {
                st->added++;
                rs_buf_printf(&b, "new        %s [%s]: %s (observed %s)\n", id, nkey, nv,
                              rs_jstr(nr, "observed"));
                continue;
            }
            bv = rs_jstr(br, "verdict");
            int behaviour_moved = strcmp(rs_jstr(br, "observed"), rs_jstr(nr, "observed")) != 0 ||
                                  strcmp(error_code(br), error_code(nr)) != 0;
            if (ok_verdict(bv) && bad_verdict(nv)) {
                const char *why = accepted_reason(accept, id, nkey, rs_jstr(ncl, "client"));
                if (why) {
                    st->accepted++;
                    rs_buf_printf(&b, "accepted   %s [%s]: %s -> %s (observed %s -> %s): %s\n",
                                  id, nkey, bv, nv, rs_jstr(br, "observed"),
                                  rs_jstr(nr, "observed"), why);
                } else {
                    st->regressions++;
                    rs_buf_printf(&b,
                                  "REGRESSION %s [%s]: %s -> %s (expected %s, observed %s -> %s)\n",
                                  id, nkey, bv, nv, rs_jstr(nr, "expected"),
                                  rs_jstr(br, "observed"), rs_jstr(nr, "observed"));
                }
            } else if (bad_verdict(bv) && ok_verdict(nv)) {
                const char *why = behaviour_moved ? note_behaviour_change(accept, id, nkey,
                                                                          rs_jstr(ncl, "client"), st)
                                                  : NULL;
                st->fixed++;
                rs_buf_printf(&b, "fixed      %s [%s]: %s -> %s%s%s\n", id, nkey, bv, nv,
                              why ? ": accepted: " : "", why ? why : "");
            } else if (strcmp(bv, nv) != 0 || behaviour_moved) {
                const char *why = behaviour_moved ? note_behaviour_change(accept, id, nkey,
                                                                          rs_jstr(ncl, "client"), st)
                                                  : NULL;
                st->changed++;
                rs_buf_printf(&b, "changed    %s [%s]: %s -> %s (observed %s -> %s, error code %s -> %s)%s%s\n",
                              id, nkey, bv, nv, rs_jstr(br, "observed"), rs_jstr(nr, "observed"),
                              *error_code(br) ? error_code(br) : "none",
                              *error_code(nr) ? error_code(nr) : "none", why ? ": accepted: " : "",
                              why ? why : "");
            } else {
                st->unchanged++;
            }
        }
    }
    /* What the baseline had and the new run lacks. */
    json_array_foreach(json_object_get(bdoc, "clients"), j, bcl)
    {
        ncl = match_client(json_object_get(ndoc, "clients"), bcl);
        json_array_foreach(json_object_get(bdoc, "cases"), i, c)
        {
            const char *id = rs_jstr(c, "id");
            json_t *br = json_object_get(json_object_get(c, "results"), rs_jstr(bcl, "key"));
            json_t *nc = find_case(ndoc, id);
            if (!br)
                continue;
            if (ncl && nc && json_object_get(json_object_get(nc, "results"), rs_jstr(ncl, "key")))
                continue;
            const char *why = note_behaviour_change(accept, id, rs_jstr(bcl, "key"),
                                                    rs_jstr(bcl, "client"), st);
            st->removed++;
            rs_buf_printf(&b, "removed    %s [%s]: was %s%s%s\n", id, rs_jstr(bcl, "key"),
                          rs_jstr(br, "verdict"), why ? ": accepted: " : "", why ? why : "");
        }
    }
    rs_buf_printf(&b,
                  "%d regression(s), %d accepted, %d fixed, %d changed, %d new, %d removed, "
                  "%d unchanged; %d behaviour change(s) not accepted, %d accepted\n",
                  st->regressions, st->accepted, st->fixed, st->changed, st->added, st->removed,
                  st->unchanged, st->behaviour_changes, st->accepted_changes);
    *out_text = rs_buf_finish(&b, err);
    return *out_text ? 0 : -1;
}
