/* pgtls: placeholder until this component lands; it says so and exits 2. */
#include <stdio.h>

#include "commands.h"

int ca_cli_main(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "pgtls %s: not built in this version yet\n", argv[0]);
    return 2;
}
