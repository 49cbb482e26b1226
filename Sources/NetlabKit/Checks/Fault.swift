/// Something broken on purpose in a lab for one check (issue 14's faults): applied before the
/// probe, undone after the check even when it fails. This kernel has no netem, so loss and drops
/// are nftables rules, and the rest is what a cluster's own failures look like: a link down, an
/// MTU mismatch, an agent killed or restarted, a node's proxy state flushed.
public struct Fault: Hashable, Sendable, Codable {
    public enum Action: Hashable, Sendable, Codable {
        /// The interface is set down (and up again, its routes restored, afterwards).
        case linkDown(InterfaceRef)
        /// IP packets arriving on and leaving the interface are dropped at this rate.
        case loss(at: InterfaceRef, LossRate)
        /// IP packets arriving on or leaving the interface that match the pattern are dropped.
        case drop(at: InterfaceRef, PacketPattern)
        /// The interface's MTU, for the check (the old one afterwards).
        case mtu(at: InterfaceRef, Int)
        /// The agent's process on the node is killed (SIGKILL) and, after the check, started again.
        case killAgent(node: String, agent: String)
        /// The agent's process on the node is killed and started again before the probe, which
        /// waits until it is ready.
        case restartAgent(node: String, agent: String)
        /// The node's service-proxy state is flushed (see FaultRules.flushProxyIPTables).
        case flushProxy(node: String)
    }

    /// A rate of loss: `percent` (random, numgen random) or `every` N-th packet (numgen inc:
    /// packets 1..N-1 pass, the N-th is dropped, and so on), counted per direction.
    public enum LossRate: Hashable, Sendable, Codable {
        case percent(Int)
        case every(Int)
    }

    public var action: Action
    /// When, in seconds from the start of a stream, the fault is applied; nil: before the probe.
    public var at: Double?

    public init(_ action: Action, at: Double? = nil) { self.action = action; self.at = at }

    /// The interface the fault is on, for those that have one.
    public var interface: InterfaceRef? {
        switch action {
        case .linkDown(let i), .loss(let i, _), .drop(let i, _), .mtu(let i, _): return i
        case .killAgent, .restartAgent, .flushProxy: return nil
        }
    }

    /// The member whose namespace the fault changes.
    public var member: String {
        switch action {
        case .linkDown(let i), .loss(let i, _), .drop(let i, _), .mtu(let i, _): return i.member
        case .killAgent(let n, _), .restartAgent(let n, _), .flushProxy(let n): return n
        }
    }

    /// "loss every 2 at node2/eth0", for logs and messages.
    public var text: String {
        switch action {
        case .linkDown(let i): return "linkDown \(i)"
        case .loss(let i, .percent(let p)): return "loss \(p)% at \(i)"
        case .loss(let i, .every(let n)): return "loss every \(n) at \(i)"
        case .drop(let i, let p): return "drop {\(p)} at \(i)"
        case .mtu(let i, let v): return "mtu \(v) at \(i)"
        case .killAgent(let n, let a): return "killAgent \(a) on \(n)"
        case .restartAgent(let n, let a): return "restartAgent \(a) on \(n)"
        case .flushProxy(let n): return "flushProxy \(n)"
        }
    }
}

/// `member/interface` in a file, and in the JSON of a report.
extension InterfaceRef: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let r = InterfaceRef(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(text)' is not member/interface")
        }
        self = r
    }
    public func encode(to encoder: Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(description) }
}
