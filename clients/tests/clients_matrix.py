#!/usr/bin/env python3
"""The `clients` suite: every adapter under clients/ runs the default suite
against the embedded mock.

Fails when an adapter cannot be started, when a case row is missing for a
client build, when a client build reports empty versions, or when an adapter
crashed. Conformance itself is data (drivers differ from libpq on purpose):
it is printed, and kept in BUILD/clients-matrix/ for reading.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--src", required=True)
    args = ap.parse_args()
    pgtls = os.path.join(args.build, "cli", "pgtls")
    failures = []

    manifests = sorted(os.path.basename(os.path.dirname(p))
                       for p in glob.glob(os.path.join(args.src, "clients", "*", "adapter.json")))
    probe = subprocess.run([pgtls, "clients", "--json"], capture_output=True, text=True,
                           timeout=300)
    if probe.returncode not in (0, 1):
        print(f"FAIL: pgtls clients --json exited {probe.returncode}: {probe.stderr.strip()}")
        return 1
    listed = {c["name"]: c for c in json.loads(probe.stdout)}
    for name in manifests:
        c = listed.get(name)
        if c is None:
            failures.append(f"adapter {name} has a manifest but pgtls clients does not list it")
        elif not c.get("usable"):
            failures.append(f"adapter {name} cannot be started: {c.get('reason')}")
    usable = sorted(n for n, c in listed.items() if c.get("usable"))

    with tempfile.TemporaryDirectory(prefix="pgtls-clients-") as tmp:
        out = os.path.join(tmp, "out")
        run = subprocess.run([pgtls, "run", "--no-progress", "--fixtures", os.path.join(tmp, "fx"),
                              "--out", out, "--clients", ",".join(usable)],
                             capture_output=True, text=True, timeout=1800)
        sys.stdout.write(run.stdout)
        if run.returncode not in (0, 1):
            print(f"FAIL: pgtls run exited {run.returncode}:\n{run.stderr[-4000:]}")
            return 1
        with open(os.path.join(out, "matrix.json")) as f:
            m = json.load(f)
        keep = os.path.join(args.build, "clients-matrix")
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(out, keep)

    if m["run"].get("incomplete"):
        failures.append("the matrix is marked incomplete")
    builds = {c["client"]: c for c in m["clients"]}
    for name in usable:
        b = builds.get(name)
        if b is None:
            failures.append(f"client {name} is usable but has no column in the matrix")
            continue
        for field in ("version", "tls_library", "key"):
            if not b.get(field):
                failures.append(f"client build {name} reports an empty {field}")
    keys = [c["key"] for c in m["clients"]]
    counts = {k: {} for k in keys}
    for case in m["cases"]:
        for k in keys:
            r = case["results"].get(k)
            if r is None:
                failures.append(f"case {case['id']} has no row for {k}")
                continue
            v = r.get("verdict", "?")
            counts[k][v] = counts[k].get(v, 0) + 1
            if r.get("observed") == "client-crashed":
                failures.append(f"{k} crashed on {case['id']}: {(r.get('error') or '')[:200]}")

    print(f"\n{len(m['cases'])} cases x {len(keys)} client builds")
    for k in keys:
        print(f"  {k}: " + ", ".join(f"{v} {n}" for v, n in sorted(counts[k].items())))
    for f in failures[:50]:
        print("FAIL:", f)
    if len(failures) > 50:
        print(f"FAIL: ... and {len(failures) - 50} more")
    checks = len(manifests) + 3 * len(usable) + len(m["cases"]) * len(keys)
    print(f"clients: {max(checks - len(failures), 0)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
