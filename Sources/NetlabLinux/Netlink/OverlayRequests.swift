import CMnl
import Glibc
import NetlabKit

/// The rtnetlink requests an overlay agent needs (a VXLAN VTEP, its forwarding database, its
/// peers' permanent neighbours, routes it removes again), as pure functions like `RouteRequest`'s.
extension RouteRequest {
    /// A VXLAN device without a default remote: every peer comes from an FDB entry, as flannel's
    /// vxlan backend makes `flannel.1`. `learning: false` is iproute2's `nolearning`.
    /// Equivalent to: `ip link add <name> [mtu M] type vxlan id <vni> local <local> dstport <port>
    /// [dev <underlay>] nolearning`.
    public static func createVXLAN(name: String, vni: UInt32, local: IPv4Address, port: UInt16, learning: Bool = false,
                                   underlayIndex: Int32? = nil, mtu: Int? = nil) throws -> NetlinkRequest {
        try NetlinkMessageWriter.build(type: Int(RTM_NEWLINK), flags: create,
                                       operation: "add vxlan \(name) (vni \(vni), local \(local), dstport \(port))") { w in
            try w.putHeader(linkHeader())
            try w.putString(Int(IFLA_IFNAME), name)
            if let mtu { try w.putUInt32(Int(IFLA_MTU), UInt32(mtu)) }
            try w.nest(Int(IFLA_LINKINFO)) { w in
                try w.putString(Int(IFLA_INFO_KIND), "vxlan")
                try w.nest(Int(IFLA_INFO_DATA)) { w in
                    try w.putUInt32(Int(IFLA_VXLAN_ID), vni)
                    if let underlayIndex { try w.putUInt32(Int(IFLA_VXLAN_LINK), UInt32(bitPattern: underlayIndex)) }
                    try w.putBytes(Int(IFLA_VXLAN_LOCAL), local.octets)
                    try w.putUInt8(Int(IFLA_VXLAN_LEARNING), learning ? 1 : 0)
                    // The kernel reads the port as a big-endian 16-bit value (nla_get_be16).
                    try w.putBytes(Int(IFLA_VXLAN_PORT), [UInt8(port >> 8), UInt8(port & 0xff)])
                }
            }
        }
    }

    static func fdbHeader(ifindex: Int32, state: UInt16 = 0) -> ndmsg {
        var m = ndmsg()
        m.ndm_family = UInt8(AF_BRIDGE)
        m.ndm_ifindex = ifindex
        m.ndm_state = state
        // The VXLAN device's own table (`self`), not a bridge master's.
        m.ndm_flags = UInt8(NTF_SELF)
        return m
    }

    /// A permanent forwarding entry of a VXLAN device: frames to `mac` go to the VTEP at `destination`.
    /// Equivalent to: `bridge fdb replace <mac> dev <ifname> dst <destination> self permanent`.
    public static func setFDB(mac: MACAddress, destination: IPv4Address, ifindex: Int32, ifname: String? = nil) throws -> NetlinkRequest {
        let dev = ifname ?? "ifindex \(ifindex)"
        return try NetlinkMessageWriter.build(type: Int(RTM_NEWNEIGH), flags: NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK,
                                              operation: "set fdb \(mac) dst \(destination) on \(dev)") { w in
            try w.putHeader(fdbHeader(ifindex: ifindex, state: NeighbourState.permanent.rawValue))
            try w.putBytes(Int(NDA_LLADDR), mac.array)
            try w.putBytes(Int(NDA_DST), destination.octets)
        }
    }

    /// Equivalent to: `bridge fdb del <mac> dev <ifname> dst <destination> self`.
    public static func deleteFDB(mac: MACAddress, destination: IPv4Address, ifindex: Int32, ifname: String? = nil) throws -> NetlinkRequest {
        let dev = ifname ?? "ifindex \(ifindex)"
        return try NetlinkMessageWriter.build(type: Int(RTM_DELNEIGH), flags: NLM_F_ACK,
                                              operation: "delete fdb \(mac) dst \(destination) on \(dev)") { w in
            try w.putHeader(fdbHeader(ifindex: ifindex))
            try w.putBytes(Int(NDA_LLADDR), mac.array)
            try w.putBytes(Int(NDA_DST), destination.octets)
        }
    }

    /// Equivalent to: `bridge fdb show`.
    public static func dumpFDB() throws -> NetlinkRequest {
        try NetlinkMessageWriter.build(type: Int(RTM_GETNEIGH), flags: NLM_F_DUMP, operation: "list fdb entries") { w in
            var m = ndmsg()
            m.ndm_family = UInt8(AF_BRIDGE)
            try w.putHeader(m)
        }
    }

    /// Deletes the main table's route to `destination` (with that gateway and device, when given).
    /// Equivalent to: `ip route del <destination> [via <gateway>] [dev <device>]`.
    public static func deleteRoute(destination: IPv4Prefix, gateway: IPv4Address? = nil, deviceIndex: Int32? = nil,
                                   deviceName: String? = nil) throws -> NetlinkRequest {
        var what = "delete route \(destination.network)"
        if let gateway { what += " via \(gateway)" }
        if let deviceIndex { what += " dev \(deviceName ?? "ifindex \(deviceIndex)")" }
        return try NetlinkMessageWriter.build(type: Int(RTM_DELROUTE), flags: NLM_F_ACK, operation: what) { w in
            var m = rtmsg()
            m.rtm_family = UInt8(AF_INET)
            m.rtm_dst_len = UInt8(destination.length)
            m.rtm_table = UInt8(RT_TABLE_MAIN.rawValue)
            // RT_SCOPE_NOWHERE: any scope matches (as iproute2 sends for a delete).
            m.rtm_scope = RouteScope.nowhere.rawValue
            try w.putHeader(m)
            if destination.length > 0 { try w.putBytes(Int(RTA_DST.rawValue), destination.network.address.octets) }
            if let gateway { try w.putBytes(Int(RTA_GATEWAY.rawValue), gateway.octets) }
            if let deviceIndex { try w.putUInt32(Int(RTA_OIF.rawValue), UInt32(bitPattern: deviceIndex)) }
        }
    }
}

/// A forwarding-database entry (RTM_NEWNEIGH of family AF_BRIDGE).
public struct FDBEntry: Equatable, Sendable {
    public var ifindex: Int32
    public var mac: MACAddress
    /// The remote VTEP, for a VXLAN device's entries.
    public var destination: IPv4Address?
    public var state: UInt16
    /// `NTF_*` bits.
    public var flags: UInt8

    public init?(message: NetlinkMessage) {
        guard message.type == UInt16(RTM_NEWNEIGH), let h = message.familyHeader(ndmsg.self),
              h.ndm_family == UInt8(AF_BRIDGE) else { return nil }
        let a = message.attributes(after: ndmsg.self)
        guard let mac = a[Int(NDA_LLADDR)].flatMap(MACAddress.init(bytes:)) else { return nil }
        ifindex = h.ndm_ifindex
        self.mac = mac
        destination = a.ipv4(Int(NDA_DST))
        state = h.ndm_state
        flags = h.ndm_flags
    }
}

/// What a VXLAN link's IFLA_INFO_DATA says (RTM_NEWLINK of kind vxlan).
public struct VXLANAttributes: Equatable, Sendable {
    public var vni: UInt32?
    public var local: IPv4Address?
    public var port: UInt16?
    public var learning: Bool?

    public init?(message: NetlinkMessage) {
        guard message.type == UInt16(RTM_NEWLINK), message.familyHeader(ifinfomsg.self) != nil,
              let info = message.attributes(after: ifinfomsg.self).nested(Int(IFLA_LINKINFO)),
              info.string(Int(IFLA_INFO_KIND)) == "vxlan", let data = info.nested(Int(IFLA_INFO_DATA)) else { return nil }
        vni = data.uint32(Int(IFLA_VXLAN_ID))
        local = data.ipv4(Int(IFLA_VXLAN_LOCAL))
        port = data[Int(IFLA_VXLAN_PORT)].flatMap { $0.count == 2 ? UInt16($0[0]) << 8 | UInt16($0[1]) : nil }
        learning = data.uint8(Int(IFLA_VXLAN_LEARNING)).map { $0 != 0 }
    }
}
