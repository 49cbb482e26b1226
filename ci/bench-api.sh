#!/usr/bin/env bash
# The lab API's benchmark: figures, not a test.
#   ci/bench-api.sh [--services 1000] [--watchers 100] [--runs 20]
# Prints min/median/max of listing the services and of one change reaching every watcher: first in
# the store (no root), then, as root, over HTTP against a lab's own API server, from inside the lab's
# api namespace (a lab of its own, `bench-api-<pid>`, taken down afterwards). The default
# `netlab run` (API and agent-mode proxy included) is measured by ci/bench.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
release_build netlab-api-bench >/dev/null 2>&1
bench=$PWD/.build/release/netlab-api-bench
"$bench" "$@"
[ "$(id -u)" = 0 ] || { echo "(run as root for the HTTP figures against a lab's API server)"; exit 0; }
release_build netlab netlab-proxy >/dev/null 2>&1
netlab=$PWD/.build/release/netlab
lab="bench-api-$$"
"$netlab" up --name "$lab" >/dev/null
trap '"$netlab" down --name "$lab" >/dev/null' EXIT
server=$("$netlab" status --name "$lab" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["labs"][0]["api"]["url"])')
echo
"$netlab" exec --name "$lab" api -- "$bench" http --server "$server" "$@"
