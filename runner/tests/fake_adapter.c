/* pgtls runner tests: a fake adapter speaking docs/case-protocol.md, whose
 * misbehaviour is chosen by flags, to prove the supervisor's handling of
 * timeouts, crashes and garbage without a real client.
 *
 *   rn-fake-adapter [--hang ID] [--crash ID] [--garbage ID] [--extra-line ID] [--no-hello]
 *                   [--flood ID] (8 MiB on stdout without a newline, then waits)
 *                   [--exit ID]  (exits 0 without answering: gone mid-batch)
 *                   [--bad-hello] [--slow-hello MS] [--delay-ms MS] [--no-version]
 *                   [--describe]   (flags before --describe apply to it)
 *
 * Answers every other case {"id":ID,"connected":true,...,"pid":PID}. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *hello =
    "{\"protocol\":1,\"client\":\"fake\",\"version\":\"1.0\",\"libpq\":null,"
    "\"tls_library\":\"none\",\"runtime\":null,\"build\":\"fake 1.0\",\"features\":[]}";
static const char *hello_without_version =
    "{\"protocol\":1,\"client\":\"fake\",\"version\":null,\"libpq\":null}";

int main(int argc, char **argv)
{
    const char *hang = NULL, *crash = NULL, *garbage = NULL, *extra = NULL, *flood = NULL,
               *exit_at = NULL;
    int no_hello = 0, bad_hello = 0, slow_hello = 0, delay_ms = 0, no_version = 0;
    char line[65536];

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--hang") == 0 && i + 1 < argc)
            hang = argv[++i];
        else if (strcmp(argv[i], "--crash") == 0 && i + 1 < argc)
            crash = argv[++i];
        else if (strcmp(argv[i], "--extra-line") == 0 && i + 1 < argc)
            extra = argv[++i];
        else if (strcmp(argv[i], "--flood") == 0 && i + 1 < argc)
            flood = argv[++i];
        else if (strcmp(argv[i], "--exit") == 0 && i + 1 < argc)
            exit_at = argv[++i];
        else if (strcmp(argv[i], "--garbage") == 0 && i + 1 < argc)
            garbage = argv[++i];
        else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc)
            delay_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--slow-hello") == 0 && i + 1 < argc)
            slow_hello = atoi(argv[++i]);
        else if (strcmp(argv[i], "--no-version") == 0)
            no_version = 1;
        else if (strcmp(argv[i], "--no-hello") == 0)
            no_hello = 1;
        else if (strcmp(argv[i], "--bad-hello") == 0)
            bad_hello = 1;
        else if (strcmp(argv[i], "--describe") == 0) {
            if (no_hello) {
                fprintf(stderr, "fake: cannot load the driver\n");
                return 7;
            }
            printf("%s\n", no_version ? hello_without_version : hello);
            return 0;
        } else {
            fprintf(stderr, "fake: unknown flag %s\n", argv[i]);
            return 2;
        }
    }
    if (no_hello) {
        fprintf(stderr, "fake: cannot load the driver\n");
        return 7;
    }
    if (slow_hello)
        usleep((useconds_t)slow_hello * 1000);
    printf("%s\n", bad_hello ? "Picked up JAVA_TOOL_OPTIONS: nonsense" : hello);
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin)) {
        json_error_t jerr;
        json_t *c = json_loads(line, 0, &jerr);
        const char *id = c ? json_string_value(json_object_get(c, "id")) : NULL;
        if (delay_ms)
            usleep((useconds_t)delay_ms * 1000);
        if (!id) {
            printf(
                "{\"id\":null,\"connected\":false,\"error\":\"adapter: cannot parse case: %s\"}\n",
                jerr.text);
        } else if (hang && strcmp(id, hang) == 0) {
            fprintf(stderr, "fake: hanging on %s\n", id);
            for (;;)
                pause();
        } else if (crash && strcmp(id, crash) == 0) {
            fprintf(stderr, "fake: crashing on %s\n", id);
            fflush(stderr);
            abort();
        } else if (flood && strcmp(id, flood) == 0) {
            static char chunk[65536];
            memset(chunk, 'x', sizeof(chunk));
            for (int k = 0; k < 128; k++)
                if (fwrite(chunk, 1, sizeof(chunk), stdout) != sizeof(chunk))
                    break;
            fflush(stdout);
            for (;;)
                pause();
        } else if (exit_at && strcmp(id, exit_at) == 0) {
            fprintf(stderr, "fake: leaving mid-batch on %s\n", id);
            return 0;
        } else if (garbage && strcmp(id, garbage) == 0) {
            printf("Segmentation fault? no, just garbage\n");
        } else {
            json_t *r = json_pack("{s:s, s:b, s:b, s:s, s:n, s:i, s:I}", "id", id, "connected", 1,
                                  "tls", 1, "query_result", "t", "error", "elapsed_ms", 1, "pid",
                                  (json_int_t)getpid());
            /* Echo the environment the case asked for, so tests can check it. */
            json_object_set(r, "env", json_object_get(c, "env"));
            char *s = json_dumps(r, JSON_COMPACT);
            printf("%s\n", s);
            if (extra && strcmp(id, extra) == 0) /* answers this case twice */
                printf("%s\n", s);
            free(s);
            json_decref(r);
        }
        fflush(stdout);
        json_decref(c);
    }
    return 0;
}
