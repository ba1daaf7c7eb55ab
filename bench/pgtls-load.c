/* pgtls bench load generator: full TLS handshakes against one server from C
 * concurrent connections (one thread each), no session resumption, no
 * certificate verification (only the server's handshake cost is measured).
 *
 *   pgtls-load MODE PORT [-c CONC] [-t SECONDS] [-n TOTAL] [-u USER] [-d DB]
 *              [-h HOST] [-H HOLD] [-g GROUPS]
 *
 *   direct      TLS at once (ALPN "postgresql"), close after the handshake
 *   sslrequest  SSLRequest, 'S', TLS handshake, close (what libpq does first)
 *   startup     sslrequest + StartupMessage(user, database) read to
 *               ReadyForQuery (trust authentication), then Terminate
 *   hold        open HOLD startup sessions one after the other, print
 *               "held N" and keep them idle until stdin reaches EOF
 *
 * Runs for SECONDS (default 3) or until TOTAL handshakes are done, whichever
 * comes first (-g: the key-exchange groups offered, OpenSSL names, default
 * OpenSSL's), and prints one line: "<ok> <seconds> <per second> <failed>".
 * The first failure's reason goes to stderr. Built by meson (bench/). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MODE_DIRECT, MODE_SSLREQUEST, MODE_STARTUP, MODE_HOLD };

static int mode, port;
static double seconds = 3.0;
static long total = 0;
static const char *user = "pgtls", *database = "postgres", *host = "127.0.0.1", *groups = NULL;
static SSL_CTX *ctx;
static atomic_long started, ok_count, failed_count;
static atomic_int reported;
static double deadline;

typedef struct {
    SSL *ssl;
    int fd;
} conn;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail_once(const char *what)
{
    if (atomic_exchange(&reported, 1) == 0) {
        unsigned long e = ERR_peek_error();
        char buf[256] = "";
        if (e)
            ERR_error_string_n(e, buf, sizeof(buf));
        fprintf(stderr, "pgtls-load: first failure: %s%s%s%s%s\n", what, errno ? ": " : "",
                errno ? strerror(errno) : "", buf[0] ? ": " : "", buf);
    }
}

static int ssl_read_full(SSL *ssl, unsigned char *p, int n)
{
    int got = 0;
    while (got < n) {
        int r = SSL_read(ssl, p + got, n - got);
        if (r <= 0)
            return -1;
        got += r;
    }
    return 0;
}

/* StartupMessage, then messages up to ReadyForQuery; trust only. */
static int startup(SSL *ssl)
{
    unsigned char msg[512], hdr[5], body[8192];
    size_t n = 8;
    uint32_t len;
    const char *kv[] = {"user", user, "database", database};
    for (int i = 0; i < 4; i++) {
        size_t l = strlen(kv[i]) + 1;
        if (n + l + 1 > sizeof(msg))
            return -1;
        memcpy(msg + n, kv[i], l);
        n += l;
    }
    msg[n++] = 0;
    len = htonl((uint32_t)n);
    memcpy(msg, &len, 4);
    msg[4] = 0, msg[5] = 3, msg[6] = 0, msg[7] = 0;
    if (SSL_write(ssl, msg, (int)n) != (int)n)
        return -1;
    for (;;) {
        uint32_t blen;
        if (ssl_read_full(ssl, hdr, 5) != 0)
            return -1;
        memcpy(&blen, hdr + 1, 4);
        blen = ntohl(blen);
        if (blen < 4 || blen - 4 > sizeof(body))
            return -1;
        if (ssl_read_full(ssl, body, (int)(blen - 4)) != 0)
            return -1;
        if (hdr[0] == 'E') {
            errno = 0;
            fail_once("server sent ErrorResponse (is trust authentication configured?)");
            return -1;
        }
        if (hdr[0] == 'R' && (blen < 8 || body[0] | body[1] | body[2] | body[3])) {
            errno = 0;
            fail_once("server asked for a password (trust authentication is needed)");
            return -1;
        }
        if (hdr[0] == 'Z')
            break;
    }
    return 0;
}

static int open_one(conn *c)
{
    struct sockaddr_in a;
    int one = 1;
    c->ssl = NULL;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) {
        fail_once("socket");
        return -1;
    }
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, host, &a.sin_addr);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        fail_once("connect");
        return -1;
    }
    if (mode != MODE_DIRECT) {
        static const unsigned char req[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
        char s;
        if (write(c->fd, req, 8) != 8 || read(c->fd, &s, 1) != 1 || s != 'S') {
            fail_once("SSLRequest not answered with 'S'");
            return -1;
        }
    }
    c->ssl = SSL_new(ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, "mydemoserver.postgres.database.azure.com");
    if (SSL_connect(c->ssl) != 1) {
        fail_once("TLS handshake");
        return -1;
    }
    if ((mode == MODE_STARTUP || mode == MODE_HOLD) && startup(c->ssl) != 0) {
        fail_once("start-up to ReadyForQuery");
        return -1;
    }
    return 0;
}

static void close_one(conn *c, int clean)
{
    static const unsigned char term[5] = {'X', 0, 0, 0, 4};
    if (c->ssl && clean && (mode == MODE_STARTUP || mode == MODE_HOLD))
        (void)SSL_write(c->ssl, term, 5);
    if (c->ssl && clean)
        SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    c->ssl = NULL;
    c->fd = -1;
    ERR_clear_error();
}

static void *worker(void *arg)
{
    (void)arg;
    while (now() < deadline) {
        conn c;
        int r;
        if (total > 0 && atomic_fetch_add(&started, 1) >= total)
            break;
        r = open_one(&c);
        close_one(&c, r == 0);
        if (r == 0)
            atomic_fetch_add(&ok_count, 1);
        else
            atomic_fetch_add(&failed_count, 1);
    }
    return NULL;
}

static int hold(long n)
{
    conn *cs = calloc((size_t)n, sizeof(*cs));
    long i, ok = 0;
    char buf[64];
    if (!cs)
        return 2;
    for (i = 0; i < n; i++) {
        if (open_one(&cs[i]) == 0)
            ok++;
        else
            close_one(&cs[i], 0);
    }
    printf("held %ld failed %ld\n", ok, n - ok);
    fflush(stdout);
    while (read(0, buf, sizeof(buf)) > 0)
        ;
    for (i = 0; i < n; i++)
        close_one(&cs[i], 1);
    free(cs);
    return ok == n ? 0 : 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: pgtls-load direct|sslrequest|startup|hold PORT [-c CONC] [-t SECONDS] "
                    "[-n TOTAL] [-u USER] [-d DB] [-h HOST] [-H HOLD] [-g GROUPS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const unsigned char alpn[] = {10, 'p', 'o', 's', 't', 'g', 'r', 'e', 's', 'q', 'l'};
    int conc = 1, i;
    long hold_n = 0;
    pthread_t *t;
    pthread_attr_t attr;
    double start, took;
    struct rlimit rl;
    if (argc < 3)
        usage();
    if (strcmp(argv[1], "direct") == 0)
        mode = MODE_DIRECT;
    else if (strcmp(argv[1], "sslrequest") == 0)
        mode = MODE_SSLREQUEST;
    else if (strcmp(argv[1], "startup") == 0)
        mode = MODE_STARTUP;
    else if (strcmp(argv[1], "hold") == 0)
        mode = MODE_HOLD;
    else
        usage();
    port = atoi(argv[2]);
    if (port <= 0 || port > 65535)
        usage();
    for (i = 3; i + 1 < argc; i += 2) {
        const char *f = argv[i], *v = argv[i + 1];
        if (strcmp(f, "-c") == 0)
            conc = atoi(v);
        else if (strcmp(f, "-t") == 0)
            seconds = atof(v);
        else if (strcmp(f, "-n") == 0)
            total = atol(v);
        else if (strcmp(f, "-u") == 0)
            user = v;
        else if (strcmp(f, "-d") == 0)
            database = v;
        else if (strcmp(f, "-h") == 0)
            host = v;
        else if (strcmp(f, "-g") == 0)
            groups = v;
        else if (strcmp(f, "-H") == 0)
            hold_n = atol(v);
        else
            usage();
    }
    if (i != argc || conc < 1)
        usage();
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn));
    if (groups && SSL_CTX_set1_groups_list(ctx, groups) != 1) {
        fprintf(stderr, "pgtls-load: unknown group list %s (e.g. X25519, P-256)\n", groups);
        return 2;
    }
    if (mode == MODE_HOLD) {
        int rc = hold(hold_n > 0 ? hold_n : 1000);
        SSL_CTX_free(ctx);
        return rc;
    }
    t = calloc((size_t)conc, sizeof(*t));
    if (!t)
        return 2;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    start = now();
    deadline = start + seconds;
    for (i = 0; i < conc; i++)
        if (pthread_create(&t[i], &attr, worker, NULL) != 0) {
            fprintf(stderr, "pgtls-load: cannot start thread %d\n", i);
            return 2;
        }
    for (i = 0; i < conc; i++)
        pthread_join(t[i], NULL);
    took = now() - start;
    printf("%ld %.3f %.1f %ld\n", atomic_load(&ok_count), took, (double)atomic_load(&ok_count) / took,
           atomic_load(&failed_count));
    free(t);
    SSL_CTX_free(ctx);
    return 0;
}
