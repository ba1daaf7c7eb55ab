#!/usr/bin/env python3
"""`pgtls run --suite field-cases` for the installed clients (docs/suites.md
"Field cases").

Asserts the shape, not the outcome: every field case has a row for each
usable client its block lists, with the block's source and reported class and
a field verdict; no row for any other client; every block whose clients are
usable yields at least one case. Whether a report still reproduces is data: it
is printed, and the run is kept in BUILD/field-cases/ for reading.
"""
import argparse
import configparser
import json
import os
import shutil
import subprocess
import sys
import tempfile

FIELD_VERDICTS = {"reproduces", "no-longer-reproduces", "not-tested"}


def read_blocks(path):
    """The suite's field blocks: name -> (source, reported, clients)."""
    cp = configparser.ConfigParser(inline_comment_prefixes=(";",), comment_prefixes=(";", "#"),
                                   interpolation=None)
    cp.optionxform = str
    with open(path) as f:
        cp.read_file(f)
    blocks = {}
    for name in cp.sections():
        if name == "suite":
            continue
        sec = cp[name]
        if "source" not in sec:
            continue
        blocks[name] = (sec["source"].strip(), sec["reported"].strip(),
                        sec["clients"].replace(",", " ").split())
    return blocks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--clients", help="comma-separated adapters (default: every usable one)")
    args = ap.parse_args()
    pgtls = os.path.join(args.build, "cli", "pgtls")
    blocks = read_blocks(os.path.join(args.src, "suites", "field-cases.suite"))
    failures = []
    # The shipped suite has 30 blocks; fewer means some were lost.
    if len(blocks) < 30:
        failures.append(f"suites/field-cases.suite has only {len(blocks)} field blocks (30 shipped)")

    if args.clients:
        usable = sorted(set(args.clients.split(",")))
    else:
        probe = subprocess.run([pgtls, "clients", "--json"], capture_output=True, text=True,
                               timeout=300)
        if probe.returncode != 0:
            print(f"FAIL: pgtls clients --json exited {probe.returncode}: {probe.stderr.strip()}")
            return 1
        usable = sorted(c["name"] for c in json.loads(probe.stdout) if c.get("usable"))

    with tempfile.TemporaryDirectory(prefix="pgtls-field-") as tmp:
        out = os.path.join(tmp, "out")
        # By name: --suite field-cases resolves to suites/field-cases.suite.
        run = subprocess.run([pgtls, "run", "--no-progress", "--suite", "field-cases",
                              "--fixtures", os.path.join(tmp, "fx"), "--out", out,
                              "--clients", ",".join(usable)],
                             capture_output=True, text=True, timeout=1200)
        sys.stdout.write(run.stdout)
        if run.returncode not in (0, 1):
            print(f"FAIL: pgtls run exited {run.returncode}:\n{run.stderr[-4000:]}")
            return 1
        with open(os.path.join(out, "matrix.json")) as f:
            m = json.load(f)
        with open(os.path.join(out, "summary.md")) as f:
            summary = f.read()
        keep = os.path.join(args.build, "field-cases")
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(out, keep)

    if m["run"].get("suite", "").rsplit("/", 1)[-1] not in ("field-cases.suite", "field-cases"):
        failures.append(f"run.suite is {m['run'].get('suite')!r}, not the field-cases suite")
    key_of = {c["client"]: c["key"] for c in m["clients"]}
    seen_blocks = set()
    table = []
    for case in m["cases"]:
        cid = case["id"]
        if "/field=" not in cid:
            failures.append(f"case {cid} of the field-cases suite is not a field case")
            continue
        block = cid.rsplit("/field=", 1)[1]
        if block not in blocks:
            failures.append(f"case {cid} names an unknown block {block}")
            continue
        seen_blocks.add(block)
        source, reported, clients = blocks[block]
        for name, key in key_of.items():
            r = case["results"].get(key)
            if name not in clients:
                if r is not None:
                    failures.append(f"case {cid} has a row for {name}, which its block does not list")
                continue
            if r is None:
                failures.append(f"case {cid} has no row for {name}")
                continue
            if r.get("source") != source:
                failures.append(f"case {cid} [{name}]: source {r.get('source')!r} != {source!r}")
            if r.get("reported") != reported:
                failures.append(f"case {cid} [{name}]: reported {r.get('reported')!r} != {reported!r}")
            if r.get("field") not in FIELD_VERDICTS:
                failures.append(f"case {cid} [{name}]: field verdict {r.get('field')!r}")
            if r.get("observed") == "client-crashed":
                failures.append(f"case {cid} [{name}]: the adapter crashed: {r.get('error')}")
            table.append((cid, name, reported, r.get("observed"), r.get("field")))
    for block, (_, _, clients) in sorted(blocks.items()):
        if any(c in key_of for c in clients) and block not in seen_blocks:
            failures.append(f"block [{block}] yields no case though {clients} are usable")
    if table and "## Field cases" not in summary:
        failures.append("summary.md has no Field cases section")

    for row in table:
        print("  ".join(str(x) for x in row))
    if failures:
        for f in failures:
            print("FAIL:", f)
        return 1
    print(f"ok: {len(table)} field case rows for {len(key_of)} client builds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
