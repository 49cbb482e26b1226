#!/bin/sh
# A service proxy in another language than netlab's, behind the same contract: it applies a fixed
# rule file (NodePort 30007 -> webpod1:80, masqueraded) with iptables-restore, and leaves a note of
# what netlab gave it so the test can check the contract's environment.
set -eu
here=$(dirname "$0")
note="$here/seen-$NETLAB_NODE_NAME"
{
  echo "node=$NETLAB_NODE_NAME ip=$NETLAB_NODE_IP podcidr=$NETLAB_POD_CIDR cluster=$NETLAB_CLUSTER_CIDR services=$NETLAB_SERVICE_CIDR"
  echo "file=$NETLAB_SERVICES"
  head -c 200 "$NETLAB_SERVICES" | tr -d '\n '
  echo
} > "$note"
exec iptables-restore --noflush -w 5 < "$here/shell-proxy.rules"
