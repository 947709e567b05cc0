#!/bin/sh
# Runs test_interop.js (CloudEvents JS SDK <-> cebridge HTTP plugin).
# Usage: run.sh CEBRIDGE_BINARY PLUGIN_DIR
# Needs node and tests/interop/node_modules (tools/install-deps runs
# `npm ci --prefix tests/interop`; this script tries the same when it is
# missing). When that is impossible the test fails under CI (CI set) and is
# skipped (exit 77) elsewhere, saying why.
set -u
here=$(cd "$(dirname "$0")" && pwd)
unavailable() {
  if [ -n "${CI:-}" ]; then
    echo "FAIL: $* (CI is set: the interop test must run)"; exit 1
  fi
  echo "SKIP: $*; run tools/install-deps (needs node, npm and the npm registry)"; exit 77
}
command -v node >/dev/null 2>&1 || unavailable "node is not installed"
if [ ! -d "$here/node_modules/cloudevents" ]; then
  command -v npm >/dev/null 2>&1 || unavailable "npm is not installed"
  npm ci --prefix "$here" --no-audit --no-fund >/dev/null 2>&1 ||
    unavailable "npm ci --prefix tests/interop failed (no registry?)"
fi
exec node "$here/test_interop.js" "$@"
