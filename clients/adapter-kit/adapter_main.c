/* pgtls clients: the adapter main loop (docs/case-protocol.md).
 *
 * Hello line first; then either one case from flags (one-shot) or one result
 * line per case line on stdin (batch). A bad line gets an error result and the
 * loop goes on: one broken case must not cost the runner the rest of a run.
 */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_adapter.h"
#include "common/fs.h"

static void usage(FILE *f, const char *name)
{
    fprintf(f,
            "usage: pgtls-adapter-%s [--describe]\n"
            "       pgtls-adapter-%s --host H --hostaddr A --port P --sslmode M [--FIELD VALUE]..."
            " [--env NAME=VALUE]...\n"
            "With no arguments, reads one JSON case per line on stdin and writes one JSON result"
            " per line\n(see docs/case-protocol.md).\n",
            name, name);
}

/* 1 if hello's "features" lists field. */
static int has_feature(json_t *hello, const char *field)
{
    json_t *features = json_object_get(hello, "features");
    size_t i;
    json_t *v;
    json_array_foreach(features, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), field) == 0)
            return 1;
    }
    return 0;
}

/* Runs one case (already parsed or not) and prints its result line. */
static int handle_case(const cl_adapter *adapter, json_t *hello, cl_case *c, int parse_rc,
                       const pgtls_err *parse_err)
{
    json_t *result = cl_result_new(c->id);
    pgtls_err err;
    int rc;

    err_clear(&err);
    if (result == NULL)
        return -1;
    if (parse_rc < 0) {
        char *msg = str_printf("adapter: cannot parse case: %s", parse_err->msg);
        cl_json_set_str(result, "error", msg);
        free(msg);
        goto print;
    }
    for (int i = 0; cl_optional_fields[i] != NULL; i++) {
        const char *field = cl_optional_fields[i];
        if (cl_case_optional(c, field) == NULL || has_feature(hello, field))
            continue;
        char *reason =
            adapter->unsupported_reason ? adapter->unsupported_reason(adapter->ctx, field) : NULL;
        if (reason == NULL)
            reason = str_printf("%s: the adapter cannot express \"%s\"", adapter->name, field);
        cl_json_set_str(result, "unsupported", reason);
        free(reason);
        goto print;
    }
    /* docs/surfaces.md: a surface (or a literal string) the adapter does
     * not list is never emulated. */
    if (c->surface != NULL || c->literal != NULL) {
        char *want = c->surface ? str_printf("surface:%s", c->surface) : NULL;
        const char *need = want && !has_feature(hello, want)            ? want
                           : c->literal && !has_feature(hello, "literal") ? "literal"
                                                                        : NULL;
        if (need) {
            char *reason = adapter->unsupported_reason
                               ? adapter->unsupported_reason(adapter->ctx, need)
                               : NULL;
            if (reason == NULL)
                reason = str_printf("%s: the adapter cannot express \"%s\"", adapter->name, need);
            cl_json_set_str(result, "unsupported", reason);
            free(reason);
            free(want);
            goto print;
        }
        free(want);
    }
    if (cl_env_apply(c, &err) < 0) {
        char *msg = str_printf("adapter: cannot apply the case environment: %s", err.msg);
        cl_json_set_str(result, "error", msg);
        free(msg);
        goto print;
    }
    long long start = time_now_ms();
    adapter->run(adapter->ctx, c, result);
    json_object_set_new(result, "elapsed_ms", json_integer(time_now_ms() - start));
print:
    rc = cl_print_line(result);
    json_decref(result);
    return rc;
}

static int only_space(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isspace((unsigned char)s[i]))
            return 0;
    return 1;
}

int cl_adapter_main(int argc, char **argv, const cl_adapter *adapter)
{
    int status = 0;
    json_t *hello = NULL;
    char *line = NULL;
    size_t line_cap = 0;
    pgtls_err err;

    /* A runner that goes away must not kill us mid-write with SIGPIPE; the
     * failed write ends the loop instead. */
    signal(SIGPIPE, SIG_IGN);
    cl_env_init();
    err_clear(&err);

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout, adapter->name);
        return 0;
    }
    hello = adapter->hello(adapter->ctx);
    if (hello == NULL) {
        fprintf(stderr, "pgtls-adapter-%s: cannot build the hello line\n", adapter->name);
        return 2;
    }
    if (argc == 2 && strcmp(argv[1], "--describe") == 0) {
        status = cl_print_line(hello) == 0 ? 0 : 1;
        goto out;
    }

    if (argc > 1) {
        /* One-shot: the same case, from flags. */
        json_t *obj = cl_case_from_flags(argc, argv, &err);
        if (obj == NULL) {
            fprintf(stderr, "pgtls-adapter-%s: %s\n", adapter->name, err.msg);
            usage(stderr, adapter->name);
            status = 2;
            goto out;
        }
        cl_case c;
        int rc = cl_case_from_json(obj, &c, &err);
        json_decref(obj);
        if (cl_print_line(hello) == 0)
            handle_case(adapter, hello, &c, rc, &err);
        cl_case_cleanup(&c);
        goto out;
    }

    if (cl_print_line(hello) < 0)
        goto out;
    for (;;) {
        ssize_t n = getline(&line, &line_cap, stdin);
        if (n < 0)
            break;
        if (only_space(line, (size_t)n))
            continue; /* blank lines separate nothing; they are not cases */
        cl_case c;
        err_clear(&err);
        int rc = cl_case_parse(line, (size_t)n, &c, &err);
        int prc = handle_case(adapter, hello, &c, rc, &err);
        cl_case_cleanup(&c);
        if (prc < 0)
            break; /* stdout is gone: nobody reads our results */
    }
out:
    free(line);
    json_decref(hello);
    return status;
}
