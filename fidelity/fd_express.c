/* pgtls: which scenarios a real PostgreSQL can be configured like, and the
 * configuration files that do it (docs/fidelity.md has the table). */
#include "fd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fs.h"
#include "vocab.h"

static const char *const hba_methods[] = {"trust", "password", "md5", "scram-sha-256", "cert"};

static int is_hba_method(const char *auth)
{
    for (size_t i = 0; i < sizeof(hba_methods) / sizeof(hba_methods[0]); i++)
        if (auth && strcmp(auth, hba_methods[i]) == 0)
            return 1;
    return 0;
}

/* A value PostgreSQL's ssl_min/max_protocol_version accepts ("" = no bound;
 * not the TLSv1.0 alias libpq's rank also knows). */
static int is_protocol_version(const char *v)
{
    return v && strcmp(v, "TLSv1.0") != 0 && vc_tls_rank(v) >= 0;
}

/* ssl_ecdh_curve (PG < 18) goes through OBJ_sn2nid + EC_KEY_new_by_curve_name
 * (be-secure-openssl.c initialize_ecdh), so only EC curves by OpenSSL short
 * name work; X25519/X448 are not EC_KEY curves and would stop the server. */
static const struct {
    const char *name;
    const char *sn;
} ec_curves[] = {
    {"prime256v1", "prime256v1"}, {"P-256", "prime256v1"}, {"secp256r1", "prime256v1"},
    {"secp384r1", "secp384r1"},   {"P-384", "secp384r1"},  {"secp521r1", "secp521r1"},
    {"P-521", "secp521r1"},
};

const char *fd_ecdh_curve_for_groups(const char *groups, char *buf, size_t buf_len)
{
    const char *p = groups ? groups : "";
    if (!buf || buf_len < 32)
        return NULL;
    if (!*p) {
        snprintf(buf, buf_len, "prime256v1");
        return buf;
    }
    while (*p) {
        size_t n = strcspn(p, ":,");
        for (size_t i = 0; i < sizeof(ec_curves) / sizeof(ec_curves[0]); i++)
            if (strlen(ec_curves[i].name) == n && strncasecmp(p, ec_curves[i].name, n) == 0) {
                snprintf(buf, buf_len, "%s", ec_curves[i].sn);
                return buf;
            }
        p += n;
        if (*p)
            p++;
    }
    return NULL;
}

const char *fd_scenario_unexpressible(const fx_scenario *sc, int pg_major)
{
    const fx_server *s;
    char curve[32];

    if (!sc)
        return "no scenario";
    s = &sc->server;
    if (!is_hba_method(s->auth))
        return "the scenario's auth method has no pg_hba.conf equivalent "
               "(trust, password, md5 and scram-sha-256 have)";
    if (s->ssl && (!sc->chain_pem || !sc->key_pem))
        return "the scenario has TLS on but names no chain/key files";
    if (!is_protocol_version(s->ssl_min_protocol_version) ||
        !is_protocol_version(s->ssl_max_protocol_version))
        return "ssl_min/max_protocol_version is not one PostgreSQL accepts "
               "(TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 or empty)";
    if (s->ssl && vc_tls_rank(s->ssl_max_protocol_version) &&
        vc_tls_rank(s->ssl_min_protocol_version) > vc_tls_rank(s->ssl_max_protocol_version))
        return "ssl_min_protocol_version is above ssl_max_protocol_version: a real server "
               "refuses to start (be-secure-openssl.c)";
    if (s->ssl && s->ssl_tls13_ciphers && *s->ssl_tls13_ciphers && pg_major < 18)
        return "ssl_tls13_ciphers needs PostgreSQL 18; older servers always use OpenSSL's "
               "default TLS 1.3 suites";
    if (s->ssl && pg_major < 18 && !fd_ecdh_curve_for_groups(s->ssl_groups, curve, sizeof(curve)))
        return "ssl_groups names no elliptic curve: PostgreSQL < 18 has only ssl_ecdh_curve, "
               "one EC curve (X25519/X448 cannot be set)";
    if (s->client_cert)
        return "the index names no client CA for ssl_ca_file, so a real server cannot send "
               "the same CertificateRequest";
    if (!strcmp(s->auth, "cert") && (!s->ssl || !s->require_secure_transport || !s->ssl_ca_file))
        return "auth cert needs TLS, hostssl rules (require_secure_transport) and an "
               "ssl_ca_file (hba.c, be-secure-openssl.c)";
    if (s->clientcert && *s->clientcert &&
        ((strcmp(s->clientcert, "verify-ca") && strcmp(s->clientcert, "verify-full")) ||
         !s->ssl || !s->require_secure_transport || !s->ssl_ca_file))
        return "clientcert needs verify-ca or verify-full, TLS, hostssl rules "
               "(require_secure_transport) and an ssl_ca_file (hba.c)";
    if (s->ssl_crl_dir && pg_major < 14)
        return "ssl_crl_dir needs PostgreSQL 14";
    if (!s->user || !*s->user || strlen(s->user) > 63)
        return "the scenario's user is empty or longer than NAMEDATALEN-1 (63) bytes";
    return NULL;
}

const char *fd_case_unexpressible(const fx_scenario *sc, const json_t *case_obj, int pg_major)
{
    const char *why = fd_scenario_unexpressible(sc, pg_major);
    json_t *neg;

    if (why)
        return why;
    neg = json_object_get(case_obj, "sslnegotiation");
    if (json_is_string(neg) && strcmp(json_string_value(neg), "direct") == 0 && pg_major < 17)
        return "sslnegotiation=direct needs PostgreSQL 17 (a 15 server reads the ClientHello "
               "as a startup packet length)";
    return NULL;
}

char *fd_scenario_caveats(const fx_scenario *sc, int pg_major)
{
    char notes[1024] = "";
    char curve[32];
    size_t used = 0;
    const fx_server *s = &sc->server;

#define NOTE(...)                                                                                  \
    do {                                                                                           \
        if (used && used < sizeof(notes))                                                          \
            used += (size_t)snprintf(notes + used, sizeof(notes) - used, "; ");                    \
        if (used < sizeof(notes))                                                                  \
            used += (size_t)snprintf(notes + used, sizeof(notes) - used, __VA_ARGS__);             \
    } while (0)

    if (s->ssl && pg_major < 18 && fd_ecdh_curve_for_groups(s->ssl_groups, curve, sizeof(curve))) {
        if (!s->ssl_groups || !*s->ssl_groups)
            NOTE("key exchange only on prime256v1 (ssl_ecdh_curve default; the mock uses "
                 "OpenSSL's default groups)");
        else if (strcmp(s->ssl_groups, curve) != 0)
            NOTE("ssl_groups '%s' reduced to ssl_ecdh_curve '%s'", s->ssl_groups, curve);
    }
    if (s->ssl && vc_tls_rank(s->ssl_min_protocol_version) > 0 &&
        vc_tls_rank(s->ssl_min_protocol_version) < vc_tls_rank("TLSv1.2") &&
        !strstr(s->ssl_ciphers, "@SECLEVEL"))
        NOTE("':@SECLEVEL=0' appended to ssl_ciphers so TLS 1.0/1.1 can be negotiated");
    if (s->direct_tls && pg_major < 17)
        NOTE("direct TLS (sslnegotiation=direct) not available on PostgreSQL %d", pg_major);
    NOTE("server_version is the real server's, not '%s'", s->server_version);
#undef NOTE
    return strdup(notes);
}

/* A postgresql.conf string literal: single quotes doubled; no control bytes
 * (a newline would end the line and change the file's meaning). */
static int conf_quote(const char *key, const char *v, char *out, size_t out_len, pgtls_err *err)
{
    size_t o = 0;
    if (o + 1 >= out_len)
        return err_set(err, PGTLS_ERR_INTERNAL, "buffer too small for %s", key);
    out[o++] = '\'';
    for (const char *p = v ? v : ""; *p; p++) {
        if ((unsigned char)*p < 0x20)
            return err_set(err, PGTLS_ERR_INPUT,
                           "setting %s holds a control character, which postgresql.conf "
                           "cannot carry; fix the catalogue entry",
                           key);
        if (o + 3 >= out_len)
            return err_set(err, PGTLS_ERR_INPUT, "setting %s is too long", key);
        if (*p == '\'')
            out[o++] = '\'';
        out[o++] = *p;
    }
    if (o + 2 >= out_len)
        return err_set(err, PGTLS_ERR_INPUT, "setting %s is too long", key);
    out[o++] = '\'';
    out[o] = '\0';
    return 0;
}

/* Appends "key = 'value'\n" to *buf. */
static int conf_add(char **buf, const char *key, const char *value, pgtls_err *err)
{
    char quoted[4200];
    char *n;
    if (conf_quote(key, value, quoted, sizeof(quoted), err) < 0)
        return -1;
    n = str_printf("%s%s = %s\n", *buf, key, quoted);
    if (!n)
        return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    free(*buf);
    *buf = n;
    return 0;
}

char *fd_render_conf(const fx_scenario *sc, int pg_major, const fd_conf_paths *paths,
                     pgtls_err *err)
{
    const fx_server *s = &sc->server;
    const char *why = fd_scenario_unexpressible(sc, pg_major);
    char *buf = NULL, *result = NULL, *ciphers = NULL;
    char port[16], curve[32];

    ENSURE(!why, err, PGTLS_ERR_CONFIG, "scenario %s cannot run on a real PostgreSQL %d: %s",
           sc->name, pg_major, why);
    ENSURE(paths && paths->port > 0 && paths->port < 65536 && paths->socket_dir, err,
           PGTLS_ERR_INTERNAL, "fd_render_conf: port and socket folder are required");
    ENSURE(!s->ssl || (paths->cert_file && paths->key_file), err, PGTLS_ERR_INTERNAL,
           "fd_render_conf: scenario %s has TLS on but no certificate/key path was given",
           sc->name);
    buf = strdup("# Written by pgtls fidelity for one scenario; rewritten on every start.\n");
    ENSURE(buf, err, PGTLS_ERR_NOMEM, "out of memory");
    snprintf(port, sizeof(port), "%d", paths->port);
    /* Loopback only: the harness never listens on a routable address. */
    TRY(conf_add(&buf, "listen_addresses", "127.0.0.1", err));
    TRY(conf_add(&buf, "port", port, err));
    TRY(conf_add(&buf, "unix_socket_directories", paths->socket_dir, err));
    TRY(conf_add(&buf, "ssl", s->ssl ? "on" : "off", err));
    if (s->ssl) {
        TRY(conf_add(&buf, "ssl_cert_file", paths->cert_file, err));
        TRY(conf_add(&buf, "ssl_key_file", paths->key_file, err));
        /* An empty ssl_ca_file: no CertificateRequest (the mock sends none
         * unless client_cert, which is not expressible, or ssl_ca_file). */
        TRY(conf_add(&buf, "ssl_ca_file", paths->ca_file ? paths->ca_file : "", err));
        TRY(conf_add(&buf, "ssl_crl_file", paths->crl_file ? paths->crl_file : "", err));
        if (pg_major >= 14)
            TRY(conf_add(&buf, "ssl_crl_dir", paths->crl_dir ? paths->crl_dir : "", err));
        TRY(conf_add(&buf, "ssl_min_protocol_version", s->ssl_min_protocol_version, err));
        TRY(conf_add(&buf, "ssl_max_protocol_version", s->ssl_max_protocol_version, err));
        /* TLS 1.0/1.1 sign the handshake with SHA-1/MD5, which OpenSSL 3
         * allows only at security level 0 (SSL_CTX_set_security_level(3)). */
        if (vc_tls_rank(s->ssl_min_protocol_version) > 0 &&
            vc_tls_rank(s->ssl_min_protocol_version) < vc_tls_rank("TLSv1.2") &&
            !strstr(s->ssl_ciphers, "@SECLEVEL"))
            ciphers = str_printf("%s:@SECLEVEL=0", s->ssl_ciphers);
        else
            ciphers = strdup(s->ssl_ciphers);
        ENSURE(ciphers, err, PGTLS_ERR_NOMEM, "out of memory");
        TRY(conf_add(&buf, "ssl_ciphers", ciphers, err));
        TRY(conf_add(&buf, "ssl_prefer_server_ciphers", "on", err));
        if (pg_major >= 18) {
            TRY(conf_add(&buf, "ssl_groups", *s->ssl_groups ? s->ssl_groups : "X25519:prime256v1",
                         err));
            if (*s->ssl_tls13_ciphers)
                TRY(conf_add(&buf, "ssl_tls13_ciphers", s->ssl_tls13_ciphers, err));
        } else {
            TRY(conf_add(&buf, "ssl_ecdh_curve",
                         fd_ecdh_curve_for_groups(s->ssl_groups, curve, sizeof(curve)), err));
        }
    }
    TRY(conf_add(&buf, "password_encryption", strcmp(s->auth, "md5") == 0 ? "md5" : "scram-sha-256",
                 err));
    /* Small and fast: this cluster holds no data worth keeping. */
    TRY(conf_add(&buf, "max_connections", "40", err));
    TRY(conf_add(&buf, "shared_buffers", "16MB", err));
    TRY(conf_add(&buf, "fsync", "off", err));
    TRY(conf_add(&buf, "full_page_writes", "off", err));
    TRY(conf_add(&buf, "log_connections", "on", err));
    TRY(conf_add(&buf, "log_disconnections", "on", err));
    TRY(conf_add(&buf, "log_line_prefix", "%m [%p] ", err));
    result = buf;
    buf = NULL;
out:
    free(buf);
    free(ciphers);
    return result;
}

char *fd_render_hba(const fx_scenario *sc, pgtls_err *err)
{
    const fx_server *s = &sc->server;
    const char *type;

    if (!is_hba_method(s->auth)) {
        err_set(err, PGTLS_ERR_CONFIG, "scenario %s: auth '%s' has no pg_hba.conf method", sc->name,
                s->auth ? s->auth : "(null)");
        return NULL;
    }
    /* require_secure_transport=on (Azure) is hostssl only: a plaintext
     * startup finds no matching line. With TLS off and secure transport
     * required, nothing may connect over TCP; a hostssl line would stop a
     * server with ssl=off from loading pg_hba.conf, so there is no line. */
    if (s->require_secure_transport)
        type = s->ssl ? "hostssl" : NULL;
    else
        type = "host";
    if (!type)
        return str_printf("# Written by pgtls fidelity for scenario %s.\n"
                          "local    all all              trust\n"
                          "# no TCP line: TLS is off and secure transport is required\n",
                          sc->name);
    return str_printf("# Written by pgtls fidelity for scenario %s.\n"
                      "local    all all              trust\n"
                      "%-8s all all 127.0.0.1/32 %s%s%s\n",
                      sc->name, type, s->auth,
                      s->clientcert && *s->clientcert ? " clientcert=" : "",
                      s->clientcert && *s->clientcert ? s->clientcert : "");
}
