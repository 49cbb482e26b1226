import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// netlab-proxy's IPv6 rules in the real kernel (root), before a dual-stack lab can be brought
/// up: three namespaces this test makes itself — a node, a pod behind it and a client on the
/// node's "VPC" link, IPv6 only on the links that matter (nodad, so the addresses work at once) —
/// the one-shot proxy run in the node with the contract's dual-stack environment, and real HTTP
/// from the client: a v6 ClusterIP and a v6 NodePort reach the pod's v6 address through DNAT, in
/// both proxy modes; with `--testing-omit ipv6` (a proxy that programs IPv4 only, as kube-proxy
/// ends up without the ip6tables nat table) they do not.
extension Labs { @Suite struct ProxyIPv6Tests {
    static let clusterIP = "2001:db8:36::a", nodeIPv6 = "2001:db8:0:1::37", podIPv6 = "2001:db8:32::3"
    static let clientIPv6 = "2001:db8:0:1::10", podGateway = "2001:db8:32::1"

    /// svc-webport, PreferDualStack, 9000→80, NodePort 30007; its IPv6 slice holds the pod.
    static let services = """
    {"apiVersion":"v1","kind":"List","items":[
     {"apiVersion":"v1","kind":"Service","metadata":{"name":"svc-webport","namespace":"default","uid":"u1"},
      "spec":{"type":"NodePort","clusterIP":"10.36.0.10","clusterIPs":["10.36.0.10","\(clusterIP)"],"ipFamilies":["IPv4","IPv6"],
              "ipFamilyPolicy":"PreferDualStack","externalTrafficPolicy":"Cluster","internalTrafficPolicy":"Cluster",
              "ports":[{"name":"http","port":9000,"targetPort":80,"nodePort":30007,"protocol":"TCP"}],"selector":{"app":"web"}}},
     {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"svc-webport-a","namespace":"default",
      "labels":{"kubernetes.io/service-name":"svc-webport"}},"addressType":"IPv4",
      "endpoints":[{"addresses":["10.32.0.3"],"conditions":{"ready":true},"nodeName":"node1"}],"ports":[{"name":"http","port":80,"protocol":"TCP"}]},
     {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"svc-webport-b","namespace":"default",
      "labels":{"kubernetes.io/service-name":"svc-webport"}},"addressType":"IPv6",
      "endpoints":[{"addresses":["\(podIPv6)"],"conditions":{"ready":true},"nodeName":"node1"}],"ports":[{"name":"http","port":80,"protocol":"TCP"}]}]}
    """

    struct SceneError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    /// The namespaces of one run, deleted in `end` (their links go with them).
    final class Scene {
        let node: String, pod: String, client: String
        let dir: TemporaryDirectory
        var server: ChildProcess?

        init() throws {
            let base = "svc6t-\(getpid())-\(UInt32.random(in: 0..<1_000_000))"
            node = base + "-n"; pod = base + "-p"; client = base + "-c"
            dir = try TemporaryDirectory()
        }

        func ip(_ ns: String, _ args: [String]) throws {
            let o = try run(["ip", "-n", ns] + args)
            guard o.succeeded else { throw SceneError("ip -n \(ns) \(args.joined(separator: " ")): \(o.stderrText)") }
        }

        func exec(_ ns: String, _ argv: [String], timeout: Double = 30) throws -> ProcessOutcome {
            try run(["ip", "netns", "exec", ns] + argv, timeout: timeout)
        }

        /// node ─ nP/eth0 ─ pod (2001:db8:32::/112), node ─ nC/eth0 ─ client (2001:db8:0:1::/64).
        func build() throws {
            for ns in [node, pod, client] {
                let o = try run(["ip", "netns", "add", ns])
                guard o.succeeded else { throw SceneError("ip netns add \(ns): \(o.stderrText)") }
            }
            try ip(node, ["link", "add", "nP", "type", "veth", "peer", "name", "eth0", "netns", pod])
            try ip(node, ["link", "add", "nC", "type", "veth", "peer", "name", "eth0", "netns", client])
            for ns in [node, pod, client] {
                #expect(try exec(ns, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.default.disable_ipv6=0"]).succeeded)
                try ip(ns, ["link", "set", "lo", "up"])
            }
            #expect(try exec(node, ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]).succeeded)
            try ip(node, ["addr", "add", "\(podGateway)/112", "dev", "nP", "nodad"])
            try ip(node, ["addr", "add", "\(nodeIPv6)/64", "dev", "nC", "nodad"])
            try ip(pod, ["addr", "add", "\(podIPv6)/112", "dev", "eth0", "nodad"])
            try ip(client, ["addr", "add", "\(clientIPv6)/64", "dev", "eth0", "nodad"])
            for (ns, dev) in [(node, "nP"), (node, "nC"), (pod, "eth0"), (client, "eth0")] { try ip(ns, ["link", "set", dev, "up"]) }
            try ip(pod, ["-6", "route", "add", "default", "via", podGateway])
            // The client knows no service range: it sends everything to the node, as a VPC routes it.
            try ip(client, ["-6", "route", "add", "default", "via", nodeIPv6])

            try "pod-v6\n".write(toFile: dir.path + "/who", atomically: true, encoding: .utf8)
            server = try ChildProcess.spawn(argv: ["/usr/bin/python3", "-m", "http.server", "--bind", "::", "--directory", dir.path, "80"],
                                            environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
                                            namespace: try NetworkNamespace.open(name: pod, path: "/run/netns/\(pod)"))
            // Ready once the pod's socket listens (a bound wait for a start, not a timing assertion).
            for _ in 0..<400 {
                if try exec(pod, ["ss", "-Hltn", "sport", "=", ":80"]).stdoutText.contains(":80") { return }
                usleep(50_000)
            }
            Issue.record("the pod's HTTP server did not start listening")
        }

        func end() {
            if let s = server { s.terminate(); _ = s.wait(timeout: 10) }
            for ns in [client, pod, node] { _ = try? run(["ip", "netns", "del", ns]) }
        }

        /// netlab-proxy one shot in the node, with the contract's dual-stack environment.
        func proxy(_ flags: [String]) throws -> ProcessOutcome {
            let path = dir.path + "/services.json"
            try ProxyIPv6Tests.services.write(toFile: path, atomically: true, encoding: .utf8)
            let env = ProxyContract.environment(
                node: "node1", nodeIP: IPv4Address("10.0.0.37")!, podCIDR: IPv4Prefix("10.32.0.0/24")!, clusterCIDR: IPv4Prefix("10.32.0.0/14")!,
                serviceCIDR: IPv4Prefix("10.36.0.0/20")!, servicesPath: path,
                ipv6: .init(nodeIP: IPv6Address(nodeIPv6)!, podCIDR: IPv6Prefix("2001:db8:32::/112")!,
                            clusterCIDR: IPv6Prefix("2001:db8:32::/64")!, serviceCIDR: IPv6Prefix("2001:db8:36::/112")!))
            let proxyBinary = URL(fileURLWithPath: netlabBinary).deletingLastPathComponent().appendingPathComponent("netlab-proxy").path
            let vars = env.map { "\($0.key)=\($0.value)" }.sorted() + ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
            return try exec(node, ["env", "-i"] + vars + [proxyBinary] + flags)
        }

        /// GET /who from the client: the pod's marker when the service was DNATed to it.
        func get(_ host: String, _ port: Int) throws -> ProcessOutcome {
            try exec(client, ["curl", "-g", "-s", "-S", "--max-time", "3", "http://[\(host)]:\(port)/who"])
        }
    }

    func inScene(_ body: (Scene) throws -> Void) throws {
        let s = try Scene()
        defer { s.end() }
        try s.build()
        // The pod itself is reachable over IPv6 without any proxy (the test's own wiring works).
        #expect(try s.exec(s.node, ["curl", "-g", "-s", "--max-time", "3", "http://[\(Self.podIPv6)]:80/who"]).stdoutText == "pod-v6\n")
        try body(s)
    }

    @Test(arguments: ["iptables", "nftables"])
    func anIPv6ClusterIPAndNodePortAreDNATedToTheIPv6Pod(mode: String) throws {
        try inScene { s in
            let o = try s.proxy(["--proxy-mode", mode])
            #expect(o.succeeded, "\(o.stderrText)")
            for (host, port) in [(Self.clusterIP, 9000), (Self.nodeIPv6, 30007)] {
                let r = try s.get(host, port)
                #expect(r.stdoutText == "pod-v6\n", "\(mode) [\(host)]:\(port): \(r.terminationDescription) \(r.stderrText)")
            }
            if mode == "iptables" {
                let save = try s.exec(s.node, ["ip6tables-save", "-t", "nat"]).stdoutText
                #expect(save.contains("--to-destination [\(Self.podIPv6)]:80"), "\(save)")
            } else {
                let table = try s.exec(s.node, ["nft", "list", "table", "ip6", "kube-proxy"]).stdoutText
                #expect(table.contains("dnat to [\(Self.podIPv6)]:80"), "\(table)")
                #expect(try s.exec(s.node, ["nft", "list", "table", "ip", "kube-proxy"]).succeeded)
            }
        }
    }

    @Test(arguments: ["iptables", "nftables"])
    func aProxyThatProgramsOnlyIPv4LeavesTheIPv6ServiceDead(mode: String) throws {
        try inScene { s in
            let o = try s.proxy(["--proxy-mode", mode, "--testing-omit", "ipv6"])
            #expect(o.succeeded, "\(o.stderrText)")
            for (host, port) in [(Self.clusterIP, 9000), (Self.nodeIPv6, 30007)] {
                let r = try s.get(host, port)
                #expect(!r.succeeded && r.stdoutText.isEmpty, "\(mode) [\(host)]:\(port) answered: \(r.stdoutText)")
            }
            // The IPv4 half is programmed, the IPv6 half is not.
            if mode == "iptables" {
                #expect(try s.exec(s.node, ["iptables-save", "-t", "nat"]).stdoutText.contains("KUBE-SERVICES"))
                #expect(!(try s.exec(s.node, ["ip6tables-save", "-t", "nat"]).stdoutText.contains("KUBE-")))
            } else {
                #expect(try s.exec(s.node, ["nft", "list", "table", "ip", "kube-proxy"]).succeeded)
                #expect(!(try s.exec(s.node, ["nft", "list", "table", "ip6", "kube-proxy"]).succeeded))
            }
        }
    }
} }

extension Labs { @Suite struct DoctorIPv6Tests {
    /// On this kernel both work; the table doctor loads is the proxy's own IPv6 rendering.
    @Test func doctorFindsIp6tablesNatAndNftsIp6Family() {
        let r = DoctorResult.ipv6Check(required: true)
        #expect(r.ok, "\(r.fix)")
        #expect(DoctorResult.doctorNFTablesIPv6.contains("add element ip6 kube-proxy service-ips { 2001:db8:36::a . tcp . 80 : goto service-"))
        #expect(DoctorResult.doctorNFTablesIPv6.contains("dnat to [2001:db8:32::3]:80"))
    }
} }
