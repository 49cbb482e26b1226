import CMnl
import Glibc
import NetlabKit

/// The overlay agent's operations (netlab-overlay), one request each, on the socket's namespace.
extension RouteNetlink {
    /// Equivalent to: `ip link add <name> type vxlan id <vni> local <local> dstport <port> [dev <underlay>] nolearning`.
    public func createVXLAN(name: String, vni: UInt32, local: IPv4Address, port: UInt16, underlay: LinkRef? = nil, mtu: Int? = nil) throws {
        let underlayIndex = try underlay.map(index(of:))
        try socket.perform([RouteRequest.createVXLAN(name: name, vni: vni, local: local, port: port,
                                                     underlayIndex: underlayIndex, mtu: mtu)])
    }

    /// The VXLAN settings of `link`; nil when it is not a VXLAN device. Equivalent to: `ip -d link show <link>`.
    public func vxlanAttributes(_ link: LinkRef) throws -> VXLANAttributes? {
        try socket.request(RouteRequest.getLink(link)).lazy.compactMap(VXLANAttributes.init(message:)).first
    }

    /// Equivalent to: `bridge fdb replace <mac> dev <link> dst <destination> self permanent`.
    public func setFDB(mac: MACAddress, destination: IPv4Address, on link: LinkRef) throws {
        let ifindex = try index(of: link)
        try socket.perform([RouteRequest.setFDB(mac: mac, destination: destination, ifindex: ifindex, ifname: link.knownName)])
    }

    /// Equivalent to: `bridge fdb del <mac> dev <link> dst <destination> self`.
    public func deleteFDB(mac: MACAddress, destination: IPv4Address, on link: LinkRef) throws {
        let ifindex = try index(of: link)
        try socket.perform([RouteRequest.deleteFDB(mac: mac, destination: destination, ifindex: ifindex, ifname: link.knownName)])
    }

    /// The forwarding entries of one link, or of all. Equivalent to: `bridge fdb show [dev <link>]`.
    public func listFDB(on link: LinkRef? = nil) throws -> [FDBEntry] {
        let ifindex = try link.map(index(of:))
        return try socket.request(RouteRequest.dumpFDB()).compactMap(FDBEntry.init(message:))
            .filter { ifindex == nil || $0.ifindex == ifindex }
    }

    /// Equivalent to: `ip neigh del <address> dev <link>`.
    public func deleteNeighbour(_ address: IPv4Address, on link: LinkRef) throws {
        let ifindex = try index(of: link)
        try socket.perform([RouteRequest.deleteNeighbour(address, ifindex: ifindex, ifname: link.knownName)])
    }

    /// Equivalent to: `ip route del <destination> [via <gateway>] [dev <device>]`.
    public func deleteRoute(destination: IPv4Prefix, gateway: IPv4Address? = nil, device: LinkRef? = nil) throws {
        let deviceIndex = try device.map(index(of:))
        try socket.perform([RouteRequest.deleteRoute(destination: destination, gateway: gateway, deviceIndex: deviceIndex,
                                                     deviceName: device?.knownName)])
    }
}
