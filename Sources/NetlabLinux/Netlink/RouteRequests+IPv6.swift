import CMnl
import Glibc
import NetlabKit

// The IPv6 (AF_INET6) forms of the address and route requests: 16-byte attributes, no broadcast.
extension RouteRequest {
    /// An address usable at once: IFA_F_NODAD skips duplicate address detection, which would
    /// otherwise keep it tentative (unusable as a source, unreachable) for a second or more after
    /// it is added. netlab's addresses are planned unique, so there is nothing to detect.
    /// Equivalent to: `ip -6 addr add <prefix> dev <ifname> nodad`.
    public static func addAddress(_ prefix: IPv6Prefix, ifindex: Int32, ifname: String? = nil) throws -> NetlinkRequest {
        let dev = ifname ?? "ifindex \(ifindex)"
        return try NetlinkMessageWriter.build(type: Int(RTM_NEWADDR), flags: create,
                                              operation: "add address \(prefix) to \(dev)") { w in
            var m = ifaddrmsg()
            m.ifa_family = UInt8(AF_INET6)
            m.ifa_prefixlen = UInt8(prefix.length)
            m.ifa_flags = UInt8(IFA_F_NODAD)
            m.ifa_scope = RouteScope.universe.rawValue
            m.ifa_index = UInt32(bitPattern: ifindex)
            try w.putHeader(m)
            try w.putBytes(Int(IFA_LOCAL), prefix.address.bytes)
            try w.putBytes(Int(IFA_ADDRESS), prefix.address.bytes)
        }
    }

    /// A unicast IPv6 route in the main table, scoped as `addRoute` scopes an IPv4 one.
    /// Equivalent to: `ip -6 route add <destination> [via <gateway>] [dev <device>]`.
    public static func addRoute(destination: IPv6Prefix, gateway: IPv6Address? = nil, deviceIndex: Int32? = nil,
                                deviceName: String? = nil) throws -> NetlinkRequest {
        var what = "add route \(destination.network)"
        if let gateway { what += " via \(gateway)" }
        if let deviceIndex { what += " dev \(deviceName ?? "ifindex \(deviceIndex)")" }
        return try NetlinkMessageWriter.build(type: Int(RTM_NEWROUTE), flags: create, operation: what) { w in
            var m = rtmsg()
            m.rtm_family = UInt8(AF_INET6)
            m.rtm_dst_len = UInt8(destination.length)
            m.rtm_table = UInt8(RT_TABLE_MAIN.rawValue)
            m.rtm_protocol = UInt8(RTPROT_BOOT)
            m.rtm_scope = (gateway == nil ? RouteScope.link : .universe).rawValue
            m.rtm_type = UInt8(RTN_UNICAST)
            try w.putHeader(m)
            if destination.length > 0 { try w.putBytes(Int(RTA_DST.rawValue), destination.network.address.bytes) }
            if let gateway { try w.putBytes(Int(RTA_GATEWAY.rawValue), gateway.bytes) }
            if let deviceIndex { try w.putUInt32(Int(RTA_OIF.rawValue), UInt32(bitPattern: deviceIndex)) }
        }
    }
}

extension RouteNetlink {
    /// Equivalent to: `ip -6 addr add <prefix> dev <link> nodad`.
    public func addAddress(_ prefix: IPv6Prefix, to link: LinkRef) throws {
        let ifindex = try index(of: link)
        try socket.perform([RouteRequest.addAddress(prefix, ifindex: ifindex, ifname: link.knownName)])
    }

    /// Equivalent to: `ip -6 route add <destination> [via <gateway>] [dev <device>]`.
    public func addRoute(destination: IPv6Prefix, gateway: IPv6Address? = nil, device: LinkRef? = nil) throws {
        let deviceIndex = try device.map(index(of:))
        try socket.perform([RouteRequest.addRoute(destination: destination, gateway: gateway, deviceIndex: deviceIndex,
                                                  deviceName: device?.knownName)])
    }
}
