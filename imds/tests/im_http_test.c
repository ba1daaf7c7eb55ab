/* pgtls imds: the HTTP request parser, good requests and a negative case for
 * every rule and limit. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "im_http.h"

#define TOKEN_REQ                                                                                  \
    "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fossrdbms-"  \
    "aad.database.windows.net HTTP/1.1\r\nHost: 127.0.0.1:9\r\nMetadata: true\r\n"                 \
    "User-Agent: curl/7.88.1\r\n\r\n"

START_TEST(a_token_request_parses_with_decoded_parameters)
{
    im_request r;
    size_t used = 0;
    int status = 0;
    char why[200];
    const char *req = TOKEN_REQ "GET /next";
    ck_assert_int_eq(im_http_parse(req, strlen(req), &r, &used, &status, why, sizeof(why)),
                     IM_PARSE_OK);
    ck_assert_uint_eq(used, strlen(TOKEN_REQ));
    ck_assert_str_eq(r.method, "GET");
    ck_assert_str_eq(r.path, "/metadata/identity/oauth2/token");
    ck_assert_str_eq(im_param(&r, "resource", NULL), "https://ossrdbms-aad.database.windows.net");
    ck_assert_str_eq(im_param(&r, "api-version", NULL), "2018-02-01");
    ck_assert_str_eq(im_header(&r, "metadata", NULL), "true");
    ck_assert_int_eq(r.keep_alive, 1);
    im_request_cleanup(&r);
}
END_TEST

START_TEST(absolute_form_targets_and_http_1_0_are_accepted)
{
    im_request r;
    size_t used;
    int status;
    const char *req = "GET http://169.254.169.254/metadata/identity/oauth2/token?a=b HTTP/1.0\r\n"
                      "Metadata: true\r\n\r\n";
    ck_assert_int_eq(im_http_parse(req, strlen(req), &r, &used, &status, NULL, 0), IM_PARSE_OK);
    ck_assert_str_eq(r.path, "/metadata/identity/oauth2/token");
    ck_assert_int_eq(r.keep_alive, 0);
    im_request_cleanup(&r);
}
END_TEST

START_TEST(every_prefix_of_a_request_is_incomplete)
{
    const char *req = TOKEN_REQ;
    for (size_t n = 0; n < strlen(req); n++) {
        im_request r;
        size_t used;
        int status;
        ck_assert_msg(im_http_parse(req, n, &r, &used, &status, NULL, 0) == IM_PARSE_INCOMPLETE,
                      "prefix %zu", n);
    }
}
END_TEST

START_TEST(malformed_requests_get_their_status)
{
    static const struct {
        const char *req;
        int status;
    } rows[] = {
        {"GET /x HTTP/1.1\nHost: a\r\n\r\n", 400},             /* bare LF */
        {"GET /x HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400},        /* bare CR */
        {"GET  /x HTTP/1.1\r\nHost: a\r\n\r\n", 400},          /* two spaces */
        {"GET /x\r\nHost: a\r\n\r\n", 400},                    /* no version */
        {"GET /x HTTP/1.1 extra\r\nHost: a\r\n\r\n", 400},
        {"G(T /x HTTP/1.1\r\nHost: a\r\n\r\n", 400},           /* bad method */
        {"GET /x HTTP/2.0\r\nHost: a\r\n\r\n", 505},
        {"GET /x HTTQ/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET x HTTP/1.1\r\nHost: a\r\n\r\n", 400},            /* not origin-form */
        {"GET /x%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400},        /* bad escape */
        {"GET /x?a=%0a HTTP/1.1\r\nHost: a\r\n\r\n", 400},     /* control byte */
        {"GET /x?a=%4 HTTP/1.1\r\nHost: a\r\n\r\n", 400},      /* cut escape */
        {"GET /x HTTP/1.1\r\n\r\n", 400},                      /* no Host */
        {"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        {"GET /x HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400},
        {"GET /x HTTP/1.1\r\nHost: a\r\nNo colon\r\n\r\n", 400},
        {"GET /x HTTP/1.1\r\nHost: a\r\nBad name: v\r\n\r\n", 400},
        {"GET /x HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400},
        {"GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", 400},
        {"GET /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
        {"VERYLONGMETHODNAME /x HTTP/1.1\r\nHost: a\r\n\r\n", 501},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        im_request r;
        size_t used;
        int status = 0;
        char why[200] = "";
        im_parse_status ps =
            im_http_parse(rows[i].req, strlen(rows[i].req), &r, &used, &status, why, sizeof(why));
        ck_assert_msg(ps == IM_PARSE_ERROR, "row %zu parsed", i);
        ck_assert_msg(status == rows[i].status, "row %zu: status %d (%s)", i, status, why);
        ck_assert_msg(why[0], "row %zu has no reason", i);
    }
}
END_TEST

START_TEST(limits_give_414_and_431)
{
    size_t n = IM_MAX_HEADER_BYTES + 64;
    char *big = malloc(n + 1);
    im_request r;
    size_t used;
    int status = 0;
    /* a request line over the limit, not finished yet: 414 at once */
    memcpy(big, "GET /", 5);
    memset(big + 5, 'a', n - 5);
    ck_assert_int_eq(im_http_parse(big, IM_MAX_REQUEST_LINE + 10, &r, &used, &status, NULL, 0),
                     IM_PARSE_ERROR);
    ck_assert_int_eq(status, 414);
    /* headers that never end: 431 once the head limit is reached */
    snprintf(big, n, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
    memset(big + strlen(big), 'b', n - strlen(big));
    ck_assert_int_eq(im_http_parse(big, IM_MAX_HEADER_BYTES, &r, &used, &status, NULL, 0),
                     IM_PARSE_ERROR);
    ck_assert_int_eq(status, 431);
    free(big);
    /* too many header fields */
    {
        char many[8192];
        size_t o = (size_t)snprintf(many, sizeof(many), "GET / HTTP/1.1\r\nHost: a\r\n");
        for (int i = 0; i < IM_MAX_HEADERS + 1; i++)
            o += (size_t)snprintf(many + o, sizeof(many) - o, "X%d: y\r\n", i);
        snprintf(many + o, sizeof(many) - o, "\r\n");
        ck_assert_int_eq(im_http_parse(many, strlen(many), &r, &used, &status, NULL, 0),
                         IM_PARSE_ERROR);
        ck_assert_int_eq(status, 431);
    }
    /* too many query parameters */
    {
        char q[4096];
        size_t o = (size_t)snprintf(q, sizeof(q), "GET /?");
        for (int i = 0; i < IM_MAX_PARAMS + 1; i++)
            o += (size_t)snprintf(q + o, sizeof(q) - o, "p%d=1&", i);
        snprintf(q + o, sizeof(q) - o, " HTTP/1.1\r\nHost: a\r\n\r\n");
        ck_assert_int_eq(im_http_parse(q, strlen(q), &r, &used, &status, NULL, 0),
                         IM_PARSE_ERROR);
        ck_assert_int_eq(status, 400);
    }
}
END_TEST

START_TEST(responses_carry_length_and_connection)
{
    size_t len;
    char *r = im_http_response(429, "application/json", "Retry-After: 5\r\n", "{}", 0, &len);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(len, strlen(r));
    ck_assert_ptr_nonnull(strstr(r, "HTTP/1.1 429 Too Many Requests\r\n"));
    ck_assert_ptr_nonnull(strstr(r, "Content-Length: 2\r\n"));
    ck_assert_ptr_nonnull(strstr(r, "Connection: close\r\n"));
    ck_assert_ptr_nonnull(strstr(r, "Retry-After: 5\r\n\r\n{}"));
    free(r);
}
END_TEST

Suite *im_http_suite(void)
{
    Suite *s = suite_create("im_http");
    TCase *tc = tcase_create("parser");
    tcase_add_test(tc, a_token_request_parses_with_decoded_parameters);
    tcase_add_test(tc, absolute_form_targets_and_http_1_0_are_accepted);
    tcase_add_test(tc, every_prefix_of_a_request_is_incomplete);
    tcase_add_test(tc, malformed_requests_get_their_status);
    tcase_add_test(tc, limits_give_414_and_431);
    tcase_add_test(tc, responses_carry_length_and_connection);
    suite_add_tcase(s, tc);
    return s;
}
