#!/usr/bin/env python3
"""pgtls rotation-in-time integration tests (meson suite "integration").

Each test is one function named as a sentence; run one with
  time_integration.py --build B --src S TEST_NAME
Real mock, real certs-gen fixtures dated with --as-of, real adapters.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ARGS = None


def pgtls():
    return os.path.join(ARGS.build, "cli", "pgtls")


def run(argv, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    return subprocess.run(argv, **kw)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def fixtures(date):
    return os.path.join(ARGS.build, "time-it", "fixtures-as-of-" + date)


def usable_clients(wanted):
    p = run([pgtls(), "clients", "--json"])
    if p.returncode != 0:
        return [c for c in wanted if c in ("libpq", "psql")]
    try:
        listed = json.loads(p.stdout)
    except ValueError:
        return [c for c in wanted if c in ("libpq", "psql")]
    usable = {c["name"] for c in (listed if isinstance(listed, list) else listed.get("clients", []))
              if c.get("usable")}
    return [c for c in wanted if c in usable]


def run_as_of(tmp, date, clients, scenario="azure-old-real-dates", store="root-g2"):
    out = os.path.join(tmp, "run-" + date)
    p = run([pgtls(), "run", "--clients", ",".join(clients), "--scenarios", scenario,
             "--sslmodes", "verify-full", "--as-of", date, "--fixtures", fixtures(date),
             "--out", out, "--no-progress"])
    check(p.returncode in (0, 1), "run --as-of %s failed (%d): %s" % (date, p.returncode, p.stderr))
    with open(os.path.join(out, "matrix.json")) as f:
        m = json.load(f)
    rows = {}
    for case in m["cases"]:
        if case["id"] == "%s/%s/verify-full" % (scenario, store):
            for key, res in case["results"].items():
                rows[key.split(" ")[0]] = res
    return m, rows, out


# ---------------------------------------------------------------- the tests

def as_of_either_side_of_the_ica03_digicert_expiry_connects_before_and_is_expired_after():
    # libpq and psql read the clock through OpenSSL; pgx (Go) and node-postgres
    # (Node) read it their own ways: the re-dated fixtures reach them all.
    clients = usable_clients(["libpq", "psql", "pgx", "node-postgres"])
    check("libpq" in clients, "the libpq adapter is not usable")
    with tempfile.TemporaryDirectory() as tmp:
        m, before, _ = run_as_of(tmp, "2026-08-20", clients)
        check(m["run"].get("as_of") == "2026-08-20T12:00:00Z", "as_of not recorded: %s" % m["run"])
        check(m["run"].get("calendar"), "calendar version not recorded: %s" % m["run"])
        for c in clients:
            r = before.get(c)
            check(r and r.get("connected") is True and r["verdict"] == "conforms",
                  "%s as of 2026-08-20 should connect through ICA 03 (DigiCert form): %s" % (c, r))
        m, after, _ = run_as_of(tmp, "2026-09-01", clients)
        for c in clients:
            r = after.get(c)
            check(r and r.get("connected") is False and r.get("expected") == "expired" and
                  r["verdict"] in ("conforms", "deviation-known"),
                  "%s as of 2026-09-01 should fail: ICA 03's DigiCert form expired 2026-08-25: %s"
                  % (c, r))
        # the re-dated intermediate really carries the shifted dates
        idx = json.load(open(os.path.join(fixtures("2026-09-01"), "index.json")))
        check(idx["scenarios"]["azure-old-real-dates"]["verify"]["root-g2"] == "expired",
              "declaration not recomputed for the date: %s" % idx["scenarios"]["azure-old-real-dates"])


def single_server_baltimore_chain_verifies_until_2024_10_08_and_baltimore_ends_2025_05_12():
    import datetime
    with tempfile.TemporaryDirectory() as tmp:
        # Microsoft RSA TLS CA 01 (under Baltimore) expired 2024-10-08 07:00Z
        for date, want in (("2024-09-01", "ok"), ("2024-10-20", "expired")):
            out = os.path.join(tmp, "fx-" + date)
            p = run([pgtls(), "ca", "gen", "--as-of", date, "--out", out])
            check(p.returncode == 0, p.stderr)
            idx = json.load(open(os.path.join(out, "index.json")))
            got = idx["scenarios"]["single-baltimore"]["verify"]["root-baltimore"]
            check(got == want, "single-baltimore with the Baltimore root as of %s: %s, want %s"
                  % (date, got, want))
            p = run([pgtls(), "ca", "verify", "--fixtures", out])
            check(p.returncode == 0, "declarations do not hold as of %s: %s%s"
                  % (date, p.stdout, p.stderr))
        # Baltimore CyberTrust Root itself: to 2025-05-12T23:59Z, so as of
        # 2025-05-20 noon it ended 7.5 days before
        out = os.path.join(tmp, "fx-2025-05-20")
        check(run([pgtls(), "ca", "gen", "--as-of", "2025-05-20", "--out", out]).returncode == 0,
              "ca gen --as-of 2025-05-20")
        end = run(["openssl", "x509", "-noout", "-enddate", "-in",
                   os.path.join(out, "certs", "baltimore-cybertrust-root.pem")]).stdout
        end = datetime.datetime.strptime(end.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y %Z")
        ago = (datetime.datetime.utcnow() - end).total_seconds() / 86400
        check(7.4 < ago < 7.6, "Baltimore should have ended 7.5 days before, not %.2f" % ago)


def bad_as_of_dates_are_one_line_usage_errors():
    for bad, words in (("1999-12-31", "earliest not-before"), ("2051-01-01", "after 2050"),
                       ("next-tuesday", "not a date"), ("2026-02-30", "not a date")):
        for argv in ([pgtls(), "run", "--clients", "libpq", "--as-of", bad],
                     [pgtls(), "ca", "gen", "--as-of", bad, "--out",
                      os.path.join(ARGS.build, "time-it", "bad")],
                     [pgtls(), "mock", "--scenario", "azure-new", "--as-of", bad, "--fixtures", os.path.join(ARGS.build, "time-it", "fx")]):
            p = run(argv, timeout=60)
            lines = p.stderr.strip().splitlines()
            check(p.returncode == 2 and len(lines) == 1 and words in lines[0],
                  "%s: want exit 2 and one line naming '%s', got %d %r"
                  % (" ".join(argv[1:]), words, p.returncode, p.stderr))


def merge_refuses_matrices_of_different_as_of_dates_unless_told():
    with tempfile.TemporaryDirectory() as tmp:
        _, _, a = run_as_of(tmp, "2026-08-20", ["libpq"])
        _, _, b = run_as_of(tmp, "2026-09-01", ["libpq"])
        p = run([pgtls(), "report", "merge", a + "/matrix.json", b + "/matrix.json",
                 "--out", tmp + "/m"])
        check(p.returncode == 2 and "--allow-mixed-as-of" in p.stderr and
              len(p.stderr.strip().splitlines()) == 1, "mixed merge: %d %r" % (p.returncode, p.stderr))
        p = run([pgtls(), "report", "merge", a + "/matrix.json", b + "/matrix.json",
                 "--out", tmp + "/m", "--allow-mixed-as-of"])
        check(p.returncode == 0, p.stderr)
        m = json.load(open(tmp + "/m/matrix.json"))
        check(m["run"]["as_of"] == "mixed", m["run"])
        p = run([pgtls(), "report", "merge", a + "/matrix.json", a + "/matrix.json",
                 "--out", tmp + "/same"])
        check(p.returncode == 0, p.stderr)
        check(json.load(open(tmp + "/same/matrix.json"))["run"]["as_of"] == "2026-08-20T12:00:00Z",
              "merged as_of lost")


def mock_as_of_serves_the_chain_dated_as_of_that_day():
    import re
    import ssl
    import datetime
    with tempfile.TemporaryDirectory() as tmp:
        base = os.path.join(tmp, "fx")
        p = subprocess.Popen([pgtls(), "mock", "--scenario", "azure-old-real-dates", "--as-of",
                              "2026-09-01", "--fixtures", base], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline()
            m = re.search(r"port=(\d+)", line)
            check(m, "no listening line: %r %r" % (line, p.stderr.read() if p.poll() is not None else ""))
            s = run(["openssl", "s_client", "-starttls", "postgres", "-showcerts", "-connect",
                     "127.0.0.1:" + m.group(1)], input="", timeout=30)
            pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                              s.stdout, re.S)
            check(len(pems) == 2, "want leaf + ICA 03, got %d: %s" % (len(pems), s.stderr))
            ica = run(["openssl", "x509", "-noout", "-enddate"], input=pems[1]).stdout
            end = datetime.datetime.strptime(ica.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y %Z")
            now = datetime.datetime.utcnow()
            # as of 2026-09-01 noon, ICA 03 (to 2026-08-25T23:59:59Z) expired 6.5 days before
            ago = (now - end).total_seconds() / 86400
            check(6.4 < ago < 6.6, "served ICA 03 should have expired 6.5 days ago, not %.2f" % ago)
            check(os.path.exists(base + "-as-of-2026-09-01/index.json"), "no dated fixtures folder")
        finally:
            p.terminate()
            p.wait(timeout=30)


def timeline(tmp, *args):
    out = os.path.join(tmp, "tl")
    p = run([pgtls(), "timeline", "--out", out] + list(args), timeout=280)
    return p, out


def timeline_on_a_pinned_ica03_store_names_the_first_break_date():
    # pgjdbc (Java trust store: any certificate it holds is an anchor) connects
    # through the old chain with ICA 03 pinned and breaks the day its region
    # moves to the new chain. The store is given as a file, as a user would.
    check("pgjdbc" in usable_clients(["pgjdbc"]), "the pgjdbc adapter is not usable")
    with tempfile.TemporaryDirectory() as tmp:
        store_file = os.path.join(tmp, "pinned.pem")
        src = os.path.join(ARGS.build, "time-it", "fx-today")
        check(run([pgtls(), "ca", "gen", "--out", src]).returncode == 0, "ca gen")
        with open(os.path.join(src, "stores", "pinned-ica03.pem")) as f, open(store_file, "w") as g:
            g.write(f.read())
        p, out = timeline(tmp, "--client", "pgjdbc", "--conninfo", "sslmode=verify-full",
                          "--store", store_file, "--group", "flexible-first-regions")
        check(p.returncode == 1, "a break is exit 1: %d %s %s" % (p.returncode, p.stdout, p.stderr))
        lines = [l for l in p.stdout.splitlines() if l.startswith("pgjdbc")]
        check(len(lines) == 1 and "flexible-first-regions" in lines[0] and
              "breaks 2025-11-11" in lines[0] and "azure-new" in lines[0],
              "want pgjdbc breaking 2025-11-11 on the new chain: %s" % p.stdout)
        check("store pinned-ica03" in p.stdout, "the file maps to the catalogue store: %s" % p.stdout)
        doc = json.load(open(os.path.join(out, "timeline.json")))
        got = {(c["date"], c["connected"]) for c in doc["checkpoints"]}
        check(got == {("2025-11-10", True), ("2025-11-11", False), ("2026-12-31", False)},
              "checkpoints: %s" % got)
        check("breaks 2025-11-11" in open(os.path.join(out, "timeline.md")).read(), "timeline.md")


def timeline_for_libpq_on_the_old_china_root_breaks_at_the_spring_festival_change():
    with tempfile.TemporaryDirectory() as tmp:
        p, out = timeline(tmp, "--client", "libpq", "--conninfo",
                          "sslmode=verify-full", "--store", "root-digicert-global", "--group", "china")
        check(p.returncode == 1 and "breaks 2026-03-04" in p.stdout,
              "libpq trusting DigiCert Global Root CA only: %d %s %s" % (p.returncode, p.stdout, p.stderr))
        p, out = timeline(tmp, "--client", "libpq", "--conninfo", "sslmode=verify-full",
                          "--store", "azure-bundle", "--group", "flexible-other-regions")
        check(p.returncode == 0 and "survives through 2026-12-31" in p.stdout,
              "the Azure bundle survives the flexible rotation: %s %s" % (p.stdout, p.stderr))


def timeline_bad_input_is_one_line_and_exit_2():
    for args, words in ((["--conninfo", "sslmode=verify-full = x"], "does not parse"),
                        (["--conninfo", "sslmode=verify-full", "--store", "/nonexistent/x.pem"],
                         "neither a catalogue store"),
                        (["--conninfo", "sslmode=verify-full", "--group", "mars"], "no such group"),
                        ([], "--conninfo is required")):
        with tempfile.TemporaryDirectory() as tmp:
            p, _ = timeline(tmp, *args)
            lines = p.stderr.strip().splitlines()
            check(p.returncode == 2 and lines and words in lines[-1] and
                  len([l for l in lines if "checkpoints" not in l]) == 1,
                  "%s: %d %r" % (args, p.returncode, p.stderr))


def served_issuer(port):
    import re
    s = run(["openssl", "s_client", "-starttls", "postgres", "-showcerts", "-connect",
             "127.0.0.1:%d" % port], input="", timeout=30)
    pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", s.stdout, re.S)
    check(pems, "no chain from port %d: %s" % (port, s.stderr))
    return run(["openssl", "x509", "-noout", "-issuer"], input=pems[0]).stdout.strip()


def start_mock(tmp, extra):
    import re
    fx = os.path.join(ARGS.build, "time-it", "fx-today")
    check(run([pgtls(), "ca", "gen", "--out", fx]).returncode == 0, "ca gen")
    log = os.path.join(tmp, "events.jsonl")
    p = subprocess.Popen([pgtls(), "mock", "--fixtures", fx, "--event-log", log,
                          "--scenario", "azure-old", "--rotate-to", "azure-new"] + extra,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    line = p.stdout.readline()
    m = re.search(r"port=(\d+)", line)
    check(m, "no listening line: %r" % line)
    return p, int(m.group(1)), log


def answer(p, prefixes=("rotated ", "error ")):
    """The next line of the mock's stdout that answers an admin command or a
    schedule (the connect hint lines before it are skipped)."""
    for line in p.stdout:
        if line.startswith(prefixes):
            return line
    return ""


def events(log, want):
    import time
    for _ in range(100):
        evs = [json.loads(l) for l in open(log)] if os.path.exists(log) else []
        if len(evs) >= want:
            return sorted(evs, key=lambda e: e.get("pid", 0))
        time.sleep(0.05)
    raise AssertionError("want %d events in %s, got %d" % (want, log, len(evs)))


def mock_rotates_after_n_connections_and_the_event_log_names_each_connections_chain():
    with tempfile.TemporaryDirectory() as tmp:
        p, port, log = start_mock(tmp, ["--rotate-after-connections", "2"])
        try:
            issuers = [served_issuer(port) for _ in range(3)]
            check("Issuing CA 03" in issuers[0] and "Issuing CA 03" in issuers[1] and
                  "OCSP 02" in issuers[2], "connections 1-2 old chain, 3 new: %s" % issuers)
            evs = events(log, 3)
            check([e["scenario"] for e in evs] == ["azure-old", "azure-old", "azure-new"],
                  "event log: %s" % [e["scenario"] for e in evs])
        finally:
            p.terminate()
            p.wait(timeout=30)


def mock_admin_rotate_keeps_open_connections_on_their_chain():
    import time
    with tempfile.TemporaryDirectory() as tmp:
        p, port, log = start_mock(tmp, ["--admin", "stdin"])
        held = None
        try:
            # a connection held open across the rotation (TLS up, startup pending)
            held = subprocess.Popen(["openssl", "s_client", "-starttls", "postgres", "-connect",
                                     "127.0.0.1:%d" % port], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for line in held.stdout:
                if "Verify return code" in line or "---" in line and "Server certificate" in line:
                    break
            p.stdin.write("rotate\n")
            p.stdin.flush()
            got = answer(p)
            check(got.startswith("rotated listener=0 from=azure-old to=azure-new by=admin"),
                  "admin answer: %r" % got)
            check("OCSP 02" in served_issuer(port), "a new connection gets the new chain")
            held.stdin.close()
            held.wait(timeout=30)
            evs = events(log, 2)
            check([e["scenario"] for e in evs] == ["azure-old", "azure-new"],
                  "the connection opened before the rotation keeps the old chain: %s"
                  % [e["scenario"] for e in evs])
            p.stdin.write("serve no-such-scenario\n")
            p.stdin.flush()
            check(answer(p).startswith("error listener=0 no scenario named"),
                  "a bad admin command answers an error and changes nothing")
            check("OCSP 02" in served_issuer(port), "still the new chain")
        finally:
            if held and held.poll() is None:
                held.kill()
            p.terminate()
            p.wait(timeout=30)


def mock_rotates_after_t_seconds_and_rejects_conflicting_schedules():
    import time
    with tempfile.TemporaryDirectory() as tmp:
        p, port, log = start_mock(tmp, ["--rotate-after-seconds", "2"])
        try:
            check("Issuing CA 03" in served_issuer(port), "old chain before the schedule")
            check(answer(p).startswith("rotated listener=0 from=azure-old to=azure-new "
                                       "by=schedule"), "schedule line")
            check("OCSP 02" in served_issuer(port), "new chain after 2 s")
        finally:
            p.terminate()
            p.wait(timeout=30)
    for extra, words in ((["--rotate-to", "azure-new", "--rotate-after-seconds", "5",
                           "--rotate-after-connections", "3"], "conflict"),
                         (["--rotate-at", "2020-01-01T00:00:00Z", "--rotate-to", "azure-new"],
                          "future time"),
                         (["--rotate-after-connections", "3"], "needs a --rotate-to")):
        p = run([pgtls(), "mock", "--scenario", "azure-old"] + extra, timeout=30)
        lines = p.stderr.strip().splitlines()
        check(p.returncode == 2 and len(lines) == 1 and words in lines[0],
              "%s: %d %r" % (extra, p.returncode, p.stderr))


def multi_host_failover_to_a_replica_on_another_root_fails_for_a_client_trusting_only_the_primarys():
    # One mock process: the primary on the old chain under DigiCert Global
    # Root G2 (azure-old), a read replica created later on Microsoft RSA Root
    # CA 2017 (azure-old-ms2017). psql (libpq) with a multi-host string.
    import re
    import socket
    fx = os.path.join(ARGS.build, "time-it", "fx-today")
    check(run([pgtls(), "ca", "gen", "--out", fx]).returncode == 0, "ca gen")
    idx = json.load(open(os.path.join(fx, "index.json")))
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "events.jsonl")
        p = subprocess.Popen([pgtls(), "mock", "--fixtures", fx, "--event-log", log,
                              "--scenario", "azure-old", "--scenario", "azure-old-ms2017"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ports = []
            for line in p.stdout:
                m = re.search(r"^listening scenario=\S+ addr=\S+ port=(\d+)", line)
                if m:
                    ports.append(m.group(1))
                if len(ports) == 2:
                    break
            dead = socket.socket()
            dead.bind(("127.0.0.1", 0))
            dead_port = str(dead.getsockname()[1])
            dead.close()  # nothing listens there: the primary is down
            host = idx["scenarios"]["azure-old"]["host"]
            env = dict(os.environ, PGPASSWORD=idx["scenarios"]["azure-old"]["server"]["password"],
                       PGCONNECT_TIMEOUT="5")

            def psql(port_list, store):
                conninfo = ("host=%s,%s hostaddr=127.0.0.1,127.0.0.1 port=%s user=%s dbname=postgres "
                            "sslmode=verify-full sslrootcert=%s target_session_attrs=any"
                            % (host, host, port_list, idx["scenarios"]["azure-old"]["server"]["user"],
                               os.path.join(fx, "stores", store + ".pem")))
                return run(["psql", "-X", "-w", "-A", "-t", "-c", "select 1", conninfo], env=env,
                           timeout=60)

            # primary up: the first host answers
            r = psql("%s,%s" % (ports[0], ports[1]), "root-g2")
            check(r.returncode == 0, "primary reachable: %s" % r.stderr)
            # primary down: libpq moves to the replica, which it cannot verify
            r = psql("%s,%s" % (dead_port, ports[1]), "root-g2")
            attempts = re.findall(r'port (\d+) failed: ([^\n]*)', r.stderr)
            check(r.returncode != 0 and [a[0] for a in attempts] == [dead_port, ports[1]] and
                  "refused" in attempts[0][1] and "certificate verify failed" in attempts[1][1],
                  "want a refused primary then an unverifiable replica: %r" % r.stderr)
            # trusting both roots (as the service advises for replicas) it connects
            r = psql("%s,%s" % (dead_port, ports[1]), "azure-bundle")
            check(r.returncode == 0, "the bundle trusts the replica's root: %s" % r.stderr)
            evs = events(log, 3)
            got = [(e["listener"], e["scenario"]) for e in evs]
            check(got == [(0, "azure-old"), (1, "azure-old-ms2017"), (1, "azure-old-ms2017")],
                  "which host each attempt reached: %s" % got)
        finally:
            p.terminate()
            p.wait(timeout=30)


def pool_across_rotation(driver, store):
    """Runs one driver's pool against a mock that rotates from the old chain
    (azure-old-ms2017, under Microsoft RSA Root CA 2017) to the new one
    (azure-new, under DigiCert Global Root G2) after 2 connections."""
    import re
    fx = os.path.join(ARGS.build, "time-it", "fx-today")
    check(run([pgtls(), "ca", "gen", "--out", fx]).returncode == 0, "ca gen")
    idx = json.load(open(os.path.join(fx, "index.json")))
    sc = idx["scenarios"]["azure-old-ms2017"]
    ca = os.path.join(fx, "stores", store + ".pem")
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "events.jsonl")
        p = subprocess.Popen([pgtls(), "mock", "--fixtures", fx, "--event-log", log,
                              "--scenario", "azure-old-ms2017", "--rotate-to", "azure-new",
                              "--rotate-after-connections", "2"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            port = re.search(r"port=(\d+)", p.stdout.readline()).group(1)
            if driver == "pg.Pool":
                argv = ["node", os.path.join(ARGS.src, "tests", "time", "pools", "pg_pool.js"),
                        port, sc["host"], sc["server"]["user"], sc["server"]["password"], ca]
            elif driver == "psycopg_pool":
                # libpq-based: host is the server's name, hostaddr where it listens
                conn = ("host=%s hostaddr=127.0.0.1 port=%s user=%s password=%s "
                        "dbname=postgres sslmode=verify-full sslrootcert=%s"
                        % (sc["host"], port, sc["server"]["user"], sc["server"]["password"], ca))
                argv = [os.path.join(ARGS.src, "clients", "psycopg", ".venv", "bin", "python"),
                        os.path.join(ARGS.src, "tests", "time", "pools", "psycopg_pool_check.py"),
                        conn]
            elif driver == "HikariCP":
                url = ("jdbc:postgresql://%s:%s/postgres?sslmode=verify-full&sslrootcert=%s"
                       % (sc["host"], port, ca))
                argv = ["java", "-cp", os.path.join(ARGS.src, "clients", "pgjdbc", "target",
                                                    "pgtls-pgjdbc.jar"),
                        "pgtls.HikariPoolCheck", url, sc["server"]["user"],
                        sc["server"]["password"], "%s=127.0.0.1" % sc["host"]]
            else:
                conn = ("host=127.0.0.1 port=%s user=%s password=%s dbname=postgres "
                        "sslmode=verify-full sslrootcert=%s" % (port, sc["server"]["user"],
                                                                sc["server"]["password"], ca))
                argv = [os.path.join(ARGS.src, "clients", "pgx", "pgx-adapter"), "--pool-check",
                        conn, sc["host"]]
            r = run(argv, timeout=120)
            check(r.returncode == 0, "%s pool check: %s %s" % (driver, r.stdout, r.stderr))
            rep = json.loads(r.stdout.strip().splitlines()[-1])
        finally:
            p.terminate()
            p.wait(timeout=30)
        evs = [json.loads(l) for l in open(log)]
    return rep, evs


POOL_NEEDS = {
    "pg.Pool": ("clients/node/node_modules/pg", "clients/node/install"),
    "pgxpool": ("clients/pgx/pgx-adapter", "clients/pgx/install"),
    "psycopg_pool": ("psycopg_pool in clients/psycopg/.venv",
                     "clients/psycopg/install"),
    "HikariCP": ("clients/pgjdbc/target/pgtls-pgjdbc.jar", "clients/pgjdbc/install"),
}


def pool_driver_ready(driver):
    path, install = POOL_NEEDS[driver]
    if driver == "psycopg_pool":
        py = os.path.join(ARGS.src, "clients", "psycopg", ".venv", "bin", "python")
        ok = os.path.exists(py) and run([py, "-c", "import psycopg_pool"]).returncode == 0
    else:
        ok = os.path.exists(os.path.join(ARGS.src, path))
    check(ok, "%s: %s is missing (run %s)" % (driver, path, install))


def pools_keep_old_connections_and_meet_the_new_chain_on_new_ones(drivers):
    for driver in drivers:
        pool_driver_ready(driver)
        # trusting only the old root: the pool keeps serving from its old
        # connections, new ones fail, the old ones still serve afterwards
        rep, evs = pool_across_rotation(driver, "root-ms2017")
        check(rep["before"] == 2 and rep["reused_ok"] == 2 and rep["new_ok"] == 0 and
              len(rep["new_errors"]) == 2 and rep["after_ok"] == 2,
              "%s with root-ms2017 across the rotation: %s" % (driver, rep))
        check(sorted(e["scenario"] for e in evs).count("azure-old-ms2017") == 2 and
              any(e["scenario"] == "azure-new" for e in evs),
              "%s: the event log names two old-chain and new-chain connections: %s"
              % (driver, [e["scenario"] for e in evs]))
        # trusting both roots: new connections get the new chain and work
        rep, evs = pool_across_rotation(driver, "azure-bundle")
        check(rep["reused_ok"] == 2 and rep["new_ok"] == 2 and rep["after_ok"] == 2,
              "%s with the bundle across the rotation: %s" % (driver, rep))
        check(sorted(e["scenario"] for e in evs) ==
              ["azure-new", "azure-new", "azure-old-ms2017", "azure-old-ms2017"],
              "%s: two old-chain then two new-chain connections: %s"
              % (driver, [e["scenario"] for e in evs]))


def pools_of_pg_and_pgx_keep_old_connections_and_meet_the_new_chain_on_new_ones():
    pools_keep_old_connections_and_meet_the_new_chain_on_new_ones(("pg.Pool", "pgxpool"))


def pools_of_psycopg_and_hikaricp_keep_old_connections_and_meet_the_new_chain_on_new_ones():
    # libpq-based (psycopg 3's bundled libpq) and JVM (HikariCP over pgjdbc)
    pools_keep_old_connections_and_meet_the_new_chain_on_new_ones(("psycopg_pool", "HikariCP"))


TESTS = [pools_of_pg_and_pgx_keep_old_connections_and_meet_the_new_chain_on_new_ones,
         pools_of_psycopg_and_hikaricp_keep_old_connections_and_meet_the_new_chain_on_new_ones,
         multi_host_failover_to_a_replica_on_another_root_fails_for_a_client_trusting_only_the_primarys,
         mock_rotates_after_n_connections_and_the_event_log_names_each_connections_chain,
         mock_admin_rotate_keeps_open_connections_on_their_chain,
         mock_rotates_after_t_seconds_and_rejects_conflicting_schedules,
         timeline_on_a_pinned_ica03_store_names_the_first_break_date,
         timeline_for_libpq_on_the_old_china_root_breaks_at_the_spring_festival_change,
         timeline_bad_input_is_one_line_and_exit_2,
         mock_as_of_serves_the_chain_dated_as_of_that_day,
         as_of_either_side_of_the_ica03_digicert_expiry_connects_before_and_is_expired_after,
         single_server_baltimore_chain_verifies_until_2024_10_08_and_baltimore_ends_2025_05_12,
         bad_as_of_dates_are_one_line_usage_errors,
         merge_refuses_matrices_of_different_as_of_dates_unless_told]


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("test")
    ARGS = ap.parse_args()
    os.makedirs(os.path.join(ARGS.build, "time-it"), exist_ok=True)
    by_name = {t.__name__: t for t in TESTS}
    if ARGS.test not in by_name:
        print("unknown test %s (one of: %s)" % (ARGS.test, ", ".join(by_name)))
        return 2
    by_name[ARGS.test]()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
