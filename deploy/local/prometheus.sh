#!/usr/bin/env bash
# Prometheus (Debian's prometheus package) on 127.0.0.1, started by us rather than by the package's service.
# Config: deploy/prometheus/prometheus.local.yml (targets on 127.0.0.1), else deploy/prometheus/prometheus.yml,
# else a minimal one that scrapes Prometheus itself.
# Storage, pidfile and log live under $INFRA_HOME/prometheus/.
# usage: prometheus.sh up|down|status      env: PROMETHEUS_PORT (9090)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROMETHEUS_PORT=${PROMETHEUS_PORT:-9090}
DIR="$INFRA_HOME/prometheus"
PIDFILE="$DIR/prometheus.pid"
LOGFILE="$DIR/prometheus.log"
# prometheus.yml scrapes docker-compose service names (enricher:9101, ...) that do not resolve here; the .local
# variant has the same jobs, labels and alert rules with 127.0.0.1 targets.
PROJECT_CONFS=("$ROOT_DIR/deploy/prometheus/prometheus.local.yml" "$ROOT_DIR/deploy/prometheus/prometheus.yml")
mkdir -p "$DIR/data"

# A pidfile left from before a reboot may name an unrelated process by now: keep it only if the process is ours
# (its command line names the storage path under $INFRA_HOME).
forget_stale_pid() { { pid_alive "$PIDFILE" && grep -qF "$INFRA_HOME" "/proc/$(cat "$PIDFILE")/cmdline"; } 2>/dev/null || rm -f "$PIDFILE"; }

# The package's postinst starts its own instance (user prometheus, port 9090) where services may start: stop it so
# that ours owns the port; anything else on the port is someone else's and we refuse to touch it.
free_port_from_package_service() {
  port_open "$PROMETHEUS_PORT" || return 0
  local pid; pid=$(ss -ltnpH "sport = :$PROMETHEUS_PORT" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  if [[ -n $pid && "$(ps -o user:32= -p "$pid" | tr -d ' ')" == prometheus ]]; then
    log "stopping the prometheus package's own instance (pid $pid) so that ours owns port $PROMETHEUS_PORT"
    echo "$pid" >"$DIR/package-service.pid"
    stop_pidfile "package prometheus" "$DIR/package-service.pid"
  fi
  port_open "$PROMETHEUS_PORT" && die "port $PROMETHEUS_PORT is taken by a process that is not ours: $(ss -ltnpH "sport = :$PROMETHEUS_PORT" | head -1)"
  return 0
}

ready() { curl -fsS "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"; }

up() {
  forget_stale_pid
  if pid_alive "$PIDFILE"; then log "prometheus already running (pid $(cat "$PIDFILE"))"; return 0; fi
  { command -v prometheus && command -v promtool; } >/dev/null || apt_install prometheus
  free_port_from_package_service
  local conf="" c
  for c in "${PROJECT_CONFS[@]}"; do [[ -f $c ]] && { conf=$c; break; }; done
  if [[ -z $conf ]]; then
    conf="$DIR/prometheus.yml"
    cat >"$conf" <<EOF
# Written by deploy/local/prometheus.sh because deploy/prometheus/ has no prometheus config yet.
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:$PROMETHEUS_PORT"]
EOF
  fi
  # A bad config should fail here with promtool's message, not as a crash at the bottom of the log.
  promtool check config "$conf" >"$DIR/check.log" 2>&1 || die "invalid Prometheus config $conf; read $DIR/check.log"
  log "starting $(prometheus --version 2>&1 | head -1 | cut -d' ' -f1-3) on 127.0.0.1:$PROMETHEUS_PORT with $conf"
  # setsid + nohup: Prometheus does not daemonize itself; without job control, $! is its pid.
  # --web.enable-lifecycle lets tests reload the config with POST /-/reload.
  setsid nohup prometheus --config.file="$conf" --storage.tsdb.path="$DIR/data" \
      --storage.tsdb.retention.time=2d --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --web.enable-lifecycle \
      >"$LOGFILE" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  wait_for prometheus 60 "$LOGFILE" ready || { stop_pidfile prometheus "$PIDFILE"; exit 1; }
}

status() {
  forget_stale_pid
  if pid_alive "$PIDFILE" && ready >/dev/null 2>&1; then
    echo "prometheus: running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PROMETHEUS_PORT, log $LOGFILE"
  else
    echo "prometheus: stopped"; return 3
  fi
}

case "${1:-}" in
  up) up ;;
  down) forget_stale_pid; stop_pidfile prometheus "$PIDFILE" ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
