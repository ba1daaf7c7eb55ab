/* pgtls: main() of the pgtls-fidelity executable (see fd_cli.c). */
#include "fd.h"

int main(int argc, char **argv)
{
    return fd_cli_main(argc, argv);
}
