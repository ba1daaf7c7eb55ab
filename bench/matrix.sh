#!/usr/bin/env bash
# Times the full default matrix for libpq, psql and openssl-s_client against
# the embedded mock (budget: <= 60 s on 2 cores) and prints the
# figure. Fixtures are generated first (not timed: certs-gen has its own
# budget); the run itself uses them as they are.
#
#   bench/matrix.sh [--jobs N] [--clients a,b,c] [extra pgtls run flags...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bdir=${PGTLS_BUILD_DIR:-build}
[ -x "$bdir/cli/pgtls" ] || ci/build.sh
pgtls="$bdir/cli/pgtls"
jobs=2
clients=libpq,psql,openssl-s_client
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    *) extra+=("$1"); shift ;;
  esac
done
fixtures=${PGTLS_BENCH_FIXTURES:-out/bench/fixtures}
out=out/bench/run
"$pgtls" ca gen --out "$fixtures" >/dev/null
rm -rf "$out"
start=$(date +%s.%N)
set +e
"$pgtls" run --clients "$clients" --jobs "$jobs" --fixtures "$fixtures" --no-gen \
  --out "$out" --no-progress "${extra[@]}" >out/bench/run.log 2>&1
status=$?
set -e
end=$(date +%s.%N)
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
rows=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(sum(len(c["results"]) for c in m["cases"]))' "$out/matrix.json" 2>/dev/null || echo "?")
tail -n 5 out/bench/run.log
echo "bench/matrix: default suite, clients $clients, --jobs $jobs on $(nproc) cores: $rows case runs in $secs s (budget 60 s), pgtls run exit $status"
