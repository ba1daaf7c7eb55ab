/* pgtls mockserver: the PostgreSQL wire protocol v3 as pure functions over
 * buffers (PostgreSQL docs, "Frontend/Backend Protocol", 55.7 Message
 * Formats). Nothing here does I/O, so every parser is unit-tested and fuzzed
 * on its own. */
#ifndef PGTLS_MS_WIRE_H
#define PGTLS_MS_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Request codes of the first packet (protocol 55.2.1 / 55.2.9). */
#define MS_CODE_SSLREQUEST 80877103u /* 1234 << 16 | 5679 */
#define MS_CODE_GSSENCREQUEST 80877104u
#define MS_CODE_CANCEL 80877102u
#define MS_PROTO_3_0 196608u         /* 3 << 16 | 0 */
#define MS_MAX_STARTUP_PACKET 10000  /* MAX_STARTUP_PACKET_LENGTH in pqcomm.h */
#define MS_MAX_MESSAGE (1024 * 1024) /* our cap on a regular message body */
#define MS_MAX_PARAMS 64             /* startup parameters we keep */

/* An error a PostgreSQL server would report: severity ERROR or FATAL, a
 * SQLSTATE and the primary message (ErrorResponse fields S/V, C, M). */
typedef struct ms_pgerr {
    const char *severity; /* "ERROR" | "FATAL" (static strings) */
    char sqlstate[6];
    char message[512];
    char detail[256];
    char hint[256]; /* "" or the HINT field */
} ms_pgerr;

/* Fills e and returns -1. */
int ms_pgerr_set(ms_pgerr *e, const char *severity, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A growable output buffer. On allocation failure `oom` is set and further
 * writes are dropped; callers check oom once at the end. */
typedef struct ms_buf {
    uint8_t *data;
    size_t len, cap;
    int oom;
} ms_buf;

void ms_buf_init(ms_buf *b);
void ms_buf_cleanup(ms_buf *b);
void ms_buf_reset(ms_buf *b);
void ms_buf_put(ms_buf *b, const void *p, size_t n);
void ms_buf_u8(ms_buf *b, uint8_t v);
void ms_buf_i16(ms_buf *b, int16_t v);
void ms_buf_i32(ms_buf *b, int32_t v);
void ms_buf_str(ms_buf *b, const char *s); /* with its NUL */
/* Starts a backend message of `type`; returns the offset ms_msg_end needs. */
size_t ms_msg_begin(ms_buf *b, char type);
void ms_msg_end(ms_buf *b, size_t start);

/* A bounds-checked reader over one message body. Any out-of-bounds read
 * sets `bad` and returns zero/NULL, so a parser checks once at the end. */
typedef struct ms_rd {
    const uint8_t *p;
    size_t len, off;
    int bad;
} ms_rd;

void ms_rd_init(ms_rd *r, const void *p, size_t len);
uint8_t ms_rd_u8(ms_rd *r);
int16_t ms_rd_i16(ms_rd *r);
int32_t ms_rd_i32(ms_rd *r);
/* A NUL-terminated string inside the buffer, or NULL (and bad) when no NUL. */
const char *ms_rd_str(ms_rd *r);
const uint8_t *ms_rd_bytes(ms_rd *r, size_t n);
size_t ms_rd_left(const ms_rd *r);

uint32_t ms_be32(const uint8_t *p);

/* ---- Startup packet (after its length word) ---- */
typedef struct ms_startup {
    uint32_t code; /* protocol version or request code */
    uint32_t cancel_pid, cancel_key;
    size_t num_params;
    const char *names[MS_MAX_PARAMS]; /* point into the body */
    const char *values[MS_MAX_PARAMS];
    const char *user, *database; /* NULL when absent */
    size_t num_pq_opts;          /* "_pq_." protocol options we do not know */
    const char *pq_opts[16];
} ms_startup;

/* Validates the length word of the first packet like ProcessStartupPacket:
 * 0 when 8 <= len <= 10000, else -1 with err (PostgreSQL only logs
 * "invalid length of startup packet" and closes: a COMMERROR). */
int ms_startup_check_len(uint32_t len, ms_pgerr *err);

/* Parses a startup packet body (len bytes after the length word). For the
 * request codes it checks their fixed length; for protocol 3.x it parses
 * the name/value pairs. Returns 0 if OK, -1 with err: severity "COMMERROR"
 * when PostgreSQL closes silently, FATAL otherwise. */
int ms_startup_parse(const uint8_t *body, size_t len, ms_startup *out, ms_pgerr *err);

/* ---- Frontend messages after startup ---- */
typedef struct ms_fe_parse {
    const char *stmt, *query;
    int num_param_types;
} ms_fe_parse;

#define MS_MAX_BIND 256
typedef struct ms_fe_bind {
    const char *portal, *stmt;
    int num_param_formats, num_params, num_result_formats;
    int16_t result_formats[MS_MAX_BIND];
} ms_fe_bind;

typedef struct ms_fe_target {
    char kind; /* 'S' statement | 'P' portal */
    const char *name;
} ms_fe_target;

typedef struct ms_fe_execute {
    const char *portal;
    int32_t max_rows;
} ms_fe_execute;

/* Each returns 0 if OK, -1 with err (ERROR 08P01 as PostgreSQL's pq_getmsg*
 * would: "invalid message format", "invalid string in message", ...). */
int ms_fe_parse_query(const uint8_t *body, size_t len, const char **out_sql, ms_pgerr *err);
int ms_fe_parse_parse(const uint8_t *body, size_t len, ms_fe_parse *out, ms_pgerr *err);
int ms_fe_parse_bind(const uint8_t *body, size_t len, ms_fe_bind *out, ms_pgerr *err);
int ms_fe_parse_target(char type, const uint8_t *body, size_t len, ms_fe_target *out,
                       ms_pgerr *err);
int ms_fe_parse_execute(const uint8_t *body, size_t len, ms_fe_execute *out, ms_pgerr *err);
/* PasswordMessage: a NUL-terminated string filling the body exactly. */
int ms_fe_parse_password(const uint8_t *body, size_t len, const char **out_pw, ms_pgerr *err);
/* SASLInitialResponse: mechanism, int32 length (-1 = none), data. */
int ms_fe_parse_sasl_initial(const uint8_t *body, size_t len, const char **out_mech,
                             const uint8_t **out_data, int32_t *out_len, ms_pgerr *err);

/* ---- Backend messages ---- */
/* ErrorResponse as PostgreSQL MS_MAJOR_DEFAULT (15) sends it. */
void ms_be_error(ms_buf *b, const ms_pgerr *e);
/* ErrorResponse with the source location PostgreSQL pg_major sends. */
void ms_be_error_major(ms_buf *b, const ms_pgerr *e, int pg_major);

/* ---- Server majors (ms_majors.c) ---- */
#define MS_MAJOR_DEFAULT 15
/* The major of a server_version string ("17.10" -> 17); MS_MAJOR_DEFAULT
 * when it has none. */
int ms_major_of(const char *server_version);
/* The source file, line and routine PostgreSQL pg_major reports for an error
 * (by SQLSTATE and message prefix). Returns 1 if known, 0 otherwise. */
int ms_major_error_location(int pg_major, const char *sqlstate, const char *message,
                            const char **file, const char **line, const char **routine);
void ms_be_notice(ms_buf *b, const char *sqlstate, const char *msg);
void ms_be_auth(ms_buf *b, int32_t code, const void *extra, size_t extra_len);
void ms_be_param_status(ms_buf *b, const char *name, const char *value);
void ms_be_key_data(ms_buf *b, int32_t pid, int32_t key);
void ms_be_ready(ms_buf *b, char tx_status);
void ms_be_simple(ms_buf *b, char type); /* a message with an empty body */
void ms_be_command_complete(ms_buf *b, const char *tag);
void ms_be_negotiate_version(ms_buf *b, uint32_t newest, size_t num_opts, const char *const *opts);

#endif
