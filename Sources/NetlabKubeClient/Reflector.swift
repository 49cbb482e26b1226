import Foundation
import NetlabKit
import Synchronization

/// How a reflector reaches one resource: a paged list and a watch. The client's implementation
/// is `ClientListerWatcher`; tests script a fake.
public protocol ListerWatcher: Sendable {
    func list(resourceVersion: String?, limit: Int?, continue: String?, stop: StopToken) throws(KubeClientError) -> ListPage
    func watch(resourceVersion: String, timeoutSeconds: Int, stop: StopToken,
               onEvent: (KubeWatchEvent) throws -> Bool) throws(KubeClientError)
}

/// A resource (optionally filtered by selectors) through a KubeClient.
public struct ClientListerWatcher: ListerWatcher {
    public var client: KubeClient
    public var path: String
    public var labelSelector: String?
    public var fieldSelector: String?

    public init(client: KubeClient, path: String, labelSelector: String? = nil, fieldSelector: String? = nil) {
        self.client = client; self.path = path; self.labelSelector = labelSelector; self.fieldSelector = fieldSelector
    }

    public func list(resourceVersion: String?, limit: Int?, continue token: String?, stop: StopToken) throws(KubeClientError) -> ListPage {
        try client.list(path, resourceVersion: resourceVersion, limit: limit, continue: token,
                        labelSelector: labelSelector, fieldSelector: fieldSelector, stop: stop)
    }

    public func watch(resourceVersion: String, timeoutSeconds: Int, stop: StopToken, onEvent: (KubeWatchEvent) throws -> Bool) throws(KubeClientError) {
        try client.watch(path, resourceVersion: resourceVersion, timeoutSeconds: timeoutSeconds,
                         labelSelector: labelSelector, fieldSelector: fieldSelector, stop: stop, onEvent: onEvent)
    }
}

/// Where a reflector puts what it learns.
public protocol ReflectorStore: AnyObject, Sendable {
    /// The complete state after a list (every earlier object not in `items` is gone).
    func replace(_ items: [JSONValue], resourceVersion: String)
    /// An ADDED, MODIFIED or DELETED event.
    func apply(_ event: KubeWatchEvent)
    /// The watch reached `resourceVersion` without a change to this resource (a BOOKMARK).
    func bookmark(resourceVersion: String)
}

/// client-go's Reflector (tools/cache/reflector.go), as a plain loop over a ListerWatcher:
/// list (in pages) and replace the store; watch from the list's resourceVersion, moving it with
/// every event and BOOKMARK; when the stream ends, watch again from there without a list; on
/// 410 Gone (the server no longer has that resourceVersion) list again; on a failed connection
/// wait with exponential backoff and watch again from the same resourceVersion.
public final class Reflector: Sendable {
    public struct Settings: Sendable {
        /// `limit` of each list page (client-go: 500).
        public var pageSize: Int
        /// The watch's `timeoutSeconds`, asked for each watch (client-go: 5 to 10 minutes, random).
        public var watchTimeout: @Sendable () -> Int
        /// Backoff after a failure: first wait, then doubled up to `maxBackoff`; reset by a success.
        public var initialBackoff: Double
        public var maxBackoff: Double

        public init(pageSize: Int = 500, watchTimeout: @escaping @Sendable () -> Int = { Int.random(in: 300..<600) },
                    initialBackoff: Double = 0.8, maxBackoff: Double = 30) {
            self.pageSize = pageSize; self.watchTimeout = watchTimeout
            self.initialBackoff = initialBackoff; self.maxBackoff = maxBackoff
        }
    }

    struct State {
        var resourceVersion = ""
        var needsList = true
        var backoff: Double
        var lists = 0
        var watches = 0
    }

    public let name: String
    let lw: any ListerWatcher
    let store: any ReflectorStore
    let settings: Settings
    let log: @Sendable (String) -> Void
    /// Waits `seconds` or until stopped; false when stopped. Tests record the waits instead.
    let sleep: @Sendable (Double, StopToken) -> Bool
    let state: Mutex<State>

    public init(name: String, lw: any ListerWatcher, store: any ReflectorStore, settings: Settings = Settings(),
                log: @escaping @Sendable (String) -> Void = { _ in },
                sleep: @escaping @Sendable (Double, StopToken) -> Bool = { s, stop in stop.sleep(s) }) {
        self.name = name; self.lw = lw; self.store = store; self.settings = settings; self.log = log; self.sleep = sleep
        state = Mutex(State(backoff: settings.initialBackoff))
    }

    /// The resourceVersion the store is at (the last list, event or bookmark).
    public var lastSyncResourceVersion: String { state.withLock { $0.resourceVersion } }
    /// How many lists (whole, all pages) and watches were started: for tests and logs.
    public var counts: (lists: Int, watches: Int) { state.withLock { ($0.lists, $0.watches) } }

    /// Lists and watches until `stop` is stopped.
    public func run(stop: StopToken) {
        while !stop.isStopped {
            step(stop: stop)
        }
    }

    /// One list or one watch, with what follows from its outcome.
    func step(stop: StopToken) {
        if state.withLock({ $0.needsList }) {
            do {
                try listAll(stop: stop)
                state.withLock { $0.needsList = false; $0.backoff = settings.initialBackoff }
            } catch .stopped {
                return
            } catch {
                log("\(name): list failed: \(error); retrying in \(String(format: "%.1f", currentBackoff())) s")
                backOff(stop)
            }
            return
        }
        let rv = state.withLock { s -> String in s.watches += 1; return s.resourceVersion }
        do {
            try lw.watch(resourceVersion: rv, timeoutSeconds: settings.watchTimeout(), stop: stop) { event in
                switch event.type {
                case .added, .modified, .deleted:
                    store.apply(event)
                case .bookmark:
                    if let v = event.resourceVersion { store.bookmark(resourceVersion: v) }
                case .error:
                    return true   // ListerWatchers throw ERROR events; nothing to do here
                }
                if let v = event.resourceVersion {
                    state.withLock { $0.resourceVersion = v; $0.backoff = settings.initialBackoff }
                }
                return !stop.isStopped
            }
            // The server ended the stream (its timeout): watch again from where it stopped.
        } catch .stopped {
            return
        } catch let e where e.isGone {
            log("\(name): watch from resourceVersion \(rv) is too old (\(e.reason ?? "410")); listing again")
            state.withLock { $0.needsList = true }
        } catch .transport(let request, let why) {
            log("\(name): watch failed: \(request): \(why); watching again in \(String(format: "%.1f", currentBackoff())) s")
            backOff(stop)
        } catch {
            // Another Status (500, 403, a malformed stream): start over with a list, as client-go does.
            log("\(name): watch failed: \(error); listing again in \(String(format: "%.1f", currentBackoff())) s")
            state.withLock { $0.needsList = true }
            backOff(stop)
        }
    }

    func currentBackoff() -> Double { state.withLock { $0.backoff } }

    func backOff(_ stop: StopToken) {
        let wait = state.withLock { s -> Double in
            let w = s.backoff
            s.backoff = min(settings.maxBackoff, s.backoff * 2)
            return w
        }
        _ = sleep(wait, stop)
    }

    /// Every page; the store is replaced only with a complete list (a failure midway keeps the old state).
    func listAll(stop: StopToken) throws(KubeClientError) {
        state.withLock { $0.lists += 1 }
        var items: [JSONValue] = []
        var token: String?
        var rv = ""
        repeat {
            // The first page is a consistent read of the latest state ("" = most recent).
            let page = try lw.list(resourceVersion: nil, limit: settings.pageSize, continue: token, stop: stop)
            items += page.items
            rv = page.resourceVersion
            token = page.continueToken
        } while token != nil
        store.replace(items, resourceVersion: rv)
        state.withLock { $0.resourceVersion = rv }
    }
}
