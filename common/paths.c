/* pgtls: the program's own files, from the build tree or an installation. */
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "paths.h"
#include "pgtls-config.h"

static char data_root[PATH_MAX + 64];
static char exec_root[PATH_MAX + 64];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* An installed binary is <prefix>/bin/pgtls with <prefix>/share/pgtls beside
 * it (holding the catalogue); anything else is a build tree's. */
static void resolve(void)
{
    char exe[PATH_MAX], prefix[PATH_MAX];
    const char *env;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    snprintf(data_root, sizeof(data_root), "%s", PGTLS_SOURCE_ROOT);
    snprintf(exec_root, sizeof(exec_root), "%s", PGTLS_BUILD_ROOT);
    if (n > 0) {
        exe[n] = '\0';
        /* dirname() works in place: bin folder first, then its parent. */
        snprintf(prefix, sizeof(prefix), "%s", dirname(dirname(exe)));
        char probe[PATH_MAX + 64];
        snprintf(probe, sizeof(probe), "%s/share/pgtls/certs-gen/catalogue.ini", prefix);
        if (fs_exists(probe)) {
            snprintf(data_root, sizeof(data_root), "%s/share/pgtls", prefix);
            snprintf(exec_root, sizeof(exec_root), "%s/libexec/pgtls", prefix);
        }
    }
    if ((env = getenv("PGTLS_DATA_ROOT")) && *env)
        snprintf(data_root, sizeof(data_root), "%s", env);
    if ((env = getenv("PGTLS_EXEC_ROOT")) && *env)
        snprintf(exec_root, sizeof(exec_root), "%s", env);
}

const char *pgtls_data_root(void)
{
    pthread_once(&once, resolve);
    return data_root;
}

const char *pgtls_exec_root(void)
{
    pthread_once(&once, resolve);
    return exec_root;
}
