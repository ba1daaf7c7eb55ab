/* pgtls: the `fidelity` commands, shared by `pgtls fidelity ...` and the
 * pgtls-fidelity executable: `compare` (fd_suite.c) and the harness commands
 * of fd_cli.c (expressible, serve). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd.h"
#include "fs.h"

int fd_dispatch_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "compare") == 0)
        return fd_compare_main(argc - 1, argv + 1);
    return fd_cli_main(argc, argv);
}

/* `pgtls run --against-real [flags]`: the same suite against a real
 * PostgreSQL configured like each scenario, judged as `pgtls run` judges the
 * mock (fd_compare_main --real-only). The runner library cannot call this
 * itself (fidelity builds on the runner), so the front binary routes here.
 * Flags compare does not know are refused by it with a usage error; `--out
 * DIR` becomes DIR/against-real.json. */
int fd_run_against_real(int argc, char **argv)
{
    char **args = calloc((size_t)argc + 5, sizeof(*args));
    char *out_file = NULL;
    int n = 0, status = 2;
    pgtls_err err;

    err_clear(&err);
    if (!args) {
        fprintf(stderr, "pgtls run: out of memory\n");
        return 2;
    }
    args[n++] = "compare";
    args[n++] = "--real-only";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--against-real") == 0)
            continue;
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            if (fs_mkdir_p(argv[i + 1], 0755, &err) < 0) {
                fprintf(stderr, "pgtls run: %s\n", err.msg);
                goto out;
            }
            out_file = fs_join(argv[i + 1], "against-real.json");
            args[n++] = "--out";
            args[n++] = out_file;
            i++;
            continue;
        }
        args[n++] = argv[i];
    }
    /* `run --clients a,b` means exactly those clients: compare would add
     * its default drivers through --any-of unless told otherwise. */
    {
        int named = 0, any = 0;
        for (int i = 1; i < argc; i++) {
            named |= strcmp(argv[i], "--clients") == 0;
            any |= strcmp(argv[i], "--any-of") == 0;
        }
        if (named && !any) {
            args[n++] = "--any-of";
            args[n++] = "";
        }
    }
    status = fd_compare_main(n, args);
    if (out_file && status != 2)
        printf("report: %s\n", out_file);
out:
    free(out_file);
    free(args);
    return status;
}
