#!/usr/bin/env python3
"""pgtls adapter for psycopg2 (psycopg2-binary: the wheel's bundled libpq and OpenSSL).

TLS behaviour is libpq's; the case fields are libpq keywords passed unchanged.
clients/psycopg2-old runs this same file in a venv with an older wheel; the client
name comes from PGTLS_CLIENT_NAME or --client-name (first argument)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pyshared"))

import pgtls_adapter  # noqa: E402
import libpq_params  # noqa: E402
import psycopg2  # noqa: E402
import psycopg2.extensions  # noqa: E402


def _libpq_label(num):
    major = num // 10000
    return "%d.%d" % (major, num % 100) if major >= 10 else str(num)


class Driver:
    def __init__(self, name):
        self.name = name

    def hello(self):
        lib = psycopg2.extensions.libpq_version()
        tls = pgtls_adapter.loaded_openssl(prefer_substring="psycopg2_binary")
        version = psycopg2.__version__.split()[0]
        return {
            "version": version,
            "libpq": str(lib),
            "tls_library": tls,
            "build": "psycopg2-binary %s (libpq %s, %s)" % (
                version, _libpq_label(lib), " ".join((tls or "unknown TLS").split()[:2])),
            "features": libpq_params.features_for(lib) + libpq_params.surface_features(),
            # Where sslrootcert=system looks without SSL_CERT_FILE/SSL_CERT_DIR.
            "extra": {"openssldir": pgtls_adapter.loaded_openssldir("psycopg2_binary")},
        }

    def surface_reason(self, need):
        return libpq_params.NPGSQL_REASON if need == "surface:npgsql" else None

    def connect(self, case, timeout_s):
        kw = libpq_params.keywords(case, timeout_s)
        out = {}
        if case.get("surface") or case.get("literal") is not None:
            # docs/surfaces.md: psycopg2.connect(dsn, **kwargs) merges them
            # (make_dsn: the keyword arguments win), as a user's call does.
            string, params = libpq_params.surface_args(case, timeout_s)
            conn = psycopg2.connect(string, **params)
        else:
            conn = psycopg2.connect(psycopg2.extensions.make_dsn(**kw))
        try:
            conn.autocommit = True
            out["connected"] = True
            info = conn.info
            out["tls"] = bool(info.ssl_in_use)
            if info.ssl_in_use:
                out["tls_version"] = info.ssl_attribute("protocol")
                out["cipher"] = info.ssl_attribute("cipher")
                out["chain"] = libpq_params.peer_chain(conn.pgconn_ptr, "psycopg2_binary")
            try:
                with conn.cursor() as cur:
                    cur.execute(case.get("query") or "SELECT ssl_is_used()")
                    if cur.description:
                        row = cur.fetchone()
                        out["query_result"] = pgtls_adapter.as_text(row[0]) if row else None
            except psycopg2.Error as exc:
                out["error"] = pgtls_adapter.error_text(exc)
                out["error_code"] = pgtls_adapter.error_code(exc)
        finally:
            conn.close()
        return out


def _name(argv):
    if argv[:1] == ["--client-name"] and len(argv) >= 2:
        return argv[1], argv[2:]
    return os.environ.get("PGTLS_CLIENT_NAME", "psycopg2"), argv


if __name__ == "__main__":
    name, rest = _name(sys.argv[1:])
    sys.exit(pgtls_adapter.main(Driver(name), rest))
