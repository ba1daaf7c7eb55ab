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
