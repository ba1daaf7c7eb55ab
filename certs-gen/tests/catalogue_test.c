/* pgtls certs-gen: the catalogue parser, good and every bad input. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "ca_test_util.h"
#include "fs.h"
#include "support.h"

/* A small, valid catalogue; bad cases below are edits of it. Line numbers
 * matter: the table asserts them. */
#define GOOD_HEAD                                                                                  \
    "[catalogue]\n"                               /* 1 */                                          \
    "name = unit\n"                               /* 2 */                                          \
    "default_host = db.example.com\n"             /* 3 */                                          \
    "[cert root]\n"                               /* 4 */                                          \
    "key_type = EC-P256\n"                        /* 5 */                                          \
    "issuer = self\n"                             /* 6 */                                          \
    "subject = C=US, O=Unit, CN=Root\n"           /* 7 */                                          \
    "ext = basicConstraints: critical,CA:TRUE\n"  /* 8 */                                          \
    "ext = subjectKeyIdentifier: hash\n"          /* 9 */                                          \
    "[cert leaf]\n"                               /* 10 */                                         \
    "key_type = EC-P256\n"                        /* 11 */                                         \
    "issuer = root\n"                             /* 12 */                                         \
    "subject = CN=db.example.com\n"               /* 13 */                                         \
    "not_before = -1d\n"                          /* 14 */                                         \
    "not_after = +30d\n"                          /* 15 */                                         \
    "ext = subjectAltName: DNS:db.example.com,\n" /* 16 */                                         \
    "    DNS:*.example.com\n"                     /* 17 */                                         \
    "[chain c]\n"                                 /* 18 */                                         \
    "certs = leaf, root\n"                        /* 19 */                                         \
    "[store s]\n"                                 /* 20 */                                         \
    "kind = roots\n"                              /* 21 */                                         \
    "certs = root\n"                              /* 22 */                                         \
    "[store nothing]\n"                           /* 23 */                                         \
    "kind = missing\n"                            /* 24 */                                         \
    "[scenario sc]\n"                             /* 25 */                                         \
    "chain = c\n"                                 /* 26 */                                         \
    "host_match = true\n"                         /* 27 */                                         \
    "ok = s\n"                                    /* 28 */                                         \
    "server.auth = md5\n"                         /* 29 */

START_TEST(a_valid_catalogue_parses_with_defaults_like_and_continuations)
{
    static const char text[] = GOOD_HEAD "[scenario sc2]\n"
                                         "like = sc\n"
                                         "server.ssl_min_protocol_version = TLSv1.3\n"
                                         "[cert leaf2]\n"
                                         "like = leaf\n"
                                         "ext = subjectAltName: -\n"
                                         "ext = keyUsage: critical,digitalSignature\n";
    pgtls_err err;
    ca_catalogue *cat = ca_test_parse(text, &err);
    ca_cert *leaf, *leaf2;
    ca_scenario *sc2;

    ck_assert_msg(cat != NULL, "%s", err.msg);
    ck_assert_str_eq(cat->name, "unit");
    ck_assert_str_eq(cat->default_host, "db.example.com");
    ck_assert_uint_eq(cat->num_certs, 3);
    leaf = ca_catalogue_cert(cat, "leaf");
    ck_assert_ptr_eq(leaf->issuer, ca_catalogue_cert(cat, "root"));
    ck_assert_uint_eq(leaf->num_exts, 1);
    ck_assert_str_eq(leaf->exts[0].value, "DNS:db.example.com,DNS:*.example.com");
    ck_assert(leaf->nb.relative && leaf->nb.value == -86400);
    leaf2 = ca_catalogue_cert(cat, "leaf2");
    ck_assert_ptr_eq(leaf2->issuer, ca_catalogue_cert(cat, "root"));
    ck_assert_uint_eq(leaf2->num_exts, 1); /* SAN removed, keyUsage appended */
    ck_assert_str_eq(leaf2->exts[0].name, "keyUsage");
    ck_assert_ptr_ne(leaf2->key, leaf->key); /* like copies the type, not the key */
    ck_assert_str_eq(leaf2->key->type, "EC-P256");
    sc2 = ca_catalogue_scenario(cat, "sc2");
    ck_assert_str_eq(sc2->chain, "c");
    ck_assert_str_eq(ca_scenario_server(cat, sc2, "auth"), "md5");
    ck_assert_str_eq(ca_scenario_server(cat, sc2, "ssl_min_protocol_version"), "TLSv1.3");
    ck_assert_str_eq(ca_scenario_server(cat, sc2, "ssl_ciphers"), "HIGH:MEDIUM:+3DES:!aNULL");
    ck_assert_str_eq(ca_scenario_verify(cat, sc2, ca_catalogue_store(cat, "s")), "ok");
    ck_assert_str_eq(ca_scenario_verify(cat, sc2, ca_catalogue_store(cat, "nothing")), "no-file");
    ca_catalogue_free(cat);
}
END_TEST

START_TEST(the_shipped_catalogue_parses_and_holds_the_canonical_names)
{
    static const char *const scenarios[] = {"azure-old",
                                            "azure-old-ms2017",
                                            "azure-old-04",
                                            "azure-old-07",
                                            "azure-old-08",
                                            "azure-new",
                                            "azure-new-ocsp04",
                                            "azure-new-ocsp06",
                                            "azure-new-ocsp16",
                                            "azure-new-short",
                                            "azure-new-expired-cross",
                                            "china-old",
                                            "china-new",
                                            "single-baltimore",
                                            "single-g2",
                                            "expired-leaf",
                                            "not-yet-valid-leaf",
                                            "expired-intermediate",
                                            "incomplete-chain",
                                            "self-signed-leaf",
                                            "wrong-host",
                                            "cn-only-leaf",
                                            "wildcard-match",
                                            "wildcard-mismatch",
                                            "ip-san",
                                            "sha1-leaf",
                                            "rsa1024-leaf",
                                            "ecdsa-p256-leaf",
                                            "ecdsa-p384-leaf",
                                            "rsa-pss-leaf",
                                            "no-ssl",
                                            "plaintext-allowed",
                                            "tls12-only",
                                            "tls13-only",
                                            "tls10-only",
                                            "auth-md5",
                                            "auth-password",
                                            "auth-trust"};
    static const char *const stores[] = {"root-g2",        "root-ms2017",    "root-digicert-global",
                                         "root-ms-tls-g2", "root-baltimore", "azure-bundle",
                                         "pinned-ica03",   "pinned-ocsp02",  "pinned-leaf",
                                         "wrong-root",     "private-root",   "empty",
                                         "missing",        "system"};
    pgtls_err err;
    ca_catalogue *cat;
    err_clear(&err);
    cat = ca_catalogue_load(ca_default_catalogue(), &err);
    ck_assert_msg(cat != NULL, "%s", err.msg);
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(*scenarios); i++)
        ck_assert_msg(ca_catalogue_scenario(cat, scenarios[i]) != NULL, "no scenario %s",
                      scenarios[i]);
    for (size_t i = 0; i < sizeof(stores) / sizeof(*stores); i++)
        ck_assert_msg(ca_catalogue_store(cat, stores[i]) != NULL, "no store %s", stores[i]);
    ca_catalogue_free(cat);
}
END_TEST

static const struct bad_case {
    const char *what;
    const char *text;
    int line;
    const char *expect;
} bad_cases[] = {
    {"unknown key", GOOD_HEAD "colour = blue\n", 30, "unknown key 'colour'"},
    {"unknown key in a cert", "[cert x]\nsubjekt = CN=x\n", 2, "unknown key 'subjekt'"},
    {"unknown section type", GOOD_HEAD "[certificate x]\nkey_type = EC-P256\n", 30,
     "unknown section type 'certificate'"},
    {"a section without a name", "[cert]\nkey_type = EC-P256\n", 1, "unknown section [cert]"},
    {"undefined issuer",
     GOOD_HEAD "[cert orphan]\nkey_type = EC-P256\nissuer = nobody\nsubject = CN=o\n", 32,
     "issuer 'nobody' of 'orphan' is not defined"},
    {"issuer cycle",
     "[cert a]\nkey_type = EC-P256\nissuer = b\nsubject = CN=a\n"
     "ext = basicConstraints: critical,CA:TRUE\n"
     "[cert b]\nkey_type = EC-P256\nissuer = a\nsubject = CN=b\n"
     "ext = basicConstraints: critical,CA:TRUE\n",
     3, "issuer cycle"},
    {"invalid DN (no '=')", "[cert a]\nkey_type = EC-P256\nissuer = self\nsubject = CN\n", 4,
     "invalid subject DN"},
    {"invalid DN (unknown attribute)",
     "[cert a]\nkey_type = EC-P256\nissuer = self\nsubject = XYZ=1\n", 4,
     "unknown DN attribute 'XYZ'"},
    {"invalid DN (country code)", "[cert a]\nkey_type = EC-P256\nissuer = self\nsubject = C=USA\n",
     4, "two-letter"},
    {"bad date",
     GOOD_HEAD
     "[cert d]\nkey_type = EC-P256\nissuer = root\nsubject = CN=d\nnot_after = 2025-02-30\n",
     34, "bad date '2025-02-30'"},
    {"bad relative date",
     GOOD_HEAD "[cert d]\nkey_type = EC-P256\nissuer = root\nsubject = CN=d\nnot_before = -3w\n",
     34, "bad date '-3w'"},
    {"dates in the wrong order",
     "[cert a]\nkey_type = EC-P256\nissuer = self\nsubject = CN=a\nnot_before = 2030-01-01\n"
     "not_after = 2020-01-01\n",
     6, "before its not_before"},
    {"pathlen contradiction",
     "[cert r]\nkey_type = EC-P256\nissuer = self\nsubject = CN=r\n"
     "ext = basicConstraints: critical,CA:TRUE,pathlen:0\n"
     "[cert i]\nkey_type = EC-P256\nissuer = r\nsubject = CN=i\n"
     "ext = basicConstraints: critical,CA:TRUE\n",
     8, "pathlen contradiction"},
    {"pathlen contradiction two levels up",
     "[cert r]\nkey_type = EC-P256\nissuer = self\nsubject = CN=r\n"
     "ext = basicConstraints: critical,CA:TRUE,pathlen:1\n"
     "[cert i]\nkey_type = EC-P256\nissuer = r\nsubject = CN=i\n"
     "ext = basicConstraints: critical,CA:TRUE\n"
     "[cert j]\nkey_type = EC-P256\nissuer = i\nsubject = CN=j\n"
     "ext = basicConstraints: critical,CA:TRUE\n",
     8, "pathlen contradiction"},
    {"issuer that is not a CA",
     GOOD_HEAD "[cert x]\nkey_type = EC-P256\nissuer = leaf\nsubject = CN=x\n", 32, "is not a CA"},
    {"unknown store member", GOOD_HEAD "[store t]\nkind = roots\ncerts = root, ghost\n", 32,
     "names certificate 'ghost'"},
    {"unknown chain member", GOOD_HEAD "[chain d]\ncerts = leaf, ghost\n", 31,
     "names certificate 'ghost'"},
    {"unknown scenario chain", GOOD_HEAD "[scenario t]\nchain = ghost\n", 31,
     "names chain 'ghost'"},
    {"unknown store in a verify declaration",
     GOOD_HEAD "[scenario t]\nchain = c\nexpired = s, ghost\n", 32,
     "store 'ghost', which is not defined"},
    {"unknown verify result", GOOD_HEAD "[scenario t]\nchain = c\nverify = fine\n", 32,
     "not a result"},
    {"unknown like", GOOD_HEAD "[scenario t]\nlike = ghost\n", 31, "like 'ghost'"},
    {"unknown server setting", GOOD_HEAD "server.colour = red\n", 30, "server.colour"},
    {"non-boolean server setting", GOOD_HEAD "server.ssl = maybe\n", 30, "not a boolean"},
    {"bad protocol version", GOOD_HEAD "server.ssl_min_protocol_version = SSLv3\n", 30,
     "not one of"},
    {"bad auth", GOOD_HEAD "server.auth = kerberos\n", 30, "not one of"},
    {"no TLS chain with ssl on", GOOD_HEAD "[scenario t]\nchain = none\nserver.ssl = true\n", 31,
     "chain = none"},
    {"bad key type", GOOD_HEAD "[key k]\ntype = DSA-1024\n", 31, "not supported"},
    {"key without type", GOOD_HEAD "[key k]\ndescription = x\n", 30, "has no type"},
    {"undefined key", GOOD_HEAD "[cert k]\nkey = nokey\nissuer = self\nsubject = CN=k\n", 31,
     "key 'nokey'"},
    {"conflicting key types",
     GOOD_HEAD "[cert k]\nkey = root\nkey_type = EC-P384\nissuer = self\nsubject = CN=k\n", 32,
     "declared as EC-P384"},
    {"bad store kind", GOOD_HEAD "[store t]\nkind = magic\n", 31, "store kind 'magic'"},
    {"store without certificates", GOOD_HEAD "[store t]\nkind = roots\n", 30,
     "lists no certificates"},
    {"empty store with certificates", GOOD_HEAD "[store t]\nkind = empty\ncerts = root\n", 32,
     "cannot hold certificates"},
    {"duplicate section", GOOD_HEAD "[cert root]\nkey_type = EC-P256\n", 30, "defined twice"},
    {"duplicate key", GOOD_HEAD "server.auth = md5\nchain = c\n", 31, "set twice"},
    {"syntax error", GOOD_HEAD "this line has no equals sign\n", 30, "syntax error"},
    {"key before any section", "name = x\n", 1, "before any section"},
    {"line too long",
     GOOD_HEAD "description = "
               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
     30, "longer than"},
    {"bad signature name",
     GOOD_HEAD
     "[cert s]\nkey_type = EC-P256\nissuer = root\nsubject = CN=s\nsignature = md5WithRSA\n",
     34, "signature 'md5WithRSA'"},
    {"bad role",
     GOOD_HEAD "[cert s]\nkey_type = EC-P256\nissuer = root\nsubject = CN=s\nrole = boss\n", 34,
     "role 'boss'"},
    {"bad serial",
     GOOD_HEAD "[cert s]\nkey_type = EC-P256\nissuer = root\nsubject = CN=s\nserial = 12:34\n", 34,
     "hex digits only"},
    {"malformed ext",
     GOOD_HEAD "[cert s]\nkey_type = EC-P256\nissuer = root\nsubject = CN=s\next = nocolon\n", 34,
     "NAME: VALUE"},
    {"bad dn_string",
     GOOD_HEAD "[cert s]\nkey_type = EC-P256\nissuer = root\nsubject = CN=s\ndn_string = ascii\n",
     34, "dn_string = 'ascii'"},
    {"printable DN with non-printable characters",
     "[cert a]\nkey_type = EC-P256\nissuer = self\ndn_string = printable\nsubject = CN=a@b\n", 5,
     "PrintableString"},
    {"cert without subject", "[cert a]\nkey_type = EC-P256\nissuer = self\n", 1, "no subject"},
    {"cert without issuer", "[cert a]\nkey_type = EC-P256\nsubject = CN=a\n", 1, "no issuer"},
    {"chain without certificates", GOOD_HEAD "[chain e]\ndescription = nothing\n", 30,
     "lists no certificates"},
    {"scenario without chain", GOOD_HEAD "[scenario t]\nhost_match = true\n", 30, "has no chain"},
    {"non-boolean host_match", GOOD_HEAD "[scenario t]\nchain = c\nhost_match = sometimes\n", 32,
     "not a boolean"},
};

START_TEST(a_malformed_catalogue_is_refused_naming_file_and_line)
{
    const struct bad_case *bc = &bad_cases[_i];
    pgtls_err err;
    char prefix[64];
    ca_catalogue *cat = ca_test_parse(bc->text, &err);
    ck_assert_msg(cat == NULL, "case '%s' parsed", bc->what);
    ck_assert_int_eq(err.code, PGTLS_ERR_CONFIG);
    ck_assert_int_eq(err_exit_status(err.code), 2);
    snprintf(prefix, sizeof(prefix), "test.ini:%d: ", bc->line);
    ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0,
                  "case '%s': expected '%s...', got '%s'", bc->what, prefix, err.msg);
    ck_assert_msg(strstr(err.msg, bc->expect) != NULL, "case '%s': expected '%s' in '%s'", bc->what,
                  bc->expect, err.msg);
    ck_assert_msg(strchr(err.msg, '\n') == NULL, "case '%s': message is not one line", bc->what);
}
END_TEST

/* Errors found while building (OpenSSL refuses an extension, a signature
 * does not fit the issuer key) also name file and line. */
static const struct bad_case build_cases[] = {
    {"extension OpenSSL refuses",
     "[cert a]\nkey_type = EC-P256\nissuer = self\nsubject = CN=a\n"
     "ext = basicConstraints: critical,CA:MAYBE\n",
     5, "extension 'basicConstraints"},
    {"unknown extension name",
     "[cert a]\nkey_type = EC-P256\nissuer = self\nsubject = CN=a\next = fancyExtension: yes\n", 5,
     "fancyExtension"},
    {"RSA signature by an EC key",
     "[cert a]\nkey_type = EC-P256\nissuer = self\nsubject = CN=a\n"
     "signature = sha256WithRSAEncryption\n",
     5, "does not fit"},
    {"undefined ossl section",
     "[cert a]\nkey_type = EC-P256\nissuer = self\nsubject = CN=a\n"
     "ext = certificatePolicies: @nowhere\n",
     5, "certificatePolicies"},
};

START_TEST(a_catalogue_error_found_while_building_names_file_and_line)
{
    const struct bad_case *bc = &build_cases[_i];
    pgtls_err err;
    char *dir = ts_tmpdir_new("ca-build");
    char *path = ts_write_text(dir, "cat.ini", bc->text);
    char *out = fs_join(dir, "out");
    char prefix[512];

    err_clear(&err);
    ck_assert_int_eq(ca_gen(path, out, ca_test_key_cache(), &err), -1);
    snprintf(prefix, sizeof(prefix), "%s:%d: ", path, bc->line);
    ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0,
                  "case '%s': expected '%s...', got '%s'", bc->what, prefix, err.msg);
    ck_assert_msg(strstr(err.msg, bc->expect) != NULL, "case '%s': expected '%s' in '%s'", bc->what,
                  bc->expect, err.msg);
    ck_assert_int_eq(err_exit_status(err.code), 2);
    ck_assert_msg(!fs_exists(out), "partial output left at %s", out);
    free(out);
    free(path);
    ts_tmpdir_remove(dir);
}
END_TEST

static const struct {
    const char *text;
    int relative;
    long long value;
} good_dates[] = {
    {"now", 1, 0},
    {"-30d", 1, -30 * 86400LL},
    {"+335d", 1, 335 * 86400LL},
    {"+12h", 1, 12 * 3600LL},
    {"-10s", 1, -10},
    {"+2y", 1, 2 * 365 * 86400LL},
    {"2013-08-01T12:00:00Z", 0, 1375358400LL},
    {"2013-08-01 12:00:00", 0, 1375358400LL},
    {"2000-01-01", 0, 946684800LL},
    {"2050-01-01T00:00:00Z", 0, 2524608000LL},
};

static const char *const bad_dates[] = {"",
                                        "yesterday",
                                        "30d",
                                        "-30",
                                        "+30x",
                                        "-d",
                                        "2013-13-01",
                                        "2013-02-30",
                                        "2013-08-01T25:00:00Z",
                                        "2013-08-01T12:00:00",
                                        "1949-12-31",
                                        "+1000000000d"};

START_TEST(dates_parse_absolute_and_relative_forms)
{
    ca_when w;
    ck_assert_int_eq(ca_when_parse(good_dates[_i].text, &w), 0);
    ck_assert_int_eq(w.relative, good_dates[_i].relative);
    ck_assert_int_eq(w.value, good_dates[_i].value);
}
END_TEST

START_TEST(malformed_dates_are_refused)
{
    ca_when w;
    ck_assert_msg(ca_when_parse(bad_dates[_i], &w) < 0, "'%s' was accepted", bad_dates[_i]);
}
END_TEST

/* Fuzz smoke: mutated catalogues (deterministic xorshift) never crash and
 * always end in a catalogue or a one-line message. */
START_TEST(mutated_catalogues_never_crash_and_always_explain_themselves)
{
    static const char base[] = GOOD_HEAD "[scenario sc2]\nlike = sc\n[cert l2]\nlike = leaf\n"
                                         "ext = subjectAltName: -\n";
    static const char alphabet[] = "[]=,:;#\\\n \tabcCN-+0123456789@*.";
    unsigned long long x = 0x9e3779b97f4a7c15ULL;
    char buf[sizeof(base) + 64];
    for (int round = 0; round < 3000; round++) {
        size_t len = sizeof(base) - 1;
        pgtls_err err;
        ca_catalogue *cat;
        memcpy(buf, base, len);
        for (int m = 0; m < 1 + round % 4; m++) {
            size_t pos;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            pos = (size_t)(x % len);
            switch ((x >> 32) % 3) {
            case 0: /* replace a byte */
                buf[pos] = alphabet[(x >> 40) % (sizeof(alphabet) - 1)];
                break;
            case 1: /* truncate */
                len = pos;
                break;
            default: /* duplicate a byte */
                if (len + 1 < sizeof(buf)) {
                    memmove(buf + pos + 1, buf + pos, len - pos);
                    len++;
                }
            }
            if (len == 0)
                break;
        }
        buf[len] = '\0';
        err_clear(&err);
        cat = ca_catalogue_parse("fuzz.ini", buf, len, &err);
        if (!cat) {
            ck_assert_msg(err.msg[0] != '\0', "round %d: failure without a message", round);
            ck_assert_msg(strchr(err.msg, '\n') == NULL, "round %d: multi-line message", round);
        }
        ca_catalogue_free(cat);
    }
}
END_TEST

Suite *catalogue_suite(void)
{
    Suite *s = suite_create("catalogue");
    TCase *tc = tcase_create("parsing");
    tcase_add_test(tc, a_valid_catalogue_parses_with_defaults_like_and_continuations);
    tcase_add_test(tc, the_shipped_catalogue_parses_and_holds_the_canonical_names);
    tcase_add_loop_test(tc, a_malformed_catalogue_is_refused_naming_file_and_line, 0,
                        (int)(sizeof(bad_cases) / sizeof(*bad_cases)));
    tcase_add_test(tc, mutated_catalogues_never_crash_and_always_explain_themselves);
    tcase_add_loop_test(tc, a_catalogue_error_found_while_building_names_file_and_line, 0,
                        (int)(sizeof(build_cases) / sizeof(*build_cases)));
    suite_add_tcase(s, tc);
    tc = tcase_create("dates");
    tcase_add_loop_test(tc, dates_parse_absolute_and_relative_forms, 0,
                        (int)(sizeof(good_dates) / sizeof(*good_dates)));
    tcase_add_loop_test(tc, malformed_dates_are_refused, 0,
                        (int)(sizeof(bad_dates) / sizeof(*bad_dates)));
    suite_add_tcase(s, tc);
    return s;
}
