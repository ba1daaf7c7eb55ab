/* pgtls fuzz targets: shared helpers (fuzz_util.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_util.h"

int fz_write_temp(const char *name, const uint8_t *p, size_t n, char *buf, size_t cap)
{
    static char dir[256];
    int fd, rc = -1;
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof(dir), "%s/pgtls-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) {
            dir[0] = 0;
            return -1;
        }
    }
    if ((size_t)snprintf(buf, cap, "%s/%s", dir, name) >= cap)
        return -1;
    fd = open(buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (n == 0 || write(fd, p, n) == (ssize_t)n)
        rc = 0;
    close(fd);
    return rc;
}
