/// The topology netlab uses when no file is given: the two-node GKE VPC-native cluster of the
/// field report. Identical, byte for byte, to `topologies/gke-vpc-native.yaml` (a test keeps them
/// in sync), so the binary needs no data files and users can still copy the file.
public enum DefaultTopology {
    public static let fileName = "gke-vpc-native.yaml"

    public static let yaml: String = #"""
# netlab default topology: a two-node GKE "VPC-native" cluster, rebuilt from the field report
# shared/seed/gke-cni-walkthrough.txt ("kans3) gke cni에 대하여"; "report line N" below
# points into it). Copy this file to start your own topology; every key is explained once.
#
# VPC-native (--enable-ip-alias, report line 12) means pod and service addresses are secondary
# ranges of the VPC subnet: the VPC routes them to the right node, with no overlay and no NAT
# between pods. netlab builds that with network namespaces: a `vpc` bridge, one namespace per
# node and per pod, a `gw` namespace (VPC gateway + 1:1 NAT) and a `client` namespace outside.

# Informational; defaults to the file name without extension.
name: gke-vpc-native

vpc:
  # The nodes' primary subnet. The report's nodes have INTERNAL-IP 10.0.0.37 and 10.0.0.38
  # (report lines 160-162); a /24 around them is the usual GKE subnet size.
  subnet: 10.0.0.0/24
  # The VPC router's address, which GCP puts on the subnet's first host.
  gateway: 10.0.0.1
  # GCP's default VPC MTU; the pods' eth0 and the node-side veths show mtu 1460
  # (report lines 117 and 188).
  mtu: 1460
  # VPC-native: the VPC routes each node's podCIDR to that node (alias IP ranges), so pod IPs
  # cross it unchanged. `none` routes only the subnet and leaves the pod ranges to the agents
  # (an overlay, BGP or host-gw CNI).
  routing: podRanges

# The cluster's pod range, as kube-proxy is told with --cluster-cidr=10.32.0.0/14 (report line 70).
# Every node's podCIDR is carved out of it.
clusterCIDR: 10.32.0.0/14

# The services' range. The report does not print it; GKE keeps it in its own secondary range,
# outside the cluster CIDR, so netlab uses the /20 right after 10.32.0.0/14.
serviceCIDR: 10.36.0.0/20

# The outside world. In the report a laptop (121.167.232.64) curls the nodes' EXTERNAL-IPs on
# the NodePort (report lines 164 and 195); GCP maps each external address 1:1 to the node's
# internal one. netlab's `client` namespace plays the laptop and `gw` does the 1:1 NAT. The
# addresses are documentation ranges (RFC 5737) instead of the report's real public ones.
external:
  client: 198.51.100.10/24
  gateway: 198.51.100.1

# Two nodes, as the report's node pool (--num-nodes "2", report line 18; `k get no -owide`,
# report lines 160-162). Node names also name a Linux interface: at most 15 characters.
nodes:
  - name: node1                 # gke-...-3dm6 in the report
    ip: 10.0.0.37
    externalIP: 203.0.113.37    # 34.47.122.177 in the report
    # host-local's subnet in node1's conflist (report line 43); pod1 got 10.32.0.5 from it (line 119).
    podCIDR: 10.32.0.0/24
  - name: node2                 # gke-...-prpj in the report
    ip: 10.0.0.38
    externalIP: 203.0.113.38    # 34.64.32.222 in the report
    # pod2 got 10.32.1.13 (report line 121), so node2's range is the next /24.
    podCIDR: 10.32.1.0/24

# The report's test pods (report lines 83-108) and the nginx pod behind the service. Addresses
# are not written here: the CNI plugins hand them out, as in the cluster.
pods:
  - name: pod1                  # pings pod2 across nodes (report lines 110-145)
    node: node1
  - name: webpod1               # nginx answering the NodePort (report lines 177-184)
    node: node1
    labels: {app: webpod}       # matched by the service's selector
    ports:
      - containerPort: 80
        protocol: TCP
  - name: pod2
    node: node2

# The report's svc.yaml (report lines 147-158): port 9000 -> pod port 80, reachable on every
# node at 30007. With externalTrafficPolicy Cluster (the default) node2 forwards to webpod1
# on node1, SNATed to node2's address (report lines 207-228).
services:
  - name: svc-webport
    type: NodePort
    selector: {app: webpod}
    ports:
      - name: svc-webport
        port: 9000
        targetPort: 80
        nodePort: 30007
        protocol: TCP

cni:
  # Where the plugin binaries are (CNI_PATH); Debian's containernetworking-plugins puts them here.
  binDir: /usr/lib/cni
  # /etc/cni/net.d/10-containerd-net.conflist from the report (lines 33-58), key for key. The
  # node-specific subnet is a placeholder that netlab fills in per node; also available:
  # {{nodeName}}, {{nodeIP}} and {{mtu}}.
  conflist:
    name: k8s-pod-network
    cniVersion: 0.3.1           # a string: YAML reads 0.3.1 as text
    plugins:
      # ptp: one veth per pod, a /32 route to it on the node, the node side as pod gateway.
      - type: ptp
        mtu: 1460
        ipam:
          type: host-local
          subnet: "{{podCIDR}}"
          routes:
            - dst: 0.0.0.0/0
      # portmap: hostPort support (the containerPort/hostPort pairs of pods).
      - type: portmap
        capabilities:
          portMappings: true

# kube-proxy's place (report line 70 shows its --cluster-cidr): netlab-proxy, netlab's reference
# service proxy, runs on every node as kube-proxy does, a daemon that lists and watches the lab's
# own Kubernetes API and programs the node's iptables as Services and EndpointSlices change.
# Replace it by your own proxy with the same shape (topologies/examples/kube-proxy.yaml runs the
# real kube-proxy), or say `mode: oneShot` to have netlab run a proxy program once per node per
# change instead (docs/proxy-contract.md).
proxy:
  mode: agent

agents:
  - name: netlab-proxy
    command: [netlab-proxy, "--kubeconfig={{kubeconfig}}", "--hostname-override={{nodeName}}",
              "--cluster-cidr={{clusterCIDR}}", "--healthz-bind-address=127.0.0.1:10256"]
    # Ready once its first sync is in the kernel; synced after a change once its healthz says it
    # rendered the change's EndpointSlices.
    ready: {log: "ready: the first sync is applied"}
    sync: {http: "http://127.0.0.1:10256/healthz"}

# The report's three observations, as checks that `netlab run` makes with packets. Values are
# references into this file and the lab (pod IPs come from the CNI results), never literals, so
# the checks still hold when you change the addresses. Each `packets` item says what must be seen
# on one interface (member/interface), as tcpdump would show it there.
checks:
  # Report lines 110-145: pod1 pings pod2 on the other node; the reply comes with ttl=62 (node1
  # and node2 each route it once); pod2 first ARPs for its gateway-side MAC ("who-has pod2 tell
  # 10.32.1.1"), and both nodes' eth0 carry the pod IPs unchanged: no NAT, no encapsulation.
  - name: pod-to-pod
    description: pod1 pings pod2 across nodes; pod IPs cross the VPC unchanged
    from: pod1
    to: pod2.ip
    protocol: icmp
    expect:
      reply: true
      replyTTL: 62
      packets:
        - at: node1/eth0
          match: {icmp: echo-request, src: pod1.ip, dst: pod2.ip}
        - at: node2/eth0
          match: {icmp: echo-reply, src: pod2.ip, dst: pod1.ip}
        - at: pod2/eth0
          match: {arp: request, whoHas: pod2.ip, tell: pod2.gateway}
        - at: pod2/eth0
          match: {icmp: echo-request, src: pod1.ip, dst: pod2.ip, ttl: 62}

  # Report lines 160-190: curl to the NodePort of the node that hosts webpod1. The node sees the
  # client's address going to its own internal IP (gw mapped the external IP 1:1); webpod1 sees
  # the connection from 10.32.0.1, its veth's gateway: MASQUERADE took the outgoing interface's
  # address.
  - name: nodeport-local
    description: client -> node1's external IP on the NodePort, served by webpod1 on node1
    from: client
    to: node1.externalIP
    port: svc-webport.nodePort
    protocol: http
    expect:
      reply: true
      status: 200
      serverPod: webpod1
      serverSaw: webpod1.gateway
      packets:
        - at: node1/eth0
          match: {tcpFlags: S, src: client.ip, dst: node1.ip, dport: svc-webport.nodePort}
        - at: webpod1/eth0
          match: {tcpFlags: S, src: webpod1.gateway, dst: webpod1.ip, dport: svc-webport.targetPort}

  # Report lines 192-228: curl to the NodePort of the other node. node2 receives it, DNATs to
  # webpod1's pod IP and SNATs to its own address; on node1's eth0 the SYN goes from node2's IP
  # to webpod1:80, and webpod1 sees node2's IP as the client.
  - name: nodeport-remote
    description: client -> node2's external IP on the NodePort, forwarded to webpod1 on node1
    from: client
    to: node2.externalIP
    port: svc-webport.nodePort
    protocol: http
    expect:
      reply: true
      status: 200
      serverPod: webpod1
      serverSaw: node2.ip
      packets:
        - at: node2/eth0
          match: {tcpFlags: S, src: client.ip, dst: node2.ip, dport: svc-webport.nodePort}
        - at: node1/eth0
          match: {tcpFlags: S, src: node2.ip, dst: webpod1.ip, dport: svc-webport.targetPort}
        - at: webpod1/eth0
          match: {tcpFlags: S, src: node2.ip, dst: webpod1.ip, dport: svc-webport.targetPort}

"""#

    /// The default topology, loaded. It is validated by the tests, so loading it cannot fail.
    public static func load() -> Topology {
        do { return try TopologyLoader.parse(yaml: yaml, source: fileName) } catch {
            preconditionFailure("the embedded default topology is invalid:\n\(error)")
        }
    }
}
