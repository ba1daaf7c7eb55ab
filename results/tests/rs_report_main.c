/* pgtls-report: `pgtls report` as its own small binary, so the results
 * tests (golden files, headless Chromium) do not depend on the front binary. */
#include "rs.h"

int main(int argc, char **argv)
{
    return rs_cli_report(argc, argv);
}
