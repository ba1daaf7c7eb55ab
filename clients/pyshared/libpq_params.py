"""Case -> libpq connection keywords, shared by the libpq-based Python adapters
(psycopg 3, psycopg2). The case fields are libpq's own keywords, so the mapping is
one to one; only fields the loaded libpq knows are offered as features."""

import math

# libpq version (PQlibVersion) that introduced each optional keyword.
KEYWORD_SINCE = {
    "channel_binding": 130000,
    "ssl_min_protocol_version": 130000,
    "ssl_max_protocol_version": 130000,
    "sslsni": 140000,
    "sslnegotiation": 170000,
}


def features_for(libpq_version):
    feats = [k for k, since in KEYWORD_SINCE.items() if libpq_version >= since]
    feats.append("connect_options")
    return sorted(feats)


def keywords(case, timeout_s):
    """libpq keywords for the case. connect_timeout is whole seconds (libpq rounds
    values below 2 up to 2), so the adapter's watchdog enforces timeout_ms too."""
    kw = {}
    for key in ("host", "hostaddr", "port", "user", "password", "dbname", "sslmode",
                "sslrootcert", "application_name") + tuple(KEYWORD_SINCE):
        value = case.get(key)
        if value is not None:
            kw[key] = str(value)
    kw["connect_timeout"] = str(max(1, math.ceil(timeout_s)))
    for key, value in (case.get("connect_options") or {}).items():
        kw[str(key)] = str(value)
    return kw


# --- surfaces (docs/surfaces.md) --------------------------------------------------
# The same keywords as one conninfo string, one URL, PG* variables (libpq's names)
# or keyword arguments, split like the C adapters' kit (clients/adapter-kit/surface.c).
SURFACES = ("conninfo", "url", "env", "options", "url+options", "url+env")
TLS_ENV = {
    "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslnegotiation": "PGSSLNEGOTIATION",
    "channel_binding": "PGCHANNELBINDING", "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION", "sslsni": "PGSSLSNI",
    "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "sslcrl": "PGSSLCRL",
}
NPGSQL_REASON = ("libpq reads keyword=value pairs separated by blanks or a postgresql:// URL; "
                 "it has no parser for the ADO.NET form (Key=Value;...)")


def surface_features():
    return ["surface:%s" % s for s in SURFACES] + ["literal"]


def _is_tls(k):
    return k.startswith("ssl") or k == "channel_binding"


def conninfo_string(kw):
    return " ".join("%s='%s'" % (k, v.replace("\\", "\\\\").replace("'", "\\'"))
                    for k, v in kw.items())


def url_string(kw):
    from urllib.parse import quote
    q = lambda v: quote(v, safe="")  # noqa: E731
    auth = ""
    if "user" in kw:
        auth = q(kw["user"]) + (":" + q(kw["password"]) if "password" in kw else "") + "@"
    host = q(kw.get("host", ""))
    port = ":" + kw["port"] if "port" in kw else ""
    rest = [(k, v) for k, v in kw.items() if k not in ("user", "password", "host", "port", "dbname")]
    query = "&".join("%s=%s" % (q(k), q(v)) for k, v in rest)
    return "postgresql://%s%s%s/%s%s" % (auth, host, port, q(kw.get("dbname", "")),
                                        "?" + query if query else "")


def surface_args(case, timeout_s):
    """(string, keyword arguments) for a case with a surface or a literal; the PG*
    variables of the env surfaces are set in os.environ (the case's environment was
    applied already and is reset before the next case)."""
    import os
    kw = keywords(case, timeout_s)
    if case.get("literal") is not None:
        # A source page's string as written; only the mock's address, port, the
        # password and the timeout come beside it (the string names none of them).
        return case["literal"], {k: kw[k] for k in ("hostaddr", "port", "password",
                                                     "connect_timeout") if k in kw}
    surface = case["surface"]
    in_string, params = {}, {}
    url = surface.startswith("url")
    for k, v in kw.items():
        tls = _is_tls(k)
        if surface in ("conninfo", "url"):
            in_string[k] = v
        elif surface == "options":
            params[k] = v
        elif surface in ("env", "url+env") and tls:
            if k not in TLS_ENV:
                raise ValueError("libpq has no environment variable for %s" % k)
            os.environ[TLS_ENV[k]] = v
        elif surface == "url+options" and tls and k != "sslmode":
            params[k] = v
        elif url:
            in_string[k] = v
        else:
            params[k] = v
    string = (url_string(in_string) if url else conninfo_string(in_string)) if in_string else ""
    return string, params


# --- the certificate chain libpq's OpenSSL saw ------------------------------------
# libpq does not expose the chain; PQsslStruct(conn, "OpenSSL") gives its SSL*, and
# the libssl that libpq uses (the wheel's own, found in /proc/self/maps) answers
# SSL_get0_verified_chain (what was verified) or SSL_get_peer_cert_chain (what the
# server sent, when nothing was verified). Subjects are RFC 2253 strings, as the C
# adapters print them.
_XN_FLAG_RFC2253 = 0x1110317  # XN_FLAG_RFC2253: ASN1_STRFLGS_RFC2253 (0x317) | SEP_COMMA_PLUS (1<<16) | DN_REV (1<<20) | DUMP_UNKNOWN_FIELDS (1<<24)
_ssl_api = {}


def _api(prefer_substring):
    import ctypes
    import pgtls_adapter
    if prefer_substring in _ssl_api:
        return _ssl_api[prefer_substring]
    api = None
    pq_paths = pgtls_adapter.mapped_libraries("libpq", prefer_substring)
    ssl_paths = pgtls_adapter.mapped_libraries("libssl", prefer_substring)
    if pq_paths and ssl_paths:
        pq = ctypes.CDLL(pq_paths[0])
        ssl = ctypes.CDLL(ssl_paths[0])
        vp, ip, cp = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
        for lib, name, res, args in (
                (pq, "PQsslStruct", vp, [vp, cp]),
                (ssl, "SSL_get0_verified_chain", vp, [vp]),
                (ssl, "SSL_get_peer_cert_chain", vp, [vp]),
                (ssl, "OPENSSL_sk_num", ip, [vp]),
                (ssl, "OPENSSL_sk_value", vp, [vp, ip]),
                (ssl, "X509_get_subject_name", vp, [vp]),
                (ssl, "BIO_s_mem", vp, []),
                (ssl, "BIO_new", vp, [vp]),
                (ssl, "BIO_free", ip, [vp]),
                (ssl, "BIO_read", ip, [vp, vp, ip]),
                (ssl, "X509_NAME_print_ex", ip, [vp, vp, ip, ctypes.c_ulong])):
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        api = (pq, ssl)
    _ssl_api[prefer_substring] = api
    return api


def peer_chain(pgconn_ptr, prefer_substring):
    """Subjects of the chain, leaf first, or None when libpq/OpenSSL cannot say."""
    import ctypes
    try:
        api = _api(prefer_substring)
        if api is None or not pgconn_ptr:
            return None
        pq, ssl = api
        sslp = pq.PQsslStruct(pgconn_ptr, b"OpenSSL")
        if not sslp:
            return None
        stack = ssl.SSL_get0_verified_chain(sslp) or ssl.SSL_get_peer_cert_chain(sslp)
        if not stack:
            return None
        out = []
        buf = ctypes.create_string_buffer(4096)
        for i in range(ssl.OPENSSL_sk_num(stack)):
            cert = ssl.OPENSSL_sk_value(stack, i)
            bio = ssl.BIO_new(ssl.BIO_s_mem())
            try:
                ssl.X509_NAME_print_ex(bio, ssl.X509_get_subject_name(cert), 0, _XN_FLAG_RFC2253)
                n = ssl.BIO_read(bio, buf, len(buf))
                out.append(buf.raw[:max(n, 0)].decode("utf-8", "replace"))
            finally:
                ssl.BIO_free(bio)
        return out or None
    except (OSError, AttributeError):
        return None
