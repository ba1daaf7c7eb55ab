/* pgtls certs-gen: `pgtls ca clone` — catalogue sections for a captured chain.
 *
 * Writes INI that reproduces every certificate of a PEM file field by field
 * (DN with its string types, serial, validity, key type and size, signature
 * algorithm, extensions in order with criticality, values as raw DER) with our
 * keys; SKI/AKI become "hash"/"keyid" so they follow our keys. When the top
 * certificate's issuer is not in the file, a stand-in root with that subject
 * is added, so the output generates as is. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "ca_internal.h"
#include "fixtures.h"
#include "fs.h"

/* INI lines are at most 200 characters: long values continue on indented
 * lines; a trailing backslash joins without a comma (DER hex). */
#define WRAP 120

static void print_dn(FILE *out, const char *key, const X509_NAME *name)
{
    int n = X509_NAME_entry_count(name);
    fprintf(out, "%s = ", key);
    for (int i = 0; i < n; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
        int type = ASN1_STRING_type(v);
        unsigned char *utf8 = NULL;
        int len = ASN1_STRING_to_UTF8(&utf8, v);
        const char *suffix = "";
        if (nid != NID_countryName && nid != NID_pkcs9_emailAddress && nid != NID_domainComponent)
            suffix = type == V_ASN1_PRINTABLESTRING ? ":printable" : ":utf8";
        fprintf(out, "%s%s%s=", i ? ", " : "", nid != NID_undef ? OBJ_nid2sn(nid) : "?", suffix);
        for (int k = 0; k < len; k++) {
            if (utf8[k] == ',' || utf8[k] == '\\')
                fputc('\\', out);
            fputc(utf8[k], out);
        }
        OPENSSL_free(utf8);
    }
    fputc('\n', out);
}

static void print_time(FILE *out, const char *key, const ASN1_TIME *t)
{
    struct tm tm;
    char buf[32];
    if (ASN1_TIME_to_tm(t, &tm) == 1) {
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(out, "%s = %s\n", key, buf);
    }
}

static const char *signature_name(const X509 *x)
{
    switch (X509_get_signature_nid(x)) {
    case NID_sha1WithRSAEncryption:
        return "sha1WithRSAEncryption";
    case NID_sha256WithRSAEncryption:
        return "sha256WithRSAEncryption";
    case NID_sha384WithRSAEncryption:
        return "sha384WithRSAEncryption";
    case NID_sha512WithRSAEncryption:
        return "sha512WithRSAEncryption";
    case NID_rsassaPss:
        return "rsassaPss-sha256";
    case NID_ecdsa_with_SHA256:
        return "ecdsa-with-SHA256";
    case NID_ecdsa_with_SHA384:
        return "ecdsa-with-SHA384";
    default:
        return NULL;
    }
}

static void print_ext(FILE *out, X509_EXTENSION *e)
{
    const ASN1_OBJECT *obj = X509_EXTENSION_get_object(e);
    int nid = OBJ_obj2nid(obj);
    int crit = X509_EXTENSION_get_critical(e);
    const ASN1_OCTET_STRING *d = X509_EXTENSION_get_data(e);
    char name[80];
    int col;

    if (nid != NID_undef)
        snprintf(name, sizeof(name), "%s", OBJ_nid2sn(nid));
    else
        OBJ_obj2txt(name, sizeof(name), obj, 1);
    if (nid == NID_subject_key_identifier) {
        fprintf(out, "ext = subjectKeyIdentifier: %shash\n", crit ? "critical," : "");
        return;
    }
    if (nid == NID_authority_key_identifier) {
        fprintf(out, "ext = authorityKeyIdentifier: %skeyid\n", crit ? "critical," : "");
        return;
    }
    col = fprintf(out, "ext = %s: %sDER:", name, crit ? "critical," : "");
    for (int i = 0; i < ASN1_STRING_length(d); i++) {
        if (col > WRAP) {
            fprintf(out, "\\\n    ");
            col = 4;
        }
        col += fprintf(out, "%02X", ASN1_STRING_get0_data(d)[i]);
    }
    fputc('\n', out);
}

static int issuer_index(STACK_OF(X509) * sk, int i)
{
    X509 *x = sk_X509_value(sk, i);
    for (int j = 0; j < sk_X509_num(sk); j++)
        if (j != i && X509_check_issued(sk_X509_value(sk, j), x) == X509_V_OK)
            return j;
    return -1;
}

static char *first_dns_name(X509 *x)
{
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    char *out = NULL;
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && !out; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        if (gn->type == GEN_DNS && ASN1_STRING_get0_data(gn->d.dNSName)[0] != '*')
            out = strndup((const char *)ASN1_STRING_get0_data(gn->d.dNSName),
                          (size_t)ASN1_STRING_length(gn->d.dNSName));
    }
    GENERAL_NAMES_free(sans);
    if (!out) {
        char cn[256];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) > 0)
            out = strdup(cn);
    }
    return out;
}

/* Writes the catalogue sections for the chain sk (leaf first) to out.
 * Sets *out_stand_in when the top certificate's issuer is missing. */
/* The catalogue name of a look-alike in world (index.json "certs") whose
 * subject is the given name, or NULL. */
static const char *world_cert_named(json_t *world, const X509_NAME *subject)
{
    char *want = ca_dn_string(subject);
    const char *name, *found = NULL;
    json_t *c;
    json_object_foreach(world, name, c)
    {
        const char *s = json_string_value(json_object_get(c, "subject"));
        if (!found && want && s && json_is_string(json_object_get(c, "lookalike_of")) &&
            strcmp(s, want) == 0 && !strstr(name, "real-dates") && !strstr(name, "expired"))
            found = name;
    }
    free(want);
    return found;
}

/* world: NULL, or the "certs" of a fixtures index the sections will join;
 * then the missing issuer is that world's look-alike of it when there is
 * one (no stand-in), and each clone says it is a look-alike (so a store's
 * real certificate finds it as its twin). */
static void clone_sections(STACK_OF(X509) * sk, const char *label, const char *prefix, FILE *out,
                           int *out_stand_in, json_t *world)
{
    X509 *x;
    int n = sk_X509_num(sk), top = -1, stand_in = 0;
    const char *base = strrchr(label, '/') ? strrchr(label, '/') + 1 : label;
    const char *world_issuer = NULL;
    char *host = NULL;

    for (int i = 0; i < n; i++) {
        char ktype[32];
        const char *sig;
        int up;
        x = sk_X509_value(sk, i);
        up = X509_self_signed(x, 0) == 1 ? i : issuer_index(sk, i);
        if (up < 0) {
            top = i;
            world_issuer = world ? world_cert_named(world, X509_get_issuer_name(x)) : NULL;
            stand_in = !world_issuer;
        } else if (up == i) {
            top = i;
        }
        fprintf(out, "[cert %s-%d]\n", prefix, i);
        fprintf(out, "description = cloned from %.100s, certificate %d\n", base, i);
        fprintf(out, "key_type = %s\n", ca_key_describe(X509_get0_pubkey(x), ktype, sizeof(ktype)));
        if (!ca_key_type_valid(ktype))
            fprintf(out, "; %s keys are not supported: pick the closest type above\n", ktype);
        if (up == i)
            fprintf(out, "issuer = self\n");
        else if (up >= 0)
            fprintf(out, "issuer = %s-%d\n", prefix, up);
        else if (world_issuer)
            fprintf(out, "issuer = %s\n", world_issuer);
        else
            fprintf(out, "issuer = %s-issuer\n", prefix);
        if (world)
            fprintf(out, "lookalike_of = certificate %d of %.100s\n", i, base);
        print_dn(out, "subject", X509_get_subject_name(x));
        {
            BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
            char *hex = bn ? BN_bn2hex(bn) : NULL;
            if (hex && hex[0] != '-')
                fprintf(out, "serial = %s\n", hex);
            OPENSSL_free(hex);
            BN_free(bn);
        }
        sig = signature_name(x);
        if (sig)
            fprintf(out, "signature = %s\n", sig);
        else
            fprintf(out, "; signature %s is not supported: the issuer's default is used\n",
                    OBJ_nid2ln(X509_get_signature_nid(x)));
        print_time(out, "not_before", X509_get0_notBefore(x));
        print_time(out, "not_after", X509_get0_notAfter(x));
        for (int k = 0; k < X509_get_ext_count(x); k++)
            print_ext(out, X509_get_ext(x, k));
        fputc('\n', out);
    }
    if (stand_in) {
        /* The anchor is not in the file: a stand-in root with its subject. */
        x = sk_X509_value(sk, top);
        fprintf(out, "[cert %s-issuer]\n", prefix);
        fprintf(out, "description = stand-in root for the issuer missing from %.100s\n", base);
        fprintf(out, "key_type = RSA-2048\nissuer = self\n");
        print_dn(out, "subject", X509_get_issuer_name(x));
        fprintf(out, "not_before = -3650d\nnot_after = +3650d\n");
        fprintf(out, "ext = basicConstraints: critical,CA:TRUE\n"
                     "ext = keyUsage: critical,keyCertSign,cRLSign\n"
                     "ext = subjectKeyIdentifier: hash\n\n");
    }
    fprintf(out, "[chain %s]\ncerts = ", prefix);
    for (int i = 0; i < n; i++) /* as the server sent it, a root included */
        fprintf(out, "%s%s-%d", i ? ", " : "", prefix, i);
    fprintf(out, "\n\n[store %s-root]\nkind = roots\ncerts = ", prefix);
    if (world_issuer)
        fprintf(out, "%s\n\n", world_issuer);
    else if (stand_in)
        fprintf(out, "%s-issuer\n\n", prefix);
    else
        fprintf(out, "%s-%d\n\n", prefix, top >= 0 ? top : n - 1);
    host = first_dns_name(sk_X509_value(sk, 0));
    fprintf(out, "[scenario %s]\ndescription = the cloned chain of %.100s\nchain = %s\n", prefix,
            base, prefix);
    if (host)
        fprintf(out, "host = %s\nhost_match = true\n", host);
    fprintf(out, "ok = %s-root\n", prefix);
    free(host);
    if (out_stand_in)
        *out_stand_in = stand_in;
}

static STACK_OF(X509) * read_chain(const char *path, pgtls_err *err)
{
    char format[160];
    STACK_OF(X509) *sk = ca_store_read(path, NULL, format, sizeof(format), err);
    if (!sk)
        return NULL;
    if (X509_check_ca(sk_X509_value(sk, 0)) && sk_X509_num(sk) > 1) {
        sk_X509_pop_free(sk, X509_free);
        err_set(err, PGTLS_ERR_INPUT,
                "%s does not start with a server certificate: pass the chain as the server "
                "sends it, leaf first ('openssl s_client -showcerts' output will do)",
                path);
        return NULL;
    }
    return sk;
}

int ca_clone_chain(const char *path, const char *prefix, FILE *out, pgtls_err *err)
{
    STACK_OF(X509) *sk = read_chain(path, err);
    if (!sk)
        return -1;
    fprintf(out, "; cloned by 'pgtls ca clone %s': same fields, our keys.\n", path);
    fprintf(out, "; Append to a catalogue (docs/catalogue.md), then 'pgtls ca gen' and 'pgtls ca "
                 "verify'.\n\n");
    clone_sections(sk, path, prefix, out, NULL, NULL);
    sk_X509_pop_free(sk, X509_free);
    return 0;
}

/* Points index.json's "catalogue" at the catalogue's final place, so that
 * `pgtls run --fixtures DIR` regenerates from it, not from the default. */
static int set_index_catalogue(const char *index_path, const char *catalogue, pgtls_err *err)
{
    json_error_t jerr;
    json_t *idx = json_load_file(index_path, JSON_PRESERVE_ORDER, &jerr);
    int result = -1;
    ENSURE(idx, err, PGTLS_ERR_IO, "cannot read %s: %s", index_path, jerr.text);
    json_object_set_new(idx, "catalogue", json_string(catalogue));
    ENSURE(json_dump_file(idx, index_path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0, err,
           PGTLS_ERR_IO, "cannot write %s", index_path);
    result = 0;
out:
    json_decref(idx);
    return result;
}

int ca_clone_to_dir(const char *path, const char *prefix, const char *out_dir, FILE *report,
                    pgtls_err *err)
{
    STACK_OF(X509) *sk = NULL;
    char *staging = NULL, *cat_path = NULL, *gen_dir = NULL, *keys = NULL, *final_cat = NULL;
    char *index_path = NULL, *abs_parent = NULL, *slash;
    FILE *cat = NULL;
    int result = -1, stand_in = 0;

    ENSURE(out_dir && *out_dir, err, PGTLS_ERR_USAGE, "--out needs a folder name");
    if (fs_exists(out_dir)) {
        char *old_index = fs_join(out_dir, "index.json");
        int is_fixtures = old_index && fs_exists(old_index);
        free(old_index);
        ENSURE(is_fixtures, err, PGTLS_ERR_USAGE,
               "%s exists and is not a fixtures folder: pick a new --out folder", out_dir);
    }
    sk = read_chain(path, err);
    if (!sk)
        goto out;
    /* Everything is built in a staging folder next to out_dir and renamed
     * into place at the end: an error leaves nothing half-written. */
    staging = str_printf("%s.clone-XXXXXX", out_dir);
    ENSURE(staging, err, PGTLS_ERR_NOMEM, "out of memory");
    ENSURE(mkdtemp(staging), err, PGTLS_ERR_IO, "cannot create %s: %s", staging, strerror(errno));
    cat_path = fs_join(staging, "catalogue.ini");
    gen_dir = fs_join(staging, "fixtures");
    keys = fs_join(staging, "keys");
    ENSURE(cat_path && gen_dir && keys, err, PGTLS_ERR_NOMEM, "out of memory");
    cat = fopen(cat_path, "w");
    ENSURE(cat, err, PGTLS_ERR_IO, "cannot write %s: %s", cat_path, strerror(errno));
    fprintf(cat, "; cloned by 'pgtls ca clone %s --out %s': same fields, our keys.\n", path,
            out_dir);
    fprintf(cat, "; The sections below can join another catalogue (docs/catalogue.md).\n\n");
    fprintf(cat, "[catalogue]\nname = clone-%s\ndescription = look-alike of the chain in %.150s\n",
            prefix, path);
    {
        char *host = first_dns_name(sk_X509_value(sk, 0));
        if (host)
            fprintf(cat, "default_host = %s\n", host);
        free(host);
    }
    fputc('\n', cat);
    clone_sections(sk, path, prefix, cat, &stand_in, NULL);
    {
        int closed = fclose(cat);
        cat = NULL; /* closed either way */
        ENSURE(closed == 0, err, PGTLS_ERR_IO, "cannot write %s", cat_path);
    }
    /* fresh keys for every clone: the key cache lives and dies in staging */
    TRY(ca_gen(cat_path, gen_dir, keys, err));
    /* the final absolute path of the catalogue, for index.json */
    abs_parent = realpath(staging, NULL);
    ENSURE(abs_parent, err, PGTLS_ERR_IO, "cannot resolve %s", staging);
    slash = strrchr(abs_parent, '/');
    *slash = '\0';
    {
        const char *leaf = strrchr(out_dir, '/') ? strrchr(out_dir, '/') + 1 : out_dir;
        char *final_dir = fs_join(abs_parent, leaf);
        final_cat = final_dir ? fs_join(final_dir, "catalogue.ini") : NULL;
        free(final_dir);
    }
    index_path = fs_join(gen_dir, "index.json");
    ENSURE(final_cat && index_path, err, PGTLS_ERR_NOMEM, "out of memory");
    {
        char *moved = fs_join(gen_dir, "catalogue.ini");
        int rc = moved ? rename(cat_path, moved) : -1;
        free(moved);
        ENSURE(rc == 0, err, PGTLS_ERR_IO, "cannot move the catalogue: %s", strerror(errno));
    }
    TRY(set_index_catalogue(index_path, final_cat, err));
    {
        /* the default suite names the shipped scenarios: a suite of its own */
        char *suite_path = fs_join(gen_dir, "clone.suite");
        char *suite = str_printf("; pgtls suite for the clone of %s (docs/suites.md)\n[suite]\n"
                                 "name = clone-%s\ndescription = the cloned chain of %s, every "
                                 "sslmode\n\n[clone]\nscenarios = %s\nstores = %s-root "
                                 "none\nsslmodes = disable allow prefer require verify-ca "
                                 "verify-full\n",
                                 path, prefix, path, prefix, prefix);
        int rc = suite_path && suite
                     ? fs_write_file(suite_path, suite, strlen(suite), 0644, err)
                     : err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        free(suite_path);
        free(suite);
        TRY(rc);
    }
    if (fs_exists(out_dir))
        TRY(fs_remove_tree(out_dir, err));
    ENSURE(rename(gen_dir, out_dir) == 0, err, PGTLS_ERR_IO, "cannot rename %s to %s: %s",
           gen_dir, out_dir, strerror(errno));
    if (report) {
        int n = sk_X509_num(sk);
        fprintf(report, "wrote %s: %d certificate(s) cloned from %s with our keys\n", out_dir, n,
                path);
        fprintf(report, "  chain %s (leaf first), scenario %s, store %s-root, catalogue %s\n",
                prefix, prefix, prefix, final_cat);
        if (stand_in) {
            char *issuer = ca_dn_string(X509_get_issuer_name(sk_X509_value(sk, n - 1)));
            fprintf(report,
                    "  stand-in root: the issuer of the last certificate (%s) is not in %s, so "
                    "a stand-in root with that subject and our key signs it; store %s-root holds "
                    "the stand-in\n",
                    issuer ? issuer : "?", path, prefix);
            free(issuer);
        }
        fprintf(report,
                "  use: pgtls ca list --fixtures %s\n"
                "       pgtls mock --fixtures %s --scenario %s\n"
                "       pgtls run --fixtures %s --suite %s/clone.suite --clients NAME,...\n",
                out_dir, out_dir, prefix, out_dir, out_dir);
    }
    result = 0;
out:
    if (cat)
        fclose(cat);
    if (staging && fs_exists(staging)) {
        pgtls_err ignored;
        fs_remove_tree(staging, &ignored);
    }
    sk_X509_pop_free(sk, X509_free);
    free(staging);
    free(cat_path);
    free(gen_dir);
    free(keys);
    free(final_cat);
    free(index_path);
    free(abs_parent);
    return result;
}

int ca_clone_into_world(const char *chain_path, const char *prefix, const char *fixtures_dir,
                        FILE *out, pgtls_err *err)
{
    fx_index *idx = fx_index_load(fixtures_dir, err);
    STACK_OF(X509) *sk = NULL;
    int result = -1;
    if (!idx)
        goto out;
    sk = read_chain(chain_path, err);
    if (!sk)
        goto out;
    fprintf(out, "\n; the chain captured in %s, cloned with our keys\n\n", chain_path);
    clone_sections(sk, chain_path, prefix, out, NULL,
                   json_object_get(fx_index_json(idx), "certs"));
    result = 0;
out:
    sk_X509_pop_free(sk, X509_free);
    fx_index_free(idx);
    return result;
}
