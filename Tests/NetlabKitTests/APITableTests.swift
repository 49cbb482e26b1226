import Foundation
import Testing
@testable import NetlabKit

/// Server-side printing: the Table kubectl asks for, with upstream's printers' columns.
@Suite struct APITableTests {
    let now = RFC3339.parse("2026-12-01T22:10:00Z")!

    @Test func ageIsApimachinerysHumanDuration() {
        let cases: [(Double, String)] = [(-5, "<invalid>"), (-0.5, "0s"), (0, "0s"), (119, "119s"), (120, "2m"), (125, "2m5s"), (600, "10m"),
                                         (10740, "179m"), (10800, "3h"), (10860, "3h1m"), (28800, "8h"), (169200, "47h"),
                                         (172800, "2d"), (180000, "2d2h"), (691200, "8d"), (63072000, "2y"), (63158400, "2y1d"),
                                         (252288000, "8y")]
        for (seconds, text) in cases {
            #expect(APITable.humanDuration(seconds) == text, "\(seconds)")
        }
    }

    @Test func onlyAnAcceptForMetaTablesAsksForOne() {
        #expect(APITable.isRequested(accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"))
        #expect(!APITable.isRequested(accept: "application/json"))
        #expect(!APITable.isRequested(accept: nil))
        #expect(!APITable.isRequested(accept: "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"))
    }

    func cells(_ r: APIResource, _ o: JSONValue) -> [String] {
        let t = APITable.table(r, objects: [o], resourceVersion: "7", now: now)
        return (t["rows"]?.arrayValue?.first?["cells"]?.arrayValue ?? []).map { $0.stringValue ?? $0.intValue.map(String.init) ?? "?" }
    }

    @Test func nodesPodsServicesAndSlicesHaveKubectlsColumns() throws {
        let created: JSONValue = .string("2026-12-01T22:05:00Z")
        let node: JSONValue = ["metadata": ["name": "node1", "creationTimestamp": created, "labels": ["node-role.kubernetes.io/worker": ""]],
                               "status": ["conditions": [["type": "Ready", "status": "True"]], "addresses": [["type": "InternalIP", "address": "10.0.0.37"]],
                                          "nodeInfo": ["kubeletVersion": "v1.34.0"]]]
        #expect(cells(APIResources.nodes, node) == ["node1", "Ready", "worker", "5m", "v1.34.0", "10.0.0.37", "<none>", "<unknown>", "<unknown>", "<unknown>"])
        let pod: JSONValue = ["metadata": ["name": "webpod1", "creationTimestamp": created],
                              "spec": ["nodeName": "node1", "containers": [["name": "a"], ["name": "b"]]],
                              "status": ["phase": "Running", "podIP": "10.32.0.3", "containerStatuses": [["ready": true, "restartCount": 2], ["ready": false, "restartCount": 1]]]]
        #expect(cells(APIResources.pods, pod) == ["webpod1", "1/2", "Running", "3", "5m", "10.32.0.3", "node1", "<none>", "<none>"])
        let svc: JSONValue = ["metadata": ["name": "svc-webport", "creationTimestamp": created],
                              "spec": ["type": "NodePort", "clusterIP": "10.36.0.10", "selector": ["app": "webpod"],
                                       "ports": [["port": 9000, "nodePort": 30007, "protocol": "TCP"], ["port": 53, "protocol": "UDP"]]]]
        #expect(cells(APIResources.services, svc) == ["svc-webport", "NodePort", "10.36.0.10", "<none>", "9000:30007/TCP,53/UDP", "5m", "app=webpod"])
        let lb: JSONValue = ["metadata": ["name": "lb"], "spec": ["type": "LoadBalancer", "clusterIP": "10.36.0.11", "ports": [["port": 80]]]]
        #expect(cells(APIResources.services, lb) == ["lb", "LoadBalancer", "10.36.0.11", "<pending>", "80/TCP", "<unknown>", "<none>"])
        let slice: JSONValue = ["metadata": ["name": "s-abcde", "creationTimestamp": created], "addressType": "IPv4", "ports": [["port": 80]],
                                "endpoints": (1...5).map { i in ["addresses": [.string("10.32.0.\(i)")]] as JSONValue }.asJSONArray]
        #expect(cells(APIResources.endpointSlices, slice) == ["s-abcde", "IPv4", "80", "10.32.0.1,10.32.0.2,10.32.0.3 + 2 more...", "5m"])
        // Anything else: the default convertor's Name and Created At.
        #expect(cells(APIResources.leases, ["metadata": ["name": "l", "creationTimestamp": created]]) == ["l", "2026-12-01T22:05:00Z"])
    }

    @Test func theTableCarriesColumnsRowsAndPartialMetadata() throws {
        let t = APITable.table(APIResources.namespaces, objects: [["metadata": ["name": "default", "uid": "u"], "status": ["phase": "Active"]]],
                               resourceVersion: "9", now: now)
        #expect(t["kind"] == "Table" && t["apiVersion"] == "meta.k8s.io/v1" && t[path: ["metadata", "resourceVersion"]] == "9")
        #expect(t["columnDefinitions"]?.arrayValue?.map { $0["name"]?.stringValue ?? "" } == ["Name", "Status", "Age"])
        let row = try #require(t["rows"]?.arrayValue?.first)
        #expect(row[path: ["object", "kind"]] == "PartialObjectMetadata" && row[path: ["object", "metadata", "uid"]] == "u")
        let bare = APITable.table(APIResources.namespaces, objects: [], resourceVersion: nil, now: now, include: .none, columns: false)
        #expect(bare["columnDefinitions"] == nil && bare["rows"] == .array([]))
    }
}

extension Array where Element == JSONValue {
    var asJSONArray: JSONValue { .array(self) }
}
