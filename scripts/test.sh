#!/usr/bin/env bash
# The whole test suite: starts every throwaway service the tests need (unless its variable is
# already set, e.g. DATABASE_URL), checks generated files are current, type-checks, runs node:test.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/ledger-test.XXXXXX)
chmod 755 "$work"
started=()
cleanup() {
  for svc in "${started[@]}"; do bash "scripts/services/$svc.sh" stop "$work" || true; done
  rm -rf "$work"
}
trap cleanup EXIT

for script in scripts/services/*.sh; do
  svc=$(basename "$script" .sh)
  var=$(bash "$script" var)
  if [ -n "${!var:-}" ]; then
    echo "test: using $var from the environment"
    continue
  fi
  echo "test: starting $svc"
  started+=("$svc")
  line=$(bash "$script" start "$work" | tail -n 1)
  export "${line?}"
done

echo "test: type-checking"
npx tsc -p .

files=$(find test -name '*.test.ts' | sort)
if [ $# -gt 0 ]; then files="$*"; fi
# shellcheck disable=SC2086
node --import tsx --test --test-concurrency=2 --test-timeout=300000 $files
