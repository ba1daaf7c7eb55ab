/* pgtls runner: the TLS settings of a customer's connection string
 * (rn_conninfo.c explains the forms and whose rules each follows). */
#ifndef PGTLS_RN_CONNINFO_H
#define PGTLS_RN_CONNINFO_H

#include "err.h"

typedef struct rn_conninfo {
    char *form;        /* "keyword/value", "URL", "JDBC URL", "node-postgres URL|config" */
    char *host, *port; /* the first host of a list; port may be NULL */
    char *sslmode;     /* one of libpq's six, after the form's own rules */
    char *sslrootcert; /* NULL (unset), a path, or "system" */
    char *ssl, *sslfactory; /* the JDBC / node-postgres parameters, as given */
    int libpqcompat;        /* node-postgres uselibpqcompat=true */
    char *note;             /* how the form's settings became sslmode, or NULL */
} rn_conninfo;

/* Parses a libpq keyword/value string, a postgres:// or postgresql:// URL, a
 * jdbc:postgresql:// URL or a node-postgres config object written as JSON
 * into c (zeroed by the caller). Returns 0, or -1 with a one-line message in
 * err (PGTLS_ERR_INPUT) naming what does not parse. */
int rn_conninfo_parse(const char *s, rn_conninfo *c, pgtls_err *err);
void rn_conninfo_cleanup(rn_conninfo *c);

#endif
