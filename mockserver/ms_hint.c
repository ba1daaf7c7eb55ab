/* pgtls mock: the ready-to-paste connection line printed per listener, so a
 * first `psql` against the mock connects (host name, hostaddr, port, user,
 * database, the root file that verifies the chain) and says where the
 * password is, without printing it. */
#include <stdio.h>
#include <string.h>

#include "fixtures.h"
#include "ms.h"

/* The value of key in the --set list (last one wins, as the server applies
 * them), else fallback. */
static const char *setting(const char *const *settings, const char *key, const char *fallback)
{
    const char *v = fallback;
    size_t n = strlen(key);
    for (size_t i = 0; settings && settings[i]; i++)
        if (strncmp(settings[i], key, n) == 0 && settings[i][n] == '=')
            v = settings[i] + n + 1;
    return v;
}

/* The store to print: the full Azure bundle when it verifies this scenario
 * (what the Azure pages recommend), else the first file store that does. */
static const fx_store *verifying_store(const fx_index *idx, const fx_scenario *sc)
{
    const char *v = fx_scenario_verify(sc, "azure-bundle");
    if (v && strcmp(v, "ok") == 0 && fx_store_find(idx, "azure-bundle"))
        return fx_store_find(idx, "azure-bundle");
    for (size_t i = 0; i < fx_num_stores(idx); i++) {
        const fx_store *st = fx_store_at(idx, i);
        v = fx_scenario_verify(sc, st->name);
        if (v && strcmp(v, "ok") == 0 && strcmp(st->kind, "system") != 0 &&
            strcmp(st->kind, "missing") != 0)
            return st;
    }
    return NULL;
}

void ms_print_connect_hint(FILE *f, const char *fixtures_dir, const char *scenario,
                           const char *addr, int port, const char *const *settings)
{
    pgtls_err err;
    fx_index *idx;
    const fx_scenario *sc;

    err_clear(&err);
    idx = fx_index_load(fixtures_dir, &err);
    if (!idx)
        return; /* the server itself loaded it; nothing useful to add */
    sc = fx_scenario_find(idx, scenario);
    if (!sc)
        goto out;
    const char *user = setting(settings, "user", sc->server.user);
    const char *auth = setting(settings, "auth", sc->server.auth);
    const char *ssl = setting(settings, "ssl", sc->server.ssl ? "on" : "off");
    const fx_store *st = sc->chain_pem ? verifying_store(idx, sc) : NULL;
    int tls = sc->chain_pem && strcmp(ssl, "off") != 0 && strcmp(ssl, "0") != 0;

    fprintf(f, "  connect: psql \"host=%s hostaddr=%s port=%d user=%s dbname=postgres", sc->host,
            addr, port, user);
    if (!tls)
        fprintf(f, " sslmode=disable\"\n");
    else if (st)
        fprintf(f, " sslmode=verify-full sslrootcert=%s\"\n", st->pem);
    else
        fprintf(f, " sslmode=require\"  (no store of these fixtures verifies this chain)\n");
    if (strcmp(auth, "trust") == 0)
        fprintf(f, "  password: none (auth trust)\n");
    else if (strcmp(auth, "entra") == 0)
        fprintf(f,
                "  password: for an Entra principal role (user pgtls-vm by default), an access "
                "token from 'pgtls imds --fixtures %s' (docs/entra.md); other roles keep their "
                "password\n",
                fx_index_dir(idx));
    else if (setting(settings, "password", NULL))
        fprintf(f, "  password: the one given with --set password=... (auth %s)\n", auth);
    else
        fprintf(f,
                "  password: scenarios.\"%s\".server.password in %s/index.json (auth %s),"
                " e.g. PGPASSWORD=\"$(jq -r '.scenarios[\"%s\"].server.password' %s/index.json)\"\n",
                scenario, fx_index_dir(idx), auth, scenario, fx_index_dir(idx));
out:
    fx_index_free(idx);
}
