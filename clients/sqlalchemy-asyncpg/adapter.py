#!/usr/bin/env python3
"""pgtls adapter for SQLAlchemy's asyncio engine over asyncpg (postgresql+asyncpg).

SQLAlchemy's asyncpg dialect (dialects/postgresql/asyncpg.py create_connect_args)
turns the URL's query into keyword arguments of asyncpg.connect() unchanged
(opts.update(url.query); only port and prepared_statement_cache_size are converted),
and connect_args are merged over them. asyncpg.connect() has `ssl` and `direct_tls`
keyword arguments but no `sslmode`, `sslrootcert`, `sslnegotiation` or
`ssl_min/max_protocol_version` ones: asyncpg reads those only from a DSN string or its
PG* environment variables. Two ways users write the URL, two client names:

  --mode ssl (client sqlalchemy-asyncpg): what the maintainers answer
    (sqlalchemy/sqlalchemy#6275): postgresql+asyncpg://...?ssl=<sslmode>. The
    case's sslmode is asyncpg's `ssl` string; what a URL cannot carry comes from
    asyncpg's environment variables, as a user would set them: PGSSLROOTCERT
    (sslrootcert), PGSSLMINPROTOCOLVERSION/PGSSLMAXPROTOCOLVERSION; sslnegotiation=
    direct is the URL's direct_tls=true.
  --mode sslmode (client sqlalchemy-asyncpg-sslmode): the libpq-style URL users
    carry over from psycopg: ...?sslmode=&sslrootcert=&sslnegotiation=&
    ssl_min_protocol_version=&ssl_max_protocol_version=. SQLAlchemy passes
    them on and asyncpg.connect() raises TypeError (unexpected keyword argument)
    before connecting (MagicStack/asyncpg#737): that is the result.

Both: connect_args={"timeout": s, "server_settings": {"application_name": ...}}
(SQLAlchemy's documented way to pass asyncpg arguments); connect_options become more
URL query parameters. SQLAlchemy's first-connect initialisation and the dialect's
JSON codec set-up run as for every user, after the TLS decision made in
asyncpg.connect(). asyncpg has no hostaddr: the shared loop maps host to hostaddr in
name resolution. See docs/drivers.md."""

import asyncio
import os
import ssl
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pyshared"))

import pgtls_adapter  # noqa: E402
import sqlalchemy  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

SSLMODE_URL_PARAMS = ("sslmode", "sslrootcert", "sslnegotiation", "ssl_min_protocol_version",
                      "ssl_max_protocol_version")
ENV_FOR = {"sslrootcert": "PGSSLROOTCERT", "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
           "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION"}


def url(case, mode):
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
    if mode == "sslmode":
        for key in SSLMODE_URL_PARAMS:
            if case.get(key) is not None:
                params[key] = str(case[key])
    else:
        if case.get("sslmode") is not None:
            params["ssl"] = str(case["sslmode"])
        if case.get("sslnegotiation") == "direct":
            params["direct_tls"] = "true"
    for key, value in (case.get("connect_options") or {}).items():
        params[str(key)] = str(value)
    port = ":%d" % case["port"] if case.get("port") else ""
    query = "?" + urllib.parse.urlencode(params) if params else ""
    return "postgresql+asyncpg://%s%s%s/%s%s" % (
        auth, host, port, urllib.parse.quote(case.get("dbname") or "", safe=""), query)


class Driver:
    def __init__(self, mode, name):
        self.mode = mode
        self.name = name

    def hello(self):
        engine = create_async_engine("postgresql+asyncpg://")
        asyncpg = engine.sync_engine.dialect.dbapi.asyncpg  # the module the dialect loaded
        return {
            "version": sqlalchemy.__version__,
            "libpq": None,
            "tls_library": ssl.OPENSSL_VERSION,
            "build": "SQLAlchemy %s + asyncpg %s (%s; CPython %s, %s)" % (
                sqlalchemy.__version__, asyncpg.__version__,
                "?ssl=" if self.mode == "ssl" else "?sslmode=",
                sys.version.split()[0], " ".join(ssl.OPENSSL_VERSION.split()[:2])),
            "features": ["connect_options", "sslnegotiation", "ssl_max_protocol_version",
                         "ssl_min_protocol_version"],
            "extra": {"framework": "SQLAlchemy %s" % sqlalchemy.__version__,
                      "dialect": "postgresql+asyncpg", "driver": "asyncpg %s" % asyncpg.__version__,
                      "url_form": self.mode,
                      "openssl_cafile": ssl.get_default_verify_paths().openssl_cafile},
        }

    def connect(self, case, timeout_s):
        if self.mode == "ssl":
            # What the URL cannot carry: asyncpg's own environment variables.
            for key, var in ENV_FOR.items():
                if case.get(key) is not None:
                    os.environ[var] = str(case[key])
        return asyncio.run(self._connect(case, timeout_s))

    async def _connect(self, case, timeout_s):
        connect_args = {"timeout": timeout_s}
        if case.get("application_name"):
            connect_args["server_settings"] = {"application_name": case["application_name"]}
        engine = create_async_engine(url(case, self.mode), connect_args=connect_args,
                                     poolclass=sqlalchemy.pool.NullPool)
        out = {}
        try:
            try:
                conn = await engine.connect()
            except sqlalchemy.exc.DBAPIError as exc:
                # What the user sees: SQLAlchemy's wrapper of the driver's exception.
                orig = exc.orig if exc.orig is not None else exc
                return {"connected": False, "error": pgtls_adapter.error_text(exc),
                        "error_code": pgtls_adapter.error_code(getattr(orig, "__cause__", None) or orig),
                        "notes": "raised as %s.%s" % (type(exc).__module__, type(exc).__qualname__)}
            try:
                out["connected"] = True
                raw = await conn.get_raw_connection()
                sslobj = raw.driver_connection._transport.get_extra_info("ssl_object")
                out["tls"] = sslobj is not None
                if sslobj is not None:
                    out["tls_version"] = sslobj.version()
                    cipher = sslobj.cipher()
                    out["cipher"] = cipher[0] if cipher else None
                    out["chain"] = pgtls_adapter.python_ssl_chain(sslobj)
                try:
                    res = await conn.exec_driver_sql(case.get("query") or "SELECT ssl_is_used()")
                    out["query_result"] = pgtls_adapter.as_text(res.scalar())
                except sqlalchemy.exc.DBAPIError as exc:
                    out["error"] = pgtls_adapter.error_text(exc)
                    orig = exc.orig if exc.orig is not None else exc
                    out["error_code"] = pgtls_adapter.error_code(getattr(orig, "__cause__", None) or orig)
            finally:
                await conn.close()
        finally:
            await engine.dispose()
        return out


def parse_args(argv):
    mode, name = "ssl", None
    while len(argv) >= 2 and argv[0] in ("--mode", "--client-name"):
        if argv[0] == "--mode":
            mode = argv[1]
        else:
            name = argv[1]
        argv = argv[2:]
    if mode not in ("ssl", "sslmode"):
        sys.stderr.write("sqlalchemy-asyncpg adapter: unknown --mode %s (use ssl or sslmode)\n" % mode)
        sys.exit(2)
    return mode, name or ("sqlalchemy-asyncpg" if mode == "ssl" else "sqlalchemy-asyncpg-sslmode"), argv


if __name__ == "__main__":
    MODE, NAME, REST = parse_args(sys.argv[1:])
    sys.exit(pgtls_adapter.main(Driver(MODE, NAME), REST))
