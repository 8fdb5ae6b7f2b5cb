#!/usr/bin/env bash
# A throwaway Redis for tests and benchmarks (no persistence, 127.0.0.1, a free port).
#   redis.sh var          -> the variable this service provides (REDIS_URL)
#   redis.sh start DIR    -> starts Redis under DIR and prints REDIS_URL=...
#   redis.sh stop DIR     -> stops it and returns once the process is gone
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cmd=${1:?usage: redis.sh var|start DIR|stop DIR}

case "$cmd" in
  var) echo REDIS_URL ;;
  start)
    dir=${2:?DIR}/redis
    command -v redis-server >/dev/null || { echo "Redis is not installed: run npm run setup" >&2; exit 1; }
    mkdir -p "$dir"
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
      --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
    wait_for_port "$port" 30
    echo "REDIS_URL=redis://127.0.0.1:$port"
    ;;
  stop)
    dir=${2:?DIR}/redis
    # Redis deletes its pid file as it exits: read it first, then wait for the process itself.
    pid=$(cat "$dir/redis.pid" 2>/dev/null) || exit 0
    stop_process "$pid" 10
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
