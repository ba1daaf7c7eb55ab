/* pgtls runner: client detection (manifest + `ADAPTER --describe`).
 *
 * A client that cannot be used (no manifest, program not built or not
 * installed, --describe fails or times out, a hello without "client") is
 * reported with the reason and skipped; it never stops a run. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fs.h"
#include "rn.h"

void rn_client_cleanup(rn_client *c)
{
    if (!c)
        return;
    free(c->name);
    rn_manifest_free(c->manifest);
    json_decref(c->hello);
    free(c->unusable);
    memset(c, 0, sizeof(*c));
}

/* The first non-blank line of text parsed as a hello object, or NULL. */
static json_t *parse_hello(const char *text)
{
    while (text && *text) {
        const char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t)(nl - text) : strlen(text);
        if (len && strspn(text, " \t\r") < len) {
            json_t *h = json_loadb(text, len, 0, NULL);
            if (json_is_object(h) && json_is_string(json_object_get(h, "client")))
                return h;
            json_decref(h);
            return NULL;
        }
        text = nl ? nl + 1 : NULL;
    }
    return NULL;
}

int rn_client_probe(const char *clients_dir, const char *name, const rn_paths *paths,
                    int describe_timeout_ms, rn_client *out)
{
    pgtls_err err;
    char **argv = NULL, *sout = NULL, *serr = NULL, *how = NULL;
    int status = 0;

    memset(out, 0, sizeof(*out));
    err_clear(&err);
    out->name = strdup(name);
    if (!out->name)
        return -1;
    out->manifest = rn_manifest_load(clients_dir, name, paths, &err);
    if (!out->manifest) {
        out->unusable = strdup(err.msg);
        goto done;
    }
    if (rn_manifest_check_exec(out->manifest, &err) < 0) {
        out->unusable = strdup(err.msg);
        goto done;
    }
    argv = calloc(out->manifest->num_argv + 2, sizeof(char *));
    if (!argv)
        return -1;
    memcpy(argv, out->manifest->argv, out->manifest->num_argv * sizeof(char *));
    argv[out->manifest->num_argv] = "--describe";
    if (rn_run_collect(argv, NULL, describe_timeout_ms, &sout, &serr, &status, &err) < 0) {
        out->unusable = str_printf("--describe: %s", err.msg);
        goto done;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        how = rn_wait_status_text(status);
        out->unusable = str_printf("--describe failed (%s)%s%s", how ? how : "?",
                                   serr && *serr ? ": " : "", serr ? serr : "");
        goto done;
    }
    out->hello = parse_hello(sout);
    if (!out->hello) {
        out->unusable = str_printf("--describe printed no hello line with \"client\" "
                                   "(docs/case-protocol.md): %.200s",
                                   sout ? sout : "");
    } else if (!json_is_string(json_object_get(out->hello, "version"))) {
        /* The protocol's "version" is the driver's version as loaded at run
         * time: without it the adapter could not load its driver, and every
         * case would fail for that reason alone. */
        out->unusable = str_printf("--describe reports no driver \"version\" (is the driver "
                                   "installed?%s%s)%s%.200s",
                                   out->manifest->install ? " install it: " : "",
                                   out->manifest->install ? out->manifest->install : "",
                                   serr && *serr ? ": " : "", serr ? serr : "");
        json_decref(out->hello);
        out->hello = NULL;
    }
done:
    /* Trim a trailing newline from stderr-derived reasons for one-line output. */
    if (out->unusable) {
        size_t n = strlen(out->unusable);
        while (n && (out->unusable[n - 1] == '\n' || out->unusable[n - 1] == '\r'))
            out->unusable[--n] = '\0';
        /* One line, and short: the start of a stack trace names the problem. */
        char *w = out->unusable;
        for (const char *p = out->unusable; *p; p++) {
            char ch = (*p == '\n' || *p == '\t' || *p == '\r') ? ' ' : *p;
            if (ch == ' ' && w > out->unusable && w[-1] == ' ')
                continue;
            *w++ = ch;
        }
        *w = '\0';
        if (w - out->unusable > 300)
            strcpy(out->unusable + 296, " ...");
    }
    free(argv);
    free(sout);
    free(serr);
    free(how);
    return (out->unusable || out->hello) ? 0 : -1;
}

typedef struct probe_job {
    const char *clients_dir;
    char *const *names;
    const rn_paths *paths;
    int timeout_ms;
    rn_client *out;
    size_t next, count;
    pthread_mutex_t mu;
} probe_job;

static void *probe_worker(void *arg)
{
    probe_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        size_t i = j->next++;
        pthread_mutex_unlock(&j->mu);
        if (i >= j->count)
            return NULL;
        if (rn_client_probe(j->clients_dir, j->names[i], j->paths, j->timeout_ms, &j->out[i]) < 0 &&
            !j->out[i].unusable)
            j->out[i].unusable = strdup("out of memory");
    }
}

int rn_client_probe_all(const char *clients_dir, char *const *names, const rn_paths *paths,
                        int describe_timeout_ms, int jobs, rn_client *out)
{
    probe_job j = {.clients_dir = clients_dir,
                   .names = names,
                   .paths = paths,
                   .timeout_ms = describe_timeout_ms,
                   .out = out};
    pthread_t threads[16];
    int started = 0;

    while (names[j.count])
        j.count++;
    memset(out, 0, j.count * sizeof(*out));
    pthread_mutex_init(&j.mu, NULL);
    if (jobs < 1)
        jobs = 1;
    if (jobs > 16)
        jobs = 16;
    for (int i = 0; i < jobs && (size_t)i < j.count; i++)
        if (pthread_create(&threads[started], NULL, probe_worker, &j) == 0)
            started++;
    if (started == 0)
        probe_worker(&j);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    pthread_mutex_destroy(&j.mu);
    return 0;
}

/* Registry names of the drivers that have version builds (docs/versions.md). */
static const struct {
    const char *registry, *adapter;
} registry_names[] = {
    {"pg", "node-postgres"},
    {"psycopg2-binary", "psycopg2"},
    {"org.postgresql:postgresql", "pgjdbc"},
    {"github.com/jackc/pgx/v5", "pgx"},
};

char *rn_client_resolve(const char *clients_dir, const char *name, const rn_paths *paths,
                        pgtls_err *err)
{
    const char *at = strrchr(name, '@');
    char *adapter = NULL, *folder = NULL, *out = NULL;
    char base[160];
    rn_client probe;

    if (!at) {
        /* a plain adapter name, or a registry name without a version */
        for (size_t i = 0; i < sizeof(registry_names) / sizeof(registry_names[0]); i++)
            if (strcmp(name, registry_names[i].registry) == 0 &&
                strcmp(name, registry_names[i].adapter) != 0) {
                char *dir = fs_join(clients_dir, registry_names[i].adapter);
                int have = dir && fs_exists(dir);
                free(dir);
                if (have)
                    return strdup(registry_names[i].adapter);
            }
        return strdup(name);
    }
    /* NAME@VERSION: the registry's name or the adapter's; "v" of a Go version dropped */
    adapter = strndup(name, (size_t)(at - name));
    if (!adapter)
        goto nomem;
    const char *version = at + 1;
    for (size_t i = 0; i < sizeof(registry_names) / sizeof(registry_names[0]); i++)
        if (strcmp(adapter, registry_names[i].registry) == 0) {
            free(adapter);
            adapter = strdup(registry_names[i].adapter);
            if (!adapter)
                goto nomem;
            if (strcmp(registry_names[i].adapter, "pgx") == 0 && version[0] == 'v')
                version++;
            break;
        }
    if (strcmp(adapter, "pgx") == 0 && version[0] == 'v')
        version++;
    folder = str_printf("%s@%s", adapter, version);
    if (!folder)
        goto nomem;
    if (!rn_client_name_ok(folder)) {
        err_set(err, PGTLS_ERR_USAGE,
                "--clients: '%s' is not a client name (NAME or NAME@VERSION; see pgtls clients)",
                name);
        goto out;
    }
    {
        char *dir = fs_join(clients_dir, folder);
        char *manifest = dir ? fs_join(dir, "adapter.json") : NULL;
        int have = manifest && fs_exists(manifest);
        free(manifest);
        free(dir);
        if (have) {
            out = folder;
            folder = NULL;
            goto out;
        }
    }
    /* No version build: the base adapter, when it loads that very version. */
    rn_client_base(folder, base, sizeof(base));
    {
        int same = 0;
        char *base_says = NULL;
        if (rn_client_probe(clients_dir, base, paths, 30000, &probe) == 0) {
            const char *loaded = json_string_value(json_object_get(probe.hello, "version"));
            if (loaded && loaded[0] == 'v')
                loaded++;
            same = !probe.unusable && loaded && strcmp(loaded, version) == 0;
            if (probe.unusable)
                base_says = str_printf("; %s is unusable: %.200s", base, probe.unusable);
            else if (loaded)
                base_says = str_printf("; %s loads %s", base, loaded);
        }
        rn_client_cleanup(&probe);
        if (same) {
            out = strdup(base);
            if (!out)
                goto nomem;
            goto out;
        }
        err_set(err, PGTLS_ERR_USAGE,
                "--clients: no client build %s in %s (add it: pgtls clients add %s)%s", folder,
                clients_dir, name, base_says ? base_says : "");
        free(base_says);
    }
    goto out;
nomem:
    err_set(err, PGTLS_ERR_NOMEM, "out of memory");
out:
    free(adapter);
    free(folder);
    return out;
}
