#!/usr/bin/env bash
# `npm run bench:relay [-- --rate N --seconds N --backlog N]`: relay throughput and commit-to-delivery
# latency on throwaway PostgreSQL and Kafka (or the ones named by DATABASE_URL / KAFKA_BROKERS).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
services_for_this_run bench
npx tsx scripts/bench-relay.ts "$@"
