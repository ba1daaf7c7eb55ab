/* pgtls mockserver: scenario profiles (settings + SSL_CTX) and the socket
 * transport with TLS, set up the way PostgreSQL's be-secure-openssl.c does:
 * no session cache or tickets, no compression, no renegotiation, server
 * cipher preference, ALPN "postgresql" required when offered. */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fs.h"
#include "ms_conn.h"
#include "ms_passphrase.h"
#include "vocab.h"

_Static_assert(TLS1_VERSION == 0x0301 && TLS1_1_VERSION == 0x0302 && TLS1_2_VERSION == 0x0303 &&
                   TLS1_3_VERSION == 0x0304,
               "vocab.h TLS wire values are OpenSSL's");

/* ---- profiles ---- */

ms_profile *ms_profile_ref(ms_profile *p)
{
    if (p)
        atomic_fetch_add(&p->refs, 1);
    return p;
}

void ms_profile_unref(ms_profile *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    SSL_CTX_free(p->ctx);
    free(p->scenario);
    free(p->ssl_min_protocol_version);
    free(p->ssl_max_protocol_version);
    free(p->ssl_ciphers);
    free(p->ssl_tls13_ciphers);
    free(p->ssl_groups);
    free(p->auth);
    free(p->user);
    if (p->password)
        memset(p->password, 0, strlen(p->password));
    free(p->password);
    free(p->server_version);
    free(p->chain_pem);
    free(p->key_pem);
    free(p->ssl_passphrase_command);
    free(p->ssl_passphrase_file);
    free(p->ssl_ca_file);
    free(p->ssl_crl_file);
    free(p->ssl_crl_dir);
    free(p->clientcert);
    free(p);
}

static int parse_bool(const char *v, int *out)
{
    if (!strcasecmp(v, "true") || !strcasecmp(v, "on") || !strcmp(v, "1") || !strcasecmp(v, "yes"))
        *out = 1;
    else if (!strcasecmp(v, "false") || !strcasecmp(v, "off") || !strcmp(v, "0") ||
             !strcasecmp(v, "no"))
        *out = 0;
    else
        return -1;
    return 0;
}

/* OpenSSL's TLS1_VERSION .. TLS1_3_VERSION are the wire values vocab.h
 * lists; 0 = no bound. Returns -1 for an unknown name. */
static int tls_version_of(const char *name, int *out)
{
    int v = vc_tls_wire_version(name);
    if (v < 0 || strcmp(name, "TLSv1.0") == 0)
        return -1;
    *out = v;
    return 0;
}

static int set_str(char **slot, const char *v)
{
    char *n = strdup(v ? v : "");
    if (!n)
        return -1;
    free(*slot);
    *slot = n;
    return 0;
}

/* Applies one "key=value" override. Returns 0 or -1 with err. */
static int apply_override(ms_profile *p, const char *kv, pgtls_err *err)
{
    const char *eq = strchr(kv, '=');
    char key[64];
    const char *v;
    int b;
    if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key))
        return err_set(err, PGTLS_ERR_USAGE, "setting '%s' is not key=value", kv);
    snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
    v = eq + 1;
    if (!strcmp(key, "ssl") || !strcmp(key, "require_secure_transport") ||
        !strcmp(key, "client_cert") || !strcmp(key, "direct_tls")) {
        if (parse_bool(v, &b) < 0)
            return err_set(err, PGTLS_ERR_USAGE, "setting %s wants true or false, not '%s'", key,
                           v);
        if (!strcmp(key, "ssl"))
            p->ssl = b;
        else if (!strcmp(key, "require_secure_transport"))
            p->require_secure_transport = b;
        else if (!strcmp(key, "client_cert"))
            p->client_cert = b;
        else
            p->direct_tls = b;
        return 0;
    }
    {
        static const struct {
            const char *key;
            size_t off;
        } strs[] = {
            {"ssl_min_protocol_version", offsetof(ms_profile, ssl_min_protocol_version)},
            {"ssl_max_protocol_version", offsetof(ms_profile, ssl_max_protocol_version)},
            {"ssl_ciphers", offsetof(ms_profile, ssl_ciphers)},
            {"ssl_tls13_ciphers", offsetof(ms_profile, ssl_tls13_ciphers)},
            {"ssl_groups", offsetof(ms_profile, ssl_groups)},
            {"auth", offsetof(ms_profile, auth)},
            {"user", offsetof(ms_profile, user)},
            {"password", offsetof(ms_profile, password)},
            {"server_version", offsetof(ms_profile, server_version)},
            {"chain_pem", offsetof(ms_profile, chain_pem)},
            {"key_pem", offsetof(ms_profile, key_pem)},
            {"ssl_passphrase_command", offsetof(ms_profile, ssl_passphrase_command)},
            {"ssl_passphrase_file", offsetof(ms_profile, ssl_passphrase_file)},
            {"ssl_ca_file", offsetof(ms_profile, ssl_ca_file)},
            {"ssl_crl_file", offsetof(ms_profile, ssl_crl_file)},
            {"ssl_crl_dir", offsetof(ms_profile, ssl_crl_dir)},
            {"clientcert", offsetof(ms_profile, clientcert)},
        };
        size_t i;
        for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
            if (!strcmp(key, strs[i].key)) {
                if (set_str((char **)((char *)p + strs[i].off), v) < 0)
                    return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
                if (!strcmp(key, "chain_pem") || !strcmp(key, "key_pem"))
                    p->user_files = 1;
                return 0;
            }
    }
    return err_set(err, PGTLS_ERR_USAGE,
                   "unknown server setting '%s' (known: ssl, require_secure_transport, "
                   "ssl_min_protocol_version, ssl_max_protocol_version, ssl_ciphers, "
                   "ssl_tls13_ciphers, ssl_groups, auth, user, password, client_cert, "
                   "server_version, direct_tls, chain_pem, key_pem, ssl_passphrase_command, "
                   "ssl_passphrase_file, ssl_ca_file, ssl_crl_file, ssl_crl_dir, clientcert)",
                   key);
}

/* ClientHello: record SNI and the offered ALPN list before anything can
 * fail (a version mismatch fails before the servername callback runs). */
static int client_hello_cb(SSL *ssl, int *al, void *arg)
{
    ms_conn *c = SSL_get_app_data(ssl);
    const unsigned char *p;
    size_t len;
    (void)al;
    (void)arg;
    if (!c)
        return SSL_CLIENT_HELLO_SUCCESS;
    /* server_name: list length(2) type(1)=host_name length(2) name (RFC 6066 3) */
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) && len >= 5 &&
        p[2] == 0) {
        size_t n = (size_t)p[3] << 8 | p[4];
        if (n <= len - 5) {
            size_t i, k = 0;
            for (i = 0; i < n && k + 1 < sizeof(c->ev.sni); i++)
                c->ev.sni[k++] = (p[5 + i] >= 0x20 && p[5 + i] < 0x7f) ? (char)p[5 + i] : '?';
            c->ev.sni[k] = 0;
        }
    }
    /* ALPN: list length(2) then length-prefixed names (RFC 7301 3.1) */
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p,
                                  &len) &&
        len >= 2) {
        size_t off = 2, k = 0;
        while (off < len) {
            size_t n = p[off++], i;
            if (off + n > len)
                break;
            if (k && k + 1 < sizeof(c->ev.alpn_offered))
                c->ev.alpn_offered[k++] = ',';
            for (i = 0; i < n && k + 1 < sizeof(c->ev.alpn_offered); i++)
                c->ev.alpn_offered[k++] =
                    (p[off + i] >= 0x20 && p[off + i] < 0x7f && p[off + i] != ',')
                        ? (char)p[off + i]
                        : '?';
            c->ev.alpn_offered[k] = 0;
            off += n;
        }
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

/* be-secure-openssl.c alpn_cb: pick "postgresql" or fail with
 * no_application_protocol (RFC 7301 3.2). */
static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char protos[] = {10, 'p', 'o', 's', 't', 'g', 'r', 'e', 's', 'q', 'l'};
    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto((unsigned char **)out, outlen, protos, sizeof(protos), in, inlen) ==
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_OK;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int accept_any_client_cert(int ok, X509_STORE_CTX *x)
{
    (void)ok;
    (void)x;
    return 1; /* we only record whether one was presented */
}

/* RFC 5929 4.1 tls-server-end-point: hash of the DER leaf with the
 * signature's digest, SHA-256 for MD5 and SHA-1 (PostgreSQL
 * be_tls_get_certificate_hash). X509_get_signature_info gives the PSS hash. */
static void compute_cb_hash(ms_profile *p)
{
    X509 *leaf = SSL_CTX_get0_certificate(p->ctx);
    int mdnid = NID_undef;
    const EVP_MD *md = NULL;
    unsigned int len = 0;
    p->cb_len = 0;
    if (!leaf || !X509_get_signature_info(leaf, &mdnid, NULL, NULL, NULL))
        return;
    if (mdnid == NID_md5 || mdnid == NID_sha1)
        md = EVP_sha256();
    else if (mdnid != NID_undef)
        md = EVP_get_digestbynid(mdnid);
    if (md && X509_digest(leaf, md, p->cb_hash, &len))
        p->cb_len = len;
}

static int build_ctx(ms_profile *p, pgtls_err *err)
{
    int minv = 0, maxv = 0, result = -1;
    SSL_CTX *ctx = NULL;
    char *ciphers = NULL;

    ENSURE(tls_version_of(p->ssl_min_protocol_version, &minv) == 0, err, PGTLS_ERR_CONFIG,
           "scenario %s: ssl_min_protocol_version '%s' is not one of TLSv1, TLSv1.1, TLSv1.2, "
           "TLSv1.3",
           p->scenario, p->ssl_min_protocol_version);
    ENSURE(tls_version_of(p->ssl_max_protocol_version, &maxv) == 0, err, PGTLS_ERR_CONFIG,
           "scenario %s: ssl_max_protocol_version '%s' is not one of TLSv1, TLSv1.1, TLSv1.2, "
           "TLSv1.3 or empty",
           p->scenario, p->ssl_max_protocol_version);
    /* PostgreSQL refuses to start with min > max ("could not set SSL protocol version range"). */
    ENSURE(!maxv || !minv || minv <= maxv, err, PGTLS_ERR_CONFIG,
           "scenario %s: ssl_min_protocol_version %s is above ssl_max_protocol_version %s",
           p->scenario, p->ssl_min_protocol_version, p->ssl_max_protocol_version);
    ENSURE(p->chain_pem && p->key_pem, err, PGTLS_ERR_CONFIG,
           "scenario %s serves TLS but names no chain/key files", p->scenario);
    TRY_OSSL(ctx = SSL_CTX_new(TLS_server_method()), err, "scenario %s: SSL_CTX_new", p->scenario);
    /* TLS 1.0/1.1 need SHA-1 signatures, refused above security level 0
     * under OpenSSL 3; weak leaves (RSA-1024, SHA-1) likewise. */
    if (minv && minv < TLS1_2_VERSION) {
        SSL_CTX_set_security_level(ctx, 0);
        p->security_level_0 = 1;
    }
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, p->chain_pem) != 1) {
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_SSL && (ERR_GET_REASON(e) == SSL_R_EE_KEY_TOO_SMALL ||
                                              ERR_GET_REASON(e) == SSL_R_CA_MD_TOO_WEAK ||
                                              ERR_GET_REASON(e) == SSL_R_CA_KEY_TOO_SMALL)) {
            SSL_CTX_set_security_level(ctx, 0);
            p->security_level_0 = 1;
        }
        TRY_OSSL(SSL_CTX_use_certificate_chain_file(ctx, p->chain_pem) == 1, err,
                 "scenario %s: cannot load certificate chain %s (%s)", p->scenario,
                 p->chain_pem,
                 p->user_files ? "it must be PEM, the server certificate first, then its "
                                 "intermediates"
                               : "regenerate with 'pgtls ca gen'");
    }
    ERR_clear_error();
    /* An encrypted key is unlocked through ssl_passphrase_command/_file,
     * never through OpenSSL's terminal prompt (ms_passphrase.c). */
    ms_passphrase_source pass = {.command = p->ssl_passphrase_command,
                                 .file = p->ssl_passphrase_file,
                                 .key_path = p->key_pem};
    err_clear(&pass.err);
    SSL_CTX_set_default_passwd_cb(ctx, ms_passphrase_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, &pass);
    int key_ok = SSL_CTX_use_PrivateKey_file(ctx, p->key_pem, SSL_FILETYPE_PEM) == 1;
    SSL_CTX_set_default_passwd_cb(ctx, NULL);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    if (!key_ok) {
        /* OpenSSL compares the key with the certificate while loading it. */
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            err_set(err, PGTLS_ERR_CONFIG,
                    "scenario %s: private key %s does not match the certificate in %s (%s)",
                    p->scenario, p->key_pem, p->chain_pem,
                    p->user_files ? "give the key of the first certificate of that file"
                                  : "regenerate with 'pgtls ca gen'");
        } else if (pass.asked && pass.err.msg[0]) {
            ERR_clear_error();
            err_set(err, PGTLS_ERR_CONFIG, "scenario %s: %s", p->scenario, pass.err.msg);
        } else if (pass.asked) {
            ERR_clear_error();
            err_set(err, PGTLS_ERR_CONFIG,
                    "scenario %s: the passphrase does not decrypt the private key %s",
                    p->scenario, p->key_pem);
        } else
            err_ossl(err, "scenario %s: cannot load private key %s", p->scenario, p->key_pem);
        goto out;
    }
    TRY_OSSL(SSL_CTX_check_private_key(ctx) == 1, err,
             "scenario %s: private key %s does not match the certificate in %s", p->scenario,
             p->key_pem, p->chain_pem);
    /* Send the chain exactly as the file has it: never complete it. */
    SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_dh_auto(ctx, 1);
    TRY_OSSL(SSL_CTX_set_min_proto_version(ctx, minv) == 1, err,
             "scenario %s: cannot set ssl_min_protocol_version", p->scenario);
    TRY_OSSL(SSL_CTX_set_max_proto_version(ctx, maxv) == 1, err,
             "scenario %s: cannot set ssl_max_protocol_version", p->scenario);
    ciphers = str_printf("%s%s", p->ssl_ciphers[0] ? p->ssl_ciphers : "HIGH:MEDIUM:+3DES:!aNULL",
                         p->security_level_0 ? ":@SECLEVEL=0" : "");
    ENSURE(ciphers, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY_OSSL(SSL_CTX_set_cipher_list(ctx, ciphers) == 1, err,
             "scenario %s: ssl_ciphers '%s' selects no cipher", p->scenario, p->ssl_ciphers);
    if (p->ssl_tls13_ciphers[0])
        TRY_OSSL(SSL_CTX_set_ciphersuites(ctx, p->ssl_tls13_ciphers) == 1, err,
                 "scenario %s: ssl_tls13_ciphers '%s' is not valid", p->scenario,
                 p->ssl_tls13_ciphers);
    if (p->ssl_groups[0])
        TRY_OSSL(SSL_CTX_set1_groups_list(ctx, p->ssl_groups) == 1, err,
                 "scenario %s: ssl_groups '%s' is not valid", p->scenario, p->ssl_groups);
    if (p->client_cert)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any_client_cert);
    TRY(ms_clientcert_setup_ctx(p, ctx, err));
    SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, NULL);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
    p->ctx = ctx; /* the profile owns it now */
    ctx = NULL;
    compute_cb_hash(p);
    result = 0;
out:
    free(ciphers);
    SSL_CTX_free(ctx);
    return result;
}

static ms_profile *profile_alloc(void)
{
    ms_profile *p = calloc(1, sizeof(*p));
    if (p)
        atomic_init(&p->refs, 1);
    return p;
}

ms_profile *ms_profile_new(const fx_scenario *sc, const char *const *overrides, pgtls_err *err)
{
    ms_profile *p = profile_alloc();
    const fx_server *s = &sc->server;
    size_t i;
    if (!p) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    p->ssl = s->ssl;
    p->require_secure_transport = s->require_secure_transport;
    p->client_cert = s->client_cert;
    p->direct_tls = s->direct_tls;
    if (set_str(&p->scenario, sc->name) < 0 ||
        set_str(&p->ssl_min_protocol_version, s->ssl_min_protocol_version) < 0 ||
        set_str(&p->ssl_max_protocol_version, s->ssl_max_protocol_version) < 0 ||
        set_str(&p->ssl_ciphers, s->ssl_ciphers) < 0 ||
        set_str(&p->ssl_tls13_ciphers, s->ssl_tls13_ciphers) < 0 ||
        set_str(&p->ssl_groups, s->ssl_groups) < 0 || set_str(&p->auth, s->auth) < 0 ||
        set_str(&p->user, s->user) < 0 || set_str(&p->password, s->password) < 0 ||
        set_str(&p->server_version, s->server_version) < 0 ||
        (sc->chain_pem && set_str(&p->chain_pem, sc->chain_pem) < 0) ||
        (sc->key_pem && set_str(&p->key_pem, sc->key_pem) < 0) ||
        (s->ssl_ca_file && set_str(&p->ssl_ca_file, s->ssl_ca_file) < 0) ||
        (s->ssl_crl_file && set_str(&p->ssl_crl_file, s->ssl_crl_file) < 0) ||
        (s->ssl_crl_dir && set_str(&p->ssl_crl_dir, s->ssl_crl_dir) < 0) ||
        set_str(&p->clientcert, s->clientcert ? s->clientcert : "") < 0) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (i = 0; overrides && overrides[i]; i++)
        if (apply_override(p, overrides[i], err) < 0) {
            err_prefix(err, "scenario %s", sc->name);
            goto fail;
        }
    if (strcmp(p->auth, "trust") && strcmp(p->auth, "password") && strcmp(p->auth, "md5") &&
        strcmp(p->auth, "scram-sha-256") && strcmp(p->auth, "entra") && strcmp(p->auth, "cert")) {
        err_set(err, PGTLS_ERR_CONFIG,
                "scenario %s: auth '%s' is not one of trust, password, md5, scram-sha-256, entra, "
                "cert",
                sc->name, p->auth);
        goto fail;
    }
    if (*p->clientcert && strcmp(p->clientcert, "verify-ca") && strcmp(p->clientcert, "verify-full")) {
        err_set(err, PGTLS_ERR_CONFIG,
                "scenario %s: invalid value for clientcert: \"%s\" (verify-ca or verify-full)",
                sc->name, p->clientcert);
        goto fail;
    }
    if ((!strcmp(p->auth, "cert") || *p->clientcert) &&
        (!p->ssl || !p->ssl_ca_file || !*p->ssl_ca_file)) {
        err_set(err, PGTLS_ERR_CONFIG,
                "scenario %s: %s needs ssl on and an ssl_ca_file (PostgreSQL: client "
                "certificates can only be checked if a root certificate store is available)",
                sc->name, *p->clientcert ? "clientcert" : "auth 'cert'");
        goto fail;
    }
    if (p->ssl && build_ctx(p, err) < 0)
        goto fail;
    return p;
fail:
    ms_profile_unref(p);
    return NULL;
}

ms_profile *ms_profile_new_plain(const char *auth, const char *user, const char *password,
                                 int require_secure_transport)
{
    ms_profile *p = profile_alloc();
    if (!p)
        return NULL;
    p->require_secure_transport = require_secure_transport;
    if (set_str(&p->scenario, "memory") < 0 || set_str(&p->ssl_min_protocol_version, "TLSv1.2") ||
        set_str(&p->ssl_max_protocol_version, "") || set_str(&p->ssl_ciphers, "") ||
        set_str(&p->ssl_tls13_ciphers, "") || set_str(&p->ssl_groups, "") ||
        set_str(&p->auth, auth) || set_str(&p->user, user) || set_str(&p->password, password) ||
        set_str(&p->server_version, "16.9")) {
        ms_profile_unref(p);
        return NULL;
    }
    return p;
}

/* ---- the socket transport ---- */

/* Waits until the socket has data, the server stops or the read timeout
 * passes: 1, -1 (stopping) or -2 (timeout). Waiting here rather than inside
 * recv lets a stopping server still write its FATAL over an intact TLS
 * session. */
static int wait_readable(ms_conn *c)
{
    struct pollfd p[2] = {{c->fd, POLLIN, 0}, {c->stop_fd, POLLIN, 0}};
    if (c->ssl && SSL_pending(c->ssl) > 0)
        return 1;
    for (;;) {
        int rc = poll(p, c->stop_fd >= 0 ? 2 : 1, c->timeout_ms > 0 ? c->timeout_ms : -1);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc == 0)
            return -2;
        if (rc > 0 && c->stop_fd >= 0 && (p[1].revents & POLLIN))
            return -1;
        return 1;
    }
}

static int sock_read_exact(ms_conn *c, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        int w = wait_readable(c);
        if (w != 1)
            return w;
        if (c->ssl) {
            size_t r = 0;
            int rc;
            ERR_clear_error();
            rc = SSL_read_ex(c->ssl, (char *)buf + got, n - got, &r);
            if (rc == 1) {
                got += r;
                continue;
            }
            switch (SSL_get_error(c->ssl, rc)) {
            case SSL_ERROR_ZERO_RETURN:
                return 0;
            case SSL_ERROR_WANT_READ:
            case SSL_ERROR_WANT_WRITE:
                return -2; /* SO_RCVTIMEO expired */
            case SSL_ERROR_SYSCALL:
                return errno == EAGAIN || errno == EWOULDBLOCK ? -2 : 0;
            default:
                return -1;
            }
        } else {
            ssize_t r = recv(c->fd, (char *)buf + got, n - got, 0);
            if (r > 0) {
                got += (size_t)r;
                c->ev.bytes_in += (unsigned long long)r;
            } else if (r == 0)
                return 0;
            else if (errno == EINTR)
                continue;
            else
                return errno == EAGAIN || errno == EWOULDBLOCK ? -2 : -1;
        }
    }
    return 1;
}

static int sock_write_all(ms_conn *c, const void *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        if (c->ssl) {
            size_t w = 0;
            ERR_clear_error();
            if (SSL_write_ex(c->ssl, (const char *)buf + put, n - put, &w) != 1 ||
                BIO_flush(SSL_get_wbio(c->ssl)) != 1)
                return -1;
            put += w;
        } else {
            ssize_t w = send(c->fd, (const char *)buf + put, n - put, MSG_NOSIGNAL);
            if (w > 0) {
                put += (size_t)w;
                c->ev.bytes_out += (unsigned long long)w;
            } else if (w < 0 && errno == EINTR)
                continue;
            else
                return errno == EAGAIN ? -2 : -1;
        }
    }
    return 1;
}

static int sock_pending(ms_conn *c)
{
    int n = 0;
    if (c->ssl)
        return 0;
    return ioctl(c->fd, FIONREAD, &n) == 0 && n > 0;
}

static void sock_drain(ms_conn *c, size_t n)
{
    char buf[1024];
    while (n > 0) {
        ssize_t r = recv(c->fd, buf, n < sizeof(buf) ? n : sizeof(buf), MSG_DONTWAIT);
        if (r <= 0)
            return;
        c->ev.bytes_in += (unsigned long long)r;
        n -= (size_t)r;
    }
}

static int sock_peek1(ms_conn *c, uint8_t *b)
{
    int w = wait_readable(c);
    if (w != 1)
        return w;
    for (;;) {
        ssize_t r = recv(c->fd, b, 1, MSG_PEEK);
        if (r == 1)
            return 1;
        if (r == 0)
            return 0;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? -2 : -1;
    }
}

static long count_cb(BIO *b, int oper, const char *argp, size_t len, int argi, long argl, int ret,
                     size_t *processed)
{
    ms_conn *c = (ms_conn *)BIO_get_callback_arg(b);
    (void)argp;
    (void)len;
    (void)argi;
    (void)argl;
    if (c && ret > 0 && processed) {
        if (oper == (BIO_CB_READ | BIO_CB_RETURN))
            c->ev.bytes_in += *processed;
        else if (oper == (BIO_CB_WRITE | BIO_CB_RETURN))
            c->ev.bytes_out += *processed;
    }
    return ret;
}

/* Every alert record, both directions, TLS 1.3 included: we are the
 * endpoint, so encrypted alerts are decrypted before this runs. */
static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
                   SSL *ssl, void *arg)
{
    ms_conn *c = arg;
    const uint8_t *a = buf;
    char tmp[16];
    const char *name;
    (void)version;
    (void)ssl;
    if (content_type != SSL3_RT_ALERT || len != 2 || !c)
        return;
    name = ms_alert_name(a[1], tmp);
    if (write_p) {
        if (!c->ev.server_alert[0] || a[0] == 2)
            snprintf(c->ev.server_alert, sizeof(c->ev.server_alert), "%s", name);
    } else if (!c->ev.client_alert[0] || a[0] == 2 || !strcmp(c->ev.client_alert, "close_notify")) {
        snprintf(c->ev.client_alert, sizeof(c->ev.client_alert), "%s", name);
        snprintf(c->ev.client_alert_level, sizeof(c->ev.client_alert_level), "%s",
                 a[0] == 2 ? "fatal" : "warning");
    }
}

/* Our flights leave in one write: OpenSSL's own handshake buffer holds 4096
 * bytes, so a flight with a real-sized chain (SCT lists, 4096-bit
 * intermediates) went out in two writes; a client that rejects the
 * certificate from the first part closes before the second, our second write
 * fails, and the alert it sent is never read. One write (and a flush after
 * every record we send) keeps the server reading when the alert comes. */
#define MS_TLS_WRITE_BUFFER (64 * 1024)

static int sock_start_tls(ms_conn *c, int direct)
{
    SSL *ssl;
    BIO *bio, *wbuf;
    int rc, e;
    (void)direct;
    ERR_clear_error();
    ssl = SSL_new(c->prof->ctx);
    bio = BIO_new_socket(c->fd, BIO_NOCLOSE);
    wbuf = BIO_new(BIO_f_buffer());
    if (!ssl || !bio || !wbuf || BIO_set_write_buffer_size(wbuf, MS_TLS_WRITE_BUFFER) != 1) {
        SSL_free(ssl);
        BIO_free(bio);
        BIO_free(wbuf);
        snprintf(c->ev.tls_error, sizeof(c->ev.tls_error), "out of memory");
        ms_event_set_handshake(&c->ev, MS_HANDSHAKE_FAILED);
        ms_event_set_end(&c->ev, MS_END_PROTOCOL_ERROR, "could not create the TLS session");
        return -1;
    }
    BIO_set_callback_ex(bio, count_cb);
    BIO_set_callback_arg(bio, (char *)c);
    BIO_up_ref(bio);
    BIO_push(wbuf, bio);
    /* ssl owns both references: rbio = bio, wbio = wbuf -> bio */
    SSL_set_bio(ssl, bio, wbuf);
    SSL_set_app_data(ssl, c);
    SSL_set_msg_callback(ssl, msg_cb);
    SSL_set_msg_callback_arg(ssl, c);
    c->ssl = ssl;
    rc = SSL_accept(ssl);
    if (rc == 1) {
        const unsigned char *alpn = NULL;
        unsigned int alen = 0;
        X509 *peer;
        ms_event_set_handshake(&c->ev, MS_HANDSHAKE_OK);
        snprintf(c->ev.tls_version, sizeof(c->ev.tls_version), "%s", SSL_get_version(ssl));
        snprintf(c->ev.cipher, sizeof(c->ev.cipher), "%s", SSL_get_cipher_name(ssl));
        c->ev.cipher_bits = SSL_get_cipher_bits(ssl, NULL);
        SSL_get0_alpn_selected(ssl, &alpn, &alen);
        if (alpn && alen < sizeof(c->ev.alpn)) {
            memcpy(c->ev.alpn, alpn, alen);
            c->ev.alpn[alen] = 0;
        }
        peer = SSL_get0_peer_certificate(ssl);
        c->ev.client_cert = peer != NULL;
        ms_clientcert_note_peer(c, ssl);
        return 0;
    }
    e = SSL_get_error(ssl, rc);
    ms_event_set_handshake(&c->ev, MS_HANDSHAKE_FAILED);
    {
        unsigned long oe = ERR_peek_error();
        const char *reason = oe ? ERR_reason_error_string(oe) : NULL;
        if (reason)
            snprintf(c->ev.tls_error, sizeof(c->ev.tls_error), "%s", reason);
        else if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            snprintf(c->ev.tls_error, sizeof(c->ev.tls_error), "timed out");
        else if (e == SSL_ERROR_SYSCALL)
            snprintf(c->ev.tls_error, sizeof(c->ev.tls_error), "connection closed by the client");
        else
            snprintf(c->ev.tls_error, sizeof(c->ev.tls_error), "handshake failed");
    }
    ERR_clear_error();
    if (c->stopping && atomic_load(c->stopping)) {
        ms_event_set_end(&c->ev, MS_END_SERVER_SHUTDOWN, "server stopped during the handshake");
    } else if (c->ev.client_alert[0] && strcmp(c->ev.client_alert, "close_notify")) {
        ms_event_set_end(&c->ev, MS_END_CLIENT_ALERT, "client sent alert %s in the handshake",
                         c->ev.client_alert);
    } else if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ms_event_set_end(&c->ev, MS_END_TIMEOUT, "TLS handshake timed out");
    } else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) {
        ms_event_set_end(&c->ev, MS_END_CLIENT_CLOSE,
                         "client closed the connection during the TLS handshake");
    } else {
        ms_event_set_end(&c->ev, MS_END_PROTOCOL_ERROR, "TLS handshake failed: %s%s%s",
                         c->ev.tls_error, c->ev.server_alert[0] ? ", server sent alert " : "",
                         c->ev.server_alert);
    }
    return -1;
}

static void sock_close_tls(ms_conn *c)
{
    if (c->ssl && !(SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN)) {
        ERR_clear_error();
        SSL_shutdown(c->ssl);
        BIO_flush(SSL_get_wbio(c->ssl));
        ERR_clear_error();
    }
}

const ms_io_ops ms_socket_io = {sock_read_exact, sock_write_all, sock_pending,  sock_drain,
                                sock_peek1,      sock_start_tls, sock_close_tls};

void ms_tls_conn_free(ms_conn *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
}
