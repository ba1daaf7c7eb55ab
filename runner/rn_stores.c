/* pgtls runner: `pgtls stores`, real trust-store snapshots (docs/trust-worlds.md).
 *
 * Lists the dated real stores found on this host (Debian's ca-certificates
 * in use, its Java cacerts and any standalone JDK cacerts, each installed
 * Node.js's bundled roots, the pinned certifi releases under stores/certifi,
 * and any file the user names), which Azure roots each holds (by its
 * look-alike twin: read from the store, never from a list of names), and
 * each store's verdict on the old, new, short and China chains once
 * translated into the look-alike world. */
#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ca.h"
#include "ca_translate.h"
#include "fixtures.h"
#include "fs.h"
#include "paths.h"
#include "rn.h"

static const struct {
    const char *twin, *label;
} azure_roots[] = {
    {"digicert-global-root-g2", "G2"},
    {"ms-rsa-root-2017", "MS2017"},
    {"digicert-global-root-ca", "DGCA"},
    {"ms-tls-rsa-root-g2", "MSTLSG2"},
    {"baltimore-cybertrust-root", "Balt"},
};
#define NUM_ROOTS (sizeof(azure_roots) / sizeof(*azure_roots))

static const struct {
    const char *scenario, *label;
} chains[] = {
    {"azure-old", "old"},
    {"azure-new", "new"},
    {"azure-new-short", "short"},
    {"china-old", "china-old"},
    {"china-new", "china-new"},
};
#define NUM_CHAINS (sizeof(chains) / sizeof(*chains))

typedef struct snapshot {
    char *name;   /* kind@version */
    char *path;   /* the file read */
    char *source; /* where it comes from, one line */
} snapshot;

typedef struct snaplist {
    snapshot *v;
    size_t n;
} snaplist;

static void snap_add(snaplist *l, char *name, const char *path, const char *source)
{
    snapshot *g = realloc(l->v, (l->n + 1) * sizeof(*g));
    if (!g || !name) {
        free(name);
        return;
    }
    l->v = g;
    l->v[l->n].name = name;
    l->v[l->n].path = strdup(path);
    l->v[l->n].source = strdup(source);
    l->n++;
}

/* First line of a program's stdout, or NULL. */
static char *first_line(char *const *argv)
{
    char *out = NULL, *errtext = NULL;
    int status = -1;
    pgtls_err err;
    err_clear(&err);
    if (rn_run_collect(argv, NULL, 20000, &out, &errtext, &status, &err) < 0 ||
        !WIFEXITED(status) || WEXITSTATUS(status) != 0 || !out) {
        free(out);
        free(errtext);
        return NULL;
    }
    free(errtext);
    out[strcspn(out, "\n")] = '\0';
    return out;
}

static char *dpkg_version(const char *pkg)
{
    char *argv[] = {"dpkg-query", "-W", "-f", "${Version}", (char *)pkg, NULL};
    return first_line(argv);
}

static void find_os_stores(snaplist *l)
{
    glob_t g;
    if (fs_exists("/etc/ssl/certs/ca-certificates.crt")) {
        char *v = dpkg_version("ca-certificates");
        snap_add(l, str_printf("debian-ca-certificates@%s", v ? v : "unknown"),
                 "/etc/ssl/certs/ca-certificates.crt", "the OS store in use");
        free(v);
    }
    if (fs_exists("/etc/ssl/certs/java/cacerts")) {
        char *v = dpkg_version("ca-certificates-java");
        snap_add(l, str_printf("ca-certificates-java@%s", v ? v : "unknown"),
                 "/etc/ssl/certs/java/cacerts", "Debian's JDK cacerts (JKS)");
        free(v);
    }
    memset(&g, 0, sizeof(g));
    if (glob("/usr/lib/jvm/*/lib/security/cacerts", 0, NULL, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; i++) {
            struct stat sb;
            char jdk[256];
            const char *p = g.gl_pathv[i] + strlen("/usr/lib/jvm/");
            if (lstat(g.gl_pathv[i], &sb) != 0 || !S_ISREG(sb.st_mode))
                continue;
            snprintf(jdk, sizeof(jdk), "%.*s", (int)strcspn(p, "/"), p);
            snap_add(l, str_printf("jdk-cacerts@%s", jdk), g.gl_pathv[i], "a JDK's own cacerts");
        }
    globfree(&g);
}

/* Each distinct Node.js an adapter starts: its compiled-in roots. */
static void find_node_stores(snaplist *l, const char *clients_dir, const rn_paths *paths,
                             const char *tmp)
{
    char **names = NULL;
    char **seen = calloc(64, sizeof(char *));
    size_t num_seen = 0;
    pgtls_err err;

    err_clear(&err);
    if (!seen || rn_manifest_list(clients_dir, &names, &err) < 0) {
        free(seen);
        return;
    }
    for (char **n = names; *n && num_seen < 63; n++) {
        rn_manifest *m = rn_manifest_load(clients_dir, *n, paths, &err);
        const char *base;
        int dup = 0;
        if (!m)
            continue;
        base = strrchr(m->argv[0], '/');
        base = base ? base + 1 : m->argv[0];
        for (size_t i = 0; i < num_seen; i++)
            dup |= strcmp(seen[i], m->argv[0]) == 0;
        if (strcmp(base, "node") == 0 && !dup) {
            char *argv[] = {m->argv[0], "-e",
                            "process.stdout.write(process.version + '\\n' + "
                            "require('tls').rootCertificates.join('\\n') + '\\n')",
                            NULL};
            char *out = NULL, *errtext = NULL;
            int status = -1;
            seen[num_seen++] = strdup(m->argv[0]);
            if (rn_run_collect(argv, NULL, 20000, &out, &errtext, &status, &err) == 0 &&
                WIFEXITED(status) && WEXITSTATUS(status) == 0 && out) {
                size_t vlen = strcspn(out, "\n");
                char *ver = strndup(out, vlen);
                char *file = str_printf("%s/node-%s.pem", tmp, ver ? ver : "x");
                if (ver && file && out[vlen] &&
                    fs_write_file(file, out + vlen + 1, strlen(out + vlen + 1), 0644, &err) == 0) {
                    char *src = str_printf("tls.rootCertificates of %s", m->argv[0]);
                    snap_add(l, str_printf("node@%s", ver + (ver[0] == 'v')), file,
                             src ? src : "node");
                    free(src);
                }
                free(ver);
                free(file);
            }
            free(out);
            free(errtext);
        }
        rn_manifest_free(m);
    }
    for (size_t i = 0; i < num_seen; i++)
        free(seen[i]);
    free(seen);
    rn_strv_free(names);
}

static void find_certifi_stores(snaplist *l, const char *source_root)
{
    char *pattern = str_printf("%s/stores/certifi/*/certifi/cacert.pem", source_root);
    glob_t g;
    memset(&g, 0, sizeof(g));
    if (pattern && glob(pattern, 0, NULL, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; i++) {
            const char *p = g.gl_pathv[i] + strlen(source_root) + strlen("/stores/certifi/");
            char ver[64];
            snprintf(ver, sizeof(ver), "%.*s", (int)strcspn(p, "/"), p);
            snap_add(l, str_printf("certifi@%s", ver), g.gl_pathv[i],
                     "PyPI certifi, pinned in stores/certifi");
        }
    globfree(&g);
    free(pattern);
}

/* One snapshot's row: JSON with roots held and verdicts. */
static json_t *assess(const snapshot *s, const ca_twins *tw, const fx_index *idx)
{
    json_t *row = json_pack("{s:s, s:s, s:s}", "name", s->name, "path", s->path, "source",
                            s->source);
    json_t *roots = json_object(), *verdicts = json_object();
    char format[64];
    pgtls_err err;
    STACK_OF(X509) *store;
    ca_translation tr;

    memset(&tr, 0, sizeof(tr));
    err_clear(&err);
    store = ca_store_read(s->path, strstr(s->name, "cacerts") ? "changeit" : NULL, format,
                          sizeof(format), &err);
    if (!store || ca_translate(tw, store, CA_TRANSLATE_REPLACE, &tr, &err) < 0) {
        json_object_set_new(row, "error", json_string(err.msg));
        goto out;
    }
    json_object_set_new(row, "certificates", json_integer((json_int_t)tr.num_entries));
    for (size_t r = 0; r < NUM_ROOTS; r++) {
        int held = 0;
        for (size_t i = 0; i < tr.num_entries; i++)
            held |= (tr.entries[i].twin && strcmp(tr.entries[i].twin, azure_roots[r].twin) == 0) ||
                    (tr.entries[i].lookalike &&
                     strcmp(tr.entries[i].lookalike, azure_roots[r].twin) == 0);
        json_object_set_new(roots, azure_roots[r].label, json_boolean(held));
    }
    for (size_t c = 0; c < NUM_CHAINS; c++) {
        const fx_scenario *sc = fx_scenario_find(idx, chains[c].scenario);
        STACK_OF(X509) *chain = NULL;
        char v[128] = "n/a";
        if (sc && sc->chain_pem) {
            chain = ca_store_read(sc->chain_pem, NULL, format, sizeof(format), &err);
            if (!chain || ca_store_verify_chain(chain, tr.certs, v, sizeof(v), &err) < 0)
                snprintf(v, sizeof(v), "error");
        }
        sk_X509_pop_free(chain, X509_free);
        json_object_set_new(verdicts, chains[c].label, json_string(v));
    }
out:
    json_object_set_new(row, "azure_roots", roots);
    json_object_set_new(row, "verdicts", verdicts);
    ca_translation_cleanup(&tr);
    sk_X509_pop_free(store, X509_free);
    return row;
}

int rn_cli_stores(int argc, char **argv)
{
    const char *fixtures = "out/fixtures";
    int as_json = 0, status = 2;
    snaplist l = {0};
    rn_paths paths = {.build_root = pgtls_exec_root(), .source_root = pgtls_data_root()};
    const char *env_clients = getenv("PGTLS_CLIENTS_DIR");
    char *clients_dir = env_clients && *env_clients ? strdup(env_clients)
                                                    : str_printf("%s/clients", pgtls_data_root());
    char tmp[] = "/tmp/pgtls-stores-XXXXXX";
    ca_twins *tw = NULL;
    fx_index *idx = NULL;
    json_t *rows = json_array();
    pgtls_err err;

    err_clear(&err);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: pgtls stores [--file PATH]... [--fixtures DIR] [--json]\n\n"
                   "Lists real trust-store snapshots found on this host (Debian's "
                   "ca-certificates, the JDK cacerts, each adapter's Node.js bundle, the "
                   "pinned certifi releases of stores/install) and any store file named with "
                   "--file (PEM, DER, PKCS#12, JKS), with the Azure roots each holds and its "
                   "verdict, translated into the look-alike world, on the old, new, short "
                   "(no cross certificate) and China chains. docs/trust-worlds.md.\n");
            status = 0;
            goto out;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (strcmp(argv[i], "--fixtures") == 0 && i + 1 < argc) {
            fixtures = argv[++i];
        } else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc) {
            const char *p = argv[++i];
            if (!fs_exists(p)) {
                fprintf(stderr, "pgtls stores: --file %s: no such file (check the path)\n", p);
                goto out;
            }
            snap_add(&l, str_printf("file@%s", p), p, "named with --file");
        } else {
            fprintf(stderr, "pgtls stores: unknown argument '%s' (see pgtls stores --help)\n",
                    argv[i]);
            goto out;
        }
    }
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "pgtls stores: cannot create a temporary folder under /tmp\n");
        goto out;
    }
    if (ca_gen_if_stale(NULL, fixtures, NULL, 3600, &err) < 0 ||
        !(idx = fx_index_load(fixtures, &err)) || !(tw = ca_twins_load(fixtures, &err))) {
        fprintf(stderr, "pgtls stores: %s\n", err.msg);
        goto out_tmp;
    }
    find_os_stores(&l);
    if (clients_dir)
        find_node_stores(&l, clients_dir, &paths, tmp);
    find_certifi_stores(&l, pgtls_data_root());
    for (size_t i = 0; i < l.n; i++)
        json_array_append_new(rows, assess(&l.v[i], tw, idx));
    if (as_json) {
        char *s = json_dumps(rows, JSON_INDENT(2));
        printf("%s\n", s ? s : "[]");
        free(s);
    } else {
        size_t i;
        json_t *row;
        printf("%-40s %5s", "snapshot", "certs");
        for (size_t r = 0; r < NUM_ROOTS; r++)
            printf(" %-7s", azure_roots[r].label);
        for (size_t c = 0; c < NUM_CHAINS; c++)
            printf(" %-9s", chains[c].label);
        printf("\n");
        json_array_foreach(rows, i, row) {
            const char *e = json_string_value(json_object_get(row, "error"));
            printf("%-40s", json_string_value(json_object_get(row, "name")));
            if (e) {
                printf(" unreadable: %s\n", e);
                continue;
            }
            printf(" %5lld", (long long)json_integer_value(json_object_get(row, "certificates")));
            for (size_t r = 0; r < NUM_ROOTS; r++)
                printf(" %-7s", json_is_true(json_object_get(json_object_get(row, "azure_roots"),
                                                             azure_roots[r].label))
                                    ? "yes"
                                    : "-");
            for (size_t c = 0; c < NUM_CHAINS; c++)
                printf(" %-9s", json_string_value(json_object_get(
                                    json_object_get(row, "verdicts"), chains[c].label)));
            printf("\n");
        }
        printf("roots: G2 = DigiCert Global Root G2, MS2017 = Microsoft RSA Root Certificate "
               "Authority 2017, DGCA = DigiCert Global Root CA, MSTLSG2 = Microsoft TLS RSA Root "
               "G2, Balt = Baltimore CyberTrust Root (each found by its look-alike twin).\n"
               "chains: old = azure-old (ICA 03 via G2), new = azure-new (OCSP 02 + cross "
               "certificate), short = azure-new-short (no cross certificate), china-old = "
               "china-old (DigiCert Global Root CA), china-new = china-new (G2); verdict of X509_verify_cert on the translated store, now.\n");
    }
    status = 0;
out_tmp: {
    pgtls_err ignore;
    fs_remove_tree(tmp, &ignore);
}
out:
    for (size_t i = 0; i < l.n; i++) {
        free(l.v[i].name);
        free(l.v[i].path);
        free(l.v[i].source);
    }
    free(l.v);
    json_decref(rows);
    ca_twins_free(tw);
    fx_index_free(idx);
    free(clients_dir);
    return status;
}
