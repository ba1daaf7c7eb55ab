/* pgtls fuzz target "client-output": what the C adapters read from the
 * programs they drive: psql's stdout (\conninfo, the marker, the row) and
 * version line, `openssl s_client`'s stdout and stderr (chain, verify codes)
 * and `openssl version`. Input: stdout NUL stderr. */
#include "../fuzz_util.h"
#include "clients/openssl-s_client/sclient_parse.h"
#include "clients/psql/psql_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *out, *err, *v = NULL, *lib = NULL;
    psql_output po;
    sclient_output so;
    if (fz_split2(data, size, &out, &err) != 0)
        return 0;
    memset(&po, 0, sizeof(po));
    psql_parse_output(out, &po);
    psql_output_cleanup(&po);
    free(psql_parse_version(out));
    free(psql_trace_find(out, "libssl"));
    free(psql_conninfo_quote(out));
    memset(&so, 0, sizeof(so));
    sclient_parse_output(out, err, &so);
    sclient_output_cleanup(&so);
    sclient_parse_version(out, &v, &lib);
    free(v);
    free(lib);
    free(out);
    free(err);
    return 0;
}
