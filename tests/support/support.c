/* pgtls: helpers shared by the Check unit tests. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "pgtls-config.h"

char *ts_tmpdir_new(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = str_printf("%s/pgtls-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    ck_assert_ptr_nonnull(tmpl);
    ck_assert_msg(mkdtemp(tmpl) != NULL, "mkdtemp %s failed", tmpl);
    return tmpl;
}

void ts_tmpdir_remove(char *dir)
{
    pgtls_err err;
    if (!dir)
        return;
    err_clear(&err);
    fs_remove_tree(dir, &err);
    free(dir);
}

char *ts_write_text(const char *dir, const char *name, const char *text)
{
    pgtls_err err;
    char *path = fs_join(dir, name);
    err_clear(&err);
    ck_assert_ptr_nonnull(path);
    ck_assert_msg(fs_write_file(path, text, strlen(text), 0644, &err) == 0, "%s", err.msg);
    return path;
}

char *ts_source_path(const char *rel)
{
    return fs_join(PGTLS_SOURCE_ROOT, rel);
}

char *ts_build_path(const char *rel)
{
    return fs_join(PGTLS_BUILD_ROOT, rel);
}
