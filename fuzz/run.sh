#!/usr/bin/env bash
# Builds the libFuzzer targets and runs one of them for a number of seconds.
#   fuzz/run.sh topology 300      # TopologyLoader.parse on YAML text
#   fuzz/run.sh packet 180        # Packet.decode, TcpdumpFormatter, PacketFilter, PcapReader
#   fuzz/run.sh cni 60            # CNIResult(data:)
#   fuzz/run.sh kube 60           # KubeList.decode and its round trip
#   fuzz/run.sh build             # only build
# The committed corpus (fuzz/corpus/NAME) seeds a temporary corpus directory, so a run never
# writes into the repository; crashing inputs land in fuzz/artifacts/ (git-ignored). Extra
# arguments after the seconds go to libFuzzer (e.g. -jobs=2 -workers=2, -dict=...).
# Exit status: 0 when the run ended without a crash, leak, timeout or OOM; 1 otherwise.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
scratch="${FUZZ_SCRATCH:-$here/.build-fuzz}"
target="${1:-}"
seconds="${2:-60}"
shift $(( $# > 2 ? 2 : $# )) || true

build() {
    swift build --package-path "$here" --scratch-path "$scratch" -c release \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -g \
        -Xcc -fsanitize=fuzzer-no-link,address >&2
}

case "$target" in
    topology) exe=FuzzTopology; max_len=8192; extra=(-dict="$here/topology.dict" -timeout=10) ;;
    packet)   exe=FuzzPacket;   max_len=2048; extra=(-timeout=5) ;;
    cni)      exe=FuzzCNI;      max_len=4096; extra=(-timeout=5) ;;
    kube)     exe=FuzzKube;     max_len=8192; extra=(-timeout=5) ;;
    build)    build; exit 0 ;;
    *) echo "usage: $0 topology|packet|cni|kube|build [seconds] [libFuzzer flags...]" >&2; exit 2 ;;
esac

build
bin="$(swift build --package-path "$here" --scratch-path "$scratch" -c release --show-bin-path)/$exe"

work=$(mktemp -d "${TMPDIR:-/tmp}/netlab-fuzz-$target.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$here/artifacts"
cp -R "$here/corpus/$target/." "$work/corpus/" 2>/dev/null || true

log="$work/fuzz.log"
set +e
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" "$bin" "$work/corpus" \
    -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$here/artifacts/$target-" "${extra[@]}" "$@" 2>&1 | tee "$log" | grep --line-buffered -E '^#[0-9]+.*(pulse|DONE)|ERROR|SUMMARY|Done ' || true
status=${PIPESTATUS[0]}
set -e

runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
rate=$(grep -oE '^stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
units=$(ls "$work/corpus" | wc -l)
if [ "$status" -eq 0 ]; then
    echo "fuzz $target: OK, ${seconds}s, $runs runs, $rate exec/s, cov $cov, corpus $units files"
else
    echo "fuzz $target: FAILED (libFuzzer exit $status) after $runs runs; reproducer in $here/artifacts/ (see the log above)"
    exit 1
fi
