/* pgtls results: "Rotation readiness at a glance", the digest that opens
 * summary.md, the HTML page and the end of `pgtls run`: one row per client
 * build, one column per trust configuration class, one verdict per cell with
 * the sslmode that decides it; then what breaks, grouped by cause, each cause
 * once with the clients it hits, the evidence and the fix in the words of
 * Azure's own guidance. Built on the rotation-readiness rows (rs_render.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs.h"
#include "rs_internal.h"

/* A column: a class of trust configuration and the suite's stores that stand
 * for it, first present wins ("default" is the client's own trust once trust
 * worlds are in the suite; "system" is sslrootcert=system). */
typedef struct digest_column {
    const char *title;
    const char *short_title; /* the terminal table's header */
    const char *stores[3];
} digest_column;

static const digest_column columns[] = {
    {"default/system trust", "own trust", {"default", "system", NULL}},
    {"full Azure bundle", "bundle", {"azure-bundle", NULL, NULL}},
    {"DigiCert Global Root G2 only", "G2 only", {"root-g2", NULL, NULL}},
    {"Microsoft RSA Root CA 2017 only", "MS2017 only", {"root-ms2017", NULL, NULL}},
    {"Microsoft TLS RSA Root G2 only", "MSTLS-G2 only", {"root-ms-tls-g2", NULL, NULL}},
    {"pinned intermediate", "pinned ICA", {"pinned-ica03", NULL, NULL}},
    {"pinned leaf", "pinned leaf", {"pinned-leaf", NULL, NULL}},
    {"stale root file", "stale root", {"wrong-root", "root-baltimore", NULL}},
};
#define NUM_COLUMNS (sizeof(columns) / sizeof(columns[0]))

/* The sslmodes that decide a cell, strictest first: the verdict is the one
 * under the strictest mode the client ran on that store. */
static const char *const deciding_modes[] = {"verify-full", "verify-ca", "require"};

/* A cause of failure, with the fix in the Azure pages' words. */
typedef struct digest_cause {
    const char *id;
    const char *title;
    const char *fix;
} digest_cause;

static const digest_cause causes[] = {
    {"pinned-intermediate", "The trust store pins an intermediate CA",
     "Remove the pinned intermediate and trust the root CAs only: intermediates change without "
     "notice, and pinning them is not supported."},
    {"pinned-leaf", "The trust store pins the server certificate",
     "Trust the root CAs, not the server certificate: server certificates are renewed and "
     "rotated, and pinning them is not supported."},
    {"single-root", "The trust store holds only one of the Azure roots",
     "Keep the full root set in one root file: DigiCert Global Root G2 and Microsoft RSA Root CA "
     "2017 (and DigiCert Global Root CA for the China regions); new servers and replicas may sit "
     "on either root until the rotation completes."},
    {"stale-root", "The root file is stale (a root Azure no longer chains to)",
     "Replace the root file with the current Azure roots: DigiCert Global Root G2 and Microsoft "
     "RSA Root CA 2017."},
    {"own-trust", "The client's own default trust lacks a root the chain needs",
     "Update the operating system's or runtime's CA bundle, or give the client the full Azure "
     "root set explicitly (sslrootcert, or the driver's CA option)."},
    {"cross-path", "The client cannot build or accept the cross-signed path",
     "Upgrade the driver or its TLS library to one that builds the path to a trusted root, and "
     "keep both roots (DigiCert Global Root G2 and Microsoft RSA Root CA 2017) in the store."},
    {"hostname", "The host name does not match the server certificate",
     "Connect with the server's DNS name as the certificate carries it (for example "
     "mydemoserver.postgres.database.azure.com), not an IP address or an alias, or add the name "
     "the client uses to the certificate where you control it."},
    {"expired", "A certificate in the chain has expired",
     "Renew the expired certificate where you control it; against Azure, upgrade the client's TLS "
     "library so it builds the path to a trusted root instead of through an expired certificate."},
    {"protocol", "The client and the server share no TLS version or cipher",
     "Allow TLS 1.2 and 1.3 in the client and its TLS library (Azure requires TLS 1.2 or later)."},
    {"config", "The driver refuses this configuration",
     "Use the driver's own option for certificate verification (see its known deviation), with "
     "sslmode=verify-full semantics and the full Azure root set."},
};
#define NUM_CAUSES (sizeof(causes) / sizeof(causes[0]))

static int is_connected(const char *observed)
{
    return observed && strcmp(observed, "connected-tls") == 0;
}

/* "<store>/<mode>" exactly (no options). */
static int config_is(const char *config, const char *store, const char *mode)
{
    size_t n = strlen(store);
    return strncmp(config, store, n) == 0 && config[n] == '/' && strcmp(config + n + 1, mode) == 0;
}

/* 1 when the client build refuses an sslmode whatever the trust store: every
 * rotation row it ran under "<any store>/<mode>" ended client-config-error on
 * every scenario (tokio-postgres rejects verify-ca and verify-full at parse
 * time; its users verify with require and a verifying connector). A mode
 * refused only for some stores (libpq's verify-full without a root file) is
 * not: that refusal is the verdict. */
static int mode_refused(const rs_rotation_row *rows, size_t n, json_t *client, const char *mode)
{
    int seen = 0;
    for (size_t r = 0; r < n; r++) {
        const char *slash;
        if (rows[r].client != client || !(slash = strchr(rows[r].config, '/')) ||
            strcmp(slash + 1, mode) != 0)
            continue;
        for (size_t k = 0; k < sizeof(rows[r].observed) / sizeof(rows[r].observed[0]); k++)
            if (rows[r].observed[k]) {
                if (strcmp(rows[r].observed[k], "client-config-error") != 0)
                    return 0;
                seen = 1;
            }
    }
    return seen;
}

/* The rotation row of one client build for a column, under the strictest
 * mode it ran and accepts (mode_refused); NULL when none. */
static const rs_rotation_row *cell_row(const rs_rotation_row *rows, size_t n, json_t *client,
                                       const digest_column *col, const char **out_mode)
{
    const size_t nmodes = sizeof(deciding_modes) / sizeof(deciding_modes[0]);
    int refused[sizeof(deciding_modes) / sizeof(deciding_modes[0])];
    size_t accepted = 0;
    for (size_t m = 0; m < nmodes; m++) {
        refused[m] = mode_refused(rows, n, client, deciding_modes[m]);
        accepted += !refused[m];
    }
    for (size_t s = 0; s < 3 && col->stores[s]; s++)
        for (size_t m = 0; m < nmodes; m++)
            for (size_t r = 0; r < n; r++)
                if (rows[r].client == client && (!refused[m] || accepted == 0) &&
                    config_is(rows[r].config, col->stores[s], deciding_modes[m])) {
                    *out_mode = deciding_modes[m];
                    return &rows[r];
                }
    return NULL;
}

/* The digest's verdict words for a rotation readiness. */
static const char *verdict_of(const char *readiness)
{
    if (strcmp(readiness, "ready") == 0)
        return "ready";
    if (strcmp(readiness, "breaks at rotation") == 0)
        return "breaks at rotation";
    if (strncmp(readiness, "partial", 7) == 0)
        return "partial";
    if (strcmp(readiness, "unsupported") == 0)
        return "unsupported";
    if (strcmp(readiness, "old chain only tested") == 0)
        return "ready (old chain)";
    return "already broken";
}

static const char *short_verdict(const char *verdict)
{
    if (strcmp(verdict, "breaks at rotation") == 0)
        return "BREAKS";
    if (strcmp(verdict, "already broken") == 0)
        return "broken";
    if (strcmp(verdict, "unsupported") == 0)
        return "n/a";
    if (strcmp(verdict, "ready (old chain)") == 0)
        return "ready*";
    return verdict;
}

static const char *short_mode(const char *mode)
{
    return strcmp(mode, "verify-full") == 0 ? "vf" : strcmp(mode, "verify-ca") == 0 ? "vc" : "req";
}

/* The cause of a failing row, from the class it failed with, the scenario it
 * failed on and its store (the configuration part of the case id). */
static const digest_cause *cause_of(const rs_rotation_row *row, const char *failed_class,
                                    const char *scenario)
{
    const char *id;
    const char *config = row->config;
    const char *cls = failed_class ? failed_class : "";
    int cross = scenario && strstr(scenario, "expired-cross") != NULL;
    if (strcmp(cls, "client-config-error") == 0)
        id = "config";
    else if (strcmp(cls, "hostname-mismatch") == 0)
        id = "hostname";
    else if (strcmp(cls, "expired") == 0 && !cross)
        id = "expired";
    else if (strcmp(cls, "protocol-version") == 0 || strcmp(cls, "no-shared-cipher") == 0)
        id = "protocol";
    else if (!strncmp(config, "pinned-leaf/", 12))
        id = "pinned-leaf";
    else if (!strncmp(config, "pinned-", 7))
        id = "pinned-intermediate";
    else if (!strncmp(config, "root-baltimore/", 15) || !strncmp(config, "wrong-root/", 11))
        id = "stale-root";
    else if (!strncmp(config, "root-", 5))
        id = "single-root";
    else if (!strncmp(config, "default/", 8) || !strncmp(config, "system/", 7) ||
             !strncmp(config, "none/", 5))
        id = "own-trust";
    else
        id = "cross-path";
    for (size_t i = 0; i < NUM_CAUSES; i++)
        if (strcmp(causes[i].id, id) == 0)
            return &causes[i];
    return NULL;
}

const char *rs_cause_fix(const char *config, const char *failed_class, const char *scenario,
                         const char **out_title)
{
    rs_rotation_row row;
    memset(&row, 0, sizeof(row));
    row.config = config;
    const digest_cause *cause = cause_of(&row, failed_class, scenario);
    if (out_title)
        *out_title = cause ? cause->title : NULL;
    return cause ? cause->fix : NULL;
}

/* The first rotation scenario of the row that did not connect, and its class. */
static int first_failure(const rs_rotation_row *row, const char **out_class)
{
    for (size_t s = 0; s < rs_num_rotation_scenarios; s++)
        if (row->observed[s] && !is_connected(row->observed[s]) &&
            strcmp(row->observed[s], "unsupported") != 0) {
            *out_class = row->observed[s];
            return (int)s;
        }
    return -1;
}

/* The raw error of a client build on one case, first line (borrowed, may be ""). */
static const char *raw_error(json_t *doc, const char *scenario, const char *config, json_t *client)
{
    size_t i;
    json_t *c;
    size_t sl = strlen(scenario);
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        const char *id = rs_jstr(c, "id");
        if (strncmp(id, scenario, sl) == 0 && id[sl] == '/' && strcmp(id + sl + 1, config) == 0) {
            json_t *r = json_object_get(json_object_get(c, "results"), rs_jstr(client, "key"));
            return r ? rs_jstr(r, "error") : "";
        }
    }
    return "";
}

typedef struct cause_hits {
    const char *clients[64];
    size_t num_clients;
    const rs_rotation_row *example;
    int example_scenario;
    const char *example_class;
} cause_hits;

static void add_hit(cause_hits *h, const rs_rotation_row *row, int scenario, const char *cls)
{
    const char *name = rs_jstr(row->client, "client");
    for (size_t i = 0; i < h->num_clients; i++)
        if (strcmp(h->clients[i], name) == 0)
            goto example;
    if (h->num_clients < sizeof(h->clients) / sizeof(h->clients[0]))
        h->clients[h->num_clients++] = name;
example:
    if (!h->example) {
        h->example = row;
        h->example_scenario = scenario;
        h->example_class = cls;
    }
}

/* One verdict as a CSS class of the HTML page. */
static const char *css_class(const char *verdict)
{
    if (!strcmp(verdict, "ready") || !strcmp(verdict, "ready (old chain)"))
        return "ok";
    if (!strcmp(verdict, "breaks at rotation"))
        return "breaks";
    if (!strcmp(verdict, "partial"))
        return "partial";
    if (!strcmp(verdict, "unsupported"))
        return "na";
    return "broken";
}

static void header(rs_buf *b, rs_digest_format fmt)
{
    switch (fmt) {
    case RS_DIGEST_TERMINAL:
        rs_buf_add(b, "Rotation readiness at a glance (old -> new chain; vf = verify-full, "
                      "vc = verify-ca, req = require):\n");
        rs_buf_printf(b, "  %-28s", "client");
        for (size_t c = 0; c < NUM_COLUMNS; c++)
            rs_buf_printf(b, " %-14s", columns[c].short_title);
        rs_buf_add(b, "\n");
        return;
    case RS_DIGEST_MARKDOWN:
        rs_buf_add(b, "## Rotation readiness at a glance\n\n");
        break;
    case RS_DIGEST_HTML:
        rs_buf_add(b, "<h2 id=\"glance\">Rotation readiness at a glance</h2>\n<p>");
        break;
    }
    rs_buf_add(b, "One row per client build, one column per trust configuration: does it "
                  "connect to the old chain and keep connecting to the new, short and "
                  "cross-signed chains? The sslmode in brackets is the strictest one the "
                  "client ran with that store and accepts (a driver that refuses an sslmode "
                  "with every store, as tokio-postgres does verify-full, is judged at the "
                  "next), which decides the cell. `breaks at rotation` = "
                  "connects today, fails on the new chain; `partial` = the new chain connects, a "
                  "short or cross-signed variant does not; `already broken` = fails on the old "
                  "chain too.");
    if (fmt == RS_DIGEST_MARKDOWN) {
        rs_buf_add(b, "\n\n| client build |");
        for (size_t c = 0; c < NUM_COLUMNS; c++)
            rs_buf_printf(b, " %s |", columns[c].title);
        rs_buf_add(b, "\n|---|");
        for (size_t c = 0; c < NUM_COLUMNS; c++)
            rs_buf_add(b, "---|");
        rs_buf_add(b, "\n");
    } else {
        rs_buf_add(b, "</p>\n<table id=\"glance-table\"><tr><th>client build</th>");
        for (size_t c = 0; c < NUM_COLUMNS; c++) {
            rs_buf_add(b, "<th>");
            rs_buf_add_xml(b, columns[c].title);
            rs_buf_add(b, "</th>");
        }
        rs_buf_add(b, "</tr>\n");
    }
}

static void row_start(rs_buf *b, rs_digest_format fmt, json_t *cl)
{
    if (fmt == RS_DIGEST_TERMINAL) {
        rs_buf_printf(b, "  %-28.28s", rs_jstr(cl, "client"));
    } else if (fmt == RS_DIGEST_MARKDOWN) {
        rs_buf_add(b, "| ");
        rs_buf_add_md_cell(b, rs_jstr(cl, "key"), 200);
        rs_buf_add(b, " |");
    } else {
        rs_buf_add(b, "<tr><td>");
        rs_buf_add_xml(b, rs_jstr(cl, "key"));
        rs_buf_add(b, "</td>");
    }
}

static void cell(rs_buf *b, rs_digest_format fmt, const char *verdict, const char *mode)
{
    if (!verdict) {
        rs_buf_add(b, fmt == RS_DIGEST_TERMINAL   ? " —             "
                      : fmt == RS_DIGEST_MARKDOWN ? " — |"
                                                  : "<td>—</td>");
        return;
    }
    if (fmt == RS_DIGEST_TERMINAL) {
        char text[32];
        snprintf(text, sizeof(text), "%s %s", short_verdict(verdict), short_mode(mode));
        rs_buf_printf(b, " %-14s", text);
    } else if (fmt == RS_DIGEST_MARKDOWN) {
        int plain = strcmp(verdict, "ready") == 0;
        rs_buf_printf(b, " %s%s%s (%s) |", plain ? "" : "**", verdict, plain ? "" : "**", mode);
    } else {
        rs_buf_printf(b, "<td class=\"g-%s\">%s (%s)</td>", css_class(verdict), verdict, mode);
    }
}

static void row_end(rs_buf *b, rs_digest_format fmt)
{
    rs_buf_add(b, fmt == RS_DIGEST_HTML ? "</tr>\n" : "\n");
}

static void cause_line(rs_buf *b, rs_digest_format fmt, const digest_cause *cause,
                       const cause_hits *h, json_t *doc)
{
    const char *scen = rs_rotation_scenarios[h->example_scenario];
    const char *raw = raw_error(doc, scen, h->example->config, h->example->client);
    const char *who = rs_jstr(h->example->client, "client");
    size_t rawlen = strcspn(raw, "\n");
    char *line;
    if (rawlen > 160)
        rawlen = 160;
    line = strndup(raw, rawlen);
    switch (fmt) {
    case RS_DIGEST_TERMINAL:
        rs_buf_printf(b, "  - %s (%zu client%s:", cause->title, h->num_clients,
                      h->num_clients == 1 ? "" : "s");
        for (size_t c = 0; c < h->num_clients && c < 6; c++)
            rs_buf_printf(b, " %s", h->clients[c]);
        rs_buf_printf(b, "%s)\n    e.g. %s/%s [%s]: %s\n    fix: %s\n",
                      h->num_clients > 6 ? " ..." : "", scen, h->example->config, who,
                      h->example_class, cause->fix);
        break;
    case RS_DIGEST_MARKDOWN:
        rs_buf_printf(b, "- **%s** — hits ", cause->title);
        for (size_t c = 0; c < h->num_clients; c++)
            rs_buf_printf(b, "%s`%s`", c ? ", " : "", h->clients[c]);
        rs_buf_printf(b, ".\n  Evidence: `%s/%s` with `%s` observed `%s`", scen,
                      h->example->config, who, h->example_class);
        if (line && *line) {
            rs_buf_add(b, ": ");
            rs_buf_add_md_cell(b, line, 160);
        }
        rs_buf_printf(b, ".\n  Fix: %s\n", cause->fix);
        break;
    case RS_DIGEST_HTML:
        rs_buf_add(b, "<li><strong>");
        rs_buf_add_xml(b, cause->title);
        rs_buf_add(b, "</strong> — hits ");
        for (size_t c = 0; c < h->num_clients; c++) {
            rs_buf_add(b, c ? ", <code>" : "<code>");
            rs_buf_add_xml(b, h->clients[c]);
            rs_buf_add(b, "</code>");
        }
        rs_buf_printf(b, ".<br>Evidence: <code>%s/", scen);
        rs_buf_add_xml(b, h->example->config);
        rs_buf_add(b, "</code> with <code>");
        rs_buf_add_xml(b, who);
        rs_buf_printf(b, "</code> observed <code>%s</code>", h->example_class);
        if (line && *line) {
            rs_buf_add(b, ": ");
            rs_buf_add_xml(b, line);
        }
        rs_buf_add(b, ".<br>Fix: ");
        rs_buf_add_xml(b, cause->fix);
        rs_buf_add(b, "</li>\n");
        break;
    }
    free(line);
}

int rs_digest_render(json_t *doc, rs_digest_format fmt, char **out_text, pgtls_err *err)
{
    rs_rotation_row *rows = NULL;
    size_t n = 0, i;
    unsigned cols = 0;
    json_t *cl;
    rs_buf b = {0};
    cause_hits hits[NUM_CAUSES];
    int any_cell = 0, any_cause = 0;

    memset(hits, 0, sizeof(hits));
    if (rs_rotation_rows(doc, &rows, &n, &cols) < 0) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return -1;
    }
    if (!n) { /* no rotation scenario in this run: no digest */
        free(rows);
        *out_text = strdup("");
        if (!*out_text)
            err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return *out_text ? 0 : -1;
    }
    header(&b, fmt);
    json_array_foreach(json_object_get(doc, "clients"), i, cl)
    {
        row_start(&b, fmt, cl);
        for (size_t c = 0; c < NUM_COLUMNS; c++) {
            const char *mode = NULL, *cls = NULL;
            const rs_rotation_row *row = cell_row(rows, n, cl, &columns[c], &mode);
            const char *verdict = row ? verdict_of(row->readiness) : NULL;
            cell(&b, fmt, verdict, mode);
            if (!row)
                continue;
            any_cell = 1;
            int s = first_failure(row, &cls);
            if (s >= 0 && strcmp(verdict, "ready") != 0 && strcmp(verdict, "unsupported") != 0) {
                const digest_cause *cause = cause_of(row, cls, rs_rotation_scenarios[s]);
                if (cause)
                    add_hit(&hits[cause - causes], row, s, cls);
            }
        }
        row_end(&b, fmt);
    }
    if (fmt == RS_DIGEST_HTML)
        rs_buf_add(&b, "</table>\n");
    if (!any_cell)
        rs_buf_add(&b, fmt == RS_DIGEST_HTML ? "<p>No rotation scenario ran with these stores.</p>\n"
                                             : "  (no rotation scenario ran with these stores)\n");
    rs_buf_add(&b, fmt == RS_DIGEST_TERMINAL   ? "What breaks, by cause:\n"
                   : fmt == RS_DIGEST_MARKDOWN ? "\n### What breaks, grouped by cause\n\n"
                                               : "<h3>What breaks, grouped by cause</h3>\n<ul id=\"causes\">\n");
    for (size_t k = 0; k < NUM_CAUSES; k++) {
        if (!hits[k].num_clients)
            continue;
        any_cause = 1;
        cause_line(&b, fmt, &causes[k], &hits[k], doc);
    }
    if (!any_cause)
        rs_buf_add(&b, fmt == RS_DIGEST_HTML ? "<li>Nothing: every configuration shown is ready.</li>\n"
                                             : "  Nothing: every configuration shown is ready.\n");
    if (fmt == RS_DIGEST_HTML)
        rs_buf_add(&b, "</ul>\n");
    free(rows);
    *out_text = rs_buf_finish(&b, err);
    return *out_text ? 0 : -1;
}

/* The glance grid as a picture (readiness.svg): one row per client build, one
 * column per trust configuration, each cell coloured by its verdict and
 * labelled with it and the deciding sslmode. */
char *rs_render_readiness_svg(rs_matrix *m, pgtls_err *err)
{
    json_t *doc = rs_matrix_json(m), *cl;
    rs_rotation_row *rows = NULL;
    size_t n = 0, i;
    unsigned cols = 0;
    rs_buf b = {0};
    enum { LW = 230, CW = 120, RH = 20, TOP = 70 };

    if (rs_rotation_rows(doc, &rows, &n, &cols) < 0) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    size_t nclients = json_array_size(json_object_get(doc, "clients"));
    int width = LW + (int)NUM_COLUMNS * CW + 10, height = TOP + (int)nclients * RH + 10;
    rs_buf_printf(&b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"readiness\" width=\"%d\" "
                  "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
                  "font-size=\"11\">\n<title>pgtls: rotation readiness at a glance</title>\n"
                  "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
                  width, height, width, height);
    for (size_t c = 0; c < NUM_COLUMNS; c++) {
        rs_buf_printf(&b, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">", LW + (int)c * CW + 4,
                      TOP - 8);
        rs_buf_add_xml(&b, columns[c].short_title);
        rs_buf_add(&b, "</text>\n");
    }
    json_array_foreach(json_object_get(doc, "clients"), i, cl)
    {
        int y = TOP + (int)i * RH;
        rs_buf_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LW - 6, y + RH - 6);
        rs_buf_add_xml(&b, rs_jstr(cl, "client"));
        rs_buf_add(&b, "</text>\n");
        for (size_t c = 0; c < NUM_COLUMNS; c++) {
            const char *mode = NULL;
            const rs_rotation_row *row = cell_row(rows, n, cl, &columns[c], &mode);
            const char *verdict = row ? verdict_of(row->readiness) : NULL;
            const char *cls = verdict ? css_class(verdict) : "none";
            const char *fill = !strcmp(cls, "ok")        ? "#5cb85c"
                               : !strcmp(cls, "breaks")  ? "#d9534f"
                               : !strcmp(cls, "partial") ? "#f0ad4e"
                               : !strcmp(cls, "broken")  ? "#777777"
                               : !strcmp(cls, "na")      ? "#c8c8c8"
                                                         : "#ffffff";
            rs_buf_printf(&b,
                          "<rect class=\"cell\" data-verdict=\"%s\" x=\"%d\" y=\"%d\" width=\"%d\" "
                          "height=\"%d\" fill=\"%s\" stroke=\"#fff\"/>",
                          verdict ? verdict : "none", LW + (int)c * CW, y, CW, RH, fill);
            if (verdict)
                rs_buf_printf(&b, "<text x=\"%d\" y=\"%d\" fill=\"%s\">%s %s</text>",
                              LW + (int)c * CW + 4, y + RH - 6,
                              !strcmp(cls, "broken") || !strcmp(cls, "breaks") ? "#fff" : "#000",
                              short_verdict(verdict), short_mode(mode));
            rs_buf_add(&b, "\n");
        }
    }
    rs_buf_add(&b, "</svg>\n");
    free(rows);
    return rs_buf_finish(&b, err);
}

/* ---- Security and availability ---- */

static int refusal_class(const char *cls)
{
    return strcmp(cls, "untrusted-chain") == 0 || strcmp(cls, "hostname-mismatch") == 0 ||
           strcmp(cls, "expired") == 0 || strcmp(cls, "ssl-required") == 0 ||
           strcmp(cls, "protocol-version") == 0 || strcmp(cls, "no-shared-cipher") == 0;
}

static int connected_class(const char *cls)
{
    return strcmp(cls, "connected-tls") == 0 || strcmp(cls, "connected-plain") == 0;
}

/* Splits every row that does not do what libpq's rules say into the two
 * findings users care about, security first: it connected where it should
 * have refused (an untrusted, expired or wrong-host chain, or plaintext where
 * TLS was required), or it refused where it should have connected. */
char *rs_render_security_markdown(json_t *doc, pgtls_err *err)
{
    rs_buf b = {0};
    json_t *cl, *c;
    size_t i, j;
    int any_security = 0;

    rs_buf_add(&b, "## Security and availability\n\n`connected where it should have refused` "
                   "is a security finding: under that sslmode libpq refuses the chain (untrusted, "
                   "expired, another host name) or insists on TLS, and the client went ahead. "
                   "`refused where it should have connected` costs availability. Known "
                   "deviations count too: documented is not safe.\n\n"
                   "| client build | connected where it should have refused | refused where it "
                   "should have connected |\n|---|---:|---:|\n");
    json_array_foreach(json_object_get(doc, "clients"), i, cl)
    {
        int sec = 0, avail = 0;
        const char *key = rs_jstr(cl, "key");
        json_array_foreach(json_object_get(doc, "cases"), j, c)
        {
            json_t *r = json_object_get(json_object_get(c, "results"), key);
            if (!r)
                continue;
            const char *e = rs_jstr(r, "expected"), *o = rs_jstr(r, "observed");
            if (refusal_class(e) && connected_class(o))
                sec++;
            else if (connected_class(e) && !connected_class(o) && strcmp(o, "unsupported") != 0)
                avail++;
        }
        any_security |= sec > 0;
        rs_buf_add(&b, "| ");
        rs_buf_add_md_cell(&b, key, 200);
        rs_buf_printf(&b, " | %s%d%s | %d |\n", sec ? "**" : "", sec, sec ? "**" : "", avail);
    }
    if (any_security) {
        rs_buf_add(&b, "\n### Connected where it should have refused\n\n");
        json_array_foreach(json_object_get(doc, "clients"), i, cl)
        {
            const char *key = rs_jstr(cl, "key");
            int shown = 0, more = 0;
            json_array_foreach(json_object_get(doc, "cases"), j, c)
            {
                json_t *r = json_object_get(json_object_get(c, "results"), key);
                if (!r || !refusal_class(rs_jstr(r, "expected")) ||
                    !connected_class(rs_jstr(r, "observed")))
                    continue;
                if (shown == 0)
                    rs_buf_printf(&b, "- `%s`:", rs_jstr(cl, "client"));
                if (shown < 8)
                    rs_buf_printf(&b, "%s `%s` (libpq: %s)", shown ? "," : "", rs_jstr(c, "id"),
                                  rs_jstr(r, "expected"));
                else
                    more++;
                shown++;
            }
            if (shown)
                rs_buf_printf(&b, more ? " and %d more\n" : "\n", more);
        }
    }
    return rs_buf_finish(&b, err);
}
