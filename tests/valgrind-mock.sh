#!/bin/sh
# The mock server's unit tests (wire, SCRAM, query, session, a real server on
# loopback) and its fuzz target's seed corpus under valgrind memcheck:
# invalid reads and writes, uninitialised values, definite leaks. Exits 1 on
# any report. ci/test.sh runs it; about 1 minute on 2 cores.
#
#   tests/valgrind-mock.sh [BUILD_DIR]        (default build)
set -eu
build=${1:-build}
command -v valgrind >/dev/null 2>&1 || { echo "valgrind-mock: valgrind is not installed (Debian package valgrind)" >&2; exit 2; }
[ -f "$build/build.ninja" ] || { echo "valgrind-mock: no $build: meson setup $build first" >&2; exit 2; }
vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --num-callers=30"
# Check forks a child per test by default; in-process runs give valgrind
# the whole picture (and no false leaks from the fork).
CK_FORK=no
CK_DEFAULT_TIMEOUT=120
export CK_FORK CK_DEFAULT_TIMEOUT
ninja -C "$build" fuzz/fuzz-mock tests/mockserver-unit-tests >/dev/null
status=0
# One Check suite per process (CK_RUN_SUITE): about 1 minute in all on 2 cores.
for suite in ms_wire ms_scram ms_query ms_session ms_server; do
    t0=$(date +%s)
    if CK_RUN_SUITE=$suite $vg "$build/tests/mockserver-unit-tests" > "$build/meson-logs/valgrind-$suite.txt" 2>&1; then
        echo "valgrind-mock: $suite ok ($(( $(date +%s) - t0 )) s)"
    else
        echo "valgrind-mock: $suite FAILED, see $build/meson-logs/valgrind-$suite.txt:" >&2
        tail -n 40 "$build/meson-logs/valgrind-$suite.txt" >&2
        status=1
    fi
done
top=$(cd "$(dirname "$0")/.." && pwd)
if $vg "$build/fuzz/fuzz-mock" "$top/fuzz/corpus/mock" > "$build/meson-logs/valgrind-fuzz-mock.txt" 2>&1; then
    echo "valgrind-mock: fuzz-mock corpus ok"
else
    echo "valgrind-mock: fuzz-mock corpus FAILED:" >&2
    tail -n 40 "$build/meson-logs/valgrind-fuzz-mock.txt" >&2
    status=1
fi
[ "$status" = 0 ] && echo "valgrind-mock: no memcheck report"
exit $status
