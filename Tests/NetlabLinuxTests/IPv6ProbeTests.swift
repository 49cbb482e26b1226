import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// netlab's IPv6 probes and servers against the real kernel, in namespaces this test builds with
/// `ip` (the dual-stack lab wiring is another change): client — router — server, each link a veth
/// with IPv6 addresses (no duplicate address detection, so they are usable at once).
///
///   client eth0 2001:db8:a::2/64 ── ra 2001:db8:a::1 [router] rb 2001:db8:b::1 ── eth0 2001:db8:b::2/64 server
extension Labs { @Suite struct IPv6ProbeTests {
    static let client = IPv6Address("2001:db8:a::2")!, routerA = IPv6Address("2001:db8:a::1")!
    static let routerB = IPv6Address("2001:db8:b::1")!, server = IPv6Address("2001:db8:b::2")!

    /// Three namespaces, deleted by `close` (also when a test fails midway).
    final class Path {
        let names: [String]
        var spaces: [NetworkNamespace] = []
        var client: NetworkNamespace { spaces[0] }
        var router: NetworkNamespace { spaces[1] }
        var server: NetworkNamespace { spaces[2] }

        init() throws {
            // nltest-: the host snapshot of other tests knows these are a test's own.
            names = ["c", "r", "s"].map { "nltest-v6\($0)-\(getpid())" }
            try NetworkNamespace.prepareDirectory()
            for n in names { spaces.append(try NetworkNamespace.create(name: n)) }
            for ns in spaces {
                for key in ["all", "default"] {
                    try ns.writeSysctl("/proc/sys/net/ipv6/conf/\(key)/disable_ipv6", "0")
                    try ns.writeSysctl("/proc/sys/net/ipv6/conf/\(key)/accept_dad", "0")
                }
            }
            try router.writeSysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1")
            let (c, r, s) = (names[0], names[1], names[2])
            // Distinct ifindexes on the two ends of each veth: equal ones get their carrier through the
            // kernel's delayed linkwatch (LINUX-NOTES), and the first neighbour solicitations were lost.
            try ip(["-n", c, "link", "add", "eth0", "index", "12", "type", "veth", "peer", "name", "ra", "index", "13", "netns", r])
            try ip(["-n", s, "link", "add", "eth0", "index", "22", "type", "veth", "peer", "name", "rb", "index", "23", "netns", r])
            try ip(["-n", c, "addr", "add", "2001:db8:a::2/64", "dev", "eth0", "nodad"])
            try ip(["-n", r, "addr", "add", "2001:db8:a::1/64", "dev", "ra", "nodad"])
            try ip(["-n", r, "addr", "add", "2001:db8:b::1/64", "dev", "rb", "nodad"])
            try ip(["-n", s, "addr", "add", "2001:db8:b::2/64", "dev", "eth0", "nodad"])
            for (n, link) in [(c, "eth0"), (r, "ra"), (r, "rb"), (s, "eth0"), (s, "lo")] { try ip(["-n", n, "link", "set", link, "up"]) }
            try ip(["-n", c, "-6", "route", "add", "default", "via", "2001:db8:a::1"])
            try ip(["-n", s, "-6", "route", "add", "default", "via", "2001:db8:b::1"])
        }

        func ip(_ args: [String]) throws {
            let o = try run(["ip"] + args)
            guard o.succeeded else { throw Failed(what: "ip \(args.joined(separator: " "))", output: o.stderrText) }
        }

        func close() {
            for ns in spaces { ns.close() }
            for n in names { try? NetworkNamespace.delete(path: "/run/netns/\(n)") }
        }

        struct Failed: Error, CustomStringConvertible {
            var what: String, output: String
            var description: String { "\(what) failed: \(output)" }
        }
    }

    @Test func icmpv6EchoGivesTheHopLimitAcrossARouter() throws {
        let path = try Path()
        defer { path.close() }
        // On the link: the router's own address answers with the hop limit it sent.
        let near = Probe.echo(from: path.client, to: .v6(Self.routerA), timeout: 2)
        #expect(near.ttl == 64 && near.from == .v6(Self.routerA), "\(near)")
        // Across the router: one hop less, as TTL 63 across one router in IPv4.
        let far = Probe.echo(from: path.client, to: .v6(Self.server), timeout: 2)
        #expect(far.ttl == 63 && far.from == .v6(Self.server) && far.failure == nil, "\(far.failure ?? "")")
    }

    /// A capture on the server's link decodes the neighbour discovery and the echo, printed as
    /// tcpdump prints them.
    @Test func aCaptureOnTheLinkShowsNeighbourDiscoveryAndTheEcho() throws {
        let path = try Path()
        defer { path.close() }
        let capture = try Capture(namespace: path.server, member: "server", interface: "eth0")
        let echo = Probe.echo(from: path.client, to: .v6(Self.server), timeout: 2, id: 0x6a6a)
        let packets = capture.stop()
        #expect(echo.ttl == 63, "\(echo.failure ?? "")")
        let decoded = packets.map(\.decoded)
        // The router asks who has the server's address; the server answers (either side may ask first).
        let asked = decoded.contains { PacketFilter.neighborSolicitation(target: Self.server).matches($0) }
            || decoded.contains { PacketFilter.neighborSolicitation(target: Self.routerB).matches($0) }
        #expect(asked, "no neighbour solicitation among \(packets.map(TcpdumpFormatter().format))")
        #expect(decoded.contains { PacketFilter.neighborAdvertisement().matches($0) })
        let request = try #require(decoded.first { PacketFilter.icmp6EchoRequest(from: Self.client, to: Self.server).matches($0) })
        #expect(request.ipv6?.hopLimit == 63 && request.icmp6?.identifier == 0x6a6a)
        #expect(decoded.contains { PacketFilter(.icmp6, source: .v6(Self.server), destination: .v6(Self.client), ttl: 64,
                                                icmp6Type: ICMPv6Message.echoReply).matches($0) })
        let lines = packets.map(TcpdumpFormatter(includeTimestamp: false, includeHop: false, includeTTL: true).format)
        #expect(lines.contains("IP6 (hlim 63) 2001:db8:a::2 > 2001:db8:b::2: ICMP6, echo request, id 27242, seq 1, length 64"))
        #expect(lines.contains("IP6 (hlim 64) 2001:db8:b::2 > 2001:db8:a::2: ICMP6, echo reply, id 27242, seq 1, length 64"))
    }

    /// netlab's server answers HTTP and UDP over IPv6 and says it saw the IPv6 client; it still
    /// serves IPv4 on the same ports.
    @Test func httpAndUDPToAPodServerOverIPv6SeeTheIPv6Client() throws {
        let path = try Path()
        defer { path.close() }
        let out = Pipe()
        let child = try ChildProcess.spawn(argv: [netlabBinary, "serve", "--pod", "web6", "--tcp", "8080", "--udp", "5353"],
                                           environment: [:], namespace: path.server, stdout: out.fileHandleForWriting.fileDescriptor)
        try out.fileHandleForWriting.close()
        defer { ChildProcess.stop(pid: child.pid, startTime: child.startTime ?? 0, grace: 1) }
        let ready = String(decoding: out.fileHandleForReading.readData(ofLength: PodServer.readyLine.utf8.count + 1), as: UTF8.self)
        #expect(ready == PodServer.readyLine + "\n")

        let http = Probe.http(from: path.client, to: .v6(Self.server), port: 8080, timeout: 3)
        #expect(http.status == 200 && http.serverPod == "web6", "\(http.failure ?? "")")
        #expect(http.clientSeenByServer?.address == .v6(Self.client))
        #expect(http.local?.address == .v6(Self.client), "the probe's own end is the client's IPv6 address")
        let udp = Probe.udp(from: path.client, to: .v6(Self.server), port: 5353, timeout: 3)
        let answer = try #require(udp.reply.flatMap(ServerAnswer.init(decoding:)), "\(udp.failure ?? "")")
        #expect(answer.pod == "web6" && answer.client.address == .v6(Self.client) && answer.server.port == 5353)
        #expect(answer.client.description.hasPrefix("[2001:db8:a::2]:"))
        // IPv4 on the same port, inside the server's namespace: seen as IPv4, not as ::ffff:127.0.0.1.
        let v4 = Probe.http(from: path.server, to: .v4(IPv4Address("127.0.0.1")!), port: 8080, timeout: 3)
        #expect(v4.status == 200 && v4.clientSeenByServer?.address == .v4(IPv4Address("127.0.0.1")!), "\(v4.failure ?? "")")
    }

    /// A broken path: the router without a route to the server answers "no route" and says so;
    /// a server without a route back leaves the echo unanswered.
    @Test func aBrokenPathGivesUnreachableOrNoReply() throws {
        let path = try Path()
        defer { path.close() }
        #expect(Probe.echo(from: path.client, to: .v6(Self.server), timeout: 2).ttl == 63)
        try path.ip(["-n", path.names[2], "-6", "route", "del", "default"])
        let silent = Probe.echo(from: path.client, to: .v6(Self.server), timeout: 0.5)
        #expect(silent.ttl == nil && silent.failure == "no echo reply from 2001:db8:b::2 within 0.5 s")
        try path.ip(["-n", path.names[1], "-6", "route", "del", "2001:db8:b::/64", "dev", "rb"])
        let unreachable = Probe.echo(from: path.client, to: .v6(Self.server), timeout: 2)
        #expect(unreachable.ttl == nil && unreachable.from == .v6(Self.routerA))
        #expect(unreachable.failure == "2001:db8:a::1 answered ICMPv6 destination unreachable (code 0: no route to destination)")
        let tcp = Probe.http(from: path.client, to: .v6(Self.server), port: 8080, timeout: 1)
        #expect(tcp.status == nil && tcp.failure != nil)
    }
} }
