import CMnl
import Glibc
import NetlabKit

/// A network interface as RTM_NEWLINK describes it.
public struct Link: Equatable, Sendable {
    public var index: Int32
    public var name: String
    public var mtu: Int
    /// `IFF_*` flags.
    public var flags: UInt32
    /// The hardware address (6 bytes for Ethernet; empty when the link has none).
    public var hardwareAddress: [UInt8]
    /// The bridge (or bond) this link is enslaved to.
    public var masterIndex: Int32?
    /// IFLA_INFO_KIND: "veth", "bridge", … (nil for loopback and other kindless links).
    public var kind: String?
    public var alias: String?

    public var isUp: Bool { flags & UInt32(IFF_UP.rawValue) != 0 }
    public var hardwareAddressString: String {
        hardwareAddress.map { String($0, radix: 16).leftPadded(to: 2) }.joined(separator: ":")
    }

    /// Decodes an RTM_NEWLINK message; nil for any other message.
    public init?(message: NetlinkMessage) {
        guard message.type == UInt16(RTM_NEWLINK), let h = message.familyHeader(ifinfomsg.self) else { return nil }
        let a = message.attributes(after: ifinfomsg.self)
        index = h.ifi_index
        flags = h.ifi_flags
        name = a.string(Int(IFLA_IFNAME)) ?? ""
        mtu = Int(a.uint32(Int(IFLA_MTU)) ?? 0)
        hardwareAddress = a[Int(IFLA_ADDRESS)] ?? []
        masterIndex = a.uint32(Int(IFLA_MASTER)).map { Int32(bitPattern: $0) }
        kind = a.nested(Int(IFLA_LINKINFO))?.string(Int(IFLA_INFO_KIND))
        alias = a.string(Int(IFLA_IFALIAS))
    }

    public init(index: Int32, name: String, mtu: Int, flags: UInt32, hardwareAddress: [UInt8] = [],
                masterIndex: Int32? = nil, kind: String? = nil, alias: String? = nil) {
        self.index = index; self.name = name; self.mtu = mtu; self.flags = flags
        self.hardwareAddress = hardwareAddress; self.masterIndex = masterIndex; self.kind = kind; self.alias = alias
    }
}

/// An IPv4 address on an interface (RTM_NEWADDR).
public struct InterfaceAddress: Equatable, Hashable, Sendable {
    public var ifindex: Int32
    /// The local address with its prefix length, e.g. 10.0.0.37/24.
    public var prefix: IPv4Prefix

    public init(ifindex: Int32, prefix: IPv4Prefix) { self.ifindex = ifindex; self.prefix = prefix }

    public init?(message: NetlinkMessage) {
        guard message.type == UInt16(RTM_NEWADDR), let h = message.familyHeader(ifaddrmsg.self),
              h.ifa_family == UInt8(AF_INET), h.ifa_prefixlen <= 32 else { return nil }
        let a = message.attributes(after: ifaddrmsg.self)
        // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links.
        guard let address = a.ipv4(Int(IFA_LOCAL)) ?? a.ipv4(Int(IFA_ADDRESS)) else { return nil }
        ifindex = Int32(bitPattern: h.ifa_index)
        prefix = IPv4Prefix(address: address, length: Int(h.ifa_prefixlen))
    }
}

/// An IPv4 route (RTM_NEWROUTE).
public struct Route: Equatable, Sendable {
    public var destination: IPv4Prefix
    public var gateway: IPv4Address?
    public var outputIndex: Int32?
    public var table: UInt32
    public var scope: UInt8
    /// RTN_* (unicast, local, broadcast, …).
    public var type: UInt8
    public var protocolID: UInt8
    public var flags: UInt32

    public var isOnLink: Bool { flags & UInt32(RTNH_F_ONLINK) != 0 }

    public init?(message: NetlinkMessage) {
        guard message.type == UInt16(RTM_NEWROUTE), let h = message.familyHeader(rtmsg.self),
              h.rtm_family == UInt8(AF_INET), h.rtm_dst_len <= 32 else { return nil }
        let a = message.attributes(after: rtmsg.self)
        destination = IPv4Prefix(address: a.ipv4(Int(RTA_DST.rawValue)) ?? IPv4Address(0), length: Int(h.rtm_dst_len))
        gateway = a.ipv4(Int(RTA_GATEWAY.rawValue))
        outputIndex = a.uint32(Int(RTA_OIF.rawValue)).map { Int32(bitPattern: $0) }
        // Tables above 255 only fit in RTA_TABLE.
        table = a.uint32(Int(RTA_TABLE.rawValue)) ?? UInt32(h.rtm_table)
        scope = h.rtm_scope
        type = h.rtm_type
        protocolID = h.rtm_protocol
        flags = h.rtm_flags
    }
}

/// An IPv4 neighbour (ARP) entry (RTM_NEWNEIGH).
public struct Neighbour: Equatable, Sendable {
    public var ifindex: Int32
    public var address: IPv4Address
    public var hardwareAddress: [UInt8]
    /// `NUD_*` bits.
    public var state: UInt16

    public func isIn(_ s: NeighbourState) -> Bool { state & s.rawValue != 0 }

    public init?(message: NetlinkMessage) {
        guard message.type == UInt16(RTM_NEWNEIGH), let h = message.familyHeader(ndmsg.self),
              h.ndm_family == UInt8(AF_INET) else { return nil }
        let a = message.attributes(after: ndmsg.self)
        guard let dst = a.ipv4(Int(NDA_DST)) else { return nil }
        ifindex = h.ndm_ifindex
        address = dst
        hardwareAddress = a[Int(NDA_LLADDR)] ?? []
        state = h.ndm_state
    }
}

extension String {
    func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
