/* pgtls fuzz target "matrix": a matrix.json given to `pgtls report
 * render/merge/diff` (results/, docs/matrix-schema.md). */
#include <jansson.h>

#include "../fuzz_util.h"
#include "rs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pgtls_err err;
    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    if (!doc)
        return 0;
    err_clear(&err);
    {
        rs_matrix *m = rs_matrix_from_json(doc, "fuzz.json", &err);
        rs_matrix_free(m);
    }
    json_decref(doc);
    return 0;
}
