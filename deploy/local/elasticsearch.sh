#!/usr/bin/env bash
# A real Elasticsearch 9.x single node without Docker: the server and Netty HTTP jars from Maven Central, started by
# the small launcher in deploy/local/elasticsearch/ (which also brings the analysis names of the unpublished
# analysis-common module, and the GET / endpoint).
#
#   deploy/local/elasticsearch.sh up|down|status
#
# Environment: ES_PORT (HTTP port, default 9200), ES_HEAP (default "-Xms512m -Xmx1g"), ES_JAVA_HOME (the JDK that
# builds and runs the node, default ELASTICSEARCH_JAVA_HOME from versions.env: Temurin 25), ES_JAVA_OPTS (extra JVM
# flags), ES_SETTINGS (extra node settings, space-separated key=value). State: $PAPERWIRE_INFRA_HOME/elasticsearch/
# (default .infra/: data/, home/, build/, elasticsearch.log, elasticsearch.pid). Delete its data/ to start empty.
# A data/ written by Elasticsearch 8.19 opens in place on 9.x (and then no longer on 8.x); build/ rebuilds itself
# when the version or the JDK changes.
source "$(dirname "$0")/lib.sh"

ES_PORT="${ES_PORT:-9200}"
ES_JAVA_HOME="${ES_JAVA_HOME:-$ELASTICSEARCH_JAVA_HOME}"
JAVA="$ES_JAVA_HOME/bin/java"
ES_HEAP="${ES_HEAP:--Xms512m -Xmx1g}"
ES_DIR="$INFRA_HOME/elasticsearch"
SRC_DIR="$LOCAL_DIR/elasticsearch"
BUILD_DIR="$ES_DIR/build"
PIDFILE="$ES_DIR/elasticsearch.pid"
LOGFILE="$ES_DIR/elasticsearch.log"
MAIN_CLASS=dev.paperwire.es.Main
URL="http://127.0.0.1:$ES_PORT"

# need_es_java: Elasticsearch 9 needs Java 21+; Temurin 25 is the one whose Vector API Lucene 10 uses for SIMD
# vector scoring (Debian bookworm has no JDK newer than 17, so it cannot be installed from here).
need_es_java() {
  [[ -x $JAVA ]] || die "Elasticsearch $ELASTICSEARCH_VERSION needs a JDK 21 or newer, and $JAVA does not exist: install \
Temurin 25 at $ELASTICSEARCH_JAVA_HOME (or point ES_JAVA_HOME at another JDK 21+)"
  local feature
  feature=$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2}')
  [[ $feature =~ ^[0-9]+$ ]] && (( feature >= 21 )) \
    || die "Elasticsearch $ELASTICSEARCH_VERSION needs a JDK 21 or newer; $JAVA is Java ${feature:-of unknown version}"
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install maven)"
}

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
  stamp="$ELASTICSEARCH_VERSION $ES_JAVA_HOME $(cd "$SRC_DIR" && find pom.xml src -type f | sort | xargs sha1sum | sha1sum | cut -c1-40)"
  built "$stamp" && return 0
  log "building the Elasticsearch $ELASTICSEARCH_VERSION launcher (the first build downloads ~80 MB of jars from Maven Central)"
  mkdir -p "$BUILD_DIR"
  if ! JAVA_HOME="$ES_JAVA_HOME" mvn -q -B -f "$SRC_DIR/pom.xml" -Des.version="$ELASTICSEARCH_VERSION" -Dpaperwire.build.dir="$BUILD_DIR" \
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
  need_es_java
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
  # Native access (zstd, mlockall, ...) loads libzstd from its platform dir, else it turns itself off altogether; the
  # distribution ships that library there, we link Debian's. Its SIMD library libvec is not published outside the
  # distribution, so enableVectorLibrary=false below: vector scoring stays with Lucene's Panama (Vector API) code.
  local native="$ES_DIR/home/lib/platform/linux-x64"
  [[ -e /usr/lib/x86_64-linux-gnu/libzstd.so.1 ]] || apt_install libzstd1
  mkdir -p "$native" && ln -sfn /usr/lib/x86_64-linux-gnu/libzstd.so.1 "$native/libzstd.so"
  [[ -f "$LOGFILE" ]] && mv -f "$LOGFILE" "$LOGFILE.prev"
  local cp
  cp="$BUILD_DIR/paperwire-elasticsearch-1.jar:$(cat "$BUILD_DIR/classpath.txt")"
  # JVM flags: the ones the stock launcher (server-cli SystemJvmOptions) always sets, minus the entitlement agent
  # and pre-touch (slow start, more RSS); the module-qualified --add-opens become moot on the classpath. The Vector
  # API module and Lucene's upper Java version (the running one, as stock sets it) turn on SIMD vector scoring.
  # ES_HEAP is split on purpose.
  local feature
  feature=$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2}')
  # shellcheck disable=SC2086
  (cd "$ES_DIR" && exec nohup setsid "$JAVA" $ES_HEAP -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -Xss1m -Djava.awt.headless=true \
      -Dfile.encoding=UTF-8 -XX:-OmitStackTraceInFastThrow -Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true \
      -Dio.netty.recycler.maxCapacityPerThread=0 -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true \
      -Dlog4j2.formatMsgNoLookups=true -Djava.locale.providers=CLDR -Djava.io.tmpdir="$ES_DIR/tmp" \
      --add-modules=jdk.incubator.vector -Dorg.apache.lucene.vectorization.upperJavaFeatureVersion="$feature" \
      --enable-native-access=ALL-UNNAMED -Des.nativelibs.path="$native" \
      -Dorg.elasticsearch.nativeaccess.enableVectorLibrary=false ${ES_JAVA_OPTS:-} \
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

# vectorization: what Lucene said at start-up about SIMD vector scoring (it logs one line when it looks).
vectorization() {
  local line
  line=$(grep -m1 -o 'VectorizationProvider\] \[[^]]*\] .*' "$LOGFILE" 2>/dev/null | sed 's/^[^]]*\] \[[^]]*\] //')
  case "$line" in
    *"API enabled"*) echo "on ($line)" ;;
    "") echo "off (Lucene logged no vectorization: Java below 20, or no jdk.incubator.vector)" ;;
    *) echo "off ($line)" ;;
  esac
}

status() {
  if running; then
    local pid java info
    pid=$(cat "$PIDFILE")
    java=$(readlink "/proc/$pid/exe")
    info=$(curl -fsS --max-time 3 "$URL/_nodes/_local/jvm?filter_path=nodes.*.version,nodes.*.jvm.version,nodes.*.jvm.vm_vendor" \
      2>/dev/null | python3 -c 'import json, sys; n = next(iter(json.load(sys.stdin)["nodes"].values())); j = n["jvm"]
print("Elasticsearch", n["version"], "on Java", j["version"], "(" + j["vm_vendor"] + ")")' 2>/dev/null) \
      || info="not answering node info yet"
    echo "elasticsearch: running (pid $pid, $URL): $info, $java; Lucene vectorization: $(vectorization)"
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
