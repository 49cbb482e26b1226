import Foundation
import Testing
@testable import NetlabKit

@Suite struct PacketFilterTests {
    typealias B = PacketBuilder
    typealias F = PacketFixtures

    static let client = IPv4Address("10.0.0.38")!
    static let service = IPv4Address("10.32.0.3")!
    static var toService: PacketBuilder.Endpoints {
        .init(sourceMAC: F.podMAC, destinationMAC: F.peerMAC, source: client, destination: service)
    }

    /// Frames with a name, so failures say which one.
    static func frames() -> [(String, [UInt8])] {
        let e = toService, r = toService.reversed
        return [
            ("syn", B.tcpFrame(e, sourcePort: 18974, destinationPort: 80, sequence: 1, flags: .syn)),
            ("synack", B.tcpFrame(r, sourcePort: 80, destinationPort: 18974, sequence: 9, acknowledgment: 2, flags: [.syn, .ack])),
            ("ack", B.tcpFrame(e, sourcePort: 18974, destinationPort: 80, sequence: 2, acknowledgment: 10, flags: .ack)),
            ("syn-8080", B.tcpFrame(e, sourcePort: 18975, destinationPort: 8080, sequence: 1, flags: .syn)),
            ("rst", B.tcpFrame(r, sourcePort: 80, destinationPort: 18974, sequence: 10, flags: .rst, window: 0)),
            ("udp-80", B.udpFrame(e, sourcePort: 5353, destinationPort: 80, payload: [1])),
            ("ping", B.icmpEchoFrame(F.path, identifier: 1, sequence: 1)),
            ("pong", B.icmpEchoFrame(F.path.reversed, reply: true, identifier: 1, sequence: 1)),
            ("unreach", B.icmpErrorFrame(F.path.reversed, type: 3, code: 3,
                                         original: Array(B.udpFrame(F.path, sourcePort: 1, destinationPort: 2, payload: []).dropFirst(14)))),
            ("who-has", B.arpRequestFrame(senderMAC: F.podMAC, senderIP: F.gateway, targetIP: F.peer)),
            ("is-at", B.arpReplyFrame(senderMAC: F.peerMAC, senderIP: F.peer, targetMAC: F.podMAC, targetIP: F.gateway)),
        ]
    }

    static func matching(_ f: PacketFilter) -> [String] {
        frames().filter { f.matches(Packet.decode($0.1)) }.map(\.0)
    }

    static let cases: [(PacketFilter, [String])] = [
        (PacketFilter(.tcp, source: .v4(client), destination: .v4(service), destinationPort: 80), ["syn", "ack"]),
        (.tcpSYN(to: .v4(service), port: 80), ["syn"]),
        (.tcpSYN(), ["syn", "syn-8080"]),
        (.tcpSYNACK(from: .v4(service), port: 80), ["synack"]),
        (.tcpRST(), ["rst"]),
        (PacketFilter(port: 80), ["syn", "synack", "ack", "rst", "udp-80"]),
        (PacketFilter(.udp, destinationPort: 80), ["udp-80"]),
        (PacketFilter(host: .v4(service)), ["syn", "synack", "ack", "syn-8080", "rst", "udp-80"]),
        (.icmpEchoRequest(from: .v4(F.pod), to: .v4(F.peer)), ["ping"]),
        (.icmpEchoReply(), ["pong"]),
        (PacketFilter(.icmp, icmpType: 3, icmpCode: 3), ["unreach"]),
        (PacketFilter(.icmp, destination: .v4(F.pod)), ["pong", "unreach"]),
        (.arpRequest(target: F.peer), ["who-has"]),
        (.arpRequest(target: F.peer, sender: F.gateway), ["who-has"]),
        (.arpRequest(target: F.gateway), []),
        (.arpReply(sender: F.peer), ["is-at"]),
        (PacketFilter(.arp), ["who-has", "is-at"]),
        (PacketFilter(source: .v4(F.peer)), ["pong", "unreach", "is-at"]),
        (PacketFilter(tcpFlagsSet: [.syn, .ack]), ["synack"]),
        (PacketFilter(tcpFlags: .syn), ["syn", "syn-8080"]),
        (PacketFilter(tcpFlags: [.syn, .ack]), ["synack"]),
        (PacketFilter(.tcp, ttl: 64), ["syn", "synack", "ack", "syn-8080", "rst"]),
        (PacketFilter(ttl: 63), []),
        (PacketFilter(whoHas: .v4(F.peer)), ["who-has"]),
        (PacketFilter(tell: .v4(F.peer)), ["is-at"]),
        (PacketFilter(), frames().map(\.0)),
    ]

    @Test func matchesExpectedFrames() {
        for (f, want) in Self.cases {
            #expect(Self.matching(f) == want, "\(f)")
        }
    }

    /// What a check's failure message says about the closest packet.
    @Test func mismatchesNameEachWrongField() {
        let syn = Packet.decode(Self.frames()[0].1)
        #expect(PacketFilter.tcpSYN(to: .v4(Self.service), port: 80).mismatches(syn).isEmpty)
        #expect(PacketFilter(.tcp, source: .v4(Self.service), destinationPort: 8080, tcpFlags: [.syn, .ack], ttl: 61).mismatches(syn)
                == ["src is 10.0.0.38, not 10.32.0.3", "dport is 80, not 8080", "ttl is 64, not 61", "flags [S], not [S.]"])
        #expect(PacketFilter(.udp, icmpType: 8).mismatches(syn) == ["it is tcp, not udp", "ICMP type none, not echo-request"])
        #expect(PacketFilter(arpOperation: .reply, whoHas: .v4(F.peer)).mismatches(syn) == ["ARP none, not reply", "who-has -, not 10.32.1.13"])
        #expect(PacketFilter(host: .v4(F.peer), port: 443).mismatches(syn) == ["neither src nor dst is 10.32.1.13", "neither port is 443"])
    }

    @Test func descriptionsReadLikeTcpdumpFilters() {
        #expect(PacketFilter(.tcp, source: .v4(Self.client), destination: .v4(Self.service), destinationPort: 80).description
            == "tcp and src 10.0.0.38 and dst 10.32.0.3 and dst port 80")
        #expect(PacketFilter.tcpSYN(to: .v4(Self.service), port: 80).description
            == "tcp and dst 10.32.0.3 and dst port 80 and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn")
        #expect(PacketFilter.arpRequest(target: F.peer).description == "arp and dst 10.32.1.13 and arp[6:2] == 1")
        #expect(PacketFilter.icmpEchoReply().description == "icmp and icmp[icmptype] == icmp-echoreply")
        #expect(PacketFilter().description == "")
    }

    /// The description must select exactly what `matches` selects, according to libpcap's own
    /// filter compiler (tcpdump -r file 'expression').
    @Test(.enabled(if: PacketFixtures.tcpdumpPath != nil, "needs tcpdump"))
    func descriptionsSelectTheSameFramesInTcpdump() throws {
        let named = Self.frames()
        let packets = F.captured(named.map(\.1))
        let file = PcapWriter.file(packets)
        let all = try F.tcpdump(file)
        #expect(all.count == named.count)
        for (f, want) in Self.cases {
            let picked = try F.tcpdump(file, filter: f.description.isEmpty ? nil : f.description)
            let names = picked.compactMap { line in all.firstIndex(of: line).map { named[$0].0 } }
            #expect(names == want, "tcpdump '\(f.description)'")
        }
    }
}
