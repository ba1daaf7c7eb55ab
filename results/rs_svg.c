/* pgtls results: pictures. heatmap.svg is client builds x scenarios, each cell
 * coloured by the worst verdict of that client on that scenario's cases
 * (fails or error > known deviation > conforms; all unsupported grey), with a
 * tooltip of the counts. It is written beside summary.md (GitHub shows it) and
 * inlined in matrix.html. Self-contained SVG 1.1, no script, no fonts beyond
 * the generic family. */
#include <stdlib.h>
#include <string.h>

#include "rs.h"
#include "rs_internal.h"

/* Cell colours, shared with the HTML grid's verdict colours. */
static const char *const colour_conforms = "#5cb85c";
static const char *const colour_deviation = "#f0ad4e";
static const char *const colour_fails = "#d9534f";
static const char *const colour_unsupported = "#c8c8c8";
static const char *const colour_none = "#ffffff";

typedef struct cell_counts {
    int conforms, deviation, fails, unsupported;
} cell_counts;

static const char *cell_colour(const cell_counts *k, const char **out_word)
{
    if (k->fails) {
        *out_word = "fails";
        return colour_fails;
    }
    if (k->deviation) {
        *out_word = "deviation (known)";
        return colour_deviation;
    }
    if (k->conforms) {
        *out_word = "conforms";
        return colour_conforms;
    }
    if (k->unsupported) {
        *out_word = "unsupported";
        return colour_unsupported;
    }
    *out_word = "not run";
    return colour_none;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The scenarios of the matrix, sorted and distinct (borrowed strings). */
static const char **scenarios_of(json_t *doc, size_t *out_n)
{
    json_t *cases = json_object_get(doc, "cases"), *c;
    size_t i, n = 0;
    const char **v = calloc(json_array_size(cases) + 1, sizeof(*v));
    if (!v)
        return NULL;
    json_array_foreach(cases, i, c)
    {
        v[n++] = rs_jstr(c, "scenario");
    }
    qsort(v, n, sizeof(*v), cmp_str);
    size_t k = 0;
    for (i = 0; i < n; i++)
        if (k == 0 || strcmp(v[k - 1], v[i]) != 0)
            v[k++] = v[i];
    *out_n = k;
    return v;
}

enum { CELL = 16, LABEL_W = 260, TOP = 150, LEGEND_H = 40 };

char *rs_render_heatmap_svg(rs_matrix *m, pgtls_err *err)
{
    json_t *doc = rs_matrix_json(m);
    json_t *clients = json_object_get(doc, "clients"), *cases = json_object_get(doc, "cases");
    json_t *cl, *c;
    size_t nscen = 0, i, j;
    const char **scen = scenarios_of(doc, &nscen);
    rs_buf b = {0};

    if (!scen) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    size_t nclients = json_array_size(clients);
    int width = LABEL_W + (int)nscen * CELL + 120; /* room for the last rotated names */
    int height = TOP + (int)nclients * CELL + LEGEND_H + 10;
    rs_buf_printf(&b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"heatmap\" width=\"%d\" "
                  "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
                  "font-size=\"11\">\n<title>pgtls: client builds x scenarios, worst verdict "
                  "per cell</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
                  width, height, width, height);
    /* Scenario names, rotated, above their column. */
    for (size_t s = 0; s < nscen; s++) {
        int x = LABEL_W + (int)s * CELL + CELL / 2 + 4;
        rs_buf_printf(&b, "<text transform=\"translate(%d,%d) rotate(-60)\">", x, TOP - 4);
        rs_buf_add_xml(&b, scen[s]);
        rs_buf_add(&b, "</text>\n");
    }
    json_array_foreach(clients, i, cl)
    {
        const char *key = rs_jstr(cl, "key");
        int y = TOP + (int)i * CELL;
        rs_buf_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LABEL_W - 6,
                      y + CELL - 4);
        rs_buf_add_xml(&b, rs_jstr(cl, "client"));
        rs_buf_add(&b, " ");
        rs_buf_add_xml(&b, rs_jstr(cl, "version"));
        rs_buf_add(&b, "</text>\n");
        for (size_t s = 0; s < nscen; s++) {
            cell_counts k = {0};
            json_array_foreach(cases, j, c)
            {
                if (strcmp(rs_jstr(c, "scenario"), scen[s]) != 0)
                    continue;
                json_t *r = json_object_get(json_object_get(c, "results"), key);
                const char *v = r ? rs_jstr(r, "verdict") : "";
                if (!strcmp(v, "conforms"))
                    k.conforms++;
                else if (!strcmp(v, "deviation-known"))
                    k.deviation++;
                else if (!strcmp(v, "fails") || !strcmp(v, "error"))
                    k.fails++;
                else if (!strcmp(v, "unsupported"))
                    k.unsupported++;
            }
            const char *word;
            const char *fill = cell_colour(&k, &word);
            rs_buf_printf(&b,
                          "<rect class=\"cell\" data-verdict=\"%s\" x=\"%d\" y=\"%d\" "
                          "width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#fff\"><title>",
                          word, LABEL_W + (int)s * CELL, y, CELL, CELL, fill);
            rs_buf_add_xml(&b, key);
            rs_buf_add(&b, " on ");
            rs_buf_add_xml(&b, scen[s]);
            rs_buf_printf(&b, ": %s (%d conform, %d known deviation, %d fail, %d unsupported)"
                              "</title></rect>\n",
                          word, k.conforms, k.deviation, k.fails, k.unsupported);
        }
    }
    /* Legend. */
    int ly = TOP + (int)nclients * CELL + 16;
    const struct {
        const char *colour, *word;
    } legend[] = {{colour_conforms, "conforms"},
                  {colour_deviation, "known deviation"},
                  {colour_fails, "fails or error"},
                  {colour_unsupported, "unsupported"}};
    for (size_t l = 0; l < sizeof(legend) / sizeof(legend[0]); l++) {
        int lx = LABEL_W + (int)l * 130;
        rs_buf_printf(&b,
                      "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                      "<text x=\"%d\" y=\"%d\">%s</text>\n",
                      lx, ly, legend[l].colour, lx + 16, ly + 10, legend[l].word);
    }
    rs_buf_add(&b, "</svg>\n");
    free(scen);
    return rs_buf_finish(&b, err);
}
