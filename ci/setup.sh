#!/usr/bin/env bash
# Prepares a fresh Debian 12 / Ubuntu machine (with Swift installed) for netlab and builds it.
#   sudo ci/setup.sh            packages, release build, install (ci/install.sh: netlab, netlab-proxy and netlab-overlay
#                               into /usr/local/bin, on sudo's PATH), then `netlab run`: the default lab's checks
#   sudo ci/setup.sh --deps     only the Debian packages
# Everything netlab builds lives in namespaces it creates; this script changes no network setting.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

packages=(libmnl-dev libcap-dev containernetworking-plugins iptables iproute2 tcpdump iputils-ping pkg-config libxml2-utils python3 python3-pip util-linux procps curl openssl)
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

# Real clients for the API server's tests (Tests/NetlabAPIServerTests), which skip without them.
# Debian's kubectl (kubernetes-client 1.20) is unpacked into /opt/netlab-kubectl rather than
# installed: on some images another package (Google Cloud SDK's kubectl) owns /usr/bin/kubectl and
# dpkg refuses the overwrite. The tests look there first, then run every other kubectl on PATH too.
kubectl_dir=/opt/netlab-kubectl
if [ ! -x "$kubectl_dir/usr/bin/kubectl" ]; then
  echo "ci/setup.sh: unpacking Debian's kubernetes-client into $kubectl_dir"
  dl=$(mktemp -d)
  (cd "$dl" && { apt-get download -qq kubernetes-client 2>/dev/null || { apt-get update -qq && apt-get download -qq kubernetes-client 2>/dev/null; }; })
  mkdir -p "$kubectl_dir"
  dpkg-deb -x "$dl"/kubernetes-client_*.deb "$kubectl_dir"
  rm -rf "$dl"
fi
# PyPI's kubernetes client, for the python3 first on PATH (the one the tests run); skipped when present.
if ! python3 -c 'import kubernetes' 2>/dev/null; then
  echo "ci/setup.sh: installing the kubernetes Python client from PyPI"
  python3 -m pip install -q kubernetes 2>/dev/null || python3 -m pip install -q --break-system-packages kubernetes
fi

command -v swift >/dev/null || { echo "ci/setup.sh: swift is not on PATH: install Swift 6 (swift.org) first" >&2; exit 3; }
[ "${1:-}" = "--deps" ] && exit 0

release_build
bash ci/install.sh --from .build/release
/usr/local/bin/netlab doctor
/usr/local/bin/netlab run
