#!/usr/bin/env python3
"""Smoke test of one C adapter against pgtls's own mock server.

    adapters_mock.py --adapter libpq --build BUILD_DIR --src SOURCE_DIR

Generates the fixtures (`pgtls ca gen`), starts `pgtls mock` with a few
scenarios on free loopback ports, and runs a handful of cases through the
adapter in batch mode: the new Azure chain trusted and untrusted, a host-name
mismatch, an expired leaf, and protocol bounds that do not overlap. It checks
the adapter's results and that the mock logged a connection for each case.
The full matrix is the runner's job (`pgtls run`); this only shows that the
adapters and the mock understand each other.

Exit status 0 / 1 / 77 (skipped: the build has no pgtls binary). Last line
"N passed, N failed". Python 3 standard library only.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from adapters_integration import load_manifest  # noqa: E402

SKIP = 77
HOST = "mydemoserver.postgres.database.azure.com"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, deadline):
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--src", required=True)
    args = ap.parse_args()

    pgtls = os.path.join(args.build, "cli", "pgtls")
    if not os.access(pgtls, os.X_OK):
        print("SKIP: no pgtls binary in the build")
        return SKIP
    manifest, argv = load_manifest(args.src, args.build, args.adapter)
    for prog in manifest.get("requires", []):
        if not shutil.which(prog):
            print(f"SKIP: {prog} is not installed")
            return SKIP
    tls_only = manifest.get("tls_only", False)

    tmp = tempfile.mkdtemp(prefix="pgtls-adapter-mock-")
    mock = None
    passed = failed = 0
    try:
        fx = os.path.join(tmp, "fixtures")
        subprocess.run([pgtls, "ca", "gen", "--out", fx], check=True, capture_output=True,
                       timeout=120)
        with open(os.path.join(fx, "index.json")) as f:
            index = json.load(f)

        def store(name):
            return os.path.join(fx, index["stores"][name]["pem"])

        scenarios = ["azure-new", "wrong-host", "expired-leaf", "tls13-only"]
        ports = {s: free_port() for s in scenarios}
        events = os.path.join(tmp, "events.jsonl")
        cmd = [pgtls, "mock", "--fixtures", fx, "--event-log", events]
        for s in scenarios:
            cmd += ["--scenario", s, "--port", str(ports[s])]
        mock = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        deadline = time.monotonic() + 20
        if not all(wait_port(p, deadline) for p in ports.values()):
            print("FAIL: the mock did not start listening")
            return 1
        home = os.path.join(tmp, "home")
        os.makedirs(home)

        def case(cid, scenario, **kw):
            c = {"id": cid, "host": HOST, "hostaddr": "127.0.0.1", "port": ports[scenario],
                 "sslmode": "verify-full", "sslrootcert": store("root-g2"), "user": "pgtls",
                 "password": "pgtls-secret", "dbname": "postgres",
                 "query": "SELECT ssl_is_used()", "timeout_ms": 5000, "env": {"HOME": home}}
            c.update(kw)
            return c

        def connected(r):
            p = [] if r.get("connected") is True and r.get("tls") is True else ["connected over TLS"]
            if not tls_only and r.get("query_result") != "t":
                p.append('query_result "t"')
            return p

        def failed_with(libpq_text, verify_code):
            def check(r):
                if r.get("connected") is not False:
                    return ["connected is false"]
                err = r.get("error") or ""
                if tls_only:
                    if verify_code is None:
                        return [] if err else ["an error text"]
                    return [] if r.get("error_code") == f"verify-error:{verify_code}" else \
                        [f"error_code verify-error:{verify_code}"]
                return [] if libpq_text in err else [f"error containing {libpq_text!r}"]
            return check

        table = [
            ("the new Azure chain verifies against DigiCert Global Root G2",
             case("azure-new/root-g2", "azure-new"), connected),
            ("the new Azure chain fails against a wrong root",
             case("azure-new/wrong-root", "azure-new", sslrootcert=store("wrong-root")),
             failed_with("certificate verify failed", 20)),
            ("verify-full rejects the wrong host name",
             case("wrong-host/verify-full", "wrong-host", sslrootcert=store("private-root")),
             failed_with("does not match host name", 62)),
            ("verify-ca accepts the wrong host name",
             case("wrong-host/verify-ca", "wrong-host", sslmode="verify-ca",
                  sslrootcert=store("private-root")), connected),
            ("an expired leaf fails verification",
             case("expired-leaf/verify-full", "expired-leaf", sslrootcert=store("private-root")),
             failed_with("certificate verify failed", 10)),
            ("a TLS 1.3-only server refuses a client capped at TLS 1.2",
             case("tls13-only/max-1.2", "tls13-only", ssl_max_protocol_version="TLSv1.2"),
             failed_with("protocol version", None)),
        ]
        hello = json.loads(subprocess.run(argv + ["--describe"], capture_output=True,
                                          text=True, timeout=30).stdout.splitlines()[0])

        def direct_check(r):
            if "sslnegotiation" not in hello.get("features", []):
                return [] if r.get("unsupported") else ["unsupported (no sslnegotiation)"]
            return connected(r)

        table.append(("direct TLS (sslnegotiation=direct, ALPN postgresql) connects",
                      case("azure-new/direct", "azure-new", sslnegotiation="direct"),
                      direct_check))
        lines = "".join(json.dumps(c) + "\n" for _, c, _ in table)
        r = subprocess.run(argv, input=lines, capture_output=True, text=True, timeout=120)
        results = {}
        for line in r.stdout.splitlines()[1:]:
            obj = json.loads(line)
            results[obj.get("id")] = obj
        for name, c, check in table:
            res = results.get(c["id"])
            problems = check(res) if res else ["a result"]
            if problems:
                failed += 1
                print(f"FAIL: {name}: expected {'; '.join(problems)}\n      got: {json.dumps(res)}")
            else:
                passed += 1
                print(f"ok: {name}")

        # Every case reached the mock: one event line per connection, on the
        # scenario's port (prefer-style retries would add more, never fewer).
        time.sleep(0.3)
        seen = {}
        if os.path.exists(events):
            with open(events) as f:
                for line in f:
                    ev = json.loads(line)
                    seen[ev.get("port")] = seen.get(ev.get("port"), 0) + 1
        want = {}
        for _, c, _ in table:
            if results.get(c["id"], {}).get("unsupported"):
                continue  # never connected, by design
            want[c["port"]] = want.get(c["port"], 0) + 1
        short = {p: n for p, n in want.items() if seen.get(p, 0) < n}
        if short:
            failed += 1
            print(f"FAIL: the mock logged a connection for every case: missing on ports {short}, "
                  f"logged {seen}")
        else:
            passed += 1
            print("ok: the mock logged a connection for every case")
    finally:
        if mock is not None:
            os.killpg(mock.pid, signal.SIGTERM)
            try:
                mock.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(mock.pid, signal.SIGKILL)
                mock.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
