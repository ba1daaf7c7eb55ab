/* pgtls mock: run the mock server in the foreground (docs/mockserver.md).
 *
 *   pgtls mock --scenario NAME [--port N] [--scenario NAME2 [--port M]] ...
 *              [--fixtures DIR] [--listen ADDR] [--event-log FILE|-]
 *              [--set key=value]... [--timeout-ms N] [--auth-timeout-ms N] [--max-connections N]
 *              [--as-of DATE] [--rotate-to NAME] [--rotate-after-connections N |
 *              --rotate-after-seconds T | --rotate-at TIME] [--admin stdin]
 *
 * Prints one line per listener, "listening scenario=NAME addr=ADDR port=N",
 * then serves until SIGTERM/SIGINT (exit 0); SIGHUP reloads the fixtures. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ca.h"
#include "err.h"
#include "ms.h"
#include "fs.h"

#define MAX_LISTENERS 256

static void usage(FILE *f)
{
    fprintf(f, "usage: pgtls mock --scenario NAME [--port N] [--scenario NAME [--port N]]...\n"
               "                  [--fixtures DIR] [--listen ADDR] [--event-log FILE|-]\n"
               "                  [--set key=value]... [--timeout-ms N] [--auth-timeout-ms N]\n"
               "                  [--max-connections N]\n"
               "  --scenario NAME     serve this scenario of DIR/index.json (repeat for more)\n"
               "  --port N            port of the preceding --scenario (0 or absent: a free port)\n"
               "  --fixtures DIR      folder written by 'pgtls ca gen --out DIR'\n"
               "                      (default $PGTLS_FIXTURES, else ./fixtures)\n"
               "  --listen ADDR       bind address (default 127.0.0.1)\n"
               "  --event-log FILE    append one JSON line per connection ('-': stdout)\n"
               "  --set key=value     override a server setting of every scenario\n"
               "                      (auth=md5, ssl_max_protocol_version=TLSv1.2, ...)\n"
               "  --timeout-ms N      timeout of every read (default 10000)\n"
               "  --auth-timeout-ms N accept to end of authentication, however slow the\n"
               "                      client trickles (authentication_timeout; default 60000)\n"
               "  --max-connections N over it clients get FATAL 53300 (default 4096)\n"
               "  --as-of DATE        serve fixtures re-dated so each certificate's validity is\n"
               "                      what it is on DATE (YYYY-MM-DD, up to 2050), generated into\n"
               "                      DIR-as-of-DATE (docs/rotation-in-time.md)\n"
               "  --cert FILE --key FILE [--ca FILE]\n"
               "                      serve your own chain (PEM, server certificate first) and key\n"
               "                      without a catalogue (scenario \"own\"), or under the\n"
               "                      --scenario given; --ca names the root that verifies it. An\n"
               "                      encrypted key needs --set ssl_passphrase_command='PROG ARGS'\n"
               "                      (run without a shell, %%p = prompt) or --set\n"
               "                      ssl_passphrase_file=FILE; the mock never prompts\n"
               "Live rotation (docs/mockserver.md): new connections get another chain, open ones\n"
               "keep theirs, the event log names the scenario each connection got.\n"
               "  --rotate-to NAME    the preceding --scenario's listener moves to scenario NAME:\n"
               "                      on SIGUSR1, on the admin command 'rotate', or on schedule:\n"
               "  --rotate-after-connections N   after N connections (the Nth still gets the old)\n"
               "  --rotate-after-seconds T       T seconds after start\n"
               "  --rotate-at TIME               at TIME (YYYY-MM-DDTHH:MM:SSZ)\n"
               "  --admin stdin       read commands on stdin, one per line: 'rotate' (every\n"
               "                      --rotate-to), 'serve NAME' (every listener to NAME),\n"
               "                      'status'; each answers one line on stdout\n"
               "Signals: SIGTERM/SIGINT stop (exit 0), SIGHUP reloads the fixtures,\n"
               "SIGUSR1 rotates every --rotate-to.\n");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    long v;
    if (str_to_long(s, lo, hi, &v) < 0)
        return -1;
    *out = (int)v;
    return 0;
}

static void raise_nofile(void)
{
    /* 1,000+ connections need more than the usual soft limit of 1024. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

typedef struct rotation {
    ms_server *s;
    int num;
    const int *ids;
    const char *const *targets;   /* per listener: --rotate-to, or NULL */
    const char *const *scenarios; /* per listener: what it serves now */
    int after_connections;        /* -1: no such schedule */
    time_t at;                    /* 0: no time schedule */
    pthread_mutex_t mu;
} rotation;

/* Rotates every listener with a --rotate-to (serve == NULL) or every
 * listener to `serve`; one line per listener on stdout. */
static int rotate_all(rotation *r, const char *serve, const char *why)
{
    int failed = 0;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->num; i++) {
        const char *to = serve ? serve : r->targets[i];
        char old[128] = "";
        pgtls_err err;
        err_clear(&err);
        if (!to)
            continue;
        if (ms_server_rotate(r->s, r->ids[i], to, old, sizeof(old), &err) < 0) {
            printf("error listener=%d %s\n", r->ids[i], err.msg);
            failed = 1;
            continue;
        }
        printf("rotated listener=%d from=%s to=%s by=%s\n", r->ids[i], old, to, why);
    }
    fflush(stdout);
    pthread_mutex_unlock(&r->mu);
    return failed ? -1 : 0;
}

/* --admin stdin: one command per line. */
static void *admin_main(void *arg)
{
    rotation *r = arg;
    char line[512];
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, "rotate") == 0) {
            rotate_all(r, NULL, "admin");
        } else if (strncmp(line, "serve ", 6) == 0 && line[6]) {
            rotate_all(r, line + 6, "admin");
        } else if (strcmp(line, "status") == 0) {
            pthread_mutex_lock(&r->mu);
            printf("status listeners=%d rotate_at=%lld\n", r->num, (long long)r->at);
            fflush(stdout);
            pthread_mutex_unlock(&r->mu);
        } else if (line[0]) {
            printf("error unknown admin command '%s' (rotate, serve NAME, status)\n", line);
            fflush(stdout);
        }
    }
    return NULL;
}

int ms_cli_main(int argc, char **argv)
{
    static const struct option longopts[] = {{"scenario", required_argument, NULL, 's'},
                                             {"port", required_argument, NULL, 'p'},
                                             {"fixtures", required_argument, NULL, 'f'},
                                             {"listen", required_argument, NULL, 'l'},
                                             {"event-log", required_argument, NULL, 'e'},
                                             {"set", required_argument, NULL, 'S'},
                                             {"timeout-ms", required_argument, NULL, 't'},
                                             {"max-connections", required_argument, NULL, 'm'},
                                             {"auth-timeout-ms", required_argument, NULL, 1004},
                                             {"as-of", required_argument, NULL, 'A'},
                                             {"rotate-to", required_argument, NULL, 'R'},
                                             {"rotate-after-connections", required_argument, NULL, 'N'},
                                             {"rotate-after-seconds", required_argument, NULL, 'T'},
                                             {"rotate-at", required_argument, NULL, 'W'},
                                             {"admin", required_argument, NULL, 'D'},
                                             {"cert", required_argument, NULL, 'C'},
                                             {"key", required_argument, NULL, 'K'},
                                             {"ca", required_argument, NULL, 'a'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *scenarios[MAX_LISTENERS], *settings[MAX_LISTENERS + 1];
    const char *rotate_to[MAX_LISTENERS];
    rotation rot = {.after_connections = -1};
    const char *schedule_flag = NULL;
    int admin_stdin = 0;
    pthread_t admin_thread;
    int admin_started = 0;
    int ports[MAX_LISTENERS], ids[MAX_LISTENERS];
    int num_sc = 0, num_set = 0, opt, status = 2, i, event_fd = -1, close_event_fd = 0;
    const char *event_log = NULL, *as_of_arg = NULL;
    const char *own_cert = NULL, *own_key = NULL, *own_ca = NULL;
    char *as_of_dir = NULL, *own_dir = NULL, *own_settings[2] = {NULL, NULL};
    time_t as_of = 0;
    ms_options o;
    ms_server *s = NULL;
    pgtls_err err;
    sigset_t set;

    err_clear(&err);
    memset(&o, 0, sizeof(o));
    o.event_fd = -1;
    o.fixtures_dir = getenv("PGTLS_FIXTURES") ? getenv("PGTLS_FIXTURES") : "fixtures";
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            if (num_sc == MAX_LISTENERS) {
                fprintf(stderr, "pgtls mock: at most %d --scenario flags\n", MAX_LISTENERS);
                return 2;
            }
            ports[num_sc] = 0;
            rotate_to[num_sc] = NULL;
            scenarios[num_sc++] = optarg;
            break;
        case 'p':
            if (num_sc == 0 || parse_int(optarg, 0, 65535, &ports[num_sc - 1]) < 0) {
                fprintf(stderr, "pgtls mock: --port '%s' must follow a --scenario and be 0-65535\n",
                        optarg);
                return 2;
            }
            break;
        case 'f':
            o.fixtures_dir = optarg;
            break;
        case 'l':
            o.bind_addr = optarg;
            break;
        case 'e':
            event_log = optarg;
            break;
        case 'S':
            if (num_set == MAX_LISTENERS || !strchr(optarg, '=')) {
                fprintf(stderr, "pgtls mock: --set wants key=value, got '%s'\n", optarg);
                return 2;
            }
            settings[num_set++] = optarg;
            break;
        case 't':
            if (parse_int(optarg, 1, 86400000, &o.timeout_ms) < 0) {
                fprintf(stderr, "pgtls mock: --timeout-ms '%s' is not a positive number\n", optarg);
                return 2;
            }
            break;
        case 1004:
            if (parse_int(optarg, 1, 86400000, &o.auth_timeout_ms) < 0) {
                fprintf(stderr, "pgtls mock: --auth-timeout-ms '%s' is not a positive number\n",
                        optarg);
                return 2;
            }
            break;
        case 'm':
            if (parse_int(optarg, 1, 1000000, &o.max_connections) < 0) {
                fprintf(stderr, "pgtls mock: --max-connections '%s' is not a positive number\n",
                        optarg);
                return 2;
            }
            break;
        case 'A':
            if (ca_as_of_parse(optarg, &as_of, &err) < 0) {
                fprintf(stderr, "pgtls mock: %s\n", err.msg);
                return 2;
            }
            as_of_arg = optarg;
            break;
        case 'R':
            if (num_sc == 0) {
                fprintf(stderr, "pgtls mock: --rotate-to '%s' must follow a --scenario\n", optarg);
                return 2;
            }
            rotate_to[num_sc - 1] = optarg;
            break;
        case 'N':
        case 'T':
        case 'W': {
            const char *flag = opt == 'N' ? "--rotate-after-connections"
                               : opt == 'T' ? "--rotate-after-seconds"
                                            : "--rotate-at";
            int v = 0;
            if (schedule_flag) {
                fprintf(stderr,
                        "pgtls mock: %s and %s conflict: a listener rotates on one schedule "
                        "(keep one of them)\n",
                        schedule_flag, flag);
                return 2;
            }
            schedule_flag = flag;
            if (opt == 'W') {
                if (ca_as_of_parse(optarg, &rot.at, &err) < 0 || rot.at <= time(NULL)) {
                    fprintf(stderr, "pgtls mock: --rotate-at '%s' must be a future time "
                                    "(YYYY-MM-DDTHH:MM:SSZ, UTC)\n", optarg);
                    return 2;
                }
            } else if (parse_int(optarg, 1, 100000000, &v) < 0) {
                fprintf(stderr, "pgtls mock: %s '%s' must be a positive number\n", flag, optarg);
                return 2;
            } else if (opt == 'N') {
                rot.after_connections = v;
            } else {
                rot.at = time(NULL) + v;
            }
            break;
        }
        case 'D':
            if (strcmp(optarg, "stdin") != 0) {
                fprintf(stderr, "pgtls mock: --admin '%s': the admin channel is 'stdin'\n", optarg);
                return 2;
            }
            admin_stdin = 1;
            break;
        case 'C':
            own_cert = optarg;
            break;
        case 'K':
            own_key = optarg;
            break;
        case 'a':
            own_ca = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (own_cert || own_key || own_ca) {
        /* Your own chain and key: served by path (the key is never copied),
         * under a --scenario's settings or, without one, a scenario "own"
         * of a one-scenario index made for it. */
        if (!own_cert || !own_key || num_set + 2 > MAX_LISTENERS) {
            fprintf(stderr, "pgtls mock: --cert FILE and --key FILE go together (--ca FILE "
                            "names the root that verifies them)\n");
            return 2;
        }
        if (num_sc == 0) {
            own_dir = ms_userfiles_fixtures(own_cert, own_key, own_ca, &err);
            if (!own_dir) {
                fprintf(stderr, "pgtls mock: %s\n", err.msg);
                return 2;
            }
            o.fixtures_dir = own_dir;
            ports[num_sc] = 0;
            scenarios[num_sc++] = "own";
        }
        own_settings[0] = str_printf("chain_pem=%s", own_cert);
        own_settings[1] = str_printf("key_pem=%s", own_key);
        if (!own_settings[0] || !own_settings[1])
            goto fail;
        settings[num_set++] = own_settings[0];
        settings[num_set++] = own_settings[1];
    }
    settings[num_set] = NULL;
    if (optind < argc || num_sc == 0) {
        if (optind < argc)
            fprintf(stderr, "pgtls mock: unexpected argument '%s'\n", argv[optind]);
        else
            fprintf(stderr, "pgtls mock: name at least one --scenario\n");
        usage(stderr);
        return 2;
    }
    if (as_of) {
        /* Dated fixtures beside the given ones, from the same catalogue. */
        char *index = str_printf("%s/index.json", o.fixtures_dir);
        char *catalogue = NULL;
        json_error_t jerr;
        json_t *prev = index ? json_load_file(index, 0, &jerr) : NULL;
        const char *cat = json_string_value(json_object_get(prev, "catalogue"));
        catalogue = cat ? strdup(cat) : NULL;
        json_decref(prev);
        free(index);
        as_of_dir = str_printf("%s-as-of-%s", o.fixtures_dir, as_of_arg);
        if (!as_of_dir || ca_gen_if_stale_as_of(catalogue, as_of_dir, NULL, 3600, as_of, &err) < 0) {
            free(catalogue);
            goto fail;
        }
        free(catalogue);
        o.fixtures_dir = as_of_dir;
    }
    {
        int any_rotate = 0;
        for (i = 0; i < num_sc; i++)
            any_rotate |= rotate_to[i] != NULL;
        if (schedule_flag && !any_rotate) {
            fprintf(stderr, "pgtls mock: %s needs a --rotate-to NAME after the --scenario to "
                            "rotate\n", schedule_flag);
            return 2;
        }
    }
    if (event_log) {
        if (!strcmp(event_log, "-"))
            event_fd = STDOUT_FILENO;
        else {
            event_fd = open(event_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            if (event_fd < 0) {
                fprintf(stderr, "pgtls mock: cannot open event log %s: %s\n", event_log,
                        strerror(errno));
                return 2;
            }
            close_event_fd = 1;
        }
    }
    o.event_fd = event_fd;
    raise_nofile();
    /* Signals go to sigwait below, never to a server thread. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    s = ms_server_new(&o, &err);
    if (!s)
        goto fail;
    for (i = 0; i < num_sc; i++) {
        int port = 0;
        ids[i] = ms_server_listen_ex(s, scenarios[i], ports[i], settings, &port, &err);
        if (ids[i] < 0)
            goto fail;
        ports[i] = port;
    }
    if (ms_server_start(s, &err) < 0)
        goto fail;
    for (i = 0; i < num_sc; i++) {
        const char *addr = o.bind_addr ? o.bind_addr : "127.0.0.1";
        printf("listening scenario=%s addr=%s port=%d\n", scenarios[i], addr, ports[i]);
        ms_print_connect_hint(stdout, o.fixtures_dir, scenarios[i], addr, ports[i], settings);
    }
    fflush(stdout);
    rot.s = s;
    rot.num = num_sc;
    rot.ids = ids;
    rot.targets = rotate_to;
    rot.scenarios = scenarios;
    pthread_mutex_init(&rot.mu, NULL);
    if (rot.after_connections > 0)
        for (i = 0; i < num_sc; i++)
            if (rotate_to[i] &&
                ms_server_rotate_after(s, ids[i], rotate_to[i], rot.after_connections, &err) < 0)
                goto fail;
    if (admin_stdin && pthread_create(&admin_thread, NULL, admin_main, &rot) == 0) {
        pthread_detach(admin_thread); /* blocked in fgets: it ends with the process */
        admin_started = 1;
    }
    (void)admin_started;
    for (;;) {
        int sig = 0;
        if (rot.at) {
            struct timespec ts = {0, 200 * 1000 * 1000};
            sig = sigtimedwait(&set, NULL, &ts);
            if (sig < 0) {
                if (time(NULL) >= rot.at) {
                    rot.at = 0;
                    rotate_all(&rot, NULL, "schedule");
                }
                continue;
            }
        } else if (sigwait(&set, &sig) != 0) {
            continue;
        }
        if (sig == SIGUSR1) {
            rotate_all(&rot, NULL, "SIGUSR1");
            continue;
        }
        if (sig == SIGHUP) {
            pgtls_err rerr;
            err_clear(&rerr);
            if (ms_server_reload(s, &rerr) < 0)
                fprintf(stderr, "pgtls mock: %s\n", rerr.msg);
            else
                fprintf(stderr, "pgtls mock: reloaded %s\n", o.fixtures_dir);
            continue;
        }
        if (sig == SIGTERM || sig == SIGINT)
            break;
    }
    ms_server_stop(s);
    ms_server_free(s);
    s = NULL;
    if (event_fd >= 0)
        fsync(event_fd);
    status = 0;
    goto out;
fail:
    fprintf(stderr, "pgtls mock: %s\n", err.msg);
    status = 2; /* every start-up failure is a usage or configuration error */
out:
    ms_server_free(s);
    if (close_event_fd)
        close(event_fd);
    free(as_of_dir);
    ms_userfiles_remove(own_dir);
    free(own_settings[0]);
    free(own_settings[1]);
    return status;
}
