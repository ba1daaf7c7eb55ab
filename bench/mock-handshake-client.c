/* pgtls bench load generator: full TLS handshakes per second against one
 * server, from THREADS threads for SECONDS seconds, no session resumption.
 *
 *   mock-handshake-client MODE PORT SECONDS THREADS
 *   MODE: sslrequest (PostgreSQL: SSLRequest, 'S', then TLS) or direct (TLS at
 *   once; ALPN "postgresql" is offered, which s_server ignores)
 *
 * Prints "<handshakes> <seconds> <handshakes/s> <failures>". Verification is
 * off: only the handshake cost is measured. Built by bench/mock-handshakes.sh. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int direct, port;
static double seconds;
static SSL_CTX *ctx;

typedef struct {
    long ok, failed;
} counts;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int one(void)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok = 0, one_ = 1;
    SSL *ssl = NULL;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one_, sizeof(one_));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        goto out;
    if (!direct) {
        static const unsigned char req[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
        char s;
        if (write(fd, req, 8) != 8 || read(fd, &s, 1) != 1 || s != 'S')
            goto out;
    }
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "mydemoserver.postgres.database.azure.com");
    ok = SSL_connect(ssl) == 1;
    if (ok)
        SSL_shutdown(ssl);
out:
    SSL_free(ssl);
    close(fd);
    ERR_clear_error();
    return ok;
}

static void *worker(void *arg)
{
    counts *c = arg;
    double end = now() + seconds;
    while (now() < end) {
        if (one())
            c->ok++;
        else
            c->failed++;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static const unsigned char alpn[] = {10, 'p', 'o', 's', 't', 'g', 'r', 'e', 's', 'q', 'l'};
    int threads, i;
    pthread_t *t;
    counts *c;
    long ok = 0, failed = 0;
    double start;
    if (argc != 5) {
        fprintf(stderr, "usage: %s sslrequest|direct PORT SECONDS THREADS\n", argv[0]);
        return 2;
    }
    direct = strcmp(argv[1], "direct") == 0;
    port = atoi(argv[2]);
    seconds = atof(argv[3]);
    threads = atoi(argv[4]);
    if (threads < 1)
        threads = 1;
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (direct)
        SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn));
    t = calloc((size_t)threads, sizeof(*t));
    c = calloc((size_t)threads, sizeof(*c));
    start = now();
    for (i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, worker, &c[i]);
    for (i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        ok += c[i].ok;
        failed += c[i].failed;
    }
    seconds = now() - start;
    printf("%ld %.2f %.1f %ld\n", ok, seconds, ok / seconds, failed);
    free(t);
    free(c);
    SSL_CTX_free(ctx);
    return 0;
}
