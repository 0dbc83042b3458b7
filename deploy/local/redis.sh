#!/usr/bin/env bash
# Real Redis 7 (Debian's redis-server package) on 127.0.0.1, started by us rather than by the package's service
# (there is no systemd here); config, pidfile, log and data live under $INFRA_HOME/redis/.
# usage: redis.sh up|down|status      env: REDIS_PORT (6379), REDIS_AOF (no; yes for the durability tests)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REDIS_PORT=${REDIS_PORT:-6379}
REDIS_AOF=${REDIS_AOF:-no}
DIR="$INFRA_HOME/redis"
CONF="$DIR/redis.conf"
PIDFILE="$DIR/redis.pid"
LOGFILE="$DIR/redis.log"
mkdir -p "$DIR/data"

# A pidfile left from before a reboot may name an unrelated process by now: keep it only if the process is ours
# (its title names our config file under $INFRA_HOME, see proc-title-template below).
forget_stale_pid() { { pid_alive "$PIDFILE" && grep -qF "$INFRA_HOME" "/proc/$(cat "$PIDFILE")/cmdline"; } 2>/dev/null || rm -f "$PIDFILE"; }

# The package's postinst starts its own instance (user redis, port 6379) where services may start. Ours must be
# the one on the port, so stop that one; anything else on the port is someone else's and we refuse to touch it.
free_port_from_package_service() {
  port_open "$REDIS_PORT" || return 0
  local pid; pid=$(ss -ltnpH "sport = :$REDIS_PORT" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  if [[ -n $pid && "$(ps -o user:32= -p "$pid" | tr -d ' ')" == redis ]]; then
    log "stopping the redis-server package's own instance (pid $pid) so that ours owns port $REDIS_PORT"
    if [[ -x /etc/init.d/redis-server ]]; then /etc/init.d/redis-server stop >/dev/null 2>&1 || true; fi
    echo "$pid" >"$DIR/package-service.pid"
    stop_pidfile "package redis-server" "$DIR/package-service.pid"
  fi
  port_open "$REDIS_PORT" && die "port $REDIS_PORT is taken by a process that is not ours: $(ss -ltnpH "sport = :$REDIS_PORT" | head -1)"
  return 0
}

up() {
  forget_stale_pid
  if pid_alive "$PIDFILE"; then log "redis already running (pid $(cat "$PIDFILE"))"; return 0; fi
  { command -v redis-server && command -v redis-cli; } >/dev/null || apt_install "$REDIS_DEB" redis-tools
  free_port_from_package_service
  # Tests want a throwaway cache: no RDB snapshots and no AOF unless REDIS_AOF=yes.
  cat >"$CONF" <<EOF
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize yes
pidfile $PIDFILE
logfile $LOGFILE
dir $DIR/data
save ""
appendonly $REDIS_AOF
appendfsync everysec
# Puts the config path (under \$INFRA_HOME) in the process title, so pgrep -f "\$INFRA_HOME" finds this server.
proc-title-template "{title} {listen-addr} {server-mode} {config-file}"
EOF
  log "starting redis-server $(redis-server --version | grep -o 'v=[0-9.]*' | cut -c3-) on 127.0.0.1:$REDIS_PORT (appendonly $REDIS_AOF)"
  # Redis daemonizes itself and writes the pidfile; its own setsid detaches it from this shell.
  redis-server "$CONF" || die "redis-server failed to start; read $LOGFILE"
  # Redis writes its pidfile before it enters the event loop, so once `ping` answers the pidfile is there.
  wait_for redis 30 "$LOGFILE" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping || exit 1
}

status() {
  forget_stale_pid
  if pid_alive "$PIDFILE" && redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    echo "redis: running (pid $(cat "$PIDFILE")) on 127.0.0.1:$REDIS_PORT, $(redis-server --version | grep -o 'v=[0-9.]*'), log $LOGFILE"
  else
    echo "redis: stopped"; return 3
  fi
}

case "${1:-}" in
  up) up ;;
  down) forget_stale_pid; stop_pidfile redis "$PIDFILE" ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
