'use strict';
// Shared loop of the Node.js adapters: the case protocol v1 (docs/case-protocol.md).
//
// A driver supplies { name, hello(): {...}, connect(case, timeoutMs): Promise<fields> };
// connect may throw an Unsupported. Optional whyUnsupported(field): the reason a case
// field that is not in hello().features cannot be expressed (default: a generic one). This module does the rest: hello line, batch mode
// over stdin (results in order, one at a time), one-shot flags, --describe, per-case
// environment isolation, host->hostaddr mapping, TLS session capture, timeouts.

const dns = require('dns');
const tls = require('tls');
const net = require('net');
const path = require('path');
const readline = require('readline');
const { spawnSync } = require('child_process');

const PROTOCOL = 1;
const OPTIONAL_FIELDS = ['sslnegotiation', 'channel_binding', 'ssl_min_protocol_version',
  'ssl_max_protocol_version', 'sslsni', 'connect_options', 'entra'];
const INT_FIELDS = ['port', 'timeout_ms'];
// Node reads these once at start-up: a case that sets one runs in a fresh child
// process. SSL_CERT_FILE/SSL_CERT_DIR matter only when Node uses OpenSSL's store
// (--use-openssl-ca, --use-system-ca, NODE_USE_SYSTEM_CA); otherwise Node ignores them
// (it uses its bundled roots), so they need no child.
const STARTUP_ENV = ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS', 'NODE_USE_SYSTEM_CA'];
const OPENSSL_STORE_ENV = ['SSL_CERT_FILE', 'SSL_CERT_DIR'];
const usesOpensslStore = process.execArgv.some((a) => /^--use-(openssl|system)-ca$/.test(a))
  || Boolean(process.env.NODE_USE_SYSTEM_CA)
  || /--use-(openssl|system)-ca/.test(process.env.NODE_OPTIONS || '');

function needsChild(env) {
  const set = (k) => env[k] !== undefined && env[k] !== null;
  return STARTUP_ENV.some(set) || (usesOpensslStore && OPENSSL_STORE_ENV.some(set));
}

class Unsupported extends Error {}

// --- host -> hostaddr ----------------------------------------------------------
// libpq's hostaddr: connect to an address, name the server `host` for TLS. Neither pg
// nor postgres.js has it; both connect with net and resolve through dns.lookup, so the
// adapter answers that lookup for `host` with `hostaddr`, as an /etc/hosts entry would.
// The drivers' TLS code (servername, host name check) still sees the real name.
const hostMap = new Map();
const realLookup = dns.lookup;
dns.lookup = function mappedLookup(hostname, options, callback) {
  const target = hostMap.get(hostname);
  return realLookup.call(dns, target || hostname, options, callback);
};

// --- TLS capture ---------------------------------------------------------------
// Neither driver exposes its TLSSocket portably; record every socket tls.connect makes.
let lastTlsSocket = null;
const realTlsConnect = tls.connect;
tls.connect = function capturingConnect(...args) {
  const s = realTlsConnect.apply(tls, args);
  lastTlsSocket = s;
  return s;
};

// RFC 2253 string, most specific RDN first, as the other adapters print subjects.
// Node gives the subject as an object in certificate order (values may be arrays).
function rfc2253(subject) {
  const esc = (v) => String(v).replace(/([,+"\\<>;])/g, '\\$1');
  const rdns = [];
  for (const [k, v] of Object.entries(subject)) {
    for (const one of Array.isArray(v) ? v : [v]) rdns.push(`${k}=${esc(one)}`);
  }
  return rdns.reverse().join(',');
}

function tlsFacts() {
  const s = lastTlsSocket;
  if (!s) return { tls: false };
  const out = { tls: true, tls_version: null, cipher: null, chain: null };
  try {
    out.tls_version = s.getProtocol() || null;
    const c = s.getCipher();
    out.cipher = c ? c.standardName || c.name : null;
    const chain = [];
    let cert = s.getPeerCertificate(true);
    const seen = new Set();
    while (cert && cert.subject && !seen.has(cert.fingerprint256)) {
      seen.add(cert.fingerprint256);
      chain.push(rfc2253(cert.subject));
      cert = cert.issuerCertificate;
    }
    out.chain = chain.length ? chain : null;
  } catch (e) {
    out.notes = `cannot read the TLS session: ${e.message}`;
  }
  return out;
}

// libpq's PG* variable for each TLS keyword (the env surfaces, docs/surfaces.md).
const TLS_ENV = {
  sslmode: 'PGSSLMODE', sslrootcert: 'PGSSLROOTCERT', sslnegotiation: 'PGSSLNEGOTIATION',
  channel_binding: 'PGCHANNELBINDING', ssl_min_protocol_version: 'PGSSLMINPROTOCOLVERSION',
  ssl_max_protocol_version: 'PGSSLMAXPROTOCOLVERSION', sslsni: 'PGSSLSNI',
};

// --- environment ---------------------------------------------------------------
const baseEnv = { ...process.env };
function applyEnv(caseEnv) {
  for (const k of Object.keys(process.env)) delete process.env[k];
  for (const [k, v] of Object.entries(baseEnv)) {
    if (k.startsWith('PG') || ['SSL_CERT_FILE', 'SSL_CERT_DIR', 'NODE_EXTRA_CA_CERTS'].includes(k)) continue;
    process.env[k] = v;
  }
  for (const [k, v] of Object.entries(caseEnv || {})) {
    if (v === null || v === undefined) delete process.env[k];
    else process.env[k] = String(v);
  }
}

function blank(id) {
  return {
    id: id === undefined ? null : id, connected: false, tls: null, tls_version: null, cipher: null,
    query_result: null, error: null, error_code: null, elapsed_ms: 0, chain: null,
    unsupported: null, notes: null,
  };
}

function asText(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

function errorText(e) {
  if (e instanceof AggregateError && e.errors && e.errors.length) {
    return e.errors.map((x) => x.message || String(x)).join('; ');
  }
  return (e && (e.message || String(e))) || 'unknown error';
}

function withTimeout(promise, ms) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => {
        const e = new Error(`adapter: timeout: no answer from the driver within ${ms} ms`);
        e.code = 'timeout';
        reject(e);
      }, ms + 1000);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function runCase(driver, c, features, argv) {
  const r = blank(c && typeof c === 'object' ? c.id : null);
  const t0 = process.hrtime.bigint();
  try {
    if (!c || typeof c !== 'object' || Array.isArray(c)) throw new TypeError('case is not a JSON object');
    for (const f of OPTIONAL_FIELDS) {
      if (c[f] !== null && c[f] !== undefined && !features.includes(f)) {
        const why = driver.whyUnsupported && driver.whyUnsupported(f);
        throw new Unsupported(`${driver.name}: ${why || `the driver has no equivalent of ${f}`}`);
      }
    }
    // docs/surfaces.md: a surface (or a source page's string) the adapter does not
    // list is never emulated.
    for (const need of [c.surface ? `surface:${c.surface}` : null, c.literal ? 'literal' : null]) {
      if (need && !features.includes(need)) {
        throw new Unsupported((driver.surfaceReason && driver.surfaceReason(need))
          || `${driver.name}: the adapter cannot express "${need}"`);
      }
    }
    for (const f of INT_FIELDS) {
      if (c[f] !== null && c[f] !== undefined && !Number.isInteger(c[f])) throw new TypeError(`${f} must be an integer`);
    }
    if (c.env !== undefined && c.env !== null && (typeof c.env !== 'object' || Array.isArray(c.env))) {
      throw new TypeError('env must be an object');
    }
    const timeoutMs = c.timeout_ms || 10000;
    const env = c.env || {};
    // A token case runs in a child too: MSAL Node keeps managed-identity tokens in a
    // cache shared by every credential of the process (ManagedIdentityApplication's
    // static storage), so one case's token would answer the next case's request.
    if ((needsChild(env) || (c.entra !== undefined && c.entra !== null)) && !process.env.PGTLS_NODE_CHILD) {
      Object.assign(r, runInChild(c, argv, timeoutMs));
    } else {
      applyEnv(env);
      hostMap.clear();
      if (c.host && c.hostaddr && c.host !== c.hostaddr && !net.isIP(c.host)) hostMap.set(c.host, c.hostaddr);
      lastTlsSocket = null;
      try {
        const fields = await withTimeout(driver.connect(c, timeoutMs, tlsFacts), timeoutMs);
        Object.assign(r, fields);
      } catch (e) {
        if (e instanceof Unsupported) throw e;
        r.error = errorText(e);
        r.error_code = e.code ? String(e.code) : (e.constructor && e.constructor.name) || null;
      }
    }
  } catch (e) {
    if (e instanceof Unsupported) r.unsupported = e.message;
    else {
      r.error = `adapter: bad case: ${e.message}`;
      r.error_code = 'adapter';
    }
  }
  r.elapsed_ms = Number((process.hrtime.bigint() - t0) / 1000000n);
  return r;
}

// A case whose env Node only reads at start-up runs in a child: this same adapter in
// one-shot mode ('--case-json'), with the isolated environment built here.
function runInChild(c, argv, timeoutMs) {
  const env = {};
  for (const [k, v] of Object.entries(baseEnv)) {
    if (k.startsWith('PG') || ['SSL_CERT_FILE', 'SSL_CERT_DIR', 'NODE_EXTRA_CA_CERTS'].includes(k)) continue;
    env[k] = v;
  }
  for (const [k, v] of Object.entries(c.env || {})) if (v !== null && v !== undefined) env[k] = String(v);
  env.PGTLS_NODE_CHILD = '1';
  const script = process.argv[1];
  const res = spawnSync(process.execPath, [...process.execArgv, script, ...argv, '--case-json', JSON.stringify(c)],
    { env, encoding: 'utf8', timeout: timeoutMs + 5000 });
  const lines = (res.stdout || '').split('\n').filter((l) => l.trim());
  if (lines.length >= 2) {
    const got = JSON.parse(lines[lines.length - 1]);
    got.notes = [got.notes, c.entra ? 'ran in a child process (token case: a fresh token cache)'
      : 'ran in a child process (start-up environment)'].filter(Boolean).join('; ');
    return got;
  }
  const r = { error: `adapter: child process failed: ${(res.error && res.error.message) || res.stderr}`, error_code: 'adapter' };
  return r;
}

function emit(o) {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

function parseFlags(args) {
  const c = { env: {} };
  for (let i = 0; i < args.length; i += 2) {
    if (!args[i].startsWith('--') || i + 1 >= args.length) throw new Error(`expected --FIELD VALUE, got ${args[i]}`);
    const name = args[i].slice(2).replace(/-/g, '_');
    const v = args[i + 1];
    if (name === 'env') {
      const eq = v.indexOf('=');
      if (eq <= 0) throw new Error(`--env wants NAME=VALUE, got ${v}`);
      c.env[v.slice(0, eq)] = v.slice(eq + 1);
    } else if (v === 'null') c[name] = null;
    else if (INT_FIELDS.includes(name)) {
      if (!/^-?\d+$/.test(v)) throw new Error(`--${name} wants an integer, got ${v}`);
      c[name] = parseInt(v, 10);
    }
    else if (name === 'connect_options' || name === 'entra') c[name] = JSON.parse(v);
    else c[name] = v;
  }
  if (c.id === undefined) c.id = 'one-shot';
  return c;
}

// adapterArgs: leading flags this adapter itself takes (e.g. --client-name), kept so a
// child process is started the same way.
async function main(driver, adapterArgs, rest) {
  let hello;
  try {
    hello = { protocol: PROTOCOL, client: driver.name, ...driver.hello() };
  } catch (e) {
    hello = { protocol: PROTOCOL, client: driver.name, version: null, error: `adapter: ${e.message}` };
  }
  hello.runtime = hello.runtime || `Node.js ${process.version}`;
  hello.features = hello.features || [];
  emit(hello);
  if (rest[0] === '--describe') return 0;
  if (rest[0] === '--case-json') {
    let c;
    try { c = JSON.parse(rest[1]); } catch (e) { c = null; }
    emit(await runCase(driver, c, hello.features, adapterArgs));
    return 0;
  }
  if (rest.length) {
    let c;
    try {
      c = parseFlags(rest);
    } catch (e) {
      emit({ ...blank(null), error: `adapter: bad flags: ${e.message}`, error_code: 'adapter' });
      return 2;
    }
    emit(await runCase(driver, c, hello.features, adapterArgs));
    return 0;
  }
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let c;
    try {
      c = JSON.parse(line);
    } catch (e) {
      emit({ ...blank(null), error: `adapter: cannot parse case: ${e.message}`, error_code: 'adapter' });
      continue;
    }
    emit(await runCase(driver, c, hello.features, adapterArgs));
  }
  return 0;
}

// The installed package's own version (read from its package.json on disk: some
// packages' "exports" do not allow require('<name>/package.json')).
// The folder the drivers are loaded from: this folder's node_modules, or the one a
// version build names with --modules (clients/<adapter>@<version>/node_modules).
let modulesDir = path.join(__dirname, 'node_modules');
function setModulesDir(dir) { modulesDir = path.resolve(dir); }
function requireDriver(name) { return require(path.join(modulesDir, name)); }

// The version of the package actually loaded: the package.json beside the module
// require() resolved, not the lockfile's word.
function pkgVersion(name) {
  const fs = require('fs');
  const file = path.join(modulesDir, name, 'package.json');
  return JSON.parse(fs.readFileSync(file, 'utf8')).version;
}

module.exports = {
  TLS_ENV, main, Unsupported, asText, pkgVersion, errorText, setModulesDir, requireDriver };
