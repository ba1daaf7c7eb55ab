"""A real PostgreSQL server with TLS, for the adapters' integration tests.

Starts Debian's PostgreSQL (any /usr/lib/postgresql/N/bin) in a temporary
directory on a free loopback port: listen_addresses=127.0.0.1, its Unix socket
in the same directory, ssl=on with a certificate chain made here with the
openssl command line (root -> intermediate -> leaf with the SAN
mydemoserver.postgres.database.azure.com; the server sends leaf + intermediate),
hostssl and host lines with scram-sha-256, and a login role `pgtls`.

PostgreSQL refuses to run as root: when the tests run as root the server runs
as the `postgres` system user (setpriv), and the directory is handed to it.

Python 3 standard library only. Every program runs from an argv list.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

HOST = "mydemoserver.postgres.database.azure.com"
USER = "pgtls"
PASSWORD = "pgtls-secret"


class Skip(Exception):
    """The environment cannot run this test (no PostgreSQL server installed)."""


def find_pg_bindir():
    """The newest /usr/lib/postgresql/N/bin with initdb and postgres."""
    env = os.environ.get("PGTLS_PG_BINDIR")
    if env:
        return env
    found = []
    for d in glob.glob("/usr/lib/postgresql/*/bin"):
        if os.access(os.path.join(d, "postgres"), os.X_OK) and os.access(
            os.path.join(d, "initdb"), os.X_OK
        ):
            try:
                found.append((int(d.split("/")[-2]), d))
            except ValueError:
                pass
    if not found:
        raise Skip("no PostgreSQL server found under /usr/lib/postgresql/*/bin "
                   "(apt-get install postgresql)")
    return max(found)[1]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv, **kw):
    kw.setdefault("check", True)
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("timeout", 60)
    return subprocess.run(argv, **kw)


def make_certs(d):
    """Writes root, intermediate, leaf (+ chain), a wrong root and a second
    leaf whose only name is wrong.example.com. Returns a dict of paths."""

    def key(name):
        path = os.path.join(d, name + ".key")
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-out", path])
        os.chmod(path, 0o600)
        return path

    def ext_file(name, text):
        path = os.path.join(d, name + ".ext")
        with open(path, "w") as f:
            f.write(text)
        return path

    ca_ext = ext_file("ca", "basicConstraints=critical,CA:TRUE\n"
                      "keyUsage=critical,keyCertSign,cRLSign\n"
                      "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    leaf_ext = ext_file("leaf", "basicConstraints=critical,CA:FALSE\n"
                        "keyUsage=critical,digitalSignature\n"
                        "extendedKeyUsage=serverAuth\n"
                        f"subjectAltName=DNS:{HOST},DNS:*.postgres.database.azure.com\n")

    def self_signed(name, cn):
        k = key(name)
        crt = os.path.join(d, name + ".crt")
        run(["openssl", "req", "-x509", "-new", "-key", k, "-out", crt, "-days", "3650",
             "-subj", f"/C=US/O=pgtls test/CN={cn}", "-addext",
             "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign"])
        return k, crt

    def issue(name, subject, issuer_crt, issuer_key, ext):
        k = key(name)
        csr = os.path.join(d, name + ".csr")
        crt = os.path.join(d, name + ".crt")
        run(["openssl", "req", "-new", "-key", k, "-out", csr, "-subj", subject])
        run(["openssl", "x509", "-req", "-in", csr, "-CA", issuer_crt, "-CAkey", issuer_key,
             "-CAcreateserial", "-out", crt, "-days", "825", "-extfile", ext])
        return k, crt

    root_key, root = self_signed("root", "pgtls Test Root CA")
    _, wrong_root = self_signed("wrong-root", "pgtls Wrong Root CA")
    ica_key, ica = issue("intermediate", "/C=US/O=pgtls test/CN=pgtls Test Issuing CA 01",
                         root, root_key, ca_ext)
    leaf_key, leaf = issue("server", f"/C=US/O=pgtls test/CN={HOST}", ica, ica_key, leaf_ext)
    chain = os.path.join(d, "server-chain.crt")
    with open(chain, "w") as out:
        for p in (leaf, ica):
            with open(p) as f:
                out.write(f.read())
    return {"root": root, "wrong_root": wrong_root, "intermediate": ica,
            "leaf": leaf, "server_chain": chain, "server_key": leaf_key}


class PgServer:
    """Context manager: a running server; .port, .certs, .dir."""

    def __init__(self):
        self.bindir = find_pg_bindir()
        if not shutil.which("openssl"):
            raise Skip("the openssl command is not installed")
        self.dir = tempfile.mkdtemp(prefix="pgtls-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.as_user = []
        self.owner = None
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise Skip("running as root and there is no 'postgres' user to run the server")
            self.owner = pw
            self.as_user = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
                            "--init-groups", "--"]
        self.started = False

    def _chown(self, path):
        if self.owner:
            os.chown(path, self.owner.pw_uid, self.owner.pw_gid)

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        certdir = os.path.join(self.dir, "certs")
        os.mkdir(certdir)
        self.certs = make_certs(certdir)
        srv = os.path.join(self.dir, "srv")
        os.mkdir(srv, 0o700)
        for name in ("server_chain", "server_key"):
            dst = os.path.join(srv, os.path.basename(self.certs[name]))
            shutil.copy(self.certs[name], dst)
            os.chmod(dst, 0o600)
            self._chown(dst)
            self.certs["srv_" + name] = dst
        self._chown(srv)
        self._chown(self.dir)
        run(self.as_user + [os.path.join(self.bindir, "initdb"), "-D", self.data, "-A", "trust",
                            "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"])
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"""
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = '{self.dir}'
ssl = on
ssl_cert_file = '{self.certs["srv_server_chain"]}'
ssl_key_file = '{self.certs["srv_server_key"]}'
password_encryption = 'scram-sha-256'
fsync = off
max_connections = 20
shared_buffers = 16MB
""")
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\n"
                    "hostssl all all 127.0.0.1/32 scram-sha-256\n"
                    "host all all 127.0.0.1/32 scram-sha-256\n")
        self.log = os.path.join(self.dir, "server.log")
        open(self.log, "w").close()
        self._chown(self.log)
        run(self.as_user + [os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", self.log,
                            "-w", "-t", "60", "start"])
        self.started = True
        psql = os.path.join(self.bindir, "psql")
        run(self.as_user + [psql, "-X", "-q", "-h", self.dir, "-p", str(self.port), "-U",
                            "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
                            "-c", f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'",
                            "-c", "CREATE EXTENSION sslinfo"])

    def stop(self):
        if self.started:
            run(self.as_user + [os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m",
                                "immediate", "-w", "stop"], check=False)
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def server_log(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""
