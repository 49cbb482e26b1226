import Foundation
import NetlabKit
import Synchronization

/// A reflector's store as an informer keeps it: the objects of one resource by namespace/name,
/// the resourceVersion reached, whether the first list arrived, and a callback on every change.
public final class ObjectCache: ReflectorStore {
    struct State {
        var objects: [String: JSONValue] = [:]
        var resourceVersion = ""
        var synced = false
    }

    let state = Mutex(State())
    /// Called (outside the lock) after every change of the objects: a list, an event.
    let onChange: @Sendable () -> Void

    public init(onChange: @escaping @Sendable () -> Void = {}) { self.onChange = onChange }

    public static func key(_ object: JSONValue) -> String {
        let ns = object[path: ["metadata", "namespace"]]?.stringValue ?? ""
        let name = object[path: ["metadata", "name"]]?.stringValue ?? ""
        return ns.isEmpty ? name : "\(ns)/\(name)"
    }

    public func replace(_ items: [JSONValue], resourceVersion: String) {
        state.withLock { s in
            s.objects = Dictionary(items.map { (Self.key($0), $0) }, uniquingKeysWith: { _, b in b })
            s.resourceVersion = resourceVersion
            s.synced = true
        }
        onChange()
    }

    public func apply(_ event: KubeWatchEvent) {
        state.withLock { s in
            let k = Self.key(event.object)
            if event.type == .deleted { s.objects[k] = nil } else { s.objects[k] = event.object }
            if let rv = event.resourceVersion { s.resourceVersion = rv }
        }
        onChange()
    }

    public func bookmark(resourceVersion: String) {
        state.withLock { $0.resourceVersion = resourceVersion }
    }

    /// The objects sorted by namespace/name, and the resourceVersion they are at.
    public func snapshot() -> (objects: [JSONValue], resourceVersion: String) {
        state.withLock { s in (s.objects.keys.sorted().map { s.objects[$0]! }, s.resourceVersion) }
    }

    public func get(_ key: String) -> JSONValue? { state.withLock { $0.objects[key] } }

    /// True once a first list filled it.
    public var hasSynced: Bool { state.withLock { $0.synced } }
}
