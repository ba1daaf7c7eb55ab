#!/usr/bin/env python3
"""certs-gen integration tests: `pgtls ca inspect` and `pgtls ca clone --out`
over stores built at run time with the `openssl` command and `keytool`, and
the real roots of Debian's ca-certificates, read at run time.

usage: store_integration.py PGTLS [--only NAME] | --list"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

MOZILLA = "/usr/share/ca-certificates/mozilla"
G2 = MOZILLA + "/DigiCert_Global_Root_G2.crt"
MS2017 = MOZILLA + "/Microsoft_RSA_Root_Certificate_Authority_2017.crt"
GLOBAL_CA = MOZILLA + "/DigiCert_Global_Root_CA.crt"
BALTIMORE = MOZILLA + "/Baltimore_CyberTrust_Root.crt"
TESTS = []
PGTLS = None


def test(fn):
    TESTS.append(fn)
    return fn


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


def sh(argv, **kw):
    p = subprocess.run(argv, capture_output=True, timeout=120, **kw)
    if p.returncode != 0:
        raise AssertionError("%s failed: %s" % (argv[0], p.stderr.decode(errors="replace")))
    return p.stdout


def inspect(path, *extra):
    p = run([PGTLS, "ca", "inspect", path, *extra])
    return p.returncode, p.stdout, p.stderr


def cat(out, *paths):
    with open(out, "wb") as f:
        for p in paths:
            with open(p, "rb") as g:
                f.write(g.read())
    return out


def truncate(src, dst, keep):
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data[: int(len(data) * keep)])
    return dst


class Work:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pgtls-store-test-")

    def p(self, name):
        return os.path.join(self.dir, name)

    def ca(self, name, subject, issuer=None, ca=True, days=3650, pathlen=None, san=None,
           start=None):
        """A certificate made by the openssl command: self-signed when issuer is None."""
        key, crt = self.p(name + ".key"), self.p(name + ".crt")
        sh(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", key])
        ext = self.p(name + ".ext")
        with open(ext, "w") as f:
            f.write("[v3]\n")
            if ca:
                f.write("basicConstraints=critical,CA:TRUE%s\n"
                        % ("" if pathlen is None else ",pathlen:%d" % pathlen))
                f.write("keyUsage=critical,keyCertSign,cRLSign,digitalSignature\n")
            else:
                f.write("basicConstraints=critical,CA:FALSE\n")
                f.write("keyUsage=critical,digitalSignature,keyEncipherment\n")
                f.write("extendedKeyUsage=serverAuth\n")
            if san:
                f.write("subjectAltName=%s\n" % san)
            f.write("subjectKeyIdentifier=hash\n")
            if issuer:
                f.write("authorityKeyIdentifier=keyid\n")
        csr = self.p(name + ".csr")
        sh(["openssl", "req", "-new", "-key", key, "-subj", subject, "-out", csr])
        argv = ["openssl", "x509", "-req", "-in", csr, "-out", crt, "-extfile", ext,
                "-extensions", "v3", "-sha256"]
        if start:
            # an already expired certificate: not after = start + days
            argv = ["openssl", "x509", "-req", "-in", csr, "-out", crt, "-extfile", ext,
                    "-extensions", "v3", "-sha256", "-not_before", start, "-not_after",
                    days]
        else:
            argv += ["-days", str(days)]
        if issuer:
            argv += ["-CA", self.p(issuer + ".crt"), "-CAkey", self.p(issuer + ".key"),
                     "-set_serial", "0x1234"]
        else:
            argv += ["-signkey", key]
        sh(argv)
        return crt

    def clean(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def private_ica(w):
    """A private issuing CA under a private root, as a customer's PKI team makes one."""
    w.ca("privroot", "/C=US/O=Contoso/CN=Contoso Root")
    return w.ca("privica", "/C=US/O=Contoso/CN=Contoso Issuing CA 1", issuer="privroot",
                pathlen=0)


# ---- store formats ----------------------------------------------------------

@test
def a_pem_bundle_of_the_real_recommended_roots_is_root_only_and_survives_the_rotation(w):
    rc, out, err = inspect(cat(w.p("roots.pem"), G2, MS2017, GLOBAL_CA))
    check(rc == 0, "exit %d: %s%s" % (rc, out, err))
    check(out.count("real Azure root\n") == 3, out)
    check("root-only: the store trusts root CAs only (recommended)" in out, out)
    check("keep the full root set" not in out, out)


@test
def debians_whole_ca_certificates_bundle_survives_the_rotation(w):
    rc, out, err = inspect("/etc/ssl/certs/ca-certificates.crt")
    check(rc == 0, "exit %d: %s" % (rc, err or out[-2000:]))
    check("root-only" in out and "survives the rotation" in out, out[-2000:])


@test
def a_der_certificate_is_read_as_der(w):
    der = w.p("g2.cer")
    sh(["openssl", "x509", "-in", G2, "-outform", "DER", "-out", der])
    rc, out, err = inspect(der)
    check(rc == 0 and ": der, 1 certificate(s)" in out, out + err)
    check("keep the full root set" in out and "Microsoft RSA Root Certificate Authority 2017"
          in out, out)


@test
def pkcs7_bundles_in_pem_and_der_are_read(w):
    for form in ("PEM", "DER"):
        p7 = w.p("roots-%s.p7b" % form)
        sh(["openssl", "crl2pkcs7", "-nocrl", "-certfile", G2, "-certfile", MS2017,
            "-outform", form, "-out", p7])
        rc, out, err = inspect(p7)
        check(rc == 0, "%s: exit %d %s%s" % (form, rc, out, err))
        check((": pkcs7-%s, 2 certificate(s)" % form.lower()) in out, out)


@test
def a_pkcs12_truststore_needs_its_password_and_refuses_a_wrong_one(w):
    p12 = w.p("trust.p12")
    sh(["openssl", "pkcs12", "-export", "-nokeys", "-in", cat(w.p("b.pem"), G2, MS2017),
        "-out", p12, "-passout", "pass:s3cret"])
    rc, out, err = inspect(p12, "--password", "s3cret")
    check(rc == 0 and ": pkcs12, 2 certificate(s)" in out, out + err)
    rc, out, err = inspect(p12, "--password", "wrong")
    check(rc == 2 and "wrong password" in err and out == "", "wrong: %d %s %s" % (rc, out, err))
    rc, out, err = inspect(p12)
    check(rc == 2 and "--password" in err, "none: %d %s" % (rc, err))


@test
def a_jks_truststore_made_by_keytool_is_read_and_its_password_checked(w):
    if not shutil.which("keytool"):
        raise AssertionError("keytool is missing: install a JDK (ci/debian-packages.txt)")
    jks = w.p("trust.jks")
    for alias, path in (("g2", G2), ("ms2017", MS2017)):
        sh(["keytool", "-importcert", "-noprompt", "-storetype", "JKS", "-keystore", jks,
            "-storepass", "changeit", "-alias", alias, "-file", path])
    rc, out, err = inspect(jks, "--password", "changeit")
    check(rc == 0 and "jks, integrity checked" in out and "2 certificate(s)" in out, out + err)
    rc, out, err = inspect(jks)
    check(rc == 0 and "integrity not checked" in out, out + err)
    rc, out, err = inspect(jks, "--password", "changeme")
    check(rc == 2 and "wrong password" in err, "%d %s" % (rc, err))
    rc, out, err = inspect(truncate(jks, w.p("cut.jks"), 0.6), "--password", "changeit")
    check(rc == 2 and ("truncated" in err or "wrong password" in err), "%d %s" % (rc, err))
    rc, out, err = inspect(truncate(jks, w.p("cut2.jks"), 0.6))
    check(rc == 2 and "truncated" in err, "%d %s" % (rc, err))


@test
def s_client_showcerts_output_from_a_live_mock_is_read(w):
    fixtures = os.environ.get("PGTLS_TEST_FIXTURES", "")
    if not fixtures:
        fixtures = w.p("fixtures")
        sh([PGTLS, "ca", "gen", "--out", fixtures])
    mock = subprocess.Popen([PGTLS, "mock", "--fixtures", fixtures, "--scenario", "azure-new"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in mock.stdout:
            m = re.search(r"listening scenario=\S+ addr=\S+ port=(\d+)", line)
            if m:
                port = m.group(1)
                break
        check(port, "the mock printed no port")
        p = subprocess.run(["openssl", "s_client", "-starttls", "postgres", "-connect",
                            "127.0.0.1:" + port, "-showcerts"], input="", capture_output=True,
                           text=True, timeout=30)
        txt = w.p("s_client.txt")
        with open(txt, "w") as f:
            f.write(p.stdout)
        rc, out, err = inspect(txt)
        check(rc == 1 and ": s_client, 3 certificate(s)" in out, out + err)
        check("pinned server certificate (unsupported)" in out, out)
        check("pinned intermediate (unsupported)" in out, out)
        check("Azure intermediate (by name)" in out and "Azure server certificate" in out, out)
    finally:
        mock.terminate()
        mock.wait(timeout=10)


# ---- bad input ----------------------------------------------------------------

@test
def truncated_pem_der_and_pkcs7_files_are_refused_with_a_reason(w):
    der = w.p("g2.der")
    sh(["openssl", "x509", "-in", G2, "-outform", "DER", "-out", der])
    p7 = w.p("r.p7b")
    sh(["openssl", "crl2pkcs7", "-nocrl", "-certfile", G2, "-outform", "DER", "-out", p7])
    for src, what in ((cat(w.p("two.pem"), G2, MS2017), "truncated"), (der, "truncated"),
                      (p7, "truncated")):
        rc, out, err = inspect(truncate(src, src + ".cut", 0.7))
        check(rc == 2 and what in err, "%s: %d %s" % (src, rc, err))
        check(len(err.strip().splitlines()) == 1, "one line: %r" % err)


@test
def mixed_formats_are_refused(w):
    p7 = w.p("r.p7b")
    sh(["openssl", "crl2pkcs7", "-nocrl", "-certfile", G2, "-out", p7])
    rc, out, err = inspect(cat(w.p("mix.pem"), MS2017, p7))
    check(rc == 2 and "mixes PEM certificates and a PKCS#7" in err, "%d %s" % (rc, err))
    der = w.p("g2.der")
    sh(["openssl", "x509", "-in", G2, "-outform", "DER", "-out", der])
    rc, out, err = inspect(cat(w.p("mix2.pem"), MS2017, der))
    check(rc == 2 and "mixes PEM text and binary" in err, "%d %s" % (rc, err))


@test
def a_store_holding_a_private_key_is_refused_in_every_format(w):
    w.ca("srv", "/CN=mydemoserver.postgres.database.azure.com", ca=False)
    rc, out, err = inspect(cat(w.p("withkey.pem"), G2, w.p("srv.crt"), w.p("srv.key")))
    check(rc == 2 and "private key" in err and "never copies" in err, "pem: %d %s" % (rc, err))
    p12 = w.p("withkey.p12")
    sh(["openssl", "pkcs12", "-export", "-in", w.p("srv.crt"), "-inkey", w.p("srv.key"),
        "-out", p12, "-passout", "pass:x"])
    rc, out, err = inspect(p12, "--password", "x")
    check(rc == 2 and "private key" in err, "p12: %d %s" % (rc, err))
    if shutil.which("keytool"):
        jks = w.p("withkey.jks")
        sh(["keytool", "-genkeypair", "-storetype", "JKS", "-keystore", jks, "-storepass",
            "changeit", "-keypass", "changeit", "-alias", "k", "-keyalg", "EC", "-dname",
            "CN=client"])
        rc, out, err = inspect(jks, "--password", "changeit")
        check(rc == 2 and "private key" in err, "jks: %d %s" % (rc, err))


@test
def empty_missing_and_foreign_files_are_input_errors(w):
    open(w.p("empty.pem"), "w").close()
    with open(w.p("notes.txt"), "w") as f:
        f.write("hello\n")
    for path, what in ((w.p("empty.pem"), "empty"), (w.p("nope.pem"), "nope.pem"),
                       (w.p("notes.txt"), "not a certificate store")):
        rc, out, err = inspect(path)
        check(rc == 2 and what in err, "%s: %d %s" % (path, rc, err))


# ---- verdicts -----------------------------------------------------------------

@test
def digicert_g2_plus_a_private_issuing_ca_is_a_pinned_intermediate_and_exits_1(w):
    rc, out, err = inspect(cat(w.p("s.pem"), G2, private_ica(w)))
    check(rc == 1, "exit %d: %s" % (rc, out))
    check("pinned intermediate (unsupported)" in out, out)
    check("root-only" not in out, out)


@test
def a_pinned_server_certificate_is_unsupported(w):
    leaf = w.ca("leaf", "/CN=mydemoserver.postgres.database.azure.com", ca=False,
                san="DNS:mydemoserver.postgres.database.azure.com")
    rc, out, err = inspect(cat(w.p("s.pem"), G2, MS2017, leaf))
    check(rc == 1 and "pinned server certificate (unsupported)" in out, out)
    check("Azure server certificate (by name)" in out, out)


@test
def a_store_without_digicert_g2_misses_a_needed_root_for_the_new_chain(w):
    rc, out, err = inspect(cat(w.p("s.pem"), MS2017))
    check(rc == 1, out)
    check("missing a needed root: DigiCert Global Root G2, for the new chain" in out, out)
    check("old chain, Microsoft RSA Root CA 2017 form:" in out, out)


@test
def a_pinned_old_intermediate_in_the_other_form_is_said_to_carry_the_old_chain(w):
    w.ca("ms", "/C=US/O=Microsoft Corporation/CN=Microsoft RSA Root Certificate Authority 2017")
    ica = w.ca("ica", "/C=US/O=Microsoft Corporation/CN=Microsoft Azure RSA TLS Issuing CA 03",
               issuer="ms", pathlen=0)
    rc, out, err = inspect(cat(w.p("s.pem"), MS2017, ica))
    check(rc == 1 and "pinned intermediate (unsupported)" in out, out)
    check(re.search(r"G2 form \(ICA 03/04/07/08\): +verifies only through the pinned "
                    r"intermediate", out), out)
    check("missing a needed root: DigiCert Global Root G2, for the new chain" in out, out)
    check("for the old chain" not in out, out)


@test
def an_expired_root_is_listed_as_an_expired_entry(w):
    rc, out, err = inspect(cat(w.p("s.pem"), BALTIMORE, G2, MS2017))
    check("expired entries: 1" in out and "EXPIRED 2025-05-12" in out, out)
    check(rc == 0, "the G2 and MS 2017 roots still carry both chains: %s" % out)
    rc, out, err = inspect(cat(w.p("s2.pem"), BALTIMORE))
    check(rc == 1 and "expired entries: 1" in out and "missing a needed root" in out, out)


@test
def a_root_with_an_azure_name_but_another_key_is_not_the_real_root(w):
    fake = w.ca("fakeg2", "/C=US/O=DigiCert Inc/OU=www.digicert.com/CN=DigiCert Global Root G2")
    rc, out, err = inspect(cat(w.p("s.pem"), fake, MS2017))
    check(rc == 1 and "NOT the real DigiCert Global Root G2" in out, out)
    check("missing a needed root: DigiCert Global Root G2, for the new chain" in out, out)


# ---- ca clone --out -------------------------------------------------------------

def der_tlv(data, pos=0):
    """(tag, header length, content start, end) of the DER element at pos."""
    tag, n = data[pos], data[pos + 1]
    if n < 0x80:
        return tag, pos + 2, pos + 2 + n
    k = n & 0x7F
    length = int.from_bytes(data[pos + 2:pos + 2 + k], "big")
    return tag, pos + 2 + k, pos + 2 + k + length


def der_children(data, start, end):
    out, pos = [], start
    while pos < end:
        tag, cstart, cend = der_tlv(data, pos)
        out.append((tag, pos, cstart, cend))
        pos = cend
    return out


SKI, AKI = bytes.fromhex("0603551d0e"), bytes.fromhex("0603551d23")


def cert_fields(der):
    """Every field of a certificate, by name, as DER bytes (RFC 5280 4.1)."""
    _, cs, ce = der_tlv(der)
    tbs, sigalg, sig = der_children(der, cs, ce)
    t = der_children(der, tbs[2], tbs[3])
    f = {}
    i = 0
    if t[0][0] == 0xA0:
        f["version"] = der[t[0][1]:t[0][3]]
        i = 1
    names = ["serial", "signature algorithm (tbs)", "issuer", "validity", "subject", "spki"]
    for name, el in zip(names, t[i:i + 6]):
        f[name] = der[el[1]:el[3]]
    spki = der_children(der, t[i + 5][2], t[i + 5][3])
    f["key algorithm and parameters"] = der[spki[0][1]:spki[0][3]]
    key_bits = der[spki[1][2] + 1:spki[1][3]]
    if key_bits[0] == 0x30:  # RSA: SEQUENCE { modulus, exponent }
        _, ms, me = der_tlv(key_bits, der_tlv(key_bits)[1])
        modulus = key_bits[ms:me].lstrip(b"\0")
        f["key size"] = len(modulus) * 8
        f["rsa exponent"] = key_bits[der_tlv(key_bits, me)[1]:der_tlv(key_bits, me)[2]]
    else:
        f["key size"] = len(key_bits)
    f["key"] = key_bits
    exts = []
    for el in t[i + 6:]:
        if el[0] == 0xA3:
            seq = der_children(der, el[2], el[3])[0]
            for ext in der_children(der, seq[2], seq[3]):
                parts = der_children(der, ext[2], ext[3])
                oid = der[parts[0][1]:parts[0][3]]
                crit = len(parts) == 3
                value = der[parts[-1][2]:parts[-1][3]]
                exts.append((oid, crit, value))
    f["extensions (oid, critical) in order"] = [(o, c) for o, c, _ in exts]
    f["extension values but key identifiers"] = [(o, v) for o, c, v in exts if o not in (SKI, AKI)]
    f["key identifiers"] = [(o, v) for o, c, v in exts if o in (SKI, AKI)]
    f["outer signature algorithm"] = der[sigalg[1]:sigalg[3]]
    f["signature"] = der[sig[1]:sig[3]]
    return f


def pem_certs(path):
    text = open(path).read()
    out = []
    for block in re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text,
                            re.S):
        import base64
        out.append(base64.b64decode("".join(block.split())))
    return out


ONLY_DIFFERENT = {"spki", "key", "key identifiers", "signature"}


def openssl_chain(w):
    """A chain made by the openssl command: root (RSA-3072), intermediate (RSA-2048, UTF8
    and printable strings, policies, AIA, CRL, pathlen), leaf (EC P-384, SANs with DNS and
    IP, EKU, a private extension, a serial of 20 bytes)."""
    cfg = w.p("x.cnf")
    with open(cfg, "w") as f:
        f.write("""[req]
distinguished_name = dn
[dn]
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ica]
basicConstraints = critical,CA:TRUE,pathlen:0
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
keyUsage = critical,digitalSignature,keyCertSign,cRLSign
extendedKeyUsage = serverAuth,clientAuth
authorityInfoAccess = OCSP;URI:http://ocsp.example.net,caIssuers;URI:http://ca.example.net/root.crt
crlDistributionPoints = URI:http://crl.example.net/root.crl
certificatePolicies = 2.23.140.1.2.2,1.3.6.1.4.1.311.42.1
[leaf]
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:custdb.postgres.database.azure.com,DNS:*.custdb.internal,IP:10.1.2.3
1.3.6.1.4.1.311.21.10 = ASN1:SEQUENCE:msapp
basicConstraints = CA:FALSE
[msapp]
p = SEQUENCE:msapp_inner
[msapp_inner]
o = OID:1.3.6.1.5.5.7.3.1
""")
    def gen(name, alg):
        key = w.p(name + ".key")
        sh(["openssl", "genpkey", "-out", key] + alg)
        return key
    rk = gen("r", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"])
    ik = gen("i", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
    lk = gen("l", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"])
    sh(["openssl", "req", "-x509", "-new", "-key", rk, "-config", cfg, "-extensions", "root",
        "-subj", "/C=NL/O=Cust\u00f6mer B.V./CN=Customer Root R1", "-utf8", "-days", "7300",
        "-sha384", "-set_serial", "0x5A", "-out", w.p("r.crt")])
    sh(["openssl", "req", "-new", "-key", ik, "-config", cfg, "-subj",
        "/C=NL/ST=Noord-Holland/O=Customer B.V./OU=PKI/CN=Customer Issuing CA 7",
        "-out", w.p("i.csr")])
    sh(["openssl", "x509", "-req", "-in", w.p("i.csr"), "-CA", w.p("r.crt"), "-CAkey", rk,
        "-extfile", cfg, "-extensions", "ica", "-days", "1825", "-sha256", "-set_serial",
        "0x0123456789ABCDEF", "-out", w.p("i.crt")])
    sh(["openssl", "req", "-new", "-key", lk, "-config", cfg, "-subj",
        "/CN=custdb.postgres.database.azure.com", "-out", w.p("l.csr")])
    sh(["openssl", "x509", "-req", "-in", w.p("l.csr"), "-CA", w.p("i.crt"), "-CAkey", ik,
        "-extfile", cfg, "-extensions", "leaf", "-days", "397", "-sha384", "-set_serial",
        "0x7F00112233445566778899AABBCCDDEEFF001122", "-out", w.p("l.crt")])
    return w.p("l.crt"), w.p("i.crt"), w.p("r.crt")


def check_lookalike(orig_der, clone_der, label):
    a, b = cert_fields(orig_der), cert_fields(clone_der)
    for name in a:
        if name in ONLY_DIFFERENT:
            check(a[name] != b[name], "%s: %s should differ (our keys) but is equal" %
                  (label, name))
        else:
            check(a[name] == b[name], "%s: %s differs:\n  original %r\n  clone    %r" %
                  (label, name, a[name], b[name]))


@test
def a_clone_of_an_openssl_made_chain_differs_only_in_keys_and_signatures(w):
    leaf, ica, root = openssl_chain(w)
    chain = cat(w.p("chain.pem"), leaf, ica)
    out_dir = w.p("clone")
    p = run([PGTLS, "ca", "clone", chain, "--out", out_dir, "--name", "cust"])
    check(p.returncode == 0, p.stderr)
    check("stand-in root" in p.stdout and "Customer Root R1" in p.stdout, p.stdout)
    originals = [pem_certs(leaf)[0], pem_certs(ica)[0]]
    clones = pem_certs(os.path.join(out_dir, "chains", "cust.pem"))
    check(len(clones) == 2, "the cloned chain has %d certificates" % len(clones))
    for k, (o, c) in enumerate(zip(originals, clones)):
        check_lookalike(o, c, "certificate %d" % k)
    # the stand-in root carries the missing issuer's subject, byte for byte
    stand_in = pem_certs(os.path.join(out_dir, "stores", "cust-root.pem"))[0]
    check(cert_fields(stand_in)["subject"] == cert_fields(originals[1])["issuer"],
          "the stand-in root's subject is not the intermediate's issuer")
    key = os.path.join(out_dir, "keys", "cust-0.key")
    check(os.stat(key).st_mode & 0o777 == 0o600, "the leaf key is not 0600")
    check(not [n for n in os.listdir(w.dir) if ".clone-" in n], "a staging folder was left")
    # with the root in the file, the root is cloned too and no stand-in is made
    p = run([PGTLS, "ca", "clone", cat(w.p("full.pem"), leaf, ica, root), "--out",
             w.p("full"), "--name", "full"])
    check(p.returncode == 0 and "stand-in" not in p.stdout, p.stdout + p.stderr)
    check_lookalike(pem_certs(root)[0],
                    pem_certs(os.path.join(w.p("full"), "stores", "full-root.pem"))[0], "root")


@test
def a_cloned_folder_is_used_at_once_by_ca_list_mock_and_run(w):
    leaf, ica, root = openssl_chain(w)
    out_dir = w.p("clone")
    p = run([PGTLS, "ca", "clone", cat(w.p("c.pem"), leaf, ica), "--out", out_dir, "--name",
             "cust"])
    check(p.returncode == 0, p.stderr)
    p = run([PGTLS, "ca", "list", "--fixtures", out_dir])
    check(p.returncode == 0 and "cust-0 > cust-1" in p.stdout and
          "custdb.postgres.database.azure.com" in p.stdout, p.stdout + p.stderr)
    check(run([PGTLS, "ca", "verify", "--fixtures", out_dir]).returncode == 0, "ca verify")
    mock = subprocess.Popen([PGTLS, "mock", "--fixtures", out_dir, "--scenario", "cust"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in mock.stdout:
            m = re.search(r"port=(\d+)", line)
            if m:
                port = m.group(1)
                break
        check(port, "the mock printed no port")
        s = subprocess.run(["openssl", "s_client", "-starttls", "postgres", "-connect",
                            "127.0.0.1:" + port, "-CAfile",
                            os.path.join(out_dir, "stores", "cust-root.pem"), "-verify_hostname",
                            "custdb.postgres.database.azure.com", "-verify_return_error"],
                           input="", capture_output=True, text=True, timeout=30)
        check("Verify return code: 0 (ok)" in s.stdout, s.stdout[-1500:] + s.stderr[-500:])
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    p = run([PGTLS, "run", "--fixtures", out_dir, "--suite",
             os.path.join(out_dir, "clone.suite"), "--clients", "libpq", "--out", w.p("run")])
    check(p.returncode == 0 and "0 failing" in p.stdout + p.stderr, p.stdout + p.stderr)


@test
def clone_refuses_a_key_a_store_that_is_not_a_chain_and_an_occupied_folder(w):
    w.ca("srv", "/CN=db.example.com", ca=False)
    p = run([PGTLS, "ca", "clone", cat(w.p("k.pem"), w.p("srv.crt"), w.p("srv.key")), "--out",
             w.p("o1")])
    check(p.returncode == 2 and "private key" in p.stderr and not os.path.exists(w.p("o1")),
          p.stderr)
    p = run([PGTLS, "ca", "clone", cat(w.p("r.pem"), G2, MS2017), "--out", w.p("o2")])
    check(p.returncode == 2 and "leaf first" in p.stderr and not os.path.exists(w.p("o2")),
          p.stderr)
    os.mkdir(w.p("o3"))
    open(w.p("o3/notes.txt"), "w").close()
    p = run([PGTLS, "ca", "clone", w.p("srv.crt"), "--out", w.p("o3")])
    check(p.returncode == 2 and "not a fixtures folder" in p.stderr, p.stderr)
    check(os.listdir(w.p("o3")) == ["notes.txt"], "the occupied folder was touched")


def main():
    global PGTLS
    if sys.argv[1:] == ["--list"]:
        print("\n".join(t.__name__ for t in TESTS))
        return 0
    PGTLS = os.path.abspath(sys.argv[1])
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    failed = 0
    for t in TESTS:
        if only and t.__name__ != only:
            continue
        w = Work()
        try:
            t(w)
            print("ok   %s" % t.__name__)
        except AssertionError as e:
            failed += 1
            print("FAIL %s: %s" % (t.__name__, e))
        finally:
            w.clean()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
