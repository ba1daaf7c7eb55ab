/* pgtls: mock-versus-real comparison of client outcomes (see fd_compare.h). */
#include "fd_compare.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A growable string. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = (b->cap ? b->cap * 2 : 128) + n;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static size_t digits_at(const char *s)
{
    size_t n = 0;
    while (isdigit((unsigned char)s[n]))
        n++;
    return n;
}

/* Characters that may continue an absolute path token. */
static int path_char(char c)
{
    return isalnum((unsigned char)c) || c == '/' || c == '.' || c == '_' || c == '-' || c == '+' ||
           c == '~' || c == '@' || c == '%';
}

/* Case-insensitive "word " prefix at s, preceded by a non-letter. */
static size_t keyword_at(const char *start, const char *s, const char *word)
{
    size_t n = strlen(word);
    if (s > start && isalpha((unsigned char)s[-1]))
        return 0;
    if (strncasecmp(s, word, n) != 0)
        return 0;
    if (s[n] == ' ' || s[n] == '=' || s[n] == ':')
        return n + 1;
    return 0;
}

/* Whether the token ending just before s is a host name, an IPv4 address
 * (holds a letter or a dot) or a bracketed IPv6 address. */
static int host_before(const char *start, const char *s)
{
    const char *p = s;
    int letter = 0, dot = 0;
    if (p > start && p[-1] == ']')
        return 1;
    while (p > start && (isalnum((unsigned char)p[-1]) || p[-1] == '.' || p[-1] == '-')) {
        p--;
        letter |= isalpha((unsigned char)*p) != 0;
        dot |= *p == '.';
    }
    return p < s && (letter || dot);
}

/* Length of an RFC 3339 UTC time "2026-11-24T07:41:58Z" (optional
 * fraction) at s, or 0. */
static size_t iso_time_at(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t i;
    for (i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
            return 0;
    }
    if (s[i] == '.')
        for (i++; isdigit((unsigned char)s[i]); i++)
            ;
    return s[i] == 'Z' ? i + 1 : 0;
}

char *fd_normalise_error(const char *text)
{
    sbuf b = {0};
    const char *s = text;
    if (!text)
        return NULL;
    sb_puts(&b, "");
    while (*s) {
        size_t k, d;
        /* "port 40123", "port=40123", "pid 77", "process 77", "PID: 77" */
        if ((k = keyword_at(text, s, "port")) || (k = keyword_at(text, s, "pid")) ||
            (k = keyword_at(text, s, "process"))) {
            const char *num = s + k;
            char quote = 0;
            while (*num == ' ')
                num++;
            /* conninfo strings quote values: "port='40123'" (pgx echoes them) */
            if (*num == '\'' || *num == '"')
                quote = *num++;
            d = digits_at(num);
            if (d && (!quote || num[d] == quote)) {
                int is_port =
                    tolower((unsigned char)s[0]) == 'p' && tolower((unsigned char)s[1]) == 'o';
                sb_putn(&b, s, (size_t)(num - s));
                sb_puts(&b, is_port ? "<port>" : "<pid>");
                s = num + d;
                continue;
            }
        }
        /* The clock when the client checked ("x509: ... current time
         * 2026-11-24T07:41:58Z is after ..." from Go): per run, like a PID. */
        if (s - text >= 13 && strncmp(s - 13, "current time ", 13) == 0 && iso_time_at(s)) {
            sb_puts(&b, "<time>");
            s += iso_time_at(s);
            continue;
        }
        /* Any other time (a certificate's notAfter) is kept as it is, and its
         * ":59" parts are not ports. */
        if ((s == text || !isalnum((unsigned char)s[-1])) && (d = iso_time_at(s))) {
            sb_putn(&b, s, d);
            s += d;
            continue;
        }
        /* ":40123" after a host name or address (not a time like 12:30:05). */
        if (*s == ':' && (d = digits_at(s + 1)) >= 2 && d <= 5 &&
            !isalnum((unsigned char)s[1 + d]) && host_before(text, s)) {
            sb_puts(&b, ":<port>");
            s += 1 + d;
            continue;
        }
        /* OpenSSL 3 error lines start with the thread id in hex
         * ("806CE37B7F7F0000:error:0A00042E:..."): per process, like a PID. */
        if (isxdigit((unsigned char)*s) && (s == text || !isalnum((unsigned char)s[-1]))) {
            size_t h = 0;
            while (isxdigit((unsigned char)s[h]))
                h++;
            if (h >= 8 && h <= 16 && strncmp(s + h, ":error:", 7) == 0) {
                sb_puts(&b, "<tid>");
                s += h;
                continue;
            }
        }
        /* "[12345]" as in log prefixes. */
        if (*s == '[' && (d = digits_at(s + 1)) && s[1 + d] == ']') {
            sb_puts(&b, "[<pid>]");
            s += 2 + d;
            continue;
        }
        /* An absolute path: starts at a token boundary with '/'. */
        if (*s == '/' && (s == text || strchr(" \t\n\"'(=:,", s[-1])) && path_char(s[1])) {
            const char *e = s + 1;
            while (*e && path_char(*e))
                e++;
            /* Drop a trailing sentence period. */
            if (e > s + 1 && e[-1] == '.')
                e--;
            sb_puts(&b, "<path>");
            s = e;
            continue;
        }
        sb_putn(&b, s, 1);
        s++;
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    while (b.len && isspace((unsigned char)b.p[b.len - 1]))
        b.p[--b.len] = '\0';
    return b.p;
}

static int streq_null(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

int fd_outcomes_differ(const fd_outcome *mock, const fd_outcome *real, const char *query,
                       const char **out_what)
{
    char *me, *re;
    int differ;
    if (!streq_null(mock->cls, real->cls)) {
        *out_what = "class";
        return 1;
    }
    me = fd_normalise_error(mock->error);
    re = fd_normalise_error(real->error);
    differ = !streq_null(me, re);
    free(me);
    free(re);
    if (differ) {
        *out_what = "error";
        return 1;
    }
    /* version() and server_version name the build: the mock reports the
     * scenario's server_version, the real server its own. */
    if (query && (strcasestr(query, "version()") || strcasestr(query, "server_version")))
        return 0;
    if (!streq_null(mock->query_result, real->query_result)) {
        *out_what = "query_result";
        return 1;
    }
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int fd_diff_add(fd_diff_list *l, const char *case_id, const char *client, const char *what,
                const fd_outcome *mock, const fd_outcome *real)
{
    fd_diff *r;
    int q = what && strcmp(what, "query_result") == 0;
    if (l->num_rows == l->cap_rows) {
        size_t ncap = l->cap_rows ? l->cap_rows * 2 : 16;
        fd_diff *nr = realloc(l->rows, ncap * sizeof(*nr));
        if (!nr)
            return -1;
        l->rows = nr;
        l->cap_rows = ncap;
    }
    r = &l->rows[l->num_rows++];
    memset(r, 0, sizeof(*r));
    r->case_id = dup_or_null(case_id);
    r->client = dup_or_null(client);
    r->what = dup_or_null(what);
    r->mock_class = dup_or_null(mock->cls);
    r->real_class = dup_or_null(real->cls);
    r->mock_text = q ? dup_or_null(mock->query_result) : fd_normalise_error(mock->error);
    r->real_text = q ? dup_or_null(real->query_result) : fd_normalise_error(real->error);
    return 0;
}

void fd_diff_list_cleanup(fd_diff_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->num_rows; i++) {
        fd_diff *r = &l->rows[i];
        free(r->case_id);
        free(r->client);
        free(r->what);
        free(r->mock_class);
        free(r->real_class);
        free(r->mock_text);
        free(r->real_text);
    }
    free(l->rows);
    memset(l, 0, sizeof(*l));
}

/* A table cell: newlines become " / ", pipes are escaped. */
static void cell(FILE *out, const char *cls, const char *text)
{
    fprintf(out, " %s", cls ? cls : "?");
    if (text && *text) {
        fputs(": ", out);
        for (const char *p = text; *p; p++) {
            if (*p == '\n')
                fputs(" / ", out);
            else if (*p == '|')
                fputs("\\|", out);
            else
                fputc(*p, out);
        }
    }
    fputs(" |", out);
}

void fd_diff_print(FILE *out, const fd_diff_list *l)
{
    if (!l->num_rows)
        return;
    fprintf(out, "| case | client | differs in | mock | real |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < l->num_rows; i++) {
        const fd_diff *r = &l->rows[i];
        fprintf(out, "| %s | %s | %s |", r->case_id, r->client, r->what);
        cell(out, r->mock_class, r->mock_text);
        cell(out, r->real_class, r->real_text);
        fputc('\n', out);
    }
}
