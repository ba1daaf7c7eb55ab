#!/usr/bin/env python3
"""Trust worlds (docs/trust-worlds.md): integration tests, meson suite "integration".

  trust_world.py --build B --src S TEST_NAME

A real TLS client (CPython's ssl module, OpenSSL's default verify paths, i.e.
/etc/ssl/certs) connects to the embedded mock inside pgtls-world, the helper
every adapter starts through. The world's store decides, never the host's.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ARGS = None
HOST = "mydemoserver.postgres.database.azure.com"

# Connects like a PostgreSQL client (SSLRequest, then TLS) and verifies the
# chain and host name with OpenSSL's default store only.
CLIENT = r"""
import socket, ssl, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(struct.pack("!ii", 8, 80877103))
assert s.recv(1) == b"S"
ctx = ssl.create_default_context()
try:
    t = ctx.wrap_socket(s, server_hostname=sys.argv[2])
    print("verified", t.version())
except ssl.SSLCertVerificationError as e:
    print("refused", e.verify_message)
"""


def pgtls():
    return os.path.join(ARGS.build, "cli", "pgtls")


def helper():
    return os.path.join(ARGS.build, "runner", "pgtls-world")


def fixtures():
    return os.path.join(ARGS.build, "runner-it", "fixtures")


def run(argv, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run(argv, **kw)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def ensure_fixtures():
    if not os.path.exists(os.path.join(fixtures(), "index.json")):
        p = run([pgtls(), "ca", "gen", "--out", fixtures()], timeout=600)
        check(p.returncode == 0, "ca gen: %s" % p.stderr)


class Mock:
    def __init__(self, scenario):
        self.p = subprocess.Popen([pgtls(), "mock", "--scenario", scenario, "--fixtures",
                                   fixtures()], stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        m = re.search(r"port=(\d+)", line)
        check(m, "mock did not say its port: %r" % line)
        self.port = m.group(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.p.terminate()
        self.p.wait(10)


def translated_world(tmp, drop_twin=None):
    """/etc/ssl/certs translated into tmp/certs; drop_twin removes one twin."""
    certs = os.path.join(tmp, "certs")
    p = run([pgtls(), "ca", "translate", "/etc/ssl/certs", "--format", "dir", "--out", certs,
             "--fixtures", fixtures()])
    check(p.returncode == 0, "translate: %s %s" % (p.stdout, p.stderr))
    if drop_twin:
        twin = open(os.path.join(fixtures(), "certs", drop_twin + ".pem")).read().strip()
        dropped = 0
        for name in os.listdir(certs):
            path = os.path.join(certs, name)
            text = open(path).read()
            if name == "ca-certificates.crt":
                check(twin in text, "the translated bundle lacks the twin %s" % drop_twin)
                open(path, "w").write(text.replace(twin + "\n", ""))
            elif text.strip() == twin:
                os.remove(path)
                dropped += 1
        check(dropped == 1, "expected one hashed file for %s, found %d" % (drop_twin, dropped))
    return certs


def connect(port, certs=None):
    argv = [sys.executable, "-c", CLIENT, port, HOST]
    if certs:
        argv = [helper(), "--bind", certs + "=/etc/ssl/certs", "--"] + argv
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    p = run(argv, env=env)
    check(p.returncode == 0, "client failed: %s %s" % (p.stdout, p.stderr))
    return p.stdout.strip()


def host_store_digest():
    h = hashlib.sha256()
    for name in sorted(os.listdir("/etc/ssl/certs")):
        h.update(name.encode())
        path = os.path.join("/etc/ssl/certs", name)
        if os.path.isfile(path):
            h.update(open(path, "rb").read())
    return h.hexdigest()


# ---------------------------------------------------------------- the tests

def a_client_in_a_world_without_the_g2_twin_really_fails_azure_new():
    ensure_fixtures()
    before = host_store_digest()
    with tempfile.TemporaryDirectory() as tmp, Mock("azure-new") as mock:
        full = translated_world(os.path.join(tmp, "full"))
        no_g2 = translated_world(os.path.join(tmp, "no-g2"), "digicert-global-root-g2")
        # The host's real store cannot verify a look-alike chain ...
        got = connect(mock.port)
        check(got.startswith("refused"), "host store verified a look-alike: %s" % got)
        # ... the translated world can ...
        got = connect(mock.port, full)
        check(got.startswith("verified"), "translated world: %s" % got)
        # ... and without the twin of G2 it cannot: nothing falls through to
        # the host's store or to the catalogue's isolated one.
        got = connect(mock.port, no_g2)
        check(got.startswith("refused") and "local issuer" in got, "world without G2: %s" % got)
    check(host_store_digest() == before, "the host's /etc/ssl/certs changed")
    with open("/proc/self/mountinfo") as f:
        check("/etc/ssl/certs" not in f.read(), "a world mount leaked into the host namespace")


def the_short_chain_fails_in_debians_translated_world_as_against_azure():
    ensure_fixtures()
    with tempfile.TemporaryDirectory() as tmp, Mock("azure-new-short") as mock:
        full = translated_world(tmp)
        got = connect(mock.port, full)
        check(got.startswith("refused"),
              "Debian's store has no Microsoft TLS RSA Root G2, yet the short chain: %s" % got)


def a_world_that_cannot_be_made_is_one_line_and_the_program_never_runs():
    with tempfile.TemporaryDirectory() as tmp:
        marker = os.path.join(tmp, "ran")
        prog = ["/bin/sh", "-c", "touch " + marker]
        cases = [
            (["--bind", "/nonexistent-pgtls-store=/etc/ssl/certs"], "translated store"),
            (["--bind", tmp + "=/nonexistent-pgtls-target"], "must exist on this host"),
            (["--bind", tmp + "=/etc/hostname"], "one is a folder"),
            (["--bogus", "x"], "usage"),
            ([], "no program"),
        ]
        for args, words in cases:
            argv = [helper()] + args + (["--"] + prog if args else [])
            p = run(argv)
            check(p.returncode == 126, "%s: exit %d" % (args, p.returncode))
            lines = p.stderr.strip().split("\n")
            check(len(lines) == 1 and lines[0].startswith("pgtls-world: ") and words in lines[0],
                  "%s: stderr %r" % (args, p.stderr))
            check(not os.path.exists(marker), "%s: the program ran" % args)


def an_unprivileged_user_gets_a_world_or_a_clear_error():
    """As nobody: a user namespace when the kernel allows it, else the one
    line saying how to allow it. Either way never the host's store silently."""
    if os.getuid() != 0 or not shutil.which("setpriv"):
        print("not root or no setpriv: skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        certs = os.path.join(tmp, "certs")
        os.makedirs(certs)
        open(os.path.join(certs, "ca-certificates.crt"), "w").write("world\n")
        os.chmod(os.path.join(certs, "ca-certificates.crt"), 0o644)
        p = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", helper(),
                 "--bind", certs + "=/etc/ssl/certs", "--", "cat",
                 "/etc/ssl/certs/ca-certificates.crt"])
        if p.returncode == 0:
            check(p.stdout == "world\n", "unprivileged world read %r" % p.stdout[:80])
        else:
            check(p.returncode == 126 and "private mount namespace" in p.stderr and
                  "unprivileged_userns_clone" in p.stderr, "no clear error: %r" % p.stderr)


def a_node_whose_bundle_cannot_be_read_marks_its_default_trust_rows():
    """An adapter started by a 'node' that cannot print tls.rootCertificates:
    one line, its default/system rows are errors naming it, the others run."""
    ensure_fixtures()
    with tempfile.TemporaryDirectory() as tmp:
        bindir = os.path.join(tmp, "bin")
        os.makedirs(bindir)
        node = os.path.join(bindir, "node")
        fake = os.path.join(ARGS.build, "runner", "rn-fake-adapter")
        with open(node, "w") as f:
            f.write('#!/bin/sh\nif [ "$1" = "-e" ]; then echo "no bundle" >&2; exit 3; fi\n'
                    'exec %s "$@"\n' % fake)
        os.chmod(node, 0o755)
        cdir = os.path.join(tmp, "clients", "fakenode")
        os.makedirs(cdir)
        with open(os.path.join(cdir, "adapter.json"), "w") as f:
            json.dump({"name": "fakenode", "argv": [node]}, f)
        suite = os.path.join(tmp, "t.suite")
        with open(suite, "w") as f:
            f.write("[suite]\nname = t\n[b]\nscenarios = azure-new\n"
                    "stores = default system root-g2\nsslmodes = verify-full\n")
        out = os.path.join(tmp, "out")
        p = run([pgtls(), "run", "--clients-dir", os.path.join(tmp, "clients"), "--suite", suite,
                 "--fixtures", fixtures(), "--out", out, "--no-progress", "--no-gen"])
        check(p.returncode in (0, 1), "run: %s" % p.stderr)
        check("cannot read the bundled roots of %s" % node in p.stderr, p.stderr)
        with open(os.path.join(out, "matrix.json")) as f:
            m = json.load(f)
        seen = {}
        for case in m["cases"]:
            for res in case["results"].values():
                seen[case["id"]] = res
        for cid in ("azure-new/default/verify-full", "azure-new/system/verify-full"):
            check("trust world: cannot read the bundled roots" in (seen[cid].get("error") or ""),
                  "%s: %s" % (cid, seen[cid].get("error")))
        check("trust world" not in (seen["azure-new/root-g2/verify-full"].get("error") or ""),
              "an explicit-store row was marked")


def stores_lists_real_snapshots_with_their_azure_roots_and_verdicts():
    ensure_fixtures()
    p = run([pgtls(), "stores", "--json", "--fixtures", fixtures()])
    check(p.returncode == 0, "stores: %s" % p.stderr)
    rows = {r["name"]: r for r in json.loads(p.stdout)}
    names = sorted(rows)
    check(len(rows) >= 6, "fewer than 6 snapshots: %s" % names)
    certifi_years = {n.split("@")[1][:4] for n in names if n.startswith("certifi@")}
    check(len(certifi_years) >= 2, "certifi releases of two years: %s" % names)
    debian = [r for n, r in rows.items() if n.startswith("debian-ca-certificates@")]
    check(len(debian) == 1, names)
    d = debian[0]
    check(d["azure_roots"]["G2"] and not d["azure_roots"]["MSTLSG2"], d["azure_roots"])
    check(d["verdicts"]["new"] == "ok" and d["verdicts"]["short"] == "untrusted", d["verdicts"])
    for n, r in rows.items():
        if r.get("error"):
            continue
        # a store holding G2 verifies the old and new chains, and the short
        # chain only with Microsoft TLS RSA Root G2
        if r["azure_roots"]["G2"]:
            check(r["verdicts"]["old"] == "ok" and r["verdicts"]["new"] == "ok", (n, r))
        check((r["verdicts"]["short"] == "ok") == r["azure_roots"]["MSTLSG2"], (n, r))
    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, "bad.pem")
        open(bad, "w").write("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
        p = run([pgtls(), "stores", "--file", bad, "--fixtures", fixtures()])
        line = [l for l in p.stdout.split("\n") if l.startswith("file@")]
        check(p.returncode == 0 and len(line) == 1 and "unreadable: " in line[0] and bad in line[0],
              "bad file: %r %r" % (p.stdout, p.stderr))
        p = run([pgtls(), "stores", "--file", os.path.join(tmp, "none.pem")])
        check(p.returncode == 2 and "no such file" in p.stderr, p.stderr)


def own_trust_rows_connect_where_the_real_store_verifies_and_fail_on_the_short_chain():
    """The rotation answer users look for first: with their own default trust,
    the drivers that verify against the platform or runtime store connect to
    the old and new chains and fail on the short one (no store on this host
    holds Microsoft TLS RSA Root G2), as against a real Azure server."""
    ensure_fixtures()
    wanted = {"pgx": "verify-full", "node-postgres": "verify-full",
              "node-postgres-node24": "verify-full", "pgjdbc-javatrust": "verify-full",
              "tokio-postgres": "require",
              # Bun's bundled roots get their twins through NODE_EXTRA_CA_CERTS as
              # Node's do; lib/pq reads the OS store as pgx; rustls-native-certs the
              # OS store; Temurin 25's cacerts.
              "bun-sql": "verify-full", "lib-pq": "verify-full",
              "tokio-postgres-rustls": "require", "pgjdbc-javatrust-jdk25": "verify-full"}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        p = run([pgtls(), "run", "--clients", ",".join(wanted), "--stores", "default",
                 "--scenarios", "azure-old,azure-new,azure-new-short", "--sslmodes",
                 "require,verify-full", "--fixtures", fixtures(), "--no-gen", "--out", out,
                 "--no-progress", "--jobs", "1"], timeout=600)
        check(p.returncode in (0, 1), "run: %s" % p.stderr)
        check("trust world: /etc/ssl/certs/ca-certificates.crt" in p.stdout, p.stdout[:300])
        with open(os.path.join(out, "matrix.json")) as f:
            m = json.load(f)
        got = {}
        for case in m["cases"]:
            for key, res in case["results"].items():
                got[(case["id"], key.split(" ")[0])] = res["observed"]
        for client, mode in wanted.items():
            if not any(k[1] == client for k in got):
                print("%s not installed: skipped" % client)
                continue
            for sc, want in (("azure-old", "connected-tls"), ("azure-new", "connected-tls"),
                             ("azure-new-short", "untrusted-chain")):
                cid = "%s/default/%s" % (sc, mode)
                check(got.get((cid, client)) == want,
                      "%s %s: %s, want %s" % (client, cid, got.get((cid, client)), want))


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("test")
    ARGS = ap.parse_args()
    fn = globals().get(ARGS.test)
    if not callable(fn):
        print("unknown test %s" % ARGS.test, file=sys.stderr)
        return 2
    fn()
    return 0


if __name__ == "__main__":
    sys.exit(main())
