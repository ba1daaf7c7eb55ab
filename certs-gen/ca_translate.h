/* pgtls certs-gen: the store translator (docs/trust-worlds.md).
 *
 * A look-alike carries a real CA certificate's names and serial number with
 * our key. A real trust store (an OS bundle, a Java cacerts, a certifi
 * version, a customer's root.crt) therefore trusts the real CA and refuses
 * its look-alike. Translating the store maps it onto the look-alike world:
 * every certificate that has a twin in the catalogue is replaced by the twin
 * (or joined by it), every other certificate stays as it is.
 *
 * Matching reads the store itself, never a list of names: a certificate's
 * twin is the catalogue certificate with the same subject, the same issuer
 * name and the same serial number (RFC 5280 4.1.2.2: issuer and serial
 * identify a certificate), whose DER differs (so a look-alike is never its
 * own twin). Each match is reported with the SHA-256 of the real
 * certificate as read from the store.
 *
 * Typical use (a customer's root.crt onto the look-alike world):
 *
 *     ca_twins *tw = ca_twins_load("out/fixtures", &err);
 *     char format[64];
 *     STACK_OF(X509) *store = ca_store_read("root.crt", NULL, format, sizeof(format), &err);
 *     ca_translation tr;
 *     if (tw && store &&
 *         ca_translate(tw, store, CA_TRANSLATE_REPLACE, &tr, &err) == 0) {
 *         ca_store_write_pem(tr.certs, "world/root.crt", &err);
 *         ca_translation_cleanup(&tr);
 *     }
 *     sk_X509_pop_free(store, X509_free);
 *     ca_twins_free(tw);
 */
#ifndef PGTLS_CA_TRANSLATE_H
#define PGTLS_CA_TRANSLATE_H

#include <openssl/x509.h>
#include <stddef.h>

#include "err.h"

/* The look-alikes of a fixtures folder, indexed for matching. */
typedef struct ca_twins ca_twins;

/* Loads every certificate of fixtures_dir/index.json whose lookalike_of is
 * set. Returns NULL with a message in err (no index: "run 'pgtls ca gen'";
 * an unreadable certificate named with its path). */
ca_twins *ca_twins_load(const char *fixtures_dir, pgtls_err *err);

/* Frees; accepts NULL. */
void ca_twins_free(ca_twins *tw);

/* Number of look-alikes loaded. */
size_t ca_twins_count(const ca_twins *tw);

/* The twin of a real certificate: catalogue name (borrowed), and the twin's
 * certificate in *out_twin (borrowed; out_twin may be NULL). When re-dated
 * variants of one certificate exist, the one with the real notAfter wins,
 * else the first in catalogue order. Returns NULL when the certificate has
 * no twin, or is itself a look-alike. */
const char *ca_twin_of(const ca_twins *tw, X509 *cert, X509 **out_twin);

/* The catalogue name of a look-alike when cert IS one (same DER), or NULL. */
const char *ca_twins_name_of(const ca_twins *tw, X509 *cert);

typedef enum {
    CA_TRANSLATE_REPLACE, /* the twin takes the real certificate's place */
    CA_TRANSLATE_JOIN,    /* the real certificate stays and the twin follows it */
} ca_translate_mode;

/* What happened to one certificate of the input store. */
typedef struct ca_translate_entry {
    char *subject;         /* one line, DER order (heap) */
    char sha256[65];       /* hex SHA-256 of the certificate as read from the store */
    const char *twin;      /* catalogue name of its twin (borrowed from ca_twins), or NULL */
    char twin_sha256[65];  /* "" when twin is NULL */
    const char *lookalike; /* non-NULL: the input already was this look-alike */
} ca_translate_entry;

typedef struct ca_translation {
    STACK_OF(X509) *certs;      /* the translated store, input order (owned, up-ref'd) */
    ca_translate_entry *entries; /* one per input certificate */
    size_t num_entries;
    size_t num_twinned;         /* input certificates that had a twin */
} ca_translation;

/* Translates store (left unchanged) into out, which the caller cleans up
 * with ca_translation_cleanup. A twin is added once even when two inputs
 * map to it. Returns 0 if OK, -1 with a message in err. */
int ca_translate(const ca_twins *tw, STACK_OF(X509) *store, ca_translate_mode mode,
                 ca_translation *out, pgtls_err *err);

/* Frees what ca_translate filled in; accepts a zeroed struct. */
void ca_translation_cleanup(ca_translation *tr);

/* ------------------------------------------------------------ store files */

/* Store files are read with ca_store_read (ca.h): PEM, s_client text, DER,
 * PKCS#7, PKCS#12 and JKS. */

/* Reads every certificate of a c_rehash-style folder (<hash>.<n> files and
 * .pem and .crt files, links followed), deduplicated by DER, sorted by file name.
 * Returns 0 if OK, -1 with err. */
int ca_store_read_dir(const char *dir, STACK_OF(X509) **out, pgtls_err *err);

/* Writes certs as one PEM bundle (0644), replacing path. Returns 0 or -1. */
int ca_store_write_pem(STACK_OF(X509) *certs, const char *path, pgtls_err *err);

/* Fills dir (created, must be empty or absent) with the c_rehash layout
 * OpenSSL's hashed-directory lookup reads: <subject hash>.<n> per
 * certificate, plus ca-certificates.crt holding them all. Returns 0 or -1. */
int ca_store_write_hashed_dir(STACK_OF(X509) *certs, const char *dir, pgtls_err *err);

/* Writes a certificate-only PKCS#12 truststore Java reads as trusted
 * certificates (password "changeit" when NULL). Returns 0 or -1. */
int ca_store_write_p12(STACK_OF(X509) *certs, const char *password, const char *path,
                       pgtls_err *err);

/* X509_verify_cert of chain (leaf first) against the trusted set at the
 * current time, default flags, security level 2: writes "ok", "untrusted",
 * "expired", "not-yet-valid", "too-weak" or "error:<reason>" into out.
 * Returns 0, or -1 with err on a setup error. */
int ca_store_verify_chain(STACK_OF(X509) *chain, STACK_OF(X509) *trusted, char *out,
                          size_t out_len, pgtls_err *err);

/* Hex SHA-256 of a certificate's DER into out[65]. */
void ca_cert_sha256_hex(X509 *cert, char out[65]);

#endif
