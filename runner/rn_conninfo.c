/* pgtls runner: a customer's connection string, in any of the forms support
 * receives, reduced to what decides TLS: host, port, sslmode, sslrootcert.
 *
 * - libpq keyword/value ("host=... sslmode=verify-full sslrootcert=..."):
 *   libpq's rules (fe-connect.c conninfo_parse): values may be single-quoted
 *   with backslash escapes; an unknown keyword is an error, as in libpq.
 * - URLs (postgres:// and postgresql://, libpq's conninfo_uri_parse):
 *   percent-decoded query parameters. A URL with node-postgres' own
 *   parameters (ssl=, sslmode=no-verify, uselibpqcompat=) is read with
 *   pg-connection-string's rules: without uselibpqcompat=true, sslmode
 *   prefer/require/verify-ca all verify like verify-full.
 * - JDBC (jdbc:postgresql://host:port/db?...): pgjdbc's rules: ssl=true
 *   without sslmode means verify-full; NonValidatingFactory means no
 *   verification (require).
 * - node-postgres config object as JSON ({"host": ..., "ssl": {"ca": FILE,
 *   "rejectUnauthorized": ...}}): ssl absent/false is no TLS; ssl true or an
 *   object verifies like verify-full (against "ca" or the system roots);
 *   rejectUnauthorized false is require. */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "rn_conninfo.h"

/* libpq 17's keywords (fe-connect.c PQconninfoOptions). */
static const char *const libpq_keywords[] = {
    "service", "user", "password", "passfile", "channel_binding", "connect_timeout", "dbname",
    "host", "hostaddr", "port", "client_encoding", "options", "application_name",
    "fallback_application_name", "keepalives", "keepalives_idle", "keepalives_interval",
    "keepalives_count", "tcp_user_timeout", "sslmode", "sslnegotiation", "sslcompression",
    "sslcert", "sslkey", "sslcertmode", "sslpassword", "sslrootcert", "sslcrl", "sslcrldir",
    "sslsni", "requirepeer", "require_auth", "ssl_min_protocol_version",
    "ssl_max_protocol_version", "gssencmode", "krbsrvname", "gsslib", "gssdelegation",
    "replication", "target_session_attrs", "load_balance_hosts", "requiressl", NULL};

static const char *const sslmodes[] = {"disable", "allow",     "prefer",
                                       "require", "verify-ca", "verify-full", NULL};

static int in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

static void set(char **slot, const char *v, size_t len)
{
    free(*slot);
    *slot = strndup(v, len);
}

static int set_param(rn_conninfo *c, const char *key, const char *value, int strict,
                     pgtls_err *err)
{
    if (strict && !in_list(libpq_keywords, key))
        return err_set(err, PGTLS_ERR_INPUT,
                       "conninfo: invalid connection option \"%s\" (libpq would refuse it too: "
                       "check the spelling)",
                       key);
    if (strcmp(key, "host") == 0)
        set(&c->host, value, strcspn(value, ",")); /* the first of a host list */
    else if (strcmp(key, "port") == 0)
        set(&c->port, value, strcspn(value, ","));
    else if (strcmp(key, "sslmode") == 0)
        set(&c->sslmode, value, strlen(value));
    else if (strcmp(key, "sslrootcert") == 0)
        set(&c->sslrootcert, value, strlen(value));
    else if (strcmp(key, "ssl") == 0)
        set(&c->ssl, value, strlen(value));
    else if (strcmp(key, "sslfactory") == 0)
        set(&c->sslfactory, value, strlen(value));
    else if (strcmp(key, "uselibpqcompat") == 0)
        c->libpqcompat = strcmp(value, "true") == 0 || strcmp(value, "1") == 0;
    return 0;
}

/* keyword = value pairs, libpq's quoting. */
static int parse_kv(const char *s, rn_conninfo *c, pgtls_err *err)
{
    char key[64], *val = NULL;
    while (*s) {
        size_t klen = 0, vlen = 0, vcap = strlen(s) + 1;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        while (*s && *s != '=' && !isspace((unsigned char)*s) && klen + 1 < sizeof(key))
            key[klen++] = *s++;
        key[klen] = '\0';
        while (isspace((unsigned char)*s))
            s++;
        if (*s != '=')
            return err_set(err, PGTLS_ERR_INPUT,
                           "conninfo: missing \"=\" after \"%s\" (write keyword=value pairs, "
                           "or a postgres:// URL)",
                           key);
        s++;
        while (isspace((unsigned char)*s))
            s++;
        val = malloc(vcap);
        if (!val)
            return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        if (*s == '\'') {
            s++;
            while (*s && *s != '\'') {
                if (*s == '\\' && s[1])
                    s++;
                val[vlen++] = *s++;
            }
            if (*s != '\'') {
                free(val);
                return err_set(err, PGTLS_ERR_INPUT,
                               "conninfo: unterminated quoted string after \"%s=\"", key);
            }
            s++;
        } else {
            while (*s && !isspace((unsigned char)*s)) {
                if (*s == '\\' && s[1])
                    s++;
                val[vlen++] = *s++;
            }
        }
        val[vlen] = '\0';
        if (set_param(c, key, val, 1, err) < 0) {
            free(val);
            return -1;
        }
        free(val);
        val = NULL;
    }
    return 0;
}

static int hexval(int ch)
{
    return isdigit(ch) ? ch - '0' : isxdigit(ch) ? (tolower(ch) - 'a' + 10) : -1;
}

static char *pct_decode(const char *s, size_t len, pgtls_err *err)
{
    char *out = malloc(len + 1);
    size_t n = 0;
    if (!out) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            if (i + 2 >= len || hexval((unsigned char)s[i + 1]) < 0 ||
                hexval((unsigned char)s[i + 2]) < 0) {
                free(out);
                err_set(err, PGTLS_ERR_INPUT,
                        "URL: invalid percent-encoded token \"%.3s\" (encode %% as %%25)", s + i);
                return NULL;
            }
            out[n++] = (char)(hexval((unsigned char)s[i + 1]) * 16 +
                              hexval((unsigned char)s[i + 2]));
            i += 2;
        } else {
            out[n++] = s[i];
        }
    }
    out[n] = '\0';
    return out;
}

/* scheme://[user[:password]@]host[:port][/dbname][?k=v&k=v] */
static int parse_url(const char *s, rn_conninfo *c, int jdbc, pgtls_err *err)
{
    const char *p = strstr(s, "://") + 3, *end, *at, *q;
    char *host = NULL;
    int result = -1;

    end = p + strcspn(p, "/?");
    at = memchr(p, '@', (size_t)(end - p));
    if (at)
        p = at + 1;
    if (*p == '[') { /* IPv6 literal */
        const char *rb = memchr(p, ']', (size_t)(end - p));
        ENSURE(rb, err, PGTLS_ERR_INPUT, "URL: missing \"]\" after an IPv6 host");
        host = strndup(p + 1, (size_t)(rb - p - 1));
        p = rb + 1;
    } else {
        size_t hlen = strcspn(p, ":,/?");
        host = pct_decode(p, hlen, err);
        if (!host)
            goto out;
        p += hlen;
    }
    if (*host)
        set(&c->host, host, strlen(host));
    if (*p == ':') {
        size_t plen = strcspn(p + 1, ",/?");
        ENSURE(plen > 0 && strspn(p + 1, "0123456789") == plen, err, PGTLS_ERR_INPUT,
               "URL: invalid port \"%.*s\"", (int)plen, p + 1);
        set(&c->port, p + 1, plen);
    }
    q = strchr(s, '?');
    while (q && *q) {
        const char *kv = q + 1, *amp = kv + strcspn(kv, jdbc ? "&;" : "&"), *eq;
        char *k, *v;
        int rc;
        eq = memchr(kv, '=', (size_t)(amp - kv));
        if (amp == kv) {
            q = *amp ? amp : NULL;
            continue;
        }
        ENSURE(eq, err, PGTLS_ERR_INPUT, "URL: missing \"=\" in parameter \"%.*s\"",
               (int)(amp - kv), kv);
        k = pct_decode(kv, (size_t)(eq - kv), err);
        v = k ? pct_decode(eq + 1, (size_t)(amp - eq - 1), err) : NULL;
        rc = v ? set_param(c, k, v, 0, err) : -1;
        free(k);
        free(v);
        TRY(rc);
        q = *amp ? amp : NULL;
    }
    result = 0;
out:
    free(host);
    return result;
}

static int parse_node_json(const char *s, rn_conninfo *c, pgtls_err *err)
{
    json_error_t jerr;
    json_t *o = json_loads(s, 0, &jerr), *ssl;
    int result = -1;
    ENSURE(json_is_object(o), err, PGTLS_ERR_INPUT,
           "node-postgres config: not a JSON object (%s at column %d); write the Client "
           "options as JSON, with \"ca\" naming the file",
           jerr.text, jerr.column);
    if (json_is_string(json_object_get(o, "connectionString"))) {
        TRY(rn_conninfo_parse(json_string_value(json_object_get(o, "connectionString")), c,
                              err));
    }
    if (json_is_string(json_object_get(o, "host")))
        set(&c->host, json_string_value(json_object_get(o, "host")),
            strlen(json_string_value(json_object_get(o, "host"))));
    if (json_is_integer(json_object_get(o, "port"))) {
        free(c->port);
        c->port = str_printf("%lld", (long long)json_integer_value(json_object_get(o, "port")));
    }
    ssl = json_object_get(o, "ssl");
    free(c->form);
    c->form = strdup("node-postgres config");
    if (!ssl || json_is_false(ssl)) {
        if (!c->sslmode)
            set(&c->sslmode, "disable", 7);
    } else if (json_is_true(ssl)) {
        set(&c->sslmode, "verify-full", 11);
        set(&c->sslrootcert, "system", 6);
        c->note = strdup("node-postgres: ssl: true verifies the server against Node's CA list "
                         "like verify-full");
    } else {
        json_t *ca = json_object_get(ssl, "ca");
        ENSURE(json_is_object(ssl), err, PGTLS_ERR_INPUT,
               "node-postgres config: \"ssl\" must be true, false or an object");
        ENSURE(!ca || json_is_string(ca), err, PGTLS_ERR_INPUT,
               "node-postgres config: \"ca\" must name the CA file (what fs.readFileSync reads)");
        if (json_is_false(json_object_get(ssl, "rejectUnauthorized"))) {
            set(&c->sslmode, "require", 7);
            c->note = strdup("node-postgres: rejectUnauthorized: false encrypts without "
                             "verifying, like require");
        } else {
            set(&c->sslmode, "verify-full", 11);
            c->note = strdup("node-postgres: an ssl object verifies the chain and the host "
                             "name, like verify-full");
        }
        if (ca)
            set(&c->sslrootcert, json_string_value(ca), strlen(json_string_value(ca)));
        else
            set(&c->sslrootcert, "system", 6);
    }
    result = 0;
out:
    json_decref(o);
    return result;
}

int rn_conninfo_parse(const char *s, rn_conninfo *c, pgtls_err *err)
{
    int jdbc = str_starts_with(s, "jdbc:postgresql://");
    int url = str_starts_with(s, "postgres://") || str_starts_with(s, "postgresql://");

    while (isspace((unsigned char)*s))
        s++;
    if (*s == '{')
        return parse_node_json(s, c, err);
    if (!c->form)
        c->form = strdup(jdbc ? "JDBC URL" : url ? "URL" : "keyword/value");
    if (jdbc || url) {
        if (parse_url(s, c, jdbc, err) < 0)
            return -1;
    } else if (strstr(s, "://")) {
        return err_set(err, PGTLS_ERR_INPUT,
                       "conninfo: unknown URL scheme in \"%.40s\" (postgres://, postgresql:// "
                       "or jdbc:postgresql://)",
                       s);
    } else if (parse_kv(s, c, err) < 0) {
        return -1;
    }
    if (jdbc) {
        if (c->sslfactory && strstr(c->sslfactory, "NonValidatingFactory")) {
            set(&c->sslmode, "require", 7);
            c->note = strdup("pgjdbc: NonValidatingFactory encrypts without verifying, like "
                             "require");
        } else if (!c->sslmode && c->ssl && strcmp(c->ssl, "true") == 0) {
            set(&c->sslmode, "verify-full", 11);
            c->note = strdup("pgjdbc: ssl=true without sslmode means verify-full");
        }
    } else if (url && (c->ssl || c->libpqcompat ||
                       (c->sslmode && strcmp(c->sslmode, "no-verify") == 0))) {
        free(c->form);
        c->form = strdup("node-postgres URL");
        if (c->sslmode && strcmp(c->sslmode, "no-verify") == 0) {
            set(&c->sslmode, "require", 7);
            c->note = strdup("node-postgres: sslmode=no-verify encrypts without verifying");
        } else if (!c->libpqcompat && c->sslmode &&
                   (strcmp(c->sslmode, "prefer") == 0 || strcmp(c->sslmode, "require") == 0 ||
                    strcmp(c->sslmode, "verify-ca") == 0)) {
            c->note = str_printf("node-postgres: sslmode=%s verifies like verify-full unless "
                                 "uselibpqcompat=true",
                                 c->sslmode);
            set(&c->sslmode, "verify-full", 11);
        } else if (!c->sslmode && c->ssl &&
                   (strcmp(c->ssl, "true") == 0 || strcmp(c->ssl, "1") == 0)) {
            set(&c->sslmode, "verify-full", 11);
            c->note = strdup("node-postgres: ssl=true verifies like verify-full");
        }
    }
    if (!c->sslmode)
        set(&c->sslmode, "prefer", 6); /* libpq's and pgjdbc's default */
    if (!in_list(sslmodes, c->sslmode))
        return err_set(err, PGTLS_ERR_INPUT,
                       "conninfo: invalid sslmode value \"%s\" (disable, allow, prefer, "
                       "require, verify-ca or verify-full)",
                       c->sslmode);
    if (!c->host)
        return err_set(err, PGTLS_ERR_INPUT,
                       "conninfo: no host (add host=NAME.postgres.database.azure.com)");
    return 0;
}

void rn_conninfo_cleanup(rn_conninfo *c)
{
    if (!c)
        return;
    free(c->form);
    free(c->host);
    free(c->port);
    free(c->sslmode);
    free(c->sslrootcert);
    free(c->ssl);
    free(c->sslfactory);
    free(c->note);
    memset(c, 0, sizeof(*c));
}
