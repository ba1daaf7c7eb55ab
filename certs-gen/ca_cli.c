/* pgtls certs-gen: `pgtls ca gen|list|show|verify|inspect`. */
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "ca_internal.h"
#include "commands.h"
#include "compare.h"
#include "fixtures.h"
#include "fs.h"

#define DEFAULT_FIXTURES "out/fixtures"

static const char ca_usage[] =
    "usage: pgtls ca COMMAND [OPTIONS]\n\n"
    "the built-in CA: look-alike Azure hierarchies, breakage cases and trust stores\n"
    "declared in a catalogue (docs/catalogue.md).\n\ncommands:\n"
    "  gen [--catalogue FILE] [--out DIR] [--key-cache DIR]\n"
    "                 generate every chain, key and trust store, plus DIR/index.json\n"
    "  list [--fixtures DIR]   scenarios with their chains, one line each, and the stores\n"
    "  show NAME [--fixtures DIR] [--compare FILE]\n"
    "                 print a generated certificate (openssl x509 -text style), its role\n"
    "                 and where it is used; or compare it field by field with FILE\n"
    "  verify [--fixtures DIR] re-check every declared verification result (exit 1 on a\n"
    "                 mismatch)\n"
    "  inspect STORE.pem       classify a trust store and name the Azure roots it misses\n"
    "  clone CHAIN.pem [--out NAME]\n"
    "                 print catalogue sections reproducing a captured chain with our keys\n\n"
    "defaults: --catalogue %s, --out/--fixtures " DEFAULT_FIXTURES ",\n"
    "--key-cache $XDG_CACHE_HOME/pgtls/keys/<catalogue name>.\n"
    "exit status: 0 ok, 1 findings (verify mismatch, inspect gaps), 2 usage or input error.\n";

typedef struct opts {
    const char *catalogue, *out, *key_cache, *fixtures, *compare;
    const char *positional;
    int help;
} opts;

/* Parses --name VALUE / --name=VALUE for the names allowed in `allowed`. */
static int parse_opts(int argc, char **argv, const char *allowed, opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL, *eq;
        char name[32];
        const char **slot = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            o->help = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (o->positional || !strstr(allowed, "NAME")) {
                fprintf(stderr, "pgtls ca %s: unexpected argument '%s' (see --help)\n", argv[0], a);
                return -1;
            }
            o->positional = a;
            continue;
        }
        eq = strchr(a, '=');
        snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        if (strcmp(name, "--catalogue") == 0)
            slot = &o->catalogue;
        else if (strcmp(name, "--out") == 0)
            slot = &o->out;
        else if (strcmp(name, "--key-cache") == 0)
            slot = &o->key_cache;
        else if (strcmp(name, "--fixtures") == 0)
            slot = &o->fixtures;
        else if (strcmp(name, "--compare") == 0)
            slot = &o->compare;
        if (!slot || !strstr(allowed, name)) {
            fprintf(stderr, "pgtls ca %s: unknown option '%s' (see 'pgtls ca %s --help')\n",
                    argv[0], name, argv[0]);
            return -1;
        }
        if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            fprintf(stderr, "pgtls ca %s: %s needs a value\n", argv[0], name);
            return -1;
        }
        *slot = val;
    }
    return 0;
}

static int cmd_gen(int argc, char **argv)
{
    opts o;
    pgtls_err err;
    long long t0 = time_now_ms();
    if (parse_opts(argc, argv, "--catalogue --out --key-cache", &o) < 0)
        return 2;
    if (o.help) {
        printf("usage: pgtls ca gen [--catalogue FILE] [--out DIR] [--key-cache DIR]\n\n"
               "Builds every certificate, chain, key and trust store of the catalogue into DIR\n"
               "(default " DEFAULT_FIXTURES ") with DIR/index.json (docs/fixtures-index.md).\n"
               "Keys are cached per catalogue name (default $XDG_CACHE_HOME/pgtls/keys/<name>)\n"
               "and reused; output is written next to DIR and renamed into place.\n"
               "catalogue default: %s\n",
               ca_default_catalogue());
        return 0;
    }
    err_clear(&err);
    if (ca_gen(o.catalogue, o.out ? o.out : DEFAULT_FIXTURES, o.key_cache, &err) < 0) {
        fprintf(stderr, "pgtls ca gen: %s\n", err.msg);
        return err_exit_status(err.code);
    }
    printf("wrote %s/index.json in %lld ms\n", o.out ? o.out : DEFAULT_FIXTURES,
           time_now_ms() - t0);
    return 0;
}

static fx_index *load_index(const char *cmd, const char *dir)
{
    pgtls_err err;
    fx_index *idx;
    err_clear(&err);
    idx = fx_index_load(dir ? dir : DEFAULT_FIXTURES, &err);
    if (!idx)
        fprintf(stderr, "pgtls ca %s: %s\n", cmd, err.msg);
    return idx;
}

static int cmd_list(int argc, char **argv)
{
    opts o;
    fx_index *idx;
    json_t *chains;
    if (parse_opts(argc, argv, "--fixtures", &o) < 0)
        return 2;
    if (o.help) {
        printf("usage: pgtls ca list [--fixtures DIR]\n\nLists the scenarios (one line each: "
               "name, chain as the server sends it, host) and the trust stores.\n");
        return 0;
    }
    idx = load_index("list", o.fixtures);
    if (!idx)
        return 2;
    chains = json_object_get(fx_index_json(idx), "chains");
    printf("scenarios:\n");
    for (size_t i = 0; i < fx_num_scenarios(idx); i++) {
        const fx_scenario *sc = fx_scenario_at(idx, i);
        json_t *certs =
            json_object_get(json_object_get(chains, sc->chain ? sc->chain : ""), "certs");
        size_t k;
        json_t *v;
        printf("  %-28s ", sc->name);
        if (!sc->chain)
            printf("(no TLS)");
        json_array_foreach(certs, k, v) printf("%s%s", k ? " > " : "", json_string_value(v));
        printf("  [host %s%s]\n", sc->host, sc->host_match ? "" : ", mismatch");
    }
    printf("stores:\n");
    for (size_t i = 0; i < fx_num_stores(idx); i++) {
        const fx_store *st = fx_store_at(idx, i);
        json_t *js = json_object_get(json_object_get(fx_index_json(idx), "stores"), st->name);
        json_t *certs = json_object_get(js, "certs"), *v;
        size_t k;
        printf("  %-22s %-20s ", st->name, st->kind);
        json_array_foreach(certs, k, v) printf("%s%s", k ? ", " : "", json_string_value(v));
        printf("\n");
    }
    fx_index_free(idx);
    return 0;
}

/* `ca show NAME --compare FILE`: the comparison table, with the catalogue's
 * declared differences applied. Returns the exit status. */
static int show_compare(const char *name, X509 *ours, json_t *declared, const char *path)
{
    pgtls_err err;
    X509 *real;
    ca_compare *cmp = NULL;
    const char *field;
    json_t *reason;
    size_t undeclared;
    int status = 2;

    err_clear(&err);
    real = ca_compare_load_cert(path, &err);
    if (!real) {
        fprintf(stderr, "pgtls ca show: %s\n", err.msg);
        goto out;
    }
    cmp = ca_compare_new(ours, real, &err);
    if (!cmp) {
        fprintf(stderr, "pgtls ca show: %s\n", err.msg);
        goto out;
    }
    json_object_foreach(declared, field, reason)
    {
        err_clear(&err);
        if (ca_compare_declare(cmp, field, json_string_value(reason), &err) < 0)
            printf("note: %s: %s\n", name, err.msg);
    }
    {
        char *subject = ca_dn_string(X509_get_subject_name(real));
        printf("%s compared with %s (%s):\n", name, path, subject ? subject : "?");
        free(subject);
    }
    ca_compare_print(cmp, stdout);
    undeclared = ca_compare_num_undeclared(cmp);
    if (undeclared)
        printf("%zu field(s) differ undeclared\n", undeclared);
    else
        printf("identical but for key-derived fields and declared differences\n");
    status = undeclared ? 1 : 0;
out:
    ca_compare_free(cmp);
    X509_free(real);
    return status;
}

static int cmd_show(int argc, char **argv)
{
    opts o;
    fx_index *idx;
    json_t *root, *cert, *v;
    const char *key;
    char *pem = NULL;
    BIO *in = NULL, *out = NULL;
    X509 *x = NULL;
    int status = 2;

    if (parse_opts(argc, argv, "NAME --fixtures --compare", &o) < 0)
        return 2;
    if (o.help) {
        printf("usage: pgtls ca show NAME [--fixtures DIR] [--compare FILE]\n\nPrints a "
               "generated certificate the way 'openssl x509 -text' does, its role, and the "
               "chains and stores that hold it.\nWith --compare FILE (PEM or DER), prints "
               "instead a field-by-field DER comparison with that certificate (the real one "
               "the look-alike copies): same, DIFFERS, declared (a difference the catalogue "
               "declares with its reason) or key-derived (public key, signature, key "
               "identifiers). Exit 1 when a field differs undeclared.\n");
        return 0;
    }
    if (!o.positional) {
        fprintf(stderr, "pgtls ca show: which certificate? (see 'pgtls ca list' or 'pgtls ca "
                        "show --help')\n");
        return 2;
    }
    idx = load_index("show", o.fixtures);
    if (!idx)
        return 2;
    root = fx_index_json(idx);
    cert = json_object_get(json_object_get(root, "certs"), o.positional);
    pem = fx_cert_pem(idx, o.positional);
    if (!cert || !pem) {
        fprintf(stderr, "pgtls ca show: no certificate named '%s' (see 'pgtls ca list')\n",
                o.positional);
        goto out;
    }
    in = BIO_new_file(pem, "r");
    x = in ? PEM_read_bio_X509(in, NULL, NULL, NULL) : NULL;
    if (!x) {
        fprintf(stderr, "pgtls ca show: cannot read %s (regenerate with 'pgtls ca gen')\n", pem);
        goto out;
    }
    if (o.compare) {
        status = show_compare(o.positional, x, json_object_get(cert, "differs"), o.compare);
        goto out;
    }
    out = BIO_new_fp(stdout, BIO_NOCLOSE);
    X509_print_ex(out, x, XN_FLAG_ONELINE, 0);
    PEM_write_bio_X509(out, x);
    BIO_flush(out);
    printf("\nname:      %s\nrole:      %s\nkey:       %s (%s)\nlookalike: %s\nfile:      %s\n",
           o.positional, json_string_value(json_object_get(cert, "role")),
           json_string_value(json_object_get(cert, "key")),
           json_string_value(json_object_get(cert, "key_type")),
           json_is_string(json_object_get(cert, "lookalike_of"))
               ? json_string_value(json_object_get(cert, "lookalike_of"))
               : "-",
           pem);
    printf("used in:  ");
    json_object_foreach(json_object_get(root, "chains"), key, v)
    {
        size_t k;
        json_t *n;
        json_array_foreach(json_object_get(v, "certs"), k,
                           n) if (strcmp(json_string_value(n), o.positional) == 0)
            printf(" chain %s (position %zu)", key, k);
    }
    json_object_foreach(json_object_get(root, "stores"), key, v)
    {
        size_t k;
        json_t *n;
        json_array_foreach(json_object_get(v, "certs"), k,
                           n) if (strcmp(json_string_value(n), o.positional) == 0)
            printf(" store %s", key);
    }
    printf("\nscenarios:");
    json_object_foreach(json_object_get(root, "scenarios"), key, v)
    {
        /* a scenario uses the certificate when its chain sends it */
        const char *chain_name = json_string_value(json_object_get(v, "chain"));
        json_t *chain = json_object_get(json_object_get(root, "chains"),
                                        chain_name ? chain_name : "");
        size_t k;
        json_t *n;
        json_array_foreach(json_object_get(chain, "certs"), k, n)
        {
            if (strcmp(json_string_value(n), o.positional) == 0)
                printf(" %s", key);
        }
    }
    printf("\n");
    status = 0;
out:
    X509_free(x);
    BIO_free(in);
    BIO_free(out);
    free(pem);
    fx_index_free(idx);
    return status;
}

static int cmd_verify(int argc, char **argv)
{
    opts o;
    pgtls_err err;
    int n;
    if (parse_opts(argc, argv, "--fixtures", &o) < 0)
        return 2;
    if (o.help) {
        printf("usage: pgtls ca verify [--fixtures DIR]\n\nRe-checks every (scenario, store) "
               "declaration of DIR/index.json with X509_verify_cert (default flags, auth level "
               "2) and every host_match with libpq's host-name rules. Exit 1 on a mismatch.\n");
        return 0;
    }
    err_clear(&err);
    n = ca_verify_fixtures(o.fixtures ? o.fixtures : DEFAULT_FIXTURES, stdout, &err);
    if (n < 0) {
        fprintf(stderr, "pgtls ca verify: %s\n", err.msg);
        return 2;
    }
    if (n > 0) {
        printf("%d declaration(s) do not hold: fix the catalogue\n", n);
        return 1;
    }
    printf("every declaration holds\n");
    return 0;
}

/* Azure roots by subject CN (what matters for chain building is the subject
 * and key; the store holds the real ones, we hold look-alikes). */
static const struct azure_root {
    const char *cn;
    const char *needed_for;
} azure_roots[] = {
    {"DigiCert Global Root G2",
     "old chain (G2 form), new chain (via cross cert), China after 2026"},
    {"Microsoft RSA Root Certificate Authority 2017", "old chain (Microsoft form)"},
    {"Microsoft TLS RSA Root G2", "new chain (self-signed anchor; needed when the server omits "
                                  "the cross cert)"},
    {"DigiCert Global Root CA", "China regions before 2026, replicas"},
};

static int has_cn(STACK_OF(X509) * sk, const char *cn, int self_signed_only)
{
    for (int i = 0; i < sk_X509_num(sk); i++) {
        X509 *x = sk_X509_value(sk, i);
        char buf[256];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof(buf)) >
                0 &&
            strcmp(buf, cn) == 0 && (!self_signed_only || X509_self_signed(x, 0) == 1))
            return 1;
    }
    return 0;
}

static int cmd_inspect(int argc, char **argv)
{
    opts o;
    BIO *in = NULL;
    STACK_OF(X509) *sk = NULL;
    X509 *x;
    int roots = 0, icas = 0, leaves = 0, status = 2;
    int old_ok, new_ok, new_short_ok;

    if (parse_opts(argc, argv, "NAME", &o) < 0)
        return 2;
    if (o.help) {
        printf("usage: pgtls ca inspect STORE.pem\n\nClassifies every certificate of a trust "
               "store (root, pinned intermediate, pinned leaf) and tells which Azure roots are "
               "missing for the old and new Azure chains. Exit 1 when a chain cannot verify.\n");
        return 0;
    }
    if (!o.positional) {
        fprintf(stderr, "pgtls ca inspect: which store file? (pgtls ca inspect STORE.pem)\n");
        return 2;
    }
    in = BIO_new_file(o.positional, "r");
    if (!in) {
        fprintf(stderr, "pgtls ca inspect: cannot open %s (check the path)\n", o.positional);
        return 2;
    }
    sk = sk_X509_new_null();
    while (sk && (x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL)
        sk_X509_push(sk, x);
    ERR_clear_error();
    printf("%s: %d certificate(s)\n", o.positional, sk ? sk_X509_num(sk) : 0);
    for (int i = 0; sk && i < sk_X509_num(sk); i++) {
        char *subject;
        const char *kind;
        x = sk_X509_value(sk, i);
        subject = ca_dn_string(X509_get_subject_name(x));
        if (X509_self_signed(x, 0) == 1 && X509_check_ca(x)) {
            kind = "root";
            roots++;
        } else if (X509_check_ca(x)) {
            kind = "pinned intermediate (libpq does not anchor on it: no PARTIAL_CHAIN)";
            icas++;
        } else {
            kind = "pinned leaf (libpq does not anchor on it: no PARTIAL_CHAIN)";
            leaves++;
        }
        printf("  %-4d %s: %s\n", i + 1, kind, subject ? subject : "?");
        free(subject);
    }
    printf("summary: %d root(s), %d pinned intermediate(s), %d pinned leaf/leaves\n", roots, icas,
           leaves);
    old_ok = has_cn(sk, "DigiCert Global Root G2", 1) ||
             has_cn(sk, "Microsoft RSA Root Certificate Authority 2017", 1);
    new_ok = has_cn(sk, "DigiCert Global Root G2", 1) || has_cn(sk, "Microsoft TLS RSA Root G2", 1);
    new_short_ok = has_cn(sk, "Microsoft TLS RSA Root G2", 1);
    for (size_t i = 0; i < sizeof(azure_roots) / sizeof(*azure_roots); i++)
        if (!has_cn(sk, azure_roots[i].cn, 1))
            printf("missing: %s (for %s)\n", azure_roots[i].cn, azure_roots[i].needed_for);
    printf("old Azure chain (ICA 03/04/07/08): %s\n",
           old_ok ? "verifiable"
                  : "NOT verifiable: add DigiCert Global Root G2 and Microsoft RSA "
                    "Root Certificate Authority 2017");
    printf("new Azure chain (OCSP NN + cross cert): %s\n",
           new_ok ? "verifiable" : "NOT verifiable: add DigiCert Global Root G2");
    printf("new Azure chain without the cross cert: %s\n",
           new_short_ok ? "verifiable"
                        : "NOT verifiable: add the self-signed Microsoft TLS RSA "
                          "Root G2");
    status = old_ok && new_ok ? 0 : 1;
    sk_X509_pop_free(sk, X509_free);
    BIO_free(in);
    return status;
}

static int cmd_clone(int argc, char **argv)
{
    opts o;
    pgtls_err err;
    if (parse_opts(argc, argv, "NAME --out", &o) < 0)
        return 2;
    if (o.help) {
        printf("usage: pgtls ca clone CHAIN.pem [--out NAME]\n\nPrints catalogue sections that "
               "reproduce a captured chain (leaf first) field by field with our keys: "
               "[cert NAME-0] ..., [chain NAME], [store NAME-root], [scenario NAME] (NAME "
               "defaults to 'cloned'). Append them to a catalogue, then run 'pgtls ca gen' and "
               "'pgtls ca verify'.\n");
        return 0;
    }
    if (!o.positional) {
        fprintf(stderr, "pgtls ca clone: which chain file? (pgtls ca clone CHAIN.pem)\n");
        return 2;
    }
    err_clear(&err);
    if (ca_clone_chain(o.positional, o.out ? o.out : "cloned", stdout, &err) < 0) {
        fprintf(stderr, "pgtls ca clone: %s\n", err.msg);
        return err_exit_status(err.code);
    }
    return 0;
}

int ca_cli_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"gen", cmd_gen},       {"list", cmd_list},       {"show", cmd_show},
                {"verify", cmd_verify}, {"inspect", cmd_inspect}, {"clone", cmd_clone}};
    if (argc < 2) {
        fprintf(stderr, ca_usage, ca_default_catalogue());
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        printf(ca_usage, ca_default_catalogue());
        return 0;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(*cmds); i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "pgtls ca: unknown command '%s' (see 'pgtls ca --help')\n", argv[1]);
    return 2;
}
