#!/usr/bin/env bash
# A throwaway Apache Kafka broker (KRaft: one combined broker/controller on 127.0.0.1) run from the
# Maven Central jars that scripts/setup.d/kafka.sh fetched into .tools/kafka/libs.
#   kafka.sh var          -> the variable this service provides (KAFKA_BROKERS)
#   kafka.sh start DIR    -> starts a broker under DIR/kafka and prints KAFKA_BROKERS=host:port;
#                            when DIR/kafka already holds a stopped broker, starts it again on the
#                            same ports with the same data (tests stop and restart the broker)
#   kafka.sh stop DIR     -> stops it (SIGTERM, then SIGKILL after 20 s) and returns once it is gone
# KAFKA_HEAP (default 512m) sets the JVM heap.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/lib.sh"
cmd=${1:?usage: kafka.sh var|start DIR|stop DIR}
libs="$root/.tools/kafka/libs"

case "$cmd" in
  var) echo KAFKA_BROKERS ;;
  start)
    dir=${2:?DIR}/kafka
    [ -d "$libs" ] || { echo "Kafka jars missing in $libs: run npm run setup" >&2; exit 1; }
    if [ ! -f "$dir/server.properties" ]; then
      mkdir -p "$dir"
      port=$(free_port)
      cport=$(free_port)
      while [ "$cport" = "$port" ]; do cport=$(free_port); done
      cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
      write_kafka_log_config "$dir"
      # A cluster id is 16 random bytes in URL-safe base64 (what StorageTool random-uuid prints);
      # Kafka refuses ids starting with "-" because they read as command-line flags.
      id=$(node -e "let s;do{s=require('crypto').randomBytes(16).toString('base64url')}while(s[0]==='-');console.log(s)")
      java -cp "$libs/*" -Dlog4j2.configurationFile="$dir/log4j2.properties" kafka.tools.StorageTool \
        format -t "$id" -c "$dir/server.properties" --standalone >"$dir/format.log" 2>&1 \
        || { echo "kafka: formatting storage failed, see $dir/format.log" >&2; cat "$dir/format.log" >&2; exit 1; }
    fi
    port=$(sed -n 's/^listeners=PLAINTEXT:\/\/127.0.0.1:\([0-9]*\),.*/\1/p' "$dir/server.properties")
    : >"$dir/server.log"
    # setsid: the broker must outlive this script but not hold the caller's terminal.
    setsid java -Xms${KAFKA_HEAP:-512m} -Xmx${KAFKA_HEAP:-512m} -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -Djava.awt.headless=true -Dlog4j2.configurationFile="$dir/log4j2.properties" \
      -cp "$libs/*" kafka.Kafka "$dir/server.properties" >"$dir/stdout.log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
    # The port opens before the broker has joined its own quorum; "started" in the log means ready.
    for _ in $(seq 1 300); do
      grep -q "Kafka Server started" "$dir/server.log" 2>/dev/null && break
      kill -0 "$(cat "$dir/pid")" 2>/dev/null || { echo "kafka: broker exited, see $dir" >&2; tail -n 20 "$dir/stdout.log" "$dir/server.log" >&2; exit 1; }
      sleep 0.2
    done
    grep -q "Kafka Server started" "$dir/server.log" || { echo "kafka: broker not ready within 60s" >&2; exit 1; }
    wait_for_port "$port" 10
    echo "KAFKA_BROKERS=127.0.0.1:$port"
    ;;
  stop)
    dir=${2:?DIR}/kafka
    [ -f "$dir/pid" ] || exit 0
    stop_process "$(cat "$dir/pid")" 20
    rm -f "$dir/pid"
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
