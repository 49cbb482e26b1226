import Foundation
import Testing
@testable import NetlabKit

@Suite struct CNIVersionTests {
    @Test func parsesSupportedVersions() throws {
        for s in ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
            #expect(try CNIVersion(parsing: s).description == s)
        }
    }

    @Test func checkAndDelPrevResultStartAt040() throws {
        #expect(try !CNIVersion(parsing: "0.3.1").supportsCheck)
        #expect(try !CNIVersion(parsing: "0.3.1").passesPrevResultOnDel)
        #expect(try CNIVersion(parsing: "0.4.0").supportsCheck)
        #expect(try CNIVersion(parsing: "0.4.0").passesPrevResultOnDel)
        #expect(try CNIVersion(parsing: "1.0.0").supportsCheck)
        #expect(try CNIVersion(parsing: "1.1.0").passesPrevResultOnDel)
    }

    @Test func refusesLegacyAndUnknownVersions() {
        for s in ["0.1.0", "0.2.0"] {
            #expect { try CNIVersion(parsing: s) } throws: { "\($0)".contains("ip4/ip6") }
        }
        #expect { try CNIVersion(parsing: "2.0.0") } throws: { "\($0)".contains("not supported") }
        #expect { try CNIVersion(parsing: "1.0") } throws: { "\($0)".contains("not a version number") }
        #expect { try CNIVersion(parsing: "v1.0.0") } throws: { "\($0)".contains("not a version number") }
    }
}

@Suite struct CNIConfigListTests {
    @Test func parsesAListAndKeepsUnknownKeys() throws {
        let l = try CNINetworkConfigList(json("""
        {"cniVersion":"1.0.0","name":"netlab","disableCheck":true,"x-extra":1,
         "plugins":[{"type":"bridge","bridge":"cni0","ipam":{"type":"host-local"}},{"type":"portmap","capabilities":{"portMappings":true}}]}
        """))
        #expect(l.name == "netlab")
        #expect(l.cniVersion == CNIVersion(1, 0, 0))
        #expect(l.types == ["bridge", "portmap"])
        #expect(l.pluginTypes == ["bridge", "host-local", "portmap"])
        #expect(l.disableCheck)
        #expect(l.plugins[0]["bridge"] == .string("cni0"))
        #expect(l.json["x-extra"] == .number(1))
        #expect(try CNINetworkConfigList(l.json) == l)
    }

    @Test func pluginTypesAreListedOnce() throws {
        let l = try CNINetworkConfigList(json("""
        {"cniVersion":"0.3.1","name":"n","plugins":[{"type":"ptp","ipam":{"type":"host-local"}},{"type":"bridge","ipam":{"type":"host-local"}},{"type":"ptp"}]}
        """))
        #expect(l.pluginTypes == ["ptp", "host-local", "bridge"])
    }

    @Test(arguments: [
        (#"[]"#, "must be a JSON object"),
        (#"{"cniVersion":"1.0.0","plugins":[{"type":"ptp"}]}"#, "no \"name\""),
        (#"{"name":"a b","cniVersion":"1.0.0","plugins":[{"type":"ptp"}]}"#, "network name \"a b\" is invalid"),
        (#"{"name":"n","plugins":[{"type":"ptp"}]}"#, "no \"cniVersion\""),
        (#"{"name":"n","cniVersion":1,"plugins":[{"type":"ptp"}]}"#, "must be a string"),
        (#"{"name":"n","cniVersion":"0.2.0","plugins":[{"type":"ptp"}]}"#, "ip4/ip6"),
        (#"{"name":"n","cniVersion":"1.0.0"}"#, "non-empty \"plugins\""),
        (#"{"name":"n","cniVersion":"1.0.0","plugins":[]}"#, "non-empty \"plugins\""),
        (#"{"name":"n","cniVersion":"1.0.0","plugins":[{"mtu":1}]}"#, "plugins[0] has no \"type\""),
        (#"{"name":"n","cniVersion":"1.0.0","plugins":[{"type":"ptp"},"x"]}"#, "plugins[1] must be a JSON object"),
        (#"{"name":"n","cniVersion":"1.0.0","plugins":[{"type":"../sbin/ip"}]}"#, "not a path"),
        (#"{"name":"n","cniVersion":"1.0.0","plugins":[{"type":"portmap","capabilities":["portMappings"]}]}"#, "capabilities"),
        (#"{"name":"n","cniVersion":"1.0.0","plugins":[{"type":"ptp","ipam":{"subnet":"10.0.0.0/8"}}]}"#, "\"ipam\" must be an object with a \"type\""),
        (#"{"name":"n","cniVersion":"1.0.0","disableCheck":"yes","plugins":[{"type":"ptp"}]}"#, "disableCheck"),
        (#"{"name":"n","cniVersion":"1.0.0","plugins":[{"type":"ptp","ipam":{"type":"host-local","subnet":"{{podCidr}}"}}]}"#,
         "{{podCidr}} at plugins[0].ipam.subnet"),
    ])
    func rejectsInvalidLists(input: String, message: String) {
        #expect { try CNINetworkConfigList(json(input)) } throws: { "\($0)".contains(message) }
    }

    let node = Node(name: "node-a", ip: IPv4Address("10.0.0.11")!, externalIP: nil, podCIDR: IPv4Prefix("10.244.1.0/24")!)

    @Test func renderingFillsPlaceholdersPerNode() throws {
        let l = try CNINetworkConfigList(json("""
        {"cniVersion":"1.0.0","name":"netlab","plugins":[
          {"type":"ptp","mtu":"{{mtu}}","note":"mtu is {{mtu}} on {{nodeName}} ({{nodeIP}})",
           "ipam":{"type":"host-local","ranges":[[{"subnet":"{{podCIDR}}"}]],"routes":[{"dst":"0.0.0.0/0"}]}}
        ]}
        """)).rendered(for: node, mtu: 1450)
        let p = l.plugins[0]
        #expect(p["mtu"] == .number(1450))
        #expect(p["note"] == .string("mtu is 1450 on node-a (10.0.0.11)"))
        #expect(p["ipam"]?["ranges"]?.arrayValue?[0].arrayValue?[0]["subnet"] == .string("10.244.1.0/24"))
        #expect(p["ipam"]?["routes"] == json(#"[{"dst":"0.0.0.0/0"}]"#))
        #expect(!l.json.encodedString().contains("{{"))
        // The rendered list still validates, and "mtu" reaches the plugin as an integer.
        #expect(try CNINetworkConfigList(l.json) == l)
        #expect(l.pluginConfig(at: 0, attachment: webAttachment, prevResult: nil).encodedString().contains(#""mtu":1450,"#))
    }

    @Test func hostLocalDataDirIsInjectedOnlyWhereMissing() throws {
        let l = try CNINetworkConfigList(json("""
        {"cniVersion":"1.0.0","name":"netlab","plugins":[
          {"type":"ptp","ipam":{"type":"host-local","subnet":"10.244.1.0/24"}},
          {"type":"bridge","ipam":{"type":"host-local","subnet":"10.245.0.0/24","dataDir":"/srv/mine"}},
          {"type":"macvlan","ipam":{"type":"dhcp"}},
          {"type":"portmap"}
        ]}
        """)).withHostLocalDataDir("/run/netlab/lab1/node-a/host-local")
        #expect(l.plugins[0]["ipam"]?["dataDir"] == .string("/run/netlab/lab1/node-a/host-local"))
        #expect(l.plugins[0]["ipam"]?["subnet"] == .string("10.244.1.0/24"))
        #expect(l.plugins[1]["ipam"]?["dataDir"] == .string("/srv/mine"))
        #expect(l.plugins[2]["ipam"]?["dataDir"] == nil)
        #expect(l.plugins[3]["ipam"] == nil)
    }
}

@Suite struct CNIAttachmentTests {
    @Test func portMappingsFromContainerPortsMatchPortmapShape() {
        let ports = [ContainerPort(containerPort: 80, hostPort: 8080),
                     ContainerPort(containerPort: 53, hostPort: 5353, proto: .udp),
                     ContainerPort(containerPort: 9000)]
        let pm = CNIAttachment.portMappings(ports)
        #expect(pm?.encodedString() == #"[{"containerPort":80,"hostPort":8080,"protocol":"tcp"},{"containerPort":53,"hostPort":5353,"protocol":"udp"}]"#)
        #expect(CNIAttachment.portMappings([ContainerPort(containerPort: 80)]) == nil)
    }

    @Test func attachmentFromPodCarriesPortMappingsOnlyWhenAsked() {
        let pod = Pod(name: "web", node: "node-a", namespace: "shop", ports: [ContainerPort(containerPort: 80, hostPort: 8080)])
        let a = CNIAttachment(pod: pod, containerID: "abc", netnsPath: "/run/netns/x", podUID: "u")
        #expect(a.podNamespace == "shop")
        #expect(a.capabilityArgs["portMappings"]?.arrayValue?.count == 1)
        let plain = CNIAttachment(pod: Pod(name: "db", node: "node-a"), containerID: "abc", netnsPath: "/run/netns/x", podUID: "u")
        #expect(plain.capabilityArgs.isEmpty)
    }

    @Test func cniArgsInContainerdOrder() {
        #expect(webAttachment.cniArgsString
            == "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=c0ffee;K8S_POD_UID=uid-1")
    }

    @Test func validationFollowsLibcni() throws {
        try webAttachment.validate()
        var a = webAttachment; a.containerID = "-x"
        #expect { try a.validate() } throws: { "\($0)".contains("container ID") }
        a = webAttachment; a.ifName = "averyveryverylongname"
        #expect { try a.validate() } throws: { "\($0)".contains("interface name") }
        a = webAttachment; a.ifName = "eth:0"
        #expect { try a.validate() } throws: { "\($0)".contains("interface name") }
        a = webAttachment; a.netnsPath = "netns/x"
        #expect { try a.validate() } throws: { "\($0)".contains("absolute") }
        a = webAttachment; a.podName = "a;b"
        #expect { try a.validate() } throws: { "\($0)".contains("K8S_POD_NAME") }
    }
}
