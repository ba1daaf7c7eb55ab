#!/usr/bin/env python3
"""runner integration tests: `pgtls repro --conninfo`, a customer's setup
offline, with every installed client.

usage: customer_repro.py PGTLS [--only NAME] | --list"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

MOZILLA = "/usr/share/ca-certificates/mozilla"
G2 = MOZILLA + "/DigiCert_Global_Root_G2.crt"
MS2017 = MOZILLA + "/Microsoft_RSA_Root_Certificate_Authority_2017.crt"
HOST = "custdb.postgres.database.azure.com"
TESTS = []
PGTLS = None
# Clients whose adapter documents that they cannot express this case: they
# fail the old chain too, for the reason printed (suites/deviations/).
BROKEN_TODAY_FOR_A_DOCUMENTED_REASON = {
    # the URL's sslrootcert is sent to the server as a startup parameter
    # (suites/deviations/postgresjs.ini, sslrootcert-forwarded-to-the-server)
    "postgresjs": ("unrecognized configuration parameter \"sslrootcert\"",
                   "unable to get local issuer certificate"),
    "tokio-postgres": ("invalid value for option `sslmode`",),  # no verify-full
    "tokio-postgres-rustls": ("invalid value for option `sslmode`",),  # the same driver
    # SQLAlchemy's asyncpg dialect passes libpq's URL query to asyncpg.connect()
    # as keyword arguments (suites/deviations/sqlalchemy-asyncpg-sslmode.ini,
    # docs/findings.md 11): every case fails before connecting
    "sqlalchemy-asyncpg-sslmode": ("unexpected keyword argument 'sslmode'",),
}


def test(fn):
    TESTS.append(fn)
    return fn


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def sh(argv):
    p = subprocess.run(argv, capture_output=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("%s failed: %s" % (argv[0], p.stderr.decode(errors="replace")))


def cat(out, *paths):
    with open(out, "wb") as f:
        for p in paths:
            with open(p, "rb") as g:
                f.write(g.read())
    return out


def repro(fixtures, *args):
    # a generous per-case timeout: a JVM starting on a loaded machine is not a finding
    p = subprocess.run([PGTLS, "repro", "--fixtures", fixtures, "--no-gen", "--timeout-ms",
                        "30000", *args],
                       capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def client_blocks(out):
    """{adapter name: block text} from the per-client sections."""
    blocks = {}
    for m in re.finditer(r"^(\S+) [^\n]*\|[^\n]*\n((?:  [^\n]*\n)+)", out, re.M):
        blocks[m.group(1)] = m.group(2)
    return blocks


class Work:
    def __init__(self, fixtures):
        self.dir = tempfile.mkdtemp(prefix="pgtls-customer-test-")
        self.fixtures = fixtures

    def p(self, name):
        return os.path.join(self.dir, name)

    def azure_ica03_microsoft_form(self):
        """A stand-in for the customer's copy of Microsoft Azure RSA TLS Issuing CA 03 in its
        Microsoft RSA Root CA 2017 form (the real subject, issuer and serial number, which is
        what twins are matched by; made here by the openssl command, as the real one is not
        shipped)."""
        cnf = self.p("ica.cnf")
        with open(cnf, "w") as f:
            f.write("[req]\ndistinguished_name=dn\n[dn]\n[ca]\nbasicConstraints=critical,"
                    "CA:TRUE,pathlen:0\nkeyUsage=critical,digitalSignature,keyCertSign,cRLSign\n"
                    "subjectKeyIdentifier=hash\n")
        sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
            self.p("r.key"), "-out", self.p("r.crt"), "-subj",
            "/C=US/O=Microsoft Corporation/CN=Microsoft RSA Root Certificate Authority 2017",
            "-config", cnf, "-extensions", "ca", "-days", "30"])
        sh(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout",
            self.p("i.key"), "-out", self.p("i.csr"), "-subj",
            "/C=US/O=Microsoft Corporation/CN=Microsoft Azure RSA TLS Issuing CA 03",
            "-config", cnf])
        sh(["openssl", "x509", "-req", "-in", self.p("i.csr"), "-CA", self.p("r.crt"),
            "-CAkey", self.p("r.key"), "-out", self.p("ica03.crt"), "-extfile", cnf,
            "-extensions", "ca", "-days", "30", "-set_serial",
            "0x330000003968EA517D8A7E30CE000000000039"])
        os.unlink(self.p("i.key"))
        os.unlink(self.p("r.key"))
        return self.p("ica03.crt")

    def clean(self):
        shutil.rmtree(self.dir, ignore_errors=True)


@test
def a_pinned_intermediate_store_works_on_the_old_chain_and_breaks_on_the_new_one_for_every_client(w):
    store = cat(w.p("root.crt"), MS2017, w.azure_ica03_microsoft_form())
    rc, out, err = repro(w.fixtures, "--conninfo",
                         "host=%s port=5432 dbname=app user=app sslmode=verify-full "
                         "sslrootcert=%s" % (HOST, store), "--chain", "old,new")
    check(rc == 1, "exit %d, expected 1 (a client breaks): %s %s" % (rc, out[-3000:], err))
    check("replaced by its look-alike twin: azure-rsa-tls-ca-03-ms2017" in out, out[:2000])
    check("replaced by its look-alike twin: ms-rsa-root-2017" in out, out[:2000])
    blocks = client_blocks(out)
    check(len(blocks) >= 3, "expected a block per installed client: %s" % out)
    works_today = 0
    for name, block in blocks.items():
        check(re.search(r"new +FAILS", block),
              "%s connects to the new chain with a pinned intermediate:\n%s" % (name, block))
        if "verdict: works today, BREAKS after the rotation" in block:
            check(re.search(r"old +connects", block), block)
            check(re.search(r"new +FAILS \(untrusted-chain\)", block), block)
            works_today += 1
        else:
            check(name in BROKEN_TODAY_FOR_A_DOCUMENTED_REASON and
                  any(r in block for r in BROKEN_TODAY_FOR_A_DOCUMENTED_REASON[name]),
                  "%s does not work today, for no documented reason:\n%s" % (name, block))
    for must in ("libpq", "psql"):
        check("verdict: works today, BREAKS after the rotation" in blocks.get(must, ""),
              "%s: %s" % (must, blocks.get(must)))
    check(works_today >= len(blocks) - len(BROKEN_TODAY_FOR_A_DOCUMENTED_REASON), out)
    check("remove the pinned intermediate" in out and "pinning them is not supported" in out,
          out[-2000:])
    check("keep the full root set" in out, out[-2000:])


@test
def a_jdbc_url_with_a_root_only_jks_truststore_survives_the_rotation(w):
    if not shutil.which("keytool"):
        raise AssertionError("keytool is missing: install a JDK (ci/debian-packages.txt)")
    jks = w.p("trust.jks")
    for alias, path in (("g2", G2), ("ms2017", MS2017)):
        sh(["keytool", "-importcert", "-noprompt", "-storetype", "JKS", "-keystore", jks,
            "-storepass", "changeit", "-alias", alias, "-file", path])
    rc, out, err = repro(w.fixtures, "--conninfo",
                         "jdbc:postgresql://%s:5432/app?ssl=true&sslrootcert=%s" % (HOST, jks),
                         "--password", "changeit", "--client", "libpq,pgjdbc,pgx",
                         "--chain", "old,new")
    check(rc == 0, "exit %d: %s %s" % (rc, out[-3000:], err))
    check("pgjdbc: ssl=true without sslmode means verify-full" in out, out[:800])
    blocks = client_blocks(out)
    check(set(blocks) == {"libpq", "pgjdbc", "pgx"}, "clients run: %s" % sorted(blocks))
    for name, block in blocks.items():
        check("verdict: works today and after the rotation" in block, "%s:\n%s" % (name, block))
    check("nothing to change for the old and new chains" in out, out[-1000:])


def s_client_capture(w, scenario):
    """What `openssl s_client -showcerts` prints against the mock serving scenario."""
    mock = subprocess.Popen([PGTLS, "mock", "--fixtures", w.fixtures, "--scenario", scenario],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in mock.stdout:
            m = re.search(r"port=(\d+)", line)
            if m:
                port = m.group(1)
                break
        check(port, "the mock printed no port")
        p = subprocess.run(["openssl", "s_client", "-starttls", "postgres", "-connect",
                            "127.0.0.1:" + port, "-showcerts"], input="", capture_output=True,
                           text=True, timeout=30)
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    path = w.p("s_client.txt")
    with open(path, "w") as f:
        f.write(p.stdout)
    return path


@test
def a_captured_new_chain_breaks_the_pinned_store_and_not_the_root_only_one(w):
    captured = s_client_capture(w, "azure-new")
    pinned = cat(w.p("root.crt"), MS2017, w.azure_ica03_microsoft_form())
    rc, out, err = repro(w.fixtures, "--conninfo",
                         "host=%s sslmode=verify-full sslrootcert=%s" % (HOST, pinned),
                         "--client", "libpq,psql", "--chain", "old," + captured)
    check(rc == 1, "exit %d: %s %s" % (rc, out[-3000:], err))
    blocks = client_blocks(out)
    check(set(blocks) == {"libpq", "psql"}, sorted(blocks))
    for name, block in blocks.items():
        check(re.search(r"old +connects", block) and
              re.search(r"s_client.txt +FAILS \(untrusted-chain\)", block), "%s:\n%s" % (name, block))
    fixed = cat(w.p("fixed.crt"), G2, MS2017)
    rc, out, err = repro(w.fixtures, "--conninfo",
                         "host=%s sslmode=verify-full sslrootcert=%s" % (HOST, fixed),
                         "--client", "libpq", "--chain", captured)
    check(rc == 0 and re.search(r"s_client.txt +connects", out), "%d: %s %s" % (rc, out, err))


@test
def bad_input_is_a_one_line_error_and_exit_2(w):
    key = w.p("k.pem")
    sh(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-out", key])
    with_key = cat(w.p("withkey.pem"), G2, key)
    cases = [
        (["--conninfo", "host=%s sslmode" % HOST], "missing \"=\" after \"sslmode\""),
        (["--conninfo", "postgres://%s:5x/db" % HOST], "invalid port"),
        (["--conninfo", "host=%s sslmode=verify-full" % HOST, "--client", "nosuch"],
         "unknown client 'nosuch'"),
        (["--conninfo", "host=%s sslmode=verify-full sslrootcert=%s" % (HOST, w.p("none.pem"))],
         "does not exist"),
        (["--conninfo", "host=%s sslmode=verify-full" % HOST], "--store FILE"),
        (["--conninfo", "host=%s sslmode=verify-full sslrootcert=%s" % (HOST, with_key)],
         "private key"),
        (["--conninfo", "host=%s sslmode=require" % HOST, "--chain", "newest"],
         "--chain newest"),
    ]
    for args, message in cases:
        rc, out, err = repro(w.fixtures, *args)
        check(rc == 2, "%s: exit %d (%s)" % (args, rc, err))
        check(message in err and len(err.strip().splitlines()) == 1,
              "%s: expected one line with %r, got %r" % (args, message, err))
    check(not [n for n in os.listdir(tempfile.gettempdir()) if n.startswith("pgtls-customer-")
               and os.path.getmtime(os.path.join(tempfile.gettempdir(), n)) > os.path.getmtime(
                   w.dir)], "a temporary folder was left behind")


def main():
    global PGTLS
    if sys.argv[1:] == ["--list"]:
        print("\n".join(t.__name__ for t in TESTS))
        return 0
    PGTLS = os.path.abspath(sys.argv[1])
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    top = tempfile.mkdtemp(prefix="pgtls-customer-fx-")
    fixtures = os.environ.get("PGTLS_TEST_FIXTURES") or os.path.join(top, "fixtures")
    failed = 0
    try:
        if not os.environ.get("PGTLS_TEST_FIXTURES"):
            sh([PGTLS, "ca", "gen", "--out", fixtures])
        for t in TESTS:
            if only and t.__name__ != only:
                continue
            w = Work(fixtures)
            try:
                t(w)
                print("ok   %s" % t.__name__)
            except AssertionError as e:
                failed += 1
                print("FAIL %s: %s" % (t.__name__, e))
            finally:
                w.clean()
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
