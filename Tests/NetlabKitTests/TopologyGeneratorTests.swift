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
        #expect(t.checks.map(\.name) == ["pod-to-pod", "nodeport"])
        #expect(t.services.first?.ports.first?.nodePort == 30080)
    }

    @Test func sizesOutOfRangeSaySo() {
        #expect(TopologyGenerator(nodes: 0, podsPerNode: 1).problem?.contains("--nodes 0 is outside 1-200") == true)
        #expect(TopologyGenerator(nodes: 2, podsPerNode: 251).problem?.contains("--pods-per-node 251 is outside 1-250") == true)
    }
}
