/* pgtls-adapter-psql: the text handling around the psql program, kept apart
 * from process handling so the unit tests can feed it psql's output. */
#ifndef PGTLS_PSQL_PARSE_H
#define PGTLS_PSQL_PARSE_H

#include <stddef.h>

#include "clients/adapter-kit/cl_adapter.h"

/* The line the adapter makes psql print (\echo) between \conninfo's output
 * and the query's output. */
#define PSQL_MARKER "pgtls-adapter-query-output-follows"

/* psql's field separator (-F): the ASCII unit separator, which no query
 * result of a connectivity check contains. */
#define PSQL_FIELD_SEP "\x1f"

/* What psql prints for SQL NULL (-P null=...), so that NULL and the empty
 * string stay apart as they do in libpq. */
#define PSQL_NULL_MARKER "pgtls-adapter-null\x1e"

/* A conninfo value in single quotes with \ and ' escaped (libpq's rule,
 * "Connection Strings" in the PostgreSQL documentation). Heap string. */
char *psql_conninfo_quote(const char *value);

/* The conninfo string for a case: every case field as keyword='value', plus
 * connect_options (string, integer or boolean values). The password is not
 * put in it (it goes to psql through PGPASSWORD). Returns a heap string, or
 * NULL with a reason in *out_unsupported (heap) for an option it cannot
 * write. */
char *psql_build_conninfo(const cl_case *c, char **out_unsupported);

/* What psql printed on stdout for `\conninfo`, the marker and the query. */
typedef struct psql_output {
    int marker_seen;   /* psql got past connecting and ran the commands */
    int ssl_line_seen; /* \conninfo reported an SSL connection */
    int ssl_known;     /* \conninfo said whether SSL is used (either way) */
    char *tls_version; /* heap or NULL */
    char *cipher;      /* heap or NULL */
    int row_seen;      /* a row followed the marker */
    char *first_value; /* its first column; NULL for SQL NULL or no row */
} psql_output;

/* Parses stdout. Knows both \conninfo formats: the sentence of psql <= 17
 * ("SSL connection (protocol: TLSv1.3, cipher: ..., ...)") and the table of
 * psql 18 ("SSL Connection|true", "SSL Protocol|...", "SSL Cipher|..."). */
void psql_parse_output(const char *out, psql_output *o);
void psql_output_cleanup(psql_output *o);

/* "15.18" from `psql --version` output ("psql (PostgreSQL) 15.18 (Debian
 * 15.18-0+deb12u1)"). Heap string, or NULL if it does not look like that. */
char *psql_parse_version(const char *text);

/* From the dynamic loader's trace (LD_TRACE_LOADED_OBJECTS=1, what ldd
 * prints): the path a library whose name starts with soname_prefix resolved
 * to ("libpq.so" -> "/lib/x86_64-linux-gnu/libpq.so.5"). Heap or NULL. */
char *psql_trace_find(const char *trace, const char *soname_prefix);

#endif
