import Foundation
import NetlabKit

/// The objects the server starts with: a v1 `List` (`{"kind": "List", "items": [...]}`), each item
/// created in order through the store as a client's POST would be (so it gets a uid and a
/// resourceVersion, its Service its allocations checked and reserved, and a bad one fails the start
/// with its reason). When the store runs the lab's controllers, the EndpointSlices the seed gives
/// as theirs (`endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`) are left
/// out: the controller derives the same slices, under the same names, from the seeded Services and
/// Pods (`ServiceState` and the controller share the rule), so they are not made twice.
public enum APISeed {
    /// A seed the server cannot start with: the caller's file is wrong.
    public struct Failure: NetlabError, CustomStringConvertible {
        public let description: String
        public var exitCategory: ExitCategory { .usage }
    }

    public static func load(_ data: Data, into store: APIStore, source: String) throws(Failure) {
        let list: JSONValue
        do { list = try JSONValue.decode(data) } catch { throw Failure(description: "\(source) is not JSON: \(error.localizedDescription)") }
        guard let items = list["items"]?.arrayValue else {
            throw Failure(description: "\(source) is not a v1 List: it needs an \"items\" array of objects")
        }
        for (i, item) in items.enumerated() {
            let apiVersion = item["apiVersion"]?.stringValue ?? "", kind = item["kind"]?.stringValue ?? ""
            let name = item[path: ["metadata", "name"]]?.stringValue ?? ""
            guard let r = APIResources.all.first(where: { $0.groupVersion == apiVersion && $0.kind == kind }) else {
                throw Failure(description: "\(source): item \(i) (\(name)) has apiVersion \"\(apiVersion)\" and kind \"\(kind)\", which the lab's API does not serve")
            }
            if store.configuration.controllers != nil, r == APIResources.endpointSlices,
               item[path: ["metadata", "labels", EndpointSlices.managedByLabel]]?.stringValue == EndpointSlices.controllerName {
                continue
            }
            let ns = r.namespaced ? (item[path: ["metadata", "namespace"]]?.stringValue ?? "default") : nil
            do { _ = try store.create(r, namespace: ns, item) } catch {
                throw Failure(description: "\(source): item \(i), \(r.qualifiedName) \"\(name)\", was refused: \(error)")
            }
        }
    }
}
