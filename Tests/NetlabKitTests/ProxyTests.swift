import Foundation
import Testing
@testable import NetlabKit

@Suite struct HashingTests {
    @Test func sha256Vectors() {
        // FIPS 180-2 examples and the empty string.
        #expect(SHA256.hexDigest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hexDigest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hexDigest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hexDigest(String(repeating: "a", count: 1_000))
                == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
        // Padding edges: 55 bytes fit one block, 56..63 need a second one, 64 is exactly one.
        let edges = [55: "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072",
                     56: "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e",
                     63: "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2",
                     64: "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"]
        for (n, digest) in edges { #expect(SHA256.hexDigest(String(repeating: "x", count: n)) == digest) }
    }

    @Test func base32Vectors() {
        // RFC 4648 section 10.
        let cases = ["": "", "f": "MY======", "fo": "MZXQ====", "foo": "MZXW6===", "foob": "MZXW6YQ=",
                     "fooba": "MZXW6YTB", "foobar": "MZXW6YTBOI======"]
        for (input, output) in cases { #expect(Base32.encode(Array(input.utf8)) == output) }
    }

    /// Chain names seen on real clusters (a kind cluster's kube-proxy log of its restore input).
    @Test func chainNamesMatchKubeProxy() {
        #expect(IPTablesProxier.serviceChainName(servicePortName: "default/kubernetes:https", protocol: "tcp")
                == "KUBE-SVC-NPX46M4PTMTKRN6Y")
        #expect(IPTablesProxier.serviceChainName(servicePortName: "kube-system/kube-dns:dns", protocol: "udp")
                == "KUBE-SVC-TCOU7JCQXEZGVUNU")
        #expect(IPTablesProxier.serviceChainName(servicePortName: "kube-system/kube-dns:dns-tcp", protocol: "tcp")
                == "KUBE-SVC-ERIFXISQEP7F7OF4")
        #expect(IPTablesProxier.serviceChainName(servicePortName: "kube-system/kube-dns:metrics", protocol: "tcp")
                == "KUBE-SVC-JD5MR3NA4I4DYORP")
        #expect(IPTablesProxier.endpointChainName(servicePortName: "default/kubernetes:https", protocol: "tcp",
                                                  endpoint: "172.18.0.2:6443") == "KUBE-SEP-V2PECCYPB6X2GSCW")
        #expect(IPTablesProxier.endpointChainName(servicePortName: "kube-system/kube-dns:dns", protocol: "udp",
                                                  endpoint: "10.244.0.10:53") == "KUBE-SEP-R7EMXN5TTQQVP4UW")
        // The protocol is hashed in lower case: upper case gives another name.
        #expect(IPTablesProxier.serviceChainName(servicePortName: "default/kubernetes:https", protocol: "TCP")
                != "KUBE-SVC-NPX46M4PTMTKRN6Y")
    }

    @Test func probabilityFormatting() {
        #expect(IPTablesProxier.probability(2) == "0.5000000000")
        #expect(IPTablesProxier.probability(3) == "0.3333333333")
        #expect(IPTablesProxier.probability(4) == "0.2500000000")
        #expect(IPTablesProxier.probability(6) == "0.1666666667")
        #expect(IPTablesProxier().masqueradeMark == "0x00004000")
    }
}

@Suite struct KubeObjectsTests {
    /// Abridged `kubectl get svc,endpointslices -o json` output, unknown fields and all.
    static let apiServerJSON = """
    {"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":""},"items":[
     {"apiVersion":"v1","kind":"Service","metadata":{"creationTimestamp":"2024-11-02T18:32:05Z","name":"web",
      "namespace":"shop","resourceVersion":"123","uid":"6c1b1c4e-0000-4000-8000-000000000001"},
      "spec":{"clusterIP":"10.36.0.20","clusterIPs":["10.36.0.20"],"externalTrafficPolicy":"Local",
       "internalTrafficPolicy":"Cluster","ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack",
       "ports":[{"name":"http","nodePort":31000,"port":80,"protocol":"TCP","targetPort":"http"},
                {"name":"dns","port":53,"protocol":"UDP","targetPort":5353}],
       "selector":{"app":"web"},"sessionAffinity":"None","type":"NodePort"},"status":{"loadBalancer":{}}},
     {"addressType":"IPv4","apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
      "endpoints":[{"addresses":["10.32.0.9"],"conditions":{"ready":true,"serving":true,"terminating":false},
        "nodeName":"node1","targetRef":{"kind":"Pod","name":"web-1","namespace":"shop","uid":"x"},"zone":"a"}],
      "metadata":{"generateName":"web-","labels":{"kubernetes.io/service-name":"web"},"name":"web-x7k2p","namespace":"shop"},
      "ports":[{"name":"http","port":8080,"protocol":"TCP"}]},
     {"addressType":"IPv4","apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","endpoints":null,
      "metadata":{"labels":{"kubernetes.io/service-name":"empty"},"name":"empty-abcde","namespace":"shop"},"ports":null},
     {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other"},"data":{"k":"v"}}
    ]}
    """

    @Test func decodesAPIServerJSON() throws {
        let list = try KubeList.decode(Data(Self.apiServerJSON.utf8))
        #expect(list.items.count == 4)
        let svc = try #require(list.services.first)
        #expect(svc.namespace == "shop")
        #expect(svc.spec.ports?[0].targetPort == .string("http"))
        #expect(svc.spec.ports?[1].targetPort == .int(5353))
        #expect(svc.spec.externalTrafficPolicy == "Local")
        #expect(list.endpointSlices.count == 2)
        #expect(list.endpointSlices[0].endpoints[0].conditions?.ready == true)
        #expect(list.endpointSlices[0].serviceName == "web")
        #expect(list.endpointSlices[1].endpoints.isEmpty)
        if case .other(let v) = list.items[3] { #expect(v["kind"]?.stringValue == "ConfigMap") } else { Issue.record("ConfigMap lost") }
        // Round trip keeps what was decoded.
        let again = try KubeList.decode(Data(list.encodedJSON().utf8))
        #expect(again == list)
    }

    @Test func rejectsMalformedList() {
        #expect(throws: (any Error).self) { try KubeList.decode(Data(#"{"kind":"List","items":[{"kind":"Service"}]}"#.utf8)) }
    }
}

@Suite struct ServiceStateTests {
    @Test func defaultTopologyGolden() throws {
        let list = ServiceState.list(topology: ProxyFixtures.defaultTopology, podIPs: ProxyFixtures.defaultIPs)
        try Golden.check(list.encodedJSON(), "proxy/services-default.json")
        // One slice, one endpoint: webpod1 on node1, ready, port 80.
        let slice = try #require(list.endpointSlices.first)
        #expect(list.endpointSlices.count == 1)
        #expect(slice.metadata.name.hasPrefix("svc-webport-") && slice.metadata.name.count == "svc-webport-".count + 5)
        #expect(slice.endpoints.map(\.addresses) == [["10.32.0.3"]])
        #expect(slice.endpoints[0].nodeName == "node1")
        #expect(slice.endpoints[0].targetRef?.name == "webpod1")
        #expect(slice.ports == [EndpointPort(name: "svc-webport", port: 80, protocol: "TCP")])
    }

    @Test func readinessAndSelection() throws {
        let t = ProxyFixtures.topology(pods: [ProxyFixtures.pod1, ProxyFixtures.webpod1, ProxyFixtures.webpod2])
        let list = ServiceState.list(topology: t, podIPs: ProxyFixtures.defaultIPs, readyPods: ["webpod2"])
        let eps = try #require(list.endpointSlices.first).endpoints
        #expect(eps.map(\.addresses[0]) == ["10.32.0.3", "10.32.1.7"])
        #expect(eps.map { $0.conditions?.ready } == [false, true])
        // A pod without an IP yet has no endpoint.
        let noIP = ServiceState.list(topology: t, podIPs: ["webpod1": IPv4Address("10.32.0.3")!])
        #expect(noIP.endpointSlices.first?.endpoints.count == 1)
        // Deterministic.
        #expect(ServiceState.list(topology: t, podIPs: ProxyFixtures.defaultIPs) == ServiceState.list(topology: t, podIPs: ProxyFixtures.defaultIPs))
    }
}

@Suite struct ProxyContractDocTests {
    /// The example in docs/proxy-contract.md is ServiceState's real output, not a hand-written copy.
    @Test func docExampleIsGenerated() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let doc = try String(contentsOf: root.appendingPathComponent("docs/proxy-contract.md"), encoding: .utf8)
        let json = ServiceState.list(topology: ProxyFixtures.defaultTopology, podIPs: ProxyFixtures.defaultIPs).encodedJSON()
        #expect(doc.contains("```json\n" + json + "```\n"))
    }
}
