#!/usr/bin/env bash
# Installs everything the service, its tests and benchmarks need on a fresh Debian machine.
# Idempotent: every step checks what is already there. Extra steps live in scripts/setup.d/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

# PostgreSQL and Redis for tests; the C libraries @confluentinc/kafka-javascript links against
# when it builds librdkafka from source (its prebuilt binaries cannot be downloaded here).
apt_install ca-certificates curl postgresql redis-server build-essential python3 \
  zlib1g-dev libssl-dev libzstd-dev libcurl4-openssl-dev libsasl2-dev liblz4-dev

stamp=node_modules/.setup-stamp
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing npm dependencies (builds librdkafka, about two minutes)"
  CKJS_LINKING=dynamic npm ci --no-audit --no-fund
  echo "$want" >"$stamp"
fi

for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  bash "$step"
done
echo "setup: done"
