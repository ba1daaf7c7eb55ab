/* pgtls: fuzz smoke test of the hand-written-input parsers of suites/ and
 * results/ (suite `fuzz`): the suite parser, the deviation parser, the
 * accept-file parser and the matrix loader + every renderer, each fed a few
 * thousand seeded random mutations of a valid input. Passing means no crash,
 * hang or sanitizer report; every input either parses or yields a one-line
 * error. Deterministic (fixed seed; PGTLS_FUZZ_SEED / PGTLS_FUZZ_ITERATIONS
 * override). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "pgtls-config.h"
#include "rs.h"
#include "st.h"

static unsigned long long rng_state;

static unsigned rnd(void)
{
    /* xorshift64*: small, seeded, reproducible */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (unsigned)((rng_state * 2685821657736338717ULL) >> 32);
}

/* A mutated copy of text: byte flips, insertions of interesting tokens,
 * deletions and truncation. */
static char *mutate(const char *text)
{
    static const char *const tokens[] = {"[", "]", "=", "\n", "{", "}", "\"", ",", ":", "null",
                                         "-1", "1e999", "\\u0000", "*", "none", "  ", ";",
                                         "verify-full", "root.crt:", "[suite]", "\"verdict\""};
    size_t len = strlen(text), cap = len * 2 + 64;
    char *out = malloc(cap);
    size_t n = 0;
    unsigned edits = 1 + rnd() % 8;
    if (!out)
        return NULL;
    memcpy(out, text, len + 1);
    n = len;
    for (unsigned e = 0; e < edits && n > 0; e++) {
        size_t pos = rnd() % n;
        switch (rnd() % 4) {
        case 0: /* flip a byte to a printable or control character */
            out[pos] = (char)(rnd() % 2 ? 32 + rnd() % 95 : rnd() % 32 + 1);
            break;
        case 1: { /* insert a token */
            const char *t = tokens[rnd() % (sizeof(tokens) / sizeof(tokens[0]))];
            size_t tl = strlen(t);
            if (n + tl + 1 >= cap)
                break;
            memmove(out + pos + tl, out + pos, n - pos + 1);
            memcpy(out + pos, t, tl);
            n += tl;
            break;
        }
        case 2: { /* delete a run */
            size_t dl = 1 + rnd() % 16;
            if (pos + dl > n)
                dl = n - pos;
            memmove(out + pos, out + pos + dl, n - pos - dl + 1);
            n -= dl;
            break;
        }
        default: /* truncate */
            out[pos] = '\0';
            n = pos;
        }
    }
    return out;
}

static char *read_source(const char *rel)
{
    pgtls_err err;
    char *path = fs_join(PGTLS_SOURCE_ROOT, rel), *text = NULL;
    err_clear(&err);
    if (!path || fs_read_file(path, 0, &text, NULL, &err) < 0) {
        fprintf(stderr, "fuzz: %s\n", err.msg);
        exit(2);
    }
    free(path);
    return text;
}

int main(void)
{
    const char *seed_env = getenv("PGTLS_FUZZ_SEED"), *iter_env = getenv("PGTLS_FUZZ_ITERATIONS");
    long iterations = iter_env ? strtol(iter_env, NULL, 10) : 1500;
    char *suite = read_source("suites/default.suite");
    char *devs = read_source("suites/deviations/node-postgres.ini");
    char *matrix = read_source("results/tests/golden/matrix.json");
    const char *accept = "[azure-old/*]\nclient = psql*\nreason = r\n";
    long parsed[4] = {0};

    rng_state = seed_env ? strtoull(seed_env, NULL, 10) : 0x9e3779b97f4a7c15ULL;
    if (!rng_state)
        rng_state = 1;
    for (long i = 0; i < iterations; i++) {
        pgtls_err err;
        char *m;

        err_clear(&err);
        m = mutate(suite);
        st_suite *s = st_suite_parse(m, "fuzz.suite", &err);
        parsed[0] += s != NULL;
        if (!s && (!err.msg[0] || strchr(err.msg, '\n'))) {
            fprintf(stderr, "fuzz: suite error not one line: \"%s\"\n", err.msg);
            return 1;
        }
        st_suite_free(s);
        free(m);

        err_clear(&err);
        m = mutate(devs);
        st_deviations *d = st_deviations_parse(m, "fuzz.ini", &err);
        parsed[1] += d != NULL;
        st_deviations_free(d);
        free(m);

        err_clear(&err);
        m = mutate(accept);
        rs_accept *a = rs_accept_parse(m, "fuzz.accept", &err);
        parsed[2] += a != NULL;
        rs_accept_free(a);
        free(m);

        err_clear(&err);
        m = mutate(matrix);
        json_t *doc = json_loads(m, 0, NULL);
        if (doc) {
            rs_matrix *mx = rs_matrix_from_json(doc, "fuzz.json", &err);
            if (mx) {
                parsed[3]++;
                free(rs_render_markdown(mx, &err));
                free(rs_render_csv(mx, &err));
                free(rs_render_junit(mx, &err));
                free(rs_render_html(mx, &err));
                free(rs_render_rotation_markdown(mx, &err));
                rs_matrix_free(mx);
            }
            json_decref(doc);
        }
        free(m);
    }
    printf("fuzz smoke: %ld iterations; parsed suites %ld, deviations %ld, accept files %ld, "
           "matrices %ld (the rest were rejected with an error)\n",
           iterations, parsed[0], parsed[1], parsed[2], parsed[3]);
    free(suite);
    free(devs);
    free(matrix);
    return 0;
}
