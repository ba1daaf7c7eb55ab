#!/usr/bin/env python3
"""PostgreSQL's own client-side SSL tests against the mock and a real server.

The client-side cases of PostgreSQL's src/test/ssl/t/001_ssltests.pl (as of the
PostgreSQL 14-17 test file: sslmode x trust anchor, client CRL file and
directory, host names and SANs, protocol bounds), restated as a table
{server certificate, connection options, expected outcome, error pattern}, run
with libpq (psql, and psycopg's bundled libpq when installed) against `pgtls mock` and against a real PostgreSQL configured
the same way (`pgtls-fidelity serve`). The test fails when either server does
not give 001_ssltests.pl's outcome and pattern, or when the two give a
different outcome or libpq error text (ports normalised).

Certificates: make_sslfiles.py (sslfiles.mk's names, subjects and extensions).
Server side, as 001_ssltests.pl's switch_server_cert: ssl_cert_file is the bare
leaf, hostssl-only rules with trust for the test user. Differences from
001_ssltests.pl, none of which changes a client-side outcome: the database is
`postgres` (not trustdb) and no ssl_ca_file is set (the client-side cases send
no client certificate).

Usage: pg_ssltests.py --build BUILD [--bindir DIR] [--out FILE.json]
"""
import argparse
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
USER = "ssltestuser"
HOSTADDR = "127.0.0.1"

# 001_ssltests.pl's client-side cases: (server cert, options, "ok" | regex of
# the failure). Options are appended to
#   user=ssltestuser dbname=postgres sslcert=invalid hostaddr=127.0.0.1
CN = "host=common-name.pg-ssltest.test"
ROOT = "sslrootcert=ssl/root+server_ca.crt"
VF = ROOT + " sslmode=verify-full"
CASES = [
    # sslmode x trust anchor (server-cn-only)
    ("server-cn-only", CN + " sslmode=disable", r"no pg_hba\.conf entry"),
    ("server-cn-only", CN + " sslrootcert=invalid sslmode=require", "ok"),
    ("server-cn-only", CN + " sslrootcert=invalid sslmode=verify-ca",
     r'root certificate file "invalid" does not exist'),
    ("server-cn-only", CN + " sslrootcert=invalid sslmode=verify-full",
     r'root certificate file "invalid" does not exist'),
    ("server-cn-only", CN + " sslrootcert=ssl/client_ca.crt sslmode=require", r"SSL error"),
    ("server-cn-only", CN + " sslrootcert=ssl/client_ca.crt sslmode=verify-ca", r"SSL error"),
    ("server-cn-only", CN + " sslrootcert=ssl/client_ca.crt sslmode=verify-full", r"SSL error"),
    ("server-cn-only", CN + " sslrootcert=ssl/server_ca.crt sslmode=verify-ca", r"SSL error"),
    ("server-cn-only", CN + " " + ROOT + " sslmode=require", "ok"),
    ("server-cn-only", CN + " " + ROOT + " sslmode=verify-ca", "ok"),
    ("server-cn-only", CN + " " + ROOT + " sslmode=verify-full", "ok"),
    ("server-cn-only", CN + " sslrootcert=ssl/both-cas-1.crt sslmode=verify-ca", "ok"),
    ("server-cn-only", CN + " sslrootcert=ssl/both-cas-2.crt sslmode=verify-ca", "ok"),
    # client-side CRL
    ("server-cn-only", CN + " " + ROOT + " sslmode=verify-ca sslcrl=invalid", "ok"),
    ("server-cn-only", CN + " " + ROOT + " sslmode=verify-ca sslcrl=ssl/client.crl", r"SSL error"),
    ("server-cn-only", CN + " " + ROOT + " sslmode=verify-ca sslcrldir=ssl/client-crldir",
     r"SSL error"),
    ("server-cn-only", CN + " " + ROOT + " sslmode=verify-ca sslcrl=ssl/root+server.crl", "ok"),
    ("server-cn-only", CN + " " + ROOT + " sslmode=verify-ca sslcrldir=ssl/root+server-crldir",
     "ok"),
    # host name vs the certificate
    ("server-cn-only", ROOT + " sslmode=require host=wronghost.test", "ok"),
    ("server-cn-only", ROOT + " sslmode=verify-ca host=wronghost.test", "ok"),
    ("server-cn-only", ROOT + " sslmode=verify-full host=wronghost.test",
     re.escape('server certificate for "common-name.pg-ssltest.test" does not match host name '
               '"wronghost.test"')),
    ("server-multiple-alt-names", VF + " host=dns1.alt-name.pg-ssltest.test", "ok"),
    ("server-multiple-alt-names", VF + " host=dns2.alt-name.pg-ssltest.test", "ok"),
    ("server-multiple-alt-names", VF + " host=foo.wildcard.pg-ssltest.test", "ok"),
    ("server-multiple-alt-names", VF + " host=wronghost.alt-name.pg-ssltest.test",
     re.escape('server certificate for "dns1.alt-name.pg-ssltest.test" (and 2 other names) does '
               'not match host name "wronghost.alt-name.pg-ssltest.test"')),
    ("server-multiple-alt-names", VF + " host=deep.subdomain.wildcard.pg-ssltest.test",
     re.escape('server certificate for "dns1.alt-name.pg-ssltest.test" (and 2 other names) does '
               'not match host name "deep.subdomain.wildcard.pg-ssltest.test"')),
    ("server-single-alt-name", VF + " host=single.alt-name.pg-ssltest.test", "ok"),
    ("server-single-alt-name", VF + " host=wronghost.alt-name.pg-ssltest.test",
     re.escape('server certificate for "single.alt-name.pg-ssltest.test" does not match host '
               'name "wronghost.alt-name.pg-ssltest.test"')),
    ("server-single-alt-name", VF + " host=deep.subdomain.wildcard.pg-ssltest.test",
     re.escape('server certificate for "single.alt-name.pg-ssltest.test" does not match host '
               'name "deep.subdomain.wildcard.pg-ssltest.test"')),
    ("server-cn-and-alt-names", VF + " host=dns1.alt-name.pg-ssltest.test", "ok"),
    ("server-cn-and-alt-names", VF + " host=dns2.alt-name.pg-ssltest.test", "ok"),
    ("server-cn-and-alt-names", VF + " host=common-name.pg-ssltest.test",
     re.escape('server certificate for "dns1.alt-name.pg-ssltest.test" (and 1 other name) does '
               'not match host name "common-name.pg-ssltest.test"')),
    ("server-no-names", ROOT + " sslmode=verify-ca " + CN, "ok"),
    ("server-no-names", ROOT + " sslmode=verify-full " + CN,
     r"could not get server's host name from server certificate"),
    # a revoked server certificate
    ("server-revoked", CN + " " + ROOT + " sslmode=verify-ca", "ok"),
    ("server-revoked", CN + " " + ROOT + " sslmode=verify-ca sslcrl=ssl/root+server.crl",
     r"SSL error"),
    ("server-revoked", CN + " " + ROOT + " sslmode=verify-ca sslcrldir=ssl/root+server-crldir",
     r"SSL error"),
    # client protocol bounds
    ("server-revoked", CN + " " + ROOT + " sslmode=require ssl_min_protocol_version=TLSv1.2 "
     "ssl_max_protocol_version=TLSv1.2", "ok"),
    ("server-revoked", CN + " " + ROOT + " sslmode=require ssl_min_protocol_version=TLSv1.2 "
     "ssl_max_protocol_version=TLSv1.1", r"invalid SSL protocol version range"),
    ("server-revoked", CN + " " + ROOT + " sslmode=require ssl_min_protocol_version=incorrect_tls",
     r'invalid "?ssl_min_protocol_version"? value'),
    ("server-revoked", CN + " " + ROOT + " sslmode=require ssl_max_protocol_version=incorrect_tls",
     r'invalid "?ssl_max_protocol_version"? value'),
]

# The server-side half that needs client certificates: the `cert` method
# (001_ssltests.pl's certdb), the server's client CA file, its CRL file and
# CRL directory. Options are appended to the same base (later keywords win).
SRV = ROOT + " sslmode=require"
KEY = " sslcert=ssl/client.crt sslkey=ssl/"
CASES += [
    ("cert-auth", SRV + " user=ssltestuser sslcert=invalid",
     r"connection requires a valid client certificate"),
    ("cert-auth", SRV + " user=ssltestuser" + KEY + "client_tmp.key", "ok"),
    ("cert-auth", SRV + " user=ssltestuser" + KEY + "client-der_tmp.key", "ok"),
    ("cert-auth", SRV + " user=ssltestuser" + KEY + "client-encrypted-pem_tmp.key "
     "sslpassword='dUmmyP^#+'", "ok"),
    ("cert-auth", SRV + " user=ssltestuser" + KEY + "client-encrypted-der_tmp.key "
     "sslpassword='dUmmyP^#+'", "ok"),
    ("cert-auth", SRV + " user=ssltestuser" + KEY + "client-encrypted-pem_tmp.key "
     "sslpassword='wrong'",
     r'private key file "ssl/client-encrypted-pem_tmp\.key": (bad decrypt|unable to load)'),
    ("cert-auth", SRV + " user=ssltestuser" + KEY + "client_wrongperms_tmp.key",
     r'private key file "ssl/client_wrongperms_tmp\.key" has group or world access'),
    ("cert-auth", SRV + " user=anotheruser" + KEY + "client_tmp.key",
     r'certificate authentication failed for user "anotheruser"'),
    ("cert-auth", SRV + " user=ssltestuser sslcert=ssl/client-revoked.crt "
     "sslkey=ssl/client-revoked_tmp.key", r"SSL error"),
    ("cert-auth-root-ca", SRV + " user=ssltestuser sslkey=ssl/client_tmp.key "
     "sslcert=ssl/client+client_ca.crt", "ok"),
    ("cert-auth-root-ca", SRV + " user=ssltestuser sslkey=ssl/client_tmp.key "
     "sslcert=ssl/client.crt", r"SSL error"),
    ("cert-auth-crldir", SRV + " user=ssltestuser sslcert=ssl/client-revoked.crt "
     "sslkey=ssl/client-revoked_tmp.key", r"SSL error"),
    ("cert-auth-crldir", SRV + " user=ssltestuser" + KEY + "client_tmp.key", "ok"),
]
# 001's verifydb: pg_hba `trust clientcert=verify-full` (the CN must be the
# user, else the method's own failure) and `clientcert=verify-ca` (any
# verified certificate). One rule per scenario, so the verify-ca case keeps
# user ssltestuser (001 uses another role, which a one-role server lacks) and
# shows the CN need not match with a certificate whose CN is another name.
CASES += [
    ("verify-full-trust", SRV + " user=ssltestuser" + KEY + "client_tmp.key", "ok"),
    ("verify-full-trust", SRV + " user=anotheruser" + KEY + "client_tmp.key",
     r'FATAL:  "trust" authentication failed for user "anotheruser"'),
    ("verify-full-trust", SRV + " user=ssltestuser sslcert=invalid",
     r"connection requires a valid client certificate"),
    ("verify-ca-trust", SRV + " user=ssltestuser" + KEY + "client_tmp.key", "ok"),
    ("verify-ca-trust", SRV + " user=ssltestuser sslcert=invalid",
     r"connection requires a valid client certificate"),
    ("verify-ca-trust", SRV + " user=ssltestuser sslcert=ssl/client-revoked.crt "
     "sslkey=ssl/client-revoked_tmp.key", "ok"),
]
# pg_stat_ssl for this session, as 001_ssltests.pl asks it (psql -A -F , -P
# null=_null_): (scenario, options, "ok", query, pattern of the output). The
# serial is \d+ here: our recipe draws serials at random, sslfiles.mk's are 1.
STAT_SSL = "SELECT * FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
STAT_HEAD = r"^pid,ssl,version,cipher,bits,client_dn,client_serial,issuer_dn\n"
QUERY_CASES = [
    ("server-revoked", CN + " sslrootcert=invalid", "ok", STAT_SSL,
     STAT_HEAD + r"\d+,t,TLSv[\d.]+,[\w-]+,\d+,_null_,_null_,_null_$"),
    ("cert-auth", SRV + " user=ssltestuser" + KEY + "client_tmp.key", "ok", STAT_SSL,
     STAT_HEAD + r"\d+,t,TLSv[\d.]+,[\w-]+,\d+,/CN=ssltestuser,\d+,"
     r"/CN=Test CA for PostgreSQL SSL regression test client certs$"),
]
CASES += [c[:3] + (c[3], c[4]) for c in QUERY_CASES]
# scenario -> (server certificate, extra server settings); switch_server_cert's
# cafile / crlfile / crldir arguments.
SCENARIOS = {}
for _name in sorted({c[0] for c in CASES}):
    SCENARIOS[_name] = (_name, {})
SCENARIOS["cert-auth"] = ("server-cn-only", {"auth": "cert", "ssl_ca_file": "ssl/root+client_ca.crt",
                                              "ssl_crl_file": "ssl/root+client.crl"})
SCENARIOS["verify-full-trust"] = ("server-cn-only", {"auth": "trust", "clientcert": "verify-full",
                                                      "ssl_ca_file": "ssl/root+client_ca.crt"})
SCENARIOS["verify-ca-trust"] = ("server-cn-only", {"auth": "trust", "clientcert": "verify-ca",
                                                    "ssl_ca_file": "ssl/root+client_ca.crt"})
SCENARIOS["cert-auth-root-ca"] = ("server-cn-only", {"auth": "cert",
                                                      "ssl_ca_file": "ssl/root_ca.crt"})
SCENARIOS["cert-auth-crldir"] = ("server-cn-only", {"auth": "cert",
                                                     "ssl_ca_file": "ssl/root+client_ca.crt",
                                                     "ssl_crl_dir": "ssl/root+client-crldir"})
SERVERS = sorted(SCENARIOS)
# 001_ssltests.pl copies each client key to NAME_tmp.key with 0600 (libpq
# refuses keys others can read), and one to client_wrongperms_tmp.key 0644.
TMP_KEYS = ["client", "client-revoked", "client-der", "client-encrypted-pem",
            "client-encrypted-der"]


def fail(msg):
    print("pg_ssltests: " + msg, file=sys.stderr)
    sys.exit(2)


def server_version(bindir):
    out = subprocess.run([os.path.join(bindir, "postgres"), "-V"], capture_output=True,
                         text=True, check=True).stdout
    return re.search(r"\(PostgreSQL\) ([0-9.]+)", out).group(1)


def write_index(fixtures, version):
    index = {"schema": "pgtls-fixtures/1", "default_host": "common-name.pg-ssltest.test",
             "certs": {}, "stores": {}, "chains": {}, "scenarios": {}}
    for name in SERVERS:
        cert, extra = SCENARIOS[name]
        index["chains"][cert] = {"pem": "ssl/%s.crt" % cert, "key": "ssl/%s.key" % cert,
                                 "certs": [cert], "leaf": cert}
        index["scenarios"]["pgssl-" + name] = {
            "description": "001_ssltests.pl switch_server_cert " + cert,
            "chain": cert, "host": "common-name.pg-ssltest.test",
            "server": {"ssl": True, "require_secure_transport": True, "auth": "trust",
                       "user": USER, "password": "", "ssl_min_protocol_version": "TLSv1.2",
                       "ssl_max_protocol_version": "", "ssl_groups": "",
                       "ssl_ciphers": "HIGH:MEDIUM:+3DES:!aNULL", "client_cert": False,
                       "server_version": version, "direct_tls": int(version.split(".")[0]) >= 17}}
        index["scenarios"]["pgssl-" + name]["server"].update(extra)
    with open(os.path.join(fixtures, "index.json"), "w") as f:
        json.dump(index, f, indent=1)


def read_line(proc, timeout):
    """One line of proc's stdout, read unbuffered (select() on a buffered
    stream would miss lines already in its buffer)."""
    fd, line = proc.stdout.fileno(), b""
    while not line.endswith(b"\n"):
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            fail("no answer within %d s from %s" % (timeout, proc.args[0]))
        ch = os.read(fd, 1)
        if not ch:
            fail("%s ended early (run it by hand to see why)" % proc.args[0])
        line += ch
    return line.decode()


def normalise(text):
    text = re.sub(r"port \d+", "port <port>", text)
    return text.strip()


def normalise_rows(text):
    """Query output: the backend pid differs between servers."""
    return re.sub(r"(?m)^\d+,", "<pid>,", text.strip())


def run_psql(cwd, env, conninfo, sql=None):
    if sql:
        argv = ["psql", "-X", "-A", "-F", ",", "-P", "null=_null_", "-P", "footer=off", "-c", sql]
    else:
        argv = ["psql", "-X", "-A", "-t", "-c", "SELECT 1"]
    p = subprocess.run(argv + ["-d", conninfo], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=30)
    return ("ok" if p.returncode == 0 else "fail"), normalise(p.stderr), p.stdout


# psycopg's binary wheel bundles libpq 18: newer libpq texts (sslrootcert=system
# hints, ...) over the same cases.
PSYCOPG_WORKER = """
import json, sys, psycopg
def text(v):
    return "_null_" if v is None else ("t" if v else "f") if isinstance(v, bool) else str(v)
for line in sys.stdin:
    conninfo, sql = json.loads(line)
    try:
        cur = psycopg.connect(conninfo, connect_timeout=20).execute(sql or "SELECT 1")
        rows = cur.fetchall()
        out = ""
        if sql:
            out = ",".join(d.name for d in cur.description) + "\\n" + "".join(
                ",".join(text(v) for v in r) + "\\n" for r in rows)
        print(json.dumps(["ok", "", out]), flush=True)
    except psycopg.Error as e:
        print(json.dumps(["fail", str(e), ""]), flush=True)
"""


def psycopg_python():
    py = os.path.join(HERE, "..", "..", "clients", "psycopg", ".venv", "bin", "python")
    return os.path.abspath(py) if os.access(py, os.X_OK) else None


class Psycopg:
    """One Python process with psycopg for every case (one JSON line each way)."""

    def __init__(self, cwd, env):
        self.proc = subprocess.Popen([psycopg_python(), "-c", PSYCOPG_WORKER], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)

    def __call__(self, cwd, env, conninfo, sql=None):
        self.proc.stdin.write(json.dumps([conninfo, sql]) + "\n")
        self.proc.stdin.flush()
        outcome, err, out = json.loads(read_line(self.proc, 60))
        return outcome, normalise(err), out


def judge(expect, outcome, err, out="", out_pattern=None):
    if expect == "ok":
        return outcome == "ok" and (not out_pattern or
                                    re.search(out_pattern, out.strip(), re.M) is not None)
    return outcome == "fail" and re.search(expect, err) is not None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--bindir", default=os.environ.get("PGTLS_PG_BINDIR",
                                                       "/usr/lib/postgresql/15/bin"))
    ap.add_argument("--out")
    a = ap.parse_args()
    pgtls = os.path.join(a.build, "cli", "pgtls")
    fidelity = os.path.join(a.build, "fidelity", "pgtls-fidelity")
    for exe in (pgtls, fidelity, os.path.join(a.bindir, "postgres")):
        if not os.access(exe, os.X_OK):
            fail("%s is missing (build pgtls; install the server, see docs/fidelity.md)" % exe)
    if not shutil.which("psql"):
        fail("psql is missing (Debian package postgresql-client)")
    tmp = tempfile.mkdtemp(prefix="pgtls-ssltests-")
    procs = []
    try:
        subprocess.run([sys.executable, os.path.join(HERE, "make_sslfiles.py"), tmp], check=True)
        version = server_version(a.bindir)
        write_index(tmp, version)
        for key in TMP_KEYS:
            shutil.copyfile(os.path.join(tmp, "ssl", key + ".key"),
                            os.path.join(tmp, "ssl", key + "_tmp.key"))
            os.chmod(os.path.join(tmp, "ssl", key + "_tmp.key"), 0o600)
        shutil.copyfile(os.path.join(tmp, "ssl", "client.key"),
                        os.path.join(tmp, "ssl", "client_wrongperms_tmp.key"))
        os.chmod(os.path.join(tmp, "ssl", "client_wrongperms_tmp.key"), 0o644)
        os.makedirs(os.path.join(tmp, "home"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["HOME"] = os.path.join(tmp, "home")
        argv = [pgtls, "mock", "--fixtures", tmp]
        for s in SERVERS:
            argv += ["--scenario", "pgssl-" + s]
        mock = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        procs.append(mock)
        mock_ports = {}
        while len(mock_ports) < len(SERVERS):
            # "listening scenario=S addr=A port=P" lines, perhaps with hint lines between.
            m = re.search(r"^listening scenario=pgssl-(\S+) addr=\S+ port=(\d+)",
                          read_line(mock, 30))
            if m:
                mock_ports[m.group(1)] = int(m.group(2))
        real = subprocess.Popen([fidelity, "serve", "--fixtures", tmp, "--bindir", a.bindir],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, bufsize=1)
        procs.append(real)
        ready = json.loads(read_line(real, 180))
        if ready.get("event") != "ready":
            fail("pgtls-fidelity serve: %s" % ready)
        rows, bad = [], 0
        current = None
        clients = [("psql (libpq 15)", run_psql)]
        if psycopg_python():
            worker = Psycopg(tmp, env)
            procs.append(worker.proc)
            clients.append(("psycopg (bundled libpq)", worker))
        else:
            print("pg_ssltests: psycopg not installed (clients/psycopg/install): psql only")
        for server, opts, expect, *query in CASES:
            sql, out_pattern = query if query else (None, None)
            if server != current:
                real.stdin.write("start pgssl-%s\n" % server)
                real.stdin.flush()
                ev = json.loads(read_line(real, 120))
                if "port" not in ev or ev.get("event") == "error":
                    fail("real server for %s: %s" % (server, ev))
                real_port = ev["port"]
                current = server
            base = "user=%s dbname=postgres sslcert=invalid hostaddr=%s " % (USER, HOSTADDR)
            for client, run in clients:
                m_out, m_err, m_rows = run(tmp, env, base + opts + " port=%d" % mock_ports[server],
                                           sql)
                r_out, r_err, r_rows = run(tmp, env, base + opts + " port=%d" % real_port, sql)
                problems = []
                if not judge(expect, m_out, m_err, m_rows, out_pattern):
                    problems.append("mock misses 001_ssltests.pl's outcome")
                if not judge(expect, r_out, r_err, r_rows, out_pattern):
                    problems.append("real server misses 001_ssltests.pl's outcome")
                if (m_out, m_err, normalise_rows(m_rows)) != (r_out, r_err, normalise_rows(r_rows)):
                    problems.append("mock and real differ")
                if sql:
                    m_err, r_err = m_err + " | " + m_rows.strip(), r_err + " | " + r_rows.strip()
                bad += bool(problems)
                rows.append({"client": client, "server": server, "options": opts,
                             "expect": expect, "mock": m_out, "mock_error": m_err,
                             "real": r_out, "real_error": r_err, "problems": problems})
                if problems:
                    print("FAIL %s %s | %s: %s\n  expect: %s\n  mock:   %s %s\n  real:   %s %s"
                          % (client, server, opts, "; ".join(problems), expect, m_out, m_err,
                             r_out, r_err))
        print("001_ssltests.pl client-side cases: %d cases x %s against the mock and "
              "PostgreSQL %s: %d runs, %d failed" % (len(CASES), ", ".join(c[0] for c in clients),
                                                     version, len(rows), bad))
        if a.out:
            with open(a.out, "w") as f:
                json.dump({"schema": "pgtls-ssltests/1", "server_version": version,
                           "cases": rows}, f, indent=1)
        print("%d passed, %d failed" % (len(rows) - bad, bad))
        return 1 if bad else 0
    finally:
        for p in procs:
            if p.poll() is None:
                if p.stdin:
                    p.stdin.close()
                else:
                    p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
