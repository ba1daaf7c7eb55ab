#!/usr/bin/env python3
"""pgtls adapter for asyncpg (TLS through Python's ssl module and its OpenSSL).

The case becomes a DSN as users write it: postgresql://user:pass@host:port/db?sslmode=
&sslrootcert=&sslnegotiation=&ssl_min_protocol_version=&ssl_max_protocol_version=;
asyncpg parses it itself (connect_utils._parse_connect_dsn_and_args). asyncpg has no
hostaddr: the shared loop maps `host` to `hostaddr` in name resolution (see
pyshared/pgtls_adapter.py), so asyncpg still uses `host` for SNI and the host check.
HOME and PG* are set in os.environ before each connect, which asyncpg reads then
(~/.postgresql/root.crt, PGSSLMODE, ...). connect_options become extra DSN parameters
(asyncpg sends the ones it does not know to the server as settings)."""

import asyncio
import os
import ssl
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pyshared"))

import pgtls_adapter  # noqa: E402
import asyncpg  # noqa: E402


def dsn(case):
    host = case.get("host") or case.get("hostaddr") or "localhost"
    if ":" in host:
        host = "[%s]" % host
    auth = ""
    if case.get("user"):
        auth = urllib.parse.quote(case["user"], safe="")
        if case.get("password"):
            auth += ":" + urllib.parse.quote(case["password"], safe="")
        auth += "@"
    params = {}
    for key in ("sslmode", "sslrootcert", "sslnegotiation", "ssl_min_protocol_version",
                "ssl_max_protocol_version"):
        if case.get(key) is not None:
            params[key] = str(case[key])
    for key, value in (case.get("connect_options") or {}).items():
        params[str(key)] = str(value)
    port = ":%d" % case["port"] if case.get("port") else ""
    query = "?" + urllib.parse.urlencode(params) if params else ""
    return "postgresql://%s%s%s/%s%s" % (auth, host, port,
                                         urllib.parse.quote(case.get("dbname") or "", safe=""), query)


# docs/surfaces.md. asyncpg reads a URL DSN (postgresql:// or postgres:// only:
# connect_utils._parse_connect_dsn_and_args), the PG* variables (PGSSLMODE,
# PGSSLROOTCERT, PGSSLNEGOTIATION, PGSSLMIN/MAXPROTOCOLVERSION, ...) and keyword
# arguments, where ssl= is an sslmode string or an SSLContext and wins over the DSN's
# sslmode ("if ssl is None: ssl = val"). There is no sslrootcert keyword: a root file
# in the options is an SSLContext, as asyncpg's documentation shows it.
SURFACES = ["surface:url", "surface:env", "surface:options", "surface:url+options",
            "surface:url+env"]
SURFACE_REASONS = {
    "surface:conninfo": "asyncpg reads no keyword=value string: it parses a DSN with "
                        "urllib.parse.urlparse and refuses any scheme but postgresql:// and "
                        "postgres:// (connect_utils._parse_connect_dsn_and_args)",
    "surface:npgsql": "asyncpg has no parser for the ADO.NET form (Key=Value;...): its DSN is "
                      "a postgresql:// URL",
    "literal": "asyncpg reads postgresql:// URLs only; the source pages show libpq conninfo "
               "and Npgsql strings",
}
TLS_ENV = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
           "sslnegotiation": "PGSSLNEGOTIATION",
           "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
           "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
           "channel_binding": "PGCHANNELBINDING", "sslsni": "PGSSLSNI"}
NO_TLS = {k: None for k in TLS_ENV}
_TLS_VERSIONS = {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
                 "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def set_tls_env(case):
    for key, name in TLS_ENV.items():
        if case.get(key) is not None:
            os.environ[name] = str(case[key])


def ssl_option(case, with_mode):
    """The ssl= keyword: an SSLContext for verify-ca/verify-full with a root file (the
    way asyncpg's documentation passes a CA), else the sslmode string (or None)."""
    mode, root = case.get("sslmode"), case.get("sslrootcert")
    bounds = [case.get(k) for k in ("ssl_min_protocol_version", "ssl_max_protocol_version")]
    if mode in ("verify-ca", "verify-full") and root is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = mode == "verify-full"
        ctx.verify_mode = ssl.CERT_REQUIRED
        if root == "system":
            ctx.load_default_certs()
        else:
            ctx.load_verify_locations(cafile=root)
        for value, attr in zip(bounds, ("minimum_version", "maximum_version")):
            if value is not None:
                setattr(ctx, attr, _TLS_VERSIONS[value])
        return ctx
    if any(bounds):
        raise pgtls_adapter.Unsupported("asyncpg: protocol bounds in keyword arguments need "
                                        "an SSLContext, which asyncpg builds only for "
                                        "verify-ca/verify-full with a root file here")
    return mode if with_mode else None


class Driver:
    name = "asyncpg"

    def surface_reason(self, need):
        return SURFACE_REASONS.get(need)

    def hello(self):
        return {
            "version": asyncpg.__version__,
            "libpq": None,
            "tls_library": ssl.OPENSSL_VERSION,
            # Compiled-in default roots (used by sslrootcert=system / load_default_certs
            # unless SSL_CERT_FILE/SSL_CERT_DIR say otherwise).
            "extra": {"openssl_cafile": ssl.get_default_verify_paths().openssl_cafile,
                      "openssl_capath": ssl.get_default_verify_paths().openssl_capath},
            "build": "asyncpg %s (CPython %s, %s)" % (
                asyncpg.__version__, sys.version.split()[0], " ".join(ssl.OPENSSL_VERSION.split()[:2])),
            "features": ["connect_options", "sslnegotiation", "ssl_max_protocol_version",
                         "ssl_min_protocol_version"] + SURFACES,
        }

    def connect(self, case, timeout_s):
        return asyncio.run(self._connect(case, timeout_s))

    async def _connect(self, case, timeout_s):
        out = {}
        settings = {}
        if case.get("application_name"):
            settings["application_name"] = case["application_name"]
        surface = case.get("surface")
        target = dict(host=case.get("host") or case.get("hostaddr") or "localhost",
                      port=case.get("port"), user=case.get("user"),
                      password=case.get("password"), database=case.get("dbname"))
        kw = dict(timeout=timeout_s, server_settings=settings or None)
        if case.get("sslnegotiation") is not None and surface in ("options", "url+options"):
            kw["direct_tls"] = case["sslnegotiation"] == "direct"
        if surface in (None, "url"):
            conn = await asyncpg.connect(dsn(case), **kw)
        elif surface == "env":
            set_tls_env(case)
            conn = await asyncpg.connect(**target, **kw)
        elif surface == "options":
            conn = await asyncpg.connect(**target, ssl=ssl_option(case, True), **kw)
        elif surface == "url+options":
            # The URL carries the target and sslmode, ssl= the root file.
            url = dsn({**case, **NO_TLS, "sslmode": case.get("sslmode")})
            conn = await asyncpg.connect(url, ssl=ssl_option(case, False), **kw)
        else:  # url+env
            set_tls_env(case)
            conn = await asyncpg.connect(dsn({**case, **NO_TLS}), **kw)
        try:
            out["connected"] = True
            sslobj = conn._transport.get_extra_info("ssl_object")  # no public accessor
            out["tls"] = sslobj is not None
            if sslobj is not None:
                out["tls_version"] = sslobj.version()
                cipher = sslobj.cipher()
                out["cipher"] = cipher[0] if cipher else None
                out["chain"] = pgtls_adapter.python_ssl_chain(sslobj)
            try:
                value = await conn.fetchval(case.get("query") or "SELECT ssl_is_used()",
                                            timeout=timeout_s)
                out["query_result"] = pgtls_adapter.as_text(value)
            except asyncpg.PostgresError as exc:
                out["error"] = pgtls_adapter.error_text(exc)
                out["error_code"] = pgtls_adapter.error_code(exc)
        finally:
            await conn.close(timeout=timeout_s)
        return out


if __name__ == "__main__":
    sys.exit(pgtls_adapter.main(Driver()))
