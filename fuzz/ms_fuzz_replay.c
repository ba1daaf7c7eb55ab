/* pgtls: replays a corpus through the fuzz entry point (suite "fuzz"), so the
 * fuzz target is exercised by every build, with or without libFuzzer.
 * usage: ms-fuzz-replay DIR|FILE... ; exit 0 when every input ran. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    /* Every prefix too: truncated input is the commonest malformation. */
    for (long cut = 0; cut < n && cut < 4096; cut += 1 + cut / 16)
        LLVMFuzzerTestOneInput(buf, (size_t)cut);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int i, count = 0;
    for (i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "ms-fuzz-replay: cannot read %s\n", argv[i]);
            return 2;
        }
        if (S_ISDIR(sb.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                char path[4096];
                if (e->d_name[0] == '.')
                    continue;
                snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
                if (run_file(path) < 0) {
                    fprintf(stderr, "ms-fuzz-replay: cannot read %s\n", path);
                    return 2;
                }
                count++;
            }
            if (d)
                closedir(d);
        } else {
            if (run_file(argv[i]) < 0)
                return 2;
            count++;
        }
    }
    printf("replayed %d inputs\n", count);
    return count > 0 ? 0 : 1;
}
