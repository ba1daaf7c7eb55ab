#!/usr/bin/env bash
# Shared installer of the Python adapters: builds clients/<name>/.venv from that
# adapter's requirements.lock (exact versions, sha256 hashes: pip --require-hashes).
# Idempotent: a stamp holding the lockfile's hash and the interpreter's version
# makes a second run a no-op. Usage: install-venv.sh ADAPTER_DIR
set -euo pipefail
dir=$(cd "$1" && pwd)
py=${PGTLS_PYTHON:-python3}
lock="$dir/requirements.lock"
stamp="$dir/.venv/.pgtls-installed"
want="$(sha256sum "$lock" | cut -d' ' -f1) $("$py" -c 'import sys; print(sys.version.split()[0])')"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$dir/.venv/bin/python" ]; then
  exit 0
fi
rm -rf "$dir/.venv"
"$py" -m venv "$dir/.venv"
"$dir/.venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --no-cache-dir --only-binary=:all: --require-hashes -r "$lock"
printf '%s\n' "$want" > "$stamp"
echo "installed $(basename "$dir") into $dir/.venv"
