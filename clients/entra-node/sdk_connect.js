#!/usr/bin/env node
// Signs in to PostgreSQL with a Microsoft Entra ID token from the real
// @azure/identity SDK (ManagedIdentityCredential asks the instance metadata
// service; AZURE_POD_IDENTITY_AUTHORITY_HOST, honoured by @azure/identity and
// MSAL, points it at `pgtls imds`), with node-postgres (docs/entra.md).
//
// usage: sdk_connect.js --port N [--user U] [--client-id ID] [--mode M]
//                       [--connections K] [--sleep S]
// modes:
//   callback  a pg.Pool whose password is a function: a token per new
//             connection (node-postgres's password callback)
//   static    one token fetched at start-up is the pool's password
// Prints one JSON line per connection attempt; exit 0 when every attempt ran.
"use strict";
const { ManagedIdentityCredential } = require("@azure/identity");
const pg = require("pg");

const SCOPE = "https://ossrdbms-aad.database.windows.net/.default";

function args(argv) {
  const a = { host: "127.0.0.1", user: "pgtls-vm", dbname: "postgres", mode: "callback",
              connections: 1, sleep: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(k in a) && !["port", "clientId"].includes(k)) {
      console.error(`sdk_connect.js: unknown option ${argv[i]}`);
      process.exit(2);
    }
    a[k] = argv[i + 1];
  }
  return a;
}

async function main() {
  const a = args(process.argv.slice(2));
  const cred = a.clientId ? new ManagedIdentityCredential({ clientId: a.clientId })
                          : new ManagedIdentityCredential();
  let staticToken = null;
  if (a.mode === "static") {
    try {
      staticToken = (await cred.getToken(SCOPE)).token;
    } catch (e) {
      console.log(JSON.stringify({ attempt: 1, mode: a.mode, ok: false, stage: "token",
                                   error: String(e.message).split("\n")[0] }));
      return 0;
    }
  }
  const pool = new pg.Pool({
    host: a.host, port: Number(a.port), user: a.user, database: a.dbname,
    ssl: { rejectUnauthorized: false }, connectionTimeoutMillis: 10000,
    idleTimeoutMillis: 1, // every attempt opens a new connection
    password: a.mode === "static" ? staticToken : async () => (await cred.getToken(SCOPE)).token,
  });
  for (let i = 0; i < Number(a.connections); i++) {
    if (i) await new Promise((r) => setTimeout(r, Number(a.sleep) * 1000));
    const row = { attempt: i + 1, mode: a.mode };
    try {
      const r = await pool.query("select current_user");
      row.current_user = r.rows[0].current_user;
      row.ok = true;
    } catch (e) {
      row.ok = false;
      row.stage = e.name === "CredentialUnavailableError" || e.name === "AuthenticationError"
        ? "token" : "connect";
      row.error = String(e.message).split("\n")[0];
    }
    console.log(JSON.stringify(row));
  }
  await pool.end();
  return 0;
}

main().then((rc) => process.exit(rc), (e) => { console.error(e); process.exit(1); });
