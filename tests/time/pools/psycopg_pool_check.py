"""psycopg_pool (libpq-based: psycopg 3's bundled libpq) across a live chain
rotation of the mock.

usage: psycopg_pool_check.py CONNINFO

CONNINFO is a libpq connection string (host=NAME hostaddr=127.0.0.1 port=...
sslmode=verify-full sslrootcert=...). The mock rotates after 2 connections:
the pool's first two connections carry the old chain, any later one the new
chain. Prints one JSON line with what the pool did, in the same shape as the
other drivers' pool checks (docs/rotation-in-time.md, "Pools across a
rotation"). A new connection that fails is retried by the pool in the
background; the caller's getconn() gives up after 5 s with PoolTimeout, and
the TLS error the pool met is reported under connect_errors.
"""
import json
import logging
import sys
import threading

import psycopg
from psycopg_pool import ConnectionPool, __version__ as pool_version

TIMEOUT_S = 5.0


class Collect(logging.Handler):
    """psycopg_pool logs each failed connection attempt ("error connecting
    in 'pool-1': ..."); keep them so the row can say why new ones failed."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        msg = record.getMessage()
        if msg.startswith("error connecting"):
            self.lines.append(msg)


def use(pool, n):
    """Acquires n connections at once (idle ones first, the rest new), runs a
    query on each; returns (connections, queries that worked, errors)."""
    got, errors, lock = [], [], threading.Lock()

    def one():
        try:
            c = pool.getconn(timeout=TIMEOUT_S)
        except Exception as e:  # PoolTimeout and whatever the pool raises
            with lock:
                errors.append("%s: %s" % (type(e).__name__, e))
            return
        with lock:
            got.append(c)

    ts = [threading.Thread(target=one) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    ok = 0
    for c in got:
        try:
            c.execute("select 1").fetchone()
            ok += 1
        except Exception as e:
            errors.append("%s: %s" % (type(e).__name__, e))
    return got, ok, errors


def main():
    if len(sys.argv) != 2:
        print(json.dumps({"error": "usage: psycopg_pool_check.py CONNINFO"}))
        return 2
    logs = Collect()
    logging.getLogger("psycopg.pool").addHandler(logs)
    out = {"client": "psycopg_pool", "psycopg_pool": pool_version, "psycopg": psycopg.__version__,
           "libpq": psycopg.pq.version()}
    # min_size=0: connections are made on demand, as the other pools here do;
    # reconnect_timeout bounds the background retries of a failing new one.
    pool = ConnectionPool(sys.argv[1], min_size=0, max_size=4, open=True, timeout=TIMEOUT_S,
                          reconnect_timeout=30, name="pgtls-rotation")
    try:
        first, out["before"], _ = use(pool, 2)  # the two old-chain connections
        for c in first:
            pool.putconn(c)
        again, out["reused_ok"], _ = use(pool, 2)  # reused: still the old chain
        more, out["new_ok"], out["new_errors"] = use(pool, 2)  # two held: two new ones
        for c in again + more:
            pool.putconn(c)
        after, out["after_ok"], _ = use(pool, 2)  # does the pool still serve?
        for c in after:
            pool.putconn(c)
        out["total_connections"] = pool.get_stats().get("pool_size", -1)
        out["connect_errors"] = sorted(set(logs.lines))[:4]
    finally:
        pool.close(timeout=5)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # one JSON line, never a traceback only
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
        sys.exit(1)
