#!/usr/bin/env python3
"""pgtls adapter for SQLAlchemy over psycopg 3 (dialect postgresql+psycopg).

The case becomes what SQLAlchemy's documentation shows users write: a URL
postgresql+psycopg://user:pass@host:port/db?sslmode=&sslrootcert=&hostaddr=&...
given to create_engine(), plus connect_args={"connect_timeout": N, ...}. SQLAlchemy
turns the URL's query into keyword arguments of psycopg.connect()
(dialects/postgresql/_psycopg_common.py create_connect_args: opts.update(url.query)),
and connect_args are merged over them (engine/create.py: cparams.union(connect_args));
psycopg makes them libpq keywords. So every libpq keyword passes through, and TLS is
the bundled libpq's. connect_options become more connect_args.

The engine is created with use_native_hstore=False (a documented option of the
psycopg dialect): SQLAlchemy's first-connect initialisation otherwise looks up the
hstore type with psycopg's TypeInfo.fetch (SAVEPOINT and a pg_type query), which the
pgtls mock does not answer; the rest of it (server version, current_schema,
standard_conforming_strings, isolation level) runs as for every user, after the TLS
decision made inside dialect.connect() -> psycopg.connect(). The query runs through
Connection.exec_driver_sql. See docs/drivers.md."""

import os
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pyshared"))

import pgtls_adapter  # noqa: E402
import libpq_params  # noqa: E402
import sqlalchemy  # noqa: E402

# Case fields written into the URL query (libpq keywords, passed through unchanged).
URL_PARAMS = ("hostaddr", "sslmode", "sslrootcert", "application_name", "sslnegotiation",
              "channel_binding", "ssl_min_protocol_version", "ssl_max_protocol_version",
              "sslsni")


def url(case):
    host = case.get("host") or case.get("hostaddr") or "localhost"
    if ":" in host:
        host = "[%s]" % host
    auth = ""
    if case.get("user"):
        auth = urllib.parse.quote(case["user"], safe="")
        if case.get("password"):
            auth += ":" + urllib.parse.quote(case["password"], safe="")
        auth += "@"
    params = {k: str(case[k]) for k in URL_PARAMS if case.get(k) is not None}
    port = ":%d" % case["port"] if case.get("port") else ""
    query = "?" + urllib.parse.urlencode(params) if params else ""
    return "postgresql+psycopg://%s%s%s/%s%s" % (
        auth, host, port, urllib.parse.quote(case.get("dbname") or "", safe=""), query)


def _libpq_label(num):
    major = num // 10000
    return "%d.%d" % (major, num % 100) if major >= 10 else str(num)


def _short(tls):
    return " ".join((tls or "unknown TLS library").split()[:2])


class Driver:
    name = "sqlalchemy-psycopg"

    def hello(self):
        # The DBAPI module SQLAlchemy's dialect really loads for this URL scheme.
        engine = sqlalchemy.create_engine("postgresql+psycopg://")
        dbapi = engine.dialect.loaded_dbapi
        lib = dbapi.pq.version()
        tls = pgtls_adapter.loaded_openssl(prefer_substring="psycopg_binary")
        return {
            "version": sqlalchemy.__version__,
            "libpq": str(lib),
            "tls_library": tls,
            "build": "SQLAlchemy %s + psycopg %s (%s, libpq %s, %s)" % (
                sqlalchemy.__version__, dbapi.__version__, dbapi.pq.__impl__,
                _libpq_label(lib), _short(tls)),
            "features": libpq_params.features_for(lib),
            "extra": {"framework": "SQLAlchemy %s" % sqlalchemy.__version__,
                      "dialect": "postgresql+%s" % engine.dialect.driver,
                      "driver": "psycopg %s" % dbapi.__version__,
                      "openssldir": pgtls_adapter.loaded_openssldir("psycopg_binary")},
        }

    def connect(self, case, timeout_s):
        connect_args = {"connect_timeout": libpq_params.keywords(case, timeout_s)["connect_timeout"]}
        for key, value in (case.get("connect_options") or {}).items():
            connect_args[str(key)] = str(value)
        engine = sqlalchemy.create_engine(url(case), connect_args=connect_args,
                                          poolclass=sqlalchemy.pool.NullPool,
                                          use_native_hstore=False)
        out = {}
        try:
            with engine.connect() as conn:
                out["connected"] = True
                pgc = conn.connection.driver_connection.pgconn
                out["tls"] = bool(pgc.ssl_in_use)
                if pgc.ssl_in_use:
                    out["tls_version"] = _attr(pgc, b"protocol")
                    out["cipher"] = _attr(pgc, b"cipher")
                    out["chain"] = libpq_params.peer_chain(pgc.pgconn_ptr, "psycopg_binary")
                try:
                    value = conn.exec_driver_sql(case.get("query") or "SELECT ssl_is_used()").scalar()
                    out["query_result"] = pgtls_adapter.as_text(value)
                except sqlalchemy.exc.DBAPIError as exc:
                    out["error"] = pgtls_adapter.error_text(exc.orig)
                    out["error_code"] = pgtls_adapter.error_code(exc.orig)
        except sqlalchemy.exc.DBAPIError as exc:
            # What the user sees: SQLAlchemy's exception, which wraps the driver's
            # (its text carries the driver's message); error_code is the driver's.
            out = {"connected": False, "error": pgtls_adapter.error_text(exc),
                   "error_code": pgtls_adapter.error_code(exc.orig if exc.orig is not None else exc),
                   "notes": "raised as %s.%s" % (type(exc).__module__, type(exc).__qualname__)}
        finally:
            engine.dispose()
        return out


_libpq_handle = None


def _attr(pgc, name):
    """PQsslAttribute(conn, name) through the libpq the wheel loaded (psycopg 3 does
    not wrap it), as clients/psycopg/adapter.py does."""
    global _libpq_handle
    import ctypes
    if _libpq_handle is None:
        paths = pgtls_adapter.mapped_libraries("libpq", "psycopg_binary")
        if not paths:
            return None
        _libpq_handle = ctypes.CDLL(paths[0])
        _libpq_handle.PQsslAttribute.restype = ctypes.c_char_p
        _libpq_handle.PQsslAttribute.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    val = _libpq_handle.PQsslAttribute(pgc.pgconn_ptr, name)
    return val.decode() if val is not None else None


if __name__ == "__main__":
    sys.exit(pgtls_adapter.main(Driver()))
