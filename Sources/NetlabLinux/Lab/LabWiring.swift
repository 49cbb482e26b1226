import Foundation
import Glibc
import NetlabKit

/// Wiring: the plan's links, sysctls, addresses, routes and NAT rules, carried out in the lab's
/// namespaces through netlink batches (`edges.netlink`) and iptables-restore.
extension Lab {
    /// The plan's links, addresses and routes, as netlink batches: the bridges first, then per
    /// namespace one batch of its veths, the sysctls, and per namespace (in name order), after
    /// one dump (names to indexes), one batch that sets masters, brings links up and adds
    /// addresses then routes, in that order. A failure names the request.
    func wireLinks() throws {
        var sockets: [String: any NetlinkSocket] = [:]
        func nl(_ member: String) throws -> any NetlinkSocket {
            if let s = sockets[member] { return s }
            let s = try edges.netlink.socket(in: try namespace(member))
            sockets[member] = s
            return s
        }
        // Bridges first, then the veths, in plan order. The order matters beyond taste: a veth end
        // whose ifindex equals its peer's (both 2, say, each first in its namespace) gets its
        // carrier changes through the kernel's *delayed* linkwatch (up to a second), during which a
        // bridge port does not forward. With the bridge made first, the VPC side of every veth
        // is index 3 or more, while the node, gw and client sides are 2.
        for b in plan.bridges {
            logStep("create bridge", member: b.namespace, ["ifname": "\(b.name)"])
            try nl(b.namespace).perform([try RouteRequest.createBridge(name: b.name, mtu: b.mtu)])
        }
        var creates: [(String, [NetlinkRequest])] = []
        for v in plan.veths {
            let peerFD = v.namespaceA == v.namespaceB ? nil : try namespace(v.namespaceB).fd
            let request = try RouteRequest.createVeth(name: v.nameA, peerName: v.nameB, peerNamespaceFD: peerFD, mtu: v.mtu)
            if let i = creates.firstIndex(where: { $0.0 == v.namespaceA }) { creates[i].1.append(request) } else { creates.append((v.namespaceA, [request])) }
        }
        for (member, batch) in creates {
            logStep("create veths", member: member, ["count": "\(batch.count)"])
            try nl(member).perform(batch)
        }

        // Sysctls before addresses and routes: rp_filter and forwarding must hold from the first packet.
        for s in plan.sysctls {
            logStep("sysctl \(s.key)=\(s.value)", member: s.namespace)
            do { try edges.namespaces.writeSysctl(s.path, s.value, in: try namespace(s.namespace)) } catch let e as SystemError where e.errno == ENOENT && (s.key.hasPrefix("net/bridge/") || s.key.hasPrefix("net/ipv6/")) {
                // Without br_netfilter there is no bridge-nf-call-* at all, which is what the VPC
                // wants; without IPv6 there is nothing to disable.
            }
        }

        let members = Set(plan.linksUp.keys).union(plan.addresses.map(\.namespace)).union(plan.routes.map(\.namespace))
            .union(plan.addresses6.map(\.namespace)).union(plan.routes6.map(\.namespace))
        for member in members.sorted() {
            let socket = try nl(member)
            let needsIndexes = plan.bridges.contains { $0.namespace == member && !$0.ports.isEmpty }
                || plan.addresses.contains { $0.namespace == member } || plan.routes.contains { $0.namespace == member }
                || plan.addresses6.contains { $0.namespace == member } || plan.routes6.contains { $0.namespace == member }
            var index: [String: Int32] = [:]
            if needsIndexes { for l in try RouteNetlink(socket: socket).listLinks() { index[l.name] = l.index } }
            func idx(_ name: String) throws -> Int32 {
                guard let i = index[name] else { throw LabError.broken(self.name, "no link \(name) in \(member) right after creating it") }
                return i
            }
            var batch: [NetlinkRequest] = []
            for b in plan.bridges where b.namespace == member {
                for port in b.ports { batch.append(try RouteRequest.setMaster(.name(port), masterIndex: try idx(b.name), masterName: b.name)) }
            }
            for l in plan.linksUp[member] ?? [] { batch.append(try RouteRequest.setUp(.name(l))) }
            for a in plan.addresses where a.namespace == member {
                batch.append(try RouteRequest.addAddress(a.prefix, ifindex: try idx(a.device), ifname: a.device))
            }
            for a in plan.addresses6 where a.namespace == member {
                batch.append(try RouteRequest.addAddress(a.prefix, ifindex: try idx(a.device), ifname: a.device))
            }
            for r in plan.routes where r.namespace == member {
                batch.append(try RouteRequest.addRoute(destination: r.destination, gateway: r.gateway, deviceIndex: try idx(r.device), deviceName: r.device))
            }
            for r in plan.routes6 where r.namespace == member {
                batch.append(try RouteRequest.addRoute(destination: r.destination, gateway: r.gateway, deviceIndex: try idx(r.device), deviceName: r.device))
            }
            if !batch.isEmpty {
                logStep("configure links, addresses, routes", member: member, ["count": "\(batch.count)"])
                try socket.perform(batch)
            }
        }
    }

    func applyFirewall() throws {
        for (member, rules) in plan.firewall.sorted(by: { $0.key < $1.key }) {
            logStep("iptables-restore", member: member)
            let ns = try namespace(member)
            try IPTables.restore(rules, in: ns, what: "the \(member) namespace's NAT rules",
                                 runner: edges.processes.runner(in: ns), which: edges.processes.which)
        }
    }
}
