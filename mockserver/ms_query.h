/* pgtls mockserver: the settings a session sees (GUCs) and the small SQL
 * subset connectivity checks and drivers send while connecting. Pure: the
 * caller hands in the session's view (settings, TLS facts, live
 * connections) and gets a result to encode on the wire. */
#ifndef PGTLS_MS_QUERY_H
#define PGTLS_MS_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "ms_wire.h"

/* Type OIDs (pg_type.dat) and their typlen. */
#define MS_OID_BOOL 16
#define MS_OID_NAME 19
#define MS_OID_INT8 20
#define MS_OID_INT4 23
#define MS_OID_TEXT 25
#define MS_OID_OID 26
#define MS_OID_INET 869
#define MS_OID_NUMERIC 1700

/* ---- settings ---- */
#define MS_GUC_REPORT 1u   /* sent as ParameterStatus at startup and on change */
#define MS_GUC_READONLY 2u /* SET fails: internal or postmaster/sighup context */
#define MS_MAX_SETTINGS 128

typedef struct ms_settings {
    size_t num;
    struct {
        char name[64]; /* canonical spelling */
        char value[256];
        unsigned flags;
    } v[MS_MAX_SETTINGS];
} ms_settings;

/* Fills the defaults of every known setting (see ms_query.c). */
void ms_settings_init(ms_settings *st);
/* Index of a setting by name (case-insensitive), or -1. */
int ms_settings_find(const ms_settings *st, const char *name);
const char *ms_settings_get(const ms_settings *st, const char *name);
/* Sets a value the way the server itself does (no read-only check, no
 * canonicalisation); adds a custom name when unknown. Returns 0 or -1 when
 * full. */
int ms_settings_put(ms_settings *st, const char *name, const char *value);
/* SET by a client or a startup parameter: unknown names without a '.' get
 * ERROR 42704 `unrecognized configuration parameter "X"`, read-only ones
 * 55P02; values are canonicalised (client_encoding, DateStyle). *out_index
 * gets the setting's index. Returns 0 or -1 with err. */
int ms_settings_set(ms_settings *st, const char *name, const char *value, int *out_index,
                    ms_pgerr *err);

/* ---- live connections (pg_stat_ssl JOIN pg_stat_activity) ---- */
typedef struct ms_activity {
    int pid;
    int ssl, bits;
    char version[16], cipher[64];
    char client_addr[64];
    int client_port;
    char datname[64], usename[64], application_name[64];
    char backend_type[32];
    /* pg_stat_ssl's client fields (ms_clientcert.c): a client certificate
     * was received; its subject, decimal serial and issuer, each cut to
     * NAMEDATALEN-1 bytes as PgBackendSSLStatus stores them. */
    int client_cert;
    char client_dn[64], client_serial[64], issuer_dn[64];
} ms_activity;

typedef struct ms_qctx {
    ms_settings *settings;
    int pid;
    int ssl, ssl_bits;
    const char *ssl_version, *ssl_cipher; /* NULL when no TLS */
    const char *user, *database;
    char tx; /* 'I' idle, 'T' in a transaction, 'E' failed transaction */
    /* Fills up to max rows of live connections and returns how many it
     * wrote; with rows == NULL returns how many there are. NULL: only this
     * connection. */
    size_t (*activity)(void *ud, ms_activity *rows, size_t max);
    void *activity_ud;
    const ms_activity *self; /* this connection's row */
} ms_qctx;

typedef enum { MS_RES_ROWS, MS_RES_COMMAND, MS_RES_EMPTY, MS_RES_ERROR } ms_res_kind;

#define MS_MAX_COLS 16
typedef struct ms_col {
    char name[64];
    uint32_t oid;
    int16_t typlen;
} ms_col;

typedef struct ms_result {
    ms_res_kind kind;
    size_t num_cols, num_rows;
    ms_col cols[MS_MAX_COLS];
    char **cells; /* num_rows * num_cols heap strings, NULL = SQL NULL */
    char tag[64];
    ms_pgerr err;
    int reported[4]; /* settings indexes to send as ParameterStatus */
    size_t num_reported;
    char notice[160]; /* a NOTICE to send before the result, or "" */
} ms_result;

/* Runs one statement (no ';' separated list). With execute = 0 it only
 * describes: columns are filled, nothing changes. Always returns a result;
 * kind MS_RES_ERROR carries the ErrorResponse. Returns -1 only when out of
 * memory. */
int ms_query_run(ms_qctx *q, const char *sql, int execute, ms_result *out);
void ms_result_cleanup(ms_result *r);

/* Splits a simple Query string into statements on ';' outside quotes and
 * comments. Writes the first max statements to out (heap strings, the caller
 * frees min(result, max) of them) and returns how many there are in all
 * (more than max means some were not stored); an all-blank string gives 0. */
size_t ms_query_split(const char *sql, char **out, size_t max);

/* The version() text for a server_version ("16.9"). */
void ms_version_string(const char *server_version, char *out, size_t cap);

#endif
