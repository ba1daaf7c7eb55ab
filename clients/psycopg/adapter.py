#!/usr/bin/env python3
"""pgtls adapter for psycopg 3 (psycopg[binary]: the wheel's bundled libpq and OpenSSL).

TLS behaviour is libpq's; the case fields are libpq keywords passed unchanged.
See docs/case-protocol.md and docs/drivers.md."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pyshared"))

import pgtls_adapter  # noqa: E402
import libpq_params  # noqa: E402
import entra_token  # noqa: E402
import psycopg  # noqa: E402
from psycopg import pq  # noqa: E402


def _libpq_label(num):
    major = num // 10000
    return "%d.%d" % (major, num % 100) if major >= 10 else str(num)


class Driver:
    name = "psycopg"

    def hello(self):
        lib = pq.version()
        # libpq is linked against the wheel's libssl, so it is mapped already.
        tls = pgtls_adapter.loaded_openssl(prefer_substring="psycopg_binary")
        return {
            "version": psycopg.__version__,
            "libpq": str(lib),
            "tls_library": tls,
            "build": "psycopg %s (%s, libpq %s, %s)" % (
                psycopg.__version__, pq.__impl__, _libpq_label(lib), _short(tls)),
            # "entra": token rows through azure-identity (docs/entra.md)
            "features": (libpq_params.features_for(lib) + libpq_params.surface_features()
                         + (["entra"] if entra_token.available() else [])),
            # Where sslrootcert=system looks without SSL_CERT_FILE/SSL_CERT_DIR.
            "extra": {"openssldir": pgtls_adapter.loaded_openssldir("psycopg_binary"),
                      "azure_identity": entra_token.SDK_VERSION},
        }

    def surface_reason(self, need):
        return libpq_params.NPGSQL_REASON if need == "surface:npgsql" else None

    def connect(self, case, timeout_s):
        kw = libpq_params.keywords(case, timeout_s)
        out = {}
        if case.get("entra"):
            conn = _entra_connect(case["entra"], kw)
        elif case.get("surface") or case.get("literal") is not None:
            # docs/surfaces.md: psycopg.connect(conninfo, **kwargs) merges them
            # (make_conninfo: the keyword arguments win), as a user's call does.
            string, params = libpq_params.surface_args(case, timeout_s)
            conn = psycopg.connect(string, autocommit=True, **params)
        else:
            conn = psycopg.connect(psycopg.conninfo.make_conninfo(**kw), autocommit=True)
        try:
            out["connected"] = True
            pgc = conn.pgconn
            out["tls"] = bool(pgc.ssl_in_use)
            if pgc.ssl_in_use:
                out["tls_version"] = _attr(pgc, b"protocol")
                out["cipher"] = _attr(pgc, b"cipher")
                out["chain"] = libpq_params.peer_chain(pgc.pgconn_ptr, "psycopg_binary")
            query = case.get("query") or "SELECT ssl_is_used()"
            try:
                # Text result straight from libpq: what psql would print.
                res = pgc.exec_(query.encode())
                if res.status in (pq.ExecStatus.TUPLES_OK,) and res.ntuples > 0:
                    val = res.get_value(0, 0)
                    out["query_result"] = None if val is None else val.decode()
                elif res.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
                    out["error"] = (res.error_message or b"").decode(errors="replace").strip()
                    out["error_code"] = (res.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode() or None
            except psycopg.Error as exc:
                out["error"] = pgtls_adapter.error_text(exc)
                out["error_code"] = pgtls_adapter.error_code(exc)
        finally:
            conn.close()
        return out


def _entra_connect(entra, kw):
    """Azure's documented pattern for psycopg 3: a connection class whose
    connect() asks the credential for a token and passes it as the password
    (the credential caches it until near expiry)."""
    cred = entra_token.credential(entra)
    scope = entra_token.scope(entra)
    kw = {k: v for k, v in kw.items() if k != "password"}

    class EntraConnection(psycopg.Connection):
        @classmethod
        def connect(cls, conninfo="", **kwargs):
            kwargs["password"] = cred.get_token(scope).token
            return super().connect(conninfo, **kwargs)

    return EntraConnection.connect(psycopg.conninfo.make_conninfo(**kw), autocommit=True)


def _short(tls):
    """'OpenSSL 3.5.4 30 Sep 2025' -> 'OpenSSL 3.5.4' for the build label."""
    return " ".join((tls or "unknown TLS library").split()[:2])


_libpq_handle = None


def _attr(pgc, name):
    """PQsslAttribute(conn, name): psycopg 3 does not wrap it, so call the libpq the
    wheel loaded (the same library instance that owns pgc) through ctypes."""
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
