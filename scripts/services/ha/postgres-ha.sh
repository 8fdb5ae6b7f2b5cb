#!/usr/bin/env bash
# A highly available PostgreSQL on loopback ports: a primary and a synchronous hot standby with
# automatic failover by pg_auto_failover (a monitor and one keeper per node; Debian packages
# postgresql-15-auto-failover and pg-auto-failover-cli, installed by scripts/setup.d/pg-auto-failover.sh).
# Not started for every test run (it lives below scripts/services/ha/, which start_services does not
# read): the failover test (test/chaos/failover.test.ts) and operators start it.
#
#   postgres-ha.sh start DIR        -> monitor + node1 (primary) + node2 (synchronous standby) under
#                                      DIR/pg-ha; prints DATABASE_URL=... (both nodes,
#                                      target_session_attrs=read-write) as its last line
#   postgres-ha.sh state DIR        -> the monitor's view: one line per node
#                                      "name port reported-state goal-state"
#   postgres-ha.sh kill-primary DIR -> kill -9 of the current primary's whole node (keeper, postmaster
#                                      and every backend at once: a machine that died); prints its name
#   postgres-ha.sh restart NAME DIR -> starts a killed node's keeper again (it rejoins as a standby)
#   postgres-ha.sh stop DIR         -> stops everything
#
# Durable like production: fsync, synchronous_commit and full_page_writes on. The failover timings
# (health checks every second, primary_demote_timeout 3 s instead of 30 s) are set on the monitor
# from monitor-settings.sql, which scripts/services/ha/compose.yaml's monitor applies too; README "High
# availability" says what they trade.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
source "$root/scripts/lib.sh"
cmd=${1:?usage: postgres-ha.sh start|state|kill-primary|restart NAME|stop DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

if [ "$cmd" = restart ]; then
  name=${2:?NAME}
  shift
fi
dir=${2:?DIR}/pg-ha

# pg_autoctl keeps its configuration and state under XDG directories: keep them inside DIR, so that
# several topologies (and other people's) never share them.
# pga_limit=N before the call: give up after N seconds (timeout's exit status 124).
pgautoctl() {
  local env=(env "XDG_CONFIG_HOME=$dir/xdg/config" "XDG_DATA_HOME=$dir/xdg/data" "XDG_RUNTIME_DIR=$dir/xdg/run"
    "PATH=$bin:$PATH" "PG_CONFIG=$bin/pg_config")
  if [ "$(id -u)" -eq 0 ]; then timeout "${pga_limit:-0}" runuser -u postgres -- "${env[@]}" pg_autoctl "$@"
  else timeout "${pga_limit:-0}" "${env[@]}" pg_autoctl "$@"; fi
}

# Runs `pg_autoctl run` for a data directory in the background, outliving this script; its pid
# (the root of the node's process tree) goes to DIR/pg-ha/<name>.pid.
run_keeper() {
  local pgdata=$1 log=$2
  if [ "$(id -u)" -eq 0 ]; then
    setsid runuser -u postgres -- env "XDG_CONFIG_HOME=$dir/xdg/config" "XDG_DATA_HOME=$dir/xdg/data" \
      "XDG_RUNTIME_DIR=$dir/xdg/run" "PATH=$bin:$PATH" pg_autoctl run --pgdata "$pgdata" >>"$log" 2>&1 </dev/null &
  else
    setsid env "XDG_CONFIG_HOME=$dir/xdg/config" "XDG_DATA_HOME=$dir/xdg/data" "XDG_RUNTIME_DIR=$dir/xdg/run" \
      "PATH=$bin:$PATH" pg_autoctl run --pgdata "$pgdata" >>"$log" 2>&1 </dev/null &
  fi
  echo $! >"$pgdata.pid"
}

psql_at() {
  local port=$1 db=$2
  shift 2
  "$bin/psql" -X -q -At -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

monitor_url() { echo "postgres://autoctl_node@127.0.0.1:$(cat "$dir/monitor.port")/pg_auto_failover?sslmode=disable"; }

# Waits until the monitor reports every node in `want` (e.g. "primary secondary"), $2 seconds at most.
wait_for_states() {
  local want=$1 limit=${2:-120} i=0 got
  while :; do
    got=$(psql_at "$(cat "$dir/monitor.port")" pg_auto_failover \
      -c "select string_agg(reportedstate::text, ' ' order by reportedstate::text) from pgautofailover.node where reportedstate = goalstate" 2>/dev/null || true)
    [ "$got" = "$want" ] && return 0
    i=$((i + 1))
    if [ $i -ge $((limit * 5)) ]; then
      echo "pg-ha: nodes not in states '$want' within ${limit}s (now: '$got')" >&2
      pgautoctl show state --pgdata "$dir/monitor" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

node_port() { cat "$dir/$1.port"; }

case "$cmd" in
  start)
    [ -n "$bin" ] || { echo "PostgreSQL is not installed: run npm run setup" >&2; exit 1; }
    command -v pg_autoctl >/dev/null || { echo "pg_autoctl is not installed: run npm run setup" >&2; exit 1; }
    # pg_autoctl starts PostgreSQL with Debian's default socket directory: make sure it is there
    # (a container without systemd's tmpfiles may lack it).
    if [ "$(id -u)" -eq 0 ] && [ ! -d /var/run/postgresql ]; then install -d -o postgres -g postgres -m 2775 /var/run/postgresql; fi
    mkdir -p "$dir/xdg/config" "$dir/xdg/data" "$dir/xdg/run"
    chmod 700 "$dir/xdg/run"
    [ "$(id -u)" -eq 0 ] && chown -R postgres "$dir"
    mport=$(free_port)
    echo "$mport" >"$dir/monitor.port"
    pga_limit=120 pgautoctl create monitor --pgctl "$bin/pg_ctl" --pgdata "$dir/monitor" --pgport "$mport" \
      --listen 127.0.0.1 --hostname 127.0.0.1 --auth trust --no-ssl >"$dir/monitor.create.log" 2>&1 \
      || { echo "pg-ha: creating the monitor failed, see $dir/monitor.create.log" >&2; tail -n 20 "$dir/monitor.create.log" >&2; exit 1; }
    run_keeper "$dir/monitor" "$dir/monitor.log"
    wait_for_port "$mport" 60
    for i in $(seq 1 300); do
      psql_at "$mport" pg_auto_failover -c "select 1" >/dev/null 2>&1 && break
      [ "$i" -lt 300 ] || { echo "pg-ha: the monitor's database did not answer within 60s, see $dir/monitor.log" >&2; tail -n 20 "$dir/monitor.log" >&2; exit 1; }
      sleep 0.2
    done
    # Failover within seconds instead of the defaults' 30-60 s (the file says how and why).
    psql_at "$mport" pg_auto_failover -v ON_ERROR_STOP=1 -f "$root/scripts/services/ha/monitor-settings.sql" >/dev/null
    for name in node1 node2; do
      port=$(free_port)
      echo "$port" >"$dir/$name.port"
      # Bounded: registering a node waits on the monitor, and a wait that never ends would hang
      # the caller (a test's setup) instead of failing it with this log.
      pga_limit=180 pgautoctl create postgres --pgctl "$bin/pg_ctl" --pgdata "$dir/$name" --pgport "$port" --pghost 127.0.0.1 \
        --listen 127.0.0.1 --hostname 127.0.0.1 --name "$name" --username postgres --dbname postgres \
        --monitor "$(monitor_url)" --auth trust --no-ssl --replication-quorum true >"$dir/$name.create.log" 2>&1 \
        || { echo "pg-ha: creating $name failed, see $dir/$name.create.log" >&2; tail -n 20 "$dir/$name.create.log" >&2; exit 1; }
      if [ "$name" = node1 ]; then
        # Settings of the service's database, made before the standby is cloned (it copies them).
        # pg_autoctl's own settings (synchronous_standby_names, ...) are applied by the keepers.
        cat >>"$dir/node1/postgresql.conf" <<CONF
# scripts/services/ha/postgres-ha.sh: durable like production, sized for the tests
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 300
shared_buffers = 128MB
wal_sender_timeout = 5s
wal_receiver_timeout = 5s
CONF
      fi
      run_keeper "$dir/$name" "$dir/$name.log"
      if [ "$name" = node1 ]; then wait_for_states "single" 120; else wait_for_states "primary secondary" 180; fi
    done
    # Trust for the service's and the tests' connections (pg_autoctl's --auth covers its own users).
    for name in node1 node2; do
      grep -q "ledger-ha" "$dir/$name/pg_hba.conf" || printf 'host all all 127.0.0.1/32 trust # ledger-ha\n' >>"$dir/$name/pg_hba.conf"
      psql_at "$(node_port "$name")" postgres -c "select pg_reload_conf()" >/dev/null
    done
    echo "DATABASE_URL=postgres://postgres@127.0.0.1:$(node_port node1),127.0.0.1:$(node_port node2)/postgres?target_session_attrs=read-write"
    ;;
  state)
    psql_at "$(cat "$dir/monitor.port")" pg_auto_failover -F ' ' \
      -c "select nodename, nodeport, reportedstate, goalstate from pgautofailover.node order by nodeid"
    ;;
  kill-primary)
    port=$(psql_at "$(cat "$dir/monitor.port")" pg_auto_failover \
      -c "select nodeport from pgautofailover.node where reportedstate in ('primary', 'wait_primary', 'single') order by nodeid limit 1")
    [ -n "$port" ] || { echo "pg-ha: no primary" >&2; exit 1; }
    name=node1
    [ "$(node_port node2)" = "$port" ] && name=node2
    # Every process of the node at once: pg_autoctl's supervisor and its children (the keeper
    # service, postgres and every backend). A postmaster killed alone leaves backends that still
    # answer for a moment; a dead machine leaves nothing.
    # Each node runs in a process group of its own (setsid in run_keeper): one signal kills it all.
    group=$(cat "$dir/$name.pid")
    kill -9 -- "-$group"
    for _ in $(seq 1 50); do kill -0 -- "-$group" 2>/dev/null || break; sleep 0.1; done
    if kill -0 -- "-$group" 2>/dev/null; then echo "pg-ha: $name (process group $group) still alive" >&2; exit 1; fi
    echo "$name"
    ;;
  restart)
    run_keeper "$dir/$name" "$dir/$name.log"
    ;;
  stop)
    [ -d "$dir" ] || exit 0
    for name in node2 node1 monitor; do
      [ -d "$dir/$name" ] || continue
      pgautoctl stop --pgdata "$dir/$name" --immediate >/dev/null 2>&1 || true
    done
    for name in node2 node1 monitor; do
      [ -f "$dir/$name/postmaster.pid" ] || continue
      if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$bin/pg_ctl" -D "$dir/$name" -m immediate stop >/dev/null 2>&1 || true
      else "$bin/pg_ctl" -D "$dir/$name" -m immediate stop >/dev/null 2>&1 || true; fi
    done
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
