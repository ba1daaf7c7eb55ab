/* pgtls suites: known, documented deviations of a client from libpq
 * (suites/deviations/<client>.ini, format in docs/suites.md). */
#include <fnmatch.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "paths.h"
#include "pgtls-config.h"
#include "st.h"

typedef struct deviation {
    char *name;
    char *source, *reason;
    char *sslmodes, *scenarios, *stores, *cases; /* space-separated globs, NULL = any */
    unsigned observed_mask, expected_mask;      /* bit per class, 0 = any */
    /* A predicting entry (docs/suites.md "Predictions"): the one class the
     * driver's documented behaviour gives, either fixed (predicts) or what
     * libpq would give under another sslmode (acts_as = sslmode=MODE). */
    st_class predicts;      /* ST_CLASS_NONE: not set */
    char *acts_as_sslmode;  /* NULL: not set */
    int line;
} deviation;

struct st_deviations {
    deviation *v;
    size_t n;
};

typedef struct dctx {
    st_deviations *d;
    const char *origin;
    pgtls_err *err;
    int failed;
    int line;
    const char *cursor;
} dctx;

/* fgets-like reader counting lines (Debian's inih has no INI_HANDLER_LINENO). */
static char *read_line(char *str, int num, void *stream)
{
    dctx *c = stream;
    const char *p = c->cursor;
    int i = 0;
    if (!*p)
        return NULL;
    while (*p && i < num - 1) {
        str[i++] = *p;
        if (*p++ == '\n')
            break;
    }
    str[i] = '\0';
    c->cursor = p;
    c->line++;
    return str;
}

static int dfail(dctx *c, int line, const char *msg, const char *a)
{
    err_set(c->err, PGTLS_ERR_CONFIG, "%s:%d: %s%s", c->origin, line, msg, a ? a : "");
    c->failed = 1;
    return 0;
}

/* Parses "cls cls ..." into a bit mask. Returns -1 on an unknown class. */
static long class_mask(const char *value, const char **bad)
{
    unsigned mask = 0;
    char *copy = strdup(value), *save = NULL;
    if (!copy)
        return -1;
    for (char *t = strtok_r(copy, " ,\t", &save); t; t = strtok_r(NULL, " ,\t", &save)) {
        st_class c = st_class_parse(t);
        if (c == ST_CLASS_NONE) {
            *bad = value;
            free(copy);
            return -1;
        }
        mask |= 1u << c;
    }
    free(copy);
    return mask;
}

static int dhandler(void *user, const char *section, const char *name, const char *value)
{
    dctx *c = user;
    int lineno = c->line;
    st_deviations *d = c->d;
    deviation *dv;

    if (c->failed)
        return 0;
    if (*section && (d->n == 0 || strcmp(d->v[d->n - 1].name, section) != 0)) {
        /* A new section (this inih build does not call us on headers). */
        for (size_t i = 0; i < d->n; i++)
            if (strcmp(d->v[i].name, section) == 0)
                return dfail(c, lineno, "deviation appears twice: ", section);
        deviation *nv = realloc(d->v, (d->n + 1) * sizeof(*nv));
        if (!nv)
            return dfail(c, lineno, "out of memory", NULL);
        d->v = nv;
        memset(&nv[d->n], 0, sizeof(*nv));
        nv[d->n].predicts = ST_CLASS_NONE;
        nv[d->n].name = strdup(section);
        nv[d->n].line = lineno;
        d->n++;
    }
    if (!*section || d->n == 0)
        return dfail(c, lineno, "key outside a [deviation] section: ", name);
    dv = &d->v[d->n - 1];
    if (!*value)
        return dfail(c, lineno, "empty value for key ", name);
    char **slot = NULL;
    if (strcmp(name, "source") == 0)
        slot = &dv->source;
    else if (strcmp(name, "reason") == 0)
        slot = &dv->reason;
    else if (strcmp(name, "sslmodes") == 0)
        slot = &dv->sslmodes;
    else if (strcmp(name, "scenarios") == 0)
        slot = &dv->scenarios;
    else if (strcmp(name, "stores") == 0)
        slot = &dv->stores;
    else if (strcmp(name, "cases") == 0)
        slot = &dv->cases;
    if (slot) {
        if (*slot)
            return dfail(c, lineno, "key given twice: ", name);
        *slot = strdup(value);
        return 1;
    }
    if (strcmp(name, "predicts") == 0) {
        st_class cls = st_class_parse(value);
        if (cls == ST_CLASS_NONE)
            return dfail(c, lineno, "not an outcome class (docs/expectations.md): ", value);
        if (dv->predicts != ST_CLASS_NONE)
            return dfail(c, lineno, "key given twice: ", name);
        dv->predicts = cls;
        return 1;
    }
    if (strcmp(name, "acts_as") == 0) {
        static const char *const modes[] = {"disable", "allow",     "prefer",
                                            "require", "verify-ca", "verify-full"};
        int known = 0;
        if (strncmp(value, "sslmode=", 8) == 0)
            for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
                known |= strcmp(value + 8, modes[i]) == 0;
        if (!known)
            return dfail(c, lineno, "acts_as wants sslmode=<disable|allow|prefer|require|"
                                    "verify-ca|verify-full>, not ", value);
        if (dv->acts_as_sslmode)
            return dfail(c, lineno, "key given twice: ", name);
        dv->acts_as_sslmode = strdup(value + 8);
        return 1;
    }
    if (strcmp(name, "observed") == 0 || strcmp(name, "expected") == 0) {
        const char *bad = NULL;
        long m = class_mask(value, &bad);
        if (m < 0)
            return dfail(c, lineno, "not an outcome class list (docs/expectations.md): ", value);
        if (name[0] == 'o')
            dv->observed_mask = (unsigned)m;
        else
            dv->expected_mask = (unsigned)m;
        return 1;
    }
    return dfail(c, lineno,
                 "unknown key (source reason sslmodes scenarios stores cases observed "
                 "expected predicts acts_as): ",
                 name);
}

void st_deviations_free(st_deviations *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].name);
        free(d->v[i].source);
        free(d->v[i].reason);
        free(d->v[i].sslmodes);
        free(d->v[i].scenarios);
        free(d->v[i].stores);
        free(d->v[i].cases);
        free(d->v[i].acts_as_sslmode);
    }
    free(d->v);
    free(d);
}

st_deviations *st_deviations_parse(const char *text, const char *origin, pgtls_err *err)
{
    st_deviations *d = calloc(1, sizeof(*d));
    dctx c = {d, origin ? origin : "deviations", err, 0, 0, text};
    int rc;

    if (!d) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    rc = ini_parse_stream(read_line, &c, dhandler, &c);
    if (!c.failed && rc != 0) {
        err_set(err, PGTLS_ERR_CONFIG, "%s:%d: not a key = value line or a [section] header",
                c.origin, rc);
        c.failed = 1;
    }
    for (size_t i = 0; !c.failed && i < d->n; i++) {
        /* A deviation without its source and reason would be a silent pass. */
        if (!d->v[i].source || !d->v[i].reason) {
            err_set(err, PGTLS_ERR_CONFIG,
                    "%s:%d: [%s] needs source = <link> and reason = <why>", c.origin,
                    d->v[i].line, d->v[i].name);
            c.failed = 1;
        } else if (d->v[i].predicts != ST_CLASS_NONE && d->v[i].acts_as_sslmode) {
            err_set(err, PGTLS_ERR_CONFIG,
                    "%s:%d: [%s] gives both predicts and acts_as: one prediction per entry",
                    c.origin, d->v[i].line, d->v[i].name);
            c.failed = 1;
        } else if ((d->v[i].predicts != ST_CLASS_NONE || d->v[i].acts_as_sslmode) &&
                   d->v[i].observed_mask) {
            err_set(err, PGTLS_ERR_CONFIG,
                    "%s:%d: [%s] predicts its class: drop observed = (a prediction names one "
                    "class)",
                    c.origin, d->v[i].line, d->v[i].name);
            c.failed = 1;
        } else if (!d->v[i].observed_mask && d->v[i].predicts == ST_CLASS_NONE &&
                   !d->v[i].acts_as_sslmode) {
            err_set(err, PGTLS_ERR_CONFIG,
                    "%s:%d: [%s] needs observed = <the classes the client shows> (or a "
                    "prediction: predicts = <class> or acts_as = sslmode=<mode>)",
                    c.origin, d->v[i].line, d->v[i].name);
            c.failed = 1;
        }
    }
    if (c.failed) {
        st_deviations_free(d);
        return NULL;
    }
    return d;
}

st_deviations *st_deviations_load(const char *dir, const char *client, pgtls_err *err)
{
    char *name = str_printf("%s.ini", client);
    char *path = name ? fs_join(dir, name) : NULL;
    char *text = NULL;
    st_deviations *d = NULL;

    if (!path) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!fs_exists(path) && strchr(client, '@')) {
        /* A version build (NAME@VERSION, docs/versions.md) without its own
         * file is judged with its base adapter's deviations: what a release
         * documents explains the same behaviour of another one, and what
         * differs shows as fails. */
        free(path);
        free(name);
        name = str_printf("%.*s.ini", (int)(strchr(client, '@') - client), client);
        path = name ? fs_join(dir, name) : NULL;
        if (!path) {
            err_set(err, PGTLS_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    if (!fs_exists(path)) {
        d = calloc(1, sizeof(*d));
        goto out;
    }
    if (fs_read_file(path, 1 << 20, &text, NULL, err) < 0)
        goto out;
    d = st_deviations_parse(text, path, err);
out:
    free(text);
    free(path);
    free(name);
    return d;
}

const char *st_deviations_default_dir(void)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/suites/deviations", pgtls_data_root());
    return path;
}

/* 1 when value matches one of the blank-separated globs (NULL list = any). */
static int glob_any(const char *globs, const char *value)
{
    char *copy, *save = NULL;
    int hit = 0;
    if (!globs)
        return 1;
    if (!value)
        return 0;
    copy = strdup(globs);
    if (!copy)
        return 0;
    for (char *t = strtok_r(copy, " ,\t", &save); t && !hit; t = strtok_r(NULL, " ,\t", &save))
        hit = fnmatch(t, value, 0) == 0;
    free(copy);
    return hit;
}

/* The class a predicting entry gives for c: fixed, or libpq's under its
 * acts_as sslmode. ST_CLASS_NONE for an entry that lists observed classes. */
static st_class predicted_class(const deviation *dv, const st_case *c, int libpq_major)
{
    st_case as;
    if (dv->predicts != ST_CLASS_NONE)
        return dv->predicts;
    if (!dv->acts_as_sslmode)
        return ST_CLASS_NONE;
    as = *c;
    as.sslmode = dv->acts_as_sslmode;
    return st_expect(&as, libpq_major).cls;
}

static void set_match(st_deviation_match *out, const deviation *dv, st_class predicted)
{
    if (!out)
        return;
    out->name = dv->name;
    out->source = dv->source;
    out->reason = dv->reason;
    out->predicted = predicted;
}

int st_deviation_judge(const st_deviations *d, const st_case *c, st_class expected,
                       st_class observed, int libpq_major, st_deviation_match *out,
                       st_deviation_match *out_missed)
{
    int missed = 0;
    if (out_missed)
        memset(out_missed, 0, sizeof(*out_missed));
    if (!d || observed == ST_CLASS_NONE)
        return 0;
    for (size_t i = 0; i < d->n; i++) {
        const deviation *dv = &d->v[i];
        st_class predicted;
        if (dv->expected_mask &&
            (expected == ST_CLASS_NONE || !(dv->expected_mask & (1u << expected))))
            continue;
        if (!glob_any(dv->sslmodes, c->sslmode) || !glob_any(dv->scenarios, c->scenario) ||
            !glob_any(dv->stores, c->store) || !glob_any(dv->cases, c->id))
            continue;
        predicted = predicted_class(dv, c, libpq_major);
        if (predicted == ST_CLASS_NONE ? (dv->observed_mask & (1u << observed)) != 0
                                       : predicted == observed) {
            set_match(out, dv, predicted);
            return 1;
        }
        /* A prediction that did not come true: remembered (the first one), a
         * later entry may still cover the case. */
        if (predicted != ST_CLASS_NONE && !missed && predicted != expected) {
            set_match(out_missed, dv, predicted);
            missed = 1;
        }
    }
    return 0;
}

int st_deviation_find(const st_deviations *d, const st_case *c, st_class expected,
                      st_class observed, st_deviation_match *out)
{
    return st_deviation_judge(d, c, expected, observed, 0, out, NULL);
}
