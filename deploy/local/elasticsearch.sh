#!/usr/bin/env bash
# A real Elasticsearch 8.x single node without Docker: the server and Netty HTTP jars from Maven Central, started by
# the small launcher in deploy/local/elasticsearch/ (which also brings the analysis names of the unpublished
# analysis-common module, and the GET / endpoint).
#
#   deploy/local/elasticsearch.sh up|down|status
#
# Environment: ES_PORT (HTTP port, default 9200), ES_HEAP (default "-Xms512m -Xmx1g"), ES_JAVA_OPTS (extra JVM
# flags), ES_SETTINGS (extra node settings, space-separated key=value). State: .infra/elasticsearch/ (data/, home/,
# build/, elasticsearch.log, elasticsearch.pid). Delete .infra/elasticsearch/data to start empty.
source "$(dirname "$0")/lib.sh"

ES_PORT="${ES_PORT:-9200}"
ES_HEAP="${ES_HEAP:--Xms512m -Xmx1g}"
ES_DIR="$INFRA_HOME/elasticsearch"
SRC_DIR="$LOCAL_DIR/elasticsearch"
BUILD_DIR="$ES_DIR/build"
PIDFILE="$ES_DIR/elasticsearch.pid"
LOGFILE="$ES_DIR/elasticsearch.log"
MAIN_CLASS=dev.paperwire.es.Main
URL="http://127.0.0.1:$ES_PORT"

# running: the pidfile's process is alive AND is our launcher (guards against a recycled pid).
running() {
  pid_alive "$PIDFILE" && tr '\0' ' ' <"/proc/$(cat "$PIDFILE")/cmdline" 2>/dev/null | grep -q "$MAIN_CLASS"
}

# built: the stamp matches and every jar on the saved classpath still exists (a cleaned ~/.m2 forces a rebuild).
built() {
  [[ -f "$BUILD_DIR/stamp" && "$(cat "$BUILD_DIR/stamp")" == "$1" && -f "$BUILD_DIR/classpath.txt" ]] || return 1
  local jar IFS=:
  for jar in "$BUILD_DIR/paperwire-elasticsearch-1.jar" $(cat "$BUILD_DIR/classpath.txt"); do [[ -f "$jar" ]] || return 1; done
}

# build: compile the launcher and write the runtime classpath; skipped while the version and sources are unchanged.
build() {
  local stamp
  stamp="$ELASTICSEARCH_VERSION $(cd "$SRC_DIR" && find pom.xml src -type f | sort | xargs sha1sum | sha1sum | cut -c1-40)"
  built "$stamp" && return 0
  log "building the Elasticsearch $ELASTICSEARCH_VERSION launcher (the first build downloads ~80 MB of jars from Maven Central)"
  mkdir -p "$BUILD_DIR"
  if ! mvn -q -B -f "$SRC_DIR/pom.xml" -Des.version="$ELASTICSEARCH_VERSION" -Dpaperwire.build.dir="$BUILD_DIR" \
      package dependency:build-classpath -Dmdep.includeScope=runtime -Dmdep.outputFile="$BUILD_DIR/classpath.txt" \
      >"$ES_DIR/build.log" 2>&1; then
    tail -n 30 "$ES_DIR/build.log" >&2
    die "build failed; read $ES_DIR/build.log"
  fi
  echo "$stamp" >"$BUILD_DIR/stamp"
}

# healthy: cluster health is yellow or green. If the process died meanwhile, say so now rather than after the timeout
# (wait_for silences this probe, hence fd 3, a copy of stderr).
healthy() {
  if ! running; then
    log "Elasticsearch exited during startup; read $LOGFILE" 2>&3
    tail -n 40 "$LOGFILE" >&3 2>/dev/null || true
    rm -f "$PIDFILE"
    exit 1
  fi
  curl -fsS -o /dev/null --max-time 5 "$URL/_cluster/health?wait_for_status=yellow&timeout=1s"
}

up() {
  need_java
  command -v curl >/dev/null || apt_install curl
  mkdir -p "$ES_DIR"
  if running; then
    log "Elasticsearch already running (pid $(cat "$PIDFILE")) on $URL"
    return 0
  fi
  rm -f "$PIDFILE"
  port_open "$ES_PORT" && die "port $ES_PORT is already in use by another process (set ES_PORT to use another one)"
  build

  # path.home needs config/ (log4j2.properties is written there on first start), logs/, modules/, plugins/ (empty:
  # our plugins come from the classpath).
  mkdir -p "$ES_DIR/home/config" "$ES_DIR/home/logs" "$ES_DIR/home/modules" "$ES_DIR/home/plugins" "$ES_DIR/data" "$ES_DIR/tmp"
  [[ -f "$LOGFILE" ]] && mv -f "$LOGFILE" "$LOGFILE.prev"
  local cp
  cp="$BUILD_DIR/paperwire-elasticsearch-1.jar:$(cat "$BUILD_DIR/classpath.txt")"
  # JVM flags: the ones the stock launcher (server-cli SystemJvmOptions) always sets, minus the entitlement agent
  # and pre-touch (slow start, more RSS). ES_HEAP is split on purpose.
  # shellcheck disable=SC2086
  (cd "$ES_DIR" && exec nohup setsid java $ES_HEAP -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -Xss1m -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
      -XX:-OmitStackTraceInFastThrow -Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true \
      -Dio.netty.recycler.maxCapacityPerThread=0 -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true \
      -Dlog4j2.formatMsgNoLookups=true -Djava.locale.providers=CLDR -Djava.io.tmpdir="$ES_DIR/tmp" ${ES_JAVA_OPTS:-} \
      -cp "$cp" "$MAIN_CLASS" path.home="$ES_DIR/home" path.data="$ES_DIR/data" path.logs="$ES_DIR/home/logs" \
      http.port="$ES_PORT" ${ES_SETTINGS:-} >"$LOGFILE" 2>&1 </dev/null) &
  echo $! >"$PIDFILE"
  log "Elasticsearch $ELASTICSEARCH_VERSION starting (pid $(cat "$PIDFILE"), log $LOGFILE)"

  exec 3>&2
  if ! wait_for "Elasticsearch" 120 "$LOGFILE" healthy; then
    stop_pidfile "Elasticsearch" "$PIDFILE"
    die "Elasticsearch did not reach yellow health on $URL; read $LOGFILE"
  fi
  log "Elasticsearch $ELASTICSEARCH_VERSION up on $URL (heap: $ES_HEAP)"
}

down() {
  if running; then
    stop_pidfile "Elasticsearch" "$PIDFILE"
  else
    rm -f "$PIDFILE"
    log "Elasticsearch not running"
  fi
}

status() {
  if running; then
    echo "elasticsearch: running (pid $(cat "$PIDFILE"), $URL)"
  else
    echo "elasticsearch: stopped"
    return 1
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: $0 up|down|status" ;;
esac
