import Foundation
import Yams

// Turns the YAML tree into a Topology in three passes: read each section with its types checked
// (keeping partial results), check the cross-references and address plans, then allocate the
// clusterIPs and nodePorts the file leaves open. Partial results let one run report problems in
// every section instead of stopping at the first.
//
// Each section has its file (TopologyBuilder+Network, +Nodes, +Pods, +Services, +CNI, +Proxy,
// +Agents, +API, +Checks); allocation is pure (Allocation.swift).

final class TopologyBuilder {
    let r: YAMLReader
    let source: String
    let readFile: (String) throws -> String
    /// The file's text, for locating problems inside a block scalar (a matrix's truth table).
    let text: String
    let keys = TopologyLoader.allowedKeys

    init(reader: YAMLReader, source: String, text: String = "", readFile: @escaping (String) throws -> String) {
        self.r = reader; self.source = source; self.text = text; self.readFile = readFile
    }

    // Section results, nil where the file was wrong (already reported).
    var name = ""
    var subnet: Located<IPv4Prefix>?
    var vpcGateway: IPv4Address?
    var mtu = TopologyLoader.defaultVPCMTU
    var routing = VPC.Routing.podRanges
    var overlay: Overlay?
    var shape = Topology.Shape.vpcNative
    var shapeLocation: YAMLLocation?
    var proxyModeLocation: YAMLLocation?
    var apiTLSLocation: YAMLLocation?
    var clusterCIDR: Located<IPv4Prefix>?
    var serviceCIDR: Located<IPv4Prefix>?
    var serviceCIDRIsDefault = false
    var externalDeclared = false
    var external: External?
    /// The IPv6 halves of the dual-stack values (TopologyBuilder+DualStack); nil in a single-stack file.
    var subnetV6: Located<IPv6Prefix>?
    var vpcGatewayV6: IPv6Address?
    var clusterCIDRv6: Located<IPv6Prefix>?
    var serviceCIDRv6: Located<IPv6Prefix>?
    /// Whether vpc.subnet was read (nil when it was wrong): it decides the topology's families.
    var vpcFamilies: [IPFamily]?
    var nodes: [PartialNode] = []
    var pods: [PartialPod] = []
    var services: [PartialService] = []
    var cni: CNISettings?
    var proxy = ProxySettings()
    var agents: [Agent] = []
    var api: APIEndpoint?
    var checks: [Check] = []
    /// Every reference and member name in the checks, with its place, checked once the topology
    /// is assembled (references need the nodes, pods and services).
    var checkRefs: [(ref: Ref, loc: YAMLLocation, kind: LabFacts.ValueKind, what: String)] = []
    var checkMembers: [CheckMember] = []
    /// Agents that faults name, checked once the agents are read.
    var faultAgents: [(node: String, agent: String, loc: YAMLLocation, what: String)] = []

    func build(_ root: YNode) -> Topology? {
        guard let top = r.fields(root, "the topology file", allowed: keys[""]!) else { return nil }
        readName(top)
        readShape(top)
        readVPC(top)
        readOverlay(top)
        readRanges(top)
        readExternal(top)
        checkShape(top)
        checkDualStackShape(top)
        readNodes(top)
        readPods(top)
        readServices(top)
        readAPI(top)
        checkKubernetesService()
        readCNI(top)
        readProxy(top)
        readAgents(top)
        checkProxyMode()
        checkAPITLS()
        readChecks(top)
        guard r.diagnostics.isEmpty else { return nil }
        return assemble()
    }

    /// The item's `name:` if it is a string, so messages about the item can name it even before
    /// its keys are checked.
    func peekName(_ item: YNode) -> String? {
        guard case .mapping(let m) = item else { return nil }
        for (k, v) in m where k.scalar?.string == "name" {
            if case .scalar(let s) = v, v.tagName == .str { return s.string }
        }
        return nil
    }

    /// Only called when no diagnostics were reported, so every required value is present.
    func assemble() -> Topology? {
        guard let subnet, let vpcGateway, let clusterCIDR, let serviceCIDR, let cni else { return nil }
        var outNodes: [Node] = []
        for n in nodes {
            guard let name = n.name, let ip = n.ip, let podCIDR = n.podCIDR else { return nil }
            outNodes.append(Node(name: name.value, ip: ip.value, externalIP: n.externalIP?.value, podCIDR: podCIDR.value,
                                 ipv6: n.ipv6?.value, podCIDRv6: n.podCIDRv6?.value))
        }
        var outPods: [Pod] = []
        for p in pods {
            guard let name = p.name, let node = p.node else { return nil }
            var ports: [ContainerPort] = []
            for cp in p.ports {
                guard let c = cp.containerPort else { return nil }
                ports.append(ContainerPort(containerPort: c.value, hostPort: cp.hostPort?.value, proto: cp.proto))
            }
            outPods.append(Pod(name: name.value, node: node.value, namespace: p.namespace, labels: p.labels, ports: ports))
        }
        var outServices: [Service] = []
        for s in services {
            guard let name = s.name, let clusterIP = s.clusterIP else { return nil }
            var ports: [ServicePort] = []
            for sp in s.ports {
                guard let port = sp.port else { return nil }
                ports.append(ServicePort(name: sp.name?.value, port: port.value, targetPort: sp.targetPort?.value ?? port.value,
                                         nodePort: s.type.hasNodePorts ? sp.nodePort?.value : nil, proto: sp.proto))
            }
            outServices.append(Service(name: name.value, namespace: s.namespace, type: s.type, clusterIP: clusterIP.value,
                                       selector: s.selector, ports: ports, externalTrafficPolicy: s.externalTrafficPolicy,
                                       internalTrafficPolicy: s.internalTrafficPolicy, ipFamilyPolicy: s.ipFamilyPolicy,
                                       clusterIPv6: s.clusterIPv6?.value, loadBalancerIP: s.lb.loadBalancerIP?.value,
                                       loadBalancerSourceRanges: s.lb.sourceRanges, externalIPs: s.lb.externalIPs.map(\.value),
                                       healthCheckNodePort: s.lb.healthCheckNodePort?.value, sessionAffinity: s.sessionAffinity,
                                       sessionAffinityTimeout: s.sessionAffinityTimeout))
        }
        let vpc = VPC(subnet: subnet.value, gateway: vpcGateway, mtu: mtu, routing: routing, subnetV6: subnetV6?.value, gatewayV6: vpcGatewayV6)
        let topology = Topology(source: source, name: name, vpc: vpc,
                        clusterCIDR: clusterCIDR.value, serviceCIDR: serviceCIDR.value, external: external,
                        nodes: outNodes, pods: outPods, services: outServices, cni: cni, proxy: proxy, agents: agents, api: api, checks: checks, shape: shape,
                        overlay: overlay, clusterCIDRv6: clusterCIDRv6?.value, serviceCIDRv6: serviceCIDRv6?.value)
        validateChecks(in: topology)
        validateFaultAgents(in: topology)
        return topology
    }
}
