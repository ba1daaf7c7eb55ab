#!/usr/bin/env python3
"""Integration tests of one C adapter against a real PostgreSQL server.

    adapters_integration.py --adapter libpq --build BUILD_DIR --src SOURCE_DIR

Starts PostgreSQL with a TLS chain made here (pgserver.py), then runs every
row of CASES through the adapter twice: all rows in one batch process (the
runner's way), and each row as a one-shot command line (the repro way). Each
row names the behaviour it checks; expectations differ per adapter where the
clients differ (psql prefixes "psql: error: ", s_client stops at TLS).

Exit status: 0 all passed, 1 a test failed, 77 skipped (no PostgreSQL server
installed). The last line is "N passed, N failed".

Python 3 standard library only.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgserver  # noqa: E402

SKIP = 77


def load_manifest(src, build, name):
    """The adapter's argv from clients/<name>/adapter.json, placeholders
    resolved as docs/adapters.md describes."""
    folder = os.path.join(src, "clients", name)
    with open(os.path.join(folder, "adapter.json")) as f:
        manifest = json.load(f)
    subst = {"@BUILD@": build, "@SRC@": src, "@DIR@": folder}
    argv = []
    for arg in manifest["argv"]:
        for k, v in subst.items():
            arg = arg.replace(k, v)
        argv.append(arg)
    return manifest, argv


def case_flags(case):
    """One-shot flags for a case (docs/case-protocol.md, "One-shot mode")."""
    flags = []
    for k, v in case.items():
        if v is None:
            continue
        if k == "env":
            for name, value in v.items():
                flags += ["--env", f"{name}={value}"]
        elif k == "connect_options":
            flags += ["--connect_options", json.dumps(v)]
        else:
            flags += ["--" + k, str(v)]
    return flags


class HungServer:
    """A loopback listener that accepts connections and never answers: the
    client's SSLRequest gets no 'S', so only a timeout ends the attempt."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                continue

    def close(self):
        self.stop = True
        self.thread.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()


class Env:
    """What the rows need: the server, homes with and without root.crt."""

    def __init__(self, server, hung, tmp):
        self.s = server
        self.hung = hung
        self.tmp = tmp
        self.empty_home = self.home("empty", None)
        self.stale_home = self.home("stale", server.certs["wrong_root"])
        self.good_home = self.home("good", server.certs["root"])

    def home(self, name, root):
        d = os.path.join(self.tmp, "home-" + name)
        os.makedirs(os.path.join(d, ".postgresql"))
        if root:
            shutil.copy(root, os.path.join(d, ".postgresql", "root.crt"))
        return d

    def case(self, cid, **kw):
        c = {"id": cid, "host": pgserver.HOST, "hostaddr": "127.0.0.1", "port": self.s.port,
             "sslmode": "verify-full", "sslrootcert": self.s.certs["root"],
             "user": pgserver.USER, "password": pgserver.PASSWORD, "dbname": "postgres",
             "query": "SELECT ssl_is_used()", "timeout_ms": 10000,
             "env": {"HOME": self.empty_home}}
        c.update(kw)
        return c


def libpq_text(env, text, port=None):
    """libpq's error line for a failed connection to hostaddr 127.0.0.1."""
    return f'connection to server at "127.0.0.1", port {port or env.s.port} failed: {text}'


def client_error(adapter, env, text):
    """The verbatim error text each libpq-based adapter must report."""
    line = libpq_text(env, text)
    if adapter == "psql":
        return "psql: error: " + line
    return line


def rows(env, adapter, hello):
    """(sentence, case, check) rows; check(result) returns a list of problems."""
    tls_only = adapter == "openssl-s_client"
    R = []

    def expect(cond, what, problems):
        if not cond:
            problems.append(what)

    # 1
    def ok_check(r):
        p = []
        expect(r.get("connected") is True, "connected is true", p)
        expect(r.get("tls") is True, "tls is true", p)
        expect(str(r.get("tls_version") or "").startswith("TLSv1."), "tls_version TLSv1.x", p)
        expect(bool(r.get("cipher")), "cipher set", p)
        expect(r.get("error") is None, "no error", p)
        if tls_only:
            expect(r.get("notes") == "tls-only", 'notes "tls-only"', p)
            expect(r.get("query_result") is None, "no query result", p)
        else:
            expect(r.get("query_result") == "t", 'query_result "t"', p)
        if adapter != "psql":
            chain = r.get("chain") or []
            expect(len(chain) == 2 and chain[0].startswith(f"CN={pgserver.HOST},")
                   and chain[1].startswith("CN=pgtls Test Issuing CA 01,"),
                   "chain is leaf + intermediate as the server sent it", p)
        if adapter == "libpq":
            vc = (r.get("extra") or {}).get("verified_chain") or []
            expect(len(vc) == 3 and vc[2].startswith("CN=pgtls Test Root CA,"),
                   "verified chain ends at the root", p)
        return p

    R.append(("verify-full with the right root connects over TLS",
              env.case("verify-full/right-root"), ok_check))

    # 2
    def wrong_root_check(r):
        p = []
        expect(r.get("connected") is False, "connected is false", p)
        if tls_only:
            expect("verify error:num=20:unable to get local issuer certificate"
                   in (r.get("error") or ""), "s_client's verify error 20", p)
            expect(r.get("error_code") == "verify-error:20", "error_code verify-error:20", p)
            expect(bool(r.get("chain")), "the chain the server sent is still reported", p)
        else:
            want = client_error(adapter, env, "SSL error: certificate verify failed\n")
            expect(r.get("error") == want, f"error is exactly {want!r}", p)
        return p

    R.append(("verify-full with a wrong root fails with the client's verbatim text",
              env.case("verify-full/wrong-root", sslrootcert=env.s.certs["wrong_root"]),
              wrong_root_check))

    # 3
    def mismatch_check(r):
        p = []
        expect(r.get("connected") is False, "connected is false", p)
        if tls_only:
            expect("num=62:hostname mismatch" in (r.get("error") or ""),
                   "s_client's verify error 62", p)
        else:
            want = client_error(adapter, env, f'server certificate for "{pgserver.HOST}" '
                                '(and 1 other name) does not match host name '
                                '"wrong.example.com"\n')
            expect(r.get("error") == want, f"error is exactly {want!r}", p)
        return p

    R.append(("verify-full rejects a certificate issued for another host name",
              env.case("verify-full/host-mismatch", host="wrong.example.com"), mismatch_check))

    # 4
    def stale_check(r):
        p = []
        expect(r.get("connected") is False, "connected is false", p)
        if tls_only:
            expect("num=20:unable to get local issuer certificate" in (r.get("error") or ""),
                   "s_client verifies with the stale root.crt and fails", p)
        else:
            want = client_error(adapter, env, "SSL error: certificate verify failed\n")
            expect(r.get("error") == want, f"error is exactly {want!r}", p)
        return p

    R.append(("require with a stale ~/.postgresql/root.crt under HOME fails like verify-ca",
              env.case("require/stale-home-root", sslmode="require", sslrootcert=None,
                       env={"HOME": env.stale_home}), stale_check))

    # 5
    def require_plain_check(r):
        p = []
        expect(r.get("connected") is True, "connected is true", p)
        expect(r.get("tls") is True, "tls is true", p)
        if adapter in ("libpq", "openssl-s_client"):
            expect((r.get("extra") or {}).get("verified") is False, "no verification ran", p)
        return p

    R.append(("require without any root file connects without verifying",
              env.case("require/no-root-file", sslmode="require", sslrootcert=None,
                       env={"HOME": env.empty_home}), require_plain_check))

    # 6
    missing = os.path.join(env.tmp, "no-such-dir", "root.crt")

    def missing_check(r):
        p = []
        expect(r.get("connected") is False, "connected is false", p)
        if tls_only:
            expect(f"fopen({missing}" in (r.get("error") or ""),
                   "s_client names the missing file", p)
        else:
            want = client_error(adapter, env, f'root certificate file "{missing}" does not exist\n')
            expect((r.get("error") or "").startswith(want), f"error starts with {want!r}", p)
        return p

    R.append(("verify-ca with a missing root file names the file",
              env.case("verify-ca/missing-root-file", sslmode="verify-ca", sslrootcert=missing),
              missing_check))

    # 7
    def prefer_check(r):
        p = []
        if tls_only:
            expect(bool(r.get("unsupported")), "prefer is unsupported for s_client", p)
            expect(r.get("connected") is False, "connected is false", p)
        else:
            expect(r.get("connected") is True, "connected is true", p)
            expect(r.get("tls") is False, "the final connection is plaintext (tls false)", p)
            expect(r.get("query_result") == "f", 'the server agrees: ssl_is_used() is "f"', p)
        return p

    R.append(("prefer with a stale root.crt falls back to plaintext",
              env.case("prefer/stale-home-root", sslmode="prefer", sslrootcert=None,
                       env={"HOME": env.stale_home}), prefer_check))

    # 8
    def direct_check(r):
        p = []
        if "sslnegotiation" not in hello.get("features", []):
            expect(bool(r.get("unsupported")) and "sslnegotiation" in r["unsupported"],
                   "unsupported names sslnegotiation", p)
        else:
            # A PostgreSQL older than 17 does not speak direct TLS.
            expect(r.get("connected") is False or env.s_major >= 17,
                   "direct TLS fails against PostgreSQL < 17", p)
        return p

    R.append(("sslnegotiation=direct is unsupported where the client lacks it",
              env.case("verify-full/direct", sslnegotiation="direct"), direct_check))

    # 9
    def hung_check(r):
        p = []
        expect(r.get("connected") is False, "connected is false", p)
        expect("timeout" in (r.get("error") or ""), 'error mentions "timeout"', p)
        expect(r.get("elapsed_ms", 0) < 6000, "the attempt ended near timeout_ms", p)
        return p

    R.append(("a server that never answers is reported as a timeout",
              env.case("verify-full/hung-server", port=env.hung.port, timeout_ms=1500),
              hung_check))

    # 10
    def isolated_check(r):
        p = []
        expect(r.get("connected") is True, "connected is true: the runner's PGSSLROOTCERT "
               "and SSL_CERT_FILE did not leak into the case", p)
        return p

    R.append(("the runner's PG* variables do not leak into a case",
              env.case("verify-full/home-root", sslrootcert=None, env={"HOME": env.good_home}),
              isolated_check))

    # 11
    def query_error_check(r):
        p = []
        if tls_only:
            expect(r.get("connected") is True, "s_client ignores the query: connected", p)
            return p
        expect(r.get("connected") is True, "connected is true (the login worked)", p)
        expect("function no_such_function() does not exist" in (r.get("error") or ""),
               "the server's error text", p)
        if adapter == "libpq":
            expect(r.get("error_code") == "42883", "SQLSTATE 42883 in error_code", p)
        if adapter == "psql":
            # -c commands fail with 1 even under ON_ERROR_STOP (3 is for scripts)
            expect((r.get("extra") or {}).get("exit_status") == 1, "psql exit status 1", p)
        return p

    R.append(("a failing query after a good login is an error with connected true",
              env.case("verify-full/bad-query", query="SELECT no_such_function()"),
              query_error_check))

    # 12
    def tls12_check(r):
        p = []
        expect(r.get("connected") is True, "connected is true", p)
        expect(r.get("tls_version") == "TLSv1.2", "tls_version TLSv1.2", p)
        return p

    R.append(("ssl_max_protocol_version=TLSv1.2 caps the handshake at TLS 1.2",
              env.case("verify-full/max-tls12", ssl_max_protocol_version="TLSv1.2",
                       sslsni="0"), tls12_check))

    # 13
    def cb_check(r):
        p = []
        if tls_only:
            expect(bool(r.get("unsupported")) and "channel_binding" in r["unsupported"],
                   "unsupported names channel_binding", p)
        else:
            expect(r.get("connected") is True and r.get("query_result") == "t",
                   "SCRAM-SHA-256-PLUS login with channel binding connects", p)
        return p

    R.append(("channel_binding=require logs in with SCRAM-SHA-256-PLUS, or is unsupported",
              env.case("verify-full/channel-binding", channel_binding="require"), cb_check))

    # 14
    def options_check(r):
        p = []
        if tls_only:
            expect(bool(r.get("unsupported")), "connect_options are unsupported", p)
        else:
            expect(r.get("connected") is True, "connected with gssencmode=disable", p)
        return p

    R.append(("connect_options pass extra conninfo keywords",
              env.case("verify-full/connect-options", connect_options={"gssencmode": "disable"}),
              options_check))

    def bad_option_check(r):
        p = []
        expect(bool(r.get("unsupported")), "an unknown keyword is unsupported", p)
        if not tls_only:
            expect("no_such_keyword" in (r.get("unsupported") or ""), "the reason names it", p)
        return p

    R.append(("an option the client does not know is unsupported, not guessed",
              env.case("verify-full/unknown-option", connect_options={"no_such_keyword": "1"}),
              bad_option_check))

    # 15
    def value_check(want):
        def check(r):
            p = []
            expect(r.get("connected") is True, "connected is true", p)
            if not tls_only:
                expect(r.get("query_result") == want and "query_result" in r,
                       f"query_result {want!r}", p)
            return p
        return check

    R.append(("SQL NULL is reported as null",
              env.case("verify-full/null", query="SELECT NULL::text, 'x'"), value_check(None)))
    R.append(("an empty string is reported as an empty string, not null",
              env.case("verify-full/empty", query="SELECT ''::text"), value_check("")))

    # 16
    libpq_num = int(hello.get("libpq") or 0)

    def system_check(r):
        p = []
        if tls_only or libpq_num >= 160000:
            expect(r.get("connected") is True,
                   "sslrootcert=system trusts the case's SSL_CERT_FILE", p)
        else:
            want = client_error(adapter, env, 'root certificate file "system" does not exist\n')
            expect((r.get("error") or "").startswith(want),
                   f"libpq < 16 reads 'system' as a file name: {want!r}", p)
        return p

    R.append(("sslrootcert=system uses SSL_CERT_FILE from the case env (libpq 16+)",
              env.case("verify-full/system", sslrootcert="system",
                       env={"HOME": env.empty_home, "SSL_CERT_FILE": env.s.certs["root"]}),
              system_check))
    return R


def check_hello(adapter, hello):
    p = []
    if hello.get("protocol") != 1:
        p.append("protocol is 1")
    if hello.get("client") != adapter:
        p.append(f"client is {adapter!r}")
    for k in ("version", "tls_library", "build"):
        if not hello.get(k):
            p.append(f"{k} is non-empty")
    if adapter in ("libpq", "psql") and not str(hello.get("libpq") or "").isdigit():
        p.append("libpq is a version number")
    if not isinstance(hello.get("features"), list):
        p.append("features is a list")
    return p


def run_batch(argv, lines, timeout, env):
    r = subprocess.run(argv, input="".join(lines), capture_output=True, text=True,
                       timeout=timeout, env=env)
    out = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    return r.returncode, out, r.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--src", required=True)
    args = ap.parse_args()

    manifest, argv = load_manifest(args.src, args.build, args.adapter)
    for prog in manifest.get("requires", []):
        if not shutil.which(prog):
            print(f"SKIP: {prog} is not installed")
            return SKIP

    passed = failed = 0

    def report(name, problems, detail=None):
        nonlocal passed, failed
        if problems:
            failed += 1
            print(f"FAIL: {name}: expected {'; '.join(problems)}")
            if detail is not None:
                print(f"      got: {json.dumps(detail)}")
        else:
            passed += 1
            print(f"ok: {name}")

    # The runner's own environment carries variables a case must not see.
    adapter_env = dict(os.environ)
    adapter_env["PGSSLROOTCERT"] = "/nonexistent/pgtls-leak/root.crt"
    adapter_env["PGSSLMODE"] = "disable"
    adapter_env["SSL_CERT_FILE"] = "/nonexistent/pgtls-leak/bundle.pem"

    describe = subprocess.run(argv + ["--describe"], capture_output=True, text=True, timeout=30)
    hello_lines = describe.stdout.splitlines()
    hello = json.loads(hello_lines[0]) if hello_lines else {}
    report("--describe prints one hello line with every field filled",
           check_hello(args.adapter, hello) + ([] if len(hello_lines) == 1 and
                                                describe.returncode == 0
                                                else ["exactly one line and exit 0"]), hello)

    try:
        server_cm = pgserver.PgServer()
    except pgserver.Skip as e:
        print(f"SKIP: {e}")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="pgtls-adapter-test-")
    hung = HungServer()
    try:
        with server_cm as server:
            server.s_major = int(os.path.basename(os.path.dirname(server.bindir)))
            env = Env(server, hung, tmp)
            env.s_major = server.s_major
            table = rows(env, args.adapter, hello)

            # Batch: every row in one process, with two malformed lines among them.
            lines = [json.dumps(c) + "\n" for _, c, _ in table]
            lines.insert(1, "{this is not json\n")
            lines.insert(3, json.dumps({"id": "bad-port", "port": "5432"}) + "\n")
            rc, out, stderr = run_batch(argv, lines, 180, adapter_env)
            report("batch mode exits 0 at the end of input", [] if rc == 0 else
                   [f"exit 0, got {rc}; stderr {stderr[-500:]!r}"])
            report("batch mode writes the hello line first",
                   check_hello(args.adapter, out[0]) if out else ["a hello line"],
                   out[0] if out else None)
            results = out[1:]
            report("batch mode answers every line, malformed ones included",
                   [] if len(results) == len(lines) else
                   [f"{len(lines)} results, got {len(results)}"])
            by_id = {r.get("id"): r for r in results}
            bad = [r for r in results if r.get("id") is None]
            report("a line that is not JSON gets an error result with id null",
                   [] if bad and bad[0].get("connected") is False and
                   str(bad[0].get("error", "")).startswith("adapter: cannot parse case:")
                   else ["an 'adapter: cannot parse case:' error"], bad[0] if bad else None)
            bp = by_id.get("bad-port", {})
            report("a case with a string port gets an error result with its id",
                   [] if 'field "port" must be an integer' in str(bp.get("error")) else
                   ['error about field "port"'], bp)
            for name, case, check in table:
                r = by_id.get(case["id"])
                report(f"batch: {name}", check(r) if r else ["a result"], r)

            # One-shot: each row as flags, one process each.
            for name, case, check in table:
                flags = case_flags(case)
                p = subprocess.run(argv + flags, capture_output=True, text=True, timeout=60,
                                   env=adapter_env)
                outl = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
                if len(outl) != 2 or p.returncode != 0:
                    report(f"one-shot: {name}", ["hello + result lines and exit 0"],
                           {"rc": p.returncode, "stdout": p.stdout, "stderr": p.stderr[-500:]})
                    continue
                report(f"one-shot: {name}", check(outl[1]), outl[1])

            p = subprocess.run(argv + ["--port", "not-a-number"], capture_output=True,
                               text=True, timeout=30)
            report("one-shot mode rejects a bad flag value with exit 2",
                   [] if p.returncode == 2 and "integer" in p.stderr else
                   [f"exit 2 and a message, got {p.returncode} {p.stderr!r}"])
            if failed:
                log = server.server_log()
                print("--- server log (last 3000 chars) ---\n" + log[-3000:])
    finally:
        hung.close()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
