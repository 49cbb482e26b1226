import CMnl
import Glibc
import NetlabKit

/// An IPv4 policy routing rule (RTM_NEWRULE).
public struct RoutingRule: Equatable, Sendable {
    public var priority: UInt32
    public var table: UInt32
    /// FR_ACT_* (to table, goto, unreachable, blackhole, prohibit…).
    public var action: UInt8
    public var source: IPv4Prefix?
    public var destination: IPv4Prefix?
    public var inputInterface: String?
    public var outputInterface: String?
    public var fwmark: UInt32?
    public var fwmask: UInt32?

    public init?(message: NetlinkMessage) {
        // fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action, flags.
        guard message.type == UInt16(RTM_NEWRULE), let h = message.familyHeader(fib_rule_hdr.self),
              h.family == UInt8(AF_INET) else { return nil }
        let a = message.attributes(after: fib_rule_hdr.self)
        priority = a.uint32(Int(FRA_PRIORITY)) ?? 0
        table = a.uint32(Int(FRA_TABLE)) ?? UInt32(h.table)
        action = h.action
        source = a.ipv4(Int(FRA_SRC)).map { IPv4Prefix(address: $0, length: Int(min(h.src_len, 32))) }
        destination = a.ipv4(Int(FRA_DST)).map { IPv4Prefix(address: $0, length: Int(min(h.dst_len, 32))) }
        inputInterface = a.string(Int(FRA_IIFNAME))
        outputInterface = a.string(Int(FRA_OIFNAME))
        fwmark = a.uint32(Int(FRA_FWMARK))
        fwmask = a.uint32(Int(FRA_FWMASK))
    }

    /// As `ip rule show` prints it: `32766: from all lookup main`.
    public var description: String {
        var s = "\(priority): from \(source.map { "\($0)" } ?? "all")"
        if let d = destination { s += " to \(d)" }
        if let m = fwmark { s += " fwmark 0x\(String(m, radix: 16))" + (fwmask.map { $0 == .max ? "" : "/0x\(String($0, radix: 16))" } ?? "") }
        if let i = inputInterface { s += " iif \(i)" }
        if let o = outputInterface { s += " oif \(o)" }
        switch Int(action) {
        case Int(FR_ACT_TO_TBL): s += " lookup \(RouteTables.name(table))"
        case Int(FR_ACT_GOTO): s += " goto"
        case Int(FR_ACT_NOP): s += " nop"
        case Int(FR_ACT_BLACKHOLE): s += " blackhole"
        case Int(FR_ACT_UNREACHABLE): s += " unreachable"
        case Int(FR_ACT_PROHIBIT): s += " prohibit"
        default: s += " action \(action)"
        }
        return s
    }
}

/// Route table names as /etc/iproute2/rt_tables gives them.
public enum RouteTables {
    public static func name(_ table: UInt32) -> String {
        switch table {
        case UInt32(RT_TABLE_MAIN.rawValue): return "main"
        case UInt32(RT_TABLE_LOCAL.rawValue): return "local"
        case UInt32(RT_TABLE_DEFAULT.rawValue): return "default"
        default: return "\(table)"
        }
    }
}

extension RouteRequest {
    /// Equivalent to: `ip -4 rule show`.
    public static func dumpRules() throws -> NetlinkRequest {
        try NetlinkMessageWriter.build(type: Int(RTM_GETRULE), flags: NLM_F_DUMP, operation: "list rules") { w in
            var m = fib_rule_hdr()
            m.family = UInt8(AF_INET)
            try w.putHeader(m)
        }
    }

    /// Equivalent to: `ip addr del <prefix> dev <ifname>`.
    public static func deleteAddress(_ prefix: IPv4Prefix, ifindex: Int32, ifname: String? = nil) throws -> NetlinkRequest {
        let dev = ifname ?? "ifindex \(ifindex)"
        return try NetlinkMessageWriter.build(type: Int(RTM_DELADDR), flags: NLM_F_ACK, operation: "delete address \(prefix) from \(dev)") { w in
            var m = ifaddrmsg()
            m.ifa_family = UInt8(AF_INET)
            m.ifa_prefixlen = UInt8(prefix.length)
            m.ifa_index = UInt32(bitPattern: ifindex)
            try w.putHeader(m)
            try w.putBytes(Int(IFA_LOCAL), prefix.address.octets)
        }
    }
}

extension RouteNetlink {
    /// Every IPv4 rule. Equivalent to: `ip -4 rule show`.
    public func listRules() throws -> [RoutingRule] {
        try socket.request(RouteRequest.dumpRules()).compactMap(RoutingRule.init(message:))
    }

    /// IPv4 routes of every table. Equivalent to: `ip -4 route show table all`.
    public func listAllRoutes() throws -> [Route] {
        try socket.request(RouteRequest.dumpRoutes()).compactMap(Route.init(message:))
    }

    /// Equivalent to: `ip addr del <prefix> dev <link>`.
    public func deleteAddress(_ prefix: IPv4Prefix, from link: LinkRef) throws {
        let ifindex = try index(of: link)
        try socket.perform([RouteRequest.deleteAddress(prefix, ifindex: ifindex, ifname: link.knownName)])
    }
}
