#!/usr/bin/env python3
"""Signs in to a PostgreSQL server with a Microsoft Entra ID token from the
real azure-identity SDK (ManagedIdentityCredential, which asks the instance
metadata service; AZURE_POD_IDENTITY_AUTHORITY_HOST, honoured by
azure-identity and MSAL, points it at `pgtls imds`), then connects with
psycopg, the token as the password (docs/entra.md).

usage: sdk_connect.py --port N [--user U] [--client-id ID] [--mode M]
                      [--connections K] [--sleep S] [--require-auth X]
modes:
  factory  a connection factory asks the credential for a token at every
           connect (Azure's documented pattern for pools): survives expiry
  static   one token fetched at start-up is the password of every connect
           (what a pool configured with a fixed password does)
Prints one JSON line per connection attempt and exits 0 when every attempt
ran (whatever its outcome), 2 on a usage error."""
import argparse
import json
import sys
import time

import psycopg
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ManagedIdentityCredential

SCOPE = "https://ossrdbms-aad.database.windows.net/.default"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", default="pgtls-vm")
    ap.add_argument("--dbname", default="postgres")
    ap.add_argument("--client-id")
    ap.add_argument("--mode", choices=["factory", "static"], default="factory")
    ap.add_argument("--connections", type=int, default=1)
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--require-auth")
    a = ap.parse_args()

    cred = ManagedIdentityCredential(client_id=a.client_id) if a.client_id else ManagedIdentityCredential()
    base = dict(host=a.host, port=a.port, user=a.user, dbname=a.dbname, sslmode="require",
                connect_timeout=10)
    if a.require_auth:
        base["require_auth"] = a.require_auth

    class EntraConnection(psycopg.Connection):
        """psycopg connection factory: a fresh token as the password of
        every new connection (the credential caches it until near expiry)."""

        @classmethod
        def connect(cls, conninfo="", **kwargs):
            kwargs["password"] = cred.get_token(SCOPE).token
            return super().connect(conninfo, **kwargs)

    static_token = None
    for i in range(a.connections):
        if i:
            time.sleep(a.sleep)
        row = {"attempt": i + 1, "mode": a.mode}
        try:
            if a.mode == "factory":
                conn = EntraConnection.connect(**base)
            else:
                if static_token is None:
                    static_token = cred.get_token(SCOPE).token
                conn = psycopg.connect(password=static_token, **base)
            with conn:
                row["current_user"] = conn.execute("select current_user").fetchone()[0]
            row["ok"] = True
        except ClientAuthenticationError as e:
            row.update(ok=False, stage="token", error=str(e).splitlines()[0])
        except psycopg.OperationalError as e:
            row.update(ok=False, stage="connect", error=" ".join(str(e).split()))
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
