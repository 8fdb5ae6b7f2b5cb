#!/usr/bin/env bash
# pg_auto_failover (Debian packages: the PostgreSQL 15 extension for the monitor and pg_autoctl):
# the failover manager of the high-availability topology (scripts/services/ha/postgres-ha.sh) and of
# its fault test (test/chaos/failover.test.ts). Idempotent.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
apt_install postgresql-15-auto-failover pg-auto-failover-cli
