#!/usr/bin/env bash
# A replicated Apache Kafka on loopback ports: three KRaft nodes, each broker and controller (a
# quorum of three: one may die), topics replicated three times with min.insync.replicas=2, so that
# with the relay's producer (acks=all, idempotent) an acknowledged event is on two brokers at least.
# Jars from Maven Central (scripts/setup.d/kafka.sh). Not started for every test run (like
# postgres-ha.sh beside it): the failover test (test/chaos/failover.test.ts) and operators start it.
#
#   kafka-cluster.sh start DIR       -> three brokers under DIR/kafka-cluster; prints
#                                       KAFKA_BROKERS=host:p1,host:p2,host:p3 as its last line
#   kafka-cluster.sh kill N DIR      -> kill -9 of broker N (1-3)
#   kafka-cluster.sh restart N DIR   -> starts broker N again (same ports, same data)
#   kafka-cluster.sh stop DIR        -> stops every broker
# KAFKA_HEAP (default 384m) sets each JVM's heap.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
source "$root/scripts/lib.sh"
cmd=${1:?usage: kafka-cluster.sh start|kill N|restart N|stop DIR}
libs="$root/.tools/kafka/libs"
if [ "$cmd" = kill ] || [ "$cmd" = restart ]; then
  node=${2:?N}
  shift
fi
dir=${2:?DIR}/kafka-cluster

start_node() {
  local n=$1 ndir=$dir/node$1
  : >"$ndir/server.log"
  setsid java -Xms${KAFKA_HEAP:-384m} -Xmx${KAFKA_HEAP:-384m} -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$ndir/log4j2.properties" \
    -cp "$libs/*" kafka.Kafka "$ndir/server.properties" >"$ndir/stdout.log" 2>&1 </dev/null &
  echo $! >"$ndir/pid"
}

wait_started() {
  local n=$1 ndir=$dir/node$1
  for _ in $(seq 1 600); do
    grep -q "Kafka Server started" "$ndir/server.log" 2>/dev/null && return 0
    kill -0 "$(cat "$ndir/pid")" 2>/dev/null || { echo "kafka-cluster: broker $n exited, see $ndir" >&2; tail -n 20 "$ndir/stdout.log" "$ndir/server.log" >&2; return 1; }
    sleep 0.2
  done
  echo "kafka-cluster: broker $n not ready within 120s" >&2
  return 1
}

# Picks six free ports, writes and formats three nodes, starts them; prints KAFKA_BROKERS. Returns
# 1 when a broker did not come up: a port picked free may be taken by another process before the
# JVM binds it (the test suite runs files in parallel), and a fresh set of ports is the cure.
start_cluster() {
  mkdir -p "$dir"
  declare -A port cport
  used=" "
  for n in 1 2 3; do
    for kind in port cport; do
      p=$(free_port)
      while [[ "$used" == *" $p "* ]]; do p=$(free_port); done
      used="$used$p "
      eval "$kind[$n]=$p"
    done
  done
  voters="1@127.0.0.1:${cport[1]},2@127.0.0.1:${cport[2]},3@127.0.0.1:${cport[3]}"
  id=$(node -e "let s;do{s=require('crypto').randomBytes(16).toString('base64url')}while(s[0]==='-');console.log(s)")
  for n in 1 2 3; do
    ndir=$dir/node$n
    mkdir -p "$ndir"
    cat >"$ndir/server.properties" <<PROPS
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:${port[$n]},CONTROLLER://127.0.0.1:${cport[$n]}
advertised.listeners=PLAINTEXT://127.0.0.1:${port[$n]},CONTROLLER://127.0.0.1:${cport[$n]}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$ndir/data
num.partitions=3
# Every topic on all three brokers; a write is acknowledged (acks=all) once two have it.
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
offsets.topic.replication.factor=3
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
# A dead broker is fenced (its partitions get new leaders, it leaves every ISR) within 3 s, not 9.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
replica.lag.time.max.ms=5000
PROPS
    write_kafka_log_config "$ndir"
    java -cp "$libs/*" -Dlog4j2.configurationFile="$ndir/log4j2.properties" kafka.tools.StorageTool \
      format -t "$id" -c "$ndir/server.properties" >"$ndir/format.log" 2>&1 \
      || { echo "kafka-cluster: formatting broker $n failed, see $ndir/format.log" >&2; cat "$ndir/format.log" >&2; exit 1; }
  done
  # Started together: a controller quorum of three needs two to elect a leader.
  for n in 1 2 3; do start_node "$n"; done
  for n in 1 2 3; do wait_started "$n" || return 1; done
  for n in 1 2 3; do wait_for_port "${port[$n]}" 30 || return 1; done
  echo "KAFKA_BROKERS=127.0.0.1:${port[1]},127.0.0.1:${port[2]},127.0.0.1:${port[3]}"
}

stop_all() {
  [ -d "$dir" ] || return 0
  for n in 1 2 3; do
    [ -f "$dir/node$n/pid" ] || continue
    pid=$(cat "$dir/node$n/pid")
    kill "$pid" 2>/dev/null || true
  done
  for n in 1 2 3; do
    [ -f "$dir/node$n/pid" ] || continue
    pid=$(cat "$dir/node$n/pid")
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/node$n/pid"
  done
}

case "$cmd" in
  start)
    [ -d "$libs" ] || { echo "Kafka jars missing in $libs: run npm run setup" >&2; exit 1; }
    for attempt in 1 2 3; do
      start_cluster && exit 0
      echo "kafka-cluster: start attempt $attempt failed; stopping its brokers and starting again on other ports" >&2
      stop_all
      rm -rf "$dir"
    done
    exit 1
    ;;
  kill)
    kill -9 "$(cat "$dir/node$node/pid")"
    ;;
  restart)
    start_node "$node"
    wait_started "$node"
    ;;
  stop)
    stop_all
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
