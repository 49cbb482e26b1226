import CMnl
import Glibc
import NetlabKit

/// The ctnetlink requests (NFNL_SUBSYS_CTNETLINK over NETLINK_NETFILTER), built without a socket
/// so their bytes can be checked without root, as libmnl's examples/netfilter/nf-ct-*.c build them.
public enum ConntrackRequest {
    static func type(_ message: cntl_msg_types) -> Int { Int(NFNL_SUBSYS_CTNETLINK) << 8 | Int(message.rawValue) }
    static func header(_ family: IPFamily) -> nfgenmsg {
        nfgenmsg(nfgen_family: UInt8(family == .ipv6 ? AF_INET6 : AF_INET), version: UInt8(NFNETLINK_V0), res_id: 0)
    }

    /// Equivalent to: `conntrack -L -f ipv4|ipv6` (the kernel filters the dump by the header's family).
    public static func list(_ family: IPFamily) throws -> NetlinkRequest {
        try NetlinkMessageWriter.build(type: type(IPCTNL_MSG_CT_GET), flags: NLM_F_DUMP,
                                       operation: "list conntrack entries (\(family == .ipv6 ? "IPv6" : "IPv4"))") { w in
            try w.putHeader(header(family))
        }
    }

    /// Equivalent to: `conntrack -D -p udp --orig-src S --orig-dst D --sport SP --dport DP [-w zone]`:
    /// the one entry whose original tuple this is. Always with a tuple: a CT_DELETE without one
    /// flushes the whole table.
    public static func delete(_ flow: ConntrackFlow) throws -> NetlinkRequest {
        try NetlinkMessageWriter.build(type: type(IPCTNL_MSG_CT_DELETE), flags: 0, operation: "delete conntrack entry \(flow)") { w in
            try w.putHeader(header(flow.family))
            try w.nest(Int(CTA_TUPLE_ORIG.rawValue)) { w in try putTuple(&w, flow.original, proto: flow.proto) }
            if flow.zone != 0 { try w.putBytes(Int(CTA_ZONE.rawValue), bigEndian16(Int(flow.zone))) }
        }
    }

    static func putTuple(_ w: inout NetlinkMessageWriter, _ t: ConntrackTuple, proto: UInt8) throws {
        try w.nest(Int(CTA_TUPLE_IP.rawValue)) { w in
            switch (t.source, t.destination) {
            case (.v4(let s), .v4(let d)):
                try w.putBytes(Int(CTA_IP_V4_SRC.rawValue), s.octets)
                try w.putBytes(Int(CTA_IP_V4_DST.rawValue), d.octets)
            case (.v6(let s), .v6(let d)):
                try w.putBytes(Int(CTA_IP_V6_SRC.rawValue), s.bytes)
                try w.putBytes(Int(CTA_IP_V6_DST.rawValue), d.bytes)
            default:
                preconditionFailure("a conntrack tuple of mixed families: \(t)")
            }
        }
        try w.nest(Int(CTA_TUPLE_PROTO.rawValue)) { w in
            try w.putUInt8(Int(CTA_PROTO_NUM.rawValue), proto)
            try w.putBytes(Int(CTA_PROTO_SRC_PORT.rawValue), bigEndian16(t.sourcePort))
            try w.putBytes(Int(CTA_PROTO_DST_PORT.rawValue), bigEndian16(t.destinationPort))
        }
    }

    static func bigEndian16(_ v: Int) -> [UInt8] { [UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)] }

    /// The flow in one message of a CT_GET dump (IPCTNL_MSG_CT_NEW); nil for other messages and
    /// for entries without ports (ICMP and the like, which the cleanup never deletes).
    public static func flow(in message: NetlinkMessage) -> ConntrackFlow? {
        guard Int(message.type) == type(IPCTNL_MSG_CT_NEW) else { return nil }
        let attrs = message.attributes(after: nfgenmsg.self)
        guard let orig = attrs.nested(Int(CTA_TUPLE_ORIG.rawValue)).flatMap(tuple),
              let reply = attrs.nested(Int(CTA_TUPLE_REPLY.rawValue)).flatMap(tuple) else { return nil }
        let zone = attrs[Int(CTA_ZONE.rawValue)].flatMap { $0.count == 2 ? UInt16($0[0]) << 8 | UInt16($0[1]) : nil } ?? 0
        return ConntrackFlow(proto: orig.proto, original: orig.tuple, reply: reply.tuple, zone: zone)
    }

    static func tuple(_ attrs: NetlinkAttributes) -> (tuple: ConntrackTuple, proto: UInt8)? {
        guard let ip = attrs.nested(Int(CTA_TUPLE_IP.rawValue)), let l4 = attrs.nested(Int(CTA_TUPLE_PROTO.rawValue)),
              let proto = l4.uint8(Int(CTA_PROTO_NUM.rawValue)),
              let sport = port(l4[Int(CTA_PROTO_SRC_PORT.rawValue)]), let dport = port(l4[Int(CTA_PROTO_DST_PORT.rawValue)]) else { return nil }
        let source: IPAddress, destination: IPAddress
        if let s = ip.ipv4(Int(CTA_IP_V4_SRC.rawValue)), let d = ip.ipv4(Int(CTA_IP_V4_DST.rawValue)) {
            source = .v4(s); destination = .v4(d)
        } else if let s = ip[Int(CTA_IP_V6_SRC.rawValue)].flatMap({ IPv6Address(bytes: $0) }),
                  let d = ip[Int(CTA_IP_V6_DST.rawValue)].flatMap({ IPv6Address(bytes: $0) }) {
            source = .v6(s); destination = .v6(d)
        } else {
            return nil
        }
        return (ConntrackTuple(source: source, destination: destination, sourcePort: sport, destinationPort: dport), proto)
    }

    static func port(_ b: [UInt8]?) -> Int? {
        guard let b, b.count == 2 else { return nil }
        return Int(b[0]) << 8 | Int(b[1])
    }
}

/// The conntrack table of one namespace, through a NETLINK_NETFILTER socket opened inside it.
public struct ConntrackNetlink {
    public let socket: any NetlinkSocket

    public init(socket: any NetlinkSocket) { self.socket = socket }

    /// The table of the namespace `namespaceFD` (`name` is for error messages).
    public init(namespaceFD: Int32, name: String) throws {
        socket = try MnlNetlinkSocket(namespaceFD: namespaceFD, namespaceName: name, protocol: NETLINK_NETFILTER)
    }

    /// The table of the calling thread's namespace: netlab-proxy's own, the node it programs.
    public static func inCallersNamespace(label: String) throws -> ConntrackNetlink {
        ConntrackNetlink(socket: try MnlNetlinkSocket.inCallersNamespace(label: label, protocol: NETLINK_NETFILTER))
    }

    /// Equivalent to: `conntrack -L -f ipv4|ipv6` (entries with ports only).
    public func flows(_ family: IPFamily) throws -> [ConntrackFlow] {
        try socket.request(ConntrackRequest.list(family)).compactMap(ConntrackRequest.flow)
    }

    /// Deletes `flows` in one batch and returns how many were deleted. An entry already gone
    /// (ENOENT: it timed out, or a reply raced us) is not an error.
    @discardableResult
    public func delete(_ flows: [ConntrackFlow]) throws -> Int {
        guard !flows.isEmpty else { return 0 }
        var deleted = 0
        for result in try socket.transact(try flows.map(ConntrackRequest.delete)) {
            switch result {
            case .success: deleted += 1
            case .failure(let e) where e.code == ENOENT: continue
            case .failure(let e): throw e
            }
        }
        return deleted
    }
}
