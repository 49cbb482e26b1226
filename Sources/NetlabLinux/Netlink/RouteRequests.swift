import CMnl
import Glibc
import NetlabKit

/// A link named by the kernel's index or by its name (the kernel resolves IFLA_IFNAME itself for
/// link requests; address, route and neighbour requests need the index).
public enum LinkRef: Equatable, Hashable, Sendable, CustomStringConvertible {
    case name(String)
    case index(Int32)

    /// The name, when the link was named by it (for messages; no lookup).
    public var knownName: String? {
        if case .name(let n) = self { return n }
        return nil
    }

    public var description: String {
        switch self {
        case .name(let n): return n
        case .index(let i): return "ifindex \(i)"
        }
    }
}

/// Neighbour (ARP) entry states, from `NUD_*`.
public enum NeighbourState: UInt16, Sendable {
    case incomplete = 0x01, reachable = 0x02, stale = 0x04, delay = 0x08, probe = 0x10
    case failed = 0x20, noARP = 0x40, permanent = 0x80
}

/// Route scopes, from `rt_scope_t`.
public enum RouteScope: UInt8, Sendable {
    case universe = 0, site = 200, link = 253, host = 254, nowhere = 255
}

/// rtnetlink requests as pure functions: each returns the bytes of one message, built with libmnl
/// into a buffer, and never opens a socket. Send them one at a time or as a batch with
/// `NetlinkSocket.transact`. Every change asks for an ack (NLM_F_ACK).
public enum RouteRequest {
    static let create = NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK

    static func linkHeader(_ link: LinkRef? = nil, flags: UInt32 = 0, change: UInt32 = 0) -> ifinfomsg {
        var m = ifinfomsg()
        m.ifi_family = UInt8(AF_UNSPEC)
        if case .index(let i)? = link { m.ifi_index = i }
        m.ifi_flags = flags
        m.ifi_change = change
        return m
    }

    static func putName(_ link: LinkRef, _ w: inout NetlinkMessageWriter) throws {
        if case .name(let n) = link { try w.putString(Int(IFLA_IFNAME), n) }
    }

    /// A veth pair `name` <-> `peerName`, the peer created directly in the namespace
    /// `peerNamespaceFD` (nil: the same namespace as the socket).
    /// Equivalent to: `ip link add <name> [mtu M] type veth peer name <peerName> [mtu M] [netns <ns>]`.
    public static func createVeth(name: String, peerName: String, peerNamespaceFD: Int32? = nil,
                                  mtu: Int? = nil) throws -> NetlinkRequest {
        let where_ = peerNamespaceFD.map { " in netns fd \($0)" } ?? ""
        return try NetlinkMessageWriter.build(type: Int(RTM_NEWLINK), flags: create,
                                              operation: "add veth \(name) (peer \(peerName)\(where_))") { w in
            try w.putHeader(linkHeader())
            try w.putString(Int(IFLA_IFNAME), name)
            if let mtu { try w.putUInt32(Int(IFLA_MTU), UInt32(mtu)) }
            try w.nest(Int(IFLA_LINKINFO)) { w in
                try w.putString(Int(IFLA_INFO_KIND), "veth")
                try w.nest(Int(IFLA_INFO_DATA)) { w in
                    try w.nest(Int(VETH_INFO_PEER)) { w in
                        // The peer's attributes follow their own ifinfomsg inside the nest.
                        try w.putHeader(linkHeader())
                        try w.putString(Int(IFLA_IFNAME), peerName)
                        if let mtu { try w.putUInt32(Int(IFLA_MTU), UInt32(mtu)) }
                        if let fd = peerNamespaceFD { try w.putUInt32(Int(IFLA_NET_NS_FD), UInt32(bitPattern: fd)) }
                    }
                }
            }
        }
    }

    /// Equivalent to: `ip link add <name> [mtu M] type bridge`.
    public static func createBridge(name: String, mtu: Int? = nil) throws -> NetlinkRequest {
        try NetlinkMessageWriter.build(type: Int(RTM_NEWLINK), flags: create, operation: "add bridge \(name)") { w in
            try w.putHeader(linkHeader())
            try w.putString(Int(IFLA_IFNAME), name)
            if let mtu { try w.putUInt32(Int(IFLA_MTU), UInt32(mtu)) }
            try w.nest(Int(IFLA_LINKINFO)) { w in try w.putString(Int(IFLA_INFO_KIND), "bridge") }
        }
    }

    static func setLink(_ link: LinkRef, operation: String, flags: UInt32 = 0, change: UInt32 = 0,
                        _ body: (inout NetlinkMessageWriter) throws -> Void = { _ in }) throws -> NetlinkRequest {
        try NetlinkMessageWriter.build(type: Int(RTM_SETLINK), flags: NLM_F_ACK, operation: operation) { w in
            try w.putHeader(linkHeader(link, flags: flags, change: change))
            try putName(link, &w)
            try body(&w)
        }
    }

    /// Equivalent to: `ip link set <link> up`.
    public static func setUp(_ link: LinkRef) throws -> NetlinkRequest {
        try setLink(link, operation: "set \(link) up", flags: UInt32(IFF_UP.rawValue), change: UInt32(IFF_UP.rawValue))
    }

    /// Equivalent to: `ip link set <link> down`.
    public static func setDown(_ link: LinkRef) throws -> NetlinkRequest {
        try setLink(link, operation: "set \(link) down", flags: 0, change: UInt32(IFF_UP.rawValue))
    }

    /// Equivalent to: `ip link set <link> mtu <mtu>`.
    public static func setMTU(_ link: LinkRef, mtu: Int) throws -> NetlinkRequest {
        try setLink(link, operation: "set \(link) mtu \(mtu)") { try $0.putUInt32(Int(IFLA_MTU), UInt32(mtu)) }
    }

    /// Equivalent to: `ip link set <link> master <master>` (masterIndex 0: `nomaster`).
    public static func setMaster(_ link: LinkRef, masterIndex: Int32, masterName: String? = nil) throws -> NetlinkRequest {
        let what = masterIndex == 0 ? "set \(link) nomaster"
                                    : "set \(link) master \(masterName ?? "ifindex \(masterIndex)")"
        return try setLink(link, operation: what) { try $0.putUInt32(Int(IFLA_MASTER), UInt32(bitPattern: masterIndex)) }
    }

    /// Equivalent to: `ip link set <link> alias <alias>`.
    public static func setAlias(_ link: LinkRef, alias: String) throws -> NetlinkRequest {
        try setLink(link, operation: "set \(link) alias \(alias)") { try $0.putString(Int(IFLA_IFALIAS), alias) }
    }

    /// Equivalent to: `ip link del <link>` (for a veth, the peer goes too).
    public static func deleteLink(_ link: LinkRef) throws -> NetlinkRequest {
        try NetlinkMessageWriter.build(type: Int(RTM_DELLINK), flags: NLM_F_ACK, operation: "delete link \(link)") { w in
            try w.putHeader(linkHeader(link))
            try putName(link, &w)
        }
    }

    /// One link, looked up by name in the socket's namespace. Equivalent to: `ip link show <name>`.
    public static func getLink(_ link: LinkRef) throws -> NetlinkRequest {
        try NetlinkMessageWriter.build(type: Int(RTM_GETLINK), flags: NLM_F_ACK, operation: "get link \(link)") { w in
            try w.putHeader(linkHeader(link))
            try putName(link, &w)
        }
    }

    /// Equivalent to: `ip link show`.
    public static func dumpLinks() throws -> NetlinkRequest {
        try NetlinkMessageWriter.build(type: Int(RTM_GETLINK), flags: NLM_F_DUMP, operation: "list links") { w in
            try w.putHeader(linkHeader())
        }
    }

    /// Sets IFA_LOCAL and IFA_ADDRESS to the address, and IFA_BROADCAST to the last address of the
    /// prefix when it is shorter than /31 (as `ip addr add … brd +` does).
    /// Equivalent to: `ip addr add <prefix> brd + dev <ifname>`.
    public static func addAddress(_ prefix: IPv4Prefix, ifindex: Int32, ifname: String? = nil) throws -> NetlinkRequest {
        let dev = ifname ?? "ifindex \(ifindex)"
        return try NetlinkMessageWriter.build(type: Int(RTM_NEWADDR), flags: create,
                                              operation: "add address \(prefix) to \(dev)") { w in
            var m = ifaddrmsg()
            m.ifa_family = UInt8(AF_INET)
            m.ifa_prefixlen = UInt8(prefix.length)
            m.ifa_scope = RouteScope.universe.rawValue
            m.ifa_index = UInt32(bitPattern: ifindex)
            try w.putHeader(m)
            try w.putBytes(Int(IFA_LOCAL), prefix.address.octets)
            try w.putBytes(Int(IFA_ADDRESS), prefix.address.octets)
            if prefix.length < 31 { try w.putBytes(Int(IFA_BROADCAST), prefix.last.octets) }
        }
    }

    /// Equivalent to: `ip -4 addr show`.
    public static func dumpAddresses() throws -> NetlinkRequest {
        try NetlinkMessageWriter.build(type: Int(RTM_GETADDR), flags: NLM_F_DUMP, operation: "list addresses") { w in
            var m = ifaddrmsg()
            m.ifa_family = UInt8(AF_INET)
            try w.putHeader(m)
        }
    }

    /// A unicast route in the main table. Scope defaults to link for a device route (no gateway) and
    /// universe otherwise, as `ip route add` chooses.
    /// Equivalent to: `ip route add <destination> [via <gateway>] [dev <device>] [scope S] [onlink]`.
    public static func addRoute(destination: IPv4Prefix, gateway: IPv4Address? = nil, deviceIndex: Int32? = nil,
                                deviceName: String? = nil, scope: RouteScope? = nil,
                                onLink: Bool = false) throws -> NetlinkRequest {
        var what = "add route \(destination.network)"
        if let gateway { what += " via \(gateway)" }
        if let deviceIndex { what += " dev \(deviceName ?? "ifindex \(deviceIndex)")" }
        if onLink { what += " onlink" }
        return try NetlinkMessageWriter.build(type: Int(RTM_NEWROUTE), flags: create, operation: what) { w in
            var m = rtmsg()
            m.rtm_family = UInt8(AF_INET)
            m.rtm_dst_len = UInt8(destination.length)
            m.rtm_table = UInt8(RT_TABLE_MAIN.rawValue)
            m.rtm_protocol = UInt8(RTPROT_BOOT)
            m.rtm_scope = (scope ?? (gateway == nil ? .link : .universe)).rawValue
            m.rtm_type = UInt8(RTN_UNICAST)
            m.rtm_flags = onLink ? UInt32(RTNH_F_ONLINK) : 0
            try w.putHeader(m)
            if destination.length > 0 { try w.putBytes(Int(RTA_DST.rawValue), destination.network.address.octets) }
            if let gateway { try w.putBytes(Int(RTA_GATEWAY.rawValue), gateway.octets) }
            if let deviceIndex { try w.putUInt32(Int(RTA_OIF.rawValue), UInt32(bitPattern: deviceIndex)) }
        }
    }

    /// Equivalent to: `ip -4 route show table all` (filter by table afterwards).
    public static func dumpRoutes() throws -> NetlinkRequest {
        try NetlinkMessageWriter.build(type: Int(RTM_GETROUTE), flags: NLM_F_DUMP, operation: "list routes") { w in
            var m = rtmsg()
            m.rtm_family = UInt8(AF_INET)
            try w.putHeader(m)
        }
    }

    static func neighbourHeader(ifindex: Int32, state: UInt16 = 0, family: Int32 = AF_INET) -> ndmsg {
        var m = ndmsg()
        m.ndm_family = UInt8(family)
        m.ndm_ifindex = ifindex
        m.ndm_state = state
        return m
    }

    /// Equivalent to: `ip neigh replace <address> lladdr <mac> dev <ifname> nud <state>`.
    public static func setNeighbour(_ address: IPv4Address, mac: [UInt8], ifindex: Int32, state: NeighbourState,
                                    ifname: String? = nil) throws -> NetlinkRequest {
        let dev = ifname ?? "ifindex \(ifindex)"
        return try NetlinkMessageWriter.build(type: Int(RTM_NEWNEIGH), flags: NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK,
                                              operation: "set neighbour \(address) on \(dev)") { w in
            try w.putHeader(neighbourHeader(ifindex: ifindex, state: state.rawValue))
            try w.putBytes(Int(NDA_DST), address.octets)
            try w.putBytes(Int(NDA_LLADDR), mac)
        }
    }

    /// Equivalent to: `ip neigh del <address> dev <ifname>`.
    public static func deleteNeighbour(_ address: IPv4Address, ifindex: Int32, ifname: String? = nil) throws -> NetlinkRequest {
        let dev = ifname ?? "ifindex \(ifindex)"
        return try NetlinkMessageWriter.build(type: Int(RTM_DELNEIGH), flags: NLM_F_ACK,
                                              operation: "delete neighbour \(address) on \(dev)") { w in
            try w.putHeader(neighbourHeader(ifindex: ifindex))
            try w.putBytes(Int(NDA_DST), address.octets)
        }
    }

    /// Equivalent to: `ip neigh del <address> dev <ifname>`, for an address of either family.
    public static func deleteNeighbour(_ address: IPAddress, ifindex: Int32, ifname: String? = nil) throws -> NetlinkRequest {
        let dev = ifname ?? "ifindex \(ifindex)"
        let (family, bytes): (Int32, [UInt8]) = switch address {
        case .v4(let a): (AF_INET, a.octets)
        case .v6(let a): (AF_INET6, a.bytes)
        }
        return try NetlinkMessageWriter.build(type: Int(RTM_DELNEIGH), flags: NLM_F_ACK,
                                              operation: "delete neighbour \(address) on \(dev)") { w in
            try w.putHeader(neighbourHeader(ifindex: ifindex, family: family))
            try w.putBytes(Int(NDA_DST), bytes)
        }
    }

    /// Equivalent to: `ip -4 neigh show` (`ip -6 neigh show` with AF_INET6).
    public static func dumpNeighbours(family: Int32 = AF_INET) throws -> NetlinkRequest {
        try NetlinkMessageWriter.build(type: Int(RTM_GETNEIGH), flags: NLM_F_DUMP, operation: "list neighbours") { w in
            try w.putHeader(neighbourHeader(ifindex: 0, family: family))
        }
    }
}
