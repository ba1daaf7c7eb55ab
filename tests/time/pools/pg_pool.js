// pg.Pool (node-postgres) across a live chain rotation of the mock.
// usage: node pg_pool.js PORT HOST USER PASSWORD CA_FILE
// The mock rotates after 2 connections: the pool's first two connections
// carry the old chain, any later one the new chain. Prints one JSON line:
// what the pool did (docs/rotation-in-time.md, "Pools across a rotation").
'use strict';
const fs = require('fs');
const path = require('path');
const { Pool } = require(path.join(__dirname, '..', '..', '..', 'clients', 'node', 'node_modules', 'pg'));

const [port, host, user, password, caFile] = process.argv.slice(2);
const pool = new Pool({
  host: '127.0.0.1', port: Number(port), user, password, database: 'postgres',
  ssl: { ca: fs.readFileSync(caFile, 'utf8'), servername: host },
  max: 4, idleTimeoutMillis: 0, connectionTimeoutMillis: 5000,
});
pool.on('error', () => {}); // an idle client's error must not crash the check

async function use(n) {
  // n clients at once: idle ones are reused first, the rest are new
  const got = await Promise.allSettled(Array.from({ length: n }, () => pool.connect()));
  const ok = [], errors = [];
  for (const g of got) {
    if (g.status === 'fulfilled') ok.push(g.value);
    else errors.push(String(g.reason && g.reason.message || g.reason));
  }
  let queried = 0;
  for (const c of ok) {
    try { await c.query('select 1'); queried++; } catch (e) { errors.push(String(e.message)); }
  }
  return { ok, queried, errors };
}

(async () => {
  const out = { client: 'pg.Pool', pg: require(path.join(__dirname, '..', '..', '..', 'clients', 'node', 'node_modules', 'pg', 'package.json')).version };
  const first = await use(2);                 // the two old-chain connections
  out.before = first.queried;
  first.ok.forEach((c) => c.release());
  const again = await use(2);                 // reused: still the old chain
  out.reused_ok = again.queried;
  const more = await use(2);                  // with two held, two new ones: new chain
  out.new_ok = more.queried;
  out.new_errors = more.errors;
  again.ok.forEach((c) => c.release());
  more.ok.forEach((c) => c.release());
  const after = await use(2);                 // does the pool still serve?
  out.after_ok = after.queried;
  after.ok.forEach((c) => c.release());
  out.total_connections = pool.totalCount;
  await pool.end();
  console.log(JSON.stringify(out));
})().catch((e) => { console.log(JSON.stringify({ error: String(e.message || e) })); process.exit(1); });
