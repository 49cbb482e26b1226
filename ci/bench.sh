#!/usr/bin/env bash
# netlab's benchmark: figures, not a test. Run as root on an otherwise idle machine.
#   sudo ci/bench.sh                 # 20 runs of `netlab run` (default topology) + the scale sweep
#   sudo ci/bench.sh --runs 50 --no-sweep
#   sudo ci/bench.sh --no-sweep --topology topologies/gke-dual-stack.yaml   # another topology's run
# Prints min/median/max per phase over the runs, then for generated labs (nodes 2 and 10; pods per
# node 10, 50, 100) the time of up (CNI ADD included) and down, with and without CNI DEL, per pod.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
runs=20
sweep=1
bin=""
topology=""
while [ $# -gt 0 ]; do
  taken=0; bench_option "$@" || taken=$?
  if [ "$taken" -gt 0 ]; then shift "$taken"; continue; fi
  case "$1" in
    --no-sweep) sweep=0; shift ;;
    --topology) topology=$2; shift 2 ;;
    *) echo "usage: ci/bench.sh [--runs N] [--no-sweep] [--bin NETLAB] [--topology FILE]  (--bin: measure another build, e.g. an older commit's)" >&2; exit 2 ;;
  esac
done
bench_setup

topo_args=()
[ -z "$topology" ] || topo_args=(--topology "$topology")
echo "== netlab run, ${topology:-the default topology}, $runs runs, release build, $(nproc) cores"
for i in $(seq "$runs"); do
  start=$(date +%s%N)
  "$bin" run --json "${topo_args[@]}" > "$work/run-$i.json"
  echo $(( ($(date +%s%N) - start) / 1000 )) > "$work/wall-$i.us"
done
python3 - "$work" "$runs" <<'PY'
import json, sys, statistics
work, runs = sys.argv[1], int(sys.argv[2])
phases, order, mem, wall = {}, [], [], []
for i in range(1, runs + 1):
    r = json.load(open(f"{work}/run-{i}.json"))
    assert r["passed"], f"run {i} failed"
    for t in r["timings"]:
        if t["phase"] not in phases: order.append(t["phase"])
        phases.setdefault(t["phase"], []).append(t["ms"])
    phases.setdefault("total (in netlab)", []).append(r["durationMs"])
    mem.append(r.get("peakMemoryKiB", 0) / 1024)
    wall.append(int(open(f"{work}/wall-{i}.us").read()) / 1000)
order.append("total (in netlab)")
print(f"{'phase':32} {'min':>9} {'median':>9} {'max':>9}  (ms)")
for p in order:
    v = phases[p]
    print(f"{p:32} {min(v):9.1f} {statistics.median(v):9.1f} {max(v):9.1f}")
print(f"{'wall clock, process start to exit':32} {min(wall):9.1f} {statistics.median(wall):9.1f} {max(wall):9.1f}")
print(f"peak memory of netlab: {max(mem):.1f} MiB")
PY

[ "$sweep" = 1 ] || exit 0
echo
echo "== scale: up and down of generated labs (one check each), cost per pod"
printf '%6s %6s %6s %10s %10s %12s %12s %10s %10s\n' nodes pods/n pods "up s" "down s" "up ms/pod" "down ms/pod" "down-noDEL" "mem MiB"
for nodes in 2 10; do
  for per in 10 50 100; do
    "$bin" topology generate --nodes "$nodes" --pods-per-node "$per" -o "$work/t.yaml"
    "$bin" run --json --topology "$work/t.yaml" pod-to-pod > "$work/scale.json"
    "$bin" run --json --skip-cni-del --topology "$work/t.yaml" pod-to-pod > "$work/scale-nodel.json"
    python3 - "$work/scale.json" "$work/scale-nodel.json" "$nodes" "$per" <<'PY'
import json, sys
r, n = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
nodes, per = int(sys.argv[3]), int(sys.argv[4])
pods = nodes * per
t = {x["phase"]: x["ms"] for x in r["timings"]}
tn = {x["phase"]: x["ms"] for x in n["timings"]}
up = sum(v for k, v in t.items() if k in ("namespaces", "links", "firewall", "cni add", "workloads", "proxy"))
down, down_nodel = t["teardown"], tn["teardown"]
assert r["passed"] and n["passed"]
print(f"{nodes:6} {per:6} {pods:6} {up/1000:10.2f} {down/1000:10.2f} {up/pods:12.2f} {down/pods:12.2f} {down_nodel/1000:10.2f} {r['peakMemoryKiB']/1024:10.1f}")
PY
  done
done
