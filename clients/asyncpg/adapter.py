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


class Driver:
    name = "asyncpg"

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
                         "ssl_min_protocol_version"],
        }

    def connect(self, case, timeout_s):
        return asyncio.run(self._connect(case, timeout_s))

    async def _connect(self, case, timeout_s):
        out = {}
        settings = {}
        if case.get("application_name"):
            settings["application_name"] = case["application_name"]
        conn = await asyncpg.connect(dsn(case), timeout=timeout_s, server_settings=settings or None)
        try:
            out["connected"] = True
            sslobj = conn._transport.get_extra_info("ssl_object")  # no public accessor
            out["tls"] = sslobj is not None
            if sslobj is not None:
                out["tls_version"] = sslobj.version()
                cipher = sslobj.cipher()
                out["cipher"] = cipher[0] if cipher else None
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
