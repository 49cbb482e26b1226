import Foundation
import NetlabKit
import Synchronization
import Testing
@testable import NetlabKubeClient

/// A scripted API: each list answers the next page, each watch plays the next script; when the
/// script is over the token is stopped, which ends the reflector's loop.
final class FakeListerWatcher: ListerWatcher, @unchecked Sendable {
    enum WatchScript { case events([KubeWatchEvent], end: KubeClientError?) }
    struct Log { var lists: [String?] = []; var watches: [String] = [] }

    let lock = NSLock()
    var pages: [Result<ListPage, KubeClientError>]
    var watches: [WatchScript]
    var log = Log()
    let stop: StopToken

    init(pages: [Result<ListPage, KubeClientError>], watches: [WatchScript], stop: StopToken) {
        self.pages = pages; self.watches = watches; self.stop = stop
    }

    func list(resourceVersion: String?, limit: Int?, continue token: String?, stop: StopToken) throws(KubeClientError) -> ListPage {
        lock.lock()
        log.lists.append(token)
        guard !pages.isEmpty else { lock.unlock(); stop.stop(); throw .stopped }
        let p = pages.removeFirst()
        lock.unlock()
        return try p.get()
    }

    func watch(resourceVersion: String, timeoutSeconds: Int, stop: StopToken, onEvent: (KubeWatchEvent) throws -> Bool) throws(KubeClientError) {
        lock.lock()
        log.watches.append(resourceVersion)
        guard !watches.isEmpty else { lock.unlock(); stop.stop(); throw .stopped }
        let w = watches.removeFirst()
        lock.unlock()
        guard case .events(let events, let end) = w else { return }
        for e in events {
            if e.type == .error { throw KubeClientError.from(status: e.object, code: 500, request: "watch") }
            _ = try? onEvent(e)
        }
        if let end { throw end }
    }
}

func svc(_ name: String, rv: String, port: Int = 80) -> JSONValue {
    .object(["kind": "Service", "metadata": .object(["name": .string(name), "namespace": "default", "resourceVersion": .string(rv)]),
             "spec": .object(["ports": .array([.object(["port": .number(Double(port))])])])])
}

func event(_ t: KubeWatchEvent.EventType, _ o: JSONValue) -> KubeWatchEvent { KubeWatchEvent(type: t, object: o) }

func bookmark(_ rv: String) -> KubeWatchEvent { event(.bookmark, .object(["kind": "Service", "metadata": .object(["resourceVersion": .string(rv)])])) }

let gone = KubeClientError.status(request: "watch", code: 410, reason: "Expired", message: "too old resource version")
let refused = KubeClientError.transport(request: "watch", "cannot connect to 10.0.0.2:6443: Connection refused")

/// A Reflector over the fake, its waits recorded instead of slept.
final class Sleeps: @unchecked Sendable {
    let lock = NSLock()
    var waits: [Double] = []
    func withLock<T>(_ f: (inout [Double]) -> T) -> T { lock.lock(); defer { lock.unlock() }; return f(&waits) }
}

func reflect(_ fake: FakeListerWatcher, into cache: ObjectCache) -> (Reflector, Sleeps) {
    let sleeps = Sleeps()
    let r = Reflector(name: "services", lw: fake, store: cache, settings: .init(pageSize: 2, watchTimeout: { 300 }),
                      sleep: { s, stop in sleeps.withLock { $0.append(s) }; return !stop.isStopped })
    return (r, sleeps)
}

@Suite struct ReflectorTests {
    @Test func pagedListThenWatchFromItsVersionThroughEventsAndBookmarksAndRewatchWithoutRelist() {
        let stop = StopToken()
        let fake = FakeListerWatcher(pages: [
            .success(ListPage(items: [svc("a", rv: "3"), svc("b", rv: "4")], resourceVersion: "10", continueToken: "p2")),
            .success(ListPage(items: [svc("c", rv: "5")], resourceVersion: "10", continueToken: nil)),
        ], watches: [
            .events([event(.added, svc("d", rv: "11")), event(.modified, svc("a", rv: "12", port: 81)), event(.deleted, svc("b", rv: "13")), bookmark("20")], end: nil),
            .events([event(.added, svc("e", rv: "21"))], end: nil),
        ], stop: stop)
        let changes = Mutex(0)
        let cache = ObjectCache { changes.withLock { $0 += 1 } }
        let (r, sleeps) = reflect(fake, into: cache)
        r.run(stop: stop)
        #expect(fake.log.lists == [nil, "p2"])
        // The first watch starts at the list's version, the second where the bookmark left it.
        #expect(fake.log.watches == ["10", "20", "21"])
        let (objects, rv) = cache.snapshot()
        #expect(objects.map(ObjectCache.key) == ["default/a", "default/c", "default/d", "default/e"])
        #expect(cache.get("default/a")?[path: ["spec", "ports"]]?.arrayValue?.first?["port"]?.intValue == 81)
        #expect(rv == "21" && r.lastSyncResourceVersion == "21")
        // One list and four events; the bookmark changed nothing.
        #expect(changes.withLock { $0 } == 5)
        #expect(sleeps.withLock { $0 }.isEmpty)
        #expect(r.counts.lists == 1)
    }

    @Test func goneAsAnEventOrAnAnswerListsAgain() {
        let stop = StopToken()
        let fake = FakeListerWatcher(pages: [
            .success(ListPage(items: [svc("a", rv: "3")], resourceVersion: "5", continueToken: nil)),
            .success(ListPage(items: [svc("b", rv: "40")], resourceVersion: "41", continueToken: nil)),
            .success(ListPage(items: [], resourceVersion: "60", continueToken: nil)),
        ], watches: [
            .events([event(.added, svc("x", rv: "6")),
                     event(.error, .object(["kind": "Status", "code": 410, "reason": "Expired", "message": "too old"]))], end: nil),
            .events([], end: gone),
        ], stop: stop)
        let cache = ObjectCache()
        let (r, sleeps) = reflect(fake, into: cache)
        r.run(stop: stop)
        #expect(fake.log.watches == ["5", "41", "60"])
        #expect(r.counts.lists == 3)
        // A relist replaces: what the first list and the event held is gone.
        #expect(cache.snapshot().objects.isEmpty && cache.snapshot().resourceVersion == "60")
        #expect(sleeps.withLock { $0 }.isEmpty)
    }

    @Test func aLostConnectionBacksOffAndWatchesAgainFromTheSameVersion() {
        let stop = StopToken()
        let fake = FakeListerWatcher(pages: [
            .failure(refused),
            .success(ListPage(items: [], resourceVersion: "7", continueToken: nil)),
        ], watches: [
            .events([event(.added, svc("a", rv: "8"))], end: refused),
            .events([], end: refused),
            .events([], end: refused),
            .events([event(.added, svc("b", rv: "9"))], end: refused),
        ], stop: stop)
        let cache = ObjectCache()
        let (r, sleeps) = reflect(fake, into: cache)
        r.run(stop: stop)
        #expect(r.counts.lists == 2)
        #expect(fake.log.watches == ["7", "8", "8", "8", "9"])
        // Doubling from 0.8 s; an event (the list, then "a" and "b") resets it.
        #expect(sleeps.withLock { $0 } == [0.8, 0.8, 1.6, 3.2, 0.8])
        #expect(cache.snapshot().objects.map(ObjectCache.key) == ["default/a", "default/b"])
    }

    @Test func anotherStatusListsAgainAfterABackoff() {
        let stop = StopToken()
        let fake = FakeListerWatcher(pages: [
            .success(ListPage(items: [], resourceVersion: "1", continueToken: nil)),
            .success(ListPage(items: [svc("a", rv: "2")], resourceVersion: "2", continueToken: nil)),
        ], watches: [.events([], end: .status(request: "watch", code: 500, reason: "InternalError", message: "boom"))], stop: stop)
        let cache = ObjectCache()
        let (r, sleeps) = reflect(fake, into: cache)
        r.run(stop: stop)
        #expect(r.counts.lists == 2 && sleeps.withLock { $0 } == [0.8])
        #expect(cache.snapshot().objects.count == 1)
    }

    @Test func aListOnlyStoreIgnoresEvents() {
        let cache = ObjectCache()
        let store = ListOnlyStore(cache)
        store.replace([svc("a", rv: "1")], resourceVersion: "1")
        store.apply(event(.deleted, svc("a", rv: "2")))
        #expect(cache.snapshot().objects.count == 1 && cache.snapshot().resourceVersion == "1")
    }
}
