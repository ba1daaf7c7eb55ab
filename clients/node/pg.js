#!/usr/bin/env node
'use strict';
// pgtls adapter for node-postgres (pg). Two ways users configure TLS, two client names:
//
//   --mode connstring (client node-postgres): a connection string with sslmode and
//     sslrootcert, parsed by pg-connection-string (it reads the sslrootcert file into
//     ssl.ca); connect_options become extra URL parameters (e.g. uselibpqcompat=true;
//     client node-postgres-libpqcompat sets that one with --url-param).
//   --mode sslobj (client node-postgres-sslobj): host/port/... plus an explicit `ssl`
//     object, written the way node-postgres' docs show (see docs/drivers.md):
//       disable -> ssl:false; require -> {rejectUnauthorized:false};
//       verify-ca -> {ca, checkServerIdentity: () => undefined}; verify-full -> {ca};
//       allow/prefer -> unsupported (pg has no plaintext fallback).
//     ssl_min/max_protocol_version become the object's minVersion/maxVersion.
//     ca is the sslrootcert file's content; with no sslrootcert (or 'system') no ca is
//     set, so Node's bundled Mozilla roots apply, as they would for the user.
//   --modules DIR: load pg and pg-connection-string from DIR instead of this folder's
//     node_modules (a version build, clients/node-postgres@VERSION, docs/versions.md).

const fs = require('fs');
const { main, Unsupported, asText, pkgVersion, TLS_ENV, setModulesDir, requireDriver } = require('./protocol');
const entraToken = require('./entra');

// docs/surfaces.md. pg 8.x reads a URL only (pg-connection-string parses with
// new URL(str, 'postgres://base')), PGSSLMODE but never PGSSLROOTCERT
// (connection-parameters.js readSSLConfigFromEnvironment), and lets a connection
// string's sslmode replace an ssl object (Object.assign(config, parse(connectionString))).
const SURFACES = ['surface:url', 'surface:env', 'surface:options', 'surface:url+options', 'surface:url+env'];
const SURFACE_REASONS = {
  'surface:conninfo': 'node-postgres reads no keyword=value string: pg-connection-string parses a connection string with new URL(str, \'postgres://base\'), so "host=... sslmode=..." becomes a path on the host "base"',
  'surface:npgsql': 'node-postgres has no parser for the ADO.NET form (Key=Value;...): pg-connection-string reads URLs only',
  literal: 'node-postgres: the source pages show libpq conninfo strings and an Npgsql string, neither of which pg-connection-string reads',
};

// The case's TLS settings as libpq's PG* variables (pg reads what it reads).
function setTlsEnv(c) {
  for (const [k, name] of Object.entries(TLS_ENV)) {
    if (c[k] !== null && c[k] !== undefined) process.env[name] = String(c[k]);
  }
}

const NO_TLS = { sslmode: null, sslrootcert: null };

function parseArgs(argv) {
  const opts = { mode: 'connstring', name: null, urlParams: [] };
  let i = 0;
  while (i + 1 < argv.length && ['--mode', '--client-name', '--url-param', '--modules'].includes(argv[i])) {
    if (argv[i] === '--mode') opts.mode = argv[i + 1];
    else if (argv[i] === '--client-name') opts.name = argv[i + 1];
    else if (argv[i] === '--modules') setModulesDir(argv[i + 1]);
    else opts.urlParams.push(argv[i + 1]);
    i += 2;
  }
  if (!['connstring', 'sslobj'].includes(opts.mode)) throw new Error(`unknown --mode ${opts.mode}`);
  opts.name = opts.name || (opts.mode === 'sslobj' ? 'node-postgres-sslobj' : 'node-postgres');
  return { opts, adapterArgs: argv.slice(0, i), rest: argv.slice(i) };
}

function connectionString(c, urlParams) {
  const host = c.host || c.hostaddr || 'localhost';
  const auth = c.user ? `${encodeURIComponent(c.user)}${c.password ? `:${encodeURIComponent(c.password)}` : ''}@` : '';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const params = new URLSearchParams();
  if (c.sslmode) params.set('sslmode', c.sslmode);
  if (c.sslrootcert) params.set('sslrootcert', c.sslrootcert);
  if (c.application_name) params.set('application_name', c.application_name);
  for (const p of urlParams) {
    const eq = p.indexOf('=');
    params.set(p.slice(0, eq), p.slice(eq + 1));
  }
  for (const [k, v] of Object.entries(c.connect_options || {})) params.set(k, String(v));
  const q = params.toString();
  return `postgresql://${auth}${hostPart}${c.port ? `:${c.port}` : ''}/${encodeURIComponent(c.dbname || '')}${q ? `?${q}` : ''}`;
}

// TLS protocol bounds: libpq's names are Node's (TLSv1, TLSv1.1, TLSv1.2, TLSv1.3).
function bounds(c) {
  const b = {};
  if (c.ssl_min_protocol_version) b.minVersion = c.ssl_min_protocol_version;
  if (c.ssl_max_protocol_version) b.maxVersion = c.ssl_max_protocol_version;
  return b;
}

function sslObject(c) {
  const mode = c.sslmode || 'prefer';
  const ca = () => ({ ...bounds(c), ...(c.sslrootcert && c.sslrootcert !== 'system' ? { ca: fs.readFileSync(c.sslrootcert, 'utf8') } : {}) });
  switch (mode) {
    case 'disable': return false;
    case 'allow':
    case 'prefer':
      throw new Unsupported(`node-postgres has no plaintext fallback: no ssl object expresses sslmode=${mode}`);
    case 'require': return { ...bounds(c), rejectUnauthorized: false };
    case 'verify-ca': return { ...ca(), checkServerIdentity: () => undefined };
    case 'verify-full': return { ...ca() };
    default: throw new Unsupported(`unknown sslmode ${mode}`);
  }
}

function makeDriver(opts) {
  const { Client } = requireDriver('pg');
  return {
    name: opts.name,
    hello() {
      const pg = pkgVersion('pg');
      const pcs = pkgVersion('pg-connection-string');
      const extra = opts.urlParams.length ? `, ${opts.urlParams.join('&')}` : '';
      return {
        version: pg,
        libpq: null,
        tls_library: `OpenSSL ${process.versions.openssl} (Node.js ${process.version})`,
        build: `pg ${pg} + pg-connection-string ${pcs} (${opts.mode}${extra}; Node.js ${process.version}, OpenSSL ${process.versions.openssl})`,
        // "entra": token rows through @azure/identity (docs/entra.md)
        features: (opts.mode === 'connstring' ? ['connect_options']
          : ['ssl_max_protocol_version', 'ssl_min_protocol_version']).concat(SURFACES)
          .concat(entraToken.available() ? ['entra'] : []),
        extra: { azure_identity: entraToken.sdkVersion() },
      };
    },
    surfaceReason(need) {
      return SURFACE_REASONS[need] || null;
    },
    async connect(c, timeoutMs, tlsFacts) {
      const base = { connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs,
        types: { getTypeParser: () => (v) => v } };
      let config;
      const target = { host: c.host || c.hostaddr, port: c.port, user: c.user, password: c.password,
        database: c.dbname, application_name: c.application_name || undefined };
      if (c.surface === 'url') {
        config = { ...base, connectionString: connectionString(c, opts.urlParams) };
      } else if (c.surface === 'options') {
        config = { ...base, ...target, ssl: sslObject(c) };
      } else if (c.surface === 'env') {
        setTlsEnv(c);
        config = { ...base, ...target };
      } else if (c.surface === 'url+options') {
        // The URL carries the target and sslmode, the ssl object the trust.
        config = { ...base, connectionString: connectionString({ ...c, sslrootcert: null }, opts.urlParams),
          ssl: sslObject(c) };
      } else if (c.surface === 'url+env') {
        setTlsEnv(c);
        config = { ...base, connectionString: connectionString({ ...c, ...NO_TLS }, opts.urlParams) };
      } else if (opts.mode === 'connstring') {
        config = { ...base, connectionString: connectionString(c, opts.urlParams) };
      } else {
        config = { ...base, host: c.host || c.hostaddr, port: c.port, user: c.user, password: c.password,
          database: c.dbname, application_name: c.application_name || undefined, ssl: sslObject(c) };
      }
      if (c.entra) {
        // Azure's documented pattern: the password is an async function that returns a
        // fresh token. Beside a connection string it is the same option; pg then lets
        // the string's (absent) password win (brianc/node-postgres#3327).
        config.password = entraToken.passwordCallback(c.entra);
      }
      const client = new Client(config);
      client.on('error', () => {});
      const out = {};
      try {
        await client.connect();
        out.connected = true;
        Object.assign(out, tlsFacts());
        try {
          const res = await client.query({ text: c.query || 'SELECT ssl_is_used()', rowMode: 'array' });
          out.query_result = res.rows.length ? asText(res.rows[0][0]) : null;
        } catch (e) {
          out.error = e.message;
          out.error_code = e.code || null;
        }
      } finally {
        await client.end().catch(() => {});
      }
      return out;
    },
  };
}

if (require.main === module) {
  let parsed;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  main(makeDriver(parsed.opts), parsed.adapterArgs, parsed.rest)
    .then((code) => process.exit(code))
    .catch((e) => { process.stderr.write(`${e.stack}\n`); process.exit(1); });
}
