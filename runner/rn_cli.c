/* pgtls runner: flag parsing of `pgtls run`, `pgtls repro`, `pgtls clients`
 * (docs/runner.md). Each entry point returns the process exit status. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "fs.h"
#include "paths.h"
#include "pgtls-config.h"
#include "rn.h"
#include "vocab.h"

/* The signal that asked the run to stop (0: none). The only file-level
 * mutable state of the runner: a signal handler has nowhere else to write. */
static volatile sig_atomic_t rn_stop_signal;

static void on_stop_signal(int signo)
{
    rn_stop_signal = signo;
}

/* First ^C or SIGTERM: stop feeding cases, write the partial matrix. The
 * handler resets itself, so a second ^C kills the runner at once. */
static void install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* --suite takes a file or the name of a shipped suite: a value without '/'
 * and '.' ("field-cases") names <source>/suites/<name>.suite. buf holds the
 * path when it is a name. Returns the path to load. */
static const char *resolve_suite(const char *v, char *buf, size_t cap)
{
    int n;
    if (!v || strchr(v, '/') || strchr(v, '.'))
        return v;
    n = snprintf(buf, cap, "%s/suites/%s.suite", pgtls_data_root(), v);
    return n > 0 && (size_t)n < cap ? buf : v;
}

static const char *default_clients_dir(void)
{
    static char path[4096];
    const char *d = getenv("PGTLS_CLIENTS_DIR");
    if (d && *d)
        return d;
    snprintf(path, sizeof(path), "%s/clients", pgtls_data_root());
    return path;
}

static rn_paths default_paths(void)
{
    rn_paths p = {.build_root = pgtls_exec_root(), .source_root = pgtls_data_root()};
    return p;
}

static int default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* Splits "a,b,c" into a NULL-terminated vector (empty items dropped). */
static char **split_list(const char *s)
{
    return vc_split(s, ",", 0);
}

/* Drops repeated names, keeping the first (--clients libpq,libpq is one client). */
static void dedupe(char **v)
{
    size_t k = 0;
    for (size_t i = 0; v && v[i]; i++) {
        int seen = 0;
        for (size_t j = 0; j < k && !seen; j++)
            seen = strcmp(v[j], v[i]) == 0;
        if (seen)
            free(v[i]);
        else
            v[k++] = v[i];
    }
    if (v)
        v[k] = NULL;
}

/* A tiny flag reader: "--name VALUE" and "--name=VALUE". */
typedef struct flags {
    int argc, i;
    char **argv;
    const char *cmd;
    int bad;
} flags;

static int flag_is(flags *f, const char *name, const char **value)
{
    const char *a = f->argv[f->i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (f->i + 1 >= f->argc) {
        fprintf(stderr, "pgtls %s: %s needs a value (see pgtls %s --help)\n", f->cmd, name, f->cmd);
        f->bad = 1;
        *value = NULL;
        return 1;
    }
    *value = f->argv[++f->i];
    return 1;
}

static int parse_int(const char *cmd, const char *flag, const char *v, int lo, int hi, int *out)
{
    long n;
    if (str_to_long(v, lo, hi, &n) < 0) {
        fprintf(stderr, "pgtls %s: %s wants an integer between %d and %d, not '%s'\n", cmd, flag,
                lo, hi, v ? v : "");
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* ---------------------------------------------------------------------- run */

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: pgtls run [--clients a,b] [--scenarios x,y] [--sslmodes m,n] [--suite FILE]\n"
            "                 [--fixtures DIR] [--no-gen] [--as-of DATE] [--out DIR] [--jobs N]\n"
            "                 [--timeout-ms N] [--grace-ms N] [--clients-dir DIR] [--keep-temp]\n"
            "                 [--stores s,t] [--trust-world on|off] [--progress | --no-progress]\n\n"
            "Runs every case of the suite with every detected client against the embedded\n"
            "mock server and writes matrix.json plus its renderings into --out (default\n"
            "out/run-<timestamp>; out/latest points at the last run written directly\n"
            "under out/).\n\n"
            "  --clients      adapters to run (folder names under clients/, or a driver at a\n"
            "                 version: pg@8.7.3, pgx@5.0.0, docs/versions.md; default: all\n"
            "                 usable adapters except version builds)\n"
            "  --scenarios    only these scenarios;  --sslmodes  only these sslmodes\n"
            "  --stores       only these trust stores (default = the client's own trust,\n"
            "                 system = sslrootcert=system, or a store of pgtls ca list)\n"
            "  --trust-world  on (default): each adapter runs in a private mount namespace\n"
            "                 where the OS store, Java cacerts and Node's roots hold the\n"
            "                 look-alike twins of the real roots (docs/trust-worlds.md)\n"
            "  --suite        suite file, or a shipped suite's name\n"
            "                 (field-cases = suites/field-cases.suite; default suites/default.suite)\n"
            "  --fixtures     fixtures folder (default out/fixtures; generated or reused)\n"
            "  --no-gen       use --fixtures as it is, never regenerate\n"
            "  --as-of        DATE (YYYY-MM-DD, up to 2050): every certificate re-dated so each\n"
            "                 client sees its validity as of DATE (default today; fixtures in\n"
            "                 <fixtures>-as-of-DATE; docs/rotation-in-time.md)\n"
            "  --jobs         workers, each with its own listeners and adapters (default: cores)\n"
            "  --timeout-ms   per-case timeout given to the adapter (default 5000)\n"
            "  --grace-ms     added to it before the adapter is killed (default 3000)\n"
            "  --keep-temp    keep the per-case HOME folders\n"
            "  --against-real the same cases against a real PostgreSQL configured like each\n"
            "                 scenario instead of the mock (takes --clients, --scenarios,\n"
            "                 --suite, --fixtures, --out, --timeout-ms; docs/fidelity.md)\n\n"
            "exit status: 0 every case conforms (or is a known deviation / unsupported),\n"
            "1 a case fails, 2 usage or input error, 130/143 interrupted by SIGINT/SIGTERM\n"
            "(the matrix written so far is valid and marked incomplete).\n");
}

/* True when dir names a folder directly inside ./out ("out/run-X"), so that
 * out/latest can point at it. */
static int writes_under_out(const char *dir)
{
    while (dir[0] == '.' && dir[1] == '/')
        dir += 2;
    if (strncmp(dir, "out/", 4) != 0)
        return 0;
    const char *name = dir + 4;
    return name[0] && !strchr(name, '/') && strcmp(name, "latest") != 0 &&
           strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

int rn_cli_run(int argc, char **argv)
{
    rn_run_options o = {.jobs = default_jobs(),
                        .trust_world = 1,
                        .timeout_ms = 5000,
                        .grace_ms = 3000,
                        .idle_wait_ms = 2000,
                        .regen = 1,
                        .fixtures_dir = "out/fixtures",
                        .clients_dir = default_clients_dir(),
                        .paths = default_paths(),
                        .tty = isatty(STDERR_FILENO)};
    flags f = {.argc = argc, .argv = argv, .cmd = "run"};
    char *out_default = NULL, *cmdline = NULL, suite_abs[PATH_MAX], suite_named[PATH_MAX];
    char *as_of_dir = NULL;
    const char *v, *as_of_arg = NULL;
    pgtls_err err;
    int status = 2, fixtures_given = 0;

    err_clear(&err);
    for (f.i = 1; f.i < argc && !f.bad; f.i++) {
        const char *a = argv[f.i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            run_usage(stdout);
            status = 0;
            goto out;
        } else if (flag_is(&f, "--clients", &v)) {
            if (v && !(o.clients = split_list(v)))
                goto out;
        } else if (flag_is(&f, "--scenarios", &v)) {
            if (v && !(o.scenarios = split_list(v)))
                goto out;
        } else if (flag_is(&f, "--stores", &v)) {
            if (v && !(o.stores = split_list(v)))
                goto out;
        } else if (flag_is(&f, "--trust-world", &v)) {
            if (v && strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
                fprintf(stderr, "pgtls run: --trust-world %s: use on or off\n", v);
                goto out;
            }
            if (v)
                o.trust_world = strcmp(v, "on") == 0;
        } else if (flag_is(&f, "--sslmodes", &v)) {
            if (v && !(o.sslmodes = split_list(v)))
                goto out;
        } else if (flag_is(&f, "--suite", &v)) {
            o.suite_path = resolve_suite(v, suite_named, sizeof(suite_named));
        } else if (flag_is(&f, "--fixtures", &v)) {
            o.fixtures_dir = v;
            fixtures_given = 1;
        } else if (flag_is(&f, "--as-of", &v)) {
            if (v && ca_as_of_parse(v, &o.as_of, &err) < 0) {
                fprintf(stderr, "pgtls run: %s\n", err.msg);
                goto out;
            }
            as_of_arg = v;
        } else if (flag_is(&f, "--out", &v)) {
            o.out_dir = v;
        } else if (flag_is(&f, "--clients-dir", &v)) {
            o.clients_dir = v;
        } else if (flag_is(&f, "--jobs", &v)) {
            if (v && parse_int("run", "--jobs", v, 1, 64, &o.jobs) < 0)
                goto out;
        } else if (flag_is(&f, "--timeout-ms", &v)) {
            if (v && parse_int("run", "--timeout-ms", v, 100, 600000, &o.timeout_ms) < 0)
                goto out;
        } else if (flag_is(&f, "--grace-ms", &v)) {
            if (v && parse_int("run", "--grace-ms", v, 0, 600000, &o.grace_ms) < 0)
                goto out;
        } else if (strcmp(a, "--no-gen") == 0) {
            o.regen = 0;
        } else if (strcmp(a, "--keep-temp") == 0) {
            o.keep_temp = 1;
        } else if (strcmp(a, "--progress") == 0) {
            o.tty = 1;
        } else if (strcmp(a, "--no-progress") == 0) {
            o.tty = 0;
        } else if (strcmp(a, "--against-real") == 0) {
            /* The pgtls binary routes --against-real to fidelity/ before
             * this runs; only an embedder calling rn_cli_run directly gets here. */
            fprintf(stderr, "pgtls run: --against-real is served by the pgtls binary "
                            "(fidelity component); run 'pgtls run --against-real'\n");
            goto out;
        } else {
            fprintf(stderr, "pgtls run: unknown argument '%s' (see pgtls run --help)\n", a);
            goto out;
        }
    }
    if (f.bad)
        goto out;
    if (o.as_of && !fixtures_given) {
        /* dated fixtures live beside today's, one folder per date */
        as_of_dir = str_printf("%s-as-of-%s", o.fixtures_dir, as_of_arg);
        if (!as_of_dir)
            goto out;
        o.fixtures_dir = as_of_dir;
    }
    /* Registry names and versions (pg@8.7.3) name their version build
     * (docs/versions.md); a plain adapter name stays as it is. */
    for (size_t i = 0; o.clients && o.clients[i]; i++) {
        char *name = rn_client_resolve(o.clients_dir, o.clients[i], &o.paths, &err);
        if (!name) {
            fprintf(stderr, "pgtls run: %s\n", err.msg);
            goto out;
        }
        free(o.clients[i]);
        o.clients[i] = name;
    }
    dedupe(o.clients);
    dedupe(o.scenarios);
    dedupe(o.sslmodes);
    dedupe(o.stores);
    if ((o.clients && !o.clients[0]) || (o.scenarios && !o.scenarios[0]) ||
        (o.sslmodes && !o.sslmodes[0]) || (o.stores && !o.stores[0])) {
        fprintf(stderr,
                "pgtls run: an empty --clients/--scenarios/--sslmodes list selects nothing\n");
        goto out;
    }
    if (!o.out_dir) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
        out_default = str_printf("out/run-%s", stamp);
        /* Two runs in the same second get their own folders. */
        for (int n = 2; out_default && fs_exists(out_default) && n < 100; n++) {
            free(out_default);
            out_default = str_printf("out/run-%s-%d", stamp, n);
        }
        if (!out_default)
            goto out;
        o.out_dir = out_default;
    }
    /* Every run that writes directly under out/ (the default folder, or one the
     * user names there, as ci/main.sh does) moves out/latest to it. */
    if (writes_under_out(o.out_dir))
        o.latest_link = "out/latest";
    {
        size_t len = 1;
        for (int i = 0; i < argc; i++)
            len += strlen(argv[i]) + 1;
        cmdline = calloc(1, len + 8);
        if (cmdline) {
            strcpy(cmdline, "pgtls");
            for (int i = 0; i < argc; i++) {
                strcat(cmdline, " ");
                strcat(cmdline, argv[i]);
            }
        }
        o.command_line = cmdline;
    }
    /* The repro command of each row must work from any folder. */
    if (o.suite_path && realpath(o.suite_path, suite_abs))
        o.suite_path = suite_abs;
    rn_stop_signal = 0;
    install_stop_handlers();
    status = rn_run(&o, &rn_stop_signal, &err);
    if (status == 2 && err.code != PGTLS_OK)
        fprintf(stderr, "pgtls run: %s\n", err.msg);
out:
    rn_strv_free(o.clients);
    rn_strv_free(o.scenarios);
    rn_strv_free(o.sslmodes);
    rn_strv_free(o.stores);
    free(out_default);
    free(as_of_dir);
    free(cmdline);
    return status;
}

/* -------------------------------------------------------------------- repro */

static void repro_usage(FILE *f)
{
    fprintf(f,
            "usage: pgtls repro CASE-ID [--client NAME] [--exec] [--suite FILE] [--fixtures DIR]\n"
            "                   [--no-gen] [--port N] [--timeout-ms N] [--clients-dir DIR]\n\n"
            "Prints the commands that replay one case: the mock server, the isolated HOME and\n"
            "the adapter's one-shot command line. --exec runs them (mock embedded) and prints\n"
            "the result, the mock's events and the class. --client defaults to libpq.\n\n"
            "exit status: 0 printed, or the executed case conforms; 1 it does not;\n"
            "2 usage or input error.\n\n"
            "usage: pgtls repro --conninfo STRING [--client NAME,...|all] [--store FILE]\n"
            "                   [--password PASS] [--chain old,new,short,cross,FILE]\n"
            "                   [--fixtures DIR] [--no-gen] [--keep-temp] [--timeout-ms N]\n\n"
            "A customer's setup, offline: STRING is a libpq keyword/value string, a\n"
            "postgres:// URL, a jdbc:postgresql:// URL or a node-postgres config as JSON.\n"
            "The trust store (--store, else the string's sslrootcert; PEM, DER, .p7b,\n"
            "PKCS#12, JKS) is translated over the look-alike world (each real Azure CA\n"
            "replaced by its twin), the host name is served by the mock on loopback, and\n"
            "each client (default: every installed one) connects with the string's sslmode\n"
            "to the old, new, short and cross-signed chains (--chain: some of them, and/or a\n"
            "captured chain FILE, PEM or s_client output, cloned into the same world).\n"
            "Prints per client: works\n"
            "today / breaks after the rotation / why (class and raw error), and the fix.\n"
            "A timeout or a crash is inconclusive, never a break (--timeout-ms: per case,\n"
            "default 10000).\n"
            "exit status: 0 no client breaks on the old or new chain (or on the --chain\n"
            "named), 1 one does or a run is inconclusive, 2 bad input (a string that does not parse, an unknown\n"
            "client, an unreadable store).\n");
}

static int repro_customer(int argc, char **argv)
{
    rn_customer_options o = {.fixtures_dir = "out/fixtures", .regen = 1};
    flags f = {.argc = argc, .argv = argv, .cmd = "repro"};
    const char *v;
    pgtls_err err;
    int status;

    err_clear(&err);
    for (f.i = 1; f.i < argc && !f.bad; f.i++) {
        const char *a = argv[f.i];
        if (flag_is(&f, "--conninfo", &v)) {
            o.conninfo = v;
        } else if (flag_is(&f, "--client", &v) || flag_is(&f, "--clients", &v)) {
            o.clients = v;
        } else if (flag_is(&f, "--store", &v)) {
            o.store = v;
        } else if (flag_is(&f, "--password", &v)) {
            o.password = v;
        } else if (flag_is(&f, "--chain", &v)) {
            o.chain = v;
        } else if (flag_is(&f, "--fixtures", &v)) {
            o.fixtures_dir = v;
        } else if (flag_is(&f, "--clients-dir", &v)) {
            o.clients_dir = v;
        } else if (flag_is(&f, "--timeout-ms", &v)) {
            if (v && parse_int("repro", "--timeout-ms", v, 100, 600000, &o.timeout_ms) < 0)
                return 2;
        } else if (strcmp(a, "--no-gen") == 0) {
            o.regen = 0;
        } else if (strcmp(a, "--keep-temp") == 0) {
            o.keep_temp = 1;
        } else if (!f.bad) {
            fprintf(stderr, "pgtls repro: unknown argument '%s' with --conninfo (see pgtls repro "
                            "--help)\n",
                    a);
            return 2;
        }
    }
    if (f.bad)
        return 2;
    if (o.clients && strcmp(o.clients, "all") != 0) {
        /* an unknown client is a usage error before anything runs */
        char **names = NULL;
        int n = rn_manifest_list(o.clients_dir ? o.clients_dir : default_clients_dir(), &names,
                                 &err);
        char *list = strdup(o.clients), *save = NULL;
        for (char *t = list ? strtok_r(list, ",", &save) : NULL; n >= 0 && t;
             t = strtok_r(NULL, ",", &save)) {
            int found = 0;
            for (int i = 0; i < n; i++)
                found |= strcmp(names[i], t) == 0;
            if (!found) {
                fprintf(stderr, "pgtls repro: unknown client '%s' (see 'pgtls clients' for the "
                                "installed ones, or use --client all)\n",
                        t);
                free(list);
                rn_strv_free(names);
                return 2;
            }
        }
        free(list);
        rn_strv_free(names);
    }
    status = rn_repro_customer(&o, &err);
    if (status == 2 && err.code != PGTLS_OK)
        fprintf(stderr, "pgtls repro: %s\n", err.msg);
    return status;
}

int rn_cli_repro(int argc, char **argv)
{
    rn_repro_options o = {.client = "libpq",
                          .fixtures_dir = "out/fixtures",
                          .regen = 1,
                          .timeout_ms = 5000,
                          .clients_dir = default_clients_dir(),
                          .paths = default_paths()};
    flags f = {.argc = argc, .argv = argv, .cmd = "repro"};
    char suite_named[PATH_MAX];
    const char *v;
    pgtls_err err;
    int status = 2;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--conninfo") == 0 || strncmp(argv[i], "--conninfo=", 11) == 0)
            return repro_customer(argc, argv);
    err_clear(&err);
    for (f.i = 1; f.i < argc && !f.bad; f.i++) {
        const char *a = argv[f.i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            repro_usage(stdout);
            return 0;
        } else if (flag_is(&f, "--client", &v)) {
            o.client = v;
        } else if (flag_is(&f, "--suite", &v)) {
            o.suite_path = resolve_suite(v, suite_named, sizeof(suite_named));
        } else if (flag_is(&f, "--fixtures", &v)) {
            o.fixtures_dir = v;
        } else if (flag_is(&f, "--clients-dir", &v)) {
            o.clients_dir = v;
        } else if (flag_is(&f, "--port", &v)) {
            if (v && parse_int("repro", "--port", v, 1, 65535, &o.port) < 0)
                return 2;
        } else if (flag_is(&f, "--timeout-ms", &v)) {
            if (v && parse_int("repro", "--timeout-ms", v, 100, 600000, &o.timeout_ms) < 0)
                return 2;
        } else if (strcmp(a, "--exec") == 0) {
            o.exec = 1;
        } else if (strcmp(a, "--no-gen") == 0) {
            o.regen = 0;
        } else if (strcmp(a, "--keep-temp") == 0) {
            o.keep_temp = 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "pgtls repro: unknown argument '%s' (see pgtls repro --help)\n", a);
            return 2;
        } else if (!o.case_id) {
            o.case_id = a;
        } else {
            fprintf(stderr, "pgtls repro: one CASE-ID only ('%s' is extra)\n", a);
            return 2;
        }
    }
    if (f.bad)
        return 2;
    if (!o.case_id) {
        repro_usage(stderr);
        return 2;
    }
    status = rn_repro(&o, &err);
    if (status == 2 && err.code != PGTLS_OK)
        fprintf(stderr, "pgtls repro: %s\n", err.msg);
    return status;
}

/* ------------------------------------------------------------------ clients */

/* `pgtls clients add NAME@VERSION`: clients/versions/add.py does the work with
 * each ecosystem's own client (pip, npm, go, mvn); this starts it, argv only. */
static int clients_add(int argc, char **argv)
{
    char *script = str_printf("%s/clients/versions/add.py", pgtls_data_root());
    char **args = calloc((size_t)argc + 10, sizeof(char *));
    int n = 0;

    if (!script || !args) {
        fprintf(stderr, "pgtls clients add: out of memory\n");
        return 2;
    }
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: pgtls clients add NAME@VERSION [--clients-dir DIR] [--no-install]\n\n"
                   "Adds a client build: the driver NAME at VERSION from its registry, pinned in a\n"
                   "lockfile with hashes, as clients/<adapter>@<version>/ (docs/versions.md).\n"
                   "NAME: psycopg2-binary (psycopg2), pg (node-postgres), org.postgresql:postgresql\n"
                   "(pgjdbc), github.com/jackc/pgx/v5 (pgx). Then: pgtls run --clients NAME@VERSION.\n"
                   "exit status: 0 added and installed, 2 bad input or the registry refused.\n");
            free(script);
            free(args);
            return 0;
        }
    if (!fs_exists(script)) {
        fprintf(stderr, "pgtls clients add: %s is missing (reinstall pgtls)\n", script);
        free(script);
        free(args);
        return 2;
    }
    args[n++] = "python3";
    args[n++] = script;
    args[n++] = "--src";
    args[n++] = (char *)pgtls_data_root();
    args[n++] = "--build";
    args[n++] = (char *)pgtls_exec_root();
    args[n++] = "--clients-dir";
    args[n++] = (char *)default_clients_dir();
    for (int i = 1; i < argc; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    fflush(stdout);
    execvp(args[0], args);
    fprintf(stderr, "pgtls clients add: cannot start python3 (%s): install Python 3\n",
            strerror(errno));
    free(script);
    free(args);
    return 2;
}

int rn_cli_clients(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "add") == 0)
        return clients_add(argc - 1, argv + 1);
    const char *clients_dir = default_clients_dir();
    rn_paths paths = default_paths();
    int as_json = 0, timeout_ms = 30000, count;
    char **names = NULL;
    rn_client *probes = NULL;
    pgtls_err err;
    flags f = {.argc = argc, .argv = argv, .cmd = "clients"};
    const char *v;

    err_clear(&err);
    for (f.i = 1; f.i < argc && !f.bad; f.i++) {
        const char *a = argv[f.i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: pgtls clients [--json] [--clients-dir DIR] [--timeout-ms N]\n"
                   "       pgtls clients add NAME@VERSION [--clients-dir DIR] (docs/versions.md)\n\n"
                   "Lists the adapters under clients/ with what their --describe reports\n"
                   "(client, version, libpq, TLS library), and why an unusable one is unusable.\n"
                   "exit status: 0 listed (even with unusable clients), 2 usage error.\n");
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            as_json = 1;
        } else if (flag_is(&f, "--clients-dir", &v)) {
            clients_dir = v;
        } else if (flag_is(&f, "--timeout-ms", &v)) {
            if (v && parse_int("clients", "--timeout-ms", v, 100, 600000, &timeout_ms) < 0)
                return 2;
        } else {
            fprintf(stderr, "pgtls clients: unknown argument '%s' (see pgtls clients --help)\n", a);
            return 2;
        }
    }
    if (f.bad)
        return 2;
    count = rn_manifest_list(clients_dir, &names, &err);
    if (count < 0) {
        fprintf(stderr, "pgtls clients: %s\n", err.msg);
        return 2;
    }
    probes = calloc((size_t)count + 1, sizeof(*probes));
    if (!probes) {
        rn_strv_free(names);
        return 2;
    }
    rn_client_probe_all(clients_dir, names, &paths, timeout_ms, default_jobs(), probes);
    json_t *arr = as_json ? json_array() : NULL;
    for (int i = 0; i < count; i++) {
        rn_client *c = &probes[i];
        if (as_json) {
            json_t *o = json_pack("{s:s, s:b}", "name", c->name, "usable", c->unusable == NULL);
            json_object_set(o, "hello", c->hello ? c->hello : json_null());
            json_object_set_new(o, "reason", c->unusable ? json_string(c->unusable) : json_null());
            json_array_append_new(arr, o);
        } else if (c->unusable) {
            printf("%-16s unusable: %s\n", c->name, c->unusable);
        } else {
            const char *ver = json_string_value(json_object_get(c->hello, "version"));
            json_t *lp = json_object_get(c->hello, "libpq");
            const char *tls = json_string_value(json_object_get(c->hello, "tls_library"));
            char libpq[32] = "-";
            if (json_is_string(lp))
                snprintf(libpq, sizeof(libpq), "%s", json_string_value(lp));
            else if (json_is_integer(lp))
                snprintf(libpq, sizeof(libpq), "%lld", (long long)json_integer_value(lp));
            printf("%-16s %-12s libpq %-8s %s\n", c->name, ver ? ver : "?", libpq, tls ? tls : "?");
            {
                /* Where the client's own OpenSSL looks for the system store
                 * (sslrootcert=system, default verify paths): a bundled
                 * OpenSSL keeps its build-time OPENSSLDIR (docs/trust-worlds.md). */
                json_t *extra = json_object_get(c->hello, "extra");
                const char *dir = json_string_value(json_object_get(extra, "openssldir"));
                const char *cafile = json_string_value(json_object_get(extra, "openssl_cafile"));
                if (dir)
                    printf("%-16s   system store: %s%s\n", "", dir,
                           fs_exists(dir) ? "" : " (absent on this host: sslrootcert=system "
                                                 "finds no roots)");
                else if (cafile)
                    printf("%-16s   system store: %s\n", "", cafile);
            }
        }
        rn_client_cleanup(c);
    }
    if (as_json) {
        char *s = json_dumps(arr, JSON_INDENT(2));
        printf("%s\n", s ? s : "[]");
        free(s);
        json_decref(arr);
    }
    free(probes);
    rn_strv_free(names);
    return 0;
}
