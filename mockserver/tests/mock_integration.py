#!/usr/bin/env python3
"""Integration tests of the pgtls mock server with the real psql/libpq,
openssl s_client and a small protocol client written here (stdlib only).

usage: mock_integration.py PGTLS [--only NAME] [--list]

Fixtures come from `PGTLS ca gen --out <tmp>` (or $PGTLS_TEST_FIXTURES when set).
Every test starts its own mock on free ports and reads its event log."""
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

PGTLS = None
FIX = None
TMP = None
HOST = "mydemoserver.postgres.database.azure.com"
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


# ---------- the mock ----------

class Mock:
    def __init__(self, scenarios, extra=(), fixtures=None):
        self.log = os.path.join(TMP, "events-%d.jsonl" % time.monotonic_ns())
        argv = [PGTLS, "mock", "--fixtures", fixtures or FIX, "--event-log", self.log,
                "--timeout-ms", "5000"]
        for s in scenarios:
            argv += ["--scenario", s]
        argv += list(extra)
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.ports = {}
        self.hints = {}  # scenario -> the indented lines printed after its listening line
        last = None
        # Each listener prints its line, then an indented connection line and
        # password hint; the last hint of the last listener ends the start-up.
        while not (len(self.ports) == len(scenarios) and
                   any(h.startswith("password:") for h in self.hints[last])):
            line = self.proc.stdout.readline()
            m = re.match(r"listening scenario=(\S+) addr=(\S+) port=(\d+)", line)
            if m:
                last = m.group(1)
                self.ports[last] = int(m.group(3))
                self.hints[last] = []
            elif line.startswith("  ") and last is not None:
                self.hints[last].append(line.strip())
            else:
                err = self.proc.stderr.read()
                raise Failure("mock did not start: %r %r" % (line, err))

    def port(self, scenario=None):
        return self.ports[scenario] if scenario else next(iter(self.ports.values()))

    def events(self, wait_for=1, timeout=5.0):
        deadline = time.time() + timeout
        while True:
            evs = []
            if os.path.exists(self.log):
                with open(self.log) as f:
                    evs = [json.loads(l) for l in f if l.strip()]
            if len(evs) >= wait_for or time.time() > deadline:
                # A connection's event is written when it ends, so two
                # connections' events can land in either order; "pid" is given
                # in accept order, which is the order the tests mean.
                return sorted(evs, key=lambda e: e.get("pid", 0))
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        rc = self.stop()
        err = self.proc.stderr.read()
        if exc_type is None:
            # A sanitizer report or a crash of the mock fails the test too.
            check(rc == 0, "mock exited with %s: %s" % (rc, err[-2000:]))
            check("Sanitizer" not in err and "runtime error" not in err,
                  "sanitizer report from the mock: %s" % err[-2000:])


def store(name):
    with open(os.path.join(FIX, "index.json")) as f:
        idx = json.load(f)
    return os.path.join(FIX, idx["stores"][name]["pem"])


def index():
    with open(os.path.join(FIX, "index.json")) as f:
        return json.load(f)


def psql(port, query="SELECT 1", host=HOST, password="pgtls-secret", user="pgtls", **opts):
    """Runs psql with an isolated HOME and PG* environment; returns (rc, out, err)."""
    home = tempfile.mkdtemp(dir=TMP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["HOME"] = home
    env["PGPASSWORD"] = password
    env["PGCONNECT_TIMEOUT"] = "10"
    conn = "host=%s hostaddr=127.0.0.1 port=%d user=%s dbname=postgres" % (host, port, user)
    for k, v in opts.items():
        conn += " %s=%s" % (k, v)
    p = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", conn, "-c", query],
                       env=env, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


# ---------- a small protocol client ----------

def startup_packet(params):
    body = struct.pack("!I", 196608)
    for k, v in params.items():
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def read_msg(s):
    hdr = recv_exact(s, 5)
    ln = struct.unpack("!I", hdr[1:])[0]
    return chr(hdr[0]), recv_exact(s, ln - 4)


def error_fields(body):
    out = {}
    for part in body.split(b"\0"):
        if part:
            out[chr(part[0])] = part[1:].decode()
    return out


def tls_client_ctx(alpn=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    return ctx


def connect(port, tls=True, direct=False, alpn=None, params=None, timeout=10):
    """Opens a session with trust auth; returns the socket after ReadyForQuery."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s = raw
    if direct:
        s = tls_client_ctx(alpn if alpn is not None else ["postgresql"]).wrap_socket(raw, server_hostname=HOST)
    elif tls:
        raw.sendall(struct.pack("!II", 8, 80877103))
        check(recv_exact(raw, 1) == b"S", "SSLRequest not answered with S")
        s = tls_client_ctx(alpn).wrap_socket(raw, server_hostname=HOST)
    s.sendall(startup_packet(params or {"user": "pgtls", "database": "postgres"}))
    return s


def until_ready(s):
    msgs = []
    while True:
        t, b = read_msg(s)
        msgs.append((t, b))
        if t == "Z":
            return msgs
        if t == "E" and error_fields(b).get("S") == "FATAL":
            return msgs


def simple_query(s, sql):
    body = sql.encode() + b"\0"
    s.sendall(b"Q" + struct.pack("!I", len(body) + 4) + body)
    msgs = until_ready(s)
    rows = []
    for t, b in msgs:
        if t == "D":
            n = struct.unpack("!H", b[:2])[0]
            off, row = 2, []
            for _ in range(n):
                ln = struct.unpack("!i", b[off:off + 4])[0]
                off += 4
                row.append(None if ln < 0 else b[off:off + ln].decode())
                off += max(ln, 0)
            rows.append(row)
        if t == "E":
            raise Failure("query %r failed: %s" % (sql, error_fields(b)))
    return rows


# ---------- tests ----------

@test
def verify_full_connects_over_the_valid_chain():
    with Mock(["azure-new"]) as m:
        rc, out, err = psql(m.port(), "SELECT ssl_is_used()", sslmode="verify-full",
                            sslrootcert=store("root-g2"))
        check(rc == 0 and out == "t", "psql failed: %s %s" % (out, err))
        ev = m.events()[0]
        check(ev["handshake"] == "ok" and ev["auth_result"] == "ok" and ev["end"] == "client-close",
              "event %s" % ev)
        check(ev["sni"] == HOST, "SNI not recorded: %s" % ev["sni"])


@test
def verify_ca_rejects_an_unknown_root_and_the_mock_logs_unknown_ca():
    with Mock(["azure-new"]) as m:
        rc, out, err = psql(m.port(), sslmode="verify-ca", sslrootcert=store("wrong-root"))
        check(rc != 0 and "certificate verify failed" in err, "expected a verify failure: %s" % err)
        ev = m.events()[0]
        check(ev["client_alert"] == "unknown_ca" and ev["end"] == "client-alert", "event %s" % ev)
        check(ev["handshake"] == "failed", "event %s" % ev)


@test
def require_connects_without_a_root_file():
    with Mock(["azure-new"]) as m:
        rc, out, err = psql(m.port(), "SELECT ssl_is_used()", sslmode="require")
        check(rc == 0 and out == "t", "psql failed: %s" % err)


@test
def verify_full_rejects_a_host_mismatch_after_a_complete_handshake():
    verify = index()["scenarios"]["wrong-host"]["verify"]
    st = next(k for k, v in verify.items() if v == "ok" and k != "system")
    with Mock(["wrong-host"]) as m:
        rc, out, err = psql(m.port(), sslmode="verify-full", sslrootcert=store(st))
        check(rc != 0 and "does not match host name" in err, "expected a host mismatch: %s" % err)
        rc2, out2, err2 = psql(m.port(), sslmode="verify-ca", sslrootcert=store(st))
        check(rc2 == 0, "verify-ca should pass on a host mismatch: %s" % err2)
        ev = m.events(2)[0]
        check(ev["handshake"] == "ok" and ev["client_alert"] in ("close_notify", None)
              and ev["end"] == "client-close", "event %s" % ev)


@test
def an_expired_leaf_fails_with_certificate_expired_in_the_event_log():
    verify = index()["scenarios"]["expired-leaf"]["verify"]
    st = next(k for k, v in verify.items() if v == "expired")
    with Mock(["expired-leaf"]) as m:
        rc, out, err = psql(m.port(), sslmode="verify-full", sslrootcert=store(st))
        check(rc != 0 and "certificate verify failed" in err, "expected a failure: %s" % err)
        ev = m.events()[0]
        check(ev["client_alert"] == "certificate_expired", "event %s" % ev)


@test
def require_secure_transport_refuses_sslmode_disable_with_the_pg_hba_text():
    with Mock(["azure-new"]) as m:
        rc, out, err = psql(m.port(), sslmode="disable")
        want = ('FATAL:  no pg_hba.conf entry for host "127.0.0.1", user "pgtls", '
                'database "postgres", no encryption')
        check(rc != 0 and want in err, "wrong error: %s" % err)
        ev = m.events()[0]
        check(ev["fatal"]["sqlstate"] == "28000" and ev["tls_start"] == "none", "event %s" % ev)


@test
def allow_retries_with_tls_after_the_pg_hba_refusal():
    with Mock(["azure-new"]) as m:
        rc, out, err = psql(m.port(), "SELECT ssl_is_used()", sslmode="allow")
        check(rc == 0 and out == "t", "psql failed: %s %s" % (out, err))
        evs = m.events(2)
        check(evs[0]["tls_start"] == "none" and evs[0]["fatal"]["sqlstate"] == "28000"
              and evs[1]["handshake"] == "ok", "events %s" % evs)


@test
def a_tls12_only_server_negotiates_tls12_and_refuses_a_tls13_only_client():
    with Mock(["tls12-only"]) as m:
        rc, out, err = psql(m.port(), "SELECT ssl_version()", sslmode="require")
        check(rc == 0 and out == "TLSv1.2", "expected TLSv1.2: %s %s" % (out, err))
        rc, out, err = psql(m.port(), sslmode="require", ssl_min_protocol_version="TLSv1.3")
        check(rc != 0 and "protocol version" in err, "expected a version failure: %s" % err)
        ev = m.events(2)[1]
        check(ev["server_alert"] == "protocol_version" and ev["handshake"] == "failed",
              "event %s" % ev)


@test
def a_tls13_only_server_negotiates_tls13_and_refuses_a_tls12_only_client():
    with Mock(["tls13-only"]) as m:
        rc, out, err = psql(m.port(), "SELECT ssl_version()", sslmode="require")
        check(rc == 0 and out == "TLSv1.3", "expected TLSv1.3: %s %s" % (out, err))
        rc, out, err = psql(m.port(), sslmode="require", ssl_max_protocol_version="TLSv1.2")
        check(rc != 0 and "protocol version" in err, "expected a version failure: %s" % err)


@test
def a_tls10_only_server_serves_tls10_at_security_level_0():
    with Mock(["tls10-only"]) as m:
        p = subprocess.run(["openssl", "s_client", "-starttls", "postgres", "-tls1", "-cipher",
                            "DEFAULT@SECLEVEL=0", "-connect", "127.0.0.1:%d" % m.port()],
                           input="", capture_output=True, text=True, timeout=30)
        check("Protocol  : TLSv1\n" in p.stdout, "no TLSv1 session: %s" % p.stdout[-500:])
        ev = m.events()[0]
        check(ev["tls_version"] == "TLSv1", "event %s" % ev)


@test
def prefer_falls_back_to_plaintext_after_a_failed_verification():
    with Mock(["plaintext-allowed"]) as m:
        rc, out, err = psql(m.port(), "SELECT ssl_is_used()", sslmode="prefer",
                            sslrootcert=store("wrong-root"))
        check(rc == 0 and out == "f", "expected a plaintext session: %s %s" % (out, err))
        evs = m.events(2)
        check(evs[0]["client_alert"] == "unknown_ca" and evs[1]["tls_start"] == "none"
              and evs[1]["auth_result"] == "ok", "events %s" % evs)
        check(evs[0]["pid"] < evs[1]["pid"], "pids are not in connection order")


@test
def scram_sha_256_plus_satisfies_channel_binding_require():
    with Mock(["azure-new"]) as m:
        rc, out, err = psql(m.port(), "SELECT 1", sslmode="verify-full",
                            sslrootcert=store("root-g2"), channel_binding="require")
        check(rc == 0 and out == "1", "psql failed: %s" % err)
        ev = m.events()[0]
        check(ev["auth_method"] == "scram-sha-256-plus", "event %s" % ev)


@test
def channel_binding_works_for_ecdsa_and_rsa_pss_leaves():
    with Mock(["ecdsa-p384-leaf", "rsa-pss-leaf"]) as m:
        for sc in ("ecdsa-p384-leaf", "rsa-pss-leaf"):
            rc, out, err = psql(m.port(sc), "SELECT 1", sslmode="require", channel_binding="require")
            check(rc == 0, "%s: %s" % (sc, err))


@test
def scram_rejects_a_wrong_password_with_28P01():
    with Mock(["azure-new"]) as m:
        rc, out, err = psql(m.port(), sslmode="require", password="nope")
        check(rc != 0 and 'password authentication failed for user "pgtls"' in err, err)
        ev = m.events()[0]
        check(ev["fatal"]["sqlstate"] == "28P01" and ev["auth_result"] == "failed", "event %s" % ev)


@test
def md5_and_cleartext_password_authenticate_and_reject_wrong_passwords():
    with Mock(["auth-md5", "auth-password"]) as m:
        for sc, method in (("auth-md5", "md5"), ("auth-password", "password")):
            rc, out, err = psql(m.port(sc), "SELECT 1", sslmode="require")
            check(rc == 0, "%s: %s" % (sc, err))
            rc, out, err = psql(m.port(sc), "SELECT 1", sslmode="require", password="wrong")
            check(rc != 0 and "password authentication failed" in err, "%s: %s" % (sc, err))
        evs = m.events(4)
        check(sorted(e["auth_method"] for e in evs) == ["md5", "md5", "password", "password"],
              "events %s" % evs)


@test
def the_seed_queries_report_the_true_tls_version_and_cipher():
    with Mock(["azure-new"]) as m:
        q = ("SELECT ssl_version(), ssl_cipher(); "
             "SELECT version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid(); "
             'SELECT datname as "Database name", usename as "User name", ssl, client_addr, '
             "application_name, backend_type FROM pg_stat_ssl JOIN pg_stat_activity ON "
             "pg_stat_ssl.pid = pg_stat_activity.pid ORDER BY ssl;")
        rc, out, err = psql(m.port(), q, sslmode="require")
        check(rc == 0, err)
        lines = out.splitlines()
        ev = m.events()[0]
        want = "%s|%s" % (ev["tls_version"], ev["cipher"])
        check(lines[0] == want and lines[1] == want, "got %s, event says %s" % (lines, want))
        check(lines[2] == "postgres|pgtls|t|127.0.0.1|psql|client backend", "row %s" % lines[2])


@test
def s_client_shows_exactly_the_chain_the_scenario_serves():
    idx = index()
    for sc in ("azure-new", "incomplete-chain"):
        chain = os.path.join(FIX, idx["chains"][idx["scenarios"][sc]["chain"]]["pem"])
        with open(chain) as f:
            want = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", f.read(), re.S)
        with Mock([sc]) as m:
            p = subprocess.run(["openssl", "s_client", "-starttls", "postgres", "-showcerts",
                                "-connect", "127.0.0.1:%d" % m.port()],
                               input="", capture_output=True, text=True, timeout=30)
            got = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", p.stdout, re.S)
            norm = lambda cs: [c.replace("\n", "") for c in cs]
            check(norm(got) == norm(want), "%s: served %d certs, chain file has %d" % (sc, len(got), len(want)))


@test
def a_requested_client_certificate_is_optional_and_recorded():
    idx = index()
    ch = idx["chains"][idx["scenarios"]["azure-new"]["chain"]]
    with Mock(["azure-new"], ["--set", "client_cert=true"]) as m:
        rc, out, err = psql(m.port(), "SELECT 1", sslmode="require")
        check(rc == 0, "psql without a certificate failed: %s" % err)
        p = subprocess.run(["openssl", "s_client", "-starttls", "postgres", "-connect",
                            "127.0.0.1:%d" % m.port(), "-cert", os.path.join(FIX, ch["pem"]),
                            "-key", os.path.join(FIX, ch["key"])],
                           input="", capture_output=True, text=True, timeout=30)
        evs = m.events(2)
        check(evs[0]["client_cert"] is False and evs[1]["client_cert"] is True,
              "events %s" % [e["client_cert"] for e in evs])


@test
def direct_tls_requires_alpn_postgresql():
    with Mock(["azure-new"], ["--set", "auth=trust"]) as m:
        s = connect(m.port(), direct=True)
        msgs = until_ready(s)
        check(msgs[-1][0] == "Z", "no ReadyForQuery over direct TLS")
        check(simple_query(s, "SELECT ssl_is_used()") == [["t"]], "ssl_is_used")
        s.close()
        try:
            connect(m.port(), direct=True, alpn=["http/1.1"])
            raise Failure("a foreign ALPN was accepted")
        except ssl.SSLError as e:
            check("NO_APPLICATION_PROTOCOL" in str(e).upper() or "application protocol" in str(e),
                  "unexpected error %s" % e)
        raw = socket.create_connection(("127.0.0.1", m.port()), timeout=5)
        s = tls_client_ctx(None).wrap_socket(raw, server_hostname=HOST)
        s.sendall(startup_packet({"user": "pgtls", "database": "postgres"}))
        try:
            data = s.recv(100)
        except (ssl.SSLError, ConnectionError):
            data = b""
        check(data == b"", "server answered a direct TLS session without ALPN: %r" % data)
        evs = m.events(3)
        check(evs[0]["tls_start"] == "direct" and evs[0]["alpn"] == "postgresql", "event %s" % evs[0])
        check(evs[1]["server_alert"] == "no_application_protocol", "event %s" % evs[1])
        check("without ALPN" in evs[2]["end_reason"], "event %s" % evs[2])


@test
def data_sent_after_sslrequest_is_never_read_as_tls_cve_2021_23214():
    with Mock(["azure-new"], ["--set", "auth=trust"]) as m:
        raw = socket.create_connection(("127.0.0.1", m.port()), timeout=5)
        raw.sendall(struct.pack("!II", 8, 80877103) + startup_packet({"user": "pgtls"}))
        time.sleep(0.1)
        check(recv_exact(raw, 1) == b"S", "no S")
        s = tls_client_ctx().wrap_socket(raw, server_hostname=HOST)
        t, b = read_msg(s)
        f = error_fields(b)
        check(t == "E" and f["C"] == "08P01" and "unencrypted data after SSL request" in f["M"], f)


@test
def unknown_startup_parameters_get_the_fatal_postgres_js_users_see():
    with Mock(["azure-new"], ["--set", "auth=trust"]) as m:
        s = connect(m.port(), params={"user": "pgtls", "database": "postgres", "sslrootcert": "system"})
        msgs = until_ready(s)
        t, b = msgs[-1]
        f = error_fields(b)
        check(t == "E" and f["C"] == "42704" and f["M"] == 'unrecognized configuration parameter "sslrootcert"', f)
        check(msgs[0][0] == "R", "AuthenticationOk comes first")


@test
def gssenc_request_gets_N_then_ssl_and_cancel_requests_are_logged():
    with Mock(["azure-new"], ["--set", "auth=trust"]) as m:
        raw = socket.create_connection(("127.0.0.1", m.port()), timeout=5)
        raw.sendall(struct.pack("!II", 8, 80877104))
        check(recv_exact(raw, 1) == b"N", "GSSENCRequest not refused")
        raw.sendall(struct.pack("!II", 8, 80877103))
        check(recv_exact(raw, 1) == b"S", "SSLRequest after GSS not accepted")
        s = tls_client_ctx().wrap_socket(raw, server_hostname=HOST)
        s.sendall(startup_packet({"user": "pgtls"}))
        check(until_ready(s)[-1][0] == "Z", "no ReadyForQuery")
        s.close()
        c = socket.create_connection(("127.0.0.1", m.port()), timeout=5)
        c.sendall(struct.pack("!IIII", 16, 80877102, 1234, 5678))
        check(c.recv(10) == b"", "cancel request answered")
        evs = m.events(2)
        check(evs[0]["tls_start"] == "gssenc-then-sslrequest", "event %s" % evs[0])
        check(evs[1]["cancel_request"] and evs[1]["end"] == "cancel-request", "event %s" % evs[1])


@test
def an_oversized_message_gets_fatal_invalid_message_length():
    with Mock(["azure-new"], ["--set", "auth=trust"]) as m:
        s = connect(m.port())
        until_ready(s)
        s.sendall(b"Q" + struct.pack("!I", 64 * 1024 * 1024))
        t, b = read_msg(s)
        f = error_fields(b)
        check(t == "E" and f["C"] == "08P01" and f["M"] == "invalid message length", f)
        ev = m.events()[0]
        check(ev["end"] == "protocol-error", "event %s" % ev)


@test
def over_max_connections_clients_get_fatal_53300_and_idle_ones_time_out():
    with Mock(["plaintext-allowed"], ["--set", "auth=trust", "--max-connections", "2",
                                      "--timeout-ms", "400"]) as m:
        a = connect(m.port(), tls=False)
        until_ready(a)
        b = connect(m.port(), tls=False)
        until_ready(b)
        c = connect(m.port(), tls=False)
        t, body = until_ready(c)[-1]
        f = error_fields(body)
        check(t == "E" and f["C"] == "53300" and f["M"] == "sorry, too many clients already", f)
        a.close()
        b.close()
        idle = socket.create_connection(("127.0.0.1", m.port()), timeout=5)
        check(idle.recv(10) == b"", "an idle connection was not closed")
        ev = m.events(4)[-1]
        check(ev["end"] == "timeout" and ev["startup"] is False, "event %s" % ev)


@test
def a_thousand_concurrent_connections_are_served():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    with Mock(["plaintext-allowed"], ["--set", "auth=trust", "--timeout-ms", "60000"]) as m:
        socks = []
        for i in range(1000):
            s = connect(m.port(), tls=False, params={"user": "pgtls", "application_name": "c%d" % i})
            socks.append(s)
        for s in socks:
            check(until_ready(s)[-1][0] == "Z", "a connection got no ReadyForQuery")
        rows = simple_query(socks[0], "SELECT pid, application_name FROM pg_stat_activity")
        check(len(rows) == 1000, "pg_stat_activity shows %d connections" % len(rows))
        for s in socks:
            s.close()
        evs = m.events(1000, timeout=30)
        check(len(evs) == 1000, "only %d events" % len(evs))


@test
def sighup_reloads_the_chain_for_new_connections_only():
    fix = os.path.join(TMP, "fix-reload")
    shutil.copytree(FIX, fix)
    idxp = os.path.join(fix, "index.json")

    def leaf_sha(port):
        p = subprocess.run(["openssl", "s_client", "-starttls", "postgres", "-connect",
                            "127.0.0.1:%d" % port], input="", capture_output=True, text=True, timeout=30)
        m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", p.stdout, re.S)
        check(m, "no certificate from s_client")
        return hashlib.sha256(m.group(0).encode()).hexdigest()

    with Mock(["azure-new"], ["--set", "auth=trust"], fixtures=fix) as m:
        before = leaf_sha(m.port())
        s = connect(m.port())
        until_ready(s)
        with open(idxp) as f:
            idx = json.load(f)
        idx["scenarios"]["azure-new"]["chain"] = idx["scenarios"]["azure-old"]["chain"]
        with open(idxp, "w") as f:
            json.dump(idx, f)
        m.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        after = leaf_sha(m.port())
        check(before != after, "SIGHUP did not change the served chain")
        check(simple_query(s, "SELECT 1") == [["1"]], "the open connection broke on reload")
        s.close()


@test
def sigterm_closes_connections_flushes_the_log_and_exits_0():
    m = Mock(["azure-new"], ["--set", "auth=trust"])
    s = connect(m.port())
    until_ready(s)
    m.proc.send_signal(signal.SIGTERM)
    t, b = read_msg(s)
    f = error_fields(b)
    check(t == "E" and f["C"] == "57P01", "expected FATAL 57P01, got %s" % f)
    rc = m.proc.wait(10)
    check(rc == 0, "exit status %s" % rc)
    evs = m.events()
    check(len(evs) == 1 and evs[0]["end"] == "server-shutdown", "events %s" % evs)


@test
def bad_configuration_exits_2_with_one_clear_line():
    cases = [
        (["--scenario", "no-such-scenario"], "unknown scenario"),
        (["--scenario", "azure-new", "--fixtures", os.path.join(TMP, "nowhere")], "pgtls ca gen"),
        (["--scenario", "azure-new", "--set", "ssl_min_protocol_version=TLSv9"], "ssl_min_protocol_version"),
        (["--scenario", "azure-new", "--set", "key_pem=" + os.path.join(FIX, "index.json")], "private key"),
    ]
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    cases.append((["--scenario", "azure-new", "--port", str(busy.getsockname()[1])], "in use"))
    for args, want in cases:
        argv = [PGTLS, "mock"] + (["--fixtures", FIX] if "--fixtures" not in args else []) + args
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        lines = p.stderr.strip().splitlines()
        check(p.returncode == 2 and len(lines) == 1 and want in lines[0],
              "%s: rc=%s stderr=%r" % (args, p.returncode, p.stderr))
        check("BEGIN" not in p.stderr and "pgtls-secret" not in p.stderr, "secret in error output")
    busy.close()


@test
def the_connection_line_the_mock_prints_works_when_pasted_into_psql():
    """A new user copies the printed line and the password hint: psql connects
    with verify-full against the printed root file, and no password is printed."""
    with Mock(["azure-new", "auth-trust"]) as m:
        for scenario in ("azure-new", "auth-trust"):
            hint = m.hints[scenario]
            check(len(hint) == 2 and hint[0].startswith("connect: psql ") and
                  hint[1].startswith("password: "), "%s: %r" % (scenario, hint))
            check("pgtls-secret" not in " ".join(hint), "the password was printed: %r" % hint)
            conninfo = re.match(r'connect: psql "([^"]+)"', hint[0]).group(1)
            check("sslmode=verify-full" in conninfo and "port=%d" % m.port(scenario) in conninfo,
                  conninfo)
            home = tempfile.mkdtemp(dir=TMP)
            env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
            env["HOME"] = home
            if scenario == "azure-new":
                where = re.search(r"scenarios\.\"([^\"]+)\"\.server\.password in (\S+)", hint[1])
                check(where and where.group(1) == scenario, hint[1])
                with open(where.group(2)) as f:
                    env["PGPASSWORD"] = json.load(f)["scenarios"][scenario]["server"]["password"]
            else:
                check(hint[1].startswith("password: none"), hint[1])
            p = subprocess.run(["psql", conninfo, "-XAtc", "SELECT ssl_is_used()"], env=env,
                               capture_output=True, text=True, timeout=30)
            check(p.returncode == 0 and p.stdout.strip() == "t",
                  "%s: rc=%s out=%r err=%r" % (scenario, p.returncode, p.stdout, p.stderr))


@test
def own_cert_and_key_are_served_without_a_catalogue_and_an_encrypted_key_never_prompts():
    """pgtls mock --cert/--key/--ca with files the openssl command makes here:
    the printed line connects with verify-full; an encrypted key is unlocked by
    ssl_passphrase_file or ssl_passphrase_command (run without a shell), and
    without one, or with a wrong one, start-up fails with one line (stdin is a
    terminal-less pipe: a prompt would hang, and the test has a timeout)."""
    d = tempfile.mkdtemp(dir=TMP)

    def ossl(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True, capture_output=True)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
         "-days", "30", "-subj", "/CN=Own Test Root")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
         "-subj", "/CN=db.example.test")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=DNS:db.example.test\n")
    ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "srv.pem", "-days", "10", "-extfile", "ext")
    ossl("pkey", "-in", "srv.key", "-aes256", "-passout", "pass:sekret", "-out", "enc.key")
    with open(os.path.join(d, "pass.txt"), "w") as f:
        f.write("sekret\n")

    def start(*args):
        return subprocess.Popen([PGTLS, "mock"] + list(args), cwd=d, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def connects(proc):
        lines = [proc.stdout.readline() for _ in range(3)]
        check(lines[0].startswith("listening scenario=own "), "mock: %r %r" % (lines, proc.stderr.read() if proc.poll() is not None else ""))
        conninfo = re.search(r'connect: psql "([^"]+)"', lines[1]).group(1)
        check("host=db.example.test" in conninfo and "sslrootcert=" + os.path.join(d, "ca.pem") in conninfo,
              conninfo)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["HOME"] = d
        env["PGPASSWORD"] = "pgtls-secret"
        q = subprocess.run(["psql", conninfo, "-XAtc", "SELECT ssl_is_used()"], env=env,
                           capture_output=True, text=True, timeout=30)
        proc.terminate()
        proc.wait(10)
        check(q.returncode == 0 and q.stdout.strip() == "t", "psql: %s %s" % (q.stdout, q.stderr))

    connects(start("--cert", "srv.pem", "--key", "srv.key", "--ca", "ca.pem"))
    connects(start("--cert", "srv.pem", "--key", "enc.key", "--ca", "ca.pem",
                   "--set", "ssl_passphrase_file=pass.txt"))
    connects(start("--cert", "srv.pem", "--key", "enc.key", "--ca", "ca.pem",
                   "--set", "ssl_passphrase_command=cat pass.txt"))
    for args, want in (((), "is encrypted: give its passphrase"),
                       (("--set", "ssl_passphrase_command=echo wrong"), "does not decrypt"),
                       (("--set", "ssl_passphrase_command=false"), "failed for the key"),
                       (("--set", "ssl_passphrase_file=nope.txt"), "ssl_passphrase_file nope.txt")):
        p = start("--cert", "srv.pem", "--key", "enc.key", *args)
        try:
            out, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            raise Failure("%s: the mock waited (a prompt?)" % (args,))
        lines = err.strip().splitlines()
        check(p.returncode == 2 and len(lines) == 1 and want in lines[0], "%s: rc=%s %r" % (args, p.returncode, err))
        check("sekret" not in err, "the passphrase was printed")
    for args, want in ((("--cert", "ca.key", "--key", "srv.key"), "is not a PEM certificate chain"),
                       (("--cert", "srv.pem", "--key", "ca.key"), "give the key of the first certificate"),
                       (("--cert", "srv.pem"), "--cert FILE and --key FILE go together")):
        p = start(*args)
        out, err = p.communicate(timeout=20)
        check(p.returncode == 2 and want in err and "pgtls ca gen" not in err,
              "%s: rc=%s %r" % (args, p.returncode, err))


def main():
    global PGTLS, FIX, TMP
    args = sys.argv[1:]
    if "--list" in args:
        for t in TESTS:
            print(t.__name__)
        return 0
    PGTLS = os.path.abspath(args[0])
    only = args[args.index("--only") + 1] if "--only" in args else None
    TMP = tempfile.mkdtemp(prefix="pgtls-mock-it-")
    try:
        FIX = os.environ.get("PGTLS_TEST_FIXTURES")
        if not FIX:
            FIX = os.path.join(TMP, "fixtures")
            p = subprocess.run([PGTLS, "ca", "gen", "--out", FIX], capture_output=True, text=True)
            if p.returncode != 0:
                print("SKIP: pgtls ca gen failed: %s" % p.stderr.strip())
                return 77
        failed = 0
        for t in TESTS:
            if only and t.__name__ != only:
                continue
            try:
                t()
                print("ok - %s" % t.__name__.replace("_", " "))
            except Exception as e:  # noqa: BLE001 - report every failure
                failed += 1
                print("not ok - %s: %s: %s" % (t.__name__.replace("_", " "), type(e).__name__, e))
        return 1 if failed else 0
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
