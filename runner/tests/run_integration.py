#!/usr/bin/env python3
"""pgtls runner integration tests (meson suite "integration").

Each test is one function named as a sentence; run one with
  run_integration.py --build B --src S TEST_NAME
The real mock server, certs-gen fixtures and the libpq/psql adapters are
used; fake adapters (rn-fake-adapter) stand in where misbehaviour is needed.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ARGS = None


def pgtls():
    return os.path.join(ARGS.build, "cli", "pgtls")


def fixtures():
    # Shared by every test of this build; certs-gen reuses it when up to date.
    return os.path.join(ARGS.build, "runner-it", "fixtures")


def small_suite():
    return os.path.join(ARGS.src, "runner", "tests", "small.suite")


def run(argv, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    return subprocess.run(argv, **kw)


def rows(matrix):
    """(case id, client key, result) for every row of a matrix.json."""
    for case in matrix["cases"]:
        for key, res in case["results"].items():
            yield case["id"], key, res


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def fake_clients_dir(tmp, name, extra_args):
    d = os.path.join(tmp, "clients", name)
    os.makedirs(d)
    with open(os.path.join(d, "adapter.json"), "w") as f:
        json.dump({"name": name,
                   "argv": [os.path.join(ARGS.build, "runner", "rn-fake-adapter")] + extra_args},
                  f)
    return os.path.join(tmp, "clients")


def case_ids(suite):
    """The case ids of a suite, via repro's error path would be slow: use a
    run with a fake adapter instead (it answers instantly)."""
    with tempfile.TemporaryDirectory() as tmp:
        cdir = fake_clients_dir(tmp, "fake", [])
        out = os.path.join(tmp, "out")
        p = run([pgtls(), "run", "--clients-dir", cdir, "--suite", suite,
                 "--fixtures", fixtures(), "--out", out, "--no-progress"])
        check(p.returncode in (0, 1), "fake run failed: %s" % p.stderr)
        with open(os.path.join(out, "matrix.json")) as f:
            return [c["id"] for c in json.load(f)["cases"]]


# ---------------------------------------------------------------- the tests

def libpq_and_psql_conform_on_every_row_of_a_small_suite():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        p = run([pgtls(), "run", "--clients", "libpq,psql", "--suite", small_suite(),
                 "--fixtures", fixtures(), "--out", out, "--jobs", "2", "--no-progress"])
        sys.stdout.write(p.stdout)
        sys.stderr.write(p.stderr)
        with open(os.path.join(out, "matrix.json")) as f:
            m = json.load(f)
        check(m["run"]["incomplete"] is False, "run marked incomplete")
        all_rows = list(rows(m))
        ncases = len(m["cases"])
        check(ncases >= 10, "only %d cases" % ncases)
        check(len(all_rows) == 2 * ncases, "%d rows for %d cases x 2 clients" %
              (len(all_rows), ncases))
        bad = [(i, k, r["expected"], r["observed"]) for i, k, r in all_rows
               if r["verdict"] not in ("conforms", "deviation-known", "unsupported")]
        check(not bad, "not conforming: %s" % bad)
        check(p.returncode == 0, "exit %d" % p.returncode)


def a_hung_and_a_crashing_adapter_give_timeout_and_crashed_rows_and_lose_none():
    ids = case_ids(small_suite())
    hang, crash = ids[1], ids[3]
    with tempfile.TemporaryDirectory() as tmp:
        cdir = fake_clients_dir(tmp, "fake", ["--hang", hang, "--crash", crash])
        out = os.path.join(tmp, "out")
        p = run([pgtls(), "run", "--clients-dir", cdir, "--suite", small_suite(),
                 "--fixtures", fixtures(), "--out", out, "--jobs", "2", "--no-progress",
                 "--timeout-ms", "500", "--grace-ms", "500"])
        with open(os.path.join(out, "matrix.json")) as f:
            m = json.load(f)
        by_id = {i: r for i, _, r in rows(m)}
        check(sorted(by_id) == sorted(ids), "rows %d, cases %d" % (len(by_id), len(ids)))
        check(by_id[hang]["observed"] == "timeout", "hang: %s" % by_id[hang])
        check(by_id[crash]["observed"] == "client-crashed", "crash: %s" % by_id[crash])
        check("signal 6" in (by_id[crash].get("error") or json.dumps(by_id[crash])),
              "crash row lacks the exit status: %s" % by_id[crash])
        check(p.returncode == 1, "exit %d (a timeout is a failure)" % p.returncode)


def sigint_mid_run_leaves_a_valid_matrix_marked_incomplete():
    with tempfile.TemporaryDirectory() as tmp:
        cdir = fake_clients_dir(tmp, "slow", ["--delay-ms", "300"])
        out = os.path.join(tmp, "out")
        proc = subprocess.Popen([pgtls(), "run", "--clients-dir", cdir, "--suite", small_suite(),
                                 "--fixtures", fixtures(), "--out", out, "--jobs", "1",
                                 "--no-progress"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        try:
            so, se = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("pgtls run did not stop within 20 s of SIGINT")
        check(proc.returncode == 130, "exit %d, stderr %s" % (proc.returncode, se))
        with open(os.path.join(out, "matrix.json")) as f:
            m = json.load(f)
        check(m["run"]["incomplete"] is True, "not marked incomplete")
        n = len(list(rows(m)))
        check(0 < n < len(case_ids(small_suite())), "%d rows after SIGINT" % n)


def repro_exec_of_a_case_gives_the_class_the_run_observed():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        run([pgtls(), "run", "--clients", "libpq", "--suite", small_suite(),
             "--fixtures", fixtures(), "--out", out, "--no-progress"])
        with open(os.path.join(out, "matrix.json")) as f:
            m = json.load(f)
        seen = set()
        for cid, _, r in rows(m):
            if r["observed"] in seen:
                continue
            seen.add(r["observed"])
            p = run([pgtls(), "repro", cid, "--client", "libpq", "--exec", "--suite",
                     small_suite(), "--fixtures", fixtures(), "--no-gen"])
            line = [l for l in p.stdout.splitlines() if l.startswith("class: ")]
            check(line, "no class line for %s: %s %s" % (cid, p.stdout, p.stderr))
            got = line[0].split()[1]
            check(got == r["observed"], "%s: run saw %s, repro %s" % (cid, r["observed"], got))
        check(len(seen) >= 3, "too few distinct classes: %s" % seen)


def repro_prints_the_mock_and_a_one_shot_adapter_command():
    ids = case_ids(small_suite())
    p = run([pgtls(), "repro", ids[0], "--client", "psql", "--suite", small_suite(),
             "--fixtures", fixtures(), "--no-gen", "--port", "54999"])
    check(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
    check("pgtls mock --scenario " in p.stdout and "--port 54999" in p.stdout, p.stdout)
    check("pgtls-adapter-psql" in p.stdout and "--env HOME=" in p.stdout, p.stdout)


def unknown_clients_and_bad_flags_are_usage_errors():
    for argv in (["run", "--clients", "no-such-client"], ["run", "--jobs", "0"],
                 ["run", "--bogus"], ["repro"], ["repro", "no/such/case", "--suite",
                                                  small_suite(), "--fixtures", fixtures(),
                                                  "--no-gen"]):
        p = run([pgtls()] + argv)
        check(p.returncode == 2, "%s: exit %d" % (argv, p.returncode))
        check(p.stderr.strip(), "%s: no message" % argv)


TESTS = {f.__name__: f for f in (
    libpq_and_psql_conform_on_every_row_of_a_small_suite,
    a_hung_and_a_crashing_adapter_give_timeout_and_crashed_rows_and_lose_none,
    sigint_mid_run_leaves_a_valid_matrix_marked_incomplete,
    repro_exec_of_a_case_gives_the_class_the_run_observed,
    repro_prints_the_mock_and_a_one_shot_adapter_command,
    unknown_clients_and_bad_flags_are_usage_errors,
)}


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("test", choices=sorted(TESTS))
    ARGS = ap.parse_args()
    # Fixtures once per build tree (certs-gen reuses them while up to date).
    p = run([pgtls(), "ca", "gen", "--out", fixtures()])
    if p.returncode != 0:
        print("cannot generate fixtures: %s" % p.stderr)
        return 1
    try:
        TESTS[ARGS.test]()
    except AssertionError as e:
        print("FAIL %s: %s" % (ARGS.test, e))
        return 1
    print("ok %s" % ARGS.test)
    return 0


if __name__ == "__main__":
    sys.exit(main())
