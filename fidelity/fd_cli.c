/* pgtls: `pgtls-fidelity`, the command line of the real-server harness.
 *
 *   pgtls-fidelity expressible --fixtures DIR [--json] [--pg-major N]
 *   pgtls-fidelity serve --fixtures DIR [--scenario NAME] [--bindir DIR]
 *
 * `serve` is the real-server twin of `pgtls mock`: it prints one JSON line per
 * (re)configuration on stdout and reads commands on stdin, one per line:
 *   start NAME   reconfigure for scenario NAME and restart
 *   stop         stop the server (the cluster stays)
 *   sql TEXT     run TEXT as the cluster's superuser (for tests)
 * End of input, SIGINT or SIGTERM stop the server and remove the cluster. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd.h"
#include "fs.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: pgtls-fidelity expressible --fixtures DIR [--json] [--pg-major N]\n"
            "       pgtls-fidelity serve --fixtures DIR [--scenario NAME] [--bindir DIR]\n"
            "       pgtls-fidelity compare [--help for its options]\n"
            "\n"
            "expressible: which scenarios a real PostgreSQL can be configured like, and why\n"
            "             not for the others.\n"
            "serve:       run a real PostgreSQL (initdb in a temporary folder, 127.0.0.1 only)\n"
            "             configured like a scenario; prints a JSON line with its port; reads\n"
            "             'start NAME', 'stop' or 'sql TEXT' lines on stdin; EOF ends it.\n"
            "compare:     the fidelity suite: the same cases against the mock and a real\n"
            "             server, every difference printed.\n");
}

static void print_json(json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    if (s) {
        printf("%s\n", s);
        fflush(stdout);
        free(s);
    }
    json_decref(obj);
}

static int cmd_expressible(const char *fixtures, int as_json, int pg_major)
{
    pgtls_err err;
    fx_index *idx;
    size_t n_ok = 0, n_no = 0;
    json_t *arr = json_array();

    err_clear(&err);
    idx = fx_index_load(fixtures, &err);
    if (!idx) {
        fprintf(stderr, "pgtls-fidelity: %s\n", err.msg);
        json_decref(arr);
        return err_exit_status(err.code);
    }
    if (!as_json)
        printf("%-32s %-14s %s\n", "scenario", "real PG", "reason / caveats");
    for (size_t i = 0; i < fx_num_scenarios(idx); i++) {
        const fx_scenario *sc = fx_scenario_at(idx, i);
        const char *why = fd_scenario_unexpressible(sc, pg_major);
        char *cav = fd_scenario_caveats(sc, pg_major);
        if (why)
            n_no++;
        else
            n_ok++;
        if (as_json)
            json_array_append_new(arr, json_pack("{s:s, s:b, s:s?, s:s?}", "scenario", sc->name,
                                                 "expressible", !why, "reason", why, "caveats",
                                                 why ? NULL : cav));
        else
            printf("%-32s %-14s %s\n", sc->name, why ? "not expressible" : "expressible",
                   why ? why : (cav ? cav : ""));
        free(cav);
    }
    if (as_json)
        print_json(json_pack("{s:i, s:o, s:i, s:i}", "pg_major", pg_major, "scenarios", arr,
                             "expressible", (int)n_ok, "not_expressible", (int)n_no));
    else {
        json_decref(arr);
        printf("\n%zu expressible, %zu not expressible on PostgreSQL %d\n", n_ok, n_no, pg_major);
    }
    fx_index_free(idx);
    return 0;
}

static void report_start(fd_real *r, fx_index *idx, const char *name)
{
    pgtls_err err;
    const fx_scenario *sc = fx_scenario_find(idx, name);
    const char *why;
    char *cav;

    err_clear(&err);
    if (!sc) {
        print_json(json_pack("{s:s, s:s, s:s}", "event", "error", "scenario", name, "error",
                             "no such scenario in the fixtures index"));
        return;
    }
    why = fd_scenario_unexpressible(sc, fd_real_pg_major(r));
    if (why) {
        print_json(json_pack("{s:s, s:s, s:s}", "event", "unexpressible", "scenario", name,
                             "reason", why));
        return;
    }
    if (fd_real_start(r, sc, &err) < 0) {
        print_json(
            json_pack("{s:s, s:s, s:s}", "event", "error", "scenario", name, "error", err.msg));
        return;
    }
    cav = fd_scenario_caveats(sc, fd_real_pg_major(r));
    print_json(json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:s}", "event", "started",
                         "scenario", name, "host", "127.0.0.1", "port", fd_real_port(r), "pid",
                         fd_real_pid(r), "pg_major", fd_real_pg_major(r), "log",
                         fd_real_log_path(r), "server_host", sc->host, "caveats", cav ? cav : ""));
    free(cav);
}

static int cmd_serve(const char *fixtures, const char *scenario, const char *bindir)
{
    pgtls_err err;
    fx_index *idx = NULL;
    fd_real *r = NULL;
    char line[4096];
    struct sigaction sa;
    int result = 2;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: a signal interrupts fgets */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    err_clear(&err);
    idx = fx_index_load(fixtures, &err);
    if (!idx)
        goto fail;
    r = fd_real_new(bindir, &err);
    if (!r)
        goto fail;
    if (scenario)
        report_start(r, idx, scenario);
    else
        print_json(json_pack("{s:s, s:i, s:i}", "event", "ready", "pg_major", fd_real_pg_major(r),
                             "port", fd_real_port(r)));
    while (!stop_requested && fgets(line, sizeof(line), stdin)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (strncmp(line, "start ", 6) == 0) {
            report_start(r, idx, line + 6);
        } else if (strcmp(line, "stop") == 0) {
            err_clear(&err);
            if (fd_real_stop(r, &err) < 0)
                print_json(json_pack("{s:s, s:s}", "event", "error", "error", err.msg));
            else
                print_json(json_pack("{s:s}", "event", "stopped"));
        } else if (strncmp(line, "sql ", 4) == 0) {
            err_clear(&err);
            if (fd_real_admin_sql(r, line + 4, &err) < 0)
                print_json(json_pack("{s:s, s:s}", "event", "error", "error", err.msg));
            else
                print_json(json_pack("{s:s}", "event", "sql-ok"));
        } else if (n) {
            print_json(json_pack("{s:s, s:s}", "event", "error", "error",
                                 "unknown command (start NAME | stop | sql TEXT)"));
        }
    }
    result = 0;
    goto out;
fail:
    fprintf(stderr, "pgtls-fidelity: %s\n", err.msg);
    result = err_exit_status(err.code);
out:
    fd_real_free(r);
    fx_index_free(idx);
    return result;
}

int fd_cli_main(int argc, char **argv)
{
    const char *fixtures = NULL, *scenario = NULL, *bindir = NULL, *cmd;
    int as_json = 0, pg_major = 15;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            as_json = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "pgtls-fidelity: %s needs a value (see --help)\n", a);
            return 2;
        }
        if (strcmp(a, "--fixtures") == 0)
            fixtures = v;
        else if (strcmp(a, "--scenario") == 0)
            scenario = v;
        else if (strcmp(a, "--bindir") == 0)
            bindir = v;
        else if (strcmp(a, "--pg-major") == 0) {
            char *end;
            long m = strtol(v, &end, 10);
            if (*end || m < 10 || m > 99) {
                fprintf(stderr, "pgtls-fidelity: --pg-major wants a number like 15, not '%s'\n", v);
                return 2;
            }
            pg_major = (int)m;
        } else {
            fprintf(stderr, "pgtls-fidelity: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        i++;
    }
    if (!fixtures) {
        fprintf(stderr, "pgtls-fidelity: --fixtures DIR is required (make it with 'pgtls ca "
                        "gen --out DIR')\n");
        return 2;
    }
    if (strcmp(cmd, "expressible") == 0)
        return cmd_expressible(fixtures, as_json, pg_major);
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(fixtures, scenario, bindir);
    fprintf(stderr, "pgtls-fidelity: unknown command '%s' (see --help)\n", cmd);
    return 2;
}
