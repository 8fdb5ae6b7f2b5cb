# Shared shell helpers for the setup, service and test scripts. Source it; do not run it.

# Installs the Debian packages that are missing; runs apt-get update once, only when needed.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Prints a TCP port on 127.0.0.1 that is free right now.
free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# Waits until a TCP port on 127.0.0.1 accepts connections, or fails after $2 seconds (default 60).
wait_for_port() {
  local port=$1 limit=${2:-60} i=0
  until node -e "require('net').connect($port,'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))"; do
    i=$((i + 1))
    [ $i -ge $((limit * 5)) ] && { echo "port $port did not open within ${limit}s" >&2; return 1; }
    sleep 0.2
  done
}

# Starts every scripts/services/<svc>.sh whose variable (e.g. DATABASE_URL) is not already set, with
# its data under $1, and exports what each prints. Names the started ones in STARTED_SERVICES for
# stop_services. Run from the repository root.
start_services() {
  local work=$1 script svc var line
  STARTED_SERVICES=()
  for script in scripts/services/*.sh; do
    svc=$(basename "$script" .sh)
    var=$(bash "$script" var)
    if [ -n "${!var:-}" ]; then
      echo "services: using $var from the environment"
      continue
    fi
    echo "services: starting $svc"
    STARTED_SERVICES+=("$svc")
    line=$(bash "$script" start "$work" | tail -n 1)
    export "${line?}"
  done
}

# True while process $1 exists and has not exited (an exited child its parent has not reaped yet,
# a zombie, counts as gone: it holds no files and runs no code).
process_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# Waits until process $1 is gone, at most $2 seconds (default 30); status 1 if it is still there.
wait_for_exit() {
  local pid=$1 limit=${2:-30} i=0
  while process_alive "$pid"; do
    i=$((i + 1))
    [ $i -gt $((limit * 10)) ] && return 1
    sleep 0.1
  done
  return 0
}

# Stops process $1 and returns once it is gone: SIGTERM, then SIGKILL after $2 seconds (default 20).
# Status 1 (with a message) only when it outlived SIGKILL by 10 s, which should not happen.
stop_process() {
  local pid=$1 grace=${2:-20}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_for_exit "$pid" "$grace" && return 0
  echo "stop: process $pid still running ${grace}s after SIGTERM, sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
  wait_for_exit "$pid" 10 && return 0
  echo "stop: process $pid still running 10s after SIGKILL" >&2
  return 1
}

# Stops what start_services started (data under $1). Each service script's stop returns only once
# its processes are gone, so the data directory can be removed afterwards. A failing stop is
# reported and does not stop the others.
stop_services() {
  local svc
  for svc in "${STARTED_SERVICES[@]}"; do
    bash "scripts/services/$svc.sh" stop "$1" || echo "services: stopping $svc failed (status $?)" >&2
  done
}

# Removes directory $1, retrying briefly (a process that was just stopped may have left a file
# being written); reports a directory it could not remove and never fails.
remove_dir() {
  local dir=$1 attempt
  [ -n "$dir" ] && [ -e "$dir" ] || return 0
  for attempt in 1 2 3 4 5; do
    rm -rf "$dir" 2>/dev/null
    [ -e "$dir" ] || return 0
    sleep 0.2
  done
  echo "cleanup: could not remove $dir: $(rm -rf "$dir" 2>&1 | head -n 1)" >&2
  return 0
}

# The EXIT trap of services_for_this_run: stops the services, then removes the scratch directory,
# and exits with the status the run had. Cleanup never decides the exit status: under `set -e` a
# failing rm in the trap used to turn a green run into status 1.
cleanup_run() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  stop_services "$WORK_DIR"
  remove_dir "$WORK_DIR"
  exit "$status"
}

# Creates a scratch directory for this run (WORK_DIR, /tmp/ledger-$1.*), starts the services into it
# and stops them and removes it when the calling script exits, also on Ctrl-C or SIGTERM
# (status 130 or 143).
services_for_this_run() {
  WORK_DIR=$(mktemp -d "/tmp/ledger-$1.XXXXXX")
  chmod 755 "$WORK_DIR"
  STARTED_SERVICES=()
  trap cleanup_run EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  start_services "$WORK_DIR"
}

# Writes DIR/log4j2.properties for a Kafka broker whose data lives in DIR: INFO to DIR/server.log,
# Kafka's own chatter and state changes at WARN (kafka.sh, ha/kafka-cluster.sh).
write_kafka_log_config() {
  cat >"$1/log4j2.properties" <<PROPS
appender.file.type=File
appender.file.name=file
appender.file.fileName=$1/server.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=file
logger.kafka.name=org.apache.kafka
logger.kafka.level=WARN
logger.state.name=state.change.logger
logger.state.level=WARN
PROPS
}
