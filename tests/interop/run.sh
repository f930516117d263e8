#!/usr/bin/env bash
# Reader interop tests: creates a venv (default .venv, or $INTEROP_VENV) with
# the pinned readers, builds the release binary if needed, runs pytest.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${INTEROP_VENV:-$root/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$root/tests/interop/requirements.txt"
fi
if [ -z "${LAKEAUG_BIN:-}" ]; then
  (cd "$root" && cargo build --release --quiet)
  export LAKEAUG_BIN="$root/target/release/lakeaug"
fi
cd "$root"
exec "$venv/bin/python" -m pytest -q tests/interop "$@"
