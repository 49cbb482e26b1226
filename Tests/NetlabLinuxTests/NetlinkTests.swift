import CNetlabShims
import Foundation
import Glibc
import NetlabKit
import NetlabLinux
import Testing

/// A named network namespace made for one test (`/run/netns/nltest-<pid>-<tag>`), deleted by `close()`.
final class TestNamespace {
    let name: String
    let path: String
    let fd: Int32

    init(_ tag: String) throws {
        name = "nltest-\(getpid())-\(tag)"
        path = "/run/netns/\(name)"
        let shared = netlab_make_shared_mount_dir("/run/netns")
        guard shared == 0 else { throw NetlinkError(operation: "share /run/netns", code: -shared) }
        let rc = netlab_netns_create(path)
        guard rc == 0 else { throw NetlinkError(operation: "create netns \(name)", code: -rc) }
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            _ = netlab_netns_delete(path)
            throw NetlinkError(operation: "open netns \(name)", code: e)
        }
    }

    func netlink() throws -> RouteNetlink { try RouteNetlink(namespaceFD: fd, name: name) }

    func close() {
        Glibc.close(fd)
        _ = netlab_netns_delete(path)
    }
}

/// The root namespace's links, read with a dump (never written): what must not change.
func rootLinkSnapshot() throws -> [String] {
    let root = RouteNetlink(socket: try MnlNetlinkSocket.inCallersNamespace(label: "root (read-only)"))
    return try root.listLinks().map { "\($0.index) \($0.name) mtu \($0.mtu) \($0.kind ?? "-")" }.sorted()
}

/// `ip -n <ns> -j <args>` as an independent view of the namespace.
func ipJSON(_ ns: TestNamespace, _ args: [String]) throws -> [[String: Any]] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    p.arguments = ["-n", ns.name, "-j"] + args
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (try JSONSerialization.jsonObject(with: data) as? [[String: Any]]) ?? []
}

@Suite(.serialized) struct NetlinkTests {
    @Test(.enabled(if: getuid() == 0, "needs root: creates network namespaces"))
    func buildsBridgeVethAddressesAndRoutesAcrossNamespaces() throws {
        let rootBefore = try rootLinkSnapshot()
        let node = try TestNamespace("node")
        defer { node.close() }
        let pod = try TestNamespace("pod")
        defer { pod.close() }
        let n = try node.netlink(), p = try pod.netlink()

        try n.createBridge(name: "br0", mtu: 1460)
        try n.createVeth(name: "veth-pod", peerName: "eth0", peerNamespaceFD: pod.fd, mtu: 1460)
        try n.setMaster(.name("veth-pod"), master: .name("br0"))
        try n.setUp(.name("br0"))
        try n.setUp(.name("veth-pod"))
        try n.setAlias(.name("veth-pod"), alias: "netlab pod veth")
        try n.addAddress(IPv4Prefix("10.0.0.1/24")!, to: .name("br0"))
        try p.setUp(.name("lo"))
        try p.setUp(.name("eth0"))
        try p.addAddress(IPv4Prefix("10.0.0.37/24")!, to: .name("eth0"))
        try p.addRoute(destination: IPv4Prefix("10.96.0.0/12")!, gateway: IPv4Address("10.0.0.1"), device: .name("eth0"))
        try p.addRoute(destination: IPv4Prefix("0.0.0.0/0")!, gateway: IPv4Address("10.0.0.1"))

        // The node side: a bridge and the veth enslaved to it, both up, both MTU 1460.
        let nodeLinks = try n.listLinks()
        let br0 = try #require(nodeLinks.first { $0.name == "br0" })
        let veth = try #require(nodeLinks.first { $0.name == "veth-pod" })
        #expect(br0.kind == "bridge" && br0.mtu == 1460 && br0.isUp)
        #expect(veth.kind == "veth" && veth.mtu == 1460 && veth.isUp && veth.masterIndex == br0.index)
        #expect(veth.alias == "netlab pod veth")
        #expect(veth.hardwareAddress.count == 6)
        #expect(!nodeLinks.contains { $0.name == "eth0" })
        #expect(try n.linkIndex(name: "br0") == br0.index)

        // The pod side: the peer landed here.
        let podLinks = try p.listLinks()
        let eth0 = try #require(podLinks.first { $0.name == "eth0" })
        #expect(eth0.kind == "veth" && eth0.mtu == 1460 && eth0.isUp && eth0.masterIndex == nil)
        #expect(Set(podLinks.map(\.name)) == ["lo", "eth0"])

        #expect(try n.listAddresses().contains(InterfaceAddress(ifindex: br0.index, prefix: IPv4Prefix("10.0.0.1/24")!)))
        #expect(try p.listAddresses().contains(InterfaceAddress(ifindex: eth0.index, prefix: IPv4Prefix("10.0.0.37/24")!)))

        let routes = try p.listRoutes()
        #expect(routes.contains { $0.destination == IPv4Prefix("10.96.0.0/12")! && $0.gateway == IPv4Address("10.0.0.1")
            && $0.outputIndex == eth0.index })
        #expect(routes.contains { $0.destination == IPv4Prefix("0.0.0.0/0")! && $0.gateway == IPv4Address("10.0.0.1") })
        // The connected route the kernel made for the address.
        #expect(routes.contains { $0.destination == IPv4Prefix("10.0.0.0/24")! && $0.gateway == nil && $0.outputIndex == eth0.index })

        // iproute2's own view agrees.
        let ipNode = try ipJSON(node, ["link", "show"])
        let ipVeth = try #require(ipNode.first { $0["ifname"] as? String == "veth-pod" })
        #expect(ipVeth["master"] as? String == "br0")
        #expect(ipVeth["mtu"] as? Int == 1460)
        let ipPod = try ipJSON(pod, ["route", "show"])
        #expect(ipPod.contains { $0["dst"] as? String == "10.96.0.0/12" && $0["gateway"] as? String == "10.0.0.1" && $0["dev"] as? String == "eth0" })

        // Deleting one end of the veth takes the peer in the other namespace with it.
        try n.deleteLink(name: "veth-pod")
        #expect(try !p.listLinks().contains { $0.name == "eth0" })

        #expect(try rootLinkSnapshot() == rootBefore)
    }

    @Test(.enabled(if: getuid() == 0, "needs root: creates network namespaces"))
    func kernelErrorsCarryErrnoNameAndExtendedAck() throws {
        let ns = try TestNamespace("errors")
        defer { ns.close() }
        let rt = try ns.netlink()
        try rt.createVeth(name: "a", peerName: "b")
        try rt.addAddress(IPv4Prefix("10.0.0.37/24")!, to: .name("a"))

        do {
            try rt.addAddress(IPv4Prefix("10.0.0.37/24")!, to: .name("a"))
            Issue.record("duplicate address accepted")
        } catch let e as NetlinkError {
            #expect(e.code == EEXIST)
            #expect(e.description == "netlink: add address 10.0.0.37/24 to a in netns \(ns.name): EEXIST (File exists): ipv4: Address already assigned")
        }

        do {
            try rt.setUp(.name("nosuchlink"))
            Issue.record("unknown link accepted")
        } catch let e as NetlinkError {
            #expect(e.code == ENODEV)
            #expect(e.description.hasPrefix("netlink: set nosuchlink up in netns \(ns.name): ENODEV (No such device)"))
            print("ENODEV:", e)
        }

        do {
            try rt.createBridge(name: "sixteen-bytes-xx")
            Issue.record("16-byte name accepted")
        } catch let e as NetlinkError {
            #expect(e.code == ERANGE)
            #expect(e.kernelMessage?.isEmpty == false)
            print("long name:", e)
        }

        do {
            _ = try rt.linkIndex(name: "nosuchlink")
            Issue.record("lookup of an unknown link succeeded")
        } catch let e as NetlinkError {
            #expect(e.code == ENODEV)
        }

        do {
            try rt.addRoute(destination: IPv4Prefix("10.9.0.0/16")!, gateway: IPv4Address("192.168.7.1"))
            Issue.record("unreachable gateway accepted")
        } catch let e as NetlinkError {
            #expect(e.code == ENETUNREACH)
            print("unreachable gateway:", e)
        }
    }

    @Test(.enabled(if: getuid() == 0, "needs root: creates network namespaces"))
    func batchCarriesOnAfterAFailureAndSaysWhichFailed() throws {
        let ns = try TestNamespace("batch")
        defer { ns.close() }
        let rt = try ns.netlink()
        let batch = try [
            RouteRequest.createBridge(name: "b1"),
            RouteRequest.createBridge(name: "b1"),
            RouteRequest.createBridge(name: "b2"),
            RouteRequest.setUp(.name("b2")),
        ]
        let results = try rt.socket.transact(batch)
        #expect(results.count == 4)
        guard case .failure(let e) = results[1] else { Issue.record("duplicate bridge accepted"); return }
        #expect(e.code == EEXIST && e.requestIndex == 1 && e.requestCount == 4)
        for i in [0, 2, 3] { #expect((try? results[i].get()) != nil) }
        #expect(try rt.listLinks().contains { $0.name == "b2" && $0.isUp })
        #expect(throws: NetlinkError.self) { try rt.socket.perform(batch) }

        // More requests than fit in one sendto window (64): all acked, none lost.
        let many = try (0..<150).map { try RouteRequest.createVeth(name: "va\($0)", peerName: "vb\($0)", mtu: 1400) }
        try rt.socket.perform(many)
        let links = try rt.listLinks()
        #expect(links.filter { $0.kind == "veth" && $0.mtu == 1400 }.count == 300)
    }

    @Test(.enabled(if: getuid() == 0, "needs root: creates network namespaces"))
    func flushNeighboursKeepsOnlyPermanentEntries() throws {
        let ns = try TestNamespace("neigh")
        defer { ns.close() }
        let rt = try ns.netlink()
        try rt.createVeth(name: "a", peerName: "b")
        try rt.setUp(.name("a"))
        try rt.addAddress(IPv4Prefix("10.0.0.1/24")!, to: .name("a"))
        let mac: [UInt8] = [2, 0, 0, 0, 0, 9]
        try rt.setNeighbour(IPv4Address("10.0.0.2")!, mac: mac, on: .name("a"), state: .stale)
        try rt.setNeighbour(IPv4Address("10.0.0.3")!, mac: mac, on: .name("a"), state: .reachable)
        try rt.setNeighbour(IPv4Address("10.0.0.4")!, mac: mac, on: .name("a"), state: .permanent)
        #expect(Set(try rt.listNeighbours(on: .name("a")).map(\.address.description)) == ["10.0.0.2", "10.0.0.3", "10.0.0.4"])
        #expect(try rt.flushNeighbours(on: .name("a")) == 2)
        let left = try rt.listNeighbours(on: .name("a"))
        #expect(left.map(\.address) == [IPv4Address("10.0.0.4")!])
        #expect(left.first?.hardwareAddress == mac)
    }

    /// Checks over IPv6 must see neighbour discovery on the wire as IPv4 checks see ARP: the flush
    /// before a check takes IPv6 entries too.
    @Test(.enabled(if: getuid() == 0, "needs root: creates network namespaces"))
    func flushNeighboursTakesIPv6EntriesToo() throws {
        let ns = try TestNamespace("neigh6")
        defer { ns.close() }
        let rt = try ns.netlink()
        try rt.createVeth(name: "a", peerName: "b")
        try rt.setUp(.name("a"))
        // With a carrier, as a lab's links have: IPv6 entries on a link without one did not stay.
        try rt.setUp(.name("b"))
        for (addr, state) in [("2001:db8::2", "stale"), ("2001:db8::3", "reachable"), ("2001:db8::4", "permanent")] {
            let r = try run(["ip", "-n", ns.name, "-6", "neigh", "replace", addr, "lladdr", "02:00:00:00:00:09", "dev", "a", "nud", state])
            try #require(r.succeeded, "\(r.stderrText)")
        }
        try rt.setNeighbour(IPv4Address("10.0.0.2")!, mac: [2, 0, 0, 0, 0, 9], on: .name("a"), state: .stale)
        let flushed = try rt.flushNeighbours(on: .name("a"))
        #expect(flushed == 3)
        let left = try run(["ip", "-n", ns.name, "-6", "neigh", "show", "dev", "a"]).stdoutText
        #expect(left.contains("2001:db8::4"))
        #expect(!left.contains("2001:db8::2") && !left.contains("2001:db8::3"))
    }

    /// Not a benchmark: prints how long 100 veth pairs take one request at a time and as one batch.
    @Test(.enabled(if: getuid() == 0, "needs root: creates network namespaces"))
    func hundredVethPairsTiming() throws {
        let ns = try TestNamespace("timing")
        defer { ns.close() }
        let peer = try TestNamespace("timing-peer")
        defer { peer.close() }
        let rt = try ns.netlink()
        let clock = ContinuousClock()
        let single = try clock.measure {
            for i in 0..<100 { try rt.createVeth(name: "s\(i)", peerName: "p\(i)", peerNamespaceFD: peer.fd, mtu: 1460) }
        }
        let batch = try (0..<100).map { try RouteRequest.createVeth(name: "t\($0)", peerName: "q\($0)", peerNamespaceFD: peer.fd, mtu: 1460) }
        let batched = try clock.measure { try rt.socket.perform(batch) }
        print("100 veth pairs (peer in another netns): one by one \(single), batched \(batched)")
        #expect(try rt.listLinks().filter { $0.kind == "veth" }.count == 200)
        #expect(try peer.netlink().listLinks().filter { $0.kind == "veth" }.count == 200)
    }
}
