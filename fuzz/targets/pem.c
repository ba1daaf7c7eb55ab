/* pgtls fuzz target "pem": trust-store and chain files from users: the PEM
 * subject lister of the adapters (a root.crt, a bundle) and the chain cloner
 * (`pgtls ca clone FILE`: a captured server chain). */
#include <stdio.h>

#include "../fuzz_util.h"
#include "ca_internal.h"
#include "clients/adapter-kit/cl_adapter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    json_t *subjects = cl_pem_subjects((const char *)data, size);
    json_decref(subjects);
    if (fz_write_temp("chain.pem", data, size, path, sizeof(path)) == 0) {
        pgtls_err err;
        FILE *devnull = fopen("/dev/null", "w");
        err_clear(&err);
        if (devnull) {
            (void)ca_clone_chain(path, "fuzz", devnull, &err);
            fclose(devnull);
        }
    }
    return 0;
}
