#!/usr/bin/env bash
# scripts/services/ha/compose.yaml's monitor: creates it on first start (pg_autoctl create ... --run also runs an
# existing one), applies monitor-settings.sql once it answers, and stays in the foreground.
set -euo pipefail
pg_autoctl create monitor --auth trust --no-ssl --hostname pg-monitor --pgport 5432 --run &
keeper=$!
until psql -X -q -d pg_auto_failover -c "select 1" >/dev/null 2>&1; do sleep 1; done
psql -X -q -v ON_ERROR_STOP=1 -d pg_auto_failover -f /ha/monitor-settings.sql
wait "$keeper"
