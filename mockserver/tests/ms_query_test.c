#include <check.h>
Suite *ms_query_suite(void);
Suite *ms_query_suite(void)
{
    Suite *s = suite_create("ms_query");
    return s;
}
