#!/usr/bin/env python3
"""Version builds (docs/versions.md): `pgtls clients add`, `pgtls run --clients
a@x,a@y` and `pgtls report history`, with node-postgres (the fastest registry
round trip; npm's cache holds what the curated set's install fetched).

1. bad input, each one line and exit 2, leaving nothing behind: an unknown
   driver, no version, a version the registry does not have (npm and the Go
   module proxy), a registry that refuses (npm pointed at a closed port);
2. `clients add pg@8.7.3` into a scratch clients folder: the lockfile pins
   the same pg and pg-connection-string (versions and integrity) as the
   committed clients/node-postgres@8.7.3, the build is usable and its hello
   reports 8.7.3 as loaded; a second add is a no-op; the build still runs
   after the failed adds;
3. `run --clients pg@8.11.3,pg@8.23.1` gives both builds a row for every case;
4. `report history` on that matrix names the version in which
   ip-san/private-root/verify-full changed.
Exit 77 (skipped) without node/npm or without the curated builds installed,
unless PGTLS_REQUIRE_ALL_CLIENTS=1.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(argv, env=None, timeout=600):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=e,
                          stdin=subprocess.DEVNULL)


def lock_entry(path, pkg):
    with open(path) as f:
        lock = json.load(f)
    e = lock["packages"].get(f"node_modules/{pkg}", {})
    return e.get("version"), e.get("integrity")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--src", required=True)
    a = ap.parse_args()
    pgtls = os.path.join(a.build, "cli", "pgtls")
    require = os.environ.get("PGTLS_REQUIRE_ALL_CLIENTS") == "1"
    if not shutil.which("node") or not shutil.which("npm"):
        print("node/npm not found: skipped")
        return 1 if require else 77
    probe = run([pgtls, "clients", "--json"], timeout=300)
    listed = {c["name"]: c for c in json.loads(probe.stdout)}
    for need in ("node-postgres@8.11.3", "node-postgres"):
        if not listed.get(need, {}).get("usable"):
            print(f"{need} is not installed (ci/setup.sh, clients/{need}/install): skipped")
            return 1 if require else 77

    with tempfile.TemporaryDirectory(prefix="pgtls-versions-") as tmp:
        cdir = os.path.join(tmp, "clients")
        os.makedirs(cdir)
        add = [pgtls, "clients", "add", "--clients-dir", cdir]

        def bad(spec, want, env=None, what=""):
            p = run(add[:3] + [spec] + add[3:], env=env)
            lines = [l for l in p.stderr.splitlines() if l.strip()]
            check(p.returncode == 2 and len(lines) == 1 and want in lines[0],
                  f"clients add {spec}{what}: exit 2, one line with '{want}' "
                  f"(got {p.returncode}: {p.stderr.strip()[:300]})")

        bad("foo@1.0", "unknown driver 'foo'")
        bad("pg", "has no version")
        bad("pg@8.7.3;rm", "is not a version")
        bad("pg@8.99.0", "pg 8.99.0 is not on npm")
        if shutil.which("go"):
            bad("pgx@5.99.0", "is not on the Go module proxy")
        bad("pg@8.7.4", "refused or could not be reached",
            env={"npm_config_registry": "http://127.0.0.1:9/", "npm_config_fetch_retries": "0"},
            what=" (registry on a closed port)")
        if shutil.which("go"):
            bad("pgx@5.0.1", "the Go module proxy refused or could not be reached",
                env={"GOPROXY": "http://127.0.0.1:9", "GOFLAGS": ""}, what=" (proxy on a closed port)")
        check(os.listdir(cdir) == [], f"failed adds leave nothing behind (found {os.listdir(cdir)})")

        p = run(add[:3] + ["pg@8.7.3"] + add[3:])
        check(p.returncode == 0 and "node-postgres@8.7.3 ready" in p.stdout,
              f"clients add pg@8.7.3 succeeds ({p.returncode}: {(p.stdout + p.stderr).strip()[-300:]})")
        made = os.path.join(cdir, "node-postgres@8.7.3")
        committed = os.path.join(a.src, "clients", "node-postgres@8.7.3")
        for pkg in ("pg", "pg-connection-string"):
            got = lock_entry(os.path.join(made, "package-lock.json"), pkg)
            want = lock_entry(os.path.join(committed, "package-lock.json"), pkg)
            check(got == want and got[1], f"{pkg} pinned as committed: {got} == {want}")
        cl = run([pgtls, "clients", "--json", "--clients-dir", cdir])
        c = {x["name"]: x for x in json.loads(cl.stdout)}.get("node-postgres@8.7.3", {})
        hello = c.get("hello") or {}
        check(c.get("usable") and hello.get("client") == "node-postgres@8.7.3"
              and hello.get("version") == "8.7.3",
              f"pgtls clients lists node-postgres@8.7.3 loading pg 8.7.3 ({c.get('reason')}, {hello.get('version')})")
        p = run(add[:3] + ["node-postgres@8.7.3"] + add[3:])
        check(p.returncode == 0 and "exists" in p.stdout, "a second add of the same build is a no-op")

        out = os.path.join(tmp, "one")
        r = run([pgtls, "run", "--no-progress", "--clients-dir", cdir, "--clients", "pg@8.7.3",
                 "--scenarios", "ip-san", "--fixtures", os.path.join(tmp, "fx"), "--out", out])
        check(r.returncode in (0, 1) and os.path.exists(os.path.join(out, "matrix.json")),
              f"the added build runs after the failed adds (exit {r.returncode}: {r.stderr.strip()[-300:]})")

        # Two versions side by side, named as the registry names them.
        out = os.path.join(tmp, "two")
        r = run([pgtls, "run", "--no-progress", "--clients", "pg@8.11.3,pg@8.23.1",
                 "--scenarios", "ip-san", "--fixtures", os.path.join(tmp, "fx"), "--out", out])
        check(r.returncode in (0, 1), f"run --clients pg@8.11.3,pg@8.23.1 (exit {r.returncode}: "
                                      f"{r.stderr.strip()[-300:]})")
        if r.returncode in (0, 1):
            with open(os.path.join(out, "matrix.json")) as f:
                m = json.load(f)
            by = {c["client"]: c for c in m["clients"]}
            check(by.get("node-postgres@8.11.3", {}).get("version") == "8.11.3"
                  and by.get("node-postgres", {}).get("version") == "8.23.1",
                  f"both versions have a column: {sorted((k, v.get('version')) for k, v in by.items())}")
            keys = [c["key"] for c in m["clients"]]
            missing = [(c["id"], k) for c in m["cases"] for k in keys if k not in c["results"]]
            check(len(m["cases"]) > 0 and not missing,
                  f"{len(m['cases'])} cases, a row for each build ({len(missing)} missing)")
            h = run([pgtls, "report", "history", os.path.join(out, "matrix.json"), "--client", "pg",
                     "--case", "ip-san/private-root/verify-full"])
            print(h.stdout)
            check(h.returncode == 0 and h.stdout.index("| 8.11.3 |") < h.stdout.index("| 8.23.1 |")
                  and "observed class changed in: 8.23.1 (hostname-mismatch → connected-tls)" in h.stdout,
                  "report history names 8.23.1 as the version in which the class changed")
            s = open(os.path.join(out, "summary.md")).read()
            check("### node-postgres: 8.11.3, 8.23.1" in s, "summary.md has the versions section")
            h = run([pgtls, "report", "history", os.path.join(out, "matrix.json"), "--client", "nope"])
            check(h.returncode == 2 and "no client build of 'nope'" in h.stderr,
                  "report history of a driver not in the matrix: exit 2 with the reason")

    print(f"versions: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
