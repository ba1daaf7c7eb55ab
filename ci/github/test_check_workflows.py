#!/usr/bin/env python3
"""Tests of check_workflows.py: the shipped workflows pass, and each kind of broken
workflow is refused (table of cases: a mutation of pgtls-matrix.yml -> must fail)."""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "check_workflows.py")

CASES = [
    ("invalid YAML is refused", lambda t: "name: [\n"),
    ("a workflow without jobs is refused", lambda t: "name: x\non: push\n"),
    ("a job without runs-on is refused", lambda t: t.replace("runs-on: ${{ matrix.os }}", "")),
    ("a run job without the OS/PostgreSQL matrix is refused",
     lambda t: t.replace("pg: ['15', '16', '17']", "")),
    ("a workflow that never runs pgtls run is refused",
     lambda t: t.replace("pgtls run --out out", "pgtls clients")),
    ("a report job without the baseline diff is refused",
     lambda t: t.replace("report diff", "report render")),
    ("a report job that does not need the matrix is refused",
     lambda t: t.replace("needs: matrix", "needs: []")),
    ("a workflow without workflow_call is refused",
     lambda t: t.replace("workflow_call:", "workflow_run:")),
    ("a summary that never reaches GITHUB_STEP_SUMMARY is refused",
     lambda t: t.replace("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT")),
]


def run(dirname):
    return subprocess.run([sys.executable, CHECK, dirname], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def main():
    passed = failed = 0
    r = run(HERE)
    if r.returncode == 77:
        print(r.stdout.strip())
        return 77
    if r.returncode == 0:
        passed += 1
    else:
        failed += 1
        print("FAIL the shipped workflows pass the check:\n" + r.stdout)
    with open(os.path.join(HERE, "pgtls-matrix.yml")) as f:
        template = f.read()
    for label, mutate in CASES:
        d = tempfile.mkdtemp(prefix="pgtls-wf-")
        try:
            text = mutate(template)
            if text == template:
                failed += 1
                print("FAIL %s: the mutation changed nothing (test is stale)" % label)
                continue
            with open(os.path.join(d, "pgtls-matrix.yml"), "w") as f:
                f.write(text)
            r = run(d)
            if r.returncode == 1 and "FAIL" in r.stdout:
                passed += 1
            else:
                failed += 1
                print("FAIL %s: exit %d\n%s" % (label, r.returncode, r.stdout))
        finally:
            shutil.rmtree(d, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
