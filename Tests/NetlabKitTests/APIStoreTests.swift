import Foundation
import Synchronization
import Testing
@testable import NetlabKit

/// A store whose clock and uids are fixed, so objects compare whole.
func testStore(historyLimit: Int = 1000, watcherCapacity: Int = 100_000) -> APIStore {
    let counter = Mutex(0)
    return APIStore(.init(historyLimit: historyLimit, watcherCapacity: watcherCapacity,
                          now: { Date(timeIntervalSince1970: 1_800_000_000) },
                          makeUID: { "uid-\(counter.withLock { $0 += 1; return $0 })" }))
}

func service(_ name: String, labels: [String: String] = [:], clusterIP: String = "10.96.0.10") -> JSONValue {
    ["apiVersion": "v1", "kind": "Service",
     "metadata": ["name": .string(name), "labels": .object(labels.mapValues { .string($0) })],
     "spec": ["clusterIP": .string(clusterIP), "ports": [["port": 80, "protocol": "TCP"]]]]
}

func status(_ body: () throws -> Void) -> APIStatus? {
    do { try body(); return nil } catch let s as APIStatus { return s } catch { return nil }
}

func rv(_ o: JSONValue) -> Int64 { Int64(o[path: ["metadata", "resourceVersion"]]?.stringValue ?? "") ?? -1 }

@Suite struct APIStoreTests {
    let svc = APIResources.services

    @Test func createStampsUIDTimestampAndAStrictlyIncreasingResourceVersion() throws {
        let store = testStore()
        let start = store.resourceVersion
        let a = try store.create(svc, namespace: "default", service("a"))
        let b = try store.create(svc, namespace: "default", service("b"))
        #expect(rv(a) == start + 1)
        #expect(rv(b) == start + 2)
        #expect(a[path: ["metadata", "uid"]] != b[path: ["metadata", "uid"]])
        #expect(a[path: ["metadata", "creationTimestamp"]] == "2027-01-15T08:00:00Z")
        #expect(a[path: ["metadata", "namespace"]] == "default")
        #expect(a[path: ["metadata", "generation"]] == nil)
        let slice = try store.create(APIResources.endpointSlices, namespace: "default",
                                     ["metadata": ["name": "a-x"], "addressType": "IPv4", "endpoints": []])
        #expect(slice[path: ["metadata", "generation"]] == 1)
        #expect(slice["apiVersion"] == "discovery.k8s.io/v1")
        #expect(slice["kind"] == "EndpointSlice")
        #expect(try store.get(svc, namespace: "default", name: "a") == a)
        #expect(store.resourceVersion == rv(slice))
    }

    @Test func systemNamespacesExistAndMayNotBeDeleted() throws {
        let store = testStore()
        let names = try store.list(APIResources.namespaces, namespace: nil)["items"]?.arrayValue?.compactMap { $0[path: ["metadata", "name"]]?.stringValue }
        #expect(names == ["default", "kube-node-lease", "kube-public", "kube-system"])
        #expect(try store.get(APIResources.namespaces, namespace: nil, name: "default")[path: ["status", "phase"]] == "Active")
        let s = status { _ = try store.delete(APIResources.namespaces, namespace: nil, name: "default") }
        #expect(s?.code == 403)
        #expect(s?.message == "namespaces \"default\" is forbidden: this namespace may not be deleted")
    }

    @Test func errorsAreStatusObjectsWithUpstreamsReasonCodeAndMessage() throws {
        let store = testStore()
        let notFound = status { _ = try store.get(svc, namespace: "default", name: "x") }
        #expect(notFound?.json == ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
                                   "message": "services \"x\" not found", "reason": "NotFound", "code": 404,
                                   "details": ["name": "x", "kind": "services"]])
        let sliceNotFound = status { _ = try store.get(APIResources.endpointSlices, namespace: "default", name: "x") }
        #expect(sliceNotFound?.message == "endpointslices.discovery.k8s.io \"x\" not found")
        #expect(sliceNotFound?.json[path: ["details", "group"]] == "discovery.k8s.io")

        _ = try store.create(svc, namespace: "default", service("a"))
        let exists = status { _ = try store.create(svc, namespace: "default", service("a")) }
        #expect(exists?.code == 409)
        #expect(exists?.reason == "AlreadyExists")
        #expect(exists?.message == "services \"a\" already exists")

        let noNamespace = status { _ = try store.create(svc, namespace: "nope", service("a")) }
        #expect(noNamespace?.code == 404)
        #expect(noNamespace?.message == "namespaces \"nope\" not found")

        let badName = status { _ = try store.create(svc, namespace: "default", service("1abc")) }
        #expect(badName?.code == 422)
        #expect(badName?.reason == "Invalid")
        #expect(badName?.message == "Service \"1abc\" is invalid: metadata.name: Invalid value: \"1abc\": " + APIValidation.label1035Message)
        #expect(badName?.causes.first?.field == "metadata.name")

        let noName = status { _ = try store.create(APIResources.pods, namespace: "default", ["metadata": [:]]) }
        #expect(noName?.message == "Pod \"\" is invalid: metadata.name: Required value: name or generateName is required")

        let badLabel = status { _ = try store.create(svc, namespace: "default", service("b", labels: ["app": "-x"])) }
        #expect(badLabel?.code == 422)

        let wrongVersion = status { var s = service("c"); s["apiVersion"] = "v2"; _ = try store.create(svc, namespace: "default", s) }
        #expect(wrongVersion?.code == 400)
        #expect(wrongVersion?.message == "the API version in the data (v2) does not match the expected API version (v1)")

        let wrongNamespace = status {
            var s = service("c"); s[path: ["metadata", "namespace"]] = "kube-system"
            _ = try store.create(svc, namespace: "default", s)
        }
        #expect(wrongNamespace?.code == 400)
        #expect(wrongNamespace?.message == "the namespace of the provided object does not match the namespace sent on the request")

        let withRV = status { var s = service("c"); s[path: ["metadata", "resourceVersion"]] = "5"; _ = try store.create(svc, namespace: "default", s) }
        #expect(withRV?.code == 400)
        #expect(status { _ = try store.update(svc, namespace: "default", name: "zz", service("zz")) }?.code == 404)
        #expect(status { _ = try store.update(svc, namespace: "default", name: "a", service("b")) }?.message
                == "the name of the object (b) does not match the name on the URL (a)")
        #expect(status { _ = try store.update(APIResources.leases, namespace: "default", name: "a", [:], subresource: "status") }?.code == 404)
    }

    @Test func generateNameMakesAUniqueName() throws {
        let store = testStore()
        let o = try store.create(APIResources.pods, namespace: "default", ["metadata": ["generateName": "web-"]])
        let name = try #require(o[path: ["metadata", "name"]]?.stringValue)
        #expect(name.hasPrefix("web-") && name.count == 9)
    }

    @Test func updateWithAStaleResourceVersionIsAConflict() throws {
        let store = testStore()
        let a = try store.create(svc, namespace: "default", service("a"))
        var changed = a
        changed[path: ["spec", "clusterIP"]] = "10.96.0.11"
        let b = try store.update(svc, namespace: "default", name: "a", changed)
        #expect(rv(b) > rv(a))
        #expect(b[path: ["spec", "clusterIP"]] == "10.96.0.11")
        #expect(b[path: ["metadata", "uid"]] == a[path: ["metadata", "uid"]])

        changed[path: ["spec", "clusterIP"]] = "10.96.0.12"   // still carries a's resourceVersion
        let conflict = status { _ = try store.update(svc, namespace: "default", name: "a", changed) }
        #expect(conflict?.code == 409)
        #expect(conflict?.reason == "Conflict")
        #expect(conflict?.message == "Operation cannot be fulfilled on services \"a\": the object has been modified; please apply your changes to the latest version and try again")

        changed[path: ["metadata", "resourceVersion"]] = nil    // unconditional
        #expect(try store.update(svc, namespace: "default", name: "a", changed)[path: ["spec", "clusterIP"]] == "10.96.0.12")
    }

    @Test func anUpdateThatChangesNothingIsNoWrite() throws {
        let store = testStore()
        let a = try store.create(svc, namespace: "default", service("a"))
        let w = try store.watch(svc, namespace: nil, options: ListOptions(resourceVersion: String(rv(a))))
        let again = try store.update(svc, namespace: "default", name: "a", a)
        #expect(again == a)
        #expect(store.resourceVersion == rv(a))
        #expect(w.poll().isEmpty)
    }

    @Test func statusIsItsOwnSubresourceAndGenerationCountsSpecChanges() throws {
        let store = testStore()
        let pod = try store.create(APIResources.pods, namespace: "default",
                                   ["metadata": ["name": "p"], "spec": ["nodeName": "n1"], "status": ["phase": "Running"]])
        #expect(pod[path: ["status", "phase"]] == "Running")
        var main = pod
        main[path: ["status", "phase"]] = "Failed"
        main[path: ["metadata", "labels"]] = ["app": "web"]
        let afterMain = try store.update(APIResources.pods, namespace: "default", name: "p", main)
        #expect(afterMain[path: ["status", "phase"]] == "Running")
        #expect(afterMain[path: ["metadata", "labels", "app"]] == "web")
        #expect(afterMain[path: ["metadata", "generation"]] == 1)

        var viaStatus = afterMain
        viaStatus[path: ["status", "phase"]] = "Succeeded"
        viaStatus[path: ["spec", "nodeName"]] = "n2"
        let afterStatus = try store.update(APIResources.pods, namespace: "default", name: "p", viaStatus, subresource: "status")
        #expect(afterStatus[path: ["status", "phase"]] == "Succeeded")
        #expect(afterStatus[path: ["spec", "nodeName"]] == "n1")

        var spec = afterStatus
        spec[path: ["spec", "nodeName"]] = "n2"
        #expect(try store.update(APIResources.pods, namespace: "default", name: "p", spec)[path: ["metadata", "generation"]] == 2)
    }

    @Test func deleteHonoursPreconditionsAndANamespaceTakesItsObjectsWithIt() throws {
        let store = testStore()
        _ = try store.create(APIResources.namespaces, namespace: nil, ["metadata": ["name": "team"]])
        let a = try store.create(svc, namespace: "team", service("a"))
        _ = try store.create(svc, namespace: "default", service("a"))
        let stale = status { _ = try store.delete(svc, namespace: "team", name: "a", preconditions: .init(resourceVersion: "1")) }
        #expect(stale?.code == 409)
        #expect(stale?.message == "Operation cannot be fulfilled on services \"a\": Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: \(rv(a))")
        let wrongUID = status { _ = try store.delete(svc, namespace: "team", name: "a", preconditions: .init(uid: "other")) }
        #expect(wrongUID?.code == 409)

        let w = try store.watch(svc, namespace: nil, options: ListOptions(resourceVersion: String(store.resourceVersion)))
        let gone = try store.delete(APIResources.namespaces, namespace: nil, name: "team")
        #expect(status { _ = try store.get(svc, namespace: "team", name: "a") }?.code == 404)
        #expect((try? store.get(svc, namespace: "default", name: "a")) != nil)
        let events = w.poll()
        #expect(events.map(\.type) == [.deleted])
        #expect(rv(events[0].object) < rv(gone))
        #expect(status { _ = try store.delete(svc, namespace: "team", name: "a") }?.message == "services \"a\" not found")
    }

    @Test func deleteCollectionDeletesWhatTheSelectorPicks() throws {
        let store = testStore()
        for i in 0..<4 { _ = try store.create(svc, namespace: "default", service("s\(i)", labels: ["odd": i % 2 == 1 ? "yes" : "no"])) }
        let deleted = try store.deleteCollection(svc, namespace: "default", options: ListOptions(labelSelector: try .parse("odd=yes")))
        #expect(deleted["kind"] == "ServiceList")
        #expect(deleted["items"]?.arrayValue?.count == 2)
        #expect(try store.list(svc, namespace: "default")["items"]?.arrayValue?.count == 2)
    }

    // MARK: list

    @Test func listReturnsAListObjectFilteredBySelectors() throws {
        let store = testStore()
        _ = try store.create(svc, namespace: "default", service("web", labels: ["app": "web"]))
        _ = try store.create(svc, namespace: "default", service("db", labels: ["app": "db"], clusterIP: "None"))
        _ = try store.create(svc, namespace: "kube-system", service("dns", labels: ["app": "dns"]))
        let all = try store.list(svc, namespace: nil)
        #expect(all["kind"] == "ServiceList")
        #expect(all["apiVersion"] == "v1")
        #expect(all[path: ["metadata", "resourceVersion"]] == .string(String(store.resourceVersion)))
        #expect(all[path: ["metadata", "continue"]] == nil)
        let items = try #require(all["items"]?.arrayValue)
        #expect(items.map { $0[path: ["metadata", "name"]]! } == ["db", "web", "dns"])
        #expect(items.allSatisfy { $0["kind"] == nil && $0["apiVersion"] == nil })

        func names(_ ns: String?, _ q: [(String, String)]) throws -> [String] {
            try store.list(svc, namespace: ns, options: ListOptions(query: q))["items"]!.arrayValue!.map { $0[path: ["metadata", "name"]]!.stringValue! }
        }
        #expect(try names("default", []) == ["db", "web"])
        #expect(try names(nil, [("labelSelector", "app in (web,dns)")]) == ["web", "dns"])
        #expect(try names(nil, [("labelSelector", "app!=web")]) == ["db", "dns"])
        #expect(try names(nil, [("fieldSelector", "spec.clusterIP!=None")]) == ["web", "dns"])
        #expect(try names(nil, [("fieldSelector", "metadata.namespace=kube-system")]) == ["dns"])
        #expect(try names(nil, [("fieldSelector", "metadata.name=web,metadata.namespace=default")]) == ["web"])
        #expect(try names(nil, [("labelSelector", "app"), ("fieldSelector", "metadata.name!=db")]) == ["web", "dns"])
    }

    @Test func podsSelectByNodeNameAndAnUnscheduledPodHasAnEmptyOne() throws {
        let store = testStore()
        _ = try store.create(APIResources.pods, namespace: "default", ["metadata": ["name": "a"], "spec": ["nodeName": "n1"]])
        _ = try store.create(APIResources.pods, namespace: "default", ["metadata": ["name": "b"], "spec": ["nodeName": "n2"]])
        _ = try store.create(APIResources.pods, namespace: "default", ["metadata": ["name": "c"], "spec": [:]])
        func names(_ f: String) throws -> [JSONValue] {
            try store.list(APIResources.pods, namespace: nil, options: ListOptions(fieldSelector: .parse(f)))["items"]!.arrayValue!.map { $0[path: ["metadata", "name"]]! }
        }
        #expect(try names("spec.nodeName=n1") == ["a"])
        #expect(try names("spec.nodeName=") == ["c"])
        #expect(try names("spec.nodeName!=n1") == ["b", "c"])
    }

    @Test func anUnknownFieldLabelIsA400NeverIgnored() throws {
        let store = testStore()
        let s = status { _ = try store.list(svc, namespace: nil, options: ListOptions(fieldSelector: .parse("spec.foo=x"))) }
        #expect(s?.code == 400)
        #expect(s?.reason == "BadRequest")
        #expect(s?.message == "field label not supported: spec.foo")
        #expect(status { _ = try store.list(APIResources.nodes, namespace: nil, options: ListOptions(fieldSelector: .parse("metadata.namespace=x"))) }?
            .message == "field label not supported: metadata.namespace")
        #expect(status { _ = try store.list(APIResources.leases, namespace: nil, options: ListOptions(fieldSelector: .parse("spec.holderIdentity=x"))) }?
            .message == "\"spec.holderIdentity\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"")
        #expect(status { _ = try store.watch(svc, namespace: nil, options: ListOptions(fieldSelector: .parse("spec.foo=x"))) }?.code == 400)
    }

    @Test func queryParametersAreValidatedAsUpstreamValidatesThem() {
        func s(_ q: [(String, String)]) -> APIStatus? { status { _ = try ListOptions(query: q) } }
        #expect(s([("labelSelector", "a in")])?.json == APIStatus.badRequest("unable to parse requirement: found '' expected: '('").json)
        #expect(s([("fieldSelector", "foo")])?.message == "invalid selector: 'foo'; can't understand 'foo'")
        #expect(s([("limit", "ten")])?.code == 400)
        #expect(s([("watch", "maybe")])?.code == 400)
        let noRV = s([("resourceVersionMatch", "NotOlderThan")])
        #expect(noRV?.code == 422)
        #expect(noRV?.message == "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided")
        #expect(s([("resourceVersionMatch", "Exact"), ("resourceVersion", "0")])?.code == 422)
        #expect(s([("resourceVersionMatch", "Newest"), ("resourceVersion", "1")])?.code == 422)
        #expect(s([("sendInitialEvents", "true")])?.message
                == "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list")
        #expect(s([("watch", "true"), ("sendInitialEvents", "true")])?.message
                == "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")
        #expect(s([("watch", "1"), ("resourceVersionMatch", "NotOlderThan"), ("resourceVersion", "5")])?.code == 422)
        #expect(s([("watch", "true"), ("sendInitialEvents", "true"), ("resourceVersionMatch", "NotOlderThan"), ("allowWatchBookmarks", "true")]) == nil)
        let ok = try? ListOptions(query: [("limit", "500"), ("timeoutSeconds", "300"), ("watch", "true"), ("labelSelector", "app=web")])
        #expect(ok?.limit == 500)
        #expect(ok?.timeoutSeconds == 300)
        #expect(ok?.labelSelector.description == "app=web")
    }

    @Test func pagingThroughAThousandObjectsReadsOneSnapshot() throws {
        let store = testStore()
        for i in 0..<1000 { _ = try store.create(svc, namespace: "default", service(String(format: "svc-%04d", i))) }
        let snapshotRV = String(store.resourceVersion)
        var seen: [String] = [], token: String?, pages = 0
        repeat {
            var q = [("limit", "100")]
            if let token { q.append(("continue", token)) }
            let page = try store.list(svc, namespace: "default", options: ListOptions(query: q))
            #expect(page[path: ["metadata", "resourceVersion"]] == .string(snapshotRV))
            if pages == 0 { #expect(page[path: ["metadata", "remainingItemCount"]] == 900) }
            seen += page["items"]!.arrayValue!.map { $0[path: ["metadata", "name"]]!.stringValue! }
            token = page[path: ["metadata", "continue"]]?.stringValue
            pages += 1
            // Writes between pages are not in this list: it reads the first page's snapshot.
            if pages == 3 {
                _ = try store.create(svc, namespace: "default", service("svc-zzzz"))
                _ = try store.delete(svc, namespace: "default", name: "svc-0999")
                var changed = try store.get(svc, namespace: "default", name: "svc-0500")
                changed[path: ["spec", "clusterIP"]] = "10.96.9.9"
                _ = try store.update(svc, namespace: "default", name: "svc-0500", changed)
            }
        } while token != nil
        #expect(pages == 10)
        #expect(seen == (0..<1000).map { String(format: "svc-%04d", $0) })
        let fresh = try store.list(svc, namespace: "default")["items"]!.arrayValue!
        #expect(fresh.count == 1000)
        #expect(fresh.contains { $0[path: ["metadata", "name"]] == "svc-zzzz" })
    }

    @Test func pagingWithASelectorSkipsWhatDoesNotMatchAndCountsNothingRemaining() throws {
        let store = testStore()
        for i in 0..<10 { _ = try store.create(svc, namespace: "default", service("s\(i)", labels: ["even": i % 2 == 0 ? "yes" : "no"])) }
        var seen: [JSONValue] = [], token: String?
        repeat {
            let page = try store.list(svc, namespace: "default", options: ListOptions(labelSelector: .parse("even=yes"), limit: 2, continueToken: token))
            #expect(page[path: ["metadata", "remainingItemCount"]] == nil)
            seen += page["items"]!.arrayValue!.map { $0[path: ["metadata", "name"]]! }
            token = page[path: ["metadata", "continue"]]?.stringValue
        } while token != nil
        #expect(seen == ["s0", "s2", "s4", "s6", "s8"])
    }

    @Test func continueTokensThatAreBadOrTooOldAre400And410() throws {
        let store = testStore(historyLimit: 5)
        for i in 0..<10 { _ = try store.create(svc, namespace: "default", service("s\(i)")) }
        let first = try store.list(svc, namespace: "default", options: ListOptions(limit: 4))
        let token = try #require(first[path: ["metadata", "continue"]]?.stringValue)

        let garbage = status { _ = try store.list(svc, namespace: "default", options: ListOptions(continueToken: "not-a-token!")) }
        #expect(garbage?.code == 400)
        #expect(garbage?.message.hasPrefix("invalid continue token: continue key is not valid") == true)
        let withRV = status { _ = try store.list(svc, namespace: "default", options: ListOptions(continueToken: token, resourceVersion: "3")) }
        #expect(withRV?.message == "specifying resource version is not allowed when using continue")

        for i in 0..<6 { _ = try store.create(svc, namespace: "default", service("t\(i)")) }   // history moves past the snapshot
        let expired = try #require(status { _ = try store.list(svc, namespace: "default", options: ListOptions(limit: 4, continueToken: token)) })
        #expect(expired.code == 410)
        #expect(expired.reason == "Expired")
        #expect(expired.message == ContinueToken.expiredMessage)
        let fresh = try #require(expired.listContinue)
        #expect(expired.json[path: ["metadata", "continue"]] == .string(fresh))
        let rest = try store.list(svc, namespace: "default", options: ListOptions(continueToken: fresh))
        #expect(rest["items"]!.arrayValue!.map { $0[path: ["metadata", "name"]]! } == ["s4", "s5", "s6", "s7", "s8", "s9", "t0", "t1", "t2", "t3", "t4", "t5"])
    }

    @Test func resourceVersionMatchExactReadsThePastAndNotOlderThanTheFuture() throws {
        let store = testStore(historyLimit: 3)
        let a = try store.create(svc, namespace: "default", service("a"))
        _ = try store.create(svc, namespace: "default", service("b"))
        func names(_ o: ListOptions) throws -> [JSONValue] { try store.list(svc, namespace: nil, options: o)["items"]!.arrayValue!.map { $0[path: ["metadata", "name"]]! } }
        let atA = ListOptions(resourceVersion: String(rv(a)), resourceVersionMatch: .exact)
        #expect(try names(atA) == ["a"])
        #expect(try store.list(svc, namespace: nil, options: atA)[path: ["metadata", "resourceVersion"]] == .string(String(rv(a))))
        #expect(try names(ListOptions(resourceVersion: String(rv(a)), resourceVersionMatch: .notOlderThan)) == ["a", "b"])
        #expect(try names(ListOptions(resourceVersion: "0")) == ["a", "b"])
        let future = status { _ = try store.list(svc, namespace: nil, options: ListOptions(resourceVersion: "9999")) }
        #expect(future?.code == 504)
        #expect(future?.message == "Too large resource version: 9999, current: \(store.resourceVersion)")
        for i in 0..<4 { _ = try store.create(svc, namespace: "default", service("c\(i)")) }
        let old = status { _ = try store.list(svc, namespace: nil, options: atA) }
        #expect(old?.code == 410)
        #expect(old?.message == "The resourceVersion for the provided list is too old.")
        #expect(status { _ = try store.list(svc, namespace: nil, options: ListOptions(resourceVersion: "abc")) }?.code == 400)
    }
}
