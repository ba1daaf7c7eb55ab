/* pgtls: unit tests of the shared error and file helpers. */
#include <check.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "fs.h"
#include "support.h"

START_TEST(err_set_keeps_code_and_message)
{
    pgtls_err err;
    err_clear(&err);
    ck_assert_int_eq(err_set(&err, PGTLS_ERR_INPUT, "bad %s at line %d", "key", 7), -1);
    ck_assert_int_eq(err.code, PGTLS_ERR_INPUT);
    ck_assert_str_eq(err.msg, "bad key at line 7");
    ck_assert_int_eq(err_exit_status(err.code), 2);
    ck_assert_str_eq(err_code_name(err.code), "PGTLS_ERR_INPUT");
}
END_TEST

START_TEST(err_prefix_adds_context)
{
    pgtls_err err;
    err_clear(&err);
    err_set(&err, PGTLS_ERR_IO, "cannot read x");
    err_prefix(&err, "catalogue %s", "c.ini");
    ck_assert_str_eq(err.msg, "catalogue c.ini: cannot read x");
}
END_TEST

START_TEST(err_ossl_appends_the_openssl_reason)
{
    pgtls_err err;
    err_clear(&err);
    /* Provoke a real OpenSSL error: an unknown algorithm name. */
    ck_assert_ptr_null(EVP_PKEY_CTX_new_from_name(NULL, "NO-SUCH-ALGORITHM", NULL));
    err_ossl(&err, "cannot make key");
    ck_assert_int_eq(err.code, PGTLS_ERR_OSSL);
    ck_assert_msg(strncmp(err.msg, "cannot make key: ", 17) == 0, "got %s", err.msg);
    ck_assert_int_eq(ERR_peek_error(), 0);
}
END_TEST

START_TEST(err_exit_status_maps_failures_to_one_and_unknown_codes_to_two)
{
    ck_assert_int_eq(err_exit_status(PGTLS_OK), 0);
    ck_assert_int_eq(err_exit_status(PGTLS_ERR_FAILED), 1);
    ck_assert_int_eq(err_exit_status((pgtls_err_code)999), 2);
}
END_TEST

START_TEST(write_file_is_atomic_and_keeps_the_mode)
{
    pgtls_err err;
    char *dir = ts_tmpdir_new("fs");
    char *sub = fs_join(dir, "a/b/c");
    char *path = fs_join(sub, "key.pem");
    char *data = NULL;
    size_t len = 0;
    struct stat st;

    err_clear(&err);
    umask(0);
    ck_assert_int_eq(fs_mkdir_p(sub, 0755, &err), 0);
    ck_assert_int_eq(fs_write_file(path, "secret", 6, 0600, &err), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(fs_read_file(path, 0, &data, &len, &err), 0);
    ck_assert_uint_eq(len, 6);
    ck_assert_str_eq(data, "secret");
    free(data);
    free(path);
    free(sub);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(read_file_names_a_missing_file)
{
    pgtls_err err;
    char *data = NULL;
    err_clear(&err);
    ck_assert_int_eq(fs_read_file("/nonexistent/pgtls/file", 0, &data, NULL, &err), -1);
    ck_assert_int_eq(err.code, PGTLS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/pgtls/file"));
    ck_assert_ptr_null(data);
}
END_TEST

START_TEST(read_file_refuses_a_file_over_the_limit)
{
    pgtls_err err;
    char *dir = ts_tmpdir_new("fs");
    char *path = ts_write_text(dir, "big", "0123456789");
    char *data = NULL;
    err_clear(&err);
    ck_assert_int_eq(fs_read_file(path, 4, &data, NULL, &err), -1);
    ck_assert_int_eq(err.code, PGTLS_ERR_INPUT);
    free(path);
    ts_tmpdir_remove(dir);
}
END_TEST

START_TEST(write_file_into_a_missing_folder_fails_cleanly)
{
    pgtls_err err;
    err_clear(&err);
    ck_assert_int_eq(fs_write_file("/nonexistent/pgtls/x", "a", 1, 0644, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/pgtls/x"));
}
END_TEST

START_TEST(str_to_long_takes_only_a_whole_number_in_range)
{
    long v = -7;
    ck_assert_int_eq(str_to_long("5432", 0, 65535, &v), 0);
    ck_assert_int_eq(v, 5432);
    ck_assert_int_eq(str_to_long("0", 0, 65535, &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(str_to_long("-3", -5, 5, &v), 0);
    ck_assert_int_eq(v, -3);
    v = 99;
    const char *bad[] = {"", "x", "12x", "1.5", "65536", "-1", "99999999999999999999999", " "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(str_to_long(bad[i], 0, 65535, &v) == -1, "'%s' accepted", bad[i]);
    ck_assert_int_eq(str_to_long(NULL, 0, 1, &v), -1);
    ck_assert_int_eq(v, 99); /* untouched on failure */
}
END_TEST

START_TEST(join_and_string_helpers)
{
    char *a = fs_join("a/", "b");
    char *b = fs_join("a", "b");
    ck_assert_str_eq(a, "a/b");
    ck_assert_str_eq(b, "a/b");
    ck_assert(str_starts_with("verify-full", "verify-"));
    ck_assert(!str_starts_with("require", "verify-"));
    ck_assert(str_ends_with("x.pem", ".pem"));
    ck_assert(!str_ends_with("pem", "x.pem"));
    free(a);
    free(b);
}
END_TEST

Suite *err_suite(void)
{
    Suite *s = suite_create("err");
    TCase *tc = tcase_create("error contexts");
    tcase_add_test(tc, err_set_keeps_code_and_message);
    tcase_add_test(tc, err_prefix_adds_context);
    tcase_add_test(tc, err_ossl_appends_the_openssl_reason);
    tcase_add_test(tc, err_exit_status_maps_failures_to_one_and_unknown_codes_to_two);
    suite_add_tcase(s, tc);
    return s;
}

Suite *fs_suite(void)
{
    Suite *s = suite_create("fs");
    TCase *tc = tcase_create("files");
    tcase_add_test(tc, write_file_is_atomic_and_keeps_the_mode);
    tcase_add_test(tc, read_file_names_a_missing_file);
    tcase_add_test(tc, read_file_refuses_a_file_over_the_limit);
    tcase_add_test(tc, write_file_into_a_missing_folder_fails_cleanly);
    tcase_add_test(tc, join_and_string_helpers);
    tcase_add_test(tc, str_to_long_takes_only_a_whole_number_in_range);
    suite_add_tcase(s, tc);
    return s;
}
