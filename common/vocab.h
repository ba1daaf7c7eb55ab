/* pgtls common: the vocabularies every component shares, one table each.
 *
 * - TLS protocol versions as PostgreSQL and libpq spell them
 *   (ssl_min_protocol_version: TLSv1 .. TLSv1.3) with ONE rank;
 * - the environment variables a case must never inherit (the runner drops
 *   them from an adapter's environment, the adapter kit from each case's);
 * - splitting a list value ("a,b", "a b") into its items.
 */
#ifndef PGTLS_VOCAB_H
#define PGTLS_VOCAB_H

#include <stddef.h>

/* ---- TLS protocol versions ---- */

/* Name, rank and wire value (RFC 8446 legacy_version numbering). */
#define VC_TLS_VERSIONS(X)                                                                         \
    X("TLSv1", 10, 0x0301)                                                                         \
    X("TLSv1.1", 11, 0x0302)                                                                       \
    X("TLSv1.2", 12, 0x0303)                                                                       \
    X("TLSv1.3", 13, 0x0304)

/* The rank of a version name: TLSv1 (or TLSv1.0) 10, TLSv1.1 11, TLSv1.2 12,
 * TLSv1.3 13; 0 for NULL or "" (no bound); -1 for anything else. */
int vc_tls_rank(const char *name);

/* The wire value (0x0301 .. 0x0304, OpenSSL's TLS1_VERSION ..), 0 for NULL
 * or "" (no bound), -1 for an unknown name. */
int vc_tls_wire_version(const char *name);

/* The names in rank order, NULL-terminated ("TLSv1", ..., "TLSv1.3"). */
const char *const *vc_tls_version_names(void);

/* ---- The isolated environment ---- */

/* 1 when the NAME=VALUE entry is one a case must not inherit from the
 * runner's or an earlier case's environment: every PG* variable (libpq reads
 * PGSSLMODE, PGSSLROOTCERT, ...), SSL_CERT_FILE and SSL_CERT_DIR (OpenSSL's
 * default store) and NODE_EXTRA_CA_CERTS (Node's added roots). */
int vc_env_isolated(const char *entry);

/* ---- Lists ---- */

/* Splits s at any character of seps into a NULL-terminated heap vector of
 * heap strings; empty items are dropped; with trim, blanks (space, tab)
 * around each item are removed. NULL s gives NULL; NULL when out of memory.
 * Free with vc_strv_free. */
char **vc_split(const char *s, const char *seps, int trim);

/* Number of items of a NULL-terminated vector (0 for NULL). */
size_t vc_strv_len(char *const *v);

/* Frees a vector from vc_split (NULL is fine). */
void vc_strv_free(char **v);

#endif
