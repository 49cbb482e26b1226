import Foundation
import Testing
@testable import NetlabKit

/// Inputs found by fuzzing TopologyLoader.parse (fuzz/README.md); each is also in
/// fuzz/corpus/topology/. They must be rejected quickly with a located error, never hang or crash.
@Suite struct TopologyFuzzRegressionTests {
    /// `l0` is a list of 9 strings, each `lN` a list of 9 aliases to `l(N-1)`: 9^(levels+1) values.
    static func laughs(levels: Int) -> String {
        var lines = [#"l0: &l0 ["x","x","x","x","x","x","x","x","x"]"#]
        for i in 1...levels {
            lines.append("l\(i): &l\(i) [" + Array(repeating: "*l\(i - 1)", count: 9).joined(separator: ",") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The fuzzer's timeout: an alias to a 43-million-value list used as a mapping key. Yams hashes
    /// mapping keys to find duplicates, which walked every copy: 14 s in a release build. The guard
    /// refuses it before Yams composes it (without the guard this test does not finish).
    @Test func aliasBombAsAMappingKeyIsRefusedBeforeYams() {
        let yaml = Self.laughs(levels: 7) + "? *l7\n: 1\n"
        let found = diagnostics(yaml)
        #expect(found == ["t.yaml:6:14: YAML aliases expand the topology file to more than 100000 values (a \"billion laughs\" file); netlab refuses it, write the values out instead of nesting aliases"])
    }

    /// The same bomb as an alias key written the implicit way, and as a value in the inline
    /// conflist (which the loader converts to JSON value by value).
    @Test func aliasBombElsewhereIsRefusedToo() {
        for tail in ["*l7 : 1\n", "cni: {conflist: {name: n, cniVersion: \"0.3.1\", plugins: [{type: ptp, x: *l7}]}}\n"] {
            let found = diagnostics(Self.laughs(levels: 7) + tail)
            #expect(found.count == 1)
            #expect(found.first?.hasPrefix("t.yaml:6:14: YAML aliases expand the topology file") == true, "\(found)")
        }
    }

    /// Anchors and aliases that expand modestly still work as YAML says.
    @Test func smallAliasesStillLoad() throws {
        let yaml = baseTopology + """
        pods:
          - {name: web1, node: node1, labels: &web {app: web}}
          - {name: web2, node: node2, labels: *web}
        services:
          - {name: svc, selector: *web, ports: [{port: 80}]}

        """
        let t = try TopologyLoader.parse(yaml: yaml, source: "t.yaml")
        #expect(t.pods.map(\.labels) == [["app": "web"], ["app": "web"]])
        #expect(t.services.first?.selector == ["app": "web"])
        // `*` and `&` in quoted strings, comments and plain scalars are not aliases.
        let text = baseTopology + "name: \"a *b & c\"   # *not &an alias\nproxy: {command: [sh, -c, 'ls *.x &', a*b&c]}\n"
        let u = try TopologyLoader.parse(yaml: text, source: "t.yaml")
        #expect(u.name == "a *b & c")
        #expect(u.proxy.command == ["sh", "-c", "ls *.x &", "a*b&c"])
    }

    /// The check composes a copy with the aliases renamed; its syntax errors must read like the
    /// original's, with `*`, and come before Yams composes a bomb ahead of the error.
    @Test func syntaxErrorsAfterAnAliasAreReportedAsWritten() {
        let yaml = Self.laughs(levels: 7) + "? *l7\n: 1\n{[*l7: ]]\n"
        let found = diagnostics(yaml)
        #expect(found == ["t.yaml:12:1: YAML syntax error: could not find expected ':' (while scanning a simple key at line 11, column 1); fix the YAML here (check indentation, the ':' after each key, and matching quotes and brackets)"])
        let dup = diagnostics("a: &a 1\nm: {*a : 1, *a : 2}\n")
        #expect(dup == ["t.yaml:2:5: key '*a' appears more than once in the same mapping; keep only one (YAML would silently drop all but one)"])
    }

    @Test func oversizedFilesAreRefusedUnread() {
        let yaml = baseTopology + "# " + String(repeating: "x", count: 1 << 20) + "\n"
        let found = diagnostics(yaml)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("t.yaml: the topology file is \(yaml.utf8.count) bytes, more than the 1048576 netlab reads") == true)
    }

    /// libyaml stops at 1000 levels; netlab reports where, and nothing below it recurses deeper.
    @Test func deepNestingIsALocatedError() {
        let yaml = "cni:\n  conflist: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "\n"
        let found = diagnostics(yaml)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("t.yaml:2:") == true, "\(found)")
        #expect(found.first?.contains("nesting") == true, "\(found)")
    }
}
