/* pgtls clients: the shared core of the C adapters (libpq, psql, openssl-s_client).
 *
 * An adapter speaks the JSON-lines case protocol of docs/case-protocol.md: a
 * hello line, then one result line per case line read from stdin (batch mode),
 * or one case given as flags (one-shot mode). This kit does the protocol part
 * (parsing and validating cases, the per-case environment, result objects,
 * the main loop, running a child process with a hard timeout) so that each
 * adapter is only "case in, result out" for its client.
 */
#ifndef PGTLS_CL_ADAPTER_H
#define PGTLS_CL_ADAPTER_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"

/* Case-protocol version this kit speaks. */
#define CL_PROTOCOL_VERSION 1

/* Default query and timeout when a case leaves them out. */
#define CL_DEFAULT_QUERY "SELECT ssl_is_used()"
#define CL_DEFAULT_TIMEOUT_MS 10000

/* One case. Every string points into `json` (owned by the case) and is NULL
 * when the field is absent or JSON null. */
typedef struct cl_case {
    json_t *json;
    const char *id;
    const char *host;
    const char *hostaddr;
    int port; /* 0 when absent */
    const char *sslmode;
    const char *sslrootcert;
    const char *user;
    const char *password;
    const char *dbname;
    const char *query; /* never NULL after a successful parse */
    long timeout_ms;   /* > 0 after a successful parse */
    const char *application_name;
    json_t *env; /* object of string values, or NULL */
    /* Optional fields: an adapter honours those it lists in "features". */
    const char *sslnegotiation;
    const char *channel_binding;
    const char *ssl_min_protocol_version;
    const char *ssl_max_protocol_version;
    const char *sslsni;      /* "0" or "1" (an integer in the JSON is accepted) */
    json_t *connect_options; /* object, or NULL */
    /* docs/surfaces.md: how the settings reach the driver (NULL = the
     * adapter's default form), and a source-page connection string. */
    const char *surface;
    const char *literal;
    char sslsni_buf[4];
} cl_case;

/* Names of the optional case fields, in protocol order (NULL-terminated). */
extern const char *const cl_optional_fields[];

/* Parses one case line. On success returns 0 and fills *out (release it with
 * cl_case_cleanup). On failure returns -1 with a one-line message in err; out->id
 * is still set when the line was a JSON object with a string "id", so the
 * error result can carry it. out must be cleaned up in both cases. */
int cl_case_parse(const char *line, size_t len, cl_case *out, pgtls_err *err);

/* Fills *out from an already-built JSON object (takes a reference). Same
 * contract as cl_case_parse. */
int cl_case_from_json(json_t *obj, cl_case *out, pgtls_err *err);

void cl_case_cleanup(cl_case *c);

/* The value of an optional field by name ("sslnegotiation", ...), or NULL when
 * not set. connect_options yields a non-NULL marker when set. */
const char *cl_case_optional(const cl_case *c, const char *field);

/* A new result object with every protocol key present (connected=false, the
 * rest null) and the given id (NULL gives JSON null). Returns NULL only when
 * out of memory. */
json_t *cl_result_new(const char *id);

/* Sets key to a JSON string copied from s (NULL gives JSON null). Bytes that
 * are not valid UTF-8 are replaced by U+FFFD, so client error texts in any
 * encoding never make the line unprintable. */
void cl_json_set_str(json_t *obj, const char *key, const char *s);

/* A JSON string from s with the same UTF-8 repair; NULL s gives json_null(). */
json_t *cl_json_str(const char *s);

/* Sets result's "extra" object member key (creating "extra" when needed);
 * steals value. "extra" holds adapter-specific diagnostics the runner keeps
 * but does not interpret (docs/case-protocol.md). */
void cl_result_extra(json_t *result, const char *key, json_t *value);

/* Writes obj as one compact JSON line to stdout and flushes. Returns 0 if OK,
 * -1 if stdout is gone. */
int cl_print_line(json_t *obj);

/* The per-case environment (docs/case-protocol.md, "env"): restores the
 * environment the adapter started with, removes every PG*, SSL_CERT_FILE,
 * SSL_CERT_DIR and NODE_EXTRA_CA_CERTS variable, then sets the case's env.
 * cl_env_init must run once at start-up (it snapshots the environment).
 * Returns 0 if OK, -1 with a message in err. */
void cl_env_init(void);
int cl_env_apply(const cl_case *c, pgtls_err *err);

/* The directory libpq takes as "~" for this case: env.HOME when the case sets
 * it, else $HOME, else NULL. */
const char *cl_case_home(const cl_case *c);

/* A child process run to completion with a hard deadline. */
typedef struct cl_child_result {
    char *out; /* captured stdout, NUL-terminated (never NULL after success) */
    size_t out_len;
    char *err; /* captured stderr */
    size_t err_len;
    int exited;      /* 1 if it exited (exit_status valid) */
    int exit_status; /* exit code */
    int signaled;    /* signal number when killed by a signal, else 0 */
    int timed_out;   /* 1 if the deadline passed and we killed it */
    long long elapsed_ms;
} cl_child_result;

/* Runs argv[0] (looked up in PATH when it has no slash) with envp (NULL: the
 * current environment), stdin from /dev/null, stdout and stderr captured (each
 * capped at 4 MiB; the rest is drained and dropped). The child gets its own
 * process group; at timeout_ms the whole group is sent SIGKILL and reaped.
 * Never uses a shell. Returns 0 if the child ran (whatever its status), -1
 * with a message in err when it could not be started. */
int cl_child_run(char *const argv[], char *const envp[], long timeout_ms, cl_child_result *out,
                 pgtls_err *err);
void cl_child_result_cleanup(cl_child_result *r);

/* ---- Surfaces (surface.c, docs/surfaces.md) ---- */

#define CL_MAX_SETTINGS 64

/* Settings as libpq keywords (borrowed strings). */
typedef struct cl_settings {
    const char *keywords[CL_MAX_SETTINGS + 1];
    const char *values[CL_MAX_SETTINGS + 1];
    int n;
} cl_settings;

/* The surfaces the C adapters express, NULL-terminated. */
extern const char *const cl_surfaces[];

/* How a case's settings reach libpq on one surface: `string` (a conninfo
 * string or URL, given as an expanded dbname first; NULL when none), then
 * `params` as keywords, and `env` (names -> values) set in the environment
 * libpq reads. */
typedef struct cl_surface_plan {
    char *string;
    cl_settings params;
    cl_settings env;
} cl_surface_plan;

/* Splits all by surface: conninfo and url put everything in the string;
 * options everything in params; env the TLS keywords in PG* variables and
 * the rest in params; url+env the rest in a URL; url+options the target and
 * sslmode in a URL, the other TLS keywords in params. -1 with a heap reason
 * in *unsupported when the surface cannot carry a setting. */
int cl_surface_split(const char *surface, const cl_settings *all, cl_surface_plan *plan,
                     char **unsupported);
void cl_surface_plan_cleanup(cl_surface_plan *plan);
/* keyword='value' ... (heap), and postgresql://user:password@host:port/dbname?k=v (heap). */
char *cl_settings_conninfo(const cl_settings *s);
char *cl_settings_url(const cl_settings *s);
/* libpq's PG* variable for a TLS keyword, or NULL; 1 when the keyword is a TLS one. */
const char *cl_tls_envvar(const char *keyword);
int cl_keyword_is_tls(const char *keyword);

/* What an adapter implements. */
typedef struct cl_adapter {
    const char *name; /* folder name under clients/ */
    void *ctx;
    /* The hello object (protocol, client, version, libpq, tls_library,
     * runtime, build, features). Called once; returns a new reference. */
    json_t *(*hello)(void *ctx);
    /* Why an optional field the adapter does not list in features cannot be
     * honoured (a heap string, freed by the caller), or NULL for a generic
     * reason. May be NULL. */
    char *(*unsupported_reason)(void *ctx, const char *field);
    /* Runs one case that passed validation and the features check, with the
     * case environment applied, filling result (connected, tls, error, ...).
     * elapsed_ms is set by the caller. */
    void (*run)(void *ctx, const cl_case *c, json_t *result);
} cl_adapter;

/* The whole adapter program: `--describe`, one-shot flags, or batch mode
 * over stdin (see docs/case-protocol.md). Ignores SIGPIPE. Returns the process
 * exit status: 0 normally, 2 for a usage error. */
int cl_adapter_main(int argc, char **argv, const cl_adapter *adapter);

/* Builds a case object from one-shot flags (`--field value`, repeated
 * `--env NAME=VALUE`, `--connect_options JSON`). Returns a new object, or
 * NULL with a message in err. argv[0] is skipped; "--describe" is not
 * accepted here. */
json_t *cl_case_from_flags(int argc, char **argv, pgtls_err *err);

/* RFC 2253 text of an X509_NAME (most specific first: "CN=x,O=y,C=US"), as a
 * heap string; NULL when out of memory. name is an X509_NAME *. */
char *cl_name_rfc2253(const void *name);

/* A JSON array of the RFC 2253 subjects of a STACK_OF(X509), in order; NULL
 * gives json_null(). */
json_t *cl_subjects_json(const void *stack_of_x509);

/* Subjects of every PEM certificate found in text (other text is skipped), as
 * a JSON array; json_null() when there is none. */
json_t *cl_pem_subjects(const char *text, size_t len);

/* 1 if s is an IPv4 or IPv6 literal. */
int cl_is_ip_literal(const char *s);

#endif
