#!/usr/bin/env python3
"""pgtls adapter for Django's PostgreSQL backend (django.db.backends.postgresql) over
psycopg 3 (the binary wheel: bundled libpq and OpenSSL).

The case becomes a DATABASES entry as Django's documentation shows it:
    {"ENGINE": "django.db.backends.postgresql", "NAME": dbname, "USER": user,
     "PASSWORD": password, "HOST": host, "PORT": port,
     "OPTIONS": {"sslmode": ..., "sslrootcert": ..., "hostaddr": ..., ...}}
No project is needed: settings.configure() once, then per case a
django.db.utils.ConnectionHandler over that entry (the object behind
django.db.connections, which fills in the defaults as settings.DATABASES gets them).
DatabaseWrapper.get_connection_params() copies OPTIONS into psycopg.connect()'s
keyword arguments (plus client_encoding, context, cursor_factory,
prepare_threshold), so the libpq keywords pass through unchanged. connect_options
become more OPTIONS. The query runs through connection.cursor(). See docs/drivers.md."""

import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pyshared"))

import pgtls_adapter  # noqa: E402
import libpq_params  # noqa: E402
import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(DATABASES={}, USE_TZ=True, TIME_ZONE="UTC")
django.setup()

from django.db import DatabaseError  # noqa: E402
from django.db.backends.postgresql import psycopg_any  # noqa: E402
from django.db.utils import ConnectionHandler  # noqa: E402

# Case fields that go into OPTIONS (libpq keywords, passed through unchanged).
OPTION_FIELDS = ("hostaddr", "sslmode", "sslrootcert", "application_name", "sslnegotiation",
                 "channel_binding", "ssl_min_protocol_version", "ssl_max_protocol_version",
                 "sslsni")


def database_settings(case, timeout_s):
    options = {k: str(case[k]) for k in OPTION_FIELDS if case.get(k) is not None}
    options["connect_timeout"] = str(max(1, math.ceil(timeout_s)))
    for key, value in (case.get("connect_options") or {}).items():
        options[str(key)] = str(value)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": case.get("dbname") or "",
        "USER": case.get("user") or "",
        "PASSWORD": case.get("password") or "",
        "HOST": case.get("host") or case.get("hostaddr") or "",
        "PORT": str(case["port"]) if case.get("port") else "",
        "OPTIONS": options,
    }


def _driver():
    """The DB-API module Django's backend really loaded (psycopg 3 if importable,
    else psycopg2: django/db/backends/postgresql/psycopg_any.py)."""
    from django.db.backends.postgresql import base
    return base.Database


def _libpq_label(num):
    major = num // 10000
    return "%d.%d" % (major, num % 100) if major >= 10 else str(num)


class Driver:
    name = "django"

    def hello(self):
        db = _driver()
        if not psycopg_any.is_psycopg3:
            raise RuntimeError("Django loaded psycopg2, not psycopg 3")
        lib = db.pq.version()
        tls = pgtls_adapter.loaded_openssl(prefer_substring="psycopg_binary")
        return {
            "version": django.get_version(),
            "libpq": str(lib),
            "tls_library": tls,
            "build": "Django %s + psycopg %s (%s, libpq %s, %s)" % (
                django.get_version(), db.__version__, db.pq.__impl__, _libpq_label(lib),
                " ".join((tls or "unknown TLS library").split()[:2])),
            "features": libpq_params.features_for(lib),
            "extra": {"framework": "Django %s" % django.get_version(),
                      "engine": "django.db.backends.postgresql",
                      "driver": "psycopg %s" % db.__version__,
                      "openssldir": pgtls_adapter.loaded_openssldir("psycopg_binary")},
        }

    def connect(self, case, timeout_s):
        conn = ConnectionHandler({"default": database_settings(case, timeout_s)})["default"]
        out = {}
        try:
            try:
                conn.ensure_connection()
            except DatabaseError as exc:
                # What the user sees: Django's exception (its text is the driver's);
                # error_code from the driver's exception Django chained.
                cause = exc.__cause__ or exc
                return {"connected": False, "error": pgtls_adapter.error_text(exc),
                        "error_code": pgtls_adapter.error_code(cause),
                        "notes": "raised as %s.%s" % (type(exc).__module__, type(exc).__qualname__)}
            out["connected"] = True
            pgc = conn.connection.pgconn
            out["tls"] = bool(pgc.ssl_in_use)
            if pgc.ssl_in_use:
                out["tls_version"] = _attr(pgc, b"protocol")
                out["cipher"] = _attr(pgc, b"cipher")
                out["chain"] = libpq_params.peer_chain(pgc.pgconn_ptr, "psycopg_binary")
            try:
                with conn.cursor() as cur:
                    cur.execute(case.get("query") or "SELECT ssl_is_used()")
                    row = cur.fetchone()
                    out["query_result"] = pgtls_adapter.as_text(row[0]) if row else None
            except DatabaseError as exc:
                out["error"] = pgtls_adapter.error_text(exc)
                out["error_code"] = pgtls_adapter.error_code(exc.__cause__ or exc)
        finally:
            conn.close()
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
