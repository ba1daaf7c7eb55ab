/* pgtls certs-gen: field-by-field DER comparison of a look-alike certificate
 * with the real certificate it copies (docs/catalogue.md, "Comparing with the
 * real certificates").
 *
 * Every field a client or a byte-level tool can see is compared: version,
 * serial, signature algorithms, issuer and subject DER (string types
 * included), validity encoding (UTCTime vs GeneralizedTime) and value, key
 * type and size, extension order, criticality and every extension's DER
 * value. The public key, the signature and the key identifiers derived from
 * the key (SKI value, AKI keyid value) cannot be copied: they are reported as
 * key-derived, never as differences. */
#ifndef PGTLS_CA_COMPARE_H
#define PGTLS_CA_COMPARE_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"

typedef enum ca_compare_status {
    CA_COMPARE_SAME,        /* identical bytes */
    CA_COMPARE_DIFFERS,     /* differs; see `declared` */
    CA_COMPARE_KEY_DERIVED, /* public key, signature, SKI, AKI keyid: cannot be copied */
} ca_compare_status;

typedef struct ca_compare_row {
    /* "version", "serial", "signature", "issuer", "subject", "notBefore",
     * "notAfter", "key", "publicKey", "signatureValue", "extensions" (the
     * ordered list with criticality), "ext:NAME" (NAME = OpenSSL short name,
     * e.g. "ext:crlDistributionPoints", or the dotted OID) */
    char *field;
    ca_compare_status status;
    char *ours; /* printable value of the look-alike ("-" when absent) */
    char *real; /* printable value of the real certificate */
    char *declared; /* reason of a declared difference, or NULL */
} ca_compare_row;

typedef struct ca_compare ca_compare;

/* Compares a look-alike with the real certificate. Returns a new comparison
 * (free with ca_compare_free), or NULL with a message in err. */
ca_compare *ca_compare_new(X509 *ours, X509 *real, pgtls_err *err);
void ca_compare_free(ca_compare *cmp);

size_t ca_compare_num_rows(const ca_compare *cmp);
const ca_compare_row *ca_compare_row_at(const ca_compare *cmp, size_t i);

/* Accepts the difference of `field` for `reason`. Returns 0 when that field
 * differs (it is now declared), -1 with a message in err when it does not
 * differ or does not exist: a declaration must name a real difference. */
int ca_compare_declare(ca_compare *cmp, const char *field, const char *reason, pgtls_err *err);

/* Number of rows that differ and are not declared. */
size_t ca_compare_num_undeclared(const ca_compare *cmp);

/* Prints the comparison, one row per line: "same", "DIFFERS", "declared"
 * (with its reason) or "key-derived", then both values where they differ. */
void ca_compare_print(const ca_compare *cmp, FILE *out);

/* Loads the first certificate of a PEM or DER file. Returns NULL with a
 * one-line message naming the file in err (missing, unreadable, or not a
 * certificate). */
X509 *ca_compare_load_cert(const char *path, pgtls_err *err);

#endif
