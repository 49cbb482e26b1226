import Foundation
import Yams

// Turns the YAML tree into a Topology in three passes: read each section with its types checked
// (keeping partial results), check the cross-references and address plans, then allocate the
// clusterIPs and nodePorts the file leaves open. Partial results let one run report problems in
// every section instead of stopping at the first.

private struct PartialNode {
    var label: String
    var loc: YAMLLocation
    var name: Located<String>?
    var ip: Located<IPv4Address>?
    var externalIP: Located<IPv4Address>?
    var podCIDR: Located<IPv4Prefix>?
}

private struct PartialContainerPort {
    var containerPort: Located<Int>?
    var hostPort: Located<Int>?
    var proto: L4Protocol
}

private struct PartialPod {
    var label: String
    var loc: YAMLLocation
    var name: Located<String>?
    var node: Located<String>?
    var namespace: String
    var labels: [String: String]
    var ports: [PartialContainerPort]
}

private struct PartialServicePort {
    var loc: YAMLLocation
    var name: Located<String>?
    var port: Located<Int>?
    var targetPort: Located<Int>?
    var nodePort: Located<Int>?
    var proto: L4Protocol
}

private struct PartialService {
    var label: String
    var loc: YAMLLocation
    var name: Located<String>?
    var namespace: String
    var type: ServiceType
    /// False when `type:` was given but invalid (already reported): type-dependent checks are skipped.
    var typeKnown: Bool
    var clusterIP: Located<IPv4Address>?
    var selector: [String: String]
    var externalTrafficPolicy: TrafficPolicy
    var internalTrafficPolicy: TrafficPolicy
    var ports: [PartialServicePort]
}

/// A member a check names, and what for: what it must be depends on that, not on the message.
struct CheckMember {
    enum Use: Hashable {
        /// `from`: the probe starts there.
        case source
        /// `capture`, `expect.packets[].at`: one of its interfaces.
        case interface(String)
        /// `expect.serverPod`, `unready`: it must be a pod.
        case pod
    }
    var member: String
    var use: Use
    var loc: YAMLLocation
    /// "check 'c' capture", for messages.
    var what: String
}

final class TopologyBuilder {
    private let r: YAMLReader
    private let source: String
    private let readFile: (String) throws -> String
    private let keys = TopologyLoader.allowedKeys

    init(reader: YAMLReader, source: String, readFile: @escaping (String) throws -> String) {
        self.r = reader; self.source = source; self.readFile = readFile
    }

    // Section results, nil where the file was wrong (already reported).
    private var name = ""
    private var subnet: Located<IPv4Prefix>?
    private var vpcGateway: IPv4Address?
    private var mtu = TopologyLoader.defaultVPCMTU
    private var clusterCIDR: Located<IPv4Prefix>?
    private var serviceCIDR: Located<IPv4Prefix>?
    private var serviceCIDRIsDefault = false
    private var externalDeclared = false
    private var external: External?
    private var nodes: [PartialNode] = []
    private var pods: [PartialPod] = []
    private var services: [PartialService] = []
    private var cni: CNISettings?
    private var proxy = ProxySettings()
    private var checks: [Check] = []
    /// Every reference and member name in the checks, with its place, checked once the topology
    /// is assembled (references need the nodes, pods and services).
    private var checkRefs: [(ref: Ref, loc: YAMLLocation, kind: LabFacts.ValueKind, what: String)] = []
    private var checkMembers: [CheckMember] = []

    func build(_ root: YNode) -> Topology? {
        guard let top = r.fields(root, "the topology file", allowed: keys[""]!) else { return nil }
        readName(top)
        readVPC(top)
        readRanges(top)
        readExternal(top)
        readNodes(top)
        readPods(top)
        readServices(top)
        readCNI(top)
        readProxy(top)
        readChecks(top)
        guard r.diagnostics.isEmpty else { return nil }
        return assemble()
    }

    // MARK: - Top level

    private func readName(_ top: Fields) {
        name = defaultTopologyName(source)
        guard let n = top.optional("name"), let s = r.string(n, "name", example: "gke-vpc-native") else { return }
        if s.value.trimmingCharacters(in: .whitespaces).isEmpty {
            r.error(s.loc, "name is blank; give the topology a name like gke-vpc-native or remove the key to use the file name")
        } else {
            name = s.value
        }
    }

    private func readVPC(_ top: Fields) {
        guard let node = top.required("vpc", expected: "a mapping with subnet, and optionally gateway and mtu"),
              let vpc = r.fields(node, "vpc", allowed: keys["vpc"]!) else { return }
        if let n = vpc.required("subnet", expected: "the VPC's IPv4 prefix like 10.0.0.0/24"),
           let s = r.prefix(n, "vpc.subnet", example: "10.0.0.0/24", network: true) {
            if s.value.length > 30 {
                r.error(s.loc, "vpc.subnet \(s.value) is too small: it needs room for the gateway and at least one node; use a /30 or larger, e.g. /24")
            } else {
                subnet = s
            }
        }
        let gateway = vpc.optional("gateway").flatMap { r.address($0, "vpc.gateway", example: "10.0.0.1") }
        if let subnet {
            if let gateway {
                if checkHost(gateway, in: subnet.value, what: "vpc.gateway", rangeName: "vpc.subnet") { vpcGateway = gateway.value }
            } else {
                vpcGateway = subnet.value.first.advanced(by: 1)
            }
        }
        if let n = vpc.optional("mtu"), let m = r.int(n, "vpc.mtu", range: TopologyLoader.vpcMTURange) { mtu = m.value }
    }

    /// True when `a` is a usable host of `prefix`: inside it and not its network or broadcast address.
    private func checkHost(_ a: Located<IPv4Address>, in prefix: IPv4Prefix, what: String, rangeName: String) -> Bool {
        guard prefix.contains(a.value) else {
            r.error(a.loc, "\(what) \(a.value) is outside \(rangeName) \(prefix); use an address from \(prefix.first.advanced(by: 1)) to \(prefix.last.advanced(by: -1))")
            return false
        }
        if prefix.length <= 30 && (a.value == prefix.first || a.value == prefix.last) {
            let which = a.value == prefix.first ? "network" : "broadcast"
            r.error(a.loc, "\(what) \(a.value) is the \(which) address of \(rangeName) \(prefix); use an address from \(prefix.first.advanced(by: 1)) to \(prefix.last.advanced(by: -1))")
            return false
        }
        return true
    }

    private func readRanges(_ top: Fields) {
        if let n = top.required("clusterCIDR", expected: "the pods' IPv4 range like 10.32.0.0/14; every node's podCIDR lies in it") {
            clusterCIDR = r.prefix(n, "clusterCIDR", example: "10.32.0.0/14", network: true)
        }
        if let n = top.optional("serviceCIDR") {
            serviceCIDR = r.prefix(n, "serviceCIDR", example: "10.36.0.0/20", network: true)
        } else {
            serviceCIDRIsDefault = true
            serviceCIDR = Located(value: TopologyLoader.defaultServiceCIDR, loc: top.loc)
        }
        guard let svc = serviceCIDR else { return }
        // With the default range there is no serviceCIDR line to point at, so point at the range it collides with.
        let shown = serviceCIDRIsDefault ? "the default serviceCIDR \(svc.value) (used because the file sets none)" : "serviceCIDR \(svc.value)"
        let fix = serviceCIDRIsDefault ? "set serviceCIDR to a free range" : "pick a range that overlaps neither"
        if let cluster = clusterCIDR, svc.value.overlaps(cluster.value) {
            r.error(serviceCIDRIsDefault ? cluster.loc : svc.loc, "\(shown) overlaps clusterCIDR \(cluster.value); service and pod addresses must be distinct, \(fix)")
        }
        if let subnet, svc.value.overlaps(subnet.value) {
            r.error(serviceCIDRIsDefault ? subnet.loc : svc.loc, "\(shown) overlaps vpc.subnet \(subnet.value); service addresses must not be VPC addresses, \(fix)")
        }
    }

    private func readExternal(_ top: Fields) {
        externalDeclared = top.entries["external"] != nil
        guard let node = top.optional("external"),
              let ext = r.fields(node, "external", allowed: keys["external"]!) else {
            if let e = top.entries["external"], e.value.isNull {
                r.error(e.key.location, "external is empty; give it client (e.g. 198.51.100.10/24) or remove the key")
            }
            return
        }
        guard let cn = ext.required("client", expected: "the client's address with its prefix, like 198.51.100.10/24"),
              let client = r.prefix(cn, "external.client", example: "198.51.100.10/24", network: false) else { return }
        let net = client.value.network
        var ok = true
        if client.value.length > 30 {
            r.error(client.loc, "external.client \(client.value) leaves no room for the gateway in its subnet; use a /30 or shorter prefix, e.g. /24")
            return
        }
        if client.value.address == net.first || client.value.address == net.last {
            r.error(client.loc, "external.client \(client.value) is the \(client.value.address == net.first ? "network" : "broadcast") address of its subnet \(net); use a host address such as \(net.first.advanced(by: 10))/\(net.length)")
            ok = false
        }
        let ranges: [(String, Located<IPv4Prefix>?)] = [("vpc.subnet", subnet), ("clusterCIDR", clusterCIDR), ("serviceCIDR", serviceCIDR)]
        for (rangeName, range) in ranges {
            if let range, range.value.overlaps(net) {
                r.error(client.loc, "external.client subnet \(net) overlaps \(rangeName) \(range.value); the client stands for the internet, so give it an address outside the cluster's ranges (e.g. 198.51.100.10/24)")
                ok = false
            }
        }
        var gateway = net.first.advanced(by: 1)
        if let gn = ext.optional("gateway") {
            guard let g = r.address(gn, "external.gateway", example: net.first.advanced(by: 1).description) else { return }
            guard checkHost(g, in: net, what: "external.gateway", rangeName: "the client's subnet") else { return }
            if g.value == client.value.address {
                r.error(g.loc, "external.gateway \(g.value) is the client's own address; the gateway needs a different address in \(net)")
                return
            }
            gateway = g.value
        } else if gateway == client.value.address {
            r.error(client.loc, "external.client \(client.value.address) is the first host of \(net), which is also the default gateway; set external.gateway or pick another client address")
            return
        }
        if ok { external = External(clientIP: client.value, gatewayIP: gateway) }
    }

    // MARK: - Nodes

    /// The item's `name:` if it is a string, so messages about the item can name it even before
    /// its keys are checked.
    private func peekName(_ item: YNode) -> String? {
        guard case .mapping(let m) = item else { return nil }
        for (k, v) in m where k.scalar?.string == "name" {
            if case .scalar(let s) = v, v.tagName == .str { return s.string }
        }
        return nil
    }

    private func readNodes(_ top: Fields) {
        guard let list = top.required("nodes", expected: "a list of nodes, each with name, ip and podCIDR"),
              let items = r.sequence(list, "nodes", itemExample: "a node with name, ip and podCIDR") else { return }
        if items.isEmpty {
            r.error(list.location, "nodes is empty; list at least one node with name, ip and podCIDR")
        }
        var byName: [String: YAMLLocation] = [:]
        var byIP: [IPv4Address: (String, YAMLLocation)] = [:]
        var byExternalIP: [IPv4Address: (String, YAMLLocation)] = [:]
        var accepted: [PartialNode] = []
        for (i, item) in items.enumerated() {
            let label = peekName(item).map { "node '\($0)'" } ?? "nodes[\(i)]"
            guard let f = r.fields(item, label, allowed: keys["nodes[]"]!) else { continue }
            var node = PartialNode(label: label, loc: f.loc)
            if let n = f.required("name", expected: "the node's name like node1"), let s = r.string(n, "\(label) name", example: "node1") {
                node.name = s
                checkNodeName(s)
                if let first = byName[s.value] {
                    r.error(s.loc, "node name '\(s.value)' is already used by the node at \(first); give every node a unique name")
                } else {
                    byName[s.value] = s.loc
                }
            }
            if let n = f.required("ip", expected: "the node's address in vpc.subnet like 10.0.0.37"),
               let ip = r.address(n, "\(label) ip", example: "10.0.0.37") {
                node.ip = ip
                if let subnet, checkHost(ip, in: subnet.value, what: "\(label) ip", rangeName: "vpc.subnet") {
                    if ip.value == vpcGateway {
                        r.error(ip.loc, "\(label) ip \(ip.value) is the VPC gateway's address; give the node another address in \(subnet.value)")
                    }
                }
                if let (other, loc) = byIP[ip.value] {
                    r.error(ip.loc, "\(label) ip \(ip.value) is already the ip of \(other) (\(loc)); every node needs its own address")
                } else {
                    byIP[ip.value] = (label, ip.loc)
                }
            }
            if let n = f.optional("externalIP"), let ext = r.address(n, "\(label) externalIP", example: "203.0.113.37") {
                node.externalIP = ext
                checkExternalIP(ext, label: label)
                if let (other, loc) = byExternalIP[ext.value] {
                    r.error(ext.loc, "\(label) externalIP \(ext.value) is already the externalIP of \(other) (\(loc)); the gateway maps each external address to one node")
                } else {
                    byExternalIP[ext.value] = (label, ext.loc)
                }
            }
            if let n = f.required("podCIDR", expected: "the node's pod range inside clusterCIDR like 10.32.0.0/24"),
               let p = r.prefix(n, "\(label) podCIDR", example: "10.32.0.0/24", network: true) {
                node.podCIDR = p
                checkPodCIDR(p, label: label, others: accepted)
            }
            accepted.append(node)
        }
        nodes = accepted
    }

    private func checkNodeName(_ s: Located<String>) {
        let max = TopologyLoader.maxNodeNameLength
        if !isDNSLabel(s.value, maxLength: max) {
            var message = "node name '\(s.value)' cannot be used: it names a network namespace and a Linux interface, so it must be at most \(max) lowercase letters, digits and '-', starting and ending with a letter or digit"
            if let fix = sanitizedLabel(s.value, maxLength: max) { message += " (e.g. '\(fix)')" }
            r.error(s.loc, message)
        } else if TopologyLoader.reservedNames.contains(s.value) {
            r.error(s.loc, "node name '\(s.value)' is reserved for netlab's own namespaces (\(TopologyLoader.reservedNames.joined(separator: ", "))); pick another name such as node-\(s.value)")
        }
    }

    private func checkExternalIP(_ ext: Located<IPv4Address>, label: String) {
        guard externalDeclared else {
            r.error(ext.loc, "\(label) has externalIP \(ext.value) but the file has no 'external' block; add external (client and gateway) so something can reach it, or remove externalIP")
            return
        }
        let ranges: [(String, Located<IPv4Prefix>?)] = [("vpc.subnet", subnet), ("clusterCIDR", clusterCIDR), ("serviceCIDR", serviceCIDR)]
        for (rangeName, range) in ranges {
            if let range, range.value.contains(ext.value) {
                r.error(ext.loc, "\(label) externalIP \(ext.value) lies in \(rangeName) \(range.value); an external address must be outside the cluster's ranges (e.g. 203.0.113.37)")
            }
        }
        if let external {
            if external.clientIP.network.contains(ext.value) {
                r.error(ext.loc, "\(label) externalIP \(ext.value) lies in the client's subnet \(external.clientIP.network), so the client would look for it on its own link instead of going through the gateway; pick an address outside it (e.g. 203.0.113.37)")
            }
        }
    }

    private func checkPodCIDR(_ p: Located<IPv4Prefix>, label: String, others: [PartialNode]) {
        if let cluster = clusterCIDR, !cluster.value.contains(p.value) {
            r.error(p.loc, "\(label) podCIDR \(p.value) is outside clusterCIDR \(cluster.value); pick a range inside it, e.g. \(IPv4Prefix(address: cluster.value.first, length: max(cluster.value.length, 24)))")
        }
        if let subnet, p.value.overlaps(subnet.value) {
            r.error(p.loc, "\(label) podCIDR \(p.value) overlaps vpc.subnet \(subnet.value); pod addresses must not be VPC addresses")
        }
        if let svc = serviceCIDR, p.value.overlaps(svc.value) {
            r.error(p.loc, "\(label) podCIDR \(p.value) overlaps \(serviceCIDRIsDefault ? "the default serviceCIDR" : "serviceCIDR") \(svc.value); pod and service addresses must be distinct")
        }
        if p.value.length > 30 {
            r.error(p.loc, "\(label) podCIDR \(p.value) is too small to hold any pod (host-local keeps the network, gateway and broadcast addresses); use a /30 or larger, e.g. /24")
        }
        for other in others {
            if let o = other.podCIDR, o.value.overlaps(p.value) {
                r.error(p.loc, "\(label) podCIDR \(p.value) overlaps podCIDR \(o.value) of \(other.label) (\(o.loc)); give each node its own range")
            }
        }
    }

    // MARK: - Pods

    private func readPods(_ top: Fields) {
        guard let list = top.optional("pods"),
              let items = r.sequence(list, "pods", itemExample: "a pod with name and node") else { return }
        let nodeNames = nodes.compactMap { $0.name?.value }
        var byName: [String: YAMLLocation] = [:]
        for (i, item) in items.enumerated() {
            let label = peekName(item).map { "pod '\($0)'" } ?? "pods[\(i)]"
            guard let f = r.fields(item, label, allowed: keys["pods[]"]!) else { continue }
            var pod = PartialPod(label: label, loc: f.loc, namespace: "default", labels: [:], ports: [])
            if let n = f.required("name", expected: "the pod's name like webpod1"), let s = r.string(n, "\(label) name", example: "webpod1") {
                pod.name = s
                checkObjectName(s, kind: "pod")
                if let first = byName[s.value] {
                    r.error(s.loc, "pod name '\(s.value)' is already used by the pod at \(first); every pod becomes a network namespace, so give each a unique name")
                } else {
                    byName[s.value] = s.loc
                }
                if let node = nodes.first(where: { $0.name?.value == s.value }), let nodeName = node.name {
                    r.error(s.loc, "pod name '\(s.value)' is also the name of a node (\(nodeName.loc)); pods and nodes are both network namespaces, so pick another pod name")
                } else if TopologyLoader.reservedNames.contains(s.value) {
                    r.error(s.loc, "pod name '\(s.value)' is reserved for netlab's own namespaces (\(TopologyLoader.reservedNames.joined(separator: ", "))); pick another name such as \(s.value)-pod")
                }
            }
            if let n = f.required("node", expected: "the name of the node the pod runs on, one of: \(nodeNames.joined(separator: ", "))"),
               let s = r.string(n, "\(label) node", example: nodeNames.first ?? "node1") {
                pod.node = s
                if !nodeNames.contains(s.value) {
                    var message = "\(label) names node '\(s.value)', which does not exist (nodes: \(nodeNames.joined(separator: ", ")))"
                    if let c = closestMatch(s.value, among: nodeNames) { message += "; did you mean '\(c)'?" }
                    r.error(s.loc, message)
                }
            }
            if let n = f.optional("namespace"), let s = r.string(n, "\(label) namespace", example: "default") {
                if checkNamespace(s, owner: label) { pod.namespace = s.value }
            }
            if let n = f.optional("labels"), let m = r.labelMap(n, "\(label) labels") { pod.labels = m.value }
            if let n = f.optional("ports"), let ports = r.sequence(n, "\(label) ports", itemExample: "a port like {containerPort: 80, protocol: TCP}") {
                pod.ports = readContainerPorts(ports, label: label)
            }
            pods.append(pod)
        }
        checkHostPorts()
        checkPodCapacity()
    }

    /// Pod and service names: RFC 1123 labels, as Kubernetes requires (which also keeps them safe
    /// as file and namespace names: no '/', no '..').
    private func checkObjectName(_ s: Located<String>, kind: String) {
        guard !isDNSLabel(s.value, maxLength: 63) else { return }
        var message = "\(kind) name '\(s.value)' is not a valid DNS-1123 label: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
        if let fix = sanitizedLabel(s.value, maxLength: 63) { message += " (e.g. '\(fix)')" }
        r.error(s.loc, message)
    }

    private func checkNamespace(_ s: Located<String>, owner: String) -> Bool {
        guard isDNSLabel(s.value, maxLength: 63) else {
            var message = "\(owner) namespace '\(s.value)' is not a valid Kubernetes namespace name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
            if let fix = sanitizedLabel(s.value, maxLength: 63) { message += " (e.g. '\(fix)')" }
            r.error(s.loc, message)
            return false
        }
        return true
    }

    private func readContainerPorts(_ items: [YNode], label: String) -> [PartialContainerPort] {
        var result: [PartialContainerPort] = []
        var seen: [String: YAMLLocation] = [:]
        for (i, item) in items.enumerated() {
            let what = "\(label) ports[\(i)]"
            guard let f = r.fields(item, what, allowed: keys["pods[].ports[]"]!) else { continue }
            var port = PartialContainerPort(proto: .tcp)
            if let n = f.optional("protocol"), let p = r.enumeration(n, "\(what) protocol", L4Protocol.self) { port.proto = p.value }
            if let n = f.required("containerPort", expected: "the port the container listens on, 1-65535"),
               let p = r.int(n, "\(what) containerPort", range: 1...65535) {
                port.containerPort = p
                let key = "\(p.value)/\(port.proto.rawValue)"
                if let first = seen[key] {
                    r.error(p.loc, "\(label) lists containerPort \(p.value)/\(port.proto.rawValue) twice (first at \(first)); remove one")
                } else {
                    seen[key] = p.loc
                }
            }
            if let n = f.optional("hostPort"), let p = r.int(n, "\(what) hostPort", range: 1...65535) { port.hostPort = p }
            result.append(port)
        }
        return result
    }

    /// The portmap plugin maps a host port on the node to one pod: two pods on one node cannot
    /// ask for the same host port and protocol.
    private func checkHostPorts() {
        var used: [String: (String, YAMLLocation)] = [:]
        for pod in pods {
            guard let node = pod.node?.value else { continue }
            for port in pod.ports {
                guard let hp = port.hostPort else { continue }
                let key = "\(node)|\(hp.value)|\(port.proto.rawValue)"
                if let (other, loc) = used[key] {
                    r.error(hp.loc, "\(pod.label) asks for hostPort \(hp.value)/\(port.proto.rawValue) on node '\(node)', which \(other) already has (\(loc)); pick another hostPort or node")
                } else {
                    used[key] = (pod.label, hp.loc)
                }
            }
        }
    }

    /// host-local hands out first+2 … last−1 (first+1 is the pods' gateway on the node), so a
    /// podCIDR holds size − 3 pods.
    private func checkPodCapacity() {
        for node in nodes {
            guard let name = node.name?.value, let cidr = node.podCIDR?.value, cidr.length <= 30 else { continue }
            let onNode = pods.filter { $0.node?.value == name }
            let capacity = Int(cidr.size) - 3
            guard onNode.count > capacity, let extra = onNode[capacity].node else { continue }
            var length = 30
            while length > 0 && Int(IPv4Prefix(address: cidr.first, length: length).size) - 3 < onNode.count { length -= 1 }
            r.error(extra.loc, "node '\(name)' has \(onNode.count) pods but its podCIDR \(cidr) holds only \(capacity) (host-local hands out \(cidr.first.advanced(by: 2)) to \(cidr.last.advanced(by: -1)); \(cidr.first.advanced(by: 1)) is the pods' gateway), so \(onNode[capacity].label) and later ones do not fit; use a /\(length) podCIDR or move pods to another node")
        }
    }

    // MARK: - Services

    private func readServices(_ top: Fields) {
        guard let list = top.optional("services"),
              let items = r.sequence(list, "services", itemExample: "a service with name, selector and ports") else { return }
        var byName: [String: YAMLLocation] = [:]
        var clusterIPs: [IPv4Address: (String, YAMLLocation)] = [:]
        for (i, item) in items.enumerated() {
            let label = peekName(item).map { "service '\($0)'" } ?? "services[\(i)]"
            guard let f = r.fields(item, label, allowed: keys["services[]"]!) else { continue }
            var svc = PartialService(label: label, loc: f.loc, namespace: "default", type: .clusterIP, typeKnown: true, selector: [:],
                                     externalTrafficPolicy: .cluster, internalTrafficPolicy: .cluster, ports: [])
            if let n = f.optional("namespace"), let s = r.string(n, "\(label) namespace", example: "default") {
                if checkNamespace(s, owner: label) { svc.namespace = s.value }
            }
            if let n = f.required("name", expected: "the service's name like svc-webport"), let s = r.string(n, "\(label) name", example: "svc-webport") {
                svc.name = s
                checkObjectName(s, kind: "service")
                let key = "\(svc.namespace)/\(s.value)"
                if let first = byName[key] {
                    r.error(s.loc, "service name '\(s.value)' is already used in namespace '\(svc.namespace)' by the service at \(first); give each service a unique name")
                } else {
                    byName[key] = s.loc
                }
            }
            if let n = f.optional("type") {
                if let t = r.enumeration(n, "\(label) type", ServiceType.self) { svc.type = t.value } else { svc.typeKnown = false }
            }
            if let n = f.optional("clusterIP"), let a = r.address(n, "\(label) clusterIP", example: "10.96.0.10") {
                if let range = serviceCIDR, checkHost(a, in: range.value, what: "\(label) clusterIP", rangeName: "serviceCIDR") {
                    if let (other, loc) = clusterIPs[a.value] {
                        r.error(a.loc, "\(label) clusterIP \(a.value) is already the clusterIP of \(other) (\(loc)); give each service its own address or leave clusterIP out to get one allocated")
                    } else {
                        clusterIPs[a.value] = (label, a.loc)
                        svc.clusterIP = a
                    }
                }
            }
            if let n = f.optional("selector"), let m = r.labelMap(n, "\(label) selector") { svc.selector = m.value }
            if let n = f.optional("externalTrafficPolicy"), let p = r.enumeration(n, "\(label) externalTrafficPolicy", TrafficPolicy.self) {
                // Kubernetes rejects it too: only traffic from outside (NodePort) has an external policy.
                if svc.type == .clusterIP && svc.typeKnown {
                    r.error(p.loc, "\(label) sets externalTrafficPolicy but is a ClusterIP service, which receives no external traffic; set type: NodePort or remove externalTrafficPolicy")
                }
                svc.externalTrafficPolicy = p.value
            }
            if let n = f.optional("internalTrafficPolicy"), let p = r.enumeration(n, "\(label) internalTrafficPolicy", TrafficPolicy.self) {
                svc.internalTrafficPolicy = p.value
            }
            if let n = f.required("ports", expected: "a list of ports like [{port: 9000, targetPort: 80}]"),
               let ports = r.sequence(n, "\(label) ports", itemExample: "a port like {port: 9000, targetPort: 80}") {
                if ports.isEmpty { r.error(n.location, "\(label) ports is empty; list at least one port like {port: 9000, targetPort: 80}") }
                svc.ports = readServicePorts(ports, service: svc)
            }
            services.append(svc)
        }
        checkNodePorts()
        allocateClusterIPs(taken: Set(clusterIPs.keys))
        allocateNodePorts()
    }

    private func readServicePorts(_ items: [YNode], service svc: PartialService) -> [PartialServicePort] {
        let label = svc.label
        var result: [PartialServicePort] = []
        var names: [String: YAMLLocation] = [:]
        var numbers: [String: YAMLLocation] = [:]
        for (i, item) in items.enumerated() {
            let what = "\(label) ports[\(i)]"
            guard let f = r.fields(item, what, allowed: keys["services[].ports[]"]!) else { continue }
            var port = PartialServicePort(loc: f.loc, proto: .tcp)
            if let n = f.optional("protocol"), let p = r.enumeration(n, "\(what) protocol", L4Protocol.self) { port.proto = p.value }
            if let n = f.optional("name"), let s = r.string(n, "\(what) name", example: "http") {
                port.name = s
                if !isDNSLabel(s.value, maxLength: 63) {
                    var message = "\(what) name '\(s.value)' is not a valid port name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
                    if let fix = sanitizedLabel(s.value, maxLength: 63) { message += " (e.g. '\(fix)')" }
                    r.error(s.loc, message)
                }
                if let first = names[s.value] {
                    r.error(s.loc, "\(label) has two ports named '\(s.value)' (first at \(first)); port names must be unique within a service")
                } else {
                    names[s.value] = s.loc
                }
            } else if items.count > 1 {
                // As in Kubernetes: with several ports, endpoints are matched to ports by name.
                r.error(f.loc, "\(what) has no name, but \(label) has \(items.count) ports and then every port needs a name (e.g. name: http)")
            }
            if let n = f.required("port", expected: "the service port, 1-65535"), let p = r.int(n, "\(what) port", range: 1...65535) {
                port.port = p
                let key = "\(p.value)/\(port.proto.rawValue)"
                if let first = numbers[key] {
                    r.error(p.loc, "\(label) lists port \(key) twice (first at \(first)); each port and protocol may appear once")
                } else {
                    numbers[key] = p.loc
                }
            }
            if let n = f.optional("targetPort") {
                if case .scalar(let s) = n, n.tagName == .str {
                    r.error(n.location, "\(what) targetPort '\(s.string)' is a named port, which netlab does not resolve; write the container's port number, e.g. 80")
                } else {
                    port.targetPort = r.int(n, "\(what) targetPort", range: 1...65535)
                }
            }
            if let n = f.optional("nodePort") {
                if svc.type != .nodePort && svc.typeKnown {
                    r.error(n.location, "\(what) sets nodePort but \(label) is a ClusterIP service; set type: NodePort on the service or remove nodePort")
                } else {
                    let range = TopologyLoader.nodePortRange
                    if case .scalar(let s) = n, n.tagName == .int, let v = n.int, !range.contains(v) {
                        r.error(n.location, "\(what) nodePort \(s.string) is outside \(range.lowerBound)-\(range.upperBound), the node port range; pick one inside it or leave nodePort out to get one allocated")
                    } else {
                        port.nodePort = r.int(n, "\(what) nodePort", range: range)
                    }
                }
            }
            result.append(port)
        }
        return result
    }

    /// A node port is a (number, protocol) pair on every node, so it can belong to one service port only.
    private func checkNodePorts() {
        var used: [String: (String, YAMLLocation)] = [:]
        for svc in services {
            for port in svc.ports {
                guard let np = port.nodePort else { continue }
                let key = "\(np.value)/\(port.proto.rawValue)"
                if let (other, loc) = used[key] {
                    r.error(np.loc, "\(svc.label) nodePort \(key) is already used by \(other) (\(loc)); pick another nodePort or leave it out to get one allocated")
                } else {
                    used[key] = (svc.label, np.loc)
                }
            }
        }
    }

    /// Services without a clusterIP get, in file order, the first free address from serviceCIDR's
    /// first address + 10 up to the last address before broadcast. Explicit addresses anywhere in
    /// the file are skipped, wherever they appear.
    private func allocateClusterIPs(taken: Set<IPv4Address>) {
        guard let range = serviceCIDR?.value else { return }
        let start = Int64(range.first.value) + Int64(TopologyLoader.clusterIPAllocationOffset)
        let end = Int64(range.last.value) - 1
        var next = start
        var taken = taken
        for i in services.indices where services[i].clusterIP == nil {
            while next <= end && taken.contains(IPv4Address(UInt32(next))) { next += 1 }
            guard next <= end else {
                let waiting = services[i...].filter { $0.clusterIP == nil }
                let span = start <= end ? "\(IPv4Address(UInt32(start))) to \(IPv4Address(UInt32(end)))" : "none: the range is smaller than the offset of \(TopologyLoader.clusterIPAllocationOffset)"
                r.error(services[i].loc, "no free clusterIP left in serviceCIDR \(range) for \(services[i].label)\(waiting.count > 1 ? " and \(waiting.count - 1) later service(s)" : "") (automatic addresses: \(span)); use a larger serviceCIDR or give these services a clusterIP")
                return
            }
            let a = IPv4Address(UInt32(next))
            services[i].clusterIP = Located(value: a, loc: services[i].loc)
            taken.insert(a)
        }
    }

    /// NodePort service ports without a nodePort get, in file order, the lowest number from 30000
    /// up that no service port uses (for any protocol, so an allocated port never surprises).
    private func allocateNodePorts() {
        var used = Set(services.flatMap { $0.ports.compactMap { $0.nodePort?.value } })
        var next = TopologyLoader.nodePortRange.lowerBound
        for i in services.indices where services[i].type == .nodePort {
            for j in services[i].ports.indices where services[i].ports[j].nodePort == nil {
                while next <= TopologyLoader.nodePortRange.upperBound && used.contains(next) { next += 1 }
                guard TopologyLoader.nodePortRange.contains(next) else {
                    let range = TopologyLoader.nodePortRange
                    r.error(services[i].ports[j].loc, "no free nodePort left for \(services[i].label) ports[\(j)]: all of \(range.lowerBound)-\(range.upperBound) are taken; use fewer NodePort services or ports")
                    return
                }
                services[i].ports[j].nodePort = Located(value: next, loc: services[i].ports[j].loc)
                used.insert(next)
            }
        }
    }

    // MARK: - CNI

    private func readCNI(_ top: Fields) {
        guard let node = top.required("cni", expected: "a mapping with conflist (inline) or conflistFile, and optionally binDir"),
              let c = r.fields(node, "cni", allowed: keys["cni"]!) else { return }
        var binDir = TopologyLoader.defaultCNIBinDir
        if let n = c.optional("binDir"), let b = r.string(n, "cni.binDir", example: "/usr/lib/cni") {
            if b.value.hasPrefix("/") { binDir = b.value } else {
                r.error(b.loc, "cni.binDir '\(b.value)' must be an absolute path like /usr/lib/cni (plugins are started from other namespaces and directories)")
            }
        }
        var conflist: JSONValue?
        switch (c.optional("conflist"), c.optional("conflistFile")) {
        case (nil, nil):
            r.error(c.loc, "cni needs exactly one of 'conflist' (the network configuration list written inline) or 'conflistFile' (a JSON file next to the topology file); neither is given")
        case (_?, _?):
            r.error(c.keyLocation("conflistFile") ?? c.loc, "cni has both 'conflist' and 'conflistFile'; keep exactly one")
        case (let inline?, nil):
            var marks: [String: YAMLLocation] = [:]
            let before = r.diagnostics.count
            let json = r.json(from: inline, path: "", marks: &marks)
            r.validateConflist(json, source: "cni.conflist") { marks[$0] ?? inline.location }
            if r.diagnostics.count == before { conflist = json }
        case (nil, let fileNode?):
            guard let f = r.string(fileNode, "cni.conflistFile", example: "gke.conflist") else { break }
            let path = resolve(f.value, nextTo: source)
            let shownPath = path == f.value ? "'\(path)'" : "'\(f.value)' (\(path))"
            let text: String
            do { text = try readFile(path) } catch {
                r.error(f.loc, "cannot read cni.conflistFile \(shownPath): \(error.localizedDescription); the path is relative to the topology file's directory")
                break
            }
            let json: JSONValue
            do { json = try JSONValue.decode(Data(text.utf8)) } catch {
                r.error(f.loc, "cni.conflistFile \(shownPath) is not valid JSON (\(jsonProblem(error))); it must hold a network configuration list")
                break
            }
            let before = r.diagnostics.count
            r.validateConflist(json, source: "the conflist in \(shownPath)") { _ in f.loc }
            if r.diagnostics.count == before { conflist = json }
        }
        var timeout = 30.0
        if let n = c.optional("timeoutSeconds"), let t = r.int(n, "cni.timeoutSeconds", range: 1...3600) { timeout = Double(t.value) }
        if let conflist { cni = CNISettings(binDir: binDir, conflist: conflist, timeoutSeconds: timeout) }
    }

    // MARK: - Assembly

    /// Only called when no diagnostics were reported, so every required value is present.
    private func readProxy(_ top: Fields) {
        let dir = source.lastIndex(of: "/").map { String(source[..<$0]) } ?? "."
        proxy.baseDirectory = dir.isEmpty ? "/" : dir
        guard let node = top.optional("proxy"),
              let p = r.fields(node, "proxy", allowed: keys["proxy"]!) else { return }
        if let n = p.optional("command"), let items = r.sequence(n, "proxy.command", itemExample: "netlab-proxy") {
            let argv = items.compactMap { r.string($0, "an item of proxy.command", example: "--detect-local-mode") }
            if argv.count == items.count {
                if argv.isEmpty {
                    r.error(n.location, "proxy.command is empty; give the proxy's argv, e.g. [netlab-proxy] or [./my-proxy, --flag]")
                } else if argv[0].value.isEmpty {
                    r.error(argv[0].loc, "proxy.command starts with an empty program name; name the proxy binary, e.g. netlab-proxy")
                } else {
                    proxy.command = argv.map(\.value)
                }
            }
        }
        if let n = p.optional("timeoutSeconds"), let t = r.int(n, "proxy.timeoutSeconds", range: 1...3600) {
            proxy.timeoutSeconds = Double(t.value)
        }
    }

    // MARK: - Checks

    private func readChecks(_ top: Fields) {
        guard let list = top.optional("checks"),
              let items = r.sequence(list, "checks", itemExample: "a check with name, from, to, protocol and expect") else { return }
        var byName: [String: YAMLLocation] = [:]
        for (i, item) in items.enumerated() {
            let label = peekName(item).map { "check '\($0)'" } ?? "checks[\(i)]"
            guard let f = r.fields(item, label, allowed: keys["checks[]"]!) else { continue }
            var ok = true
            var name = ""
            if let n = f.required("name", expected: "the check's name like pod-to-pod"), let s = r.string(n, "\(label) name", example: "pod-to-pod") {
                name = s.value
                if !isDNSLabel(s.value, maxLength: 63) {
                    r.error(s.loc, "check name '\(s.value)' must be lowercase letters, digits and '-' (at most 63), like nodeport-remote: it names files and test cases")
                    ok = false
                }
                if let first = byName[s.value] {
                    r.error(s.loc, "check name '\(s.value)' is already used by the check at \(first); give each check a unique name")
                    ok = false
                } else { byName[s.value] = s.loc }
            } else { ok = false }
            let description = f.optional("description").flatMap { r.string($0, "\(label) description", example: "what the check shows")?.value }
            var from = ""
            if let n = f.required("from", expected: "where the probe starts: a pod, a node, client or gw"),
               let s = r.string(n, "\(label) from", example: "pod1") {
                from = s.value
                checkMembers.append(CheckMember(member: s.value, use: .source, loc: s.loc, what: "\(label) from"))
            } else { ok = false }
            var kind = Check.Kind.icmp
            if let n = f.required("protocol", expected: "icmp, http or udp"), let k = r.enumeration(n, "\(label) protocol", Check.Kind.self) {
                kind = k.value
            } else { ok = false }
            var to = Ref("")
            if let n = f.required("to", expected: "the destination address, like pod2.ip, node2.externalIP or a literal 10.32.1.2"),
               let ref = readRef(n, "\(label) to", kind: .address) {
                to = ref
            } else { ok = false }
            var port: Ref?
            if let n = f.optional("port") {
                port = readRef(n, "\(label) port", kind: .port)
                if port == nil { ok = false }
            }
            if kind != .icmp, port == nil, f.optional("port") == nil {
                r.error(f.loc, "\(label) uses protocol \(kind.rawValue), which needs a port (e.g. port: svc-webport.nodePort or port: 80)")
                ok = false
            }
            if kind == .icmp, let n = f.optional("port") {
                r.error(n.location, "\(label) uses protocol icmp, which has no port; remove 'port' or use http/udp")
                ok = false
            }
            var capture: [String] = []
            if let n = f.optional("capture"), let list = r.sequence(n, "\(label) capture", itemExample: "an interface like node1/eth0") {
                for c in list {
                    guard let s = r.string(c, "an item of \(label) capture", example: "node1/eth0") else { ok = false; continue }
                    if let m = interfaceRef(s, what: "\(label) capture") {
                        capture.append(s.value)
                        checkMembers.append(CheckMember(member: m.member, use: .interface(m.interface), loc: s.loc, what: "\(label) capture"))
                    } else { ok = false }
                }
            }
            var unready: [String] = []
            if let n = f.optional("unready"), let list = r.sequence(n, "\(label) unready", itemExample: "a pod's name, like webpod1") {
                for item in list {
                    guard let s = r.string(item, "an item of \(label) unready", example: "webpod1") else { ok = false; continue }
                    unready.append(s.value)
                    checkMembers.append(CheckMember(member: s.value, use: .pod, loc: s.loc, what: "\(label) unready"))
                }
            }
            var timeout = Check.defaultTimeout
            if let n = f.optional("timeout") {
                if let v = n.float, (n.tagName == .float || n.tagName == .int), v >= 0.05, v <= 60 { timeout = v } else {
                    r.error(n.location, "\(label) timeout must be a number of seconds from 0.05 to 60, like 0.5 or 2, not \(n.kindDescription)")
                    ok = false
                }
            }
            guard let expectNode = f.required("expect", expected: "what must be observed: reply, status, serverSaw, packets, ..."),
                  let expect = readExpectations(expectNode, label: label, kind: kind) else { continue }
            if ok {
                checks.append(Check(name: name, description: description, from: from, to: to, port: port, kind: kind,
                                    expect: expect, capture: capture, unready: unready, timeoutSeconds: timeout))
            }
        }
    }

    private func readRef(_ n: YNode, _ what: String, kind: LabFacts.ValueKind) -> Ref? {
        let example = kind == .port ? "svc-webport.nodePort or 80" : "node2.ip or 10.0.0.38"
        if kind == .port, let i = n.int, n.tagName == .int {
            let ref = Ref("\(i)")
            checkRefs.append((ref, n.location, kind, what))
            return ref
        }
        guard let s = r.string(n, what, example: example) else { return nil }
        let ref = Ref(s.value)
        checkRefs.append((ref, s.loc, kind, what))
        return ref
    }

    private func interfaceRef(_ s: Located<String>, what: String) -> InterfaceRef? {
        guard let ref = InterfaceRef(s.value) else {
            r.error(s.loc, "\(what) '\(s.value)' must name an interface as member/interface, like node1/eth0 or webpod1/eth0")
            return nil
        }
        return ref
    }

    private func readExpectations(_ node: YNode, label: String, kind: Check.Kind) -> Expectations? {
        guard let f = r.fields(node, "\(label) expect", allowed: keys["checks[].expect"]!) else { return nil }
        var e = Expectations()
        var ok = true
        if let n = f.optional("reply") {
            if n.tagName == .bool, let b = n.bool { e.reply = b } else {
                r.error(n.location, "\(label) expect.reply must be true or false, not \(n.kindDescription)"); ok = false
            }
        }
        if let n = f.optional("status") {
            if kind != .http { r.error(n.location, "\(label) expect.status is for protocol http only"); ok = false }
            else if let s = r.int(n, "\(label) expect.status", range: 100...599) { e.status = s.value } else { ok = false }
        }
        if let n = f.optional("replyTTL") {
            if kind != .icmp { r.error(n.location, "\(label) expect.replyTTL is for protocol icmp only (an echo reply's TTL)"); ok = false }
            else if let s = r.int(n, "\(label) expect.replyTTL", range: 0...255) { e.replyTTL = s.value } else { ok = false }
        }
        if let n = f.optional("serverPod") {
            if kind == .icmp { r.error(n.location, "\(label) expect.serverPod needs netlab's server: use protocol http or udp"); ok = false }
            else if let s = r.string(n, "\(label) expect.serverPod", example: "webpod1") {
                e.serverPod = s.value
                checkMembers.append(CheckMember(member: s.value, use: .pod, loc: s.loc, what: "\(label) expect.serverPod"))
            } else { ok = false }
        }
        if let n = f.optional("serverSaw") {
            if kind == .icmp { r.error(n.location, "\(label) expect.serverSaw needs netlab's server: use protocol http or udp"); ok = false }
            else if let ref = readRef(n, "\(label) expect.serverSaw", kind: .address) { e.serverSaw = ref } else { ok = false }
        }
        if let n = f.optional("packets"), let list = r.sequence(n, "\(label) expect.packets", itemExample: "{at: node1/eth0, match: {...}}") {
            for (i, item) in list.enumerated() {
                let what = "\(label) expect.packets[\(i)]"
                guard let pf = r.fields(item, what, allowed: keys["checks[].expect.packets[]"]!) else { ok = false; continue }
                var at = ""
                if let an = pf.required("at", expected: "the interface, like node1/eth0"), let s = r.string(an, "\(what) at", example: "node1/eth0"),
                   let m = interfaceRef(s, what: "\(what) at") {
                    at = s.value
                    checkMembers.append(CheckMember(member: m.member, use: .interface(m.interface), loc: s.loc, what: "\(what) at"))
                } else { ok = false }
                var absent = false
                if let an = pf.optional("absent") {
                    if an.tagName == .bool, let b = an.bool { absent = b } else { r.error(an.location, "\(what) absent must be true or false"); ok = false }
                }
                guard let mn = pf.required("match", expected: "the packet's fields, like {proto: tcp, src: node2.ip, dport: 80}"),
                      let match = readPattern(mn, what: "\(what) match") else { ok = false; continue }
                e.packets.append(PacketExpectation(at: at, match: match, absent: absent))
            }
        }
        return ok ? e : nil
    }

    private func readPattern(_ node: YNode, what: String) -> PacketPattern? {
        guard let f = r.fields(node, what, allowed: keys["checks[].expect.packets[].match"]!) else { return nil }
        var p = PacketPattern()
        var ok = true
        func ref(_ key: String, _ kind: LabFacts.ValueKind) -> Ref? {
            guard let n = f.optional(key) else { return nil }
            let v = readRef(n, "\(what).\(key)", kind: kind)
            if v == nil { ok = false }
            return v
        }
        if let n = f.optional("proto") { if let v = r.enumeration(n, "\(what).proto", PacketFilter.ProtocolKind.self) { p.proto = v.value } else { ok = false } }
        p.src = ref("src", .address); p.dst = ref("dst", .address)
        p.sport = ref("sport", .port); p.dport = ref("dport", .port)
        p.whoHas = ref("whoHas", .address); p.tell = ref("tell", .address)
        if let n = f.optional("ttl") { if let v = r.int(n, "\(what).ttl", range: 0...255) { p.ttl = v.value } else { ok = false } }
        if let n = f.optional("icmp") { if let v = r.enumeration(n, "\(what).icmp", PacketPattern.ICMPKind.self) { p.icmp = v.value } else { ok = false } }
        if let n = f.optional("arp") { if let v = r.enumeration(n, "\(what).arp", PacketPattern.ARPKind.self) { p.arp = v.value } else { ok = false } }
        if let n = f.optional("tcpFlags"), let s = r.string(n, "\(what).tcpFlags", example: "S") {
            if TCPFlags(tcpdumpLetters: s.value) == nil {
                r.error(s.loc, "\(what).tcpFlags '\(s.value)' must be tcpdump's flag letters (F S R P . U E W), e.g. S for a SYN, S. for a SYN-ACK"); ok = false
            } else { p.tcpFlags = s.value }
        }
        let kinds = [p.proto, p.icmp.map { _ in .icmp }, p.tcpFlags.map { _ in .tcp }, (p.arp != nil || p.whoHas != nil || p.tell != nil) ? PacketFilter.ProtocolKind.arp : nil].compactMap { $0 }
        if Set(kinds).count > 1 {
            r.error(f.loc, "\(what) mixes fields of different protocols (\(Set(kinds).map(\.rawValue).sorted().joined(separator: ", "))); a packet has one")
            ok = false
        }
        return ok ? p : nil
    }

    private func validateChecks(in t: Topology) {
        let datapath = Datapath(topology: t)
        // The shape's own members outermost first (the client, the gateway, the VPC), then the
        // nodes and pods, as these messages have always listed them.
        let members = datapath.ownMembers.reversed().map(\.name) + t.nodes.map(\.name) + t.pods.map(\.name)
        for m in checkMembers {
            guard let member = datapath.member(named: m.member) else {
                var message = "\(m.what) names '\(m.member)', which is not a member of this lab (\(members.filter { datapath.member(named: $0) != nil }.joined(separator: ", ")))"
                if let c = closestMatch(m.member, among: members) { message += "; did you mean '\(c)'?" }
                r.error(m.loc, message)
                continue
            }
            switch m.use {
            case .interface(let interface):
                // An interface the lab will not have would only fail when the capture opens, after
                // the whole lab was built: say so now. A node may have links its CNI plugins make.
                guard let have = datapath.interfaces(of: m.member), !have.known.contains(interface) else { break }
                if !have.open {
                    var message = "\(m.what) names interface '\(interface)' of '\(m.member)', which it will not have (its interfaces: \(have.known.joined(separator: ", ")))"
                    if let c = closestMatch(interface, among: have.known) { message += "; did you mean '\(InterfaceRef(member: m.member, interface: c))'?" }
                    r.error(m.loc, message)
                } else if let problem = CNIAttachment.interfaceNameProblem(interface) {
                    r.error(m.loc, "\(m.what) names interface '\(interface)' of node '\(m.member)': \(problem)")
                }
            case .pod:
                if member.role != .pod { r.error(m.loc, "\(m.what) names '\(m.member)', which is not a pod") }
            case .source:
                // A probe needs an address to start from; the VPC is L2 only.
                if member.role == .vpc {
                    let starts = [Member.Role.client, .gateway].compactMap(datapath.ownName).joined(separator: " or ")
                    r.error(m.loc, "\(m.what) cannot be \(m.member): the VPC is a bridge without addresses; start from a pod, a node, \(starts)")
                }
            }
        }
        for c in checkRefs {
            if let problem = LabFacts.problem(with: c.ref, in: t, expecting: c.kind) { r.error(c.loc, "\(c.what): \(problem)") }
        }
    }

    private func assemble() -> Topology? {
        guard let subnet, let vpcGateway, let clusterCIDR, let serviceCIDR, let cni else { return nil }
        var outNodes: [Node] = []
        for n in nodes {
            guard let name = n.name, let ip = n.ip, let podCIDR = n.podCIDR else { return nil }
            outNodes.append(Node(name: name.value, ip: ip.value, externalIP: n.externalIP?.value, podCIDR: podCIDR.value))
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
                                         nodePort: s.type == .nodePort ? sp.nodePort?.value : nil, proto: sp.proto))
            }
            outServices.append(Service(name: name.value, namespace: s.namespace, type: s.type, clusterIP: clusterIP.value,
                                       selector: s.selector, ports: ports, externalTrafficPolicy: s.externalTrafficPolicy,
                                       internalTrafficPolicy: s.internalTrafficPolicy))
        }
        let topology = Topology(source: source, name: name, vpc: VPC(subnet: subnet.value, gateway: vpcGateway, mtu: mtu),
                        clusterCIDR: clusterCIDR.value, serviceCIDR: serviceCIDR.value, external: external,
                        nodes: outNodes, pods: outPods, services: outServices, cni: cni, proxy: proxy, checks: checks)
        validateChecks(in: topology)
        return topology
    }
}
