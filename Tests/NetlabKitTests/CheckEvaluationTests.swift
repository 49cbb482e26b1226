import Testing
@testable import NetlabKit

/// Judging checks from packets, without a lab: the facts of the default topology, packets built
/// as the kernel would send them.
@Suite struct CheckEvaluationTests {
    let topology = DefaultTopology.load()
    var facts: LabFacts {
        LabFacts(topology: topology, pods: [
            "pod1": .init(address: IPv4Prefix("10.32.0.2/24")!, gateway: IPv4Address("10.32.0.1")),
            "webpod1": .init(address: IPv4Prefix("10.32.0.3/24")!, gateway: IPv4Address("10.32.0.1")),
            "pod2": .init(address: IPv4Prefix("10.32.1.2/24")!, gateway: IPv4Address("10.32.1.1")),
        ])
    }
    var nodeportRemote: Check { topology.checks.first { $0.name == "nodeport-remote" }! }
    var podToPod: Check { topology.checks.first { $0.name == "pod-to-pod" }! }

    let macA = MACAddress("02:00:00:00:00:0a")!, macB = MACAddress("02:00:00:00:00:0b")!

    func syn(at hop: String, _ src: String, _ sport: UInt16, _ dst: String, _ dport: UInt16, ttl: UInt8 = 62, t: UInt64) -> CapturedPacket {
        let e = PacketBuilder.Endpoints(sourceMAC: macA, destinationMAC: macB, source: IPv4Address(src)!, destination: IPv4Address(dst)!)
        var ip = PacketBuilder.IPv4Fields()
        ip.ttl = ttl
        let frame = PacketBuilder.tcpFrame(e, sourcePort: sport, destinationPort: dport, sequence: 1000, flags: .syn, ip: ip)
        return CapturedPacket(timestampNanoseconds: t, interfaceName: "eth0", hopLabel: hop, direction: .incoming, bytes: frame)
    }

    func echo(at hop: String, _ src: String, _ dst: String, reply: Bool = false, ttl: UInt8, t: UInt64) -> CapturedPacket {
        let e = PacketBuilder.Endpoints(sourceMAC: macA, destinationMAC: macB, source: IPv4Address(src)!, destination: IPv4Address(dst)!)
        var ip = PacketBuilder.IPv4Fields()
        ip.ttl = ttl
        return CapturedPacket(timestampNanoseconds: t, interfaceName: "eth0", hopLabel: hop, direction: .incoming,
                              bytes: PacketBuilder.icmpEchoFrame(e, reply: reply, identifier: 7, sequence: 1, ip: ip))
    }

    func arp(at hop: String, whoHas: String, tell: String, t: UInt64) -> CapturedPacket {
        CapturedPacket(timestampNanoseconds: t, interfaceName: "eth0", hopLabel: hop, direction: .incoming,
                       bytes: PacketBuilder.arpRequestFrame(senderMAC: macA, senderIP: IPv4Address(tell)!, targetIP: IPv4Address(whoHas)!))
    }

    @Test func nodeportRemotePassesWhenTheWireShowsTheSNATAndDNAT() {
        let packets = [syn(at: "node2/eth0", "198.51.100.10", 40000, "10.0.0.38", 30007, ttl: 63, t: 1),
                       syn(at: "node1/eth0", "10.0.0.38", 15000, "10.32.0.3", 80, t: 2),
                       syn(at: "webpod1/eth0", "10.0.0.38", 15000, "10.32.0.3", 80, ttl: 61, t: 3)]
        let probe = ProbeObservation(target: "203.0.113.38:30007", replied: true, status: 200, serverPod: "webpod1",
                                     serverSaw: SocketEndpoint(ip: IPv4Address("10.0.0.38")!, port: 15000))
        let r = CheckEvaluator(facts: facts).evaluate(nodeportRemote, probe: probe, packets: packets)
        #expect(r.filter { !$0.passed }.isEmpty, "\(r.filter { !$0.passed })")
        #expect(r.map(\.name) == ["reply", "HTTP status", "server pod", "client address the server saw",
                                  "packet at node2/eth0", "packet at node1/eth0", "packet at webpod1/eth0"])
    }

    @Test func withoutSNATTheFailedExpectationsNameWhatDiffers() {
        // The proxy forgot MASQUERADE: the client's address reaches node1 and webpod1.
        let packets = [syn(at: "node2/eth0", "198.51.100.10", 40000, "10.0.0.38", 30007, ttl: 63, t: 1),
                       syn(at: "node1/eth0", "198.51.100.10", 40000, "10.32.0.3", 80, t: 2)]
        let probe = ProbeObservation(target: "203.0.113.38:30007", replied: false, failure: "no answer within 2 s")
        let r = CheckEvaluator(facts: facts).evaluate(nodeportRemote, probe: probe, packets: packets)
        let failed = Dictionary(uniqueKeysWithValues: r.filter { !$0.passed }.map { ($0.name, $0) })
        #expect(Set(failed.keys) == ["reply", "HTTP status", "server pod", "client address the server saw",
                                     "packet at node1/eth0", "packet at webpod1/eth0"])
        #expect(failed["reply"]?.observed == "no answer: no answer within 2 s")
        #expect(failed["client address the server saw"]?.expected == "10.0.0.38 (node2.ip)")
        let node1 = failed["packet at node1/eth0"]!
        #expect(node1.expected == "tcp [S] 10.0.0.38 > 10.32.0.3.80")
        #expect(node1.observed.hasPrefix("1 packet there, none matching; closest: IP (ttl 62) 198.51.100.10.40000 > 10.32.0.3.80: Flags [S]"))
        #expect(node1.observed.contains("(src is 198.51.100.10, not 10.0.0.38)"), "\(node1.observed)")
        #expect(failed["packet at webpod1/eth0"]?.observed == "no packets at all there")
    }

    @Test func podToPodJudgesTTLAndARP() {
        var packets = [echo(at: "node1/eth0", "10.32.0.2", "10.32.1.2", ttl: 63, t: 1),
                       echo(at: "node2/eth0", "10.32.1.2", "10.32.0.2", reply: true, ttl: 63, t: 4),
                       arp(at: "pod2/eth0", whoHas: "10.32.1.2", tell: "10.32.1.1", t: 2),
                       echo(at: "pod2/eth0", "10.32.0.2", "10.32.1.2", ttl: 62, t: 3)]
        let probe = ProbeObservation(target: "10.32.1.2", replied: true, replyTTL: 62)
        let passing = CheckEvaluator(facts: facts).evaluate(podToPod, probe: probe, packets: packets)
        #expect(passing.filter { !$0.passed }.isEmpty, "\(passing)")

        // One hop more on the way (the VPC route is gone): TTL 61 at pod2; and an ARP from the wrong asker.
        packets[3] = echo(at: "pod2/eth0", "10.32.0.2", "10.32.1.2", ttl: 61, t: 3)
        packets[2] = arp(at: "pod2/eth0", whoHas: "10.32.1.2", tell: "10.32.1.9", t: 2)
        let r = CheckEvaluator(facts: facts).evaluate(podToPod, probe: probe, packets: packets).filter { !$0.passed }
        #expect(r.count == 2)
        #expect(r[0].expected == "arp request who-has 10.32.1.2 tell 10.32.1.1")
        #expect(r[0].observed.contains("(tell 10.32.1.9, not 10.32.1.1)"), "\(r[0].observed)")
        #expect(r[1].expected == "icmp echo-request 10.32.0.2 > 10.32.1.2 ttl 62")
        #expect(r[1].observed.contains("(ttl is 61, not 62)"), "\(r[1].observed)")
    }

    @Test func absentMeansNoSuchPacket() {
        var check = podToPod
        check.expect = Expectations(packets: [PacketExpectation(at: "node1/eth0", match: PacketPattern(proto: .udp, dport: "4789"), absent: true)])
        let probe = ProbeObservation(target: "10.32.1.2", replied: true, replyTTL: 62)
        let clean = [echo(at: "node1/eth0", "10.32.0.2", "10.32.1.2", ttl: 63, t: 1)]
        let ok = CheckEvaluator(facts: facts).evaluate(check, probe: probe, packets: clean)
        #expect(ok.filter { !$0.passed }.isEmpty, "\(ok)")
        // VXLAN on the wire: an overlay, where the check wants none.
        let e = PacketBuilder.Endpoints(sourceMAC: macA, destinationMAC: macB, source: IPv4Address("10.0.0.37")!, destination: IPv4Address("10.0.0.38")!)
        let vxlan = CapturedPacket(timestampNanoseconds: 2, interfaceName: "eth0", hopLabel: "node1/eth0", direction: .outgoing,
                                   bytes: PacketBuilder.udpFrame(e, sourcePort: 50000, destinationPort: 4789, payload: Array(repeating: 0, count: 60)))
        let r = CheckEvaluator(facts: facts).evaluate(check, probe: probe, packets: clean + [vxlan]).first { $0.name.contains("nothing like this") }!
        #expect(!r.passed)
        #expect(r.expected == "no udp * > *.4789")
        #expect(r.observed.hasPrefix("1 such: IP (ttl 64) 10.0.0.37.50000 > 10.0.0.38.4789"), "\(r.observed)")
    }

    @Test func unresolvableReferencesFailTheExpectationWithTheReason() {
        let noPods = LabFacts(topology: topology, pods: [:])
        let probe = ProbeObservation(target: "10.32.1.2", replied: true, replyTTL: 62)
        let r = CheckEvaluator(facts: noPods).evaluate(podToPod, probe: probe, packets: [])
        #expect(r.first { $0.name == "packet at node1/eth0" }?.observed == "cannot resolve 'pod1.ip': pod 'pod1' has no address (its CNI ADD gave none)")
    }

    @Test func referencesResolveAgainstTheTopologyAndTheCNIResults() throws {
        let f = facts
        #expect(try f.address("node2.externalIP") == IPAddress("203.0.113.38"))
        #expect(try f.address("webpod1.gateway") == IPAddress("10.32.0.1"))
        #expect(try f.port("svc-webport.nodePort") == 30007)
        #expect(try f.port("svc-webport.targetPort") == 80)
        #expect(try f.address("client.ip") == IPAddress("198.51.100.10"))
        #expect(try f.address("gw.clientSideIP") == IPAddress("198.51.100.1"))
        #expect(try f.address("10.9.8.7") == IPAddress("10.9.8.7"))
        #expect(f.show("node2.ip") == "10.0.0.38 (node2.ip)")
        #expect(throws: LabFacts.Unresolved.self) { try f.address("svc-webport.port") }
        #expect(LabFacts.problem(with: "svc-webport.nodePort", in: topology, expecting: .address) != nil)
        #expect(LabFacts.problem(with: "nodee1.ip", in: topology, expecting: .address)?.contains("did you mean 'node1'?") == true)
    }
}
