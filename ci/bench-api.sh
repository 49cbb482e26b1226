#!/usr/bin/env bash
# The lab API's benchmark: figures, not a test. No root needed for the store figures.
#   ci/bench-api.sh [--services 1000] [--watchers 100] [--runs 20]
# Prints min/median/max of listing the services (store and JSON) and of one change reaching every
# watcher. The default `netlab run` (API and agent-mode proxy included) is measured by ci/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product netlab-api-bench >/dev/null 2>&1
exec .build/release/netlab-api-bench "$@"
