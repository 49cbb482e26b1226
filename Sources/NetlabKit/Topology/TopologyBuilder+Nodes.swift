import Foundation
import Yams

struct PartialNode {
    var label: String
    var loc: YAMLLocation
    var name: Located<String>?
    var ip: Located<IPv4Address>?
    var externalIP: Located<IPv4Address>?
    var podCIDR: Located<IPv4Prefix>?
    var ipv6: Located<IPv6Address>?
    var podCIDRv6: Located<IPv6Prefix>?
}

extension TopologyBuilder {
    func readNodes(_ top: Fields) {
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
            var ipValue: DualStack<IPv4Address, IPv6Address>?
            if let n = f.required("ip", expected: "the node's address in vpc.subnet like 10.0.0.37") {
                ipValue = r.dualAddress(n, "\(label) ip", example: "10.0.0.37", exampleV6: "2001:db8:0:1::37")
            }
            if let ip = ipValue?.v4 {
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
            if let n = f.optional("externalIP"), externalIPIsIPv4(n, label: label), let ext = r.address(n, "\(label) externalIP", example: "203.0.113.37") {
                node.externalIP = ext
                checkExternalIP(ext, label: label)
                if let (other, loc) = byExternalIP[ext.value] {
                    r.error(ext.loc, "\(label) externalIP \(ext.value) is already the externalIP of \(other) (\(loc)); the gateway maps each external address to one node")
                } else {
                    byExternalIP[ext.value] = (label, ext.loc)
                }
            }
            var podCIDRValue: DualStack<IPv4Prefix, IPv6Prefix>?
            if let n = f.required("podCIDR", expected: "the node's pod range inside clusterCIDR like 10.32.0.0/24") {
                podCIDRValue = r.dualPrefix(n, "\(label) podCIDR", example: "10.32.0.0/24", exampleV6: "2001:db8:32::/112", network: true)
            }
            if let p = podCIDRValue?.v4 {
                node.podCIDR = p
                checkPodCIDR(p, label: label, others: accepted)
            }
            readNodeV6(&node, ip: ipValue, podCIDR: podCIDRValue, others: accepted)
            accepted.append(node)
        }
        nodes = accepted
    }

    func checkNodeName(_ s: Located<String>) {
        let max = TopologyLoader.maxNodeNameLength
        if !isDNSLabel(s.value, maxLength: max) {
            var message = "node name '\(s.value)' cannot be used: it names a network namespace and a Linux interface, so it must be at most \(max) lowercase letters, digits and '-', starting and ending with a letter or digit"
            if let fix = sanitizedLabel(s.value, maxLength: max) { message += " (e.g. '\(fix)')" }
            r.error(s.loc, message)
        } else if reservedNames.contains(s.value) {
            r.error(s.loc, "node name '\(s.value)' is reserved for netlab's own namespaces (\(reservedNames.joined(separator: ", "))); pick another name such as node-\(s.value)")
        }
    }

    func checkExternalIP(_ ext: Located<IPv4Address>, label: String) {
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

    func checkPodCIDR(_ p: Located<IPv4Prefix>, label: String, others: [PartialNode]) {
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
}
