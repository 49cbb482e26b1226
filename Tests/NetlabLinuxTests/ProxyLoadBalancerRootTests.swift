import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// The external-IP, LoadBalancer and source-range rules on the real kernel (root): netlab-proxy's
/// one-shot mode programs node2 of a lab from a List with such Services (the topology cannot say
/// LoadBalancer yet), the kernel takes the rules (iptables-restore, nft -f), and pod2's traffic to
/// the external IP and the VIPs, which node2 sees first, goes where the rules say.
extension Labs { @Suite struct ProxyLoadBalancerRootTests {
    /// svc-ext: external IP 192.0.2.50:8080; svc-lbdeny: VIP 203.0.113.100 open to 198.51.100.0/24
    /// only; svc-lballow: VIP 203.0.113.101 open to the pod range too; all on webpod1 (`ip`),
    /// eTP Local and a health check node port on svc-lbdeny.
    static func list(webpod1 ip: String) -> String {
        func svc(_ name: String, _ clusterIP: String, _ spec: String, vip: String? = nil) -> String {
            """
            {"kind":"Service","apiVersion":"v1","metadata":{"name":"\(name)","namespace":"default"},
             "spec":{\(spec)"clusterIP":"\(clusterIP)","ports":[{"name":"http","port":8080,"protocol":"TCP"}]}
             \(vip.map { ",\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"\($0)\"}]}}" } ?? "")},
            {"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","addressType":"IPv4",
             "metadata":{"name":"\(name)-1","namespace":"default","labels":{"kubernetes.io/service-name":"\(name)"}},
             "endpoints":[{"addresses":["\(ip)"],"nodeName":"node1"}],"ports":[{"name":"http","port":80,"protocol":"TCP"}]}
            """
        }
        let items = [
            svc("svc-ext", "10.36.0.50", "\"type\":\"ClusterIP\",\"externalIPs\":[\"192.0.2.50\"],"),
            svc("svc-lbdeny", "10.36.0.51", "\"type\":\"LoadBalancer\",\"loadBalancerSourceRanges\":[\"198.51.100.0/24\"],", vip: "203.0.113.100"),
            svc("svc-lballow", "10.36.0.52", "\"type\":\"LoadBalancer\",\"loadBalancerSourceRanges\":[\"198.51.100.0/24\",\"10.32.0.0/14\"],", vip: "203.0.113.101"),
        ]
        return "{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":[\(items.joined(separator: ","))]}"
    }

    @Test(arguments: [[String](), ["--proxy-mode", "nftables"]])
    func externalIPsAndLoadBalancerSourceRangesOnTheKernel(flags: [String]) throws {
        let t = try TopologyLoader.parse(yaml: oneShotDefaultYAML, source: DefaultTopology.fileName)
        let lab = try Lab.up(name: uniqueLab("t-pxlb"), topology: t, persistent: false)
        defer { try? lab.down() }
        let webpod1 = try #require(lab.record.pods["webpod1"]).address.address
        try lab.store.writeStateFile("services-lb.json", Data(Self.list(webpod1: "\(webpod1)").utf8))
        let node2 = try #require(t.nodes.first { $0.name == "node2" })
        var env = ProxyContract.environment(node: node2.name, nodeIP: node2.ip, podCIDR: node2.podCIDR, clusterCIDR: t.clusterCIDR,
                                            serviceCIDR: t.serviceCIDR, servicesPath: lab.store.directory + "/services-lb.json")
        env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
        let proxy = try Preflight.proxyProgram(t, tools: lab.tools).get()
        let o = try NamespaceProcessRunner(namespace: try lab.namespace("node2")).run(argv: [proxy] + flags, environment: env,
                                                                                       stdin: Data(), timeout: 60)
        #expect(o.succeeded, "the kernel takes the rules: \(o.stderrText)")

        let pod2 = try lab.namespace("pod2")
        let ext = Probe.http(from: pod2, to: IPv4Address("192.0.2.50")!, port: 8080)
        #expect(ext.serverPod == "webpod1", "external IP: \(ext.failure ?? ext.body)")
        let allowed = Probe.http(from: pod2, to: IPv4Address("203.0.113.101")!, port: 8080)
        #expect(allowed.serverPod == "webpod1", "VIP open to pods: \(allowed.failure ?? allowed.body)")
        // Outside the source ranges: dropped before any DNAT (KUBE-PROXY-FIREWALL / firewall-check).
        let denied = Probe.http(from: pod2, to: IPv4Address("203.0.113.100")!, port: 8080, timeout: 1)
        #expect(denied.status == nil && denied.failure != nil, "\(flags): \(denied.body)")
        #expect(denied.failure?.contains("refused") != true, "dropped, not rejected: \(denied.failure ?? "")")
    }
} }
