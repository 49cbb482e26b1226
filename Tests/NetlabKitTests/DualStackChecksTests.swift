import Testing
@testable import NetlabKit

/// Checks over IPv6: references to the dual-stack fields, their validation in single-stack
/// topologies, and packet patterns read in the check's family (ICMPv6, neighbour discovery, hop
/// limit), with link-local chatter left out of matching.
@Suite struct DualStackChecksTests {
    typealias B = PacketBuilder

    /// The default topology with the contract's IPv6 added (the YAML for it is lab6's).
    static var dualStack: Topology {
        var t = DefaultTopology.load()
        t.vpc.subnetV6 = IPv6Prefix("2001:db8:0:1::/64")
        t.vpc.gatewayV6 = IPv6Address("2001:db8:0:1::1")
        t.nodes[0].ipv6 = IPv6Address("2001:db8:0:1::37")
        t.nodes[1].ipv6 = IPv6Address("2001:db8:0:1::38")
        t.external?.clientIPv6 = IPv6Prefix("2001:db8:100::10/64")
        t.external?.gatewayIPv6 = IPv6Address("2001:db8:100::1")
        t.services[0].ipFamilyPolicy = .preferDualStack
        t.services[0].clusterIPv6 = IPv6Address("2001:db8:36::a")
        return t
    }

    static let pods: [String: LabRecord.PodAddress] = [
        "pod1": .init(address: IPv4Prefix("10.32.0.2/24")!, gateway: IPv4Address("10.32.0.1"),
                      addressV6: IPv6Prefix("2001:db8:32::2/112"), gatewayV6: IPv6Address("2001:db8:32::1")),
        "pod2": .init(address: IPv4Prefix("10.32.1.2/24")!, gateway: IPv4Address("10.32.1.1"),
                      addressV6: IPv6Prefix("2001:db8:32::1:2/112"), gatewayV6: IPv6Address("2001:db8:32::1:1")),
    ]
    var facts: LabFacts { LabFacts(topology: Self.dualStack, pods: Self.pods) }
    var service: String { Self.dualStack.services[0].name }

    @Test func ipv6ReferencesReadTheDualStackFields() throws {
        let f = facts
        #expect(try f.address("pod2.ipv6") == IPAddress("2001:db8:32::1:2"))
        #expect(try f.address("pod2.gatewayV6") == IPAddress("2001:db8:32::1:1"))
        #expect(try f.address("pod2.ips[0]") == IPAddress("10.32.1.2"))
        #expect(try f.address("pod2.ips[1]") == IPAddress("2001:db8:32::1:2"))
        #expect(try f.address("node2.ipv6") == IPAddress("2001:db8:0:1::38"))
        #expect(try f.address(Ref("\(service).clusterIPv6")) == IPAddress("2001:db8:36::a"))
        #expect(try f.address(Ref("\(service).clusterIPs[1]")) == IPAddress("2001:db8:36::a"))
        #expect(try f.address(Ref("\(service).clusterIPs[0]")) == .v4(Self.dualStack.services[0].clusterIP))
        #expect(try f.address("client.ipv6") == IPAddress("2001:db8:100::10"))
        #expect(try f.address("gw.ipv6") == IPAddress("2001:db8:0:1::1"))
        #expect(try f.address("gw.clientSideIPv6") == IPAddress("2001:db8:100::1"))
        #expect(try f.address("2001:db8:32::1:2") == IPAddress("2001:db8:32::1:2"))
        #expect(try f.address("pod2.ip") == IPAddress("10.32.1.2"), "IPv4 references are unchanged")
        #expect(f.show("pod2.ipv6") == "2001:db8:32::1:2 (pod2.ipv6)")
        // A pod whose CNI result had no IPv6 (an IPv4-only conflist in a dual-stack topology).
        let v4Only = LabFacts(topology: Self.dualStack, pods: ["pod2": .init(address: IPv4Prefix("10.32.1.2/24")!, gateway: nil)])
        #expect(throws: LabFacts.Unresolved.self) { try v4Only.address("pod2.ipv6") }
        #expect(throws: LabFacts.Unresolved.self) { try v4Only.address("pod2.ips[1]") }
    }

    @Test func dualStackReferencesPassValidation() {
        let t = Self.dualStack
        for ref in ["pod2.ipv6", "pod2.gatewayV6", "pod2.ips[0]", "pod2.ips[1]", "node1.ipv6", "\(service).clusterIPv6",
                    "\(service).clusterIPs[1]", "client.ipv6", "gw.ipv6", "gw.clientSideIPv6", "2001:db8::1"] {
            #expect(LabFacts.problem(with: Ref(ref), in: t, expecting: .address) == nil, "\(ref)")
        }
        #expect(LabFacts.problem(with: "pod2.ips[2]", in: t, expecting: .address)
            == "'pod2.ips[2]': pod2.ips has two addresses, IPv4 then IPv6, so its index is 0 or 1")
        #expect(LabFacts.problem(with: "pod2.ips", in: t, expecting: .address)
            == "'pod2.ips' is a list: use pod2.ips[0] (IPv4) or pod2.ips[1] (IPv6)")
        #expect(LabFacts.problem(with: "pod2.ip[0]", in: t, expecting: .address)
            == "'pod2.ip[0]': pod2.ip is one address, not a list; write pod2.ip")
        var single = t
        single.services[0].clusterIPv6 = nil
        single.services[0].ipFamilyPolicy = .singleStack
        #expect(LabFacts.problem(with: Ref("\(service).clusterIPv6"), in: single, expecting: .address)?
            .contains("is SingleStack with only an IPv4 cluster IP; give it ipFamilyPolicy: PreferDualStack") == true)
    }

    /// In a single-stack topology an IPv6 reference is a located error that says what to do.
    @Test func ipv6ReferencesInASingleStackTopologyAreLocatedErrors() {
        let check = """
        pods:
          - {name: a, node: node1}
          - {name: b, node: node2}
        checks:
          - name: c
            from: a
            to: b.ipv6
            protocol: icmp
            expect:
              packets:
                - at: a/eth0
                  match: {src: "b.ips[1]", ndp: solicitation, hopLimit: 255}

        """
        #expect(diagnostics(baseTopology + check) == [
            "t.yaml:19:9: check 'c' to: 'b.ipv6' is an IPv6 address, but this topology is single-stack (IPv4 only); give vpc.subnet, the nodes and the pod ranges an IPv6 second value (see topologies/gke-dual-stack.yaml), or use b.ip",
            "t.yaml:24:24: check 'c' expect.packets[0] match.src: 'b.ips[1]': b.ips has one address (IPv4; this topology is single-stack), so its index is 0",
        ])
        // Neighbour discovery is ICMPv6: saying both is one protocol; ICMPv6 with tcpFlags is not.
        let ndp = check.replacingOccurrences(of: "to: b.ipv6", with: "to: b.ip").replacingOccurrences(of: "src: \"b.ips[1]\", ", with: "proto: icmp6, ")
        #expect((try? TopologyLoader.parse(yaml: baseTopology + ndp, source: "t.yaml"))?.checks.first?.expect.packets.first?.match.ndp == .solicitation)
        #expect(diagnostics(baseTopology + ndp.replacingOccurrences(of: "ndp: solicitation", with: "tcpFlags: S")) == [
            "t.yaml:24:18: check 'c' expect.packets[0] match mixes fields of different protocols (icmp, tcp); a packet has one",
        ])
        // A literal IPv6 address is no reference: it is taken as written.
        let literal = check.replacingOccurrences(of: "to: b.ipv6", with: "to: 2001:db8::1").replacingOccurrences(of: "src: \"b.ips[1]\", ", with: "")
        #expect((try? TopologyLoader.parse(yaml: baseTopology + literal, source: "t.yaml"))?.checks.first?.to == "2001:db8::1")
        #expect(diagnostics(baseTopology + check.replacingOccurrences(of: "hopLimit: 255", with: "hopLimit: 255, ttl: 64").replacingOccurrences(of: "to: b.ipv6", with: "to: b.ip").replacingOccurrences(of: "src: \"b.ips[1]\", ", with: "")) == [
            "t.yaml:24:48: check 'c' expect.packets[0] match gives both ttl and hopLimit, which are one field (IPv6 calls the TTL the hop limit); keep one",
        ])
    }

    // MARK: Packet patterns over IPv6

    static let macA = MACAddress("02:00:00:00:00:0a")!, macB = MACAddress("02:00:00:00:00:0b")!
    static let pod1 = IPv6Address("2001:db8:32::2")!, pod2 = IPv6Address("2001:db8:32::1:2")!
    static var path: B.Endpoints6 { .init(sourceMAC: macA, destinationMAC: macB, source: pod1, destination: pod2) }

    func captured(_ frames: [[UInt8]], at hop: String = "pod2/eth0") -> [CapturedPacket] {
        frames.enumerated().map { CapturedPacket(timestampNanoseconds: UInt64($0.offset), interfaceName: "eth0", hopLabel: hop, direction: .incoming, bytes: $0.element) }
    }

    func check(_ match: PacketPattern, absent: Bool = false, to: Ref = "pod2.ipv6") -> Check {
        Check(name: "v6", from: "pod1", to: to, kind: .icmp, expect: Expectations(packets: [PacketExpectation(at: "pod2/eth0", match: match, absent: absent)]))
    }

    func judge(_ c: Check, _ frames: [[UInt8]]) -> ExpectationResult {
        CheckEvaluator(facts: facts).evaluate(c, probe: ProbeObservation(target: "x", replied: true), packets: captured(frames)).last!
    }

    /// `icmp: echo-request` in a check to an IPv6 address is ICMPv6's echo request, and `ttl`
    /// its hop limit; the same words in an IPv4 check keep meaning ICMP's.
    @Test func icmpAndTTLFollowTheChecksFamily() throws {
        let request = B.icmp6EchoFrame(Self.path, identifier: 1, sequence: 1, hopLimit: 62)
        let pattern = PacketPattern(src: "pod1.ipv6", ttl: 62, icmp: .echoRequest)
        let passed = judge(check(pattern), [request])
        #expect(passed.passed && passed.expected == "icmp6 echo-request 2001:db8:32::2 > * hop limit 62")
        #expect(passed.observed == "IP6 (hlim 62) 2001:db8:32::2 > 2001:db8:32::1:2: ICMP6, echo request, id 1, seq 1, length 64")
        #expect(!judge(check(PacketPattern(ttl: 63, icmp: .echoRequest)), [request]).passed)
        #expect(!judge(check(PacketPattern(icmp: .echoReply)), [request]).passed)
        let v4 = try ResolvedPattern(PacketPattern(icmp: .echoRequest), facts: facts, family: .ipv4)
        #expect(v4.filter.protocolMatch == .icmp && v4.filter.icmpType == 8 && v4.filter.icmp6Type == nil)
        #expect(!v4.filter.matches(Packet.decode(request)))
        // Addresses decide over the check's family.
        let byAddress = try ResolvedPattern(PacketPattern(dst: "pod2.ipv6", icmp: .echoRequest), facts: facts, family: .ipv4)
        #expect(byAddress.filter.protocolMatch == .icmp6 && byAddress.filter.matches(Packet.decode(request)))
        #expect(throws: LabFacts.Unresolved.self) { try ResolvedPattern(PacketPattern(src: "pod1.ip", dst: "pod2.ipv6"), facts: facts) }
        #expect(try ResolvedPattern(PacketPattern(icmp: .packetTooBig), facts: facts, family: .ipv6).filter.icmp6Type == ICMPv6Message.packetTooBig)
    }

    /// `ndp:` with `whoHas:`/`tell:` is the IPv6 counterpart of `arp: request, whoHas, tell`.
    @Test func neighbourDiscoveryMatchesLikeARP() throws {
        let solicit = B.neighborSolicitationFrame(sourceMAC: Self.macA, source: Self.pod1, target: Self.pod2)
        let advert = B.neighborAdvertisementFrame(Self.path.reversed, target: Self.pod2)
        let ns = try ResolvedPattern(PacketPattern(whoHas: "pod2.ipv6", tell: "pod1.ipv6", ndp: .solicitation), facts: facts)
        #expect(ns.filter.matches(Packet.decode(solicit)) && !ns.filter.matches(Packet.decode(advert)))
        #expect(ns.text == "ndp neighbor solicitation who-has 2001:db8:32::1:2 tell 2001:db8:32::2")
        // whoHas without ndp: in an IPv6 pattern it is neighbour discovery, not ARP.
        let either = try ResolvedPattern(PacketPattern(whoHas: "pod2.ipv6"), facts: facts)
        #expect(either.filter.protocolMatch == .ndp && either.filter.matches(Packet.decode(advert)) && either.filter.matches(Packet.decode(solicit)))
        #expect(try ResolvedPattern(PacketPattern(whoHas: "pod2.ip"), facts: facts).filter.protocolMatch == .arp)
        #expect(ns.filter.mismatches(Packet.decode(B.neighborSolicitationFrame(sourceMAC: Self.macA, source: Self.pod1, target: Self.pod1)))
            == ["who-has 2001:db8:32::2, not 2001:db8:32::1:2"])
    }

    /// Router solicitations, MLD reports and NDP about link-local addresses stay in the
    /// transcript but explain nothing: matching leaves them out unless a pattern asks for them.
    @Test func linkLocalChatterIsLeftOutOfMatchingUnlessAskedFor() throws {
        let ll = IPv6Address("fe80::1")!
        let chatter = [B.routerSolicitationFrame(sourceMAC: Self.macA, source: ll),
                       B.mldv2ReportFrame(sourceMAC: Self.macA, source: ll, groups: [Self.pod2.solicitedNodeMulticast]),
                       B.neighborSolicitationFrame(sourceMAC: Self.macA, source: ll, target: IPv6Address("fe80::2")!)]
        let absent = judge(check(PacketPattern(), absent: true), chatter)
        #expect(absent.passed && absent.observed == "none among 3 packets")
        let missing = judge(check(PacketPattern(icmp: .echoRequest)), chatter)
        #expect(!missing.passed && missing.observed == "3 packets there, none matching", "no chatter is offered as the closest packet")
        // Asked for: by kind, or by a link-local address.
        #expect(judge(check(PacketPattern(ndp: .solicitation)), chatter).passed)
        #expect(judge(check(PacketPattern(src: "fe80::1")), chatter).passed)
        #expect(PacketFilter(.icmp6, icmp6Type: ICMPv6Message.routerSolicitation).matches(Packet.decode(chatter[0])))
        #expect(!PacketFilter(.icmp6).matches(Packet.decode(chatter[1])))
        #expect(PacketFilter(.icmp6).mismatches(Packet.decode(chatter[1])) == ["it is link-local IPv6 chatter (multicast listener report v2)"])
    }

    @Test func ipv6FiltersReadAsPcapFilterExpressions() throws {
        #expect(PacketFilter.icmp6EchoRequest(to: Self.pod2).description == "icmp6 and dst 2001:db8:32::1:2 and icmp6[icmp6type] == icmp6-echo")
        #expect(PacketFilter(.tcp, source: .v6(Self.pod1), destinationPort: 80, ttl: 63).description
            == "tcp and src 2001:db8:32::2 and dst port 80 and ip6[7] == 63")
        #expect(PacketFilter.neighborSolicitation(target: Self.pod2).description
            == "icmp6 and icmp6[icmp6type] == icmp6-neighborsolicit and icmp6[8:4] == 0x20010db8 and icmp6[12:4] == 0x320000 and icmp6[16:4] == 0x0 and icmp6[20:4] == 0x10002")
        let syn = Packet.decode(B.tcp6Frame(Self.path, sourcePort: 40000, destinationPort: 80, sequence: 1, flags: .syn, hopLimit: 63))
        #expect(PacketFilter.tcpSYN(from: .v6(Self.pod1), to: .v6(Self.pod2), port: 80).matches(syn))
        #expect(PacketFilter(.tcp, source: .v4(IPv4Address("10.32.0.2")!), ttl: 64).mismatches(syn) == ["src is 2001:db8:32::2, not 10.32.0.2", "hop limit is 63, not 64"])
    }
}

extension DualStackChecksTests {
    /// A failed IPv6 expectation names the closest packet and how it differs, as for IPv4.
    @Test func aFailedIPv6ExpectationExplainsTheClosestPacket() {
        let late = PacketBuilder.tcp6Frame(Self.path, sourcePort: 40000, destinationPort: 8080, sequence: 1, flags: .syn, hopLimit: 62)
        let r = judge(check(PacketPattern(src: "pod1.ipv6", dport: "80", ttl: 63, tcpFlags: "S")), [late])
        #expect(!r.passed)
        #expect(r.observed == "1 packet there, none matching; closest: IP6 (hlim 62) 2001:db8:32::2.40000 > 2001:db8:32::1:2.8080: Flags [S], seq 1, win 65535, length 0 (dport is 8080, not 80, hop limit is 62, not 63)")
    }
}

extension DualStackChecksTests {
    /// An IPv6 check's packets are followed hop by hop as an IPv4 check's are: the echo and its
    /// reply at each capture point with their hop limits, neighbour discovery and MLD left out of
    /// the flow, and a lost reply shown where it stopped.
    @Test func theDiagramFollowsAnIPv6Flow() {
        typealias DF = DiagramFixtures
        let pods: [String: LabRecord.PodAddress] = ["pod1": Self.pods["pod1"]!, "pod2": Self.pods["pod2"]!]
        let geography = LabGeography(topology: DF.topology, pods: pods)
        func req(_ h: UInt8) -> [UInt8] { B.icmp6EchoFrame(Self.path, identifier: 7, sequence: 1, hopLimit: h) }
        func rep(_ h: UInt8) -> [UInt8] { B.icmp6EchoFrame(Self.path.reversed, reply: true, identifier: 7, sequence: 1, hopLimit: h) }
        let ns = B.neighborSolicitationFrame(sourceMAC: Self.macA, source: IPv6Address("2001:db8:32::1:1")!, target: Self.pod2)
        let mld = B.mldv2ReportFrame(sourceMAC: Self.macA, source: IPv6Address("fe80::1")!, groups: [Self.pod2.solicitedNodeMulticast])
        let hops = ["pod1/eth0", "node1/eth0", "node2/eth0", "pod2/eth0"]
        let all = DF.capture([("pod1/eth0", true, req(64)), ("node1/eth0", true, req(63)), ("node2/eth0", false, req(63)),
                              ("pod2/eth0", false, ns), ("pod2/eth0", false, mld),
                              ("pod2/eth0", false, req(62)), ("pod2/eth0", true, rep(64)), ("node2/eth0", true, rep(63)),
                              ("node1/eth0", false, rep(63)), ("pod1/eth0", false, rep(62))])
        let d = PacketPathDiagram.build(result: DF.result("pod-to-pod-v6", passed: true), source: "pod1", target: .v6(Self.pod2),
                                        packets: all, hops: hops, geography: geography)
        let arrows = d.steps.compactMap { if case .arrow(let a) = $0 { return a } else { return nil } }
        #expect(d.lifelines.map(\.id) == hops)
        #expect(arrows.count == 6)
        #expect(arrows.first?.label == "2001:db8:32::2 → 2001:db8:32::1:2 echo request seq 1 hlim 64")
        #expect(arrows.last?.label == "2001:db8:32::1:2 → 2001:db8:32::2 echo reply seq 1 hlim 62")
        // The reply lost after node2: the diagram stops it there, on its way to node1.
        let lost = PacketPathDiagram.build(result: DF.result("pod-to-pod-v6", passed: false), source: "pod1", target: .v6(Self.pod2),
                                           packets: Array(all.prefix(8)), hops: hops, geography: geography)
        let stops = lost.steps.compactMap { if case .stop(let s) = $0 { return s } else { return nil } }
        #expect(stops.map { "\($0.from) -> \($0.missing)" } == ["node2/eth0 -> node1/eth0"], "\(stops)")
    }
}
