/* pgtls certs-gen: `pgtls ca gen|list|show|verify|inspect`. */
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ca.h"
#include "ca_internal.h"
#include "ca_translate.h"
#include "compare.h"
#include "fixtures.h"
#include "fs.h"

#define DEFAULT_FIXTURES "out/fixtures"

static const char ca_usage[] =
    "usage: pgtls ca COMMAND [OPTIONS]\n\n"
    "the built-in CA: look-alike Azure hierarchies, breakage cases and trust stores\n"
    "declared in a catalogue (docs/catalogue.md).\n\ncommands:\n"
    "  gen [--catalogue FILE] [--out DIR] [--key-cache DIR] [--as-of DATE]\n"
    "                 generate every chain, key and trust store, plus DIR/index.json\n"
    "  list [--fixtures DIR]   scenarios with their chains, one line each, and the stores\n"
    "  show NAME [--fixtures DIR] [--compare FILE]\n"
    "                 print a generated certificate (openssl x509 -text style), its role\n"
    "                 and where it is used; or compare it field by field with FILE\n"
    "  verify [--fixtures DIR] re-check every declared verification result (exit 1 on a\n"
    "                 mismatch)\n"
    "  inspect STORE [--password PASS] [--os-store FILE] [--fixtures DIR]\n"
    "                 will this trust store (PEM, DER, .p7b, PKCS#12, JKS, s_client text)\n"
    "                 survive the rotation? roles, real Azure CAs, verdict\n"
    "  translate STORE --out FILE [--format pem|p12|dir] [--mode replace|join] [--fixtures DIR]\n"
    "                 map a real trust store (any format inspect reads) onto the look-alike\n"
    "                 world: each real certificate with a twin is replaced by it\n"
    "  clone CHAIN [--out DIR] [--name NAME]\n"
    "                 clone a captured chain with our keys into a fixtures folder (or print\n"
    "                 its catalogue sections)\n\n"
    "defaults: --catalogue %s, --out/--fixtures " DEFAULT_FIXTURES ",\n"
    "--key-cache $XDG_CACHE_HOME/pgtls/keys/<catalogue name>.\n"
    "exit status: 0 ok, 1 findings (verify mismatch, inspect gaps), 2 usage or input error.\n";

typedef struct opts {
    const char *catalogue, *out, *key_cache, *fixtures, *password, *os_store, *name, *format,
        *mode, *as_of, *compare;
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
        else if (strcmp(name, "--password") == 0)
            slot = &o->password;
        else if (strcmp(name, "--os-store") == 0)
            slot = &o->os_store;
        else if (strcmp(name, "--name") == 0)
            slot = &o->name;
        else if (strcmp(name, "--format") == 0)
            slot = &o->format;
        else if (strcmp(name, "--mode") == 0)
            slot = &o->mode;
        else if (strcmp(name, "--as-of") == 0)
            slot = &o->as_of;
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
    time_t as_of = 0;
    if (parse_opts(argc, argv, "--catalogue --out --key-cache --as-of", &o) < 0)
        return 2;
    if (o.help) {
        printf("usage: pgtls ca gen [--catalogue FILE] [--out DIR] [--key-cache DIR] [--as-of DATE]\n\n"
               "Builds every certificate, chain, key and trust store of the catalogue into DIR\n"
               "(default " DEFAULT_FIXTURES ") with DIR/index.json (docs/fixtures-index.md).\n"
               "Keys are cached per catalogue name (default $XDG_CACHE_HOME/pgtls/keys/<name>)\n"
               "and reused; output is written next to DIR and renamed into place.\n"
               "--as-of DATE (YYYY-MM-DD, up to 2050): every certificate is re-dated so that its\n"
               "validity today is what it is on DATE (docs/rotation-in-time.md).\n"
               "catalogue default: %s\n",
               ca_default_catalogue());
        return 0;
    }
    err_clear(&err);
    if ((o.as_of && ca_as_of_parse(o.as_of, &as_of, &err) < 0) ||
        ca_gen_as_of(o.catalogue, o.out ? o.out : DEFAULT_FIXTURES, o.key_cache, as_of, &err) < 0) {
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

static int cmd_inspect(int argc, char **argv)
{
    opts o;
    pgtls_err err;
    int rc;

    if (parse_opts(argc, argv, "NAME --password --os-store --fixtures", &o) < 0)
        return 2;
    if (o.help) {
        printf("usage: pgtls ca inspect STORE [--password PASS] [--os-store FILE] "
               "[--fixtures DIR]\n\n"
               "Will this trust store survive the Azure CA rotation? Reads a PEM bundle, DER,\n"
               "PKCS#7 (.p7b), PKCS#12 or JKS truststore, or 'openssl s_client -showcerts'\n"
               "output; prints each certificate's role (root, intermediate, leaf), whether it is\n"
               "a real Azure CA (roots by fingerprint against the OS store, default\n"
               "$PGTLS_OS_STORE or /etc/ssl/certs/ca-certificates.crt; intermediates by name)\n"
               "and whether it expired; which Azure chains verify; and the verdict: root-only\n"
               "(recommended), missing a needed root, pinned intermediate (unsupported), pinned\n"
               "server certificate (unsupported), expired entries.\n"
               "With --fixtures DIR the look-alike roots of DIR count as the real ones (to\n"
               "inspect pgtls' own stores and translated customer stores).\n"
               "A store holding a private key is refused.\n"
               "exit status: 0 the store survives the rotation with a supported configuration,\n"
               "1 it does not (reasons printed), 2 the store cannot be read.\n");
        return 0;
    }
    if (!o.positional) {
        fprintf(stderr, "pgtls ca inspect: which store file? (pgtls ca inspect STORE)\n");
        return 2;
    }
    err_clear(&err);
    fflush(stdout);
    rc = ca_inspect_store(o.positional, o.password, o.os_store, o.fixtures, stdout, &err);
    if (rc < 0) {
        fprintf(stderr, "pgtls ca inspect: %s\n", err.msg);
        return 2;
    }
    return rc;
}

static int cmd_translate(int argc, char **argv)
{
    opts o;
    pgtls_err err;
    ca_twins *tw = NULL;
    STACK_OF(X509) *store = NULL;
    ca_translation tr;
    const char *format;
    int status = 2, rc = -1;

    memset(&tr, 0, sizeof(tr));
    if (parse_opts(argc, argv, "NAME --out --format --mode --fixtures --password", &o) < 0)
        return 2;
    if (o.help) {
        printf("usage: pgtls ca translate STORE --out FILE [--format pem|p12|dir]\n"
               "                           [--mode replace|join] [--fixtures DIR]\n\n"
               "Reads a real trust store (PEM bundle, DER certificate, PKCS#12 truststore,\n"
               "Java JKS keystore, or a c_rehash folder) and writes it translated into the\n"
               "look-alike world of the fixtures: every certificate that has a look-alike twin\n"
               "(same subject, issuer and serial number) is replaced by the twin (--mode join:\n"
               "followed by it), everything else is kept. Prints one line per certificate that\n"
               "has a twin, with the SHA-256 read from the store. --format: pem (default; p12\n"
               "when FILE ends in .p12), p12 (a Java truststore, password changeit) or dir (a\n"
               "hashed folder for SSL_CERT_DIR). docs/trust-worlds.md.\n");
        return 0;
    }
    if (!o.positional || !o.out) {
        fprintf(stderr, "pgtls ca translate: which store and output? (pgtls ca translate "
                        "STORE --out FILE)\n");
        return 2;
    }
    format = o.format ? o.format : str_ends_with(o.out, ".p12") ? "p12" : "pem";
    if (strcmp(format, "pem") != 0 && strcmp(format, "p12") != 0 && strcmp(format, "dir") != 0) {
        fprintf(stderr, "pgtls ca translate: --format %s: use pem, p12 or dir\n", format);
        return 2;
    }
    if (o.mode && strcmp(o.mode, "replace") != 0 && strcmp(o.mode, "join") != 0) {
        fprintf(stderr, "pgtls ca translate: --mode %s: use replace or join\n", o.mode);
        return 2;
    }
    err_clear(&err);
    tw = ca_twins_load(o.fixtures ? o.fixtures : DEFAULT_FIXTURES, &err);
    if (!tw)
        goto out;
    {
        struct stat sb;
        if (stat(o.positional, &sb) == 0 && S_ISDIR(sb.st_mode))
            rc = ca_store_read_dir(o.positional, &store, &err);
        else {
            char format_read[64];
            store = ca_store_read(o.positional, o.password, format_read, sizeof(format_read), &err);
            rc = store ? 0 : -1;
        }
    }
    if (rc < 0)
        goto out;
    rc = ca_translate(tw, store,
                      o.mode && strcmp(o.mode, "join") == 0 ? CA_TRANSLATE_JOIN
                                                            : CA_TRANSLATE_REPLACE,
                      &tr, &err);
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < tr.num_entries; i++) {
        const ca_translate_entry *e = &tr.entries[i];
        if (e->twin)
            printf("twin  %s\n      real sha256 %s -> %s (sha256 %s)\n", e->subject, e->sha256,
                   e->twin, e->twin_sha256);
        else if (e->lookalike)
            printf("kept  %s (already the look-alike %s)\n", e->subject, e->lookalike);
    }
    if (strcmp(format, "pem") == 0)
        rc = ca_store_write_pem(tr.certs, o.out, &err);
    else if (strcmp(format, "p12") == 0)
        rc = ca_store_write_p12(tr.certs, NULL, o.out, &err);
    else
        rc = ca_store_write_hashed_dir(tr.certs, o.out, &err);
    if (rc < 0)
        goto out;
    printf("%s: %zu certificate(s), %zu with a look-alike twin; wrote %d to %s (%s)\n",
           o.positional, tr.num_entries, tr.num_twinned, sk_X509_num(tr.certs), o.out, format);
    status = 0;
out:
    if (status != 0)
        fprintf(stderr, "pgtls ca translate: %s\n", err.msg);
    ca_translation_cleanup(&tr);
    sk_X509_pop_free(store, X509_free);
    ca_twins_free(tw);
    return status == 0 ? 0 : err_exit_status(err.code);
}

static int cmd_clone(int argc, char **argv)
{
    opts o;
    pgtls_err err;
    if (parse_opts(argc, argv, "NAME --out --name", &o) < 0)
        return 2;
    if (o.help) {
        printf("usage: pgtls ca clone CHAIN [--out DIR] [--name NAME]\n\n"
               "Clones a captured chain (leaf first: a PEM bundle, or 'openssl s_client\n"
               "-showcerts' output) with our keys: every field but keys and signatures is kept\n"
               "(DNs byte for byte, serials, SANs, extensions in order, validity, key types and\n"
               "sizes, signature algorithms); key identifiers follow our keys. When the top\n"
               "issuer is not in CHAIN a stand-in root with its subject signs it.\n"
               "With --out DIR: writes a ready fixtures folder (index.json, chain, key 0600, a\n"
               "store NAME-root with the cloned or stand-in root, and DIR/catalogue.ini, the\n"
               "sections that made it), for 'pgtls ca list|mock|run --fixtures DIR'. Nothing\n"
               "is half-written: it is built next to DIR and renamed into place.\n"
               "Without --out: prints the catalogue sections [cert NAME-0] ... [chain NAME]\n"
               "[store NAME-root] [scenario NAME] to append to a catalogue.\n"
               "NAME defaults to 'cloned'.\n");
        return 0;
    }
    if (!o.positional) {
        fprintf(stderr, "pgtls ca clone: which chain file? (pgtls ca clone CHAIN [--out DIR])\n");
        return 2;
    }
    err_clear(&err);
    if ((o.out ? ca_clone_to_dir(o.positional, o.name ? o.name : "cloned", o.out, stdout, &err)
               : ca_clone_chain(o.positional, o.name ? o.name : "cloned", stdout, &err)) < 0) {
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
                {"verify", cmd_verify}, {"inspect", cmd_inspect}, {"clone", cmd_clone},
                {"translate", cmd_translate}};
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
