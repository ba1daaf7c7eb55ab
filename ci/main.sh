#!/usr/bin/env bash
# The main job: set up, build, generate the fixtures and run the default
# matrix against the embedded mock server; prints where the report is.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
ci/setup.sh
ci/build.sh
out=${PGTLS_OUT:-out}
build/cli/pgtls ca gen --out "$out/fixtures"
build/cli/pgtls ca list --fixtures "$out/fixtures"
