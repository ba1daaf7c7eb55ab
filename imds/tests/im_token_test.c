/* pgtls imds: what the token endpoint answers, request by request, and the
 * live server over a socket (keep-alive, errors, slow client). */
#include <arpa/inet.h>
#include <check.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "en_jwt.h"
#include "im.h"
#include "support.h"

#define Q "/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
#define RES "https://ossrdbms-aad.database.windows.net"

static char *dir;
static en_tenant *tenant;

static void setup(void)
{
    pgtls_err err;
    dir = ts_tmpdir_new("imds");
    tenant = en_tenant_open(dir, &err);
    ck_assert_msg(tenant != NULL, "%s", err.msg);
}

static void teardown(void)
{
    en_tenant_free(tenant);
    ts_tmpdir_remove(dir);
}

/* Parses and answers one request; returns the status and the JSON body. */
static int ask(const char *target, const char *extra_headers, json_t **out_body,
               char *out_extra, size_t extra_cap)
{
    char req[4096];
    im_request r;
    im_response resp;
    size_t used;
    int status;
    json_error_t je;
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 169.254.169.254\r\n%s\r\n", target,
             extra_headers);
    ck_assert_int_eq(im_http_parse(req, strlen(req), &r, &used, &status, NULL, 0), IM_PARSE_OK);
    ck_assert_int_eq(im_handle(tenant, &r, 1800000000LL, &resp), 0);
    *out_body = json_loads(resp.body, 0, &je);
    ck_assert_ptr_nonnull(*out_body);
    if (out_extra)
        snprintf(out_extra, extra_cap, "%s", resp.extra_headers);
    status = resp.status;
    im_response_cleanup(&resp);
    im_request_cleanup(&r);
    return status;
}

static const char *jstr(json_t *j, const char *k)
{
    const char *v = json_string_value(json_object_get(j, k));
    return v ? v : "(none)";
}

START_TEST(the_documented_request_gets_a_token_with_azure_fields)
{
    json_t *b;
    const char *fields[] = {"access_token", "client_id",  "expires_in", "expires_on",
                            "ext_expires_in", "not_before", "resource",   "token_type"};
    ck_assert_int_eq(ask(Q RES, "Metadata: true\r\n", &b, NULL, 0), 200);
    for (size_t i = 0; i < 8; i++)
        ck_assert_msg(json_is_string(json_object_get(b, fields[i])), "field %s", fields[i]);
    ck_assert_uint_eq(json_object_size(b), 8);
    ck_assert_str_eq(jstr(b, "token_type"), "Bearer");
    ck_assert_str_eq(jstr(b, "resource"), RES);
    ck_assert_str_eq(jstr(b, "client_id"), tenant->ids[0].client_id);
    ck_assert_str_eq(jstr(b, "expires_on"), "1800086399");
    ck_assert_str_eq(jstr(b, "expires_in"), "86399");
    json_decref(b);
    /* MSAL for Node's spelling, with a trailing slash */
    ck_assert_int_eq(ask("/metadata/identity/oauth2/token/?api-version=2018-02-01&resource=" RES,
                         "Metadata: true\r\n", &b, NULL, 0),
                     200);
    json_decref(b);
    ck_assert_int_eq(ask("/metadata/identity/oauth2/token//?api-version=2018-02-01&resource=" RES,
                         "Metadata: true\r\n", &b, NULL, 0),
                     404);
    json_decref(b);
    /* select by client_id, object_id, mi_res_id (and the msi_res_id spelling) */
    {
        const en_identity *u = &tenant->ids[1];
        char t[2048];
        snprintf(t, sizeof(t), Q RES "&client_id=%s", u->client_id);
        ck_assert_int_eq(ask(t, "Metadata: true\r\n", &b, NULL, 0), 200);
        ck_assert_str_eq(jstr(b, "client_id"), u->client_id);
        json_decref(b);
        snprintf(t, sizeof(t), Q RES "&object_id=%s", u->object_id);
        ck_assert_int_eq(ask(t, "Metadata: true\r\n", &b, NULL, 0), 200);
        ck_assert_str_eq(jstr(b, "client_id"), u->client_id);
        json_decref(b);
        snprintf(t, sizeof(t), Q RES "&msi_res_id=%s", u->mi_res_id);
        ck_assert_int_eq(ask(t, "Metadata: true\r\n", &b, NULL, 0), 200);
        ck_assert_str_eq(jstr(b, "client_id"), u->client_id);
        json_decref(b);
    }
}
END_TEST

START_TEST(azure_error_answers)
{
    json_t *b;
    char extra[128];
    ck_assert_int_eq(ask(Q RES, "", &b, NULL, 0), 400);
    ck_assert_str_eq(jstr(b, "error_description"), "Required metadata header not specified");
    json_decref(b);
    ck_assert_int_eq(ask(Q RES, "Metadata: false\r\n", &b, NULL, 0), 400);
    json_decref(b);
    ck_assert_int_eq(ask(Q RES "&client_id=00000000-0000-4000-8000-000000000000",
                         "Metadata: true\r\n", &b, NULL, 0),
                     400);
    ck_assert_str_eq(jstr(b, "error_description"), "Identity not found");
    json_decref(b);
    ck_assert_int_eq(ask(Q "https://ossrdbms.example.net", "Metadata: true\r\n", &b, NULL, 0), 400);
    ck_assert_str_eq(jstr(b, "error"), "invalid_resource");
    ck_assert_ptr_nonnull(strstr(jstr(b, "error_description"), "AADSTS500011"));
    json_decref(b);
    ck_assert_int_eq(ask("/metadata/identity/oauth2/token?resource=" RES, "Metadata: true\r\n", &b,
                         NULL, 0),
                     400);
    ck_assert_ptr_nonnull(strstr(jstr(b, "error_description"), "api-version"));
    json_decref(b);
    ck_assert_int_eq(ask("/metadata/identity/oauth2/token?api-version=2018-02-01",
                         "Metadata: true\r\n", &b, NULL, 0),
                     400);
    ck_assert_ptr_nonnull(strstr(jstr(b, "error_description"), "resource"));
    json_decref(b);
    ck_assert_int_eq(ask(Q RES "&resource=" RES, "Metadata: true\r\n", &b, NULL, 0), 400);
    json_decref(b);
    ck_assert_int_eq(ask("/metadata/instance", "Metadata: true\r\n", &b, NULL, 0), 404);
    json_decref(b);
    ck_assert_int_eq(en_tenant_set_fault(tenant, EN_FAULT_THROTTLE, NULL), 0);
    ck_assert_int_eq(ask(Q RES, "Metadata: true\r\n", &b, extra, sizeof(extra)), 429);
    ck_assert_str_eq(extra, "Retry-After: 5\r\n");
    json_decref(b);
}
END_TEST

START_TEST(the_jwks_holds_the_key_that_signs_the_tokens)
{
    json_t *b, *k;
    char path[128];
    snprintf(path, sizeof(path), "/%s/discovery/keys", tenant->tenant_id);
    ck_assert_int_eq(ask(path, "", &b, NULL, 0), 200);
    k = json_array_get(json_object_get(b, "keys"), 0);
    ck_assert_str_eq(jstr(k, "kty"), "RSA");
    ck_assert_str_eq(jstr(k, "kid"), tenant->kid);
    ck_assert_str_eq(jstr(k, "e"), "AQAB");
    json_decref(b);
}
END_TEST

static int connect_to(int port)
{
    struct sockaddr_in a;
    struct timeval tv = {10, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static size_t read_some(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = 0;
        if (strstr(buf, "\r\n\r\n") && strstr(buf, "}"))
            break;
    }
    buf[n] = 0;
    return n;
}

START_TEST(the_server_survives_bad_clients_and_keeps_serving)
{
    pgtls_err err;
    im_options o = {NULL, 0, 300, 0, -1};
    im_server *s = im_server_new(tenant, &o, &err);
    char buf[16384];
    int fd, port;
    const char *good = "GET " Q RES " HTTP/1.1\r\nHost: x\r\nMetadata: true\r\n\r\n";
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert_int_eq(im_server_start(s, &err), 0);
    port = im_server_port(s);
    /* two requests on one keep-alive connection */
    fd = connect_to(port);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(send(fd, good, strlen(good), 0), (ssize_t)strlen(good));
        read_some(fd, buf, sizeof(buf));
        ck_assert_msg(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "%.80s", buf);
    }
    close(fd);
    /* garbage: 400 and close */
    fd = connect_to(port);
    send(fd, "\x16\x03\x01garbage\r\n\r\n", 14, 0);
    read_some(fd, buf, sizeof(buf));
    ck_assert_msg(strncmp(buf, "HTTP/1.1 400 ", 13) == 0, "%.80s", buf);
    close(fd);
    /* a slow client that never finishes its head: 408 after the timeout */
    fd = connect_to(port);
    send(fd, "GET / HTTP/1.1\r\n", 16, 0);
    read_some(fd, buf, sizeof(buf));
    ck_assert_msg(strncmp(buf, "HTTP/1.1 408 ", 13) == 0, "%.80s", buf);
    close(fd);
    /* huge headers: 431 */
    fd = connect_to(port);
    {
        char *big = malloc(IM_MAX_HEADER_BYTES + 100);
        memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
        memset(big + 19, 'a', IM_MAX_HEADER_BYTES + 80);
        send(fd, big, IM_MAX_HEADER_BYTES + 99, MSG_NOSIGNAL);
        free(big);
    }
    read_some(fd, buf, sizeof(buf));
    ck_assert_msg(strncmp(buf, "HTTP/1.1 431 ", 13) == 0, "%.80s", buf);
    close(fd);
    /* still serving */
    fd = connect_to(port);
    send(fd, good, strlen(good), 0);
    read_some(fd, buf, sizeof(buf));
    ck_assert_msg(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "%.80s", buf);
    close(fd);
    ck_assert_int_ge(im_server_requests(s), 6);
    im_server_free(s);
}
END_TEST

Suite *im_token_suite(void)
{
    Suite *s = suite_create("im_token");
    TCase *tc = tcase_create("token");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, the_documented_request_gets_a_token_with_azure_fields);
    tcase_add_test(tc, azure_error_answers);
    tcase_add_test(tc, the_jwks_holds_the_key_that_signs_the_tokens);
    tcase_add_test(tc, the_server_survives_bad_clients_and_keeps_serving);
    suite_add_tcase(s, tc);
    return s;
}
