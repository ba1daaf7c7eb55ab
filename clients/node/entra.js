'use strict';
// Microsoft Entra ID tokens for the token rows (docs/entra.md "Token rows").
//
// A token case carries "entra": {"imds": URL, "client_id": GUID or null, "resource": R}.
// The real @azure/identity SDK (ManagedIdentityCredential) fetches a managed-identity
// token from the instance metadata service; AZURE_POD_IDENTITY_AUTHORITY_HOST, read by
// @azure/identity's imdsMsi and MSAL Node's Imds source when the credential is made,
// points it at the run's token service. One credential per case.

let identity = null;
let version = null;
try {
  identity = require('@azure/identity');
  version = require('@azure/identity/package.json').version;
} catch (e) {
  identity = null; // every other case still runs; the hello line has no "entra" feature
}

function available() {
  return identity !== null;
}

function credential(entra) {
  process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = entra.imds;
  return entra.client_id
    ? new identity.ManagedIdentityCredential({ clientId: entra.client_id })
    : new identity.ManagedIdentityCredential();
}

function scope(entra) {
  return `${(entra.resource || 'https://ossrdbms-aad.database.windows.net').replace(/\/+$/, '')}/.default`;
}

// Azure's documented node-postgres pattern: `password` is an async function that asks
// the credential for a token at every new connection (the credential caches it).
function passwordCallback(entra) {
  const cred = credential(entra);
  const sc = scope(entra);
  return async () => (await cred.getToken(sc)).token;
}

module.exports = { available, passwordCallback, sdkVersion: () => version };
