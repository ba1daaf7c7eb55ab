/* pgtls-adapter-openssl-s_client: command line and output parsing.
 *
 * The command mirrors the decisions libpq makes for a case
 * (fe-secure-openssl.c initialize_SSL and open_client_SSL; see
 * docs/adapters.md):
 *  - the trust anchors are sslrootcert, or ~/.postgresql/root.crt under the
 *    case's HOME when sslrootcert is not set, and nothing else: no default
 *    CA directory or store sneaks in (-no-CApath -no-CAstore);
 *    sslrootcert=system uses OpenSSL's default paths (SSL_CERT_FILE/DIR);
 *  - the chain is verified when the sslmode is verify-ca/verify-full, or when
 *    the root file exists (libpq verifies then whatever the sslmode: a stale
 *    root.crt turns require into verify-ca);
 *  - the host name is checked for verify-full only, against host;
 *  - SNI is sent unless sslsni=0 or host is an IP literal;
 *  - protocol bounds default to libpq's (minimum TLSv1.2);
 *  - sslnegotiation=direct is TLS from the first byte with ALPN "postgresql".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fs.h"
#include "sclient_parse.h"

#define MAX_ARGS 48

typedef struct argv_builder {
    char *v[MAX_ARGS + 1];
    int n;
    int failed;
} argv_builder;

static void add(argv_builder *b, const char *s)
{
    if (b->failed)
        return;
    if (b->n >= MAX_ARGS || (b->v[b->n] = strdup(s)) == NULL) {
        b->failed = 1;
        return;
    }
    b->n++;
}

void sclient_argv_free(char **argv)
{
    if (argv == NULL)
        return;
    for (int i = 0; argv[i] != NULL; i++)
        free(argv[i]);
    free(argv);
}

static int file_exists(const char *path)
{
    struct stat st;
    return path != NULL && stat(path, &st) == 0;
}

char **sclient_build_argv(const char *openssl, const cl_case *c, const char *home, int *out_verify,
                          char **out_unsupported)
{
    argv_builder b = {0};
    char *rootfile = NULL, *connect = NULL, **result = NULL;
    const char *mode = c->sslmode != NULL ? c->sslmode : "prefer"; /* libpq's default */
    int verify = 0, verify_full = 0;

    *out_unsupported = NULL;
    *out_verify = 0;
    if (strcmp(mode, "disable") == 0 || strcmp(mode, "allow") == 0 || strcmp(mode, "prefer") == 0) {
        *out_unsupported =
            str_printf("openssl s_client only makes TLS connections: sslmode=%s needs a plaintext "
                       "connection or a plaintext fallback",
                       mode);
        goto out;
    }
    if (strcmp(mode, "require") != 0 && strcmp(mode, "verify-ca") != 0 &&
        strcmp(mode, "verify-full") != 0) {
        *out_unsupported = str_printf("unknown sslmode \"%s\"", mode);
        goto out;
    }
    verify_full = strcmp(mode, "verify-full") == 0;
    if (c->channel_binding != NULL && strcmp(c->channel_binding, "require") == 0) {
        *out_unsupported = strdup("channel_binding=require is decided at login (SCRAM); "
                                  "openssl s_client stops after the TLS handshake");
        goto out;
    }
    if (verify_full && c->host == NULL) {
        *out_unsupported = strdup("verify-full needs host (libpq checks the certificate "
                                  "against host, never hostaddr)");
        goto out;
    }

    add(&b, openssl);
    add(&b, "s_client");
    if (c->sslnegotiation == NULL || strcmp(c->sslnegotiation, "postgres") == 0) {
        add(&b, "-starttls");
        add(&b, "postgres");
    } else if (strcmp(c->sslnegotiation, "direct") == 0) {
        /* PostgreSQL 17 direct TLS: a ClientHello as the first bytes, with
         * ALPN "postgresql" (protocol.html, "Direct SSL"). */
        add(&b, "-alpn");
        add(&b, "postgresql");
    } else {
        *out_unsupported = str_printf("unknown sslnegotiation \"%s\"", c->sslnegotiation);
        goto out;
    }

    const char *addr = c->hostaddr != NULL ? c->hostaddr : c->host;
    connect = strchr(addr, ':') != NULL ? str_printf("[%s]:%d", addr, c->port)
                                        : str_printf("%s:%d", addr, c->port);
    if (connect == NULL)
        goto out;
    add(&b, "-connect");
    add(&b, connect);

    if ((c->sslsni != NULL && strcmp(c->sslsni, "0") == 0) || c->host == NULL ||
        cl_is_ip_literal(c->host)) {
        add(&b, "-noservername");
    } else {
        add(&b, "-servername");
        add(&b, c->host);
    }

    if (c->sslrootcert != NULL && strcmp(c->sslrootcert, "system") == 0) {
        /* OpenSSL's default verify paths, as libpq 16+ loads them
         * (SSL_CTX_set_default_verify_paths honours SSL_CERT_FILE/DIR). */
        verify = 1;
    } else {
        if (c->sslrootcert != NULL)
            rootfile = strdup(c->sslrootcert);
        else if (home != NULL)
            rootfile = str_printf("%s/.postgresql/root.crt", home);
        verify = strcmp(mode, "require") != 0 || file_exists(rootfile);
        if (verify && rootfile != NULL) {
            add(&b, "-CAfile");
            add(&b, rootfile);
        } else {
            add(&b, "-no-CAfile");
        }
        add(&b, "-no-CApath");
        add(&b, "-no-CAstore");
    }
    if (verify) {
        /* -verify sets SSL_VERIFY_PEER; -verify_return_error makes a
         * verification error end the handshake, as it does in libpq. */
        add(&b, "-verify");
        add(&b, "10");
        add(&b, "-verify_return_error");
    }
    if (verify_full) {
        add(&b, cl_is_ip_literal(c->host) ? "-verify_ip" : "-verify_hostname");
        add(&b, c->host);
    }
    add(&b, "-min_protocol");
    add(&b, c->ssl_min_protocol_version != NULL ? c->ssl_min_protocol_version : "TLSv1.2");
    if (c->ssl_max_protocol_version != NULL) {
        add(&b, "-max_protocol");
        add(&b, c->ssl_max_protocol_version);
    }
    add(&b, "-showcerts");
    add(&b, "-no_ign_eof");
    if (b.failed)
        goto out;
    result = calloc((size_t)b.n + 1, sizeof(char *));
    if (result == NULL)
        goto out;
    memcpy(result, b.v, (size_t)b.n * sizeof(char *));
    b.n = 0;
    *out_verify = verify;
out:
    for (int i = 0; i < b.n; i++)
        free(b.v[i]);
    free(rootfile);
    free(connect);
    return result;
}

/* Calls fn for each line of text (without the newline). */
static void for_each_line(const char *text, void (*fn)(const char *line, size_t len, void *arg),
                          void *arg)
{
    const char *p = text;
    while (p != NULL && *p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        fn(p, len, arg);
        p = nl ? nl + 1 : NULL;
    }
}

static void parse_out_line(const char *line, size_t len, void *arg)
{
    sclient_output *o = arg;
    /* TLS 1.2 sessions print "Verify return code" indented inside the
     * SSL-Session block; TLS 1.3 prints it at the start of a line. */
    while (len > 0 && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    char *l = strndup(line, len);
    if (l == NULL)
        return;
    if (strncmp(l, "New, ", 5) == 0) {
        /* "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384" ("(NONE)" when the
         * handshake did not get that far) */
        char *comma = strstr(l + 5, ", Cipher is ");
        if (comma != NULL) {
            free(o->tls_version);
            free(o->cipher);
            o->tls_version = strndup(l + 5, (size_t)(comma - (l + 5)));
            const char *cipher = comma + strlen(", Cipher is ");
            o->cipher = strcmp(cipher, "(NONE)") == 0 ? NULL : strdup(cipher);
            if (o->cipher == NULL) {
                free(o->tls_version);
                o->tls_version = NULL;
            }
        }
    } else if (strncmp(l, "Verify return code: ", 20) == 0) {
        char *end = NULL;
        long code = strtol(l + 20, &end, 10);
        if (end != l + 20) {
            o->verify_code = (int)code;
            char *open = strchr(end, '(');
            char *close = strrchr(end, ')');
            free(o->verify_text);
            o->verify_text = open && close && close > open
                                 ? strndup(open + 1, (size_t)(close - open - 1))
                                 : NULL;
        }
    }
    free(l);
}

static void parse_err_line(const char *line, size_t len, void *arg)
{
    sclient_output *o = arg;
    const char *key = "verify error:";
    size_t klen = strlen(key);
    if (len > klen && strncmp(line, key, klen) == 0) {
        char *rest = strndup(line + klen, len - klen);
        json_array_append_new(o->verify_errors, cl_json_str(rest));
        free(rest);
    }
}

void sclient_parse_output(const char *out, const char *err, sclient_output *o)
{
    memset(o, 0, sizeof(*o));
    o->verify_code = -1;
    o->verify_errors = json_array();
    for_each_line(out, parse_out_line, o);
    for_each_line(err, parse_err_line, o);
}

void sclient_output_cleanup(sclient_output *o)
{
    if (o == NULL)
        return;
    free(o->tls_version);
    free(o->cipher);
    free(o->verify_text);
    json_decref(o->verify_errors);
    memset(o, 0, sizeof(*o));
}

void sclient_parse_version(const char *text, char **out_version, char **out_library)
{
    *out_version = NULL;
    *out_library = NULL;
    size_t line_len = strcspn(text, "\n");
    char *line = strndup(text, line_len);
    if (line == NULL)
        return;
    /* "OpenSSL 3.0.19 27 Jan 2026 (Library: OpenSSL 3.0.19 27 Jan 2026)";
     * LibreSSL prints "LibreSSL 3.8.2". */
    const char *sp = strchr(line, ' ');
    if (sp != NULL) {
        size_t n = strcspn(sp + 1, " ");
        if (n > 0)
            *out_version = strndup(sp + 1, n);
    }
    const char *lib = strstr(line, "(Library: ");
    if (lib != NULL) {
        const char *start = lib + strlen("(Library: ");
        const char *end = strrchr(start, ')');
        *out_library = strndup(start, end ? (size_t)(end - start) : strlen(start));
    } else if (*out_version != NULL) {
        *out_library = strdup(line);
    }
    free(line);
}
