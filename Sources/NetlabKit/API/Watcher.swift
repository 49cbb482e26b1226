import Foundation
import Synchronization

/// One event of a watch stream, `{"type": "ADDED", "object": {...}}`. A write fans out the same
/// event to every watcher it matches, and the line is encoded once for all of them.
public final class WatchEvent: Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable { case added = "ADDED", modified = "MODIFIED", deleted = "DELETED", bookmark = "BOOKMARK", error = "ERROR" }
    public let type: Kind
    public let object: JSONValue
    private let line = Mutex<Data?>(nil)

    public init(_ type: Kind, _ object: JSONValue) { self.type = type; self.object = object }

    public var json: JSONValue { ["type": .string(type.rawValue), "object": object] }
    /// The compact JSON of the event followed by a newline: one chunk of the HTTP watch stream.
    public var encodedLine: Data {
        line.withLock { cached in
            if let cached { return cached }
            var d = json.encoded()
            d.append(0x0A)
            cached = d
            return d
        }
    }
    public var resourceVersion: String? { object[path: ["metadata", "resourceVersion"]]?.stringValue }
    public var description: String { "\(type.rawValue) \(object[path: ["metadata", "name"]]?.stringValue ?? "") rv=\(resourceVersion ?? "")" }
}

/// A watch the HTTP layer pulls events from: `next()` (async, nil once the watch has ended) or
/// `poll()` (what is queued now) with `onEvents` to be woken. The store fills the queue inside its
/// write, so events arrive in resourceVersion order and none is missed between the initial state
/// and the first change. `stop()` ends it (client gone, `timeoutSeconds` passed: the caller owns the
/// clock, `timeoutSeconds` only carries what the client asked). A watcher that lets `capacity`
/// events pile up is ended by the store, as kube-apiserver ends an unresponsive watcher; the client
/// watches again from the last resourceVersion it saw.
public final class Watcher: Sendable {
    struct Queue {
        var events: [WatchEvent] = []
        var head = 0
        var ended = false
        var waiter: CheckedContinuation<WatchEvent?, Never>?
        var wake: (@Sendable () -> Void)?
        var count: Int { events.count - head }
        mutating func pop() -> WatchEvent? {
            guard head < events.count else { return nil }
            let e = events[head]; head += 1
            if head > 1024, head * 2 > events.count { events.removeFirst(head); head = 0 }
            return e
        }
    }

    public let resource: APIResource
    public let namespace: String?
    public let options: ListOptions
    public var timeoutSeconds: Int? { options.timeoutSeconds }
    let capacity: Int
    let queue = Mutex(Queue())
    let onStop: @Sendable (Watcher) -> Void

    init(resource: APIResource, namespace: String?, options: ListOptions, capacity: Int, onStop: @escaping @Sendable (Watcher) -> Void) {
        self.resource = resource; self.namespace = namespace; self.options = options; self.capacity = capacity; self.onStop = onStop
    }

    /// Whether the object passes the namespace and selectors of this watch.
    func matches(_ object: JSONValue) -> Bool {
        if let namespace, object[path: ["metadata", "namespace"]]?.stringValue != namespace { return false }
        if !options.labelSelector.isEmpty {
            let labels = (object[path: ["metadata", "labels"]]?.objectValue ?? [:]).compactMapValues(\.stringValue)
            if !options.labelSelector.matches(labels) { return false }
        }
        return options.fieldSelector.isEmpty || options.fieldSelector.matches(object, as: resource)
    }

    /// Queues events; returns the wake-up to run once the store's lock is released, and whether the
    /// watcher overflowed (the store then drops it).
    func enqueue(_ es: [WatchEvent], end: Bool = false) -> (wake: (@Sendable () -> Void)?, overflowed: Bool) {
        queue.withLock { q in
            guard !q.ended else { return (nil, false) }
            q.events.append(contentsOf: es)
            var overflowed = false
            if q.count > capacity { overflowed = true; q.ended = true }
            if end { q.ended = true }
            if let w = q.waiter {
                q.waiter = nil
                let e = q.pop()
                return ({ w.resume(returning: e) }, overflowed)
            }
            return (q.wake, overflowed)
        }
    }

    /// The events queued now, without waiting.
    public func poll() -> [WatchEvent] {
        queue.withLock { q in
            var out: [WatchEvent] = []
            while let e = q.pop() { out.append(e) }
            return out
        }
    }

    /// True once the watch has ended and every event was taken.
    public var isFinished: Bool { queue.withLock { $0.ended && $0.count == 0 } }

    /// Called (outside the store's lock, on the writer's thread) when events arrive; keep it short,
    /// e.g. schedule a drain on an event loop.
    public func onEvents(_ wake: @escaping @Sendable () -> Void) {
        let pending = queue.withLock { q in q.wake = wake; return q.count > 0 || q.ended }
        if pending { wake() }
    }

    /// The next event, waiting for it; nil when the watch has ended. One consumer at a time.
    public func next() async -> WatchEvent? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<WatchEvent?, Never>) in
                let now: WatchEvent?? = queue.withLock { q in
                    if let e = q.pop() { return .some(e) }
                    if q.ended || Task.isCancelled { return .some(nil) }
                    precondition(q.waiter == nil, "Watcher.next() called by two consumers at once")
                    q.waiter = c
                    return .none
                }
                if let now { c.resume(returning: now) }
            }
        } onCancel: { stop() }
    }

    /// Ends the watch: the store forgets it, a waiting `next()` returns nil.
    public func stop() {
        let waiter = queue.withLock { q -> CheckedContinuation<WatchEvent?, Never>? in
            q.ended = true
            defer { q.waiter = nil }
            return q.waiter
        }
        waiter?.resume(returning: nil)
        onStop(self)
    }

    /// Ends the watch from the store's side (already unregistered); wakes whoever waits.
    func end() -> (@Sendable () -> Void)? {
        queue.withLock { q in
            q.ended = true
            if let w = q.waiter { q.waiter = nil; let e = q.pop(); return { w.resume(returning: e) } }
            return q.wake
        }
    }
}
