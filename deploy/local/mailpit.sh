#!/usr/bin/env bash
# Mailpit (an SMTP server that keeps what it receives, with an HTTP API to read it) on 127.0.0.1, for the tests
# of the notifier's digest e-mail. The binary is built by tools.sh (go install, version MAILPIT_VERSION in
# versions.env); its database, pidfile and log live under $INFRA_HOME/mailpit/.
# usage: mailpit.sh up|down|status      env: MAILPIT_SMTP_PORT (1025), MAILPIT_HTTP_PORT (8025)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MAILPIT_SMTP_PORT=${MAILPIT_SMTP_PORT:-1025}
MAILPIT_HTTP_PORT=${MAILPIT_HTTP_PORT:-8025}
DIR="$INFRA_HOME/mailpit"
PIDFILE="$DIR/mailpit.pid"
LOGFILE="$DIR/mailpit.log"
mkdir -p "$DIR"

# Keep a pidfile only while its process is ours: its command line names the database under $INFRA_HOME.
forget_stale_pid() { { pid_alive "$PIDFILE" && grep -qF "$INFRA_HOME" "/proc/$(cat "$PIDFILE")/cmdline"; } 2>/dev/null || rm -f "$PIDFILE"; }

# /livez answers once the HTTP side serves; the SMTP listener opens before it (see mailpit's start order), and
# both ports are checked so that a half-started server is not called ready.
ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$MAILPIT_HTTP_PORT/livez" && port_open "$MAILPIT_SMTP_PORT"; }

up() {
  forget_stale_pid
  if pid_alive "$PIDFILE"; then log "mailpit already running (pid $(cat "$PIDFILE"))"; return 0; fi
  local bin; bin=$(bash "$LOCAL_DIR/tools.sh" path mailpit)
  [[ -x $bin ]] || bash "$LOCAL_DIR/tools.sh" install mailpit
  local p
  for p in "$MAILPIT_SMTP_PORT" "$MAILPIT_HTTP_PORT"; do
    port_open "$p" && die "port $p is taken by a process that is not ours: $(ss -ltnpH "sport = :$p" | head -1)"
  done
  [[ -f $LOGFILE ]] && mv -f "$LOGFILE" "$LOGFILE.prev"
  log "starting mailpit $MAILPIT_VERSION: SMTP 127.0.0.1:$MAILPIT_SMTP_PORT, HTTP API 127.0.0.1:$MAILPIT_HTTP_PORT"
  # A fresh database per start: tests read what they sent, never a previous run's mail.
  rm -f "$DIR"/mailpit.db*
  setsid nohup "$bin" --database "$DIR/mailpit.db" --smtp "127.0.0.1:$MAILPIT_SMTP_PORT" \
      --listen "127.0.0.1:$MAILPIT_HTTP_PORT" --disable-version-check --max 5000 \
      >"$LOGFILE" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  wait_for mailpit 30 "$LOGFILE" ready || { stop_pidfile mailpit "$PIDFILE"; exit 1; }
}

status() {
  forget_stale_pid
  if pid_alive "$PIDFILE" && ready >/dev/null 2>&1; then
    echo "mailpit: running (pid $(cat "$PIDFILE")) SMTP 127.0.0.1:$MAILPIT_SMTP_PORT, API http://127.0.0.1:$MAILPIT_HTTP_PORT, $MAILPIT_VERSION, log $LOGFILE"
  else
    echo "mailpit: stopped"; return 3
  fi
}

case "${1:-}" in
  up) up ;;
  down) forget_stale_pid; stop_pidfile mailpit "$PIDFILE" ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
