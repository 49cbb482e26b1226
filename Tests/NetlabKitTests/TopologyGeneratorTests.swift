import Foundation
import Testing
@testable import NetlabKit

@Suite struct TopologyGeneratorTests {
    @Test(arguments: [(1, 1), (2, 3), (10, 100), (200, 1), (4, 250)])
    func generatedTopologiesLoad(nodes: Int, pods: Int) throws {
        let g = TopologyGenerator(nodes: nodes, podsPerNode: pods)
        #expect(g.problem == nil)
        let t = try TopologyLoader.parse(yaml: g.yaml, source: "gen.yaml")
        #expect(t.nodes.count == nodes)
        #expect(t.pods.count == nodes * pods)
        #expect(t.pods(on: "node\(nodes)").count == pods)
        #expect(Set(t.nodes.map(\.podCIDR)).count == nodes)
        #expect(t.checks.map(\.name) == (nodes * pods == 1 ? ["nodeport"] : ["pod-to-pod", "nodeport"]))
        #expect(t.pods.filter { $0.labels["app"] == "web" }.map(\.name) == ["n1-p1"], "one server, on node1")
        #expect(t.services.first?.ports.first?.nodePort == 30080)
    }

    @Test func sizesOutOfRangeSaySo() {
        #expect(TopologyGenerator(nodes: 0, podsPerNode: 1).problem?.contains("--nodes 0 is outside 1-200") == true)
        #expect(TopologyGenerator(nodes: 2, podsPerNode: 251).problem?.contains("--pods-per-node 251 is outside 1-250") == true)
    }
}


@Suite struct CheckFileTests {
    let base = DefaultTopology.yaml

    func check(_ extra: String) throws -> Check? {
        try TopologyLoader.parse(yaml: base + extra, source: "t.yaml").checks.last
    }

    func errors(_ extra: String) -> [String] {
        do { _ = try TopologyLoader.parse(yaml: base + extra, source: "t.yaml"); return [] } catch let e as TopologyError {
            return e.diagnostics.map(\.message)
        } catch { return ["\(error)"] }
    }

    @Test func aCheckReadsWithItsTimeoutAndUnreadyPods() throws {
        let c = try #require(try check("""
          - name: quick
            from: pod1
            to: pod2.ip
            protocol: icmp
            timeout: 0.5
            unready: [webpod1]
            expect: {reply: true, packets: [{at: node2/eth0, absent: true, match: {proto: udp, dport: 4789}}]}

        """))
        #expect(c.timeoutSeconds == 0.5)
        #expect(c.unready == ["webpod1"])
        #expect(c.expect.packets == [PacketExpectation(at: "node2/eth0", match: PacketPattern(proto: .udp, dport: "4789"), absent: true)])
    }

    @Test func badChecksAreLocatedAndSayWhatIsRight() {
        let e = errors("""
          - name: bad
            from: pod9
            to: pod2.ipp
            protocol: http
            timeout: fast
            unready: [node1]
            expect: {packets: [{at: node1, match: {tcpFlags: Q, icmp: echo-request}}]}

        """)
        #expect(e.contains { $0.contains("check 'bad' uses protocol http, which needs a port") }, "\(e)")
        #expect(e.contains { $0.contains("timeout must be a number of seconds from 0.05 to 60") }, "\(e)")
        #expect(e.contains { $0.contains("must name an interface as member/interface, like node1/eth0") }, "\(e)")
        #expect(e.contains { $0.contains("tcpFlags 'Q' must be tcpdump's flag letters") }, "\(e)")
        // References are checked once the file reads well (they need the nodes, pods and services).
        let refs = errors("""
          - name: refs
            from: pod9
            to: pod2.ipp
            protocol: icmp
            unready: [node1]
            expect: {packets: [{at: nodeX/eth0, match: {src: svc-webport.nodePort}}]}

        """)
        #expect(refs.contains { $0.contains("from names 'pod9', which is not a member of this lab") }, "\(refs)")
        #expect(refs.contains { $0.contains("'pod2.ipp': a pod has no 'ipp'; use one of pod2.ip, pod2.gateway") }, "\(refs)")
        #expect(refs.contains { $0.contains("unready names 'node1', which is not a pod") }, "\(refs)")
        #expect(refs.contains { $0.contains("names 'nodeX', which is not a member of this lab") && $0.contains("did you mean") }, "\(refs)")
        #expect(refs.contains { $0.contains("'svc-webport.nodePort' is a port, but an address is needed here") }, "\(refs)")
    }
}
