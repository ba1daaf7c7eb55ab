#!/bin/sh
# A longer fuzzing campaign over every registered target of a libFuzzer build
# (docs/fuzzing.md), niced, a working copy of each seed corpus, and one table:
# executions, coverage, findings per target.
#
#   [TARGETS="a b"] fuzz/campaign.sh BUILD_DIR SECONDS_PER_TARGET [PARALLEL] [OUT_DIR]
#
# BUILD_DIR: CC=clang meson setup BUILD_DIR -Dfuzzing=true
#   -Db_sanitize=address,undefined -Db_lundef=false -Dtests=false
# Exit 1 when any target crashed, leaked or tripped a sanitizer (the
# reproducer is in OUT_DIR/<target>/).
set -eu
build=$(cd "${1:?usage: fuzz/campaign.sh BUILD_DIR SECONDS_PER_TARGET [PARALLEL] [OUT_DIR]}" && pwd)
secs=${2:?seconds per target}
par=${3:-1}
top=$(cd "$(dirname "$0")/.." && pwd)
out=${4:-$top/out/fuzz-campaign}
mkdir -p "$out"
out=$(cd "$out" && pwd)
targets=""
for f in "$build"/fuzz/fuzz-*; do
    [ -f "$f" ] && [ -x "$f" ] && targets="$targets ${f##*/fuzz-}"
done
# TARGETS="a b" limits the campaign to those targets.
targets=${TARGETS:-$targets}
[ -n "$targets" ] || { echo "campaign: no fuzz targets in $build/fuzz (build with -Dfuzzing=true)" >&2; exit 2; }
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

run_one() {
    t=$1
    mkdir -p "$out/$t/corpus"
    cp -n "$top/fuzz/corpus/$t"/* "$out/$t/corpus/" 2>/dev/null || true
    set +e
    (cd "$out/$t" && nice -n 19 "$build/fuzz/fuzz-$t" corpus -max_total_time="$secs" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/$t/" \
        > log 2>&1)
    echo $? > "$out/$t/rc"
    set -e
}

running=0
for t in $targets; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$par" ]; then
        wait
        running=0
    fi
done
wait

status=0
total=0
printf '| target | executions | exec/s | coverage (edges) | corpus | result |\n|---|---:|---:|---:|---:|---|\n'
for t in $targets; do
    log=$out/$t/log
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    nc=$(ls "$out/$t/corpus" | wc -l)
    rc=$(cat "$out/$t/rc")
    if [ "$rc" = 0 ] && ! grep -q "ERROR: \|runtime error\|SUMMARY:" "$log"; then res="no finding"
    else res="FINDING (exit $rc): $(grep -m1 'ERROR: \|runtime error\|SUMMARY:' "$log")"; status=1; fi
    total=$((total + ${n:-0}))
    printf '| %s | %s | %s | %s | %s | %s |\n' "$t" "${n:-?}" "${rate:-?}" "${cov:-?}" "$nc" "$res"
done
printf '| **total** | **%s** | | | | |\n' "$total"
exit $status
