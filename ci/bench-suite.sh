#!/usr/bin/env bash
# The conformance suite's speed: figures, not a test. Run as root on an otherwise idle machine.
#   sudo ci/bench-suite.sh                       # 5 runs of `netlab suite topologies/conformance` per proxy mode, --jobs 1 2 3
#   sudo ci/bench-suite.sh --runs 10 --jobs "2" --bin .build/release/netlab
# Prints, per proxy mode and --jobs, min/median/max wall clock of the whole suite (labs built, every
# check run, labs taken down), and the slowest topologies and checks of the median run. The target
# is the whole suite within 5 s on a 2-core machine.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
runs=5
jobs="1 2 3"
bin=""
dir=topologies/conformance
while [ $# -gt 0 ]; do
  taken=0; bench_option "$@" || taken=$?
  if [ "$taken" -gt 0 ]; then shift "$taken"; continue; fi
  case "$1" in
    --jobs) jobs=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    *) echo "usage: ci/bench-suite.sh [--runs N] [--jobs \"1 2 3\"] [--bin NETLAB] [--dir DIR]" >&2; exit 2 ;;
  esac
done
bench_setup
echo "== netlab suite $dir, $runs runs per row, $(nproc) cores, $(ls "$dir"/*.yaml | wc -l) topologies"
for mode in iptables nftables; do
  for j in $jobs; do
    for i in $(seq "$runs"); do
      start=$(date +%s%N)
      "$bin" suite --json --jobs "$j" --proxy-mode "$mode" "$dir" > "$work/$mode-$j-$i.json"
      echo $(( ($(date +%s%N) - start) / 1000 )) > "$work/$mode-$j-$i.us"
    done
  done
done
python3 - "$work" "$runs" "$jobs" <<'PY'
import json, sys, statistics
work, runs, jobs = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
print(f"{'mode':9} {'jobs':>4} {'min':>8} {'median':>8} {'max':>8}  (s, wall clock)  checks")
for mode in ["iptables", "nftables"]:
    for j in jobs:
        walls, reports = [], []
        for i in range(1, runs + 1):
            rs = json.load(open(f"{work}/{mode}-{j}-{i}.json"))
            assert all(r["passed"] for r in rs), f"{mode} jobs {j} run {i} failed"
            walls.append(int(open(f"{work}/{mode}-{j}-{i}.us").read()) / 1e6)
            reports.append(rs)
        checks = sum(len(r["checks"]) for r in reports[0])
        print(f"{mode:9} {j:>4} {min(walls):8.2f} {statistics.median(walls):8.2f} {max(walls):8.2f}  {checks:>22}")
        med = reports[sorted(range(runs), key=lambda k: walls[k])[runs // 2]]
        labs = sorted(((r["durationMs"], r["topology"]) for r in med), reverse=True)[:3]
        slow = sorted(((c["durationMs"], c["name"]) for r in med for c in r["checks"]), reverse=True)[:3]
        print("          slowest labs: " + ", ".join(f"{t} {ms/1000:.2f} s" for ms, t in labs))
        print("          slowest checks: " + ", ".join(f"{n} {ms:.0f} ms" for ms, n in slow))
PY
