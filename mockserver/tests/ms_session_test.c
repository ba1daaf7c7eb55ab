#include <check.h>
Suite *ms_session_suite(void);
Suite *ms_session_suite(void)
{
    Suite *s = suite_create("ms_session");
    return s;
}
