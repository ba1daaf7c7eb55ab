#!/usr/bin/env python3
"""The Azure troubleshooting steps (docs/troubleshooting.md), run against the mock
and against a real PostgreSQL configured like the same scenario.

Each check runs one command a user is told to run, exactly as they would (argv, no
shell), reads what it prints, and asserts two things:
  1. the mock shows what the scenario configures (the chain it serves, the protocol
     bounds, whether TLS is in use, the live sessions, ...), i.e. what Azure would show;
  2. the real server shows the same (after normalising ports, paths and PIDs), except
     where a real PostgreSQL cannot express the setting (listed in docs/fidelity.md).

Usage:
  troubleshoot.py --build BUILD_DIR [--fixtures DIR] [--check NAME ...]
                  [--scenarios a,b] [--targets mock,real] [--keep]
Checks: s_client, pg_stat_ssl, sslinfo, show, psql-verify-full, testssl, nmap (default:
all). Without --fixtures, runs `pgtls ca gen --out TMP`. Exit 0 all passed, 1 a check
failed, 77 a required tool or component is missing (says which), 2 usage.
Python 3 standard library only; every server listens on 127.0.0.1 only.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgtls_targets as T  # noqa: E402

CHECKS = ["s_client", "pg_stat_ssl", "sslinfo", "show", "psql-verify-full", "testssl", "nmap"]
SEED_QUERY = ("SELECT datname, usename, ssl, client_addr, application_name, backend_type "
              "FROM pg_stat_ssl JOIN pg_stat_activity ON pg_stat_ssl.pid = pg_stat_activity.pid "
              "ORDER BY ssl;")
VERSIONS = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
SKIP = 77


class Skip(Exception):
    pass


def normalise(text):
    """Ports, absolute paths and PIDs differ between two servers; nothing else may."""
    if text is None:
        return None
    text = re.sub(r"(?i)\b(port|pid|process)([ =:]+)\d+", r"\1\2<port>", text)
    text = re.sub(r"(?<=[A-Za-z0-9\]]):\d{2,5}\b", ":<port>", text)
    text = re.sub(r"(?<=[\s\"'(=:,])/[A-Za-z0-9_./@%+~-]*[A-Za-z0-9_/@%+~-]", "<path>", text)
    text = re.sub(r"\[\d+\]", "[<pid>]", text)
    text = re.sub(r"\b[0-9A-F]{8,16}(?=:error:)", "<tid>", text)
    return text.strip()


def run(argv, timeout, env=None, stdin=subprocess.DEVNULL):
    """Runs argv; returns (exit status, stdout, stderr). A timeout is status 124."""
    try:
        p = subprocess.run(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, env=env, start_new_session=True)
        return p.returncode, p.stdout.decode("utf-8", "replace"), \
            p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        return 124, (e.stdout or b"").decode("utf-8", "replace"), \
            "timed out after %ss" % timeout


def pem_blocks(text):
    return [re.sub(r"\s+", "", b) for b in
            re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)]


def vrank(v):
    return VERSIONS.index(v) + 1 if v in VERSIONS else 0


def offered_versions(server):
    lo = vrank(server["ssl_min_protocol_version"]) or 1
    hi = vrank(server["ssl_max_protocol_version"]) or 4
    return [v for v in VERSIONS if lo <= vrank(v) <= hi] if server["ssl"] else []


class Ctx:
    """Everything a check needs about one scenario."""

    def __init__(self, args, index, fixtures, scenario, workdir):
        self.args, self.index, self.fixtures, self.name = args, index, fixtures, scenario
        self.sc = index["scenarios"][scenario]
        self.server = T.scenario_server(index, scenario)
        self.host = self.sc.get("host") or index.get("default_host", "localhost")
        self.host_match = self.sc.get("host_match", True)
        self.workdir = workdir
        self.home = os.path.join(workdir, "home")
        os.makedirs(self.home, exist_ok=True)
        self.chain_pem = None
        if self.sc.get("chain"):
            chain = index["chains"][self.sc["chain"]]
            with open(T.fx_path(fixtures, chain["pem"])) as f:
                self.chain_pem = f.read()
        # A server capped below TLS 1.2: Debian's OpenSSL 3 client needs security
        # level 0 and a lower floor (what a user must do too), and libpq its
        # ssl_min_protocol_version lowered.
        self.legacy = self.server["ssl"] and 0 < vrank(self.server["ssl_max_protocol_version"]) \
            < vrank("TLSv1.2")
        self.legacy_conf = os.path.join(workdir, "openssl-legacy.cnf")
        if self.legacy:
            with open(self.legacy_conf, "w") as f:
                f.write("openssl_conf = openssl_init\n[openssl_init]\nssl_conf = ssl_sect\n"
                        "[ssl_sect]\nsystem_default = system_default_sect\n"
                        "[system_default_sect]\nMinProtocol = TLSv1\n"
                        "CipherString = DEFAULT:@SECLEVEL=0\n")
        self.ok_store, self.wrong_store = None, None
        for name, verdict in sorted((self.sc.get("verify") or {}).items()):
            st = index["stores"].get(name) or {}
            if st.get("kind") in ("roots", "bundle") and verdict == "ok" and not self.ok_store:
                self.ok_store = T.fx_path(fixtures, st["pem"])
            if st.get("kind") == "wrong-root" and not self.wrong_store:
                self.wrong_store = T.fx_path(fixtures, st["pem"])

    def env(self):
        """A client environment with no PG* variables and an empty HOME (libpq would
        otherwise read ~/.postgresql/root.crt)."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PG") and k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
        env["HOME"] = self.home
        env["PGPASSWORD"] = self.server["password"]
        env["PGCONNECT_TIMEOUT"] = "10"
        if self.legacy:
            env["OPENSSL_CONF"] = self.legacy_conf
        return env

    def conninfo(self, port, sslmode=None, rootcert=None, appname=None):
        """The connection string the seeds use: the Azure-style host name, reached at
        127.0.0.1 through hostaddr so verify-full checks the name without DNS."""
        if sslmode is None:
            if not self.server["ssl"]:
                sslmode = "disable"
            elif self.ok_store:
                sslmode = "verify-full" if self.host_match else "verify-ca"
            else:
                sslmode = "require"
        if rootcert is None and sslmode.startswith("verify"):
            rootcert = self.ok_store
        parts = ["host=%s" % self.host, "hostaddr=127.0.0.1", "port=%d" % port,
                 "dbname=postgres", "user=%s" % self.server["user"], "sslmode=%s" % sslmode]
        if rootcert:
            parts.append("sslrootcert=%s" % rootcert)
        if appname:
            parts.append("application_name=%s" % appname)
        if self.legacy and sslmode != "disable":
            parts.append("ssl_min_protocol_version=TLSv1")
        return " ".join(parts)

    def psql(self, port, *sql, conninfo=None):
        argv = ["psql", "-X", "-A", "-t", "-F", "|", conninfo or self.conninfo(port)]
        for s in sql:
            argv += ["-c", s]
        return run(argv, 30, env=self.env())


# ---- the checks: each returns a dict of facts for one target ------------------------


def check_s_client(ctx, target):
    """`openssl s_client -starttls postgres -showcerts -connect HOST:PORT` prints the
    chain the server sends, the protocol and the cipher."""
    st, out, err = run(["openssl", "s_client", "-starttls", "postgres", "-showcerts",
                        "-connect", "127.0.0.1:%d" % target.port, "-servername", ctx.host],
                       30, env=ctx.env())
    m = re.search(r"New, (\S+), Cipher is (\S+)", out)
    protocol = m.group(1) if m and m.group(1) != "(NONE)" else None
    protocol = {"TLSv1.0": "TLSv1"}.get(protocol, protocol)
    return {"chain": pem_blocks(out), "protocol": protocol,
            "cipher": m.group(2) if protocol else None, "starttls_refused": protocol is None}


def expect_s_client(ctx, facts, target_name):
    problems = []
    if not ctx.server["ssl"]:
        if not facts["starttls_refused"]:
            problems.append("TLS is off, yet s_client negotiated %s" % facts["protocol"])
        return problems
    want_chain = pem_blocks(ctx.chain_pem or "")
    if facts["chain"] != want_chain:
        problems.append("served %d certificates, the scenario's chain file holds %d (or they "
                        "differ)" % (len(facts["chain"]), len(want_chain)))
    # Debian's OpenSSL client has a TLS 1.2 floor unless lowered (ctx.legacy).
    offered = [v for v in offered_versions(ctx.server)
               if ctx.legacy or vrank(v) >= vrank("TLSv1.2")]
    want = offered[-1] if offered else None
    if facts["protocol"] != want:
        problems.append("negotiated %s, expected %s" % (facts["protocol"], want))
    return problems


def check_pg_stat_ssl(ctx, target):
    """The seeds' pg_stat_ssl JOIN pg_stat_activity query, with a second session held
    open (plaintext when the scenario allows it) so the answer must come from the live
    connections."""
    holder_mode = "disable" if not ctx.server["require_secure_transport"] or \
        not ctx.server["ssl"] else None
    holder = subprocess.Popen(["psql", "-X", "-A", "-t",
                               ctx.conninfo(target.port, sslmode=holder_mode,
                                            appname="pgtls-holder")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=ctx.env(), start_new_session=True)
    try:
        holder.stdin.write(b"SELECT 42;\n")
        holder.stdin.flush()
        line = holder.stdout.readline().decode().strip()
        if line != "42":
            return {"error": "the holding session did not connect: %s"
                    % holder.stderr.read1(2000).decode("utf-8", "replace")}
        st, out, err = ctx.psql(target.port, SEED_QUERY)
        rows = sorted(tuple(r.split("|")) for r in out.strip().splitlines() if r)
        return {"status": st, "rows": rows, "error": normalise(err) or None}
    finally:
        holder.stdin.close()
        try:
            holder.wait(timeout=10)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()


def expect_pg_stat_ssl(ctx, facts, target_name):
    if facts.get("error") and not facts.get("rows"):
        return ["query failed: %s" % facts["error"]]
    main_ssl = "t" if ctx.server["ssl"] else "f"
    holder_ssl = "f" if (not ctx.server["require_secure_transport"] or not ctx.server["ssl"]) \
        else "t"
    user = ctx.server["user"]
    want = sorted([("postgres", user, main_ssl, "127.0.0.1", "psql", "client backend"),
                   ("postgres", user, holder_ssl, "127.0.0.1", "pgtls-holder",
                    "client backend")])
    return [] if facts["rows"] == want else ["rows %s, expected %s" % (facts["rows"], want)]


def check_sslinfo(ctx, target):
    """`CREATE EXTENSION sslinfo; SELECT ssl_is_used();` over TLS, and over plaintext
    where the scenario allows plaintext."""
    # The harness installs sslinfo for the suite's default query; a fresh server
    # (what the seed assumes) has not got it yet.
    target.admin_sql("DROP EXTENSION IF EXISTS sslinfo")
    facts = {}
    st, out, err = ctx.psql(target.port, "CREATE EXTENSION sslinfo;", "SELECT ssl_is_used();")
    facts["default"] = {"status": st, "out": out.strip(), "error": normalise(err) or None}
    if ctx.server["ssl"] and not ctx.server["require_secure_transport"]:
        st, out, err = ctx.psql(target.port, "SELECT ssl_is_used();",
                                conninfo=ctx.conninfo(target.port, sslmode="disable"))
        facts["plaintext"] = {"status": st, "out": out.strip(), "error": normalise(err) or None}
    target.admin_sql("CREATE EXTENSION IF NOT EXISTS sslinfo")
    return facts


def expect_sslinfo(ctx, facts, target_name):
    problems = []
    want = "CREATE EXTENSION\n" + ("t" if ctx.server["ssl"] else "f")
    d = facts["default"]
    if d["status"] != 0 or d["out"] != want:
        problems.append("over the default connection: %r (status %s, %s), expected %r"
                        % (d["out"], d["status"], d["error"], want))
    p = facts.get("plaintext")
    if p and (p["status"] != 0 or p["out"] != "f"):
        problems.append("over plaintext: %r (%s), expected 'f'" % (p["out"], p["error"]))
    return problems


def check_show(ctx, target):
    """`SHOW ssl_min_protocol_version`, `SHOW ssl_max_protocol_version`,
    `SHOW require_secure_transport`, each as its own command."""
    facts = {}
    for name in ("ssl_min_protocol_version", "ssl_max_protocol_version",
                 "require_secure_transport"):
        st, out, err = ctx.psql(target.port, "SHOW %s;" % name)
        facts[name] = out.strip() if st == 0 else "ERROR: " + normalise(err)
    return facts


def expect_show(ctx, facts, target_name):
    want = {"ssl_min_protocol_version": ctx.server["ssl_min_protocol_version"],
            "ssl_max_protocol_version": ctx.server["ssl_max_protocol_version"],
            "require_secure_transport": "on" if ctx.server["require_secure_transport"]
            else "off"}
    skip = REAL_CANNOT["show"] if target_name == "real" else {}
    return ["SHOW %s gave %r, the scenario sets %r" % (k, facts.get(k), v)
            for k, v in want.items() if facts.get(k) != v and k not in skip]


def check_psql_verify_full(ctx, target):
    """psql "sslmode=verify-full sslrootcert=ROOT host=NAME hostaddr=127.0.0.1 ..." with
    the right root, and with a wrong root (the failure users report)."""
    facts = {}
    for label, store in (("right-root", ctx.ok_store), ("wrong-root", ctx.wrong_store)):
        if not store or not ctx.server["ssl"]:
            continue
        st, out, err = ctx.psql(target.port, "SELECT 1;",
                                conninfo=ctx.conninfo(target.port, "verify-full", store))
        facts[label] = {"status": st, "out": out.strip(), "error": normalise(err) or None}
    return facts


def expect_psql_verify_full(ctx, facts, target_name):
    problems = []
    r = facts.get("right-root")
    if r is not None:
        ok = r["status"] == 0 and r["out"] == "1"
        if ctx.host_match and not ok:
            problems.append("verify-full with the right root failed: %s" % r["error"])
        if not ctx.host_match and (ok or "does not match host name" not in (r["error"] or "")):
            problems.append("verify-full should fail on the host name: %s" % r["error"])
    w = facts.get("wrong-root")
    if w is not None and (w["status"] == 0 or "certificate verify failed" not in
                          (w["error"] or "")):
        problems.append("verify-full with a wrong root: %s" % w["error"])
    return problems


TESTSSL_PROTOCOLS = {"TLS1": "TLSv1", "TLS1_1": "TLSv1.1", "TLS1_2": "TLSv1.2",
                     "TLS1_3": "TLSv1.3"}


def check_testssl(ctx, target):
    """testssl.sh --starttls postgres with its fast options: protocols (-p), server
    defaults with the chain (-S), server preferences with the cipher order (-P)."""
    exe = shutil.which("testssl") or shutil.which("testssl.sh")
    if not exe:
        raise Skip("testssl.sh is not installed (Debian package testssl.sh)")
    if not ctx.server["ssl"]:
        # Nothing to scan: testssl.sh waits for a STARTTLS answer until its own
        # timeouts; what a user sees there is covered by the s_client check.
        return {"not_applicable": "TLS is off in this scenario"}
    if ctx.legacy:
        # testssl.sh 3.0 first connects with the local openssl binary and gives up
        # ("Your OpenSSL cannot connect") when that cannot do TLS 1.0/1.1.
        return {"not_applicable": "testssl.sh 3.0 cannot scan a TLS 1.0/1.1-only server "
                                  "with Debian's OpenSSL 3"}
    out_json = os.path.join(ctx.workdir, "testssl-%s-%s.json" % (target.name, ctx.name))
    if os.path.exists(out_json):
        os.unlink(out_json)
    st, out, err = run([exe, "--starttls", "postgres", "--warnings", "batch", "--color", "0",
                        "--quiet", "--fast", "-p", "-S", "-P", "--ip", "127.0.0.1",
                        "--connect-timeout", "10", "--openssl-timeout", "10",
                        "--jsonfile", out_json, "127.0.0.1:%d" % target.port], 240)
    if st == 124:
        return {"error": "testssl.sh timed out"}
    try:
        with open(out_json) as f:
            items = json.load(f)
    except (OSError, ValueError) as e:
        return {"error": "no JSON from testssl.sh (status %d): %s %s" % (st, e, err[-300:])}
    by_id = {}
    for it in items:
        by_id.setdefault(it.get("id"), it.get("finding", ""))
    protos = sorted(v for k, v in TESTSSL_PROTOCOLS.items()
                    if by_id.get(k, "").startswith("offered"))
    order = {k: " ".join(by_id[k].split()) for k in by_id if k.startswith("cipherorder_")}
    return {"protocols": protos, "certs": by_id.get("cert_numbering") or
            by_id.get("certs_countServer"), "cn": by_id.get("cert_commonName"),
            "cipher_order": order,
            "negotiated_protocol": by_id.get("protocol_negotiated")}


def expect_testssl(ctx, facts, target_name):
    if facts.get("not_applicable"):
        return []
    if facts.get("error"):
        return [facts["error"]]
    problems = []
    want = sorted(offered_versions(ctx.server))
    if facts["protocols"] != want:
        problems.append("protocols offered %s, the scenario allows %s"
                        % (facts["protocols"], want))
    if ctx.server["ssl"]:
        n = len(pem_blocks(ctx.chain_pem or ""))
        if str(facts.get("certs")) != str(n):
            problems.append("testssl counted %s certificates, the chain file holds %d"
                            % (facts.get("certs"), n))
    return problems


def check_nmap(ctx, target):
    """nmap's ssl-cert and ssl-enum-ciphers scripts. nmap runs them on PostgreSQL
    ports only (STARTTLS), so a one-line services file names our port postgresql.
    Below TLS 1.2 nmap's OpenSSL needs the lowered level too (ctx.env): otherwise
    ssl-cert falls back to a direct TLS ClientHello with no SSLRequest, which the
    mock answers (PG17 direct TLS) and PostgreSQL 15 does not."""
    if not shutil.which("nmap"):
        raise Skip("nmap is not installed (Debian package nmap)")
    svc = os.path.join(ctx.workdir, "nmap-services-%s" % target.name)
    with open(svc, "w") as f:
        f.write("postgresql\t%d/tcp\t0.5\n" % target.port)
    st, out, err = run(["nmap", "-Pn", "-n", "--servicedb", svc, "--top-ports", "1",
                        "--script", "ssl-cert,ssl-enum-ciphers", "--script-timeout", "90s",
                        "-oX", "-", "127.0.0.1"], 150, env=ctx.env())
    if st != 0:
        return {"error": "nmap status %d: %s" % (st, err.strip()[-300:])}
    root = ET.fromstring(out)
    facts = {"protocols": [], "ciphers": {}, "cert_pem": None, "subject_cn": None}
    for script in root.iter("script"):
        if script.get("id") == "ssl-enum-ciphers":
            for proto in script.findall("table"):
                key = {"TLSv1.0": "TLSv1"}.get(proto.get("key"), proto.get("key"))
                facts["protocols"].append(key)
                names = [e.text for c in proto.findall("table[@key='ciphers']/table")
                         for e in c.findall("elem[@key='name']")]
                facts["ciphers"][key] = names
        elif script.get("id") == "ssl-cert":
            pem = script.find("elem[@key='pem']")
            facts["cert_pem"] = pem_blocks(pem.text)[0] if pem is not None and pem.text else None
            cn = script.find("table[@key='subject']/elem[@key='commonName']")
            facts["subject_cn"] = cn.text if cn is not None else None
    facts["protocols"].sort()
    return facts


def expect_nmap(ctx, facts, target_name):
    if facts.get("error"):
        return [facts["error"]]
    problems = []
    want = sorted(offered_versions(ctx.server))
    if facts["protocols"] != want:
        problems.append("ssl-enum-ciphers found %s, the scenario allows %s"
                        % (facts["protocols"], want))
    if ctx.server["ssl"]:
        leaf = pem_blocks(ctx.chain_pem or "")[:1]
        if [facts["cert_pem"]] != leaf:
            problems.append("ssl-cert shows another leaf than the chain file's first "
                            "certificate")
    return problems


CHECK_FUNCS = {
    "s_client": (check_s_client, expect_s_client),
    "pg_stat_ssl": (check_pg_stat_ssl, expect_pg_stat_ssl),
    "sslinfo": (check_sslinfo, expect_sslinfo),
    "show": (check_show, expect_show),
    "psql-verify-full": (check_psql_verify_full, expect_psql_verify_full),
    "testssl": (check_testssl, expect_testssl),
    "nmap": (check_nmap, expect_nmap),
}

# What a real PostgreSQL 15 cannot show the way Azure (and the mock) do; the
# comparison ignores these keys, and docs/fidelity.md lists them.
REAL_CANNOT = {
    "show": {"require_secure_transport":
             "Azure-only server parameter; PostgreSQL has no such setting (pg_hba hostssl "
             "expresses it)"},
}


def real_cannot(ctx, check):
    """What the real server cannot show for this scenario and check: key -> why."""
    out = dict(REAL_CANNOT.get(check, {}))
    return out


def differences(ctx, check, mock, real):
    """Keys whose (already normalised) values differ between mock and real."""
    skip = real_cannot(ctx, check)
    keys = sorted(set(mock) | set(real))
    return [(k, mock.get(k), real.get(k)) for k in keys if k not in skip and
            mock.get(k) != real.get(k)]


def pick_scenarios(index, wanted, limit=10):
    """The scenarios to check: those named, else one per distinct TLS transport
    configuration (TLS on/off, secure transport, protocol bounds, ciphers) and then
    one per remaining auth method, Azure-like ones first."""
    if wanted:
        missing = [w for w in wanted if w not in index["scenarios"]]
        if missing:
            raise SystemExit("troubleshoot: no scenario %s in the fixtures index" % missing)
        return wanted
    names = sorted(index["scenarios"], key=lambda n: (not n.startswith("azure-new"), n))
    usable = [n for n in names if not T.scenario_server(index, n)["client_cert"] and
              index["scenarios"][n].get("host_match", True) is not False]
    out, seen_tls, seen_auth = [], set(), set()
    for n in usable:
        s = T.scenario_server(index, n)
        key = (s["ssl"], s["require_secure_transport"], s["ssl_min_protocol_version"],
               s["ssl_max_protocol_version"], s["ssl_ciphers"])
        if key not in seen_tls:
            seen_tls.add(key)
            seen_auth.add(s["auth"])
            out.append(n)
    for n in usable:
        s = T.scenario_server(index, n)
        if s["auth"] not in seen_auth and n not in out:
            seen_auth.add(s["auth"])
            out.append(n)
    return out[:limit]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="the meson build folder")
    ap.add_argument("--fixtures")
    ap.add_argument("--check", action="append", choices=CHECKS)
    ap.add_argument("--scenarios")
    ap.add_argument("--targets", default="mock,real")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    checks = args.check or CHECKS
    targets_wanted = args.targets.split(",")
    pgtls = os.path.join(args.build, "cli", "pgtls")
    fidelity = os.path.join(args.build, "fidelity", "pgtls-fidelity")
    for tool in ("psql", "openssl"):
        if not shutil.which(tool):
            print("troubleshoot: %s is not installed" % tool)
            return SKIP
    work = tempfile.mkdtemp(prefix="pgtls-ts-")
    os.chmod(work, 0o755)
    failures, report = [], []
    targets = []
    try:
        fixtures = args.fixtures
        if not fixtures:
            fixtures = os.path.join(work, "fixtures")
            st, out, err = run([pgtls, "ca", "gen", "--out", fixtures], 300)
            if st != 0:
                print("troubleshoot: 'pgtls ca gen' failed (status %d): %s"
                      % (st, (out + err).strip()[-500:]))
                return SKIP if "not built" in err else 1
        index = T.load_index(fixtures)
        scenarios = pick_scenarios(index, args.scenarios.split(",") if args.scenarios else None)
        if "mock" in targets_wanted:
            targets.append(T.MockTarget(pgtls, fixtures, work))
        if "real" in targets_wanted:
            targets.append(T.RealTarget(fidelity, fixtures, work))
        for name in scenarios:
            ctx = Ctx(args, index, fixtures, name, os.path.join(work, name))
            facts = {}
            for t in targets:
                ok, why = t.start(name)
                if not ok:
                    if t.name == "real":
                        report.append((name, "*", "real", "not expressible: %s" % why))
                        continue
                    failures.append("%s: the mock did not start: %s" % (name, why))
                    if "not built" in (why or ""):
                        print("troubleshoot: the mock is not built in this version: %s" % why)
                        return SKIP
                    continue
                for c in checks:
                    check, expect = CHECK_FUNCS[c]
                    try:
                        f = check(ctx, t)
                    except Skip as e:
                        print("troubleshoot: skipped: %s" % e)
                        return SKIP
                    facts[(c, t.name)] = f
                    problems = expect(ctx, f, t.name)
                    report.append((name, c, t.name, "; ".join(problems) or "ok"))
                    failures += ["%s %s on %s: %s" % (name, c, t.name, p) for p in problems]
                t.stop()
            if len(targets) == 2:
                for c in checks:
                    m, r = facts.get((c, "mock")), facts.get((c, "real"))
                    if m is None or r is None:
                        continue
                    for key, mv, rv in differences(ctx, c, m, r):
                        failures.append("%s %s: mock and real differ in %s: mock=%r real=%r"
                                        % (name, c, key, mv, rv))
                    for key, why in real_cannot(ctx, c).items():
                        report.append((name, c, "real", "not compared: %s (%s)" % (key, why)))
    finally:
        for t in targets:
            t.close()
        if args.keep:
            print("troubleshoot: kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("| scenario | check | server | result |\n|---|---|---|---|")
    for row in report:
        print("| %s |" % " | ".join(str(x) for x in row))
    if failures:
        print("\n%d failure(s):" % len(failures))
        for f in failures:
            print("FAIL: " + f)
        return 1
    print("\nall troubleshooting checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
