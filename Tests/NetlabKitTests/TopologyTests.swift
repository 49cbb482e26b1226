import Foundation
import Testing
@testable import NetlabKit

/// A small valid topology; tests append YAML from line 13 on, so expected line numbers are easy
/// to read off.
let baseTopology = """
vpc:
  subnet: 10.0.0.0/24
clusterCIDR: 10.32.0.0/14
cni:
  conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: ptp}]}
nodes:
  - name: node1
    ip: 10.0.0.37
    podCIDR: 10.32.0.0/24
  - name: node2
    ip: 10.0.0.38
    podCIDR: 10.32.1.0/24

"""

/// The diagnostics of a topology that must fail, as `file:line:col: message` lines.
func diagnostics(_ yaml: String, source: String = "t.yaml",
                 readFile: (String) throws -> String = { throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: $0]) },
                 sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
    do {
        let t = try TopologyLoader.parse(yaml: yaml, source: source, readFile: readFile)
        Issue.record("expected the topology to be rejected, but it loaded: \(t)", sourceLocation: sourceLocation)
        return []
    } catch let error as TopologyError {
        return error.diagnostics.map(\.description)
    } catch {
        Issue.record("expected a TopologyError, got \(error)", sourceLocation: sourceLocation)
        return []
    }
}

/// Repository root, for the files under topologies/ (tests run from anywhere).
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite struct DefaultTopologyTests {
    @Test func loadsToTheFieldReportValues() throws {
        let t = try TopologyLoader.parse(yaml: DefaultTopology.yaml, source: "topologies/gke-vpc-native.yaml")
        #expect(t.name == "gke-vpc-native")
        #expect(t.vpc == VPC(subnet: IPv4Prefix("10.0.0.0/24")!, gateway: IPv4Address("10.0.0.1")!, mtu: 1460))
        #expect(t.clusterCIDR == IPv4Prefix("10.32.0.0/14")!)
        #expect(t.serviceCIDR == IPv4Prefix("10.36.0.0/20")!)
        #expect(t.external == External(clientIP: IPv4Prefix("198.51.100.10/24")!, gatewayIP: IPv4Address("198.51.100.1")!))
        #expect(t.nodes == [
            Node(name: "node1", ip: IPv4Address("10.0.0.37")!, externalIP: IPv4Address("203.0.113.37")!, podCIDR: IPv4Prefix("10.32.0.0/24")!),
            Node(name: "node2", ip: IPv4Address("10.0.0.38")!, externalIP: IPv4Address("203.0.113.38")!, podCIDR: IPv4Prefix("10.32.1.0/24")!),
        ])
        #expect(t.pods == [
            Pod(name: "pod1", node: "node1"),
            Pod(name: "webpod1", node: "node1", labels: ["app": "webpod"], ports: [ContainerPort(containerPort: 80, proto: .tcp)]),
            Pod(name: "pod2", node: "node2"),
        ])
        #expect(t.services == [
            Service(name: "svc-webport", type: .nodePort, clusterIP: IPv4Address("10.36.0.10")!, selector: ["app": "webpod"],
                    ports: [ServicePort(name: "svc-webport", port: 9000, targetPort: 80, nodePort: 30007, proto: .tcp)]),
        ])
        #expect(t.cni.binDir == "/usr/lib/cni")
        // The report's conflist, key for key, with the node's subnet as a placeholder.
        let expected = try JSONValue.decode(Data("""
        {"name": "k8s-pod-network", "cniVersion": "0.3.1", "plugins": [
          {"type": "ptp", "mtu": 1460,
           "ipam": {"type": "host-local", "subnet": "{{podCIDR}}", "routes": [{"dst": "0.0.0.0/0"}]}},
          {"type": "portmap", "capabilities": {"portMappings": true}}]}
        """.utf8))
        #expect(t.cni.conflist == expected)
        #expect(DefaultTopology.load() == TopologyLoader.parse(yamlOrNil: DefaultTopology.yaml, source: DefaultTopology.fileName))
    }

    @Test func fileIsIdenticalToTheEmbeddedString() throws {
        let url = repoRoot.appendingPathComponent("topologies").appendingPathComponent(DefaultTopology.fileName)
        let file = try Data(contentsOf: url)
        #expect(file == Data(DefaultTopology.yaml.utf8), "topologies/\(DefaultTopology.fileName) and DefaultTopology.yaml have drifted apart")
    }

}

extension TopologyLoader {
    static func parse(yamlOrNil yaml: String, source: String) -> Topology? { try? parse(yaml: yaml, source: source) }
}

@Suite struct TopologyDefaultsTests {
    @Test func omittedKeysGetTheirDocumentedDefaults() throws {
        let t = try TopologyLoader.parse(yaml: baseTopology, source: "labs/small.yaml")
        #expect(t.name == "small")
        #expect(t.vpc.gateway == IPv4Address("10.0.0.1")!)
        #expect(t.vpc.mtu == 1500)
        #expect(t.serviceCIDR == IPv4Prefix("10.96.0.0/16")!)
        #expect(t.external == nil)
        #expect(t.pods.isEmpty && t.services.isEmpty)
        #expect(t.cni.binDir == "/usr/lib/cni")
    }

    @Test func externalGatewayDefaultsToTheFirstHostOfTheClientSubnet() throws {
        let t = try TopologyLoader.parse(yaml: baseTopology + "external: {client: 192.0.2.50/26}\n", source: "t.yaml")
        #expect(t.external == External(clientIP: IPv4Prefix("192.0.2.50/26")!, gatewayIP: IPv4Address("192.0.2.1")!))
    }

    @Test func podAndServiceDefaults() throws {
        let t = try TopologyLoader.parse(yaml: baseTopology + """
        pods:
          - {name: a, node: node2, namespace: shop, ports: [{containerPort: 53, protocol: UDP, hostPort: 5353}]}
        services:
          - name: dns
            namespace: shop
            internalTrafficPolicy: Local
            ports: [{port: 53, protocol: UDP}]

        """, source: "t.yaml")
        #expect(t.pods == [Pod(name: "a", node: "node2", namespace: "shop", ports: [ContainerPort(containerPort: 53, hostPort: 5353, proto: .udp)])])
        #expect(t.services == [Service(name: "dns", namespace: "shop", type: .clusterIP, clusterIP: IPv4Address("10.96.0.10")!, selector: [:],
                                       ports: [ServicePort(port: 53, targetPort: 53, proto: .udp)], internalTrafficPolicy: .local)])
    }

    @Test func errorDescriptionIsOneLinePerDiagnostic() {
        let e = TopologyError(diagnostics: [
            .init(file: "topology.yaml", line: 14, column: 5, message: "first"),
            .init(file: "topology.yaml", line: 0, column: 0, message: "whole file"),
        ])
        #expect(e.description == "topology.yaml:14:5: first\ntopology.yaml: whole file")
    }
}

@Suite struct TopologySyntaxAndTypeTests {
    @Test func yamlSyntaxErrorsAreLocated() {
        #expect(diagnostics("vpc:\n  subnet: [10.0.0.0/24\nclusterCIDR: 10.32.0.0/14\n") == [
            "t.yaml:3:12: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 11); fix the YAML here (check indentation, the ':' after each key, and matching quotes and brackets)",
        ])
        #expect(diagnostics("vpc:\n  subnet: 10.0.0.0/24\n  subnet: 10.1.0.0/24\n") == [
            "t.yaml:2:3: key 'subnet' appears more than once in the same mapping; keep only one (YAML would silently drop all but one)",
        ])
        #expect(diagnostics("") == ["t.yaml: the topology file is empty; it needs at least vpc, clusterCIDR, nodes and cni (start from gke-vpc-native.yaml)"])
    }

    @Test func wrongTypesSayWhatWasFoundAndWhatIsExpected() {
        let yaml = """
        vpc:
          subnet: 10.0.0.0/24
          mtu: "1460"
        clusterCIDR: {ipv4: 10.32.0.0/14}
        cni:
          conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: ptp}]}
        nodes:
          name: node1
        pods:
          - name: 123
            node: node1
            labels: [app]

        """
        #expect(diagnostics(yaml) == [
            "t.yaml:3:8: vpc.mtu must be a whole number in 576-9000, not the string '1460'; remove the quotes",
            "t.yaml:4:14: clusterCIDR must be a string like 10.32.0.0/14, not a mapping",
            "t.yaml:8:3: nodes must be a list (lines starting with '- ', each a node with name, ip and podCIDR), not a mapping",
            "t.yaml:10:11: pods[0] name must be a string like webpod1, not the number 123; if you meant the text 123, put it in quotes: \"123\"",
            "t.yaml:11:11: pods[0] names node 'node1', which does not exist (nodes: )",
            "t.yaml:12:13: pods[0] labels must be a mapping of label names to values like {app: webpod}, not a list",
        ])
        #expect(diagnostics("- vpc\n") == [
            "t.yaml:1:1: the topology file must be a mapping (key: value lines) with keys name, vpc, clusterCIDR, serviceCIDR, external, nodes, pods, services, cni, proxy, agents, api, checks, shape, overlay, not a list",
        ])
    }

    @Test func missingRequiredKeys() {
        #expect(diagnostics("name: lab\n") == [
            "t.yaml:1:1: the topology file is missing required key 'vpc' (a mapping with subnet, and optionally gateway and mtu)",
            "t.yaml:1:1: the topology file is missing required key 'clusterCIDR' (the pods' IPv4 range like 10.32.0.0/14; every node's podCIDR lies in it)",
            "t.yaml:1:1: the topology file is missing required key 'nodes' (a list of nodes, each with name, ip and podCIDR)",
            "t.yaml:1:1: the topology file is missing required key 'cni' (a mapping with conflist (inline) or conflistFile, and optionally binDir)",
        ])
        #expect(diagnostics(baseTopology + "  - name: node3\n    podCIDR: 10.32.2.0/24\nservices:\n  - name: s\n    ports:\n") == [
            "t.yaml:13:5: node 'node3' is missing required key 'ip' (the node's address in vpc.subnet like 10.0.0.37)",
            "t.yaml:17:5: service 's' has no value for 'ports'; expected a list of ports like [{port: 9000, targetPort: 80}]",
        ])
    }

    @Test func unknownKeysListTheAllowedOnesAndSuggestTheClosest() {
        #expect(diagnostics(baseTopology + "    podCidr: 10.32.1.0/24\nprxy: {}\nproxy: {mod: iptables}\nchecks: [anything]\n") == [
            "t.yaml:13:5: node 'node2' has unknown key 'podCidr' (did you mean 'podCIDR'?); allowed keys: name, ip, externalIP, podCIDR",
            "t.yaml:14:1: the topology file has unknown key 'prxy' (did you mean 'proxy'?); allowed keys: name, vpc, clusterCIDR, serviceCIDR, external, nodes, pods, services, cni, proxy, agents, api, checks, shape, overlay",
            "t.yaml:15:9: proxy has unknown key 'mod' (did you mean 'mode'?); allowed keys: mode, command, timeoutSeconds",
            "t.yaml:16:10: checks[0] must be a mapping (key: value lines) with keys name, description, flows, matrix, from, to, port, protocol, expect, capture, unready, timeout, eventually, proxyMode, size, dontFragment, faults, count, consistently, changes, stream, not the string 'anything'",
        ])
        #expect(diagnostics(baseTopology + "proxy: {command: [], timeoutSeconds: 0}\n") == [
            "t.yaml:13:18: proxy.command is empty; give the proxy's argv, e.g. [netlab-proxy] or [./my-proxy, --flag]",
            "t.yaml:13:38: proxy.timeoutSeconds 0 is outside 1-3600",
        ])
        #expect(diagnostics(baseTopology + "pods:\n  - {name: a, node: node1, image: nginx}\n") == [
            "t.yaml:14:28: pod 'a' has unknown key 'image'; allowed keys: name, node, namespace, labels, ports",
        ])
    }
}

@Suite struct TopologyNameAndReferenceTests {
    @Test func duplicateNames() {
        let yaml = baseTopology + """
          - name: node1
            ip: 10.0.0.39
            podCIDR: 10.32.2.0/24
        pods:
          - {name: web, node: node1}
          - {name: web, node: node2}
          - {name: node2, node: node2}
          - {name: gw, node: node2}
        services:
          - {name: svc, ports: [{port: 80}]}
          - {name: svc, ports: [{port: 81}]}
          - {name: svc, namespace: other, ports: [{port: 82}]}

        """
        #expect(diagnostics(yaml) == [
            "t.yaml:13:11: node name 'node1' is already used by the node at line 7; give every node a unique name",
            "t.yaml:18:12: pod name 'web' is already used by the pod at line 17; every pod becomes a network namespace, so give each a unique name",
            "t.yaml:19:12: pod name 'node2' is also the name of a node (line 10); pods and nodes are both network namespaces, so pick another pod name",
            "t.yaml:20:12: pod name 'gw' is reserved for netlab's own namespaces (vpc, gw, client, api); pick another name such as gw-pod",
            "t.yaml:23:12: service name 'svc' is already used in namespace 'default' by the service at line 22; give each service a unique name",
        ])
        #expect(diagnostics(baseTopology.replacingOccurrences(of: "name: node2", with: "name: vpc")) == [
            "t.yaml:10:11: node name 'vpc' is reserved for netlab's own namespaces (vpc, gw, client, api); pick another name such as node-vpc",
        ])
    }

    @Test func unknownReferences() {
        #expect(diagnostics(baseTopology + "pods:\n  - name: web\n    node: node3\n  - name: db\n    node: nod1\n", source: "topology.yaml") == [
            "topology.yaml:15:11: pod 'web' names node 'node3', which does not exist (nodes: node1, node2)",
            "topology.yaml:17:11: pod 'db' names node 'nod1', which does not exist (nodes: node1, node2); did you mean 'node1'?",
        ])
        let withExternalIP = baseTopology.replacingOccurrences(of: "    ip: 10.0.0.38\n", with: "    ip: 10.0.0.38\n    externalIP: 203.0.113.38\n")
        #expect(diagnostics(withExternalIP) == [
            "t.yaml:12:17: node 'node2' has externalIP 203.0.113.38 but the file has no 'external' block; add external (client and gateway) so something can reach it, or remove externalIP",
        ])
        // With `external`, the same file loads and the address is kept.
        let t = try? TopologyLoader.parse(yaml: withExternalIP + "external: {client: 198.51.100.10/24}\n", source: "t.yaml")
        #expect(t?.node(named: "node2")?.externalIP == IPv4Address("203.0.113.38"))
    }

    @Test func namesThatCannotBecomeNamespacesOrInterfaces() {
        let yaml = baseTopology.replacingOccurrences(of: "name: node1", with: "name: node-with-long-name")
            .replacingOccurrences(of: "name: node2", with: "name: Node_2") + """
        pods:
          - {name: ../x, node: node-with-long-name}
          - {name: -a, node: node-with-long-name}
        services:
          - {name: Svc_Web, ports: [{port: 80}]}

        """
        #expect(diagnostics(yaml) == [
            "t.yaml:7:11: node name 'node-with-long-name' cannot be used: it names a network namespace and a Linux interface, so it must be at most 15 lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. 'node-with-long')",
            "t.yaml:10:11: node name 'Node_2' cannot be used: it names a network namespace and a Linux interface, so it must be at most 15 lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. 'node-2')",
            "t.yaml:14:12: pod name '../x' is not a valid DNS-1123 label: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. 'x')",
            "t.yaml:15:12: pod name '-a' is not a valid DNS-1123 label: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. 'a')",
            "t.yaml:17:12: service name 'Svc_Web' is not a valid DNS-1123 label: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. 'svc-web')",
        ])
        // 15 characters is the limit, not 14.
        #expect((try? TopologyLoader.parse(yaml: baseTopology.replacingOccurrences(of: "node1", with: "node-0123456789"), source: "t.yaml")) != nil)
    }
}

@Suite struct TopologyAddressTests {
    @Test func prefixesMustBePrefixesWithoutHostBits() {
        let yaml = """
        vpc:
          subnet: 10.0.0.0
          gateway: 10.0.0.1/24
        clusterCIDR: 10.33.0.0/14
        serviceCIDR: 10.36.0.0/33
        cni:
          conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: ptp}]}
        nodes:
          - {name: node1, ip: 10.0.0.300, podCIDR: 10.32.0.1/24}

        """
        #expect(diagnostics(yaml) == [
            "t.yaml:2:11: vpc.subnet '10.0.0.0' is not an IPv4 prefix; expected an IPv4 prefix like 10.0.0.0/24 (the /length is missing)",
            "t.yaml:3:12: vpc.gateway '10.0.0.1/24' is not an IPv4 address; expected an address like 10.0.0.1 (without a /prefix length)",
            "t.yaml:4:14: clusterCIDR 10.33.0.0/14 has host bits set; write the network address 10.32.0.0/14",
            "t.yaml:5:14: serviceCIDR '10.36.0.0/33' is not an IPv4 prefix; expected an IPv4 prefix like 10.36.0.0/20",
            "t.yaml:9:23: node 'node1' ip '10.0.0.300' is not an IPv4 address; expected an address like 10.0.0.37",
            "t.yaml:9:44: node 'node1' podCIDR 10.32.0.1/24 has host bits set; write the network address 10.32.0.0/24",
        ])
    }

    @Test func podCIDRsMustFitTheClusterAndNotOverlap() {
        let yaml = """
        vpc: {subnet: 10.0.0.0/24}
        clusterCIDR: 10.32.0.0/14
        serviceCIDR: 10.34.0.0/16
        cni: {conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: ptp}]}}
        nodes:
          - {name: n1, ip: 10.0.0.2, podCIDR: 10.32.0.0/24}
          - {name: n2, ip: 10.0.0.3, podCIDR: 10.32.0.0/23}
          - {name: n3, ip: 10.0.0.4, podCIDR: 10.40.0.0/24}
          - {name: n4, ip: 10.0.0.5, podCIDR: 10.34.1.0/24}
          - {name: n5, ip: 10.0.0.6, podCIDR: 10.32.4.0/31}

        """
        #expect(diagnostics(yaml) == [
            "t.yaml:3:14: serviceCIDR 10.34.0.0/16 overlaps clusterCIDR 10.32.0.0/14; service and pod addresses must be distinct, pick a range that overlaps neither",
            "t.yaml:7:39: node 'n2' podCIDR 10.32.0.0/23 overlaps podCIDR 10.32.0.0/24 of node 'n1' (line 6); give each node its own range",
            "t.yaml:8:39: node 'n3' podCIDR 10.40.0.0/24 is outside clusterCIDR 10.32.0.0/14; pick a range inside it, e.g. 10.32.0.0/24",
            "t.yaml:9:39: node 'n4' podCIDR 10.34.1.0/24 overlaps serviceCIDR 10.34.0.0/16; pod and service addresses must be distinct",
            "t.yaml:10:39: node 'n5' podCIDR 10.32.4.0/31 is too small to hold any pod (host-local keeps the network, gateway and broadcast addresses); use a /30 or larger, e.g. /24",
        ])
    }

    @Test func nodeIPsMustBeUsableUniqueVPCAddresses() {
        let yaml = """
        vpc: {subnet: 10.0.0.0/24, gateway: 10.0.0.254}
        clusterCIDR: 10.32.0.0/14
        cni: {conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: ptp}]}}
        nodes:
          - {name: n1, ip: 10.0.1.2, podCIDR: 10.32.0.0/24}
          - {name: n2, ip: 10.0.0.254, podCIDR: 10.32.1.0/24}
          - {name: n3, ip: 10.0.0.0, podCIDR: 10.32.2.0/24}
          - {name: n4, ip: 10.0.0.255, podCIDR: 10.32.3.0/24}
          - {name: n5, ip: 10.0.0.7, podCIDR: 10.32.4.0/24}
          - {name: n6, ip: 10.0.0.7, podCIDR: 10.32.5.0/24}

        """
        #expect(diagnostics(yaml) == [
            "t.yaml:5:20: node 'n1' ip 10.0.1.2 is outside vpc.subnet 10.0.0.0/24; use an address from 10.0.0.1 to 10.0.0.254",
            "t.yaml:6:20: node 'n2' ip 10.0.0.254 is the VPC gateway's address; give the node another address in 10.0.0.0/24",
            "t.yaml:7:20: node 'n3' ip 10.0.0.0 is the network address of vpc.subnet 10.0.0.0/24; use an address from 10.0.0.1 to 10.0.0.254",
            "t.yaml:8:20: node 'n4' ip 10.0.0.255 is the broadcast address of vpc.subnet 10.0.0.0/24; use an address from 10.0.0.1 to 10.0.0.254",
            "t.yaml:10:20: node 'n6' ip 10.0.0.7 is already the ip of node 'n5' (line 9); every node needs its own address",
        ])
    }

    @Test func externalAddresses() {
        let yaml = baseTopology.replacingOccurrences(of: "    ip: 10.0.0.38\n", with: "    ip: 10.0.0.38\n    externalIP: 203.0.113.7\n")
            .replacingOccurrences(of: "    ip: 10.0.0.37\n", with: "    ip: 10.0.0.37\n    externalIP: 203.0.113.7\n")
            + "external:\n  client: 203.0.113.10/24\n"
        #expect(diagnostics(yaml) == [
            "t.yaml:9:17: node 'node1' externalIP 203.0.113.7 lies in the client's subnet 203.0.113.0/24, so the client would look for it on its own link instead of going through the gateway; pick an address outside it (e.g. 203.0.113.37)",
            "t.yaml:13:17: node 'node2' externalIP 203.0.113.7 lies in the client's subnet 203.0.113.0/24, so the client would look for it on its own link instead of going through the gateway; pick an address outside it (e.g. 203.0.113.37)",
            "t.yaml:13:17: node 'node2' externalIP 203.0.113.7 is already the externalIP of node 'node1' (line 9); the gateway maps each external address to one node",
        ])
        #expect(diagnostics(baseTopology + "external:\n  client: 203.0.113.1/24\n") == [
            "t.yaml:14:11: external.client 203.0.113.1 is the first host of 203.0.113.0/24, which is also the default gateway; set external.gateway or pick another client address",
        ])
        #expect(diagnostics(baseTopology + "external:\n") == [
            "t.yaml:13:1: external is empty; give it client (e.g. 198.51.100.10/24) or remove the key",
        ])
        #expect(diagnostics(baseTopology + "external: {client: 10.0.0.200/24, gateway: 10.0.0.200}\n") == [
            "t.yaml:13:20: external.client subnet 10.0.0.0/24 overlaps vpc.subnet 10.0.0.0/24; the client stands for the internet, so give it an address outside the cluster's ranges (e.g. 198.51.100.10/24)",
            "t.yaml:13:44: external.gateway 10.0.0.200 is the client's own address; the gateway needs a different address in 10.0.0.0/24",
        ])
    }
}

@Suite struct TopologyPortAndServiceTests {
    @Test func portNumbersAndNodePortRules() {
        let yaml = baseTopology + """
        pods:
          - name: web
            node: node1
            ports: [{containerPort: 0}, {containerPort: 80, hostPort: 65536}, {containerPort: 80}]
        services:
          - name: a
            ports: [{port: 80, targetPort: 70000, nodePort: 30080}]
          - name: b
            type: NodePort
            ports: [{port: 80, nodePort: 29999}]
          - name: c
            type: NodePort
            ports: [{name: x, port: 80, nodePort: 30100}, {name: y, port: 81, nodePort: 30100, protocol: UDP}]
          - name: d
            type: NodePort
            ports: [{port: 80, nodePort: 30100}]

        """
        #expect(diagnostics(yaml) == [
            "t.yaml:16:29: pod 'web' ports[0] containerPort 0 is outside 1-65535",
            "t.yaml:16:63: pod 'web' ports[1] hostPort 65536 is outside 1-65535",
            "t.yaml:16:87: pod 'web' lists containerPort 80/TCP twice (first at line 16); remove one",
            "t.yaml:19:36: service 'a' ports[0] targetPort 70000 is outside 1-65535",
            "t.yaml:19:53: service 'a' ports[0] sets nodePort but service 'a' is a ClusterIP service; set type: NodePort on the service or remove nodePort",
            "t.yaml:22:34: service 'b' ports[0] nodePort 29999 is outside 30000-32767, the node port range; pick one inside it or leave nodePort out to get one allocated",
            "t.yaml:28:34: service 'd' nodePort 30100/TCP is already used by service 'c' (line 25); pick another nodePort or leave it out to get one allocated",
        ])
    }

    @Test func hostPortsConflictPerNode() {
        let yaml = baseTopology + """
        pods:
          - {name: a, node: node1, ports: [{containerPort: 80, hostPort: 8080}]}
          - {name: b, node: node2, ports: [{containerPort: 80, hostPort: 8080}]}
          - {name: c, node: node1, ports: [{containerPort: 81, hostPort: 8080}]}

        """
        #expect(diagnostics(yaml) == [
            "t.yaml:16:66: pod 'c' asks for hostPort 8080/TCP on node 'node1', which pod 'a' already has (line 14); pick another hostPort or node",
        ])
    }

    @Test func serviceRules() {
        let yaml = baseTopology + """
        services:
          - name: a
            externalTrafficPolicy: Local
            type: Loadbalancer
            ports: [{port: 80}]
          - name: b
            externalTrafficPolicy: Local
            ports: [{port: 80}, {port: 80, name: web}]
          - name: c
            clusterIP: 10.96.0.10
            ports: [{port: 80}]
          - name: d
            clusterIP: 10.96.0.10
            ports: []

        """
        #expect(diagnostics(yaml) == [
            "t.yaml:16:11: service 'a' type 'Loadbalancer' is not one of ClusterIP, NodePort, LoadBalancer (did you mean 'LoadBalancer'?)",
            "t.yaml:19:28: service 'b' sets externalTrafficPolicy but is a ClusterIP service, which receives no external traffic; set type: NodePort or LoadBalancer, or remove externalTrafficPolicy",
            "t.yaml:20:13: service 'b' ports[0] has no name, but service 'b' has 2 ports and then every port needs a name (e.g. name: http)",
            "t.yaml:20:32: service 'b' lists port 80/TCP twice (first at line 20); each port and protocol may appear once",
            "t.yaml:25:16: service 'd' clusterIP 10.96.0.10 is already the clusterIP of service 'c' (line 22); give each service its own address or leave clusterIP out to get one allocated",
            "t.yaml:26:12: service 'd' ports is empty; list at least one port like {port: 9000, targetPort: 80}",
        ])
    }

    @Test func clusterIPsMustLieInTheServiceCIDR() {
        #expect(diagnostics(baseTopology + "serviceCIDR: 10.36.0.0/20\nservices:\n  - {name: a, clusterIP: 10.96.0.10, ports: [{port: 80}]}\n  - {name: b, clusterIP: 10.36.15.255, ports: [{port: 80}]}\n") == [
            "t.yaml:15:26: service 'a' clusterIP 10.96.0.10 is outside serviceCIDR 10.36.0.0/20; use an address from 10.36.0.1 to 10.36.15.254",
            "t.yaml:16:26: service 'b' clusterIP 10.36.15.255 is the broadcast address of serviceCIDR 10.36.0.0/20; use an address from 10.36.0.1 to 10.36.15.254",
        ])
    }

    @Test func clusterIPAndNodePortAllocationIsDeterministic() throws {
        let yaml = baseTopology + """
        services:
          - {name: a, type: NodePort, ports: [{port: 80}]}
          - {name: b, type: NodePort, ports: [{name: x, port: 80}, {name: y, port: 81, nodePort: 30001}]}
          - {name: c, clusterIP: 10.96.0.11, ports: [{port: 80}]}
          - {name: d, clusterIP: 10.96.0.3, type: NodePort, ports: [{port: 80, protocol: UDP}]}
          - {name: e, ports: [{port: 80}]}

        """
        let t = try TopologyLoader.parse(yaml: yaml, source: "t.yaml")
        // Explicit addresses anywhere in the file are skipped; the rest count up from .10 in file order.
        #expect(t.services.map(\.clusterIP.description) == ["10.96.0.10", "10.96.0.12", "10.96.0.11", "10.96.0.3", "10.96.0.13"])
        #expect(t.services.map { $0.ports.map(\.nodePort) } == [[30000], [30002, 30001], [nil], [30003], [nil]])
        // The same file gives the same result every time.
        #expect(try TopologyLoader.parse(yaml: yaml, source: "t.yaml") == t)
    }

    @Test func exhaustedRanges() {
        // /30: host-local hands out only .2, so the second pod does not fit.
        let pods = baseTopology.replacingOccurrences(of: "10.32.1.0/24", with: "10.32.1.0/30") + """
        pods:
          - {name: a, node: node2}
          - {name: b, node: node1}
          - {name: c, node: node2}
          - {name: d, node: node2}

        """
        #expect(diagnostics(pods) == [
            "t.yaml:16:21: node 'node2' has 3 pods but its podCIDR 10.32.1.0/30 holds only 1 (host-local hands out 10.32.1.2 to 10.32.1.2; 10.32.1.1 is the pods' gateway), so pod 'c' and later ones do not fit; use a /29 podCIDR or move pods to another node",
        ])
        // /28: automatic clusterIPs are .10 to .14 (5 addresses); .12 is taken explicitly.
        var services = baseTopology + "serviceCIDR: 10.96.0.0/28\nservices:\n  - {name: pinned, clusterIP: 10.96.0.12, ports: [{port: 80}]}\n"
        for i in 0..<6 { services += "  - {name: s\(i), ports: [{port: 80}]}\n" }
        #expect(diagnostics(services) == [
            "t.yaml:20:5: no free clusterIP left in serviceCIDR 10.96.0.0/28 for service 's4' and 1 later service(s) (automatic addresses: 10.96.0.10 to 10.96.0.14); use a larger serviceCIDR or give these services a clusterIP",
        ])
        // Every node port taken explicitly, then one more NodePort service.
        var nodePorts = baseTopology + "services:\n  - name: all\n    type: NodePort\n    ports:\n"
        for p in TopologyLoader.nodePortRange { nodePorts += "      - {name: p\(p), port: \(p), nodePort: \(p)}\n" }
        nodePorts += "  - {name: one-more, type: NodePort, ports: [{port: 80}]}\n"
        let line = 13 + 4 + TopologyLoader.nodePortRange.count
        #expect(diagnostics(nodePorts) == [
            "t.yaml:\(line):46: no free nodePort left for service 'one-more' ports[0]: all of 30000-32767 are taken; use fewer NodePort services or ports",
        ])
    }
}

@Suite struct TopologyCNITests {
    @Test func inlineConflistKeepsEveryKeyWithJSONTypes() throws {
        let yaml = baseTopology.replacingOccurrences(of: "  conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: ptp}]}\n", with: """
          binDir: /opt/cni/bin
          conflist:
            cniVersion: 0.4.0
            name: net
            plugins:
              - type: bridge
                mtu: 1460
                hairpinMode: true
                ratio: 0.5
                nothing: ~
                when: 2024-01-02
                ipam: {type: host-local, ranges: [[{subnet: "{{podCIDR}}"}]]}

        """)
        let t = try TopologyLoader.parse(yaml: yaml, source: "t.yaml")
        #expect(t.cni.binDir == "/opt/cni/bin")
        let expected = try JSONValue.decode(Data("""
        {"cniVersion": "0.4.0", "name": "net", "plugins": [{"type": "bridge", "mtu": 1460, "hairpinMode": true, "ratio": 0.5,
          "nothing": null, "when": "2024-01-02", "ipam": {"type": "host-local", "ranges": [[{"subnet": "{{podCIDR}}"}]]}}]}
        """.utf8))
        #expect(t.cni.conflist == expected)
        #expect(t.cni.conflist["plugins"]?.arrayValue?.first?["mtu"]?.intValue == 1460)
    }

    @Test func conflistStructureIsChecked() {
        let conflist = "  conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: ptp}]}\n"
        func with(_ replacement: String) -> String { baseTopology.replacingOccurrences(of: conflist, with: replacement) }
        #expect(diagnostics(with("  conflist: {cniVersion: 1e3, plugins: [{type: ptp}, {mtu: 1}, {type: 7}]}\n")) == [
            "t.yaml:5:13: cni.conflist is missing 'name'; add it, e.g. name: \"k8s-pod-network\"",
            "t.yaml:5:26: cni.conflist.cniVersion 1e3 is a YAML number that does not read back as a version; quote it, e.g. cniVersion: \"0.3.1\"",
            "t.yaml:5:54: cni.conflist plugins[1] has no 'type'; name the plugin binary, e.g. type: ptp",
            "t.yaml:5:71: cni.conflist plugins[2].type must be the name of a plugin binary in binDir such as \"ptp\"",
        ])
        #expect(diagnostics(with("  conflist: [ptp]\n  binDir: cni\n")) == [
            "t.yaml:5:13: cni.conflist must be an object with cniVersion, name and plugins (a network configuration list)",
            "t.yaml:6:11: cni.binDir 'cni' must be an absolute path like /usr/lib/cni (plugins are started from other namespaces and directories)",
        ])
        #expect(diagnostics(with(conflist + "  conflistFile: x.conflist\n")) == [
            "t.yaml:6:3: cni has both 'conflist' and 'conflistFile'; keep exactly one",
        ])
        #expect(diagnostics(with("  binDir: /usr/lib/cni\n")) == [
            "t.yaml:5:3: cni needs exactly one of 'conflist' (the network configuration list written inline) or 'conflistFile' (a JSON file next to the topology file); neither is given",
        ])
    }

    /// What `up` would refuse when it reads the conflist, `topology validate` refuses first, at the line.
    @Test func conflistRulesOfTheRuntimeAreValidationErrors() {
        let conflist = "  conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: ptp}]}\n"
        func with(_ replacement: String) -> String { baseTopology.replacingOccurrences(of: conflist, with: replacement) }
        #expect(diagnostics(with("  conflist: {cniVersion: \"9.9.9\", name: net, plugins: [{type: ptp}]}\n")) == [
            "t.yaml:5:26: cni.conflist: cniVersion \"9.9.9\" is not supported; netlab supports \"0.3.0\", \"0.3.1\", \"0.4.0\", \"1.0.0\", \"1.1.0\"",
        ])
        #expect(diagnostics(with("  conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: ptp, ipam: {type: ../../bin/sh}}]}\n")) == [
            "t.yaml:5:79: cni.conflist: plugins[0] (ptp): ipam type \"../../bin/sh\" must be a plain plugin name (letters, digits, '_', '.', '-', starting with a letter or digit), not a path",
        ])
        #expect(diagnostics(with("  conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: ptp}, {type: \"-x\"}]}\n")) == [
            "t.yaml:5:74: cni.conflist: plugins[1] type \"-x\" must be a plain plugin name (letters, digits, '_', '.', '-', starting with a letter or digit), not a path",
        ])
        #expect(diagnostics(with("  conflist: {cniVersion: 0.3.1, name: \"my net\", plugins: [{type: ptp}]}\n")).count == 1)
        #expect(diagnostics(with("  conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: \"pt p\"}]}\n")).count == 1)
    }

    /// A capture point the lab will not have is found before any namespace is made. Nodes may have
    /// links their CNI plugins make (cni0, a VTEP), so only the name's form is checked there.
    @Test func checkInterfacesMustExistInTheLab() {
        let check = """
        pods:
          - {name: pod1, node: node1}
        external: {client: 198.51.100.10/24}
        checks:
          - name: c
            from: pod1
            to: node2.ip
            protocol: icmp
            capture: [pod1/eth1, vpc/br0, client/eth0, node1/cni0]
            expect:
              packets:
                - at: gw/eth9
                  match: {icmp: echo-request}

        """
        #expect(diagnostics(baseTopology + check) == [
            "t.yaml:21:15: check 'c' capture names interface 'eth1' of 'pod1', which it will not have (its interfaces: lo, eth0)",
            "t.yaml:24:15: check 'c' expect.packets[0] at names interface 'eth9' of 'gw', which it will not have (its interfaces: lo, eth0, eth1)",
        ])
        let tooLong = (baseTopology + check).replacingOccurrences(of: "node1/cni0", with: "node1/this-is-far-too-long")
        #expect(diagnostics(tooLong).first == "t.yaml:21:48: check 'c' capture 'node1/this-is-far-too-long' must name an interface as member/interface, like node1/eth0 or webpod1/eth0")
    }

    /// What a check's member must be depends on where the check names it: a probe cannot start
    /// in the VPC, serverPod and unready name pods, and an interface's member may be any member.
    @Test func checkMembersAreJudgedByWhatTheyAreFor() {
        let check = """
        pods:
          - {name: pod1, node: node1}
        external: {client: 198.51.100.10/24}
        checks:
          - name: c
            from: vpc
            to: node2.ip
            protocol: http
            port: 80
            capture: [vpc/br0]
            unready: [gw]
            expect:
              serverPod: node1

        """
        #expect(diagnostics(baseTopology + check) == [
            "t.yaml:18:11: check 'c' from cannot be vpc: the VPC is a bridge without addresses; start from a pod, a node, client or gw",
            "t.yaml:23:15: check 'c' unready names 'gw', which is not a pod",
            "t.yaml:25:18: check 'c' expect.serverPod names 'node1', which is not a pod",
        ])
    }

    /// `eventually:` reads durations as Kubernetes writes them, or seconds, within its range.
    @Test func eventuallyIsADurationWithinItsWindow() throws {
        func check(_ value: String) -> String {
            baseTopology + """
            pods:
              - {name: pod1, node: node1}
            checks:
              - name: c
                from: pod1
                to: node2.ip
                protocol: icmp
                eventually: \(value)
                expect: {reply: true}

            """
        }
        for (text, seconds) in [("5s", 5.0), ("500ms", 0.5), ("1m", 60), ("1.5s", 1.5), ("2", 2), ("0.25", 0.25)] {
            let t = try TopologyLoader.parse(yaml: check(text), source: "t.yaml")
            #expect(t.checks.first?.eventuallySeconds == seconds, "\(text)")
        }
        let t = try TopologyLoader.parse(yaml: check("5s").replacingOccurrences(of: "    eventually: 5s\n", with: ""), source: "t.yaml")
        #expect(t.checks.first?.eventuallySeconds == nil)
        #expect(diagnostics(check("5 seconds")) == ["t.yaml:20:17: check 'c' eventually '5 seconds' is not a duration; write it like 5s, 500ms or 1m"])
        #expect(diagnostics(check("-1s")) == ["t.yaml:20:17: check 'c' eventually '-1s' is not a duration; write it like 5s, 500ms or 1m"])
        #expect(diagnostics(check("10m")) == ["t.yaml:20:17: check 'c' eventually is 10m; it must be from 100ms to 5m"])
        #expect(diagnostics(check("0")) == ["t.yaml:20:17: check 'c' eventually is 0 seconds; it must be from 100ms to 5m"])
        #expect(diagnostics(check("[5s]")).first?.hasPrefix("t.yaml:20:17: check 'c' eventually must be") == true)
    }

    @Test func vpcRoutingIsPodRangesByDefaultOrNone() throws {
        #expect(try TopologyLoader.parse(yaml: baseTopology, source: "t.yaml").vpc.routing == .podRanges)
        let none = baseTopology.replacingOccurrences(of: "  subnet: 10.0.0.0/24\n", with: "  subnet: 10.0.0.0/24\n  routing: none\n")
        #expect(try TopologyLoader.parse(yaml: none, source: "t.yaml").vpc.routing == VPC.Routing.none)
        #expect(diagnostics(none.replacingOccurrences(of: "routing: none", with: "routing: bgp")) == [
            "t.yaml:3:12: vpc.routing 'bgp' is not one of podRanges, none: podRanges routes every node's podCIDR to it (VPC-native), none leaves the pod ranges to the agents",
        ])
    }

    @Test func conflistFileIsResolvedNextToTheTopologyFile() throws {
        let yaml = baseTopology.replacingOccurrences(of: "  conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: ptp}]}\n",
                                                     with: "  conflistFile: cni/gke.conflist\n")
        let json = #"{"cniVersion": "0.3.1", "name": "k8s-pod-network", "plugins": [{"type": "ptp", "mtu": 1460, "ipMasq": false}]}"#
        var asked: [String] = []
        let t = try TopologyLoader.parse(yaml: yaml, source: "/etc/netlab/lab.yaml") { asked.append($0); return json }
        #expect(asked == ["/etc/netlab/cni/gke.conflist"])
        #expect(t.cni.conflist == (try JSONValue.decode(Data(json.utf8))))

        asked = []
        _ = try TopologyLoader.parse(yaml: yaml, source: "lab.yaml") { asked.append($0); return json }
        #expect(asked == ["cni/gke.conflist"])
        asked = []
        _ = try TopologyLoader.parse(yaml: yaml.replacingOccurrences(of: "cni/gke.conflist", with: "/srv/gke.conflist"),
                                     source: "labs/lab.yaml") { asked.append($0); return json }
        #expect(asked == ["/srv/gke.conflist"])
    }

    @Test func conflistFileProblemsPointAtTheConflistFileLine() {
        let yaml = baseTopology.replacingOccurrences(of: "  conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: ptp}]}\n",
                                                     with: "  conflistFile: gke.conflist\n")
        let unreadable = diagnostics(yaml, source: "labs/lab.yaml")
        #expect(unreadable.count == 1)
        #expect(unreadable.first?.hasPrefix("labs/lab.yaml:5:17: cannot read cni.conflistFile 'gke.conflist' (labs/gke.conflist): ") == true)
        #expect(unreadable.first?.hasSuffix("; the path is relative to the topology file's directory") == true)

        let notJSON = diagnostics(yaml, source: "labs/lab.yaml", readFile: { _ in "{\"name\": " })
        #expect(notJSON.count == 1)
        #expect(notJSON.first?.hasPrefix("labs/lab.yaml:5:17: cni.conflistFile 'gke.conflist' (labs/gke.conflist) is not valid JSON (") == true)

        #expect(diagnostics(yaml, source: "lab.yaml", readFile: { _ in #"{"cniVersion": 1.0, "name": "n", "plugins": []}"# }) == [
            "lab.yaml:5:17: the conflist in 'gke.conflist' 'cniVersion' must be a non-empty string like \"0.3.1\"",
            "lab.yaml:5:17: the conflist in 'gke.conflist' 'plugins' must be a non-empty list of plugin objects, each with a 'type' such as ptp",
        ])
    }
}

@Suite struct TopologyScaleTests {
    @Test func anyNumberOfNodesAndPodsLoads() throws {
        var yaml = """
        vpc: {subnet: 10.0.0.0/24}
        clusterCIDR: 10.32.0.0/14
        cni: {conflist: {cniVersion: 1.0.0, name: net, plugins: [{type: ptp}]}}
        nodes:

        """
        for n in 1...5 { yaml += "  - {name: node\(n), ip: 10.0.0.\(10 + n), podCIDR: 10.32.\(n).0/24}\n" }
        yaml += "pods:\n"
        for p in 0..<600 { yaml += "  - {name: pod\(p), node: node\(p % 5 + 1), labels: {app: app\(p % 7)}}\n" }
        yaml += "services:\n"
        for s in 0..<7 { yaml += "  - {name: svc\(s), type: NodePort, selector: {app: app\(s)}, ports: [{port: 80}]}\n" }
        let t = try TopologyLoader.parse(yaml: yaml, source: "big.yaml")
        #expect(t.nodes.count == 5)
        #expect(t.pods.count == 600)
        #expect(t.pods(on: "node3").count == 120)
        #expect(t.services.map { $0.ports[0].nodePort } == (30000..<30007).map { $0 })
        #expect(t.services.last?.clusterIP == IPv4Address("10.96.0.16"))
    }
}
