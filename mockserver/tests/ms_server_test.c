/* pgtls mockserver: unit tests of scenario profiles (every server setting,
 * good and bad) and of the ms.h server API the runner embeds. Certificates
 * are made here with the OpenSSL API in a temporary folder. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fs.h"
#include "ms.h"
#include "ms_conn.h"
#include "support.h"

/* A self-signed leaf and its key (plus a second, unrelated key) in dir. */
static void make_cert(const char *dir)
{
    EVP_PKEY *key = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    char *p;
    FILE *f;
    ck_assert_ptr_nonnull(key);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"db.example.com",
                               -1, -1, 0);
    X509_set_issuer_name(x, name);
    ck_assert_int_gt(X509_sign(x, key, EVP_sha384()), 0);
    p = fs_join(dir, "chain.pem");
    f = fopen(p, "w");
    PEM_write_X509(f, x);
    fclose(f);
    free(p);
    p = fs_join(dir, "leaf.key");
    f = fopen(p, "w");
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    free(p);
    p = fs_join(dir, "other.key");
    f = fopen(p, "w");
    PEM_write_PrivateKey(f, other, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    free(p);
    X509_free(x);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

static const char index_json[] =
    "{\"schema\":\"pgtls-fixtures/1\",\"certs\":{},"
    "\"chains\":{\"c\":{\"certs\":[\"leaf\"],\"leaf\":\"leaf\",\"pem\":\"chain.pem\","
    "\"key\":\"leaf.key\"}},\"stores\":{},"
    "\"scenarios\":{\"tls\":{\"chain\":\"c\",\"server\":{\"ssl\":true,"
    "\"require_secure_transport\":false,\"auth\":\"trust\"}},"
    "\"plain\":{\"chain\":null,\"server\":{\"ssl\":false,\"require_secure_transport\":false,"
    "\"auth\":\"trust\"}}}}";

static char *fixtures(void)
{
    char *dir = ts_tmpdir_new("ms");
    free(ts_write_text(dir, "index.json", index_json));
    make_cert(dir);
    return dir;
}

static const struct {
    const char *setting;
    const char *want; /* substring of the error, NULL = accepted */
} settings_table[] = {
    {"ssl_min_protocol_version=TLSv1.3", NULL},
    {"ssl_min_protocol_version=TLSv1", NULL},
    {"ssl_min_protocol_version=SSLv3", "ssl_min_protocol_version 'SSLv3'"},
    {"ssl_max_protocol_version=TLSv1.2", NULL},
    {"ssl_max_protocol_version=TLSv2", "ssl_max_protocol_version 'TLSv2'"},
    {"ssl_ciphers=ECDHE-ECDSA-AES128-GCM-SHA256", NULL},
    {"ssl_ciphers=NO-SUCH-CIPHER", "selects no cipher"},
    {"ssl_tls13_ciphers=TLS_AES_128_GCM_SHA256", NULL},
    {"ssl_tls13_ciphers=TLS_NOPE", "ssl_tls13_ciphers"},
    {"ssl_groups=X25519:P-384", NULL},
    {"ssl_groups=nogroup", "ssl_groups"},
    {"auth=md5", NULL},
    {"auth=cert", "auth 'cert'"},
    {"ssl=maybe", "true or false"},
    {"require_secure_transport=yes", NULL},
    {"client_cert=on", NULL},
    {"direct_tls=0", NULL},
    {"server_version=17.2", NULL},
    {"user=alice", NULL},
    {"password=", NULL},
    {"no_such_setting=1", "unknown server setting 'no_such_setting'"},
    {"novalue", "not key=value"},
    {"key_pem=@other.key", "does not match the certificate"},
    {"chain_pem=@missing.pem", "cannot load certificate chain"},
    {"key_pem=@missing.key", "cannot load private key"},
    /* PostgreSQL's be_tls_init texts (ms_clientcert.c). */
    {"ssl_ca_file=@missing-ca.pem", "could not load root certificate file"},
    {"ssl_ca_file=@chain.pem", NULL},
    {"ssl_crl_file=@missing.crl", "could not load SSL certificate revocation list file"},
    {"clientcert=verify-none", "invalid value for clientcert"},
    {"clientcert=verify-full", "clientcert needs ssl on and an ssl_ca_file"},
    /* OpenSSL reads a CRL directory lazily: PostgreSQL starts with a
     * missing one too. */
    {"ssl_crl_dir=@missing-crldir", NULL},
};

START_TEST(every_server_setting_is_validated)
{
    char *dir = fixtures(), *chain = fs_join(dir, "chain.pem"), *key = fs_join(dir, "leaf.key");
    char setting[512];
    const char *list[3] = {setting, NULL, NULL};
    fx_scenario sc;
    ms_profile *p;
    pgtls_err err;
    memset(&sc, 0, sizeof(sc));
    sc.name = "tls";
    sc.chain_pem = chain;
    sc.key_pem = key;
    sc.server = (fx_server){1, 0, "TLSv1.2", "", "HIGH:MEDIUM:+3DES:!aNULL", "", "", "trust",
                            "pgtls", "pw", 0, "16.9", 1, NULL, NULL, NULL, ""};
    if (strchr(settings_table[_i].setting, '@')) {
        const char *at = strchr(settings_table[_i].setting, '@');
        snprintf(setting, sizeof(setting), "%.*s%s/%s", (int)(at - settings_table[_i].setting),
                 settings_table[_i].setting, dir, at + 1);
    } else
        snprintf(setting, sizeof(setting), "%s", settings_table[_i].setting);
    err_clear(&err);
    p = ms_profile_new(&sc, list, &err);
    if (settings_table[_i].want) {
        ck_assert_msg(p == NULL, "%s accepted", setting);
        ck_assert_msg(strstr(err.msg, settings_table[_i].want), "%s: %s", setting, err.msg);
        ck_assert_ptr_null(strstr(err.msg, "BEGIN"));
    } else {
        ck_assert_msg(p != NULL, "%s: %s", setting, err.msg);
        ms_profile_unref(p);
    }
    free(chain);
    free(key);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(min_above_max_protocol_is_refused_like_postgresql)
{
    char *dir = fixtures(), *chain = fs_join(dir, "chain.pem"), *key = fs_join(dir, "leaf.key");
    const char *list[] = {"ssl_min_protocol_version=TLSv1.3", "ssl_max_protocol_version=TLSv1.2",
                          NULL};
    fx_scenario sc;
    pgtls_err err;
    memset(&sc, 0, sizeof(sc));
    sc.name = "tls";
    sc.chain_pem = chain;
    sc.key_pem = key;
    sc.server = (fx_server){1, 0, "TLSv1.2", "", "HIGH", "", "", "trust", "u", "p", 0, "16.9", 1, NULL, NULL, NULL, ""};
    err_clear(&err);
    ck_assert_ptr_null(ms_profile_new(&sc, list, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "is above ssl_max_protocol_version"));
    free(chain);
    free(key);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(the_channel_binding_hash_uses_the_leaf_signature_digest)
{
    char *dir = fixtures(), *chain = fs_join(dir, "chain.pem"), *key = fs_join(dir, "leaf.key");
    fx_scenario sc;
    ms_profile *p;
    pgtls_err err;
    memset(&sc, 0, sizeof(sc));
    sc.name = "tls";
    sc.chain_pem = chain;
    sc.key_pem = key;
    sc.server = (fx_server){1, 0, "TLSv1.2", "", "HIGH", "", "", "trust", "u", "p", 0, "16.9", 1, NULL, NULL, NULL, ""};
    err_clear(&err);
    p = ms_profile_new(&sc, NULL, &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    ck_assert_uint_eq(p->cb_len, 48); /* ecdsa-with-SHA384 -> SHA-384 */
    ms_profile_unref(p);
    free(chain);
    free(key);
    ts_tmpdir_remove(dir);
}
END_TEST

/* ---- the server API ---- */

typedef struct events {
    pthread_mutex_t mu;
    int n;
    char last[4096];
} events;

static void on_event(void *ud, int listener_id, const char *json)
{
    events *e = ud;
    (void)listener_id;
    pthread_mutex_lock(&e->mu);
    e->n++;
    snprintf(e->last, sizeof(e->last), "%s", json);
    pthread_mutex_unlock(&e->mu);
}

static int dial(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

START_TEST(the_server_api_serves_waits_idle_and_delivers_every_event)
{
    char *dir = fixtures();
    events ev = {.n = 0};
    ms_options o = {.fixtures_dir = dir, .event_fd = -1, .on_event = on_event, .userdata = &ev};
    pgtls_err err;
    ms_server *s;
    int port = 0, id, fd;
    static const uint8_t startup[] = {0, 0, 0, 20, 0, 3, 0, 0, 'u', 's', 'e', 'r', 0,
                                      'p', 'g', 't', 'l', 's', 0, 0};
    static const uint8_t terminate[] = {'X', 0, 0, 0, 4};
    uint8_t buf[4096];
    ssize_t got = 0, r;
    pthread_mutex_init(&ev.mu, NULL);
    err_clear(&err);
    s = ms_server_new(&o, &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert_int_eq(ms_server_listen(s, "nope", 0, &port, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown scenario 'nope'"));
    id = ms_server_listen(s, "plain", 0, &port, &err);
    ck_assert_msg(id >= 0, "%s", err.msg);
    ck_assert_int_gt(port, 0);
    ck_assert_int_eq(ms_server_start(s, &err), 0);
    /* listening after start works too */
    ck_assert_int_eq(ms_server_listen(s, "tls", 0, NULL, &err), 1);
    fd = dial(port);
    ck_assert_int_eq(write(fd, startup, sizeof(startup)), (ssize_t)sizeof(startup));
    /* read until ReadyForQuery */
    while (got < 5 || buf[got - 6] != 'Z') {
        r = read(fd, buf + got, sizeof(buf) - (size_t)got);
        ck_assert_int_gt(r, 0);
        got += r;
    }
    ck_assert_int_eq(ms_server_open_connections(s, id), 1);
    ck_assert_int_eq(ms_server_wait_idle(s, id, 100), -1); /* still open */
    ck_assert_int_eq(write(fd, terminate, 5), 5);
    ck_assert_int_eq(ms_server_wait_idle(s, id, 5000), 0);
    pthread_mutex_lock(&ev.mu);
    ck_assert_int_eq(ev.n, 1);
    ck_assert_ptr_nonnull(strstr(ev.last, "\"end\":\"client-close\""));
    ck_assert_ptr_nonnull(strstr(ev.last, "\"scenario\":\"plain\""));
    pthread_mutex_unlock(&ev.mu);
    close(fd);
    /* the same port again is in use */
    ck_assert_int_eq(ms_server_listen(s, "plain", port, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "Address already in use"));
    ck_assert_int_eq(ms_server_reload(s, &err), 0);
    ms_server_stop(s);
    ms_server_stop(s); /* twice is fine */
    ck_assert_int_eq(ms_server_wait_idle(s, 99, 10), -1);
    ms_server_free(s);
    ms_server_free(NULL);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(a_reload_with_a_broken_key_keeps_the_old_configuration)
{
    char *dir = fixtures(), *other = fs_join(dir, "other.key"), *leaf = fs_join(dir, "leaf.key");
    ms_options o = {.fixtures_dir = dir, .event_fd = -1};
    pgtls_err err;
    ms_server *s;
    char *text;
    size_t len;
    err_clear(&err);
    s = ms_server_new(&o, &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert_int_eq(ms_server_listen(s, "tls", 0, NULL, &err), 0);
    /* replace the key with one that does not match */
    ck_assert_int_eq(fs_read_file(other, 0, &text, &len, &err), 0);
    ck_assert_int_eq(fs_write_file(leaf, text, len, 0600, &err), 0);
    free(text);
    ck_assert_int_eq(ms_server_reload(s, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "old configuration kept"));
    ms_server_free(s);
    free(other);
    free(leaf);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(a_missing_fixtures_folder_says_how_to_make_one)
{
    ms_options o = {.fixtures_dir = "/nonexistent/pgtls", .event_fd = -1};
    pgtls_err err;
    err_clear(&err);
    ck_assert_ptr_null(ms_server_new(&o, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "pgtls ca gen"));
}
END_TEST

Suite *ms_server_suite(void)
{
    Suite *s = suite_create("ms_server");
    TCase *tc = tcase_create("scenario profiles");
    tcase_add_loop_test(tc, every_server_setting_is_validated, 0,
                        sizeof(settings_table) / sizeof(settings_table[0]));
    tcase_add_test(tc, min_above_max_protocol_is_refused_like_postgresql);
    tcase_add_test(tc, the_channel_binding_hash_uses_the_leaf_signature_digest);
    suite_add_tcase(s, tc);
    tc = tcase_create("server API");
    tcase_add_test(tc, the_server_api_serves_waits_idle_and_delivers_every_event);
    tcase_add_test(tc, a_reload_with_a_broken_key_keeps_the_old_configuration);
    tcase_add_test(tc, a_missing_fixtures_folder_says_how_to_make_one);
    suite_add_tcase(s, tc);
    return s;
}
