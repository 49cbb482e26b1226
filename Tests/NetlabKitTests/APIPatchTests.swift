import Testing
@testable import NetlabKit

@Suite struct APIPatchTests {
    /// RFC 7386, Appendix A.
    static let rfc7386: [(String, String, String)] = [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
        (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
        (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
        (#"{"a":"foo"}"#, #"null"#, #"null"#),
        (#"{"a":"foo"}"#, #""bar""#, #""bar""#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"a":1,"e":null}"#),
        (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
        (#"{}"#, #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
    ]

    func j(_ s: String) -> JSONValue { try! JSONValue.decode(Data(s.utf8)) }

    @Test(arguments: rfc7386) func mergePatchFollowsRFC7386(_ target: String, _ patch: String, _ result: String) {
        #expect(PatchType.merge.apply(j(patch), to: j(target)) == j(result))
    }

    @Test func strategicMergeMergesConditionsByTypeAndMapsByKey() {
        let node = j(#"{"metadata":{"name":"n1","labels":{"a":"1","b":"2"}},"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"NetworkUnavailable","status":"True","reason":"NoRoute"}],"addresses":[{"type":"InternalIP","address":"10.0.0.2"}]}}"#)
        let patch = j(#"{"metadata":{"labels":{"b":null,"c":"3"}},"status":{"conditions":[{"type":"NetworkUnavailable","status":"False","reason":"FlannelIsUp"},{"type":"MemoryPressure","status":"False"}],"$setElementOrder/conditions":[{"type":"Ready"}]}}"#)
        let out = PatchType.strategic.apply(patch, to: node)
        #expect(out[path: ["metadata", "labels"]] == ["a": "1", "c": "3"])
        #expect(out[path: ["status", "conditions"]] == j(#"[{"type":"Ready","status":"True"},{"type":"NetworkUnavailable","status":"False","reason":"FlannelIsUp"},{"type":"MemoryPressure","status":"False"}]"#))
        #expect(out[path: ["status", "addresses"]] == node[path: ["status", "addresses"]])
        #expect(out[path: ["status", "$setElementOrder/conditions"]] == nil)
    }

    @Test func strategicMergeReplacesPrimitiveAndUnkeyedListsAndHonoursDirectives() {
        let o = j(#"{"metadata":{"finalizers":["a","b"]},"spec":{"ports":[{"port":80,"name":"http"},{"port":443,"name":"https"}],"selector":{"app":"web","tier":"x"},"externalIPs":["1.1.1.1"]},"addresses":["10.0.0.1"]}"#)
        // Primitives replaced; a Service's ports merged by port; $patch: delete removes one.
        let p1 = j(#"{"spec":{"externalIPs":["2.2.2.2"],"ports":[{"port":443,"$patch":"delete"},{"port":80,"targetPort":8080}]},"addresses":["10.0.0.9"]}"#)
        let r1 = PatchType.strategic.apply(p1, to: o)
        #expect(r1[path: ["spec", "externalIPs"]] == ["2.2.2.2"])
        #expect(r1[path: ["spec", "ports"]] == j(#"[{"port":80,"name":"http","targetPort":8080}]"#))
        #expect(r1["addresses"] == ["10.0.0.9"])
        // $patch: replace on a map, $retainKeys, $deleteFromPrimitiveList.
        let p2 = j(#"{"spec":{"selector":{"$patch":"replace","app":"db"}},"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}"#)
        let r2 = PatchType.strategic.apply(p2, to: o)
        #expect(r2[path: ["spec", "selector"]] == ["app": "db"])
        #expect(r2[path: ["metadata", "finalizers"]] == ["b"])
        let p3 = j(#"{"spec":{"$retainKeys":["ports","type"],"type":"NodePort"}}"#)
        let r3 = PatchType.strategic.apply(p3, to: o)
        #expect(r3["spec"]?.objectValue.map { Set($0.keys) } == ["ports", "type"])
        // $patch: replace as a list element replaces the list.
        let p4 = j(#"{"spec":{"ports":[{"$patch":"replace"},{"port":53}]}}"#)
        #expect(PatchType.strategic.apply(p4, to: o)[path: ["spec", "ports"]] == [["port": 53]])
    }

    @Test func contentTypesPickThePatchAndTheRestAre415() {
        #expect(PatchType(contentType: "application/merge-patch+json") == .merge)
        #expect(PatchType(contentType: "application/strategic-merge-patch+json; charset=utf-8") == .strategic)
        #expect(PatchType(contentType: "application/vnd.kubernetes.protobuf") == nil)
        #expect(PatchType(contentType: "application/apply-patch+yaml") == nil)
        #expect(PatchType.unsupported.code == 415)
        #expect(PatchType.unsupported.reason == "UnsupportedMediaType")
        #expect(APIStatus.bodyNotJSON.json[path: ["code"]] == 415)
        #expect(APIStatus.bodyNotJSON.message == "the body of the request was in an unknown format - accepted media types include: application/json")
        #expect(PatchType.unsupported.message == "the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json")
    }

    @Test func patchingNodesAnnotationsAndStatusAsFlanneldDoes() throws {
        let store = testStore()
        let nodes = APIResources.nodes
        let n = try store.create(nodes, namespace: nil, j(#"{"metadata":{"name":"node1","annotations":{"x":"1"}},"spec":{"podCIDR":"10.244.1.0/24"},"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#))
        let annotated = try store.patch(nodes, namespace: nil, name: "node1",
                                        j(#"{"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-data":"{\"VNI\":1}"}}}"#), type: .strategic)
        #expect(annotated[path: ["metadata", "annotations"]] == ["x": "1", "flannel.alpha.coreos.com/backend-data": "{\"VNI\":1}"])
        #expect(rv(annotated) > rv(n))
        // Status changes through the main resource are ignored; through /status they merge by type.
        let ignored = try store.patch(nodes, namespace: nil, name: "node1", j(#"{"status":{"conditions":[{"type":"Ready","status":"False"}]}}"#), type: .strategic)
        #expect(ignored == annotated)
        let st = try store.patch(nodes, namespace: nil, name: "node1",
                                 j(#"{"status":{"conditions":[{"type":"NetworkUnavailable","status":"False","reason":"FlannelIsUp"}]}}"#),
                                 type: .strategic, subresource: "status")
        #expect(st[path: ["status", "conditions"]] == j(#"[{"type":"Ready","status":"True"},{"type":"NetworkUnavailable","status":"False","reason":"FlannelIsUp"}]"#))
        #expect(st[path: ["metadata", "uid"]] == n[path: ["metadata", "uid"]])

        let stale = status { _ = try store.patch(nodes, namespace: nil, name: "node1", ["metadata": ["resourceVersion": .string(String(rv(n))), "labels": ["a": "b"]]], type: .merge) }
        #expect(stale?.code == 409)
        #expect(stale?.reason == "Conflict")
        #expect(status { _ = try store.patch(nodes, namespace: nil, name: "nope", ["metadata": [:]], type: .merge) }?.message == "nodes \"nope\" not found")
        #expect(status { _ = try store.patch(nodes, namespace: nil, name: "node1", ["metadata": ["name": "other"]], type: .merge) }?.code == 400)
        #expect(status { _ = try store.patch(nodes, namespace: nil, name: "node1", ["metadata": ["labels": ["-bad": "x"]]], type: .merge) }?.code == 422)
        #expect(status { _ = try store.patch(nodes, namespace: nil, name: "node1", "just a string", type: .merge) }?.code == 400)
    }
}

import Foundation
