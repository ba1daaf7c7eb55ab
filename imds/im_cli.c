/* pgtls imds: the managed-identity token service in the foreground
 * (docs/entra.md).
 *
 *   pgtls imds [--port N] [--fixtures DIR] [--listen ADDR] [--fault NAME]
 *              [--lifetime S] [--identity NAME] [--timeout-ms N] [--quiet]
 *
 * Prints one line, "listening url=http://ADDR:N/metadata/identity/oauth2/token
 * identity=NAME", then serves until SIGTERM/SIGINT (exit 0). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "entra.h"
#include "im.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pgtls imds [--port N] [--fixtures DIR] [--listen ADDR] [--fault NAME]\n"
            "                  [--lifetime S] [--identity NAME] [--timeout-ms N] [--quiet]\n"
            "  --port N          port (0 or absent: a free port)\n"
            "  --fixtures DIR    fixtures folder; the tenant lives in DIR/entra (made on first use)\n"
            "                    (default $PGTLS_FIXTURES, else ./fixtures)\n"
            "  --listen ADDR     bind address (default 127.0.0.1)\n"
            "  --fault NAME      none, expired, not-yet-valid, wrong-audience, foreign-key,\n"
            "                    throttle (default: tenant.json's \"fault\")\n"
            "  --lifetime S      token lifetime in seconds (default: tenant.json's)\n"
            "  --identity NAME   default identity (default: tenant.json's)\n"
            "  --timeout-ms N    a request head must arrive within N ms (default 5000)\n"
            "  --quiet           no request log on stderr\n"
            "Token: GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R\n"
            "       [&client_id=|&object_id=|&mi_res_id=] with header 'Metadata: true'.\n"
            "JWKS:  GET /<tenant id>/discovery/keys\n");
}

int im_cli_main(int argc, char **argv)
{
    static const struct option longopts[] = {{"port", required_argument, NULL, 'p'},
                                             {"fixtures", required_argument, NULL, 'f'},
                                             {"listen", required_argument, NULL, 'l'},
                                             {"fault", required_argument, NULL, 'F'},
                                             {"lifetime", required_argument, NULL, 'L'},
                                             {"identity", required_argument, NULL, 'i'},
                                             {"timeout-ms", required_argument, NULL, 't'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *fixtures = getenv("PGTLS_FIXTURES") ? getenv("PGTLS_FIXTURES") : "fixtures";
    const char *fault = NULL, *identity = NULL;
    long port = 0, lifetime = 0, timeout = 0;
    int opt, quiet = 0, status = 2;
    en_tenant *t = NULL;
    im_server *s = NULL;
    im_options o;
    pgtls_err err;
    sigset_t set;
    memset(&o, 0, sizeof(o));
    err_clear(&err);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            if (str_to_long(optarg, 0, 65535, &port) < 0) {
                fprintf(stderr, "pgtls imds: --port '%s' must be 0-65535\n", optarg);
                return 2;
            }
            break;
        case 'f':
            fixtures = optarg;
            break;
        case 'l':
            o.bind_addr = optarg;
            break;
        case 'F':
            fault = optarg;
            break;
        case 'L':
            if (str_to_long(optarg, 1, 7 * 86400, &lifetime) < 0) {
                fprintf(stderr, "pgtls imds: --lifetime '%s' must be 1-604800 seconds\n", optarg);
                return 2;
            }
            break;
        case 'i':
            identity = optarg;
            break;
        case 't':
            if (str_to_long(optarg, 1, 600000, &timeout) < 0) {
                fprintf(stderr, "pgtls imds: --timeout-ms '%s' must be 1-600000\n", optarg);
                return 2;
            }
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pgtls imds: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    t = en_tenant_open(fixtures, &err);
    if (!t)
        goto fail;
    if (fault) {
        en_fault f;
        if (en_fault_parse(fault, &f) < 0) {
            err_set(&err, PGTLS_ERR_USAGE,
                    "--fault '%s' is not one of none, expired, not-yet-valid, wrong-audience, "
                    "foreign-key, throttle",
                    fault);
            goto fail;
        }
        if (en_tenant_set_fault(t, f, &err) < 0)
            goto fail;
    }
    if (lifetime)
        t->lifetime_s = lifetime;
    if (identity) {
        if (!en_tenant_find_name(t, identity)) {
            err_set(&err, PGTLS_ERR_USAGE, "--identity '%s' is not an identity of %s/tenant.json",
                    identity, t->dir);
            goto fail;
        }
        snprintf(t->default_identity, sizeof(t->default_identity), "%s", identity);
    }
    o.port = (int)port;
    o.timeout_ms = (int)timeout;
    o.log_fd = quiet ? -1 : STDERR_FILENO;
    s = im_server_new(t, &o, &err);
    if (!s || im_server_start(s, &err) < 0)
        goto fail;
    printf("listening url=http://%s:%d/metadata/identity/oauth2/token identity=%s\n",
           o.bind_addr ? o.bind_addr : "127.0.0.1", im_server_port(s), t->default_identity);
    fflush(stdout);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT)
            break;
    }
    status = 0;
    goto out;
fail:
    fprintf(stderr, "pgtls imds: %s\n", err.msg);
out:
    im_server_free(s);
    en_tenant_free(t);
    return status;
}
