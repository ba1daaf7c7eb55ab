/* pgtls-adapter-psql: the case protocol (docs/case-protocol.md) over the real
 * psql program.
 *
 * Each case runs
 *   psql -X -A -t -w -v ON_ERROR_STOP=1 -F <US> -P null=<marker> -d CONNINFO
 *        -c '\conninfo' -c '\echo MARKER' -c QUERY
 * from an argv (no shell), with the case environment plus PGPASSWORD, stdin
 * from /dev/null and a hard kill at timeout_ms. \conninfo is psql's own
 * client-side report (libpq's PQsslInUse/PQsslAttribute), so the TLS version
 * and cipher need no server-side function; the marker separates it from the
 * query's output. Exit status 2 means psql could not connect; a failed -c
 * command after connecting gives 1 (3 is only for scripts run with -f under
 * ON_ERROR_STOP; measured with psql 15), so "connected" comes from the
 * marker, not from the status.
 *
 * The libpq psql uses is found the way the dynamic loader finds it
 * (LD_TRACE_LOADED_OBJECTS=1, what ldd does) and loaded with dlopen, so the
 * hello line and the keyword check describe the library psql really runs on.
 */
#include <dlfcn.h>
#include <glob.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clients/adapter-kit/cl_adapter.h"
#include "common/fs.h"
#include "psql_parse.h"

typedef struct psql_ctx {
    char *psql;        /* absolute path of the psql binary */
    char *version;     /* "15.18" */
    int libpq_version; /* PQlibVersion() of psql's libpq, 0 if unknown */
    char *libpq_path;
    char *tls_library;          /* OpenSSL_version() of psql's libcrypto */
    PQconninfoOption *defaults; /* PQconndefaults() of psql's libpq */
    void (*conninfo_free)(PQconninfoOption *);
    void *libpq_handle;
    void *crypto_handle;
} psql_ctx;

/* ISO C cannot cast dlsym's void * to a function pointer; POSIX says the
 * bits match, so copy them. */
#define DLSYM_FN(handle, name, fnptr)                                                              \
    do {                                                                                           \
        void *sym_ = (handle) ? dlsym((handle), (name)) : NULL;                                    \
        memcpy(&(fnptr), &sym_, sizeof(fnptr));                                                    \
    } while (0)

/* 1 if path is a script (Debian's /usr/bin/psql is the pg_wrapper Perl
 * script, which picks a cluster's version and needs PG* variables). */
static int is_script(const char *path)
{
    char head[2] = {0, 0};
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    size_t n = fread(head, 1, 2, f);
    fclose(f);
    return n == 2 && head[0] == '#' && head[1] == '!';
}

/* $PGTLS_PSQL, else psql from PATH unless it is a wrapper script, else the
 * newest /usr/lib/postgresql/N/bin/psql. */
static char *find_psql(void)
{
    const char *env = getenv("PGTLS_PSQL");
    if (env != NULL && *env != '\0')
        return strdup(env);
    const char *path = getenv("PATH");
    char *dirs = strdup(path != NULL ? path : "/usr/bin:/bin");
    char *found = NULL, *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d != NULL && found == NULL;
         d = strtok_r(NULL, ":", &save)) {
        char *cand = fs_join(*d ? d : ".", "psql");
        if (cand != NULL && access(cand, X_OK) == 0 && !is_script(cand))
            found = cand;
        else
            free(cand);
    }
    free(dirs);
    if (found != NULL)
        return found;
    glob_t g;
    int best = -1;
    if (glob("/usr/lib/postgresql/*/bin/psql", 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            int major = atoi(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"));
            if (major > best && access(g.gl_pathv[i], X_OK) == 0) {
                best = major;
                free(found);
                found = strdup(g.gl_pathv[i]);
            }
        }
        globfree(&g);
    }
    return found != NULL ? found : strdup("psql");
}

/* Runs argv and returns its stdout (heap) or NULL. */
static char *capture(char *const argv[], int with_trace)
{
    cl_child_result r;
    pgtls_err err;
    char *out = NULL;
    if (with_trace)
        setenv("LD_TRACE_LOADED_OBJECTS", "1", 1);
    if (cl_child_run(argv, NULL, 10000, &r, &err) == 0) {
        if (r.exited && r.exit_status == 0) {
            out = r.out;
            r.out = NULL;
        }
        cl_child_result_cleanup(&r);
    }
    if (with_trace)
        unsetenv("LD_TRACE_LOADED_OBJECTS");
    return out;
}

static void psql_ctx_init(psql_ctx *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->psql = find_psql();
    char *argv_version[] = {ctx->psql, "--version", NULL};
    char *text = capture(argv_version, 0);
    if (text != NULL)
        ctx->version = psql_parse_version(text);
    free(text);

    char *argv_trace[] = {ctx->psql, NULL};
    char *trace = capture(argv_trace, 1);
    if (trace != NULL) {
        ctx->libpq_path = psql_trace_find(trace, "libpq.so");
        char *crypto = psql_trace_find(trace, "libcrypto.so");
        if (crypto != NULL) {
            ctx->crypto_handle = dlopen(crypto, RTLD_NOW | RTLD_LOCAL);
            const char *(*ossl_version)(int) = NULL;
            DLSYM_FN(ctx->crypto_handle, "OpenSSL_version", ossl_version);
            if (ossl_version != NULL)
                ctx->tls_library = strdup(ossl_version(0 /* OPENSSL_VERSION */));
        }
        free(crypto);
    }
    free(trace);
    if (ctx->libpq_path != NULL) {
        ctx->libpq_handle = dlopen(ctx->libpq_path, RTLD_NOW | RTLD_LOCAL);
        int (*lib_version)(void) = NULL;
        PQconninfoOption *(*conndefaults)(void) = NULL;
        DLSYM_FN(ctx->libpq_handle, "PQlibVersion", lib_version);
        DLSYM_FN(ctx->libpq_handle, "PQconndefaults", conndefaults);
        DLSYM_FN(ctx->libpq_handle, "PQconninfoFree", ctx->conninfo_free);
        if (lib_version != NULL)
            ctx->libpq_version = lib_version();
        if (conndefaults != NULL && ctx->conninfo_free != NULL)
            ctx->defaults = conndefaults();
    }
}

static void psql_ctx_cleanup(psql_ctx *ctx)
{
    if (ctx->defaults != NULL)
        ctx->conninfo_free(ctx->defaults);
    free(ctx->psql);
    free(ctx->version);
    free(ctx->libpq_path);
    free(ctx->tls_library);
    /* The libraries stay loaded until exit: OpenSSL registers atexit
     * handlers, and unloading it under them is not worth the risk. */
}

/* 1 if psql's libpq knows keyword; 1 as well when we could not ask it (libpq
 * itself then reports an unknown keyword as "invalid connection option"). */
static int knows_keyword(const psql_ctx *ctx, const char *keyword)
{
    if (ctx->defaults == NULL)
        return 1;
    for (PQconninfoOption *o = ctx->defaults; o->keyword != NULL; o++)
        if (strcmp(o->keyword, keyword) == 0)
            return 1;
    return 0;
}

static char *version_text(int v)
{
    if (v >= 100000)
        return str_printf("%d.%d", v / 10000, v % 10000);
    return str_printf("%d.%d.%d", v / 10000, (v / 100) % 100, v % 100);
}

static json_t *psql_hello(void *vctx)
{
    psql_ctx *ctx = vctx;
    char *libpq_num = ctx->libpq_version ? str_printf("%d", ctx->libpq_version) : NULL;
    char *libpq_text = ctx->libpq_version ? version_text(ctx->libpq_version) : NULL;
    char *tls_short = NULL;
    if (ctx->tls_library != NULL) {
        const char *sp = strchr(ctx->tls_library, ' ');
        sp = sp ? strchr(sp + 1, ' ') : NULL;
        tls_short = sp ? strndup(ctx->tls_library, (size_t)(sp - ctx->tls_library))
                       : strdup(ctx->tls_library);
    }
    char *build = str_printf("psql %s (libpq %s, %s)", ctx->version ? ctx->version : "unknown",
                             libpq_text ? libpq_text : "unknown",
                             tls_short ? tls_short : "TLS library unknown");
    json_t *features = json_array();
    static const char *const keyword_features[] = {
        "sslnegotiation",           "channel_binding", "ssl_min_protocol_version",
        "ssl_max_protocol_version", "sslsni",          NULL};
    for (int i = 0; keyword_features[i] != NULL; i++)
        if (ctx->defaults != NULL && knows_keyword(ctx, keyword_features[i]))
            json_array_append_new(features, json_string(keyword_features[i]));
    json_array_append_new(features, json_string("connect_options"));
    /* docs/surfaces.md: psql takes a conninfo string or a URL as -d and
     * its libpq reads PG* variables; it has no options for TLS settings. */
    static const char *const surfaces[] = {"surface:conninfo", "surface:url", "surface:env",
                                           "surface:url+env", "literal", NULL};
    for (int i = 0; surfaces[i] != NULL; i++)
        json_array_append_new(features, json_string(surfaces[i]));

    json_t *hello = json_object();
    json_object_set_new(hello, "protocol", json_integer(CL_PROTOCOL_VERSION));
    json_object_set_new(hello, "client", json_string("psql"));
    cl_json_set_str(hello, "version", ctx->version);
    cl_json_set_str(hello, "libpq", libpq_num);
    cl_json_set_str(hello, "tls_library", ctx->tls_library);
    json_object_set_new(hello, "runtime", json_null());
    cl_json_set_str(hello, "build", build);
    json_object_set_new(hello, "features", features);
    json_t *extra = json_object();
    cl_json_set_str(extra, "psql_path", ctx->psql);
    cl_json_set_str(extra, "libpq_path", ctx->libpq_path);
    json_object_set_new(hello, "extra", extra);
    free(libpq_num);
    free(libpq_text);
    free(tls_short);
    free(build);
    return hello;
}

static char *psql_unsupported_reason(void *vctx, const char *field)
{
    psql_ctx *ctx = vctx;
    if (strcmp(field, "surface:options") == 0 || strcmp(field, "surface:url+options") == 0)
        return strdup("psql has no command-line option for sslmode, sslrootcert or any TLS "
                      "setting (-h, -p, -U and the database name only): TLS settings reach it "
                      "in a conninfo string, a URL or PG* variables");
    if (strcmp(field, "surface:npgsql") == 0)
        return strdup("psql -d takes a keyword=value conninfo string or a postgresql:// URL; "
                      "libpq has no parser for the ADO.NET form (Key=Value;...)");
    char *ver = ctx->libpq_version ? version_text(ctx->libpq_version) : strdup("unknown");
    char *reason =
        str_printf("psql's libpq %s does not know the connection option \"%s\"", ver, field);
    free(ver);
    return reason;
}

/* The -d value for a case with a surface (docs/surfaces.md); the PG*
 * variables of the env surfaces are set here. NULL with "unsupported" or
 * "error" set in result. */
static char *surface_conninfo(const cl_case *c, json_t *result)
{
    cl_settings all = {0};
    cl_surface_plan plan = {0};
    char port[16], timeout[32], *why = NULL, *out = NULL;

    snprintf(port, sizeof(port), "%d", c->port);
    snprintf(timeout, sizeof(timeout), "%ld", (c->timeout_ms + 999) / 1000);
#define ADD(k, v)                                                                                  \
    do {                                                                                           \
        if ((v) != NULL && all.n < CL_MAX_SETTINGS) {                                              \
            all.keywords[all.n] = (k);                                                             \
            all.values[all.n++] = (v);                                                             \
        }                                                                                          \
    } while (0)
    ADD("host", c->host);
    ADD("hostaddr", c->hostaddr);
    ADD("port", port);
    ADD("sslmode", c->sslmode);
    ADD("sslrootcert", c->sslrootcert);
    ADD("user", c->user);
    ADD("dbname", c->dbname);
    ADD("connect_timeout", timeout);
    ADD("application_name", c->application_name);
    ADD("sslnegotiation", c->sslnegotiation);
    ADD("channel_binding", c->channel_binding);
    ADD("ssl_min_protocol_version", c->ssl_min_protocol_version);
    ADD("ssl_max_protocol_version", c->ssl_max_protocol_version);
    ADD("sslsni", c->sslsni);
    if (c->connect_options != NULL) {
        const char *k;
        json_t *v;
        json_object_foreach(c->connect_options, k, v)
        {
            if (!json_is_string(v)) {
                cl_json_set_str(result, "unsupported",
                                "connect_options: only strings on a surface");
                return NULL;
            }
            ADD(k, json_string_value(v));
        }
    }
#undef ADD
    if (cl_surface_split(c->surface, &all, &plan, &why) < 0) {
        cl_json_set_str(result, "unsupported", why);
        free(why);
        return NULL;
    }
    for (int i = 0; i < plan.env.n; i++)
        setenv(plan.env.keywords[i], plan.env.values[i], 1);
    /* conninfo and url: the string; env: the target keywords as a string. */
    out = plan.string ? strdup(plan.string) : cl_settings_conninfo(&plan.params);
    if (out == NULL)
        cl_json_set_str(result, "error", "adapter: out of memory");
    cl_surface_plan_cleanup(&plan);
    return out;
}

/* 1 if the case sets any locale variable itself. */
static int case_sets_locale(const cl_case *c)
{
    static const char *const names[] = {"LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE", NULL};
    for (int i = 0; c->env != NULL && names[i] != NULL; i++)
        if (json_object_get(c->env, names[i]) != NULL)
            return 1;
    return 0;
}

static void psql_run(void *vctx, const cl_case *c, json_t *result)
{
    psql_ctx *ctx = vctx;
    char *unsupported = NULL;
    char *conninfo = NULL, *echo = NULL;
    cl_child_result r = {0};
    psql_output o = {0};
    pgtls_err err;

    err_clear(&err);
    if (c->connect_options != NULL) {
        const char *k;
        json_t *v;
        json_object_foreach(c->connect_options, k, v)
        {
            if (!knows_keyword(ctx, k)) {
                char *reason = psql_unsupported_reason(ctx, k);
                cl_json_set_str(result, "unsupported", reason);
                free(reason);
                goto out;
            }
        }
    }
    if (c->literal != NULL) {
        /* A source page's string as written (docs/surfaces.md) is psql's
         * -d; the mock's address, port and timeout come as the PG*
         * variables the string does not override. */
        char port[16], timeout[32];
        snprintf(port, sizeof(port), "%d", c->port);
        snprintf(timeout, sizeof(timeout), "%ld", (c->timeout_ms + 999) / 1000);
        if (c->hostaddr)
            setenv("PGHOSTADDR", c->hostaddr, 1);
        setenv("PGPORT", port, 1);
        setenv("PGCONNECT_TIMEOUT", timeout, 1);
        conninfo = strdup(c->literal);
    } else if (c->surface != NULL) {
        conninfo = surface_conninfo(c, result);
        if (conninfo == NULL)
            goto out;
    } else {
        conninfo = psql_build_conninfo(c, &unsupported);
    }
    if (conninfo == NULL) {
        cl_json_set_str(result, "unsupported", unsupported ? unsupported : "out of memory");
        goto out;
    }
    echo = str_printf("\\echo %s", PSQL_MARKER);

    /* The case environment is applied already (cl_env_apply); the child
     * inherits it plus the password, which stays out of argv and conninfo. */
    if (c->password != NULL)
        setenv("PGPASSWORD", c->password, 1);
    /* psql and libpq translate their messages; the matrix compares English
     * texts unless a case asks for a locale. */
    if (!case_sets_locale(c))
        setenv("LC_ALL", "C.UTF-8", 1);

    char *argv[] = {ctx->psql,
                    "-X",
                    "-A",
                    "-t",
                    "-w",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-F",
                    PSQL_FIELD_SEP,
                    "-P",
                    "null=" PSQL_NULL_MARKER,
                    "-d",
                    conninfo,
                    "-c",
                    "\\conninfo",
                    "-c",
                    echo,
                    "-c",
                    (char *)c->query,
                    NULL};
    if (cl_child_run(argv, NULL, c->timeout_ms, &r, &err) < 0) {
        char *msg = str_printf("adapter: %s", err.msg);
        cl_json_set_str(result, "error", msg);
        free(msg);
        goto out;
    }
    cl_result_extra(result, "exit_status", r.exited ? json_integer(r.exit_status) : json_null());
    if (r.timed_out) {
        char *msg = str_printf("adapter: timeout: psql did not finish within %ld ms; killed",
                               c->timeout_ms);
        cl_json_set_str(result, "error", msg);
        json_object_set_new(result, "error_code", json_string("timeout"));
        cl_result_extra(result, "stderr", cl_json_str(r.err));
        free(msg);
        goto out;
    }
    if (r.signaled) {
        char *msg = str_printf("adapter: psql was killed by signal %d", r.signaled);
        cl_json_set_str(result, "error", msg);
        cl_result_extra(result, "stderr", cl_json_str(r.err));
        free(msg);
        goto out;
    }

    psql_parse_output(r.out, &o);
    if (o.marker_seen) {
        json_object_set_new(result, "connected", json_true());
        json_object_set_new(result, "tls",
                            o.ssl_known ? json_boolean(o.ssl_line_seen) : json_null());
        if (o.ssl_line_seen) {
            cl_json_set_str(result, "tls_version", o.tls_version);
            cl_json_set_str(result, "cipher", o.cipher);
        }
        cl_json_set_str(result, "query_result", o.first_value);
    }
    if (r.exit_status != 0) {
        if (r.err_len > 0) {
            cl_json_set_str(result, "error", r.err);
        } else {
            char *msg =
                str_printf("adapter: psql exited with status %d and no message", r.exit_status);
            cl_json_set_str(result, "error", msg);
            free(msg);
        }
    } else if (r.err_len > 0) {
        cl_result_extra(result, "stderr", cl_json_str(r.err));
    }
out:
    psql_output_cleanup(&o);
    cl_child_result_cleanup(&r);
    free(unsupported);
    free(conninfo);
    free(echo);
}

int main(int argc, char **argv)
{
    psql_ctx ctx;
    psql_ctx_init(&ctx);
    cl_adapter adapter = {
        .name = "psql",
        .ctx = &ctx,
        .hello = psql_hello,
        .unsupported_reason = psql_unsupported_reason,
        .run = psql_run,
    };
    int status = cl_adapter_main(argc, argv, &adapter);
    psql_ctx_cleanup(&ctx);
    return status;
}
