/* pgtls: where the program's own files are, so that the same binary works from
 * its build tree and, once installed (`meson install`), from any directory. */
#ifndef PGTLS_PATHS_H
#define PGTLS_PATHS_H

/* The folder holding the catalogue (certs-gen/catalogue.ini), the suites
 * (suites/) and the client adapters' files (clients/), in the source tree's
 * layout: <prefix>/share/pgtls when the running binary is an installed one
 * (<prefix>/bin/pgtls next to <prefix>/share/pgtls), else the source tree it
 * was built from. $PGTLS_DATA_ROOT overrides both. Never NULL; static. */
const char *pgtls_data_root(void);

/* The folder holding built helper programs (clients/<name>/pgtls-adapter-*),
 * the @BUILD@ of adapter manifests: <prefix>/libexec/pgtls when installed,
 * else the build tree. $PGTLS_EXEC_ROOT overrides both. Never NULL; static. */
const char *pgtls_exec_root(void);

#endif
