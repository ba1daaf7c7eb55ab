/* pgtls: placeholder until this component lands; it says so and exits 2. */
#include <stdio.h>

#include "commands.h"

int rs_cli_report(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "pgtls %s: not built in this version yet\n", argv[0]);
    return 2;
}
