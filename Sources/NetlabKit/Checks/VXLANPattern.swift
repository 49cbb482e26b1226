/// A check's outer layer: `match: {vxlan: {vni: 1, src: node1.ip, dst: node2.ip}, icmp: ...}`
/// says the packet is a VXLAN datagram with these outer fields, and every other key of the
/// match is about the frame inside it.
public struct VXLANPattern: Hashable, Sendable, Codable {
    public var vni: Int?
    /// The outer IPv4 source and destination: the VTEPs' node addresses.
    public var src: Ref?
    public var dst: Ref?
    /// The outer UDP destination port; unset, either VXLAN port (8472, 4789).
    public var dport: Ref?

    public init(vni: Int? = nil, src: Ref? = nil, dst: Ref? = nil, dport: Ref? = nil) {
        self.vni = vni; self.src = src; self.dst = dst; self.dport = dport
    }
}

/// The outer layer of a resolved pattern.
public struct VXLANMatch: Sendable, Hashable {
    public var vni: UInt32?
    public var source: IPv4Address?
    public var destination: IPv4Address?
    public var port: UInt16?

    init(_ p: VXLANPattern, facts: LabFacts) throws {
        vni = try p.vni.map { v in
            guard let n = UInt32(exactly: v), n <= 0xffffff else { throw LabFacts.Unresolved(ref: Ref(String(v)), reason: "not a VNI (0-16777215)") }
            return n
        }
        // The underlay is the VPC's IPv4: the VTEPs are the nodes' IPv4 addresses.
        func ipv4(_ r: Ref) throws -> IPv4Address {
            guard let a = try facts.address(r).v4 else { throw LabFacts.Unresolved(ref: r, reason: "not an IPv4 address: VXLAN's outer addresses are the nodes' IPv4 ones") }
            return a
        }
        source = try p.src.map(ipv4)
        destination = try p.dst.map(ipv4)
        port = try p.dport.map { r in
            let n = try facts.port(r)
            guard let v = UInt16(exactly: n) else { throw LabFacts.Unresolved(ref: r, reason: "\(n) is not a port (1-65535)") }
            return v
        }
    }

    /// "vxlan vni 1 10.0.0.37 > 10.0.0.38.8472".
    var text: String {
        var words = ["vxlan"]
        if let vni { words.append("vni \(vni)") }
        if source != nil || destination != nil || port != nil {
            words.append((source.map { "\($0)" } ?? "*") + " > " + (destination.map { "\($0)" } ?? "*") + (port.map { ".\($0)" } ?? ""))
        }
        return words.joined(separator: " ")
    }

    /// The outer fields that differ (the inner ones are the caller's), or nil when `d` carries no VXLAN.
    func mismatches(_ d: DecodedPacket) -> (outer: [String], inner: DecodedPacket)? {
        guard let u = d.udp, let ip = d.ipv4, let frame = d.vxlan else { return nil }
        var out: [String] = []
        if let port, u.destinationPort != port { out.append("outer dport is \(u.destinationPort), not \(port)") }
        if let vni, frame.vni != vni { out.append("VNI is \(frame.vni), not \(vni)") }
        if let source, ip.source != source { out.append("outer src is \(ip.source), not \(source)") }
        if let destination, ip.destination != destination { out.append("outer dst is \(ip.destination), not \(destination)") }
        return (out, frame.inner)
    }
}
