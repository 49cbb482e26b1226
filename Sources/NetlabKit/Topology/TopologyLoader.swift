import Foundation
import Yams

/// Reads a topology YAML file into a validated `Topology`. Every problem is reported as
/// `file:line:column: message` pointing at the YAML node at fault; as many as possible are
/// collected before throwing one `TopologyError`.
public enum TopologyLoader {
    /// Used when the file has no `serviceCIDR`: the kubeadm default, trimmed to a /16.
    public static let defaultServiceCIDR = IPv4Prefix(address: IPv4Address(10 << 24 | 96 << 16), length: 16)
    public static let defaultVPCMTU = 1500
    public static let vpcMTURange = 576...9000
    public static let defaultCNIBinDir = "/usr/lib/cni"
    /// The Kubernetes default `--service-node-port-range`.
    public static let nodePortRange = 30000...32767
    /// Where LoadBalancer services without a loadBalancerIP get their VIP: TEST-NET-3 (RFC 5737),
    /// beside the nodes' external addresses, from .100 up in file order, skipping every address
    /// a node or service already has.
    public static let loadBalancerPool = IPv4Prefix("203.0.113.0/24")!
    public static let loadBalancerPoolStart = IPv4Address("203.0.113.100")!
    /// Automatic clusterIPs start this far into the service CIDR, leaving the low addresses for the
    /// ones users like to pin (kube-dns at .10 in many clusters is written explicitly).
    public static let clusterIPAllocationOffset = 10
    /// Names netlab gives its own namespaces in the default shape; nodes and pods are namespaces
    /// too, so they cannot use them (each shape has its own: `Datapath.shape(_:).ownMembers`).
    public static var reservedNames: [String] { Datapath.shape.ownMembers.map(\.name) }
    /// Node names name a Linux interface (IFNAMSIZ − 1).
    public static let maxNodeNameLength = 15

    /// Keys accepted in each mapping of the file, by position ("" is the top level, "nodes[]" an
    /// item of `nodes`). The JSON Schema test checks topology.schema.json against this table.
    static let allowedKeys: [String: [String]] = [
        "": ["name", "vpc", "clusterCIDR", "serviceCIDR", "external", "nodes", "pods", "services", "cni", "proxy", "agents", "api", "checks", "shape", "overlay"],
        "vpc": ["subnet", "gateway", "mtu", "routing"],
        "overlay": ["type", "vni", "port"],
        "external": ["client", "gateway"],
        "nodes[]": ["name", "ip", "externalIP", "podCIDR"],
        "pods[]": ["name", "node", "namespace", "labels", "ports"],
        "pods[].ports[]": ["containerPort", "protocol", "hostPort"],
        "services[]": ["name", "namespace", "type", "clusterIP", "clusterIPs", "ipFamilyPolicy", "selector", "externalTrafficPolicy",
                       "internalTrafficPolicy", "ports", "loadBalancerIP", "loadBalancerSourceRanges", "externalIPs", "healthCheckNodePort",
                       "sessionAffinity", "sessionAffinityTimeoutSeconds"],
        "services[].ports[]": ["name", "port", "targetPort", "nodePort", "protocol"],
        "cni": ["binDir", "conflist", "conflistFile", "timeoutSeconds"],
        "proxy": ["mode", "command", "timeoutSeconds"],
        "api": ["address", "port", "tls"],
        "agents[]": ["name", "command", "env", "nodes", "ready", "sync", "timeoutSeconds", "privateDirs"],
        "agents[].ready": ["http", "tcp", "log", "file"],
        "agents[].sync": ["http"],
        "checks[].matrix": ["protocol", "from", "to", "expect", "timeout"],
        "checks[].matrix.to[]": ["name", "to", "port", "protocol"],
        "checks[].flows[]": ["name", "description", "from", "to", "port", "protocol", "endpoints", "masquerade", "output", "count", "timeout"],
        "checks[]": ["name", "description", "flows", "matrix", "from", "to", "port", "protocol", "expect", "capture", "unready", "timeout", "eventually", "proxyMode", "size", "dontFragment", "faults",
                      "count", "consistently", "changes", "stream"],
        "checks[].changes[]": ["at", "unready", "terminating", "serving", "remove", "add", "deleteService", "serviceType",
                                "sessionAffinity", "removePort"],
        "checks[].changes[].serviceType": ["service", "type"],
        "checks[].changes[].sessionAffinity": ["service", "affinity", "timeoutSeconds"],
        "checks[].changes[].removePort": ["service", "port", "protocol"],
        "checks[].stream": ["duration", "interval"],
        "checks[].expect": ["reply", "status", "replyTTL", "serverPod", "serverSaw", "packets", "servers", "error",
                            "switchesTo", "neverFrom"],
        "checks[].expect.servers": ["every", "only", "same", "spread"],
        "checks[].expect.switchesTo": ["pod", "within"],
        "checks[].expect.packets[]": ["at", "match", "absent"],
        "checks[].faults[]": ["linkDown", "loss", "drop", "mtu", "killAgent", "restartAgent", "flushProxy", "at"],
        "checks[].faults[].loss": ["at", "percent", "every"],
        "checks[].faults[].drop": ["at", "match"],
        "checks[].faults[].mtu": ["at", "value"],
        "checks[].faults[].killAgent": ["node", "agent"],
        "checks[].faults[].restartAgent": ["node", "agent"],
        "checks[].expect.packets[].match": ["proto", "src", "dst", "sport", "dport", "ttl", "hopLimit", "icmp", "tcpFlags", "arp", "ndp", "whoHas", "tell", "vxlan"],
        "checks[].expect.packets[].match.vxlan": ["vni", "src", "dst", "dport"],
    ]

    /// The most a topology file (or its conflistFile) may hold; `parse` refuses more, and the
    /// Linux edge's `load(path:)` stops reading there.
    public static let maxFileBytes = YAMLGuard.maxBytes

    /// - Parameters:
    ///   - source: the file's path, used in messages and to resolve `cni.conflistFile`.
    ///   - readFile: reads `cni.conflistFile` (given the resolved path); replaceable in tests.
    public static func parse(yaml: String, source: String,
                             readFile: (String) throws -> String = { try String(contentsOfFile: $0, encoding: .utf8) }) throws -> Topology {
        // Too big, or an alias bomb: refused before Yams spends unbounded time on it.
        try YAMLGuard.check(yaml, file: source)
        let root: YNode?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw syntaxError(error, file: source, yaml: yaml)
        }
        guard let root, !root.isNull else {
            throw TopologyError(file: source, line: 0, column: 0,
                                "the topology file is empty; it needs at least vpc, clusterCIDR, nodes and cni (start from \(DefaultTopology.fileName))")
        }
        let reader = YAMLReader(file: source)
        // The closure is only used during this call; the builder just keeps it for the duration.
        let topology = withoutActuallyEscaping(readFile) {
            TopologyBuilder(reader: reader, source: source, text: yaml, readFile: $0).build(root)
        }
        if !reader.diagnostics.isEmpty { throw TopologyError(diagnostics: reader.sortedDiagnostics) }
        guard let topology else {
            // Unreachable by construction: every path that yields no topology reports why.
            throw TopologyError(file: source, line: 0, column: 0, "internal error: the topology was rejected without a reason; please report this")
        }
        return topology
    }

    /// Yams errors become located diagnostics like every other problem.
    static func syntaxError(_ error: Error, file: String, yaml: String) -> TopologyError {
        let fix = "fix the YAML here (check indentation, the ':' after each key, and matching quotes and brackets)"
        func located(_ mark: Mark, _ problem: String, _ context: YamlError.Context?) -> TopologyError {
            var message = "YAML syntax error: \(problem)"
            if let c = context { message += " (\(c.text) at line \(c.mark.line), column \(c.mark.column))" }
            return TopologyError(file: file, line: mark.line, column: mark.column, message + "; " + fix)
        }
        switch error as? YamlError {
        case .scanner(let context, let problem, let mark, _)?,
             .parser(let context, let problem, let mark, _)?,
             .composer(let context, let problem, let mark, _)?:
            return located(mark, problem, context)
        case .duplicatedKeysInMapping(let duplicates, let context)?:
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return TopologyError(file: file, line: context.mark.line, column: context.mark.column,
                                 "key \(keys) appears more than once in the same mapping; keep only one (YAML would silently drop all but one)")
        case .reader(let problem, let offset, _, _)?:
            var line = 0, column = 0
            if let offset {
                let prefix = yaml.prefix(offset)
                line = prefix.filter { $0 == "\n" }.count + 1
                column = prefix.count - (prefix.lastIndex(of: "\n").map { prefix.distance(from: prefix.startIndex, to: $0) + 1 } ?? 0) + 1
            }
            return TopologyError(file: file, line: line, column: column, "the file cannot be read as YAML text: \(problem); save it as UTF-8 without control characters")
        default:
            return TopologyError(file: file, line: 0, column: 0, "the file cannot be parsed as YAML: \(error)")
        }
    }
}

/// The default topology's file name without extension, for `name:` when the file has none.
func defaultTopologyName(_ source: String) -> String {
    let base = source.split(separator: "/").last.map(String.init) ?? source
    if let dot = base.lastIndex(of: "."), dot != base.startIndex { return String(base[..<dot]) }
    return base
}
