/* pgtls: the built-in CA (certs-gen), public interface.
 *
 * The catalogue (an INI file, docs/catalogue.md) declares keys, certificates,
 * chains, trust stores and scenarios; ca_gen turns it into a fixtures folder
 * described by index.json (docs/fixtures-index.md), which everyone else reads
 * through common/fixtures.h. */
#ifndef PGTLS_CA_H
#define PGTLS_CA_H

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

/* ---- Command entry point (the pgtls binary calls it) ---- */

/* `pgtls ca ...`: argv[0] is the subcommand name; returns the exit status
 * (0 ok, 1 findings or failures, 2 usage or input error). */
int ca_cli_main(int argc, char **argv);

#endif
