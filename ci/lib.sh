# Sourced by the ci/ scripts. `sudo` resets PATH, so find the Swift toolchain where installers
# put it when it is not on PATH already.
if ! command -v swift >/dev/null 2>&1; then
  for d in /opt/swift/usr/bin /usr/share/swift/usr/bin /usr/local/swift/usr/bin \
           "${SUDO_USER:+$(getent passwd "$SUDO_USER" | cut -d: -f6)/.local/share/swiftly/bin}" \
           "${HOME:+$HOME/.local/share/swiftly/bin}"; do
    if [ -n "$d" ] && [ -x "$d/swift" ]; then PATH="$d:$PATH"; export PATH; break; fi
  done
fi

# The release build every ci/ script makes: `release_build [PRODUCT ...]` (no product: all of them).
# The Swift runtime and Foundation are linked statically: a netlab binary then starts in a third
# of the CPU time (no dynamic symbol lookups in libswiftCore and Foundation; a suite run starts
# some 60 netlab and netlab-proxy processes), and the installed binaries do not depend on where
# the Swift toolchain is.
release_build() {
  if [ $# -eq 0 ]; then swift build -c release --static-swift-stdlib; return; fi
  for product in "$@"; do swift build -c release --static-swift-stdlib --product "$product"; done
}

# The benchmarks' common start: `bench_setup <usage>` after their own options sets `bin` (the
# netlab to measure: --bin's, or a release build made here) and `work` (a fresh directory,
# removed on exit). `bench_option` reads the options every benchmark has, returning how many
# arguments it took (0: not one of them).
bench_option() {
  case "$1" in
    --runs) runs=$2; return 2 ;;
    --bin) bin=$2; return 2 ;;
  esac
  return 0
}
bench_setup() {
  if [ -z "${bin:-}" ]; then
    release_build >/dev/null 2>&1
    bin=.build/release/netlab
  fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
}
