/* pgtls runner: `pgtls repro --conninfo ...`, a customer's failure offline.
 *
 * From what support receives (the connection string, the trust store the
 * client uses, maybe the chain the server sent) it builds the customer's
 * world over the look-alike fixtures: the store translated certificate by
 * certificate (ca_translate_store), the host name of the connection string
 * served by the mock on loopback, and runs the named clients (or every
 * installed one) with the customer's sslmode against the old, new, short and
 * cross-signed Azure chains (or the captured chain, cloned). It runs the
 * matrix through `pgtls run` (same isolation, same classification), then
 * prints per client: works today / breaks after the rotation / why (class
 * and raw error) / the fix, in the Azure pages' words. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ca.h"
#include "fs.h"
#include "rn.h"
#include "rn_conninfo.h"

static const struct chain_alias {
    const char *name, *scenario, *what;
    int rotation; /* 1: old or new, what the verdict is about */
} chain_aliases[] = {
    {"old", "azure-old", "old chain (ICA 03 via DigiCert Global Root G2)", 1},
    {"new", "azure-new", "new chain (OCSP 02 + cross-signed Microsoft TLS RSA Root G2)", 1},
    {"short", "azure-new-short", "new chain without the cross certificate", 0},
    {"cross", "azure-new-expired-cross", "new chain with an expired cross certificate", 0},
};

#define NUM_ALIASES (sizeof(chain_aliases) / sizeof(*chain_aliases))

typedef struct chain_pick {
    const char *label; /* "old", ..., or the file name */
    const char *scenario;
    const char *what;
    int rotation;
} chain_pick;

static const char *first_line(const char *s, char *buf, size_t len)
{
    size_t n = s ? strcspn(s, "\n") : 0;
    snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), s ? s : "");
    return buf;
}

/* The fix, from the verdict lines of `ca inspect` over the customer's store
 * and the sslmode, in the Azure pages' words. */
static void print_fix(const char *inspect_out, const char *sslmode, int any_break)
{
    int said = 0;
    printf("fix:\n");
    if (inspect_out && strstr(inspect_out, "pinned intermediate (unsupported)")) {
        printf("  - remove the pinned intermediate: Azure rotates intermediate CAs without "
               "notice and pinning them is not supported; remove every certificate from the "
               "trust store and add the recommended root CAs (DigiCert Global Root G2 and "
               "Microsoft RSA Root Certificate Authority 2017)\n");
        said++;
    }
    if (inspect_out && strstr(inspect_out, "pinned server certificate (unsupported)")) {
        printf("  - remove the pinned server certificate: individual server certificates in "
               "the trust store are not supported; trust the recommended root CAs instead\n");
        said++;
    }
    if (inspect_out && strstr(inspect_out, "missing a needed root")) {
        printf("  - keep the full root set: add DigiCert Global Root G2 and Microsoft RSA Root "
               "Certificate Authority 2017 (plus DigiCert Global Root CA for China regions and "
               "replicas) to the trust store\n");
        said++;
    }
    if (strcmp(sslmode, "verify-full") != 0) {
        printf("  - use sslmode=verify-full%s\n",
               strcmp(sslmode, "verify-ca") == 0
                   ? " (verify-ca does not check the host name)"
                   : " (without it the client does not check the server's certificate, so "
                     "rotations do not break it, but nothing protects the connection)");
        said++;
    }
    if (!said)
        printf("  - nothing to change for the old and new chains%s\n",
               any_break ? " in the trust store: see the client's error above" : "");
}

static int write_suite(const char *path, const chain_pick *picks, size_t num_picks,
                       const char *store, const char *sslmode, pgtls_err *err)
{
    FILE *f = fopen(path, "w");
    int result = -1;
    ENSURE(f, err, PGTLS_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    fprintf(f, "[suite]\nname = customer-repro\ndescription = a customer's connection string "
               "and trust store\n\n[customer]\nscenarios =");
    for (size_t i = 0; i < num_picks; i++)
        fprintf(f, " %s", picks[i].scenario);
    fprintf(f, "\nstores = %s\nsslmodes = %s\n", store, sslmode);
    result = 0;
out:
    if (f && fclose(f) != 0 && result == 0)
        result = err_set(err, PGTLS_ERR_IO, "cannot write %s", path);
    return result;
}

int rn_repro_customer(const rn_customer_options *o, pgtls_err *err)
{
    rn_conninfo ci = {0};
    chain_pick picks[NUM_ALIASES + 2];
    size_t num_picks = 0;
    char *work = NULL, *overlay = NULL, *suite = NULL, *out_dir = NULL, *matrix_path = NULL;
    char *sout = NULL, *serr = NULL, *inspect_text = NULL, self[PATH_MAX];
    const char *store = NULL, *store_name = "none", *world = o->fixtures_dir;
    char *captured = NULL, *world_dir = NULL, *catalogue = NULL;
    json_t *matrix = NULL;
    int status = 2, wstatus = 0, any_break = 0, inconclusive = 0, short_break = 0;
    const char *tmp = getenv("TMPDIR");

    if (rn_conninfo_parse(o->conninfo, &ci, err) < 0)
        goto out;
    printf("connection: %s, host %s, sslmode %s, sslrootcert %s\n", ci.form, ci.host, ci.sslmode,
           ci.sslrootcert ? ci.sslrootcert : "(unset)");
    if (ci.note)
        printf("  (%s)\n", ci.note);

    /* which chains */
    if (!o->chain) {
        for (size_t i = 0; i < NUM_ALIASES; i++)
            picks[num_picks++] =
                (chain_pick){chain_aliases[i].name, chain_aliases[i].scenario,
                             chain_aliases[i].what, chain_aliases[i].rotation};
    } else {
        /* a comma-separated list of aliases */
        const char *p = o->chain;
        while (*p) {
            size_t len = strcspn(p, ","), i;
            for (i = 0; i < NUM_ALIASES; i++)
                if (strlen(chain_aliases[i].name) == len &&
                    strncmp(p, chain_aliases[i].name, len) == 0)
                    break;
            if (i == NUM_ALIASES) {
                /* not an alias: the chain the customer captured */
                free(captured);
                captured = strndup(p, len);
                ENSURE(captured, err, PGTLS_ERR_NOMEM, "out of memory");
                ENSURE(fs_exists(captured), err, PGTLS_ERR_USAGE,
                       "--chain %s: old, new, short, cross, or a captured chain file (PEM or "
                       "'openssl s_client -showcerts' output) that exists",
                       captured);
                p += len;
                if (*p == ',')
                    p++;
                continue;
            }
            ENSURE(num_picks < NUM_ALIASES, err, PGTLS_ERR_USAGE, "--chain: each chain once");
            /* a chain named explicitly counts for the exit status */
            picks[num_picks++] = (chain_pick){chain_aliases[i].name, chain_aliases[i].scenario,
                                              chain_aliases[i].what, 1};
            p += len;
            if (*p == ',')
                p++;
        }
        ENSURE(num_picks > 0 || captured, err, PGTLS_ERR_USAGE,
               "--chain needs old, new, short, cross or a captured chain file");
    }

    /* which store */
    store = o->store ? o->store : ci.sslrootcert;
    if (store && strcmp(store, "system") == 0) {
        store_name = "system";
        store = NULL;
        printf("store: sslrootcert=system, the OS store (its real roots have look-alike twins "
               "in the fixtures' system store)\n");
    } else if (store) {
        ENSURE(fs_exists(store), err, PGTLS_ERR_INPUT,
               "trust store %s does not exist (pass the customer's file with --store FILE)",
               store);
        store_name = "customer";
    } else if (strcmp(ci.sslmode, "verify-ca") == 0 || strcmp(ci.sslmode, "verify-full") == 0) {
        err_set(err, PGTLS_ERR_INPUT,
                "sslmode=%s without sslrootcert reads ~/.postgresql/root.crt: pass that file "
                "with --store FILE",
                ci.sslmode);
        goto out;
    }

    work = str_printf("%s/pgtls-customer-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ENSURE(work && mkdtemp(work), err, PGTLS_ERR_IO, "cannot create a temporary folder");
    overlay = fs_join(work, "fixtures");
    suite = fs_join(work, "customer.suite");
    out_dir = fs_join(work, "run");
    ENSURE(overlay && suite && out_dir, err, PGTLS_ERR_NOMEM, "out of memory");
    TRY(fs_mkdir_p(overlay, 0755, err));

    {
        if (o->regen)
            TRY(ca_gen_if_stale(NULL, o->fixtures_dir, NULL, 3600, err));
        if (captured) {
            /* the captured chain joins the fixtures' world: its catalogue
             * plus the clone's sections, generated into one folder */
            char *sections = NULL, *shipped = NULL, *both = NULL;
            size_t sections_len = 0, shipped_len = 0;
            const char *cat_path = NULL;
            FILE *mem = open_memstream(&sections, &sections_len);
            fx_index *idx = fx_index_load(o->fixtures_dir, err);
            int rc;
            ENSURE(mem, err, PGTLS_ERR_NOMEM, "out of memory");
            rc = idx ? ca_clone_into_world(captured, "captured", o->fixtures_dir, mem, err) : -1;
            fclose(mem);
            if (idx)
                cat_path = json_string_value(json_object_get(fx_index_json(idx), "catalogue"));
            if (!cat_path || !fs_exists(cat_path))
                cat_path = ca_default_catalogue();
            if (rc == 0)
                rc = fs_read_file(cat_path, 4 << 20, &shipped, &shipped_len, err);
            fx_index_free(idx);
            if (rc == 0) {
                both = str_printf("%s\n%s", shipped, sections);
                catalogue = fs_join(work, "catalogue.ini");
                world_dir = fs_join(work, "world");
                rc = both && catalogue && world_dir
                         ? fs_write_file(catalogue, both, strlen(both), 0644, err)
                         : err_set(err, PGTLS_ERR_NOMEM, "out of memory");
            }
            free(both);
            free(shipped);
            free(sections);
            TRY(rc);
            printf("captured chain %s: cloned with our keys into the fixtures' world\n", captured);
            TRY(ca_gen(catalogue, world_dir, NULL, err));
            world = world_dir;
            picks[num_picks++] = (chain_pick){strrchr(captured, '/') ? strrchr(captured, '/') + 1
                                                                     : captured,
                                              "captured",
                                              "the captured chain, cloned with our keys", 1};
        }
        printf("\n");
        TRY(ca_translate_store(store_name[0] == 'c' ? store : NULL, o->password, world, ci.host,
                               overlay, stdout, err));
    }
    if (store) {
        /* the verdict on the customer's real store, for the fix */
        size_t len = 0;
        FILE *mem = open_memstream(&inspect_text, &len);
        pgtls_err ierr;
        err_clear(&ierr);
        if (mem) {
            ca_inspect_store(store, o->password, NULL, world, mem, &ierr);
            fclose(mem);
        }
    }
    TRY(write_suite(suite, picks, num_picks, store_name, ci.sslmode, err));

    {
        /* the matrix through `pgtls run`, this very binary */
        char *argv[20], timeout_s[16];
        int n = 0;
        ssize_t self_len = readlink("/proc/self/exe", self, sizeof(self) - 1);
        ENSURE(self_len > 0, err, PGTLS_ERR_IO, "cannot find the pgtls binary");
        self[self_len] = '\0';
        argv[n++] = self;
        argv[n++] = "run";
        argv[n++] = "--fixtures";
        argv[n++] = overlay;
        argv[n++] = "--no-gen";
        argv[n++] = "--suite";
        argv[n++] = suite;
        argv[n++] = "--out";
        argv[n++] = out_dir;
        snprintf(timeout_s, sizeof(timeout_s), "%d", o->timeout_ms > 0 ? o->timeout_ms : 10000);
        argv[n++] = "--timeout-ms";
        argv[n++] = timeout_s;
        if (o->clients && strcmp(o->clients, "all") != 0) {
            argv[n++] = "--clients";
            argv[n++] = (char *)o->clients;
        }
        if (o->clients_dir) {
            argv[n++] = "--clients-dir";
            argv[n++] = (char *)o->clients_dir;
        }
        argv[n] = NULL;
        printf("\nrunning the clients against the mock on 127.0.0.1 as %s ...\n", ci.host);
        fflush(stdout);
        TRY(rn_run_collect(argv, NULL, 900000, &sout, &serr, &wstatus, err));
        if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) == 2) {
            char line[512];
            err_set(err, PGTLS_ERR_USAGE, "%s",
                    first_line(serr && *serr ? serr : sout, line, sizeof(line)));
            goto out;
        }
    }

    matrix_path = fs_join(out_dir, "matrix.json");
    {
        json_error_t jerr;
        matrix = matrix_path ? json_load_file(matrix_path, 0, &jerr) : NULL;
        ENSURE(matrix, err, PGTLS_ERR_IO, "the run wrote no matrix (%s)",
               matrix_path ? matrix_path : "?");
    }
    {
        json_t *clients = json_object_get(matrix, "clients"), *cl, *cases = json_object_get(matrix, "cases");
        size_t ci_i;
        json_array_foreach(clients, ci_i, cl)
        {
            const char *key = json_string_value(json_object_get(cl, "key"));
            int today = -1, after = -1, other_break = 0, client_inconclusive = 0;
            printf("\n%s\n", key ? key : "?");
            for (size_t p = 0; p < num_picks; p++) {
                char id[256], line[400];
                json_t *c, *r = NULL;
                size_t k;
                snprintf(id, sizeof(id), "%s/%s/%s", picks[p].scenario, store_name, ci.sslmode);
                json_array_foreach(cases, k, c)
                {
                    if (strcmp(json_string_value(json_object_get(c, "id")), id) == 0)
                        r = json_object_get(json_object_get(c, "results"), key ? key : "");
                }
                if (!r) {
                    printf("  %-6s no result\n", picks[p].label);
                    continue;
                }
                int connected = json_is_true(json_object_get(r, "connected"));
                const char *obs = json_string_value(json_object_get(r, "observed"));
                int unsupported = obs && strcmp(obs, "unsupported") == 0;
                if (obs && (strcmp(obs, "timeout") == 0 || strcmp(obs, "client-crashed") == 0)) {
                    /* not a TLS outcome: say so rather than call it a break */
                    printf("  %-6s INCONCLUSIVE (%s)  %s\n         %s\n", picks[p].label, obs,
                           picks[p].what,
                           first_line(json_string_value(json_object_get(r, "error")), line,
                                      sizeof(line)));
                    inconclusive++;
                    client_inconclusive = 1;
                    continue;
                }
                if (unsupported) {
                    printf("  %-6s unsupported: %s\n", picks[p].label,
                           first_line(json_string_value(json_object_get(r, "error")), line,
                                      sizeof(line)));
                    continue;
                }
                if (connected)
                    printf("  %-6s connects        %s\n", picks[p].label, picks[p].what);
                else
                    printf("  %-6s FAILS (%s)  %s\n         %s\n", picks[p].label,
                           obs ? obs : "?", picks[p].what,
                           first_line(json_string_value(json_object_get(r, "error")), line,
                                      sizeof(line)));
                if (strcmp(picks[p].scenario, "azure-old") == 0)
                    today = connected;
                else if (strcmp(picks[p].scenario, "azure-new") == 0 ||
                         strcmp(picks[p].scenario, "captured") == 0)
                    after = connected;
                if (!connected && picks[p].rotation)
                    any_break = 1;
                if (!connected && !picks[p].rotation)
                    other_break = 1;
                if (!connected && strcmp(picks[p].scenario, "azure-new-short") == 0)
                    short_break = 1;
            }
            if (client_inconclusive)
                printf("  verdict: inconclusive: the client did not answer in time or died "
                       "(rerun it alone with --client NAME, or with a larger --timeout-ms)\n");
            else if (today == 1 && after == 0)
                printf("  verdict: works today, BREAKS after the rotation\n");
            else if (today == 0)
                printf("  verdict: already broken today\n");
            else if (today == 1 && after == 1)
                printf("  verdict: works today and after the rotation%s\n",
                       other_break ? " (but not on every variant above)" : "");
            else if (after == 0)
                printf("  verdict: breaks on the captured chain\n");
            else if (after == 1)
                printf("  verdict: connects with the captured chain\n");
        }
        if (json_array_size(clients) == 0)
            printf("\nno client ran (see 'pgtls clients')\n");
    }
    printf("\n");
    print_fix(inspect_text, ci.sslmode, any_break);
    if (short_break)
        printf("  - only for front-ends that send the new chain without the cross certificate: "
               "add the self-signed Microsoft TLS RSA Root G2 too (or let the client fetch the "
               "issuer by AIA)\n");
    if (inspect_text) {
        const char *v = strstr(inspect_text, "verdict:\n");
        const char *end = v ? strstr(v, "result:") : NULL;
        if (v)
            printf("store verdict (pgtls ca inspect %s):\n%.*s", store,
                   (int)(end ? end - v - 9 : (long)strlen(v) - 9), v + 9);
    }
    if (o->keep_temp)
        printf("kept: %s (fixtures overlay, suite, run/matrix.json)\n", work);
    if (inconclusive)
        printf("%d run(s) inconclusive (timeout or crash): not counted as a break or a pass\n",
               inconclusive);
    status = any_break || inconclusive ? 1 : 0;
out:
    if (work && !o->keep_temp) {
        pgtls_err ignore;
        fs_remove_tree(work, &ignore);
    }
    rn_conninfo_cleanup(&ci);
    json_decref(matrix);
    free(captured);
    free(world_dir);
    free(catalogue);
    free(work);
    free(overlay);
    free(suite);
    free(out_dir);
    free(matrix_path);
    free(sout);
    free(serr);
    free(inspect_text);
    return status;
}
