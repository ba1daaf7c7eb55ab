/* pgtls suites: the suite file parser (docs/suites.md) and case expansion. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "paths.h"
#include "pgtls-config.h"
#include "st.h"
#include "vocab.h"

typedef struct strlist {
    char **v;
    size_t n;
} strlist;

/* Keys of a block, in the order options appear in a case id. */
enum {
    K_SCENARIOS,
    K_STORES,
    K_SSLMODES,
    K_SSLNEGOTIATION,
    K_CHANNEL_BINDING,
    K_SSL_MIN,
    K_SSL_MAX,
    K_SSLSNI,
    K_HOME,
    K_TOKEN,
    K_SURFACES,
    K_QUERY,
    K_DESCRIPTION,
    /* Field cases (docs/suites.md "Field cases"): a block reproducing a
     * reported failure. Any of them makes the block a field block, which
     * then needs all three. */
    K_SOURCE,
    K_REPORTED,
    K_CLIENTS,
    /* Source-page cases (docs/surfaces.md): a connection string exactly as a
     * page shows it, the page's title, and the store each file name it
     * mentions stands for. */
    K_LITERAL,
    K_PAGE,
    K_FILES,
    K_COUNT
};

static const char *const block_keys[K_COUNT] = {
    "scenarios",       "stores",  "sslmodes", "sslnegotiation", "channel_binding",
    "ssl_min_protocol_version", "ssl_max_protocol_version", "sslsni", "home", "token",
    "surfaces", "query", "description", "source", "reported", "clients", "literal", "page",
    "files",
};

typedef struct block {
    char *name;
    int line;
    unsigned seen; /* bit per key */
    strlist lists[K_COUNT];
    char *query;
    char *source;       /* field block: the report's URL */
    st_class reported;  /* field block: the outcome the report describes */
    char *literal;      /* source-page block: the connection string as written */
    char *page;         /* source-page block: the page's title */
} block;

struct st_suite {
    char *origin;
    char *name;
    char *description;
    block *blocks;
    size_t num_blocks;
};

typedef struct parse_ctx {
    st_suite *s;
    pgtls_err *err;
    int failed;
    int in_suite_section;
    unsigned suite_seen;
    int suite_section_seen;
    int line;           /* line inih is on (counted by the reader) */
    int line_indented;  /* that line starts with a blank (a continuation) */
    int too_long_line;  /* first line longer than inih's buffer, or 0 */
    char *cur_section;
    char last_key[64];
    const char *cursor; /* the reader's position in the text */
} parse_ctx;

/* inih reader (fgets-like) that counts lines: Debian's inih is built
 * without INI_HANDLER_LINENO, so this is how messages get line numbers. */
static char *read_line(char *str, int num, void *stream)
{
    parse_ctx *ctx = stream;
    const char *p = ctx->cursor;
    int i = 0;
    if (!*p)
        return NULL;
    ctx->line++;
    ctx->line_indented = *p == ' ' || *p == '\t';
    while (*p && i < num - 1) {
        str[i++] = *p;
        if (*p++ == '\n')
            break;
    }
    if (i == num - 1 && str[i - 1] != '\n' && *p) {
        /* Longer than inih's line buffer: skip the rest and report it. */
        if (!ctx->too_long_line)
            ctx->too_long_line = ctx->line;
        while (*p && *p++ != '\n')
            ;
    }
    str[i] = '\0';
    ctx->cursor = p;
    return str;
}

static const char *const sslmodes[] = {"disable", "allow", "prefer", "require", "verify-ca",
                                       "verify-full"};

static void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int strlist_add(strlist *l, const char *s, size_t len)
{
    char **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (!nv)
        return -1;
    l->v = nv;
    l->v[l->n] = strndup(s, len);
    if (!l->v[l->n])
        return -1;
    l->n++;
    return 0;
}

static int strlist_has(const strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return 1;
    return 0;
}

/* Splits on blanks and commas. */
static int split_list(const char *value, strlist *out)
{
    char **items = vc_split(value, " \t\n\v\f\r,", 0);
    int rc = items ? 0 : -1;
    for (size_t i = 0; items && items[i] && rc == 0; i++)
        rc = strlist_add(out, items[i], strlen(items[i]));
    vc_strv_free(items);
    return rc;
}

static int fail(parse_ctx *ctx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(parse_ctx *ctx, int line, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    err_set(ctx->err, PGTLS_ERR_CONFIG, "%s:%d: %s", ctx->s->origin, line, buf);
    ctx->failed = 1;
    return 0;
}

static int in_set(const char *v, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v, set[i]) == 0)
            return 1;
    return 0;
}

/* Checks every value of an option axis; "default" means "not set". */
static int check_values(parse_ctx *ctx, int line, int key, const strlist *l)
{
    static const char *const neg[] = {"default", "postgres", "direct"};
    static const char *const cb[] = {"default", "disable", "prefer", "require"};
    static const char *const proto[] = {"default", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
    static const char *const sni[] = {"default", "0", "1"};

    for (size_t i = 0; i < l->n; i++) {
        const char *v = l->v[i];
        switch (key) {
        case K_SSLMODES:
            if (strcmp(v, "*") == 0 || strcmp(v, "all") == 0)
                break;
            if (!in_set(v, sslmodes, 6))
                return fail(ctx, line,
                            "sslmodes: \"%s\" is not an sslmode (disable allow prefer require "
                            "verify-ca verify-full, or all)",
                            v);
            break;
        case K_SSLNEGOTIATION:
            if (!in_set(v, neg, 3))
                return fail(ctx, line, "sslnegotiation: \"%s\" is not default, postgres or direct",
                            v);
            break;
        case K_CHANNEL_BINDING:
            if (!in_set(v, cb, 4))
                return fail(ctx, line,
                            "channel_binding: \"%s\" is not default, disable, prefer or require",
                            v);
            break;
        case K_SSL_MIN:
        case K_SSL_MAX:
            if (!in_set(v, proto, 5))
                return fail(ctx, line,
                            "%s: \"%s\" is not a protocol version (TLSv1 TLSv1.1 TLSv1.2 TLSv1.3 "
                            "or default)",
                            block_keys[key], v);
            break;
        case K_SSLSNI:
            if (!in_set(v, sni, 3))
                return fail(ctx, line, "sslsni: \"%s\" is not 0, 1 or default", v);
            break;
        case K_CLIENTS:
            for (const char *p = v; *p; p++)
                if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' ||
                      *p == '_'))
                    return fail(ctx, line,
                                "clients: \"%s\" is not an adapter name (a folder under "
                                "clients/: lower-case letters, digits, - and _)",
                                v);
            break;
        case K_TOKEN:
            if (strcmp(v, "default") != 0 && !st_token_valid(v))
                return fail(ctx, line,
                            "token: \"%s\" is not a token case (%s, or default)", v,
                            ST_TOKEN_CASES);
            break;
        case K_SURFACES:
            if (!st_surface_valid(v))
                return fail(ctx, line,
                            "surfaces: \"%s\" is not a surface (default conninfo url env options "
                            "url+options url+env npgsql)",
                            v);
            break;
        case K_FILES: {
            const char *colon = strchr(v, ':');
            if (!colon || colon == v || !colon[1])
                return fail(ctx, line, "files: \"%s\" is not <file name>:<store>", v);
            break;
        }
        case K_HOME:
            if (strcmp(v, "default") == 0)
                break;
            if (!str_starts_with(v, "root.crt:") || strlen(v) == strlen("root.crt:"))
                return fail(ctx, line,
                            "home: \"%s\" is not root.crt:<store> or default", v);
            break;
        default:
            break;
        }
    }
    return 1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *ctx = user;
    int lineno = ctx->line;
    st_suite *s = ctx->s;

    if (ctx->failed)
        return 0;
    if (!ctx->cur_section || strcmp(ctx->cur_section, section) != 0) {
        /* A new section (this inih build does not call us on headers). */
        free(ctx->cur_section);
        ctx->cur_section = strdup(section);
        ctx->last_key[0] = '\0';
        if (!*section)
            return fail(ctx, lineno, "key \"%s\" outside a section (start with [suite])", name);
        if (strcmp(section, "suite") == 0) {
            if (ctx->suite_section_seen)
                return fail(ctx, lineno, "section [%s] appears twice", section);
            ctx->suite_section_seen = 1;
        } else {
            for (size_t i = 0; i < s->num_blocks; i++)
                if (strcmp(s->blocks[i].name, section) == 0)
                    return fail(ctx, lineno, "section [%s] appears twice", section);
            block *nb = realloc(s->blocks, (s->num_blocks + 1) * sizeof(*nb));
            if (!nb)
                return fail(ctx, lineno, "out of memory");
            s->blocks = nb;
            memset(&nb[s->num_blocks], 0, sizeof(*nb));
            nb[s->num_blocks].name = strdup(section);
            nb[s->num_blocks].line = lineno;
            s->num_blocks++;
        }
    }
    /* An indented line continues the previous key's list (inih multi-line). */
    if (ctx->line_indented && strcmp(ctx->last_key, name) == 0 && strcmp(section, "suite") != 0) {
        block *b = &s->blocks[s->num_blocks - 1];
        for (int k = 0; k < K_COUNT; k++)
            if (strcmp(block_keys[k], name) == 0 && k != K_QUERY && k != K_DESCRIPTION &&
                k != K_SOURCE && k != K_REPORTED && k != K_LITERAL && k != K_PAGE) {
                size_t before = b->lists[k].n;
                if (split_list(value, &b->lists[k]) < 0)
                    return fail(ctx, lineno, "out of memory");
                strlist tail = {b->lists[k].v + before, b->lists[k].n - before};
                return check_values(ctx, lineno, k, &tail);
            }
        return fail(ctx, lineno, "key \"%s\" does not take continuation lines", name);
    }
    snprintf(ctx->last_key, sizeof(ctx->last_key), "%s", name);
    if (!*section)
        return fail(ctx, lineno, "key \"%s\" outside a section (start with [suite])", name);
    if (strcmp(section, "suite") == 0) {
        char **slot;
        unsigned bit;
        if (strcmp(name, "name") == 0) {
            slot = &s->name;
            bit = 1;
        } else if (strcmp(name, "description") == 0) {
            slot = &s->description;
            bit = 2;
        } else {
            return fail(ctx, lineno, "[suite]: unknown key \"%s\" (name, description)", name);
        }
        if (ctx->suite_seen & bit)
            return fail(ctx, lineno, "[suite]: key \"%s\" given twice", name);
        if (!*value)
            return fail(ctx, lineno, "[suite]: key \"%s\" has an empty value", name);
        ctx->suite_seen |= bit;
        *slot = strdup(value);
        return 1;
    }

    block *b = &s->blocks[s->num_blocks - 1];
    int key = -1;
    for (int k = 0; k < K_COUNT; k++)
        if (strcmp(block_keys[k], name) == 0)
            key = k;
    if (key < 0)
        return fail(ctx, lineno,
                    "unknown key \"%s\" in [%s] (scenarios stores sslmodes sslnegotiation "
                    "channel_binding ssl_min_protocol_version ssl_max_protocol_version sslsni "
                    "home token surfaces query description source reported clients literal page "
                    "files)",
                    name, section);
    if (b->seen & (1u << key))
        return fail(ctx, lineno, "key \"%s\" given twice in [%s]", name, section);
    b->seen |= 1u << key;
    if (!*value)
        return fail(ctx, lineno, "key \"%s\" in [%s] has an empty value", name, section);
    if (key == K_QUERY) {
        b->query = strdup(value);
        return 1;
    }
    if (key == K_DESCRIPTION)
        return 1;
    if (key == K_LITERAL) {
        /* Kept byte for byte (inih trims the ends only): it is the page's text. */
        b->literal = strdup(value);
        return b->literal ? 1 : fail(ctx, lineno, "out of memory");
    }
    if (key == K_PAGE) {
        b->page = strdup(value);
        return b->page ? 1 : fail(ctx, lineno, "out of memory");
    }
    if (key == K_SOURCE) {
        /* One link a reader can open: the issue, thread or page of the report. */
        if ((!str_starts_with(value, "https://") && !str_starts_with(value, "http://")) ||
            strpbrk(value, " \t") || strlen(value) <= strlen("https://"))
            return fail(ctx, lineno,
                        "source: \"%s\" is not one http(s) URL (the report's issue, thread or "
                        "page)",
                        value);
        b->source = strdup(value);
        return b->source ? 1 : fail(ctx, lineno, "out of memory");
    }
    if (key == K_REPORTED) {
        st_class c = st_class_parse(value);
        if (c == ST_CLASS_NONE)
            return fail(ctx, lineno,
                        "reported: \"%s\" is not an outcome class (connected-tls "
                        "connected-plain untrusted-chain hostname-mismatch expired ... "
                        "docs/expectations.md)",
                        value);
        b->reported = c;
        return 1;
    }
    if (split_list(value, &b->lists[key]) < 0)
        return fail(ctx, lineno, "out of memory");
    if (b->lists[key].n == 0)
        return fail(ctx, lineno, "key \"%s\" in [%s] lists nothing", name, section);
    return check_values(ctx, lineno, key, &b->lists[key]);
}

st_suite *st_suite_parse(const char *text, const char *origin, pgtls_err *err)
{
    parse_ctx ctx;
    st_suite *s = calloc(1, sizeof(*s));
    int rc;

    if (!s) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->origin = strdup(origin ? origin : "suite");
    memset(&ctx, 0, sizeof(ctx));
    ctx.s = s;
    ctx.err = err;
    ctx.cursor = text;
    rc = ini_parse_stream(read_line, &ctx, handler, &ctx);
    free(ctx.cur_section);
    if (ctx.too_long_line) {
        err_set(err, PGTLS_ERR_CONFIG,
                "%s:%d: line longer than 199 characters; continue a list on indented lines",
                s->origin, ctx.too_long_line);
        goto bad;
    }
    if (ctx.failed)
        goto bad;
    if (rc != 0) {
        err_set(err, PGTLS_ERR_CONFIG,
                "%s:%d: not a key = value line or a [section] header", s->origin, rc);
        goto bad;
    }
    if (!ctx.suite_section_seen || !s->name) {
        err_set(err, PGTLS_ERR_CONFIG, "%s: needs a [suite] section with name = ...", s->origin);
        goto bad;
    }
    if (s->num_blocks == 0) {
        err_set(err, PGTLS_ERR_CONFIG,
                "%s: no case blocks; add a section with scenarios, stores and sslmodes",
                s->origin);
        goto bad;
    }
    for (size_t i = 0; i < s->num_blocks; i++) {
        static const int required[] = {K_SCENARIOS, K_STORES, K_SSLMODES};
        static const int field[] = {K_SOURCE, K_REPORTED, K_CLIENTS};
        unsigned field_bits = (1u << K_SOURCE) | (1u << K_REPORTED) | (1u << K_CLIENTS);
        for (size_t r = 0; r < 3; r++)
            if (!(s->blocks[i].seen & (1u << required[r]))) {
                err_set(err, PGTLS_ERR_CONFIG, "%s:%d: [%s] needs \"%s\"", s->origin,
                        s->blocks[i].line, s->blocks[i].name, block_keys[required[r]]);
                goto bad;
            }
        /* A field case without its link, its reported outcome or the clients
         * the report is about cannot say whether it still reproduces. */
        if (s->blocks[i].seen & field_bits)
            for (size_t r = 0; r < 3; r++)
                if (!(s->blocks[i].seen & (1u << field[r]))) {
                    err_set(err, PGTLS_ERR_CONFIG,
                            "%s:%d: [%s] is a field case block (it has source, reported or "
                            "clients) and needs \"%s\"",
                            s->origin, s->blocks[i].line, s->blocks[i].name,
                            block_keys[field[r]]);
                    goto bad;
                }
        /* A source-page block: one literal, its page, one surface to read it. */
        {
            const block *b = &s->blocks[i];
            int lit = b->literal != NULL;
            if (lit != ((b->seen & (1u << K_PAGE)) != 0) ||
                (!lit && (b->seen & (1u << K_FILES)))) {
                err_set(err, PGTLS_ERR_CONFIG,
                        "%s:%d: [%s]: \"literal\" and \"page\" go together (\"files\" only with "
                        "them): a connection string as a page shows it, and the page's title",
                        s->origin, b->line, b->name);
                goto bad;
            }
            if (lit && (b->lists[K_SURFACES].n != 1 ||
                        strcmp(b->lists[K_SURFACES].v[0], "default") == 0)) {
                err_set(err, PGTLS_ERR_CONFIG,
                        "%s:%d: [%s]: a block with \"literal\" needs exactly one surface (the "
                        "syntax of the string: conninfo, url or npgsql)",
                        s->origin, b->line, b->name);
                goto bad;
            }
        }
        /* Its name ends the case id ("/field=<block>"), so it stays a token. */
        if (s->blocks[i].source || s->blocks[i].literal)
            for (const char *p = s->blocks[i].name; *p; p++)
                if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.')) {
                    err_set(err, PGTLS_ERR_CONFIG,
                            "%s:%d: [%s]: a field case block's name goes into case ids: use "
                            "letters, digits, '-', '_' and '.' only",
                            s->origin, s->blocks[i].line, s->blocks[i].name);
                    goto bad;
                }
    }
    return s;
bad:
    st_suite_free(s);
    return NULL;
}

st_suite *st_suite_load(const char *path, pgtls_err *err)
{
    char *text = NULL;
    st_suite *s = NULL;

    if (fs_read_file(path, 1 << 20, &text, NULL, err) < 0) {
        err_prefix(err, "suite");
        return NULL;
    }
    s = st_suite_parse(text, path, err);
    free(text);
    return s;
}

void st_suite_free(st_suite *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->num_blocks; i++) {
        for (int k = 0; k < K_COUNT; k++)
            strlist_free(&s->blocks[i].lists[k]);
        free(s->blocks[i].name);
        free(s->blocks[i].query);
        free(s->blocks[i].source);
        free(s->blocks[i].literal);
        free(s->blocks[i].page);
    }
    free(s->blocks);
    free(s->origin);
    free(s->name);
    free(s->description);
    free(s);
}

const char *st_suite_name(const st_suite *s)
{
    return s->name;
}

const char *st_default_suite_path(void)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/suites/default.suite", pgtls_data_root());
    return path;
}

/* ---- Expansion ---- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void case_cleanup(st_case *c)
{
    char **fields[] = {&c->id,
                       &c->scenario,
                       &c->store,
                       &c->sslmode,
                       &c->host,
                       &c->sslrootcert,
                       &c->truststore_p12,
                       &c->truststore_password,
                       &c->user,
                       &c->password,
                       &c->dbname,
                       &c->query,
                       &c->sslnegotiation,
                       &c->channel_binding,
                       &c->ssl_min_protocol_version,
                       &c->ssl_max_protocol_version,
                       &c->sslsni,
                       &c->surface,
                       &c->literal,
                       &c->literal_as_written,
                       &c->page,
                       &c->home_root_crt_store,
                       &c->home_root_crt_pem,
                       &c->system_cert_file,
                       &c->system_cert_dir,
                       &c->server_min_protocol,
                       &c->server_max_protocol,
                       &c->server_auth,
                       &c->verify,
                       &c->home_verify,
                       &c->token};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
    free(c->field_block);
    free(c->field_source);
    c->field_block = c->field_source = NULL;
    for (size_t i = 0; i < c->num_field_clients; i++)
        free(c->field_clients[i]);
    free(c->field_clients);
    c->field_clients = NULL;
    c->num_field_clients = 0;
}

void st_case_list_cleanup(st_case_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->num_cases; i++)
        case_cleanup(&l->cases[i]);
    free(l->cases);
    l->cases = NULL;
    l->num_cases = 0;
}

static int cmp_case(const void *a, const void *b)
{
    return strcmp(((const st_case *)a)->id, ((const st_case *)b)->id);
}

const st_case *st_case_find(const st_case_list *l, const char *id)
{
    st_case key;
    memset(&key, 0, sizeof(key));
    key.id = (char *)id;
    return bsearch(&key, l->cases, l->num_cases, sizeof(st_case), cmp_case);
}

int st_case_applies_to(const st_case *c, const char *client)
{
    if (!c->field_source)
        return 1;
    for (size_t i = 0; client && i < c->num_field_clients; i++)
        if (strcmp(c->field_clients[i], client) == 0)
            return 1;
    return 0;
}

const char *st_field_verdict(const st_case *c, st_class observed)
{
    if (!c->field_source)
        return NULL;
    if (observed == c->field_reported)
        return "reproduces";
    if (observed == ST_UNSUPPORTED)
        return "not-tested";
    return "no-longer-reproduces";
}

typedef struct axes {
    const char *sslnegotiation, *channel_binding, *ssl_min, *ssl_max, *sslsni, *home, *token,
        *surface;
} axes;

int st_surface_valid(const char *surface)
{
    static const char *const surfaces[] = {"default", "conninfo", "url",         "env",
                                           "options", "url+options", "url+env", "npgsql"};
    return surface && in_set(surface, surfaces, sizeof(surfaces) / sizeof(surfaces[0]));
}

/* text with every occurrence of from replaced by to; NULL when out of memory. */
static char *replace_all(const char *text, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = strstr(text, from); fl && p; p = strstr(p + fl, from))
        n++;
    char *out = malloc(strlen(text) + n * (tl > fl ? tl - fl : 0) + 1), *w = out;
    if (!out)
        return NULL;
    for (const char *p = text;;) {
        const char *q = fl ? strstr(p, from) : NULL;
        if (!q) {
            strcpy(w, p);
            break;
        }
        memcpy(w, p, (size_t)(q - p));
        w += q - p;
        memcpy(w, to, tl);
        w += tl;
        p = q + fl;
    }
    return out;
}

static const char *opt(const char *v)
{
    return v && strcmp(v, "default") != 0 ? v : NULL;
}

/* Appends "/name=value" when value is set. */
static int id_append(char *buf, size_t cap, const char *name, const char *value)
{
    size_t len = strlen(buf);
    int n;
    if (!value)
        return 0;
    n = snprintf(buf + len, cap - len, "/%s=%s", name, value);
    return n < 0 || (size_t)n >= cap - len ? -1 : 0;
}

static int make_case(const fx_index *idx, const block *b, const fx_scenario *sc,
                     const char *store_name, const char *sslmode, const axes *ax, st_case *c,
                     pgtls_err *err)
{
    char id[1024];
    const fx_store *st = NULL;
    int result = -1;

    memset(c, 0, sizeof(*c));
    snprintf(id, sizeof(id), "%s/%s/%s", sc->name, store_name, sslmode);
    if (id_append(id, sizeof(id), "sslnegotiation", opt(ax->sslnegotiation)) < 0 ||
        id_append(id, sizeof(id), "channel_binding", opt(ax->channel_binding)) < 0 ||
        id_append(id, sizeof(id), "ssl_min_protocol_version", opt(ax->ssl_min)) < 0 ||
        id_append(id, sizeof(id), "ssl_max_protocol_version", opt(ax->ssl_max)) < 0 ||
        id_append(id, sizeof(id), "sslsni", opt(ax->sslsni)) < 0 ||
        id_append(id, sizeof(id), "home", opt(ax->home)) < 0 ||
        id_append(id, sizeof(id), "token", opt(ax->token)) < 0 ||
        id_append(id, sizeof(id), "surface", opt(ax->surface)) < 0 ||
        id_append(id, sizeof(id), "page", b->literal ? b->name : NULL) < 0 ||
        /* A field case is named by its block too: two reports may need the
         * same connection settings, and each keeps its own row. */
        id_append(id, sizeof(id), "field", b->source ? b->name : NULL) < 0) {
        err_set(err, PGTLS_ERR_CONFIG, "[%s]: case id too long for %s", b->name, sc->name);
        return -1;
    }
    c->id = strdup(id);
    c->scenario = strdup(sc->name);
    c->store = strdup(store_name);
    c->sslmode = strdup(sslmode);
    c->host = dup_or_null(sc->host);
    c->user = dup_or_null(sc->server.user ? sc->server.user : "pgtls");
    c->password = dup_or_null(sc->server.password ? sc->server.password : "pgtls-secret");
    c->dbname = strdup("postgres");
    c->query = strdup(b->query ? b->query : "SELECT ssl_is_used()");
    c->sslnegotiation = dup_or_null(opt(ax->sslnegotiation));
    c->channel_binding = dup_or_null(opt(ax->channel_binding));
    c->ssl_min_protocol_version = dup_or_null(opt(ax->ssl_min));
    c->ssl_max_protocol_version = dup_or_null(opt(ax->ssl_max));
    c->sslsni = dup_or_null(opt(ax->sslsni));
    c->token = dup_or_null(opt(ax->token));
    ENSURE(!c->token || (sc->server.auth && strcmp(sc->server.auth, "entra") == 0), err,
           PGTLS_ERR_CONFIG,
           "[%s]: token=%s needs a scenario with auth=entra (scenario %s has auth=%s)", b->name,
           c->token, sc->name, sc->server.auth ? sc->server.auth : "scram-sha-256");
    c->surface = dup_or_null(opt(ax->surface));
    if (b->literal) {
        c->literal_as_written = strdup(b->literal);
        c->page = strdup(b->page);
        c->literal = strdup(b->literal);
        ENSURE(c->literal_as_written && c->page && c->literal, err, PGTLS_ERR_NOMEM,
               "out of memory");
        /* A file name the page mentions becomes the store's absolute path:
         * the only change to the string, so the driver reads the same text
         * with a file it can open. */
        for (size_t i = 0; i < b->lists[K_FILES].n; i++) {
            const char *v = b->lists[K_FILES].v[i], *colon = strrchr(v, ':');
            char *fname = strndup(v, (size_t)(colon - v));
            const fx_store *fs = fx_store_find(idx, colon + 1);
            char *next = NULL;
            ENSURE(fname, err, PGTLS_ERR_NOMEM, "out of memory");
            if (!fs || !fs->pem) {
                err_set(err, PGTLS_ERR_CONFIG, "[%s]: files=%s names an unknown store", b->name,
                        v);
                free(fname);
                goto out;
            }
            next = replace_all(c->literal, fname, fs->pem);
            free(fname);
            ENSURE(next, err, PGTLS_ERR_NOMEM, "out of memory");
            free(c->literal);
            c->literal = next;
        }
    }
    c->server_ssl = sc->server.ssl;
    c->require_secure_transport = sc->server.require_secure_transport;
    c->host_match = sc->host_match;
    c->server_direct_tls = sc->server.direct_tls;
    c->server_min_protocol = strdup(sc->server.ssl_min_protocol_version ? sc->server.ssl_min_protocol_version : "");
    c->server_max_protocol = strdup(sc->server.ssl_max_protocol_version ? sc->server.ssl_max_protocol_version : "");
    c->server_auth = dup_or_null(sc->server.auth);
    if (b->source) {
        const strlist *cl = &b->lists[K_CLIENTS];
        c->field_block = strdup(b->name);
        c->field_source = strdup(b->source);
        c->field_reported = b->reported;
        c->field_clients = calloc(cl->n ? cl->n : 1, sizeof(char *));
        ENSURE(c->field_block && c->field_source && c->field_clients, err, PGTLS_ERR_NOMEM,
               "out of memory");
        for (size_t i = 0; i < cl->n; i++) {
            c->field_clients[i] = strdup(cl->v[i]);
            ENSURE(c->field_clients[i], err, PGTLS_ERR_NOMEM, "out of memory");
            c->num_field_clients++;
        }
    }

    if (strcmp(store_name, "none") == 0 || strcmp(store_name, "default") == 0) {
        /* "default": sslrootcert unset, the client's own default trust (the
         * runner translates it into the look-alike world); "none" is the
         * same connection settings, kept for existing case ids. */
        c->root_kind = ST_ROOT_UNSET;
    } else {
        st = fx_store_find(idx, store_name);
        ENSURE(st, err, PGTLS_ERR_CONFIG,
               "[%s]: unknown trust store \"%s\" (not in the fixtures index; \"default\" and "
               "\"none\" mean sslrootcert unset)",
               b->name, store_name);
        if (strcmp(st->kind, "missing") == 0) {
            c->root_kind = ST_ROOT_MISSING;
            c->sslrootcert = dup_or_null(st->pem);
            c->verify = strdup("no-file");
        } else if (strcmp(st->kind, "empty") == 0) {
            c->root_kind = ST_ROOT_EMPTY;
            c->sslrootcert = dup_or_null(st->pem);
        } else {
            const char *v = fx_scenario_verify(sc, store_name);
            ENSURE(v || !sc->server.ssl, err, PGTLS_ERR_CONFIG,
                   "[%s]: scenario %s declares no verify result for store %s (fix the "
                   "catalogue or drop the store from the block)",
                   b->name, sc->name, store_name);
            c->verify = dup_or_null(v);
            if (strcmp(st->kind, "system") == 0) {
                c->root_kind = ST_ROOT_SYSTEM;
                c->sslrootcert = strdup("system");
                c->system_cert_file = dup_or_null(st->pem);
                c->system_cert_dir = dup_or_null(st->system_dir);
            } else {
                c->root_kind = ST_ROOT_FILE;
                c->sslrootcert = dup_or_null(st->pem);
            }
        }
        c->truststore_p12 = dup_or_null(st->p12);
        c->truststore_password = dup_or_null(st->p12 ? st->p12_password : NULL);
    }

    if (opt(ax->home)) {
        const char *hs = ax->home + strlen("root.crt:");
        const fx_store *h = fx_store_find(idx, hs);
        ENSURE(h, err, PGTLS_ERR_CONFIG, "[%s]: home=root.crt:%s names an unknown store",
               b->name, hs);
        ENSURE(strcmp(h->kind, "missing") != 0 && strcmp(h->kind, "system") != 0, err,
               PGTLS_ERR_CONFIG,
               "[%s]: home=root.crt:%s: a %s store cannot be copied to ~/.postgresql/root.crt",
               b->name, hs, h->kind);
        c->home_root_crt_store = strdup(hs);
        c->home_root_crt_pem = dup_or_null(h->pem);
        if (strcmp(h->kind, "empty") == 0) {
            c->home_verify = strdup("empty");
        } else {
            const char *v = fx_scenario_verify(sc, hs);
            ENSURE(v || !sc->server.ssl, err, PGTLS_ERR_CONFIG,
                   "[%s]: scenario %s declares no verify result for store %s (home root.crt)",
                   b->name, sc->name, hs);
            c->home_verify = dup_or_null(v);
        }
    }
    ENSURE(c->id && c->scenario && c->store && c->sslmode && c->dbname && c->query, err,
           PGTLS_ERR_NOMEM, "out of memory");
    result = 0;
out:
    if (result < 0)
        case_cleanup(c);
    return result;
}

/* A list with one "default" entry stands for an axis the block leaves out. */
static const strlist *axis(const block *b, int key)
{
    static char *dflt_v[] = {(char *)"default"};
    static const strlist dflt = {dflt_v, 1};
    return b->lists[key].n ? &b->lists[key] : &dflt;
}

int st_expand(const st_suite *s, const fx_index *idx, st_case_list *out, pgtls_err *err)
{
    st_case *cases = NULL;
    size_t n = 0, cap = 0;
    int result = -1;

    out->cases = NULL;
    out->num_cases = 0;
    for (size_t bi = 0; bi < s->num_blocks; bi++) {
        const block *b = &s->blocks[bi];
        strlist scen = {0}, stores = {0}, modes = {0};
        int ok = 0;

        /* Resolve "*" selectors against the index. */
        for (size_t i = 0; i < b->lists[K_SCENARIOS].n; i++) {
            const char *v = b->lists[K_SCENARIOS].v[i];
            if (strcmp(v, "*") == 0) {
                for (size_t j = 0; j < fx_num_scenarios(idx); j++)
                    if (!strlist_has(&scen, fx_scenario_at(idx, j)->name))
                        strlist_add(&scen, fx_scenario_at(idx, j)->name,
                                    strlen(fx_scenario_at(idx, j)->name));
            } else if (!fx_scenario_find(idx, v)) {
                err_set(err, PGTLS_ERR_CONFIG,
                        "%s: [%s]: unknown scenario \"%s\" (not in the fixtures index)",
                        s->origin, b->name, v);
                goto block_out;
            } else if (!strlist_has(&scen, v)) {
                strlist_add(&scen, v, strlen(v));
            }
        }
        for (size_t i = 0; i < b->lists[K_STORES].n; i++) {
            const char *v = b->lists[K_STORES].v[i];
            if (strcmp(v, "*") == 0) {
                for (size_t j = 0; j < fx_num_stores(idx); j++)
                    if (!strlist_has(&stores, fx_store_at(idx, j)->name))
                        strlist_add(&stores, fx_store_at(idx, j)->name,
                                    strlen(fx_store_at(idx, j)->name));
            } else if (!strlist_has(&stores, v)) {
                strlist_add(&stores, v, strlen(v));
            }
        }
        for (size_t i = 0; i < b->lists[K_SSLMODES].n; i++) {
            const char *v = b->lists[K_SSLMODES].v[i];
            if (strcmp(v, "*") == 0 || strcmp(v, "all") == 0) {
                for (size_t j = 0; j < 6; j++)
                    if (!strlist_has(&modes, sslmodes[j]))
                        strlist_add(&modes, sslmodes[j], strlen(sslmodes[j]));
            } else if (!strlist_has(&modes, v)) {
                strlist_add(&modes, v, strlen(v));
            }
        }

        const strlist *neg = axis(b, K_SSLNEGOTIATION), *cb = axis(b, K_CHANNEL_BINDING),
                      *mn = axis(b, K_SSL_MIN), *mx = axis(b, K_SSL_MAX),
                      *sni = axis(b, K_SSLSNI), *home = axis(b, K_HOME),
                      *tok = axis(b, K_TOKEN), *surf = axis(b, K_SURFACES);
        for (size_t a = 0; a < scen.n; a++)
            for (size_t bb = 0; bb < stores.n; bb++)
                for (size_t m = 0; m < modes.n; m++)
                    for (size_t i1 = 0; i1 < neg->n; i1++)
                        for (size_t i2 = 0; i2 < cb->n; i2++)
                            for (size_t i3 = 0; i3 < mn->n; i3++)
                                for (size_t i4 = 0; i4 < mx->n; i4++)
                                    for (size_t i5 = 0; i5 < sni->n; i5++)
                                        for (size_t i6 = 0; i6 < home->n * surf->n; i6++)
                                        for (size_t i7 = 0; i7 < tok->n; i7++) {
                                            axes ax = {neg->v[i1],         cb->v[i2],
                                                       mn->v[i3],          mx->v[i4],
                                                       sni->v[i5],         home->v[i6 / surf->n],
                                                       tok->v[i7],         surf->v[i6 % surf->n]};
                                            if (n == cap) {
                                                size_t ncap = cap ? cap * 2 : 256;
                                                st_case *nc = realloc(cases, ncap * sizeof(*nc));
                                                if (!nc) {
                                                    err_set(err, PGTLS_ERR_NOMEM, "out of memory");
                                                    goto block_out;
                                                }
                                                cases = nc;
                                                cap = ncap;
                                            }
                                            if (make_case(idx, b,
                                                          fx_scenario_find(idx, scen.v[a]),
                                                          stores.v[bb], modes.v[m], &ax,
                                                          &cases[n], err) < 0) {
                                                err_prefix(err, "%s", s->origin);
                                                goto block_out;
                                            }
                                            n++;
                                        }
        ok = 1;
    block_out:
        strlist_free(&scen);
        strlist_free(&stores);
        strlist_free(&modes);
        if (!ok)
            goto out;
    }

    /* Sort by id and drop duplicates (blocks may overlap; first one wins
     * after a stable pass: equal ids carry equal settings except query). */
    if (n > 1)
        qsort(cases, n, sizeof(*cases), cmp_case);
    {
        size_t w = 0;
        for (size_t r = 0; r < n; r++) {
            if (w > 0 && strcmp(cases[w - 1].id, cases[r].id) == 0) {
                case_cleanup(&cases[r]);
                continue;
            }
            if (w != r)
                cases[w] = cases[r];
            w++;
        }
        n = w;
    }
    out->cases = cases;
    out->num_cases = n;
    cases = NULL;
    result = 0;
out:
    if (cases) {
        for (size_t i = 0; i < n; i++)
            case_cleanup(&cases[i]);
        free(cases);
    }
    return result;
}

static void set_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, v ? json_string(v) : json_null());
}

json_t *st_case_to_json(const st_case *c)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    set_str(o, "id", c->id);
    set_str(o, "host", c->host);
    set_str(o, "sslmode", c->sslmode);
    set_str(o, "sslrootcert", c->sslrootcert);
    set_str(o, "truststore_p12", c->truststore_p12);
    set_str(o, "truststore_password", c->truststore_password);
    set_str(o, "user", c->user);
    set_str(o, "password", c->password);
    set_str(o, "dbname", c->dbname);
    set_str(o, "query", c->query);
    set_str(o, "sslnegotiation", c->sslnegotiation);
    set_str(o, "channel_binding", c->channel_binding);
    set_str(o, "ssl_min_protocol_version", c->ssl_min_protocol_version);
    set_str(o, "ssl_max_protocol_version", c->ssl_max_protocol_version);
    set_str(o, "sslsni", c->sslsni);
    set_str(o, "application_name", "pgtls");
    /* Only when set: the default suite's cases stay as they were. */
    if (c->surface)
        set_str(o, "surface", c->surface);
    if (c->literal)
        set_str(o, "literal", c->literal);
    return o;
}
