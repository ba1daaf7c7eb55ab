/* pgtls suites: the case catalogue, the expectation model and the classifier.
 *
 * A suite file (docs/suites.md) selects scenarios x trust stores x sslmodes x
 * option axes; expanded against the fixtures index it gives a list of cases.
 * For each case and client the expectation model derives the outcome class
 * libpq would produce (docs/expectations.md); the classifier turns what the
 * mock saw plus what the adapter reported into an observed class; the verdict
 * compares the two, taking a client's documented deviations into account.
 *
 * Nothing here touches the network or spawns processes.
 */
#ifndef PGTLS_ST_H
#define PGTLS_ST_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"
#include "fixtures.h"

/* ---- Outcome classes (docs/expectations.md), shared by every component ---- */

#define ST_CLASSES(X)                                                                              \
    X(ST_CONNECTED_TLS, "connected-tls")                                                           \
    X(ST_CONNECTED_PLAIN, "connected-plain")                                                       \
    X(ST_UNTRUSTED_CHAIN, "untrusted-chain")                                                       \
    X(ST_HOSTNAME_MISMATCH, "hostname-mismatch")                                                   \
    X(ST_EXPIRED, "expired")                                                                       \
    X(ST_PROTOCOL_VERSION, "protocol-version")                                                     \
    X(ST_NO_SHARED_CIPHER, "no-shared-cipher")                                                     \
    X(ST_SERVER_REFUSED_SSL, "server-refused-ssl")                                                 \
    X(ST_SSL_REQUIRED, "ssl-required")                                                             \
    X(ST_CLIENT_CONFIG_ERROR, "client-config-error")                                               \
    X(ST_AUTH_FAILED, "auth-failed")                                                               \
    X(ST_UNSUPPORTED, "unsupported")                                                               \
    X(ST_CLIENT_CRASHED, "client-crashed")                                                         \
    X(ST_TIMEOUT, "timeout")

typedef enum {
    ST_CLASS_NONE = -1, /* not known / could not classify */
#define ST_CLASS_ENUM(e, name) e,
    ST_CLASSES(ST_CLASS_ENUM)
#undef ST_CLASS_ENUM
        ST_CLASS_COUNT
} st_class;

/* "connected-tls", ...; "unknown" for ST_CLASS_NONE or out of range. */
const char *st_class_name(st_class c);
/* ST_CLASS_NONE when name is not a class name. */
st_class st_class_parse(const char *name);

/* ---- Verdicts ---- */

#define ST_VERDICTS(X)                                                                             \
    X(ST_CONFORMS, "conforms")                                                                     \
    X(ST_DEVIATION_KNOWN, "deviation-known")                                                       \
    X(ST_FAILS, "fails")                                                                           \
    X(ST_VERDICT_UNSUPPORTED, "unsupported")                                                       \
    X(ST_VERDICT_ERROR, "error")

typedef enum {
#define ST_VERDICT_ENUM(e, name) e,
    ST_VERDICTS(ST_VERDICT_ENUM)
#undef ST_VERDICT_ENUM
        ST_VERDICT_COUNT
} st_verdict;

const char *st_verdict_name(st_verdict v);
/* -1 when name is not a verdict name. */
int st_verdict_parse(const char *name);

/* ---- Suites ---- */

typedef struct st_suite st_suite;

/* Parses a suite file (INI, docs/suites.md). Returns NULL with a message in
 * err naming the file, line and key. */
st_suite *st_suite_load(const char *path, pgtls_err *err);
/* Same from text; origin names it in messages. */
st_suite *st_suite_parse(const char *text, const char *origin, pgtls_err *err);
void st_suite_free(st_suite *s);
const char *st_suite_name(const st_suite *s);
/* Path of the default suite shipped in the source tree (suites/default.suite). */
const char *st_default_suite_path(void);

/* ---- Cases ---- */

/* What the trust-store column of a case means for the client. */
typedef enum {
    ST_ROOT_UNSET,  /* sslrootcert not set (libpq falls back to ~/.postgresql/root.crt) */
    ST_ROOT_FILE,   /* sslrootcert = a PEM file with certificates */
    ST_ROOT_EMPTY,  /* sslrootcert = a zero-byte file */
    ST_ROOT_MISSING,/* sslrootcert = a path that does not exist */
    ST_ROOT_SYSTEM, /* sslrootcert = system, SSL_CERT_FILE/DIR = an isolated store */
} st_root_kind;

typedef struct st_case {
    char *id;       /* <scenario>/<store>/<sslmode>[/<option>=<value>...], stable */
    char *scenario;
    char *store;    /* store name, "none" when sslrootcert is unset */
    st_root_kind root_kind;
    char *sslmode;  /* disable allow prefer require verify-ca verify-full */
    /* The adapter case fields (docs/case-protocol.md). The runner fills in
     * port, hostaddr, timeout and env.HOME. */
    char *host;
    char *sslrootcert;         /* absolute path, "system", or NULL (unset) */
    char *truststore_p12;      /* absolute path or NULL */
    char *truststore_password; /* or NULL */
    char *user, *password, *dbname, *query;
    /* Options: NULL = not set (client default). */
    char *sslnegotiation;      /* postgres | direct */
    char *channel_binding;     /* disable | prefer | require */
    char *ssl_min_protocol_version, *ssl_max_protocol_version; /* TLSv1 .. TLSv1.3 */
    char *sslsni;              /* "0" | "1" */
    /* How the settings reach the driver (docs/surfaces.md): conninfo, url,
     * env, options, url+options, url+env, npgsql; NULL = the adapter's
     * default form. */
    char *surface;
    /* Source-page case: the connection string exactly as the page shows it
     * (literal_as_written), with the file names it mentions replaced by the
     * stores' paths (literal, what the adapter reads), and the page's title.
     * NULL for every other case. */
    char *literal, *literal_as_written, *page;
    /* HOME set-up: store whose PEM the runner copies to
     * $HOME/.postgresql/root.crt (0644) before the case, or NULL. */
    char *home_root_crt_store;
    char *home_root_crt_pem;   /* absolute path of that PEM, or NULL */
    /* Isolated system store used when sslrootcert=system: the runner sets
     * SSL_CERT_FILE and SSL_CERT_DIR from these; NULL otherwise. */
    char *system_cert_file, *system_cert_dir;
    /* 1: the case relies on the client's own default or system trust, which
     * the runner answers through the run's trust world (docs/trust-worlds.md):
     * no SSL_CERT_FILE/SSL_CERT_DIR is set for it. Set by the runner. */
    int world_trust;
    /* Declared facts (copied from the index so a case is self-contained). */
    int server_ssl, require_secure_transport, host_match, server_direct_tls;
    char *server_min_protocol, *server_max_protocol; /* "" = no bound */
    char *server_auth;
    char *verify;      /* declared verify result for the store, NULL if none loaded */
    char *home_verify; /* declared verify result for the HOME root.crt store, or NULL */
    /* Field case (docs/suites.md "Field cases"): a reported failure this case
     * reproduces. field_source is NULL for an ordinary case; then the other
     * field_* members are unset. */
    char *field_block;        /* name of the suite block */
    char *field_source;       /* URL of the report */
    st_class field_reported;  /* the outcome the report describes */
    char **field_clients;     /* adapter names the report is about */
    size_t num_field_clients;
    /* Microsoft Entra ID token case (docs/entra.md "Token rows"): NULL, or
     * one of ST_TOKEN_CASES. The client signs in with a token its Azure SDK
     * gets from the run's token service; only scenarios with auth=entra. */
    char *token;
} st_case;

/* The token cases of the suite axis `token` (docs/suites.md). */
#define ST_TOKEN_CASES                                                                            \
    "valid expired not-yet-valid wrong-audience foreign-key unknown-principal unknown-identity"
/* 1 when s is one of ST_TOKEN_CASES. */
int st_token_valid(const char *s);
/* What the run's token service does for a token case: the fault it applies
 * ("none", "expired", "not-yet-valid", "wrong-audience", "foreign-key") and
 * which identity the client asks for: "default" (the VM's own identity,
 * which has a role), "no-role" (a user-assigned identity the server holds
 * no role for) or "unknown" (a client id the token service does not know).
 * Returns -1 for an unknown token case. */
int st_token_plan(const char *token, const char **fault, const char **identity);

typedef struct st_case_list {
    st_case *cases;
    size_t num_cases;
} st_case_list;

/* 1 when surface is a value of the surfaces axis (docs/surfaces.md). */
int st_surface_valid(const char *surface);

/* Expands a suite against a fixtures index into cases (sorted by id, no
 * duplicates). Returns 0 if OK, -1 with a message in err (unknown scenario or
 * store, a store the scenario declares no verify result for, ...). */
int st_expand(const st_suite *s, const fx_index *idx, st_case_list *out, pgtls_err *err);
void st_case_list_cleanup(st_case_list *l);
/* NULL when no case has this id. */
const st_case *st_case_find(const st_case_list *l, const char *id);

/* 1 when the case is run for the adapter named client: every ordinary case
 * is; a field case only for the clients its block lists. */
int st_case_applies_to(const st_case *c, const char *client);

/* The field verdict of a field case: "reproduces" (observed is the reported
 * class), "not-tested" (the adapter answered unsupported: the client cannot
 * express the case) or "no-longer-reproduces". NULL for an ordinary case. */
const char *st_field_verdict(const st_case *c, st_class observed);

/* The case as an adapter case object (docs/case-protocol.md) without port,
 * hostaddr, timeout_ms and env, which the runner adds. New reference, or NULL
 * when out of memory. */
json_t *st_case_to_json(const st_case *c);

/* ---- Expectation model (st_expect.c, docs/expectations.md) ---- */

/* The libpq semantics a client is held to when it has no libpq of its own. */
#define ST_LIBPQ_REFERENCE_MAJOR 17

/* Major version from a PQlibVersion() number or string ("170002" -> 17,
 * "150018" -> 15, 90624 -> 9); 0 if it cannot tell. */
int st_libpq_major(const char *libpq_version);

typedef struct st_expectation {
    st_class cls;
    const char *rule; /* the rule id of docs/expectations.md, e.g. "R7" */
    const char *why;  /* one sentence, static string */
} st_expectation;

/* Derives what libpq of major version libpq_major (0 = reference) does on the
 * case. Always returns a class; never fails. */
st_expectation st_expect(const st_case *c, int libpq_major);

/* ---- Classifier (st_classify.c) ---- */

typedef struct st_observation {
    st_class cls;
    const char *evidence; /* static: which signal decided ("server event: alert unknown_ca") */
} st_observation;

/* Combines the mock's events for the case (a JSON array of event objects,
 * docs/event-log.md; may be NULL or empty) and the adapter's result object
 * (docs/case-protocol.md; NULL when the adapter died: crashed; the runner
 * passes {"timeout":true} for a timeout). Never fails. */
st_observation st_classify(json_t *events, json_t *result);

/* The event fields (docs/event-log.md) the classifier reads, NULL-terminated;
 * it reads no other field of an event. */
const char *const *st_classify_event_fields(void);

/* Error-text patterns alone (driver families: libpq/OpenSSL, JSSE, Node, Go,
 * Python ssl, rustls, .NET). ST_CLASS_NONE when nothing matches. */
st_class st_classify_error_text(const char *error);

/* ---- Known deviations (suites/deviations/<client>.ini) ---- */

typedef struct st_deviations st_deviations;

/* Loads dir/<client>.ini; a missing file gives an empty set. Returns NULL with
 * a message in err on a malformed file. */
st_deviations *st_deviations_load(const char *dir, const char *client, pgtls_err *err);
st_deviations *st_deviations_parse(const char *text, const char *origin, pgtls_err *err);
void st_deviations_free(st_deviations *d);
/* Directory of the shipped deviation files (suites/deviations). */
const char *st_deviations_default_dir(void);

typedef struct st_deviation_match {
    const char *name;   /* section name of the deviation (borrowed) */
    const char *source; /* link to the documentation / issue */
    const char *reason;
    st_class predicted; /* the class a predicting entry gives, ST_CLASS_NONE for
                           an entry listing observed classes; read it only when
                           name is set */
} st_deviation_match;

/* 1 when a deviation covers this case with this expected and observed
 * class, else 0. *out (may be NULL) gets borrowed strings when one matches.
 * d may be NULL (no deviations). */
int st_deviation_find(const st_deviations *d, const st_case *c, st_class expected,
                      st_class observed, st_deviation_match *out);

/* The full match, as st_judge uses it: libpq_major (0 = reference) for
 * predictions made with acts_as. A predicting entry covers the case only
 * when the observed class is the one it predicts; when it does not (and no
 * later entry covers the case), *out_missed (may be NULL; zeroed, name NULL,
 * when nothing was missed) names the entry and its prediction, so the
 * failure can show both. */
int st_deviation_judge(const st_deviations *d, const st_case *c, st_class expected,
                       st_class observed, int libpq_major, st_deviation_match *out,
                       st_deviation_match *out_missed);

/* The verdict for one client on one case. */
st_verdict st_verdict_for(st_class expected, st_class observed, int deviation_known);

/* ---- Judgement (st_judge.c): the one verdict chain ---- */

/* What pgtls concludes about one client on one case: expected (st_expect),
 * observed (st_classify), the known deviation that applies, and the verdict.
 * Every component that judges a case (the runner, repro, the fidelity
 * suite, the matrix) takes it from st_judge, so they cannot disagree. */
typedef struct st_judgement {
    st_expectation expected;
    st_observation observed;
    st_verdict verdict;
    /* The deviation entry that matched expected and observed (name NULL when
     * none did). Borrowed from the st_deviations given to st_judge. It is
     * the reason for a deviation-known verdict; with any other verdict it is
     * informational only. */
    st_deviation_match deviation;
    /* A predicting deviation entry whose prediction did not come true (name
     * NULL when none): the verdict is then a failure, shown with both the
     * predicted and the observed class. */
    st_deviation_match missed_prediction;
} st_judgement;

/* Judges one client on one case: expect (libpq semantics of the major
 * version in libpq_version, the "libpq" field of the adapter's hello; NULL
 * = the reference), classify (events may be NULL; result NULL = the adapter
 * died), match a known deviation (deviations may be NULL) and derive the
 * verdict. Never fails. */
st_judgement st_judge(const st_case *c, const char *libpq_version, json_t *events, json_t *result,
                      const st_deviations *deviations);

/* 1 when the verdict is a failure of the run (fails or error). */
int st_verdict_is_failure(st_verdict v);

#endif
