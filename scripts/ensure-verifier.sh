#!/usr/bin/env bash
# The outside certificate verifier (tests/credits/verifier: Digital Bazaar's @digitalbazaar/vc stack
# under Node.js) is installed from its package-lock.json, once, at setup time; the test itself runs it
# offline. tests/credits/test_outside_verifier.py fails, never skips, without it.
set -euo pipefail
dir="$(dirname "$0")/../tests/credits/verifier"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node and npm are not installed: the outside certificate verifier needs Node.js >= 18 (then 'make verifier')" >&2
  exit 0
fi
if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
  echo "installing the outside certificate verifier (npm ci in tests/credits/verifier)..." >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
