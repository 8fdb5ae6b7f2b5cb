#!/usr/bin/env bash
# `npm run ha`: the high-availability topology on this machine, then the service on it, in the
# foreground (Ctrl-C stops everything): PostgreSQL primary + synchronous standby under
# pg_auto_failover (postgres-ha.sh) and three Kafka brokers (kafka-cluster.sh), fresh each run under
# a temporary directory. In another shell, fail the primary over with
#   bash scripts/services/ha/postgres-ha.sh kill-primary <dir printed below>
# and watch the service follow (payments: `unavailable` for a few seconds, then served again).
set -euo pipefail
cd "$(dirname "$0")/../../.."
bash scripts/setup.d/pg-auto-failover.sh
bash scripts/setup.d/kafka.sh
dir=$(mktemp -d /tmp/ledger-ha.XXXXXX)
chmod 755 "$dir"
cleanup() {
  bash scripts/services/ha/kafka-cluster.sh stop "$dir" || true
  bash scripts/services/ha/postgres-ha.sh stop "$dir" || true
  rm -rf "$dir"
}
trap cleanup EXIT
echo "ha: starting PostgreSQL (monitor, primary, synchronous standby) under $dir"
db=$(bash scripts/services/ha/postgres-ha.sh start "$dir" | tail -n 1)
echo "ha: starting three Kafka brokers"
kafka=$(bash scripts/services/ha/kafka-cluster.sh start "$dir" | tail -n 1)
export "${db?}" "${kafka?}" KAFKA_REPLICATION_FACTOR=3
echo "ha: $db"
echo "ha: $kafka"
echo "ha: state:   bash scripts/services/ha/postgres-ha.sh state $dir"
echo "ha: failover: bash scripts/services/ha/postgres-ha.sh kill-primary $dir  (then: restart <node> $dir to rejoin it)"
echo "ha: broker:  bash scripts/services/ha/kafka-cluster.sh kill 1 $dir"
# AUTH_DISABLED only if the caller has no keys configured: a local playground, never a deployment.
if [ -z "${API_KEYS:-}" ] && [ -z "${API_KEYS_FILE:-}" ]; then export AUTH_DISABLED=${AUTH_DISABLED:-true}; fi
npm start
