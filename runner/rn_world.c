/* pgtls runner: trust worlds (docs/trust-worlds.md).
 *
 * One world per run: the host's OS trust store (/etc/ssl/certs: the bundle
 * OpenSSL's default file points at, the hashed folder it and Go read, and
 * Debian's Java cacerts below it) and every JDK cacerts that is its own file,
 * each read and translated (certs-gen/ca_translate.h) into the run's work
 * folder. Adapters start through pgtls-world, which bind-mounts the
 * translated copies over the real paths in a private mount namespace. Node
 * keeps its roots compiled in: it gets the twins of exactly the roots its own
 * tls.rootCertificates holds, through NODE_EXTRA_CA_CERTS, as a user adds CAs.
 * The host's files are only read. */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ca.h"
#include "ca_translate.h"
#include "fs.h"
#include "rn.h"

#define OS_CERTS_DIR "/etc/ssl/certs"
#define OS_BUNDLE OS_CERTS_DIR "/ca-certificates.crt"
#define OS_JAVA_CACERTS OS_CERTS_DIR "/java/cacerts"
#define JDK_CACERTS_GLOB "/usr/lib/jvm/*/lib/security/cacerts"

typedef struct node_extra {
    char *node;  /* the node binary as the manifest names it */
    char *file;  /* NODE_EXTRA_CA_CERTS for it, NULL when no twin applies */
    char *error; /* why its bundle could not be read, or NULL */
    size_t num_roots, num_twinned;
} node_extra;

struct rn_world {
    char *dir;
    char *helper;
    ca_twins *twins;
    STACK_OF(X509) *os_translated; /* the translated OS bundle */
    char **binds;                  /* "SRC=DST" */
    size_t num_binds;
    node_extra *nodes;
    size_t num_nodes;
    char *summary;
};

static int add_bind(rn_world *w, const char *src, const char *dst, pgtls_err *err)
{
    char **b = realloc(w->binds, (w->num_binds + 2) * sizeof(char *));
    if (!b)
        return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    w->binds = b;
    w->binds[w->num_binds] = str_printf("%s=%s", src, dst);
    if (!w->binds[w->num_binds])
        return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    w->num_binds++;
    return 0;
}

/* ca_store_read (ca.h) in this file's calling convention. */
static int read_store(const char *path, const char *password, STACK_OF(X509) **out,
                      pgtls_err *err)
{
    char format[64];
    *out = ca_store_read(path, password, format, sizeof(format), err);
    return *out ? 0 : -1;
}

/* Reads, translates and writes one store (Java stores open with the JDK's
 * documented default password, changeit). */
static int translate_file(const rn_world *w, const char *in, const char *out, int p12,
                          size_t *out_twinned, pgtls_err *err)
{
    STACK_OF(X509) *store = NULL;
    ca_translation tr;
    int result = -1;

    memset(&tr, 0, sizeof(tr));
    if (read_store(in, p12 ? "changeit" : NULL, &store, err) < 0)
        goto out;
    TRY(ca_translate(w->twins, store, CA_TRANSLATE_REPLACE, &tr, err));
    TRY(p12 ? ca_store_write_p12(tr.certs, NULL, out, err) : ca_store_write_pem(tr.certs, out, err));
    if (out_twinned)
        *out_twinned = tr.num_twinned;
    result = 0;
out:
    if (result < 0)
        err_prefix(err, "trust world: %s", in);
    ca_translation_cleanup(&tr);
    sk_X509_pop_free(store, X509_free);
    return result;
}

static int build_os_store(rn_world *w, pgtls_err *err)
{
    STACK_OF(X509) *bundle = NULL, *hashed = NULL;
    ca_translation tb, th;
    char *certs = fs_join(w->dir, "etc-ssl-certs"), *path = NULL, *java = NULL;
    int result = -1;
    size_t java_twinned = 0;

    memset(&tb, 0, sizeof(tb));
    memset(&th, 0, sizeof(th));
    ENSURE(certs, err, PGTLS_ERR_NOMEM, "out of memory");
    /* The folder as OpenSSL's hashed lookup and Go read it ... */
    if (ca_store_read_dir(OS_CERTS_DIR, &hashed, err) < 0 ||
        ca_translate(w->twins, hashed, CA_TRANSLATE_REPLACE, &th, err) < 0 ||
        ca_store_write_hashed_dir(th.certs, certs, err) < 0) {
        err_prefix(err, "trust world: %s", OS_CERTS_DIR);
        goto out;
    }
    /* ... and the bundle OpenSSL's default file (OPENSSLDIR/cert.pem) links to. */
    if (read_store(OS_BUNDLE, NULL, &bundle, err) < 0 ||
        ca_translate(w->twins, bundle, CA_TRANSLATE_REPLACE, &tb, err) < 0) {
        err_prefix(err, "trust world");
        goto out;
    }
    path = fs_join(certs, "ca-certificates.crt");
    ENSURE(path, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY(ca_store_write_pem(tb.certs, path, err));
    w->os_translated = tb.certs;
    tb.certs = NULL;
    if (fs_exists(OS_JAVA_CACERTS)) {
        char *jdir = fs_join(certs, "java");
        ENSURE(jdir, err, PGTLS_ERR_NOMEM, "out of memory");
        java = fs_join(jdir, "cacerts");
        if (fs_mkdir_p(jdir, 0755, err) < 0) {
            free(jdir);
            goto out;
        }
        free(jdir);
        ENSURE(java, err, PGTLS_ERR_NOMEM, "out of memory");
        TRY(translate_file(w, OS_JAVA_CACERTS, java, 1, &java_twinned, err));
    }
    TRY(add_bind(w, certs, OS_CERTS_DIR, err));
    w->summary = str_printf("%s: %zu certificates, %zu replaced by their look-alike twins%s",
                            OS_BUNDLE, tb.num_entries, tb.num_twinned,
                            java ? "; java/cacerts translated" : "");
    result = 0;
out:
    ca_translation_cleanup(&tb);
    ca_translation_cleanup(&th);
    sk_X509_pop_free(bundle, X509_free);
    sk_X509_pop_free(hashed, X509_free);
    free(certs);
    free(path);
    free(java);
    return result;
}

/* A JDK whose cacerts is its own file (not Debian's link to
 * /etc/ssl/certs/java/cacerts) gets a translated copy bound over it. */
static int build_jdk_stores(rn_world *w, pgtls_err *err)
{
    glob_t g;
    int result = -1;

    memset(&g, 0, sizeof(g));
    if (glob(JDK_CACERTS_GLOB, 0, NULL, &g) != 0)
        return 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct stat sb;
        char *out;
        if (lstat(g.gl_pathv[i], &sb) != 0 || !S_ISREG(sb.st_mode))
            continue; /* a link into /etc/ssl/certs/java: the OS store covers it */
        out = str_printf("%s/jdk-cacerts-%zu.p12", w->dir, i);
        ENSURE(out, err, PGTLS_ERR_NOMEM, "out of memory");
        if (translate_file(w, g.gl_pathv[i], out, 1, NULL, err) < 0 ||
            add_bind(w, out, g.gl_pathv[i], err) < 0) {
            free(out);
            goto out;
        }
        free(out);
    }
    result = 0;
out:
    globfree(&g);
    return result;
}

rn_world *rn_world_new(const char *fixtures_dir, const char *work_dir, const char *helper,
                       pgtls_err *err)
{
    rn_world *w = calloc(1, sizeof(*w)), *result = NULL;

    ENSURE(w, err, PGTLS_ERR_NOMEM, "out of memory");
    ENSURE(access(helper, X_OK) == 0, err, PGTLS_ERR_CONFIG,
           "trust world: %s is missing (build it: ninja -C build)", helper);
    w->helper = strdup(helper);
    w->dir = fs_join(work_dir, "world");
    ENSURE(w->helper && w->dir, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY(fs_mkdir_p(w->dir, 0755, err));
    w->twins = ca_twins_load(fixtures_dir, err);
    if (!w->twins)
        goto out;
    TRY(build_os_store(w, err));
    TRY(build_jdk_stores(w, err));
    result = w;
    w = NULL;
out:
    rn_world_free(w);
    return result;
}

void rn_world_free(rn_world *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->num_binds; i++)
        free(w->binds[i]);
    free(w->binds);
    for (size_t i = 0; i < w->num_nodes; i++) {
        free(w->nodes[i].node);
        free(w->nodes[i].file);
        free(w->nodes[i].error);
    }
    free(w->nodes);
    sk_X509_pop_free(w->os_translated, X509_free);
    ca_twins_free(w->twins);
    free(w->dir);
    free(w->helper);
    free(w->summary);
    free(w);
}

const char *rn_world_summary(const rn_world *w)
{
    return w && w->summary ? w->summary : "";
}

/* Node.js, or Bun: Bun compiles in the same kind of root list, exposes it as
 * tls.rootCertificates and adds NODE_EXTRA_CA_CERTS to it (for Bun.SQL too:
 * measured with Bun 1.4.5, clients/bun-sql). */
static int is_node(const char *argv0)
{
    const char *base = strrchr(argv0, '/');
    base = base ? base + 1 : argv0;
    return strcmp(base, "node") == 0 || strcmp(base, "nodejs") == 0 || strcmp(base, "bun") == 0;
}

/* The twins of the roots this Node holds in tls.rootCertificates (read by
 * running that very binary), written as its NODE_EXTRA_CA_CERTS file. */
static node_extra *node_extra_for(rn_world *w, const char *node, pgtls_err *err)
{
    static const char *const script =
        "process.stdout.write(require('tls').rootCertificates.join('\\n') + '\\n')";
    char *argv[4] = {(char *)node, "-e", (char *)script, NULL};
    char *out = NULL, *errtext = NULL, *pem = NULL;
    int status = -1;
    STACK_OF(X509) *roots = NULL, *extra = sk_X509_new_null();
    ca_translation tr;
    node_extra *ne, *grown;
    pgtls_err local;

    memset(&tr, 0, sizeof(tr));
    for (size_t i = 0; i < w->num_nodes; i++)
        if (strcmp(w->nodes[i].node, node) == 0) {
            sk_X509_free(extra);
            return &w->nodes[i];
        }
    grown = realloc(w->nodes, (w->num_nodes + 1) * sizeof(*w->nodes));
    if (!grown || !extra) {
        sk_X509_free(extra);
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    w->nodes = grown;
    ne = &w->nodes[w->num_nodes++];
    memset(ne, 0, sizeof(*ne));
    ne->node = strdup(node);
    err_clear(&local);
    if (rn_run_collect(argv, NULL, 20000, &out, &errtext, &status, &local) < 0 ||
        !WIFEXITED(status) || WEXITSTATUS(status) != 0 || !out || !*out) {
        ne->error = str_printf("cannot read the bundled roots of %s (tls.rootCertificates): %s "
                               "(check that this Node.js runs)",
                               node, local.msg[0] ? local.msg : errtext ? errtext : "no output");
        goto out;
    }
    pem = str_printf("%s/node-roots-%zu.pem", w->dir, w->num_nodes);
    if (!pem || fs_write_file(pem, out, strlen(out), 0644, &local) < 0 ||
        read_store(pem, NULL, &roots, &local) < 0 ||
        ca_translate(w->twins, roots, CA_TRANSLATE_REPLACE, &tr, &local) < 0) {
        ne->error = str_printf("cannot translate the bundled roots of %s: %s", node, local.msg);
        goto out;
    }
    ne->num_roots = tr.num_entries;
    ne->num_twinned = tr.num_twinned;
    /* Only the twins: Node keeps its compiled-in roots and adds these. */
    for (size_t i = 0; i < tr.num_entries; i++)
        if (tr.entries[i].twin) {
            X509 *t = NULL;
            ca_twin_of(w->twins, sk_X509_value(roots, (int)i), &t);
            if (t)
                sk_X509_push(extra, t); /* borrowed from the twins */
        }
    if (sk_X509_num(extra) > 0) {
        ne->file = str_printf("%s/node-extra-ca-%zu.pem", w->dir, w->num_nodes);
        if (!ne->file || ca_store_write_pem(extra, ne->file, &local) < 0) {
            ne->error = str_printf("cannot write the Node.js extra CA file: %s", local.msg);
            goto out;
        }
    }
out:
    ca_translation_cleanup(&tr);
    sk_X509_pop_free(roots, X509_free);
    sk_X509_free(extra);
    free(out);
    free(errtext);
    free(pem);
    return ne;
}

char **rn_world_argv(rn_world *w, char *const *argv, char **out_error, pgtls_err *err)
{
    size_t n = 0, k = 0;
    char **v;
    node_extra *ne = NULL;

    *out_error = NULL;
    for (char *const *p = argv; *p; p++)
        n++;
    if (n && is_node(argv[0])) {
        ne = node_extra_for(w, argv[0], err);
        if (!ne)
            return NULL;
        if (ne->error) {
            *out_error = strdup(ne->error);
            if (!*out_error) {
                err_set(err, PGTLS_ERR_NOMEM, "out of memory");
                return NULL;
            }
        }
    }
    v = calloc(n + 2 * w->num_binds + 5, sizeof(char *));
    if (!v) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    v[k++] = strdup(w->helper);
    for (size_t i = 0; i < w->num_binds; i++) {
        v[k++] = strdup("--bind");
        v[k++] = strdup(w->binds[i]);
    }
    if (ne && ne->file) {
        v[k++] = strdup("--setenv");
        v[k++] = str_printf("NODE_EXTRA_CA_CERTS=%s", ne->file);
    }
    v[k++] = strdup("--");
    for (size_t i = 0; i < n; i++)
        v[k++] = strdup(argv[i]);
    for (size_t i = 0; i < k; i++)
        if (!v[i]) {
            rn_strv_free(v);
            err_set(err, PGTLS_ERR_NOMEM, "out of memory");
            return NULL;
        }
    return v;
}

int rn_world_verify_os(const rn_world *w, const char *chain_pem, char *out, size_t out_len,
                       pgtls_err *err)
{
    STACK_OF(X509) *chain = NULL;
    int result = -1;

    TRY(read_store(chain_pem, NULL, &chain, err));
    TRY(ca_store_verify_chain(chain, w->os_translated, out, out_len, err));
    result = 0;
out:
    sk_X509_pop_free(chain, X509_free);
    return result;
}
