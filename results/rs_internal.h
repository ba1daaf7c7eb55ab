/* pgtls results: helpers shared by the matrix and renderer files (not public). */
#ifndef PGTLS_RS_INTERNAL_H
#define PGTLS_RS_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "rs.h"

/* Current UTC time as "YYYY-MM-DDTHH:MM:SSZ" (heap). */
char *rs_iso_time_now(void);
/* Build key of an adapter hello line (heap). */
char *rs_build_key(json_t *hello);
/* matrix.json text, keys sorted, 1-space indent, trailing newline (heap). */
char *rs_matrix_dump(rs_matrix *m);

/* A growing string buffer; on allocation failure it latches oom and
 * further appends do nothing. */
typedef struct rs_buf {
    char *s;
    size_t len, cap;
    int oom;
} rs_buf;

void rs_buf_add(rs_buf *b, const char *text);
void rs_buf_addn(rs_buf *b, const char *text, size_t n);
void rs_buf_printf(rs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Escapes for HTML/XML text and attributes (& < > " '). */
void rs_buf_add_xml(rs_buf *b, const char *text);
/* Markdown table cell: first line only, at most max chars, | and ` escaped. */
void rs_buf_add_md_cell(rs_buf *b, const char *text, size_t max);
/* CSV field per RFC 4180 (quoted when needed). */
void rs_buf_add_csv(rs_buf *b, const char *text);
/* Hands the string to the caller (NULL with err on oom). */
char *rs_buf_finish(rs_buf *b, pgtls_err *err);

/* Version order ("8.7.3" < "8.11.3", a leading "v" ignored); <0, 0, >0. */
int rs_version_cmp(const char *a, const char *b);
/* summary.md's "Versions of one driver" section (nothing when no driver has
 * builds of several versions). 0, -1 when out of memory. */
int rs_history_markdown(json_t *doc, rs_buf *b);

/* Accessors over the document. */
const char *rs_jstr(json_t *o, const char *key); /* "" when absent */

/* Per-client verdict counts. */
typedef struct rs_counts {
    int n[ST_VERDICT_COUNT];
    int total;
} rs_counts;
void rs_count_client(json_t *doc, const char *key, rs_counts *out);
/* Conformance in percent: conforms / (total - unsupported); -1 when nothing counted. */
double rs_conformance(const rs_counts *c);

/* Rotation readiness rows, shared by the Markdown and HTML renderers. */
extern const char *const rs_rotation_scenarios[];
extern const size_t rs_num_rotation_scenarios;

typedef struct rs_rotation_row {
    json_t *client;          /* client object (borrowed) */
    const char *config;      /* "<store>/<sslmode>[/<options>]" (borrowed) */
    json_t *case_obj;        /* one case of the row (borrowed) */
    const char *observed[8]; /* per rotation scenario, NULL = not run */
    const char *readiness;   /* static text */
} rs_rotation_row;

/* Rows per client build and configuration that ran any rotation scenario;
 * *out_columns is a mask of the scenarios present. Caller frees *out.
 * Returns 0 or -1 when out of memory. */
int rs_rotation_rows(json_t *doc, rs_rotation_row **out, size_t *out_n, unsigned *out_columns);
/* "yes", "plaintext", "—" or the class name. */
const char *rs_rotation_cell_text(const char *observed);

/* The cause of a failure to connect for a configuration ("<store>/<sslmode>..."
 * of a case id), the class it failed with and the scenario, and the fix in the
 * words of Azure's guidance (static text; *out_title the cause, may be NULL). */
const char *rs_cause_fix(const char *config, const char *failed_class, const char *scenario,
                         const char **out_title);

/* Pictures: heatmap.svg (client builds x scenarios, worst verdict per cell)
 * and readiness.svg (the glance grid). Heap strings, NULL with err. */
char *rs_render_heatmap_svg(rs_matrix *m, pgtls_err *err);
char *rs_render_readiness_svg(rs_matrix *m, pgtls_err *err);

/* "Security and availability": per client build, the rows that connected
 * where libpq's rules refuse (security, listed first, with their case ids)
 * and those that refused where they should connect. Heap Markdown or NULL. */
char *rs_render_security_markdown(json_t *doc, pgtls_err *err);

/* "Where surfaces disagree" (docs/surfaces.md): per client build, the
 * intents (a case id without its "/surface=..." part) whose rows on
 * different surfaces observed different classes, unsupported rows apart.
 * "" when the matrix has no case with a surface. Heap Markdown or NULL. */
char *rs_render_surfaces_markdown(json_t *doc, pgtls_err *err);

#endif
