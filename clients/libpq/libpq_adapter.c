/* pgtls-adapter-libpq: the case protocol (docs/case-protocol.md) over libpq.
 *
 * Each case becomes one PQconnectStartParams/PQconnectPoll attempt (the state
 * machine PQconnectdbParams runs internally, driven here so that timeout_ms is
 * a hard deadline for the whole attempt, query included) with every case
 * field as a connection keyword. What libpq reports is passed on verbatim:
 * PQerrorMessage, PQsslInUse, PQsslAttribute, and the certificates OpenSSL
 * received (PQsslStruct gives the SSL *).
 *
 * Keywords are checked against PQconndefaults() of the libpq loaded at run
 * time, so the same binary answers `unsupported` for sslnegotiation on libpq
 * 15 and honours it on libpq 17.
 */
#include <dlfcn.h>
#include <errno.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/adapter-kit/cl_adapter.h"
#include "common/fs.h"

#define MAX_PARAMS 64

typedef struct libpq_ctx {
    PQconninfoOption *defaults; /* keywords the loaded libpq knows */
    int version;                /* PQlibVersion() */
} libpq_ctx;

static int knows_keyword(const libpq_ctx *ctx, const char *keyword)
{
    for (PQconninfoOption *o = ctx->defaults; o != NULL && o->keyword != NULL; o++)
        if (strcmp(o->keyword, keyword) == 0)
            return 1;
    return 0;
}

/* "15.18" from 150018; "9.6.24" from 90624 (the pre-10 numbering). */
static char *version_text(int v)
{
    if (v >= 100000)
        return str_printf("%d.%d", v / 10000, v % 10000);
    return str_printf("%d.%d.%d", v / 10000, (v / 100) % 100, v % 100);
}

/* "OpenSSL 3.0.19" from "OpenSSL 3.0.19 27 Jan 2026": name and version only. */
static char *short_tls_name(const char *full)
{
    const char *sp = strchr(full, ' ');
    if (sp != NULL)
        sp = strchr(sp + 1, ' ');
    return sp != NULL ? strndup(full, (size_t)(sp - full)) : strdup(full);
}

static json_t *libpq_hello(void *vctx)
{
    libpq_ctx *ctx = vctx;
    char *ver = version_text(ctx->version);
    char *libpq_num = str_printf("%d", ctx->version);
    /* The TLS library libpq was built for (PQsslAttribute with a NULL conn,
     * PG 13+) and the one actually loaded in this process: OpenSSL_version
     * comes from the libcrypto the dynamic loader picked, which is the one
     * libpq uses too (one libcrypto per process). */
    const char *built_for = PQsslAttribute(NULL, "library");
    const char *loaded = OpenSSL_version(OPENSSL_VERSION);
    char *tls_short = short_tls_name(loaded);
    char *build = str_printf("libpq %s (%s)", ver, tls_short);
    json_t *features = json_array();
    static const char *const keyword_features[] = {
        "sslnegotiation",           "channel_binding", "ssl_min_protocol_version",
        "ssl_max_protocol_version", "sslsni",          NULL};
    for (int i = 0; keyword_features[i] != NULL; i++)
        if (knows_keyword(ctx, keyword_features[i]))
            json_array_append_new(features, json_string(keyword_features[i]));
    json_array_append_new(features, json_string("connect_options"));
    /* docs/surfaces.md: libpq reads every one of them itself. */
    for (int i = 0; cl_surfaces[i] != NULL; i++) {
        char *f = str_printf("surface:%s", cl_surfaces[i]);
        json_array_append_new(features, json_string(f));
        free(f);
    }
    json_array_append_new(features, json_string("literal"));

    Dl_info info;
    const char *libpq_path = NULL;
    /* ISO C has no function-to-object pointer cast; POSIX guarantees the
     * representations match, so copy the bits for dladdr. */
    int (*fn)(void) = PQlibVersion;
    void *addr;
    memcpy(&addr, &fn, sizeof(addr));
    if (dladdr(addr, &info) != 0)
        libpq_path = info.dli_fname;

    json_t *hello = json_object();
    json_object_set_new(hello, "protocol", json_integer(CL_PROTOCOL_VERSION));
    json_object_set_new(hello, "client", json_string("libpq"));
    cl_json_set_str(hello, "version", ver);
    cl_json_set_str(hello, "libpq", libpq_num);
    cl_json_set_str(hello, "tls_library", loaded);
    json_object_set_new(hello, "runtime", json_null());
    cl_json_set_str(hello, "build", build);
    json_object_set_new(hello, "features", features);
    json_t *extra = json_object();
    cl_json_set_str(extra, "libpq_path", libpq_path);
    cl_json_set_str(extra, "libpq_tls_library", built_for);
    json_object_set_new(hello, "extra", extra);
    free(ver);
    free(libpq_num);
    free(tls_short);
    free(build);
    return hello;
}

static char *libpq_unsupported_reason(void *vctx, const char *field)
{
    libpq_ctx *ctx = vctx;
    if (strcmp(field, "surface:npgsql") == 0)
        return strdup("libpq reads keyword=value pairs separated by blanks or a postgresql:// URL; "
                      "it has no parser for the ADO.NET form (Key=Value;...)");
    char *ver = version_text(ctx->version);
    char *reason = str_printf("libpq %s does not know the connection option \"%s\" "
                              "(not in PQconndefaults())",
                              ver, field);
    free(ver);
    return reason;
}

typedef struct params {
    const char *keywords[MAX_PARAMS + 1];
    const char *values[MAX_PARAMS + 1];
    char *owned[MAX_PARAMS]; /* values we formatted */
    int n;
    int n_owned;
} params;

static void params_add(params *p, const char *k, const char *v)
{
    if (v == NULL || p->n >= MAX_PARAMS)
        return;
    p->keywords[p->n] = k;
    p->values[p->n] = v;
    p->n++;
}

static void params_add_owned(params *p, const char *k, char *v)
{
    if (v == NULL || p->n_owned >= MAX_PARAMS) {
        free(v);
        return;
    }
    p->owned[p->n_owned++] = v;
    params_add(p, k, v);
}

static void params_cleanup(params *p)
{
    for (int i = 0; i < p->n_owned; i++)
        free(p->owned[i]);
}

/* Waits until fd is ready for what libpq asked, or the deadline passes.
 * Returns 1 ready, 0 timed out, -1 poll error. */
static int wait_socket(int fd, int for_write, long long deadline)
{
    for (;;) {
        long long left = deadline - time_now_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = for_write ? POLLOUT : POLLIN};
        int rc = poll(&pfd, 1, (int)left);
        if (rc > 0)
            return 1;
        if (rc == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

static void set_timeout_error(json_t *result, const char *what, long timeout_ms,
                              const char *libpq_text)
{
    char *msg = str_printf("adapter: timeout: libpq did not %s within %ld ms%s%s", what, timeout_ms,
                           libpq_text && *libpq_text ? "; libpq said: " : "",
                           libpq_text && *libpq_text ? libpq_text : "");
    cl_json_set_str(result, "error", msg);
    json_object_set_new(result, "error_code", json_string("timeout"));
    free(msg);
}

/* Reports what OpenSSL saw on an established TLS connection. */
static void report_tls(PGconn *conn, json_t *result)
{
    cl_json_set_str(result, "tls_version", PQsslAttribute(conn, "protocol"));
    cl_json_set_str(result, "cipher", PQsslAttribute(conn, "cipher"));
    SSL *ssl = PQsslStruct(conn, "OpenSSL");
    if (ssl == NULL)
        return;
    /* On the client side the peer chain includes the leaf (SSL_get_peer_cert_chain
     * man page), in the order the server sent it. */
    json_object_set_new(result, "chain", cl_subjects_json(SSL_get_peer_cert_chain(ssl)));
    /* libpq asks for SSL_VERIFY_PEER only when a root file was loaded
     * (fe-secure-openssl.c initialize_SSL); then the verified chain is the path
     * OpenSSL built, anchor last. */
    int verified = (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) != 0;
    cl_result_extra(result, "verified", json_boolean(verified));
    if (verified && SSL_get_verify_result(ssl) == X509_V_OK)
        cl_result_extra(result, "verified_chain", cl_subjects_json(SSL_get0_verified_chain(ssl)));
}

/* Runs the case's query; fills query_result or error/error_code. */
static void run_query(PGconn *conn, const cl_case *c, long long deadline, json_t *result)
{
    if (!PQsendQuery(conn, c->query)) {
        cl_json_set_str(result, "error", PQerrorMessage(conn));
        return;
    }
    while (PQisBusy(conn)) {
        int w = wait_socket(PQsocket(conn), 0, deadline);
        if (w == 0) {
            set_timeout_error(result, "finish the query", c->timeout_ms, NULL);
            return;
        }
        if (w < 0 || !PQconsumeInput(conn))
            break;
    }
    int first = 1;
    PGresult *res;
    while ((res = PQgetResult(conn)) != NULL) {
        if (first) {
            ExecStatusType st = PQresultStatus(res);
            if (st == PGRES_TUPLES_OK || st == PGRES_SINGLE_TUPLE) {
                if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
                    cl_json_set_str(result, "query_result", PQgetvalue(res, 0, 0));
            } else if (st != PGRES_COMMAND_OK && st != PGRES_EMPTY_QUERY) {
                cl_json_set_str(result, "error", PQresultErrorMessage(res));
                cl_json_set_str(result, "error_code", PQresultErrorField(res, PG_DIAG_SQLSTATE));
            }
            first = 0;
        }
        PQclear(res);
        if (PQstatus(conn) == CONNECTION_BAD)
            break;
    }
    if (first && PQstatus(conn) == CONNECTION_BAD)
        cl_json_set_str(result, "error", PQerrorMessage(conn));
}

static void libpq_run(void *vctx, const cl_case *c, json_t *result)
{
    libpq_ctx *ctx = vctx;
    params p = {0}, lit = {0};
    cl_surface_plan plan = {0};
    PGconn *conn = NULL;
    long long deadline = time_now_ms() + c->timeout_ms;

    params_add(&p, "host", c->host);
    params_add(&p, "hostaddr", c->hostaddr);
    params_add_owned(&p, "port", str_printf("%d", c->port));
    params_add(&p, "sslmode", c->sslmode);
    params_add(&p, "sslrootcert", c->sslrootcert);
    params_add(&p, "user", c->user);
    params_add(&p, "password", c->password);
    params_add(&p, "dbname", c->dbname);
    /* connect_timeout is whole seconds (libpq turns 1 into 2); the adapter's
     * own deadline below is the exact one. */
    params_add_owned(&p, "connect_timeout", str_printf("%ld", (c->timeout_ms + 999) / 1000));
    params_add(&p, "application_name", c->application_name);
    params_add(&p, "sslnegotiation", c->sslnegotiation);
    params_add(&p, "channel_binding", c->channel_binding);
    params_add(&p, "ssl_min_protocol_version", c->ssl_min_protocol_version);
    params_add(&p, "ssl_max_protocol_version", c->ssl_max_protocol_version);
    params_add(&p, "sslsni", c->sslsni);
    if (c->connect_options != NULL) {
        /* Extra conninfo keywords (gssencmode, sslcert, ...): strings, numbers
         * and booleans are passed as text. */
        const char *k;
        json_t *v;
        json_object_foreach(c->connect_options, k, v)
        {
            if (json_is_string(v))
                params_add(&p, k, json_string_value(v));
            else if (json_is_integer(v))
                params_add_owned(&p, k, str_printf("%lld", (long long)json_integer_value(v)));
            else if (json_is_boolean(v))
                params_add(&p, k, json_is_true(v) ? "1" : "0");
            else {
                char *msg = str_printf("connect_options.%s: libpq options are strings", k);
                cl_json_set_str(result, "unsupported", msg);
                free(msg);
                goto out;
            }
        }
    }
    for (int i = 0; i < p.n; i++) {
        if (!knows_keyword(ctx, p.keywords[i])) {
            char *reason = libpq_unsupported_reason(ctx, p.keywords[i]);
            cl_json_set_str(result, "unsupported", reason);
            free(reason);
            goto out;
        }
    }
    p.keywords[p.n] = NULL;
    p.values[p.n] = NULL;

    if (c->literal != NULL) {
        /* A source page's string as written (docs/surfaces.md): libpq's own
         * parser reads it as an expanded dbname; only the mock's address,
         * port, the password and the connect timeout follow it (later
         * keywords win over the expanded ones, and the string names none
         * of them). */
        lit.keywords[lit.n] = "dbname";
        lit.values[lit.n++] = c->literal;
        for (int i = 0; i < p.n; i++)
            if (strcmp(p.keywords[i], "hostaddr") == 0 || strcmp(p.keywords[i], "port") == 0 ||
                strcmp(p.keywords[i], "password") == 0 ||
                strcmp(p.keywords[i], "connect_timeout") == 0) {
                lit.keywords[lit.n] = p.keywords[i];
                lit.values[lit.n++] = p.values[i];
            }
        lit.keywords[lit.n] = NULL;
        lit.values[lit.n] = NULL;
        conn = PQconnectStartParams(lit.keywords, lit.values, 1);
    } else if (c->surface != NULL) {
        /* docs/surfaces.md: the same keywords as a string, a URL, PG*
         * variables or keyword arrays. */
        cl_settings all = {0};
        char *why = NULL;
        for (int i = 0; i < p.n; i++) {
            all.keywords[all.n] = p.keywords[i];
            all.values[all.n++] = p.values[i];
        }
        if (cl_surface_split(c->surface, &all, &plan, &why) < 0) {
            cl_json_set_str(result, "unsupported", why);
            free(why);
            goto out;
        }
        if (plan.string) {
            lit.keywords[lit.n] = "dbname";
            lit.values[lit.n++] = plan.string;
        }
        for (int i = 0; i < plan.params.n; i++) {
            lit.keywords[lit.n] = plan.params.keywords[i];
            lit.values[lit.n++] = plan.params.values[i];
        }
        lit.keywords[lit.n] = NULL;
        lit.values[lit.n] = NULL;
        for (int i = 0; i < plan.env.n; i++)
            setenv(plan.env.keywords[i], plan.env.values[i], 1);
        cl_result_extra(result, "surface_string", cl_json_str(plan.string));
        conn = PQconnectStartParams(lit.keywords, lit.values, plan.string != NULL);
    } else {
        /* expand_dbname=0: dbname is a name, never a conninfo string. */
        conn = PQconnectStartParams(p.keywords, p.values, 0);
    }
    if (conn == NULL) {
        cl_json_set_str(result, "error", "adapter: libpq is out of memory");
        goto out;
    }
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    if (PQstatus(conn) == CONNECTION_BAD)
        st = PGRES_POLLING_FAILED;
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        int w = wait_socket(PQsocket(conn), st == PGRES_POLLING_WRITING, deadline);
        if (w == 0) {
            set_timeout_error(result, "connect", c->timeout_ms, PQerrorMessage(conn));
            goto out;
        }
        st = PQconnectPoll(conn);
    }
    if (st == PGRES_POLLING_FAILED || PQstatus(conn) != CONNECTION_OK) {
        cl_json_set_str(result, "error", PQerrorMessage(conn));
        goto out;
    }

    json_object_set_new(result, "connected", json_true());
    /* With sslmode=prefer (or allow) libpq may have ended on a plaintext
     * connection after a failed TLS attempt: report what the final one is. */
    int tls = PQsslInUse(conn);
    json_object_set_new(result, "tls", json_boolean(tls));
    if (tls)
        report_tls(conn, result);
    run_query(conn, c, deadline, result);
out:
    PQfinish(conn);
    params_cleanup(&p);
    cl_surface_plan_cleanup(&plan);
}

int main(int argc, char **argv)
{
    libpq_ctx ctx = {.defaults = PQconndefaults(), .version = PQlibVersion()};
    cl_adapter adapter = {
        .name = "libpq",
        .ctx = &ctx,
        .hello = libpq_hello,
        .unsupported_reason = libpq_unsupported_reason,
        .run = libpq_run,
    };
    if (ctx.defaults == NULL) {
        fprintf(stderr, "pgtls-adapter-libpq: PQconndefaults() failed (out of memory)\n");
        return 2;
    }
    int status = cl_adapter_main(argc, argv, &adapter);
    PQconninfoFree(ctx.defaults);
    return status;
}
