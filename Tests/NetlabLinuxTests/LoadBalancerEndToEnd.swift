import Foundation
import Testing
@testable import NetlabKit
@testable import NetlabLinux

// A LoadBalancer end to end: gw's passthrough routes to the nodes, netlab-proxy's KUBE-EXT-*/KUBE-FW-*
// rules for LB IPs, externalIPs and loadBalancerSourceRanges; without those rules the node has no
// rule for the VIP and the probe times out.

/// The default topology with an externalTrafficPolicy Cluster LoadBalancer (every node forwards,
/// so the gateway's ECMP choice of node does not matter) whose source ranges are `ranges`.
func loadBalancerEndToEndYAML(ranges: String) -> String {
    let svc = """
    services:
      - name: svc-lbc
        type: LoadBalancer
        selector: {app: webpod}
        loadBalancerSourceRanges: \(ranges)
        externalIPs: [203.0.113.200]
        ports:
          - {name: http, port: 80, targetPort: 80}
      - name: svc-webport
    """
    let checks = """
      - name: vip-answered
        from: client
        to: svc-lbc.loadBalancerIP
        port: 80
        protocol: http
        timeout: 1
        expect: {reply: true, status: 200, serverPod: webpod1}
      - name: external-ip-answered
        from: client
        to: svc-lbc.externalIP
        port: 80
        protocol: http
        timeout: 1
        expect: {reply: true, status: 200, serverPod: webpod1}

    """
    return DefaultTopology.yaml.replacingOccurrences(of: "services:\n  - name: svc-webport", with: svc) + checks
}

extension Labs { @Suite struct LoadBalancerEndToEnd {
    @Test func theVIPAndTheExternalIPAreAnsweredByThePod() throws {
        let t = try TopologyLoader.parse(yaml: loadBalancerEndToEndYAML(ranges: "[198.51.100.0/24]"), source: DefaultTopology.fileName)
        let lab = try Lab.up(name: uniqueLab("t-lbe2e"), topology: t, persistent: false)
        defer { try? lab.down() }
        let runner = CheckRunner(lab: lab)
        for name in ["vip-answered", "external-ip-answered"] {
            let r = runner.run(try #require(t.checks.first { $0.name == name }))
            #expect(r.passed, "\(RunReport.text(of: r, verbose: true))")
        }
    }

    /// A client outside loadBalancerSourceRanges is dropped at the node (KUBE-PROXY-FIREWALL):
    /// the same check fails, with nothing answering; externalIPs have no source ranges.
    @Test func aSourceOutsideTheRangesIsDropped() throws {
        let t = try TopologyLoader.parse(yaml: loadBalancerEndToEndYAML(ranges: "[192.0.2.0/24]"), source: DefaultTopology.fileName)
        let lab = try Lab.up(name: uniqueLab("t-lbe2efw"), topology: t, persistent: false)
        defer { try? lab.down() }
        let runner = CheckRunner(lab: lab)
        let vip = runner.run(try #require(t.checks.first { $0.name == "vip-answered" }))
        #expect(!vip.passed && vip.probe?.status == nil, "\(RunReport.text(of: vip, verbose: true))")
        let ext = runner.run(try #require(t.checks.first { $0.name == "external-ip-answered" }))
        #expect(ext.passed, "\(RunReport.text(of: ext, verbose: true))")
    }
} }
