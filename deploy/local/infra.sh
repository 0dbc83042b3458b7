#!/usr/bin/env bash
# Start, stop or inspect the real local servers (no Docker), each through its own deploy/local/<server>.sh.
# usage: infra.sh up|down|status [server...]
#   servers: kafka elasticsearch redis prometheus mailpit toxiproxy (the default set), and kafka-cluster (the
#            fault suite's three-node cluster: tests start it themselves; `down` stops it too, `status` lists it).
#   up      starts the servers in parallel (INFRA_PARALLEL=0: one after the other), prints a summary table and
#           exits non-zero naming the server and its log if one fails. Running servers are left alone.
#   down    stops the named servers (default: all, prometheus included) and fails if a server process of ours
#           (its command line names $INFRA_HOME) is still there.
#   status  one line per server; exit 3 if one of the named (default) servers is not running.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEFAULT=(kafka elasticsearch redis prometheus mailpit toxiproxy)
KNOWN=("${DEFAULT[@]}" kafka-cluster)
INFRA_PARALLEL=${INFRA_PARALLEL:-1}
OUT="$INFRA_HOME/infra-up"
servers=()

cmd=${1:-}; shift || true
named=("$@")
for s in "${named[@]}"; do
  [[ " ${KNOWN[*]} " == *" $s "* ]] || die "unknown server '$s' (known: ${KNOWN[*]})"
done

# pick DEFAULT...: sets `servers` to the named servers, else to the given defaults, keeping those whose script
# exists. A default server without a script yet (elasticsearch.sh is being written) is skipped with a note;
# a named one is an error.
pick() {
  local s list=("$@"); (( ${#named[@]} )) && list=("${named[@]}")
  servers=()
  for s in "${list[@]}"; do
    if [[ -f $LOCAL_DIR/$s.sh ]]; then servers+=("$s")
    elif (( ${#named[@]} )); then die "deploy/local/$s.sh does not exist"
    elif [[ $cmd != down ]]; then log "deploy/local/$s.sh does not exist yet: $s skipped"; fi
  done
}

# Each script keeps its server log at $INFRA_HOME/<server>/<server>.log; fall back to what its `up` printed.
log_of() { [[ -f $INFRA_HOME/$1/$1.log ]] && echo "$INFRA_HOME/$1/$1.log" || echo "$OUT/$1.out"; }

# up_one SERVER: run its `up` with output to a file, record exit code and wall time. A file, not a pipe: a server
# that inherits a pipe end (stdout or a dup of it) would keep the reader waiting until the server stops.
up_one() {
  local s=$1 start rc=0; start=$(now_ms)
  bash "$LOCAL_DIR/$s.sh" up >>"$OUT/$s.out" 2>&1 </dev/null || rc=$?
  echo "$rc $(( $(now_ms) - start ))" >"$OUT/$s.result"
}

up() {
  local s; pick "${DEFAULT[@]}"
  mkdir -p "$OUT"; rm -f "$OUT"/*.result
  local start; start=$(now_ms)
  # Parallel by default: on 2 cores Kafka and Elasticsearch each start slower side by side, but the total is still
  # shorter (measured with both warm under other load: parallel 14-23 s, one after the other 18-31 s).
  for s in "${servers[@]}"; do : >"$OUT/$s.out"; done
  (
    for s in "${servers[@]}"; do
      if [[ $INFRA_PARALLEL == 1 ]]; then up_one "$s" & else up_one "$s"; fi
    done
    wait
  ) &
  local runner=$!
  # Show the scripts' output live; tail ends once the runner (and so every `up`) has finished.
  (cd "$OUT" && tail -q -n +1 -s 0.2 -F --pid="$runner" "${servers[@]/%/.out}" 2>/dev/null) >&2 || true
  wait "$runner" || true
  local total=$(( $(now_ms) - start )) failed=()
  printf '\n%-14s %-8s %8s  %s\n' SERVER RESULT SECONDS LOG >&2
  for s in "${servers[@]}"; do
    local rc=1 ms=0 res; [[ -f $OUT/$s.result ]] && read -r rc ms <"$OUT/$s.result"
    if grep -q "already running" "$OUT/$s.out" && [[ $rc == 0 ]]; then res="running"
    elif [[ $rc == 0 ]]; then res="ready"; else res="FAILED"; failed+=("$s"); fi
    printf '%-14s %-8s %8s  %s\n' "$s" "$res" "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))" "$(log_of "$s")" >&2
  done
  printf '%-14s %-8s %8s\n' total "" "$((total / 1000)).$(printf '%03d' $((total % 1000)))" >&2
  for s in "${failed[@]}"; do log "$s failed to start: read $(log_of "$s") (and $OUT/$s.out)"; done
  (( ${#failed[@]} == 0 )) || exit 1
}

down() {
  local s; pick "${KNOWN[@]}"
  for s in "${servers[@]}"; do bash "$LOCAL_DIR/$s.sh" down; done
  local left=""
  for s in "${servers[@]}"; do
    bash "$LOCAL_DIR/$s.sh" status >/dev/null 2>&1 && left+="$s "
  done
  [[ -z $left ]] || die "still running after down: $left"
  # Belt and braces after a full stop: no server process (java, redis-server, prometheus) naming our state dir.
  if (( ${#named[@]} == 0 )); then
    local procs; procs=$(pgrep -af -- "$INFRA_HOME" | awk '$2 ~ /(^|\/)(java|redis-server|prometheus)$/' || true)
    [[ -z $procs ]] || die "processes of ours remain after down:"$'\n'"$procs"
    log "all servers stopped; no process of ours remains"
  fi
}

status() {
  local s rc=0; pick "${KNOWN[@]}"
  for s in "${servers[@]}"; do
    if ! bash "$LOCAL_DIR/$s.sh" status; then
      # The fault suite's cluster is usually stopped: that only counts when it was asked about.
      [[ $s == kafka-cluster && ${#named[@]} == 0 ]] || rc=3
    fi
  done
  return $rc
}

case "$cmd" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status [${KNOWN[*]}]" >&2; exit 2 ;;
esac
