#!/usr/bin/env bash
# A three-node Apache Kafka cluster (KRaft: each JVM is broker and controller) on loopback, for the fault suite:
# replication factor 3, min.insync.replicas=2, from the same Maven-resolved jars as kafka.sh. Not part of
# `make infra-up`: tests/faults/ starts it (on free ports) and stops it.
#
# usage: kafka-cluster.sh up|down|status|bootstrap|kill N|start N|stop N
#   up         start a fresh cluster (state from an earlier run is wiped: it is a test cluster), wait until all
#              three brokers serve; running nodes are left alone
#   down       stop every node (TERM, then KILL)
#   status     one line per node; exit 3 if one is not running
#   bootstrap  print the bootstrap servers (127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3)
#   kill N     kill -9 node N (1..3): no shutdown, no leadership hand-over
#   stop N     stop node N cleanly (TERM)
#   start N    start node N again on its existing log dir and wait until it serves
# env (read by `up`, remembered for the other commands): KAFKA_CLUSTER_PORTS (19092,19093,19094),
#   KAFKA_CLUSTER_CONTROLLER_PORTS (19192,19193,19194), KAFKA_CLUSTER_HEAP (384m)
# State: $INFRA_HOME/kafka-cluster/ (node-N/{data,server.properties,kafka.log,kafka.pid}, cluster.env).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC="$LOCAL_DIR/kafka"
DIR="$INFRA_HOME/kafka-cluster"
ENV_FILE="$DIR/cluster.env"
NODES=(1 2 3)
mkdir -p "$DIR"
exec 9>&2

# The ports of a running cluster come from cluster.env (written by `up`), so `kill 2` or `down` need no env.
if [[ ${1:-} != up && -f $ENV_FILE ]]; then source "$ENV_FILE"; fi
KAFKA_CLUSTER_PORTS=${KAFKA_CLUSTER_PORTS:-19092,19093,19094}
KAFKA_CLUSTER_CONTROLLER_PORTS=${KAFKA_CLUSTER_CONTROLLER_PORTS:-19192,19193,19194}
KAFKA_CLUSTER_HEAP=${KAFKA_CLUSTER_HEAP:-384m}
IFS=, read -r -a PORTS <<<"$KAFKA_CLUSTER_PORTS"
IFS=, read -r -a CPORTS <<<"$KAFKA_CLUSTER_CONTROLLER_PORTS"
(( ${#PORTS[@]} == 3 && ${#CPORTS[@]} == 3 )) || die "KAFKA_CLUSTER_PORTS and KAFKA_CLUSTER_CONTROLLER_PORTS need three ports each"

node_dir() { echo "$DIR/node-$1"; }
pidfile() { echo "$(node_dir "$1")/kafka.pid"; }
logfile() { echo "$(node_dir "$1")/kafka.log"; }
port() { echo "${PORTS[$(( $1 - 1 ))]}"; }
bootstrap() { local n out=(); for n in "${NODES[@]}"; do out+=("127.0.0.1:$(port "$n")"); done; (IFS=,; echo "${out[*]}"); }
check_node() { [[ ${1:-} =~ ^[123]$ ]] || die "node must be 1, 2 or 3 (got '${1:-}')"; }

# Keep a pidfile only while its process is ours (its command line names the node's config under $INFRA_HOME).
alive() {
  local pf; pf=$(pidfile "$1")
  { pid_alive "$pf" && grep -qF "$(node_dir "$1")" "/proc/$(cat "$pf")/cmdline"; } 2>/dev/null && return 0
  rm -f "$pf"; return 1
}

classpath() { cat "$(bash "$LOCAL_DIR/kafka.sh" classpath)"; }

kafka_tool() {
  java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dpaperwire.kafka.log.level=WARN \
       -Dlog4j2.configurationFile="$SRC/log4j2.properties" -cp "$CP" "$@"
}

render() {
  local n=$1 d; d=$(node_dir "$n")
  local voters="" i
  for i in "${NODES[@]}"; do voters+="${voters:+,}$i@127.0.0.1:${CPORTS[$(( i - 1 ))]}"; done
  mkdir -p "$d/data"
  sed -e "s|@NODE_ID@|$n|" -e "s|@PORT@|$(port "$n")|g" -e "s|@CONTROLLER_PORT@|${CPORTS[$(( n - 1 ))]}|g" \
      -e "s|@VOTERS@|$voters|" -e "s|@LOG_DIR@|$d/data|" "$SRC/cluster.properties" >"$d/server.properties"
}

launch() {
  local n=$1 d; d=$(node_dir "$n")
  local lf; lf=$(logfile "$n")
  [[ -f $lf ]] && mv -f "$lf" "$lf.prev"
  setsid nohup java -Xms"$KAFKA_CLUSTER_HEAP" -Xmx"$KAFKA_CLUSTER_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$SRC/log4j2.properties" -cp "$CP" \
      kafka.Kafka "$d/server.properties" >"$lf" 2>&1 </dev/null 9>&- &
  echo $! >"$(pidfile "$n")"
}

# started N: the node logged its start (cheap; the probe JVM below confirms the cluster serves).
started() {
  alive "$1" || { log "node $1 exited during start; read $(logfile "$1")" 2>&9; tail -n 30 "$(logfile "$1")" >&9; exit 1; }
  grep -q "Kafka Server started" "$(logfile "$1")"
}

# serving N...: every given node started, and a client sees all three brokers in the metadata.
serving() {
  local n; for n in "$@"; do started "$n" || return 1; done
  local out; out=$(kafka_tool org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "$(bootstrap)" \
      --command-config "$DIR/probe.properties" 2>/dev/null) || return 1
  (( $(grep -c '(id: ' <<<"$out") == 3 ))
}

up() {
  local n running=()
  for n in "${NODES[@]}"; do alive "$n" && running+=("$n"); done
  if (( ${#running[@]} == 3 )); then log "kafka cluster already running ($(bootstrap))"; return 0; fi
  (( ${#running[@]} == 0 )) || die "nodes ${running[*]} of a cluster are running: \`$0 down\` first"
  for p in "${PORTS[@]}" "${CPORTS[@]}"; do
    port_open "$p" && die "port $p is taken: $(ss -ltnpH "sport = :$p" | head -1)"
  done
  need_java
  CP=$(classpath)
  printf 'KAFKA_CLUSTER_PORTS=%s\nKAFKA_CLUSTER_CONTROLLER_PORTS=%s\nKAFKA_CLUSTER_HEAP=%s\n' \
    "$KAFKA_CLUSTER_PORTS" "$KAFKA_CLUSTER_CONTROLLER_PORTS" "$KAFKA_CLUSTER_HEAP" >"$ENV_FILE"
  printf 'request.timeout.ms=3000\ndefault.api.timeout.ms=5000\n' >"$DIR/probe.properties"
  # A fresh cluster every time: one cluster id, every log dir formatted with it (StorageTool exits the JVM,
  # hence a JVM per node).
  local id; id=$(kafka_tool kafka.tools.StorageTool random-uuid | tail -n 1)
  [[ $id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "could not make a Kafka cluster id"
  for n in "${NODES[@]}"; do
    rm -rf "$(node_dir "$n")/data"
    render "$n"
    kafka_tool kafka.tools.StorageTool format -t "$id" -c "$(node_dir "$n")/server.properties" \
      >"$(node_dir "$n")/format.log" 2>&1 || die "formatting node $n failed; read $(node_dir "$n")/format.log"
  done
  log "starting a 3-node Kafka $KAFKA_VERSION cluster $id on $(bootstrap) (heap $KAFKA_CLUSTER_HEAP each)"
  for n in "${NODES[@]}"; do launch "$n"; done
  wait_for "kafka cluster" 180 "$(logfile 1)" serving "${NODES[@]}" || { down; exit 1; }
}

start_node() {
  local n=$1
  check_node "$n"
  if alive "$n"; then log "node $n already running"; return 0; fi
  [[ -f $(node_dir "$n")/server.properties ]] || die "node $n was never set up: \`$0 up\` first"
  need_java
  CP=$(classpath)
  log "starting node $n on 127.0.0.1:$(port "$n")"
  launch "$n"
  wait_for "kafka node $n" 120 "$(logfile "$n")" serving "$n" || exit 1
}

kill_node() {
  local n=$1; check_node "$n"
  alive "$n" || die "node $n is not running"
  local pid; pid=$(cat "$(pidfile "$n")")
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$(pidfile "$n")"
  log "node $n killed (kill -9, pid $pid)"
}

stop_node() { check_node "$1"; alive "$1" || return 0; stop_pidfile "kafka node $1" "$(pidfile "$1")"; }

# All nodes at once: stopped one after the other, the last one loses its controller quorum and waits for it
# in its controlled shutdown until killed.
down() {
  local n pids=()
  for n in "${NODES[@]}"; do alive "$n" && pids+=("$(cat "$(pidfile "$n")")"); done
  (( ${#pids[@]} )) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  local p
  for _ in $(seq 1 40); do
    local left=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left=1; done
    (( left )) || break; sleep 0.5
  done
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && { log "kafka pid $p did not stop on TERM, killing"; kill -KILL "$p"; }; done
  for n in "${NODES[@]}"; do rm -f "$(pidfile "$n")"; done
  log "kafka cluster stopped"
}

status() {
  local n rc=0
  for n in "${NODES[@]}"; do
    if alive "$n" && port_open "$(port "$n")"; then
      echo "kafka-cluster node $n: running (pid $(cat "$(pidfile "$n")")) on 127.0.0.1:$(port "$n"), log $(logfile "$n")"
    else
      echo "kafka-cluster node $n: stopped"; rc=3
    fi
  done
  return $rc
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  bootstrap) bootstrap ;;
  kill) kill_node "${2:-}" ;;
  stop) stop_node "${2:-}" ;;
  start) start_node "${2:-}" ;;
  *) echo "usage: $0 up|down|status|bootstrap|kill N|stop N|start N" >&2; exit 2 ;;
esac
