/* pgtls: the main() of every Check unit-test runner.
 *
 * PGTLS_TEST_SUITES is a list X(name) X(name) given by meson; each name has a
 * `Suite *name_suite(void)` in that component's tests. */
#include <check.h>
#include <stdlib.h>

#include "support.h"

#define X(name) Suite *name##_suite(void);
PGTLS_TEST_SUITES
#undef X

int main(void)
{
    SRunner *sr = srunner_create(NULL);
    int failed;

#define X(name) srunner_add_suite(sr, name##_suite());
    PGTLS_TEST_SUITES
#undef X
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
