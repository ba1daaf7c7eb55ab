/* pgtls certs-gen: generation and re-verification of a fixtures folder. */
#include "ca.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ca_internal.h"
#include "fixtures.h"
#include "fs.h"
#include "paths.h"
#include "pgtls-config.h"

const char *ca_default_catalogue(void)
{
    static char path[PATH_MAX];
    const char *env = getenv("PGTLS_CATALOGUE");

    if (env && *env)
        return env;
    /* The build tree's source, or <prefix>/share/pgtls once installed. */
    snprintf(path, sizeof(path), "%s/certs-gen/catalogue.ini", pgtls_data_root());
    return path;
}

/* Moves the finished temporary folder over out_dir; the previous content is
 * removed only once the new one is in place. */
static int swap_into_place(const char *tmp, const char *out_dir, pgtls_err *err)
{
    char *old = NULL;
    int result = -1;

    if (fs_exists(out_dir)) {
        old = str_printf("%s.old-%ld", out_dir, (long)getpid());
        ENSURE(old, err, PGTLS_ERR_NOMEM, "out of memory");
        TRY(fs_remove_tree(old, err));
        ENSURE(rename(out_dir, old) == 0, err, PGTLS_ERR_IO,
               "cannot move the previous %s aside: %s (check permissions or choose another "
               "--out)",
               out_dir, strerror(errno));
    }
    if (rename(tmp, out_dir) != 0) {
        int e = errno;
        if (old)
            rename(old, out_dir);
        err_set(err, PGTLS_ERR_IO, "cannot rename %s to %s: %s (choose another --out)", tmp,
                out_dir, strerror(e));
        goto out;
    }
    if (old)
        fs_remove_tree(old, err);
    err_clear(err);
    result = 0;
out:
    free(old);
    return result;
}

/* 1 if dir may be replaced: absent, empty, or a previous fixtures folder.
 * Anything else (`--out ~` by mistake) is refused, never renamed away. */
static int replaceable(const char *dir)
{
    char *index = fs_join(dir, "index.json");
    DIR *d;
    struct dirent *de;
    int ok = 0;
    if (!fs_exists(dir)) {
        free(index);
        return 1;
    }
    if (index && fs_exists(index)) {
        free(index);
        return 1;
    }
    free(index);
    d = opendir(dir);
    if (!d)
        return 0;
    ok = 1;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            ok = 0;
    closedir(d);
    return ok;
}

int ca_as_of_parse(const char *text, time_t *out, pgtls_err *err)
{
    ca_when w;
    char buf[40];
    size_t n = text ? strlen(text) : 0;

    /* A bare date means noon UTC of that day: an expiry at 23:59:59 that day
     * has not happened yet, one the day before has. */
    if (n == 10)
        snprintf(buf, sizeof(buf), "%sT12:00:00Z", text);
    else
        snprintf(buf, sizeof(buf), "%s", text ? text : "");
    if (n == 0 || n >= sizeof(buf) || ca_when_parse(buf, &w) < 0 || w.relative)
        return err_set(err, PGTLS_ERR_USAGE,
                       "--as-of '%s' is not a date (write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)",
                       text ? text : "");
    if (w.value >= CA_AS_OF_MAX)
        return err_set(err, PGTLS_ERR_USAGE,
                       "--as-of %s is after 2050 (the fixtures are not dated that far: choose "
                       "a date up to 2050-12-31)",
                       text);
    *out = (time_t)w.value;
    return 0;
}

static int as_of_check(const ca_catalogue *cat, time_t as_of, pgtls_err *err)
{
    const ca_cert *first = NULL;
    for (size_t i = 0; i < cat->num_certs; i++) {
        const ca_cert *c = &cat->certs[i];
        if (!c->nb.relative && (!first || c->nb.value < first->nb.value))
            first = c;
    }
    if (first && (long long)as_of < first->nb.value) {
        char day[32];
        time_t t = (time_t)first->nb.value;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(day, sizeof(day), "%Y-%m-%d", &tm);
        return err_set(err, PGTLS_ERR_USAGE,
                       "--as-of is before the fixtures' earliest not-before (%s, certificate "
                       "'%s'): choose a date from %s on",
                       day, first->name, day);
    }
    return 0;
}

int ca_gen(const char *catalogue, const char *out_dir, const char *key_cache, pgtls_err *err)
{
    return ca_gen_as_of(catalogue, out_dir, key_cache, 0, err);
}

int ca_gen_as_of(const char *catalogue, const char *out_dir, const char *key_cache, time_t as_of,
                 pgtls_err *err)
{
    ca_catalogue *cat = NULL;
    char *cache = NULL, *tmp = NULL, *parent = NULL, *slash;
    time_t now = time(NULL);
    int result = -1;

    if (!catalogue)
        catalogue = ca_default_catalogue();
    if (!out_dir)
        out_dir = "out/fixtures";
    ENSURE(replaceable(out_dir), err, PGTLS_ERR_USAGE,
           "%s exists and is not a fixtures folder (no index.json): choose another --out or "
           "empty it first",
           out_dir);
    cat = ca_catalogue_load(catalogue, err);
    if (!cat)
        goto out;
    if (as_of) {
        TRY(as_of_check(cat, as_of, err));
        cat->as_of = as_of;
        cat->as_of_shift = (long long)now - (long long)as_of;
    }
    cache = key_cache ? strdup(key_cache) : ca_keys_default_cache(cat->name);
    ENSURE(cache, err, PGTLS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < cat->num_keys; i++)
        TRY(ca_key_load(&cat->keys[i], cache, err));
    TRY(ca_build_all(cat, now, err));

    /* Temp folder next to out_dir (same file system, so rename is atomic). */
    parent = strdup(out_dir);
    ENSURE(parent, err, PGTLS_ERR_NOMEM, "out of memory");
    while (strlen(parent) > 1 && parent[strlen(parent) - 1] == '/')
        parent[strlen(parent) - 1] = '\0';
    slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        if (fs_mkdir_p(parent, 0755, err) < 0) {
            err_prefix(err, "cannot create the output folder's parent (choose a writable --out)");
            goto out;
        }
    }
    tmp = str_printf("%s.tmp-XXXXXX", out_dir);
    ENSURE(tmp, err, PGTLS_ERR_NOMEM, "out of memory");
    if (!mkdtemp(tmp)) {
        err_set(err, PGTLS_ERR_IO,
                "cannot create a temporary folder next to %s: %s (choose a writable --out)",
                out_dir, strerror(errno));
        free(tmp);
        tmp = NULL;
        goto out;
    }
    chmod(tmp, 0755);
    TRY(ca_write_fixtures(cat, tmp, now, err));
    TRY(swap_into_place(tmp, out_dir, err));
    free(tmp);
    tmp = NULL;
    result = 0;
out:
    if (tmp) {
        pgtls_err ignored;
        fs_remove_tree(tmp, &ignored);
        free(tmp);
    }
    free(parent);
    free(cache);
    ca_catalogue_free(cat);
    return result;
}

int ca_gen_if_stale(const char *catalogue, const char *out_dir, const char *key_cache,
                    long max_age_s, pgtls_err *err)
{
    return ca_gen_if_stale_as_of(catalogue, out_dir, key_cache, max_age_s, 0, err);
}

int ca_gen_if_stale_as_of(const char *catalogue, const char *out_dir, const char *key_cache,
                          long max_age_s, time_t as_of, pgtls_err *err)
{
    char *index_path = NULL, *text = NULL, *own_cat = NULL;
    size_t text_len = 0;
    json_t *idx = NULL;
    int fresh = 0, rc;

    index_path = fs_join(out_dir, "index.json");
    if (!catalogue && index_path && fs_exists(index_path)) {
        /* a folder generated from another catalogue (a user's, or one made
         * by `pgtls ca clone --out`) is regenerated from that catalogue */
        json_error_t jerr;
        json_t *prev = json_load_file(index_path, 0, &jerr);
        const char *prev_cat = json_string_value(json_object_get(prev, "catalogue"));
        if (prev_cat && fs_exists(prev_cat))
            catalogue = own_cat = strdup(prev_cat);
        json_decref(prev);
    }
    if (!catalogue)
        catalogue = ca_default_catalogue();
    if (index_path && fs_exists(index_path) &&
        fs_read_file(catalogue, 4 << 20, &text, &text_len, err) == 0) {
        json_error_t jerr;
        idx = json_load_file(index_path, 0, &jerr);
        if (idx) {
            unsigned char md[32];
            char hexmd[65], when_s[32];
            const char *sha = json_string_value(json_object_get(idx, "catalogue_sha256"));
            const char *when = json_string_value(json_object_get(idx, "generated_at"));
            const char *prev_as_of = json_string_value(json_object_get(idx, "as_of"));
            char want_as_of[32] = "";
            ca_when w;
            if (as_of) {
                struct tm tm;
                gmtime_r(&as_of, &tm);
                strftime(want_as_of, sizeof(want_as_of), "%Y-%m-%dT%H:%M:%SZ", &tm);
            }
            EVP_Digest(text, text_len, md, NULL, EVP_sha256(), NULL);
            for (int i = 0; i < 32; i++)
                snprintf(hexmd + 2 * i, 3, "%02x", md[i]);
            snprintf(when_s, sizeof(when_s), "%s", when ? when : "");
            if (sha && strcmp(sha, hexmd) == 0 && ca_when_parse(when_s, &w) == 0 && !w.relative &&
                time(NULL) - (time_t)w.value < max_age_s &&
                strcmp(prev_as_of ? prev_as_of : "", want_as_of) == 0)
                fresh = 1;
        }
    }
    err_clear(err);
    free(index_path);
    free(text);
    json_decref(idx);
    if (fresh) {
        free(own_cat);
        return 0;
    }
    rc = ca_gen_as_of(catalogue, out_dir, key_cache, as_of, err) < 0 ? -1 : 1;
    free(own_cat);
    return rc;
}

static STACK_OF(X509) * load_pem_certs(const char *path, pgtls_err *err)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    BIO *bio = BIO_new_file(path, "r");
    X509 *x;
    if (!sk || !bio) {
        err_set(err, PGTLS_ERR_IO, "cannot read %s (regenerate with 'pgtls ca gen')", path);
        sk_X509_free(sk);
        BIO_free(bio);
        return NULL;
    }
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        sk_X509_push(sk, x);
    ERR_clear_error();
    BIO_free(bio);
    return sk;
}

int ca_verify_fixtures(const char *fixtures_dir, void *report, pgtls_err *err)
{
    FILE *out = report;
    fx_index *idx = fx_index_load(fixtures_dir, err);
    int mismatches = 0, checked = 0;
    STACK_OF(X509) **stores = NULL;

    if (!idx)
        return -1;
    stores = calloc(fx_num_stores(idx) + 1, sizeof(*stores));
    if (!stores) {
        fx_index_free(idx);
        return err_set(err, PGTLS_ERR_NOMEM, "out of memory");
    }
    for (size_t j = 0; j < fx_num_stores(idx); j++) {
        const fx_store *st = fx_store_at(idx, j);
        if (strcmp(st->kind, "missing") != 0 && strcmp(st->kind, "empty") != 0)
            stores[j] = load_pem_certs(st->pem, err);
    }
    for (size_t i = 0; i < fx_num_scenarios(idx); i++) {
        const fx_scenario *sc = fx_scenario_at(idx, i);
        STACK_OF(X509) * chain;
        int match;
        if (!sc->chain_pem)
            continue;
        chain = load_pem_certs(sc->chain_pem, err);
        if (!chain || sk_X509_num(chain) == 0) {
            if (out)
                fprintf(out, "%s: chain %s has no certificates\n", sc->name, sc->chain_pem);
            mismatches++;
            sk_X509_pop_free(chain, X509_free);
            continue;
        }
        match = ca_host_matches(sk_X509_value(chain, 0), sc->host);
        checked++;
        if (match != sc->host_match) {
            mismatches++;
            if (out)
                fprintf(out, "%s: host_match declared %s, libpq's rules say %s for host %s\n",
                        sc->name, sc->host_match ? "true" : "false", match ? "true" : "false",
                        sc->host);
        }
        for (size_t j = 0; j < fx_num_stores(idx); j++) {
            const fx_store *st = fx_store_at(idx, j);
            const char *declared = fx_scenario_verify(sc, st->name);
            char actual[160];
            if (!declared)
                continue;
            if (strcmp(st->kind, "missing") == 0)
                snprintf(actual, sizeof(actual), "%s",
                         fs_exists(st->pem) ? "file-exists" : "no-file");
            else if (strcmp(st->kind, "empty") == 0 || !stores[j] || sk_X509_num(stores[j]) == 0)
                snprintf(actual, sizeof(actual), "no-file");
            else if (ca_verify_chain(chain, stores[j], 0, actual, sizeof(actual), err) < 0)
                snprintf(actual, sizeof(actual), "error:%.150s", err->msg);
            checked++;
            if (strcmp(actual, declared) != 0) {
                mismatches++;
                if (out)
                    fprintf(out, "%s with store %s: declared %s, X509_verify_cert says %s\n",
                            sc->name, st->name, declared, actual);
            } else if (st->system_dir) {
                /* the SSL_CERT_DIR form of a system store must agree */
                if (ca_verify_chain_dir(chain, st->system_dir, 0, actual, sizeof(actual), err) < 0)
                    snprintf(actual, sizeof(actual), "error:%.150s", err->msg);
                if (strcmp(actual, declared) != 0) {
                    mismatches++;
                    if (out)
                        fprintf(out,
                                "%s with store %s (hashed dir %s): declared %s, "
                                "X509_verify_cert says %s\n",
                                sc->name, st->name, st->system_dir, declared, actual);
                }
            }
        }
        sk_X509_pop_free(chain, X509_free);
    }
    for (size_t j = 0; j < fx_num_stores(idx); j++)
        sk_X509_pop_free(stores[j], X509_free);
    free(stores);
    fx_index_free(idx);
    err_clear(err);
    if (checked == 0) {
        return err_set(err, PGTLS_ERR_INPUT, "%s declares nothing to verify", fixtures_dir);
    }
    return mismatches;
}
