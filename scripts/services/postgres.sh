#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks (Debian's binaries, trust auth, 127.0.0.1).
#   postgres.sh var          -> the variable this service provides (DATABASE_URL)
#   postgres.sh start DIR    -> starts a cluster under DIR and prints DATABASE_URL=...
#   postgres.sh stop DIR     -> stops it and returns once the postmaster is gone
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cmd=${1:?usage: postgres.sh var|start DIR|stop DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

# initdb and pg_ctl refuse to run as root: run them as the postgres user when we are root.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  var) echo DATABASE_URL ;;
  start)
    dir=${2:?DIR}/postgres
    [ -n "$bin" ] || { echo "PostgreSQL is not installed: run npm run setup" >&2; exit 1; }
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    port=$(free_port)
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1
    # Durable like production (fsync, synchronous_commit and full_page_writes on): with them off a
    # crash lost 7 to 48 payments already acknowledged to clients, so numbers and fault tests measured
    # that way said nothing about a ledger. There is no fast mode; every test and benchmark runs durable.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on \
          -c synchronous_commit=on -c full_page_writes=on -c shared_buffers=256MB" >/dev/null
    echo "DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir=${2:?DIR}/postgres
    pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null) || exit 0
    # pg_ctl waits for the postmaster, which waits for its children; stop_process is the backstop
    # when pg_ctl fails or gives up.
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    stop_process "$pid" 10
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
