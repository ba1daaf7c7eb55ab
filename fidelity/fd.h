/* pgtls: the fidelity harness (fd_): a real PostgreSQL server configured like a
 * scenario of the fixtures index, so the same cases can run against the mock
 * and against the real thing (docs/fidelity.md).
 *
 * One fd_real owns one temporary cluster: initdb runs once, then every
 * fd_real_start() rewrites the configuration for a scenario and restarts the
 * postmaster on the same loopback port. The server only listens on 127.0.0.1
 * and on a Unix socket inside the temporary folder. When the process runs as
 * root, the server runs as the `postgres` system user (PostgreSQL refuses to
 * run as root); the folders it needs are handed to that user.
 *
 * Cleanup: fd_real_free() stops the server and removes the folder. If the
 * owning process dies without calling it, the postmaster gets SIGQUIT from the
 * kernel (PR_SET_PDEATHSIG set in the child before exec), so no server
 * outlives a crashed test. Note that the death signal follows the *thread*
 * that called fd_real_new/fd_real_start: call them from a thread that lives as
 * long as the server is needed (the main thread).
 */
#ifndef PGTLS_FD_H
#define PGTLS_FD_H

#include <jansson.h>

#include "err.h"
#include "fixtures.h"

/* Default location of Debian's server binaries; $PGTLS_PG_BINDIR overrides. */
#define FD_DEFAULT_BINDIR "/usr/lib/postgresql/15/bin"

typedef struct fd_real fd_real;

/* ---- what a real server can express ------------------------------------ */

/* Whether a real PostgreSQL of major version pg_major can be configured like
 * scenario sc. Returns NULL when it can, else a static one-line reason (why
 * not, and which PostgreSQL version or setting would be needed). */
const char *fd_scenario_unexpressible(const fx_scenario *sc, int pg_major);

/* Like fd_scenario_unexpressible, for one case (an adapter case object as in
 * docs/case-protocol.md) of that scenario: adds the per-case limits (for
 * example sslnegotiation=direct needs PostgreSQL 17). Returns NULL when the
 * case can run against the real server, else a static reason. */
const char *fd_case_unexpressible(const fx_scenario *sc, const json_t *case_obj, int pg_major);

/* Where the real server is configured only approximately like the mock
 * (ssl_groups reduced to ssl_ecdh_curve, server_version, ...). Returns a heap
 * string of "; "-separated notes the caller frees, "" when exact, NULL only
 * when out of memory. */
char *fd_scenario_caveats(const fx_scenario *sc, int pg_major);

/* ---- configuration rendering (pure; unit-tested) ------------------------- */

typedef struct fd_conf_paths {
    int port;
    const char *socket_dir;
    const char *cert_file; /* NULL when the scenario has no TLS */
    const char *key_file;
    const char *ca_file;  /* ssl_ca_file, ssl_crl_file, ssl_crl_dir: NULL when */
    const char *crl_file; /* the scenario has none */
    const char *crl_dir;
} fd_conf_paths;

/* The postgresql.conf fragment for scenario sc. Returns a heap string the
 * caller frees, or NULL with a message in err (a value that cannot be written
 * in postgresql.conf syntax, an unexpressible scenario). */
char *fd_render_conf(const fx_scenario *sc, int pg_major, const fd_conf_paths *paths,
                     pgtls_err *err);

/* The pg_hba.conf for scenario sc: Unix-socket trust for the harness' own
 * administration, and 127.0.0.1/32 with the scenario's auth method, `hostssl`
 * when require_secure_transport is on, `host` otherwise. Returns a heap string
 * or NULL with a message in err. */
char *fd_render_hba(const fx_scenario *sc, pgtls_err *err);

/* The group PostgreSQL < 18 can set through ssl_ecdh_curve for an ssl_groups
 * list: the first entry that names an elliptic curve (OpenSSL short name),
 * "prime256v1" for an empty list, NULL when no entry is such a curve. Writes
 * into buf (at least 32 bytes). */
const char *fd_ecdh_curve_for_groups(const char *groups, char *buf, size_t buf_len);

/* ---- the server ---------------------------------------------------------- */

/* Creates a temporary cluster with initdb (bindir NULL: $PGTLS_PG_BINDIR or
 * FD_DEFAULT_BINDIR). Takes a few seconds. Returns NULL with a message in err
 * (binaries missing: names the Debian package; initdb failed: the last lines
 * of its output). */
fd_real *fd_real_new(const char *bindir, pgtls_err *err);

/* Major version of the server binaries (15 for Debian 12). */
int fd_real_pg_major(const fd_real *r);
/* The server's full version as `postgres -V` prints it ("17.10"). */
const char *fd_real_server_version(const fd_real *r);

/* Configures the cluster for scenario sc and (re)starts the server; returns
 * when it accepts connections. Creates/updates the scenario's role (password
 * stored as md5 for md5 scenarios, SCRAM otherwise) and the sslinfo
 * extension in database postgres. Returns 0 if OK, -1 with a message in err
 * (unexpressible scenario: the reason; server failed to start: the last lines
 * of its log). */
int fd_real_start(fd_real *r, const fx_scenario *sc, pgtls_err *err);

/* Stops the server (fast shutdown). A stopped server is fine. Returns 0 if OK,
 * -1 with a message in err. */
int fd_real_stop(fd_real *r, pgtls_err *err);

/* The loopback port the server listens on (same across restarts). */
int fd_real_port(const fd_real *r);

/* Process id of the running postmaster, 0 when stopped. */
int fd_real_pid(const fd_real *r);

/* Path of the server log (stderr of every postmaster of this cluster). */
const char *fd_real_log_path(const fd_real *r);

/* Runs SQL as the cluster's superuser over the Unix socket. Returns 0 if OK,
 * -1 with the server's error in err. */
int fd_real_admin_sql(fd_real *r, const char *sql, pgtls_err *err);

/* Stops the server, removes the temporary cluster and frees r. Accepts NULL.
 * Set PGTLS_FD_KEEP=1 in the environment to keep the folder for debugging. */
void fd_real_free(fd_real *r);

/* ---- command line -------------------------------------------------------- */

/* `pgtls-fidelity` entry point (fidelity/fd_cli.c): expressible, serve;
 * argv[0] is the program. Returns the exit status. */
int fd_cli_main(int argc, char **argv);

/* `pgtls-fidelity compare` (fidelity/fd_suite.c, linked only into the
 * executable because it embeds the runner, suites and mock libraries);
 * argv[0] is "compare". Returns 0 no difference, 1 differences, 2 error. */
int fd_compare_main(int argc, char **argv);

/* `pgtls fidelity COMMAND ...` and pgtls-fidelity: argv[0] is the program or
 * subcommand name, argv[1] the command (compare, expressible, serve).
 * Returns the exit status. */
int fd_dispatch_main(int argc, char **argv);

/* `pgtls run --against-real ...`: the suite against a real PostgreSQL
 * (fd_compare_main --real-only with the run's flags). Returns the exit status. */
int fd_run_against_real(int argc, char **argv);

#endif
