import Foundation

// The subset of Kubernetes API objects a service proxy reads: v1 Service, discovery.k8s.io/v1
// EndpointSlice, and the v1 List that carries them (NETLAB_SERVICES). Field names and JSON shapes
// are the API server's; synthesized Codable ignores every field not declared here, so real
// `kubectl get svc,endpointslices -o json` output decodes.

public struct ObjectMeta: Hashable, Sendable, Codable {
    public var name: String
    public var namespace: String?
    public var uid: String?
    public var labels: [String: String]?
    public var ownerReferences: [OwnerReference]?
    public init(name: String, namespace: String? = nil, uid: String? = nil, labels: [String: String]? = nil,
                ownerReferences: [OwnerReference]? = nil) {
        self.name = name; self.namespace = namespace; self.uid = uid; self.labels = labels; self.ownerReferences = ownerReferences
    }
}

public struct OwnerReference: Hashable, Sendable, Codable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?
    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool? = nil, blockOwnerDeletion: Bool? = nil) {
        self.apiVersion = apiVersion; self.kind = kind; self.name = name; self.uid = uid
        self.controller = controller; self.blockOwnerDeletion = blockOwnerDeletion
    }
}

/// Kubernetes' IntOrString: `targetPort: 80` or `targetPort: "http"`.
public enum IntOrString: Hashable, Sendable, Codable, CustomStringConvertible {
    case int(Int)
    case string(String)

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int.self) { self = .int(i) } else { self = .string(try c.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let i): try c.encode(i)
        case .string(let s): try c.encode(s)
        }
    }

    public var description: String {
        switch self {
        case .int(let i): return String(i)
        case .string(let s): return s
        }
    }
}

public struct KubeServicePort: Hashable, Sendable, Codable {
    public var name: String?
    /// "TCP" (the API default when absent), "UDP" or "SCTP".
    public var `protocol`: String?
    public var port: Int
    public var targetPort: IntOrString?
    public var nodePort: Int?
    public init(name: String? = nil, protocol: String? = "TCP", port: Int, targetPort: IntOrString? = nil, nodePort: Int? = nil) {
        self.name = name; self.protocol = `protocol`; self.port = port; self.targetPort = targetPort; self.nodePort = nodePort
    }
}

public struct KubeServiceSpec: Hashable, Sendable, Codable {
    /// ClusterIP (default when absent), NodePort, LoadBalancer, ExternalName.
    public var type: String?
    /// "None" for a headless service.
    public var clusterIP: String?
    public var clusterIPs: [String]?
    public var ipFamilies: [String]?
    public var ipFamilyPolicy: String?
    public var ports: [KubeServicePort]?
    public var selector: [String: String]?
    public var sessionAffinity: String?
    public var sessionAffinityConfig: SessionAffinityConfig?
    public var externalTrafficPolicy: String?
    public var internalTrafficPolicy: String?
    /// Addresses outside the cluster that route to a node, where the service answers too.
    public var externalIPs: [String]?
    /// LoadBalancer only: the client CIDRs the load balancer (and kube-proxy's KUBE-FW-*) lets in.
    public var loadBalancerSourceRanges: [String]?
    /// LoadBalancer with externalTrafficPolicy Local: the node port where kube-proxy's health
    /// server answers 200 when the node has a local endpoint, 503 when it has none.
    public var healthCheckNodePort: Int?
    public init(type: String? = nil, clusterIP: String? = nil, clusterIPs: [String]? = nil, ipFamilies: [String]? = nil,
                ipFamilyPolicy: String? = nil, ports: [KubeServicePort]? = nil, selector: [String: String]? = nil,
                sessionAffinity: String? = nil, externalTrafficPolicy: String? = nil, internalTrafficPolicy: String? = nil,
                sessionAffinityConfig: SessionAffinityConfig? = nil, externalIPs: [String]? = nil,
                loadBalancerSourceRanges: [String]? = nil, healthCheckNodePort: Int? = nil) {
        self.type = type; self.clusterIP = clusterIP; self.clusterIPs = clusterIPs; self.ipFamilies = ipFamilies
        self.ipFamilyPolicy = ipFamilyPolicy; self.ports = ports; self.selector = selector; self.sessionAffinity = sessionAffinity
        self.externalTrafficPolicy = externalTrafficPolicy; self.internalTrafficPolicy = internalTrafficPolicy
        self.sessionAffinityConfig = sessionAffinityConfig; self.externalIPs = externalIPs
        self.loadBalancerSourceRanges = loadBalancerSourceRanges; self.healthCheckNodePort = healthCheckNodePort
    }

    /// spec.sessionAffinityConfig.clientIP.timeoutSeconds, when given.
    public var sessionAffinityTimeout: Int? { sessionAffinityConfig?.clientIP?.timeoutSeconds }
}

public struct SessionAffinityConfig: Hashable, Sendable, Codable {
    public struct ClientIP: Hashable, Sendable, Codable {
        public var timeoutSeconds: Int?
        public init(timeoutSeconds: Int?) { self.timeoutSeconds = timeoutSeconds }
    }
    public var clientIP: ClientIP?
    public init(clientIP: ClientIP?) { self.clientIP = clientIP }
}

/// `status.loadBalancer.ingress[]`: where the cloud's load balancer answers for the service.
public struct LoadBalancerIngress: Hashable, Sendable, Codable {
    public var ip: String?
    public var hostname: String?
    /// "VIP" (the default: packets reach the node with the VIP as destination, kube-proxy
    /// handles them) or "Proxy" (the load balancer rewrites them; kube-proxy leaves the VIP alone).
    public var ipMode: String?
    public init(ip: String? = nil, hostname: String? = nil, ipMode: String? = nil) { self.ip = ip; self.hostname = hostname; self.ipMode = ipMode }
}

public struct KubeServiceStatus: Hashable, Sendable, Codable {
    public struct LoadBalancer: Hashable, Sendable, Codable {
        public var ingress: [LoadBalancerIngress]?
        public init(ingress: [LoadBalancerIngress]? = nil) { self.ingress = ingress }
    }
    public var loadBalancer: LoadBalancer?
    public init(loadBalancer: LoadBalancer? = nil) { self.loadBalancer = loadBalancer }
}

public struct KubeService: Hashable, Sendable, Codable {
    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: KubeServiceSpec
    public var status: KubeServiceStatus?
    public init(metadata: ObjectMeta, spec: KubeServiceSpec, status: KubeServiceStatus? = nil) {
        apiVersion = "v1"; kind = "Service"; self.metadata = metadata; self.spec = spec; self.status = status
    }
    /// The load balancer's ingress IPs (status.loadBalancer.ingress[].ip).
    public var loadBalancerIngressIPs: [String] { status?.loadBalancer?.ingress?.compactMap(\.ip) ?? [] }
    public var namespace: String { metadata.namespace ?? "default" }
}

public struct EndpointConditions: Hashable, Sendable, Codable {
    public var ready: Bool?
    public var serving: Bool?
    public var terminating: Bool?
    public init(ready: Bool? = nil, serving: Bool? = nil, terminating: Bool? = nil) {
        self.ready = ready; self.serving = serving; self.terminating = terminating
    }
}

public struct ObjectReference: Hashable, Sendable, Codable {
    public var kind: String?
    public var namespace: String?
    public var name: String?
    public var uid: String?
    public init(kind: String? = nil, namespace: String? = nil, name: String? = nil, uid: String? = nil) {
        self.kind = kind; self.namespace = namespace; self.name = name; self.uid = uid
    }
}

public struct KubeEndpoint: Hashable, Sendable, Codable {
    public var addresses: [String]
    public var conditions: EndpointConditions?
    public var nodeName: String?
    public var targetRef: ObjectReference?
    public init(addresses: [String], conditions: EndpointConditions? = nil, nodeName: String? = nil, targetRef: ObjectReference? = nil) {
        self.addresses = addresses; self.conditions = conditions; self.nodeName = nodeName; self.targetRef = targetRef
    }
}

public struct EndpointPort: Hashable, Sendable, Codable {
    /// The service port's name; "" for an unnamed port (the controller always sets it).
    public var name: String?
    public var port: Int?
    public var `protocol`: String?
    public init(name: String?, port: Int?, protocol: String?) { self.name = name; self.port = port; self.protocol = `protocol` }
}

public struct EndpointSlice: Hashable, Sendable, Codable {
    public static let serviceNameLabel = "kubernetes.io/service-name"

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var addressType: String
    /// `null` in the API when the slice is empty; decoded as [].
    public var endpoints: [KubeEndpoint]
    public var ports: [EndpointPort]?

    public init(metadata: ObjectMeta, addressType: String = "IPv4", endpoints: [KubeEndpoint], ports: [EndpointPort]?) {
        apiVersion = "discovery.k8s.io/v1"; kind = "EndpointSlice"
        self.metadata = metadata; self.addressType = addressType; self.endpoints = endpoints; self.ports = ports
    }

    enum CodingKeys: String, CodingKey { case apiVersion, kind, metadata, addressType, endpoints, ports }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try c.decodeIfPresent(String.self, forKey: .apiVersion) ?? "discovery.k8s.io/v1"
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? "EndpointSlice"
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        addressType = try c.decode(String.self, forKey: .addressType)
        endpoints = try c.decodeIfPresent([KubeEndpoint].self, forKey: .endpoints) ?? []
        ports = try c.decodeIfPresent([EndpointPort].self, forKey: .ports)
    }

    public var namespace: String { metadata.namespace ?? "default" }
    public var serviceName: String? { metadata.labels?[Self.serviceNameLabel] }
}

/// One item of a List. Kinds a proxy does not use are kept as raw JSON so that nothing is lost.
public enum KubeObject: Hashable, Sendable, Codable {
    case service(KubeService)
    case endpointSlice(EndpointSlice)
    case other(JSONValue)

    private enum KindKey: String, CodingKey { case kind }

    public init(from decoder: Decoder) throws {
        let kind = try decoder.container(keyedBy: KindKey.self).decodeIfPresent(String.self, forKey: .kind)
        switch kind {
        case "Service": self = .service(try KubeService(from: decoder))
        case "EndpointSlice": self = .endpointSlice(try EndpointSlice(from: decoder))
        default: self = .other(try JSONValue(from: decoder))
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .service(let s): try s.encode(to: encoder)
        case .endpointSlice(let e): try e.encode(to: encoder)
        case .other(let v): try v.encode(to: encoder)
        }
    }
}

/// A v1 `List`, the shape of `kubectl get svc,endpointslices -A -o json`.
public struct KubeList: Hashable, Sendable, Codable {
    public var apiVersion: String
    public var kind: String
    public var items: [KubeObject]

    public init(items: [KubeObject]) { apiVersion = "v1"; kind = "List"; self.items = items }

    enum CodingKeys: String, CodingKey { case apiVersion, kind, items }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try c.decodeIfPresent(String.self, forKey: .apiVersion) ?? "v1"
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? "List"
        items = try c.decodeIfPresent([KubeObject].self, forKey: .items) ?? []
    }

    public var services: [KubeService] {
        items.compactMap { if case .service(let s) = $0 { return s } else { return nil } }
    }
    public var endpointSlices: [EndpointSlice] {
        items.compactMap { if case .endpointSlice(let e) = $0 { return e } else { return nil } }
    }

    public static func decode(_ data: Data) throws -> KubeList { try JSONDecoder().decode(KubeList.self, from: data) }

    /// Pretty JSON with sorted keys: stable, diffable, golden-testable.
    public func encodedJSON() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try! e.encode(self), as: UTF8.self) + "\n"
    }
}
