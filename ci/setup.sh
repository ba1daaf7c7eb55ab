#!/usr/bin/env bash
# Installs what pgtls needs on a Debian machine: the packages listed in
# ci/debian-packages.txt (with apt-get when root; otherwise prints the exact
# command), then every client adapter's own install step
# (clients/<name>/install, from that ecosystem's registry).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' ci/debian-packages.txt | grep -v '^$')
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages; run as root:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 2
  fi
fi

# Real trust-store snapshots for `pgtls stores` (pinned with hashes).
if [ "${PGTLS_SKIP_CLIENT_INSTALL:-0}" != 1 ]; then
  echo "setup: stores/install"
  stores/install
fi
# Real PostgreSQL servers of majors 16-18 for the fidelity suite's major axis
# (docs/fidelity.md), pinned by fidelity/servers/package-lock.json.
echo "setup: fidelity/servers/install"
fidelity/servers/install

# Client adapters install their drivers from their own registries.
if [ "${PGTLS_SKIP_CLIENT_INSTALL:-0}" != 1 ]; then
  for inst in clients/*/install; do
    [ -x "$inst" ] || continue
    echo "setup: $inst"
    "$inst"
  done
fi
