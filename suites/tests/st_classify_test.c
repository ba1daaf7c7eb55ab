/* pgtls: unit tests of the classifier: rows of {events, result, class}. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "st.h"
#include "support.h"

static const struct {
    const char *name;
    const char *events; /* JSON array or NULL */
    const char *result; /* JSON object or NULL (adapter died) */
    st_class expected;
} rows[] = {
    {"a connected TLS session is connected-tls",
     "[{\"ssl_response\":\"S\",\"handshake\":\"ok\",\"startup\":true}]",
     "{\"connected\":true,\"tls\":true}", ST_CONNECTED_TLS},
    {"a connected plaintext session is connected-plain", "[{\"ssl_response\":\"N\",\"startup\":true}]",
     "{\"connected\":true,\"tls\":false}", ST_CONNECTED_PLAIN},
    {"a connected client that cannot tell uses the server's handshake (none: plaintext)",
     "[{\"tls_start\":\"none\",\"handshake\":\"none\",\"startup\":true}]",
     "{\"connected\":true,\"tls\":null}", ST_CONNECTED_PLAIN},
    {"a connected client that cannot tell uses the server's handshake",
     "[{\"handshake\":\"ok\",\"startup\":true}]", "{\"connected\":true}", ST_CONNECTED_TLS},
    {"alert unknown_ca from the client is an untrusted chain",
     "[{\"ssl_response\":\"S\",\"handshake\":\"failed\",\"client_alert\":\"unknown_ca\"}]",
     "{\"connected\":false,\"error\":\"SSL error: certificate verify failed\"}", ST_UNTRUSTED_CHAIN},
    {"alert bad_certificate (a too-weak key) is an untrusted chain",
     "[{\"handshake\":\"failed\",\"client_alert\":\"bad_certificate\"}]",
     "{\"connected\":false,\"error\":\"x\"}", ST_UNTRUSTED_CHAIN},
    {"alert certificate_expired is expired",
     "[{\"handshake\":\"failed\",\"client_alert\":\"certificate_expired\"}]",
     "{\"connected\":false,\"error\":\"SSL error: certificate verify failed\"}", ST_EXPIRED},
    {"the server's protocol_version alert is protocol-version",
     "[{\"handshake\":\"failed\",\"server_alert\":\"protocol_version\"}]",
     "{\"connected\":false,\"error\":\"SSL error: tlsv1 alert protocol version\"}", ST_PROTOCOL_VERSION},
    {"the server's handshake_failure alert is no-shared-cipher",
     "[{\"handshake\":\"failed\",\"server_alert\":\"handshake_failure\"}]",
     "{\"connected\":false,\"error\":\"sslv3 alert handshake failure\"}", ST_NO_SHARED_CIPHER},
    {"a completed handshake closed before startup with host text is hostname-mismatch",
     "[{\"ssl_response\":\"S\",\"handshake\":\"ok\",\"startup\":false,\"end\":\"close_notify\"}]",
     "{\"connected\":false,\"error\":\"server certificate for \\\"x.example.com\\\" does not match host name \\\"y\\\"\"}",
     ST_HOSTNAME_MISMATCH},
    {"a completed handshake closed before startup without text is hostname-mismatch",
     "[{\"ssl_response\":\"S\",\"handshake\":\"ok\",\"startup\":false}]",
     "{\"connected\":false,\"error\":\"connection closed\"}", ST_HOSTNAME_MISMATCH},
    {"N and a client that gives up is server-refused-ssl",
     "[{\"ssl_response\":\"N\",\"startup\":false}]",
     "{\"connected\":false,\"error\":\"server does not support SSL, but SSL was required\"}",
     ST_SERVER_REFUSED_SSL},
    {"FATAL 28000 on a plaintext session is ssl-required",
     "[{\"tls_start\":\"none\",\"handshake\":\"none\",\"startup\":true,\"fatal\":{\"sqlstate\":\"28000\"}}]",
     "{\"connected\":false,\"error\":\"FATAL:  no pg_hba.conf entry for host, no encryption\"}",
     ST_SSL_REQUIRED},
    {"prefer's fallback: the last event (plaintext FATAL) decides over the TLS alert",
     "[{\"handshake\":\"failed\",\"client_alert\":\"unknown_ca\"},"
     "{\"handshake\":\"none\",\"startup\":true,\"fatal\":{\"sqlstate\":\"28000\"}}]",
     "{\"connected\":false,\"error\":\"SSL error: certificate verify failed\\nFATAL: no encryption\"}",
     ST_SSL_REQUIRED},
    {"allow's retry: the last event (TLS alert) decides over the plaintext FATAL",
     "[{\"handshake\":\"none\",\"startup\":true,\"fatal\":{\"sqlstate\":\"28000\"}},"
     "{\"handshake\":\"failed\",\"client_alert\":\"unknown_ca\"}]",
     "{\"connected\":false,\"error\":\"FATAL: no encryption\\nSSL error: certificate verify failed\"}",
     ST_UNTRUSTED_CHAIN},
    {"FATAL 42704 for a forwarded client option is a client configuration error",
     "[{\"ssl_response\":\"S\",\"handshake\":\"ok\",\"startup\":true,"
     "\"fatal\":{\"sqlstate\":\"42704\",\"message\":\"unrecognized configuration parameter\"}}]",
     "{\"connected\":false,\"error\":\"unrecognized configuration parameter \\\"sslrootcert\\\"\"}",
     ST_CLIENT_CONFIG_ERROR},
    {"FATAL 42704 on a plaintext session is a client configuration error, not ssl-required",
     "[{\"ssl_response\":\"N\",\"handshake\":\"none\",\"startup\":true,\"fatal\":{\"sqlstate\":\"42704\"}}]",
     "{\"connected\":false,\"error\":\"x\"}", ST_CLIENT_CONFIG_ERROR},
    {"FATAL 28P01 is auth-failed", "[{\"handshake\":\"ok\",\"startup\":true,\"fatal\":{\"sqlstate\":\"28P01\"}}]",
     "{\"connected\":false,\"error\":\"password authentication failed\"}", ST_AUTH_FAILED},
    {"FATAL 28000 over TLS is auth-failed",
     "[{\"ssl_response\":\"S\",\"handshake\":\"ok\",\"startup\":true,\"fatal\":{\"sqlstate\":\"28000\"}}]",
     "{\"connected\":false,\"error\":\"x\"}", ST_AUTH_FAILED},
    {"S then no ClientHello is a client configuration error",
     "[{\"ssl_response\":\"S\",\"handshake\":\"none\"}]",
     "{\"connected\":false,\"error\":\"weird\"}", ST_CLIENT_CONFIG_ERROR},
    {"S then no ClientHello with the libpq text is a client configuration error",
     "[{\"ssl_response\":\"S\"}]",
     "{\"connected\":false,\"error\":\"root certificate file \\\"/x\\\" does not exist\\nEither provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification.\"}",
     ST_CLIENT_CONFIG_ERROR},
    {"no event and an option error is a client configuration error", "[]",
     "{\"connected\":false,\"error\":\"weak sslmode \\\"require\\\" may not be used with sslrootcert=system (use \\\"verify-full\\\")\"}",
     ST_CLIENT_CONFIG_ERROR},
    {"no event and unknown text is a client configuration error", NULL,
     "{\"connected\":false,\"error\":\"something odd\"}", ST_CLIENT_CONFIG_ERROR},
    {"an adapter that reports unsupported is unsupported", "[]",
     "{\"connected\":false,\"unsupported\":\"no sslnegotiation in this driver\"}", ST_UNSUPPORTED},
    {"an adapter that died is client-crashed", "[]", NULL, ST_CLIENT_CRASHED},
    {"a runner-reported timeout is timeout", "[]", "{\"timeout\":true}", ST_TIMEOUT},
    {"a runner-reported crash is client-crashed", "[]", "{\"crashed\":true}", ST_CLIENT_CRASHED},
    {"a server event with nothing decisive and no text is unclassified",
     "[{\"handshake\":\"ok\",\"startup\":true,\"auth_result\":\"ok\"}]",
     "{\"connected\":false,\"error\":null}", ST_CLASS_NONE},
    {"a generic alert (JSSE certificate_unknown) with an expiry text is expired",
     "[{\"handshake\":\"failed\",\"client_alert\":\"certificate_unknown\"}]",
     "{\"connected\":false,\"error\":\"PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed\"}", ST_EXPIRED},
    {"a generic alert (Go bad_certificate) with a host name text is hostname-mismatch",
     "[{\"handshake\":\"failed\",\"client_alert\":\"bad_certificate\"}]",
     "{\"connected\":false,\"error\":\"tls: failed to verify certificate: x509: certificate is valid for a, not b\"}", ST_HOSTNAME_MISMATCH},
    {"a generic alert with a generic text stays untrusted-chain",
     "[{\"handshake\":\"failed\",\"client_alert\":\"bad_certificate\"}]",
     "{\"connected\":false,\"error\":\"SSL error: certificate verify failed\"}", ST_UNTRUSTED_CHAIN},
    {"unknown_ca is specific and wins over an expiry text",
     "[{\"handshake\":\"failed\",\"client_alert\":\"unknown_ca\"}]",
     "{\"connected\":false,\"error\":\"certificate has expired\"}", ST_UNTRUSTED_CHAIN},
    {"server evidence wins over misleading text",
     "[{\"handshake\":\"failed\",\"client_alert\":\"certificate_expired\"}]",
     "{\"connected\":false,\"error\":\"unable to get local issuer certificate\"}", ST_EXPIRED},
    /* Events as the mock server writes them (mockserver/ms_event.c). */
    {"mock: unknown_ca after SSLRequest is an untrusted chain",
     "[{\"event\":\"connection\",\"tls_start\":\"sslrequest\",\"ssl_response\":\"S\",\"handshake\":\"failed\","
     "\"client_alert\":\"unknown_ca\",\"client_alert_level\":\"fatal\",\"server_alert\":null,\"startup\":false,"
     "\"auth_result\":\"none\",\"fatal\":null,\"end\":\"tls-error\"}]",
     "{\"connected\":false,\"error\":\"SSL error: certificate verify failed\"}", ST_UNTRUSTED_CHAIN},
    {"mock: a plaintext startup with FATAL 28000 no encryption is ssl-required",
     "[{\"event\":\"connection\",\"tls_start\":\"none\",\"ssl_response\":null,\"handshake\":\"none\","
     "\"startup\":true,\"auth_result\":\"none\",\"fatal\":{\"sqlstate\":\"28000\",\"message\":\"no pg_hba.conf entry\"},"
     "\"end\":\"fatal\"}]",
     "{\"connected\":false,\"error\":\"x\"}", ST_SSL_REQUIRED},
    {"mock: S then a close without alert and the missing-root text is a client configuration error",
     "[{\"tls_start\":\"sslrequest\",\"ssl_response\":\"S\",\"handshake\":\"failed\",\"tls_error\":\"connection closed by the client\","
     "\"client_alert\":null,\"startup\":false,\"fatal\":null}]",
     "{\"connected\":false,\"error\":\"root certificate file \\\"/x\\\" does not exist\"}", ST_CLIENT_CONFIG_ERROR},
    {"mock: S then a close without alert and no text is a client configuration error",
     "[{\"tls_start\":\"sslrequest\",\"ssl_response\":\"S\",\"handshake\":\"failed\",\"client_alert\":null,\"startup\":false}]",
     "{\"connected\":false,\"error\":\"gone\"}", ST_CLIENT_CONFIG_ERROR},
    {"mock: handshake ok then close_notify before startup is hostname-mismatch",
     "[{\"tls_start\":\"sslrequest\",\"ssl_response\":\"S\",\"handshake\":\"ok\",\"client_alert\":\"close_notify\","
     "\"client_alert_level\":\"warning\",\"startup\":false}]",
     "{\"connected\":false,\"error\":\"server certificate for \\\"a\\\" does not match host name \\\"b\\\"\"}", ST_HOSTNAME_MISMATCH},
    {"mock: a direct ClientHello read as a bad startup packet is server-refused-ssl",
     "[{\"tls_start\":\"none\",\"ssl_response\":null,\"handshake\":\"none\",\"startup\":false,"
     "\"end\":\"protocol-error\",\"end_reason\":\"invalid length of startup packet (369098752 bytes)\"}]",
     "{\"connected\":false,\"error\":\"connection closed\"}", ST_SERVER_REFUSED_SSL},
    {"mock: a direct handshake without ALPN that the server then closes is server-refused-ssl",
     "[{\"tls_start\":\"direct\",\"ssl_response\":null,\"handshake\":\"ok\",\"startup\":false,"
     "\"end\":\"protocol-error\",\"end_reason\":\"received direct SSL connection request without ALPN protocol negotiation extension\"}]",
     "{\"connected\":false,\"error\":\"EOF\"}", ST_SERVER_REFUSED_SSL},
    {"mock: auth_result failed with a channel binding error is auth-failed",
     "[{\"tls_start\":\"sslrequest\",\"ssl_response\":\"S\",\"handshake\":\"ok\",\"startup\":true,\"auth_result\":\"abandoned\"}]",
     "{\"connected\":false,\"error\":\"channel binding required, but server authenticated client without channel binding\"}", ST_AUTH_FAILED},
    {"mock: auth_result failed is auth-failed",
     "[{\"handshake\":\"ok\",\"startup\":true,\"auth_result\":\"failed\"}]",
     "{\"connected\":false,\"error\":\"odd\"}", ST_AUTH_FAILED},
    {"an event that is not an object is ignored", "[42]",
     "{\"connected\":false,\"error\":\"x509: certificate signed by unknown authority\"}", ST_UNTRUSTED_CHAIN},
};

START_TEST(each_row_gives_its_observed_class)
{
    json_error_t je;
    json_t *ev = rows[_i].events ? json_loads(rows[_i].events, 0, &je) : NULL;
    json_t *res = rows[_i].result ? json_loads(rows[_i].result, 0, &je) : NULL;
    if (rows[_i].events)
        ck_assert_msg(ev != NULL, "row %d events: %s", _i, je.text);
    if (rows[_i].result)
        ck_assert_msg(res != NULL, "row %d result: %s", _i, je.text);
    st_observation o = st_classify(ev, res);
    ck_assert_msg(o.cls == rows[_i].expected, "\"%s\": expected %s, got %s (%s)", rows[_i].name,
                  st_class_name(rows[_i].expected), st_class_name(o.cls), o.evidence);
    ck_assert_ptr_nonnull(o.evidence);
    json_decref(ev);
    json_decref(res);
}
END_TEST

/* Error texts per driver family (docs/expectations.md, pattern table). */
static const struct {
    const char *family;
    const char *text;
    st_class expected;
} texts[] = {
    {"libpq", "connection to server at \"h\" (127.0.0.1), port 5432 failed: SSL error: certificate verify failed", ST_UNTRUSTED_CHAIN},
    {"libpq", "SSL error: certificate verify failed: unable to get local issuer certificate", ST_UNTRUSTED_CHAIN},
    {"libpq", "server certificate for \"a\" (and 2 other names) does not match host name \"b\"", ST_HOSTNAME_MISMATCH},
    {"libpq", "SSL error: tlsv1 alert protocol version\nThis may indicate that the server does not support any SSL protocol version between TLSv1.2 and TLSv1.3.", ST_PROTOCOL_VERSION},
    {"libpq", "server does not support SSL, but SSL was required", ST_SERVER_REFUSED_SSL},
    {"libpq", "root certificate file \"/h/.postgresql/root.crt\" does not exist\nEither provide the file or change sslmode to disable server certificate verification.", ST_CLIENT_CONFIG_ERROR},
    {"libpq", "could not read root certificate file \"/x\": no certificate or crl found", ST_CLIENT_CONFIG_ERROR},
    {"libpq", "invalid connection option \"sslnegotiation\"", ST_CLIENT_CONFIG_ERROR},
    {"libpq", "FATAL:  no pg_hba.conf entry for host \"127.0.0.1\", user \"u\", database \"d\", no encryption", ST_SSL_REQUIRED},
    {"libpq prefer", "SSL error: certificate verify failed\nconnection to server failed: FATAL: no pg_hba.conf entry for host, no encryption", ST_SSL_REQUIRED},
    {"libpq allow", "FATAL: no pg_hba.conf entry, no encryption\nSSL error: certificate verify failed", ST_UNTRUSTED_CHAIN},
    {"libpq", "channel binding required, but server authenticated client without channel binding", ST_AUTH_FAILED},
    {"libpq", "FATAL:  password authentication failed for user \"u\"", ST_AUTH_FAILED},
    {"libpq", "timeout expired", ST_TIMEOUT},
    {"OpenSSL", "SSL error: certificate verify failed: certificate has expired", ST_EXPIRED},
    {"OpenSSL", "sslv3 alert handshake failure", ST_NO_SHARED_CIPHER},
    {"OpenSSL s_client", "verify error:num=62:hostname mismatch\n40E7:error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:statem_clnt.c:1889:", ST_HOSTNAME_MISMATCH},
    {"OpenSSL s_client", "verify error:num=10:certificate has expired\nerror:0A000086:SSL routines::certificate verify failed", ST_EXPIRED},
    {"libpq allow", "FATAL: no encryption\nSSL error: certificate verify failed", ST_UNTRUSTED_CHAIN},
    {"JSSE", "SSL error: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target", ST_UNTRUSTED_CHAIN},
    {"JSSE", "PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed", ST_EXPIRED},
    {"JSSE", "The hostname h could not be verified by hostnameverifier PgjdbcHostnameVerifier.", ST_HOSTNAME_MISMATCH},
    {"JSSE", "Could not open SSL root certificate file /x.", ST_CLIENT_CONFIG_ERROR},
    {"JSSE", "The server selected protocol version TLS10 is not accepted by client preferences [TLS13, TLS12] (protocol_version)", ST_PROTOCOL_VERSION},
    {"Node", "self-signed certificate in certificate chain", ST_UNTRUSTED_CHAIN},
    {"Node", "Hostname/IP does not match certificate's altnames: Host: h. is not in the cert's altnames: DNS:x", ST_HOSTNAME_MISMATCH},
    {"Node", "certificate has expired", ST_EXPIRED},
    {"Node", "certificate is not yet valid", ST_UNTRUSTED_CHAIN},
    {"JSSE", "PKIX path validation failed: java.security.cert.CertPathValidatorException: timestamp check failed: java.security.cert.CertificateNotYetValidException", ST_UNTRUSTED_CHAIN},
    {"Node", "The server does not support SSL connections", ST_SERVER_REFUSED_SSL},
    {"Go", "failed to connect to `user=U database=D`: 127.0.0.1:5432 (h): failed to write startup message: tls: failed to verify certificate: x509: certificate signed by unknown authority", ST_UNTRUSTED_CHAIN},
    {"Go", "tls: failed to verify certificate: x509: certificate is valid for a.example.com, not b.example.com", ST_HOSTNAME_MISMATCH},
    {"Go", "x509: certificate has expired or is not yet valid: current time is after", ST_EXPIRED},
    {"Go", "server refused TLS connection", ST_SERVER_REFUSED_SSL},
    {"Python ssl", "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not valid for 'h'. (_ssl.c:1006)", ST_HOSTNAME_MISMATCH},
    {"Python ssl", "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)", ST_EXPIRED},
    {"Python ssl", "[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version", ST_PROTOCOL_VERSION},
    {"azure-identity", "ManagedIdentityCredential authentication unavailable. The requested identity has not been assigned to this resource. Error: Identity not found", ST_CLIENT_CONFIG_ERROR},
    {"@azure/identity", "ManagedIdentityCredential: Authentication failed. Message invalid_request: Error(s): Not Available - Description: Identity not found", ST_CLIENT_CONFIG_ERROR},
    {"asyncpg", "ClientConfigurationError: root certificate file \"~/.postgresql/root.crt\" does not exist or cannot be accessed", ST_CLIENT_CONFIG_ERROR},
    {"rustls", "error performing TLS handshake: invalid peer certificate: UnknownIssuer", ST_UNTRUSTED_CHAIN},
    {"rustls", "error performing TLS handshake: invalid peer certificate: NotValidForName", ST_HOSTNAME_MISMATCH},
    {"rustls", "invalid peer certificate: Expired", ST_EXPIRED},
    {".NET", "The remote certificate was rejected by the provided RemoteCertificateValidationCallback.", ST_UNTRUSTED_CHAIN},
    {"rustls 0.23", "error communicating with database: invalid peer certificate: certificate expired: verification time 1790000000 (UNIX), but certificate is not valid after 1780000000 (10000000 seconds ago)", ST_EXPIRED},
    {"rustls 0.23", "error communicating with database: invalid peer certificate: certificate not valid for name \"a.example.com\"; certificate is only valid for DnsName(\"b.example.com\")", ST_HOSTNAME_MISMATCH},
    {"rustls 0.23", "invalid peer certificate: certificate not valid yet: verification time 1 (UNIX), but certificate is not valid before 2", ST_UNTRUSTED_CHAIN},
    {"rustls 0.23", "invalid peer certificate: UnsupportedSignatureAlgorithmContext { signature_algorithm_id: [6, 9] }", ST_UNTRUSTED_CHAIN},
    {"rust-openssl", "error performing TLS handshake: error:0A00014D:SSL routines:tls_process_key_exchange:legacy sigalg disallowed or unsupported:../ssl/statem/statem_clnt.c:2250:", ST_PROTOCOL_VERSION},
    {"Node", "CA signature digest algorithm too weak", ST_UNTRUSTED_CHAIN},
    {"Node", "EE certificate key too weak", ST_UNTRUSTED_CHAIN},
    {"postgres.js", "unrecognized configuration parameter \"sslrootcert\"", ST_CLIENT_CONFIG_ERROR},
    {"lib/pq", "pq: couldn't parse pem from sslrootcert", ST_CLIENT_CONFIG_ERROR},
    {"lib/pq", "open /x/missing.pem: no such file or directory", ST_CLIENT_CONFIG_ERROR},
    {"none", "something else entirely", ST_CLASS_NONE},
    {"none", "", ST_CLASS_NONE},
};

START_TEST(error_text_patterns_classify_each_driver_family)
{
    st_class c = st_classify_error_text(texts[_i].text);
    ck_assert_msg(c == texts[_i].expected, "%s \"%s\": expected %s, got %s", texts[_i].family,
                  texts[_i].text, st_class_name(texts[_i].expected), st_class_name(c));
}
END_TEST

START_TEST(no_error_text_is_no_class)
{
    ck_assert_int_eq(st_classify_error_text(NULL), ST_CLASS_NONE);
}
END_TEST

/* The field names of docs/event-log.md's field table: every backquoted
 * name in the first column of a "| `name` | type | meaning |" row. */
static json_t *documented_event_fields(void)
{
    char *path = ts_source_path("docs/event-log.md"), *text = NULL;
    pgtls_err err;
    json_t *names = json_object();
    err_clear(&err);
    ck_assert_msg(fs_read_file(path, 1 << 20, &text, NULL, &err) == 0, "%s", err.msg);
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strncmp(line, "| `", 3) == 0) {
            char *cell_end = strchr(line + 1, '|');
            for (char *p = line + 1; cell_end && p < cell_end;) {
                char *open = strchr(p, '`'), *close = open ? strchr(open + 1, '`') : NULL;
                if (!open || !close || close > cell_end)
                    break;
                *close = '\0';
                json_object_set_new(names, open + 1, json_true());
                p = close + 1;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    free(path);
    ck_assert_msg(json_object_size(names) >= 30, "docs/event-log.md: field table not found");
    return names;
}

START_TEST(the_classifier_reads_only_fields_the_event_log_documents)
{
    json_t *doc = documented_event_fields();
    const char *const *f = st_classify_event_fields();
    ck_assert_ptr_nonnull(f[0]);
    for (; *f; f++)
        ck_assert_msg(json_object_get(doc, *f) != NULL,
                      "the classifier reads \"%s\", which docs/event-log.md does not document", *f);
    json_decref(doc);
}
END_TEST

START_TEST(every_event_of_the_rows_uses_only_documented_fields)
{
    json_t *doc = documented_event_fields();
    json_error_t je;
    json_t *ev = rows[_i].events ? json_loads(rows[_i].events, 0, &je) : NULL;
    size_t i;
    json_t *e;
    json_array_foreach(ev, i, e)
    {
        const char *key;
        json_t *v;
        json_object_foreach(e, key, v)
        {
            (void)v;
            ck_assert_msg(json_object_get(doc, key) != NULL,
                          "\"%s\": event field \"%s\" is not in docs/event-log.md", rows[_i].name,
                          key);
        }
    }
    json_decref(ev);
    json_decref(doc);
}
END_TEST

START_TEST(an_undocumented_spelling_of_a_field_is_not_read)
{
    /* "alert_received" is not the event log's name for the client's alert:
     * the classifier must not see an alert here, only the error text. */
    json_t *ev = json_loads("[{\"ssl_response\":\"S\",\"alert_received\":\"certificate_expired\","
                            "\"tls_handshake\":\"failed\",\"fatal_sqlstate\":\"28P01\"}]",
                            0, NULL);
    json_t *res = json_loads("{\"connected\":false,\"error\":\"certificate verify failed\"}", 0, NULL);
    st_observation o = st_classify(ev, res);
    ck_assert_int_eq(o.cls, ST_UNTRUSTED_CHAIN);
    json_decref(ev);
    json_decref(res);
}
END_TEST

Suite *st_classify_suite(void)
{
    Suite *s = suite_create("st_classify");
    TCase *tc = tcase_create("events and results give one class");
    tcase_add_loop_test(tc, each_row_gives_its_observed_class, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("error text patterns");
    tcase_add_loop_test(tc, error_text_patterns_classify_each_driver_family, 0,
                        (int)(sizeof(texts) / sizeof(texts[0])));
    tcase_add_test(tc, no_error_text_is_no_class);
    suite_add_tcase(s, tc);
    tc = tcase_create("the event-log contract");
    tcase_add_test(tc, the_classifier_reads_only_fields_the_event_log_documents);
    tcase_add_loop_test(tc, every_event_of_the_rows_uses_only_documented_fields, 0,
                        (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, an_undocumented_spelling_of_a_field_is_not_read);
    suite_add_tcase(s, tc);
    return s;
}
