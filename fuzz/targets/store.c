/* pgtls fuzz target "store": a customer's trust store or captured chain, as
 * `pgtls ca inspect` and `pgtls ca clone` read it (certs-gen/store_read.c):
 * PEM bundles, s_client -showcerts text, DER, PKCS#7 (PEM or DER), PKCS#12
 * and JKS. First byte: bit 0 gives the password "changeit" (else none). */
#include <openssl/x509.h>

#include "../fuzz_util.h"
#include "ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512], fmt[128];
    pgtls_err err;
    STACK_OF(X509) *sk;
    if (size == 0 || fz_write_temp("store", data + 1, size - 1, path, sizeof(path)) != 0)
        return 0;
    err_clear(&err);
    sk = ca_store_read(path, (data[0] & 1) ? "changeit" : NULL, fmt, sizeof(fmt), &err);
    sk_X509_pop_free(sk, X509_free);
    return 0;
}
