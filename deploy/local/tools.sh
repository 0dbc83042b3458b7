#!/usr/bin/env bash
# The command-line tools the test suite uses, installed by the project itself (never by hand): idempotent,
# version-pinned in versions.env, and a failed install names the tool and how it was tried.
# usage: tools.sh install [tool...] | path TOOL | list
#   tools: promtool (Debian's prometheus package: promtool and the server), chromium (Debian's chromium, for the
#          browser tests), mailpit (SMTP server with an HTTP API), grpcurl (a third-party gRPC client),
#          toxiproxy (network faults), vegeta (bench load generator; not installed by default)
#   Go tools are built with `go install` from the Go module proxy into $TOOLS_BIN (default ~/.cache/paperwire/bin,
#   outside the checkout so that clean clones on one machine share them); each binary is named <tool>-<version>
#   and linked as <tool>, so a version bump in versions.env installs the new one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TOOLS_BIN=${PAPERWIRE_TOOLS_BIN:-$HOME/.cache/paperwire/bin}
DEFAULT_TOOLS=(promtool chromium mailpit grpcurl toxiproxy)
KNOWN_TOOLS=("${DEFAULT_TOOLS[@]}" vegeta)
mkdir -p "$TOOLS_BIN"

# go_tool NAME MODULE_PATH VERSION [BINARY]: `go install MODULE_PATH@VERSION`, binary renamed NAME-VERSION.
go_tool() {
  local name=$1 pkg=$2 version=$3 built=${4:-$(basename "$2")}
  local target="$TOOLS_BIN/$name-$version"
  if [[ ! -x $target ]]; then
    command -v go >/dev/null || die "$name: needs Go (go install $pkg@$version); install Go 1.22+"
    local tmp; tmp=$(mktemp -d)
    log "installing $name $version (go install $pkg@$version)"
    if ! GOBIN="$tmp" GOFLAGS="${GOFLAGS:--buildvcs=false}" go install "$pkg@$version" >"$tmp/go.log" 2>&1; then
      tail -n 20 "$tmp/go.log" >&2
      die "$name: go install $pkg@$version failed (log above); is the Go module proxy reachable?"
    fi
    mv "$tmp/$built" "$target"
    rm -rf "$tmp"
  fi
  ln -sfn "$name-$version" "$TOOLS_BIN/$name"
}

# deb_tool NAME PACKAGE BINARY: a Debian package, checked by the binary it must provide.
deb_tool() {
  local name=$1 pkg=$2 bin=$3
  command -v "$bin" >/dev/null && return 0
  apt_install "$pkg" || die "$name: apt-get install $pkg failed; are Debian's package mirrors reachable?"
  command -v "$bin" >/dev/null || die "$name: package $pkg is installed but $bin is not on PATH"
}

install_one() {
  case "$1" in
    promtool) deb_tool promtool "$PROMETHEUS_DEB" promtool ;;
    chromium) deb_tool chromium "$CHROMIUM_DEB" chromium ;;
    mailpit) go_tool mailpit github.com/axllent/mailpit "$MAILPIT_VERSION" ;;
    grpcurl) go_tool grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl "$GRPCURL_VERSION" ;;
    # The module's command is cmd/server, so its binary is named `server`.
    toxiproxy) go_tool toxiproxy-server github.com/Shopify/toxiproxy/v2/cmd/server "$TOXIPROXY_VERSION" server ;;
    vegeta) go_tool vegeta github.com/tsenart/vegeta/v12 "$VEGETA_VERSION" vegeta ;;  # go names it vegeta, not v12
    *) die "unknown tool '$1' (known: ${KNOWN_TOOLS[*]})" ;;
  esac
}

# path TOOL: where the tool's binary is (what tests and the other scripts run).
path_of() {
  case "$1" in
    promtool) command -v promtool ;;
    chromium) command -v chromium ;;
    toxiproxy) echo "$TOOLS_BIN/toxiproxy-server" ;;
    mailpit | grpcurl | vegeta) echo "$TOOLS_BIN/$1" ;;
    *) die "unknown tool '$1' (known: ${KNOWN_TOOLS[*]})" ;;
  esac
}

cmd=${1:-}; shift || true
case "$cmd" in
  install)
    tools=("$@"); (( ${#tools[@]} )) || tools=("${DEFAULT_TOOLS[@]}")
    for t in "${tools[@]}"; do install_one "$t"; done
    for t in "${tools[@]}"; do log "$t: $(path_of "$t")"; done
    ;;
  path) path_of "${1:?usage: tools.sh path TOOL}" ;;
  list) printf '%s\n' "${KNOWN_TOOLS[@]}" ;;
  *) echo "usage: $0 install [tool...] | path TOOL | list" >&2; exit 2 ;;
esac
