/* pgtls: comparing what clients saw from the mock with what they saw from a
 * real PostgreSQL (the fidelity suite, docs/fidelity.md). Pure functions: no
 * network, no processes. */
#ifndef PGTLS_FD_COMPARE_H
#define PGTLS_FD_COMPARE_H

#include <stdio.h>

/* Rewrites the parts of an error text that legitimately differ between two
 * servers started side by side: TCP ports ("port 40123", ":40123"), absolute
 * paths ("/tmp/pgtls-fd-x/..."), process ids ("pid 123", "[123]"), OpenSSL's
 * per-thread id in front of ":error:" (a PID in all but name), and
 * trailing white space. Everything else (the message proper, SQLSTATE, host
 * names, addresses) is kept verbatim. Returns a heap string the caller frees;
 * NULL in gives NULL out; NULL also when out of memory. */
char *fd_normalise_error(const char *text);

/* One side of a comparison: the outcome class, the client's raw error text
 * (NULL when none) and the query's first value (NULL when no query ran). */
typedef struct fd_outcome {
    const char *cls;
    const char *error;
    const char *query_result;
} fd_outcome;

/* Whether two outcomes of the same case and client differ: class, normalised
 * error text, and the query result unless `query` asks for something that
 * depends on the server build (version(), server_version). Returns 0 when
 * they agree, 1 when they differ with *out_what = "class", "error" or
 * "query_result" (static). */
int fd_outcomes_differ(const fd_outcome *mock, const fd_outcome *real, const char *query,
                       const char **out_what);

/* One row of the difference table. */
typedef struct fd_diff {
    char *case_id;
    char *client;
    char *what; /* class | error | query_result */
    char *mock_class, *real_class;
    char *mock_text, *real_text; /* normalised error (or query result) */
} fd_diff;

typedef struct fd_diff_list {
    fd_diff *rows;
    size_t num_rows, cap_rows;
} fd_diff_list;

/* Appends a row (all strings copied). Returns 0, or -1 when out of memory. */
int fd_diff_add(fd_diff_list *l, const char *case_id, const char *client, const char *what,
                const fd_outcome *mock, const fd_outcome *real);
void fd_diff_list_cleanup(fd_diff_list *l);

/* Prints the rows as a Markdown table: case | client | differs in | mock |
 * real, each side "class: text". Nothing when the list is empty. */
void fd_diff_print(FILE *out, const fd_diff_list *l);

#endif
