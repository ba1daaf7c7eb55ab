#!/bin/sh
# Times `pgtls ca gen` of the whole shipped catalogue: cold (empty key cache,
# every key generated) and warm (keys reused), several runs each.
# Usage: bench/ca-gen.sh [BUILD_DIR] [RUNS]      (budget: warm <= 2 s)
set -eu
build=${1:-build}
runs=${2:-5}
pgtls="$build/cli/pgtls"
[ -x "$pgtls" ] || { echo "no $pgtls: build first (meson setup $build && ninja -C $build)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/pgtls-bench-ca.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

now_ms() { date +%s%3N; }

time_gen() { # $1 = key cache
    t0=$(now_ms)
    "$pgtls" ca gen --out "$work/out" --key-cache "$1" >/dev/null
    t1=$(now_ms)
    echo $((t1 - t0))
}

summary() { # label, then values in ms
    label=$1; shift
    [ -n "$*" ] || return 0
    printf '%s' "$*" | tr ' ' '\n' | sort -n | awk -v l="$label" '
        { v[NR] = $1; s += $1 }
        END { printf "%-5s runs=%d min=%d ms median=%d ms max=%d ms mean=%.0f ms\n",
              l, NR, v[1], v[int((NR + 1) / 2)], v[NR], s / NR }'
}

cold_runs=${COLD_RUNS:-2}
cold=""
i=0
while [ "$i" -lt "$cold_runs" ]; do
    rm -rf "$work/keys"
    cold="$cold $(time_gen "$work/keys")"
    i=$((i + 1))
done
[ "$cold_runs" -gt 0 ] || "$pgtls" ca gen --out "$work/out" --key-cache "$work/keys" >/dev/null
warm=""
i=0
while [ "$i" -lt "$runs" ]; do
    warm="$warm $(time_gen "$work/keys")"
    i=$((i + 1))
done
echo "pgtls ca gen, catalogue $("$pgtls" ca gen --help | sed -n 's/^catalogue default: //p')"
echo "certificates: $(ls "$work/out/certs" | grep -c '\.pem$'), keys: $(ls "$work/keys" | wc -l)"
summary cold $cold
summary warm $warm
