import Foundation
import Testing
@testable import NetlabKit

/// IPv6 fixtures beside PacketFixtures': the dual-stack contract's pod addresses.
enum PacketFixtures6 {
    static let pod = IPv6Address("2001:db8:32::5")!
    static let peer = IPv6Address("2001:db8:32::1:d")!
    static let linkLocal = IPv6Address("fe80::58ee:33ff:fe89:1f6e")!
    static let path = PacketBuilder.Endpoints6(sourceMAC: PacketFixtures.podMAC, destinationMAC: PacketFixtures.peerMAC,
                                               source: pod, destination: peer)
}

@Suite struct PacketIPv6Tests {
    typealias B = PacketBuilder
    typealias F = PacketFixtures
    typealias F6 = PacketFixtures6

    /// Every IPv6 kind netlab claims to print as tcpdump does.
    static func corpus() -> [[UInt8]] {
        let e = F6.path, r = F6.path.reversed
        var f: [[UInt8]] = []
        f.append(B.icmp6EchoFrame(e, identifier: 15, sequence: 1, hopLimit: 62))
        f.append(B.icmp6EchoFrame(r, reply: true, identifier: 15, sequence: 1))
        f.append(B.icmp6EchoFrame(e, identifier: 65535, sequence: 0, dataLength: 0))
        f.append(B.neighborSolicitationFrame(sourceMAC: F.podMAC, source: F6.pod, target: F6.peer))
        f.append(B.neighborSolicitationFrame(sourceMAC: F.podMAC, source: IPv6Address(high: 0, low: 0), target: F6.peer))
        f.append(B.neighborAdvertisementFrame(r, target: F6.peer))
        f.append(B.neighborAdvertisementFrame(r, target: F6.peer, router: true, solicited: false))
        f.append(B.routerSolicitationFrame(sourceMAC: F.podMAC, source: F6.linkLocal))
        f.append(B.routerAdvertisementFrame(sourceMAC: F.peerMAC, source: IPv6Address("fe80::1")!))
        f.append(B.mldv2ReportFrame(sourceMAC: F.podMAC, source: F6.linkLocal,
                                    groups: [F6.peer.solicitedNodeMulticast, IPv6Address("ff02::fb")!]))
        let udp = Array(B.udp6Frame(e, sourcePort: 40000, destinationPort: 9999, payload: [1, 2, 3, 4, 5]).dropFirst(14))
        let tcp = Array(B.tcp6Frame(e, sourcePort: 40000, destinationPort: 80, sequence: 1, flags: .syn).dropFirst(14))
        let echo = Array(B.icmp6EchoFrame(e, identifier: 1, sequence: 1).dropFirst(14))
        for code: UInt8 in 0...4 { f.append(B.icmp6ErrorFrame(r, type: 1, code: code, original: udp)) }
        f.append(B.icmp6ErrorFrame(r, type: 1, code: 4, original: tcp))
        f.append(B.icmp6ErrorFrame(r, type: 1, code: 4, original: echo))
        f.append(B.icmp6ErrorFrame(r, type: 1, code: 0, original: echo))
        f.append(B.icmp6ErrorFrame(r, type: 2, code: 0, restOfHeader: 1280, original: udp))
        for code: UInt8 in 0...2 { f.append(B.icmp6ErrorFrame(r, type: 3, code: code, original: udp)) }
        for code: UInt8 in 0...2 { f.append(B.icmp6ErrorFrame(r, type: 4, code: code, restOfHeader: 40, original: udp)) }
        // TCP and UDP over IPv6, HTTP included.
        let synOpts: [TCPOption] = [.maximumSegmentSize(1440), .sackPermitted, .timestamp(value: 1, echoReply: 0), .noOperation, .windowScale(7)]
        f.append(B.tcp6Frame(e, sourcePort: 18974, destinationPort: 80, sequence: 3561575594, flags: .syn, options: synOpts))
        f.append(B.tcp6Frame(r, sourcePort: 80, destinationPort: 18974, sequence: 2337967012, acknowledgment: 3561575595, flags: [.syn, .ack]))
        f.append(B.tcp6Frame(e, sourcePort: 18974, destinationPort: 80, sequence: 3561575595, acknowledgment: 2337967013, flags: [.psh, .ack], payload: F.httpGet))
        f.append(B.tcp6Frame(r, sourcePort: 80, destinationPort: 18974, sequence: 2337967013, acknowledgment: 3561575632, flags: [.psh, .ack], payload: F.httpOK))
        f.append(B.tcp6Frame(e, sourcePort: 18974, destinationPort: 80, sequence: 3561575633, flags: .rst, window: 0))
        f.append(B.udp6Frame(e, sourcePort: 40000, destinationPort: 9999, payload: [1, 2, 3, 4, 5]))
        f.append(B.udp6Frame(e, sourcePort: 40000, destinationPort: 9999, payload: []))
        // Extension headers: a destination option before UDP, a first and a later fragment.
        f.append(B.udp6Frame(e, sourcePort: 40000, destinationPort: 9999, payload: [1], extensionHeaders: [(IPProtocolNumber.destinationOptions, [1, 4, 0, 0, 0, 0])]))
        f.append(B.udp6Frame(e, sourcePort: 40000, destinationPort: 9999, payload: [0, 0, 0, 0, 0, 0, 0, 0],
                             extensionHeaders: [(IPProtocolNumber.fragment, [0, 0, 1, 0, 0, 0, 42])]))
        f.append(B.ethernet(source: F.podMAC, destination: F.peerMAC, etherType: EtherType.ipv6,
                            payload: B.ipv6(source: F6.pod, destination: F6.peer, protocolNumber: IPProtocolNumber.udp,
                                            extensionHeaders: [(IPProtocolNumber.fragment, [0, 0, 0x10, 0, 0, 0, 42])], payload: [1, 2, 3, 4, 5, 6, 7, 8])))
        f.append(B.ethernet(source: F.podMAC, destination: F.peerMAC, etherType: EtherType.ipv6,
                            payload: B.ipv6(source: F6.pod, destination: F6.peer, protocolNumber: IPProtocolNumber.noNextHeader, payload: [])))
        f.append(B.ethernet(source: F.podMAC, destination: F.peerMAC, etherType: EtherType.ipv6,
                            payload: B.ipv6(source: F6.pod, destination: F6.peer, protocolNumber: 253, payload: [1, 2, 3, 4])))
        return f
    }

    @Test(.enabled(if: PacketFixtures.tcpdumpPath != nil, "needs tcpdump"))
    func formatterMatchesTcpdumpLineForLine() throws {
        let packets = F.captured(Self.corpus())
        let theirs = try F.tcpdump(PcapWriter.file(packets))
        let ours = packets.map(TcpdumpFormatter(includeTimestamp: true, includeHop: false).format)
        #expect(theirs.count == ours.count)
        for (i, (a, b)) in zip(ours, theirs).enumerated() { #expect(a == b, "frame \(i)") }
    }

    /// `(hlim N)` carries the hop limit tcpdump -v reports.
    @Test(.enabled(if: PacketFixtures.tcpdumpPath != nil, "needs tcpdump"))
    func hopLimitMatchesTcpdumpVerbose() throws {
        let packets = F.captured(Self.corpus())
        let verbose = try F.tcpdump(PcapWriter.file(packets), args: ["-nn", "-S", "-v"])
        let re = try Regex(#"^\S+ IP6 \(hlim (\d+),"#)
        var compared = 0
        for (p, v) in zip(packets, verbose) {
            guard let m = v.firstMatch(of: re), let hlim = m.output[1].substring else { continue }
            let ours = TcpdumpFormatter(includeTimestamp: false, includeHop: false, includeTTL: true).format(p)
            #expect(ours.hasPrefix("IP6 (hlim \(hlim)) "), "\(ours) vs \(v)")
            compared += 1
        }
        #expect(compared == packets.count)
    }

    @Test func decodesEchoWithItsHopLimit() {
        let d = Packet.decode(B.icmp6EchoFrame(F6.path, identifier: 7, sequence: 3, hopLimit: 62))
        #expect(d.ipv6?.source == F6.pod && d.ipv6?.destination == F6.peer && d.ipv6?.hopLimit == 62)
        #expect(d.ipv6?.payloadLength == 64 && d.ipv6?.upperProtocol == IPProtocolNumber.icmp6)
        #expect(d.icmp6?.type == ICMPv6Message.echoRequest && d.icmp6?.identifier == 7 && d.icmp6?.sequence == 3)
        #expect(d.hopLimit == 62 && d.sourceAddress == .v6(F6.pod) && d.issues.isEmpty)
        #expect(!d.isLinkLocalChatter)
    }

    @Test func decodesNeighbourDiscoveryOptions() {
        let ns = Packet.decode(B.neighborSolicitationFrame(sourceMAC: F.podMAC, source: F6.pod, target: F6.peer))
        #expect(ns.ethernet?.destination == MACAddress("33:33:ff:01:00:0d"))
        #expect(ns.ipv6?.destination == IPv6Address("ff02::1:ff01:d") && ns.ipv6?.hopLimit == 255)
        #expect(ns.icmp6?.ndp?.target == F6.peer && ns.icmp6?.ndp?.sourceLinkLayer == F.podMAC)
        let na = Packet.decode(B.neighborAdvertisementFrame(F6.path.reversed, target: F6.peer, router: true))
        #expect(na.icmp6?.ndp?.targetLinkLayer == F.peerMAC)
        #expect(na.icmp6?.ndp.map { ($0.router, $0.solicited, $0.override) } ?? (false, false, false) == (true, true, true))
        // NDP about a global address is the ARP of IPv6, not chatter; duplicate address detection is.
        #expect(!ns.isLinkLocalChatter && !na.isLinkLocalChatter)
        #expect(Packet.decode(B.neighborSolicitationFrame(sourceMAC: F.podMAC, source: IPv6Address(high: 0, low: 0), target: F6.peer)).isLinkLocalChatter)
        #expect(Packet.decode(B.neighborSolicitationFrame(sourceMAC: F.podMAC, source: F6.linkLocal, target: IPv6Address("fe80::1")!)).isLinkLocalChatter)
    }

    @Test func decodesMLDv2ThroughTheHopByHopHeader() {
        let d = Packet.decode(B.mldv2ReportFrame(sourceMAC: F.podMAC, source: F6.linkLocal, groups: [IPv6Address("ff02::fb")!]))
        #expect(d.ipv6?.extensionHeaders == [IPProtocolNumber.hopByHop] && d.ipv6?.upperOffset == 48)
        #expect(d.icmp6?.mldRecords == [MLDv2Record(type: 4, group: IPv6Address("ff02::fb")!, sources: [])])
        #expect(d.isLinkLocalChatter)
        #expect(Packet.decode(B.routerSolicitationFrame(sourceMAC: F.podMAC, source: F6.linkLocal)).isLinkLocalChatter)
    }

    @Test func decodesTheQuotedPacketOfAnError() {
        let original = Array(B.udp6Frame(F6.path, sourcePort: 40000, destinationPort: 9999, payload: [1]).dropFirst(14))
        let d = Packet.decode(B.icmp6ErrorFrame(F6.path.reversed, type: 1, code: 4, original: original))
        #expect(d.icmp6?.quoted?.header.destination == F6.peer)
        #expect(d.icmp6?.quoted?.sourcePort == 40000 && d.icmp6?.quoted?.destinationPort == 9999)
        let echo = Array(B.icmp6EchoFrame(F6.path, identifier: 99, sequence: 1).dropFirst(14))
        #expect(Packet.decode(B.icmp6ErrorFrame(F6.path.reversed, type: 3, code: 0, original: echo)).icmp6?.quoted?.echoIdentifier == 99)
        let tooBig = Packet.decode(B.icmp6ErrorFrame(F6.path.reversed, type: 2, code: 0, restOfHeader: 1400, original: original))
        #expect(tooBig.icmp6?.mtu == 1400)
    }

    @Test func transportChecksumsUseTheIPv6PseudoHeader() {
        // Recomputing over pseudo-header plus segment gives zero when the checksum is right.
        for frame in [B.tcp6Frame(F6.path, sourcePort: 1, destinationPort: 80, sequence: 9, flags: .syn),
                      B.udp6Frame(F6.path, sourcePort: 1, destinationPort: 53, payload: [1, 2, 3]),
                      B.icmp6EchoFrame(F6.path, identifier: 1, sequence: 1)] {
            let d = Packet.decode(frame)
            let ip = d.ipv6!
            let l4 = Array(frame[(14 + 40)...])
            #expect(internetChecksum(l4, initial: B.pseudoHeaderSum6(ip.source, ip.destination, ip.upperProtocol, l4.count)) == 0)
        }
        #expect(Packet.decode(B.tcp6Frame(F6.path, sourcePort: 1, destinationPort: 80, sequence: 9, flags: .syn)).tcp?.destinationPort == 80)
    }

    @Test func neverTrapsOnCutOrLyingIPv6() {
        let frame = B.tcp6Frame(F6.path, sourcePort: 1, destinationPort: 80, sequence: 9, flags: .syn, payload: F.httpGet)
        for n in 0..<frame.count { _ = TcpdumpFormatter().summary(Packet.decode(Array(frame.prefix(n)), originalLength: frame.count)) }
        var lying = frame
        lying[14 + 4] = 0xff
        let d = Packet.decode(lying)
        #expect(d.issues.contains { $0.layer == .ipv6 && $0.kind == .invalid })
        #expect(TcpdumpFormatter(includeTimestamp: false, includeHop: false).summary(d).hasPrefix("IP6 [invalid: payload length"))
        var v4 = frame
        v4[14] = 0x40
        #expect(Packet.decode(v4).issues.first?.detail == "version 4")
    }

    @Test func rawSocketMessagesDecode() {
        let m = B.icmp6(source: F6.peer, destination: F6.pod, type: ICMPv6Message.echoReply, restOfHeader: 0x0007_0001, body: [1, 2])
        let decoded = Packet.decodeICMPv6(m)
        #expect(decoded?.identifier == 7 && decoded?.sequence == 1 && decoded?.length == 10)
        #expect(Packet.decodeICMPv6([1, 2]) == nil)
    }
}
