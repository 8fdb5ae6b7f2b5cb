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

# Stops what start_services started (data under $1).
stop_services() {
  local svc
  for svc in "${STARTED_SERVICES[@]}"; do bash "scripts/services/$svc.sh" stop "$1" || true; done
}

# Creates a scratch directory for this run (WORK_DIR, /tmp/ledger-$1.*), starts the services into it
# and stops them and removes it when the calling script exits.
services_for_this_run() {
  WORK_DIR=$(mktemp -d "/tmp/ledger-$1.XXXXXX")
  chmod 755 "$WORK_DIR"
  STARTED_SERVICES=()
  trap 'stop_services "$WORK_DIR"; rm -rf "$WORK_DIR"' EXIT
  start_services "$WORK_DIR"
}
