#!/usr/bin/env python3
"""pgtls adapter for pg8000 (pure Python; TLS through Python's ssl module).

pg8000 has no sslmode and no sslrootcert: TLS is its `ssl_context` argument. The
adapter writes what a user would, per docs/drivers.md:
  disable     -> ssl_context=False   (no TLS)
  allow       -> unsupported         (pg8000 cannot try plaintext first)
  prefer      -> ssl_context=None    (pg8000's default: TLS without verification,
                                      plaintext if the server answers N)
  require     -> ssl_context=True    (TLS without verification; no root file is read)
  verify-ca   -> SSLContext(PROTOCOL_TLS_CLIENT), check_hostname=False, CERT_REQUIRED,
                 load_verify_locations(sslrootcert)
  verify-full -> the same with check_hostname=True
  ssl_min/max_protocol_version -> the context's minimum_version/maximum_version
                 (require then gets its own CERT_NONE context; prefer: unsupported,
                 since any context turns pg8000's plaintext fallback off)
  sslrootcert=system -> load_default_certs() (OpenSSL's default paths, which honour
                 SSL_CERT_FILE / SSL_CERT_DIR); verify-* without any sslrootcert is
                 unsupported: pg8000 has no default root file and the user must choose.
pg8000 has no hostaddr: the shared loop maps `host` to `hostaddr` in name resolution,
and pg8000 passes `host` as server_hostname (SNI, host check)."""

import os
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pyshared"))

import pgtls_adapter  # noqa: E402
import pg8000  # noqa: E402
import pg8000.native  # noqa: E402


_TLS_VERSIONS = {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
                 "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def _bounds(ctx, case):
    for field, attr in (("ssl_min_protocol_version", "minimum_version"),
                        ("ssl_max_protocol_version", "maximum_version")):
        value = case.get(field)
        if value is not None:
            if value not in _TLS_VERSIONS:
                raise ValueError("%s: unknown TLS version %r" % (field, value))
            setattr(ctx, attr, _TLS_VERSIONS[value])


def ssl_context_for(case):
    mode = case.get("sslmode") or "prefer"
    root = case.get("sslrootcert")
    has_bounds = case.get("ssl_min_protocol_version") or case.get("ssl_max_protocol_version")
    if mode == "disable":
        return False
    if mode == "allow":
        raise pgtls_adapter.Unsupported("pg8000 cannot try plaintext first and TLS second (sslmode=allow)")
    if mode == "prefer":
        if has_bounds:
            raise pgtls_adapter.Unsupported(
                "pg8000: protocol bounds need an SSLContext, and any context turns off "
                "pg8000's plaintext fallback (sslmode=prefer)")
        return None
    if mode == "require":
        if has_bounds:
            # What a user writes for "encrypt, do not verify, bounded versions".
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            _bounds(ctx, case)
            return ctx
        return True
    if mode in ("verify-ca", "verify-full"):
        if root is None:
            raise pgtls_adapter.Unsupported(
                "pg8000 has no default root file (libpq's ~/.postgresql/root.crt); "
                "%s needs an explicit sslrootcert" % mode)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = mode == "verify-full"
        ctx.verify_mode = ssl.CERT_REQUIRED
        if root == "system":
            ctx.load_default_certs()
        else:
            ctx.load_verify_locations(cafile=root)
        _bounds(ctx, case)
        return ctx
    raise pgtls_adapter.Unsupported("unknown sslmode %r" % mode)


# docs/surfaces.md. pg8000 takes keyword arguments only: it parses no connection
# string or URL and reads no environment variable (no os.environ in the package).
# The env surface sets libpq's PG* variables anyway and calls pg8000 without an
# ssl_context, as code that relies on PGSSLMODE would: pg8000 ignores them.
SURFACE_REASONS = {
    "surface:conninfo": "pg8000 takes keyword arguments only; it parses no keyword=value "
                        "connection string",
    "surface:url": "pg8000 takes keyword arguments only; it parses no URL",
    "surface:url+options": "pg8000 takes keyword arguments only; it parses no URL",
    "surface:url+env": "pg8000 takes keyword arguments only; it parses no URL",
    "surface:npgsql": "pg8000 takes keyword arguments only; it parses no connection string",
    "literal": "pg8000 takes keyword arguments only; it parses no connection string",
}
TLS_ENV = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
           "sslnegotiation": "PGSSLNEGOTIATION", "channel_binding": "PGCHANNELBINDING",
           "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
           "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION", "sslsni": "PGSSLSNI"}


class Driver:
    name = "pg8000"

    def surface_reason(self, need):
        return SURFACE_REASONS.get(need)

    def hello(self):
        return {
            "version": pg8000.__version__,
            "libpq": None,
            "tls_library": ssl.OPENSSL_VERSION,
            # Compiled-in default roots (used by sslrootcert=system / load_default_certs
            # unless SSL_CERT_FILE/SSL_CERT_DIR say otherwise).
            "extra": {"openssl_cafile": ssl.get_default_verify_paths().openssl_cafile,
                      "openssl_capath": ssl.get_default_verify_paths().openssl_capath},
            "build": "pg8000 %s (CPython %s, %s)" % (
                pg8000.__version__, sys.version.split()[0], " ".join(ssl.OPENSSL_VERSION.split()[:2])),
            "features": ["ssl_max_protocol_version", "ssl_min_protocol_version",
                         "surface:options", "surface:env"],
        }

    def connect(self, case, timeout_s):
        tls_args = {}
        if case.get("surface") == "env":
            for key, name in TLS_ENV.items():
                if case.get(key) is not None:
                    os.environ[name] = str(case[key])
        else:
            tls_args["ssl_context"] = ssl_context_for(case)
        out = {}
        conn = pg8000.native.Connection(
            user=case.get("user") or "postgres",
            host=case.get("host") or case.get("hostaddr") or "localhost",
            database=case.get("dbname"),
            port=case.get("port") or 5432,
            password=case.get("password"),
            **tls_args,
            timeout=timeout_s,
            application_name=case.get("application_name"),
        )
        try:
            out["connected"] = True
            sock = getattr(conn, "_usock", None)  # no public accessor
            if isinstance(sock, ssl.SSLSocket):
                out["tls"] = True
                out["tls_version"] = sock.version()
                cipher = sock.cipher()
                out["cipher"] = cipher[0] if cipher else None
                out["chain"] = pgtls_adapter.python_ssl_chain(sock)
            elif sock is not None:
                out["tls"] = False
            try:
                rows = conn.run(case.get("query") or "SELECT ssl_is_used()")
                out["query_result"] = pgtls_adapter.as_text(rows[0][0]) if rows else None
            except pg8000.native.DatabaseError as exc:
                out["error"] = pgtls_adapter.error_text(exc)
                out["error_code"] = _sqlstate(exc)
        finally:
            try:
                conn.close()
            except Exception:  # closing a broken connection is not the finding
                pass
        return out


def _sqlstate(exc):
    arg = exc.args[0] if exc.args else None
    if isinstance(arg, dict) and arg.get("C"):
        return arg["C"]
    return pgtls_adapter.error_code(exc)


if __name__ == "__main__":
    sys.exit(pgtls_adapter.main(Driver()))
