#!/bin/sh
# The mock server's unit tests (wire, SCRAM, query, session, a real server on
# loopback) and its fuzz target's seed corpus under valgrind memcheck:
# invalid reads and writes, uninitialised values, definite leaks. Exits 1 on
# any report. ci/test.sh runs it; about 1-2 minutes on 2 cores.
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
ninja -C "$build" fuzz/fuzz-mock >/dev/null
meson test -C "$build" --print-errorlogs --num-processes 2 --wrapper "$vg" --timeout-multiplier 10 \
    --suite ms_wire --suite ms_scram --suite ms_query --suite ms_session --suite ms_server
top=$(cd "$(dirname "$0")/.." && pwd)
$vg "$build/fuzz/fuzz-mock" "$top/fuzz/corpus/mock"
echo "valgrind-mock: no memcheck report"
