/* pgtls suites: the expectation model.
 *
 * What libpq does on a case, derived from the scenario's declared facts and
 * the case's settings. Every rule has an id (R1..) that docs/expectations.md
 * explains with its source in libpq (fe-connect.c connectOptions2 /
 * PQconnectPoll, fe-secure-openssl.c initialize_SSL / pgtls_open_client,
 * fe-secure-common.c pq_verify_peer_name_matches_certificate) and in the
 * documentation (libpq-ssl.html, 34.19.1 "Client Verification of Server
 * Certificates" and table 34.1 "SSL Mode Descriptions").
 *
 * The model assumes OpenSSL 3 at its default security level on the client,
 * which forbids TLS 1.0 and 1.1 whatever ssl_min_protocol_version says. */
#include <string.h>

#include "st.h"
#include "vocab.h"

/* What the client has loaded as trust anchors when TLS starts. */
typedef enum {
    ROOT_NONE,    /* no file: no verification; verify-* fail */
    ROOT_LOADED,  /* a file with certificates: SSL_VERIFY_PEER */
    ROOT_EMPTY,   /* a file without certificates: load fails */
} root_state;

typedef struct model {
    const st_case *c;
    int major;
    int verify_mode;  /* verify-ca or verify-full */
    int verify_full;
    int direct;
    root_state root;
    const char *verify; /* declared X509_verify_cert result with the loaded file */
} model;

static st_expectation mk(st_class cls, const char *rule, const char *why)
{
    st_expectation e = {cls, rule, why};
    return e;
}

static int streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}


/* The outcome of a plaintext session: the server's require_secure_transport
 * FATAL comes at startup, before authentication (R6); channel_binding=require
 * cannot be met without TLS (R15). */
static st_expectation plaintext_outcome(const model *m)
{
    if (m->c->require_secure_transport)
        return mk(ST_SSL_REQUIRED, "R6",
                  "the server rejects the plaintext startup with FATAL 28000 (no encryption)");
    if (streq(m->c->channel_binding, "require"))
        return mk(ST_AUTH_FAILED, "R15",
                  "channel_binding=require cannot be satisfied on a plaintext connection");
    return mk(ST_CONNECTED_PLAIN, "R5", "the session runs without TLS");
}

/* The outcome once the server has agreed to TLS ('S', or a direct
 * ClientHello the server accepts). */
static st_expectation tls_outcome(const model *m)
{
    const st_case *c = m->c;
    int client_min, client_max, server_min, server_max;

    /* initialize_SSL runs before the ClientHello. */
    if (m->root == ROOT_EMPTY)
        return mk(ST_CLIENT_CONFIG_ERROR, "R9",
                  "SSL_CTX_load_verify_locations fails on a file without certificates: "
                  "could not read root certificate file");
    if (m->root == ROOT_NONE && m->verify_mode)
        return mk(ST_CLIENT_CONFIG_ERROR, "R8",
                  "verify-ca/verify-full need a root certificate file: it does not exist");

    /* Protocol bounds: libpq's default minimum is TLSv1.2 (PG13+), and
     * OpenSSL 3 at security level >= 1 refuses TLS 1.0/1.1 anyway. */
    client_min = vc_tls_rank(c->ssl_min_protocol_version);
    if (client_min < 12)
        client_min = 12;
    client_max = vc_tls_rank(c->ssl_max_protocol_version);
    if (client_max <= 0)
        client_max = 13;
    server_min = vc_tls_rank(c->server_min_protocol);
    if (server_min <= 0)
        server_min = 10;
    server_max = vc_tls_rank(c->server_max_protocol);
    if (server_max <= 0)
        server_max = 13;
    if (client_min > server_max || server_min > client_max || client_min > client_max)
        return mk(ST_PROTOCOL_VERSION, "R10",
                  "the client's and the server's TLS protocol ranges do not overlap");

    if (m->root == ROOT_LOADED) {
        const char *v = m->verify;
        /* Only "expired" (past notAfter) gets its own class: OpenSSL sends
         * alert certificate_expired for it, but bad_certificate for a
         * certificate that is not yet valid, and libpq prints "certificate
         * verify failed" for both, so for libpq not-yet-valid is R11. */
        if (streq(v, "expired"))
            return mk(ST_EXPIRED, "R12",
                      "a root file is loaded, so the chain is verified: a certificate has "
                      "expired (alert certificate_expired)");
        if (!streq(v, "ok"))
            return mk(ST_UNTRUSTED_CHAIN, "R11",
                      "a root file is loaded, so the chain is verified, and it does not "
                      "verify against that file (certificate verify failed; also a "
                      "not-yet-valid or too-weak certificate)");
    }
    if (m->verify_full && !c->host_match)
        return mk(ST_HOSTNAME_MISMATCH, "R13",
                  "verify-full checks the host name after the handshake and it does not match");
    if (streq(c->channel_binding, "require") && !streq(c->server_auth, "scram-sha-256"))
        return mk(ST_AUTH_FAILED, "R15",
                  "channel_binding=require needs SCRAM-SHA-256-PLUS; the server's method has "
                  "no channel binding");
    /* R20: Microsoft Entra ID token cases (docs/entra.md "Token rows"):
     * the session is up; what the token does decides. */
    if (c->token && strcmp(c->token, "valid") != 0) {
        if (streq(c->token, "unknown-identity"))
            return mk(ST_CLIENT_CONFIG_ERROR, "R20",
                      "the token service does not know the identity the client asks for: the "
                      "client gets no token and has no password to send");
        return mk(ST_AUTH_FAILED, "R20",
                  "the server refuses the token (expired, not yet valid, wrong audience, "
                  "another signer, or no role for its principal): FATAL 28000/28P01");
    }
    if (m->root == ROOT_LOADED && !m->verify_mode)
        return mk(ST_CONNECTED_TLS, "R7",
                  "a root file is loaded, so the chain is verified even under this sslmode "
                  "(acts as verify-ca), and it verifies");
    return mk(ST_CONNECTED_TLS, "R14", "the handshake and the checks this sslmode asks for pass");
}

static int is_tls_failure(st_class cls)
{
    /* Anything that went wrong while establishing TLS (R16): prefer then
     * reconnects without TLS. Channel-binding errors happen during
     * authentication on the client side and do not trigger the retry. */
    return cls == ST_UNTRUSTED_CHAIN || cls == ST_EXPIRED || cls == ST_PROTOCOL_VERSION ||
           cls == ST_NO_SHARED_CIPHER || cls == ST_CLIENT_CONFIG_ERROR ||
           cls == ST_HOSTNAME_MISMATCH;
}

st_expectation st_expect(const st_case *c, int libpq_major)
{
    model m;
    const char *mode = c->sslmode ? c->sslmode : "prefer";

    memset(&m, 0, sizeof(m));
    m.c = c;
    m.major = libpq_major > 0 ? libpq_major : ST_LIBPQ_REFERENCE_MAJOR;
    m.verify_mode = strncmp(mode, "verify-", 7) == 0;
    m.verify_full = strcmp(mode, "verify-full") == 0;
    m.direct = streq(c->sslnegotiation, "direct");

    /* R1: connection options this libpq does not know are rejected by
     * conninfo parsing: invalid connection option "...". */
    if (c->sslnegotiation && m.major < 17)
        return mk(ST_CLIENT_CONFIG_ERROR, "R1", "libpq before 17 has no sslnegotiation option");
    if (c->sslsni && m.major < 14)
        return mk(ST_CLIENT_CONFIG_ERROR, "R1", "libpq before 14 has no sslsni option");
    if ((c->channel_binding || c->ssl_min_protocol_version || c->ssl_max_protocol_version) &&
        m.major < 13)
        return mk(ST_CLIENT_CONFIG_ERROR, "R1",
                  "libpq before 13 has no channel_binding or ssl_*_protocol_version options");

    /* R2: connectOptions2 (PG17): direct negotiation only with require+. */
    if (m.direct && strcmp(mode, "require") != 0 && !m.verify_mode)
        return mk(ST_CLIENT_CONFIG_ERROR, "R2",
                  "weak sslmode may not be used with sslnegotiation=direct");
    /* R3: connectOptions2 (PG16+): sslrootcert=system demands verify-full. */
    if (c->root_kind == ST_ROOT_SYSTEM && m.major >= 16 && !m.verify_full)
        return mk(ST_CLIENT_CONFIG_ERROR, "R3",
                  "weak sslmode may not be used with sslrootcert=system (use verify-full)");
    /* R4: both bounds given and min > max. */
    if (c->ssl_min_protocol_version && c->ssl_max_protocol_version &&
        vc_tls_rank(c->ssl_min_protocol_version) > vc_tls_rank(c->ssl_max_protocol_version))
        return mk(ST_CLIENT_CONFIG_ERROR, "R4", "invalid SSL protocol version range");

    /* Which root file libpq loads (initialize_SSL). */
    switch (c->root_kind) {
    case ST_ROOT_FILE:
        m.root = ROOT_LOADED;
        m.verify = c->verify;
        break;
    case ST_ROOT_EMPTY:
        m.root = ROOT_EMPTY;
        break;
    case ST_ROOT_MISSING:
        m.root = ROOT_NONE;
        break;
    case ST_ROOT_SYSTEM:
        /* PG16+: the default verify paths (our isolated SSL_CERT_FILE/DIR).
         * Before 16, "system" is a relative file name that does not exist. */
        m.root = m.major >= 16 ? ROOT_LOADED : ROOT_NONE;
        m.verify = c->verify;
        break;
    case ST_ROOT_UNSET:
    default:
        /* The default ~/.postgresql/root.crt, used whenever it exists. */
        if (c->home_root_crt_store) {
            m.root = streq(c->home_verify, "empty") ? ROOT_EMPTY : ROOT_LOADED;
            m.verify = c->home_verify;
        } else {
            m.root = ROOT_NONE;
        }
        break;
    }

    if (strcmp(mode, "disable") == 0)
        return plaintext_outcome(&m);

    if (strcmp(mode, "allow") == 0) {
        /* Plaintext first; libpq retries with TLS only when the server
         * answered the plaintext startup with an error (R17). */
        st_expectation p = plaintext_outcome(&m);
        if (p.cls != ST_SSL_REQUIRED)
            return p;
        if (!c->server_ssl)
            return p;
        st_expectation t = tls_outcome(&m);
        if (t.cls == ST_CONNECTED_TLS)
            return mk(ST_CONNECTED_TLS, "R17",
                      "allow: the plaintext attempt is refused (FATAL 28000), the TLS retry "
                      "succeeds");
        return t;
    }

    if (strcmp(mode, "prefer") == 0) {
        if (!c->server_ssl)
            return plaintext_outcome(&m); /* 'N': plaintext on the same socket */
        st_expectation t = tls_outcome(&m);
        if (is_tls_failure(t.cls)) {
            st_expectation p = plaintext_outcome(&m);
            if (p.cls == ST_CONNECTED_PLAIN)
                return mk(ST_CONNECTED_PLAIN, "R16",
                          "prefer: TLS fails, libpq reconnects without TLS and the server "
                          "allows it");
            if (p.cls == ST_SSL_REQUIRED)
                return mk(ST_SSL_REQUIRED, "R16",
                          "prefer: TLS fails, libpq reconnects without TLS and the server "
                          "rejects it with FATAL 28000; that is the last error");
            return p;
        }
        return t;
    }

    /* require, verify-ca, verify-full: TLS or nothing. */
    if (m.direct) {
        /* Direct: initialize_SSL runs before the first byte is sent. */
        if (m.root == ROOT_NONE && m.verify_mode)
            return mk(ST_CLIENT_CONFIG_ERROR, "R8",
                      "verify-ca/verify-full need a root certificate file: it does not exist");
        if (!c->server_ssl || !c->server_direct_tls)
            return mk(ST_SERVER_REFUSED_SSL, "R18",
                      "sslnegotiation=direct: the server does not accept a direct TLS "
                      "handshake, and direct never falls back");
        return tls_outcome(&m);
    }
    if (!c->server_ssl)
        return mk(ST_SERVER_REFUSED_SSL, "R19",
                  "the server answers the SSLRequest with 'N': server does not support SSL, "
                  "but SSL was required");
    return tls_outcome(&m);
}
