#!/usr/bin/env bash
# The whole test suite: starts every throwaway service the tests need (unless its variable is
# already set, e.g. DATABASE_URL), checks generated files are current, type-checks, runs node:test.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib.sh
services_for_this_run test

echo "test: type-checking"
npx tsc -p .

files=$(find test -name '*.test.ts' | sort)
if [ $# -gt 0 ]; then files="$*"; fi
# shellcheck disable=SC2086
node --import tsx --test --test-concurrency=2 --test-timeout=300000 $files
