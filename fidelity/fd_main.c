/* pgtls: main() of the pgtls-fidelity executable: `compare` (fd_suite.c) and
 * the harness commands of fd_cli.c. */
#include <string.h>

#include "fd.h"

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "compare") == 0)
        return fd_compare_main(argc - 1, argv + 1);
    return fd_cli_main(argc, argv);
}
