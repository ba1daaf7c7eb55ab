/* pgtls fuzz target for the mock server's parsers (libFuzzer entry point).
 *
 * The first byte picks what the rest feeds:
 *   0-3  a whole session over the memory transport (auth trust, password,
 *        md5, scram-sha-256), i.e. every parser in protocol order;
 *   4    ms_startup_parse;
 *   5    every frontend message parser;
 *   6    SCRAM client-first then client-final (split at the first '\n');
 *   7    ms_query_run (describe and execute) and ms_query_split.
 * Every input must end without a crash, a leak or undefined behaviour. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ms_conn.h"
#include "ms_query.h"
#include "ms_scram.h"
#include "ms_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_session(int mode, const uint8_t *p, size_t n)
{
    static const char *const auth[] = {"trust", "password", "md5", "scram-sha-256"};
    ms_profile *prof = ms_profile_new_plain(auth[mode], "pgtls", "pw", mode == 3);
    ms_memio mio;
    ms_event ev;
    char *json;
    if (!prof)
        return;
    memset(&mio, 0, sizeof(mio));
    mio.md5_salt = 0x01020304;
    ms_session_run_memory(prof, p, n, &mio, &ev);
    json = ms_event_json(&ev);
    free(json);
    ms_buf_cleanup(&mio.out);
    ms_profile_unref(prof);
}

static void fuzz_frontend(const uint8_t *p, size_t n)
{
    ms_pgerr e;
    const char *s, *mech;
    const uint8_t *d;
    int32_t dl;
    ms_fe_parse fp;
    ms_fe_bind fb;
    ms_fe_target ft;
    ms_fe_execute fx;
    (void)ms_fe_parse_query(p, n, &s, &e);
    (void)ms_fe_parse_parse(p, n, &fp, &e);
    (void)ms_fe_parse_bind(p, n, &fb, &e);
    (void)ms_fe_parse_target('D', p, n, &ft, &e);
    (void)ms_fe_parse_target('C', p, n, &ft, &e);
    (void)ms_fe_parse_execute(p, n, &fx, &e);
    (void)ms_fe_parse_password(p, n, &s, &e);
    (void)ms_fe_parse_sasl_initial(p, n, &mech, &d, &dl, &e);
}

static void fuzz_scram(const uint8_t *p, size_t n)
{
    static const uint8_t salt[16] = {1};
    static const uint8_t cb[32] = {2};
    const uint8_t *nl = memchr(p, '\n', n);
    size_t first_len = nl ? (size_t)(nl - p) : n;
    int tls = n > 0 && (p[0] & 1);
    ms_scram s;
    ms_buf out;
    ms_pgerr e;
    ms_buf_init(&out);
    /* 1 iteration keeps the fuzzer fast; the logic is the same. */
    if (ms_scram_init(&s, "pw", salt, 16, 1, "srvnonce", tls, cb, 32) == 0) {
        if (ms_scram_client_first(&s, tls ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256", p, first_len,
                                  &out, &e) == 0 &&
            nl)
            (void)ms_scram_client_final(&s, nl + 1, n - first_len - 1, &out, &e);
        ms_scram_cleanup(&s);
    }
    ms_buf_cleanup(&out);
}

static size_t no_rows(void *ud, ms_activity *rows, size_t max)
{
    (void)ud;
    if (!rows)
        return 1;
    if (max > 0) {
        memset(rows, 0, sizeof(*rows));
        rows[0].pid = 1;
        rows[0].ssl = 1;
    }
    return max > 0 ? 1 : 0;
}

static void fuzz_query(const uint8_t *p, size_t n)
{
    char *sql = malloc(n + 1), *parts[16];
    ms_settings st;
    ms_activity self;
    ms_qctx q;
    ms_result r;
    size_t k, np;
    if (!sql)
        return;
    memcpy(sql, p, n);
    sql[n] = 0;
    memset(&self, 0, sizeof(self));
    memset(&q, 0, sizeof(q));
    ms_settings_init(&st);
    q.settings = &st;
    q.pid = 1;
    q.ssl = 1;
    q.ssl_version = "TLSv1.3";
    q.ssl_cipher = "TLS_AES_128_GCM_SHA256";
    q.user = "u";
    q.database = "d";
    q.tx = 'I';
    q.activity = no_rows;
    q.self = &self;
    if (ms_query_run(&q, sql, 0, &r) == 0)
        ms_result_cleanup(&r);
    if (ms_query_run(&q, sql, 1, &r) == 0)
        ms_result_cleanup(&r);
    np = ms_query_split(sql, parts, 16);
    for (k = 0; k < np && k < 16; k++)
        free(parts[k]);
    free(sql);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_startup st;
    ms_pgerr e;
    if (size == 0)
        return 0;
    switch (data[0] & 7) {
    case 0:
    case 1:
    case 2:
    case 3:
        fuzz_session(data[0] & 3, data + 1, size - 1);
        break;
    case 4:
        (void)ms_startup_parse(data + 1, size - 1, &st, &e);
        break;
    case 5:
        fuzz_frontend(data + 1, size - 1);
        break;
    case 6:
        fuzz_scram(data + 1, size - 1);
        break;
    default:
        fuzz_query(data + 1, size - 1);
        break;
    }
    return 0;
}
