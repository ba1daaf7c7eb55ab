#!/usr/bin/env bash
# Times what a trust world costs (docs/trust-worlds.md): the own-trust rows
# (stores default and system on the rotation scenarios) for a few clients, once
# with --trust-world on (translation of /etc/ssl/certs, Java cacerts and each
# Node bundle, plus one pgtls-world exec per adapter start) and once off.
#
#   bench/trust-world.sh [--clients a,b,c] [--reps N]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bdir=${PGTLS_BUILD_DIR:-build}
[ -x "$bdir/cli/pgtls" ] || ci/build.sh
pgtls="$bdir/cli/pgtls"
clients=libpq,pgx,node-postgres,asyncpg
reps=3
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    *) echo "usage: bench/trust-world.sh [--clients a,b,c] [--reps N]" >&2; exit 2 ;;
  esac
done
"$pgtls" ca gen --out out/fixtures >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for world in on off; do
  for ((i = 1; i <= reps; i++)); do
    t0=$(date +%s.%N)
    "$pgtls" run --no-gen --no-progress --clients "$clients" --stores default,system \
      --trust-world "$world" --out "$tmp/run-$world-$i" >/dev/null 2>&1 || true
    t1=$(date +%s.%N)
    printf 'trust-world %-3s run %d: %.2f s\n' "$world" "$i" "$(echo "$t1 - $t0" | bc)"
  done
done
