/* pgtls results: Markdown summary, CSV, JUnit XML, rotation readiness, and
 * the render-all entry point. Output depends only on the document, so a
 * matrix renders byte-for-byte the same every time (golden tests). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "rs.h"
#include "rs_internal.h"

/* ---- Buffer ---- */

void rs_buf_addn(rs_buf *b, const char *text, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        char *ns = realloc(b->s, ncap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = ncap;
    }
    memcpy(b->s + b->len, text, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void rs_buf_add(rs_buf *b, const char *text)
{
    if (text)
        rs_buf_addn(b, text, strlen(text));
}

void rs_buf_printf(rs_buf *b, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;
    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    rs_buf_addn(b, s, (size_t)n);
    free(s);
}

void rs_buf_add_xml(rs_buf *b, const char *text)
{
    for (const char *p = text ? text : ""; *p; p++) {
        switch (*p) {
        case '&': rs_buf_add(b, "&amp;"); break;
        case '<': rs_buf_add(b, "&lt;"); break;
        case '>': rs_buf_add(b, "&gt;"); break;
        case '"': rs_buf_add(b, "&quot;"); break;
        case '\'': rs_buf_add(b, "&#39;"); break;
        default:
            /* XML 1.0 forbids most control characters even escaped. */
            if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r')
                rs_buf_add(b, "?");
            else
                rs_buf_addn(b, p, 1);
        }
    }
}

void rs_buf_add_md_cell(rs_buf *b, const char *text, size_t max)
{
    size_t n = 0;
    for (const char *p = text ? text : ""; *p && *p != '\n' && n < max; p++, n++) {
        if (*p == '|')
            rs_buf_add(b, "\\|");
        else if (*p == '`')
            rs_buf_add(b, "'");
        else if (*p == '<')
            rs_buf_add(b, "&lt;");
        else
            rs_buf_addn(b, p, 1);
    }
    if (text && (strlen(text) > n))
        rs_buf_add(b, "…");
}

void rs_buf_add_csv(rs_buf *b, const char *text)
{
    const char *t = text ? text : "";
    if (!strpbrk(t, ",\"\r\n")) {
        rs_buf_add(b, t);
        return;
    }
    rs_buf_add(b, "\"");
    for (const char *p = t; *p; p++) {
        if (*p == '"')
            rs_buf_add(b, "\"\"");
        else
            rs_buf_addn(b, p, 1);
    }
    rs_buf_add(b, "\"");
}

char *rs_buf_finish(rs_buf *b, pgtls_err *err)
{
    if (b->oom || !b->s) {
        free(b->s);
        if (b->oom) {
            err_set(err, PGTLS_ERR_NOMEM, "out of memory rendering the matrix");
            return NULL;
        }
        return strdup("");
    }
    return b->s;
}

const char *rs_jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* ---- Counting ---- */

void rs_count_client(json_t *doc, const char *key, rs_counts *out)
{
    size_t i;
    json_t *c;
    memset(out, 0, sizeof(*out));
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        json_t *r = json_object_get(json_object_get(c, "results"), key);
        int v;
        if (!r)
            continue;
        v = st_verdict_parse(rs_jstr(r, "verdict"));
        if (v < 0)
            v = ST_VERDICT_ERROR;
        out->n[v]++;
        out->total++;
    }
}

double rs_conformance(const rs_counts *c)
{
    int denom = c->total - c->n[ST_VERDICT_UNSUPPORTED];
    if (denom <= 0)
        return -1;
    return 100.0 * c->n[ST_CONFORMS] / denom;
}

static void add_pct(rs_buf *b, const rs_counts *c)
{
    double p = rs_conformance(c);
    if (p < 0)
        rs_buf_add(b, "n/a");
    else
        rs_buf_printf(b, "%.1f%%", p);
}

/* ---- Markdown ---- */

static void md_run_header(rs_buf *b, json_t *doc)
{
    json_t *run = json_object_get(doc, "run");
    rs_buf_printf(b, "- host: %s, pgtls %s, suite: %s\n", rs_jstr(run, "host"),
                  rs_jstr(run, "pgtls_version"), rs_jstr(run, "suite"));
    rs_buf_printf(b, "- started %s, ended %s%s\n", rs_jstr(run, "started_at"),
                  rs_jstr(run, "ended_at"),
                  json_is_true(json_object_get(run, "incomplete"))
                      ? " — **INCOMPLETE: the run was interrupted**"
                      : "");
    if (*rs_jstr(run, "fixtures_sha256"))
        rs_buf_printf(b, "- fixtures catalogue sha256: `%s`\n", rs_jstr(run, "fixtures_sha256"));
    if (json_array_size(json_object_get(run, "sources")) > 0) {
        size_t i;
        json_t *s;
        rs_buf_add(b, "- merged from:");
        json_array_foreach(json_object_get(run, "sources"), i, s)
        {
            rs_buf_printf(b, "%s %s (%s)", i ? "," : "", rs_jstr(s, "host"),
                          rs_jstr(s, "started_at"));
        }
        rs_buf_add(b, "\n");
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted distinct values of a case field. Caller frees the array only. */
static const char **distinct(json_t *doc, const char *field, size_t *out_n)
{
    json_t *cases = json_object_get(doc, "cases"), *c;
    size_t n = 0, i;
    const char **v = calloc(json_array_size(cases) + 1, sizeof(*v));
    if (!v) {
        *out_n = 0;
        return NULL;
    }
    json_array_foreach(cases, i, c)
    {
        const char *s = rs_jstr(c, field);
        size_t j;
        for (j = 0; j < n; j++)
            if (strcmp(v[j], s) == 0)
                break;
        if (j == n)
            v[n++] = s;
    }
    qsort(v, n, sizeof(*v), cmp_str);
    *out_n = n;
    return v;
}

char *rs_render_markdown(rs_matrix *m, pgtls_err *err)
{
    json_t *doc = rs_matrix_json(m);
    json_t *clients = json_object_get(doc, "clients"), *cl, *c;
    rs_buf b = {0};
    size_t i, j, nscen;
    const char **scen = distinct(doc, "scenario", &nscen);
    int nfail = 0, ndev = 0, nfield = 0;

    rs_buf_add(&b, "# pgtls compatibility matrix\n\n");
    md_run_header(&b, doc);
    {
        /* The answer people came for first; the long tables follow. */
        char *digest = NULL;
        if (rs_digest_render(doc, RS_DIGEST_MARKDOWN, &digest, err) < 0) {
            free(scen);
            free(b.s);
            return NULL;
        }
        if (*digest) {
            rs_buf_add(&b, "\n");
            rs_buf_add(&b, digest);
            rs_buf_add(&b, "\n![rotation readiness at a glance](readiness.svg)\n");
        }
        rs_buf_add(&b, "\n![client builds x scenarios, worst verdict per cell](heatmap.svg)\n");
        char *security = rs_render_security_markdown(doc, err);
        if (!security) {
            free(scen);
            free(b.s);
            return NULL;
        }
        rs_buf_add(&b, "\n");
        rs_buf_add(&b, security);
        free(security);
        free(digest);
    }
    rs_buf_add(&b, "\n## Clients\n\n");
    rs_buf_add(&b, "| client build | conforms | deviation (known) | fails | unsupported | error | "
                   "conformance |\n|---|---:|---:|---:|---:|---:|---:|\n");
    json_array_foreach(clients, i, cl)
    {
        rs_counts k;
        rs_count_client(doc, rs_jstr(cl, "key"), &k);
        rs_buf_add(&b, "| ");
        rs_buf_add_md_cell(&b, rs_jstr(cl, "key"), 200);
        rs_buf_printf(&b, " | %d | %d | %d | %d | %d | ", k.n[ST_CONFORMS],
                      k.n[ST_DEVIATION_KNOWN], k.n[ST_FAILS], k.n[ST_VERDICT_UNSUPPORTED],
                      k.n[ST_VERDICT_ERROR]);
        add_pct(&b, &k);
        rs_buf_add(&b, " |\n");
    }
    rs_buf_add(&b, "\nConformance = conforms / (cases - unsupported); a known deviation is "
                   "not counted as conforming.\n");

    rs_buf_add(&b, "\n## Scenarios × clients\n\nEach cell: conforming cases / cases judged "
                   "(unsupported ones apart; ✅ all conform, ⚠️ known deviations but no "
                   "failure, ❌ failures or errors, — not run).\n\n| scenario |");
    json_array_foreach(clients, i, cl)
    {
        rs_buf_printf(&b, " %s %s |", rs_jstr(cl, "client"), rs_jstr(cl, "version"));
    }
    rs_buf_add(&b, "\n|---|");
    json_array_foreach(clients, i, cl)
    {
        rs_buf_add(&b, "---|");
    }
    rs_buf_add(&b, "\n");
    for (size_t s = 0; s < nscen; s++) {
        rs_buf_printf(&b, "| %s |", scen[s]);
        json_array_foreach(clients, i, cl)
        {
            int total = 0, ok = 0, bad = 0, dev = 0, unsup = 0;
            json_array_foreach(json_object_get(doc, "cases"), j, c)
            {
                json_t *r;
                if (strcmp(rs_jstr(c, "scenario"), scen[s]) != 0)
                    continue;
                r = json_object_get(json_object_get(c, "results"), rs_jstr(cl, "key"));
                if (!r)
                    continue;
                total++;
                int v = st_verdict_parse(rs_jstr(r, "verdict"));
                if (v == ST_CONFORMS)
                    ok++;
                else if (v == ST_DEVIATION_KNOWN)
                    dev++;
                else if (v == ST_FAILS || v == ST_VERDICT_ERROR)
                    bad++;
                else if (v == ST_VERDICT_UNSUPPORTED)
                    unsup++;
            }
            if (!total)
                rs_buf_add(&b, " — |");
            else if (total == unsup)
                rs_buf_printf(&b, " n/a (%d unsupported) |", unsup);
            else {
                rs_buf_printf(&b, " %s %d/%d", bad ? "❌" : dev ? "⚠️" : "✅", ok, total - unsup);
                if (unsup)
                    rs_buf_printf(&b, " (+%d unsupported)", unsup);
                rs_buf_add(&b, " |");
            }
        }
        rs_buf_add(&b, "\n");
    }

    if (rs_history_markdown(doc, &b) < 0) {
        free(scen);
        free(b.s);
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }

    rs_buf_add(&b, "\n## Failures\n\n");
    json_array_foreach(json_object_get(doc, "cases"), j, c)
    {
        json_array_foreach(clients, i, cl)
        {
            json_t *r = json_object_get(json_object_get(c, "results"), rs_jstr(cl, "key"));
            int v = r ? st_verdict_parse(rs_jstr(r, "verdict")) : -1;
            if (v != ST_FAILS && v != ST_VERDICT_ERROR)
                continue;
            if (nfail++ == 0)
                rs_buf_add(&b, "| case | client build | verdict | expected | observed | error |\n"
                               "|---|---|---|---|---|---|\n");
            rs_buf_printf(&b, "| `%s` | ", rs_jstr(c, "id"));
            rs_buf_add_md_cell(&b, rs_jstr(cl, "key"), 200);
            rs_buf_printf(&b, " | %s | %s | %s | ", rs_jstr(r, "verdict"), rs_jstr(r, "expected"),
                          rs_jstr(r, "observed"));
            rs_buf_add_md_cell(&b, rs_jstr(r, "error"), 160);
            rs_buf_add(&b, " |\n");
        }
    }
    if (!nfail)
        rs_buf_add(&b, "None.\n");

    rs_buf_add(&b, "\n## Known deviations\n\n");
    json_array_foreach(json_object_get(doc, "cases"), j, c)
    {
        json_array_foreach(clients, i, cl)
        {
            json_t *r = json_object_get(json_object_get(c, "results"), rs_jstr(cl, "key"));
            if (!r || st_verdict_parse(rs_jstr(r, "verdict")) != ST_DEVIATION_KNOWN)
                continue;
            if (ndev++ == 0)
                rs_buf_add(&b, "| case | client build | expected | observed | deviation |\n"
                               "|---|---|---|---|---|\n");
            json_t *d = json_object_get(r, "deviation");
            rs_buf_printf(&b, "| `%s` | ", rs_jstr(c, "id"));
            rs_buf_add_md_cell(&b, rs_jstr(cl, "key"), 200);
            rs_buf_printf(&b, " | %s | %s | [%s](%s) |\n", rs_jstr(r, "expected"),
                          rs_jstr(r, "observed"), rs_jstr(d, "name"), rs_jstr(d, "source"));
        }
    }
    if (!ndev)
        rs_buf_add(&b, "None.\n");

    /* Field cases (docs/suites.md): only when the run had some, so a run of
     * an ordinary suite renders as before. */
    json_array_foreach(json_object_get(doc, "cases"), j, c)
    {
        json_array_foreach(clients, i, cl)
        {
            json_t *r = json_object_get(json_object_get(c, "results"), rs_jstr(cl, "key"));
            if (!r || !json_is_string(json_object_get(r, "reported")))
                continue;
            if (nfield++ == 0)
                rs_buf_add(&b, "\n## Field cases\n\nReported failures, reproduced with the "
                               "installed client: `reproduces` when the observed class is the "
                               "one the report describes.\n\n"
                               "| case | client | source | reported | observed | reproduces? |\n"
                               "|---|---|---|---|---|---|\n");
            rs_buf_printf(&b, "| `%s` | ", rs_jstr(c, "id"));
            rs_buf_add_md_cell(&b, rs_jstr(cl, "client"), 80);
            rs_buf_add(&b, " | ");
            rs_buf_add_md_cell(&b, rs_jstr(r, "source"), 300);
            rs_buf_printf(&b, " | %s | %s | %s |\n", rs_jstr(r, "reported"),
                          rs_jstr(r, "observed"), rs_jstr(r, "field"));
        }
    }
    {
        /* Surfaces (docs/surfaces.md): only when the run had some. */
        char *surfaces = rs_render_surfaces_markdown(doc, err);
        if (!surfaces) {
            free(scen);
            free(b.s);
            return NULL;
        }
        rs_buf_add(&b, surfaces);
        free(surfaces);
    }
    free(scen);
    return rs_buf_finish(&b, err);
}

/* ---- CSV ---- */

static void add_options(rs_buf *b, json_t *opts, const char *sep, const char *eq)
{
    const char *k;
    json_t *v;
    const char *keys[16];
    size_t n = 0;
    json_object_foreach(opts, k, v)
    {
        if (n < 16)
            keys[n++] = k;
    }
    qsort(keys, n, sizeof(*keys), cmp_str);
    for (size_t i = 0; i < n; i++)
        rs_buf_printf(b, "%s%s%s%s", i ? sep : "", keys[i], eq,
                      rs_jstr(opts, keys[i]));
}

char *rs_render_csv(rs_matrix *m, pgtls_err *err)
{
    json_t *doc = rs_matrix_json(m), *c, *cl;
    rs_buf b = {0};
    size_t i, j;

    rs_buf_add(&b, "case_id,scenario,store,sslmode,options,client_build,client,expected,"
                   "expected_rule,observed,verdict,deviation,elapsed_ms,error\r\n");
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        json_array_foreach(json_object_get(doc, "clients"), j, cl)
        {
            json_t *r = json_object_get(json_object_get(c, "results"), rs_jstr(cl, "key"));
            rs_buf opts = {0};
            if (!r)
                continue;
            add_options(&opts, json_object_get(c, "options"), ";", "=");
            rs_buf_add_csv(&b, rs_jstr(c, "id"));
            rs_buf_add(&b, ",");
            rs_buf_add_csv(&b, rs_jstr(c, "scenario"));
            rs_buf_add(&b, ",");
            rs_buf_add_csv(&b, rs_jstr(c, "store"));
            rs_buf_add(&b, ",");
            rs_buf_add_csv(&b, rs_jstr(c, "sslmode"));
            rs_buf_add(&b, ",");
            rs_buf_add_csv(&b, opts.s ? opts.s : "");
            rs_buf_add(&b, ",");
            rs_buf_add_csv(&b, rs_jstr(cl, "key"));
            rs_buf_add(&b, ",");
            rs_buf_add_csv(&b, rs_jstr(cl, "client"));
            rs_buf_add(&b, ",");
            rs_buf_add_csv(&b, rs_jstr(r, "expected"));
            rs_buf_add(&b, ",");
            rs_buf_add_csv(&b, rs_jstr(r, "expected_rule"));
            rs_buf_add(&b, ",");
            rs_buf_add_csv(&b, rs_jstr(r, "observed"));
            rs_buf_add(&b, ",");
            rs_buf_add_csv(&b, rs_jstr(r, "verdict"));
            rs_buf_add(&b, ",");
            rs_buf_add_csv(&b, rs_jstr(json_object_get(r, "deviation"), "name"));
            rs_buf_add(&b, ",");
            if (json_is_integer(json_object_get(r, "elapsed_ms")))
                rs_buf_printf(&b, "%lld",
                              (long long)json_integer_value(json_object_get(r, "elapsed_ms")));
            rs_buf_add(&b, ",");
            rs_buf_add_csv(&b, rs_jstr(r, "error"));
            rs_buf_add(&b, "\r\n");
            free(opts.s);
        }
    }
    return rs_buf_finish(&b, err);
}

/* ---- JUnit XML ---- */

char *rs_render_junit(rs_matrix *m, pgtls_err *err)
{
    json_t *doc = rs_matrix_json(m), *c, *cl;
    rs_buf b = {0};
    size_t i, j;
    int tests = 0, failures = 0, skipped = 0, errors = 0;

    json_array_foreach(json_object_get(doc, "clients"), j, cl)
    {
        rs_counts k;
        rs_count_client(doc, rs_jstr(cl, "key"), &k);
        tests += k.total;
        failures += k.n[ST_FAILS];
        skipped += k.n[ST_VERDICT_UNSUPPORTED];
        errors += k.n[ST_VERDICT_ERROR];
    }
    rs_buf_add(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    rs_buf_printf(&b,
                  "<testsuites name=\"pgtls\" tests=\"%d\" failures=\"%d\" errors=\"%d\" "
                  "skipped=\"%d\">\n",
                  tests, failures, errors, skipped);
    json_array_foreach(json_object_get(doc, "clients"), j, cl)
    {
        const char *key = rs_jstr(cl, "key");
        rs_counts k;
        double total_s = 0;
        rs_count_client(doc, key, &k);
        json_array_foreach(json_object_get(doc, "cases"), i, c)
        {
            json_t *r = json_object_get(json_object_get(c, "results"), key);
            if (r && json_is_integer(json_object_get(r, "elapsed_ms")))
                total_s += json_integer_value(json_object_get(r, "elapsed_ms")) / 1000.0;
        }
        rs_buf_add(&b, "  <testsuite name=\"");
        rs_buf_add_xml(&b, key);
        rs_buf_printf(&b,
                      "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" "
                      "time=\"%.3f\">\n",
                      k.total, k.n[ST_FAILS], k.n[ST_VERDICT_ERROR], k.n[ST_VERDICT_UNSUPPORTED],
                      total_s);
        json_array_foreach(json_object_get(doc, "cases"), i, c)
        {
            json_t *r = json_object_get(json_object_get(c, "results"), key);
            int v;
            if (!r)
                continue;
            v = st_verdict_parse(rs_jstr(r, "verdict"));
            rs_buf_add(&b, "    <testcase classname=\"pgtls.");
            rs_buf_add_xml(&b, rs_jstr(cl, "client"));
            rs_buf_add(&b, ".");
            rs_buf_add_xml(&b, rs_jstr(c, "scenario"));
            rs_buf_add(&b, "\" name=\"");
            rs_buf_add_xml(&b, rs_jstr(c, "id"));
            rs_buf_printf(&b, "\" time=\"%.3f\"",
                          json_is_integer(json_object_get(r, "elapsed_ms"))
                              ? json_integer_value(json_object_get(r, "elapsed_ms")) / 1000.0
                              : 0.0);
            if (v == ST_CONFORMS) {
                rs_buf_add(&b, "/>\n");
                continue;
            }
            rs_buf_add(&b, ">\n");
            if (v == ST_FAILS || v == ST_VERDICT_ERROR) {
                rs_buf_printf(&b, "      <%s message=\"expected %s, observed %s\" type=\"%s\">",
                              v == ST_FAILS ? "failure" : "error", rs_jstr(r, "expected"),
                              rs_jstr(r, "observed"), rs_jstr(r, "observed"));
                rs_buf_add_xml(&b, rs_jstr(r, "error"));
                if (*rs_jstr(r, "repro")) {
                    rs_buf_add(&b, "\nrepro: ");
                    rs_buf_add_xml(&b, rs_jstr(r, "repro"));
                }
                rs_buf_printf(&b, "</%s>\n", v == ST_FAILS ? "failure" : "error");
            } else if (v == ST_VERDICT_UNSUPPORTED) {
                rs_buf_add(&b, "      <skipped message=\"");
                rs_buf_add_xml(&b, *rs_jstr(r, "unsupported") ? rs_jstr(r, "unsupported")
                                                              : "unsupported by this client");
                rs_buf_add(&b, "\"/>\n");
            } else if (v == ST_DEVIATION_KNOWN) {
                json_t *d = json_object_get(r, "deviation");
                rs_buf_add(&b, "      <system-out>known deviation ");
                rs_buf_add_xml(&b, rs_jstr(d, "name"));
                rs_buf_add(&b, " (");
                rs_buf_add_xml(&b, rs_jstr(d, "source"));
                rs_buf_printf(&b, "): expected %s, observed %s</system-out>\n",
                              rs_jstr(r, "expected"), rs_jstr(r, "observed"));
            }
            rs_buf_add(&b, "    </testcase>\n");
        }
        rs_buf_add(&b, "  </testsuite>\n");
    }
    rs_buf_add(&b, "</testsuites>\n");
    return rs_buf_finish(&b, err);
}

/* ---- Rotation readiness ---- */

const char *const rs_rotation_scenarios[] = {"azure-old", "azure-old-ms2017", "azure-new",
                                             "azure-new-short", "azure-new-expired-cross"};
const size_t rs_num_rotation_scenarios = 5;

/* Which rotation scenarios appear in the matrix (mask), and the column names. */
static unsigned rotation_columns(json_t *doc)
{
    unsigned mask = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        for (size_t s = 0; s < rs_num_rotation_scenarios; s++)
            if (strcmp(rs_jstr(c, "scenario"), rs_rotation_scenarios[s]) == 0)
                mask |= 1u << s;
    }
    return mask;
}

/* Configuration part of a case id: everything after "<scenario>/". */
static const char *config_of(json_t *c)
{
    const char *id = rs_jstr(c, "id");
    size_t sl = strlen(rs_jstr(c, "scenario"));
    return strlen(id) > sl + 1 ? id + sl + 1 : id;
}

int rs_rotation_rows(json_t *doc, rs_rotation_row **out, size_t *out_n, unsigned *out_columns)
{
    json_t *c, *cl;
    size_t i, j, n = 0, cap = 0;
    rs_rotation_row *rows = NULL;
    unsigned cols = rotation_columns(doc);

    json_array_foreach(json_object_get(doc, "clients"), j, cl)
    {
        const char *key = rs_jstr(cl, "key");
        size_t first = n;
        json_array_foreach(json_object_get(doc, "cases"), i, c)
        {
            size_t s, r;
            json_t *res = json_object_get(json_object_get(c, "results"), key);
            for (s = 0; s < rs_num_rotation_scenarios; s++)
                if (strcmp(rs_jstr(c, "scenario"), rs_rotation_scenarios[s]) == 0)
                    break;
            if (s == rs_num_rotation_scenarios || !res)
                continue;
            for (r = first; r < n; r++)
                if (strcmp(rows[r].config, config_of(c)) == 0)
                    break;
            if (r == n) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 64;
                    rs_rotation_row *nr = realloc(rows, cap * sizeof(*nr));
                    if (!nr) {
                        free(rows);
                        return -1;
                    }
                    rows = nr;
                }
                memset(&rows[n], 0, sizeof(rows[n]));
                rows[n].client = cl;
                rows[n].config = config_of(c);
                rows[n].case_obj = c;
                n++;
            }
            rows[r].observed[s] = rs_jstr(res, "observed");
        }
        /* Readiness: column 0 azure-old, 1 azure-old-ms2017, 2 azure-new,
         * 3 azure-new-short, 4 azure-new-expired-cross. */
        for (size_t r = first; r < n; r++) {
            const char **ob = rows[r].observed;
            int old_ok = ob[0] && strcmp(ob[0], "connected-tls") == 0;
            int old_seen = ob[0] != NULL;
            int new_ok = ob[2] && strcmp(ob[2], "connected-tls") == 0;
            int unsupported = 0, variants_failing = 0, new_seen = 0;
            for (size_t s = 0; s < rs_num_rotation_scenarios; s++) {
                if (!ob[s])
                    continue;
                if (strcmp(ob[s], "unsupported") == 0)
                    unsupported = 1;
                if (s >= 2)
                    new_seen = 1;
                if (s >= 3 && strcmp(ob[s], "connected-tls") != 0)
                    variants_failing = 1;
            }
            if (unsupported)
                rows[r].readiness = "unsupported";
            else if (!new_seen)
                rows[r].readiness = old_ok ? "old chain only tested" : "fails on the old chain";
            else if ((new_ok || !ob[2]) && !variants_failing)
                rows[r].readiness = "ready";
            else if (new_ok)
                rows[r].readiness = "partial: the new chain works, a short or cross-signed "
                                    "variant fails";
            else if (old_ok)
                rows[r].readiness = "breaks at rotation";
            else if (old_seen)
                rows[r].readiness = "fails before and after";
            else
                rows[r].readiness = "fails on the new chain";
        }
    }
    *out = rows;
    *out_n = n;
    *out_columns = cols;
    return 0;
}

static const char *cell_text(const char *observed)
{
    if (!observed)
        return "—";
    if (strcmp(observed, "connected-tls") == 0)
        return "yes";
    if (strcmp(observed, "connected-plain") == 0)
        return "plaintext";
    return observed;
}

char *rs_render_rotation_markdown(rs_matrix *m, pgtls_err *err)
{
    json_t *doc = rs_matrix_json(m);
    rs_rotation_row *rows = NULL;
    size_t n = 0;
    unsigned cols = 0;
    rs_buf b = {0};

    if (rs_rotation_rows(doc, &rows, &n, &cols) < 0) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    rs_buf_add(&b, "# Rotation readiness\n\nDoes each client configuration (client build, trust "
                   "store, sslmode, options) connect to the old chain, the new chain and the "
                   "cross-signed / short variants? `yes` = TLS connection, otherwise the "
                   "observed class. `ready` = every new-chain scenario connects over TLS; "
                   "`partial` = azure-new connects but azure-new-short or "
                   "azure-new-expired-cross does not; `breaks at rotation` = azure-old "
                   "connects, azure-new does not.\n\n");
    if (!n) {
        rs_buf_add(&b, "No rotation scenarios (azure-old, azure-new, ...) in this matrix.\n");
        free(rows);
        return rs_buf_finish(&b, err);
    }
    rs_buf_add(&b, "| client build | configuration |");
    for (size_t s = 0; s < rs_num_rotation_scenarios; s++)
        if (cols & (1u << s))
            rs_buf_printf(&b, " %s |", rs_rotation_scenarios[s]);
    rs_buf_add(&b, " readiness |\n|---|---|");
    for (size_t s = 0; s < rs_num_rotation_scenarios; s++)
        if (cols & (1u << s))
            rs_buf_add(&b, "---|");
    rs_buf_add(&b, "---|\n");
    for (size_t r = 0; r < n; r++) {
        rs_buf_add(&b, "| ");
        rs_buf_add_md_cell(&b, rs_jstr(rows[r].client, "key"), 200);
        rs_buf_printf(&b, " | `%s` |", rows[r].config);
        for (size_t s = 0; s < rs_num_rotation_scenarios; s++)
            if (cols & (1u << s))
                rs_buf_printf(&b, " %s |", cell_text(rows[r].observed[s]));
        rs_buf_printf(&b, " %s |\n", rows[r].readiness);
    }
    free(rows);
    return rs_buf_finish(&b, err);
}

const char *rs_rotation_cell_text(const char *observed)
{
    return cell_text(observed);
}

/* ---- Everything ---- */

int rs_render_all(rs_matrix *m, const char *dir, pgtls_err *err)
{
    static const struct {
        const char *file;
        char *(*render)(rs_matrix *, pgtls_err *);
    } outputs[] = {
        {"summary.md", rs_render_markdown},   {"matrix.html", rs_render_html},
        {"junit.xml", rs_render_junit},       {"matrix.csv", rs_render_csv},
        {"rotation.md", rs_render_rotation_markdown},
        {"heatmap.svg", rs_render_heatmap_svg}, {"readiness.svg", rs_render_readiness_svg},
    };
    char *path = NULL, *text = NULL;
    int result = -1;

    TRY(fs_mkdir_p(dir, 0755, err));
    path = fs_join(dir, "matrix.json");
    text = rs_matrix_dump(m);
    ENSURE(path && text, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY(fs_write_file(path, text, strlen(text), 0644, err));
    for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++) {
        free(path);
        free(text);
        path = fs_join(dir, outputs[i].file);
        text = outputs[i].render(m, err);
        if (!text || !path)
            goto out;
        TRY(fs_write_file(path, text, strlen(text), 0644, err));
    }
    result = 0;
out:
    free(path);
    free(text);
    return result;
}
