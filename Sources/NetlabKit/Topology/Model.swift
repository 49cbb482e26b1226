/// The resolved, validated topology: what the planner and the lab builder consume. Produced from a
/// YAML file by `TopologyLoader`; every reference is checked and every address is known.
public struct Topology: Hashable, Sendable, Codable {
    /// Where the topology came from (for messages only).
    public var source: String
    /// The topology's own name (`name:` in the file), informational.
    public var name: String
    public var vpc: VPC
    public var clusterCIDR: IPv4Prefix
    public var serviceCIDR: IPv4Prefix
    /// The cluster's IPv6 pod range in a dual-stack topology (the second `--cluster-cidr`), else nil.
    public var clusterCIDRv6: IPv6Prefix?
    /// The IPv6 service range in a dual-stack topology (the second `--service-cluster-ip-range`), else nil.
    public var serviceCIDRv6: IPv6Prefix?
    /// The external client and the 1:1 NAT gateway in front of the nodes; nil when the file has no `external:`.
    public var external: External?
    public var nodes: [Node]
    public var pods: [Pod]
    public var services: [Service]
    public var cni: CNISettings
    public var proxy: ProxySettings
    /// The user's long-running agents (kube-proxy, a CNI daemon), run on their nodes.
    public var agents: [Agent]
    /// The lab's Kubernetes API endpoint, on the VPC.
    public var api: APIEndpoint
    /// The datapath checks `netlab run` runs, in file order.
    public var checks: [Check]
    /// How the VPC carries the nodes' traffic (`shape:`); `Datapath(topology:)` builds it.
    public var shape: Shape
    /// An overlay the agents build between the nodes (`overlay:`), nil for none.
    public var overlay: Overlay?

    /// The datapath shapes a topology may ask for, each a `DatapathShape`.
    public enum Shape: String, Hashable, Sendable, Codable, CaseIterable {
        /// GKE's VPC-native datapath: the VPC is one L2 bridge, a gateway routes and NATs.
        case vpcNative
        /// The VPC routes at L3: a router with one link per node, like a cloud's virtual router.
        case routed
        /// pod — node — pod on one bridge, with no gateway, client or NAT.
        case minimal
    }

    public init(source: String, name: String, vpc: VPC, clusterCIDR: IPv4Prefix, serviceCIDR: IPv4Prefix,
                external: External?, nodes: [Node], pods: [Pod], services: [Service], cni: CNISettings,
                proxy: ProxySettings = ProxySettings(), agents: [Agent] = [], api: APIEndpoint? = nil, checks: [Check] = [],
                shape: Shape = .vpcNative, overlay: Overlay? = nil, clusterCIDRv6: IPv6Prefix? = nil, serviceCIDRv6: IPv6Prefix? = nil) {
        self.checks = checks; self.agents = agents; self.shape = shape; self.overlay = overlay
        self.clusterCIDRv6 = clusterCIDRv6; self.serviceCIDRv6 = serviceCIDRv6
        self.api = api ?? APIEndpoint(address: APIEndpoint.defaultAddress(subnet: vpc.subnet, taken: Set(nodes.map(\.ip) + [vpc.gateway]))
                                          ?? vpc.subnet.last.advanced(by: -1))
        self.source = source; self.name = name; self.vpc = vpc; self.clusterCIDR = clusterCIDR
        self.serviceCIDR = serviceCIDR; self.external = external; self.nodes = nodes; self.pods = pods
        self.services = services; self.cni = cni; self.proxy = proxy
    }

    enum CodingKeys: String, CodingKey {
        case source, name, vpc, clusterCIDR, serviceCIDR, external, nodes, pods, services, cni, proxy, agents, api, checks, shape, overlay
        case clusterCIDRv6, serviceCIDRv6
    }
    /// A lab recorded before `shape` existed was VPC-native; one recorded before IPv6 was IPv4-only.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(source: try c.decode(String.self, forKey: .source), name: try c.decode(String.self, forKey: .name),
                  vpc: try c.decode(VPC.self, forKey: .vpc), clusterCIDR: try c.decode(IPv4Prefix.self, forKey: .clusterCIDR),
                  serviceCIDR: try c.decode(IPv4Prefix.self, forKey: .serviceCIDR), external: try c.decodeIfPresent(External.self, forKey: .external),
                  nodes: try c.decode([Node].self, forKey: .nodes), pods: try c.decode([Pod].self, forKey: .pods),
                  services: try c.decode([Service].self, forKey: .services), cni: try c.decode(CNISettings.self, forKey: .cni),
                  proxy: try c.decode(ProxySettings.self, forKey: .proxy), agents: try c.decode([Agent].self, forKey: .agents),
                  api: try c.decode(APIEndpoint.self, forKey: .api), checks: try c.decode([Check].self, forKey: .checks),
                  shape: try c.decodeIfPresent(Shape.self, forKey: .shape) ?? .vpcNative,
                  overlay: try c.decodeIfPresent(Overlay.self, forKey: .overlay),
                  clusterCIDRv6: try c.decodeIfPresent(IPv6Prefix.self, forKey: .clusterCIDRv6),
                  serviceCIDRv6: try c.decodeIfPresent(IPv6Prefix.self, forKey: .serviceCIDRv6))
    }

    /// The families the cluster has, IPv4 first (netlab's dual-stack clusters are IPv4-primary,
    /// as GKE's are).
    public var families: [IPFamily] { vpc.subnetV6 == nil ? [.ipv4] : [.ipv4, .ipv6] }
    public var isDualStack: Bool { vpc.subnetV6 != nil }

    public func node(named n: String) -> Node? { nodes.first { $0.name == n } }
    public func pod(named n: String) -> Pod? { pods.first { $0.name == n } }
    public func pods(on node: String) -> [Pod] { pods.filter { $0.node == node } }
}

public struct VPC: Hashable, Sendable, Codable {
    /// The VPC subnet, e.g. 10.0.0.0/24; every node's IP lies in it.
    public var subnet: IPv4Prefix
    /// The subnet's gateway (the `gw` namespace's VPC address), e.g. 10.0.0.1.
    public var gateway: IPv4Address
    public var mtu: Int
    /// Who routes the pod ranges across the VPC.
    public var routing: Routing
    /// The subnet's IPv6 range in a dual-stack topology (a /64, as a GCE dual-stack subnet's), else nil.
    public var subnetV6: IPv6Prefix?
    /// The gateway's IPv6 address on the VPC, in `subnetV6`.
    public var gatewayV6: IPv6Address?

    public enum Routing: String, Hashable, Sendable, Codable, CaseIterable {
        /// VPC-native (GKE alias IPs): the VPC routes each node's podCIDR to that node, so the
        /// gateway and every other node have a route to it.
        case podRanges
        /// The VPC routes only the subnet: pod ranges are left to the agents (an overlay, BGP, a
        /// host-gw CNI), as on a VPC without alias IPs.
        case none
    }

    public init(subnet: IPv4Prefix, gateway: IPv4Address, mtu: Int, routing: Routing = .podRanges,
                subnetV6: IPv6Prefix? = nil, gatewayV6: IPv6Address? = nil) {
        self.subnet = subnet; self.gateway = gateway; self.mtu = mtu; self.routing = routing
        self.subnetV6 = subnetV6; self.gatewayV6 = gatewayV6
    }

    enum CodingKeys: String, CodingKey { case subnet, gateway, mtu, routing, subnetV6, gatewayV6 }
    /// A lab recorded before `routing` existed was VPC-native.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(subnet: try c.decode(IPv4Prefix.self, forKey: .subnet), gateway: try c.decode(IPv4Address.self, forKey: .gateway),
                  mtu: try c.decode(Int.self, forKey: .mtu), routing: try c.decodeIfPresent(Routing.self, forKey: .routing) ?? .podRanges,
                  subnetV6: try c.decodeIfPresent(IPv6Prefix.self, forKey: .subnetV6),
                  gatewayV6: try c.decodeIfPresent(IPv6Address.self, forKey: .gatewayV6))
    }
}

/// Where the lab's Kubernetes API listens: the address of its own member on the VPC subnet, as a
/// control-plane endpoint outside the nodes is, and its port.
public struct APIEndpoint: Hashable, Sendable, Codable {
    /// kube-apiserver's `--secure-port` default, which clients expect.
    public static let defaultPort = 6443
    public var address: IPv4Address
    public var port: Int
    /// HTTPS with a lab CA and a bearer token (in-cluster clients such as kindnetd insist on both),
    /// instead of plain HTTP.
    public var tls: Bool
    public init(address: IPv4Address, port: Int = APIEndpoint.defaultPort, tls: Bool = false) {
        self.address = address; self.port = port; self.tls = tls
    }

    enum CodingKeys: String, CodingKey { case address, port, tls }
    /// A lab recorded before `tls` existed served plain HTTP.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(address: try c.decode(IPv4Address.self, forKey: .address), port: try c.decode(Int.self, forKey: .port),
                  tls: try c.decodeIfPresent(Bool.self, forKey: .tls) ?? false)
    }

    /// The `server:` of the lab's kubeconfig, `{{apiServer}}`.
    public var url: String { "\(tls ? "https" : "http")://\(address):\(port)" }
    /// With TLS, the API also serves plain HTTP on this port of its own namespace's loopback, which
    /// only netlab reaches (its sockets are opened inside that namespace): its own changes.
    public static let localPort = 6080

    /// The default address: the subnet's highest usable host that is not `taken` (by a node or the
    /// gateway). The top, because the gateway takes the first host and topologies number their
    /// nodes upward from it: the API keeps its address when nodes are added. Nil when the subnet
    /// has no free host.
    public static func defaultAddress(subnet: IPv4Prefix, taken: Set<IPv4Address>) -> IPv4Address? {
        var a = Int64(subnet.last.value) - 1
        while a > Int64(subnet.first.value) {
            let candidate = IPv4Address(UInt32(a))
            if !taken.contains(candidate) { return candidate }
            a -= 1
        }
        return nil
    }
}

public struct External: Hashable, Sendable, Codable {
    /// The client's address with its prefix, e.g. 198.51.100.10/24.
    public var clientIP: IPv4Prefix
    /// The gateway's address on the client side, e.g. 198.51.100.1 (in clientIP's subnet).
    public var gatewayIP: IPv4Address
    /// In a dual-stack topology, the client's IPv6 address with its prefix (2001:db8::/32,
    /// RFC 3849). IPv6 is routed, not NATed: the client reaches the nodes' own IPv6 addresses, as
    /// a GCE VM's external IPv6 range is its own.
    public var clientIPv6: IPv6Prefix?
    /// The gateway's IPv6 address on the client side (in clientIPv6's subnet).
    public var gatewayIPv6: IPv6Address?
    public init(clientIP: IPv4Prefix, gatewayIP: IPv4Address, clientIPv6: IPv6Prefix? = nil, gatewayIPv6: IPv6Address? = nil) {
        self.clientIP = clientIP; self.gatewayIP = gatewayIP; self.clientIPv6 = clientIPv6; self.gatewayIPv6 = gatewayIPv6
    }
}

public struct Node: Hashable, Sendable, Codable {
    /// Also the name of the node's port on the VPC bridge, so at most 15 characters.
    public var name: String
    /// Internal IP in the VPC subnet (prefix length is the VPC's).
    public var ip: IPv4Address
    /// Public address mapped 1:1 to `ip` by the gateway; nil when the node has none.
    public var externalIP: IPv4Address?
    /// The node's secondary range for pods, inside the cluster CIDR.
    public var podCIDR: IPv4Prefix
    /// The node's IPv6 address in the VPC's subnetV6 (dual-stack), routed end to end (no NAT66).
    public var ipv6: IPv6Address?
    /// The node's IPv6 pod range inside clusterCIDRv6 (dual-stack; GKE gives each node a /112).
    public var podCIDRv6: IPv6Prefix?
    public init(name: String, ip: IPv4Address, externalIP: IPv4Address?, podCIDR: IPv4Prefix,
                ipv6: IPv6Address? = nil, podCIDRv6: IPv6Prefix? = nil) {
        self.name = name; self.ip = ip; self.externalIP = externalIP; self.podCIDR = podCIDR
        self.ipv6 = ipv6; self.podCIDRv6 = podCIDRv6
    }
}

public struct ContainerPort: Hashable, Sendable, Codable {
    public var containerPort: Int
    /// When set, the pod asks for a host port (CNI portMappings capability).
    public var hostPort: Int?
    public var proto: L4Protocol
    public init(containerPort: Int, hostPort: Int? = nil, proto: L4Protocol = .tcp) {
        self.containerPort = containerPort; self.hostPort = hostPort; self.proto = proto
    }
}

public enum L4Protocol: String, Hashable, Sendable, Codable, CaseIterable {
    case tcp = "TCP", udp = "UDP", sctp = "SCTP"
}

public struct Pod: Hashable, Sendable, Codable {
    public var name: String
    public var node: String
    public var namespace: String
    public var labels: [String: String]
    public var ports: [ContainerPort]
    public init(name: String, node: String, namespace: String = "default", labels: [String: String] = [:], ports: [ContainerPort] = []) {
        self.name = name; self.node = node; self.namespace = namespace; self.labels = labels; self.ports = ports
    }
}

public enum ServiceType: String, Hashable, Sendable, Codable, CaseIterable {
    case clusterIP = "ClusterIP", nodePort = "NodePort", loadBalancer = "LoadBalancer"

    /// NodePort and LoadBalancer services have node ports (allocateLoadBalancerNodePorts is
    /// always true in netlab) and an externalTrafficPolicy.
    public var hasNodePorts: Bool { self != .clusterIP }
}

public enum TrafficPolicy: String, Hashable, Sendable, Codable, CaseIterable {
    case cluster = "Cluster", local = "Local"
}

/// `spec.sessionAffinity`: ClientIP sends a client's connections to the backend it had before.
public enum SessionAffinity: String, Hashable, Sendable, Codable, CaseIterable {
    case none = "None", clientIP = "ClientIP"
}

public struct ServicePort: Hashable, Sendable, Codable {
    public var name: String?
    public var port: Int
    public var targetPort: Int
    public var nodePort: Int?
    public var proto: L4Protocol
    public init(name: String? = nil, port: Int, targetPort: Int, nodePort: Int? = nil, proto: L4Protocol = .tcp) {
        self.name = name; self.port = port; self.targetPort = targetPort; self.nodePort = nodePort; self.proto = proto
    }
}

public struct Service: Hashable, Sendable, Codable {
    public var name: String
    public var namespace: String
    public var type: ServiceType
    /// Allocated from the service CIDR when the file gives none.
    public var clusterIP: IPv4Address
    public var selector: [String: String]
    public var ports: [ServicePort]
    public var externalTrafficPolicy: TrafficPolicy
    public var internalTrafficPolicy: TrafficPolicy
    /// `spec.ipFamilyPolicy`.
    public var ipFamilyPolicy: IPFamilyPolicy
    /// The service's IPv6 cluster IP (the second of `clusterIPs`) when it is dual-stack, else nil.
    public var clusterIPv6: IPv6Address?
    /// LoadBalancer: the VIP the gateway (the lab's cloud load balancer) answers for,
    /// `status.loadBalancer.ingress[0].ip` (given, or allocated from TopologyLoader.loadBalancerPool).
    public var loadBalancerIP: IPv4Address?
    /// LoadBalancer: the client ranges the load balancer and the proxy let in (empty: everyone).
    public var loadBalancerSourceRanges: [IPv4Prefix]
    /// Addresses outside the cluster, routed to the nodes, where the service answers too.
    public var externalIPs: [IPv4Address]
    /// LoadBalancer with externalTrafficPolicy Local: where the proxy's health server answers.
    public var healthCheckNodePort: Int?
    public var sessionAffinity: SessionAffinity
    /// `sessionAffinityConfig.clientIP.timeoutSeconds` (ClientIP only); nil: the API's default, 10800.
    public var sessionAffinityTimeout: Int?
    public init(name: String, namespace: String = "default", type: ServiceType, clusterIP: IPv4Address, selector: [String: String],
                ports: [ServicePort], externalTrafficPolicy: TrafficPolicy = .cluster, internalTrafficPolicy: TrafficPolicy = .cluster,
                ipFamilyPolicy: IPFamilyPolicy = .singleStack, clusterIPv6: IPv6Address? = nil,
                loadBalancerIP: IPv4Address? = nil, loadBalancerSourceRanges: [IPv4Prefix] = [], externalIPs: [IPv4Address] = [],
                healthCheckNodePort: Int? = nil, sessionAffinity: SessionAffinity = .none, sessionAffinityTimeout: Int? = nil) {
        self.name = name; self.namespace = namespace; self.type = type; self.clusterIP = clusterIP; self.selector = selector
        self.ports = ports; self.externalTrafficPolicy = externalTrafficPolicy; self.internalTrafficPolicy = internalTrafficPolicy
        self.ipFamilyPolicy = ipFamilyPolicy; self.clusterIPv6 = clusterIPv6
        self.loadBalancerIP = loadBalancerIP; self.loadBalancerSourceRanges = loadBalancerSourceRanges
        self.externalIPs = externalIPs; self.healthCheckNodePort = healthCheckNodePort
        self.sessionAffinity = sessionAffinity; self.sessionAffinityTimeout = sessionAffinityTimeout
    }

    /// `spec.clusterIPs`: IPv4 first, then IPv6 when the service has one.
    public var clusterIPs: [IPAddress] { [.v4(clusterIP)] + (clusterIPv6.map { [.v6($0)] } ?? []) }
    /// `spec.ipFamilies`, in clusterIPs' order.
    public var ipFamilies: [IPFamily] { clusterIPs.map(\.family) }

    enum CodingKeys: String, CodingKey {
        case name, namespace, type, clusterIP, selector, ports, externalTrafficPolicy, internalTrafficPolicy, ipFamilyPolicy, clusterIPv6
        case loadBalancerIP, loadBalancerSourceRanges, externalIPs, healthCheckNodePort
        case sessionAffinity, sessionAffinityTimeout
    }
    /// A lab recorded before IPv6 had single-stack services.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name), namespace: try c.decode(String.self, forKey: .namespace),
                  type: try c.decode(ServiceType.self, forKey: .type), clusterIP: try c.decode(IPv4Address.self, forKey: .clusterIP),
                  selector: try c.decode([String: String].self, forKey: .selector), ports: try c.decode([ServicePort].self, forKey: .ports),
                  externalTrafficPolicy: try c.decode(TrafficPolicy.self, forKey: .externalTrafficPolicy),
                  internalTrafficPolicy: try c.decode(TrafficPolicy.self, forKey: .internalTrafficPolicy),
                  ipFamilyPolicy: try c.decodeIfPresent(IPFamilyPolicy.self, forKey: .ipFamilyPolicy) ?? .singleStack,
                  clusterIPv6: try c.decodeIfPresent(IPv6Address.self, forKey: .clusterIPv6),
                  loadBalancerIP: try c.decodeIfPresent(IPv4Address.self, forKey: .loadBalancerIP),
                  loadBalancerSourceRanges: try c.decodeIfPresent([IPv4Prefix].self, forKey: .loadBalancerSourceRanges) ?? [],
                  externalIPs: try c.decodeIfPresent([IPv4Address].self, forKey: .externalIPs) ?? [],
                  healthCheckNodePort: try c.decodeIfPresent(Int.self, forKey: .healthCheckNodePort),
                  sessionAffinity: try c.decodeIfPresent(SessionAffinity.self, forKey: .sessionAffinity) ?? .none,
                  sessionAffinityTimeout: try c.decodeIfPresent(Int.self, forKey: .sessionAffinityTimeout))
    }
}

/// `spec.ipFamilyPolicy` of a Service.
public enum IPFamilyPolicy: String, Hashable, Sendable, Codable, CaseIterable {
    case singleStack = "SingleStack", preferDualStack = "PreferDualStack", requireDualStack = "RequireDualStack"
}

public struct CNISettings: Hashable, Sendable, Codable {
    /// Directory of plugin binaries (CNI_PATH), e.g. /usr/lib/cni.
    public var binDir: String
    /// The network configuration list as written, before per-node templating ({{podCIDR}} etc.).
    public var conflist: JSONValue
    /// A plugin still running after this many seconds is stopped and the lab fails.
    public var timeoutSeconds: Double
    public init(binDir: String, conflist: JSONValue, timeoutSeconds: Double = 30) {
        self.binDir = binDir; self.conflist = conflist; self.timeoutSeconds = timeoutSeconds
    }
}

extension CNISettings {
    /// The Linux bridges the conflist's `bridge` plugins make on every node (`bridge`, default
    /// `cni0` as in the plugin): links of the node that netlab does not create but draws.
    public var nodeBridges: [String] {
        var names: [String] = []
        for p in conflist.objectValue?["plugins"]?.arrayValue ?? [] where p.objectValue?["type"]?.stringValue == "bridge" {
            let name = p.objectValue?["bridge"]?.stringValue ?? "cni0"
            if !names.contains(name) { names.append(name) }
        }
        return names
    }
}

/// The service proxy netlab runs on every node (see docs/proxy-contract.md).
public struct ProxySettings: Hashable, Sendable, Codable {
    public static let defaultCommand = ["netlab-proxy"]
    public static let defaultTimeout = 30.0
    /// The proxy's argv. A first element without '/' is looked up next to the netlab binary, then
    /// in the system directories; a relative path is relative to the topology file.
    public var command: [String]
    /// A proxy still running after this many seconds is stopped and the lab fails.
    public var timeoutSeconds: Double
    /// The topology file's directory, against which a relative command path is resolved.
    public var baseDirectory: String
    public var mode: Mode

    public enum Mode: String, Hashable, Sendable, Codable, CaseIterable {
        /// netlab runs `command` once per node at `up` and again whenever the endpoints change,
        /// with the Services and EndpointSlices in a file (docs/proxy-contract.md).
        case oneShot
        /// An agent (`agents:`) programs the services from the lab's API, as kube-proxy does;
        /// netlab changes the API and waits for the agents' `sync:` probes.
        case agent
    }

    public init(command: [String] = ProxySettings.defaultCommand, timeoutSeconds: Double = ProxySettings.defaultTimeout,
                baseDirectory: String = ".", mode: Mode = .oneShot) {
        self.command = command; self.timeoutSeconds = timeoutSeconds; self.baseDirectory = baseDirectory; self.mode = mode
    }

    enum CodingKeys: String, CodingKey { case command, timeoutSeconds, baseDirectory, mode }
    /// A lab recorded before `mode` existed ran its proxy one-shot.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(command: try c.decode([String].self, forKey: .command), timeoutSeconds: try c.decode(Double.self, forKey: .timeoutSeconds),
                  baseDirectory: try c.decode(String.self, forKey: .baseDirectory), mode: try c.decodeIfPresent(Mode.self, forKey: .mode) ?? .oneShot)
    }
}

/// A long-running program of the user's (kube-proxy, flanneld, a CNI's agent) that netlab runs on
/// each of its nodes: in the node's network namespace, with the node's hostname, and with its own
/// copy of `privateDirs`.
public struct Agent: Hashable, Sendable, Codable {
    /// How netlab knows the agent is serving. Probes run inside the node's network namespace; a
    /// file is looked for inside the agent's mount namespace.
    public enum Readiness: Hashable, Sendable, Codable {
        case http(IPv4Address, port: Int, path: String)
        case tcp(IPv4Address, port: Int)
        /// A line of its log matches this regular expression.
        case log(String)
        case file(String)
        /// Started is ready (no `ready:`).
        case started
    }

    public static let defaultTimeout = 30.0
    /// What `{{...}}` may name in `command` and `env`, each replaced per node.
    public static let placeholders = ["nodeName", "nodeIP", "podCIDR", "clusterCIDR", "serviceCIDR", "stateDir", "kubeconfig", "apiServer"]
        + ipv6Placeholders
    /// The IPv6 halves, valued only in a dual-stack topology.
    public static let ipv6Placeholders = ["nodeIPv6", "podCIDRv6", "clusterCIDRv6", "serviceCIDRv6"]

    public var name: String
    /// The argv as written, placeholders unexpanded. The program (never a placeholder) is an
    /// absolute path, relative to `baseDirectory`, or a bare name looked up next to netlab and then
    /// in the system directories (netlab-proxy), as `proxy.command`.
    public var command: [String]
    public var environment: [String: String]
    /// The nodes it runs on, in the topology's node order.
    public var nodes: [String]
    public var ready: Readiness
    /// How netlab knows the agent has acted on a change netlab made through the lab's API.
    public var sync: SyncProbe?
    public var timeoutSeconds: Double
    /// Absolute paths each node's agent gets as its own directory (a bind mount of one under its
    /// state directory, in its private mount namespace).
    public var privateDirs: [String]
    /// The topology file's directory.
    public var baseDirectory: String

    public init(name: String, command: [String], environment: [String: String] = [:], nodes: [String],
                ready: Readiness = .started, timeoutSeconds: Double = Agent.defaultTimeout, privateDirs: [String] = [],
                baseDirectory: String = ".", sync: SyncProbe? = nil) {
        self.name = name; self.command = command; self.environment = environment; self.nodes = nodes; self.ready = ready
        self.timeoutSeconds = timeoutSeconds; self.privateDirs = privateDirs; self.baseDirectory = baseDirectory
        self.sync = sync
    }

    /// `sync: {http: URL}`: after a change, the agent has synced once this URL, probed inside the
    /// node, answers 200 with a JSON `lastUpdated` (RFC 3339) later than the change, as
    /// kube-proxy's and netlab-proxy's /healthz do.
    public enum SyncProbe: Hashable, Sendable, Codable {
        case healthz(IPv4Address, port: Int, path: String)
    }

    /// The `{{name}}` placeholders in `s`, in order.
    public static func placeholderNames(in s: String) -> [String] {
        var names: [String] = []
        var rest = Substring(s)
        while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
            names.append(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return names
    }

    /// `s` with each `{{name}}` replaced by `values[name]` (validation has made sure every one is known).
    public static func expand(_ s: String, _ values: [String: String]) -> String {
        var out = ""
        var rest = Substring(s)
        while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
            out += rest[..<open.lowerBound]
            let name = String(rest[open.upperBound..<close.lowerBound])
            out += values[name] ?? String(rest[open.lowerBound..<close.upperBound])
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    /// The placeholder values for this agent on `node` of `topology`, its state directory being
    /// `stateDir` and the lab's kubeconfig the file at `kubeconfig`.
    public static func values(node: Node, topology: Topology, stateDir: String, kubeconfig: String) -> [String: String] {
        var values = ["nodeName": node.name, "nodeIP": "\(node.ip)", "podCIDR": "\(node.podCIDR)",
                      "clusterCIDR": "\(topology.clusterCIDR)", "serviceCIDR": "\(topology.serviceCIDR)", "stateDir": stateDir,
                      "kubeconfig": kubeconfig, "apiServer": topology.api.url]
        let v6: [(String, String?)] = [("nodeIPv6", node.ipv6?.description), ("podCIDRv6", node.podCIDRv6?.description),
                                       ("clusterCIDRv6", topology.clusterCIDRv6?.description), ("serviceCIDRv6", topology.serviceCIDRv6?.description)]
        for case let (k, v?) in v6 { values[k] = v }
        return values
    }
}
