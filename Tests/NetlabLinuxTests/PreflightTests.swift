import Foundation
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// What the machine lacks is found before anything is created, with what to do (no root needed).
@Suite struct PreflightTests {
    func topology(binDir: String = "/usr/lib/cni", proxy: [String] = ProxySettings.defaultCommand) throws -> Topology {
        var t = try TopologyLoader.parse(yaml: DefaultTopology.yaml, source: DefaultTopology.fileName)
        t.cni.binDir = binDir
        t.proxy.command = proxy
        t.proxy.mode = .oneShot
        t.agents = []
        return t
    }

    @Test func missingIptablesSaysWhatToInstall() throws {
        let t = try topology()
        let r = Preflight.check(topology: t, plan: LabPlan(lab: "x", topology: t), tools: Tools(directory: "/nonexistent"), which: { _ in nil })
        let ipt = try #require(r.problems.first { $0.what.contains("iptables-restore") })
        #expect(ipt.fix == "apt-get install iptables")
        #expect(throws: EnvironmentProblems.self) { try r.throwIfFailed() }
    }

    @Test func missingPluginDirectoryAndProxyAreNamed() throws {
        let t = try topology(binDir: "/nonexistent/cni", proxy: ["./my-proxy"])
        let r = Preflight.check(topology: t, plan: LabPlan(lab: "x", topology: t), tools: Tools(directory: "/nonexistent"), which: IPTables.which)
        let whats = r.problems.map(\.what)
        #expect(whats.contains { $0.contains("/nonexistent/cni") && $0.contains("cni.binDir") }, "\(whats)")
        #expect(whats.contains { $0.contains("the service proxy './my-proxy'") }, "\(whats)")
    }

    /// An agent's program that is not there is an environment problem before anything is made;
    /// a relative one is looked for next to the topology file.
    @Test func missingAgentProgramIsNamed() throws {
        var t = try topology()
        t.agents = [Agent(name: "flanneld", command: ["./bin/flanneld"], nodes: ["node1"], baseDirectory: "/nonexistent"),
                    Agent(name: "sh", command: ["/bin/sh"], nodes: ["node1"])]
        let r = Preflight.check(topology: t, plan: LabPlan(lab: "x", topology: t), tools: Tools(directory: "/nonexistent"), which: IPTables.which)
        let agents = r.problems.filter { $0.what.contains("agent") }
        #expect(agents.map(\.what) == ["the program of agent 'flanneld', ./bin/flanneld (in \(t.source)), is not an executable file"])
    }

    @Test func aCompleteMachineHasNoProblems() throws {
        let t = try topology()
        // netlab-proxy is found next to the test bundle's netlab; the plugins are Debian's.
        let tools = Tools(directory: URL(fileURLWithPath: netlabBinary).deletingLastPathComponent().path)
        let r = Preflight.check(topology: t, plan: LabPlan(lab: "x", topology: t), tools: tools, which: { "/usr/sbin/\($0)" })
        #expect(r.problems.isEmpty == FileManager.default.isExecutableFile(atPath: "/usr/lib/cni/ptp"), "\(r.problems)")
    }
}
