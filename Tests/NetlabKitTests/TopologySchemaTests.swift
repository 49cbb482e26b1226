import Foundation
import Testing
@testable import NetlabKit

/// topologies/topology.schema.json is written by hand for editors; these tests keep its keys in
/// step with what the loader accepts.
@Suite struct TopologySchemaTests {
    func schema() throws -> JSONValue {
        let url = repoRoot.appendingPathComponent("topologies").appendingPathComponent("topology.schema.json")
        return try JSONValue.decode(try Data(contentsOf: url))
    }

    /// The schema object describing the mapping at a loader position ("" top level, "nodes[]",
    /// "pods[].ports[]", ...).
    func object(at position: String, in schema: JSONValue) -> JSONValue? {
        var node: JSONValue? = schema
        for part in position.split(separator: ".") {
            let isItem = part.hasSuffix("[]")
            let key = isItem ? String(part.dropLast(2)) : String(part)
            node = node?["properties"]?[key]
            if isItem { node = node?["items"] }
        }
        return node
    }

    @Test func isDraft2020JSON() throws {
        let s = try schema()
        #expect(s["$schema"]?.stringValue == "https://json-schema.org/draft/2020-12/schema")
        #expect(s["type"]?.stringValue == "object")
    }

    @Test func everyMappingListsExactlyTheKeysTheLoaderAccepts() throws {
        let s = try schema()
        #expect(Set(TopologyLoader.allowedKeys.keys) == ["", "vpc", "external", "nodes[]", "pods[]", "pods[].ports[]", "services[]", "services[].ports[]", "cni", "proxy", "api", "agents[]", "agents[].ready", "agents[].sync", "checks[]", "checks[].expect", "checks[].expect.packets[]", "checks[].expect.packets[].match",
                                                         "overlay", "checks[].expect.packets[].match.vxlan",
                                                         "checks[].faults[]", "checks[].faults[].loss", "checks[].faults[].drop", "checks[].faults[].mtu",
                                                         "checks[].faults[].killAgent", "checks[].faults[].restartAgent",
                                                         "checks[].expect.servers",
                                                         "checks[].changes[]", "checks[].changes[].serviceType", "checks[].changes[].sessionAffinity", "checks[].changes[].removePort", "checks[].stream", "checks[].expect.switchesTo", "checks[].flows[]",
                                                         "checks[].matrix", "checks[].matrix.to[]"])
        for (position, keys) in TopologyLoader.allowedKeys {
            let obj = object(at: position, in: s)
            let properties = Set(obj?["properties"]?.objectValue?.keys.map { $0 } ?? [])
            #expect(properties == Set(keys), "schema properties at '\(position)' differ from the loader's allowed keys")
            // The loader rejects unknown keys, so the schema must too.
            #expect(obj?["additionalProperties"] == .bool(false), "schema at '\(position)' must set additionalProperties: false")
        }
    }

    @Test func requiredKeysMatchTheLoader() throws {
        let s = try schema()
        func required(_ position: String) -> Set<String> {
            Set(object(at: position, in: s)?["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        }
        #expect(required("") == ["vpc", "clusterCIDR", "nodes", "cni"])
        #expect(required("vpc") == ["subnet"])
        #expect(required("external") == ["client"])
        #expect(required("nodes[]") == ["name", "ip", "podCIDR"])
        #expect(required("pods[]") == ["name", "node"])
        #expect(required("services[]") == ["name", "ports"])
        #expect(required("services[].ports[]") == ["port"])
    }

    /// Removing a top-level key the schema calls required makes the loader complain that it is
    /// missing; removing any other makes no such complaint.
    @Test func topLevelRequiredKeysAreTheOnesTheLoaderRequires() throws {
        let schemaRequired = Set(try schema()["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        for key in TopologyLoader.allowedKeys[""]! {
            let yaml = removingTopLevelKey(key, from: DefaultTopology.yaml)
            let messages: [String]
            do { _ = try TopologyLoader.parse(yaml: yaml, source: "t.yaml"); messages = [] }
            catch let e as TopologyError { messages = e.diagnostics.map(\.message) }
            let complains = messages.contains { $0.contains("missing required key '\(key)'") }
            #expect(complains == schemaRequired.contains(key), "key '\(key)'")
        }
    }

    /// Drops `key:` at column 0 and its indented block (comments and blank lines included).
    func removingTopLevelKey(_ key: String, from yaml: String) -> String {
        var out: [Substring] = []
        var skipping = false
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("\(key):") { skipping = true; continue }
            if skipping, let c = line.first, c != " ", c != "#" { skipping = false }
            if !skipping { out.append(line) }
        }
        return out.joined(separator: "\n")
    }
}
