/* pgtls suites: outcome-class and verdict names, libpq version parsing. */
#include <stdlib.h>
#include <string.h>

#include "st.h"

static const char *const class_names[] = {
#define ST_CLASS_NAME(e, name) name,
    ST_CLASSES(ST_CLASS_NAME)
#undef ST_CLASS_NAME
};

static const char *const verdict_names[] = {
#define ST_VERDICT_NAME(e, name) name,
    ST_VERDICTS(ST_VERDICT_NAME)
#undef ST_VERDICT_NAME
};

const char *st_class_name(st_class c)
{
    if ((int)c < 0 || c >= ST_CLASS_COUNT)
        return "unknown";
    return class_names[c];
}

st_class st_class_parse(const char *name)
{
    if (!name)
        return ST_CLASS_NONE;
    for (int i = 0; i < ST_CLASS_COUNT; i++)
        if (strcmp(class_names[i], name) == 0)
            return (st_class)i;
    return ST_CLASS_NONE;
}

const char *st_verdict_name(st_verdict v)
{
    if ((int)v < 0 || v >= ST_VERDICT_COUNT)
        return "error";
    return verdict_names[v];
}

int st_verdict_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < ST_VERDICT_COUNT; i++)
        if (strcmp(verdict_names[i], name) == 0)
            return i;
    return -1;
}

/* PQlibVersion() is major*10000 + minor since PostgreSQL 10 (170002 = 17.2)
 * and major*10000 + minor*100 + patch before (90624 = 9.6.24). A dotted
 * version string ("15.18") is accepted too. */
int st_libpq_major(const char *libpq_version)
{
    char *end = NULL;
    long v;

    if (!libpq_version || !*libpq_version)
        return 0;
    v = strtol(libpq_version, &end, 10);
    if (end == libpq_version || v <= 0)
        return 0;
    if (*end == '.')
        return v < 100 ? (int)v : 0;
    if (*end != '\0')
        return 0;
    if (v < 100)
        return (int)v;
    if (v >= 100000)
        return (int)(v / 10000);
    return (int)(v / 10000); /* 9.x: 90624 / 10000 = 9 */
}

st_verdict st_verdict_for(st_class expected, st_class observed, int deviation_known)
{
    if (observed == ST_UNSUPPORTED)
        return ST_VERDICT_UNSUPPORTED;
    if (observed == ST_CLASS_NONE || expected == ST_CLASS_NONE)
        return ST_VERDICT_ERROR;
    if (observed == expected)
        return ST_CONFORMS;
    if (deviation_known)
        return ST_DEVIATION_KNOWN;
    if (observed == ST_TIMEOUT || observed == ST_CLIENT_CRASHED)
        return ST_VERDICT_ERROR;
    return ST_FAILS;
}

/* Token cases (docs/entra.md "Token rows"): name, the token service's fault,
 * the identity the client asks for. */
static const struct {
    const char *name, *fault, *identity;
} token_plans[] = {
    {"valid", "none", "default"},
    {"expired", "expired", "default"},
    {"not-yet-valid", "not-yet-valid", "default"},
    {"wrong-audience", "wrong-audience", "default"},
    {"foreign-key", "foreign-key", "default"},
    {"unknown-principal", "none", "no-role"},
    {"unknown-identity", "none", "unknown"},
};

int st_token_plan(const char *token, const char **fault, const char **identity)
{
    for (size_t i = 0; token && i < sizeof(token_plans) / sizeof(token_plans[0]); i++)
        if (strcmp(token, token_plans[i].name) == 0) {
            if (fault)
                *fault = token_plans[i].fault;
            if (identity)
                *identity = token_plans[i].identity;
            return 0;
        }
    return -1;
}

int st_token_valid(const char *s)
{
    return st_token_plan(s, NULL, NULL) == 0;
}
