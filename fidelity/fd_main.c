/* pgtls: main() of the pgtls-fidelity executable (the same commands as
 * `pgtls fidelity`). */
#include "fd.h"

int main(int argc, char **argv)
{
    return fd_dispatch_main(argc, argv);
}
