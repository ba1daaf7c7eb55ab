/* pgtls mockserver: the protocol state machine of one connection
 * (PostgreSQL backend_startup.c ProcessStartupPacket, auth.c
 * ClientAuthentication, postinit.c InitPostgres, postgres.c PostgresMain),
 * over an abstract transport so tests and the fuzzer drive it from memory. */
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdarg.h>
#include <sys/time.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "ms_conn.h"
#include "ms_entra.h"
#include "ms_scram.h"

static long long wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void ms_conn_init(ms_conn *c)
{
    memset(&c->ev, 0, sizeof(c->ev));
    ms_buf_init(&c->out);
    c->msg = NULL;
    c->msg_cap = 0;
    c->ssl = NULL;
    c->tls_active = 0;
    c->tx = 'I';
    c->ignore_till_sync = 0;
    memset(c->stmts, 0, sizeof(c->stmts));
    memset(c->portals, 0, sizeof(c->portals));
    memset(&c->act, 0, sizeof(c->act));
    ms_settings_init(&c->settings);
    c->ev.t_start_ms = wall_ms();
    snprintf(c->ev.tls_start, sizeof(c->ev.tls_start), "none");
    if (c->prof)
        snprintf(c->ev.scenario, sizeof(c->ev.scenario), "%s", c->prof->scenario);
}

static void stmt_clear(ms_stmt *s)
{
    free(s->name);
    free(s->sql);
    memset(s, 0, sizeof(*s));
}

void ms_conn_cleanup(ms_conn *c)
{
    int i;
    for (i = 0; i < MS_MAX_STMTS; i++) {
        stmt_clear(&c->stmts[i]);
        stmt_clear(&c->portals[i]);
    }
    ms_buf_cleanup(&c->out);
    free(c->msg);
    c->msg = NULL;
    ms_profile_unref(c->prof);
    c->prof = NULL;
}

/* ---- output ---- */

static int flush_out(ms_conn *c)
{
    int rc = 1;
    if (c->out.oom)
        rc = -1;
    else if (c->out.len)
        rc = c->io->write_all(c, c->out.data, c->out.len);
    ms_buf_reset(&c->out);
    return rc;
}

/* Sends a FATAL (or an ERROR promoted to FATAL, as during start-up), records
 * it in the event and ends the connection as end (server-fatal, or
 * protocol-error for a protocol violation) with reason (NULL: the message). */
static void send_fatal_as(ms_conn *c, ms_pgerr *e, ms_end end, const char *reason)
{
    e->severity = "FATAL";
    ms_be_error_major(&c->out, e, ms_major_of(c->prof->server_version));
    flush_out(c);
    snprintf(c->ev.fatal_sqlstate, sizeof(c->ev.fatal_sqlstate), "%s", e->sqlstate);
    snprintf(c->ev.fatal_message, sizeof(c->ev.fatal_message), "%s", e->message);
    ms_event_set_end(&c->ev, end, "%s", reason ? reason : e->message);
}

static void send_fatal(ms_conn *c, ms_pgerr *e)
{
    send_fatal_as(c, e, MS_END_SERVER_FATAL, NULL);
}

/* Ends on a failed read: EOF, timeout, TLS alert or shutdown. */
static void end_on_read(ms_conn *c, int rc, const char *what)
{
    if (c->stopping && atomic_load(c->stopping)) {
        /* PostgreSQL's fast shutdown: FATAL 57P01 to every backend. */
        ms_pgerr e;
        if (c->ev.startup) {
            ms_pgerr_set(&e, "FATAL", "57P01",
                         "terminating connection due to administrator command");
            ms_be_error_major(&c->out, &e, ms_major_of(c->prof->server_version));
            flush_out(c);
        }
        ms_event_set_end(&c->ev, MS_END_SERVER_SHUTDOWN, "server stopped while %s", what);
        return;
    }
    if (rc == -2) {
        if (c->ev.startup && c->ev.auth_result == MS_AUTH_OK) {
            ms_pgerr e;
            ms_pgerr_set(&e, "FATAL", "57P05",
                         "terminating connection due to idle-session timeout");
            ms_be_error_major(&c->out, &e, ms_major_of(c->prof->server_version));
            flush_out(c);
            snprintf(c->ev.fatal_sqlstate, sizeof(c->ev.fatal_sqlstate), "57P05");
            snprintf(c->ev.fatal_message, sizeof(c->ev.fatal_message), "%s", e.message);
        }
        ms_event_set_end(&c->ev, MS_END_TIMEOUT, "no data from the client while %s", what);
        return;
    }
    if (c->ev.client_alert[0] && strcmp(c->ev.client_alert, "close_notify") != 0) {
        ms_event_set_end(&c->ev, MS_END_CLIENT_ALERT, "client sent alert %s while %s", c->ev.client_alert, what);
        return;
    }
    if (rc == 0)
        ms_event_set_end(&c->ev, MS_END_CLIENT_CLOSE, "client closed the connection while %s", what);
    else
        ms_event_set_end(&c->ev, MS_END_CLIENT_CLOSE, "connection error while %s", what);
}

/* ---- reading messages ---- */

static int ensure_msg(ms_conn *c, size_t n)
{
    if (n + 1 > c->msg_cap) {
        uint8_t *m = realloc(c->msg, n + 1);
        if (!m)
            return -1;
        c->msg = m;
        c->msg_cap = n + 1;
    }
    return 0;
}

/* Reads a regular message: type, length, body (NUL-terminated copy in
 * c->msg). Returns 1, or <= 0 after ending the connection. */
static int read_message(ms_conn *c, char *out_type, size_t *out_len, const char *what)
{
    uint8_t hdr[5];
    uint32_t len;
    int rc = c->io->read_exact(c, hdr, 5);
    if (rc != 1) {
        end_on_read(c, rc, what);
        return rc == 1 ? -1 : (rc == 0 ? 0 : -1);
    }
    len = ms_be32(hdr + 1);
    if (len < 4 || len - 4 > MS_MAX_MESSAGE) {
        /* pq_getmessage: "invalid message length"; we also tell the client. */
        ms_pgerr e;
        char reason[sizeof(c->ev.end_reason)];
        ms_pgerr_set(&e, "FATAL", "08P01", "invalid message length");
        snprintf(reason, sizeof(reason), "message '%c' with length %u (limit %d)",
                 hdr[0] >= 32 && hdr[0] < 127 ? hdr[0] : '?', len, MS_MAX_MESSAGE + 4);
        send_fatal_as(c, &e, MS_END_PROTOCOL_ERROR, reason);
        return -1;
    }
    if (ensure_msg(c, len - 4) < 0) {
        ms_event_set_end(&c->ev, MS_END_PROTOCOL_ERROR, "out of memory for a %u-byte message", len);
        return -1;
    }
    rc = c->io->read_exact(c, c->msg, len - 4);
    if (rc != 1) {
        end_on_read(c, rc, what);
        return -1;
    }
    c->msg[len - 4] = 0;
    *out_type = (char)hdr[0];
    *out_len = len - 4;
    return 1;
}

/* ---- startup negotiation ---- */

static void note_tls_start(ms_conn *c, const char *how)
{
    if (c->ev.gssenc_requests)
        snprintf(c->ev.tls_start, sizeof(c->ev.tls_start), "gssenc-then-%s", how);
    else
        snprintf(c->ev.tls_start, sizeof(c->ev.tls_start), "%s", how);
}

/* Reads startup packets until a StartupMessage. Returns 1 with *st filled
 * (pointing into c->msg), 0 when the connection ended. */
static int negotiate(ms_conn *c, ms_startup *st)
{
    int ssl_done = 0, gss_done = 0, first = 1;
    for (;;) {
        uint8_t lenbuf[4], b;
        uint32_t len;
        ms_pgerr e;
        int rc;

        if (first && c->prof->ssl && c->prof->direct_tls && !c->tls_active) {
            /* PG17 direct TLS: a ClientHello's first byte 0x16 cannot start a
             * startup packet length (it would be hundreds of MB). */
            rc = c->io->peek1(c, &b);
            if (rc != 1) {
                end_on_read(c, rc, "waiting for the startup packet");
                return 0;
            }
            if (b == 0x16) {
                note_tls_start(c, "direct");
                if (c->io->start_tls(c, 1) < 0) {
                    if (c->ev.end == MS_END_NONE)
                        end_on_read(c, -1, "in the direct TLS handshake");
                    return 0;
                }
                c->tls_active = 1;
                ssl_done = 1;
                if (!c->ev.alpn[0]) {
                    /* ProcessSSLStartup: COMMERROR (logged, not sent), close. */
                    c->io->close_tls(c);
                    ms_event_set_end(&c->ev, MS_END_PROTOCOL_ERROR,
                           "received direct SSL connection request without ALPN protocol "
                           "negotiation extension");
                    return 0;
                }
            }
        }
        first = 0;
        rc = c->io->read_exact(c, lenbuf, 4);
        if (rc != 1) {
            /* "incomplete startup packet" is a COMMERROR: nothing is sent. */
            end_on_read(c, rc, "waiting for the startup packet");
            return 0;
        }
        len = ms_be32(lenbuf);
        if (ms_startup_check_len(len, &e) < 0) {
            /* PostgreSQL reads the socket in 8 KiB chunks (pq_recvbuf), so
             * what the client sent with the length (a direct-TLS ClientHello
             * to a server without TLS, say) is consumed before it closes:
             * the client sees an orderly EOF, not a connection reset. */
            if (c->io->pending(c))
                c->io->drain(c, 8192);
            ms_event_set_end(&c->ev, MS_END_PROTOCOL_ERROR, "%s (%u bytes)", e.message, len);
            return 0;
        }
        if (ensure_msg(c, len - 4) < 0) {
            ms_event_set_end(&c->ev, MS_END_PROTOCOL_ERROR, "out of memory");
            return 0;
        }
        rc = c->io->read_exact(c, c->msg, len - 4);
        if (rc != 1) {
            end_on_read(c, rc, "reading the startup packet");
            return 0;
        }
        c->msg[len - 4] = 0;
        if (ms_startup_parse(c->msg, len - 4, st, &e) < 0) {
            if (!strcmp(e.severity, "COMMERROR")) {
                ms_event_set_end(&c->ev, MS_END_PROTOCOL_ERROR, "%s", e.message);
                return 0;
            }
            send_fatal_as(c, &e,
                          !strcmp(e.sqlstate, "08P01") ? MS_END_PROTOCOL_ERROR : MS_END_SERVER_FATAL,
                          NULL);
            return 0;
        }
        if (st->code == MS_CODE_CANCEL) {
            c->ev.cancel_request = 1;
            snprintf(c->ev.protocol, sizeof(c->ev.protocol), "cancel");
            ms_event_set_end(&c->ev, MS_END_CANCEL_REQUEST, "CancelRequest for pid %u", st->cancel_pid);
            return 0;
        }
        if ((st->code == MS_CODE_SSLREQUEST && !ssl_done) ||
            (st->code == MS_CODE_GSSENCREQUEST && !gss_done)) {
            int is_ssl = st->code == MS_CODE_SSLREQUEST;
            char answer = is_ssl && c->prof->ssl ? 'S' : 'N';
            /* CVE-2021-23214: bytes already here were sent before our answer,
             * so they are not TLS data. PostgreSQL has them in its buffer and
             * reports them once the handshake is done; we drop them from the
             * socket so the handshake cannot read them. */
            int unencrypted = c->io->pending(c);
            if (unencrypted && answer == 'S')
                c->io->drain(c, 8192);
            if (is_ssl) {
                note_tls_start(c, "sslrequest");
                c->ev.ssl_response = answer;
            } else
                c->ev.gssenc_requests++;
            ms_buf_u8(&c->out, (uint8_t)answer);
            if (flush_out(c) != 1) {
                end_on_read(c, 0, "answering the SSLRequest");
                return 0;
            }
            if (answer == 'S') {
                if (c->io->start_tls(c, 0) < 0) {
                    if (c->ev.end == MS_END_NONE)
                        end_on_read(c, -1, "in the TLS handshake");
                    return 0;
                }
                c->tls_active = 1;
            }
            if (unencrypted) {
                ms_pgerr_set(&e, "FATAL", "08P01", "received unencrypted data after %s request",
                             is_ssl ? "SSL" : "GSSAPI encryption");
                snprintf(e.detail, sizeof(e.detail),
                         "This could be either a client-software bug or evidence of an attempted "
                         "man-in-the-middle attack.");
                send_fatal_as(c, &e, MS_END_PROTOCOL_ERROR, NULL);
                return 0;
            }
            if (is_ssl) {
                ssl_done = 1;
                gss_done = gss_done || answer == 'S';
            } else
                gss_done = 1;
            continue;
        }
        if (st->code == MS_CODE_SSLREQUEST || st->code == MS_CODE_GSSENCREQUEST) {
            /* A second negotiation falls through to the version check. */
            ms_pgerr_set(&e, "FATAL", "0A000",
                         "unsupported frontend protocol %u.%u: server supports 3.0 to 3.0",
                         st->code >> 16, st->code & 0xffff);
            send_fatal_as(c, &e, MS_END_PROTOCOL_ERROR, NULL);
            return 0;
        }
        snprintf(c->ev.protocol, sizeof(c->ev.protocol), "%u.%u", st->code >> 16,
                 st->code & 0xffff);
        return 1;
    }
}

/* ---- authentication ---- */

static const char *auth_failed_msg(ms_pgerr *e, const char *user)
{
    ms_pgerr_set(e, "FATAL", "28P01", "password authentication failed for user \"%s\"", user);
    return e->message;
}

/* Reads the client's 'p' answer. Returns 1, or 0 when the connection ended
 * (the event says how). */
static int read_password_message(ms_conn *c, size_t *out_len, const char *what)
{
    char type;
    int rc = read_message(c, &type, out_len, what);
    if (rc != 1) {
        if (c->ev.end == MS_END_CLIENT_CLOSE)
            ms_event_set_auth_result(&c->ev, MS_AUTH_ABANDONED);
        return 0;
    }
    if (type != 'p') {
        ms_pgerr e;
        ms_pgerr_set(&e, "FATAL", "08P01", "expected %s response, got message type %d",
                     strcmp(c->prof->auth, "scram-sha-256") == 0 ? "SASL" : "password", type);
        send_fatal_as(c, &e, MS_END_PROTOCOL_ERROR, NULL);
        ms_event_set_auth_result(&c->ev, MS_AUTH_FAILED);
        return 0;
    }
    return 1;
}

static void md5_hex(const void *data, size_t len, char out[33])
{
    unsigned char d[16];
    unsigned int dlen = 0;
    EVP_Digest(data, len, d, &dlen, EVP_md5(), NULL);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Returns 1 when authenticated, 0 when the connection ended. */
static int authenticate(ms_conn *c, const char *user)
{
    const ms_profile *p = c->prof;
    int user_known = strcmp(user, p->user) == 0;
    size_t len;
    ms_pgerr e;
    if (!strcmp(p->auth, "trust")) {
        c->ev.auth_method = "trust";
        return 1;
    }
    if (!strcmp(p->auth, "cert")) {
        c->ev.auth_method = "cert";
        if (ms_clientcert_check(c, user, &e) < 0) {
            ms_event_set_auth_result(&c->ev, MS_AUTH_FAILED);
            send_fatal(c, &e);
            return 0;
        }
        return 1;
    }
    if (!strcmp(p->auth, "password") || !strcmp(p->auth, "md5") || !strcmp(p->auth, "entra")) {
        const char *pw;
        int md5 = !strcmp(p->auth, "md5");
        uint8_t salt[4] = {0};
        c->ev.auth_method = md5 ? "md5" : "password";
        if (md5 && c->md5_salt) {
            salt[0] = (uint8_t)(c->md5_salt >> 24);
            salt[1] = (uint8_t)(c->md5_salt >> 16);
            salt[2] = (uint8_t)(c->md5_salt >> 8);
            salt[3] = (uint8_t)c->md5_salt;
        } else if (md5)
            RAND_bytes(salt, 4);
        ms_be_auth(&c->out, md5 ? 5 : 3, salt, md5 ? 4 : 0);
        if (flush_out(c) != 1) {
            end_on_read(c, 0, "sending the authentication request");
            return 0;
        }
        if (!read_password_message(c, &len, "waiting for the password"))
            return 0;
        if (len > MS_MAX_AUTH_TOKEN_LENGTH) {
            /* recv_password_packet: pq_getmessage(PG_MAX_AUTH_TOKEN_LENGTH)
             * fails with COMMERROR "invalid message length" and the
             * backend exits without a message to the client. */
            ms_event_set_end(&c->ev, MS_END_PROTOCOL_ERROR,
                             "invalid message length: password packet of %zu bytes (limit %d)",
                             len, MS_MAX_AUTH_TOKEN_LENGTH);
            ms_event_set_auth_result(&c->ev, MS_AUTH_FAILED);
            return 0;
        }
        if (ms_fe_parse_password(c->msg, len, &pw, &e) < 0) {
            send_fatal_as(c, &e, MS_END_PROTOCOL_ERROR, NULL);
            ms_event_set_auth_result(&c->ev, MS_AUTH_FAILED);
            return 0;
        }
        if (!pw[0]) {
            ms_pgerr_set(&e, "FATAL", "28P01", "empty password returned by client");
            send_fatal(c, &e);
            ms_event_set_auth_result(&c->ev, MS_AUTH_FAILED);
            return 0;
        }
        if (!strcmp(p->auth, "entra") && ms_entra_is_principal(c->entra, user)) {
            /* A role made for an Entra principal signs in with a token;
             * every other role keeps its password (ms_entra.c). */
            char why[200] = "";
            if (ms_entra_check(c->entra, user, pw, strlen(pw), wall_ms() / 1000, &e, why,
                               sizeof(why)) < 0) {
                char reason[sizeof(c->ev.end_reason)];
                snprintf(reason, sizeof(reason), "entra: %s", why);
                send_fatal_as(c, &e, MS_END_SERVER_FATAL, reason);
                ms_event_set_auth_result(&c->ev, MS_AUTH_FAILED);
                return 0;
            }
            return 1;
        }
        {
            int ok = 0;
            if (user_known && !md5)
                ok = strcmp(pw, p->password) == 0;
            else if (user_known) {
                char inner[33], outer[33];
                size_t a = strlen(p->password), b = strlen(user);
                char *buf = malloc(a + b + 33);
                if (buf) {
                    memcpy(buf, p->password, a);
                    memcpy(buf + a, user, b);
                    md5_hex(buf, a + b, inner);
                    memcpy(buf, inner, 32);
                    memcpy(buf + 32, salt, 4);
                    md5_hex(buf, 36, outer);
                    ok = strlen(pw) == 35 && !strncmp(pw, "md5", 3) && !strcmp(pw + 3, outer);
                    free(buf);
                }
            }
            if (!ok) {
                auth_failed_msg(&e, user);
                send_fatal(c, &e);
                ms_event_set_auth_result(&c->ev, MS_AUTH_FAILED);
                return 0;
            }
        }
        return 1;
    }
    if (!strcmp(p->auth, "scram-sha-256")) {
        ms_scram sc;
        uint8_t salt[16], nonce_raw[18];
        char *nonce = NULL;
        const char *mech;
        const uint8_t *data;
        int32_t dlen;
        int plus_ok = c->tls_active && p->cb_len > 0, rc, ok = 0;
        ms_buf mechs, reply;
        ms_buf_init(&mechs);
        ms_buf_init(&reply);
        c->ev.auth_method = "scram-sha-256";
        RAND_bytes(salt, sizeof(salt));
        RAND_bytes(nonce_raw, sizeof(nonce_raw));
        nonce = ms_b64_encode(nonce_raw, sizeof(nonce_raw));
        if (!nonce ||
            ms_scram_init(&sc, user_known ? p->password : NULL, salt, sizeof(salt),
                          MS_SCRAM_ITERATIONS, nonce, plus_ok, p->cb_hash, p->cb_len) < 0) {
            free(nonce);
            ms_pgerr_set(&e, "FATAL", "XX000", "could not initialise SCRAM");
            send_fatal(c, &e);
            return 0;
        }
        free(nonce);
        ms_scram_mechanisms(plus_ok, &mechs);
        ms_be_auth(&c->out, 10, mechs.data, mechs.len);
        ms_buf_cleanup(&mechs);
        if (flush_out(c) != 1) {
            end_on_read(c, 0, "sending the authentication request");
            goto scram_out;
        }
        if (!read_password_message(c, &len, "waiting for the SASL initial response"))
            goto scram_out;
        if (ms_fe_parse_sasl_initial(c->msg, len, &mech, &data, &dlen, &e) < 0 ||
            ms_scram_client_first(&sc, mech, data, dlen < 0 ? 0 : (size_t)dlen, &reply, &e) < 0) {
            send_fatal(c, &e);
            ms_event_set_auth_result(&c->ev, MS_AUTH_FAILED);
            goto scram_out;
        }
        if (sc.plus)
            c->ev.auth_method = "scram-sha-256-plus";
        ms_be_auth(&c->out, 11, reply.data, reply.len);
        ms_buf_reset(&reply);
        if (flush_out(c) != 1) {
            end_on_read(c, 0, "sending the SASL challenge");
            goto scram_out;
        }
        if (!read_password_message(c, &len, "waiting for the SASL response"))
            goto scram_out;
        rc = ms_scram_client_final(&sc, c->msg, len, &reply, &e);
        if (rc < 0) {
            send_fatal(c, &e);
            ms_event_set_auth_result(&c->ev, MS_AUTH_FAILED);
            goto scram_out;
        }
        if (rc == 0) {
            auth_failed_msg(&e, user);
            send_fatal(c, &e);
            ms_event_set_auth_result(&c->ev, MS_AUTH_FAILED);
            goto scram_out;
        }
        ms_be_auth(&c->out, 12, reply.data, reply.len);
        ok = 1;
    scram_out:
        ms_buf_cleanup(&reply);
        ms_scram_cleanup(&sc);
        return ok;
    }
    ms_pgerr_set(&e, "FATAL", "28000", "authentication method \"%s\" not supported by the mock",
                 p->auth);
    send_fatal(c, &e);
    return 0;
}

/* ---- after authentication ---- */

/* Applies startup parameters as InitPostgres does (process_startup_options):
 * an unknown one is an ERROR promoted to FATAL. Returns 0 or -1 after the
 * FATAL. */
static int apply_startup_params(ms_conn *c, const ms_startup *st)
{
    size_t i;
    ms_pgerr e;
    for (i = 0; i < st->num_params; i++) {
        const char *n = st->names[i], *v = st->values[i];
        if (!strcmp(n, "user") || !strcmp(n, "database") || !strcmp(n, "replication"))
            continue;
        if (!strcmp(n, "options")) {
            /* "-c name=value" and "--name=value" switches (pg_split_opts). */
            char buf[1024], *tok, *save = NULL;
            int want_c = 0;
            snprintf(buf, sizeof(buf), "%s", v);
            for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
                char *eq;
                if (!strcmp(tok, "-c")) {
                    want_c = 1;
                    continue;
                }
                if (!strncmp(tok, "--", 2))
                    tok += 2;
                else if (!strncmp(tok, "-c", 2))
                    tok += 2;
                else if (!want_c)
                    continue;
                want_c = 0;
                eq = strchr(tok, '=');
                if (!eq)
                    continue;
                *eq = 0;
                if (ms_settings_set(&c->settings, tok, eq + 1, NULL, &e) < 0) {
                    send_fatal(c, &e);
                    return -1;
                }
            }
            continue;
        }
        if (ms_settings_set(&c->settings, n, v, NULL, &e) < 0) {
            send_fatal(c, &e);
            return -1;
        }
    }
    return 0;
}

static void publish(ms_conn *c)
{
    const char *app = ms_settings_get(&c->settings, "application_name");
    snprintf(c->act.application_name, sizeof(c->act.application_name), "%s", app ? app : "");
    snprintf(c->ev.application_name, sizeof(c->ev.application_name), "%s", app ? app : "");
    if (c->publish)
        c->publish(c);
}

/* ---- results on the wire ---- */

static int16_t col_format(const ms_stmt *portal, size_t col)
{
    if (!portal || portal->num_formats == 0)
        return 0;
    if (portal->num_formats == 1)
        return portal->formats[0];
    return col < (size_t)portal->num_formats && col < MS_MAX_COLS ? portal->formats[col] : 0;
}

static void send_row_description(ms_conn *c, const ms_result *r, const ms_stmt *portal)
{
    size_t m = ms_msg_begin(&c->out, 'T'), i;
    ms_buf_i16(&c->out, (int16_t)r->num_cols);
    for (i = 0; i < r->num_cols; i++) {
        ms_buf_str(&c->out, r->cols[i].name);
        ms_buf_i32(&c->out, 0);                       /* table OID */
        ms_buf_i16(&c->out, 0);                       /* column number */
        ms_buf_i32(&c->out, (int32_t)r->cols[i].oid); /* type OID */
        ms_buf_i16(&c->out, r->cols[i].typlen);
        ms_buf_i32(&c->out, -1); /* typmod */
        ms_buf_i16(&c->out, col_format(portal, i));
    }
    ms_msg_end(&c->out, m);
}

/* Binary send functions of the types we return (int4send, boolsend,
 * inet_send, ...); text-like types send their bytes. */
static void put_value(ms_buf *b, uint32_t oid, const char *text, int16_t fmt)
{
    if (!text) {
        ms_buf_i32(b, -1);
        return;
    }
    if (fmt == 1) {
        switch (oid) {
        case MS_OID_BOOL:
            ms_buf_i32(b, 1);
            ms_buf_u8(b, text[0] == 't');
            return;
        case MS_OID_INT4:
        case MS_OID_OID:
            ms_buf_i32(b, 4);
            ms_buf_i32(b, (int32_t)strtoll(text, NULL, 10));
            return;
        case MS_OID_INT8: {
            long long v = strtoll(text, NULL, 10);
            ms_buf_i32(b, 8);
            ms_buf_i32(b, (int32_t)(v >> 32));
            ms_buf_i32(b, (int32_t)(v & 0xffffffff));
            return;
        }
        case MS_OID_INET: {
            uint8_t a[16];
            int v6 = strchr(text, ':') != NULL;
            if (inet_pton(v6 ? AF_INET6 : AF_INET, text, a) == 1) {
                ms_buf_i32(b, 4 + (v6 ? 16 : 4));
                ms_buf_u8(b, v6 ? 3 : 2); /* PGSQL_AF_INET6 / PGSQL_AF_INET */
                ms_buf_u8(b, v6 ? 128 : 32);
                ms_buf_u8(b, 0); /* is_cidr */
                ms_buf_u8(b, v6 ? 16 : 4);
                ms_buf_put(b, a, v6 ? 16 : 4);
                return;
            }
            ms_buf_i32(b, -1);
            return;
        }
        default:
            break;
        }
    }
    ms_buf_i32(b, (int32_t)strlen(text));
    ms_buf_put(b, text, strlen(text));
}

static void send_rows(ms_conn *c, const ms_result *r, const ms_stmt *portal)
{
    size_t i, j;
    for (i = 0; i < r->num_rows; i++) {
        size_t m = ms_msg_begin(&c->out, 'D');
        ms_buf_i16(&c->out, (int16_t)r->num_cols);
        for (j = 0; j < r->num_cols; j++)
            put_value(&c->out, r->cols[j].oid, r->cells[i * r->num_cols + j],
                      col_format(portal, j));
        ms_msg_end(&c->out, m);
    }
}

static void send_error(ms_conn *c, ms_pgerr *e)
{
    e->severity = "ERROR";
    ms_be_error_major(&c->out, e, ms_major_of(c->prof->server_version));
    if (c->tx == 'T')
        c->tx = 'E';
}

static ms_qctx qctx_of(ms_conn *c)
{
    ms_qctx q;
    memset(&q, 0, sizeof(q));
    q.settings = &c->settings;
    q.pid = c->pid;
    q.ssl = c->tls_active;
    q.ssl_bits = c->ev.cipher_bits;
    q.ssl_version = c->tls_active ? c->ev.tls_version : NULL;
    q.ssl_cipher = c->tls_active ? c->ev.cipher : NULL;
    q.user = c->ev.user;
    q.database = c->ev.database;
    q.tx = c->tx;
    q.activity = c->activity;
    q.activity_ud = c->activity_ud;
    q.self = &c->act;
    return q;
}

/* The SQL subset, with the pgaadauth extension's function in front. */
static int query_run(ms_conn *c, ms_qctx *q, const char *sql, int execute, ms_result *r)
{
    int rc = ms_entra_query(c->entra, sql, c->ev.database, execute, r);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    return ms_query_run(q, sql, execute, r);
}

/* Runs one statement and writes its messages (not ReadyForQuery). With
 * portal != NULL it is an Execute: no RowDescription. Returns 0, or -1 when
 * it failed (an ErrorResponse was queued). */
static int run_statement(ms_conn *c, const char *sql, const ms_stmt *portal, int *changed)
{
    ms_qctx q = qctx_of(c);
    ms_result r;
    int rc = 0;
    size_t k;
    if (query_run(c, &q, sql, 1, &r) < 0) {
        ms_pgerr e;
        ms_pgerr_set(&e, "ERROR", "53200", "out of memory");
        send_error(c, &e);
        return -1;
    }
    c->tx = q.tx;
    if (r.notice[0])
        ms_be_notice(&c->out, "25001", r.notice);
    switch (r.kind) {
    case MS_RES_EMPTY:
        ms_be_simple(&c->out, 'I');
        break;
    case MS_RES_ERROR:
        send_error(c, &r.err);
        rc = -1;
        break;
    case MS_RES_COMMAND:
        ms_be_command_complete(&c->out, r.tag);
        break;
    case MS_RES_ROWS:
        if (portal && portal->num_formats > 1 && (size_t)portal->num_formats != r.num_cols) {
            /* pquery.c PortalSetResultFormat */
            ms_pgerr e;
            ms_pgerr_set(&e, "ERROR", "08P01",
                         "bind message has %d result formats but query has %zu columns",
                         portal->num_formats, r.num_cols);
            send_error(c, &e);
            rc = -1;
            break;
        }
        if (!portal)
            send_row_description(c, &r, NULL);
        send_rows(c, &r, portal);
        ms_be_command_complete(&c->out, r.tag);
        break;
    }
    for (k = 0; k < r.num_reported; k++)
        changed[r.reported[k]] = 1;
    ms_result_cleanup(&r);
    return rc;
}

static void send_changed_params(ms_conn *c, int *changed)
{
    size_t i;
    for (i = 0; i < c->settings.num && i < MS_MAX_SETTINGS; i++)
        if (changed[i]) {
            ms_be_param_status(&c->out, c->settings.v[i].name, c->settings.v[i].value);
            changed[i] = 0;
            if (!strcasecmp(c->settings.v[i].name, "application_name"))
                publish(c);
        }
}

static ms_stmt *find_slot(ms_stmt *tab, const char *name)
{
    int i;
    for (i = 0; i < MS_MAX_STMTS; i++)
        if (tab[i].used && !strcmp(tab[i].name, name))
            return &tab[i];
    return NULL;
}

static ms_stmt *free_slot(ms_stmt *tab)
{
    int i;
    for (i = 0; i < MS_MAX_STMTS; i++)
        if (!tab[i].used)
            return &tab[i];
    return NULL;
}

static void ext_error(ms_conn *c, ms_pgerr *e)
{
    send_error(c, e);
    c->ignore_till_sync = 1;
}

/* Parse: PostgreSQL analyses the statement at once, so unknown statements
 * fail here. */
static void on_parse(ms_conn *c, size_t len)
{
    ms_fe_parse p;
    ms_pgerr e;
    ms_stmt *s;
    ms_qctx q = qctx_of(c);
    ms_result r;
    int i;
    ms_rd rd;
    if (ms_fe_parse_parse(c->msg, len, &p, &e) < 0) {
        ext_error(c, &e);
        return;
    }
    if (query_run(c, &q, p.query, 0, &r) < 0 || r.kind == MS_RES_ERROR) {
        if (r.kind == MS_RES_ERROR)
            ext_error(c, &r.err);
        ms_result_cleanup(&r);
        return;
    }
    ms_result_cleanup(&r);
    if (p.stmt[0] && find_slot(c->stmts, p.stmt)) {
        ms_pgerr_set(&e, "ERROR", "42P05", "prepared statement \"%s\" already exists", p.stmt);
        ext_error(c, &e);
        return;
    }
    if (!p.stmt[0] && (s = find_slot(c->stmts, "")))
        stmt_clear(s);
    s = free_slot(c->stmts);
    if (!s) {
        ms_pgerr_set(&e, "ERROR", "53400", "too many prepared statements in the mock (max %d)",
                     MS_MAX_STMTS);
        ext_error(c, &e);
        return;
    }
    s->name = strdup(p.stmt);
    s->sql = strdup(p.query);
    s->used = 1;
    /* Re-read the parameter type OIDs for ParameterDescription. */
    ms_rd_init(&rd, c->msg, len);
    ms_rd_str(&rd);
    ms_rd_str(&rd);
    ms_rd_i16(&rd);
    s->num_param_types = p.num_param_types < 16 ? p.num_param_types : 16;
    for (i = 0; i < s->num_param_types; i++)
        s->param_types[i] = (uint32_t)ms_rd_i32(&rd);
    if (!s->name || !s->sql) {
        stmt_clear(s);
        ms_pgerr_set(&e, "ERROR", "53200", "out of memory");
        ext_error(c, &e);
        return;
    }
    ms_be_simple(&c->out, '1');
}

static void on_bind(ms_conn *c, size_t len)
{
    ms_fe_bind b;
    ms_pgerr e;
    ms_stmt *s, *pt;
    if (ms_fe_parse_bind(c->msg, len, &b, &e) < 0) {
        ext_error(c, &e);
        return;
    }
    s = find_slot(c->stmts, b.stmt);
    if (!s) {
        if (b.stmt[0])
            ms_pgerr_set(&e, "ERROR", "26000", "prepared statement \"%s\" does not exist", b.stmt);
        else
            ms_pgerr_set(&e, "ERROR", "26000", "unnamed prepared statement does not exist");
        ext_error(c, &e);
        return;
    }
    if (b.num_params != s->num_param_types && s->num_param_types > 0) {
        ms_pgerr_set(&e, "ERROR", "08P01",
                     "bind message supplies %d parameters, but prepared statement \"%s\" "
                     "requires %d",
                     b.num_params, s->name, s->num_param_types);
        ext_error(c, &e);
        return;
    }
    pt = find_slot(c->portals, b.portal);
    if (pt) {
        if (b.portal[0]) {
            ms_pgerr_set(&e, "ERROR", "42P03", "cursor \"%s\" already exists", b.portal);
            ext_error(c, &e);
            return;
        }
        stmt_clear(pt);
    }
    pt = free_slot(c->portals);
    if (!pt) {
        ms_pgerr_set(&e, "ERROR", "53400", "too many portals in the mock (max %d)", MS_MAX_STMTS);
        ext_error(c, &e);
        return;
    }
    pt->name = strdup(b.portal);
    pt->sql = strdup(s->sql);
    pt->used = 1;
    /* Results have at most MS_MAX_COLS columns: keep that many codes. */
    pt->num_formats = b.num_result_formats;
    memcpy(pt->formats, b.result_formats,
           sizeof(int16_t) *
               (size_t)(b.num_result_formats < MS_MAX_COLS ? b.num_result_formats : MS_MAX_COLS));

    if (!pt->name || !pt->sql) {
        stmt_clear(pt);
        ms_pgerr_set(&e, "ERROR", "53200", "out of memory");
        ext_error(c, &e);
        return;
    }
    ms_be_simple(&c->out, '2');
}

static void on_describe(ms_conn *c, size_t len)
{
    ms_fe_target t;
    ms_pgerr e;
    ms_stmt *s;
    ms_qctx q = qctx_of(c);
    ms_result r;
    if (ms_fe_parse_target('D', c->msg, len, &t, &e) < 0) {
        ext_error(c, &e);
        return;
    }
    s = find_slot(t.kind == 'S' ? c->stmts : c->portals, t.name);
    if (!s) {
        if (t.kind == 'S')
            ms_pgerr_set(&e, "ERROR", "26000", "prepared statement \"%s\" does not exist", t.name);
        else
            ms_pgerr_set(&e, "ERROR", "34000", "portal \"%s\" does not exist", t.name);
        ext_error(c, &e);
        return;
    }
    if (t.kind == 'S') {
        size_t m = ms_msg_begin(&c->out, 't');
        int i;
        ms_buf_i16(&c->out, (int16_t)s->num_param_types);
        for (i = 0; i < s->num_param_types; i++)
            ms_buf_i32(&c->out, (int32_t)s->param_types[i]);
        ms_msg_end(&c->out, m);
    }
    if (query_run(c, &q, s->sql, 0, &r) < 0) {
        ms_pgerr_set(&e, "ERROR", "53200", "out of memory");
        ext_error(c, &e);
        return;
    }
    if (r.kind == MS_RES_ROWS)
        send_row_description(c, &r, t.kind == 'P' ? s : NULL);
    else if (r.kind == MS_RES_ERROR)
        ext_error(c, &r.err);
    else
        ms_be_simple(&c->out, 'n'); /* NoData */
    ms_result_cleanup(&r);
}

static void on_execute(ms_conn *c, size_t len, int *changed)
{
    ms_fe_execute x;
    ms_pgerr e;
    ms_stmt *pt;
    if (ms_fe_parse_execute(c->msg, len, &x, &e) < 0) {
        ext_error(c, &e);
        return;
    }
    pt = find_slot(c->portals, x.portal);
    if (!pt) {
        ms_pgerr_set(&e, "ERROR", "34000", "portal \"%s\" does not exist", x.portal);
        ext_error(c, &e);
        return;
    }
    c->ev.queries++;
    if (run_statement(c, pt->sql, pt, changed) < 0)
        c->ignore_till_sync = 1;
}

static void on_close(ms_conn *c, size_t len)
{
    ms_fe_target t;
    ms_pgerr e;
    ms_stmt *s;
    if (ms_fe_parse_target('C', c->msg, len, &t, &e) < 0) {
        ext_error(c, &e);
        return;
    }
    s = find_slot(t.kind == 'S' ? c->stmts : c->portals, t.name);
    if (s)
        stmt_clear(s);
    ms_be_simple(&c->out, '3');
}

static void on_query(ms_conn *c, size_t len, int *changed)
{
    const char *sql;
    ms_pgerr e;
    char *stmts[64];
    size_t n, i;
    c->ignore_till_sync = 0;
    if (ms_fe_parse_query(c->msg, len, &sql, &e) < 0) {
        send_error(c, &e);
        return;
    }
    c->ev.queries++;
    n = ms_query_split(sql, stmts, 64);
    if (n > 64) {
        for (i = 0; i < 64; i++)
            free(stmts[i]);
        ms_pgerr_set(&e, "ERROR", "54000",
                     "pgtls mock server runs at most 64 statements per query, got %zu", n);
        send_error(c, &e);
        return;
    }
    if (n == 0)
        ms_be_simple(&c->out, 'I'); /* EmptyQueryResponse */
    for (i = 0; i < n; i++) {
        int failed = run_statement(c, stmts[i], NULL, changed) < 0;
        free(stmts[i]);
        if (failed) {
            for (i++; i < n; i++)
                free(stmts[i]);
            break;
        }
    }
}

static void query_loop(ms_conn *c)
{
    int changed[MS_MAX_SETTINGS] = {0};
    for (;;) {
        char type;
        size_t len;
        if (read_message(c, &type, &len, "idle") != 1)
            return;
        if (c->ignore_till_sync && type != 'S' && type != 'X' && type != 'Q') {
            continue;
        }
        switch (type) {
        case 'Q':
            on_query(c, len, changed);
            send_changed_params(c, changed);
            ms_be_ready(&c->out, c->tx);
            break;
        case 'P':
            on_parse(c, len);
            break;
        case 'B':
            on_bind(c, len);
            break;
        case 'D':
            on_describe(c, len);
            break;
        case 'E':
            on_execute(c, len, changed);
            break;
        case 'C':
            on_close(c, len);
            break;
        case 'S':
            c->ignore_till_sync = 0;
            send_changed_params(c, changed);
            ms_be_ready(&c->out, c->tx);
            break;
        case 'H':
            break;
        case 'X':
            flush_out(c);
            ms_event_set_end(&c->ev, MS_END_CLIENT_CLOSE, "Terminate");
            return;
        case 'd':
        case 'c':
        case 'f':
            /* CopyData/CopyDone/CopyFail outside COPY are ignored (postgres.c). */
            continue;
        case 'F': {
            ms_pgerr e;
            ms_pgerr_set(&e, "ERROR", "0A000",
                         "pgtls mock server does not support the function call protocol");
            ext_error(c, &e);
            break;
        }
        default: {
            ms_pgerr e;
            ms_pgerr_set(&e, "FATAL", "08P01", "invalid frontend message type %d", type);
            send_fatal_as(c, &e, MS_END_PROTOCOL_ERROR, NULL);
            return;
        }
        }
        /* Extended-protocol replies wait for Sync or Flush, like PostgreSQL's
         * buffered output; simple query and Sync end with ReadyForQuery. */
        if (type == 'Q' || type == 'S' || type == 'H') {
            if (flush_out(c) != 1) {
                end_on_read(c, 0, "sending results");
                return;
            }
        }
    }
}

void ms_session_run(ms_conn *c)
{
    ms_startup st;
    ms_pgerr e;
    size_t i;
    uint8_t *startup_buf = NULL;
    static const char *const reported_order[] = {"application_name",
                                                 "client_encoding",
                                                 "DateStyle",
                                                 "default_transaction_read_only",
                                                 "in_hot_standby",
                                                 "integer_datetimes",
                                                 "IntervalStyle",
                                                 "is_superuser",
                                                 "scram_iterations",
                                                 "server_encoding",
                                                 "server_version",
                                                 "session_authorization",
                                                 "standard_conforming_strings",
                                                 "TimeZone"};

    if (!negotiate(c, &st))
        goto out;
    /* st points into c->msg: keep that buffer for the whole session. */
    startup_buf = c->msg;
    c->msg = NULL;
    c->msg_cap = 0;
    c->ev.startup = 1;
    snprintf(c->ev.user, sizeof(c->ev.user), "%s", st.user);
    snprintf(c->ev.database, sizeof(c->ev.database), "%s", st.database);
    for (i = 0; i < st.num_params; i++)
        if (!strcmp(st.names[i], "application_name"))
            snprintf(c->ev.application_name, sizeof(c->ev.application_name), "%s", st.values[i]);
    /* A newer 3.x minor or _pq_. options we do not know: NegotiateProtocolVersion. */
    if ((st.code & 0xffff) > 0 || st.num_pq_opts > 0)
        ms_be_negotiate_version(&c->out, MS_PROTO_3_0, st.num_pq_opts, st.pq_opts);
    if (c->too_many) {
        ms_pgerr_set(&e, "FATAL", "53300", "sorry, too many clients already");
        send_fatal(c, &e);
        goto out;
    }
    if (c->prof->require_secure_transport && !c->tls_active) {
        /* hba.c / auth.c ClientAuthentication with hostssl-only rules. */
        ms_pgerr_set(&e, "FATAL", "28000",
                     "no pg_hba.conf entry for host \"%s\", user \"%s\", database \"%s\", "
                     "no encryption",
                     c->ev.peer_addr[0] ? c->ev.peer_addr : "127.0.0.1", st.user, st.database);
        send_fatal(c, &e);
        ms_event_set_auth_result(&c->ev, MS_AUTH_FAILED);
        goto out;
    }
    if (ms_clientcert_required(c, &e) < 0) {
        ms_event_set_auth_result(&c->ev, MS_AUTH_FAILED);
        send_fatal(c, &e);
        goto out;
    }
    if (!authenticate(c, st.user))
        goto out;
    if (ms_clientcert_verify_full(c, st.user, &e) < 0) {
        ms_event_set_auth_result(&c->ev, MS_AUTH_FAILED);
        send_fatal(c, &e);
        goto out;
    }
    ms_event_set_auth_result(&c->ev, MS_AUTH_OK);
    ms_be_auth(&c->out, 0, NULL, 0);
    if (!strcmp(c->prof->auth, "trust") && strcmp(st.user, c->prof->user) != 0) {
        ms_pgerr_set(&e, "FATAL", "28000", "role \"%s\" does not exist", st.user);
        send_fatal(c, &e);
        goto out;
    }
    /* Server facts first, then the client's parameters. */
    ms_settings_put(&c->settings, "server_version", c->prof->server_version);
    {
        int maj = 0, min = 0;
        char num[16];
        sscanf(c->prof->server_version, "%d.%d", &maj, &min);
        snprintf(num, sizeof(num), "%d", maj * 10000 + min);
        ms_settings_put(&c->settings, "server_version_num", num);
    }
    ms_settings_put(&c->settings, "session_authorization", st.user);
    ms_settings_put(&c->settings, "ssl", c->prof->ssl ? "on" : "off");
    ms_settings_put(&c->settings, "ssl_min_protocol_version", c->prof->ssl_min_protocol_version);
    ms_settings_put(&c->settings, "ssl_max_protocol_version", c->prof->ssl_max_protocol_version);
    ms_settings_put(&c->settings, "ssl_ciphers", c->prof->ssl_ciphers);
    if (c->prof->ssl_groups[0])
        ms_settings_put(&c->settings, "ssl_ecdh_curve", c->prof->ssl_groups);
    ms_settings_put(&c->settings, "require_secure_transport",
                    c->prof->require_secure_transport ? "on" : "off");
    ms_settings_put(&c->settings, "password_encryption",
                    !strcmp(c->prof->auth, "md5") ? "md5" : "scram-sha-256");
    if (apply_startup_params(c, &st) < 0)
        goto out;
    for (i = 0; i < sizeof(reported_order) / sizeof(reported_order[0]); i++)
        ms_be_param_status(&c->out, reported_order[i],
                           ms_settings_get(&c->settings, reported_order[i]));
    /* pg_stat_activity row */
    c->act.pid = c->pid;
    c->act.ssl = c->tls_active;
    c->act.bits = c->ev.cipher_bits;
    snprintf(c->act.version, sizeof(c->act.version), "%s", c->ev.tls_version);
    snprintf(c->act.cipher, sizeof(c->act.cipher), "%s", c->ev.cipher);
    snprintf(c->act.client_addr, sizeof(c->act.client_addr), "%s",
             c->ev.peer_addr[0] ? c->ev.peer_addr : "127.0.0.1");
    c->act.client_port = c->ev.peer_port;
    c->act.client_cert = c->peer_dn[0] || c->peer_serial[0];
    snprintf(c->act.client_dn, sizeof(c->act.client_dn), "%s", c->peer_dn);
    snprintf(c->act.client_serial, sizeof(c->act.client_serial), "%s", c->peer_serial);
    snprintf(c->act.issuer_dn, sizeof(c->act.issuer_dn), "%s", c->peer_issuer);
    snprintf(c->act.datname, sizeof(c->act.datname), "%s", st.database);
    snprintf(c->act.usename, sizeof(c->act.usename), "%s", st.user);
    snprintf(c->act.backend_type, sizeof(c->act.backend_type), "client backend");
    /* Published before ReadyForQuery so a client that saw it is listed. */
    publish(c);
    ms_be_key_data(&c->out, c->pid, c->cancel_key);
    ms_be_ready(&c->out, 'I');
    if (flush_out(c) != 1) {
        end_on_read(c, 0, "sending the start-up reply");
        goto out;
    }
    query_loop(c);
out:
    if (c->ev.gssenc_requests && !strcmp(c->ev.tls_start, "none"))
        note_tls_start(c, "none");
    free(startup_buf);
    ms_event_set_end(&c->ev, MS_END_PROTOCOL_ERROR, "internal: session ended without a reason");
    if (c->tls_active &&
        (c->ev.end == MS_END_SERVER_FATAL || c->ev.end == MS_END_SERVER_SHUTDOWN ||
         c->ev.end == MS_END_PROTOCOL_ERROR))
        c->io->close_tls(c);
    c->ev.pid = c->pid;
    c->ev.t_end_ms = wall_ms();
}
