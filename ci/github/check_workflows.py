#!/usr/bin/env python3
"""Checks the GitHub Actions workflow files in ci/github/: valid YAML, the keys
GitHub requires (name, on, jobs; per job runs-on + steps or uses; per step uses or
run), and what pgtls-matrix.yml promises users (a matrix over OS images and
PostgreSQL versions, `pgtls run --out`, an uploaded matrix.json, a report job that
needs the matrix and runs `pgtls report merge` and `pgtls report diff` and writes
$GITHUB_STEP_SUMMARY). Exit 0 when all hold, 1 with one line per problem, 77 when
PyYAML is missing (Debian python3-yaml). Usage: check_workflows.py [DIR]."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

try:
    import yaml
except ImportError:
    # Debian's python3-yaml lives in the system interpreter; re-run there once.
    if os.path.exists("/usr/bin/python3") and sys.executable != "/usr/bin/python3" \
            and not os.environ.get("PGTLS_CHECK_WORKFLOWS_REEXEC"):
        os.environ["PGTLS_CHECK_WORKFLOWS_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("skip: PyYAML not installed (apt-get install python3-yaml)")
    sys.exit(77)


def on_key(doc):
    # YAML 1.1 reads a bare `on` as the boolean true.
    return doc.get("on", doc.get(True))


def check_generic(path, doc, problems):
    def bad(msg):
        problems.append("%s: %s" % (os.path.basename(path), msg))

    if not isinstance(doc, dict):
        bad("top level is not a mapping")
        return
    if not doc.get("name"):
        bad("no name")
    if not on_key(doc):
        bad("no 'on' triggers")
    jobs = doc.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        bad("no jobs")
        return
    for jid, job in jobs.items():
        if not isinstance(job, dict):
            bad("job %s is not a mapping" % jid)
            continue
        if "uses" in job:
            continue
        if "runs-on" not in job:
            bad("job %s has no runs-on" % jid)
        steps = job.get("steps")
        if not isinstance(steps, list) or not steps:
            bad("job %s has no steps" % jid)
            continue
        for i, step in enumerate(steps):
            if not isinstance(step, dict) or not ("uses" in step or "run" in step):
                bad("job %s step %d has neither uses nor run" % (jid, i + 1))
        needs = job.get("needs")
        for need in [needs] if isinstance(needs, str) else (needs or []):
            if need not in jobs:
                bad("job %s needs unknown job %s" % (jid, need))


def all_text(job):
    parts = []
    for step in job.get("steps") or []:
        parts.append(str(step.get("run", "")))
        parts.append(str(step.get("uses", "")))
        parts.append(str(step.get("with", "")))
    return "\n".join(parts)


def check_matrix_workflow(path, doc, problems):
    def bad(msg):
        problems.append("%s: %s" % (os.path.basename(path), msg))

    triggers = on_key(doc) or {}
    for t in ("workflow_call", "workflow_dispatch"):
        if t not in triggers:
            bad("missing trigger %s (users call or start it)" % t)
    jobs = doc.get("jobs") or {}
    runs = [j for j in jobs.values() if "pgtls run --out" in all_text(j) or
            "/pgtls run --out" in all_text(j)]
    if not runs:
        bad("no job runs `pgtls run --out`")
        return
    run_job = runs[0]
    matrix = (run_job.get("strategy") or {}).get("matrix") or {}
    if not matrix.get("os") or not matrix.get("pg"):
        bad("the run job's matrix must list os images and PostgreSQL versions")
    if "upload-artifact" not in all_text(run_job) or "matrix.json" not in all_text(run_job):
        bad("the run job does not upload matrix.json")
    run_id = [k for k, v in jobs.items() if v is run_job][0]
    reports = [j for j in jobs.values() if "report merge" in all_text(j)]
    if not reports:
        bad("no job runs `pgtls report merge`")
        return
    rep = reports[0]
    needs = rep.get("needs")
    if run_id not in ([needs] if isinstance(needs, str) else (needs or [])):
        bad("the report job does not need the run job")
    text = all_text(rep)
    for want in ("report diff", "GITHUB_STEP_SUMMARY", "download-artifact"):
        if want not in text:
            bad("the report job lacks %s" % want)


def main():
    problems = []
    here = sys.argv[1] if len(sys.argv) > 1 else HERE
    files = sorted(f for f in os.listdir(here) if f.endswith((".yml", ".yaml")))
    if not files:
        problems.append("no workflow files in %s" % here)
    for name in files:
        path = os.path.join(here, name)
        try:
            with open(path, encoding="utf-8") as f:
                doc = yaml.safe_load(f)
        except yaml.YAMLError as exc:
            problems.append("%s: invalid YAML: %s" % (name, " ".join(str(exc).split())))
            continue
        check_generic(path, doc, problems)
        if name == "pgtls-matrix.yml":
            check_matrix_workflow(path, doc, problems)
    # actionlint (a Go tool: go install github.com/rhysd/actionlint/cmd/actionlint)
    # type-checks ${{ }} expressions; used when it is installed, never required.
    import shutil
    import subprocess
    lint = shutil.which("actionlint") or (
        os.path.expanduser("~/go/bin/actionlint")
        if os.access(os.path.expanduser("~/go/bin/actionlint"), os.X_OK) else None)
    if lint and files:
        r = subprocess.run([lint, "-shellcheck=", "-pyflakes="] +
                           [os.path.join(here, f) for f in files],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            for line in r.stdout.splitlines():
                if line and not line.startswith((" ", "|")):
                    problems.append("actionlint: " + line)
    for p in problems:
        print("FAIL " + p)
    print("%d passed, %d failed" % (len(files) - len({p.split(":")[0] for p in problems}),
                                    len({p.split(":")[0] for p in problems})))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
