import Foundation
import Testing
@testable import NetlabKit

@Suite struct CNIResultTests {
    @Test func parsesRealPtp031Result() throws {
        let r = try CNIResult(data: golden("ptp-0.3.1-add.json"), expected: CNIVersion(0, 3, 1))
        #expect(r.cniVersion == CNIVersion(0, 3, 1))
        #expect(r.interfaces.map(\.name) == ["veth4a0dc8e0", "eth0"])
        #expect(r.interfaces[0].sandbox == nil)
        #expect(r.interfaces[1].sandbox == "/run/netns/cnitest-pod")
        #expect(r.interfaces[1].mac == "de:a7:75:88:da:e5")
        #expect(r.ips == [CNIResult.IPConfig(address: IPv4Prefix("10.244.1.2/24")!, gateway: IPv4Address("10.244.1.1"), interface: 1)])
        #expect(r.routes == [CNIResult.Route(dst: IPv4Prefix("0.0.0.0/0")!, gw: nil)])
        #expect(r.dns == CNIResult.DNS())
        #expect(r.podAddress(ifName: "eth0")?.description == "10.244.1.2/24")
        #expect(r.gateway(ifName: "eth0")?.description == "10.244.1.1")
        // raw is the plugin's output as is, ready to be the next prevResult.
        #expect(r.raw == (try JSONValue.decode(golden("ptp-0.3.1-add.json"))))
    }

    @Test func parsesRealPtp100Result() throws {
        let r = try CNIResult(data: golden("ptp-1.0.0-add.json"), expected: CNIVersion(1, 0, 0))
        #expect(r.cniVersion == CNIVersion(1, 0, 0))
        #expect(r.raw["ips"]?.arrayValue?[0]["version"] == nil)   // 1.0.0 dropped it
        #expect(r.podAddress(ifName: "eth0") == IPv4Prefix("10.244.1.3/24"))
        #expect(r.gateway(ifName: "eth0") == IPv4Address("10.244.1.1"))
        // portmap hands the prevResult back unchanged.
        let pm = try CNIResult(data: golden("portmap-1.0.0-add.json"), expected: CNIVersion(1, 0, 0))
        #expect(pm == r)
    }

    @Test func ipamOnlyResultFallsBackToTheUnattachedAddress() throws {
        let r = try CNIResult(data: golden("hostlocal-0.4.0-add.json"), expected: CNIVersion(0, 4, 0))
        #expect(r.interfaces.isEmpty)
        #expect(r.podAddress(ifName: "eth0") == IPv4Prefix("10.244.9.3/24"))
    }

    @Test func podAddressNeverPicksAHostSideAddress() throws {
        let r = try CNIResult(json: json("""
        {"cniVersion":"1.0.0","interfaces":[{"name":"veth1"},{"name":"net1","sandbox":"/run/netns/p"},{"name":"eth0","sandbox":"/run/netns/p"}],
         "ips":[{"address":"169.254.1.1/32","interface":0},{"address":"fd00::5/64","interface":2},{"address":"192.168.5.5/24","interface":1},
                {"address":"10.244.1.7/24","gateway":"10.244.1.1","interface":2}]}
        """))
        #expect(r.ips.count == 3 && r.ips6.count == 1)   // each family apart
        #expect(r.podAddress(ifName: "eth0") == IPv4Prefix("10.244.1.7/24"))
        #expect(r.podAddress(ifName: "net1") == IPv4Prefix("192.168.5.5/24"))
        // Two sandbox interfaces and none called eth9: no guess.
        #expect(r.podAddress(ifName: "eth9") == nil)
        let hostOnly = try CNIResult(json: json(#"{"cniVersion":"1.0.0","interfaces":[{"name":"veth1"}],"ips":[{"address":"10.1.1.1/32","interface":0}]}"#))
        #expect(hostOnly.podAddress(ifName: "eth0") == nil)
        // A single sandbox interface with another name is the pod's.
        let renamed = try CNIResult(json: json(#"{"cniVersion":"0.3.1","interfaces":[{"name":"veth1"},{"name":"net0","sandbox":"/x"}],"ips":[{"version":"4","address":"10.1.1.9/24","interface":1}]}"#))
        #expect(renamed.podAddress(ifName: "eth0") == IPv4Prefix("10.1.1.9/24"))
    }

    @Test func refusesLegacyAndMalformedResults() throws {
        #expect { try CNIResult(data: golden("hostlocal-0.2.0-add.json")) } throws: { "\($0)".contains("ip4/ip6") }
        #expect { try CNIResult(json: json(#"{"ips":[]}"#)) } throws: { "\($0)".contains("no \"cniVersion\"") }
        #expect { try CNIResult(json: json(#"{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.300/24"}]}"#)) } throws: { "\($0)".contains("ips[0].address") }
        #expect { try CNIResult(json: json(#"{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.3/24","interface":2}]}"#)) } throws: { "\($0)".contains("does not index") }
        #expect { try CNIResult(json: json(#"{"cniVersion":"1.0.0","routes":{}}"#)) } throws: { "\($0)".contains("\"routes\" is not an array") }
        #expect { try CNIResult(json: json(#"{"cniVersion":"0.4.0"}"#), expected: CNIVersion(1, 0, 0)) } throws: { "\($0)".contains("configuration is 1.0.0") }
        #expect { try CNIResult(data: Data("garbage".utf8)) } throws: { "\($0)".contains("not JSON") }
    }
}

@Suite struct CNIPluginErrorTests {
    @Test func messageNamesPluginCommandPodCodeAndStderr() {
        let e = CNIPluginError(pluginType: "ptp", command: .add, podName: "web", podNamespace: "default", netnsPath: "/run/netns/web",
                               termination: .exited(1), code: 7, msg: "bad subnet", details: "10.0.0.0/33", stderr: "some log line")
        #expect(e.description == """
        CNI plugin 'ptp' failed ADD for pod 'web' (netns /run/netns/web): code 7 (invalid network configuration): bad subnet; details: 10.0.0.0/33
        stderr:
        some log line
        """)
    }

    @Test func codeNames() {
        #expect(CNIErrorCode.name(1) == "incompatible CNI version")
        #expect(CNIErrorCode.name(3) == "container unknown or does not exist")
        #expect(CNIErrorCode.name(11) == "try again later")
        #expect(CNIErrorCode.name(999) == "plugin internal error")
        #expect(CNIErrorCode.name(120) == "plugin-specific error")
        #expect(CNIErrorCode.name(9) == nil)
    }
}
