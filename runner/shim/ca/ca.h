/* SHIM (runner/shim, delete when certs-gen/ca.h lands): the one certs-gen
 * call the runner makes, as announced by the ca branch. */
#ifndef PGTLS_CA_H
#define PGTLS_CA_H
#include "err.h"
int ca_gen_if_stale(const char *catalogue, const char *out_dir, const char *key_cache,
                    long max_age_s, pgtls_err *err);
#endif
