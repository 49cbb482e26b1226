import Foundation
import NetlabAPIServer
import NetlabKit
import NetlabKubeClient
import Testing

/// netlab-proxy's agent-mode cache (ProxyWatch: a reflector per resource) against the real
/// NetlabAPIServer over loopback: what the API changes, the cache shows, through list and watch.
@Suite struct ProxyWatchTests {
    /// Polls `cond` until it holds or 30 s pass: convergence, not a timing assertion.
    func eventually(_ cond: () -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: 30)
        while Date() < deadline {
            if cond() { return true }
            usleep(20_000)
        }
        return cond()
    }

    static let service: JSONValue = try! JSONValue.decode(Data("""
    {"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default"},
     "spec":{"type":"NodePort","clusterIP":"10.36.0.20","clusterIPs":["10.36.0.20"],"selector":{"app":"web"},
             "ports":[{"name":"http","port":80,"targetPort":8080,"nodePort":30080,"protocol":"TCP"}]}}
    """.utf8))

    static func slice(ready: Bool) -> JSONValue {
        try! JSONValue.decode(Data("""
        {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-1","namespace":"default",
          "labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",
         "endpoints":[{"addresses":["10.32.0.9"],"conditions":{"ready":\(ready),"serving":\(ready),"terminating":false},"nodeName":"node1"}],
         "ports":[{"name":"http","port":8080,"protocol":"TCP"}]}
        """.utf8))
    }

    @Test func theCacheFollowsCreatedModifiedAndDeletedServicesAndSlices() throws {
        try withServer { server in
            let client = KubeClient(server: ServerAddress(host: "127.0.0.1", port: server.port), timeout: 10)
            // The Node exists before the agent starts; a headless Service never reaches the cache.
            _ = try client.create(ResourcePath.nodes.path(), try JSONValue.decode(Data(#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"node1"},"spec":{"podCIDR":"10.32.0.0/24"},"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.37"}]}}"#.utf8)))
            _ = try client.create(ResourcePath.services.path(namespace: "default"), try JSONValue.decode(Data(#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"headless","labels":{"service.kubernetes.io/headless":""}},"spec":{"clusterIP":"None","ports":[{"port":1}]}}"#.utf8)))
            let changes = ChangeCounter()
            let watch = ProxyWatch(client: client, nodeName: "node1", onChange: { changes.bump() })
            let stop = StopToken()
            defer { stop.stop() }
            watch.start(stop: stop)
            #expect(eventually { watch.hasSynced })
            var snap = watch.snapshot()
            #expect(snap.list.items.isEmpty)
            #expect(snap.node.map(NodeFacts.init) == NodeFacts(try JSONValue.decode(Data(#"{"spec":{"podCIDR":"10.32.0.0/24"},"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.37"}]}}"#.utf8))))

            // Created: seen by watch, decoded as the one-shot mode's List.
            _ = try client.create(ResourcePath.services.path(namespace: "default"), Self.service)
            let created = try client.create(ResourcePath.endpointSlices.path(namespace: "default"), Self.slice(ready: true))
            #expect(eventually { watch.snapshot().list.endpointSlices.count == 1 })
            snap = watch.snapshot()
            #expect(snap.list.services.map(\.metadata.name) == ["web"])
            #expect(snap.list.services.first?.spec.ports?.first?.nodePort == 30080)
            #expect(snap.list.endpointSlices.first?.endpoints.first?.conditions?.ready == true)
            #expect(snap.resourceVersions["endpointslices"] == created[path: ["metadata", "resourceVersion"]]?.stringValue)
            #expect(watch.reflectors.allSatisfy { $0.counts.lists == 1 })

            // Modified: a merge patch turns the endpoint not ready.
            let patched = try client.patch(ResourcePath.endpointSlices.path(namespace: "default", name: "web-1"),
                                           ["endpoints": [["addresses": ["10.32.0.9"], "conditions": ["ready": false, "serving": false, "terminating": false], "nodeName": "node1"]]],
                                           type: .merge)
            #expect(eventually { watch.snapshot().list.endpointSlices.first?.endpoints.first?.conditions?.ready == false })
            #expect(watch.snapshot().resourceVersions["endpointslices"] == patched[path: ["metadata", "resourceVersion"]]?.stringValue)

            // Deleted: both gone.
            try client.delete(ResourcePath.endpointSlices.path(namespace: "default", name: "web-1"))
            try client.delete(ResourcePath.services.path(namespace: "default", name: "web"))
            #expect(eventually { watch.snapshot().list.items.isEmpty })
            // Still the one list per resource: every change came by watch.
            #expect(watch.reflectors.allSatisfy { $0.counts.lists == 1 })
            #expect(changes.value >= 4)
        }
    }

    /// The client's writes and errors against the real server: Status reason and code come through.
    @Test func writesAndTheirStatusErrors() throws {
        try withServer { server in
            let client = KubeClient(server: ServerAddress(host: "127.0.0.1", port: server.port), timeout: 10)
            let path = ResourcePath.services.path(namespace: "default")
            _ = try client.create(path, Self.service)
            #expect { try client.create(path, Self.service) } throws: { e in
                let k = e as? KubeClientError
                return k?.code == 409 && k?.reason == "AlreadyExists"
            }
            #expect { try client.get(ResourcePath.services.path(namespace: "default", name: "nope")) } throws: { e in
                (e as? KubeClientError)?.code == 404 && (e as? KubeClientError)?.reason == "NotFound"
            }
            // Strategic merge on a Node's status merges conditions by type.
            _ = try client.create(ResourcePath.nodes.path(), ["apiVersion": "v1", "kind": "Node", "metadata": ["name": "n"]])
            let status = ResourcePath.nodes.path(name: "n", subresource: "status")
            _ = try client.patch(status, ["status": ["conditions": [["type": "Ready", "status": "True"]]]], type: .strategicMerge)
            let n = try client.patch(status, ["status": ["conditions": [["type": "NetworkUnavailable", "status": "False"]]]], type: .strategicMerge)
            #expect(n[path: ["status", "conditions"]]?.arrayValue?.count == 2)
            // Paged lists: three services in pages of two, and a watch from the list's version.
            for name in ["b", "c"] {
                var s = Self.service
                s[path: ["metadata", "name"]] = .string(name)
                s[path: ["spec", "clusterIP"]] = nil; s[path: ["spec", "clusterIPs"]] = nil
                s[path: ["spec", "ports"]] = [["port": 80]]
                s["spec"]?["type"] = nil
                _ = try client.create(path, s)
            }
            let p1 = try client.list(path, limit: 2)
            let token = try #require(p1.continueToken)
            let p2 = try client.list(path, limit: 2, continue: token)
            #expect(p1.items.count == 2 && p2.items.count == 1 && p2.continueToken == nil)
            var seen: [KubeWatchEvent] = []
            try client.watch(path, resourceVersion: "0", timeoutSeconds: 1) { e in seen.append(e); return seen.count < 3 }
            #expect(seen.map(\.type) == [.added, .added, .added])
        }
    }

    /// A watch from a version the server no longer keeps is a 410 the client reports as Gone
    /// (what makes a Reflector list again; ReflectorTests).
    @Test func aTooOldVersionIsGone() throws {
        try withServer(history: 2) { server in
            let client = KubeClient(server: ServerAddress(host: "127.0.0.1", port: server.port), timeout: 10)
            let path = ResourcePath.services.path(namespace: "default")
            for name in ["a", "b", "c", "d"] {
                _ = try client.create(path, ["apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name)], "spec": ["ports": [["port": 80]]]])
            }
            #expect { try client.watch(path, resourceVersion: "1", timeoutSeconds: 1) { _ in true } } throws: { ($0 as? KubeClientError)?.isGone == true }
        }
    }
}

final class ChangeCounter: @unchecked Sendable {
    let lock = NSLock()
    var n = 0
    func bump() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}
