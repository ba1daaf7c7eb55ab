#!/usr/bin/env python3
"""Regenerates the seed corpora of the fuzz targets other than `mock`
(fuzz/make_mock_corpus.py makes that one) from files the tree ships and the
traffic its tests produce: suites and deviation files, the CA catalogue,
adapter manifests, case lines (docs/case-protocol.md), psql and s_client
output captured against `pgtls mock`, chains and PEM stores from
`pgtls ca gen`, the golden matrix. Seeds stay small (committed).

    fuzz/make_corpus.py BUILD_DIR        (e.g. build)
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
C = os.path.join(TOP, "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(C, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(os.path.join(TOP, path), "rb") as f:
        return f.read()


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    pgtls = os.path.join(build, "cli", "pgtls")
    for t in ("suite", "catalogue", "case-protocol", "manifest", "client-output", "pem", "matrix",
              "store", "imds-http", "jwt"):
        d = os.path.join(C, t)  # regress-* files are past findings: kept
        for f in os.listdir(d) if os.path.isdir(d) else []:
            if not f.startswith("regress-"):
                os.unlink(os.path.join(d, f))
    # suite: first byte 0 = suite parser, 1 = deviation parser
    put("suite", "default", b"\0" + read("suites/default.suite"))
    put("suite", "small", b"\0" + read("runner/tests/small.suite"))
    put("suite", "field-cases", b"\0" + read("suites/field-cases.suite"))
    for f in sorted(os.listdir(os.path.join(TOP, "suites", "deviations")))[:3]:
        put("suite", "dev-" + f, b"\1" + read("suites/deviations/" + f))
    # catalogue: 0 = DN, 1 = date, 2 = catalogue
    put("catalogue", "dn", b"\0C=US, O=Microsoft Corporation, CN=Microsoft TLS G2 RSA CA OCSP 02")
    put("catalogue", "dn-escaped", b"\0CN=a\\, b+OU=x, O=\"quoted\"")
    put("catalogue", "when", b"\1now-30d")
    put("catalogue", "when-abs", b"\x012030-01-01T00:00:00Z")
    put("catalogue", "catalogue", b"\2" + read("certs-gen/catalogue.ini"))
    # manifests
    for n in ("libpq", "psycopg", "pgjdbc", "pgx"):
        p = os.path.join("clients", n, "adapter.json")
        if os.path.exists(os.path.join(TOP, p)):
            put("manifest", n, read(p))
    # case lines
    base = {"id": "azure-new/root-g2/verify-full",
            "host": "mydemoserver.postgres.database.azure.com", "hostaddr": "127.0.0.1",
            "port": 40123, "sslmode": "verify-full", "sslrootcert": "/abs/stores/root-g2.pem",
            "truststore_p12": "/abs/stores/root-g2.p12", "truststore_password": "changeit",
            "user": "pgtls", "password": "pgtls-secret", "dbname": "postgres",
            "query": "SELECT ssl_is_used()", "timeout_ms": 5000,
            "env": {"HOME": "/tmp/pgtls-run/home-17", "SSL_CERT_FILE": "/abs/stores/system.pem"},
            "sslnegotiation": "postgres", "channel_binding": None,
            "ssl_min_protocol_version": None, "ssl_max_protocol_version": None, "sslsni": None,
            "application_name": "pgtls"}
    put("case-protocol", "full", json.dumps(base))
    opts = dict(base, sslmode="require", sslrootcert="system", sslnegotiation="direct",
                channel_binding="require", ssl_min_protocol_version="TLSv1.2",
                connect_options={"sslcompression": 0, "keepalives": True, "options": "-c x=1"})
    put("case-protocol", "options", json.dumps(opts))
    put("case-protocol", "minimal", json.dumps({"id": "x", "port": 1}))
    # pem: chains and stores from a ca gen
    tmp = tempfile.mkdtemp(prefix="pgtls-corpus-")
    try:
        subprocess.run([pgtls, "ca", "gen", "--out", tmp + "/fx"], check=True,
                       stdout=subprocess.DEVNULL)
        put("pem", "chain-azure-new", open(tmp + "/fx/chains/azure-new-02.pem", "rb").read())
        put("pem", "store-pinned-leaf", open(tmp + "/fx/stores/pinned-leaf.pem", "rb").read())
        put("pem", "empty", b"")
        put("pem", "garbage-between", b"junk\n" + open(tmp + "/fx/stores/pinned-ica03.pem",
                                                         "rb").read() + b"\ntrailing")
        # store: every format ca_store_read knows; first byte 1 = password "changeit"
        fx = tmp + "/fx"
        one = fx + "/stores/pinned-leaf.pem"
        put("store", "pem-bundle", b"\0" + open(fx + "/stores/azure-bundle.pem", "rb").read())
        der = subprocess.run(["openssl", "x509", "-in", one, "-outform", "DER"],
                             capture_output=True, check=True).stdout
        put("store", "der", b"\0" + der)
        p7 = subprocess.run(["openssl", "crl2pkcs7", "-nocrl", "-certfile", one],
                            capture_output=True, check=True).stdout
        put("store", "pkcs7-pem", b"\0" + p7)
        p7d = subprocess.run(["openssl", "pkcs7", "-outform", "DER"], input=p7,
                             capture_output=True, check=True).stdout
        put("store", "pkcs7-der", b"\0" + p7d)
        p12 = subprocess.run(["openssl", "pkcs12", "-export", "-nokeys", "-in", one,
                              "-passout", "pass:changeit"], capture_output=True, check=True).stdout
        put("store", "pkcs12", b"\1" + p12)
        if shutil.which("keytool"):
            jks = tmp + "/s.jks"
            subprocess.run(["keytool", "-importcert", "-noprompt", "-storetype", "JKS",
                            "-keystore", jks, "-storepass", "changeit", "-alias", "leaf",
                            "-file", one], capture_output=True, check=True)
            put("store", "jks", b"\1" + open(jks, "rb").read())
        # client output: real psql and s_client against the mock
        out = open(tmp + "/mock.out", "w")
        mock = subprocess.Popen([pgtls, "mock", "--fixtures", tmp + "/fx", "--scenario",
                                 "azure-new", "--port", "0", "--set", "auth=trust"],
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            port = None
            for _ in range(100):
                txt = open(tmp + "/mock.out").read()
                if "port=" in txt:
                    port = txt.split("port=")[1].split()[0]
                    break
                time.sleep(0.05)
            env = dict(os.environ, PGSSLMODE="require", PGCONNECT_TIMEOUT="5")
            r = subprocess.run(["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", port,
                                "-U", "pgtls", "-d", "postgres", "-c", "\\conninfo",
                                "-c", "SELECT 'pgtls-adapter-null\x1e'", "-c", "SELECT ssl_is_used()"],
                               capture_output=True, env=env, timeout=20)
            put("client-output", "psql", r.stdout + b"\0" + r.stderr)
            r = subprocess.run(["psql", "--version"], capture_output=True)
            put("client-output", "psql-version", r.stdout + b"\0")
            r = subprocess.run(["openssl", "s_client", "-starttls", "postgres", "-connect",
                                f"127.0.0.1:{port}", "-showcerts", "-CAfile",
                                tmp + "/fx/stores/root-g2.pem", "-verify_return_error"],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
            put("client-output", "s_client-ok", r.stdout + b"\0" + r.stderr)
            r = subprocess.run(["openssl", "s_client", "-starttls", "postgres", "-connect",
                                f"127.0.0.1:{port}", "-CAfile",
                                tmp + "/fx/stores/wrong-root.pem", "-verify_return_error"],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
            put("client-output", "s_client-untrusted", r.stdout + b"\0" + r.stderr)
            r = subprocess.run(["openssl", "version"], capture_output=True)
            put("client-output", "openssl-version", r.stdout + b"\0")
        finally:
            mock.terminate()
            mock.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # imds-http: what managed-identity clients send to 169.254.169.254
    res = "https%3A%2F%2Fossrdbms-aad.database.windows.net"
    put("imds-http", "token", "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource="
        + res + " HTTP/1.1\r\nMetadata: true\r\nHost: 169.254.169.254\r\n\r\n")
    put("imds-http", "token-client-id-pipelined",
        "GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2019-08-01&resource="
        + res + "&client_id=00000000-0000-0000-0000-000000000001 HTTP/1.1\r\nmetadata: true\r\n"
        "Connection: keep-alive\r\n\r\nHEAD /metadata/instance?api-version=2021-02-01 HTTP/1.0\r\n\r\n")
    # jwt: 0 + a token (its signature does not verify); 1 + claims to sign
    import base64

    def b64(o):
        return base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=")
    tid = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    claims = {"aud": "https://ossrdbms-aad.database.windows.net",
              "iss": "https://sts.windows.net/%s/" % tid, "iat": 1799990000, "nbf": 1799990000,
              "exp": 1800003600, "oid": "11111111-2222-3333-4444-555555555555", "tid": tid,
              "appid": "00000000-0000-0000-0000-000000000001", "sub": "s",
              "xms_mirid": "/subscriptions/x/resourcegroups/y/providers/"
                           "Microsoft.ManagedIdentity/userAssignedIdentities/pgtls"}
    put("jwt", "token", b"\0" + b64({"alg": "RS256", "kid": "pgtls-test-kid", "typ": "JWT"}) + b"."
        + b64(claims) + b"." + base64.urlsafe_b64encode(b"\1" * 128).rstrip(b"="))
    put("jwt", "alg-none", b"\0" + b64({"alg": "none"}) + b"." + b64(claims) + b".")
    put("jwt", "claims", b"\1" + json.dumps(claims).encode())
    put("jwt", "claims-expired", b"\1" + json.dumps(dict(claims, exp=1700000000)).encode())
    put("matrix", "golden", read("results/tests/golden/matrix.json"))
    put("matrix", "minimal", json.dumps({"schema": "pgtls-matrix/1", "run": {}, "clients": [],
                                         "cases": []}))
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(C) for f in fs)
    print(f"fuzz corpora written under {C} ({total // 1024} KiB in all)")


if __name__ == "__main__":
    main()
