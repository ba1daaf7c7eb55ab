#!/usr/bin/env node
'use strict';
// pgtls adapter for postgres.js (the npm package `postgres`).
//
// The case becomes a connection URL the way users write one:
//   postgres://user:pass@host:port/db?sslmode=...&sslrootcert=...
// postgres.js copies sslmode to its `ssl` option (disable/allow/prefer/require/verify-ca/
// verify-full) and sends every URL parameter it does not know, sslrootcert included, to
// the server as a startup parameter. That is the driver's behaviour and the finding: a
// real server answers `unrecognized configuration parameter "sslrootcert"`. The adapter
// does not pre-empt it. connect_options become extra URL parameters; sslnegotiation
// goes into the URL too (postgres.js >= 3.4.8 reads it there).
//
// --mode sslobj (client postgresjs-sslobj): what a user does to trust a private CA:
// the URL without sslmode/sslrootcert and an `ssl` option instead:
//   disable -> false; allow/prefer/require -> that string (postgres.js's own modes,
//   no verification); verify-ca -> {ca, checkServerIdentity: () => undefined};
//   verify-full -> {ca}. ca is the sslrootcert file's content (none: Node's roots).
//   ssl_min/max_protocol_version -> minVersion/maxVersion in the object (require then
//   becomes {rejectUnauthorized:false, ...}; allow/prefer with bounds: unsupported).

const fs = require('fs');
const { main, Unsupported, asText, pkgVersion, TLS_ENV } = require('./protocol');

// docs/surfaces.md. postgres.js 3.4.x (src/index.js parseOptions) reads a URL only,
// takes each option from the options object first, then the URL, then
// env['PG' + NAME] (PGSSL for ssl, PGSSLNEGOTIATION): it never reads PGSSLMODE or
// PGSSLROOTCERT, and an ssl option wins over a URL's sslmode.
const SURFACES = ['surface:url', 'surface:env', 'surface:options', 'surface:url+options', 'surface:url+env'];
const SURFACE_REASONS = {
  'surface:conninfo': 'postgres.js reads no keyword=value string: parseOptions takes a URL (new URL) or an options object',
  'surface:npgsql': 'postgres.js has no parser for the ADO.NET form (Key=Value;...): it reads URLs and options objects',
  literal: 'postgres.js: the source pages show libpq conninfo strings and an Npgsql string, neither of which it reads',
};

let mode = 'url';
let clientName = 'postgresjs';

// withTls: sslmode and sslrootcert go in the URL (the default form: in url mode
// only); sslnegotiation goes in it unless the settings are elsewhere (withNeg false).
function url(c, withTls, withNeg = true) {
  if (withTls === undefined) withTls = mode === 'url';
  const host = c.host || c.hostaddr || 'localhost';
  const auth = c.user ? `${encodeURIComponent(c.user)}${c.password ? `:${encodeURIComponent(c.password)}` : ''}@` : '';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const params = new URLSearchParams();
  if (withTls && c.sslmode) params.set('sslmode', c.sslmode);
  if (withTls && c.sslrootcert) params.set('sslrootcert', c.sslrootcert);
  if (withNeg && c.sslnegotiation) params.set('sslnegotiation', c.sslnegotiation);
  for (const [k, v] of Object.entries(c.connect_options || {})) params.set(k, String(v));
  const q = params.toString();
  return `postgres://${auth}${hostPart}${c.port ? `:${c.port}` : ''}/${encodeURIComponent(c.dbname || '')}${q ? `?${q}` : ''}`;
}

function sslOption(c) {
  const m = c.sslmode || 'prefer';
  const bounds = {};
  if (c.ssl_min_protocol_version) bounds.minVersion = c.ssl_min_protocol_version;
  if (c.ssl_max_protocol_version) bounds.maxVersion = c.ssl_max_protocol_version;
  const ca = () => ({ ...bounds, ...(c.sslrootcert && c.sslrootcert !== 'system' ? { ca: fs.readFileSync(c.sslrootcert, 'utf8') } : {}) });
  switch (m) {
    case 'disable': return false;
    case 'allow': case 'prefer':
      if (Object.keys(bounds).length) {
        throw new Unsupported(`postgres.js: sslmode=${m} is a string option; an ssl object (needed for protocol bounds) has no fallback`);
      }
      return m;
    case 'require':
      return Object.keys(bounds).length ? { ...bounds, rejectUnauthorized: false } : m;
    case 'verify-ca': return { ...ca(), checkServerIdentity: () => undefined };
    case 'verify-full': return { ...ca() };
    default: throw new Unsupported(`unknown sslmode ${m}`);
  }
}

const driver = {
  get name() { return clientName; },
  hello() {
    const v = pkgVersion('postgres');
    return {
      version: v,
      libpq: null,
      tls_library: `OpenSSL ${process.versions.openssl} (Node.js ${process.version})`,
      build: `postgres.js ${v} (${mode}; Node.js ${process.version}, OpenSSL ${process.versions.openssl})`,
      features: (mode === 'sslobj'
        ? ['connect_options', 'ssl_max_protocol_version', 'ssl_min_protocol_version', 'sslnegotiation']
        : ['connect_options', 'sslnegotiation']).concat(SURFACES),
    };
  },
  surfaceReason(need) {
    return SURFACE_REASONS[need] || null;
  },
  async connect(c, timeoutMs, tlsFacts) {
    const postgres = require('postgres');
    const out = {};
    const notices = [];
    const base = {
      connect_timeout: Math.max(1, Math.ceil(timeoutMs / 1000)),
      idle_timeout: 1,
      max: 1,
      prepare: false,
      onnotice: (n) => notices.push(n.message),
      connection: c.application_name ? { application_name: c.application_name } : {},
    };
    const setTlsEnv = () => {
      for (const [k, name] of Object.entries(TLS_ENV)) {
        if (c[k] !== null && c[k] !== undefined) process.env[name] = String(c[k]);
      }
    };
    const target = { host: c.host || c.hostaddr || 'localhost', port: c.port, user: c.user,
      password: c.password, database: c.dbname };
    let sql;
    if (c.surface === 'url') {
      sql = postgres(url(c, true), base);
    } else if (c.surface === 'options') {
      sql = postgres({ ...base, ...target, ssl: sslOption(c),
        ...(c.sslnegotiation ? { sslnegotiation: c.sslnegotiation } : {}) });
    } else if (c.surface === 'env') {
      setTlsEnv();
      sql = postgres({ ...base, ...target });
    } else if (c.surface === 'url+options') {
      // The URL carries the target and sslmode, the ssl option the trust.
      sql = postgres(url({ ...c, sslrootcert: null }, true, false), { ...base, ssl: sslOption(c),
        ...(c.sslnegotiation ? { sslnegotiation: c.sslnegotiation } : {}) });
    } else if (c.surface === 'url+env') {
      setTlsEnv();
      sql = postgres(url(c, false, false), base);
    } else {
      sql = postgres(url(c), { ...base, ...(mode === 'sslobj' ? { ssl: sslOption(c) } : {}) });
    }
    try {
      // postgres.js connects lazily: the first query opens the connection, so a
      // connection error and a query error arrive the same way; a failed query on an
      // open connection has severity ERROR (startup failures are FATAL).
      let rows;
      try {
        rows = await sql.unsafe(c.query || 'SELECT ssl_is_used()').values();
      } catch (e) {
        if (e.severity === 'ERROR') {
          out.connected = true;
          Object.assign(out, tlsFacts());
          out.error = e.message;
          out.error_code = e.code;
          return out;
        }
        throw e;
      }
      out.connected = true;
      Object.assign(out, tlsFacts());
      out.query_result = rows.length ? asText(rows[0][0]) : null;
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
    return out;
  },
};

if (require.main === module) {
  const argv = process.argv.slice(2);
  let i = 0;
  while (i + 1 < argv.length && ['--mode', '--client-name'].includes(argv[i])) {
    if (argv[i] === '--mode') mode = argv[i + 1];
    else clientName = argv[i + 1];
    i += 2;
  }
  if (!['url', 'sslobj'].includes(mode)) {
    process.stderr.write(`unknown --mode ${mode}\n`);
    process.exit(2);
  }
  if (mode === 'sslobj' && clientName === 'postgresjs') clientName = 'postgresjs-sslobj';
  main(driver, argv.slice(0, i), argv.slice(i))
    .then((code) => process.exit(code))
    .catch((e) => { process.stderr.write(`${e.stack}\n`); process.exit(1); });
}
