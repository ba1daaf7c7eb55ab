/* pgtls certs-gen tests: shared helpers. */
#ifndef PGTLS_CA_TEST_UTIL_H
#define PGTLS_CA_TEST_UTIL_H

#include <openssl/x509.h>

#include "ca_internal.h"

/* The key cache every certs-gen test uses: a build-dir folder, so repeated
 * test runs are warm. */
const char *ca_test_key_cache(void);

/* One fixtures folder generated from the shipped catalogue per test process
 * (call it from the suite function: it runs in the parent before Check
 * forks, so every test shares it). Removed when the parent exits. */
const char *ca_test_fixtures(void);

/* Loads one PEM or DER certificate; aborts the test on failure. */
X509 *ca_test_load_cert(const char *path);

/* The shared fixtures' certificate by catalogue name. */
X509 *ca_test_fixture_cert(const char *name);

/* Parses a catalogue from text named "test.ini"; NULL with err set. */
ca_catalogue *ca_test_parse(const char *text, pgtls_err *err);

#endif
