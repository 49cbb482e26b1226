import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// The ICMP probe's packets, built and read with the core's packet code (no root: no socket).
@Suite struct ProbePacketTests {
    typealias B = PacketBuilder
    static let node = IPv4Address("10.0.0.37")!, pod = IPv4Address("10.32.0.3")!, gw = IPv4Address("10.0.0.1")!
    static let mac = MACAddress("02:00:00:00:00:01")!
    static func ip(_ src: IPv4Address, _ dst: IPv4Address) -> B.Endpoints { .init(sourceMAC: mac, destinationMAC: mac, source: src, destination: dst) }

    @Test func theRequestIsAChecksummedEcho() {
        let request = B.icmpEcho(reply: false, identifier: 0x1234, sequence: 1, data: Array(Probe.echoPayload))
        #expect(request.count == 64 && internetChecksum(request) == 0)
        #expect(Array(request.prefix(8)) == [8, 0, request[2], request[3], 0x12, 0x34, 0, 1])
    }

    @Test func theReplyToOurEchoGivesItsTTL() {
        let reply = Array(B.icmpEchoFrame(Self.ip(Self.pod, Self.node), reply: true, identifier: 0x1234, sequence: 1, ip: .init(ttl: 63)).dropFirst(14))
        #expect(Probe.echoAnswer(reply, id: 0x1234, target: Self.pod) == Probe.EchoResult(ttl: 63, from: .v4(Self.pod), replyBytes: 56))
        // Someone else's ping, or a reply from another address: not ours.
        #expect(Probe.echoAnswer(reply, id: 0x4321, target: Self.pod) == nil)
        #expect(Probe.echoAnswer(reply, id: 0x1234, target: Self.gw) == nil)
        #expect(Probe.echoAnswer([0x45, 0, 0, 1], id: 0x1234, target: Self.pod) == nil)
    }

    @Test func anErrorAboutOurEchoSaysWhoAnswered() {
        let ping = Array(B.icmpEchoFrame(Self.ip(Self.node, Self.pod), identifier: 0x1234, sequence: 1).dropFirst(14))
        let error = Array(B.icmpErrorFrame(Self.ip(Self.gw, Self.node), type: 3, code: 1, original: ping).dropFirst(14))
        #expect(Probe.echoAnswer(error, id: 0x1234, target: Self.pod)
                == Probe.EchoResult(from: .v4(Self.gw), failure: "10.0.0.1 answered ICMP destination unreachable (code 1)", errorClass: .unreachable))
        let expired = Array(B.icmpErrorFrame(Self.ip(Self.gw, Self.node), type: 11, code: 0, original: ping).dropFirst(14))
        #expect(Probe.echoAnswer(expired, id: 0x1234, target: Self.pod)?.failure == "10.0.0.1 answered ICMP time exceeded (code 0)")
        #expect(Probe.echoAnswer(error, id: 0x9999, target: Self.pod) == nil)
        // A router's fragmentation needed, with its next-hop MTU: the frag-needed class, and the MTU said.
        let tooBig = Array(B.icmpErrorFrame(Self.ip(Self.gw, Self.node), type: 3, code: 4, nextHopMTU: 1400, original: ping).dropFirst(14))
        #expect(Probe.echoAnswer(tooBig, id: 0x1234, target: Self.pod)
                == Probe.EchoResult(from: .v4(Self.gw), failure: "10.0.0.1 answered ICMP fragmentation needed (next-hop MTU 1400): the packet was above the path MTU and had DF set",
                                    errorClass: .fragNeeded))
    }
}

/// The UDP probe against netlab's pod server, for real: an answer, and a port nobody serves.
extension Labs { @Suite struct UDPProbeTests {
    @Test func answerAndRefusal() throws {
        let labName = uniqueLab("t-udp")
        let tcp80 = "      - containerPort: 80\n        protocol: TCP\n"
        let yaml = DefaultTopology.yaml.replacingOccurrences(of: tcp80, with: tcp80 + "      - containerPort: 5353\n        protocol: UDP\n")
        #expect(yaml != DefaultTopology.yaml)
        let t = try TopologyLoader.parse(yaml: yaml, source: "udp.yaml")
        let lab = try Lab.up(name: labName, topology: t, persistent: false)
        defer { try? lab.down() }
        let pod2 = try lab.namespace("pod2")
        let webpod1IP = try #require(lab.record.pods["webpod1"]?.address.address)
        let answer = Probe.udp(from: pod2, to: webpod1IP, port: 5353)
        #expect(answer.reply?.contains("webpod1") == true, "\(answer.failure ?? "") \(answer.reply ?? "")")
        let refused = Probe.udp(from: pod2, to: webpod1IP, port: 5354)
        #expect(refused.reply == nil && refused.failure == "\(webpod1IP):5354 refused (ICMP port unreachable)", "\(refused)")
    }
} }
