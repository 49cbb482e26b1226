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
        #expect(t.checks.map(\.name) == ["pod-to-pod", "nodeport"])
        #expect(t.services.first?.ports.first?.nodePort == 30080)
    }

    @Test func sizesOutOfRangeSaySo() {
        #expect(TopologyGenerator(nodes: 0, podsPerNode: 1).problem?.contains("--nodes 0 is outside 1-200") == true)
        #expect(TopologyGenerator(nodes: 2, podsPerNode: 251).problem?.contains("--pods-per-node 251 is outside 1-250") == true)
    }
}

@Suite struct TopologyFileTests {
    @Test func aMissingFileSaysSo() {
        #expect(throws: TopologyError.self) { try TopologyLoader.load(path: "/nonexistent/topology.yaml") }
        do { _ = try TopologyLoader.load(path: "/nonexistent/topology.yaml") } catch {
            #expect("\(error)" == "/nonexistent/topology.yaml: cannot read the topology file: there is no such file; check the path, or run without a file to use the default topology gke-vpc-native.yaml")
        }
    }

    /// `--topology <(netlab topology generate ...)`: a pipe, not a regular file.
    @Test func aPipeIsReadToTheEnd() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-fifo-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("t.yaml").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let yaml = TopologyGenerator(nodes: 2, podsPerNode: 2).yaml
        let writer = Thread { try? yaml.write(toFile: fifo, atomically: false, encoding: .utf8) }
        writer.start()
        let t = try TopologyLoader.load(path: fifo)
        #expect(t.pods.count == 4)
    }
}
