import Foundation
import Testing
@testable import NetlabKit

/// `changes:`, `stream:` and the stream expectations: read from YAML (errors located), judged
/// from a stream's answers, and shown as a timeline. No root.
@Suite struct StreamCheckTests {
    static let check = """
      - name: udp-switch
        from: pod1
        to: svc-webport.clusterIP
        port: 9000
        protocol: udp
        unready: [pod2]
        stream: {duration: 2, interval: 100ms}
        changes:
          - {terminating: [webpod1], serving: true}
          - {remove: [webpod1], at: 0.5}
          - {add: [webpod1], at: 1}
          - {serviceType: {service: svc-webport, type: ClusterIP}, at: 1.5}
        expect: {switchesTo: {pod: webpod1, within: 500ms}, neverFrom: [pod2]}

    """

    @Test func changesAndAStreamAreRead() throws {
        let t = try TopologyLoader.parse(yaml: DefaultTopology.yaml + Self.check, source: "t.yaml")
        let c = try #require(t.checks.last)
        #expect(c.stream == StreamSpec(durationSeconds: 2, intervalSeconds: 0.1))
        // `unready:` beside `changes:` is their first change.
        #expect(c.unready.isEmpty)
        #expect(c.changes == [EndpointChange(.unready(["pod2"])), EndpointChange(.terminating(["webpod1"], serving: true)),
                              EndpointChange(.remove(["webpod1"]), at: 0.5), EndpointChange(.add(["webpod1"]), at: 1),
                              EndpointChange(.serviceType(service: "svc-webport", type: .clusterIP), at: 1.5)])
        #expect(c.expect.switchesTo == SwitchExpectation(pod: "webpod1", withinSeconds: 0.5))
        #expect(c.expect.neverFrom == ["pod2"])
    }

    @Test func wrongChangesAreLocated() {
        func errors(_ replace: String, _ with: String) -> [String] {
            let d = diagnostics(DefaultTopology.yaml + Self.check.replacingOccurrences(of: replace, with: with))
            return d
        }
        #expect(errors("{remove: [webpod1], at: 0.5}", "{remove: [webpod1], add: [webpod1]}").contains {
            $0.contains("changes[1] must have exactly one of unready, terminating, remove, add, deleteService, serviceType, sessionAffinity, removePort, not remove and add") })
        #expect(errors("type: ClusterIP}", "type: Cluster}").contains { $0.contains("serviceType.type 'Cluster' is not one of ClusterIP, NodePort") })
        #expect(errors("service: svc-webport,", "service: svc-web,").contains { $0.contains("names 'svc-web', which is not a Service of this topology (svc-webport)") })
        #expect(errors("{remove: [webpod1], at: 0.5}", "{remove: [webpod9], at: 0.5}").contains { $0.contains("changes[1] remove names 'webpod9'") })
        #expect(errors("at: 1.5}", "at: 5}").contains { $0.contains("at is 5 seconds; it must be from 0ms to 2s") })
        #expect(errors("at: 1}", "at: 0.2}").contains { $0.contains("comes before the change before it") })
        #expect(errors("    stream: {duration: 2, interval: 100ms}\n", "").contains { $0.contains("at needs a stream") })
        let icmp = errors("    protocol: udp\n", "    protocol: icmp\n")
        #expect(icmp.contains { $0.contains("stream is for protocol udp or http") } && !icmp.contains { $0.contains("needs a stream") }, "\(icmp)")
        #expect(errors("serving: true", "serving: yes please").contains { $0.contains("serving") })
        let noStream = diagnostics(DefaultTopology.yaml + Self.check.replacingOccurrences(of: "    stream: {duration: 2, interval: 100ms}\n", with: "")
            .replacingOccurrences(of: ", at: 0.5", with: "").replacingOccurrences(of: ", at: 1.5", with: "").replacingOccurrences(of: ", at: 1", with: ""))
        #expect(noStream.contains { $0.contains("expect.switchesTo is about a stream") }, "\(noStream)")
        // Every message names its place in the file.
        for m in errors("type: ClusterIP}", "type: Cluster}") { #expect(m.hasPrefix("t.yaml:"), "\(m)") }
    }

    func stream(_ pods: [String?], interval: Double = 0.1, change: Double = 0.5, synced: Double = 0.6) -> StreamObservation {
        StreamObservation(local: SocketEndpoint(ip: IPv4Address("10.32.0.2")!, port: 40000),
                          answers: pods.enumerated().map { StreamObservation.Answer(sentAt: Double($0.offset) * interval, pod: $0.element,
                                                                                    failure: $0.element == nil ? "refused (ICMP port unreachable)" : nil) },
                          changes: [.init(summary: "remove webpod1", at: change, syncedAt: synced)])
    }

    func judge(_ e: Expectations, _ s: StreamObservation) -> [ExpectationResult] {
        CheckEvaluator(facts: LabFacts(topology: try! TopologyLoader.parse(yaml: DefaultTopology.yaml, source: "t.yaml"), pods: [:]))
            .evaluateStream(e, stream: s)
    }

    @Test func switchesToWantsThePodSoonAfterTheChangeAndToTheEnd() {
        let e = Expectations(switchesTo: SwitchExpectation(pod: "webpod2", withinSeconds: 0.3))
        // At 0.7 s, 0.2 s after the change at 0.5 s: passes.
        let soon = judge(e, stream(["webpod1", "webpod1", "webpod1", "webpod1", "webpod1", "webpod1", nil, "webpod2", "webpod2", "webpod2"]))
        #expect(soon.map(\.passed) == [true], "\(soon)")
        #expect(soon[0].observed.hasPrefix("webpod2 from 0.70 s (0.20 s after the change), 3 answers"), "\(soon[0].observed)")
        // Too late (0.4 s after), back to webpod1 at the end, or never: fails.
        #expect(judge(e, stream(["webpod1", "webpod1", "webpod1", "webpod1", "webpod1", "webpod1", nil, nil, nil, "webpod2"])).map(\.passed) == [false])
        #expect(judge(e, stream(["webpod1", "webpod1", "webpod1", "webpod1", "webpod1", "webpod1", "webpod2", "webpod2", "webpod1"])).map(\.passed) == [false])
        let stale = judge(e, stream(Array(repeating: "webpod1", count: 10)))
        #expect(stale.map(\.passed) == [false])
        #expect(stale[0].observed == "the stream did not end on webpod2; after the change: 0.50–0.90 s webpod1 (5)", "\(stale[0].observed)")
    }

    @Test func neverFromCountsFromWhenTheDatapathFollowed() {
        let e = Expectations(neverFrom: ["webpod1"])
        // webpod1 at 0.5 s is before the datapath followed (0.6 s): allowed; at 0.6 s it is not.
        #expect(judge(e, stream(["webpod1", "webpod1", "webpod1", "webpod1", "webpod1", "webpod1", "webpod2"])).map(\.passed) == [true])
        let late = judge(e, stream(["webpod1", "webpod1", "webpod1", "webpod1", "webpod1", "webpod1", "webpod1", "webpod2"]))
        #expect(late.map(\.passed) == [false])
        #expect(late[0].observed == "1 from webpod1, the first at 0.60 s", "\(late[0].observed)")
    }

    @Test func theTimelineIsCompactAndTheLastRequestIsTheProbe() {
        let s = stream([nil, nil, "webpod1", "webpod1", "webpod1", "webpod1", "webpod2"])
        #expect(s.timeline == ["stream from 10.32.0.2 port 40000: 7 requests",
                               "0.00–0.10 s no answer (2 requests: refused (ICMP port unreachable))",
                               "0.20–0.50 s webpod1 (4 answers)",
                               "0.50 s change: remove webpod1 (datapath followed at 0.60 s)",
                               "0.60–0.60 s webpod2 (1 answer)"])
        let p = s.lastProbe(target: "10.96.0.10:53", serverSaw: nil)
        #expect(p.replied && p.serverPod == "webpod2")
        #expect(!stream(["webpod1", nil]).lastProbe(target: "x", serverSaw: nil).replied)
    }
}

/// `sessionAffinity:` and `removePort:` changes: read, located when wrong. No root.
@Suite struct ServiceUpdateChangeTests {
    static func check(_ change: String) -> String {
        """
          - name: update
            from: pod1
            to: svc-webport.clusterIP
            port: svc-webport.port
            protocol: http
            changes:
              - \(change)
            expect: {status: 200}

        """
    }

    @Test func affinityAndPortRemovalAreRead() throws {
        let t = try TopologyLoader.parse(yaml: DefaultTopology.yaml + Self.check("{sessionAffinity: {service: svc-webport, affinity: ClientIP, timeoutSeconds: 30}}"), source: "t.yaml")
        #expect(t.checks.last?.changes == [EndpointChange(.sessionAffinity(service: "svc-webport", affinity: .clientIP, timeoutSeconds: 30))])
        let withUDP = DefaultTopology.yaml.replacingOccurrences(
            of: "        protocol: TCP\n\ncni:", with: "        protocol: TCP\n      - {name: dns, port: 9000, targetPort: 80, nodePort: 30007, protocol: UDP}\n\ncni:")
        #expect(withUDP != DefaultTopology.yaml, "the default topology's svc-webport ports moved: update this test")
        let r = try TopologyLoader.parse(yaml: withUDP + Self.check("{removePort: {service: svc-webport, port: 9000, protocol: UDP}}"), source: "t.yaml")
        #expect(r.checks.last?.changes == [EndpointChange(.removePort(service: "svc-webport", port: 9000, proto: .udp))])
        #expect(EndpointChange(.removePort(service: "s", port: 80, proto: .udp)).summary == "Service s without port 80/UDP")
    }

    @Test func wrongUpdatesAreLocated() {
        func errors(_ change: String) -> [String] { diagnostics(DefaultTopology.yaml + Self.check(change)) }
        #expect(errors("{sessionAffinity: {service: svc-webport, affinity: Sticky}}").contains { $0.contains("affinity") && $0.contains("ClientIP") })
        #expect(errors("{sessionAffinity: {service: svc-webport, affinity: None, timeoutSeconds: 30}}").contains { $0.contains("belongs to affinity ClientIP") })
        #expect(errors("{sessionAffinity: {service: svc-nope, affinity: None}}").contains { $0.contains("svc-nope") })
        #expect(errors("{removePort: {service: svc-webport, port: 81, protocol: TCP}}").contains { $0.contains("has no port 81/TCP") })
        // The Service's only port: a Service needs one.
        #expect(errors("{removePort: {service: svc-webport, port: 9000, protocol: TCP}}").contains { $0.contains("is Service 'svc-webport''s only port") })
        #expect(errors("{removePort: {service: svc-webport, port: 9000}}").contains { $0.contains("protocol") })
    }
}

/// --testing-omit port-protocol's broken tracking: pure.
@Suite struct PortNumberTrackingTests {
    static func list(_ ports: [(Int, String)]) -> KubeList {
        KubeList(items: [.service(KubeService(metadata: ObjectMeta(name: "svc", namespace: "default"),
                                              spec: KubeServiceSpec(ports: ports.map { KubeServicePort(protocol: $0.1, port: $0.0) })))])
    }

    @Test func removingOneProtocolOfAPortDropsTheNumber() {
        var t = PortNumberTracking()
        #expect(t.filter(Self.list([(80, "TCP"), (80, "UDP"), (53, "UDP")])) == Self.list([(80, "TCP"), (80, "UDP"), (53, "UDP")]))
        // UDP 80 goes: TCP 80 goes with it (and stays gone), 53 stays.
        #expect(t.filter(Self.list([(80, "TCP"), (53, "UDP")])) == Self.list([(53, "UDP")]))
        #expect(t.filter(Self.list([(80, "TCP"), (53, "UDP")])) == Self.list([(53, "UDP")]))
        // A port removed alone (no other protocol of its number left) is the ordinary case.
        var u = PortNumberTracking()
        _ = u.filter(Self.list([(80, "TCP"), (53, "UDP")]))
        #expect(u.filter(Self.list([(80, "TCP")])) == Self.list([(80, "TCP")]))
        #expect(u.dropped.isEmpty)
    }
}
