/* pgtls: the front binary. git-style subcommands, each implemented by its
 * component's library and declared in that component's public header: the
 * binary depends on the libraries, never the other way round. */
#include <stdio.h>
#include <string.h>

#include "ca.h"
#include "fd.h"
#include "im.h"
#include "ms.h"
#include "rn.h"
#include "rs.h"
#include "pgtls-config.h"

/* `run --against-real` is served by the fidelity component, which builds on
 * the runner; everything else by the runner. */
static int run_main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--against-real") == 0)
            return fd_run_against_real(argc, argv);
    return rn_cli_run(argc, argv);
}

static const struct command {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"ca", ca_cli_main, "the built-in CA: gen, list, show, verify, inspect"},
    {"mock", ms_cli_main, "run the mock PostgreSQL server in the foreground"},
    {"imds", im_cli_main, "run the mock managed-identity token service (Entra ID) in the foreground"},
    {"run", run_main, "run the compatibility matrix against the embedded mock (or --against-real)"},
    {"repro", rn_cli_repro, "print (or --exec) the commands that replay one case"},
    {"clients", rn_cli_clients, "list detected clients with their versions"},
    {"stores", rn_cli_stores, "real trust-store snapshots: Azure roots held, verdict per chain"},
    {"timeline", rn_cli_timeline, "the first date a client breaks over the rotation calendar"},
    {"report", rs_cli_report, "render, merge and diff matrix.json files"},
    {"explain", rs_cli_explain, "explain one cell of a matrix: rule, evidence, deviation, fix"},
    {"fidelity", fd_dispatch_main, "compare the mock with a real PostgreSQL; run cases against one"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: pgtls [--version] [--help] COMMAND [ARGS]\n\n"
                 "pgtls checks which PostgreSQL clients still connect when a server's\n"
                 "TLS certificate chain changes, offline, against a mock server.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'pgtls COMMAND --help' describes one command.\n"
                 "exit status: 0 ok, 1 findings or failures, 2 usage or input error.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("pgtls %s\n", PGTLS_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "pgtls: unknown command '%s' (see 'pgtls --help')\n", argv[1]);
    return 2;
}
