#!/usr/bin/env python3
"""Makes the certificate files of PostgreSQL's src/test/ssl client-side tests.

A recipe of our own (openssl command line, argv lists, no shell) for the files
that PostgreSQL's src/test/ssl/sslfiles.mk describes and its 001_ssltests.pl
client-side cases use, with the same names, subjects and extensions:

  root_ca            self-signed, CN "Test root CA for PostgreSQL SSL regression test suite"
  server_ca          issued by root_ca, CN "Test CA for PostgreSQL SSL regression test server certs"
  client_ca          issued by root_ca, CN "Test CA for PostgreSQL SSL regression test client certs"
  server-cn-only             CN common-name.pg-ssltest.test
  server-cn-and-alt-names    CN common-name.pg-ssltest.test, DNS dns1/dns2.alt-name.pg-ssltest.test
  server-multiple-alt-names  no CN; DNS dns1/dns2.alt-name.pg-ssltest.test, *.wildcard.pg-ssltest.test
  server-single-alt-name     no CN; DNS single.alt-name.pg-ssltest.test
  server-no-names            OU only, no CN, no SAN
  server-revoked             CN common-name.pg-ssltest.test, revoked by server_ca
  client                     CN ssltestuser, issued by client_ca; its key also as
                             client-der.key (DER), client-encrypted-pem.key (AES-256,
                             passphrase dUmmyP^#+) and client-encrypted-der.key
                             (plain DER: what sslfiles.mk's `openssl rsa -outform DER
                             -aes128` gave under OpenSSL 1.1, which ignores the cipher)
  client-revoked             CN ssltestuser-revoked, revoked by client_ca
and the bundles root+server_ca.crt, root+client_ca.crt, both-cas-1.crt
(root, server_ca, client_ca), both-cas-2.crt (root, client_ca, server_ca),
client+client_ca.crt, the CRLs root.crl, server.crl, client.crl,
root+server.crl and root+client.crl (root's then the intermediate's, as OpenSSL
wants a CRL for every CA of the chain), and the CRL directories
root+server-crldir/, root+client-crldir/ and client-crldir/ (files <hash>.r0).

Every leaf has a 2048-bit RSA key and SHA-256 signatures; CAs sign with
`openssl ca` (copy_extensions = copy, so the SANs come from the request), valid
10000 days from now. Keys are 0600. Usage: make_sslfiles.py OUTDIR
(writes OUTDIR/ssl/...). About 2 s.
"""
import os
import subprocess
import sys

SERVER_LEAVES = {
    "server-cn-only": ("CN = common-name.pg-ssltest.test\nOU = PostgreSQL test suite", []),
    "server-cn-and-alt-names": (
        "CN = common-name.pg-ssltest.test\nOU = PostgreSQL test suite",
        ["dns1.alt-name.pg-ssltest.test", "dns2.alt-name.pg-ssltest.test"]),
    "server-multiple-alt-names": (
        "OU = PostgreSQL test suite",
        ["dns1.alt-name.pg-ssltest.test", "dns2.alt-name.pg-ssltest.test",
         "*.wildcard.pg-ssltest.test"]),
    "server-single-alt-name": ("OU = PostgreSQL test suite", ["single.alt-name.pg-ssltest.test"]),
    "server-no-names": ("OU = PostgreSQL test suite", []),
    "server-revoked": ("CN = common-name.pg-ssltest.test\nOU = PostgreSQL test suite", []),
}
CAS = {
    "root_ca": "Test root CA for PostgreSQL SSL regression test suite",
    "server_ca": "Test CA for PostgreSQL SSL regression test server certs",
    "client_ca": "Test CA for PostgreSQL SSL regression test client certs",
}


def openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("make_sslfiles: openssl %s failed: %s" % (" ".join(args[:2]), r.stderr.strip()))
    return r.stdout


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def req_config(path, dn, sans, ca=False):
    text = "[ req ]\ndistinguished_name = dn\nprompt = no\n"
    ext = []
    if ca:
        ext.append("basicConstraints = CA:true")
    if sans:
        ext.append("subjectAltName = " + ",".join("DNS:" + s for s in sans))
    if ext:
        text += "req_extensions = v3_req\n"
    text += "[ dn ]\n" + dn + "\n"
    if ext:
        text += "[ v3_req ]\n" + "\n".join(ext) + "\n"
    write(path, text)


def ca_config(d, name):
    os.makedirs(os.path.join(d, "newcerts-" + name), exist_ok=True)
    write(os.path.join(d, name + "-index.txt"), "")
    write(os.path.join(d, name + ".srl"), os.urandom(8).hex().upper() + "\n")
    write(os.path.join(d, name + "-crlnumber"), "1000\n")
    write(os.path.join(d, name + ".cnf"), f"""[ ca ]
default_ca = this_ca
[ this_ca ]
database = {name}-index.txt
serial = {name}.srl
crlnumber = {name}-crlnumber
certificate = {name}.crt
private_key = {name}.key
new_certs_dir = newcerts-{name}
default_md = sha256
default_days = 10000
default_crl_days = 10000
policy = any
email_in_dn = no
copy_extensions = copy
unique_subject = no
[ any ]
countryName = optional
stateOrProvinceName = optional
organizationName = optional
organizationalUnitName = optional
commonName = optional
emailAddress = optional
""")


def new_key(d, name):
    openssl("genrsa", "-out", name + ".key", "2048", cwd=d)
    os.chmod(os.path.join(d, name + ".key"), 0o600)


def csr(d, name, dn, sans, ca=False):
    req_config(os.path.join(d, name + ".req.cnf"), dn, sans, ca)
    openssl("req", "-new", "-utf8", "-key", name + ".key", "-out", name + ".csr",
            "-config", name + ".req.cnf", cwd=d)


def sign(d, ca, name):
    openssl("ca", "-batch", "-notext", "-config", ca + ".cnf", "-in", name + ".csr",
            "-out", name + ".crt", cwd=d)


def crl_hash(d, crl):
    return openssl("crl", "-hash", "-noout", "-in", crl, cwd=d).strip()


def cat(d, out, parts):
    write(os.path.join(d, out), "".join(open(os.path.join(d, p)).read() for p in parts))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_sslfiles.py OUTDIR")
    d = os.path.join(os.path.abspath(sys.argv[1]), "ssl")
    os.makedirs(d, exist_ok=True)
    # root_ca: self-signed.
    new_key(d, "root_ca")
    req_config(os.path.join(d, "root_ca.req.cnf"), "CN = " + CAS["root_ca"], [], ca=True)
    openssl("req", "-x509", "-new", "-key", "root_ca.key", "-days", "10000", "-sha256",
            "-config", "root_ca.req.cnf", "-extensions", "v3_req", "-out", "root_ca.crt", cwd=d)
    ca_config(d, "root_ca")
    for ca in ("server_ca", "client_ca"):
        new_key(d, ca)
        csr(d, ca, "CN = " + CAS[ca], [], ca=True)
        sign(d, "root_ca", ca)
        ca_config(d, ca)
    for leaf, (dn, sans) in SERVER_LEAVES.items():
        new_key(d, leaf)
        csr(d, leaf, dn, sans)
        sign(d, "server_ca", leaf)
    new_key(d, "client")
    csr(d, "client", "CN = ssltestuser", [])
    sign(d, "client_ca", "client")
    openssl("rsa", "-in", "client.key", "-outform", "DER", "-out", "client-der.key", cwd=d)
    openssl("pkey", "-in", "client.key", "-aes256", "-passout", "pass:dUmmyP^#+",
            "-out", "client-encrypted-pem.key", cwd=d)
    # sslfiles.mk runs `openssl rsa -outform DER -aes128` here; OpenSSL 1.1
    # ignores the cipher for DER output (the committed file is plain DER),
    # OpenSSL 3 writes an encrypted PKCS#8 that libpq cannot load from DER.
    # Write what the committed file is.
    openssl("rsa", "-in", "client.key", "-outform", "DER", "-out", "client-encrypted-der.key",
            cwd=d)
    for k in ("client-der.key", "client-encrypted-pem.key", "client-encrypted-der.key"):
        os.chmod(os.path.join(d, k), 0o600)
    new_key(d, "client-revoked")
    csr(d, "client-revoked", "CN = ssltestuser-revoked", [])
    sign(d, "client_ca", "client-revoked")
    openssl("ca", "-config", "server_ca.cnf", "-revoke", "server-revoked.crt", cwd=d)
    openssl("ca", "-config", "client_ca.cnf", "-revoke", "client-revoked.crt", cwd=d)
    for ca, crl in (("root_ca", "root.crl"), ("server_ca", "server.crl"),
                    ("client_ca", "client.crl")):
        openssl("ca", "-config", ca + ".cnf", "-gencrl", "-out", crl, cwd=d)
    cat(d, "root+server_ca.crt", ["root_ca.crt", "server_ca.crt"])
    cat(d, "root+client_ca.crt", ["root_ca.crt", "client_ca.crt"])
    cat(d, "both-cas-1.crt", ["root_ca.crt", "server_ca.crt", "client_ca.crt"])
    cat(d, "both-cas-2.crt", ["root_ca.crt", "client_ca.crt", "server_ca.crt"])
    cat(d, "client+client_ca.crt", ["client.crt", "client_ca.crt"])
    cat(d, "root+server.crl", ["root.crl", "server.crl"])
    cat(d, "root+client.crl", ["root.crl", "client.crl"])
    for dirname, crls in (("root+server-crldir", ["root.crl", "server.crl"]),
                          ("root+client-crldir", ["root.crl", "client.crl"]),
                          ("client-crldir", ["client.crl"])):
        os.makedirs(os.path.join(d, dirname), exist_ok=True)
        for crl in crls:
            cat(d, os.path.join(dirname, crl_hash(d, crl) + ".r0"), [crl])


if __name__ == "__main__":
    main()
