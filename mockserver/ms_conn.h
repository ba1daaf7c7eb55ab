/* pgtls mockserver: one client connection, the scenario profile it is
 * served with, its event record, and the seams between the protocol state
 * machine (ms_session.c), the transport (ms_tls.c, ms_listener.c, or memory
 * in tests and the fuzzer) and the event log (ms_event.c). Internal. */
#ifndef PGTLS_MS_CONN_H
#define PGTLS_MS_CONN_H

#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "fixtures.h"
#include "ms_query.h"
#include "ms_wire.h"

/* A scenario as served: the server settings (owned copies) and the TLS
 * context built from them. Reference-counted so SIGHUP can swap a new one in
 * while open connections keep theirs. */
typedef struct ms_profile {
    atomic_int refs;
    char *scenario;
    int ssl, require_secure_transport, client_cert, direct_tls;
    char *ssl_min_protocol_version, *ssl_max_protocol_version, *ssl_ciphers, *ssl_tls13_ciphers,
        *ssl_groups, *auth, *user, *password, *server_version;
    char *chain_pem, *key_pem;
    int user_files; /* chain_pem/key_pem are the user's own (--set, --cert/--key), not fixtures */
    char *ssl_passphrase_command, *ssl_passphrase_file; /* for an encrypted key_pem */
    char *ssl_ca_file, *ssl_crl_file, *ssl_crl_dir; /* "" or NULL: none (ms_clientcert.c) */
    char *clientcert; /* pg_hba clientcert: "" | verify-ca | verify-full */
    SSL_CTX *ctx;         /* NULL when ssl = 0 */
    uint8_t cb_hash[64];  /* tls-server-end-point of the leaf (RFC 5929) */
    size_t cb_len;        /* 0: cannot be computed, PLUS is not offered */
    int security_level_0; /* lowered for TLS < 1.2 or weak certificates */
} ms_profile;

/* Builds a profile from a scenario and "key=value" overrides of its server
 * settings (same names as index.json; NULL-terminated list or NULL).
 * Returns NULL with a one-line message in err (missing file, key that does
 * not match the certificate, unknown setting, min > max protocol...). */
ms_profile *ms_profile_new(const fx_scenario *sc, const char *const *overrides, pgtls_err *err);
ms_profile *ms_profile_ref(ms_profile *p);
void ms_profile_unref(ms_profile *p);

/* The event's states (docs/event-log.md), each an enum with its name table.
 * The zero value is the state before anything happened; every write goes
 * through ms_event_set_* and the first value set wins (the cause of an end
 * is what happened first, not what the cleanup saw later). */
#define MS_HANDSHAKES(X)                                                                           \
    X(MS_HANDSHAKE_NONE, "none")                                                                   \
    X(MS_HANDSHAKE_OK, "ok")                                                                       \
    X(MS_HANDSHAKE_FAILED, "failed")
#define MS_AUTH_RESULTS(X)                                                                         \
    X(MS_AUTH_NONE, "none")                                                                        \
    X(MS_AUTH_OK, "ok")                                                                            \
    X(MS_AUTH_FAILED, "failed")                                                                    \
    X(MS_AUTH_ABANDONED, "abandoned")
/* MS_END_NONE: not ended yet (written as protocol-error should an event
 * ever be emitted without an end). */
#define MS_ENDS(X)                                                                                 \
    X(MS_END_NONE, "protocol-error")                                                               \
    X(MS_END_CLIENT_CLOSE, "client-close")                                                         \
    X(MS_END_CLIENT_ALERT, "client-alert")                                                         \
    X(MS_END_TIMEOUT, "timeout")                                                                   \
    X(MS_END_PROTOCOL_ERROR, "protocol-error")                                                     \
    X(MS_END_SERVER_FATAL, "server-fatal")                                                         \
    X(MS_END_SERVER_SHUTDOWN, "server-shutdown")                                                   \
    X(MS_END_CANCEL_REQUEST, "cancel-request")

#define MS_STATE_ENUM(e, name) e,
typedef enum { MS_HANDSHAKES(MS_STATE_ENUM) } ms_handshake;
typedef enum { MS_AUTH_RESULTS(MS_STATE_ENUM) } ms_auth_result;
typedef enum { MS_ENDS(MS_STATE_ENUM) } ms_end;
#undef MS_STATE_ENUM

const char *ms_handshake_name(ms_handshake h);
const char *ms_auth_result_name(ms_auth_result a);
const char *ms_end_name(ms_end e);

/* Everything the event log records about one connection (docs/event-log.md). */
typedef struct ms_event {
    int listener_id;
    char scenario[128];
    int port;
    char peer_addr[64];
    int peer_port;
    long long t_start_ms, t_end_ms; /* wall clock, ms since the epoch */
    char tls_start[40];             /* sslrequest | direct | none | gssenc-then-... */
    char ssl_response;              /* 'S', 'N' or 0 */
    int gssenc_requests;
    ms_handshake handshake;
    char tls_version[16], cipher[64], alpn[32], alpn_offered[128], sni[256];
    int cipher_bits;
    char tls_error[200];
    char client_alert[40], client_alert_level[8];
    char server_alert[40];
    int client_cert; /* the client presented a certificate */
    unsigned long long bytes_in, bytes_out;
    int startup; /* a StartupMessage was parsed */
    char protocol[12];
    char user[64], database[64], application_name[64];
    const char *auth_method; /* trust | password | md5 | scram-sha-256 | scram-sha-256-plus | cert | entra */
    ms_auth_result auth_result;
    int queries;
    int cancel_request;
    int pid;
    char fatal_sqlstate[6];
    char fatal_message[256];
    ms_end end;
    char end_reason[200];
} ms_event;

/* The setters: each records its value only while the state is still at
 * its zero value (first set wins). ms_event_set_end also writes end_reason
 * (printf format). */
void ms_event_set_handshake(ms_event *ev, ms_handshake h);
void ms_event_set_auth_result(ms_event *ev, ms_auth_result a);
void ms_event_set_end(ms_event *ev, ms_end end, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Serialises an event as one JSON object without a newline (heap string,
 * the caller frees it). Returns NULL when out of memory. */
char *ms_event_json(const ms_event *ev);

/* Alert description code -> RFC 8446/5246 name ("unknown_ca"); "alert_N"
 * for codes without a name (buf of 16 bytes). */
const char *ms_alert_name(int code, char buf[16]);

typedef struct ms_conn ms_conn;

/* Transport of a connection. Reads and writes are exact: they return 1 when
 * all bytes moved, 0 on EOF, -1 on error, -2 on timeout. */
typedef struct ms_io_ops {
    int (*read_exact)(ms_conn *c, void *buf, size_t n);
    int (*write_all)(ms_conn *c, const void *buf, size_t n);
    /* 1 when plaintext bytes are already waiting (never blocks). */
    int (*pending)(ms_conn *c);
    /* Reads and drops up to n waiting plaintext bytes (never blocks). */
    void (*drain)(ms_conn *c, size_t n);
    /* Peeks at the first byte without consuming it: 1, 0 EOF, -1, -2. */
    int (*peek1)(ms_conn *c, uint8_t *b);
    /* Runs the TLS handshake; fills the TLS fields of the event. 0 if OK. */
    int (*start_tls)(ms_conn *c, int direct);
    /* Sends close_notify when TLS is up. */
    void (*close_tls)(ms_conn *c);
} ms_io_ops;

#define MS_MAX_STMTS 64

typedef struct ms_stmt {
    char *name, *sql;
    int used;
    int num_param_types;
    uint32_t param_types[16];
    int16_t formats[MS_MAX_COLS]; /* portals only: result formats of our <= 16 columns */
    int num_formats;
} ms_stmt;

struct ms_conn {
    /* set by the creator */
    const ms_io_ops *io;
    void *io_ctx;
    ms_profile *prof;     /* a reference the conn owns */
    int fd;               /* socket, -1 in memory tests */
    SSL *ssl;             /* when TLS is up (ms_tls.c) */
    int too_many;         /* over max_connections: FATAL 53300 after startup */
    atomic_int *stopping; /* set when the server shuts down, or NULL */
    int stop_fd;          /* readable once the server stops (-1: none) */
    int timeout_ms;       /* of every read; 0: none */
    uint32_t md5_salt;    /* 0: random (tests fix it) */
    struct ms_entra *entra; /* the Entra tenant (auth=entra, ms_entra.c) or NULL */
    /* pg_stat_activity of the whole server; NULL: only this connection */
    size_t (*activity)(void *ud, ms_activity *rows, size_t max);
    void *activity_ud;
    /* Called when this connection's activity row changes (under no lock). */
    void (*publish)(ms_conn *c);
    /* state */
    ms_event ev;
    ms_buf out;
    uint8_t *msg;
    size_t msg_cap;
    ms_settings settings;
    ms_activity act;
    int pid;
    int32_t cancel_key;
    int tls_active;
    int peer_cert_valid; /* a client certificate verified against ssl_ca_file */
    char peer_cn[256];   /* its subject's CN */
    /* pg_stat_ssl's client_dn, client_serial, issuer_dn (be_tls_get_peer_*) */
    char peer_dn[64], peer_serial[64], peer_issuer[64];
    char tx;
    int ignore_till_sync;
    ms_stmt stmts[MS_MAX_STMTS], portals[MS_MAX_STMTS];
};

/* ---- client certificates (ms_clientcert.c) ---- */
/* ssl_ca_file / ssl_crl_file / ssl_crl_dir into ctx as PostgreSQL's
 * be_tls_init loads them (CertificateRequest with the CA names, verification,
 * CRL checks); nothing when ssl_ca_file is empty. */
int ms_clientcert_setup_ctx(const ms_profile *p, SSL_CTX *ctx, pgtls_err *err);
/* After a completed handshake: whether a verified certificate came, its CN. */
void ms_clientcert_note_peer(ms_conn *c, SSL *ssl);
/* The `cert` method's checks (auth.c): 0, or -1 with the FATAL in e. */
int ms_clientcert_check(const ms_conn *c, const char *user, ms_pgerr *e);
/* pg_hba `clientcert=verify-ca|verify-full` on another method, before
 * authentication: a verified certificate is required. 0 or -1 with e. */
int ms_clientcert_required(const ms_conn *c, ms_pgerr *e);
/* After the method succeeded, clientcert=verify-full: the CN must be the
 * user, else the method's own failure (auth.c auth_failed). 0 or -1 with e. */
int ms_clientcert_verify_full(const ms_conn *c, const char *user, ms_pgerr *e);

/* Prepares c (zeroes the state, keeps the creator's fields). */
void ms_conn_init(ms_conn *c);
/* Frees what ms_session_run allocated and the profile reference. */
void ms_conn_cleanup(ms_conn *c);

/* Runs the whole connection: negotiation, TLS, startup, authentication and
 * the query loop, until the client leaves or an error ends it. Fills c->ev
 * completely (end, end_reason, t_end). Never closes the socket. */
void ms_session_run(ms_conn *c);

/* ---- TLS (ms_tls.c) ---- */
/* The socket transport, plaintext until start_tls, then TLS. */
extern const ms_io_ops ms_socket_io;
/* Frees c->ssl if any. */
void ms_tls_conn_free(ms_conn *c);

/* ---- memory transport for tests and the fuzzer (ms_memio.c) ---- */
typedef struct ms_memio {
    const uint8_t *in;
    size_t in_len, in_off;
    /* Offsets where the client "waits for the server": pending() is false
     * there (models separate TCP writes for the CVE-2021-23214 check). */
    const size_t *breaks;
    size_t num_breaks;
    uint32_t md5_salt; /* 0: random */
    ms_buf out;
} ms_memio;
extern const ms_io_ops ms_memory_io;

/* Runs a full session over memory: input bytes in, server output in
 * mio->out (the caller cleans it up). prof may have ssl = 0 only.
 * mio->breaks/num_breaks are kept as the caller set them. */
void ms_session_run_memory(ms_profile *prof, const uint8_t *in, size_t in_len, ms_memio *mio,
                           ms_event *out_ev);

/* A profile without TLS for tests: auth method, user, password. */
ms_profile *ms_profile_new_plain(const char *auth, const char *user, const char *password,
                                 int require_secure_transport);

#endif
