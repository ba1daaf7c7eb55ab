#!/usr/bin/env bash
# Installs a node-postgres version build (clients/node-postgres@VERSION, made by
# `pgtls clients add`; docs/versions.md): npm ci in that folder, exactly as its
# package-lock.json pins pg and pg-connection-string (integrity hashes). The adapter
# code stays clients/node/pg.js, started with --modules FOLDER/node_modules.
# Idempotent: skipped when node_modules/.pgtls-lock.sha256 matches package-lock.json.
# Usage: install-version.sh FOLDER
set -euo pipefail
dir=$(cd "$1" && pwd)
for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$(basename "$dir")/install: skipped: $tool not found" >&2
    [ "${PGTLS_REQUIRE_ALL_CLIENTS:-0}" = 1 ] && exit 1
    exit 0
  fi
done
cd "$dir"
if [ -f node_modules/.pgtls-lock.sha256 ] && sha256sum --check --status node_modules/.pgtls-lock.sha256 2>/dev/null; then
  exit 0
fi
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
sha256sum package-lock.json > node_modules/.pgtls-lock.sha256
echo "installed $(basename "$dir") into $dir/node_modules"
