import CMnl
import Glibc
import NetlabKit

/// rtnetlink operations on one namespace, through a `NetlinkSocket` opened inside it.
/// Each call is one request (or a dump); to set up many things at once, build the requests with
/// `RouteRequest` and send them together with `socket.perform(_:)`.
public struct RouteNetlink {
    public let socket: any NetlinkSocket

    public init(socket: any NetlinkSocket) { self.socket = socket }

    /// Opens a socket inside the namespace `namespaceFD` (`name` is for error messages).
    public init(namespaceFD: Int32, name: String) throws {
        socket = try MnlNetlinkSocket(namespaceFD: namespaceFD, namespaceName: name)
    }

    // MARK: Links

    /// Equivalent to: `ip link add <name> [mtu M] type veth peer name <peerName> [mtu M] [netns <ns>]`.
    public func createVeth(name: String, peerName: String, peerNamespaceFD: Int32? = nil, mtu: Int? = nil) throws {
        try socket.perform([RouteRequest.createVeth(name: name, peerName: peerName,
                                                    peerNamespaceFD: peerNamespaceFD, mtu: mtu)])
    }

    /// Equivalent to: `ip link add <name> [mtu M] type bridge`.
    public func createBridge(name: String, mtu: Int? = nil) throws {
        try socket.perform([RouteRequest.createBridge(name: name, mtu: mtu)])
    }

    /// Equivalent to: `ip link set <link> master <master>`.
    public func setMaster(_ link: LinkRef, master: LinkRef) throws {
        let masterIndex = try index(of: master)
        try socket.perform([RouteRequest.setMaster(link, masterIndex: masterIndex, masterName: master.knownName)])
    }

    /// Equivalent to: `ip link set <link> up`.
    public func setUp(_ link: LinkRef) throws { try socket.perform([RouteRequest.setUp(link)]) }

    /// Equivalent to: `ip link set <link> down`.
    public func setDown(_ link: LinkRef) throws { try socket.perform([RouteRequest.setDown(link)]) }

    /// Equivalent to: `ip link set <link> mtu <mtu>`.
    public func setMTU(_ link: LinkRef, mtu: Int) throws { try socket.perform([RouteRequest.setMTU(link, mtu: mtu)]) }

    /// Equivalent to: `ip link set <link> alias <alias>`.
    public func setAlias(_ link: LinkRef, alias: String) throws {
        try socket.perform([RouteRequest.setAlias(link, alias: alias)])
    }

    /// Equivalent to: `ip link del <name>`.
    public func deleteLink(name: String) throws { try socket.perform([RouteRequest.deleteLink(.name(name))]) }

    /// The index of `name` in the socket's namespace, asked with RTM_GETLINK (not `if_nametoindex`,
    /// which answers for the calling thread's namespace). Equivalent to: `ip link show <name>`.
    public func linkIndex(name: String) throws -> Int32 {
        try link(.name(name)).index
    }

    /// One link by name or index. Equivalent to: `ip link show <link>`.
    public func link(_ link: LinkRef) throws -> Link {
        let request = try RouteRequest.getLink(link)
        guard let found = try socket.request(request).lazy.compactMap(Link.init(message:)).first else {
            throw NetlinkError(operation: request.operation, namespace: socket.namespaceName, code: EBADMSG,
                               detail: "acked without an RTM_NEWLINK reply")
        }
        return found
    }

    /// Every link of the namespace. Equivalent to: `ip link show`.
    public func listLinks() throws -> [Link] {
        try socket.request(RouteRequest.dumpLinks()).compactMap(Link.init(message:))
    }

    func index(of link: LinkRef) throws -> Int32 {
        switch link {
        case .index(let i): return i
        case .name(let n): return try linkIndex(name: n)
        }
    }

    // MARK: Addresses

    /// Equivalent to: `ip addr add <prefix> brd + dev <link>`.
    public func addAddress(_ prefix: IPv4Prefix, to link: LinkRef) throws {
        let ifindex = try index(of: link)
        try socket.perform([RouteRequest.addAddress(prefix, ifindex: ifindex, ifname: link.knownName)])
    }

    /// Every IPv4 address of the namespace. Equivalent to: `ip -4 addr show`.
    public func listAddresses() throws -> [InterfaceAddress] {
        try socket.request(RouteRequest.dumpAddresses()).compactMap(InterfaceAddress.init(message:))
    }

    // MARK: Routes

    /// Equivalent to: `ip route add <destination> [via <gateway>] [dev <device>] [scope S] [onlink]`.
    public func addRoute(destination: IPv4Prefix, gateway: IPv4Address? = nil, device: LinkRef? = nil,
                         scope: RouteScope? = nil, onLink: Bool = false) throws {
        let deviceIndex = try device.map(index(of:))
        try socket.perform([RouteRequest.addRoute(destination: destination, gateway: gateway, deviceIndex: deviceIndex,
                                                  deviceName: device?.knownName, scope: scope, onLink: onLink)])
    }

    /// IPv4 routes of one table (main by default). Equivalent to: `ip -4 route show table <table>`.
    public func listRoutes(table: UInt32 = UInt32(RT_TABLE_MAIN.rawValue)) throws -> [Route] {
        try socket.request(RouteRequest.dumpRoutes()).compactMap(Route.init(message:)).filter { $0.table == table }
    }

    // MARK: Neighbours

    /// Equivalent to: `ip neigh replace <address> lladdr <mac> dev <link> nud <state>`.
    public func setNeighbour(_ address: IPv4Address, mac: [UInt8], on link: LinkRef, state: NeighbourState) throws {
        let ifindex = try index(of: link)
        try socket.perform([RouteRequest.setNeighbour(address, mac: mac, ifindex: ifindex, state: state,
                                                      ifname: link.knownName)])
    }

    /// IPv4 neighbour entries, of one link or of all. Equivalent to: `ip -4 neigh show [dev <link>]`.
    public func listNeighbours(on link: LinkRef? = nil) throws -> [Neighbour] {
        let ifindex = try link.map(index(of:))
        return try socket.request(RouteRequest.dumpNeighbours()).compactMap(Neighbour.init(message:))
            .filter { ifindex == nil || $0.ifindex == ifindex }
    }

    /// Deletes the link's dynamic neighbour entries of both families (all but permanent and NOARP
    /// ones), so the next packet has to ARP or solicit again. Returns how many were deleted.
    /// Entries that vanish between the dump and the delete (ENOENT) are not errors.
    /// Equivalent to: `ip -4 neigh flush dev <link>; ip -6 neigh flush dev <link>`.
    @discardableResult
    public func flushNeighbours(on link: LinkRef) throws -> Int {
        let ifindex = try index(of: link)
        let ifname = link.knownName
        var entries: [IPAddress] = []
        for family in [AF_INET, AF_INET6] {
            for m in try socket.request(RouteRequest.dumpNeighbours(family: family)) {
                guard m.type == UInt16(RTM_NEWNEIGH), let h = m.familyHeader(ndmsg.self), h.ndm_family == UInt8(family),
                      h.ndm_ifindex == ifindex, h.ndm_state & (NeighbourState.permanent.rawValue | NeighbourState.noARP.rawValue) == 0,
                      let dst = m.attributes(after: ndmsg.self)[Int(NDA_DST)] else { continue }
                if family == AF_INET, dst.count == 4 { entries.append(.v4(IPv4Address(dst.reduce(0) { $0 << 8 | UInt32($1) }))) }
                if family == AF_INET6, let a = IPv6Address(bytes: dst) { entries.append(.v6(a)) }
            }
        }
        let requests = try entries.map { try RouteRequest.deleteNeighbour($0, ifindex: ifindex, ifname: ifname) }
        var deleted = 0
        for result in try socket.transact(requests) {
            switch result {
            case .success: deleted += 1
            case .failure(let e) where e.code == ENOENT: continue
            case .failure(let e): throw e
            }
        }
        return deleted
    }
}
