/* pgtls fuzz target "suite": the suite parser and the deviation-file parser
 * (suites/, docs/suites.md), hand-written files a user passes to pgtls run.
 * The first byte picks the parser; every input parses or gives one error. */
#include "../fuzz_util.h"
#include "st.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pgtls_err err;
    char *text;
    if (size == 0)
        return 0;
    text = fz_cstr(data + 1, size - 1);
    if (!text)
        return 0;
    err_clear(&err);
    if (data[0] & 1) {
        st_deviations *d = st_deviations_parse(text, "fuzz.ini", &err);
        st_deviations_free(d);
    } else {
        st_suite *s = st_suite_parse(text, "fuzz.suite", &err);
        st_suite_free(s);
    }
    free(text);
    return 0;
}
