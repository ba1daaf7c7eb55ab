#!/usr/bin/env bash
# Configures (once) and builds pgtls in build/ (or $PGTLS_BUILD_DIR).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bdir=${PGTLS_BUILD_DIR:-build}
if [ ! -f "$bdir/build.ninja" ]; then
  meson setup "$bdir" "$@" >/dev/null
fi
ninja -C "$bdir" >/dev/null
