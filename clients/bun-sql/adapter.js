'use strict';
// pgtls adapter for Bun's built-in PostgreSQL client (Bun.SQL, TLS by BoringSSL),
// run by the Bun binary that ./install puts in node_modules. Speaks the case
// protocol v1 through ../node/protocol.js (the Node adapters' loop; Bun runs it).
//
// The case becomes what a Bun user writes: new SQL(url) with a libpq-style URL,
//   postgres://user:pass@host:port/db?sslmode=&sslrootcert=&application_name=
//     &connect_timeout=&channel_binding=  (+ connect_options as URL parameters)
// parsed by Bun itself (internal/sql/options.ts), so Bun's own sslmode semantics
// apply (docs/drivers.md "Bun.SQL"). Bun.SQL has no hostaddr: Bun resolves the host
// with the C library's getaddrinfo, so the adapter runs under LD_PRELOAD of
// @BUILD@/clients/bun-sql/libpgtls-bun-hostaddr.so (it re-executes itself with it) and
// maps `host` to `hostaddr` per case through that library (bun:ffi).
//
// Usage: bun adapter.js --preload SHIM.so [--describe | one-shot flags | batch]

const fs = require('fs');
const path = require('path');
const { main, asText, errorText, TLS_ENV, Unsupported } = require('../node/protocol');

function parseArgs(argv) {
  let preload = null;
  let i = 0;
  while (i + 1 < argv.length && argv[i] === '--preload') {
    preload = argv[i + 1];
    i += 2;
  }
  return { preload, adapterArgs: argv.slice(0, i), rest: argv.slice(i) };
}

const { preload, adapterArgs, rest } = parseArgs(process.argv.slice(2));
const preloaded = Boolean(preload) && (process.env.LD_PRELOAD || '').split(/[: ]/).includes(preload);

// --- hostaddr through the preloaded getaddrinfo ------------------------------------
let mapHost = null;
let shimProblem = null;
if (!preload) shimProblem = 'no --preload library given (see clients/bun-sql/adapter.json)';
else if (!fs.existsSync(preload)) shimProblem = `${preload} does not exist: build pgtls first (ci/build.sh)`;
else if (preloaded) {
  try {
    const { dlopen, FFIType, ptr } = require('bun:ffi');
    const lib = dlopen(preload, { pgtls_hostaddr_map: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.i32 } });
    const cstr = (s) => Buffer.from(`${s}\0`, 'utf8');
    mapHost = (host, addr) => {
      const h = cstr(host || '');
      const a = cstr(addr || '');
      if (lib.symbols.pgtls_hostaddr_map(ptr(h), ptr(a)) !== 0) throw new Error(`host name or address too long: ${host} ${addr}`);
    };
  } catch (e) {
    shimProblem = `cannot use ${preload}: ${e.message}`;
  }
}

// internal/sql/options.ts of Bun 1.4.5: the SSLMode enum the URL is parsed into.
const BUN_SSLMODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'];

// Case fields Bun.SQL cannot express, with the reason (Bun 1.4.5, internal/sql/options.ts).
const UNSUPPORTED = {
  sslnegotiation: 'Bun reads sslnegotiation from the URL and drops it (isLibpqClientKeyword); it always sends SSLRequest',
  sslsni: 'Bun.SQL has no sslsni setting (tls.serverName defaults to the host name)',
  ssl_min_protocol_version: 'Bun.SQL\'s URL has no TLS protocol bounds (ssl_min_protocol_version is sent to the server as a startup parameter)',
  ssl_max_protocol_version: 'Bun.SQL\'s URL has no TLS protocol bounds (ssl_max_protocol_version is sent to the server as a startup parameter)',
};

function boringssl() {
  const rev = process.versions.boringssl;
  return rev ? `BoringSSL ${rev.slice(0, 12)}` : 'BoringSSL';
}

// docs/surfaces.md. Bun.SQL takes a URL or an options object (internal/sql/options.ts,
// Bun 1.4.5); of the PG* TLS variables it reads PGSSLMODE only (envOf(prefix,
// "SSLMODE")), never PGSSLROOTCERT. The options object is the documented form:
// {hostname, port, username, password, database, ssl: sslmode, tls: {ca}}.
const SURFACES = ['surface:url', 'surface:env', 'surface:options', 'surface:url+options', 'surface:url+env'];
const SURFACE_REASONS = {
  'surface:conninfo': 'Bun.SQL parses a URL or an options object (internal/sql/options.ts parseOptions); a keyword=value string is not a URL',
  'surface:npgsql': 'Bun.SQL parses a URL or an options object; it has no parser for the ADO.NET form (Key=Value;...)',
  literal: 'bun-sql adapter: source-page strings are run by libpq-based adapters',
};
const TLS_KEYS = ['sslmode', 'sslrootcert', 'sslnegotiation', 'channel_binding', 'sslsni',
  'ssl_min_protocol_version', 'ssl_max_protocol_version'];

function without(c, keys) {
  const out = { ...c };
  for (const k of keys) delete out[k];
  return out;
}

// The options surface: what a Bun user writes; the root file is read by the user
// (tls.ca), as Node's tls options take it.
function optionsObject(c, timeoutMs) {
  const o = { hostname: c.host || c.hostaddr || 'localhost', max: 1, idleTimeout: 0,
    connectionTimeout: Math.max(1, Math.ceil(timeoutMs / 1000)) };
  if (c.port) o.port = c.port;
  if (c.user) o.username = c.user;
  if (c.password) o.password = c.password;
  if (c.dbname) o.database = c.dbname;
  if (c.sslmode) o.ssl = c.sslmode;
  if (c.sslrootcert) o.tls = { ca: fs.readFileSync(c.sslrootcert, 'utf8') };
  return o;
}

function connectionUrl(c, timeoutMs) {
  const host = c.host || c.hostaddr || 'localhost';
  const auth = c.user ? `${encodeURIComponent(c.user)}${c.password ? `:${encodeURIComponent(c.password)}` : ''}@` : '';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const params = new URLSearchParams();
  if (c.sslmode) params.set('sslmode', c.sslmode);
  if (c.sslrootcert) params.set('sslrootcert', c.sslrootcert);
  if (c.application_name) params.set('application_name', c.application_name);
  if (c.channel_binding) params.set('channel_binding', c.channel_binding);
  params.set('connect_timeout', String(Math.max(1, Math.ceil(timeoutMs / 1000))));
  for (const [k, v] of Object.entries(c.connect_options || {})) params.set(k, String(v));
  return `postgres://${auth}${hostPart}${c.port ? `:${c.port}` : ''}/${encodeURIComponent(c.dbname || '')}?${params}`;
}

// host -> the hostaddr this process resolved it to ('' = the real lookup).
const resolvedBefore = new Map();

// One case in a new process of this adapter (protocol.js's --case-json one-shot mode,
// with this process's environment: LD_PRELOAD and the case's env are already set).
function runFresh(c) {
  const res = Bun.spawnSync([process.execPath, path.resolve(process.argv[1]), ...adapterArgs, '--case-json',
    JSON.stringify(c)], { env: { ...process.env, PGTLS_NODE_CHILD: '1' }, stdin: 'ignore' });
  const lines = res.stdout.toString().split('\n').filter((l) => l.trim());
  if (res.exitCode === 0 && lines.length >= 2) {
    const got = JSON.parse(lines[lines.length - 1]);
    const note = 'ran in a child process (Bun caches host name lookups per process)';
    got.notes = got.notes ? `${got.notes}; ${note}` : note;
    return got;
  }
  const e = new Error(`adapter: child process failed: ${res.stderr.toString().trim() || `exit ${res.exitCode}`}`);
  e.code = 'adapter';
  throw e;
}

const driver = {
  name: 'bun-sql',
  hello() {
    const out = {
      version: Bun.version,
      libpq: null,
      tls_library: `${boringssl()} (Bun ${Bun.version})`,
      runtime: `Bun ${Bun.version} (${Bun.revision.slice(0, 12)})`,
      build: `Bun.SQL, connection URL (Bun ${Bun.version}, ${boringssl()})`,
      // The other optional fields are unsupported: whyUnsupported says why.
      features: ['channel_binding', 'connect_options', ...SURFACES],
      extra: { bun_path: process.execPath, boringssl_revision: process.versions.boringssl || null,
        hostaddr_library: preload },
    };
    if (shimProblem) out.extra.hostaddr_problem = shimProblem;
    return out;
  },
  whyUnsupported(field) {
    return UNSUPPORTED[field];
  },
  surfaceReason(need) {
    return SURFACE_REASONS[need];
  },
  async connect(c, timeoutMs) {
    const needsMap = c.host && c.hostaddr && c.host !== c.hostaddr;
    if (needsMap && !mapHost) {
      const e = new Error(`adapter: hostaddr cannot be honoured: ${shimProblem}`);
      e.code = 'adapter';
      throw e;
    }
    // Bun caches host name lookups in the process (measured with Bun 1.4.5: a host
    // mapped to 127.0.0.1 by one case was still reached there by a later case that
    // mapped it to 127.0.0.2, with BUN_CONFIG_DNS_TIME_TO_LIVE_SECONDS=0 too). A case
    // that maps a host seen before to another address (or a host seen mapped to none)
    // runs in a fresh child process of this adapter.
    const addr = needsMap ? c.hostaddr : '';
    if (c.host && resolvedBefore.has(c.host) && resolvedBefore.get(c.host) !== addr && !process.env.PGTLS_NODE_CHILD) {
      return runFresh(c);
    }
    if (c.host) resolvedBefore.set(c.host, addr);
    if (mapHost) mapHost(needsMap ? c.host : '', addr);
    const { SQL } = require('bun');
    let sql;
    switch (c.surface || '') {
      case 'env':
      case 'url+env':
        for (const k of TLS_KEYS) if (c[k] !== null && c[k] !== undefined) process.env[TLS_ENV[k]] = String(c[k]);
        sql = c.surface === 'env'
          ? new SQL(optionsObject(without(c, TLS_KEYS), timeoutMs))
          : new SQL(connectionUrl(without(c, TLS_KEYS), timeoutMs), { max: 1, idleTimeout: 0 });
        break;
      case 'options':
      case 'url+options': {
        if (c.sslrootcert === 'system') {
          throw new Unsupported('bun-sql adapter: Bun.SQL\'s tls options take certificates (tls.ca); sslrootcert=system has no options form');
        }
        if (c.surface === 'options') sql = new SQL(optionsObject(c, timeoutMs));
        else {
          const extra = { max: 1, idleTimeout: 0 };
          if (c.sslrootcert) extra.tls = { ca: fs.readFileSync(c.sslrootcert, 'utf8') };
          sql = new SQL(connectionUrl(without(c, ['sslrootcert']), timeoutMs), extra);
        }
        break;
      }
      default:
        sql = new SQL(connectionUrl(c, timeoutMs), { max: 1, idleTimeout: 0 });
    }
    const out = { extra: { bun_sslmode: BUN_SSLMODES[sql.options.sslMode] || String(sql.options.sslMode) } };
    try {
      try {
        await sql.connect();
      } catch (e) {
        // A failed connection is the result (with the mode Bun resolved in extra).
        out.connected = false;
        out.error = errorText(e);
        out.error_code = e.code ? String(e.code) : (e.constructor && e.constructor.name) || null;
        return out;
      }
      out.connected = true;
      // Bun.SQL exposes no TLS session; the mode Bun resolved from the URL does
      // (sql.options.sslMode: 0 disable, 1 prefer, 2 require, 3 verify-ca,
      // 4 verify-full). Bun never falls back to plaintext from require or above and
      // never tries TLS under disable; prefer may do either, so tls stays unknown
      // (null) there and the mock's event decides.
      const m = sql.options.sslMode;
      out.tls = m === 0 ? false : m >= 2 ? true : null;
      out.tls_version = null;
      out.cipher = null;
      out.chain = null;
      try {
        const rows = await sql.unsafe(c.query || 'SELECT ssl_is_used()').values();
        out.query_result = rows.length ? asText(rows[0][0]) : null;
      } catch (e) {
        out.error = e.message;
        out.error_code = e.errno ? String(e.errno) : (e.code || null);
      }
    } finally {
      await sql.close({ timeout: 0 }).catch(() => {});
    }
    return out;
  },
};

async function start() {
  if (preload && !preloaded && fs.existsSync(preload)) {
    // LD_PRELOAD is read by the loader only at start-up: run this adapter again with it.
    const env = { ...process.env, LD_PRELOAD: [preload, process.env.LD_PRELOAD].filter(Boolean).join(':') };
    const child = Bun.spawn([process.execPath, path.resolve(process.argv[1]), ...process.argv.slice(2)],
      { env, stdin: 'inherit', stdout: 'inherit', stderr: 'inherit' });
    return child.exited;
  }
  return main(driver, adapterArgs, rest);
}

start()
  .then((code) => process.exit(code))
  .catch((e) => { process.stderr.write(`${e.stack}\n`); process.exit(1); });
