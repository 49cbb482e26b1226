#!/usr/bin/env bash
# What a CI job runs: install what the machine lacks, build netlab, and run a topology's checks
# with JUnit, pcaps, diagrams and a Markdown summary. GitHub Actions calls it (ci/github/datapath.yml);
# netlab's own CI runs it too, on the default topology, so the workflow's steps are tested here.
#
#   sudo ci/netlab-ci.sh [--topology FILE] [--shard K/N] [--out DIR] [-- extra netlab run args]
#
# Exit code: netlab run's (0 all passed, 1 a check failed, 2 bad topology, 3 environment).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
topology=""
shard=""
out="netlab-out"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --topology) topology=$2; shift 2 ;;
    --shard) shard=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: ci/netlab-ci.sh [--topology FILE] [--shard K/N] [--out DIR] [-- netlab run args]" >&2; exit 2 ;;
  esac
done

bash "$here/setup.sh" --deps || exit 3
(cd "$root" && release_build netlab netlab-proxy netlab-overlay) || exit 3
bin="$root/.build/release/netlab"
"$bin" doctor ${topology:+--topology "$topology"} || exit 3

mkdir -p "$out"
args=(run --junit "$out/junit.xml" --artifacts "$out/artifacts" --summary "$out/summary.md")
[ -n "$topology" ] && args+=(--topology "$topology")
[ -n "$shard" ] && args+=(--shard "$shard")
"$bin" "${args[@]}" "${extra[@]}"
rc=$?
# In GitHub Actions, the summary goes on the run's page.
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$out/summary.md" ]; then cat "$out/summary.md" >> "$GITHUB_STEP_SUMMARY"; fi
exit $rc
