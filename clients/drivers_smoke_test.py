#!/usr/bin/env python3
"""Smoke test of every installed driver adapter against a real PostgreSQL 15.

Starts a throw-away PostgreSQL (Debian's /usr/lib/postgresql/15/bin) in a temp dir on
a free 127.0.0.1 port with ssl=on and a chain made here with the openssl CLI
(root -> intermediate -> leaf with SAN mydemoserver.postgres.database.azure.com,
plus an unrelated "wrong" root), hostssl + scram-sha-256 only. Then, for each adapter
whose clients/<name>/adapter.json names an installed program, runs in ONE batch:
  1. verify-full with the right root            -> connected, tls true, query 't'
  2. verify-full with the wrong root            -> not connected, error text
  3. require with no root (driver-specific)     -> any answer, recorded
  4. a malformed line                           -> error result, adapter keeps going
  5. verify-full with the right root once more  -> connected (the adapter survived)
and checks the hello line fields. Prints 'N passed, N failed' and exits 1 on failure.

Usage: drivers_smoke_test.py [--clients a,b] [--keep] ; Python 3 stdlib only.
An adapter that is not installed is skipped (reported), not failed, unless
--require-all is given. Exit 77 (skip) when PostgreSQL 15 or openssl is missing.
"""

import argparse
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(SRC, "build")
PGBIN = os.environ.get("PGTLS_PGBIN", "/usr/lib/postgresql/15/bin")
HOST = "mydemoserver.postgres.database.azure.com"
USER, PASSWORD = "pgtls", "pgtls-secret"


def run(argv, **kw):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, **kw)


def openssl(*args, cwd):
    run(["openssl"] + list(args), cwd=cwd)


def make_certs(d):
    """root -> intermediate -> leaf, and a wrong root; PEM files in d."""
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
                "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n"
                "[leaf]\nbasicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
                "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n"
                "subjectAltName=DNS:%s,DNS:*.postgres.database.azure.com\n" % HOST)
    for name, subj in (("root", "/CN=pgtls smoke root"), ("wrong", "/CN=pgtls smoke wrong root")):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key",
                "-out", name + ".pem", "-days", "30", "-subj", subj, "-sha256",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    for name, subj, issuer, section in (("inter", "/CN=pgtls smoke intermediate", "root", "ca"),
                                        ("leaf", "/C=US/O=pgtls smoke/CN=" + HOST, "inter", "leaf")):
        openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key",
                "-out", name + ".csr", "-subj", subj, cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", issuer + ".pem", "-CAkey",
                issuer + ".key", "-CAcreateserial", "-out", name + ".pem", "-days", "30",
                "-sha256", "-extfile", ext, "-extensions", section, cwd=d)
    with open(os.path.join(d, "server-chain.pem"), "w") as out:
        for name in ("leaf", "inter"):
            with open(os.path.join(d, name + ".pem")) as f:
                out.write(f.read())
    # PKCS#12 truststores for Java (pgjdbc with DefaultJavaSSLFactory).
    for name in ("root", "wrong"):
        try:
            run(["keytool", "-importcert", "-noprompt", "-storetype", "PKCS12", "-alias", name,
                 "-file", name + ".pem", "-keystore", name + ".p12", "-storepass", "changeit"],
                cwd=d)
        except (OSError, subprocess.CalledProcessError):
            pass
    for f in os.listdir(d):
        if f.endswith(".key"):
            os.chmod(os.path.join(d, f), 0o600)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    def __init__(self, base, certs):
        self.base, self.certs = base, certs
        self.data = os.path.join(base, "data")
        self.port = free_port()
        self.proc = None
        self.as_user = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def start(self):
        os.makedirs(self.data)
        pwfile = os.path.join(self.base, "pw")
        with open(pwfile, "w") as f:
            f.write("superpw\n")
        sslfiles = os.path.join(self.base, "ssl")
        os.makedirs(sslfiles)
        shutil.copy(os.path.join(self.certs, "server-chain.pem"), sslfiles)
        shutil.copy(os.path.join(self.certs, "leaf.key"), sslfiles)
        if self.as_user:
            for path in (self.base, self.data, pwfile, sslfiles,
                         os.path.join(sslfiles, "server-chain.pem"),
                         os.path.join(sslfiles, "leaf.key")):
                shutil.chown(path, "postgres", "postgres")
        os.chmod(os.path.join(sslfiles, "leaf.key"), 0o600)
        run(self.as_user + [os.path.join(PGBIN, "initdb"), "-D", self.data, "-U", "postgres",
                            "--pwfile", pwfile, "-A", "scram-sha-256", "--no-sync"])
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"
                    "ssl = on\nssl_cert_file = '%s/server-chain.pem'\n"
                    "ssl_key_file = '%s/leaf.key'\npassword_encryption = 'scram-sha-256'\n"
                    "fsync = off\n" % (self.port, self.base, sslfiles, sslfiles))
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("local all all scram-sha-256\n"
                    "hostssl all all 127.0.0.1/32 scram-sha-256\n")
        logf = open(os.path.join(self.base, "postgres.log"), "w")
        self.proc = subprocess.Popen(self.as_user + [os.path.join(PGBIN, "postgres"), "-D", self.data],
                                     stdout=logf, stderr=subprocess.STDOUT)
        env = dict(os.environ, PGPASSWORD="superpw")
        for _ in range(100):
            if self.proc.poll() is not None:
                raise RuntimeError("postgres exited; see %s/postgres.log" % self.base)
            r = subprocess.run(["psql", "-h", self.base, "-p", str(self.port), "-U", "postgres",
                                "-d", "postgres", "-Atc",
                                "CREATE ROLE %s LOGIN PASSWORD '%s'; CREATE EXTENSION sslinfo"
                                % (USER, PASSWORD)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("postgres did not come up: %s" % r.stdout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def adapters(selected):
    found = []
    cdir = os.path.join(SRC, "clients")
    for name in sorted(os.listdir(cdir)):
        manifest = os.path.join(cdir, name, "adapter.json")
        if not os.path.isfile(manifest):
            continue
        if selected and name not in selected:
            continue
        with open(manifest) as f:
            spec = json.load(f)
        if "@BUILD@" in spec["argv"][0] or spec.get("tls_only"):
            continue  # the C adapters (built by meson) have their own integration tests
        # @DIR@ and @NAME@ as the runner expands them; @BUILD@ for a helper
        # meson builds (bun-sql's hostaddr library) (a version build,
        # clients/<adapter>@<version>, names its own folder and itself).
        def expand(a, folder=os.path.join(cdir, name)):
            return a.replace("@SRC@", SRC).replace("@DIR@", folder).replace("@NAME@", name).replace("@BUILD@", BUILD)
        argv = [expand(a) for a in spec["argv"]]
        # "program": the file that must exist for the adapter to be installed
        # (argv[0] may be an interpreter found on PATH, e.g. java or node).
        program = expand(spec.get("program", spec["argv"][0]))
        if os.sep not in program:
            program = shutil.which(program) or program
        found.append((spec.get("name", name), argv, program, spec.get("smoke_expect") or {}))
    return found


class Adapter:
    """One adapter process in batch mode."""

    def __init__(self, argv, env=None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1, env=env)

    def readline(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError("no line from adapter within %.0f s" % timeout)
        line = self.proc.stdout.readline()
        if not line:
            raise EOFError("adapter closed stdout (exit %s): %s"
                           % (self.proc.poll(), self.proc.stderr.read()[-2000:]))
        return json.loads(line)

    def ask(self, raw, timeout=30):
        self.proc.stdin.write(raw + "\n")
        self.proc.stdin.flush()
        return self.readline(timeout)

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


CASE_COLUMNS = ("vf-right", "vf-wrong", "require-none", "require-right", "home-root",
                "node-extra-ca")


def markdown_table(record):
    """Observed outcome per adapter and smoke case, errors shortened."""
    def cell(r):
        if r.get("unsupported"):
            return "unsupported"
        if r.get("connected"):
            return "connected" if r.get("tls") else "connected (tls %s)" % r.get("tls")
        err = " ".join((r.get("error") or "").split()).replace("|", "\\|")
        return "refused: ``%s``" % (err[:100] + ("..." if len(err) > 100 else ""))
    lines = ["| client | " + " | ".join(CASE_COLUMNS) + " |",
             "|---" * (len(CASE_COLUMNS) + 1) + "|"]
    for name, results in sorted(record.items()):
        by_id = {r.get("id"): r for r in results}
        lines.append("| %s | " % name + " | ".join(
            cell(by_id[c]) if c in by_id else "-" for c in CASE_COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", default="")
    ap.add_argument("--build", default=os.path.join(SRC, "build"),
                    help="the meson build folder (the @BUILD@ of adapter manifests)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--require-all", action="store_true")
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("--json-out", help="write every hello and result here (JSON)")
    ap.add_argument("--markdown", help="write the observed behaviour as a Markdown table here")
    args = ap.parse_args()
    global BUILD
    BUILD = os.path.abspath(args.build)
    if not os.path.exists(os.path.join(PGBIN, "postgres")) or not shutil.which("openssl"):
        print("skip: need %s/postgres and openssl" % PGBIN)
        return 77
    selected = set(filter(None, args.clients.split(",")))
    base = tempfile.mkdtemp(prefix="pgtls-drivers-")
    os.chmod(base, 0o755)
    certs = os.path.join(base, "certs")
    os.makedirs(certs)
    make_certs(certs)
    pg = Postgres(os.path.join(base, "pg"), certs)
    os.makedirs(pg.base)
    passed = failed = skipped = 0
    failures = []
    record = {}
    try:
        pg.start()
        home = os.path.join(base, "home")
        os.makedirs(home)
        home_with_root = os.path.join(base, "home-root")
        os.makedirs(os.path.join(home_with_root, ".postgresql"))
        shutil.copy(os.path.join(certs, "root.pem"),
                    os.path.join(home_with_root, ".postgresql", "root.crt"))

        def case(cid, sslmode, root, p12=None):
            return {"id": cid, "host": HOST, "hostaddr": "127.0.0.1", "port": pg.port,
                    "sslmode": sslmode, "sslrootcert": root,
                    "truststore_p12": p12, "truststore_password": "changeit" if p12 else None,
                    "user": USER, "password": PASSWORD, "dbname": "postgres",
                    "query": "SELECT ssl_is_used()", "timeout_ms": 8000,
                    "env": {"HOME": home}, "application_name": "pgtls"}

        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # accepts (kernel backlog) and never answers
        silent_port = silent.getsockname()[1]
        right = os.path.join(certs, "root.pem")
        wrong = os.path.join(certs, "wrong.pem")
        for name, argv, program, expect in adapters(selected):
            if not os.path.exists(program):
                msg = "%s: not installed (%s missing)" % (name, program)
                if args.require_all:
                    failed += 1
                    failures.append(msg)
                else:
                    skipped += 1
                    print("skip " + msg)
                continue
            checks = []
            t0 = time.monotonic()
            # The adapter starts with a hostile environment: every case must behave as if
            # none of it were set (case-protocol.md: PG*, SSL_CERT_*, NODE_EXTRA_CA_CERTS
            # are removed before each case), so the checks below also test isolation.
            hostile = dict(os.environ, PGSSLMODE="disable", PGSSLROOTCERT=wrong,
                           PGHOST="nowhere.invalid", PGUSER="nobody", PGPASSWORD="wrong",
                           SSL_CERT_FILE=wrong, NODE_EXTRA_CA_CERTS=wrong)
            ad = Adapter(argv, env=hostile)
            try:
                hello = ad.readline(120)
                for field in ("client", "version", "tls_library", "runtime", "build"):
                    checks.append(("hello has %s" % field, bool(hello.get(field)), hello))
                checks.append(("hello names the adapter", hello.get("client") == name, hello))
                r = ad.ask(json.dumps(case("vf-right", "verify-full", right,
                                           os.path.join(certs, "root.p12"))))
                chain = r.get("chain")
                checks.append(("the chain, when reported, starts with the leaf (RFC 2253, CN first)",
                               chain is None or (isinstance(chain, list) and chain
                                                 and all(isinstance(x, str) and x for x in chain)
                                                 and chain[0].startswith("CN=" + HOST)), r))
                if str(expect.get("vf-right", "")).startswith("refused"):
                    # A documented deviation (adapter.json smoke_expect): the driver
                    # cannot take the root this way; it must still answer with an error.
                    checks.append(("verify-full with the right root is refused as documented",
                                   r.get("connected") is False and bool(r.get("error")), r))
                else:
                    checks.append(("verify-full with the right root connects over TLS",
                                   r.get("connected") is True and r.get("tls") is True
                                   and r.get("query_result") == "t" and r.get("id") == "vf-right", r))
                r = ad.ask(json.dumps(case("vf-wrong", "verify-full", wrong,
                                           os.path.join(certs, "wrong.p12"))))
                checks.append(("verify-full with a wrong root is refused",
                               r.get("connected") is False and bool(r.get("error"))
                               and r.get("id") == "vf-wrong", r))
                r = ad.ask(json.dumps(case("require-none", "require", None)))
                checks.append(("require with no root answers",
                               r.get("id") == "require-none" and (
                                   r.get("connected") is True or bool(r.get("error"))
                                   or bool(r.get("unsupported"))), r))
                # Per-case environment: HOME with ~/.postgresql/root.crt (libpq's
                # default root file) and NODE_EXTRA_CA_CERTS (read by Node at start-up).
                for cid, mode, root, env in (
                        ("require-right", "require", right, {"HOME": home}),
                        ("home-root", "verify-full", None, {"HOME": home_with_root}),
                        ("node-extra-ca", "verify-full", None,
                         {"HOME": home, "NODE_EXTRA_CA_CERTS": right})):
                    cs = case(cid, mode, root)
                    cs["env"] = env
                    r = ad.ask(json.dumps(cs))
                    want = str(expect.get(cid, "answers"))
                    if want.startswith("connects"):
                        ok = r.get("connected") is True and r.get("tls") is True
                    elif want.startswith("refused"):
                        ok = r.get("connected") is False and bool(r.get("error") or r.get("unsupported"))
                    else:
                        ok = r.get("id") == cid and (r.get("connected") is True or bool(r.get("error"))
                                                     or bool(r.get("unsupported")))
                    checks.append(("%s with %s: %s" % (mode, cid, want.split(":")[0]),
                                   ok and r.get("id") == cid, r))
                # An optional field the adapter does not list in its features must be
                # answered unsupported without connecting (case-protocol.md).
                cs = case("min-proto", "require", right)
                cs["ssl_min_protocol_version"] = "TLSv1.2"
                r = ad.ask(json.dumps(cs))
                if ("ssl_min_protocol_version" in (hello.get("features") or [])
                        and str(expect.get("min-proto", "")).startswith("refused")):
                    # A documented deviation (adapter.json smoke_expect "min-proto"):
                    # the build passes the field on and the driver refuses the case
                    # (sqlalchemy-asyncpg-sslmode: every URL with sslmode); it must
                    # answer with that error, never call the field unsupported.
                    checks.append(("ssl_min_protocol_version (a listed feature) is passed on and refused as documented",
                                   r.get("connected") is False and bool(r.get("error"))
                                   and not r.get("unsupported") and r.get("id") == "min-proto", r))
                elif "ssl_min_protocol_version" in (hello.get("features") or []):
                    checks.append(("ssl_min_protocol_version (a listed feature) is honoured",
                                   r.get("connected") is True and r.get("id") == "min-proto", r))
                else:
                    checks.append(("ssl_min_protocol_version (not a feature) is unsupported",
                                   bool(r.get("unsupported")) and r.get("connected") is False, r))
                # A server that accepts TCP and never answers: an error within the
                # deadline (libpq rounds connect_timeout up to 2 s), then the next case.
                cs = case("silent", "require", None)
                cs["port"] = silent_port
                cs["timeout_ms"] = 2000
                t_case = time.monotonic()
                r = ad.ask(json.dumps(cs), timeout=15)
                took = time.monotonic() - t_case
                checks.append(("a silent server gets an error within the deadline (%.1f s)" % took,
                               r.get("connected") is False and bool(r.get("error"))
                               and r.get("id") == "silent" and took < 8, r))
                r = ad.ask('{"id": "broken", "port": ')
                checks.append(("a malformed line gets an error result",
                               r.get("connected") is False and bool(r.get("error")), r))
                r = ad.ask(json.dumps({"id": "bad-types", "port": "x", "env": {"HOME": home}}))
                checks.append(("a case with bad field types gets an error result",
                               r.get("connected") is False and bool(r.get("error"))
                               and r.get("id") == "bad-types", r))
                r = ad.ask(json.dumps(case("vf-again", "verify-full", right,
                                           os.path.join(certs, "root.p12"))))
                if str(expect.get("vf-right", "")).startswith("refused"):
                    checks.append(("the adapter keeps running after bad cases",
                                   r.get("id") == "vf-again" and bool(r.get("error")), r))
                else:
                    checks.append(("the adapter keeps running after bad cases",
                                   r.get("connected") is True and r.get("id") == "vf-again", r))
            except (TimeoutError, EOFError, ValueError) as exc:
                checks.append(("adapter answered every case", False, str(exc)))
            finally:
                ad.close()
            record[name] = [d for _, _, d in checks if isinstance(d, dict)]
            # --describe prints the hello line only; flags run one case (one-shot).
            try:
                d = subprocess.run(argv + ["--describe"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, timeout=120)
                lines = d.stdout.splitlines()
                checks.append(("--describe prints one hello line and exits 0",
                               d.returncode == 0 and len(lines) == 1
                               and json.loads(lines[0]).get("client") == name, d.stdout))
                one = case("one-shot-1", "verify-full", right, os.path.join(certs, "root.p12"))
                flags = []
                for k, v in one.items():
                    if k == "env":
                        for ek, ev in v.items():
                            flags += ["--env", "%s=%s" % (ek, ev)]
                    elif v is not None:
                        flags += ["--" + k, str(v)]
                o = subprocess.run(argv + flags, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, timeout=120)
                lines = o.stdout.splitlines()
                res = json.loads(lines[-1]) if len(lines) == 2 else {}
                want_conn = not str(expect.get("vf-right", "")).startswith("refused")
                checks.append(("one-shot flags run one case",
                               o.returncode == 0 and res.get("id") == "one-shot-1"
                               and res.get("connected") is want_conn, o.stdout + o.stderr[-500:]))
                for label, bad in (("a non-integer --port", ["--port", "x"]),
                                   ("--env without NAME=VALUE", ["--env", "NOEQUALS"]),
                                   ("a flag without a value", ["--host"])):
                    b = subprocess.run(argv + bad, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, timeout=120)
                    checks.append(("one-shot refuses %s with exit status 2" % label,
                                   b.returncode == 2 and ("adapter" in b.stdout + b.stderr),
                                   b.stdout[-300:] + b.stderr[-300:]))
            except (subprocess.TimeoutExpired, ValueError) as exc:
                checks.append(("--describe and one-shot answer", False, str(exc)))
            for label, ok, detail in checks:
                if ok:
                    passed += 1
                else:
                    failed += 1
                    failures.append("%s: %s: %s" % (name, label, json.dumps(detail)[:600]))
                if args.verbose or not ok:
                    print("%s %s: %s" % ("ok  " if ok else "FAIL", name, label))
                if args.verbose and isinstance(detail, dict) and "elapsed_ms" in detail:
                    print("     " + json.dumps({k: v for k, v in detail.items() if v is not None})[:400])
            print("%s: %d checks in %.1f s" % (name, len(checks), time.monotonic() - t0))
    finally:
        pg.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print("kept " + base)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(record, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown_table(record))
    for f in failures:
        print("FAIL " + f)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
