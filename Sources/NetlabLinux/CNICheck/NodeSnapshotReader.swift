import Foundation
import CMnl
import Glibc
import NetlabKit

/// Reads a `NodeSnapshot` of one namespace: links, addresses, routes, rules and neighbours from
/// netlink dumps, the firewall from `iptables-save` and `nft list ruleset` run inside it, the
/// sysctls plugins set from /proc/sys as the namespace sees it, and the IPAM store's files.
struct NodeSnapshotReader {
    var namespace: NetworkNamespace
    var netlink: RouteNetlink
    var runner: any ProcessRunner
    var which: (String) -> String?
    /// host-local's store of the network: `<dataDir>/<network name>`.
    var ipamDirectories: [String]

    /// sysctls CNI plugins set (ptp and bridge: ip_forward and forwarding; portmap:
    /// route_localnet; proxy ARP setups; IPv6 ones where plugins turn IPv6 on or off).
    static let globalSysctls = ["ipv4/ip_forward", "ipv4/ip_local_port_range", "ipv4/ping_group_range"]
    static let ipv4InterfaceSysctls = ["forwarding", "proxy_arp", "proxy_arp_pvlan", "route_localnet", "rp_filter",
                                       "accept_local", "send_redirects", "arp_notify", "arp_ignore", "arp_announce"]
    static let ipv6InterfaceSysctls = ["forwarding", "disable_ipv6", "accept_ra", "accept_dad"]

    /// RTN_* and RTPROT_* as `ip route` names them.
    static let routeTypes = [Int(RTN_LOCAL): "local", Int(RTN_BROADCAST): "broadcast", Int(RTN_ANYCAST): "anycast",
                             Int(RTN_MULTICAST): "multicast", Int(RTN_BLACKHOLE): "blackhole", Int(RTN_UNREACHABLE): "unreachable",
                             Int(RTN_PROHIBIT): "prohibit", Int(RTN_THROW): "throw", Int(RTN_NAT): "nat"]
    static let routeProtocols = [Int(RTPROT_KERNEL): "kernel", Int(RTPROT_BOOT): "boot", Int(RTPROT_STATIC): "static"]

    func take() throws -> NodeSnapshot {
        var s = NodeSnapshot()
        let links = try netlink.listLinks()
        let names = Dictionary(links.map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
        func dev(_ i: Int32?) -> String { i.map { names[$0] ?? "ifindex \($0)" } ?? "-" }
        for l in links {
            var d = "\(l.name) (\(l.kind ?? "no kind")) mtu \(l.mtu) \(l.isUp ? "up" : "down")"
            if let m = l.masterIndex { d += " master \(dev(m))" }
            if !l.hardwareAddress.isEmpty { d += " mac \(l.hardwareAddressString)" }
            s.links[l.name] = d
        }
        s.addresses = Set(try netlink.listAddresses().map { "\($0.prefix) dev \(dev($0.ifindex))" })
        s.routes = Set(try netlink.listAllRoutes().map { r in
            var d = "\(r.destination.length == 0 ? "default" : r.destination.description)"
            if let g = r.gateway { d += " via \(g)" }
            if r.outputIndex != nil { d += " dev \(dev(r.outputIndex))" }
            d += " table \(RouteTables.name(r.table))"
            switch Int32(r.scope) {
            case Int32(RT_SCOPE_LINK.rawValue): d += " scope link"
            case Int32(RT_SCOPE_HOST.rawValue): d += " scope host"
            case Int32(RT_SCOPE_UNIVERSE.rawValue): break
            default: d += " scope \(r.scope)"
            }
            if r.type != UInt8(RTN_UNICAST) { d += " type " + (Self.routeTypes[Int(r.type)] ?? "\(r.type)") }
            if r.isOnLink { d += " onlink" }
            return d + " proto " + (Self.routeProtocols[Int(r.protocolID)] ?? "\(r.protocolID)")
        })
        s.rules = Set(try netlink.listRules().map(\.description))
        // The kernel learns and ages ARP entries with the lab's own traffic (its API, the agents);
        // entries a plugin programs are permanent.
        s.neighbours = Set(try netlink.listNeighbours().filter { $0.isIn(.permanent) }.map {
            "\($0.address) dev \(dev($0.ifindex)) lladdr \(Link(index: 0, name: "", mtu: 0, flags: 0, hardwareAddress: $0.hardwareAddress).hardwareAddressString) PERMANENT"
        })
        s.firewall = try firewall()
        s.sysctls = try sysctls(interfaces: ["all", "default"] + links.map(\.name))
        s.ipamFiles = ipamFiles()
        return s
    }

    private func firewall() throws -> [NodeSnapshot.FirewallLine] {
        var out: [NodeSnapshot.FirewallLine] = []
        if let bin = which("iptables-save") { out += NodeSnapshot.iptablesSaveLines(try run([bin])) }
        if let bin = which("nft") { out += NodeSnapshot.nftRulesetLines(try run([bin, "list", "ruleset"])) }
        return out
    }

    private func run(_ argv: [String]) throws -> String {
        let o = try runner.run(argv: argv, environment: ["PATH": cniSearchPath], stdin: Data(), timeout: 30)
        guard o.succeeded else {
            throw LabError.cni("\(argv.joined(separator: " ")) in netns \(namespace.name) \(o.terminationDescription): "
                + o.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return o.stdoutText
    }

    private func sysctls(interfaces: [String]) throws -> [String: String] {
        var keys = Self.globalSysctls.map { "/proc/sys/net/\($0)" }
        for i in interfaces {
            keys += Self.ipv4InterfaceSysctls.map { "/proc/sys/net/ipv4/conf/\(i)/\($0)" }
            keys += Self.ipv6InterfaceSysctls.map { "/proc/sys/net/ipv6/conf/\(i)/\($0)" }
        }
        var out: [String: String] = [:]
        for k in keys {
            guard let v = try namespace.readSysctl(k) else { continue }
            out[k.dropFirst("/proc/sys/".count).replacingOccurrences(of: "/", with: ".")] = v.replacingOccurrences(of: "\t", with: " ")
        }
        return out
    }

    private func ipamFiles() -> [String: String] {
        var out: [String: String] = [:]
        let fm = FileManager.default
        for dir in ipamDirectories {
            for f in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] {
                let path = "\(dir)/\(f)"
                var isDir: ObjCBool = false
                guard fm.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
                      let data = fm.contents(atPath: path) else { continue }
                out[path] = String(decoding: data.prefix(4096), as: UTF8.self)
            }
        }
        return out
    }
}
