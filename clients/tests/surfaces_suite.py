#!/usr/bin/env python3
"""`pgtls run --suite surfaces` with libpq, psql and one driver per language:
psycopg (Python), node-postgres (Node.js), pgjdbc (Java), pgx (Go),
tokio-postgres (Rust) (docs/surfaces.md).

Asserts: every case of the suite has a row for each client, with the case's
surface in matrix.json; every adapter lists the surfaces it expresses, and a
surface it does not list is unsupported with a reason; libpq and psql agree
with themselves on every surface they express (libpq reads all of them); and
node-postgres shows its documented disagreement: with PGSSLROOTCERT naming a
wrong root it connects (pg never reads PGSSLROOTCERT), with the same root in
an ssl object it refuses (connection-parameters.js), and tokio-postgres
refuses sslrootcert in a connection string; summary.md lists them under
"Where surfaces disagree". A driver adapter that is not installed is left out
(said on stdout); exit 77 when node-postgres is not installed.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

SURFACES = [None, "conninfo", "url", "env", "options", "url+options", "url+env"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--clients", default="libpq,psql,psycopg,node-postgres,pgjdbc,pgx,tokio-postgres")
    a = ap.parse_args()
    pgtls = os.path.join(a.build, "cli", "pgtls")
    clients = a.clients.split(",")
    if "node-postgres" in clients and not os.path.isdir(
            os.path.join(a.src, "clients", "node", "node_modules", "pg")):
        print("node-postgres is not installed (clients/node/install): skipped")
        return 77
    listed = json.loads(subprocess.run([pgtls, "clients", "--json"], stdout=subprocess.PIPE,
                                       text=True, check=True).stdout)
    usable_names = {c["name"] for c in listed if c.get("usable")}
    for name in list(clients):
        if name not in ("libpq", "psql", "node-postgres") and name not in usable_names:
            print(f"{name}: not usable here, left out")
            clients.remove(name)
    with tempfile.TemporaryDirectory(prefix="pgtls-surfaces-") as tmp:
        fixtures = os.path.join(tmp, "fixtures")
        subprocess.run([pgtls, "ca", "gen", "--out", fixtures], check=True,
                       stdout=subprocess.DEVNULL)
        out = os.path.join(tmp, "run")
        p = subprocess.run([pgtls, "run", "--suite", "surfaces", "--clients", ",".join(clients),
                            "--fixtures", fixtures, "--out", out],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        print(p.stdout[:600])
        print(p.stdout[-1500:])
        with open(os.path.join(out, "matrix.json")) as f:
            m = json.load(f)
        with open(os.path.join(out, "summary.md")) as f:
            summary = f.read()
    failures = []
    keys = {c["client"]: c["key"] for c in m["clients"]}
    print("columns:", sorted(keys))
    for name in clients:
        if name not in keys:
            failures.append(f"{name}: no column in the matrix")
    cases = {c["id"]: c for c in m["cases"]}
    intents = {}
    for c in m["cases"]:
        s = c.get("surface")
        if s is not None and f"/surface={s}" not in c["id"]:
            failures.append(f"{c['id']}: surface {s} not in the id")
        intents.setdefault(c["id"].split("/surface=")[0], set()).add(s)
    for intent, seen in intents.items():
        if seen != set(SURFACES):
            failures.append(f"{intent}: surfaces {sorted(map(str, seen))}, want all seven")
    for name, key in keys.items():
        hello = next(c["hello"] for c in m["clients"] if c["client"] == name)
        listed = {f.split(":", 1)[1] for f in hello.get("features", []) if f.startswith("surface:")}
        by_intent = {}
        for c in m["cases"]:
            r = c["results"].get(key)
            if r is None:
                failures.append(f"{name}: no row for {c['id']}")
                continue
            s = c.get("surface")
            if s is not None and s not in listed:
                if r["verdict"] != "unsupported" or not r.get("unsupported"):
                    failures.append(f"{name} {c['id']}: surface not listed but {r['verdict']}")
            if r["verdict"] != "unsupported":
                by_intent.setdefault(c["id"].split("/surface=")[0], {})[s] = r["observed"]
        if name in ("libpq", "psql"):
            for intent, obs in by_intent.items():
                if len(set(obs.values())) != 1:
                    failures.append(f"{name} {intent}: surfaces disagree {obs}")
    if "node-postgres" in keys:
        key = keys["node-postgres"]
        env = cases["azure-new/wrong-root/verify-full/surface=env"]["results"][key]["observed"]
        opt = cases["azure-new/wrong-root/verify-full/surface=options"]["results"][key]["observed"]
        if (env, opt) != ("connected-tls", "untrusted-chain"):
            failures.append(f"node-postgres wrong-root verify-full: env {env}, options {opt}; "
                            "want connected-tls (PGSSLROOTCERT ignored) and untrusted-chain")
        sec = summary.split("## Where surfaces disagree", 1)
        if len(sec) < 2 or "`azure-new/wrong-root/verify-full`" not in sec[1]:
            failures.append("summary.md: node-postgres's disagreement is not listed")
    if "tokio-postgres" in keys:
        key = keys["tokio-postgres"]
        r = cases["azure-new/azure-bundle/require/surface=conninfo"]["results"][key]
        if r["observed"] != "client-config-error" or "sslrootcert" not in (r.get("error") or ""):
            failures.append(f"tokio-postgres conninfo with sslrootcert: {r['observed']} "
                            f"{r.get('error')!r}; want its unknown-option refusal")
        sec = summary.split("## Where surfaces disagree", 1)
        if len(sec) < 2 or "### tokio-postgres" not in sec[1]:
            failures.append("summary.md: tokio-postgres's disagreements are not listed")
    for f in failures:
        print("FAIL:", f)
    print(f"{len(m['cases'])} cases x {len(keys)} clients; {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
