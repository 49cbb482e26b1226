import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// What the ICMPv6 probe makes of the messages its raw socket reads (no root: no socket). The raw
/// socket hands over the ICMPv6 message alone; the sender and hop limit come beside it.
@Suite struct ProbePacket6Tests {
    typealias B = PacketBuilder
    static let node = IPv6Address("2001:db8:0:1::37")!, pod = IPv6Address("2001:db8:32::1:2")!, gw = IPv6Address("2001:db8:0:1::1")!
    static let mac = MACAddress("02:00:00:00:00:01")!
    static func path(_ src: IPv6Address, _ dst: IPv6Address) -> B.Endpoints6 { .init(sourceMAC: mac, destinationMAC: mac, source: src, destination: dst) }
    /// The ICMPv6 message of a frame (after Ethernet and the 40-byte IPv6 header).
    static func message(_ frame: [UInt8]) -> [UInt8] { Array(frame.dropFirst(14 + 40)) }

    @Test func theReplyToOurEchoGivesItsHopLimit() {
        let reply = Self.message(B.icmp6EchoFrame(Self.path(Self.pod, Self.node), reply: true, identifier: 0x1234, sequence: 1))
        #expect(Probe.echo6Answer(reply, from: Self.pod, hopLimit: 62, id: 0x1234, target: Self.pod) == Probe.EchoResult(ttl: 62, from: .v6(Self.pod), replyBytes: 56))
        #expect(Probe.echo6Answer(reply, from: Self.pod, hopLimit: 62, id: 0x4321, target: Self.pod) == nil, "someone else's ping")
        #expect(Probe.echo6Answer(reply, from: Self.gw, hopLimit: 62, id: 0x1234, target: Self.pod) == nil, "a reply from another address")
        #expect(Probe.echo6Answer(reply, from: Self.pod, hopLimit: -1, id: 0x1234, target: Self.pod)?.failure
            == "the echo reply from 2001:db8:32::1:2 came without its hop limit")
        // The raw socket sees neighbour discovery too: not an answer.
        let ns = Self.message(B.neighborSolicitationFrame(sourceMAC: Self.mac, source: Self.gw, target: Self.node))
        #expect(Probe.echo6Answer(ns, from: Self.gw, hopLimit: 255, id: 0x1234, target: Self.pod) == nil)
    }

    @Test func anErrorAboutOurEchoSaysWhoAnsweredAndWhy() {
        let ping = Array(B.icmp6EchoFrame(Self.path(Self.node, Self.pod), identifier: 0x1234, sequence: 1).dropFirst(14))
        let noRoute = Self.message(B.icmp6ErrorFrame(Self.path(Self.gw, Self.node), type: 1, code: 0, original: ping))
        #expect(Probe.echo6Answer(noRoute, from: Self.gw, hopLimit: 64, id: 0x1234, target: Self.pod)
                == Probe.EchoResult(from: .v6(Self.gw), failure: "2001:db8:0:1::1 answered ICMPv6 destination unreachable (code 0: no route to destination)", errorClass: .unreachable))
        let expired = Self.message(B.icmp6ErrorFrame(Self.path(Self.gw, Self.node), type: 3, code: 0, original: ping))
        #expect(Probe.echo6Answer(expired, from: Self.gw, hopLimit: 64, id: 0x1234, target: Self.pod)?.failure
            == "2001:db8:0:1::1 answered ICMPv6 time exceeded in-transit (code 0: hop limit exceeded in transit)")
        let tooBig = Self.message(B.icmp6ErrorFrame(Self.path(Self.gw, Self.node), type: 2, code: 0, restOfHeader: 1280, original: ping))
        #expect(Probe.echo6Answer(tooBig, from: Self.gw, hopLimit: 64, id: 0x1234, target: Self.pod)?.failure
            == "2001:db8:0:1::1 answered ICMPv6 packet too big (code 0, mtu 1280)")
        #expect(Probe.echo6Answer(noRoute, from: Self.gw, hopLimit: 64, id: 0x9999, target: Self.pod) == nil, "an error about another ping")
    }

    @Test func serverAnswersCarryIPv6EndpointsInBrackets() throws {
        let a = ServerAnswer(pod: "web", client: SocketEndpoint("[2001:db8:a::2]:40000")!, server: SocketEndpoint("[2001:db8:b::2]:80")!)
        #expect(a.encoded == #"{"client":"[2001:db8:a::2]:40000","pod":"web","server":"[2001:db8:b::2]:80"}"#)
        #expect(ServerAnswer(decoding: a.encoded) == a)
        #expect(SocketEndpoint("2001:db8::1:80") == nil, "an IPv6 endpoint needs its brackets")
        #expect(SocketEndpoint("10.0.0.38:15000")?.ip == IPv4Address("10.0.0.38"))
    }
}
