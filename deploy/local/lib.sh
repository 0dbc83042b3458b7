#!/usr/bin/env bash
# Shared helpers for the no-Docker real servers (sourced by kafka.sh, elasticsearch.sh, redis.sh, ...).
set -euo pipefail
LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(cd "$LOCAL_DIR/../.." && pwd)"
# shellcheck source=versions.env
source "$LOCAL_DIR/versions.env"
# All state and logs live under one ignored folder.
INFRA_HOME="${PAPERWIRE_INFRA_HOME:-$ROOT_DIR/.infra}"
mkdir -p "$INFRA_HOME"

log() { printf '[infra] %s\n' "$*" >&2; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }

# now_ms: wall clock in milliseconds (for readiness times).
now_ms() { date +%s%3N; }

# pid_alive PIDFILE -> 0 if the process in PIDFILE runs.
pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# port_open PORT -> 0 if something accepts TCP on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for NAME TIMEOUT_S LOGFILE CMD... : poll CMD until it succeeds or the timeout passes.
wait_for() {
  local name=$1 timeout=$2 logfile=$3; shift 3
  local start; start=$(now_ms)
  while ! "$@" >/dev/null 2>&1; do
    if (( $(now_ms) - start > timeout * 1000 )); then
      log "$name did not become ready within ${timeout}s; read $logfile"
      tail -n 30 "$logfile" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.5
  done
  local took=$(( $(now_ms) - start ))
  printf '[infra] %s ready in %d.%03ds\n' "$name" $((took / 1000)) $((took % 1000)) >&2
}

# stop_pidfile NAME PIDFILE: TERM, wait up to 20 s, then KILL; removes the pidfile.
stop_pidfile() {
  local name=$1 pidfile=$2
  if pid_alive "$pidfile"; then
    local pid; pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then log "$name did not stop on TERM, killing"; kill -KILL "$pid" 2>/dev/null || true; fi
    log "$name stopped"
  fi
  rm -f "$pidfile"
}

# need_java: the machine's Java 17 (or newer) must be on PATH.
need_java() {
  command -v java >/dev/null || die "java not found: install a JDK 17 (apt-get install openjdk-17-jdk-headless)"
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install maven)"
}

# apt_install PKG...: install Debian packages when missing (we run as root on CI and dev machines).
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  (( ${#missing[@]} == 0 )) && return 0
  local sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  log "installing ${missing[*]} from Debian packages"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
