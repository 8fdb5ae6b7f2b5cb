#!/usr/bin/env bash
# `npm run bench:relay [-- --rate N --seconds N --backlog N]`: relay throughput and commit-to-delivery
# latency on throwaway PostgreSQL and Kafka (or the ones named by DATABASE_URL / KAFKA_BROKERS).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

work=$(mktemp -d /tmp/ledger-bench.XXXXXX)
chmod 755 "$work"
STARTED_SERVICES=()
trap 'stop_services "$work"; rm -rf "$work"' EXIT
start_services "$work"
npx tsx scripts/bench-relay.ts "$@"
