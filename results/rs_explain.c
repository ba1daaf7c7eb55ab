/* pgtls results: `pgtls explain CASE-ID --client NAME [--matrix FILE]`: one
 * cell of a matrix in full: the expectation rule and why, what the client did
 * (class, raw error, the chain the server sent, the server's event), whether
 * it is a known deviation and its source, the repro command, and the fix. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "rs.h"
#include "rs_internal.h"

static const char usage_explain[] =
    "usage: pgtls explain CASE-ID --client NAME [--matrix FILE]\n"
    "Explains one cell of a matrix: the expected class and the rule behind it, what the\n"
    "client did (class, raw error, the chain the server sent, the server's event), the\n"
    "known deviation and its source, the repro command and the fix.\n"
    "  --client  the client's name (as in `pgtls clients`) or its build key; every build\n"
    "            of that client in the matrix is explained\n"
    "  --matrix  matrix.json to read (default out/latest/matrix.json)\n"
    "Exit status: 0 explained, 2 usage error, unknown case or client, unreadable matrix.\n";

/* The chain the scenario serves, leaf first, as certificate names (from the
 * run's fixtures, when they are still there). */
static void print_chain(FILE *f, const fx_index *idx, const fx_scenario *sc)
{
    json_t *chains = json_object_get(fx_index_json(idx), "chains");
    json_t *chain = json_object_get(chains, sc->chain ? sc->chain : "");
    json_t *certs = json_object_get(chain, "certs");
    size_t i;
    json_t *c;
    if (!sc->chain) {
        fprintf(f, "  chain sent:  none (this scenario serves no TLS)\n");
        return;
    }
    fprintf(f, "  chain sent:  %s:", sc->chain);
    if (json_is_array(certs)) {
        json_array_foreach(certs, i, c)
        {
            fprintf(f, "%s %s", i ? " ->" : "", json_string_value(c) ? json_string_value(c) : "?");
        }
    }
    fputc('\n', f);
}

static void print_fixture_facts(FILE *f, json_t *run, json_t *c)
{
    pgtls_err err;
    const char *dir = rs_jstr(run, "fixtures_dir");
    fx_index *idx;
    err_clear(&err);
    if (!*dir || !(idx = fx_index_load(dir, &err))) {
        fprintf(f, "  (the run's fixtures %s are not readable here: scenario and store facts "
                   "omitted)\n",
                *dir ? dir : "(none recorded)");
        return;
    }
    const fx_scenario *sc = fx_scenario_find(idx, rs_jstr(c, "scenario"));
    const fx_store *st = fx_store_find(idx, rs_jstr(c, "store"));
    if (sc) {
        fprintf(f, "  scenario:    %s: %s\n", sc->name, sc->description ? sc->description : "");
        fprintf(f, "  host:        %s (%s the certificate)\n", sc->host,
                sc->host_match ? "matches" : "does not match");
        print_chain(f, idx, sc);
        const char *v = fx_scenario_verify(sc, rs_jstr(c, "store"));
        if (v)
            fprintf(f, "  declared:    the chain %s against store %s (checked with OpenSSL's "
                       "verifier when the fixtures were made)\n",
                    strcmp(v, "ok") == 0 ? "verifies" : v, rs_jstr(c, "store"));
    }
    if (st)
        fprintf(f, "  store:       %s (%s): %s\n", st->name, st->kind,
                st->description ? st->description : "");
    fx_index_free(idx);
}

static void print_event(FILE *f, json_t *ev)
{
    const char *keys[] = {"tls_start", "handshake", "tls_version", "sni", "alpn", "client_alert",
                          "server_alert", "tls_error", "auth_method", "auth_result", "end",
                          "end_reason", "fatal"};
    fprintf(f, "  server saw: ");
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        json_t *v = json_object_get(ev, keys[k]);
        if (json_is_string(v))
            fprintf(f, " %s=%s", keys[k], json_string_value(v));
        else if (json_is_object(v) && json_is_string(json_object_get(v, "message")))
            fprintf(f, " %s=\"%s\"", keys[k], json_string_value(json_object_get(v, "message")));
    }
    fputc('\n', f);
}

static int is_connected(const char *cls)
{
    return strcmp(cls, "connected-tls") == 0 || strcmp(cls, "connected-plain") == 0;
}

static void print_fix(FILE *f, json_t *c, json_t *r)
{
    const char *expected = rs_jstr(r, "expected"), *observed = rs_jstr(r, "observed");
    const char *id = rs_jstr(c, "id"), *scenario = rs_jstr(c, "scenario");
    const char *config = strlen(id) > strlen(scenario) ? id + strlen(scenario) + 1 : id;
    const char *title = NULL, *fix;
    if (strcmp(observed, "unsupported") == 0) {
        fprintf(f, "  fix:         none needed from the user: the adapter cannot express this case "
                   "(%s)\n",
                rs_jstr(r, "unsupported"));
        return;
    }
    if (is_connected(observed) && !is_connected(expected)) {
        fix = rs_cause_fix(config, expected, scenario, &title);
        if (!strncmp(config, "pinned-", 7))
            fprintf(f, "  note:        it connects only while the server presents the pinned "
                       "certificate; libpq's rules refuse (%s)\n",
                    expected);
        else
            fprintf(f, "  security:    it connected where libpq's rules refuse (%s): it accepted a "
                       "chain this sslmode should not accept\n",
                    expected);
        if (fix)
            fprintf(f, "  cause:       %s\n  fix:         %s\n", title, fix);
        return;
    }
    if (is_connected(observed)) {
        fprintf(f, "  fix:         nothing to change: it connects\n");
        return;
    }
    fix = rs_cause_fix(config, observed, scenario, &title);
    if (fix)
        fprintf(f, "  cause:       %s\n  fix:         %s\n", title, fix);
}

static void explain_one(FILE *f, json_t *run, json_t *c, json_t *cl, json_t *r)
{
    json_t *dev = json_object_get(r, "deviation");
    json_t *events = json_object_get(r, "events");
    const char *error = rs_jstr(r, "error");
    fprintf(f, "%s — %s\n", rs_jstr(c, "id"), rs_jstr(cl, "key"));
    print_fixture_facts(f, run, c);
    fprintf(f, "  expected:    %s (rule %s): %s\n", rs_jstr(r, "expected"),
            rs_jstr(r, "expected_rule"), rs_jstr(r, "expected_why"));
    fprintf(f, "  observed:    %s (%s)\n", rs_jstr(r, "observed"), rs_jstr(r, "evidence"));
    if (*error) {
        size_t len = strlen(error);
        while (len && error[len - 1] == '\n')
            len--;
        fprintf(f, "  raw error:   %.*s\n", (int)len, error);
    }
    if (*rs_jstr(r, "error_code"))
        fprintf(f, "  error code:  %s\n", rs_jstr(r, "error_code"));
    if (json_is_array(events) && json_array_size(events))
        for (size_t i = 0; i < json_array_size(events); i++)
            print_event(f, json_array_get(events, i));
    else
        fprintf(f, "  server saw:  no connection\n");
    fprintf(f, "  verdict:     %s\n", rs_jstr(r, "verdict"));
    if (json_is_object(dev))
        fprintf(f, "  deviation:   %s (known, documented): %s\n", rs_jstr(dev, "name"),
                rs_jstr(dev, "source"));
    if (strcmp(rs_jstr(r, "verdict"), "fails") == 0)
        fprintf(f, "  finding:     this client diverges from libpq's rules here and no documented "
                   "behaviour explains it (docs/findings.md)\n");
    print_fix(f, c, r);
    fprintf(f, "  repro:       %s --exec\n\n", rs_jstr(r, "repro"));
}

int rs_cli_explain(int argc, char **argv)
{
    const char *case_id = NULL, *client = NULL, *matrix = "out/latest/matrix.json";
    pgtls_err err;
    rs_matrix *m = NULL;
    int status = 2, found = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_explain, stdout);
            return 0;
        }
        if ((!strcmp(argv[i], "--client") || !strcmp(argv[i], "--matrix")) && i + 1 < argc) {
            *(argv[i][2] == 'c' ? &client : &matrix) = argv[i + 1];
            i++;
        } else if (argv[i][0] == '-' || case_id) {
            fprintf(stderr, "pgtls explain: unexpected argument '%s'\n%s", argv[i], usage_explain);
            return 2;
        } else {
            case_id = argv[i];
        }
    }
    if (!case_id || !client) {
        fprintf(stderr, "pgtls explain: needs a CASE-ID and --client NAME\n%s", usage_explain);
        return 2;
    }
    err_clear(&err);
    m = rs_matrix_load(matrix, &err);
    if (!m) {
        fprintf(stderr, "pgtls explain: %s (run `pgtls run` first, or name one with --matrix)\n",
                err.msg);
        return 2;
    }
    json_t *doc = rs_matrix_json(m), *c = NULL, *cl;
    size_t i;
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        if (strcmp(rs_jstr(c, "id"), case_id) == 0)
            break;
    }
    if (i == json_array_size(json_object_get(doc, "cases"))) {
        fprintf(stderr, "pgtls explain: no case '%s' in %s (case ids are <scenario>/<store>/"
                        "<sslmode>[/<options>], as in matrix.csv)\n",
                case_id, matrix);
        goto out;
    }
    json_array_foreach(json_object_get(doc, "clients"), i, cl)
    {
        const char *key = rs_jstr(cl, "key");
        json_t *r = json_object_get(json_object_get(c, "results"), key);
        if (!r || (strcmp(rs_jstr(cl, "client"), client) != 0 && strcmp(key, client) != 0))
            continue;
        explain_one(stdout, json_object_get(doc, "run"), c, cl, r);
        found++;
    }
    if (!found) {
        fprintf(stderr, "pgtls explain: client '%s' has no result for %s in %s (see the clients "
                        "in its summary.md)\n",
                client, case_id, matrix);
        goto out;
    }
    status = 0;
out:
    rs_matrix_free(m);
    return status;
}
