#!/usr/bin/env bash
# The main job: set up (Debian packages and every client adapter), build, then
# run the default matrix (every usable client x the default suite) against the
# embedded mock server. The report lands in out/latest/ (matrix.json,
# summary.md, matrix.html, junit.xml, matrix.csv). Extra arguments go to
# `pgtls run` (e.g. --clients libpq,psql).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
ci/setup.sh
ci/build.sh
build/cli/pgtls clients
exec build/cli/pgtls run --fixtures out/fixtures --out "out/run-$(date -u +%Y%m%dT%H%M%SZ)" "$@"
