import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// A LoadBalancer Service with externalTrafficPolicy Local in the default topology (agents):
/// webpod1, its only endpoint, is on node1.
let loadBalancerDefaultYAML: String = {
    let lb = """
    services:
      - name: svc-lb
        type: LoadBalancer
        externalTrafficPolicy: Local
        selector: {app: webpod}
        loadBalancerSourceRanges: [198.51.100.0/24]
        externalIPs: [203.0.113.200]
        ports:
          - {name: http, port: 80, targetPort: 80}
      - name: svc-webport
    """
    precondition(DefaultTopology.yaml.contains("services:\n  - name: svc-webport"))
    return DefaultTopology.yaml.replacingOccurrences(of: "services:\n  - name: svc-webport", with: lb)
}()

/// What the lab owns of a LoadBalancer (root): the Service in its API, and netlab-proxy's
/// health check server on the healthCheckNodePort of every node, 200 where the endpoint is, 503
/// elsewhere and once the endpoint is unready (kube-proxy's service_health.go).
extension Labs { @Suite struct LoadBalancerTests {
    /// `curl -i` from the client's namespace; the response head and body.
    func get(_ lab: Lab, _ url: String) throws -> String {
        let o = try NamespaceProcessRunner(namespace: try lab.namespace("client"))
            .run(argv: ["/usr/bin/curl", "-sS", "-i", "--max-time", "3", url], environment: [:], stdin: Data(), timeout: 10)
        return o.stdoutText + o.stderrText
    }

    @Test func theHealthCheckNodePortAnswersByLocalReadyEndpoints() throws {
        let t = try TopologyLoader.parse(yaml: loadBalancerDefaultYAML, source: DefaultTopology.fileName)
        let svc = try #require(t.services.first { $0.name == "svc-lb" })
        #expect(svc.loadBalancerIP == IPv4Address("203.0.113.100") && svc.ports[0].nodePort == 30000 && svc.healthCheckNodePort == 30001)
        let name = uniqueLab("t-lbhc")
        let lab = try Lab.up(name: name, topology: t, persistent: false)
        defer { try? lab.down() }
        // The lab has no INPUT drop policy: the probe reaches the listener without helper C's ACCEPT rule.
        let input = try NamespaceProcessRunner(namespace: try lab.namespace("node1"))
            .run(argv: ["/usr/sbin/iptables", "-S", "INPUT"], environment: [:], stdin: Data(), timeout: 10)
        #expect(input.stdoutText.hasPrefix("-P INPUT ACCEPT"), "\(input.stdoutText)")

        let node1 = try get(lab, "http://203.0.113.37:30001/")
        #expect(node1.hasPrefix("HTTP/1.1 200 OK"), "\(node1)")
        #expect(node1.contains("Content-Type: application/json") && node1.contains("X-Content-Type-Options: nosniff"), "\(node1)")
        #expect(node1.hasSuffix("{\n\t\"service\": {\n\t\t\"namespace\": \"default\",\n\t\t\"name\": \"svc-lb\"\n\t},\n\t\"localEndpoints\": 1,\n\t\"serviceProxyHealthy\": true\n}"), "\(node1)")
        let node2 = try get(lab, "http://203.0.113.38:30001/healthz")
        #expect(node2.hasPrefix("HTTP/1.1 503 Service Unavailable") && node2.contains("\"localEndpoints\": 0,"), "\(node2)")

        try lab.changeReadiness(unready: ["webpod1"])
        let unready = try get(lab, "http://203.0.113.37:30001/")
        #expect(unready.hasPrefix("HTTP/1.1 503 Service Unavailable") && unready.contains("\"localEndpoints\": 0,"), "\(unready)")

        // kubectl (Debian's, client-go) shows the VIP and the externalIP; the API holds the fields.
        let get = try run([netlabBinary, "kubectl", "--name", name, "--", "get", "svc", "svc-lb"])
        #expect(get.succeeded, "\(get.stderrText)")
        #expect(get.stdoutText.contains("LoadBalancer") && get.stdoutText.contains("203.0.113.100,203.0.113.200")
                && get.stdoutText.contains("80:30000/TCP"), "\(get.stdoutText)")
        let json = try run([netlabBinary, "kubectl", "--name", name, "--", "get", "svc", "svc-lb", "-o", "json"])
        let o = try JSONValue.decode(Data(json.stdoutText.utf8))
        #expect(o[path: ["spec", "healthCheckNodePort"]] == 30001 && o[path: ["spec", "loadBalancerSourceRanges"]] == ["198.51.100.0/24"])

        // A Service deleted through the API closes its port (the agent's next sync).
        let del = try run([netlabBinary, "kubectl", "--name", name, "--", "delete", "svc", "svc-lb"])
        #expect(del.succeeded, "\(del.stderrText)")
        var closed = ""
        for _ in 0..<50 {
            closed = try self.get(lab, "http://203.0.113.37:30001/")
            if closed.contains("Connection refused") || closed.contains("Failed to connect") { break }
            usleep(100_000)
        }
        #expect(closed.contains("Failed to connect") || closed.contains("Connection refused"), "\(closed)")
    }

    /// The gateway routes the VIP to both nodes (ECMP), and the client's packet reaches a node
    /// with the VIP still its destination (passthrough). What the node then does with it is the
    /// proxy's (LoadBalancerEndToEnd.swift).
    @Test func theGatewayRoutesTheVIPToTheNodesKeepingItsDestination() throws {
        func check(_ node: String) -> String {
            """
              - name: vip-at-\(node)
                from: client
                to: svc-lb.loadBalancerIP
                port: 80
                protocol: udp
                timeout: 0.3
                expect:
                  reply: false
                  packets:
                    - at: \(node)/eth0
                      match: {proto: udp, src: client.ip, dst: svc-lb.loadBalancerIP, dport: 80}

            """
        }
        let t = try TopologyLoader.parse(yaml: loadBalancerDefaultYAML + check("node1") + check("node2"), source: DefaultTopology.fileName)
        let lab = try Lab.up(name: uniqueLab("t-lbroute"), topology: t, persistent: false)
        defer { try? lab.down() }
        let gw = try NamespaceProcessRunner(namespace: try lab.namespace("gw"))
            .run(argv: ["/usr/sbin/ip", "-4", "route", "show", "203.0.113.100"], environment: [:], stdin: Data(), timeout: 10)
        let lines = gw.stdoutText.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.first == "203.0.113.100", "\(gw.stdoutText)")
        #expect(lines.contains("nexthop via 10.0.0.37 dev eth0 weight 1") && lines.contains("nexthop via 10.0.0.38 dev eth0 weight 1"), "\(gw.stdoutText)")
        // One flow, one next hop (the L3 hash): the datagram arrives at exactly one node, to the VIP.
        let runner = CheckRunner(lab: lab)
        let arrived = t.checks.filter { $0.name.hasPrefix("vip-at-") }.map { runner.run($0) }
        #expect(arrived.filter(\.passed).count >= 1, "\(arrived.map { RunReport.text(of: $0, verbose: true) })")
    }
} }

