#!/usr/bin/env python3
"""Microsoft Entra ID token rows of the matrix (docs/entra.md "Token rows").

Runs the default suite's `entra` scenario with the three SDK-backed adapters
(psycopg + azure-identity, node-postgres + @azure/identity in both
configuration styles, pgx + azidentity) and psql (no token mode) through
`pgtls run`, which serves the token endpoint in-process, and asserts what
each row must show:

- a valid token signs in (connected-tls, the server saw a password of token
  size and ended the session normally) for every SDK-backed adapter but
  node-postgres with a connection string, where pg drops the password
  function and every token row ends with "empty password returned by client"
  (known deviation, node-postgres#3327);
- expired, not-yet-valid, wrong-audience and foreign-key tokens and a
  principal without a role are refused by the server (auth-failed) with
  Azure's texts;
- an identity the token service does not know fails in the SDK
  (client-config-error), never with a connection that authenticated;
- psql has no token mode: every token row is unsupported with the reason,
  and the scenario's plain role still signs in with its password.
Exit 77 (skip) when an adapter is not installed, unless
PGTLS_REQUIRE_ALL_CLIENTS=1.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

SDK_CLIENTS = ["psycopg", "node-postgres", "node-postgres-sslobj", "pgx"]
TOKENS = {
    "valid": "connected-tls",
    "expired": "auth-failed",
    "not-yet-valid": "auth-failed",
    "wrong-audience": "auth-failed",
    "foreign-key": "auth-failed",
    "unknown-principal": "auth-failed",
    "unknown-identity": "client-config-error",
}
# What the server says for each refused token (docs/entra.md, mockserver/ms_entra.c).
SERVER_TEXT = {
    "expired": "The access token has expired",
    "not-yet-valid": "The access token is not yet valid",
    "wrong-audience": "does not have a valid audience claim",
    "foreign-key": "The access token signature or issuer is not valid",
    "unknown-principal": "password authentication failed",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--src", required=True)
    args = ap.parse_args()
    pgtls = os.path.join(args.build, "cli", "pgtls")
    probe = subprocess.run([pgtls, "clients", "--json"], capture_output=True, text=True,
                           timeout=300)
    if probe.returncode != 0:
        print(f"FAIL: pgtls clients --json exited {probe.returncode}: {probe.stderr.strip()}")
        return 1
    usable = {c["name"]: c for c in json.loads(probe.stdout) if c.get("usable")}
    missing = [c for c in SDK_CLIENTS + ["psql"] if c not in usable]
    if missing:
        msg = f"not installed: {', '.join(missing)} (clients/<name>/install)"
        if os.environ.get("PGTLS_REQUIRE_ALL_CLIENTS") == "1":
            print(f"FAIL: {msg}")
            return 1
        print(f"SKIP: {msg}")
        return 77

    failures = []
    with tempfile.TemporaryDirectory(prefix="pgtls-entra-rows-") as tmp:
        out = os.path.join(tmp, "out")
        run = subprocess.run([pgtls, "run", "--no-progress", "--scenarios", "entra",
                              "--fixtures", os.path.join(tmp, "fx"), "--out", out,
                              "--clients", ",".join(SDK_CLIENTS + ["psql"])],
                             capture_output=True, text=True, timeout=900)
        sys.stdout.write(run.stdout)
        if run.returncode != 0:
            print(f"FAIL: pgtls run exited {run.returncode} (every row must conform or be a "
                  f"known deviation):\n{run.stderr[-4000:]}")
            return 1
        with open(os.path.join(out, "matrix.json")) as f:
            m = json.load(f)

    keys = {cl["client"]: cl["key"] for cl in m["clients"]}  # adapter -> matrix key
    cases = {c["id"]: c for c in m["cases"]}
    print(f"{'case':<48} {'client':<22} {'observed':<20} verdict")
    for token, want in TOKENS.items():
        cid = f"entra/root-g2/verify-full/token={token}"
        if cid not in cases:
            failures.append(f"{cid}: no such case in the default suite")
            continue
        for client in SDK_CLIENTS + ["psql"]:
            r = cases[cid]["results"].get(keys.get(client, "?"))
            if r is None:
                failures.append(f"{cid} {client}: no row")
                continue
            print(f"{cid:<48} {client:<22} {r['observed']:<20} {r['verdict']}"
                  f"{' (' + r['deviation']['name'] + ')' if r.get('deviation') else ''}")
            ev = r.get("events") or []
            if client == "psql":
                if r["observed"] != "unsupported" or "no Microsoft Entra ID token mode" not in (
                        r.get("unsupported") or ""):
                    failures.append(f"{cid} psql: want unsupported (no token mode), got "
                                    f"{r['observed']}: {r.get('unsupported')!r}")
                if ev:
                    failures.append(f"{cid} psql: an unsupported row must not connect")
                continue
            if client == "node-postgres":
                # The password function never runs: every token row ends with the
                # server's "empty password"; where auth-failed was not expected the
                # row is the known deviation, elsewhere the class agrees by accident.
                dev = (r.get("deviation") or {}).get("name")
                want_verdict = "deviation-known" if want != "auth-failed" else "conforms"
                if (r["observed"] != "auth-failed" or r["verdict"] != want_verdict
                        or (want_verdict == "deviation-known"
                            and dev != "password-callback-dropped-by-connection-string")):
                    failures.append(f"{cid} node-postgres: want the known deviation "
                                    f"(empty password beside a connection string), got "
                                    f"{r['observed']} {r['verdict']} {dev}: {r.get('error')}")
                elif "empty password" not in (r.get("error") or ""):
                    failures.append(f"{cid} node-postgres: want the server's 'empty password' "
                                    f"text, got {r.get('error')!r}")
                continue
            if r["observed"] != want or r["verdict"] != "conforms":
                failures.append(f"{cid} {client}: want {want} (conforms), got {r['observed']} "
                                f"({r['verdict']}): {r.get('error')!r}")
                continue
            if token == "valid":
                last = ev[-1] if ev else {}
                if (last.get("auth_method") != "password" or last.get("auth_result") != "ok"
                        or last.get("user") != "pgtls-vm"
                        or (last.get("bytes_in") or 0) < 1400):
                    failures.append(f"{cid} {client}: want a cleartext password of token size "
                                    f"accepted for pgtls-vm, got event {json.dumps(last)[:400]}")
            elif token in SERVER_TEXT:
                if SERVER_TEXT[token] not in (r.get("error") or ""):
                    failures.append(f"{cid} {client}: want the server's text "
                                    f"{SERVER_TEXT[token]!r}, got {r.get('error')!r}")
            elif token == "unknown-identity":
                if any(e.get("auth_result") == "ok" for e in ev):
                    failures.append(f"{cid} {client}: signed in without a token")
                if "Identity not found" not in (r.get("error") or "") and \
                        "isn't assigned" not in (r.get("error") or ""):
                    failures.append(f"{cid} {client}: want the SDK's unknown-identity error, got "
                                    f"{r.get('error')!r}")
    # The scenario's plain role keeps its password (not a token case).
    plain = cases.get("entra/root-g2/verify-full")
    for client in SDK_CLIENTS + ["psql"]:
        r = plain and plain["results"].get(keys.get(client, "?"))
        if not r or r["observed"] != "connected-tls":
            failures.append(f"entra/root-g2/verify-full {client}: the plain role must sign in "
                            f"with its password, got {r and r['observed']}")
    for f in failures:
        print(f"FAIL: {f}")
    print("ok" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
