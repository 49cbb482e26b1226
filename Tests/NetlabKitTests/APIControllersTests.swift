import Foundation
import Synchronization
import Testing
@testable import NetlabKit

/// A store with the lab's controllers on a small service CIDR and node port range, fixed clock and uids.
func controllerStore(cidr: String = "10.96.0.0/24", ports: ClosedRange<Int> = 30000...30099) -> APIStore {
    let counter = Mutex(0)
    return APIStore(.init(now: { Date(timeIntervalSince1970: 1_800_000_000) },
                          makeUID: { "uid-\(counter.withLock { $0 += 1; return $0 })" },
                          controllers: LabControllers(services: ServiceAllocator(serviceCIDR: IPv4Prefix(cidr)!, nodePortRange: ports))))
}

extension JSONValue {
    /// The value at a path of object keys and array indices.
    func at(_ steps: Any...) -> JSONValue? {
        var v: JSONValue? = self
        for step in steps {
            if let i = step as? Int { v = v?.arrayValue.flatMap { i < $0.count ? $0[i] : nil } } else { v = v?[step as! String] }
        }
        return v
    }
}

private func js(_ s: String) -> JSONValue { try! JSONValue.decode(Data(s.utf8)) }

private func svcJSON(_ name: String, type: String = "ClusterIP", clusterIP: String? = nil, nodePort: Int? = nil,
                     selector: [String: String]? = ["app": "web"], targetPort: JSONValue? = nil) -> JSONValue {
    var port: JSONValue = ["port": 80]
    if let nodePort { port["nodePort"] = .number(Double(nodePort)) }
    if let targetPort { port["targetPort"] = targetPort }
    var spec: JSONValue = ["type": .string(type), "ports": [port]]
    if let clusterIP { spec["clusterIP"] = .string(clusterIP) }
    if let selector { spec["selector"] = .object(selector.mapValues { .string($0) }) }
    return ["apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name)], "spec": spec]
}

private func podJSON(_ name: String, ip: String?, ready: Bool = true, labels: [String: String] = ["app": "web"],
                     node: String = "node1", containerPorts: JSONValue = [["containerPort": 8080, "name": "http"]]) -> JSONValue {
    var status: JSONValue = ["phase": "Running", "conditions": [["type": "Ready", "status": .string(ready ? "True" : "False")]]]
    if let ip { status["podIP"] = .string(ip); status["podIPs"] = [["ip": .string(ip)]] }
    return ["metadata": ["name": .string(name), "labels": .object(labels.mapValues { .string($0) })],
            "spec": ["nodeName": .string(node), "containers": [["name": "c", "image": "x", "ports": containerPorts]]],
            "status": status]
}

private func slices(_ store: APIStore, _ ns: String = "default") throws -> [JSONValue] {
    try store.list(APIResources.endpointSlices, namespace: ns)["items"]?.arrayValue ?? []
}

@Suite struct ServiceAllocationTests {
    let svc = APIResources.services

    @Test func createAllocatesFromTheUpperBandAndSetsUpstreamsDefaults() throws {
        let store = controllerStore()
        let a = try store.create(svc, namespace: "default", svcJSON("a", type: "NodePort"))
        // /24: 254 usable, the lower 16 kept for static requests; 100 ports, the lower 16 kept.
        #expect(a[path: ["spec", "clusterIP"]] == "10.96.0.17")
        #expect(a[path: ["spec", "clusterIPs"]] == ["10.96.0.17"])
        #expect(a[path: ["spec", "ports"]] == [["port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30016]])
        #expect(a[path: ["spec", "ipFamilies"]] == ["IPv4"])
        #expect(a[path: ["spec", "ipFamilyPolicy"]] == "SingleStack")
        #expect(a[path: ["spec", "sessionAffinity"]] == "None")
        #expect(a[path: ["spec", "internalTrafficPolicy"]] == "Cluster")
        #expect(a[path: ["spec", "externalTrafficPolicy"]] == "Cluster")
        let b = try store.create(svc, namespace: "default", svcJSON("b"))
        #expect(b[path: ["spec", "clusterIP"]] == "10.96.0.18")
        #expect(b[path: ["spec", "type"]] == "ClusterIP")
        #expect(b[path: ["spec", "externalTrafficPolicy"]] == nil)
        #expect(b.at("spec", "ports", 0, "nodePort") == nil)
    }

    @Test func headlessAndExternalNameGetNoAddress() throws {
        let store = controllerStore()
        let h = try store.create(svc, namespace: "default", svcJSON("h", clusterIP: "None"))
        #expect(h[path: ["spec", "clusterIPs"]] == ["None"])
        #expect(h[path: ["spec", "ipFamilies"]] == ["IPv4"])
        #expect(h[path: ["spec", "ipFamilyPolicy"]] == "SingleStack")
        // Headless without a selector: upstream's special case lists both families.
        let hs = try store.create(svc, namespace: "default", svcJSON("hs", clusterIP: "None", selector: nil))
        #expect(hs[path: ["spec", "ipFamilyPolicy"]] == "RequireDualStack")
        #expect(hs[path: ["spec", "ipFamilies"]] == ["IPv4", "IPv6"])
        let e = try store.create(svc, namespace: "default",
                                 ["metadata": ["name": "e"], "spec": ["type": "ExternalName", "externalName": "example.com"]])
        #expect(e[path: ["spec", "clusterIP"]] == nil)
        #expect(e[path: ["spec", "ipFamilies"]] == nil)
        #expect(e[path: ["spec", "internalTrafficPolicy"]] == nil)
        // None of them took an address: the next dynamic one is still the first.
        #expect(try store.create(svc, namespace: "default", svcJSON("n"))[path: ["spec", "clusterIP"]] == "10.96.0.17")
    }

    @Test func aRequestedClusterIPMustBeFreeAndInRange() throws {
        let store = controllerStore()
        _ = try store.create(svc, namespace: "default", svcJSON("dns", clusterIP: "10.96.0.10"))
        let taken = status { _ = try store.create(svc, namespace: "default", svcJSON("b", clusterIP: "10.96.0.10")) }
        #expect(taken?.code == 422)
        #expect(taken?.reason == "Invalid")
        #expect(taken?.message == #"Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP is already allocated"#)
        #expect(taken?.causes.map(\.field) == ["spec.clusterIPs"])
        let outside = status { _ = try store.create(svc, namespace: "default", svcJSON("c", clusterIP: "10.97.0.1")) }
        #expect(outside?.message == #"Service "c" is invalid: spec.clusterIPs: Invalid value: []string{"10.97.0.1"}: failed to allocate IP 10.97.0.1: the provided IP (10.97.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/24"#)
        let broadcast = status { _ = try store.create(svc, namespace: "default", svcJSON("d", clusterIP: "10.96.0.255")) }
        #expect(broadcast?.code == 422)
        #expect(status { _ = try store.create(svc, namespace: "default", svcJSON("v6", clusterIP: "fd00::10")) }?.message
                == #"Service "v6" is invalid: spec.clusterIPs[0]: Invalid value: []string{"fd00::10"}: IPv6 is not configured on this cluster"#)
        #expect(status { _ = try store.create(svc, namespace: "default", ["metadata": ["name": "np"], "spec": [:]]) }?.message
                == #"Service "np" is invalid: spec.ports: Required value"#)
        #expect(status { _ = try store.create(svc, namespace: "default", svcJSON("t", type: "Bogus")) }?.message
                == #"Service "t" is invalid: spec.type: Unsupported value: "Bogus": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort""#)
        // A refused create stores nothing.
        #expect(try store.list(svc, namespace: "default")["items"]?.arrayValue?.count == 1)
    }

    @Test func aRequestedNodePortMustBeFreeAndInRange() throws {
        let store = controllerStore()
        _ = try store.create(svc, namespace: "default", svcJSON("a", type: "NodePort", nodePort: 30080))
        let taken = status { _ = try store.create(svc, namespace: "default", svcJSON("b", type: "NodePort", nodePort: 30080)) }
        #expect(taken?.code == 422)
        #expect(taken?.message == #"Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"#)
        let outside = status { _ = try store.create(svc, namespace: "default", svcJSON("c", type: "NodePort", nodePort: 29999)) }
        #expect(outside?.message == #"Service "c" is invalid: spec.ports[0].nodePort: Invalid value: 29999: provided port is not in the valid range. The range of valid ports is 30000-30099"#)
        let forbidden = status { _ = try store.create(svc, namespace: "default", svcJSON("d", nodePort: 30001)) }
        #expect(forbidden?.message == #"Service "d" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"#)
        // Failed creates took nothing: b's address was not kept.
        #expect(try store.create(svc, namespace: "default", svcJSON("e"))[path: ["spec", "clusterIP"]] == "10.96.0.18")
    }

    @Test func seededAllocationsAreReservedAndSkippedByDynamicOnes() throws {
        let store = controllerStore()
        // What the seed creates: services that carry their clusterIP and nodePort, in the dynamic band too.
        _ = try store.create(svc, namespace: "default", svcJSON("seeded", type: "NodePort", clusterIP: "10.96.0.17", nodePort: 30016))
        let next = try store.create(svc, namespace: "default", svcJSON("new", type: "NodePort"))
        #expect(next[path: ["spec", "clusterIP"]] == "10.96.0.18")
        #expect(next.at("spec", "ports", 0, "nodePort") == 30017)
    }

    @Test func deletedAndChangedServicesReleaseWhatTheyHeld() throws {
        let store = controllerStore()
        _ = try store.create(svc, namespace: "default", svcJSON("a", type: "NodePort", clusterIP: "10.96.0.50", nodePort: 30050))
        _ = try store.delete(svc, namespace: "default", name: "a")
        let b = try store.create(svc, namespace: "default", svcJSON("b", type: "NodePort", clusterIP: "10.96.0.50", nodePort: 30050))
        #expect(b.at("spec", "ports", 0, "nodePort") == 30050)
        // NodePort -> ClusterIP gives the nodePort back (dropped from the stored ports)...
        let toClusterIP = try store.patch(svc, namespace: "default", name: "b", ["spec": ["type": "ClusterIP"]], type: .merge)
        #expect(toClusterIP.at("spec", "ports", 0, "nodePort") == nil)
        #expect(toClusterIP[path: ["spec", "externalTrafficPolicy"]] == nil)
        #expect(toClusterIP[path: ["spec", "clusterIP"]] == "10.96.0.50")
        _ = try store.create(svc, namespace: "default", svcJSON("c", type: "NodePort", nodePort: 30050))
        // ...and a port removed from a service gives its nodePort back.
        var two = try store.get(svc, namespace: "default", name: "c")
        two[path: ["spec", "ports"]] = [["name": "a", "port": 80, "nodePort": 30050], ["name": "b", "port": 81, "nodePort": 30051]]
        _ = try store.update(svc, namespace: "default", name: "c", two)
        #expect(status { _ = try store.create(svc, namespace: "default", svcJSON("d", type: "NodePort", nodePort: 30051)) }?.code == 422)
        _ = try store.patch(svc, namespace: "default", name: "c", ["spec": ["ports": [["name": "a", "port": 80, "nodePort": 30050]]]], type: .merge)
        #expect(try store.create(svc, namespace: "default", svcJSON("d", type: "NodePort", nodePort: 30051)).at("spec", "ports", 0, "nodePort") == 30051)
    }

    @Test func updatesKeepAllocationsAndTheClusterIPIsImmutable() throws {
        let store = controllerStore()
        let a = try store.create(svc, namespace: "default", svcJSON("a", type: "NodePort"))
        // kubectl apply of the original file (no clusterIP, no nodePort) with a new label keeps them.
        var again = svcJSON("a", type: "NodePort")
        again[path: ["metadata", "labels"]] = ["tier": "web"]
        let applied = try store.update(svc, namespace: "default", name: "a", again)
        #expect(applied[path: ["spec", "clusterIP"]] == a[path: ["spec", "clusterIP"]])
        #expect(applied[path: ["spec", "clusterIPs"]] == a[path: ["spec", "clusterIPs"]])
        #expect(applied.at("spec", "ports", 0, "nodePort") == a.at("spec", "ports", 0, "nodePort"))
        #expect(rv(applied) > rv(a))
        // The same body again changes nothing: no write.
        #expect(try store.update(svc, namespace: "default", name: "a", again) == applied)
        let moved = status { _ = try store.patch(svc, namespace: "default", name: "a", ["spec": ["clusterIP": "10.96.0.99"]], type: .merge) }
        #expect(moved?.code == 422)
        #expect(moved?.message == #"Service "a" is invalid: [spec.clusterIP: Invalid value: "10.96.0.99": field is immutable, spec.clusterIPs[0]: Invalid value: []string{"10.96.0.99"}: may not change once set]"#)
        #expect(try store.get(svc, namespace: "default", name: "a") == applied)
    }
}

@Suite struct EndpointSliceControllerTests {
    let svc = APIResources.services, pods = APIResources.pods, es = APIResources.endpointSlices

    @Test func aServiceWithASelectorGetsItsSliceFromReadyPods() throws {
        let store = controllerStore()
        _ = try store.create(pods, namespace: "default", podJSON("web-1", ip: "10.32.0.7"))
        _ = try store.create(pods, namespace: "default", podJSON("web-2", ip: "10.32.1.3", node: "node2"))
        _ = try store.create(pods, namespace: "default", podJSON("pending", ip: nil))
        _ = try store.create(pods, namespace: "default", podJSON("other", ip: "10.32.0.9", labels: ["app": "db"]))
        let s = try store.create(svc, namespace: "default", svcJSON("web", targetPort: "http"))
        let all = try slices(store)
        #expect(all.count == 1)
        let slice = try #require(all.first)
        #expect(slice[path: ["metadata", "name"]] == .string(EndpointSlices.sliceName(namespace: "default", service: "web")))
        #expect(slice[path: ["metadata", "labels"]] == ["kubernetes.io/service-name": "web",
                                                         "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"])
        #expect(slice[path: ["metadata", "ownerReferences"]] == [["apiVersion": "v1", "kind": "Service", "name": "web",
                                                                  "uid": s[path: ["metadata", "uid"]]!, "controller": true, "blockOwnerDeletion": true]])
        #expect(slice["addressType"] == "IPv4")
        // The named targetPort resolves to the pods' containerPort "http".
        #expect(slice["ports"] == [["name": "", "port": 8080, "protocol": "TCP"]])
        let web1 = try store.get(pods, namespace: "default", name: "web-1")
        #expect(slice["endpoints"] == [
            ["addresses": ["10.32.0.7"], "conditions": ["ready": true, "serving": true, "terminating": false], "nodeName": "node1",
             "targetRef": ["kind": "Pod", "namespace": "default", "name": "web-1", "uid": web1[path: ["metadata", "uid"]]!]],
            ["addresses": ["10.32.1.3"], "conditions": ["ready": true, "serving": true, "terminating": false], "nodeName": "node2",
             "targetRef": ["kind": "Pod", "namespace": "default", "name": "web-2",
                           "uid": try store.get(pods, namespace: "default", name: "web-2")[path: ["metadata", "uid"]]!]],
        ])
        #expect(slice[path: ["metadata", "generation"]] == 1)
        #expect(rv(slice) == rv(s) + 1)
    }

    @Test func aPodTurningUnreadyIsOneModifiedEventAndAnIrrelevantChangeIsNone() throws {
        let store = controllerStore()
        _ = try store.create(pods, namespace: "default", podJSON("web-1", ip: "10.32.0.7"))
        _ = try store.create(svc, namespace: "default", svcJSON("web", targetPort: 8080))
        let w = try store.watch(es, namespace: "default", options: ListOptions(resourceVersion: String(store.resourceVersion)))
        #expect(w.poll().isEmpty)
        // A kubelet-style status patch: conditions merge by type.
        let before = store.resourceVersion
        _ = try store.patch(pods, namespace: "default", name: "web-1",
                            js(#"{"status":{"conditions":[{"type":"Ready","status":"False"}]}}"#), type: .strategic, subresource: "status")
        let events = w.poll()
        #expect(events.map(\.type) == [.modified])
        #expect(events.first?.object.at("endpoints", 0, "conditions") == ["ready": false, "serving": false, "terminating": false])
        #expect(events.first?.object[path: ["metadata", "generation"]] == 2)
        #expect(store.resourceVersion == before + 2)
        // An annotation on the pod, or the same status again: no slice write.
        _ = try store.patch(pods, namespace: "default", name: "web-1", ["metadata": ["annotations": ["a": "b"]]], type: .merge)
        _ = try store.patch(pods, namespace: "default", name: "web-1",
                            js(#"{"status":{"conditions":[{"type":"Ready","status":"False"}]}}"#), type: .strategic, subresource: "status")
        #expect(w.poll().isEmpty)
        // Ready again.
        _ = try store.patch(pods, namespace: "default", name: "web-1",
                            js(#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#), type: .strategic, subresource: "status")
        #expect(w.poll().map { $0.object.at("endpoints", 0, "conditions", "ready") } == [true])
    }

    @Test func podsComingGoingAndRelabelledChangeTheEndpoints() throws {
        let store = controllerStore()
        _ = try store.create(svc, namespace: "default", svcJSON("web"))
        #expect(try slices(store).first?["endpoints"] == [])
        // Created without an IP, then the CNI result arrives by a status update.
        _ = try store.create(pods, namespace: "default", podJSON("web-1", ip: nil))
        #expect(try slices(store).first?["endpoints"] == [])
        _ = try store.patch(pods, namespace: "default", name: "web-1", ["status": ["podIP": "10.32.0.7"]], type: .merge, subresource: "status")
        #expect(try slices(store).first?.at("endpoints", 0, "addresses") == ["10.32.0.7"])
        _ = try store.patch(pods, namespace: "default", name: "web-1", ["metadata": ["labels": ["app": "other"]]], type: .merge)
        #expect(try slices(store).first?["endpoints"] == [])
        _ = try store.patch(pods, namespace: "default", name: "web-1", ["metadata": ["labels": ["app": "web"]]], type: .merge)
        #expect(try slices(store).first?["endpoints"]?.arrayValue?.count == 1)
        _ = try store.delete(pods, namespace: "default", name: "web-1")
        #expect(try slices(store).first?["endpoints"] == [])
        // Another namespace's pods are not the service's.
        _ = try store.create(APIResources.namespaces, namespace: nil, ["metadata": ["name": "team"]])
        _ = try store.create(pods, namespace: "team", podJSON("web-9", ip: "10.32.0.99"))
        #expect(try slices(store).first?["endpoints"] == [])
    }

    @Test func deletingTheServiceCollectsItsSlices() throws {
        let store = controllerStore()
        _ = try store.create(pods, namespace: "default", podJSON("web-1", ip: "10.32.0.7"))
        _ = try store.create(svc, namespace: "default", svcJSON("web"))
        let w = try store.watch(es, namespace: nil, options: ListOptions(resourceVersion: String(store.resourceVersion)))
        let gone = try store.delete(svc, namespace: "default", name: "web")
        let events = w.poll()
        #expect(events.map(\.type) == [.deleted])
        #expect(rv(events[0].object) == rv(gone) + 1)
        #expect(try slices(store).isEmpty)
        // Changing the selector away from every pod keeps one empty slice, as upstream.
        _ = try store.create(svc, namespace: "default", svcJSON("web2"))
        _ = try store.patch(svc, namespace: "default", name: "web2", ["spec": ["selector": ["app": "none"]]], type: .merge)
        #expect(try slices(store).map { $0["endpoints"] } == [[]])
    }

    @Test func servicesWithoutASelectorKeepTheUsersSlices() throws {
        let store = controllerStore()
        _ = try store.create(pods, namespace: "default", podJSON("web-1", ip: "10.32.0.7"))
        let s = try store.create(svc, namespace: "default", svcJSON("ext", selector: nil))
        #expect(try slices(store).isEmpty)
        let mine = try store.create(es, namespace: "default", [
            "metadata": ["name": "ext-1", "labels": ["kubernetes.io/service-name": "ext"],
                         "ownerReferences": [["apiVersion": "v1", "kind": "Service", "name": "ext", "uid": s[path: ["metadata", "uid"]]!]]],
            "addressType": "IPv4", "endpoints": [["addresses": ["192.0.2.1"]]]])
        _ = try store.patch(pods, namespace: "default", name: "web-1", ["metadata": ["labels": ["x": "y"]]], type: .merge)
        _ = try store.patch(svc, namespace: "default", name: "ext", ["metadata": ["labels": ["x": "y"]]], type: .merge)
        #expect(try slices(store) == [APIStore.withoutTypeMeta(mine)])
        // The owner's deletion still collects it (the garbage collector follows ownerReferences, whoever wrote them).
        _ = try store.delete(svc, namespace: "default", name: "ext")
        #expect(try slices(store).isEmpty)
    }

    @Test func aGenericStoreRunsNoControllers() throws {
        let store = testStore()
        _ = try store.create(pods, namespace: "default", podJSON("web-1", ip: "10.32.0.7"))
        let s = try store.create(svc, namespace: "default", svcJSON("web"))
        #expect(s[path: ["spec", "clusterIP"]] == nil)
        #expect(try slices(store).isEmpty)
    }

    /// The one-shot proxy contract's slices and the controller's are one rule: the same topology
    /// seeded as objects gives the same slice (name, labels, endpoints, ports), uids aside.
    @Test func theControllerAndServiceStateDeriveTheSameSlice() throws {
        let t = ProxyFixtures.topology(pods: [ProxyFixtures.pod1, ProxyFixtures.webpod1, ProxyFixtures.webpod2])
        let oneShot = ServiceState.list(topology: t, podIPs: ProxyFixtures.defaultIPs, readyPods: ["webpod1"])
        let store = controllerStore(cidr: "10.36.0.0/20")
        for pod in t.pods {
            _ = try store.create(pods, namespace: pod.namespace,
                                 podJSON(pod.name, ip: ProxyFixtures.defaultIPs[pod.name]?.description, ready: pod.name == "webpod1",
                                         labels: pod.labels, node: pod.node, containerPorts: []))
        }
        for case .service(let s) in oneShot.items {
            var o = try JSONValue.decode(JSONEncoder().encode(s))
            o[path: ["metadata", "uid"]] = nil
            _ = try store.create(svc, namespace: s.namespace, o)
        }
        func comparable(_ slice: JSONValue) -> JSONValue {
            var o = slice
            for k in ["uid", "resourceVersion", "creationTimestamp", "generation"] { o[path: ["metadata", k]] = nil }
            o[path: ["metadata", "ownerReferences"]] = .array((o[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).map { r in
                var r = r
                r["uid"] = nil
                return r
            })
            o["kind"] = nil; o["apiVersion"] = nil
            if var eps = o["endpoints"]?.arrayValue {
                for i in eps.indices { eps[i][path: ["targetRef", "uid"]] = nil }
                o["endpoints"] = .array(eps)
            }
            return o
        }
        let expected = try oneShot.endpointSlices.map { comparable(try JSONValue.decode(JSONEncoder().encode($0))) }
        #expect(expected.count == 1)
        #expect(try slices(store).map(comparable) == expected)
    }
}

@Suite struct NodePatchTests {
    let nodes = APIResources.nodes

    @Test func kubeletStyleStatusPatchesMergeConditionsAndAddressesByType() throws {
        let store = controllerStore()
        _ = try store.create(nodes, namespace: nil, js(#"{"metadata":{"name":"node1"},"spec":{"podCIDR":"10.32.0.0/24","podCIDRs":["10.32.0.0/24"]},"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"MemoryPressure","status":"False"}],"addresses":[{"type":"InternalIP","address":"10.0.0.37"},{"type":"Hostname","address":"node1"}]}}"#))
        let patched = try store.patch(nodes, namespace: nil, name: "node1", js(#"""
            {"status":{"$setElementOrder/conditions":[{"type":"MemoryPressure"},{"type":"Ready"},{"type":"NetworkUnavailable"}],
             "conditions":[{"type":"Ready","status":"False","reason":"KubeletNotReady"},{"type":"NetworkUnavailable","status":"False","reason":"FlannelIsUp"}],
             "$setElementOrder/addresses":[{"type":"InternalIP"},{"type":"Hostname"},{"type":"ExternalIP"}],
             "addresses":[{"type":"ExternalIP","address":"34.47.122.177"}]}}
            """#), type: .strategic, subresource: "status")
        #expect(patched[path: ["status", "conditions"]] == js(#"[{"type":"MemoryPressure","status":"False"},{"type":"Ready","status":"False","reason":"KubeletNotReady"},{"type":"NetworkUnavailable","status":"False","reason":"FlannelIsUp"}]"#))
        #expect(patched[path: ["status", "addresses"]] == js(#"[{"type":"InternalIP","address":"10.0.0.37"},{"type":"Hostname","address":"node1"},{"type":"ExternalIP","address":"34.47.122.177"}]"#))
        // A JSON merge patch replaces the list whole (RFC 7386 knows no merge keys).
        let merged = try store.patch(nodes, namespace: nil, name: "node1",
                                     js(#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#), type: .merge, subresource: "status")
        #expect(merged[path: ["status", "conditions"]] == js(#"[{"type":"Ready","status":"True"}]"#))
        // podCIDRs and finalizers are upstream's merged primitive lists: a strategic patch adds to them.
        let cidrs = try store.patch(nodes, namespace: nil, name: "node1", js(#"{"metadata":{"finalizers":["a/b"]},"spec":{"podCIDRs":["fd00:32::/64"]}}"#), type: .strategic)
        #expect(cidrs[path: ["spec", "podCIDRs"]] == ["10.32.0.0/24", "fd00:32::/64"])
        #expect(cidrs[path: ["metadata", "finalizers"]] == ["a/b"])
        let again = try store.patch(nodes, namespace: nil, name: "node1", js(#"{"spec":{"podCIDRs":["10.32.0.0/24"]}}"#), type: .strategic)
        #expect(again == cidrs)
    }

    @Test func flanneldsAnnotationMergePatchKeepsTheOtherAnnotations() throws {
        let store = controllerStore()
        _ = try store.create(nodes, namespace: nil, js(#"{"metadata":{"name":"node1","annotations":{"node.alpha.kubernetes.io/ttl":"0"}}}"#))
        let p = try store.patch(nodes, namespace: nil, name: "node1", js(#"{"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-type":"vxlan","flannel.alpha.coreos.com/public-ip":"10.0.0.37"}}}"#), type: .merge)
        #expect(p[path: ["metadata", "annotations"]] == ["node.alpha.kubernetes.io/ttl": "0", "flannel.alpha.coreos.com/backend-type": "vxlan",
                                                          "flannel.alpha.coreos.com/public-ip": "10.0.0.37"])
    }
}

@Suite struct EndpointSliceJSONTests {
    /// The store's JSON of a slice is what its Codable form encodes (built directly for speed, so checked here).
    @Test func theDirectJSONIsTheCodableJSON() throws {
        let info = EndpointSlices.ServiceInfo(namespace: "default", name: "web", uid: "u1", labels: ["tier": "a"], selector: ["app": "web"],
                                              ports: [.init(name: "http", port: 80, targetPort: .string("http"), proto: "TCP"),
                                                      .init(name: nil, port: 53, targetPort: .int(53), proto: "UDP")])
        let pods = [EndpointSlices.PodInfo(namespace: "default", name: "p", uid: "pu", labels: ["app": "web"], ip: IPv4Address("10.0.0.2"),
                                           nodeName: nil, ready: false, terminating: true,
                                           containerPorts: [.init(name: "http", port: 8080, proto: "TCP")])]
        for slice in EndpointSlices.slices(for: info, pods: pods, sliceUID: { _, _ in "s1" }) + EndpointSlices.slices(for: info, pods: []) {
            #expect(APIStore.json(slice) == (try JSONValue.decode(JSONEncoder().encode(slice))))
        }
    }
}
