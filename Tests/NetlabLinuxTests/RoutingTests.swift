import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// `vpc.routing: none` on the real kernel: the VPC no longer carries the pod ranges, so pod-to-pod
/// fails until an agent routes them, as an overlay, BGP or host-gw CNI does.
extension Labs { @Suite struct RoutingTests {
    func topology(agents: String = "") throws -> Topology {
        let yaml = oneShotDefaultYAML.replacingOccurrences(of: "  routing: podRanges\n", with: "  routing: none\n")
        return try TopologyLoader.parse(yaml: yaml + agents, source: DefaultTopology.fileName)
    }

    @Test func withoutVPCRoutesPodToPodNeedsAnAgentThatRoutesThePodRanges() throws {
        let check = try #require(try defaultTopology().checks.first { $0.name == "pod-to-pod" })
        do {
            let lab = try Lab.up(name: uniqueLab("t-noroutes"), topology: try topology(), persistent: false)
            defer { try? lab.down() }
            let r = CheckRunner(lab: lab).run(check)
            #expect(!r.passed)
            #expect(r.expectations.first { $0.name == "reply" }?.passed == false, "\(r.expectations)")
            let routes = try run(["ip", "-n", LabNames.namespace(lab: lab.name, member: "gw"), "route", "show"]).stdoutText
            #expect(!routes.contains("10.32."), "the gateway routes no pod range: \(routes)")
        }
        // Each node's agent routes the other node's range via its address: pod-to-pod is back,
        // with TTL 62 (one hop per node, not through the gateway).
        let agents = """

        agents:
          - name: host-gw
            command: [\(fixtures)/host-gw, 10.32.1.0/24, 10.0.0.38]
            nodes: [node1]
            ready: {log: routes programmed}
          - name: host-gw-2
            command: [\(fixtures)/host-gw, 10.32.0.0/24, 10.0.0.37]
            nodes: [node2]
            ready: {log: routes programmed}
        """
        let lab = try Lab.up(name: uniqueLab("t-hostgw"), topology: try topology(agents: agents), persistent: false)
        defer { try? lab.down() }
        let r = CheckRunner(lab: lab).run(check)
        #expect(r.passed, "\(RunReport.text(of: r, verbose: true))")
    }
} }
