/* pgtls runner: `pgtls timeline` (docs/rotation-in-time.md).
 *
 * For every group of the rotation calendar (suites/calendar.ini) the client
 * meets the chain the group served the day before its change, the chain of
 * the day of the change, and that chain again at the calendar's horizon; each
 * checkpoint is one `pgtls run` with fixtures dated --as-of that day. The
 * first checkpoint where a client that connected before no longer connects is
 * its break date. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "fs.h"
#include "paths.h"
#include "rn.h"
#include "st_calendar.h"

#define TL_MAX_CHECKPOINTS 64

typedef struct checkpoint {
    const st_cal_group *group;
    char date[11];
    const char *scenario;
    const char *phase; /* "before", "after", "horizon" */
} checkpoint;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pgtls timeline [--client NAME|all] --conninfo \"sslmode=... [sslrootcert=FILE]\"\n"
            "                      [--store FILE|NAME] [--group NAME|all] [--out DIR]\n"
            "                      [--calendar FILE] [--timeout-ms N]\n\n"
            "Runs the client against the rotation calendar (suites/calendar.ini): for each\n"
            "group of servers, the chain of the day before its change, the chain of the day\n"
            "of the change and that chain at the calendar's horizon, each with fixtures\n"
            "dated --as-of that day. Prints per client and group the first date it breaks\n"
            "and why, or \"survives through DATE\"; writes DIR/timeline.md and timeline.json.\n\n"
            "  --client    an adapter (default libpq), or all usable ones\n"
            "  --conninfo  libpq connection string: sslmode and sslrootcert are used (the\n"
            "              host is the mock's)\n"
            "  --store     the trust store: a catalogue store name (pgtls ca list) or a file\n"
            "              whose certificates are the catalogue's look-alikes or the real CAs\n"
            "              they copy (matched by subject CN and serial); overrides sslrootcert\n"
            "  --group     one calendar group (default all)\n"
            "exit status: 0 every client survives every group, 1 some break, 2 usage error.\n");
}

static int day_shift(const char *day, int days, char out[11])
{
    struct tm tm = {0};
    time_t t;
    if (sscanf(day, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_hour = 12;
    t = timegm(&tm) + (time_t)days * 86400;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
    return 0;
}

/* The serial of a certificate as upper-case hex without leading zeros. */
static void serial_hex(const char *in, char *out, size_t cap)
{
    size_t k = 0;
    while (*in == '0' && in[1])
        in++;
    for (; *in && k + 1 < cap; in++)
        if (*in != ':')
            out[k++] = (char)((*in >= 'a' && *in <= 'f') ? *in - 32 : *in);
    out[k] = '\0';
}

static const char *cn_of_dn(const char *dn)
{
    const char *p = dn ? strstr(dn, "CN=") : NULL, *q;
    while (p && (q = strstr(p + 3, "CN=")) != NULL)
        p = q;
    return p ? p + 3 : "";
}

/* Maps a trust-store file onto the catalogue store holding the same
 * certificates (by subject CN and serial). */
static const char *store_from_file(const fx_index *idx, const char *path, pgtls_err *err)
{
    char fmt[64];
    STACK_OF(X509) *certs = ca_store_read(path, NULL, fmt, sizeof(fmt), err);
    json_t *jcerts = json_object_get(fx_index_json(idx), "certs");
    json_t *jstores = json_object_get(fx_index_json(idx), "stores");
    const char *found = NULL, *name;
    json_t *st;

    if (!certs)
        return NULL;
    json_object_foreach(jstores, name, st)
    {
        json_t *list = json_object_get(st, "certs");
        int all = (int)json_array_size(list) == sk_X509_num(certs) && json_array_size(list) > 0;
        for (int i = 0; all && i < sk_X509_num(certs); i++) {
            X509 *x = sk_X509_value(certs, i);
            char cn[256] = "", want[128];
            BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
            char *hex = bn ? BN_bn2hex(bn) : NULL;
            int hit = 0;
            size_t j;
            json_t *cname;
            X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
            serial_hex(hex ? hex : "", want, sizeof(want));
            json_array_foreach(list, j, cname)
            {
                json_t *c = json_object_get(jcerts, json_string_value(cname));
                char have[128];
                const char *sv = json_string_value(json_object_get(c, "serial"));
                serial_hex(sv ? sv : "", have, sizeof(have));
                if (strcmp(have, want) == 0 &&
                    strcmp(cn_of_dn(json_string_value(json_object_get(c, "subject"))), cn) == 0)
                    hit = 1;
            }
            OPENSSL_free(hex);
            BN_free(bn);
            all = hit;
        }
        if (all) {
            found = name;
            break;
        }
    }
    sk_X509_pop_free(certs, X509_free);
    if (!found)
        err_set(err, PGTLS_ERR_USAGE,
                "--store %s: no catalogue store holds exactly its certificates (name a store "
                "of 'pgtls ca list' instead)",
                path);
    return found;
}

static int write_suite(const char *path, const char *scenario, const char *store,
                       const char *sslmode, pgtls_err *err)
{
    char *text = str_printf("[suite]\nname = timeline\ndescription = one checkpoint of pgtls "
                            "timeline\n\n[checkpoint]\nscenarios = %s\nstores = %s\nsslmodes = %s\n",
                            scenario, store, sslmode);
    int rc = text ? fs_write_file(path, text, strlen(text), 0644, err) : -1;
    free(text);
    return rc;
}

/* One checkpoint: a run; fills res[client] with the row of each client. */
static json_t *run_checkpoint(const rn_run_options *base, const checkpoint *cp, const char *store,
                              const char *sslmode, const char *out_dir, pgtls_err *err)
{
    rn_run_options o = *base;
    char *dir = str_printf("%s/%s-%s", out_dir, cp->date, cp->scenario);
    char *suite = dir ? str_printf("%s.suite", dir) : NULL;
    char *fixtures = str_printf("%s/fixtures-as-of-%s", out_dir, cp->date);
    char *matrix = dir ? str_printf("%s/matrix.json", dir) : NULL;
    char id[256];
    json_t *doc = NULL, *rows = NULL, *c;
    volatile sig_atomic_t stop = 0;
    int saved = -1, saved_out = -1, devnull, status;
    size_t i;

    if (!dir || !suite || !fixtures || !matrix) {
        err_set(err, PGTLS_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (write_suite(suite, cp->scenario, store, sslmode, err) < 0 ||
        ca_as_of_parse(cp->date, &o.as_of, err) < 0)
        goto out;
    o.suite_path = suite;
    o.fixtures_dir = fixtures;
    o.out_dir = dir;
    o.tty = 0;
    /* the run's per-client lines would drown the timeline */
    fflush(stderr);
    fflush(stdout);
    saved = dup(STDERR_FILENO);
    saved_out = dup(STDOUT_FILENO);
    devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved >= 0 && saved_out >= 0 && devnull >= 0) {
        dup2(devnull, STDERR_FILENO);
        dup2(devnull, STDOUT_FILENO);
    }
    if (devnull >= 0)
        close(devnull);
    status = rn_run(&o, &stop, err);
    fflush(stdout);
    if (saved >= 0) {
        dup2(saved, STDERR_FILENO);
        close(saved);
    }
    if (saved_out >= 0) {
        dup2(saved_out, STDOUT_FILENO);
        close(saved_out);
    }
    if (status == 2)
        goto out;
    doc = json_load_file(matrix, 0, NULL);
    snprintf(id, sizeof(id), "%s/%s/%s", cp->scenario, store, sslmode);
    rows = json_object();
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        const char *cid = json_string_value(json_object_get(c, "id"));
        if (cid && strcmp(cid, id) == 0)
            json_object_update(rows, json_object_get(c, "results"));
    }
    if (json_object_size(rows) == 0) {
        err_set(err, PGTLS_ERR_INPUT, "checkpoint %s %s: no row for case %s in %s", cp->date,
                cp->scenario, id, matrix);
        json_decref(rows);
        rows = NULL;
    }
out:
    json_decref(doc);
    free(dir);
    free(suite);
    free(fixtures);
    free(matrix);
    return rows;
}

/* The row's error on one line, without the mock's port (it changes per run). */
static const char *short_error(json_t *r)
{
    static _Thread_local char buf[400];
    const char *e = json_string_value(json_object_get(r, "error"));
    const char *p = e ? strstr(e, "failed: ") : NULL;
    size_t k = 0;
    if (p && strstr(e, "port "))
        e = p + 8;
    for (; e && *e && k + 1 < sizeof(buf); e++)
        buf[k++] = (*e == '\n' || *e == '\r' || *e == '\t') ? ' ' : *e;
    while (k > 0 && buf[k - 1] == ' ')
        k--;
    buf[k] = '\0';
    return k ? buf : "did not connect";
}

int rn_cli_timeline(int argc, char **argv)
{
    rn_run_options base = {.jobs = 1,
                           .timeout_ms = 5000,
                           .grace_ms = 3000,
                           .idle_wait_ms = 2000,
                           .regen = 1,
                           .paths = {.build_root = pgtls_exec_root(),
                                     .source_root = pgtls_data_root()}};
    const char *client = "libpq", *conninfo = NULL, *store_arg = NULL, *group = "all";
    const char *out_dir = NULL, *cal_path = NULL, *sslmode = "prefer", *rootcert = NULL;
    char clients_dir[4096], *clients_v[2] = {NULL, NULL}, *out_default = NULL, *errmsg = NULL;
    char *sslmode_own = NULL, *rootcert_own = NULL, *fx_dir = NULL;
    checkpoint cps[TL_MAX_CHECKPOINTS];
    size_t ncp = 0;
    st_calendar *cal = NULL;
    fx_index *idx = NULL;
    json_t *results = json_array(), *per_client = json_object();
    const char *store = NULL;
    pgtls_err err;
    int status = 2, any_break = 0;
    FILE *md = NULL;

    err_clear(&err);
    snprintf(clients_dir, sizeof(clients_dir), "%s/clients",
             getenv("PGTLS_CLIENTS_DIR") && *getenv("PGTLS_CLIENTS_DIR")
                 ? getenv("PGTLS_CLIENTS_DIR")
                 : pgtls_data_root());
    if (getenv("PGTLS_CLIENTS_DIR") && *getenv("PGTLS_CLIENTS_DIR"))
        snprintf(clients_dir, sizeof(clients_dir), "%s", getenv("PGTLS_CLIENTS_DIR"));
    base.clients_dir = clients_dir;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            status = 0;
            goto out;
        }
        if (strcmp(a, "--client") == 0)
            slot = &client;
        else if (strcmp(a, "--conninfo") == 0)
            slot = &conninfo;
        else if (strcmp(a, "--store") == 0)
            slot = &store_arg;
        else if (strcmp(a, "--group") == 0)
            slot = &group;
        else if (strcmp(a, "--out") == 0)
            slot = &out_dir;
        else if (strcmp(a, "--calendar") == 0)
            slot = &cal_path;
        else if (strcmp(a, "--clients-dir") == 0)
            slot = (const char **)&base.clients_dir;
        else if (strcmp(a, "--timeout-ms") == 0) {
            char *end;
            long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
            if (i + 1 >= argc || *end || v < 100 || v > 600000) {
                fprintf(stderr, "pgtls timeline: --timeout-ms wants 100 to 600000\n");
                goto out;
            }
            base.timeout_ms = (int)v;
            i++;
            continue;
        }
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "pgtls timeline: %s '%s' (see pgtls timeline --help)\n",
                    slot ? "missing value for" : "unknown argument", a);
            goto out;
        }
        *slot = argv[++i];
    }
    if (!conninfo) {
        fprintf(stderr, "pgtls timeline: --conninfo is required (e.g. --conninfo "
                        "\"sslmode=verify-full sslrootcert=root.crt\")\n");
        goto out;
    }
    {
        PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg), *p;
        if (!opts) {
            char *nl = errmsg ? strchr(errmsg, '\n') : NULL;
            if (nl)
                *nl = '\0';
            fprintf(stderr, "pgtls timeline: --conninfo does not parse: %s (write "
                            "\"keyword=value ...\" or a postgresql:// URI)\n",
                    errmsg ? errmsg : "out of memory");
            PQfreemem(errmsg);
            goto out;
        }
        for (p = opts; p->keyword; p++) {
            if (strcmp(p->keyword, "sslmode") == 0 && p->val)
                sslmode = sslmode_own = strdup(p->val);
            if (strcmp(p->keyword, "sslrootcert") == 0 && p->val)
                rootcert = rootcert_own = strdup(p->val);
        }
        PQconninfoFree(opts);
    }
    if (!store_arg)
        store_arg = rootcert;
    cal = st_calendar_load(cal_path ? cal_path : st_calendar_default_path(), &err);
    if (!cal)
        goto fail;
    /* The catalogue's stores, from fixtures dated today. */
    if (!out_dir) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
        out_default = str_printf("out/timeline-%s", stamp);
        out_dir = out_default;
    }
    if (!out_dir || fs_mkdir_p(out_dir, 0755, &err) < 0)
        goto fail;
    fx_dir = str_printf("%s/fixtures", out_dir);
    if (!fx_dir || ca_gen_if_stale(NULL, fx_dir, NULL, 3600, &err) < 0 ||
        !(idx = fx_index_load(fx_dir, &err)))
        goto fail;
    if (!store_arg)
        store = "missing";
    else if (fx_store_find(idx, store_arg))
        store = store_arg;
    else if (!fs_exists(store_arg)) {
        err_set(&err, PGTLS_ERR_USAGE,
                "--store %s is neither a catalogue store (pgtls ca list) nor a file", store_arg);
        goto fail;
    } else if (!(store = store_from_file(idx, store_arg, &err)))
        goto fail;
    if (strcmp(client, "all") != 0) {
        clients_v[0] = (char *)client;
        base.clients = clients_v;
    }
    /* Checkpoints, in calendar order. */
    for (size_t g = 0; g < cal->num_groups; g++) {
        const st_cal_group *gr = &cal->groups[g];
        if (strcmp(group, "all") != 0 && strcmp(group, gr->name) != 0)
            continue;
        if (ncp + 3 > TL_MAX_CHECKPOINTS)
            break;
        cps[ncp] = (checkpoint){gr, "", gr->before, "before"};
        day_shift(gr->date, -1, cps[ncp++].date);
        cps[ncp] = (checkpoint){gr, "", gr->after, "after"};
        day_shift(gr->date, 0, cps[ncp++].date);
        cps[ncp] = (checkpoint){gr, "", gr->after, "horizon"};
        day_shift(cal->horizon, 0, cps[ncp++].date);
    }
    if (ncp == 0) {
        err_set(&err, PGTLS_ERR_USAGE, "--group %s: no such group in %s", group, cal->path);
        goto fail;
    }
    for (size_t i = 0; i < ncp; i++) {
        if (!fx_scenario_find(idx, cps[i].scenario)) {
            err_set(&err, PGTLS_ERR_CONFIG, "%s: group %s names scenario '%s', which the "
                    "catalogue lacks", cal->path, cps[i].group->name, cps[i].scenario);
            goto fail;
        }
    }
    fprintf(stderr, "pgtls timeline: %zu checkpoints, store %s, sslmode %s\n", ncp, store, sslmode);
    for (size_t i = 0; i < ncp; i++) {
        json_t *rows = run_checkpoint(&base, &cps[i], store, sslmode, out_dir, &err), *r;
        const char *key;
        if (!rows)
            goto fail;
        json_object_foreach(rows, key, r)
        {
            json_t *pc = json_object_get(per_client, key), *pg;
            if (!pc) {
                pc = json_object();
                json_object_set_new(per_client, key, pc);
            }
            pg = json_object_get(pc, cps[i].group->name);
            if (!pg) {
                pg = json_pack("{s:s, s:b, s:n, s:n}", "group", cps[i].group->name, "ever", 0,
                               "breaks", "why");
                json_object_set_new(pc, cps[i].group->name, pg);
            }
            int ok = json_is_true(json_object_get(r, "connected"));
            json_array_append_new(results,
                                  json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s?}", "client", key,
                                            "group", cps[i].group->name, "date", cps[i].date,
                                            "phase", cps[i].phase, "scenario", cps[i].scenario,
                                            "connected", ok, "error",
                                            ok ? NULL : short_error(r)));
            if (ok && json_is_null(json_object_get(pg, "breaks")))
                json_object_set_new(pg, "ever", json_true());
            if (!ok && json_is_null(json_object_get(pg, "breaks"))) {
                json_object_set_new(pg, "breaks", json_string(cps[i].date));
                json_object_set_new(pg, "why",
                                    json_sprintf("%s chain %s (%s): %s",
                                                 strcmp(cps[i].phase, "before") == 0 ? "old"
                                                                                      : "new",
                                                 cps[i].scenario,
                                                 strcmp(cps[i].phase, "horizon") == 0
                                                     ? "at the horizon"
                                                     : strcmp(cps[i].phase, "after") == 0
                                                           ? "served from this day"
                                                           : "served until the next day",
                                                 short_error(r)));
            }
        }
        json_decref(rows);
    }
    /* The table, on stdout and in timeline.md. */
    {
        char *md_path = str_printf("%s/timeline.md", out_dir), *js_path;
        const char *key;
        json_t *pc;
        md = md_path ? fopen(md_path, "w") : NULL;
        free(md_path);
        if (md)
            fprintf(md, "# Timeline\n\nconninfo `%s`, store `%s`, sslmode `%s`, calendar %s "
                        "(horizon %s)\n\n| client | group | verdict |\n|---|---|---|\n",
                    conninfo, store, sslmode, cal->version, cal->horizon);
        printf("calendar %s, store %s, sslmode %s\n", cal->version, store, sslmode);
        json_object_foreach(per_client, key, pc)
        {
            const char *gname;
            json_t *pg;
            json_object_foreach(pc, gname, pg)
            {
                const char *br = json_string_value(json_object_get(pg, "breaks"));
                char line[1024];
                if (!br)
                    snprintf(line, sizeof(line), "survives through %s", cal->horizon);
                else if (!json_is_true(json_object_get(pg, "ever")))
                    snprintf(line, sizeof(line), "never connects (from %s: %s)", br,
                             json_string_value(json_object_get(pg, "why")));
                else
                    snprintf(line, sizeof(line), "breaks %s: %s", br,
                             json_string_value(json_object_get(pg, "why")));
                if (br)
                    any_break = 1;
                json_object_set_new(pg, "verdict", json_string(line));
                printf("%-40.40s  %-24s  %s\n", key, gname, line);
                if (md)
                    fprintf(md, "| %s | %s | %s |\n", key, gname, line);
            }
        }
        if (md) {
            fclose(md);
            md = NULL;
        }
        js_path = str_printf("%s/timeline.json", out_dir);
        json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O}", "calendar", cal->version,
                                "horizon", cal->horizon, "conninfo", conninfo, "store", store,
                                "sslmode", sslmode, "clients", per_client, "checkpoints", results);
        if (!js_path || !doc || json_dump_file(doc, js_path, JSON_INDENT(2)) < 0) {
            json_decref(doc);
            free(js_path);
            err_set(&err, PGTLS_ERR_IO, "cannot write %s/timeline.json", out_dir);
            goto fail;
        }
        json_decref(doc);
        printf("report: %s/timeline.md (timeline.json, one run folder per checkpoint)\n", out_dir);
        free(js_path);
    }
    status = any_break ? 1 : 0;
    goto out;
fail:
    fprintf(stderr, "pgtls timeline: %s\n", err.msg);
    status = err_exit_status(err.code) == 1 ? 1 : 2;
out:
    if (md)
        fclose(md);
    json_decref(results);
    json_decref(per_client);
    fx_index_free(idx);
    st_calendar_free(cal);
    free(out_default);
    free(fx_dir);
    free(sslmode_own);
    free(rootcert_own);
    return status;
}
