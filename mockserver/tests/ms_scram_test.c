#include <check.h>
Suite *ms_scram_suite(void);
Suite *ms_scram_suite(void)
{
    Suite *s = suite_create("ms_scram");
    return s;
}
