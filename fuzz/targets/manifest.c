/* pgtls fuzz target "manifest": an adapter's adapter.json (runner,
 * docs/adapters.md), with its @SRC@/@BUILD@/@DIR@ placeholders. */
#include "../fuzz_util.h"
#include "rn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const rn_paths paths = {"/build", "/src"};
    pgtls_err err;
    char *text = fz_cstr(data, size);
    rn_manifest *m;
    if (!text)
        return 0;
    err_clear(&err);
    m = rn_manifest_parse(text, "adapter.json", "fuzz", "/src/clients/fuzz", &paths, &err);
    rn_manifest_free(m);
    {
        char *x = rn_expand_placeholders(text, &paths, "/src/clients/fuzz", &err);
        free(x);
    }
    free(text);
    return 0;
}
