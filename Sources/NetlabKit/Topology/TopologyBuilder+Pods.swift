import Foundation
import Yams

struct PartialContainerPort {
    var containerPort: Located<Int>?
    var hostPort: Located<Int>?
    var proto: L4Protocol
}

struct PartialPod {
    var label: String
    var loc: YAMLLocation
    var name: Located<String>?
    var node: Located<String>?
    var namespace: String
    var labels: [String: String]
    var ports: [PartialContainerPort]
}

extension TopologyBuilder {
    func readPods(_ top: Fields) {
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
                } else if reservedNames.contains(s.value) {
                    r.error(s.loc, "pod name '\(s.value)' is reserved for netlab's own namespaces (\(reservedNames.joined(separator: ", "))); pick another name such as \(s.value)-pod")
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
    func checkObjectName(_ s: Located<String>, kind: String) {
        guard !isDNSLabel(s.value, maxLength: 63) else { return }
        var message = "\(kind) name '\(s.value)' is not a valid DNS-1123 label: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
        if let fix = sanitizedLabel(s.value, maxLength: 63) { message += " (e.g. '\(fix)')" }
        r.error(s.loc, message)
    }

    func checkNamespace(_ s: Located<String>, owner: String) -> Bool {
        guard isDNSLabel(s.value, maxLength: 63) else {
            var message = "\(owner) namespace '\(s.value)' is not a valid Kubernetes namespace name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
            if let fix = sanitizedLabel(s.value, maxLength: 63) { message += " (e.g. '\(fix)')" }
            r.error(s.loc, message)
            return false
        }
        return true
    }

    func readContainerPorts(_ items: [YNode], label: String) -> [PartialContainerPort] {
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
    func checkHostPorts() {
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
    func checkPodCapacity() {
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
}
