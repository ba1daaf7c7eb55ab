/* pgtls mockserver: Microsoft Entra ID authentication (auth=entra) as Azure
 * Database for PostgreSQL flexible server does it: the client answers
 * AuthenticationCleartextPassword with an access token, which is validated
 * against the mock tenant (DIR/entra, shared with `pgtls imds`) and mapped
 * to a role made by pgaadauth_create_principal. Internal to the mock. */
#ifndef PGTLS_MS_ENTRA_H
#define PGTLS_MS_ENTRA_H

#include <stddef.h>

#include "err.h"
#include "ms_query.h"
#include "ms_wire.h"

/* PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH (libpq-be.h): a password message
 * longer than this ends the connection (pq_getmessage, COMMERROR). */
#define MS_MAX_AUTH_TOKEN_LENGTH 65535

typedef struct ms_entra ms_entra;

/* Opens (or makes) the tenant of fixtures_dir and the principal roles it
 * starts with (identities with "role": true). Returns NULL with err. */
ms_entra *ms_entra_new(const char *fixtures_dir, pgtls_err *err);
void ms_entra_free(ms_entra *e);

/* 1 when user is a role made for an Entra principal. Thread-safe. */
int ms_entra_is_principal(ms_entra *e, const char *user);

/* Validates token (len bytes) as the password of user at time now.
 * Returns 0 when accepted, -1 with the FATAL Azure sends in out_err and the
 * validator's reason in why (for the event log). Thread-safe. */
int ms_entra_check(ms_entra *e, const char *user, const char *token, size_t len, long long now,
                   ms_pgerr *out_err, char *why, size_t why_cap);

/* Answers `select * from pgaadauth_create_principal('<name>', <bool>, <bool>)`
 * (or `select pgaadauth_create_principal(...)`): in database postgres it
 * makes the role (`Created role for "<name>"`), elsewhere ERROR 42883 as the
 * extension lives only there. Returns 1 when sql was that statement (out is
 * filled), 0 when it was not, -1 when out of memory. With execute = 0 it only
 * describes. e may be NULL (no tenant): the function does not exist. */
int ms_entra_query(ms_entra *e, const char *sql, const char *database, int execute,
                   ms_result *out);

#endif
