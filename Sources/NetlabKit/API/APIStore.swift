import Foundation
import Synchronization

/// The lab's Kubernetes API without the wire: the objects every agent lists and watches, kept as
/// JSON per resource (`APIResources`), with kube-apiserver's semantics for what clients rely on.
///
/// What is served (the HTTP layer maps a request to one call and writes the result as JSON):
/// - `GET  .../<resource>[?watch=false]` -> `list` (a `ServiceList` with `metadata.resourceVersion`,
///   `metadata.continue`), `GET .../<resource>/<name>` -> `get`;
/// - `GET  .../<resource>?watch=true` -> `watch`: a `Watcher` whose events the HTTP layer writes as
///   chunks (`WatchEvent.encodedLine`) until it ends or `timeoutSeconds` passes; `sendBookmarks()` on
///   a timer (upstream: about once a minute) sends BOOKMARKs to the watches that allow them;
/// - `POST` -> `create`, `PUT` -> `update`, `PATCH` -> `patch` (`PatchType(contentType:)`, nil is a 415),
///   `DELETE` -> `delete` / `deleteCollection`, with `subresource: "status"` for `.../status`;
/// - discovery from `APIResources` (`resourceList`, `groupList`, `coreVersions`).
/// Every failure is an `APIStatus` (throw it as the HTTP response: `status.code`, `status.json`).
/// The query of a list or watch is parsed by `ListOptions(query:)`.
///
/// Semantics kept: one resourceVersion counter for all writes (as etcd's revision), set into
/// `metadata.resourceVersion`; `uid`, `creationTimestamp` (and `generation` where upstream tracks it)
/// on create; optimistic concurrency (409 Conflict on a stale resourceVersion); a write that changes
/// nothing is not a write (no new resourceVersion, no event); lists are consistent snapshots, pages
/// of one list all read the snapshot of the first (kept as long as the history covers it, then 410);
/// watches replay from any resourceVersion the bounded per-resource history still covers, else one
/// ERROR event with a 410 Expired Status (the watch cache's behaviour); an object that stops matching
/// a watch's selectors is DELETED for that watch, one that starts matching is ADDED.
///
/// Simplifications, on purpose: deletion is immediate (no graceful deletion or finalizers; deleting a
/// namespace deletes what is in it first); `limit` is honoured for `resourceVersion=0` too; status is
/// kept on create (the lab's controllers write objects whole) and ignored by updates of the main
/// resource, as upstream; type-specific validation and defaulting (clusterIP allocation, EndpointSlice
/// upkeep) belong to the lab's controllers (`LabControllers`, `Configuration.controllers`), which
/// run inside the writes of this same store.
public final class APIStore: Sendable {
    public struct Configuration: Sendable {
        /// Events kept per resource for watches that resume and for paged lists (upstream's watch cache keeps 100 to 102400).
        public var historyLimit: Int
        /// Events a watcher may leave unread before the store ends it.
        public var watcherCapacity: Int
        public var now: @Sendable () -> Date
        public var makeUID: @Sendable () -> String
        /// Created at start, as kube-apiserver does; they may not be deleted.
        public var systemNamespaces: [String]
        /// Service allocation, EndpointSlice upkeep and garbage collection (`LabControllers`); nil keeps the store generic.
        public var controllers: LabControllers?

        public init(historyLimit: Int = 1000, watcherCapacity: Int = 100_000, now: @escaping @Sendable () -> Date = { Date() },
                    makeUID: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() },
                    systemNamespaces: [String] = ["default", "kube-system", "kube-public", "kube-node-lease"],
                    controllers: LabControllers? = nil) {
            self.historyLimit = historyLimit; self.watcherCapacity = watcherCapacity; self.now = now; self.makeUID = makeUID
            self.systemNamespaces = systemNamespaces; self.controllers = controllers
        }
    }

    struct Event {
        let rv: Int64
        let type: WatchEvent.Kind
        let key: String
        /// The object after the write; for DELETED its last state with the deletion's resourceVersion.
        let object: JSONValue
        /// The object before the write (nil for ADDED).
        let prev: JSONValue?
        let shared: WatchEvent
    }

    struct Table {
        var objects: [String: JSONValue] = [:]
        var history: [Event] = []
        var head = 0
        /// Every event of this resource newer than this is in `history`.
        var horizon: Int64 = 0
        var watchers: [ObjectIdentifier: Watcher] = [:]
        var retained: ArraySlice<Event> { history[head...] }
    }

    struct State {
        var rv: Int64 = 0
        var tables: [String: Table] = [:]
        /// What the stored services hold (kept when the controllers run).
        var held = ServiceAllocator.Held()
    }

    public let configuration: Configuration
    let state = Mutex(State())

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
        for ns in configuration.systemNamespaces {
            _ = try? create(APIResources.namespaces, namespace: nil, ["metadata": ["name": .string(ns)]])
        }
    }

    /// The resourceVersion of the last write.
    public var resourceVersion: Int64 { state.withLock { $0.rv } }

    static func key(_ namespace: String?, _ name: String) -> String {
        if let namespace, !namespace.isEmpty { return "\(namespace)/\(name)" }
        return name
    }

    func timestamp() -> String { configuration.now().formatted(.iso8601) }

    // MARK: reads

    public func get(_ r: APIResource, namespace: String?, name: String) throws(APIStatus) -> JSONValue {
        let k = Self.key(r.namespaced ? namespace : nil, name)
        guard let o = state.withLock({ $0.tables[r.qualifiedName]?.objects[k] }) else { throw .notFound(r, name) }
        return o
    }

    public func list(_ r: APIResource, namespace: String?, options: ListOptions = ListOptions()) throws(APIStatus) -> JSONValue {
        var options = options
        options.watch = false
        try options.validate()
        try checkFields(options.fieldSelector, r)
        let asked = try options.parsedResourceVersion()
        let ns = r.namespaced ? namespace : nil
        return try state.withLock { s throws(APIStatus) -> JSONValue in
            let table = s.tables[r.qualifiedName] ?? Table()
            var startAfter: String?
            let snapshot: [String: JSONValue], rv: Int64
            if let token = options.continueToken {
                if let v = options.resourceVersion, v != "0" {
                    throw .badRequest("specifying resource version is not allowed when using continue")
                }
                let (tokenRV, start) = try ContinueToken.decode(token)
                startAfter = start
                guard let snap = Self.snapshot(table, at: tokenRV, current: s.rv) else {
                    var st = APIStatus.expired(ContinueToken.expiredMessage)
                    st.listContinue = ContinueToken.encode(rv: s.rv, after: start)
                    throw st
                }
                (snapshot, rv) = (snap, tokenRV)
            } else if let asked, asked > 0 {
                if asked > s.rv { throw .tooLargeResourceVersion(asked, current: s.rv) }
                if options.resourceVersionMatch == .exact {
                    guard let snap = Self.snapshot(table, at: asked, current: s.rv) else {
                        throw .expired("The resourceVersion for the provided list is too old.")
                    }
                    (snapshot, rv) = (snap, asked)
                } else { (snapshot, rv) = (table.objects, s.rv) }
            } else { (snapshot, rv) = (table.objects, s.rv) }

            var keys = snapshot.keys.sorted()
            if let startAfter { keys = Array(keys.drop { $0 <= startAfter }) }
            var items: [JSONValue] = []
            var more = false
            var remaining = 0
            for k in keys {
                let o = snapshot[k]!
                guard Self.passes(o, ns, options, r) else { continue }
                if let limit = options.limit, items.count >= limit {
                    more = true
                    remaining += 1
                    continue
                }
                items.append(o)
            }
            var meta: JSONValue = ["resourceVersion": .string(String(rv))]
            if more, let last = lastKey(items) {
                meta["continue"] = .string(ContinueToken.encode(rv: rv, after: last))
                if options.labelSelector.isEmpty && options.fieldSelector.isEmpty {
                    meta["remainingItemCount"] = .number(Double(remaining))
                }
            }
            return ["kind": .string(r.listKind), "apiVersion": .string(r.groupVersion), "metadata": meta,
                    "items": .array(items.map(Self.withoutTypeMeta))]
        }

        func lastKey(_ items: [JSONValue]) -> String? {
            items.last.map { Self.key(r.namespaced ? $0[path: ["metadata", "namespace"]]?.stringValue : nil,
                                      $0[path: ["metadata", "name"]]?.stringValue ?? "") }
        }
    }

    /// List items carry no kind/apiVersion in kube-apiserver's JSON; the list does.
    static func withoutTypeMeta(_ o: JSONValue) -> JSONValue {
        var o = o
        o["kind"] = nil
        o["apiVersion"] = nil
        return o
    }

    static func passes(_ o: JSONValue, _ namespace: String?, _ options: ListOptions, _ r: APIResource) -> Bool {
        if let namespace, o[path: ["metadata", "namespace"]]?.stringValue != namespace { return false }
        if !options.labelSelector.isEmpty {
            let labels = (o[path: ["metadata", "labels"]]?.objectValue ?? [:]).compactMapValues(\.stringValue)
            if !options.labelSelector.matches(labels) { return false }
        }
        return options.fieldSelector.isEmpty || options.fieldSelector.matches(o, as: r)
    }

    func checkFields(_ f: FieldSelector, _ r: APIResource) throws(APIStatus) {
        if let bad = f.unsupportedField(for: r) { throw .badRequest(FieldSelector.unsupportedMessage(bad, for: r)) }
    }

    /// The objects of `table` as they were at `rv`, undoing the newer events; nil when the history
    /// no longer reaches back that far.
    static func snapshot(_ table: Table, at rv: Int64, current: Int64) -> [String: JSONValue]? {
        if rv >= current { return table.objects }
        guard rv >= table.horizon else { return nil }
        var objects = table.objects
        for e in table.retained.reversed() {
            guard e.rv > rv else { break }
            switch e.type {
            case .added: objects[e.key] = nil
            default: objects[e.key] = e.prev
            }
        }
        return objects
    }

    // MARK: writes

    public func create(_ r: APIResource, namespace: String?, _ body: JSONValue) throws(APIStatus) -> JSONValue {
        var o = try Self.checkBody(body, r)
        let ns = try Self.placeNamespace(&o, r, namespace)
        if (o[path: ["metadata", "name"]]?.stringValue ?? "").isEmpty {
            guard let prefix = o[path: ["metadata", "generateName"]]?.stringValue, !prefix.isEmpty else {
                throw .invalid(r, name: "", [.init(reason: "FieldValueRequired", message: "Required value: name or generateName is required",
                                                    field: "metadata.name")])
            }
            o[path: ["metadata", "name"]] = .string(prefix + Self.randomSuffix())
        }
        let name = o[path: ["metadata", "name"]]!.stringValue!
        let causes = APIValidation.metadataCauses(o, r)
        if !causes.isEmpty { throw .invalid(r, name: name, causes) }
        if let v = o[path: ["metadata", "resourceVersion"]]?.stringValue, !v.isEmpty {
            throw .badRequest("resourceVersion should not be set on objects to be created")
        }
        o[path: ["metadata", "uid"]] = .string(configuration.makeUID())
        o[path: ["metadata", "creationTimestamp"]] = .string(timestamp())
        if r.tracksGeneration { o[path: ["metadata", "generation"]] = 1 }
        if r == APIResources.namespaces, o[path: ["status", "phase"]] == nil { o[path: ["status", "phase"]] = "Active" }
        let object = o
        let (created, wakes) = try state.withLock { s throws(APIStatus) in
            if let ns, r != APIResources.namespaces, s.tables[APIResources.namespaces.qualifiedName]?.objects[ns] == nil {
                throw APIStatus.notFound(APIResources.namespaces, ns)
            }
            let k = Self.key(ns, name)
            if s.tables[r.qualifiedName]?.objects[k] != nil { throw APIStatus.alreadyExists(r, name) }
            let admitted = try admit(s, r, key: k, new: object, old: nil)
            let (o, w) = commit(&s, r, .added, k, admitted, prev: nil)
            return (o, w + react(&s, r, .added, old: nil, new: o))
        }
        wakes.forEach { $0() }
        return created
    }

    public func update(_ r: APIResource, namespace: String?, name: String, _ body: JSONValue,
                       subresource: String? = nil) throws(APIStatus) -> JSONValue {
        try Self.checkSubresource(r, subresource)
        var o = try Self.checkBody(body, r)
        let ns = try Self.placeNamespace(&o, r, namespace)
        let bodyName = o[path: ["metadata", "name"]]?.stringValue ?? ""
        if bodyName.isEmpty { o[path: ["metadata", "name"]] = .string(name) } else if bodyName != name {
            throw .badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        let object = o
        let (updated, wakes) = try state.withLock { s throws(APIStatus) in
            let k = Self.key(ns, name)
            guard let old = s.tables[r.qualifiedName]?.objects[k] else { throw APIStatus.notFound(r, name) }
            if let v = object[path: ["metadata", "resourceVersion"]]?.stringValue, !v.isEmpty,
               v != old[path: ["metadata", "resourceVersion"]]?.stringValue {
                throw APIStatus.conflict(r, name)
            }
            return try updateLocked(&s, r, k, old: old, new: object, subresource: subresource)
        }
        wakes.forEach { $0() }
        return updated
    }

    /// Applies a merge or strategic merge patch to the stored object atomically. A resourceVersion in
    /// the patch is a precondition (409 when stale), as upstream.
    public func patch(_ r: APIResource, namespace: String?, name: String, _ patch: JSONValue, type: PatchType,
                      subresource: String? = nil) throws(APIStatus) -> JSONValue {
        try Self.checkSubresource(r, subresource)
        guard patch.objectValue != nil else { throw .badRequest("the patch of \(r.qualifiedName) \"\(name)\" must be a JSON object") }
        let ns = r.namespaced ? namespace : nil
        let (patched, wakes) = try state.withLock { s throws(APIStatus) in
            let k = Self.key(ns, name)
            guard let old = s.tables[r.qualifiedName]?.objects[k] else { throw APIStatus.notFound(r, name) }
            let oldRV = old[path: ["metadata", "resourceVersion"]]
            if let v = patch[path: ["metadata", "resourceVersion"]]?.stringValue, .string(v) != oldRV {
                throw APIStatus.conflict(r, name)
            }
            var new = type.apply(patch, to: old)
            guard new.objectValue != nil else { throw APIStatus.badRequest("the patch of \(r.qualifiedName) \"\(name)\" must keep an object") }
            let newName = new[path: ["metadata", "name"]]?.stringValue ?? ""
            if newName != name { throw APIStatus.badRequest("the name of the object (\(newName)) does not match the name on the URL (\(name))") }
            new[path: ["metadata", "namespace"]] = old[path: ["metadata", "namespace"]]
            let causes = APIValidation.metadataCauses(new, r)
            if !causes.isEmpty { throw APIStatus.invalid(r, name: name, causes) }
            return try updateLocked(&s, r, k, old: old, new: new, subresource: subresource)
        }
        wakes.forEach { $0() }
        return patched
    }

    public struct Preconditions: Hashable, Sendable {
        public var uid: String?
        public var resourceVersion: String?
        public init(uid: String? = nil, resourceVersion: String? = nil) { self.uid = uid; self.resourceVersion = resourceVersion }
    }

    /// Deletes at once and returns the object as last stored, with the deletion's resourceVersion.
    /// A pod deleted with `gracePeriodSeconds` > 0 is only marked (deletionTimestamp, as
    /// kube-apiserver does for kubelet to finish): it stays, terminating, until a delete with 0.
    public func delete(_ r: APIResource, namespace: String?, name: String,
                       preconditions: Preconditions = Preconditions(), gracePeriodSeconds: Int? = nil) throws(APIStatus) -> JSONValue {
        if r == APIResources.pods, let grace = gracePeriodSeconds, grace > 0 {
            return try markDeleting(r, namespace: namespace, name: name, preconditions: preconditions, grace: grace)
        }
        if r == APIResources.namespaces, configuration.systemNamespaces.contains(name) {
            throw .forbidden(r, name, "this namespace may not be deleted")
        }
        let ns = r.namespaced ? namespace : nil
        let (deleted, wakes) = try state.withLock { s throws(APIStatus) in
            let k = Self.key(ns, name)
            guard let old = s.tables[r.qualifiedName]?.objects[k] else { throw APIStatus.notFound(r, name) }
            if let uid = preconditions.uid, let have = old[path: ["metadata", "uid"]]?.stringValue, uid != have {
                throw APIStatus.conflict(r, name, "Precondition failed: UID in precondition: \(uid), UID in object meta: \(have)")
            }
            if let v = preconditions.resourceVersion, let have = old[path: ["metadata", "resourceVersion"]]?.stringValue, v != have {
                throw APIStatus.conflict(r, name, "Precondition failed: ResourceVersion in precondition: \(v), ResourceVersion in object meta: \(have)")
            }
            var wakes: [@Sendable () -> Void] = []
            if r == APIResources.namespaces {
                for inner in APIResources.all where inner.namespaced {
                    let keys = (s.tables[inner.qualifiedName]?.objects.keys.filter { $0.hasPrefix(name + "/") } ?? []).sorted()
                    for ik in keys {
                        // The controllers may have deleted it already (a dependent of something deleted before).
                        guard let prev = s.tables[inner.qualifiedName]?.objects[ik] else { continue }
                        wakes += commit(&s, inner, .deleted, ik, prev, prev: prev).1
                        wakes += react(&s, inner, .deleted, old: prev, new: prev)
                    }
                }
            }
            let (o, w) = commit(&s, r, .deleted, k, old, prev: old)
            return (o, wakes + w + react(&s, r, .deleted, old: old, new: old))
        }
        wakes.forEach { $0() }
        return deleted
    }

    /// A graceful delete: deletionTimestamp (now + the grace) and deletionGracePeriodSeconds set,
    /// a MODIFIED event, the controllers told (the EndpointSlice's endpoint turns terminating). A
    /// pod already terminating is returned as it is.
    func markDeleting(_ r: APIResource, namespace: String?, name: String, preconditions: Preconditions, grace: Int) throws(APIStatus) -> JSONValue {
        let (marked, wakes) = try state.withLock { s throws(APIStatus) in
            let k = Self.key(namespace, name)
            guard let old = s.tables[r.qualifiedName]?.objects[k] else { throw APIStatus.notFound(r, name) }
            if let uid = preconditions.uid, let have = old[path: ["metadata", "uid"]]?.stringValue, uid != have {
                throw APIStatus.conflict(r, name, "Precondition failed: UID in precondition: \(uid), UID in object meta: \(have)")
            }
            if let t = old[path: ["metadata", "deletionTimestamp"]], t != .null { return (old, [@Sendable () -> Void]()) }
            var new = old
            new[path: ["metadata", "deletionTimestamp"]] = .string(configuration.now().addingTimeInterval(Double(grace)).formatted(.iso8601))
            new[path: ["metadata", "deletionGracePeriodSeconds"]] = .number(Double(grace))
            let (o, w) = commit(&s, r, .modified, k, new, prev: old)
            return (o, w + react(&s, r, .modified, old: old, new: o))
        }
        wakes.forEach { $0() }
        return marked
    }

    /// Deletes every object the selectors of `options` pick, returning them as a list.
    public func deleteCollection(_ r: APIResource, namespace: String?, options: ListOptions = ListOptions()) throws(APIStatus) -> JSONValue {
        let current = try list(r, namespace: namespace, options: ListOptions(labelSelector: options.labelSelector, fieldSelector: options.fieldSelector))
        var deleted: [JSONValue] = []
        for item in current["items"]?.arrayValue ?? [] {
            let name = item[path: ["metadata", "name"]]?.stringValue ?? ""
            if r == APIResources.namespaces, configuration.systemNamespaces.contains(name) { continue }
            do {
                deleted.append(Self.withoutTypeMeta(try delete(r, namespace: item[path: ["metadata", "namespace"]]?.stringValue, name: name)))
            } catch where error.code == 404 { continue }
        }
        return ["kind": .string(r.listKind), "apiVersion": .string(r.groupVersion),
                "metadata": ["resourceVersion": .string(String(resourceVersion))], "items": .array(deleted)]
    }

    // MARK: write helpers (called with the lock held)

    static func checkSubresource(_ r: APIResource, _ sub: String?) throws(APIStatus) {
        if let sub, !r.subresources.contains(sub) {
            throw APIStatus(code: 404, reason: "NotFound", message: "the server could not find the requested resource (\(r.qualifiedName)/\(sub))")
        }
    }

    static func checkBody(_ body: JSONValue, _ r: APIResource) throws(APIStatus) -> JSONValue {
        guard var o = body.objectValue.map(JSONValue.object) else {
            throw .badRequest("the body of the request for \(r.qualifiedName) must be a JSON object")
        }
        if let v = o["apiVersion"]?.stringValue, v != r.groupVersion {
            throw .badRequest("the API version in the data (\(v)) does not match the expected API version (\(r.groupVersion))")
        }
        if let k = o["kind"]?.stringValue, k != r.kind {
            throw .badRequest("the kind in the data (\(k)) does not match the expected kind (\(r.kind)) of \(r.qualifiedName)")
        }
        if o["metadata"] == nil || o["metadata"] == .null { o["metadata"] = .object([:]) }
        guard o["metadata"]?.objectValue != nil else { throw .badRequest("metadata of the \(r.kind) must be an object") }
        o["kind"] = .string(r.kind)
        o["apiVersion"] = .string(r.groupVersion)
        return o
    }

    /// Sets metadata.namespace from the URL, refusing a body that names another one.
    static func placeNamespace(_ o: inout JSONValue, _ r: APIResource, _ namespace: String?) throws(APIStatus) -> String? {
        guard r.namespaced else { o[path: ["metadata", "namespace"]] = nil; return nil }
        guard let namespace, !namespace.isEmpty else { throw .badRequest("\(r.qualifiedName) are namespaced: the request must name a namespace") }
        if let v = o[path: ["metadata", "namespace"]]?.stringValue, !v.isEmpty, v != namespace {
            throw .badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        o[path: ["metadata", "namespace"]] = .string(namespace)
        return namespace
    }

    static func randomSuffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet.randomElement()! })
    }

    /// Everything but metadata and status: what a generation counts changes of.
    static func specPart(_ o: JSONValue) -> JSONValue {
        var o = o
        for k in ["metadata", "status", "kind", "apiVersion"] { o[k] = nil }
        return o
    }

    func updateLocked(_ s: inout State, _ r: APIResource, _ k: String, old: JSONValue, new: JSONValue,
                      subresource: String?) throws(APIStatus) -> (JSONValue, [@Sendable () -> Void]) {
        var o: JSONValue
        if subresource == "status" {
            o = old
            o["status"] = new["status"]
            // As the API server's status strategies: the spec stays, the labels and annotations
            // are the request's (flanneld annotates its Node with a PATCH of nodes/status).
            for field in ["labels", "annotations"] { o[path: ["metadata", field]] = new[path: ["metadata", field]] }
        } else {
            o = new
            for field in ["uid", "creationTimestamp", "namespace", "deletionTimestamp", "generation"] {
                o[path: ["metadata", field]] = old[path: ["metadata", field]]
            }
            if r.hasStatus { o["status"] = old["status"] }
            if r.tracksGeneration, Self.specPart(o) != Self.specPart(old) {
                o[path: ["metadata", "generation"]] = .number(Double((old[path: ["metadata", "generation"]]?.intValue ?? 0) + 1))
            }
        }
        o["kind"] = .string(r.kind)
        o["apiVersion"] = .string(r.groupVersion)
        o[path: ["metadata", "resourceVersion"]] = old[path: ["metadata", "resourceVersion"]]
        if subresource != "status" { o = try admit(s, r, key: k, new: o, old: old) }
        if o == old { return (old, []) }
        let name = o[path: ["metadata", "name"]]?.stringValue ?? ""
        let causes = APIValidation.metadataCauses(o, r)
        if !causes.isEmpty { throw APIStatus.invalid(r, name: name, causes) }
        let (stored, wakes) = commit(&s, r, .modified, k, o, prev: old)
        return (stored, wakes + react(&s, r, .modified, old: old, new: stored))
    }

    /// Stamps the next resourceVersion, stores, records the event and queues it for every watcher it
    /// matches. Returns the stored object and the wake-ups to run after the lock is released.
    func commit(_ s: inout State, _ r: APIResource, _ type: WatchEvent.Kind, _ k: String, _ object: JSONValue,
                prev: JSONValue?) -> (JSONValue, [@Sendable () -> Void]) {
        s.rv += 1
        var o = object
        o[path: ["metadata", "resourceVersion"]] = .string(String(s.rv))
        var table = s.tables.removeValue(forKey: r.qualifiedName) ?? Table()
        table.objects[k] = type == .deleted ? nil : o
        if r == APIResources.services, configuration.controllers != nil { s.held.record(k, old: prev, new: type == .deleted ? nil : o) }
        let event = Event(rv: s.rv, type: type, key: k, object: o, prev: prev, shared: WatchEvent(type, o))
        table.history.append(event)
        if table.history.count - table.head > configuration.historyLimit {
            table.horizon = table.history[table.head].rv
            table.head += 1
            if table.head > 1024, table.head * 2 > table.history.count { table.history.removeFirst(table.head); table.head = 0 }
        }
        var wakes: [@Sendable () -> Void] = []
        var variants = Variants()
        for (id, w) in table.watchers {
            guard let e = Self.convert(event, for: w, &variants) else { continue }
            let (wake, overflowed) = w.enqueue([e])
            if let wake { wakes.append(wake) }
            if overflowed { table.watchers[id] = nil }
        }
        s.tables[r.qualifiedName] = table
        return (o, wakes)
    }

    /// The ADDED and DELETED forms of a MODIFIED event, made once per write for all the watchers whose selectors it enters or leaves.
    struct Variants { var added: WatchEvent?; var deleted: WatchEvent? }

    static func convert(_ e: Event, for w: Watcher, _ v: inout Variants) -> WatchEvent? {
        switch e.type {
        case .added, .deleted: return w.matches(e.object) ? e.shared : nil
        default:
            let now = w.matches(e.object), before = e.prev.map(w.matches) ?? false
            if now && before { return e.shared }
            if now {
                if v.added == nil { v.added = WatchEvent(.added, e.object) }
                return v.added
            }
            if before, var old = e.prev {
                if v.deleted == nil {
                    old[path: ["metadata", "resourceVersion"]] = .string(String(e.rv))
                    v.deleted = WatchEvent(.deleted, old)
                }
                return v.deleted
            }
            return nil
        }
    }

    // MARK: watch

    /// Starts a watch (the `options` of a `?watch=true` request). Errors of the request itself
    /// (selectors, forbidden combinations, an unsupported field label) throw; a resourceVersion older
    /// than the history comes back as a watcher whose only event is an ERROR with a 410 Expired
    /// Status, as kube-apiserver's watch cache answers.
    public func watch(_ r: APIResource, namespace: String?, options: ListOptions = ListOptions(watch: true)) throws(APIStatus) -> Watcher {
        var options = options
        options.watch = true
        options.applyWatchListDefaults()
        try options.validate()
        try checkFields(options.fieldSelector, r)
        let asked = try options.parsedResourceVersion()
        let ns = r.namespaced ? namespace : nil
        let capacity = configuration.watcherCapacity
        let (watcher, wake) = try state.withLock { s throws(APIStatus) -> (Watcher, (@Sendable () -> Void)?) in
            let w = Watcher(resource: r, namespace: ns, options: options, capacity: capacity, onStop: { [weak self] w in self?.forget(w) })
            var table = s.tables[r.qualifiedName] ?? Table()
            var initial: [WatchEvent] = []
            func state() -> [WatchEvent] {
                table.objects.keys.sorted().compactMap { k in
                    let o = table.objects[k]!
                    return w.matches(o) ? WatchEvent(.added, o) : nil
                }
            }
            func replay(from rv: Int64) -> Bool {
                guard rv >= table.horizon else { return false }
                var v = Variants()
                for e in table.retained where e.rv > rv {
                    v = Variants()
                    if let c = Self.convert(e, for: w, &v) { initial.append(c) }
                }
                return true
            }
            var expired = false
            if options.sendInitialEvents == true {
                if let asked, asked > s.rv { throw APIStatus.tooLargeResourceVersion(asked, current: s.rv) }
                initial = state()
                if options.allowWatchBookmarks { initial.append(Self.bookmark(r, s.rv, initialEventsEnd: true)) }
            } else if let asked, asked > 0 {
                expired = !replay(from: asked)
            }
            if expired {
                let st = APIStatus.expired("too old resource version: \(asked ?? 0) (\(table.horizon))")
                _ = w.enqueue([WatchEvent(.error, st.json)], end: true)
                return (w, nil)
            }
            let (wake, _) = w.enqueue(initial)
            table.watchers[ObjectIdentifier(w)] = w
            s.tables[r.qualifiedName] = table
            return (w, wake)
        }
        wake?()
        return watcher
    }

    /// `{"kind": "Service", "apiVersion": "v1", "metadata": {"resourceVersion": "42"}}`, annotated
    /// `k8s.io/initial-events-end: "true"` when it closes the initial events of a streaming list.
    static func bookmark(_ r: APIResource, _ rv: Int64, initialEventsEnd: Bool = false) -> WatchEvent {
        var meta: JSONValue = ["resourceVersion": .string(String(rv))]
        if initialEventsEnd { meta["annotations"] = ["k8s.io/initial-events-end": "true"] }
        return WatchEvent(.bookmark, ["kind": .string(r.kind), "apiVersion": .string(r.groupVersion), "metadata": meta])
    }

    /// Sends a BOOKMARK at the current resourceVersion to every watch that allows them (the HTTP
    /// layer calls this on a timer, and may before ending a watch at its timeout).
    public func sendBookmarks() {
        let wakes = state.withLock { s -> [@Sendable () -> Void] in
            var wakes: [@Sendable () -> Void] = []
            for (name, table) in s.tables {
                var t = table
                for (id, w) in table.watchers where w.options.allowWatchBookmarks {
                    let (wake, overflowed) = w.enqueue([Self.bookmark(w.resource, s.rv)])
                    if let wake { wakes.append(wake) }
                    if overflowed { t.watchers[id] = nil }
                }
                s.tables[name] = t
            }
            return wakes
        }
        wakes.forEach { $0() }
    }

    /// How many watches are open on `r` (for status and tests).
    public func watcherCount(_ r: APIResource) -> Int { state.withLock { $0.tables[r.qualifiedName]?.watchers.count ?? 0 } }

    func forget(_ w: Watcher) {
        _ = state.withLock { $0.tables[w.resource.qualifiedName]?.watchers.removeValue(forKey: ObjectIdentifier(w)) }
    }
}
