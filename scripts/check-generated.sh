#!/usr/bin/env bash
# Fails when gen/ or schemas/ differ from what the proto files and TypeBox definitions produce.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npx buf generate --output "$tmp" 2>/dev/null
if ! diff -r "$tmp/gen" gen >/dev/null; then
  echo "gen/ is stale: run npm run generate and commit the result" >&2
  diff -r "$tmp/gen" gen | head -20 >&2
  exit 1
fi
if [ -f scripts/generate-schemas.ts ]; then
  npx tsx scripts/generate-schemas.ts --out "$tmp/schemas"
  if ! diff -r "$tmp/schemas" schemas >/dev/null; then
    echo "schemas/ is stale: run npm run generate and commit the result" >&2
    exit 1
  fi
fi
