/* pgtls certs-gen: `pgtls ca inspect`, will a customer's trust store survive
 * the Azure CA rotation?
 *
 * Every certificate of the store gets a role (self-signed root, intermediate,
 * leaf), whether it is a real Azure CA, and whether it has expired. Roots are
 * recognised as real by their SHA-256 fingerprint against the OS trust store,
 * read at run time (the Azure roots are public CAs in every OS store); a
 * certificate carrying an Azure root's name with another fingerprint is a
 * look-alike or a private copy and does not count. Microsoft TLS RSA Root G2
 * is not yet in every OS store: it is then recognised by the SHA-1 that
 * Microsoft publishes for it. Intermediates and server certificates are
 * recognised by name: they rotate without notice, which is why pinning them
 * is unsupported.
 *
 * The verdict uses the Azure pages' words: trust only the root CAs
 * (recommended: DigiCert Global Root G2 and Microsoft RSA Root Certificate
 * Authority 2017, plus DigiCert Global Root CA for China and replicas);
 * intermediate CAs or individual server certificates in the trust store are
 * certificate pinning, not supported with verify-ca / verify-full. */
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ca.h"
#include "ca_internal.h"
#include "fixtures.h"
#include "fs.h"

enum { ROOT_G2, ROOT_MS2017, ROOT_MS_TLS_G2, ROOT_GLOBAL_CA, ROOT_BALTIMORE, NUM_ROOTS };

static const struct azure_root {
    const char *cn;
    const char *published_sha1; /* fallback when the OS store lacks it */
} azure_roots[NUM_ROOTS] = {
    [ROOT_G2] = {"DigiCert Global Root G2", "DF3C24F9BFD666761B268073FE06D1CC8D4F82A4"},
    [ROOT_MS2017] = {"Microsoft RSA Root Certificate Authority 2017",
                     "73A5E64A3BFF8316FF0EDCCC618A906E4EAE4D74"},
    [ROOT_MS_TLS_G2] = {"Microsoft TLS RSA Root G2", "21734D95A2473BE25CBFD12A84C6FBC5BC8E2414"},
    [ROOT_GLOBAL_CA] = {"DigiCert Global Root CA", "A8985D3A65E5E5C4B2D7D66D40C6DD2FB19C5436"},
    [ROOT_BALTIMORE] = {"Baltimore CyberTrust Root", "D4DE20D05E66FC53FE1A50882C78DB2852CAE474"},
};

/* Intermediates Azure Database for PostgreSQL has served, by CN prefix. */
static const char *const azure_intermediates[] = {
    "Microsoft Azure RSA TLS Issuing CA ", "Microsoft Azure ECC TLS Issuing CA ",
    "Microsoft Azure TLS Issuing CA ",     "Microsoft TLS G2 RSA CA OCSP ",
    "Microsoft TLS RSA Root G2",           "Microsoft RSA TLS CA ",
    "Microsoft IT TLS CA ",                "DigiCert SHA2 Secure Server CA",
    "DigiCert Basic RSA CN CA G2",
};

static const char *const azure_server_suffixes[] = {
    ".postgres.database.azure.com", ".postgres.database.chinacloudapi.cn",
    ".postgres.database.usgovcloudapi.net", ".database.windows.net",
};

static void hex_digest(const X509 *x, const EVP_MD *md, char *out)
{
    unsigned char buf[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    X509_digest(x, md, buf, &n);
    for (unsigned int i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02X", buf[i]);
    out[2 * n] = '\0';
}

static void get_cn(const X509 *x, char *buf, size_t len)
{
    buf[0] = '\0';
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, (int)len) < 0)
        buf[0] = '\0';
}

static int is_azure_server_name(const X509 *x)
{
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int found = 0;
    char cn[256];
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && !found; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        if (gn->type == GEN_DNS)
            for (size_t k = 0; k < sizeof(azure_server_suffixes) / sizeof(char *); k++)
                found |= str_ends_with((const char *)ASN1_STRING_get0_data(gn->d.dNSName),
                                       azure_server_suffixes[k]);
    }
    GENERAL_NAMES_free(sans);
    get_cn(x, cn, sizeof(cn));
    for (size_t k = 0; !found && k < sizeof(azure_server_suffixes) / sizeof(char *); k++)
        found = str_ends_with(cn, azure_server_suffixes[k]);
    return found;
}

/* The real roots: fingerprints of the OS store's certificates that carry an
 * Azure root's name. */
typedef struct real_roots {
    char sha256[NUM_ROOTS][4][2 * EVP_MAX_MD_SIZE + 1];
    int num[NUM_ROOTS];
} real_roots;

static int azure_root_index(const X509 *x)
{
    char cn[256];
    get_cn(x, cn, sizeof(cn));
    for (int i = 0; i < NUM_ROOTS; i++)
        if (strcmp(cn, azure_roots[i].cn) == 0)
            return i;
    return -1;
}

static int load_real_roots(const char *os_store, real_roots *rr, pgtls_err *err)
{
    char format[160];
    STACK_OF(X509) *sk = ca_store_read(os_store, NULL, format, sizeof(format), err);
    if (!sk)
        return err_prefix(err, "reading the OS trust store (pass another with --os-store)");
    memset(rr, 0, sizeof(*rr));
    for (int i = 0; i < sk_X509_num(sk); i++) {
        X509 *x = sk_X509_value(sk, i);
        int r = azure_root_index(x);
        if (r >= 0 && X509_self_signed(x, 0) == 1 && rr->num[r] < 4)
            hex_digest(x, EVP_sha256(), rr->sha256[r][rr->num[r]++]);
    }
    sk_X509_pop_free(sk, X509_free);
    return 0;
}

typedef enum { AUTH_REAL, AUTH_PUBLISHED, AUTH_LOOKALIKE, AUTH_IMPOSTOR } authenticity;

/* Is x the real Azure root r? */
static authenticity root_authenticity(const X509 *x, int r, const real_roots *rr,
                                      const fx_index *lookalikes)
{
    char sha256[2 * EVP_MAX_MD_SIZE + 1], sha1[2 * EVP_MAX_MD_SIZE + 1];
    hex_digest(x, EVP_sha256(), sha256);
    for (int i = 0; i < rr->num[r]; i++)
        if (strcmp(rr->sha256[r][i], sha256) == 0)
            return AUTH_REAL;
    hex_digest(x, EVP_sha1(), sha1);
    if (rr->num[r] == 0 && strcmp(sha1, azure_roots[r].published_sha1) == 0)
        return AUTH_PUBLISHED;
    if (lookalikes) {
        /* a look-alike of the fixtures folder: it stands for the real root
         * in the look-alike world (index.json has lower-case fingerprints) */
        const char *name;
        json_t *c;
        json_object_foreach(json_object_get(fx_index_json(lookalikes), "certs"), name, c)
        {
            const char *fp = json_string_value(json_object_get(c, "sha256"));
            if (fp && json_is_string(json_object_get(c, "lookalike_of")) &&
                strcasecmp(fp, sha256) == 0)
                return AUTH_LOOKALIKE;
        }
    }
    return AUTH_IMPOSTOR;
}

static void print_date(FILE *out, const ASN1_TIME *t)
{
    struct tm tm;
    char buf[32] = "?";
    if (ASN1_TIME_to_tm(t, &tm) == 1)
        strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
    fputs(buf, out);
}

int ca_inspect_store(const char *path, const char *password, const char *os_store,
                     const char *fixtures_dir, FILE *out, pgtls_err *err)
{
    fx_index *lookalikes = NULL;
    char format[160];
    STACK_OF(X509) *sk = NULL;
    real_roots rr;
    int have[NUM_ROOTS] = {0}, num_roots = 0, num_icas = 0, num_leaves = 0, num_expired = 0;
    int num_impostors = 0, failures = 0, result = -1;
    /* a pinned old-chain intermediate in the form of the other root: the
     * server's form then verifies through it (same subject and key) */
    int pinned_ica_ms_form = 0, pinned_ica_g2_form = 0;
    int old_g2, old_ms, new_cross, new_short, china;
    time_t now = time(NULL);

    TRY(load_real_roots(os_store ? os_store : ca_default_os_store(), &rr, err));
    if (fixtures_dir) {
        lookalikes = fx_index_load(fixtures_dir, err);
        if (!lookalikes)
            goto out;
    }
    sk = ca_store_read(path, password, format, sizeof(format), err);
    if (!sk)
        goto out;
    fprintf(out, "%s: %s, %d certificate(s)\n", path, format, sk_X509_num(sk));
    for (int i = 0; i < sk_X509_num(sk); i++) {
        X509 *x = sk_X509_value(sk, i);
        char *subject = ca_dn_string(X509_get_subject_name(x)), cn[256];
        int expired = X509_cmp_time(X509_get0_notAfter(x), &now) < 0;
        int is_ca = X509_check_ca(x) != 0, self = X509_self_signed(x, 0) == 1;
        const char *role, *what = "not an Azure CA";
        char what_buf[512];

        get_cn(x, cn, sizeof(cn));
        if (self && is_ca) {
            int r = azure_root_index(x);
            role = "root";
            num_roots++;
            if (r >= 0) {
                authenticity a = root_authenticity(x, r, &rr, lookalikes);
                if (a == AUTH_IMPOSTOR) {
                    num_impostors++;
                    snprintf(what_buf, sizeof(what_buf),
                             "NOT the real %s (its fingerprint is not the one in %s): a "
                             "look-alike or private copy, the real server's chain will not "
                             "verify against it",
                             azure_roots[r].cn, os_store ? os_store : ca_default_os_store());
                } else {
                    if (!expired)
                        have[r] = 1;
                    snprintf(what_buf, sizeof(what_buf), "%s%s",
                             a == AUTH_LOOKALIKE ? "pgtls look-alike of an Azure root (counts "
                                                   "as the real one in the look-alike world of "
                                                   "--fixtures)"
                                                 : "real Azure root",
                             a == AUTH_PUBLISHED ? " (by Microsoft's published SHA-1; not in "
                                                   "the OS store)"
                                                 : "");
                }
                what = what_buf;
            }
        } else if (is_ca) {
            role = "intermediate";
            num_icas++;
            for (size_t k = 0; k < sizeof(azure_intermediates) / sizeof(char *); k++)
                if (str_starts_with(cn, azure_intermediates[k]))
                    what = "Azure intermediate (by name): rotates without notice";
            if (str_starts_with(cn, "Microsoft Azure RSA TLS Issuing CA ") && !expired) {
                char issuer_cn[256] = "";
                X509_NAME_get_text_by_NID(X509_get_issuer_name(x), NID_commonName, issuer_cn,
                                          sizeof(issuer_cn));
                if (strcmp(issuer_cn, azure_roots[ROOT_MS2017].cn) == 0)
                    pinned_ica_ms_form = 1;
                else if (strcmp(issuer_cn, azure_roots[ROOT_G2].cn) == 0)
                    pinned_ica_g2_form = 1;
            }
        } else {
            role = "leaf";
            num_leaves++;
            if (is_azure_server_name(x))
                what = "Azure server certificate (by name): rotates without notice";
        }
        if (expired)
            num_expired++;
        fprintf(out, "  %-3d %-12s %s, %s ", i + 1, role, subject ? subject : "?",
                expired ? "EXPIRED" : "valid to");
        print_date(out, X509_get0_notAfter(x));
        fprintf(out, "\n      %s\n", what);
        free(subject);
    }

    /* 2: verifies only through a pinned intermediate */
    old_g2 = have[ROOT_G2] ? 1 : (pinned_ica_ms_form && have[ROOT_MS2017]) ? 2 : 0;
    old_ms = have[ROOT_MS2017] ? 1 : (pinned_ica_g2_form && have[ROOT_G2]) ? 2 : 0;
    new_cross = have[ROOT_G2] || have[ROOT_MS_TLS_G2];
    new_short = have[ROOT_MS_TLS_G2];
    china = have[ROOT_GLOBAL_CA] || have[ROOT_MS2017];
    fprintf(out, "chains:\n");
    fprintf(out, "  %-62s %s\n", "old chain, DigiCert Global Root G2 form (ICA 03/04/07/08):",
            old_g2 == 1   ? "verifies"
            : old_g2 == 2 ? "verifies only through the pinned intermediate (same key, other "
                            "form): breaks when Azure changes the intermediate"
                          : "does NOT verify: missing root DigiCert Global Root G2");
    fprintf(out, "  %-62s %s\n", "old chain, Microsoft RSA Root CA 2017 form:",
            old_ms == 1   ? "verifies"
            : old_ms == 2 ? "verifies only through the pinned intermediate (same key, other "
                            "form): breaks when Azure changes the intermediate"
                          : "does NOT verify: missing root Microsoft RSA Root Certificate "
                            "Authority 2017");
    fprintf(out, "  %-62s %s\n", "new chain (OCSP NN + cross-signed Microsoft TLS RSA Root G2):",
            new_cross ? "verifies" : "does NOT verify: missing root DigiCert Global Root G2");
    fprintf(out, "  %-62s %s\n", "new chain without the cross certificate:",
            new_short ? "verifies"
                      : "does not verify without AIA fetching: missing root Microsoft TLS RSA "
                        "Root G2 (only when a front-end omits the cross certificate)");
    fprintf(out, "  %-62s %s\n", "China regions and replicas (before 2026):",
            china ? "verifies"
                  : "does not verify: missing root DigiCert Global Root CA (only for China "
                    "regions and replicas)");

    fprintf(out, "verdict:\n");
    if (num_icas == 0 && num_leaves == 0)
        fprintf(out, "  root-only: the store trusts root CAs only (recommended)\n");
    if (num_icas) {
        failures++;
        fprintf(out,
                "  pinned intermediate (unsupported): %d intermediate CA certificate(s) in the "
                "trust store. Azure rotates intermediates without notice; remove every "
                "certificate from the store and add the recommended root CAs\n",
                num_icas);
    }
    if (num_leaves) {
        failures++;
        fprintf(out,
                "  pinned server certificate (unsupported): %d individual server certificate(s) "
                "in the trust store. Azure rotates server certificates without notice; remove "
                "them and add the recommended root CAs\n",
                num_leaves);
    }
    if (!old_g2 && !old_ms) {
        failures++;
        fprintf(out, "  missing a needed root: DigiCert Global Root G2 or Microsoft RSA Root "
                     "Certificate Authority 2017, for the old chain (works today? no)\n");
    }
    if (!new_cross) {
        failures++;
        fprintf(out, "  missing a needed root: DigiCert Global Root G2, for the new chain "
                     "(breaks after the rotation)\n");
    }
    if (num_impostors)
        fprintf(out, "  %d certificate(s) carry an Azure root's name but are not the real "
                     "root: replace them with the real root CA certificates\n",
                num_impostors);
    if (num_expired)
        fprintf(out, "  expired entries: %d certificate(s) have expired; they verify nothing, "
                     "remove them\n",
                num_expired);
    if (failures == 0 && (old_g2 != 1 || old_ms != 1 || !china))
        fprintf(out, "  keep the full root set: Azure recommends DigiCert Global Root G2 and "
                     "Microsoft RSA Root Certificate Authority 2017 (plus DigiCert Global Root "
                     "CA for China regions and replicas); this store lacks %s%s%s\n",
                have[ROOT_G2] ? "" : "DigiCert Global Root G2 ",
                have[ROOT_MS2017] ? "" : "Microsoft RSA Root Certificate Authority 2017 ",
                china ? "" : "DigiCert Global Root CA");
    fprintf(out, "result: %s\n",
            failures ? "this store does NOT survive the rotation as a supported configuration"
                     : "this store survives the rotation (use sslmode=verify-full)");
    result = failures ? 1 : 0;
out:
    fx_index_free(lookalikes);
    sk_X509_pop_free(sk, X509_free);
    return result;
}

const char *ca_default_os_store(void)
{
    const char *env = getenv("PGTLS_OS_STORE");
    return env && *env ? env : "/etc/ssl/certs/ca-certificates.crt";
}
