// Which conntrack entries a proxy deletes after a sync, as kube-proxy's conntrack.CleanStaleEntries
// (pkg/proxy/conntrack/cleanup.go) decides. UDP has no connection to reset: a conntrack entry
// made before a change keeps its old NAT for as long as datagrams keep coming (the 120 s UDP
// stream timeout never runs out), so a client with a fixed source port keeps reaching a backend
// that is gone, or keeps being rejected after the service got endpoints.
//
// The decision reads only the current state, not the previous sync's: every UDP entry whose
// original destination is a service's frontend (cluster IP, external IPs, LoadBalancer IPs : port,
// or any address : NodePort) and whose reply source is not one of that service's serving
// endpoints is stale. That covers both cases of the older, diff-based kube-proxy: an endpoint no
// longer serving (the entry's reply source is its address), and a service that had no endpoints
// and now has some (the entry was never DNATed: its reply source is the frontend itself). It
// also works in netlab's one-shot mode, which keeps no state between runs, and after a restart.

/// One direction of a conntrack entry (conntrack's --orig-src/--orig-dst/--orig-port-*, or --reply-*).
public struct ConntrackTuple: Hashable, Sendable, CustomStringConvertible {
    public var source: IPAddress
    public var destination: IPAddress
    public var sourcePort: Int
    public var destinationPort: Int

    public init(source: IPAddress, destination: IPAddress, sourcePort: Int, destinationPort: Int) {
        self.source = source; self.destination = destination; self.sourcePort = sourcePort; self.destinationPort = destinationPort
    }

    public var description: String {
        func join(_ a: IPAddress, _ p: Int) -> String { a.family == .ipv6 ? "[\(a)]:\(p)" : "\(a):\(p)" }
        return "\(join(source, sourcePort)) -> \(join(destination, destinationPort))"
    }
}

/// One conntrack entry as ctnetlink dumps it: the protocol number, both tuples, the zone.
public struct ConntrackFlow: Hashable, Sendable, CustomStringConvertible {
    public static let udp: UInt8 = 17
    public static let tcp: UInt8 = 6

    /// The IP protocol number (17 for UDP).
    public var proto: UInt8
    public var original: ConntrackTuple
    public var reply: ConntrackTuple
    /// The conntrack zone (0 unless a rule put the flow in another).
    public var zone: UInt16

    public init(proto: UInt8, original: ConntrackTuple, reply: ConntrackTuple, zone: UInt16 = 0) {
        self.proto = proto; self.original = original; self.reply = reply; self.zone = zone
    }

    public var family: IPFamily { original.source.family }

    public var description: String {
        let p = proto == Self.udp ? "udp" : proto == Self.tcp ? "tcp" : "proto \(proto)"
        return "\(p) \(original) (reply \(reply))" + (zone == 0 ? "" : " zone \(zone)")
    }
}

public enum ConntrackCleanup {
    /// The frontends of the UDP service ports that have serving endpoints, each with those
    /// endpoints' addresses. A port without serving endpoints has nothing to clean: its flows
    /// are rejected or dropped now and the entries of those go once it has endpoints.
    ///
    /// All the decision reads: once a cleanup ran after the rules for these frontends were in the
    /// kernel, no entry can go stale until they change (an entry made since was made by those
    /// rules), so a proxy may skip the table dump while they are the same (`isEmpty`: nothing to
    /// dump for).
    public struct Frontends: Hashable, Sendable {
        var byAddressPort: [String: Set<IPAddress>] = [:]
        var byNodePort: [Int: Set<IPAddress>] = [:]

        public var isEmpty: Bool { byAddressPort.isEmpty && byNodePort.isEmpty }

        public init(_ services: ProxyServices) {
            for svc in services.ports where svc.proto == "udp" {
                // Any serving endpoint, whatever the traffic policies: a policy change must not
                // break existing flows (as for TCP, where conntrack keeps them too).
                let serving = Set(services.endpoints(of: svc).filter(\.serving).compactMap { IPAddress($0.ip) })
                guard !serving.isEmpty else { continue }
                for ip in [svc.clusterIP] + svc.frontendIPs {
                    guard let a = IPAddress(ip) else { continue }
                    byAddressPort[Self.key(a, svc.port), default: []].formUnion(serving)
                }
                if svc.nodePort != 0 { byNodePort[svc.nodePort, default: []].formUnion(serving) }
            }
        }

        static func key(_ a: IPAddress, _ port: Int) -> String { "\(a)|\(port)" }
    }

    /// The entries among `flows` to delete after a sync of `services` (one family's proxier):
    /// UDP entries to a service frontend whose reply does not come from a serving endpoint.
    public static func staleFlows(_ flows: [ConntrackFlow], services: ProxyServices) -> [ConntrackFlow] {
        staleFlows(flows, frontends: Frontends(services))
    }

    public static func staleFlows(_ flows: [ConntrackFlow], frontends: Frontends) -> [ConntrackFlow] {
        guard !frontends.isEmpty else { return [] }
        return flows.filter { flow in
            guard flow.proto == ConntrackFlow.udp else { return false }
            let replyFrom = flow.reply.source
            if let serving = frontends.byAddressPort[Frontends.key(flow.original.destination, flow.original.destinationPort)],
               !serving.contains(replyFrom) { return true }
            if let serving = frontends.byNodePort[flow.original.destinationPort], !serving.contains(replyFrom) { return true }
            return false
        }
    }
}
