/* pgtls certs-gen: `pgtls ca ...` exit statuses and output. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca.h"
#include "ca_test_util.h"
#include "fs.h"
#include "pgtls-config.h"
#include "support.h"

/* ca.h: the entry point pgtls calls for `pgtls ca ...` */
int ca_cli_main(int argc, char **argv);

/* Runs ca_cli_main with stdout and stderr captured; returns the status and
 * the captured text (heap) in *out. */
static int run_cli(char **argv, char **out)
{
    char *dir = ts_tmpdir_new("ca-cli");
    char *path = fs_join(dir, "out.txt");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int saved_out = dup(1), saved_err = dup(2), argc = 0, status;
    pgtls_err err;

    ck_assert_int_ge(fd, 0);
    while (argv[argc])
        argc++;
    fflush(stdout);
    fflush(stderr);
    dup2(fd, 1);
    dup2(fd, 2);
    status = ca_cli_main(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    close(fd);
    err_clear(&err);
    ck_assert_int_eq(fs_read_file(path, 0, out, NULL, &err), 0);
    free(path);
    ts_tmpdir_remove(dir);
    return status;
}

#define FX "@FX@" /* replaced by the shared fixtures folder */
#define REAL PGTLS_SOURCE_ROOT "/certs-gen/tests/real/"

static const struct {
    const char *args[8];
    int status;
    const char *expect; /* substring of the output, or NULL */
} cases[] = {
    {{"ca", "--help"}, 0, "usage: pgtls ca"},
    {{"ca"}, 2, "usage: pgtls ca"},
    {{"ca", "frobnicate"}, 2, "unknown command 'frobnicate'"},
    {{"ca", "gen", "--help"}, 0, "--key-cache"},
    {{"ca", "list", "--help"}, 0, "usage: pgtls ca list"},
    {{"ca", "show", "--help"}, 0, "usage: pgtls ca show"},
    {{"ca", "verify", "--help"}, 0, "usage: pgtls ca verify"},
    {{"ca", "inspect", "--help"}, 0, "usage: pgtls ca inspect"},
    {{"ca", "gen", "--bogus"}, 2, "unknown option '--bogus'"},
    {{"ca", "gen", "--out"}, 2, "needs a value"},
    {{"ca", "gen", "--catalogue", "/nonexistent/cat.ini", "--out", "/nonexistent/out"},
     2,
     "/nonexistent/cat.ini"},
    {{"ca", "list", "extra"}, 2, "unexpected argument"},
    {{"ca", "list", "--fixtures", FX}, 0, "azure-new-expired-cross"},
    {{"ca", "list", "--fixtures", "/nonexistent"}, 2, "pgtls ca gen"},
    {{"ca", "verify", "--fixtures", FX}, 0, "every declaration holds"},
    {{"ca", "verify", "--fixtures", "/nonexistent"}, 2, "pgtls ca gen"},
    {{"ca", "show", "digicert-global-root-g2", "--fixtures", FX}, 0, "Signature Algorithm"},
    {{"ca", "show", "ms-tls-rsa-root-g2-xsign", "--fixtures", FX}, 0, "role:      cross"},
    {{"ca", "show", "leaf-azure-new-02", "--fixtures", FX}, 0, "chain azure-new-02"},
    {{"ca", "show", "ms-tls-rsa-root-g2-xsign-expired", "--fixtures", FX}, 0,
     "scenarios: azure-new-expired-cross"},
    {{"ca", "show", "no-such-cert", "--fixtures", FX}, 2, "no certificate named"},
    {{"ca", "show", "--fixtures", FX}, 2, "which certificate"},
    {{"ca", "show", "--help"}, 0, "--compare FILE"},
    {{"ca", "show", "azure-rsa-tls-ca-03-g2", "--fixtures", FX, "--compare",
      REAL "microsoft_azure_rsa_tls_issuing_ca_03_xsign.pem"},
     0,
     "declared    notAfter: the real DigiCert form expired"},
    {{"ca", "show", "leaf-azure-new-02", "--fixtures", FX, "--compare",
      REAL "leaf_imds_tls_g2_rsa_ca_ocsp_02.pem"},
     0,
     "identical but for key-derived fields and declared differences"},
    {{"ca", "show", "azure-rsa-tls-ca-03-ms2017", "--fixtures", FX, "--compare",
      REAL "microsoft_azure_rsa_tls_issuing_ca_03_xsign.pem"},
     1,
     "DIFFERS     issuer"},
    {{"ca", "show", "ms-tls-g2-rsa-ca-ocsp-02", "--fixtures", FX, "--compare",
      "/nonexistent/real.pem"},
     2,
     "/nonexistent/real.pem: no such file"},
    {{"ca", "show", "ms-tls-g2-rsa-ca-ocsp-02", "--fixtures", FX, "--compare", FX "/index.json"},
     2,
     "is not a certificate"},
    {{"ca", "show", "ms-tls-g2-rsa-ca-ocsp-02", "--fixtures", FX, "--compare"}, 2, "needs a value"},
    {{"ca", "show", "no-such-cert", "--fixtures", FX, "--compare",
      REAL "microsoft_tls_g2_rsa_ca_ocsp_02.pem"},
     2,
     "no certificate named"},
    {{"ca", "inspect", FX "/stores/azure-bundle.pem", "--fixtures", FX}, 0, "root-only"},
    {{"ca", "inspect", FX "/stores/azure-bundle.pem"}, 1, "NOT the real DigiCert Global Root G2"},
    {{"ca", "inspect", FX "/stores/root-ms2017.pem", "--fixtures", FX},
     1,
     "missing a needed root: DigiCert Global Root G2"},
    {{"ca", "inspect", FX "/stores/pinned-leaf.pem", "--fixtures", FX},
     1,
     "pinned server certificate (unsupported)"},
    {{"ca", "inspect", FX "/stores/pinned-ica03.pem", "--fixtures", FX},
     1,
     "pinned intermediate (unsupported)"},
    {{"ca", "inspect", FX "/stores/root-g2.p12", "--password", "changeit", "--fixtures", FX},
     0,
     "pkcs12, 1 certificate(s)"},
    {{"ca", "inspect", "/nonexistent.pem"}, 2, "nonexistent.pem"},
    {{"ca", "inspect"}, 2, "which store"},
    {{"ca", "clone", "--help"}, 0, "usage: pgtls ca clone"},
    {{"ca", "clone"}, 2, "which chain file"},
    {{"ca", "clone", "/nonexistent.pem"}, 2, "nonexistent.pem"},
    {{"ca", "clone", FX "/index.json"}, 2, "not a certificate store"},
    {{"ca", "clone", FX "/stores/azure-bundle.pem"}, 2, "leaf first"},
    {{"ca", "clone", FX "/chains/china-old.pem", "--name", "cn"}, 0, "[chain cn]"},
};

START_TEST(each_ca_command_answers_with_the_documented_exit_status)
{
    char *argv[9] = {0};
    char *out = NULL;
    int status;
    for (int i = 0; i < 8 && cases[_i].args[i]; i++) {
        const char *a = cases[_i].args[i];
        if (strncmp(a, FX, strlen(FX)) == 0)
            argv[i] = str_printf("%s%s", ca_test_fixtures(), a + strlen(FX));
        else
            argv[i] = strdup(a);
    }
    status = run_cli(argv, &out);
    ck_assert_msg(status == cases[_i].status, "pgtls %s %s: status %d, expected %d; output:\n%s",
                  argv[1], argv[2] ? argv[2] : "", status, cases[_i].status, out);
    if (cases[_i].expect)
        ck_assert_msg(strstr(out, cases[_i].expect) != NULL, "expected '%s' in:\n%s",
                      cases[_i].expect, out);
    free(out);
    for (int i = 0; i < 8; i++)
        free(argv[i]);
}
END_TEST

START_TEST(gen_writes_an_index_the_verify_command_accepts)
{
    char *dir = ts_tmpdir_new("ca-cli-gen");
    char *outdir = fs_join(dir, "fixtures");
    char *argv[] = {"ca", "gen", "--out", outdir, "--key-cache", (char *)ca_test_key_cache(), NULL};
    char *vargv[] = {"ca", "verify", "--fixtures", outdir, NULL};
    char *out = NULL;
    ck_assert_int_eq(run_cli(argv, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "index.json"));
    free(out);
    ck_assert_int_eq(run_cli(vargv, &out), 0);
    free(out);
    free(outdir);
    ts_tmpdir_remove(dir);
}
END_TEST

Suite *cacli_suite(void)
{
    Suite *s = suite_create("cacli");
    TCase *tc = tcase_create("commands");
    ca_test_fixtures();
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, each_ca_command_answers_with_the_documented_exit_status, 0,
                        (int)(sizeof(cases) / sizeof(*cases)));
    tcase_add_test(tc, gen_writes_an_index_the_verify_command_accepts);
    suite_add_tcase(s, tc);
    return s;
}
