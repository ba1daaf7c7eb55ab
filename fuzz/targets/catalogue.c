/* pgtls fuzz target "catalogue": the CA catalogue parser (certs-gen,
 * docs/catalogue.md: `pgtls ca gen --catalogue FILE`), with its DN and date
 * sub-parsers. */
#include "../fuzz_util.h"
#include "ca_internal.h"

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
    switch (data[0] & 3) {
    case 0: {
        X509_NAME *n = ca_dn_parse(text, "CN=default", &err);
        X509_NAME_free(n);
        break;
    }
    case 1: {
        ca_when w;
        (void)ca_when_parse(text, &w);
        break;
    }
    default: {
        ca_catalogue *c = ca_catalogue_parse("fuzz.ini", text, size - 1, &err);
        ca_catalogue_free(c);
        break;
    }
    }
    free(text);
    return 0;
}
