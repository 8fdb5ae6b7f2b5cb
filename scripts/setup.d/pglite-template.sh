#!/usr/bin/env bash
# The embedded default's initialised cluster (.tools/pglite-template/), so that a first `npm start`
# without DATABASE_URL skips PGlite's initdb (about 700 MB for a few seconds). Idempotent: one
# template per PGlite version. Without it the service still starts, initialising in a child process.
set -euo pipefail
cd "$(dirname "$0")/../.."
npx tsx scripts/pglite-template.ts
