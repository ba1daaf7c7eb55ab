/* pgtls runner: internal API shared by the runner's modules and its tests.
 *
 * Layers (one concept per file):
 *   rn_manifest.c  clients/<name>/adapter.json: parse, expand placeholders, detect
 *   rn_case.c      one case -> the adapter's JSON line (docs/case-protocol.md),
 *                  the isolated HOME and environment, one-shot argv and shell text
 *   rn_proc.c      the adapter process supervisor: posix_spawn, hello, one case at
 *                  a time with a deadline, SIGKILL on timeout, crash detection
 *   rn_run.c       `pgtls run`: workers, the embedded mock, correlation, matrix
 *   rn_cli.c       the three subcommands' flag parsing
 * The command entry points are at the end of this header. */
#ifndef PGTLS_RN_H
#define PGTLS_RN_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "fixtures.h"
#include "st.h"

/* ---------------------------------------------------------------- manifests */

/* What clients/<name>/adapter.json declares (docs/runner.md, "Adapter manifest"). */
typedef struct rn_manifest {
    char *name;        /* the folder name under clients/ */
    char *dir;         /* absolute path of clients/<name> in the source tree */
    char *description; /* may be NULL */
    char *install;     /* expanded "install" command path, may be NULL */
    char **requires;   /* programs that must be in PATH (NULL-terminated) */
    char **argv;       /* expanded, NULL-terminated, num_argv >= 1 */
    size_t num_argv;
    int startup_timeout_ms; /* deadline for the hello line (default 20000) */
    int tls_only;           /* 1: only TLS-level outcomes are meaningful (s_client) */
    /* "default_trust_untranslatable": why the client's own default trust
     * cannot be translated into the look-alike world (compiled-in roots);
     * its verify-ca/verify-full rows without sslrootcert are then
     * unsupported with this reason. NULL: translatable. */
    char *default_trust_untranslatable;
} rn_manifest;

/* Placeholders an argv element may hold: @BUILD@ (the meson build root),
 * @SRC@ (the source root), @DIR@ (the adapter's folder). */
typedef struct rn_paths {
    const char *build_root;
    const char *source_root;
} rn_paths;

/* Expands @BUILD@, @SRC@ and @DIR@ in s into a new heap string. Returns NULL
 * with a message in err for an unknown or unterminated placeholder. */
char *rn_expand_placeholders(const char *s, const rn_paths *paths, const char *adapter_dir,
                             pgtls_err *err);

/* Parses one manifest's JSON text for adapter `name` living in adapter_dir.
 * Returns NULL with a message naming the file (origin) and the key in err. */
rn_manifest *rn_manifest_parse(const char *json_text, const char *origin, const char *name,
                               const char *adapter_dir, const rn_paths *paths, pgtls_err *err);

/* Reads and parses clients_dir/<name>/adapter.json. Returns NULL with err. */
rn_manifest *rn_manifest_load(const char *clients_dir, const char *name, const rn_paths *paths,
                              pgtls_err *err);

void rn_manifest_free(rn_manifest *m);

/* Lists the adapter names under clients_dir (folders holding adapter.json),
 * sorted. Returns the count (>= 0) and a heap array of heap strings the caller
 * frees with rn_strv_free, or -1 with err. */
int rn_manifest_list(const char *clients_dir, char ***out_names, pgtls_err *err);

/* An adapter name: letters, digits, '.', '_', '-' (not first), optionally
 * followed by '@' and a version of the same characters plus '+' (a version
 * build, docs/versions.md: "node-postgres@8.7.3"). 1 when name is one. */
int rn_client_name_ok(const char *name);

/* The base adapter of a version build ("pgx" for "pgx@5.0.0", the name
 * itself otherwise), in buf. */
const char *rn_client_base(const char *name, char *buf, size_t cap);

/* Checks that argv[0] can be executed: an absolute/relative path that is an
 * executable file, or a bare name found in $PATH. Returns 0 if OK, -1 with
 * the reason in err ("build the adapter: ninja -C build", ...). */
int rn_manifest_check_exec(const rn_manifest *m, pgtls_err *err);

void rn_strv_free(char **v);

/* -------------------------------------------------------------------- cases */

/* Where the case connects: the (scenario, worker) listener. */
typedef struct rn_target {
    const char *hostaddr; /* NULL: "127.0.0.1" */
    int port;
} rn_target;

/* The environment a case runs with; every path absolute. */
typedef struct rn_case_env {
    char *home;          /* the isolated HOME */
    char *ssl_cert_file; /* SSL_CERT_FILE: the isolated "system" bundle */
    char *ssl_cert_dir;  /* SSL_CERT_DIR, may be NULL */
} rn_case_env;

/* Creates the isolated HOME for a case (work_dir/home-<seq>, emptied first),
 * with .postgresql/root.crt copied (0644) from c->home_root_crt_pem when set,
 * and fills env: SSL_CERT_FILE/SSL_CERT_DIR point at the case's isolated
 * system store (c->system_cert_file/dir) when it has one, else at an empty
 * bundle and folder in work_dir, never at the host's store. Returns 0 if OK,
 * -1 with err (copy failure). */
int rn_case_env_prepare(const st_case *c, const char *work_dir, unsigned long seq, rn_case_env *env,
                        pgtls_err *err);

/* Frees the strings (not the folder). Accepts an all-NULL env. */
void rn_case_env_cleanup(rn_case_env *env);

/* NULL when the adapter's hello lists what the case needs (feature
 * "surface:<s>" for a case with a surface, "literal" for a source-page
 * case) or lists any "surface:" feature (then the adapter answers what it
 * cannot express, with its driver's reason); else the unsupported reason
 * (heap): an adapter that predates surfaces never gets such a case. */
char *rn_surface_missing(json_t *hello, const st_case *c);

/* The case object of docs/case-protocol.md: a copy of base (st_case_to_json)
 * plus hostaddr, port, timeout_ms and env. Returns a new reference, or NULL
 * when out of memory. */
json_t *rn_case_json(const json_t *base, const rn_target *t, int timeout_ms,
                     const rn_case_env *env);

/* Puts a case's mock events in connection order, in place. The mock delivers
 * an event when a connection ENDS, so prefer's TLS attempt (which ends after
 * the client has already opened its plaintext retry) can arrive second; the
 * classifier reads the array as the story of the case, so it must be in the
 * order the connections were accepted: by "pid" (the mock numbers accepted
 * connections in order), else by "t_start". Stable; non-objects stay last. */
void rn_events_sort(json_t *events);

/* The one-shot argv of an adapter for a case object: manifest argv followed by
 * --FIELD VALUE per non-null field (--env NAME=VALUE repeated, objects as
 * compact JSON). Returns a NULL-terminated heap vector (rn_strv_free) or NULL
 * when out of memory. */
char **rn_case_oneshot_argv(const rn_manifest *m, const json_t *case_obj);

/* Shell text for a vector: each element single-quoted when needed. For
 * printing only; the runner never executes a shell string. */
char *rn_shell_join(char *const *argv);

/* ------------------------------------------------------------ the supervisor */

typedef enum {
    RN_REPLY_OK,      /* a result line parsed as a JSON object */
    RN_REPLY_TIMEOUT, /* no line before the deadline: the adapter was killed */
    RN_REPLY_CRASHED, /* the adapter exited, or wrote a line that is not a result */
    RN_REPLY_STOPPED, /* the run was interrupted (stop flag) */
} rn_reply_status;

typedef struct rn_reply {
    rn_reply_status status;
    json_t *result;    /* RN_REPLY_OK: the result object (owned) */
    char *detail;      /* otherwise: what happened, one line (owned) */
    char *stderr_tail; /* the adapter's last stderr lines (owned, may be NULL) */
    int exit_status;   /* wait status when the process ended, else -1 */
    long long wall_ms; /* time from writing the case to the outcome */
} rn_reply;

void rn_reply_cleanup(rn_reply *r);

typedef struct rn_adapter rn_adapter;

/* Spawns argv (posix_spawn, own process group, stdin/stdout/stderr pipes, the
 * environment minus PG*, SSL_CERT_FILE, SSL_CERT_DIR, NODE_EXTRA_CA_CERTS) and
 * waits up to hello_timeout_ms for its hello line. `stop` (may be NULL) is
 * polled: when it becomes non-zero the wait ends. Returns the adapter, or NULL
 * with err (the reason and the stderr tail) after killing the process. */
rn_adapter *rn_adapter_start(char *const *argv, int hello_timeout_ms, volatile sig_atomic_t *stop,
                             pgtls_err *err);

/* The hello object (borrowed). */
json_t *rn_adapter_hello(const rn_adapter *a);
pid_t rn_adapter_pid(const rn_adapter *a);

/* Writes one case line and waits for one result line until deadline_ms
 * (relative). Fills *out (caller cleans up). After any status but
 * RN_REPLY_OK the adapter is dead (killed and reaped) and must be freed. */
void rn_adapter_call(rn_adapter *a, const char *case_line, int deadline_ms,
                     volatile sig_atomic_t *stop, rn_reply *out);

/* 1 while the process can take another case. */
int rn_adapter_alive(const rn_adapter *a);

/* Closes stdin, gives the process grace_ms to exit, then SIGKILLs its process
 * group; reaps; frees. Accepts NULL. */
void rn_adapter_free(rn_adapter *a, int grace_ms);

/* Runs a whole process to completion with a deadline: argv spawned as above
 * with stdin from /dev/null; collects stdout and stderr (bounded). Returns 0
 * when it exited by itself (status in *out_status), -1 with err on spawn
 * failure or timeout (killed). */
int rn_run_collect(char *const *argv, char *const *envp, int timeout_ms, char **out_stdout,
                   char **out_stderr, int *out_status, pgtls_err *err);

/* The current environment filtered as for adapters, plus extra NAME=VALUE
 * entries (may be NULL). NULL-terminated heap vector (rn_strv_free). */
char **rn_adapter_environ(char *const *extra);

/* A client's adapter across many cases: started lazily, restarted after a
 * timeout or a crash, given up after RN_MAX_START_FAILURES starts in a row
 * that produced no hello (every later case is answered at once as crashed
 * with that reason, so no row is ever lost). */
#define RN_MAX_START_FAILURES 2

typedef struct rn_session {
    char *const *argv; /* borrowed: the manifest's batch argv */
    int hello_timeout_ms;
    rn_adapter *adapter; /* NULL between processes */
    int start_failures;  /* consecutive */
    char *start_error;   /* the last start failure's message */
    json_t *hello;       /* the last hello seen (owned), NULL before any */
    int num_starts;      /* processes started so far */
} rn_session;

void rn_session_init(rn_session *s, char *const *argv, int hello_timeout_ms);
void rn_session_cleanup(rn_session *s);

/* Runs one case line on the session's adapter (starting one if needed).
 * Always fills *out: RN_REPLY_OK with the result, or CRASHED/TIMEOUT/STOPPED
 * with a detail; a failed start is CRASHED with the start error. */
void rn_session_call(rn_session *s, const char *case_line, int deadline_ms,
                     volatile sig_atomic_t *stop, rn_reply *out);

/* Describes a wait status: "exit 3", "signal 9 (Killed)". Heap string. */
char *rn_wait_status_text(int status);

/* ------------------------------------------------------------------ clients */

/* A detected client: its manifest and what its --describe said. */
typedef struct rn_client {
    char *name;
    rn_manifest *manifest; /* NULL when the manifest itself is bad */
    json_t *hello;         /* NULL when unusable */
    char *unusable;        /* the reason, or NULL when usable */
} rn_client;

/* Loads clients_dir/<name>/adapter.json, checks the program and runs
 * `ADAPTER --describe` with describe_timeout_ms. Never fails for a bad
 * adapter: out->unusable says why. Returns -1 only when out of memory. */
int rn_client_probe(const char *clients_dir, const char *name, const rn_paths *paths,
                    int describe_timeout_ms, rn_client *out);
void rn_client_cleanup(rn_client *c);

/* Maps a --clients name to an adapter folder under clients_dir (heap string):
 * the folder itself; a registry name with a version ("pg@8.7.3",
 * "psycopg2-binary@2.9.5", "org.postgresql:postgresql@42.2.29",
 * "github.com/jackc/pgx/v5@v5.0.0") to its version build
 * (docs/versions.md); and "ADAPTER@VERSION" without such a folder to the base
 * adapter when that one loads exactly VERSION. NULL with a one-line reason in
 * err (what to add) otherwise. */
char *rn_client_resolve(const char *clients_dir, const char *name, const rn_paths *paths,
                        pgtls_err *err);

/* Probes several clients in parallel (at most jobs at a time). names is
 * NULL-terminated; out has one slot per name. Returns 0, -1 when out of memory. */
int rn_client_probe_all(const char *clients_dir, char *const *names, const rn_paths *paths,
                        int describe_timeout_ms, int jobs, rn_client *out);

/* --------------------------------------------------------------------- run */

typedef struct rn_run_options {
    char **clients;   /* NULL-terminated names; NULL: every detected client */
    char **scenarios; /* filters; NULL: all */
    char **sslmodes;
    char **stores;    /* trust store names (case id's second part); NULL: all */
    int trust_world;  /* 1: run adapters in a trust world (docs/trust-worlds.md) */
    const char *suite_path; /* NULL: st_default_suite_path() */
    const char *fixtures_dir;
    int regen;               /* 1: ca_gen_if_stale before loading */
    time_t as_of;            /* 0: today; else fixtures dated as of this time */
    const char *out_dir;     /* where the report goes (created) */
    const char *latest_link; /* NULL, or a symlink to (re)point at out_dir */
    int jobs;                /* workers (>= 1) */
    int timeout_ms;          /* per case, given to the adapter */
    int grace_ms;            /* added to timeout_ms for the runner's deadline */
    int idle_wait_ms;        /* ms_server_wait_idle after each case */
    const char *clients_dir;
    rn_paths paths;
    int tty;       /* progress on one updating line */
    int keep_temp; /* keep the per-case HOMEs */
    const char *command_line;
} rn_run_options;

/* Runs the matrix. Returns the process exit status: 0 every case conforms
 * (or is a known deviation / unsupported), 1 a case fails, 2 usage or input
 * error (message in err, nothing run), 128+signal when *stop was raised (the
 * partial matrix is written, marked incomplete). *stop holds the signal
 * number (0: keep going). */
int rn_run(const rn_run_options *o, volatile sig_atomic_t *stop, pgtls_err *err);

/* ------------------------------------------------------------- trust worlds */

/* A trust world (docs/trust-worlds.md): the host's OS store and JDK cacerts
 * translated into work_dir/world, bound over the real paths by the helper
 * program (pgtls-world) in each adapter's private mount namespace. */
typedef struct rn_world rn_world;

/* Reads and translates the host's stores. Returns NULL with a one-line
 * message in err (an unparsable store named with its path, a missing
 * helper). */
rn_world *rn_world_new(const char *fixtures_dir, const char *work_dir, const char *helper,
                       pgtls_err *err);
void rn_world_free(rn_world *w);

/* One line describing the translated OS store. */
const char *rn_world_summary(const rn_world *w);

/* The adapter argv wrapped to start in the world. For a Node.js adapter the
 * runtime's own tls.rootCertificates are read and the twins of those it holds
 * are handed over with NODE_EXTRA_CA_CERTS; when that fails, *out_error (heap)
 * says why and the argv runs without them (rows relying on the default trust
 * must then be marked). Not thread-safe: call before the workers start.
 * Returns a heap vector (rn_strv_free) or NULL with err. */
char **rn_world_argv(rn_world *w, char *const *argv, char **out_error, pgtls_err *err);

/* The verification result of a chain PEM against the translated OS bundle:
 * "ok", "untrusted", ... (what sslrootcert=system gives). Returns 0 or -1. */
int rn_world_verify_os(const rn_world *w, const char *chain_pem, char *out, size_t out_len,
                       pgtls_err *err);

/* -------------------------------------------------------------------- repro */

typedef struct rn_repro_options {
    const char *case_id;
    const char *client;     /* adapter name */
    const char *suite_path; /* NULL: the default suite */
    const char *fixtures_dir;
    int regen;
    int port; /* 0: 54320 when printing, a free port with --exec */
    int exec;
    int timeout_ms;
    int keep_temp;
    const char *clients_dir;
    rn_paths paths;
} rn_repro_options;

/* Prints the commands replaying one case; with o->exec runs it and prints the
 * result, the mock's events and the class. Returns the exit status: 0 printed
 * (or the executed case conforms / is a known deviation / unsupported), 1 it
 * does not conform, 2 with err on usage or input errors. */
int rn_repro(const rn_repro_options *o, pgtls_err *err);

/* ------------------------------------------------------- customer repro */

typedef struct rn_customer_options {
    const char *conninfo; /* keyword/value, URL, JDBC URL or node-postgres JSON */
    const char *store;    /* NULL: the conninfo's sslrootcert */
    const char *password; /* of a PKCS#12 or JKS store, or NULL */
    const char *chain;    /* NULL: old, new, short and cross; or one of them */
    const char *clients;  /* comma-separated adapter names, "all" or NULL: every installed */
    const char *fixtures_dir;
    int regen;
    int keep_temp;
    int timeout_ms;          /* per case (0: 10000) */
    const char *clients_dir; /* NULL: the default */
} rn_customer_options;

/* `pgtls repro --conninfo`: translates the customer's store over the
 * look-alike world, serves the conninfo's host name from the mock on
 * loopback, runs the clients with the customer's sslmode against the chosen
 * chains (through `pgtls run`) and prints a verdict per client and the fix.
 * Returns the exit status: 0 no client breaks on the old or new chain (or the
 * chains named), 1 one does or a run is inconclusive (timeout, crash), 2 with
 * a message in err on bad input. */
int rn_repro_customer(const rn_customer_options *o, pgtls_err *err);

/* ------------------------------------------- Entra ID token cases (rn_entra.c) */

/* The token services of a run (docs/entra.md "Token rows"). */
typedef struct rn_entra rn_entra;
/* Starts one token service on loopback per fault the token cases among
 * cases need, on the fixtures folder's tenant (made when absent). *out is
 * NULL when no case has a token. Returns 0, or -1 with err. */
int rn_entra_start(const char *fixtures_dir, const st_case *const *cases, size_t num_cases,
                   rn_entra **out, pgtls_err *err);
/* For a token case: sets the line's user (the identity), password (null)
 * and "entra" object (the token service's URL, the client id to ask for,
 * the resource). Nothing for other cases. Returns 0 or -1 with err. */
int rn_entra_case(rn_entra *e, const st_case *c, json_t *line, pgtls_err *err);
/* Stops the services and frees; accepts NULL. */
void rn_entra_stop(rn_entra *e);
/* 1 when the adapter's hello line lists feature in "features". */
int rn_hello_has_feature(const json_t *hello, const char *feature);

/* ------------------------------------------------------ command entry points */

/* `pgtls run`, `pgtls repro`, `pgtls clients`: argv[0] is the subcommand
 * name; each returns the exit status (0 ok, 1 findings or failures, 2 usage
 * or input error). */
int rn_cli_run(int argc, char **argv);
int rn_cli_repro(int argc, char **argv);
int rn_cli_clients(int argc, char **argv);
int rn_cli_timeline(int argc, char **argv); /* rn_timeline.c */
int rn_cli_stores(int argc, char **argv);   /* rn_stores.c: real trust-store snapshots */

#endif
