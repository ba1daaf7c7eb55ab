/* pgtls results: "Where surfaces disagree" (docs/surfaces.md).
 *
 * One intent, several ways of writing it: the cases of a surfaces suite
 * differ only in their "/surface=<s>" id component. For each client build,
 * an intent whose rows observed different classes (unsupported rows apart:
 * a surface the driver cannot express says nothing about the others) is a
 * disagreement, listed with the class of every surface. */
#include <stdlib.h>
#include <string.h>

#include "rs_internal.h"

/* The case id without its "/surface=..." component (heap). */
static char *intent_of(const char *id)
{
    const char *p = strstr(id, "/surface=");
    char *out;
    if (!p)
        return strdup(id);
    const char *end = strchr(p + 1, '/');
    out = malloc(strlen(id) + 1);
    if (!out)
        return NULL;
    memcpy(out, id, (size_t)(p - id));
    strcpy(out + (p - id), end ? end : "");
    return out;
}

static const char *surface_of(json_t *c)
{
    const char *s = json_string_value(json_object_get(c, "surface"));
    return s ? s : "default";
}

char *rs_render_surfaces_markdown(json_t *doc, pgtls_err *err)
{
    json_t *cases = json_object_get(doc, "cases"), *clients = json_object_get(doc, "clients");
    json_t *c, *cl;
    size_t i, j, any = 0;
    rs_buf b = {0};
    /* intent -> array of case objects, in case order */
    json_t *intents = json_object(), *order = json_array();

    if (!intents || !order)
        goto oom;
    json_array_foreach(cases, i, c)
    {
        if (!json_is_string(json_object_get(c, "surface")))
            continue;
        any++;
    }
    if (!any) {
        json_decref(intents);
        json_decref(order);
        return strdup("");
    }
    json_array_foreach(cases, i, c)
    {
        char *in = intent_of(rs_jstr(c, "id"));
        if (!in)
            goto oom;
        json_t *arr = json_object_get(intents, in);
        if (!arr) {
            arr = json_array();
            json_object_set_new(intents, in, arr);
            json_array_append_new(order, json_string(in));
        }
        json_array_append(arr, c);
        free(in);
    }
    rs_buf_add(&b, "\n## Where surfaces disagree\n\nThe same intent written as keyword/value "
                   "conninfo, a URL, PG* environment variables, the driver's options, or a "
                   "combination (docs/surfaces.md); a row is an intent whose surfaces gave "
                   "different classes for one client build (unsupported surfaces apart).\n");
    json_array_foreach(clients, i, cl)
    {
        const char *key = rs_jstr(cl, "key");
        size_t rows = 0, judged = 0;
        json_t *in;
        json_array_foreach(order, j, in)
        {
            json_t *arr = json_object_get(intents, json_string_value(in)), *cc;
            const char *first = NULL;
            int differ = 0, counted = 0;
            size_t k;
            if (json_array_size(arr) < 2)
                continue;
            json_array_foreach(arr, k, cc)
            {
                json_t *r = json_object_get(json_object_get(cc, "results"), key);
                if (!r || st_verdict_parse(rs_jstr(r, "verdict")) == ST_VERDICT_UNSUPPORTED)
                    continue;
                counted++;
                if (!first)
                    first = rs_jstr(r, "observed");
                else if (strcmp(first, rs_jstr(r, "observed")) != 0)
                    differ = 1;
            }
            if (counted >= 2)
                judged++;
            if (!differ)
                continue;
            if (rows++ == 0) {
                rs_buf_add(&b, "\n### ");
                rs_buf_add_md_cell(&b, key, 200);
                rs_buf_add(&b, "\n\n| intent | expected | observed per surface |\n|---|---|---|\n");
            }
            rs_buf_printf(&b, "| `%s` | ", json_string_value(in));
            const char *expected = NULL;
            json_array_foreach(arr, k, cc)
            {
                json_t *r = json_object_get(json_object_get(cc, "results"), key);
                if (r && !expected)
                    expected = rs_jstr(r, "expected");
            }
            rs_buf_printf(&b, "%s | ", expected ? expected : "");
            int sep = 0;
            json_array_foreach(arr, k, cc)
            {
                json_t *r = json_object_get(json_object_get(cc, "results"), key);
                if (!r)
                    continue;
                int unsup = st_verdict_parse(rs_jstr(r, "verdict")) == ST_VERDICT_UNSUPPORTED;
                rs_buf_printf(&b, "%s%s: %s", sep++ ? ", " : "", surface_of(cc),
                              unsup ? "unsupported" : rs_jstr(r, "observed"));
            }
            rs_buf_add(&b, " |\n");
        }
        if (!rows && judged) {
            rs_buf_add(&b, "\n### ");
            rs_buf_add_md_cell(&b, key, 200);
            rs_buf_printf(&b, "\n\nEvery surface agrees (%zu intents with two or more surfaces "
                              "judged).\n",
                          judged);
        }
    }
    json_decref(intents);
    json_decref(order);
    return rs_buf_finish(&b, err);
oom:
    json_decref(intents);
    json_decref(order);
    free(b.s);
    err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    return NULL;
}
