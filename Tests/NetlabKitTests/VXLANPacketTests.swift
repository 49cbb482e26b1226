import Foundation
import Testing
@testable import NetlabKit

/// VXLAN on the wire: decoded as an inner Ethernet frame after UDP 8472 and 4789, printed as
/// tcpdump 4.99 prints it (OTV on 8472), and matched by a check's `vxlan:` outer layer.
@Suite struct VXLANPacketTests {
    typealias B = PacketBuilder
    static let node1 = IPv4Address("10.0.0.37")!, node2 = IPv4Address("10.0.0.38")!
    static let pod1 = IPv4Address("10.32.0.2")!, pod2 = IPv4Address("10.32.1.2")!
    static let vtepMAC1 = MACAddress("46:c7:1a:d0:47:3d")!, vtepMAC2 = MACAddress("0a:58:0a:20:01:00")!

    static func encapsulated(_ inner: [UInt8], vni: UInt32 = 1, port: UInt16 = 8472, flags: UInt8 = 0x08,
                             from: IPv4Address = node1, to: IPv4Address = node2) -> [UInt8] {
        let header: [UInt8] = [flags, 0, 0, 0, UInt8(vni >> 16 & 0xff), UInt8(vni >> 8 & 0xff), UInt8(vni & 0xff), 0]
        let outer = B.Endpoints(sourceMAC: MACAddress("02:00:00:00:00:25")!, destinationMAC: MACAddress("02:00:00:00:00:26")!, source: from, destination: to)
        return B.udpFrame(outer, sourcePort: 34292, destinationPort: port, payload: header + inner)
    }

    static func innerPing(reply: Bool = false, ttl: UInt8 = 63) -> [UInt8] {
        var ip = B.IPv4Fields()
        ip.ttl = ttl
        let e = reply ? B.Endpoints(sourceMAC: vtepMAC2, destinationMAC: vtepMAC1, source: pod2, destination: pod1)
                      : B.Endpoints(sourceMAC: vtepMAC1, destinationMAC: vtepMAC2, source: pod1, destination: pod2)
        return B.icmpEchoFrame(e, reply: reply, identifier: 7958, sequence: 1, ip: ip)
    }

    @Test func decodesTheInnerFrameOnBothPorts() throws {
        for port: UInt16 in [8472, 4789] {
            let d = Packet.decode(Self.encapsulated(Self.innerPing(), vni: 0x010203, port: port))
            let v = try #require(d.vxlan)
            #expect(v.vni == 0x010203 && v.vniValid && v.udpPort == port && v.reserved == 0)
            #expect(v.inner.ipv4?.source == Self.pod1 && v.inner.ipv4?.ttl == 63)
            #expect(v.inner.icmp?.type == ICMPMessage.echoRequest)
            #expect(v.inner.ethernet?.source == Self.vtepMAC1)
        }
        // Another port, or a header cut short, is plain UDP.
        #expect(Packet.decode(Self.encapsulated(Self.innerPing(), port: 9999)).vxlan == nil)
        let outer = B.Endpoints(sourceMAC: .zero, destinationMAC: .zero, source: Self.node1, destination: Self.node2)
        #expect(Packet.decode(B.udpFrame(outer, sourcePort: 1, destinationPort: 8472, payload: [8, 0, 0])).vxlan == nil)
    }

    @Test func port8472PrintsAsTcpdumpsOTVLine() {
        let fmt = TcpdumpFormatter(includeTimestamp: false, includeHop: false)
        let d = Packet.decode(Self.encapsulated(Self.innerPing()))
        #expect(fmt.summary(d) == """
            IP 10.0.0.37.34292 > 10.0.0.38.8472: OTV, flags [I] (0x08), overlay 0, instance 1
            IP 10.32.0.2 > 10.32.1.2: ICMP echo request, id 7958, seq 1, length 64
            """)
        let short = Self.encapsulated([], port: 8472).prefix(14 + 20 + 8 + 4)
        var cut = Array(short)
        // UDP length 12: four bytes of a VXLAN header.
        (cut[14 + 20 + 4], cut[14 + 20 + 5]) = (0, 12)
        (cut[14 + 2], cut[14 + 3]) = (0, 32)
        #expect(fmt.summary(Packet.decode(cut)).hasSuffix("8472: OTV [|otv]"))
    }

    /// The oracle: tcpdump -r on a pcap of these frames, line for line.
    @Test(.enabled(if: PacketFixtures.tcpdumpPath != nil, "needs tcpdump"))
    func formatterMatchesTcpdumpOnOverlayTraffic() throws {
        var ip = B.IPv4Fields()
        ip.ttl = 62
        let syn = B.tcpFrame(.init(sourceMAC: Self.vtepMAC2, destinationMAC: Self.vtepMAC1, source: IPv4Address("10.32.1.0")!, destination: IPv4Address("10.32.0.3")!),
                             sourcePort: 33929, destinationPort: 80, sequence: 1908792872, flags: .syn,
                             options: [.maximumSegmentSize(1360), .sackPermitted, .timestamp(value: 1, echoReply: 0), .noOperation, .windowScale(7)], ip: ip)
        let arp = B.arpRequestFrame(senderMAC: Self.vtepMAC1, senderIP: IPv4Address("10.32.0.0")!, targetIP: IPv4Address("10.32.1.0")!)
        let frames = [Self.encapsulated(Self.innerPing()), Self.encapsulated(Self.innerPing(reply: true), from: Self.node2, to: Self.node1),
                      Self.encapsulated(syn, from: Self.node2, to: Self.node1), Self.encapsulated(arp, vni: 42),
                      Self.encapsulated(Self.innerPing(), flags: 0), Self.encapsulated(Self.innerPing(), port: 4789)]
        let packets = PacketFixtures.captured(frames)
        let theirs = try PacketFixtures.tcpdump(PcapWriter.file(packets))
        let fmt = TcpdumpFormatter(includeTimestamp: true, includeHop: false)
        // tcpdump prints the inner frame on a line of its own (the fixture keeps a packet's lines together).
        let ours = packets.map(fmt.format)
        #expect(theirs.count == ours.count)
        for (i, (a, b)) in zip(ours, theirs).enumerated() { #expect(a == b, "frame \(i)") }
    }

    func facts() -> LabFacts {
        LabFacts(topology: DefaultTopology.load(), pods: [
            "pod1": .init(address: IPv4Prefix("10.32.0.2/24")!, gateway: IPv4Address("10.32.0.1")),
            "pod2": .init(address: IPv4Prefix("10.32.1.2/24")!, gateway: IPv4Address("10.32.1.1")),
        ])
    }

    @Test func anOuterPatternMatchesTheEncapsulatedPingOnly() throws {
        let p = PacketPattern(src: "pod1.ip", dst: "pod2.ip", ttl: 63, icmp: .echoRequest,
                              vxlan: VXLANPattern(vni: 1, src: "node1.ip", dst: "node2.ip"))
        let r = try ResolvedPattern(p, facts: facts())
        #expect(r.text == "vxlan vni 1 10.0.0.37 > 10.0.0.38: icmp echo-request 10.32.0.2 > 10.32.1.2 ttl 63")
        #expect(r.mismatches(Packet.decode(Self.encapsulated(Self.innerPing()))).isEmpty)
        // The ping itself, bare on the wire: exactly one thing wrong, so it is the closest.
        #expect(r.mismatches(Packet.decode(Self.innerPing())) == ["not in VXLAN"])
        #expect(r.mismatches(Packet.decode(Self.encapsulated(Self.innerPing(), vni: 2, from: Self.node2, to: Self.node1)))
                == ["VNI is 2, not 1", "outer src is 10.0.0.38, not 10.0.0.37", "outer dst is 10.0.0.37, not 10.0.0.38"])
        #expect(r.mismatches(Packet.decode(Self.encapsulated(Self.innerPing(ttl: 64)))) == ["inner ttl is 64, not 63"])
        // Another inner protocol stays "it is ...": evaluation leaves those out of "closest".
        let arp = B.arpRequestFrame(senderMAC: Self.vtepMAC1, senderIP: Self.pod1, targetIP: Self.pod2)
        #expect(r.mismatches(Packet.decode(Self.encapsulated(arp))).first?.hasPrefix("it is arp") == true)
        let port = try ResolvedPattern(PacketPattern(vxlan: VXLANPattern(dport: "4789")), facts: facts())
        #expect(port.mismatches(Packet.decode(Self.encapsulated(Self.innerPing()))) == ["outer dport is 8472, not 4789"])
    }
}

/// Both layers in what a user reads: the transcript (the inner line indented under the outer)
/// and the path diagram (the encapsulated sighting is the same packet, labelled with its outer layer).
@Suite struct VXLANReportTests {
    typealias T = VXLANPacketTests

    @Test func transcriptIndentsTheInnerPacket() {
        let line = TcpdumpFormatter(includeTimestamp: false).format(PacketFixtures.captured([T.encapsulated(T.innerPing())])[0])
        let r = CheckResult(name: "pod-to-pod", passed: false, durationMs: 1, expectations: [], transcript: [line])
        let text = RunReport.text(of: r, verbose: true)
        #expect(text.contains("""
                \(line.split(separator: "\n")[0])
                  IP 10.32.0.2 > 10.32.1.2: ICMP echo request, id 7958, seq 1, length 64
            """), "\(text)")
    }

    @Test func pathDiagramFollowsThePingThroughTheTunnel() throws {
        func at(_ hop: String, _ frame: [UInt8], t: UInt64, out: Bool) -> CapturedPacket {
            CapturedPacket(timestampNanoseconds: t, interfaceName: String(hop.split(separator: "/")[1]), hopLabel: hop,
                           direction: out ? .outgoing : .incoming, bytes: frame)
        }
        let sent = T.innerPing(ttl: 64), routed = T.innerPing(ttl: 63), delivered = T.innerPing(ttl: 62)
        let packets = [at("pod1/eth0", sent, t: 1, out: true), at("node1/flannel.1", routed, t: 2, out: true),
                       at("node1/eth0", T.encapsulated(routed), t: 3, out: true), at("node2/eth0", T.encapsulated(routed), t: 4, out: false),
                       at("pod2/eth0", delivered, t: 5, out: false)]
        let t = DefaultTopology.load()
        let d = PacketPathDiagram.build(result: CheckResult(name: "pod-to-pod", passed: true, durationMs: 1, expectations: []),
                                        source: "pod1", target: T.pod2, packets: packets,
                                        hops: packets.map(\.hopLabel), geography: LabGeography(topology: t, pods: [:]))
        #expect(d.lifelines.map { $0.id } == ["pod1/eth0", "node1/flannel.1", "node1/eth0", "node2/eth0", "pod2/eth0"])
        let labels = d.steps.compactMap { s -> String? in if case .arrow(let a) = s { return a.label } else { return nil } }
        #expect(labels.contains("[VXLAN 10.0.0.37 → 10.0.0.38 vni 1] 10.32.0.2 → 10.32.1.2 echo request seq 1 ttl 63"), "\(labels)")
    }
}
