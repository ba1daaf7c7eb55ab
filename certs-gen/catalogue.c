/* pgtls certs-gen: the catalogue parser (INI via inih) and its validation.
 *
 * inih reads the file line by line through our reader, which counts lines so
 * every message can name FILE:LINE (Debian's libinih is built without
 * INI_HANDLER_LINENO), spots continuation lines (indented: inih hands them to
 * the handler under the previous key) and refuses lines longer than inih's
 * buffer instead of letting inih split them silently. */
#include <ctype.h>
#include <ini.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "ca_internal.h"
#include "fs.h"
#include "vocab.h"

typedef enum {
    SEC_NONE,
    SEC_CATALOGUE,
    SEC_KEY,
    SEC_CERT,
    SEC_CHAIN,
    SEC_STORE,
    SEC_SCENARIO,
    SEC_OSSL
} sec_type;

typedef struct parse_state {
    ca_catalogue *cat;
    pgtls_err *err;
    int failed;
    const char *text;
    size_t len, pos;
    int line;         /* line number of the line inih is processing */
    int header_line;  /* line of the last [section] header */
    int continuation; /* the current line is indented (a continuation) */
    char *cur_section;
    sec_type cur_type;
    void *cur; /* the entity of the current section */
    char *prev_key;
    char **ossl_parts; /* conf text pieces */
    size_t ossl_len, ossl_cap;
    char *ossl_text;
    int seen_catalogue;
} parse_state;

static const char *const verify_results[] = {"ok",       "untrusted", "expired", "not-yet-valid",
                                             "too-weak", "no-file"};
static const char *const store_kinds[] = {"roots",       "bundle",     "pinned-intermediate",
                                          "pinned-leaf", "wrong-root", "empty",
                                          "missing",     "system"};
static const char *const auth_choices[] = {"trust", "password", "md5", "scram-sha-256", "entra",
                                            NULL};
static const char *const proto_choices[] = {"", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", NULL};

static const struct server_field {
    const char *name;
    int is_bool;
    const char *const *choices; /* NULL: free text */
} server_fields[] = {
    {"ssl", 1, NULL},
    {"require_secure_transport", 1, NULL},
    {"ssl_min_protocol_version", 0, proto_choices},
    {"ssl_max_protocol_version", 0, proto_choices},
    {"ssl_ciphers", 0, NULL},
    {"ssl_tls13_ciphers", 0, NULL},
    {"ssl_groups", 0, NULL},
    {"auth", 0, auth_choices},
    {"user", 0, NULL},
    {"password", 0, NULL},
    {"client_cert", 1, NULL},
    {"server_version", 0, NULL},
    {"direct_tls", 1, NULL},
    {NULL, 0, NULL},
};

/* Defaults of the server object (docs/fixtures-index.md). */
static const ca_kv server_builtin_defaults[] = {
    {"ssl", "true", 0},
    {"require_secure_transport", "true", 0},
    {"ssl_min_protocol_version", "TLSv1.2", 0},
    {"ssl_max_protocol_version", "", 0},
    {"ssl_ciphers", "HIGH:MEDIUM:+3DES:!aNULL", 0},
    {"ssl_tls13_ciphers", "", 0},
    {"ssl_groups", "X25519:prime256v1", 0},
    {"auth", "scram-sha-256", 0},
    {"user", "pgtls", 0},
    {"password", "pgtls-secret", 0},
    {"client_cert", "false", 0},
    {"server_version", "16.9", 0},
    {"direct_tls", "true", 0},
};

static int in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "on") == 0) {
        *out = 1;
        return 0;
    }
    if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "off") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

/* Sets the error "FILE:LINE: message" once and returns -1. */
__attribute__((format(printf, 4, 5))) static int cat_err(pgtls_err *err, const char *path, int line,
                                                         const char *fmt, ...)
{
    char msg[1600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return err_set(err, PGTLS_ERR_CONFIG, "%s:%d: %s", path, line, msg);
}

static void *grow(void *arr, size_t *num, size_t elem)
{
    char *n = realloc(arr, (*num + 1) * elem);
    if (!n)
        return NULL;
    memset(n + *num * elem, 0, elem);
    (*num)++;
    return n;
}

/* Appends the items of "a, b ,c" (trimmed heap strings) to *out. */
static int split_list(const char *value, char ***out, size_t *num)
{
    char **items = vc_split(value, ",", 1), **grown;
    size_t n = vc_strv_len(items);
    if (!items)
        return -1;
    if (n) {
        grown = realloc(*out, (*num + n) * sizeof(char *));
        if (!grown) {
            vc_strv_free(items);
            return -1;
        }
        *out = grown;
        memcpy(grown + *num, items, n * sizeof(char *));
        *num += n;
    }
    free(items); /* the vector only: its strings moved to *out */
    return 0;
}

static char *cat_reader(char *str, int num, void *stream)
{
    parse_state *ps = stream;
    size_t n = 0, start = ps->pos;
    const char *p;

    if (ps->failed || ps->pos >= ps->len)
        return NULL;
    while (ps->pos < ps->len && ps->text[ps->pos] != '\n')
        ps->pos++;
    n = ps->pos - start;
    if (ps->pos < ps->len)
        ps->pos++; /* the newline */
    ps->line++;
    if (n + 2 > (size_t)num) {
        cat_err(ps->err, ps->cat->path, ps->line,
                "line longer than %d characters (split the value over indented continuation "
                "lines)",
                num - 2);
        ps->failed = 1;
        return NULL;
    }
    memcpy(str, ps->text + start, n);
    str[n] = '\n';
    str[n + 1] = '\0';
    p = str;
    ps->continuation = (*p == ' ' || *p == '\t');
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '[')
        ps->header_line = ps->line;
    if (*p == ';' || *p == '#' || *p == '\n' || *p == '\r')
        ps->continuation = 0;
    return str;
}

/* Sets a scalar string field, refusing a second assignment. */
static int set_once(parse_state *ps, char **field, int *line_field, const char *key,
                    const char *value)
{
    if (*field) {
        if (ps->continuation) {
            char *joined = str_printf("%s %s", *field, value);
            if (!joined)
                return err_set(ps->err, PGTLS_ERR_NOMEM, "out of memory");
            free(*field);
            *field = joined;
            return 0;
        }
        return cat_err(ps->err, ps->cat->path, ps->line, "'%s' is set twice in [%s] (keep one)",
                       key, ps->cur_section);
    }
    *field = strdup(value);
    if (!*field)
        return err_set(ps->err, PGTLS_ERR_NOMEM, "out of memory");
    if (line_field)
        *line_field = ps->line;
    return 0;
}

/* Appends to a comma-separated list field (repeated keys and continuations). */
static int set_list(parse_state *ps, char ***list, size_t *num, int *line_field, const char *value)
{
    if (line_field && !*line_field)
        *line_field = ps->line;
    if (split_list(value, list, num) < 0)
        return err_set(ps->err, PGTLS_ERR_NOMEM, "out of memory");
    return 0;
}

static int add_kv(parse_state *ps, ca_kv **arr, size_t *num, const char *key, const char *value)
{
    ca_kv *n;
    if (ps->continuation && *num > 0 && strcmp((*arr)[*num - 1].key, key) == 0) {
        ca_kv *last = &(*arr)[*num - 1];
        char *joined = str_printf("%s,%s", last->value, value);
        if (!joined)
            return err_set(ps->err, PGTLS_ERR_NOMEM, "out of memory");
        free(last->value);
        last->value = joined;
        return 0;
    }
    n = grow(*arr, num, sizeof(**arr));
    if (!n)
        return err_set(ps->err, PGTLS_ERR_NOMEM, "out of memory");
    *arr = n;
    n[*num - 1].key = strdup(key);
    n[*num - 1].value = strdup(value);
    n[*num - 1].line = ps->line;
    if (!n[*num - 1].key || !n[*num - 1].value)
        return err_set(ps->err, PGTLS_ERR_NOMEM, "out of memory");
    return 0;
}

static int check_server_field(parse_state *ps, const char *field, const char *value)
{
    for (const struct server_field *f = server_fields; f->name; f++) {
        if (strcmp(f->name, field) != 0)
            continue;
        if (f->is_bool) {
            int b;
            if (parse_bool(value, &b) < 0)
                return cat_err(ps->err, ps->cat->path, ps->line,
                               "server.%s = '%s' is not a boolean (use true or false)", field,
                               value);
        }
        if (f->choices) {
            size_t n = 0;
            while (f->choices[n])
                n++;
            if (!in_list(value, f->choices, n)) {
                char allowed[256] = "";
                for (size_t i = 0; i < n; i++) {
                    strncat(allowed, i ? ", " : "", sizeof(allowed) - strlen(allowed) - 1);
                    strncat(allowed, f->choices[i][0] ? f->choices[i] : "(empty)",
                            sizeof(allowed) - strlen(allowed) - 1);
                }
                return cat_err(ps->err, ps->cat->path, ps->line,
                               "server.%s = '%s' is not one of: %s", field, value, allowed);
            }
        }
        return 0;
    }
    return cat_err(ps->err, ps->cat->path, ps->line,
                   "unknown server setting 'server.%s' (see docs/catalogue.md for the list)",
                   field);
}

static int unknown_key(parse_state *ps, const char *key, const char *allowed)
{
    return cat_err(ps->err, ps->cat->path, ps->line, "unknown key '%s' in [%s] (allowed: %s)", key,
                   ps->cur_section, allowed);
}

/* Starts a new section: "catalogue", "key NAME", "cert NAME", ... */
static int begin_section(parse_state *ps, const char *section)
{
    ca_catalogue *cat = ps->cat;
    const char *sp = strchr(section, ' ');
    char type[32];
    const char *name;
    size_t tlen;

    free(ps->cur_section);
    ps->cur_section = strdup(section);
    if (!ps->cur_section)
        return err_set(ps->err, PGTLS_ERR_NOMEM, "out of memory");
    ps->cur = NULL;
    if (strcmp(section, "catalogue") == 0) {
        if (ps->seen_catalogue)
            return cat_err(ps->err, cat->path, ps->header_line,
                           "[catalogue] appears twice (merge the two sections)");
        ps->seen_catalogue = 1;
        ps->cur_type = SEC_CATALOGUE;
        return 0;
    }
    tlen = sp ? (size_t)(sp - section) : strlen(section);
    if (!sp || tlen >= sizeof(type))
        return cat_err(ps->err, cat->path, ps->header_line,
                       "unknown section [%s] (use [catalogue], [key NAME], [cert NAME], "
                       "[chain NAME], [store NAME], [scenario NAME] or [ossl NAME])",
                       section);
    memcpy(type, section, tlen);
    type[tlen] = '\0';
    name = sp + 1;
    while (*name == ' ')
        name++;
    for (const char *p = name; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.'))
            return cat_err(ps->err, cat->path, ps->header_line,
                           "section name '%s' may only hold letters, digits, '-', '_' and '.'",
                           name);
    if (!*name)
        return cat_err(ps->err, cat->path, ps->header_line, "[%s] needs a name", type);

#define NEW_ENTITY(arr, num, finder, label, code)                                                  \
    do {                                                                                           \
        void *n_;                                                                                  \
        if (finder(cat, name))                                                                     \
            return cat_err(ps->err, cat->path, ps->header_line,                                    \
                           "%s '%s' is defined twice (rename one)", label, name);                  \
        n_ = grow(cat->arr, &cat->num, sizeof(*cat->arr));                                         \
        if (!n_)                                                                                   \
            return err_set(ps->err, PGTLS_ERR_NOMEM, "out of memory");                             \
        cat->arr = n_;                                                                             \
        cat->arr[cat->num - 1].name = strdup(name);                                                \
        cat->arr[cat->num - 1].line = ps->header_line;                                             \
        ps->cur_type = code;                                                                       \
        ps->cur = &cat->arr[cat->num - 1];                                                         \
    } while (0)

    if (strcmp(type, "key") == 0) {
        for (size_t i = 0; i < cat->num_keys; i++)
            if (strcmp(cat->keys[i].name, name) == 0)
                return cat_err(ps->err, cat->path, ps->header_line,
                               "key '%s' is defined twice (rename one)", name);
        void *n_ = grow(cat->keys, &cat->num_keys, sizeof(*cat->keys));
        if (!n_)
            return err_set(ps->err, PGTLS_ERR_NOMEM, "out of memory");
        cat->keys = n_;
        cat->keys[cat->num_keys - 1].name = strdup(name);
        cat->keys[cat->num_keys - 1].line = ps->header_line;
        ps->cur_type = SEC_KEY;
        ps->cur = &cat->keys[cat->num_keys - 1];
    } else if (strcmp(type, "cert") == 0) {
        NEW_ENTITY(certs, num_certs, ca_catalogue_cert, "certificate", SEC_CERT);
    } else if (strcmp(type, "chain") == 0) {
        NEW_ENTITY(chains, num_chains, ca_catalogue_chain, "chain", SEC_CHAIN);
    } else if (strcmp(type, "store") == 0) {
        NEW_ENTITY(stores, num_stores, ca_catalogue_store, "store", SEC_STORE);
    } else if (strcmp(type, "scenario") == 0) {
        NEW_ENTITY(scenarios, num_scenarios, ca_catalogue_scenario, "scenario", SEC_SCENARIO);
        ((ca_scenario *)ps->cur)->host_match = -1;
    } else if (strcmp(type, "ossl") == 0) {
        char *piece = str_printf("%s[%s]\n", ps->ossl_text ? ps->ossl_text : "", name);
        if (!piece)
            return err_set(ps->err, PGTLS_ERR_NOMEM, "out of memory");
        free(ps->ossl_text);
        ps->ossl_text = piece;
        ps->cur_type = SEC_OSSL;
    } else {
        return cat_err(ps->err, cat->path, ps->header_line,
                       "unknown section type '%s' in [%s] (use key, cert, chain, store, scenario "
                       "or ossl)",
                       type, section);
    }
#undef NEW_ENTITY
    return 0;
}

static int handle_cert(parse_state *ps, ca_cert *c, const char *key, const char *value)
{
    if (strcmp(key, "ext") == 0) {
        const char *colon = strchr(value, ':');
        ca_ext *n;
        if (ps->continuation && c->num_exts > 0 && strcmp(ps->prev_key, "ext") == 0) {
            ca_ext *last = &c->exts[c->num_exts - 1];
            size_t vlen = strlen(last->value);
            const char *sep = ",";
            char *joined;
            if (vlen && last->value[vlen - 1] == '\\') {
                /* "\" at the end of a line: join without a comma (DER hex) */
                last->value[--vlen] = '\0';
                sep = "";
            }
            while (*sep && vlen && (last->value[vlen - 1] == ',' || last->value[vlen - 1] == ' '))
                last->value[--vlen] = '\0';
            while (*sep && (*value == ',' || *value == ' '))
                value++;
            joined = str_printf("%s%s%s", last->value, vlen ? sep : "", value);
            if (!joined)
                return err_set(ps->err, PGTLS_ERR_NOMEM, "out of memory");
            free(last->value);
            last->value = joined;
            return 0;
        }
        if (!colon || colon == value)
            return cat_err(ps->err, ps->cat->path, ps->line,
                           "ext = '%s' needs the form 'NAME: VALUE' (e.g. 'basicConstraints: "
                           "critical,CA:TRUE')",
                           value);
        n = grow(c->exts, &c->num_exts, sizeof(*c->exts));
        if (!n)
            return err_set(ps->err, PGTLS_ERR_NOMEM, "out of memory");
        c->exts = n;
        n = &c->exts[c->num_exts - 1];
        n->name = strndup(value, (size_t)(colon - value));
        colon++;
        while (*colon == ' ')
            colon++;
        n->value = strdup(colon);
        n->line = ps->line;
        if (!n->name || !n->value)
            return err_set(ps->err, PGTLS_ERR_NOMEM, "out of memory");
        for (char *e = n->name + strlen(n->name); e > n->name && e[-1] == ' '; e--)
            e[-1] = '\0';
        return 0;
    }
    if (strcmp(key, "differs") == 0) {
        /* differs = FIELD: reason (a declared difference from the real
         * certificate, see compare.h); "differs = -" declares none */
        /* FIELD may hold a colon itself (ext:NAME): ": " separates */
        const char *colon = strstr(value, ": ");
        ca_kv *n;
        char *joined;
        if (ps->continuation && c->num_differs > 0 && strcmp(ps->prev_key, "differs") == 0) {
            ca_kv *last = &c->differs[c->num_differs - 1];
            joined = str_printf("%s %s", last->value, value);
            if (!joined)
                return err_set(ps->err, PGTLS_ERR_NOMEM, "out of memory");
            free(last->value);
            last->value = joined;
            return 0;
        }
        if (strcmp(value, "-") == 0) {
            c->differs_none = 1;
            return 0;
        }
        if (!colon || colon == value || !colon[2])
            return cat_err(ps->err, ps->cat->path, ps->line,
                           "differs = '%s' needs the form 'FIELD: reason' (e.g. 'notAfter: kept "
                           "valid so the old chain still works', 'ext:subjectAltName: ...')",
                           value);
        n = grow(c->differs, &c->num_differs, sizeof(*c->differs));
        if (!n)
            return err_set(ps->err, PGTLS_ERR_NOMEM, "out of memory");
        c->differs = n;
        n = &c->differs[c->num_differs - 1];
        n->key = strndup(value, (size_t)(colon - value));
        colon++;
        while (*colon == ' ')
            colon++;
        n->value = strdup(colon);
        n->line = ps->line;
        if (!n->key || !n->value)
            return err_set(ps->err, PGTLS_ERR_NOMEM, "out of memory");
        for (char *e = n->key + strlen(n->key); e > n->key && e[-1] == ' '; e--)
            e[-1] = '\0';
        return 0;
    }
#define F(k, field, linef)                                                                         \
    if (strcmp(key, k) == 0)                                                                       \
    return set_once(ps, &c->field, linef, key, value)
    F("key", key_name, &c->key_line);
    F("key_type", key_type, &c->key_type_line);
    F("issuer", issuer_name, &c->issuer_line);
    F("subject", subject, &c->subject_line);
    F("dn_string", dn_string, &c->dn_string_line);
    F("serial", serial, &c->serial_line);
    F("not_before", not_before, &c->not_before_line);
    F("not_after", not_after, &c->not_after_line);
    F("signature", signature, &c->signature_line);
    F("role", role, &c->role_line);
    F("lookalike_of", lookalike_of, NULL);
    F("description", description, NULL);
    F("like", like, &c->like_line);
#undef F
    return unknown_key(ps, key,
                       "key, key_type, issuer, subject, dn_string, serial, not_before, not_after, "
                       "signature, role, lookalike_of, differs, description, like, ext");
}

static int handle_scenario(parse_state *ps, ca_scenario *sc, const char *key, const char *value)
{
    int dummy = 0;
    if (strncmp(key, "server.", 7) == 0) {
        if (check_server_field(ps, key + 7, value) < 0)
            return -1;
        return add_kv(ps, &sc->server, &sc->num_server, key + 7, value);
    }
    if (in_list(key, verify_results, sizeof(verify_results) / sizeof(verify_results[0])))
        return add_kv(ps, &sc->verify, &sc->num_verify, key, value);
    if (strcmp(key, "verify") == 0) {
        if (!in_list(value, verify_results, sizeof(verify_results) / sizeof(verify_results[0])))
            return cat_err(ps->err, ps->cat->path, ps->line,
                           "verify = '%s' is not a result (use ok, untrusted, expired, "
                           "not-yet-valid, too-weak or no-file)",
                           value);
        return set_once(ps, &sc->verify_default, &sc->verify_default_line, key, value);
    }
    if (strcmp(key, "host_match") == 0) {
        int b;
        if (sc->host_match >= 0)
            return cat_err(ps->err, ps->cat->path, ps->line,
                           "'host_match' is set twice in [%s] (keep one)", ps->cur_section);
        if (parse_bool(value, &b) < 0)
            return cat_err(ps->err, ps->cat->path, ps->line,
                           "host_match = '%s' is not a boolean (use true or false)", value);
        sc->host_match = b;
        sc->host_match_line = ps->line;
        return 0;
    }
    if (strcmp(key, "description") == 0)
        return set_once(ps, &sc->description, NULL, key, value);
    if (strcmp(key, "like") == 0)
        return set_once(ps, &sc->like, &sc->like_line, key, value);
    if (strcmp(key, "chain") == 0)
        return set_once(ps, &sc->chain, &sc->chain_line, key, value);
    if (strcmp(key, "host") == 0)
        return set_once(ps, &sc->host, &dummy, key, value);
    return unknown_key(ps, key,
                       "description, like, chain, host, host_match, verify, ok, untrusted, "
                       "expired, not-yet-valid, too-weak, no-file, server.*");
}

static int cat_handler(void *user, const char *section, const char *key, const char *value)
{
    parse_state *ps = user;
    ca_catalogue *cat = ps->cat;
    int rc = 0;

    if (ps->failed)
        return 0;
    if (!ps->cur_section || strcmp(ps->cur_section, section) != 0) {
        if (!*section) {
            rc = cat_err(ps->err, cat->path, ps->line,
                         "'%s' appears before any section (put it under [catalogue])", key);
            goto done;
        }
        if (begin_section(ps, section) < 0) {
            rc = -1;
            goto done;
        }
    }
    switch (ps->cur_type) {
    case SEC_CATALOGUE:
        if (strcmp(key, "name") == 0)
            rc = set_once(ps, &cat->name, NULL, key, value);
        else if (strcmp(key, "default_host") == 0)
            rc = set_once(ps, &cat->default_host, NULL, key, value);
        else if (strcmp(key, "description") == 0)
            rc = 0;
        else if (strncmp(key, "server.", 7) == 0)
            rc = check_server_field(ps, key + 7, value) < 0
                     ? -1
                     : add_kv(ps, &cat->server_defaults, &cat->num_server_defaults, key + 7, value);
        else
            rc = unknown_key(ps, key, "name, default_host, description, server.*");
        break;
    case SEC_KEY: {
        ca_key *k = ps->cur;
        if (strcmp(key, "type") == 0) {
            rc = set_once(ps, &k->type, NULL, key, value);
            if (rc == 0 && !ca_key_type_valid(value))
                rc = cat_err(ps->err, cat->path, ps->line,
                             "key type '%s' is not supported (use RSA-1024, RSA-2048, RSA-3072, "
                             "RSA-4096, RSA-PSS-2048, EC-P256 or EC-P384)",
                             value);
        } else if (strcmp(key, "description") == 0) {
            rc = 0;
        } else {
            rc = unknown_key(ps, key, "type, description");
        }
        break;
    }
    case SEC_CERT:
        rc = handle_cert(ps, ps->cur, key, value);
        break;
    case SEC_CHAIN: {
        ca_chain *ch = ps->cur;
        if (strcmp(key, "certs") == 0)
            rc = set_list(ps, &ch->certs, &ch->num_certs, &ch->certs_line, value);
        else if (strcmp(key, "description") == 0)
            rc = set_once(ps, &ch->description, NULL, key, value);
        else
            rc = unknown_key(ps, key, "certs, description");
        break;
    }
    case SEC_STORE: {
        ca_store *st = ps->cur;
        if (strcmp(key, "certs") == 0)
            rc = set_list(ps, &st->certs, &st->num_certs, &st->certs_line, value);
        else if (strcmp(key, "kind") == 0) {
            rc = set_once(ps, &st->kind, &st->kind_line, key, value);
            if (rc == 0 && !in_list(value, store_kinds, sizeof(store_kinds) / sizeof(*store_kinds)))
                rc = cat_err(ps->err, cat->path, ps->line,
                             "store kind '%s' is unknown (use roots, bundle, pinned-intermediate, "
                             "pinned-leaf, wrong-root, empty, missing or system)",
                             value);
        } else if (strcmp(key, "description") == 0)
            rc = set_once(ps, &st->description, NULL, key, value);
        else
            rc = unknown_key(ps, key, "kind, certs, description");
        break;
    }
    case SEC_SCENARIO:
        rc = handle_scenario(ps, ps->cur, key, value);
        break;
    case SEC_OSSL: {
        char *piece;
        if (ps->continuation) {
            rc = cat_err(ps->err, cat->path, ps->line,
                         "[ossl ...] sections take no continuation lines (un-indent the line)");
            break;
        }
        piece = str_printf("%s%s = %s\n", ps->ossl_text, key, value);
        if (!piece) {
            rc = err_set(ps->err, PGTLS_ERR_NOMEM, "out of memory");
            break;
        }
        free(ps->ossl_text);
        ps->ossl_text = piece;
        break;
    }
    default:
        rc = err_set(ps->err, PGTLS_ERR_INTERNAL, "catalogue parser in an unknown state");
    }
done:
    free(ps->prev_key);
    ps->prev_key = strdup(key);
    if (rc < 0) {
        ps->failed = 1;
        return 0; /* we stop through the reader; inih's own error is a syntax error */
    }
    return 1;
}

static ca_key *find_key(const ca_catalogue *cat, const char *name)
{
    for (size_t i = 0; i < cat->num_keys; i++)
        if (strcmp(cat->keys[i].name, name) == 0)
            return &cat->keys[i];
    return NULL;
}

ca_cert *ca_catalogue_cert(const ca_catalogue *cat, const char *name)
{
    for (size_t i = 0; i < cat->num_certs; i++)
        if (strcmp(cat->certs[i].name, name) == 0)
            return &cat->certs[i];
    return NULL;
}

ca_store *ca_catalogue_store(const ca_catalogue *cat, const char *name)
{
    for (size_t i = 0; i < cat->num_stores; i++)
        if (strcmp(cat->stores[i].name, name) == 0)
            return &cat->stores[i];
    return NULL;
}

ca_chain *ca_catalogue_chain(const ca_catalogue *cat, const char *name)
{
    for (size_t i = 0; i < cat->num_chains; i++)
        if (strcmp(cat->chains[i].name, name) == 0)
            return &cat->chains[i];
    return NULL;
}

ca_scenario *ca_catalogue_scenario(const ca_catalogue *cat, const char *name)
{
    for (size_t i = 0; i < cat->num_scenarios; i++)
        if (strcmp(cat->scenarios[i].name, name) == 0)
            return &cat->scenarios[i];
    return NULL;
}

/* basicConstraints facts read from the catalogue text, for the pathlen check. */
static void ca_facts(const ca_cert *c, int *is_ca, int *pathlen)
{
    *is_ca = 0;
    *pathlen = -1;
    for (size_t i = 0; i < c->num_exts; i++) {
        const char *p;
        const char *der;
        if (strcmp(c->exts[i].name, "basicConstraints") != 0)
            continue;
        der = strstr(c->exts[i].value, "DER:");
        if (der) {
            /* raw DER (e.g. from `pgtls ca clone`): decode it */
            long len = 0;
            unsigned char *buf = OPENSSL_hexstr2buf(der + 4, &len);
            const unsigned char *q = buf;
            BASIC_CONSTRAINTS *bc = buf ? d2i_BASIC_CONSTRAINTS(NULL, &q, len) : NULL;
            ERR_clear_error();
            if (bc) {
                *is_ca = bc->ca != 0;
                if (bc->pathlen)
                    *pathlen = (int)ASN1_INTEGER_get(bc->pathlen);
            }
            BASIC_CONSTRAINTS_free(bc);
            OPENSSL_free(buf);
            continue;
        }
        if (strstr(c->exts[i].value, "CA:TRUE") || strstr(c->exts[i].value, "CA:true"))
            *is_ca = 1;
        p = strstr(c->exts[i].value, "pathlen:");
        if (p)
            *pathlen = atoi(p + 8);
    }
}

static int validate_cert(ca_catalogue *cat, ca_cert *c, pgtls_err *err)
{
    const char *path = cat->path;
    pgtls_err sub;

    if (!c->subject)
        return cat_err(err, path, c->line,
                       "certificate '%s' has no subject (add subject = C=.., CN=..)", c->name);
    if (!c->issuer_name)
        return cat_err(err, path, c->line,
                       "certificate '%s' has no issuer (add issuer = self or issuer = CERT)",
                       c->name);
    if (c->dn_string && strcmp(c->dn_string, "printable") != 0 &&
        strcmp(c->dn_string, "utf8") != 0 && strcmp(c->dn_string, "auto") != 0)
        return cat_err(err, path, c->dn_string_line,
                       "dn_string = '%s' is unknown (use printable, utf8 or auto)", c->dn_string);
    err_clear(&sub);
    c->subject_dn = ca_dn_parse(c->subject, c->dn_string ? c->dn_string : "auto", &sub);
    if (!c->subject_dn)
        return cat_err(err, path, c->subject_line, "invalid subject DN of '%s': %s", c->name,
                       sub.msg);
    if (strcmp(c->issuer_name, "self") == 0) {
        c->issuer = c;
    } else {
        c->issuer = ca_catalogue_cert(cat, c->issuer_name);
        if (!c->issuer)
            return cat_err(err, path, c->issuer_line,
                           "issuer '%s' of '%s' is not defined (add a [cert %s] section or fix "
                           "the name)",
                           c->issuer_name, c->name, c->issuer_name);
    }
    if (ca_when_parse(c->not_before ? c->not_before : "-1d", &c->nb) < 0)
        return cat_err(err, path, c->not_before_line,
                       "bad date '%s' (use YYYY-MM-DDTHH:MM:SSZ, now, or -30d/+335d/+12h/-10s)",
                       c->not_before);
    if (ca_when_parse(c->not_after ? c->not_after : "+365d", &c->na) < 0)
        return cat_err(err, path, c->not_after_line,
                       "bad date '%s' (use YYYY-MM-DDTHH:MM:SSZ, now, or -30d/+335d/+12h/-10s)",
                       c->not_after);
    if (!c->nb.relative && !c->na.relative && c->na.value < c->nb.value)
        return cat_err(err, path, c->not_after_line,
                       "not_after of '%s' is before its not_before (swap them)", c->name);
    if (c->signature && !ca_signature_valid(c->signature))
        return cat_err(err, path, c->signature_line,
                       "signature '%s' is unknown (use sha1WithRSAEncryption, "
                       "sha256WithRSAEncryption, sha384WithRSAEncryption, "
                       "sha512WithRSAEncryption, rsassaPss-sha256, ecdsa-with-SHA256 or "
                       "ecdsa-with-SHA384)",
                       c->signature);
    if (c->role && strcmp(c->role, "root") != 0 && strcmp(c->role, "intermediate") != 0 &&
        strcmp(c->role, "cross") != 0 && strcmp(c->role, "leaf") != 0)
        return cat_err(err, path, c->role_line,
                       "role '%s' is unknown (use root, intermediate, cross or leaf)", c->role);
    if (c->serial) {
        size_t n = strlen(c->serial);
        if (n == 0 || n > 40)
            return cat_err(err, path, c->serial_line, "serial '%s' must be 1 to 40 hex digits",
                           c->serial);
        for (size_t i = 0; i < n; i++)
            if (!isxdigit((unsigned char)c->serial[i]))
                return cat_err(err, path, c->serial_line,
                               "serial '%s' must be hex digits only (no colons)", c->serial);
    }
    return 0;
}

static int copy_str(char **dst, int *dst_line, const char *src, int src_line)
{
    if (*dst || !src)
        return 0;
    *dst = strdup(src);
    if (dst_line)
        *dst_line = src_line;
    return *dst ? 0 : -1;
}

/* `like = BASE`: unset fields come from BASE (except serial, key, lookalike_of
 * and description, which identify a certificate); BASE's extensions are
 * copied in order, then each of ours replaces the same-named one in place
 * ("NAME: -" removes it) or is appended. */
static int resolve_cert_like(ca_catalogue *cat, ca_cert *c, pgtls_err *err)
{
    ca_cert *base;
    ca_ext *merged = NULL;
    size_t num_merged = 0;

    if (!c->like || c->like_state == 2)
        return 0;
    if (c->like_state == 1)
        return cat_err(err, cat->path, c->like_line, "'like' cycle through certificate '%s'",
                       c->name);
    base = ca_catalogue_cert(cat, c->like);
    if (!base)
        return cat_err(err, cat->path, c->like_line,
                       "certificate '%s' is like '%s', which is not defined (fix the name)",
                       c->name, c->like);
    c->like_state = 1;
    if (resolve_cert_like(cat, base, err) < 0)
        return -1;
    if (copy_str(&c->key_type, &c->key_type_line, base->key_type, base->key_type_line) < 0 ||
        copy_str(&c->issuer_name, &c->issuer_line, base->issuer_name, base->issuer_line) < 0 ||
        copy_str(&c->subject, &c->subject_line, base->subject, base->subject_line) < 0 ||
        copy_str(&c->dn_string, &c->dn_string_line, base->dn_string, base->dn_string_line) < 0 ||
        copy_str(&c->not_before, &c->not_before_line, base->not_before, base->not_before_line) <
            0 ||
        copy_str(&c->not_after, &c->not_after_line, base->not_after, base->not_after_line) < 0 ||
        copy_str(&c->signature, &c->signature_line, base->signature, base->signature_line) < 0 ||
        copy_str(&c->role, &c->role_line, base->role, base->role_line) < 0)
        return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    if (!c->key_type && !c->key_name) {
        ca_key *bk = NULL;
        const char *bname = base->key_name ? base->key_name : base->name;
        for (size_t i = 0; i < cat->num_keys; i++)
            if (strcmp(cat->keys[i].name, bname) == 0)
                bk = &cat->keys[i];
        if (bk && bk->type && copy_str(&c->key_type, &c->key_type_line, bk->type, c->like_line) < 0)
            return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    }
    if (!c->num_differs && !c->differs_none) {
        /* declared differences come with the copied fields */
        for (size_t i = 0; i < base->num_differs; i++) {
            ca_kv *n = grow(c->differs, &c->num_differs, sizeof(*c->differs));
            if (!n)
                return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
            c->differs = n;
            n[c->num_differs - 1].key = strdup(base->differs[i].key);
            n[c->num_differs - 1].value = strdup(base->differs[i].value);
            n[c->num_differs - 1].line = base->differs[i].line;
            if (!n[c->num_differs - 1].key || !n[c->num_differs - 1].value)
                return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < base->num_exts; i++) {
        ca_ext *n = grow(merged, &num_merged, sizeof(*merged));
        if (!n)
            return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        merged = n;
        n[num_merged - 1].name = strdup(base->exts[i].name);
        n[num_merged - 1].value = strdup(base->exts[i].value);
        n[num_merged - 1].line = base->exts[i].line;
    }
    for (size_t i = 0; i < c->num_exts; i++) {
        size_t j;
        for (j = 0; j < num_merged; j++)
            if (strcmp(merged[j].name, c->exts[i].name) == 0)
                break;
        if (j == num_merged) {
            ca_ext *n = grow(merged, &num_merged, sizeof(*merged));
            if (!n)
                return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
            merged = n;
        } else {
            free(merged[j].name);
            free(merged[j].value);
        }
        merged[j] = c->exts[i]; /* ownership moves to merged */
    }
    free(c->exts);
    /* drop removals ("NAME: -") */
    c->num_exts = 0;
    for (size_t i = 0; i < num_merged; i++) {
        if (strcmp(merged[i].value, "-") == 0) {
            free(merged[i].name);
            free(merged[i].value);
            continue;
        }
        merged[c->num_exts++] = merged[i];
    }
    c->exts = merged;
    c->like_state = 2;
    return 0;
}

static int resolve_keys(ca_catalogue *cat, pgtls_err *err)
{
    /* First the implicit keys (key_type on a cert), then every reference:
     * pointers into cat->keys are taken only once the array stops growing. */
    for (size_t i = 0; i < cat->num_certs; i++) {
        ca_cert *c = &cat->certs[i];
        ca_key *k;
        if (!c->key_name) {
            c->key_name = strdup(c->name);
            if (!c->key_name)
                return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        }
        if (!c->key_type)
            continue;
        if (!ca_key_type_valid(c->key_type))
            return cat_err(err, cat->path, c->key_type_line,
                           "key type '%s' is not supported (use RSA-1024, RSA-2048, RSA-3072, "
                           "RSA-4096, RSA-PSS-2048, EC-P256 or EC-P384)",
                           c->key_type);
        k = find_key(cat, c->key_name);
        if (k) {
            if (strcmp(k->type, c->key_type) != 0)
                return cat_err(err, cat->path, c->key_type_line,
                               "key '%s' is declared as %s here and as %s on line %d (make them "
                               "agree)",
                               c->key_name, c->key_type, k->type, k->line);
            continue;
        }
        k = grow(cat->keys, &cat->num_keys, sizeof(*cat->keys));
        if (!k)
            return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        cat->keys = k;
        k = &cat->keys[cat->num_keys - 1];
        k->name = strdup(c->key_name);
        k->type = strdup(c->key_type);
        k->line = c->key_type_line;
        if (!k->name || !k->type)
            return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < cat->num_keys; i++)
        if (!cat->keys[i].type)
            return cat_err(err, cat->path, cat->keys[i].line,
                           "key '%s' has no type (add type = RSA-2048, EC-P256, ...)",
                           cat->keys[i].name);
    for (size_t i = 0; i < cat->num_certs; i++) {
        ca_cert *c = &cat->certs[i];
        c->key = find_key(cat, c->key_name);
        if (!c->key)
            return cat_err(err, cat->path, c->key_line ? c->key_line : c->line,
                           "key '%s' of certificate '%s' is not defined (add key_type = RSA-2048 "
                           "to the certificate or a [key %s] section)",
                           c->key_name, c->name, c->key_name);
    }
    return 0;
}

static int check_issuer_graph(ca_catalogue *cat, pgtls_err *err)
{
    for (size_t i = 0; i < cat->num_certs; i++) {
        ca_cert *c = &cat->certs[i], *cur = c;
        size_t steps = 0;
        int is_ca, pathlen, below;

        /* Cycle: walking up must reach a self-signed certificate. */
        while (cur->issuer != cur) {
            cur = cur->issuer;
            if (++steps > cat->num_certs)
                return cat_err(err, cat->path, c->issuer_line,
                               "issuer cycle through '%s' (one certificate on the cycle must be "
                               "issuer = self)",
                               c->name);
        }
        /* pathlen (RFC 5280 4.2.1.9): the CAs below an issuer may not
         * outnumber its pathLenConstraint. */
        ca_facts(c, &is_ca, &pathlen);
        below = is_ca && c->issuer != c ? 1 : 0;
        cur = c;
        while (cur->issuer != cur) {
            ca_cert *up = cur->issuer;
            int up_ca, up_pathlen;
            ca_facts(up, &up_ca, &up_pathlen);
            if (!up_ca)
                return cat_err(err, cat->path, cur->issuer_line,
                               "issuer '%s' of '%s' is not a CA (give it ext = basicConstraints: "
                               "critical,CA:TRUE)",
                               up->name, cur->name);
            if (up_pathlen >= 0 && below > up_pathlen)
                return cat_err(err, cat->path, cur->issuer_line,
                               "pathlen contradiction: '%s' has pathlen:%d but %d CA "
                               "certificate(s) below it lead to '%s' (raise its pathlen or "
                               "reissue '%s' from a higher CA)",
                               up->name, up_pathlen, below, c->name, cur->name);
            if (up->issuer != up)
                below++;
            cur = up;
        }
    }
    return 0;
}

static int resolve_members(ca_catalogue *cat, pgtls_err *err)
{
    for (size_t i = 0; i < cat->num_chains; i++) {
        ca_chain *ch = &cat->chains[i];
        if (ch->num_certs == 0)
            return cat_err(err, cat->path, ch->line,
                           "chain '%s' lists no certificates (add certs = LEAF, ICA, ...)",
                           ch->name);
        ch->resolved = calloc(ch->num_certs, sizeof(*ch->resolved));
        if (!ch->resolved)
            return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        for (size_t j = 0; j < ch->num_certs; j++) {
            ch->resolved[j] = ca_catalogue_cert(cat, ch->certs[j]);
            if (!ch->resolved[j])
                return cat_err(err, cat->path, ch->certs_line,
                               "chain '%s' names certificate '%s', which is not defined (add "
                               "[cert %s] or fix the name)",
                               ch->name, ch->certs[j], ch->certs[j]);
        }
    }
    for (size_t i = 0; i < cat->num_stores; i++) {
        ca_store *st = &cat->stores[i];
        int no_certs;
        if (!st->kind)
            return cat_err(err, cat->path, st->line,
                           "store '%s' has no kind (add kind = roots, bundle, ...)", st->name);
        no_certs = strcmp(st->kind, "empty") == 0 || strcmp(st->kind, "missing") == 0;
        if (no_certs && st->num_certs)
            return cat_err(err, cat->path, st->certs_line,
                           "store '%s' of kind %s cannot hold certificates (remove certs)",
                           st->name, st->kind);
        if (!no_certs && !st->num_certs)
            return cat_err(err, cat->path, st->line,
                           "store '%s' of kind %s lists no certificates (add certs = ...)",
                           st->name, st->kind);
        st->resolved = calloc(st->num_certs + 1, sizeof(*st->resolved));
        if (!st->resolved)
            return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        for (size_t j = 0; j < st->num_certs; j++) {
            st->resolved[j] = ca_catalogue_cert(cat, st->certs[j]);
            if (!st->resolved[j])
                return cat_err(err, cat->path, st->certs_line,
                               "store '%s' names certificate '%s', which is not defined (add "
                               "[cert %s] or fix the name)",
                               st->name, st->certs[j], st->certs[j]);
        }
    }
    return 0;
}

/* Applies `like` (copy what the scenario does not set) recursively. */
static int resolve_like(ca_catalogue *cat, ca_scenario *sc, int depth, pgtls_err *err)
{
    ca_scenario *base;
    if (sc->resolved || !sc->like)
        return 0;
    if (depth > (int)cat->num_scenarios)
        return cat_err(err, cat->path, sc->like_line, "'like' cycle through scenario '%s'",
                       sc->name);
    base = ca_catalogue_scenario(cat, sc->like);
    if (!base)
        return cat_err(err, cat->path, sc->like_line,
                       "scenario '%s' is like '%s', which is not defined (fix the name)", sc->name,
                       sc->like);
    if (resolve_like(cat, base, depth + 1, err) < 0)
        return -1;
    if (!sc->chain && base->chain) {
        sc->chain = strdup(base->chain);
        sc->chain_line = base->chain_line;
    }
    if (!sc->host && base->host)
        sc->host = strdup(base->host);
    if (sc->host_match < 0)
        sc->host_match = base->host_match;
    if (!sc->verify_default && base->verify_default)
        sc->verify_default = strdup(base->verify_default);
    if (sc->num_verify == 0)
        for (size_t i = 0; i < base->num_verify; i++) {
            ca_kv *n = grow(sc->verify, &sc->num_verify, sizeof(*sc->verify));
            if (!n)
                return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
            sc->verify = n;
            n[sc->num_verify - 1].key = strdup(base->verify[i].key);
            n[sc->num_verify - 1].value = strdup(base->verify[i].value);
            n[sc->num_verify - 1].line = base->verify[i].line;
        }
    for (size_t i = 0; i < base->num_server; i++) {
        int have = 0;
        for (size_t j = 0; j < sc->num_server; j++)
            if (strcmp(sc->server[j].key, base->server[i].key) == 0)
                have = 1;
        if (have)
            continue;
        ca_kv *n = grow(sc->server, &sc->num_server, sizeof(*sc->server));
        if (!n)
            return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        sc->server = n;
        n[sc->num_server - 1].key = strdup(base->server[i].key);
        n[sc->num_server - 1].value = strdup(base->server[i].value);
        n[sc->num_server - 1].line = base->server[i].line;
    }
    sc->resolved = 1;
    return 0;
}

static int validate_scenarios(ca_catalogue *cat, pgtls_err *err)
{
    for (size_t i = 0; i < cat->num_scenarios; i++)
        if (resolve_like(cat, &cat->scenarios[i], 0, err) < 0)
            return -1;
    for (size_t i = 0; i < cat->num_scenarios; i++) {
        ca_scenario *sc = &cat->scenarios[i];
        const char *ssl = ca_scenario_server(cat, sc, "ssl");
        if (!sc->chain)
            return cat_err(err, cat->path, sc->line,
                           "scenario '%s' has no chain (add chain = NAME, or chain = none with "
                           "server.ssl = false)",
                           sc->name);
        if (strcmp(sc->chain, "none") != 0 && !ca_catalogue_chain(cat, sc->chain)) {
            return cat_err(err, cat->path, sc->chain_line,
                           "scenario '%s' names chain '%s', which is not defined (add [chain "
                           "%s] or fix the name)",
                           sc->name, sc->chain, sc->chain);
        }
        if (strcmp(sc->chain, "none") == 0) {
            int b = 1;
            parse_bool(ssl ? ssl : "true", &b);
            if (b)
                return cat_err(err, cat->path, sc->chain_line,
                               "scenario '%s' has chain = none but server.ssl is true (set "
                               "server.ssl = false)",
                               sc->name);
        }
        for (size_t j = 0; j < sc->num_verify; j++) {
            char **names = NULL;
            size_t n = 0;
            int bad = -1;
            if (split_list(sc->verify[j].value, &names, &n) < 0)
                return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
            for (size_t k = 0; k < n; k++)
                if (bad < 0 && !ca_catalogue_store(cat, names[k]))
                    bad = (int)k;
            if (bad >= 0)
                cat_err(err, cat->path, sc->verify[j].line,
                        "scenario '%s' declares %s for store '%s', which is not defined (add "
                        "[store %s] or fix the name)",
                        sc->name, sc->verify[j].key, names[bad], names[bad]);
            for (size_t k = 0; k < n; k++)
                free(names[k]);
            free(names);
            if (bad >= 0)
                return -1;
        }
    }
    return 0;
}

const char *ca_scenario_server(const ca_catalogue *cat, const ca_scenario *sc, const char *field)
{
    for (size_t i = 0; i < sc->num_server; i++)
        if (strcmp(sc->server[i].key, field) == 0)
            return sc->server[i].value;
    for (size_t i = 0; i < cat->num_server_defaults; i++)
        if (strcmp(cat->server_defaults[i].key, field) == 0)
            return cat->server_defaults[i].value;
    for (size_t i = 0; i < sizeof(server_builtin_defaults) / sizeof(*server_builtin_defaults); i++)
        if (strcmp(server_builtin_defaults[i].key, field) == 0) {
            if (strcmp(field, "ssl") == 0 && sc->chain && strcmp(sc->chain, "none") == 0)
                return "false";
            return server_builtin_defaults[i].value;
        }
    return NULL;
}

const char *ca_scenario_verify(const ca_catalogue *cat, const ca_scenario *sc, const ca_store *st)
{
    (void)cat;
    if (strcmp(st->kind, "empty") == 0 || strcmp(st->kind, "missing") == 0)
        return "no-file";
    for (size_t j = 0; j < sc->num_verify; j++) {
        const char *v = sc->verify[j].value;
        size_t n = strlen(st->name);
        /* membership in the comma-separated list */
        for (const char *p = strstr(v, st->name); p; p = strstr(p + 1, st->name)) {
            int start_ok = p == v || p[-1] == ',' || p[-1] == ' ';
            int end_ok = p[n] == '\0' || p[n] == ',' || p[n] == ' ';
            if (start_ok && end_ok)
                return sc->verify[j].key;
        }
    }
    return sc->verify_default ? sc->verify_default : "untrusted";
}

ca_catalogue *ca_catalogue_parse(const char *path, const char *text, size_t len, pgtls_err *err)
{
    ca_catalogue *cat = calloc(1, sizeof(*cat));
    parse_state ps;
    int rc, ok = 0;

    memset(&ps, 0, sizeof(ps));
    ENSURE(cat, err, PGTLS_ERR_NOMEM, "out of memory");
    cat->path = strdup(path);
    ENSURE(cat->path, err, PGTLS_ERR_NOMEM, "out of memory");
    EVP_Digest(text, len, cat->sha256, NULL, EVP_sha256(), NULL);
    ps.cat = cat;
    ps.err = err;
    ps.text = text;
    ps.len = len;
    ps.ossl_text = strdup("");
    ENSURE(ps.ossl_text, err, PGTLS_ERR_NOMEM, "out of memory");
    rc = ini_parse_stream(cat_reader, &ps, cat_handler, &ps);
    if (ps.failed)
        goto out;
    ENSURE(rc == 0, err, PGTLS_ERR_CONFIG,
           "%s:%d: syntax error (expected [section], 'key = value' or a ; comment)", path, rc);

    if (!cat->name) {
        /* The key cache folder is named after the catalogue: default to the
         * file name without its extension. */
        const char *base = strrchr(path, '/');
        char *dot;
        cat->name = strdup(base ? base + 1 : path);
        ENSURE(cat->name, err, PGTLS_ERR_NOMEM, "out of memory");
        dot = strrchr(cat->name, '.');
        if (dot && dot != cat->name)
            *dot = '\0';
    }
    if (!cat->default_host)
        cat->default_host = strdup("localhost");
    for (size_t i = 0; i < cat->num_certs; i++)
        TRY(resolve_cert_like(cat, &cat->certs[i], err));
    for (size_t i = 0; i < cat->num_certs; i++)
        TRY(validate_cert(cat, &cat->certs[i], err));
    TRY(resolve_keys(cat, err));
    TRY(check_issuer_graph(cat, err));
    TRY(resolve_members(cat, err));
    TRY(validate_scenarios(cat, err));
    if (ps.ossl_text[0]) {
        BIO *bio = BIO_new_mem_buf(ps.ossl_text, -1);
        long eline = -1;
        cat->ossl_conf = NCONF_new(NULL);
        ENSURE(bio && cat->ossl_conf, err, PGTLS_ERR_NOMEM, "out of memory");
        if (NCONF_load_bio(cat->ossl_conf, bio, &eline) <= 0) {
            BIO_free(bio);
            err_ossl(err,
                     "%s: the [ossl ...] sections do not form a valid OpenSSL config (line %ld of "
                     "their concatenation)",
                     path, eline);
            goto out;
        }
        BIO_free(bio);
    }
    cat->ossl_conf_text = ps.ossl_text;
    ps.ossl_text = NULL;
    ok = 1;
out:
    free(ps.cur_section);
    free(ps.prev_key);
    free(ps.ossl_text);
    if (!ok) {
        ca_catalogue_free(cat);
        return NULL;
    }
    return cat;
}

ca_catalogue *ca_catalogue_load(const char *path, pgtls_err *err)
{
    char *text = NULL;
    size_t len = 0;
    ca_catalogue *cat;
    if (fs_read_file(path, 4 << 20, &text, &len, err) < 0) {
        err_prefix(err, "cannot read the catalogue (pass --catalogue FILE)");
        return NULL;
    }
    cat = ca_catalogue_parse(path, text, len, err);
    free(text);
    return cat;
}

static void free_kvs(ca_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static void free_strs(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

void ca_catalogue_free(ca_catalogue *cat)
{
    if (!cat)
        return;
    for (size_t i = 0; i < cat->num_keys; i++) {
        free(cat->keys[i].name);
        free(cat->keys[i].type);
        free(cat->keys[i].cache_path);
        EVP_PKEY_free(cat->keys[i].pkey);
    }
    free(cat->keys);
    for (size_t i = 0; i < cat->num_certs; i++) {
        ca_cert *c = &cat->certs[i];
        free(c->name);
        free(c->key_name);
        free(c->key_type);
        free(c->issuer_name);
        free(c->subject);
        free(c->dn_string);
        X509_NAME_free(c->subject_dn);
        free(c->serial);
        free(c->not_before);
        free(c->not_after);
        free(c->signature);
        free(c->role);
        free(c->lookalike_of);
        free(c->description);
        free(c->like);
        for (size_t j = 0; j < c->num_differs; j++) {
            free(c->differs[j].key);
            free(c->differs[j].value);
        }
        free(c->differs);
        for (size_t j = 0; j < c->num_exts; j++) {
            free(c->exts[j].name);
            free(c->exts[j].value);
        }
        free(c->exts);
        X509_free(c->x509);
    }
    free(cat->certs);
    for (size_t i = 0; i < cat->num_chains; i++) {
        free(cat->chains[i].name);
        free_strs(cat->chains[i].certs, cat->chains[i].num_certs);
        free(cat->chains[i].resolved);
        free(cat->chains[i].description);
    }
    free(cat->chains);
    for (size_t i = 0; i < cat->num_stores; i++) {
        free(cat->stores[i].name);
        free(cat->stores[i].kind);
        free_strs(cat->stores[i].certs, cat->stores[i].num_certs);
        free(cat->stores[i].resolved);
        free(cat->stores[i].description);
    }
    free(cat->stores);
    for (size_t i = 0; i < cat->num_scenarios; i++) {
        ca_scenario *sc = &cat->scenarios[i];
        free(sc->name);
        free(sc->description);
        free(sc->like);
        free(sc->chain);
        free(sc->host);
        free(sc->verify_default);
        free_kvs(sc->verify, sc->num_verify);
        free_kvs(sc->server, sc->num_server);
    }
    free(cat->scenarios);
    free_kvs(cat->server_defaults, cat->num_server_defaults);
    free(cat->ossl_conf_text);
    NCONF_free(cat->ossl_conf);
    free(cat->path);
    free(cat->name);
    free(cat->default_host);
    free(cat);
}
