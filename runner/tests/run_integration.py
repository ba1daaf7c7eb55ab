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


class SkipTest(Exception):
    pass


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


def libpq_psql_and_s_client_conform_on_the_whole_default_suite():
    """Issue #5's bar: every row of the default suite conforms (or is a known
    deviation / unsupported) for libpq, psql and openssl-s_client."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        p = run([pgtls(), "run", "--clients", "libpq,psql,openssl-s_client",
                 "--fixtures", fixtures(), "--out", out, "--jobs", "2", "--no-progress"])
        sys.stdout.write(p.stdout[-3000:])
        with open(os.path.join(out, "matrix.json")) as f:
            m = json.load(f)
        check(m["run"]["incomplete"] is False, "run marked incomplete")
        ncases = len(m["cases"])
        check(ncases >= 300, "only %d cases in the default suite" % ncases)
        check(len(list(rows(m))) == 3 * ncases, "rows missing")
        bad = [(i, k.split(" ")[0], r["expected"], r["observed"]) for i, k, r in rows(m)
               if r["verdict"] not in ("conforms", "deviation-known", "unsupported")]
        check(not bad, "%d rows do not conform: %s" % (len(bad), bad[:20]))
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


def sigint_or_sigterm_mid_run_leaves_a_valid_matrix_marked_incomplete():
    total = len(case_ids(small_suite()))
    for sig, status in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        with tempfile.TemporaryDirectory() as tmp:
            cdir = fake_clients_dir(tmp, "slow", ["--delay-ms", "300"])
            out = os.path.join(tmp, "out")
            proc = subprocess.Popen([pgtls(), "run", "--clients-dir", cdir, "--suite",
                                     small_suite(), "--fixtures", fixtures(), "--out", out,
                                     "--jobs", "1", "--no-progress"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(2.0)
            proc.send_signal(sig)
            try:
                so, se = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise AssertionError("pgtls run did not stop within 20 s of %s" % sig.name)
            # No latency bound here (speed belongs to bench/; under a loaded
            # sanitizer build stopping took 7.5 s): a run that does not stop
            # within 20 s is a hang (above), and one that stopped only by
            # finishing is caught below (fewer rows than the suite has).
            check(proc.returncode == status, "%s: exit %d, stderr %s" %
                  (sig.name, proc.returncode, se))
            check("interrupted" in so, "%s: summary does not say interrupted: %s" % (sig.name, so))
            with open(os.path.join(out, "matrix.json")) as f:
                m = json.load(f)
            check(m["run"]["incomplete"] is True, "%s: not marked incomplete" % sig.name)
            n = len(list(rows(m)))
            check(0 < n < total, "%s: %d rows of %d after the signal" % (sig.name, n, total))
            check(os.path.exists(os.path.join(out, "summary.md")), "no summary.md")


def repro_exec_of_a_case_gives_the_class_the_run_observed():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        p = run([pgtls(), "run", "--clients", "libpq", "--suite", small_suite(),
                 "--fixtures", fixtures(), "--out", out, "--no-progress"])
        check(os.path.exists(os.path.join(out, "matrix.json")),
              "pgtls run wrote no matrix (exit %d): %s" % (p.returncode, p.stderr[-2000:]))
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
    check("/pgtls mock --scenario " in p.stdout and "--port 54999" in p.stdout, p.stdout)
    check("pgtls-adapter-psql" in p.stdout and "--env HOME=" in p.stdout, p.stdout)


def unknown_clients_and_bad_flags_are_usage_errors():
    fx = ["--fixtures", fixtures(), "--no-gen"]
    for argv in (["run", "--scenarios", "no-such-scenario"] + fx,
                 ["run", "--sslmodes", "verify-everything"] + fx,
                 ["run", "--suite", "/nonexistent/x.suite"] + fx,
                 ["run", "--timeout-ms=abc"], ["run", "--jobs"],
                 ["run", "--fixtures", "/nonexistent/fixtures", "--no-gen"],
                 ["clients", "--clients-dir", "/nonexistent/clients"],
                 ["run", "--clients", "no-such-client"], ["run", "--jobs", "0"],
                 ["run", "--bogus"], ["repro"], ["repro", "no/such/case", "--suite",
                                                  small_suite(), "--fixtures", fixtures(),
                                                  "--no-gen"]):
        p = run([pgtls()] + argv)
        check(p.returncode == 2, "%s: exit %d" % (argv, p.returncode))
        check(p.stderr.strip(), "%s: no message" % argv)


def clients_lists_versions_and_says_why_an_adapter_is_unusable():
    with tempfile.TemporaryDirectory() as tmp:
        cdir = fake_clients_dir(tmp, "fake", [])
        fake_clients_dir(tmp, "broken", ["--no-hello"])
        os.makedirs(os.path.join(cdir, "missing"))
        with open(os.path.join(cdir, "missing", "adapter.json"), "w") as f:
            json.dump({"argv": ["/nonexistent/adapter"], "install": "@DIR@/install"}, f)
        p = run([pgtls(), "clients", "--json", "--clients-dir", cdir])
        check(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
        got = {c["name"]: c for c in json.loads(p.stdout)}
        check(sorted(got) == ["broken", "fake", "missing"], "listed %s" % sorted(got))
        check(got["fake"]["usable"] and got["fake"]["hello"]["version"] == "1.0", got["fake"])
        check(not got["broken"]["usable"] and "exit 7" in got["broken"]["reason"], got["broken"])
        check(not got["missing"]["usable"] and "install it:" in got["missing"]["reason"],
              got["missing"])
        p = run([pgtls(), "clients", "--clients-dir", cdir])
        check("fake" in p.stdout and "1.0" in p.stdout and "unusable:" in p.stdout, p.stdout)
        # A run with an unusable client skips it (reported) and runs the rest.
        out = os.path.join(tmp, "out")
        p = run([pgtls(), "run", "--clients-dir", cdir, "--suite", small_suite(),
                 "--fixtures", fixtures(), "--out", out, "--no-progress"])
        check("skipping client broken" in p.stderr, p.stderr)
        with open(os.path.join(out, "matrix.json")) as f:
            m = json.load(f)
        check(len(m["clients"]) == 1, "clients in the matrix: %s" % m["clients"])


def two_adapters_with_one_build_key_do_not_overwrite_each_others_rows():
    with tempfile.TemporaryDirectory() as tmp:
        cdir = fake_clients_dir(tmp, "first", [])
        fake_clients_dir(tmp, "second", [])
        out = os.path.join(tmp, "out")
        p = run([pgtls(), "run", "--clients-dir", cdir, "--suite", small_suite(),
                 "--fixtures", fixtures(), "--out", out, "--no-progress"])
        check("skipping client second" in p.stderr and "same build key" in p.stderr, p.stderr)
        with open(os.path.join(out, "matrix.json")) as f:
            m = json.load(f)
        check(len(m["clients"]) == 1, "clients: %s" % m["clients"])
        check(len(list(rows(m))) == len(m["cases"]), "rows != cases")


def an_adapter_that_prints_garbage_floods_8mib_or_exits_mid_batch_gives_crashed_rows_is_restarted_and_loses_none():
    ids = case_ids(small_suite())
    garbage, flood, gone = ids[1], ids[3], ids[5]
    with tempfile.TemporaryDirectory() as tmp:
        cdir = fake_clients_dir(tmp, "fake", ["--garbage", garbage, "--flood", flood,
                                              "--exit", gone])
        out = os.path.join(tmp, "out")
        t0 = time.time()
        p = run([pgtls(), "run", "--clients-dir", cdir, "--suite", small_suite(),
                 "--fixtures", fixtures(), "--out", out, "--jobs", "1", "--no-progress",
                 "--timeout-ms", "2000", "--grace-ms", "500"])
        check(time.time() - t0 < 60, "run took %.0f s" % (time.time() - t0))
        with open(os.path.join(out, "matrix.json")) as f:
            m = json.load(f)
        check(m["run"]["incomplete"] is False, "run marked incomplete")
        by_id = {i: r for i, _, r in rows(m)}
        check(sorted(by_id) == sorted(ids), "rows %d, cases %d" % (len(by_id), len(ids)))
        for cid, what in ((garbage, "not a result object"), (flood, "longer than"),
                          (gone, "exited during the case")):
            r = by_id[cid]
            check(r["observed"] == "client-crashed" and r["verdict"] == "error"
                  and what in json.dumps(r), "%s: %s" % (cid, json.dumps(r)[:400]))
        others = [r for i, r in by_id.items() if i not in (garbage, flood, gone)]
        check(all(r["observed"] != "client-crashed" for r in others),
              "a good case was hit: %s" % [r["observed"] for r in others])
        # Each bad case killed (or lost) the adapter; the cases after it were
        # answered, so it was restarted each time.
        after = [i for i in ids if ids.index(i) > ids.index(gone)]
        check(after and all(by_id[i]["connected"] for i in after),
              "no answer after the adapter left mid-batch: %s" % [by_id[i] for i in after][:2])
        check(p.returncode == 1, "exit %d (an error row is a failure)" % p.returncode)


def a_full_output_disk_gives_a_clear_error_and_keeps_the_last_good_matrix():
    """A 2 MiB tmpfs in a private mount namespace (root only; skipped
    otherwise) is filled up while a run writes to it."""
    import shutil as _sh
    if os.geteuid() != 0 or not _sh.which("unshare") or not _sh.which("mount"):
        raise SkipTest("needs root with unshare(1) and mount(8) for a private tmpfs")
    ids = case_ids(small_suite())
    with tempfile.TemporaryDirectory() as tmp:
        mnt = os.path.join(tmp, "disk")
        os.makedirs(mnt)
        cdir = fake_clients_dir(tmp, "slow", ["--delay-ms", "700"])
        out = os.path.join(mnt, "out")
        script = os.path.join(tmp, "fill.py")
        with open(script, "w") as f:
            f.write("""
import json, os, subprocess, sys, time
mnt, out, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt], check=True)
p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
mj = os.path.join(out, "matrix.json")
end = time.time() + 30
while time.time() < end and not os.path.exists(mj):
    time.sleep(0.02)
time.sleep(0.3)
good = open(mj).read()
with open(os.path.join(mnt, "filler"), "wb") as f:   # fill the disk
    try:
        while True:
            f.write(b"\\0" * 65536)
            f.flush()
    except OSError:
        pass
so, se = p.communicate(timeout=120)
print(json.dumps({"rc": p.returncode, "stderr": se, "stdout": so[-2000:],
                  "good_rows": sum(len(c["results"]) for c in json.loads(good)["cases"]),
                  "final": open(mj).read()}))
""")
        r = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, script,
                            mnt, out, pgtls(), "run", "--clients-dir", cdir, "--suite",
                            small_suite(), "--fixtures", fixtures(), "--out", out, "--jobs", "1",
                            "--no-progress"], capture_output=True, text=True, timeout=180)
        if r.returncode != 0 and "mount" in r.stderr and "permission" in r.stderr.lower():
            raise SkipTest("cannot mount a tmpfs here: %s" % r.stderr.strip()[-200:])
        check(r.returncode == 0, "helper failed: %s" % r.stderr[-2000:])
        res = json.loads(r.stdout.strip().splitlines()[-1])
        check(res["rc"] == 2, "exit %s on a full disk (want 2): %s" % (res["rc"], res["stderr"][-500:]))
        check("No space left on device" in res["stderr"] and "matrix" in res["stderr"],
              "no clear error on a full disk: %r" % res["stderr"][-500:])
        final = json.loads(res["final"])  # still a valid matrix: the last good write
        n = sum(len(c["results"]) for c in final["cases"])
        check(n == res["good_rows"] and 0 < n < len(ids) and final["run"]["incomplete"] is True,
              "kept matrix has %d rows, incomplete=%s (the last good write had %d)"
              % (n, final["run"]["incomplete"], res["good_rows"]))


def a_run_into_a_folder_under_out_moves_out_latest_to_it():
    """README: the report lands in out/latest after ci/main.sh, which names its
    own out/run-<stamp> folder; a folder elsewhere leaves out/latest alone."""
    with tempfile.TemporaryDirectory() as tmp:
        cdir = fake_clients_dir(tmp, "fake", [])
        base = [pgtls(), "run", "--clients-dir", cdir, "--suite", small_suite(),
                "--fixtures", os.path.abspath(fixtures()), "--no-progress"]
        p = run(base + ["--out", "out/run-named"], cwd=tmp)
        check(p.returncode in (0, 1), "run failed: %s" % p.stderr)
        latest = os.path.join(tmp, "out", "latest")
        check(os.path.islink(latest), "no out/latest after a run into out/run-named")
        check(os.readlink(latest) == "run-named", "out/latest -> %s" % os.readlink(latest))
        check(os.path.exists(os.path.join(latest, "matrix.json")), "out/latest has no matrix.json")
        p = run(base + ["--out", "elsewhere/run-2"], cwd=tmp)
        check(p.returncode in (0, 1), "run failed: %s" % p.stderr)
        check(os.readlink(latest) == "run-named",
              "a run outside out/ moved out/latest to %s" % os.readlink(latest))


def explain_shows_rule_evidence_chain_fix_and_repro_of_one_cell():
    """pgtls explain on a real run's matrix: a conforming refusal, its fix and
    repro; unknown cases, clients and matrices are one-line usage errors."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        p = run([pgtls(), "run", "--clients", "libpq", "--suite", small_suite(),
                 "--fixtures", fixtures(), "--out", out, "--no-progress",
                 "--scenarios", "azure-old,azure-new"])
        check(p.returncode == 0, "run failed: %s" % p.stderr)
        matrix = os.path.join(out, "matrix.json")
        p = run([pgtls(), "explain", "azure-new/wrong-root/verify-full", "--client", "libpq",
                 "--matrix", matrix])
        check(p.returncode == 0, "explain failed: %s" % p.stderr)
        text = p.stdout
        for want in ("azure-new/wrong-root/verify-full — libpq ",
                     "chain sent:  azure-new-02: leaf-azure-new-02 -> ",
                     "expected:    untrusted-chain (rule R",
                     "observed:    untrusted-chain",
                     "raw error:   ", "server saw: ", "verdict:     conforms",
                     "cause:       The root file is stale",
                     "fix:         Replace the root file with the current Azure roots",
                     "repro:       pgtls repro azure-new/wrong-root/verify-full --client libpq"):
            check(want in text, "explain lacks %r:\n%s" % (want, text))
        p = run([pgtls(), "explain", "azure-new/root-g2/verify-full", "--client", "libpq",
                 "--matrix", matrix])
        check(p.returncode == 0 and "fix:         nothing to change: it connects" in p.stdout,
              p.stdout + p.stderr)
        for argv, want in ((["no/such/case", "--client", "libpq", "--matrix", matrix], "no case"),
                           (["azure-new/root-g2/verify-full", "--client", "nosuch", "--matrix",
                             matrix], "has no result"),
                           (["azure-new/root-g2/verify-full", "--client", "libpq", "--matrix",
                             os.path.join(tmp, "absent.json")], "pgtls run"),
                           (["azure-new/root-g2/verify-full"], "--client")):
            p = run([pgtls(), "explain"] + argv)
            check(p.returncode == 2 and want in p.stderr.splitlines()[0],
                  "%s: rc=%s %r" % (argv, p.returncode, p.stderr))


TESTS = {f.__name__: f for f in (
    two_adapters_with_one_build_key_do_not_overwrite_each_others_rows,
    libpq_psql_and_s_client_conform_on_the_whole_default_suite,
    clients_lists_versions_and_says_why_an_adapter_is_unusable,
    libpq_and_psql_conform_on_every_row_of_a_small_suite,
    a_hung_and_a_crashing_adapter_give_timeout_and_crashed_rows_and_lose_none,
    sigint_or_sigterm_mid_run_leaves_a_valid_matrix_marked_incomplete,
    repro_exec_of_a_case_gives_the_class_the_run_observed,
    repro_prints_the_mock_and_a_one_shot_adapter_command,
    unknown_clients_and_bad_flags_are_usage_errors,
    an_adapter_that_prints_garbage_floods_8mib_or_exits_mid_batch_gives_crashed_rows_is_restarted_and_loses_none,
    a_full_output_disk_gives_a_clear_error_and_keeps_the_last_good_matrix,
    a_run_into_a_folder_under_out_moves_out_latest_to_it,
    explain_shows_rule_evidence_chain_fix_and_repro_of_one_cell,
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
    except SkipTest as e:
        print("SKIP %s: %s" % (ARGS.test, e))
        return 77
    except AssertionError as e:
        print("FAIL %s: %s" % (ARGS.test, e))
        return 1
    print("ok %s" % ARGS.test)
    return 0


if __name__ == "__main__":
    sys.exit(main())
