/* pgtls suites: the rotation calendar (st_calendar.h). */
#include "st_calendar.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paths.h"

const char *st_calendar_default_path(void)
{
    static char path[4096];
    const char *env = getenv("PGTLS_CALENDAR");
    if (env && env[0])
        return env;
    snprintf(path, sizeof(path), "%s/suites/calendar.ini", pgtls_data_root());
    return path;
}

typedef struct parse_ctx {
    st_calendar *cal;
    pgtls_err *err;
    int failed;
} parse_ctx;

static int valid_day(const char *s)
{
    int y, m, d, n = 0;
    return s && sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) == 3 && s[n] == '\0' && n == 10 &&
           y >= 2000 && y <= 2050 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static int set_field(char **slot, const char *value)
{
    free(*slot);
    *slot = strdup(value);
    return *slot != NULL;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *c = user;
    st_calendar *cal = c->cal;
    st_cal_group *g = NULL;

    if (c->failed)
        return 0;
    if (strcmp(section, "calendar") == 0) {
        if (strcmp(name, "version") == 0 && set_field(&cal->version, value))
            return 1;
        if (strcmp(name, "horizon") == 0 && valid_day(value) && set_field(&cal->horizon, value))
            return 1;
        err_set(c->err, PGTLS_ERR_CONFIG,
                "%s: [calendar] takes version and horizon = YYYY-MM-DD, not '%s = %s'",
                cal->path, name, value);
        c->failed = 1;
        return 0;
    }
    if (strncmp(section, "group ", 6) != 0 || !section[6]) {
        err_set(c->err, PGTLS_ERR_CONFIG,
                "%s: unknown section [%s] (use [calendar] or [group NAME])", cal->path, section);
        c->failed = 1;
        return 0;
    }
    if (cal->num_groups == 0 || strcmp(cal->groups[cal->num_groups - 1].name, section + 6) != 0) {
        st_cal_group *n = realloc(cal->groups, (cal->num_groups + 1) * sizeof(*n));
        if (!n)
            goto nomem;
        cal->groups = n;
        g = &cal->groups[cal->num_groups++];
        memset(g, 0, sizeof(*g));
        if (!(g->name = strdup(section + 6)))
            goto nomem;
    }
    g = &cal->groups[cal->num_groups - 1];
    if ((strcmp(name, "date") == 0 && valid_day(value) && set_field(&g->date, value)) ||
        (strcmp(name, "before") == 0 && set_field(&g->before, value)) ||
        (strcmp(name, "after") == 0 && set_field(&g->after, value)) ||
        (strcmp(name, "description") == 0 && set_field(&g->description, value)))
        return 1;
    err_set(c->err, PGTLS_ERR_CONFIG,
            "%s: [group %s] takes date = YYYY-MM-DD (2000 to 2050), before, after and "
            "description, not '%s = %s'",
            cal->path, g->name, name, value);
    c->failed = 1;
    return 0;
nomem:
    err_set(c->err, PGTLS_ERR_NOMEM, "out of memory");
    c->failed = 1;
    return 0;
}

st_calendar *st_calendar_load(const char *path, pgtls_err *err)
{
    st_calendar *cal = calloc(1, sizeof(*cal));
    parse_ctx c = {.cal = cal, .err = err};
    int rc;

    if (!cal || !(cal->path = strdup(path))) {
        free(cal);
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    rc = ini_parse(path, on_entry, &c);
    if (rc < 0) {
        err_set(err, PGTLS_ERR_IO, "cannot read the rotation calendar %s (set PGTLS_CALENDAR)",
                path);
        goto fail;
    }
    if (c.failed)
        goto fail;
    if (rc > 0) {
        err_set(err, PGTLS_ERR_CONFIG, "%s:%d: not an INI line (KEY = VALUE under [calendar] or [group NAME])", path, rc);
        goto fail;
    }
    if (!cal->version || !cal->horizon || cal->num_groups == 0) {
        err_set(err, PGTLS_ERR_CONFIG,
                "%s: needs [calendar] version and horizon and at least one [group NAME]", path);
        goto fail;
    }
    for (size_t i = 0; i < cal->num_groups; i++) {
        st_cal_group *g = &cal->groups[i];
        if (!g->date || !g->before || !g->after) {
            err_set(err, PGTLS_ERR_CONFIG, "%s: [group %s] needs date, before and after", path,
                    g->name);
            goto fail;
        }
    }
    return cal;
fail:
    st_calendar_free(cal);
    return NULL;
}

void st_calendar_free(st_calendar *cal)
{
    if (!cal)
        return;
    for (size_t i = 0; i < cal->num_groups; i++) {
        free(cal->groups[i].name);
        free(cal->groups[i].description);
        free(cal->groups[i].date);
        free(cal->groups[i].before);
        free(cal->groups[i].after);
    }
    free(cal->groups);
    free(cal->path);
    free(cal->version);
    free(cal->horizon);
    free(cal);
}

const char *st_calendar_version(void)
{
    static char version[128];
    pgtls_err err;
    st_calendar *cal;

    err_clear(&err);
    cal = st_calendar_load(st_calendar_default_path(), &err);
    if (!cal)
        return NULL;
    snprintf(version, sizeof(version), "%s", cal->version);
    st_calendar_free(cal);
    return version;
}
