"""Servers the fidelity and troubleshooting tests talk to: the mock and a real
PostgreSQL, both on 127.0.0.1 only, both configured from the same fixtures index.

MockTarget runs `pgtls mock --scenario NAME --port N --fixtures DIR` per scenario.
RealTarget runs one `pgtls-fidelity serve --fixtures DIR` for the whole test (one
initdb) and reconfigures it per scenario ("start NAME" on its stdin).
Both stop their process group on close(), and an atexit hook closes whatever is
still open when a test dies. Python 3 standard library only; no shell strings.
"""

import atexit
import json
import os
import select
import signal
import socket
import subprocess
import time

_open_targets = []


def _close_all():
    for t in list(_open_targets):
        try:
            t.close()
        except Exception:  # cleanup must not raise at exit
            pass


atexit.register(_close_all)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, lambda signo, frame: (_close_all(), os._exit(128 + signo)))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20.0):
    """Waits until 127.0.0.1:port accepts TCP; raises if proc dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with status %s before listening" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on 127.0.0.1:%d after %.0f s" % (port, timeout))


def _stop(proc, grace=10.0):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)


class MockTarget:
    name = "mock"

    def __init__(self, pgtls, fixtures, workdir):
        self.pgtls, self.fixtures, self.workdir = pgtls, fixtures, workdir
        self.proc, self.port, self.scenario, self.log = None, None, None, None
        _open_targets.append(self)

    def start(self, scenario):
        """Returns (ok, detail): detail is the reason when it could not start."""
        self.stop()
        self.port = free_port()
        self.log = os.path.join(self.workdir, "mock-%s.log" % scenario)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [self.pgtls, "mock", "--scenario", scenario, "--port", str(self.port),
                 "--fixtures", self.fixtures],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        try:
            wait_port(self.port, self.proc)
        except RuntimeError as e:
            self.stop()
            return False, "%s: %s" % (e, self.log_tail())
        self.scenario = scenario
        return True, None

    def log_tail(self, n=600):
        try:
            with open(self.log, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace").strip().replace("\n", " | ")
        except OSError:
            return ""

    def admin_sql(self, sql):
        return True  # the mock keeps no state between connections

    def stop(self):
        _stop(self.proc)
        self.proc = None

    def close(self):
        self.stop()
        if self in _open_targets:
            _open_targets.remove(self)


class RealTarget:
    name = "real"

    def __init__(self, fidelity, fixtures, workdir):
        self.workdir = workdir
        self.log = os.path.join(workdir, "real-serve.log")
        self._log = open(self.log, "wb")
        self.proc = subprocess.Popen([fidelity, "serve", "--fixtures", fixtures],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, start_new_session=True)
        _open_targets.append(self)
        self.port, self.scenario, self.info = None, None, {}
        ready = self._read_event(timeout=180)
        if ready.get("event") != "ready":
            self.close()
            raise RuntimeError("pgtls-fidelity serve did not get ready: %s" % ready)
        self.pg_major = ready.get("pg_major")

    def _read_event(self, timeout):
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                return {"event": "error", "error": "no answer from pgtls-fidelity within %ds"
                        % timeout}
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if not r:
                continue
            chunk = os.read(self.proc.stdout.fileno(), 1)
            if not chunk:
                self._log.flush()
                with open(self.log, "rb") as f:
                    tail = f.read()[-600:].decode("utf-8", "replace")
                return {"event": "error", "error": "pgtls-fidelity exited: " + tail.strip()}
            line += chunk
        return json.loads(line)

    def _command(self, text, timeout=120):
        self.proc.stdin.write((text + "\n").encode())
        self.proc.stdin.flush()
        return self._read_event(timeout)

    def start(self, scenario):
        ev = self._command("start " + scenario)
        if ev.get("event") != "started":
            self.port = None
            return False, ev.get("reason") or ev.get("error") or str(ev)
        self.port, self.scenario, self.info = ev["port"], scenario, ev
        return True, None

    def admin_sql(self, sql):
        return self._command("sql " + sql).get("event") == "sql-ok"

    def stop(self):
        if self.proc.poll() is None:
            self._command("stop")

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                _stop(self.proc)
        self._log.close()
        if self in _open_targets:
            _open_targets.remove(self)


def load_index(fixtures):
    with open(os.path.join(fixtures, "index.json")) as f:
        return json.load(f)


def fx_path(fixtures, rel):
    return rel if os.path.isabs(rel) else os.path.join(fixtures, rel)


def scenario_server(index, name):
    """The scenario's server settings with the defaults of common/fixtures.c."""
    sc = index["scenarios"][name]
    s = dict(sc.get("server") or {})
    s.setdefault("ssl", sc.get("chain") is not None)
    s.setdefault("require_secure_transport", True)
    s.setdefault("ssl_min_protocol_version", "TLSv1.2")
    s.setdefault("ssl_max_protocol_version", "")
    s.setdefault("ssl_ciphers", "HIGH:MEDIUM:+3DES:!aNULL")
    s.setdefault("ssl_tls13_ciphers", "")
    s.setdefault("ssl_groups", "")
    s.setdefault("auth", "scram-sha-256")
    s.setdefault("user", "pgtls")
    s.setdefault("password", "pgtls-secret")
    s.setdefault("client_cert", False)
    return s
