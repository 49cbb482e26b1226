import Glibc
import NetlabKit
import NetlabLinux

/// The VTEP in this agent's network namespace (netlab starts agents inside their node's, so a
/// socket opened here is the node's), through NetlabLinux's libmnl requests.
struct VTEP {
    let nl: RouteNetlink
    let name: String

    struct Settings: Equatable {
        var vni: UInt32
        var local: IPv4Address
        var port: UInt16
        var underlay: String?
        var podCIDR: IPv4Prefix
    }

    /// Makes the device as flannel does (or keeps one whose VNI, local address and port are
    /// right; another is deleted and made again), sets its MTU to the underlay's - 50, gives it
    /// the pod range's network address /32 and brings it up. Returns it, with its MAC.
    func ensure(_ s: Settings) throws -> Link {
        let addresses = try nl.listAddresses()
        let underlay: Link
        if let iface = s.underlay {
            underlay = try nl.link(.name(iface))
        } else {
            guard let a = addresses.first(where: { $0.prefix.address == s.local }) else {
                throw Failure("no link here holds the public IP \(s.local): give --iface or --public-ip")
            }
            underlay = try nl.link(.index(a.ifindex))
        }
        let mtu = underlay.mtu - VXLANOverlay.overhead
        if let existing = try? nl.link(.name(name)) {
            let have = try nl.vxlanAttributes(.index(existing.index))
            if have?.vni != s.vni || have?.local != s.local || have?.port != s.port {
                logLine("\(name) exists with other settings (\(have.map { "vni \($0.vni.map(String.init) ?? "?"), local \($0.local.map { "\($0)" } ?? "?"), port \($0.port.map(String.init) ?? "?")" } ?? "not vxlan")): deleting it")
                try nl.deleteLink(name: name)
            }
        }
        if (try? nl.link(.name(name))) == nil {
            try nl.createVXLAN(name: name, vni: s.vni, local: s.local, port: s.port, underlay: .index(underlay.index), mtu: mtu)
            logLine("made \(name): vxlan id \(s.vni) local \(s.local) dstport \(s.port) dev \(underlay.name) nolearning mtu \(mtu)")
        }
        var link = try nl.link(.name(name))
        if link.mtu != mtu { try nl.setMTU(.index(link.index), mtu: mtu) }
        let want = IPv4Prefix(address: s.podCIDR.network.address, length: 32)
        if !addresses.contains(where: { $0.ifindex == link.index && $0.prefix == want }) {
            try nl.addAddress(want, to: .index(link.index))
        }
        if !link.isUp { try nl.setUp(.index(link.index)) }
        link = try nl.link(.index(link.index))
        return link
    }

    /// The agent's kinds of entries on the device: permanent neighbours, FDB entries with a
    /// destination, gateway routes through it.
    func current(_ link: Link) throws -> VXLANOverlay.State {
        var s = VXLANOverlay.State()
        for n in try nl.listNeighbours(on: .index(link.index)) where n.isIn(.permanent) {
            if let mac = MACAddress(bytes: n.hardwareAddress) { s.neighbours.insert(.init(address: n.address, mac: mac)) }
        }
        for f in try nl.listFDB(on: .index(link.index)) {
            if let dst = f.destination, f.state & NeighbourState.permanent.rawValue != 0 { s.forwarding.insert(.init(mac: f.mac, destination: dst)) }
        }
        for r in try nl.listRoutes() where r.outputIndex == link.index {
            if let gw = r.gateway { s.routes.insert(.init(destination: r.destination, gateway: gw)) }
        }
        return s
    }

    /// Carries the changes out, in their order; an entry already gone is not an error.
    func apply(_ c: VXLANOverlay.Changes, on link: Link) throws {
        let dev = LinkRef.index(link.index)
        func tolerant(_ body: () throws -> Void) throws {
            do { try body() } catch let e as NetlinkError where e.code == ENOENT || e.code == ESRCH {}
        }
        for r in c.removeRoutes { try tolerant { try nl.deleteRoute(destination: r.destination, gateway: r.gateway, device: dev) } }
        for f in c.removeForwarding { try tolerant { try nl.deleteFDB(mac: f.mac, destination: f.destination, on: dev) } }
        for n in c.removeNeighbours { try tolerant { try nl.deleteNeighbour(n.address, on: dev) } }
        for n in c.addNeighbours { try nl.setNeighbour(n.address, mac: n.mac.array, on: dev, state: .permanent) }
        for f in c.addForwarding { try nl.setFDB(mac: f.mac, destination: f.destination, on: dev) }
        for r in c.addRoutes { try nl.addRoute(destination: r.destination, gateway: r.gateway, device: dev, onLink: true) }
    }
}
