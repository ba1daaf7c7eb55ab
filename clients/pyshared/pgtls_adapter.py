"""Shared loop of the Python adapters: the case protocol v1 (docs/case-protocol.md).

A driver module supplies a Driver object:
  name            adapter/client name (folder under clients/)
  hello()         -> dict with version, libpq, tls_library, runtime, build, features
  connect(case, timeout_s) -> dict of result fields (connected, tls, tls_version,
                  cipher, query_result, error, error_code, chain, notes); it may raise
                  Unsupported(reason) before connecting.

This module does everything that is the same for every driver: the hello line, batch
mode over stdin (one result per case, flushed), one-shot mode from flags, --describe,
per-case environment isolation, the host->hostaddr mapping for drivers that have no
hostaddr option, a watchdog for timeout_ms, and never exiting on a bad case.
"""

import ipaddress
import json
import os
import platform
import socket
import sys
import threading
import time

PROTOCOL = 1

# Fields a case may set that not every client can honour (case-protocol.md).
OPTIONAL_FIELDS = ("sslnegotiation", "channel_binding", "ssl_min_protocol_version",
                   "ssl_max_protocol_version", "sslsni", "connect_options", "entra")

# Variables removed before every case, then the case's own env is applied.
_ISOLATED_PREFIXES = ("PG",)
_ISOLATED_NAMES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS")

_INT_FIELDS = ("port", "timeout_ms")


class Unsupported(Exception):
    """The driver cannot express this case; the reason goes to result.unsupported."""


def runtime_label():
    return "%s %s" % (platform.python_implementation(), platform.python_version())


def as_text(value):
    """First column of the first row, as PostgreSQL's text output would show it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def mapped_libraries(prefix, prefer_substring=None):
    """Paths of shared objects whose file name starts with prefix that are mapped
    into this process (/proc/self/maps), the ones containing prefer_substring first."""
    paths = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                parts = line.split(None, 5)
                if len(parts) == 6:
                    path = parts[5].strip()
                    if os.path.basename(path).startswith(prefix) and path not in paths:
                        paths.append(path)
    except OSError:
        return []
    if prefer_substring:
        paths.sort(key=lambda p: prefer_substring not in p)
    return paths


def loaded_openssldir(prefer_substring=None):
    """OPENSSLDIR of the mapped libssl ("OPENSSLDIR: \"/path\"" from OpenSSL_version(4)):
    where sslrootcert=system looks for roots unless SSL_CERT_FILE/SSL_CERT_DIR say
    otherwise. Wheels built elsewhere carry their build machine's path here."""
    import ctypes
    for path in mapped_libraries("libssl", prefer_substring):
        try:
            fn = ctypes.CDLL(path).OpenSSL_version
            fn.restype = ctypes.c_char_p
            fn.argtypes = [ctypes.c_int]
            text = fn(4).decode()
            return text.split(":", 1)[1].strip().strip('"') if ":" in text else text
        except (OSError, AttributeError):
            continue
    return None


def loaded_openssl(prefer_substring=None):
    """Version string of the libssl mapped into this process (read from
    /proc/self/maps, then asked through OpenSSL_version(OPENSSL_VERSION)).

    A wheel that bundles its own libssl (psycopg-binary, psycopg2-binary) maps it from
    its .libs folder; prefer_substring picks that one when several are mapped.
    Returns None when no libssl is mapped or it cannot be asked."""
    import ctypes
    for path in mapped_libraries("libssl", prefer_substring):
        try:
            lib = ctypes.CDLL(path)
            # libssl 1.1+ re-exports nothing of libcrypto's; OpenSSL_version lives in
            # libcrypto, which libssl depends on, so dlsym through libssl finds it.
            fn = lib.OpenSSL_version
            fn.restype = ctypes.c_char_p
            fn.argtypes = [ctypes.c_int]
            return fn(0).decode()
        except (OSError, AttributeError):
            continue
    return None


_SHORT_NAMES = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
                "countryName": "C", "stateOrProvinceName": "ST", "localityName": "L",
                "streetAddress": "STREET", "domainComponent": "DC", "userId": "UID"}


def _rfc2253(subject):
    """ssl's subject tuple (certificate order) -> RFC 2253, most specific RDN first."""
    rdns = []
    for rdn in subject:
        parts = []
        for name, value in rdn:
            value = "".join("\\" + ch if ch in ',+"\\<>;' else ch for ch in str(value))
            parts.append("%s=%s" % (_SHORT_NAMES.get(name, name), value))
        rdns.append("+".join(parts))
    return ",".join(reversed(rdns))


def python_ssl_chain(ssl_object):
    """Subjects of the chain Python's ssl module verified (else the one the server
    sent), leaf first, or None. Uses _ssl's get_verified_chain/get_unverified_chain
    (present since CPython 3.10, public on SSLObject only from 3.13)."""
    inner = getattr(ssl_object, "_sslobj", None) or ssl_object
    try:
        chain = None
        for name in ("get_verified_chain", "get_unverified_chain"):
            fn = getattr(inner, name, None)
            if fn is not None:
                chain = fn()
                if chain:
                    break
        if not chain:
            return None
        return [_rfc2253(c.get_info().get("subject", ())) for c in chain
                if hasattr(c, "get_info")] or None
    except Exception:  # diagnostics only: never fail a case over them
        return None


# --- host -> hostaddr mapping ---------------------------------------------------
# libpq's hostaddr connects to an address while host names the server for TLS (SNI,
# host name check). Drivers without hostaddr resolve `host` themselves; the adapter
# then answers their name lookup for `host` with `hostaddr`, the way an /etc/hosts
# entry would, so the driver's own TLS code runs unchanged on the real name.
_host_map = {}
_real_getaddrinfo = socket.getaddrinfo


def _mapped_getaddrinfo(host, *args, **kwargs):
    if isinstance(host, bytes):
        key = host.decode("ascii", "replace")
    else:
        key = host
    target = _host_map.get(key)
    return _real_getaddrinfo(target if target else host, *args, **kwargs)


def map_host(host, hostaddr):
    """Make socket.getaddrinfo(host) resolve to hostaddr for this case only."""
    _host_map.clear()
    if host and hostaddr and host != hostaddr:
        _host_map[host] = hostaddr
    socket.getaddrinfo = _mapped_getaddrinfo


def is_ip(text):
    try:
        ipaddress.ip_address(text)
        return True
    except (ValueError, TypeError):
        return False


# --- environment ----------------------------------------------------------------
_base_env = None


def apply_env(case_env):
    """Reset os.environ to the adapter's start-up environment minus PG* and the
    trust-store variables, then set the case's variables (HOME included).
    os.environ writes through to the C environment, so libpq (getenv) sees it."""
    global _base_env
    if _base_env is None:
        _base_env = dict(os.environ)
    os.environ.clear()
    for key, value in _base_env.items():
        if key.startswith(_ISOLATED_PREFIXES) or key in _ISOLATED_NAMES:
            continue
        os.environ[key] = value
    for key, value in (case_env or {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[str(key)] = str(value)


# --- results --------------------------------------------------------------------
def blank_result(case_id):
    return {"id": case_id, "connected": False, "tls": None, "tls_version": None,
            "cipher": None, "query_result": None, "error": None, "error_code": None,
            "elapsed_ms": 0, "chain": None, "unsupported": None, "notes": None}


def error_text(exc):
    text = str(exc).strip()
    if not text:
        text = type(exc).__name__
    return text


def error_code(exc):
    for attr in ("sqlstate", "pgcode"):
        code = getattr(exc, attr, None)
        if isinstance(code, str) and code:
            return code
    return "%s.%s" % (type(exc).__module__, type(exc).__qualname__)


def run_case(driver, case, features):
    result = blank_result(case.get("id") if isinstance(case, dict) else None)
    start = time.monotonic()
    try:
        if not isinstance(case, dict):
            raise ValueError("case is not a JSON object")
        for field in OPTIONAL_FIELDS:
            if case.get(field) is not None and field not in features:
                raise Unsupported("%s: the adapter cannot set %s for this driver"
                                  % (driver.name, field))
        # docs/surfaces.md: a surface (or a source page's string) the adapter does
        # not list is never emulated.
        for need in (("surface:%s" % case["surface"]) if case.get("surface") else None,
                     "literal" if case.get("literal") else None):
            if need and need not in features:
                reason = getattr(driver, "surface_reason", lambda n: None)(need)
                raise Unsupported(reason or "%s: the adapter cannot express \"%s\""
                                  % (driver.name, need))
        for field in _INT_FIELDS:
            if case.get(field) is not None and not isinstance(case.get(field), int):
                raise ValueError("%s must be an integer" % field)
        timeout_ms = case.get("timeout_ms") or 10000
        apply_env(case.get("env"))
        map_host(case.get("host"), case.get("hostaddr"))
        box = {}

        def attempt():
            try:
                box["fields"] = driver.connect(case, timeout_ms / 1000.0)
            except Unsupported as exc:
                box["unsupported"] = str(exc)
            except BaseException as exc:  # the driver's error is the finding
                box["exc"] = exc

        worker = threading.Thread(target=attempt, daemon=True)
        worker.start()
        worker.join(timeout_ms / 1000.0 + 1.0)
        if worker.is_alive():
            result["error"] = "adapter: timeout: no answer from the driver within %d ms" % timeout_ms
            result["error_code"] = "timeout"
        elif "unsupported" in box:
            result["unsupported"] = box["unsupported"]
        elif "exc" in box:
            result["error"] = error_text(box["exc"])
            result["error_code"] = error_code(box["exc"])
        else:
            result.update(box.get("fields") or {})
    except Unsupported as exc:
        result["unsupported"] = str(exc)
    except Exception as exc:  # a bad case never stops the adapter
        result["error"] = "adapter: bad case: %s" % error_text(exc)
        result["error_code"] = "adapter"
    result["elapsed_ms"] = int((time.monotonic() - start) * 1000)
    result["id"] = case.get("id") if isinstance(case, dict) else None
    return result


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def hello_line(driver):
    info = {"protocol": PROTOCOL, "client": driver.name}
    try:
        info.update(driver.hello())
    except Exception as exc:  # report rather than die: the runner shows it
        info.setdefault("version", None)
        info["error"] = "adapter: cannot describe driver: %s" % error_text(exc)
    info.setdefault("runtime", runtime_label())
    info.setdefault("features", [])
    return info


def parse_flags(argv):
    """One-shot flags: --FIELD VALUE for each case field; --env NAME=VALUE repeats;
    'null' stands for JSON null; integers for port/timeout_ms; --connect_options and
    --entra take JSON."""
    case = {"env": {}}
    i = 0
    while i < len(argv):
        flag = argv[i]
        if not flag.startswith("--") or i + 1 >= len(argv):
            raise ValueError("expected --FIELD VALUE, got %r" % flag)
        name, value = flag[2:].replace("-", "_"), argv[i + 1]
        i += 2
        if name == "env":
            key, sep, val = value.partition("=")
            if not sep:
                raise ValueError("--env wants NAME=VALUE, got %r" % value)
            case["env"][key] = val
        elif value == "null":
            case[name] = None
        elif name in _INT_FIELDS:
            case[name] = int(value)
        elif name in ("connect_options", "entra"):
            case[name] = json.loads(value)
        else:
            case[name] = value
    case.setdefault("id", "one-shot")
    return case


def main(driver, argv=None):
    argv = sys.argv[1:] if argv is None else argv
    hello = hello_line(driver)
    features = set(hello.get("features") or [])
    if argv[:1] == ["--describe"]:
        emit(hello)
        return 0
    emit(hello)
    if argv:
        try:
            case = parse_flags(argv)
        except (ValueError, json.JSONDecodeError) as exc:
            emit({"id": None, "connected": False,
                  "error": "adapter: bad flags: %s" % error_text(exc), "error_code": "adapter"})
            return 2
        emit(run_case(driver, case, features))
        return 0
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            case = json.loads(line)
        except ValueError as exc:
            emit({"id": None, "connected": False, "tls": None, "query_result": None,
                  "error": "adapter: cannot parse case: %s" % exc, "error_code": "adapter",
                  "elapsed_ms": 0, "unsupported": None})
            continue
        emit(run_case(driver, case, features))
    return 0
