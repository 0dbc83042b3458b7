#!/usr/bin/env bash
# Real Apache Kafka (KRaft, one JVM as broker + controller) on 127.0.0.1, without Docker or the release tarball:
# the jars come from Maven Central (deploy/local/kafka/pom.xml), state and logs live under $INFRA_HOME/kafka/.
# usage: kafka.sh up|down|status|classpath
#   classpath  resolve the jars (cached) and print the file holding the classpath (kafka-cluster.sh uses it)
# env: KAFKA_HEAP (512m), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093);
#      KAFKA_PROXIED_PORT + KAFKA_PROXIED_ADVERTISE (unset): a second listener on KAFKA_PROXIED_PORT that
#      advertises 127.0.0.1:KAFKA_PROXIED_ADVERTISE, where a TCP proxy (Toxiproxy, in the fault suite) forwards
#      to it. Clients bootstrapping through the proxy then reach the broker only through the proxy, while
#      KAFKA_PORT stays direct.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
KAFKA_HEAP=${KAFKA_HEAP:-512m}
SRC="$LOCAL_DIR/kafka"
DIR="$INFRA_HOME/kafka"
DATA="$DIR/data"
CONF="$DIR/server.properties"
CP_FILE="$DIR/classpath.txt"
PIDFILE="$DIR/kafka.pid"
LOGFILE="$DIR/kafka.log"
mkdir -p "$DIR"
# wait_for silences its probe's output; fd 9 keeps a way to tell the user why a probe gave up.
exec 9>&2

# A pidfile left from before a reboot may name an unrelated process by now: keep it only if the process is ours
# (its command line names $INFRA_HOME), so that `down` never kills a stranger.
forget_stale_pid() { { pid_alive "$PIDFILE" && grep -qF "$INFRA_HOME" "/proc/$(cat "$PIDFILE")/cmdline"; } 2>/dev/null || rm -f "$PIDFILE"; }

# Resolve the runtime classpath once per (versions, pom) and cache it; Maven takes ~30-60 s the first time.
resolve_classpath() {
  local key; key="kafka=$KAFKA_VERSION scala=$SCALA_BINARY log4j=$KAFKA_LOG4J_VERSION pom=$(sha256sum "$SRC/pom.xml" | cut -c1-16)"
  if [[ -s $CP_FILE && "$(cat "$DIR/classpath.key" 2>/dev/null)" == "$key" ]]; then
    # A cleaned ~/.m2 leaves a classpath of missing jars: resolve again then.
    local missing; missing=$(tr ':' '\n' <"$CP_FILE" | while read -r j; do [[ -f $j ]] || echo "$j"; done)
    [[ -z $missing ]] && return 0
  fi
  log "resolving Kafka $KAFKA_VERSION jars with Maven (cached afterwards)"
  mvn -B -q -f "$SRC/pom.xml" dependency:build-classpath \
      -Dkafka.version="$KAFKA_VERSION" -Dscala.binary="$SCALA_BINARY" -Dlog4j.version="$KAFKA_LOG4J_VERSION" \
      -Dmdep.includeScope=runtime -Dmdep.outputFile="$CP_FILE.tmp" >"$DIR/mvn.log" 2>&1 \
    || die "Maven could not resolve the Kafka jars; read $DIR/mvn.log"
  mv "$CP_FILE.tmp" "$CP_FILE"
  echo "$key" >"$DIR/classpath.key"
}

# Short-lived Kafka tool JVMs (format, readiness probe): small heap, C1 only and WARN logs make them start fast.
kafka_tool() {
  java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dpaperwire.kafka.log.level=WARN \
       -Dlog4j2.configurationFile="$SRC/log4j2.properties" -cp "$(cat "$CP_FILE")" "$@"
}

# Ready = the broker answers ApiVersions through a real client (so metadata is served), not merely an open port.
# The log line check first keeps the loop cheap: the listener accepts connections seconds before requests are served,
# and each probe JVM costs ~1.3 s of CPU.
probe() {
  pid_alive "$PIDFILE" || { log "Kafka exited during start; read $LOGFILE" 2>&9; tail -n 30 "$LOGFILE" >&9; rm -f "$PIDFILE"; exit 1; }
  grep -q "Kafka Server started" "$LOGFILE" && kafka_tool org.apache.kafka.tools.BrokerApiVersionsCommand \
      --bootstrap-server "127.0.0.1:$KAFKA_PORT" --command-config "$DIR/probe.properties"
}

up() {
  forget_stale_pid
  if pid_alive "$PIDFILE"; then log "kafka already running (pid $(cat "$PIDFILE"))"; return 0; fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by a process that is not ours: $(ss -ltnpH "sport = :$KAFKA_PORT" | head -1)"
  need_java
  resolve_classpath
  # Rendered on every start, so that edits of the template take effect.
  sed -e "s|@LOG_DIR@|$DATA|" -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
      "$SRC/server.properties" >"$CONF"
  if [[ -n ${KAFKA_PROXIED_PORT:-} ]]; then
    [[ -n ${KAFKA_PROXIED_ADVERTISE:-} ]] || die "KAFKA_PROXIED_PORT needs KAFKA_PROXIED_ADVERTISE (the proxy's port)"
    # Kafka answers metadata with the advertised address of the listener a request came in on.
    sed -i -e "s|^listeners=.*|&,PROXIED://127.0.0.1:$KAFKA_PROXIED_PORT|" \
        -e "s|^advertised.listeners=.*|&,PROXIED://127.0.0.1:$KAFKA_PROXIED_ADVERTISE|" \
        -e "s|^listener.security.protocol.map=.*|&,PROXIED:PLAINTEXT|" "$CONF"
    log "second listener 127.0.0.1:$KAFKA_PROXIED_PORT, advertised as 127.0.0.1:$KAFKA_PROXIED_ADVERTISE (a proxy)"
  fi
  # Probe's client gives up quickly, so a probe against a half-started broker does not block the wait loop.
  printf 'request.timeout.ms=3000\ndefault.api.timeout.ms=5000\n' >"$DIR/probe.properties"
  # KRaft refuses to start on an unformatted log dir. Format once, with a cluster id kept next to the data;
  # StorageTool calls System.exit, hence its own JVM.
  if [[ ! -f $DATA/meta.properties ]]; then
    [[ -s $DIR/cluster.id ]] || kafka_tool kafka.tools.StorageTool random-uuid | tail -n 1 >"$DIR/cluster.id"
    grep -qE '^[A-Za-z0-9_-]{22}$' "$DIR/cluster.id" || { rm -f "$DIR/cluster.id"; die "could not make a Kafka cluster id"; }
    log "formatting $DATA (cluster id $(cat "$DIR/cluster.id"))"
    kafka_tool kafka.tools.StorageTool format -t "$(cat "$DIR/cluster.id")" -c "$CONF" --ignore-formatted \
      >"$DIR/format.log" 2>&1 || die "formatting the Kafka log dir failed; read $DIR/format.log"
  fi
  # One log per run (the previous one is kept), so the readiness probe only sees this run's lines.
  [[ -f $LOGFILE ]] && mv -f "$LOGFILE" "$LOGFILE.prev"
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (heap $KAFKA_HEAP)"
  # setsid + nohup: the broker outlives this shell and Ctrl-C in it; without job control, $! is the java pid.
  # fd 9 is closed for it: an inherited copy of our stderr would keep a caller's pipe (`kafka.sh up | tee`) open.
  setsid nohup java -Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$SRC/log4j2.properties" -cp "$(cat "$CP_FILE")" \
      kafka.Kafka "$CONF" >"$LOGFILE" 2>&1 </dev/null 9>&- &
  echo $! >"$PIDFILE"
  wait_for kafka 120 "$LOGFILE" probe || { stop_pidfile kafka "$PIDFILE"; exit 1; }
}

status() {
  forget_stale_pid
  if pid_alive "$PIDFILE" && port_open "$KAFKA_PORT"; then
    echo "kafka: running (pid $(cat "$PIDFILE")) on 127.0.0.1:$KAFKA_PORT, Kafka $KAFKA_VERSION, log $LOGFILE"
  elif pid_alive "$PIDFILE"; then
    echo "kafka: starting or stuck (pid $(cat "$PIDFILE"), port $KAFKA_PORT closed), log $LOGFILE"; return 3
  else
    echo "kafka: stopped"; return 3
  fi
}

case "${1:-}" in
  up) up ;;
  down) forget_stale_pid; stop_pidfile kafka "$PIDFILE" ;;
  status) status ;;
  classpath) need_java; resolve_classpath; echo "$CP_FILE" ;;
  *) echo "usage: $0 up|down|status|classpath" >&2; exit 2 ;;
esac
