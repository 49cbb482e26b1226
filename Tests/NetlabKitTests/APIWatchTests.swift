import Foundation
import Testing
@testable import NetlabKit

@Suite struct APIWatchTests {
    let svc = APIResources.services

    func names(_ es: [WatchEvent]) -> [String] {
        es.map { "\($0.type.rawValue) \($0.object[path: ["metadata", "name"]]?.stringValue ?? "")" }
    }

    @Test func aWatchWithoutResourceVersionStartsWithTheStateThenFollowsWrites() throws {
        let store = testStore()
        _ = try store.create(svc, namespace: "default", service("a"))
        let w = try store.watch(svc, namespace: nil)
        #expect(names(w.poll()) == ["ADDED a"])
        let b = try store.create(svc, namespace: "default", service("b"))
        var changed = b
        changed[path: ["spec", "clusterIP"]] = "10.96.0.99"
        let c = try store.update(svc, namespace: "default", name: "b", changed)
        let d = try store.delete(svc, namespace: "default", name: "b")
        let events = w.poll()
        #expect(names(events) == ["ADDED b", "MODIFIED b", "DELETED b"])
        #expect(events.map { rv($0.object) } == [rv(b), rv(c), rv(d)])
        #expect(rv(d) > rv(c))
        #expect(events[2].object[path: ["spec", "clusterIP"]] == "10.96.0.99")
        #expect(events[0].object["kind"] == "Service")
        #expect(String(decoding: events[0].encodedLine, as: UTF8.self).hasPrefix("{\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Service\""))
        #expect(events[0].encodedLine.last == 0x0A)
    }

    @Test func aWatchResumesFromAResourceVersion() throws {
        let store = testStore()
        let a = try store.create(svc, namespace: "default", service("a"))
        _ = try store.create(svc, namespace: "default", service("b"))
        _ = try store.create(APIResources.leases, namespace: "default", ["metadata": ["name": "l"]])
        _ = try store.delete(svc, namespace: "default", name: "a")
        let w = try store.watch(svc, namespace: nil, options: ListOptions(resourceVersion: String(rv(a))))
        #expect(names(w.poll()) == ["ADDED b", "DELETED a"])
        _ = try store.create(svc, namespace: "default", service("c"))
        #expect(names(w.poll()) == ["ADDED c"])
        let fromNow = try store.watch(svc, namespace: nil, options: ListOptions(resourceVersion: String(store.resourceVersion)))
        #expect(fromNow.poll().isEmpty)
    }

    @Test func aResourceVersionOlderThanTheHistoryIsA410ExpiredErrorEvent() throws {
        let store = testStore(historyLimit: 3)
        let first = try store.create(svc, namespace: "default", service("s0"))
        for i in 1..<6 { _ = try store.create(svc, namespace: "default", service("s\(i)")) }
        let w = try store.watch(svc, namespace: nil, options: ListOptions(resourceVersion: String(rv(first))))
        let events = w.poll()
        #expect(events.count == 1)
        #expect(events[0].type == .error)
        #expect(events[0].object["kind"] == "Status")
        #expect(events[0].object["code"] == 410)
        #expect(events[0].object["reason"] == "Expired")
        #expect(events[0].object["message"] == .string("too old resource version: \(rv(first)) (\(rv(first) + 2))"))
        #expect(w.isFinished)
        #expect(store.watcherCount(svc) == 0)
        // The oldest version still covered resumes.
        let covered = try store.watch(svc, namespace: nil, options: ListOptions(resourceVersion: String(rv(first) + 2)))
        #expect(names(covered.poll()) == ["ADDED s3", "ADDED s4", "ADDED s5"])
    }

    @Test func historyIsPerResourceSoBusyLeasesDoNotExpireServiceWatches() throws {
        let store = testStore(historyLimit: 3)
        let a = try store.create(svc, namespace: "default", service("a"))
        for i in 0..<20 { _ = try store.create(APIResources.leases, namespace: "default", ["metadata": ["name": .string("l\(i)")]]) }
        let w = try store.watch(svc, namespace: nil, options: ListOptions(resourceVersion: String(rv(a))))
        #expect(w.poll().isEmpty)
        #expect(!w.isFinished)
    }

    @Test func aStreamingListSendsTheStateThenAnAnnotatedBookmark() throws {
        let store = testStore()
        _ = try store.create(svc, namespace: "default", service("a"))
        _ = try store.create(svc, namespace: "default", service("b"))
        let options = try ListOptions(query: [("watch", "true"), ("sendInitialEvents", "true"), ("resourceVersionMatch", "NotOlderThan"),
                                              ("allowWatchBookmarks", "true"), ("resourceVersion", "")])
        let w = try store.watch(svc, namespace: "default", options: options)
        let events = w.poll()
        #expect(names(events) == ["ADDED a", "ADDED b", "BOOKMARK "])
        #expect(events[2].object == ["kind": "Service", "apiVersion": "v1",
                                     "metadata": ["resourceVersion": .string(String(store.resourceVersion)),
                                                  "annotations": ["k8s.io/initial-events-end": "true"]]])
        _ = try store.create(svc, namespace: "default", service("c"))
        #expect(names(w.poll()) == ["ADDED c"])

        let fromZero = try store.watch(svc, namespace: nil, options: ListOptions(resourceVersion: "0", resourceVersionMatch: .notOlderThan,
                                                                                allowWatchBookmarks: true, sendInitialEvents: true))
        #expect(names(fromZero.poll()) == ["ADDED a", "ADDED b", "ADDED c", "BOOKMARK "])
        // A legacy watch from "0" is defaulted to a streaming list (WatchList on), bookmark included.
        let legacy = try store.watch(svc, namespace: nil, options: ListOptions(resourceVersion: "0", allowWatchBookmarks: true))
        let legacyEvents = legacy.poll()
        #expect(names(legacyEvents) == ["ADDED a", "ADDED b", "ADDED c", "BOOKMARK "])
        #expect(legacyEvents.last?.object[path: ["metadata", "annotations", "k8s.io/initial-events-end"]] == "true")
        let noInitial = try store.watch(svc, namespace: nil, options: ListOptions(resourceVersionMatch: .notOlderThan, sendInitialEvents: false))
        #expect(noInitial.poll().isEmpty)
        let future = status { _ = try store.watch(svc, namespace: nil, options: ListOptions(resourceVersion: "999", resourceVersionMatch: .notOlderThan,
                                                                                             allowWatchBookmarks: true, sendInitialEvents: true)) }
        #expect(future?.code == 504)
    }

    @Test func anObjectLeavingASelectorIsDeletedForThatWatcherAndEnteringIsAdded() throws {
        let store = testStore()
        _ = try store.create(svc, namespace: "default", service("a", labels: ["app": "web"]))
        let web = try store.watch(svc, namespace: nil, options: ListOptions(labelSelector: .parse("app=web")))
        let everyone = try store.watch(svc, namespace: nil)
        #expect(names(web.poll()) == ["ADDED a"])
        #expect(names(everyone.poll()) == ["ADDED a"])

        let moved = try store.patch(svc, namespace: "default", name: "a", ["metadata": ["labels": ["app": "db"]]], type: .merge)
        let left = web.poll()
        #expect(names(left) == ["DELETED a"])
        #expect(rv(left[0].object) == rv(moved))
        #expect(left[0].object[path: ["metadata", "labels", "app"]] == "web")
        #expect(names(everyone.poll()) == ["MODIFIED a"])

        _ = try store.patch(svc, namespace: "default", name: "a", ["spec": ["clusterIP": "10.96.1.1"]], type: .merge)
        #expect(web.poll().isEmpty)
        _ = try store.patch(svc, namespace: "default", name: "a", ["metadata": ["labels": ["app": "web"]]], type: .merge)
        #expect(names(web.poll()) == ["ADDED a"])
        _ = try store.delete(svc, namespace: "default", name: "a")
        #expect(names(web.poll()) == ["DELETED a"])

        // Replayed history converts the same way.
        let a = try store.create(svc, namespace: "default", service("r", labels: ["app": "web"]))
        _ = try store.patch(svc, namespace: "default", name: "r", ["metadata": ["labels": ["app": "db"]]], type: .merge)
        let late = try store.watch(svc, namespace: nil, options: ListOptions(labelSelector: .parse("app=web"), resourceVersion: String(rv(a) - 1)))
        #expect(names(late.poll()) == ["ADDED r", "DELETED r"])
    }

    @Test func watchesFilterByNamespaceAndFieldSelector() throws {
        let store = testStore()
        let n1 = try store.watch(APIResources.pods, namespace: nil, options: ListOptions(fieldSelector: .parse("spec.nodeName=n1")))
        let kubeSystem = try store.watch(APIResources.pods, namespace: "kube-system")
        _ = try store.create(APIResources.pods, namespace: "default", ["metadata": ["name": "a"], "spec": ["nodeName": "n1"]])
        _ = try store.create(APIResources.pods, namespace: "kube-system", ["metadata": ["name": "b"], "spec": ["nodeName": "n2"]])
        #expect(names(n1.poll()) == ["ADDED a"])
        #expect(names(kubeSystem.poll()) == ["ADDED b"])
    }

    @Test func bookmarksGoOnlyToWatchesThatAllowThem() throws {
        let store = testStore()
        let with = try store.watch(svc, namespace: nil, options: ListOptions(resourceVersion: "1", allowWatchBookmarks: true))
        let without = try store.watch(svc, namespace: nil, options: ListOptions(resourceVersion: "1"))
        _ = with.poll(); _ = without.poll()
        _ = try store.create(APIResources.leases, namespace: "default", ["metadata": ["name": "l"]])
        store.sendBookmarks()
        let b = with.poll()
        #expect(b.map(\.type) == [.bookmark])
        #expect(b[0].object == ["kind": "Service", "apiVersion": "v1", "metadata": ["resourceVersion": .string(String(store.resourceVersion))]])
        #expect(without.poll().isEmpty)
    }

    @Test func oneWriteFansOutOneSharedEventToAHundredWatchers() throws {
        let store = testStore()
        let watchers = try (0..<100).map { _ in try store.watch(svc, namespace: nil, options: ListOptions(resourceVersion: String(store.resourceVersion))) }
        #expect(store.watcherCount(svc) == 100)
        _ = try store.create(svc, namespace: "default", service("a"))
        let events = watchers.map { $0.poll() }
        #expect(events.allSatisfy { $0.count == 1 })
        #expect(events.allSatisfy { $0[0] === events[0][0] })
        watchers.forEach { $0.stop() }
        #expect(store.watcherCount(svc) == 0)
        _ = try store.create(svc, namespace: "default", service("b"))
        #expect(watchers[0].poll().isEmpty)
        #expect(watchers[0].isFinished)
    }

    @Test func aWatcherThatFallsTooFarBehindIsEnded() throws {
        let store = testStore(watcherCapacity: 3)
        let w = try store.watch(svc, namespace: nil, options: ListOptions(resourceVersion: String(store.resourceVersion)))
        for i in 0..<5 { _ = try store.create(svc, namespace: "default", service("s\(i)")) }
        #expect(store.watcherCount(svc) == 0)
        #expect(!w.poll().isEmpty)
        #expect(w.isFinished)
    }

    @Test func nextWaitsForAnEventAndReturnsNilOnceStopped() async throws {
        let store = testStore()
        let w = try store.watch(svc, namespace: nil, options: ListOptions(resourceVersion: String(store.resourceVersion)))
        let waiting = Task { await w.next() }
        _ = try store.create(svc, namespace: "default", service("a"))
        let e = await waiting.value
        #expect(e?.type == .added)
        let after = Task { await w.next() }
        w.stop()
        #expect(await after.value == nil)
        #expect(store.watcherCount(svc) == 0)
    }

    @Test func concurrentWritersGiveEveryWatcherEveryEventInResourceVersionOrder() async throws {
        let store = testStore()
        let watchers = try (0..<10).map { _ in try store.watch(svc, namespace: nil, options: ListOptions(resourceVersion: String(store.resourceVersion))) }
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<4 {
                group.addTask { for i in 0..<100 { _ = try? store.create(self.svc, namespace: "default", service("t\(t)-\(i)")) } }
            }
        }
        for w in watchers {
            let rvs = w.poll().map { rv($0.object) }
            #expect(rvs.count == 400)
            #expect(zip(rvs, rvs.dropFirst()).allSatisfy { $0 < $1 })
        }
        #expect(try store.list(svc, namespace: "default")["items"]?.arrayValue?.count == 400)
    }

    @Test func onEventsWakesTheHTTPLayer() throws {
        let store = testStore()
        let w = try store.watch(svc, namespace: nil, options: ListOptions(resourceVersion: String(store.resourceVersion)))
        let woken = Mutex(0)
        w.onEvents { woken.withLock { $0 += 1 } }
        #expect(woken.withLock { $0 } == 0)
        _ = try store.create(svc, namespace: "default", service("a"))
        #expect(woken.withLock { $0 } == 1)
        #expect(w.timeoutSeconds == nil)
        let timed = try store.watch(svc, namespace: nil, options: ListOptions(query: [("watch", "true"), ("timeoutSeconds", "30")]))
        #expect(timed.timeoutSeconds == 30)
    }
}

import Synchronization
