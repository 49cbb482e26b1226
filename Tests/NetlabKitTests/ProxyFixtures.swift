import Foundation
import Testing
@testable import NetlabKit

/// The topology of the GKE field report: two nodes in 10.0.0.0/24, pods from 10.32.0.0/14 (a /24
/// per node), and svc-webport, a NodePort 9000→80 on nodePort 30007 selecting app=webpod.
enum ProxyFixtures {
    static let node1 = Node(name: "node1", ip: IPv4Address("10.0.0.37")!, externalIP: IPv4Address("34.47.122.177")!,
                            podCIDR: IPv4Prefix("10.32.0.0/24")!)
    static let node2 = Node(name: "node2", ip: IPv4Address("10.0.0.38")!, externalIP: IPv4Address("34.64.32.222")!,
                            podCIDR: IPv4Prefix("10.32.1.0/24")!)

    static let webport = Service(
        name: "svc-webport", type: .nodePort, clusterIP: IPv4Address("10.36.0.10")!, selector: ["app": "webpod"],
        ports: [ServicePort(name: "svc-webport", port: 9000, targetPort: 80, nodePort: 30007)])

    static func topology(pods: [Pod], services: [Service] = [webport]) -> Topology {
        Topology(source: "test", name: "gke-field-report",
                 vpc: VPC(subnet: IPv4Prefix("10.0.0.0/24")!, gateway: IPv4Address("10.0.0.1")!, mtu: 1460),
                 clusterCIDR: IPv4Prefix("10.32.0.0/14")!, serviceCIDR: IPv4Prefix("10.36.0.0/20")!,
                 external: nil, nodes: [node1, node2], pods: pods, services: services,
                 cni: CNISettings(binDir: "/usr/lib/cni", conflist: .object([:])))
    }

    static let webpod1 = Pod(name: "webpod1", node: "node1", labels: ["app": "webpod"], ports: [ContainerPort(containerPort: 80)])
    static let webpod2 = Pod(name: "webpod2", node: "node2", labels: ["app": "webpod"], ports: [ContainerPort(containerPort: 80)])
    static let pod1 = Pod(name: "pod1", node: "node1")
    static let pod2 = Pod(name: "pod2", node: "node2")

    /// The default lab: webpod1 (10.32.0.3) on node1 is svc-webport's only endpoint.
    static let defaultTopology = topology(pods: [pod1, pod2, webpod1])
    static let defaultIPs: [String: IPv4Address] = [
        "pod1": IPv4Address("10.32.0.5")!, "pod2": IPv4Address("10.32.1.13")!, "webpod1": IPv4Address("10.32.0.3")!,
        "webpod2": IPv4Address("10.32.1.7")!,
    ]

    static func proxyNode(_ n: Node, _ t: Topology = defaultTopology) -> ProxyNode {
        ProxyNode(name: n.name, ip: n.ip, podCIDR: n.podCIDR, clusterCIDR: t.clusterCIDR)
    }

    /// TestOverallIPTablesRules' (and TestOverallNFTablesRules') cluster state, as a List.
    static func upstreamOverallList() throws -> KubeList {
        func svc(_ ns: String, _ name: String, _ ip: String, type: String = "ClusterIP", nodePort: Int? = nil,
                 etp: String? = nil, affinity: Bool = false, extra: String = "", ingress: String? = nil) -> String {
            """
            {"kind":"Service","apiVersion":"v1","metadata":{"name":"\(name)","namespace":"\(ns)"},
             "spec":{"type":"\(type)","clusterIP":"\(ip)",\(etp.map { "\"externalTrafficPolicy\":\"\($0)\"," } ?? "")
             \(affinity ? "\"sessionAffinity\":\"ClientIP\",\"sessionAffinityConfig\":{\"clientIP\":{\"timeoutSeconds\":10800}}," : "")\(extra)
             "ports":[{"name":"p80","port":80,"protocol":"TCP"\(nodePort.map { ",\"nodePort\":\($0)" } ?? "")}]}
             \(ingress.map { ",\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"\($0)\"}]}}" } ?? "")}
            """
        }
        func slice(_ ns: String, _ name: String, _ eps: [(String, String?)]) -> String {
            let endpoints = eps.map { "{\"addresses\":[\"\($0.0)\"]\($0.1.map { ",\"nodeName\":\"\($0)\"" } ?? "")}" }
            return """
            {"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","addressType":"IPv4",
             "metadata":{"name":"\(name)-1","namespace":"\(ns)","labels":{"kubernetes.io/service-name":"\(name)"}},
             "endpoints":[\(endpoints.joined(separator: ","))],"ports":[{"name":"p80","port":80,"protocol":"TCP"}]}
            """
        }
        let items = [
            svc("ns1", "svc1", "172.30.0.41"),
            svc("ns2", "svc2", "172.30.0.42", type: "LoadBalancer", nodePort: 3001, etp: "Local",
                extra: "\"externalIPs\":[\"192.168.99.22\"],\"healthCheckNodePort\":30000,", ingress: "1.2.3.4"),
            svc("ns3", "svc3", "172.30.0.43", type: "NodePort", nodePort: 3003),
            svc("ns4", "svc4", "172.30.0.44", type: "NodePort", extra: "\"externalIPs\":[\"192.168.99.33\"],"),
            // Upstream's stray whitespace in the range, kept.
            svc("ns5", "svc5", "172.30.0.45", type: "LoadBalancer", nodePort: 3002, etp: "Cluster", affinity: true,
                extra: "\"healthCheckNodePort\":30000,\"loadBalancerSourceRanges\":[\" 203.0.113.0/25\"],", ingress: "5.6.7.8"),
            svc("ns6", "svc6", "172.30.0.46"),
            slice("ns1", "svc1", [("10.180.0.1", nil)]),
            slice("ns2", "svc2", [("10.180.0.2", nil)]),
            slice("ns3", "svc3", [("10.180.0.3", nil)]),
            slice("ns4", "svc4", [("10.180.0.4", nil), ("10.180.0.5", "test-node")]),
            slice("ns5", "svc5", [("10.180.0.3", nil)]),
        ]
        return try KubeList.decode(Data("{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":[\(items.joined(separator: ","))]}".utf8))
    }

    static let upstreamNode = ProxyNode(name: "test-node", ip: IPv4Address("192.168.0.2")!, podCIDR: IPv4Prefix("10.0.0.0/24")!,
                                        clusterCIDR: IPv4Prefix("10.0.0.0/8")!)
}

/// Golden files under Tests/NetlabKitTests/Golden. NETLAB_UPDATE_GOLDEN=1 rewrites them in the
/// source tree (then review the diff); otherwise the text must match exactly.
enum Golden {
    static func check(_ actual: String, _ name: String, sourceFile: String = #filePath,
                      sourceLocation: SourceLocation = #_sourceLocation) throws {
        if ProcessInfo.processInfo.environment["NETLAB_UPDATE_GOLDEN"] == "1" {
            let dir = URL(fileURLWithPath: sourceFile).deletingLastPathComponent().appendingPathComponent("Golden")
            let url = dir.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try actual.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let root = try #require(Bundle.module.url(forResource: "Golden", withExtension: nil))
        let expected = try String(contentsOf: root.appendingPathComponent(name), encoding: .utf8)
        #expect(actual == expected, "golden \(name) differs", sourceLocation: sourceLocation)
    }
}
