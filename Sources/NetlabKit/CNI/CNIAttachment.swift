import Foundation

/// One pod's attachment to the network: what libcni calls the RuntimeConf.
public struct CNIAttachment: Hashable, Sendable {
    /// The sandbox (pause container) ID; plugins key their state by it (host-local, portmap chains).
    public var containerID: String
    /// Path of the pod's network namespace, e.g. /run/netns/netlab-web.
    public var netnsPath: String
    public var ifName: String
    public var podName: String
    public var podNamespace: String
    public var podUID: String
    /// Capability arguments ("portMappings", "bandwidth", …). Each reaches only the plugins that
    /// declare the capability, inside their "runtimeConfig".
    public var capabilityArgs: [String: JSONValue]

    /// `ifName` defaults to the pod interface of the datapath every lab has (CNI_IFNAME).
    public init(containerID: String, netnsPath: String, ifName: String = Datapath.shape.podInterface, podName: String, podNamespace: String = "default",
                podUID: String, capabilityArgs: [String: JSONValue] = [:]) {
        self.containerID = containerID; self.netnsPath = netnsPath; self.ifName = ifName; self.podName = podName
        self.podNamespace = podNamespace; self.podUID = podUID; self.capabilityArgs = capabilityArgs
    }

    /// The attachment for a topology pod; its host ports become the "portMappings" capability argument.
    public init(pod: Pod, containerID: String, netnsPath: String, podUID: String, ifName: String = Datapath.shape.podInterface) {
        var caps: [String: JSONValue] = [:]
        if let pm = CNIAttachment.portMappings(pod.ports) { caps["portMappings"] = pm }
        self.init(containerID: containerID, netnsPath: netnsPath, ifName: ifName, podName: pod.name,
                  podNamespace: pod.namespace, podUID: podUID, capabilityArgs: caps)
    }

    /// The "portMappings" value in the shape the portmap plugin decodes and containerd sends:
    /// `[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]`, protocol lowercase, only ports with a
    /// host port. Nil when no port asks for one (containerd then omits the capability).
    public static func portMappings(_ ports: [ContainerPort]) -> JSONValue? {
        let mappings: [JSONValue] = ports.compactMap { p in
            guard let hp = p.hostPort, hp > 0 else { return nil }
            return .object([
                "hostPort": .number(Double(hp)),
                "containerPort": .number(Double(p.containerPort)),
                "protocol": .string(p.proto.rawValue.lowercased()),
            ])
        }
        return mappings.isEmpty ? nil : .array(mappings)
    }

    /// CNI_ARGS as the kubelet/containerd pair passes them. (containerd builds them from a Go map, so
    /// its order varies; netlab fixes this one so invocations are reproducible.)
    public var cniArgs: [(String, String)] {
        [("IgnoreUnknown", "1"), ("K8S_POD_NAMESPACE", podNamespace), ("K8S_POD_NAME", podName),
         ("K8S_POD_INFRA_CONTAINER_ID", containerID), ("K8S_POD_UID", podUID)]
    }

    public var cniArgsString: String { cniArgs.map { "\($0.0)=\($0.1)" }.joined(separator: ";") }

    /// What the kernel (and libcni) refuse in an interface name, or nil when it is a valid one.
    public static func interfaceNameProblem(_ name: String) -> String? {
        guard !name.isEmpty, name.utf8.count <= 15, name != ".", name != "..",
              !name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) else {
            return "an interface name is 1 to 15 bytes, not \".\" or \"..\", without '/', ':' or spaces"
        }
        return nil
    }

    /// The checks libcni makes before running a plugin (container ID and interface name), plus the
    /// ones CNI_ARGS needs: a ';' or '=' in a value would be split into a different argument.
    /// DEL may have no namespace (an empty path: it is gone), which the spec allows.
    public func validate(for command: CNICommand = .add) throws {
        guard !containerID.isEmpty else { throw CNIConfigError("the CNI container ID is empty") }
        guard CNINetworkConfigList.isValidIdentifier(containerID) else {
            throw CNIConfigError("CNI container ID \"\(containerID)\" is invalid: use letters, digits, '_', '.', '-', starting with a letter or digit")
        }
        if let problem = Self.interfaceNameProblem(ifName) { throw CNIConfigError("interface name \"\(ifName)\" is invalid: \(problem)") }
        guard netnsPath.hasPrefix("/") || (command == .del && netnsPath.isEmpty) else {
            throw CNIConfigError("network namespace path \"\(netnsPath)\" must be absolute")
        }
        for (k, v) in cniArgs where v.contains(";") || v.contains("=") || v.isEmpty {
            throw CNIConfigError("\(k) \"\(v)\" cannot be passed in CNI_ARGS: it must be non-empty and contain no ';' or '='")
        }
    }
}
