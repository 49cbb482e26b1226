import Foundation
import Testing
import Yams
@testable import NetlabKit

/// `api:` in the topology, the API member it gives the datapath, and the seed the lab's API server
/// starts with.
@Suite struct LabAPITopologyTests {
    @Test func theDefaultEndpointIsTheSubnetsHighestFreeHostOn6443() throws {
        let t = try TopologyLoader.parse(yaml: baseTopology, source: "t.yaml")
        #expect(t.api == APIEndpoint(address: IPv4Address("10.0.0.254")!, port: 6443))
        #expect(t.api.url == "http://10.0.0.254:6443")
        // A node on the last host pushes it one down.
        let full = try TopologyLoader.parse(yaml: baseTopology.replacingOccurrences(of: "10.0.0.38", with: "10.0.0.254"), source: "t.yaml")
        #expect(full.api.address == IPv4Address("10.0.0.253")!)
        let moved = try TopologyLoader.parse(yaml: baseTopology + "api: {address: 10.0.0.5, port: 8443}\n", source: "t.yaml")
        #expect(moved.api == APIEndpoint(address: IPv4Address("10.0.0.5")!, port: 8443))
        #expect(APIEndpoint.defaultAddress(subnet: IPv4Prefix("10.0.0.0/30")!, taken: [IPv4Address("10.0.0.1")!, IPv4Address("10.0.0.2")!]) == nil)
    }

    @Test func everyMistakeIsLocated() {
        #expect(diagnostics(baseTopology + "api: {address: 10.0.1.5, port: 0}\n") == [
            "t.yaml:13:16: api.address 10.0.1.5 is outside vpc.subnet 10.0.0.0/24; use an address from 10.0.0.1 to 10.0.0.254",
            "t.yaml:13:32: api.port 0 is outside 1-65535",
        ])
        #expect(diagnostics(baseTopology + "api: {address: 10.0.0.38}\n") == [
            "t.yaml:13:16: api.address 10.0.0.38 is already the ip of node 'node2'; the API needs an address of its own in 10.0.0.0/24",
        ])
        #expect(diagnostics(baseTopology + "api: {address: 10.0.0.1}\n") == [
            "t.yaml:13:16: api.address 10.0.0.1 is the VPC gateway's address; give the API another address in 10.0.0.0/24",
        ])
        #expect(diagnostics(baseTopology + "api: {address: 10.0.0.255}\n") == [
            "t.yaml:13:16: api.address 10.0.0.255 is the broadcast address of vpc.subnet 10.0.0.0/24; use an address from 10.0.0.1 to 10.0.0.254",
        ])
        #expect(diagnostics(baseTopology + "api:\n") == [
            "t.yaml:13:1: api is empty; give it address and/or port (e.g. {address: 10.0.0.254, port: 6443}) or remove the key",
        ])
        #expect(diagnostics(baseTopology + "api: {adress: 10.0.0.9}\n") == [
            "t.yaml:13:7: api has unknown key 'adress' (did you mean 'address'?); allowed keys: address, port, tls",
        ])
        let tiny = baseTopology.replacingOccurrences(of: "10.0.0.0/24", with: "10.0.0.32/30").replacingOccurrences(of: "10.0.0.37", with: "10.0.0.34")
            .replacingOccurrences(of: "  - name: node2\n    ip: 10.0.0.38\n    podCIDR: 10.32.1.0/24\n", with: "")
        #expect(diagnostics(tiny) == [
            "t.yaml:2:11: vpc.subnet 10.0.0.32/30 has no address left for the lab's API after the gateway and the nodes; use a larger subnet or give api.address",
        ])
    }

    @Test func theKubernetesServiceKeepsItsNameAndAddress() {
        #expect(diagnostics(baseTopology + """
        services:
          - {name: kubernetes, clusterIP: 10.96.0.1, ports: [{port: 443}]}
          - {name: kubernetes, namespace: other, ports: [{port: 443}]}

        """) == [
            "t.yaml:14:12: service 'kubernetes' in namespace default is the lab's API's own Service (it points at the API endpoint, as in every cluster); give yours another name",
            "t.yaml:14:35: service 'kubernetes' clusterIP 10.96.0.1 is the `kubernetes` Service's (the first address of serviceCIDR 10.96.0.0/16, as kube-apiserver reserves it); pick another or leave clusterIP out to get one allocated",
        ])
    }

    @Test func theAPIIsAPortOfTheVPCWithNoRoutes() throws {
        let t = try TopologyLoader.parse(yaml: baseTopology + "api: {address: 10.0.0.9}\n", source: "t.yaml")
        let d = Datapath(topology: t)
        let api = try #require(d.the(.apiServer))
        #expect(d.interface(of: api.name, toward: .vpc) != nil)
        #expect(d.addresses.filter { $0.at.member == api.name }.map { "\($0.prefix)" } == ["10.0.0.9/24"])
        #expect(d.routes.filter { $0.member == api.name }.isEmpty)
        #expect(d.planOwner(of: .v4(IPv4Address("10.0.0.9")!)) == api)
        #expect(LabPlan(lab: "l", datapath: d).namespace(api.name)?.role == .api)
        // The map and the graph show it.
        #expect(LabMap.render(lab: "l", topology: t, pods: [:]).contains("http://10.0.0.9:6443"))
        let graph = TopologyGraph(topology: t, datapath: d)
        #expect(graph.boxes.contains { $0.kind == .api && $0.lines.contains("http://10.0.0.9:6443") })
        let frames = graph.layout().frames
        let apiFrame = try #require(frames[api.name])
        for (id, f) in frames where id != api.name { #expect(!apiFrame.intersects(f), "the API's box overlaps \(id)'s") }
        #expect(apiFrame.maxX <= graph.layout().width)
        #expect(graph.mermaid().contains("(Kubernetes API)"))
    }

    /// The seed of the default topology, with the addresses host-local gives its pods.
    @Test func theSeedOfTheDefaultTopology() throws {
        let t = try TopologyLoader.parse(yaml: DefaultTopology.yaml, source: DefaultTopology.fileName)
        let pods = DatapathGoldenTests.pods
        let seed = LabSeed.list(topology: t, pods: pods, created: Date(timeIntervalSince1970: 1_700_000_000))
        try Golden.check(seed.encodedString(pretty: true) + "\n", "api/seed-default.json")
        let items = try #require(seed["items"]?.arrayValue)
        // The topology's services and slices are the proxy contract's, object for object.
        let contract = ServiceState.list(topology: t, podIPs: pods.mapValues { $0.address.address }).items.map(LabSeed.json)
        #expect(Array(items.suffix(contract.count)) == contract)
        // The `kubernetes` Service points at the API endpoint, at an address none of the topology's services has.
        let kube = try #require(items.first { $0["kind"] == "EndpointSlice" && $0[path: ["metadata", "name"]] == "kubernetes" })
        #expect(kube[path: ["endpoints"]]?.arrayValue?.first?["addresses"] == [.string("\(t.api.address)")])
        #expect(!t.services.contains { $0.clusterIP == LabSeed.kubernetesClusterIP(serviceCIDR: t.serviceCIDR) })
    }

    /// Namespaces beyond the store's own are seeded before what lives in them.
    @Test func theTopologysOwnNamespacesAreSeededFirst() throws {
        let t = try TopologyLoader.parse(yaml: baseTopology + "pods:\n  - {name: p, node: node1, namespace: shop}\n", source: "t.yaml")
        let items = try #require(LabSeed.list(topology: t, pods: [:], created: Date(timeIntervalSince1970: 0))["items"]?.arrayValue)
        #expect(items.filter { $0["kind"] == "Namespace" }.map { $0[path: ["metadata", "name"]] } == ["shop"])
        #expect(items.first?["kind"] == "Namespace")
        #expect(LabSeed.systemNamespaces == ["default", "kube-system", "kube-public", "kube-node-lease"])
    }

    @Test func thePodWithoutAnAddressIsPending() throws {
        let t = try TopologyLoader.parse(yaml: DefaultTopology.yaml, source: DefaultTopology.fileName)
        let seed = LabSeed.list(topology: t, pods: [:], created: Date(timeIntervalSince1970: 0))
        let pod = try #require(seed["items"]?.arrayValue?.first { $0["kind"] == "Pod" })
        #expect(pod[path: ["status", "phase"]] == "Pending" && pod[path: ["status", "podIP"]] == nil)
    }

    @Test func theKubeconfigNamesTheLabAndTheServer() {
        let k = LabSeed.kubeconfig(lab: "t-1", api: APIEndpoint(address: IPv4Address("10.0.0.254")!))
        #expect(k.contains("server: http://10.0.0.254:6443\n") && k.contains("current-context: netlab-t-1\n"))
    }

    /// With TLS the kubeconfig embeds the lab CA and the token, as kubectl and client-go read them.
    @Test func aTLSKubeconfigCarriesTheCAAndTheToken() throws {
        let api = APIEndpoint(address: IPv4Address("10.0.0.254")!, tls: true)
        let k = LabSeed.kubeconfig(lab: "t-1", api: api, certificateAuthority: Data("PEM".utf8), token: "abc")
        #expect(k.contains("    server: https://10.0.0.254:6443\n    certificate-authority-data: UEVN\n"))
        #expect(k.contains("  user:\n    token: abc\n"))
        #expect(try Yams.load(yaml: k) != nil)
    }

    @Test func tlsIsABooleanAndNeedsAgentsThatSpeakHTTPS() throws {
        #expect(try TopologyLoader.parse(yaml: baseTopology + "api: {tls: true}\n", source: "t.yaml").api.url == "https://10.0.0.254:6443")
        #expect(diagnostics(baseTopology + "api: {tls: yes please}\n") == ["t.yaml:13:12: api.tls must be true or false, not the string 'yes please'"])
        #expect(diagnostics(baseTopology + "api: {port: 6080}\n") == [
            "t.yaml:13:13: api.port 6080 is the port the API serves netlab itself on inside its namespace; choose another, e.g. 6443",
        ])
        #expect(diagnostics(baseTopology + "api: {tls: true}\nagents:\n  - {name: proxy, command: [netlab-proxy]}\n") == [
            "t.yaml:13:12: api.tls serves HTTPS, but agent 'proxy' runs netlab-proxy, which speaks plain HTTP only; run the lab without tls, or an agent that speaks HTTPS (kube-proxy)",
        ])
    }
}
