import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// `api: {tls: true}` (root): the lab's API serves HTTPS with a CA and a token made for this lab,
/// which its kubeconfig carries; kubectl on a node and `netlab kubectl` use it; a request without
/// the token is refused; and netlab's own changes (a check's unready:) still reach the API, on the
/// plain listener of its namespace's loopback, which no node reaches.
extension Labs { @Suite struct LabAPITLSTests {
    @Test func aTLSLabServesHTTPSWithItsOwnCAAndToken() throws {
        let dir = try TemporaryDirectory()
        let file = dir.path + "/topology.yaml"
        // The default checks and one that takes webpod1 out of service, then the API and an agent.
        try (oneShotDefaultYAML + ProxyAgentTests.unreadyCheck + """
        api:
          tls: true
        """ + LabAPITests.agentYAML).write(toFile: file, atomically: true, encoding: .utf8)
        let t = try TopologyLoader.load(path: file)
        #expect(t.api.tls && t.api.url.hasPrefix("https://"))
        let lab = try Lab.up(name: uniqueLab("t-apitls"), topology: t, persistent: false)
        defer { try? lab.down() }

        // The agent's kubectl on each node verified the lab's CA and sent its token (its log lists the nodes).
        for n in t.nodes {
            let log = (try? String(contentsOfFile: lab.store.directory + "/agent-watcher-\(n.name).log", encoding: .utf8)) ?? ""
            #expect(log.contains("node/node1") && log.contains("node/node2"), "agent on \(n.name): \(log)")
        }
        let get = try run([netlabBinary, "kubectl", "--name", lab.name, "--", "get", "nodes", "-o", "name"])
        #expect(get.succeeded && get.stdoutText.contains("node/node2"), "\(get.stderrText)")
        let kubeconfig = try String(contentsOfFile: lab.kubeconfigPath, encoding: .utf8)
        #expect(kubeconfig.contains("server: \(t.api.url)") && kubeconfig.contains("certificate-authority-data: ") && kubeconfig.contains("token: "))

        // From a node: the CA verifies the server; no token is refused; the plain listener is not there.
        let node1 = LabNames.namespace(lab: lab.name, member: "node1")
        let ca = lab.store.directory + "/" + Lab.apiCAFile
        func curl(_ args: [String]) throws -> ProcessOutcome {
            try run(["ip", "netns", "exec", node1, "curl", "-sS", "--noproxy", "*", "--max-time", "3"] + args)
        }
        let anonymous = try curl(["--cacert", ca, "-o", "/dev/null", "-w", "%{http_code}", t.api.url + "/api/v1/nodes"])
        #expect(anonymous.stdoutText == "403", "\(anonymous.stdoutText) \(anonymous.stderrText)")
        let wrong = try curl(["--cacert", ca, "-H", "Authorization: Bearer nope", "-o", "/dev/null", "-w", "%{http_code}", t.api.url + "/api/v1/nodes"])
        #expect(wrong.stdoutText == "401", "\(wrong.stdoutText) \(wrong.stderrText)")
        #expect(try !curl([t.api.url.replacingOccurrences(of: "https:", with: "http:") + "/version"]).stdoutText.contains("netlab"))
        #expect(try !curl(["http://\(t.api.address):\(APIEndpoint.localPort)/version"]).succeeded)
        let ns = try #require(Lab.apiMember(of: lab.plan))
        #expect(try !LabAPITests.listeners(IPv4Address("127.0.0.1")!, APIEndpoint.localPort, in: ns.name).isEmpty)

        // netlab's own change goes through: the endpoint is unready for the check, ready after it.
        let runner = CheckRunner(lab: lab)
        let r = runner.run(try #require(t.checks.first { $0.name == "no-ready-endpoints" }))
        #expect(r.passed, "\(RunReport.text(of: r, verbose: true))")
        #expect(runner.run(try #require(t.checks.first { $0.name == "nodeport-remote" })).passed)
        for f in [Lab.apiCAKeyFile, Lab.apiKeyFile, Lab.apiTokensFile, Lab.kubeconfigFile] {
            var st = stat()
            #expect(lstat(lab.store.directory + "/" + f, &st) == 0 && st.st_mode & 0o777 == 0o600 && st.st_uid == 0, "\(f)")
        }
    }
} }
