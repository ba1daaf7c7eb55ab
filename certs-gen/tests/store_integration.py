#!/usr/bin/env python3
"""certs-gen integration tests: `pgtls ca inspect` and `pgtls ca clone --out`
over stores built at run time with the `openssl` command and `keytool`, and
the real roots of Debian's ca-certificates, read at run time.

usage: store_integration.py PGTLS [--only NAME] | --list"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

MOZILLA = "/usr/share/ca-certificates/mozilla"
G2 = MOZILLA + "/DigiCert_Global_Root_G2.crt"
MS2017 = MOZILLA + "/Microsoft_RSA_Root_Certificate_Authority_2017.crt"
GLOBAL_CA = MOZILLA + "/DigiCert_Global_Root_CA.crt"
BALTIMORE = MOZILLA + "/Baltimore_CyberTrust_Root.crt"
TESTS = []
PGTLS = None


def test(fn):
    TESTS.append(fn)
    return fn


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


def sh(argv, **kw):
    p = subprocess.run(argv, capture_output=True, timeout=120, **kw)
    if p.returncode != 0:
        raise AssertionError("%s failed: %s" % (argv[0], p.stderr.decode(errors="replace")))
    return p.stdout


def inspect(path, *extra):
    p = run([PGTLS, "ca", "inspect", path, *extra])
    return p.returncode, p.stdout, p.stderr


def cat(out, *paths):
    with open(out, "wb") as f:
        for p in paths:
            with open(p, "rb") as g:
                f.write(g.read())
    return out


def truncate(src, dst, keep):
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data[: int(len(data) * keep)])
    return dst


class Work:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pgtls-store-test-")

    def p(self, name):
        return os.path.join(self.dir, name)

    def ca(self, name, subject, issuer=None, ca=True, days=3650, pathlen=None, san=None,
           start=None):
        """A certificate made by the openssl command: self-signed when issuer is None."""
        key, crt = self.p(name + ".key"), self.p(name + ".crt")
        sh(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", key])
        ext = self.p(name + ".ext")
        with open(ext, "w") as f:
            f.write("[v3]\n")
            if ca:
                f.write("basicConstraints=critical,CA:TRUE%s\n"
                        % ("" if pathlen is None else ",pathlen:%d" % pathlen))
                f.write("keyUsage=critical,keyCertSign,cRLSign,digitalSignature\n")
            else:
                f.write("basicConstraints=critical,CA:FALSE\n")
                f.write("keyUsage=critical,digitalSignature,keyEncipherment\n")
                f.write("extendedKeyUsage=serverAuth\n")
            if san:
                f.write("subjectAltName=%s\n" % san)
            f.write("subjectKeyIdentifier=hash\n")
            if issuer:
                f.write("authorityKeyIdentifier=keyid\n")
        csr = self.p(name + ".csr")
        sh(["openssl", "req", "-new", "-key", key, "-subj", subject, "-out", csr])
        argv = ["openssl", "x509", "-req", "-in", csr, "-out", crt, "-extfile", ext,
                "-extensions", "v3", "-sha256"]
        if start:
            # an already expired certificate: not after = start + days
            argv = ["openssl", "x509", "-req", "-in", csr, "-out", crt, "-extfile", ext,
                    "-extensions", "v3", "-sha256", "-not_before", start, "-not_after",
                    days]
        else:
            argv += ["-days", str(days)]
        if issuer:
            argv += ["-CA", self.p(issuer + ".crt"), "-CAkey", self.p(issuer + ".key"),
                     "-set_serial", "0x1234"]
        else:
            argv += ["-signkey", key]
        sh(argv)
        return crt

    def clean(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def private_ica(w):
    """A private issuing CA under a private root, as a customer's PKI team makes one."""
    w.ca("privroot", "/C=US/O=Contoso/CN=Contoso Root")
    return w.ca("privica", "/C=US/O=Contoso/CN=Contoso Issuing CA 1", issuer="privroot",
                pathlen=0)


# ---- store formats ----------------------------------------------------------

@test
def a_pem_bundle_of_the_real_recommended_roots_is_root_only_and_survives_the_rotation(w):
    rc, out, err = inspect(cat(w.p("roots.pem"), G2, MS2017, GLOBAL_CA))
    check(rc == 0, "exit %d: %s%s" % (rc, out, err))
    check(out.count("real Azure root\n") == 3, out)
    check("root-only: the store trusts root CAs only (recommended)" in out, out)
    check("keep the full root set" not in out, out)


@test
def debians_whole_ca_certificates_bundle_survives_the_rotation(w):
    rc, out, err = inspect("/etc/ssl/certs/ca-certificates.crt")
    check(rc == 0, "exit %d: %s" % (rc, err or out[-2000:]))
    check("root-only" in out and "survives the rotation" in out, out[-2000:])


@test
def a_der_certificate_is_read_as_der(w):
    der = w.p("g2.cer")
    sh(["openssl", "x509", "-in", G2, "-outform", "DER", "-out", der])
    rc, out, err = inspect(der)
    check(rc == 0 and ": der, 1 certificate(s)" in out, out + err)
    check("keep the full root set" in out and "Microsoft RSA Root Certificate Authority 2017"
          in out, out)


@test
def pkcs7_bundles_in_pem_and_der_are_read(w):
    for form in ("PEM", "DER"):
        p7 = w.p("roots-%s.p7b" % form)
        sh(["openssl", "crl2pkcs7", "-nocrl", "-certfile", G2, "-certfile", MS2017,
            "-outform", form, "-out", p7])
        rc, out, err = inspect(p7)
        check(rc == 0, "%s: exit %d %s%s" % (form, rc, out, err))
        check((": pkcs7-%s, 2 certificate(s)" % form.lower()) in out, out)


@test
def a_pkcs12_truststore_needs_its_password_and_refuses_a_wrong_one(w):
    p12 = w.p("trust.p12")
    sh(["openssl", "pkcs12", "-export", "-nokeys", "-in", cat(w.p("b.pem"), G2, MS2017),
        "-out", p12, "-passout", "pass:s3cret"])
    rc, out, err = inspect(p12, "--password", "s3cret")
    check(rc == 0 and ": pkcs12, 2 certificate(s)" in out, out + err)
    rc, out, err = inspect(p12, "--password", "wrong")
    check(rc == 2 and "wrong password" in err and out == "", "wrong: %d %s %s" % (rc, out, err))
    rc, out, err = inspect(p12)
    check(rc == 2 and "--password" in err, "none: %d %s" % (rc, err))


@test
def a_jks_truststore_made_by_keytool_is_read_and_its_password_checked(w):
    if not shutil.which("keytool"):
        raise AssertionError("keytool is missing: install a JDK (ci/debian-packages.txt)")
    jks = w.p("trust.jks")
    for alias, path in (("g2", G2), ("ms2017", MS2017)):
        sh(["keytool", "-importcert", "-noprompt", "-storetype", "JKS", "-keystore", jks,
            "-storepass", "changeit", "-alias", alias, "-file", path])
    rc, out, err = inspect(jks, "--password", "changeit")
    check(rc == 0 and "jks, integrity checked" in out and "2 certificate(s)" in out, out + err)
    rc, out, err = inspect(jks)
    check(rc == 0 and "integrity not checked" in out, out + err)
    rc, out, err = inspect(jks, "--password", "changeme")
    check(rc == 2 and "wrong password" in err, "%d %s" % (rc, err))
    rc, out, err = inspect(truncate(jks, w.p("cut.jks"), 0.6), "--password", "changeit")
    check(rc == 2 and ("truncated" in err or "wrong password" in err), "%d %s" % (rc, err))
    rc, out, err = inspect(truncate(jks, w.p("cut2.jks"), 0.6))
    check(rc == 2 and "truncated" in err, "%d %s" % (rc, err))


@test
def s_client_showcerts_output_from_a_live_mock_is_read(w):
    fixtures = os.environ.get("PGTLS_TEST_FIXTURES", "")
    if not fixtures:
        fixtures = w.p("fixtures")
        sh([PGTLS, "ca", "gen", "--out", fixtures])
    mock = subprocess.Popen([PGTLS, "mock", "--fixtures", fixtures, "--scenario", "azure-new"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in mock.stdout:
            m = re.search(r"listening scenario=\S+ addr=\S+ port=(\d+)", line)
            if m:
                port = m.group(1)
                break
        check(port, "the mock printed no port")
        p = subprocess.run(["openssl", "s_client", "-starttls", "postgres", "-connect",
                            "127.0.0.1:" + port, "-showcerts"], input="", capture_output=True,
                           text=True, timeout=30)
        txt = w.p("s_client.txt")
        with open(txt, "w") as f:
            f.write(p.stdout)
        rc, out, err = inspect(txt)
        check(rc == 1 and ": s_client, 3 certificate(s)" in out, out + err)
        check("pinned server certificate (unsupported)" in out, out)
        check("pinned intermediate (unsupported)" in out, out)
        check("Azure intermediate (by name)" in out and "Azure server certificate" in out, out)
    finally:
        mock.terminate()
        mock.wait(timeout=10)


# ---- bad input ----------------------------------------------------------------

@test
def truncated_pem_der_and_pkcs7_files_are_refused_with_a_reason(w):
    der = w.p("g2.der")
    sh(["openssl", "x509", "-in", G2, "-outform", "DER", "-out", der])
    p7 = w.p("r.p7b")
    sh(["openssl", "crl2pkcs7", "-nocrl", "-certfile", G2, "-outform", "DER", "-out", p7])
    for src, what in ((cat(w.p("two.pem"), G2, MS2017), "truncated"), (der, "truncated"),
                      (p7, "truncated")):
        rc, out, err = inspect(truncate(src, src + ".cut", 0.7))
        check(rc == 2 and what in err, "%s: %d %s" % (src, rc, err))
        check(len(err.strip().splitlines()) == 1, "one line: %r" % err)


@test
def mixed_formats_are_refused(w):
    p7 = w.p("r.p7b")
    sh(["openssl", "crl2pkcs7", "-nocrl", "-certfile", G2, "-out", p7])
    rc, out, err = inspect(cat(w.p("mix.pem"), MS2017, p7))
    check(rc == 2 and "mixes PEM certificates and a PKCS#7" in err, "%d %s" % (rc, err))
    der = w.p("g2.der")
    sh(["openssl", "x509", "-in", G2, "-outform", "DER", "-out", der])
    rc, out, err = inspect(cat(w.p("mix2.pem"), MS2017, der))
    check(rc == 2 and "mixes PEM text and binary" in err, "%d %s" % (rc, err))


@test
def a_store_holding_a_private_key_is_refused_in_every_format(w):
    w.ca("srv", "/CN=mydemoserver.postgres.database.azure.com", ca=False)
    rc, out, err = inspect(cat(w.p("withkey.pem"), G2, w.p("srv.crt"), w.p("srv.key")))
    check(rc == 2 and "private key" in err and "never copies" in err, "pem: %d %s" % (rc, err))
    p12 = w.p("withkey.p12")
    sh(["openssl", "pkcs12", "-export", "-in", w.p("srv.crt"), "-inkey", w.p("srv.key"),
        "-out", p12, "-passout", "pass:x"])
    rc, out, err = inspect(p12, "--password", "x")
    check(rc == 2 and "private key" in err, "p12: %d %s" % (rc, err))
    if shutil.which("keytool"):
        jks = w.p("withkey.jks")
        sh(["keytool", "-genkeypair", "-storetype", "JKS", "-keystore", jks, "-storepass",
            "changeit", "-keypass", "changeit", "-alias", "k", "-keyalg", "EC", "-dname",
            "CN=client"])
        rc, out, err = inspect(jks, "--password", "changeit")
        check(rc == 2 and "private key" in err, "jks: %d %s" % (rc, err))


@test
def empty_missing_and_foreign_files_are_input_errors(w):
    open(w.p("empty.pem"), "w").close()
    with open(w.p("notes.txt"), "w") as f:
        f.write("hello\n")
    for path, what in ((w.p("empty.pem"), "empty"), (w.p("nope.pem"), "nope.pem"),
                       (w.p("notes.txt"), "not a certificate store")):
        rc, out, err = inspect(path)
        check(rc == 2 and what in err, "%s: %d %s" % (path, rc, err))


# ---- verdicts -----------------------------------------------------------------

@test
def digicert_g2_plus_a_private_issuing_ca_is_a_pinned_intermediate_and_exits_1(w):
    rc, out, err = inspect(cat(w.p("s.pem"), G2, private_ica(w)))
    check(rc == 1, "exit %d: %s" % (rc, out))
    check("pinned intermediate (unsupported)" in out, out)
    check("root-only" not in out, out)


@test
def a_pinned_server_certificate_is_unsupported(w):
    leaf = w.ca("leaf", "/CN=mydemoserver.postgres.database.azure.com", ca=False,
                san="DNS:mydemoserver.postgres.database.azure.com")
    rc, out, err = inspect(cat(w.p("s.pem"), G2, MS2017, leaf))
    check(rc == 1 and "pinned server certificate (unsupported)" in out, out)
    check("Azure server certificate (by name)" in out, out)


@test
def a_store_without_digicert_g2_misses_a_needed_root_for_the_new_chain(w):
    rc, out, err = inspect(cat(w.p("s.pem"), MS2017))
    check(rc == 1, out)
    check("missing a needed root: DigiCert Global Root G2, for the new chain" in out, out)
    check("old chain, Microsoft RSA Root CA 2017 form:" in out, out)


@test
def an_expired_root_is_listed_as_an_expired_entry(w):
    rc, out, err = inspect(cat(w.p("s.pem"), BALTIMORE, G2, MS2017))
    check("expired entries: 1" in out and "EXPIRED 2025-05-12" in out, out)
    check(rc == 0, "the G2 and MS 2017 roots still carry both chains: %s" % out)
    rc, out, err = inspect(cat(w.p("s2.pem"), BALTIMORE))
    check(rc == 1 and "expired entries: 1" in out and "missing a needed root" in out, out)


@test
def a_root_with_an_azure_name_but_another_key_is_not_the_real_root(w):
    fake = w.ca("fakeg2", "/C=US/O=DigiCert Inc/OU=www.digicert.com/CN=DigiCert Global Root G2")
    rc, out, err = inspect(cat(w.p("s.pem"), fake, MS2017))
    check(rc == 1 and "NOT the real DigiCert Global Root G2" in out, out)
    check("missing a needed root: DigiCert Global Root G2, for the new chain" in out, out)


def main():
    global PGTLS
    if sys.argv[1:] == ["--list"]:
        print("\n".join(t.__name__ for t in TESTS))
        return 0
    PGTLS = os.path.abspath(sys.argv[1])
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    failed = 0
    for t in TESTS:
        if only and t.__name__ != only:
            continue
        w = Work()
        try:
            t(w)
            print("ok   %s" % t.__name__)
        except AssertionError as e:
            failed += 1
            print("FAIL %s: %s" % (t.__name__, e))
        finally:
            w.clean()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
