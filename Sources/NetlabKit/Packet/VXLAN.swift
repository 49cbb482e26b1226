/// VXLAN (RFC 7348): an 8-byte header after UDP, then a whole Ethernet frame. Linux's VXLAN
/// devices (and flannel) default to UDP 8472, IANA's port is 4789; both are decoded.
public struct VXLANFrame: Sendable, Hashable {
    /// The first byte; 0x08 (the I flag) says the VNI is valid.
    public var flags: UInt8
    /// Bytes 1-3: reserved in VXLAN, the overlay ID in Cisco's OTV (tcpdump's reading of 8472).
    public var reserved: UInt32
    /// The VXLAN network identifier (bytes 4-6).
    public var vni: UInt32
    public var udpPort: UInt16
    /// The encapsulated frame, decoded.
    public var inner: DecodedPacket

    public var vniValid: Bool { flags & 0x08 != 0 }

    public static let ports: Set<UInt16> = [4789, 8472]

    /// The VXLAN inside `u`, when one of its ports is a VXLAN port and the header is all there.
    public init?(_ u: UDPDatagram) {
        guard let port = [u.destinationPort, u.sourcePort].first(where: Self.ports.contains),
              u.payloadLength >= 8, u.payload.count >= 8 else { return nil }
        let p = u.payload
        flags = p[0]
        reserved = UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3])
        vni = UInt32(p[4]) << 16 | UInt32(p[5]) << 8 | UInt32(p[6])
        udpPort = port
        inner = Packet.decode(Array(p.dropFirst(8)), originalLength: u.payloadLength - 8)
    }
}

extension DecodedPacket {
    /// The VXLAN header and inner frame, for a UDP datagram on a VXLAN port.
    public var vxlan: VXLANFrame? { udp.flatMap(VXLANFrame.init) }
}

extension TcpdumpFormatter {
    /// Port 8472 as tcpdump 4.99 prints it: as OTV (Cisco's Overlay Transport Virtualization,
    /// whose header VXLAN shares; print-otv.c), then the inner frame on its own line.
    func otvText(_ u: UDPDatagram) -> String {
        guard let f = VXLANFrame(u) else { return "OTV [|otv]" }
        let fhex = (f.flags < 16 ? "0" : "") + String(f.flags, radix: 16)
        return "OTV, flags [\(f.vniValid ? "I" : ".")] (0x\(fhex)), overlay \(f.reserved), instance \(f.vni)\n" + summary(f.inner)
    }
}
