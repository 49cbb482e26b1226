#!/usr/bin/env bash
# The test suite: unit tests (no root) and root tests (real namespaces, real CNI plugins).
# Root tests skip with a reason when not run as root; CI runs this as root.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build "$@"
