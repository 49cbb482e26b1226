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
