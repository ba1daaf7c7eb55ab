/* pgtls runner: adapter manifests (clients/<name>/adapter.json).
 *
 * A manifest says how to start an adapter; the adapter itself says what it
 * is (its hello line, docs/case-protocol.md). Unknown keys are ignored so
 * adapters can carry their own metadata; known keys are type-checked. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "rn.h"

#define RN_DEFAULT_STARTUP_TIMEOUT_MS 20000

void rn_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

char *rn_expand_placeholders(const char *s, const rn_paths *paths, const char *adapter_dir,
                             pgtls_err *err)
{
    size_t cap = strlen(s) + 1, len = 0;
    char *out = NULL;
    const char *p = s;

    /* @NAME@: the adapter's name (its folder's), which may hold an '@' itself
     * (a version build, "pgx@5.0.0", docs/versions.md) and so cannot be
     * written literally in argv. */
    static const char *const names[] = {"@BUILD@", "@SRC@", "@DIR@", "@NAME@"};
    const char *slash = adapter_dir ? strrchr(adapter_dir, '/') : NULL;
    const char *values[] = {paths ? paths->build_root : NULL, paths ? paths->source_root : NULL,
                            adapter_dir, adapter_dir ? (slash ? slash + 1 : adapter_dir) : NULL};
    for (size_t i = 0; i < 4; i++)
        if (values[i])
            cap += strlen(values[i]) * 4; /* generous: a few occurrences at most */
    out = malloc(cap);
    if (!out) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    while (*p) {
        if (*p != '@') {
            out[len++] = *p++;
            continue;
        }
        const char *end = strchr(p + 1, '@');
        size_t i;
        if (!end) {
            err_set(err, PGTLS_ERR_CONFIG,
                    "unterminated placeholder in '%s' (use @BUILD@, @SRC@, @DIR@ or @NAME@)", s);
            goto fail;
        }
        for (i = 0; i < 4; i++)
            if ((size_t)(end - p + 1) == strlen(names[i]) &&
                strncmp(p, names[i], strlen(names[i])) == 0)
                break;
        if (i == 4) {
            err_set(err, PGTLS_ERR_CONFIG,
                    "unknown placeholder %.*s in '%s' (use @BUILD@, @SRC@, @DIR@ or @NAME@)",
                    (int)(end - p + 1), p, s);
            goto fail;
        }
        if (!values[i]) {
            err_set(err, PGTLS_ERR_INTERNAL, "placeholder %s has no value", names[i]);
            goto fail;
        }
        size_t vlen = strlen(values[i]);
        if (len + vlen + strlen(end + 1) + 1 > cap) {
            cap = len + vlen + strlen(end + 1) + 1 + cap;
            char *grown = realloc(out, cap);
            if (!grown) {
                err_set(err, PGTLS_ERR_NOMEM, "out of memory");
                goto fail;
            }
            out = grown;
        }
        memcpy(out + len, values[i], vlen);
        len += vlen;
        p = end + 1;
    }
    out[len] = '\0';
    return out;
fail:
    free(out);
    return NULL;
}

void rn_manifest_free(rn_manifest *m)
{
    if (!m)
        return;
    free(m->name);
    free(m->dir);
    free(m->description);
    free(m->install);
    free(m->default_trust_untranslatable);
    rn_strv_free(m->requires);
    rn_strv_free(m->argv);
    free(m);
}

rn_manifest *rn_manifest_parse(const char *json_text, const char *origin, const char *name,
                               const char *adapter_dir, const rn_paths *paths, pgtls_err *err)
{
    json_error_t jerr;
    json_t *root = json_loads(json_text, 0, &jerr);
    rn_manifest *m = NULL, *result = NULL;
    json_t *v;

    ENSURE(root, err, PGTLS_ERR_CONFIG, "%s:%d: not valid JSON: %s", origin, jerr.line, jerr.text);
    ENSURE(json_is_object(root), err, PGTLS_ERR_CONFIG, "%s: must hold a JSON object", origin);
    m = calloc(1, sizeof(*m));
    ENSURE(m, err, PGTLS_ERR_NOMEM, "out of memory");
    m->name = strdup(name);
    m->dir = strdup(adapter_dir);
    ENSURE(m->name && m->dir, err, PGTLS_ERR_NOMEM, "out of memory");
    m->startup_timeout_ms = RN_DEFAULT_STARTUP_TIMEOUT_MS;

    v = json_object_get(root, "protocol");
    if (v) {
        ENSURE(json_is_integer(v), err, PGTLS_ERR_CONFIG, "%s: \"protocol\" must be an integer",
               origin);
        ENSURE(json_integer_value(v) == 1, err, PGTLS_ERR_CONFIG,
               "%s: the adapter speaks case protocol %lld; this runner speaks 1 "
               "(docs/case-protocol.md)",
               origin, (long long)json_integer_value(v));
    }
    v = json_object_get(root, "name");
    if (v) {
        ENSURE(json_is_string(v), err, PGTLS_ERR_CONFIG, "%s: \"name\" must be a string", origin);
        ENSURE(strcmp(json_string_value(v), name) == 0, err, PGTLS_ERR_CONFIG,
               "%s: \"name\" is '%s' but the folder is '%s' (they must match)", origin,
               json_string_value(v), name);
    }
    v = json_object_get(root, "description");
    if (v) {
        ENSURE(json_is_string(v), err, PGTLS_ERR_CONFIG, "%s: \"description\" must be a string",
               origin);
        m->description = strdup(json_string_value(v));
        ENSURE(m->description, err, PGTLS_ERR_NOMEM, "out of memory");
    }
    v = json_object_get(root, "install");
    if (v) {
        ENSURE(json_is_string(v), err, PGTLS_ERR_CONFIG, "%s: \"install\" must be a string",
               origin);
        m->install = rn_expand_placeholders(json_string_value(v), paths, adapter_dir, err);
        if (!m->install) {
            err_prefix(err, "%s: \"install\"", origin);
            goto out;
        }
    }
    v = json_object_get(root, "argv");
    ENSURE(v, err, PGTLS_ERR_CONFIG,
           "%s: \"argv\" is missing (the command that starts the adapter in batch mode)", origin);
    ENSURE(json_is_array(v) && json_array_size(v) > 0, err, PGTLS_ERR_CONFIG,
           "%s: \"argv\" must be a non-empty array of strings", origin);
    m->num_argv = json_array_size(v);
    m->argv = calloc(m->num_argv + 1, sizeof(char *));
    ENSURE(m->argv, err, PGTLS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < m->num_argv; i++) {
        json_t *a = json_array_get(v, i);
        ENSURE(json_is_string(a) && json_string_length(a) > 0, err, PGTLS_ERR_CONFIG,
               "%s: \"argv\"[%zu] must be a non-empty string", origin, i);
        m->argv[i] = rn_expand_placeholders(json_string_value(a), paths, adapter_dir, err);
        if (!m->argv[i]) {
            err_prefix(err, "%s: \"argv\"[%zu]", origin, i);
            goto out;
        }
    }
    v = json_object_get(root, "requires");
    ENSURE(!v || json_is_array(v), err, PGTLS_ERR_CONFIG,
           "%s: \"requires\" must be an array of program names", origin);
    m->requires = calloc((v ? json_array_size(v) : 0) + 1, sizeof(char *));
    ENSURE(m->requires, err, PGTLS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; v && i < json_array_size(v); i++) {
        json_t *a = json_array_get(v, i);
        ENSURE(json_is_string(a) && json_string_length(a) > 0, err, PGTLS_ERR_CONFIG,
               "%s: \"requires\"[%zu] must be a non-empty string", origin, i);
        m->requires[i] = strdup(json_string_value(a));
        ENSURE(m->requires[i], err, PGTLS_ERR_NOMEM, "out of memory");
    }
    v = json_object_get(root, "startup_timeout_ms");
    if (v) {
        ENSURE(json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= 600000,
               err, PGTLS_ERR_CONFIG,
               "%s: \"startup_timeout_ms\" must be an integer between 1 and 600000", origin);
        m->startup_timeout_ms = (int)json_integer_value(v);
    }
    v = json_object_get(root, "tls_only");
    if (v) {
        ENSURE(json_is_boolean(v), err, PGTLS_ERR_CONFIG, "%s: \"tls_only\" must be true or false",
               origin);
        m->tls_only = json_is_true(v);
    }
    v = json_object_get(root, "default_trust_untranslatable");
    if (v) {
        ENSURE(json_is_string(v) && json_string_length(v) > 0, err, PGTLS_ERR_CONFIG,
               "%s: \"default_trust_untranslatable\" must be a non-empty string (the reason)",
               origin);
        m->default_trust_untranslatable = strdup(json_string_value(v));
        ENSURE(m->default_trust_untranslatable, err, PGTLS_ERR_NOMEM, "out of memory");
    }
    result = m;
    m = NULL;
out:
    rn_manifest_free(m);
    json_decref(root);
    return result;
}

static int name_chars_ok(const char *s, size_t n, const char *more)
{
    if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
                    (s[0] >= '0' && s[0] <= '9')))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || (c && strchr(more, c))))
            return 0;
    }
    return 1;
}

int rn_client_name_ok(const char *name)
{
    const char *at = name ? strchr(name, '@') : NULL;
    if (!name || strlen(name) > 128)
        return 0;
    if (!at)
        return name_chars_ok(name, strlen(name), "");
    return name_chars_ok(name, (size_t)(at - name), "") &&
           name_chars_ok(at + 1, strlen(at + 1), "+");
}

const char *rn_client_base(const char *name, char *buf, size_t cap)
{
    const char *at = strchr(name, '@');
    size_t n = at ? (size_t)(at - name) : strlen(name);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, name, n);
    buf[n] = '\0';
    return buf;
}

rn_manifest *rn_manifest_load(const char *clients_dir, const char *name, const rn_paths *paths,
                              pgtls_err *err)
{
    char *dir = NULL, *path = NULL, *text = NULL;
    rn_manifest *m = NULL;

    if (!rn_client_name_ok(name)) {
        err_set(err, PGTLS_ERR_INPUT,
                "'%s' is not an adapter name (letters, digits, '.', '_', '-', optionally "
                "'@VERSION'; see pgtls clients)",
                name);
        return NULL;
    }
    dir = fs_join(clients_dir, name);
    path = dir ? fs_join(dir, "adapter.json") : NULL;
    if (!path) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (fs_read_file(path, 1 << 20, &text, NULL, err) < 0)
        goto out;
    m = rn_manifest_parse(text, path, name, dir, paths, err);
out:
    free(text);
    free(path);
    free(dir);
    return m;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int rn_manifest_list(const char *clients_dir, char ***out_names, pgtls_err *err)
{
    DIR *d = opendir(clients_dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int result = -1;

    *out_names = NULL;
    ENSURE(d, err, PGTLS_ERR_IO, "cannot list adapters in %s: %s", clients_dir, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || !rn_client_name_ok(de->d_name))
            continue;
        char *manifest = str_printf("%s/%s/adapter.json", clients_dir, de->d_name);
        ENSURE(manifest, err, PGTLS_ERR_NOMEM, "out of memory");
        int exists = fs_exists(manifest);
        free(manifest);
        if (!exists)
            continue;
        if (n + 2 > cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(names, cap * sizeof(char *));
            ENSURE(grown, err, PGTLS_ERR_NOMEM, "out of memory");
            names = grown;
        }
        names[n] = strdup(de->d_name);
        ENSURE(names[n], err, PGTLS_ERR_NOMEM, "out of memory");
        names[++n] = NULL;
    }
    if (n > 1)
        qsort(names, n, sizeof(char *), cmp_str);
    if (!names) {
        names = calloc(1, sizeof(char *));
        ENSURE(names, err, PGTLS_ERR_NOMEM, "out of memory");
    }
    *out_names = names;
    names = NULL;
    result = (int)n;
out:
    if (d)
        closedir(d);
    rn_strv_free(names);
    return result;
}

static int is_exec_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static int in_path(const char *prog)
{
    const char *path_env = getenv("PATH");
    char *copy = strdup(path_env ? path_env : "/usr/bin:/bin");
    int found = 0;
    if (!copy)
        return 0;
    for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir && !found;
         dir = strtok_r(NULL, ":", &save)) {
        char *cand = fs_join(*dir ? dir : ".", prog);
        found = cand && is_exec_file(cand);
        free(cand);
    }
    free(copy);
    return found;
}

int rn_manifest_check_exec(const rn_manifest *m, pgtls_err *err)
{
    const char *prog = m->argv[0];
    for (char **r = m->requires; r && *r; r++)
        if (strchr(*r, '/') ? !is_exec_file(*r) : !in_path(*r))
            return err_set(err, PGTLS_ERR_CONFIG,
                           "it requires %s, which is not installed (not found in PATH)", *r);
    if (strchr(prog, '/')) {
        if (is_exec_file(prog))
            return 0;
        if (!fs_exists(prog)) {
            if (m->install)
                return err_set(err, PGTLS_ERR_CONFIG, "%s does not exist (install it: %s)", prog,
                               m->install);
            return err_set(err, PGTLS_ERR_CONFIG, "%s does not exist (build it: ninja -C build)",
                           prog);
        }
        return err_set(err, PGTLS_ERR_CONFIG, "%s is not an executable file", prog);
    }
    if (in_path(prog))
        return 0;
    return err_set(err, PGTLS_ERR_CONFIG, "%s is not installed (not found in PATH)", prog);
}
