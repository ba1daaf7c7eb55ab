/* pgtls fuzz target "imds-http": the instance-metadata service's HTTP/1.1
 * request parser (imds/im_http.c): pipelined request heads, headers and
 * percent-decoded query parameters, as a managed-identity client sends them. */
#include "../fuzz_util.h"
#include "im_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    size_t left = size;
    for (int round = 0; round < 8 && left > 0; round++) {
        im_request req;
        size_t used = 0;
        int status = 0, count = 0;
        char reason[256];
        memset(&req, 0, sizeof(req));
        im_parse_status st = im_http_parse(p, left, &req, &used, &status, reason, sizeof(reason));
        if (st != IM_PARSE_OK)
            break;
        (void)im_header(&req, "Metadata", &count);
        (void)im_header(&req, "Host", NULL);
        (void)im_param(&req, "resource", &count);
        (void)im_param(&req, "client_id", NULL);
        (void)im_param(&req, "api-version", NULL);
        im_request_cleanup(&req);
        if (used == 0 || used > left)
            break;
        p += used;
        left -= used;
    }
    return 0;
}
