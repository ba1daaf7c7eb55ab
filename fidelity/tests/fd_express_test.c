/* pgtls: unit tests of what a real PostgreSQL can express and of the
 * configuration files the fidelity harness writes. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fd.h"

/* A scenario as fx_index_load fills it for an Azure-like default. */
static fx_scenario base(void)
{
    fx_scenario sc;
    memset(&sc, 0, sizeof(sc));
    sc.name = "azure-new";
    sc.chain = "azure-new";
    sc.chain_pem = "/fx/chains/azure-new.pem";
    sc.key_pem = "/fx/keys/leaf.key";
    sc.host = "mydemoserver.postgres.database.azure.com";
    sc.host_match = 1;
    sc.server.ssl = 1;
    sc.server.require_secure_transport = 1;
    sc.server.ssl_min_protocol_version = "TLSv1.2";
    sc.server.ssl_max_protocol_version = "";
    sc.server.ssl_ciphers = "HIGH:MEDIUM:+3DES:!aNULL";
    sc.server.ssl_tls13_ciphers = "";
    sc.server.ssl_groups = "";
    sc.server.auth = "scram-sha-256";
    sc.server.user = "pgtls";
    sc.server.password = "pgtls-secret";
    sc.server.server_version = "16.9";
    sc.server.direct_tls = 1;
    return sc;
}

static const fd_conf_paths paths = {45432, "/tmp/pgtls-fd-x/sock", "/tmp/pgtls-fd-x/chain.pem",
                                    "/tmp/pgtls-fd-x/server.key", NULL, NULL, NULL};

START_TEST(an_azure_like_default_scenario_is_expressible_on_postgresql_15)
{
    fx_scenario sc = base();
    ck_assert_ptr_null(fd_scenario_unexpressible(&sc, 15));
}
END_TEST

/* Each row breaks one thing a real server cannot be configured like. */
static const struct {
    const char *field;
    const char *value;
    int pg_major;
    const char *reason_part; /* NULL: expressible */
} rows[] = {
    {"auth", "cert", 15, "ssl_ca_file"}, /* expressible with a client CA */
    {"auth", "ldap", 15, "auth method"},
    {"auth", "md5", 15, NULL},
    {"auth", "password", 15, NULL},
    {"auth", "trust", 15, NULL},
    {"ssl_tls13_ciphers", "TLS_AES_128_GCM_SHA256", 15, "PostgreSQL 18"},
    {"ssl_tls13_ciphers", "TLS_AES_128_GCM_SHA256", 18, NULL},
    {"ssl_groups", "X25519", 15, "no elliptic curve"},
    {"ssl_groups", "X25519", 18, NULL},
    {"ssl_groups", "X25519:prime256v1", 15, NULL},
    {"ssl_groups", "secp384r1", 15, NULL},
    {"ssl_min_protocol_version", "TLSv1.4", 15, "protocol_version"},
    {"ssl_min_protocol_version", "SSLv3", 15, "protocol_version"},
    {"ssl_max_protocol_version", "tlsv1.2", 15, "protocol_version"},
    {"ssl_min_protocol_version", "TLSv1", 15, NULL},
    {"ssl_max_protocol_version", "TLSv1.1", 15, "above"},
    {"user", "", 15, "user"},
    {"user", "a-user-name-that-is-far-too-long-for-postgresql-namedatalen-xxxxxx", 15, "63"},
};

START_TEST(each_setting_a_real_server_lacks_is_named_as_the_reason)
{
    fx_scenario sc = base();
    const char *why;
    if (strcmp(rows[_i].field, "auth") == 0)
        sc.server.auth = rows[_i].value;
    else if (strcmp(rows[_i].field, "ssl_tls13_ciphers") == 0)
        sc.server.ssl_tls13_ciphers = rows[_i].value;
    else if (strcmp(rows[_i].field, "ssl_groups") == 0)
        sc.server.ssl_groups = rows[_i].value;
    else if (strcmp(rows[_i].field, "ssl_min_protocol_version") == 0)
        sc.server.ssl_min_protocol_version = rows[_i].value;
    else if (strcmp(rows[_i].field, "ssl_max_protocol_version") == 0)
        sc.server.ssl_max_protocol_version = rows[_i].value;
    else if (strcmp(rows[_i].field, "user") == 0)
        sc.server.user = rows[_i].value;
    why = fd_scenario_unexpressible(&sc, rows[_i].pg_major);
    if (!rows[_i].reason_part)
        ck_assert_msg(why == NULL, "%s=%s: unexpected reason %s", rows[_i].field, rows[_i].value,
                      why);
    else
        ck_assert_msg(why && strstr(why, rows[_i].reason_part), "%s=%s: reason %s lacks '%s'",
                      rows[_i].field, rows[_i].value, why ? why : "(none)", rows[_i].reason_part);
}
END_TEST

START_TEST(a_client_certificate_request_and_a_missing_chain_are_not_expressible)
{
    fx_scenario sc = base();
    sc.server.client_cert = 1;
    ck_assert_ptr_nonnull(strstr(fd_scenario_unexpressible(&sc, 15), "ssl_ca_file"));
    sc = base();
    sc.chain_pem = NULL;
    ck_assert_ptr_nonnull(strstr(fd_scenario_unexpressible(&sc, 15), "chain"));
    /* Without TLS no chain is needed. */
    sc.server.ssl = 0;
    sc.chain = NULL;
    sc.key_pem = NULL;
    ck_assert_ptr_null(fd_scenario_unexpressible(&sc, 15));
}
END_TEST

START_TEST(a_direct_tls_case_needs_postgresql_17_but_a_postgres_negotiation_case_does_not)
{
    fx_scenario sc = base();
    json_t *direct = json_pack("{s:s}", "sslnegotiation", "direct");
    json_t *classic = json_pack("{s:s, s:n}", "sslnegotiation", "postgres", "channel_binding");
    json_t *unset = json_pack("{s:n}", "sslnegotiation");
    ck_assert_ptr_nonnull(strstr(fd_case_unexpressible(&sc, direct, 15), "PostgreSQL 17"));
    ck_assert_ptr_null(fd_case_unexpressible(&sc, direct, 17));
    ck_assert_ptr_null(fd_case_unexpressible(&sc, classic, 15));
    ck_assert_ptr_null(fd_case_unexpressible(&sc, unset, 15));
    /* A scenario-level reason wins. */
    sc.server.auth = "cert";
    ck_assert_ptr_nonnull(strstr(fd_case_unexpressible(&sc, classic, 15), "auth"));
    json_decref(direct);
    json_decref(classic);
    json_decref(unset);
}
END_TEST

START_TEST(ssl_groups_become_the_first_elliptic_curve_for_ssl_ecdh_curve)
{
    static const struct {
        const char *groups, *curve;
    } t[] = {
        {"", "prime256v1"},
        {"X25519:prime256v1", "prime256v1"},
        {"P-384", "secp384r1"},
        {"x448:secp521r1", "secp521r1"},
        {"X25519", NULL},
        {"X25519:X448", NULL},
        {"bogus:P-256", "prime256v1"},
        {"prime256v1x", NULL},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const char *got = fd_ecdh_curve_for_groups(t[i].groups, buf, sizeof(buf));
        if (!t[i].curve)
            ck_assert_msg(got == NULL, "%s -> %s", t[i].groups, got);
        else
            ck_assert_msg(got && strcmp(got, t[i].curve) == 0, "%s -> %s, want %s", t[i].groups,
                          got ? got : "(null)", t[i].curve);
    }
    ck_assert_ptr_null(fd_ecdh_curve_for_groups("P-256", buf, 8));
}
END_TEST

START_TEST(the_conf_carries_the_scenarios_tls_settings_on_loopback_only)
{
    fx_scenario sc = base();
    pgtls_err err;
    char *conf;
    sc.server.ssl_min_protocol_version = "TLSv1.3";
    sc.server.ssl_ciphers = "ECDHE+AESGCM";
    sc.server.ssl_groups = "X25519:secp384r1";
    err_clear(&err);
    conf = fd_render_conf(&sc, 15, &paths, &err);
    ck_assert_msg(conf != NULL, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(conf, "listen_addresses = '127.0.0.1'\n"));
    ck_assert_ptr_nonnull(strstr(conf, "port = '45432'\n"));
    ck_assert_ptr_nonnull(strstr(conf, "unix_socket_directories = '/tmp/pgtls-fd-x/sock'\n"));
    ck_assert_ptr_nonnull(strstr(conf, "ssl = 'on'\n"));
    ck_assert_ptr_nonnull(strstr(conf, "ssl_cert_file = '/tmp/pgtls-fd-x/chain.pem'\n"));
    ck_assert_ptr_nonnull(strstr(conf, "ssl_key_file = '/tmp/pgtls-fd-x/server.key'\n"));
    ck_assert_ptr_nonnull(strstr(conf, "ssl_min_protocol_version = 'TLSv1.3'\n"));
    ck_assert_ptr_nonnull(strstr(conf, "ssl_max_protocol_version = ''\n"));
    ck_assert_ptr_nonnull(strstr(conf, "ssl_ciphers = 'ECDHE+AESGCM'\n"));
    ck_assert_ptr_nonnull(strstr(conf, "ssl_ecdh_curve = 'secp384r1'\n"));
    ck_assert_ptr_null(strstr(conf, "ssl_groups"));
    ck_assert_ptr_nonnull(strstr(conf, "password_encryption = 'scram-sha-256'\n"));
    free(conf);
    /* PostgreSQL 18 takes the list as it is. */
    sc.server.ssl_tls13_ciphers = "TLS_AES_256_GCM_SHA384";
    conf = fd_render_conf(&sc, 18, &paths, &err);
    ck_assert_msg(conf != NULL, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(conf, "ssl_groups = 'X25519:secp384r1'\n"));
    ck_assert_ptr_nonnull(strstr(conf, "ssl_tls13_ciphers = 'TLS_AES_256_GCM_SHA384'\n"));
    ck_assert_ptr_null(strstr(conf, "ssl_ecdh_curve"));
    free(conf);
}
END_TEST

START_TEST(tls_1_0_scenarios_get_security_level_0_and_md5_scenarios_md5_hashes)
{
    fx_scenario sc = base();
    pgtls_err err;
    char *conf, *cav;
    sc.server.ssl_min_protocol_version = "TLSv1";
    sc.server.ssl_max_protocol_version = "TLSv1";
    sc.server.auth = "md5";
    err_clear(&err);
    conf = fd_render_conf(&sc, 15, &paths, &err);
    ck_assert_msg(conf != NULL, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(conf, "ssl_ciphers = 'HIGH:MEDIUM:+3DES:!aNULL:@SECLEVEL=0'\n"));
    ck_assert_ptr_nonnull(strstr(conf, "password_encryption = 'md5'\n"));
    free(conf);
    cav = fd_scenario_caveats(&sc, 15);
    ck_assert_ptr_nonnull(strstr(cav, "@SECLEVEL=0"));
    ck_assert_ptr_nonnull(strstr(cav, "direct TLS"));
    free(cav);
    /* An explicit level is kept as the scenario wrote it. */
    sc.server.ssl_ciphers = "ALL:@SECLEVEL=1";
    conf = fd_render_conf(&sc, 15, &paths, &err);
    ck_assert_ptr_nonnull(strstr(conf, "ssl_ciphers = 'ALL:@SECLEVEL=1'\n"));
    free(conf);
}
END_TEST

START_TEST(a_quote_is_doubled_and_a_newline_in_a_setting_is_refused)
{
    fx_scenario sc = base();
    pgtls_err err;
    char *conf;
    sc.server.ssl_ciphers = "A'B";
    err_clear(&err);
    conf = fd_render_conf(&sc, 15, &paths, &err);
    ck_assert_ptr_nonnull(conf);
    ck_assert_ptr_nonnull(strstr(conf, "ssl_ciphers = 'A''B'\n"));
    free(conf);
    sc.server.ssl_ciphers = "HIGH\nssl = off";
    conf = fd_render_conf(&sc, 15, &paths, &err);
    ck_assert_ptr_null(conf);
    ck_assert_ptr_nonnull(strstr(err.msg, "ssl_ciphers"));
    ck_assert_ptr_nonnull(strstr(err.msg, "control character"));
}
END_TEST

START_TEST(rendering_an_unexpressible_scenario_or_without_paths_fails_with_the_reason)
{
    fx_scenario sc = base();
    pgtls_err err;
    fd_conf_paths no_cert = paths;
    sc.server.auth = "ldap";
    err_clear(&err);
    ck_assert_ptr_null(fd_render_conf(&sc, 15, &paths, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "azure-new"));
    ck_assert_ptr_nonnull(strstr(err.msg, "auth"));
    ck_assert_ptr_null(fd_render_hba(&sc, &err));
    sc = base();
    no_cert.cert_file = NULL;
    ck_assert_ptr_null(fd_render_conf(&sc, 15, &no_cert, &err));
    ck_assert_ptr_null(fd_render_conf(&sc, 15, NULL, &err));
}
END_TEST

START_TEST(hba_is_hostssl_when_secure_transport_is_required_and_host_otherwise)
{
    fx_scenario sc = base();
    pgtls_err err;
    char *hba;
    err_clear(&err);
    hba = fd_render_hba(&sc, &err);
    ck_assert_ptr_nonnull(hba);
    ck_assert_ptr_nonnull(strstr(hba, "\nhostssl  all all 127.0.0.1/32 scram-sha-256\n"));
    ck_assert_ptr_nonnull(strstr(hba, "\nlocal    all all              trust\n"));
    ck_assert_ptr_null(strstr(hba, "\nhost "));
    free(hba);
    sc.server.require_secure_transport = 0;
    sc.server.auth = "md5";
    hba = fd_render_hba(&sc, &err);
    ck_assert_ptr_nonnull(strstr(hba, "\nhost     all all 127.0.0.1/32 md5\n"));
    ck_assert_ptr_null(strstr(hba, "hostssl"));
    free(hba);
    /* TLS off yet required: no TCP line at all (hostssl would stop the
     * server from loading pg_hba.conf). */
    sc.server.ssl = 0;
    sc.server.require_secure_transport = 1;
    hba = fd_render_hba(&sc, &err);
    ck_assert_ptr_null(strstr(hba, "\nhost"));
    ck_assert_ptr_null(strstr(hba, "127.0.0.1"));
    free(hba);
}
END_TEST

START_TEST(cert_authentication_with_a_client_ca_and_crls_is_expressible_and_rendered)
{
    fx_scenario sc = base();
    pgtls_err err;
    fd_conf_paths with_ca = paths;
    char *conf, *hba;
    sc.server.auth = "cert";
    ck_assert_ptr_nonnull(fd_scenario_unexpressible(&sc, 15)); /* no ssl_ca_file */
    sc.server.ssl_ca_file = "/fx/ssl/root+client_ca.crt";
    sc.server.ssl_crl_file = "/fx/ssl/root+client.crl";
    sc.server.ssl_crl_dir = "/fx/ssl/root+client-crldir";
    ck_assert_ptr_null(fd_scenario_unexpressible(&sc, 15));
    ck_assert_ptr_nonnull(strstr(fd_scenario_unexpressible(&sc, 13), "ssl_crl_dir"));
    with_ca.ca_file = "/tmp/pgtls-fd-x/ca.crt";
    with_ca.crl_file = "/tmp/pgtls-fd-x/crl.pem";
    with_ca.crl_dir = "/tmp/pgtls-fd-x/crldir";
    err_clear(&err);
    conf = fd_render_conf(&sc, 15, &with_ca, &err);
    ck_assert_msg(conf != NULL, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(conf, "ssl_ca_file = '/tmp/pgtls-fd-x/ca.crt'"));
    ck_assert_ptr_nonnull(strstr(conf, "ssl_crl_file = '/tmp/pgtls-fd-x/crl.pem'"));
    ck_assert_ptr_nonnull(strstr(conf, "ssl_crl_dir = '/tmp/pgtls-fd-x/crldir'"));
    hba = fd_render_hba(&sc, &err);
    ck_assert_ptr_nonnull(hba);
    ck_assert_ptr_nonnull(strstr(hba, "hostssl  all all 127.0.0.1/32 cert"));
    free(conf);
    free(hba);
    sc.server.require_secure_transport = 0; /* cert needs hostssl */
    ck_assert_ptr_nonnull(fd_scenario_unexpressible(&sc, 15));
}
END_TEST

START_TEST(without_tls_the_conf_turns_ssl_off_and_names_no_files)
{
    fx_scenario sc = base();
    fd_conf_paths p = paths;
    pgtls_err err;
    char *conf;
    sc.server.ssl = 0;
    sc.chain_pem = NULL;
    sc.key_pem = NULL;
    p.cert_file = NULL;
    p.key_file = NULL;
    err_clear(&err);
    conf = fd_render_conf(&sc, 15, &p, &err);
    ck_assert_msg(conf != NULL, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(conf, "ssl = 'off'\n"));
    ck_assert_ptr_null(strstr(conf, "ssl_cert_file"));
    free(conf);
}
END_TEST

Suite *fd_express_suite(void)
{
    Suite *s = suite_create("fidelity: what a real server expresses");
    TCase *tc = tcase_create("expressibility");
    tcase_add_test(tc, an_azure_like_default_scenario_is_expressible_on_postgresql_15);
    tcase_add_loop_test(tc, each_setting_a_real_server_lacks_is_named_as_the_reason, 0,
                        (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, a_client_certificate_request_and_a_missing_chain_are_not_expressible);
    tcase_add_test(tc,
                   a_direct_tls_case_needs_postgresql_17_but_a_postgres_negotiation_case_does_not);
    tcase_add_test(tc, ssl_groups_become_the_first_elliptic_curve_for_ssl_ecdh_curve);
    suite_add_tcase(s, tc);
    tc = tcase_create("configuration files");
    tcase_add_test(tc, the_conf_carries_the_scenarios_tls_settings_on_loopback_only);
    tcase_add_test(tc, tls_1_0_scenarios_get_security_level_0_and_md5_scenarios_md5_hashes);
    tcase_add_test(tc, a_quote_is_doubled_and_a_newline_in_a_setting_is_refused);
    tcase_add_test(tc, rendering_an_unexpressible_scenario_or_without_paths_fails_with_the_reason);
    tcase_add_test(tc, hba_is_hostssl_when_secure_transport_is_required_and_host_otherwise);
    tcase_add_test(tc, without_tls_the_conf_turns_ssl_off_and_names_no_files);
    tcase_add_test(tc, cert_authentication_with_a_client_ca_and_crls_is_expressible_and_rendered);
    suite_add_tcase(s, tc);
    return s;
}
