import Foundation
import Yams

// The `cni:` block. The conflist is kept as a JSONValue with every key it carries (plugins get
// options netlab does not know about); only the parts every CNI runtime relies on are checked.

extension YAMLReader {
    /// Converts an inline YAML conflist to JSON. `marks` receives the location of every value by
    /// JSON path ("plugins[0].type") so later checks can point at the right line. Values that
    /// cannot be converted are reported and become null, so the structure checks still run.
    func json(from node: YNode, path: String, marks: inout [String: YAMLLocation]) -> JSONValue {
        marks[path] = node.location
        let shown = path.isEmpty ? "cni.conflist" : "cni.conflist.\(path)"
        switch node {
        case .alias:
            error(node.location, "\(shown) is an unresolved alias; write the value out")
            return .null
        case .sequence(let seq):
            return .array(seq.enumerated().map { json(from: $1, path: "\(path)[\($0)]", marks: &marks) })
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (k, v) in mapping {
                // JSON keys are strings: a YAML key such as `1460:` or `true:` keeps its text.
                guard case .scalar(let key) = k, k.tagName != .merge else {
                    error(k.location, "\(shown) has a key that is \(k.kindDescription); JSON object keys must be plain strings")
                    continue
                }
                let childPath = path.isEmpty ? key.string : "\(path).\(key.string)"
                if path.isEmpty, key.string == "cniVersion", case .scalar(let s) = v, v.tagName == .int || v.tagName == .float {
                    marks[childPath] = v.location
                    // Kept as text either way; when ambiguous the error below already stops the load.
                    object[key.string] = .string(s.string)
                    if versionText(s.string) == nil {
                        error(v.location, "cni.conflist.cniVersion \(s.string) is a YAML number that does not read back as a version; quote it, e.g. cniVersion: \"0.3.1\"")
                    }
                    continue
                }
                object[key.string] = json(from: v, path: childPath, marks: &marks)
            }
            return .object(object)
        case .scalar(let s):
            switch node.tagName {
            case .null: return .null
            case .bool: return node.bool.map(JSONValue.bool) ?? .string(s.string)
            case .int:
                if let i = node.int { return .number(Double(i)) }
                error(node.location, "\(shown) \(s.string) is not a number JSON can carry; quote it if it is text")
                return .null
            case .float:
                if let d = node.float, d.isFinite { return .number(d) }
                error(node.location, "\(shown) \(s.string) is not a finite number and JSON has no infinity or NaN; quote it if it is text")
                return .null
            default:
                // Strings, and anything YAML would type as a date or binary: JSON keeps the text.
                return .string(s.string)
            }
        }
    }

    /// A YAML number written as a version (0.4, 1.0, 1) reads back unambiguously from its text; an
    /// exponent, leading zero, underscore or sign would not, so those must be quoted.
    private func versionText(_ text: String) -> String? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return nil }
        for p in parts {
            guard !p.isEmpty, p.allSatisfy({ $0.isASCII && $0.isNumber }), !(p.count > 1 && p.first == "0") else { return nil }
        }
        return text
    }

    /// Checks what every CNI runtime needs: cniVersion and name strings and a non-empty plugins
    /// list of objects with a `type`. `locate` maps a JSON path to where to report it.
    func validateConflist(_ value: JSONValue, source: String, locate: (String) -> YAMLLocation) {
        guard let object = value.objectValue else {
            error(locate(""), "\(source) must be an object with cniVersion, name and plugins (a network configuration list)")
            return
        }
        var clean = true
        func fail(_ at: YAMLLocation, _ message: String) { error(at, message); clean = false }
        for key in ["cniVersion", "name"] {
            let example = key == "name" ? "\"k8s-pod-network\"" : "\"0.3.1\""
            switch object[key] {
            case nil: fail(locate(""), "\(source) is missing '\(key)'; add it, e.g. \(key): \(example)")
            case .string(let s)? where !s.isEmpty: break
            case _?: fail(locate(key), "\(source) '\(key)' must be a non-empty string like \(example)")
            }
        }
        guard let pluginsValue = object["plugins"] else {
            fail(locate(""), "\(source) is missing 'plugins'; add the list of plugins, e.g. plugins: [{type: ptp, ...}, {type: portmap, ...}]")
            return
        }
        guard let plugins = pluginsValue.arrayValue, !plugins.isEmpty else {
            fail(locate("plugins"), "\(source) 'plugins' must be a non-empty list of plugin objects, each with a 'type' such as ptp")
            return
        }
        for (i, plugin) in plugins.enumerated() {
            guard plugin.objectValue != nil else {
                fail(locate("plugins[\(i)]"), "\(source) plugins[\(i)] must be an object with a 'type' such as ptp")
                continue
            }
            switch plugin["type"] {
            case nil: fail(locate("plugins[\(i)]"), "\(source) plugins[\(i)] has no 'type'; name the plugin binary, e.g. type: ptp")
            case .string(let s)? where !s.isEmpty && !s.contains("/"): break
            case _?: fail(locate("plugins[\(i)].type"), "\(source) plugins[\(i)].type must be the name of a plugin binary in binDir such as \"ptp\"")
            }
        }
        // What the runtime refuses when `up` reads the list is refused here first, with the same
        // words: one parser decides, so validate and up never disagree.
        guard clean else { return }
        do { _ = try CNINetworkConfigList(value) } catch let e as CNIConfigError {
            error(locate(e.path), "\(source): \(e.message)")
        } catch let other {
            error(locate(""), "\(source): \(other)")
        }
    }
}

/// `dir` of `source` joined with `relative` (unless it is absolute): conflistFile is written
/// relative to the topology file, not to the directory netlab happens to run in.
func resolve(_ relative: String, nextTo source: String) -> String {
    if relative.hasPrefix("/") { return relative }
    guard let slash = source.lastIndex(of: "/") else { return relative }
    let dir = source[...slash]   // keeps the trailing '/', so "/x.yaml" gives "/"
    return dir + relative
}

/// One line about why a JSON document did not parse (DecodingError's description is a dump).
func jsonProblem(_ error: Error) -> String {
    if case DecodingError.dataCorrupted(let ctx) = error {
        if let underlying = ctx.underlyingError {
            let text = (underlying as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            return text ?? ctx.debugDescription
        }
        return ctx.debugDescription
    }
    return "\(error)"
}
