/* pgtls-adapter-openssl-s_client: the case protocol (docs/case-protocol.md)
 * over `openssl s_client -starttls postgres`.
 *
 * s_client cannot log in, so its cases stop at TLS: "connected" means the
 * TLS handshake, and the verification libpq would have asked for, succeeded;
 * every result carries notes "tls-only". Cases that need a plaintext
 * connection (disable, allow, prefer's fallback) or a login
 * (channel_binding=require) are answered `unsupported`. The command line is
 * built in sclient_parse.c; docs/adapters.md has the mapping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/adapter-kit/cl_adapter.h"
#include "common/fs.h"
#include "sclient_parse.h"

typedef struct sclient_ctx {
    char *openssl; /* the openssl program ($PGTLS_OPENSSL or from PATH) */
    char *version;
    char *library;
} sclient_ctx;

static void sclient_ctx_init(sclient_ctx *ctx)
{
    const char *env = getenv("PGTLS_OPENSSL");
    cl_child_result r;
    pgtls_err err;

    memset(ctx, 0, sizeof(*ctx));
    ctx->openssl = strdup(env != NULL && *env != '\0' ? env : "openssl");
    char *argv[] = {ctx->openssl, "version", NULL};
    if (cl_child_run(argv, NULL, 10000, &r, &err) == 0) {
        if (r.exited && r.exit_status == 0)
            sclient_parse_version(r.out, &ctx->version, &ctx->library);
        cl_child_result_cleanup(&r);
    }
}

static json_t *sclient_hello(void *vctx)
{
    sclient_ctx *ctx = vctx;
    char *build = str_printf("openssl s_client %s", ctx->version ? ctx->version : "unknown");
    json_t *features = json_array();
    static const char *const names[] = {
        "sslnegotiation",           "channel_binding", "ssl_min_protocol_version",
        "ssl_max_protocol_version", "sslsni",          NULL};
    for (int i = 0; names[i] != NULL; i++)
        json_array_append_new(features, json_string(names[i]));

    json_t *hello = json_object();
    json_object_set_new(hello, "protocol", json_integer(CL_PROTOCOL_VERSION));
    json_object_set_new(hello, "client", json_string("openssl-s_client"));
    cl_json_set_str(hello, "version", ctx->version);
    json_object_set_new(hello, "libpq", json_null());
    cl_json_set_str(hello, "tls_library", ctx->library);
    json_object_set_new(hello, "runtime", json_null());
    cl_json_set_str(hello, "build", build);
    json_object_set_new(hello, "features", features);
    json_t *extra = json_object();
    cl_json_set_str(extra, "openssl_path", ctx->openssl);
    json_object_set_new(extra, "tls_only", json_true());
    json_object_set_new(hello, "extra", extra);
    free(build);
    return hello;
}

static char *sclient_unsupported_reason(void *vctx, const char *field)
{
    return str_printf("openssl s_client has no equivalent of \"%s\"", field);
}

static void sclient_run(void *vctx, const cl_case *c, json_t *result)
{
    sclient_ctx *ctx = vctx;
    char *unsupported = NULL;
    int verify = 0;
    cl_child_result r = {0};
    sclient_output o = {0};
    pgtls_err err;
    char **argv = sclient_build_argv(ctx->openssl, c, cl_case_home(c), &verify, &unsupported);

    err_clear(&err);
    cl_json_set_str(result, "notes", "tls-only");
    if (argv == NULL) {
        cl_json_set_str(result, "unsupported",
                        unsupported ? unsupported : "adapter: out of memory");
        goto out;
    }
    json_t *argv_json = json_array();
    for (int i = 0; argv[i] != NULL; i++)
        json_array_append_new(argv_json, cl_json_str(argv[i]));
    cl_result_extra(result, "argv", argv_json);

    if (cl_child_run(argv, NULL, c->timeout_ms, &r, &err) < 0) {
        char *msg = str_printf("adapter: %s", err.msg);
        cl_json_set_str(result, "error", msg);
        free(msg);
        goto out;
    }
    cl_result_extra(result, "exit_status", r.exited ? json_integer(r.exit_status) : json_null());
    sclient_parse_output(r.out, r.err, &o);
    /* What the server sent, even when verification then failed: s_client
     * prints it before the handshake is over. */
    json_object_set_new(result, "chain", cl_pem_subjects(r.out, r.out_len));
    cl_result_extra(result, "verified", json_boolean(verify));
    cl_result_extra(result, "verify_return_code",
                    o.verify_code >= 0 ? json_integer(o.verify_code) : json_null());
    cl_result_extra(result, "verify_return_text", cl_json_str(o.verify_text));
    cl_result_extra(result, "verify_errors", json_incref(o.verify_errors));

    if (r.timed_out) {
        char *msg = str_printf("adapter: timeout: openssl s_client did not finish within %ld ms; "
                               "killed",
                               c->timeout_ms);
        cl_json_set_str(result, "error", msg);
        json_object_set_new(result, "error_code", json_string("timeout"));
        cl_result_extra(result, "stderr", cl_json_str(r.err));
        free(msg);
        goto out;
    }
    int ok = r.exited && r.exit_status == 0 && o.cipher != NULL && (!verify || o.verify_code == 0);
    if (ok) {
        json_object_set_new(result, "connected", json_true());
        json_object_set_new(result, "tls", json_true());
        cl_json_set_str(result, "tls_version", o.tls_version);
        cl_json_set_str(result, "cipher", o.cipher);
        goto out;
    }
    if (r.err_len > 0) {
        cl_json_set_str(result, "error", r.err);
    } else {
        char *msg =
            r.signaled ? str_printf("adapter: openssl s_client was killed by signal %d", r.signaled)
                       : str_printf("adapter: openssl s_client exited with status %d "
                                    "and no message",
                                    r.exit_status);
        cl_json_set_str(result, "error", msg);
        free(msg);
    }
    if (verify && o.verify_code > 0) {
        char *code = str_printf("verify-error:%d", o.verify_code);
        cl_json_set_str(result, "error_code", code);
        free(code);
    }
out:
    sclient_output_cleanup(&o);
    cl_child_result_cleanup(&r);
    sclient_argv_free(argv);
    free(unsupported);
}

int main(int argc, char **argv)
{
    sclient_ctx ctx;
    sclient_ctx_init(&ctx);
    cl_adapter adapter = {
        .name = "openssl-s_client",
        .ctx = &ctx,
        .hello = sclient_hello,
        .unsupported_reason = sclient_unsupported_reason,
        .run = sclient_run,
    };
    int status = cl_adapter_main(argc, argv, &adapter);
    free(ctx.openssl);
    free(ctx.version);
    free(ctx.library);
    return status;
}
