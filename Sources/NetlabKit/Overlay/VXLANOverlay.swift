import Foundation

/// flannel's vxlan backend, as plain values: what its agent writes on its own Node
/// (pkg/subnet/kube annotations, prefix `flannel.alpha.coreos.com/`), what it reads from every
/// other Node, and the kernel state that follows (pkg/backend/vxlan: per peer a permanent
/// neighbour, an FDB entry and an onlink route on `flannel.1`). netlab-overlay computes its syncs
/// here and only carries the changes out; a real flanneld writes and reads the same annotations.
public enum VXLANOverlay {
    /// flannel's defaults: device `flannel.<VNI>`, VNI 1, the Linux kernel's VXLAN port 8472 (not IANA's 4789).
    public static let defaultVNI: UInt32 = 1
    public static let defaultPort: UInt16 = 8472
    public static func deviceName(vni: UInt32) -> String { "flannel.\(vni)" }
    /// Outer Ethernet + IPv4 + UDP + VXLAN headers.
    public static let overhead = 50

    public enum Annotation {
        public static let prefix = "flannel.alpha.coreos.com/"
        public static let backendType = prefix + "backend-type"
        public static let backendData = prefix + "backend-data"
        public static let publicIP = prefix + "public-ip"
        public static let kubeSubnetManager = prefix + "kube-subnet-manager"
    }

    /// The annotations an agent puts on its own Node. backend-data is Go's encoding of flannel's
    /// vxlanLeaseAttrs, key order included: `{"VNI":1,"VtepMAC":"…"}`.
    public static func annotations(vni: UInt32, vtepMAC: MACAddress, publicIP: IPv4Address) -> [String: String] {
        [Annotation.backendType: "vxlan",
         Annotation.backendData: "{\"VNI\":\(vni),\"VtepMAC\":\"\(vtepMAC)\"}",
         Annotation.publicIP: "\(publicIP)",
         Annotation.kubeSubnetManager: "true"]
    }

    /// Another node's VTEP, from its Node object.
    public struct Peer: Hashable, Sendable {
        public var node: String
        public var podCIDR: IPv4Prefix
        public var publicIP: IPv4Address
        public var vtepMAC: MACAddress

        public init(node: String, podCIDR: IPv4Prefix, publicIP: IPv4Address, vtepMAC: MACAddress) {
            self.node = node; self.podCIDR = podCIDR; self.publicIP = publicIP; self.vtepMAC = vtepMAC
        }

        /// The peer VTEP's address: its pod range's network address (flannel's scheme, a /32 on flannel.1).
        public var vtepAddress: IPv4Address { podCIDR.network.address }
    }

    /// The peers among `nodes` (Node objects as the API serves them), leaving out `selfName` and
    /// every Node that is not a vxlan lease of `vni` yet; `skipped` says why for those that look
    /// like one but cannot be used.
    public static func peers(nodes: [JSONValue], selfName: String, vni: UInt32) -> (peers: [Peer], skipped: [String]) {
        var peers: [Peer] = [], skipped: [String] = []
        for n in nodes {
            guard let name = n[path: ["metadata", "name"]]?.stringValue, name != selfName else { continue }
            let a = n[path: ["metadata", "annotations"]]
            // Not (yet) a flannel node: nothing to say.
            guard a?[Annotation.backendType]?.stringValue == "vxlan" else { continue }
            let cidrText = n[path: ["spec", "podCIDR"]]?.stringValue ?? n[path: ["spec", "podCIDRs"]]?.arrayValue?.first?.stringValue
            guard let cidr = cidrText.flatMap(IPv4Prefix.init) else {
                skipped.append("node \(name): no IPv4 spec.podCIDR"); continue
            }
            guard let ipText = a?[Annotation.publicIP]?.stringValue, let ip = IPv4Address(ipText) else {
                skipped.append("node \(name): \(Annotation.publicIP) is not an IPv4 address"); continue
            }
            guard let dataText = a?[Annotation.backendData]?.stringValue,
                  let data = try? JSONValue.decode(Data(dataText.utf8)),
                  let macText = data["VtepMAC"]?.stringValue, let mac = MACAddress(macText) else {
                skipped.append("node \(name): \(Annotation.backendData) has no VtepMAC"); continue
            }
            if let theirs = data["VNI"]?.intValue, theirs != Int(vni) {
                skipped.append("node \(name): VNI \(theirs), not this node's \(vni)"); continue
            }
            peers.append(Peer(node: name, podCIDR: cidr.network, publicIP: ip, vtepMAC: mac))
        }
        return (peers.sorted { $0.node < $1.node }, skipped)
    }

    /// One permanent ARP entry on the VTEP: the peer VTEP's address is at its MAC.
    public struct Neighbour: Hashable, Sendable {
        public var address: IPv4Address
        public var mac: MACAddress
        public init(address: IPv4Address, mac: MACAddress) { self.address = address; self.mac = mac }
    }

    /// One FDB entry on the VTEP: frames to the MAC go in UDP to the peer node's address.
    public struct Forwarding: Hashable, Sendable {
        public var mac: MACAddress
        public var destination: IPv4Address
        public init(mac: MACAddress, destination: IPv4Address) { self.mac = mac; self.destination = destination }
    }

    /// `destination via gateway dev flannel.N onlink`.
    public struct Route: Hashable, Sendable {
        public var destination: IPv4Prefix
        public var gateway: IPv4Address
        public init(destination: IPv4Prefix, gateway: IPv4Address) { self.destination = destination; self.gateway = gateway }
    }

    /// What the VTEP carries: the wanted state, or what the kernel has (only the agent's own
    /// kinds of entries: permanent neighbours, FDB entries with a destination, gateway routes on the VTEP).
    public struct State: Hashable, Sendable {
        public var neighbours: Set<Neighbour>
        public var forwarding: Set<Forwarding>
        public var routes: Set<Route>

        public init(neighbours: Set<Neighbour> = [], forwarding: Set<Forwarding> = [], routes: Set<Route> = []) {
            self.neighbours = neighbours; self.forwarding = forwarding; self.routes = routes
        }
    }

    /// What flannel programs for its peers (vxlan_network.go's handling of an added lease). The
    /// `omitting` kinds are left out: a broken overlay for tests.
    public static func desired(_ peers: [Peer], omitting: Set<Kind> = []) -> State {
        var s = State()
        for p in peers {
            if !omitting.contains(.neighbour) { s.neighbours.insert(Neighbour(address: p.vtepAddress, mac: p.vtepMAC)) }
            if !omitting.contains(.fdb) { s.forwarding.insert(Forwarding(mac: p.vtepMAC, destination: p.publicIP)) }
            if !omitting.contains(.route) { s.routes.insert(Route(destination: p.podCIDR, gateway: p.vtepAddress)) }
        }
        return s
    }

    public enum Kind: String, Sendable, Hashable, CaseIterable { case neighbour, fdb, route }

    /// The changes that turn `current` into `desired`: removals first (a peer whose MAC changed
    /// loses its old entries before it gets new ones), each list in a stable order.
    public struct Changes: Hashable, Sendable {
        public var removeRoutes: [Route] = []
        public var removeForwarding: [Forwarding] = []
        public var removeNeighbours: [Neighbour] = []
        public var addNeighbours: [Neighbour] = []
        public var addForwarding: [Forwarding] = []
        public var addRoutes: [Route] = []

        public var isEmpty: Bool {
            removeRoutes.isEmpty && removeForwarding.isEmpty && removeNeighbours.isEmpty
                && addNeighbours.isEmpty && addForwarding.isEmpty && addRoutes.isEmpty
        }
        public var count: Int {
            removeRoutes.count + removeForwarding.count + removeNeighbours.count + addNeighbours.count + addForwarding.count + addRoutes.count
        }
    }

    public static func changes(from current: State, to desired: State) -> Changes {
        let byAddress: (Neighbour, Neighbour) -> Bool = { $0.address.value < $1.address.value }
        let byMAC: (Forwarding, Forwarding) -> Bool = { ($0.mac.description, $0.destination.value) < ($1.mac.description, $1.destination.value) }
        let byDestination: (Route, Route) -> Bool = { ($0.destination.address.value, $0.gateway.value) < ($1.destination.address.value, $1.gateway.value) }
        var c = Changes()
        c.removeRoutes = current.routes.subtracting(desired.routes).sorted(by: byDestination)
        c.removeForwarding = current.forwarding.subtracting(desired.forwarding).sorted(by: byMAC)
        c.removeNeighbours = current.neighbours.subtracting(desired.neighbours).sorted(by: byAddress)
        c.addNeighbours = desired.neighbours.subtracting(current.neighbours).sorted(by: byAddress)
        c.addForwarding = desired.forwarding.subtracting(current.forwarding).sorted(by: byMAC)
        c.addRoutes = desired.routes.subtracting(current.routes).sorted(by: byDestination)
        return c
    }
}
