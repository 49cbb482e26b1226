import Testing
@testable import NetlabKit

/// The --testing-omit omissions that break netlab-proxy's view of the API: each one changes exactly
/// what its broken proxy gets wrong, and nothing without it.
@Suite struct ProxyViewOmissionsTests {
    static func service(_ name: String, type: String = "NodePort") -> KubeService {
        KubeService(metadata: ObjectMeta(name: name, namespace: "default"),
                    spec: KubeServiceSpec(type: type, clusterIP: "10.36.0.10", ports: [KubeServicePort(name: "http", port: 80, nodePort: 30080)]))
    }
    static func slice(_ service: String, _ eps: [(String, EndpointConditions)]) -> EndpointSlice {
        EndpointSlice(metadata: ObjectMeta(name: service + "-abc", namespace: "default", labels: [EndpointSlice.serviceNameLabel: service]),
                      endpoints: eps.map { KubeEndpoint(addresses: [$0.0], conditions: $0.1) },
                      ports: [EndpointPort(name: "http", port: 80, protocol: "TCP")])
    }
    static let ready = EndpointConditions(ready: true, serving: true, terminating: false)
    static let servingTerminating = EndpointConditions(ready: false, serving: true, terminating: true)
    static func list(_ services: [KubeService], _ slices: [EndpointSlice]) -> KubeList {
        KubeList(items: services.map(KubeObject.service) + slices.map(KubeObject.endpointSlice))
    }

    @Test func withoutOmissionsEveryListIsSeenAsItIs() {
        var v = ProxyViewOmissions([.conntrackCleanup])
        let a = Self.list([Self.service("a")], [Self.slice("a", [("10.32.0.5", Self.servingTerminating)])])
        #expect(v.view(a) == a)
        #expect(v.view(Self.list([], [])) == Self.list([], []))
    }

    @Test func terminatingFallbackLeavesTerminatingEndpointsOut() {
        var v = ProxyViewOmissions([.terminatingFallback])
        let seen = v.view(Self.list([Self.service("a")], [Self.slice("a", [("10.32.0.5", Self.servingTerminating), ("10.32.1.5", Self.ready)])]))
        #expect(seen.endpointSlices.flatMap(\.endpoints).map(\.addresses) == [["10.32.1.5"]])
        #expect(seen.services == [Self.service("a")])
    }

    @Test func serviceDeletionKeepsTheLastVersionOfADeletedService() {
        var v = ProxyViewOmissions([.serviceDeletion])
        _ = v.view(Self.list([Self.service("a"), Self.service("b", type: "ClusterIP")], []))
        // b is updated, then both disappear: both stay, b as last seen; a comes back as it is now.
        _ = v.view(Self.list([Self.service("a"), Self.service("b")], []))
        #expect(v.view(Self.list([], [])).services == [Self.service("a"), Self.service("b")])
        #expect(v.view(Self.list([Self.service("a", type: "ClusterIP")], [])).services == [Self.service("a", type: "ClusterIP"), Self.service("b")])
    }

    @Test func serviceIdentityDropsTheOtherServicesOfADeletedOnesNamespaceUntilTheyChange() {
        var v = ProxyViewOmissions([.serviceIdentity])
        let other = KubeService(metadata: ObjectMeta(name: "c", namespace: "kube-system"), spec: Self.service("c").spec)
        #expect(v.view(Self.list([Self.service("a"), Self.service("b"), other], [])).services.map(\.metadata.name) == ["a", "b", "c"])
        // a is deleted: b (same namespace) goes with it, c (another namespace) stays.
        #expect(v.view(Self.list([Self.service("b"), other], [])).services.map(\.metadata.name) == ["c"])
        #expect(v.view(Self.list([Self.service("b"), other], [])).services.map(\.metadata.name) == ["c"])
        // b changes: its update brings it back; a created again is new.
        #expect(v.view(Self.list([Self.service("a"), Self.service("b", type: "ClusterIP"), other], [])).services
                == [Self.service("a"), Self.service("b", type: "ClusterIP"), other])
    }

    @Test func serviceUpdatesKeepTheFirstVersionUntilTheServiceIsDeleted() {
        var v = ProxyViewOmissions([.serviceUpdates])
        _ = v.view(Self.list([Self.service("a")], []))
        #expect(v.view(Self.list([Self.service("a", type: "ClusterIP"), Self.service("b")], [])).services == [Self.service("a"), Self.service("b")])
        // Deleted, it is gone; created again, it is new.
        #expect(v.view(Self.list([Self.service("b")], [])).services == [Self.service("b")])
        #expect(v.view(Self.list([Self.service("a", type: "ClusterIP")], [])).services == [Self.service("a", type: "ClusterIP")])
    }

    @Test func endpointUpdatesKeepTheFirstSyncsSlices() {
        var v = ProxyViewOmissions([.endpointUpdates])
        let first = [Self.slice("a", [("10.32.0.5", Self.ready), ("10.32.1.5", Self.ready)])]
        _ = v.view(Self.list([Self.service("a")], first))
        let later = v.view(Self.list([Self.service("a", type: "ClusterIP")], [Self.slice("a", [("10.32.1.5", Self.ready)])]))
        #expect(later.endpointSlices == first)
        #expect(later.services == [Self.service("a", type: "ClusterIP")])
    }
}
