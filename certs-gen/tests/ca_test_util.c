/* pgtls certs-gen tests: shared helpers. */
#include "ca_test_util.h"

#include <check.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca.h"
#include "fs.h"
#include "pgtls-config.h"
#include "support.h"

static char *shared_dir;
static pid_t shared_owner;

const char *ca_test_key_cache(void)
{
    return PGTLS_BUILD_ROOT "/certs-gen/test-key-cache";
}

static void remove_shared(void)
{
    /* Check's forked children run atexit handlers too: only the parent that
     * created the folder removes it. */
    if (shared_dir && getpid() == shared_owner) {
        pgtls_err err;
        char *tmp_parent = strdup(shared_dir);
        char *slash = tmp_parent ? strrchr(tmp_parent, '/') : NULL;
        if (slash)
            *slash = '\0';
        fs_remove_tree(tmp_parent, &err);
        free(tmp_parent);
    }
}

const char *ca_test_fixtures(void)
{
    pgtls_err err;
    char tmpl[] = "/tmp/pgtls-ca-test-XXXXXX";
    if (shared_dir)
        return shared_dir;
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "mkdtemp failed\n");
        abort();
    }
    shared_dir = fs_join(tmpl, "fixtures");
    shared_owner = getpid();
    atexit(remove_shared);
    err_clear(&err);
    if (ca_gen(NULL, shared_dir, ca_test_key_cache(), &err) < 0) {
        fprintf(stderr, "generating the shared fixtures failed: %s\n", err.msg);
        abort();
    }
    return shared_dir;
}

X509 *ca_test_load_cert(const char *path)
{
    BIO *bio = BIO_new_file(path, "r");
    X509 *x;
    ck_assert_msg(bio != NULL, "cannot open %s", path);
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (!x) {
        BIO_free(bio);
        bio = BIO_new_file(path, "r");
        x = d2i_X509_bio(bio, NULL);
    }
    BIO_free(bio);
    ck_assert_msg(x != NULL, "cannot parse %s", path);
    return x;
}

X509 *ca_test_fixture_cert(const char *name)
{
    char *path = str_printf("%s/certs/%s.der", ca_test_fixtures(), name);
    X509 *x = ca_test_load_cert(path);
    free(path);
    return x;
}

ca_catalogue *ca_test_parse(const char *text, pgtls_err *err)
{
    err_clear(err);
    return ca_catalogue_parse("test.ini", text, strlen(text), err);
}
