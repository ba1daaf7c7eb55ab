#!/usr/bin/env python3
"""`meson install` into a temporary prefix, then the installed pgtls used from
another directory, as a driver's CI would: `ca gen`, `mock` (its printed psql
line connects), and a small `run` with the installed C adapters. The installed
binary must read the installed catalogue, suites and adapters, not the source
tree it was built from.

usage: install_test.py BUILD_DIR"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile


def check(cond, msg):
    if not cond:
        print("FAIL: " + msg)
        sys.exit(1)


def main():
    build = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="pgtls-install-")
    try:
        dest = os.path.join(tmp, "dest")
        p = subprocess.run(["meson", "install", "-C", build, "--destdir", dest, "--no-rebuild",
                            "--quiet"], capture_output=True, text=True)
        check(p.returncode == 0, "meson install failed: %s %s" % (p.stdout, p.stderr))
        found = [os.path.join(r, "pgtls") for r, _, files in os.walk(dest)
                 if "pgtls" in files and r.endswith("/bin")]
        check(len(found) == 1, "no single bin/pgtls under %s: %s" % (dest, found))
        pgtls = found[0]
        prefix = os.path.dirname(os.path.dirname(pgtls))
        check(os.path.isfile(os.path.join(prefix, "share", "pgtls", "certs-gen", "catalogue.ini")),
              "no catalogue under share/pgtls")
        work = os.path.join(tmp, "elsewhere")
        os.makedirs(work)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PGTLS_")}

        def pg(*args, **kw):
            return subprocess.run([pgtls] + list(args), cwd=work, env=env, capture_output=True,
                                  text=True, timeout=kw.get("timeout", 300))

        p = pg("ca", "gen", "--out", "fx")
        check(p.returncode == 0 and os.path.isfile(os.path.join(work, "fx", "index.json")),
              "ca gen: %s" % p.stderr)
        with open(os.path.join(work, "fx", "index.json")) as f:
            idx = json.load(f)
        check(idx["catalogue"].startswith(prefix),
              "the installed pgtls read the catalogue %s, not the installed one" % idx["catalogue"])

        p = pg("clients", "--json")
        clients = {c["name"]: c for c in json.loads(p.stdout)}
        check(clients.get("libpq", {}).get("usable") and clients.get("psql", {}).get("usable"),
              "installed C adapters unusable: %s" % p.stdout[:600])

        mock = subprocess.Popen([pgtls, "mock", "--scenario", "azure-new", "--fixtures", "fx"],
                                cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            lines = [mock.stdout.readline() for _ in range(3)]
            check(lines[0].startswith("listening scenario=azure-new"), "mock: %r" % lines)
            conninfo = re.search(r'connect: psql "([^"]+)"', lines[1]).group(1)
            penv = {k: v for k, v in env.items() if not k.startswith("PG")}
            penv["HOME"] = tmp
            penv["PGPASSWORD"] = idx["scenarios"]["azure-new"]["server"]["password"]
            q = subprocess.run(["psql", conninfo, "-XAtc", "SELECT ssl_is_used()"], env=penv,
                               capture_output=True, text=True, timeout=60)
            check(q.returncode == 0 and q.stdout.strip() == "t",
                  "psql with the installed mock's line: %s %s" % (q.stdout, q.stderr))
        finally:
            mock.send_signal(signal.SIGTERM)
            mock.wait(20)
        check(mock.returncode == 0, "mock exited %s" % mock.returncode)

        p = pg("run", "--clients", "libpq,psql", "--scenarios", "azure-old,azure-new",
               "--fixtures", "fx", "--no-progress")
        check(p.returncode == 0, "run: rc=%s %s" % (p.returncode, p.stderr[-800:]))
        latest = os.path.join(work, "out", "latest", "matrix.json")
        check(os.path.isfile(latest), "no out/latest/matrix.json after the installed run")
        with open(latest) as f:
            m = json.load(f)
        rows = [(c["id"], k, r["verdict"]) for c in m["cases"] for k, r in c["results"].items()]
        check(len(rows) >= 40 and all(v in ("conforms", "unsupported") for _, _, v in rows),
              "installed run: %d rows, not all conforming: %s" %
              (len(rows), [r for r in rows if r[2] not in ("conforms", "unsupported")][:5]))
        print("ok: installed into %s; ca gen, mock + psql, run (%d rows) from %s" %
              (prefix, len(rows), work))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
