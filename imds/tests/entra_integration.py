#!/usr/bin/env python3
"""Integration tests of Entra ID sign-in, offline: `pgtls imds` (the managed
identity token service) and `pgtls mock --set auth=entra`, driven by the real
curl, jq and psql exactly as Azure's managed-identity page shows, plus raw
HTTP clients for the token service's error answers.

usage: entra_integration.py PGTLS [--only NAME] [--list]

Every test makes its own fixtures folder (`PGTLS ca gen`), so the tenant in
DIR/entra is fresh, and starts its own servers on free ports. Every program
is spawned with an argv list (no shell)."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PGTLS = None
TMP = None
TESTS = []
RESOURCE = "https://ossrdbms-aad.database.windows.net"
QUERY = "?api-version=2018-02-01&resource=https%3A%2F%2Fossrdbms-aad.database.windows.net"


def test(fn):
    TESTS.append(fn)
    return fn


class Failure(Exception):
    pass


class Skip(Exception):
    pass


HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(HERE, "..", "..", "clients")
SDK_PY = os.path.join(CLIENTS, "entra-python", ".venv", "bin", "python")


def sdk_python():
    if not os.path.exists(SDK_PY):
        raise Skip("clients/entra-python is not installed (run clients/entra-python/install)")
    return SDK_PY


def sdk_argv(lang):
    """argv of the SDK program of a language (azure-identity + psycopg,
    @azure/identity + node-postgres)."""
    if lang == "python":
        return [sdk_python(), os.path.join(CLIENTS, "entra-python", "sdk_connect.py")]
    if not (shutil.which("node") and
            os.path.isdir(os.path.join(CLIENTS, "entra-node", "node_modules", "@azure"))):
        raise Skip("clients/entra-node is not installed (run clients/entra-node/install)")
    return ["node", os.path.join(CLIENTS, "entra-node", "sdk_connect.js")]


def sdk_connect(imds_port, mock_port, *args, lang="python"):
    """Runs an SDK program; returns its JSON rows."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "AZURE_", "MSI_",
                                                                     "IDENTITY_"))}
    env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = "http://127.0.0.1:%d" % imds_port
    p = subprocess.run(sdk_argv(lang) + ["--port", str(mock_port)] + list(args),
                       env=env, capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "sdk_connect failed: %s" % p.stderr[-2000:])
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def fixtures():
    d = tempfile.mkdtemp(dir=TMP, prefix="fx-")
    p = subprocess.run([PGTLS, "ca", "gen", "--out", d], capture_output=True, text=True)
    check(p.returncode == 0, "pgtls ca gen failed: %s" % p.stderr)
    return d


class Server:
    """A pgtls subcommand that prints one 'listening ...' line."""

    def __init__(self, argv, pattern):
        env = dict(os.environ)
        if "ASAN_OPTIONS" in env:
            # full stacks through OpenSSL (built without frame pointers) in a
            # leak report of these short-lived servers, or it names no caller
            env["ASAN_OPTIONS"] += ":fast_unwind_on_malloc=0"
        self.proc = subprocess.Popen([PGTLS] + argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        self.m = re.match(pattern, line)
        if not self.m:
            raise Failure("%s did not start: %r %r" % (argv[0], line, self.proc.stderr.read()))

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
            check(rc == 0, "server exited with %s: %s" % (rc, err[-8000:]))
            check("Sanitizer" not in err and "runtime error" not in err,
                  "sanitizer report: %s" % err[-8000:])


def imds(fx, *extra):
    s = Server(["imds", "--fixtures", fx] + list(extra),
               r"listening url=(http://127\.0\.0\.1:(\d+)/metadata/identity/oauth2/token) identity=(\S+)$")
    s.url, s.port, s.identity = s.m.group(1), int(s.m.group(2)), s.m.group(3)
    return s


def mock(fx, *extra):
    s = Server(["mock", "--fixtures", fx, "--scenario", "azure-new", "--set", "auth=entra",
                "--timeout-ms", "5000"] + list(extra),
               r"listening scenario=\S+ addr=\S+ port=(\d+)")
    s.port = int(s.m.group(1))
    return s


def tenant(fx):
    with open(os.path.join(fx, "entra", "tenant.json")) as f:
        return json.load(f)


def curl_jq(url):
    """The seed's `curl -s URL -H Metadata:true | jq -r .access_token`, as two
    processes joined by a pipe."""
    curl = subprocess.Popen(["curl", "-s", url, "-H", "Metadata:true"], stdout=subprocess.PIPE)
    jq = subprocess.run(["jq", "-r", ".access_token"], stdin=curl.stdout, capture_output=True,
                        text=True, timeout=30)
    curl.stdout.close()
    check(curl.wait(30) == 0, "curl failed")
    check(jq.returncode == 0, "jq failed: %s" % jq.stderr)
    return jq.stdout.strip()


def psql(port, user, password, dbname="postgres", query="select current_user", extra=()):
    """The seed's `psql -h SERVER --user USER DBNAME` with PGPASSWORD set
    (plus -c to run one statement). Returns (rc, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["HOME"] = tempfile.mkdtemp(dir=TMP)
    env["PGPASSWORD"] = password
    env["PGCONNECT_TIMEOUT"] = "10"
    p = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "--user", user, dbname,
                        "-X", "-A", "-t", "-c", query] + list(extra),
                       env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def http_get(port, raw):
    """Sends raw bytes, returns (status, headers dict, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            buf += chunk
            if b"\r\n\r\n" in buf:
                head, _, body = buf.partition(b"\r\n\r\n")
                m = re.search(rb"Content-Length: (\d+)", head)
                if m and len(body) >= int(m.group(1)):
                    break
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
    return status, headers, body.decode()


def token_request(extra_query="", headers="Metadata: true\r\n"):
    return ("GET /metadata/identity/oauth2/token%s%s HTTP/1.1\r\nHost: 169.254.169.254\r\n%s"
            "Connection: close\r\n\r\n" % (QUERY, extra_query, headers)).encode()


# ---------- the seed's recipe ----------

@test
def the_seed_recipe_signs_in_with_curl_jq_and_psql():
    fx = fixtures()
    with imds(fx) as i, mock(fx) as m:
        check(i.identity == "pgtls-vm", "default identity %s" % i.identity)
        # The page's URL with the client id of the identity, as the seed does.
        cid = tenant(fx)["identities"][0]["client_id"]
        token = curl_jq(i.url + QUERY + "&client_id=" + cid)
        check(token.count(".") == 2 and len(token) > 1000, "not a JWT: %r" % token[:80])
        rc, out, err = psql(m.port, "pgtls-vm", token)
        check(rc == 0 and out == "pgtls-vm", "psql: rc=%d out=%r err=%r" % (rc, out, err))
        # and without client_id: the VM's system-assigned identity
        rc, out, err = psql(m.port, i.identity, curl_jq(i.url + QUERY))
        check(rc == 0 and out == "pgtls-vm", "psql: rc=%d out=%r err=%r" % (rc, out, err))
        # the token travels as a cleartext password inside TLS (sslmode prefer)
        rc, out, err = psql(m.port, "pgtls-vm", token, query="select ssl_is_used()")
        check(rc == 0 and out == "t", "TLS not used: %r %r" % (out, err))


@test
def create_principal_gives_a_user_assigned_identity_a_role():
    fx = fixtures()
    with imds(fx) as i, mock(fx) as m:
        uami = tenant(fx)["identities"][1]
        admin_token = curl_jq(i.url + QUERY)
        uami_token = curl_jq(i.url + QUERY + "&client_id=" + uami["client_id"])
        # before the role exists: refused
        rc, _, err = psql(m.port, uami["name"], uami_token)
        check(rc != 0 and 'password authentication failed for user "%s"' % uami["name"] in err,
              "unknown principal: %r" % err)
        # the page's statement, in a database other than postgres: no such function
        stmt = "select * from pgaadauth_create_principal('%s', false, false);" % uami["name"]
        rc, _, err = psql(m.port, "pgtls-vm", admin_token, dbname="appdb", query=stmt)
        check(rc != 0 and "function pgaadauth_create_principal(unknown, boolean, boolean) does "
              "not exist" in err and "No function matches" in err, "other db: %r" % err)
        # in postgres: the page's output
        rc, out, err = psql(m.port, "pgtls-vm", admin_token, query=stmt)
        check(rc == 0 and out == 'Created role for "%s"' % uami["name"],
              "create: %r %r" % (out, err))
        rc, out, err = psql(m.port, uami["name"], uami_token)
        check(rc == 0 and out == uami["name"], "after create: %r %r" % (out, err))
        # a token of another identity does not open this role
        rc, _, err = psql(m.port, uami["name"], admin_token)
        check(rc != 0 and "password authentication failed" in err, "wrong oid: %r" % err)
        # an identity the tenant does not know: the page's error
        rc, _, err = psql(m.port, "pgtls-vm", admin_token,
                          query="select * from pgaadauth_create_principal('ghost-vm', false, false)")
        check(rc != 0 and "Could not validate AAD user ghost-vm because its name is not found "
              "in the tenant." in err, "ghost: %r" % err)


@test
def plain_passwords_keep_working_for_other_roles():
    fx = fixtures()
    with mock(fx) as m:
        rc, out, err = psql(m.port, "pgtls", "pgtls-secret")
        check(rc == 0 and out == "pgtls", "password role: %r %r" % (out, err))
        rc, _, err = psql(m.port, "pgtls", "wrong")
        check(rc != 0 and 'password authentication failed for user "pgtls"' in err, err)


# ---------- token failures, with Azure's texts ----------

def refused_with(fault_args, text, resource_query=QUERY):
    fx = fixtures()
    with imds(fx, *fault_args) as i, mock(fx) as m:
        token = curl_jq(i.url + resource_query)
        check(token.count(".") == 2, "no token: %r" % token[:200])
        rc, _, err = psql(m.port, "pgtls-vm", token)
        check(rc != 0 and text in err, "expected %r, got rc=%d %r" % (text, rc, err))
        # the server keeps serving
        rc, out, err = psql(m.port, "pgtls", "pgtls-secret")
        check(rc == 0, "mock stopped serving: %r" % err)


@test
def an_expired_token_is_refused():
    refused_with(["--fault", "expired"],
                 "FATAL:  The access token has expired. Please acquire a new token and retry.")


@test
def a_token_for_another_resource_is_refused_for_its_audience():
    refused_with([], 'FATAL:  The access token does not have a valid audience claim. Please '
                 'acquire a new token for the resource "https://ossrdbms-aad.database.windows.net".',
                 resource_query="?api-version=2018-02-01&resource=https://management.azure.com/")


@test
def a_token_with_the_wrong_audience_fault_is_refused():
    refused_with(["--fault", "wrong-audience"], "does not have a valid audience claim")


@test
def a_not_yet_valid_token_is_refused():
    refused_with(["--fault", "not-yet-valid"], "The access token is not yet valid.")


@test
def a_token_signed_by_another_key_is_refused():
    refused_with(["--fault", "foreign-key"], "The access token signature or issuer is not valid.")


@test
def malformed_and_overlong_tokens_are_refused_and_the_mock_keeps_serving():
    fx = fixtures()
    with imds(fx) as i, mock(fx) as m:
        token = curl_jq(i.url + QUERY)
        for bad in ['"%s"' % token, token[:-5], "not a token", "Bearer " + token]:
            rc, _, err = psql(m.port, "pgtls-vm", bad)
            check(rc != 0 and "The access token has invalid format." in err, "%r: %r" % (bad[:20], err))
        # longer than PG_MAX_AUTH_TOKEN_LENGTH: the backend closes the connection
        # (TLS close_notify, so libpq says "SSL connection has been closed
        # unexpectedly", as against PostgreSQL)
        rc, _, err = psql(m.port, "pgtls-vm", "A" * 70000)
        check(rc != 0 and "connection has been closed unexpectedly" in err, "overlong: %r" % err)
        rc, out, err = psql(m.port, "pgtls-vm", token)
        check(rc == 0 and out == "pgtls-vm", "after bad tokens: %r" % err)


@test
def require_auth_scram_refuses_the_cleartext_request_with_libpq_16_or_later():
    # psql here may be older than 16; psycopg's bundled libpq (18) is used.
    py = sdk_python()
    fx = fixtures()
    with imds(fx) as i, mock(fx) as m:
        token = curl_jq(i.url + QUERY)
        prog = ("import psycopg,sys\n"
                "try:\n"
                "    psycopg.connect(host='127.0.0.1', port=int(sys.argv[1]), user='pgtls-vm',"
                " dbname='postgres', password=sys.argv[2], require_auth=sys.argv[3],"
                " sslmode='require', connect_timeout=10).close(); print('connected')\n"
                "except psycopg.OperationalError as e:\n"
                "    print('error:', e)\n")
        p = subprocess.run([py, "-c", prog, str(m.port), token, "scram-sha-256"],
                           capture_output=True, text=True, timeout=60)
        check('server requested a cleartext password' in p.stdout and
              'authentication method requirement "scram-sha-256" failed' in p.stdout,
              "require_auth=scram-sha-256: %r %r" % (p.stdout, p.stderr))
        p = subprocess.run([py, "-c", prog, str(m.port), token, "password"],
                           capture_output=True, text=True, timeout=60)
        check(p.stdout.strip() == "connected", "require_auth=password: %r %r" % (p.stdout, p.stderr))


# ---------- the real azure-identity SDK ----------

@test
def python_azure_identity_gets_tokens_through_its_endpoint_override():
    fx = fixtures()
    with imds(fx) as i, mock(fx) as m:
        rows = sdk_connect(i.port, m.port)
        check(rows == [{"attempt": 1, "mode": "factory", "current_user": "pgtls-vm", "ok": True}],
              "default identity: %r" % rows)
        # a user-assigned identity by client id, once it has a role
        uami = tenant(fx)["identities"][1]
        rc, _, err = psql(m.port, "pgtls-vm", curl_jq(i.url + QUERY),
                          query="select * from pgaadauth_create_principal('%s', false, false)"
                          % uami["name"])
        check(rc == 0, err)
        rows = sdk_connect(i.port, m.port, "--client-id", uami["client_id"], "--user", uami["name"])
        check(rows[0].get("current_user") == uami["name"], "user-assigned: %r" % rows)
        # an identity the VM does not have: the SDK's own error, from IMDS's 400
        rows = sdk_connect(i.port, m.port, "--client-id", "00000000-0000-4000-8000-000000000000")
        check(rows[0]["ok"] is False and rows[0]["stage"] == "token" and
              "Identity not found" in rows[0]["error"], "unknown identity: %r" % rows)


def short_lived_tokens(lang, refreshing_mode):
    sdk_argv(lang)  # skips before any work when the SDK is not installed
    fx = fixtures()
    with imds(fx):
        pass  # makes DIR/entra
    t = tenant(fx)
    t["clock_skew_s"] = 0  # so a 3-second token is expired 4 seconds later
    with open(os.path.join(fx, "entra", "tenant.json"), "w") as f:
        json.dump(t, f)
    with imds(fx, "--lifetime", "3") as i, mock(fx) as m:
        rows = sdk_connect(i.port, m.port, "--mode", refreshing_mode, "--connections", "2",
                           "--sleep", "4", lang=lang)
        check([r["ok"] for r in rows] == [True, True], "%s: %r" % (refreshing_mode, rows))
        rows = sdk_connect(i.port, m.port, "--mode", "static", "--connections", "2",
                           "--sleep", "4", lang=lang)
        check(rows[0]["ok"] and not rows[1]["ok"] and
              "The access token has expired. Please acquire a new token and retry." in
              rows[1]["error"], "static: %r" % rows)


@test
def a_psycopg_connection_factory_refreshes_expired_tokens_and_a_static_token_expires():
    short_lived_tokens("python", "factory")


@test
def a_node_postgres_password_callback_refreshes_expired_tokens_and_a_static_password_expires():
    short_lived_tokens("node", "callback")


@test
def node_azure_identity_gets_tokens_through_its_endpoint_override():
    sdk_argv("node")
    fx = fixtures()
    with imds(fx) as i, mock(fx) as m:
        rows = sdk_connect(i.port, m.port, lang="node")
        check(rows == [{"attempt": 1, "mode": "callback", "current_user": "pgtls-vm", "ok": True}],
              "default identity: %r" % rows)
        rows = sdk_connect(i.port, m.port, "--client-id", "00000000-0000-4000-8000-000000000000",
                           lang="node")
        check(rows[0]["ok"] is False and rows[0]["stage"] == "token" and
              "Identity not found" in rows[0]["error"], "unknown identity: %r" % rows)


class Netns:
    """A network namespace of our own with 169.254.169.254 on its loopback,
    for SDKs that only call the link-local IMDS address (azidentity). Nothing
    outside the namespace sees the address."""

    def __init__(self):
        self.name = "pgtls-entra-%d-%d" % (os.getpid(), time.monotonic_ns() % 100000)
        if os.geteuid() != 0 or not shutil.which("ip"):
            raise Skip("network namespaces need root and iproute2")
        for argv in (["ip", "netns", "add", self.name],
                     ["ip", "-n", self.name, "link", "set", "lo", "up"],
                     ["ip", "-n", self.name, "addr", "add", "169.254.169.254/32", "dev", "lo"]):
            p = subprocess.run(argv, capture_output=True, text=True)
            if p.returncode != 0:
                self.close()
                raise Skip("cannot set up a network namespace (%s): %s" % (" ".join(argv),
                                                                            p.stderr.strip()))

    def argv(self, argv):
        return ["ip", "netns", "exec", self.name] + argv

    def close(self):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def go_sdk():
    exe = os.path.join(CLIENTS, "entra-go", "entra-go")
    if not os.path.exists(exe):
        raise Skip("clients/entra-go is not built (run clients/entra-go/install)")
    return exe


@test
def go_azidentity_gets_tokens_from_the_link_local_address_in_a_namespace_and_before_connect_refreshes():
    exe = go_sdk()
    fx = fixtures()
    with imds(fx):
        pass  # makes DIR/entra
    t = tenant(fx)
    t["clock_skew_s"] = 0
    with open(os.path.join(fx, "entra", "tenant.json"), "w") as f:
        json.dump(t, f)
    global PGTLS
    saved = PGTLS
    with Netns() as ns:
        # the servers run inside the namespace: Server() prefixes nothing, so
        # spawn them through `ip netns exec` by swapping the program path
        PGTLS = None
        try:
            i = Server.__new__(Server)
            i.proc = subprocess.Popen(ns.argv([saved, "imds", "--fixtures", fx, "--listen",
                                               "169.254.169.254", "--port", "80", "--lifetime",
                                               "3"]),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = i.proc.stdout.readline()
            check(line.startswith("listening url=http://169.254.169.254:80/"), "imds: %r" % line)
            m = Server.__new__(Server)
            m.proc = subprocess.Popen(ns.argv([saved, "mock", "--fixtures", fx, "--scenario",
                                               "azure-new", "--set", "auth=entra"]),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            mm = re.match(r"listening scenario=\S+ addr=\S+ port=(\d+)", m.proc.stdout.readline())
            check(mm, "mock did not start")
            with i, m:
                env = {k: v for k, v in os.environ.items()
                       if not k.startswith(("PG", "AZURE_", "MSI_", "IDENTITY_"))}

                def run(*args):
                    p = subprocess.run(ns.argv([exe, "--port", mm.group(1)] + list(args)),
                                       env=env, capture_output=True, text=True, timeout=120)
                    check(p.returncode == 0, "entra-go: %s" % p.stderr[-2000:])
                    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]

                rows = run("--mode", "beforeconnect", "--connections", "2", "--sleep", "4")
                check([r["ok"] for r in rows] == [True, True] and
                      rows[0]["current_user"] == "pgtls-vm", "BeforeConnect: %r" % rows)
                rows = run("--mode", "static", "--connections", "2", "--sleep", "4")
                check(rows[0]["ok"] and not rows[1]["ok"] and
                      "The access token has expired." in rows[1]["error"], "static: %r" % rows)
                # azidentity words IMDS's 400 "Identity not found" itself
                rows = run("--client-id", "00000000-0000-4000-8000-000000000000")
                check(not rows[0]["ok"] and rows[0]["stage"] == "token" and
                      "the requested identity isn't assigned to this resource" in rows[0]["error"],
                      "unknown identity: %r" % rows)
        finally:
            PGTLS = saved


@test
def python_azure_identity_with_a_wrong_audience_token_is_refused():
    fx = fixtures()
    with imds(fx, "--fault", "wrong-audience") as i, mock(fx) as m:
        rows = sdk_connect(i.port, m.port)
        check(not rows[0]["ok"] and "does not have a valid audience claim" in rows[0]["error"],
              "wrong audience: %r" % rows)


# ---------- the token service's own answers ----------

@test
def the_token_service_answers_errors_as_azure_and_keeps_serving():
    fx = fixtures()
    with imds(fx, "--timeout-ms", "500") as i:
        st, _, body = http_get(i.port, token_request(headers=""))
        check(st == 400 and json.loads(body)["error_description"] ==
              "Required metadata header not specified", "no header: %d %s" % (st, body))
        st, _, body = http_get(i.port, token_request("&client_id=00000000-0000-4000-8000-000000000000"))
        check(st == 400 and json.loads(body)["error_description"] == "Identity not found",
              "unknown identity: %d %s" % (st, body))
        st, _, body = http_get(i.port, ("GET /metadata/identity/oauth2/token?api-version=2018-02-01"
                                        "&resource=https://example.invalid HTTP/1.1\r\nHost: x\r\n"
                                        "Metadata: true\r\n\r\n").encode())
        check(st == 400 and json.loads(body)["error"] == "invalid_resource", "resource: %s" % body)
        st, _, _ = http_get(i.port, b"GET /metadata/identity/oauth2/token HTTP/1.1\r\n\r\n")
        check(st == 400, "no Host: %d" % st)
        st, _, _ = http_get(i.port, b"BLAH\r\n\r\n")
        check(st == 400, "garbage: %d" % st)
        st, _, _ = http_get(i.port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n")
        check(st == 414, "long line: %d" % st)
        st, _, _ = http_get(i.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 3000 + b"\r\n")
        check(st == 431, "huge headers: %d" % st)
        st, _, _ = http_get(i.port, b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finishes
        check(st == 408, "slow client: %d" % st)
        # still serving, and the token is what the page says it is
        st, h, body = http_get(i.port, token_request())
        j = json.loads(body)
        check(st == 200 and list(j) == ["access_token", "client_id", "expires_in", "expires_on",
                                        "ext_expires_in", "not_before", "resource", "token_type"],
              "token: %d %s" % (st, body[:200]))
        check(j["resource"] == RESOURCE and j["token_type"] == "Bearer", body[:200])
        # the JWKS names the token's key
        kid = json.loads(__import__("base64").urlsafe_b64decode(
            j["access_token"].split(".")[0] + "=="))["kid"]
        st, _, body = http_get(i.port, ("GET /%s/discovery/keys HTTP/1.1\r\nHost: x\r\n\r\n"
                                        % tenant(fx)["tenant_id"]).encode())
        check(st == 200 and json.loads(body)["keys"][0]["kid"] == kid, "jwks: %s" % body)


@test
def throttling_answers_429_with_retry_after():
    fx = fixtures()
    with imds(fx, "--fault", "throttle") as i:
        st, h, body = http_get(i.port, token_request())
        check(st == 429 and h.get("retry-after") == "5", "throttle: %d %r %s" % (st, h, body))


@test
def bad_configuration_is_one_line_and_exit_2():
    fx = fixtures()
    os.makedirs(os.path.join(fx, "entra"))
    with open(os.path.join(fx, "entra", "tenant.json"), "w") as f:
        f.write('{"tenant_id": 1}')
    for argv in (["imds", "--fixtures", fx],
                 ["mock", "--fixtures", fx, "--scenario", "azure-new", "--set", "auth=entra"],
                 ["imds", "--fixtures", fixtures(), "--fault", "sometimes"],
                 ["imds", "--fixtures", os.path.join(TMP, "no-such-folder")]):
        p = subprocess.run([PGTLS] + argv, capture_output=True, text=True, timeout=30)
        lines = p.stderr.strip().splitlines()
        check(p.returncode == 2 and len(lines) == 1, "%s: rc=%d %r" % (argv[0], p.returncode, p.stderr))
    # the key is private to its owner
    fx = fixtures()
    with imds(fx):
        mode = os.stat(os.path.join(fx, "entra", "tenant-key.pem")).st_mode & 0o777
        check(mode == 0o600, "tenant key mode %o" % mode)


def main():
    global PGTLS, TMP
    args = sys.argv[1:]
    if "--list" in args:
        for t in TESTS:
            print(t.__name__)
        return 0
    PGTLS = os.path.abspath(args[0])
    only = args[args.index("--only") + 1] if "--only" in args else None
    for tool in ("curl", "jq", "psql"):
        if not shutil.which(tool):
            print("SKIP: %s is not installed (ci/debian-packages.txt)" % tool)
            return 77
    TMP = tempfile.mkdtemp(prefix="pgtls-entra-it-")
    try:
        failed = ran = skipped = 0
        for t in TESTS:
            if only and t.__name__ != only:
                continue
            ran += 1
            try:
                t()
                print("ok - %s" % t.__name__.replace("_", " "))
            except Skip as e:
                skipped += 1
                print("ok - %s # SKIP %s" % (t.__name__.replace("_", " "), e))
            except Exception as e:  # noqa: BLE001 - report every failure
                failed += 1
                print("not ok - %s: %s: %s" % (t.__name__.replace("_", " "), type(e).__name__, e))
        if failed:
            return 1
        return 77 if ran and skipped == ran else 0
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
