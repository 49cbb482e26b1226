/// `overlay:`: an overlay the topology's agents build between the nodes (netlab makes none of
/// it). Declaring it tells netlab's checks, references (`node1.vtep`), diagrams and graph where
/// pod traffic goes: into each node's VTEP and across the VPC encapsulated.
public struct Overlay: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        /// flannel's vxlan backend: VTEP `flannel.<vni>`, its address the podCIDR's network address.
        case vxlan
    }
    public var kind: Kind
    public var vni: UInt32
    /// The UDP port the VTEPs talk on (flannel: 8472, the Linux default; IANA: 4789).
    public var port: UInt16

    public init(kind: Kind = .vxlan, vni: UInt32 = VXLANOverlay.defaultVNI, port: UInt16 = VXLANOverlay.defaultPort) {
        self.kind = kind; self.vni = vni; self.port = port
    }

    /// The VTEP each node gets.
    public var device: String { VXLANOverlay.deviceName(vni: vni) }

    /// A node's VTEP address (flannel's scheme: its pod range's network address, as a /32).
    public func vtepAddress(of node: Node) -> IPv4Address { node.podCIDR.network.address }
}
