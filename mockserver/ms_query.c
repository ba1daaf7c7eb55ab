/* pgtls mockserver: settings and the SQL subset (see ms_query.h). The lexer
 * follows scan.l closely enough for the statements drivers send: keywords
 * fold to lower case, "quoted" identifiers keep theirs, 'strings' with ''
 * escapes, -- and C comments. */
#include "ms_query.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- settings ---- */

static const struct {
    const char *name, *value;
    unsigned flags;
} known_gucs[] = {
    /* GUC_REPORT set of PostgreSQL 16 (guc_tables.c), in the order psql shows them. */
    {"application_name", "", MS_GUC_REPORT},
    {"client_encoding", "UTF8", MS_GUC_REPORT},
    {"DateStyle", "ISO, MDY", MS_GUC_REPORT},
    {"default_transaction_read_only", "off", MS_GUC_REPORT},
    {"in_hot_standby", "off", MS_GUC_REPORT | MS_GUC_READONLY},
    {"integer_datetimes", "on", MS_GUC_REPORT | MS_GUC_READONLY},
    {"IntervalStyle", "postgres", MS_GUC_REPORT},
    {"is_superuser", "off", MS_GUC_REPORT | MS_GUC_READONLY},
    {"scram_iterations", "4096", MS_GUC_REPORT},
    {"server_encoding", "UTF8", MS_GUC_REPORT | MS_GUC_READONLY},
    {"server_version", "16.9", MS_GUC_REPORT | MS_GUC_READONLY},
    {"session_authorization", "", MS_GUC_REPORT | MS_GUC_READONLY},
    {"standard_conforming_strings", "on", MS_GUC_REPORT},
    {"TimeZone", "UTC", MS_GUC_REPORT},
    /* Common settings drivers and checks SET or SHOW. */
    {"server_version_num", "160009", MS_GUC_READONLY},
    {"extra_float_digits", "1", 0},
    {"search_path", "\"$user\", public", 0},
    {"statement_timeout", "0", 0},
    {"lock_timeout", "0", 0},
    {"idle_in_transaction_session_timeout", "0", 0},
    {"idle_session_timeout", "0", 0},
    {"lc_messages", "en_US.utf8", 0},
    {"lc_monetary", "en_US.utf8", 0},
    {"lc_numeric", "en_US.utf8", 0},
    {"lc_time", "en_US.utf8", 0},
    {"lc_collate", "en_US.utf8", MS_GUC_READONLY},
    {"lc_ctype", "en_US.utf8", MS_GUC_READONLY},
    {"client_min_messages", "notice", 0},
    {"bytea_output", "hex", 0},
    {"default_transaction_isolation", "read committed", 0},
    {"transaction_isolation", "read committed", 0},
    {"transaction_read_only", "off", 0},
    {"default_transaction_deferrable", "off", 0},
    {"synchronous_commit", "on", 0},
    {"row_security", "on", 0},
    {"jit", "off", 0},
    {"work_mem", "4MB", 0},
    {"maintenance_work_mem", "64MB", 0},
    {"timezone_abbreviations", "Default", 0},
    {"xmloption", "content", 0},
    {"geqo", "on", 0},
    {"enable_seqscan", "on", 0},
    {"check_function_bodies", "on", 0},
    {"escape_string_warning", "on", 0},
    {"backslash_quote", "safe_encoding", 0},
    {"tcp_keepalives_idle", "7200", 0},
    {"tcp_keepalives_interval", "75", 0},
    {"tcp_keepalives_count", "9", 0},
    {"log_statement", "none", 0},
    {"log_min_duration_statement", "-1", 0},
    {"password_encryption", "scram-sha-256", 0},
    {"role", "none", 0},
    {"max_connections", "5000", MS_GUC_READONLY},
    {"max_identifier_length", "63", MS_GUC_READONLY},
    {"block_size", "8192", MS_GUC_READONLY},
    {"data_checksums", "on", MS_GUC_READONLY},
    {"port", "5432", MS_GUC_READONLY},
    {"listen_addresses", "*", MS_GUC_READONLY},
    {"shared_preload_libraries", "", MS_GUC_READONLY},
    {"azure.extensions", "", MS_GUC_READONLY},
    /* TLS settings (be-secure.c), filled from the scenario by the server. */
    {"ssl", "off", MS_GUC_READONLY},
    {"ssl_library", "OpenSSL", MS_GUC_READONLY},
    {"ssl_min_protocol_version", "TLSv1.2", MS_GUC_READONLY},
    {"ssl_max_protocol_version", "", MS_GUC_READONLY},
    {"ssl_ciphers", "HIGH:MEDIUM:+3DES:!aNULL", MS_GUC_READONLY},
    {"ssl_ecdh_curve", "prime256v1", MS_GUC_READONLY},
    {"ssl_prefer_server_ciphers", "on", MS_GUC_READONLY},
    {"ssl_cert_file", "server.crt", MS_GUC_READONLY},
    {"ssl_key_file", "server.key", MS_GUC_READONLY},
    {"ssl_ca_file", "", MS_GUC_READONLY},
    {"ssl_passphrase_command", "", MS_GUC_READONLY},
    {"require_secure_transport", "on", MS_GUC_READONLY},
};

void ms_settings_init(ms_settings *st)
{
    size_t i;
    memset(st, 0, sizeof(*st));
    for (i = 0; i < sizeof(known_gucs) / sizeof(known_gucs[0]); i++) {
        snprintf(st->v[i].name, sizeof(st->v[i].name), "%s", known_gucs[i].name);
        snprintf(st->v[i].value, sizeof(st->v[i].value), "%s", known_gucs[i].value);
        st->v[i].flags = known_gucs[i].flags;
    }
    st->num = i;
}

int ms_settings_find(const ms_settings *st, const char *name)
{
    size_t i;
    /* "timezone" and "datestyle" are the names clients spell in lower case. */
    for (i = 0; i < st->num; i++)
        if (strcasecmp(st->v[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *ms_settings_get(const ms_settings *st, const char *name)
{
    int i = ms_settings_find(st, name);
    return i < 0 ? NULL : st->v[i].value;
}

int ms_settings_put(ms_settings *st, const char *name, const char *value)
{
    int i = ms_settings_find(st, name);
    if (i < 0) {
        if (st->num >= MS_MAX_SETTINGS)
            return -1;
        i = (int)st->num++;
        snprintf(st->v[i].name, sizeof(st->v[i].name), "%s", name);
        st->v[i].flags = 0;
    }
    snprintf(st->v[i].value, sizeof(st->v[i].value), "%s", value);
    return 0;
}

/* pg_char_to_encoding's spelling rules: case and '-'/'_' do not matter. */
static int canonical_encoding(const char *in, char *out, size_t cap)
{
    static const struct {
        const char *alias, *name;
    } enc[] = {{"utf8", "UTF8"},       {"unicode", "UTF8"},        {"sqlascii", "SQL_ASCII"},
               {"latin1", "LATIN1"},   {"iso88591", "LATIN1"},     {"latin9", "LATIN9"},
               {"win1252", "WIN1252"}, {"windows1252", "WIN1252"}, {"euckr", "EUC_KR"},
               {"eucjp", "EUC_JP"},    {"sjis", "SJIS"},           {"gbk", "GBK"},
               {"big5", "BIG5"},       {"koi8r", "KOI8R"},         {"win1251", "WIN1251"}};
    char norm[64];
    size_t i, j = 0;
    for (i = 0; in[i] && j + 1 < sizeof(norm); i++)
        if (isalnum((unsigned char)in[i]))
            norm[j++] = (char)tolower((unsigned char)in[i]);
    norm[j] = 0;
    for (i = 0; i < sizeof(enc) / sizeof(enc[0]); i++)
        if (strcmp(norm, enc[i].alias) == 0) {
            snprintf(out, cap, "%s", enc[i].name);
            return 0;
        }
    return -1;
}

/* check_datestyle: "ISO" -> "ISO, MDY"; the order keyword defaults to MDY. */
static int canonical_datestyle(const char *in, char *out, size_t cap)
{
    const char *style = NULL, *order = NULL;
    char buf[256], *tok, *save = NULL;
    snprintf(buf, sizeof(buf), "%s", in);
    for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        if (!strcasecmp(tok, "iso"))
            style = "ISO";
        else if (!strcasecmp(tok, "sql"))
            style = "SQL";
        else if (!strcasecmp(tok, "postgres"))
            style = "Postgres";
        else if (!strcasecmp(tok, "german"))
            style = "German";
        else if (!strcasecmp(tok, "mdy") || !strcasecmp(tok, "us") ||
                 !strcasecmp(tok, "noneuropean"))
            order = "MDY";
        else if (!strcasecmp(tok, "dmy") || !strcasecmp(tok, "euro") ||
                 !strcasecmp(tok, "european"))
            order = "DMY";
        else if (!strcasecmp(tok, "ymd"))
            order = "YMD";
        else if (!strcasecmp(tok, "default"))
            ;
        else
            return -1;
    }
    snprintf(out, cap, "%s, %s", style ? style : "ISO", order ? order : "MDY");
    return 0;
}

int ms_settings_set(ms_settings *st, const char *name, const char *value, int *out_index,
                    ms_pgerr *err)
{
    int i = ms_settings_find(st, name);
    char canon[256];
    if (i < 0) {
        /* Names with a '.' are custom placeholders PostgreSQL accepts. */
        if (!strchr(name, '.') || name[0] == '.')
            return ms_pgerr_set(err, "ERROR", "42704",
                                "unrecognized configuration parameter \"%s\"", name);
        if (ms_settings_put(st, name, value) < 0)
            return ms_pgerr_set(err, "ERROR", "53200", "out of memory");
        i = ms_settings_find(st, name);
        if (out_index)
            *out_index = i;
        return 0;
    }
    if (st->v[i].flags & MS_GUC_READONLY)
        return ms_pgerr_set(err, "ERROR", "55P02", "parameter \"%s\" cannot be changed now",
                            st->v[i].name);
    snprintf(canon, sizeof(canon), "%s", value);
    if (!strcasecmp(st->v[i].name, "client_encoding") &&
        canonical_encoding(value, canon, sizeof(canon)) < 0)
        return ms_pgerr_set(err, "ERROR", "22023", "invalid value for parameter \"%s\": \"%s\"",
                            "client_encoding", value);
    if (!strcasecmp(st->v[i].name, "DateStyle") &&
        canonical_datestyle(value, canon, sizeof(canon)) < 0)
        return ms_pgerr_set(err, "ERROR", "22023", "invalid value for parameter \"%s\": \"%s\"",
                            "DateStyle", value);
    if (!strcasecmp(st->v[i].name, "extra_float_digits")) {
        char *end;
        long v = strtol(value, &end, 10);
        if (*end || end == value || v < -15 || v > 3)
            return ms_pgerr_set(err, "ERROR", "22023", "invalid value for parameter \"%s\": \"%s\"",
                                st->v[i].name, value);
    }
    snprintf(st->v[i].value, sizeof(st->v[i].value), "%s", canon);
    if (out_index)
        *out_index = i;
    return 0;
}

void ms_version_string(const char *server_version, char *out, size_t cap)
{
    snprintf(out, cap, "PostgreSQL %s on x86_64-pc-linux-gnu, compiled by gcc (GCC) 12.2.0, 64-bit",
             server_version);
}

/* ---- lexer ---- */

typedef enum { T_END, T_IDENT, T_QIDENT, T_NUM, T_STR, T_OP, T_PARAM } tok_kind;

typedef struct tok {
    tok_kind kind;
    char text[256];
} tok;

#define MAX_TOKS 192

typedef struct lexed {
    tok t[MAX_TOKS];
    size_t n;
    int overflow, bad;
} lexed;

static void lex(const char *s, lexed *L)
{
    memset(L, 0, sizeof(*L));
    while (*s) {
        tok *t;
        size_t n = 0;
        if (isspace((unsigned char)*s)) {
            s++;
            continue;
        }
        if (s[0] == '-' && s[1] == '-') {
            while (*s && *s != '\n')
                s++;
            continue;
        }
        if (s[0] == '/' && s[1] == '*') {
            const char *e = strstr(s + 2, "*/");
            s = e ? e + 2 : s + strlen(s);
            continue;
        }
        if (L->n >= MAX_TOKS - 1) {
            L->overflow = 1;
            return;
        }
        t = &L->t[L->n++];
        if (isalpha((unsigned char)*s) || *s == '_') {
            t->kind = T_IDENT;
            while ((isalnum((unsigned char)*s) || *s == '_' || *s == '$') &&
                   n + 1 < sizeof(t->text))
                t->text[n++] = (char)tolower((unsigned char)*s++);
            while (isalnum((unsigned char)*s) || *s == '_' || *s == '$')
                s++;
        } else if (isdigit((unsigned char)*s)) {
            t->kind = T_NUM;
            while ((isdigit((unsigned char)*s) || *s == '.') && n + 1 < sizeof(t->text))
                t->text[n++] = *s++;
        } else if (*s == '\'' || *s == '"') {
            char q = *s++;
            t->kind = q == '\'' ? T_STR : T_QIDENT;
            for (;;) {
                if (!*s) {
                    L->bad = 1;
                    return;
                }
                if (*s == q) {
                    if (s[1] == q) {
                        s++;
                    } else {
                        s++;
                        break;
                    }
                }
                if (n + 1 < sizeof(t->text))
                    t->text[n++] = *s;
                s++;
            }
        } else if (*s == '$' && isdigit((unsigned char)s[1])) {
            t->kind = T_PARAM;
            t->text[n++] = *s++;
            while (isdigit((unsigned char)*s) && n + 1 < sizeof(t->text))
                t->text[n++] = *s++;
        } else if (s[0] == ':' && s[1] == ':') {
            t->kind = T_OP;
            strcpy(t->text, "::");
            s += 2;
        } else {
            t->kind = T_OP;
            t->text[0] = *s++;
        }
        if (t->kind != T_OP)
            t->text[n] = 0;
    }
}

static int is_kw(const lexed *L, size_t i, const char *kw)
{
    return i < L->n && L->t[i].kind == T_IDENT && strcmp(L->t[i].text, kw) == 0;
}

static int is_op(const lexed *L, size_t i, const char *op)
{
    return i < L->n && L->t[i].kind == T_OP && strcmp(L->t[i].text, op) == 0;
}

/* ---- result helpers ---- */

static void add_col(ms_result *r, const char *name, uint32_t oid)
{
    ms_col *c;
    if (r->num_cols >= MS_MAX_COLS)
        return;
    c = &r->cols[r->num_cols++];
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->oid = oid;
    switch (oid) {
    case MS_OID_BOOL:
        c->typlen = 1;
        break;
    case MS_OID_NAME:
        c->typlen = 64;
        break;
    case MS_OID_INT4:
    case MS_OID_OID:
        c->typlen = 4;
        break;
    case MS_OID_INT8:
        c->typlen = 8;
        break;
    default:
        c->typlen = -1;
    }
}

/* Appends a row of num_cols values (NULL = SQL NULL). Returns -1 on OOM. */
static int add_row(ms_result *r, char *const *vals)
{
    size_t i, base = r->num_rows * r->num_cols;
    char **nc = realloc(r->cells, (base + r->num_cols) * sizeof(char *) + 1);
    if (!nc)
        return -1;
    r->cells = nc;
    for (i = 0; i < r->num_cols; i++) {
        r->cells[base + i] = vals[i] ? strdup(vals[i]) : NULL;
        if (vals[i] && !r->cells[base + i]) {
            r->num_rows++; /* so cleanup frees the partial row */
            return -1;
        }
    }
    r->num_rows++;
    return 0;
}

void ms_result_cleanup(ms_result *r)
{
    size_t i;
    if (!r)
        return;
    for (i = 0; i < r->num_rows * r->num_cols; i++)
        free(r->cells[i]);
    free(r->cells);
    r->cells = NULL;
    r->num_rows = 0;
}

static int set_error(ms_result *r, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_error(ms_result *r, const char *sqlstate, const char *fmt, ...)
{
    va_list ap;
    r->kind = MS_RES_ERROR;
    ms_pgerr_set(&r->err, "ERROR", sqlstate, "%s", "");
    va_start(ap, fmt);
    vsnprintf(r->err.message, sizeof(r->err.message), fmt, ap);
    va_end(ap);
    return 0;
}

static int unsupported(ms_result *r, const char *sql)
{
    char shown[120];
    size_t i, j = 0;
    /* Name the statement on one line, shortened. */
    for (i = 0; sql[i] && j + 4 < sizeof(shown); i++)
        shown[j++] = isspace((unsigned char)sql[i]) ? ' ' : sql[i];
    if (sql[i]) {
        shown[j++] = '.';
        shown[j++] = '.';
        shown[j++] = '.';
    }
    shown[j] = 0;
    return set_error(r, "0A000", "pgtls mock server does not support this statement: %s", shown);
}

/* ---- SELECT list evaluation ---- */

typedef struct item {
    char name[64];
    uint32_t oid;
    char value[512];
    int is_null;
    int colref; /* index into activity columns, -1 if a constant */
} item;

static const struct {
    const char *name;
    uint32_t oid;
} activity_cols[] = {
    {"pid", MS_OID_INT4},
    {"ssl", MS_OID_BOOL},
    {"version", MS_OID_TEXT},
    {"cipher", MS_OID_TEXT},
    {"bits", MS_OID_INT4},
    {"client_dn", MS_OID_TEXT},
    {"client_serial", MS_OID_NUMERIC},
    {"issuer_dn", MS_OID_TEXT},
    {"datname", MS_OID_NAME},
    {"usename", MS_OID_NAME},
    {"application_name", MS_OID_TEXT},
    {"client_addr", MS_OID_INET},
    {"client_hostname", MS_OID_TEXT},
    {"client_port", MS_OID_INT4},
    {"backend_type", MS_OID_TEXT},
    {"state", MS_OID_TEXT},
    {"datid", MS_OID_OID},
    {"usesysid", MS_OID_OID},
};
#define NUM_ACTIVITY_COLS (sizeof(activity_cols) / sizeof(activity_cols[0]))
#define PG_STAT_SSL_COLS 8 /* the first 8 are pg_stat_ssl's, in its order */

static void activity_value(const ms_activity *a, int col, int self_pid, char *out, size_t cap,
                           int *is_null)
{
    *is_null = 0;
    switch (col) {
    case 0:
        snprintf(out, cap, "%d", a->pid);
        break;
    case 1:
        snprintf(out, cap, "%s", a->ssl ? "t" : "f");
        break;
    case 2:
    case 3:
        if (!a->ssl)
            *is_null = 1;
        else
            snprintf(out, cap, "%s", col == 2 ? a->version : a->cipher);
        break;
    case 4:
        if (!a->ssl)
            *is_null = 1;
        else
            snprintf(out, cap, "%d", a->bits);
        break;
    case 5:
    case 6:
    case 7:
        if (!a->ssl || !a->client_cert)
            *is_null = 1;
        else
            snprintf(out, cap, "%s",
                     col == 5 ? a->client_dn : col == 6 ? a->client_serial : a->issuer_dn);
        break;
    case 12:
        *is_null = 1;
        break;
    case 8:
        snprintf(out, cap, "%s", a->datname);
        break;
    case 9:
        snprintf(out, cap, "%s", a->usename);
        break;
    case 10:
        snprintf(out, cap, "%s", a->application_name);
        break;
    case 11:
        snprintf(out, cap, "%s", a->client_addr);
        break;
    case 13:
        snprintf(out, cap, "%d", a->client_port);
        break;
    case 14:
        snprintf(out, cap, "%s", a->backend_type);
        break;
    case 15:
        snprintf(out, cap, "%s", a->pid == self_pid ? "active" : "idle");
        break;
    case 16:
        snprintf(out, cap, "%d", 5);
        break;
    case 17:
        snprintf(out, cap, "%d", 16384);
        break;
    default:
        *is_null = 1;
    }
}

/* Parses one select-list expression starting at *i. Returns 0, or -1 when
 * the expression is not one we know (the caller reports 0A000), or -2 with
 * an error already set in r. */
static int parse_item(ms_qctx *q, const lexed *L, size_t *i, item *it, ms_result *r)
{
    const tok *t = &L->t[*i];
    memset(it, 0, sizeof(*it));
    it->colref = -1;
    if (t->kind == T_NUM) {
        snprintf(it->name, sizeof(it->name), "?column?");
        snprintf(it->value, sizeof(it->value), "%s", t->text);
        it->oid = strchr(t->text, '.') ? MS_OID_NUMERIC : MS_OID_INT4;
        if (!strchr(t->text, '.') && strlen(t->text) > 9)
            it->oid = MS_OID_INT8;
        (*i)++;
    } else if (t->kind == T_STR) {
        snprintf(it->name, sizeof(it->name), "?column?");
        snprintf(it->value, sizeof(it->value), "%s", t->text);
        it->oid = MS_OID_TEXT;
        (*i)++;
    } else if (t->kind == T_IDENT || t->kind == T_QIDENT) {
        char fn[64];
        size_t j = *i;
        /* Optional qualifier: pg_catalog.f(), public.ssl_is_used(), s.ssl */
        if (is_op(L, j + 1, ".") && j + 2 < L->n &&
            (L->t[j + 2].kind == T_IDENT || L->t[j + 2].kind == T_QIDENT || is_op(L, j + 2, "*")))
            j += 2;
        if (is_op(L, j, "*"))
            return -1;
        snprintf(fn, sizeof(fn), "%s", L->t[j].text);
        if (is_op(L, j + 1, "(")) {
            const char *arg = NULL;
            size_t k = j + 2;
            if (k < L->n && L->t[k].kind == T_STR) {
                arg = L->t[k].text;
                k++;
                if (is_op(L, k, "::") && k + 1 < L->n) /* current_setting('x'::text) */
                    k += 2;
            }
            if (!is_op(L, k, ")"))
                return -1;
            *i = k + 1;
            snprintf(it->name, sizeof(it->name), "%s", fn);
            if (!strcmp(fn, "version") && !arg) {
                it->oid = MS_OID_TEXT;
                ms_version_string(ms_settings_get(q->settings, "server_version"), it->value,
                                  sizeof(it->value));
            } else if (!strcmp(fn, "ssl_is_used") && !arg) {
                it->oid = MS_OID_BOOL;
                snprintf(it->value, sizeof(it->value), "%s", q->ssl ? "t" : "f");
            } else if ((!strcmp(fn, "ssl_version") || !strcmp(fn, "ssl_cipher")) && !arg) {
                const char *v = fn[4] == 'v' ? q->ssl_version : q->ssl_cipher;
                it->oid = MS_OID_TEXT;
                it->is_null = !q->ssl || !v;
                snprintf(it->value, sizeof(it->value), "%s", v ? v : "");
            } else if (!strcmp(fn, "ssl_client_cert_present") && !arg) {
                it->oid = MS_OID_BOOL;
                snprintf(it->value, sizeof(it->value), "%s",
                         q->self && q->self->ssl && q->self->client_cert ? "t" : "f");
            } else if (!strcmp(fn, "ssl_client_serial") && !arg) {
                /* sslinfo: the serial as numeric, NULL without a certificate. */
                it->oid = MS_OID_NUMERIC;
                it->is_null = !(q->self && q->self->ssl && q->self->client_cert);
                snprintf(it->value, sizeof(it->value), "%s",
                         it->is_null ? "" : q->self->client_serial);
            } else if (!strcmp(fn, "current_setting") && arg) {
                const char *v = ms_settings_get(q->settings, arg);
                if (!v) {
                    r->kind = MS_RES_ERROR;
                    ms_pgerr_set(&r->err, "ERROR", "42704",
                                 "unrecognized configuration parameter \"%s\"", arg);
                    return -2;
                }
                it->oid = MS_OID_TEXT;
                snprintf(it->value, sizeof(it->value), "%s", v);
            } else if (!strcmp(fn, "pg_backend_pid") && !arg) {
                it->oid = MS_OID_INT4;
                snprintf(it->value, sizeof(it->value), "%d", q->pid);
            } else if ((!strcmp(fn, "current_database") || !strcmp(fn, "current_schema")) && !arg) {
                it->oid = MS_OID_NAME;
                snprintf(it->value, sizeof(it->value), "%s", fn[8] == 'd' ? q->database : "public");
            } else if (!strcmp(fn, "pg_is_in_recovery") && !arg) {
                it->oid = MS_OID_BOOL;
                snprintf(it->value, sizeof(it->value), "f");
            } else if (!strcmp(fn, "inet_server_addr") && !arg) {
                it->oid = MS_OID_INET;
                snprintf(it->value, sizeof(it->value), "127.0.0.1");
            } else if (!strcmp(fn, "inet_client_addr") && !arg) {
                it->oid = MS_OID_INET;
                snprintf(it->value, sizeof(it->value), "%s",
                         q->self ? q->self->client_addr : "127.0.0.1");
            } else
                return -1;
        } else {
            size_t c;
            *i = j + 1;
            snprintf(it->name, sizeof(it->name), "%s", fn);
            if (!strcmp(fn, "current_user") || !strcmp(fn, "session_user") || !strcmp(fn, "user") ||
                !strcmp(fn, "current_role")) {
                it->oid = MS_OID_NAME;
                snprintf(it->value, sizeof(it->value), "%s", q->user);
                if (!strcmp(fn, "user"))
                    snprintf(it->name, sizeof(it->name), "current_user");
            } else if (!strcmp(fn, "current_catalog")) {
                it->oid = MS_OID_NAME;
                snprintf(it->value, sizeof(it->value), "%s", q->database);
            } else if (L->t[j].kind == T_IDENT && (!strcmp(fn, "true") || !strcmp(fn, "false"))) {
                it->oid = MS_OID_BOOL;
                snprintf(it->name, sizeof(it->name), "bool");
                snprintf(it->value, sizeof(it->value), "%c", fn[0]);
            } else if (L->t[j].kind == T_IDENT && !strcmp(fn, "null")) {
                it->oid = MS_OID_TEXT;
                snprintf(it->name, sizeof(it->name), "?column?");
                it->is_null = 1;
            } else {
                for (c = 0; c < NUM_ACTIVITY_COLS; c++)
                    if (!strcmp(fn, activity_cols[c].name))
                        break;
                if (c == NUM_ACTIVITY_COLS)
                    return -1;
                it->colref = (int)c;
                it->oid = activity_cols[c].oid;
            }
        }
    } else
        return -1;
    /* Casts we understand: ::int, ::text, ::bool ... */
    while (is_op(L, *i, "::") && *i + 1 < L->n && L->t[*i + 1].kind == T_IDENT) {
        const char *ty = L->t[*i + 1].text;
        if (!strcmp(ty, "int") || !strcmp(ty, "int4") || !strcmp(ty, "integer"))
            it->oid = MS_OID_INT4;
        else if (!strcmp(ty, "int8") || !strcmp(ty, "bigint"))
            it->oid = MS_OID_INT8;
        else if (!strcmp(ty, "text") || !strcmp(ty, "varchar"))
            it->oid = MS_OID_TEXT;
        else if (!strcmp(ty, "bool") || !strcmp(ty, "boolean"))
            it->oid = MS_OID_BOOL;
        else
            return -1;
        if (it->colref < 0 && !strcmp(it->name, "?column?"))
            snprintf(it->name, sizeof(it->name), "%s",
                     it->oid == MS_OID_INT4   ? "int4"
                     : it->oid == MS_OID_INT8 ? "int8"
                     : it->oid == MS_OID_BOOL ? "bool"
                                              : "text");
        *i += 2;
    }
    /* [AS] alias */
    if (is_kw(L, *i, "as") && *i + 1 < L->n &&
        (L->t[*i + 1].kind == T_IDENT || L->t[*i + 1].kind == T_QIDENT)) {
        snprintf(it->name, sizeof(it->name), "%s", L->t[*i + 1].text);
        *i += 2;
    } else if (*i < L->n &&
               (L->t[*i].kind == T_QIDENT || (L->t[*i].kind == T_IDENT && !is_kw(L, *i, "from")))) {
        snprintf(it->name, sizeof(it->name), "%s", L->t[*i].text);
        (*i)++;
    }
    return 0;
}

static int cmp_values(const char *a, const char *b, uint32_t oid)
{
    if (!a || !b) /* NULLS LAST */
        return !a - !b;
    if (oid == MS_OID_INT4 || oid == MS_OID_INT8 || oid == MS_OID_OID)
        return (atoll(a) > atoll(b)) - (atoll(a) < atoll(b));
    return strcmp(a, b);
}

/* SELECT over pg_stat_ssl / pg_stat_activity (any join of the two). */
static int select_activity(ms_qctx *q, const lexed *L, size_t from, item *items, size_t n_items,
                           int star, ms_result *r)
{
    size_t i = from + 1, max, nrows, k, c;
    int only_self = 0, order_col = -1, order_desc = 0, use_ssl = 0, use_act = 0;
    ms_activity *rows;
    if (star) { /* SELECT * FROM pg_stat_ssl: its columns in order */
        for (c = 0; c < PG_STAT_SSL_COLS; c++) {
            memset(&items[c], 0, sizeof(items[c]));
            snprintf(items[c].name, sizeof(items[c].name), "%s", activity_cols[c].name);
            items[c].oid = activity_cols[c].oid;
            items[c].colref = (int)c;
        }
        n_items = PG_STAT_SSL_COLS;
    }
    /* FROM list: table [alias] [JOIN table [alias] ON a = b] */
    while (i < L->n) {
        if (L->t[i].kind == T_IDENT &&
            (!strcmp(L->t[i].text, "pg_stat_ssl") || !strcmp(L->t[i].text, "pg_stat_activity") ||
             !strcmp(L->t[i].text, "pg_catalog"))) {
            if (!strcmp(L->t[i].text, "pg_catalog") && is_op(L, i + 1, ".")) {
                i += 2;
                continue;
            }
            if (!strcmp(L->t[i].text, "pg_stat_ssl"))
                use_ssl = 1;
            else
                use_act = 1;
            i++;
            if (is_kw(L, i, "as"))
                i++;
            if (i < L->n && L->t[i].kind == T_IDENT && !is_kw(L, i, "join") &&
                !is_kw(L, i, "inner") && !is_kw(L, i, "left") && !is_kw(L, i, "where") &&
                !is_kw(L, i, "order") && !is_kw(L, i, "on"))
                i++; /* alias */
            continue;
        }
        if (is_kw(L, i, "join") || is_kw(L, i, "inner") || is_kw(L, i, "left") ||
            is_kw(L, i, "outer") || is_op(L, i, ",")) {
            i++;
            continue;
        }
        if (is_kw(L, i, "on")) { /* skip the join condition up to WHERE/ORDER/end */
            while (i < L->n && !is_kw(L, i, "where") && !is_kw(L, i, "order"))
                i++;
            continue;
        }
        if (is_kw(L, i, "where")) {
            /* Only "pid = pg_backend_pid()" (any qualifier) is understood. */
            size_t j = i + 1;
            if (is_op(L, j + 1, "."))
                j += 2;
            if (is_kw(L, j, "pid") && is_op(L, j + 1, "=") && is_kw(L, j + 2, "pg_backend_pid") &&
                is_op(L, j + 3, "(") && is_op(L, j + 4, ")")) {
                only_self = 1;
                i = j + 5;
                continue;
            }
            return -1;
        }
        if (is_kw(L, i, "order") && is_kw(L, i + 1, "by")) {
            size_t j = i + 2;
            if (is_op(L, j + 1, "."))
                j += 2;
            if (j >= L->n)
                return -1;
            for (k = 0; k < n_items; k++)
                if (!strcmp(items[k].name, L->t[j].text) ||
                    (items[k].colref >= 0 &&
                     !strcmp(activity_cols[items[k].colref].name, L->t[j].text)))
                    break;
            if (k == n_items && L->t[j].kind == T_NUM && atoi(L->t[j].text) >= 1 &&
                (size_t)atoi(L->t[j].text) <= n_items)
                k = (size_t)atoi(L->t[j].text) - 1;
            if (k == n_items)
                return -1;
            order_col = (int)k;
            i = j + 1;
            if (is_kw(L, i, "desc")) {
                order_desc = 1;
                i++;
            } else if (is_kw(L, i, "asc"))
                i++;
            continue;
        }
        return -1;
    }
    if (!use_ssl && !use_act)
        return -1;
    if (star && use_act)
        return -1;
    for (k = 0; k < n_items; k++)
        add_col(r, items[k].name, items[k].oid);
    /* Size the snapshot to the live connections (a few more for arrivals). */
    max = (q->activity && !only_self ? q->activity(q->activity_ud, NULL, 0) : 0) + 16;
    rows = calloc(max, sizeof(*rows));
    if (!rows)
        return -3;
    if (q->activity && !only_self)
        nrows = q->activity(q->activity_ud, rows, max);
    else if (q->self) {
        rows[0] = *q->self;
        nrows = 1;
    } else
        nrows = 0;
    for (k = 0; k < nrows; k++) {
        char *vals[MS_MAX_COLS], buf[MS_MAX_COLS][256];
        for (c = 0; c < n_items; c++) {
            int is_null = items[c].is_null;
            if (items[c].colref >= 0)
                activity_value(&rows[k], items[c].colref, q->pid, buf[c], sizeof(buf[c]), &is_null);
            else
                snprintf(buf[c], sizeof(buf[c]), "%s", items[c].value);
            vals[c] = is_null ? NULL : buf[c];
        }
        if (add_row(r, vals) < 0) {
            free(rows);
            return -3;
        }
    }
    free(rows);
    if (order_col >= 0) { /* insertion sort: a few rows, stable */
        size_t nc = r->num_cols, a, b;
        char **tmp = malloc(nc * sizeof(char *));
        if (!tmp)
            return -3;
        for (a = 1; a < r->num_rows; a++) {
            memcpy(tmp, &r->cells[a * nc], nc * sizeof(char *));
            for (b = a; b > 0; b--) {
                int cmpv = cmp_values(r->cells[(b - 1) * nc + (size_t)order_col], tmp[order_col],
                                      r->cols[order_col].oid);
                if (order_desc ? cmpv >= 0 : cmpv <= 0)
                    break;
                memcpy(&r->cells[b * nc], &r->cells[(b - 1) * nc], nc * sizeof(char *));
            }
            memcpy(&r->cells[b * nc], tmp, nc * sizeof(char *));
        }
        free(tmp);
    }
    r->kind = MS_RES_ROWS;
    snprintf(r->tag, sizeof(r->tag), "SELECT %zu", r->num_rows);
    return 0;
}

/* postgres.js' array-type query and similar pg_type look-ups. */
static int select_pg_type(const lexed *L, ms_result *r)
{
    static const int arrays[][2] = {{16, 1000},   {17, 1001},   {18, 1002},   {19, 1003},
                                    {20, 1016},   {21, 1005},   {23, 1007},   {25, 1009},
                                    {26, 1028},   {114, 199},   {700, 1021},  {701, 1022},
                                    {869, 1041},  {1043, 1015}, {1082, 1182}, {1114, 1115},
                                    {1184, 1185}, {1700, 1231}, {2950, 2951}, {3802, 3807}};
    size_t k, i;
    int has_typarray = 0;
    for (i = 0; i < L->n; i++)
        has_typarray |= L->t[i].kind == T_IDENT && !strcmp(L->t[i].text, "typarray");
    if (!has_typarray)
        return -1;
    add_col(r, "oid", MS_OID_OID);
    add_col(r, "typarray", MS_OID_OID);
    for (k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) {
        char a[16], b[16], *vals[2] = {a, b};
        snprintf(a, sizeof(a), "%d", arrays[k][0]);
        snprintf(b, sizeof(b), "%d", arrays[k][1]);
        if (add_row(r, vals) < 0)
            return -3;
    }
    r->kind = MS_RES_ROWS;
    snprintf(r->tag, sizeof(r->tag), "SELECT %zu", r->num_rows);
    return 0;
}

static int run_select(ms_qctx *q, const lexed *L, const char *sql, ms_result *r)
{
    item items[MS_MAX_COLS];
    size_t i = 1, n = 0, k;
    int star = 0;
    for (k = 0; k < L->n; k++)
        if (is_kw(L, k, "from") &&
            (is_kw(L, k + 1, "pg_type") || (is_kw(L, k + 1, "pg_catalog") && is_op(L, k + 2, ".") &&
                                            is_kw(L, k + 3, "pg_type")))) {
            int rc = select_pg_type(L, r);
            if (rc == -3)
                return -1;
            if (rc < 0) {
                ms_result_cleanup(r);
                r->num_cols = 0;
                return unsupported(r, sql);
            }
            return 0;
        }
    if (is_op(L, 1, "*")) {
        star = 1;
        i = 2;
    } else
        for (;;) {
            int rc;
            if (i >= L->n || n >= MS_MAX_COLS)
                return unsupported(r, sql);
            rc = parse_item(q, L, &i, &items[n], r);
            if (rc == -2)
                return 0;
            if (rc < 0)
                return unsupported(r, sql);
            n++;
            if (is_op(L, i, ",")) {
                i++;
                continue;
            }
            break;
        }
    if (is_kw(L, i, "from")) {
        int rc;
        if ((is_kw(L, i + 1, "pg_type")) ||
            (is_kw(L, i + 1, "pg_catalog") && is_op(L, i + 2, ".") && is_kw(L, i + 3, "pg_type")))
            rc = select_pg_type(L, r);
        else
            rc = select_activity(q, L, i, items, n, star, r);
        if (rc == -3)
            return -1;
        if (rc < 0) {
            ms_result_cleanup(r);
            r->num_cols = 0;
            return unsupported(r, sql);
        }
        return 0;
    }
    if (star || i != L->n)
        return unsupported(r, sql);
    for (k = 0; k < n; k++) {
        if (items[k].colref >= 0) {
            r->kind = MS_RES_ERROR;
            ms_pgerr_set(&r->err, "ERROR", "42703", "column \"%s\" does not exist",
                         activity_cols[items[k].colref].name);
            return 0;
        }
        add_col(r, items[k].name, items[k].oid);
    }
    {
        char *vals[MS_MAX_COLS];
        for (k = 0; k < n; k++)
            vals[k] = items[k].is_null ? NULL : items[k].value;
        if (add_row(r, vals) < 0)
            return -1;
    }
    r->kind = MS_RES_ROWS;
    snprintf(r->tag, sizeof(r->tag), "SELECT 1");
    return 0;
}

/* Concatenates tokens i..end as a SET value list: 'a', b -> "a, b". */
static void set_value(const lexed *L, size_t i, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    for (; i < L->n; i++) {
        const char *t = L->t[i].text;
        if (is_op(L, i, ","))
            t = ", ";
        else if (L->t[i].kind == T_OP && strcmp(t, "-") && strcmp(t, "."))
            break;
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s", t);
        if (n >= cap)
            break;
    }
}

static int run_set(ms_qctx *q, const lexed *L, int execute, ms_result *r)
{
    size_t i = 1;
    char name[128], value[256];
    int idx = -1;
    r->kind = MS_RES_COMMAND;
    snprintf(r->tag, sizeof(r->tag), "SET");
    if (is_kw(L, i, "session") || is_kw(L, i, "local")) {
        i++;
        if (is_kw(L, i, "characteristics") || is_kw(L, i, "authorization"))
            return 0;
    }
    if (is_kw(L, i, "transaction"))
        return 0;
    if (is_kw(L, i, "time") && is_kw(L, i + 1, "zone")) {
        snprintf(name, sizeof(name), "TimeZone");
        i += 2;
    } else if (is_kw(L, i, "names")) {
        snprintf(name, sizeof(name), "client_encoding");
        i++;
    } else if (i < L->n && (L->t[i].kind == T_IDENT || L->t[i].kind == T_QIDENT)) {
        snprintf(name, sizeof(name), "%s", L->t[i].text);
        i++;
        if (is_op(L, i, ".") && i + 1 < L->n) { /* custom.placeholder */
            snprintf(name + strlen(name), sizeof(name) - strlen(name), ".%s", L->t[i + 1].text);
            i += 2;
        }
        if (is_op(L, i, "=") || is_kw(L, i, "to"))
            i++;
        else
            return set_error(r, "42601", "syntax error at or near \"%s\"",
                             i < L->n ? L->t[i].text : "end of input");
    } else
        return set_error(r, "42601", "syntax error at or near \"%s\"",
                         i < L->n ? L->t[i].text : "end of input");
    if (i >= L->n)
        return set_error(r, "42601", "syntax error at end of input%s", "");
    if (is_kw(L, i, "default") || is_kw(L, i, "local")) {
        ms_settings fresh;
        const char *d;
        ms_settings_init(&fresh);
        d = ms_settings_get(&fresh, name);
        snprintf(value, sizeof(value), "%s", d ? d : "");
    } else
        set_value(L, i, value, sizeof(value));
    if (!execute) {
        if (ms_settings_find(q->settings, name) < 0 && !strchr(name, '.'))
            return set_error(r, "42704", "unrecognized configuration parameter \"%s\"", name);
        return 0;
    }
    if (ms_settings_set(q->settings, name, value, &idx, &r->err) < 0) {
        r->kind = MS_RES_ERROR;
        return 0;
    }
    if (idx >= 0 && (q->settings->v[idx].flags & MS_GUC_REPORT))
        r->reported[r->num_reported++] = idx;
    return 0;
}

static int run_show(ms_qctx *q, const lexed *L, const char *sql, ms_result *r)
{
    char name[128];
    int idx;
    if (is_kw(L, 1, "all") && L->n == 2) {
        size_t k;
        add_col(r, "name", MS_OID_TEXT);
        add_col(r, "setting", MS_OID_TEXT);
        add_col(r, "description", MS_OID_TEXT);
        for (k = 0; k < q->settings->num; k++) {
            char *vals[3] = {q->settings->v[k].name, q->settings->v[k].value, ""};
            if (add_row(r, vals) < 0)
                return -1;
        }
        r->kind = MS_RES_ROWS;
        snprintf(r->tag, sizeof(r->tag), "SHOW");
        return 0;
    }
    if (is_kw(L, 1, "time") && is_kw(L, 2, "zone") && L->n == 3)
        snprintf(name, sizeof(name), "TimeZone");
    else if (is_kw(L, 1, "transaction") && is_kw(L, 2, "isolation") && is_kw(L, 3, "level"))
        snprintf(name, sizeof(name), "transaction_isolation");
    else if (L->n == 2 && (L->t[1].kind == T_IDENT || L->t[1].kind == T_QIDENT))
        snprintf(name, sizeof(name), "%s", L->t[1].text);
    else if (L->n == 4 && is_op(L, 2, "."))
        snprintf(name, sizeof(name), "%s.%s", L->t[1].text, L->t[3].text);
    else
        return unsupported(r, sql);
    idx = ms_settings_find(q->settings, name);
    if (idx < 0)
        return set_error(r, "42704", "unrecognized configuration parameter \"%s\"", name);
    /* The column is named after the setting as the user spelled it, lower-cased
     * (GetPGVariableResultDesc uses the name from the statement). */
    add_col(r, name, MS_OID_TEXT);
    {
        char *vals[1] = {q->settings->v[idx].value};
        if (add_row(r, vals) < 0)
            return -1;
    }
    r->kind = MS_RES_ROWS;
    snprintf(r->tag, sizeof(r->tag), "SHOW");
    return 0;
}

static void command(ms_result *r, const char *tag)
{
    r->kind = MS_RES_COMMAND;
    snprintf(r->tag, sizeof(r->tag), "%s", tag);
}

int ms_query_run(ms_qctx *q, const char *sql, int execute, ms_result *r)
{
    lexed *L = malloc(sizeof(*L));
    int rc = 0;
    memset(r, 0, sizeof(*r));
    if (!L)
        return -1;
    lex(sql, L);
    if (L->bad) {
        set_error(r, "42601", "unterminated quoted string at or near \"%s\"", "'");
        goto out;
    }
    if (L->overflow) {
        unsupported(r, sql);
        goto out;
    }
    while (L->n && is_op(L, L->n - 1, ";"))
        L->n--;
    if (L->n == 0) {
        r->kind = MS_RES_EMPTY;
        goto out;
    }
    /* In a failed transaction only its end is accepted (postgres.c
     * IsTransactionExitStmt). */
    if (q->tx == 'E' && !is_kw(L, 0, "commit") && !is_kw(L, 0, "rollback") &&
        !is_kw(L, 0, "abort") && !is_kw(L, 0, "end")) {
        set_error(r, "25P02",
                  "current transaction is aborted, commands ignored until end of transaction "
                  "block%s",
                  "");
        goto out;
    }
    if (is_kw(L, 0, "select"))
        rc = run_select(q, L, sql, r);
    else if (is_kw(L, 0, "set"))
        rc = run_set(q, L, execute, r);
    else if (is_kw(L, 0, "reset")) {
        command(r, "RESET");
        if (L->n == 2 && L->t[1].kind == T_IDENT && strcmp(L->t[1].text, "all") && execute) {
            ms_settings fresh;
            int idx = ms_settings_find(q->settings, L->t[1].text);
            ms_settings_init(&fresh);
            if (idx < 0)
                set_error(r, "42704", "unrecognized configuration parameter \"%s\"", L->t[1].text);
            else if (ms_settings_get(&fresh, q->settings->v[idx].name) &&
                     !(q->settings->v[idx].flags & MS_GUC_READONLY)) {
                snprintf(q->settings->v[idx].value, sizeof(q->settings->v[idx].value), "%s",
                         ms_settings_get(&fresh, q->settings->v[idx].name));
                if (q->settings->v[idx].flags & MS_GUC_REPORT)
                    r->reported[r->num_reported++] = idx;
            }
        }
    } else if (is_kw(L, 0, "show"))
        rc = run_show(q, L, sql, r);
    else if (is_kw(L, 0, "begin") || (is_kw(L, 0, "start") && is_kw(L, 1, "transaction"))) {
        command(r, is_kw(L, 0, "begin") ? "BEGIN" : "START TRANSACTION");
        if (q->tx == 'T')
            snprintf(r->notice, sizeof(r->notice), "there is already a transaction in progress");
        if (execute)
            q->tx = 'T';
    } else if (is_kw(L, 0, "commit") || is_kw(L, 0, "end")) {
        command(r, q->tx == 'E' ? "ROLLBACK" : "COMMIT");
        if (q->tx == 'I')
            snprintf(r->notice, sizeof(r->notice), "there is no transaction in progress");
        if (execute)
            q->tx = 'I';
    } else if (is_kw(L, 0, "rollback") || is_kw(L, 0, "abort")) {
        command(r, "ROLLBACK");
        if (q->tx == 'I')
            snprintf(r->notice, sizeof(r->notice), "there is no transaction in progress");
        if (execute)
            q->tx = 'I';
    } else if (is_kw(L, 0, "create") && is_kw(L, 1, "extension")) {
        size_t i = 2;
        int if_not_exists = 0;
        if (is_kw(L, 2, "if") && is_kw(L, 3, "not") && is_kw(L, 4, "exists")) {
            if_not_exists = 1;
            i = 5;
        }
        if (i < L->n && !strcmp(L->t[i].text, "sslinfo")) {
            /* sslinfo is available on every Azure flexible server; we treat it
             * as created once per session so repeated checks do not fail. */
            command(r, "CREATE EXTENSION");
            (void)if_not_exists;
        } else
            unsupported(r, sql);
    } else if (is_kw(L, 0, "discard") && is_kw(L, 1, "all") && L->n == 2)
        command(r, "DISCARD ALL");
    else if (is_kw(L, 0, "deallocate"))
        command(r, "DEALLOCATE");
    else if (is_kw(L, 0, "unlisten"))
        command(r, "UNLISTEN");
    else
        unsupported(r, sql);
out:
    free(L);
    return rc;
}

size_t ms_query_split(const char *sql, char **out, size_t max)
{
    size_t n = 0;
    const char *start = sql, *s = sql;
    for (;;) {
        if (*s == '\'' || *s == '"') {
            char q = *s++;
            while (*s && *s != q)
                s++;
            if (*s)
                s++;
            continue;
        }
        if (s[0] == '-' && s[1] == '-') {
            while (*s && *s != '\n')
                s++;
            continue;
        }
        if (s[0] == '/' && s[1] == '*') {
            const char *e = strstr(s + 2, "*/");
            s = e ? e + 2 : s + strlen(s);
            continue;
        }
        if (*s == ';' || *s == 0) {
            const char *p = start;
            int blank = 1;
            for (; p < s; p++)
                if (!isspace((unsigned char)*p))
                    blank = 0;
            if (!blank) {
                /* Count every statement; keep the first max. */
                if (n < max && !(out[n] = strndup(start, (size_t)(s - start))))
                    return n;
                n++;
            }
            if (!*s)
                break;
            start = ++s;
            continue;
        }
        s++;
    }
    return n;
}
