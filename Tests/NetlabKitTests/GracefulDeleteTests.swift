import Foundation
import Testing
@testable import NetlabKit

/// A pod deleted with a grace period stays, terminating, as kube-apiserver keeps it for kubelet:
/// its EndpointSlice endpoint turns terminating (serving still its readiness, ready false), which
/// is what kube-proxy's terminating-endpoint fallback reads. A delete with 0 then removes it.
@Suite struct GracefulDeleteTests {
    let pods = APIResources.pods

    func setUp() throws -> APIStore {
        let store = controllerStore()
        let pod: JSONValue = ["metadata": ["name": "web-1", "labels": ["app": "web"]],
                              "spec": ["nodeName": "node1", "containers": [["name": "c", "image": "x"]]],
                              "status": ["phase": "Running", "podIP": "10.32.0.7", "podIPs": [["ip": "10.32.0.7"]],
                                         "conditions": [["type": "Ready", "status": "True"]]]]
        _ = try store.create(pods, namespace: "default", pod)
        _ = try store.create(APIResources.services, namespace: "default",
                             ["metadata": ["name": "web"], "spec": ["selector": ["app": "web"], "ports": [["port": 80]]]])
        return store
    }

    func conditions(_ store: APIStore) throws -> JSONValue? {
        let slices = try store.list(APIResources.endpointSlices, namespace: "default")["items"]?.arrayValue ?? []
        return slices.first?.at("endpoints", 0, "conditions")
    }

    @Test func aGracefulDeleteMarksThePodTerminatingAndItsEndpointServing() throws {
        let store = try setUp()
        let marked = try store.delete(pods, namespace: "default", name: "web-1", gracePeriodSeconds: 30)
        #expect(marked[path: ["metadata", "deletionTimestamp"]] == .string(Date(timeIntervalSince1970: 1_800_000_030).formatted(.iso8601)))
        #expect(marked[path: ["metadata", "deletionGracePeriodSeconds"]] == 30)
        #expect(try store.get(pods, namespace: "default", name: "web-1")[path: ["metadata", "name"]] == "web-1")
        #expect(try conditions(store) == ["ready": false, "serving": true, "terminating": true])
        // Readiness still moves serving; the deletionTimestamp stays through a status patch.
        _ = try store.patch(pods, namespace: "default", name: "web-1", ["status": ["conditions": [["type": "Ready", "status": "False"]]]],
                            type: .strategic, subresource: "status")
        #expect(try conditions(store) == ["ready": false, "serving": false, "terminating": true])
        // A second graceful delete changes nothing; one with 0 removes the pod and its endpoint.
        let rv = store.resourceVersion
        _ = try store.delete(pods, namespace: "default", name: "web-1", gracePeriodSeconds: 5)
        #expect(store.resourceVersion == rv)
        _ = try store.delete(pods, namespace: "default", name: "web-1", gracePeriodSeconds: 0)
        #expect(throws: APIStatus.self) { try store.get(pods, namespace: "default", name: "web-1") }
        #expect(try conditions(store) == nil)
    }

    @Test func aDeleteWithoutAGracePeriodStillRemovesAtOnce() throws {
        let store = try setUp()
        _ = try store.delete(pods, namespace: "default", name: "web-1")
        #expect(throws: APIStatus.self) { try store.get(pods, namespace: "default", name: "web-1") }
    }
}
