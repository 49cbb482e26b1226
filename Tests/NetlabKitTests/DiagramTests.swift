import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import NetlabKit

/// The default lab's addresses, as the sample run had them: pod1 10.32.0.2, webpod1 10.32.0.3
/// on node1 (gateway 10.32.0.1), pod2 10.32.1.2 on node2 (gateway 10.32.1.1).
enum DiagramFixtures {
    static let topology = try! TopologyLoader.parse(yaml: DefaultTopology.yaml, source: DefaultTopology.fileName)
    static let pods: [String: LabRecord.PodAddress] = [
        "pod1": .init(address: IPv4Prefix("10.32.0.2/24")!, gateway: IPv4Address("10.32.0.1")),
        "webpod1": .init(address: IPv4Prefix("10.32.0.3/24")!, gateway: IPv4Address("10.32.0.1")),
        "pod2": .init(address: IPv4Prefix("10.32.1.2/24")!, gateway: IPv4Address("10.32.1.1")),
    ]
    static let geography = LabGeography(topology: topology, pods: pods)
    static func ip(_ s: String) -> IPv4Address { IPv4Address(s)! }
    static let mac = MACAddress("02:00:00:00:00:01")!, mac2 = MACAddress("02:00:00:00:00:02")!

    /// Stamps frames in order, 1 µs apart: (hop, outgoing, frame).
    static func capture(_ seen: [(String, Bool, [UInt8])]) -> [CapturedPacket] {
        seen.enumerated().map { i, s in
            CapturedPacket(timestampNanoseconds: 1_700_000_000_000_000_000 + UInt64(i) * 1000, interfaceName: "eth0", hopLabel: s.0,
                           direction: s.1 ? .outgoing : .incoming, bytes: s.2)
        }
    }

    static func syn(_ src: String, _ sport: UInt16, _ dst: String, _ dport: UInt16, ttl: UInt8, id: UInt16 = 20659, flags: TCPFlags = .syn,
                    seq: UInt32 = 1_114_028_361, ack: UInt32 = 0) -> [UInt8] {
        PacketBuilder.tcpFrame(.init(sourceMAC: mac, destinationMAC: mac2, source: ip(src), destination: ip(dst)),
                               sourcePort: sport, destinationPort: dport, sequence: seq, acknowledgment: ack, flags: flags,
                               ip: .init(ttl: ttl, identification: id))
    }

    /// NodePort remote as the lab carries it: client → gw (1:1 NAT) → node2 (DNAT + SNAT) →
    /// node1 → webpod1, and the SYN-ACK back. `stopAtNode1` drops the SYN in node1 instead.
    static func nodePortRemote(stopAtNode1: Bool = false) -> [CapturedPacket] {
        var s: [(String, Bool, [UInt8])] = [
            ("client/eth0", true, syn("198.51.100.10", 49394, "203.0.113.38", 30007, ttl: 64)),
            ("node2/eth0", false, syn("198.51.100.10", 49394, "10.0.0.38", 30007, ttl: 63)),
            ("node2/eth0", true, syn("10.0.0.38", 19751, "10.32.0.3", 80, ttl: 62)),
            ("node1/eth0", false, syn("10.0.0.38", 19751, "10.32.0.3", 80, ttl: 62)),
        ]
        if stopAtNode1 { return capture(s) }
        let synack = { (src: String, sp: UInt16, dst: String, dp: UInt16, ttl: UInt8) in
            syn(src, sp, dst, dp, ttl: ttl, id: 0, flags: [.syn, .ack], seq: 883_033_512, ack: 1_114_028_362)
        }
        s += [
            ("webpod1/eth0", false, syn("10.0.0.38", 19751, "10.32.0.3", 80, ttl: 61)),
            ("webpod1/eth0", true, synack("10.32.0.3", 80, "10.0.0.38", 19751, 64)),
            ("node1/eth0", true, synack("10.32.0.3", 80, "10.0.0.38", 19751, 63)),
            ("node2/eth0", false, synack("10.32.0.3", 80, "10.0.0.38", 19751, 63)),
            ("node2/eth0", true, synack("10.0.0.38", 30007, "198.51.100.10", 49394, 62)),
            ("client/eth0", false, synack("203.0.113.38", 30007, "198.51.100.10", 49394, 61)),
        ]
        return capture(s)
    }

    static let hops = ["node2/eth0", "node1/eth0", "webpod1/eth0", "client/eth0"]

    static func result(_ name: String, passed: Bool, failed: [ExpectationResult] = []) -> CheckResult {
        CheckResult(name: name, passed: passed, durationMs: 1, expectations: failed)
    }
}

@Suite struct PacketPathDiagramTests {
    typealias F = DiagramFixtures

    func arrows(_ d: PacketPathDiagram) -> [PacketPathDiagram.Arrow] {
        d.steps.compactMap { if case .arrow(let a) = $0 { return a } else { return nil } }
    }
    func rewrites(_ d: PacketPathDiagram) -> [PacketPathDiagram.Rewrite] {
        d.steps.compactMap { if case .rewrite(let r) = $0 { return r } else { return nil } }
    }
    func stops(_ d: PacketPathDiagram) -> [PacketPathDiagram.Stop] {
        d.steps.compactMap { if case .stop(let s) = $0 { return s } else { return nil } }
    }

    @Test func nodePortRemoteFollowsThePacketThroughBothNATs() {
        let d = PacketPathDiagram.build(result: F.result("nodeport-remote", passed: true), source: "client", target: F.ip("203.0.113.38"),
                                        packets: F.nodePortRemote(), hops: F.hops, geography: F.geography)
        // Path order from the first packet; gw sits between client and the VPC though not captured.
        #expect(d.lifelines.map(\.id) == ["client/eth0", "gw", "node2/eth0", "node1/eth0", "webpod1/eth0"])
        #expect(d.lifelines.map(\.captured) == [true, false, true, true, true])

        let forward = arrows(d).filter { !$0.reply }.map { "\($0.from)>\($0.to)" }
        #expect(forward == ["client/eth0>gw", "gw>node2/eth0", "node2/eth0>node1/eth0", "node1/eth0>webpod1/eth0"])
        #expect(arrows(d).first?.label == "198.51.100.10:49394 → 203.0.113.38:30007 [S] ttl 64")
        #expect(arrows(d)[1].label == "198.51.100.10:49394 → 10.0.0.38:30007 [S] ttl 63")
        let back = arrows(d).filter(\.reply).map { "\($0.from)>\($0.to)" }
        #expect(back == ["webpod1/eth0>node1/eth0", "node1/eth0>node2/eth0", "node2/eth0>gw", "gw>client/eth0"])

        // The rewrites, where they happen: 1:1 NAT in gw, DNAT and SNAT in node2, and on the way
        // back the reverse of each.
        let r = rewrites(d)
        #expect(r.map(\.at) == [["gw"], ["node2/eth0"], ["node2/eth0"], ["gw"]])
        #expect(r[0].changes.map(\.text) == ["1:1 NAT dst 203.0.113.38 → 10.0.0.38"])
        #expect(r[1].changes.map(\.text) == ["DNAT dst 10.0.0.38:30007 → 10.32.0.3:80", "SNAT src 198.51.100.10:49394 → 10.0.0.38:19751"])
        #expect(r[2].changes.map(\.kind) == ["un-SNAT", "un-DNAT"])
        #expect(r[3].changes.map(\.text) == ["1:1 NAT src 10.0.0.38 → 203.0.113.38"])
        #expect(stops(d).isEmpty)
    }

    @Test func podToPodICMPHasNoRewriteAndShowsARP() {
        let e = PacketBuilder.Endpoints(sourceMAC: F.mac, destinationMAC: F.mac2, source: F.ip("10.32.0.2"), destination: F.ip("10.32.1.2"))
        func req(_ ttl: UInt8) -> [UInt8] { PacketBuilder.icmpEchoFrame(e, identifier: 23180, sequence: 1, ip: .init(ttl: ttl, identification: 12213)) }
        func rep(_ ttl: UInt8) -> [UInt8] { PacketBuilder.icmpEchoFrame(e.reversed, reply: true, identifier: 23180, sequence: 1, ip: .init(ttl: ttl, identification: 46606)) }
        let arpReq = PacketBuilder.arpRequestFrame(senderMAC: F.mac, senderIP: F.ip("10.32.1.1"), targetIP: F.ip("10.32.1.2"))
        let arpRep = PacketBuilder.arpReplyFrame(senderMAC: F.mac2, senderIP: F.ip("10.32.1.2"), targetMAC: F.mac, targetIP: F.ip("10.32.1.1"))
        let packets = F.capture([
            ("pod1/eth0", true, req(64)), ("node1/eth0", true, req(63)), ("node2/eth0", false, req(63)),
            ("pod2/eth0", false, arpReq), ("pod2/eth0", true, arpRep),
            ("pod2/eth0", false, req(62)), ("pod2/eth0", true, rep(64)), ("node2/eth0", true, rep(63)),
            ("node1/eth0", false, rep(63)), ("pod1/eth0", false, rep(62)),
        ])
        let d = PacketPathDiagram.build(result: F.result("pod-to-pod", passed: true), source: "pod1", target: F.ip("10.32.1.2"),
                                        packets: packets, hops: ["pod1/eth0", "node1/eth0", "node2/eth0", "pod2/eth0"], geography: F.geography)
        #expect(d.lifelines.map(\.id) == ["pod1/eth0", "node1/eth0", "node2/eth0", "pod2/eth0"])
        #expect(rewrites(d).isEmpty)
        #expect(arrows(d).count == 6)
        #expect(arrows(d)[0].label == "10.32.0.2 → 10.32.1.2 echo request seq 1 ttl 64")
        // The last wire is pod1's veth: the reply as node1 routed it onto it (ttl 62, the report's).
        #expect(arrows(d).last?.label == "10.32.1.2 → 10.32.0.2 echo reply seq 1 ttl 62")
        let notes = d.steps.compactMap { if case .note(let n) = $0 { return n } else { return nil } }
        #expect(notes.map(\.lines) == [["ARP who-has 10.32.1.2 tell 10.32.1.1: 10.32.1.2 is-at 02:00:00:00:00:02"]])
        #expect(notes.first?.over == ["pod2/eth0", "pod2/eth0"])
        // The ARP exchange comes before the echo request reaches pod2, as on the wire.
        let arpIndex = d.steps.firstIndex { if case .note = $0 { return true } else { return false } }!
        let lastForward = d.steps.lastIndex { if case .arrow(let a) = $0 { return !a.reply } else { return false } }!
        #expect(arpIndex < lastForward)
    }

    @Test func failingFlowStopsAtNode1() {
        let failed = [ExpectationResult(name: "packet at webpod1/eth0", expected: "tcp [S] 10.0.0.38 > 10.32.0.3.80",
                                        observed: "no packets at all there", passed: false)]
        let d = PacketPathDiagram.build(result: F.result("nodeport-remote", passed: false, failed: failed), source: "client",
                                        target: F.ip("203.0.113.38"), packets: F.nodePortRemote(stopAtNode1: true),
                                        hops: F.hops, geography: F.geography)
        // webpod1/eth0 saw nothing, yet it is drawn: it is where the packet should have gone.
        #expect(d.lifelines.map(\.id) == ["client/eth0", "gw", "node2/eth0", "node1/eth0", "webpod1/eth0"])
        #expect(stops(d) == [.init(from: "node1/eth0", missing: "webpod1/eth0", label: "✗ not seen at webpod1/eth0")])
        #expect(d.failedExpectations == failed)

        // The same packets in a passing check draw no stop marker.
        let ok = PacketPathDiagram.build(result: F.result("x", passed: true), source: "client", target: F.ip("203.0.113.38"),
                                         packets: F.nodePortRemote(stopAtNode1: true), hops: F.hops, geography: F.geography)
        #expect(stops(ok).isEmpty)
    }

    @Test func packetDroppedInsideANode() {
        // The SYN comes into node2 and never leaves it.
        let packets = Array(F.nodePortRemote(stopAtNode1: true).prefix(2))
        let d = PacketPathDiagram.build(result: F.result("nodeport-remote", passed: false), source: "client", target: F.ip("203.0.113.38"),
                                        packets: packets, hops: F.hops, geography: F.geography)
        // It was DNATed nowhere: its destination is node2 itself, so it arrived.
        #expect(stops(d).isEmpty)
        // Sent to a pod on node1 but seen only coming into node2: node2 dropped it.
        let dnatted = F.capture([
            ("client/eth0", true, F.syn("198.51.100.10", 49394, "10.32.0.3", 80, ttl: 64)),
            ("node2/eth0", false, F.syn("198.51.100.10", 49394, "10.32.0.3", 80, ttl: 63)),
        ])
        let d2 = PacketPathDiagram.build(result: F.result("x", passed: false), source: "client", target: F.ip("10.32.0.3"),
                                         packets: dnatted, hops: F.hops, geography: F.geography)
        #expect(stops(d2).map(\.label) == ["✗ dropped in node2: never left node2/eth0"])
    }

    @Test func answerFromTheWrongAddressIsFlagged() {
        // A proxy without masquerade: node2 only DNATs, so webpod1 answers the client's own
        // address, straight back via gw, and the client gets a SYN-ACK from the pod's address.
        let packets = F.capture([
            ("client/eth0", true, F.syn("198.51.100.10", 49394, "203.0.113.38", 30007, ttl: 64)),
            ("node2/eth0", false, F.syn("198.51.100.10", 49394, "10.0.0.38", 30007, ttl: 63)),
            ("node2/eth0", true, F.syn("198.51.100.10", 49394, "10.32.0.3", 80, ttl: 62)),
            ("node1/eth0", true, F.syn("10.32.0.3", 80, "198.51.100.10", 49394, ttl: 63, id: 0, flags: [.syn, .ack], seq: 5, ack: 1_114_028_362)),
            ("client/eth0", false, F.syn("10.32.0.3", 80, "198.51.100.10", 49394, ttl: 62, id: 0, flags: [.syn, .ack], seq: 5, ack: 1_114_028_362)),
        ])
        let d = PacketPathDiagram.build(result: F.result("x", passed: false), source: "client", target: F.ip("203.0.113.38"),
                                        packets: packets, hops: F.hops, geography: F.geography)
        let notes = d.steps.compactMap { if case .note(let n) = $0 { return n.lines } else { return nil } }.flatMap { $0 }
        #expect(notes.contains("✗ answer from 10.32.0.3:80, but the probe sent to 203.0.113.38:30007"))
    }

    @Test func mermaidTextOfASmallCase() {
        let packets = F.capture([
            ("client/eth0", true, F.syn("198.51.100.10", 49394, "203.0.113.38", 30007, ttl: 64)),
            ("node2/eth0", false, F.syn("198.51.100.10", 49394, "10.0.0.38", 30007, ttl: 63)),
            ("node2/eth0", true, F.syn("10.0.0.38", 19751, "10.32.0.3", 80, ttl: 62)),
            ("node1/eth0", false, F.syn("10.0.0.38", 19751, "10.32.0.3", 80, ttl: 62)),
        ])
        let failed = [ExpectationResult(name: "reply", expected: "an answer; #1", observed: "none", passed: false)]
        let d = PacketPathDiagram.build(result: F.result("np", passed: false, failed: failed), source: "client", target: F.ip("203.0.113.38"),
                                        packets: packets, hops: F.hops, geography: F.geography)
        #expect(d.mermaid() == """
        sequenceDiagram
            participant L0 as client/eth0
            participant L1 as gw (not captured)
            participant L2 as node2/eth0
            participant L3 as node1/eth0
            participant L4 as webpod1/eth0
            L0->>L1: 198.51.100.10:49394 → 203.0.113.38:30007 [S] ttl 64
            rect rgb(255, 236, 179)
                Note over L1: 1:1 NAT dst 203.0.113.38 → 10.0.0.38
            end
            L1->>L2: 198.51.100.10:49394 → 10.0.0.38:30007 [S] ttl 63
            rect rgb(255, 236, 179)
                Note over L2: DNAT dst 10.0.0.38:30007 → 10.32.0.3:80<br/>SNAT src 198.51.100.10:49394 → 10.0.0.38:19751
            end
            L2->>L3: 10.0.0.38:19751 → 10.32.0.3:80 [S] ttl 62
            L3-xL4: ✗ not seen at webpod1/eth0
            rect rgb(255, 205, 210)
                Note over L0: ✗ reply: expected an answer#59; #35;1<br/>observed none
            end

        """)
    }

    @Test func svgIsWellFormedWithNATLabelAndFailureMarker() throws {
        let failed = [ExpectationResult(name: "packet at webpod1/eth0", expected: "tcp [S] 10.0.0.38 > 10.32.0.3.80 & <more>",
                                        observed: String(repeating: "a long tcpdump line ", count: 12), passed: false)]
        let d = PacketPathDiagram.build(result: F.result("nodeport-remote", passed: false, failed: failed), source: "client",
                                        target: F.ip("203.0.113.38"), packets: F.nodePortRemote(stopAtNode1: true), hops: F.hops,
                                        geography: F.geography)
        let svg = d.svg()
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "SVG does not parse: \(parser.parserError.map { "\($0)" } ?? "")")
        #expect(svg.contains("DNAT dst 10.0.0.38:30007 → 10.32.0.3:80"))
        #expect(svg.contains("1:1 NAT dst 203.0.113.38 → 10.0.0.38"))
        #expect(svg.contains("✗ not seen at webpod1/eth0"))
        #expect(svg.contains("&amp; &lt;more&gt;"))
        #expect(!svg.contains("http://") || !svg.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"),
                "no external resources")
        let html = d.html()
        #expect(XMLParser(data: Data(html.replacingOccurrences(of: "<!DOCTYPE html>", with: "").utf8)).parse())
    }

    @Test func layoutHasNoOverlappingTextAndLabelsFitTheirArrows() {
        for (passed, packets) in [(true, F.nodePortRemote()), (false, F.nodePortRemote(stopAtNode1: true))] {
            let failed = passed ? [] : [ExpectationResult(name: "client address the server saw", expected: "10.0.0.38 (node2.ip)",
                                                          observed: String(repeating: "x", count: 300), passed: false)]
            let d = PacketPathDiagram.build(result: F.result("np", passed: passed, failed: failed), source: "client",
                                            target: F.ip("203.0.113.38"), packets: packets, hops: F.hops, geography: F.geography)
            let l = d.layout()
            let boxes = l.textBoxes
            for i in boxes.indices {
                #expect(boxes[i].x >= 0 && boxes[i].maxX <= l.width && boxes[i].maxY <= l.height)
                for j in boxes.indices where j > i { #expect(!boxes[i].intersects(boxes[j]), "\(boxes[i]) overlaps \(boxes[j])") }
            }
            for it in l.items {
                if let x1 = it.x1, let x2 = it.x2 {
                    #expect(it.box.x >= min(x1, x2) && it.box.maxX <= max(x1, x2), "label '\(it.lines[0])' sticks out of its arrow")
                }
            }
            // Lifelines keep their path order left to right.
            #expect(l.lifelineX == l.lifelineX.sorted())
        }
    }

    @Test func overlapCheckCanFail() {
        let a = DiagramBox(x: 0, y: 0, width: 10, height: 10)
        #expect(a.intersects(DiagramBox(x: 5, y: 5, width: 10, height: 10)))
        #expect(!a.intersects(DiagramBox(x: 10, y: 0, width: 10, height: 10)))
    }
}

@Suite struct RunSummaryAndGraphTests {
    typealias F = DiagramFixtures

    @Test func summaryHasTableFailuresAndDiagrams() {
        let failed = ExpectationResult(name: "client address the server saw", expected: "10.0.0.38 (node2.ip)",
                                       observed: "198.51.100.10 | port 1", passed: false)
        let checks = [CheckResult(name: "pod-to-pod", description: "ping", passed: true, durationMs: 59),
                      CheckResult(name: "nodeport-remote", passed: false, durationMs: 2060, expectations: [failed])]
        let report = RunReport(lab: "run-1", topology: "gke-vpc-native", durationMs: 3000, checks: checks)
        let d = PacketPathDiagram.build(result: checks[1], source: "client", target: F.ip("203.0.113.38"),
                                        packets: F.nodePortRemote(stopAtNode1: true), hops: F.hops, geography: F.geography)
        let passing = PacketPathDiagram.build(result: checks[0], source: "pod1", packets: [], hops: [], geography: F.geography)
        let md = RunSummary.markdown(report: report, diagrams: ["nodeport-remote": d, "pod-to-pod": passing])
        #expect(md.contains("❌ 1 of 2 checks failed"))
        #expect(md.contains("| pod-to-pod | ✅ pass | 59 ms | ping |"))
        #expect(md.contains("| nodeport-remote | ❌ **FAIL** | 2.06 s |  |"))
        #expect(md.contains("| client address the server saw | 10.0.0.38 (node2.ip) | 198.51.100.10 \\| port 1 |"))
        #expect(md.contains("<details><summary>✅ pod-to-pod: packet path</summary>"))
        #expect(md.contains("```mermaid\n" + d.mermaid() + "```"))
        // The failing check's diagram is not folded away.
        let failing = md.range(of: "### ❌ nodeport-remote")!
        #expect(md[failing.upperBound...].contains("L3-xL4: ✗ not seen at webpod1/eth0"))
    }

    @Test func topologyGraphDrawsTheLab() throws {
        let plan = LabPlan(lab: "t", topology: F.topology)
        let g = TopologyGraph(topology: F.topology, datapath: Datapath(topology: F.topology), pods: F.pods)
        let m = g.mermaid()
        #expect(m.hasPrefix("flowchart TB\n"))
        #expect(m.contains("1:1 NAT 203.0.113.38 ↔ 10.0.0.38"))
        #expect(m.contains("\"webpod1<br/>eth0 10.32.0.3/24<br/>gw 10.32.0.1<br/>app=webpod\""))
        #expect(m.contains("pods 10.32.1.0/24"))
        #expect(m.components(separatedBy: "subgraph").count - 1 == F.topology.nodes.count)
        // Every veth of the plan is a link.
        #expect(g.links.filter { !$0.dashed && $0.label != "veth (CNI)" }.count == plan.veths.count)

        let svg = g.svg()
        #expect(XMLParser(data: Data(svg.utf8)).parse())
        #expect(svg.contains("eth0 10.32.1.2/24"))
        let frames = g.layout().frames
        let all = Array(frames.values)
        for i in all.indices { for j in all.indices where j > i { #expect(!all[i].intersects(all[j])) } }
        // Pods sit under their node.
        #expect(frames["pod2"]!.y > frames["node2"]!.maxY)

        // Without a lab, pods show their node's range.
        #expect(TopologyGraph(topology: F.topology, datapath: Datapath(topology: F.topology)).mermaid().contains("pod2<br/>eth0 from 10.32.1.0/24"))
    }
}
