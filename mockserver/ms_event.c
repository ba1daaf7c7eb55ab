/* pgtls mockserver: the event record as one JSON line (docs/event-log.md). */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ms_conn.h"

const char *ms_alert_name(int code, char buf[16])
{
    /* RFC 8446 section 6 and RFC 5246 section 7.2 (plus RFC 7301's 120). */
    static const struct {
        int code;
        const char *name;
    } names[] = {{0, "close_notify"},
                 {10, "unexpected_message"},
                 {20, "bad_record_mac"},
                 {21, "decryption_failed"},
                 {22, "record_overflow"},
                 {30, "decompression_failure"},
                 {40, "handshake_failure"},
                 {41, "no_certificate"},
                 {42, "bad_certificate"},
                 {43, "unsupported_certificate"},
                 {44, "certificate_revoked"},
                 {45, "certificate_expired"},
                 {46, "certificate_unknown"},
                 {47, "illegal_parameter"},
                 {48, "unknown_ca"},
                 {49, "access_denied"},
                 {50, "decode_error"},
                 {51, "decrypt_error"},
                 {60, "export_restriction"},
                 {70, "protocol_version"},
                 {71, "insufficient_security"},
                 {80, "internal_error"},
                 {86, "inappropriate_fallback"},
                 {90, "user_canceled"},
                 {100, "no_renegotiation"},
                 {109, "missing_extension"},
                 {110, "unsupported_extension"},
                 {111, "certificate_unobtainable"},
                 {112, "unrecognized_name"},
                 {113, "bad_certificate_status_response"},
                 {114, "bad_certificate_hash_value"},
                 {115, "unknown_psk_identity"},
                 {116, "certificate_required"},
                 {120, "no_application_protocol"}};
    size_t i;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].code == code)
            return names[i].name;
    snprintf(buf, 16, "alert_%d", code);
    return buf;
}

#define MS_STATE_NAME(e, name) name,
static const char *const handshake_names[] = {MS_HANDSHAKES(MS_STATE_NAME)};
static const char *const auth_result_names[] = {MS_AUTH_RESULTS(MS_STATE_NAME)};
static const char *const end_names[] = {MS_ENDS(MS_STATE_NAME)};
#undef MS_STATE_NAME
#define MS_NAME_OF(table, v)                                                                       \
    ((size_t)(v) < sizeof(table) / sizeof(table[0]) ? table[(size_t)(v)] : table[0])

const char *ms_handshake_name(ms_handshake h)
{
    return MS_NAME_OF(handshake_names, h);
}

const char *ms_auth_result_name(ms_auth_result a)
{
    return MS_NAME_OF(auth_result_names, a);
}

const char *ms_end_name(ms_end e)
{
    return MS_NAME_OF(end_names, e);
}

void ms_event_set_handshake(ms_event *ev, ms_handshake h)
{
    if (ev->handshake == MS_HANDSHAKE_NONE)
        ev->handshake = h;
}

void ms_event_set_auth_result(ms_event *ev, ms_auth_result a)
{
    if (ev->auth_result == MS_AUTH_NONE)
        ev->auth_result = a;
}

void ms_event_set_end(ms_event *ev, ms_end end, const char *fmt, ...)
{
    va_list ap;
    if (ev->end != MS_END_NONE)
        return;
    ev->end = end;
    va_start(ap, fmt);
    vsnprintf(ev->end_reason, sizeof(ev->end_reason), fmt, ap);
    va_end(ap);
}

static void iso_time(long long ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* A JSON string from client-controlled bytes: invalid UTF-8 is replaced
 * byte by byte with '?' so the line stays valid JSON. */
static json_t *safe_string(const char *s)
{
    json_t *j = json_string(s);
    char buf[512];
    size_t i;
    if (j)
        return j;
    for (i = 0; s[i] && i + 1 < sizeof(buf); i++)
        buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    buf[i] = 0;
    return json_string(buf);
}

/* A string field, or null when empty. */
static json_t *str_or_null(const char *s)
{
    return s && s[0] ? safe_string(s) : json_null();
}

char *ms_event_json(const ms_event *ev)
{
    json_t *o = json_object();
    char ts[32], te[32], resp[2] = {ev->ssl_response, 0};
    char *out;
    if (!o)
        return NULL;
    iso_time(ev->t_start_ms, ts);
    iso_time(ev->t_end_ms, te);
    json_object_set_new(o, "event", json_string("connection"));
    json_object_set_new(o, "listener", json_integer(ev->listener_id));
    json_object_set_new(o, "scenario", safe_string(ev->scenario));
    json_object_set_new(o, "port", json_integer(ev->port));
    json_object_set_new(o, "peer_addr", str_or_null(ev->peer_addr));
    json_object_set_new(o, "peer_port", json_integer(ev->peer_port));
    json_object_set_new(o, "t_start", json_string(ts));
    json_object_set_new(o, "t_end", json_string(te));
    json_object_set_new(o, "duration_ms", json_integer(ev->t_end_ms - ev->t_start_ms));
    json_object_set_new(o, "tls_start", json_string(ev->tls_start));
    json_object_set_new(o, "ssl_response", str_or_null(resp));
    json_object_set_new(o, "gssenc_requests", json_integer(ev->gssenc_requests));
    json_object_set_new(o, "handshake", json_string(ms_handshake_name(ev->handshake)));
    json_object_set_new(o, "tls_version", str_or_null(ev->tls_version));
    json_object_set_new(o, "cipher", str_or_null(ev->cipher));
    json_object_set_new(o, "cipher_bits",
                        ev->cipher[0] ? json_integer(ev->cipher_bits) : json_null());
    json_object_set_new(o, "alpn", str_or_null(ev->alpn));
    json_object_set_new(o, "alpn_offered", str_or_null(ev->alpn_offered));
    json_object_set_new(o, "sni", str_or_null(ev->sni));
    json_object_set_new(o, "tls_error", str_or_null(ev->tls_error));
    json_object_set_new(o, "client_alert", str_or_null(ev->client_alert));
    json_object_set_new(o, "client_alert_level", str_or_null(ev->client_alert_level));
    json_object_set_new(o, "server_alert", str_or_null(ev->server_alert));
    json_object_set_new(o, "client_cert", json_boolean(ev->client_cert));
    json_object_set_new(o, "bytes_in", json_integer((json_int_t)ev->bytes_in));
    json_object_set_new(o, "bytes_out", json_integer((json_int_t)ev->bytes_out));
    json_object_set_new(o, "startup", json_boolean(ev->startup));
    json_object_set_new(o, "protocol", str_or_null(ev->protocol));
    json_object_set_new(o, "user", ev->startup ? safe_string(ev->user) : json_null());
    json_object_set_new(o, "database", ev->startup ? safe_string(ev->database) : json_null());
    json_object_set_new(o, "application_name",
                        ev->startup ? safe_string(ev->application_name) : json_null());
    json_object_set_new(o, "auth_method", str_or_null(ev->auth_method));
    json_object_set_new(o, "auth_result", json_string(ms_auth_result_name(ev->auth_result)));
    json_object_set_new(o, "queries", json_integer(ev->queries));
    json_object_set_new(o, "cancel_request", json_boolean(ev->cancel_request));
    json_object_set_new(o, "pid", ev->pid ? json_integer(ev->pid) : json_null());
    if (ev->fatal_sqlstate[0]) {
        json_t *f = json_object();
        json_object_set_new(f, "sqlstate", json_string(ev->fatal_sqlstate));
        json_object_set_new(f, "message", safe_string(ev->fatal_message));
        json_object_set_new(o, "fatal", f);
    } else
        json_object_set_new(o, "fatal", json_null());
    json_object_set_new(o, "end", json_string(ms_end_name(ev->end)));
    json_object_set_new(o, "end_reason", safe_string(ev->end_reason));
    out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    return out;
}
