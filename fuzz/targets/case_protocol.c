/* pgtls fuzz target "case-protocol": the case line an adapter reads from the
 * runner (clients/adapter-kit, docs/case-protocol.md), one JSON object per
 * line, with every optional field looked up. */
#include "../fuzz_util.h"
#include "clients/adapter-kit/cl_adapter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const fields[] = {"sslmode", "sslrootcert", "sslcert", "sslkey",
                                         "sslnegotiation", "host", "hostaddr", "port", "user",
                                         "password", "dbname", "query", "home", NULL};
    pgtls_err err;
    cl_case c;
    char *text = fz_cstr(data, size);
    if (!text)
        return 0;
    err_clear(&err);
    memset(&c, 0, sizeof(c));
    if (cl_case_parse(text, size, &c, &err) == 0) {
        for (size_t i = 0; fields[i]; i++)
            (void)cl_case_optional(&c, fields[i]);
        (void)cl_case_home(&c);
    }
    cl_case_cleanup(&c);
    free(text);
    return 0;
}
