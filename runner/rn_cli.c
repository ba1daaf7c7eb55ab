/* pgtls: placeholder until this component lands; it says so and exits 2. */
#include <stdio.h>

#include "commands.h"

int rn_cli_run(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "pgtls %s: not built in this version yet\n", argv[0]);
    return 2;
}

int rn_cli_repro(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "pgtls %s: not built in this version yet\n", argv[0]);
    return 2;
}

int rn_cli_clients(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "pgtls %s: not built in this version yet\n", argv[0]);
    return 2;
}
