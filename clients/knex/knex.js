#!/usr/bin/env node
'use strict';
// pgtls adapter for Knex over node-postgres (pg). Two ways Knex's documentation
// shows to configure a PostgreSQL connection, two client names:
//
//   --mode connstring (client knex): knex({client: 'pg', connection: 'postgresql://
//     user:pass@host:port/db?sslmode=&sslrootcert=&application_name='}).
//     Knex parses a string connection itself (lib/knex-builder/internal/
//     parse-connection.js) with ITS OWN pg-connection-string, pinned by knex 3.3.0 at
//     2.6.2, and hands pg the resulting object (ssl object and all); pg never sees
//     the string, so pg's own pg-connection-string (2.14.1, sslnegotiation,
//     uselibpqcompat) is not used. connect_options become extra URL parameters.
//     Client knex-libpqcompat adds uselibpqcompat=true (--url-param), as pg's own
//     deprecation warning tells users to: Knex's 2.6.2 parser does not know it and
//     passes it on as a plain property pg ignores, so it is silently dropped.
//   --mode sslobj (client knex-sslobj): connection: {host, port, user, password,
//     database, ssl} with the ssl object node-postgres' documentation shows (the same
//     table as node-postgres-sslobj, docs/drivers.md): disable -> false; require ->
//     {rejectUnauthorized:false}; verify-ca -> {ca, checkServerIdentity: () =>
//     undefined}; verify-full -> {ca}; allow/prefer -> unsupported (pg has no
//     plaintext fallback). ssl_min/max_protocol_version -> minVersion/maxVersion.
//
// After pg connects, Knex runs `select version();` (acquireRawConnection ->
// checkVersion) before handing out the connection; the query then runs through
// knex.raw(). host -> hostaddr: the shared loop's dns.lookup mapping (../node/protocol.js).

const fs = require('fs');
const path = require('path');
const { main, Unsupported, asText } = require('../node/protocol');

function parseArgs(argv) {
  const opts = { mode: 'connstring', name: null, urlParams: [] };
  let i = 0;
  while (i + 1 < argv.length && ['--mode', '--client-name', '--url-param'].includes(argv[i])) {
    if (argv[i] === '--mode') opts.mode = argv[i + 1];
    else if (argv[i] === '--client-name') opts.name = argv[i + 1];
    else opts.urlParams.push(argv[i + 1]);
    i += 2;
  }
  if (!['connstring', 'sslobj'].includes(opts.mode)) throw new Error(`unknown --mode ${opts.mode} (use connstring or sslobj)`);
  opts.name = opts.name || (opts.mode === 'sslobj' ? 'knex-sslobj' : 'knex');
  return { opts, adapterArgs: argv.slice(0, i), rest: argv.slice(i) };
}

// Version of a package as installed here: from the file Node resolves for it
// starting at `from` (knex's own pg-connection-string is knex's dependency).
function versionOf(name, from) {
  const main = require.resolve(name, { paths: [from || __dirname] });
  let dir = path.dirname(main);
  while (dir !== path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (pkg.name === name) return pkg.version;
    }
    dir = path.dirname(dir);
  }
  return 'unknown';
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

// Knex's logger writes "Acquire connection error: ..." with console.log; stdout is
// the protocol's, so its messages go to stderr (Knex's documented `log` option).
const say = (m) => process.stderr.write(`knex: ${typeof m === 'string' ? m : JSON.stringify(m)}\n`);
const stderrLog = { warn: say, error: say, deprecate: say, debug: say };

function makeDriver(opts) {
  const knexFactory = require('knex');
  const knexDir = path.dirname(require.resolve('knex/package.json'));
  return {
    name: opts.name,
    hello() {
      const knex = versionOf('knex');
      const pg = versionOf('pg', knexDir); // the pg Knex's dialect requires
      const pcs = versionOf('pg-connection-string', knexDir);
      const extraParams = opts.urlParams.length ? ` + ${opts.urlParams.join('&')}` : '';
      return {
        version: knex,
        libpq: null,
        tls_library: `OpenSSL ${process.versions.openssl} (Node.js ${process.version})`,
        build: `Knex ${knex} + pg ${pg} (${opts.mode === 'connstring' ? `connection string${extraParams} parsed by Knex's pg-connection-string ${pcs}` : 'connection object with ssl'}; Node.js ${process.version}, OpenSSL ${process.versions.openssl})`,
        features: opts.mode === 'connstring' ? ['connect_options']
          : ['ssl_max_protocol_version', 'ssl_min_protocol_version'],
        extra: { framework: `Knex ${knex}`, driver: `pg ${pg}`, knex_pg_connection_string: pcs,
          pg_pg_connection_string: versionOf('pg-connection-string', path.dirname(require.resolve('pg', { paths: [knexDir] }))) },
      };
    },
    async connect(c, timeoutMs, tlsFacts) {
      let connection;
      if (opts.mode === 'connstring') {
        connection = connectionString(c, opts.urlParams);
      } else {
        connection = { host: c.host || c.hostaddr, port: c.port, user: c.user, password: c.password,
          database: c.dbname, application_name: c.application_name || undefined, ssl: sslObject(c),
          connectionTimeoutMillis: timeoutMs };
      }
      // connect timeout: the object form carries pg's connectionTimeoutMillis, as a
      // user would write it; a string has no place for it (acquireConnectionTimeout
      // and the shared loop's watchdog bound the attempt).
      const db = knexFactory({ client: 'pg', connection, acquireConnectionTimeout: timeoutMs,
        pool: { min: 0, max: 1 }, log: stderrLog });
      const out = {};
      try {
        const conn = await db.client.acquireConnection();
        try {
          out.connected = true;
          Object.assign(out, tlsFacts());
          try {
            const res = await db.raw(c.query || 'SELECT ssl_is_used()').connection(conn);
            out.query_result = res.rows.length ? asText(Object.values(res.rows[0])[0]) : null;
          } catch (e) {
            out.error = e.message;
            out.error_code = e.code || null;
          }
        } finally {
          await db.client.releaseConnection(conn);
        }
      } finally {
        await db.destroy().catch(() => {});
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
