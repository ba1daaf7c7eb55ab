/* pgtls mockserver: server side of SCRAM-SHA-256 and SCRAM-SHA-256-PLUS
 * (RFC 5802, RFC 7677, channel binding tls-server-end-point of RFC 5929),
 * as PostgreSQL's auth-scram.c runs it. Pure functions over strings: the
 * caller supplies salt, nonce and channel-binding data, so tests are exact. */
#ifndef PGTLS_MS_SCRAM_H
#define PGTLS_MS_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#include "ms_wire.h"

#define MS_SCRAM_KEY_LEN 32
#define MS_SCRAM_ITERATIONS 4096

typedef struct ms_scram {
    /* set by ms_scram_init */
    int user_known; /* 0: run the exchange, then fail like PostgreSQL's mock auth */
    int tls;        /* PLUS offered (TLS in use) */
    uint8_t salt[16];
    int iterations;
    uint8_t stored_key[MS_SCRAM_KEY_LEN], server_key[MS_SCRAM_KEY_LEN];
    char server_nonce[64];
    uint8_t cb_data[64]; /* tls-server-end-point hash of our leaf */
    size_t cb_len;
    /* filled while running */
    int plus;         /* the client chose SCRAM-SHA-256-PLUS */
    char cbind_flag;  /* 'n', 'y' or 'p' */
    char *gs2_header; /* "p=tls-server-end-point,," etc. */
    char *client_first_bare;
    char *server_first;
    char *nonce; /* client nonce + server nonce */
} ms_scram;

/* Derives the keys from password (NULL for an unknown user: the exchange
 * runs and then fails). server_nonce must be printable, without ','.
 * Returns 0 if OK, -1 when OpenSSL fails. */
int ms_scram_init(ms_scram *s, const char *password, const uint8_t *salt, size_t salt_len,
                  int iterations, const char *server_nonce, int tls, const uint8_t *cb_data,
                  size_t cb_len);
void ms_scram_cleanup(ms_scram *s);

/* The mechanism list of AuthenticationSASL: PLUS first when over TLS
 * (PostgreSQL's order). Writes the NUL-separated list with the final NUL. */
void ms_scram_mechanisms(int tls, ms_buf *out);

/* Handles SASLInitialResponse (mechanism + client-first-message). Returns 0
 * with the server-first-message in out, -1 with err (FATAL, PostgreSQL's
 * text: "malformed SCRAM message" with a detail, "SCRAM channel binding
 * negotiation error", ...). */
int ms_scram_client_first(ms_scram *s, const char *mech, const uint8_t *data, size_t len,
                          ms_buf *out, ms_pgerr *err);

/* Handles the client-final-message. Returns 1 when the proof is right (out
 * gets the server-final-message "v=..."), 0 when the proof is wrong or the
 * user unknown (the caller sends "password authentication failed"), -1 with
 * err on a protocol violation or a channel-binding mismatch. */
int ms_scram_client_final(ms_scram *s, const uint8_t *data, size_t len, ms_buf *out, ms_pgerr *err);

/* Base64 helpers (RFC 4648 with padding). Encode returns a heap string;
 * decode returns the byte count or -1 when the text is not valid base64. */
char *ms_b64_encode(const uint8_t *p, size_t n);
int ms_b64_decode(const char *s, uint8_t *out, size_t out_cap);

/* A client proof as a SCRAM client computes it; for tests and the bench.
 * Returns 0 if OK. */
int ms_scram_client_proof(const char *password, const uint8_t *salt, size_t salt_len,
                          int iterations, const char *auth_message,
                          uint8_t out_proof[MS_SCRAM_KEY_LEN]);

#endif
