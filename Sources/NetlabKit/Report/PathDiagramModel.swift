// The packet path diagram as a value: lifelines and steps, what the renderers (PacketPathRendering)
// draw. PathDiagramBuilder makes it from a check's packets.

/// One check's packets as a sequence diagram: the capture points of the probe's flow as
/// lifelines, each packet as arrows between the hops it crossed, every address rewrite where it
/// happened, ARP exchanges, and for a failing check where the packet stopped.
public struct PacketPathDiagram: Hashable, Sendable {
    public struct Lifeline: Hashable, Sendable {
        /// "node2/eth0", or the gateway's name (LabGeography.gatewayLifeline) where nothing is
        /// captured: the VPC gateway is drawn between the client and the VPC because its 1:1 NAT
        /// happens in it.
        public var id: String
        public var captured: Bool
    }

    public struct Arrow: Hashable, Sendable {
        public var from: String, to: String
        /// "198.51.100.10:49394 → 203.0.113.38:30007 [S] ttl 64"
        public var label: String
        /// Part of the answer (server to client), drawn dashed.
        public var reply: Bool
        public var timestampNanoseconds: UInt64
    }

    /// An address rewrite between two captures of the same packet.
    public struct Rewrite: Hashable, Sendable {
        public struct Change: Hashable, Sendable {
            /// "SNAT", "DNAT", "1:1 NAT", "un-DNAT" (a reply's source restored), "un-SNAT".
            public var kind: String
            /// "src" or "dst".
            public var field: String
            public var before: String, after: String
            public var text: String { "\(kind) \(field) \(before) → \(after)" }
        }
        /// The lifeline whose namespace rewrote it; two when it happened somewhere between them.
        public var at: [String]
        public var changes: [Change]
    }

    public struct Note: Hashable, Sendable {
        public enum Kind: Hashable, Sendable { case arp, failure }
        public var kind: Kind
        public var over: [String]
        public var lines: [String]
    }

    /// Where a packet stopped: last seen at `from`, never at `missing`.
    public struct Stop: Hashable, Sendable {
        public var from: String, missing: String
        public var label: String
    }

    public enum Step: Hashable, Sendable {
        case arrow(Arrow)
        case rewrite(Rewrite)
        case note(Note)
        case stop(Stop)
    }

    public var check: String
    public var description: String?
    public var passed: Bool
    public var lifelines: [Lifeline]
    public var steps: [Step]
    public var failedExpectations: [ExpectationResult]
    public var error: String?

    public init(check: String, description: String? = nil, passed: Bool, lifelines: [Lifeline], steps: [Step],
                failedExpectations: [ExpectationResult] = [], error: String? = nil) {
        self.check = check; self.description = description; self.passed = passed; self.lifelines = lifelines
        self.steps = steps; self.failedExpectations = failedExpectations; self.error = error
    }
}
