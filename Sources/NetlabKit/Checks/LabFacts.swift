/// What a check's references mean in one lab: the topology's addresses plus what the CNI plugins
/// handed out. `attributes` lists, per kind of object, what can be referred to, so the topology
/// loader rejects `pod2.ipp` before anything runs.
public struct LabFacts: Sendable {
    public enum Value: Hashable, Sendable, CustomStringConvertible {
        case address(IPAddress), port(Int)
        public var description: String {
            switch self { case .address(let a): return "\(a)"; case .port(let p): return "\(p)" }
        }
        public var address: IPAddress? { if case .address(let a) = self { return a } else { return nil } }
        public var port: Int? { if case .port(let p) = self { return p } else { return nil } }
    }

    public enum ValueKind: String, Sendable { case address, port }

    /// What a reference's object is: a node, a pod, a service, or a member the datapath's shape
    /// adds (the client, the gateway), which messages call by its name.
    public enum ObjectKind: Hashable, Sendable {
        case node, pod, service
        case member(Member.Role)

        func name(of object: String) -> String {
            switch self {
            case .node: return "node"
            case .pod: return "pod"
            case .service: return "service"
            case .member: return object
            }
        }
    }

    /// Attributes by kind of object, with what they are. IPv6 ones (LabFacts+IPv6.swift) exist in
    /// dual-stack topologies only; `ips` and `clusterIPs` take an index, IPv4 first (`pod2.ips[1]`).
    public static let attributes: [ObjectKind: [(name: String, kind: ValueKind, meaning: String)]] = [
        .node: [("ip", .address, "the node's internal (VPC) address"),
                ("externalIP", .address, "the node's external address, mapped 1:1 by the gateway"),
                ("vtep", .address, "the node's VTEP address (with overlay: its podCIDR's network address)"),
                ("ipv6", .address, "the node's IPv6 address on the VPC (dual-stack; routed, not NATed)")],
        .pod: [("ip", .address, "the pod's address on its interface, from its CNI result"),
               ("gateway", .address, "the pod's gateway from its CNI result (ptp: the node side of its veth)"),
               ("ipv6", .address, "the pod's IPv6 address from its CNI result (dual-stack)"),
               ("gatewayV6", .address, "the pod's IPv6 gateway from its CNI result (dual-stack)"),
               ("ips", .address, "the pod's addresses, IPv4 first: ips[0], ips[1] (as status.podIPs)")],
        .service: [("clusterIP", .address, "the service's cluster IP"),
                   ("clusterIPv6", .address, "the service's IPv6 cluster IP (a dual-stack service)"),
                   ("clusterIPs", .address, "the service's cluster IPs, IPv4 first: clusterIPs[0], clusterIPs[1]"),
                   ("port", .port, "the service's (first) port"),
                   ("targetPort", .port, "the (first) port's target port on the pods"),
                   ("nodePort", .port, "the (first) port's node port"),
                   ("loadBalancerIP", .address, "a LoadBalancer's VIP (status.loadBalancer.ingress[0].ip), routed by the gateway"),
                   ("externalIP", .address, "the service's first externalIP"),
                   ("healthCheckNodePort", .port, "a LoadBalancer's (externalTrafficPolicy Local) health check node port")],
        .member(.client): [("ip", .address, "the external client's address"),
                           ("ipv6", .address, "the external client's IPv6 address (dual-stack)")],
        .member(.gateway): [("ip", .address, "the VPC gateway's address"),
                            ("clientSideIP", .address, "the gateway's address on the client's side"),
                            ("ipv6", .address, "the VPC gateway's IPv6 address (dual-stack)"),
                            ("clientSideIPv6", .address, "the gateway's IPv6 address on the client's side (dual-stack)")],
    ]

    public let topology: Topology
    public let pods: [String: LabRecord.PodAddress]
    let datapath: Datapath

    public init(topology: Topology, pods: [String: LabRecord.PodAddress]) {
        self.topology = topology; self.pods = pods; self.datapath = Datapath(topology: topology)
    }

    /// The kind of object a name refers to in `t`, or nil.
    public static func kind(of object: String, in t: Topology) -> ObjectKind? { kind(of: object, in: t, datapath: Datapath(topology: t)) }

    static func kind(of object: String, in t: Topology, datapath d: Datapath) -> ObjectKind? {
        if let m = d.member(named: object) {
            switch m.role {
            case .node: return .node
            case .pod: return .pod
            case .vpc: return nil
            case let role: return attributes[.member(role)] == nil ? nil : .member(role)
            }
        }
        // The client's name means the client, also in a lab without one.
        if d.ownMembers.contains(where: { $0.name == object && attributes[.member($0.role)] != nil }) { return nil }
        if t.services.contains(where: { $0.name == object }) { return .service }
        return nil
    }

    /// Checks a reference against the topology alone; returns what is wrong, or nil.
    public static func problem(with ref: Ref, in t: Topology, expecting kind: ValueKind) -> String? {
        guard let (object, attribute) = ref.reference else {
            switch kind {
            case .address: return IPAddress(ref.text) == nil ? "'\(ref)' is neither an IP address nor a reference like node2.ip" : nil
            case .port: return Int(ref.text).map { (1...65535).contains($0) ? nil : "port \($0) is outside 1-65535" } ?? "'\(ref)' is neither a port number nor a reference like svc-webport.nodePort"
            }
        }
        let d = Datapath(topology: t)
        if let why = missingMember(object, in: t, datapath: d) { return "'\(ref)' refers to \(why)" }
        guard let k = Self.kind(of: object, in: t, datapath: d) else {
            // The shape's members that have attributes, outermost first (client, gateway).
            let own = d.ownMembers.reversed().filter { attributes[.member($0.role)] != nil }.map(\.name)
            let names = own + t.nodes.map(\.name) + t.pods.map(\.name) + t.services.map(\.name)
            var m = "'\(ref)' refers to '\(object)', which is not a node, pod, service, \(own.joined(separator: " or ")) of this topology"
            if let c = closestMatch(object, among: names) { m += " (did you mean '\(c)'?)" }
            return m
        }
        let attrs = attributes[k]!
        let (name, index) = Self.indexed(attribute)
        guard let a = attrs.first(where: { $0.name == name }) else {
            // What this topology can answer: no IPv6 attribute in a single-stack one.
            let usable = attrs.filter { t.isDualStack || !Self.isIPv6Attribute($0.name) }
            return "'\(ref)': a \(k.name(of: object)) has no '\(attribute)'; use one of \(usable.map { "\(object).\($0.name)" + (Self.indexable.contains($0.name) ? "[0]" : "") }.joined(separator: ", "))"
        }
        if let why = familyProblem(ref, object: object, kind: k, name: name, index: index, in: t) { return why }
        if a.kind != kind { return "'\(ref)' is \(a.kind == .port ? "a port" : "an address"), but \(kind == .port ? "a port" : "an address") is needed here" }
        if k == .node, attribute == "externalIP", d.the(.gateway) == nil {
            return "'\(ref)': the \(t.shape.rawValue) shape has no gateway, so no node has an external address; use \(object).ip, or shape: vpcNative or routed"
        }
        if k == .node, attribute == "externalIP", t.node(named: object)?.externalIP == nil {
            return "'\(ref)': node '\(object)' has no externalIP"
        }
        if k == .node, attribute == "vtep", t.overlay == nil {
            return "'\(ref)': the topology has no overlay, so no node has a VTEP; add overlay: {type: vxlan} (with vpc.routing: none)"
        }
        if k == .service, let s = t.services.first(where: { $0.name == object }), attribute == "nodePort", s.ports.first?.nodePort == nil {
            return "'\(ref)': service '\(object)' is \(s.type.rawValue), it has no nodePort"
        }
        if k == .service, let s = t.services.first(where: { $0.name == object }), let why = Self.loadBalancerProblem(s, attribute: attribute) {
            return "'\(ref)': service '\(object)' \(why)"
        }
        return nil
    }

    /// Why service `s` has no `attribute` of the LoadBalancer kind, or nil.
    static func loadBalancerProblem(_ s: Service, attribute: String) -> String? {
        switch attribute {
        case "loadBalancerIP" where s.loadBalancerIP == nil: return "is \(s.type.rawValue), it has no loadBalancerIP (only a LoadBalancer has one)"
        case "externalIP" where s.externalIPs.isEmpty: return "has no externalIPs"
        case "healthCheckNodePort" where s.healthCheckNodePort == nil:
            return "has no healthCheckNodePort (only a LoadBalancer with externalTrafficPolicy: Local has one)"
        default: return nil
        }
    }

    /// Why `name` is no member of `t`'s lab when another shape has a member so named (`client` in
    /// the minimal shape), or nil.
    public static func missingMember(_ name: String, in t: Topology, datapath d: Datapath) -> String? {
        guard d.member(named: name) == nil, !d.ownMembers.contains(where: { $0.name == name }) else { return nil }
        let others = Topology.Shape.allCases.filter { Datapath.shape($0).ownMembers.contains { $0.name == name } }
        guard !others.isEmpty else { return nil }
        let own = d.ownMembers.map(\.name)
        return "'\(name)', which the \(t.shape.rawValue) shape does not have (its members: \((own + ["the nodes and pods"]).joined(separator: ", "))); "
            + "start and end its checks at pods, nodes and services, or use shape: \(others.map(\.rawValue).joined(separator: " or ")) for a \(name)"
    }

    public struct Unresolved: Error, CustomStringConvertible {
        public var ref: Ref, reason: String
        public var description: String { "cannot resolve '\(ref)': \(reason)" }
    }

    public func resolve(_ ref: Ref) throws -> Value {
        guard let (object, attribute) = ref.reference else {
            if let a = IPAddress(ref.text) { return .address(a) }
            if let p = Int(ref.text) { return .port(p) }
            throw Unresolved(ref: ref, reason: "not an address, a port or a reference")
        }
        let t = topology
        if let v = try resolveDualStack(ref, object: object, attribute: attribute) { return v }
        if let m = datapath.member(named: object), m.role == .client || m.role == .gateway {
            // A shape member's addresses are the plan's: the client's on its link, the gateway's
            // on its VPC side (ip) and on its client side (clientSideIP).
            let at: InterfaceRef?
            switch (m.role, attribute) {
            case (.client, "ip"): at = datapath.primaryInterface(of: object)
            case (.gateway, "ip"): at = datapath.uplink(of: object)
            case (.gateway, "clientSideIP"): at = datapath.interface(of: object, toward: .client).map { InterfaceRef(member: object, interface: $0) }
            default: at = nil
            }
            if let at, let a = datapath.addresses.first(where: { $0.at == at && $0.prefix.family == .ipv4 })?.prefix.address { return .address(a) }
        }
        if let n = t.node(named: object) {
            if attribute == "ip" { return .address(.v4(n.ip)) }
            if attribute == "externalIP", let e = n.externalIP { return .address(.v4(e)) }
            if attribute == "vtep", let o = t.overlay { return .address(.v4(o.vtepAddress(of: n))) }
        }
        if t.pod(named: object) != nil {
            guard let p = pods[object] else { throw Unresolved(ref: ref, reason: "pod '\(object)' has no address (its CNI ADD gave none)") }
            if attribute == "ip" { return .address(.v4(p.address.address)) }
            if attribute == "gateway" {
                guard let g = p.gateway else { throw Unresolved(ref: ref, reason: "the CNI result of pod '\(object)' has no gateway") }
                return .address(.v4(g))
            }
        }
        if let s = t.services.first(where: { $0.name == object }), let p = s.ports.first {
            switch attribute {
            case "clusterIP": return .address(.v4(s.clusterIP))
            case "port": return .port(p.port)
            case "targetPort": return .port(p.targetPort)
            case "nodePort": if let np = p.nodePort { return .port(np) }
            case "loadBalancerIP": if let a = s.loadBalancerIP { return .address(.v4(a)) }
            case "externalIP": if let a = s.externalIPs.first { return .address(.v4(a)) }
            case "healthCheckNodePort": if let h = s.healthCheckNodePort { return .port(h) }
            default: break
            }
        }
        throw Unresolved(ref: ref, reason: "no such attribute here")
    }

    public func address(_ ref: Ref) throws -> IPAddress {
        guard let a = try resolve(ref).address else { throw Unresolved(ref: ref, reason: "it is a port, not an address") }
        return a
    }

    public func port(_ ref: Ref) throws -> Int {
        guard let p = try resolve(ref).port else { throw Unresolved(ref: ref, reason: "it is an address, not a port") }
        return p
    }

    /// "10.0.0.38 (node2.ip)", or just the literal.
    public func show(_ ref: Ref) -> String {
        guard ref.reference != nil else { return ref.text }
        return ((try? resolve(ref)).map { "\($0) (\(ref))" }) ?? "\(ref) (unresolved)"
    }
}
