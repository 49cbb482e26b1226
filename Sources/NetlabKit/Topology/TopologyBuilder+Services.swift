import Foundation
import Yams

struct PartialServicePort {
    var loc: YAMLLocation
    var name: Located<String>?
    var port: Located<Int>?
    var targetPort: Located<Int>?
    var nodePort: Located<Int>?
    var proto: L4Protocol
}

struct PartialService {
    var label: String
    var loc: YAMLLocation
    var name: Located<String>?
    var namespace: String
    var type: ServiceType
    /// False when `type:` was given but invalid (already reported): type-dependent checks are skipped.
    var typeKnown: Bool
    var clusterIP: Located<IPv4Address>?
    /// The IPv6 cluster IP, given (`clusterIP: [v4, v6]`) or allocated for a dual-stack service.
    var clusterIPv6: Located<IPv6Address>?
    var ipFamilyPolicy: IPFamilyPolicy = .singleStack
    var selector: [String: String]
    var externalTrafficPolicy: TrafficPolicy
    var internalTrafficPolicy: TrafficPolicy
    var ports: [PartialServicePort]
    /// LoadBalancer VIP, source ranges, externalIPs, healthCheckNodePort (TopologyBuilder+LoadBalancer).
    var lb = PartialLoadBalancer()
    var sessionAffinity: SessionAffinity = .none
    var sessionAffinityTimeout: Int?
}

extension TopologyBuilder {
    func readServices(_ top: Fields) {
        guard let list = top.optional("services"),
              let items = r.sequence(list, "services", itemExample: "a service with name, selector and ports") else { return }
        var byName: [String: YAMLLocation] = [:]
        var clusterIPs: [IPv4Address: (String, YAMLLocation)] = [:]
        var clusterIPv6s: [IPv6Address: (String, YAMLLocation)] = [:]
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
            let given = readClusterIPs(f, label: label)
            if let a = given?.v4 {
                if let range = serviceCIDR, checkHost(a, in: range.value, what: "\(label) clusterIP", rangeName: "serviceCIDR") {
                    if let (other, loc) = clusterIPs[a.value] {
                        r.error(a.loc, "\(label) clusterIP \(a.value) is already the clusterIP of \(other) (\(loc)); give each service its own address or leave clusterIP out to get one allocated")
                    } else {
                        clusterIPs[a.value] = (label, a.loc)
                        svc.clusterIP = a
                    }
                }
            }
            readIPFamilies(f, &svc, given: given, taken: &clusterIPv6s)
            if let n = f.optional("selector"), let m = r.labelMap(n, "\(label) selector") { svc.selector = m.value }
            if let n = f.optional("externalTrafficPolicy"), let p = r.enumeration(n, "\(label) externalTrafficPolicy", TrafficPolicy.self) {
                // Kubernetes rejects it too: only traffic from outside (NodePort, LoadBalancer, externalIPs) has an external policy.
                if svc.type == .clusterIP && svc.typeKnown && f.optional("externalIPs") == nil {
                    r.error(p.loc, "\(label) sets externalTrafficPolicy but is a ClusterIP service, which receives no external traffic; set type: NodePort or LoadBalancer, or remove externalTrafficPolicy")
                }
                svc.externalTrafficPolicy = p.value
            }
            if let n = f.optional("internalTrafficPolicy"), let p = r.enumeration(n, "\(label) internalTrafficPolicy", TrafficPolicy.self) {
                svc.internalTrafficPolicy = p.value
            }
            readSessionAffinity(f, &svc)
            if let n = f.required("ports", expected: "a list of ports like [{port: 9000, targetPort: 80}]"),
               let ports = r.sequence(n, "\(label) ports", itemExample: "a port like {port: 9000, targetPort: 80}") {
                if ports.isEmpty { r.error(n.location, "\(label) ports is empty; list at least one port like {port: 9000, targetPort: 80}") }
                svc.ports = readServicePorts(ports, service: svc)
            }
            readLoadBalancer(f, &svc)
            services.append(svc)
        }
        checkNodePorts()
        allocateClusterIPs(taken: Set(clusterIPs.keys))
        allocateClusterIPv6s(taken: Set(clusterIPv6s.keys))
        allocateNodePorts()
        allocateLoadBalancers()
    }

    func readServicePorts(_ items: [YNode], service svc: PartialService) -> [PartialServicePort] {
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
                if !svc.type.hasNodePorts && svc.typeKnown {
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
    func checkNodePorts() {
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

    /// Services without a clusterIP get theirs in file order (Allocation.clusterIPs); explicit
    /// addresses anywhere in the file are skipped, wherever they appear.
    func allocateClusterIPs(taken: Set<IPv4Address>) {
        guard let range = serviceCIDR?.value else { return }
        let offset = TopologyLoader.clusterIPAllocationOffset
        let waiting = services.indices.filter { services[$0].clusterIP == nil }
        let got = Allocation.clusterIPs(waiting.count, in: range, offset: offset, taken: taken)
        for (i, a) in zip(waiting, got) { services[i].clusterIP = Located(value: a, loc: services[i].loc) }
        guard got.count < waiting.count else { return }
        let i = waiting[got.count], left = waiting.count - got.count
        let span = Allocation.automaticClusterIPs(in: range, offset: offset).map { "\($0.lowerBound) to \($0.upperBound)" }
            ?? "none: the range is smaller than the offset of \(offset)"
        r.error(services[i].loc, "no free clusterIP left in serviceCIDR \(range) for \(services[i].label)\(left > 1 ? " and \(left - 1) later service(s)" : "") (automatic addresses: \(span)); use a larger serviceCIDR or give these services a clusterIP")
    }

    /// NodePort service ports without a nodePort get theirs in file order (Allocation.nodePorts),
    /// avoiding every number any service port uses.
    func allocateNodePorts() {
        let range = TopologyLoader.nodePortRange
        // Given healthCheckNodePorts come from the same range: skip them too.
        let used = Set(services.flatMap { $0.ports.compactMap { $0.nodePort?.value } } + services.compactMap { $0.lb.healthCheckNodePort?.value })
        let waiting = services.indices.filter { services[$0].type.hasNodePorts }.flatMap { i in
            services[i].ports.indices.filter { services[i].ports[$0].nodePort == nil }.map { (i, $0) }
        }
        let got = Allocation.nodePorts(waiting.count, in: range, used: used)
        for ((i, j), port) in zip(waiting, got) { services[i].ports[j].nodePort = Located(value: port, loc: services[i].ports[j].loc) }
        guard got.count < waiting.count else { return }
        let (i, j) = waiting[got.count]
        r.error(services[i].ports[j].loc, "no free nodePort left for \(services[i].label) ports[\(j)]: all of \(range.lowerBound)-\(range.upperBound) are taken; use fewer NodePort services or ports")
    }
}
