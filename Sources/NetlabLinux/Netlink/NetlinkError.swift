import Glibc

/// A failed netlink operation: what was asked, where, the errno and the kernel's own explanation
/// (the extended ack, `NLMSGERR_ATTR_MSG`), e.g.
/// `netlink: add address 10.0.0.37/24 to eth0 in netns netlab-default-node1: EEXIST (File exists): ipv4: Address already assigned`.
public struct NetlinkError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What was asked, in words: "add address 10.0.0.37/24 to eth0".
    public var operation: String
    /// The network namespace the socket lives in, when known.
    public var namespace: String?
    /// The positive errno value.
    public var code: Int32
    /// The kernel's extended-ack message, when it sent one.
    public var kernelMessage: String?
    /// A local explanation when the failure did not come from the kernel (no reply, message too big).
    public var detail: String?
    /// Position of the failed request in a batch (0-based) and the batch size; nil for a single request.
    public var requestIndex: Int?
    public var requestCount: Int?

    public init(operation: String, namespace: String? = nil, code: Int32, kernelMessage: String? = nil,
                detail: String? = nil, requestIndex: Int? = nil, requestCount: Int? = nil) {
        self.operation = operation
        self.namespace = namespace
        self.code = code
        self.kernelMessage = kernelMessage
        self.detail = detail
        self.requestIndex = requestIndex
        self.requestCount = requestCount
    }

    /// The errno's symbolic name ("EEXIST"), or "errno N" for one outside the table.
    public var errnoName: String { NetlinkError.errnoName(code) }

    public var description: String {
        var s = "netlink: \(operation)"
        if let i = requestIndex, let n = requestCount, n > 1 { s += " (request \(i + 1) of \(n) in one batch)" }
        if let ns = namespace { s += " in netns \(ns)" }
        s += ": \(errnoName) (\(String(cString: strerror(code))))"
        if let m = kernelMessage, !m.isEmpty { s += ": \(m)" }
        if let d = detail, !d.isEmpty { s += ": \(d)" }
        return s
    }

    public static func errnoName(_ code: Int32) -> String { SystemError.name(of: code) }
}
