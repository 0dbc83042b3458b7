#!/usr/bin/env bash
# Toxiproxy (a TCP proxy whose faults — latency, resets, a blackhole — are set through an HTTP API) on
# 127.0.0.1, for the fault suite (tests/faults/). It starts with no proxy: tests create theirs through the API
# and delete them afterwards. The binary is built by tools.sh (version TOXIPROXY_VERSION in versions.env);
# pidfile and log live under $INFRA_HOME/toxiproxy/.
# usage: toxiproxy.sh up|down|status      env: TOXIPROXY_PORT (8474, the API port)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TOXIPROXY_PORT=${TOXIPROXY_PORT:-8474}
DIR="$INFRA_HOME/toxiproxy"
PIDFILE="$DIR/toxiproxy.pid"
LOGFILE="$DIR/toxiproxy.log"
# The (empty) proxy list it loads at start: passing its path puts $INFRA_HOME in the command line, so pgrep
# and forget_stale_pid recognise the process as ours.
PROXIES="$DIR/proxies.json"
mkdir -p "$DIR"

forget_stale_pid() { { pid_alive "$PIDFILE" && grep -qF "$INFRA_HOME" "/proc/$(cat "$PIDFILE")/cmdline"; } 2>/dev/null || rm -f "$PIDFILE"; }

ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$TOXIPROXY_PORT/version"; }

up() {
  forget_stale_pid
  if pid_alive "$PIDFILE"; then log "toxiproxy already running (pid $(cat "$PIDFILE"))"; return 0; fi
  local bin; bin=$(bash "$LOCAL_DIR/tools.sh" path toxiproxy)
  [[ -x $bin ]] || bash "$LOCAL_DIR/tools.sh" install toxiproxy
  port_open "$TOXIPROXY_PORT" && die "port $TOXIPROXY_PORT is taken by a process that is not ours: $(ss -ltnpH "sport = :$TOXIPROXY_PORT" | head -1)"
  echo "[]" >"$PROXIES"
  [[ -f $LOGFILE ]] && mv -f "$LOGFILE" "$LOGFILE.prev"
  log "starting toxiproxy-server $TOXIPROXY_VERSION, API http://127.0.0.1:$TOXIPROXY_PORT"
  setsid nohup "$bin" -host 127.0.0.1 -port "$TOXIPROXY_PORT" -config "$PROXIES" >"$LOGFILE" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  wait_for toxiproxy 30 "$LOGFILE" ready || { stop_pidfile toxiproxy "$PIDFILE"; exit 1; }
}

status() {
  forget_stale_pid
  if pid_alive "$PIDFILE" && ready >/dev/null 2>&1; then
    local n; n=$(curl -fsS --max-time 2 "http://127.0.0.1:$TOXIPROXY_PORT/proxies" | grep -o '"listen"' | wc -l || true)
    echo "toxiproxy: running (pid $(cat "$PIDFILE")) API http://127.0.0.1:$TOXIPROXY_PORT, $TOXIPROXY_VERSION, $n proxies, log $LOGFILE"
  else
    echo "toxiproxy: stopped"; return 3
  fi
}

case "${1:-}" in
  up) up ;;
  down) forget_stale_pid; stop_pidfile toxiproxy "$PIDFILE" ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
