import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// netlab-proxy's UDP conntrack cleanup on the real kernel (root): ctnetlink dump and delete in a
/// lab node's namespace, and a fixed-source-port UDP client whose backend is swapped.
extension Labs { @Suite struct ConntrackCleanupRootTests {
    /// The one-shot default lab plus svc-dns (UDP 53 → 5353) over dnspod1 (node1) and dnspod2 (node2).
    static func yaml(proxy command: [String]) -> String {
        var y = oneShotDefaultYAML
        let pods = """
          - name: dnspod1
            node: node1
            labels: {app: dns}
            ports:
              - containerPort: 5353
                protocol: UDP
          - name: dnspod2
            node: node2
            labels: {app: dns}
            ports:
              - containerPort: 5353
                protocol: UDP
          - name: pod2
        """
        let services = """
        services:
          - name: svc-dns
            selector: {app: dns}
            ports:
              - name: dns
                port: 53
                targetPort: 5353
                protocol: UDP
        """
        y = y.replacingOccurrences(of: "  - name: pod2\n", with: pods + "\n")
        y = y.replacingOccurrences(of: "services:\n", with: services + "\n")
        return y + "proxy:\n  command: [\(command.joined(separator: ", "))]\n"
    }

    static let clientPort = 40053

    /// One datagram from pod `from`'s fixed port `clientPort` to `ip:port`; the answering pod's name, or nil.
    static func ask(_ lab: Lab, from: String, _ ip: IPv4Address, _ port: Int) throws -> String? {
        let ns = try lab.namespace(from)
        let fd = try ns.socket(domain: AF_INET, type: Int32(SOCK_DGRAM.rawValue), protocol: 0)
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var tv = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let local = SocketAddress(.v4(IPv4Address(0)), clientPort)
        #expect(local.with { bind(fd, $0, $1) } == 0, "bind :\(clientPort): \(SystemError.name(of: errno))")
        let remote = SocketAddress(.v4(ip), port)
        _ = remote.with { sendto(fd, "netlab", 6, 0, $0, $1) }
        var buffer = [UInt8](repeating: 0, count: 2048)
        let n = recv(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return (try? JSONDecoder().decode(ServerAnswer.self, from: Data(buffer[0..<n])))?.pod
    }

    static func conntrack(_ lab: Lab, _ node: String) throws -> ConntrackNetlink {
        let ns = try lab.namespace(node)
        return try ConntrackNetlink(namespaceFD: ns.fd, name: ns.name)
    }

    /// The entry real traffic made through the DNAT rule is in the dump, with its NAT; deleting it
    /// by its original tuple removes it, and deleting it again is no error.
    @Test func aUDPEntryMadeThroughDNATIsListedAndDeleted() throws {
        let t = try TopologyLoader.parse(yaml: Self.yaml(proxy: ["netlab-proxy"]), source: DefaultTopology.fileName)
        let lab = try Lab.up(name: uniqueLab("t-ctdel"), topology: t, persistent: false)
        defer { try? lab.down() }
        try lab.changeReadiness(unready: ["dnspod2"])
        let svc = try #require(t.services.first { $0.name == "svc-dns" })
        #expect(try Self.ask(lab, from: "pod1", svc.clusterIP, 53) == "dnspod1")
        let table = try Self.conntrack(lab, "node1")
        func ours() throws -> [ConntrackFlow] {
            try table.flows(.ipv4).filter { $0.original.sourcePort == Self.clientPort && $0.original.destination == .v4(svc.clusterIP) }
        }
        let flows = try ours()
        #expect(flows.count == 1, "\(flows)")
        let flow = try #require(flows.first)
        #expect(flow.proto == ConntrackFlow.udp && flow.original.destinationPort == 53)
        #expect(flow.reply.sourcePort == 5353, "DNATed to the pod's port: \(flow)")
        #expect(try table.delete([flow]) == 1)
        #expect(try ours().isEmpty)
        #expect(try table.delete([flow]) == 0, "already gone: ENOENT is no error")
    }

    /// The backend swap: the client keeps its source port; dnspod1 turns unready and dnspod2
    /// ready. With the cleanup the next datagram reaches dnspod2; without it (the test-only
    /// omission) the stale entry keeps sending it to dnspod1. Both proxy modes clean.
    @Test(arguments: [(["netlab-proxy"], "dnspod2"), (["netlab-proxy", "--proxy-mode", "nftables"], "dnspod2"),
                      (["netlab-proxy", "--testing-omit", "conntrack-cleanup"], "dnspod1")])
    func aFixedPortUDPClientFollowsTheBackendSwapOnlyWithCleanup(command: [String], expected: String) throws {
        let t = try TopologyLoader.parse(yaml: Self.yaml(proxy: command), source: DefaultTopology.fileName)
        let lab = try Lab.up(name: uniqueLab("t-ctswap"), topology: t, persistent: false)
        defer { try? lab.down() }
        let svc = try #require(t.services.first { $0.name == "svc-dns" })
        try lab.changeReadiness(unready: ["dnspod2"])
        #expect(try Self.ask(lab, from: "pod1", svc.clusterIP, 53) == "dnspod1")
        try lab.changeReadiness(unready: ["dnspod1"])
        #expect(try Self.ask(lab, from: "pod1", svc.clusterIP, 53) == expected, "\(command)")
    }

    /// A datagram sent while the node had no rule for the service yet (kube-proxy before its
    /// first sync: here node1's KUBE-SERVICES flushed) leaves the VPC un-DNATed, and its entry
    /// would keep the client's later datagrams on that path. After the next sync the cleanup
    /// deletes it (its reply comes from the cluster IP, no endpoint) and the client is answered;
    /// without the cleanup it is blackholed.
    @Test(arguments: [(["netlab-proxy"], "dnspod1" as String?), (["netlab-proxy", "--testing-omit", "conntrack-cleanup"], nil)])
    func aDatagramSentBeforeTheRulesIsNotBlackholedAfterTheSync(command: [String], expected: String?) throws {
        let t = try TopologyLoader.parse(yaml: Self.yaml(proxy: command), source: DefaultTopology.fileName)
        let lab = try Lab.up(name: uniqueLab("t-ctnor"), topology: t, persistent: false)
        defer { try? lab.down() }
        let svc = try #require(t.services.first { $0.name == "svc-dns" })
        try lab.changeReadiness(unready: ["dnspod2"])
        let node1 = try lab.namespace("node1")
        let flush = try NamespaceProcessRunner(namespace: node1).run(argv: ["/usr/sbin/iptables", "-t", "nat", "-F", "KUBE-SERVICES"],
                                                                     environment: [:], stdin: Data(), timeout: 30)
        #expect(flush.succeeded, "\(flush.stderrText)")
        #expect(try Self.ask(lab, from: "pod1", svc.clusterIP, 53) == nil)
        let before = try Self.conntrack(lab, "node1").flows(.ipv4).filter { $0.original.sourcePort == Self.clientPort }
        #expect(before.contains { $0.reply.source == .v4(svc.clusterIP) }, "an un-DNATed entry: \(before)")
        try lab.changeReadiness(unready: ["dnspod2"])
        #expect(try Self.ask(lab, from: "pod1", svc.clusterIP, 53) == expected, "\(command)")
    }
} }
