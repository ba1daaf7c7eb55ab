/* pgtls clients: the per-case environment (docs/case-protocol.md, "env").
 *
 * libpq reads PGSSLMODE, PGSSLROOTCERT, ... and OpenSSL reads SSL_CERT_FILE
 * and SSL_CERT_DIR, so a variable left over from the runner's environment or
 * from the previous case would silently change what a case tests. Each case
 * starts from the environment the adapter was started with, minus those
 * variables, plus the case's own env.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cl_adapter.h"
#include "vocab.h"

extern char **environ;

/* The start-up environment, as NAME=VALUE copies. Adapters are single-
 * threaded programs; this snapshot is the one piece of process state the
 * environment itself already is. */
static char **startup_env;

void cl_env_init(void)
{
    size_t n = 0;
    if (startup_env != NULL)
        return;
    while (environ != NULL && environ[n] != NULL)
        n++;
    startup_env = calloc(n + 1, sizeof(char *));
    if (startup_env == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        startup_env[i] = strdup(environ[i]);
}

/* 1 for a variable a case must not inherit: the runner's list (vocab.h). */
static int is_isolated(const char *entry)
{
    return vc_env_isolated(entry);
}

int cl_env_apply(const cl_case *c, pgtls_err *err)
{
    int result = -1;

    cl_env_init();
    ENSURE(startup_env != NULL, err, PGTLS_ERR_NOMEM, "out of memory saving the environment");
    ENSURE(clearenv() == 0, err, PGTLS_ERR_INTERNAL, "clearenv failed");
    for (size_t i = 0; startup_env[i] != NULL; i++) {
        const char *entry = startup_env[i];
        const char *eq = strchr(entry, '=');
        if (eq == NULL || is_isolated(entry))
            continue;
        char *name = strndup(entry, (size_t)(eq - entry));
        ENSURE(name != NULL, err, PGTLS_ERR_NOMEM, "out of memory");
        int rc = setenv(name, eq + 1, 1);
        free(name);
        ENSURE(rc == 0, err, PGTLS_ERR_INTERNAL, "setenv failed");
    }
    if (c != NULL && c->env != NULL) {
        const char *name;
        json_t *value;
        json_object_foreach(c->env, name, value)
        {
            ENSURE(setenv(name, json_string_value(value), 1) == 0, err, PGTLS_ERR_INPUT,
                   "cannot set env.%s", name);
        }
    }
    result = 0;
out:
    return result;
}
