#!/usr/bin/env bash
# Runs every test suite: sets up, builds, runs `meson test` (unit,
# integration, clients, fidelity, fuzz), then the unit, integration and fuzz suites
# again under ASan/UBSan (the fuzz corpus is worth most there), the "threads"
# suite under ThreadSanitizer, the fuzz targets with libFuzzer (clang), and the
# mock's tests under valgrind. Exits non-zero when any test fails.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
ci/setup.sh || exit 2
ci/build.sh || exit 2

# Runs a build step quietly; on failure prints its output (meson and ninja
# write their errors to stdout) and names the step.
quiet() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "ci/test.sh: failed: $*" >&2
    return 1
  fi
  rm -f "$log"
}

status=0
meson test -C build --print-errorlogs --num-processes 2 || status=1

if [ "${PGTLS_SKIP_ASAN:-0}" != 1 ]; then
  if [ ! -f build-asan/build.ninja ]; then
    quiet meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false || exit 2
  fi
  quiet ninja -C build-asan || exit 2
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-asan --print-errorlogs --num-processes 2 --suite unit --suite integration --suite fuzz \
    || status=1
fi

# The mock's threads (acceptor, one per connection, event delivery, reload)
# and repro's event capture under ThreadSanitizer: suite "threads" (the mock's
# unit and integration tests, `pgtls repro --exec`). A data race fails it.
if [ "${PGTLS_SKIP_TSAN:-0}" != 1 ]; then
  if [ ! -f build-tsan/build.ninja ]; then
    quiet meson setup build-tsan -Db_sanitize=thread -Db_lundef=false || exit 2
  fi
  # Only what the suite runs: the pgtls binary, the trust-world helper that
  # `pgtls run` starts each client in, the mock's unit tests, the libpq
  # adapter and the runner's fake adapter.
  quiet ninja -C build-tsan cli/pgtls runner/pgtls-world tests/mockserver-unit-tests \
    clients/libpq/pgtls-adapter-libpq runner/rn-fake-adapter || exit 2
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    meson test -C build-tsan --no-rebuild --print-errorlogs --num-processes 2 --suite threads \
    || status=1
fi

# The fuzz targets with libFuzzer (coverage-guided, ASan+UBSan), each for
# -Dfuzz_seconds; only the targets are built (docs/fuzzing.md).
if [ "${PGTLS_SKIP_FUZZ:-0}" != 1 ] && command -v clang >/dev/null 2>&1; then
  if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang quiet meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
      -Db_lundef=false -Dtests=false || exit 2
  fi
  quiet ninja -C build-fuzz $(cd build-fuzz && ls -d fuzz/fuzz-* | grep -v '\.p$') || exit 2
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-fuzz --no-rebuild --print-errorlogs --num-processes 2 --suite fuzz \
    || status=1
fi

# The mock's unit tests and its fuzz target under valgrind (memcheck: invalid
# accesses, uninitialised reads, leaks), docs/mockserver.md.
if [ "${PGTLS_SKIP_VALGRIND:-0}" != 1 ] && command -v valgrind >/dev/null 2>&1; then
  tests/valgrind-mock.sh build || status=1
fi

# One closing line any reader understands.
python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
  build-tsan/meson-logs/testlog.json build-fuzz/meson-logs/testlog.json <<'PY'
import json, sys, os
ok = bad = skip = 0
for path in sys.argv[1:]:
    if not os.path.exists(path):
        continue
    for line in open(path):
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"): ok += 1
        elif r == "SKIP": skip += 1
        else: bad += 1
print(f"tests: {ok} passed, {bad} failed, {skip} skipped")
PY
exit $status
