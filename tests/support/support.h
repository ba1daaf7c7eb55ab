/* pgtls: helpers shared by the Check unit tests. */
#ifndef PGTLS_TEST_SUPPORT_H
#define PGTLS_TEST_SUPPORT_H

#include <check.h>

/* A fresh temporary directory under $TMPDIR (or /tmp); the caller removes it
 * with ts_tmpdir_remove. Aborts the test on failure. */
char *ts_tmpdir_new(const char *tag);
void ts_tmpdir_remove(char *dir);

/* Writes text to dir/name and returns the heap path. Aborts the test on failure. */
char *ts_write_text(const char *dir, const char *name, const char *text);

/* Absolute path of a file in the source tree (PGTLS_SOURCE_ROOT/rel). */
char *ts_source_path(const char *rel);

/* Absolute path of a file in the build tree (PGTLS_BUILD_ROOT/rel). */
char *ts_build_path(const char *rel);

#endif
