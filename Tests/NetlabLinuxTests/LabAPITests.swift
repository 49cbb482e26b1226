import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// The lab's Kubernetes API (root): served from its own namespace on the VPC, read by Debian's
/// kubectl through `netlab kubectl` and by an agent on a node through `{{kubeconfig}}`, listening
/// only in its own namespace, and gone with the lab.
extension Labs { @Suite struct LabAPITests {
    /// The default topology with an agent on every node that watches the nodes through the lab's
    /// kubeconfig and server, from the node's namespace. HOME is the agent's own directory, so
    /// kubectl's cache never lands on the host.
    static let agentYAML = """

    agents:
      - name: watcher
        command: [/usr/bin/kubectl, "--kubeconfig={{kubeconfig}}", "--server={{apiServer}}", get, nodes, --watch, -o, name]
        env: {HOME: "{{stateDir}}"}
        ready: {log: "node/node2"}

    """

    /// The TCP listeners on `address:port` of the calling thread's namespace (ss, as a user would look).
    static func listeners(_ address: IPv4Address, _ port: Int, in namespace: String? = nil) throws -> String {
        let ss = ["ss", "-Hltn", "src", "\(address):\(port)"]
        return try run(namespace.map { ["ip", "netns", "exec", $0] + ss } ?? ss).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func kubectlAndAnAgentReadTheLabFromItsAPIWhichListensOnlyInItsNamespace() throws {
        let dir = try TemporaryDirectory()
        let file = dir.path + "/topology.yaml"
        try (oneShotDefaultYAML + Self.agentYAML).write(toFile: file, atomically: true, encoding: .utf8)
        let name = uniqueLab("t-api")
        let up = try run([netlabBinary, "up", "--name", name, "-t", file], timeout: 120)
        var isDown = false
        defer { if !isDown { _ = try? run([netlabBinary, "down", "--name", name]) } }
        try #require(up.succeeded, "\(up.stderrText)")
        let lab = try Lab.open(name: name)
        let api = lab.topology.api
        #expect(up.stdoutText.contains(api.url), "up's map shows the API: \(up.stdoutText)")

        // kubectl sees the lab as it is: both nodes with their ranges, the pods with the IPs the
        // CNI gave, the service and its slice.
        let get = try run([netlabBinary, "kubectl", "--name", name, "--", "get", "nodes,pods,svc,endpointslices", "-o", "json"])
        try #require(get.succeeded, "\(get.stderrText)")
        let items = try #require(try JSONValue.decode(get.stdout)["items"]?.arrayValue)
        func objects(_ kind: String) -> [String: JSONValue] {
            Dictionary(items.filter { $0["kind"]?.stringValue == kind }.map { ($0[path: ["metadata", "name"]]?.stringValue ?? "", $0) },
                       uniquingKeysWith: { a, _ in a })
        }
        let nodes = objects("Node"), pods = objects("Pod"), services = objects("Service"), slices = objects("EndpointSlice")
        for n in lab.topology.nodes {
            #expect(nodes[n.name]?[path: ["spec", "podCIDR"]]?.stringValue == "\(n.podCIDR)")
        }
        #expect(nodes.count == lab.topology.nodes.count)
        for p in lab.topology.pods {
            let ip = try #require(lab.record.pods[p.name]).address.address
            #expect(pods[p.name]?[path: ["status", "podIP"]]?.stringValue == "\(ip)", "pod \(p.name)")
            #expect(pods[p.name]?[path: ["spec", "nodeName"]]?.stringValue == p.node)
        }
        #expect(services["svc-webport"]?[path: ["spec", "clusterIP"]]?.stringValue == "\(lab.topology.services[0].clusterIP)")
        #expect(services["kubernetes"] != nil && slices["kubernetes"] != nil)
        let webpod1 = try #require(lab.record.pods["webpod1"]).address.address
        let slice = try #require(slices.values.first { $0[path: ["metadata", "labels", EndpointSlice.serviceNameLabel]]?.stringValue == "svc-webport" })
        #expect(slice["endpoints"]?.arrayValue?.compactMap { $0["addresses"]?.arrayValue?.first?.stringValue } == ["\(webpod1)"])

        // The agent on each node reached the API over the VPC with {{kubeconfig}} and {{apiServer}}.
        for n in lab.topology.nodes {
            let log = (try? String(contentsOfFile: lab.store.directory + "/agent-watcher-\(n.name).log", encoding: .utf8)) ?? ""
            #expect(log.contains("node/node1") && log.contains("node/node2"), "agent on \(n.name): \(log)")
        }

        // The server listens in the API's namespace only; the host has no such listener and no way there.
        let ns = try #require(Lab.apiMember(of: lab.plan))
        #expect(try !Self.listeners(api.address, api.port, in: ns.name).isEmpty)
        #expect(try Self.listeners(api.address, api.port).isEmpty)
        // A node reaches it over the VPC. (No probe from the host: its traffic must stay its own,
        // and its default route may lead off this machine.)
        let curl = ["curl", "-s", "--noproxy", "*", "--max-time", "2", api.url + "/version"]
        #expect(try run(["ip", "netns", "exec", LabNames.namespace(lab: name, member: "node1")] + curl).stdoutText.contains("-netlab"))

        // status shows it; then down stops it and takes its namespace.
        let status = try run([netlabBinary, "status", "--name", name])
        #expect(status.stdoutText.contains("API server \(api.url): running (pid "), "\(status.stdoutText)")
        let server = try #require(lab.store.readJournal().last { $0.kind == .process && $0.name == Lab.apiServerJournalName })
        let pid = try #require(server.pid)
        #expect(isRunning(pid, "apiserver"))
        let down = try run([netlabBinary, "down", "--name", name])
        isDown = true
        #expect(down.succeeded, "\(down.stderrText)")
        #expect(!isRunning(pid, "apiserver"), "the API server outlived its lab")
        #expect(leftovers(of: name).isEmpty)
        let after = try run([netlabBinary, "kubectl", "--name", name, "--", "get", "nodes"])
        #expect(after.termination == .exited(2) && after.stderrText.contains(name), "\(after.stderrText)")
    }

    /// A `run` lab's API server ends with the run, and `clean` kills one that a lab left up (or a
    /// crashed netlab) left behind: it is a journaled process like the others.
    @Test func theAPIServerEndsWithARunAndIsKilledByClean() throws {
        let ran = uniqueLab("t-apirun")
        let r = try run([netlabBinary, "run", "--name", ran], timeout: 120)
        #expect(r.succeeded, "\(r.stdoutText)\(r.stderrText)")
        #expect(try !run(["ps", "-eo", "args"]).stdoutText.contains(LabNames.stateDirectory(lab: ran) + "/"), "a process of the run outlived it")

        let name = uniqueLab("t-apiclean")
        let up = try run([netlabBinary, "up", "--name", name], timeout: 120)
        var cleaned = false
        defer { if !cleaned { _ = try? run([netlabBinary, "down", "--name", name]) } }
        try #require(up.succeeded, "\(up.stderrText)")
        let store = LabStore(lab: name, root: LabNames.stateRoot)
        let server = try #require(store.readJournal().last { $0.kind == .process && $0.name == Lab.apiServerJournalName })
        let pid = try #require(server.pid)
        #expect(isRunning(pid, "apiserver"))
        let clean = try run([netlabBinary, "clean", "--name", name], timeout: 120)
        cleaned = true
        #expect(clean.succeeded, "\(clean.stdoutText)\(clean.stderrText)")
        #expect(!isRunning(pid, "apiserver"), "clean left the API server running")
        #expect(leftovers(of: name).isEmpty)
    }
}}
