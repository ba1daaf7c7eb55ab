/* pgtls suites: the classifier.
 *
 * One observed class per case and client from two sources of evidence:
 * 1. the mock server's event for the last connection of the case
 *    (docs/event-log.md): it is the TLS endpoint, so it sees alerts even
 *    under TLS 1.3 where they are encrypted, and it knows whether a session
 *    reached startup or got a FATAL;
 * 2. the adapter's result (docs/case-protocol.md): connected/tls flags and
 *    the client's error text, matched against the pattern table below
 *    (docs/expectations.md, "Classifier").
 * Server-side evidence wins where it is decisive; error text decides the
 * rest (and is the only evidence for failures before any connection). */
#include <string.h>
#include <strings.h>

#include "st.h"

/* ---- Error-text patterns, per driver family ---- */

typedef struct pattern {
    st_class cls;
    const char *text; /* case-insensitive substring */
} pattern;

/* The class whose pattern matches LAST in the text wins: libpq appends the
 * error of each attempt (prefer: TLS error then the plaintext FATAL; allow:
 * FATAL then the TLS error), and drivers append the specific cause after the
 * generic one ("certificate verify failed: certificate has expired"). Ties
 * (same end offset) go to the earlier row. */
static const pattern patterns[] = {
    /* client-side configuration: libpq */
    {ST_CLIENT_CONFIG_ERROR, "does not exist\nEither provide the file"},
    {ST_CLIENT_CONFIG_ERROR, "root certificate file"},
    {ST_CLIENT_CONFIG_ERROR, "could not read root certificate file"},
    {ST_CLIENT_CONFIG_ERROR, "weak sslmode"},
    {ST_CLIENT_CONFIG_ERROR, "invalid connection option"},
    {ST_CLIENT_CONFIG_ERROR, "invalid sslmode value"},
    {ST_CLIENT_CONFIG_ERROR, "invalid SSL protocol version range"},
    {ST_CLIENT_CONFIG_ERROR, "invalid \"ssl_min_protocol_version\""},
    {ST_CLIENT_CONFIG_ERROR, "invalid \"ssl_max_protocol_version\""},
    {ST_CLIENT_CONFIG_ERROR, "invalid sslnegotiation value"},
    {ST_CLIENT_CONFIG_ERROR, "invalid channel_binding value"},
    {ST_CLIENT_CONFIG_ERROR, "sslrootcert=system is not supported"},
    /* JSSE/pgjdbc, Node, tokio-postgres, asyncpg, .NET */
    {ST_CLIENT_CONFIG_ERROR, "Could not open SSL root certificate file"},
    {ST_CLIENT_CONFIG_ERROR, "requires specifying a CA"},
    {ST_CLIENT_CONFIG_ERROR, "invalid value for option"},
    {ST_CLIENT_CONFIG_ERROR, "unknown option"},
    {ST_CLIENT_CONFIG_ERROR, "ClientConfigurationError"},
    {ST_CLIENT_CONFIG_ERROR, "ENOENT"},
    {ST_CLIENT_CONFIG_ERROR, "please use VerifyFull or VerifyCA"},
    {ST_CLIENT_CONFIG_ERROR, "Invalid sslmode"},
    /* Microsoft Entra ID: the Azure SDK got no token (azure-identity,
     * @azure/identity, azidentity all name the credential) */
    {ST_CLIENT_CONFIG_ERROR, "ManagedIdentityCredential"},
    /* the instance metadata service's answer for an unknown client id,
     * quoted at the end of the SDKs' "... authentication failed" texts */
    {ST_CLIENT_CONFIG_ERROR, "Identity not found"},
    /* Go (lib/pq): the root file is read after the TCP connection opened */
    {ST_CLIENT_CONFIG_ERROR, "couldn't parse pem from sslrootcert"},
    {ST_CLIENT_CONFIG_ERROR, ": no such file or directory"},

    /* host names */
    {ST_HOSTNAME_MISMATCH, "does not match host name"},
    {ST_HOSTNAME_MISMATCH, "could not get server's host name from server certificate"},
    {ST_HOSTNAME_MISMATCH, "could not be verified by hostnameverifier"},
    {ST_HOSTNAME_MISMATCH, "No subject alternative DNS name matching"},
    {ST_HOSTNAME_MISMATCH, "No subject alternative names"},
    {ST_HOSTNAME_MISMATCH, "does not match certificate's altnames"},
    {ST_HOSTNAME_MISMATCH, "ERR_TLS_CERT_ALTNAME_INVALID"},
    {ST_HOSTNAME_MISMATCH, "x509: certificate is valid for"},
    {ST_HOSTNAME_MISMATCH, "because it doesn't contain any IP SANs"},
    {ST_HOSTNAME_MISMATCH, "x509: certificate relies on legacy Common Name"},
    {ST_HOSTNAME_MISMATCH, "Hostname mismatch"},
    {ST_HOSTNAME_MISMATCH, "IP address mismatch"},
    {ST_HOSTNAME_MISMATCH, "NotValidForName"},
    {ST_HOSTNAME_MISMATCH, "RemoteCertificateNameMismatch"},
    {ST_HOSTNAME_MISMATCH, "hostname mismatch"},
    {ST_HOSTNAME_MISMATCH, "invalid peer certificate: certificate not valid for name"},

    /* validity period */
    {ST_EXPIRED, "certificate has expired"},
    {ST_EXPIRED, "alert certificate expired"},
    {ST_EXPIRED, "CERT_HAS_EXPIRED"},
    {ST_EXPIRED, "CertificateExpiredException"},
    {ST_EXPIRED, "validity check failed"},
    {ST_EXPIRED, "x509: certificate has expired or is not yet valid"},
    {ST_EXPIRED, "certificate: Expired"},
    {ST_EXPIRED, "InvalidCertificate(Expired"},
    /* rustls >= 0.23.14 spells the variants out (ExpiredContext ...) */
    {ST_EXPIRED, "invalid peer certificate: certificate expired"},

    /* chain trust (includes too-weak keys/digests and certificates not yet
     * valid, see docs/expectations.md) */
    {ST_UNTRUSTED_CHAIN, "certificate is not yet valid"},
    {ST_UNTRUSTED_CHAIN, "CERT_NOT_YET_VALID"},
    {ST_UNTRUSTED_CHAIN, "CertificateNotYetValidException"},
    {ST_UNTRUSTED_CHAIN, "NotValidYet"},
    {ST_UNTRUSTED_CHAIN, "invalid peer certificate: certificate not valid yet"},
    /* rustls/webpki refuse SHA-1 signatures outright (too-weak) */
    {ST_UNTRUSTED_CHAIN, "UnsupportedSignatureAlgorithm"},
    {ST_UNTRUSTED_CHAIN, "certificate verify failed"},
    {ST_UNTRUSTED_CHAIN, "unable to get local issuer certificate"},
    {ST_UNTRUSTED_CHAIN, "unable to get issuer certificate"},
    {ST_UNTRUSTED_CHAIN, "unable to verify the first certificate"},
    {ST_UNTRUSTED_CHAIN, "self-signed certificate"},
    {ST_UNTRUSTED_CHAIN, "self signed certificate"},
    {ST_UNTRUSTED_CHAIN, "alert unknown ca"},
    {ST_UNTRUSTED_CHAIN, "alert bad certificate"},
    {ST_UNTRUSTED_CHAIN, "ee key too small"},
    {ST_UNTRUSTED_CHAIN, "ca md too weak"},
    /* X509_verify_cert_error_string() spellings (Node, Python) */
    {ST_UNTRUSTED_CHAIN, "CA signature digest algorithm too weak"},
    {ST_UNTRUSTED_CHAIN, "EE certificate key too weak"},
    {ST_UNTRUSTED_CHAIN, "SELF_SIGNED_CERT_IN_CHAIN"},
    {ST_UNTRUSTED_CHAIN, "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"},
    {ST_UNTRUSTED_CHAIN, "UNABLE_TO_VERIFY_LEAF_SIGNATURE"},
    {ST_UNTRUSTED_CHAIN, "DEPTH_ZERO_SELF_SIGNED_CERT"},
    {ST_UNTRUSTED_CHAIN, "PKIX path building failed"},
    {ST_UNTRUSTED_CHAIN, "unable to find valid certification path"},
    {ST_UNTRUSTED_CHAIN, "Path does not chain with any of the trust anchors"},
    {ST_UNTRUSTED_CHAIN, "x509: certificate signed by unknown authority"},
    {ST_UNTRUSTED_CHAIN, "UnknownIssuer"},
    {ST_UNTRUSTED_CHAIN, "BadSignature"},
    {ST_UNTRUSTED_CHAIN, "RemoteCertificateChainErrors"},
    {ST_UNTRUSTED_CHAIN, "remote certificate was rejected"},
    {ST_UNTRUSTED_CHAIN, "remote certificate is invalid"},
    {ST_UNTRUSTED_CHAIN, "CERTIFICATE_VERIFY_FAILED"},

    /* protocol versions */
    {ST_PROTOCOL_VERSION, "alert protocol version"},
    {ST_PROTOCOL_VERSION, "unsupported protocol"},
    {ST_PROTOCOL_VERSION, "no protocols available"},
    {ST_PROTOCOL_VERSION, "wrong version number"},
    {ST_PROTOCOL_VERSION, "protocol version not supported"},
    {ST_PROTOCOL_VERSION, "TLSV1_ALERT_PROTOCOL_VERSION"},
    {ST_PROTOCOL_VERSION, "No appropriate protocol"},
    {ST_PROTOCOL_VERSION, "protocol_version"},
    {ST_PROTOCOL_VERSION, "ERR_SSL_UNSUPPORTED_PROTOCOL"},
    {ST_PROTOCOL_VERSION, "PeerIncompatible"},
    /* OpenSSL 3 negotiated TLS 1.0/1.1 (no minimum set by the client) and
     * then refuses the version's MD5-SHA1 ServerKeyExchange signature: the
     * protocol version is what fails */
    {ST_PROTOCOL_VERSION, "legacy sigalg disallowed or unsupported"},

    /* ciphers */
    {ST_NO_SHARED_CIPHER, "no shared cipher"},
    {ST_NO_SHARED_CIPHER, "alert handshake failure"},
    {ST_NO_SHARED_CIPHER, "no cipher match"},
    {ST_NO_SHARED_CIPHER, "no cipher suite supported"},
    {ST_NO_SHARED_CIPHER, "handshake_failure"},
    {ST_NO_SHARED_CIPHER, "insufficient security"},

    /* the server said 'N' */
    {ST_SERVER_REFUSED_SSL, "server does not support SSL"},
    {ST_SERVER_REFUSED_SSL, "does not support SSL connections"},
    {ST_SERVER_REFUSED_SSL, "Server refuses SSL"},
    {ST_SERVER_REFUSED_SSL, "server refused TLS connection"},
    {ST_SERVER_REFUSED_SSL, "The server does not support SSL"},
    {ST_SERVER_REFUSED_SSL, "SSL is not enabled on the server"},
    {ST_SERVER_REFUSED_SSL, "SSL SYSCALL error: EOF detected"},

    /* the server's plaintext FATAL */
    {ST_SSL_REQUIRED, "no encryption"},
    {ST_SSL_REQUIRED, "SSL connection is required"},
    {ST_SSL_REQUIRED, "connection insecure"},
    {ST_SSL_REQUIRED, "SSL off"},

    /* authentication */
    {ST_AUTH_FAILED, "password authentication failed"},
    {ST_AUTH_FAILED, "channel binding"},
    {ST_AUTH_FAILED, "28P01"},
    {ST_AUTH_FAILED, "authentication failed"},

    /* a client option forwarded as a startup parameter (FATAL 42704) */
    {ST_CLIENT_CONFIG_ERROR, "unrecognized configuration parameter"},

    /* time */
    {ST_TIMEOUT, "timeout expired"},
    {ST_TIMEOUT, "timed out"},
};

/* Offset just past the last case-insensitive occurrence of needle, or 0. */
static size_t last_match_end(const char *hay, const char *needle)
{
    size_t nl = strlen(needle), best = 0;
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, nl) == 0)
            best = (size_t)(p - hay) + nl;
    return best;
}

/* Generic "the certificate was rejected" texts: OpenSSL appends "certificate
 * verify failed" after the specific reason (s_client: "verify error:num=62:
 * hostname mismatch ... certificate verify failed"), so when one of these is
 * the last match, an expiry or host-name cause anywhere in the text wins. */
static int is_generic_reject(const char *text)
{
    return strcmp(text, "certificate verify failed") == 0 ||
           strcmp(text, "CERTIFICATE_VERIFY_FAILED") == 0 ||
           strcmp(text, "alert bad certificate") == 0;
}

st_class st_classify_error_text(const char *error)
{
    st_class best = ST_CLASS_NONE, cause = ST_CLASS_NONE;
    size_t best_end = 0, cause_end = 0;
    int best_generic = 0;

    if (!error || !*error)
        return ST_CLASS_NONE;
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        size_t end = last_match_end(error, patterns[i].text);
        if (end > best_end) {
            best_end = end;
            best = patterns[i].cls;
            best_generic = is_generic_reject(patterns[i].text);
        }
        if (end > cause_end &&
            (patterns[i].cls == ST_EXPIRED || patterns[i].cls == ST_HOSTNAME_MISMATCH)) {
            cause_end = end;
            cause = patterns[i].cls;
        }
    }
    if (best_generic && cause != ST_CLASS_NONE)
        return cause;
    return best;
}

/* ---- Event reading: the documented fields only (docs/event-log.md) ----
 *
 * The classifier reads these fields of a mock event and no others; each is a
 * row of the event-log contract's field table. A field the mock does not
 * write under that name cannot be read by mistake: a renamed field fails the
 * unit test that checks this table against docs/event-log.md. */

#define ST_EVENT_FIELDS(X)                                                                         \
    X(EV_TLS_START, "tls_start")                                                                   \
    X(EV_SSL_RESPONSE, "ssl_response")                                                             \
    X(EV_HANDSHAKE, "handshake")                                                                   \
    X(EV_CLIENT_ALERT, "client_alert")                                                             \
    X(EV_SERVER_ALERT, "server_alert")                                                             \
    X(EV_STARTUP, "startup")                                                                       \
    X(EV_AUTH_RESULT, "auth_result")                                                               \
    X(EV_FATAL, "fatal")                                                                           \
    X(EV_END_REASON, "end_reason")

typedef enum {
#define EV_ENUM(e, name) e,
    ST_EVENT_FIELDS(EV_ENUM)
#undef EV_ENUM
        EV_FIELD_COUNT
} ev_field;

static const char *const ev_field_names[] = {
#define EV_NAME(e, name) name,
    ST_EVENT_FIELDS(EV_NAME)
#undef EV_NAME
        NULL};

const char *const *st_classify_event_fields(void)
{
    return ev_field_names;
}

static const char *ev_str(json_t *ev, ev_field f)
{
    json_t *v = json_object_get(ev, ev_field_names[f]);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* 1 true, 0 false, -1 absent or not a boolean. */
static int ev_bool(json_t *ev, ev_field f)
{
    json_t *v = json_object_get(ev, ev_field_names[f]);
    return json_is_boolean(v) ? json_is_true(v) : -1;
}

/* fatal.sqlstate, or NULL when the mock sent no FATAL. */
static const char *ev_sqlstate(json_t *ev)
{
    json_t *f = json_object_get(ev, ev_field_names[EV_FATAL]);
    json_t *v = json_is_object(f) ? json_object_get(f, "sqlstate") : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static st_class alert_class(const char *alert, const char **evidence, int from_client)
{
    if (!alert)
        return ST_CLASS_NONE;
    if (strcmp(alert, "unknown_ca") == 0 || strcmp(alert, "bad_certificate") == 0 ||
        strcmp(alert, "unsupported_certificate") == 0 ||
        strcmp(alert, "certificate_unknown") == 0 || strcmp(alert, "decrypt_error") == 0 ||
        strcmp(alert, "certificate_revoked") == 0) {
        *evidence = from_client ? "server event: the client sent a certificate alert"
                                : "server event: certificate alert";
        return ST_UNTRUSTED_CHAIN;
    }
    if (strcmp(alert, "certificate_expired") == 0) {
        *evidence = "server event: the client sent alert certificate_expired";
        return ST_EXPIRED;
    }
    if (strcmp(alert, "protocol_version") == 0) {
        *evidence = "server event: alert protocol_version";
        return ST_PROTOCOL_VERSION;
    }
    if (strcmp(alert, "handshake_failure") == 0 || strcmp(alert, "insufficient_security") == 0) {
        *evidence = "server event: alert handshake_failure (no shared cipher)";
        return ST_NO_SHARED_CIPHER;
    }
    if (strcmp(alert, "no_application_protocol") == 0) {
        *evidence = "server event: alert no_application_protocol (direct TLS without ALPN)";
        return ST_SERVER_REFUSED_SSL;
    }
    return ST_CLASS_NONE;
}

static int is_generic_alert(const char *alert)
{
    return strcmp(alert, "bad_certificate") == 0 || strcmp(alert, "certificate_unknown") == 0 ||
           strcmp(alert, "unsupported_certificate") == 0 || strcmp(alert, "decrypt_error") == 0;
}

/* A client that connected: TLS or not, from its own report, else from the
 * server event's handshake. */
static st_observation classify_connected(json_t *result, json_t *ev)
{
    st_observation o;
    json_t *tls = json_object_get(result, "tls");
    if (json_is_boolean(tls)) {
        o.cls = json_is_true(tls) ? ST_CONNECTED_TLS : ST_CONNECTED_PLAIN;
        o.evidence = "the client connected and reports whether TLS is in use";
    } else if (ev) {
        const char *hs = ev_str(ev, EV_HANDSHAKE);
        o.cls = hs && strcmp(hs, "ok") == 0 ? ST_CONNECTED_TLS : ST_CONNECTED_PLAIN;
        o.evidence = "the client connected; the server event's handshake says which";
    } else {
        o.cls = ST_CONNECTED_TLS;
        o.evidence = "the client connected (TLS use not reported; assumed)";
    }
    return o;
}

/* A client that did not connect, with the server event of its last
 * connection: 1 when the event decides the class (written to *o), 0 when
 * the error text has to. */
static int classify_failed_event(json_t *ev, st_class text_cls, st_observation *o)
{
    const char *sqlstate = ev_sqlstate(ev);
    const char *calert = ev_str(ev, EV_CLIENT_ALERT);
    const char *salert = ev_str(ev, EV_SERVER_ALERT);
    const char *ssl_response = ev_str(ev, EV_SSL_RESPONSE);
    const char *hs = ev_str(ev, EV_HANDSHAKE);
    const char *neg = ev_str(ev, EV_TLS_START);
    const char *auth = ev_str(ev, EV_AUTH_RESULT);
    const char *end_reason = ev_str(ev, EV_END_REASON);
    int tls_up = hs && strcmp(hs, "ok") == 0;
    int startup = ev_bool(ev, EV_STARTUP);
    int tls_attempted = (ssl_response && strcmp(ssl_response, "S") == 0) ||
                        (neg && strstr(neg, "direct") != NULL) ||
                        (hs && strcmp(hs, "failed") == 0);
    st_class c;

    if (sqlstate && strcmp(sqlstate, "28P01") == 0) {
        o->cls = ST_AUTH_FAILED;
        o->evidence = "server event: FATAL 28P01 (authentication failed)";
        return 1;
    }
    if (sqlstate && strcmp(sqlstate, "42704") == 0) {
        /* The startup packet carried a parameter the server does not
         * know (FATAL 42704 "unrecognized configuration parameter"): the
         * client forwarded one of its connection options (postgres.js
         * sends sslrootcert) as a GUC. That is the client's
         * configuration, not a TLS or authentication outcome. */
        o->cls = ST_CLIENT_CONFIG_ERROR;
        o->evidence = "server event: FATAL 42704 (a client option was sent as an unknown "
                     "startup parameter)";
        return 1;
    }
    if (sqlstate && strcmp(sqlstate, "28000") == 0) {
        /* require_secure_transport's FATAL comes on a session without
         * TLS (PostgreSQL: pg_hba "no encryption"). */
        o->cls = tls_up ? ST_AUTH_FAILED : ST_SSL_REQUIRED;
        o->evidence = tls_up ? "server event: FATAL 28000 over TLS (rejected)"
                            : "server event: FATAL 28000 on a plaintext session";
        return 1;
    }
    if ((c = alert_class(calert, &o->evidence, 1)) != ST_CLASS_NONE) {
        /* bad_certificate and certificate_unknown say only "rejected":
         * OpenSSL sends bad_certificate for a not-yet-valid or too-weak
         * certificate, JSSE certificate_unknown for every failure, Go
         * bad_certificate for a host name mismatch. A specific cause in
         * the error text wins over them (unknown_ca and
         * certificate_expired are specific and win over text). */
        if (is_generic_alert(calert) && text_cls != ST_CLASS_NONE &&
            text_cls != ST_UNTRUSTED_CHAIN) {
            o->cls = text_cls;
            o->evidence = "server event: generic certificate alert; the error text names "
                         "the cause";
            return 1;
        }
        o->cls = c;
        return 1;
    }
    if ((c = alert_class(salert, &o->evidence, 0)) != ST_CLASS_NONE) {
        o->cls = c;
        return 1;
    }
    if (ssl_response && strcmp(ssl_response, "N") == 0 && startup != 1) {
        o->cls = ST_SERVER_REFUSED_SSL;
        o->evidence = "server event: the server answered 'N' and the client gave up";
        return 1;
    }
    if (tls_up && startup != 1 && end_reason && strstr(end_reason, "without ALPN")) {
        /* PostgreSQL 17 ProcessSSLStartup: a direct handshake that offered no
         * ALPN completes, then the server closes (COMMERROR, nothing sent). */
        o->cls = ST_SERVER_REFUSED_SSL;
        o->evidence = "server event: direct TLS without ALPN, the server closed after the handshake";
        return 1;
    }
    if (tls_up && startup != 1) {
        /* libpq closes right after a completed handshake for a host name
         * mismatch (fe-secure-common.c); other drivers say why in text. */
        if (text_cls != ST_CLASS_NONE) {
            o->cls = text_cls;
            o->evidence = "server event: handshake completed, no startup; error text";
        } else {
            o->cls = ST_HOSTNAME_MISMATCH;
            o->evidence = "server event: handshake completed, client closed before startup";
        }
        return 1;
    }
    if (tls_attempted && !tls_up) {
        /* 'S' (or a direct ClientHello) and the client went away without
         * a TLS alert: libpq does this when it cannot load its root file
         * (initialize_SSL fails before the ClientHello). */
        o->cls = text_cls != ST_CLASS_NONE ? text_cls : ST_CLIENT_CONFIG_ERROR;
        o->evidence = "server event: TLS started, the client closed without a TLS alert";
        return 1;
    }
    if (!tls_attempted && startup != 1 && end_reason &&
        strstr(end_reason, "invalid length of startup packet")) {
        o->cls = ST_SERVER_REFUSED_SSL;
        o->evidence = "server event: a direct TLS ClientHello read as a bad startup packet "
                     "(the server does not accept direct TLS)";
        return 1;
    }
    if (auth && strcmp(auth, "failed") == 0) {
        o->cls = text_cls == ST_AUTH_FAILED || text_cls == ST_CLASS_NONE ? ST_AUTH_FAILED
                                                                        : text_cls;
        o->evidence = "server event: authentication failed";
        return 1;
    }
    return 0;
}

st_observation st_classify(json_t *events, json_t *result)
{
    st_observation o = {ST_CLASS_NONE, "nothing to classify"};
    json_t *ev = NULL;
    const char *error = NULL;
    st_class text_cls;

    if (!result || !json_is_object(result)) {
        o.cls = ST_CLIENT_CRASHED;
        o.evidence = "the adapter gave no result (it died)";
        return o;
    }
    if (json_is_true(json_object_get(result, "timeout"))) {
        o.cls = ST_TIMEOUT;
        o.evidence = "the adapter did not answer in time";
        return o;
    }
    if (json_is_true(json_object_get(result, "crashed"))) {
        o.cls = ST_CLIENT_CRASHED;
        o.evidence = "the adapter died during the case";
        return o;
    }
    if (json_is_string(json_object_get(result, "unsupported"))) {
        o.cls = ST_UNSUPPORTED;
        o.evidence = "the adapter cannot express this case";
        return o;
    }
    if (json_is_array(events) && json_array_size(events) > 0)
        ev = json_array_get(events, json_array_size(events) - 1);
    if (ev && !json_is_object(ev))
        ev = NULL;

    if (json_is_true(json_object_get(result, "connected")))
        return classify_connected(result, ev);

    if (json_is_string(json_object_get(result, "error")))
        error = json_string_value(json_object_get(result, "error"));
    text_cls = st_classify_error_text(error);

    if (ev && classify_failed_event(ev, text_cls, &o))
        return o;
    if (text_cls != ST_CLASS_NONE) {
        o.cls = text_cls;
        o.evidence = "error text pattern";
        return o;
    }
    if (!ev && (!json_is_array(events) || json_array_size(events) == 0) && error) {
        o.cls = ST_CLIENT_CONFIG_ERROR;
        o.evidence = "no connection reached the server and the error matches no pattern";
        return o;
    }
    o.cls = ST_CLASS_NONE;
    o.evidence = "no decisive server event and no known error text";
    return o;
}
