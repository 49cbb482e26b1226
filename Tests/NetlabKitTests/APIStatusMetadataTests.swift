import Foundation
import Testing
@testable import NetlabKit

/// A status write keeps the spec but takes the request's labels and annotations, as the API
/// server's status strategies do: flanneld annotates its Node with a PATCH of nodes/status.
@Suite struct APIStatusMetadataTests {
    func js(_ s: String) -> JSONValue { try! JSONValue.decode(Data(s.utf8)) }

    @Test func flanneldsStatusPatchSetsTheNodesAnnotationsButNotItsSpec() throws {
        let store = controllerStore()
        let nodes = APIResources.nodes
        _ = try store.create(nodes, namespace: nil, js(#"{"metadata":{"name":"node1","annotations":{"node.alpha.kubernetes.io/ttl":"0"}},"spec":{"podCIDR":"10.32.0.0/24"}}"#))
        let p = try store.patch(nodes, namespace: nil, name: "node1",
                                js(#"{"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-type":"vxlan"}},"spec":{"podCIDR":"10.99.0.0/24"},"status":{"conditions":[{"type":"NetworkUnavailable","status":"False"}]}}"#),
                                type: .strategic, subresource: "status")
        #expect(p[path: ["metadata", "annotations"]] == ["node.alpha.kubernetes.io/ttl": "0", "flannel.alpha.coreos.com/backend-type": "vxlan"])
        #expect(p[path: ["spec", "podCIDR"]] == "10.32.0.0/24")
        #expect(p[path: ["status", "conditions"]] == [["type": "NetworkUnavailable", "status": "False"]])
        #expect(try store.get(nodes, namespace: nil, name: "node1")[path: ["metadata", "annotations", "flannel.alpha.coreos.com/backend-type"]] == "vxlan")
    }
}
