/// One line of a lab's journal. Every object netlab makes is written down *before* it is made, so
/// that `down` and `clean` can undo a lab whose netlab process died at any point. Undo runs the
/// journal backwards: processes are stopped, then CNI DEL runs for every attachment, then the
/// namespaces go (and with them every link, address and route inside them).
///
/// A `namespace` line says netlab is about to make one; only the `created` line after it says it
/// did, and which one (the namespace's identity). Undo deletes a namespace only with that proof and
/// only while the object at the path is still that one: a name that was taken by someone else
/// (EEXIST), or replaced since, is never netlab's to delete.
public struct JournalEntry: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable {
        /// A named network namespace about to be mounted at `path`.
        case namespace
        /// The namespace at `path` was made by this lab: `device` and `inode` of its nsfs file, and
        /// its `cookie`.
        case created
        /// A pod's CNI attachment: the rendered conflist and the runtime arguments DEL needs.
        case cni
        /// A process netlab started; identified by pid and start time, so a recycled pid is never hit.
        case process
    }

    public var kind: Kind
    public var name: String
    public var path: String?
    // cni
    public var pod: String?
    public var node: String?
    public var containerID: String?
    public var ifName: String?
    public var conflist: JSONValue?
    public var capabilityArgs: [String: JSONValue]?
    // process
    public var pid: Int32?
    public var startTime: UInt64?
    public var namespace: String?
    // created
    public var device: UInt64?
    public var inode: UInt64?
    /// The network namespace cookie: unlike the inode, never handed to another namespace.
    public var cookie: UInt64?

    public init(kind: Kind, name: String, path: String? = nil) { self.kind = kind; self.name = name; self.path = path }

    public static func namespace(name: String, path: String) -> JournalEntry { JournalEntry(kind: .namespace, name: name, path: path) }

    public static func created(name: String, path: String, device: UInt64, inode: UInt64, cookie: UInt64?) -> JournalEntry {
        var e = JournalEntry(kind: .created, name: name, path: path)
        e.device = device; e.inode = inode; e.cookie = cookie
        return e
    }

    public static func cni(pod: String, node: String, containerID: String, netnsPath: String, ifName: String,
                           conflist: JSONValue, capabilityArgs: [String: JSONValue]) -> JournalEntry {
        var e = JournalEntry(kind: .cni, name: pod, path: netnsPath)
        e.pod = pod; e.node = node; e.containerID = containerID; e.ifName = ifName
        e.conflist = conflist; e.capabilityArgs = capabilityArgs
        return e
    }

    public static func process(name: String, pid: Int32, startTime: UInt64, namespace: String?) -> JournalEntry {
        var e = JournalEntry(kind: .process, name: name)
        e.pid = pid; e.startTime = startTime; e.namespace = namespace
        return e
    }
}

/// The state of a lab, kept in `/run/netlab/<lab>/lab.json`.
public struct LabRecord: Hashable, Sendable, Codable {
    public enum Phase: String, Hashable, Sendable, Codable { case creating, up, tearingDown }
    public var lab: String
    public var phase: Phase
    /// `up` leaves a lab for the user; `run` labs are temporary, so `clean` takes them once their
    /// process is gone even when they were complete.
    public var persistent: Bool
    public var ownerPID: Int32
    public var createdAt: Double
    public var topology: Topology
    /// Pod name → its CNI result's address on eth0 and gateway, filled in as pods come up.
    public var pods: [String: PodAddress]

    public struct PodAddress: Hashable, Sendable, Codable {
        public var address: IPv4Prefix
        public var gateway: IPv4Address?
        /// The pod's IPv6 address and gateway from its CNI result, in a dual-stack lab.
        public var addressV6: IPv6Prefix?
        public var gatewayV6: IPv6Address?
        public init(address: IPv4Prefix, gateway: IPv4Address?, addressV6: IPv6Prefix? = nil, gatewayV6: IPv6Address? = nil) {
            self.address = address; self.gateway = gateway; self.addressV6 = addressV6; self.gatewayV6 = gatewayV6
        }
    }

    public init(lab: String, phase: Phase, persistent: Bool, ownerPID: Int32, createdAt: Double, topology: Topology) {
        self.lab = lab; self.phase = phase; self.persistent = persistent; self.ownerPID = ownerPID
        self.createdAt = createdAt; self.topology = topology; self.pods = [:]
    }
}
