/* pgtls results: `pgtls report render|merge|diff|history`.
 * Exit status: 0 OK, 1 regression (diff), 2 usage or input error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "rs.h"

static const char usage_report[] =
    "usage: pgtls report <command> ...\n"
    "\n"
    "  render MATRIX.json --out DIR     write summary.md, matrix.html, junit.xml,\n"
    "                                   matrix.csv, rotation.md (and matrix.json) to DIR\n"
    "  merge A.json B.json ... --out DIR\n"
    "                                   one matrix from runs on several machines (each\n"
    "                                   client build a column), rendered to DIR\n"
    "  diff BASELINE.json NEW.json [--accept FILE] [--strict]\n"
    "                                   case-by-case changes; exit 1 on a regression\n"
    "  history MATRIX.json --client NAME [--case ID]\n"
    "                                   one driver's builds in version order: one case,\n"
    "                                   or every case whose observed class changes\n"
    "\n"
    "Exit status: 0 OK, 1 regression found (diff), 2 usage or input error.\n"
    "Formats: docs/matrix-schema.md.\n";

static const char usage_render[] =
    "usage: pgtls report render MATRIX.json --out DIR\n"
    "Writes matrix.json, summary.md, matrix.html, junit.xml, matrix.csv and rotation.md.\n";

static const char usage_merge[] =
    "usage: pgtls report merge A.json B.json ... --out DIR [--allow-mixed-as-of]\n"
    "Unions the cases of every input by id; every client build becomes a column (the same\n"
    "build from two machines gets \" @ host\" appended); run.sources lists every input run.\n"
    "Inputs run as of different dates (pgtls run --as-of) are refused unless\n"
    "--allow-mixed-as-of is given (run.as_of is then \"mixed\").\n";

static const char usage_diff[] =
    "usage: pgtls report diff BASELINE.json NEW.json [--accept FILE] [--strict]\n"
    "Lists what changed per case and client build. A regression is a result that conformed\n"
    "(or was a known deviation) in BASELINE and fails or errors in NEW; exit 1 if any is\n"
    "not covered by the accept file (INI or JSON, docs/matrix-schema.md).\n"
    "  --strict  also exit 1 on any other behaviour change of a row (its observed class or\n"
    "            error code, a fix included, or a row NEW lacks) that the accept file does\n"
    "            not take with a reason: a driver's CI notices every change.\n";

static const char usage_history[] =
    "usage: pgtls report history MATRIX.json --client NAME [--case CASE-ID]\n"
    "The builds of one driver in the matrix (client NAME and the version builds NAME@VERSION;\n"
    "a registry name such as pg or psycopg2-binary works), in version order. With --case: that\n"
    "case for each version (observed, verdict, expected, error) and the versions in which the\n"
    "observed class changed; without: every case whose observed class changes. docs/versions.md.\n";

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* Splits argv into positional arguments and --out/--accept values.
 * Returns 0, 1 for --help, -1 on a usage error (message printed). */
static int parse_args(int argc, char **argv, const char **pos, int *num_pos, int max_pos,
                      const char **out, const char **accept, const char *usage)
{
    *num_pos = 0;
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage, stdout);
            return 1;
        }
        if ((strcmp(argv[i], "--out") == 0 && out) || (strcmp(argv[i], "--accept") == 0 && accept)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "pgtls report %s: %s needs a value\n%s", argv[0], argv[i], usage);
                return -1;
            }
            *(argv[i][2] == 'o' ? out : accept) = argv[i + 1];
            i++;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "pgtls report %s: unknown option %s\n%s", argv[0], argv[i], usage);
            return -1;
        }
        if (*num_pos == max_pos) {
            fprintf(stderr, "pgtls report %s: too many arguments\n%s", argv[0], usage);
            return -1;
        }
        pos[(*num_pos)++] = argv[i];
    }
    return 0;
}

static int cmd_render(int argc, char **argv)
{
    const char *pos[1], *out = NULL;
    int n, rc;
    pgtls_err err;
    rs_matrix *m;

    rc = parse_args(argc, argv, pos, &n, 1, &out, NULL, usage_render);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (n != 1 || !out) {
        fprintf(stderr, "pgtls report render: needs MATRIX.json and --out DIR\n%s", usage_render);
        return 2;
    }
    err_clear(&err);
    m = rs_matrix_load(pos[0], &err);
    if (!m || rs_render_all(m, out, &err) < 0) {
        fprintf(stderr, "pgtls report render: %s\n", err.msg);
        rs_matrix_free(m);
        return 2;
    }
    printf("pgtls report render: wrote %s/{matrix.json,summary.md,matrix.html,heatmap.svg,readiness.svg,junit.xml,"
           "matrix.csv,rotation.md}\n",
           out);
    rs_matrix_free(m);
    return 0;
}

static int cmd_merge(int argc, char **argv)
{
    const char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    const char *out = NULL;
    rs_matrix **inputs = calloc((size_t)argc + 1, sizeof(*inputs));
    rs_matrix *merged = NULL;
    int n = 0, rc, status = 2, allow_mixed = 0, kept = 0;
    pgtls_err err;

    err_clear(&err);
    if (!pos || !inputs)
        goto out;
    for (int i = 0; i < argc; i++) /* drop --allow-mixed-as-of, keep the rest in order */
        if (i > 0 && strcmp(argv[i], "--allow-mixed-as-of") == 0)
            allow_mixed = 1;
        else
            argv[kept++] = argv[i];
    argc = kept;
    rc = parse_args(argc, argv, pos, &n, argc, &out, NULL, usage_merge);
    if (rc) {
        status = rc > 0 ? 0 : 2;
        goto out;
    }
    if (n < 1 || !out) {
        fprintf(stderr, "pgtls report merge: needs at least one matrix and --out DIR\n%s",
                usage_merge);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        inputs[i] = rs_matrix_load(pos[i], &err);
        if (!inputs[i]) {
            fprintf(stderr, "pgtls report merge: %s\n", err.msg);
            goto out;
        }
    }
    if (!allow_mixed && rs_matrix_as_of_check(inputs, pos, (size_t)n, &err) < 0) {
        fprintf(stderr, "pgtls report merge: %s\n", err.msg);
        goto out;
    }
    merged = rs_matrix_merge(inputs, (size_t)n, &err);
    if (!merged || rs_render_all(merged, out, &err) < 0) {
        fprintf(stderr, "pgtls report merge: %s\n", err.msg);
        goto out;
    }
    printf("pgtls report merge: %d matrices merged into %s/matrix.json (rendered alongside)\n", n,
           out);
    status = 0;
out:
    for (int i = 0; inputs && i < n; i++)
        rs_matrix_free(inputs[i]);
    rs_matrix_free(merged);
    free(inputs);
    free(pos);
    return status;
}

static int cmd_diff(int argc, char **argv)
{
    const char *pos[2], *accept_path = NULL;
    int n, rc, status = 2;
    pgtls_err err;
    rs_matrix *base = NULL, *cur = NULL;
    rs_accept *accept = NULL;
    rs_diff_stats st;
    char *text = NULL;

    /* --strict is a plain switch: take it out before the shared parser. */
    int strict = 0, kept = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--strict") == 0)
            strict = 1;
        else
            argv[kept++] = argv[i];
    }
    argc = kept;
    rc = parse_args(argc, argv, pos, &n, 2, NULL, &accept_path, usage_diff);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (n != 2) {
        fprintf(stderr, "pgtls report diff: needs BASELINE.json and NEW.json\n%s", usage_diff);
        return 2;
    }
    err_clear(&err);
    if (!(base = rs_matrix_load(pos[0], &err)) || !(cur = rs_matrix_load(pos[1], &err)) ||
        (accept_path && !(accept = rs_accept_load(accept_path, &err))) ||
        rs_diff(base, cur, accept, &text, &st, &err) < 0) {
        fprintf(stderr, "pgtls report diff: %s\n", err.msg);
        goto out;
    }
    fputs(text, stdout);
    status = st.regressions || (strict && st.behaviour_changes) ? 1 : 0;
    if (strict && st.behaviour_changes)
        fprintf(stderr,
                "pgtls report diff --strict: %d behaviour change(s) not in the accept file\n",
                st.behaviour_changes);
out:
    free(text);
    rs_accept_free(accept);
    rs_matrix_free(base);
    rs_matrix_free(cur);
    return status;
}

static int cmd_history(int argc, char **argv)
{
    const char *path = NULL, *client = NULL, *case_id = NULL;
    pgtls_err err;
    rs_matrix *m = NULL;
    char *text = NULL;
    int status = 2;

    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage_history, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--client") == 0 || strcmp(argv[i], "--case") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "pgtls report history: %s needs a value\n%s", argv[i],
                        usage_history);
                return 2;
            }
            *(argv[i][3] == 'l' ? &client : &case_id) = argv[i + 1];
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "pgtls report history: unknown option %s\n%s", argv[i], usage_history);
            return 2;
        } else if (path) {
            fprintf(stderr, "pgtls report history: too many arguments\n%s", usage_history);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path || !client) {
        fprintf(stderr, "pgtls report history: needs MATRIX.json and --client NAME\n%s",
                usage_history);
        return 2;
    }
    err_clear(&err);
    if (!(m = rs_matrix_load(path, &err)) ||
        rs_render_history(rs_matrix_json(m), client, case_id, &text, &err) < 0) {
        fprintf(stderr, "pgtls report history: %s\n", err.msg);
        goto out;
    }
    fputs(text, stdout);
    status = 0;
out:
    free(text);
    rs_matrix_free(m);
    return status;
}

int rs_cli_report(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_report, stderr);
        return 2;
    }
    if (is_help(argv[1])) {
        fputs(usage_report, stdout);
        return 0;
    }
    if (strcmp(argv[1], "render") == 0)
        return cmd_render(argc - 1, argv + 1);
    if (strcmp(argv[1], "merge") == 0)
        return cmd_merge(argc - 1, argv + 1);
    if (strcmp(argv[1], "diff") == 0)
        return cmd_diff(argc - 1, argv + 1);
    if (strcmp(argv[1], "history") == 0)
        return cmd_history(argc - 1, argv + 1);
    fprintf(stderr, "pgtls report: unknown command \"%s\"\n%s", argv[1], usage_report);
    return 2;
}
