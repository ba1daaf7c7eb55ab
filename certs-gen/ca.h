/* pgtls: the built-in CA (certs-gen), public interface.
 *
 * The catalogue (an INI file, docs/catalogue.md) declares keys, certificates,
 * chains, trust stores and scenarios; ca_gen turns it into a fixtures folder
 * described by index.json (docs/fixtures-index.md), which everyone else reads
 * through common/fixtures.h. */
#ifndef PGTLS_CA_H
#define PGTLS_CA_H

#include <openssl/x509.h>
#include <stdio.h>
#include <time.h>

#include "err.h"

/* Generates every artifact of the catalogue into out_dir. catalogue NULL means
 * the shipped catalogue (ca_default_catalogue); key_cache NULL means
 * $XDG_CACHE_HOME/pgtls/keys/<catalogue name> (or ~/.cache/...). Output is
 * written to a temporary folder next to out_dir and renamed into place, so an
 * error leaves out_dir as it was. Returns 0 if OK, -1 with a one-line message
 * in err (PGTLS_ERR_CONFIG for catalogue mistakes, naming file:line). */
int ca_gen(const char *catalogue, const char *out_dir, const char *key_cache, pgtls_err *err);

/* Like ca_gen, but does nothing when out_dir/index.json was generated from a
 * catalogue with the same SHA-256 less than `max_age_s` seconds ago (relative
 * validity drifts with time). Returns 1 if it regenerated, 0 if it reused,
 * -1 with a message in err. */
int ca_gen_if_stale(const char *catalogue, const char *out_dir, const char *key_cache,
                    long max_age_s, pgtls_err *err);

/* The latest date --as-of accepts (2051-01-01T00:00:00Z, exclusive). */
#define CA_AS_OF_MAX ((time_t)2556144000LL)

/* Parses an --as-of date: YYYY-MM-DD (noon UTC of that day) or
 * YYYY-MM-DDTHH:MM:SSZ, up to 2050. Returns 0, or -1 with a one-line message
 * in err (PGTLS_ERR_USAGE). */
int ca_as_of_parse(const char *text, time_t *out, pgtls_err *err);

/* ca_gen dated as of `as_of` (0: today): every absolute date of the catalogue
 * moves by (now - as_of), so each certificate's validity relative to the real
 * clock is what it is relative to as_of; certificates are signed with the
 * same keys. Declarations about time (ok / expired / not-yet-valid) are
 * recomputed for that date. index.json records "as_of". A date before the
 * catalogue's earliest absolute not-before is refused (PGTLS_ERR_USAGE). */
int ca_gen_as_of(const char *catalogue, const char *out_dir, const char *key_cache, time_t as_of,
                 pgtls_err *err);

/* ca_gen_if_stale for fixtures dated as of `as_of` (0: today): a folder
 * dated otherwise is regenerated. */
int ca_gen_if_stale_as_of(const char *catalogue, const char *out_dir, const char *key_cache,
                          long max_age_s, time_t as_of, pgtls_err *err);

/* Re-checks every verification and host-match declaration of a generated
 * fixtures folder with OpenSSL's X509_verify_cert. Prints one line per
 * mismatch to `report` (a FILE *, may be NULL). Returns the number of
 * mismatches (0 = all declarations hold), or -1 with a message in err when
 * the folder cannot be read. */
int ca_verify_fixtures(const char *fixtures_dir, void *report, pgtls_err *err);

/* The shipped catalogue: $PGTLS_CATALOGUE if set, else
 * PGTLS_SOURCE_ROOT/certs-gen/catalogue.ini if it exists, else
 * catalogue.ini next to the running binary. Returns a static string. */
const char *ca_default_catalogue(void);

/* Reads every certificate of a trust store or captured chain: a PEM bundle,
 * `openssl s_client -showcerts` output, DER, PKCS#7 (PEM or DER), PKCS#12 or
 * JKS (password NULL: none given; JKS is then read without its integrity
 * check, PKCS#12 only when it has no password). A store holding a private key
 * is refused. Writes the format ("pem", "s_client", "der", "pkcs7-pem",
 * "pkcs7-der", "pkcs12", "jks, ...note") to out_format. Returns the
 * certificates in file order (caller frees with sk_X509_pop_free), or NULL
 * with a one-line message in err (PGTLS_ERR_INPUT). */
STACK_OF(X509) * ca_store_read(const char *path, const char *password, char *out_format,
                               size_t format_len, pgtls_err *err);

/* `pgtls ca inspect`: prints every certificate of the store at `path` (any
 * format ca_store_read reads) with its role, whether it is a real Azure CA
 * (roots by fingerprint against os_store, NULL = ca_default_os_store()) and
 * its expiry (fixtures_dir, may be NULL: a fixtures folder whose look-alike
 * roots count as the real ones), then which Azure chains verify and the verdict. Returns 0 when
 * the store survives the rotation and holds no unsupported configuration, 1
 * when it does not (the reasons are printed), -1 with a message in err when a
 * store cannot be read. */
int ca_inspect_store(const char *path, const char *password, const char *os_store,
                     const char *fixtures_dir, FILE *out, pgtls_err *err);

/* $PGTLS_OS_STORE, else Debian's /etc/ssl/certs/ca-certificates.crt. */
const char *ca_default_os_store(void);

/* `pgtls ca clone CHAIN --out DIR`: reads a captured chain (leaf first; any
 * format ca_store_read reads, `openssl s_client -showcerts` output included),
 * writes catalogue sections that copy every field but keys and signatures
 * (a stand-in root when the top issuer is missing), generates them into DIR
 * (index.json, certs, chain, leaf key 0600, a store with the cloned or
 * stand-in root, DIR/catalogue.ini) through a staging folder renamed into
 * place. An existing DIR is replaced only when it is a fixtures folder.
 * Prints what it wrote to report (may be NULL). Returns 0, or -1 with a
 * message in err (nothing written). */
int ca_clone_to_dir(const char *chain_path, const char *prefix, const char *out_dir,
                    FILE *report, pgtls_err *err);

/* A customer's trust store over the look-alike world: writes into out_dir
 * (an existing empty folder) an overlay fixtures folder whose index.json is
 * fixtures_dir's plus a store "customer": every certificate of store_path
 * (any format ca_store_read reads) with a look-alike twin (ca_twin_of: same
 * subject, issuer and serial) replaced by the twin, a pinned Azure server
 * certificate (which has no twin) replaced by
 * the old chain's leaf, every other certificate kept; with its verify result
 * declared for every scenario, and every scenario's host set to `host` (when
 * not NULL) with host_match recomputed. Prints the translation to report (may
 * be NULL). Returns 0, or -1 with a message in err. */
int ca_translate_store(const char *store_path, const char *password, const char *fixtures_dir,
                       const char *host, const char *out_dir, FILE *report, pgtls_err *err);

/* The catalogue sections of a captured chain (as ca_clone_chain prints them)
 * meant to be appended to the catalogue fixtures_dir was generated from: the
 * missing issuer is that catalogue's look-alike with the issuer's subject when
 * there is one (no stand-in), and every clone is marked a look-alike (so a
 * customer's copy of a captured certificate translates to its clone).
 * Returns 0, or -1 with a message in err. */
int ca_clone_into_world(const char *chain_path, const char *prefix, const char *fixtures_dir,
                        FILE *out, pgtls_err *err);

/* ---- Command entry point (the pgtls binary calls it) ---- */

/* `pgtls ca ...`: argv[0] is the subcommand name; returns the exit status
 * (0 ok, 1 findings or failures, 2 usage or input error). */
int ca_cli_main(int argc, char **argv);

#endif
