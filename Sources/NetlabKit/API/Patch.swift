import Foundation

/// The patches the lab accepts: JSON merge patch (RFC 7386) and a documented subset of strategic
/// merge patch, the one agents and kubectl send for the fields they patch.
///
/// Strategic merge, as implemented:
/// - maps merge recursively, `null` deletes a key (as merge patch); `$patch: replace` in a map
///   replaces it, `$patch: delete` deletes it; `$retainKeys: [..]` keeps only the keys listed;
/// - a list of objects with a known merge key (`conditions`/`addresses` by `type`, `containers`,
///   `env`, `volumes` by `name`, a Service's `ports` by `port`, a container's `ports` by
///   `containerPort`, `podIPs`/`hostIPs` by `ip`, `ownerReferences` by `uid`) is merged element by
///   element: an element whose key matches is merged, a new key is appended, `$patch: delete` in an
///   element removes the one with its key, `$patch: replace` as an element replaces the whole list;
/// - `metadata.finalizers` and a Node's `spec.podCIDRs` (upstream's `patchStrategy:"merge"` lists of
///   primitives) get the patch's values added; `$deleteFromPrimitiveList/<field>` removes values;
///   every other list, and every other list of primitives, is replaced;
/// - `$setElementOrder/<field>` (what kubelet and kubectl send) orders the merged elements it names
///   as it lists them, in the places they hold; the others keep theirs.
/// JSON patch (RFC 6902) and server-side apply are not accepted: the HTTP layer answers `APIStatus.unsupportedMediaType`.
public enum PatchType: String, Hashable, Sendable, CaseIterable {
    case merge = "application/merge-patch+json"
    case strategic = "application/strategic-merge-patch+json"

    /// The patch type of a Content-Type header (parameters such as `; charset=utf-8` ignored), or nil for a 415.
    public init?(contentType: String) {
        let base = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        self.init(rawValue: base)
    }

    public static var unsupported: APIStatus { .unsupportedMediaType(accepted: allCases.map(\.rawValue)) }

    public func apply(_ patch: JSONValue, to target: JSONValue) -> JSONValue {
        switch self {
        case .merge: return Patching.merge(target, patch)
        case .strategic: return Patching.strategic(target, patch, path: [])
        }
    }
}

enum Patching {
    /// RFC 7386 MergePatch.
    static func merge(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard case .object(let p) = patch else { return patch }
        var t = target.objectValue ?? [:]
        for (k, v) in p {
            if v == .null { t[k] = nil } else { t[k] = merge(t[k] ?? .null, v) }
        }
        return .object(t)
    }

    /// The merge key of the list at `path` (object keys from the root, list indices left out).
    static func mergeKey(_ path: [String]) -> String? {
        guard let last = path.last else { return nil }
        switch last {
        case "conditions", "addresses": return "type"
        case "containers", "initContainers", "ephemeralContainers", "env", "volumes", "imagePullSecrets": return "name"
        case "volumeMounts": return "mountPath"
        case "podIPs", "hostIPs": return "ip"
        case "ownerReferences": return "uid"
        case "ports":
            let parent = path.dropLast().last
            if parent == "containers" || parent == "initContainers" { return "containerPort" }
            return path == ["spec", "ports"] ? "port" : nil
        default: return nil
        }
    }

    static func strategic(_ target: JSONValue, _ patch: JSONValue, path: [String]) -> JSONValue {
        guard case .object(var p) = patch else { return patch }
        if let d = p["$patch"]?.stringValue {
            p["$patch"] = nil
            if d == "replace" { return stripDirectives(.object(p)) }
            if d == "delete" { return .null }
        }
        var t = target.objectValue ?? [:]
        if let retain = p.removeValue(forKey: "$retainKeys")?.arrayValue?.compactMap(\.stringValue) {
            t = t.filter { retain.contains($0.key) }
        }
        var orders: [String: [JSONValue]] = [:]
        for (k, v) in p where k.hasPrefix("$setElementOrder/") {
            p[k] = nil
            orders[String(k.dropFirst("$setElementOrder/".count))] = v.arrayValue ?? []
        }
        for (k, v) in p where k.hasPrefix("$deleteFromPrimitiveList/") {
            p[k] = nil
            let field = String(k.dropFirst("$deleteFromPrimitiveList/".count))
            let gone = v.arrayValue ?? []
            if let list = t[field]?.arrayValue { t[field] = .array(list.filter { !gone.contains($0) }) }
        }
        for (k, v) in p {
            let childPath = path + [k]
            if v == .null { t[k] = nil; continue }
            switch v {
            case .object:
                let merged = strategic(t[k] ?? .null, v, path: childPath)
                t[k] = merged == .null ? nil : merged
            case .array(let items):
                t[k] = mergeList(t[k]?.arrayValue ?? [], items, path: childPath)
            default: t[k] = v
            }
        }
        for (field, order) in orders {
            if let list = t[field]?.arrayValue { t[field] = .array(ordered(list, by: order, key: mergeKey(path + [field]))) }
        }
        return .object(t)
    }

    /// Lists of primitives upstream merges instead of replacing.
    static func mergesPrimitives(_ path: [String]) -> Bool { path == ["metadata", "finalizers"] || path == ["spec", "podCIDRs"] }

    /// `$setElementOrder`: the elements named in `order` take the slots the named ones hold, in its order.
    static func ordered(_ list: [JSONValue], by order: [JSONValue], key: String?) -> [JSONValue] {
        func id(_ v: JSONValue) -> JSONValue? { key.map { v[$0] ?? .null } ?? v }
        let ids = order.compactMap { key == nil ? $0 : $0[key!] }
        let named = ids.compactMap { i in list.first { id($0) == i } }
        var next = named.makeIterator()
        return list.map { ids.contains(id($0) ?? .null) ? (next.next() ?? $0) : $0 }
    }

    static func mergeList(_ target: [JSONValue], _ patch: [JSONValue], path: [String]) -> JSONValue {
        if patch.contains(where: { $0["$patch"]?.stringValue == "replace" }) {
            return .array(patch.filter { $0["$patch"]?.stringValue != "replace" }.map(stripDirectives))
        }
        if mergesPrimitives(path), patch.allSatisfy({ $0.objectValue == nil && $0.arrayValue == nil }) {
            return .array(target + patch.filter { !target.contains($0) })
        }
        guard let key = mergeKey(path), patch.allSatisfy({ $0.objectValue != nil }) else { return .array(patch.map(stripDirectives)) }
        var out = target
        for item in patch {
            let id = item[key]
            if item["$patch"]?.stringValue == "delete" {
                out.removeAll { $0[key] == id }
            } else if let i = out.firstIndex(where: { $0[key] == id && id != nil }) {
                out[i] = strategic(out[i], item, path: path)
            } else {
                out.append(strategic(.null, item, path: path))
            }
        }
        return .array(out)
    }

    /// A value with its patch directives removed, as stored when it replaces what was there.
    static func stripDirectives(_ v: JSONValue) -> JSONValue {
        switch v {
        case .object(let o): return .object(o.filter { !$0.key.hasPrefix("$") }.mapValues(stripDirectives))
        case .array(let a): return .array(a.map(stripDirectives))
        default: return v
        }
    }
}
