/* pgtls: the driver of a fuzz target when libFuzzer is not linked in (gcc
 * builds, and the ASan/UBSan build): it replays the seed corpus (every file
 * and its prefixes), then feeds seeded random mutations of it for a bounded
 * time, so every build and CI exercise each target (suite "fuzz").
 *
 *   fuzz-NAME [-max_total_time=S] [-runs=N] [-seed=N] CORPUS_DIR|FILE...
 *
 * Prints "fuzz-NAME: N executions (C corpus inputs) in S s". A crash or a
 * sanitizer report fails the test; a failing input can be replayed by
 * naming its file. Flags are libFuzzer's spelling, so the same test line
 * drives a libFuzzer build (-Dfuzzing=true, docs/fuzzing.md). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fuzz_util.h"

typedef struct {
    uint8_t *p;
    size_t n;
} input;

static input *corpus;
static size_t ncorpus, capcorpus;
static unsigned long long rng = 0x9e3779b97f4a7c15ULL;
static unsigned long long execs;

static unsigned rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (unsigned)((rng * 2685821657736338717ULL) >> 32);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(const uint8_t *p, size_t n)
{
    /* A private copy, so a read past the end is an ASan report. */
    uint8_t *c = malloc(n ? n : 1);
    if (!c)
        return;
    if (n)
        memcpy(c, p, n);
    LLVMFuzzerTestOneInput(c, n);
    free(c);
    execs++;
}

static int add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    long n;
    input in;
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    in.n = n > 0 ? (size_t)n : 0;
    in.p = malloc(in.n ? in.n : 1);
    if (!in.p || (in.n && fread(in.p, 1, in.n, f) != in.n)) {
        free(in.p);
        fclose(f);
        return -1;
    }
    fclose(f);
    if (ncorpus == capcorpus) {
        input *g;
        capcorpus = capcorpus ? capcorpus * 2 : 64;
        g = realloc(corpus, capcorpus * sizeof(*g));
        if (!g) {
            free(in.p);
            return -1;
        }
        corpus = g;
    }
    corpus[ncorpus++] = in;
    return 0;
}

static int add_path(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return -1;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        if (!d)
            return -1;
        while ((e = readdir(d))) {
            char sub[4096];
            if (e->d_name[0] == '.')
                continue;
            snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            if (add_path(sub) != 0) {
                closedir(d);
                return -1;
            }
        }
        closedir(d);
        return 0;
    }
    return add_file(path);
}

/* One mutation of a corpus input: byte flips, interesting values, inserted
 * or deleted ranges, duplicated chunks, splices with another input. */
static size_t mutate(uint8_t *buf, size_t cap)
{
    static const uint8_t interesting[][4] = {{0, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff},
                                             {0x7f, 0xff, 0xff, 0xff}, {0x80, 0, 0, 0},
                                             {0, 0, 0, 4}, {0, 0, 0, 8}, {0, 0, 0x27, 0x10},
                                             {0, 0, 0x10, 0}};
    const input *a = &corpus[rnd() % ncorpus];
    size_t n = a->n < cap ? a->n : cap;
    unsigned k, edits = 1 + rnd() % 6;
    memcpy(buf, a->p, n);
    for (k = 0; k < edits; k++) {
        size_t pos = n ? rnd() % n : 0, len;
        switch (rnd() % 8) {
        case 0: /* flip a bit */
            if (n)
                buf[pos] ^= (uint8_t)(1u << (rnd() % 8));
            break;
        case 1: /* random byte */
            if (n)
                buf[pos] = (uint8_t)rnd();
            break;
        case 2: /* interesting 32-bit value (lengths are big-endian int32) */
            if (n >= 4) {
                pos = rnd() % (n - 3);
                memcpy(buf + pos, interesting[rnd() % 8], 4);
            }
            break;
        case 3: /* delete a range */
            if (n) {
                len = 1 + rnd() % (n - pos < 16 ? n - pos : 16);
                memmove(buf + pos, buf + pos + len, n - pos - len);
                n -= len;
            }
            break;
        case 4: /* insert random bytes */
            len = 1 + rnd() % 8;
            if (n + len <= cap) {
                memmove(buf + pos + len, buf + pos, n - pos);
                for (size_t i = 0; i < len; i++)
                    buf[pos + i] = (uint8_t)rnd();
                n += len;
            }
            break;
        case 5: /* duplicate a chunk */
            if (n) {
                len = 1 + rnd() % (n - pos < 64 ? n - pos : 64);
                if (n + len <= cap) {
                    memmove(buf + pos + len, buf + pos, n - pos);
                    n += len;
                }
            }
            break;
        case 6: { /* splice: the tail of another input */
            const input *b = &corpus[rnd() % ncorpus];
            size_t from = b->n ? rnd() % b->n : 0;
            len = b->n - from;
            if (pos + len > cap)
                len = cap - pos;
            memcpy(buf + pos, b->p + from, len);
            n = pos + len;
            break;
        }
        default: /* truncate */
            n = pos;
            break;
        }
    }
    return n;
}

int main(int argc, char **argv)
{
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    double max_time = 0, start;
    unsigned long long max_runs = 0;
    size_t cap = 1 << 16;
    uint8_t *buf;
    int i;
    for (i = 1; i < argc; i++) {
        if (strncmp(argv[i], "-max_total_time=", 16) == 0)
            max_time = atof(argv[i] + 16);
        else if (strncmp(argv[i], "-runs=", 6) == 0)
            max_runs = strtoull(argv[i] + 6, NULL, 10);
        else if (strncmp(argv[i], "-seed=", 6) == 0)
            rng = strtoull(argv[i] + 6, NULL, 10) * 0x9e3779b97f4a7c15ULL + 1;
        else if (argv[i][0] == '-')
            continue; /* other libFuzzer flags: meaningless here */
        else if (add_path(argv[i]) != 0) {
            fprintf(stderr, "%s: cannot read %s\n", name, argv[i]);
            return 2;
        }
    }
    if (ncorpus == 0) {
        fprintf(stderr, "%s: no corpus input (name a folder or file)\n", name);
        return 2;
    }
    start = now();
    for (size_t k = 0; k < ncorpus; k++) {
        run(corpus[k].p, corpus[k].n);
        /* Every prefix too: truncated input is the commonest malformation. */
        for (size_t cut = 0; cut < corpus[k].n && cut < 4096; cut += 1 + cut / 16)
            run(corpus[k].p, cut);
    }
    buf = malloc(cap);
    if (!buf)
        return 2;
    while ((max_time > 0 && now() - start < max_time) || (max_runs && execs < max_runs)) {
        if (max_runs && execs >= max_runs)
            break;
        run(buf, mutate(buf, cap));
    }
    printf("%s: %llu executions (%zu corpus inputs) in %.1f s\n", name, execs, ncorpus,
           now() - start);
    free(buf);
    for (size_t k = 0; k < ncorpus; k++)
        free(corpus[k].p);
    free(corpus);
    return 0;
}
