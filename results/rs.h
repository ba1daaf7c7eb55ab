/* pgtls results: the compatibility matrix (matrix.json, schema pgtls-matrix/1,
 * docs/matrix-schema.md) and its renderers (Markdown, HTML, JUnit XML, CSV,
 * rotation readiness), plus merge and diff of matrices.
 *
 * The runner builds a matrix incrementally: rs_matrix_new, one
 * rs_matrix_add_client per adapter hello line, one rs_matrix_record per case
 * and client, rs_matrix_write after each batch (atomic: an interrupted run
 * leaves the last complete file), rs_matrix_set_incomplete on SIGINT.
 * Every rs_matrix_* call on one matrix is serialised by an internal mutex, so
 * runner workers may record and write concurrently. The renderers and
 * rs_matrix_json read the document without the lock: call them once the
 * recording is over (or from the recording thread).
 */
#ifndef PGTLS_RS_H
#define PGTLS_RS_H

#include <jansson.h>

#include "err.h"
#include "st.h"

#define RS_SCHEMA "pgtls-matrix/1"

typedef struct rs_matrix rs_matrix;

typedef struct rs_run_info {
    const char *host;            /* machine name; NULL: uname nodename */
    const char *suite;           /* suite name or path */
    const char *fixtures_dir;    /* or NULL */
    const char *fixtures_sha256; /* catalogue_sha256 of the index, or NULL */
    const char *command;         /* the pgtls command line, or NULL */
    const char *as_of;           /* fixtures' as-of date (ISO), NULL: the run's own clock */
    const char *calendar;        /* rotation calendar version, or NULL */
} rs_run_info;

/* A new, empty matrix; started_at is now. Returns NULL with err. */
rs_matrix *rs_matrix_new(const rs_run_info *info, pgtls_err *err);
void rs_matrix_free(rs_matrix *m);

/* Registers a client build from its adapter hello line (docs/case-protocol.md;
 * borrowed, copied). Returns the client's index (>= 0; the same index for a
 * hello with the same build key), or -1 with err (hello without "client"). */
int rs_matrix_add_client(rs_matrix *m, json_t *hello, pgtls_err *err);

/* The build key of a client: "client version | libpq N | TLS library". */
const char *rs_matrix_client_key(const rs_matrix *m, int client);

/* One result row, everything borrowed/copied. */
typedef struct rs_result {
    const st_case *c;        /* the case (id, scenario, store, sslmode, options) */
    st_judgement judgement;  /* from st_judge: expected, observed, deviation, verdict */
    json_t *adapter_result;  /* the adapter's result object or NULL */
    json_t *events;          /* array of mock events or NULL */
    long long elapsed_ms;    /* runner-measured wall time; -1 unknown */
    const char *repro;       /* the `pgtls repro` / adapter command line, or NULL */
} rs_result;

/* Adds (or replaces) the result of `client` on r->c. The row stores the
 * judgement as given (the deviation only with a deviation-known verdict).
 * Returns 0 or -1 with err. */
int rs_matrix_add_result(rs_matrix *m, int client, const rs_result *r, pgtls_err *err);

/* Convenience for the runner: rs_matrix_add_result of the judgement j
 * (st_judge) with the case's evidence. Returns the verdict (>= 0) or -1
 * with err. */
int rs_matrix_record(rs_matrix *m, int client, const st_case *c, const st_judgement *j,
                     json_t *adapter_result, json_t *events, long long elapsed_ms,
                     const char *repro, pgtls_err *err);

/* The "libpq" field of a client's hello (for st_judge), NULL when the
 * client has none or there is no client with this index. */
const char *rs_matrix_client_libpq(rs_matrix *m, int client);

/* Marks the run interrupted (SIGINT, adapter lost, ...); written as
 * run.incomplete = true. */
void rs_matrix_set_incomplete(rs_matrix *m, int incomplete);

/* Writes matrix.json atomically (temp file + rename; ended_at = now).
 * Returns 0 or -1 with err. */
int rs_matrix_write(rs_matrix *m, const char *path, pgtls_err *err);

/* Reads and validates a matrix.json. Returns NULL with a one-line err
 * ("matrix.json: not JSON at line 3: ...", "schema is x, expected pgtls-matrix/1"). */
rs_matrix *rs_matrix_load(const char *path, pgtls_err *err);
rs_matrix *rs_matrix_from_json(json_t *doc, const char *origin, pgtls_err *err);

/* The document (borrowed; valid until the next call that changes m). */
json_t *rs_matrix_json(rs_matrix *m);

/* ---- Renderers: each returns a heap string (caller frees) or NULL with err. ---- */
char *rs_render_markdown(rs_matrix *m, pgtls_err *err);
char *rs_render_html(rs_matrix *m, pgtls_err *err);
char *rs_render_junit(rs_matrix *m, pgtls_err *err);
char *rs_render_csv(rs_matrix *m, pgtls_err *err);
char *rs_render_rotation_markdown(rs_matrix *m, pgtls_err *err);

/* Writes matrix.json, summary.md, matrix.html, junit.xml, matrix.csv and
 * rotation.md into dir (created). Returns 0 or -1 with err. */
int rs_render_all(rs_matrix *m, const char *dir, pgtls_err *err);

/* Merges several matrices (each client build becomes a column; cases are
 * unioned by id; run.sources lists each input's run). NULL with err. */
rs_matrix *rs_matrix_merge(rs_matrix *const *inputs, size_t num_inputs, pgtls_err *err);

/* Fails (PGTLS_ERR_INPUT, naming both dates) when the inputs were run as of
 * different dates (run.as_of; absent: the run's own clock). Returns 0 or -1. */
int rs_matrix_as_of_check(rs_matrix *const *inputs, const char *const *names, size_t num_inputs,
                          pgtls_err *err);

/* ---- Diff (pgtls report diff) ---- */

/* Accepted deviations for diff: INI ([<case-id glob>] client = <glob>,
 * reason = ...) or JSON ({"accept":[{"case":..,"client":..,"reason":..}]});
 * docs/matrix-schema.md. */
typedef struct rs_accept rs_accept;
rs_accept *rs_accept_load(const char *path, pgtls_err *err);
rs_accept *rs_accept_parse(const char *text, const char *origin, pgtls_err *err);
void rs_accept_free(rs_accept *a);

typedef struct rs_diff_stats {
    int regressions; /* conformed (or known deviation) before, fails/error now, not accepted */
    int accepted;    /* regressions covered by the accept file */
    int fixed, changed, added, removed, unchanged;
    /* For --strict: rows whose behaviour changed (observed class or error code,
     * a fix included) or that the new run lacks, and that no accept rule covers;
     * those an accept rule covers are counted in accepted_changes. */
    int behaviour_changes, accepted_changes;
} rs_diff_stats;

/* Compares two matrices case by case (clients matched by build key, else by
 * client name), appends one line per difference to *out_text (heap, caller
 * frees) and fills stats. Returns 0 or -1 with err. */
int rs_diff(rs_matrix *baseline, rs_matrix *current, const rs_accept *accept,
            char **out_text, rs_diff_stats *stats, pgtls_err *err);

/* "Rotation readiness at a glance": one row per client build, one column per
 * trust configuration class (own trust, full bundle, each single root, pinned
 * intermediate, pinned leaf, stale root), each cell one verdict with the
 * sslmode that decides it; then what breaks, grouped by cause, with the fix.
 * Empty text when the matrix has no rotation scenario. Returns 0 with
 * *out_text (heap, caller frees), or -1 with err. */
typedef enum rs_digest_format { RS_DIGEST_MARKDOWN, RS_DIGEST_TERMINAL, RS_DIGEST_HTML } rs_digest_format;
int rs_digest_render(json_t *doc, rs_digest_format fmt, char **out_text, pgtls_err *err);

/* `pgtls explain CASE-ID --client NAME [--matrix FILE]` (exit 0/2). */
int rs_cli_explain(int argc, char **argv);

/* ---- Command entry point (the pgtls binary calls it) ---- */

/* `pgtls report ...`: argv[0] is the subcommand name; returns the exit status
 * (0 ok, 1 findings or failures, 2 usage or input error). */
int rs_cli_report(int argc, char **argv);

/* `pgtls report history`: the builds of one driver (client BASE or
 * BASE@VERSION; a registry name such as "pg" works) in version order, for one
 * case (case_id) or every case whose observed class changes (NULL); Markdown
 * text in *out (heap). -1 with err (no such driver or case in the matrix). */
int rs_render_history(json_t *doc, const char *client, const char *case_id, char **out,
                      pgtls_err *err);

#endif
