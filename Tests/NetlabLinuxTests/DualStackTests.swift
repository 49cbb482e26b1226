import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// topologies/gke-dual-stack.yaml on the real kernel with Debian's ptp and host-local (two
/// ranges): pods and the client reach each other over IPv6 as over IPv4, the pods' IPv6 is the one
/// in their CNI result and in the lab's API, a missing IPv6 pod route breaks IPv6 only, and
/// IPv4-only labs keep IPv6 off.
extension Labs { @Suite struct DualStackTests {
    static func shipped() throws -> Topology { try ShapeTests.shipped("gke-dual-stack.yaml") }

    /// One echo request from `member` with ping(8) (-6 or -4), as a user would try it.
    static func ping(_ lab: Lab, from member: String, _ family: String, _ address: String) throws -> ProcessOutcome {
        try run(["ip", "netns", "exec", LabNames.namespace(lab: lab.name, member: member), "ping", family, "-c1", "-W2", address])
    }

    @Test func podsAndTheClientReachIPv6AcrossTheVPCAndABrokenIPv6RouteBreaksOnlyIPv6() throws {
        let t = try Self.shipped()
        let lab = try Lab.up(name: uniqueLab("t-ds"), topology: t, persistent: false)
        defer { try? lab.down() }
        let pod2 = try #require(lab.record.pods["pod2"])
        let pod2v6 = try #require(pod2.addressV6, "pod2 has an IPv6 address from host-local's second range")
        let node2 = try #require(t.node(named: "node2"))
        #expect(try #require(node2.podCIDRv6).contains(pod2v6.address))
        #expect(pod2.gatewayV6 != nil)
        // Every pod got one address of each family from its node's two ranges.
        for p in t.pods {
            let a = try #require(lab.record.pods[p.name]), n = try #require(t.node(named: p.node))
            #expect(n.podCIDR.contains(a.address.address) && a.addressV6.map { n.podCIDRv6!.contains($0.address) } == true, "\(p.name): \(a)")
        }

        // No address waits for duplicate address detection, link-local ones included: a router
        // whose link-local address is tentative sends no neighbour solicitation for what it forwards.
        for m in ["gw", "node1", "node2", "client", "pod1", "pod2"] {
            let ns = LabNames.namespace(lab: lab.name, member: m)
            let tentative = try run(["ip", "-n", ns, "-6", "addr", "show", "tentative"])
            #expect(tentative.succeeded && tentative.stdoutText.isEmpty, "\(m): \(tentative.stdoutText)")
        }
        let dad = try run(["ip", "netns", "exec", LabNames.namespace(lab: lab.name, member: "node1"), "cat", "/proc/sys/net/ipv6/conf/eth0/accept_dad"])
        #expect(dad.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "0")

        // Across nodes over IPv6: node1 and node2 each route it once (hop limit 64 - 2).
        let p6 = try Self.ping(lab, from: "pod1", "-6", "\(pod2v6.address)")
        #expect(p6.succeeded && p6.stdoutText.contains("ttl=62"), "\(p6.stdoutText)\(p6.stderrText)")
        // The client reaches the node's own IPv6 address: routed by gw, no NAT66.
        let c6 = try Self.ping(lab, from: "client", "-6", "\(try #require(node2.ipv6))")
        #expect(c6.succeeded, "\(c6.stdoutText)\(c6.stderrText)")

        // The pod's IPv6 is the one its CNI result holds and the lab's API shows.
        let saved = try CNIResult(data: Data(contentsOf: URL(fileURLWithPath: lab.store.cniResultPath(pod: "pod2"))))
        #expect(saved.podIPConfig6(ifName: "eth0")?.address == pod2v6)
        let get = try run([netlabBinary, "kubectl", "--name", lab.name, "--", "get", "pod", "pod2", "-o", "json"])
        try #require(get.succeeded, "\(get.stderrText)")
        let pod = try JSONValue.decode(get.stdout)
        #expect(pod[path: ["status", "podIPs"]] == .array([["ip": .string("\(pod2.address.address)")], ["ip": .string("\(pod2v6.address)")]]))
        #expect(pod[path: ["status", "podIP"]] == .string("\(pod2.address.address)"))

        // The field report's three checks in both families, and the IPv6 ClusterIP.
        #expect(ShapeTests.results(lab, t) == Self.allPass)

        // node2's IPv6 pod range gone from gw and node1 (the VPC forgot it): IPv6 pod to pod fails,
        // IPv4 still passes.
        let range = "\(try #require(node2.podCIDRv6))"
        for m in ["gw", "node1"] {
            let del = try run(["ip", "-n", LabNames.namespace(lab: lab.name, member: m), "-6", "route", "del", range])
            #expect(del.succeeded, "\(m): \(del.stderrText)")
        }
        #expect(!(try Self.ping(lab, from: "pod1", "-6", "\(pod2v6.address)")).succeeded)
        let p4 = try Self.ping(lab, from: "pod1", "-4", "\(pod2.address.address)")
        #expect(p4.succeeded && p4.stdoutText.contains("ttl=62"), "\(p4.stdoutText)\(p4.stderrText)")
        // The checks say the same: IPv6 pod to pod fails, and so does the IPv6 ClusterIP from pod2,
        // whose answers have no way back; the NodePort checks reach webpod1 on node1 from nodes.
        var expected = Self.allPass
        expected["pod-to-pod-v6"] = false
        expected["clusterip-v6"] = false
        #expect(ShapeTests.results(lab, t) == expected)
    }

    static let allPass = ["pod-to-pod": true, "nodeport-local": true, "nodeport-remote": true,
                          "pod-to-pod-v6": true, "nodeport-local-v6": true, "nodeport-remote-v6": true, "clusterip-v6": true,
                          "clusterip-dual-same-node": true]

    /// kube-proxy's failure mode where the ip6tables nat table is missing: the proxy programs
    /// IPv4 only. Every IPv6 service check fails; IPv6 pod to pod and all of IPv4 still pass.
    @Test func aProxyThatProgramsOnlyIPv4FailsTheIPv6ServiceChecks() throws {
        var t = try Self.shipped()
        let i = try #require(t.agents.firstIndex { $0.name == "netlab-proxy" })
        t.agents[i].command.append("--testing-omit=ipv6")
        let lab = try Lab.up(name: uniqueLab("t-ds-v4proxy"), topology: t, persistent: false)
        defer { try? lab.down() }
        let node1 = LabNames.namespace(lab: lab.name, member: "node1")
        let v6nat = try run(["ip", "netns", "exec", node1, "ip6tables-save", "-t", "nat"]).stdoutText
        #expect(!v6nat.contains("KUBE-SERVICES"), "\(v6nat)")
        var expected = Self.allPass
        for c in ["nodeport-local-v6", "nodeport-remote-v6", "clusterip-v6", "clusterip-dual-same-node"] { expected[c] = false }
        #expect(ShapeTests.results(lab, t) == expected)
    }

    /// The same checks in kube-proxy's nftables mode: table ip6 kube-proxy carries the IPv6 half.
    @Test func theDualStackChecksPassInNFTablesMode() throws {
        var t = try Self.shipped()
        let i = try #require(t.agents.firstIndex { $0.name == "netlab-proxy" })
        t.agents[i].command.append("--proxy-mode=nftables")
        let lab = try Lab.up(name: uniqueLab("t-ds-nft"), topology: t, persistent: false)
        defer { try? lab.down() }
        let tables = try run(["ip", "netns", "exec", LabNames.namespace(lab: lab.name, member: "node2"), "nft", "list", "tables"]).stdoutText
        #expect(tables.contains("table ip kube-proxy") && tables.contains("table ip6 kube-proxy"), "\(tables)")
        #expect(ShapeTests.results(lab, t) == Self.allPass)
    }

    @Test func anIPv4OnlyLabKeepsIPv6Disabled() throws {
        let lab = try Lab.up(name: uniqueLab("t-v4only"), topology: try TopologyLoader.parse(yaml: oneShotDefaultYAML, source: "t.yaml"),
                             persistent: false)
        defer { try? lab.down() }
        for m in ["node1", "pod1", "gw", "client"] {
            let ns = LabNames.namespace(lab: lab.name, member: m)
            let all = try run(["ip", "netns", "exec", ns, "cat", "/proc/sys/net/ipv6/conf/all/disable_ipv6"])
            #expect(all.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(m): \(all.stderrText)")
            let addresses = try run(["ip", "-n", ns, "-6", "addr", "show"])
            #expect(addresses.succeeded && !addresses.stdoutText.contains("inet6"), "\(m) has no IPv6 address at all: \(addresses.stdoutText)")
        }
    }
} }
