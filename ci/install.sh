#!/usr/bin/env bash
# Installs netlab, netlab-proxy and netlab-overlay side by side (netlab finds its agents, and `netlab serve`
# itself, next to its own binary) into PREFIX/bin, by default /usr/local/bin: on the PATH that
# `sudo` keeps (Debian's and Ubuntu's secure_path), so the README's `sudo netlab ...` lines work.
#
#   sudo ci/install.sh                       release build, then install into /usr/local/bin
#   ci/install.sh --prefix DIR --from DIR    install binaries already built in DIR into DIR/bin
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
prefix=/usr/local
from=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --from) from=$2; shift 2 ;;
    *) echo "usage: ci/install.sh [--prefix DIR] [--from BUILD-DIR]" >&2; exit 2 ;;
  esac
done
if [ -z "$from" ]; then
  release_build netlab netlab-proxy netlab-overlay
  from=.build/release
fi
for b in netlab netlab-proxy netlab-overlay; do
  [ -x "$from/$b" ] || { echo "ci/install.sh: $from/$b is missing: build it first (ci/install.sh without --from builds it)" >&2; exit 3; }
done
install -d -m 0755 "$prefix/bin"
# install(1) writes a new file and renames it into place: a running netlab keeps its old binary.
install -m 0755 "$from/netlab" "$from/netlab-proxy" "$from/netlab-overlay" "$prefix/bin/"
echo "installed netlab, netlab-proxy and netlab-overlay into $prefix/bin ($("$prefix/bin/netlab" --version))"
