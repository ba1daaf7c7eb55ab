#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/targets/mock.c into fuzz/corpus/mock (the recipe
of the committed files; rerun after changing the entry point's modes)."""
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "mock")
os.makedirs(out, exist_ok=True)


def startup(params, version=196608):
    body = struct.pack("!I", version)
    for k, v in params:
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def msg(t, body=b""):
    return t.encode() + struct.pack("!I", len(body) + 4) + body


def cstr(s):
    return s.encode() + b"\0"


user = [("user", "pgtls"), ("database", "postgres"), ("application_name", "fuzz")]
seeds = {
    "session-trust-simple": b"\0" + startup(user) + msg("Q", cstr("SELECT 1; SHOW TimeZone; SET application_name = 'x'")) + msg("X"),
    "session-trust-extended": b"\0" + startup(user)
    + msg("P", cstr("s") + cstr("SELECT ssl_is_used(), 1") + b"\0\0")
    + msg("B", cstr("") + cstr("s") + b"\0\0\0\0\0\1\0\1") + msg("D", b"P" + cstr(""))
    + msg("E", cstr("") + b"\0\0\0\0") + msg("S") + msg("C", b"S" + cstr("s")) + msg("H") + msg("S"),
    "session-gss-ssl": b"\0" + struct.pack("!II", 8, 80877104) + struct.pack("!II", 8, 80877103) + startup(user),
    "session-password": b"\1" + startup(user) + msg("p", cstr("pw")) + msg("Q", cstr("BEGIN; SELECT x; COMMIT")),
    "session-md5": b"\2" + startup(user) + msg("p", cstr("md5" + "0" * 32)),
    "session-scram": b"\3" + startup(user) + msg("p", cstr("SCRAM-SHA-256") + struct.pack("!i", 18) + b"n,,n=,r=abcdefghij"),
    "session-pq-options": b"\0" + startup(user + [("_pq_.x", "1"), ("options", "-c search_path=a")], 196610),
    "session-cancel": b"\0" + struct.pack("!IIII", 16, 80877102, 1, 2),
    "startup-layout": b"\4" + struct.pack("!I", 196608) + b"user\0u\0database",
    "frontend-bind": b"\5" + cstr("") + cstr("s") + b"\0\1\0\1\0\1\0\0\0\2ab\0\1\0\1",
    "scram-exchange": b"\6" + b"n,,n=,r=clientnonce\nc=biws,r=clientnoncesrvnonce,p=AAAA",
    "scram-plus": b"\7"[0:0] + b"\x0e" + b"p=tls-server-end-point,,n=,r=x\nc=cD10bHMtc2VydmVyLWVuZC1wb2ludCws,r=xsrvnonce,p=" + b"A" * 44,
    "query-seed": b"\7" + b'SELECT datname as "Database name", usename as "User name", ssl, client_addr, application_name, backend_type FROM pg_stat_ssl JOIN pg_stat_activity ON pg_stat_ssl.pid = pg_stat_activity.pid ORDER BY ssl;',
    "query-misc": b"\7" + b"select current_setting('TimeZone'::text), 'it''s', $1, /* c */ \"q\"\"x\" -- end",
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print("wrote %d seeds to %s" % (len(seeds), out))
