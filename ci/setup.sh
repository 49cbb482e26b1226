#!/usr/bin/env bash
# Prepares a fresh Debian 12 / Ubuntu machine (with Swift installed) for netlab and builds it.
#   sudo ci/setup.sh            packages, release build, install (ci/install.sh: netlab and netlab-proxy
#                               into /usr/local/bin, on sudo's PATH), then `netlab run`: the default lab's checks
#   sudo ci/setup.sh --deps     only the Debian packages
# Everything netlab builds lives in namespaces it creates; this script changes no network setting.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

packages=(libmnl-dev libcap-dev containernetworking-plugins iptables iproute2 tcpdump iputils-ping pkg-config libxml2-utils python3 util-linux procps)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "ci/setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "ci/setup.sh: swift is not on PATH: install Swift 6 (swift.org) first" >&2; exit 3; }
[ "${1:-}" = "--deps" ] && exit 0

swift build -c release
bash ci/install.sh --from .build/release
/usr/local/bin/netlab doctor
/usr/local/bin/netlab run
