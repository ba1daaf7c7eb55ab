/* pgtls: unit tests of the expectation model (docs/expectations.md).
 * One row per rule and variation; each row's name is the sentence it proves. */
#include <check.h>
#include <string.h>

#include "st.h"

/* Scenario facts, abbreviated. */
typedef struct facts {
    int ssl, rst, host_match, direct_tls;
    const char *min, *max, *auth;
} facts;

static const facts AZURE = {1, 1, 1, 1, "TLSv1.2", "", "scram-sha-256"};
static const facts PLAIN_OK = {1, 0, 1, 1, "TLSv1.2", "", "scram-sha-256"};
static const facts NO_SSL = {0, 0, 1, 0, "", "", "md5"};
static const facts WRONG_HOST = {1, 1, 0, 1, "TLSv1.2", "", "scram-sha-256"};
static const facts TLS13_ONLY = {1, 1, 1, 1, "TLSv1.3", "TLSv1.3", "scram-sha-256"};
static const facts TLS12_ONLY = {1, 1, 1, 1, "TLSv1.2", "TLSv1.2", "scram-sha-256"};
static const facts TLS10_ONLY = {1, 1, 1, 1, "TLSv1", "TLSv1", "scram-sha-256"};
static const facts MD5 = {1, 1, 1, 1, "TLSv1.2", "", "md5"};
static const facts NO_DIRECT = {1, 1, 1, 0, "TLSv1.2", "", "scram-sha-256"};
static const facts ENTRA = {1, 1, 1, 1, "TLSv1.2", "", "entra"};

typedef struct row {
    const char *name;
    const facts *f;
    st_root_kind root;
    const char *verify;      /* declared verify for the sslrootcert store */
    const char *home_verify; /* NULL: no ~/.postgresql/root.crt */
    const char *sslmode;
    const char *negotiation, *channel_binding, *min, *max, *sni;
    int libpq;
    st_class expected;
    const char *rule;
    const char *token; /* Entra ID token case, or NULL */
} row;

#define F ST_ROOT_FILE
#define U ST_ROOT_UNSET
#define E ST_ROOT_EMPTY
#define M ST_ROOT_MISSING
#define S ST_ROOT_SYSTEM
#define O NULL, NULL, NULL, NULL, NULL

static const row rows[] = {
    /* sslmode x trust store on a healthy chain */
    {"disable never uses TLS even when the server offers it", &PLAIN_OK, F, "ok", NULL, "disable", O, 17, ST_CONNECTED_PLAIN, "R5", NULL},
    {"disable against a server requiring TLS gets the FATAL ssl-required", &AZURE, F, "ok", NULL, "disable", O, 17, ST_SSL_REQUIRED, "R6", NULL},
    {"allow connects in plaintext first when the server allows it", &PLAIN_OK, F, "untrusted", NULL, "allow", O, 17, ST_CONNECTED_PLAIN, "R5", NULL},
    {"allow retries with TLS after the require_secure_transport FATAL", &AZURE, M, "no-file", NULL, "allow", O, 17, ST_CONNECTED_TLS, "R17", NULL},
    {"allow's TLS retry verifies when a root file is given and fails on a wrong root", &AZURE, F, "untrusted", NULL, "allow", O, 17, ST_UNTRUSTED_CHAIN, "R11", NULL},
    {"prefer uses TLS when the server offers it", &AZURE, M, "no-file", NULL, "prefer", O, 17, ST_CONNECTED_TLS, "R14", NULL},
    {"prefer with a root file verifies the chain and connects when it verifies", &AZURE, F, "ok", NULL, "prefer", O, 17, ST_CONNECTED_TLS, "R7", NULL},
    {"prefer falls back to plaintext when verification fails and the server allows plaintext", &PLAIN_OK, F, "untrusted", NULL, "prefer", O, 17, ST_CONNECTED_PLAIN, "R16", NULL},
    {"prefer's plaintext fallback gets the FATAL when the server requires TLS", &AZURE, F, "untrusted", NULL, "prefer", O, 17, ST_SSL_REQUIRED, "R16", NULL},
    {"prefer continues in plaintext when the server answers N", &NO_SSL, F, NULL, NULL, "prefer", O, 17, ST_CONNECTED_PLAIN, "R5", NULL},
    {"require without a root file connects without verification", &AZURE, M, "no-file", NULL, "require", O, 17, ST_CONNECTED_TLS, "R14", NULL},
    {"require without a root file ignores an untrusted chain", &AZURE, U, NULL, NULL, "require", O, 17, ST_CONNECTED_TLS, "R14", NULL},
    {"require with a wrong root file fails like verify-ca", &AZURE, F, "untrusted", NULL, "require", O, 17, ST_UNTRUSTED_CHAIN, "R11", NULL},
    {"require with a right root file acts as verify-ca and connects", &AZURE, F, "ok", NULL, "require", O, 17, ST_CONNECTED_TLS, "R7", NULL},
    {"require does not check the host name", &WRONG_HOST, F, "ok", NULL, "require", O, 17, ST_CONNECTED_TLS, "R7", NULL},
    {"require against a server without TLS is refused", &NO_SSL, F, NULL, NULL, "require", O, 17, ST_SERVER_REFUSED_SSL, "R19", NULL},
    {"verify-ca connects with the right root", &AZURE, F, "ok", NULL, "verify-ca", O, 17, ST_CONNECTED_TLS, "R14", NULL},
    {"verify-ca does not check the host name", &WRONG_HOST, F, "ok", NULL, "verify-ca", O, 17, ST_CONNECTED_TLS, "R14", NULL},
    {"verify-ca rejects a chain from an unknown root", &AZURE, F, "untrusted", NULL, "verify-ca", O, 17, ST_UNTRUSTED_CHAIN, "R11", NULL},
    {"verify-ca with a missing root file is a client configuration error", &AZURE, M, "no-file", NULL, "verify-ca", O, 17, ST_CLIENT_CONFIG_ERROR, "R8", NULL},
    {"verify-full with sslrootcert unset and no home root.crt is a client configuration error", &AZURE, U, NULL, NULL, "verify-full", O, 17, ST_CLIENT_CONFIG_ERROR, "R8", NULL},
    {"verify-full against a server without TLS is refused before the missing root matters", &NO_SSL, M, "no-file", NULL, "verify-full", O, 17, ST_SERVER_REFUSED_SSL, "R19", NULL},
    {"verify-full rejects a host name mismatch", &WRONG_HOST, F, "ok", NULL, "verify-full", O, 17, ST_HOSTNAME_MISMATCH, "R13", NULL},
    {"verify-full reports the chain failure before the host name", &WRONG_HOST, F, "untrusted", NULL, "verify-full", O, 17, ST_UNTRUSTED_CHAIN, "R11", NULL},
    {"verify-full connects with the right root and host", &AZURE, F, "ok", NULL, "verify-full", O, 17, ST_CONNECTED_TLS, "R14", NULL},
    /* validity and strength */
    {"an expired leaf under verify-ca is expired", &AZURE, F, "expired", NULL, "verify-ca", O, 17, ST_EXPIRED, "R12", NULL},
    {"a not-yet-valid leaf under verify-full is an untrusted chain, as libpq shows it", &AZURE, F, "not-yet-valid", NULL, "verify-full", O, 17, ST_UNTRUSTED_CHAIN, "R11", NULL},
    {"an expired leaf under require without a root file connects", &AZURE, M, "no-file", NULL, "require", O, 17, ST_CONNECTED_TLS, "R14", NULL},
    {"a too-weak leaf under verify-full is an untrusted chain", &AZURE, F, "too-weak", NULL, "verify-full", O, 17, ST_UNTRUSTED_CHAIN, "R11", NULL},
    /* empty root file */
    {"an empty root file fails require as a configuration error", &AZURE, E, NULL, NULL, "require", O, 17, ST_CLIENT_CONFIG_ERROR, "R9", NULL},
    {"an empty root file makes prefer fall back to plaintext", &PLAIN_OK, E, NULL, NULL, "prefer", O, 17, ST_CONNECTED_PLAIN, "R16", NULL},
    {"an empty root file does not matter under disable", &PLAIN_OK, E, NULL, NULL, "disable", O, 17, ST_CONNECTED_PLAIN, "R5", NULL},
    /* HOME root.crt */
    {"require with a stale home root.crt acts as verify-ca and fails", &AZURE, U, NULL, "untrusted", "require", O, 17, ST_UNTRUSTED_CHAIN, "R11", NULL},
    {"prefer with a stale home root.crt falls back to plaintext where allowed", &PLAIN_OK, U, NULL, "untrusted", "prefer", O, 17, ST_CONNECTED_PLAIN, "R16", NULL},
    {"verify-full with a valid home root.crt connects", &AZURE, U, NULL, "ok", "verify-full", O, 17, ST_CONNECTED_TLS, "R14", NULL},
    {"an explicit sslrootcert overrides a stale home root.crt", &AZURE, F, "ok", "untrusted", "require", O, 17, ST_CONNECTED_TLS, "R7", NULL},
    {"an explicit missing sslrootcert does not fall back to the home root.crt", &AZURE, M, "no-file", "untrusted", "require", O, 17, ST_CONNECTED_TLS, "R14", NULL},
    {"an empty home root.crt fails require", &AZURE, U, NULL, "empty", "require", O, 17, ST_CLIENT_CONFIG_ERROR, "R9", NULL},
    /* sslrootcert=system */
    {"sslrootcert=system with verify-full verifies against the system store", &AZURE, S, "ok", NULL, "verify-full", O, 16, ST_CONNECTED_TLS, "R14", NULL},
    {"sslrootcert=system with a private CA fails verify-full", &AZURE, S, "untrusted", NULL, "verify-full", O, 17, ST_UNTRUSTED_CHAIN, "R11", NULL},
    {"sslrootcert=system with require is rejected as a weak sslmode on libpq 16", &AZURE, S, "ok", NULL, "require", O, 16, ST_CLIENT_CONFIG_ERROR, "R3", NULL},
    {"sslrootcert=system with verify-ca is rejected as a weak sslmode", &AZURE, S, "ok", NULL, "verify-ca", O, 17, ST_CLIENT_CONFIG_ERROR, "R3", NULL},
    {"sslrootcert=system with disable is rejected as a weak sslmode", &PLAIN_OK, S, "ok", NULL, "disable", O, 17, ST_CLIENT_CONFIG_ERROR, "R3", NULL},
    {"sslrootcert=system on libpq 15 is a missing file named system under verify-full", &AZURE, S, "ok", NULL, "verify-full", O, 15, ST_CLIENT_CONFIG_ERROR, "R8", NULL},
    {"sslrootcert=system on libpq 15 means no verification under require", &AZURE, S, "untrusted", NULL, "require", O, 15, ST_CONNECTED_TLS, "R14", NULL},
    {"sslrootcert=system checks the host name", &WRONG_HOST, S, "ok", NULL, "verify-full", O, 17, ST_HOSTNAME_MISMATCH, "R13", NULL},
    /* protocol bounds */
    {"a TLS 1.0-only server fails every libpq client with protocol-version", &TLS10_ONLY, F, "ok", NULL, "require", O, 17, ST_PROTOCOL_VERSION, "R10", NULL},
    {"ssl_min_protocol_version=TLSv1 does not re-enable TLS 1.0 on OpenSSL 3", &TLS10_ONLY, F, "ok", NULL, "require", NULL, NULL, "TLSv1", NULL, NULL, 17, ST_PROTOCOL_VERSION, "R10", NULL},
    {"a TLS 1.3-only server connects by default", &TLS13_ONLY, F, "ok", NULL, "verify-full", O, 17, ST_CONNECTED_TLS, "R14", NULL},
    {"ssl_max_protocol_version=TLSv1.2 against a TLS 1.3-only server fails", &TLS13_ONLY, F, "ok", NULL, "verify-full", NULL, NULL, NULL, "TLSv1.2", NULL, 17, ST_PROTOCOL_VERSION, "R10", NULL},
    {"ssl_min_protocol_version=TLSv1.3 against a TLS 1.2-only server fails", &TLS12_ONLY, F, "ok", NULL, "verify-full", NULL, NULL, "TLSv1.3", NULL, NULL, 17, ST_PROTOCOL_VERSION, "R10", NULL},
    {"a protocol-version failure under prefer falls back to plaintext", &TLS10_ONLY, F, "ok", NULL, "prefer", O, 17, ST_SSL_REQUIRED, "R16", NULL},
    {"a protocol minimum above the maximum is a configuration error", &AZURE, F, "ok", NULL, "require", NULL, NULL, "TLSv1.3", "TLSv1.2", NULL, 17, ST_CLIENT_CONFIG_ERROR, "R4", NULL},
    {"protocol options are unknown to libpq 12", &AZURE, F, "ok", NULL, "require", NULL, NULL, "TLSv1.2", NULL, NULL, 12, ST_CLIENT_CONFIG_ERROR, "R1", NULL},
    /* sslnegotiation=direct */
    {"direct negotiation with require connects to a server that accepts it", &AZURE, F, "ok", NULL, "require", "direct", NULL, NULL, NULL, NULL, 17, ST_CONNECTED_TLS, "R7", NULL},
    {"direct negotiation with prefer is rejected as a weak sslmode", &AZURE, F, "ok", NULL, "prefer", "direct", NULL, NULL, NULL, NULL, 17, ST_CLIENT_CONFIG_ERROR, "R2", NULL},
    {"direct negotiation with disable is rejected as a weak sslmode", &PLAIN_OK, F, "ok", NULL, "disable", "direct", NULL, NULL, NULL, NULL, 17, ST_CLIENT_CONFIG_ERROR, "R2", NULL},
    {"direct negotiation is an unknown option on libpq 16", &AZURE, F, "ok", NULL, "require", "direct", NULL, NULL, NULL, NULL, 16, ST_CLIENT_CONFIG_ERROR, "R1", NULL},
    {"direct negotiation never falls back when the server has no direct TLS", &NO_DIRECT, F, "ok", NULL, "verify-full", "direct", NULL, NULL, NULL, NULL, 17, ST_SERVER_REFUSED_SSL, "R18", NULL},
    {"direct negotiation to a server without TLS is refused", &NO_SSL, F, NULL, NULL, "require", "direct", NULL, NULL, NULL, NULL, 17, ST_SERVER_REFUSED_SSL, "R18", NULL},
    {"direct negotiation with verify-full and no root file fails before connecting", &NO_SSL, M, "no-file", NULL, "verify-full", "direct", NULL, NULL, NULL, NULL, 17, ST_CLIENT_CONFIG_ERROR, "R8", NULL},
    {"sslnegotiation=postgres behaves as the default on libpq 17", &AZURE, F, "ok", NULL, "verify-full", "postgres", NULL, NULL, NULL, NULL, 17, ST_CONNECTED_TLS, "R14", NULL},
    /* sslsni, channel binding */
    {"sslsni is an unknown option on libpq 13", &AZURE, F, "ok", NULL, "verify-full", NULL, NULL, NULL, NULL, "0", 13, ST_CLIENT_CONFIG_ERROR, "R1", NULL},
    {"sslsni=0 does not change the outcome on libpq 17", &AZURE, F, "ok", NULL, "verify-full", NULL, NULL, NULL, NULL, "0", 17, ST_CONNECTED_TLS, "R14", NULL},
    {"channel_binding=require connects over TLS with SCRAM", &AZURE, F, "ok", NULL, "verify-full", NULL, "require", NULL, NULL, NULL, 17, ST_CONNECTED_TLS, "R14", NULL},
    {"channel_binding=require fails with md5 authentication", &MD5, F, "ok", NULL, "verify-full", NULL, "require", NULL, NULL, NULL, 17, ST_AUTH_FAILED, "R15", NULL},
    {"channel_binding=require fails on a plaintext connection", &PLAIN_OK, F, "ok", NULL, "disable", NULL, "require", NULL, NULL, NULL, 17, ST_AUTH_FAILED, "R15", NULL},
    {"channel_binding=require does not make prefer fall back to plaintext", &MD5, F, "ok", NULL, "prefer", NULL, "require", NULL, NULL, NULL, 17, ST_AUTH_FAILED, "R15", NULL},
    {"md5 authentication connects without channel binding", &MD5, F, "ok", NULL, "verify-full", O, 17, ST_CONNECTED_TLS, "R14", NULL},
    /* Entra ID token cases (R20) */
    {"a valid token signs in once the chain verifies", &ENTRA, F, "ok", NULL, "verify-full", O, 17, ST_CONNECTED_TLS, "R14", "valid"},
    {"an expired token is refused by the server", &ENTRA, F, "ok", NULL, "verify-full", O, 17, ST_AUTH_FAILED, "R20", "expired"},
    {"a token for another audience is refused by the server", &ENTRA, F, "ok", NULL, "require", O, 17, ST_AUTH_FAILED, "R20", "wrong-audience"},
    {"a token of a principal without a role is refused by the server", &ENTRA, F, "ok", NULL, "verify-full", O, 17, ST_AUTH_FAILED, "R20", "unknown-principal"},
    {"an identity the token service does not know leaves the client without a password", &ENTRA, F, "ok", NULL, "verify-full", O, 17, ST_CLIENT_CONFIG_ERROR, "R20", "unknown-identity"},
    {"the chain decides before the token does", &ENTRA, F, "untrusted", NULL, "verify-full", O, 17, ST_UNTRUSTED_CHAIN, "R11", "expired"},
    /* reference version */
    {"libpq major 0 means the reference (17) semantics", &AZURE, F, "ok", NULL, "require", "direct", NULL, NULL, NULL, NULL, 0, ST_CONNECTED_TLS, "R7", NULL},
};

static st_case case_of(const row *r)
{
    st_case c;
    memset(&c, 0, sizeof(c));
    c.id = (char *)r->name;
    c.scenario = (char *)"s";
    c.store = (char *)"st";
    c.root_kind = r->root;
    c.sslmode = (char *)r->sslmode;
    c.sslnegotiation = (char *)r->negotiation;
    c.channel_binding = (char *)r->channel_binding;
    c.ssl_min_protocol_version = (char *)r->min;
    c.ssl_max_protocol_version = (char *)r->max;
    c.sslsni = (char *)r->sni;
    c.server_ssl = r->f->ssl;
    c.require_secure_transport = r->f->rst;
    c.host_match = r->f->host_match;
    c.server_direct_tls = r->f->direct_tls;
    c.server_min_protocol = (char *)r->f->min;
    c.server_max_protocol = (char *)r->f->max;
    c.server_auth = (char *)r->f->auth;
    c.verify = (char *)r->verify;
    c.home_root_crt_store = r->home_verify ? (char *)"home-store" : NULL;
    c.home_verify = (char *)r->home_verify;
    c.token = (char *)r->token;
    return c;
}

START_TEST(each_row_of_the_libpq_table_gives_its_expected_class)
{
    const row *r = &rows[_i];
    st_case c = case_of(r);
    st_expectation e = st_expect(&c, r->libpq);
    ck_assert_msg(e.cls == r->expected && strcmp(e.rule, r->rule) == 0,
                  "\"%s\": expected %s (%s), got %s (%s: %s)", r->name,
                  st_class_name(r->expected), r->rule, st_class_name(e.cls), e.rule, e.why);
    ck_assert_ptr_nonnull(e.why);
}
END_TEST

START_TEST(every_rule_of_docs_expectations_is_covered_by_a_row)
{
    for (int rule = 1; rule <= 20; rule++) {
        char id[8];
        int seen = 0;
        snprintf(id, sizeof(id), "R%d", rule);
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
            seen |= strcmp(rows[i].rule, id) == 0;
        ck_assert_msg(seen, "no test row for rule %s", id);
    }
}
END_TEST

START_TEST(libpq_version_numbers_give_their_major)
{
    ck_assert_int_eq(st_libpq_major("170002"), 17);
    ck_assert_int_eq(st_libpq_major("150018"), 15);
    ck_assert_int_eq(st_libpq_major("90624"), 9);
    ck_assert_int_eq(st_libpq_major("16.4"), 16);
    ck_assert_int_eq(st_libpq_major("16"), 16);
    ck_assert_int_eq(st_libpq_major(NULL), 0);
    ck_assert_int_eq(st_libpq_major(""), 0);
    ck_assert_int_eq(st_libpq_major("n/a"), 0);
    ck_assert_int_eq(st_libpq_major("17x"), 0);
}
END_TEST

START_TEST(class_and_verdict_names_round_trip)
{
    for (int i = 0; i < ST_CLASS_COUNT; i++)
        ck_assert_int_eq(st_class_parse(st_class_name((st_class)i)), i);
    ck_assert_int_eq(st_class_parse("nope"), ST_CLASS_NONE);
    ck_assert_int_eq(st_class_parse(NULL), ST_CLASS_NONE);
    ck_assert_str_eq(st_class_name(ST_CLASS_NONE), "unknown");
    for (int i = 0; i < ST_VERDICT_COUNT; i++)
        ck_assert_int_eq(st_verdict_parse(st_verdict_name((st_verdict)i)), i);
    ck_assert_int_eq(st_verdict_parse("nope"), -1);
}
END_TEST

START_TEST(verdicts_follow_expected_observed_and_deviations)
{
    ck_assert_int_eq(st_verdict_for(ST_CONNECTED_TLS, ST_CONNECTED_TLS, 0), ST_CONFORMS);
    ck_assert_int_eq(st_verdict_for(ST_CONNECTED_TLS, ST_CONNECTED_TLS, 1), ST_CONFORMS);
    ck_assert_int_eq(st_verdict_for(ST_CONNECTED_TLS, ST_UNTRUSTED_CHAIN, 0), ST_FAILS);
    ck_assert_int_eq(st_verdict_for(ST_CONNECTED_TLS, ST_UNTRUSTED_CHAIN, 1), ST_DEVIATION_KNOWN);
    ck_assert_int_eq(st_verdict_for(ST_CONNECTED_TLS, ST_UNSUPPORTED, 0), ST_VERDICT_UNSUPPORTED);
    ck_assert_int_eq(st_verdict_for(ST_CONNECTED_TLS, ST_CLASS_NONE, 0), ST_VERDICT_ERROR);
    ck_assert_int_eq(st_verdict_for(ST_CONNECTED_TLS, ST_TIMEOUT, 0), ST_VERDICT_ERROR);
    ck_assert_int_eq(st_verdict_for(ST_CONNECTED_TLS, ST_CLIENT_CRASHED, 0), ST_VERDICT_ERROR);
}
END_TEST

Suite *st_expect_suite(void)
{
    Suite *s = suite_create("st_expect");
    TCase *tc = tcase_create("the expectation model follows libpq");
    tcase_add_loop_test(tc, each_row_of_the_libpq_table_gives_its_expected_class, 0,
                        (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, every_rule_of_docs_expectations_is_covered_by_a_row);
    suite_add_tcase(s, tc);
    tc = tcase_create("names and verdicts");
    tcase_add_test(tc, libpq_version_numbers_give_their_major);
    tcase_add_test(tc, class_and_verdict_names_round_trip);
    tcase_add_test(tc, verdicts_follow_expected_observed_and_deviations);
    suite_add_tcase(s, tc);
    return s;
}
