#!/usr/bin/env bash
# `npm test`: everything a fresh clone needs to run the whole test suite — npm dependencies, the
# native stack (Debian packages and Maven artifacts on first run) — then typecheck, lint, and the
# unit + integration tests. Stops the stack afterwards if this run started it
# (PGFERRY_KEEP_STACK=1 keeps it). Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash stack/ensure-node-deps.sh

started_stack=0
if ! bash stack/stack.sh status >/dev/null 2>&1; then
  started_stack=1
fi
stop_stack() {
  if ((started_stack)) && [[ ${PGFERRY_KEEP_STACK:-0} != 1 ]]; then
    mkdir -p .stack/logs
    bash stack/stack.sh down >>.stack/logs/stack-down.log 2>&1 || true
  fi
}
trap stop_stack EXIT

bash stack/stack.sh up >&2

echo "[test] typecheck" >&2
npm run --silent typecheck
echo "[test] lint" >&2
npm run --silent lint
echo "[test] build (integration tests run the built pgferry)" >&2
npm run --silent build
echo "[test] vitest: unit + integration (against the local stack)" >&2
set +e
npx vitest run "$@"
rc=$?
set -e
stop_stack
trap - EXIT
exit $rc
