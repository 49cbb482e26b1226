import Foundation
import Testing
@testable import NetlabKit

@Suite struct CNIResultConformanceTests {
    func problems(_ data: Data, _ version: CNIVersion, netns: String) throws -> [String] {
        CNIResultConformance.problems(try JSONValue.decode(data), declared: version, ifName: "eth0", netns: netns)
    }

    @Test func realPtpResultsAreValid() throws {
        #expect(try problems(golden("ptp-0.3.1-add.json"), CNIVersion(0, 3, 1), netns: "/run/netns/cnitest-pod") == [])
        #expect(try problems(golden("ptp-1.0.0-add.json"), CNIVersion(1, 0, 0), netns: "/run/netns/cnitest-pod2") == [])
        #expect(try problems(golden("portmap-1.0.0-add.json"), CNIVersion(1, 0, 0), netns: "/run/netns/cnitest-pod2") == [])
    }

    @Test func aRealBridgeResultIsValid() throws {
        #expect(try problems(golden("bridge-0.3.1-add.json"), CNIVersion(0, 3, 1), netns: "/run/netns/netlab-cnichk-g30398.cni-check-a") == [])
        // The same result checked for another container's namespace lacks its sandbox interface.
        #expect(try problems(golden("bridge-0.3.1-add.json"), CNIVersion(0, 3, 1), netns: "/run/netns/other").count == 1)
    }

    @Test func theVersionMustBeTheConfigurations() throws {
        let p = try problems(golden("ptp-0.3.1-add.json"), CNIVersion(0, 4, 0), netns: "/run/netns/cnitest-pod")
        #expect(p == ["cniVersion is \"0.3.1\", but the configuration declares \"0.4.0\": a plugin answers in its configuration's version"])
    }

    @Test func ipsVersionIsRequiredBefore100AndGoneFrom100() throws {
        var r = try JSONValue.decode(golden("ptp-0.3.1-add.json"))
        r["ips"] = json(#"[{"interface":1,"address":"10.244.1.2/24","gateway":"10.244.1.1"}]"#)
        #expect(CNIResultConformance.problems(r, declared: CNIVersion(0, 3, 1), ifName: "eth0", netns: "/run/netns/cnitest-pod")
                == ["ips[0] has no \"version\" (\"4\" or \"6\"), which 0.3.1 results require"])
        r["ips"] = json(#"[{"version":"6","interface":1,"address":"10.244.1.2/24"}]"#)
        #expect(CNIResultConformance.problems(r, declared: CNIVersion(0, 3, 1), ifName: "eth0", netns: "/run/netns/cnitest-pod")
                == ["ips[0].version \"6\" does not match its address 10.244.1.2/24 (IPv4)"])

        var v1 = try JSONValue.decode(golden("ptp-1.0.0-add.json"))
        v1["ips"] = json(#"[{"version":"4","interface":1,"address":"10.244.1.3/24","gateway":"10.244.1.1"}]"#)
        #expect(CNIResultConformance.problems(v1, declared: CNIVersion(1, 0, 0), ifName: "eth0", netns: "/run/netns/cnitest-pod2")
                == ["ips[0].version exists only before spec 1.0.0 (1.0.0 dropped it: the address says its family)"])
    }

    @Test func brokenShapesAreEachNamed() {
        let broken = json("""
        {"cniVersion":"1.0.0","interfaces":[{"mac":"zz"},{"name":"eth0","mac":"62:2b:4c:66:3f:e1","sandbox":"/run/netns/p"}],
         "ips":[{"interface":5,"address":"10.32.1.2","gateway":"10.32.1.1"},{"interface":1,"address":"10.32.1.2/24","gateway":"192.0.2.1"},
                {"address":"fd00::5/64","gateway":"10.32.1.1"}],
         "routes":[{"dst":"0.0.0.0/0","gw":"nope"},{"gw":"10.0.0.1"},{"dst":"0.0.0.0/0","table":100}],
         "dns":{"nameservers":["8.8.8.8","not-an-ip"],"search":"example.com"}}
        """)
        let p = CNIResultConformance.problems(broken, declared: CNIVersion(1, 0, 0), ifName: "eth0", netns: "/run/netns/p")
        #expect(p == [
            "interfaces[0] has no \"name\" string",
            "interfaces[0].mac \"zz\" is not a MAC address like \"0a:58:0a:20:00:05\"",
            "ips[0].address \"10.32.1.2\" is not an address with a prefix length (CIDR) like \"10.32.0.5/24\"",
            "ips[1].gateway 192.0.2.1 is outside the address's subnet 10.32.1.2/24",
            "ips[2].gateway 10.32.1.1 is not of the address's family (IPv6)",
            "routes[0].gw \"nope\" is not an IP address",
            "routes[1] has no \"dst\" string",
            "routes[2].table exists only from spec 1.1.0 on",
            "dns.search is not a list of strings",
            "dns.nameservers[1] \"not-an-ip\" is not an IP address",
        ])
    }

    @Test func anIndexOutOfRangeAndAMissingSandboxInterfaceAreProblems() throws {
        var r = try JSONValue.decode(golden("ptp-1.0.0-add.json"))
        r["ips"] = json(#"[{"interface":2,"address":"10.244.1.3/24"}]"#)
        let p = CNIResultConformance.problems(r, declared: CNIVersion(1, 0, 0), ifName: "eth0", netns: "/run/netns/elsewhere")
        #expect(p == [
            "no interface \"eth0\" with sandbox \"/run/netns/elsewhere\": the interface made in the container is listed with CNI_NETNS as its sandbox",
            "ips[0].interface 2 is not an index into the 2 interfaces",
        ])
    }

    @Test func notAnObjectAndLegacyFormat() {
        #expect(CNIResultConformance.problems(json("[]"), declared: CNIVersion(1, 0, 0), ifName: "eth0", netns: "/x") == ["the result is not a JSON object"])
        let legacy = CNIResultConformance.problems(json(#"{"ip4":{"ip":"10.0.0.2/24"}}"#), declared: CNIVersion(0, 3, 1), ifName: "eth0", netns: "/x")
        #expect(legacy.prefix(2) == ["cniVersion is missing (every result carries it)",
                                     "\"ip4\" is the 0.2.0 result format; 0.3.1 results list addresses in \"ips\""])
    }
}

@Suite struct NodeSnapshotTests {
    func snapshot(links: [String: String] = [:], routes: Set<String> = [], iptables: String = "", nft: String = "",
                  sysctls: [String: String] = [:], ipam: [String: String] = [:]) -> NodeSnapshot {
        var s = NodeSnapshot()
        s.links = links; s.routes = routes; s.sysctls = sysctls; s.ipamFiles = ipam
        s.firewall = NodeSnapshot.iptablesSaveLines(iptables) + NodeSnapshot.nftRulesetLines(nft)
        return s
    }

    @Test func identicalSnapshotsHaveNoDifferences() {
        let s = snapshot(links: ["lo": "lo (no kind) mtu 65536 up"], routes: ["default via 10.0.0.1 dev eth0 table main proto 3"])
        #expect(NodeSnapshot.differences(before: s, after: s) == [])
    }

    @Test func leaksAreSaidAsWhatWasLeft() {
        let before = snapshot(links: ["eth0": "eth0 (veth) mtu 1460 up"], sysctls: ["net.ipv4.ip_forward": "1"],
                              ipam: ["/d/k8s/last_reserved_ip.0": "10.32.0.4"])
        let after = snapshot(links: ["eth0": "eth0 (veth) mtu 1460 up", "veth1": "veth1 (veth) mtu 1460 up"],
                             routes: ["10.32.0.9/32 dev veth1 table main scope host proto 3"],
                             sysctls: ["net.ipv4.ip_forward": "0", "net.ipv4.conf.veth1.forwarding": "1"],
                             ipam: ["/d/k8s/last_reserved_ip.0": "10.32.0.9", "/d/k8s/10.32.0.9": "netlab-l.c\r\neth0"])
        #expect(NodeSnapshot.differences(before: before, after: after).map(\.description) == [
            "left link veth1 (veth) mtu 1460 up",
            "left route 10.32.0.9/32 dev veth1 table main scope host proto 3",
            "changed sysctl net.ipv4.ip_forward: 1 → 0",
            "left ipam reservation /d/k8s/10.32.0.9 (netlab-l.c eth0)",
        ])
        #expect(after.ipamReservations(of: "netlab-l.c") == ["/d/k8s/10.32.0.9"])
        #expect(after.ipamReservations(of: "netlab-l.d") == [])
    }

    @Test func aLeakIsTracedToTheStepThatMadeIt() {
        let before = snapshot(links: ["eth0": "eth0 up"], sysctls: ["net.ipv4.ip_forward": "0"])
        let afterPtp = snapshot(links: ["eth0": "eth0 up", "veth1": "veth1 up"], sysctls: ["net.ipv4.ip_forward": "1"])
        let afterPortmap = snapshot(links: ["eth0": "eth0 up", "veth1": "veth1 up"], iptables: "*nat\n:CNI-DN-1 - [0:0]\nCOMMIT\n",
                                    sysctls: ["net.ipv4.ip_forward": "1"])
        let steps = [afterPtp, afterPortmap]
        let end = snapshot(links: ["eth0": "eth0 up", "veth1": "veth1 up"], iptables: "*nat\n:CNI-DN-1 - [0:0]\n:CNI-X - [0:0]\nCOMMIT\n",
                           sysctls: ["net.ipv4.ip_forward": "1"])
        let leaks = NodeSnapshot.differences(before: before, after: end)
        #expect(leaks.map(\.description) == ["left link veth1 up", "left iptables chain CNI-DN-1 in table nat",
                                              "left iptables chain CNI-X in table nat", "changed sysctl net.ipv4.ip_forward: 0 → 1"])
        #expect(leaks.map { NodeSnapshot.step(making: $0, before: before, steps: steps) } == [0, 1, nil, 0])
    }

    static let save = """
    # Generated by iptables-save v1.8.9 (nf_tables) on Wed Dec  2 01:00:00 2026
    *nat
    :PREROUTING ACCEPT [12:720]
    :CNI-HOSTPORT-DNAT - [0:0]
    -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
    COMMIT
    # Completed on Wed Dec  2 01:00:00 2026
    """

    @Test func iptablesSaveIsReadWithoutDatesAndCounters() {
        let lines = NodeSnapshot.iptablesSaveLines(Self.save)
        #expect(lines.map(\.line) == [":PREROUTING ACCEPT", ":CNI-HOSTPORT-DNAT -", "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"])
        #expect(lines.allSatisfy { $0.table == "nat" && $0.source == "iptables-save" })
        let later = Self.save.replacingOccurrences(of: "[12:720]", with: "[99:5000]").replacingOccurrences(of: "01:00:00", with: "01:05:00")
        #expect(NodeSnapshot.differences(before: snapshot(iptables: Self.save), after: snapshot(iptables: later)) == [])
    }

    @Test func aLeftPortmapChainIsNamedWithItsTable() {
        let after = Self.save.replacingOccurrences(of: "COMMIT", with: ":CNI-DN-1a2b3c - [0:0]\n-A CNI-DN-1a2b3c -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.32.0.9:80\nCOMMIT")
        #expect(NodeSnapshot.differences(before: snapshot(iptables: Self.save), after: snapshot(iptables: after)).map(\.description) == [
            "left iptables chain CNI-DN-1a2b3c in table nat",
            "left iptables rule `-A CNI-DN-1a2b3c -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.32.0.9:80` in table nat",
        ])
    }

    @Test func aRuleAddedTwiceAndDeletedOnceIsStillALeak() {
        let once = "*filter\n-A FORWARD -j ACCEPT\nCOMMIT\n", twice = "*filter\n-A FORWARD -j ACCEPT\n-A FORWARD -j ACCEPT\nCOMMIT\n"
        #expect(NodeSnapshot.differences(before: snapshot(iptables: once), after: snapshot(iptables: twice)).map(\.description)
                == ["left iptables rule `-A FORWARD -j ACCEPT` in table filter"])
    }

    @Test func nftRulesetIsReadPerTableAndChainWithoutCounters() {
        let nft = """
        # Warning: table ip nat is managed by iptables-nft, do not touch!
        table ip nat {
        \tchain POSTROUTING {
        \t\ttype nat hook postrouting priority srcnat; policy accept;
        \t\tip saddr 10.32.0.0/24 counter packets 3 bytes 180 masquerade
        \t}
        }
        """
        #expect(NodeSnapshot.nftRulesetLines(nft).map(\.line) == [
            "table", "chain POSTROUTING", "chain POSTROUTING: type nat hook postrouting priority srcnat; policy accept;",
            "chain POSTROUTING: ip saddr 10.32.0.0/24 counter masquerade",
        ])
        let more = nft.replacingOccurrences(of: "packets 3 bytes 180", with: "packets 7 bytes 420")
        #expect(NodeSnapshot.differences(before: snapshot(nft: nft), after: snapshot(nft: more)) == [])
        // An empty table (iptables-nft makes them when asked to flush one) holds nothing.
        #expect(NodeSnapshot.differences(before: snapshot(nft: nft), after: snapshot(nft: nft + "\ntable ip6 nat {\n}\n")) == [])
        let leak = nft.replacingOccurrences(of: "\t}\n}", with: "\t}\n\tchain CNI-DN-9 {\n\t}\n}")
        #expect(NodeSnapshot.differences(before: snapshot(nft: nft), after: snapshot(nft: leak)).map(\.description)
                == ["left nft chain CNI-DN-9 in table ip nat"])
        let rule = nft.replacingOccurrences(of: "masquerade\n", with: "masquerade\n\t\ttcp dport 8080 counter packets 0 bytes 0 dnat to 10.32.0.9:80\n")
        #expect(NodeSnapshot.differences(before: snapshot(nft: nft), after: snapshot(nft: rule)).map(\.description)
                == ["left nft rule `tcp dport 8080 counter dnat to 10.32.0.9:80` in chain POSTROUTING in table ip nat"])
    }
}

@Suite struct CNIConformanceReportTests {
    let report = CNIConformanceReport(
        lab: "l", topology: "t", network: "k8s-pod-network", cniVersion: "0.3.1", plugins: ["ptp", "portmap"], node: "node1", pod: "web",
        results: [CNIRuleResult(.addResult, .pass, ["ADD gave 10.32.0.5/24"]),
                  CNIRuleResult(.checkAfterAdd, .skip, ["cniVersion 0.3.1 has no CHECK"]),
                  CNIRuleResult(.delRestoresNode, .fail, ["ptp left route 10.32.0.9/32 dev veth1 table main"])])

    @Test func textHasARulePerLineWithItsEvidenceAndTheSummary() {
        #expect(report.text() == """
        network k8s-pod-network (cniVersion 0.3.1): ptp → portmap, on node node1 beside pod web
        PASS add-result — ADD succeeds and its result is valid for the configuration's cniVersion
          ADD gave 10.32.0.5/24
        SKIP check-after-add — CHECK passes right after ADD
          cniVersion 0.3.1 has no CHECK
        FAIL del-restores-node — DEL leaves the node's namespace as it was before ADD
          ptp left route 10.32.0.9/32 dev veth1 table main
        1 passed, 1 failed, 1 skipped
        """)
        #expect(!report.passed)
    }

    @Test func skippedRulesDoNotFail() {
        var r = report
        r.results.removeLast()
        #expect(r.passed)
    }

    @Test func jsonAndJUnitCarryEveryRule() throws {
        let decoded = try JSONDecoder().decode(CNIConformanceReport.self, from: Data(report.json().utf8))
        #expect(decoded == report)
        let x = report.junit()
        #expect(x.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""))
        #expect(x.contains("<failure message=\"ptp left route 10.32.0.9/32 dev veth1 table main\" type=\"CNIRuleFailed\">"))
        #expect(x.contains("<skipped message=\"cniVersion 0.3.1 has no CHECK\"/>"))
    }
}

@Suite struct CNIStatusGCTests {
    @Test func statusAndGCRunEveryPluginWithoutContainerVariables() throws {
        let runner = FakeRunner()
        let list = try ptpPortmapList(version: "1.1.0")
        try makeRuntime(runner).status(list)
        try makeRuntime(runner).gc(list, validAttachments: [webAttachment])
        #expect(runner.calls.map(\.label) == ["STATUS ptp", "STATUS portmap", "GC ptp", "GC portmap"])
        for c in runner.calls {
            #expect(Set(c.environment.keys) == ["CNI_COMMAND", "CNI_PATH", "PATH"])
            #expect(c.config["name"] == .string("netlab") && c.config["cniVersion"] == .string("1.1.0"))
        }
        #expect(runner.calls[0].config["cni.dev/valid-attachments"] == nil)
        #expect(runner.calls[2].config["cni.dev/valid-attachments"] == json(#"[{"containerID":"c0ffee","ifname":"eth0"}]"#))
    }

    @Test func aFailedStatusNamesThePlugin() throws {
        let runner = FakeRunner { c in
            c.plugin == "portmap" ? ProcessOutcome(termination: .exited(1), stdout: Data(#"{"code":50,"msg":"not ready"}"#.utf8)) : ProcessOutcome(termination: .exited(0))
        }
        #expect { try makeRuntime(runner).status(try ptpPortmapList(version: "1.1.0")) } throws: { e in
            let p = e as? CNIPluginError
            return p?.pluginType == "portmap" && p?.command == .status && p?.code == 50
        }
    }
}
