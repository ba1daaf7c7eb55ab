#include <check.h>
Suite *ms_wire_suite(void);
Suite *ms_wire_suite(void)
{
    Suite *s = suite_create("ms_wire");
    return s;
}
