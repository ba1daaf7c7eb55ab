/* pgtls mockserver: wire protocol v3 buffers, parsers and backend messages. */
#include "ms_wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ms_pgerr_set(ms_pgerr *e, const char *severity, const char *sqlstate, const char *fmt, ...)
{
    va_list ap;
    if (!e)
        return -1;
    e->severity = severity;
    snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", sqlstate);
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    e->detail[0] = '\0';
    e->hint[0] = '\0';
    return -1;
}

/* ---- output buffer ---- */

void ms_buf_init(ms_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void ms_buf_cleanup(ms_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void ms_buf_reset(ms_buf *b)
{
    b->len = 0;
}

void ms_buf_put(ms_buf *b, const void *p, size_t n)
{
    if (b->oom || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        uint8_t *nd;
        while (ncap < b->len + n)
            ncap *= 2;
        nd = realloc(b->data, ncap);
        if (!nd) {
            b->oom = 1;
            return;
        }
        b->data = nd;
        b->cap = ncap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void ms_buf_u8(ms_buf *b, uint8_t v)
{
    ms_buf_put(b, &v, 1);
}

void ms_buf_i16(ms_buf *b, int16_t v)
{
    uint8_t x[2] = {(uint8_t)((uint16_t)v >> 8), (uint8_t)v};
    ms_buf_put(b, x, 2);
}

void ms_buf_i32(ms_buf *b, int32_t v)
{
    uint32_t u = (uint32_t)v;
    uint8_t x[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    ms_buf_put(b, x, 4);
}

void ms_buf_str(ms_buf *b, const char *s)
{
    ms_buf_put(b, s, strlen(s) + 1);
}

size_t ms_msg_begin(ms_buf *b, char type)
{
    size_t start;
    ms_buf_u8(b, (uint8_t)type);
    start = b->len;
    ms_buf_i32(b, 0); /* length, patched by ms_msg_end */
    return start;
}

void ms_msg_end(ms_buf *b, size_t start)
{
    uint32_t n;
    if (b->oom || start + 4 > b->len)
        return;
    n = (uint32_t)(b->len - start);
    b->data[start] = (uint8_t)(n >> 24);
    b->data[start + 1] = (uint8_t)(n >> 16);
    b->data[start + 2] = (uint8_t)(n >> 8);
    b->data[start + 3] = (uint8_t)n;
}

/* ---- reader ---- */

void ms_rd_init(ms_rd *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->bad = 0;
}

size_t ms_rd_left(const ms_rd *r)
{
    return r->len - r->off;
}

uint32_t ms_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

const uint8_t *ms_rd_bytes(ms_rd *r, size_t n)
{
    const uint8_t *p;
    if (r->bad || n > ms_rd_left(r)) {
        r->bad = 1;
        return NULL;
    }
    p = r->p + r->off;
    r->off += n;
    return p;
}

uint8_t ms_rd_u8(ms_rd *r)
{
    const uint8_t *p = ms_rd_bytes(r, 1);
    return p ? p[0] : 0;
}

int16_t ms_rd_i16(ms_rd *r)
{
    const uint8_t *p = ms_rd_bytes(r, 2);
    return p ? (int16_t)((uint16_t)p[0] << 8 | p[1]) : 0;
}

int32_t ms_rd_i32(ms_rd *r)
{
    const uint8_t *p = ms_rd_bytes(r, 4);
    return p ? (int32_t)ms_be32(p) : 0;
}

const char *ms_rd_str(ms_rd *r)
{
    const uint8_t *start, *nul;
    if (r->bad)
        return NULL;
    start = r->p + r->off;
    nul = memchr(start, 0, ms_rd_left(r));
    if (!nul) {
        r->bad = 1;
        return NULL;
    }
    r->off += (size_t)(nul - start) + 1;
    return (const char *)start;
}

/* ---- startup packet (ProcessStartupPacket in backend_startup.c) ---- */

int ms_startup_check_len(uint32_t len, ms_pgerr *err)
{
    /* PostgreSQL subtracts the length word and wants 4..MAX_STARTUP_PACKET_LENGTH. */
    if (len < 8 || len - 4 > MS_MAX_STARTUP_PACKET)
        return ms_pgerr_set(err, "COMMERROR", "08P01", "invalid length of startup packet");
    return 0;
}

int ms_startup_parse(const uint8_t *body, size_t len, ms_startup *out, ms_pgerr *err)
{
    size_t off = 4;
    memset(out, 0, sizeof(*out));
    if (len < 4 || len > MS_MAX_STARTUP_PACKET)
        return ms_pgerr_set(err, "COMMERROR", "08P01", "invalid length of startup packet");
    out->code = ms_be32(body);
    if (out->code == MS_CODE_CANCEL) {
        if (len != 12)
            return ms_pgerr_set(err, "COMMERROR", "08P01", "invalid length of startup packet");
        out->cancel_pid = ms_be32(body + 4);
        out->cancel_key = ms_be32(body + 8);
        return 0;
    }
    if (out->code == MS_CODE_SSLREQUEST || out->code == MS_CODE_GSSENCREQUEST)
        return 0;
    if (out->code >> 16 != 3)
        return ms_pgerr_set(err, "FATAL", "0A000",
                            "unsupported frontend protocol %u.%u: server supports 3.0 to 3.0",
                            out->code >> 16, out->code & 0xffff);
    /* name\0value\0 ... \0; a string running past the end behaves like
     * PostgreSQL's zero byte appended after the packet: the layout check
     * below fails. */
    while (off < len) {
        const char *name = (const char *)body + off;
        size_t nlen = strnlen(name, len - off), voff, vlen;
        const char *val;
        if (nlen == 0)
            break;
        voff = off + nlen + 1;
        if (voff >= len)
            break;
        val = (const char *)body + voff;
        vlen = strnlen(val, len - voff);
        if (voff + vlen >= len) { /* value without terminator */
            off = len;
            break;
        }
        if (strcmp(name, "user") == 0)
            out->user = val;
        else if (strcmp(name, "database") == 0)
            out->database = val;
        else if (strncmp(name, "_pq_.", 5) == 0) {
            if (out->num_pq_opts < 16)
                out->pq_opts[out->num_pq_opts++] = name;
        } else if (strcmp(name, "replication") == 0) {
            static const char *const ok[] = {"database", "true", "false", "on", "off", "yes", "no",
                                             "1",        "0",    "t",     "f",  "y",   "n"};
            size_t i;
            int found = 0;
            for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
                found |= strcasecmp(val, ok[i]) == 0;
            if (!found)
                return ms_pgerr_set(err, "FATAL", "22023",
                                    "invalid value for parameter \"%s\": \"%s\"", "replication",
                                    val);
        }
        if (strncmp(name, "_pq_.", 5) != 0 && out->num_params < MS_MAX_PARAMS) {
            out->names[out->num_params] = name;
            out->values[out->num_params] = val;
            out->num_params++;
        }
        off = voff + vlen + 1;
    }
    if (off != len - 1 || body[len - 1] != 0)
        return ms_pgerr_set(err, "FATAL", "08P01",
                            "invalid startup packet layout: expected terminator as last byte");
    if (!out->user || !out->user[0])
        return ms_pgerr_set(err, "FATAL", "28000",
                            "no PostgreSQL user name specified in startup packet");
    if (!out->database || !out->database[0])
        out->database = out->user;
    return 0;
}

/* ---- frontend messages (postgres.c, pqformat.c) ---- */

static int bad_format(ms_pgerr *err)
{
    return ms_pgerr_set(err, "ERROR", "08P01", "invalid message format");
}

static int bad_string(ms_pgerr *err)
{
    return ms_pgerr_set(err, "ERROR", "08P01", "invalid string in message");
}

int ms_fe_parse_query(const uint8_t *body, size_t len, const char **out_sql, ms_pgerr *err)
{
    ms_rd r;
    ms_rd_init(&r, body, len);
    *out_sql = ms_rd_str(&r);
    if (!*out_sql)
        return bad_string(err);
    if (ms_rd_left(&r))
        return bad_format(err);
    return 0;
}

int ms_fe_parse_parse(const uint8_t *body, size_t len, ms_fe_parse *out, ms_pgerr *err)
{
    ms_rd r;
    int i;
    ms_rd_init(&r, body, len);
    out->stmt = ms_rd_str(&r);
    out->query = ms_rd_str(&r);
    if (r.bad)
        return bad_string(err);
    out->num_param_types = ms_rd_i16(&r);
    if (out->num_param_types < 0)
        return bad_format(err);
    for (i = 0; i < out->num_param_types; i++)
        (void)ms_rd_i32(&r);
    if (r.bad || ms_rd_left(&r))
        return bad_format(err);
    return 0;
}

int ms_fe_parse_bind(const uint8_t *body, size_t len, ms_fe_bind *out, ms_pgerr *err)
{
    ms_rd r;
    int i;
    ms_rd_init(&r, body, len);
    memset(out, 0, sizeof(*out));
    out->portal = ms_rd_str(&r);
    out->stmt = ms_rd_str(&r);
    if (r.bad)
        return bad_string(err);
    out->num_param_formats = ms_rd_i16(&r);
    if (out->num_param_formats < 0)
        return bad_format(err);
    for (i = 0; i < out->num_param_formats; i++) {
        int16_t f = ms_rd_i16(&r);
        if (!r.bad && f != 0 && f != 1)
            return ms_pgerr_set(err, "ERROR", "0A000", "unsupported format code: %d", f);
    }
    out->num_params = ms_rd_i16(&r);
    if (r.bad || out->num_params < 0)
        return bad_format(err);
    if (out->num_param_formats > 1 && out->num_param_formats != out->num_params)
        return ms_pgerr_set(err, "ERROR", "08P01",
                            "bind message has %d parameter formats but %d parameters",
                            out->num_param_formats, out->num_params);
    for (i = 0; i < out->num_params; i++) {
        int32_t plen = ms_rd_i32(&r);
        if (r.bad)
            return bad_format(err);
        if (plen < -1)
            return ms_pgerr_set(err, "ERROR", "08P01", "insufficient data left in message");
        if (plen > 0 && !ms_rd_bytes(&r, (size_t)plen))
            return ms_pgerr_set(err, "ERROR", "08P01", "insufficient data left in message");
    }
    out->num_result_formats = ms_rd_i16(&r);
    if (r.bad || out->num_result_formats < 0 || out->num_result_formats > MS_MAX_BIND)
        return bad_format(err);
    for (i = 0; i < out->num_result_formats; i++) {
        out->result_formats[i] = ms_rd_i16(&r);
        if (!r.bad && out->result_formats[i] != 0 && out->result_formats[i] != 1)
            return ms_pgerr_set(err, "ERROR", "0A000", "unsupported format code: %d",
                                out->result_formats[i]);
    }
    if (r.bad || ms_rd_left(&r))
        return bad_format(err);
    return 0;
}

int ms_fe_parse_target(char type, const uint8_t *body, size_t len, ms_fe_target *out, ms_pgerr *err)
{
    ms_rd r;
    ms_rd_init(&r, body, len);
    out->kind = (char)ms_rd_u8(&r);
    out->name = ms_rd_str(&r);
    if (r.bad)
        return r.off == 0 ? bad_format(err) : bad_string(err);
    if (ms_rd_left(&r))
        return bad_format(err);
    if (out->kind != 'S' && out->kind != 'P')
        return ms_pgerr_set(err, "ERROR", "08P01", "invalid %s message subtype %d",
                            type == 'D' ? "DESCRIBE" : "CLOSE", out->kind);
    return 0;
}

int ms_fe_parse_execute(const uint8_t *body, size_t len, ms_fe_execute *out, ms_pgerr *err)
{
    ms_rd r;
    ms_rd_init(&r, body, len);
    out->portal = ms_rd_str(&r);
    if (r.bad)
        return bad_string(err);
    out->max_rows = ms_rd_i32(&r);
    if (r.bad || ms_rd_left(&r))
        return bad_format(err);
    return 0;
}

int ms_fe_parse_password(const uint8_t *body, size_t len, const char **out_pw, ms_pgerr *err)
{
    /* auth.c recv_password_packet: "invalid password packet size" when the
     * string does not fill the message exactly. */
    if (len == 0 || body[len - 1] != 0 || strlen((const char *)body) != len - 1)
        return ms_pgerr_set(err, "FATAL", "08P01", "invalid password packet size");
    *out_pw = (const char *)body;
    return 0;
}

int ms_fe_parse_sasl_initial(const uint8_t *body, size_t len, const char **out_mech,
                             const uint8_t **out_data, int32_t *out_len, ms_pgerr *err)
{
    ms_rd r;
    ms_rd_init(&r, body, len);
    *out_mech = ms_rd_str(&r);
    *out_len = ms_rd_i32(&r);
    *out_data = NULL;
    if (r.bad || *out_len < -1)
        return ms_pgerr_set(err, "FATAL", "08P01", "invalid message format");
    if (*out_len >= 0) {
        *out_data = ms_rd_bytes(&r, (size_t)*out_len);
        if (!*out_data)
            return ms_pgerr_set(err, "FATAL", "08P01", "invalid message format");
    }
    if (ms_rd_left(&r))
        return ms_pgerr_set(err, "FATAL", "08P01", "invalid message format");
    return 0;
}

/* ---- backend messages ---- */

void ms_be_error(ms_buf *b, const ms_pgerr *e)
{
    ms_be_error_major(b, e, MS_MAJOR_DEFAULT);
}

/* The source location (F, L, R) is the one PostgreSQL pg_major sends for
 * that error (ms_majors.c); errors without a measured location have none. */
void ms_be_error_major(ms_buf *b, const ms_pgerr *e, int pg_major)
{
    size_t m = ms_msg_begin(b, 'E');
    const char *file, *line, *routine;
    ms_buf_u8(b, 'S');
    ms_buf_str(b, e->severity);
    ms_buf_u8(b, 'V');
    ms_buf_str(b, e->severity);
    ms_buf_u8(b, 'C');
    ms_buf_str(b, e->sqlstate);
    ms_buf_u8(b, 'M');
    ms_buf_str(b, e->message);
    if (e->detail[0]) {
        ms_buf_u8(b, 'D');
        ms_buf_str(b, e->detail);
    }
    if (e->hint[0]) {
        ms_buf_u8(b, 'H');
        ms_buf_str(b, e->hint);
    }
    if (ms_major_error_location(pg_major, e->sqlstate, e->message, &file, &line, &routine)) {
        ms_buf_u8(b, 'F');
        ms_buf_str(b, file);
        ms_buf_u8(b, 'L');
        ms_buf_str(b, line);
        ms_buf_u8(b, 'R');
        ms_buf_str(b, routine);
    }
    ms_buf_u8(b, 0);
    ms_msg_end(b, m);
}

void ms_be_notice(ms_buf *b, const char *sqlstate, const char *msg)
{
    size_t m = ms_msg_begin(b, 'N');
    ms_buf_u8(b, 'S');
    ms_buf_str(b, "NOTICE");
    ms_buf_u8(b, 'V');
    ms_buf_str(b, "NOTICE");
    ms_buf_u8(b, 'C');
    ms_buf_str(b, sqlstate);
    ms_buf_u8(b, 'M');
    ms_buf_str(b, msg);
    ms_buf_u8(b, 0);
    ms_msg_end(b, m);
}

void ms_be_auth(ms_buf *b, int32_t code, const void *extra, size_t extra_len)
{
    size_t m = ms_msg_begin(b, 'R');
    ms_buf_i32(b, code);
    ms_buf_put(b, extra, extra_len);
    ms_msg_end(b, m);
}

void ms_be_param_status(ms_buf *b, const char *name, const char *value)
{
    size_t m = ms_msg_begin(b, 'S');
    ms_buf_str(b, name);
    ms_buf_str(b, value);
    ms_msg_end(b, m);
}

void ms_be_key_data(ms_buf *b, int32_t pid, int32_t key)
{
    size_t m = ms_msg_begin(b, 'K');
    ms_buf_i32(b, pid);
    ms_buf_i32(b, key);
    ms_msg_end(b, m);
}

void ms_be_ready(ms_buf *b, char tx_status)
{
    size_t m = ms_msg_begin(b, 'Z');
    ms_buf_u8(b, (uint8_t)tx_status);
    ms_msg_end(b, m);
}

void ms_be_simple(ms_buf *b, char type)
{
    size_t m = ms_msg_begin(b, type);
    ms_msg_end(b, m);
}

void ms_be_command_complete(ms_buf *b, const char *tag)
{
    size_t m = ms_msg_begin(b, 'C');
    ms_buf_str(b, tag);
    ms_msg_end(b, m);
}

void ms_be_negotiate_version(ms_buf *b, uint32_t newest, size_t num_opts, const char *const *opts)
{
    size_t m = ms_msg_begin(b, 'v'), i;
    ms_buf_i32(b, (int32_t)newest);
    ms_buf_i32(b, (int32_t)num_opts);
    for (i = 0; i < num_opts; i++)
        ms_buf_str(b, opts[i]);
    ms_msg_end(b, m);
}
