import Foundation
import Testing
@testable import NetlabKit

@Suite struct PacketDecoderTests {
    typealias B = PacketBuilder
    typealias F = PacketFixtures

    @Test func decodesICMPEcho() throws {
        let frame = B.icmpEchoFrame(F.path, identifier: 15, sequence: 1, ip: .init(ttl: 62, identification: 0x1234))
        let d = Packet.decode(frame)
        #expect(d.issues.isEmpty)
        #expect(d.ethernet?.source == F.podMAC)
        #expect(d.ethernet?.destination == F.peerMAC)
        #expect(d.ethernet?.etherType == EtherType.ipv4)
        let ip = try #require(d.ipv4)
        #expect(ip.version == 4 && ip.headerLength == 20 && ip.optionsLength == 0)
        #expect(ip.ttl == 62 && ip.identification == 0x1234 && ip.dontFragment && !ip.moreFragments)
        #expect(ip.totalLength == 84 && ip.protocolNumber == IPProtocolNumber.icmp)
        #expect(ip.source == F.pod && ip.destination == F.peer && ip.checksumValid)
        let m = try #require(d.icmp)
        #expect(m.type == ICMPMessage.echoRequest && m.code == 0 && m.identifier == 15 && m.sequence == 1 && m.length == 64)
        // The builder's ICMP checksum verifies over the whole message.
        #expect(internetChecksum(frame[34...]) == 0)
    }

    @Test func decodesARP() throws {
        let d = Packet.decode(B.arpReplyFrame(senderMAC: F.peerMAC, senderIP: F.peer, targetMAC: F.podMAC, targetIP: F.gateway))
        let a = try #require(d.arp)
        #expect(a.operation == .reply && a.senderMAC == F.peerMAC && a.senderIP == F.peer)
        #expect(a.targetMAC == F.podMAC && a.targetIP == F.gateway)
        #expect(d.linkPayloadLength == 28 && d.ipv4 == nil && d.issues.isEmpty)
        let req = Packet.decode(B.arpRequestFrame(senderMAC: F.podMAC, senderIP: F.gateway, targetIP: F.peer))
        #expect(req.arp?.operation == .request && req.arp?.targetMAC == .zero && req.ethernet?.destination == .broadcast)
    }

    @Test func decodesTCPWithOptionsAndHTTP() throws {
        let opts: [TCPOption] = [.maximumSegmentSize(1460), .sackPermitted, .timestamp(value: 7, echoReply: 9), .noOperation, .windowScale(7)]
        let frame = B.tcpFrame(F.path, sourcePort: 18974, destinationPort: 80, sequence: 100, acknowledgment: 200,
                               flags: [.psh, .ack], window: 2068, options: opts, payload: F.httpGet)
        let d = Packet.decode(frame)
        #expect(d.issues.isEmpty)
        let t = try #require(d.tcp)
        #expect(t.sourcePort == 18974 && t.destinationPort == 80 && t.sequence == 100 && t.acknowledgment == 200)
        #expect(t.flags == [.psh, .ack] && t.window == 2068 && t.headerLength == 40)
        #expect(t.options == opts)
        #expect(t.payloadLength == F.httpGet.count && t.payload == F.httpGet)
        #expect(t.httpStartLine == .request(method: "GET", target: "/", version: "HTTP/1.1"))
        // TCP checksum over pseudo-header + segment verifies (the builder's is right).
        let seg = Array(frame[34...])
        #expect(internetChecksum(seg, initial: B.pseudoHeaderSum(F.pod, F.peer, 6, seg.count)) == 0)
    }

    @Test func httpStartLines() {
        #expect(HTTPStartLine.parse(F.httpOK) == .status(version: "HTTP/1.1", code: 200, reason: "OK"))
        #expect(HTTPStartLine.parse(Array("HTTP/1.1 503 Service Unavailable\r\n".utf8))?.description == "HTTP/1.1 503 Service Unavailable")
        #expect(HTTPStartLine.parse(Array("<html>".utf8)) == nil)
        #expect(HTTPStartLine.parse(Array("GET /\u{1}\r\n".utf8)) == nil)
        #expect(HTTPStartLine.parse(Array("FOO / HTTP/1.1\r\n".utf8)) == nil)
        #expect(HTTPStartLine.parse(Array("HTTP/1.1 20 OK\r\n".utf8)) == nil)
        #expect(HTTPStartLine.parse([]) == nil)
    }

    @Test func decodesUDPAndIgnoresEthernetPadding() throws {
        // A 5-byte datagram padded to the 60-byte minimum frame: the padding is not payload.
        let frame = B.udpFrame(F.path, sourcePort: 53000, destinationPort: 53, payload: [1, 2, 3, 4, 5])
        let d = Packet.decode(frame + [UInt8](repeating: 0xee, count: 60 - frame.count))
        let u = try #require(d.udp)
        #expect(u.sourcePort == 53000 && u.destinationPort == 53 && u.length == 13 && u.payload == [1, 2, 3, 4, 5])
        #expect(d.issues.isEmpty && d.destinationPort == 53)
        let seg = Array(frame[34...])
        #expect(internetChecksum(seg, initial: B.pseudoHeaderSum(F.pod, F.peer, 17, seg.count)) == 0)
    }

    @Test func decodesVLANAndQuotedICMPError() throws {
        let inner = Array(B.icmpEchoFrame(F.path, identifier: 1, sequence: 2).dropFirst(14))
        let d = Packet.decode(B.ethernet(source: F.podMAC, destination: F.peerMAC, etherType: EtherType.ipv4, vlanID: 100, payload: inner))
        #expect(d.ethernet?.vlanTags.map(\.id) == [100] && d.ethernet?.headerLength == 18 && d.icmp?.sequence == 2)
        let orig = Array(B.udpFrame(F.path, sourcePort: 40000, destinationPort: 9999, payload: [1]).dropFirst(14))
        let err = Packet.decode(B.icmpErrorFrame(F.path.reversed, type: 3, code: 4, nextHopMTU: 1400, original: orig))
        let m = try #require(err.icmp)
        #expect(m.nextHopMTU == 1400 && m.quoted?.header.destination == F.peer && m.quoted?.destinationPort == 9999)
        #expect(m.quoted?.sourcePort == 40000 && m.identifier == nil)
    }

    @Test func reportsMalformedHeaders() {
        var f = B.icmpEchoFrame(F.path, identifier: 1, sequence: 1)
        f[14] = 0x65  // version 6 in an IPv4 EtherType
        #expect(Packet.decode(f).issues.contains { $0.layer == .ipv4 && $0.kind == .invalid && $0.detail.contains("version") })
        f[14] = 0x44  // IHL 16 bytes
        #expect(Packet.decode(f).issues.contains { $0.layer == .ipv4 && $0.detail.contains("header length") })
        f[14] = 0x45
        f[22] = 9  // TTL changed without fixing the checksum
        let d = Packet.decode(f)
        #expect(d.ipv4?.checksumValid == false && d.icmp != nil && d.issues.contains { $0.detail.contains("checksum") })
        var long = B.icmpEchoFrame(F.path, identifier: 1, sequence: 1)
        long[17] = 200  // total length beyond the frame
        #expect(Packet.decode(long).issues.contains { $0.layer == .ipv4 && $0.detail.contains("exceeds") })
        var tcp = B.tcpFrame(F.path, sourcePort: 1, destinationPort: 2, sequence: 0, flags: .syn)
        tcp[46] = 0x30  // data offset 12 bytes
        #expect(Packet.decode(tcp).issues.contains { $0.layer == .tcp && $0.detail.contains("data offset") })
        var opt = B.tcpFrame(F.path, sourcePort: 1, destinationPort: 2, sequence: 0, flags: .syn, options: [.maximumSegmentSize(1460)])
        opt[55] = 9  // MSS option length running past the header
        #expect(Packet.decode(opt).issues.contains { $0.layer == .tcp && $0.kind == .invalid })
        #expect(Packet.decode([]).issues == [PacketIssue(.ethernet, .truncated, "0 bytes, Ethernet header needs 14")])
    }

    /// Cut a valid frame at every length: no trap, and each cut is either fully decoded
    /// (padding-free frames can only be complete at full length) or reports an issue.
    @Test(arguments: 0..<8)
    func truncatedAtEveryOffsetNeverTraps(kind: Int) {
        let frames: [[UInt8]] = [
            B.arpRequestFrame(senderMAC: F.podMAC, senderIP: F.gateway, targetIP: F.peer),
            B.icmpEchoFrame(F.path, identifier: 15, sequence: 1, ip: .init(options: [7, 7, 4])),
            B.tcpFrame(F.path, sourcePort: 1, destinationPort: 80, sequence: 1, flags: .syn,
                       options: [.maximumSegmentSize(1460), .sackPermitted, .timestamp(value: 1, echoReply: 0), .noOperation, .windowScale(7)]),
            B.tcpFrame(F.path, sourcePort: 1, destinationPort: 80, sequence: 1, flags: [.psh, .ack], payload: F.httpGet),
            B.udpFrame(F.path, sourcePort: 1, destinationPort: 4789, payload: [8, 0, 0, 0, 0, 0, 1, 0] + B.icmpEchoFrame(F.path, identifier: 1, sequence: 1)),
            B.icmpErrorFrame(F.path, type: 3, code: 3, original: Array(B.udpFrame(F.path, sourcePort: 1, destinationPort: 2, payload: [1]).dropFirst(14))),
            B.ethernet(source: F.podMAC, destination: F.peerMAC, etherType: EtherType.ipv4, vlanID: 7,
                       payload: Array(B.icmpEchoFrame(F.path, identifier: 1, sequence: 1).dropFirst(14))),
            B.tcpFrame(F.path, sourcePort: 1, destinationPort: 2, sequence: 1, flags: .syn, options: [.sack([.init(left: 1, right: 2)])]),
        ]
        let full = frames[kind]
        #expect(Packet.decode(full).issues.isEmpty)
        let fmt = TcpdumpFormatter()
        for n in 0..<full.count {
            let cut = Array(full.prefix(n))
            // As a snaplen cut (wire length known) and as a short frame (wire length = bytes).
            for orig in [full.count, n] {
                let d = Packet.decode(cut, originalLength: orig)
                #expect(!d.issues.isEmpty, "cut at \(n) of \(full.count), wire \(orig)")
                _ = fmt.summary(d)
                _ = PacketFilter.tcpSYN(to: .v4(F.peer), port: 80).matches(d)
            }
        }
    }

    /// Random bytes and random single-byte corruptions of valid frames: never trap.
    @Test func randomInputNeverTraps() {
        var rng = SplitMix64(seed: 0x6e65746c6162)
        let seeds = [
            B.tcpFrame(F.path, sourcePort: 1, destinationPort: 80, sequence: 1, flags: [.psh, .ack], options: [.timestamp(value: 1, echoReply: 2)], payload: F.httpGet),
            B.icmpErrorFrame(F.path, type: 3, code: 4, nextHopMTU: 1400, original: Array(B.tcpFrame(F.path, sourcePort: 1, destinationPort: 2, sequence: 1, flags: .syn).dropFirst(14))),
            B.udpFrame(F.path, sourcePort: 1, destinationPort: 4789, payload: [8, 0, 0, 0, 0, 0, 1, 0] + B.arpRequestFrame(senderMAC: F.podMAC, senderIP: F.pod, targetIP: F.peer)),
        ]
        let fmt = TcpdumpFormatter(includeTTL: true)
        for i in 0..<20_000 {
            var f: [UInt8]
            if i % 4 == 0 {
                f = (0..<Int(rng.next() % 128)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if f.count > 13 { f[12] = 0x08; f[13] = [0x00, 0x06][i % 8 == 0 ? 0 : 1] }
            } else {
                f = seeds[i % seeds.count]
                for _ in 0..<(1 + Int(rng.next() % 4)) { f[Int(rng.next() % UInt64(f.count))] = UInt8(truncatingIfNeeded: rng.next()) }
                f = Array(f.prefix(Int(rng.next() % UInt64(f.count + 1))))
            }
            let d = Packet.decode(f, originalLength: f.count + Int(rng.next() % 3))
            _ = fmt.summary(d)
            _ = PacketFilter(.tcp, source: .v4(F.pod), port: 80, tcpFlagsSet: .syn).matches(d)
        }
    }
}

/// Deterministic generator so fuzz failures reproduce.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// Packets as a raw IP socket reads them: no link header (the ICMP probe's replies).
@Suite struct RawIPv4DecodeTests {
    typealias B = PacketBuilder
    typealias F = PacketFixtures

    @Test func anEchoReplyWithoutALinkHeader() throws {
        let frame = B.icmpEchoFrame(F.path.reversed, reply: true, identifier: 0x1234, sequence: 7, ip: .init(ttl: 61))
        let d = Packet.decodeIPv4(frame.dropFirst(14))
        #expect(d.ethernet == nil && d.hasUsableIPv4Header && d.issues.isEmpty)
        #expect(d.ipv4?.source == F.peer && d.ipv4?.ttl == 61)
        #expect(d.icmp?.type == ICMPMessage.echoReply && d.icmp?.identifier == 0x1234 && d.icmp?.sequence == 7)
    }

    @Test func anErrorQuotingAnEchoNamesItsIdentifier() throws {
        let ping = Array(B.icmpEchoFrame(F.path, identifier: 0xbeef, sequence: 1).dropFirst(14))
        let unreachable = B.icmpErrorFrame(.init(sourceMAC: F.peerMAC, destinationMAC: F.podMAC, source: F.gateway, destination: F.pod),
                                           type: 3, code: 1, original: ping)
        let d = Packet.decodeIPv4(unreachable.dropFirst(14))
        #expect(d.icmp?.quoted?.echoIdentifier == 0xbeef)
        // A quoted UDP datagram has ports, not an echo identifier.
        let udp = Array(B.udpFrame(F.path, sourcePort: 1, destinationPort: 2, payload: []).dropFirst(14))
        let e = Packet.decodeIPv4(B.icmpErrorFrame(F.path.reversed, type: 3, code: 3, original: udp).dropFirst(14))
        #expect(e.icmp?.quoted?.echoIdentifier == nil && e.icmp?.quoted?.destinationPort == 2)
    }

    @Test func garbageIsNotAPacket() {
        let d = Packet.decodeIPv4([0x45, 0, 0])
        #expect(d.ipv4 == nil && !d.hasUsableIPv4Header && d.icmp == nil)
    }
}
